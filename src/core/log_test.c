/* log_test.c - rate limiting, level parsing and the capture hook. */
#include "log.h"

#include "../../tests/unit.h"

#include <stdio.h>

static char got[256];
static int ngot;

static void hook(int level, const char *msg, void *ud)
{
    ngot++;
    snprintf(got, sizeof got, "%s", msg);
}

void bk_test_log(void);
void bk_test_log(void)
{
    BK_TEST("log: rate limiter lets a burst through per interval and counts the rest");
    bk_ratelimit rl = {0};
    uint32_t sup = 99;
    BK_CHECK(bk_ratelimit_allow(&rl, 1000, 3, 500, &sup) && sup == 0);
    BK_CHECK(bk_ratelimit_allow(&rl, 1001, 3, 500, &sup));
    BK_CHECK(bk_ratelimit_allow(&rl, 1002, 3, 500, &sup));
    BK_CHECK(!bk_ratelimit_allow(&rl, 1003, 3, 500, &sup));
    BK_CHECK(!bk_ratelimit_allow(&rl, 1499, 3, 500, &sup));
    BK_CHECK(bk_ratelimit_allow(&rl, 1500, 3, 500, &sup) && sup == 2);
    BK_CHECK(bk_ratelimit_allow(&rl, 1501, 3, 500, &sup) && sup == 0);

    BK_TEST("log: levels and hook");
    BK_CHECK(bk_log_level_parse("WARN") == BK_LOG_WARN);
    BK_CHECK(bk_log_level_parse("debug") == BK_LOG_DEBUG);
    BK_CHECK(bk_log_level_parse("loud") == -1);
    int old = bk_log_get_level();
    bk_log_set_hook(hook, NULL);
    bk_log_set_level(BK_LOG_WARN);
    ngot = 0;
    bk_log(BK_LOG_INFO, "dropped");
    bk_log(BK_LOG_ERROR, "kept %d", 42);
    BK_CHECK(ngot == 1 && strcmp(got, "kept 42") == 0);
    /* a call site floods: only BK_LOG_RL_BURST lines get out */
    ngot = 0;
    for (int i = 0; i < 100; i++)
        bk_log_rl(BK_LOG_WARN, "flood %d", i);
    BK_CHECK(ngot == BK_LOG_RL_BURST);
    bk_log_set_hook(NULL, NULL);
    bk_log_set_level(old);
}
