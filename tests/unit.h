/*
 * unit.h - the unit-test harness (Redis redisTests[] style).
 *
 * Each module's tests live beside it in src/<layer>/<module>_test.c and
 * export one function `void bk_test_<module>(void)`, listed in tests/unit.c.
 * Inside, BK_TEST("name") opens a named case and BK_CHECK(cond) records a
 * failure with file:line without stopping the run. The runner prints
 * "N passed, N failed" and exits non-zero on any failure.
 */
#ifndef BK_UNIT_H
#define BK_UNIT_H

#include <stdio.h>

extern int bk_unit_failed_checks;
void bk_unit_case(const char *name);
void bk_unit_fail(const char *file, int line, const char *what);

#define BK_TEST(name) bk_unit_case(name)
#define BK_CHECK(cond)                                                                             \
    do {                                                                                           \
        if (!(cond))                                                                               \
            bk_unit_fail(__FILE__, __LINE__, #cond);                                               \
    } while (0)

#endif
