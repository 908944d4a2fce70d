/*
 * validate_test.c - Produce validation: in-place offset/epoch/timestamp
 * assignment (no copy), compressed batches checked through the scratch
 * buffer, recompression to the topic's codec, and every rejection with the
 * Kafka error code Kafka returns.
 */
#include "../../tests/unit.h"
#include "validate.h"

#include <stdlib.h>

void bk_test_validate(void);

#define NOW 1700000000000LL

/* Build a producer-style batch of n records (ts NOW + i, key "k<i>",
 * value "value-<i>", one header on odd records) appended to w. */
static void mk(bk_wr *w, int codec, int n)
{
    bk_batch_opts o = BK_BATCH_OPTS_DEFAULT;
    o.compression = codec;
    o.compress = bk_compress;
    bk_batch_builder b;
    bk_batch_builder_init(&b, w, &o);
    for (int i = 0; i < n; i++) {
        char k[16], v[32];
        int kl = snprintf(k, sizeof k, "k%d", i);
        int vl = snprintf(v, sizeof v, "value-%d", i);
        bk_rec_header h = {(const uint8_t *)"hk", 2, (const uint8_t *)"hv", 2};
        bk_batch_builder_add(&b, NOW + i, k, kl, v, vl, &h, i & 1);
    }
    BK_CHECK(bk_batch_builder_finish(&b) == 0);
    bk_batch_builder_fini(&b);
}

static void recrc(uint8_t *p)
{
    bk_be32(p + BK_BATCH_OFF_CRC, bk_batch_crc_compute(p, bk_batch_size(p)));
}

/* Decode a validated batch's records (decompressing if needed) and check
 * they are the n records mk() wrote. */
static bool same_records(const uint8_t *p, int n)
{
    bk_batch_info b;
    if (bk_batch_check(p, bk_batch_size(p), &b) != 0 || b.record_count != n)
        return false;
    bk_wr d;
    bk_wr_init(&d, 0);
    const uint8_t *recs = b.records;
    size_t len = b.records_len;
    if (b.compression) {
        if (bk_decompress(NULL, b.compression, recs, len, &d, 1 << 24) != 0)
            return false;
        recs = d.buf;
        len = d.len;
    }
    bool ok = bk_records_check(recs, len, n) == 0;
    bk_rec_iter it;
    bk_record r;
    bk_rec_iter_init(&it, recs, len, n);
    int i = 0;
    while (ok && bk_rec_iter_next(&it, &r)) {
        char k[16], v[32];
        int kl = snprintf(k, sizeof k, "k%d", i);
        int vl = snprintf(v, sizeof v, "value-%d", i);
        ok =
            r.key_len == kl && memcmp(r.key, k, (size_t)kl) == 0 && r.value_len == vl &&
            memcmp(r.value, v, (size_t)vl) == 0 && r.header_count == (i & 1) &&
            (b.timestamp_type == BK_TIMESTAMP_LOG_APPEND || bk_record_timestamp(&b, &r) == NOW + i);
        i++;
    }
    bk_wr_fini(&d);
    return ok && i == n;
}

static void cfg_init(bk_validate_cfg *c)
{
    bk_validate_cfg_default(c);
    c->next_offset = 1000;
    c->leader_epoch = 5;
    c->now_ms = NOW + 500;
}

static void test_fast_path(void)
{
    bk_validate_scratch s;
    bk_validate_scratch_init(&s);
    bk_validate_cfg c;
    bk_validate_result r;
    bk_wr w;
    bk_wr_init(&w, 0);

    BK_TEST("validate: uncompressed batch, offsets and epoch assigned in place");
    cfg_init(&c);
    mk(&w, BK_COMPRESSION_NONE, 10);
    BK_CHECK(bk_validate_records(w.buf, w.len, &c, &s, &r) == 0);
    BK_CHECK(r.error == BK_KERR_NONE && r.error_message == NULL && r.error_batch == -1);
    BK_CHECK(r.data == w.buf && r.len == w.len && !r.recompressed && s.out.len == 0);
    BK_CHECK(r.first_offset == 1000 && r.last_offset == 1009 && r.record_count == 10);
    BK_CHECK(r.batch_count == 1 && r.log_append_time == -1);
    BK_CHECK(r.max_timestamp == NOW + 9 && r.offset_of_max_timestamp == 1009);
    BK_CHECK(bk_batch_base_offset(w.buf) == 1000 && bk_batch_leader_epoch(w.buf) == 5);
    BK_CHECK(same_records(w.buf, 10));

    BK_TEST("validate: wrong maxTimestamp from the producer is corrected (re-CRC)");
    bk_wr_reset(&w);
    mk(&w, BK_COMPRESSION_NONE, 3);
    bk_be64(w.buf + BK_BATCH_OFF_MAX_TIMESTAMP, 5);
    recrc(w.buf);
    BK_CHECK(bk_validate_records(w.buf, w.len, &c, &s, &r) == 0);
    BK_CHECK(bk_batch_max_timestamp(w.buf) == NOW + 2 && same_records(w.buf, 3));

    BK_TEST("validate: LogAppendTime topic stamps maxTimestamp and the attribute");
    bk_wr_reset(&w);
    mk(&w, BK_COMPRESSION_NONE, 4);
    c.timestamp_type = BK_TIMESTAMP_LOG_APPEND;
    BK_CHECK(bk_validate_records(w.buf, w.len, &c, &s, &r) == 0);
    BK_CHECK(r.log_append_time == NOW + 500 && r.max_timestamp == NOW + 500);
    BK_CHECK(r.offset_of_max_timestamp == 1000);
    BK_CHECK(bk_batch_timestamp_type(w.buf) == BK_TIMESTAMP_LOG_APPEND);
    BK_CHECK(bk_batch_max_timestamp(w.buf) == NOW + 500 && same_records(w.buf, 4));
    c.timestamp_type = BK_TIMESTAMP_CREATE;

    BK_TEST("validate: compressed batches (compression=producer) are checked, stored as sent");
    static const int codecs[] = {BK_COMPRESSION_GZIP, BK_COMPRESSION_SNAPPY, BK_COMPRESSION_LZ4,
                                 BK_COMPRESSION_ZSTD};
    for (size_t i = 0; i < BK_ARRAY_LEN(codecs); i++) {
        bk_wr_reset(&w);
        mk(&w, codecs[i], 50);
        uint8_t *copy = malloc(w.len);
        memcpy(copy, w.buf, w.len);
        BK_CHECK(bk_validate_records(w.buf, w.len, &c, &s, &r) == 0);
        BK_CHECK(r.data == w.buf && r.len == w.len && !r.recompressed);
        BK_CHECK(r.last_offset == 1049 && r.max_timestamp == NOW + 49);
        BK_CHECK(r.offset_of_max_timestamp == 1049);
        /* only baseOffset and leader epoch changed: the compressed bytes and
         * the CRC are the producer's */
        BK_CHECK(memcmp(copy + 16, w.buf + 16, w.len - 16) == 0);
        BK_CHECK(same_records(w.buf, 50));
        free(copy);
    }
    /* zstd allowed from Produce v7 */
    bk_wr_reset(&w);
    mk(&w, BK_COMPRESSION_ZSTD, 2);
    c.produce_version = 7;
    BK_CHECK(bk_validate_records(w.buf, w.len, &c, &s, &r) == 0);
    c.produce_version = 9;

    BK_TEST("validate: topic compression differs -> rebuilt with the topic's codec");
    static const int pairs[][2] = {{BK_COMPRESSION_NONE, BK_COMPRESSION_ZSTD},
                                   {BK_COMPRESSION_GZIP, BK_COMPRESSION_NONE},
                                   {BK_COMPRESSION_SNAPPY, BK_COMPRESSION_LZ4},
                                   {BK_COMPRESSION_LZ4, BK_COMPRESSION_GZIP},
                                   {BK_COMPRESSION_ZSTD, BK_COMPRESSION_SNAPPY}};
    for (size_t i = 0; i < BK_ARRAY_LEN(pairs); i++) {
        bk_wr_reset(&w);
        mk(&w, pairs[i][0], 20);
        c.compression = pairs[i][1];
        BK_CHECK(bk_validate_records(w.buf, w.len, &c, &s, &r) == 0);
        BK_CHECK(r.recompressed && r.data == s.out.buf && r.len == s.out.len);
        BK_CHECK(bk_batch_compression(r.data) == pairs[i][1] && bk_batch_size(r.data) == r.len);
        BK_CHECK(bk_batch_base_offset(r.data) == 1000 && bk_batch_leader_epoch(r.data) == 5);
        BK_CHECK(r.last_offset == 1019 && r.max_timestamp == NOW + 19);
        BK_CHECK(bk_batch_max_timestamp(r.data) == NOW + 19);
        BK_CHECK(same_records(r.data, 20));
    }
    /* rebuilt + LogAppendTime, producer id fields kept */
    bk_wr_reset(&w);
    mk(&w, BK_COMPRESSION_NONE, 3);
    bk_be64(w.buf + BK_BATCH_OFF_PRODUCER_ID, 77);
    bk_be32(w.buf + BK_BATCH_OFF_BASE_SEQUENCE, 9);
    recrc(w.buf);
    c.compression = BK_COMPRESSION_GZIP;
    c.timestamp_type = BK_TIMESTAMP_LOG_APPEND;
    BK_CHECK(bk_validate_records(w.buf, w.len, &c, &s, &r) == 0);
    BK_CHECK(r.recompressed && bk_batch_producer_id(r.data) == 77);
    BK_CHECK(bk_batch_base_sequence(r.data) == 9 && bk_batch_max_timestamp(r.data) == NOW + 500);
    BK_CHECK(bk_batch_timestamp_type(r.data) == BK_TIMESTAMP_LOG_APPEND && same_records(r.data, 3));
    c.compression = BK_VALIDATE_COMPRESSION_PRODUCER;
    c.timestamp_type = BK_TIMESTAMP_CREATE;

    BK_TEST("validate: several batches (allow_multi_batch) continue the offsets");
    bk_wr_reset(&w);
    mk(&w, BK_COMPRESSION_NONE, 3);
    size_t first = w.len;
    mk(&w, BK_COMPRESSION_LZ4, 4);
    c.allow_multi_batch = true;
    BK_CHECK(bk_validate_records(w.buf, w.len, &c, &s, &r) == 0);
    BK_CHECK(r.batch_count == 2 && r.record_count == 7 && r.last_offset == 1006);
    BK_CHECK(bk_batch_base_offset(w.buf + first) == 1003 && same_records(w.buf + first, 4));
    /* ... and a rebuild of the second copies the first one along */
    bk_wr_reset(&w);
    mk(&w, BK_COMPRESSION_NONE, 3);
    mk(&w, BK_COMPRESSION_LZ4, 4);
    c.compression = BK_COMPRESSION_NONE;
    BK_CHECK(bk_validate_records(w.buf, w.len, &c, &s, &r) == 0);
    BK_CHECK(r.recompressed && r.len > first && memcmp(r.data, w.buf, first) == 0);
    BK_CHECK(bk_batch_base_offset(r.data + first) == 1003 && same_records(r.data + first, 4));
    BK_CHECK(bk_batch_size(r.data + first) + first == r.len);
    c.compression = BK_VALIDATE_COMPRESSION_PRODUCER;
    c.allow_multi_batch = false;

    BK_TEST("validate: an incomplete trailing batch is dropped, as Kafka does");
    bk_wr_reset(&w);
    mk(&w, BK_COMPRESSION_NONE, 2);
    size_t one = w.len;
    mk(&w, BK_COMPRESSION_NONE, 2);
    BK_CHECK(bk_validate_records(w.buf, w.len - 1, &c, &s, &r) == 0 && r.len == one);
    bk_batch_set_base_offset(w.buf, 0); /* validation patched it: a producer sends 0 */
    BK_CHECK(bk_validate_records(w.buf, one + 5, &c, &s, &r) == 0 && r.len == one);

    bk_wr_fini(&w);
    bk_validate_scratch_fini(&s);
}

/* Validate w with c and return the Kafka error (checking the contract). */
static int16_t verr(bk_wr *w, const bk_validate_cfg *c, bk_validate_scratch *s,
                    bk_validate_result *r)
{
    int rc = bk_validate_records(w->buf, w->len, c, s, r);
    if ((rc == 0) != (r->error == BK_KERR_NONE))
        return -100;
    if (rc != 0 && (r->data != NULL || r->error_message == NULL))
        return -101;
    return r->error;
}

static void test_rejections(void)
{
    bk_validate_scratch s;
    bk_validate_scratch_init(&s);
    bk_validate_cfg c;
    bk_validate_result r;
    bk_wr w;
    bk_wr_init(&w, 0);
    cfg_init(&c);

    BK_TEST("validate: framing and request-level rules");
    BK_CHECK(verr(&w, &c, &s, &r) == BK_KERR_INVALID_RECORD); /* no batch */
    mk(&w, BK_COMPRESSION_NONE, 2);
    size_t one = w.len;
    w.len = 11;
    BK_CHECK(verr(&w, &c, &s, &r) == BK_KERR_INVALID_RECORD); /* only a torn one */
    w.len = one;
    bk_be32(w.buf + 8, 13); /* size field below 14 */
    BK_CHECK(verr(&w, &c, &s, &r) == BK_KERR_CORRUPT_MESSAGE && r.error_batch == 0);
    bk_wr_reset(&w);
    mk(&w, BK_COMPRESSION_NONE, 2);
    w.buf[16] = 3; /* magic 3 */
    BK_CHECK(verr(&w, &c, &s, &r) == BK_KERR_CORRUPT_MESSAGE);
    w.buf[16] = 1; /* v1 message set */
    BK_CHECK(verr(&w, &c, &s, &r) == BK_KERR_INVALID_RECORD);
    c.produce_version = 2;
    BK_CHECK(verr(&w, &c, &s, &r) == BK_KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT);
    c.produce_version = 9;
    bk_wr_reset(&w);
    mk(&w, BK_COMPRESSION_NONE, 2);
    mk(&w, BK_COMPRESSION_NONE, 2);
    BK_CHECK(verr(&w, &c, &s, &r) == BK_KERR_INVALID_RECORD && r.error_batch == 1);
    bk_wr_reset(&w);
    mk(&w, BK_COMPRESSION_ZSTD, 2);
    c.produce_version = 6;
    BK_CHECK(verr(&w, &c, &s, &r) == BK_KERR_UNSUPPORTED_COMPRESSION_TYPE);
    c.produce_version = 9;

    BK_TEST("validate: batch header rules");
    bk_wr_reset(&w);
    mk(&w, BK_COMPRESSION_NONE, 2);
    bk_batch_set_base_offset(w.buf, 3);
    BK_CHECK(verr(&w, &c, &s, &r) == BK_KERR_INVALID_RECORD);
    c.internal = true; /* the coordinator may write any base offset */
    BK_CHECK(verr(&w, &c, &s, &r) == BK_KERR_NONE);
    c.internal = false;
    bk_wr_reset(&w);
    mk(&w, BK_COMPRESSION_NONE, 2);
    c.max_message_bytes = (int32_t)w.len - 1;
    BK_CHECK(verr(&w, &c, &s, &r) == BK_KERR_MESSAGE_TOO_LARGE);
    c.max_message_bytes = (int32_t)w.len; /* the whole batch, 12-byte overhead included */
    BK_CHECK(verr(&w, &c, &s, &r) == BK_KERR_NONE);
    c.max_message_bytes = 1048588;
    bk_wr_reset(&w);
    mk(&w, BK_COMPRESSION_NONE, 2);
    w.buf[w.len - 1] ^= 1;
    BK_CHECK(verr(&w, &c, &s, &r) == BK_KERR_CORRUPT_MESSAGE);
    bk_wr_reset(&w);
    mk(&w, BK_COMPRESSION_NONE, 2);
    bk_be32(w.buf + 8, 40); /* 14 <= size field < 49 */
    w.len = 52;
    BK_CHECK(verr(&w, &c, &s, &r) == BK_KERR_CORRUPT_MESSAGE);

    struct {
        int off, width;
        int64_t v;
        int16_t want;
    } hdr[] = {
        {BK_BATCH_OFF_ATTRIBUTES, 2, 6, BK_KERR_UNSUPPORTED_COMPRESSION_TYPE},
        {BK_BATCH_OFF_ATTRIBUTES, 2, BK_BATCH_ATTR_CONTROL, BK_KERR_INVALID_RECORD},
        {BK_BATCH_OFF_RECORD_COUNT, 4, 3, BK_KERR_INVALID_RECORD},
        {BK_BATCH_OFF_RECORD_COUNT, 4, 0, BK_KERR_INVALID_RECORD},
        {BK_BATCH_OFF_LAST_OFFSET_DELTA, 4, -1, BK_KERR_INVALID_RECORD},
        {BK_BATCH_OFF_LAST_OFFSET_DELTA, 4, 2, BK_KERR_INVALID_RECORD},
        {BK_BATCH_OFF_PRODUCER_ID, 8, 5, BK_KERR_INVALID_RECORD}, /* pid but sequence -1 */
    };
    for (size_t i = 0; i < BK_ARRAY_LEN(hdr); i++) {
        bk_wr_reset(&w);
        mk(&w, BK_COMPRESSION_NONE, 2);
        uint8_t *p = w.buf + hdr[i].off;
        if (hdr[i].width == 2)
            bk_be16(p, (uint16_t)hdr[i].v);
        else if (hdr[i].width == 4)
            bk_be32(p, (uint32_t)hdr[i].v);
        else
            bk_be64(p, (uint64_t)hdr[i].v);
        recrc(w.buf);
        int16_t e = verr(&w, &c, &s, &r);
        BK_CHECK(e == hdr[i].want);
        if (e != hdr[i].want)
            fprintf(stderr, "  header case %zu: got %d\n", i, e);
    }

    BK_TEST("validate: record rules, collected per record (RecordErrors)");
    bk_wr_reset(&w);
    mk(&w, BK_COMPRESSION_NONE, 5);
    c.timestamp_before_max_ms = 497; /* records 0..2 are older than now - 497 */
    BK_CHECK(verr(&w, &c, &s, &r) == BK_KERR_INVALID_TIMESTAMP);
    BK_CHECK(r.n_record_errors == 3 && r.record_errors[0] == 0 && r.record_errors[2] == 2);
    c.timestamp_before_max_ms = INT64_MAX;
    c.now_ms = NOW - 10;
    c.timestamp_after_max_ms = 11; /* records 2.. are too far ahead */
    BK_CHECK(verr(&w, &c, &s, &r) == BK_KERR_INVALID_TIMESTAMP);
    BK_CHECK(r.n_record_errors == 3 && r.record_errors[0] == 2);
    c.timestamp_after_max_ms = INT64_MAX;
    c.now_ms = NOW + 500;
    /* a producer must not set LogAppendTime */
    bk_batch_set_max_timestamp(w.buf, BK_TIMESTAMP_LOG_APPEND, NOW);
    c.timestamp_type = BK_TIMESTAMP_LOG_APPEND;
    BK_CHECK(verr(&w, &c, &s, &r) == BK_KERR_INVALID_TIMESTAMP && r.n_record_errors == 5);
    c.timestamp_type = BK_TIMESTAMP_CREATE;
    /* compacted topics need keys */
    bk_wr_reset(&w);
    {
        bk_batch_opts o = BK_BATCH_OPTS_DEFAULT;
        bk_batch_builder b;
        bk_batch_builder_init(&b, &w, &o);
        bk_batch_builder_add(&b, NOW, "k", 1, "v", 1, NULL, 0);
        bk_batch_builder_add(&b, NOW, NULL, -1, "v", 1, NULL, 0);
        bk_batch_builder_finish(&b);
        bk_batch_builder_fini(&b);
    }
    BK_CHECK(verr(&w, &c, &s, &r) == BK_KERR_NONE);
    bk_batch_set_base_offset(w.buf, 0);
    c.compacted = true;
    BK_CHECK(verr(&w, &c, &s, &r) == BK_KERR_INVALID_RECORD);
    BK_CHECK(r.n_record_errors == 1 && r.record_errors[0] == 1);
    BK_CHECK(r.error_message &&
             strstr(r.error_message, "Compacted topic cannot accept message without key"));
    c.compacted = false;
    /* offsetDeltas not 0..n-1: rewrite record 1's delta (1 -> 0) */
    bk_wr_reset(&w);
    mk(&w, BK_COMPRESSION_NONE, 2);
    {
        bk_batch_info b;
        bk_batch_parse(w.buf, w.len, &b);
        bk_rec_iter it;
        bk_record rec;
        bk_rec_iter_init(&it, b.records, b.records_len, 2);
        bk_rec_iter_next(&it, &rec);
        bk_rec_iter_next(&it, &rec);
        /* length varint (1 byte), attributes, ts delta (1 byte: 2), offset delta */
        uint8_t *od = (uint8_t *)rec.raw + 3;
        BK_CHECK(*od == 2);
        *od = 0;
        recrc(w.buf);
    }
    BK_CHECK(verr(&w, &c, &s, &r) == BK_KERR_INVALID_RECORD && r.record_errors[0] == 1);
    /* malformed record structure: INVALID_RECORD without RecordErrors */
    bk_wr_reset(&w);
    mk(&w, BK_COMPRESSION_NONE, 2);
    w.buf[BK_BATCH_HEADER_SIZE] = 0x7e;
    recrc(w.buf);
    BK_CHECK(verr(&w, &c, &s, &r) == BK_KERR_INVALID_RECORD && r.n_record_errors == 0);

    BK_TEST("validate: compressed payload rules: garbage, bombs, count mismatch inside");
    bk_wr_reset(&w);
    mk(&w, BK_COMPRESSION_GZIP, 5);
    w.buf[w.len - 10] ^= 0x40; /* inside the gzip stream (its CRC trailer catches it) */
    recrc(w.buf);
    BK_CHECK(verr(&w, &c, &s, &r) == BK_KERR_CORRUPT_MESSAGE);
    bk_wr_reset(&w);
    mk(&w, BK_COMPRESSION_ZSTD, 300);
    c.max_uncompressed_bytes = 1000;
    BK_CHECK(verr(&w, &c, &s, &r) == BK_KERR_MESSAGE_TOO_LARGE);
    c.max_uncompressed_bytes = 0;
    bk_wr_reset(&w);
    mk(&w, BK_COMPRESSION_LZ4, 5);
    bk_be32(w.buf + BK_BATCH_OFF_RECORD_COUNT, 4);
    bk_be32(w.buf + BK_BATCH_OFF_LAST_OFFSET_DELTA, 3);
    recrc(w.buf);
    BK_CHECK(verr(&w, &c, &s, &r) == BK_KERR_INVALID_RECORD);
    /* recompression that outgrows max.message.bytes */
    bk_wr_reset(&w);
    mk(&w, BK_COMPRESSION_ZSTD, 300);
    c.max_message_bytes = (int32_t)w.len + 100;
    c.compression = BK_COMPRESSION_NONE;
    BK_CHECK(verr(&w, &c, &s, &r) == BK_KERR_MESSAGE_TOO_LARGE);

    bk_wr_fini(&w);
    bk_validate_scratch_fini(&s);
}

void bk_test_validate(void)
{
    test_fast_path();
    test_rejections();
}
