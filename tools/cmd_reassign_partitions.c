/*
 * brook reassign-partitions - kafka-reassign-partitions.sh.
 *
 *   brook reassign-partitions --bootstrap-server B --generate
 *         --topics-to-move-json-file F --broker-list 1,2,3
 *   brook reassign-partitions --bootstrap-server B --execute
 *         --reassignment-json-file F [--throttle BYTES_PER_S] [--additional]
 *   brook reassign-partitions --bootstrap-server B --verify --reassignment-json-file F
 *   brook reassign-partitions --bootstrap-server B --cancel --reassignment-json-file F
 *   brook reassign-partitions --bootstrap-server B --list
 *
 * The moves go to the controller (found through Metadata's controller id)
 * as AlterPartitionReassignments / ListPartitionReassignments (KIP-455),
 * over wire.c. Output lines are Kafka's:
 *   --generate  "Current partition replica assignment" + JSON, a blank line,
 *               "Proposed partition reassignment configuration" + JSON
 *   --execute   the current assignment (to roll back with), then
 *               "Successfully started partition reassignments for t-0,t-1"
 *   --verify    "Status of partition reassignment:" and per partition
 *               "Reassignment of partition t-0 is completed." /
 *               "Reassignment of partition t-0 is still in progress." /
 *               "There is no active reassignment of partition t-0, but
 *               replica set is 1,2 rather than 2,3."; once all are
 *               complete the throttles --execute set are removed.
 *   --cancel    "Successfully cancelled partition reassignments for: t-0"
 *   --list      "Current partition reassignments:" and per partition
 *               "t-0: replicas: 2,1. adding: 2. removing: 1."
 *
 * --execute refuses while other moves are in progress unless --additional
 * (as Kafka); a target broker that is not live only gets a warning (Kafka's
 * tool refuses it; the controller accepts it and the move waits).
 *
 * --throttle (KIP-73, as Kafka's tool): the brokers of every moved
 * partition get leader.replication.throttled.rate and
 * follower.replication.throttled.rate = the throttle (broker dynamic
 * configs, IncrementalAlterConfigs to each broker), and every moved topic
 * gets leader.replication.throttled.replicas (the partition's current
 * replicas, "p:broker,...") and follower.replication.throttled.replicas
 * (the replicas being added). --verify removes them when all moves are
 * complete.
 */
#include "../src/cluster/reassign_json.h"
#include "../src/core/err.h"
#include "../src/proto/bkgen_msgs.h"
#include "brook.h"
#include "tool.h"
#include "wire.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TIMEOUT_MS 30000

enum { A_NONE, A_GENERATE, A_EXECUTE, A_VERIFY, A_CANCEL, A_LIST };

static void help(FILE *f)
{
    fprintf(f,
            "usage: brook reassign-partitions --bootstrap-server HOST:PORT ACTION [options]\n"
            "Move partition replicas between brokers (kafka-reassign-partitions.sh).\n"
            "Actions:\n"
            "  --generate                    propose an assignment of --topics-to-move-json-file\n"
            "                                over --broker-list\n"
            "  --execute                     start the moves of --reassignment-json-file\n"
            "  --verify                      report the moves of --reassignment-json-file; removes\n"
            "                                the throttles once all are complete\n"
            "  --cancel                      cancel the moves of --reassignment-json-file\n"
            "  --list                        list the moves in progress\n"
            "Options:\n"
            "  --bootstrap-server HOST:PORT  REQUIRED: the broker(s) to connect to\n"
            "  --reassignment-json-file F    {\"version\":1,\"partitions\":[{\"topic\":\"t\",\n"
            "                                \"partition\":0,\"replicas\":[1,2]}]}\n"
            "  --topics-to-move-json-file F  {\"version\":1,\"topics\":[{\"topic\":\"t\"}]}\n"
            "  --broker-list 1,2,3           the brokers --generate assigns to\n"
            "  --throttle BYTES_PER_S        with --execute: limit the replication of the moves\n"
            "  --additional                  with --execute: while other moves are in progress\n"
            "  --preserve-throttles          with --verify: leave the throttles in place\n"
            "  --timeout MS                  how long --execute/--cancel wait (default 10000)\n"
            "  --command-config FILE         client properties (accepted; PLAINTEXT only)\n"
            "  --version                     print the version and exit\n"
            "  --help                        this text\n");
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        bk_tool_die("cannot read %s", path);
    size_t cap = 4096, n = 0;
    char *s = malloc(cap);
    size_t r;
    while (s && (r = fread(s + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            char *ns = realloc(s, cap * 2);
            if (!ns) {
                free(s);
                s = NULL;
                break;
            }
            s = ns;
            cap *= 2;
        }
    }
    fclose(f);
    if (!s)
        bk_tool_die("out of memory");
    *len = n;
    return s;
}

static void print_ids(const int32_t *v, int n)
{
    for (int i = 0; i < n; i++)
        printf("%s%d", i ? "," : "", v[i]);
}

/* ---------------------------------------------------------------- cluster */

/* What Metadata says: brokers, controller, and every topic's replicas. */
typedef struct cluster_view {
    int32_t controller;
    int32_t *brokers;
    char **hosts;
    int *ports;
    int nbrokers;
    bk_reassign_plan cur; /* every partition's replicas */
} cluster_view;

static void view_fini(cluster_view *v)
{
    for (int i = 0; i < v->nbrokers; i++)
        free(v->hosts[i]);
    free(v->hosts);
    free(v->ports);
    free(v->brokers);
    bk_reassign_plan_free(&v->cur);
}

static void view_load(const char *bootstrap, cluster_view *v)
{
    memset(v, 0, sizeof *v);
    bk_wire w;
    if (bk_wire_connect_list(&w, bootstrap, BK_TOOL_CONNECT_TIMEOUT_MS) == -1)
        bk_tool_die("%s", w.err);
    bk_MetadataResponse md;
    if (bk_wire_metadata(&w, true, &md) == -1)
        bk_tool_die("%s", w.err);
    v->controller = md.ControllerId;
    int nb = BK_MAX(md.Brokers.n, 0);
    v->brokers = calloc((size_t)nb + 1, sizeof *v->brokers);
    v->hosts = calloc((size_t)nb + 1, sizeof *v->hosts);
    v->ports = calloc((size_t)nb + 1, sizeof *v->ports);
    if (!v->brokers || !v->hosts || !v->ports)
        bk_tool_die("out of memory");
    for (int i = 0; i < nb; i++) {
        const bk_MetadataResponse_MetadataResponseBroker *b = &md.Brokers.a[i];
        v->brokers[i] = b->NodeId;
        v->hosts[i] = strndup(b->Host.p ? b->Host.p : "", (size_t)BK_MAX(b->Host.len, 0));
        v->ports[i] = b->Port;
        v->nbrokers++;
    }
    for (int i = 0; i < md.Topics.n; i++) {
        const bk_MetadataResponse_MetadataResponseTopic *t = &md.Topics.a[i];
        char name[256];
        if (t->ErrorCode || t->Name.len <= 0 || (size_t)t->Name.len >= sizeof name)
            continue;
        memcpy(name, t->Name.p, (size_t)t->Name.len);
        name[t->Name.len] = 0;
        for (int k = 0; k < t->Partitions.n; k++) {
            const bk_MetadataResponse_MetadataResponsePartition *p = &t->Partitions.a[k];
            int n = BK_MIN(BK_MAX(p->ReplicaNodes.n, 0), BK_REASSIGN_MAX_RF);
            if (bk_reassign_plan_add(&v->cur, name, p->PartitionIndex, p->ReplicaNodes.a, n))
                bk_tool_die("out of memory");
        }
    }
    bk_reassign_plan_sort(&v->cur);
    bk_wire_close(&w);
}

static const bk_reassign_part *view_part(const cluster_view *v, const char *topic, int32_t p)
{
    for (int i = 0; i < v->cur.n; i++)
        if (v->cur.v[i].partition == p && strcmp(v->cur.v[i].topic, topic) == 0)
            return &v->cur.v[i];
    return NULL;
}

static void connect_broker(const cluster_view *v, int32_t id, bk_wire *w)
{
    for (int i = 0; i < v->nbrokers; i++)
        if (v->brokers[i] == id) {
            if (bk_wire_connect(w, v->hosts[i], v->ports[i], BK_TOOL_CONNECT_TIMEOUT_MS) == -1)
                bk_tool_die("%s", w->err);
            return;
        }
    bk_tool_die("broker %d is not live", id);
}

static void connect_controller(const cluster_view *v, bk_wire *w)
{
    if (v->controller < 0)
        bk_tool_die("the cluster has no controller");
    connect_broker(v, v->controller, w);
    if (bk_wire_version(w, 45, 0, 0) < 0 || bk_wire_version(w, 46, 0, 0) < 0)
        bk_tool_die("the controller does not support partition reassignment (a single-node "
                    "broker?)");
}

/* ---------------------------------------------------------------- list */

typedef struct moving {
    char topic[256];
    int32_t partition;
    int32_t reps[BK_REASSIGN_MAX_RF], add[BK_REASSIGN_MAX_RF], rem[BK_REASSIGN_MAX_RF];
    int nreps, nadd, nrem;
} moving;

/* ListPartitionReassignments (all) from the controller. */
static int list_moves(bk_wire *w, moving **out)
{
    bk_ListPartitionReassignmentsRequest rq;
    bk_ListPartitionReassignmentsRequest_init(&rq);
    rq.TimeoutMs = TIMEOUT_MS;
    rq.Topics.n = -1;
    bk_ListPartitionReassignmentsResponse rs;
    if (bk_wire_call(w, 46, 0, &rq, &rs) == -1)
        bk_tool_die("%s", w->err);
    if (rs.ErrorCode)
        bk_tool_die("cannot list the reassignments: %s%s%.*s", bk_kerr_name(rs.ErrorCode),
                    rs.ErrorMessage.len > 0 ? ": " : "", BK_MAX(rs.ErrorMessage.len, 0),
                    rs.ErrorMessage.p ? rs.ErrorMessage.p : "");
    int n = 0;
    for (int i = 0; i < rs.Topics.n; i++)
        n += BK_MAX(rs.Topics.a[i].Partitions.n, 0);
    moving *v = calloc((size_t)n + 1, sizeof *v);
    if (!v)
        bk_tool_die("out of memory");
    int k = 0;
    for (int i = 0; i < rs.Topics.n; i++) {
        const bk_ListPartitionReassignmentsResponse_OngoingTopicReassignment *t = &rs.Topics.a[i];
        for (int j = 0; j < t->Partitions.n; j++) {
            const bk_ListPartitionReassignmentsResponse_OngoingPartitionReassignment *p =
                &t->Partitions.a[j];
            moving *m = &v[k++];
            snprintf(m->topic, sizeof m->topic, "%.*s", BK_MAX(t->Name.len, 0),
                     t->Name.p ? t->Name.p : "");
            m->partition = p->PartitionIndex;
            m->nreps = BK_MIN(BK_MAX(p->Replicas.n, 0), BK_REASSIGN_MAX_RF);
            m->nadd = BK_MIN(BK_MAX(p->AddingReplicas.n, 0), BK_REASSIGN_MAX_RF);
            m->nrem = BK_MIN(BK_MAX(p->RemovingReplicas.n, 0), BK_REASSIGN_MAX_RF);
            if (m->nreps)
                memcpy(m->reps, p->Replicas.a, (size_t)m->nreps * sizeof(int32_t));
            if (m->nadd)
                memcpy(m->add, p->AddingReplicas.a, (size_t)m->nadd * sizeof(int32_t));
            if (m->nrem)
                memcpy(m->rem, p->RemovingReplicas.a, (size_t)m->nrem * sizeof(int32_t));
        }
    }
    *out = v;
    return k;
}

static int cmp_moving(const void *a, const void *b)
{
    const moving *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

static int do_list(const cluster_view *v)
{
    bk_wire w;
    connect_controller(v, &w);
    moving *m;
    int n = list_moves(&w, &m);
    bk_wire_close(&w);
    qsort(m, (size_t)n, sizeof *m, cmp_moving);
    if (n == 0)
        printf("No partition reassignments found.\n");
    else
        printf("Current partition reassignments:\n");
    for (int i = 0; i < n; i++) {
        printf("%s-%d: replicas: ", m[i].topic, m[i].partition);
        print_ids(m[i].reps, m[i].nreps);
        printf(". adding: ");
        print_ids(m[i].add, m[i].nadd);
        printf(". removing: ");
        print_ids(m[i].rem, m[i].nrem);
        printf(".\n");
    }
    free(m);
    return 0;
}

/* ---------------------------------------------------------------- alter */

/* AlterPartitionReassignments of plan (cancel: null replica lists).
 * Prints the failed partitions; returns how many failed. */
static int alter(const cluster_view *v, const bk_reassign_plan *plan, bool cancel, int timeout_ms,
                 const char *what)
{
    bk_wire w;
    connect_controller(v, &w);
    w.timeout_ms = timeout_ms > w.timeout_ms ? timeout_ms : w.timeout_ms;
    bk_AlterPartitionReassignmentsRequest rq;
    bk_AlterPartitionReassignmentsRequest_init(&rq);
    rq.TimeoutMs = timeout_ms;
    /* one topic entry per partition: simple, and the controller accepts it */
    bk_AlterPartitionReassignmentsRequest_ReassignableTopic *tv =
        calloc((size_t)plan->n + 1, sizeof *tv);
    bk_AlterPartitionReassignmentsRequest_ReassignablePartition *pv =
        calloc((size_t)plan->n + 1, sizeof *pv);
    if (!tv || !pv)
        bk_tool_die("out of memory");
    for (int i = 0; i < plan->n; i++) {
        const bk_reassign_part *e = &plan->v[i];
        pv[i].PartitionIndex = e->partition;
        pv[i].Replicas.n = cancel ? -1 : e->nreplicas;
        pv[i].Replicas.a = cancel ? NULL : (int32_t *)e->replicas;
        tv[i].Name = bk_str_c(e->topic);
        tv[i].Partitions.n = 1;
        tv[i].Partitions.a = &pv[i];
    }
    rq.Topics.n = plan->n;
    rq.Topics.a = tv;
    bk_AlterPartitionReassignmentsResponse rs;
    if (bk_wire_call(&w, 45, 0, &rq, &rs) == -1)
        bk_tool_die("%s", w.err);
    if (rs.ErrorCode)
        bk_tool_die("%s: %s%s%.*s", what, bk_kerr_name(rs.ErrorCode),
                    rs.ErrorMessage.len > 0 ? ": " : "", BK_MAX(rs.ErrorMessage.len, 0),
                    rs.ErrorMessage.p ? rs.ErrorMessage.p : "");
    int failed = 0;
    for (int i = 0; i < rs.Responses.n; i++) {
        const bk_AlterPartitionReassignmentsResponse_ReassignableTopicResponse *t =
            &rs.Responses.a[i];
        for (int k = 0; k < t->Partitions.n; k++) {
            const bk_AlterPartitionReassignmentsResponse_ReassignablePartitionResponse *p =
                &t->Partitions.a[k];
            if (p->ErrorCode == 0 || (cancel && p->ErrorCode == BK_KERR_NO_REASSIGNMENT_IN_PROGRESS))
                continue;
            if (failed++ == 0)
                fprintf(stderr, "Error %s partition(s):\n", what);
            fprintf(stderr, "%.*s-%d: %s%s%.*s\n", BK_MAX(t->Name.len, 0),
                    t->Name.p ? t->Name.p : "", p->PartitionIndex, bk_kerr_name(p->ErrorCode),
                    p->ErrorMessage.len > 0 ? ": " : "", BK_MAX(p->ErrorMessage.len, 0),
                    p->ErrorMessage.p ? p->ErrorMessage.p : "");
        }
    }
    bk_wire_close(&w);
    free(tv);
    free(pv);
    return failed;
}

static void print_partitions(const bk_reassign_plan *p)
{
    for (int i = 0; i < p->n; i++)
        printf("%s%s-%d", i ? "," : "", p->v[i].topic, p->v[i].partition);
    printf("\n");
}

static void print_plan(const bk_reassign_plan *p)
{
    bk_jw w;
    bk_jw_init(&w);
    bk_reassign_write(&w, p);
    if (w.err)
        bk_tool_die("out of memory");
    printf("%s\n", w.p);
    bk_jw_fini(&w);
}

/* The current assignment of the plan's partitions (die if one is unknown). */
static void current_of(const cluster_view *v, const bk_reassign_plan *plan, bk_reassign_plan *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < plan->n; i++) {
        const bk_reassign_part *c = view_part(v, plan->v[i].topic, plan->v[i].partition);
        if (!c)
            bk_tool_die("Topic %s or partition %d not found", plan->v[i].topic,
                        plan->v[i].partition);
        if (bk_reassign_plan_add(out, c->topic, c->partition, c->replicas, c->nreplicas))
            bk_tool_die("out of memory");
    }
    bk_reassign_plan_sort(out);
}

/* ---------------------------------------------------------------- throttles */

/* IncrementalAlterConfigs (key 44 v0) of one resource: set (op 0) or
 * delete (op 1) each key. type 2 = topic, 4 = broker. */
static void alter_configs(bk_wire *w, int8_t type, const char *name, char *const *keys,
                          char *const *vals, int n, bool del)
{
    bk_IncrementalAlterConfigsRequest rq;
    bk_IncrementalAlterConfigsRequest_init(&rq);
    bk_IncrementalAlterConfigsRequest_AlterConfigsResource res;
    memset(&res, 0, sizeof res);
    bk_IncrementalAlterConfigsRequest_AlterableConfig cfg[4];
    memset(cfg, 0, sizeof cfg);
    for (int i = 0; i < n && i < 4; i++) {
        cfg[i].Name = bk_str_c(keys[i]);
        cfg[i].ConfigOperation = del ? 1 : 0;
        cfg[i].Value = del ? (bk_str){NULL, -1} : bk_str_c(vals[i]);
    }
    res.ResourceType = type;
    res.ResourceName = bk_str_c(name);
    res.Configs.n = n;
    res.Configs.a = cfg;
    rq.Resources.n = 1;
    rq.Resources.a = &res;
    int16_t ver = bk_wire_version(w, 44, 1, 0);
    if (ver < 0)
        bk_tool_die("the broker does not support IncrementalAlterConfigs");
    bk_IncrementalAlterConfigsResponse rs;
    if (bk_wire_call(w, 44, ver, &rq, &rs) == -1)
        bk_tool_die("%s", w->err);
    for (int i = 0; i < rs.Responses.n; i++)
        if (rs.Responses.a[i].ErrorCode)
            bk_tool_die("cannot %s the throttle configs of %s %s: %s%s%.*s",
                        del ? "remove" : "set", type == 4 ? "broker" : "topic", name,
                        bk_kerr_name(rs.Responses.a[i].ErrorCode),
                        rs.Responses.a[i].ErrorMessage.len > 0 ? ": " : "",
                        BK_MAX(rs.Responses.a[i].ErrorMessage.len, 0),
                        rs.Responses.a[i].ErrorMessage.p ? rs.Responses.a[i].ErrorMessage.p : "");
}

static char *k_lrate = "leader.replication.throttled.rate";
static char *k_frate = "follower.replication.throttled.rate";
static char *k_lrep = "leader.replication.throttled.replicas";
static char *k_frep = "follower.replication.throttled.replicas";

static bool ids_has(const int32_t *v, int n, int32_t id)
{
    for (int i = 0; i < n; i++)
        if (v[i] == id)
            return true;
    return false;
}

/* Every broker of the plan's partitions, current and target. */
static int involved_brokers(const bk_reassign_plan *plan, const bk_reassign_plan *cur,
                            int32_t *out, int cap)
{
    int n = 0;
    for (int i = 0; i < plan->n; i++)
        for (int k = 0; k < plan->v[i].nreplicas && n < cap; k++)
            if (!ids_has(out, n, plan->v[i].replicas[k]))
                out[n++] = plan->v[i].replicas[k];
    for (int i = 0; cur && i < cur->n; i++)
        for (int k = 0; k < cur->v[i].nreplicas && n < cap; k++)
            if (!ids_has(out, n, cur->v[i].replicas[k]))
                out[n++] = cur->v[i].replicas[k];
    return n;
}

static void set_throttles(const cluster_view *v, const bk_reassign_plan *plan,
                          const bk_reassign_plan *cur, long long rate)
{
    char rs[32];
    snprintf(rs, sizeof rs, "%lld", rate);
    int32_t ids[256];
    int nb = involved_brokers(plan, cur, ids, 256);
    for (int i = 0; i < nb; i++) {
        bk_wire w;
        connect_broker(v, ids[i], &w);
        char name[16];
        snprintf(name, sizeof name, "%d", ids[i]);
        char *keys[2] = {k_lrate, k_frate}, *vals[2] = {rs, rs};
        alter_configs(&w, 4, name, keys, vals, 2, false);
        bk_wire_close(&w);
    }
    /* topic lists: leader = current replicas, follower = added ones */
    bk_wire w;
    connect_broker(v, v->controller, &w);
    for (int i = 0; i < plan->n; i++) {
        const char *t = plan->v[i].topic;
        bool done = false;
        for (int k = 0; k < i && !done; k++)
            done = strcmp(plan->v[k].topic, t) == 0;
        if (done)
            continue;
        bk_jw lw, fw;
        bk_jw_init(&lw);
        bk_jw_init(&fw);
        for (int k = 0; k < plan->n; k++) {
            if (strcmp(plan->v[k].topic, t) != 0)
                continue;
            const bk_reassign_part *c = view_part(v, t, plan->v[k].partition);
            for (int r = 0; c && r < c->nreplicas; r++)
                bk_jw_fmt(&lw, "%s%d:%d", lw.len ? "," : "", c->partition, c->replicas[r]);
            for (int r = 0; r < plan->v[k].nreplicas; r++)
                if (!c || !ids_has(c->replicas, c->nreplicas, plan->v[k].replicas[r]))
                    bk_jw_fmt(&fw, "%s%d:%d", fw.len ? "," : "", plan->v[k].partition,
                              plan->v[k].replicas[r]);
        }
        if (lw.err || fw.err)
            bk_tool_die("out of memory");
        char *keys[2] = {k_lrep, k_frep}, *vals[2] = {lw.p ? lw.p : "", fw.p ? fw.p : ""};
        alter_configs(&w, 2, t, keys, vals, 2, false);
        bk_jw_fini(&lw);
        bk_jw_fini(&fw);
    }
    bk_wire_close(&w);
    printf("Warning: You must run --verify periodically, until the reassignment completes, to "
           "ensure the throttle is removed.\n");
    printf("The inter-broker throttle limit was set to %lld B/s\n", rate);
}

static void clear_throttles(const cluster_view *v, const bk_reassign_plan *plan)
{
    /* every live broker, as Kafka's tool does (the old replicas' brokers
     * are no longer in the assignment) */
    int32_t ids[256];
    int nb = 0;
    for (int i = 0; i < v->nbrokers && nb < 256; i++)
        ids[nb++] = v->brokers[i];
    for (int i = 1; i < nb; i++)
        for (int k = i; k > 0 && ids[k - 1] > ids[k]; k--) {
            int32_t t = ids[k];
            ids[k] = ids[k - 1];
            ids[k - 1] = t;
        }
    printf("Clearing broker-level throttles on broker%s ", nb == 1 ? "" : "s");
    print_ids(ids, nb);
    printf("\n");
    for (int i = 0; i < nb; i++) {
        bk_wire w;
        connect_broker(v, ids[i], &w);
        char name[16];
        snprintf(name, sizeof name, "%d", ids[i]);
        char *keys[2] = {k_lrate, k_frate};
        alter_configs(&w, 4, name, keys, NULL, 2, true);
        bk_wire_close(&w);
    }
    bk_wire w;
    connect_broker(v, v->controller, &w);
    for (int i = 0; i < plan->n; i++) {
        const char *t = plan->v[i].topic;
        bool done = false;
        for (int k = 0; k < i && !done; k++)
            done = strcmp(plan->v[k].topic, t) == 0;
        if (done)
            continue;
        printf("Clearing topic-level throttles on topic %s\n", t);
        char *keys[2] = {k_lrep, k_frep};
        alter_configs(&w, 2, t, keys, NULL, 2, true);
    }
    bk_wire_close(&w);
}

/* ---------------------------------------------------------------- main */

int bk_cmd_reassign_partitions(int argc, char **argv)
{
    enum {
        O_BOOT = 256,
        O_GENERATE,
        O_EXECUTE,
        O_VERIFY,
        O_CANCEL,
        O_LIST,
        O_RFILE,
        O_TFILE,
        O_BROKERS,
        O_THROTTLE,
        O_TIMEOUT,
        O_CMDCFG,
        O_PRESERVE,
        O_ADDITIONAL,
        O_VERSION,
        O_HELP
    };
    static const struct option lo[] = {
        {"bootstrap-server", required_argument, 0, O_BOOT},
        {"generate", no_argument, 0, O_GENERATE},
        {"execute", no_argument, 0, O_EXECUTE},
        {"verify", no_argument, 0, O_VERIFY},
        {"cancel", no_argument, 0, O_CANCEL},
        {"list", no_argument, 0, O_LIST},
        {"reassignment-json-file", required_argument, 0, O_RFILE},
        {"topics-to-move-json-file", required_argument, 0, O_TFILE},
        {"broker-list", required_argument, 0, O_BROKERS},
        {"throttle", required_argument, 0, O_THROTTLE},
        {"timeout", required_argument, 0, O_TIMEOUT},
        {"command-config", required_argument, 0, O_CMDCFG},
        {"preserve-throttles", no_argument, 0, O_PRESERVE},
        {"additional", no_argument, 0, O_ADDITIONAL},
        {"version", no_argument, 0, O_VERSION},
        {"help", no_argument, 0, O_HELP},
        {0, 0, 0, 0},
    };
    const char *boot = NULL, *rfile = NULL, *tfile = NULL, *blist = NULL;
    long long throttle = -1;
    int timeout = 10000, action = A_NONE, nactions = 0;
    bool preserve = false, additional = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case O_BOOT:
            boot = optarg;
            break;
        case O_GENERATE:
        case O_EXECUTE:
        case O_VERIFY:
        case O_CANCEL:
        case O_LIST:
            action = c - O_GENERATE + A_GENERATE;
            nactions++;
            break;
        case O_RFILE:
            rfile = optarg;
            break;
        case O_TFILE:
            tfile = optarg;
            break;
        case O_BROKERS:
            blist = optarg;
            break;
        case O_THROTTLE:
            throttle = bk_tool_parse_i64("--throttle", optarg);
            if (throttle < 1)
                bk_tool_usage_error("--throttle must be a positive number of bytes per second");
            break;
        case O_TIMEOUT:
            timeout = (int)bk_tool_parse_i64("--timeout", optarg);
            break;
        case O_CMDCFG:
            break;
        case O_PRESERVE:
            preserve = true;
            break;
        case O_ADDITIONAL:
            additional = true;
            break;
        case O_VERSION:
            bk_tool_print_version();
            return 0;
        case O_HELP:
            help(stdout);
            return 0;
        default:
            bk_tool_usage_error("unknown option");
        }
    }
    if (optind < argc)
        bk_tool_usage_error("unexpected argument: %s", argv[optind]);
    if (nactions != 1)
        bk_tool_usage_error("Command must include exactly one action: --generate, --execute, "
                            "--verify, --cancel, or --list");
    if (!boot)
        bk_tool_usage_error("Please specify --bootstrap-server");
    if ((action == A_EXECUTE || action == A_VERIFY || action == A_CANCEL) && !rfile)
        bk_tool_usage_error("Missing required argument \"[reassignment-json-file]\"");
    if (action == A_GENERATE && (!tfile || !blist))
        bk_tool_usage_error("--generate needs --topics-to-move-json-file and --broker-list");
    if (throttle >= 0 && action != A_EXECUTE)
        bk_tool_usage_error("--throttle is only valid with --execute");

    char err[512];
    cluster_view v;
    view_load(boot, &v);
    int rc = 0;
    if (action == A_LIST) {
        rc = do_list(&v);
    } else if (action == A_GENERATE) {
        size_t len;
        char *s = read_file(tfile, &len);
        char **topics;
        int nt;
        if (bk_reassign_topics_parse(s, len, &topics, &nt, err, sizeof err) != 0)
            bk_tool_die("%s", err);
        free(s);
        char **bl;
        int nb = bk_tool_split_list(blist, &bl);
        int32_t *ids = calloc((size_t)nb + 1, sizeof *ids);
        if (!ids)
            bk_tool_die("out of memory");
        for (int i = 0; i < nb; i++) {
            ids[i] = (int32_t)bk_tool_parse_i64("--broker-list", bl[i]);
            for (int k = 0; k < i; k++)
                if (ids[k] == ids[i])
                    bk_tool_die("Duplicate broker ID in --broker-list: %d", ids[i]);
        }
        bk_tool_free_list(bl, nb);
        bk_reassign_plan cur = {0}, prop;
        for (int i = 0; i < nt; i++) {
            bool found = false;
            for (int k = 0; k < v.cur.n; k++)
                if (strcmp(v.cur.v[k].topic, topics[i]) == 0) {
                    found = true;
                    if (bk_reassign_plan_add(&cur, topics[i], v.cur.v[k].partition,
                                             v.cur.v[k].replicas, v.cur.v[k].nreplicas))
                        bk_tool_die("out of memory");
                }
            if (!found)
                bk_tool_die("Topic %s not found", topics[i]);
        }
        for (int i = 0; i < nt; i++)
            free(topics[i]);
        free(topics);
        bk_reassign_plan_sort(&cur);
        if (bk_reassign_propose(&cur, ids, nb, -1, &prop, err, sizeof err) != 0)
            bk_tool_die("%s", err);
        printf("Current partition replica assignment\n");
        print_plan(&cur);
        printf("\nProposed partition reassignment configuration\n");
        print_plan(&prop);
        bk_reassign_plan_free(&cur);
        bk_reassign_plan_free(&prop);
        free(ids);
    } else {
        size_t len;
        char *s = read_file(rfile, &len);
        bk_reassign_plan plan;
        if (bk_reassign_parse(s, len, &plan, err, sizeof err) != 0)
            bk_tool_die("%s", err);
        free(s);
        bk_reassign_plan_sort(&plan);
        if (action == A_EXECUTE) {
            bk_reassign_plan cur;
            current_of(&v, &plan, &cur);
            if (!additional) {
                bk_wire w;
                connect_controller(&v, &w);
                moving *m;
                int nm = list_moves(&w, &m);
                bk_wire_close(&w);
                free(m);
                if (nm > 0)
                    bk_tool_die("Cannot execute because there is an existing partition "
                                "assignment.  Use --additional to override this and create a new "
                                "partition assignment in addition to the existing one.");
            }
            /* Kafka's tool refuses brokers it does not see; Brook warns (a
             * move to a broker that is down waits for it) */
            for (int i = 0; i < plan.n; i++)
                for (int k = 0; k < plan.v[i].nreplicas; k++) {
                    bool live = false;
                    for (int q = 0; q < v.nbrokers; q++)
                        live |= v.brokers[q] == plan.v[i].replicas[k];
                    if (!live)
                        fprintf(stderr, "Warning: broker %d of %s-%d is not live: the move "
                                "completes once it is back.\n", plan.v[i].replicas[k],
                                plan.v[i].topic, plan.v[i].partition);
                }
            printf("Current partition replica assignment\n\n");
            print_plan(&cur);
            printf("\nSave this to use as the --reassignment-json-file option during rollback\n");
            if (throttle > 0)
                set_throttles(&v, &plan, &cur, throttle);
            if (alter(&v, &plan, false, timeout, "reassigning") != 0)
                rc = 1;
            else {
                printf("Successfully started partition reassignment%s for ",
                       plan.n == 1 ? "" : "s");
                print_partitions(&plan);
            }
            bk_reassign_plan_free(&cur);
        } else if (action == A_CANCEL) {
            if (alter(&v, &plan, true, timeout, "cancelling") != 0)
                rc = 1;
            else {
                printf("Successfully cancelled partition reassignment%s for: ",
                       plan.n == 1 ? "" : "s");
                print_partitions(&plan);
            }
        } else { /* verify */
            bk_wire w;
            connect_controller(&v, &w);
            moving *m;
            int nm = list_moves(&w, &m);
            bk_wire_close(&w);
            printf("Status of partition reassignment:\n");
            bool all_done = true;
            for (int i = 0; i < plan.n; i++) {
                const bk_reassign_part *e = &plan.v[i];
                bool moving_now = false;
                for (int k = 0; k < nm && !moving_now; k++)
                    moving_now = m[k].partition == e->partition && strcmp(m[k].topic, e->topic) == 0;
                const bk_reassign_part *cp = view_part(&v, e->topic, e->partition);
                /* the metadata may lag the controller a moment */
                for (int tries = 0; !moving_now && tries < 20 &&
                                    (!cp || cp->nreplicas != e->nreplicas ||
                                     memcmp(cp->replicas, e->replicas,
                                            (size_t)e->nreplicas * sizeof(int32_t)) != 0);
                     tries++) {
                    usleep(200 * 1000);
                    view_fini(&v);
                    view_load(boot, &v);
                    cp = view_part(&v, e->topic, e->partition);
                }
                if (moving_now) {
                    printf("Reassignment of partition %s-%d is still in progress.\n", e->topic,
                           e->partition);
                    all_done = false;
                } else if (cp && cp->nreplicas == e->nreplicas &&
                           memcmp(cp->replicas, e->replicas,
                                  (size_t)e->nreplicas * sizeof(int32_t)) == 0) {
                    printf("Reassignment of partition %s-%d is completed.\n", e->topic,
                           e->partition);
                } else {
                    printf("There is no active reassignment of partition %s-%d, but replica set "
                           "is ",
                           e->topic, e->partition);
                    if (cp)
                        print_ids(cp->replicas, cp->nreplicas);
                    printf(" rather than ");
                    print_ids(e->replicas, e->nreplicas);
                    printf(".\n"); /* Kafka counts it as done */
                }
            }
            free(m);
            if (all_done && !preserve)
                clear_throttles(&v, &plan);
        }
        bk_reassign_plan_free(&plan);
    }
    view_fini(&v);
    return rc;
}
