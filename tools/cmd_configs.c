/*
 * brook configs - kafka-configs.sh for topics and brokers.
 *
 *   brook configs --bootstrap-server B --entity-type topics|brokers
 *                 [--entity-name NAME | --entity-default] --describe [--all]
 *   brook configs --bootstrap-server B --entity-type topics --entity-name T
 *                 --alter [--add-config k1=v1,k2=[v2,v3]] [--delete-config k1,k2]
 *   --topic T, --broker N and --broker-defaults are Kafka 3.x's shortcuts for
 *   the --entity-type/--entity-name pairs.
 *
 * Describe prints, as Kafka's ConfigCommand:
 *   Dynamic configs for topic foo are:
 *     retention.ms=1000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=1000, ...}
 * "Dynamic" lists the entries set on the entity itself (a topic override;
 * a per-broker or cluster-default dynamic broker config); --all lists every
 * entry ("All configs for ..."). Entries are sorted by name. Without a name,
 * every topic (or every broker and the cluster default) is described.
 *
 * --add-config-file FILE adds the properties of FILE (key=value lines).
 *
 * Alter: librdkafka 2.0.2 has no IncrementalAlterConfigs, only the legacy
 * AlterConfigs, which REPLACES the entity's whole set of dynamic configs. So
 * the tool reads the current dynamic configs first, applies --add-config and
 * --delete-config to them, and sends the merged set (what Kafka's own tool
 * still does for brokers). Two concurrent alters of the same entity can
 * therefore lose one of the changes; deleting a key that is not set is an
 * error ("Invalid config(s): k"), as in Kafka.
 *
 * Brook serves broker configs read-only (server.properties): an alter of a
 * broker fails with the broker's message. The cluster-default broker entity
 * (--entity-default) is described through any live broker, since librdkafka
 * routes broker resources by id; Brook has no dynamic defaults, so the
 * "Default configs" list is empty. librdkafka refuses a resource with an
 * empty name, so an alter of the default goes out through wire.c.
 */
#include "../src/proto/bkgen_msgs.h"
#include "brook.h"
#include "tool.h"
#include "wire.h"
#include "../src/broker/sasl.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TIMEOUT_MS 30000

typedef struct kv {
    char *k, *v; /* owned; v NULL = sensitive value not returned */
} kv;

typedef struct kvs {
    kv *a;
    int n, cap;
} kvs;

static void kvs_put(kvs *s, const char *k, const char *v)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->a[i].k, k) == 0) {
            free(s->a[i].v);
            s->a[i].v = v ? strdup(v) : NULL;
            return;
        }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        kv *na = realloc(s->a, sizeof *na * (size_t)s->cap);
        if (!na)
            bk_tool_die("out of memory");
        s->a = na;
    }
    s->a[s->n].k = strdup(k);
    s->a[s->n].v = v ? strdup(v) : NULL;
    s->n++;
}

static kv *kvs_get(kvs *s, const char *k)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->a[i].k, k) == 0)
            return &s->a[i];
    return NULL;
}

static void kvs_del(kvs *s, const char *k)
{
    kv *e = kvs_get(s, k);
    if (!e)
        return;
    free(e->k);
    free(e->v);
    *e = s->a[--s->n];
}

static void kvs_free(kvs *s)
{
    for (int i = 0; i < s->n; i++) {
        free(s->a[i].k);
        free(s->a[i].v);
    }
    free(s->a);
    memset(s, 0, sizeof *s);
}

typedef struct opts {
    const char *bootstrap, *command_config;
    const char *type; /* "topics" | "brokers" */
    const char *name; /* NULL: all; "" : the default entity */
    bool describe, alter, all;
    const char *add, *add_file, *del;
} opts;

static void help(FILE *f)
{
    fprintf(f,
            "usage: brook configs --bootstrap-server HOST:PORT --entity-type TYPE [--entity-name "
            "NAME]\n"
            "                     (--describe [--all] | --alter [--add-config ...] "
            "[--delete-config ...])\n"
            "Describe or change the configs of a topic or broker (kafka-configs.sh).\n"
            "  --bootstrap-server HOST:PORT  REQUIRED: the broker(s) to connect to\n"
            "  --command-config FILE         admin client properties file\n"
            "  --entity-type topics|brokers  the kind of entity\n"
            "  --entity-name NAME            a topic name or broker id (all when left out)\n"
            "  --entity-default              the cluster-wide default (brokers)\n"
            "  --topic NAME                  = --entity-type topics --entity-name NAME\n"
            "  --broker ID                   = --entity-type brokers --entity-name ID\n"
            "  --broker-defaults             = --entity-type brokers --entity-default\n"
            "  --describe                    list the entity's dynamic configs\n"
            "  --all                         with --describe: every config, defaults included\n"
            "  --alter                       change configs (reads, merges, then replaces the\n"
            "                                dynamic set: librdkafka 2.0.2 has only AlterConfigs)\n"
            "  --add-config K=V,K2=[V1,V2]   configs to set; [] groups a list value\n"
            "  --add-config-file FILE        configs to set, as a properties file\n"
            "  --delete-config K1,K2         configs to remove (back to the default)\n"
            "  --version                     print the version and exit\n"
            "  --help                        this text\n");
}

/* ------------------------------------------------------------- parsing */

static char *trim_dup(const char *b, const char *e)
{
    while (b < e && (*b == ' ' || *b == '\t'))
        b++;
    while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    char *s = strndup(b, (size_t)(e - b));
    if (!s)
        bk_tool_die("out of memory");
    return s;
}

/* Kafka's --add-config: split on commas outside [...], then each item on
 * its one '=' outside [...]; brackets are dropped from values. */
static void parse_add(const char *in, kvs *out)
{
    const char *p = in;
    while (*p) {
        const char *start = p, *eq = NULL;
        int depth = 0, neq = 0;
        for (; *p && !(*p == ',' && depth == 0); p++) {
            if (*p == '[')
                depth++;
            else if (*p == ']' && depth > 0)
                depth--;
            else if (*p == '=' && depth == 0) {
                neq++;
                if (!eq)
                    eq = p;
            }
        }
        if (neq != 1)
            bk_tool_die("Invalid entity config: all configs to be added must be in the format "
                        "\"key=val\".");
        char *k = trim_dup(start, eq);
        char *raw = trim_dup(eq + 1, p);
        char *v = raw, *w = raw;
        for (; *v; v++)
            if (*v != '[' && *v != ']')
                *w++ = *v;
        *w = 0;
        char *vt = trim_dup(raw, raw + strlen(raw));
        if (!*k)
            bk_tool_die("Invalid entity config: all configs to be added must be in the format "
                        "\"key=val\".");
        kvs_put(out, k, vt);
        free(k);
        free(raw);
        free(vt);
        if (*p == ',')
            p++;
    }
}

/* --add-config-file: Java properties lines, key=value or key: value, with
 * # and ! comments (no line continuations). */
static void parse_add_file(const char *path, kvs *out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        bk_tool_die("cannot read %s: %s", path, strerror(errno));
    char line[8192];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *e = line + strlen(line);
        char *b = line;
        while (b < e && (*b == ' ' || *b == '\t'))
            b++;
        while (e > b && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (b == e || *b == '#' || *b == '!')
            continue;
        *e = 0;
        char *sep = strpbrk(b, "=:");
        if (!sep)
            bk_tool_die("%s:%d: expected key=value", path, lineno);
        char *k = trim_dup(b, sep), *v = trim_dup(sep + 1, e);
        kvs_put(out, k, v);
        free(k);
        free(v);
    }
    fclose(f);
}

/* ------------------------------------------------------------ describe */

static rd_kafka_ResourceType_t restype(const opts *o)
{
    return strcmp(o->type, "topics") == 0 ? RD_KAFKA_RESOURCE_TOPIC : RD_KAFKA_RESOURCE_BROKER;
}

/* The live broker ids, sorted. */
static int broker_ids(rd_kafka_t *rk, int32_t **out)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, NULL, &md, TIMEOUT_MS);
    if (e)
        bk_tool_die("cannot list brokers: %s", rd_kafka_err2str(e));
    int32_t *ids = calloc((size_t)md->broker_cnt + 1, sizeof *ids);
    if (!ids)
        bk_tool_die("out of memory");
    int n = md->broker_cnt;
    for (int i = 0; i < n; i++)
        ids[i] = md->brokers[i].id;
    for (int i = 1; i < n; i++) /* insertion sort: a handful of brokers */
        for (int j = i; j > 0 && ids[j - 1] > ids[j]; j--) {
            int32_t t = ids[j];
            ids[j] = ids[j - 1];
            ids[j - 1] = t;
        }
    rd_kafka_metadata_destroy(md);
    *out = ids;
    return n;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(rd_kafka_ConfigEntry_name(*(const rd_kafka_ConfigEntry_t *const *)a),
                  rd_kafka_ConfigEntry_name(*(const rd_kafka_ConfigEntry_t *const *)b));
}

/* The source that marks an entry as set on this very entity. */
static rd_kafka_ConfigSource_t dynamic_source(const opts *o, const char *name)
{
    if (restype(o) == RD_KAFKA_RESOURCE_TOPIC)
        return RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG;
    return *name ? RD_KAFKA_CONFIG_SOURCE_DYNAMIC_BROKER_CONFIG
                 : RD_KAFKA_CONFIG_SOURCE_DYNAMIC_DEFAULT_BROKER_CONFIG;
}

typedef void (*entry_fn)(void *arg, const rd_kafka_ConfigEntry_t *e);

/* DescribeConfigs of one entity; calls fn for each entry (sorted by name)
 * that passes the filter: source == only, or all when only < 0. */
static void describe_entity(rd_kafka_t *rk, const opts *o, const char *name, int only, entry_fn fn,
                            void *arg)
{
    const char *resname = name;
    char idbuf[16];
    if (restype(o) == RD_KAFKA_RESOURCE_BROKER && !*name) {
        /* librdkafka sends broker resources to the broker named by the id:
         * ask any live broker for the cluster-wide view. */
        int32_t *ids;
        int n = broker_ids(rk, &ids);
        if (n == 0)
            bk_tool_die("no live broker to describe the cluster default");
        snprintf(idbuf, sizeof idbuf, "%d", ids[0]);
        free(ids);
        resname = idbuf;
    }
    rd_kafka_ConfigResource_t *cr = rd_kafka_ConfigResource_new(restype(o), resname);
    if (!cr)
        bk_tool_die("invalid entity name '%s'", resname);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *ao =
        bk_tool_admin_options(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, TIMEOUT_MS);
    rd_kafka_DescribeConfigs(rk, &cr, 1, ao, q);
    rd_kafka_event_t *ev =
        bk_tool_admin_wait(q, RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT, TIMEOUT_MS * 2);
    size_t nres = 0;
    const rd_kafka_ConfigResource_t **res =
        rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &nres);
    if (nres != 1)
        bk_tool_die("no configs returned for %s", name);
    if (rd_kafka_ConfigResource_error(res[0])) {
        const char *es = rd_kafka_ConfigResource_error_string(res[0]);
        bk_tool_die("%s", es && *es ? es : rd_kafka_err2str(rd_kafka_ConfigResource_error(res[0])));
    }
    size_t ne = 0;
    const rd_kafka_ConfigEntry_t **ents = rd_kafka_ConfigResource_configs(res[0], &ne);
    const rd_kafka_ConfigEntry_t **sorted = calloc(ne + 1, sizeof *sorted);
    if (!sorted)
        bk_tool_die("out of memory");
    memcpy(sorted, ents, sizeof *sorted * ne);
    qsort(sorted, ne, sizeof *sorted, cmp_entry);
    for (size_t i = 0; i < ne; i++)
        if (only < 0 || rd_kafka_ConfigEntry_source(sorted[i]) == (rd_kafka_ConfigSource_t)only)
            fn(arg, sorted[i]);
    free(sorted);
    rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_queue_destroy(q);
    rd_kafka_ConfigResource_destroy(cr);
}

static void print_entry(void *arg, const rd_kafka_ConfigEntry_t *e)
{
    const char *v = rd_kafka_ConfigEntry_value(e);
    printf("  %s=%s sensitive=%s synonyms={", rd_kafka_ConfigEntry_name(e), v ? v : "null",
           rd_kafka_ConfigEntry_is_sensitive(e) == 1 ? "true" : "false");
    size_t ns = 0;
    const rd_kafka_ConfigEntry_t **syn = rd_kafka_ConfigEntry_synonyms(e, &ns);
    for (size_t i = 0; i < ns; i++) {
        const char *sv = rd_kafka_ConfigEntry_value(syn[i]);
        printf("%s%s:%s=%s", i ? ", " : "",
               rd_kafka_ConfigSource_name(rd_kafka_ConfigEntry_source(syn[i])),
               rd_kafka_ConfigEntry_name(syn[i]), sv ? sv : "null");
    }
    printf("}\n");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int do_describe(rd_kafka_t *rk, const opts *o)
{
    char **names;
    int n;
    bool topics = restype(o) == RD_KAFKA_RESOURCE_TOPIC;
    if (o->name) {
        names = malloc(sizeof *names);
        if (!names || !(names[0] = strdup(o->name)))
            bk_tool_die("out of memory");
        n = 1;
    } else if (topics) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, TIMEOUT_MS);
        if (e)
            bk_tool_die("cannot list topics: %s", rd_kafka_err2str(e));
        names = calloc((size_t)md->topic_cnt + 1, sizeof *names);
        if (!names)
            bk_tool_die("out of memory");
        n = 0;
        for (int i = 0; i < md->topic_cnt; i++)
            if (md->topics[i].err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
                names[n++] = strdup(md->topics[i].topic);
        rd_kafka_metadata_destroy(md);
        qsort(names, (size_t)n, sizeof *names, cmp_str);
    } else {
        int32_t *ids;
        int nb = broker_ids(rk, &ids);
        names = calloc((size_t)nb + 1, sizeof *names);
        if (!names)
            bk_tool_die("out of memory");
        for (int i = 0; i < nb; i++) {
            char b[16];
            snprintf(b, sizeof b, "%d", ids[i]);
            names[i] = strdup(b);
        }
        names[nb] = strdup(""); /* and the cluster default */
        n = nb + 1;
        free(ids);
    }
    for (int i = 0; i < n; i++) {
        if (!*names[i])
            printf("Default configs for %s in the cluster are:\n", o->type);
        else
            printf("%s configs for %s %s are:\n", o->all ? "All" : "Dynamic",
                   topics ? "topic" : "broker", names[i]);
        fflush(stdout);
        describe_entity(rk, o, names[i], o->all ? -1 : (int)dynamic_source(o, names[i]),
                        print_entry, NULL);
    }
    bk_tool_free_list(names, n);
    return 0;
}

/* --------------------------------------------------------------- alter */

static void collect_entry(void *arg, const rd_kafka_ConfigEntry_t *e)
{
    kvs_put(arg, rd_kafka_ConfigEntry_name(e), rd_kafka_ConfigEntry_value(e));
}

/* AlterConfigs of the cluster-default broker entity (name "") through
 * wire.c: librdkafka 2.0.2 refuses an empty resource name. */
static void alter_default(const opts *o, const kvs *cfg)
{
    bk_wire w;
    if (bk_wire_connect_list(&w, o->bootstrap, BK_TOOL_CONNECT_TIMEOUT_MS) == -1)
        bk_tool_die("%s", w.err);
    int16_t v = bk_wire_version(&w, 33, 2, 0);
    if (v < 0)
        bk_tool_die("the broker does not serve AlterConfigs");
    bk_AlterConfigsRequest_AlterableConfig *ac = calloc((size_t)cfg->n + 1, sizeof *ac);
    if (!ac)
        bk_tool_die("out of memory");
    for (int i = 0; i < cfg->n; i++)
        ac[i] =
            (bk_AlterConfigsRequest_AlterableConfig){bk_str_c(cfg->a[i].k), bk_str_c(cfg->a[i].v)};
    bk_AlterConfigsRequest_AlterConfigsResource res = {
        RD_KAFKA_RESOURCE_BROKER, bk_str_c(""), {cfg->n, ac}};
    bk_AlterConfigsRequest rq;
    bk_AlterConfigsRequest_init(&rq);
    rq.Resources.n = 1;
    rq.Resources.a = &res;
    bk_AlterConfigsResponse rs;
    if (bk_wire_call(&w, 33, v, &rq, &rs) == -1)
        bk_tool_die("%s", w.err);
    for (int32_t i = 0; i < rs.Responses.n; i++) {
        const bk_AlterConfigsResponse_AlterConfigsResourceResponse *r = &rs.Responses.a[i];
        if (r->ErrorCode) {
            if (r->ErrorMessage.len > 0)
                bk_tool_die("%.*s", (int)r->ErrorMessage.len, r->ErrorMessage.p);
            bk_tool_die("%s", bk_kerr_name(r->ErrorCode));
        }
    }
    free(ac);
    bk_wire_close(&w);
}

static int do_alter(rd_kafka_t *rk, const opts *o)
{
    kvs add = {0}, cur = {0};
    char **dels = NULL;
    int ndel = 0;
    if (o->add_file)
        parse_add_file(o->add_file, &add);
    if (o->add)
        parse_add(o->add, &add);
    if (o->del)
        ndel = bk_tool_split_list(o->del, &dels);
    if (add.n == 0 && ndel == 0)
        bk_tool_usage_error("At least one of --add-config or --delete-config must be specified "
                            "with --alter");

    describe_entity(rk, o, o->name, (int)dynamic_source(o, o->name), collect_entry, &cur);
    /* Kafka: deleting a config the entity does not set is an error */
    char bad[1024] = "";
    size_t bl = 0;
    for (int i = 0; i < ndel; i++)
        if (!kvs_get(&cur, dels[i]) && bl < sizeof bad)
            bl += (size_t)snprintf(bad + bl, sizeof bad - bl, "%s%s", bl ? "," : "", dels[i]);
    if (bad[0])
        bk_tool_die("Invalid config(s): %s", bad);
    for (int i = 0; i < add.n; i++)
        kvs_put(&cur, add.a[i].k, add.a[i].v);
    for (int i = 0; i < ndel; i++)
        kvs_del(&cur, dels[i]);
    /* AlterConfigs replaces everything: a sensitive value the broker did
     * not reveal would be lost. */
    char miss[1024] = "";
    size_t ml = 0;
    for (int i = 0; i < cur.n; i++)
        if (!cur.a[i].v && ml < sizeof miss)
            ml += (size_t)snprintf(miss + ml, sizeof miss - ml, "%s%s", ml ? ", " : "", cur.a[i].k);
    if (miss[0])
        bk_tool_die("All sensitive config entries must be specified for --alter, missing "
                    "entries: %s",
                    miss);

    if (!*o->name) {
        alter_default(o, &cur);
        goto done;
    }
    rd_kafka_ConfigResource_t *cr = rd_kafka_ConfigResource_new(restype(o), o->name);
    if (!cr)
        bk_tool_die("invalid entity name '%s'", o->name);
    for (int i = 0; i < cur.n; i++)
        if (rd_kafka_ConfigResource_set_config(cr, cur.a[i].k, cur.a[i].v))
            bk_tool_die("cannot set config %s", cur.a[i].k);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *ao =
        bk_tool_admin_options(rk, RD_KAFKA_ADMIN_OP_ALTERCONFIGS, TIMEOUT_MS);
    rd_kafka_AlterConfigs(rk, &cr, 1, ao, q);
    rd_kafka_event_t *ev =
        bk_tool_admin_wait(q, RD_KAFKA_EVENT_ALTERCONFIGS_RESULT, TIMEOUT_MS * 2);
    size_t nres = 0;
    const rd_kafka_ConfigResource_t **res =
        rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(ev), &nres);
    for (size_t i = 0; i < nres; i++)
        if (rd_kafka_ConfigResource_error(res[i])) {
            const char *es = rd_kafka_ConfigResource_error_string(res[i]);
            bk_tool_die("%s",
                        es && *es ? es : rd_kafka_err2str(rd_kafka_ConfigResource_error(res[i])));
        }
    rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_queue_destroy(q);
    rd_kafka_ConfigResource_destroy(cr);
done:
    if (*o->name)
        printf("Completed updating config for %s %s.\n",
               restype(o) == RD_KAFKA_RESOURCE_TOPIC ? "topic" : "broker", o->name);
    else
        printf("Completed updating default config for %s in the cluster.\n", o->type);
    kvs_free(&add);
    kvs_free(&cur);
    bk_tool_free_list(dels, ndel);
    return 0;
}

/* ---------------------------------------------------------------- main */

/* ---------------------------------------------- users: SCRAM credentials
 * (issue 11). --entity-type users --entity-name U with
 *   --alter --add-config 'SCRAM-SHA-512=[password=P],SCRAM-SHA-256=[iterations=8192,password=P]'
 *   --alter --delete-config SCRAM-SHA-512
 *   --describe
 * The password is salted here (PBKDF2 with a random salt, default 4096
 * iterations, as kafka-configs.sh does) and AlterUserScramCredentials sends
 * the salted password; DescribeUserScramCredentials lists mechanisms and
 * iterations. Quota configs of users are a separate part of the tool. */

static int scram_mech(const char *k)
{
    int m = bk_sasl_mech_parse(k, strlen(k));
    return m == BK_SCRAM_SHA_256 || m == BK_SCRAM_SHA_512 ? m : 0;
}

static bool is_scram_key(const char *k)
{
    return strncmp(k, "SCRAM-", 6) == 0;
}

static int users_scram_alter(bk_wire *w, const opts *o, const kvs *add)
{
    int16_t v = bk_wire_version(w, 51, 0, 0);
    if (v < 0)
        bk_tool_die("the broker does not serve AlterUserScramCredentials");
    int nd = 0, nu = add->n;
    char **dels = NULL;
    if (o->del) {
        kvs tmp = {0};
        char *d = strdup(o->del);
        for (char *t = strtok(d, ","); t; t = strtok(NULL, ",")) {
            char *k = trim_dup(t, t + strlen(t));
            kvs_put(&tmp, k, "");
            free(k);
        }
        free(d);
        dels = calloc((size_t)tmp.n + 1, sizeof *dels);
        for (int i = 0; dels && i < tmp.n; i++)
            dels[nd++] = strdup(tmp.a[i].k);
        kvs_free(&tmp);
    }
    bk_AlterUserScramCredentialsRequest_ScramCredentialDeletion *dl =
        calloc((size_t)nd + 1, sizeof *dl);
    bk_AlterUserScramCredentialsRequest_ScramCredentialUpsertion *up =
        calloc((size_t)nu + 1, sizeof *up);
    uint8_t(*salt)[32] = calloc((size_t)nu + 1, sizeof *salt);
    uint8_t(*salted)[64] = calloc((size_t)nu + 1, sizeof *salted);
    if (!dl || !up || !salt || !salted)
        bk_tool_die("out of memory");
    for (int i = 0; i < nd; i++) {
        int m = scram_mech(dels[i]);
        if (!m)
            bk_tool_die("Invalid config: %s (users take SCRAM-SHA-256 and SCRAM-SHA-512)",
                        dels[i]);
        dl[i] = (bk_AlterUserScramCredentialsRequest_ScramCredentialDeletion){
            bk_str_c(o->name), (int8_t)m};
    }
    for (int i = 0; i < nu; i++) {
        int m = scram_mech(add->a[i].k);
        if (!m)
            bk_tool_die("Invalid config: %s (users take SCRAM-SHA-256 and SCRAM-SHA-512)",
                        add->a[i].k);
        /* "password=P" or "iterations=N,password=P" */
        char *val = strdup(add->a[i].v), *pw = NULL;
        long it = 4096;
        for (char *t = strtok(val, ","); t; t = strtok(NULL, ",")) {
            if (strncmp(t, "password=", 9) == 0)
                pw = t + 9;
            else if (strncmp(t, "iterations=", 11) == 0)
                it = strtol(t + 11, NULL, 10);
            else
                bk_tool_die("Invalid SCRAM config value for %s: %s", add->a[i].k, t);
        }
        if (!pw || !*pw)
            bk_tool_die("Invalid credential config %s: password is required", add->a[i].k);
        int h = bk_scram_hlen(m);
        if (RAND_bytes(salt[i], sizeof salt[i]) != 1 ||
            PKCS5_PBKDF2_HMAC(pw, (int)strlen(pw), salt[i], sizeof salt[i], (int)it,
                              m == BK_SCRAM_SHA_256 ? EVP_sha256() : EVP_sha512(), h,
                              salted[i]) != 1)
            bk_tool_die("cannot salt the password");
        free(val);
        up[i] = (bk_AlterUserScramCredentialsRequest_ScramCredentialUpsertion){
            bk_str_c(o->name), (int8_t)m, (int32_t)it, {salt[i], (int32_t)sizeof salt[i]},
            {salted[i], h}};
    }
    bk_AlterUserScramCredentialsRequest rq;
    bk_AlterUserScramCredentialsRequest_init(&rq);
    rq.Deletions.n = nd;
    rq.Deletions.a = dl;
    rq.Upsertions.n = nu;
    rq.Upsertions.a = up;
    bk_AlterUserScramCredentialsResponse rs;
    if (bk_wire_call(w, 51, v, &rq, &rs) == -1)
        bk_tool_die("%s", w->err);
    for (int32_t i = 0; i < rs.Results.n; i++) {
        const bk_AlterUserScramCredentialsResponse_AlterUserScramCredentialsResult *r =
            &rs.Results.a[i];
        if (r->ErrorCode)
            bk_tool_die("%s: %.*s", bk_kerr_name(r->ErrorCode),
                        (int)(r->ErrorMessage.len > 0 ? r->ErrorMessage.len : 0),
                        r->ErrorMessage.len > 0 ? r->ErrorMessage.p : "");
    }
    printf("Completed updating config for user %s.\n", o->name);
    for (int i = 0; i < nd; i++)
        free(dels[i]);
    free(dels);
    free(dl);
    free(up);
    free(salt);
    free(salted);
    return 0;
}

static int users_scram_describe(bk_wire *w, const opts *o)
{
    int16_t v = bk_wire_version(w, 50, 0, 0);
    if (v < 0)
        bk_tool_die("the broker does not serve DescribeUserScramCredentials");
    bk_DescribeUserScramCredentialsRequest rq;
    bk_DescribeUserScramCredentialsRequest_init(&rq);
    bk_DescribeUserScramCredentialsRequest_UserName un = {bk_str_c(o->name)};
    if (o->name && *o->name) {
        rq.Users.n = 1;
        rq.Users.a = &un;
    } else {
        rq.Users.n = -1;
    }
    bk_DescribeUserScramCredentialsResponse rs;
    if (bk_wire_call(w, 50, v, &rq, &rs) == -1)
        bk_tool_die("%s", w->err);
    if (rs.ErrorCode)
        bk_tool_die("%s", bk_kerr_name(rs.ErrorCode));
    for (int32_t i = 0; i < rs.Results.n; i++) {
        const bk_DescribeUserScramCredentialsResponse_DescribeUserScramCredentialsResult *r =
            &rs.Results.a[i];
        if (r->ErrorCode == BK_KERR_RESOURCE_NOT_FOUND)
            continue; /* Kafka prints nothing for a user without credentials */
        if (r->ErrorCode)
            bk_tool_die("%s", bk_kerr_name(r->ErrorCode));
        printf("SCRAM credential configs for user-principal '%.*s' are ", (int)r->User.len,
               r->User.p);
        for (int32_t j = 0; j < r->CredentialInfos.n; j++)
            printf("%s%s=iterations=%d", j ? ", " : "",
                   bk_sasl_mech_name(r->CredentialInfos.a[j].Mechanism),
                   r->CredentialInfos.a[j].Iterations);
        printf("\n");
    }
    return 0;
}

static int users_scram(const opts *o)
{
    kvs add = {0};
    if (o->add)
        parse_add(o->add, &add);
    if (o->add_file)
        parse_add_file(o->add_file, &add);
    for (int i = 0; i < add.n; i++)
        if (!is_scram_key(add.a[i].k))
            bk_tool_die("config %s of users is not supported by Brook (SCRAM credentials only)",
                        add.a[i].k);
    if (o->alter && !add.n && !o->del)
        bk_tool_usage_error("At least one of --add-config or --delete-config must be specified "
                            "with --alter");
    bk_wire w;
    if (bk_wire_connect_list(&w, o->bootstrap, BK_TOOL_CONNECT_TIMEOUT_MS) == -1)
        bk_tool_die("%s", w.err);
    int rc = o->alter ? users_scram_alter(&w, o, &add) : users_scram_describe(&w, o);
    bk_wire_close(&w);
    kvs_free(&add);
    fflush(stdout);
    return rc;
}

int bk_cmd_configs(int argc, char **argv)
{
    enum {
        O_BOOT = 256,
        O_CMDCFG,
        O_TYPE,
        O_NAME,
        O_DEFAULT,
        O_TOPIC,
        O_BROKER,
        O_BROKER_DEF,
        O_DESCRIBE,
        O_ALL,
        O_ALTER,
        O_ADD,
        O_ADD_FILE,
        O_DEL,
        O_VERSION,
        O_HELP
    };
    static const struct option longopts[] = {
        {"bootstrap-server", required_argument, 0, O_BOOT},
        {"command-config", required_argument, 0, O_CMDCFG},
        {"entity-type", required_argument, 0, O_TYPE},
        {"entity-name", required_argument, 0, O_NAME},
        {"entity-default", no_argument, 0, O_DEFAULT},
        {"topic", required_argument, 0, O_TOPIC},
        {"broker", required_argument, 0, O_BROKER},
        {"broker-defaults", no_argument, 0, O_BROKER_DEF},
        {"describe", no_argument, 0, O_DESCRIBE},
        {"all", no_argument, 0, O_ALL},
        {"alter", no_argument, 0, O_ALTER},
        {"add-config", required_argument, 0, O_ADD},
        {"add-config-file", required_argument, 0, O_ADD_FILE},
        {"delete-config", required_argument, 0, O_DEL},
        {"version", no_argument, 0, O_VERSION},
        {"help", no_argument, 0, O_HELP},
        {0, 0, 0, 0},
    };
    opts o = {0};
    int ntypes = 0, nnames = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case O_BOOT:
            o.bootstrap = optarg;
            break;
        case O_CMDCFG:
            o.command_config = optarg;
            break;
        case O_TYPE:
            o.type = optarg;
            ntypes++;
            break;
        case O_NAME:
            o.name = optarg;
            nnames++;
            break;
        case O_DEFAULT:
            o.name = "";
            nnames++;
            break;
        case O_TOPIC:
            o.type = "topics";
            o.name = optarg;
            ntypes++;
            nnames++;
            break;
        case O_BROKER:
            o.type = "brokers";
            o.name = optarg;
            ntypes++;
            nnames++;
            break;
        case O_BROKER_DEF:
            o.type = "brokers";
            o.name = "";
            ntypes++;
            nnames++;
            break;
        case O_DESCRIBE:
            o.describe = true;
            break;
        case O_ALL:
            o.all = true;
            break;
        case O_ALTER:
            o.alter = true;
            break;
        case O_ADD_FILE:
            o.add_file = optarg;
            break;
        case O_ADD:
            o.add = optarg;
            break;
        case O_DEL:
            o.del = optarg;
            break;
        case O_VERSION:
            bk_tool_print_version();
            return 0;
        case 'h':
        case O_HELP:
            help(stdout);
            return 0;
        default:
            bk_tool_usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        bk_tool_usage_error("unexpected argument '%s'", argv[optind]);
    if (o.describe == o.alter)
        bk_tool_usage_error("Command must include exactly one action: --describe, --alter");
    if (!o.bootstrap)
        bk_tool_usage_error("--bootstrap-server must be specified");
    if (!o.type)
        bk_tool_usage_error("At least one entity type must be specified");
    if (ntypes > 1 || nnames > 1)
        bk_tool_usage_error("give one entity: one --entity-type with at most one --entity-name "
                            "or --entity-default");
    if (strcmp(o.type, "users") == 0 || strcmp(o.type, "clients") == 0) {
        /* users: SCRAM credentials (users_scram) and client quotas
         * (configs_quota.c); clients: quotas */
        bool users = strcmp(o.type, "users") == 0;
        bool scram = users && ((o.add && strstr(o.add, "SCRAM-")) ||
                               (o.del && strstr(o.del, "SCRAM-")) || o.add_file);
        bool quota = (o.add && strstr(o.add, "_")) || (o.del && strstr(o.del, "_"));
        if ((o.add || o.add_file || o.del) && !o.alter)
            bk_tool_usage_error("--add-config and --delete-config can only be used with --alter");
        if (o.alter && (!o.name || (users && scram && !*o.name)))
            bk_tool_usage_error("an entity name (or --entity-default) must be specified with "
                                "--alter of %s",
                                o.type);
        if (scram && quota)
            bk_tool_usage_error("give SCRAM credentials and quotas in separate commands");
        if (users && o.describe) {
            int r = bk_configs_quotas(o.bootstrap, o.type, o.name, o.describe, o.add, o.del);
            int r2 = users_scram(&o);
            return r ? r : r2;
        }
        if (scram)
            return users_scram(&o);
        return bk_configs_quotas(o.bootstrap, o.type, o.name, o.describe, o.add, o.del);
    }
    if (strcmp(o.type, "ips") == 0) { /* connection_creation_rate (configs_quota.c) */
        if ((o.add || o.add_file || o.del) && !o.alter)
            bk_tool_usage_error("--add-config and --delete-config can only be used with --alter");
        if (o.alter && !o.name)
            bk_tool_usage_error("an entity name (or --entity-default) must be specified with "
                                "--alter of ips");
        return bk_configs_quotas(o.bootstrap, o.type, o.name, o.describe, o.add, o.del);
    }
    if (strcmp(o.type, "topics") != 0 && strcmp(o.type, "brokers") != 0) {
        if (strcmp(o.type, "broker-loggers") == 0)
            bk_tool_die("entity type %s is not supported by Brook", o.type);
        bk_tool_usage_error("Invalid entity type %s, the entity type must be one of topics, "
                            "brokers",
                            o.type);
    }
    if (o.all && !o.describe)
        bk_tool_usage_error("--all can only be used with --describe");
    if ((o.add || o.add_file || o.del) && !o.alter)
        bk_tool_usage_error("--add-config and --delete-config can only be used with --alter");
    if (strcmp(o.type, "topics") == 0 && o.name && !*o.name)
        bk_tool_usage_error("--entity-default is not supported for topics");
    if (o.alter && !o.name)
        bk_tool_usage_error("an entity name must be specified with --alter of %s", o.type);
    if (strcmp(o.type, "brokers") == 0 && o.name && *o.name) {
        char *end;
        long v = strtol(o.name, &end, 10);
        if (end == o.name || *end || v < 0 || v > INT32_MAX)
            bk_tool_die("The entity name for brokers must be a valid integer broker id, but "
                        "it is: %s",
                        o.name);
    }

    rd_kafka_conf_t *conf = bk_tool_conf(o.bootstrap);
    if (o.command_config)
        bk_tool_conf_file(conf, o.command_config);
    rd_kafka_t *rk = bk_tool_client(RD_KAFKA_PRODUCER, conf);
    bk_tool_wait_connected(rk, o.bootstrap, BK_TOOL_CONNECT_TIMEOUT_MS);
    int rc = o.describe ? do_describe(rk, &o) : do_alter(rk, &o);
    fflush(stdout);
    rd_kafka_destroy(rk);
    return rc;
}
