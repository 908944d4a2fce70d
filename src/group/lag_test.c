/*
 * lag_test.c - consumer lag: the pure pieces (lag in offsets, age,
 * timestamps from batch headers, label escaping), the timestamp lookup on
 * a real partition log (index lookup + one header read, log start), and
 * the coordinator's per-offset cache and the Prometheus text through a
 * real topic registry.
 */
#include "lag.h"

#include "../../tests/unit.h"
#include "../broker/broker.h"
#include "../core/crc32c.h"
#include "../storage/logmgr.h"
#include "../storage/plog.h"
#include "coord.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A batch header + opaque payload, offsets base..base+count-1, base
 * timestamp ts, max timestamp ts + 5, attributes attr. */
static size_t mkbatch(uint8_t *out, int64_t base, int32_t count, int64_t ts, int16_t attr)
{
    size_t total = BK_BATCH_HDR + 100;
    memset(out, 0, total);
    bk_be64(out, (uint64_t)base);
    bk_be32(out + 8, (uint32_t)(total - 12));
    out[16] = 2;
    bk_be16(out + 21, (uint16_t)attr);
    bk_be32(out + 23, (uint32_t)(count - 1));
    bk_be64(out + 27, (uint64_t)ts);
    bk_be64(out + 35, (uint64_t)(ts + 5));
    bk_be64(out + 43, (uint64_t)-1);
    bk_be16(out + 51, 0xffff);
    bk_be32(out + 53, 0xffffffff);
    bk_be32(out + 57, (uint32_t)count);
    bk_be32(out + 17, bk_crc32c(0, out + 21, total - 21));
    return total;
}

/* n batches of 5 records, batch i with timestamp 1000 + 10 i. */
static void fill(bk_plog *l, int n)
{
    uint8_t buf[256];
    for (int i = 0; i < n; i++) {
        int64_t base = bk_plog_leo(l);
        size_t len = mkbatch(buf, base, 5, 1000 + 10 * i, 0);
        BK_CHECK(bk_plog_append(l, buf, len, base, base + 4, 1005 + 10 * i, base + 4, 0) == 0);
    }
    l->hw = bk_plog_leo(l);
}

static void test_pure(void)
{
    BK_TEST("lag: offsets, age and batch timestamps");
    BK_CHECK(bk_lag_offsets(10, 4) == 6);
    BK_CHECK(bk_lag_offsets(10, 10) == 0);
    BK_CHECK(bk_lag_offsets(10, 12) == 0); /* a commit past the end is not negative lag */
    BK_CHECK(bk_lag_offsets(-1, 4) == -1 && bk_lag_offsets(10, -1) == -1);
    BK_CHECK(bk_lag_age_ms(10, 10, -1, 5000) == 0); /* caught up: 0, no timestamp needed */
    BK_CHECK(bk_lag_age_ms(4, 10, 1000, 5000) == 4000);
    BK_CHECK(bk_lag_age_ms(4, 10, 9000, 5000) == 0); /* clock skew: never negative */
    BK_CHECK(bk_lag_age_ms(4, 10, -1, 5000) == -1);
    BK_CHECK(bk_lag_age_ms(-1, 10, 1000, 5000) == -1);
    uint8_t b[256];
    mkbatch(b, 0, 3, 777, 0);
    BK_CHECK(bk_lag_batch_ts(b) == 777); /* CreateTime: the first record's */
    mkbatch(b, 0, 3, 777, BK_BATCH_ATTR_LOG_APPEND);
    BK_CHECK(bk_lag_batch_ts(b) == 782); /* LogAppendTime: maxTimestamp */
    mkbatch(b, 0, 3, -1, 0);
    BK_CHECK(bk_lag_batch_ts(b) == -1);
    b[16] = 1;
    BK_CHECK(bk_lag_batch_ts(b) == -1);

    BK_TEST("lag: Prometheus label escaping");
    bk_wr w;
    bk_wr_init(&w, 64);
    bk_lag_label(&w, "a\"b\\c\nd");
    BK_CHECK(w.len == 10 && memcmp(w.buf, "a\\\"b\\\\c\\nd", 10) == 0);
    /* valid UTF-8 passes; invalid bytes become U+FFFD */
    bk_wr_reset(&w);
    bk_lag_label(&w, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    BK_CHECK(w.len == 9 && memcmp(w.buf, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9) == 0);
    bk_wr_reset(&w);
    bk_lag_label(&w, "a\xff" "b\xc3");
    BK_CHECK(w.len == 8 && memcmp(w.buf, "a\xef\xbf\xbd" "b\xef\xbf\xbd", 8) == 0);
    bk_wr_reset(&w);
    bk_lag_label(&w, "\xed\xa0\x80\xc0\xaf"); /* a surrogate, an overlong '/' */
    BK_CHECK(w.len == 15);
    bk_wr_fini(&w);
}

static void test_read_ts(void)
{
    BK_TEST("lag: timestamp of the oldest unconsumed message from the log");
    char root[] = "/tmp/bk-lag-XXXXXX";
    BK_CHECK(mkdtemp(root) != NULL);
    bk_logcfg c;
    bk_logcfg_defaults(&c);
    c.segment_bytes = 4096; /* several segments */
    c.index_interval = 256;
    bk_plog *l = NULL;
    BK_CHECK(bk_plog_create(&l, root, "t", 0, &c, 0) == 0);
    if (!l)
        return;
    fill(l, 100); /* offsets 0..499 */
    BK_CHECK(l->nsegs > 2);
    int64_t at, ts;
    BK_CHECK(bk_lag_read_ts(l, 0, l->hw, &at, &ts) == 0 && at == 0 && ts == 1000);
    BK_CHECK(bk_lag_read_ts(l, 250, l->hw, &at, &ts) == 0 && at == 250 && ts == 1500);
    /* inside a batch: that batch's first timestamp */
    BK_CHECK(bk_lag_read_ts(l, 253, l->hw, &at, &ts) == 0 && at == 253 && ts == 1500);
    BK_CHECK(bk_lag_read_ts(l, 499, l->hw, &at, &ts) == 0 && ts == 1990);
    /* caught up, or past the end */
    BK_CHECK(bk_lag_read_ts(l, 500, l->hw, &at, &ts) == 0 && ts == -1);
    BK_CHECK(bk_lag_read_ts(l, 600, l->hw, &at, &ts) == 0 && ts == -1);
    /* only up to the high watermark */
    BK_CHECK(bk_lag_read_ts(l, 300, 300, &at, &ts) == 0 && ts == -1);
    /* below the log start: the oldest message left */
    BK_CHECK(bk_plog_delete_records(l, 100) == 0);
    BK_CHECK(bk_lag_read_ts(l, 3, l->hw, &at, &ts) == 0 && at == 100 && ts == 1200);
    bk_plog_free(l);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    BK_CHECK(system(cmd) == 0);
}

static int nrows;
static bk_lag rows[8];
static void lag_cb(void *ud, const bk_lag *l)
{
    (void)ud;
    if (nrows < 8)
        rows[nrows] = *l;
    nrows++;
}

static void test_coord_scrape(void)
{
    BK_TEST("lag: coordinator cache and the Prometheus gauges");
    char root[] = "/tmp/bk-lagc-XXXXXX";
    BK_CHECK(mkdtemp(root) != NULL);
    bk_config c;
    char err[256], kv[400];
    BK_CHECK(bk_config_init(&c) == 0);
    snprintf(kv, sizeof kv, "log.dirs=%s", root);
    BK_CHECK(bk_config_override(&c, kv, err, sizeof err) == 0);
    BK_CHECK(bk_config_override(&c, "offsets.topic.num.partitions=2", err, sizeof err) == 0);
    BK_CHECK(bk_config_finish(&c, err, sizeof err) == 0);
    const char *dirs[1] = {root};
    bk_logmgr_cfg lc;
    bk_logmgr_cfg_defaults(&lc);
    lc.dirs = dirs;
    lc.ndirs = 1;
    bk_logmgr *lm = NULL;
    BK_CHECK(bk_logmgr_open(&lm, &lc, 0, NULL, err, sizeof err) == 0);
    bk_topics *t = NULL;
    BK_CHECK(bk_topics_open(&t, &c, lm, root, 0, err, sizeof err) == 0);
    int16_t kerr;
    char msg[128];
    BK_CHECK(bk_topics_create(t, "t", 1, 2, -1, NULL, 0, false, &kerr, msg, sizeof msg) == 0);
    bk_partition *p0 = bk_topics_partition(t, "t", 1, 0);
    BK_CHECK(p0 && p0->log);
    if (!p0 || !p0->log)
        return;
    fill(p0->log, 4); /* 20 records, timestamps 1000, 1010, 1020, 1030 */
    bk_coord *co = bk_coord_new(&c, t, NULL, NULL);
    bk_commit_part cp[2] = {
        {.topic = "t", .topic_len = 1, .partition = 0, .offset = 7, .leader_epoch = -1,
         .commit_ts = 1, .expire_ts = -1},
        {.topic = "t", .topic_len = 1, .partition = 1, .offset = 0, .leader_epoch = -1,
         .commit_ts = 1, .expire_ts = -1}};
    bk_coord_commit(co, "g\"1", 3, -1, "", 0, NULL, 0, cp, 2);
    BK_CHECK(cp[0].error == 0 && cp[1].error == 0);

    int reads = 10;
    nrows = 0;
    BK_CHECK(bk_coord_lag_ts(co, "g\"1", 3, &reads, lag_cb, NULL) == 2 && nrows == 2);
    BK_CHECK(reads == 9); /* p1 is empty: caught up, no read */
    BK_CHECK(rows[0].partition == 0 && rows[0].lag == 13 && rows[0].log_end == 20 &&
             rows[0].oldest_ts == 1010); /* offset 7: batch 5..9 */
    BK_CHECK(rows[1].partition == 1 && rows[1].lag == 0 && rows[1].oldest_ts == -1);
    /* cached: no read while the commit stays */
    nrows = 0;
    BK_CHECK(bk_coord_lag_ts(co, "g\"1", 3, &reads, lag_cb, NULL) == 2 && reads == 9);
    BK_CHECK(rows[0].oldest_ts == 1010);
    /* a new leader epoch (the log may have been truncated and rewritten
     * there): read again */
    p0->leader_epoch++;
    nrows = 0;
    BK_CHECK(bk_coord_lag(co, "g\"1", 3, lag_cb, NULL) == 2 && rows[0].oldest_ts == -1);
    nrows = 0;
    BK_CHECK(bk_coord_lag_ts(co, "g\"1", 3, &reads, lag_cb, NULL) == 2 && reads == 8);
    BK_CHECK(rows[0].oldest_ts == 1010);
    reads = 9;
    /* bk_coord_lag never reads, but sees the cache */
    nrows = 0;
    BK_CHECK(bk_coord_lag(co, "g\"1", 3, lag_cb, NULL) == 2 && rows[0].oldest_ts == 1010);
    /* the commit moves: one read */
    cp[0].offset = 16;
    cp[0].error = 0;
    bk_coord_commit(co, "g\"1", 3, -1, "", 0, NULL, 0, cp, 1);
    nrows = 0;
    BK_CHECK(bk_coord_lag(co, "g\"1", 3, lag_cb, NULL) == 2 && rows[0].oldest_ts == -1);
    nrows = 0;
    BK_CHECK(bk_coord_lag_ts(co, "g\"1", 3, &reads, lag_cb, NULL) == 2 && reads == 8);
    BK_CHECK(rows[0].lag == 4 && rows[0].oldest_ts == 1030);
    /* out of reads: unknown this time */
    cp[0].offset = 12;
    cp[0].error = 0;
    bk_coord_commit(co, "g\"1", 3, -1, "", 0, NULL, 0, cp, 1);
    reads = 0;
    nrows = 0;
    BK_CHECK(bk_coord_lag_ts(co, "g\"1", 3, &reads, lag_cb, NULL) == 2 && rows[0].oldest_ts == -1);

    bk_broker b;
    memset(&b, 0, sizeof b);
    b.coord = co;
    bk_wr w;
    bk_wr_init(&w, 1024);
    bk_lag_prometheus(&b, &w, 3000);
    bk_wr_u8(&w, 0);
    const char *txt = (const char *)w.buf;
    BK_CHECK(strstr(txt, "# TYPE kafka_consumergroup_group_lag gauge\n") != NULL);
    BK_CHECK(strstr(txt, "# HELP kafka_consumergroup_group_lag_seconds ") != NULL);
    BK_CHECK(strstr(txt, "kafka_consumergroup_group_lag{group=\"g\\\"1\",topic=\"t\",partition=\"0\"} 8\n"));
    BK_CHECK(strstr(txt, "kafka_consumergroup_group_lag{group=\"g\\\"1\",topic=\"t\",partition=\"1\"} 0\n"));
    /* 3000 - 1020 ms */
    BK_CHECK(strstr(txt, "kafka_consumergroup_group_lag_seconds{group=\"g\\\"1\",topic=\"t\",partition=\"0\"} 1.980\n"));
    BK_CHECK(strstr(txt, "kafka_consumergroup_group_lag_seconds{group=\"g\\\"1\",topic=\"t\",partition=\"1\"} 0.000\n"));
    BK_CHECK(strstr(txt, "kafka_consumergroup_group_offset{group=\"g\\\"1\",topic=\"t\",partition=\"0\"} 12\n"));
    BK_CHECK(strstr(txt, "kafka_consumergroup_group_max_lag{group=\"g\\\"1\"} 8\n"));
    BK_CHECK(strstr(txt, "kafka_consumergroup_group_sum_lag{group=\"g\\\"1\"} 8\n"));
    BK_CHECK(strstr(txt, "kafka_consumergroup_group_max_lag_seconds{group=\"g\\\"1\"} 1.980\n"));
    BK_CHECK(strstr(txt, "kafka_consumergroup_lag{consumergroup=\"g\\\"1\",topic=\"t\",partition=\"0\"} 8\n"));
    BK_CHECK(strstr(txt, "kafka_consumergroup_lag_sum{consumergroup=\"g\\\"1\",topic=\"t\"} 8\n"));
    BK_CHECK(strstr(txt, "kafka_consumergroup_current_offset{consumergroup=\"g\\\"1\",topic=\"t\",partition=\"1\"} 0\n"));
    /* every family once: HELP and TYPE lines as many as families */
    int help = 0, type = 0;
    for (const char *s = txt; (s = strstr(s, "# HELP ")); s++)
        help++;
    for (const char *s = txt; (s = strstr(s, "# TYPE ")); s++)
        type++;
    BK_CHECK(help == 9 && type == 9);
    bk_wr_fini(&w);

    bk_coord_free(co);
    bk_topics_close(t);
    BK_CHECK(bk_logmgr_close(lm) == 0);
    bk_config_fini(&c);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    BK_CHECK(system(cmd) == 0);
}

void bk_test_lag(void);
void bk_test_lag(void)
{
    test_pure();
    test_read_ts();
    test_coord_scrape();
}
