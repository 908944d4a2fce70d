/*
 * cleaner.c - the log cleaner's throughput, and what it costs appends on
 * the loop thread while it runs. Not a test: `make bench-cleaner` runs it
 * (bench/run-cleaner.sh adds the end-to-end produce latency through
 * brookd); see bench/README.md.
 *
 *   bench-cleaner DIR [--mb N] [--keys K] [--value BYTES] [--codecs LIST]
 *                     [--append-seconds S]
 *
 * Part 1, one row per codec: a fresh compacted partition log in DIR with
 * N MB (default 256) of updates (batches of 200 records, keys drawn
 * uniformly from K = 100,000, values of BYTES = 100 bytes of text), flushed,
 * then one bk_cleaner_clean_now over all of it, timed. MB/s is input bytes
 * (the log before cleaning) per second; MB = 10^6 bytes.
 *
 * Part 2: the loop thread's appends (batches of 10 records, one every
 * 100 us, as a producer at ~100k records/s would cause) for S seconds
 * (default 5): first alone, then while the cleaner thread (bk_cleaner_tick
 * on the loop, the job on its own thread) cleans a 256 MB log of the same
 * topic. Each append's latency (bk_plog_append, plus the tick when one is
 * due) goes into p50/p99/p99.9/max.
 */
#include "../src/core/buf.h"
#include "../src/storage/cleaner.h"
#include "../src/storage/compress.h"
#include "../src/storage/plog.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t xr(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int g_keys = 100000, g_value = 100;

/* Append one batch of n updates; returns the bytes appended or -1. */
static long append_updates(bk_plog *l, int codec, int n, bk_wr *w)
{
    static const char words[] = "the quick brown fox jumps over the lazy dog while the "
                                "cleaner keeps only the latest value for every key ";
    char key[32], val[4096];
    bk_wr_reset(w);
    bk_batch_opts o = BK_BATCH_OPTS_DEFAULT;
    o.compression = codec;
    o.compress = bk_compress;
    o.base_offset = bk_plog_leo(l);
    bk_batch_builder b;
    bk_batch_builder_init(&b, w, &o);
    int64_t ts = wall_ms();
    for (int i = 0; i < n; i++) {
        int kl = snprintf(key, sizeof key, "key-%08d", (int)(xr() % (uint64_t)g_keys));
        size_t start = xr() % (sizeof words - 1);
        for (int k = 0; k < g_value; k++)
            val[k] = words[(start + (size_t)k) % (sizeof words - 1)];
        bk_batch_builder_add(&b, ts, key, kl, val, g_value, NULL, 0);
    }
    int r = bk_batch_builder_finish(&b);
    bk_batch_builder_fini(&b);
    if (r)
        return -1;
    int64_t first = bk_plog_leo(l);
    if (bk_plog_append(l, w->buf, w->len, first, first + n - 1, ts, first + n - 1, ts))
        return -1;
    return (long)w->len;
}

static bk_logcfg compact_cfg(double mb)
{
    bk_logcfg c;
    bk_logcfg_defaults(&c);
    /* ~32 segments: the active one (never cleaned) stays a small part */
    c.segment_bytes = (int64_t)(mb * 1e6 / 32);
    if (c.segment_bytes < (1 << 20))
        c.segment_bytes = 1 << 20;
    c.cleanup_compact = true;
    c.cleanup_delete = false;
    c.min_cleanable_ratio = 0.01;
    return c;
}

static bk_plog *fill(const char *dir, const char *topic, int codec, double mb)
{
    bk_logcfg cfg = compact_cfg(mb);
    bk_plog *l;
    if (bk_plog_create(&l, dir, topic, 0, &cfg, wall_ms())) {
        fprintf(stderr, "cannot create a log in %s\n", dir);
        exit(1);
    }
    bk_wr w;
    bk_wr_init(&w, 1 << 16);
    double bytes = 0;
    while (bytes < mb * 1e6) {
        long n = append_updates(l, codec, 200, &w);
        if (n < 0) {
            fprintf(stderr, "append failed\n");
            exit(1);
        }
        bytes += (double)n;
    }
    bk_wr_fini(&w);
    bk_plog_flush_sync(l, wall_ms());
    l->hw = bk_plog_leo(l);
    return l;
}

static void rmrf(const char *dir, const char *topic)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s/%s-0'", dir, topic);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s/%s-0\n", dir, topic);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct one {
    bk_plog *l;
} one;

static void each_one(void *arg, void (*cb)(void *ud, bk_plog *l), void *ud)
{
    cb(ud, ((one *)arg)->l);
}

/* Part 2: append latencies for secs seconds, with a cleaner or not. */
static void latency_row(const char *dir, double secs, bool with_cleaner, double mb)
{
    bk_plog *l = fill(dir, "lat", BK_COMPRESSION_NONE, with_cleaner ? mb : 1);
    bk_cleaner *c = NULL;
    bk_cleaner_cfg cc;
    bk_cleaner_cfg_defaults(&cc);
    cc.backoff_ms = 0;
    if (with_cleaner && bk_cleaner_start(&c, &cc)) {
        fprintf(stderr, "cannot start the cleaner\n");
        exit(1);
    }
    one o = {l};
    size_t cap = (size_t)(secs * 20000) + 1024, n = 0;
    double *lat = malloc(cap * sizeof *lat);
    bk_wr w;
    bk_wr_init(&w, 1 << 12);
    double t0 = now_s(), next_tick = t0;
    int swaps = 0;
    double clean_done = -1;
    double max_tick = 0;
    while (now_s() - t0 < secs && n < cap) {
        double a = now_s();
        if (c && a >= next_tick) {
            bk_cleaner_tick(c, wall_ms(), each_one, &o);
            if (now_s() - a > max_tick)
                max_tick = now_s() - a;
            int s = bk_cleaner_swapped(c);
            if (s && clean_done < 0)
                clean_done = a - t0;
            swaps += s;
            next_tick = a + 0.1; /* the broker ticks every 100 ms */
        }
        if (append_updates(l, BK_COMPRESSION_NONE, 10, &w) < 0) {
            fprintf(stderr, "append failed\n");
            exit(1);
        }
        l->hw = bk_plog_leo(l);
        double b = now_s();
        lat[n++] = (b - a) * 1e6;
        double wait = 100e-6 - (b - a);
        if (wait > 0)
            usleep((useconds_t)(wait * 1e6));
    }
    bk_wr_fini(&w);
    qsort(lat, n, sizeof *lat, cmp_d);
    printf("| %-22s | %8zu | %8.1f | %8.1f | %8.1f | %9.1f | %s\n",
           with_cleaner ? "while cleaning" : "no cleaner", n, lat[n / 2], lat[(size_t)(n * 0.99)],
           lat[(size_t)(n * 0.999)], lat[n - 1],
           with_cleaner ? (clean_done >= 0 ? "cleaning swapped in" : "cleaning still running")
                        : "-");
    if (with_cleaner && clean_done >= 0)
        printf("|   (the cleaning of %.0f MB was swapped in after %.2f s; the longest "
               "bk_cleaner_tick took %.1f ms)\n",
               mb, clean_done, max_tick * 1e3);
    free(lat);
    bk_cleaner_stop(c);
    bk_plog_free(l);
    rmrf(dir, "lat");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr,
                "usage: %s DIR [--mb N] [--keys K] [--value BYTES] [--codecs LIST] "
                "[--append-seconds S]\n",
                argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    double mb = 256, secs = 5;
    const char *codecs = "none,gzip,snappy,lz4,zstd";
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--mb"))
            mb = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--keys"))
            g_keys = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--value"))
            g_value = atoi(argv[i + 1]) > 4000 ? 4000 : atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--codecs"))
            codecs = argv[i + 1];
        else if (!strcmp(argv[i], "--append-seconds"))
            secs = atof(argv[i + 1]);
    }
    printf("log cleaner: %.0f MB of updates over %d keys, %d-byte values, batches of 200\n\n", mb,
           g_keys, g_value);
    printf("| %-7s | %9s | %9s | %7s | %8s | %12s |\n", "codec", "input MB", "output MB", "seconds",
           "MB/s", "records/s");
    printf("|---------|-----------|-----------|---------|----------|--------------|\n");
    static const char *const names[5] = {"none", "gzip", "snappy", "lz4", "zstd"};
    for (int codec = 0; codec < 5; codec++) {
        if (!strstr(codecs, names[codec]))
            continue;
        bk_plog *l = fill(dir, "thr", codec, mb);
        uint64_t in = bk_plog_size(l);
        bk_cleaner_cfg cc;
        bk_cleaner_cfg_defaults(&cc);
        bk_cleaner_stats st;
        double t0 = now_s();
        int r = bk_cleaner_clean_now(l, &cc, wall_ms(), &st);
        double dt = now_s() - t0;
        if (r) {
            fprintf(stderr, "cleaning failed: %d\n", r);
            return 1;
        }
        uint64_t out = bk_plog_size(l);
        printf("| %-7s | %9.1f | %9.1f | %7.2f | %8.1f | %12.0f |\n", names[codec],
               (double)in / 1e6, (double)out / 1e6, dt, (double)in / 1e6 / dt,
               (double)st.records_read / dt);
        fflush(stdout);
        bk_plog_free(l);
        rmrf(dir, "thr");
    }
    printf("\nappends on the loop thread (10 records, one every 100 us), latency in us:\n\n");
    printf("| %-22s | %8s | %8s | %8s | %8s | %9s |\n", "", "appends", "p50", "p99", "p99.9",
           "max");
    printf("|------------------------|----------|----------|----------|----------|-----------|\n");
    latency_row(dir, secs, false, mb);
    latency_row(dir, secs, true, mb);
    return 0;
}
