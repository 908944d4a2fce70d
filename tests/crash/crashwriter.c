/*
 * crashwriter.c - a process to kill -9: it appends to a partition log and
 * flushes it at random moments, and on every start checks what recovery
 * left behind. Driven by tests/itest/test_crash_storage.py.
 *
 *   crashwriter run DIR [options]
 *       Open the partition log DIR/crash-0 (create it on the first run),
 *       with the recovery point from DIR/recovery-point-offset-checkpoint
 *       and the clean-shutdown marker DIR/.kafka_cleanshutdown, as the
 *       broker does (logmgr.c). Check the recovered log (see "Checks"), print
 *       one JSON line {"event":"ready","ok":...,"time_ok":...} ("ok": the
 *       data checks; "time_ok": the time index checks, which do not stop
 *       the run), then loop: append 1..20 batches
 *       (random), bk_plog_flush_sync, write the checkpoint, print
 *       "FLUSHED <recovery point>" and fflush. A printed line means the
 *       flush and the checkpoint are complete.
 *         --segment-bytes N   segment.bytes (default 262144)
 *         --expect-leo-min N  fail the start-up check if the recovered LEO
 *                             is below N (the last FLUSHED of the killed run)
 *         --check-from N      check through the API only from the segment
 *                             holding min(N, recovery point) (the raw parse
 *                             always covers everything; default 0)
 *         --seed N            for the flush points (default: time and pid)
 *         --kill-in-write     a thread kills the process (SIGKILL) during
 *                             the write of one of the first large batches
 *         --exit-after-open   check, close cleanly (flush, checkpoint, marker),
 *                             exit
 *         --no-time-checks    skip check 3's time index lookups and check 5
 *
 *   crashwriter verify DIR [--min-leo N] [--allow-torn]
 *       Read-only, independent of the storage code: parse every .log file
 *       of DIR/crash-0 and check the same content rules. --allow-torn
 *       accepts a partial batch at the very end of the last segment (a log
 *       just killed, not yet recovered) and reports its size. Prints one
 *       JSON line {"event":"verify",...}; exit status 0 when ok.
 *
 * Content: the batch whose base offset is b has a record count, a payload
 * size and payload bytes that are functions of b alone (shape_of, fill_of),
 * so a checker can rebuild every expected batch byte for byte from its
 * offset. Timestamps are TS0 + b.
 *
 * Checks (after recovery, through the bk_plog API):
 *   1. LEO >= --expect-leo-min;
 *   2. every batch from the segment holding min(--check-from, recovery
 *      point) to the LEO reads back, contiguous, with a valid CRC and
 *      exactly the expected bytes (the raw parse of check 4 covers all);
 *   3. a read from the last offset of each batch finds that batch (offset
 *      index); a time lookup of sampled batches finds them (time index,
 *      reported as time_ok);
 *   4. each segment's .log is exactly the size the log believes, and the
 *      raw parse (as in verify, torn tails not allowed) agrees: the active
 *      segment ends exactly at the last valid batch;
 *   5. bk_plog_max_timestamp is the last batch's timestamp and last offset
 *      (reported as time_ok).
 */
#include "../../src/core/buf.h"
#include "../../src/core/crc32c.h"
#include "../../src/storage/checkpoint.h"
#include "../../src/storage/fileio.h"
#include "../../src/storage/plog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TOPIC        "crash"
#define PARTITION    0
#define CKPT_NAME    "recovery-point-offset-checkpoint"
#define CLEAN_NAME   ".kafka_cleanshutdown" /* as logmgr.c */
#define TS0          INT64_C(1600000000000)
#define LOG_OVERHEAD 12 /* baseOffset + batchLength: not counted in batchLength */
#define MAX_PAYLOAD  (640u << 10)
#define MAX_BATCH    (BK_BATCH_HDR + MAX_PAYLOAD)

/* ------------------------------------------------------------- content */

static uint64_t mix64(uint64_t x)
{
    /* splitmix64 finalizer */
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

/* Record count and payload size of the batch at base offset b. Mostly
 * small batches, some medium, one in 256 large (256..640 KiB: a kill in
 * the middle of its write can leave a torn tail; Linux copies a buffered
 * write in chunks of up to 256 KiB and stops between chunks on SIGKILL). */
static void shape_of(int64_t b, int32_t *count, size_t *payload)
{
    uint64_t h = mix64((uint64_t)b);
    *count = 1 + (int32_t)(h % 5);
    uint64_t r = (h >> 8) % 256, v = h >> 16;
    if (r == 0)
        *payload = (256u << 10) + (size_t)(v % (384u << 10));
    else if (r < 16)
        *payload = (8u << 10) + (size_t)(v % (32u << 10));
    else
        *payload = (size_t)(v % 4096);
}

/* Payload bytes of the batch at b: an xorshift stream seeded by b. */
static void fill_of(int64_t b, uint8_t *p, size_t n)
{
    uint64_t x = mix64((uint64_t)b ^ UINT64_C(0x5bd1e9955bd1e995)) | 1;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(p + i, &x, 8);
    }
    x ^= x << 13;
    for (; i < n; i++, x >>= 8)
        p[i] = (uint8_t)x;
}

/* The expected batch at base offset b (as mkbatch in plog_test.c); returns
 * its size, *last its last offset. */
static size_t make_batch(uint8_t *out, int64_t b, int64_t *last)
{
    int32_t count;
    size_t payload;
    shape_of(b, &count, &payload);
    size_t total = BK_BATCH_HDR + payload;
    int64_t ts = TS0 + b;
    memset(out, 0, BK_BATCH_HDR);
    bk_be64(out, (uint64_t)b);
    bk_be32(out + 8, (uint32_t)(total - LOG_OVERHEAD));
    out[16] = 2;
    bk_be32(out + 23, (uint32_t)(count - 1));
    bk_be64(out + 27, (uint64_t)ts);
    bk_be64(out + 35, (uint64_t)ts);
    bk_be64(out + 43, (uint64_t)-1);
    bk_be16(out + 51, 0xffff);
    bk_be32(out + 53, 0xffffffff);
    bk_be32(out + 57, (uint32_t)count);
    fill_of(b, out + BK_BATCH_HDR, payload);
    bk_be32(out + 17, bk_crc32c(0, out + 21, total - 21));
    *last = b + count - 1;
    return total;
}

/* Compare the batch at p (avail bytes) with the expected batch at offset
 * b; exp is scratch of MAX_BATCH bytes. Returns its size, 0 if it differs
 * (err says how), or -1 if avail is short of a whole batch (torn). */
static long check_batch(const uint8_t *p, size_t avail, int64_t b, uint8_t *exp, int64_t *last,
                        char *err, size_t errcap)
{
    size_t n = make_batch(exp, b, last);
    if (avail < LOG_OVERHEAD) {
        if (memcmp(p, exp, avail) != 0)
            goto differ;
        return -1;
    }
    if ((size_t)bk_get_be32(p + 8) + LOG_OVERHEAD != n)
        goto differ;
    if (avail < n) {
        /* a kill leaves a prefix of the write: it must be the right one */
        if (memcmp(p, exp, avail) != 0)
            goto differ;
        return -1;
    }
    if (bk_crc32c(0, p + 21, n - 21) != bk_get_be32(p + 17)) {
        snprintf(err, errcap, "batch %" PRId64 ": bad CRC", b);
        return 0;
    }
    if (memcmp(p, exp, n) == 0)
        return (long)n;
differ:
    snprintf(err, errcap,
             "batch %" PRId64 ": bytes differ (base in file %" PRId64 ", length %u, "
             "expected %zu)",
             b, avail >= 8 ? (int64_t)bk_get_be64(p) : -1,
             avail >= 12 ? bk_get_be32(p + 8) + 12 : 0, n);
    return 0;
}

/* ------------------------------------------------------------- raw check */

typedef struct raw_result {
    int64_t leo;
    int segments;
    uint64_t bytes;
    uint64_t torn; /* bytes of a partial batch at the end */
    int64_t batches;
    int64_t last_base;  /* base offset of the last whole batch; -1 none */
    uint64_t last_size; /* its size */
} raw_result;

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Parse every segment of pdir independently of the storage code. */
static int raw_check(const char *pdir, bool allow_torn, raw_result *res, char *err, size_t errcap)
{
    memset(res, 0, sizeof *res);
    res->last_base = -1;
    DIR *d = opendir(pdir);
    if (!d) {
        snprintf(err, errcap, "opendir %s: %s", pdir, strerror(errno));
        return -1;
    }
    int64_t bases[65536];
    int nb = 0;
    struct dirent *de;
    while ((de = readdir(d)) && nb < (int)BK_ARRAY_LEN(bases)) {
        size_t len = strlen(de->d_name);
        if (len == 24 && strcmp(de->d_name + 20, ".log") == 0)
            bases[nb++] = strtoll(de->d_name, NULL, 10);
    }
    closedir(d);
    qsort(bases, (size_t)nb, sizeof *bases, cmp_i64);
    if (nb == 0) {
        snprintf(err, errcap, "no segment in %s", pdir);
        return -1;
    }
    uint8_t *exp = malloc(MAX_BATCH), *buf = NULL;
    int64_t next = 0;
    int rc = 0;
    for (int i = 0; i < nb && !rc; i++) {
        bool last_seg = i == nb - 1;
        if (bases[i] != next) {
            snprintf(err, errcap,
                     "segment %" PRId64 " does not start at the expected offset %" PRId64, bases[i],
                     next);
            rc = -1;
            break;
        }
        char path[4096];
        bk_seg_filename(path, sizeof path, pdir, bases[i], ".log");
        int fd = open(path, O_RDONLY);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0) {
            snprintf(err, errcap, "segment %" PRId64 ": %s", bases[i], strerror(errno));
            if (fd >= 0)
                close(fd);
            rc = -1;
            break;
        }
        size_t size = (size_t)st.st_size;
        free(buf);
        buf = malloc(size ? size : 1);
        ssize_t got = 0;
        while (got < (ssize_t)size) {
            ssize_t k = pread(fd, buf + got, size - (size_t)got, got);
            if (k <= 0)
                break;
            got += k;
        }
        close(fd);
        if (got != (ssize_t)size) {
            snprintf(err, errcap, "segment %" PRId64 ": short read", bases[i]);
            rc = -1;
            break;
        }
        if (size == 0 && !last_seg) {
            snprintf(err, errcap, "empty segment %" PRId64 " is not the last one", bases[i]);
            rc = -1;
            break;
        }
        size_t pos = 0;
        while (pos < size) {
            int64_t lastoff;
            long n = check_batch(buf + pos, size - pos, next, exp, &lastoff, err, errcap);
            if (n == -1) {
                if (last_seg && allow_torn) {
                    res->torn = size - pos;
                    break;
                }
                snprintf(err, errcap,
                         "segment %" PRId64 ": %zu bytes of a partial batch after "
                         "position %zu (offset %" PRId64 ")",
                         bases[i], size - pos, pos, next);
                rc = -1;
                break;
            }
            if (n == 0) {
                rc = -1;
                break;
            }
            pos += (size_t)n;
            res->last_base = next;
            res->last_size = (uint64_t)n;
            next = lastoff + 1;
            res->batches++;
        }
        res->bytes += pos;
        res->segments++;
    }
    free(buf);
    free(exp);
    res->leo = next;
    return rc;
}

/* ------------------------------------------------------------- API check */

typedef struct api_result {
    int64_t batches;
    uint64_t bytes;
} api_result;

/* Read the log back through bk_plog_read and check it (checks 2-4 of the
 * header comment, except the raw parse). A failed time lookup goes to terr
 * (the first one) and does not stop the check. */
static int api_check(bk_plog *l, int64_t from, bool time_checks, api_result *res, char *err,
                     size_t errcap, char *terr, size_t terrcap)
{
    memset(res, 0, sizeof *res);
    int64_t leo = bk_plog_leo(l), off = l->log_start;
    /* start at the base of the segment holding `from`: a batch boundary */
    for (int i = 0; i < l->nsegs; i++)
        if (l->segs[i]->base <= from && l->segs[i]->base > off)
            off = l->segs[i]->base;
    size_t cap = (4u << 20) + MAX_BATCH;
    uint8_t *buf = malloc(cap), *exp = malloc(MAX_BATCH);
    int rc = 0;
    while (off < leo && !rc) {
        bk_plog_slice sl;
        int r = bk_plog_read(l, off, 4u << 20, leo, true, &sl);
        if (r || sl.len == 0 || sl.first_offset != off) {
            snprintf(err, errcap,
                     "read at %" PRId64 " (LEO %" PRId64 "): r=%d len=%u first=%" PRId64, off, leo,
                     r, sl.len, sl.first_offset);
            rc = -1;
            break;
        }
        if (sl.len > cap) {
            snprintf(err, errcap, "read at %" PRId64 ": slice of %u bytes", off, sl.len);
            rc = -1;
            break;
        }
        if (bk_io_pread_full(sl.fd, buf, sl.len, sl.pos) != (ssize_t)sl.len) {
            snprintf(err, errcap, "pread of %u bytes at %" PRId64 " failed", sl.len, sl.pos);
            rc = -1;
            break;
        }
        size_t p = 0;
        while (p < sl.len) {
            int64_t last;
            long n = check_batch(buf + p, sl.len - p, off, exp, &last, err, errcap);
            if (n <= 0) {
                if (n == -1)
                    snprintf(err, errcap, "read at %" PRId64 " returned a partial batch", off);
                rc = -1;
                break;
            }
            /* offset index: a read from the batch's last offset finds it */
            bk_plog_slice s2;
            if (last > off &&
                (bk_plog_read(l, last, 1, leo, true, &s2) != 0 || s2.first_offset != off)) {
                snprintf(err, errcap, "read at %" PRId64 " did not find batch %" PRId64, last, off);
                rc = -1;
                break;
            }
            /* time index, sampled */
            int64_t toff = -1, tts = -1;
            if (time_checks && !terr[0] && res->batches % 16 == 0 &&
                ((r = bk_plog_offset_for_time(l, TS0 + off, &toff, &tts)) != 0 || toff != off))
                snprintf(terr, terrcap,
                         "time lookup of batch %" PRId64 ": r=%d offset %" PRId64 " ts %" PRId64,
                         off, r, toff, tts - TS0);
            p += (size_t)n;
            off = last + 1;
            res->batches++;
            res->bytes += (uint64_t)n;
        }
    }
    for (int i = 0; i < l->nsegs && !rc; i++) {
        struct stat st;
        bk_segment *s = l->segs[i];
        if (stat(s->log_path, &st) != 0 || (uint64_t)st.st_size != s->size) {
            snprintf(err, errcap, "segment %" PRId64 ": file size %lld, log believes %" PRIu64,
                     s->base, (long long)st.st_size, s->size);
            rc = -1;
        }
    }
    free(buf);
    free(exp);
    return rc;
}

/* ------------------------------------------------------------- commands */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int write_ckpt(const char *path, int64_t rp)
{
    bk_ckpt_tpo e = {.topic = (char *)TOPIC, .partition = PARTITION, .offset = rp};
    return bk_ckpt_write_offsets(path, &e, 1);
}

/* Recovery point from the checkpoint: 0 when there is none. */
static int read_ckpt(const char *path, int64_t *rp)
{
    bk_ckpt_tpo *e;
    int n;
    *rp = 0;
    int r = bk_ckpt_read_offsets(path, &e, &n);
    if (r == BK_ENOENT)
        return 0;
    if (r)
        return r;
    for (int i = 0; i < n; i++)
        if (strcmp(e[i].topic, TOPIC) == 0 && e[i].partition == PARTITION)
            *rp = e[i].offset;
    bk_ckpt_free_offsets(e, n);
    return 0;
}

/* JSON-safe copy of s (no quotes or backslashes). */
static const char *jstr(char *s)
{
    for (char *p = s; *p; p++)
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
            *p = '\'';
    return s;
}

/* --kill-in-write: a thread that kills the process (SIGKILL, as kill -9
 * from outside) a random 0..300 us after the main thread starts the write
 * of a large batch, to land inside its write(2) far more often than an
 * outside kill at a random time does (the writer spends most of its time
 * in fsync). The kernel stops a buffered write between pages when a fatal
 * signal is pending, so this leaves a torn batch, as a kill of the broker
 * would. The thread is woken while the batch is being built and spins
 * from then on, so its reaction does not depend on a wake-up; the file
 * layer (bk_io, the table tests may swap) starts its clock at the pwrite. */
static sem_t killer_go;
static atomic_bool killer_armed, killer_now;
static uint32_t killer_delay_us;
static bk_fileio killer_io;

static ssize_t killer_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    if (n >= (256u << 10) && atomic_load_explicit(&killer_armed, memory_order_relaxed))
        atomic_store_explicit(&killer_now, true, memory_order_release);
    return pwrite(fd, buf, n, off);
}

static void *killer_main(void *arg)
{
    BK_UNUSED(arg);
    /* a busy machine would otherwise run the spinning thread too late;
     * best effort (needs root or CAP_SYS_NICE) */
    struct sched_param sp = {.sched_priority = 1};
    (void)pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
    while (sem_wait(&killer_go) == -1)
        ;
    while (!atomic_load_explicit(&killer_now, memory_order_acquire))
        ;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do
        clock_gettime(CLOCK_MONOTONIC, &t);
    while ((t.tv_sec - t0.tv_sec) * 1000000 + (t.tv_nsec - t0.tv_nsec) / 1000 < killer_delay_us);
    kill(getpid(), SIGKILL);
    return NULL;
}

typedef struct run_opts {
    int64_t segbytes;
    int64_t expect_min; /* --expect-leo-min */
    int64_t check_from; /* --check-from: API check from this offset's segment */
    uint64_t seed;
    bool exit_after_open;
    bool time_checks;
    bool kill_in_write;
} run_opts;

static int cmd_run(const char *logdir, const run_opts *o)
{
    char pdir[4096], ckpt[4096], err[512] = "", terr[512] = "";
    bk_plog_dirname(pdir, sizeof pdir, logdir, TOPIC, PARTITION);
    snprintf(ckpt, sizeof ckpt, "%s/%s", logdir, CKPT_NAME);
    bk_logcfg cfg;
    bk_logcfg_defaults(&cfg);
    cfg.segment_bytes = o->segbytes;
    /* timestamps are TS0 + offset, years old: segment.ms would roll at
     * every batch (as Kafka does for old timestamps). Roll by size only. */
    cfg.segment_ms = INT64_MAX;

    struct stat st;
    bool created = stat(pdir, &st) != 0;
    /* the clean-shutdown marker, handled as logmgr.c does: present means
     * the last run closed cleanly; removed before anything is written */
    char marker[4096];
    snprintf(marker, sizeof marker, "%s/%s", logdir, CLEAN_NAME);
    bool clean = access(marker, F_OK) == 0;
    if (clean && (unlink(marker) == -1 || bk_io->fsync_dir(logdir) == -1)) {
        printf("{\"event\":\"ready\",\"ok\":false,\"error\":\"cannot remove the marker\"}\n");
        return 1;
    }
    int64_t rp = 0;
    bk_plog_open_stats os = {0};
    bk_plog *l = NULL;
    int r;
    if (created) {
        r = bk_plog_create(&l, logdir, TOPIC, PARTITION, &cfg, now_ms());
    } else {
        r = read_ckpt(ckpt, &rp);
        if (r == 0)
            r = bk_plog_load(&l, logdir, TOPIC, PARTITION, &cfg, rp, 0, clean, now_ms(), &os);
    }
    if (r) {
        printf("{\"event\":\"ready\",\"ok\":false,\"error\":\"open failed: %d\"}\n", r);
        return 1;
    }
    int64_t leo = bk_plog_leo(l);
    api_result ar = {0};
    raw_result rr = {0};
    int rc = 0;
    if (leo < o->expect_min) {
        snprintf(err, sizeof err, "LEO %" PRId64 " < last flushed %" PRId64, leo, o->expect_min);
        rc = -1;
    }
    if (!rc)
        rc = api_check(l, BK_MIN(o->check_from, rp), o->time_checks, &ar, err, sizeof err, terr,
                       sizeof terr);
    if (!rc)
        rc = raw_check(pdir, false, &rr, err, sizeof err);
    if (!rc && (rr.leo != leo || rr.bytes != bk_plog_size(l))) {
        snprintf(err, sizeof err,
                 "raw parse: LEO %" PRId64 ", %" PRIu64 " bytes; log: LEO %" PRId64 ", %" PRIu64
                 " bytes",
                 rr.leo, rr.bytes, leo, bk_plog_size(l));
        rc = -1;
    }
    /* the largest timestamp is the last batch's (ListOffsets MAX_TIMESTAMP) */
    int64_t mts, moff;
    if (!rc && o->time_checks && !terr[0] && leo > 0) {
        bk_plog_max_timestamp(l, &mts, &moff);
        if (mts != TS0 + rr.last_base || moff != leo - 1)
            snprintf(terr, sizeof terr,
                     "max timestamp: ts %" PRId64 " at offset %" PRId64 ", expected ts %" PRId64
                     " at offset %" PRId64,
                     mts - TS0, moff, rr.last_base, leo - 1);
    }
    printf("{\"event\":\"ready\",\"ok\":%s,\"created\":%s,\"clean\":%s,\"recovery_point\":%" PRId64
           ",\"leo\":%" PRId64 ",\"segments\":%d,\"recovered_segments\":%d,"
           "\"truncated_bytes\":%" PRIu64 ",\"checked_batches\":%" PRId64
           ",\"checked_bytes\":%" PRIu64 ",\"seed\":%" PRIu64 ",\"error\":\"%s\","
           "\"time_ok\":%s,\"time_error\":\"%s\"}\n",
           rc ? "false" : "true", created ? "true" : "false", clean ? "true" : "false", rp, leo,
           os.segments, os.recovered_segments, os.truncated_bytes, ar.batches, ar.bytes, o->seed,
           jstr(err), terr[0] ? "false" : "true", jstr(terr));
    fflush(stdout);
    if (rc) {
        bk_plog_free(l);
        return 1;
    }
    if (o->exit_after_open) {
        r = bk_plog_close(l);
        if (!r)
            r = write_ckpt(ckpt, l->recovery_point);
        if (!r) /* the marker last, only if everything above worked */
            r = bk_ckpt_write_file(marker, "", 0);
        if (!r)
            printf("FLUSHED %" PRId64 "\n", l->recovery_point);
        bk_plog_free(l);
        return r ? 1 : 0;
    }

    uint64_t rng = mix64(o->seed);
    int big_left = -1; /* large batches to let through before arming */
    if (o->kill_in_write) {
        pthread_t th;
        killer_delay_us = (uint32_t)(rng % 300);
        big_left = (int)((rng >> 16) % 3);
        if (sem_init(&killer_go, 0, 0) == -1 || pthread_create(&th, NULL, killer_main, NULL)) {
            fprintf(stderr, "crashwriter: killer thread: %s\n", strerror(errno));
            return 1;
        }
        killer_io = bk_posix_io;
        killer_io.pwrite = killer_pwrite;
        bk_io = &killer_io;
    }
    uint8_t *batch = malloc(MAX_BATCH);
    for (;;) {
        rng = mix64(rng);
        int k = 1 + (int)(rng % 20);
        for (int i = 0; i < k; i++) {
            int64_t b = bk_plog_leo(l), last;
            int32_t cnt;
            size_t pl;
            shape_of(b, &cnt, &pl);
            bool fire = big_left >= 0 && pl >= (256u << 10) && big_left-- == 0;
            if (fire) {
                sem_post(&killer_go);
                atomic_store_explicit(&killer_armed, true, memory_order_relaxed);
            }
            size_t n = make_batch(batch, b, &last);
            int64_t ts = TS0 + b;
            r = bk_plog_append(l, batch, n, b, last, ts, last, now_ms());
            if (r) {
                fprintf(stderr, "crashwriter: append at %" PRId64 ": %d\n", b, r);
                return 1;
            }
        }
        if ((r = bk_plog_flush_sync(l, now_ms())) || (r = write_ckpt(ckpt, l->recovery_point))) {
            fprintf(stderr, "crashwriter: flush: %d\n", r);
            return 1;
        }
        printf("FLUSHED %" PRId64 "\n", l->recovery_point);
        fflush(stdout);
    }
}

static int cmd_verify(const char *logdir, int64_t min_leo, bool allow_torn)
{
    char pdir[4096], err[512] = "";
    bk_plog_dirname(pdir, sizeof pdir, logdir, TOPIC, PARTITION);
    raw_result rr;
    int rc = raw_check(pdir, allow_torn, &rr, err, sizeof err);
    if (!rc && rr.leo < min_leo) {
        snprintf(err, sizeof err, "LEO %" PRId64 " < last flushed %" PRId64, rr.leo, min_leo);
        rc = -1;
    }
    printf("{\"event\":\"verify\",\"ok\":%s,\"leo\":%" PRId64
           ",\"segments\":%d,\"batches\":%" PRId64 ",\"bytes\":%" PRIu64 ",\"torn_bytes\":%" PRIu64
           ",\"last_batch_bytes\":%" PRIu64 ",\"error\":\"%s\"}\n",
           rc ? "false" : "true", rr.leo, rr.segments, rr.batches, rr.bytes, rr.torn, rr.last_size,
           jstr(err));
    return rc ? 1 : 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: crashwriter run DIR [--segment-bytes N] [--expect-leo-min N] "
                    "[--check-from N] [--seed N] [--exit-after-open] [--no-time-checks] "
                    "[--kill-in-write]\n"
                    "       crashwriter verify DIR [--min-leo N] [--allow-torn]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 3)
        usage();
    run_opts o = {.segbytes = 256 << 10,
                  .check_from = 0,
                  .time_checks = true,
                  .seed = (uint64_t)now_ms() * 1000003u ^ (uint64_t)getpid()};
    bool allow_torn = false;
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--segment-bytes") == 0 && v)
            o.segbytes = strtoll(argv[++i], NULL, 10);
        else if ((strcmp(a, "--expect-leo-min") == 0 || strcmp(a, "--min-leo") == 0) && v)
            o.expect_min = strtoll(argv[++i], NULL, 10);
        else if (strcmp(a, "--check-from") == 0 && v)
            o.check_from = strtoll(argv[++i], NULL, 10);
        else if (strcmp(a, "--seed") == 0 && v)
            o.seed = strtoull(argv[++i], NULL, 10);
        else if (strcmp(a, "--exit-after-open") == 0)
            o.exit_after_open = true;
        else if (strcmp(a, "--no-time-checks") == 0)
            o.time_checks = false;
        else if (strcmp(a, "--kill-in-write") == 0)
            o.kill_in_write = true;
        else if (strcmp(a, "--allow-torn") == 0)
            allow_torn = true;
        else
            usage();
    }
    if (strcmp(argv[1], "run") == 0)
        return cmd_run(argv[2], &o);
    if (strcmp(argv[1], "verify") == 0)
        return cmd_verify(argv[2], o.expect_min, allow_torn);
    usage();
}
