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
#include "../storage/logmgr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
}
