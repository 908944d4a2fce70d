/*
 * crc32c.c - CRC-32C: SSE4.2 instruction when present, slicing-by-8 otherwise.
 *
 * Slicing-by-8 (Intel, Kounavis & Berry 2005): table[k][b] is the CRC of
 * byte b followed by k zero bytes, so eight input bytes are folded into the
 * running CRC with eight independent lookups per step instead of eight
 * dependent ones. The tables (8 KiB) are filled once by a constructor.
 *
 * The hardware path uses the crc32 instruction on 8 bytes at a time. It is
 * compiled with __attribute__((target("sse4.2"))) so that the rest of the
 * tree needs no -msse4.2, and is only reached after __builtin_cpu_supports
 * said yes.
 */
#include "crc32c.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#define BK_CRC_HAVE_X86 1
#endif

#define POLY 0x82F63B78u /* 0x1EDC6F41 bit-reflected */

static uint32_t tab[8][256];
static bool use_hw;

__attribute__((constructor)) static void crc32c_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (POLY & (0u - (c & 1)));
        tab[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            tab[t][i] = (tab[t - 1][i] >> 8) ^ tab[0][tab[t - 1][i] & 0xff];
#ifdef BK_CRC_HAVE_X86
    __builtin_cpu_init();
    use_hw = __builtin_cpu_supports("sse4.2");
#endif
}

static inline uint64_t load_le64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

uint32_t bk_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    uint32_t c = ~crc;
    /* Byte-wise until 8-aligned, so the 8-byte loads are aligned. */
    while (len && ((uintptr_t)p & 7)) {
        c = (c >> 8) ^ tab[0][(c ^ *p++) & 0xff];
        len--;
    }
    while (len >= 8) {
        uint64_t v = load_le64(p) ^ c;
        c = tab[7][v & 0xff] ^ tab[6][(v >> 8) & 0xff] ^ tab[5][(v >> 16) & 0xff] ^
            tab[4][(v >> 24) & 0xff] ^ tab[3][(v >> 32) & 0xff] ^ tab[2][(v >> 40) & 0xff] ^
            tab[1][(v >> 48) & 0xff] ^ tab[0][v >> 56];
        p += 8;
        len -= 8;
    }
    while (len--)
        c = (c >> 8) ^ tab[0][(c ^ *p++) & 0xff];
    return ~c;
}

#ifdef BK_CRC_HAVE_X86
__attribute__((target("sse4.2"))) uint32_t bk_crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    uint64_t c = (uint32_t)~crc;
    while (len && ((uintptr_t)p & 7)) {
        c = _mm_crc32_u8((uint32_t)c, *p++);
        len--;
    }
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = _mm_crc32_u64(c, v);
        p += 8;
        len -= 8;
    }
    while (len--)
        c = _mm_crc32_u8((uint32_t)c, *p++);
    return ~(uint32_t)c;
}
#else
uint32_t bk_crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
    return bk_crc32c_sw(crc, buf, len);
}
#endif

bool bk_crc32c_hw_available(void)
{
    return use_hw;
}

uint32_t bk_crc32c(uint32_t crc, const void *buf, size_t len)
{
    if (BK_LIKELY(use_hw))
        return bk_crc32c_hw(crc, buf, len);
    return bk_crc32c_sw(crc, buf, len);
}
