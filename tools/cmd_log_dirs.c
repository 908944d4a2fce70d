/*
 * brook log-dirs - kafka-log-dirs.sh.
 *
 *   brook log-dirs --bootstrap-server B --describe [--topic-list t1,t2]
 *                  [--broker-list 0,1]
 *
 * Asks each broker (all of them by default) for its log directories with
 * DescribeLogDirs and prints, as Kafka's LogDirsCommand:
 *   Querying brokers for log directories information
 *   Received log directory information from brokers 0
 *   {"brokers":[{"broker":0,"logDirs":[{"partitions":[{"partition":"t-0","size":123,
 *     "offsetLag":0,"isFuture":false}],"error":null,"logDir":"/path"}]}],"version":1}
 * (the JSON on one line). "error" is the Java exception class of a failed
 * directory, else null. --topic-list filters the partitions shown.
 *
 * librdkafka 2.0.2 has no DescribeLogDirs: wire.c sends it to each broker.
 */
#include "../src/proto/bkgen_msgs.h"
#include "brook.h"
#include "tool.h"
#include "wire.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void help(FILE *f)
{
    fprintf(f, "usage: brook log-dirs --bootstrap-server HOST:PORT --describe [options]\n"
               "Describe the log directories of brokers (kafka-log-dirs.sh).\n"
               "  --bootstrap-server HOST:PORT  REQUIRED: the broker(s) to connect to\n"
               "  --describe                    REQUIRED: describe the log directories\n"
               "  --topic-list T1,T2            only these topics' partitions (default: all)\n"
               "  --broker-list 0,1             only these brokers (default: all)\n"
               "  --command-config FILE         client properties (accepted; PLAINTEXT only)\n"
               "  --version                     print the version and exit\n"
               "  --help                        this text\n");
}

/* JSON string body (no quotes). */
static void json_chars(const char *p, int32_t len)
{
    for (int32_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
}

typedef struct broker {
    int32_t id;
    char *host;
    int port;
} broker;

static bool wanted_topic(char **topics, int nt, bk_str name)
{
    if (nt == 0)
        return true;
    for (int i = 0; i < nt; i++)
        if (bk_str_eq(name, topics[i]))
            return true;
    return false;
}

static int cmp_broker(const void *a, const void *b)
{
    const broker *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

int bk_cmd_log_dirs(int argc, char **argv)
{
    enum { O_BOOT = 256, O_DESCRIBE, O_TOPICS, O_BROKERS, O_CMDCFG, O_VERSION, O_HELP };
    static const struct option longopts[] = {
        {"bootstrap-server", required_argument, 0, O_BOOT},
        {"describe", no_argument, 0, O_DESCRIBE},
        {"topic-list", required_argument, 0, O_TOPICS},
        {"broker-list", required_argument, 0, O_BROKERS},
        {"command-config", required_argument, 0, O_CMDCFG},
        {"version", no_argument, 0, O_VERSION},
        {"help", no_argument, 0, O_HELP},
        {0, 0, 0, 0},
    };
    const char *bootstrap = NULL, *topic_list = NULL, *broker_list = NULL;
    bool describe = false;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case O_BOOT:
            bootstrap = optarg;
            break;
        case O_DESCRIBE:
            describe = true;
            break;
        case O_TOPICS:
            topic_list = optarg;
            break;
        case O_BROKERS:
            broker_list = optarg;
            break;
        case O_CMDCFG:
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
        bk_tool_usage_error("Missing required argument \"[bootstrap-server]\"");
    if (!describe)
        bk_tool_usage_error("Missing required argument \"[describe]\"");

    char **topics = NULL, **bl = NULL;
    int nt = topic_list ? bk_tool_split_list(topic_list, &topics) : 0;
    int nbl = broker_list ? bk_tool_split_list(broker_list, &bl) : 0;

    bk_wire w;
    if (bk_wire_connect_list(&w, bootstrap, BK_TOOL_CONNECT_TIMEOUT_MS) == -1)
        bk_tool_die("%s", w.err);
    bk_MetadataResponse md;
    if (bk_wire_metadata(&w, false, &md) == -1)
        bk_tool_die("%s", w.err);
    int nb = BK_MAX(md.Brokers.n, 0);
    broker *all = calloc((size_t)nb + 1, sizeof *all);
    if (!all)
        bk_tool_die("out of memory");
    for (int i = 0; i < nb; i++) {
        const bk_MetadataResponse_MetadataResponseBroker *b = &md.Brokers.a[i];
        all[i].id = b->NodeId;
        all[i].host = strndup(b->Host.len > 0 ? b->Host.p : "", (size_t)BK_MAX(b->Host.len, 0));
        all[i].port = b->Port;
    }
    bk_wire_close(&w);
    qsort(all, (size_t)nb, sizeof *all, cmp_broker);

    /* the brokers to ask, in --broker-list order (else by id) */
    broker **ask = calloc((size_t)(nbl ? nbl : nb) + 1, sizeof *ask);
    if (!ask)
        bk_tool_die("out of memory");
    int nask = 0;
    if (nbl) {
        char missing[512] = "", existing[512] = "";
        size_t ml = 0, el = 0;
        for (int i = 0; i < nbl; i++) {
            char *end;
            long id = strtol(bl[i], &end, 10);
            if (end == bl[i] || *end)
                bk_tool_usage_error("--broker-list: not a broker id: '%s'", bl[i]);
            broker *f = NULL;
            for (int k = 0; k < nb; k++)
                if (all[k].id == id)
                    f = &all[k];
            if (f)
                ask[nask++] = f;
            else if (ml < sizeof missing)
                ml +=
                    (size_t)snprintf(missing + ml, sizeof missing - ml, "%s%ld", ml ? "," : "", id);
        }
        if (missing[0]) {
            for (int k = 0; k < nb && el < sizeof existing; k++)
                el += (size_t)snprintf(existing + el, sizeof existing - el, "%s%d", el ? "," : "",
                                       all[k].id);
            bk_tool_die("The given brokers do not exist from --broker-list: %s. Current existent "
                        "brokers: %s",
                        missing, existing);
        }
    } else {
        for (int k = 0; k < nb; k++)
            ask[nask++] = &all[k];
    }

    printf("Querying brokers for log directories information\n");
    fflush(stdout);
    /* collect every answer first: Kafka prints the JSON only when all came */
    bk_wire *conns = calloc((size_t)nask + 1, sizeof *conns);
    bk_DescribeLogDirsResponse *resp = calloc((size_t)nask + 1, sizeof *resp);
    if (!conns || !resp)
        bk_tool_die("out of memory");
    for (int i = 0; i < nask; i++) {
        if (bk_wire_connect(&conns[i], ask[i]->host, ask[i]->port, BK_TOOL_CONNECT_TIMEOUT_MS) ==
            -1)
            bk_tool_die("%s", conns[i].err);
        int16_t v = bk_wire_version(&conns[i], 35, 4, 0);
        if (v < 0)
            bk_tool_die("broker %d does not serve DescribeLogDirs", ask[i]->id);
        bk_DescribeLogDirsRequest rq;
        bk_DescribeLogDirsRequest_init(&rq);
        rq.Topics.n = -1; /* all */
        rq.Topics.a = NULL;
        if (bk_wire_call(&conns[i], 35, v, &rq, &resp[i]) == -1)
            bk_tool_die("%s", conns[i].err);
        if (resp[i].ErrorCode) {
            const char *cls, *msg;
            bk_tool_java_error(resp[i].ErrorCode, &cls, &msg);
            bk_tool_die("broker %d: %s", ask[i]->id, msg ? msg : bk_kerr_name(resp[i].ErrorCode));
        }
    }
    printf("Received log directory information from brokers ");
    for (int i = 0; i < nask; i++)
        printf("%s%d", i ? "," : "", ask[i]->id);
    printf("\n{\"brokers\":[");
    for (int i = 0; i < nask; i++) {
        printf("%s{\"broker\":%d,\"logDirs\":[", i ? "," : "", ask[i]->id);
        for (int32_t d = 0; d < resp[i].Results.n; d++) {
            const bk_DescribeLogDirsResponse_DescribeLogDirsResult *r = &resp[i].Results.a[d];
            printf("%s{\"partitions\":[", d ? "," : "");
            bool first = true;
            for (int32_t t = 0; t < r->Topics.n; t++) {
                const bk_DescribeLogDirsResponse_DescribeLogDirsTopic *tp = &r->Topics.a[t];
                if (!wanted_topic(topics, nt, tp->Name))
                    continue;
                for (int32_t p = 0; p < tp->Partitions.n; p++) {
                    const bk_DescribeLogDirsResponse_DescribeLogDirsPartition *pp =
                        &tp->Partitions.a[p];
                    printf("%s{\"partition\":\"", first ? "" : ",");
                    json_chars(tp->Name.p, BK_MAX(tp->Name.len, 0));
                    printf("-%d\"", pp->PartitionIndex);
                    printf(",\"size\":%" PRId64 ",\"offsetLag\":%" PRId64 ",\"isFuture\":%s}",
                           pp->PartitionSize, pp->OffsetLag, pp->IsFutureKey ? "true" : "false");
                    first = false;
                }
            }
            printf("],\"error\":");
            if (r->ErrorCode) {
                const char *cls, *msg;
                bk_tool_java_error(r->ErrorCode, &cls, &msg);
                printf("\"%s\"", cls);
            } else {
                printf("null");
            }
            printf(",\"logDir\":");
            printf("\"");
            json_chars(r->LogDir.p, BK_MAX(r->LogDir.len, 0));
            printf("\"}");
        }
        printf("]}");
    }
    printf("],\"version\":1}\n");
    fflush(stdout);
    for (int i = 0; i < nask; i++)
        bk_wire_close(&conns[i]);
    free(conns);
    free(resp);
    free(ask);
    for (int k = 0; k < nb; k++)
        free(all[k].host);
    free(all);
    if (topics)
        bk_tool_free_list(topics, nt);
    if (bl)
        bk_tool_free_list(bl, nbl);
    return 0;
}
