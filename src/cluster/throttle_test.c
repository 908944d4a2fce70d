/* throttle_test.c - replication throttle bucket and replica lists. */
#include "../../tests/unit.h"
#include "throttle.h"

void bk_test_throttle(void);
void bk_test_throttle(void)
{
    BK_TEST("throttle: throttled-replicas lists");
    BK_CHECK(bk_throttle_listed("*", 7, 3));
    BK_CHECK(bk_throttle_listed("0:1,1:2", 1, 2));
    BK_CHECK(bk_throttle_listed("0:1, 1:2", 0, 1));
    BK_CHECK(!bk_throttle_listed("0:1,1:2", 0, 2));
    BK_CHECK(!bk_throttle_listed("", 0, 1));
    BK_CHECK(!bk_throttle_listed(NULL, 0, 1));
    BK_CHECK(!bk_throttle_listed("garbage", 0, 1));
    BK_CHECK(!bk_throttle_listed("0:", 0, 1));

    BK_TEST("throttle: the bucket holds the average rate");
    bk_throttle t = {.rate = BK_THROTTLE_NONE};
    BK_CHECK(!bk_throttle_exhausted(&t, 1000));
    bk_throttle_record(&t, 1 << 30, 1000);
    BK_CHECK(!bk_throttle_exhausted(&t, 1000));
    int64_t now = 1000000;
    bk_throttle_set_rate(&t, 1000, now); /* 1000 B/s, starts full */
    BK_CHECK(!bk_throttle_exhausted(&t, now));
    bk_throttle_record(&t, 3000, now); /* 2000 in debt */
    BK_CHECK(bk_throttle_exhausted(&t, now + 1000000));
    BK_CHECK(bk_throttle_exhausted(&t, now + 1999000));
    BK_CHECK(!bk_throttle_exhausted(&t, now + 2001000));
    /* a long idle time fills one second's worth only */
    BK_CHECK(!bk_throttle_exhausted(&t, now + 100000000));
    bk_throttle_record(&t, 1500, now + 100000000);
    BK_CHECK(bk_throttle_exhausted(&t, now + 100000000));
    bk_throttle_set_rate(&t, BK_THROTTLE_NONE, now);
    BK_CHECK(!bk_throttle_exhausted(&t, now));
}
