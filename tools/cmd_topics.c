/*
 * brook topics - kafka-topics.sh: create, delete, list, describe and add
 * partitions to topics, with Kafka 3.9's flags, checks and output.
 *
 *   brook topics --bootstrap-server B --create --topic T [--partitions N]
 *                [--replication-factor R | --replica-assignment 0:1,1:2]
 *                [--config k=v ...] [--if-not-exists]
 *   brook topics --bootstrap-server B --list [--topic REGEX] [--exclude-internal]
 *   brook topics --bootstrap-server B --describe [--topic REGEX] [--if-exists]
 *                [--under-replicated-partitions | --under-min-isr-partitions |
 *                 --at-min-isr-partitions | --unavailable-partitions |
 *                 --topics-with-overrides] [--exclude-internal]
 *   brook topics --bootstrap-server B --alter --topic REGEX --partitions N
 *                [--replica-assignment ...] [--if-exists]
 *   brook topics --bootstrap-server B --delete --topic REGEX [--if-exists]
 *
 * --topic is a regular expression for everything but --create, matched
 * against the whole name; a comma separates alternatives (Kafka's
 * IncludeList). Kafka uses Java regexes; Brook uses POSIX extended regexes,
 * which agree on the usual forms (., *, +, ?, [...], (a|b), ^, $) but have
 * no \d, \w, lazy quantifiers or lookaround.
 *
 * As in Kafka 3.x, --alter changes partitions only; topic configs are
 * changed with `brook configs`. Delete and alter print nothing on success.
 *
 * Describe output (Kafka's TopicCommand):
 *   Topic: T<TAB>TopicId: ID<TAB>PartitionCount: 3<TAB>ReplicationFactor: 1<TAB>Configs: k=v,...
 *   <TAB>Topic: T<TAB>Partition: 0<TAB>Leader: 0<TAB>Replicas: 0<TAB>Isr: 0
 * plus <TAB>Adding Replicas: 2<TAB>Removing Replicas: 0 for a partition being
 * reassigned (ListPartitionReassignments from the controller, when it serves
 * it); as Kafka, the replicas being added do not count in the replication
 * factor (ReplicationFactor, --under-replicated-partitions).
 * Configs lists every entry whose source is not the built-in default (topic
 * overrides and values set in server.properties), as Kafka's
 * ConfigEntry.isDefault() filter does. The topic id comes from a Metadata
 * v12 request (wire.c: librdkafka 2.0.2 does not expose ids); it is left
 * out when unknown, as Kafka does for a zero id. Kafka 3.9 in KRaft mode
 * also prints Elr/LastKnownElr; a ZooKeeper-mode broker has none.
 */
#include "../src/proto/bkgen_msgs.h"
#include "brook.h"
#include "tool.h"
#include "wire.h"

#include "../src/core/uuid.h"

#include <getopt.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TIMEOUT_MS 30000

enum { ACT_CREATE = 1, ACT_DELETE = 2, ACT_LIST = 4, ACT_DESCRIBE = 8, ACT_ALTER = 16 };

typedef struct opts {
    const char *bootstrap;
    const char *command_config;
    int actions;
    int nactions;
    const char *topic;
    int64_t partitions; /* -1: not given */
    int64_t rf;         /* -1: not given */
    const char *assignment;
    const char **configs; /* "k=v", argv-borrowed */
    int nconfigs;
    bool if_exists, if_not_exists, exclude_internal;
    bool under_replicated, under_min_isr, at_min_isr, unavailable, with_overrides;
} opts;

/* --replica-assignment parsed: one replica list per partition. */
typedef struct assignment {
    int n;
    int32_t **ids;
    int *cnt;
} assignment;

static void help(FILE *f)
{
    fprintf(
        f,
        "usage: brook topics --bootstrap-server HOST:PORT ACTION [options]\n"
        "Create, delete, describe, or change a topic (kafka-topics.sh).\n"
        "actions (exactly one):\n"
        "  --create                      create a new topic\n"
        "  --delete                      delete topics\n"
        "  --list                        list topics\n"
        "  --describe                    describe topics\n"
        "  --alter                       increase the partitions (configs: brook configs)\n"
        "options:\n"
        "  --bootstrap-server HOST:PORT  REQUIRED: the broker(s) to connect to\n"
        "  --command-config FILE         admin client properties file\n"
        "  --topic TOPIC                 the topic; a POSIX extended regex matched against the\n"
        "                                whole name (commas separate alternatives) except\n"
        "                                with --create\n"
        "  --partitions N                partitions of the created topic, or the new total\n"
        "                                with --alter (default: the broker's num.partitions)\n"
        "  --replication-factor N        replication factor of the created topic\n"
        "  --replica-assignment LIST     broker ids per partition: 0:1,1:2 = partition 0 on\n"
        "                                brokers 0 and 1, partition 1 on 1 and 2\n"
        "  --config NAME=VALUE           a topic config override for --create (repeatable)\n"
        "  --if-exists                   with --alter/--delete/--describe: only if it exists\n"
        "  --if-not-exists               with --create: no error if the topic exists\n"
        "  --under-replicated-partitions with --describe: only under-replicated partitions\n"
        "  --under-min-isr-partitions    with --describe: only partitions with ISR < min ISR\n"
        "  --at-min-isr-partitions       with --describe: only partitions with ISR = min ISR\n"
        "  --unavailable-partitions      with --describe: only partitions without a live leader\n"
        "  --topics-with-overrides       with --describe: only topics with config overrides\n"
        "  --exclude-internal            with --list/--describe: leave out internal topics\n"
        "  --version                     print the version and exit\n"
        "  --help                        this text\n");
}

static bool is_internal(const char *t)
{
    return strcmp(t, "__consumer_offsets") == 0 || strcmp(t, "__transaction_state") == 0;
}

/* ------------------------------------------------------------ topic list */

/* Kafka's IncludeList: trim, commas become alternatives, spaces and
 * surrounding quotes dropped, then a whole-name match. */
static void compile_filter(const char *in, regex_t *re)
{
    size_t n = strlen(in);
    char *s = malloc(n + 8);
    if (!s)
        bk_tool_die("out of memory");
    size_t o = 0;
    s[o++] = '^';
    s[o++] = '(';
    const char *b = in, *e = in + n;
    while (b < e && (*b == '"' || *b == '\'' || *b == ' ' || *b == '\t'))
        b++;
    while (e > b && (e[-1] == '"' || e[-1] == '\'' || e[-1] == ' ' || e[-1] == '\t'))
        e--;
    for (const char *p = b; p < e; p++) {
        if (*p == ' ')
            continue;
        s[o++] = *p == ',' ? '|' : *p;
    }
    s[o++] = ')';
    s[o++] = '$';
    s[o] = 0;
    int rc = regcomp(re, s, REG_EXTENDED | REG_NOSUB);
    if (rc) {
        char msg[256];
        regerror(rc, re, msg, sizeof msg);
        bk_tool_die("invalid --topic regular expression '%s': %s", in, msg);
    }
    free(s);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the topics that match --topic (all when not given),
 * without internal ones when --exclude-internal. */
static int get_topics(rd_kafka_t *rk, const opts *o, char ***out)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, TIMEOUT_MS);
    if (e)
        bk_tool_die("cannot list topics: %s", rd_kafka_err2str(e));
    regex_t re;
    if (o->topic)
        compile_filter(o->topic, &re);
    char **v = calloc((size_t)md->topic_cnt + 1, sizeof *v);
    if (!v)
        bk_tool_die("out of memory");
    int n = 0;
    for (int i = 0; i < md->topic_cnt; i++) {
        const char *t = md->topics[i].topic;
        if (md->topics[i].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
            continue;
        if (o->topic && regexec(&re, t, 0, NULL, 0) != 0)
            continue;
        if (o->exclude_internal && is_internal(t))
            continue;
        if (!(v[n++] = strdup(t)))
            bk_tool_die("out of memory");
    }
    if (o->topic)
        regfree(&re);
    rd_kafka_metadata_destroy(md);
    qsort(v, (size_t)n, sizeof *v, cmp_str);
    *out = v;
    return n;
}

/* Kafka's ensureTopicExists: a named topic that matched nothing is an
 * error unless --if-exists. */
static void ensure_exists(const opts *o, int n)
{
    if (o->topic && *o->topic && !o->if_exists && n == 0)
        bk_tool_die("Topic '%s' does not exist as expected", o->topic);
}

/* -------------------------------------------------------- option parsing */

static assignment parse_assignment(const char *s)
{
    assignment a = {0, NULL, NULL};
    char **parts;
    int np = bk_tool_split_list(s, &parts);
    a.ids = calloc((size_t)np + 1, sizeof *a.ids);
    a.cnt = calloc((size_t)np + 1, sizeof *a.cnt);
    if (!a.ids || !a.cnt)
        bk_tool_die("out of memory");
    for (int i = 0; i < np; i++) {
        int cap = 1;
        for (const char *p = parts[i]; *p; p++)
            cap += *p == ':';
        a.ids[i] = calloc((size_t)cap, sizeof *a.ids[i]);
        if (!a.ids[i])
            bk_tool_die("out of memory");
        char *save = NULL;
        for (char *t = strtok_r(parts[i], ":", &save); t; t = strtok_r(NULL, ":", &save)) {
            while (*t == ' ')
                t++;
            char *end;
            long v = strtol(t, &end, 10);
            while (*end == ' ')
                end++;
            if (end == t || *end || v < 0 || v > INT32_MAX)
                bk_tool_usage_error("--replica-assignment: not a broker id: '%s'", t);
            for (int k = 0; k < a.cnt[i]; k++)
                if (a.ids[i][k] == v)
                    bk_tool_die("Partition replica lists may not contain duplicate entries: %ld",
                                v);
            a.ids[i][a.cnt[i]++] = (int32_t)v;
        }
        if (a.cnt[i] != a.cnt[0]) {
            /* Kafka prints the list as Java's List.toString: [1, 2] */
            char list[512];
            size_t l = (size_t)snprintf(list, sizeof list, "[");
            for (int k = 0; k < a.cnt[i] && l < sizeof list; k++)
                l +=
                    (size_t)snprintf(list + l, sizeof list - l, "%s%d", k ? ", " : "", a.ids[i][k]);
            if (l < sizeof list)
                snprintf(list + l, sizeof list - l, "]");
            bk_tool_die("Partition %d has different replication factor: %s", i, list);
        }
        a.n++;
    }
    bk_tool_free_list(parts, np);
    if (a.n == 0)
        bk_tool_usage_error("--replica-assignment is empty");
    return a;
}

static void free_assignment(assignment *a)
{
    for (int i = 0; i < a->n; i++)
        free(a->ids[i]);
    free(a->ids);
    free(a->cnt);
}

/* Kafka splits "k = v" on '=' and wants exactly two parts. */
static void split_config(const char *kv, char *k, size_t kl, char *v, size_t vl)
{
    const char *eq = strchr(kv, '=');
    if (!eq || strchr(eq + 1, '='))
        bk_tool_die("Invalid topic config: all configs to be added must be in the format "
                    "\"key=val\".");
    const char *kb = kv, *ke = eq, *vb = eq + 1, *ve = kv + strlen(kv);
    while (kb < ke && (*kb == ' ' || *kb == '\t'))
        kb++;
    while (ke > kb && (ke[-1] == ' ' || ke[-1] == '\t'))
        ke--;
    while (vb < ve && (*vb == ' ' || *vb == '\t'))
        vb++;
    while (ve > vb && (ve[-1] == ' ' || ve[-1] == '\t'))
        ve--;
    if (ke == kb || (size_t)(ke - kb) >= kl || (size_t)(ve - vb) >= vl)
        bk_tool_die("Invalid topic config: all configs to be added must be in the format "
                    "\"key=val\".");
    memcpy(k, kb, (size_t)(ke - kb));
    k[ke - kb] = 0;
    memcpy(v, vb, (size_t)(ve - vb));
    v[ve - vb] = 0;
}

/* The combinations Kafka's TopicCommandOptions.checkArgs refuses. */
static void check_args(const opts *o)
{
    if (o->nactions != 1)
        bk_tool_usage_error("Command must include exactly one action: --list, --describe, "
                            "--create, --alter or --delete");
    if (!o->bootstrap)
        bk_tool_usage_error("--bootstrap-server must be specified");
    int a = o->actions;
    if (!(a & (ACT_LIST | ACT_DESCRIBE)) && !o->topic)
        bk_tool_usage_error("Missing required argument \"[topic]\"");
    if (a == ACT_ALTER && o->nconfigs)
        bk_tool_usage_error("--config cannot be used with --alter (to alter topic "
                            "configurations, use brook configs)");
    if (a == ACT_ALTER && o->partitions < 0)
        bk_tool_usage_error("Missing required argument \"[partitions]\"");
    if (o->nconfigs && a != ACT_CREATE)
        bk_tool_usage_error("--config can only be used with --create");
    if (o->partitions >= 0 && !(a & (ACT_CREATE | ACT_ALTER)))
        bk_tool_usage_error("--partitions can only be used with --create or --alter");
    if (o->rf >= 0 && a != ACT_CREATE)
        bk_tool_usage_error("--replication-factor can only be used with --create");
    if (o->assignment && !(a & (ACT_CREATE | ACT_ALTER)))
        bk_tool_usage_error("--replica-assignment can only be used with --create or --alter");
    if (a == ACT_CREATE && o->assignment && (o->partitions >= 0 || o->rf >= 0))
        bk_tool_usage_error("--replica-assignment cannot be used with --partitions or "
                            "--replication-factor");
    int reports = o->under_replicated + o->under_min_isr + o->at_min_isr + o->unavailable;
    if ((reports || o->with_overrides) && a != ACT_DESCRIBE)
        bk_tool_usage_error("the partition and override reports need --describe");
    if (reports && o->with_overrides)
        bk_tool_usage_error("--topics-with-overrides cannot be combined with a partition report");
    if (o->if_exists && !(a & (ACT_ALTER | ACT_DELETE | ACT_DESCRIBE)))
        bk_tool_usage_error("--if-exists can only be used with --alter, --delete or --describe");
    if (o->if_not_exists && a != ACT_CREATE)
        bk_tool_usage_error("--if-not-exists can only be used with --create");
    if (o->exclude_internal && !(a & (ACT_LIST | ACT_DESCRIBE)))
        bk_tool_usage_error("--exclude-internal can only be used with --list or --describe");
}

/* ---------------------------------------------------------------- create */

static int do_create(rd_kafka_t *rk, const opts *o)
{
    if (o->rf >= 0 && (o->rf < 1 || o->rf > 32767))
        bk_tool_die("The replication factor must be between 1 and 32767 inclusive");
    if (o->partitions >= 0 && o->partitions < 1)
        bk_tool_die("The partitions must be greater than 0");
    if (o->partitions > INT32_MAX)
        bk_tool_die("The partitions must be at most %d", INT32_MAX);
    if (strchr(o->topic, '.') || strchr(o->topic, '_'))
        printf("WARNING: Due to limitations in metric names, topics with a period ('.') or "
               "underscore ('_') could collide. To avoid issues it is best to use either, but "
               "not both.\n");
    char err[512];
    assignment a = {0, NULL, NULL};
    rd_kafka_NewTopic_t *nt;
    if (o->assignment) {
        a = parse_assignment(o->assignment);
        nt = rd_kafka_NewTopic_new(o->topic, a.n, -1, err, sizeof err);
    } else {
        nt = rd_kafka_NewTopic_new(o->topic, (int)o->partitions, (int)o->rf, err, sizeof err);
    }
    if (!nt)
        bk_tool_die("%s", err);
    for (int i = 0; i < a.n; i++)
        if (rd_kafka_NewTopic_set_replica_assignment(nt, i, a.ids[i], (size_t)a.cnt[i], err,
                                                     sizeof err))
            bk_tool_die("%s", err);
    free_assignment(&a);
    for (int i = 0; i < o->nconfigs; i++) {
        char k[256], v[4096];
        split_config(o->configs[i], k, sizeof k, v, sizeof v);
        if (rd_kafka_NewTopic_set_config(nt, k, v))
            bk_tool_die("cannot set config %s", k);
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *ao =
        bk_tool_admin_options(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS, TIMEOUT_MS);
    rd_kafka_CreateTopics(rk, &nt, 1, ao, q);
    rd_kafka_event_t *ev =
        bk_tool_admin_wait(q, RD_KAFKA_EVENT_CREATETOPICS_RESULT, TIMEOUT_MS * 2);
    size_t cnt = 0;
    const rd_kafka_topic_result_t **res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
    for (size_t i = 0; i < cnt; i++) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
        if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS && o->if_not_exists)
            goto done;
        if (e) {
            const char *es = rd_kafka_topic_result_error_string(res[i]);
            bk_tool_die("%s", es && *es ? es : rd_kafka_err2str(e));
        }
    }
    printf("Created topic %s.\n", o->topic);
done:
    rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    return 0;
}

/* ------------------------------------------------------------ list, delete */

static int do_list(rd_kafka_t *rk, const opts *o)
{
    char **t;
    int n = get_topics(rk, o, &t);
    /* Kafka prints the names joined by newlines with println: an empty
     * list is one empty line. */
    for (int i = 0; i < n; i++)
        printf("%s%s", t[i], i + 1 < n ? "\n" : "");
    printf("\n");
    bk_tool_free_list(t, n);
    return 0;
}

static void check_topic_results(const rd_kafka_topic_result_t **res, size_t cnt)
{
    for (size_t i = 0; i < cnt; i++) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
        if (e) {
            const char *es = rd_kafka_topic_result_error_string(res[i]);
            if (cnt == 1)
                bk_tool_die("%s", es && *es ? es : rd_kafka_err2str(e));
            bk_tool_die("%s: %s", rd_kafka_topic_result_name(res[i]),
                        es && *es ? es : rd_kafka_err2str(e));
        }
    }
}

static int do_delete(rd_kafka_t *rk, const opts *o)
{
    char **t;
    int n = get_topics(rk, o, &t);
    ensure_exists(o, n);
    if (n == 0) {
        bk_tool_free_list(t, n);
        return 0;
    }
    rd_kafka_DeleteTopic_t **dt = calloc((size_t)n, sizeof *dt);
    if (!dt)
        bk_tool_die("out of memory");
    for (int i = 0; i < n; i++)
        dt[i] = rd_kafka_DeleteTopic_new(t[i]);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *ao =
        bk_tool_admin_options(rk, RD_KAFKA_ADMIN_OP_DELETETOPICS, TIMEOUT_MS);
    rd_kafka_DeleteTopics(rk, dt, (size_t)n, ao, q);
    rd_kafka_event_t *ev =
        bk_tool_admin_wait(q, RD_KAFKA_EVENT_DELETETOPICS_RESULT, TIMEOUT_MS * 2);
    size_t cnt = 0;
    const rd_kafka_topic_result_t **res =
        rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &cnt);
    check_topic_results(res, cnt);
    rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_queue_destroy(q);
    rd_kafka_DeleteTopic_destroy_array(dt, (size_t)n);
    free(dt);
    bk_tool_free_list(t, n);
    return 0;
}

/* ----------------------------------------------------------------- alter */

static int do_alter(rd_kafka_t *rk, const opts *o)
{
    if (o->partitions > INT32_MAX)
        bk_tool_die("The partitions must be at most %d", INT32_MAX);
    char **t;
    int n = get_topics(rk, o, &t);
    ensure_exists(o, n);
    if (n == 0) {
        bk_tool_free_list(t, n);
        return 0;
    }
    assignment a = {0, NULL, NULL};
    if (o->assignment)
        a = parse_assignment(o->assignment);
    const struct rd_kafka_metadata *md = NULL;
    if (a.n) {
        rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, TIMEOUT_MS);
        if (e)
            bk_tool_die("cannot describe topics: %s", rd_kafka_err2str(e));
    }
    char err[512];
    rd_kafka_NewPartitions_t **np = calloc((size_t)n, sizeof *np);
    if (!np)
        bk_tool_die("out of memory");
    for (int i = 0; i < n; i++) {
        np[i] = rd_kafka_NewPartitions_new(t[i], (size_t)o->partitions, err, sizeof err);
        if (!np[i])
            bk_tool_die("%s", err);
        if (!a.n)
            continue;
        /* As Kafka: the assignment lists every partition; the entries past
         * the current count describe the new ones. */
        int cur = 0;
        for (int k = 0; k < md->topic_cnt; k++)
            if (strcmp(md->topics[k].topic, t[i]) == 0)
                cur = md->topics[k].partition_cnt;
        for (int p = cur; p < a.n; p++)
            if (rd_kafka_NewPartitions_set_replica_assignment(np[i], p - cur, a.ids[p],
                                                              (size_t)a.cnt[p], err, sizeof err))
                bk_tool_die("%s", err);
    }
    if (md)
        rd_kafka_metadata_destroy(md);
    free_assignment(&a);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *ao =
        bk_tool_admin_options(rk, RD_KAFKA_ADMIN_OP_CREATEPARTITIONS, TIMEOUT_MS);
    rd_kafka_CreatePartitions(rk, np, (size_t)n, ao, q);
    rd_kafka_event_t *ev =
        bk_tool_admin_wait(q, RD_KAFKA_EVENT_CREATEPARTITIONS_RESULT, TIMEOUT_MS * 2);
    size_t cnt = 0;
    const rd_kafka_topic_result_t **res =
        rd_kafka_CreatePartitions_result_topics(rd_kafka_event_CreatePartitions_result(ev), &cnt);
    check_topic_results(res, cnt);
    rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewPartitions_destroy_array(np, (size_t)n);
    free(np);
    bk_tool_free_list(t, n);
    return 0;
}

/* -------------------------------------------------------------- describe */

static int cmp_part(const void *a, const void *b)
{
    const bk_MetadataResponse_MetadataResponsePartition *x = a, *y = b;
    return (x->PartitionIndex > y->PartitionIndex) - (x->PartitionIndex < y->PartitionIndex);
}

static void print_ids(const char *label, const int32_t *ids, int32_t n)
{
    printf("\t%s: ", label);
    for (int32_t i = 0; i < n; i++)
        printf("%s%d", i ? "," : "", ids[i]);
}

/* A partition move in progress (KIP-455), as the controller lists it. */
typedef struct rmove {
    char topic[256];
    int32_t partition;
    int32_t add[64], rem[64];
    int nadd, nrem;
} rmove;

/* ListPartitionReassignments from the controller (copied out); none when
 * it cannot be asked (a single-node broker does not serve it). */
static int load_moves(const bk_MetadataResponse *md, rmove **out)
{
    *out = NULL;
    const bk_MetadataResponse_MetadataResponseBroker *cb = NULL;
    for (int32_t i = 0; i < md->Brokers.n; i++)
        if (md->Brokers.a[i].NodeId == md->ControllerId)
            cb = &md->Brokers.a[i];
    if (!cb || cb->Host.len <= 0)
        return 0;
    char host[256];
    snprintf(host, sizeof host, "%.*s", (int)cb->Host.len, cb->Host.p);
    bk_wire w;
    if (bk_wire_connect(&w, host, cb->Port, BK_TOOL_CONNECT_TIMEOUT_MS) == -1)
        return 0;
    int n = 0;
    bk_ListPartitionReassignmentsRequest rq;
    bk_ListPartitionReassignmentsRequest_init(&rq);
    rq.TimeoutMs = TIMEOUT_MS;
    rq.Topics.n = -1;
    bk_ListPartitionReassignmentsResponse rs;
    if (bk_wire_version(&w, 46, 0, 0) == 0 && bk_wire_call(&w, 46, 0, &rq, &rs) == 0 &&
        rs.ErrorCode == 0) {
        int total = 0;
        for (int32_t i = 0; i < rs.Topics.n; i++)
            total += BK_MAX(rs.Topics.a[i].Partitions.n, 0);
        rmove *v = calloc((size_t)total + 1, sizeof *v);
        for (int32_t i = 0; v && i < rs.Topics.n; i++) {
            const bk_ListPartitionReassignmentsResponse_OngoingTopicReassignment *t =
                &rs.Topics.a[i];
            for (int32_t k = 0; k < t->Partitions.n; k++) {
                const bk_ListPartitionReassignmentsResponse_OngoingPartitionReassignment *p =
                    &t->Partitions.a[k];
                rmove *m = &v[n++];
                snprintf(m->topic, sizeof m->topic, "%.*s", (int)BK_MAX(t->Name.len, 0),
                         t->Name.p ? t->Name.p : "");
                m->partition = p->PartitionIndex;
                m->nadd = BK_MIN(BK_MAX(p->AddingReplicas.n, 0), 64);
                m->nrem = BK_MIN(BK_MAX(p->RemovingReplicas.n, 0), 64);
                if (m->nadd)
                    memcpy(m->add, p->AddingReplicas.a, (size_t)m->nadd * sizeof(int32_t));
                if (m->nrem)
                    memcpy(m->rem, p->RemovingReplicas.a, (size_t)m->nrem * sizeof(int32_t));
            }
        }
        *out = v;
        if (!v)
            n = 0;
    }
    bk_wire_close(&w);
    return n;
}

static const rmove *find_move(const rmove *v, int n, const char *topic, int32_t p)
{
    for (int i = 0; i < n; i++)
        if (v[i].partition == p && strcmp(v[i].topic, topic) == 0)
            return &v[i];
    return NULL;
}

static int do_describe(rd_kafka_t *rk, const opts *o)
{
    char **names;
    int n = get_topics(rk, o, &names);
    ensure_exists(o, n);
    if (n == 0) {
        bk_tool_free_list(names, n);
        return 0;
    }

    /* configs of every topic in one DescribeConfigs */
    rd_kafka_ConfigResource_t **cr = calloc((size_t)n, sizeof *cr);
    if (!cr)
        bk_tool_die("out of memory");
    for (int i = 0; i < n; i++)
        cr[i] = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, names[i]);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *ao =
        bk_tool_admin_options(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, TIMEOUT_MS);
    rd_kafka_DescribeConfigs(rk, cr, (size_t)n, ao, q);
    rd_kafka_event_t *ev =
        bk_tool_admin_wait(q, RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT, TIMEOUT_MS * 2);
    size_t ncfg = 0;
    const rd_kafka_ConfigResource_t **cfgs =
        rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &ncfg);

    /* partitions, replicas and topic ids from one Metadata v12 */
    bk_wire w;
    if (bk_wire_connect_list(&w, o->bootstrap, BK_TOOL_CONNECT_TIMEOUT_MS) == -1)
        bk_tool_die("%s", w.err);
    bk_MetadataResponse md;
    if (bk_wire_metadata(&w, true, &md) == -1)
        bk_tool_die("%s", w.err);

    bool describe_configs =
        !o->under_replicated && !o->under_min_isr && !o->at_min_isr && !o->unavailable;
    /* moves in progress: Kafka's replication factor leaves out the
     * replicas being added, and the partition lines show both lists */
    rmove *moves;
    int nmoves = load_moves(&md, &moves);
    for (int i = 0; i < n; i++) {
        bk_MetadataResponse_MetadataResponseTopic *t = NULL;
        for (int32_t k = 0; k < md.Topics.n; k++)
            if (bk_str_eq(md.Topics.a[k].Name, names[i]))
                t = &md.Topics.a[k];
        if (!t || t->ErrorCode || t->Partitions.n <= 0)
            continue; /* deleted meanwhile */
        const rd_kafka_ConfigResource_t *c = NULL;
        for (size_t k = 0; k < ncfg; k++)
            if (strcmp(rd_kafka_ConfigResource_name(cfgs[k]), names[i]) == 0)
                c = cfgs[k];
        if (c && rd_kafka_ConfigResource_error(c))
            bk_tool_die("cannot describe the configs of %s: %s", names[i],
                        rd_kafka_ConfigResource_error_string(c));
        size_t ne = 0;
        const rd_kafka_ConfigEntry_t **ents = c ? rd_kafka_ConfigResource_configs(c, &ne) : NULL;
        bool has_override = false;
        int min_isr = 1;
        for (size_t k = 0; k < ne; k++) {
            if (rd_kafka_ConfigEntry_source(ents[k]) != RD_KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG)
                has_override = true;
            const char *v = rd_kafka_ConfigEntry_value(ents[k]);
            if (strcmp(rd_kafka_ConfigEntry_name(ents[k]), "min.insync.replicas") == 0 && v)
                min_isr = atoi(v);
        }
        bk_MetadataResponse_MetadataResponsePartition *parts = t->Partitions.a;
        qsort(parts, (size_t)t->Partitions.n, sizeof *parts, cmp_part);

        if (describe_configs && (!o->with_overrides || has_override)) {
            printf("Topic: %s", names[i]);
            static const bk_uuid zero;
            if (memcmp(&t->TopicId, &zero, sizeof zero) != 0) {
                char id[23];
                bk_uuid_encode(t->TopicId.b, id);
                printf("\tTopicId: %s", id);
            }
            const rmove *m0 = find_move(moves, nmoves, names[i], parts[0].PartitionIndex);
            printf("\tPartitionCount: %d\tReplicationFactor: %d\tConfigs: ", t->Partitions.n,
                   BK_MAX(parts[0].ReplicaNodes.n, 0) - (m0 ? m0->nadd : 0));
            bool first = true;
            for (size_t k = 0; k < ne; k++) {
                if (rd_kafka_ConfigEntry_source(ents[k]) == RD_KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG)
                    continue;
                const char *v = rd_kafka_ConfigEntry_value(ents[k]);
                printf("%s%s=%s", first ? "" : ",", rd_kafka_ConfigEntry_name(ents[k]),
                       v ? v : "null");
                first = false;
            }
            printf("\n");
        }
        if (o->with_overrides)
            continue;
        for (int32_t p = 0; p < t->Partitions.n; p++) {
            const bk_MetadataResponse_MetadataResponsePartition *pp = &parts[p];
            int32_t nisr = BK_MAX(pp->IsrNodes.n, 0), nrep = BK_MAX(pp->ReplicaNodes.n, 0);
            bool has_leader = pp->LeaderId >= 0;
            bool live = false;
            for (int32_t b = 0; b < md.Brokers.n; b++)
                live |= md.Brokers.a[b].NodeId == pp->LeaderId;
            const rmove *mv = find_move(moves, nmoves, names[i], pp->PartitionIndex);
            int32_t rf = nrep - (mv ? mv->nadd : 0);
            bool show = describe_configs || (o->under_replicated && rf - nisr > 0) ||
                        (o->unavailable && (!has_leader || !live)) ||
                        (o->under_min_isr && (!has_leader || nisr < min_isr)) ||
                        (o->at_min_isr && nisr == min_isr);
            if (!show)
                continue;
            printf("\tTopic: %s\tPartition: %d\tLeader: ", names[i], pp->PartitionIndex);
            if (has_leader)
                printf("%d", pp->LeaderId);
            else
                printf("none");
            print_ids("Replicas", pp->ReplicaNodes.a, nrep);
            print_ids("Isr", pp->IsrNodes.a, nisr);
            if (mv) {
                print_ids("Adding Replicas", mv->add, mv->nadd);
                print_ids("Removing Replicas", mv->rem, mv->nrem);
            }
            printf("\n");
        }
    }
    free(moves);
    bk_wire_close(&w);
    rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_queue_destroy(q);
    rd_kafka_ConfigResource_destroy_array(cr, (size_t)n);
    free(cr);
    bk_tool_free_list(names, n);
    return 0;
}

/* ------------------------------------------------------------------ main */

int bk_cmd_topics(int argc, char **argv)
{
    enum {
        O_BOOT = 256,
        O_CMDCFG,
        O_CREATE,
        O_DELETE,
        O_LIST,
        O_DESCRIBE,
        O_ALTER,
        O_TOPIC,
        O_PARTS,
        O_RF,
        O_ASSIGN,
        O_CONFIG,
        O_IFEX,
        O_IFNEX,
        O_URP,
        O_UMIN,
        O_AMIN,
        O_UNAV,
        O_OVR,
        O_EXCL,
        O_VERSION,
        O_HELP
    };
    static const struct option longopts[] = {
        {"bootstrap-server", required_argument, 0, O_BOOT},
        {"command-config", required_argument, 0, O_CMDCFG},
        {"create", no_argument, 0, O_CREATE},
        {"delete", no_argument, 0, O_DELETE},
        {"list", no_argument, 0, O_LIST},
        {"describe", no_argument, 0, O_DESCRIBE},
        {"alter", no_argument, 0, O_ALTER},
        {"topic", required_argument, 0, O_TOPIC},
        {"partitions", required_argument, 0, O_PARTS},
        {"replication-factor", required_argument, 0, O_RF},
        {"replica-assignment", required_argument, 0, O_ASSIGN},
        {"config", required_argument, 0, O_CONFIG},
        {"if-exists", no_argument, 0, O_IFEX},
        {"if-not-exists", no_argument, 0, O_IFNEX},
        {"under-replicated-partitions", no_argument, 0, O_URP},
        {"under-min-isr-partitions", no_argument, 0, O_UMIN},
        {"at-min-isr-partitions", no_argument, 0, O_AMIN},
        {"unavailable-partitions", no_argument, 0, O_UNAV},
        {"topics-with-overrides", no_argument, 0, O_OVR},
        {"exclude-internal", no_argument, 0, O_EXCL},
        {"version", no_argument, 0, O_VERSION},
        {"help", no_argument, 0, O_HELP},
        {0, 0, 0, 0},
    };
    opts o = {.partitions = -1, .rf = -1};
    o.configs = calloc((size_t)argc + 1, sizeof *o.configs);
    if (!o.configs)
        bk_tool_die("out of memory");
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
        case O_CREATE:
            o.actions |= ACT_CREATE;
            o.nactions++;
            break;
        case O_DELETE:
            o.actions |= ACT_DELETE;
            o.nactions++;
            break;
        case O_LIST:
            o.actions |= ACT_LIST;
            o.nactions++;
            break;
        case O_DESCRIBE:
            o.actions |= ACT_DESCRIBE;
            o.nactions++;
            break;
        case O_ALTER:
            o.actions |= ACT_ALTER;
            o.nactions++;
            break;
        case O_TOPIC:
            o.topic = optarg;
            break;
        case O_PARTS:
            o.partitions = bk_tool_parse_i64("--partitions", optarg);
            if (o.partitions < 0)
                bk_tool_die("The partitions must be greater than 0");
            break;
        case O_RF:
            o.rf = bk_tool_parse_i64("--replication-factor", optarg);
            if (o.rf < 0)
                bk_tool_die("The replication factor must be between 1 and 32767 inclusive");
            break;
        case O_ASSIGN:
            o.assignment = *optarg ? optarg : NULL;
            break;
        case O_CONFIG:
            o.configs[o.nconfigs++] = optarg;
            break;
        case O_IFEX:
            o.if_exists = true;
            break;
        case O_IFNEX:
            o.if_not_exists = true;
            break;
        case O_URP:
            o.under_replicated = true;
            break;
        case O_UMIN:
            o.under_min_isr = true;
            break;
        case O_AMIN:
            o.at_min_isr = true;
            break;
        case O_UNAV:
            o.unavailable = true;
            break;
        case O_OVR:
            o.with_overrides = true;
            break;
        case O_EXCL:
            o.exclude_internal = true;
            break;
        case O_VERSION:
            bk_tool_print_version();
            free(o.configs);
            return 0;
        case 'h':
        case O_HELP:
            help(stdout);
            free(o.configs);
            return 0;
        default:
            bk_tool_usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        bk_tool_usage_error("unexpected argument '%s'", argv[optind]);
    check_args(&o);

    rd_kafka_conf_t *conf = bk_tool_conf(o.bootstrap);
    if (o.command_config)
        bk_tool_conf_file(conf, o.command_config);
    rd_kafka_t *rk = bk_tool_client(RD_KAFKA_PRODUCER, conf);
    bk_tool_wait_connected(rk, o.bootstrap, BK_TOOL_CONNECT_TIMEOUT_MS);
    int rc;
    switch (o.actions) {
    case ACT_CREATE:
        rc = do_create(rk, &o);
        break;
    case ACT_DELETE:
        rc = do_delete(rk, &o);
        break;
    case ACT_LIST:
        rc = do_list(rk, &o);
        break;
    case ACT_ALTER:
        rc = do_alter(rk, &o);
        break;
    default:
        rc = do_describe(rk, &o);
        break;
    }
    fflush(stdout);
    rd_kafka_destroy(rk);
    free(o.configs);
    return rc;
}
