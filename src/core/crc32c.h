/*
 * crc32c.h - CRC-32C (Castagnoli), the checksum of Kafka record batches v2.
 *
 * Contract:
 *  - Polynomial 0x1EDC6F41 (reflected 0x82F63B78), initial value and final
 *    xor 0xFFFFFFFF: the CRC that Java's java.util.zip.CRC32C and Kafka's
 *    Crc32C compute. crc32c("123456789") = 0xE3069283.
 *  - Chainable like zlib's crc32(): start with crc = 0, and feed the result
 *    back in to continue, so
 *        bk_crc32c(bk_crc32c(0, a, na), b, nb) == crc of a followed by b.
 *  - bk_crc32c() uses the SSE4.2 crc32 instruction when the CPU has it
 *    (checked once at startup with __builtin_cpu_supports), otherwise a
 *    slicing-by-8 table. Both give identical results; the two paths are
 *    exported for the tests and for benchmarks.
 *  - Pure functions: no allocation, no global state after the one-time CPU
 *    probe (done by a constructor, before main), safe from any thread.
 */
#ifndef BK_CRC32C_H
#define BK_CRC32C_H

#include "kb.h"

uint32_t bk_crc32c(uint32_t crc, const void *buf, size_t len);

/* The table-driven path (always available). */
uint32_t bk_crc32c_sw(uint32_t crc, const void *buf, size_t len);
/* The SSE4.2 path; only call it when bk_crc32c_hw_available() is true. On a
 * non-x86 build it is the software path. */
uint32_t bk_crc32c_hw(uint32_t crc, const void *buf, size_t len);
bool bk_crc32c_hw_available(void);

#endif
