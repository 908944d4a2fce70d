/*
 * h_txn_markers.c - WriteTxnMarkers (key 27), v0-1 (v1 flexible).
 *
 * How a transaction coordinator ends a transaction on partitions it does
 * not lead (cluster mode, txn_markers.h): for each marker, write a commit
 * or abort control batch for ProducerId/ProducerEpoch to every listed
 * partition through bk_broker_write_marker (the same path the local
 * coordinator uses), and answer per partition: NONE, NOT_LEADER_OR_FOLLOWER
 * (the coordinator looks the leader up again), NOT_ENOUGH_REPLICAS,
 * UNKNOWN_TOPIC_OR_PARTITION, KAFKA_STORAGE_ERROR or REQUEST_TIMED_OUT.
 *
 * Acknowledged like acks=all: in cluster mode the response is parked in
 * the purgatory (BK_WAKE_HW) until every marker written is below its
 * partition's high watermark, so a marker the coordinator counts as
 * written survives the loss of the leader (Kafka appends markers with
 * requiredAcks -1). A leader change meanwhile answers
 * NOT_LEADER_OR_FOLLOWER for that partition; no HW within MARKER_WAIT_MS,
 * REQUEST_TIMED_OUT. Either way the coordinator resends, and a repeated
 * marker is harmless.
 *
 * Kafka restricts it to the cluster (CLUSTER_ACTION); without security
 * every client may send it, as with Kafka's default authorizer off.
 */
#include "api_table.h"
#include "authz.h"
#include "txn_markers.h"

#include <string.h>

#define MARKER_WAIT_MS 15000

typedef struct mwait_part {
    const char *topic; /* arena */
    int32_t partition;
    int32_t leader_epoch;
    int64_t offset;
    int16_t *err; /* in the response */
} mwait_part;

typedef struct mwait {
    bk_delayed d; /* first: the purgatory hands it back */
    bk_broker *b;
    bk_req *req;
    int16_t ver;
    bk_WriteTxnMarkersResponse rs;
    mwait_part *parts;
    int n;
} mwait;

static int part_state(bk_broker *b, const mwait_part *mp, int16_t *kerr)
{
    return bk_txnmk_wait_state(b, mp->topic, strlen(mp->topic), mp->partition, mp->leader_epoch,
                               mp->offset, kerr);
}

static bool mwait_on_event(bk_delayed *d, unsigned what, uint64_t bytes)
{
    mwait *w = (mwait *)d;
    int16_t kerr;
    for (int i = 0; i < w->n; i++)
        if (part_state(w->b, &w->parts[i], &kerr) == 0)
            return false;
    return true;
}

static void mwait_complete(bk_delayed *d, bool expired)
{
    mwait *w = (mwait *)d;
    bk_req *req = w->req;
    req->hctx = NULL;
    if (req->conn->closing) {
        bk_req_done(req, 0);
        return;
    }
    for (int i = 0; i < w->n; i++) {
        int16_t kerr;
        *w->parts[i].err =
            part_state(w->b, &w->parts[i], &kerr) == 1 ? kerr : BK_KERR_REQUEST_TIMED_OUT;
    }
    bk_req_done(req, BK_RESPOND(req, WriteTxnMarkersResponse, w->ver, &w->rs));
}

int bk_h_write_txn_markers(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_WriteTxnMarkersRequest rq;
    BK_DECODE(req, WriteTxnMarkersRequest, &rq);
    bk_WriteTxnMarkersResponse rs;
    bk_WriteTxnMarkersResponse_init(&rs);
    int32_t nm = BK_MAX(rq.Markers.n, 0);
    rs.Markers.n = nm;
    if (nm && !(rs.Markers.a = BK_ARENA_NEW(req, bk_WriteTxnMarkersResponse_WritableTxnMarkerResult,
                                            nm)))
        return BK_ENOMEM;
    /* authorization: only brokers (CLUSTER_ACTION) write markers */
    bool allowed = bk_authz_cluster(b, req, BK_OP_CLUSTER_ACTION);
    int total = 0;
    for (int32_t i = 0; i < nm; i++)
        for (int32_t t = 0; t < BK_MAX(rq.Markers.a[i].Topics.n, 0); t++)
            total += BK_MAX(rq.Markers.a[i].Topics.a[t].PartitionIndexes.n, 0);
    mwait_part *wp = total ? BK_ARENA_NEW(req, mwait_part, total) : NULL;
    if (total && !wp)
        return BK_ENOMEM;
    int nw = 0;
    for (int32_t i = 0; i < nm; i++) {
        const bk_WriteTxnMarkersRequest_WritableTxnMarker *m = &rq.Markers.a[i];
        bk_WriteTxnMarkersResponse_WritableTxnMarkerResult *mr = &rs.Markers.a[i];
        mr->ProducerId = m->ProducerId;
        int32_t nt = BK_MAX(m->Topics.n, 0);
        mr->Topics.n = nt;
        if (nt && !(mr->Topics.a = BK_ARENA_NEW(
                        req, bk_WriteTxnMarkersResponse_WritableTxnMarkerTopicResult, nt)))
            return BK_ENOMEM;
        for (int32_t t = 0; t < nt; t++) {
            const bk_WriteTxnMarkersRequest_WritableTxnMarkerTopic *qt = &m->Topics.a[t];
            bk_WriteTxnMarkersResponse_WritableTxnMarkerTopicResult *rt = &mr->Topics.a[t];
            rt->Name = qt->Name;
            int32_t np = BK_MAX(qt->PartitionIndexes.n, 0);
            rt->Partitions.n = np;
            if (np && !(rt->Partitions.a = BK_ARENA_NEW(
                            req, bk_WriteTxnMarkersResponse_WritableTxnMarkerPartitionResult, np)))
                return BK_ENOMEM;
            size_t tl = (size_t)BK_MAX(qt->Name.len, 0);
            char *name = BK_ARENA_NEW(req, char, tl + 1);
            if (!name)
                return BK_ENOMEM;
            if (tl)
                memcpy(name, qt->Name.p, tl);
            name[tl] = 0;
            for (int32_t k = 0; k < np; k++) {
                int32_t idx = qt->PartitionIndexes.a[k];
                bk_WriteTxnMarkersResponse_WritableTxnMarkerPartitionResult *pr =
                    &rt->Partitions.a[k];
                pr->PartitionIndex = idx;
                if (!allowed) {
                    pr->ErrorCode = BK_KERR_CLUSTER_AUTHORIZATION_FAILED;
                    continue;
                }
                if (qt->Name.len < 0 || memchr(name, 0, tl)) {
                    pr->ErrorCode = BK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
                    continue;
                }
                int64_t off = -1;
                int32_t le = -1;
                pr->ErrorCode =
                    bk_broker_write_marker(b, name, idx, m->ProducerId, m->ProducerEpoch,
                                           m->CoordinatorEpoch, m->TransactionResult, &off, &le);
                if (pr->ErrorCode == BK_KERR_NONE && b->cluster)
                    wp[nw++] = (mwait_part){name, idx, le, off, &pr->ErrorCode};
            }
        }
    }
    /* acks=all: park until every marker written is replicated */
    int waiting = 0;
    for (int i = 0; i < nw; i++) {
        int16_t kerr;
        if (part_state(b, &wp[i], &kerr) == 1)
            *wp[i].err = kerr;
        else
            wp[waiting++] = wp[i];
    }
    if (waiting) {
        mwait *w = BK_ARENA_NEW(req, mwait, 1);
        bk_partition **pp = BK_ARENA_NEW(req, bk_partition *, waiting);
        bk_watch *nodes = BK_ARENA_NEW(req, bk_watch, waiting);
        if (!w || !pp || !nodes)
            return BK_ENOMEM;
        w->b = b;
        w->req = req;
        w->ver = ver;
        w->rs = rs;
        w->parts = wp;
        w->n = waiting;
        for (int i = 0; i < waiting; i++)
            pp[i] = bk_topics_partition(b->topics, wp[i].topic, strlen(wp[i].topic),
                                        wp[i].partition);
        w->d.wants = BK_WAKE_HW;
        w->d.on_event = mwait_on_event;
        w->d.complete = mwait_complete;
        if (bk_delayed_park(&b->purg, &w->d, req->recv_ms + MARKER_WAIT_MS, pp, nodes, waiting) ==
            0) {
            req->hctx = &w->d;
            return BK_EAGAIN;
        }
        for (int i = 0; i < waiting; i++)
            *wp[i].err = BK_KERR_REQUEST_TIMED_OUT;
    }
    return BK_RESPOND(req, WriteTxnMarkersResponse, ver, &rs);
}
