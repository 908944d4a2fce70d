/*
 * ev.h - the event loop: fd readiness (epoll), timers, a before-sleep hook.
 *
 * Threading model. Brook runs ONE event-loop thread that owns every
 * listener and every client connection (Redis style). Requests are decoded,
 * handled and answered on that thread, so the hot path takes no locks and
 * all broker state (metadata, partitions, groups) is touched by one thread
 * only. This is enough for a broker whose work per request is small next
 * to the bytes it moves (record data goes out by sendfile, not through the
 * CPU). The work that CAN block - fsync, closing and unlinking deleted
 * segments - is meant for background threads that report back to the loop
 * (Redis bio); nothing in this loop may block. Scaling across cores later
 * means N independent loops with SO_REUSEPORT listeners and per-loop
 * ownership of connections; the bk_ev handle passed everywhere (rather than
 * a global loop) keeps that door open.
 *
 * Contract.
 *  - I/O watchers (bk_ev_io) and timers (bk_ev_timer) are embedded in their
 *    owners (intrusive): starting or stopping them never allocates, except
 *    that the timer heap grows geometrically.
 *  - epoll is level-triggered: a callback need not drain the fd; it is
 *    called again on the next tick while the condition holds. Dropping
 *    BK_EV_READ from the mask is how a connection applies backpressure.
 *  - Stopping a watcher (or freeing its owner after stopping it) inside any
 *    callback is safe: pending events of the current batch for that
 *    watcher are discarded.
 *  - The cached clock (core/clock.h) is refreshed once per wake-up, before
 *    callbacks run. Timers fire in deadline order after the I/O callbacks.
 *  - before_sleep runs once per iteration right before epoll_wait; the
 *    place for work that batches across requests (fsync, flushing).
 *
 * Thread: everything here is loop-thread only.
 */
#ifndef BK_EV_H
#define BK_EV_H

#include "../core/kb.h"

#include <sys/epoll.h>

#define BK_EV_READ  0x1u
#define BK_EV_WRITE 0x2u
/* Reported to callbacks only: error or hang-up (readable/writable may be
 * reported too; the next read/write returns the error). */
#define BK_EV_ERROR 0x4u

typedef struct bk_ev bk_ev;
typedef struct bk_ev_io bk_ev_io;
typedef struct bk_ev_timer bk_ev_timer;

typedef void bk_ev_io_cb(bk_ev *ev, bk_ev_io *io, uint32_t events);
typedef void bk_ev_timer_cb(bk_ev *ev, bk_ev_timer *t);
typedef void bk_ev_hook_cb(bk_ev *ev, void *ud);

struct bk_ev_io {
    int fd;        /* borrowed: the owner closes it after bk_ev_io_stop() */
    uint32_t mask; /* BK_EV_READ | BK_EV_WRITE currently wanted */
    bool active;   /* registered with epoll */
    bk_ev_io_cb *cb;
    void *data; /* owner */
};

struct bk_ev_timer {
    int64_t when;    /* monotonic ms deadline */
    int32_t heap_ix; /* position in the heap, -1 when not armed */
    bk_ev_timer_cb *cb;
    void *data; /* owner */
};

struct bk_ev {
    int epfd;
    bool stop;
    struct epoll_event *events; /* owned: results of the current epoll_wait */
    int nevents, cur;           /* batch being dispatched: [cur, nevents) */
    int nio;                    /* registered watchers */
    bk_ev_timer **heap;         /* owned array of borrowed timers: min-heap on when */
    int nheap, capheap;
    bk_ev_hook_cb *before_sleep;
    void *before_sleep_ud;
    uint64_t idle_us; /* time spent waiting in epoll_wait (the loop's idle time) */
};

int bk_ev_init(bk_ev *ev);
void bk_ev_fini(bk_ev *ev);

void bk_ev_io_init(bk_ev_io *io, int fd, bk_ev_io_cb *cb, void *data);
/* Register io with mask (may be 0). BK_EIO (errno kept) if epoll refuses. */
int bk_ev_io_start(bk_ev *ev, bk_ev_io *io, uint32_t mask);
/* Change the interest mask; no system call if it did not change. */
int bk_ev_io_set(bk_ev *ev, bk_ev_io *io, uint32_t mask);
/* Unregister; call before closing the fd. No-op if not active. */
void bk_ev_io_stop(bk_ev *ev, bk_ev_io *io);

void bk_ev_timer_init(bk_ev_timer *t, bk_ev_timer_cb *cb, void *data);
/* Arm (or re-arm) to fire at monotonic time `when` (ms). A timer armed from
 * a timer callback for a time already past fires on the next iteration,
 * never in the same one. BK_ENOMEM if the heap cannot grow. */
int bk_ev_timer_start(bk_ev *ev, bk_ev_timer *t, int64_t when);
void bk_ev_timer_stop(bk_ev *ev, bk_ev_timer *t);
static inline bool bk_ev_timer_armed(const bk_ev_timer *t)
{
    return t->heap_ix >= 0;
}

void bk_ev_set_before_sleep(bk_ev *ev, bk_ev_hook_cb *cb, void *ud);

/* Run until bk_ev_stop(). Returns 0, or BK_EIO if epoll_wait fails. */
int bk_ev_run(bk_ev *ev);
/* One iteration, waiting at most max_wait_ms (-1 = until an event/timer). */
int bk_ev_run_once(bk_ev *ev, int max_wait_ms);
void bk_ev_stop(bk_ev *ev);

#endif
