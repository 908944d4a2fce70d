/*
 * brook producer-perf-test - kafka-producer-perf-test.sh.
 *
 *   brook producer-perf-test --topic T --num-records N
 *       (--record-size B | --payload-file F [--payload-delimiter D])
 *       --throughput R (-1: unlimited)
 *       (--producer-props bootstrap.servers=H:P [k=v ...] | --producer.config FILE)
 *
 * Output as Kafka's ProducerPerformance: every 5 s a window line
 *   "N records sent, X records/sec (Y MB/sec), A ms avg latency, M ms max latency."
 * and at the end
 *   "N records sent, X records/sec (Y MB/sec), A ms avg latency, M ms max latency,
 *    P50 ms 50th, P95 ms 95th, P99 ms 99th, P999 ms 99.9th."
 * Latency is the time from send to delivery report of each record; the
 * percentiles come from every (N/500000)th record, as in Kafka. Payloads are
 * random upper-case letters made once (or records of the payload file picked
 * at random). Records that fail are not counted; any failure makes the exit
 * code 1.
 */
#include "brook.h"
#include "tool.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct stats {
    int64_t start, window_start; /* ms */
    int *lat;
    int64_t sampling, iteration, nlat, cap;
    int64_t count, bytes, total_lat;
    int max_lat;
    int64_t w_count, w_bytes, w_total_lat;
    int w_max_lat;
    int64_t failed;
    char err[256];
} stats;

static int64_t now_ms(void)
{
    return bk_tool_mono_us() / 1000;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: brook producer-perf-test --topic T --num-records N (--record-size B | "
               "--payload-file F)\n"
               "                                --throughput R (--producer-props k=v... | "
               "--producer.config F)\n"
               "Measures produce throughput and latency.\n\n"
               "  --topic T                    topic to produce to (required)\n"
               "  --num-records N              number of records (required)\n"
               "  --record-size B              record size in bytes\n"
               "  --payload-file F             records taken at random from F\n"
               "  --payload-delimiter D        delimiter of the payload file (default \\n)\n"
               "  --throughput R               at most R records/s; -1: no limit (required)\n"
               "  --producer-props K=V ...     producer settings, bootstrap.servers among them\n"
               "  --producer.config FILE       producer settings in properties syntax\n"
               "  --print-metrics              accepted, ignored\n"
               "  --help, --version\n");
}

static void print_window(stats *s, int64_t now)
{
    int64_t el = now - s->window_start;
    if (el <= 0)
        el = 1;
    printf("%" PRId64 " records sent, %.1f records/sec (%.2f MB/sec), %.1f ms avg latency, %.1f ms "
           "max latency.\n",
           s->w_count, 1000.0 * (double)s->w_count / (double)el,
           1000.0 * (double)s->w_bytes / (double)el / (1024.0 * 1024.0),
           s->w_count ? (double)s->w_total_lat / (double)s->w_count : 0.0, (double)s->w_max_lat);
    fflush(stdout);
    s->window_start = now;
    s->w_count = s->w_bytes = s->w_total_lat = 0;
    s->w_max_lat = 0;
}

static void record(stats *s, int lat, size_t bytes, int64_t now)
{
    s->count++;
    s->bytes += (int64_t)bytes;
    s->total_lat += lat;
    if (lat > s->max_lat)
        s->max_lat = lat;
    s->w_count++;
    s->w_bytes += (int64_t)bytes;
    s->w_total_lat += lat;
    if (lat > s->w_max_lat)
        s->w_max_lat = lat;
    if (s->iteration % s->sampling == 0 && s->nlat < s->cap)
        s->lat[s->nlat++] = lat;
    s->iteration++;
    if (now - s->window_start >= 5000)
        print_window(s, now);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    stats *s = opaque;
    int64_t now = now_ms();
    if (m->err) {
        if (!s->failed++)
            snprintf(s->err, sizeof s->err, "%s", rd_kafka_err2str(m->err));
        return;
    }
    int64_t sent = (int64_t)(intptr_t)m->_private;
    record(s, (int)(now - sent), m->len, now);
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static void print_total(stats *s)
{
    int64_t el = now_ms() - s->start;
    if (el <= 0)
        el = 1;
    qsort(s->lat, (size_t)s->nlat, sizeof *s->lat, cmp_int);
    int p[4] = {0, 0, 0, 0};
    const double q[4] = {0.5, 0.95, 0.99, 0.999};
    for (int i = 0; i < 4 && s->nlat > 0; i++) {
        int64_t idx = (int64_t)(q[i] * (double)s->nlat);
        if (idx >= s->nlat)
            idx = s->nlat - 1;
        p[i] = s->lat[idx];
    }
    printf("%" PRId64
           " records sent, %f records/sec (%.2f MB/sec), %.2f ms avg latency, %.2f ms max "
           "latency, %d ms 50th, %d ms 95th, %d ms 99th, %d ms 99.9th.\n",
           s->count, 1000.0 * (double)s->count / (double)el,
           1000.0 * (double)s->bytes / (double)el / (1024.0 * 1024.0),
           s->count ? (double)s->total_lat / (double)s->count : 0.0, (double)s->max_lat, p[0], p[1],
           p[2], p[3]);
    fflush(stdout);
}

typedef struct payloads {
    char *buf; /* owned: the file; p[] point into it */
    char **p;
    size_t *len;
    size_t n;
} payloads;

static void read_payloads(payloads *pl, const char *path, const char *delim)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        bk_tool_die("cannot read %s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t cap = 0, len = 0;
    for (;;) {
        if (len + 65536 > cap) {
            cap = cap ? cap * 2 : 131072;
            buf = realloc(buf, cap);
        }
        size_t r = fread(buf + len, 1, cap - len - 1, f);
        if (r == 0)
            break;
        len += r;
    }
    fclose(f);
    if (!buf)
        buf = malloc(1);
    buf[len] = 0;
    pl->buf = buf;
    size_t dl = strlen(delim);
    pl->p = NULL;
    pl->len = NULL;
    pl->n = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        bool at_end = i == len;
        if (!at_end && !(dl && i + dl <= len && memcmp(buf + i, delim, dl) == 0))
            continue;
        if (i > start) {
            pl->p = realloc(pl->p, (pl->n + 1) * sizeof *pl->p);
            pl->len = realloc(pl->len, (pl->n + 1) * sizeof *pl->len);
            pl->p[pl->n] = buf + start;
            pl->len[pl->n] = i - start;
            pl->n++;
        }
        if (!at_end) {
            i += dl - 1;
            start = i + 1;
        }
    }
    if (pl->n == 0)
        bk_tool_die("no payloads in %s", path);
    fprintf(stderr, "Reading payloads from: %s\nNumber of messages read: %zu\n", path, pl->n);
}

int bk_cmd_producer_perf_test(int argc, char **argv)
{
    enum {
        O_TOPIC = 1000,
        O_NUM,
        O_SIZE,
        O_PFILE,
        O_PDELIM,
        O_TPUT,
        O_PPROPS,
        O_PCONF,
        O_METRICS,
        O_HELP,
        O_VERSION
    };
    static const struct option lo[] = {
        {"topic", required_argument, 0, O_TOPIC},
        {"num-records", required_argument, 0, O_NUM},
        {"record-size", required_argument, 0, O_SIZE},
        {"payload-file", required_argument, 0, O_PFILE},
        {"payload-delimiter", required_argument, 0, O_PDELIM},
        {"throughput", required_argument, 0, O_TPUT},
        {"producer-props", required_argument, 0, O_PPROPS},
        {"producer.config", required_argument, 0, O_PCONF},
        {"print-metrics", no_argument, 0, O_METRICS},
        {"help", no_argument, 0, O_HELP},
        {"version", no_argument, 0, O_VERSION},
        {0, 0, 0, 0},
    };
    const char *topic = NULL, *pfile = NULL, *pdelim = "\n", *pconf = NULL;
    int64_t num = -1, size = -1;
    double tput = 0;
    bool have_tput = false;
    char **pprops = calloc((size_t)argc + 1, sizeof *pprops);
    int npprops = 0;

    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
        switch (c) {
        case O_TOPIC:
            topic = optarg;
            break;
        case O_NUM:
            num = bk_tool_parse_i64("--num-records", optarg);
            break;
        case O_SIZE:
            size = bk_tool_parse_i64("--record-size", optarg);
            break;
        case O_PFILE:
            pfile = optarg;
            break;
        case O_PDELIM:
            pdelim = strcmp(optarg, "\\n") == 0 ? "\n" : optarg;
            break;
        case O_TPUT: {
            char *end;
            tput = strtod(optarg, &end);
            if (end == optarg || *end)
                bk_tool_usage_error("--throughput: not a number: '%s'", optarg);
            have_tput = true;
            break;
        }
        case O_PPROPS:
            /* --producer-props k=v [k=v ...]: every following word up to the
             * next option (argparse's nargs='+'). */
            pprops[npprops++] = optarg;
            while (optind < argc && argv[optind][0] != '-')
                pprops[npprops++] = argv[optind++];
            break;
        case O_PCONF:
            pconf = optarg;
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
    if (num <= 0)
        bk_tool_usage_error("--num-records should be greater than zero");
    if (!have_tput)
        bk_tool_usage_error("--throughput is required");
    if ((size > 0) == (pfile != NULL))
        bk_tool_usage_error("exactly one of --record-size and --payload-file is required");
    if (size == 0 || size > 100 * 1024 * 1024)
        bk_tool_usage_error("--record-size should be greater than zero");
    if (!npprops && !pconf)
        bk_tool_usage_error("Either --producer-props or --producer.config must be specified.");

    /* bootstrap.servers: --producer-props wins over the file. */
    const char *boot = NULL;
    char fboot[1024] = "";
    for (int i = 0; i < npprops; i++)
        if (strncmp(pprops[i], "bootstrap.servers=", 18) == 0)
            boot = pprops[i] + 18;
    if (!boot && pconf) {
        rd_kafka_conf_t *tmp = rd_kafka_conf_new();
        bk_tool_conf_file(tmp, pconf);
        size_t sz = sizeof fboot;
        if (rd_kafka_conf_get(tmp, "bootstrap.servers", fboot, &sz) == RD_KAFKA_CONF_OK)
            boot = fboot;
        rd_kafka_conf_destroy(tmp);
    }
    if (!boot || !*boot)
        bk_tool_usage_error(
            "bootstrap.servers is required (--producer-props bootstrap.servers=H:P)");

    rd_kafka_conf_t *conf = bk_tool_conf(boot);
    bk_tool_set(conf, "client.id", "perf-producer-client");
    bk_tool_set(conf, "acks", "all");
    if (pconf)
        bk_tool_conf_file(conf, pconf);
    for (int i = 0; i < npprops; i++)
        bk_tool_set_kv(conf, pprops[i]);
    free(pprops);
    stats st;
    memset(&st, 0, sizeof st);
    st.sampling = num / (num < 500000 ? num : 500000);
    st.cap = num / st.sampling + 1;
    st.lat = calloc((size_t)st.cap, sizeof *st.lat);
    rd_kafka_conf_set_opaque(conf, &st);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);

    payloads pl = {0};
    char *payload = NULL;
    if (pfile) {
        read_payloads(&pl, pfile, pdelim);
    } else {
        payload = malloc((size_t)size);
        srand((unsigned)bk_tool_mono_us());
        for (int64_t i = 0; i < size; i++)
            payload[i] = (char)('A' + rand() % 26);
    }

    bk_tool_catch_signals();
    rd_kafka_t *rk = bk_tool_client(RD_KAFKA_PRODUCER, conf);
    bk_tool_wait_connected(rk, boot, BK_TOOL_CONNECT_TIMEOUT_MS);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);

    st.start = st.window_start = now_ms();
    int64_t start_us = bk_tool_mono_us();
    for (int64_t i = 0; i < num && !bk_tool_stopping; i++) {
        const char *p = payload;
        size_t len = (size_t)size;
        if (pfile) {
            size_t k = (size_t)rand() % pl.n;
            p = pl.p[k];
            len = pl.len[k];
        }
        for (;;) {
            int64_t sent = now_ms();
            if (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, (void *)p, len,
                                 NULL, 0, (void *)(intptr_t)sent) == 0)
                break;
            rd_kafka_resp_err_t e = rd_kafka_last_error();
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || bk_tool_stopping)
                bk_tool_die("cannot send: %s", rd_kafka_err2str(e));
            rd_kafka_poll(rk, 10);
        }
        rd_kafka_poll(rk, 0);
        /* Throttle: stay behind i+1 records at tput records/s. */
        if (tput > 0) {
            for (;;) {
                int64_t due = start_us + (int64_t)((double)(i + 1) * 1e6 / tput);
                int64_t wait = due - bk_tool_mono_us();
                if (wait <= 0 || bk_tool_stopping)
                    break;
                rd_kafka_poll(rk, (int)(wait / 1000 > 100 ? 100 : (wait + 999) / 1000));
            }
        }
    }
    while (rd_kafka_outq_len(rk) > 0 && !bk_tool_stopping)
        rd_kafka_flush(rk, 100);
    print_total(&st);
    rd_kafka_topic_destroy(rkt);
    int left = rd_kafka_outq_len(rk);
    if (!left)
        rd_kafka_destroy(rk);
    free(st.lat);
    free(payload);
    free(pl.buf);
    free(pl.p);
    free(pl.len);
    if (st.failed)
        bk_tool_die("%" PRId64 " records failed: %s", st.failed, st.err);
    if (left)
        bk_tool_die("interrupted with %d records not delivered", left);
    return 0;
}
