/*
 * coord_test.c - the group coordinator without storage (in-memory offsets):
 * Java's String.hashCode and Kafka's partitionFor, and the classic state
 * machine driven through bk_coord_join/sync/heartbeat/leave/commit with
 * waiters that record the answers. Timers are driven by calling
 * bk_coord_tick() with a chosen "now".
 */
#include "coord.h"

#include "../../tests/unit.h"
#include "../core/clock.h"
#include "../proto/records.h"
#include "../storage/logmgr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct tw {
    bk_gwait w;
    int njoin, nsync;
    int16_t err;
    int32_t gen;
    char member[256];
    char leader[256];
    char protocol[64];
    int nmembers;
    char assign[64];
    bool skip;
} tw;

static void t_on_join(bk_gwait *w, const bk_join_out *o)
{
    tw *t = w->ud;
    t->njoin++;
    t->err = o->error;
    t->gen = o->generation;
    snprintf(t->member, sizeof t->member, "%s", o->member_id ? o->member_id : "");
    snprintf(t->leader, sizeof t->leader, "%s", o->leader ? o->leader : "");
    snprintf(t->protocol, sizeof t->protocol, "%s", o->protocol ? o->protocol : "");
    t->nmembers = o->nmembers;
    t->skip = o->skip_assignment;
}

static void t_on_sync(bk_gwait *w, const bk_sync_out *o)
{
    tw *t = w->ud;
    t->nsync++;
    t->err = o->error;
    snprintf(t->assign, sizeof t->assign, "%.*s", (int)o->assignment_len,
             o->assignment ? (const char *)o->assignment : "");
}

static void tw_init(tw *t)
{
    memset(t, 0, sizeof *t);
    t->w.ud = t;
    t->w.on_join = t_on_join;
    t->w.on_sync = t_on_sync;
}

static int join(bk_coord *co, tw *t, const char *member, const char *inst, const char *protos)
{
    /* protos: comma separated names; metadata = the name */
    bk_join_proto p[4];
    int n = 0;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", protos);
    for (char *s = strtok(buf, ","); s && n < 4; s = strtok(NULL, ",")) {
        static char keep[4][32];
        snprintf(keep[n], sizeof keep[n], "%s", s);
        p[n].name = keep[n];
        p[n].name_len = strlen(keep[n]);
        p[n].meta = (const uint8_t *)keep[n];
        p[n].meta_len = (int32_t)strlen(keep[n]);
        n++;
    }
    bk_join_args a = {.group = "g",
                      .group_len = 1,
                      .member_id = member,
                      .member_id_len = strlen(member),
                      .instance_id = inst,
                      .instance_id_len = inst ? strlen(inst) : 0,
                      .protocol_type = "consumer",
                      .protocol_type_len = 8,
                      .client_id = "c",
                      .client_host = "/127.0.0.1",
                      .session_ms = 10000,
                      .rebalance_ms = 20000,
                      .require_known_member_id = true,
                      .nprotos = n,
                      .protos = p};
    return bk_coord_join(co, &a, &t->w);
}

static int sync_(bk_coord *co, tw *t, const char *member, int32_t gen, const bk_sync_assign *as,
                 int nas)
{
    return bk_coord_sync(co, "g", 1, gen, member, strlen(member), NULL, 0, NULL, 0, NULL, 0, as,
                         nas, &t->w);
}

static const char *state(bk_coord *co)
{
    bk_group *g = bk_coord_group_get(co, "g", 1);
    bk_group_summary s;
    if (!g)
        return "none";
    bk_group_summarize(g, &s);
    return s.state;
}

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

static int appended;
static void on_append(void *ud, bk_partition *p, uint64_t bytes)
{
    (void)ud, (void)p, (void)bytes;
    appended++;
}

/* Offsets and group metadata written to __consumer_offsets come back. */
static void test_persistence(void)
{
    BK_TEST("coord: __consumer_offsets round trip (offsets, group with members, tombstones)");
    char root[] = "/tmp/bk-coord-XXXXXX";
    BK_CHECK(mkdtemp(root) != NULL);
    bk_config c;
    char err[256], kv[400];
    BK_CHECK(bk_config_init(&c) == 0);
    snprintf(kv, sizeof kv, "log.dirs=%s", root);
    BK_CHECK(bk_config_override(&c, kv, err, sizeof err) == 0);
    BK_CHECK(bk_config_override(&c, "offsets.topic.num.partitions=4", err, sizeof err) == 0);
    BK_CHECK(bk_config_override(&c, "group.initial.rebalance.delay.ms=0", err, sizeof err) == 0);
    BK_CHECK(bk_config_finish(&c, err, sizeof err) == 0);
    bk_logmgr *lm = lm_open(root);
    bk_topics *t = NULL;
    BK_CHECK(bk_topics_open(&t, &c, lm, root, 0, err, sizeof err) == 0);
    int16_t kerr;
    char msg[128];
    BK_CHECK(bk_topics_create(t, "t", 1, 2, -1, NULL, 0, false, &kerr, msg, sizeof msg) == 0);
    bk_coord *co = bk_coord_new(&c, t, on_append, NULL);
    tw a;
    tw_init(&a);
    BK_CHECK(join(co, &a, "", "inst", "range") == 0 && a.err == 0);
    char ida[256];
    snprintf(ida, sizeof ida, "%s", a.member);
    bk_sync_assign as[] = {{ida, strlen(ida), (const uint8_t *)"ASSIGN", 6}};
    tw_init(&a);
    BK_CHECK(sync_(co, &a, ida, 1, as, 1) == 0 && a.err == 0);
    bk_commit_part cp[2] = {{.topic = "t",
                             .topic_len = 1,
                             .partition = 0,
                             .offset = 5,
                             .leader_epoch = 3,
                             .metadata = "md",
                             .metadata_len = 2,
                             .commit_ts = 100,
                             .expire_ts = -1},
                            {.topic = "t",
                             .topic_len = 1,
                             .partition = 1,
                             .offset = 9,
                             .leader_epoch = -1,
                             .commit_ts = 100,
                             .expire_ts = 4102444800000LL}};
    bk_coord_commit(co, "g", 1, 1, ida, strlen(ida), "inst", 4, cp, 2);
    BK_CHECK(cp[0].error == 0 && cp[1].error == 0);
    BK_CHECK(appended >= 2);
    bk_topic *tp = bk_topics_get(t, BK_OFFSETS_TOPIC, strlen(BK_OFFSETS_TOPIC));
    BK_CHECK(tp && tp->nparts == 4 && tp->internal && tp->cfg.cleanup_compact);
    bk_coord_free(co);

    co = bk_coord_new(&c, t, NULL, NULL);
    BK_CHECK(bk_coord_load(co) == 0);
    bk_offset_info oi;
    BK_CHECK(bk_coord_fetch_offset(co, "g", 1, "t", 1, 0, &oi));
    BK_CHECK(oi.offset == 5 && oi.leader_epoch == 3 && strcmp(oi.metadata, "md") == 0);
    BK_CHECK(bk_coord_fetch_offset(co, "g", 1, "t", 1, 1, &oi) && oi.offset == 9);
    bk_group *g = bk_coord_group_get(co, "g", 1);
    BK_CHECK(g && bk_group_generation(g) == 1 && bk_group_nmembers(g) == 1);
    if (g && bk_group_nmembers(g) == 1) {
        bk_member_desc md;
        bk_group_member_desc(g, 0, &md);
        BK_CHECK(strcmp(md.member_id, ida) == 0 && strcmp(md.instance_id, "inst") == 0);
        BK_CHECK(md.assign_len == 6 && memcmp(md.assign, "ASSIGN", 6) == 0);
    }
    /* the restored member heartbeats on at its generation */
    BK_CHECK(bk_coord_heartbeat(co, "g", 1, 1, ida, strlen(ida), "inst", 4) == 0);
    BK_CHECK(bk_coord_leave(co, "g", 1, "", 0, "inst", 4) == 0);
    BK_CHECK(bk_coord_delete_group(co, "g", 1) == 0);
    bk_coord_free(co);

    co = bk_coord_new(&c, t, NULL, NULL);
    BK_CHECK(bk_coord_load(co) == 0);
    BK_CHECK(bk_coord_group_get(co, "g", 1) == NULL);
    BK_CHECK(!bk_coord_fetch_offset(co, "g", 1, "t", 1, 0, &oi));
    bk_coord_free(co);

    bk_topics_close(t);
    BK_CHECK(bk_logmgr_close(lm) == 0);
    bk_config_fini(&c);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    BK_CHECK(system(cmd) == 0);
}

static int lag_n;
static bk_lag lag_last;
static void lag_cb(void *ud, const bk_lag *l)
{
    (void)ud;
    lag_n++;
    lag_last = *l;
}

/* ------------------------------------------------------------ transactions */

/* TxnOffsetCommit of one partition of topic "t"; returns the partition's
 * error (the group-level one when there is one). */
static int16_t tcommit(bk_coord *co, const char *group, int64_t pid, int16_t epoch, int32_t part,
                       int64_t offset, const char *md)
{
    bk_commit_part cp = {.topic = "t",
                         .topic_len = 1,
                         .partition = part,
                         .offset = offset,
                         .leader_epoch = 2,
                         .metadata = md,
                         .metadata_len = md ? strlen(md) : 0,
                         .commit_ts = 1000,
                         .expire_ts = -1};
    int16_t g =
        bk_coord_txn_commit(co, group, strlen(group), pid, epoch, -1, "", 0, NULL, 0, &cp, 1);
    BK_CHECK(g == BK_KERR_NONE || g == cp.error);
    return cp.error;
}

static int16_t commit1(bk_coord *co, const char *group, int32_t part, int64_t offset)
{
    bk_commit_part cp = {.topic = "t",
                         .topic_len = 1,
                         .partition = part,
                         .offset = offset,
                         .leader_epoch = -1,
                         .commit_ts = 1000,
                         .expire_ts = -1};
    bk_coord_commit(co, group, strlen(group), -1, "", 0, NULL, 0, &cp, 1);
    return cp.error;
}

/* The committed offset of group/t/part, -1 when none. */
static int64_t fetched(bk_coord *co, const char *group, int32_t part)
{
    bk_offset_info oi;
    bool ok = bk_coord_fetch_offset(co, group, strlen(group), "t", 1, part, &oi);
    BK_CHECK(ok == (oi.offset != -1));
    return oi.offset;
}

static bool pending(bk_coord *co, const char *group, int32_t part)
{
    return bk_coord_offset_pending(co, group, strlen(group), "t", 1, part);
}

/* The broker's marker path without bk_plog_append_marker (another branch):
 * a control batch {key: int16 0, int16 type; value: int16 0, int32
 * coordinator epoch} appended by hand when there is storage, then the
 * coordinator told. */
static void marker(bk_coord *co, bk_topics *t, const char *group, int64_t pid, int16_t epoch,
                   bool commit)
{
    int32_t part = bk_coord_partition_for(co, group, strlen(group));
    if (t) {
        bk_topic *tp = bk_topics_get(t, BK_OFFSETS_TOPIC, strlen(BK_OFFSETS_TOPIC));
        BK_CHECK(tp && part < tp->nparts);
        if (!tp)
            return;
        bk_plog *l = tp->parts[part].log;
        bk_wr out;
        bk_wr_init(&out, 0);
        bk_batch_opts o = BK_BATCH_OPTS_DEFAULT;
        o.base_offset = bk_plog_leo(l);
        o.leader_epoch = tp->parts[part].leader_epoch;
        o.control = true;
        o.transactional = true;
        o.producer_id = pid;
        o.producer_epoch = epoch;
        const uint8_t key[4] = {0, 0, 0, commit ? 1 : 0};
        const uint8_t val[6] = {0, 0, 0, 0, 0, 7};
        bk_batch_builder b;
        BK_CHECK(bk_batch_builder_init(&b, &out, &o) == 0);
        BK_CHECK(bk_batch_builder_add(&b, bk_wall_ms(), key, 4, val, 6, NULL, 0) == 0);
        BK_CHECK(bk_batch_builder_finish(&b) == 0);
        const uint8_t *data = out.buf + b.start;
        size_t len = out.len - b.start;
        int64_t off = bk_plog_leo(l);
        BK_CHECK(bk_plog_append(l, data, len, off, off, bk_batch_max_timestamp(data), off,
                                bk_wall_ms()) == 0);
        l->hw = bk_plog_leo(l);
        bk_batch_builder_fini(&b);
        bk_wr_fini(&out);
    }
    bk_coord_txn_marker(co, part, pid, commit);
}

/* Without storage: visibility, replacement, markers, log-offset order,
 * group-level errors, delete and expiry. */
static void test_txn(void)
{
    bk_config cfg;
    BK_CHECK(bk_config_init(&cfg) == 0);
    cfg.group_initial_rebalance_delay_ms = 0;
    bk_coord *co = bk_coord_new(&cfg, NULL, NULL, NULL);

    BK_TEST("coord txn: pending offsets are invisible until the commit marker");
    BK_CHECK(tcommit(co, "g", 100, 0, 0, 10, "m1") == 0);
    BK_CHECK(tcommit(co, "g", 100, 0, 1, 11, NULL) == 0);
    BK_CHECK(bk_coord_group_get(co, "g", 1) != NULL); /* created Empty */
    BK_CHECK(fetched(co, "g", 0) == -1 && fetched(co, "g", 1) == -1);
    BK_CHECK(pending(co, "g", 0) && pending(co, "g", 1) && !pending(co, "g", 2));
    lag_n = 0;
    BK_CHECK(bk_coord_lag(co, "g", 1, lag_cb, NULL) == 0);
    /* a later commit of the same partition in the same transaction replaces */
    BK_CHECK(tcommit(co, "g", 100, 0, 0, 12, "m2") == 0);
    /* markers of another producer, or on another partition, do nothing */
    marker(co, NULL, "g", 101, 0, true);
    int32_t gp = bk_coord_partition_for(co, "g", 1);
    BK_CHECK(gp == bk_group_partition("g", 1, cfg.offsets_topic_num_partitions));
    bk_coord_txn_marker(co, (gp + 1) % cfg.offsets_topic_num_partitions, 100, true);
    BK_CHECK(fetched(co, "g", 0) == -1 && pending(co, "g", 0));
    marker(co, NULL, "g", 100, 0, true);
    bk_offset_info oi;
    BK_CHECK(bk_coord_fetch_offset(co, "g", 1, "t", 1, 0, &oi) && oi.offset == 12 &&
             oi.leader_epoch == 2 && strcmp(oi.metadata, "m2") == 0);
    BK_CHECK(fetched(co, "g", 1) == 11);
    BK_CHECK(!pending(co, "g", 0) && !pending(co, "g", 1));

    BK_TEST("coord txn: abort drops the pending offsets");
    BK_CHECK(tcommit(co, "g", 100, 0, 0, 50, NULL) == 0);
    BK_CHECK(tcommit(co, "g", 102, 3, 2, 52, NULL) == 0); /* a second producer */
    marker(co, NULL, "g", 100, 0, false);
    BK_CHECK(fetched(co, "g", 0) == 12 && !pending(co, "g", 0));
    BK_CHECK(pending(co, "g", 2)); /* the other transaction is untouched */
    marker(co, NULL, "g", 102, 3, true);
    BK_CHECK(fetched(co, "g", 2) == 52);

    BK_TEST("coord txn: a plain commit after the TxnOffsetCommit wins at the marker");
    BK_CHECK(tcommit(co, "g", 103, 0, 0, 60, NULL) == 0);
    BK_CHECK(commit1(co, "g", 0, 70) == 0);
    BK_CHECK(fetched(co, "g", 0) == 70);
    marker(co, NULL, "g", 103, 0, true);
    BK_CHECK(fetched(co, "g", 0) == 70);
    BK_TEST("coord txn: a plain commit before the TxnOffsetCommit loses at the marker");
    BK_CHECK(commit1(co, "g", 0, 80) == 0);
    BK_CHECK(tcommit(co, "g", 103, 0, 0, 75, NULL) == 0);
    BK_CHECK(fetched(co, "g", 0) == 80);
    marker(co, NULL, "g", 103, 0, true);
    BK_CHECK(fetched(co, "g", 0) == 75);

    BK_TEST("coord txn: group-level and per-partition errors");
    BK_CHECK(tcommit(co, "", 100, 0, 0, 1, NULL) == BK_KERR_INVALID_GROUP_ID);
    BK_CHECK(tcommit(co, "g", -1, 0, 0, 1, NULL) == BK_KERR_INVALID_PRODUCER_ID_MAPPING);
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    BK_CHECK(tcommit(co, "g", 104, 0, 0, 1, big) == BK_KERR_OFFSET_METADATA_TOO_LARGE);
    BK_CHECK(!pending(co, "g", 0));
    /* a stale epoch is fenced by the transaction held here */
    BK_CHECK(tcommit(co, "g", 105, 4, 0, 1, NULL) == 0);
    BK_CHECK(tcommit(co, "g", 105, 3, 1, 1, NULL) == BK_KERR_INVALID_PRODUCER_EPOCH);
    BK_CHECK(!pending(co, "g", 1));
    marker(co, NULL, "g", 105, 4, false);
    /* member checks only when the request names one (v3+) */
    bk_commit_part cp = {.topic = "t", .topic_len = 1, .offset = 1, .leader_epoch = -1};
    BK_CHECK(bk_coord_txn_commit(co, "g", 1, 106, 0, 1, "", 0, NULL, 0, &cp, 1) ==
             BK_KERR_UNKNOWN_MEMBER_ID);
    BK_CHECK(cp.error == BK_KERR_UNKNOWN_MEMBER_ID);
    cp.error = 0;
    BK_CHECK(bk_coord_txn_commit(co, "new", 3, 106, 0, 1, "m", 1, NULL, 0, &cp, 1) ==
             BK_KERR_UNKNOWN_MEMBER_ID);
    BK_CHECK(bk_coord_group_get(co, "new", 3) == NULL);
    /* a partition that comes in with an error keeps it */
    cp.error = BK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    BK_CHECK(bk_coord_txn_commit(co, "g", 1, 106, 0, -1, "", 0, NULL, 0, &cp, 1) == 0);
    BK_CHECK(cp.error == BK_KERR_UNKNOWN_TOPIC_OR_PARTITION && !pending(co, "g", 0));
    /* with a static member: generation, member, instance */
    tw a;
    tw_init(&a);
    BK_CHECK(join(co, &a, "", "inst", "range") == 0 && a.err == 0 && a.gen == 1);
    char ida[256];
    snprintf(ida, sizeof ida, "%s", a.member);
    cp.error = 0;
    BK_CHECK(bk_coord_txn_commit(co, "g", 1, 106, 0, 2, ida, strlen(ida), "inst", 4, &cp, 1) ==
             BK_KERR_ILLEGAL_GENERATION);
    cp.error = 0;
    BK_CHECK(bk_coord_txn_commit(co, "g", 1, 106, 0, 1, "old", 3, "inst", 4, &cp, 1) ==
             BK_KERR_FENCED_INSTANCE_ID);
    cp.error = 0;
    /* CompletingRebalance: transactional commits are not refused */
    BK_CHECK(strcmp(state(co), "CompletingRebalance") == 0);
    BK_CHECK(bk_coord_txn_commit(co, "g", 1, 106, 0, 1, ida, strlen(ida), "inst", 4, &cp, 1) == 0 &&
             cp.error == 0);
    /* v0-v2 requests (nothing given) pass in any state */
    BK_CHECK(tcommit(co, "g", 106, 0, 1, 5, NULL) == 0);
    marker(co, NULL, "g", 106, 0, true);
    BK_CHECK(fetched(co, "g", 0) == 1 && fetched(co, "g", 1) == 5);
    BK_CHECK(bk_coord_leave(co, "g", 1, ida, strlen(ida), NULL, 0) == 0);

    BK_TEST("coord txn: expiry keeps a group and partitions with pending offsets");
    BK_CHECK(tcommit(co, "x", 200, 0, 0, 1, NULL) == 0); /* only pending */
    BK_CHECK(commit1(co, "y", 0, 3) == 0);
    BK_CHECK(commit1(co, "y", 1, 4) == 0);
    BK_CHECK(tcommit(co, "y", 201, 0, 0, 5, NULL) == 0);
    cfg.offsets_retention_minutes = 0; /* below the config minimum: test only */
    bk_coord_tick(co, bk_now_ms() + 120000);
    BK_CHECK(bk_coord_group_get(co, "x", 1) != NULL && pending(co, "x", 0));
    BK_CHECK(bk_coord_group_get(co, "y", 1) != NULL);
    BK_CHECK(fetched(co, "y", 0) == 3 && fetched(co, "y", 1) == -1);
    marker(co, NULL, "x", 200, 0, false);
    marker(co, NULL, "y", 201, 0, true);
    BK_CHECK(fetched(co, "y", 0) == 5);
    bk_coord_tick(co, bk_now_ms() + 240000);
    BK_CHECK(bk_coord_group_get(co, "x", 1) == NULL && bk_coord_group_get(co, "y", 1) == NULL);
    cfg.offsets_retention_minutes = 7 * 24 * 60;

    BK_TEST("coord txn: DeleteGroups and OffsetDelete drop pending offsets");
    BK_CHECK(tcommit(co, "d", 300, 0, 0, 1, NULL) == 0);
    BK_CHECK(bk_coord_delete_group(co, "d", 1) == 0);
    BK_CHECK(bk_coord_group_get(co, "d", 1) == NULL);
    marker(co, NULL, "d", 300, 0, true); /* nothing comes back */
    BK_CHECK(bk_coord_group_get(co, "d", 1) == NULL && fetched(co, "d", 0) == -1);
    BK_CHECK(tcommit(co, "d", 301, 0, 0, 1, NULL) == 0);
    BK_CHECK(tcommit(co, "d", 301, 0, 1, 2, NULL) == 0);
    bk_commit_part del = {.topic = "t", .topic_len = 1, .partition = 0};
    BK_CHECK(bk_coord_delete_offsets(co, "d", 1, &del, 1) == 0 && del.error == 0);
    BK_CHECK(!pending(co, "d", 0) && pending(co, "d", 1));
    marker(co, NULL, "d", 301, 0, true);
    BK_CHECK(fetched(co, "d", 0) == -1 && fetched(co, "d", 1) == 2);

    bk_coord_free(co);
    bk_config_fini(&cfg);
}

/* With storage: the transactional batches and markers in
 * __consumer_offsets rebuild the same state at load. */
static void test_txn_persistence(void)
{
    BK_TEST("coord txn: reload with committed, aborted and open transactions");
    char root[] = "/tmp/bk-coordtx-XXXXXX";
    BK_CHECK(mkdtemp(root) != NULL);
    bk_config c;
    char err[256], kv[400];
    BK_CHECK(bk_config_init(&c) == 0);
    snprintf(kv, sizeof kv, "log.dirs=%s", root);
    BK_CHECK(bk_config_override(&c, kv, err, sizeof err) == 0);
    BK_CHECK(bk_config_override(&c, "offsets.topic.num.partitions=3", err, sizeof err) == 0);
    BK_CHECK(bk_config_finish(&c, err, sizeof err) == 0);
    bk_logmgr *lm = lm_open(root);
    bk_topics *t = NULL;
    BK_CHECK(bk_topics_open(&t, &c, lm, root, 0, err, sizeof err) == 0);
    bk_coord *co = bk_coord_new(&c, t, NULL, NULL);

    /* committed: "tc" partition 0 by producer 1000 */
    BK_CHECK(tcommit(co, "tc", 1000, 1, 0, 10, "c") == 0);
    BK_CHECK(tcommit(co, "tc", 1000, 1, 0, 11, "c") == 0); /* replaces */
    bk_topic *tp = bk_topics_get(t, BK_OFFSETS_TOPIC, strlen(BK_OFFSETS_TOPIC));
    BK_CHECK(tp && tp->nparts == 3);
    if (tp) {
        /* the batch is transactional with the producer's id and epoch */
        bk_plog *l = tp->parts[bk_coord_partition_for(co, "tc", 2)].log;
        bk_plog_slice sl;
        BK_CHECK(bk_plog_read(l, bk_plog_leo(l) - 1, 1 << 16, bk_plog_leo(l), true, &sl) == 0);
        uint8_t hdr[BK_BATCH_HEADER_SIZE];
        BK_CHECK(sl.len >= sizeof hdr && pread(sl.fd, hdr, sizeof hdr, sl.pos) == sizeof hdr);
        BK_CHECK(bk_batch_is_transactional(hdr) && !bk_batch_is_control(hdr));
        BK_CHECK(bk_batch_producer_id(hdr) == 1000 && bk_batch_producer_epoch(hdr) == 1 &&
                 bk_batch_base_sequence(hdr) == -1);
    }
    marker(co, t, "tc", 1000, 1, true);
    /* then a transaction overtaken by a plain commit */
    BK_CHECK(tcommit(co, "tc", 1001, 0, 1, 20, NULL) == 0);
    BK_CHECK(commit1(co, "tc", 1, 30) == 0);
    marker(co, t, "tc", 1001, 0, true);
    BK_CHECK(fetched(co, "tc", 0) == 11 && fetched(co, "tc", 1) == 30);
    /* aborted: "ta" */
    BK_CHECK(commit1(co, "ta", 0, 5) == 0);
    BK_CHECK(tcommit(co, "ta", 1002, 0, 0, 6, NULL) == 0);
    marker(co, t, "ta", 1002, 0, false);
    /* open: "to", no marker yet */
    BK_CHECK(tcommit(co, "to", 1003, 2, 0, 40, "open") == 0);
    /* deleted with a pending offset: must not come back */
    BK_CHECK(tcommit(co, "td", 1004, 0, 2, 9, NULL) == 0);
    BK_CHECK(bk_coord_delete_group(co, "td", 2) == 0);
    bk_coord_free(co);

    co = bk_coord_new(&c, t, NULL, NULL);
    BK_CHECK(bk_coord_load(co) == 0);
    bk_offset_info oi;
    BK_CHECK(bk_coord_fetch_offset(co, "tc", 2, "t", 1, 0, &oi) && oi.offset == 11 &&
             oi.leader_epoch == 2 && strcmp(oi.metadata, "c") == 0);
    BK_CHECK(fetched(co, "tc", 1) == 30 && !pending(co, "tc", 0) && !pending(co, "tc", 1));
    BK_CHECK(fetched(co, "ta", 0) == 5 && !pending(co, "ta", 0));
    BK_CHECK(fetched(co, "to", 0) == -1 && pending(co, "to", 0));
    BK_CHECK(bk_coord_group_get(co, "to", 2) != NULL);
    BK_CHECK(bk_coord_group_get(co, "td", 2) == NULL);
    /* the open transaction's marker arrives after the load */
    marker(co, t, "to", 1003, 2, true);
    BK_CHECK(bk_coord_fetch_offset(co, "to", 2, "t", 1, 0, &oi) && oi.offset == 40 &&
             strcmp(oi.metadata, "open") == 0);
    BK_CHECK(!pending(co, "to", 0));
    marker(co, t, "td", 1004, 0, true);
    BK_CHECK(bk_coord_group_get(co, "td", 2) == NULL);
    /* a stale epoch of the open transaction is fenced after a load too */
    BK_CHECK(tcommit(co, "to", 1005, 3, 1, 1, NULL) == 0);
    bk_coord_free(co);

    co = bk_coord_new(&c, t, NULL, NULL);
    BK_CHECK(bk_coord_load(co) == 0);
    BK_CHECK(fetched(co, "to", 0) == 40 && fetched(co, "tc", 0) == 11);
    BK_CHECK(bk_coord_group_get(co, "td", 2) == NULL && fetched(co, "td", 2) == -1);
    BK_CHECK(pending(co, "to", 1));
    BK_CHECK(tcommit(co, "to", 1005, 2, 1, 2, NULL) == BK_KERR_INVALID_PRODUCER_EPOCH);
    bk_coord_free(co);

    bk_topics_close(t);
    BK_CHECK(bk_logmgr_close(lm) == 0);
    bk_config_fini(&c);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    BK_CHECK(system(cmd) == 0);
}

/* Cluster mode: a coordinator taking over a partition replays it (state
 * written by another coordinator since its start-up becomes visible); one
 * giving it up answers parked joins NOT_COORDINATOR and drops its groups. */
static void test_load_unload(void)
{
    BK_TEST("coord: load_partition replays what another coordinator wrote; unload drops");
    char root[] = "/tmp/bk-coord-XXXXXX";
    BK_CHECK(mkdtemp(root) != NULL);
    bk_config c;
    char err[256], kv[400];
    BK_CHECK(bk_config_init(&c) == 0);
    snprintf(kv, sizeof kv, "log.dirs=%s", root);
    BK_CHECK(bk_config_override(&c, kv, err, sizeof err) == 0);
    BK_CHECK(bk_config_override(&c, "offsets.topic.num.partitions=4", err, sizeof err) == 0);
    BK_CHECK(bk_config_override(&c, "group.initial.rebalance.delay.ms=0", err, sizeof err) == 0);
    BK_CHECK(bk_config_finish(&c, err, sizeof err) == 0);
    bk_logmgr *lm = lm_open(root);
    bk_topics *t = NULL;
    BK_CHECK(bk_topics_open(&t, &c, lm, root, 0, err, sizeof err) == 0);
    int16_t kerr;
    char msg[128];
    BK_CHECK(bk_topics_create(t, "t", 1, 2, -1, NULL, 0, false, &kerr, msg, sizeof msg) == 0);
    int32_t pg = bk_group_partition("g", 1, 4), ph = bk_group_partition("h", 1, 4);
    BK_CHECK(pg != ph);

    bk_coord *co1 = bk_coord_new(&c, t, NULL, NULL);
    bk_coord *co2 = bk_coord_new(&c, t, NULL, NULL);
    BK_CHECK(commit1(co2, "g", 0, 1) == 0); /* co2's stale view */
    BK_CHECK(commit1(co2, "h", 0, 2) == 0);
    BK_CHECK(commit1(co1, "g", 0, 5) == 0); /* written after co2 had it */
    BK_CHECK(commit1(co1, "g", 1, 6) == 0);
    BK_CHECK(commit1(co1, "h", 0, 7) == 0);
    BK_CHECK(fetched(co2, "g", 0) == 1 && fetched(co2, "g", 1) == -1);
    BK_CHECK(bk_coord_load_partition(co2, pg) == 0);
    BK_CHECK(fetched(co2, "g", 0) == 5 && fetched(co2, "g", 1) == 6);
    BK_CHECK(fetched(co2, "h", 0) == 2); /* other partitions untouched */
    BK_CHECK(bk_coord_load_partition(co2, pg) == 0); /* again: same state */
    BK_CHECK(fetched(co2, "g", 0) == 5 && fetched(co2, "g", 1) == 6);
    BK_CHECK(bk_coord_load_partition(co2, ph) == 0);
    BK_CHECK(fetched(co2, "h", 0) == 7);

    BK_TEST("coord: unload_partition answers parked joins NOT_COORDINATOR");
    tw a, b;
    tw_init(&a);
    BK_CHECK(join(co1, &a, "", NULL, "range") == 0 && a.err == BK_KERR_MEMBER_ID_REQUIRED);
    char ida[256];
    snprintf(ida, sizeof ida, "%s", a.member);
    tw_init(&a);
    BK_CHECK(join(co1, &a, ida, NULL, "range") == 0 && a.err == 0);
    tw_init(&b);
    BK_CHECK(join(co1, &b, "", NULL, "range") == 0 && b.err == BK_KERR_MEMBER_ID_REQUIRED);
    char idb[256];
    snprintf(idb, sizeof idb, "%s", b.member);
    tw_init(&b);
    BK_CHECK(join(co1, &b, idb, NULL, "range") == BK_EAGAIN && b.njoin == 0);
    BK_CHECK(b.w.member != NULL);
    BK_CHECK(bk_coord_unload_partition(co1, pg) == 0);
    BK_CHECK(b.njoin == 1 && b.err == BK_KERR_NOT_COORDINATOR && b.w.member == NULL);
    bk_coord_unwait(co1, &b.w); /* a late detach is harmless */
    BK_CHECK(bk_coord_group_get(co1, "g", 1) == NULL && fetched(co1, "g", 0) == -1);
    BK_CHECK(fetched(co1, "h", 0) == 7);
    /* reloading brings the group back with its members and offsets */
    BK_CHECK(bk_coord_load_partition(co1, pg) == 0);
    BK_CHECK(fetched(co1, "g", 0) == 5);
    bk_group *g = bk_coord_group_get(co1, "g", 1);
    BK_CHECK(g != NULL);
    bk_coord_free(co1);
    bk_coord_free(co2);

    bk_topics_close(t);
    BK_CHECK(bk_logmgr_close(lm) == 0);
    bk_config_fini(&c);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    BK_CHECK(system(cmd) == 0);
}

void bk_test_coord(void);
void bk_test_coord(void)
{
    BK_TEST("coord: javaStringHashCode and partitionFor");
    BK_CHECK(bk_java_string_hash("my-group", 8) == -1906497762);
    const char *nonascii = "gr\xc3\xbcppe-\xe2\x82\xac-\xf0\x9f\x98\x80";
    BK_CHECK(bk_java_string_hash(nonascii, strlen(nonascii)) == -115573507);
    BK_CHECK(bk_java_string_hash("", 0) == 0);
    BK_CHECK(bk_group_partition("my-group", 8, 50) == 12);
    BK_CHECK(bk_group_partition(nonascii, strlen(nonascii), 50) == 7);
    BK_CHECK(bk_group_partition("console-consumer-12345", 22, 50) == 6);

    bk_config cfg;
    BK_CHECK(bk_config_init(&cfg) == 0);
    cfg.group_initial_rebalance_delay_ms = 0;
    bk_coord *co = bk_coord_new(&cfg, NULL, NULL, NULL);
    BK_CHECK(co != NULL);

    BK_TEST("coord: MEMBER_ID_REQUIRED, then a single-member rebalance");
    tw a;
    tw_init(&a);
    BK_CHECK(join(co, &a, "", NULL, "range,roundrobin") == 0);
    BK_CHECK(a.err == BK_KERR_MEMBER_ID_REQUIRED && a.member[0]);
    char ida[256];
    snprintf(ida, sizeof ida, "%s", a.member);
    tw_init(&a);
    BK_CHECK(join(co, &a, ida, NULL, "range,roundrobin") == 0); /* completes at once */
    BK_CHECK(a.njoin == 1 && a.err == 0 && a.gen == 1 && strcmp(a.leader, ida) == 0);
    BK_CHECK(a.nmembers == 1 && strcmp(a.protocol, "range") == 0);
    BK_CHECK(strcmp(state(co), "CompletingRebalance") == 0);
    bk_sync_assign as1[] = {{ida, strlen(ida), (const uint8_t *)"A-all", 5}};
    tw_init(&a);
    BK_CHECK(sync_(co, &a, ida, 1, as1, 1) == 0);
    BK_CHECK(a.nsync == 1 && a.err == 0 && strcmp(a.assign, "A-all") == 0);
    BK_CHECK(strcmp(state(co), "Stable") == 0);
    BK_CHECK(bk_coord_heartbeat(co, "g", 1, 1, ida, strlen(ida), NULL, 0) == 0);
    BK_CHECK(bk_coord_heartbeat(co, "g", 1, 7, ida, strlen(ida), NULL, 0) ==
             BK_KERR_ILLEGAL_GENERATION);
    BK_CHECK(bk_coord_heartbeat(co, "g", 1, 1, "nobody", 6, NULL, 0) == BK_KERR_UNKNOWN_MEMBER_ID);

    BK_TEST("coord: a second member triggers a rebalance; votes pick roundrobin");
    tw b;
    tw_init(&b);
    BK_CHECK(join(co, &b, "", NULL, "roundrobin") == 0);
    char idb[256];
    snprintf(idb, sizeof idb, "%s", b.member);
    tw_init(&b);
    BK_CHECK(join(co, &b, idb, NULL, "roundrobin") == BK_EAGAIN);
    BK_CHECK(strcmp(state(co), "PreparingRebalance") == 0);
    BK_CHECK(bk_coord_heartbeat(co, "g", 1, 1, ida, strlen(ida), NULL, 0) ==
             BK_KERR_REBALANCE_IN_PROGRESS);
    tw_init(&a);
    BK_CHECK(join(co, &a, ida, NULL, "range,roundrobin") == 0); /* the last one: completes */
    BK_CHECK(b.njoin == 1 && b.gen == 2 && b.nmembers == 0);
    BK_CHECK(a.njoin == 1 && a.gen == 2 && a.nmembers == 2);
    BK_CHECK(strcmp(a.protocol, "roundrobin") == 0);
    /* the follower waits for the leader's assignment */
    tw_init(&b);
    BK_CHECK(sync_(co, &b, idb, 2, NULL, 0) == BK_EAGAIN && b.nsync == 0);
    bk_sync_assign as2[] = {{ida, strlen(ida), (const uint8_t *)"A", 1},
                            {idb, strlen(idb), (const uint8_t *)"B", 1}};
    tw_init(&a);
    BK_CHECK(sync_(co, &a, ida, 2, as2, 2) == 0);
    BK_CHECK(a.nsync == 1 && strcmp(a.assign, "A") == 0);
    BK_CHECK(b.nsync == 1 && b.err == 0 && strcmp(b.assign, "B") == 0);

    BK_TEST("coord: offset commits are fenced by generation and member");
    bk_commit_part cp = {.topic = "t",
                         .topic_len = 1,
                         .partition = 0,
                         .offset = 42,
                         .leader_epoch = -1,
                         .commit_ts = 1,
                         .expire_ts = -1};
    bk_coord_commit(co, "g", 1, 1, ida, strlen(ida), NULL, 0, &cp, 1);
    BK_CHECK(cp.error == BK_KERR_ILLEGAL_GENERATION);
    cp.error = 0;
    bk_coord_commit(co, "g", 1, 2, "x", 1, NULL, 0, &cp, 1);
    BK_CHECK(cp.error == BK_KERR_UNKNOWN_MEMBER_ID);
    cp.error = 0;
    bk_coord_commit(co, "g", 1, 2, ida, strlen(ida), NULL, 0, &cp, 1);
    BK_CHECK(cp.error == 0);
    bk_offset_info oi;
    BK_CHECK(bk_coord_fetch_offset(co, "g", 1, "t", 1, 0, &oi) && oi.offset == 42);
    BK_CHECK(!bk_coord_fetch_offset(co, "g", 1, "t", 1, 1, &oi) && oi.offset == -1);
    BK_CHECK(bk_coord_delete_group(co, "g", 1) == BK_KERR_NON_EMPTY_GROUP);
    lag_n = 0;
    BK_CHECK(bk_coord_lag(co, "g", 1, lag_cb, NULL) == 1);
    BK_CHECK(lag_n == 1 && lag_last.committed == 42 && lag_last.log_end == -1 &&
             lag_last.lag == -1 && lag_last.partition == 0);
    BK_CHECK(bk_coord_lag(co, "nope", 4, lag_cb, NULL) == -1);

    BK_TEST("coord: session expiry removes a member and rebalances");
    int64_t now = bk_now_ms();
    BK_CHECK(bk_coord_heartbeat(co, "g", 1, 2, ida, strlen(ida), NULL, 0) == 0);
    bk_coord_tick(co, now + 5000);
    BK_CHECK(strcmp(state(co), "Stable") == 0);
    /* a keeps heartbeating (simulated by rejoining at the expiry point): b
     * expires */
    bk_coord_tick(co, now + 11000);
    BK_CHECK(strcmp(state(co), "Empty") == 0 || strcmp(state(co), "PreparingRebalance") == 0);

    BK_TEST("coord: leave empties the group; simple commits then allowed");
    bk_coord_free(co);
    co = bk_coord_new(&cfg, NULL, NULL, NULL);
    tw_init(&a);
    BK_CHECK(join(co, &a, "", NULL, "range") == 0);
    snprintf(ida, sizeof ida, "%s", a.member);
    tw_init(&a);
    BK_CHECK(join(co, &a, ida, NULL, "range") == 0 && a.gen == 1);
    BK_CHECK(bk_coord_leave(co, "g", 1, ida, strlen(ida), NULL, 0) == 0);
    BK_CHECK(strcmp(state(co), "Empty") == 0);
    cp.error = 0;
    bk_coord_commit(co, "g", 1, -1, "", 0, NULL, 0, &cp, 1);
    BK_CHECK(cp.error == 0);
    BK_CHECK(bk_coord_delete_group(co, "g", 1) == 0);
    BK_CHECK(bk_coord_delete_group(co, "g", 1) == BK_KERR_GROUP_ID_NOT_FOUND);

    BK_TEST("coord: static member rejoin keeps the generation; old id fenced");
    tw_init(&a);
    BK_CHECK(join(co, &a, "", "inst-1", "range") == 0); /* static: no MEMBER_ID_REQUIRED */
    BK_CHECK(a.err == 0 && a.gen == 1);
    snprintf(ida, sizeof ida, "%s", a.member);
    bk_sync_assign as3[] = {{ida, strlen(ida), (const uint8_t *)"S", 1}};
    tw_init(&a);
    BK_CHECK(sync_(co, &a, ida, 1, as3, 1) == 0 && a.err == 0);
    tw_init(&a);
    BK_CHECK(join(co, &a, "", "inst-1", "range") == 0);
    BK_CHECK(a.err == 0 && a.gen == 1 && strcmp(a.member, ida) != 0);
    BK_CHECK(strcmp(state(co), "Stable") == 0);
    BK_CHECK(bk_coord_heartbeat(co, "g", 1, 1, ida, strlen(ida), "inst-1", 6) ==
             BK_KERR_FENCED_INSTANCE_ID);
    char idn[256];
    snprintf(idn, sizeof idn, "%s", a.member);
    tw_init(&a);
    BK_CHECK(sync_(co, &a, idn, 1, NULL, 0) == 0 && strcmp(a.assign, "S") == 0);

    BK_TEST("coord: a parked waiter can be detached (connection closed)");
    tw c;
    tw_init(&c);
    BK_CHECK(join(co, &c, "", "inst-2", "range") == BK_EAGAIN);
    bk_coord_unwait(co, &c.w);
    BK_CHECK(c.w.member == NULL);
    bk_coord_tick(co, bk_now_ms() + 25000); /* rebalance timeout: c is removed */
    BK_CHECK(c.njoin == 0);

    BK_TEST("coord: invalid session timeout");
    bk_join_args bad = {.group = "h",
                        .group_len = 1,
                        .member_id = "",
                        .protocol_type = "consumer",
                        .protocol_type_len = 8,
                        .session_ms = 1,
                        .rebalance_ms = 1};
    tw_init(&a);
    BK_CHECK(bk_coord_join(co, &bad, &a.w) == 0 && a.err == BK_KERR_INVALID_SESSION_TIMEOUT);

    BK_TEST("coord: offsets of an empty group expire (offsets.retention.minutes)");
    cp.error = 0;
    bk_coord_commit(co, "e", 1, -1, "", 0, NULL, 0, &cp, 1);
    BK_CHECK(cp.error == 0 && bk_coord_group_get(co, "e", 1) != NULL);
    bk_coord_tick(co, bk_now_ms() + 60000);
    BK_CHECK(bk_coord_group_get(co, "e", 1) != NULL); /* 7 days by default */
    cfg.offsets_retention_minutes = 0;                /* below the config minimum: test only */
    bk_coord_tick(co, bk_now_ms() + 120000);
    BK_CHECK(bk_coord_group_get(co, "e", 1) == NULL);
    BK_CHECK(!bk_coord_fetch_offset(co, "e", 1, "t", 1, 0, &oi));

    bk_coord_free(co);
    bk_config_fini(&cfg);
    test_persistence();
    test_txn();
    test_txn_persistence();
    test_load_unload();
}
