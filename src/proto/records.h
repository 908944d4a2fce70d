/*
 * records.h - Kafka RecordBatch v2 (magic 2): a view over the 61-byte
 * header, integrity checks, a bounds-checked record iterator and a builder.
 *
 * Contract:
 *  - Everything here works on borrowed bytes; nothing keeps a pointer past
 *    the call except the iterators (which borrow the records area) and the
 *    builder (which borrows its output writer). Returned key/value/header
 *    pointers point into the caller's buffer.
 *  - The accessors (bk_batch_*()) read the header fields directly and need
 *    at least BK_BATCH_HEADER_SIZE readable bytes; they check nothing. Run
 *    bk_batch_parse() or bk_batch_check() first on untrusted input.
 *  - The iterator works on an *uncompressed* records area (the bytes after
 *    the header when compression is none, or the decompressed block;
 *    decompression lives in storage/compress.h). Every varint and length is
 *    bounds-checked against the record's own length prefix.
 *  - No allocation, except in the builder when it compresses (a scratch
 *    writer for the uncompressed records, unless the caller lends one).
 *  - Pure functions of their arguments: callable from any thread.
 *
 * Batch header, all integers big-endian (DefaultRecordBatch.java):
 *
 *   OFFSET  SIZE  FIELD                 NOTES
 *        0     8  baseOffset            set by the leader (producers send 0)
 *        8     4  batchLength           bytes after this field = size - 12
 *       12     4  partitionLeaderEpoch  set by the leader; -1 from producers
 *       16     1  magic                 2
 *       17     4  crc                   uint32 CRC-32C of bytes 21 .. end
 *       21     2  attributes            see below
 *       23     4  lastOffsetDelta       offset of the last record - baseOffset
 *       27     8  baseTimestamp         timestamp of the first record
 *       35     8  maxTimestamp          max record timestamp, or the
 *                                       LogAppendTime when attribute bit 3 set
 *       43     8  producerId            -1 when not idempotent
 *       51     2  producerEpoch         -1 when not idempotent
 *       53     4  baseSequence          -1 when not idempotent
 *       57     4  recordCount           number of records
 *       61     -  records               one block, compressed when bits 0-2 != 0
 *
 *   baseOffset, batchLength, partitionLeaderEpoch and magic lie before the
 *   CRC span: the leader can assign offsets and the epoch in place without
 *   recomputing the CRC. Setting maxTimestamp/LogAppendTime does change it.
 *
 * Attributes (int16): bits 0-2 compression (0 none, 1 gzip, 2 snappy,
 * 3 lz4, 4 zstd), bit 3 timestamp type (1 = LogAppendTime), bit 4
 * transactional, bit 5 control batch, bit 6 delete horizon set (compaction).
 *
 * Record (all varints zig-zag, DefaultRecord.java):
 *
 *   length varint          bytes of the rest of the record
 *   attributes int8        unused (0)
 *   timestampDelta varlong relative to baseTimestamp
 *   offsetDelta varint     relative to baseOffset
 *   keyLength varint       negative = null key (Kafka writes -1)
 *   key bytes
 *   valueLength varint     negative = null value
 *   value bytes
 *   headerCount varint     >= 0
 *   headers: headerKeyLength varint (>= 0), headerKey, headerValueLength
 *            varint (negative = null), headerValue
 */
#ifndef BK_RECORDS_H
#define BK_RECORDS_H

#include "../core/buf.h"
#include "../core/kb.h"

/* ------------------------------------------------------------ header view */

enum {
    BK_BATCH_OFF_BASE_OFFSET = 0,
    BK_BATCH_OFF_LENGTH = 8,
    BK_BATCH_OFF_LEADER_EPOCH = 12,
    BK_BATCH_OFF_MAGIC = 16,
    BK_BATCH_OFF_CRC = 17,
    BK_BATCH_OFF_ATTRIBUTES = 21,
    BK_BATCH_OFF_LAST_OFFSET_DELTA = 23,
    BK_BATCH_OFF_BASE_TIMESTAMP = 27,
    BK_BATCH_OFF_MAX_TIMESTAMP = 35,
    BK_BATCH_OFF_PRODUCER_ID = 43,
    BK_BATCH_OFF_PRODUCER_EPOCH = 51,
    BK_BATCH_OFF_BASE_SEQUENCE = 53,
    BK_BATCH_OFF_RECORD_COUNT = 57,
    BK_BATCH_HEADER_SIZE = 61,  /* RECORD_BATCH_OVERHEAD */
    BK_BATCH_LOG_OVERHEAD = 12, /* baseOffset + batchLength */
    BK_BATCH_MAGIC = 2
};

#define BK_BATCH_ATTR_COMPRESSION    0x07
#define BK_BATCH_ATTR_LOG_APPEND     0x08
#define BK_BATCH_ATTR_TRANSACTIONAL  0x10
#define BK_BATCH_ATTR_CONTROL        0x20
#define BK_BATCH_ATTR_DELETE_HORIZON 0x40

/* Compression codecs: the attribute values. */
enum {
    BK_COMPRESSION_NONE = 0,
    BK_COMPRESSION_GZIP = 1,
    BK_COMPRESSION_SNAPPY = 2,
    BK_COMPRESSION_LZ4 = 3,
    BK_COMPRESSION_ZSTD = 4,
    BK_COMPRESSION_MAX = 4
};

enum { BK_TIMESTAMP_CREATE = 0, BK_TIMESTAMP_LOG_APPEND = 1 };
#define BK_NO_TIMESTAMP ((int64_t)-1)

/* "none", "gzip", ...; "unknown" outside 0..4. */
const char *bk_compression_name(int codec);

static inline int64_t bk_batch_base_offset(const uint8_t *p)
{
    return (int64_t)bk_get_be64(p + BK_BATCH_OFF_BASE_OFFSET);
}
static inline int32_t bk_batch_length(const uint8_t *p)
{
    return (int32_t)bk_get_be32(p + BK_BATCH_OFF_LENGTH);
}
/* Whole batch on disk / on the wire: batchLength + 12. Only meaningful
 * after bk_batch_parse() accepted the length. */
static inline size_t bk_batch_size(const uint8_t *p)
{
    return (size_t)(uint32_t)bk_batch_length(p) + BK_BATCH_LOG_OVERHEAD;
}
static inline int32_t bk_batch_leader_epoch(const uint8_t *p)
{
    return (int32_t)bk_get_be32(p + BK_BATCH_OFF_LEADER_EPOCH);
}
static inline int8_t bk_batch_magic(const uint8_t *p)
{
    return (int8_t)p[BK_BATCH_OFF_MAGIC];
}
static inline uint32_t bk_batch_crc(const uint8_t *p)
{
    return bk_get_be32(p + BK_BATCH_OFF_CRC);
}
static inline int16_t bk_batch_attributes(const uint8_t *p)
{
    return (int16_t)bk_get_be16(p + BK_BATCH_OFF_ATTRIBUTES);
}
static inline int bk_batch_compression(const uint8_t *p)
{
    return bk_batch_attributes(p) & BK_BATCH_ATTR_COMPRESSION;
}
static inline int bk_batch_timestamp_type(const uint8_t *p)
{
    return (bk_batch_attributes(p) & BK_BATCH_ATTR_LOG_APPEND) ? BK_TIMESTAMP_LOG_APPEND
                                                               : BK_TIMESTAMP_CREATE;
}
static inline bool bk_batch_is_transactional(const uint8_t *p)
{
    return (bk_batch_attributes(p) & BK_BATCH_ATTR_TRANSACTIONAL) != 0;
}
static inline bool bk_batch_is_control(const uint8_t *p)
{
    return (bk_batch_attributes(p) & BK_BATCH_ATTR_CONTROL) != 0;
}
static inline int32_t bk_batch_last_offset_delta(const uint8_t *p)
{
    return (int32_t)bk_get_be32(p + BK_BATCH_OFF_LAST_OFFSET_DELTA);
}
static inline int64_t bk_batch_base_timestamp(const uint8_t *p)
{
    return (int64_t)bk_get_be64(p + BK_BATCH_OFF_BASE_TIMESTAMP);
}
static inline int64_t bk_batch_max_timestamp(const uint8_t *p)
{
    return (int64_t)bk_get_be64(p + BK_BATCH_OFF_MAX_TIMESTAMP);
}
static inline int64_t bk_batch_producer_id(const uint8_t *p)
{
    return (int64_t)bk_get_be64(p + BK_BATCH_OFF_PRODUCER_ID);
}
static inline int16_t bk_batch_producer_epoch(const uint8_t *p)
{
    return (int16_t)bk_get_be16(p + BK_BATCH_OFF_PRODUCER_EPOCH);
}
static inline int32_t bk_batch_base_sequence(const uint8_t *p)
{
    return (int32_t)bk_get_be32(p + BK_BATCH_OFF_BASE_SEQUENCE);
}
static inline int32_t bk_batch_record_count(const uint8_t *p)
{
    return (int32_t)bk_get_be32(p + BK_BATCH_OFF_RECORD_COUNT);
}
/* baseOffset + lastOffsetDelta (no overflow after bk_batch_check()). */
static inline int64_t bk_batch_last_offset(const uint8_t *p)
{
    return bk_batch_base_offset(p) + bk_batch_last_offset_delta(p);
}

/* In-place setters. baseOffset and partitionLeaderEpoch lie outside the CRC
 * span: no re-CRC. */
static inline void bk_batch_set_base_offset(uint8_t *p, int64_t v)
{
    bk_be64(p + BK_BATCH_OFF_BASE_OFFSET, (uint64_t)v);
}
static inline void bk_batch_set_leader_epoch(uint8_t *p, int32_t v)
{
    bk_be32(p + BK_BATCH_OFF_LEADER_EPOCH, (uint32_t)v);
}

/* CRC-32C over attributes .. end of a batch of `size` bytes (size >= 61). */
uint32_t bk_batch_crc_compute(const uint8_t *p, size_t size);
bool bk_batch_crc_ok(const uint8_t *p, size_t size);

/* Set maxTimestamp and the timestamp-type bit (BK_TIMESTAMP_*), then
 * recompute the CRC - unless both already hold these values, in which case
 * nothing is written (DefaultRecordBatch.setMaxTimestamp). p must be a whole
 * batch whose length bk_batch_parse() accepted. */
void bk_batch_set_max_timestamp(uint8_t *p, int timestamp_type, int64_t max_ts);

/* Decoded header. */
typedef struct bk_batch_info {
    int64_t base_offset;
    int32_t length; /* batchLength field */
    size_t size;    /* length + 12: bytes of the whole batch */
    int32_t leader_epoch;
    int8_t magic;
    uint32_t crc;
    int16_t attributes;
    int compression;    /* attributes & 7 */
    int timestamp_type; /* BK_TIMESTAMP_* */
    bool transactional;
    bool control;
    int32_t last_offset_delta;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t record_count;
    const uint8_t *records; /* borrowed: bytes after the header */
    size_t records_len;     /* size - 61 */
} bk_batch_info;

/*
 * Frame one batch at p (avail readable bytes) and decode its header; no CRC.
 *   0           batchLength >= 49, magic 2, all size bytes present; *out set
 *   BK_EAGAIN   fewer than 17 bytes, or fewer than batchLength + 12
 *               (incomplete: a torn tail, or wait for more input)
 *   BK_ECORRUPT batchLength < 49 (or negative), or magic != 2
 * out may be NULL.
 */
int bk_batch_parse(const uint8_t *p, size_t avail, bk_batch_info *out);

/*
 * bk_batch_parse() plus integrity: the CRC matches, compression is 0-4,
 * recordCount >= 0, lastOffsetDelta >= 0, recordCount <= lastOffsetDelta+1
 * (compaction may remove records but never adds offsets),
 * baseOffset + lastOffsetDelta does not overflow, and for an uncompressed
 * batch recordCount fits in the records area (>= 7 bytes per record).
 * Returns 0, BK_EAGAIN (incomplete, as above) or BK_ECORRUPT. This is what
 * log recovery runs over a segment to find a torn tail.
 */
int bk_batch_check(const uint8_t *p, size_t avail, bk_batch_info *out);

/* ------------------------------------------------------------ records */

typedef struct bk_record {
    int8_t attributes;
    int64_t timestamp_delta;
    int32_t offset_delta;
    const uint8_t *key;   /* borrowed; NULL when key_len < 0 */
    int32_t key_len;      /* -1 = null */
    const uint8_t *value; /* borrowed; NULL when value_len < 0 */
    int32_t value_len;    /* -1 = null */
    int32_t header_count;
    const uint8_t *headers; /* borrowed: the encoded headers after the count */
    size_t headers_len;
    const uint8_t *raw; /* borrowed: the whole record, length prefix included */
    size_t raw_len;
} bk_record;

typedef struct bk_rec_header {
    const uint8_t *key; /* borrowed; never NULL for a parsed header */
    int32_t key_len;
    const uint8_t *value; /* borrowed; NULL when value_len < 0 */
    int32_t value_len;    /* -1 = null */
} bk_rec_header;

/*
 * Record iterator over an uncompressed records area.
 *
 *     bk_rec_iter it;
 *     bk_record r;
 *     bk_rec_iter_init(&it, recs, len, count);
 *     while (bk_rec_iter_next(&it, &r))
 *         use(&r);
 *     if (it.err) ... BK_ECORRUPT
 *
 * With count >= 0 exactly count records must be present and they must use
 * every byte (Kafka: "Incorrect declared batch size"). With count < 0 the
 * iterator reads records until the bytes end.
 */
typedef struct bk_rec_iter {
    bk_rd rd;      /* borrowed bytes */
    int32_t left;  /* records still expected, or -1 = until the end */
    int32_t index; /* records returned so far */
    int err;       /* 0 or BK_ECORRUPT; sticky */
} bk_rec_iter;

void bk_rec_iter_init(bk_rec_iter *it, const uint8_t *recs, size_t len, int32_t count);
/* true: *out holds the next record. false: the end, or an error (it->err). */
bool bk_rec_iter_next(bk_rec_iter *it, bk_record *out);

/* Headers of one record (already validated by bk_rec_iter_next()). */
typedef struct bk_hdr_iter {
    bk_rd rd;
    int32_t left;
} bk_hdr_iter;

void bk_hdr_iter_init(bk_hdr_iter *hi, const bk_record *r);
bool bk_hdr_iter_next(bk_hdr_iter *hi, bk_rec_header *out);

/* Absolute timestamp of a record: the batch's maxTimestamp when the batch
 * is LogAppendTime, else baseTimestamp + timestampDelta (wrapping, as Java
 * computes it). */
static inline int64_t bk_record_timestamp(const bk_batch_info *b, const bk_record *r)
{
    if (b->timestamp_type == BK_TIMESTAMP_LOG_APPEND)
        return b->max_timestamp;
    return (int64_t)((uint64_t)b->base_timestamp + (uint64_t)r->timestamp_delta);
}

/*
 * Kafka's record-count checks on an uncompressed records area: exactly
 * `count` well-formed records using every byte, with offsetDeltas 0, 1,
 * ..., count-1 in order. 0 or BK_ECORRUPT.
 */
int bk_records_check(const uint8_t *recs, size_t len, int32_t count);

/* ------------------------------------------------------------ builder */

/* Compresses len bytes at in and appends the result to out; 0 or BK_E*.
 * storage/compress.h's bk_compress() has this type (proto does not depend
 * on storage, so the builder receives it from the caller). */
typedef int (*bk_batch_compress_fn)(int codec, const uint8_t *in, size_t len, bk_wr *out);

typedef struct bk_batch_opts {
    int64_t base_offset;     /* 0 from producers; the real offset for internal writes */
    int32_t leader_epoch;    /* -1 from producers */
    int compression;         /* BK_COMPRESSION_* */
    int timestamp_type;      /* BK_TIMESTAMP_* */
    int64_t log_append_time; /* maxTimestamp of a LogAppendTime batch */
    bool transactional;
    bool control;
    int64_t producer_id; /* -1 / -1 / -1 when not idempotent */
    int16_t producer_epoch;
    int32_t base_sequence;
    bk_batch_compress_fn compress; /* required when compression != NONE */
    bk_wr *scratch;                /* borrowed, optional: where uncompressed records are
                                      built before compressing (reset first); NULL = own */
} bk_batch_opts;

#define BK_BATCH_OPTS_DEFAULT                                                                      \
    {                                                                                              \
        .base_offset = 0, .leader_epoch = -1, .compression = BK_COMPRESSION_NONE,                  \
        .timestamp_type = BK_TIMESTAMP_CREATE, .log_append_time = BK_NO_TIMESTAMP,                 \
        .producer_id = -1, .producer_epoch = -1, .base_sequence = -1                               \
    }

/*
 * Builds one batch at the end of a bk_wr:
 *
 *     bk_batch_opts o = BK_BATCH_OPTS_DEFAULT;
 *     bk_batch_builder b;
 *     bk_batch_builder_init(&b, &wr, &o);
 *     bk_batch_builder_add(&b, ts, "k", 1, "v", 1, NULL, 0);
 *     if (bk_batch_builder_finish(&b) == 0)
 *         batch = wr.buf + b.start, size = wr.len - b.start;
 *     bk_batch_builder_fini(&b);
 *
 * Records get offsetDeltas 0, 1, 2, ...; baseTimestamp is the first
 * record's timestamp, maxTimestamp the largest (or log_append_time for a
 * LogAppendTime batch), as Kafka's MemoryRecordsBuilder writes them.
 * Uncompressed records are written straight into the output; with a codec
 * they go to a scratch writer and are compressed by finish().
 * Errors are sticky: the first failure is returned by every later call.
 */
typedef struct bk_batch_builder {
    bk_wr *out;    /* borrowed: the batch is appended here */
    size_t start;  /* where the batch begins in out */
    bk_wr own;     /* owned: scratch when opts.scratch is NULL */
    bk_wr *rw;     /* where records are written: out, or the scratch */
    size_t rstart; /* where the records begin in *rw */
    bk_batch_opts o;
    int64_t base_ts;
    int64_t max_ts;
    int32_t count;
    int err;
    bool finished;
} bk_batch_builder;

int bk_batch_builder_init(bk_batch_builder *b, bk_wr *out, const bk_batch_opts *o);
/* key_len / value_len -1 = null (pointer ignored). */
int bk_batch_builder_add(bk_batch_builder *b, int64_t timestamp, const void *key, int32_t key_len,
                         const void *value, int32_t value_len, const bk_rec_header *hdrs,
                         int nhdrs);
/* Copy a record read by bk_rec_iter (key, value, headers as they are) with
 * the given absolute timestamp and the next offsetDelta. */
int bk_batch_builder_add_record(bk_batch_builder *b, int64_t timestamp, const bk_record *r);
/* Write the header (and compressed records), compute the CRC. */
int bk_batch_builder_finish(bk_batch_builder *b);
void bk_batch_builder_fini(bk_batch_builder *b);

#endif
