/*
 * validate.c - Produce-side batch validation and in-place offset assignment.
 *
 * Two passes over the input. The first frames the batches the way Kafka's
 * ByteBufferLogInputStream does (header fields only) so that the request-
 * level rules (magic, one batch) are decided before any batch is checked,
 * as in Kafka. The second checks each batch, walks its records and patches
 * the header, or rebuilds the batch when the topic's codec differs.
 */
#include "validate.h"

#include "../core/err.h"

#include <limits.h>

/* LegacyRecord.RECORD_OVERHEAD_V0: ByteBufferLogInputStream's lower bound
 * on the size field before it even looks at the magic. */
#define MIN_SIZE_FIELD 14

void bk_validate_scratch_init(bk_validate_scratch *s)
{
    bk_wr_init(&s->dec, 0);
    bk_wr_init(&s->out, 0);
    bk_wr_init(&s->tmp, 0);
    bk_zctx_init(&s->z);
}

void bk_validate_scratch_fini(bk_validate_scratch *s)
{
    bk_wr_fini(&s->dec);
    bk_wr_fini(&s->out);
    bk_wr_fini(&s->tmp);
    bk_zctx_fini(&s->z);
}

void bk_validate_cfg_default(bk_validate_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->leader_epoch = -1;
    cfg->timestamp_type = BK_TIMESTAMP_CREATE;
    cfg->max_message_bytes = 1048588;
    cfg->timestamp_before_max_ms = INT64_MAX;
    cfg->timestamp_after_max_ms = INT64_MAX;
    cfg->compression = BK_VALIDATE_COMPRESSION_PRODUCER;
    cfg->produce_version = 9;
}

static int reject(bk_validate_result *res, int16_t kerr, int32_t batch, const char *msg)
{
    res->error = kerr;
    res->error_batch = batch;
    res->error_message = msg;
    res->data = NULL;
    res->len = 0;
    return kerr == BK_KERR_UNKNOWN_SERVER_ERROR ? BK_ENOMEM : BK_EINVAL;
}

static void record_error(bk_validate_result *res, int32_t index, bool *ts_err, bool is_ts)
{
    if (res->n_record_errors < BK_VALIDATE_MAX_RECORD_ERRORS)
        res->record_errors[res->n_record_errors] = index;
    if (res->n_record_errors < INT32_MAX)
        res->n_record_errors++;
    if (is_ts)
        *ts_err = true;
}

/*
 * Pass 1: frame the batches. Returns the number of complete batches (or
 * -1 after reject()), and in *valid_len the bytes they span.
 */
static int32_t frame(const uint8_t *in, size_t len, const bk_validate_cfg *cfg,
                     bk_validate_result *res, size_t *valid_len)
{
    size_t pos = 0;
    int32_t n = 0;
    for (;;) {
        size_t left = len - pos;
        if (left < BK_BATCH_LOG_OVERHEAD)
            break;
        const uint8_t *p = in + pos;
        int32_t sz = bk_batch_length(p);
        if (sz < MIN_SIZE_FIELD) {
            reject(res, BK_KERR_CORRUPT_MESSAGE, n,
                   "Record size is less than the minimum record overhead (14)");
            return -1;
        }
        if (left < BK_BATCH_OFF_MAGIC + 1)
            break;
        int8_t magic = bk_batch_magic(p);
        if (magic < 0 || magic > BK_BATCH_MAGIC) {
            reject(res, BK_KERR_CORRUPT_MESSAGE, n, "Invalid magic found in record");
            return -1;
        }
        size_t size = (size_t)sz + BK_BATCH_LOG_OVERHEAD;
        if (left < size)
            break; /* incomplete trailing batch: dropped, as Kafka does */
        if (n == 0) {
            if (magic != BK_BATCH_MAGIC) {
                if (cfg->produce_version >= 3)
                    reject(res, BK_KERR_INVALID_RECORD, 0,
                           "Produce requests with version 3 or later are only allowed to "
                           "contain record batches with magic version 2");
                else
                    reject(res, BK_KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT, 0,
                           "Message format v0/v1 is not supported: use magic 2");
                return -1;
            }
            if (cfg->produce_version >= 3 && cfg->produce_version < 7 &&
                bk_batch_compression(p) == BK_COMPRESSION_ZSTD) {
                reject(res, BK_KERR_UNSUPPORTED_COMPRESSION_TYPE, 0,
                       "Produce requests with version below 7 are not allowed to use ZStandard "
                       "compression");
                return -1;
            }
        } else {
            if (!cfg->allow_multi_batch) {
                reject(res, BK_KERR_INVALID_RECORD, n,
                       "Produce requests are only allowed to contain exactly one record batch "
                       "per partition");
                return -1;
            }
            if (magic != BK_BATCH_MAGIC) {
                reject(res, BK_KERR_INVALID_RECORD, n,
                       "Batch magic is not the same as the first batch's magic byte");
                return -1;
            }
        }
        if (n == INT32_MAX)
            break;
        n++;
        pos += size;
    }
    if (n == 0) {
        reject(res, BK_KERR_INVALID_RECORD, -1,
               "Produce request must have at least one record "
               "batch per partition");
        return -1;
    }
    *valid_len = pos;
    return n;
}

/* Decompression cap for one batch. */
static size_t uncompressed_cap(const bk_validate_cfg *cfg)
{
    if (cfg->max_uncompressed_bytes)
        return cfg->max_uncompressed_bytes;
    size_t m = cfg->max_message_bytes > 0 ? (size_t)cfg->max_message_bytes * 16 : 0;
    return m > BK_VALIDATE_MIN_UNCOMPRESSED_CAP ? m : BK_VALIDATE_MIN_UNCOMPRESSED_CAP;
}

/* Header-level checks of one complete batch (step 3). */
static int check_header(const uint8_t *p, size_t size, int32_t idx, const bk_validate_cfg *cfg,
                        bk_validate_result *res, bk_batch_info *b)
{
    if (!cfg->internal && bk_batch_base_offset(p) != 0)
        return reject(res, BK_KERR_INVALID_RECORD, idx,
                      "The baseOffset of the record batch should be 0");
    if (cfg->max_message_bytes >= 0 && size > (size_t)cfg->max_message_bytes)
        return reject(res, BK_KERR_MESSAGE_TOO_LARGE, idx,
                      "The record batch size exceeds the maximum configured value "
                      "(max.message.bytes)");
    if (size < BK_BATCH_HEADER_SIZE)
        return reject(res, BK_KERR_CORRUPT_MESSAGE, idx,
                      "Record batch is corrupt (size smaller than the minimum allowed "
                      "overhead 61)");
    if (!bk_batch_crc_ok(p, size))
        return reject(res, BK_KERR_CORRUPT_MESSAGE, idx, "Record is corrupt (CRC mismatch)");
    if (bk_batch_parse(p, size, b) != 0) /* cannot fail after the above */
        return reject(res, BK_KERR_CORRUPT_MESSAGE, idx, "Record batch is corrupt");
    if (b->compression > BK_COMPRESSION_MAX)
        return reject(res, BK_KERR_UNSUPPORTED_COMPRESSION_TYPE, idx,
                      "Unknown compression type id");
    if (!cfg->internal) {
        if (b->last_offset_delta < 0)
            return reject(res, BK_KERR_INVALID_RECORD, idx, "Batch has an invalid offset range");
        if (b->record_count <= 0)
            return reject(res, BK_KERR_INVALID_RECORD, idx,
                          "Invalid reported count for record batch");
        if ((int64_t)b->record_count != (int64_t)b->last_offset_delta + 1)
            return reject(res, BK_KERR_INVALID_RECORD, idx,
                          "Inconsistent batch offset range and count of records");
        if (b->control)
            return reject(res, BK_KERR_INVALID_RECORD, idx,
                          "Clients are not allowed to write control records");
        if (b->producer_id >= 0 && b->base_sequence < 0)
            return reject(res, BK_KERR_INVALID_RECORD, idx,
                          "Invalid sequence number in record batch with producerId");
    } else if (b->record_count < 0 || b->last_offset_delta < 0 ||
               (int64_t)b->record_count > (int64_t)b->last_offset_delta + 1) {
        return reject(res, BK_KERR_INVALID_RECORD, idx, "Inconsistent batch offset range");
    }
    return 0;
}

/* Rebuild batch b with codec tgt into s->out (slow path). */
static int rebuild(const bk_batch_info *b, const uint8_t *recs, size_t recs_len, int tgt,
                   int64_t base_offset, const bk_validate_cfg *cfg, bk_validate_scratch *s,
                   size_t *new_size)
{
    bk_batch_opts o = BK_BATCH_OPTS_DEFAULT;
    o.base_offset = base_offset;
    o.leader_epoch = cfg->leader_epoch;
    o.compression = tgt;
    o.timestamp_type = cfg->timestamp_type;
    o.log_append_time = cfg->now_ms;
    o.transactional = b->transactional;
    o.control = b->control;
    o.producer_id = b->producer_id;
    o.producer_epoch = b->producer_epoch;
    o.base_sequence = b->base_sequence;
    o.compress = bk_compress;
    o.scratch = &s->tmp;
    bk_batch_builder bb;
    size_t start = s->out.len;
    int rc = bk_batch_builder_init(&bb, &s->out, &o);
    bk_rec_iter it;
    bk_record r;
    bk_rec_iter_init(&it, recs, recs_len, b->record_count);
    while (rc == 0 && bk_rec_iter_next(&it, &r))
        rc = bk_batch_builder_add_record(&bb, bk_record_timestamp(b, &r), &r);
    if (rc == 0 && it.err)
        rc = it.err; /* cannot happen: the records were checked */
    if (rc == 0)
        rc = bk_batch_builder_finish(&bb);
    bk_batch_builder_fini(&bb);
    *new_size = s->out.len - start;
    return rc;
}

int bk_validate_records(uint8_t *records, size_t len, const bk_validate_cfg *cfg,
                        bk_validate_scratch *s, bk_validate_result *res)
{
    memset(res, 0, sizeof *res);
    res->error = BK_KERR_NONE;
    res->error_batch = -1;
    res->first_offset = cfg->next_offset;
    res->last_offset = -1;
    res->max_timestamp = BK_NO_TIMESTAMP;
    res->offset_of_max_timestamp = -1;
    bool lat = cfg->timestamp_type == BK_TIMESTAMP_LOG_APPEND;
    res->log_append_time = lat ? cfg->now_ms : BK_NO_TIMESTAMP;

    size_t valid_len = 0;
    int32_t nb = frame(records, len, cfg, res, &valid_len);
    if (nb < 0)
        return BK_EINVAL;

    size_t cap = uncompressed_cap(cfg);
    int64_t next = cfg->next_offset;
    bool copying = false; /* output goes to s->out from here on */
    bk_wr_reset(&s->out);
    size_t pos = 0;
    for (int32_t idx = 0; idx < nb; idx++) {
        uint8_t *p = records + pos;
        size_t size = bk_batch_size(p);
        bk_batch_info b;
        int rc = check_header(p, size, idx, cfg, res, &b);
        if (rc)
            return rc;
        if (next > INT64_MAX - ((int64_t)b.last_offset_delta + 1) ||
            res->record_count > INT32_MAX - b.record_count)
            return reject(res, BK_KERR_INVALID_RECORD, idx, "Offset or record count overflow");

        int tgt =
            cfg->compression == BK_VALIDATE_COMPRESSION_PRODUCER ? b.compression : cfg->compression;
        /* control batches stay uncompressed (Kafka); an empty one (internal
         * only) has nothing to recompress */
        bool in_place = tgt == b.compression ||
                        (b.compression == BK_COMPRESSION_NONE && b.control) || b.record_count == 0;

        /* the records, uncompressed */
        const uint8_t *recs = b.records;
        size_t recs_len = b.records_len;
        if (b.compression != BK_COMPRESSION_NONE) {
            bk_wr_reset(&s->dec);
            rc = bk_decompress(&s->z, b.compression, b.records, b.records_len, &s->dec, cap);
            if (rc == BK_ELIMIT)
                return reject(res, BK_KERR_MESSAGE_TOO_LARGE, idx,
                              "Decompressed record batch exceeds the broker's limit");
            if (rc == BK_ENOMEM)
                return reject(res, BK_KERR_UNKNOWN_SERVER_ERROR, idx, "Out of memory");
            if (rc)
                return reject(res, BK_KERR_CORRUPT_MESSAGE, idx,
                              "Failed to decompress record stream");
            recs = s->dec.buf;
            recs_len = s->dec.len;
        }

        /* walk the records (step 4) */
        bool ts_err = false, key_err = false;
        int64_t batch_max = BK_NO_TIMESTAMP, off_of_max = -1;
        bk_rec_iter it;
        bk_record r;
        bk_rec_iter_init(&it, recs, recs_len, b.record_count);
        while (bk_rec_iter_next(&it, &r)) {
            int32_t i = it.index - 1;
            int64_t ts = bk_record_timestamp(&b, &r);
            bool bad = false;
            if (r.offset_delta != i) {
                record_error(res, i, &ts_err, false);
                bad = true;
            }
            if (!bad && cfg->compacted && r.key_len < 0) {
                record_error(res, i, &ts_err, false);
                key_err = true;
                bad = true;
            }
            if (!bad && cfg->timestamp_type == BK_TIMESTAMP_CREATE && ts != BK_NO_TIMESTAMP) {
                /* Java's long arithmetic, wrapping included */
                int64_t diff = (int64_t)((uint64_t)cfg->now_ms - (uint64_t)ts);
                int64_t neg = (int64_t)(0 - (uint64_t)diff);
                if (diff > cfg->timestamp_before_max_ms || neg > cfg->timestamp_after_max_ms) {
                    record_error(res, i, &ts_err, true);
                    bad = true;
                }
            } else if (!bad && b.timestamp_type == BK_TIMESTAMP_LOG_APPEND) {
                record_error(res, i, &ts_err, true);
                bad = true;
            }
            if (!bad && ts > batch_max) {
                batch_max = ts;
                off_of_max = next + i;
            }
        }
        if (it.err)
            return reject(res, BK_KERR_INVALID_RECORD, idx,
                          "Invalid record structure or incorrect declared batch size");
        if (res->n_record_errors) {
            res->error = ts_err ? BK_KERR_INVALID_TIMESTAMP : BK_KERR_INVALID_RECORD;
            res->error_batch = idx;
            res->error_message = ts_err    ? "One or more records have been rejected due to "
                                             "invalid timestamp"
                                 : key_err ? "Compacted topic cannot accept message without key"
                                           : "One or more records have been rejected";
            res->data = NULL;
            res->len = 0;
            return BK_EINVAL;
        }

        /* assign offsets, epoch, timestamps */
        if (in_place) {
            bk_batch_set_base_offset(p, next);
            bk_batch_set_leader_epoch(p, cfg->leader_epoch);
            if (lat)
                bk_batch_set_max_timestamp(p, BK_TIMESTAMP_LOG_APPEND, cfg->now_ms);
            else
                bk_batch_set_max_timestamp(p, BK_TIMESTAMP_CREATE, batch_max);
            if (copying)
                bk_wr_mem(&s->out, p, size);
        } else {
            if (!copying) {
                bk_wr_mem(&s->out, records, pos); /* earlier batches, already patched */
                copying = true;
            }
            size_t nsize = 0;
            rc = rebuild(&b, recs, recs_len, tgt, next, cfg, s, &nsize);
            if (rc == BK_ENOMEM || (rc && s->out.err))
                return reject(res, BK_KERR_UNKNOWN_SERVER_ERROR, idx, "Out of memory");
            if (rc)
                return reject(res, BK_KERR_MESSAGE_TOO_LARGE, idx,
                              "Record batch too large after recompression");
            if (cfg->max_message_bytes >= 0 && nsize > (size_t)cfg->max_message_bytes)
                return reject(res, BK_KERR_MESSAGE_TOO_LARGE, idx,
                              "The record batch size after recompression exceeds the maximum "
                              "configured value (max.message.bytes)");
        }
        if (s->out.err)
            return reject(res, BK_KERR_UNKNOWN_SERVER_ERROR, idx, "Out of memory");

        if (!lat && batch_max > res->max_timestamp) {
            res->max_timestamp = batch_max;
            res->offset_of_max_timestamp = off_of_max;
        }
        /* a rebuilt batch has no offset gap at its end (internal batches
         * may have one: count < lastOffsetDelta + 1) */
        next += in_place ? (int64_t)b.last_offset_delta + 1 : (int64_t)b.record_count;
        res->record_count += b.record_count;
        pos += size;
    }

    res->batch_count = nb;
    res->last_offset = next - 1;
    if (lat) {
        res->max_timestamp = cfg->now_ms;
        res->offset_of_max_timestamp = res->first_offset;
    }
    res->recompressed = copying;
    if (copying) {
        res->data = s->out.buf;
        res->len = s->out.len;
    } else {
        res->data = records;
        res->len = valid_len;
    }
    return 0;
}
