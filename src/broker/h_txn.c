/*
 * h_txn.c - the transaction APIs, over the transaction coordinator
 * (txn/tcoord.h):
 *
 *   InitProducerId (22) v0-v5       v3+ names the producer to bump (KIP-360)
 *   AddPartitionsToTxn (24) v0-v3   v4+ (batched, VerifyOnly) is broker to
 *                                   broker and not served
 *   AddOffsetsToTxn (25) v0-v4      adds the group's __consumer_offsets
 *                                   partition
 *   EndTxn (26) v0-v4
 *   DescribeTransactions (65) v0
 *   ListTransactions (66) v0-v1     v1 DurationFilter
 *
 * (FindCoordinator with key type 1 is in h_group.c.) PRODUCER_FENCED is
 * only known to InitProducerId v4+ and AddPartitions/AddOffsets/EndTxn v2+
 * (KIP-588); older versions get INVALID_PRODUCER_EPOCH, as Kafka answers.
 * Without a coordinator (no storage) every request answers
 * COORDINATOR_NOT_AVAILABLE.
 *
 * Cluster mode: InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn and
 * EndTxn answer only once the coordinator's last write for the
 * transactional id is replicated (below the high watermark of its
 * __transaction_state partition; tcoord.h "Durability"), as Kafka's
 * coordinator appends with acks=all: the response is parked in the
 * purgatory (BK_WAKE_HW). A leadership change meanwhile answers
 * NOT_COORDINATOR, no HW within DURABLE_WAIT_MS COORDINATOR_NOT_AVAILABLE
 * (the client retries; a retry finds the state already written).
 */
#include "api_table.h"
#include "authz.h"
#include "durable.h"
#include "replica.h"

#include "../group/coord.h"
#include "../txn/tcoord.h"

#define DURABLE_WAIT_MS 15000

/* ------------------------------------------------------------ durable answers */

static bk_partition *txn_state_partition(bk_broker *b, int32_t idx)
{
    bk_topic *tp = b->topics ? bk_topics_get(b->topics, BK_TXN_TOPIC, strlen(BK_TXN_TOPIC)) : NULL;
    return tp && idx >= 0 && idx < tp->nparts ? &tp->parts[idx] : NULL;
}

typedef struct kick {
    const char *txn_id; /* borrowed from the request frame */
    size_t len;
} kick;

static void kick_markers(bk_broker *b, void *ud)
{
    kick *k = ud;
    bk_tcoord_kick(b->tcoord, k->txn_id, k->len); /* Prepare*: markers may go now */
}

/* Answer rs (a response of type mi in the request's arena) now, or -
 * cluster mode, with the id's last write not yet replicated - once it is.
 * set_err turns rs into an error response. */
static int answer_durable(bk_broker *b, bk_req *req, const char *txn_id, size_t len, void *rs,
                          const bk_msginfo *mi, void (*set_err)(void *rs, int16_t err))
{
    int32_t idx;
    int64_t off = -1;
    bk_partition *p = NULL;
    kick *k = NULL;
    if (b->cluster && txn_id && bk_tcoord_last_write(b->tcoord, txn_id, len, &idx, &off)) {
        p = txn_state_partition(b, idx);
        if (!(k = BK_ARENA_NEW(req, kick, 1)))
            return BK_ENOMEM;
        k->txn_id = txn_id;
        k->len = len;
    }
    bk_durable_opts o = {BK_KERR_NOT_COORDINATOR, BK_KERR_COORDINATOR_NOT_AVAILABLE,
                         DURABLE_WAIT_MS, set_err, kick_markers, k};
    return bk_answer_durable(b, req, p, off, rs, mi, &o);
}

static void init_pid_err(void *rs, int16_t err)
{
    bk_InitProducerIdResponse *r = rs;
    r->ErrorCode = err;
    r->ProducerId = -1;
    r->ProducerEpoch = -1;
}

static void add_parts_err(void *rs, int16_t err)
{
    bk_AddPartitionsToTxnResponse *r = rs;
    for (int32_t i = 0; i < r->ResultsByTopicV3AndBelow.n; i++) {
        bk_AddPartitionsToTxnResponse_AddPartitionsToTxnTopicResult *tr =
            &r->ResultsByTopicV3AndBelow.a[i];
        for (int32_t j = 0; j < tr->ResultsByPartition.n; j++)
            tr->ResultsByPartition.a[j].PartitionErrorCode = err;
    }
}

static void add_offsets_err(void *rs, int16_t err)
{
    ((bk_AddOffsetsToTxnResponse *)rs)->ErrorCode = err;
}

static void end_txn_err(void *rs, int16_t err)
{
    ((bk_EndTxnResponse *)rs)->ErrorCode = err;
}

/* A copy of *rs in the request's arena (the parked answer outlives the
 * handler's frame). */
static void *arena_copy(bk_req *req, const void *rs, size_t size)
{
    void *p = bk_arena_alloc(req->arena, size);
    if (p)
        memcpy(p, rs, size);
    return p;
}

static int16_t fenced(int16_t err, int16_t ver, int16_t since)
{
    return err == BK_KERR_PRODUCER_FENCED && ver < since ? BK_KERR_INVALID_PRODUCER_EPOCH : err;
}

static const char *str_or_null(bk_str s)
{
    return s.len < 0 ? NULL : (s.p ? s.p : "");
}

static size_t str_len(bk_str s)
{
    return s.len < 0 ? 0 : (size_t)s.len;
}

/* ------------------------------------------------------------ InitProducerId */

int bk_h_init_producer_id(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_InitProducerIdRequest rq;
    BK_DECODE(req, InitProducerIdRequest, &rq);
    bk_InitProducerIdResponse rs;
    bk_InitProducerIdResponse_init(&rs);
    int64_t pid = -1;
    int16_t epoch = -1, err;
    /* v3+: -1/-1 = no producer to bump; one of them -1 is malformed */
    if ((rq.ProducerId == -1) != (rq.ProducerEpoch == -1))
        err = BK_KERR_INVALID_REQUEST;
    else if (rq.TransactionalId.len >= 0 &&
             !bk_authorized(b, req, BK_OP_WRITE, BK_RES_TRANSACTIONAL_ID,
                            str_or_null(rq.TransactionalId), str_len(rq.TransactionalId)))
        err = BK_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    else if (rq.TransactionalId.len < 0 && !bk_authz_cluster(b, req, BK_OP_IDEMPOTENT_WRITE) &&
             !bk_authz_any(b, req, BK_OP_WRITE, BK_RES_TOPIC))
        err = BK_KERR_CLUSTER_AUTHORIZATION_FAILED;
    else if ((err = bk_txn_coord_check(b, str_or_null(rq.TransactionalId),
                                       str_len(rq.TransactionalId))) != BK_KERR_NONE)
        ;
    else
        err = bk_tcoord_init_pid(b->tcoord, str_or_null(rq.TransactionalId),
                                 str_len(rq.TransactionalId), rq.TransactionTimeoutMs,
                                 rq.ProducerId, rq.ProducerEpoch, &pid, &epoch);
    rs.ErrorCode = fenced(err, ver, 4);
    rs.ProducerId = err == BK_KERR_NONE ? pid : -1;
    rs.ProducerEpoch = err == BK_KERR_NONE ? epoch : -1;
    if (err != BK_KERR_NONE || rq.TransactionalId.len <= 0)
        return BK_RESPOND(req, InitProducerIdResponse, ver, &rs);
    void *cp = arena_copy(req, &rs, sizeof rs);
    if (!cp)
        return BK_ENOMEM;
    return answer_durable(b, req, rq.TransactionalId.p, str_len(rq.TransactionalId), cp,
                          &bk_msg_InitProducerIdResponse, init_pid_err);
}

/* ------------------------------------------------------------ AddPartitionsToTxn */

int bk_h_add_partitions_to_txn(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_AddPartitionsToTxnRequest rq;
    BK_DECODE(req, AddPartitionsToTxnRequest, &rq);
    bk_AddPartitionsToTxnResponse rs;
    bk_AddPartitionsToTxnResponse_init(&rs);
    int32_t nt = BK_MAX(rq.V3AndBelowTopics.n, 0);
    rs.ResultsByTopicV3AndBelow.n = nt;
    if (nt && !(rs.ResultsByTopicV3AndBelow.a = BK_ARENA_NEW(
                    req, bk_AddPartitionsToTxnResponse_AddPartitionsToTxnTopicResult, nt)))
        return BK_ENOMEM;
    /* Internal topics (TOPIC_AUTHORIZATION_FAILED: their partitions join
     * through AddOffsetsToTxn only) and unknown partitions fail the request
     * before the coordinator sees it; the others are
     * OPERATION_NOT_ATTEMPTED (Kafka's KafkaApis). */
    int total = 0;
    bool bad = false;
    for (int32_t i = 0; i < nt; i++) {
        const bk_AddPartitionsToTxnRequest_AddPartitionsToTxnTopic *t = &rq.V3AndBelowTopics.a[i];
        bk_AddPartitionsToTxnResponse_AddPartitionsToTxnTopicResult *tr =
            &rs.ResultsByTopicV3AndBelow.a[i];
        tr->Name = t->Name.len < 0 ? bk_str_c("") : t->Name;
        int32_t np = BK_MAX(t->Partitions.n, 0);
        tr->ResultsByPartition.n = np;
        if (np && !(tr->ResultsByPartition.a = BK_ARENA_NEW(
                        req, bk_AddPartitionsToTxnResponse_AddPartitionsToTxnPartitionResult, np)))
            return BK_ENOMEM;
        for (int32_t j = 0; j < np; j++) {
            tr->ResultsByPartition.a[j].PartitionIndex = t->Partitions.a[j];
            bk_partition *p = bk_broker_partition(b, t->Name, t->Partitions.a[j]);
            int16_t e = !bk_authz_topic(b, req, BK_OP_WRITE, t->Name)
                            ? BK_KERR_TOPIC_AUTHORIZATION_FAILED
                        : !p                 ? BK_KERR_UNKNOWN_TOPIC_OR_PARTITION
                        : p->topic->internal ? BK_KERR_TOPIC_AUTHORIZATION_FAILED
                                             : BK_KERR_NONE;
            tr->ResultsByPartition.a[j].PartitionErrorCode = e;
            bad |= e != BK_KERR_NONE;
        }
        total += np;
    }
    /* No partitions: nothing to add and nowhere to put an error (v0-v3
     * have no top-level error code), so the coordinator is not asked. */
    int16_t err = BK_KERR_OPERATION_NOT_ATTEMPTED;
    int16_t cerr = bk_txn_coord_check(b, str_or_null(rq.V3AndBelowTransactionalId),
                                      str_len(rq.V3AndBelowTransactionalId));
    if (!bk_authorized(b, req, BK_OP_WRITE, BK_RES_TRANSACTIONAL_ID,
                       str_or_null(rq.V3AndBelowTransactionalId),
                       str_len(rq.V3AndBelowTransactionalId))) {
        cerr = BK_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED; /* every partition (Kafka) */
        for (int32_t i = 0; i < nt; i++)
            for (int32_t j = 0; j < rs.ResultsByTopicV3AndBelow.a[i].ResultsByPartition.n; j++)
                rs.ResultsByTopicV3AndBelow.a[i].ResultsByPartition.a[j].PartitionErrorCode = cerr;
        bad = true;
    }
    if (cerr != BK_KERR_NONE && !bad && total > 0) {
        err = cerr;
    } else if (!bad && total > 0) {
        bk_txn_part *parts = BK_ARENA_NEW(req, bk_txn_part, total);
        if (!parts)
            return BK_ENOMEM;
        int k = 0;
        for (int32_t i = 0; i < nt; i++) {
            const bk_AddPartitionsToTxnRequest_AddPartitionsToTxnTopic *t =
                &rq.V3AndBelowTopics.a[i];
            size_t tl = str_len(t->Name);
            char *name = BK_ARENA_NEW(req, char, tl + 1);
            if (!name)
                return BK_ENOMEM;
            memcpy(name, t->Name.p, tl);
            for (int32_t j = 0; j < BK_MAX(t->Partitions.n, 0); j++)
                parts[k++] = (bk_txn_part){name, t->Partitions.a[j], false};
        }
        err = fenced(bk_tcoord_add_partitions(b->tcoord, str_or_null(rq.V3AndBelowTransactionalId),
                                              str_len(rq.V3AndBelowTransactionalId),
                                              rq.V3AndBelowProducerId, rq.V3AndBelowProducerEpoch,
                                              parts, k),
                     ver, 2);
    }
    for (int32_t i = 0; i < nt; i++) {
        bk_AddPartitionsToTxnResponse_AddPartitionsToTxnTopicResult *tr =
            &rs.ResultsByTopicV3AndBelow.a[i];
        for (int32_t j = 0; j < tr->ResultsByPartition.n; j++)
            if (tr->ResultsByPartition.a[j].PartitionErrorCode == BK_KERR_NONE)
                tr->ResultsByPartition.a[j].PartitionErrorCode = err;
    }
    if (err != BK_KERR_NONE || rq.V3AndBelowTransactionalId.len <= 0)
        return BK_RESPOND(req, AddPartitionsToTxnResponse, ver, &rs);
    void *cp = arena_copy(req, &rs, sizeof rs);
    if (!cp)
        return BK_ENOMEM;
    return answer_durable(b, req, rq.V3AndBelowTransactionalId.p,
                          str_len(rq.V3AndBelowTransactionalId), cp,
                          &bk_msg_AddPartitionsToTxnResponse, add_parts_err);
}

/* ------------------------------------------------------------ AddOffsetsToTxn */

int bk_h_add_offsets_to_txn(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_AddOffsetsToTxnRequest rq;
    BK_DECODE(req, AddOffsetsToTxnRequest, &rq);
    bk_AddOffsetsToTxnResponse rs;
    bk_AddOffsetsToTxnResponse_init(&rs);
    int16_t kerr = BK_KERR_NONE;
    bk_topic *tp = NULL;
    if (b->coord && b->topics && bk_coord_ensure_topic(b->coord, &kerr) == 0)
        tp = bk_topics_get(b->topics, BK_OFFSETS_TOPIC, strlen(BK_OFFSETS_TOPIC));
    if (!bk_authorized(b, req, BK_OP_WRITE, BK_RES_TRANSACTIONAL_ID,
                       str_or_null(rq.TransactionalId), str_len(rq.TransactionalId))) {
        rs.ErrorCode = BK_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    } else if (!bk_authz_group(b, req, BK_OP_READ, rq.GroupId)) {
        rs.ErrorCode = BK_KERR_GROUP_AUTHORIZATION_FAILED;
    } else if (!tp || tp->nparts <= 0 || !b->tcoord) {
        rs.ErrorCode = BK_KERR_COORDINATOR_NOT_AVAILABLE;
    } else if ((rs.ErrorCode = bk_txn_coord_check(b, str_or_null(rq.TransactionalId),
                                                  str_len(rq.TransactionalId))) != BK_KERR_NONE) {
    } else {
        /* The group's offsets partition joins the transaction: its
         * TxnOffsetCommit records get the transaction's marker. */
        bk_txn_part p = {BK_OFFSETS_TOPIC,
                         bk_group_partition(rq.GroupId.p, str_len(rq.GroupId), tp->nparts), false};
        rs.ErrorCode = fenced(bk_tcoord_add_partitions(b->tcoord, str_or_null(rq.TransactionalId),
                                                       str_len(rq.TransactionalId), rq.ProducerId,
                                                       rq.ProducerEpoch, &p, 1),
                              ver, 2);
    }
    if (rs.ErrorCode != BK_KERR_NONE || rq.TransactionalId.len <= 0)
        return BK_RESPOND(req, AddOffsetsToTxnResponse, ver, &rs);
    void *cp = arena_copy(req, &rs, sizeof rs);
    if (!cp)
        return BK_ENOMEM;
    return answer_durable(b, req, rq.TransactionalId.p, str_len(rq.TransactionalId), cp,
                          &bk_msg_AddOffsetsToTxnResponse, add_offsets_err);
}

/* ------------------------------------------------------------ EndTxn */

int bk_h_end_txn(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_EndTxnRequest rq;
    BK_DECODE(req, EndTxnRequest, &rq);
    bk_EndTxnResponse rs;
    bk_EndTxnResponse_init(&rs);
    rs.ErrorCode = bk_txn_coord_check(b, str_or_null(rq.TransactionalId),
                                      str_len(rq.TransactionalId));
    if (rs.ErrorCode == BK_KERR_NONE &&
        !bk_authorized(b, req, BK_OP_WRITE, BK_RES_TRANSACTIONAL_ID,
                       str_or_null(rq.TransactionalId), str_len(rq.TransactionalId)))
        rs.ErrorCode = BK_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    if (rs.ErrorCode != BK_KERR_NONE)
        return BK_RESPOND(req, EndTxnResponse, ver, &rs);
    rs.ErrorCode = fenced(bk_tcoord_end_txn(b->tcoord, str_or_null(rq.TransactionalId),
                                            str_len(rq.TransactionalId), rq.ProducerId,
                                            rq.ProducerEpoch, rq.Committed),
                          ver, 2);
    if (rs.ErrorCode != BK_KERR_NONE || rq.TransactionalId.len <= 0)
        return BK_RESPOND(req, EndTxnResponse, ver, &rs);
    void *cp = arena_copy(req, &rs, sizeof rs);
    if (!cp)
        return BK_ENOMEM;
    return answer_durable(b, req, rq.TransactionalId.p, str_len(rq.TransactionalId), cp,
                          &bk_msg_EndTxnResponse, end_txn_err);
}

/* ------------------------------------------------------------ DescribeTransactions */

static bool part_shown(const bk_txn_info *in, int i)
{
    /* while ending: only the partitions still waiting for their marker */
    return !((in->state == BK_TXN_PREPARE_COMMIT || in->state == BK_TXN_PREPARE_ABORT) &&
             in->parts[i].marked);
}

/* The transaction's partitions grouped by topic, in the arena. */
static int describe_topics(bk_req *req, const bk_txn_info *in,
                           bk_DescribeTransactionsResponse_TransactionState *st)
{
    int nt = 0;
    for (int i = 0; i < in->nparts; i++) {
        if (!part_shown(in, i))
            continue;
        bool first = true;
        for (int j = 0; j < i && first; j++)
            first = !part_shown(in, j) || strcmp(in->parts[j].topic, in->parts[i].topic) != 0;
        nt += first;
    }
    st->Topics.n = nt;
    if (!nt)
        return 0;
    if (!(st->Topics.a = BK_ARENA_NEW(req, bk_DescribeTransactionsResponse_TopicData, nt)))
        return BK_ENOMEM;
    int k = 0;
    for (int i = 0; i < in->nparts; i++) {
        if (!part_shown(in, i))
            continue;
        bool first = true;
        for (int j = 0; j < i && first; j++)
            first = !part_shown(in, j) || strcmp(in->parts[j].topic, in->parts[i].topic) != 0;
        if (!first)
            continue;
        bk_DescribeTransactionsResponse_TopicData *td = &st->Topics.a[k++];
        td->Topic = bk_str_c(in->parts[i].topic);
        int np = 0;
        for (int j = i; j < in->nparts; j++)
            np += part_shown(in, j) && strcmp(in->parts[j].topic, in->parts[i].topic) == 0;
        if (!(td->Partitions.a = BK_ARENA_NEW(req, int32_t, np)))
            return BK_ENOMEM;
        for (int j = i; j < in->nparts; j++)
            if (part_shown(in, j) && strcmp(in->parts[j].topic, in->parts[i].topic) == 0)
                td->Partitions.a[td->Partitions.n++] = in->parts[j].partition;
    }
    return 0;
}

int bk_h_describe_transactions(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_DescribeTransactionsRequest rq;
    BK_DECODE(req, DescribeTransactionsRequest, &rq);
    bk_DescribeTransactionsResponse rs;
    bk_DescribeTransactionsResponse_init(&rs);
    int32_t n = BK_MAX(rq.TransactionalIds.n, 0);
    rs.TransactionStates.n = n;
    if (n && !(rs.TransactionStates.a =
                   BK_ARENA_NEW(req, bk_DescribeTransactionsResponse_TransactionState, n)))
        return BK_ENOMEM;
    for (int32_t i = 0; i < n; i++) {
        bk_DescribeTransactionsResponse_TransactionState *st = &rs.TransactionStates.a[i];
        bk_codec_init(&bk_desc_DescribeTransactionsResponse_TransactionState, st);
        bk_str id = rq.TransactionalIds.a[i];
        st->TransactionalId = id.len < 0 ? bk_str_c("") : id;
        bk_txn_info in;
        if (!b->tcoord) {
            st->ErrorCode = BK_KERR_COORDINATOR_NOT_AVAILABLE;
        } else if (id.len <= 0) {
            st->ErrorCode = BK_KERR_INVALID_REQUEST;
        } else if (!bk_authorized(b, req, BK_OP_DESCRIBE, BK_RES_TRANSACTIONAL_ID, id.p,
                                  (size_t)id.len)) {
            st->ErrorCode = BK_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
        } else if ((st->ErrorCode = bk_txn_coord_check(b, id.p, (size_t)id.len)) !=
                   BK_KERR_NONE) {
        } else if ((st->ErrorCode = bk_tcoord_describe(b->tcoord, id.p, (size_t)id.len, &in)) ==
                   BK_KERR_NONE) {
            st->TransactionState = bk_str_c(bk_txn_state_name(in.state));
            st->TransactionTimeoutMs = in.timeout_ms;
            st->TransactionStartTimeMs = in.start_ts;
            st->ProducerId = in.pid;
            st->ProducerEpoch = in.epoch;
            if (describe_topics(req, &in, st) != 0)
                return BK_ENOMEM;
        }
    }
    return BK_RESPOND(req, DescribeTransactionsResponse, ver, &rs);
}

/* ------------------------------------------------------------ ListTransactions */

int bk_h_list_transactions(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_ListTransactionsRequest rq;
    BK_DECODE(req, ListTransactionsRequest, &rq);
    bk_ListTransactionsResponse rs;
    bk_ListTransactionsResponse_init(&rs);
    if (!b->tcoord) {
        rs.ErrorCode = BK_KERR_COORDINATOR_NOT_AVAILABLE;
        return BK_RESPOND(req, ListTransactionsResponse, ver, &rs);
    }
    /* Unknown state names are reported back and otherwise ignored (so
     * only unknown names = no state filter), as Kafka does. */
    bool want[BK_TXN_PREPARE_EPOCH_FENCE + 1] = {false};
    bool by_state = false;
    int32_t ns = BK_MAX(rq.StateFilters.n, 0);
    if (ns && !(rs.UnknownStateFilters.a = BK_ARENA_NEW(req, bk_str, ns)))
        return BK_ENOMEM;
    for (int32_t i = 0; i < ns; i++) {
        bk_str s = rq.StateFilters.a[i];
        int st = s.len < 0 ? -1 : bk_txn_state_parse(s.p, (size_t)s.len);
        if (st < 0) {
            rs.UnknownStateFilters.a[rs.UnknownStateFilters.n++] = s.len < 0 ? bk_str_c("") : s;
        } else {
            want[st] = true;
            by_state = true;
        }
    }
    int32_t npid = BK_MAX(rq.ProducerIdFilters.n, 0);
    int64_t duration = ver >= 1 ? rq.DurationFilter : -1;
    int64_t now = bk_tcoord_wall_ms(b->tcoord);
    int total = bk_tcoord_count(b->tcoord);
    if (total && !(rs.TransactionStates.a =
                       BK_ARENA_NEW(req, bk_ListTransactionsResponse_TransactionState, total)))
        return BK_ENOMEM;
    for (int i = 0; i < total; i++) {
        bk_txn_info in;
        bk_tcoord_info_at(b->tcoord, i, &in);
        if (in.state == BK_TXN_DEAD ||
            bk_txn_coord_check(b, in.txn_id, strlen(in.txn_id)) != BK_KERR_NONE)
            continue;
        if (by_state &&
            !(in.state >= 0 && in.state <= BK_TXN_PREPARE_EPOCH_FENCE && want[in.state]))
            continue;
        if (npid) {
            bool hit = false;
            for (int32_t j = 0; j < npid && !hit; j++)
                hit = rq.ProducerIdFilters.a[j] == in.pid;
            if (!hit)
                continue;
        }
        if (duration >= 0 && now - in.start_ts <= duration)
            continue;
        /* authorization: only the ids it may DESCRIBE (Kafka) */
        if (!bk_authorized(b, req, BK_OP_DESCRIBE, BK_RES_TRANSACTIONAL_ID, in.txn_id,
                           strlen(in.txn_id)))
            continue;
        bk_ListTransactionsResponse_TransactionState *o =
            &rs.TransactionStates.a[rs.TransactionStates.n++];
        o->TransactionalId = bk_str_c(in.txn_id);
        o->ProducerId = in.pid;
        o->TransactionState = bk_str_c(bk_txn_state_name(in.state));
    }
    return BK_RESPOND(req, ListTransactionsResponse, ver, &rs);
}
