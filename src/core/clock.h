/*
 * clock.h - monotonic and wall-clock milliseconds, cached per loop tick.
 *
 * The event loop calls bk_clock_tick() once after every epoll_wait(); every
 * handler run in that tick then reads the same cached values through
 * bk_now_ms() / bk_wall_ms() without a system call. This is both cheaper
 * (one clock_gettime pair per wake-up instead of one per request) and
 * simpler to reason about: all timers and timestamps set while handling one
 * batch of events agree with each other.
 *
 * Thread: the cache belongs to the loop thread. Background threads (bio)
 * must call the _raw variants, which always read the clock.
 *
 * Monotonic time is for timeouts and durations (it never jumps); wall time
 * is for anything that leaves the process (record timestamps, log lines).
 */
#ifndef BK_CLOCK_H
#define BK_CLOCK_H

#include "kb.h"

/* Refresh the cached values. Loop thread only. */
void bk_clock_tick(void);

/* Cached monotonic / wall ms as of the last tick (a tick is taken lazily on
 * first use, so they are valid before the loop runs). */
int64_t bk_now_ms(void);
int64_t bk_wall_ms(void);

/* Uncached reads; safe from any thread. */
int64_t bk_mono_ms_raw(void);
int64_t bk_wall_ms_raw(void);

#endif
