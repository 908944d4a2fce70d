/*
 * ev.c - epoll event loop with a binary min-heap of timers. See ev.h.
 */
#include "ev.h"

#include "../core/clock.h"
#include "../core/err.h"
#include "../core/log.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define EV_BATCH 256 /* events per epoll_wait; more are reported next time */

int bk_ev_init(bk_ev *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (ev->epfd == -1)
        return BK_EIO;
    ev->events = calloc(EV_BATCH, sizeof *ev->events);
    if (!ev->events) {
        close(ev->epfd);
        ev->epfd = -1;
        return BK_ENOMEM;
    }
    return 0;
}

void bk_ev_fini(bk_ev *ev)
{
    if (ev->epfd >= 0)
        close(ev->epfd);
    free(ev->events);
    free(ev->heap);
    memset(ev, 0, sizeof *ev);
    ev->epfd = -1;
}

/* ------------------------------------------------------------------- I/O */

void bk_ev_io_init(bk_ev_io *io, int fd, bk_ev_io_cb *cb, void *data)
{
    io->fd = fd;
    io->mask = 0;
    io->active = false;
    io->cb = cb;
    io->data = data;
}

static uint32_t to_epoll(uint32_t mask)
{
    return (mask & BK_EV_READ ? EPOLLIN : 0) | (mask & BK_EV_WRITE ? EPOLLOUT : 0);
}

int bk_ev_io_start(bk_ev *ev, bk_ev_io *io, uint32_t mask)
{
    BK_ASSERT(!io->active);
    struct epoll_event e = {.events = to_epoll(mask), .data.ptr = io};
    if (epoll_ctl(ev->epfd, EPOLL_CTL_ADD, io->fd, &e) == -1)
        return BK_EIO;
    io->mask = mask;
    io->active = true;
    ev->nio++;
    return 0;
}

int bk_ev_io_set(bk_ev *ev, bk_ev_io *io, uint32_t mask)
{
    if (!io->active)
        return bk_ev_io_start(ev, io, mask);
    if (io->mask == mask)
        return 0;
    struct epoll_event e = {.events = to_epoll(mask), .data.ptr = io};
    if (epoll_ctl(ev->epfd, EPOLL_CTL_MOD, io->fd, &e) == -1)
        return BK_EIO;
    io->mask = mask;
    return 0;
}

void bk_ev_io_stop(bk_ev *ev, bk_ev_io *io)
{
    if (!io->active)
        return;
    /* Failure means the fd is already gone from the set (closed early);
     * either way it no longer delivers events. */
    (void)epoll_ctl(ev->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    io->active = false;
    io->mask = 0;
    ev->nio--;
    /* Forget events of this batch not yet dispatched: the owner may be
     * freed right after this call. */
    for (int i = ev->cur; i < ev->nevents; i++)
        if (ev->events[i].data.ptr == io)
            ev->events[i].data.ptr = NULL;
}

/* ---------------------------------------------------------------- timers */

void bk_ev_timer_init(bk_ev_timer *t, bk_ev_timer_cb *cb, void *data)
{
    t->when = 0;
    t->heap_ix = -1;
    t->cb = cb;
    t->data = data;
}

static void heap_set(bk_ev *ev, int i, bk_ev_timer *t)
{
    ev->heap[i] = t;
    t->heap_ix = i;
}

static void heap_up(bk_ev *ev, int i)
{
    bk_ev_timer *t = ev->heap[i];
    while (i > 0) {
        int parent = (i - 1) / 2;
        if (ev->heap[parent]->when <= t->when)
            break;
        heap_set(ev, i, ev->heap[parent]);
        i = parent;
    }
    heap_set(ev, i, t);
}

static void heap_down(bk_ev *ev, int i)
{
    bk_ev_timer *t = ev->heap[i];
    for (;;) {
        int c = 2 * i + 1;
        if (c >= ev->nheap)
            break;
        if (c + 1 < ev->nheap && ev->heap[c + 1]->when < ev->heap[c]->when)
            c++;
        if (t->when <= ev->heap[c]->when)
            break;
        heap_set(ev, i, ev->heap[c]);
        i = c;
    }
    heap_set(ev, i, t);
}

void bk_ev_timer_stop(bk_ev *ev, bk_ev_timer *t)
{
    int i = t->heap_ix;
    if (i < 0)
        return;
    t->heap_ix = -1;
    bk_ev_timer *last = ev->heap[--ev->nheap];
    if (i == ev->nheap)
        return;
    heap_set(ev, i, last);
    heap_up(ev, i);
    heap_down(ev, last->heap_ix);
}

int bk_ev_timer_start(bk_ev *ev, bk_ev_timer *t, int64_t when)
{
    if (t->heap_ix >= 0) {
        /* re-arm in place: sift in whichever direction the deadline moved */
        t->when = when;
        heap_up(ev, t->heap_ix);
        heap_down(ev, t->heap_ix);
        return 0;
    }
    if (ev->nheap == ev->capheap) {
        int ncap = ev->capheap ? ev->capheap * 2 : 64;
        bk_ev_timer **nh = realloc(ev->heap, (size_t)ncap * sizeof *nh);
        if (!nh)
            return BK_ENOMEM;
        ev->heap = nh;
        ev->capheap = ncap;
    }
    t->when = when;
    ev->heap[ev->nheap] = t;
    t->heap_ix = ev->nheap++;
    heap_up(ev, t->heap_ix);
    return 0;
}

static void run_timers(bk_ev *ev)
{
    int64_t now = bk_now_ms();
    /* Bound the loop by the timers that were due on entry, so a callback
     * re-arming itself for "now" cannot keep us here forever. */
    int budget = ev->nheap;
    while (budget-- > 0 && ev->nheap > 0 && ev->heap[0]->when <= now) {
        bk_ev_timer *t = ev->heap[0];
        bk_ev_timer_stop(ev, t);
        t->cb(ev, t);
    }
}

/* ------------------------------------------------------------------ loop */

void bk_ev_set_before_sleep(bk_ev *ev, bk_ev_hook_cb *cb, void *ud)
{
    ev->before_sleep = cb;
    ev->before_sleep_ud = ud;
}

void bk_ev_stop(bk_ev *ev)
{
    ev->stop = true;
}

int bk_ev_run_once(bk_ev *ev, int max_wait_ms)
{
    if (ev->before_sleep)
        ev->before_sleep(ev, ev->before_sleep_ud);
    if (ev->stop)
        return 0;

    bk_clock_tick();
    int timeout = max_wait_ms;
    if (ev->nheap > 0) {
        int64_t d = ev->heap[0]->when - bk_now_ms();
        if (d < 0)
            d = 0;
        if (d > INT_MAX)
            d = INT_MAX;
        if (timeout < 0 || d < timeout)
            timeout = (int)d;
    }

    /* Idle accounting (NetworkProcessorAvgIdlePercent): only when the
     * loop would actually sleep. */
    struct timespec t0, t1;
    if (timeout != 0)
        clock_gettime(CLOCK_MONOTONIC, &t0);
    int n = epoll_wait(ev->epfd, ev->events, EV_BATCH, timeout);
    if (timeout != 0) {
        clock_gettime(CLOCK_MONOTONIC, &t1);
        ev->idle_us += (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000LL +
                                  (t1.tv_nsec - t0.tv_nsec) / 1000);
    }
    if (n == -1) {
        if (errno == EINTR)
            n = 0;
        else
            return BK_EIO;
    }
    bk_clock_tick();

    ev->nevents = n;
    for (ev->cur = 0; ev->cur < ev->nevents;) {
        struct epoll_event *e = &ev->events[ev->cur++];
        bk_ev_io *io = e->data.ptr;
        if (!io)
            continue; /* stopped earlier in this batch */
        uint32_t got = (e->events & EPOLLIN ? BK_EV_READ : 0) |
                       (e->events & EPOLLOUT ? BK_EV_WRITE : 0) |
                       (e->events & (EPOLLERR | EPOLLHUP) ? BK_EV_ERROR : 0);
        /* The mask may have changed earlier in this batch. */
        got &= io->mask | BK_EV_ERROR;
        if (got)
            io->cb(ev, io, got);
    }
    ev->nevents = ev->cur = 0;

    run_timers(ev);
    return 0;
}

int bk_ev_run(bk_ev *ev)
{
    ev->stop = false;
    while (!ev->stop) {
        int rc = bk_ev_run_once(ev, -1);
        if (rc != 0) {
            bk_log(BK_LOG_ERROR, "epoll_wait: %s", strerror(errno));
            return rc;
        }
    }
    return 0;
}
