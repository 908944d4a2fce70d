/*
 * plog_test.c - partition log: append, read, roll, recovery of torn tails,
 * index rebuild, truncation, retention, checkpoints, ENOSPC and EIO faults,
 * power cuts through the fault-injecting file layer.
 */
#include "../../tests/unit.h"
#include "../core/buf.h"
#include "../core/crc32c.h"
#include "checkpoint.h"
#include "fileio.h"
#include "plog.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A syntactically valid batch: header + `payload` opaque record bytes,
 * offsets base..base+count-1, valid CRC. Storage never looks inside. */
static size_t mkbatch(uint8_t *out, int64_t base, int32_t count, int64_t ts, size_t payload,
                      uint8_t fill)
{
    size_t total = BK_BATCH_HDR + payload;
    memset(out, 0, BK_BATCH_HDR);
    bk_be64(out, (uint64_t)base);
    bk_be32(out + 8, (uint32_t)(total - 12));
    out[16] = 2;
    bk_be32(out + 23, (uint32_t)(count - 1));
    bk_be64(out + 27, (uint64_t)ts);
    bk_be64(out + 35, (uint64_t)ts);
    bk_be64(out + 43, (uint64_t)-1);
    bk_be16(out + 51, 0xffff);
    bk_be32(out + 53, 0xffffffff);
    bk_be32(out + 57, (uint32_t)count);
    memset(out + BK_BATCH_HDR, fill, payload);
    bk_be32(out + 17, bk_crc32c(0, out + 21, total - 21));
    return total;
}

static char tmpdir[256];

static void mktmp(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/bk-plog-test-XXXXXX");
    BK_CHECK(mkdtemp(tmpdir) != NULL);
}

static void rmtmp(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    BK_CHECK(system(cmd) == 0);
}

static bk_logcfg small_cfg(void)
{
    bk_logcfg c;
    bk_logcfg_defaults(&c);
    c.segment_bytes = 64 * 1024;
    c.index_interval = 512;
    c.index_bytes = 4096;
    return c;
}

/* Append n batches of `per` records each; returns the LEO. */
static int64_t fill(bk_plog *l, int n, int per, size_t payload, int64_t ts0)
{
    uint8_t buf[70000];
    for (int i = 0; i < n; i++) {
        int64_t base = bk_plog_leo(l);
        size_t len = mkbatch(buf, base, per, ts0 + i, payload, (uint8_t)i);
        int r = bk_plog_append(l, buf, len, base, base + per - 1, ts0 + i, base + per - 1, ts0 + i);
        if (r) {
            BK_CHECK(r == 0);
            break;
        }
    }
    return bk_plog_leo(l);
}

/* Read every batch from offset 0 and check contiguity; returns the count. */
static int64_t read_all(bk_plog *l, int64_t *last_out)
{
    int64_t off = l->log_start, records = 0;
    uint8_t *buf = malloc(1 << 20);
    for (;;) {
        bk_plog_slice sl;
        int r = bk_plog_read(l, off, 1 << 20, bk_plog_leo(l), true, &sl);
        BK_CHECK(r == 0);
        if (r || sl.len == 0)
            break;
        BK_CHECK(pread(sl.fd, buf, sl.len, sl.pos) == (ssize_t)sl.len);
        size_t p = 0;
        while (p < sl.len) {
            int64_t base = (int64_t)bk_get_be64(buf + p);
            uint32_t blen = bk_get_be32(buf + p + 8);
            int32_t delta = (int32_t)bk_get_be32(buf + p + 23);
            BK_CHECK(base <= off || p > 0);
            BK_CHECK(bk_crc32c(0, buf + p + 21, blen + 12 - 21) == bk_get_be32(buf + p + 17));
            if (base + delta >= off) {
                records += base + delta + 1 - BK_MAX(base, off);
                off = base + delta + 1;
            }
            p += blen + 12;
        }
    }
    free(buf);
    if (last_out)
        *last_out = off;
    return records;
}

static void test_append_read_roll(void)
{
    BK_TEST("plog: append, read back across rolled segments, index lookups");
    mktmp();
    bk_logcfg c = small_cfg();
    bk_plog *l;
    BK_CHECK(bk_plog_create(&l, tmpdir, "t", 0, &c, 1000) == 0);
    int64_t leo = fill(l, 400, 5, 900, 1000);
    BK_CHECK(leo == 2000);
    BK_CHECK(l->nsegs > 4); /* 64 KiB segments of ~1 KiB batches */
    int64_t last;
    BK_CHECK(read_all(l, &last) == 2000 && last == 2000);
    /* a read from the middle of a batch starts at that batch */
    bk_plog_slice sl;
    BK_CHECK(bk_plog_read(l, 1234, 100, leo, true, &sl) == 0);
    BK_CHECK(sl.len > 0 && sl.first_offset == 1230);
    /* min_one: the first batch even when bigger than max_bytes */
    BK_CHECK(sl.len == 961);
    /* max_offset bounds the read */
    BK_CHECK(bk_plog_read(l, 1230, 1 << 20, 1240, true, &sl) == 0 && sl.len == 2 * 961);
    BK_CHECK(bk_plog_read(l, 2001, 100, leo, true, &sl) == BK_ERANGE);
    BK_CHECK(bk_plog_read(l, 2000, 100, leo, true, &sl) == 0 && sl.len == 0);
    /* time lookup: timestamps are 1000 + batch index */
    int64_t off, ts;
    BK_CHECK(bk_plog_offset_for_time(l, 1250, &off, &ts) == 0 && off == 1250 && ts == 1250);
    BK_CHECK(bk_plog_offset_for_time(l, 0, &off, &ts) == 0 && off == 0);
    BK_CHECK(bk_plog_offset_for_time(l, 99999, &off, &ts) == BK_ENOENT);
    bk_plog_max_timestamp(l, &ts, &off);
    BK_CHECK(ts == 1399 && off == 1999);

    BK_TEST("plog: clean close and reopen scans nothing and keeps every offset");
    BK_CHECK(bk_plog_close(l) == 0);
    int64_t rp = l->recovery_point;
    BK_CHECK(rp == 2000);
    int nsegs = l->nsegs;
    bk_plog_free(l);
    bk_plog_open_stats st;
    BK_CHECK(bk_plog_load(&l, tmpdir, "t", 0, &c, rp, 0, true, 2000, &st) == 0);
    BK_CHECK(st.segments == nsegs && st.recovered_segments == 0 && st.truncated_bytes == 0);
    BK_CHECK(bk_plog_leo(l) == 2000 && read_all(l, NULL) == 2000);
    BK_CHECK(bk_plog_offset_for_time(l, 1300, &off, &ts) == 0 && off == 1500);
    fill(l, 10, 5, 900, 5000);
    BK_CHECK(bk_plog_leo(l) == 2050 && read_all(l, NULL) == 2050);

    BK_TEST("plog: index files of sealed segments are trimmed to their entries");
    {
        char path[512];
        bk_seg_filename(path, sizeof path, l->dir, 0, ".index");
        struct stat sb;
        BK_CHECK(stat(path, &sb) == 0 && sb.st_size > 0 && sb.st_size % 8 == 0 &&
                 sb.st_size < 4096);
    }
    bk_plog_free(l);

    BK_TEST("plog: open descriptors stay within the budget, reads reopen evicted ones");
    BK_CHECK(bk_seg_open_fds() == 0);
    bk_seg_set_fd_budget(2);
    BK_CHECK(bk_plog_open(&l, tmpdir, "t", 0, &c, 0, 0, 2000, &st) == 0); /* scans all */
    BK_CHECK(l->nsegs > 4 && bk_seg_open_fds() <= 3); /* 2 sealed + the active one */
    BK_CHECK(read_all(l, NULL) == 2050);
    BK_CHECK(bk_seg_open_fds() <= 3);
    bk_seg_pin(l->segs[0]); /* pinned: kept open even over budget */
    BK_CHECK(read_all(l, NULL) == 2050 && l->segs[0]->fd >= 0);
    bk_seg_unpin(l->segs[0]);
    BK_CHECK(bk_seg_open_fds() <= 3);
    bk_plog_free(l);
    BK_CHECK(bk_seg_open_fds() == 0);
    bk_seg_set_fd_budget(1024);
    rmtmp();
}

static void test_recovery(void)
{
    BK_TEST("plog: a torn and a corrupt tail are cut at the last valid batch");
    mktmp();
    bk_logcfg c = small_cfg();
    bk_plog *l;
    BK_CHECK(bk_plog_create(&l, tmpdir, "t", 3, &c, 0) == 0);
    fill(l, 30, 2, 300, 10);
    int64_t leo = bk_plog_leo(l);
    char path[512];
    bk_seg_filename(path, sizeof path, l->dir, bk_plog_active(l)->base, ".log");
    bk_plog_free(l); /* crash: no close, no flush */
    /* tear: append half a batch */
    uint8_t b[2000];
    size_t n = mkbatch(b, leo, 3, 99, 500, 7);
    int fd = open(path, O_WRONLY | O_APPEND);
    BK_CHECK(fd >= 0 && write(fd, b, n / 2) == (ssize_t)(n / 2));
    close(fd);
    bk_plog_open_stats st;
    BK_CHECK(bk_plog_open(&l, tmpdir, "t", 3, &c, 0, 0, 0, &st) == 0);
    BK_CHECK(st.truncated_bytes == n / 2 && bk_plog_leo(l) == leo);
    BK_CHECK(read_all(l, NULL) == leo);
    bk_plog_free(l);
    /* corrupt: flip a byte inside the last batch's records */
    struct stat sb;
    BK_CHECK(stat(path, &sb) == 0);
    fd = open(path, O_RDWR);
    uint8_t x = 0x5a;
    BK_CHECK(pwrite(fd, &x, 1, sb.st_size - 10) == 1);
    close(fd);
    BK_CHECK(bk_plog_open(&l, tmpdir, "t", 3, &c, 0, 0, 0, &st) == 0);
    BK_CHECK(st.truncated_bytes == 361 && bk_plog_leo(l) == leo - 2);
    BK_CHECK(read_all(l, NULL) == leo - 2);
    /* appends continue at the new end */
    fill(l, 1, 4, 10, 1);
    BK_CHECK(bk_plog_leo(l) == leo + 2);

    BK_TEST("plog: a missing index below the recovery point is rebuilt");
    BK_CHECK(bk_plog_close(l) == 0);
    int64_t rp = l->recovery_point;
    bk_plog_free(l);
    bk_seg_filename(path, sizeof path, tmpdir, 0, "");
    char ipath[512];
    snprintf(ipath, sizeof ipath, "%s/t-3/%020d.index", tmpdir, 0);
    fd = open(ipath, O_WRONLY | O_TRUNC);
    BK_CHECK(fd >= 0 && write(fd, "garbage!x", 9) == 9); /* not a multiple of 8 */
    close(fd);
    BK_CHECK(bk_plog_open(&l, tmpdir, "t", 3, &c, rp, 0, 0, &st) == 0);
    BK_CHECK(read_all(l, NULL) == leo + 2);
    bk_plog_free(l);
    rmtmp();
}

static void test_truncate_retention(void)
{
    BK_TEST("plog: truncate_to drops whole batches and later segments");
    mktmp();
    bk_logcfg c = small_cfg();
    bk_plog *l;
    BK_CHECK(bk_plog_create(&l, tmpdir, "t", 0, &c, 0) == 0);
    fill(l, 300, 10, 900, 0);
    int segs = l->nsegs;
    BK_CHECK(bk_plog_truncate_to(l, 1505) == 0); /* mid-batch: the whole batch goes */
    BK_CHECK(bk_plog_leo(l) == 1500 && l->nsegs < segs);
    BK_CHECK(read_all(l, NULL) == 1500);
    fill(l, 5, 10, 900, 0);
    BK_CHECK(bk_plog_leo(l) == 1550 && read_all(l, NULL) == 1550);

    BK_TEST("plog: DeleteRecords moves the log start and drops old segments");
    l->hw = bk_plog_leo(l);
    BK_CHECK(bk_plog_delete_records(l, 700) == 0);
    BK_CHECK(l->log_start == 700 && l->segs[0]->base <= 700);
    bk_plog_slice sl;
    BK_CHECK(bk_plog_read(l, 699, 100, l->hw, true, &sl) == BK_ERANGE);
    BK_CHECK(read_all(l, NULL) == 850);

    BK_TEST("plog: retention by bytes and by time never deletes the active segment");
    l->cfg.retention_bytes = 10 * 1024; /* keeps >= the limit: Kafka deletes only while what is left stays above it */
    BK_CHECK(bk_plog_retention(l, 0) > 0);
    BK_CHECK(bk_plog_size(l) >= 10 * 1024 && bk_plog_size(l) < 64 * 1024 && l->nsegs == 1);
    BK_CHECK(l->log_start == l->segs[0]->base);
    l->cfg.retention_bytes = -1;
    l->cfg.retention_ms = 1000;
    fill(l, 200, 1, 900, 0); /* three more segments, timestamps 0..199 */
    BK_CHECK(l->nsegs > 2);
    BK_CHECK(bk_plog_retention(l, 1000) == 0); /* nothing older than 1 s yet */
    BK_CHECK(bk_plog_retention(l, 1000000) > 0 && l->nsegs == 1);
    BK_CHECK(bk_plog_leo(l) == 1750 && l->log_start == l->segs[0]->base);

    BK_TEST("plog: truncate fully restarts the log at an offset");
    BK_CHECK(bk_plog_truncate_fully(l, 5000, 0) == 0);
    BK_CHECK(bk_plog_leo(l) == 5000 && l->log_start == 5000);
    fill(l, 2, 1, 10, 0);
    BK_CHECK(bk_plog_leo(l) == 5002);
    BK_CHECK(bk_plog_read(l, 4999, 100, 5002, true, &sl) == BK_ERANGE);

    BK_TEST("plog: partition.metadata round trip");
    uint8_t id[16], back[16];
    for (int i = 0; i < 16; i++)
        id[i] = (uint8_t)(i * 37 + 1);
    BK_CHECK(bk_plog_write_topic_id(l, id) == 0);
    BK_CHECK(bk_plog_read_topic_id(l, back) == 0 && memcmp(id, back, 16) == 0);
    bk_plog_free(l);
    rmtmp();
}

static void test_checkpoints(void)
{
    BK_TEST("checkpoint: offsets and epochs in Kafka's text format");
    mktmp();
    char path[512];
    snprintf(path, sizeof path, "%s/recovery-point-offset-checkpoint", tmpdir);
    bk_ckpt_tpo e[2] = {{"my-topic", 0, 42}, {"other.topic_x", 7, 1234567890123}};
    BK_CHECK(bk_ckpt_write_offsets(path, e, 2) == 0);
    FILE *f = fopen(path, "r");
    char text[200] = {0};
    BK_CHECK(f && fread(text, 1, sizeof text - 1, f) > 0);
    if (f)
        fclose(f);
    BK_CHECK(strcmp(text, "0\n2\nmy-topic 0 42\nother.topic_x 7 1234567890123\n") == 0);
    bk_ckpt_tpo *got;
    int n;
    BK_CHECK(bk_ckpt_read_offsets(path, &got, &n) == 0 && n == 2);
    BK_CHECK(strcmp(got[1].topic, "other.topic_x") == 0 && got[1].offset == 1234567890123);
    bk_ckpt_free_offsets(got, n);
    f = fopen(path, "w");
    fputs("0\n2\nmy-topic 0 42\n", f); /* fewer lines than announced */
    fclose(f);
    BK_CHECK(bk_ckpt_read_offsets(path, &got, &n) == BK_ECORRUPT);
    snprintf(path, sizeof path, "%s/leader-epoch-checkpoint", tmpdir);
    bk_ckpt_epoch ep[2] = {{0, 0}, {3, 100}};
    BK_CHECK(bk_ckpt_write_epochs(path, ep, 2) == 0);
    bk_ckpt_epoch *eg;
    BK_CHECK(bk_ckpt_read_epochs(path, &eg, &n) == 0 && n == 2 && eg[1].epoch == 3 &&
             eg[1].start_offset == 100);
    free(eg);
    snprintf(path, sizeof path, "%s/nope", tmpdir);
    BK_CHECK(bk_ckpt_read_offsets(path, &got, &n) == BK_ENOENT);
    rmtmp();
}

static void test_faults(void)
{
    BK_TEST("faults: ENOSPC rejects the write, leaves no partial batch, and heals");
    mktmp();
    bk_fault_reset();
    bk_io = &bk_fault_io;
    bk_logcfg c = small_cfg();
    bk_plog *l;
    BK_CHECK(bk_plog_create(&l, tmpdir, "t", 0, &c, 0) == 0);
    fill(l, 5, 1, 100, 0);
    uint64_t size_before = bk_plog_size(l);
    bk_fault_cfg fc = {.enospc_above = bk_fault_bytes_written() + 50, .short_write = true};
    bk_fault_set(&fc);
    uint8_t b[2000];
    size_t n = mkbatch(b, 5, 1, 0, 100, 1);
    BK_CHECK(bk_plog_append(l, b, n, 5, 5, 0, 5, 0) == BK_ENOSPC);
    BK_CHECK(bk_plog_size(l) == size_before && bk_plog_leo(l) == 5 && !l->offline);
    {
        struct stat sb;
        BK_CHECK(stat(bk_plog_active(l)->log_path, &sb) == 0 &&
                 (uint64_t)sb.st_size == size_before);
    }
    bk_fault_cfg none = {0};
    bk_fault_set(&none);
    BK_CHECK(bk_plog_append(l, b, n, 5, 5, 0, 5, 0) == 0 && bk_plog_leo(l) == 6);
    BK_CHECK(read_all(l, NULL) == 6);

    BK_TEST("faults: EIO takes the log offline for writes, reads go on");
    fc = (bk_fault_cfg){.fail_write_after = 1, .write_errno = 5 /* EIO */};
    bk_fault_set(&fc);
    n = mkbatch(b, 6, 1, 0, 100, 1);
    BK_CHECK(bk_plog_append(l, b, n, 6, 6, 0, 6, 0) == BK_EIO);
    BK_CHECK(l->offline);
    bk_fault_set(&none);
    BK_CHECK(bk_plog_append(l, b, n, 6, 6, 0, 6, 0) == BK_EIO);
    BK_CHECK(read_all(l, NULL) == 6);
    bk_plog_free(l);

    BK_TEST("faults: a failed fsync takes the log offline and keeps the recovery point");
    BK_CHECK(bk_plog_create(&l, tmpdir, "u", 0, &c, 0) == 0);
    fill(l, 3, 1, 100, 0);
    fc = (bk_fault_cfg){.fail_fsync_after = 1};
    bk_fault_set(&fc);
    BK_CHECK(bk_plog_flush_sync(l, 0) == BK_EIO);
    BK_CHECK(l->offline && l->recovery_point == 0);
    bk_fault_set(&none);
    bk_plog_free(l);

    BK_TEST("faults: power cut keeps exactly what was fsynced");
    for (int round = 0; round < 20; round++) {
        char name[32];
        snprintf(name, sizeof name, "p%d", round);
        BK_CHECK(bk_plog_create(&l, tmpdir, name, 0, &c, 0) == 0);
        fill(l, 20 + round * 7, 3, 400, 0);
        BK_CHECK(bk_plog_flush_sync(l, 0) == 0);
        int64_t durable = l->recovery_point;
        BK_CHECK(durable == bk_plog_leo(l));
        fill(l, 1 + round % 5, 3, 400, 0); /* not fsynced */
        bk_plog_free(l);                    /* the process dies ... */
        bk_fault_power_cut(round % 2 == 0, (uint64_t)round);  /* ... and so does the machine */
        bk_plog_open_stats st;
        BK_CHECK(bk_plog_open(&l, tmpdir, name, 0, &c, durable, 0, 0, &st) == 0);
        BK_CHECK(bk_plog_leo(l) == durable);
        int64_t last;
        BK_CHECK(read_all(l, &last) == durable && last == durable);
        fill(l, 2, 1, 10, 0);
        BK_CHECK(bk_plog_leo(l) == durable + 2);
        bk_plog_free(l);
    }
    bk_io = &bk_posix_io;
    bk_fault_reset();
    rmtmp();
}

void bk_test_plog(void);
void bk_test_plog(void)
{
    test_append_read_roll();
    test_recovery();
    test_truncate_retention();
    test_checkpoints();
    test_faults();
}
