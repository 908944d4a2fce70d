/*
 * h_txn_offset.c - TxnOffsetCommit (28) v0-v4: the offsets a transactional
 * producer commits for a consumer group (sendOffsetsToTransaction), over
 * the group coordinator (bk_coord_txn_commit, group/coord.h). They are
 * written to the group's __consumer_offsets partition as a transactional
 * batch and stay invisible to OffsetFetch until the transaction's commit
 * marker lands there.
 *
 *   v0-v1  TransactionalId, GroupId, ProducerId, ProducerEpoch, offsets
 *   v2     + CommittedLeaderEpoch per partition
 *   v3     flexible; + GenerationId, MemberId, GroupInstanceId (KIP-447:
 *          the group's member is checked; the Java producer needs v3)
 *   v4     same as v3 (KIP-890: a client that knows the server verifies)
 *
 * Errors are per partition, as Kafka's handleTxnOffsetCommitRequest:
 * UNKNOWN_TOPIC_OR_PARTITION for a partition that does not exist (checked
 * here, as OffsetCommit does, before the coordinator sees the request);
 * then the coordinator's group-level error on every other partition
 * (INVALID_GROUP_ID, ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID,
 * FENCED_INSTANCE_ID, INVALID_PRODUCER_EPOCH, COORDINATOR_NOT_AVAILABLE,
 * NOT_COORDINATOR) or OFFSET_METADATA_TOO_LARGE for one partition.
 *
 * Verification (transaction.partition.verification.enable, KIP-890 part
 * 1): when the transaction coordinator runs, the group's __consumer_offsets
 * partition must have been added to the producer's transaction
 * (AddOffsetsToTxn) - else its answer (INVALID_TXN_STATE, ...) goes to
 * every partition, as Kafka's GroupCoordinator.handleTxnCommitOffsets does
 * before it looks at the group's members.
 */
#include "api_table.h"
#include "authz.h"
#include "replica.h"

#include "../core/clock.h"
#include "../group/coord.h"
#include "../txn/tcoord.h"

#include <string.h>

#define S(x) (x).p, (size_t)BK_MAX((x).len, 0)

int bk_h_txn_offset_commit(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_TxnOffsetCommitRequest rq;
    BK_DECODE(req, TxnOffsetCommitRequest, &rq);
    bk_TxnOffsetCommitResponse rs;
    bk_TxnOffsetCommitResponse_init(&rs);
    int32_t nt = BK_MAX(rq.Topics.n, 0), total = 0;
    for (int32_t i = 0; i < nt; i++)
        total += BK_MAX(rq.Topics.a[i].Partitions.n, 0);
    bk_commit_part *parts = total ? BK_ARENA_NEW(req, bk_commit_part, total) : NULL;
    rs.Topics.n = nt;
    if ((total && !parts) ||
        (nt && !(rs.Topics.a = BK_ARENA_NEW(
                     req, bk_TxnOffsetCommitResponse_TxnOffsetCommitResponseTopic, nt))))
        return BK_ENOMEM;

    int64_t now = bk_wall_ms();
    bool any = false;
    int k = 0;
    for (int32_t i = 0; i < nt; i++) {
        const bk_TxnOffsetCommitRequest_TxnOffsetCommitRequestTopic *t = &rq.Topics.a[i];
        for (int32_t j = 0; j < BK_MAX(t->Partitions.n, 0); j++, k++) {
            const bk_TxnOffsetCommitRequest_TxnOffsetCommitRequestPartition *p =
                &t->Partitions.a[j];
            bk_commit_part *c = &parts[k];
            c->topic = t->Name.p;
            c->topic_len = (size_t)BK_MAX(t->Name.len, 0);
            c->partition = p->PartitionIndex;
            c->offset = p->CommittedOffset;
            c->leader_epoch = ver >= 2 ? p->CommittedLeaderEpoch : -1;
            c->metadata = p->CommittedMetadata.len >= 0 ? p->CommittedMetadata.p : NULL;
            c->metadata_len = (size_t)BK_MAX(p->CommittedMetadata.len, 0);
            c->commit_ts = now;
            c->expire_ts = -1; /* transactional commits carry no retention */
            c->error = !bk_authz_topic(b, req, BK_OP_READ, t->Name)
                           ? BK_KERR_TOPIC_AUTHORIZATION_FAILED
                       : bk_broker_partition(b, t->Name, p->PartitionIndex)
                           ? BK_KERR_NONE
                           : BK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            any |= c->error == BK_KERR_NONE;
        }
    }

    bk_coord *co = b->coord;
    int16_t gerr = BK_KERR_NONE;
    if (!co)
        gerr = BK_KERR_COORDINATOR_NOT_AVAILABLE;
    else if (!bk_authorized(b, req, BK_OP_WRITE, BK_RES_TRANSACTIONAL_ID, S(rq.TransactionalId)))
        gerr = BK_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    else if (!bk_authz_group(b, req, BK_OP_READ, rq.GroupId))
        gerr = BK_KERR_GROUP_AUTHORIZATION_FAILED;
    else if ((gerr = bk_group_coord_check(b, S(rq.GroupId))) != BK_KERR_NONE)
        ;
    else if (any && rq.GroupId.len > 0 && b->tcoord &&
             b->cfg->transaction_partition_verification_enable)
        gerr =
            bk_tcoord_verify(b->tcoord, rq.ProducerId, rq.ProducerEpoch, BK_OFFSETS_TOPIC,
                             strlen(BK_OFFSETS_TOPIC), bk_coord_partition_for(co, S(rq.GroupId)));
    if (gerr != BK_KERR_NONE) {
        for (int i = 0; i < total; i++)
            if (parts[i].error == BK_KERR_NONE)
                parts[i].error = gerr;
    } else if (any) {
        bool v3 = ver >= 3;
        bool inst = v3 && rq.GroupInstanceId.p && rq.GroupInstanceId.len >= 0;
        (void)bk_coord_txn_commit(co, S(rq.GroupId), rq.ProducerId, rq.ProducerEpoch,
                                  v3 ? rq.GenerationId : -1, v3 ? rq.MemberId.p : NULL,
                                  v3 ? (size_t)BK_MAX(rq.MemberId.len, 0) : 0,
                                  inst ? rq.GroupInstanceId.p : NULL,
                                  inst ? (size_t)rq.GroupInstanceId.len : 0, parts, total);
    }

    k = 0;
    for (int32_t i = 0; i < nt; i++) {
        const bk_TxnOffsetCommitRequest_TxnOffsetCommitRequestTopic *t = &rq.Topics.a[i];
        bk_TxnOffsetCommitResponse_TxnOffsetCommitResponseTopic *rt = &rs.Topics.a[i];
        rt->Name = t->Name;
        int32_t np = BK_MAX(t->Partitions.n, 0);
        rt->Partitions.n = np;
        if (np && !(rt->Partitions.a = BK_ARENA_NEW(
                        req, bk_TxnOffsetCommitResponse_TxnOffsetCommitResponsePartition, np)))
            return BK_ENOMEM;
        for (int32_t j = 0; j < np; j++, k++) {
            rt->Partitions.a[j].PartitionIndex = parts[k].partition;
            rt->Partitions.a[j].ErrorCode = parts[k].error;
        }
    }
    return BK_RESPOND(req, TxnOffsetCommitResponse, ver, &rs);
}
