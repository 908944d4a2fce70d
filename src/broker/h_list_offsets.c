/*
 * h_list_offsets.c - ListOffsets (key 2), v0-v9 (v6+ flexible).
 *
 * Per partition, by Timestamp:
 *   -2 EARLIEST, -4 EARLIEST_LOCAL (v8+)  the log start offset
 *   -1 LATEST     the high watermark for consumers (ReplicaId -1), the
 *                 last stable offset for read_committed (v2+), the LEO
 *                 for replicas and debug (-2)
 *   -3 MAX_TIMESTAMP (v7+)  the first record carrying the log's largest
 *                 timestamp, and that timestamp (KIP-734; Kafka 3.8+ returns
 *                 the record, not its batch); -1/-1 for an empty log
 *   -5 LATEST_TIERED (v9)   -1 / -1: no tiered storage
 *   other         the first record whose timestamp is >= Timestamp: the
 *                 time index finds the first batch whose max timestamp is
 *                 >= it (bk_plog_offset_for_time), then the batch is read
 *                 (and decompressed) to find the record, as Kafka does. Not
 *                 found (all older, or at/after the bound above): -1 / -1.
 * LeaderEpoch (v4+) is the epoch that wrote the returned offset: the
 * batch's partitionLeaderEpoch for a search, the leader-epoch history for
 * earliest/latest (leader_epoch.h).
 *
 * v0 answers in OldStyleOffsets, at most MaxNumOffsets of them: [latest] or
 * [earliest]; for a timestamp, [the offset found] or []. (Kafka's legacy
 * answer lists segment base offsets by file mtime; the clients that still
 * send v0 - Burrow, old Sarama - ask for latest/earliest with 1 offset.)
 *
 * Errors: UNKNOWN_TOPIC_OR_PARTITION, FENCED_LEADER_EPOCH /
 * UNKNOWN_LEADER_EPOCH (v4+ CurrentLeaderEpoch), KAFKA_STORAGE_ERROR (no
 * log, or a read failed during a search).
 */
#include "api_table.h"
#include "authz.h"

#include "../core/log.h"
#include "../storage/compress.h"
#include "leader_epoch.h"
#include "replica.h"

#include <errno.h>
#include <unistd.h>

#define TS_LATEST         (-1)
#define TS_EARLIEST       (-2)
#define TS_MAX_TIMESTAMP  (-3)
#define TS_EARLIEST_LOCAL (-4)
#define TS_LATEST_TIERED  (-5)

typedef struct found {
    int64_t offset;
    int64_t timestamp;
    int32_t epoch;
} found;

/* pread exactly n bytes at off. */
static int pread_full(int fd, uint8_t *buf, size_t n, int64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, buf + got, n - got, (off_t)(off + (int64_t)got));
        if (r == -1 && errno == EINTR)
            continue;
        if (r <= 0)
            return BK_EIO;
        got += (size_t)r;
    }
    return 0;
}

/* Read the batch holding `offset` (whole) into b->batch. 0 and *bi, or
 * BK_ENOENT (no batch below upto), or an error. */
static int read_batch(bk_broker *b, bk_plog *l, int64_t offset, int64_t upto, bk_batch_info *bi)
{
    bk_plog_slice sl;
    int r = bk_plog_read(l, offset, 0, upto, true, &sl);
    if (r != 0)
        return r == BK_ERANGE ? BK_ENOENT : r;
    if (sl.len < BK_BATCH_HDR)
        return BK_ENOENT;
    bk_wr_reset(&b->batch);
    uint8_t *p = bk_wr_take(&b->batch, BK_BATCH_HDR);
    if (!p)
        return BK_ENOMEM;
    if ((r = pread_full(sl.fd, p, BK_BATCH_HDR, sl.pos)) != 0)
        return r;
    size_t size = (size_t)(uint32_t)bk_batch_length(p) + BK_BATCH_LOG_OVERHEAD;
    if (size < BK_BATCH_HDR || size > sl.len)
        return BK_ECORRUPT;
    if (!(p = bk_wr_take(&b->batch, size - BK_BATCH_HDR)))
        return BK_ENOMEM;
    if ((r = pread_full(sl.fd, p, size - BK_BATCH_HDR, sl.pos + BK_BATCH_HDR)) != 0)
        return r;
    return bk_batch_parse(b->batch.buf, b->batch.len, bi) == 0 ? 0 : BK_ECORRUPT;
}

/*
 * The first record at or after `from` (and below upto) whose timestamp
 * satisfies ts_ok: exact (MAX_TIMESTAMP) or >= (search). 0 and *out, or
 * BK_ENOENT, or an error.
 */
static int scan_records(bk_broker *b, bk_plog *l, int64_t from, int64_t upto, int64_t ts,
                        bool exact, found *out)
{
    int64_t off = from;
    while (off < upto) {
        bk_batch_info bi;
        int r = read_batch(b, l, off, upto, &bi);
        if (r != 0)
            return r;
        int64_t last = bi.base_offset + bi.last_offset_delta;
        if (bi.max_timestamp >= ts && !bi.control) {
            const uint8_t *recs = bi.records;
            size_t rlen = bi.records_len;
            if (bi.compression != BK_COMPRESSION_NONE) {
                bk_wr_reset(&b->dec);
                r = bk_decompress(&b->zctx, bi.compression, bi.records, bi.records_len, &b->dec,
                                  BK_VALIDATE_MIN_UNCOMPRESSED_CAP);
                if (r != 0)
                    return BK_ECORRUPT;
                recs = b->dec.buf;
                rlen = b->dec.len;
            }
            bk_rec_iter it;
            bk_record rec;
            bk_rec_iter_init(&it, recs, rlen, -1);
            while (bk_rec_iter_next(&it, &rec)) {
                int64_t ro = bi.base_offset + rec.offset_delta;
                int64_t rts = bk_record_timestamp(&bi, &rec);
                if (ro < off || ro >= upto)
                    continue;
                if (exact ? rts == ts : rts >= ts) {
                    out->offset = ro;
                    out->timestamp = rts;
                    out->epoch = bi.leader_epoch >= 0 ? bi.leader_epoch : -1;
                    return 0;
                }
            }
            if (it.err)
                return BK_ECORRUPT;
        }
        off = last + 1;
    }
    return BK_ENOENT;
}

/* 0 and *out (offset -1 when there is none), or a Kafka error. */
static int16_t lookup(bk_broker *b, bk_partition *p, int64_t ts, int32_t replica_id,
                      int8_t isolation, found *out)
{
    bk_plog *l = p->log;
    out->offset = -1;
    out->timestamp = -1;
    out->epoch = -1;
    int64_t upto = replica_id != -1 ? bk_plog_leo(l) : isolation == 1 ? bk_plog_lso(l) : l->hw;
    bk_epoch_entry hist = bk_epochs_single(p->leader_epoch, l->log_start);
    int r;
    switch (ts) {
    case TS_EARLIEST:
    case TS_EARLIEST_LOCAL:
        out->offset = l->log_start;
        out->epoch = p->nepochs > 0 ? bk_epochs_epoch_for_offset((const bk_epoch_entry *)p->epochs,
                                                                 p->nepochs, l->log_start)
                                    : bk_epochs_epoch_for_offset(&hist, 1, l->log_start);
        return BK_KERR_NONE;
    case TS_LATEST:
        out->offset = upto;
        out->epoch = hist.epoch;
        return BK_KERR_NONE;
    case TS_LATEST_TIERED:
        return BK_KERR_NONE;
    case TS_MAX_TIMESTAMP: {
        int64_t mts, moff;
        bk_plog_max_timestamp(l, &mts, &moff);
        if (mts < 0 || moff < 0)
            return BK_KERR_NONE;
        /* moff is inside the batch holding the maximum: find the record */
        int64_t from = BK_MAX(moff, l->log_start);
        bk_plog_slice sl;
        if (bk_plog_read(l, from, 0, upto, true, &sl) == 0 && sl.len > 0)
            from = BK_MAX(sl.first_offset, l->log_start);
        r = scan_records(b, l, from, upto, mts, true, out);
        break;
    }
    default: {
        int64_t off, bts;
        r = bk_plog_offset_for_time(l, ts, &off, &bts);
        if (r == 0)
            r = scan_records(b, l, BK_MAX(off, l->log_start), upto, ts, false, out);
        break;
    }
    }
    if (r == BK_ENOENT) {
        out->offset = out->timestamp = -1;
        out->epoch = -1;
        return BK_KERR_NONE;
    }
    if (r != 0) {
        bk_log_rl(BK_LOG_ERROR, "ListOffsets on %s-%d (timestamp %lld): %s", p->topic->name,
                  p->index, (long long)ts, bk_strerror(r));
        return BK_KERR_KAFKA_STORAGE_ERROR;
    }
    return BK_KERR_NONE;
}

int bk_h_list_offsets(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_ListOffsetsRequest rq;
    BK_DECODE(req, ListOffsetsRequest, &rq);
    bk_ListOffsetsResponse rs;
    bk_ListOffsetsResponse_init(&rs);
    rs.ThrottleTimeMs = 0;
    int32_t nt = BK_MAX(rq.Topics.n, 0);
    rs.Topics.n = nt;
    if (nt > 0 &&
        !(rs.Topics.a = BK_ARENA_NEW(req, bk_ListOffsetsResponse_ListOffsetsTopicResponse, nt)))
        return BK_ENOMEM;
    for (int32_t i = 0; i < nt; i++) {
        const bk_ListOffsetsRequest_ListOffsetsTopic *qt = &rq.Topics.a[i];
        bk_ListOffsetsResponse_ListOffsetsTopicResponse *tr = &rs.Topics.a[i];
        tr->Name = qt->Name;
        int32_t np = BK_MAX(qt->Partitions.n, 0);
        tr->Partitions.n = np;
        if (np > 0 && !(tr->Partitions.a = BK_ARENA_NEW(
                            req, bk_ListOffsetsResponse_ListOffsetsPartitionResponse, np)))
            return BK_ENOMEM;
        for (int32_t k = 0; k < np; k++) {
            const bk_ListOffsetsRequest_ListOffsetsPartition *qp = &qt->Partitions.a[k];
            bk_ListOffsetsResponse_ListOffsetsPartitionResponse *pr = &tr->Partitions.a[k];
            bk_codec_init(&bk_desc_ListOffsetsResponse_ListOffsetsPartitionResponse, pr);
            pr->PartitionIndex = qp->PartitionIndex;
            pr->Timestamp = -1;
            pr->Offset = -1;
            pr->LeaderEpoch = -1;
            pr->OldStyleOffsets.n = 0;
            bk_partition *p = bk_broker_partition(b, qt->Name, qp->PartitionIndex);
            found f = {-1, -1, -1};
            int16_t err;
            if (!bk_authz_topic(b, req, BK_OP_DESCRIBE, qt->Name))
                err = BK_KERR_TOPIC_AUTHORIZATION_FAILED;
            else if (!p)
                err = BK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            else if ((err = bk_leader_check(b, p)) != BK_KERR_NONE)
                ;
            else if (!p->log)
                err = BK_KERR_KAFKA_STORAGE_ERROR;
            else if (ver >= 4 && (err = bk_check_leader_epoch(p, qp->CurrentLeaderEpoch)) != 0)
                ;
            else
                err = lookup(b, p, qp->Timestamp, rq.ReplicaId, rq.IsolationLevel, &f);
            pr->ErrorCode = err;
            if (err != BK_KERR_NONE)
                continue;
            if (ver == 0) {
                if (qp->MaxNumOffsets > 0 && f.offset >= 0) {
                    int64_t *o = BK_ARENA_NEW(req, int64_t, 1);
                    if (!o)
                        return BK_ENOMEM;
                    *o = f.offset;
                    pr->OldStyleOffsets.a = o;
                    pr->OldStyleOffsets.n = 1;
                }
                continue;
            }
            pr->Timestamp = f.timestamp;
            pr->Offset = f.offset;
            if (ver >= 4)
                pr->LeaderEpoch = f.epoch;
        }
    }
    return BK_RESPOND(req, ListOffsetsResponse, ver, &rs);
}
