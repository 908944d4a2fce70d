/* The unit-test runner: runs every registered module's tests. */
#include "unit.h"

#include <stdlib.h>
#include <string.h>

/* Registry: one line per module test function. */
#define BK_UNIT_TESTS(X)                                                                           \
    X(buf)                                                                                         \
    X(codec)                                                                                       \
    X(config)                                                                                      \
    X(log)                                                                                         \
    X(metrics)                                                                                     \
    X(ev)                                                                                          \
    X(conn)                                                                                        \
    X(meta_props)                                                                                  \
    X(plog)                                                                                        \
    X(cleaner)                                                                                     \
    X(logmgr)                                                                                      \
    X(pstate)                                                                                      \
    X(topics)                                                                                      \
    X(partition)                                                                                   \
    X(crc32c)                                                                                      \
    X(records)                                                                                     \
    X(compress)                                                                                    \
    X(validate)                                                                                    \
    X(leader_epoch)                                                                                \
    X(purgatory)                                                                                   \
    X(coord)                                                                                       \
    X(lag)                                                                                         \
    X(tcoord)                                                                                      \
    X(interbroker)                                                                                 \
    X(dataplane)                                                                                   \
    X(zkjson)                                                                                      \
    X(ctl_leaders)                                                                                 \
    X(reassign_json)                                                                               \
    X(throttle)                                                                                    \
    X(controller)                                                                                  \
    X(controller_racks)                                                                            \
    X(acl)                                                                                         \
    X(zkacl)                                                                                       \
    X(connlimit)                                                                                   \
    X(quota)                                                                                       \
    X(zkquota)                                                                                     \
    X(sasl)                                                                                        \
    X(sasl_client)

#define DECL(m) void bk_test_##m(void);
BK_UNIT_TESTS(DECL)
#undef DECL

int bk_unit_failed_checks;
static int cases_passed, cases_failed;
static const char *cur_case;
static int cur_case_failed;

static void close_case(void)
{
    if (!cur_case)
        return;
    if (cur_case_failed)
        cases_failed++;
    else
        cases_passed++;
    cur_case = NULL;
}

void bk_unit_case(const char *name)
{
    close_case();
    cur_case = name;
    cur_case_failed = 0;
}

void bk_unit_fail(const char *file, int line, const char *what)
{
    bk_unit_failed_checks++;
    if (!cur_case_failed)
        fprintf(stderr, "FAIL %s\n", cur_case ? cur_case : "(no case)");
    fprintf(stderr, "  %s:%d: %s\n", file, line, what);
    cur_case_failed = 1;
}

int main(int argc, char **argv)
{
    const char *only = argc > 1 ? argv[1] : NULL;
#define RUN(m)                                                                                     \
    if (!only || strcmp(only, #m) == 0) {                                                          \
        bk_test_##m();                                                                             \
        close_case();                                                                              \
    }
    BK_UNIT_TESTS(RUN)
#undef RUN
    printf("unit: %d passed, %d failed\n", cases_passed, cases_failed);
    return cases_failed ? 1 : 0;
}
