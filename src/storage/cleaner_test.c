/*
 * cleaner_test.c - the log cleaner on real partition logs: latest value per
 * key with every codec, tombstones and delete.retention.ms, aborted
 * transactions and producer state, the dedupe buffer bound, a crash at each
 * step of the swap, and the cleaner thread with its hand-over.
 */
#include "../../tests/unit.h"
#include "../core/buf.h"
#include "cleaner.h"
#include "compress.h"
#include "plog.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOW   1700000000000LL
#define NKEYS 50

static char tdir[256];

static void mktmp(void)
{
    snprintf(tdir, sizeof tdir, "/tmp/bk-cleaner-test-XXXXXX");
    BK_CHECK(mkdtemp(tdir) != NULL);
}

static void rmtmp(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tdir);
    BK_CHECK(system(cmd) == 0);
}

static bk_logcfg ccfg(void)
{
    bk_logcfg c;
    bk_logcfg_defaults(&c);
    c.segment_bytes = 4096;
    c.index_interval = 256;
    c.index_bytes = 4096;
    c.cleanup_compact = true;
    c.cleanup_delete = false;
    c.min_cleanable_ratio = 0.01;
    return c;
}

/* Append one batch of n records: keys key[i] (NULL: null key), values
 * val[i] (NULL: tombstone). */
static int append(bk_plog *l, int codec, int64_t pid, int16_t epoch, int32_t seq, bool txn, int n,
                  const char *const *key, const char *const *val, int64_t ts)
{
    bk_wr w;
    bk_wr_init(&w, 256);
    bk_batch_opts o = BK_BATCH_OPTS_DEFAULT;
    o.compression = codec;
    o.compress = bk_compress;
    o.producer_id = pid;
    o.producer_epoch = epoch;
    o.base_sequence = seq;
    o.transactional = txn;
    o.base_offset = bk_plog_leo(l);
    bk_batch_builder b;
    bk_batch_builder_init(&b, &w, &o);
    for (int i = 0; i < n; i++)
        bk_batch_builder_add(&b, ts, key[i], key[i] ? (int32_t)strlen(key[i]) : -1, val[i],
                             val[i] ? (int32_t)strlen(val[i]) : -1, NULL, 0);
    int r = bk_batch_builder_finish(&b);
    bk_batch_builder_fini(&b);
    if (!r) {
        int64_t first = bk_plog_leo(l);
        r = bk_plog_append(l, w.buf, w.len, first, first + n - 1, ts, first + n - 1, ts);
    }
    bk_wr_fini(&w);
    return r;
}

/* What a consumer would see. */
typedef struct seen {
    char val[NKEYS][32]; /* "" = absent, "-" = tombstone */
    int count[NKEYS];
    int records, batches, empty_batches;
    int64_t last_off;
    bool ordered;
    int pid_batches; /* batches of the producer id asked for */
    int64_t pid;
} seen;

static int seen_cb(void *ud, const bk_batch_info *bi)
{
    seen *s = ud;
    s->batches++;
    if (bi->record_count == 0)
        s->empty_batches++;
    if (bi->producer_id == s->pid && s->pid >= 0)
        s->pid_batches++;
    if (bi->control)
        return 0;
    bk_wr dec;
    bk_wr_init(&dec, 0);
    const uint8_t *recs = bi->records;
    size_t len = bi->records_len;
    if (bi->compression) {
        if (bk_decompress(NULL, bi->compression, recs, len, &dec, 1 << 26) != 0) {
            BK_CHECK(!"decompress");
            bk_wr_fini(&dec);
            return 0;
        }
        recs = dec.buf;
        len = dec.len;
    }
    bk_rec_iter it;
    bk_record r;
    bk_rec_iter_init(&it, recs, len, bi->record_count);
    while (bk_rec_iter_next(&it, &r)) {
        int64_t off = bi->base_offset + r.offset_delta;
        if (off <= s->last_off)
            s->ordered = false;
        s->last_off = off;
        s->records++;
        if (r.key_len <= 1)
            continue;
        int k = atoi((const char *)r.key + 1);
        if (k < 0 || k >= NKEYS)
            continue;
        s->count[k]++;
        if (r.value_len < 0)
            snprintf(s->val[k], sizeof s->val[k], "-");
        else
            snprintf(s->val[k], sizeof s->val[k], "%.*s", (int)r.value_len, (const char *)r.value);
    }
    BK_CHECK(it.err == 0);
    bk_wr_fini(&dec);
    return 0;
}

static void scan(bk_plog *l, seen *s, int64_t pid)
{
    memset(s, 0, sizeof *s);
    s->last_off = -1;
    s->ordered = true;
    s->pid = pid;
    BK_CHECK(bk_plog_foreach_batch(l, 0, seen_cb, s) == 0);
}

/* Flushed (recovery point) and replicated (high watermark) up to the LEO,
 * as the broker does in single-node mode. */
static void ready(bk_plog *l)
{
    BK_CHECK(bk_plog_flush_sync(l, NOW) == 0);
    l->hw = bk_plog_leo(l);
}

static bk_cleaner_cfg clcfg(void)
{
    bk_cleaner_cfg c;
    bk_cleaner_cfg_defaults(&c);
    c.dedupe_bytes = 1 << 20;
    return c;
}

/* 400 updates of NKEYS keys, 5 a batch; expect[k] = latest value. */
static void fill_updates(bk_plog *l, int codec, char expect[NKEYS][32], int rounds)
{
    static int serial;
    for (int b = 0; b < rounds; b++) {
        char kb[5][16], vb[5][32];
        const char *k[5], *v[5];
        for (int i = 0; i < 5; i++) {
            int key = (b * 5 + i) % NKEYS;
            snprintf(kb[i], sizeof kb[i], "k%d", key);
            snprintf(vb[i], sizeof vb[i], "v%d-%d", key, ++serial);
            snprintf(expect[key], 32, "%s", vb[i]);
            k[i] = kb[i];
            v[i] = vb[i];
        }
        BK_CHECK(append(l, codec, -1, -1, -1, false, 5, k, v, NOW + b) == 0);
    }
}

static int count_files(const char *sub, const char *suffix)
{
    DIR *d = opendir(sub);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    size_t sl = strlen(suffix);
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len > sl && strcmp(de->d_name + len - sl, suffix) == 0)
            n++;
    }
    closedir(d);
    return n;
}

static void check_latest(bk_plog *l, char expect[NKEYS][32], const char *what)
{
    seen s;
    scan(l, &s, -1);
    BK_CHECK(s.ordered);
    for (int k = 0; k < NKEYS; k++) {
        if (strcmp(s.val[k], expect[k]) != 0) {
            fprintf(stderr, "%s: key %d: got '%s' want '%s'\n", what, k, s.val[k], expect[k]);
            BK_CHECK(!"latest value");
            break;
        }
    }
}

static void test_codecs(void)
{
    static const int codecs[5] = {BK_COMPRESSION_NONE, BK_COMPRESSION_GZIP, BK_COMPRESSION_SNAPPY,
                                  BK_COMPRESSION_LZ4, BK_COMPRESSION_ZSTD};
    for (int c = 0; c < 5; c++) {
        mktmp();
        bk_logcfg cfg = ccfg();
        bk_plog *l;
        BK_CHECK(bk_plog_create(&l, tdir, "t", 0, &cfg, NOW) == 0);
        char expect[NKEYS][32] = {{0}};
        fill_updates(l, codecs[c], expect, 400);
        ready(l);
        int64_t leo = bk_plog_leo(l);
        int nsegs = l->nsegs;
        uint64_t size0 = bk_plog_size(l);
        BK_CHECK(nsegs > 3);
        seen before;
        scan(l, &before, -1);
        BK_CHECK(bk_cleaner_dirty_ratio(l, NOW) > 0.9);
        bk_cleaner_stats st;
        bk_cleaner_cfg cc = clcfg();
        BK_CHECK(bk_cleaner_clean_now(l, &cc, NOW, &st) == 0);
        BK_CHECK(bk_plog_leo(l) == leo);
        BK_CHECK(l->nsegs <= nsegs); /* grouped by their old sizes, as Kafka */
        BK_CHECK(bk_plog_size(l) < size0);
        BK_CHECK(st.records_kept < st.records_read);
        BK_CHECK(l->clean_upto > 0);
        check_latest(l, expect, bk_compression_name(codecs[c]));
        seen after;
        scan(l, &after, -1);
        BK_CHECK(after.records < before.records);
        /* cleaned twice: nothing changes (idempotent), offsets stay */
        BK_CHECK(bk_cleaner_clean_now(l, &cc, NOW, NULL) == BK_ENOENT);
        /* more updates, clean again, reopen from disk */
        fill_updates(l, codecs[c], expect, 200);
        ready(l);
        nsegs = l->nsegs;
        BK_CHECK(bk_cleaner_clean_now(l, &cc, NOW, NULL) == 0);
        BK_CHECK(l->nsegs < nsegs); /* small cleaned segments are merged */
        check_latest(l, expect, "second pass");
        leo = bk_plog_leo(l);
        BK_CHECK(bk_plog_close(l) == 0);
        bk_plog_free(l);
        BK_CHECK(bk_plog_load(&l, tdir, "t", 0, &cfg, leo, 0, true, NOW, NULL) == 0);
        BK_CHECK(bk_plog_leo(l) == leo);
        check_latest(l, expect, "reloaded");
        bk_plog_free(l);
        /* an unclean reopen scans every segment: the cleaned files are valid */
        BK_CHECK(bk_plog_open(&l, tdir, "t", 0, &cfg, 0, 0, NOW, NULL) == 0);
        BK_CHECK(bk_plog_leo(l) == leo);
        check_latest(l, expect, "recovered");
        bk_plog_free(l);
        rmtmp();
    }
}

static void test_tombstones(void)
{
    mktmp();
    bk_logcfg cfg = ccfg();
    cfg.delete_retention_ms = 60000;
    bk_plog *l;
    BK_CHECK(bk_plog_create(&l, tdir, "t", 0, &cfg, NOW) == 0);
    char expect[NKEYS][32] = {{0}};
    fill_updates(l, BK_COMPRESSION_NONE, expect, 100);
    /* delete keys 0..9 */
    for (int k = 0; k < 10; k++) {
        char kb[16];
        snprintf(kb, sizeof kb, "k%d", k);
        const char *kk[1] = {kb}, *vv[1] = {NULL};
        BK_CHECK(append(l, BK_COMPRESSION_NONE, -1, -1, -1, false, 1, kk, vv, NOW + 1000) == 0);
        snprintf(expect[k], 32, "-");
    }
    /* keyless records do not survive a cleaning */
    {
        const char *kk[1] = {NULL}, *vv[1] = {"nokey"};
        BK_CHECK(append(l, BK_COMPRESSION_NONE, -1, -1, -1, false, 1, kk, vv, NOW + 1000) == 0);
    }
    fill_updates(l, BK_COMPRESSION_NONE, expect, 1); /* keys 0..4 live again? no: 250.. */
    /* roll past the tombstones */
    char e2[NKEYS][32];
    memcpy(e2, expect, sizeof e2);
    for (int b = 0; b < 100; b++) {
        char kb[16], vb[16];
        snprintf(kb, sizeof kb, "k%d", 10 + b % 40);
        snprintf(vb, sizeof vb, "w%d", b);
        snprintf(expect[10 + b % 40], 32, "%s", vb);
        const char *kk[1] = {kb}, *vv[1] = {vb};
        BK_CHECK(append(l, BK_COMPRESSION_NONE, -1, -1, -1, false, 1, kk, vv, NOW + 2000) == 0);
    }
    (void)e2;
    ready(l);
    bk_cleaner_cfg cc = clcfg();
    /* within delete.retention.ms: tombstones stay, older values go */
    BK_CHECK(bk_cleaner_clean_now(l, &cc, NOW + 5000, NULL) == 0);
    seen s;
    scan(l, &s, -1);
    int tomb = 0;
    for (int k = 0; k < 10; k++)
        tomb += strcmp(s.val[k], "-") == 0 && s.count[k] == 1;
    /* keys 0..4 were rewritten by fill_updates(…, 1) after their tombstone */
    BK_CHECK(tomb >= 5);
    check_latest(l, expect, "tombstones kept");
    /* a reader that saw nothing must not find the keyless record */
    /* past delete.retention.ms: more dirty data, then the tombstones go */
    for (int b = 0; b < 100; b++) {
        char kb[16], vb[16];
        snprintf(kb, sizeof kb, "k%d", 10 + b % 40);
        snprintf(vb, sizeof vb, "x%d", b);
        snprintf(expect[10 + b % 40], 32, "%s", vb);
        const char *kk[1] = {kb}, *vv[1] = {vb};
        BK_CHECK(append(l, BK_COMPRESSION_NONE, -1, -1, -1, false, 1, kk, vv, NOW + 3000) == 0);
    }
    ready(l);
    BK_CHECK(bk_cleaner_clean_now(l, &cc, NOW + 100000, NULL) == 0);
    scan(l, &s, -1);
    int gone = 0;
    for (int k = 0; k < 10; k++)
        if (!strcmp(expect[k], "-"))
            gone += s.count[k] == 0;
    int want = 0;
    for (int k = 0; k < 10; k++)
        want += !strcmp(expect[k], "-");
    BK_CHECK(want > 0 && gone == want);
    BK_CHECK(s.ordered);
    bk_plog_free(l);
    rmtmp();
}

static void test_transactions(void)
{
    mktmp();
    bk_logcfg cfg = ccfg();
    cfg.delete_retention_ms = 60000;
    bk_plog *l;
    BK_CHECK(bk_plog_create(&l, tdir, "t", 0, &cfg, NOW) == 0);
    const char *ka[2] = {"k1", "k2"}, *va[2] = {"aborted1", "aborted2"};
    const char *kc[1] = {"k3"}, *vc[1] = {"committed"};
    BK_CHECK(append(l, BK_COMPRESSION_NONE, 1000, 0, 0, true, 2, ka, va, NOW) == 0);
    BK_CHECK(append(l, BK_COMPRESSION_NONE, 1001, 0, 0, true, 1, kc, vc, NOW) == 0);
    int64_t off;
    BK_CHECK(bk_plog_append_marker(l, 1000, 0, 0, false, 0, NOW, &off) == 0);
    BK_CHECK(bk_plog_append_marker(l, 1001, 0, 0, true, 0, NOW, &off) == 0);
    /* an idempotent producer whose last batch is superseded */
    const char *ki[1] = {"k4"}, *vi[1] = {"idem"};
    BK_CHECK(append(l, BK_COMPRESSION_LZ4, 2000, 3, 0, false, 1, ki, vi, NOW) == 0);
    char expect[NKEYS][32] = {{0}};
    fill_updates(l, BK_COMPRESSION_NONE, expect, 200); /* k4 is overwritten */
    ready(l);
    bk_cleaner_cfg cc = clcfg();
    BK_CHECK(bk_cleaner_clean_now(l, &cc, NOW + 1000, NULL) == 0);
    seen s;
    scan(l, &s, 1000);
    /* the aborted data is gone; the producer's last batch stays, empty */
    BK_CHECK(s.pid_batches == 2); /* empty data batch + its abort marker */
    BK_CHECK(s.empty_batches >= 1);
    scan(l, &s, 2000);
    BK_CHECK(s.pid_batches == 1); /* superseded, kept as an empty batch */
    check_latest(l, expect, "txn");
    int64_t leo = bk_plog_leo(l);
    BK_CHECK(bk_plog_close(l) == 0);
    bk_plog_free(l);
    BK_CHECK(bk_plog_open(&l, tdir, "t", 0, &cfg, 0, 0, NOW, NULL) == 0);
    BK_CHECK(bk_plog_leo(l) == leo);
    /* producer state survived: the next sequence of 2000 is 1 */
    const bk_pentry *pe = bk_pstate_get(&l->ps, 2000);
    BK_CHECK(pe && pe->epoch == 3);
    /* past delete.retention.ms the markers with no data left go too */
    fill_updates(l, BK_COMPRESSION_NONE, expect, 100);
    ready(l);
    BK_CHECK(bk_cleaner_clean_now(l, &cc, NOW + 1000000, NULL) == 0);
    scan(l, &s, 1000);
    BK_CHECK(s.pid_batches == 1); /* only the empty last batch */
    check_latest(l, expect, "txn 2");
    bk_plog_free(l);
    rmtmp();
}

static void test_dedupe_bound(void)
{
    mktmp();
    bk_logcfg cfg = ccfg();
    bk_plog *l;
    BK_CHECK(bk_plog_create(&l, tdir, "t", 0, &cfg, NOW) == 0);
    /* 3000 distinct keys, twice; a map of ~1000 entries */
    char expect[NKEYS][32] = {{0}};
    for (int pass = 0; pass < 2; pass++) {
        for (int b = 0; b < 600; b++) {
            char kb[5][16], vb[5][16];
            const char *k[5], *v[5];
            for (int i = 0; i < 5; i++) {
                snprintf(kb[i], sizeof kb[i], "x%d", b * 5 + i);
                snprintf(vb[i], sizeof vb[i], "p%d", pass);
                k[i] = kb[i];
                v[i] = vb[i];
            }
            BK_CHECK(append(l, BK_COMPRESSION_NONE, -1, -1, -1, false, 5, k, v, NOW) == 0);
        }
    }
    fill_updates(l, BK_COMPRESSION_NONE, expect, 20);
    ready(l);
    bk_cleaner_cfg cc = clcfg();
    cc.dedupe_bytes = 1024 * 24 + 100;
    int64_t prev = -1;
    int rounds = 0, r;
    while ((r = bk_cleaner_clean_now(l, &cc, NOW, NULL)) == 0 && rounds < 50) {
        BK_CHECK(l->clean_upto > prev); /* each pass gets further */
        prev = l->clean_upto;
        rounds++;
    }
    BK_CHECK(r == BK_ENOENT);
    BK_CHECK(rounds >= 3);
    seen s;
    scan(l, &s, -1);
    BK_CHECK(s.ordered);
    /* every x key once, with its pass-1 value, below the uncleanable tail */
    BK_CHECK(s.records <= 3000 + 5 * 20 + 200);
    bk_plog_free(l);
    rmtmp();
}

static void test_crash_steps(void)
{
    /* steps 4 and 5 are power-cut reorderings of the renames: 4 = a
     * committed group whose index renames to .swap were lost; 5 = the
     * .log got its final name but an index did not */
    for (int step = 1; step <= 5; step++) {
        mktmp();
        bk_logcfg cfg = ccfg();
        bk_plog *l;
        BK_CHECK(bk_plog_create(&l, tdir, "t", 0, &cfg, NOW) == 0);
        char expect[NKEYS][32] = {{0}};
        fill_updates(l, BK_COMPRESSION_SNAPPY, expect, 400);
        ready(l);
        int64_t leo = bk_plog_leo(l);
        bk_cleaner_cfg cc = clcfg();
        bk_cleaner_crash_step = step == 4 ? 1 : step == 5 ? 3 : step;
        BK_CHECK(bk_cleaner_clean_now(l, &cc, NOW, NULL) != 0);
        bk_cleaner_crash_step = 0;
        bk_plog_free(l); /* the crash: nothing more is written */
        char sub[400];
        snprintf(sub, sizeof sub, "%s/t-0", tdir);
        BK_CHECK(count_files(sub, ".swap") > 0);
        char a[600], b[600];
        if (step == 4) {
            snprintf(a, sizeof a, "%s/00000000000000000000.index.swap", sub);
            snprintf(b, sizeof b, "%s/00000000000000000000.index.cleaned", sub);
            BK_CHECK(rename(a, b) == 0);
        } else if (step == 5) {
            snprintf(a, sizeof a, "%s/00000000000000000000.index", sub);
            snprintf(b, sizeof b, "%s/00000000000000000000.index.swap", sub);
            BK_CHECK(rename(a, b) == 0);
            snprintf(a, sizeof a, "%s/00000000000000000000.log.swap", sub);
            snprintf(b, sizeof b, "%s/00000000000000000000.log", sub);
            BK_CHECK(rename(a, b) == 0);
        }
        BK_CHECK(bk_plog_open(&l, tdir, "t", 0, &cfg, 0, 0, NOW, NULL) == 0);
        BK_CHECK(count_files(sub, ".swap") == 0 && count_files(sub, ".cleaned") == 0);
        BK_CHECK(bk_plog_leo(l) == leo);
        check_latest(l, expect, "after crash");
        /* and it cleans again normally */
        fill_updates(l, BK_COMPRESSION_SNAPPY, expect, 100);
        ready(l);
        BK_CHECK(bk_cleaner_clean_now(l, &cc, NOW, NULL) == 0);
        check_latest(l, expect, "after crash, cleaned");
        bk_plog_free(l);
        rmtmp();
    }
    /* leftover .cleaned files of a killed cleaner are deleted at load */
    mktmp();
    bk_logcfg cfg = ccfg();
    bk_plog *l;
    BK_CHECK(bk_plog_create(&l, tdir, "t", 0, &cfg, NOW) == 0);
    char expect[NKEYS][32] = {{0}};
    fill_updates(l, BK_COMPRESSION_NONE, expect, 100);
    ready(l);
    bk_plog_free(l);
    char p[600];
    snprintf(p, sizeof p, "%s/t-0/00000000000000000000.log.cleaned", tdir);
    FILE *f = fopen(p, "w");
    BK_CHECK(f != NULL);
    if (f) {
        fputs("garbage", f);
        fclose(f);
    }
    BK_CHECK(bk_plog_open(&l, tdir, "t", 0, &cfg, 0, 0, NOW, NULL) == 0);
    BK_CHECK(access(p, F_OK) != 0);
    check_latest(l, expect, "leftover .cleaned");
    bk_plog_free(l);
    rmtmp();
}

typedef struct one {
    bk_plog *l;
} one;

static void each_one(void *arg, void (*cb)(void *ud, bk_plog *l), void *ud)
{
    cb(ud, ((one *)arg)->l);
}

/* The cleaner thread: appends go on while it works; the swap happens on
 * the "loop" (this thread) in bk_cleaner_tick. */
static void test_thread(void)
{
    mktmp();
    bk_logcfg cfg = ccfg();
    bk_plog *l;
    BK_CHECK(bk_plog_create(&l, tdir, "t", 0, &cfg, NOW) == 0);
    char expect[NKEYS][32] = {{0}};
    fill_updates(l, BK_COMPRESSION_ZSTD, expect, 400);
    ready(l);
    bk_cleaner_cfg cc = clcfg();
    cc.backoff_ms = 0;
    bk_cleaner *c;
    BK_CHECK(bk_cleaner_start(&c, &cc) == 0);
    one o = {l};
    int swaps = 0;
    for (int i = 0; i < 2000 && swaps == 0; i++) {
        bk_cleaner_tick(c, NOW, each_one, &o);
        fill_updates(l, BK_COMPRESSION_ZSTD, expect, 1); /* the loop keeps appending */
        swaps += bk_cleaner_swapped(c);
        usleep(1000);
    }
    BK_CHECK(swaps >= 1);
    bk_cleaner_stats st;
    bk_cleaner_get_stats(c, &st);
    BK_CHECK(st.jobs >= 1 && st.bytes_read > 0 && st.bytes_written > 0);
    check_latest(l, expect, "thread");
    bk_cleaner_stop(c);
    BK_CHECK(!l->cleaning);
    bk_plog_free(l);
    rmtmp();
}

/* A truncation (replication divergence) while a finished, committed job
 * waits for its swap: the job is dropped and its .swap files go first, so
 * a crash right after cannot bring back the truncated offsets. */
static void test_abort(void)
{
    mktmp();
    bk_logcfg cfg = ccfg();
    bk_plog *l;
    BK_CHECK(bk_plog_create(&l, tdir, "t", 0, &cfg, NOW) == 0);
    char expect[NKEYS][32] = {{0}};
    fill_updates(l, BK_COMPRESSION_NONE, expect, 400);
    ready(l);
    bk_cleaner_cfg cc = clcfg();
    cc.backoff_ms = 0;
    bk_cleaner *c;
    BK_CHECK(bk_cleaner_start(&c, &cc) == 0);
    one o = {l};
    bk_cleaner_tick(c, NOW, each_one, &o); /* starts the job */
    BK_CHECK(l->cleaning);
    char sub[400];
    snprintf(sub, sizeof sub, "%s/t-0", tdir);
    for (int i = 0; i < 5000 && count_files(sub, ".log.swap") == 0; i++)
        usleep(1000);
    BK_CHECK(count_files(sub, ".log.swap") > 0); /* committed by the worker */
    int64_t cut = l->segs[2]->base; /* a batch boundary */
    BK_CHECK(bk_plog_truncate_to(l, cut) == 0);
    BK_CHECK(count_files(sub, ".swap") == 0 && count_files(sub, ".cleaned") == 0);
    l->cfg.cleanup_compact = false; /* no new job after the dropped one */
    for (int i = 0; i < 5000 && l->cleaning; i++) {
        bk_cleaner_tick(c, NOW, each_one, &o); /* the dropped job comes back */
        usleep(1000);
    }
    BK_CHECK(!l->cleaning && bk_cleaner_swapped(c) == 0);
    BK_CHECK(bk_plog_leo(l) == cut);
    bk_cleaner_stop(c);
    bk_plog_free(l); /* a crash */
    BK_CHECK(bk_plog_open(&l, tdir, "t", 0, &cfg, 0, 0, NOW, NULL) == 0);
    BK_CHECK(bk_plog_leo(l) == cut);
    seen s;
    scan(l, &s, -1);
    BK_CHECK(s.ordered && s.last_off < cut);
    bk_plog_free(l);
    rmtmp();
}

void bk_test_cleaner(void);
void bk_test_cleaner(void)
{
    BK_TEST("cleaner: latest value per key with every codec; reload and recovery");
    test_codecs();
    BK_TEST("cleaner: tombstones kept for delete.retention.ms, then removed");
    test_tombstones();
    BK_TEST("cleaner: aborted data removed, markers and producers' last batches kept");
    test_transactions();
    BK_TEST("cleaner: offset map bounded by the dedupe buffer");
    test_dedupe_bound();
    BK_TEST("cleaner: a crash at each swap step recovers");
    test_crash_steps();
    BK_TEST("cleaner: cleaner thread and hand-over to the loop");
    test_thread();
    BK_TEST("cleaner: a truncation drops a committed job before its swap");
    test_abort();
}
