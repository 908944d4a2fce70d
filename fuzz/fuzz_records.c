/*
 * fuzz_records - libFuzzer target over record batches: the integrity check
 * that log recovery runs, the record iterator, the codecs and the Produce
 * validator, on arbitrary bytes.
 *
 * Three passes per input:
 *   A. as read from a segment: bk_batch_check() batch after batch; every
 *      batch that passes is decompressed (bounded), its records and headers
 *      iterated, and an uncompressed one rebuilt with the builder - the
 *      copy must check and hold the same records.
 *   B. as sent by a producer: a copy whose batch CRCs are recomputed (or
 *      the mutations would almost never get past the CRC) goes through
 *      bk_validate_records() under a config picked from the input; an
 *      accepted result must be well-formed batches with the assigned
 *      offsets and leader epoch.
 *   C. the input as a compressed stream for each codec, output bounded.
 * Besides sanitizer reports, any broken invariant aborts.
 */
#include "../src/proto/records.h"
#include "../src/storage/compress.h"
#include "../src/storage/validate.h"

#include <stdlib.h>

#define OUT_LIMIT (1u << 20)

static bk_zctx zc; /* reused like the broker does; reachable, not a leak */

static void check_records(const bk_batch_info *b, const uint8_t *recs, size_t len)
{
    bk_rec_iter it;
    bk_record r;
    bk_rec_iter_init(&it, recs, len, b->record_count);
    int32_t n = 0;
    while (bk_rec_iter_next(&it, &r)) {
        if (r.raw < recs || r.raw + r.raw_len > recs + len)
            abort();
        if ((r.key_len < 0) != (r.key == NULL) || (r.value_len < 0) != (r.value == NULL))
            abort();
        bk_hdr_iter hi;
        bk_rec_header h;
        int32_t nh = 0;
        bk_hdr_iter_init(&hi, &r);
        while (bk_hdr_iter_next(&hi, &h))
            nh++;
        if (nh != r.header_count)
            abort(); /* headers were validated by the record iterator */
        n++;
    }
    bool ok = it.err == 0;
    if (ok && n != b->record_count)
        abort();
    if (bk_records_check(recs, len, b->record_count) == 0 && !ok)
        abort();
    if (!ok || b->compression != BK_COMPRESSION_NONE)
        return;

    /* rebuild and compare */
    bk_wr w;
    bk_wr_init(&w, 0);
    bk_batch_opts o = BK_BATCH_OPTS_DEFAULT;
    bk_batch_builder bb;
    bk_batch_builder_init(&bb, &w, &o);
    bk_rec_iter_init(&it, recs, len, b->record_count);
    while (bk_rec_iter_next(&it, &r))
        if (bk_batch_builder_add_record(&bb, bk_record_timestamp(b, &r), &r) != 0)
            abort();
    if (bk_batch_builder_finish(&bb) != 0)
        abort();
    bk_batch_builder_fini(&bb);
    bk_batch_info nb;
    if (bk_batch_check(w.buf, w.len, &nb) != 0 || nb.record_count != b->record_count)
        abort();
    bk_rec_iter it2;
    bk_record r2;
    bk_rec_iter_init(&it, recs, len, b->record_count);
    bk_rec_iter_init(&it2, nb.records, nb.records_len, nb.record_count);
    while (bk_rec_iter_next(&it, &r)) {
        if (!bk_rec_iter_next(&it2, &r2))
            abort();
        if (r.key_len != r2.key_len || r.value_len != r2.value_len ||
            r.headers_len != r2.headers_len ||
            (r.key_len > 0 && memcmp(r.key, r2.key, (size_t)r.key_len) != 0) ||
            (r.value_len > 0 && memcmp(r.value, r2.value, (size_t)r.value_len) != 0) ||
            (r.headers_len && memcmp(r.headers, r2.headers, r.headers_len) != 0) ||
            bk_record_timestamp(b, &r) != bk_record_timestamp(&nb, &r2))
            abort();
    }
    bk_wr_fini(&w);
}

static void pass_log(const uint8_t *data, size_t size)
{
    bk_wr dec;
    bk_wr_init(&dec, 0);
    size_t pos = 0;
    while (pos < size) {
        bk_batch_info b;
        int rc = bk_batch_check(data + pos, size - pos, &b);
        if (rc == BK_EAGAIN || rc == BK_ECORRUPT)
            break;
        if (rc != 0 || b.size > size - pos || b.size < BK_BATCH_HEADER_SIZE)
            abort();
        if (b.compression == BK_COMPRESSION_NONE) {
            check_records(&b, b.records, b.records_len);
        } else {
            bk_wr_reset(&dec);
            if (bk_decompress(&zc, b.compression, b.records, b.records_len, &dec, OUT_LIMIT) == 0)
                check_records(&b, dec.buf, dec.len);
        }
        pos += b.size;
    }
    bk_wr_fini(&dec);
}

/* Recompute the CRC of every framed batch so that mutations reach the
 * deeper checks. */
static void fix_crcs(uint8_t *p, size_t size)
{
    size_t pos = 0;
    while (size - pos >= BK_BATCH_HEADER_SIZE) {
        int32_t len = bk_batch_length(p + pos);
        if (len < BK_BATCH_HEADER_SIZE - BK_BATCH_LOG_OVERHEAD ||
            (size_t)len + BK_BATCH_LOG_OVERHEAD > size - pos)
            break;
        size_t bs = (size_t)len + BK_BATCH_LOG_OVERHEAD;
        bk_be32(p + pos + BK_BATCH_OFF_CRC, bk_batch_crc_compute(p + pos, bs));
        pos += bs;
    }
}

static void pass_produce(const uint8_t *data, size_t size)
{
    if (size < 1)
        return;
    uint8_t *copy = malloc(size);
    memcpy(copy, data, size);
    fix_crcs(copy, size);
    /* config from the last byte: nothing else reads it as config */
    uint8_t k = data[size - 1];
    bk_validate_cfg c;
    bk_validate_cfg_default(&c);
    c.next_offset = 1000;
    c.leader_epoch = 3;
    c.now_ms = 1700000000000LL;
    int comp = k % 6;
    c.compression = comp == 5 ? BK_VALIDATE_COMPRESSION_PRODUCER : comp;
    c.timestamp_type = (k >> 3) & 1;
    c.allow_multi_batch = (k >> 4) & 1;
    c.compacted = (k >> 5) & 1;
    c.internal = (k >> 6) & 1;
    if (k >> 7) {
        c.timestamp_before_max_ms = 3600000;
        c.timestamp_after_max_ms = 3600000;
    }
    c.max_uncompressed_bytes = OUT_LIMIT;
    bk_validate_scratch s;
    bk_validate_scratch_init(&s);
    bk_validate_result r;
    int rc = bk_validate_records(copy, size, &c, &s, &r);
    if ((rc == 0) != (r.error == BK_KERR_NONE))
        abort();
    if (rc == 0) {
        /* what would be appended: whole batches, offsets from next_offset */
        if (!r.data || (!r.recompressed && (r.data != copy || r.len > size)))
            abort();
        size_t pos = 0;
        int64_t next = c.next_offset;
        int32_t nb = 0, cnt = 0;
        while (pos < r.len) {
            bk_batch_info b;
            if (bk_batch_check(r.data + pos, r.len - pos, &b) != 0)
                abort();
            if (b.base_offset != next || b.leader_epoch != c.leader_epoch)
                abort();
            if (c.timestamp_type == BK_TIMESTAMP_LOG_APPEND &&
                (b.timestamp_type != BK_TIMESTAMP_LOG_APPEND || b.max_timestamp != c.now_ms))
                abort();
            if (c.compression != BK_VALIDATE_COMPRESSION_PRODUCER &&
                b.compression != c.compression && !(b.control && b.compression == 0) &&
                b.record_count != 0)
                abort();
            next += (int64_t)b.last_offset_delta + 1;
            cnt += b.record_count;
            nb++;
            pos += b.size;
        }
        if (pos != r.len || nb != r.batch_count || cnt != r.record_count ||
            next - 1 != r.last_offset)
            abort();
    } else if (r.data || !r.error_message) {
        abort();
    }
    bk_validate_scratch_fini(&s);
    free(copy);
}

static void pass_codecs(const uint8_t *data, size_t size)
{
    bk_wr out;
    bk_wr_init(&out, 0);
    for (int codec = BK_COMPRESSION_GZIP; codec <= BK_COMPRESSION_ZSTD; codec++) {
        bk_wr_reset(&out);
        int rc = bk_decompress(&zc, codec, data, size, &out, OUT_LIMIT);
        if (rc == 0 ? out.len > OUT_LIMIT : out.len != 0)
            abort();
    }
    bk_wr_fini(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pass_log(data, size);
    pass_produce(data, size);
    pass_codecs(data, size);
    return 0;
}
