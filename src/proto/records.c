/*
 * records.c - RecordBatch v2 checks, record iterator, batch builder.
 *
 * Parsing follows DefaultRecordBatch / DefaultRecord (Kafka 3.x): a record's
 * fields are read inside the window given by its length prefix and must use
 * it exactly; negative key/value lengths mean null; a negative header count
 * or header key length is invalid.
 */
#include "records.h"

#include "../core/crc32c.h"

#include <stdlib.h>

/* Smallest encoded record: length, attributes, timestampDelta, offsetDelta,
 * keyLength, valueLength, headerCount - one byte each. */
#define MIN_RECORD_SIZE 7

const char *bk_compression_name(int codec)
{
    static const char *const names[] = {"none", "gzip", "snappy", "lz4", "zstd"};
    return codec >= 0 && codec <= BK_COMPRESSION_MAX ? names[codec] : "unknown";
}

uint32_t bk_batch_crc_compute(const uint8_t *p, size_t size)
{
    return bk_crc32c(0, p + BK_BATCH_OFF_ATTRIBUTES, size - BK_BATCH_OFF_ATTRIBUTES);
}

bool bk_batch_crc_ok(const uint8_t *p, size_t size)
{
    return bk_batch_crc_compute(p, size) == bk_batch_crc(p);
}

void bk_batch_set_max_timestamp(uint8_t *p, int timestamp_type, int64_t max_ts)
{
    if (bk_batch_timestamp_type(p) == timestamp_type && bk_batch_max_timestamp(p) == max_ts)
        return;
    uint16_t a = (uint16_t)bk_batch_attributes(p);
    if (timestamp_type == BK_TIMESTAMP_LOG_APPEND)
        a |= BK_BATCH_ATTR_LOG_APPEND;
    else
        a &= (uint16_t)~BK_BATCH_ATTR_LOG_APPEND;
    bk_be16(p + BK_BATCH_OFF_ATTRIBUTES, a);
    bk_be64(p + BK_BATCH_OFF_MAX_TIMESTAMP, (uint64_t)max_ts);
    size_t size = bk_batch_size(p);
    bk_be32(p + BK_BATCH_OFF_CRC, bk_batch_crc_compute(p, size));
}

int bk_batch_parse(const uint8_t *p, size_t avail, bk_batch_info *out)
{
    if (avail < BK_BATCH_LOG_OVERHEAD)
        return BK_EAGAIN;
    int32_t len = bk_batch_length(p);
    if (len < BK_BATCH_HEADER_SIZE - BK_BATCH_LOG_OVERHEAD)
        return BK_ECORRUPT;
    if (avail < BK_BATCH_OFF_MAGIC + 1)
        return BK_EAGAIN;
    if (bk_batch_magic(p) != BK_BATCH_MAGIC)
        return BK_ECORRUPT;
    size_t size = (size_t)len + BK_BATCH_LOG_OVERHEAD;
    if (avail < size)
        return BK_EAGAIN;
    if (out) {
        out->base_offset = bk_batch_base_offset(p);
        out->length = len;
        out->size = size;
        out->leader_epoch = bk_batch_leader_epoch(p);
        out->magic = bk_batch_magic(p);
        out->crc = bk_batch_crc(p);
        out->attributes = bk_batch_attributes(p);
        out->compression = out->attributes & BK_BATCH_ATTR_COMPRESSION;
        out->timestamp_type = bk_batch_timestamp_type(p);
        out->transactional = bk_batch_is_transactional(p);
        out->control = bk_batch_is_control(p);
        out->last_offset_delta = bk_batch_last_offset_delta(p);
        out->base_timestamp = bk_batch_base_timestamp(p);
        out->max_timestamp = bk_batch_max_timestamp(p);
        out->producer_id = bk_batch_producer_id(p);
        out->producer_epoch = bk_batch_producer_epoch(p);
        out->base_sequence = bk_batch_base_sequence(p);
        out->record_count = bk_batch_record_count(p);
        out->records = p + BK_BATCH_HEADER_SIZE;
        out->records_len = size - BK_BATCH_HEADER_SIZE;
    }
    return 0;
}

int bk_batch_check(const uint8_t *p, size_t avail, bk_batch_info *out)
{
    bk_batch_info tmp;
    bk_batch_info *b = out ? out : &tmp;
    int rc = bk_batch_parse(p, avail, b);
    if (rc)
        return rc;
    if (!bk_batch_crc_ok(p, b->size))
        return BK_ECORRUPT;
    if (b->compression > BK_COMPRESSION_MAX)
        return BK_ECORRUPT;
    if (b->record_count < 0 || b->last_offset_delta < 0)
        return BK_ECORRUPT;
    if (b->record_count > 0 && b->record_count - 1 > b->last_offset_delta)
        return BK_ECORRUPT;
    if (b->base_offset > INT64_MAX - b->last_offset_delta)
        return BK_ECORRUPT;
    if (b->compression == BK_COMPRESSION_NONE &&
        (size_t)b->record_count > b->records_len / MIN_RECORD_SIZE)
        return BK_ECORRUPT;
    return 0;
}

/* ------------------------------------------------------------ records */

void bk_rec_iter_init(bk_rec_iter *it, const uint8_t *recs, size_t len, int32_t count)
{
    static const uint8_t empty[1];
    bk_rd_init(&it->rd, recs ? recs : empty, recs ? len : 0);
    it->left = count < 0 ? -1 : count;
    it->index = 0;
    it->err = 0;
}

/* Reads a length-prefixed byte string (negative = null) from rd. */
static const uint8_t *read_bytes(bk_rd *rd, int32_t *len)
{
    int32_t n = bk_rd_varint32(rd);
    if (n < 0) {
        *len = -1;
        return NULL;
    }
    *len = n;
    return bk_rd_take(rd, (size_t)n);
}

static bool iter_fail(bk_rec_iter *it)
{
    it->err = BK_ECORRUPT;
    it->left = 0;
    bk_rd_fail(&it->rd);
    return false;
}

bool bk_rec_iter_next(bk_rec_iter *it, bk_record *r)
{
    if (it->err)
        return false;
    if (it->left == 0) {
        /* all declared records read: every byte must be used */
        if (bk_rd_left(&it->rd) != 0)
            return iter_fail(it);
        return false;
    }
    if (it->left < 0 && bk_rd_left(&it->rd) == 0)
        return false;

    const uint8_t *start = it->rd.p;
    int32_t body = bk_rd_varint32(&it->rd);
    if (it->rd.err || body < 0 || (size_t)body > bk_rd_left(&it->rd))
        return iter_fail(it);
    size_t prefix = (size_t)(it->rd.p - start);
    bk_rd rd;
    bk_rd_init(&rd, bk_rd_take(&it->rd, (size_t)body), (size_t)body);

    r->attributes = bk_rd_i8(&rd);
    r->timestamp_delta = bk_rd_varint(&rd);
    r->offset_delta = bk_rd_varint32(&rd);
    r->key = read_bytes(&rd, &r->key_len);
    r->value = read_bytes(&rd, &r->value_len);
    r->header_count = bk_rd_varint32(&rd);
    if (rd.err || r->header_count < 0)
        return iter_fail(it);
    r->headers = rd.p;
    for (int32_t i = 0; i < r->header_count; i++) {
        int32_t klen = bk_rd_varint32(&rd);
        if (rd.err || klen < 0)
            return iter_fail(it);
        bk_rd_skip(&rd, (size_t)klen);
        int32_t vlen = bk_rd_varint32(&rd);
        if (vlen > 0)
            bk_rd_skip(&rd, (size_t)vlen);
        if (rd.err)
            return iter_fail(it);
    }
    /* the fields must fill the record exactly */
    if (bk_rd_left(&rd) != 0)
        return iter_fail(it);
    r->headers_len = (size_t)(rd.p - r->headers);
    r->raw = start;
    r->raw_len = prefix + (size_t)body;
    if (it->left > 0)
        it->left--;
    it->index++;
    return true;
}

void bk_hdr_iter_init(bk_hdr_iter *hi, const bk_record *r)
{
    bk_rd_init(&hi->rd, r->headers, r->headers_len);
    hi->left = r->header_count;
}

bool bk_hdr_iter_next(bk_hdr_iter *hi, bk_rec_header *h)
{
    if (hi->left <= 0)
        return false;
    h->key = read_bytes(&hi->rd, &h->key_len);
    h->value = read_bytes(&hi->rd, &h->value_len);
    if (hi->rd.err || h->key_len < 0) {
        hi->left = 0;
        return false;
    }
    if (!h->key)
        h->key = (const uint8_t *)""; /* defensive: never hand out NULL for a key */
    hi->left--;
    return true;
}

int bk_records_check(const uint8_t *recs, size_t len, int32_t count)
{
    if (count < 0)
        return BK_ECORRUPT;
    bk_rec_iter it;
    bk_record r;
    bk_rec_iter_init(&it, recs, len, count);
    int32_t expect = 0;
    while (bk_rec_iter_next(&it, &r)) {
        if (r.offset_delta != expect)
            return BK_ECORRUPT;
        expect++;
    }
    if (it.err || expect != count)
        return BK_ECORRUPT;
    return 0;
}

/* ------------------------------------------------------------ builder */

int bk_batch_builder_init(bk_batch_builder *b, bk_wr *out, const bk_batch_opts *o)
{
    memset(b, 0, sizeof *b);
    b->out = out;
    b->o = *o;
    b->base_ts = BK_NO_TIMESTAMP;
    b->max_ts = BK_NO_TIMESTAMP;
    if (o->compression < 0 || o->compression > BK_COMPRESSION_MAX ||
        (o->compression != BK_COMPRESSION_NONE && !o->compress) ||
        (o->timestamp_type != BK_TIMESTAMP_CREATE && o->timestamp_type != BK_TIMESTAMP_LOG_APPEND))
        return b->err = BK_EINVAL;
    if (out->err)
        return b->err = out->err;
    b->start = out->len;
    /* header placeholder, filled by finish() */
    uint8_t *h = bk_wr_take(out, BK_BATCH_HEADER_SIZE);
    if (!h)
        return b->err = out->err;
    memset(h, 0, BK_BATCH_HEADER_SIZE);
    if (o->compression == BK_COMPRESSION_NONE) {
        b->rw = out;
    } else if (o->scratch) {
        b->rw = o->scratch;
        bk_wr_reset(b->rw);
    } else {
        bk_wr_init(&b->own, 1024);
        b->rw = &b->own;
    }
    b->rstart = b->rw->len;
    return b->rw->err ? (b->err = b->rw->err) : 0;
}

static size_t bytes_size(int32_t len)
{
    return len < 0 ? bk_varint_size(-1) : bk_varint_size(len) + (size_t)len;
}

static void put_bytes(bk_wr *w, const void *p, int32_t len)
{
    if (len < 0) {
        bk_wr_varint(w, -1);
        return;
    }
    bk_wr_varint(w, len);
    bk_wr_mem(w, p, (size_t)len);
}

/* Common part of add(): checks the record fits, then writes everything up
 * to and including the header count. hdr_size = bytes of the encoded
 * headers after the count. */
static int add_begin(bk_batch_builder *b, int64_t ts, const void *key, int32_t key_len,
                     const void *value, int32_t value_len, int32_t nhdrs, size_t hdr_size)
{
    if (b->err)
        return b->err;
    if (b->finished || b->count == INT32_MAX)
        return b->err = BK_EINVAL;
    if (key_len < -1 || value_len < -1 || nhdrs < 0)
        return b->err = BK_EINVAL;
    if (b->count == 0)
        b->base_ts = ts;
    int64_t delta = (int64_t)((uint64_t)ts - (uint64_t)b->base_ts);
    size_t body = 1 + bk_varint_size(delta) + bk_varint_size(b->count) + bytes_size(key_len) +
                  bytes_size(value_len) + bk_varint_size(nhdrs) + hdr_size;
    if (body > INT32_MAX)
        return b->err = BK_ELIMIT;
    bk_wr *w = b->rw;
    bk_wr_varint(w, (int64_t)body);
    bk_wr_i8(w, 0);
    bk_wr_varint(w, delta);
    bk_wr_varint(w, b->count);
    put_bytes(w, key, key_len);
    put_bytes(w, value, value_len);
    bk_wr_varint(w, nhdrs);
    if (w->err)
        return b->err = w->err;
    if (b->count == 0 || ts > b->max_ts)
        b->max_ts = ts;
    b->count++;
    return 0;
}

int bk_batch_builder_add(bk_batch_builder *b, int64_t timestamp, const void *key, int32_t key_len,
                         const void *value, int32_t value_len, const bk_rec_header *hdrs, int nhdrs)
{
    size_t hsize = 0;
    for (int i = 0; i < nhdrs; i++) {
        if (hdrs[i].key_len < 0 || hdrs[i].value_len < -1)
            return b->err = BK_EINVAL;
        hsize += bytes_size(hdrs[i].key_len) + bytes_size(hdrs[i].value_len);
    }
    int rc = add_begin(b, timestamp, key, key_len, value, value_len, nhdrs, hsize);
    if (rc)
        return rc;
    for (int i = 0; i < nhdrs; i++) {
        put_bytes(b->rw, hdrs[i].key, hdrs[i].key_len);
        put_bytes(b->rw, hdrs[i].value, hdrs[i].value_len);
    }
    return b->err = b->rw->err;
}

int bk_batch_builder_add_record(bk_batch_builder *b, int64_t timestamp, const bk_record *r)
{
    int rc = add_begin(b, timestamp, r->key, r->key_len < 0 ? -1 : r->key_len, r->value,
                       r->value_len < 0 ? -1 : r->value_len, r->header_count, r->headers_len);
    if (rc)
        return rc;
    bk_wr_mem(b->rw, r->headers, r->headers_len);
    return b->err = b->rw->err;
}

int bk_batch_builder_finish(bk_batch_builder *b)
{
    if (b->err)
        return b->err;
    if (b->finished)
        return b->err = BK_EINVAL;
    b->finished = true;
    bk_wr *out = b->out;
    if (b->o.compression != BK_COMPRESSION_NONE) {
        int rc =
            b->o.compress(b->o.compression, b->rw->buf + b->rstart, b->rw->len - b->rstart, out);
        if (rc)
            return b->err = rc;
    }
    if (out->err)
        return b->err = out->err;
    size_t size = out->len - b->start;
    if (size - BK_BATCH_LOG_OVERHEAD > INT32_MAX)
        return b->err = BK_ELIMIT;

    uint16_t attr = (uint16_t)b->o.compression;
    if (b->o.timestamp_type == BK_TIMESTAMP_LOG_APPEND)
        attr |= BK_BATCH_ATTR_LOG_APPEND;
    if (b->o.transactional)
        attr |= BK_BATCH_ATTR_TRANSACTIONAL;
    if (b->o.control)
        attr |= BK_BATCH_ATTR_CONTROL;
    int64_t max_ts =
        b->o.timestamp_type == BK_TIMESTAMP_LOG_APPEND ? b->o.log_append_time : b->max_ts;

    uint8_t *p = out->buf + b->start;
    bk_be64(p + BK_BATCH_OFF_BASE_OFFSET, (uint64_t)b->o.base_offset);
    bk_be32(p + BK_BATCH_OFF_LENGTH, (uint32_t)(size - BK_BATCH_LOG_OVERHEAD));
    bk_be32(p + BK_BATCH_OFF_LEADER_EPOCH, (uint32_t)b->o.leader_epoch);
    p[BK_BATCH_OFF_MAGIC] = BK_BATCH_MAGIC;
    bk_be16(p + BK_BATCH_OFF_ATTRIBUTES, attr);
    bk_be32(p + BK_BATCH_OFF_LAST_OFFSET_DELTA, (uint32_t)(b->count ? b->count - 1 : 0));
    bk_be64(p + BK_BATCH_OFF_BASE_TIMESTAMP, (uint64_t)b->base_ts);
    bk_be64(p + BK_BATCH_OFF_MAX_TIMESTAMP, (uint64_t)max_ts);
    bk_be64(p + BK_BATCH_OFF_PRODUCER_ID, (uint64_t)b->o.producer_id);
    bk_be16(p + BK_BATCH_OFF_PRODUCER_EPOCH, (uint16_t)b->o.producer_epoch);
    bk_be32(p + BK_BATCH_OFF_BASE_SEQUENCE, (uint32_t)b->o.base_sequence);
    bk_be32(p + BK_BATCH_OFF_RECORD_COUNT, (uint32_t)b->count);
    bk_be32(p + BK_BATCH_OFF_CRC, bk_batch_crc_compute(p, size));
    return 0;
}

void bk_batch_builder_fini(bk_batch_builder *b)
{
    if (b->rw == &b->own)
        bk_wr_fini(&b->own);
    b->rw = NULL;
}
