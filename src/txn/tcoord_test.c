/*
 * tcoord_test.c - the transaction coordinator: producer id blocks (file
 * store, restarts), the state machine driven through the handler API with
 * fake marker hooks that record (or refuse) markers, KIP-360 epoch rules
 * and exhaustion, timeouts and expiry through tick with a fake wall clock,
 * and __transaction_state round trips (record bytes, load, finishing
 * Prepare* at start-up, tombstones).
 */
#include "tcoord.h"

#include "../../tests/unit.h"
#include "../cluster/metastore.h"
#include "../core/clock.h"
#include "../group/coord.h"
#include "../proto/records.h"
#include "../storage/logmgr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------ fakes */

typedef struct mk {
    char topic[64];
    int32_t partition;
    int64_t pid;
    int16_t epoch;
    bool commit;
} mk;

typedef struct fake {
    mk m[64];
    int n;
    int16_t fail;           /* returned for every marker when set */
    const char *fail_topic; /* only for this topic, when set */
    bool pending;           /* answer BK_TXN_MARKER_PENDING (cluster mode) */
    int attempts;
    int appended;
    int64_t wall;
} fake;

static int16_t f_marker(void *ud, const bk_txn_marker *w)
{
    fake *f = ud;
    const char *topic = w->topic;
    int32_t partition = w->partition;
    int64_t pid = w->pid;
    int16_t epoch = w->epoch;
    bool commit = w->commit;
    f->attempts++;
    if (f->fail && (!f->fail_topic || strcmp(f->fail_topic, topic) == 0))
        return f->fail;
    if (f->n < 64) {
        mk *m = &f->m[f->n++];
        snprintf(m->topic, sizeof m->topic, "%s", topic);
        m->partition = partition;
        m->pid = pid;
        m->epoch = epoch;
        m->commit = commit;
    }
    return f->pending ? BK_TXN_MARKER_PENDING : BK_KERR_NONE;
}

static void f_appended(void *ud, bk_partition *p, uint64_t bytes)
{
    ((fake *)ud)->appended++;
}

static int64_t f_clock(void *ud)
{
    return ((fake *)ud)->wall;
}

static bk_tcoord *tc_new(const bk_config *c, bk_topics *t, const char *dir, fake *f)
{
    bk_tcoord_hooks h = {f_marker, f_appended, f, false};
    bk_tcoord *tc = bk_tcoord_new(c, t, dir, &h);
    if (tc)
        bk_tcoord_set_clock(tc, f_clock, f);
    return tc;
}

static void cfg_init(bk_config *c, const char *dir)
{
    char err[256], kv[400];
    BK_CHECK(bk_config_init(c) == 0);
    if (dir) {
        snprintf(kv, sizeof kv, "log.dirs=%s", dir);
        BK_CHECK(bk_config_override(c, kv, err, sizeof err) == 0);
    }
    BK_CHECK(bk_config_override(c, "transaction.state.log.num.partitions=3", err, sizeof err) == 0);
    BK_CHECK(bk_config_override(c, "transaction.max.timeout.ms=60000", err, sizeof err) == 0);
    BK_CHECK(bk_config_override(c, "transactional.id.expiration.ms=100000", err, sizeof err) == 0);
    BK_CHECK(bk_config_override(c,
                                "transaction.abort.timed.out.transaction.cleanup.interval.ms=1000",
                                err, sizeof err) == 0);
    BK_CHECK(bk_config_override(c,
                                "transaction.remove.expired.transaction.cleanup.interval.ms=5000",
                                err, sizeof err) == 0);
    BK_CHECK(bk_config_finish(c, err, sizeof err) == 0);
}

static char *tmpdir(void)
{
    static char root[64];
    snprintf(root, sizeof root, "/tmp/bk-tcoord-XXXXXX");
    BK_CHECK(mkdtemp(root) != NULL);
    return root;
}

static void rmdir_rf(const char *d)
{
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    BK_CHECK(system(cmd) == 0);
}

#define ID(s) (s), strlen(s)

static int16_t init(bk_tcoord *tc, const char *id, int64_t *pid, int16_t *epoch)
{
    return bk_tcoord_init_pid(tc, ID(id), 30000, -1, -1, pid, epoch);
}

static int16_t add(bk_tcoord *tc, const char *id, int64_t pid, int16_t epoch, const char *topic,
                   int32_t partition)
{
    bk_txn_part p = {(char *)topic, partition, false};
    return bk_tcoord_add_partitions(tc, ID(id), pid, epoch, &p, 1);
}

static const char *state_of(bk_tcoord *tc, const char *id)
{
    bk_txn_info in;
    if (bk_tcoord_describe(tc, ID(id), &in) != BK_KERR_NONE)
        return "none";
    return bk_txn_state_name(in.state);
}

/* ------------------------------------------------------------ producer ids */

static void test_pid_blocks(void)
{
    BK_TEST("tcoord: producer id blocks are claimed durably and never repeat over restarts");
    char *root = tmpdir();
    bk_pid_block b;
    const char *kafka =
        "{\"version\":1,\"broker\":3,\"block_start\":\"2000\",\"block_end\":\"2999\"}";
    BK_CHECK(bk_pid_block_parse(kafka, strlen(kafka), &b) == 0);
    BK_CHECK(b.broker == 3 && b.start == 2000 && b.end == 2999);
    BK_CHECK(bk_pid_block_parse("{\"version\":1}", 13, &b) != 0);

    bk_pidstore *s = NULL;
    BK_CHECK(bk_pidstore_file_open(&s, root, 7) == 0);
    BK_CHECK(s->ops->claim(s, 0, &b) == 0 && b.start == 0 && b.end == 999 && b.broker == 7);
    BK_CHECK(s->ops->claim(s, 0, &b) == 0 && b.start == 1000 && b.end == 1999);
    BK_CHECK(s->ops->claim(s, 5000, &b) == 0 && b.start == 5000 && b.end == 5999);
    s->ops->close(s);
    char path[128], text[256];
    snprintf(path, sizeof path, "%s/brook-producer-ids", root);
    FILE *fp = fopen(path, "r");
    BK_CHECK(fp != NULL);
    size_t n = fp ? fread(text, 1, sizeof text - 1, fp) : 0;
    text[n] = 0;
    if (fp)
        fclose(fp);
    BK_CHECK(strcmp(text, "{\"version\":1,\"broker\":7,\"block_start\":\"5000\",\"block_end\":"
                          "\"5999\"}") == 0);
    BK_CHECK(bk_pidstore_file_open(&s, root, 7) == 0);
    BK_CHECK(s->ops->claim(s, 0, &b) == 0 && b.start == 6000);
    s->ops->close(s);

    /* a damaged file: no ids rather than repeated ones */
    fp = fopen(path, "w");
    fputs("garbage", fp);
    fclose(fp);
    BK_CHECK(bk_pidstore_file_open(&s, root, 7) == BK_ECORRUPT);
    bk_config c;
    cfg_init(&c, NULL);
    fake f = {.wall = 1000};
    bk_tcoord *tc = tc_new(&c, NULL, root, &f);
    int64_t pid;
    int16_t epoch;
    BK_CHECK(bk_tcoord_init_pid(tc, NULL, 0, 0, -1, -1, &pid, &epoch) ==
             BK_KERR_COORDINATOR_NOT_AVAILABLE);
    bk_tcoord_free(tc);
    BK_CHECK(unlink(path) == 0);

    /* the coordinator: sequential ids, a new block after 1000, and a
     * restart (even after a crash) continues after the claimed block */
    tc = tc_new(&c, NULL, root, &f);
    int64_t first = -1, last = -1;
    for (int i = 0; i < 1001; i++) {
        BK_CHECK(bk_tcoord_init_pid(tc, NULL, 0, 0, -1, -1, &pid, &epoch) == 0 && epoch == 0);
        if (i == 0)
            first = pid;
        BK_CHECK(pid == first + i);
        last = pid;
    }
    BK_CHECK(first == 0 && last == 1000);
    bk_tcoord_free(tc); /* as after kill -9: the rest of block 1000-1999 is lost */
    tc = tc_new(&c, NULL, root, &f);
    BK_CHECK(bk_tcoord_init_pid(tc, NULL, 0, 0, -1, -1, &pid, &epoch) == 0 && pid == 2000);
    bk_tcoord_free(tc);
    bk_config_fini(&c);
    rmdir_rf(root);
}

/* ------------------------------------------------------------ state machine */

static void test_flow(void)
{
    BK_TEST("tcoord: init, add partitions, commit/abort with markers, retries, verification");
    bk_config c;
    cfg_init(&c, NULL);
    fake f = {.wall = 1000000};
    bk_tcoord *tc = tc_new(&c, NULL, NULL, &f);
    int64_t pid, p2;
    int16_t epoch, e2;
    BK_CHECK(bk_tcoord_init_pid(tc, ID("t"), 60001, -1, -1, &pid, &epoch) ==
             BK_KERR_INVALID_TRANSACTION_TIMEOUT);
    BK_CHECK(bk_tcoord_init_pid(tc, ID("t"), 0, -1, -1, &pid, &epoch) ==
             BK_KERR_INVALID_TRANSACTION_TIMEOUT);
    BK_CHECK(bk_tcoord_init_pid(tc, "", 0, 1000, -1, -1, &pid, &epoch) == BK_KERR_INVALID_REQUEST);
    BK_CHECK(init(tc, "t", &pid, &epoch) == 0 && epoch == 0 && pid >= 0);
    BK_CHECK(strcmp(state_of(tc, "t"), "Empty") == 0);
    BK_CHECK(init(tc, "t", &p2, &e2) == 0 && p2 == pid && e2 == 1);
    epoch = e2;
    BK_CHECK(add(tc, "nope", pid, epoch, "a", 0) == BK_KERR_INVALID_PRODUCER_ID_MAPPING);
    BK_CHECK(add(tc, "t", pid + 1, epoch, "a", 0) == BK_KERR_INVALID_PRODUCER_ID_MAPPING);
    BK_CHECK(add(tc, "t", pid, 0, "a", 0) == BK_KERR_PRODUCER_FENCED);
    BK_CHECK(bk_tcoord_end_txn(tc, ID("t"), pid, epoch, true) == BK_KERR_INVALID_TXN_STATE);
    BK_CHECK(bk_tcoord_verify(tc, pid, epoch, "a", 1, 0) == BK_KERR_INVALID_TXN_STATE);

    bk_txn_part ps[] = {{"a", 0, false}, {"a", 1, false}, {"b", 0, false}, {"a", 0, false}};
    f.wall += 10;
    BK_CHECK(bk_tcoord_add_partitions(tc, ID("t"), pid, epoch, ps, 4) == 0);
    bk_txn_info in;
    BK_CHECK(bk_tcoord_describe(tc, ID("t"), &in) == 0);
    BK_CHECK(in.state == BK_TXN_ONGOING && in.nparts == 3 && in.start_ts == f.wall &&
             in.timeout_ms == 30000 && in.pid == pid && in.epoch == epoch);
    BK_CHECK(add(tc, "t", pid, epoch, "a", 1) == 0); /* already in */
    BK_CHECK(bk_tcoord_verify(tc, pid, epoch, "a", 1, 1) == 0);
    BK_CHECK(bk_tcoord_verify(tc, pid, epoch, "b", 1, 1) == BK_KERR_INVALID_TXN_STATE);
    BK_CHECK(bk_tcoord_verify(tc, pid, (int16_t)(epoch - 1), "a", 1, 1) ==
             BK_KERR_INVALID_PRODUCER_EPOCH);
    BK_CHECK(bk_tcoord_verify(tc, pid + 77, 0, "a", 1, 1) == BK_KERR_INVALID_TXN_STATE);
    BK_CHECK(bk_tcoord_end_txn(tc, ID("t"), pid, 0, true) == BK_KERR_PRODUCER_FENCED);
    BK_CHECK(bk_tcoord_end_txn(tc, ID("t"), pid, epoch, true) == 0);
    BK_CHECK(f.n == 3 && f.m[0].commit && f.m[0].pid == pid && f.m[0].epoch == epoch);
    BK_CHECK(strcmp(f.m[0].topic, "a") == 0 && f.m[1].partition == 1 &&
             strcmp(f.m[2].topic, "b") == 0);
    BK_CHECK(strcmp(state_of(tc, "t"), "CompleteCommit") == 0);
    BK_CHECK(bk_tcoord_describe(tc, ID("t"), &in) == 0 && in.nparts == 0);
    BK_CHECK(bk_tcoord_end_txn(tc, ID("t"), pid, epoch, true) == 0); /* retry */
    BK_CHECK(bk_tcoord_end_txn(tc, ID("t"), pid, epoch, false) == BK_KERR_INVALID_TXN_STATE);
    BK_CHECK(bk_tcoord_verify(tc, pid, epoch, "a", 1, 1) == BK_KERR_INVALID_TXN_STATE);

    /* next transaction, aborted */
    f.n = 0;
    BK_CHECK(add(tc, "t", pid, epoch, "c", 2) == 0);
    BK_CHECK(bk_tcoord_end_txn(tc, ID("t"), pid, epoch, false) == 0);
    BK_CHECK(f.n == 1 && !f.m[0].commit && strcmp(state_of(tc, "t"), "CompleteAbort") == 0);
    BK_CHECK(bk_tcoord_end_txn(tc, ID("t"), pid, epoch, false) == 0);
    BK_CHECK(bk_tcoord_end_txn(tc, ID("t"), pid, epoch, true) == BK_KERR_INVALID_TXN_STATE);

    /* markers that cannot be written: Prepare* stays, tick retries */
    f.n = 0;
    BK_CHECK(add(tc, "t", pid, epoch, "a", 0) == 0 && add(tc, "t", pid, epoch, "b", 0) == 0);
    f.fail = BK_KERR_KAFKA_STORAGE_ERROR;
    f.fail_topic = "b";
    BK_CHECK(bk_tcoord_end_txn(tc, ID("t"), pid, epoch, true) == BK_KERR_COORDINATOR_NOT_AVAILABLE);
    BK_CHECK(strcmp(state_of(tc, "t"), "PrepareCommit") == 0 && f.n == 1);
    BK_CHECK(bk_tcoord_describe(tc, ID("t"), &in) == 0 && in.nparts == 2 && in.parts[0].marked &&
             !in.parts[1].marked);
    BK_CHECK(bk_tcoord_end_txn(tc, ID("t"), pid, epoch, false) == BK_KERR_INVALID_TXN_STATE);
    BK_CHECK(bk_tcoord_end_txn(tc, ID("t"), pid, epoch, true) == BK_KERR_CONCURRENT_TRANSACTIONS);
    BK_CHECK(add(tc, "t", pid, epoch, "a", 0) == BK_KERR_CONCURRENT_TRANSACTIONS);
    BK_CHECK(init(tc, "t", &p2, &e2) == BK_KERR_CONCURRENT_TRANSACTIONS && p2 == -1);
    bk_tcoord_tick(tc, 0);
    BK_CHECK(strcmp(state_of(tc, "t"), "PrepareCommit") == 0);
    int before = f.attempts;
    bk_tcoord_tick(tc, 500); /* within the retry backoff: nothing */
    BK_CHECK(f.attempts == before);
    f.fail = 0;
    f.fail_topic = NULL;
    bk_tcoord_tick(tc, 1000);
    BK_CHECK(strcmp(state_of(tc, "t"), "CompleteCommit") == 0);
    BK_CHECK(f.n == 2 && strcmp(f.m[1].topic, "b") == 0 && f.m[1].commit);
    BK_CHECK(bk_tcoord_end_txn(tc, ID("t"), pid, epoch, true) == 0);

    /* a deleted partition needs no marker */
    f.n = 0;
    BK_CHECK(add(tc, "t", pid, epoch, "gone", 0) == 0);
    f.fail = BK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    BK_CHECK(bk_tcoord_end_txn(tc, ID("t"), pid, epoch, false) == 0);
    BK_CHECK(strcmp(state_of(tc, "t"), "CompleteAbort") == 0);
    f.fail = 0;

    /* EndTxn retry in Prepare* completes once markers work */
    BK_CHECK(add(tc, "t", pid, epoch, "a", 3) == 0);
    f.fail = BK_KERR_NOT_LEADER_OR_FOLLOWER;
    BK_CHECK(bk_tcoord_end_txn(tc, ID("t"), pid, epoch, false) != 0);
    f.fail = 0;
    BK_CHECK(bk_tcoord_end_txn(tc, ID("t"), pid, epoch, false) == 0);
    BK_CHECK(strcmp(state_of(tc, "t"), "CompleteAbort") == 0);
    bk_tcoord_free(tc);
    bk_config_fini(&c);
}

static void test_fencing(void)
{
    BK_TEST("tcoord: InitProducerId fences an open transaction; KIP-360 expected pid/epoch; "
            "epoch exhaustion");
    bk_config c;
    cfg_init(&c, NULL);
    fake f = {.wall = 5000};
    bk_tcoord *tc = tc_new(&c, NULL, NULL, &f);
    int64_t pid, p2;
    int16_t epoch, e2;
    BK_CHECK(init(tc, "x", &pid, &epoch) == 0 && epoch == 0);
    BK_CHECK(add(tc, "x", pid, epoch, "a", 0) == 0);
    /* a new producer instance: the open transaction is aborted with the
     * fenced epoch, then the epoch is bumped again */
    BK_CHECK(init(tc, "x", &p2, &e2) == 0 && p2 == pid && e2 == 2);
    BK_CHECK(f.n == 1 && !f.m[0].commit && f.m[0].epoch == 1);
    BK_CHECK(add(tc, "x", pid, epoch, "a", 0) == BK_KERR_PRODUCER_FENCED);
    BK_CHECK(bk_tcoord_end_txn(tc, ID("x"), pid, epoch, false) == BK_KERR_PRODUCER_FENCED);
    epoch = e2;

    /* KIP-360: the current producer bumps its own epoch */
    BK_CHECK(bk_tcoord_init_pid(tc, ID("x"), 30000, pid, epoch, &p2, &e2) == 0 && p2 == pid &&
             e2 == epoch + 1);
    /* a retry of that bump (its answer was lost) gets the same epoch */
    BK_CHECK(bk_tcoord_init_pid(tc, ID("x"), 30000, pid, epoch, &p2, &e2) == 0 && p2 == pid &&
             e2 == epoch + 1);
    /* an older epoch, or another producer id: fenced */
    BK_CHECK(bk_tcoord_init_pid(tc, ID("x"), 30000, pid, 0, &p2, &e2) == BK_KERR_PRODUCER_FENCED);
    BK_CHECK(bk_tcoord_init_pid(tc, ID("x"), 30000, pid + 5, epoch + 1, &p2, &e2) ==
             BK_KERR_PRODUCER_FENCED);
    /* a brand-new id accepts any expectation (UNKNOWN_PRODUCER_ID recovery) */
    BK_CHECK(bk_tcoord_init_pid(tc, ID("fresh"), 30000, 12345, 7, &p2, &e2) == 0 && e2 == 0);

    /* exhaustion: at epoch 32766 the next InitProducerId rotates the id */
    BK_CHECK(init(tc, "ex", &pid, &epoch) == 0);
    while (epoch < 32766)
        BK_CHECK(init(tc, "ex", &p2, &epoch) == 0 && p2 == pid);
    int64_t p3;
    int16_t e3;
    BK_CHECK(bk_tcoord_init_pid(tc, ID("ex"), 30000, pid, 32766, &p2, &e2) == 0 && p2 != pid &&
             e2 == 0);
    /* a retry of that request (answer lost) gets the same new id and epoch */
    BK_CHECK(bk_tcoord_init_pid(tc, ID("ex"), 30000, pid, 32766, &p3, &e3) == 0 && p3 == p2 &&
             e3 == 0);
    /* without an expectation too */
    BK_CHECK(init(tc, "ex2", &pid, &epoch) == 0);
    while (epoch < 32766)
        BK_CHECK(init(tc, "ex2", &p2, &epoch) == 0 && p2 == pid);
    BK_CHECK(init(tc, "ex2", &p2, &e2) == 0 && p2 != pid && e2 == 0);
    bk_tcoord_free(tc);
    bk_config_fini(&c);
}

static void test_timeouts(void)
{
    BK_TEST("tcoord: tick aborts timed-out transactions (fencing) and expires idle ids");
    bk_config c;
    cfg_init(&c, NULL);
    fake f = {.wall = 1000000};
    bk_tcoord *tc = tc_new(&c, NULL, NULL, &f);
    int64_t pid, pb;
    int16_t epoch, eb;
    BK_CHECK(bk_tcoord_init_pid(tc, ID("slow"), 2000, -1, -1, &pid, &epoch) == 0);
    BK_CHECK(add(tc, "slow", pid, epoch, "a", 0) == 0);
    BK_CHECK(init(tc, "idle", &pb, &eb) == 0);
    bk_tcoord_tick(tc, 0);
    f.wall += 1500;
    bk_tcoord_tick(tc, 1000); /* not timed out yet */
    BK_CHECK(strcmp(state_of(tc, "slow"), "Ongoing") == 0);
    f.wall += 1000;
    bk_tcoord_tick(tc, 1500); /* timed out, but the check runs every 1000 ms */
    BK_CHECK(strcmp(state_of(tc, "slow"), "Ongoing") == 0);
    bk_tcoord_tick(tc, 2000);
    BK_CHECK(strcmp(state_of(tc, "slow"), "CompleteAbort") == 0);
    BK_CHECK(f.n == 1 && !f.m[0].commit && f.m[0].epoch == epoch + 1);
    BK_CHECK(bk_tcoord_end_txn(tc, ID("slow"), pid, epoch, false) == BK_KERR_PRODUCER_FENCED);

    /* ListTransactions view */
    BK_CHECK(bk_tcoord_count(tc) == 2);
    BK_CHECK(bk_txn_state_parse("PrepareEpochFence", 17) == BK_TXN_PREPARE_EPOCH_FENCE);
    BK_CHECK(bk_txn_state_parse("Nope", 4) == -1);

    /* expiry: idle longer than transactional.id.expiration.ms (100 s) */
    f.wall += 90000;
    bk_tcoord_tick(tc, 5000);
    BK_CHECK(bk_tcoord_count(tc) == 2);
    BK_CHECK(init(tc, "slow", &pid, &epoch) == 0); /* touches "slow" */
    f.wall += 10000;
    bk_tcoord_tick(tc, 10000);
    BK_CHECK(strcmp(state_of(tc, "idle"), "none") == 0 && bk_tcoord_count(tc) == 1);
    BK_CHECK(strcmp(state_of(tc, "slow"), "Empty") == 0);
    bk_tcoord_free(tc);
    bk_config_fini(&c);
}

/* ------------------------------------------------------------ persistence */

static bk_logmgr *lm_open(const char *dir)
{
    const char *dirs[1] = {dir};
    bk_logmgr_cfg lc;
    bk_logmgr_cfg_defaults(&lc);
    lc.dirs = dirs;
    lc.ndirs = 1;
    bk_logmgr *m = NULL;
    char err[256];
    BK_CHECK(bk_logmgr_open(&m, &lc, 0, NULL, err, sizeof err) == 0);
    return m;
}

/* The first record of partition p of __transaction_state. */
static bool first_record(bk_topics *t, int32_t part, uint8_t *key, int32_t *klen, uint8_t *val,
                         int32_t *vlen)
{
    bk_partition *p = bk_topics_partition(t, BK_TXN_TOPIC, strlen(BK_TXN_TOPIC), part);
    if (!p || !p->log)
        return false;
    bk_plog_slice sl;
    if (bk_plog_read(p->log, 0, 1 << 16, bk_plog_leo(p->log), true, &sl) != 0 || sl.len == 0)
        return false;
    uint8_t *buf = malloc(sl.len);
    bool ok = buf && pread(sl.fd, buf, sl.len, sl.pos) == (ssize_t)sl.len;
    bk_batch_info bi;
    ok = ok && bk_batch_parse(buf, sl.len, &bi) == 0;
    bk_rec_iter it;
    bk_record r;
    if (ok) {
        bk_rec_iter_init(&it, bi.records, bi.records_len, bi.record_count);
        ok = bk_rec_iter_next(&it, &r) && r.key_len < 64 && r.value_len < 256;
    }
    if (ok) {
        memcpy(key, r.key, (size_t)r.key_len);
        *klen = r.key_len;
        *vlen = r.value_len;
        if (r.value_len > 0)
            memcpy(val, r.value, (size_t)r.value_len);
    }
    free(buf);
    return ok;
}

static void test_persistence(void)
{
    BK_TEST("tcoord: __transaction_state records, load, Prepare* finished at start-up, "
            "tombstones, producer ids above the log's");
    char *root = tmpdir();
    char rootc[64];
    snprintf(rootc, sizeof rootc, "%s", root);
    bk_config c;
    cfg_init(&c, rootc);
    bk_logmgr *lm = lm_open(rootc);
    bk_topics *t = NULL;
    char err[256];
    BK_CHECK(bk_topics_open(&t, &c, lm, rootc, 0, err, sizeof err) == 0);
    fake f = {.wall = 1700000000000LL};
    bk_tcoord *tc = tc_new(&c, t, rootc, &f);
    int16_t kerr;
    BK_CHECK(bk_tcoord_ensure_topic(tc, &kerr) == 0);
    bk_topic *tp = bk_topics_get(t, BK_TXN_TOPIC, strlen(BK_TXN_TOPIC));
    BK_CHECK(tp && tp->nparts == 3 && tp->internal && tp->cfg.cleanup_compact);

    int64_t pid;
    int16_t epoch;
    BK_CHECK(init(tc, "t1", &pid, &epoch) == 0 && pid == 0 && epoch == 0);
    BK_CHECK(f.appended == 1);
    /* key v0 and value v0 bytes, as Kafka's TransactionLog writes them */
    int32_t part = bk_group_partition("t1", 2, 3), kl = 0, vl = 0;
    uint8_t key[64], val[256];
    BK_CHECK(first_record(t, part, key, &kl, val, &vl));
    static const uint8_t want_key[] = {0, 0, 0, 2, 't', '1'};
    BK_CHECK(kl == 6 && memcmp(key, want_key, 6) == 0);
    uint8_t want_val[2 + 8 + 2 + 4 + 1 + 4 + 8 + 8];
    bk_wr w;
    bk_wr_init_fixed(&w, want_val, sizeof want_val);
    bk_wr_i16(&w, 0);
    bk_wr_i64(&w, 0);     /* producer id */
    bk_wr_i16(&w, 0);     /* epoch */
    bk_wr_i32(&w, 30000); /* timeout */
    bk_wr_i8(&w, 0);      /* Empty */
    bk_wr_i32(&w, -1);    /* no partitions: null */
    bk_wr_i64(&w, f.wall);
    bk_wr_i64(&w, -1);
    BK_CHECK(vl == (int32_t)sizeof want_val && memcmp(val, want_val, sizeof want_val) == 0);

    BK_CHECK(add(tc, "t1", pid, epoch, "x", 0) == 0 && add(tc, "t1", pid, epoch, "y", 1) == 0);
    BK_CHECK(bk_tcoord_end_txn(tc, ID("t1"), pid, epoch, true) == 0);
    int64_t p2, p3;
    int16_t e2, e3;
    BK_CHECK(init(tc, "t2", &p2, &e2) == 0 && add(tc, "t2", p2, e2, "x", 0) == 0); /* Ongoing */
    BK_CHECK(init(tc, "t3", &p3, &e3) == 0 && add(tc, "t3", p3, e3, "x", 1) == 0);
    f.fail = BK_KERR_KAFKA_STORAGE_ERROR;
    BK_CHECK(bk_tcoord_end_txn(tc, ID("t3"), p3, e3, false) == BK_KERR_COORDINATOR_NOT_AVAILABLE);
    BK_CHECK(strcmp(state_of(tc, "t3"), "PrepareAbort") == 0);
    bk_tcoord_free(tc); /* a crash with t3's markers unwritten */

    f.fail = 0;
    f.n = 0;
    tc = tc_new(&c, t, rootc, &f);
    BK_CHECK(bk_tcoord_load(tc) == 0);
    BK_CHECK(bk_tcoord_count(tc) == 3);
    bk_txn_info in;
    BK_CHECK(bk_tcoord_describe(tc, ID("t1"), &in) == 0 && in.state == BK_TXN_COMPLETE_COMMIT &&
             in.pid == pid && in.epoch == epoch && in.timeout_ms == 30000);
    BK_CHECK(bk_tcoord_describe(tc, ID("t2"), &in) == 0 && in.state == BK_TXN_ONGOING &&
             in.nparts == 1 && strcmp(in.parts[0].topic, "x") == 0 && in.parts[0].partition == 0);
    BK_CHECK(bk_tcoord_verify(tc, p2, e2, "x", 1, 0) == 0);
    /* t3's abort was finished at load: its marker written again */
    BK_CHECK(strcmp(state_of(tc, "t3"), "CompleteAbort") == 0);
    BK_CHECK(f.n == 1 && !f.m[0].commit && f.m[0].pid == p3 && strcmp(f.m[0].topic, "x") == 0 &&
             f.m[0].partition == 1);
    /* new ids continue above every id used before */
    int64_t np;
    int16_t ne;
    BK_CHECK(bk_tcoord_init_pid(tc, NULL, 0, 0, -1, -1, &np, &ne) == 0 && np >= 1000);
    /* the producer of t1 continues (epoch bump persists) */
    BK_CHECK(init(tc, "t1", &p2, &e2) == 0 && p2 == pid && e2 == epoch + 1);

    /* expiry writes a tombstone: the id stays gone after a restart */
    f.wall += 200000;
    bk_tcoord_tick(tc, 0);
    bk_tcoord_tick(tc, 5000);
    BK_CHECK(strcmp(state_of(tc, "t1"), "none") == 0);
    BK_CHECK(strcmp(state_of(tc, "t2"), "CompleteAbort") == 0); /* timed out meanwhile */
    bk_tcoord_free(tc);
    tc = tc_new(&c, t, rootc, &f);
    BK_CHECK(bk_tcoord_load(tc) == 0);
    BK_CHECK(strcmp(state_of(tc, "t1"), "none") == 0 && strcmp(state_of(tc, "t3"), "none") == 0);
    BK_CHECK(strcmp(state_of(tc, "t2"), "CompleteAbort") == 0);
    bk_tcoord_free(tc);

    /* producer ids stay above the log's even without the block file */
    char path[128];
    snprintf(path, sizeof path, "%s/brook-producer-ids", rootc);
    BK_CHECK(unlink(path) == 0);
    tc = tc_new(&c, t, rootc, &f);
    BK_CHECK(bk_tcoord_load(tc) == 0);
    BK_CHECK(bk_tcoord_describe(tc, ID("t2"), &in) == 0);
    BK_CHECK(bk_tcoord_init_pid(tc, NULL, 0, 0, -1, -1, &np, &ne) == 0 && np > in.pid);
    bk_tcoord_free(tc);

    bk_topics_close(t);
    BK_CHECK(bk_logmgr_close(lm) == 0);
    bk_config_fini(&c);
    rmdir_rf(rootc);
}

/* Cluster mode: a coordinator taking over a __transaction_state partition
 * replays it (finishing Prepare* transactions); giving it up drops its ids. */
static void test_load_unload(void)
{
    BK_TEST("tcoord: load_partition replays another coordinator's writes; unload drops");
    char *root = tmpdir();
    char rootc[64], m2[80];
    snprintf(rootc, sizeof rootc, "%s", root);
    snprintf(m2, sizeof m2, "%s/m2", rootc);
    BK_CHECK(mkdir(m2, 0755) == 0);
    bk_config c;
    cfg_init(&c, rootc);
    bk_logmgr *lm = lm_open(rootc);
    bk_topics *t = NULL;
    char err[256];
    BK_CHECK(bk_topics_open(&t, &c, lm, rootc, 0, err, sizeof err) == 0);
    fake f1 = {.wall = 1700000000000LL}, f2 = {.wall = 1700000000000LL};
    bk_tcoord *tc1 = tc_new(&c, t, rootc, &f1);
    bk_tcoord *tc2 = tc_new(&c, t, m2, &f2);
    int16_t kerr;
    BK_CHECK(bk_tcoord_ensure_topic(tc1, &kerr) == 0);
    int64_t p1, p3;
    int16_t e1, e3;
    BK_CHECK(init(tc1, "t1", &p1, &e1) == 0 && add(tc1, "t1", p1, e1, "x", 0) == 0);
    BK_CHECK(init(tc1, "t3", &p3, &e3) == 0 && add(tc1, "t3", p3, e3, "x", 1) == 0);
    f1.fail = BK_KERR_KAFKA_STORAGE_ERROR;
    BK_CHECK(bk_tcoord_end_txn(tc1, ID("t3"), p3, e3, false) == BK_KERR_COORDINATOR_NOT_AVAILABLE);
    BK_CHECK(strcmp(state_of(tc1, "t3"), "PrepareAbort") == 0);
    int32_t q1 = bk_group_partition("t1", 2, 3), q3 = bk_group_partition("t3", 2, 3);

    BK_CHECK(strcmp(state_of(tc2, "t1"), "none") == 0);
    BK_CHECK(bk_tcoord_load_partition(tc2, q1) == 0);
    BK_CHECK(strcmp(state_of(tc2, "t1"), "Ongoing") == 0);
    BK_CHECK(bk_tcoord_verify(tc2, p1, e1, "x", 1, 0) == 0);
    BK_CHECK(bk_tcoord_load_partition(tc2, q1) == 0); /* again: same state */
    BK_CHECK(strcmp(state_of(tc2, "t1"), "Ongoing") == 0 && bk_tcoord_count(tc2) >= 1);
    BK_CHECK(bk_tcoord_load_partition(tc2, q3) == 0);
    /* t3's abort is finished by the new coordinator: its marker written */
    BK_CHECK(strcmp(state_of(tc2, "t3"), "CompleteAbort") == 0);
    BK_CHECK(f2.n == 1 && !f2.m[0].commit && f2.m[0].pid == p3 && f2.m[0].partition == 1);

    BK_CHECK(bk_tcoord_unload_partition(tc2, q1) == 0);
    BK_CHECK(strcmp(state_of(tc2, "t1"), "none") == 0);
    if (q1 != q3)
        BK_CHECK(strcmp(state_of(tc2, "t3"), "CompleteAbort") == 0);
    BK_CHECK(bk_tcoord_unload_partition(tc2, q3) == 0 && bk_tcoord_count(tc2) == 0);
    bk_tcoord_free(tc1);
    bk_tcoord_free(tc2);
    bk_topics_close(t);
    BK_CHECK(bk_logmgr_close(lm) == 0);
    bk_config_fini(&c);
    rmdir_rf(rootc);
}

/* Cluster mode: markers answered later through bk_tcoord_marker_done. */
static void test_async_markers(void)
{
    BK_TEST("tcoord: asynchronous markers (cluster mode): EndTxn after Prepare, retries, "
            "completion on the last marker");
    bk_config c;
    cfg_init(&c, NULL);
    fake f = {.wall = 1000000, .pending = true};
    bk_tcoord *tc = tc_new(&c, NULL, NULL, &f);
    bk_tcoord_set_cluster(tc, true);
    int64_t pid;
    int16_t epoch;
    BK_CHECK(init(tc, "t", &pid, &epoch) == 0);
    /* another broker's producer: not verifiable here, so not refused */
    BK_CHECK(bk_tcoord_verify(tc, pid + 1000, 0, "a", 1, 0) == BK_KERR_NONE);
    BK_CHECK(add(tc, "t", pid, epoch, "a", 0) == 0 && add(tc, "t", pid, epoch, "b", 3) == 0);
    BK_CHECK(bk_tcoord_end_txn(tc, ID("t"), pid, epoch, true) == BK_KERR_NONE);
    BK_CHECK(strcmp(state_of(tc, "t"), "PrepareCommit") == 0 && f.n == 2);
    /* meanwhile: CONCURRENT_TRANSACTIONS, and no marker is sent twice */
    BK_CHECK(add(tc, "t", pid, epoch, "a", 0) == BK_KERR_CONCURRENT_TRANSACTIONS);
    BK_CHECK(bk_tcoord_end_txn(tc, ID("t"), pid, epoch, true) == BK_KERR_CONCURRENT_TRANSACTIONS);
    bk_tcoord_tick(tc, bk_now_ms() + 5000);
    BK_CHECK(f.n == 2);
    bk_txn_marker ma = {"t", 1, "a", 0, pid, epoch, 0, true};
    bk_txn_marker mb = {"t", 1, "b", 3, pid, epoch, 0, true};
    /* a stale answer (other epoch, other result) changes nothing */
    bk_txn_marker old = ma;
    old.epoch = (int16_t)(epoch - 1);
    bk_tcoord_marker_done(tc, &old, BK_KERR_NONE);
    old = ma;
    old.commit = false;
    bk_tcoord_marker_done(tc, &old, BK_KERR_NONE);
    /* a: the leader moved; b: written */
    bk_tcoord_marker_done(tc, &ma, BK_KERR_NOT_LEADER_OR_FOLLOWER);
    bk_tcoord_marker_done(tc, &mb, BK_KERR_NONE);
    BK_CHECK(strcmp(state_of(tc, "t"), "PrepareCommit") == 0);
    bk_txn_info in;
    BK_CHECK(bk_tcoord_describe(tc, ID("t"), &in) == 0 && in.nparts == 2);
    int marked = 0;
    for (int i = 0; i < in.nparts; i++)
        marked += in.parts[i].marked;
    BK_CHECK(marked == 1);
    /* the tick sends a's marker again (to whoever leads it now) */
    bk_tcoord_tick(tc, bk_now_ms() + 10000);
    BK_CHECK(f.n == 3 && strcmp(f.m[2].topic, "a") == 0 && f.m[2].commit);
    bk_tcoord_marker_done(tc, &mb, BK_KERR_NONE); /* repeated: ignored */
    BK_CHECK(strcmp(state_of(tc, "t"), "PrepareCommit") == 0);
    bk_tcoord_marker_done(tc, &ma, BK_KERR_NONE);
    BK_CHECK(strcmp(state_of(tc, "t"), "CompleteCommit") == 0);
    BK_CHECK(bk_tcoord_end_txn(tc, ID("t"), pid, epoch, true) == BK_KERR_NONE);
    /* the next transaction starts; an abort goes the same way */
    BK_CHECK(add(tc, "t", pid, epoch, "a", 0) == 0);
    BK_CHECK(bk_tcoord_end_txn(tc, ID("t"), pid, epoch, false) == BK_KERR_NONE);
    BK_CHECK(strcmp(state_of(tc, "t"), "PrepareAbort") == 0 && f.n == 4 && !f.m[3].commit);
    ma.commit = false;
    bk_tcoord_marker_done(tc, &ma, BK_KERR_UNKNOWN_TOPIC_OR_PARTITION); /* gone: done */
    BK_CHECK(strcmp(state_of(tc, "t"), "CompleteAbort") == 0);
    bk_tcoord_free(tc);
    bk_config_fini(&c);
}

void bk_test_tcoord(void);
void bk_test_tcoord(void)
{
    test_pid_blocks();
    test_flow();
    test_fencing();
    test_timeouts();
    test_persistence();
    test_load_unload();
    test_async_markers();
}
