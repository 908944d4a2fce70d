/*
 * brook leader-election - kafka-leader-election.sh.
 *
 *   brook leader-election --bootstrap-server B --election-type preferred|unclean
 *       (--all-topic-partitions | --topic T --partition P | --path-to-json-file F)
 *       [--admin.config FILE]
 *
 * Finds the controller through Metadata and sends it ElectLeaders (key 43,
 * the highest version both know, up to v2; v0 only does PREFERRED) on the
 * blocking client of tools/wire.h. FILE, as Kafka's:
 *   {"partitions": [{"topic": "t", "partition": 0}]}
 * Output, as Kafka's LeaderElectionCommand:
 *   Successfully completed leader election (PREFERRED) for partitions t-0, t-1
 *   Valid replica already elected for partitions t-2
 *   Error completing leader election (PREFERRED) for partition: t-3:
 *     org.apache.kafka.common.errors.PreferredLeaderNotAvailableException: ...
 * and exit status 1 when any partition failed ("N replica(s) could not be
 * elected"). --admin.config is read for compatibility: the wire client has
 * no security settings to take from it (Brook listens in PLAINTEXT).
 */
#include "brook.h"
#include "jsonfile.h"
#include "tool.h"
#include "wire.h"

#include "../src/core/err.h"
#include "../src/proto/bkgen_msgs.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TIMEOUT_MS 30000

typedef bk_tool_tp tp;

/* {"partitions": [{"topic": "t", "partition": 0}, ...]} */
static int parse_file(const char *path, tp **out)
{
    int64_t version;
    tp *v;
    int n = bk_tool_json_partitions(path, false, &version, &v);
    for (int a = 0; a < n; a++)
        for (int b = a + 1; b < n; b++)
            if (v[a].partition == v[b].partition && strcmp(v[a].topic, v[b].topic) == 0)
                bk_tool_die("Duplicate partition %s-%" PRId64 " in %s", v[a].topic,
                            v[a].partition, path);
    *out = v;
    return n;
}

/* ---------------------------------------------------------------- output */

/* The Java exception of an election error (the shared table lacks these). */
static void elect_error(int code, const char **cls, const char **msg)
{
    bk_tool_java_error(code, cls, msg);
    if (code == BK_KERR_PREFERRED_LEADER_NOT_AVAILABLE)
        *cls = "org.apache.kafka.common.errors.PreferredLeaderNotAvailableException";
    else if (code == BK_KERR_ELIGIBLE_LEADERS_NOT_AVAILABLE)
        *cls = "org.apache.kafka.common.errors.EligibleLeadersNotAvailableException";
    else if (code == BK_KERR_NOT_CONTROLLER)
        *cls = "org.apache.kafka.common.errors.NotControllerException";
}

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_add(sbuf *s, const char *t, int tlen, int32_t part)
{
    char one[400];
    int k = snprintf(one, sizeof one, "%s%.*s-%d", s->len ? ", " : "", tlen, t, part);
    if (k < 0)
        return;
    if (s->len + (size_t)k + 1 > s->cap) {
        size_t nc = (s->cap ? s->cap * 2 : 256) + (size_t)k;
        char *np = realloc(s->p, nc);
        if (!np)
            bk_tool_die("out of memory");
        s->p = np;
        s->cap = nc;
    }
    memcpy(s->p + s->len, one, (size_t)k + 1);
    s->len += (size_t)k;
}

/* ---------------------------------------------------------------- main */

static void help(FILE *f)
{
    fprintf(f,
            "usage: brook leader-election --bootstrap-server HOST:PORT --election-type TYPE\n"
            "           (--all-topic-partitions | --topic T --partition P |\n"
            "            --path-to-json-file FILE)\n"
            "Elect partition leaders (kafka-leader-election.sh), through the controller.\n"
            "  --bootstrap-server HOST:PORT  REQUIRED: the broker(s) to connect to\n"
            "  --election-type TYPE          REQUIRED: preferred or unclean\n"
            "  --all-topic-partitions        every partition of every topic\n"
            "  --topic T                     one topic (with --partition)\n"
            "  --partition P                 its partition\n"
            "  --path-to-json-file FILE      the partitions, as\n"
            "      {\"partitions\":[{\"topic\":\"t\",\"partition\":0}]}\n"
            "  --admin.config FILE           admin client properties (accepted; unused)\n"
            "  --version                     print the version and exit\n"
            "  --help                        this text\n");
}

int bk_cmd_leader_election(int argc, char **argv)
{
    enum { O_BOOT = 256, O_TYPE, O_ALL, O_TOPIC, O_PART, O_FILE, O_ADMCFG, O_VERSION, O_HELP };
    static const struct option longopts[] = {
        {"bootstrap-server", required_argument, 0, O_BOOT},
        {"election-type", required_argument, 0, O_TYPE},
        {"all-topic-partitions", no_argument, 0, O_ALL},
        {"topic", required_argument, 0, O_TOPIC},
        {"partition", required_argument, 0, O_PART},
        {"path-to-json-file", required_argument, 0, O_FILE},
        {"admin.config", required_argument, 0, O_ADMCFG},
        {"version", no_argument, 0, O_VERSION},
        {"help", no_argument, 0, O_HELP},
        {0, 0, 0, 0},
    };
    const char *bootstrap = NULL, *type_s = NULL, *topic = NULL, *file = NULL, *admcfg = NULL;
    bool all = false;
    int64_t partition = -1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case O_BOOT:
            bootstrap = optarg;
            break;
        case O_TYPE:
            type_s = optarg;
            break;
        case O_ALL:
            all = true;
            break;
        case O_TOPIC:
            topic = optarg;
            break;
        case O_PART:
            partition = bk_tool_parse_i64("partition", optarg);
            if (partition < 0 || partition > INT32_MAX)
                bk_tool_usage_error("--partition: not a partition: '%s'", optarg);
            break;
        case O_FILE:
            file = optarg;
            break;
        case O_ADMCFG:
            admcfg = optarg;
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
    if (!bootstrap)
        bk_tool_usage_error("Missing required option(s) [bootstrap-server]");
    if (!type_s)
        bk_tool_usage_error("Missing required option(s) [election-type]");
    int8_t type;
    const char *type_name;
    if (strcasecmp(type_s, "preferred") == 0) {
        type = 0;
        type_name = "PREFERRED";
    } else if (strcasecmp(type_s, "unclean") == 0) {
        type = 1;
        type_name = "UNCLEAN";
    } else {
        bk_tool_usage_error("Invalid election type: '%s' (preferred or unclean)", type_s);
    }
    int sources = (all ? 1 : 0) + (topic ? 1 : 0) + (file ? 1 : 0);
    if (sources != 1)
        bk_tool_usage_error("One and only one of the following options is required: "
                            "[all-topic-partitions, topic, path-to-json-file]");
    if (topic && partition < 0)
        bk_tool_usage_error("Missing required option(s) [partition]");
    if (!topic && partition >= 0)
        bk_tool_usage_error("Option partition is only allowed if topic is used");
    if (admcfg) { /* must at least be readable, as Kafka's */
        size_t l;
        free(bk_tool_read_file(admcfg, &l));
    }

    tp *parts = NULL;
    int n = 0;
    tp one;
    if (file) {
        n = parse_file(file, &parts);
    } else if (topic) {
        one.topic = (char *)topic;
        one.partition = partition;
        parts = &one;
        n = 1;
    }

    /* the controller, from Metadata */
    bk_wire w;
    if (bk_wire_connect_list(&w, bootstrap, BK_TOOL_CONNECT_TIMEOUT_MS) == -1)
        bk_tool_die("%s", w.err);
    bk_MetadataResponse md;
    if (bk_wire_metadata(&w, false, &md) == -1)
        bk_tool_die("%s", w.err);
    char host[256] = "";
    int port = -1;
    for (int i = 0; i < md.Brokers.n; i++) {
        const bk_MetadataResponse_MetadataResponseBroker *b = &md.Brokers.a[i];
        if (b->NodeId == md.ControllerId) {
            snprintf(host, sizeof host, "%.*s", (int)BK_MAX(b->Host.len, 0),
                     b->Host.p ? b->Host.p : "");
            port = b->Port;
        }
    }
    int32_t ctl = md.ControllerId;
    bk_wire_close(&w);
    if (port < 0)
        bk_tool_die("no controller is known to the cluster (Metadata ControllerId %d)", ctl);
    bk_wire cw;
    if (bk_wire_connect(&cw, host, port, TIMEOUT_MS) == -1)
        bk_tool_die("%s", cw.err);
    int16_t v = bk_wire_version(&cw, 43, 2, type == 0 ? 0 : 1);
    if (v < 0)
        bk_tool_die("the controller (broker %d) does not serve ElectLeaders%s", ctl,
                    type == 0 ? "" : " with an election type");

    bk_ElectLeadersRequest rq;
    int32_t *pv = NULL;
    bk_ElectLeadersRequest_init(&rq);
    rq.ElectionType = type;
    rq.TimeoutMs = TIMEOUT_MS;
    if (all) {
        rq.TopicPartitions.n = -1;
        rq.TopicPartitions.a = NULL;
    } else {
        /* one entry per partition: the broker groups nothing itself */
        rq.TopicPartitions.a = calloc((size_t)n + 1, sizeof *rq.TopicPartitions.a);
        pv = calloc((size_t)n + 1, sizeof *pv);
        if (!rq.TopicPartitions.a || !pv)
            bk_tool_die("out of memory");
        rq.TopicPartitions.n = n;
        for (int i = 0; i < n; i++) {
            bk_ElectLeadersRequest_TopicPartitions *t = &rq.TopicPartitions.a[i];
            t->Topic = bk_str_c(parts[i].topic);
            pv[i] = (int32_t)parts[i].partition;
            t->Partitions.a = &pv[i];
            t->Partitions.n = 1;
        }
    }
    bk_ElectLeadersResponse rs;
    if (bk_wire_call(&cw, 43, v, &rq, &rs) == -1)
        bk_tool_die("%s", cw.err);
    if (rs.ErrorCode != 0) {
        const char *cls, *msg;
        elect_error(rs.ErrorCode, &cls, &msg);
        bk_tool_die("%s: %s", cls, msg ? msg : bk_kerr_name(rs.ErrorCode));
    }
    sbuf ok = {0}, noop = {0};
    int failed = 0;
    for (int i = 0; i < rs.ReplicaElectionResults.n; i++) {
        const bk_ElectLeadersResponse_ReplicaElectionResult *t = &rs.ReplicaElectionResults.a[i];
        for (int k = 0; k < t->PartitionResult.n; k++) {
            const bk_ElectLeadersResponse_PartitionResult *p = &t->PartitionResult.a[k];
            if (p->ErrorCode == 0)
                sb_add(&ok, t->Topic.p, BK_MAX(t->Topic.len, 0), p->PartitionId);
            else if (p->ErrorCode == BK_KERR_ELECTION_NOT_NEEDED)
                sb_add(&noop, t->Topic.p, BK_MAX(t->Topic.len, 0), p->PartitionId);
            else
                failed++;
        }
    }
    if (ok.len)
        printf("Successfully completed leader election (%s) for partitions %s\n", type_name, ok.p);
    if (noop.len)
        printf("Valid replica already elected for partitions %s\n", noop.p);
    if (failed) {
        printf("Error completing leader election (%s) for partitions:\n", type_name);
        for (int i = 0; i < rs.ReplicaElectionResults.n; i++) {
            const bk_ElectLeadersResponse_ReplicaElectionResult *t =
                &rs.ReplicaElectionResults.a[i];
            for (int k = 0; k < t->PartitionResult.n; k++) {
                const bk_ElectLeadersResponse_PartitionResult *p = &t->PartitionResult.a[k];
                if (p->ErrorCode == 0 || p->ErrorCode == BK_KERR_ELECTION_NOT_NEEDED)
                    continue;
                const char *cls, *msg;
                elect_error(p->ErrorCode, &cls, &msg);
                if (p->ErrorMessage.len > 0)
                    printf("Error completing leader election (%s) for partition: %.*s-%d: "
                           "%s: %.*s\n",
                           type_name, (int)BK_MAX(t->Topic.len, 0), t->Topic.p, p->PartitionId,
                           cls, (int)p->ErrorMessage.len, p->ErrorMessage.p);
                else
                    printf("Error completing leader election (%s) for partition: %.*s-%d: %s: "
                           "%s\n",
                           type_name, (int)BK_MAX(t->Topic.len, 0), t->Topic.p, p->PartitionId,
                           cls, msg ? msg : bk_kerr_name(p->ErrorCode));
            }
        }
    }
    fflush(stdout);
    bk_wire_close(&cw);
    free(ok.p);
    free(noop.p);
    if (!all)
        free(rq.TopicPartitions.a);
    free(pv);
    if (file) {
        for (int i = 0; i < n; i++)
            free(parts[i].topic);
        free(parts);
    }
    if (failed) {
        fprintf(stderr, "Error: %d replica(s) could not be elected\n", failed);
        return 1;
    }
    return 0;
}
