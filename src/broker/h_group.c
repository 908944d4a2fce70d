/*
 * h_group.c - the group APIs, over the coordinator (group/coord.h):
 *
 *   FindCoordinator (10) v0-v4   this broker for groups (creates
 *                                __consumer_offsets on first use); key type
 *                                1 (transactions): this broker too (creates
 *                                __transaction_state on first use)
 *   JoinGroup (11) v0-v9         deferred until the rebalance completes
 *   SyncGroup (14) v0-v5         followers deferred until the leader syncs
 *   Heartbeat (12) v0-v4
 *   LeaveGroup (13) v0-v5        v3+ batched members
 *   OffsetCommit (8) v0-v9
 *   OffsetFetch (9) v0-v9        v7+ RequireStable, v8+ several groups
 *   ListGroups (16) v0-v5        v4 state filter, v5 type filter (all groups
 *                                are "classic")
 *   DescribeGroups (15) v0-v5
 *   DeleteGroups (42) v0-v2
 *   OffsetDelete (47) v0
 *
 * Deferred requests. A JoinGroup or SyncGroup that must wait parks a
 * bk_delayed (purgatory.h) on no partition with a long deadline; its
 * bk_gwait is registered with the coordinator, whose answer copies the
 * result into the request's arena and completes the op "soon". If the
 * connection fails first (bk_broker_on_cancel) or the deadline passes, the
 * op completes without an answer from the coordinator: the waiter is
 * detached (bk_coord_unwait) so the coordinator never touches the freed
 * arena, and the request answers REBALANCE_IN_PROGRESS if it still can.
 */
#include "api_table.h"
#include "authz.h"
#include "durable.h"
#include "replica.h"

#include "../core/clock.h"
#include "../core/log.h"
#include "../group/coord.h"
#include "../txn/tcoord.h"

#include <stdio.h>
#include <strings.h>

#define WAIT_MAX_MS (10 * 60 * 1000)

static bk_str arena_str(bk_req *req, const char *s)
{
    if (!s)
        return (bk_str){NULL, -1};
    size_t n = strlen(s);
    char *p = BK_ARENA_NEW(req, char, n + 1);
    if (!p)
        return (bk_str){"", 0};
    memcpy(p, s, n);
    return (bk_str){p, (int32_t)n};
}

static bk_bytes arena_bytes(bk_req *req, const uint8_t *b, int32_t len)
{
    if (!b || len <= 0)
        return (bk_bytes){(const uint8_t *)"", 0};
    uint8_t *p = BK_ARENA_NEW(req, uint8_t, (size_t)len);
    if (!p)
        return (bk_bytes){(const uint8_t *)"", 0};
    memcpy(p, b, (size_t)len);
    return (bk_bytes){p, len};
}

/* The coordinator, created on first use. */
static bk_coord *coord(bk_broker *b) { return b->coord; }

/* Cluster mode: NOT_COORDINATOR for a group whose partition is led elsewhere. */
static int16_t gcheck(bk_broker *b, bk_str group)
{
    return bk_group_coord_check(b, group.p, (size_t)BK_MAX(group.len, 0));
}

#define S(x) (x).p, (size_t)BK_MAX((x).len, 0)

/* Authorization of op on the group (authz.h), then gcheck(). */
static int16_t gauth(bk_broker *b, bk_req *req, bk_str group, int op)
{
    if (!bk_authz_group(b, req, op, group))
        return BK_KERR_GROUP_AUTHORIZATION_FAILED;
    return gcheck(b, group);
}

/* ------------------------------------------------------------ FindCoordinator
 */

/* ZooKeeper mode: the coordinator of a key is the leader of its partition
 * of the internal topic, as in Kafka (BK_KERR_COORDINATOR_NOT_AVAILABLE
 * while it has none); this broker when the topic is not known yet.
 * The coordinators move with that leadership (replica.c's coord_move:
 * the new leader loads the partition, the old one unloads it and answers
 * NOT_COORDINATOR). */
static int16_t coordinator_of(bk_broker *b, bk_req *req, bool txn, bk_str key, int32_t *node,
                              const char **host, int *port)
{
    *node = b->node_id;
    if (!b->zkc || !b->topics || key.len < 0)
        return BK_KERR_NONE;
    const char *tn = txn ? BK_TXN_TOPIC : BK_OFFSETS_TOPIC;
    bk_topic *tp = bk_topics_get(b->topics, tn, strlen(tn));
    if (!tp || tp->nparts <= 0)
        return BK_KERR_NONE;
    const bk_partition *p = &tp->parts[bk_group_partition(key.p, (size_t)key.len, tp->nparts)];
    if (p->leader == b->node_id)
        return BK_KERR_NONE;
    const bk_live_broker *lb = NULL;
    for (int i = 0; p->leader >= 0 && i < b->nlive && !lb; i++)
        if (b->live[i].id == p->leader)
            lb = &b->live[i];
    if (!lb)
        return BK_KERR_COORDINATOR_NOT_AVAILABLE;
    *node = lb->id;
    int32_t p32;
    *host = bk_broker_live_endpoint(lb, req->conn, req->arena, &p32); /* the client's listener */
    *port = p32;
    return BK_KERR_NONE;
}

int bk_h_find_coordinator(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_FindCoordinatorRequest rq;
    BK_DECODE(req, FindCoordinatorRequest, &rq);
    bk_FindCoordinatorResponse rs;
    bk_FindCoordinatorResponse_init(&rs);
    const char *host;
    int port;
    bk_broker_self_endpoint(b, req->conn, &host, &port);
    int16_t kerr = BK_KERR_NONE;
    /* Key type 1: this broker coordinates every transactional id too;
     * __transaction_state is created on first use, like __consumer_offsets
     * (each lookup creates only the topic it asks about, as Kafka). */
    bool txn_key = ver >= 1 && rq.KeyType == 1;
    int16_t tkerr = BK_KERR_NONE;
    bool tok = txn_key && b->tcoord && bk_tcoord_ensure_topic(b->tcoord, &tkerr) == 0;
    bool ok = !txn_key && coord(b) && bk_coord_ensure_topic(coord(b), &kerr) == 0;
    if (ver < 4) {
        if (!(txn_key ? bk_authorized(b, req, BK_OP_DESCRIBE, BK_RES_TRANSACTIONAL_ID, S(rq.Key))
                      : rq.KeyType != 0 || bk_authz_group(b, req, BK_OP_DESCRIBE, rq.Key))) {
            rs.ErrorCode = txn_key ? BK_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED
                                   : BK_KERR_GROUP_AUTHORIZATION_FAILED;
            rs.NodeId = -1;
            rs.Host = bk_str_c("");
            rs.Port = -1;
        } else if (txn_key ? !tok : (!ok || (ver >= 1 && rq.KeyType != 0))) {
            rs.ErrorCode =
                rq.KeyType > 1 ? BK_KERR_INVALID_REQUEST : BK_KERR_COORDINATOR_NOT_AVAILABLE;
            rs.NodeId = -1;
            rs.Host = bk_str_c("");
            rs.Port = -1;
            if (ver >= 1)
                rs.ErrorMessage = bk_str_c("The coordinator is not available.");
        } else {
            int32_t node;
            int16_t e = coordinator_of(b, req, txn_key, rq.Key, &node, &host, &port);
            rs.ErrorCode = e;
            rs.NodeId = e ? -1 : node;
            rs.Host = bk_str_c(e ? "" : host);
            rs.Port = e ? -1 : port;
            rs.ErrorMessage = e && ver >= 1 ? bk_str_c("The coordinator is not available.")
                                            : (bk_str){NULL, -1};
        }
        return BK_RESPOND(req, FindCoordinatorResponse, ver, &rs);
    }
    int32_t n = BK_MAX(rq.CoordinatorKeys.n, 0);
    rs.Coordinators.n = n;
    if (n && !(rs.Coordinators.a = BK_ARENA_NEW(req, bk_FindCoordinatorResponse_Coordinator, n)))
        return BK_ENOMEM;
    for (int32_t i = 0; i < n; i++) {
        bk_FindCoordinatorResponse_Coordinator *c = &rs.Coordinators.a[i];
        bk_codec_init(&bk_desc_FindCoordinatorResponse_Coordinator, c);
        c->Key = rq.CoordinatorKeys.a[i];
        int32_t node = b->node_id;
        const char *h = host;
        int pt = port;
        int16_t e = BK_KERR_NONE;
        if (rq.KeyType == 0 ? !bk_authz_group(b, req, BK_OP_DESCRIBE, c->Key)
            : rq.KeyType == 1 &&
                  !bk_authorized(b, req, BK_OP_DESCRIBE, BK_RES_TRANSACTIONAL_ID, S(c->Key))) {
            c->NodeId = -1;
            c->Host = bk_str_c("");
            c->Port = -1;
            c->ErrorCode = rq.KeyType == 0 ? BK_KERR_GROUP_AUTHORIZATION_FAILED
                                           : BK_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
            continue;
        }
        if ((rq.KeyType == 0 && ok) || (rq.KeyType == 1 && tok))
            e = coordinator_of(b, req, rq.KeyType == 1, c->Key, &node, &h, &pt);
        if (((rq.KeyType == 0 && ok) || (rq.KeyType == 1 && tok)) && e == BK_KERR_NONE) {
            c->NodeId = node;
            c->Host = bk_str_c(h);
            c->Port = pt;
            c->ErrorCode = BK_KERR_NONE;
            c->ErrorMessage = (bk_str){NULL, -1};
        } else {
            c->NodeId = -1;
            c->Host = bk_str_c("");
            c->Port = -1;
            c->ErrorCode =
                rq.KeyType > 1 ? BK_KERR_INVALID_REQUEST : BK_KERR_COORDINATOR_NOT_AVAILABLE;
            c->ErrorMessage = bk_str_c("The coordinator is not available.");
        }
    }
    return BK_RESPOND(req, FindCoordinatorResponse, ver, &rs);
}

/* ------------------------------------------------------------ deferred
 * Join/Sync */

typedef struct gctx {
    bk_delayed d; /* first: req->hctx points here */
    bk_broker *b;
    bk_req *req;
    int16_t ver;
    bk_gwait w;
    bool answered; /* the coordinator answered: rs is filled */
    bool parked;
    bool is_join;
    int64_t wait_ms; /* how long the op may stay parked */
    bk_JoinGroupResponse jrs;
    bk_SyncGroupResponse srs;
} gctx;

static void on_join(bk_gwait *w, const bk_join_out *o)
{
    gctx *x = w->ud;
    bk_req *req = x->req;
    bk_JoinGroupResponse *r = &x->jrs;
    r->ErrorCode = o->error;
    r->GenerationId = o->generation;
    r->ProtocolType = arena_str(req, o->protocol_type);
    r->ProtocolName = arena_str(req, o->protocol);
    if (x->ver < 7 && r->ProtocolName.len < 0)
        r->ProtocolName = bk_str_c(""); /* not nullable before v7 */
    r->Leader = arena_str(req, o->leader ? o->leader : "");
    r->MemberId = arena_str(req, o->member_id ? o->member_id : "");
    r->SkipAssignment = o->skip_assignment;
    r->Members.n = 0;
    if (o->nmembers > 0) {
        r->Members.a = BK_ARENA_NEW(req, bk_JoinGroupResponse_JoinGroupResponseMember, o->nmembers);
        if (r->Members.a) {
            r->Members.n = o->nmembers;
            for (int i = 0; i < o->nmembers; i++) {
                bk_JoinGroupResponse_JoinGroupResponseMember *m = &r->Members.a[i];
                m->MemberId = arena_str(req, o->members[i].member_id);
                m->GroupInstanceId = arena_str(req, o->members[i].instance_id);
                m->Metadata = arena_bytes(req, o->members[i].meta, o->members[i].meta_len);
            }
        }
    }
    x->answered = true;
    if (x->parked)
        bk_delayed_complete_soon(&x->d);
}

static void on_sync(bk_gwait *w, const bk_sync_out *o)
{
    gctx *x = w->ud;
    bk_SyncGroupResponse *r = &x->srs;
    r->ErrorCode = o->error;
    r->ProtocolType = arena_str(x->req, o->protocol_type);
    r->ProtocolName = arena_str(x->req, o->protocol);
    r->Assignment = arena_bytes(x->req, o->assignment, o->assignment_len);
    x->answered = true;
    if (x->parked)
        bk_delayed_complete_soon(&x->d);
}

static int respond_ctx(gctx *x)
{
    if (x->is_join)
        return BK_RESPOND(x->req, JoinGroupResponse, x->ver, &x->jrs);
    return BK_RESPOND(x->req, SyncGroupResponse, x->ver, &x->srs);
}

static bool never(bk_delayed *d, unsigned what, uint64_t bytes)
{
    (void)d, (void)what, (void)bytes;
    return false;
}

static void on_complete(bk_delayed *d, bool expired)
{
    gctx *x = (gctx *)d;
    bk_req *req = x->req;
    req->hctx = NULL;
    if (!x->answered) {
        if (x->b->coord)
            bk_coord_unwait(x->b->coord, &x->w);
        x->jrs.ErrorCode = BK_KERR_REBALANCE_IN_PROGRESS;
        x->srs.ErrorCode = BK_KERR_REBALANCE_IN_PROGRESS;
        x->jrs.MemberId = x->jrs.MemberId.p ? x->jrs.MemberId : bk_str_c("");
        x->jrs.Leader = bk_str_c("");
        x->jrs.GenerationId = -1;
    }
    (void)expired;
    if (req->conn->closing) {
        bk_req_done(req, 0);
        return;
    }
    bk_req_done(req, respond_ctx(x));
}

static gctx *ctx_new(bk_broker *b, bk_req *req, bool is_join)
{
    gctx *x = BK_ARENA_NEW(req, gctx, 1);
    if (!x)
        return NULL;
    x->b = b;
    x->req = req;
    x->ver = req->hdr.api_version;
    x->is_join = is_join;
    x->w.ud = x;
    x->w.on_join = on_join;
    x->w.on_sync = on_sync;
    bk_JoinGroupResponse_init(&x->jrs);
    bk_SyncGroupResponse_init(&x->srs);
    return x;
}

/* After the coordinator call: answer now, or park. */
static int finish_or_park(gctx *x, int rc)
{
    if (rc != BK_EAGAIN && rc != 0)
        return rc;
    if (x->answered)
        return respond_ctx(x);
    x->d.wants = 0;
    x->d.on_event = never;
    x->d.complete = on_complete;
    int64_t wait = BK_MAX(x->wait_ms, (int64_t)WAIT_MAX_MS);
    if (bk_delayed_park(&x->b->purg, &x->d, bk_now_ms() + wait, NULL, NULL, 0) != 0) {
        bk_coord_unwait(x->b->coord, &x->w);
        return BK_ENOMEM;
    }
    x->parked = true;
    x->req->hctx = &x->d;
    return BK_EAGAIN;
}

static void client_host(bk_req *req, char *out, size_t cap)
{
    const char *peer = req->conn->peer;
    const char *colon = strrchr(peer, ':');
    size_t n = colon ? (size_t)(colon - peer) : strlen(peer);
    if (n > 1 && peer[0] == '[' && peer[n - 1] == ']') {
        peer++;
        n -= 2;
    }
    snprintf(out, cap, "/%.*s", (int)n, peer);
}

/* ------------------------------------------------------------ JoinGroup */

int bk_h_join_group(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_JoinGroupRequest rq;
    BK_DECODE(req, JoinGroupRequest, &rq);
    gctx *x = ctx_new(b, req, true);
    if (!x)
        return BK_ENOMEM;
    if (!coord(b)) {
        x->jrs.ErrorCode = BK_KERR_COORDINATOR_NOT_AVAILABLE;
        x->jrs.GenerationId = -1;
        x->jrs.MemberId = rq.MemberId;
        return respond_ctx(x);
    }
    if ((x->jrs.ErrorCode = gauth(b, req, rq.GroupId, BK_OP_READ)) != BK_KERR_NONE) {
        x->jrs.GenerationId = -1;
        x->jrs.MemberId = rq.MemberId;
        return respond_ctx(x);
    }
    int np = BK_MAX(rq.Protocols.n, 0);
    bk_join_proto *pr = np ? BK_ARENA_NEW(req, bk_join_proto, np) : NULL;
    if (np && !pr)
        return BK_ENOMEM;
    for (int i = 0; i < np; i++) {
        pr[i].name = rq.Protocols.a[i].Name.p;
        pr[i].name_len = (size_t)BK_MAX(rq.Protocols.a[i].Name.len, 0);
        pr[i].meta = rq.Protocols.a[i].Metadata.p;
        pr[i].meta_len = BK_MAX(rq.Protocols.a[i].Metadata.len, 0);
    }
    char cid[256], host[80];
    snprintf(cid, sizeof cid, "%.*s",
             req->hdr.client_id.len > 0 ? (int)BK_MIN(req->hdr.client_id.len, 200) : 0,
             req->hdr.client_id.len > 0 ? req->hdr.client_id.p : "");
    client_host(req, host, sizeof host);
    bk_join_args a = {
        .group = rq.GroupId.p,
        .group_len = (size_t)BK_MAX(rq.GroupId.len, 0),
        .member_id = rq.MemberId.p ? rq.MemberId.p : "",
        .member_id_len = (size_t)BK_MAX(rq.MemberId.len, 0),
        .instance_id = ver >= 5 && rq.GroupInstanceId.len >= 0 ? rq.GroupInstanceId.p : NULL,
        .instance_id_len = (size_t)BK_MAX(rq.GroupInstanceId.len, 0),
        .protocol_type = rq.ProtocolType.p,
        .protocol_type_len = (size_t)BK_MAX(rq.ProtocolType.len, 0),
        .client_id = cid,
        .client_host = host,
        .session_ms = rq.SessionTimeoutMs,
        .rebalance_ms = ver >= 1 ? rq.RebalanceTimeoutMs : rq.SessionTimeoutMs,
        .require_known_member_id = ver >= 4,
        .supports_skip_assignment = ver >= 9,
        .nprotos = np,
        .protos = pr,
    };
    if (a.instance_id && a.instance_id_len == 0)
        a.instance_id = NULL;
    /* never give up before the rebalance can (clients wait that long too) */
    x->wait_ms = (int64_t)BK_MAX(a.rebalance_ms, a.session_ms) + 30000;
    int rc = bk_coord_join(coord(b), &a, &x->w);
    return finish_or_park(x, rc);
}

/* ------------------------------------------------------------ SyncGroup */

int bk_h_sync_group(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_SyncGroupRequest rq;
    BK_DECODE(req, SyncGroupRequest, &rq);
    gctx *x = ctx_new(b, req, false);
    if (!x)
        return BK_ENOMEM;
    if (!coord(b)) {
        x->srs.ErrorCode = BK_KERR_COORDINATOR_NOT_AVAILABLE;
        return respond_ctx(x);
    }
    if ((x->srs.ErrorCode = gauth(b, req, rq.GroupId, BK_OP_READ)) != BK_KERR_NONE)
        return respond_ctx(x);
    int na = BK_MAX(rq.Assignments.n, 0);
    bk_sync_assign *as = na ? BK_ARENA_NEW(req, bk_sync_assign, na) : NULL;
    if (na && !as)
        return BK_ENOMEM;
    for (int i = 0; i < na; i++) {
        as[i].member_id = rq.Assignments.a[i].MemberId.p;
        as[i].member_id_len = (size_t)BK_MAX(rq.Assignments.a[i].MemberId.len, 0);
        as[i].assignment = rq.Assignments.a[i].Assignment.p;
        as[i].len = BK_MAX(rq.Assignments.a[i].Assignment.len, 0);
    }
    bool inst = ver >= 3 && rq.GroupInstanceId.len > 0;
    bool pt = ver >= 5 && rq.ProtocolType.len >= 0;
    bool pn = ver >= 5 && rq.ProtocolName.len >= 0;
    int rc = bk_coord_sync(coord(b), S(rq.GroupId), rq.GenerationId, S(rq.MemberId),
                       inst ? rq.GroupInstanceId.p : NULL,
                       (size_t)BK_MAX(rq.GroupInstanceId.len, 0), pt ? rq.ProtocolType.p : NULL,
                       (size_t)BK_MAX(rq.ProtocolType.len, 0), pn ? rq.ProtocolName.p : NULL,
                       (size_t)BK_MAX(rq.ProtocolName.len, 0), as, na, &x->w);
    return finish_or_park(x, rc);
}

/* ------------------------------------------------------------ Heartbeat */

int bk_h_heartbeat(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_HeartbeatRequest rq;
    BK_DECODE(req, HeartbeatRequest, &rq);
    bk_HeartbeatResponse rs;
    bk_HeartbeatResponse_init(&rs);
    bool inst = ver >= 3 && rq.GroupInstanceId.len > 0;
    if ((rs.ErrorCode = gauth(b, req, rq.GroupId, BK_OP_READ)) != BK_KERR_NONE)
        return BK_RESPOND(req, HeartbeatResponse, ver, &rs);
    rs.ErrorCode = coord(b) ? bk_coord_heartbeat(coord(b), S(rq.GroupId), rq.GenerationId,
                                                 S(rq.MemberId), inst ? rq.GroupInstanceId.p : NULL,
                                                 (size_t)BK_MAX(rq.GroupInstanceId.len, 0))
                            : BK_KERR_COORDINATOR_NOT_AVAILABLE;
    return BK_RESPOND(req, HeartbeatResponse, ver, &rs);
}

/* ------------------------------------------------------------ LeaveGroup */

int bk_h_leave_group(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_LeaveGroupRequest rq;
    BK_DECODE(req, LeaveGroupRequest, &rq);
    bk_LeaveGroupResponse rs;
    bk_LeaveGroupResponse_init(&rs);
    if (!coord(b)) {
        rs.ErrorCode = BK_KERR_COORDINATOR_NOT_AVAILABLE;
        return BK_RESPOND(req, LeaveGroupResponse, ver, &rs);
    }
    if ((rs.ErrorCode = gauth(b, req, rq.GroupId, BK_OP_READ)) != BK_KERR_NONE)
        return BK_RESPOND(req, LeaveGroupResponse, ver, &rs);
    if (ver < 3) {
        rs.ErrorCode = bk_coord_leave(coord(b), S(rq.GroupId), S(rq.MemberId), NULL, 0);
        return BK_RESPOND(req, LeaveGroupResponse, ver, &rs);
    }
    int32_t n = BK_MAX(rq.Members.n, 0);
    /* An unknown group: NONE, each member UNKNOWN_MEMBER_ID (Kafka). */
    rs.Members.n = n;
    if (n && !(rs.Members.a = BK_ARENA_NEW(req, bk_LeaveGroupResponse_MemberResponse, n)))
        return BK_ENOMEM;
    for (int32_t i = 0; i < n; i++) {
        const bk_LeaveGroupRequest_MemberIdentity *mi = &rq.Members.a[i];
        bk_LeaveGroupResponse_MemberResponse *mr = &rs.Members.a[i];
        mr->MemberId = mi->MemberId;
        mr->GroupInstanceId = mi->GroupInstanceId;
        bool inst = mi->GroupInstanceId.len > 0;
        mr->ErrorCode = bk_coord_leave(coord(b), S(rq.GroupId), S(mi->MemberId),
                                       inst ? mi->GroupInstanceId.p : NULL,
                                       (size_t)BK_MAX(mi->GroupInstanceId.len, 0));
    }
    return BK_RESPOND(req, LeaveGroupResponse, ver, &rs);
}

/* ------------------------------------------------------------ OffsetCommit */

/* Kafka's offsets.commit.timeout.ms default. */
#define OFFSET_COMMIT_TIMEOUT_MS 5000

/* A replicated-commit wait failed: every partition that was written
 * answers err (Kafka maps the append's errors the same way). */
static void commit_err(void *rsp, int16_t err)
{
    bk_OffsetCommitResponse *r = rsp;
    for (int32_t i = 0; i < r->Topics.n; i++)
        for (int32_t j = 0; j < r->Topics.a[i].Partitions.n; j++)
            if (r->Topics.a[i].Partitions.a[j].ErrorCode == BK_KERR_NONE)
                r->Topics.a[i].Partitions.a[j].ErrorCode = err;
}

int bk_h_offset_commit(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_OffsetCommitRequest rq;
    BK_DECODE(req, OffsetCommitRequest, &rq);
    bk_OffsetCommitResponse rs;
    bk_OffsetCommitResponse_init(&rs);
    int32_t nt = BK_MAX(rq.Topics.n, 0), total = 0;
    for (int32_t i = 0; i < nt; i++)
        total += BK_MAX(rq.Topics.a[i].Partitions.n, 0);
    bk_commit_part *parts = total ? BK_ARENA_NEW(req, bk_commit_part, total) : NULL;
    rs.Topics.n = nt;
    if ((total && !parts) ||
        (nt &&
         !(rs.Topics.a = BK_ARENA_NEW(req, bk_OffsetCommitResponse_OffsetCommitResponseTopic, nt))))
        return BK_ENOMEM;
    int64_t now = bk_wall_ms();
    int64_t retention = ver >= 2 && ver <= 4 ? rq.RetentionTimeMs : -1;
    int k = 0;
    for (int32_t i = 0; i < nt; i++) {
        const bk_OffsetCommitRequest_OffsetCommitRequestTopic *t = &rq.Topics.a[i];
        bool known = b->topics && t->Name.len >= 0 &&
                     bk_topics_get(b->topics, t->Name.p, (size_t)t->Name.len);
        for (int32_t j = 0; j < BK_MAX(t->Partitions.n, 0); j++, k++) {
            const bk_OffsetCommitRequest_OffsetCommitRequestPartition *p = &t->Partitions.a[j];
            bk_commit_part *c = &parts[k];
            c->topic = t->Name.p;
            c->topic_len = (size_t)BK_MAX(t->Name.len, 0);
            c->partition = p->PartitionIndex;
            c->offset = p->CommittedOffset;
            c->leader_epoch = ver >= 6 ? p->CommittedLeaderEpoch : -1;
            c->metadata = p->CommittedMetadata.len >= 0 ? p->CommittedMetadata.p : NULL;
            c->metadata_len = (size_t)BK_MAX(p->CommittedMetadata.len, 0);
            c->commit_ts = now;
            c->expire_ts = -1;
            if (ver == 1 && p->CommitTimestamp != -1) {
                c->commit_ts = p->CommitTimestamp;
                c->expire_ts = c->commit_ts + (int64_t)b->cfg->offsets_retention_minutes * 60000;
            } else if (retention != -1) {
                c->expire_ts = now + retention;
            }
            c->error = !bk_authz_topic(b, req, BK_OP_READ, t->Name)
                           ? BK_KERR_TOPIC_AUTHORIZATION_FAILED
                       : known && bk_broker_partition(b, t->Name, p->PartitionIndex)
                           ? BK_KERR_NONE
                           : BK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        }
    }
    bool inst = ver >= 7 && rq.GroupInstanceId.len > 0;
    int32_t gen = ver >= 1 ? rq.GenerationIdOrMemberEpoch : -1;
    int16_t ge = gauth(b, req, rq.GroupId, BK_OP_READ);
    if (ge != BK_KERR_NONE) {
        for (int i = 0; i < total; i++)
            if (parts[i].error == BK_KERR_NONE)
                parts[i].error = ge;
    } else if (coord(b))
        bk_coord_commit(coord(b), S(rq.GroupId), gen, ver >= 1 ? rq.MemberId.p : NULL,
                        ver >= 1 ? (size_t)BK_MAX(rq.MemberId.len, 0) : 0,
                        inst ? rq.GroupInstanceId.p : NULL,
                        (size_t)BK_MAX(rq.GroupInstanceId.len, 0), parts, total);
    k = 0;
    for (int32_t i = 0; i < nt; i++) {
        const bk_OffsetCommitRequest_OffsetCommitRequestTopic *t = &rq.Topics.a[i];
        bk_OffsetCommitResponse_OffsetCommitResponseTopic *rt = &rs.Topics.a[i];
        rt->Name = t->Name;
        int32_t np = BK_MAX(t->Partitions.n, 0);
        rt->Partitions.n = np;
        if (np && !(rt->Partitions.a = BK_ARENA_NEW(
                        req, bk_OffsetCommitResponse_OffsetCommitResponsePartition, np)))
            return BK_ENOMEM;
        for (int32_t j = 0; j < np; j++, k++) {
            rt->Partitions.a[j].PartitionIndex = parts[k].partition;
            rt->Partitions.a[j].ErrorCode =
                coord(b) ? parts[k].error : BK_KERR_COORDINATOR_NOT_AVAILABLE;
        }
    }
    /* Cluster mode: answer once the offsets are replicated (Kafka appends
     * them with acks=all and offsets.commit.timeout.ms), durable.h. */
    int32_t idx;
    int64_t last;
    bool wrote = false;
    for (int i = 0; i < total; i++)
        wrote |= parts[i].error == BK_KERR_NONE;
    bk_topic *ot;
    if (b->cluster && wrote && coord(b) && bk_coord_last_write(coord(b), &idx, &last) &&
        (ot = bk_topics_get(b->topics, BK_OFFSETS_TOPIC, strlen(BK_OFFSETS_TOPIC))) != NULL &&
        idx >= 0 && idx < ot->nparts) {
        bk_OffsetCommitResponse *cp = BK_ARENA_NEW(req, bk_OffsetCommitResponse, 1);
        if (!cp)
            return BK_ENOMEM;
        *cp = rs;
        bk_durable_opts o = {BK_KERR_NOT_COORDINATOR, BK_KERR_COORDINATOR_NOT_AVAILABLE,
                             OFFSET_COMMIT_TIMEOUT_MS, commit_err, NULL, NULL};
        return bk_answer_durable(b, req, &ot->parts[idx], last, cp, &bk_msg_OffsetCommitResponse,
                                 &o);
    }
    return BK_RESPOND(req, OffsetCommitResponse, ver, &rs);
}

/* ------------------------------------------------------------ OffsetFetch */

typedef struct ofcollect {
    bk_req *req;
    /* topics in order of first appearance */
    bk_OffsetFetchResponse_OffsetFetchResponseTopics *t;
    int32_t nt, capt;
    bool oom;
    bk_coord *co;
    bk_str group;
    bool stable; /* RequireStable */
    bk_broker *b; /* authorization: topics it may not DESCRIBE are left out */
} ofcollect;

/* RequireStable (v7+, KIP-447): a partition with transactional offsets
 * still pending answers UNSTABLE_OFFSET_COMMIT (retriable; the consumer
 * asks again) with no offset, as Kafka's getOffsets. */
static bool unstable(bk_coord *co, bk_str group, bool stable, const char *topic, size_t tlen,
                     int32_t partition)
{
    return stable && bk_coord_offset_pending(co, group.p, (size_t)BK_MAX(group.len, 0), topic, tlen,
                                             partition);
}

static void set_unstable(bk_req *req, bk_OffsetFetchResponse_OffsetFetchResponsePartitions *p)
{
    p->CommittedOffset = -1;
    p->CommittedLeaderEpoch = -1;
    p->Metadata = arena_str(req, "");
    p->ErrorCode = BK_KERR_UNSTABLE_OFFSET_COMMIT;
}

static void of_add(void *ud, const char *topic, int32_t partition, const bk_offset_info *oi)
{
    ofcollect *c = ud;
    if (c->b && !bk_authz_topic(c->b, c->req, BK_OP_DESCRIBE, bk_str_c(topic)))
        return;
    bk_OffsetFetchResponse_OffsetFetchResponseTopics *t = c->nt ? &c->t[c->nt - 1] : NULL;
    if (!t || strlen(topic) != (size_t)t->Name.len || memcmp(t->Name.p, topic, strlen(topic))) {
        if (c->nt == c->capt) {
            int32_t nc = c->capt ? c->capt * 2 : 8;
            bk_OffsetFetchResponse_OffsetFetchResponseTopics *v =
                BK_ARENA_NEW(c->req, bk_OffsetFetchResponse_OffsetFetchResponseTopics, nc);
            if (!v) {
                c->oom = true;
                return;
            }
            if (c->nt)
                memcpy(v, c->t, (size_t)c->nt * sizeof *v);
            c->t = v;
            c->capt = nc;
        }
        t = &c->t[c->nt++];
        t->Name = arena_str(c->req, topic);
        t->Partitions.n = 0;
        t->Partitions.a = NULL;
    }
    /* partitions: grow by copying (small) */
    int32_t n = t->Partitions.n;
    bk_OffsetFetchResponse_OffsetFetchResponsePartitions *v =
        BK_ARENA_NEW(c->req, bk_OffsetFetchResponse_OffsetFetchResponsePartitions, n + 1);
    if (!v) {
        c->oom = true;
        return;
    }
    if (n)
        memcpy(v, t->Partitions.a, (size_t)n * sizeof *v);
    v[n].PartitionIndex = partition;
    v[n].CommittedOffset = oi->offset;
    v[n].CommittedLeaderEpoch = oi->leader_epoch;
    v[n].Metadata = arena_str(c->req, oi->metadata);
    v[n].ErrorCode = BK_KERR_NONE;
    if (unstable(c->co, c->group, c->stable, topic, strlen(topic), partition))
        set_unstable(c->req, &v[n]);
    t->Partitions.a = v;
    t->Partitions.n = n + 1;
}

/* One group's answer (the v8 layout; older versions copy it). */
static int fetch_group(bk_broker *b, bk_req *req, bk_str group,
                       const bk_OffsetFetchRequest_OffsetFetchRequestTopics *topics,
                       int32_t ntopics, bool stable, bool per_part_errors,
                       bk_OffsetFetchResponse_OffsetFetchResponseGroup *out)
{
    out->GroupId = group;
    out->ErrorCode = BK_KERR_NONE;
    if (!coord(b)) {
        out->ErrorCode = BK_KERR_COORDINATOR_NOT_AVAILABLE;
        return 0;
    }
    int16_t ge = gauth(b, req, group, BK_OP_DESCRIBE);
    if (ge != BK_KERR_NONE && !per_part_errors) {
        out->ErrorCode = ge;
        return 0;
    }
    if (ntopics < 0) {
        out->ErrorCode = ge;
        if (ge != BK_KERR_NONE)
            return 0;
        ofcollect c = {.req = req, .co = coord(b), .group = group, .stable = stable, .b = b};
        bk_coord_each_offset(coord(b), S(group), of_add, &c);
        if (c.oom)
            return BK_ENOMEM;
        out->Topics.n = c.nt;
        out->Topics.a = c.t;
        return 0;
    }
    out->ErrorCode = ge;
    out->Topics.n = ntopics;
    if (ntopics && !(out->Topics.a = BK_ARENA_NEW(
                         req, bk_OffsetFetchResponse_OffsetFetchResponseTopics, ntopics)))
        return BK_ENOMEM;
    for (int32_t i = 0; i < ntopics; i++) {
        const bk_OffsetFetchRequest_OffsetFetchRequestTopics *qt = &topics[i];
        bk_OffsetFetchResponse_OffsetFetchResponseTopics *t = &out->Topics.a[i];
        t->Name = qt->Name;
        int32_t np = BK_MAX(qt->PartitionIndexes.n, 0);
        t->Partitions.n = np;
        if (np && !(t->Partitions.a = BK_ARENA_NEW(
                        req, bk_OffsetFetchResponse_OffsetFetchResponsePartitions, np)))
            return BK_ENOMEM;
        for (int32_t j = 0; j < np; j++) {
            bk_OffsetFetchResponse_OffsetFetchResponsePartitions *p = &t->Partitions.a[j];
            if (ge != BK_KERR_NONE) { /* v0/v1: the group's error per partition (Kafka) */
                p->PartitionIndex = qt->PartitionIndexes.a[j];
                p->CommittedOffset = -1;
                p->CommittedLeaderEpoch = -1;
                p->Metadata = bk_str_c("");
                p->ErrorCode = ge;
                continue;
            }
            if (!bk_authz_topic(b, req, BK_OP_DESCRIBE, qt->Name)) {
                p->PartitionIndex = qt->PartitionIndexes.a[j];
                p->CommittedOffset = -1;
                p->CommittedLeaderEpoch = -1;
                p->Metadata = bk_str_c("");
                p->ErrorCode = BK_KERR_TOPIC_AUTHORIZATION_FAILED;
                continue;
            }
            bk_offset_info oi;
            (void)bk_coord_fetch_offset(coord(b), S(group), S(qt->Name), qt->PartitionIndexes.a[j],
                                        &oi);
            p->PartitionIndex = qt->PartitionIndexes.a[j];
            p->CommittedOffset = oi.offset;
            p->CommittedLeaderEpoch = oi.leader_epoch;
            p->Metadata = arena_str(req, oi.metadata);
            p->ErrorCode = BK_KERR_NONE;
            if (unstable(coord(b), group, stable, S(qt->Name), qt->PartitionIndexes.a[j]))
                set_unstable(req, p);
        }
    }
    return 0;
}

int bk_h_offset_fetch(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_OffsetFetchRequest rq;
    BK_DECODE(req, OffsetFetchRequest, &rq);
    bk_OffsetFetchResponse rs;
    bk_OffsetFetchResponse_init(&rs);
    if (ver >= 8) {
        int32_t ng = BK_MAX(rq.Groups.n, 0);
        rs.Groups.n = ng;
        if (ng &&
            !(rs.Groups.a = BK_ARENA_NEW(req, bk_OffsetFetchResponse_OffsetFetchResponseGroup, ng)))
            return BK_ENOMEM;
        for (int32_t i = 0; i < ng; i++) {
            const bk_OffsetFetchRequest_OffsetFetchRequestGroup *qg = &rq.Groups.a[i];
            int rc;
            if ((rc = fetch_group(b, req, qg->GroupId, qg->Topics.a, qg->Topics.n, rq.RequireStable,
                                  false, &rs.Groups.a[i])) != 0)
                return rc;
        }
        return BK_RESPOND(req, OffsetFetchResponse, ver, &rs);
    }
    /* v0-v7: one group; the request topics have the same layout. */
    int32_t nt = rq.Topics.n;
    if (nt < 0 && ver < 2)
        nt = 0;
    bk_OffsetFetchRequest_OffsetFetchRequestTopics *qt = NULL;
    if (nt > 0) {
        qt = BK_ARENA_NEW(req, bk_OffsetFetchRequest_OffsetFetchRequestTopics, nt);
        if (!qt)
            return BK_ENOMEM;
        for (int32_t i = 0; i < nt; i++) {
            qt[i].Name = rq.Topics.a[i].Name;
            qt[i].PartitionIndexes.n = rq.Topics.a[i].PartitionIndexes.n;
            qt[i].PartitionIndexes.a = rq.Topics.a[i].PartitionIndexes.a;
        }
    }
    bk_OffsetFetchResponse_OffsetFetchResponseGroup g;
    memset(&g, 0, sizeof g);
    int rc;
    if ((rc = fetch_group(b, req, rq.GroupId, qt, nt, ver >= 7 && rq.RequireStable, ver < 2, &g)) !=
        0)
        return rc;
    rs.ErrorCode = g.ErrorCode;
    rs.Topics.n = g.Topics.n;
    if (g.Topics.n > 0) {
        rs.Topics.a =
            BK_ARENA_NEW(req, bk_OffsetFetchResponse_OffsetFetchResponseTopic, g.Topics.n);
        if (!rs.Topics.a)
            return BK_ENOMEM;
        for (int32_t i = 0; i < g.Topics.n; i++) {
            bk_OffsetFetchResponse_OffsetFetchResponseTopic *t = &rs.Topics.a[i];
            t->Name = g.Topics.a[i].Name;
            int32_t np = g.Topics.a[i].Partitions.n;
            t->Partitions.n = np;
            if (np && !(t->Partitions.a = BK_ARENA_NEW(
                            req, bk_OffsetFetchResponse_OffsetFetchResponsePartition, np)))
                return BK_ENOMEM;
            for (int32_t j = 0; j < np; j++) {
                const bk_OffsetFetchResponse_OffsetFetchResponsePartitions *s =
                    &g.Topics.a[i].Partitions.a[j];
                bk_OffsetFetchResponse_OffsetFetchResponsePartition *p = &t->Partitions.a[j];
                p->PartitionIndex = s->PartitionIndex;
                p->CommittedOffset = s->CommittedOffset;
                p->CommittedLeaderEpoch = s->CommittedLeaderEpoch;
                p->Metadata = s->Metadata;
                p->ErrorCode = g.ErrorCode != BK_KERR_NONE && ver < 2 ? g.ErrorCode : s->ErrorCode;
            }
        }
    }
    return BK_RESPOND(req, OffsetFetchResponse, ver, &rs);
}

/* ------------------------------------------------------------ ListGroups */

static bool state_match(const bk_ListGroupsRequest *rq, int16_t ver, const char *state)
{
    if (ver < 4 || rq->StatesFilter.n <= 0)
        return true;
    for (int32_t i = 0; i < rq->StatesFilter.n; i++) {
        bk_str s = rq->StatesFilter.a[i];
        if (s.len >= 0 && (size_t)s.len == strlen(state) &&
            strncasecmp(s.p, state, (size_t)s.len) == 0)
            return true;
    }
    return false;
}

/* v5 TypesFilter: every group here is a "classic" one. */
static bool type_match(const bk_ListGroupsRequest *rq, int16_t ver)
{
    if (ver < 5 || rq->TypesFilter.n <= 0)
        return true;
    for (int32_t i = 0; i < rq->TypesFilter.n; i++) {
        bk_str s = rq->TypesFilter.a[i];
        if (s.len == 7 && strncasecmp(s.p, "classic", 7) == 0)
            return true;
    }
    return false;
}

int bk_h_list_groups(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_ListGroupsRequest rq;
    BK_DECODE(req, ListGroupsRequest, &rq);
    bk_ListGroupsResponse rs;
    bk_ListGroupsResponse_init(&rs);
    int n = coord(b) ? bk_coord_ngroups(coord(b)) : 0;
    rs.Groups.n = 0;
    /* authorization: DESCRIBE on the cluster lists all, else the groups it may describe */
    bool all = bk_authz_cluster(b, req, BK_OP_DESCRIBE);
    if (n && !(rs.Groups.a = BK_ARENA_NEW(req, bk_ListGroupsResponse_ListedGroup, n)))
        return BK_ENOMEM;
    for (int i = 0; i < n; i++) {
        bk_group_summary s;
        bk_group_summarize(bk_coord_group_at(coord(b), i), &s);
        if (bk_group_coord_check(b, s.group_id, strlen(s.group_id)) != BK_KERR_NONE)
            continue;
        if (!state_match(&rq, ver, s.state) || !type_match(&rq, ver))
            continue;
        if (!all && !bk_authz_group(b, req, BK_OP_DESCRIBE, bk_str_c(s.group_id)))
            continue;
        bk_ListGroupsResponse_ListedGroup *g = &rs.Groups.a[rs.Groups.n++];
        bk_codec_init(&bk_desc_ListGroupsResponse_ListedGroup, g);
        g->GroupId = arena_str(req, s.group_id);
        g->ProtocolType = arena_str(req, s.protocol_type);
        g->GroupState = arena_str(req, s.state);
        g->GroupType = bk_str_c("classic");
    }
    return BK_RESPOND(req, ListGroupsResponse, ver, &rs);
}

/* ------------------------------------------------------------ DescribeGroups
 */

#define GROUP_OPS                                                                                  \
    ((1 << 3) | (1 << 6) | (1 << 8)) /* READ, DELETE, DESCRIBE                                     \
                                      */

int bk_h_describe_groups(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_DescribeGroupsRequest rq;
    BK_DECODE(req, DescribeGroupsRequest, &rq);
    bk_DescribeGroupsResponse rs;
    bk_DescribeGroupsResponse_init(&rs);
    int32_t n = BK_MAX(rq.Groups.n, 0);
    rs.Groups.n = n;
    if (n && !(rs.Groups.a = BK_ARENA_NEW(req, bk_DescribeGroupsResponse_DescribedGroup, n)))
        return BK_ENOMEM;
    for (int32_t i = 0; i < n; i++) {
        bk_DescribeGroupsResponse_DescribedGroup *d = &rs.Groups.a[i];
        bk_codec_init(&bk_desc_DescribeGroupsResponse_DescribedGroup, d);
        d->GroupId = rq.Groups.a[i];
        d->AuthorizedOperations =
            ver >= 3 && rq.IncludeAuthorizedOperations ? GROUP_OPS : INT32_MIN;
        bk_group *g = coord(b) ? bk_coord_group_get(coord(b), S(rq.Groups.a[i])) : NULL;
        int16_t ge = coord(b) ? gauth(b, req, rq.Groups.a[i], BK_OP_DESCRIBE) : BK_KERR_NONE;
        if (!coord(b) || ge != BK_KERR_NONE) {
            d->ErrorCode = ge != BK_KERR_NONE ? ge : BK_KERR_COORDINATOR_NOT_AVAILABLE;
            d->GroupState = bk_str_c("");
            d->ProtocolType = bk_str_c("");
            d->ProtocolData = bk_str_c("");
            continue;
        }
        if (!g) {
            d->ErrorCode = BK_KERR_NONE;
            d->GroupState = bk_str_c("Dead");
            d->ProtocolType = bk_str_c("");
            d->ProtocolData = bk_str_c("");
            continue;
        }
        bk_group_summary s;
        bk_group_summarize(g, &s);
        d->ErrorCode = BK_KERR_NONE;
        d->GroupState = arena_str(req, s.state);
        d->ProtocolType = arena_str(req, s.protocol_type);
        d->ProtocolData = arena_str(req, s.protocol);
        int nm = bk_group_nmembers(g);
        d->Members.n = nm;
        if (nm &&
            !(d->Members.a = BK_ARENA_NEW(req, bk_DescribeGroupsResponse_DescribedGroupMember, nm)))
            return BK_ENOMEM;
        for (int k = 0; k < nm; k++) {
            bk_member_desc md;
            bk_group_member_desc(g, k, &md);
            bk_DescribeGroupsResponse_DescribedGroupMember *m = &d->Members.a[k];
            m->MemberId = arena_str(req, md.member_id);
            m->GroupInstanceId = arena_str(req, md.instance_id);
            m->ClientId = arena_str(req, md.client_id);
            m->ClientHost = arena_str(req, md.client_host);
            m->MemberMetadata = arena_bytes(req, md.meta, md.meta_len);
            m->MemberAssignment = arena_bytes(req, md.assign, md.assign_len);
        }
    }
    return BK_RESPOND(req, DescribeGroupsResponse, ver, &rs);
}

/* ------------------------------------------------------------ DeleteGroups */

int bk_h_delete_groups(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_DeleteGroupsRequest rq;
    BK_DECODE(req, DeleteGroupsRequest, &rq);
    bk_DeleteGroupsResponse rs;
    bk_DeleteGroupsResponse_init(&rs);
    int32_t n = BK_MAX(rq.GroupsNames.n, 0);
    rs.Results.n = n;
    if (n && !(rs.Results.a = BK_ARENA_NEW(req, bk_DeleteGroupsResponse_DeletableGroupResult, n)))
        return BK_ENOMEM;
    for (int32_t i = 0; i < n; i++) {
        rs.Results.a[i].GroupId = rq.GroupsNames.a[i];
        int16_t ge = gauth(b, req, rq.GroupsNames.a[i], BK_OP_DELETE);
        rs.Results.a[i].ErrorCode = ge != BK_KERR_NONE ? ge
                                    : coord(b)
                                        ? bk_coord_delete_group(coord(b), S(rq.GroupsNames.a[i]))
                                        : BK_KERR_COORDINATOR_NOT_AVAILABLE;
    }
    return BK_RESPOND(req, DeleteGroupsResponse, ver, &rs);
}

/* ------------------------------------------------------------ OffsetDelete */

int bk_h_offset_delete(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_OffsetDeleteRequest rq;
    BK_DECODE(req, OffsetDeleteRequest, &rq);
    bk_OffsetDeleteResponse rs;
    bk_OffsetDeleteResponse_init(&rs);
    int32_t nt = BK_MAX(rq.Topics.n, 0), total = 0;
    for (int32_t i = 0; i < nt; i++)
        total += BK_MAX(rq.Topics.a[i].Partitions.n, 0);
    bk_commit_part *parts = total ? BK_ARENA_NEW(req, bk_commit_part, total) : NULL;
    if (total && !parts)
        return BK_ENOMEM;
    int k = 0;
    for (int32_t i = 0; i < nt; i++) {
        const bk_OffsetDeleteRequest_OffsetDeleteRequestTopic *t = &rq.Topics.a[i];
        for (int32_t j = 0; j < BK_MAX(t->Partitions.n, 0); j++, k++) {
            parts[k].topic = t->Name.p;
            parts[k].topic_len = (size_t)BK_MAX(t->Name.len, 0);
            parts[k].partition = t->Partitions.a[j].PartitionIndex;
            parts[k].error = bk_broker_partition(b, t->Name, parts[k].partition)
                                 ? BK_KERR_NONE
                                 : BK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        }
    }
    int16_t ge = gauth(b, req, rq.GroupId, BK_OP_DELETE);
    rs.ErrorCode = ge != BK_KERR_NONE ? ge
                   : coord(b) ? bk_coord_delete_offsets(coord(b), S(rq.GroupId), parts, total)
                            : BK_KERR_COORDINATOR_NOT_AVAILABLE;
    if (rs.ErrorCode != BK_KERR_NONE)
        return BK_RESPOND(req, OffsetDeleteResponse, ver, &rs);
    rs.Topics.n = nt;
    if (nt &&
        !(rs.Topics.a = BK_ARENA_NEW(req, bk_OffsetDeleteResponse_OffsetDeleteResponseTopic, nt)))
        return BK_ENOMEM;
    k = 0;
    for (int32_t i = 0; i < nt; i++) {
        const bk_OffsetDeleteRequest_OffsetDeleteRequestTopic *t = &rq.Topics.a[i];
        bk_OffsetDeleteResponse_OffsetDeleteResponseTopic *rt = &rs.Topics.a[i];
        rt->Name = t->Name;
        int32_t np = BK_MAX(t->Partitions.n, 0);
        rt->Partitions.n = np;
        if (np && !(rt->Partitions.a = BK_ARENA_NEW(
                        req, bk_OffsetDeleteResponse_OffsetDeleteResponsePartition, np)))
            return BK_ENOMEM;
        for (int32_t j = 0; j < np; j++, k++) {
            rt->Partitions.a[j].PartitionIndex = parts[k].partition;
            rt->Partitions.a[j].ErrorCode = parts[k].error;
        }
    }
    return BK_RESPOND(req, OffsetDeleteResponse, ver, &rs);
}
