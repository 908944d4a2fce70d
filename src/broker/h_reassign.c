/*
 * h_reassign.c - AlterPartitionReassignments (key 45) v0 and
 * ListPartitionReassignments (key 46) v0 (KIP-455), served by the active
 * controller of a ZooKeeper cluster (cluster/ctl_reassign.c does the
 * moves); any other broker answers NOT_CONTROLLER, as Kafka does, and a
 * single-node broker does not serve them (cluster-only rows).
 *
 * Alter answers once the moves are recorded and their znode writes are
 * queued (Kafka answers after writing the assignment znodes); a null
 * Replicas list cancels the partition's move. List answers the moves the
 * controller is carrying out, all of them or the asked partitions.
 */
#include "api_table.h"
#include "authz.h"

#include "../cluster/cluster.h"
#include "../core/err.h"

#include <stdio.h>

static bk_controller *active_ctl(bk_broker *b)
{
    if (!b->zkc || !b->zkc->ctl || !bk_controller_active(b->zkc->ctl))
        return NULL;
    return b->zkc->ctl;
}

static int32_t *ids_copy(bk_req *req, const int32_t *v, int n)
{
    int32_t *o = BK_ARENA_NEW(req, int32_t, n > 0 ? n : 1);
    if (o && n > 0)
        memcpy(o, v, (size_t)n * sizeof *o);
    return o;
}

int bk_h_alter_partition_reassignments(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_AlterPartitionReassignmentsRequest rq;
    int rc = bk_AlterPartitionReassignmentsRequest_decode(&req->body, ver, req->arena, &rq);
    if (rc)
        return rc;
    bk_AlterPartitionReassignmentsResponse rs;
    bk_AlterPartitionReassignmentsResponse_init(&rs);
    bk_controller *ctl = active_ctl(b);
    int nt = BK_MAX(rq.Topics.n, 0);
    bk_AlterPartitionReassignmentsResponse_ReassignableTopicResponse *tr =
        BK_ARENA_NEW(req, bk_AlterPartitionReassignmentsResponse_ReassignableTopicResponse,
                     nt > 0 ? nt : 1);
    if (!tr)
        return BK_ENOMEM;
    if (!bk_authz_cluster(b, req, BK_OP_ALTER)) {
        rs.ErrorCode = BK_KERR_CLUSTER_AUTHORIZATION_FAILED;
        rs.Responses.n = 0;
        return BK_RESPOND(req, AlterPartitionReassignmentsResponse, ver, &rs);
    }
    if (!ctl) {
        /* Kafka: the top-level error, no per-partition answers */
        rs.ErrorCode = BK_KERR_NOT_CONTROLLER;
        rs.ErrorMessage = bk_str_c("This broker is not the controller.");
        rs.Responses.n = 0;
        return BK_RESPOND(req, AlterPartitionReassignmentsResponse, ver, &rs);
    }
    for (int i = 0; i < nt; i++) {
        const bk_AlterPartitionReassignmentsRequest_ReassignableTopic *t = &rq.Topics.a[i];
        char name[256] = "";
        bool name_ok = t->Name.len > 0 && (size_t)t->Name.len < sizeof name;
        if (name_ok)
            memcpy(name, t->Name.p, (size_t)t->Name.len);
        int np = BK_MAX(t->Partitions.n, 0);
        bk_AlterPartitionReassignmentsResponse_ReassignablePartitionResponse *pr =
            BK_ARENA_NEW(req, bk_AlterPartitionReassignmentsResponse_ReassignablePartitionResponse,
                         np > 0 ? np : 1);
        if (!pr)
            return BK_ENOMEM;
        for (int k = 0; k < np; k++) {
            const bk_AlterPartitionReassignmentsRequest_ReassignablePartition *p =
                &t->Partitions.a[k];
            const char *msg = NULL;
            pr[k].PartitionIndex = p->PartitionIndex;
            pr[k].ErrorCode = name_ok ? bk_ctl_reassign_alter(ctl, name, p->PartitionIndex,
                                                              p->Replicas.a, p->Replicas.n, &msg)
                                      : BK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            pr[k].ErrorMessage = bk_str_c(msg);
        }
        tr[i].Name = t->Name;
        tr[i].Partitions.n = np;
        tr[i].Partitions.a = pr;
    }
    bk_ctl_reassign_flush(ctl);
    rs.Responses.n = nt;
    rs.Responses.a = tr;
    return BK_RESPOND(req, AlterPartitionReassignmentsResponse, ver, &rs);
}

typedef bk_ListPartitionReassignmentsResponse_OngoingTopicReassignment ltopic;
typedef bk_ListPartitionReassignmentsResponse_OngoingPartitionReassignment lpart;

/* Is (topic, p) asked for? (null Topics: everything) */
static bool asked(const bk_ListPartitionReassignmentsRequest *rq, const char *topic, int32_t p)
{
    if (rq->Topics.n < 0)
        return true;
    for (int i = 0; i < rq->Topics.n; i++) {
        const bk_ListPartitionReassignmentsRequest_ListPartitionReassignmentsTopics *t =
            &rq->Topics.a[i];
        if (!bk_str_eq(t->Name, topic))
            continue;
        for (int k = 0; k < t->PartitionIndexes.n; k++)
            if (t->PartitionIndexes.a[k] == p)
                return true;
    }
    return false;
}

int bk_h_list_partition_reassignments(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_ListPartitionReassignmentsRequest rq;
    int rc = bk_ListPartitionReassignmentsRequest_decode(&req->body, ver, req->arena, &rq);
    if (rc)
        return rc;
    bk_ListPartitionReassignmentsResponse rs;
    bk_ListPartitionReassignmentsResponse_init(&rs);
    bk_controller *ctl = active_ctl(b);
    rs.Topics.n = 0;
    if (!bk_authz_cluster(b, req, BK_OP_DESCRIBE)) {
        rs.ErrorCode = BK_KERR_CLUSTER_AUTHORIZATION_FAILED;
        return BK_RESPOND(req, ListPartitionReassignmentsResponse, ver, &rs);
    }
    if (!ctl) {
        rs.ErrorCode = BK_KERR_NOT_CONTROLLER;
        rs.ErrorMessage = bk_str_c("This broker is not the controller.");
        return BK_RESPOND(req, ListPartitionReassignmentsResponse, ver, &rs);
    }
    int total = 0;
    const char *topic;
    int32_t p, reps[64], add[64], rem[64];
    int nr, na, nd;
    while (bk_ctl_reassign_at(ctl, total, &topic, &p, reps, &nr, add, &na, rem, &nd))
        total++;
    ltopic *tv = BK_ARENA_NEW(req, ltopic, total > 0 ? total : 1);
    if (!tv)
        return BK_ENOMEM;
    int ntv = 0;
    for (int i = 0; i < total; i++) {
        if (!bk_ctl_reassign_at(ctl, i, &topic, &p, reps, &nr, add, &na, rem, &nd) ||
            !asked(&rq, topic, p))
            continue;
        ltopic *t = NULL;
        for (int k = 0; k < ntv && !t; k++)
            if (bk_str_eq(tv[k].Name, topic))
                t = &tv[k];
        if (!t) {
            t = &tv[ntv++];
            memset(t, 0, sizeof *t);
            char *nm = BK_ARENA_NEW(req, char, strlen(topic) + 1);
            if (!nm)
                return BK_ENOMEM;
            memcpy(nm, topic, strlen(topic) + 1);
            t->Name = bk_str_c(nm);
            t->Partitions.a = BK_ARENA_NEW(req, lpart, total);
            if (!t->Partitions.a)
                return BK_ENOMEM;
        }
        lpart *o = &t->Partitions.a[t->Partitions.n++];
        memset(o, 0, sizeof *o);
        o->PartitionIndex = p;
        o->Replicas.a = ids_copy(req, reps, nr);
        o->Replicas.n = nr;
        o->AddingReplicas.a = ids_copy(req, add, na);
        o->AddingReplicas.n = na;
        o->RemovingReplicas.a = ids_copy(req, rem, nd);
        o->RemovingReplicas.n = nd;
        if (!o->Replicas.a || !o->AddingReplicas.a || !o->RemovingReplicas.a)
            return BK_ENOMEM;
    }
    rs.Topics.n = ntv;
    rs.Topics.a = tv;
    return BK_RESPOND(req, ListPartitionReassignmentsResponse, ver, &rs);
}
