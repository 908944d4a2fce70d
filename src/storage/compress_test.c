/*
 * compress_test.c - every codec: round trips, output limits (decompression
 * bombs), truncated and garbage streams, concatenated frames, context reuse,
 * and hand-checked xerial snappy bytes.
 */
#include "../../tests/unit.h"
#include "compress.h"

#include <stdlib.h>

void bk_test_compress(void);

static const int codecs[] = {BK_COMPRESSION_GZIP, BK_COMPRESSION_SNAPPY, BK_COMPRESSION_LZ4,
                             BK_COMPRESSION_ZSTD};

static uint64_t rs = 0x9E3779B97F4A7C15ULL;
static uint8_t rnd8(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (uint8_t)rs;
}

/* Fill with text-like data of the given randomness (0 = constant). */
static void fill(uint8_t *p, size_t n, int entropy)
{
    for (size_t i = 0; i < n; i++)
        p[i] = entropy == 0   ? 'a'
               : entropy == 1 ? (uint8_t)("kafka"[i % 5] + (rnd8() & 1))
                              : rnd8();
}

static void test_roundtrip(void)
{
    BK_TEST("compress: round trip every codec, sizes 0 .. 1 MiB, with and without a context");
    static const size_t sizes[] = {0, 1, 5, 100, 4096, 32767, 32768, 32769, 65536, 200000, 1 << 20};
    size_t maxn = 1 << 20;
    uint8_t *src = malloc(maxn);
    bk_zctx z;
    bk_zctx_init(&z);
    bk_wr c, d;
    bk_wr_init(&c, 0);
    bk_wr_init(&d, 0);
    int bad = 0;
    for (size_t ci = 0; ci < BK_ARRAY_LEN(codecs); ci++) {
        for (size_t si = 0; si < BK_ARRAY_LEN(sizes); si++) {
            for (int ent = 0; ent < 3; ent++) {
                size_t n = sizes[si];
                fill(src, n, ent);
                bk_wr_reset(&c);
                bk_wr_reset(&d);
                bk_wr_u8(&d, 0x55); /* output is appended after what is there */
                if (bk_compress(codecs[ci], src, n, &c) != 0) {
                    bad++;
                    continue;
                }
                int rc = bk_decompress((si & 1) ? &z : NULL, codecs[ci], c.buf, c.len, &d, n);
                if (rc != 0 || d.len != n + 1 || d.buf[0] != 0x55 || memcmp(d.buf + 1, src, n))
                    bad++;
            }
        }
    }
    BK_CHECK(bad == 0);
    BK_CHECK(bk_compress(0, src, 1, &c) == BK_EINVAL && bk_compress(5, src, 1, &c) == BK_EINVAL);
    BK_CHECK(bk_decompress(&z, 0, src, 1, &d, 10) == BK_EINVAL);
    bk_zctx_fini(&z);
    bk_wr_fini(&c);
    bk_wr_fini(&d);
    free(src);
}

static void test_limits(void)
{
    BK_TEST("compress: output limit exact, one byte short, and a 64 MiB bomb");
    size_t n = 100000;
    uint8_t *src = malloc(n);
    fill(src, n, 1);
    bk_zctx z;
    bk_zctx_init(&z);
    bk_wr c, d;
    bk_wr_init(&c, 0);
    bk_wr_init(&d, 0);
    int bad = 0;
    for (size_t ci = 0; ci < BK_ARRAY_LEN(codecs); ci++) {
        bk_wr_reset(&c);
        BK_CHECK(bk_compress(codecs[ci], src, n, &c) == 0);
        bk_wr_reset(&d);
        if (bk_decompress(&z, codecs[ci], c.buf, c.len, &d, n) != 0 || d.len != n)
            bad++;
        bk_wr_reset(&d);
        if (bk_decompress(&z, codecs[ci], c.buf, c.len, &d, n - 1) != BK_ELIMIT || d.len != 0)
            bad++;
        bk_wr_reset(&d);
        if (bk_decompress(&z, codecs[ci], c.buf, c.len, &d, 0) != BK_ELIMIT || d.len != 0)
            bad++;
    }
    BK_CHECK(bad == 0);

    size_t big = (size_t)64 << 20;
    uint8_t *zeros = calloc(1, big);
    bad = 0;
    for (size_t ci = 0; ci < BK_ARRAY_LEN(codecs); ci++) {
        bk_wr_reset(&c);
        BK_CHECK(bk_compress(codecs[ci], zeros, big, &c) == 0);
        bk_wr_fini(&d);
        bk_wr_init(&d, 0);
        if (bk_decompress(&z, codecs[ci], c.buf, c.len, &d, 1 << 20) != BK_ELIMIT)
            bad++;
        /* the writer never grew far past the limit */
        if (d.cap > (size_t)4 << 20)
            bad++;
    }
    BK_CHECK(bad == 0);
    free(zeros);

    BK_TEST("compress: a fixed-size output writer is respected");
    uint8_t fixed[1000];
    bk_wr f;
    bk_wr_init_fixed(&f, fixed, sizeof fixed);
    bk_wr_reset(&c);
    BK_CHECK(bk_compress(BK_COMPRESSION_ZSTD, src, 900, &c) == 0);
    BK_CHECK(bk_decompress(&z, BK_COMPRESSION_ZSTD, c.buf, c.len, &f, 5000) == 0 && f.len == 900);
    BK_CHECK(memcmp(fixed, src, 900) == 0);
    bk_wr_reset(&f);
    bk_wr_reset(&c);
    BK_CHECK(bk_compress(BK_COMPRESSION_GZIP, src, 2000, &c) == 0);
    BK_CHECK(bk_decompress(&z, BK_COMPRESSION_GZIP, c.buf, c.len, &f, 5000) == BK_ELIMIT);
    BK_CHECK(f.len == 0);

    bk_zctx_fini(&z);
    bk_wr_fini(&c);
    bk_wr_fini(&d);
    free(src);
}

static bool xerial_boundary(const bk_wr *c, size_t cut)
{
    for (size_t pos = 16; pos <= c->len; pos += 4 + bk_get_be32(c->buf + pos)) {
        if (pos == cut)
            return true;
        if (pos + 4 > c->len)
            break;
    }
    return false;
}

static void test_corrupt(void)
{
    BK_TEST("compress: truncated, empty, garbage and trailing-garbage streams are corrupt");
    size_t n = 50000;
    uint8_t *src = malloc(n);
    fill(src, n, 1);
    bk_zctx z;
    bk_zctx_init(&z);
    bk_wr c, d;
    bk_wr_init(&c, 0);
    bk_wr_init(&d, 0);
    int bad = 0;
    for (size_t ci = 0; ci < BK_ARRAY_LEN(codecs); ci++) {
        int codec = codecs[ci];
        bk_wr_reset(&c);
        BK_CHECK(bk_compress(codec, src, n, &c) == 0);
        /* every truncation point of the first 64 bytes, then a sample */
        for (size_t cut = 0; cut < c.len; cut += cut < 64 ? 1 : 97) {
            bk_wr_reset(&d);
            int rc = bk_decompress(&z, codec, c.buf, cut, &d, n);
            /* xerial framing has no end marker: a cut between blocks is a
             * shorter valid stream */
            if (rc == 0 && codec == BK_COMPRESSION_SNAPPY && xerial_boundary(&c, cut))
                continue;
            if (rc != BK_ECORRUPT || d.len != 0)
                bad++;
        }
        /* trailing garbage */
        size_t clen = c.len;
        bk_wr_mem(&c, "garbage!", 8);
        bk_wr_reset(&d);
        if (bk_decompress(&z, codec, c.buf, c.len, &d, 2 * n) != BK_ECORRUPT)
            bad++;
        /* a flipped byte in the middle: corrupt, never a crash (gzip and zstd
         * carry checksums; snappy/lz4 may decode to other bytes) */
        c.len = clen;
        c.buf[clen / 2] ^= 0xff;
        bk_wr_reset(&d);
        int rc = bk_decompress(&z, codec, c.buf, c.len, &d, 2 * n);
        if ((codec == BK_COMPRESSION_GZIP || codec == BK_COMPRESSION_ZSTD) && rc != BK_ECORRUPT)
            bad++;
        /* the context still works after an error */
        bk_wr_reset(&c);
        bk_wr_reset(&d);
        BK_CHECK(bk_compress(codec, src, 1000, &c) == 0);
        if (bk_decompress(&z, codec, c.buf, c.len, &d, n) != 0 || d.len != 1000 ||
            memcmp(d.buf, src, 1000) != 0)
            bad++;
    }
    BK_CHECK(bad == 0);
    bk_zctx_fini(&z);
    bk_wr_fini(&c);
    bk_wr_fini(&d);
    free(src);
}

static void test_concat(void)
{
    BK_TEST("compress: concatenated gzip members, lz4 frames and zstd frames");
    bk_wr c, d;
    bk_wr_init(&c, 0);
    bk_wr_init(&d, 0);
    static const int multi[] = {BK_COMPRESSION_GZIP, BK_COMPRESSION_LZ4, BK_COMPRESSION_ZSTD};
    for (size_t i = 0; i < BK_ARRAY_LEN(multi); i++) {
        bk_wr_reset(&c);
        bk_wr_reset(&d);
        BK_CHECK(bk_compress(multi[i], (const uint8_t *)"hello ", 6, &c) == 0);
        BK_CHECK(bk_compress(multi[i], (const uint8_t *)"world", 5, &c) == 0);
        BK_CHECK(bk_decompress(NULL, multi[i], c.buf, c.len, &d, 100) == 0);
        BK_CHECK(d.len == 11 && memcmp(d.buf, "hello world", 11) == 0);
    }
    bk_wr_fini(&c);
    bk_wr_fini(&d);
}

static void test_snappy_vectors(void)
{
    BK_TEST("compress: xerial snappy framing, hand-checked bytes");
    /* raw snappy of "hello": varint length 5, literal tag (5-1)<<2, bytes */
    static const uint8_t raw[] = {0x05, 0x10, 'h', 'e', 'l', 'l', 'o'};
    /* snappy-java stream: magic, version 1, compatible 1, one block */
    static const uint8_t xerial[] = {0x82, 'S', 'N',  'A',  'P', 'P', 'Y', 0,   0,
                                     0,    0,   1,    0,    0,   0,   1,   0,   0,
                                     0,    7,   0x05, 0x10, 'h', 'e', 'l', 'l', 'o'};
    /* two blocks, "hello" and " world" (as snappy-java writes when the data
     * spans blocks), and an empty block in between */
    static const uint8_t two[] = {0x82, 'S', 'N',  'A',  'P', 'P', 'Y', 0,   0,   0,    0,
                                  1,    0,   0,    0,    1,   0,   0,   0,   7,   0x05, 0x10,
                                  'h',  'e', 'l',  'l',  'o', 0,   0,   0,   0,   0,    0,
                                  0,    8,   0x06, 0x14, ' ', 'w', 'o', 'r', 'l', 'd'};
    bk_wr d, c;
    bk_wr_init(&d, 0);
    bk_wr_init(&c, 0);
    BK_CHECK(bk_decompress(NULL, BK_COMPRESSION_SNAPPY, raw, sizeof raw, &d, 100) == 0);
    BK_CHECK(d.len == 5 && memcmp(d.buf, "hello", 5) == 0);
    bk_wr_reset(&d);
    BK_CHECK(bk_decompress(NULL, BK_COMPRESSION_SNAPPY, xerial, sizeof xerial, &d, 100) == 0);
    BK_CHECK(d.len == 5 && memcmp(d.buf, "hello", 5) == 0);
    bk_wr_reset(&d);
    BK_CHECK(bk_decompress(NULL, BK_COMPRESSION_SNAPPY, two, sizeof two, &d, 100) == 0);
    BK_CHECK(d.len == 11 && memcmp(d.buf, "hello world", 11) == 0);
    bk_wr_reset(&d);
    BK_CHECK(bk_decompress(NULL, BK_COMPRESSION_SNAPPY, two, sizeof two, &d, 10) == BK_ELIMIT);
    /* what we write is exactly snappy-java's framing */
    BK_CHECK(bk_compress(BK_COMPRESSION_SNAPPY, (const uint8_t *)"hello", 5, &c) == 0);
    BK_CHECK(c.len == sizeof xerial && memcmp(c.buf, xerial, sizeof xerial) == 0);
    /* header only: no data */
    bk_wr_reset(&d);
    BK_CHECK(bk_decompress(NULL, BK_COMPRESSION_SNAPPY, xerial, 16, &d, 100) == 0 && d.len == 0);
    /* block length past the end, block length field cut, negative length */
    uint8_t t[sizeof two];
    memcpy(t, two, sizeof two);
    t[19] = 9;
    BK_CHECK(bk_decompress(NULL, BK_COMPRESSION_SNAPPY, t, sizeof t, &d, 100) == BK_ECORRUPT);
    BK_CHECK(bk_decompress(NULL, BK_COMPRESSION_SNAPPY, xerial, 18, &d, 100) == BK_ECORRUPT);
    memcpy(t, two, sizeof two);
    t[16] = 0x80;
    BK_CHECK(bk_decompress(NULL, BK_COMPRESSION_SNAPPY, t, sizeof t, &d, 100) == BK_ECORRUPT);
    /* 32 KiB blocks: 100000 bytes make 4 blocks */
    uint8_t *src = malloc(100000);
    fill(src, 100000, 2);
    bk_wr_reset(&c);
    BK_CHECK(bk_compress(BK_COMPRESSION_SNAPPY, src, 100000, &c) == 0);
    size_t pos = 16, blocks = 0;
    while (pos + 4 <= c.len) {
        pos += 4 + bk_get_be32(c.buf + pos);
        blocks++;
    }
    BK_CHECK(pos == c.len && blocks == 4);
    free(src);
    bk_wr_fini(&d);
    bk_wr_fini(&c);
}

void bk_test_compress(void)
{
    test_roundtrip();
    test_limits();
    test_corrupt();
    test_concat();
    test_snappy_vectors();
}
