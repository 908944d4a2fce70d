/*
 * h_delete_records.c - DeleteRecords (key 21), v0-v2 (v2 flexible).
 *
 * Moves a partition's log start offset forward (bk_plog_delete_records);
 * segments wholly below it are deleted at once. Offset -1 means the high
 * watermark. Per partition, as Kafka:
 *   UNKNOWN_TOPIC_OR_PARTITION  no such partition
 *   KAFKA_STORAGE_ERROR         no log, or deleting the segments failed
 *   POLICY_VIOLATION            cleanup.policy without "delete"
 *   OFFSET_OUT_OF_RANGE         offset < 0 (other than -1) or above the HW
 * LowWatermark is the log start offset afterwards (-1 on error). An offset
 * below the current log start changes nothing and reports the current one.
 * With replication Kafka waits (DelayedDeleteRecords) until every replica's
 * log start has moved; on a single node the answer is immediate and
 * TimeoutMs is not used.
 */
#include "api_table.h"
#include "authz.h"

#include "../core/log.h"
#include "replica.h"

static int16_t delete_one(bk_broker *b, bk_partition *p, int64_t offset, int64_t *low)
{
    bk_plog *l = p->log;
    int16_t lerr = bk_leader_check(b, p);
    if (lerr != BK_KERR_NONE)
        return lerr;
    if (!l)
        return BK_KERR_KAFKA_STORAGE_ERROR;
    if (!p->topic->cfg.cleanup_delete)
        return BK_KERR_POLICY_VIOLATION;
    int64_t off = offset == -1 ? l->hw : offset;
    if (off < 0 || off > l->hw)
        return BK_KERR_OFFSET_OUT_OF_RANGE;
    int r = bk_plog_delete_records(l, off);
    if (r == BK_ERANGE)
        return BK_KERR_OFFSET_OUT_OF_RANGE;
    if (r != 0) {
        bk_log_rl(BK_LOG_ERROR, "DeleteRecords on %s-%d: deleting segments failed: %s",
                  p->topic->name, p->index, bk_strerror(r));
        return BK_KERR_KAFKA_STORAGE_ERROR;
    }
    *low = l->log_start;
    return BK_KERR_NONE;
}

int bk_h_delete_records(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_DeleteRecordsRequest rq;
    BK_DECODE(req, DeleteRecordsRequest, &rq);
    bk_DeleteRecordsResponse rs;
    bk_DeleteRecordsResponse_init(&rs);
    rs.ThrottleTimeMs = 0;
    int32_t nt = BK_MAX(rq.Topics.n, 0);
    rs.Topics.n = nt;
    if (nt > 0 &&
        !(rs.Topics.a = BK_ARENA_NEW(req, bk_DeleteRecordsResponse_DeleteRecordsTopicResult, nt)))
        return BK_ENOMEM;
    for (int32_t i = 0; i < nt; i++) {
        const bk_DeleteRecordsRequest_DeleteRecordsTopic *qt = &rq.Topics.a[i];
        bk_DeleteRecordsResponse_DeleteRecordsTopicResult *tr = &rs.Topics.a[i];
        tr->Name = qt->Name;
        int32_t np = BK_MAX(qt->Partitions.n, 0);
        tr->Partitions.n = np;
        if (np > 0 && !(tr->Partitions.a = BK_ARENA_NEW(
                            req, bk_DeleteRecordsResponse_DeleteRecordsPartitionResult, np)))
            return BK_ENOMEM;
        for (int32_t k = 0; k < np; k++) {
            const bk_DeleteRecordsRequest_DeleteRecordsPartition *qp = &qt->Partitions.a[k];
            bk_DeleteRecordsResponse_DeleteRecordsPartitionResult *pr = &tr->Partitions.a[k];
            pr->PartitionIndex = qp->PartitionIndex;
            pr->LowWatermark = -1;
            bk_partition *p = bk_broker_partition(b, qt->Name, qp->PartitionIndex);
            pr->ErrorCode = !bk_authz_topic(b, req, BK_OP_DELETE, qt->Name)
                                ? BK_KERR_TOPIC_AUTHORIZATION_FAILED
                            : p ? delete_one(b, p, qp->Offset, &pr->LowWatermark)
                                : BK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            if (pr->ErrorCode != BK_KERR_NONE)
                pr->LowWatermark = -1;
        }
    }
    return BK_RESPOND(req, DeleteRecordsResponse, ver, &rs);
}
