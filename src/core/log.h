/*
 * log.h - leveled diagnostics on stderr.
 *
 *   bk_log(BK_LOG_WARN, "closing %s: %s", peer, why);
 *
 * One line per call, in Kafka's log4j layout ("[%d] %p %m (%c)"):
 *   [2024-05-01 12:34:56.789] WARN closing ... (net/conn)
 * time, level, message, and the component that logged it (the source
 * file under src/, taken from __FILE__ by the macros below). The
 * line is formatted into a stack buffer and written with a single write(2),
 * so lines from different threads never interleave (lines longer than
 * BK_LOG_LINE_MAX are truncated). stdout is reserved for the one start-up
 * line scripts wait for; everything else goes to stderr.
 *
 * Hot paths (per connection, per request) must not be able to flood the
 * log when a client misbehaves; use bk_log_rl(), which lets a burst of
 * BK_LOG_RL_BURST lines per call site through every BK_LOG_RL_INTERVAL_MS
 * and then reports how many were suppressed.
 *
 * Thread: bk_log() is safe from any thread. bk_log_rl() keeps its state in a
 * per-call-site static and is meant for the loop thread.
 */
#ifndef BK_LOG_H
#define BK_LOG_H

#include "kb.h"

enum { BK_LOG_DEBUG = 0, BK_LOG_INFO = 1, BK_LOG_WARN = 2, BK_LOG_ERROR = 3, BK_LOG_OFF = 4 };

#define BK_LOG_LINE_MAX       1024
#define BK_LOG_RL_BURST       10
#define BK_LOG_RL_INTERVAL_MS 5000

#define BK_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Messages below this level are dropped. Default BK_LOG_INFO; set from
 * log.level at start-up (BROOK_LOG_LEVEL wins), and at run time by
 * SIGUSR2 (one level more verbose each time, wrapping from debug back
 * to the configured level); the loop thread reads it, any thread may
 * set it (a plain int: a stale read costs one line too many or few). */
void bk_log_set_level(int level);
int bk_log_get_level(void);
/* "debug", "info", "warn", "error", "off" -> level, or -1. */
int bk_log_level_parse(const char *name);

static inline bool bk_log_enabled(int level)
{
    return level >= bk_log_get_level();
}

void bk_log_at(int level, const char *file, const char *fmt, ...) BK_PRINTF(3, 4);
#define bk_log(level, ...) bk_log_at((level), __FILE__, __VA_ARGS__)
/* "src/net/conn.c" -> "net/conn" (n bytes at *out). */
const char *bk_log_component(const char *file, size_t *n);

/* Redirect complete lines (without the trailing newline and timestamp) to
 * fn instead of stderr, e.g. to assert on warnings in unit tests. NULL
 * restores stderr. */
typedef void bk_log_hook_fn(int level, const char *msg, void *ud);
void bk_log_set_hook(bk_log_hook_fn *fn, void *ud);

/* Token bucket per call site; zero-initialised is a valid state. */
typedef struct bk_ratelimit {
    int64_t window_start; /* monotonic ms at the start of the window */
    uint32_t count;       /* lines let through in this window */
    uint32_t suppressed;  /* lines dropped since the last one let through */
} bk_ratelimit;

/* true if a line may be written now; *suppressed receives the number of
 * lines dropped since the previous allowed one (and is reset). */
bool bk_ratelimit_allow(bk_ratelimit *rl, int64_t now_ms, uint32_t burst, int64_t interval_ms,
                        uint32_t *suppressed);

void bk_log_rl_emit(bk_ratelimit *rl, int level, const char *file, const char *fmt, ...)
    BK_PRINTF(4, 5);

/* Rate-limited bk_log(): at most BK_LOG_RL_BURST lines per interval from
 * this call site. The level check comes first so a disabled debug line
 * costs one compare. */
#define bk_log_rl(level, ...)                                                                      \
    do {                                                                                           \
        static bk_ratelimit bk_rl_;                                                                \
        if (bk_log_enabled(level))                                                                 \
            bk_log_rl_emit(&bk_rl_, (level), __FILE__, __VA_ARGS__);                                         \
    } while (0)

#endif
