/*
 * brook consumer-perf-test - kafka-consumer-perf-test.sh.
 *
 *   brook consumer-perf-test --bootstrap-server H:P --topic T --messages N
 *       [--group G] [--from-latest] [--timeout MS] [--show-detailed-stats]
 *       [--reporting-interval MS] [--hide-header] [--consumer.config F]
 *
 * Output as Kafka's ConsumerPerformance: the header
 *   start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg,
 *   nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
 * and one CSV line (times as "yyyy-MM-dd HH:mm:ss:SSS", local time). With
 * --show-detailed-stats a line per reporting interval instead (time,
 * threadId, ...). Bytes are key plus value. The rebalance time is the time
 * spent waiting for partitions (from the start or a revocation to the next
 * assignment). The tool stops after N records or when none arrived for
 * --timeout ms (default 10000), the latter with Kafka's WARNING line.
 */
#include "brook.h"
#include "tool.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct perf {
    int64_t join_ms;       /* total time waiting for assignments */
    int64_t join_round_ms; /* the same since the last report */
    int64_t join_start;    /* wall ms when the wait began */
    bool assigned;
} perf;

static void usage(FILE *f)
{
    fprintf(f, "usage: brook consumer-perf-test --bootstrap-server HOST:PORT --topic T --messages "
               "N [options]\n"
               "Measures consume throughput.\n\n"
               "  --bootstrap-server H:P[,..]  broker(s) to connect to (required)\n"
               "  --topic T                    topic to consume (required)\n"
               "  --messages N                 records to consume (required)\n"
               "  --group G                    group id (default perf-consumer-NNNNN)\n"
               "  --from-latest                start at the log end when the group has no offsets\n"
               "  --timeout MS                 longest wait between records (default 10000)\n"
               "  --show-detailed-stats        one line per reporting interval\n"
               "  --reporting-interval MS      default 5000\n"
               "  --hide-header                no header line\n"
               "  --fetch-size B               fetch.max.bytes\n"
               "  --consumer.config FILE       consumer settings in properties syntax\n"
               "  --print-metrics              accepted, ignored\n"
               "  --help, --version\n");
}

static void fmt_time(char *buf, size_t n, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    size_t k = strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(buf + k, n - k, ":%03d", (int)(ms % 1000));
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    perf *p = opaque;
    bool coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (!p->assigned && parts->cnt > 0) {
            int64_t el = bk_tool_wall_ms() - p->join_start;
            p->join_ms += el;
            p->join_round_ms += el;
            p->assigned = true;
        }
        if (coop)
            rd_kafka_error_destroy(rd_kafka_incremental_assign(rk, parts));
        else
            rd_kafka_assign(rk, parts);
    } else {
        if (coop)
            rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, parts));
        else
            rd_kafka_assign(rk, NULL);
        p->assigned = false;
        p->join_start = bk_tool_wall_ms();
    }
}

int bk_cmd_consumer_perf_test(int argc, char **argv)
{
    enum {
        O_BOOT = 1000,
        O_TOPIC,
        O_MSGS,
        O_GROUP,
        O_LATEST,
        O_TIMEOUT,
        O_DETAIL,
        O_INTERVAL,
        O_HIDE,
        O_FETCH,
        O_CCONF,
        O_METRICS,
        O_HELP,
        O_VERSION
    };
    static const struct option lo[] = {
        {"bootstrap-server", required_argument, 0, O_BOOT},
        {"broker-list", required_argument, 0, O_BOOT},
        {"topic", required_argument, 0, O_TOPIC},
        {"messages", required_argument, 0, O_MSGS},
        {"group", required_argument, 0, O_GROUP},
        {"from-latest", no_argument, 0, O_LATEST},
        {"timeout", required_argument, 0, O_TIMEOUT},
        {"show-detailed-stats", no_argument, 0, O_DETAIL},
        {"reporting-interval", required_argument, 0, O_INTERVAL},
        {"hide-header", no_argument, 0, O_HIDE},
        {"fetch-size", required_argument, 0, O_FETCH},
        {"consumer.config", required_argument, 0, O_CCONF},
        {"print-metrics", no_argument, 0, O_METRICS},
        {"help", no_argument, 0, O_HELP},
        {"version", no_argument, 0, O_VERSION},
        {0, 0, 0, 0},
    };
    const char *boot = NULL, *topic = NULL, *group = NULL, *fetch = NULL, *cconf = NULL;
    int64_t msgs = -1, timeout = 10000, interval = 5000;
    bool latest = false, detail = false, hide = false;

    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
        switch (c) {
        case O_BOOT:
            boot = optarg;
            break;
        case O_TOPIC:
            topic = optarg;
            break;
        case O_MSGS:
            msgs = bk_tool_parse_i64("--messages", optarg);
            break;
        case O_GROUP:
            group = optarg;
            break;
        case O_LATEST:
            latest = true;
            break;
        case O_TIMEOUT:
            timeout = bk_tool_parse_i64("--timeout", optarg);
            break;
        case O_DETAIL:
            detail = true;
            break;
        case O_INTERVAL:
            interval = bk_tool_parse_i64("--reporting-interval", optarg);
            break;
        case O_HIDE:
            hide = true;
            break;
        case O_FETCH:
            fetch = optarg;
            break;
        case O_CCONF:
            cconf = optarg;
            break;
        case O_METRICS:
            break;
        case O_HELP:
            usage(stdout);
            exit(0);
        case O_VERSION:
            bk_tool_print_version();
            exit(0);
        default:
            bk_tool_usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        bk_tool_usage_error("unexpected argument '%s'", argv[optind]);
    if (!topic)
        bk_tool_usage_error("--topic is required");
    if (msgs < 0)
        bk_tool_usage_error("--messages is required");
    if (timeout < 0 || interval <= 0)
        bk_tool_usage_error("--timeout and --reporting-interval must be positive");

    char gen[64];
    if (!group) {
        srand((unsigned)bk_tool_mono_us());
        snprintf(gen, sizeof gen, "perf-consumer-%d", rand() % 100000);
        group = gen;
    }
    rd_kafka_conf_t *conf = bk_tool_conf(boot);
    bk_tool_set(conf, "client.id", "perf-consumer-client");
    bk_tool_set(conf, "group.id", group);
    bk_tool_set(conf, "auto.offset.reset", latest ? "latest" : "earliest");
    bk_tool_set(conf, "enable.auto.commit", "true");
    bk_tool_set(conf, "enable.partition.eof", "false");
    if (fetch)
        bk_tool_set(conf, "fetch.max.bytes", fetch);
    if (cconf)
        bk_tool_conf_file(conf, cconf);
    perf pf = {.join_start = bk_tool_wall_ms()};
    rd_kafka_conf_set_opaque(conf, &pf);
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);

    if (!hide) {
        const char *more = ", rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec";
        if (detail)
            printf(
                "time, threadId, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec%s\n",
                more);
        else
            printf("start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, "
                   "nMsg.sec%s\n",
                   more);
        fflush(stdout);
    }

    bk_tool_catch_signals();
    rd_kafka_t *rk = bk_tool_client(RD_KAFKA_CONSUMER, conf);
    bk_tool_wait_connected(rk, boot, BK_TOOL_CONNECT_TIMEOUT_MS);
    rd_kafka_poll_set_consumer(rk);
    int64_t start = bk_tool_wall_ms();
    pf.join_start = start;
    rd_kafka_topic_partition_list_t *tl = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(tl, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, tl);
    rd_kafka_topic_partition_list_destroy(tl);
    if (err)
        bk_tool_die("cannot subscribe: %s", rd_kafka_err2str(err));

    int64_t cur = start, last_report = start, last_consumed = start;
    int64_t nmsg = 0, bytes = 0, last_nmsg = 0, last_bytes = 0;
    while (nmsg < msgs && cur - last_consumed <= timeout && !bk_tool_stopping) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        cur = bk_tool_wall_ms();
        if (!m)
            continue;
        if (m->err) {
            char fe[256];
            if (rd_kafka_fatal_error(rk, fe, sizeof fe))
                bk_tool_die("%s", fe);
            rd_kafka_message_destroy(m);
            continue;
        }
        last_consumed = cur;
        nmsg++;
        bytes += (int64_t)m->key_len + (int64_t)m->len;
        rd_kafka_message_destroy(m);
        if (cur - last_report >= interval) {
            if (detail) {
                char t[64];
                fmt_time(t, sizeof t, cur);
                double el = (double)(cur - last_report);
                double mb = (double)bytes / (1024 * 1024);
                double imb = (double)(bytes - last_bytes) / (1024 * 1024);
                int64_t fetch_ms = cur - last_report - pf.join_round_ms;
                printf(
                    "%s, %d, %.4f, %.4f, %" PRId64 ", %.4f, %" PRId64 ", %" PRId64 ", %.4f, %.4f\n",
                    t, 0, mb, 1000.0 * imb / el, nmsg, 1000.0 * (double)(nmsg - last_nmsg) / el,
                    pf.join_round_ms, fetch_ms,
                    fetch_ms <= 0 ? 0.0 : 1000.0 * imb / (double)fetch_ms,
                    fetch_ms <= 0 ? 0.0 : 1000.0 * (double)(nmsg - last_nmsg) / (double)fetch_ms);
                fflush(stdout);
            }
            pf.join_round_ms = 0;
            last_report = cur;
            last_nmsg = nmsg;
            last_bytes = bytes;
        }
    }
    if (nmsg < msgs)
        printf(
            "WARNING: Exiting before consuming the expected number of messages: timeout (%" PRId64
            " ms) exceeded. You can use the --timeout option to increase the timeout.\n",
            timeout);
    int64_t end = bk_tool_wall_ms();
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);

    if (!detail) {
        double el = (double)(end - start) / 1000.0;
        if (el <= 0)
            el = 0.001;
        int64_t fetch_ms = (end - start) - pf.join_ms;
        double mb = (double)bytes / (1024 * 1024);
        double fs = fetch_ms > 0 ? (double)fetch_ms / 1000.0 : 0.001;
        char t0[64], t1[64];
        fmt_time(t0, sizeof t0, start);
        fmt_time(t1, sizeof t1, end);
        printf("%s, %s, %.4f, %.4f, %" PRId64 ", %.4f, %" PRId64 ", %" PRId64 ", %.4f, %.4f\n", t0,
               t1, mb, mb / el, nmsg, (double)nmsg / el, pf.join_ms, fetch_ms, mb / fs,
               (double)nmsg / fs);
    }
    fflush(stdout);
    return 0;
}
