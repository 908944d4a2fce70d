/*
 * compress.h - the record-batch codecs: gzip, snappy, lz4, zstd.
 *
 * Contract:
 *  - Input is the records area of one batch (the bytes after the 61-byte
 *    header); output is appended to a caller-owned bk_wr. On any failure
 *    out->len is put back where it was (no partial output is left behind),
 *    though the writer may have grown.
 *  - Decompression is bounded: at most `limit` bytes are produced; a stream
 *    that would produce more fails with BK_ELIMIT (decompression bombs).
 *    Memory used is the output (<= limit + 1 bytes of capacity) plus the
 *    codec's fixed state (zstd's window is capped, see compress.c).
 *  - Return values: 0, BK_ECORRUPT (malformed or truncated stream, trailing
 *    garbage), BK_ELIMIT, BK_ENOMEM, BK_EINVAL (codec not 1-4).
 *  - bk_zctx keeps the decompression contexts (z_stream, LZ4F and zstd
 *    contexts) between calls so that the hot path does not allocate them per
 *    batch. One bk_zctx per thread; NULL means "use temporary contexts".
 *
 * Formats, as Kafka's clients write and read them:
 *
 *   gzip    RFC 1952 gzip members (java.util.zip.GZIPOutputStream);
 *           concatenated members are read in order.
 *   snappy  either raw snappy (librdkafka may write it) or the xerial /
 *           snappy-java stream that the Java client writes:
 *
 *             OFFSET  SIZE  FIELD
 *                  0     8  magic 82 'S' 'N' 'A' 'P' 'P' 'Y' 00
 *                  8     4  version (1), big-endian
 *                 12     4  minimum compatible version (1), big-endian
 *                 16     -  blocks: int32 BE length n, then n bytes of raw snappy
 *
 *           bk_compress() writes the xerial form with 32 KiB input blocks,
 *           as snappy-java's SnappyOutputStream does.
 *   lz4     LZ4 frame format (KafkaLZ4BlockOutputStream): bk_compress() uses
 *           64 KiB independent blocks, no content size or checksum - Java's
 *           reader refuses dependent blocks.
 *   zstd    zstd frames, read with the streaming API because the frame need
 *           not record its content size; concatenated frames are read.
 */
#ifndef BK_COMPRESS_H
#define BK_COMPRESS_H

#include "../core/buf.h"
#include "../proto/records.h" /* BK_COMPRESSION_* */

typedef struct bk_zctx {
    void *gz;   /* owned: z_stream for inflate, or NULL until first use */
    void *lz4;  /* owned: LZ4F_dctx */
    void *zstd; /* owned: ZSTD_DCtx */
} bk_zctx;

void bk_zctx_init(bk_zctx *z);
void bk_zctx_fini(bk_zctx *z);

/* Decompress len bytes at in (codec 1-4), appending at most limit bytes to
 * out. z may be NULL. */
int bk_decompress(bk_zctx *z, int codec, const uint8_t *in, size_t len, bk_wr *out, size_t limit);

/* Compress len bytes at in with codec 1-4 (default levels: gzip 6, zstd 3),
 * appending to out. Has the type bk_batch_compress_fn (proto/records.h). */
int bk_compress(int codec, const uint8_t *in, size_t len, bk_wr *out);

#endif
