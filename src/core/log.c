/* log.c - see log.h. */
#include "log.h"

#include "clock.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static int log_level = BK_LOG_INFO;
static bk_log_hook_fn *log_hook;
static void *log_hook_ud;

static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void bk_log_set_level(int level)
{
    log_level = level;
}

int bk_log_get_level(void)
{
    return log_level;
}

int bk_log_level_parse(const char *name)
{
    static const char *const names[] = {"debug", "info", "warn", "error", "off"};
    for (int i = 0; i < (int)BK_ARRAY_LEN(names); i++)
        if (strcasecmp(name, names[i]) == 0)
            return i;
    if (strcasecmp(name, "warning") == 0)
        return BK_LOG_WARN;
    return -1;
}

void bk_log_set_hook(bk_log_hook_fn *fn, void *ud)
{
    log_hook = fn;
    log_hook_ud = ud;
}

/* Format "[date time.ms] LEVEL " + message + "\n" and write it at once. */
const char *bk_log_component(const char *file, size_t *n)
{
    const char *p = strstr(file, "src/");
    p = p ? p + 4 : file;
    const char *dot = strrchr(p, '.');
    *n = dot && dot > p ? (size_t)(dot - p) : strlen(p);
    return p;
}

BK_PRINTF(4, 0)
static void log_va(int level, uint32_t suppressed, const char *file, const char *fmt, va_list ap)
{
    if (level < log_level || level < BK_LOG_DEBUG || level > BK_LOG_ERROR)
        return;
    int saved_errno = errno; /* logging must not clobber the caller's errno */
    char line[BK_LOG_LINE_MAX];
    size_t n = 0;

    if (!log_hook) {
        /* Wall time read directly: log lines may come from any thread and
         * should show the time of the event, not of the last loop tick. */
        int64_t ms = bk_wall_ms_raw();
        time_t secs = (time_t)(ms / 1000);
        struct tm tm;
        localtime_r(&secs, &tm);
        n = strftime(line, sizeof line, "[%Y-%m-%d %H:%M:%S", &tm);
        n += (size_t)snprintf(line + n, sizeof line - n, ".%03d] %s ", (int)(ms % 1000),
                              level_names[level]);
    }
    size_t msg_at = n;
    int w = vsnprintf(line + n, sizeof line - n, fmt, ap);
    if (w > 0)
        n = BK_MIN(n + (size_t)w, sizeof line - 2);
    if (suppressed && n < sizeof line - 2) {
        w = snprintf(line + n, sizeof line - n, " (%u similar lines suppressed)", suppressed);
        if (w > 0)
            n = BK_MIN(n + (size_t)w, sizeof line - 2);
    }
    if (file && !log_hook && n < sizeof line - 2) {
        size_t cl;
        const char *comp = bk_log_component(file, &cl);
        w = snprintf(line + n, sizeof line - n, " (%.*s)", (int)cl, comp);
        if (w > 0)
            n = BK_MIN(n + (size_t)w, sizeof line - 2);
    }

    if (log_hook) {
        line[n] = '\0';
        log_hook(level, line + msg_at, log_hook_ud);
    } else {
        line[n++] = '\n';
        /* A failed or short write to stderr has nowhere to be reported. */
        ssize_t r = write(STDERR_FILENO, line, n);
        (void)r;
    }
    errno = saved_errno;
}

void bk_log_at(int level, const char *file, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_va(level, 0, file, fmt, ap);
    va_end(ap);
}

bool bk_ratelimit_allow(bk_ratelimit *rl, int64_t now_ms, uint32_t burst, int64_t interval_ms,
                        uint32_t *suppressed)
{
    if (rl->count == 0 || now_ms - rl->window_start >= interval_ms) {
        rl->window_start = now_ms;
        rl->count = 0;
    }
    if (rl->count >= burst) {
        rl->suppressed++;
        return false;
    }
    rl->count++;
    *suppressed = rl->suppressed;
    rl->suppressed = 0;
    return true;
}

void bk_log_rl_emit(bk_ratelimit *rl, int level, const char *file, const char *fmt, ...)
{
    uint32_t suppressed;
    if (!bk_ratelimit_allow(rl, bk_now_ms(), BK_LOG_RL_BURST, BK_LOG_RL_INTERVAL_MS, &suppressed))
        return;
    va_list ap;
    va_start(ap, fmt);
    log_va(level, suppressed, file, fmt, ap);
    va_end(ap);
}
