/*
 * kb.h - base include for every Brook source file.
 *
 * Standard integer/bool types, branch hints, assertions and a few tiny
 * helpers. Nothing here allocates or does I/O.
 */
#ifndef BK_KB_H
#define BK_KB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define BK_LIKELY(x)   __builtin_expect(!!(x), 1)
#define BK_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define BK_UNUSED(x)   ((void)(x))
#define BK_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#ifndef BK_MIN
#define BK_MIN(a, b) ((a) < (b) ? (a) : (b))
#define BK_MAX(a, b) ((a) > (b) ? (a) : (b))
#endif

void bk_panic(const char *file, int line, const char *what) __attribute__((noreturn));

/* BK_BUG_ON: always on; for corruption-class invariants (an offset going
 * backwards). BK_ASSERT: cheap invariant checked in debug builds only. */
#define BK_BUG_ON(cond)                                                                            \
    do {                                                                                           \
        if (BK_UNLIKELY(cond))                                                                     \
            bk_panic(__FILE__, __LINE__, #cond);                                                   \
    } while (0)

#ifdef NDEBUG
#define BK_ASSERT(cond) ((void)0)
#else
#define BK_ASSERT(cond) BK_BUG_ON(!(cond))
#endif

#endif
