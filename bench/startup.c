/*
 * bench/startup - how long the log manager takes to open a data directory
 * of PARTITIONS partitions holding TOTAL_MB of data in all, after a clean
 * shutdown and after a kill -9 (not a test; prints a table).
 *
 *   build/bin/bench-startup [DIR] [PARTITIONS] [TOTAL_MB]
 *   defaults: a temp dir under /work (same disk as the repo), 1000, 1024
 *
 * Steps: fill the partitions (16 KiB batches), close cleanly; reopen and
 * time it (clean: nothing is scanned); then a child process reopens, adds
 * one batch to every partition and kills itself with SIGKILL mid-flight (no
 * flush, no checkpoint, no clean-shutdown marker); reopen and time it
 * (every active segment is scanned and its batches' CRCs checked). The page
 * cache is warm in both cases (this machine cannot drop caches); the
 * kill -9 row is the CPU cost of recovery, not the disk's.
 */
#include "../src/core/buf.h"
#include "../src/core/crc32c.h"
#include "../src/storage/bio.h"
#include "../src/storage/logmgr.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BATCH (16 * 1024)

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t mkbatch(uint8_t *out, int64_t base, int32_t count)
{
    size_t total = BATCH;
    memset(out, 0, BK_BATCH_HDR);
    bk_be64(out, (uint64_t)base);
    bk_be32(out + 8, (uint32_t)(total - 12));
    out[16] = 2;
    bk_be32(out + 23, (uint32_t)(count - 1));
    bk_be64(out + 27, 1700000000000ULL);
    bk_be64(out + 35, 1700000000000ULL);
    bk_be32(out + 57, (uint32_t)count);
    for (size_t i = BK_BATCH_HDR; i < total; i++)
        out[i] = (uint8_t)(i * 31 + (size_t)base);
    bk_be32(out + 17, bk_crc32c(0, out + 21, total - 21));
    return total;
}

static void append_one(bk_plog *l, uint8_t *buf)
{
    int64_t base = bk_plog_leo(l);
    size_t n = mkbatch(buf, base, 16);
    if (bk_plog_append(l, buf, n, base, base + 15, 1700000000000, base + 15, 0)) {
        fprintf(stderr, "append failed\n");
        exit(1);
    }
}

typedef struct app {
    uint8_t *buf;
} app;

static void add_one(void *arg, bk_plog *l)
{
    append_one(l, ((app *)arg)->buf);
}

static bk_logmgr *open_mgr(const char *dir, bk_logmgr_stats *st)
{
    const char *dirs[1] = {dir};
    bk_logmgr_cfg c;
    bk_logmgr_cfg_defaults(&c);
    c.dirs = dirs;
    c.ndirs = 1;
    c.recovery_threads = 2;
    bk_logmgr *m;
    char err[256];
    if (bk_logmgr_open(&m, &c, 0, st, err, sizeof err)) {
        fprintf(stderr, "open: %s\n", err);
        exit(1);
    }
    return m;
}

int main(int argc, char **argv)
{
    char tmpl[] = "/work/bk-bench-startup-XXXXXX";
    const char *dir = argc > 1 ? argv[1] : mkdtemp(tmpl);
    int parts = argc > 2 ? atoi(argv[2]) : 1000;
    int total_mb = argc > 3 ? atoi(argv[3]) : 1024;
    if (!dir) {
        perror("mkdtemp");
        return 1;
    }
    uint8_t *buf = malloc(BATCH);
    int per = (int)((int64_t)total_mb * 1024 * 1024 / BATCH / parts);
    if (per < 1)
        per = 1;

    bk_logmgr_stats st;
    int64_t t0 = now_ms();
    bk_logmgr *m = open_mgr(dir, &st);
    bk_logcfg lc;
    bk_logcfg_defaults(&lc);
    for (int p = 0; p < parts; p++) {
        char topic[32];
        snprintf(topic, sizeof topic, "bench%d", p % 10);
        bk_plog *l;
        if (bk_logmgr_create(m, topic, p, &lc, 0, &l)) {
            fprintf(stderr, "create failed (descriptors?)\n");
            return 1;
        }
        for (int i = 0; i < per; i++)
            append_one(l, buf);
    }
    if (bk_logmgr_close(m)) {
        fprintf(stderr, "close failed\n");
        return 1;
    }
    int64_t fill_ms = now_ms() - t0;
    double gib = (double)parts * per * BATCH / (1024.0 * 1024 * 1024);

    t0 = now_ms();
    m = open_mgr(dir, &st);
    int64_t clean_ms = now_ms() - t0;
    bk_logmgr_stats clean_st = st;
    bk_logmgr_close(m);

    pid_t pid = fork();
    if (pid == 0) {
        bk_logmgr *cm = open_mgr(dir, &st);
        app a = {buf};
        bk_logmgr_foreach(cm, add_one, &a);
        kill(getpid(), SIGKILL); /* no close, no flush, no marker */
        _exit(1);
    }
    int status;
    waitpid(pid, &status, 0);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
        fprintf(stderr, "the child did not die by SIGKILL\n");
        return 1;
    }
    t0 = now_ms();
    m = open_mgr(dir, &st);
    int64_t crash_ms = now_ms() - t0;
    bk_logmgr_stats crash_st = st;
    bk_logmgr_close(m);

    printf("\nStart-up of the log manager: %d partitions, %.2f GiB (filled in %.1f s)\n\n", parts,
           gib, fill_ms / 1000.0);
    printf("| after          | start-up ms | partitions | segments | scanned segments | "
           "truncated bytes |\n");
    printf("|----------------|-------------|------------|----------|------------------|"
           "-----------------|\n");
    printf("| clean shutdown | %11" PRId64 " | %10d | %8d | %16d | %15" PRIu64 " |\n", clean_ms,
           clean_st.partitions, clean_st.segments, clean_st.recovered_segments,
           clean_st.truncated_bytes);
    printf("| kill -9        | %11" PRId64 " | %10d | %8d | %16d | %15" PRIu64 " |\n", crash_ms,
           crash_st.partitions, crash_st.segments, crash_st.recovered_segments,
           crash_st.truncated_bytes);
    if (argc <= 1) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            return 1;
    }
    free(buf);
    return 0;
}
