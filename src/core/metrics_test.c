/* metrics_test.c - histogram buckets and quantiles, the topic table, the
 * Prometheus text writer, the HTTP head parser (net/http.h) and the log
 * component. */
#include "metrics.h"

#include "../../tests/unit.h"
#include "../net/http.h"
#include "log.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static const char *bk_kerr_api_name_for_tests(int key)
{
    static char buf[16];
    snprintf(buf, sizeof buf, "K%d", key);
    return buf;
}

static bool ends_in_1(const char *t, void *ud)
{
    return t[strlen(t) - 1] == '1';
}

static bool wr_is(const bk_wr *w, const char *s)
{
    return w->len == strlen(s) && memcmp(w->buf, s, w->len) == 0;
}

void bk_test_metrics(void);
void bk_test_metrics(void)
{
    BK_TEST("metrics: every value falls inside the bounds of its bucket");
    bool ok = true;
    int prev = -1;
    for (uint64_t v = 0; v < 5000000; v = v < 64 ? v + 1 : v + v / 7) {
        int i = bk_hist_bucket(v);
        double lo, hi;
        bk_hist_bounds(i, &lo, &hi);
        if (!((double)v >= lo && (double)v < hi) || i < prev)
            ok = false;
        prev = i;
    }
    BK_CHECK(ok);
    BK_CHECK(bk_hist_bucket(UINT64_MAX) == BK_HIST_NB - 1);
    /* relative width at most 25% above 4 us */
    for (int i = 8; i < BK_HIST_NB; i++) {
        double lo, hi;
        bk_hist_bounds(i, &lo, &hi);
        if ((hi - lo) / lo > 0.2501)
            ok = false;
    }
    BK_CHECK(ok);

    BK_TEST("metrics: quantiles of a uniform 1..10000 us stay within a bucket of the truth");
    bk_hist *h = calloc(1, sizeof *h);
    BK_CHECK(isnan(bk_hist_quantile(h, 0.5, 0)));
    for (uint64_t v = 1; v <= 10000; v++)
        bk_hist_record(h, v, 1000);
    const double qs[] = {0.5, 0.75, 0.95, 0.99, 0.999};
    for (size_t k = 0; k < 5; k++) {
        double got = bk_hist_quantile(h, qs[k], 1000), want = qs[k] * 10000;
        if (fabs(got - want) / want > 0.13) {
            fprintf(stderr, "  q%.3f: got %.1f want %.1f\n", qs[k], got, want);
            ok = false;
        }
    }
    BK_CHECK(ok);
    BK_CHECK(h->count == 10000);
    BK_CHECK(fabs(h->sum_us - 50005000.0) < 1);
    /* all equal: every quantile is inside that value's bucket */
    bk_hist *one = calloc(1, sizeof *one);
    for (int i = 0; i < 100; i++)
        bk_hist_record(one, 700, 0);
    double lo, hi;
    bk_hist_bounds(bk_hist_bucket(700), &lo, &hi);
    BK_CHECK(bk_hist_quantile(one, 0.5, 0) >= lo && bk_hist_quantile(one, 0.999, 0) <= hi);
    BK_CHECK(bk_hist_quantile(one, 0.0, 0) >= lo);

    BK_TEST("metrics: quantiles forget values two windows old, count/sum do not");
    bk_hist_record(one, 5000000, 10); /* one slow value */
    BK_CHECK(bk_hist_quantile(one, 1.0, 20) > 4000000);
    /* the slow value stays visible through the next window */
    BK_CHECK(bk_hist_quantile(one, 1.0, BK_HIST_WINDOW_MS + 5) > 4000000);
    /* two windows later: empty */
    BK_CHECK(isnan(bk_hist_quantile(one, 1.0, 3 * BK_HIST_WINDOW_MS)));
    BK_CHECK(one->count == 101);
    free(h);
    free(one);

    BK_TEST("metrics: topic counters are found again by name, removed, re-created");
    bk_metrics_reset();
    char name[32];
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof name, "topic-%d", i);
        bk_topic_counters *t = bk_metrics_topic(name, strlen(name));
        BK_CHECK(t && strcmp(t->name, name) == 0);
        if (t)
            t->messages_in = (uint64_t)i;
    }
    ok = true;
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof name, "topic-%d", i);
        bk_topic_counters *t = bk_metrics_topic(name, strlen(name));
        if (!t || t->messages_in != (uint64_t)i)
            ok = false;
    }
    BK_CHECK(ok);
    BK_CHECK(bk_metrics_g.ntopics == 300);
    /* a prefix is another topic */
    BK_CHECK(bk_metrics_topic("topic-1x", 7)->messages_in == 1);
    for (int i = 0; i < 300; i += 2) {
        snprintf(name, sizeof name, "topic-%d", i);
        bk_metrics_topic_remove(name, strlen(name));
    }
    ok = bk_metrics_g.ntopics == 150;
    for (int i = 1; i < 300; i += 2) {
        snprintf(name, sizeof name, "topic-%d", i);
        bk_topic_counters *t = bk_metrics_topic(name, strlen(name));
        if (!t || t->messages_in != (uint64_t)i)
            ok = false;
    }
    BK_CHECK(ok && bk_metrics_g.ntopics == 150);
    BK_CHECK(bk_metrics_topic("topic-0", 7)->messages_in == 0);
    /* gc: keep the names ending in 1 */
    bk_metrics_topic_gc(ends_in_1, NULL);
    ok = true;
    for (uint32_t i = 0; i < bk_metrics_g.captopics; i++)
        if (bk_metrics_g.topics[i] && !ends_in_1(bk_metrics_g.topics[i]->name, NULL))
            ok = false;
    BK_CHECK(ok && bk_metrics_g.ntopics == 30);
    BK_CHECK(bk_metrics_topic("topic-21", 8)->messages_in == 21);
    bk_metrics_reset();

    BK_TEST("metrics: Prometheus text: families, escaping, values");
    bk_wr w;
    bk_wr_init(&w, 16);
    bk_prom_family(&w, "a_total", "counter", "Help");
    BK_CHECK(wr_is(&w, "# HELP a_total Help\n# TYPE a_total counter\n"));
    bk_wr_reset(&w);
    bk_prom_escape(&w, "a\"b\\c\nd", -1);
    BK_CHECK(wr_is(&w, "a\\\"b\\\\c\\nd"));
    bk_wr_reset(&w);
    bk_prom_sample(&w, "x", "", 3);
    bk_prom_sample(&w, "x", "k=\"v\"", 0.25);
    bk_prom_sample(&w, "x", NULL, NAN);
    bk_prom_sample(&w, "x", "", INFINITY);
    bk_prom_sample(&w, "x", "", -INFINITY);
    bk_prom_sample_u(&w, "y", "", UINT64_MAX);
    BK_CHECK(wr_is(&w, "x 3\nx{k=\"v\"} 0.25\nx NaN\nx +Inf\nx -Inf\ny 18446744073709551615\n"));
    bk_wr_reset(&w);
    char big[600];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = 0;
    bk_prom_printf(&w, "%s!", big); /* longer than the stack buffer */
    BK_CHECK(w.len == sizeof big && w.buf[w.len - 1] == '!');

    BK_TEST("metrics: the exposition lists counted requests, errors and quantiles");
    bk_wr_reset(&w);
    bk_metrics_request(0, 9);
    bk_metrics_request(0, 9);
    bk_metrics_error(0, 0);
    bk_metrics_error(0, 6);
    bk_metrics_error(0, 500); /* out of range: ignored */
    bk_metrics_request(-1, 0);
    uint64_t us[BK_RT_N] = {2000, 10, 1500, 0, 5, 485};
    bk_metrics_timing(0, us, 100);
    bk_metrics_g.all.messages_in = 7;
    bk_metrics_topic("t\"1", 3)->messages_in = 7;
    bk_metrics_write(&w, 100, bk_kerr_api_name_for_tests, NULL, NULL);
    bk_wr_u8(&w, 0);
    const char *txt = (const char *)w.buf;
    BK_CHECK(strstr(txt, "\nkafka_server_brokertopicmetrics_messagesin_total 7\n"));
    BK_CHECK(strstr(txt, "\nkafka_server_brokertopicmetrics_messagesin_total{topic=\"t\\\"1\"} 7\n"));
    BK_CHECK(strstr(txt, "kafka_network_requestmetrics_requests_total{request=\"K0\",version=\"9\"} 2\n"));
    BK_CHECK(strstr(txt, "kafka_network_requestmetrics_errors_total{request=\"K0\",error=\"NONE\"} 1\n"));
    BK_CHECK(strstr(txt, "kafka_network_requestmetrics_errors_total{request=\"K0\",error=\"NOT_LEADER_OR_FOLLOWER\"} 1\n"));
    BK_CHECK(strstr(txt, "kafka_network_requestmetrics_totaltimems_count{request=\"K0\"} 1\n"));
    BK_CHECK(strstr(txt, "kafka_network_requestmetrics_localtimems{request=\"K0\",quantile=\"0.99\"} 1."));
    BK_CHECK(strstr(txt, "kafka_network_requestmetrics_totaltimems_sum{request=\"K0\"} 2\n"));
    /* native histogram: 2000 us is above le=0.001 s and below le=0.002048 s */
    BK_CHECK(strstr(txt, "brook_request_total_time_seconds_bucket{request=\"K0\",le=\"0.001024\"} 0\n"));
    BK_CHECK(strstr(txt, "brook_request_total_time_seconds_bucket{request=\"K0\",le=\"0.002048\"} 1\n"));
    BK_CHECK(strstr(txt, "brook_request_total_time_seconds_bucket{request=\"K0\",le=\"+Inf\"} 1\n"));
    BK_CHECK(strstr(txt, "brook_request_total_time_seconds_count{request=\"K0\"} 1\n"));
    BK_CHECK(strstr(txt, "brook_request_total_time_seconds_sum{request=\"K0\"} 0.002\n"));
    bk_metrics_reset();
    bk_wr_fini(&w);

    BK_TEST("http: request heads are parsed or refused");
    char m[16], p[64];
    const char *good = "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n";
    BK_CHECK(bk_http_parse_head(good, strlen(good), m, sizeof m, p, sizeof p) == 0 &&
             strcmp(m, "GET") == 0 && strcmp(p, "/metrics") == 0);
    const char *bare = "HEAD /ready HTTP/1.0\n\n";
    BK_CHECK(bk_http_parse_head(bare, strlen(bare), m, sizeof m, p, sizeof p) == 0 &&
             strcmp(m, "HEAD") == 0 && strcmp(p, "/ready") == 0);
    const char *bad[] = {"\r\n\r\n", "GET\r\n\r\n", "GET /x\r\n\r\n", "GET /x HTTP/2.0\r\n\r\n",
                         "get /x HTTP/1.1\r\n\r\n", "GET x HTTP/1.1\r\n\r\n",
                         "GET /\x01 HTTP/1.1\r\n\r\n", "GET  /x HTTP/1.1\r\n\r\n",
                         "\x16\x03\x01\x02\x00\x01\n\n", "VERYLONGMETHODNAMEXX / HTTP/1.1\r\n\r\n"};
    ok = true;
    for (size_t i = 0; i < BK_ARRAY_LEN(bad); i++)
        if (bk_http_parse_head(bad[i], strlen(bad[i]), m, sizeof m, p, sizeof p) != 400) {
            fprintf(stderr, "  accepted bad head %zu\n", i);
            ok = false;
        }
    BK_CHECK(ok);
    char longpath[200] = "GET /";
    memset(longpath + 5, 'a', 100);
    strcpy(longpath + 105, " HTTP/1.1\r\n\r\n");
    BK_CHECK(bk_http_parse_head(longpath, strlen(longpath), m, sizeof m, p, sizeof p) == 400);

    BK_TEST("log: the component is the source path under src/ without .c");
    size_t n;
    const char *c = bk_log_component("src/net/conn.c", &n);
    BK_CHECK(n == 8 && strncmp(c, "net/conn", n) == 0);
    c = bk_log_component("/x/y/src/broker/h_fetch.c", &n);
    BK_CHECK(n == 14 && strncmp(c, "broker/h_fetch", n) == 0);
    c = bk_log_component("tool.c", &n);
    BK_CHECK(n == 4 && strncmp(c, "tool", n) == 0);
}
