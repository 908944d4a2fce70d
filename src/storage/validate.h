/*
 * validate.h - what the leader does to one partition's Produce `records`
 * before appending them (Kafka's ProduceRequest.validateRecords +
 * UnifiedLog.analyzeAndValidateRecords + LogValidator, magic 2 only).
 *
 * Contract:
 *  - Input: the partition's records bytes exactly as the client sent them
 *    (borrowed, mutable: a slice of the connection's input buffer), the
 *    partition's state and topic config in bk_validate_cfg, and a
 *    caller-owned bk_validate_scratch reused across calls (one per thread).
 *  - Fast path (batch uncompressed, or compression.type = producer or equal
 *    to the batch's codec): no copy and no allocation. Only header fields
 *    are patched in place: baseOffset = next offset, partitionLeaderEpoch,
 *    and maxTimestamp + timestamp type (the CRC is recomputed only when
 *    that changes a byte). Compressed batches are decompressed into
 *    scratch->dec only to check the records; the original bytes are stored.
 *  - Slow path (topic compression.type differs from the batch's codec): the
 *    records are rebuilt into scratch->out with the topic's codec, offsets
 *    renumbered without gaps (allocation allowed here). Control batches
 *    written uncompressed and empty batches (internal only) stay as they are.
 *  - On success (return 0, res->error == NONE) res->data/len are the bytes
 *    to append: the input (minus an incomplete trailing batch, which Kafka
 *    silently drops) or scratch->out. They stay valid until the next call
 *    with the same scratch (or until the input buffer goes).
 *  - On rejection res->error is the partition's Kafka ErrorCode, res->
 *    error_message static text for ErrorMessage, res->record_errors the
 *    RecordErrors (BatchIndex = index of the record inside the batch), and
 *    the function returns BK_EINVAL (BK_ENOMEM when memory ran out, with
 *    UNKNOWN_SERVER_ERROR). The input may have been partly patched; it must
 *    not be appended.
 *
 * Checks, in Kafka's order (error in brackets):
 *   1. framing of every batch: size field >= 14, magic 0..2 [CORRUPT_MESSAGE]
 *   2. at least one complete batch [INVALID_RECORD]; first batch magic 2
 *      [INVALID_RECORD for Produce v3+, else UNSUPPORTED_FOR_MESSAGE_FORMAT:
 *      Brook does not up-convert]; zstd needs Produce v7+ (when the version
 *      is known) [UNSUPPORTED_COMPRESSION_TYPE]; exactly one batch unless
 *      allow_multi_batch [INVALID_RECORD]
 *   3. per batch: baseOffset 0 [INVALID_RECORD]; size (batchLength + 12) <=
 *      max_message_bytes [MESSAGE_TOO_LARGE]; size >= 61 and CRC
 *      [CORRUPT_MESSAGE]; codec 0..4 [UNSUPPORTED_COMPRESSION_TYPE];
 *      recordCount > 0 and == lastOffsetDelta + 1, not a control batch,
 *      baseSequence >= 0 when producerId >= 0 [INVALID_RECORD]
 *   4. records (decompressed if needed, at most max_uncompressed_bytes
 *      [MESSAGE_TOO_LARGE beyond], undecodable [CORRUPT_MESSAGE]): exactly
 *      recordCount well-formed records [INVALID_RECORD]; per record, all
 *      collected: offsetDelta == its index, key present on compacted topics
 *      [INVALID_RECORD], CreateTime timestamp within
 *      [now - before_max, now + after_max], no LogAppendTime set by the
 *      producer [INVALID_TIMESTAMP wins over INVALID_RECORD]
 *   5. after recompression, the new batch's size <= max_message_bytes
 *      [MESSAGE_TOO_LARGE]
 * `internal` (the broker writing its own batches: group/txn coordinator)
 * skips the client-only rules of 3 (baseOffset 0, count == lastOffsetDelta
 * + 1, no control batches, sequence).
 *
 * Deliberate differences from Kafka: non-consecutive offsetDeltas are
 * rejected (Kafka rewrites compressed batches and stores uncompressed ones
 * as sent); undecodable compressed data is CORRUPT_MESSAGE (Kafka: unknown
 * server error); output size of decompression is bounded; for
 * LogAppendTime, offset_of_max_timestamp is the first offset of the append.
 */
#ifndef BK_VALIDATE_H
#define BK_VALIDATE_H

#include "../core/buf.h"
#include "../proto/records.h"
#include "compress.h"

/* cfg.compression value for compression.type=producer; otherwise a
 * BK_COMPRESSION_* (none, gzip, snappy, lz4, zstd). */
#define BK_VALIDATE_COMPRESSION_PRODUCER (-1)
#define BK_VALIDATE_MAX_RECORD_ERRORS    16
/* Decompressed-size cap when cfg.max_uncompressed_bytes is 0:
 * max(64 MiB, 16 x max_message_bytes). */
#define BK_VALIDATE_MIN_UNCOMPRESSED_CAP ((size_t)64 << 20)

typedef struct bk_validate_cfg {
    int64_t next_offset;             /* log end offset: the first offset assigned */
    int32_t leader_epoch;            /* written to partitionLeaderEpoch */
    int timestamp_type;              /* message.timestamp.type: BK_TIMESTAMP_* */
    int64_t now_ms;                  /* wall clock, also the LogAppendTime */
    int32_t max_message_bytes;       /* max.message.bytes */
    int64_t timestamp_before_max_ms; /* message.timestamp.before.max.ms (INT64_MAX: off) */
    int64_t timestamp_after_max_ms;  /* message.timestamp.after.max.ms (INT64_MAX: off) */
    int compression;                 /* compression.type: PRODUCER or BK_COMPRESSION_* */
    bool compacted;                  /* cleanup.policy has compact: keys required */
    int16_t produce_version;         /* Produce request version; -1 = not a Produce */
    bool internal;                   /* broker-written (AppendOrigin COORDINATOR) */
    bool allow_multi_batch;          /* accept several batches (not Kafka behaviour) */
    size_t max_uncompressed_bytes;   /* decompression cap per batch; 0 = default */
} bk_validate_cfg;

typedef struct bk_validate_result {
    int16_t error;             /* BK_KERR_NONE or the partition's ErrorCode */
    const char *error_message; /* static text, NULL when error is NONE */
    int32_t error_batch;       /* index of the failing batch in the input, or -1 */
    int32_t n_record_errors;   /* records rejected, may exceed the array */
    int32_t record_errors[BK_VALIDATE_MAX_RECORD_ERRORS]; /* their BatchIndex, first ones */
    int64_t first_offset;                                 /* offsets assigned: first .. last */
    int64_t last_offset;
    int64_t max_timestamp; /* -1 when no record has a timestamp */
    int64_t offset_of_max_timestamp;
    int64_t log_append_time; /* now_ms for LogAppendTime topics, else -1 */
    int32_t record_count;
    int32_t batch_count;
    const uint8_t *data; /* borrowed: input or scratch->out; bytes to append */
    size_t len;
    bool recompressed; /* data is in scratch->out */
} bk_validate_result;

typedef struct bk_validate_scratch {
    bk_wr dec; /* owned: decompressed records of the batch being checked */
    bk_wr out; /* owned: rebuilt batches (slow path) */
    bk_wr tmp; /* owned: uncompressed records while rebuilding */
    bk_zctx z; /* owned: decompression contexts */
} bk_validate_scratch;

void bk_validate_scratch_init(bk_validate_scratch *s);
void bk_validate_scratch_fini(bk_validate_scratch *s);

/* A cfg with Kafka's defaults: CreateTime, 1048588 max.message.bytes,
 * unlimited timestamp skew, compression producer, Produce v9. */
void bk_validate_cfg_default(bk_validate_cfg *cfg);

int bk_validate_records(uint8_t *records, size_t len, const bk_validate_cfg *cfg,
                        bk_validate_scratch *s, bk_validate_result *res);

#endif
