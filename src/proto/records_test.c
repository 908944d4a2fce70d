/*
 * records_test.c - RecordBatch v2: a batch written by kafka-python checked
 * byte for byte against the builder, header accessors, integrity checks,
 * torn tails, in-place setters, hostile record encodings.
 */
#include "../../tests/unit.h"
#include "records.h"

#include <stdlib.h>

void bk_test_records(void);

/*
 * Built by kafka-python 2.0.2's DefaultRecordBatchBuilder (magic 2, no
 * compression, producer id/epoch/sequence -1):
 *   offset 0 ts 1700000000000 key "k1" value "v1" headers [("h", "x")]
 *   offset 1 ts 1700000000005 key None value "value-2"
 *   offset 2 ts 1700000000003 key "k3" value None headers [("a", None), ("bb", "")]
 * Header fields decoded by hand: baseOffset 0, batchLength 0x5e = 94 (106
 * bytes in all), leader epoch 0, magic 2, crc c0c570cf, attributes 0,
 * lastOffsetDelta 2, baseTimestamp 0x18bcfe56800, maxTimestamp +5, count 3.
 * First record: 1c (length 14) 00 (attributes) 00 (ts delta) 00 (offset
 * delta) 04 "k1" 04 "v1" 02 (1 header) 02 "h" 02 "x".
 */
static const char kp_hex[] =
    "00000000000000000000005e0000000002c0c570cf0000000000020000018bcfe568000000018bcfe56805ff"
    "ffffffffffffffffffffffffff000000031c000000046b3104763102026802781a000a02010e76616c7565"
    "2d32001e000604046b33010402610104626200";

static size_t unhex(const char *h, uint8_t *out)
{
    size_t n = 0;
    for (; h[0] && h[1]; h += 2) {
        unsigned v;
        sscanf(h, "%2x", &v);
        out[n++] = (uint8_t)v;
    }
    return n;
}

static void recrc(uint8_t *p)
{
    bk_be32(p + BK_BATCH_OFF_CRC, bk_batch_crc_compute(p, bk_batch_size(p)));
}

/* A pretend codec for the builder's compression path: a 4-byte marker then
 * the bytes as they are. */
static int fake_compress(int codec, const uint8_t *in, size_t len, bk_wr *out)
{
    bk_wr_u32(out, 0xC0DEC000u | (uint32_t)codec);
    bk_wr_mem(out, in, len);
    return out->err;
}

static void test_kafka_python_vector(void)
{
    BK_TEST("records: kafka-python batch parses, checks and iterates");
    uint8_t kp[256];
    size_t n = unhex(kp_hex, kp);
    BK_CHECK(n == 106);
    bk_batch_info b;
    BK_CHECK(bk_batch_check(kp, n, &b) == 0);
    BK_CHECK(b.size == 106 && b.length == 94 && b.magic == 2 && b.crc == 0xc0c570cfu);
    BK_CHECK(b.base_offset == 0 && b.leader_epoch == 0 && b.attributes == 0);
    BK_CHECK(b.compression == BK_COMPRESSION_NONE && b.timestamp_type == BK_TIMESTAMP_CREATE);
    BK_CHECK(!b.transactional && !b.control);
    BK_CHECK(b.last_offset_delta == 2 && b.record_count == 3);
    BK_CHECK(b.base_timestamp == 1700000000000LL && b.max_timestamp == 1700000000005LL);
    BK_CHECK(b.producer_id == -1 && b.producer_epoch == -1 && b.base_sequence == -1);
    BK_CHECK(b.records == kp + 61 && b.records_len == 45);
    BK_CHECK(bk_batch_size(kp) == 106 && bk_batch_last_offset(kp) == 2);
    BK_CHECK(bk_records_check(b.records, b.records_len, b.record_count) == 0);

    bk_rec_iter it;
    bk_record r;
    bk_rec_iter_init(&it, b.records, b.records_len, b.record_count);
    BK_CHECK(bk_rec_iter_next(&it, &r));
    BK_CHECK(r.offset_delta == 0 && r.timestamp_delta == 0 && r.attributes == 0);
    BK_CHECK(r.key_len == 2 && memcmp(r.key, "k1", 2) == 0);
    BK_CHECK(r.value_len == 2 && memcmp(r.value, "v1", 2) == 0);
    BK_CHECK(r.header_count == 1 && r.raw == b.records && r.raw_len == 15);
    bk_hdr_iter hi;
    bk_rec_header h;
    bk_hdr_iter_init(&hi, &r);
    BK_CHECK(bk_hdr_iter_next(&hi, &h) && h.key_len == 1 && h.key[0] == 'h' && h.value_len == 1 &&
             h.value[0] == 'x');
    BK_CHECK(!bk_hdr_iter_next(&hi, &h));
    BK_CHECK(bk_rec_iter_next(&it, &r));
    BK_CHECK(r.offset_delta == 1 && r.timestamp_delta == 5 && r.key == NULL && r.key_len == -1);
    BK_CHECK(r.value_len == 7 && memcmp(r.value, "value-2", 7) == 0 && r.header_count == 0);
    BK_CHECK(bk_record_timestamp(&b, &r) == 1700000000005LL);
    BK_CHECK(bk_rec_iter_next(&it, &r));
    BK_CHECK(r.offset_delta == 2 && r.timestamp_delta == 3 && r.value == NULL &&
             r.value_len == -1 && r.header_count == 2);
    bk_hdr_iter_init(&hi, &r);
    BK_CHECK(bk_hdr_iter_next(&hi, &h) && h.key_len == 1 && h.value == NULL && h.value_len == -1);
    BK_CHECK(bk_hdr_iter_next(&hi, &h) && h.key_len == 2 && memcmp(h.key, "bb", 2) == 0 &&
             h.value_len == 0);
    BK_CHECK(!bk_hdr_iter_next(&hi, &h));
    BK_CHECK(!bk_rec_iter_next(&it, &r) && it.err == 0 && it.index == 3);

    BK_TEST("records: builder reproduces kafka-python's bytes exactly");
    bk_wr w;
    bk_wr_init(&w, 0);
    bk_batch_opts o = BK_BATCH_OPTS_DEFAULT;
    o.leader_epoch = 0; /* kafka-python writes 0 here */
    bk_batch_builder bb;
    BK_CHECK(bk_batch_builder_init(&bb, &w, &o) == 0);
    bk_rec_header h1 = {(const uint8_t *)"h", 1, (const uint8_t *)"x", 1};
    bk_rec_header h3[2] = {{(const uint8_t *)"a", 1, NULL, -1},
                           {(const uint8_t *)"bb", 2, NULL, 0}};
    BK_CHECK(bk_batch_builder_add(&bb, 1700000000000LL, "k1", 2, "v1", 2, &h1, 1) == 0);
    BK_CHECK(bk_batch_builder_add(&bb, 1700000000005LL, NULL, -1, "value-2", 7, NULL, 0) == 0);
    BK_CHECK(bk_batch_builder_add(&bb, 1700000000003LL, "k3", 2, NULL, -1, h3, 2) == 0);
    BK_CHECK(bk_batch_builder_finish(&bb) == 0);
    bk_batch_builder_fini(&bb);
    BK_CHECK(bb.start == 0 && w.len == n && memcmp(w.buf, kp, n) == 0);

    BK_TEST("records: add_record copies an iterated record unchanged");
    bk_wr w2;
    bk_wr_init(&w2, 0);
    BK_CHECK(bk_batch_builder_init(&bb, &w2, &o) == 0);
    bk_rec_iter_init(&it, b.records, b.records_len, b.record_count);
    while (bk_rec_iter_next(&it, &r))
        BK_CHECK(bk_batch_builder_add_record(&bb, bk_record_timestamp(&b, &r), &r) == 0);
    BK_CHECK(bk_batch_builder_finish(&bb) == 0);
    bk_batch_builder_fini(&bb);
    BK_CHECK(w2.len == n && memcmp(w2.buf, kp, n) == 0);
    bk_wr_fini(&w2);
    bk_wr_fini(&w);
}

static void test_checks(void)
{
    uint8_t kp[256], t[256];
    size_t n = unhex(kp_hex, kp);

    BK_TEST("records: every proper prefix is incomplete (EAGAIN), never corrupt");
    int bad = 0;
    for (size_t i = 0; i < n; i++)
        if (bk_batch_check(kp, i, NULL) != BK_EAGAIN || bk_batch_parse(kp, i, NULL) != BK_EAGAIN)
            bad++;
    BK_CHECK(bad == 0);
    BK_CHECK(bk_batch_check(kp, n + 10, NULL) == 0); /* trailing bytes belong to the next batch */

    BK_TEST("records: any flipped bit in the CRC span is detected");
    bad = 0;
    for (size_t i = BK_BATCH_OFF_CRC; i < n; i++) {
        memcpy(t, kp, n);
        t[i] ^= 0x10;
        if (bk_batch_check(t, n, NULL) != BK_ECORRUPT)
            bad++;
    }
    BK_CHECK(bad == 0);

    BK_TEST("records: length, magic, count and codec sanity");
    memcpy(t, kp, n);
    bk_be32(t + 8, 48); /* batchLength < 49 */
    BK_CHECK(bk_batch_check(t, n, NULL) == BK_ECORRUPT);
    bk_be32(t + 8, 0xffffffffu);
    BK_CHECK(bk_batch_check(t, n, NULL) == BK_ECORRUPT);
    memcpy(t, kp, n);
    t[16] = 1;
    BK_CHECK(bk_batch_parse(t, n, NULL) == BK_ECORRUPT);
    BK_CHECK(bk_batch_parse(t, 16, NULL) == BK_EAGAIN);
    /* outside the CRC span: base offset and epoch do not matter to check */
    memcpy(t, kp, n);
    bk_batch_set_base_offset(t, 1234567);
    bk_batch_set_leader_epoch(t, 42);
    BK_CHECK(bk_batch_check(t, n, NULL) == 0);
    BK_CHECK(bk_batch_base_offset(t) == 1234567 && bk_batch_leader_epoch(t) == 42);
    BK_CHECK(bk_batch_last_offset(t) == 1234569);
    bk_batch_set_base_offset(t, INT64_MAX - 1); /* + lastOffsetDelta 2 overflows */
    BK_CHECK(bk_batch_check(t, n, NULL) == BK_ECORRUPT);
    memcpy(t, kp, n);
    bk_be32(t + BK_BATCH_OFF_RECORD_COUNT, 4); /* more records than offsets */
    recrc(t);
    BK_CHECK(bk_batch_check(t, n, NULL) == BK_ECORRUPT);
    bk_be32(t + BK_BATCH_OFF_RECORD_COUNT, (uint32_t)-1);
    recrc(t);
    BK_CHECK(bk_batch_check(t, n, NULL) == BK_ECORRUPT);
    memcpy(t, kp, n);
    bk_be32(t + BK_BATCH_OFF_LAST_OFFSET_DELTA, 1000); /* compaction-like gap: fine */
    bk_be32(t + BK_BATCH_OFF_RECORD_COUNT, 7);         /* 7 * 7 > 45 bytes of records */
    recrc(t);
    BK_CHECK(bk_batch_check(t, n, NULL) == BK_ECORRUPT);
    bk_be32(t + BK_BATCH_OFF_RECORD_COUNT, 3);
    recrc(t);
    BK_CHECK(bk_batch_check(t, n, NULL) == 0);
    memcpy(t, kp, n);
    bk_be16(t + BK_BATCH_OFF_ATTRIBUTES, 5); /* codec 5 */
    recrc(t);
    BK_CHECK(bk_batch_check(t, n, NULL) == BK_ECORRUPT);

    BK_TEST("records: set_max_timestamp re-CRCs only when something changes");
    memcpy(t, kp, n);
    bk_batch_set_max_timestamp(t, BK_TIMESTAMP_CREATE, 1700000000005LL);
    BK_CHECK(memcmp(t, kp, n) == 0);
    bk_batch_set_max_timestamp(t, BK_TIMESTAMP_LOG_APPEND, 1800000000000LL);
    bk_batch_info b;
    BK_CHECK(bk_batch_check(t, n, &b) == 0);
    BK_CHECK(b.timestamp_type == BK_TIMESTAMP_LOG_APPEND && b.max_timestamp == 1800000000000LL);
    BK_CHECK(b.attributes == BK_BATCH_ATTR_LOG_APPEND && b.crc != 0xc0c570cfu);
    bk_rec_iter it;
    bk_record r;
    bk_rec_iter_init(&it, b.records, b.records_len, b.record_count);
    BK_CHECK(bk_rec_iter_next(&it, &r) && bk_record_timestamp(&b, &r) == 1800000000000LL);
    bk_batch_set_max_timestamp(t, BK_TIMESTAMP_CREATE, 1700000000005LL);
    BK_CHECK(memcmp(t, kp, n) == 0); /* back to the original bytes and CRC */
}

/* Records area of one record, hand-written: returns its length. */
static size_t one_record(uint8_t *p, const uint8_t *body, size_t blen)
{
    p[0] = (uint8_t)(blen << 1); /* zig-zag varint, blen < 64 */
    memcpy(p + 1, body, blen);
    return blen + 1;
}

static void test_hostile_records(void)
{
    BK_TEST("records: hostile record encodings are rejected, never over-read");
    uint8_t buf[64];
    bk_rec_iter it;
    bk_record r;
    /* valid: attrs 0, ts 0, off 0, key -1 (01), value -1, 0 headers */
    static const uint8_t ok[] = {0, 0, 0, 1, 1, 0};
    size_t n = one_record(buf, ok, sizeof ok);
    bk_rec_iter_init(&it, buf, n, 1);
    BK_CHECK(bk_rec_iter_next(&it, &r) && r.key == NULL && r.value == NULL);
    BK_CHECK(!bk_rec_iter_next(&it, &r) && it.err == 0);
    BK_CHECK(bk_records_check(buf, n, 1) == 0);
    /* count says 2 but one is there; count says 0 but bytes remain */
    BK_CHECK(bk_records_check(buf, n, 2) == BK_ECORRUPT);
    BK_CHECK(bk_records_check(buf, n, 0) == BK_ECORRUPT);
    /* negative key length other than -1 reads as null, like Kafka */
    static const uint8_t negkey[] = {0, 0, 0, 3 /* -2 */, 1, 0};
    n = one_record(buf, negkey, sizeof negkey);
    bk_rec_iter_init(&it, buf, n, 1);
    BK_CHECK(bk_rec_iter_next(&it, &r) && r.key == NULL && r.key_len == -1);
    /* key longer than the record */
    static const uint8_t longkey[] = {0, 0, 0, 20, 'a', 1, 0};
    n = one_record(buf, longkey, sizeof longkey);
    BK_CHECK(bk_records_check(buf, n, 1) == BK_ECORRUPT);
    /* negative header count */
    static const uint8_t neghc[] = {0, 0, 0, 1, 1, 1};
    n = one_record(buf, neghc, sizeof neghc);
    BK_CHECK(bk_records_check(buf, n, 1) == BK_ECORRUPT);
    /* null header key */
    static const uint8_t nullhk[] = {0, 0, 0, 1, 1, 2, 1, 1};
    n = one_record(buf, nullhk, sizeof nullhk);
    BK_CHECK(bk_records_check(buf, n, 1) == BK_ECORRUPT);
    /* header count larger than the headers present */
    static const uint8_t manyh[] = {0, 0, 0, 1, 1, 0x7e, 2, 'h', 1};
    n = one_record(buf, manyh, sizeof manyh);
    BK_CHECK(bk_records_check(buf, n, 1) == BK_ECORRUPT);
    /* record shorter than its fields / unused bytes inside the record */
    static const uint8_t shortr[] = {0, 0, 0, 1};
    n = one_record(buf, shortr, sizeof shortr);
    BK_CHECK(bk_records_check(buf, n, 1) == BK_ECORRUPT);
    static const uint8_t slack[] = {0, 0, 0, 1, 1, 0, 0};
    n = one_record(buf, slack, sizeof slack);
    BK_CHECK(bk_records_check(buf, n, 1) == BK_ECORRUPT);
    /* length prefix negative / beyond the area / unterminated varint */
    buf[0] = 1; /* -1 */
    BK_CHECK(bk_records_check(buf, 1, 1) == BK_ECORRUPT);
    buf[0] = 0x7e; /* 63 */
    BK_CHECK(bk_records_check(buf, 10, 1) == BK_ECORRUPT);
    memset(buf, 0xff, 12);
    BK_CHECK(bk_records_check(buf, 12, 1) == BK_ECORRUPT);
    /* offsetDelta out of order: two records with delta 0 */
    n = one_record(buf, ok, sizeof ok);
    n += one_record(buf + n, ok, sizeof ok);
    BK_CHECK(bk_records_check(buf, n, 2) == BK_ECORRUPT);
    bk_rec_iter_init(&it, buf, n, -1); /* until the end: both are well-formed */
    int cnt = 0;
    while (bk_rec_iter_next(&it, &r))
        cnt++;
    BK_CHECK(cnt == 2 && it.err == 0);
    /* the error is sticky */
    bk_rec_iter_init(&it, buf, n - 1, 2);
    BK_CHECK(bk_rec_iter_next(&it, &r) && !bk_rec_iter_next(&it, &r) && it.err == BK_ECORRUPT);
    BK_CHECK(!bk_rec_iter_next(&it, &r));
}

static void test_builder(void)
{
    BK_TEST("records: builder flags, idempotence fields, LogAppendTime, empty batch");
    bk_wr w;
    bk_wr_init(&w, 0);
    bk_wr_u32(&w, 0xdeadbeef); /* the batch need not start at 0 */
    bk_batch_opts o = BK_BATCH_OPTS_DEFAULT;
    o.base_offset = 500;
    o.leader_epoch = 7;
    o.transactional = true;
    o.producer_id = 1000;
    o.producer_epoch = 3;
    o.base_sequence = 17;
    o.timestamp_type = BK_TIMESTAMP_LOG_APPEND;
    o.log_append_time = 1234;
    bk_batch_builder bb;
    BK_CHECK(bk_batch_builder_init(&bb, &w, &o) == 0 && bb.start == 4);
    for (int i = 0; i < 100; i++)
        BK_CHECK(bk_batch_builder_add(&bb, 100 - i, &i, sizeof i, "v", 1, NULL, 0) == 0);
    BK_CHECK(bk_batch_builder_finish(&bb) == 0);
    BK_CHECK(bk_batch_builder_finish(&bb) == BK_EINVAL); /* only once */
    bk_batch_builder_fini(&bb);
    bk_batch_info b;
    BK_CHECK(bk_batch_check(w.buf + 4, w.len - 4, &b) == 0);
    BK_CHECK(b.base_offset == 500 && b.leader_epoch == 7 && b.transactional && !b.control);
    BK_CHECK(b.producer_id == 1000 && b.producer_epoch == 3 && b.base_sequence == 17);
    BK_CHECK(b.timestamp_type == BK_TIMESTAMP_LOG_APPEND && b.max_timestamp == 1234);
    BK_CHECK(b.base_timestamp == 100 && b.record_count == 100 && b.last_offset_delta == 99);
    BK_CHECK(bk_records_check(b.records, b.records_len, 100) == 0);

    bk_wr_reset(&w);
    bk_batch_opts e = BK_BATCH_OPTS_DEFAULT;
    e.control = true;
    BK_CHECK(bk_batch_builder_init(&bb, &w, &e) == 0 && bk_batch_builder_finish(&bb) == 0);
    bk_batch_builder_fini(&bb);
    BK_CHECK(w.len == 61 && bk_batch_check(w.buf, w.len, &b) == 0);
    BK_CHECK(b.record_count == 0 && b.control && b.max_timestamp == -1);

    BK_TEST("records: builder compression path hands the records to the codec");
    bk_wr_reset(&w);
    bk_wr scratch;
    bk_wr_init(&scratch, 0);
    bk_wr_u8(&scratch, 99); /* a lent scratch is reset first */
    bk_batch_opts c = BK_BATCH_OPTS_DEFAULT;
    c.compression = BK_COMPRESSION_LZ4;
    c.compress = fake_compress;
    c.scratch = &scratch;
    BK_CHECK(bk_batch_builder_init(&bb, &w, &c) == 0);
    BK_CHECK(bk_batch_builder_add(&bb, 5, "a", 1, "b", 1, NULL, 0) == 0);
    BK_CHECK(bk_batch_builder_add(&bb, 9, "c", 1, "d", 1, NULL, 0) == 0);
    BK_CHECK(bk_batch_builder_finish(&bb) == 0);
    bk_batch_builder_fini(&bb);
    BK_CHECK(bk_batch_check(w.buf, w.len, &b) == 0 && b.compression == BK_COMPRESSION_LZ4);
    BK_CHECK(b.records_len == 4 + scratch.len && bk_get_be32(b.records) == 0xC0DEC003u);
    BK_CHECK(bk_records_check(b.records + 4, b.records_len - 4, 2) == 0);
    BK_CHECK(b.max_timestamp == 9 && b.base_timestamp == 5);
    bk_wr_fini(&scratch);

    BK_TEST("records: builder refuses bad options and reports writer overflow");
    bk_wr_reset(&w);
    c.compress = NULL;
    BK_CHECK(bk_batch_builder_init(&bb, &w, &c) == BK_EINVAL);
    BK_CHECK(bk_batch_builder_add(&bb, 0, NULL, -1, NULL, -1, NULL, 0) == BK_EINVAL);
    bk_batch_builder_fini(&bb);
    uint8_t small[80];
    bk_wr f;
    bk_wr_init_fixed(&f, small, sizeof small);
    bk_batch_opts d = BK_BATCH_OPTS_DEFAULT;
    BK_CHECK(bk_batch_builder_init(&bb, &f, &d) == 0);
    BK_CHECK(bk_batch_builder_add(&bb, 0, NULL, -1, "0123456789012345678901234567890", 31, NULL,
                                  0) == BK_ELIMIT);
    BK_CHECK(bk_batch_builder_finish(&bb) == BK_ELIMIT);
    bk_batch_builder_fini(&bb);
    BK_CHECK(strcmp(bk_compression_name(BK_COMPRESSION_ZSTD), "zstd") == 0 &&
             strcmp(bk_compression_name(9), "unknown") == 0);
    bk_wr_fini(&w);
}

void bk_test_records(void)
{
    test_kafka_python_vector();
    test_checks();
    test_hostile_records();
    test_builder();
}
