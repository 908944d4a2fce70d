/* metrics.c - see metrics.h. */
#include "metrics.h"

#include "err.h"

#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

bk_metrics bk_metrics_g;

/* ------------------------------------------------------------ histograms */

int bk_hist_bucket(uint64_t us)
{
    if (us < 4)
        return (int)us;
    int e = 63 - __builtin_clzll(us);
    int i = 4 * e + (int)((us >> (e - 2)) & 3);
    return i < BK_HIST_NB ? i : BK_HIST_NB - 1;
}

void bk_hist_bounds(int i, double *lo, double *hi)
{
    if (i < 4) {
        *lo = i;
        *hi = i + 1;
        return;
    }
    int e = i / 4, sub = i % 4;
    *lo = ldexp(4 + sub, e - 2);
    *hi = ldexp(5 + sub, e - 2);
}

/* Start a new window when the current one is over (two if both are). */
static void hist_rotate(bk_hist *h, int64_t now_ms)
{
    int64_t age = now_ms - h->win_start_ms;
    if (age < BK_HIST_WINDOW_MS)
        return;
    int prev = h->cur ^ 1;
    if (age >= 2 * BK_HIST_WINDOW_MS) { /* both windows are stale */
        memset(h->win[h->cur], 0, sizeof h->win[h->cur]);
        h->wn[h->cur] = 0;
    }
    memset(h->win[prev], 0, sizeof h->win[prev]);
    h->wn[prev] = 0;
    h->cur = prev;
    h->win_start_ms = now_ms;
}

void bk_hist_record(bk_hist *h, uint64_t us, int64_t now_ms)
{
    hist_rotate(h, now_ms);
    int b = bk_hist_bucket(us);
    h->win[h->cur][b]++;
    h->cum[b]++;
    h->wn[h->cur]++;
    h->count++;
    h->sum_us += (double)us;
}

double bk_hist_quantile(bk_hist *h, double q, int64_t now_ms)
{
    hist_rotate(h, now_ms);
    uint64_t n = (uint64_t)h->wn[0] + h->wn[1];
    if (n == 0)
        return NAN;
    if (q < 0)
        q = 0;
    if (q > 1)
        q = 1;
    /* rank in (0, n]: the value at or below which q of the values lie */
    double rank = q * (double)n;
    if (rank < 1)
        rank = 1;
    double seen = 0;
    for (int i = 0; i < BK_HIST_NB; i++) {
        uint32_t c = h->win[0][i] + h->win[1][i];
        if (!c)
            continue;
        if (seen + c >= rank) {
            double lo, hi;
            bk_hist_bounds(i, &lo, &hi);
            return lo + (hi - lo) * ((rank - seen) / c);
        }
        seen += c;
    }
    double lo, hi;
    bk_hist_bounds(BK_HIST_NB - 1, &lo, &hi);
    return hi;
}

/* --------------------------------------------------------- topic table */

static uint32_t fnv1a(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 16777619u;
    }
    return h;
}

static bool name_eq(const bk_topic_counters *t, const char *name, size_t len)
{
    return strncmp(t->name, name, len) == 0 && t->name[len] == '\0';
}

static int topics_grow(bk_metrics *m)
{
    uint32_t ncap = m->captopics ? m->captopics * 2 : 64;
    bk_topic_counters **nt = calloc(ncap, sizeof *nt);
    if (!nt)
        return BK_ENOMEM;
    for (uint32_t i = 0; i < m->captopics; i++) {
        bk_topic_counters *t = m->topics[i];
        if (!t)
            continue;
        uint32_t j = fnv1a(t->name, strlen(t->name)) & (ncap - 1);
        while (nt[j])
            j = (j + 1) & (ncap - 1);
        nt[j] = t;
    }
    free(m->topics);
    m->topics = nt;
    m->captopics = ncap;
    return 0;
}

bk_topic_counters *bk_metrics_topic(const char *name, size_t len)
{
    bk_metrics *m = &bk_metrics_g;
    if (m->captopics) {
        uint32_t j = fnv1a(name, len) & (m->captopics - 1);
        for (bk_topic_counters *t; (t = m->topics[j]); j = (j + 1) & (m->captopics - 1))
            if (name_eq(t, name, len))
                return t;
    }
    if ((m->ntopics + 1) * 4 > m->captopics * 3 && topics_grow(m) != 0)
        return NULL;
    bk_topic_counters *t = calloc(1, sizeof *t);
    char *nm = malloc(len + 1);
    if (!t || !nm) {
        free(t);
        free(nm);
        return NULL;
    }
    memcpy(nm, name, len);
    nm[len] = '\0';
    t->name = nm;
    uint32_t j = fnv1a(name, len) & (m->captopics - 1);
    while (m->topics[j])
        j = (j + 1) & (m->captopics - 1);
    m->topics[j] = t;
    m->ntopics++;
    return t;
}

void bk_metrics_topic_remove(const char *name, size_t len)
{
    bk_metrics *m = &bk_metrics_g;
    if (!m->captopics)
        return;
    uint32_t mask = m->captopics - 1, j = fnv1a(name, len) & mask;
    bk_topic_counters *t;
    while ((t = m->topics[j]) && !name_eq(t, name, len))
        j = (j + 1) & mask;
    if (!t)
        return;
    free(t->name);
    free(t);
    m->topics[j] = NULL;
    m->ntopics--;
    /* Backward-shift: re-insert the rest of the cluster. */
    for (uint32_t k = (j + 1) & mask; m->topics[k]; k = (k + 1) & mask) {
        bk_topic_counters *r = m->topics[k];
        m->topics[k] = NULL;
        uint32_t h = fnv1a(r->name, strlen(r->name)) & mask;
        while (m->topics[h])
            h = (h + 1) & mask;
        m->topics[h] = r;
    }
}

void bk_metrics_topic_gc(bool (*exists)(const char *topic, void *ud), void *ud)
{
    bk_metrics *m = &bk_metrics_g;
    /* collect first: removal reorders the table */
    char **gone = NULL;
    size_t n = 0;
    for (uint32_t i = 0; i < m->captopics; i++) {
        bk_topic_counters *t = m->topics[i];
        if (!t || exists(t->name, ud))
            continue;
        char **ng = realloc(gone, (n + 1) * sizeof *gone);
        if (!ng)
            break;
        gone = ng;
        gone[n++] = t->name;
    }
    for (size_t i = 0; i < n; i++) {
        char *name = gone[i];
        gone[i] = NULL;
        size_t len = strlen(name);
        char buf[256];
        if (len >= sizeof buf)
            continue; /* topic names are at most 249 bytes */
        memcpy(buf, name, len + 1); /* name is freed by the removal */
        bk_metrics_topic_remove(buf, len);
    }
    free(gone);
}

/* -------------------------------------------------------- request metrics */

void bk_metrics_request(int api_key, int api_version)
{
    if (api_key < 0 || api_key >= BK_METRICS_NAPI)
        return;
    if (api_version < 0 || api_version >= BK_METRICS_NVER)
        api_version = BK_METRICS_NVER - 1;
    bk_metrics_g.api[api_key].requests[api_version]++;
}

void bk_metrics_error(int api_key, int err)
{
    if (api_key < 0 || api_key >= BK_METRICS_NAPI || err < -1 || err >= BK_METRICS_NERR - 1)
        return;
    bk_metrics_g.api[api_key].errors[err + 1]++;
}

void bk_metrics_timing(int api_key, const uint64_t *us, int64_t now_ms)
{
    if (api_key < 0 || api_key >= BK_METRICS_NAPI)
        return;
    bk_api_metrics *a = &bk_metrics_g.api[api_key];
    for (int i = 0; i < BK_RT_N; i++) {
        if (!a->hist[i]) {
            a->hist[i] = calloc(1, sizeof *a->hist[i]);
            if (!a->hist[i])
                return;
            a->hist[i]->win_start_ms = now_ms;
        }
        bk_hist_record(a->hist[i], us[i], now_ms);
    }
}

void bk_metrics_reset(void)
{
    bk_metrics *m = &bk_metrics_g;
    for (uint32_t i = 0; i < m->captopics; i++)
        if (m->topics[i]) {
            free(m->topics[i]->name);
            free(m->topics[i]);
        }
    free(m->topics);
    for (int k = 0; k < BK_METRICS_NAPI; k++)
        for (int i = 0; i < BK_RT_N; i++)
            free(m->api[k].hist[i]);
    memset(m, 0, sizeof *m);
}

/* ---------------------------------------------------- Prometheus writer */

void bk_prom_printf(bk_wr *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        bk_wr_mem(w, small, (size_t)n);
        return;
    }
    uint8_t *p = bk_wr_reserve(w, (size_t)n + 1);
    if (!p)
        return;
    va_start(ap, fmt);
    vsnprintf((char *)p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    w->len += (size_t)n;
}

void bk_prom_family(bk_wr *w, const char *name, const char *type, const char *help)
{
    bk_prom_printf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void bk_prom_escape(bk_wr *w, const char *v, int len)
{
    size_t n = len < 0 ? strlen(v) : (size_t)len;
    for (size_t i = 0; i < n; i++) {
        char ch = v[i];
        if (ch == '\\' || ch == '"') {
            bk_wr_u8(w, '\\');
            bk_wr_u8(w, (uint8_t)ch);
        } else if (ch == '\n') {
            bk_wr_mem(w, "\\n", 2);
        } else {
            bk_wr_u8(w, (uint8_t)ch);
        }
    }
}

void bk_prom_value(bk_wr *w, double v)
{
    if (isnan(v))
        bk_wr_mem(w, "NaN", 3);
    else if (isinf(v))
        bk_prom_printf(w, "%s", v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 9e15)
        bk_prom_printf(w, "%lld", (long long)v);
    else
        bk_prom_printf(w, "%.10g", v);
}

static void sample_head(bk_wr *w, const char *name, const char *labels)
{
    bk_wr_mem(w, name, strlen(name));
    if (labels && *labels) {
        bk_wr_u8(w, '{');
        bk_wr_mem(w, labels, strlen(labels));
        bk_wr_u8(w, '}');
    }
    bk_wr_u8(w, ' ');
}

void bk_prom_sample(bk_wr *w, const char *name, const char *labels, double v)
{
    sample_head(w, name, labels);
    bk_prom_value(w, v);
    bk_wr_u8(w, '\n');
}

void bk_prom_sample_u(bk_wr *w, const char *name, const char *labels, uint64_t v)
{
    sample_head(w, name, labels);
    bk_prom_printf(w, "%llu\n", (unsigned long long)v);
}

/* ------------------------------------------------------- the exposition */

/* One BrokerTopicMetrics family: the all-topics sample, then per topic. */
static void write_btm(bk_wr *w, const char *name, const char *help, size_t field,
                      bool (*exists)(const char *, void *), void *ud)
{
    bk_metrics *m = &bk_metrics_g;
    bk_prom_family(w, name, "counter", help);
    bk_prom_sample_u(w, name, "", *(const uint64_t *)((const char *)&m->all + field));
    for (uint32_t i = 0; i < m->captopics; i++) {
        const bk_topic_counters *t = m->topics[i];
        if (!t || (exists && !exists(t->name, ud)))
            continue;
        bk_prom_printf(w, "%s{topic=\"", name);
        bk_prom_escape(w, t->name, -1);
        bk_prom_printf(w, "\"} %llu\n",
                       (unsigned long long)*(const uint64_t *)((const char *)t + field));
    }
}

static const char *const rt_names[BK_RT_N] = {
    "totaltimems",          "requestqueuetimems",  "localtimems",
    "remotetimems",         "responsequeuetimems", "responsesendtimems",
};
static const char *const rt_help[BK_RT_N] = {
    "TotalTimeMs: receipt of the request to the last byte of its response sent",
    "RequestQueueTimeMs: request read to its handling started",
    "LocalTimeMs: handling on the broker (decode, log append/read, encode)",
    "RemoteTimeMs: time parked in purgatory (acks=all Produce, long-poll Fetch)",
    "ResponseQueueTimeMs: response ready to its first byte written",
    "ResponseSendTimeMs: first to last byte of the response written to the socket",
};

static const double quantiles[] = {0.50, 0.75, 0.95, 0.98, 0.99, 0.999};
static const char *const qnames[] = {"0.50", "0.75", "0.95", "0.98", "0.99", "0.999"};

void bk_metrics_write(bk_wr *w, int64_t now_ms, const char *(*api_name)(int key),
                      bool (*exists)(const char *topic, void *ud), void *ud)
{
    bk_metrics *m = &bk_metrics_g;
#define BTM(n, f, h)                                                                               \
    write_btm(w, "kafka_server_brokertopicmetrics_" n "_total", h,                                 \
              offsetof(bk_topic_counters, f), exists, ud)
    BTM("messagesin", messages_in, "MessagesInPerSec: records appended by produce requests");
    BTM("bytesin", bytes_in, "BytesInPerSec: record batch bytes received from producers");
    BTM("bytesout", bytes_out, "BytesOutPerSec: record bytes sent to consumers and followers");
    BTM("bytesrejected", bytes_rejected, "BytesRejectedPerSec: produce bytes refused");
    BTM("totalproducerequests", produce_reqs, "TotalProduceRequestsPerSec: per-partition produce");
    BTM("totalfetchrequests", fetch_reqs, "TotalFetchRequestsPerSec: per-partition fetch");
    BTM("failedproducerequests", failed_produce,
        "FailedProduceRequestsPerSec: per-partition produce that failed");
    BTM("failedfetchrequests", failed_fetch,
        "FailedFetchRequestsPerSec: per-partition fetch that failed");
#undef BTM

    const char *rq = "kafka_network_requestmetrics_requests_total";
    bk_prom_family(w, rq, "counter", "RequestsPerSec: requests received, by API and version");
    for (int k = 0; k < BK_METRICS_NAPI; k++)
        for (int v = 0; v < BK_METRICS_NVER; v++)
            if (m->api[k].requests[v])
                bk_prom_printf(w, "%s{request=\"%s\",version=\"%d\"} %llu\n", rq, api_name(k), v,
                               (unsigned long long)m->api[k].requests[v]);

    const char *er = "kafka_network_requestmetrics_errors_total";
    bk_prom_family(w, er, "counter",
                   "ErrorsPerSec: error codes in responses (NONE included), by API and error");
    for (int k = 0; k < BK_METRICS_NAPI; k++)
        for (int e = 0; e < BK_METRICS_NERR; e++)
            if (m->api[k].errors[e])
                bk_prom_printf(w, "%s{request=\"%s\",error=\"%s\"} %llu\n", er, api_name(k),
                               bk_kerr_name((int16_t)(e - 1)),
                               (unsigned long long)m->api[k].errors[e]);

    for (int r = 0; r < BK_RT_N; r++) {
        char name[96];
        snprintf(name, sizeof name, "kafka_network_requestmetrics_%s", rt_names[r]);
        bk_prom_family(w, name, "summary", rt_help[r]);
        for (int k = 0; k < BK_METRICS_NAPI; k++) {
            bk_hist *h = m->api[k].hist[r];
            if (!h)
                continue;
            for (size_t q = 0; q < BK_ARRAY_LEN(quantiles); q++) {
                bk_prom_printf(w, "%s{request=\"%s\",quantile=\"%s\"} ", name, api_name(k),
                               qnames[q]);
                bk_prom_value(w, bk_hist_quantile(h, quantiles[q], now_ms) / 1000.0);
                bk_wr_u8(w, '\n');
            }
            bk_prom_printf(w, "%s_count{request=\"%s\"} %llu\n", name, api_name(k),
                           (unsigned long long)h->count);
            bk_prom_printf(w, "%s_sum{request=\"%s\"} ", name, api_name(k));
            bk_prom_value(w, h->sum_us / 1000.0);
            bk_wr_u8(w, '\n');
        }
    }

    /* native histogram of the total time: le = 2^k us, k = 3..27 */
    const char *hn = "brook_request_total_time_seconds";
    bk_prom_family(w, hn, "histogram",
                   "TotalTimeMs as a cumulative Prometheus histogram (seconds), by API");
    for (int k = 0; k < BK_METRICS_NAPI; k++) {
        bk_hist *h = m->api[k].hist[BK_RT_TOTAL];
        if (!h)
            continue;
        /* bucket 4e+3 ends at 2^(e+1) us: a boundary every 4 buckets */
        uint64_t acc = 0;
        for (int i = 0; i < BK_HIST_NB - 1; i++) {
            acc += h->cum[i];
            int e = i / 4 + 1;
            if (i % 4 != 3 || e < 3)
                continue;
            bk_prom_printf(w, "%s_bucket{request=\"%s\",le=\"%.6g\"} %llu\n", hn, api_name(k),
                           ldexp(1, e) / 1e6, (unsigned long long)acc);
        }
        bk_prom_printf(w, "%s_bucket{request=\"%s\",le=\"+Inf\"} %llu\n", hn, api_name(k),
                       (unsigned long long)h->count);
        bk_prom_printf(w, "%s_sum{request=\"%s\"} ", hn, api_name(k));
        bk_prom_value(w, h->sum_us / 1e6);
        bk_prom_printf(w, "\n%s_count{request=\"%s\"} %llu\n", hn, api_name(k),
                       (unsigned long long)h->count);
    }

    bk_prom_family(w, "kafka_server_replicamanager_isrshrinks_total", "counter",
                   "IsrShrinksPerSec: ISR shrinks by this broker as leader");
    bk_prom_sample_u(w, "kafka_server_replicamanager_isrshrinks_total", "", m->isr_shrinks);
    bk_prom_family(w, "kafka_server_replicamanager_isrexpands_total", "counter",
                   "IsrExpandsPerSec: ISR expansions by this broker as leader");
    bk_prom_sample_u(w, "kafka_server_replicamanager_isrexpands_total", "", m->isr_expands);
    bk_prom_family(w, "kafka_controller_controllerstats_uncleanleaderelections_total", "counter",
                   "UncleanLeaderElectionsPerSec: unclean elections by this broker as controller");
    bk_prom_sample_u(w, "kafka_controller_controllerstats_uncleanleaderelections_total", "",
                     m->unclean_elections);
    bk_prom_family(w, "kafka_server_brokertopicmetrics_replicationbytesin_total", "counter",
                   "ReplicationBytesInPerSec: record bytes appended by this broker as follower");
    bk_prom_sample_u(w, "kafka_server_brokertopicmetrics_replicationbytesin_total", "",
                     m->replication_bytes_in);
    bk_prom_family(w, "kafka_server_brokertopicmetrics_replicationbytesout_total", "counter",
                   "ReplicationBytesOutPerSec: record bytes sent to followers");
    bk_prom_sample_u(w, "kafka_server_brokertopicmetrics_replicationbytesout_total", "",
                     m->replication_bytes_out);
    bk_prom_family(w, "brook_slow_requests_total", "counter",
                   "Requests slower than request.slow.ms (each one is also logged, rate-limited)");
    bk_prom_sample_u(w, "brook_slow_requests_total", "", m->slow_requests);
}

/* ------------------------------------------------------ process metrics */

void bk_metrics_write_process(bk_wr *w)
{
    long tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    double cpu = NAN, rss = NAN, vsz = NAN, start = NAN;
    FILE *f = fopen("/proc/self/stat", "re");
    if (f) {
        char buf[1024];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        /* fields after the ")" that ends comm: state is field 3 */
        char *p = strrchr(buf, ')');
        unsigned long long ut, st, starttime, vsize;
        long long rs;
        if (p && sscanf(p + 2,
                        "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d "
                        "%*d %*d %llu %llu %lld",
                        &ut, &st, &starttime, &vsize, &rs) == 5 &&
            tck > 0) {
            cpu = (double)(ut + st) / (double)tck;
            rss = (double)rs * (double)page;
            vsz = (double)vsize;
            /* starttime is in ticks since boot */
            FILE *s = fopen("/proc/stat", "re");
            char line[256];
            while (s && fgets(line, sizeof line, s)) {
                unsigned long long btime;
                if (sscanf(line, "btime %llu", &btime) == 1) {
                    start = (double)btime + (double)starttime / (double)tck;
                    break;
                }
            }
            if (s)
                fclose(s);
        }
    }
    double fds = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)))
            if (de->d_name[0] != '.')
                fds++;
        closedir(d);
        fds--; /* the directory stream's own descriptor */
    } else {
        fds = NAN;
    }
    struct rlimit rl;
    double maxfds = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                        ? (double)rl.rlim_cur
                        : NAN;

    bk_prom_family(w, "process_cpu_seconds_total", "counter", "User and system CPU time spent");
    bk_prom_sample(w, "process_cpu_seconds_total", "", cpu);
    bk_prom_family(w, "process_open_fds", "gauge", "Open file descriptors");
    bk_prom_sample(w, "process_open_fds", "", fds);
    bk_prom_family(w, "process_max_fds", "gauge", "Limit of open file descriptors (RLIMIT_NOFILE)");
    bk_prom_sample(w, "process_max_fds", "", maxfds);
    bk_prom_family(w, "process_resident_memory_bytes", "gauge", "Resident memory size");
    bk_prom_sample(w, "process_resident_memory_bytes", "", rss);
    bk_prom_family(w, "process_virtual_memory_bytes", "gauge", "Virtual memory size");
    bk_prom_sample(w, "process_virtual_memory_bytes", "", vsz);
    bk_prom_family(w, "process_start_time_seconds", "gauge",
                   "Start time of the process since the Unix epoch");
    bk_prom_sample(w, "process_start_time_seconds", "", start);
}
