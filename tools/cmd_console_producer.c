/*
 * brook console-producer - kafka-console-producer.sh: one record per stdin
 * line.
 *
 *   brook console-producer --bootstrap-server H:P --topic T
 *       [--property parse.key=true --property key.separator=:]
 *       [--property parse.headers=true ...] [--producer-property k=v]...
 *       [--producer.config FILE] [--request-required-acks N]
 *       [--compression-codec C] [--sync] [--timeout LINGER_MS]
 *
 * Lines are split as Kafka's LineMessageReader does: with parse.headers the
 * text before headers.delimiter (tab) holds headers "k:v,k2:v2", then with
 * parse.key the text before key.separator (tab) is the key, the rest the
 * value. A key, value or header value equal to null.marker is sent as null.
 * A line without a separator stops the tool ("No key separator found on
 * line number N: '...'") unless ignore.error=true.
 *
 * Settings are applied in Kafka's order: the tool's defaults (acks=-1,
 * linger.ms=1000, partitioner murmur2_random - Java's partitioner, so keyed
 * records land where a Java producer would put them), then --producer.config,
 * then --producer-property, then the explicit options.
 *
 * The first failed delivery ends the tool: exit 1 with one line.
 */
#include "brook.h"
#include "tool.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct reader {
    bool parse_key;
    bool parse_headers;
    bool ignore_error;
    const char *key_sep;
    const char *hdr_delim;
    const char *hdr_sep;
    const char *hdr_key_sep;
    const char *null_marker; /* NULL: none */
} reader;

typedef struct state {
    char err[512]; /* first delivery error */
    long delivered;
    long failed;
} state;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: brook console-producer --bootstrap-server HOST:PORT --topic TOPIC [options]\n"
            "Reads records from stdin, one per line, and sends them to TOPIC.\n\n"
            "  --bootstrap-server H:P[,..]  broker(s) to connect to (required)\n"
            "  --topic T                    topic to produce to (required)\n"
            "  --property K=V               line reader: parse.key, key.separator, parse.headers,\n"
            "                               headers.delimiter, headers.separator,\n"
            "                               headers.key.separator, null.marker, ignore.error\n"
            "  --producer-property K=V      producer setting (repeatable): acks, linger.ms, ...\n"
            "  --producer.config FILE       producer settings in properties syntax\n"
            "  --request-required-acks N    acks (default -1)\n"
            "  --compression-codec C        none, gzip, snappy, lz4 or zstd\n"
            "  --timeout MS                 linger.ms (default 1000)\n"
            "  --batch-size N               batch.num.messages\n"
            "  --message-send-max-retries N retries\n"
            "  --retry-backoff-ms MS        retry.backoff.ms\n"
            "  --request-timeout-ms MS      request.timeout.ms\n"
            "  --sync                       wait for each record's delivery before the next\n"
            "  --help, --version\n");
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    state *st = opaque;
    if (m->err) {
        if (!st->failed)
            snprintf(st->err, sizeof st->err, "%s", rd_kafka_err2str(m->err));
        st->failed++;
    } else {
        st->delivered++;
    }
}

static void set_reader_prop(reader *r, const char *kv)
{
    char key[128];
    const char *v;
    bk_tool_split_kv(kv, key, sizeof key, &v);
    if (strcmp(key, "parse.key") == 0)
        r->parse_key = bk_tool_is_true(v);
    else if (strcmp(key, "parse.headers") == 0)
        r->parse_headers = bk_tool_is_true(v);
    else if (strcmp(key, "ignore.error") == 0)
        r->ignore_error = bk_tool_is_true(v);
    else if (strcmp(key, "key.separator") == 0)
        r->key_sep = v;
    else if (strcmp(key, "headers.delimiter") == 0)
        r->hdr_delim = v;
    else if (strcmp(key, "headers.separator") == 0)
        r->hdr_sep = v;
    else if (strcmp(key, "headers.key.separator") == 0)
        r->hdr_key_sep = v;
    else if (strcmp(key, "null.marker") == 0)
        r->null_marker = v;
    /* Other LineMessageReader settings (print.prompt, ...) do not apply. */
}

static bool is_null(const reader *r, const char *s, size_t n)
{
    return r->null_marker && strlen(r->null_marker) == n && memcmp(s, r->null_marker, n) == 0;
}

/* Find needle in [s, s+n); returns its offset or -1. */
static long find(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    if (k == 0 || k > n)
        return -1;
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(s + i, needle, k) == 0)
            return (long)i;
    return -1;
}

static void flush_all(rd_kafka_t *rk)
{
    while (rd_kafka_outq_len(rk) > 0 && !bk_tool_stopping)
        rd_kafka_flush(rk, 200);
}

/* Die after sending what was read so far (Kafka stops at a bad line). */
__attribute__((noreturn, format(printf, 2, 3))) static void stop(rd_kafka_t *rk, const char *fmt,
                                                                 ...);

static void stop(rd_kafka_t *rk, const char *fmt, ...)
{
    flush_all(rk);
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    bk_tool_die("%s", msg);
}

/* Headers "k:v,k2:v2" of one line; NULL when there are none. */
static rd_kafka_headers_t *parse_headers(rd_kafka_t *rk, const reader *r, const char *s, size_t n,
                                         long lineno)
{
    if (is_null(r, s, n))
        return NULL;
    rd_kafka_headers_t *h = rd_kafka_headers_new(4);
    size_t sepn = strlen(r->hdr_sep), ksepn = strlen(r->hdr_key_sep);
    size_t pos = 0;
    for (;;) {
        long e = find(s + pos, n - pos, r->hdr_sep);
        size_t plen = e < 0 ? n - pos : (size_t)e;
        const char *pair = s + pos;
        if (plen > 0 || e >= 0) {
            long k = find(pair, plen, r->hdr_key_sep);
            if (k < 0) {
                if (!r->ignore_error) {
                    rd_kafka_headers_destroy(h);
                    stop(rk, "No header key separator found in pair '%.*s' on line number %ld",
                         (int)plen, pair, lineno);
                }
                rd_kafka_header_add(h, pair, (ssize_t)plen, NULL, 0);
            } else {
                if (is_null(r, pair, (size_t)k)) {
                    rd_kafka_headers_destroy(h);
                    stop(rk,
                         "Header keys should not be equal to the null marker '%s' as they can't "
                         "be null",
                         r->null_marker);
                }
                const char *v = pair + k + ksepn;
                size_t vn = plen - (size_t)k - ksepn;
                if (is_null(r, v, vn))
                    rd_kafka_header_add(h, pair, k, NULL, 0);
                else
                    rd_kafka_header_add(h, pair, k, v, (ssize_t)vn);
            }
        }
        if (e < 0)
            break;
        pos += (size_t)e + sepn;
    }
    return h;
}

static void send_line(rd_kafka_t *rk, const char *topic, const reader *r, char *line, size_t n,
                      long lineno, bool sync, state *st)
{
    size_t off = 0;
    rd_kafka_headers_t *hdrs = NULL;
    if (r->parse_headers) {
        long d = find(line, n, r->hdr_delim);
        if (d < 0) {
            if (!r->ignore_error)
                stop(rk, "No headers delimiter found on line number %ld: '%.*s'", lineno, (int)n,
                     line);
        } else {
            hdrs = parse_headers(rk, r, line, (size_t)d, lineno);
            off = (size_t)d + strlen(r->hdr_delim);
        }
    }
    const char *key = NULL;
    size_t keylen = 0;
    if (r->parse_key) {
        long k = find(line + off, n - off, r->key_sep);
        if (k < 0) {
            if (!r->ignore_error) {
                if (hdrs)
                    rd_kafka_headers_destroy(hdrs);
                stop(rk, "No key separator found on line number %ld: '%.*s'", lineno, (int)n, line);
            }
        } else {
            key = line + off;
            keylen = (size_t)k;
            off += (size_t)k + strlen(r->key_sep);
            if (is_null(r, key, keylen))
                key = NULL, keylen = 0;
        }
    }
    const char *val = line + off;
    size_t vallen = n - off;
    if (is_null(r, val, vallen))
        val = NULL, vallen = 0;

    for (;;) {
        rd_kafka_resp_err_t e;
        if (hdrs)
            e = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_KEY(key, keylen), RD_KAFKA_V_VALUE((void *)val, vallen),
                RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
        else
            e = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_KEY(key, keylen), RD_KAFKA_V_VALUE((void *)val, vallen), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            break;
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL && !bk_tool_stopping) {
            rd_kafka_poll(rk, 100);
            continue;
        }
        if (hdrs)
            rd_kafka_headers_destroy(hdrs);
        stop(rk, "cannot send the record of line %ld: %s", lineno, rd_kafka_err2str(e));
    }
    if (sync)
        flush_all(rk);
    else
        rd_kafka_poll(rk, 0);
    if (st->failed)
        stop(rk, "delivery failed: %s", st->err);
}

int bk_cmd_console_producer(int argc, char **argv)
{
    enum {
        O_BOOT = 1000,
        O_TOPIC,
        O_PROP,
        O_PPROP,
        O_PCONF,
        O_ACKS,
        O_CODEC,
        O_SYNC,
        O_TIMEOUT,
        O_BATCH,
        O_RETRIES,
        O_BACKOFF,
        O_REQTMO,
        O_HELP,
        O_VERSION
    };
    static const struct option lo[] = {
        {"bootstrap-server", required_argument, 0, O_BOOT},
        {"broker-list", required_argument, 0, O_BOOT},
        {"topic", required_argument, 0, O_TOPIC},
        {"property", required_argument, 0, O_PROP},
        {"producer-property", required_argument, 0, O_PPROP},
        {"producer.config", required_argument, 0, O_PCONF},
        {"request-required-acks", required_argument, 0, O_ACKS},
        {"compression-codec", required_argument, 0, O_CODEC},
        {"sync", no_argument, 0, O_SYNC},
        {"timeout", required_argument, 0, O_TIMEOUT},
        {"batch-size", required_argument, 0, O_BATCH},
        {"message-send-max-retries", required_argument, 0, O_RETRIES},
        {"retry-backoff-ms", required_argument, 0, O_BACKOFF},
        {"request-timeout-ms", required_argument, 0, O_REQTMO},
        {"help", no_argument, 0, O_HELP},
        {"version", no_argument, 0, O_VERSION},
        {0, 0, 0, 0},
    };
    const char *boot = NULL, *topic = NULL, *pconf = NULL;
    const char *acks = NULL, *codec = NULL, *linger = NULL, *batch = NULL, *retries = NULL,
               *backoff = NULL, *reqtmo = NULL;
    bool sync = false;
    char **props = calloc((size_t)argc + 1, sizeof *props);
    char **pprops = calloc((size_t)argc + 1, sizeof *pprops);
    int nprops = 0, npprops = 0;
    reader r = {.key_sep = "\t", .hdr_delim = "\t", .hdr_sep = ",", .hdr_key_sep = ":"};

    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case O_BOOT:
            boot = optarg;
            break;
        case O_TOPIC:
            topic = optarg;
            break;
        case O_PROP:
            props[nprops++] = optarg;
            break;
        case O_PPROP:
            pprops[npprops++] = optarg;
            break;
        case O_PCONF:
            pconf = optarg;
            break;
        case O_ACKS:
            acks = optarg;
            break;
        case O_CODEC:
            codec = optarg;
            break;
        case O_SYNC:
            sync = true;
            break;
        case O_TIMEOUT:
            linger = optarg;
            break;
        case O_BATCH:
            batch = optarg;
            break;
        case O_RETRIES:
            retries = optarg;
            break;
        case O_BACKOFF:
            backoff = optarg;
            break;
        case O_REQTMO:
            reqtmo = optarg;
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
    if (!topic || !*topic)
        bk_tool_usage_error("--topic is required");
    for (int i = 0; i < nprops; i++)
        set_reader_prop(&r, props[i]);
    if (r.parse_key && !*r.key_sep)
        bk_tool_usage_error("key.separator must not be empty");
    if (r.parse_headers && (!*r.hdr_delim || !*r.hdr_sep || !*r.hdr_key_sep))
        bk_tool_usage_error("headers.delimiter, headers.separator and headers.key.separator must "
                            "not be empty");

    rd_kafka_conf_t *conf = bk_tool_conf(boot);
    bk_tool_set(conf, "client.id", "console-producer");
    bk_tool_set(conf, "acks", "-1");
    bk_tool_set(conf, "linger.ms", "1000");
    bk_tool_set(conf, "partitioner", "murmur2_random");
    /* Kafka's delivery.timeout.ms: a broker lost mid-run fails the tool. */
    bk_tool_set(conf, "message.timeout.ms", "120000");
    if (pconf)
        bk_tool_conf_file(conf, pconf);
    for (int i = 0; i < npprops; i++)
        bk_tool_set_kv(conf, pprops[i]);
    if (acks)
        bk_tool_set(conf, "acks", acks);
    if (codec)
        bk_tool_set(conf, "compression.codec", codec);
    if (linger)
        bk_tool_set(conf, "linger.ms", linger);
    if (batch)
        bk_tool_set(conf, "batch.num.messages", batch);
    if (retries)
        bk_tool_set(conf, "retries", retries);
    if (backoff)
        bk_tool_set(conf, "retry.backoff.ms", backoff);
    if (reqtmo)
        bk_tool_set(conf, "request.timeout.ms", reqtmo);
    state st = {.delivered = 0};
    rd_kafka_conf_set_opaque(conf, &st);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);

    bk_tool_catch_signals();
    rd_kafka_t *rk = bk_tool_client(RD_KAFKA_PRODUCER, conf);
    bk_tool_wait_connected(rk, boot, BK_TOOL_CONNECT_TIMEOUT_MS);

    bool prompt = isatty(0) && isatty(1);
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    for (;;) {
        if (prompt) {
            fputc('>', stdout);
            fflush(stdout);
        }
        ssize_t n = getline(&line, &cap, stdin);
        if (n < 0 || bk_tool_stopping)
            break;
        lineno++;
        size_t len = (size_t)n;
        if (len && line[len - 1] == '\n')
            len--;
        if (len && line[len - 1] == '\r')
            len--;
        send_line(rk, topic, &r, line, len, lineno, sync, &st);
    }
    free(line);
    flush_all(rk);
    free(props);
    free(pprops);
    if (st.failed)
        bk_tool_die("delivery failed: %s (%ld of %ld records)", st.err, st.failed,
                    st.failed + st.delivered);
    if (rd_kafka_outq_len(rk) > 0)
        bk_tool_die("interrupted with %d records not delivered", rd_kafka_outq_len(rk));
    rd_kafka_destroy(rk);
    return 0;
}
