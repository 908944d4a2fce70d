/*
 * pstate_test.c - producer state in the partition log: sequence and epoch
 * checks, duplicates, transactions and the LSO, aborted transactions and
 * the .txnindex format, snapshots (format, roll, close, reload, corrupt
 * fallback), replay after an unclean stop, truncation, expiration.
 */
#include "../../tests/unit.h"
#include "../core/buf.h"
#include "../core/crc32c.h"
#include "fileio.h"
#include "plog.h"
#include "txnindex.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];

static void mktmp(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/bk-pstate-test-XXXXXX");
    BK_CHECK(mkdtemp(tmpdir) != NULL);
}

static void rmtmp(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    BK_CHECK(system(cmd) == 0);
}

/* A producer batch of n records at the LEO. */
static size_t mk(uint8_t *out, size_t cap, int64_t base, int n, int64_t pid, int16_t epoch,
                 int32_t seq, bool txn, int64_t ts, size_t vlen)
{
    bk_wr wr;
    bk_wr_init_fixed(&wr, out, cap);
    bk_batch_opts o = BK_BATCH_OPTS_DEFAULT;
    o.base_offset = base;
    o.producer_id = pid;
    o.producer_epoch = epoch;
    o.base_sequence = seq;
    o.transactional = txn;
    bk_batch_builder b;
    static uint8_t val[4096];
    BK_CHECK(bk_batch_builder_init(&b, &wr, &o) == 0);
    for (int i = 0; i < n; i++)
        bk_batch_builder_add(&b, ts, "k", 1, val, (int32_t)vlen, NULL, 0);
    BK_CHECK(bk_batch_builder_finish(&b) == 0);
    size_t len = wr.len - b.start;
    if (b.start)
        memmove(out, out + b.start, len);
    bk_batch_builder_fini(&b);
    return len;
}

typedef struct res {
    int16_t err;
    int64_t first, last; /* offsets (original ones for a duplicate) */
    bool dup;
} res;

/* Produce one batch as the broker would: check, then append unless a
 * duplicate or an error. */
static res produce_v(bk_plog *l, int64_t pid, int16_t epoch, int32_t seq, int n, bool txn,
                     int64_t ts, size_t vlen)
{
    static uint8_t buf[1 << 19];
    int64_t base = bk_plog_leo(l);
    size_t len = mk(buf, sizeof buf, base, n, pid, epoch, seq, txn, ts, vlen);
    bk_pdup dup;
    const char *msg = NULL;
    res r = {0};
    r.err = bk_plog_check_batch(l, buf, len, &dup, &msg);
    if (r.err) {
        BK_CHECK(msg != NULL);
        return r;
    }
    if (dup.first_offset >= 0) {
        r.dup = true;
        r.first = dup.first_offset;
        r.last = dup.last_offset;
        return r;
    }
    BK_CHECK(bk_plog_append(l, buf, len, base, base + n - 1, ts, base + n - 1, ts) == 0);
    r.first = base;
    r.last = base + n - 1;
    l->hw = bk_plog_leo(l);
    return r;
}

static res produce(bk_plog *l, int64_t pid, int16_t epoch, int32_t seq, int n, bool txn,
                   int64_t ts)
{
    return produce_v(l, pid, epoch, seq, n, txn, ts, 100);
}

static int64_t marker(bk_plog *l, int64_t pid, int16_t epoch, bool commit, int64_t ts)
{
    int64_t off = -1;
    BK_CHECK(bk_plog_append_marker(l, pid, epoch, 7, commit, 3, ts, &off) == 0);
    BK_CHECK(off == bk_plog_leo(l) - 1);
    l->hw = bk_plog_leo(l);
    return off;
}

typedef struct abcoll {
    int n;
    int64_t pid[16], first[16];
} abcoll;

static void ab_cb(void *ud, int64_t pid, int64_t first)
{
    abcoll *c = ud;
    if (c->n < 16) {
        c->pid[c->n] = pid;
        c->first[c->n] = first;
    }
    c->n++;
}

static abcoll aborted(bk_plog *l, int64_t from, int64_t upto)
{
    abcoll c = {0};
    int n = bk_plog_aborted(l, from, upto, ab_cb, &c);
    BK_CHECK(n == c.n);
    return c;
}

static bool same_entry(const bk_pentry *a, const bk_pentry *b)
{
    if (!a || !b)
        return a == b;
    return a->epoch == b->epoch && a->txn_first == b->txn_first && a->coord_epoch == b->coord_epoch;
}

static void test_sequences(void)
{
    BK_TEST("pstate: in-order sequences are accepted, duplicates of the last 5 batches "
            "return their offsets");
    mktmp();
    bk_logcfg c;
    bk_logcfg_defaults(&c);
    bk_plog *l;
    BK_CHECK(bk_plog_create(&l, tmpdir, "t", 0, &c, 0) == 0);
    BK_CHECK(produce(l, -1, -1, -1, 2, false, 1).err == 0); /* not idempotent */
    res b[7];
    int32_t seq = 0;
    for (int i = 0; i < 7; i++) {
        b[i] = produce(l, 1000, 0, seq, i + 1, false, 10 + i);
        BK_CHECK(b[i].err == 0 && !b[i].dup);
        seq += i + 1;
    }
    BK_CHECK(bk_plog_nproducers(l) == 1);
    int32_t s = 0;
    for (int i = 0; i < 7; i++) {
        res d = produce(l, 1000, 0, s, i + 1, false, 99);
        if (i >= 2) {
            BK_CHECK(d.err == 0 && d.dup && d.first == b[i].first && d.last == b[i].last);
        } else {
            /* the 6th and 7th oldest are forgotten: out of order now */
            BK_CHECK(d.err == BK_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER && !d.dup);
        }
        s += i + 1;
    }
    {
        /* the duplicate also reports the original timestamp */
        uint8_t buf[4096];
        size_t len = mk(buf, sizeof buf, 0, 7, 1000, 0, 21, false, 5, 10);
        bk_pdup dup;
        BK_CHECK(bk_plog_check_batch(l, buf, len, &dup, NULL) == 0 &&
                 dup.first_offset == b[6].first &&
                 dup.timestamp == 16);
    }

    BK_TEST("pstate: gaps, stale and new epochs, unknown producers");
    BK_CHECK(produce(l, 1000, 0, seq + 1, 1, false, 1).err == BK_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    BK_CHECK(produce(l, 1000, 0, seq - 1, 1, false, 1).err == BK_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    BK_CHECK(produce(l, 1000, 0, seq, 1, false, 1).err == 0);
    BK_CHECK(produce(l, 1000, 1, 7, 1, false, 1).err == BK_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    BK_CHECK(produce(l, 1000, 1, 0, 2, false, 1).err == 0);
    BK_CHECK(produce(l, 1000, 0, seq + 1, 1, false, 1).err == BK_KERR_INVALID_PRODUCER_EPOCH);
    BK_CHECK(produce(l, 1000, 1, 2, 1, false, 1).err == 0);
    /* an old batch of the previous epoch is not a duplicate any more */
    BK_CHECK(produce(l, 1000, 0, seq, 1, false, 1).err == BK_KERR_INVALID_PRODUCER_EPOCH);
    /* unknown producer: any sequence (KIP-360) */
    BK_CHECK(produce(l, 2000, 5, 42, 3, false, 1).err == 0);
    BK_CHECK(produce(l, 2000, 5, 45, 1, false, 1).err == 0);
    BK_CHECK(produce(l, 2000, 5, 47, 1, false, 1).err == BK_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    /* sequences wrap at INT32_MAX */
    BK_CHECK(produce(l, 3000, 0, INT32_MAX - 1, 2, false, 1).err == 0);
    BK_CHECK(produce(l, 3000, 0, 0, 1, false, 1).err == 0);
    BK_CHECK(produce(l, 3000, 0, 1, 3, false, 1).err == 0);
    res d = produce(l, 3000, 0, INT32_MAX - 1, 2, false, 1);
    BK_CHECK(d.dup);
    /* a batch spanning the wrap */
    BK_CHECK(produce(l, 4000, 0, INT32_MAX, 3, false, 1).err == 0);
    BK_CHECK(produce(l, 4000, 0, 2, 1, false, 1).err == 0);
    BK_CHECK(produce(l, 4000, 0, INT32_MAX, 3, false, 1).dup);
    BK_CHECK(bk_plog_nproducers(l) == 4);

    BK_TEST("pstate: expiration drops idle producers without an open transaction");
    BK_CHECK(produce(l, 5000, 0, 0, 1, true, 500).err == 0); /* open txn, old */
    for (int64_t p = 6000; p < 6100; p++)
        BK_CHECK(produce(l, p, 0, 0, 1, false, p == 6050 ? 10000 : 1).err == 0);
    BK_CHECK(bk_plog_nproducers(l) == 105);
    BK_CHECK(bk_plog_expire_producers(l, 1000, 100) == 103);
    BK_CHECK(bk_plog_nproducers(l) == 2);
    BK_CHECK(bk_plog_txn_open(l, 5000));
    BK_CHECK(produce(l, 6050, 0, 1, 1, false, 1).err == 0);
    /* an expired producer is unknown again: any sequence */
    BK_CHECK(produce(l, 1000, 1, 77, 1, false, 1).err == 0);
    BK_CHECK(bk_plog_nproducers(l) == 3);
    bk_plog_free(l);
    rmtmp();
}

static void test_txn(void)
{
    BK_TEST("pstate: transactions move the LSO; commit and abort markers complete them");
    mktmp();
    bk_logcfg c;
    bk_logcfg_defaults(&c);
    bk_plog *l;
    BK_CHECK(bk_plog_create(&l, tmpdir, "t", 0, &c, 0) == 0);
    BK_CHECK(produce(l, 1, 0, 0, 5, false, 1).err == 0);   /* 0..4 idempotent only */
    BK_CHECK(bk_plog_lso(l) == 5);
    res a1 = produce(l, 10, 0, 0, 2, true, 2);             /* 5..6 */
    res b1 = produce(l, 11, 0, 0, 3, true, 3);             /* 7..9 */
    res a2 = produce(l, 10, 0, 2, 1, true, 4);             /* 10 */
    BK_CHECK(a1.err == 0 && b1.err == 0 && a2.err == 0);
    BK_CHECK(bk_plog_lso(l) == 5 && bk_plog_txn_open(l, 10) && bk_plog_txn_open(l, 11));
    BK_CHECK(!bk_plog_txn_open(l, 1) && !bk_plog_txn_open(l, 12345));
    l->hw = 3; /* the LSO never passes the high watermark */
    BK_CHECK(bk_plog_lso(l) == 3);
    l->hw = bk_plog_leo(l);
    /* a non-transactional write while its transaction is open */
    BK_CHECK(produce(l, 10, 0, 3, 1, false, 5).err == BK_KERR_INVALID_TXN_STATE);
    int64_t m1 = marker(l, 10, 0, true, 6);               /* commit 10 @11 */
    BK_CHECK(m1 == 11 && !bk_plog_txn_open(l, 10) && bk_plog_lso(l) == 7);
    BK_CHECK(aborted(l, 0, 100).n == 0);
    int64_t m2 = marker(l, 11, 0, false, 7);              /* abort 11 @12 */
    BK_CHECK(m2 == 12 && bk_plog_lso(l) == 13);
    abcoll ab = aborted(l, 0, 100);
    BK_CHECK(ab.n == 1 && ab.pid[0] == 11 && ab.first[0] == 7);
    /* markers carry no sequence: the producer continues where it was */
    BK_CHECK(produce(l, 10, 0, 3, 1, false, 8).err == 0);  /* 13 */
    /* abort of a transaction that two others overlap */
    BK_CHECK(produce(l, 20, 0, 0, 1, true, 9).err == 0);   /* 14 */
    BK_CHECK(produce(l, 21, 0, 0, 1, true, 9).err == 0);   /* 15 */
    BK_CHECK(produce(l, 22, 0, 0, 1, true, 9).err == 0);   /* 16 */
    BK_CHECK(marker(l, 21, 0, false, 10) == 17);
    BK_CHECK(marker(l, 22, 0, false, 10) == 18);
    BK_CHECK(bk_plog_lso(l) == 14);
    BK_CHECK(marker(l, 20, 1, false, 11) == 19);           /* abort with a bumped epoch */
    BK_CHECK(bk_plog_lso(l) == 20);
    BK_CHECK(produce(l, 20, 0, 1, 1, false, 12).err == BK_KERR_INVALID_PRODUCER_EPOCH);
    BK_CHECK(produce(l, 20, 1, 0, 1, false, 12).err == 0); /* 20 */
    BK_CHECK(marker(l, 20, 0, true, 12) == 21);            /* stale: epoch stays 1 */
    BK_CHECK(bk_pstate_get(&l->ps, 20)->epoch == 1);
    BK_CHECK(produce(l, 20, 1, 1, 1, false, 12).err == 0); /* 22 */

    BK_TEST("pstate: aborted transactions in [from, upto), by first offset");
    ab = aborted(l, 0, 100);
    BK_CHECK(ab.n == 4 && ab.first[0] == 7 && ab.first[1] == 14 && ab.first[2] == 15 &&
             ab.first[3] == 16 && ab.pid[1] == 20 && ab.pid[2] == 21 && ab.pid[3] == 22);
    ab = aborted(l, 13, 100);                  /* 11's marker is at 12: before from */
    BK_CHECK(ab.n == 3 && ab.first[0] == 14);
    ab = aborted(l, 0, 15);                    /* first offsets < 15 */
    BK_CHECK(ab.n == 2 && ab.first[0] == 7 && ab.first[1] == 14);
    ab = aborted(l, 18, 100);                  /* markers at 18 and 19 */
    BK_CHECK(ab.n == 2 && ab.first[0] == 14 && ab.first[1] == 16);
    ab = aborted(l, 20, 100);
    BK_CHECK(ab.n == 0);
    ab = aborted(l, 0, 7);
    BK_CHECK(ab.n == 0);

    BK_TEST("pstate: .txnindex holds 34-byte entries in Kafka's layout");
    {
        char path[512];
        bk_seg_filename(path, sizeof path, l->dir, 0, ".txnindex");
        int fd = open(path, O_RDONLY);
        BK_CHECK(fd >= 0);
        uint8_t buf[1024];
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf) : -1;
        if (fd >= 0)
            close(fd);
        BK_CHECK(n == 4 * 34);
        /* 11: first 7, last 12, lso 13 (nothing else open) */
        uint8_t exp[34];
        bk_be16(exp, 0);
        bk_be64(exp + 2, 11);
        bk_be64(exp + 10, 7);
        bk_be64(exp + 18, 12);
        bk_be64(exp + 26, 13);
        BK_CHECK(n >= 34 && memcmp(buf, exp, 34) == 0);
        /* 21 aborted at 17 while 20 (14) and 22 (16) were open: lso 14 */
        bk_abtxn a;
        bk_txnidx_decode(buf + 34, &a);
        BK_CHECK(a.pid == 21 && a.first == 15 && a.last == 17 && a.lso == 14);
        bk_txnidx_decode(buf + 68, &a);
        BK_CHECK(a.pid == 22 && a.first == 16 && a.last == 18 && a.lso == 14);
        bk_txnidx_decode(buf + 102, &a);
        BK_CHECK(a.pid == 20 && a.first == 14 && a.last == 19 && a.lso == 20);
        BK_CHECK(bk_get_be16(buf + 102) == 0);
    }

    BK_TEST("pstate: the marker is a control batch with Kafka's record");
    {
        bk_plog_slice sl;
        BK_CHECK(bk_plog_read(l, 12, 1 << 16, bk_plog_leo(l), true, &sl) == 0 && sl.len > 0);
        uint8_t buf[256];
        BK_CHECK(pread(sl.fd, buf, sizeof buf, sl.pos) > 61);
        bk_batch_info bi;
        BK_CHECK(bk_batch_check(buf, sizeof buf, &bi) == 0);
        BK_CHECK(bi.control && bi.transactional && bi.base_offset == 12 && bi.producer_id == 11 &&
                 bi.base_sequence == -1 && bi.leader_epoch == 3 && bi.record_count == 1);
        int type;
        int32_t ce;
        BK_CHECK(bk_pstate_parse_marker(buf, bi.size, &type, &ce) == 0 && type == 0 && ce == 7);
    }

    BK_TEST("pstate: a marker without an open transaction is written (an abort is indexed)");
    int64_t m = marker(l, 99, 0, false, 20);
    ab = aborted(l, m, m + 1);
    BK_CHECK(ab.n == 1 && ab.pid[0] == 99 && ab.first[0] == m);
    BK_CHECK(marker(l, 98, 0, true, 20) == m + 1 && aborted(l, m + 1, 1000).n == 0);

    BK_TEST("pstate: DeleteRecords drops aborted transactions below the log start");
    l->hw = bk_plog_leo(l);
    BK_CHECK(bk_plog_delete_records(l, 13) == 0);
    ab = aborted(l, 0, 1000);
    BK_CHECK(ab.n == 4 && ab.first[0] == 14);
    BK_CHECK(bk_plog_nproducers(l) == 8); /* producers stay */

    BK_TEST("pstate: truncate fully forgets everything");
    BK_CHECK(bk_plog_truncate_fully(l, 500, 0) == 0);
    BK_CHECK(bk_plog_nproducers(l) == 0 && aborted(l, 0, 1000).n == 0 && bk_plog_lso(l) == 500);
    BK_CHECK(produce(l, 10, 0, 55, 1, false, 1).err == 0); /* unknown again */
    bk_plog_free(l);
    rmtmp();
}

/* Snapshot file bytes. */
static size_t read_file(const char *path, uint8_t *buf, size_t cap)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, cap);
    close(fd);
    return n < 0 ? 0 : (size_t)n;
}

static bool exists(const char *dir, int64_t off, const char *ext)
{
    char path[512];
    bk_seg_filename(path, sizeof path, dir, off, ext);
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Build a workload: idempotent producers, a committed and an aborted
 * transaction, one still open. Small segments so it rolls. */
static void workload(bk_plog *l, int64_t *open_first)
{
    for (int i = 0; i < 40; i++) {
        BK_CHECK(produce(l, 1, 0, i * 2, 2, false, 100 + i).err == 0);
        BK_CHECK(bk_plog_flush_sync(l, 0) == 0); /* publishes roll snapshots */
    }
    BK_CHECK(produce(l, 2, 3, 0, 1, true, 200).err == 0);
    BK_CHECK(produce(l, 3, 0, 0, 1, true, 200).err == 0);
    for (int i = 0; i < 20; i++)
        BK_CHECK(produce(l, 2, 3, 1 + i, 1, true, 201 + i).err == 0);
    marker(l, 2, 3, true, 300);
    marker(l, 3, 0, false, 300);
    res o = produce(l, 4, 1, 0, 3, true, 400);
    BK_CHECK(o.err == 0);
    *open_first = o.first;
    for (int i = 0; i < 10; i++)
        BK_CHECK(produce(l, 1, 0, 80 + i * 2, 2, false, 500 + i).err == 0);
    BK_CHECK(bk_plog_flush_sync(l, 0) == 0);
}

static void check_workload_state(bk_plog *l, int64_t open_first, bool full_window)
{
    BK_CHECK(bk_plog_nproducers(l) == 4);
    BK_CHECK(bk_plog_txn_open(l, 4) && !bk_plog_txn_open(l, 2) && !bk_plog_txn_open(l, 3));
    BK_CHECK(bk_plog_lso(l) == open_first);
    abcoll ab = aborted(l, 0, INT64_MAX);
    BK_CHECK(ab.n == 1 && ab.pid[0] == 3);
    /* the last batch of producer 1 is a duplicate; the one before only
     * with the full window (not kept by snapshots, as in Kafka) */
    res d = produce(l, 1, 0, 98, 2, false, 1);
    BK_CHECK(d.dup && d.last == bk_plog_leo(l) - 1);
    d = produce(l, 1, 0, 96, 2, false, 1);
    BK_CHECK(full_window ? d.dup : d.err == BK_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    BK_CHECK(produce(l, 1, 0, 101, 2, false, 1).err == BK_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    BK_CHECK(produce(l, 2, 2, 0, 1, false, 1).err == BK_KERR_INVALID_PRODUCER_EPOCH);
    BK_CHECK(produce(l, 4, 1, 3, 1, false, 1).err == BK_KERR_INVALID_TXN_STATE);
    const bk_pentry *e = bk_pstate_get(&l->ps, 2);
    BK_CHECK(e && e->coord_epoch == 7 && e->epoch == 3);
}

static void test_snapshots(void)
{
    BK_TEST("pstate: snapshots are written at roll and at close, in Kafka's v1 layout");
    mktmp();
    bk_logcfg c;
    bk_logcfg_defaults(&c);
    c.segment_bytes = 2048;
    bk_plog *l;
    BK_CHECK(bk_plog_create(&l, tmpdir, "t", 0, &c, 0) == 0);
    int64_t open_first;
    workload(l, &open_first);
    BK_CHECK(l->nsegs > 4);
    BK_CHECK(exists(l->dir, bk_plog_active(l)->base, ".snapshot"));
    BK_CHECK(l->ps.nsnaps == 3 && !exists(l->dir, l->segs[1]->base, ".snapshot"));
    int64_t leo = bk_plog_leo(l);
    check_workload_state(l, open_first, true);
    BK_CHECK(bk_plog_leo(l) == leo); /* the checks appended nothing */
    BK_CHECK(bk_plog_close(l) == 0);
    BK_CHECK(exists(l->dir, leo, ".snapshot"));
    {
        char path[512];
        bk_seg_filename(path, sizeof path, l->dir, leo, ".snapshot");
        uint8_t buf[4096];
        size_t n = read_file(path, buf, sizeof buf);
        BK_CHECK(n == 10 + 4 * 46);
        BK_CHECK(bk_get_be16(buf) == 1 && bk_get_be32(buf + 6) == 4);
        BK_CHECK(bk_get_be32(buf + 2) == bk_crc32c(0, buf + 6, n - 6));
        bool seen1 = false, seen4 = false;
        for (size_t i = 0; i < 4 && n >= 10 + 46 * (i + 1); i++) {
            const uint8_t *q = buf + 10 + 46 * i;
            int64_t pid = (int64_t)bk_get_be64(q);
            if (pid == 1) {
                seen1 = true;
                BK_CHECK((int16_t)bk_get_be16(q + 8) == 0);
                BK_CHECK((int32_t)bk_get_be32(q + 10) == 99);          /* last seq */
                BK_CHECK((int64_t)bk_get_be64(q + 14) == leo - 1);     /* last offset */
                BK_CHECK((int32_t)bk_get_be32(q + 22) == 1);           /* offset delta */
                BK_CHECK((int64_t)bk_get_be64(q + 26) == 509);         /* timestamp */
                BK_CHECK((int64_t)bk_get_be64(q + 38) == -1);          /* no txn */
            }
            if (pid == 4) {
                seen4 = true;
                BK_CHECK((int16_t)bk_get_be16(q + 8) == 1);
                BK_CHECK((int64_t)bk_get_be64(q + 38) == open_first);
                BK_CHECK((int32_t)bk_get_be32(q + 34) == -1);          /* no marker yet */
            }
        }
        BK_CHECK(seen1 && seen4);
    }
    int64_t rp = l->recovery_point;
    BK_CHECK(rp == leo);
    bk_plog_free(l);

    BK_TEST("pstate: a clean reopen loads the snapshot at the LEO (dups still detected)");
    bk_plog_open_stats st;
    BK_CHECK(bk_plog_load(&l, tmpdir, "t", 0, &c, rp, 0, true, 0, &st) == 0);
    BK_CHECK(bk_plog_leo(l) == leo);
    BK_CHECK(st.replayed_batches == 0 && !st.pstate_incomplete);
    check_workload_state(l, open_first, false);
    bk_plog_free(l);

    BK_TEST("pstate: an unclean reopen without snapshots replays the whole log");
    {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -f %s/t-0/*.snapshot", tmpdir);
        BK_CHECK(system(cmd) == 0);
    }
    BK_CHECK(bk_plog_open(&l, tmpdir, "t", 0, &c, 0, 0, 0, &st) == 0);
    BK_CHECK(st.replayed_batches == 75); /* 73 batches + 2 markers */
    check_workload_state(l, open_first, true);
    /* the replay left a snapshot at the active segment's base */
    BK_CHECK(exists(l->dir, bk_plog_active(l)->base, ".snapshot"));
    /* .txnindex rebuilt exactly once (replay is idempotent) */
    int64_t act_base = bk_plog_active(l)->base;
    bk_plog_free(l);
    BK_CHECK(bk_plog_open(&l, tmpdir, "t", 0, &c, 0, 0, 0, &st) == 0);
    check_workload_state(l, open_first, true);
    {
        int total = 0;
        for (int i = 0; i < l->nsegs; i++) {
            char path[512];
            bk_seg_txn_path(l->segs[i], path, sizeof path);
            struct stat sb;
            if (stat(path, &sb) == 0) {
                BK_CHECK(sb.st_size % 34 == 0);
                total += (int)(sb.st_size / 34);
            }
        }
        BK_CHECK(total == 1);
    }
    bk_plog_free(l);

    BK_TEST("pstate: an unclean reopen replays from the snapshot the last replay left");
    BK_CHECK(bk_plog_open(&l, tmpdir, "t", 0, &c, act_base, 0, 0, &st) == 0);
    check_workload_state(l, open_first, true);
    bk_plog_free(l);

    BK_TEST("pstate: a corrupt snapshot is ignored (deleted) and an older one used");
    BK_CHECK(bk_plog_load(&l, tmpdir, "t", 0, &c, leo, 0, false, 0, &st) == 0);
    BK_CHECK(bk_plog_snapshot(l) == 0 && exists(l->dir, leo, ".snapshot"));
    int nsnap = l->ps.nsnaps;
    BK_CHECK(nsnap >= 2);
    bk_plog_free(l);
    {
        char path[512];
        snprintf(path, sizeof path, "%s/t-0/%020lld.snapshot", tmpdir, (long long)leo);
        int fd = open(path, O_RDWR);
        uint8_t x = 0x77;
        BK_CHECK(fd >= 0 && pwrite(fd, &x, 1, 20) == 1);
        close(fd);
    }
    BK_CHECK(bk_plog_load(&l, tmpdir, "t", 0, &c, leo, 0, true, 0, &st) == 0);
    BK_CHECK(!exists(l->dir, leo, ".snapshot"));
    check_workload_state(l, open_first, true); /* replayed from the older one */
    bk_plog_free(l);

    BK_TEST("pstate: a torn tail is cut before the replay");
    BK_CHECK(bk_plog_open(&l, tmpdir, "t", 0, &c, 0, 0, 0, &st) == 0);
    BK_CHECK(produce(l, 5, 0, 0, 1, true, 600).err == 0);
    int64_t m = marker(l, 5, 0, false, 601);
    char lpath[512];
    snprintf(lpath, sizeof lpath, "%s", bk_plog_active(l)->log_path);
    uint64_t sz = bk_plog_active(l)->size;
    BK_CHECK(aborted(l, m, m + 1).n == 1);
    bk_plog_free(l);
    BK_CHECK(truncate(lpath, (off_t)sz - 5) == 0); /* tear the abort marker */
    BK_CHECK(bk_plog_open(&l, tmpdir, "t", 0, &c, 0, 0, 0, &st) == 0);
    BK_CHECK(bk_plog_leo(l) == m && st.truncated_bytes > 0);
    BK_CHECK(bk_plog_txn_open(l, 5) && aborted(l, m, INT64_MAX).n == 0);
    BK_CHECK(aborted(l, 0, INT64_MAX).n == 1);

    BK_TEST("pstate: an unreadable batch in a trusted segment stops the replay, not the load");
    BK_CHECK(l->nsegs > 4);
    char spath[512];
    snprintf(spath, sizeof spath, "%s", l->segs[1]->log_path);
    leo = bk_plog_leo(l);
    bk_plog_free(l);
    {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -f %s/t-0/*.snapshot", tmpdir);
        BK_CHECK(system(cmd) == 0);
        int fd = open(spath, O_RDWR);
        uint8_t bad[4] = {0x7f, 0xff, 0xff, 0xff};
        BK_CHECK(fd >= 0 && pwrite(fd, bad, 4, 8) == 4);
        close(fd);
    }
    BK_CHECK(bk_plog_open(&l, tmpdir, "t", 0, &c, leo, 0, 0, &st) == 0);
    BK_CHECK(st.pstate_incomplete && bk_plog_leo(l) == leo);
    bk_plog_free(l);
    rmtmp();
}

static void test_truncate(void)
{
    BK_TEST("pstate: truncate_to rebuilds the state at the new end");
    mktmp();
    bk_logcfg c;
    bk_logcfg_defaults(&c);
    c.segment_bytes = 4096;
    bk_plog *l;
    BK_CHECK(bk_plog_create(&l, tmpdir, "t", 0, &c, 0) == 0);
    for (int i = 0; i < 30; i++)
        BK_CHECK(produce(l, 1, 0, i, 1, false, i).err == 0);
    /* a roll snapshot waits (as .tmp) for the flush that covers it */
    BK_CHECK(l->nsegs > 1 && l->ps.nsnaps == 0);
    BK_CHECK(exists(l->dir, bk_plog_active(l)->base, ".snapshot.tmp"));
    BK_CHECK(!exists(l->dir, bk_plog_active(l)->base, ".snapshot"));
    BK_CHECK(bk_plog_flush_sync(l, 0) == 0);
    BK_CHECK(!exists(l->dir, bk_plog_active(l)->base, ".snapshot.tmp"));
    BK_CHECK(exists(l->dir, bk_plog_active(l)->base, ".snapshot") && l->ps.nsnaps == 1);
    res t = produce(l, 7, 0, 0, 2, true, 50);
    for (int i = 30; i < 60; i++)
        BK_CHECK(produce(l, 1, 0, i, 1, false, i).err == 0);
    int64_t m = marker(l, 7, 0, false, 60);
    for (int i = 60; i < 70; i++)
        BK_CHECK(produce(l, 1, 0, i, 1, false, i).err == 0);
    BK_CHECK(aborted(l, 0, INT64_MAX).n == 1 && bk_plog_lso(l) == bk_plog_leo(l));
    int nsegs = l->nsegs;
    BK_CHECK(nsegs > 3);
    /* cut just before the marker: the transaction is open again */
    BK_CHECK(bk_plog_truncate_to(l, m) == 0);
    BK_CHECK(bk_plog_leo(l) == m && l->nsegs < nsegs);
    l->hw = bk_plog_leo(l);
    BK_CHECK(bk_plog_txn_open(l, 7) && bk_plog_lso(l) == t.first);
    BK_CHECK(aborted(l, 0, INT64_MAX).n == 0);
    for (int i = 0; i < l->ps.nsnaps; i++)
        BK_CHECK(l->ps.snaps[i] <= m);
    /* producer 1's sequence is back at 59 */
    BK_CHECK(produce(l, 1, 0, 59, 1, false, 1).dup);
    BK_CHECK(produce(l, 1, 0, 60, 1, false, 1).err == 0);
    {
        int total = 0;
        for (int i = 0; i < l->nsegs; i++) {
            char path[512];
            bk_seg_txn_path(l->segs[i], path, sizeof path);
            struct stat sb;
            if (stat(path, &sb) == 0)
                total += (int)(sb.st_size / 34);
        }
        BK_CHECK(total == 0);
    }
    /* cut inside the transaction's first batch */
    BK_CHECK(bk_plog_truncate_to(l, t.first + 1) == 0);
    l->hw = bk_plog_leo(l);
    BK_CHECK(bk_plog_leo(l) == t.first && !bk_plog_txn_open(l, 7));
    BK_CHECK(bk_pstate_get(&l->ps, 7) == NULL && bk_plog_nproducers(l) == 1);
    BK_CHECK(produce(l, 1, 0, 29, 1, false, 1).dup);
    BK_CHECK(produce(l, 1, 0, 30, 1, false, 1).err == 0);
    /* abort again, then reopen cleanly */
    BK_CHECK(produce(l, 7, 0, 0, 1, true, 1).err == 0);
    marker(l, 7, 0, false, 2);
    BK_CHECK(aborted(l, 0, INT64_MAX).n == 1);
    BK_CHECK(bk_plog_close(l) == 0);
    int64_t rp = l->recovery_point;
    const bk_pentry *e = bk_pstate_get(&l->ps, 1);
    bk_pentry before = *e;
    bk_plog_free(l);
    bk_plog_open_stats st;
    BK_CHECK(bk_plog_load(&l, tmpdir, "t", 0, &c, rp, 0, true, 0, &st) == 0);
    BK_CHECK(same_entry(bk_pstate_get(&l->ps, 1), &before));
    BK_CHECK(aborted(l, 0, INT64_MAX).n == 1 && !bk_plog_txn_open(l, 7));
    bk_plog_free(l);
    rmtmp();
}

/* Ring order i (0 = oldest) of an entry's batches. */
static const bk_pbatch *nth(const bk_pentry *e, int i)
{
    return &e->b[(e->head + i) % BK_PSTATE_NBATCH];
}

/* Same producers; full = the whole 5-batch windows, else the last batch. */
static bool same_state(const bk_plog *a, const bk_plog *b, int64_t maxpid, bool full)
{
    bool ok = a->ps.n == b->ps.n && a->ps.nong == b->ps.nong && a->ps.nab == b->ps.nab;
    for (int64_t pid = 0; ok && pid <= maxpid; pid++) {
        const bk_pentry *x = bk_pstate_get(&a->ps, pid), *y = bk_pstate_get(&b->ps, pid);
        if (!x || !y) {
            ok = x == y;
            continue;
        }
        ok = x->epoch == y->epoch && x->txn_first == y->txn_first &&
             x->coord_epoch == y->coord_epoch && x->last_ts == y->last_ts;
        if (!ok)
            break;
        if (full) {
            ok = x->nb == y->nb;
            for (int i = 0; ok && i < x->nb; i++)
                ok = memcmp(nth(x, i), nth(y, i), sizeof(bk_pbatch)) == 0;
        } else if (x->nb && y->nb) {
            const bk_pbatch *p = nth(x, x->nb - 1), *q = nth(y, y->nb - 1);
            ok = p->last_seq == q->last_seq && p->first_seq == q->first_seq &&
                 p->last_off == q->last_off && p->first_off == q->first_off;
        } else {
            ok = x->nb == y->nb;
        }
    }
    for (int i = 0; ok && i < a->ps.nong; i++)
        ok = a->ps.ong[i].first == b->ps.ong[i].first && a->ps.ong[i].pid == b->ps.ong[i].pid;
    for (int i = 0; ok && i < a->ps.nab; i++)
        ok = memcmp(&a->ps.ab[i], &b->ps.ab[i], sizeof(bk_abtxn)) == 0;
    return ok;
}

static void test_bulk(void)
{
    BK_TEST("pstate: a big log without snapshots replays to the very same state");
    mktmp();
    bk_logcfg c;
    bk_logcfg_defaults(&c);
    c.segment_bytes = 1 << 20;
    bk_plog *l;
    BK_CHECK(bk_plog_create(&l, tmpdir, "t", 0, &c, 0) == 0);
    int32_t seq[64] = {0};
    bool open[64] = {false};
    uint64_t rnd = 12345;
    for (int i = 0; i < 6000; i++) {
        rnd = rnd * 6364136223846793005ull + 1442695040888963407ull;
        int64_t pid = (int64_t)((rnd >> 33) % 50);
        bool txn = pid >= 35;
        size_t vlen = (size_t)((rnd >> 20) % 1500);
        int n = 1 + (int)((rnd >> 12) % 4);
        if ((rnd >> 40) % 500 == 0)
            vlen = 4000, n = 30; /* a batch bigger than a quarter of the scan buffer */
        if (i % 7 == 0)
            produce_v(l, -1, -1, -1, n, false, i, vlen); /* not idempotent */
        if (txn && open[pid] && (rnd >> 50) % 4 == 0) {
            marker(l, pid, 0, (rnd >> 52) % 3 != 0, i);
            open[pid] = false;
            continue;
        }
        res r = produce_v(l, pid, 0, seq[pid], n, txn, i, vlen);
        BK_CHECK(r.err == 0 && !r.dup);
        seq[pid] += n;
        open[pid] |= txn;
    }
    BK_CHECK(l->nsegs > 8 && l->ps.nab > 10 && l->ps.nong > 0);
    BK_CHECK(bk_plog_flush_sync(l, 0) == 0);
    int64_t rp = l->recovery_point;
    bk_plog *l2;
    bk_plog_open_stats st;
    /* from the snapshot the flush published at the last roll */
    BK_CHECK(bk_plog_open(&l2, tmpdir, "t", 0, &c, rp, 0, 0, &st) == 0);
    BK_CHECK(same_state(l, l2, 64, false));
    BK_CHECK(st.replayed_batches > 0 && st.replayed_batches < 2000);
    bk_plog_free(l2);
    /* delete every snapshot file, and load again: the whole log */
    {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -f %s/t-0/*.snapshot", tmpdir);
        BK_CHECK(system(cmd) == 0);
    }
    BK_CHECK(bk_plog_open(&l2, tmpdir, "t", 0, &c, rp, 0, 0, &st) == 0);
    BK_CHECK(same_state(l, l2, 64, true));
    BK_CHECK(st.replayed_batches > 6000);
    bk_plog_free(l2);
    /* from the snapshots the replay above left */
    BK_CHECK(bk_plog_open(&l2, tmpdir, "t", 0, &c, rp, 0, 0, &st) == 0);
    BK_CHECK(same_state(l, l2, 64, false));
    bk_plog_free(l2);
    /* clean close and reload */
    BK_CHECK(bk_plog_close(l) == 0);
    BK_CHECK(bk_plog_load(&l2, tmpdir, "t", 0, &c, l->recovery_point, 0, true, 0, &st) == 0);
    BK_CHECK(same_state(l, l2, 64, false));
    bk_plog_free(l2);
    bk_plog_free(l);
    rmtmp();
}

/* Deterministic operation i of a workload with transactions. */
typedef struct wl {
    int32_t seq[16];
    bool open[16];
} wl;

static void op(bk_plog *l, wl *w, int i)
{
    uint64_t x = (uint64_t)i * 0x9E3779B97F4A7C15ull;
    int64_t pid = (int64_t)((x >> 40) % 12);
    bool txn = pid >= 6;
    if (txn && w->open[pid] && (x >> 20) % 3 == 0) {
        marker(l, pid, 0, (x >> 30) % 2 == 0, i);
        w->open[pid] = false;
        return;
    }
    int n = 1 + (int)((x >> 50) % 3);
    res r = produce_v(l, pid, 0, w->seq[pid], n, txn, i, 200);
    BK_CHECK(r.err == 0 && !r.dup);
    w->seq[pid] += n;
    w->open[pid] |= txn;
}

static void test_power_cut(void)
{
    BK_TEST("pstate: after a power cut the state is the one at the durable point "
            "(.txnindex fsynced with the log)");
    mktmp();
    bk_fault_reset();
    bk_io = &bk_fault_io;
    bk_logcfg c;
    bk_logcfg_defaults(&c);
    c.segment_bytes = 4096;
    for (int round = 0; round < 6; round++) {
        char name[16], ref[16];
        snprintf(name, sizeof name, "p%d", round);
        snprintf(ref, sizeof ref, "r%d", round);
        bk_plog *l, *r;
        wl w = {{0}}, wr = {{0}};
        BK_CHECK(bk_plog_create(&l, tmpdir, name, 0, &c, 0) == 0);
        BK_CHECK(bk_plog_create(&r, tmpdir, ref, 0, &c, 0) == 0);
        int n1 = 60 + round * 25;
        for (int i = 0; i < n1; i++) {
            op(l, &w, i);
            op(r, &wr, i);
        }
        if (round % 2 == 0)
            BK_CHECK(bk_plog_snapshot(l) == 0); /* durable snapshot at the durable point */
        BK_CHECK(bk_plog_flush_sync(l, 0) == 0);
        int64_t durable = l->recovery_point;
        BK_CHECK(durable == bk_plog_leo(l));
        for (int i = n1; i < n1 + 40; i++)
            op(l, &w, i); /* not fsynced */
        bk_plog_free(l);
        bk_fault_power_cut(round % 3 == 0, (uint64_t)round);
        bk_plog_open_stats st;
        BK_CHECK(bk_plog_open(&l, tmpdir, name, 0, &c, durable, 0, 0, &st) == 0);
        /* >=: a segment rolled after the flush survives as an empty file
         * (created, never synced) and the LEO is its base - a gap in the
         * offsets, which plog's recovery accepts when the cut is clean */
        BK_CHECK(bk_plog_leo(l) >= durable);
        BK_CHECK(same_state(l, r, 16, false));
        BK_CHECK(bk_plog_lso(l) == bk_plog_lso(r));
        bk_plog_free(l);
        bk_plog_free(r);
    }
    bk_io = &bk_posix_io;
    bk_fault_reset();
    rmtmp();
}

static void test_map(void)
{
    BK_TEST("pstate: the producer map survives growth and expiration of any subset");
    bk_pstate ps;
    bk_pstate_init(&ps);
    uint8_t buf[512];
    int64_t ts[4000];
    uint64_t x = 99;
    for (int i = 0; i < 4000; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        int64_t pid = (int64_t)i * 7919 + (int64_t)(x >> 60); /* clustered ids */
        ts[i] = (int64_t)((x >> 20) % 1000);
        mk(buf, sizeof buf, i, 1, pid, 0, 0, false, ts[i], 1);
        bk_abtxn ab;
        BK_CHECK(bk_pstate_apply(&ps, buf, -1, -1, &ab) == 0);
    }
    BK_CHECK(ps.n == 4000);
    int expect = 0;
    for (int i = 0; i < 4000; i++)
        expect += ts[i] < 500;
    BK_CHECK(bk_pstate_expire(&ps, 500) == expect && (int)ps.n == 4000 - expect);
    x = 99;
    int found = 0;
    for (int i = 0; i < 4000; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        int64_t pid = (int64_t)i * 7919 + (int64_t)(x >> 60);
        const bk_pentry *e = bk_pstate_get(&ps, pid);
        BK_CHECK((e != NULL) == (ts[i] >= 500));
        found += e != NULL;
        if (e)
            BK_CHECK(e->last_ts == ts[i] && e->nb == 1 && e->b[0].first_off == i);
    }
    BK_CHECK(found == 4000 - expect);
    BK_CHECK(bk_pstate_expire(&ps, INT64_MAX) == found && ps.n == 0);
    bk_pstate_fini(&ps);
}

void bk_test_pstate(void);
void bk_test_pstate(void)
{
    test_map();
    test_sequences();
    test_txn();
    test_snapshots();
    test_truncate();
    test_bulk();
    test_power_cut();
}
