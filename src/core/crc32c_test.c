/* crc32c_test.c - published vectors, chaining, hardware == software. */
#include "../../tests/unit.h"
#include "crc32c.h"

#include <stdlib.h>

void bk_test_crc32c(void);

static uint64_t rng_state = 0x853c49e6748fea9bULL;
static uint32_t rnd(void)
{
    /* xorshift64*: deterministic, good enough for test data */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

void bk_test_crc32c(void)
{
    BK_TEST("crc32c: check value and RFC 3720 (iSCSI) vectors");
    BK_CHECK(bk_crc32c(0, "123456789", 9) == 0xE3069283u);
    BK_CHECK(bk_crc32c_sw(0, "123456789", 9) == 0xE3069283u);
    BK_CHECK(bk_crc32c(0, "", 0) == 0);
    uint8_t b[32];
    memset(b, 0, sizeof b);
    BK_CHECK(bk_crc32c(0, b, 32) == 0x8A9136AAu);
    memset(b, 0xff, sizeof b);
    BK_CHECK(bk_crc32c(0, b, 32) == 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        b[i] = (uint8_t)i;
    BK_CHECK(bk_crc32c(0, b, 32) == 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        b[i] = (uint8_t)(31 - i);
    BK_CHECK(bk_crc32c(0, b, 32) == 0x113FDB5Cu);
    /* Kafka's Crc32CTest */
    static const char fox[] = "The quick brown fox jumps over the lazy dog";
    BK_CHECK(bk_crc32c(0, fox, sizeof fox - 1) == 0x22620404u);

    BK_TEST("crc32c: chaining equals one pass");
    uint32_t c = bk_crc32c(0, "1234", 4);
    BK_CHECK(bk_crc32c(c, "56789", 5) == 0xE3069283u);
    c = bk_crc32c_sw(0, "1", 1);
    BK_CHECK(bk_crc32c_sw(c, "23456789", 8) == 0xE3069283u);

    BK_TEST("crc32c: hardware == software on random lengths and alignments");
    enum { N = 4096 };
    uint8_t *buf = malloc(N + 16);
    for (size_t i = 0; i < N + 16; i++)
        buf[i] = (uint8_t)rnd();
    bool hw = bk_crc32c_hw_available();
    int mismatches = 0;
    for (int iter = 0; iter < 2000; iter++) {
        size_t off = rnd() % 16;
        size_t len = iter < 64 ? (size_t)iter : rnd() % N;
        uint32_t seed = (iter & 1) ? rnd() : 0;
        uint32_t sw = bk_crc32c_sw(seed, buf + off, len);
        if (hw && bk_crc32c_hw(seed, buf + off, len) != sw)
            mismatches++;
        if (bk_crc32c(seed, buf + off, len) != sw)
            mismatches++;
        /* split at a random point: chaining across paths */
        size_t cut = len ? rnd() % len : 0;
        uint32_t part = bk_crc32c_sw(seed, buf + off, cut);
        if (bk_crc32c(part, buf + off + cut, len - cut) != sw)
            mismatches++;
    }
    BK_CHECK(mismatches == 0);
    if (!hw)
        fprintf(stderr, "note: crc32c: no SSE4.2 on this CPU, hardware path not tested\n");
    free(buf);
}
