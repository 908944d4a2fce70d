/*
 * purgatory_test.c - delayed operations on the real event loop: deadline
 * expiry by the loop's timers, wake-ups that complete after the caller
 * returns, cancellation, and the list garbage collector.
 */
#include "purgatory.h"

#include "../../tests/unit.h"
#include "../core/clock.h"

#include <stdlib.h>
#include <string.h>

typedef struct top {
    bk_delayed d;
    uint64_t need, got;
    int completions;
    bool expired;
    int64_t done_at;
} top;

static bool t_event(bk_delayed *d, unsigned what, uint64_t bytes)
{
    top *o = (top *)d;
    o->got += bytes;
    return o->got >= o->need;
}

static void t_complete(bk_delayed *d, bool expired)
{
    top *o = (top *)d;
    o->completions++;
    o->expired = expired;
    o->done_at = bk_mono_ms_raw();
}

static void op_init(top *o, uint64_t need)
{
    memset(o, 0, sizeof *o);
    o->need = need;
    o->d.wants = BK_WAKE_DATA;
    o->d.on_event = t_event;
    o->d.complete = t_complete;
}

/* Run the loop until o completed or limit_ms passed. */
static void run_until(bk_ev *ev, top *o, int64_t limit_ms)
{
    int64_t end = bk_mono_ms_raw() + limit_ms;
    while (o->completions == 0 && bk_mono_ms_raw() < end)
        bk_ev_run_once(ev, 5);
}

void bk_test_purgatory(void);
void bk_test_purgatory(void)
{
    bk_ev ev;
    BK_CHECK(bk_ev_init(&ev) == 0);
    bk_purgatory pg;
    bk_purgatory_init(&pg, &ev);

    /* Two fake partitions of one topic (no registry needed). */
    bk_topic tp;
    memset(&tp, 0, sizeof tp);
    tp.name = "t";
    bk_partition parts[2];
    memset(parts, 0, sizeof parts);
    for (int i = 0; i < 2; i++) {
        parts[i].index = i;
        parts[i].topic = &tp;
    }
    bk_partition *both[2] = {&parts[0], &parts[1]};
    bk_watch nodes[2];

    BK_TEST("purgatory: a parked op expires at its deadline through the loop timer");
    bk_clock_tick();
    top o;
    op_init(&o, 100);
    int64_t t0 = bk_mono_ms_raw();
    BK_CHECK(bk_delayed_park(&pg, &o.d, bk_now_ms() + 60, both, nodes, 2) == 0);
    BK_CHECK(pg.nparked == 1 && parts[0].waiters && parts[1].waiters);
    BK_CHECK(((bk_watchers *)parts[0].waiters)->n == 1);
    run_until(&ev, &o, 2000);
    BK_CHECK(o.completions == 1 && o.expired);
    BK_CHECK(o.done_at - t0 >= 55 && o.done_at - t0 < 1000);
    BK_CHECK(pg.nparked == 0 && ((bk_watchers *)parts[0].waiters)->n == 0);
    BK_CHECK(pg.expired == 1);

    BK_TEST("purgatory: enough data completes the op after notify returns, not inside it");
    bk_clock_tick();
    op_init(&o, 100);
    BK_CHECK(bk_delayed_park(&pg, &o.d, bk_now_ms() + 5000, both, nodes, 2) == 0);
    bk_purgatory_notify(&pg, &parts[1], BK_WAKE_DATA, 40);
    BK_CHECK(o.completions == 0 && o.got == 40 && !o.d.completing);
    bk_purgatory_notify(&pg, &parts[0], BK_WAKE_HW, 500); /* not wanted */
    BK_CHECK(o.got == 40);
    t0 = bk_mono_ms_raw();
    bk_purgatory_notify(&pg, &parts[0], BK_WAKE_DATA, 60);
    BK_CHECK(o.completions == 0 && o.d.completing);        /* deferred to the loop */
    bk_purgatory_notify(&pg, &parts[0], BK_WAKE_DATA, 60); /* no double wake */
    BK_CHECK(o.got == 100);
    run_until(&ev, &o, 2000);
    BK_CHECK(o.completions == 1 && !o.expired && o.done_at - t0 < 500);
    BK_CHECK(pg.completed == 1 && pg.nparked == 0);

    BK_TEST("purgatory: several ops on one partition; unrelated partitions do not wake them");
    bk_clock_tick();
    top a, c;
    bk_watch na[1], nc[1];
    op_init(&a, 1);
    op_init(&c, 1);
    BK_CHECK(bk_delayed_park(&pg, &a.d, bk_now_ms() + 5000, &both[0], na, 1) == 0);
    BK_CHECK(bk_delayed_park(&pg, &c.d, bk_now_ms() + 5000, &both[1], nc, 1) == 0);
    bk_purgatory_notify(&pg, &parts[0], BK_WAKE_DATA, 10);
    run_until(&ev, &a, 2000);
    BK_CHECK(a.completions == 1 && c.completions == 0 && pg.nparked == 1);

    BK_TEST("purgatory: complete_soon (a cancelled connection) and complete_all");
    bk_delayed_complete_soon(&c.d);
    run_until(&ev, &c, 2000);
    BK_CHECK(c.completions == 1 && !c.expired && pg.nparked == 0);
    op_init(&a, 1);
    BK_CHECK(bk_delayed_park(&pg, &a.d, bk_now_ms() + 5000, both, nodes, 2) == 0);
    bk_purgatory_complete_all(&pg);
    BK_CHECK(a.completions == 1 && a.expired && pg.nparked == 0);
    BK_CHECK(ev.nheap == 0);

    BK_TEST("purgatory: gc frees only lists whose partition is gone");
    BK_CHECK(pg.nlists == 2);
    bk_purgatory_gc(&pg, NULL, 0); /* no registry: both partitions "gone" */
    BK_CHECK(pg.nlists == 0 && pg.lists == NULL);
    parts[0].waiters = parts[1].waiters = NULL;
    op_init(&a, 1);
    BK_CHECK(bk_delayed_park(&pg, &a.d, bk_now_ms() + 5000, both, nodes, 2) == 0);
    bk_purgatory_gc(&pg, NULL, 10000); /* watched: kept */
    BK_CHECK(pg.nlists == 2);

    bk_purgatory_fini(&pg, NULL);
    BK_CHECK(a.completions == 1 && pg.nlists == 0);
    bk_ev_fini(&ev);
}
