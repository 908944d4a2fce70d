/* ev_test.c - timers, I/O readiness and stop-within-a-batch. */
#include "ev.h"

#include "../../tests/unit.h"
#include "../core/clock.h"

#include <unistd.h>

static int order[8], norder;

static void tcb(bk_ev *ev, bk_ev_timer *t)
{
    order[norder++] = (int)(intptr_t)t->data;
}

static int reads;
static bk_ev_io *pair[2]; /* the first callback stops the other one */

static void rcb(bk_ev *ev, bk_ev_io *io, uint32_t events)
{
    char buf[16];
    reads++;
    BK_CHECK(events & BK_EV_READ);
    BK_CHECK(read(io->fd, buf, sizeof buf) > 0);
    if (pair[0]) {
        bk_ev_io_stop(ev, pair[0] == io ? pair[1] : pair[0]); /* its pending event must go */
        pair[0] = pair[1] = NULL;
    }
}

static int sleeps;
static void before(bk_ev *ev, void *ud)
{
    sleeps++;
}

void bk_test_ev(void);
void bk_test_ev(void)
{
    bk_ev ev;
    BK_TEST("ev: timers fire in deadline order; stop and re-arm");
    BK_CHECK(bk_ev_init(&ev) == 0);
    bk_ev_timer t[5];
    int64_t now = bk_mono_ms_raw();
    for (int i = 0; i < 5; i++)
        bk_ev_timer_init(&t[i], tcb, (void *)(intptr_t)i);
    bk_ev_timer_start(&ev, &t[0], now + 30);
    bk_ev_timer_start(&ev, &t[1], now + 10);
    bk_ev_timer_start(&ev, &t[2], now + 20);
    bk_ev_timer_start(&ev, &t[3], now + 5);
    bk_ev_timer_start(&ev, &t[4], now + 1);
    bk_ev_timer_stop(&ev, &t[2]);
    bk_ev_timer_start(&ev, &t[4], now + 40); /* re-arm later */
    BK_CHECK(!bk_ev_timer_armed(&t[2]) && bk_ev_timer_armed(&t[4]));
    norder = 0;
    bk_ev_set_before_sleep(&ev, before, NULL);
    for (int i = 0; i < 100 && norder < 4; i++)
        bk_ev_run_once(&ev, 50);
    BK_CHECK(norder == 4);
    BK_CHECK(order[0] == 3 && order[1] == 1 && order[2] == 0 && order[3] == 4);
    BK_CHECK(ev.nheap == 0);
    BK_CHECK(sleeps > 0);

    BK_TEST("ev: level-triggered reads; a watcher stopped mid-batch gets no callback");
    int p1[2], p2[2];
    BK_CHECK(pipe(p1) == 0 && pipe(p2) == 0);
    bk_ev_io a, b;
    bk_ev_io_init(&a, p1[0], rcb, NULL);
    bk_ev_io_init(&b, p2[0], rcb, NULL);
    BK_CHECK(bk_ev_io_start(&ev, &a, BK_EV_READ) == 0);
    BK_CHECK(bk_ev_io_start(&ev, &b, BK_EV_READ) == 0);
    BK_CHECK(write(p1[1], "x", 1) == 1 && write(p2[1], "y", 1) == 1);
    reads = 0;
    pair[0] = &a;
    pair[1] = &b;
    bk_ev_run_once(&ev, 100);
    BK_CHECK(reads == 1);
    BK_CHECK(a.active != b.active);
    bk_ev_io_stop(&ev, &a);
    bk_ev_io_stop(&ev, &b);
    BK_CHECK(ev.nio == 0);
    /* mask 0: nothing delivered even though readable */
    BK_CHECK(write(p1[1], "z", 1) == 1);
    BK_CHECK(bk_ev_io_start(&ev, &a, 0) == 0);
    reads = 0;
    bk_ev_run_once(&ev, 10);
    BK_CHECK(reads == 0);
    BK_CHECK(bk_ev_io_set(&ev, &a, BK_EV_READ) == 0);
    bk_ev_run_once(&ev, 100);
    BK_CHECK(reads == 1);
    bk_ev_io_stop(&ev, &a);
    close(p1[0]);
    close(p1[1]);
    close(p2[0]);
    close(p2[1]);
    bk_ev_fini(&ev);
}
