/*
 * storage.c - append throughput of the partition log (bk_plog_append), one
 * row per run. Not a test: bench/run-storage.sh runs it next to dd and fio
 * and prints the comparison table (see bench/README.md).
 *
 *   bench-storage DIR --batch BYTES [--fsync] [--max-bytes N] [--seconds S]
 *
 * Creates a fresh partition log in DIR (topic "bench", partition 0, the
 * default log config: segment.bytes 1 GiB), appends batches of BYTES bytes
 * (a 61-byte v2 header with a valid CRC + payload; one record each) until
 * N bytes (default 512 MiB) are written or S seconds (default 5) have
 * passed, and with --fsync calls bk_plog_flush_sync after every append.
 * The timed loop is appends (+ flushes) only: creating the log before and
 * closing it after are not counted. Prints one line:
 *
 *   mode=nofsync batch=1024 batches=N bytes=N seconds=S mbps=X batches_per_s=Y
 *
 * MB is 10^6 bytes, as dd and fio report.
 */
#include "../src/core/buf.h"
#include "../src/core/crc32c.h"
#include "../src/storage/plog.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG_OVERHEAD 12 /* baseOffset + batchLength: not counted in batchLength */

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

/* A batch of `total` bytes holding one record at offset 0 (the base offset
 * is patched per append: it is not covered by the CRC). */
static void mkbatch(uint8_t *out, size_t total, int64_t ts)
{
    memset(out, 0, BK_BATCH_HDR);
    bk_be32(out + 8, (uint32_t)(total - LOG_OVERHEAD));
    out[16] = 2;
    bk_be64(out + 27, (uint64_t)ts);
    bk_be64(out + 35, (uint64_t)ts);
    bk_be64(out + 43, (uint64_t)-1);
    bk_be16(out + 51, 0xffff);
    bk_be32(out + 53, 0xffffffff);
    bk_be32(out + 57, 1);
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (size_t i = BK_BATCH_HDR; i < total; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out[i] = (uint8_t)x;
    }
    bk_be32(out + 17, bk_crc32c(0, out + 21, total - 21));
}

static void usage(void)
{
    fprintf(stderr, "usage: bench-storage DIR --batch BYTES [--fsync] [--max-bytes N] "
                    "[--seconds S]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    const char *dir = argv[1];
    size_t batch = 0;
    bool fsync_each = false;
    uint64_t max_bytes = 512u << 20;
    double seconds = 5;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
            batch = (size_t)strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--fsync") == 0)
            fsync_each = true;
        else if (strcmp(argv[i], "--max-bytes") == 0 && i + 1 < argc)
            max_bytes = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atof(argv[++i]);
        else
            usage();
    }
    if (batch < BK_BATCH_HDR || batch > (64u << 20))
        usage();

    bk_logcfg cfg;
    bk_logcfg_defaults(&cfg);
    cfg.segment_ms = INT64_MAX;
    bk_plog *l;
    int r = bk_plog_create(&l, dir, "bench", 0, &cfg, wall_ms());
    if (r) {
        fprintf(stderr, "bench-storage: create in %s: %d\n", dir, r);
        return 1;
    }
    uint8_t *buf = malloc(batch);
    int64_t ts = wall_ms();
    mkbatch(buf, batch, ts);

    uint64_t bytes = 0, n = 0;
    double t0 = now_s(), t = t0;
    while (bytes < max_bytes) {
        int64_t off = bk_plog_leo(l);
        bk_be64(buf, (uint64_t)off);
        r = bk_plog_append(l, buf, batch, off, off, ts, off, ts);
        if (!r && fsync_each)
            r = bk_plog_flush_sync(l, ts);
        if (r) {
            fprintf(stderr, "bench-storage: append at %" PRId64 ": %d\n", off, r);
            return 1;
        }
        bytes += batch;
        n++;
        /* the clock every 64 batches (every batch when each one syncs) */
        if (fsync_each || (n & 63) == 0) {
            t = now_s();
            if (t - t0 >= seconds)
                break;
        }
    }
    t = now_s();
    double el = t - t0;
    printf("mode=%s batch=%zu batches=%" PRIu64 " bytes=%" PRIu64 " seconds=%.3f mbps=%.1f "
           "batches_per_s=%.0f\n",
           fsync_each ? "fsync" : "nofsync", batch, n, bytes, el, (double)bytes / el / 1e6,
           (double)n / el);
    bk_plog_free(l); /* no close: its flush is not part of the measurement */
    free(buf);
    return 0;
}
