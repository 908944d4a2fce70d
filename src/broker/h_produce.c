/*
 * h_produce.c - Produce (key 0), advertised v0-v11.
 *
 * Versions. v3-v11 are implemented (v9+ flexible). v0-v2 carry message
 * format v0/v1, which Brook does not store (no up-conversion): every
 * partition of such a request is answered UNSUPPORTED_VERSION, as Kafka 4
 * does. They are still advertised because librdkafka 2.0.2 only compresses
 * (gzip/snappy/lz4) when the broker's Produce range includes version 0
 * (CLIENTS.md 2.1; Kafka PR #18727 / KAFKA-18659 made the same choice).
 *
 * Data path (STYLE.md "Produce"): the records are a slice of the
 * connection's input buffer; storage/validate.c checks them and writes
 * baseOffset and partitionLeaderEpoch in place (no copy unless the topic's
 * compression.type forces a recompression), bk_plog_append() pwrites them.
 * Then the high watermark moves (single node: HW = LEO) and the fetches
 * waiting on the partition are woken (purgatory.h).
 *
 * Per-partition errors, in Kafka's order:
 *   UNKNOWN_TOPIC_OR_PARTITION  no such topic/partition (Produce never
 *                               creates topics; the client's Metadata
 *                               request does, when auto-creation is on)
 *   INVALID_REQUIRED_ACKS       acks not in {-1, 0, 1}
 *   INVALID_TOPIC_EXCEPTION     a client writing to an internal topic
 *   NOT_ENOUGH_REPLICAS         acks=-1 and ISR (1) < min.insync.replicas
 *   KAFKA_STORAGE_ERROR         the log is offline (a past I/O error) or
 *                               this append failed: EIO takes the log
 *                               offline, ENOSPC only rejects this write
 *                               (NOT_LEADER_OR_FOLLOWER for v3, which
 *                               predates the code - Kafka maps it too)
 *   the validator's errors      CORRUPT_MESSAGE, MESSAGE_TOO_LARGE,
 *                               INVALID_RECORD (+ RecordErrors, v8+),
 *                               INVALID_TIMESTAMP, UNSUPPORTED_COMPRESSION_TYPE
 *   INVALID_TXN_STATE           a transactional batch for a partition the
 *                               transaction coordinator has not added to
 *                               the producer's transaction (KIP-890 part 1,
 *                               transaction.partition.verification.enable;
 *                               checked only for the first write of a
 *                               transaction to the partition), or a plain
 *                               batch while the producer has one open here
 *   the producer state's errors INVALID_PRODUCER_EPOCH (older epoch),
 *                               OUT_OF_ORDER_SEQUENCE_NUMBER (a gap)
 *
 * Idempotence (storage/plog.h, producer state). A batch with a producer id
 * is checked against the partition's producer state after validation and
 * before the append: a retry of one of the producer's last 5 batches is
 * answered with the offsets of the original and not written again.
 * bk_plog_append() records every appended batch in the producer state.
 *
 * acks. 1 and -1 answer once appended: with a single replica the ISR is
 * this broker and the HW equals the LEO after every append. With
 * replication, acks=-1 parks a DelayedProduce (purgatory.h, BK_WAKE_HW)
 * at the marked place below until the HW covers the last offset. acks=0
 * sends no response; if any partition failed the connection is closed so
 * the producer notices (Kafka's behaviour).
 *
 * A failed partition reports BaseOffset -1, LogAppendTimeMs -1 and
 * LogStartOffset -1, as Kafka's PartitionResponse(error).
 */
#include "api_table.h"

#include "../core/clock.h"
#include "../core/log.h"
#include "../core/metrics.h"
#include "../txn/tcoord.h"
#include "replica.h"

static int16_t append_one(bk_broker *b, bk_req *req, int16_t ver, int16_t acks, bk_partition *p,
                          const bk_records *recs, bk_ProduceResponse_PartitionProduceResponse *pr,
                          int64_t *last, int64_t *appended)
{
    const bk_topic *tp = p->topic;
    bk_plog *l = p->log;
    int16_t lerr = bk_leader_check(b, p);
    if (lerr != BK_KERR_NONE)
        return lerr;
    if (tp->internal)
        return BK_KERR_INVALID_TOPIC_EXCEPTION;
    if (!l || l->offline)
        return BK_KERR_KAFKA_STORAGE_ERROR;
    if (acks == -1 && tp->cfg.min_insync_replicas > p->nisr) {
        pr->ErrorMessage = bk_str_c("The size of the current ISR is insufficient to satisfy the "
                                    "min.isr requirement");
        return BK_KERR_NOT_ENOUGH_REPLICAS;
    }
    size_t len = recs->len > 0 ? (size_t)recs->len : 0;
    /* The records are a slice of the connection's input buffer, which this
     * request owns until it is done: validate may patch them in place. */
    uint8_t *data = (uint8_t *)recs->p;
    int64_t now = bk_wall_ms();
    bk_validate_cfg vc;
    bk_validate_cfg_default(&vc);
    vc.next_offset = bk_plog_leo(l);
    vc.leader_epoch = p->leader_epoch;
    vc.timestamp_type = tp->cfg.timestamp_type;
    vc.now_ms = now;
    vc.max_message_bytes = tp->cfg.max_message_bytes;
    vc.timestamp_before_max_ms = tp->cfg.ts_before_max_ms;
    vc.timestamp_after_max_ms = tp->cfg.ts_after_max_ms;
    vc.compression = tp->cfg.compression == BK_TCOMP_PRODUCER ? BK_VALIDATE_COMPRESSION_PRODUCER
                                                              : tp->cfg.compression;
    vc.compacted = tp->cfg.cleanup_compact;
    vc.produce_version = ver;
    bk_validate_result res;
    if (bk_validate_records(data, len, &vc, &b->vscratch, &res) != 0) {
        if (res.error_message)
            pr->ErrorMessage = bk_str_c(res.error_message);
        int32_t ne = BK_MIN(res.n_record_errors, BK_VALIDATE_MAX_RECORD_ERRORS);
        if (ne > 0 && ver >= 8) {
            pr->RecordErrors.a =
                BK_ARENA_NEW(req, bk_ProduceResponse_BatchIndexAndErrorMessage, ne);
            if (pr->RecordErrors.a) {
                pr->RecordErrors.n = ne;
                for (int32_t i = 0; i < ne; i++) {
                    pr->RecordErrors.a[i].BatchIndex = res.record_errors[i];
                    pr->RecordErrors.a[i].BatchIndexErrorMessage = (bk_str){NULL, -1};
                }
            }
        }
        return res.error != BK_KERR_NONE ? res.error : BK_KERR_UNKNOWN_SERVER_ERROR;
    }

    /* Idempotence and transactions (validation has made sure of one v2
     * batch, so res.data starts with its header). */
    if (res.len >= BK_BATCH_HDR && bk_batch_producer_id(res.data) >= 0) {
        const uint8_t *h = res.data;
        int64_t pid = bk_batch_producer_id(h);
        /* KIP-890 part 1: the first transactional write of a producer to a
         * partition must be one the coordinator knows about. */
        if (bk_batch_is_transactional(h) && b->cfg->transaction_partition_verification_enable &&
            !bk_plog_txn_open(l, pid)) {
            int16_t verr = b->tcoord ? bk_tcoord_verify(b->tcoord, pid, bk_batch_producer_epoch(h),
                                                        tp->name, strlen(tp->name), p->index)
                                     : BK_KERR_INVALID_TXN_STATE;
            if (verr != BK_KERR_NONE) {
                pr->ErrorMessage = bk_str_c("The partition was not added to the transaction");
                return verr;
            }
        }
        bk_pdup dup;
        const char *msg = NULL;
        int16_t perr = bk_plog_check_batch(l, h, res.len, &dup, &msg);
        if (perr != BK_KERR_NONE) {
            if (msg)
                pr->ErrorMessage = bk_str_c(msg);
            return perr;
        }
        if (dup.first_offset >= 0) {
            /* A retry of a batch already in the log: answer what the
             * first append answered, write nothing (Kafka answers the
             * duplicate's offsets with LogAppendTime -1). */
            pr->BaseOffset = dup.first_offset;
            pr->LogAppendTimeMs = -1;
            pr->LogStartOffset = l->log_start;
            *last = dup.last_offset;
            return BK_KERR_NONE;
        }
    }

    int r = bk_plog_append(l, res.data, res.len, res.first_offset, res.last_offset,
                           res.max_timestamp, res.offset_of_max_timestamp, now);
    if (r == 0)
        *appended = res.last_offset - res.first_offset + 1;
    if (r != 0) {
        bk_log_rl(BK_LOG_ERROR, "append to %s-%d failed: %s%s", tp->name, p->index, bk_strerror(r),
                  l->offline ? " (log now offline)" : "");
        pr->ErrorMessage = bk_str_c(r == BK_ENOSPC ? "No space left on the log directory"
                                                   : "I/O error on the log directory");
        return BK_KERR_KAFKA_STORAGE_ERROR;
    }
    /* Single node: the ISR is this broker, so the HW follows the LEO.
     * Cluster mode: the HW is min LEO over the ISR (replica.h); acks=-1
     * waits below (bk_h_produce) until hw > last_offset. */
    if (b->cluster)
        bk_replica_appended(b, p);
    else
        l->hw = bk_plog_leo(l);
    pr->BaseOffset = res.first_offset;
    pr->LogAppendTimeMs = res.log_append_time;
    pr->LogStartOffset = l->log_start;
    *last = res.last_offset;
    bk_purgatory_notify(&b->purg, p, BK_WAKE_DATA | BK_WAKE_HW, res.len);
    return BK_KERR_NONE;
}

/*
 * Durable before acknowledged. When the topic's flush.messages (or the
 * broker's log.flush.interval.messages) is reached by an append, Kafka
 * flushes the log inline before it answers. Brook never fsyncs on the loop
 * thread: it starts the flush on a bio thread and parks the response until
 * the recovery point covers every such partition's last offset (woken by
 * BK_WAKE_FLUSH). A log that goes offline meanwhile answers
 * KAFKA_STORAGE_ERROR; a flush that does not come within the request's
 * timeout (at least 30 s) answers REQUEST_TIMED_OUT. Partitions are looked
 * up again by name at the end: the topic may have been deleted meanwhile.
 */
typedef struct durable_part {
    bk_str topic; /* borrowed from the request frame (kept until done) */
    int32_t index;
    int64_t last;
    bk_ProduceResponse_PartitionProduceResponse *pr;
    bool flush;    /* wait for the recovery point (flush.messages) */
    bool repl;     /* acks=-1 in cluster mode: wait for the HW */
    int32_t epoch; /* leader epoch at the append */
} durable_part;

typedef struct durable_ctx {
    bk_delayed d; /* first: the purgatory hands it back */
    bk_broker *b;
    bk_req *req;
    int16_t ver;
    bk_ProduceResponse rs;
    durable_part *parts;
    int n;
} durable_ctx;

/*
 * 1 done, 0 not yet, < 0 failed with that (negated) error. Replication
 * (Kafka's DelayedProduce / checkEnoughReplicasReachOffset): the leader
 * changed (another broker, or a new epoch) -> NOT_LEADER_OR_FOLLOWER; the
 * HW passed the last offset -> done, unless the ISR is now below
 * min.insync.replicas -> NOT_ENOUGH_REPLICAS_AFTER_APPEND.
 */
static int durable_state(bk_broker *b, const durable_part *dp)
{
    bk_partition *p = bk_broker_partition(b, dp->topic, dp->index);
    if (!p)
        return -BK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    if (dp->repl && (bk_leader_check(b, p) != BK_KERR_NONE || p->leader_epoch != dp->epoch))
        return -BK_KERR_NOT_LEADER_OR_FOLLOWER;
    if (!p->log || p->log->offline)
        return -BK_KERR_KAFKA_STORAGE_ERROR;
    if (dp->flush && p->log->recovery_point <= dp->last)
        return 0;
    if (dp->repl) {
        if (p->log->hw <= dp->last)
            return 0;
        if (p->nisr < p->topic->cfg.min_insync_replicas)
            return -BK_KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND;
    }
    return 1;
}

static bool durable_on_event(bk_delayed *d, unsigned what, uint64_t bytes)
{
    durable_ctx *x = (durable_ctx *)d;
    for (int i = 0; i < x->n; i++)
        if (durable_state(x->b, &x->parts[i]) == 0)
            return false;
    return true;
}

static void durable_complete(bk_delayed *d, bool expired)
{
    durable_ctx *x = (durable_ctx *)d;
    bk_req *req = x->req;
    req->hctx = NULL;
    if (req->conn->closing) {
        bk_req_done(req, 0);
        return;
    }
    for (int i = 0; i < x->n; i++) {
        int st = durable_state(x->b, &x->parts[i]);
        if (st == 1)
            continue;
        bk_ProduceResponse_PartitionProduceResponse *pr = x->parts[i].pr;
        pr->ErrorCode = st < 0 ? (int16_t)-st : BK_KERR_REQUEST_TIMED_OUT;
        if (pr->ErrorCode == BK_KERR_KAFKA_STORAGE_ERROR && x->ver < 4)
            pr->ErrorCode = BK_KERR_NOT_LEADER_OR_FOLLOWER;
        pr->BaseOffset = -1;
        pr->LogAppendTimeMs = -1;
        pr->LogStartOffset = -1;
    }
    bk_req_done(req, BK_RESPOND(req, ProduceResponse, x->ver, &x->rs));
}

/* Park the response until parts are durable. 0 parked; < 0 answer now. */
static int park_durable(bk_broker *b, bk_req *req, int16_t ver, const bk_ProduceResponse *rs,
                        durable_part *parts, int n, int32_t timeout_ms)
{
    durable_ctx *x = BK_ARENA_NEW(req, durable_ctx, 1);
    bk_partition **pp = BK_ARENA_NEW(req, bk_partition *, n);
    bk_watch *nodes = BK_ARENA_NEW(req, bk_watch, n);
    if (!x || !pp || !nodes)
        return BK_ENOMEM;
    x->b = b;
    x->req = req;
    x->ver = ver;
    x->rs = *rs;
    x->parts = parts;
    x->n = n;
    for (int i = 0; i < n; i++)
        pp[i] = bk_broker_partition(b, parts[i].topic, parts[i].index);
    bool any_flush = false;
    for (int i = 0; i < n; i++)
        any_flush |= parts[i].flush;
    x->d.wants = BK_WAKE_FLUSH | BK_WAKE_HW;
    x->d.kind = BK_DELAYED_PRODUCE;
    x->d.on_event = durable_on_event;
    x->d.complete = durable_complete;
    /* a flush gets at least 30 s; replication gets the request's timeout */
    int64_t deadline = req->recv_ms + (any_flush ? BK_MAX((int64_t)timeout_ms, 30000)
                                                 : BK_MAX((int64_t)timeout_ms, 0));
    int rc = bk_delayed_park(&b->purg, &x->d, deadline, pp, nodes, n);
    if (rc == 0)
        req->hctx = &x->d;
    return rc;
}

int bk_h_produce(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_ProduceRequest rq;
    BK_DECODE(req, ProduceRequest, &rq);

    bk_ProduceResponse rs;
    bk_ProduceResponse_init(&rs);
    rs.ThrottleTimeMs = 0;
    int32_t nt = BK_MAX(rq.TopicData.n, 0);
    rs.Responses.n = nt;
    if (nt > 0 &&
        !(rs.Responses.a = BK_ARENA_NEW(req, bk_ProduceResponse_TopicProduceResponse, nt)))
        return BK_ENOMEM;
    bool acks_ok = rq.Acks == 0 || rq.Acks == 1 || rq.Acks == -1;
    bool failed = false;
    durable_part *durable = NULL;
    int ndurable = 0, capdurable = 0;

    for (int32_t i = 0; i < nt; i++) {
        const bk_ProduceRequest_TopicProduceData *td = &rq.TopicData.a[i];
        bk_ProduceResponse_TopicProduceResponse *tr = &rs.Responses.a[i];
        tr->Name = td->Name;
        int32_t np = BK_MAX(td->PartitionData.n, 0);
        tr->PartitionResponses.n = np;
        if (np > 0 && !(tr->PartitionResponses.a =
                            BK_ARENA_NEW(req, bk_ProduceResponse_PartitionProduceResponse, np)))
            return BK_ENOMEM;
        for (int32_t k = 0; k < np; k++) {
            const bk_ProduceRequest_PartitionProduceData *pd = &td->PartitionData.a[k];
            bk_ProduceResponse_PartitionProduceResponse *pr = &tr->PartitionResponses.a[k];
            bk_codec_init(&bk_desc_ProduceResponse_PartitionProduceResponse, pr);
            pr->Index = pd->Index;
            pr->BaseOffset = -1;
            pr->LogAppendTimeMs = -1;
            pr->LogStartOffset = -1;
            int16_t err;
            int64_t appended = 0;
            bk_partition *p = bk_broker_partition(b, td->Name, pd->Index);
            if (ver < 3)
                err = BK_KERR_UNSUPPORTED_VERSION;
            else if (!p)
                err = BK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            else if (!acks_ok)
                err = BK_KERR_INVALID_REQUIRED_ACKS;
            else {
                int64_t last = -1;
                err = append_one(b, req, ver, rq.Acks, p, &pd->Records, pr, &last, &appended);
                bk_plog *l = p->log;
                bool flush = false, repl = false;
                if (err == BK_KERR_NONE && l->cfg.flush_messages != INT64_MAX &&
                    l->unflushed >= l->cfg.flush_messages) {
                    bk_logmgr_flush_now(b->logmgr, l, bk_wall_ms());
                    flush = rq.Acks != 0 && l->recovery_point <= last;
                }
                /* the marked place: acks=-1 waits for the ISR (HW > last) */
                if (err == BK_KERR_NONE && b->cluster && rq.Acks == -1 && l->hw <= last)
                    repl = true;
                if (flush || repl) {
                    {
                        if (ndurable == capdurable) {
                            int ncap = capdurable ? capdurable * 2 : 8;
                            durable_part *nd = BK_ARENA_NEW(req, durable_part, ncap);
                            if (!nd)
                                return BK_ENOMEM;
                            if (ndurable)
                                memcpy(nd, durable, sizeof *nd * (size_t)ndurable);
                            durable = nd;
                            capdurable = ncap;
                        }
                        durable[ndurable++] = (durable_part){td->Name, pd->Index, last, pr,
                                                             flush,    repl,      p->leader_epoch};
                    }
                }
            }
            if (err == BK_KERR_KAFKA_STORAGE_ERROR && ver < 4)
                err = BK_KERR_NOT_LEADER_OR_FOLLOWER;
            pr->ErrorCode = err;
            /* BrokerTopicMetrics (metrics.h): plain loop-thread counters */
            bk_topic_counters *tc =
                p ? bk_metrics_topic(p->topic->name, strlen(p->topic->name)) : NULL;
            uint64_t inb = pd->Records.len > 0 ? (uint64_t)pd->Records.len : 0;
            bk_metrics_g.all.produce_reqs++;
            if (tc)
                tc->produce_reqs++;
            if (appended > 0) {
                bk_metrics_g.all.messages_in += (uint64_t)appended;
                bk_metrics_g.all.bytes_in += inb;
                if (tc) {
                    tc->messages_in += (uint64_t)appended;
                    tc->bytes_in += inb;
                }
            }
            if (err != BK_KERR_NONE) {
                bk_metrics_g.all.failed_produce++;
                bk_metrics_g.all.bytes_rejected += inb;
                if (tc) {
                    tc->failed_produce++;
                    tc->bytes_rejected += inb;
                }
                failed = true;
                pr->BaseOffset = -1;
                pr->LogAppendTimeMs = -1;
                pr->LogStartOffset = -1;
            }
        }
    }

    if (rq.Acks == 0) {
        /* No response. A producer that gets none cannot learn about an
         * error, so Kafka closes the connection instead. */
        if (failed)
            bk_conn_fail(req->conn, BK_LOG_DEBUG, "acks=0 produce request failed");
        return 0;
    }
    if (ndurable > 0) {
        /* the flush may have completed already (no bio threads: inline) */
        bool all = true;
        for (int i = 0; i < ndurable && all; i++)
            all = durable_state(b, &durable[i]) != 0;
        if (!all && park_durable(b, req, ver, &rs, durable, ndurable, rq.TimeoutMs) == 0)
            return BK_EAGAIN;
        /* durable already, failed, or nothing parked (out of memory):
         * answer now with the per-partition outcome */
        for (int i = 0; i < ndurable; i++) {
            int st = durable_state(b, &durable[i]);
            if (st == 1)
                continue;
            bk_ProduceResponse_PartitionProduceResponse *pr = durable[i].pr;
            pr->ErrorCode = st < 0 ? (int16_t)-st : BK_KERR_REQUEST_TIMED_OUT;
            pr->BaseOffset = -1;
            pr->LogAppendTimeMs = -1;
            pr->LogStartOffset = -1;
        }
    }
    return BK_RESPOND(req, ProduceResponse, ver, &rs);
}
