/* clock.c - see clock.h. */
#include "clock.h"

#include <time.h>

/* Loop-thread cache; 0 means "never ticked" (CLOCK_MONOTONIC is > 0 on
 * Linux once the system has been up for a millisecond). */
static int64_t cached_mono, cached_wall;

static int64_t ts_ms(clockid_t id)
{
    struct timespec ts;
    /* clock_gettime cannot fail for these clocks with a valid pointer. */
    (void)clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t bk_mono_ms_raw(void)
{
    return ts_ms(CLOCK_MONOTONIC);
}

int64_t bk_wall_ms_raw(void)
{
    return ts_ms(CLOCK_REALTIME);
}

void bk_clock_tick(void)
{
    cached_mono = bk_mono_ms_raw();
    cached_wall = bk_wall_ms_raw();
}

int64_t bk_now_ms(void)
{
    if (BK_UNLIKELY(cached_mono == 0))
        bk_clock_tick();
    return cached_mono;
}

int64_t bk_wall_ms(void)
{
    if (BK_UNLIKELY(cached_mono == 0))
        bk_clock_tick();
    return cached_wall;
}
