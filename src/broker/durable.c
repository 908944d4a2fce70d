/* durable.c - see durable.h. */
#include "durable.h"

#include "replica.h"

#include <string.h>

typedef struct dwait {
    bk_delayed d; /* first: the purgatory hands it back */
    bk_watch node;
    bk_broker *b;
    bk_req *req;
    const char *topic; /* copy in the request's arena: looked up per use */
    int32_t partition;
    int32_t leader_epoch;
    int64_t offset;
    void *rs;
    const bk_msginfo *mi;
    bk_durable_opts o;
} dwait;

/* 1 settled (*err), 0 still waiting. */
static int dstate(dwait *w, int16_t *err)
{
    bk_partition *p =
        w->b->topics ? bk_topics_partition(w->b->topics, w->topic, strlen(w->topic), w->partition)
                     : NULL;
    if (!p || bk_leader_check(w->b, p) != BK_KERR_NONE || p->leader_epoch != w->leader_epoch ||
        !p->log)
        *err = w->o.not_leader_err;
    else if (p->log->hw <= w->offset)
        return 0;
    else
        *err = BK_KERR_NONE;
    return 1;
}

static bool d_on_event(bk_delayed *d, unsigned what, uint64_t bytes)
{
    int16_t err;
    return dstate((dwait *)d, &err) == 1;
}

static void d_complete(bk_delayed *d, bool expired)
{
    dwait *w = (dwait *)d;
    bk_req *req = w->req;
    req->hctx = NULL;
    if (req->conn->closing) {
        bk_req_done(req, 0);
        return;
    }
    int16_t err;
    if (dstate(w, &err) == 0)
        err = w->o.timeout_err;
    if (err != BK_KERR_NONE)
        w->o.set_err(w->rs, err);
    else if (w->o.on_ok)
        w->o.on_ok(w->b, w->o.ud);
    bk_req_done(req, bk_respond(req, w->mi, req->hdr.api_version, w->rs));
}

int bk_answer_durable(bk_broker *b, bk_req *req, bk_partition *p, int64_t offset, void *rs,
                      const bk_msginfo *mi, const bk_durable_opts *o)
{
    if (b->cluster && p && p->log && offset >= 0 && p->log->hw <= offset) {
        dwait *w = BK_ARENA_NEW(req, dwait, 1);
        if (!w)
            return BK_ENOMEM;
        w->b = b;
        w->req = req;
        size_t tl = strlen(p->log->topic);
        char *t = bk_arena_alloc(req->arena, tl + 1);
        if (!t)
            return BK_ENOMEM;
        memcpy(t, p->log->topic, tl + 1);
        w->topic = t;
        w->partition = p->log->partition;
        w->leader_epoch = p->leader_epoch;
        w->offset = offset;
        w->rs = rs;
        w->mi = mi;
        w->o = *o;
        w->d.wants = BK_WAKE_HW;
        w->d.on_event = d_on_event;
        w->d.complete = d_complete;
        if (bk_delayed_park(&b->purg, &w->d, req->recv_ms + o->timeout_ms, &p, &w->node, 1) == 0) {
            req->hctx = &w->d;
            return BK_EAGAIN;
        }
        o->set_err(rs, o->timeout_err);
    }
    return bk_respond(req, mi, req->hdr.api_version, rs);
}
