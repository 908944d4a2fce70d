/*
 * h_elect.c - the controller's leadership requests, cluster mode only:
 *
 *   ControlledShutdown (key 7), v0-3 (v3 flexible; v0 has the v0 request
 *   header): a stopping broker asks the controller to move its leaderships
 *   away (cluster/ctl_leaders.c); the answer lists the partitions it still
 *   leads that another live replica could take (RemainingPartitions; one
 *   with no other live replica cannot move, so it is not listed: Kafka
 *   lists it, and the stopping broker retries in vain). BrokerEpoch (v2+) is not checked: brokers
 *   have no ZooKeeper broker epoch here; the controller instead drops a
 *   broker from the shutting-down set when its registration changes.
 *
 *   ElectLeaders (key 43), v0-2 (v2 flexible; v0 has no ElectionType and
 *   means PREFERRED; v1+ carries a top-level ErrorCode): PREFERRED or
 *   UNCLEAN per partition, null TopicPartitions = every partition.
 *   TimeoutMs is not used: the elections are ZooKeeper writes that always
 *   answer.
 *
 * Both are served by the active controller only; any other broker answers
 * NOT_CONTROLLER (as Kafka's ZooKeeper-mode brokers do: clients send them
 * to the controller Metadata names). The controller's answer comes from
 * ZooKeeper completions: the request is deferred (BK_EAGAIN) and finished
 * from the callback, or answered at once when the callback ran before the
 * handler returned (nothing to read, or not the controller).
 *
 * Thread: loop thread.
 */
#include "api_table.h"
#include "authz.h"

#include "../cluster/cluster.h"
#include "../core/err.h"
#include "../core/log.h"

#include <string.h>

typedef struct el_ctx {
    bk_broker *b;
    bk_req *req;
    int16_t ver;
    bool parked;   /* the handler returned BK_EAGAIN */
    bool answered; /* the callback ran */
    int rc;        /* BK_RESPOND's status when answered before parking */
    int32_t broker; /* ControlledShutdown */
    /* ElectLeaders: the partitions asked for (NULL: all), for error answers */
    const bk_ctl_part *asked;
    int nasked;
} el_ctx;

static bk_controller *active_controller(bk_broker *b)
{
    if (!b->zkc || !b->zkc->ctl || !bk_controller_active(b->zkc->ctl))
        return NULL;
    return b->zkc->ctl;
}

static bk_str arena_str(bk_req *req, const char *s)
{
    size_t n = strlen(s);
    char *p = BK_ARENA_NEW(req, char, n + 1);
    if (!p)
        return (bk_str){NULL, -1};
    memcpy(p, s, n + 1);
    return (bk_str){p, (int32_t)n};
}

static void finish(el_ctx *x, int rc)
{
    x->answered = true;
    if (x->parked)
        bk_req_done(x->req, rc);
    else
        x->rc = rc;
}

/* ------------------------------------------------------------ ElectLeaders */

static const char *elect_msg(int16_t err)
{
    switch (err) {
    case BK_KERR_NONE:
        return NULL;
    case BK_KERR_ELECTION_NOT_NEEDED:
        return "Leader election not needed for topic partition.";
    case BK_KERR_PREFERRED_LEADER_NOT_AVAILABLE:
        return "Failed to elect leader for partition: the preferred replica is not live and in "
               "the ISR.";
    case BK_KERR_ELIGIBLE_LEADERS_NOT_AVAILABLE:
        return "Failed to elect leader for partition: no live replica.";
    case BK_KERR_UNKNOWN_TOPIC_OR_PARTITION:
        return "The partition does not exist.";
    case BK_KERR_NOT_CONTROLLER:
        return "This is not the correct controller for this cluster.";
    default:
        return "The election could not be written to ZooKeeper.";
    }
}

static void elect_done(void *ud, int16_t err, const bk_ctl_part *parts, int n)
{
    el_ctx *x = ud;
    bk_req *req = x->req;
    bk_ElectLeadersResponse rs;
    bk_ElectLeadersResponse_init(&rs);
    if (err != BK_KERR_NONE && n == 0 && x->asked) { /* every asked partition gets err */
        parts = x->asked;
        n = x->nasked;
    } else if (err != BK_KERR_NONE && n == 0) {
        parts = NULL;
    } else {
        err = BK_KERR_NONE;
    }
    if (x->ver >= 1)
        rs.ErrorCode =
            err == BK_KERR_NOT_CONTROLLER || err == BK_KERR_CLUSTER_AUTHORIZATION_FAILED
                ? err
                : BK_KERR_NONE;
    /* one result per run of the same topic */
    int ntopics = 0;
    for (int i = 0; i < n; i++)
        ntopics += i == 0 || strcmp(parts[i].topic, parts[i - 1].topic) != 0;
    rs.ReplicaElectionResults.a =
        BK_ARENA_NEW(req, bk_ElectLeadersResponse_ReplicaElectionResult, ntopics + 1);
    bk_ElectLeadersResponse_PartitionResult *pr =
        BK_ARENA_NEW(req, bk_ElectLeadersResponse_PartitionResult, n + 1);
    if (!rs.ReplicaElectionResults.a || !pr) {
        finish(x, BK_ENOMEM);
        return;
    }
    rs.ReplicaElectionResults.n = 0;
    bk_ElectLeadersResponse_ReplicaElectionResult *t = NULL;
    for (int i = 0; i < n; i++) {
        if (i == 0 || strcmp(parts[i].topic, parts[i - 1].topic) != 0) {
            t = &rs.ReplicaElectionResults.a[rs.ReplicaElectionResults.n++];
            memset(t, 0, sizeof *t);
            t->Topic = arena_str(req, parts[i].topic);
            t->PartitionResult.a = &pr[i];
            t->PartitionResult.n = 0;
        }
        bk_ElectLeadersResponse_PartitionResult *p = &pr[i];
        memset(p, 0, sizeof *p);
        int16_t e = parts == x->asked ? err : parts[i].err;
        p->PartitionId = parts[i].partition;
        p->ErrorCode = e;
        const char *m = elect_msg(e);
        p->ErrorMessage = m ? bk_str_c(m) : (bk_str){NULL, -1};
        t->PartitionResult.n++;
    }
    finish(x, BK_RESPOND(req, ElectLeadersResponse, x->ver, &rs));
}

int bk_h_elect_leaders(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_ElectLeadersRequest rq;
    BK_DECODE(req, ElectLeadersRequest, &rq);
    el_ctx *x = BK_ARENA_NEW(req, el_ctx, 1);
    if (!x)
        return BK_ENOMEM;
    x->b = b;
    x->req = req;
    x->ver = ver;
    int type = ver >= 1 ? rq.ElectionType : BK_ELECT_PREFERRED;
    bk_ctl_part *parts = NULL;
    int n = 0;
    if (rq.TopicPartitions.n >= 0) {
        for (int32_t i = 0; i < rq.TopicPartitions.n; i++)
            n += BK_MAX(rq.TopicPartitions.a[i].Partitions.n, 0);
        parts = BK_ARENA_NEW(req, bk_ctl_part, n + 1);
        if (!parts)
            return BK_ENOMEM;
        int k = 0;
        for (int32_t i = 0; i < rq.TopicPartitions.n; i++) {
            const bk_ElectLeadersRequest_TopicPartitions *tp = &rq.TopicPartitions.a[i];
            /* a NUL inside the name cannot match a topic; strings end here */
            int32_t len = BK_MAX(tp->Topic.len, 0);
            char *name = BK_ARENA_NEW(req, char, len + 1);
            if (!name)
                return BK_ENOMEM;
            if (len)
                memcpy(name, tp->Topic.p, (size_t)len);
            name[len] = 0;
            for (int32_t j = 0; j < tp->Partitions.n; j++) {
                parts[k].topic = name;
                parts[k].partition = tp->Partitions.a[j];
                parts[k].err = BK_KERR_NONE;
                parts[k].leader = -1;
                k++;
            }
        }
        x->asked = parts;
        x->nasked = n;
    }
    bk_controller *ctl = active_controller(b);
    if (!bk_authz_cluster(b, req, BK_OP_ALTER)) {
        elect_done(x, BK_KERR_CLUSTER_AUTHORIZATION_FAILED, NULL, 0);
        return x->rc;
    }
    if (!ctl || (type != BK_ELECT_PREFERRED && type != BK_ELECT_UNCLEAN)) {
        /* Kafka: an unknown election type is INVALID_REQUEST */
        elect_done(x, ctl ? BK_KERR_INVALID_REQUEST : BK_KERR_NOT_CONTROLLER, NULL, 0);
        return x->rc;
    }
    bk_controller_elect(ctl, type, parts, n, elect_done, x);
    if (x->answered)
        return x->rc;
    x->parked = true;
    req->hctx = NULL; /* not cancellable: ZooKeeper always answers */
    return BK_EAGAIN;
}

/* ------------------------------------------------------ ControlledShutdown */

static void cshut_done(void *ud, int16_t err, const bk_ctl_part *parts, int n)
{
    el_ctx *x = ud;
    bk_req *req = x->req;
    bk_ControlledShutdownResponse rs;
    bk_ControlledShutdownResponse_init(&rs);
    rs.ErrorCode = err;
    int remain = 0;
    for (int i = 0; err == BK_KERR_NONE && i < n; i++)
        remain += parts[i].remain;
    rs.RemainingPartitions.a =
        BK_ARENA_NEW(req, bk_ControlledShutdownResponse_RemainingPartition, remain + 1);
    if (!rs.RemainingPartitions.a) {
        finish(x, BK_ENOMEM);
        return;
    }
    rs.RemainingPartitions.n = 0;
    for (int i = 0; err == BK_KERR_NONE && i < n; i++) {
        if (!parts[i].remain)
            continue;
        bk_ControlledShutdownResponse_RemainingPartition *r =
            &rs.RemainingPartitions.a[rs.RemainingPartitions.n++];
        memset(r, 0, sizeof *r);
        r->TopicName = arena_str(req, parts[i].topic);
        r->PartitionIndex = parts[i].partition;
    }
    finish(x, BK_RESPOND(req, ControlledShutdownResponse, x->ver, &rs));
}

int bk_h_controlled_shutdown(bk_broker *b, bk_req *req)
{
    bk_ControlledShutdownRequest rq;
    BK_DECODE(req, ControlledShutdownRequest, &rq);
    el_ctx *x = BK_ARENA_NEW(req, el_ctx, 1);
    if (!x)
        return BK_ENOMEM;
    x->b = b;
    x->req = req;
    x->ver = req->hdr.api_version;
    x->broker = rq.BrokerId;
    bk_controller *ctl = active_controller(b);
    if (!bk_authz_cluster(b, req, BK_OP_CLUSTER_ACTION)) {
        cshut_done(x, BK_KERR_CLUSTER_AUTHORIZATION_FAILED, NULL, 0);
        return x->rc;
    }
    if (!ctl) {
        cshut_done(x, BK_KERR_NOT_CONTROLLER, NULL, 0);
        return x->rc;
    }
    bk_log(BK_LOG_INFO, "controlled shutdown requested by broker %d", rq.BrokerId);
    bk_controller_controlled_shutdown(ctl, rq.BrokerId, cshut_done, x);
    if (x->answered)
        return x->rc;
    x->parked = true;
    req->hctx = NULL; /* not cancellable: ZooKeeper always answers */
    return BK_EAGAIN;
}
