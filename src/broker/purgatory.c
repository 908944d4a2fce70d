/* purgatory.c - delayed operations keyed by partition. See purgatory.h. */
#include "purgatory.h"

#include "../core/clock.h"
#include "../core/log.h"

#include <stdlib.h>
#include <string.h>

#define GC_INTERVAL_MS 1000

void bk_purgatory_init(bk_purgatory *pg, bk_ev *ev)
{
    memset(pg, 0, sizeof *pg);
    pg->ev = ev;
}

/* ------------------------------------------------------------ lists */

static bk_watchers *list_of(bk_purgatory *pg, bk_partition *p)
{
    if (p->waiters)
        return p->waiters;
    bk_watchers *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->topic = strdup(p->topic->name);
    if (!w->topic) {
        free(w);
        return NULL;
    }
    w->index = p->index;
    w->reg_next = pg->lists;
    if (pg->lists)
        pg->lists->reg_prev = w;
    pg->lists = w;
    pg->nlists++;
    p->waiters = w;
    return w;
}

static void list_free(bk_purgatory *pg, bk_watchers *w)
{
    BK_ASSERT(w->n == 0);
    if (w->reg_prev)
        w->reg_prev->reg_next = w->reg_next;
    else
        pg->lists = w->reg_next;
    if (w->reg_next)
        w->reg_next->reg_prev = w->reg_prev;
    pg->nlists--;
    free(w->topic);
    free(w);
}

static void watch_link(bk_watchers *w, bk_watch *n)
{
    n->list = w;
    n->prev = NULL;
    n->next = w->head;
    if (w->head)
        w->head->prev = n;
    w->head = n;
    w->n++;
}

static void watch_unlink(bk_watch *n)
{
    bk_watchers *w = n->list;
    if (!w)
        return;
    if (n->prev)
        n->prev->next = n->next;
    else
        w->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    n->prev = n->next = NULL;
    n->list = NULL;
    w->n--;
}

/* ------------------------------------------------------------ ops */

static void unpark(bk_delayed *d)
{
    bk_purgatory *pg = d->pg;
    for (int i = 0; i < d->nwatch; i++)
        watch_unlink(&d->watch[i]);
    bk_ev_timer_stop(pg->ev, &d->timer);
    if (d->prev)
        d->prev->next = d->next;
    else
        pg->parked = d->next;
    if (d->next)
        d->next->prev = d->prev;
    d->prev = d->next = NULL;
    d->parked = false;
    pg->nparked--;
}

static void finish(bk_delayed *d, bool expired)
{
    bk_purgatory *pg = d->pg;
    unpark(d);
    if (expired)
        pg->expired++;
    else
        pg->completed++;
    d->complete(d, expired);
}

static void timer_cb(bk_ev *ev, bk_ev_timer *t)
{
    bk_delayed *d = t->data;
    finish(d, !d->completing);
}

int bk_delayed_park(bk_purgatory *pg, bk_delayed *d, int64_t deadline, bk_partition *const *parts,
                    bk_watch *nodes, int n)
{
    BK_ASSERT(d->on_event && d->complete);
    d->pg = pg;
    d->watch = nodes;
    d->nwatch = 0;
    d->completing = false;
    bk_ev_timer_init(&d->timer, timer_cb, d);
    for (int i = 0; i < n; i++) {
        bk_watchers *w = list_of(pg, parts[i]);
        if (!w) {
            for (int k = 0; k < d->nwatch; k++)
                watch_unlink(&nodes[k]);
            return BK_ENOMEM;
        }
        nodes[i].op = d;
        watch_link(w, &nodes[i]);
        d->nwatch++;
    }
    if (bk_ev_timer_start(pg->ev, &d->timer, deadline) != 0) {
        for (int k = 0; k < d->nwatch; k++)
            watch_unlink(&nodes[k]);
        return BK_ENOMEM;
    }
    d->parked = true;
    d->prev = NULL;
    d->next = pg->parked;
    if (pg->parked)
        pg->parked->prev = d;
    pg->parked = d;
    pg->nparked++;
    return 0;
}

void bk_delayed_complete_soon(bk_delayed *d)
{
    if (!d->parked || d->completing)
        return;
    /* Fires after this iteration's I/O callbacks (ev.h). If the heap cannot
     * grow - it does not need to: the timer is armed already - the old
     * deadline still completes it. */
    d->completing = true;
    (void)bk_ev_timer_start(d->pg->ev, &d->timer, bk_now_ms());
}

void bk_purgatory_notify(bk_purgatory *pg, bk_partition *p, unsigned what, uint64_t bytes)
{
    bk_watchers *w = p->waiters;
    if (!w || w->n == 0)
        return;
    for (bk_watch *n = w->head; n; n = n->next) {
        bk_delayed *d = n->op;
        if (!d->completing && (d->wants & what) && d->on_event(d, what, bytes))
            bk_delayed_complete_soon(d);
    }
}

void bk_purgatory_complete_all(bk_purgatory *pg)
{
    while (pg->parked)
        finish(pg->parked, true);
}

void bk_purgatory_gc(bk_purgatory *pg, bk_topics *topics, int64_t now_ms)
{
    if (now_ms < pg->next_gc_ms)
        return;
    pg->next_gc_ms = now_ms + GC_INTERVAL_MS;
    bk_watchers *w = pg->lists;
    while (w) {
        bk_watchers *next = w->reg_next;
        if (w->n == 0) {
            bk_partition *p =
                topics ? bk_topics_partition(topics, w->topic, strlen(w->topic), w->index) : NULL;
            if (!p || p->waiters != w)
                list_free(pg, w);
        }
        w = next;
    }
}

void bk_purgatory_fini(bk_purgatory *pg, bk_topics *topics)
{
    bk_purgatory_complete_all(pg);
    while (pg->lists) {
        bk_watchers *w = pg->lists;
        bk_partition *p =
            topics ? bk_topics_partition(topics, w->topic, strlen(w->topic), w->index) : NULL;
        if (p && p->waiters == w)
            p->waiters = NULL;
        list_free(pg, w);
    }
}
