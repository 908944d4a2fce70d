/*
 * metrics_cost.c - what the request-path accounting of core/metrics.h costs
 * per request (make bench-metrics): the clock reads conn.c takes to time a
 * request (5), the request and error counts, the six histogram records and
 * one topic's BrokerTopicMetrics lookup and increments, as a Produce to one
 * partition does. Prints nanoseconds per request.
 */
#include "../src/core/metrics.h"

#include <stdio.h>

int main(void)
{
    enum { N = 2000000 };
    const char *topic = "bench-topic";
    size_t tlen = strlen(topic);
    uint64_t sink = 0;
    /* warm: create the topic and the histograms */
    uint64_t us[BK_RT_N] = {0};
    bk_metrics_timing(0, us, 0);
    uint64_t t0 = bk_metrics_now_us();
    for (int i = 0; i < N; i++) {
        uint64_t a = bk_metrics_now_us(), b = bk_metrics_now_us(), c = bk_metrics_now_us();
        uint64_t d = bk_metrics_now_us(), e = bk_metrics_now_us();
        bk_metrics_request(0, 9);
        bk_topic_counters *tc = bk_metrics_topic(topic, tlen);
        bk_metrics_g.all.produce_reqs++;
        bk_metrics_g.all.messages_in += 10;
        bk_metrics_g.all.bytes_in += 1000;
        tc->produce_reqs++;
        tc->messages_in += 10;
        tc->bytes_in += 1000;
        bk_metrics_error(0, 0);
        us[BK_RT_TOTAL] = e - a + (uint64_t)(i & 1023);
        us[BK_RT_LOCAL] = c - b + (uint64_t)(i & 511);
        us[BK_RT_RESP_SEND] = d - c;
        bk_metrics_timing(0, us, (int64_t)(a / 1000));
        sink += a;
    }
    uint64_t t1 = bk_metrics_now_us();
    double clock_ns;
    {
        uint64_t c0 = bk_metrics_now_us();
        for (int i = 0; i < N; i++)
            sink += bk_metrics_now_us();
        clock_ns = (double)(bk_metrics_now_us() - c0) * 1000.0 / N;
    }
    printf("metrics accounting per request: %.1f ns (of which 5 clock reads: %.1f ns); "
           "p99 check %.0f us (%llu)\n",
           (double)(t1 - t0) * 1000.0 / N, 5 * clock_ns,
           bk_hist_quantile(bk_metrics_g.api[0].hist[BK_RT_TOTAL], 0.99,
                            (int64_t)(bk_metrics_now_us() / 1000)),
           (unsigned long long)(sink & 1));
    return 0;
}
