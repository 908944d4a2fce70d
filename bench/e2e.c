/*
 * e2e.c - end-to-end client benchmark for Brook (issue 4, item 8), built on
 * librdkafka's public API only. It runs the same workload against a Brook
 * broker (--brook HOST:PORT) and against librdkafka's built-in mock cluster
 * (rd_kafka_mock_cluster_new) in the same run, and prints ONE table with
 * msgs/s, MB/s (value bytes, uncompressed) and the ratio Brook/mock per row:
 *
 *   produce 100 B acks=1        N100 messages, 6 partitions, linger.ms=5
 *   produce 100 B acks=all      N100 messages, 6 partitions, linger.ms=5
 *   produce 100 B idempotent    the same with enable.idempotence=true (sequence
 *                               checks and producer state on every batch)
 *   produce 1 KiB lz4 acks=1    N1K messages, 6 partitions, linger.ms=5
 *   consume from beginning      the acks=1 topic above, all partitions
 *   TLS rows (--brook-tls HOST:PORT --tls-ca FILE: Brook's SSL listener):
 *   produce 100 B acks=1 / 1 KiB acks=1 and consume the 1 KiB topic, over
 *   TLS, printed after the table next to the same rows in plaintext
 *   e2e latency @ RATE msg/s    1 partition, linger.ms=1 (--lat-linger),
 *                               socket.nagle.disable=true, consumer default
 *                               fetch.wait.max.ms; p50/p99/p99.9 after a
 *                               1 s warm-up that is not counted
 *
 * Usage:
 *   e2e [--brook HOST:PORT] [--no-mock] [--n100 N] [--n1k N]
 *       [--rate MSGS_PER_S] [--lat-seconds S] [--lat-linger MS] [--timeout S]
 *   e2e --serve-mock [TOPIC:PARTITIONS ...]
 *       start a 1-broker mock cluster, print its bootstrap address on stdout,
 *       serve until stdin closes or SIGTERM/SIGINT (a stand-in broker for
 *       trying client code, not used by the benchmark table).
 *
 * Every phase is bounded by --timeout seconds (default 120); a phase that
 * fails or times out prints FAIL with the reason in its cell and the run
 * goes on. Exit status: 0 if every row of every target ran, 1 otherwise.
 *
 * Build: cc -O2 -Wall -o build/bin/e2e bench/e2e.c -lrdkafka -lpthread -lm
 * (bench/run-e2e.sh builds it, starts brookd and runs it).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NPARTS 6

static int64_t g_n100 = 2000000;
static int64_t g_n1k = 500000;
static int g_rate = 10000;
static int g_lat_seconds = 10;
static int g_timeout = 120;
static const char *g_lat_linger = "1";
static char g_run_id[32];
static const char *g_tls_ca; /* set: clients use security.protocol=ssl */

const char *g_brook_plain; /* --brook, for the plaintext side of the TLS rows */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "e2e: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

/* ------------------------------------------------------------ results */

typedef struct result {
    int ok;
    char err[160];
    double msgs_s, mb_s;          /* throughput rows */
    double p50, p99, p999;        /* latency row, milliseconds */
    int64_t count;
    double wire_ratio;            /* produce rows: bytes sent to brokers / value bytes */
    int64_t available;            /* consume row: messages between the watermarks */
} result;

static void fail(result *r, const char *fmt, ...)
{
    va_list ap;
    r->ok = 0;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------ config */

static rd_kafka_conf_t *base_conf(const char *bootstrap)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char err[256];
    if (rd_kafka_conf_set(c, "bootstrap.servers", bootstrap, err, sizeof err) != RD_KAFKA_CONF_OK)
        die("conf: %s", err);
    rd_kafka_conf_set(c, "client.id", "brook-e2e", err, sizeof err);
    rd_kafka_conf_set(c, "log_level", "3", err, sizeof err); /* errors only */
    if (g_tls_ca) {
        rd_kafka_conf_set(c, "security.protocol", "ssl", err, sizeof err);
        rd_kafka_conf_set(c, "ssl.ca.location", g_tls_ca, err, sizeof err);
    }
    return c;
}

static void set(rd_kafka_conf_t *c, const char *k, const char *v)
{
    char err[256];
    if (rd_kafka_conf_set(c, k, v, err, sizeof err) != RD_KAFKA_CONF_OK)
        die("conf %s=%s: %s", k, v, err);
}

/* ------------------------------------------------------------ producer */

typedef struct dr_state {
    int64_t delivered;
    int64_t failed;
    rd_kafka_resp_err_t first_err;
    int64_t tx_bytes; /* from the latest statistics callback */
    int nstats;
} dr_state;

/* librdkafka statistics: keep the client-wide "tx_bytes" (bytes sent to
 * brokers), to tell whether a codec was really applied. */
static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    (void)rk;
    (void)len;
    dr_state *s = opaque;
    const char *p = strstr(json, "\"tx_bytes\":");
    if (p) {
        s->tx_bytes = atoll(p + 11);
        s->nstats++;
    }
    return 0;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    dr_state *s = opaque;
    if (m->err) {
        if (!s->failed)
            s->first_err = m->err;
        s->failed++;
    } else {
        s->delivered++;
    }
}

/* Compressible 1 KiB-ish payloads: words from a small vocabulary with a
 * counter, roughly what JSON/log lines look like (lz4 ratio ~2-4x). */
static void fill_payload(char *buf, size_t len, uint64_t seed, int compressible)
{
    static const char *words[] = {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot",
                                  "golf", "hotel", "india", "juliet", "kilo", "lima",
                                  "\"id\":", "\"ts\":", "\"user\":", "\"event\":", "{", "}", ","};
    uint64_t x = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    size_t i = 0;
    if (!compressible) {
        while (i < len) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            buf[i++] = (char)(' ' + (x % 95));
        }
        return;
    }
    while (i < len) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        const char *w = words[x % (sizeof words / sizeof words[0])];
        char num[24];
        int n = (x >> 32) % 4 == 0 ? snprintf(num, sizeof num, "%" PRIu64, (x >> 20) % 100000) : 0;
        for (const char *p = w; *p && i < len; p++)
            buf[i++] = *p;
        for (int k = 0; k < n && i < len; k++)
            buf[i++] = num[k];
        if (i < len)
            buf[i++] = ' ';
    }
}

/* Wait until metadata shows the topic with nparts partitions (auto-created
 * or created by CreateTopics), or the deadline passes. */
static int wait_topic(rd_kafka_t *rk, const char *topic, int nparts, int64_t deadline, char *why,
                      size_t whylen)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    int ok = 0;
    snprintf(why, whylen, "topic %s not in metadata", topic);
    while (now_ns() < deadline) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 5000);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1) {
            const rd_kafka_metadata_topic_t *t = &md->topics[0];
            if (t->err == 0 && t->partition_cnt >= nparts) {
                int leaders = 1;
                for (int i = 0; i < t->partition_cnt; i++)
                    if (t->partitions[i].leader < 0 || t->partitions[i].err)
                        leaders = 0;
                if (leaders)
                    ok = 1;
            } else {
                snprintf(why, whylen, "metadata for %s: %s, %d partitions", topic,
                         rd_kafka_err2str(t->err), t->partition_cnt);
            }
        } else if (e) {
            snprintf(why, whylen, "metadata: %s", rd_kafka_err2str(e));
        }
        if (md)
            rd_kafka_metadata_destroy(md);
        if (ok)
            break;
        usleep(100000);
    }
    rd_kafka_topic_destroy(rkt);
    return ok;
}

/* Create a topic: on the mock with rd_kafka_mock_topic_create, on Brook
 * with CreateTopics (falling back to auto-creation through Metadata). */
static int create_topic(const char *bootstrap, rd_kafka_mock_cluster_t *mc, const char *topic,
                        int nparts, char *why, size_t whylen)
{
    int64_t deadline = now_ns() + (int64_t)g_timeout * 1000000000;
    if (mc) {
        /* librdkafka 2.0.2: this can take up to a second (the mock thread
         * is not always woken by the request and polls every 1000 ms) */
        rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mc, topic, nparts, 1);
        if (e) {
            snprintf(why, whylen, "mock topic create: %s", rd_kafka_err2str(e));
            return 0;
        }
    }
    rd_kafka_conf_t *c = base_conf(bootstrap);
    char err[256];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
    if (!rk)
        die("rd_kafka_new: %s", err);
    if (!mc) {
        rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, nparts, 1, err, sizeof err);
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
        rd_kafka_AdminOptions_set_request_timeout(o, 15000, err, sizeof err);
        rd_kafka_CreateTopics(rk, &nt, 1, o, q);
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 20000);
        if (ev) {
            const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
            size_t n = 0;
            const rd_kafka_topic_result_t **tr = res ? rd_kafka_CreateTopics_result_topics(res, &n) : NULL;
            if (rd_kafka_event_error(ev))
                fprintf(stderr, "e2e: CreateTopics %s: %s (trying auto-creation)\n", topic,
                        rd_kafka_event_error_string(ev));
            else if (n == 1 && rd_kafka_topic_result_error(tr[0]))
                fprintf(stderr, "e2e: CreateTopics %s: %s\n", topic,
                        rd_kafka_topic_result_error_string(tr[0]));
            rd_kafka_event_destroy(ev);
        }
        rd_kafka_AdminOptions_destroy(o);
        rd_kafka_NewTopic_destroy(nt);
        rd_kafka_queue_destroy(q);
    }
    int ok = wait_topic(rk, topic, nparts, deadline, why, whylen);
    rd_kafka_destroy(rk);
    return ok;
}

static void run_produce(const char *bootstrap, const char *topic, int64_t count, size_t vlen,
                        const char *acks, const char *codec, int idempotent, result *r)
{
    rd_kafka_conf_t *c = base_conf(bootstrap);
    char err[256], tmp[32];
    dr_state s = {0};
    set(c, "acks", acks);
    if (idempotent)
        set(c, "enable.idempotence", "true");
    set(c, "compression.codec", codec);
    set(c, "linger.ms", "5");
    set(c, "queue.buffering.max.messages", "1000000");
    set(c, "queue.buffering.max.kbytes", "1048576");
    snprintf(tmp, sizeof tmp, "%d", g_timeout * 1000);
    set(c, "message.timeout.ms", tmp);
    set(c, "socket.nagle.disable", "true");
    set(c, "statistics.interval.ms", "100");
    rd_kafka_conf_set_dr_msg_cb(c, dr_cb);
    rd_kafka_conf_set_stats_cb(c, stats_cb);
    rd_kafka_conf_set_opaque(c, &s);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
    if (!rk)
        die("rd_kafka_new: %s", err);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);

    /* pre-built payloads (a ring of 1024) so that we time the client and
     * broker, not the generator */
    enum { RING = 1024 };
    char *pool = malloc(RING * vlen);
    for (int i = 0; i < RING; i++)
        fill_payload(pool + (size_t)i * vlen, vlen, (uint64_t)i + 1, strcmp(codec, "none") != 0);

    int64_t deadline = now_ns() + (int64_t)g_timeout * 1000000000;
    int64_t t0 = now_ns();
    int64_t sent = 0;
    while (sent < count && now_ns() < deadline) {
        rd_kafka_resp_err_t e =
            rd_kafka_producev(rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_VALUE(pool + (size_t)(sent % RING) * vlen, vlen), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(rk, 1);
            continue;
        }
        if (e) {
            fail(r, "produce: %s", rd_kafka_err2str(e));
            break;
        }
        sent++;
        if ((sent & 1023) == 0)
            rd_kafka_poll(rk, 0);
    }
    while (s.delivered + s.failed < sent && now_ns() < deadline)
        rd_kafka_poll(rk, 50);
    int64_t t1 = now_ns();
    if (s.delivered + s.failed < sent) {
        if (!r->err[0])
            fail(r, "timeout: %" PRId64 "/%" PRId64 " acknowledged", s.delivered, count);
        rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(rk, 100);
    } else if (s.failed) {
        fail(r, "%" PRId64 " failed: %s", s.failed, rd_kafka_err2str(s.first_err));
    } else if (!r->err[0]) {
        double secs = (t1 - t0) / 1e9;
        r->ok = 1;
        r->count = s.delivered;
        r->msgs_s = s.delivered / secs;
        r->mb_s = s.delivered * (double)vlen / secs / 1e6;
        /* a statistics callback from after the last delivery (untimed) */
        int n0 = s.nstats;
        int64_t until = now_ns() + 1000000000;
        while (s.nstats < n0 + 2 && now_ns() < until)
            rd_kafka_poll(rk, 20);
        r->wire_ratio = s.tx_bytes / ((double)s.delivered * (double)vlen);
    }
    rd_kafka_topic_destroy(rkt);
    rd_kafka_flush(rk, 2000);
    rd_kafka_destroy(rk);
    free(pool);
}

/* ------------------------------------------------------------ consumer */

/* Consumer without a group: rd_kafka_assign needs group.id set in the
 * config, but with explicit offsets no coordinator is ever asked for
 * committed offsets and nothing is committed. */
static rd_kafka_t *new_consumer(const char *bootstrap, int latency)
{
    rd_kafka_conf_t *c = base_conf(bootstrap);
    char err[256], gid[64];
    snprintf(gid, sizeof gid, "brook-e2e-%s", g_run_id);
    set(c, "group.id", gid);
    set(c, "enable.auto.commit", "false");
    set(c, "enable.auto.offset.store", "false");
    set(c, "enable.partition.eof", "false");
    set(c, "socket.nagle.disable", "true");
    /* read_committed is librdkafka's default: keep it (the broker must give
     * a correct LSO). */
    if (!latency) {
        set(c, "queued.min.messages", "200000");
        set(c, "fetch.max.bytes", "52428800");
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
    if (!rk)
        die("rd_kafka_new(consumer): %s", err);
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

static void assign_all(rd_kafka_t *rk, const char *topic, int nparts, int64_t offset)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(nparts);
    for (int p = 0; p < nparts; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = offset;
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, l);
    if (e)
        die("assign: %s", rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(l);
}

static void run_consume(const char *bootstrap, const char *topic, int nparts, int64_t produced,
                        size_t vlen, result *r)
{
    rd_kafka_t *rk = new_consumer(bootstrap, 0);
    int64_t deadline = now_ns() + (int64_t)g_timeout * 1000000000;
    int64_t got = 0, bytes = 0, t0 = 0, t1 = 0, expect = 0;
    rd_kafka_resp_err_t lasterr = 0;
    /* what the log still holds (the mock keeps only the newest message
     * sets of a partition) */
    for (int p = 0; p < nparts; p++) {
        int64_t lo = 0, hi = 0;
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000);
        if (e) {
            fail(r, "watermarks of partition %d: %s", p, rd_kafka_err2str(e));
            rd_kafka_destroy(rk);
            return;
        }
        expect += hi - lo;
    }
    r->available = expect;
    if (expect > produced) {
        fail(r, "the log holds %" PRId64 " messages, %" PRId64 " were produced", expect, produced);
        rd_kafka_destroy(rk);
        return;
    }
    t0 = now_ns();
    assign_all(rk, topic, nparts, RD_KAFKA_OFFSET_BEGINNING);
    while (got < expect && now_ns() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (m->err) {
            lasterr = m->err;
        } else {
            got++;
            bytes += (int64_t)m->len;
        }
        rd_kafka_message_destroy(m);
    }
    t1 = now_ns();
    if (got < expect) {
        fail(r, "timeout: %" PRId64 "/%" PRId64 " consumed%s%s", got, expect,
             lasterr ? ", last error " : "", lasterr ? rd_kafka_err2str(lasterr) : "");
    } else {
        double secs = (t1 - t0) / 1e9;
        r->ok = 1;
        r->count = got;
        r->msgs_s = got / secs;
        r->mb_s = bytes / secs / 1e6;
        if (bytes != got * (int64_t)vlen)
            fail(r, "value bytes %" PRId64 " != %" PRId64 " x %zu", bytes, got, vlen);
    }
    rd_kafka_assign(rk, NULL);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

/* ------------------------------------------------------------ latency */

typedef struct lat_ctx {
    const char *bootstrap, *topic;
    int64_t expect;        /* messages the producer will send */
    int64_t warm_ns;       /* messages sent before t0 + warm_ns are not counted */
    int64_t t0;
    double *lat_ms;        /* per sequence number; NaN = not received */
    int64_t got, dup;
    int64_t deadline;
    volatile int ready;    /* consumer has fetched once (assigned) */
    volatile int stop;
    rd_kafka_resp_err_t lasterr;
} lat_ctx;

typedef struct lat_msg {
    int64_t seq;
    int64_t sent_ns;
    char pad[100 - 16];
} lat_msg;

static void *lat_consumer(void *arg)
{
    lat_ctx *x = arg;
    rd_kafka_t *rk = new_consumer(x->bootstrap, 1);
    assign_all(rk, x->topic, 1, RD_KAFKA_OFFSET_BEGINNING);
    while (x->got < x->expect && !x->stop && now_ns() < x->deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        x->ready = 1;
        if (!m)
            continue;
        int64_t t = now_ns();
        if (m->err) {
            x->lasterr = m->err;
        } else if (m->len == sizeof(lat_msg)) {
            lat_msg lm;
            memcpy(&lm, m->payload, sizeof lm);
            if (lm.seq >= 0 && lm.seq < x->expect) {
                if (!isnan(x->lat_ms[lm.seq]))
                    x->dup++;
                else
                    x->got++;
                x->lat_ms[lm.seq] = (t - lm.sent_ns) / 1e6;
            }
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(rk, NULL);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *sorted, int64_t n, double p)
{
    if (n == 0)
        return NAN;
    int64_t i = (int64_t)ceil(p / 100.0 * n) - 1;
    if (i < 0)
        i = 0;
    if (i >= n)
        i = n - 1;
    return sorted[i];
}

static void run_latency(const char *bootstrap, const char *topic, result *r)
{
    lat_ctx x = {0};
    int64_t warm = g_rate; /* 1 s of warm-up */
    x.bootstrap = bootstrap;
    x.topic = topic;
    x.expect = warm + (int64_t)g_rate * g_lat_seconds;
    x.lat_ms = malloc(sizeof(double) * x.expect);
    for (int64_t i = 0; i < x.expect; i++)
        x.lat_ms[i] = NAN;
    x.deadline = now_ns() + (int64_t)(g_timeout + g_lat_seconds + 1) * 1000000000;

    rd_kafka_conf_t *c = base_conf(bootstrap);
    char err[256], tmp[32];
    dr_state s = {0};
    set(c, "acks", "1");
    set(c, "linger.ms", g_lat_linger);
    set(c, "socket.nagle.disable", "true");
    snprintf(tmp, sizeof tmp, "%d", g_timeout * 1000);
    set(c, "message.timeout.ms", tmp);
    rd_kafka_conf_set_dr_msg_cb(c, dr_cb);
    rd_kafka_conf_set_opaque(c, &s);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
    if (!rk)
        die("rd_kafka_new: %s", err);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    /* connect and learn the leader before the clock starts */
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) == 0)
        rd_kafka_metadata_destroy(md);

    pthread_t th;
    pthread_create(&th, NULL, lat_consumer, &x);
    while (!x.ready && now_ns() < x.deadline)
        usleep(1000);

    int64_t period = 1000000000 / g_rate;
    x.t0 = now_ns();
    for (int64_t i = 0; i < x.expect && now_ns() < x.deadline; i++) {
        int64_t when = x.t0 + i * period;
        struct timespec ts = {when / 1000000000, when % 1000000000};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
            ;
        lat_msg lm = {.seq = i};
        lm.sent_ns = now_ns();
        rd_kafka_resp_err_t e;
        do {
            e = rd_kafka_producev(rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(0),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                  RD_KAFKA_V_VALUE(&lm, sizeof lm), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(rk, 1);
        } while (e == RD_KAFKA_RESP_ERR__QUEUE_FULL);
        if (e) {
            fail(r, "produce: %s", rd_kafka_err2str(e));
            break;
        }
        rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 10000);
    /* give the consumer up to 10 s for the tail */
    int64_t tail = now_ns() + 10000000000LL;
    while (x.got < x.expect && now_ns() < tail && now_ns() < x.deadline)
        usleep(10000);
    x.stop = 1;
    pthread_join(th, NULL);

    if (!r->err[0]) {
        if (s.failed)
            fail(r, "%" PRId64 " not acknowledged: %s", s.failed, rd_kafka_err2str(s.first_err));
        else if (x.got < x.expect)
            fail(r, "received %" PRId64 "/%" PRId64 "%s%s", x.got, x.expect,
                 x.lasterr ? ", last error " : "", x.lasterr ? rd_kafka_err2str(x.lasterr) : "");
        else if (x.dup)
            fail(r, "%" PRId64 " duplicates", x.dup);
        else {
            if (getenv("E2E_DEBUG")) /* latency samples over time, to see drift */
                for (int64_t i = 0; i < x.expect; i += x.expect / 20)
                    fprintf(stderr, "e2e: latency[%" PRId64 "] = %.3f ms\n", i, x.lat_ms[i]);
            int64_t n = x.expect - warm;
            double *v = malloc(sizeof(double) * n);
            memcpy(v, x.lat_ms + warm, sizeof(double) * n);
            qsort(v, n, sizeof(double), cmp_double);
            r->ok = 1;
            r->count = n;
            r->p50 = pct(v, n, 50);
            r->p99 = pct(v, n, 99);
            r->p999 = pct(v, n, 99.9);
            r->msgs_s = g_rate;
            r->mb_s = g_rate * (double)sizeof(lat_msg) / 1e6;
            free(v);
        }
    }
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    free(x.lat_ms);
}

/* ------------------------------------------------------------ one target */

enum { R_P100_1, R_P100_ALL, R_P100_IDEM, R_P1K_LZ4, R_CONSUME, R_LAT, NROWS };

static const char *row_name(int i)
{
    static char lat[64];
    switch (i) {
    case R_P100_1: return "produce 100 B acks=1";
    case R_P100_ALL: return "produce 100 B acks=all";
    case R_P100_IDEM: return "produce 100 B idempotent";
    case R_P1K_LZ4: return "produce 1 KiB lz4 acks=1";
    case R_CONSUME: return "consume from beginning (100 B)";
    default:
        snprintf(lat, sizeof lat, "e2e latency @ %d msg/s", g_rate);
        return lat;
    }
}

static void run_target(const char *label, const char *bootstrap, rd_kafka_mock_cluster_t *mc,
                       result res[NROWS])
{
    char t1[96], t2[96], t3[96], t4[96], t5[96], why[200];
    snprintf(t1, sizeof t1, "e2e-%s-p100-acks1", g_run_id);
    snprintf(t5, sizeof t5, "e2e-%s-p100-idem", g_run_id);
    snprintf(t2, sizeof t2, "e2e-%s-p100-acksall", g_run_id);
    snprintf(t3, sizeof t3, "e2e-%s-p1k-lz4", g_run_id);
    snprintf(t4, sizeof t4, "e2e-%s-latency", g_run_id);
    memset(res, 0, sizeof(result) * NROWS);

    fprintf(stderr, "e2e: [%s] %s\n", label, bootstrap);
    const char *topics[] = {t1, t2, t3, t4, t5};
    int parts[] = {NPARTS, NPARTS, NPARTS, 1, NPARTS};
    int ok[5];
    for (int i = 0; i < 5; i++) {
        ok[i] = create_topic(bootstrap, mc, topics[i], parts[i], why, sizeof why);
        if (!ok[i])
            fprintf(stderr, "e2e: [%s] topic %s: %s\n", label, topics[i], why);
    }
#define STEP(row, cond, call)                                                         \
    do {                                                                              \
        fprintf(stderr, "e2e: [%s] %s ...\n", label, row_name(row));                  \
        if (!(cond))                                                                  \
            fail(&res[row], "topic not available");                                   \
        else                                                                          \
            call;                                                                     \
        fprintf(stderr, "e2e: [%s] %s: %s\n", label, row_name(row),                   \
                res[row].ok ? "done" : res[row].err);                                 \
    } while (0)
    STEP(R_P100_1, ok[0], run_produce(bootstrap, t1, g_n100, 100, "1", "none", 0, &res[R_P100_1]));
    STEP(R_P100_ALL, ok[1],
         run_produce(bootstrap, t2, g_n100, 100, "all", "none", 0, &res[R_P100_ALL]));
    STEP(R_P100_IDEM, ok[4],
         run_produce(bootstrap, t5, g_n100, 100, "all", "none", 1, &res[R_P100_IDEM]));
    STEP(R_P1K_LZ4, ok[2], run_produce(bootstrap, t3, g_n1k, 1024, "1", "lz4", 0, &res[R_P1K_LZ4]));
    STEP(R_CONSUME, ok[0] && res[R_P100_1].ok,
         run_consume(bootstrap, t1, NPARTS, res[R_P100_1].count, 100, &res[R_CONSUME]));
    STEP(R_LAT, ok[3], run_latency(bootstrap, t4, &res[R_LAT]));
#undef STEP
}

/* TLS rows: 0 produce 100 B acks=1, 1 produce 1 KiB acks=1, 2 consume
 * the 1 KiB topic (sendfile is impossible under TLS: conn.h). */
enum { T_P100, T_P1K, T_CONSUME, NTLS };
static const char *tls_row_name(int i)
{
    static const char *n[] = {"TLS produce 100 B acks=1", "TLS produce 1 KiB acks=1",
                              "TLS consume 1 KiB"};
    return n[i];
}

static void run_tls(const char *bootstrap, result res[NTLS], result plain[NTLS])
{
    char t1[96], t2[96], t3[96], why[200];
    snprintf(t1, sizeof t1, "e2e-%s-tls-p100", g_run_id);
    snprintf(t2, sizeof t2, "e2e-%s-tls-p1k", g_run_id);
    snprintf(t3, sizeof t3, "e2e-%s-plain-p1k", g_run_id);
    memset(res, 0, sizeof(result) * NTLS);
    memset(plain, 0, sizeof(result) * NTLS);
    const char *ca = g_tls_ca;
    /* the same 1 KiB rows in plaintext for comparison (bootstrap of --brook) */
    g_tls_ca = NULL;
    if (g_brook_plain && create_topic(g_brook_plain, NULL, t3, NPARTS, why, sizeof why)) {
        run_produce(g_brook_plain, t3, g_n1k, 1024, "1", "none", 0, &plain[T_P1K]);
        if (plain[T_P1K].ok)
            run_consume(g_brook_plain, t3, NPARTS, plain[T_P1K].count, 1024, &plain[T_CONSUME]);
    }
    g_tls_ca = ca;
    fprintf(stderr, "e2e: [tls] %s\n", bootstrap);
    if (!create_topic(bootstrap, NULL, t1, NPARTS, why, sizeof why) ||
        !create_topic(bootstrap, NULL, t2, NPARTS, why, sizeof why)) {
        for (int i = 0; i < NTLS; i++)
            fail(&res[i], "topic: %s", why);
        return;
    }
    run_produce(bootstrap, t1, g_n100, 100, "1", "none", 0, &res[T_P100]);
    run_produce(bootstrap, t2, g_n1k, 1024, "1", "none", 0, &res[T_P1K]);
    if (res[T_P1K].ok)
        run_consume(bootstrap, t2, NPARTS, res[T_P1K].count, 1024, &res[T_CONSUME]);
    else
        fail(&res[T_CONSUME], "produce failed");
}

/* ------------------------------------------------------------ table */

static void cell_tp(char *out, size_t n, const result *r)
{
    if (!r->ok)
        snprintf(out, n, "FAIL");
    else
        snprintf(out, n, "%10.0f %8.1f", r->msgs_s, r->mb_s);
}

static void cell_tp(char *out, size_t n, const result *r);
static void print_tls(const result *t, const result *plain, const result *b)
{
    char ct[64], cp[64], ratio[32];
    printf("\n%-32s | %-19s | %-19s | %s\n", "workload", "TLS   msgs/s   MB/s",
           "plain msgs/s   MB/s", "TLS/plain");
    for (int i = 0; i < NTLS; i++) {
        const result *p = i == T_P100 ? &b[R_P100_1] : &plain[i];
        cell_tp(ct, sizeof ct, &t[i]);
        cell_tp(cp, sizeof cp, p);
        if (t[i].ok && p->ok && p->msgs_s > 0)
            snprintf(ratio, sizeof ratio, "%.2f", t[i].msgs_s / p->msgs_s);
        else
            snprintf(ratio, sizeof ratio, "-");
        printf("%-32s | %19s | %19s | %s\n", tls_row_name(i), ct, cp, ratio);
        if (!t[i].ok)
            printf("  TLS %s: %s\n", tls_row_name(i), t[i].err);
    }
    fflush(stdout);
}

static void print_table(const result *b, const result *m, int have_b, int have_m)
{
    char cb[64], cm[64], ratio[32];
    printf("\n");
    printf("%-32s | %-19s | %-19s | %s\n", "workload", "Brook msgs/s   MB/s", "mock  msgs/s   MB/s",
           "Brook/mock");
    printf("%.32s-+-%.19s-+-%.19s-+-%s\n", "----------------------------------------",
           "----------------------------------------", "----------------------------------------",
           "----------");
    for (int i = 0; i < R_LAT; i++) {
        cell_tp(cb, sizeof cb, &b[i]);
        cell_tp(cm, sizeof cm, &m[i]);
        if (!have_b)
            snprintf(cb, sizeof cb, "-");
        if (!have_m)
            snprintf(cm, sizeof cm, "-");
        if (have_b && have_m && b[i].ok && m[i].ok && m[i].msgs_s > 0)
            snprintf(ratio, sizeof ratio, "%.2f", b[i].msgs_s / m[i].msgs_s);
        else
            snprintf(ratio, sizeof ratio, "-");
        printf("%-32s | %19s | %19s | %s\n", row_name(i), cb, cm, ratio);
    }
    const char *pn[] = {"p50", "p99", "p99.9"};
    for (int k = 0; k < 3; k++) {
        double vb = k == 0 ? b[R_LAT].p50 : k == 1 ? b[R_LAT].p99 : b[R_LAT].p999;
        double vm = k == 0 ? m[R_LAT].p50 : k == 1 ? m[R_LAT].p99 : m[R_LAT].p999;
        char name[96];
        snprintf(name, sizeof name, "%s %s", row_name(R_LAT), pn[k]);
        if (have_b && b[R_LAT].ok)
            snprintf(cb, sizeof cb, "%.3f ms", vb);
        else
            snprintf(cb, sizeof cb, have_b ? "FAIL" : "-");
        if (have_m && m[R_LAT].ok)
            snprintf(cm, sizeof cm, "%.3f ms", vm);
        else
            snprintf(cm, sizeof cm, have_m ? "FAIL" : "-");
        if (have_b && have_m && b[R_LAT].ok && m[R_LAT].ok && vm > 0)
            snprintf(ratio, sizeof ratio, "%.2f", vb / vm);
        else
            snprintf(ratio, sizeof ratio, "-");
        printf("%-32s | %19s | %19s | %s\n", name, cb, cm, ratio);
    }
    const char *who[2] = {"Brook", "mock "};
    const result *rr[2] = {b, m};
    int have[2] = {have_b, have_m};
    for (int k = 0; k < 2; k++) {
        if (!have[k])
            continue;
        const result *x = &rr[k][R_P1K_LZ4];
        if (x->ok && x->wire_ratio > 0)
            printf("  %s lz4 row: bytes sent / value bytes = %.2f%s\n", who[k], x->wire_ratio,
                   x->wire_ratio > 0.9 ? "  <- NOT compressed: librdkafka enables lz4 only if the broker "
                                         "advertises FindCoordinator v0 (CLIENTS.md 2.1)"
                                       : "");
        x = &rr[k][R_CONSUME];
        if (x->ok && x->available < rr[k][R_P100_1].count)
            printf("  %s consume row: the log held %" PRId64 " of the %" PRId64
                   " messages produced (retention), all of them read\n",
                   who[k], x->available, rr[k][R_P100_1].count);
    }
    for (int i = 0; i < NROWS; i++) {
        if (have_b && !b[i].ok)
            printf("  Brook %s: %s\n", row_name(i), b[i].err);
        if (have_m && !m[i].ok)
            printf("  mock  %s: %s\n", row_name(i), m[i].err);
    }
    printf("\nmsgs/s and MB/s count record values (uncompressed); latency = consumer receive - "
           "producer send, same host clock; Brook/mock > 1 means Brook is faster for throughput "
           "rows, slower for latency rows.\n"
           "librdkafka's mock cluster answers an empty Fetch only after the full fetch.wait.max.ms "
           "(500 ms by default) and is not woken by a produce, so its latency is bounded by that "
           "wait, not by its speed.\n");
    fflush(stdout);
}

/* ------------------------------------------------------------ mock */

static rd_kafka_t *g_mock_rk;

static rd_kafka_mock_cluster_t *mock_start(void)
{
    char err[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    set(c, "log_level", "3");
    g_mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
    if (!g_mock_rk)
        die("rd_kafka_new(mock): %s", err);
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(g_mock_rk, 1);
    if (!mc)
        die("rd_kafka_mock_cluster_new failed");
    return mc;
}

static void mock_stop(rd_kafka_mock_cluster_t *mc)
{
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(g_mock_rk);
}

static volatile sig_atomic_t g_stop;
static void on_sig(int s)
{
    (void)s;
    g_stop = 1;
}

static int serve_mock(int argc, char **argv)
{
    rd_kafka_mock_cluster_t *mc = mock_start();
    for (int i = 0; i < argc; i++) {
        char name[256];
        int parts = 1;
        const char *colon = strrchr(argv[i], ':');
        if (colon) {
            snprintf(name, sizeof name, "%.*s", (int)(colon - argv[i]), argv[i]);
            parts = atoi(colon + 1);
        } else {
            snprintf(name, sizeof name, "%s", argv[i]);
        }
        rd_kafka_mock_topic_create(mc, name, parts, 1);
    }
    printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);
    struct sigaction sa = {.sa_handler = on_sig};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    while (!g_stop) {
        struct pollfd p = {.fd = 0, .events = POLLIN};
        int n = poll(&p, 1, 200);
        if (n > 0) {
            char buf[256];
            if (read(0, buf, sizeof buf) <= 0)
                break;
        }
    }
    mock_stop(mc);
    return 0;
}

/* ------------------------------------------------------------ main */

static void usage(void)
{
    fprintf(stderr, "usage: e2e [--brook HOST:PORT] [--no-mock] [--n100 N] [--n1k N] [--rate R]\n"
                    "           [--lat-seconds S] [--lat-linger MS] [--timeout S]\n"
                    "           [--brook-tls HOST:PORT --tls-ca FILE]\n"
                    "       e2e --serve-mock [TOPIC:PARTITIONS ...]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *brook = NULL, *brook_tls = NULL, *tls_ca = NULL;
    int use_mock = 1;
    signal(SIGPIPE, SIG_IGN);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--serve-mock"))
            return serve_mock(argc - i - 1, argv + i + 1);
        else if (!strcmp(a, "--no-mock"))
            use_mock = 0;
        else if (!v)
            usage();
        else if (!strcmp(a, "--brook"))
            brook = v, i++;
        else if (!strcmp(a, "--n100"))
            g_n100 = atoll(v), i++;
        else if (!strcmp(a, "--n1k"))
            g_n1k = atoll(v), i++;
        else if (!strcmp(a, "--rate"))
            g_rate = atoi(v), i++;
        else if (!strcmp(a, "--lat-seconds"))
            g_lat_seconds = atoi(v), i++;
        else if (!strcmp(a, "--lat-linger"))
            g_lat_linger = v, i++;
        else if (!strcmp(a, "--timeout"))
            g_timeout = atoi(v), i++;
        else if (!strcmp(a, "--brook-tls"))
            brook_tls = v, i++;
        else if (!strcmp(a, "--tls-ca"))
            tls_ca = v, i++;
        else
            usage();
    }
    if (!brook && !use_mock)
        usage();
    if (g_n100 <= 0 || g_n1k <= 0 || g_rate <= 0 || g_rate > 1000000 || g_lat_seconds <= 0)
        usage();
    snprintf(g_run_id, sizeof g_run_id, "%ld-%d", (long)time(NULL), (int)getpid());

    char ver[64];
    snprintf(ver, sizeof ver, "%s", rd_kafka_version_str());
    printf("e2e: librdkafka %s; %" PRId64 " x 100 B, %" PRId64 " x 1 KiB (lz4), %d partitions; "
           "latency %d msg/s for %d s (+1 s warm-up), linger.ms=%s\n",
           ver, g_n100, g_n1k, NPARTS, g_rate, g_lat_seconds, g_lat_linger);
    fflush(stdout);

    static result rb[NROWS], rm[NROWS];
    if (brook)
        run_target("brook", brook, NULL, rb);
    if (use_mock) {
        rd_kafka_mock_cluster_t *mc = mock_start();
        run_target("mock", rd_kafka_mock_cluster_bootstraps(mc), mc, rm);
        mock_stop(mc);
    }
    print_table(rb, rm, brook != NULL, use_mock);
    static result rt[NTLS], rp[NTLS];
    if (brook_tls) {
        if (!tls_ca)
            usage();
        g_brook_plain = brook;
        g_tls_ca = tls_ca;
        run_tls(brook_tls, rt, rp);
        g_tls_ca = NULL;
        print_tls(rt, rp, rb);
    }
    int allok = 1;
    for (int i = 0; brook_tls && i < NTLS; i++)
        allok &= rt[i].ok;
    for (int i = 0; i < NROWS; i++)
        if ((brook && !rb[i].ok) || (use_mock && !rm[i].ok))
            allok = 0;
    return allok ? 0 : 1;
}
