/*
 * h_offset_for_leader_epoch.c - OffsetForLeaderEpoch (key 23), v0-v4 (v4
 * flexible).
 *
 * For each partition: the end offset of the requested leader epoch and the
 * largest epoch <= it, from the partition's leader-epoch history
 * (leader_epoch.h, Kafka's LeaderEpochFileCache.endOffsetFor): the LEO for
 * the current epoch, -1/-1 for an unknown (newer, or -1) epoch. Consumers
 * (KIP-320, Java v3+) use it to detect log truncation after a leader
 * change; followers use it to find where to truncate.
 *
 * Errors: UNKNOWN_TOPIC_OR_PARTITION, KAFKA_STORAGE_ERROR (no log),
 * FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH for CurrentLeaderEpoch (v2+).
 * LeaderEpoch in the answer exists from v1; v0 carries only EndOffset.
 */
#include "api_table.h"
#include "authz.h"

#include "leader_epoch.h"
#include "replica.h"

int bk_h_offset_for_leader_epoch(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_OffsetForLeaderEpochRequest rq;
    BK_DECODE(req, OffsetForLeaderEpochRequest, &rq);
    bk_OffsetForLeaderEpochResponse rs;
    bk_OffsetForLeaderEpochResponse_init(&rs);
    rs.ThrottleTimeMs = 0;
    int32_t nt = BK_MAX(rq.Topics.n, 0);
    rs.Topics.n = nt;
    if (nt > 0 && !(rs.Topics.a = BK_ARENA_NEW(
                        req, bk_OffsetForLeaderEpochResponse_OffsetForLeaderTopicResult, nt)))
        return BK_ENOMEM;
    for (int32_t i = 0; i < nt; i++) {
        const bk_OffsetForLeaderEpochRequest_OffsetForLeaderTopic *qt = &rq.Topics.a[i];
        bk_OffsetForLeaderEpochResponse_OffsetForLeaderTopicResult *tr = &rs.Topics.a[i];
        tr->Topic = qt->Topic;
        int32_t np = BK_MAX(qt->Partitions.n, 0);
        tr->Partitions.n = np;
        if (np > 0 && !(tr->Partitions.a =
                            BK_ARENA_NEW(req, bk_OffsetForLeaderEpochResponse_EpochEndOffset, np)))
            return BK_ENOMEM;
        for (int32_t k = 0; k < np; k++) {
            const bk_OffsetForLeaderEpochRequest_OffsetForLeaderPartition *qp =
                &qt->Partitions.a[k];
            bk_OffsetForLeaderEpochResponse_EpochEndOffset *pr = &tr->Partitions.a[k];
            pr->Partition = qp->Partition;
            pr->LeaderEpoch = BK_UNDEFINED_EPOCH;
            pr->EndOffset = BK_UNDEFINED_EPOCH_OFFSET;
            bk_partition *p = bk_broker_partition(b, qt->Topic, qp->Partition);
            if (rq.ReplicaId >= 0 ? !bk_authz_cluster(b, req, BK_OP_CLUSTER_ACTION)
                                  : !bk_authz_topic(b, req, BK_OP_DESCRIBE, qt->Topic)) {
                pr->ErrorCode = BK_KERR_TOPIC_AUTHORIZATION_FAILED;
                continue;
            }
            if (!p) {
                pr->ErrorCode = BK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            if ((pr->ErrorCode = bk_leader_check(b, p)) != BK_KERR_NONE)
                continue;
            if (!p->log) {
                pr->ErrorCode = BK_KERR_KAFKA_STORAGE_ERROR;
                continue;
            }
            if (ver >= 2 && (pr->ErrorCode = bk_check_leader_epoch(p, qp->CurrentLeaderEpoch)) != 0)
                continue;
            /* cluster mode: the real history (leader-epoch-checkpoint) */
            bk_epoch_entry hist = bk_epochs_single(p->leader_epoch, p->log->log_start);
            const bk_epoch_entry *h = &hist;
            int nh = 1;
            if (b->cluster) {
                h = (const bk_epoch_entry *)p->epochs;
                nh = p->nepochs;
            }
            int32_t ep;
            int64_t end;
            bk_epochs_end_offset_for(h, nh, qp->LeaderEpoch, bk_plog_leo(p->log), &ep, &end);
            pr->ErrorCode = BK_KERR_NONE;
            pr->EndOffset = end;
            if (ver >= 1)
                pr->LeaderEpoch = ep;
        }
    }
    return BK_RESPOND(req, OffsetForLeaderEpochResponse, ver, &rs);
}
