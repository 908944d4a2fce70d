/*
 * compress.c - gzip (zlib), snappy (libsnappy), lz4 (liblz4 frame API),
 * zstd (libzstd streaming) for record batches, with bounded output.
 *
 * Every decoder writes straight into the caller's bk_wr, growing it
 * geometrically but never past limit + 1 bytes of output: producing that
 * extra byte is how a stream that exceeds the limit is detected.
 */
#include "compress.h"

#include <limits.h>
#include <lz4frame.h>
#include <snappy-c.h>
#include <stdlib.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

static const uint8_t xerial_magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
#define XERIAL_HEADER_SIZE 16
#define XERIAL_BLOCK_SIZE  (32 * 1024)

/* Smallest and largest zstd window we accept; see zstd_decompress(). */
#define ZSTD_WLOG_MIN 23
#define ZSTD_WLOG_MAX 27

void bk_zctx_init(bk_zctx *z)
{
    memset(z, 0, sizeof *z);
}

void bk_zctx_fini(bk_zctx *z)
{
    if (z->gz) {
        inflateEnd(z->gz);
        free(z->gz);
    }
    if (z->lz4)
        LZ4F_freeDecompressionContext(z->lz4);
    if (z->zstd)
        ZSTD_freeDCtx(z->zstd);
    memset(z, 0, sizeof *z);
}

/*
 * Writable room for the next piece of output: *dst, *n >= 1 bytes, never
 * more than allows limit + 1 bytes produced in total since base. Fails with
 * BK_ELIMIT once more than limit bytes were produced.
 */
static int room(bk_wr *out, size_t base, size_t limit, uint8_t **dst, size_t *n)
{
    size_t produced = out->len - base;
    if (produced > limit)
        return BK_ELIMIT;
    size_t allowed = limit - produced == SIZE_MAX ? SIZE_MAX : limit - produced + 1;
    size_t want = produced < 65536 ? 65536 : produced;
    if (want > allowed)
        want = allowed;
    if (out->cap - out->len < want && (!out->fixed || out->cap == out->len)) {
        if (!bk_wr_reserve(out, want))
            return out->err ? out->err : BK_ENOMEM;
    }
    size_t have = out->cap - out->len;
    *n = have < allowed ? have : allowed;
    *dst = out->buf + out->len;
    return 0;
}

/* ---------------------------------------------------------------- gzip */

static int gz_decompress(bk_zctx *z, const uint8_t *in, size_t len, bk_wr *out, size_t base,
                         size_t limit)
{
    if (len > UINT_MAX)
        return BK_ELIMIT;
    z_stream local, *zs;
    if (z && z->gz) {
        zs = z->gz;
        if (inflateReset(zs) != Z_OK)
            return BK_ENOMEM;
    } else {
        zs = z ? calloc(1, sizeof *zs) : &local;
        if (!zs)
            return BK_ENOMEM;
        memset(zs, 0, sizeof *zs);
        if (inflateInit2(zs, 15 + 16) != Z_OK) { /* gzip framing only */
            if (zs != &local)
                free(zs);
            return BK_ENOMEM;
        }
        if (z)
            z->gz = zs;
    }
    zs->next_in = (Bytef *)(uintptr_t)in;
    zs->avail_in = (uInt)len;
    int rc;
    for (;;) {
        uint8_t *dst = NULL;
        size_t n = 0;
        if ((rc = room(out, base, limit, &dst, &n)) != 0)
            break;
        zs->next_out = dst;
        zs->avail_out = (uInt)(n > UINT_MAX ? UINT_MAX : n);
        uInt before = zs->avail_out;
        int r = inflate(zs, Z_NO_FLUSH);
        out->len += before - zs->avail_out;
        if (r == Z_STREAM_END) {
            if (zs->avail_in == 0) {
                rc = out->len - base > limit ? BK_ELIMIT : 0;
                break;
            }
            /* another gzip member follows (GZIPInputStream reads them too) */
            if (inflateReset(zs) != Z_OK) {
                rc = BK_ENOMEM;
                break;
            }
            continue;
        }
        if (r == Z_OK)
            continue;
        if (r == Z_BUF_ERROR && zs->avail_in != 0)
            continue;                                    /* needs more output room */
        rc = r == Z_MEM_ERROR ? BK_ENOMEM : BK_ECORRUPT; /* truncated or bad data */
        break;
    }
    if (zs == &local)
        inflateEnd(zs);
    return rc;
}

static int gz_compress(const uint8_t *in, size_t len, bk_wr *out)
{
    if (len > UINT_MAX)
        return BK_ELIMIT;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK)
        return BK_ENOMEM;
    uLong bound = deflateBound(&zs, (uLong)len);
    uint8_t *dst = bound <= UINT_MAX ? bk_wr_reserve(out, bound) : NULL;
    int rc = 0;
    if (!dst) {
        rc = out->err ? out->err : BK_ELIMIT;
    } else {
        zs.next_in = (Bytef *)(uintptr_t)in;
        zs.avail_in = (uInt)len;
        zs.next_out = dst;
        zs.avail_out = (uInt)bound;
        if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
            rc = BK_ENOMEM;
        else
            out->len += zs.total_out;
    }
    deflateEnd(&zs);
    return rc;
}

/* -------------------------------------------------------------- snappy */

static int snappy_raw(const uint8_t *in, size_t len, bk_wr *out, size_t base, size_t limit)
{
    size_t ulen;
    if (snappy_uncompressed_length((const char *)in, len, &ulen) != SNAPPY_OK)
        return BK_ECORRUPT;
    if (ulen > limit - (out->len - base))
        return BK_ELIMIT;
    uint8_t *dst = bk_wr_reserve(out, ulen ? ulen : 1);
    if (!dst)
        return out->err;
    size_t got = ulen;
    if (snappy_uncompress((const char *)in, len, (char *)dst, &got) != SNAPPY_OK || got != ulen)
        return BK_ECORRUPT;
    out->len += got;
    return 0;
}

static int snappy_decompress(const uint8_t *in, size_t len, bk_wr *out, size_t base, size_t limit)
{
    if (len < XERIAL_HEADER_SIZE || memcmp(in, xerial_magic, sizeof xerial_magic) != 0)
        return snappy_raw(in, len, out, base, limit);
    /* xerial: version and compatible version are not checked (librdkafka
     * and snappy-java accept any) */
    size_t pos = XERIAL_HEADER_SIZE;
    while (pos < len) {
        if (len - pos < 4)
            return BK_ECORRUPT;
        uint32_t n = bk_get_be32(in + pos);
        pos += 4;
        if (n > INT32_MAX || n > len - pos)
            return BK_ECORRUPT;
        if (n) {
            int rc = snappy_raw(in + pos, n, out, base, limit);
            if (rc)
                return rc;
        }
        pos += n;
    }
    return 0;
}

static int snappy_xerial_compress(const uint8_t *in, size_t len, bk_wr *out)
{
    uint8_t *h = bk_wr_take(out, XERIAL_HEADER_SIZE);
    if (!h)
        return out->err;
    memcpy(h, xerial_magic, sizeof xerial_magic);
    bk_be32(h + 8, 1);  /* version */
    bk_be32(h + 12, 1); /* minimum compatible version */
    for (size_t pos = 0; pos < len;) {
        size_t blk = len - pos < XERIAL_BLOCK_SIZE ? len - pos : XERIAL_BLOCK_SIZE;
        size_t max = snappy_max_compressed_length(blk);
        uint8_t *dst = bk_wr_reserve(out, 4 + max);
        if (!dst)
            return out->err;
        size_t clen = max;
        if (snappy_compress((const char *)in + pos, blk, (char *)dst + 4, &clen) != SNAPPY_OK)
            return BK_ENOMEM;
        bk_be32(dst, (uint32_t)clen);
        out->len += 4 + clen;
        pos += blk;
    }
    return 0;
}

/* ----------------------------------------------------------------- lz4 */

static int lz4_decompress(bk_zctx *z, const uint8_t *in, size_t len, bk_wr *out, size_t base,
                          size_t limit)
{
    LZ4F_dctx *d;
    if (z && z->lz4) {
        d = z->lz4;
        LZ4F_resetDecompressionContext(d);
    } else if (LZ4F_isError(LZ4F_createDecompressionContext(&d, LZ4F_VERSION))) {
        return BK_ENOMEM;
    } else if (z) {
        z->lz4 = d;
    }
    size_t pos = 0;
    int rc;
    for (;;) {
        uint8_t *dst = NULL;
        size_t n = 0;
        if ((rc = room(out, base, limit, &dst, &n)) != 0)
            break;
        size_t dn = n, sn = len - pos;
        size_t r = LZ4F_decompress(d, dst, &dn, in + pos, &sn, NULL);
        if (LZ4F_isError(r)) {
            rc = BK_ECORRUPT;
            break;
        }
        pos += sn;
        out->len += dn;
        if (r == 0) { /* end of a frame */
            if (pos == len) {
                rc = out->len - base > limit ? BK_ELIMIT : 0;
                break;
            }
            continue; /* another frame follows */
        }
        if (pos == len && sn == 0 && dn == 0) {
            rc = BK_ECORRUPT; /* truncated: wants input that is not there */
            break;
        }
    }
    if (!z)
        LZ4F_freeDecompressionContext(d);
    return rc;
}

static int lz4_compress(const uint8_t *in, size_t len, bk_wr *out)
{
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof prefs);
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    prefs.frameInfo.blockMode = LZ4F_blockIndependent;
    size_t bound = LZ4F_compressFrameBound(len, &prefs);
    uint8_t *dst = bk_wr_reserve(out, bound);
    if (!dst)
        return out->err;
    size_t r = LZ4F_compressFrame(dst, bound, in, len, &prefs);
    if (LZ4F_isError(r))
        return BK_ENOMEM;
    out->len += r;
    return 0;
}

/* ---------------------------------------------------------------- zstd */

/*
 * The decoder allocates the window the frame header asks for (up to 2^27
 * by default). We allow at least 2^23 (what levels <= 19 use) and more only
 * when the output limit is that large anyway, so a tiny hostile frame
 * cannot make us allocate 128 MiB.
 */
static int zstd_wlog(size_t limit)
{
    int w = ZSTD_WLOG_MIN;
    while (w < ZSTD_WLOG_MAX && ((size_t)1 << w) < limit)
        w++;
    return w;
}

static int zstd_decompress(bk_zctx *z, const uint8_t *in, size_t len, bk_wr *out, size_t base,
                           size_t limit)
{
    ZSTD_DCtx *d;
    if (z && z->zstd) {
        d = z->zstd;
        ZSTD_DCtx_reset(d, ZSTD_reset_session_only);
    } else {
        d = ZSTD_createDCtx();
        if (!d)
            return BK_ENOMEM;
        if (z)
            z->zstd = d;
    }
    ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, zstd_wlog(limit));
    ZSTD_inBuffer ib = {in, len, 0};
    int rc;
    for (;;) {
        uint8_t *dst = NULL;
        size_t n = 0;
        if ((rc = room(out, base, limit, &dst, &n)) != 0)
            break;
        ZSTD_outBuffer ob = {dst, n, 0};
        size_t before = ib.pos;
        size_t r = ZSTD_decompressStream(d, &ob, &ib);
        if (ZSTD_isError(r)) {
            ZSTD_ErrorCode e = ZSTD_getErrorCode(r);
            rc = e == ZSTD_error_memory_allocation               ? BK_ENOMEM
                 : e == ZSTD_error_frameParameter_windowTooLarge ? BK_ELIMIT
                                                                 : BK_ECORRUPT;
            break;
        }
        out->len += ob.pos;
        if (r == 0 && ib.pos == ib.size) { /* a frame ended with all input used */
            rc = out->len - base > limit ? BK_ELIMIT : 0;
            break;
        }
        if (ib.pos == ib.size && ib.pos == before && ob.pos == 0) {
            rc = BK_ECORRUPT; /* truncated frame */
            break;
        }
    }
    if (!z)
        ZSTD_freeDCtx(d);
    return rc;
}

static int zstd_compress(const uint8_t *in, size_t len, bk_wr *out)
{
    size_t bound = ZSTD_compressBound(len);
    uint8_t *dst = bk_wr_reserve(out, bound);
    if (!dst)
        return out->err;
    size_t r = ZSTD_compress(dst, bound, in, len, 3);
    if (ZSTD_isError(r))
        return BK_ENOMEM;
    out->len += r;
    return 0;
}

/* ------------------------------------------------------------- dispatch */

int bk_decompress(bk_zctx *z, int codec, const uint8_t *in, size_t len, bk_wr *out, size_t limit)
{
    if (out->err)
        return out->err;
    size_t base = out->len;
    int rc;
    switch (codec) {
    case BK_COMPRESSION_GZIP:
        rc = gz_decompress(z, in, len, out, base, limit);
        break;
    case BK_COMPRESSION_SNAPPY:
        rc = snappy_decompress(in, len, out, base, limit);
        break;
    case BK_COMPRESSION_LZ4:
        rc = lz4_decompress(z, in, len, out, base, limit);
        break;
    case BK_COMPRESSION_ZSTD:
        rc = zstd_decompress(z, in, len, out, base, limit);
        break;
    default:
        return BK_EINVAL;
    }
    if (rc)
        out->len = base;
    return rc;
}

int bk_compress(int codec, const uint8_t *in, size_t len, bk_wr *out)
{
    if (out->err)
        return out->err;
    size_t base = out->len;
    int rc;
    switch (codec) {
    case BK_COMPRESSION_GZIP:
        rc = gz_compress(in, len, out);
        break;
    case BK_COMPRESSION_SNAPPY:
        rc = snappy_xerial_compress(in, len, out);
        break;
    case BK_COMPRESSION_LZ4:
        rc = lz4_compress(in, len, out);
        break;
    case BK_COMPRESSION_ZSTD:
        rc = zstd_compress(in, len, out);
        break;
    default:
        return BK_EINVAL;
    }
    if (rc)
        out->len = base;
    return rc;
}
