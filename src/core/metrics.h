/*
 * metrics.h - counters, latency histograms and the Prometheus text writer.
 *
 * What is counted. The broker exports Kafka's metrics under the names the
 * Prometheus JMX exporter's common Kafka rules give Kafka's MBeans (the
 * full table is docs/metrics.md). This module holds the raw numbers that
 * change on the request path: per-topic BrokerTopicMetrics counters, per
 * API request counts (by version), error counts (by API and error code)
 * and the six latency histograms Kafka's RequestMetrics keep per API
 * (total, request queue, local, remote, response queue, response send),
 * plus a few broker-wide event counters (ISR shrinks/expands, unclean
 * elections). Gauges that describe state (partition counts, log sizes,
 * connections) are not stored: the scrape reads them where they live.
 *
 * Cost. Everything here is owned by the loop thread (the only thread that
 * handles requests), so the hot path is plain increments: no atomics, no
 * locks. A topic's counters are found by name once per partition of a
 * request (a small open-addressing table, FNV-1a); the histograms are
 * fixed arrays of 32-bit buckets indexed with one clz. Another thread that
 * wants to count must keep its own counters and have them summed at
 * scrape time (none does today).
 *
 * Histograms. Buckets are HdrHistogram-like: four linear sub-buckets per
 * power of two of microseconds (12.5-25% wide), 1 us .. ~4.5 min. Kafka's
 * percentiles come from a decaying reservoir (recent values weigh most);
 * ours come from two alternating windows of BK_HIST_WINDOW_MS: a quantile
 * covers the current window plus the previous one (30-60 s of requests),
 * so a latency spike shows up and fades like Kafka's. The value is
 * interpolated linearly inside its bucket. count/sum are cumulative, and so
 * are per-bucket counts, exported for the total time as a native
 * Prometheus histogram (le = powers of two of microseconds, in seconds)
 * for histogram_quantile() over any range.
 *
 * Prometheus text. bk_prom_* append exposition format 0.0.4 to a bk_wr:
 * HELP/TYPE lines once per family, label values escaped (\\, \", \n),
 * values as integers when they are, %.17g otherwise, NaN/+Inf spelled
 * as Prometheus wants.
 *
 * Thread: loop thread only (bk_prom_* are pure and may be used anywhere).
 */
#ifndef BK_METRICS_H
#define BK_METRICS_H

#include "buf.h"
#include "kb.h"

#include <time.h>

/* ------------------------------------------------------------ histograms */

#define BK_HIST_NB        112 /* 4 per power of two up to 2^28 us */
#define BK_HIST_WINDOW_MS 30000

typedef struct bk_hist {
    uint32_t win[2][BK_HIST_NB];
    uint32_t wn[2];       /* values in each window */
    int cur;              /* window being filled */
    int64_t win_start_ms; /* monotonic start of win[cur] */
    uint64_t count;       /* cumulative */
    double sum_us;        /* cumulative */
    uint64_t cum[BK_HIST_NB]; /* cumulative per bucket (native histogram) */
} bk_hist;

/* Bucket of a value in microseconds; [lo, hi) bounds of bucket i. */
int bk_hist_bucket(uint64_t us);
void bk_hist_bounds(int i, double *lo, double *hi);
void bk_hist_record(bk_hist *h, uint64_t us, int64_t now_ms);
/* q in [0,1] over the recent windows, microseconds; NAN when empty. */
double bk_hist_quantile(bk_hist *h, double q, int64_t now_ms);

/* ---------------------------------------------------------- the counters */

#define BK_METRICS_NAPI  128 /* API keys counted (larger keys are not) */
#define BK_METRICS_NVER  32
#define BK_METRICS_NERR  130 /* error codes -1 .. 128 */

/* Kafka's RequestMetrics time split. */
enum {
    BK_RT_TOTAL,
    BK_RT_REQ_QUEUE,
    BK_RT_LOCAL,
    BK_RT_REMOTE,
    BK_RT_RESP_QUEUE,
    BK_RT_RESP_SEND,
    BK_RT_N
};

/* Kafka's BrokerTopicMetrics, per topic and (t == NULL) for all topics. */
typedef struct bk_topic_counters {
    char *name; /* owned */
    uint64_t messages_in, bytes_in, bytes_out, bytes_rejected;
    uint64_t produce_reqs, fetch_reqs, failed_produce, failed_fetch;
} bk_topic_counters;

typedef struct bk_api_metrics {
    uint64_t requests[BK_METRICS_NVER];
    uint64_t errors[BK_METRICS_NERR];
    bk_hist *hist[BK_RT_N]; /* owned, allocated on first use */
} bk_api_metrics;

typedef struct bk_metrics {
    bk_topic_counters all;          /* name NULL */
    bk_topic_counters **topics;     /* owned: open addressing, cap a power of two */
    uint32_t ntopics, captopics;
    bk_api_metrics api[BK_METRICS_NAPI];
    uint64_t isr_shrinks, isr_expands, unclean_elections;
    uint64_t replication_bytes_in, replication_bytes_out; /* all topics, as Kafka */
    uint64_t slow_requests;         /* logged (or suppressed) over request.slow.ms */
    int64_t start_wall_ms;
} bk_metrics;

/* The process's counters (loop thread). */
extern bk_metrics bk_metrics_g;

/* The counters of topic name[0..len) (created on first use; NULL only when
 * out of memory, then counting is skipped). */
bk_topic_counters *bk_metrics_topic(const char *name, size_t len);
/* Forget a deleted topic's counters (as Kafka removes its MBeans). */
void bk_metrics_topic_remove(const char *name, size_t len);
/* Forget the counters of every topic for which exists() is false. */
void bk_metrics_topic_gc(bool (*exists)(const char *topic, void *ud), void *ud);

void bk_metrics_request(int api_key, int api_version);
void bk_metrics_error(int api_key, int err);
/* us[BK_RT_N], microseconds. */
void bk_metrics_timing(int api_key, const uint64_t *us, int64_t now_ms);
/* Free everything (tests, shutdown). */
void bk_metrics_reset(void);

/* Monotonic microseconds, uncached (vDSO: tens of ns). */
static inline uint64_t bk_metrics_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---------------------------------------------------- Prometheus writer */

/* printf into w (no escaping). */
void bk_prom_printf(bk_wr *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "# HELP name help\n# TYPE name type\n" */
void bk_prom_family(bk_wr *w, const char *name, const char *type, const char *help);
/* A label value, escaped, without quotes. len < 0: NUL-terminated. */
void bk_prom_escape(bk_wr *w, const char *v, int len);
/* name{labels} value\n; labels is pre-rendered ("" or 'a="b",c="d"'). */
void bk_prom_sample(bk_wr *w, const char *name, const char *labels, double v);
void bk_prom_sample_u(bk_wr *w, const char *name, const char *labels, uint64_t v);
/* Render a value as Prometheus text ("NaN", "+Inf", integers plainly). */
void bk_prom_value(bk_wr *w, double v);

/* The request-path metrics: BrokerTopicMetrics (all topics and per topic;
 * only topics for which exists(name) is true, when exists is given),
 * RequestMetrics requests/errors/latency quantiles per API (names from
 * api_name(key)), and the event counters. */
void bk_metrics_write(bk_wr *w, int64_t now_ms, const char *(*api_name)(int key),
                      bool (*exists)(const char *topic, void *ud), void *ud);

/* Prometheus's standard process_* metrics from /proc/self. */
void bk_metrics_write_process(bk_wr *w);

#endif
