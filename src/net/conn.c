/*
 * conn.c - see conn.h for the contract.
 *
 * Every entry point (socket event, idle timer, bk_req_done) runs
 *     enter -> read / handle frames / write -> update epoll interest -> leave
 * and a connection marked `closing` anywhere in between is destroyed in
 * leave(), never under a caller's feet.
 */
#include "conn.h"

#include "../core/clock.h"
#include "../core/log.h"
#include "../core/metrics.h"
#include "listener.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/sendfile.h>
#include <unistd.h>

#define IN_INIT        16384         /* initial input buffer */
#define IN_READ_MIN    4096          /* grow when less room than this is left */
#define IN_SHRINK      (1024 * 1024) /* give back input buffers bigger than this when idle */
#define OUT_INIT       16384
#define OUT_SHRINK     (1024 * 1024)
#define ARENA_BASE     (256 * 1024) /* arena limit: base + ARENA_PER_BYTE * frame size */
#define ARENA_PER_BYTE 16           /* decoded structs are bigger than their wire form */
#define TLS_FBUF       (256 * 1024) /* file bytes per SSL_write of a splice under TLS */
#define SEND_RETRY     (-1000)      /* send_mem/send_file: interrupted, call again */

static void conn_destroy(bk_conn *c);
static void conn_progress(bk_conn *c);
static bool frame_complete(const bk_conn *c);
static void release_holds(bk_conn *c, bool all);
static uint32_t tls_mask(const bk_conn *c, uint32_t mask);
static void tim_progress(bk_conn *c, bool all);

/* ------------------------------------------------------------ life cycle */

void bk_conns_init(bk_conns *cs, bk_ev *ev, const bk_conn_opts *opts)
{
    memset(cs, 0, sizeof *cs);
    cs->ev = ev;
    cs->opts = *opts;
    cs->next_id = 1;
}

void bk_conn_close_after_output(bk_conn *c)
{
    c->linger = true;
}

uint64_t bk_conn_unsent(const bk_conn *c)
{
    return bk_wr_wire_len(&c->out) - c->out_wire_sent;
}

void bk_conn_fail(bk_conn *c, int level, const char *why)
{
    if (c->closing)
        return;
    c->closing = true;
    if (why)
        bk_log_rl(level, "closing connection %llu from %s (%s): %s", (unsigned long long)c->id,
                  c->peer, c->listener_name, why);
}

/* Leave an entry point: update epoll interest, or destroy if failed. */
static void leave(bk_conn *c)
{
    bk_conns *cs = c->owner;
    /* Quiescing or lingering: nothing more will be handled; go once all
     * is out. */
    if ((cs->quiescing || c->linger) && !c->closing && !c->busy && !bk_conn_unsent(c))
        bk_conn_fail(c, BK_LOG_DEBUG, NULL);
    if (!c->closing) {
        uint32_t mask = 0;
        uint64_t unsent = bk_conn_unsent(c);
        if (!c->busy && !c->eof && !c->linger && !c->mute_until &&
            unsent <= c->owner->opts.out_high_water)
            mask |= BK_EV_READ;
        /* Writable also when complete frames wait unhandled (conn_progress
         * stopped after its round limit): the socket is writable at once,
         * so the next tick comes back for them without new input. The same
         * for decrypted bytes OpenSSL holds that epoll cannot see. */
        if (unsent || (!c->busy && !c->linger && !c->mute_until && frame_complete(c)))
            mask |= BK_EV_WRITE;
        if (c->tls)
            mask = tls_mask(c, mask);
        if (bk_ev_io_set(c->owner->ev, &c->io, mask) == 0)
            return;
        bk_conn_fail(c, BK_LOG_WARN, "epoll_ctl failed");
    }
    if (!c->busy) {
        conn_destroy(c);
        return;
    }
    /* a deferred request still points at us; bk_req_done() finishes */
    bk_ev_io_stop(c->owner->ev, &c->io);
    if (!c->cancelled) {
        c->cancelled = true;
        if (cs->opts.on_cancel)
            cs->opts.on_cancel(&c->req, cs->opts.ud);
    }
}

static void conn_destroy(bk_conn *c)
{
    bk_conns *cs = c->owner;
    if (cs->opts.on_close)
        cs->opts.on_close(c, cs->opts.ud);
    if (c->sasl && c->sasl_free)
        c->sasl_free(c->sasl);
    bk_tls_free(c->tls);
    free(c->tls_fbuf);
    bk_ev_timer_stop(cs->ev, &c->idle);
    bk_ev_timer_stop(cs->ev, &c->mute_timer);
    bk_ev_io_stop(cs->ev, &c->io);
    release_holds(c, true);
    /* Responses that will never be sent still count (as Kafka updates
     * the request metrics of in-flight responses on disconnect). */
    if (c->ntim)
        tim_progress(c, true);
    free(c->holds);
    if (c->fd >= 0)
        close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        cs->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    cs->n--;
    free(c->in);
    bk_wr_fini(&c->out);
    bk_arena_fini(&c->arena);
    free(c);
}

void bk_conns_close_all(bk_conns *cs)
{
    bk_conn *c = cs->head;
    while (c) {
        bk_conn *next = c->next;
        c->closing = true;
        if (!c->busy) {
            conn_destroy(c);
        } else {
            /* Its deferred request completes later; stop all I/O now. */
            bk_ev_io_stop(cs->ev, &c->io);
            bk_ev_timer_stop(cs->ev, &c->idle);
            shutdown(c->fd, SHUT_RDWR);
            if (!c->cancelled) {
                c->cancelled = true;
                if (cs->opts.on_cancel)
                    cs->opts.on_cancel(&c->req, cs->opts.ud);
            }
        }
        c = next;
    }
}

void bk_conns_quiesce(bk_conns *cs)
{
    cs->quiescing = true;
    bk_conn *c = cs->head;
    while (c) {
        bk_conn *next = c->next;
        if (!c->closing && !c->busy && !bk_conn_unsent(c)) {
            bk_conn_fail(c, BK_LOG_DEBUG, NULL);
            conn_destroy(c);
        }
        c = next;
    }
}

/* ----------------------------------------------------------------- holds */

int bk_conn_hold(bk_conn *c, bk_conn_release_fn *fn, void *arg)
{
    if (c->nholds == c->capholds) {
        if (c->hold_head > 0) {
            /* slide the pending ones to the front before growing */
            int live = c->nholds - c->hold_head;
            memmove(c->holds, c->holds + c->hold_head, (size_t)live * sizeof *c->holds);
            c->nholds = live;
            c->hold_head = 0;
        }
        if (c->nholds == c->capholds) {
            int ncap = c->capholds ? c->capholds * 2 : 16;
            bk_conn_hold_ent *n = realloc(c->holds, (size_t)ncap * sizeof *n);
            if (!n) {
                fn(arg);
                return BK_ENOMEM;
            }
            c->holds = n;
            c->capholds = ncap;
        }
    }
    c->holds[c->nholds++] = (bk_conn_hold_ent){bk_wr_wire_len(&c->out), fn, arg};
    return 0;
}

/* Run the holds whose bytes are all sent (all: every one). */
static void release_holds(bk_conn *c, bool all)
{
    while (c->hold_head < c->nholds && (all || c->holds[c->hold_head].mark <= c->out_wire_sent)) {
        bk_conn_hold_ent h = c->holds[c->hold_head++];
        h.fn(h.arg);
    }
    if (c->hold_head == c->nholds)
        c->hold_head = c->nholds = 0;
}

/* ------------------------------------------------------------ idle timer */

static void idle_cb(bk_ev *ev, bk_ev_timer *t)
{
    bk_conn *c = t->data;
    int64_t idle = c->owner->opts.idle_ms;
    int64_t deadline = c->last_active + idle;
    /* last_active moves with every read and write, so the timer is
     * re-armed lazily here instead of on every byte (nginx, Kafka do the
     * same with their idle expiry). A deferred request is not idleness. */
    if (c->busy)
        deadline = bk_now_ms() + idle;
    if (bk_now_ms() >= deadline) {
        char why[64];
        snprintf(why, sizeof why, "idle for %lld ms", (long long)(bk_now_ms() - c->last_active));
        bk_conn_fail(c, BK_LOG_DEBUG, why);
    } else if (bk_ev_timer_start(ev, t, deadline) != 0) {
        bk_conn_fail(c, BK_LOG_WARN, "out of memory arming the idle timer");
    }
    leave(c);
}

/* ---------------------------------------------------------------- muting */

static void mute_cb(bk_ev *ev, bk_ev_timer *t)
{
    bk_conn *c = t->data;
    c->mute_until = 0;
    if (!c->closing)
        conn_progress(c);
    leave(c);
}

void bk_conn_mute(bk_conn *c, int64_t ms)
{
    if (ms <= 0 || c->closing)
        return;
    int64_t until = bk_now_ms() + ms;
    if (until <= c->mute_until)
        return;
    if (bk_ev_timer_start(c->owner->ev, &c->mute_timer, until) != 0)
        return; /* out of memory: not muted, the throttle time still reported */
    c->mute_until = until;
    /* Interest is recomputed when the current entry point leaves. */
}

/* ---------------------------------------------------------------- timing */

static void tim_report(bk_conn *c, bk_conn_timing *t, uint64_t now)
{
    /* us[BK_RT_TOTAL] holds the request's start (receipt) until now */
    t->us[BK_RT_TOTAL] = now > t->us[BK_RT_TOTAL] ? now - t->us[BK_RT_TOTAL] : 0;
    c->owner->opts.on_timing(c, t->api_key, t->api_version, t->us, c->owner->opts.ud);
}

/* Stamp the responses whose writing starts, report the ones fully sent
 * (all: everything queued is out). */
static void tim_progress(bk_conn *c, bool all)
{
    uint64_t now = 0;
    while (c->ntim) {
        bk_conn_timing *t = &c->tim[c->tim_head];
        if (!t->send_us && (all || c->out_wire_sent >= t->start_mark)) {
            if (!now)
                now = bk_metrics_now_us();
            t->send_us = now;
            t->us[BK_RT_RESP_QUEUE] = now - t->done_us;
        }
        if (!all && c->out_wire_sent < t->end_mark)
            return;
        if (!now)
            now = bk_metrics_now_us();
        t->us[BK_RT_RESP_SEND] = now - t->send_us;
        tim_report(c, t, now);
        c->tim_head = (c->tim_head + 1) % BK_CONN_TIMINGS;
        c->ntim--;
    }
}

/* The request in c->req is finished: report its times now, or once its
 * response is out. */
static void tim_finish(bk_conn *c, bk_req *r)
{
    if (!c->owner->opts.on_timing || !r->t_start_us)
        return;
    uint64_t now = bk_metrics_now_us();
    bk_conn_timing t = {.api_key = r->hdr.api_key, .api_version = r->hdr.api_version};
    t.us[BK_RT_TOTAL] = r->t_start_us - r->t_queue_us;
    t.us[BK_RT_REQ_QUEUE] = r->t_queue_us;
    t.us[BK_RT_LOCAL] = r->t_local_us;
    if (r->deferred && now > r->t_start_us + r->t_local_us)
        t.us[BK_RT_REMOTE] = now - r->t_start_us - r->t_local_us;
    t.done_us = now;
    if (!r->resp_wire_end || c->closing || c->ntim == BK_CONN_TIMINGS ||
        r->resp_wire_end <= c->out_wire_sent) {
        tim_report(c, &t, now);
        return;
    }
    t.start_mark = r->resp_wire_start;
    t.end_mark = r->resp_wire_end;
    c->tim[(c->tim_head + c->ntim) % BK_CONN_TIMINGS] = t;
    c->ntim++;
}

/* ---------------------------------------------------------------- output */

/* One write of memory bytes: > 0 sent, SEND_RETRY (retry), BK_EAGAIN (the
 * socket is full), BK_EIO (failed, logged). more: file data follows. */
static ssize_t send_mem(bk_conn *c, const uint8_t *p, size_t len, bool more)
{
    if (c->tls) {
        uint32_t want = 0;
        ssize_t n = bk_tls_write(c->tls, p, len, &want);
        if (n == BK_EIO)
            bk_conn_fail(c, BK_LOG_DEBUG, "TLS write failed");
        c->tls_want = n == BK_EAGAIN ? want : 0; /* never a stale interest */
        return n;
    }
    ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT | (more ? MSG_MORE : 0));
    if (n >= 0)
        return n;
    if (errno == EINTR)
        return SEND_RETRY;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return BK_EAGAIN;
    bk_conn_fail(c, BK_LOG_DEBUG, strerror(errno));
    return BK_EIO;
}

/* The rest of splice s with sendfile(2): as send_mem. */
static ssize_t send_file(bk_conn *c, const bk_splice *s)
{
    off_t off = (off_t)(s->off + c->out_spl_sent);
    ssize_t n = sendfile(c->fd, s->fd, &off, s->len - c->out_spl_sent);
    if (n == -1) {
        if (errno == EINTR)
            return SEND_RETRY;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return BK_EAGAIN;
        bk_conn_fail(c, BK_LOG_WARN, "sendfile failed");
        return BK_EIO;
    }
    if (n == 0) {
        /* The file is shorter than the range promised in the response
         * size: the stream cannot be completed. */
        bk_conn_fail(c, BK_LOG_WARN, "sendfile: file range shorter than announced");
        return BK_EIO;
    }
    return n;
}

/* The rest of splice s over TLS: pread into the reused buffer, then
 * SSL_write from it (see TLS in conn.h). Returns the file bytes OpenSSL
 * took, as send_mem. */
static ssize_t send_file_tls(bk_conn *c, const bk_splice *s)
{
    if (!c->tls_fbuf && !(c->tls_fbuf = malloc(TLS_FBUF))) {
        bk_conn_fail(c, BK_LOG_WARN, "out of memory for the TLS file buffer");
        return BK_EIO;
    }
    if (c->tls_foff == c->tls_flen) {
        /* Buffer drained: the next piece of the range, after what was sent
         * and what is buffered (nothing is). */
        uint32_t want = BK_MIN(s->len - c->out_spl_sent, (uint32_t)TLS_FBUF);
        ssize_t r = pread(s->fd, c->tls_fbuf, want, (off_t)(s->off + c->out_spl_sent));
        if (r < 0 && errno == EINTR)
            return SEND_RETRY;
        if (r <= 0) {
            bk_conn_fail(c, BK_LOG_WARN,
                         r == 0 ? "TLS fetch: file range shorter than announced"
                                : "TLS fetch: reading the log failed");
            return BK_EIO;
        }
        c->tls_foff = 0;
        c->tls_flen = (uint32_t)r;
    }
    uint32_t want = 0;
    ssize_t n = bk_tls_write(c->tls, c->tls_fbuf + c->tls_foff, c->tls_flen - c->tls_foff, &want);
    c->tls_want = n == BK_EAGAIN ? want : 0;
    if (n == BK_EIO)
        bk_conn_fail(c, BK_LOG_DEBUG, "TLS write failed");
    if (n > 0) {
        c->tls_foff += (uint32_t)n;
        if (c->tls_foff == c->tls_flen)
            c->tls_foff = c->tls_flen = 0;
    }
    return n;
}

/* Send as much of out as the socket takes. 0 = all sent, BK_EAGAIN = the
 * socket is full, BK_EIO = the connection failed (logged). */
static int flush_out(bk_conn *c)
{
    bk_wr *w = &c->out;
    if (c->ntim)
        tim_progress(c, false);
    for (;;) {
        bk_splice *s = c->out_spl < w->nspl ? &w->spl[c->out_spl] : NULL;
        size_t mem_end = s ? s->at : w->len;
        if (c->out_sent < mem_end) {
            ssize_t n = send_mem(c, w->buf + c->out_sent, mem_end - c->out_sent, s != NULL);
            if (n == SEND_RETRY)
                continue;
            if (n < 0)
                return (int)n;
            c->out_sent += (size_t)n;
            c->out_wire_sent += (uint64_t)n;
            c->last_active = bk_now_ms();
            if (c->ntim)
                tim_progress(c, false);
            if (c->hold_head < c->nholds && c->holds[c->hold_head].mark <= c->out_wire_sent)
                release_holds(c, false);
            continue;
        }
        if (!s)
            break;
        ssize_t n = c->tls ? send_file_tls(c, s) : send_file(c, s);
        if (n == SEND_RETRY)
            continue;
        if (n < 0)
            return (int)n;
        c->last_active = bk_now_ms();
        c->out_spl_sent += (uint32_t)n;
        c->out_wire_sent += (uint64_t)n;
        if (c->ntim)
            tim_progress(c, false);
        if (c->out_spl_sent == s->len) {
            c->out_spl++;
            c->out_spl_sent = 0;
            if (c->hold_head < c->nholds && c->holds[c->hold_head].mark <= c->out_wire_sent)
                release_holds(c, false);
        }
    }
    /* Everything is out: every hold's bytes are sent (their marks refer to
     * this buffer, which starts over now). */
    release_holds(c, true);
    if (c->ntim)
        tim_progress(c, true);
    /* Everything is out: start the buffer over (and give back a big one). */
    if (w->cap > OUT_SHRINK) {
        bk_wr_fini(w);
        bk_wr_init(w, OUT_INIT);
    } else {
        bk_wr_reset(w);
    }
    c->out_sent = 0;
    c->out_spl = 0;
    c->out_spl_sent = 0;
    c->out_wire_sent = 0;
    if (w->err) {
        bk_conn_fail(c, BK_LOG_WARN, "out of memory for the output buffer");
        return BK_ENOMEM;
    }
    return 0;
}

bk_wr *bk_req_respond_begin(bk_req *req, int16_t hdr_version, size_t body_hint)
{
    bk_conn *c = req->conn;
    bk_wr *w = &c->out;
    BK_ASSERT(!req->responding);
    req->responding = true;
    req->resp_at = w->len;
    req->resp_nspl = w->nspl;
    req->resp_spl_len = w->spl_len;
    bk_wr_i32(w, 0); /* size, patched in _end */
    bk_resphdr_encode(w, hdr_version, req->hdr.correlation_id);
    if (body_hint)
        (void)bk_wr_reserve(w, body_hint);
    return w;
}

int bk_req_respond_end(bk_req *req, int rc)
{
    bk_conn *c = req->conn;
    bk_wr *w = &c->out;
    BK_ASSERT(req->responding);
    req->responding = false;
    if (rc == 0 && w->err)
        rc = w->err;
    if (rc == 0) {
        uint64_t at_wire = req->resp_at + req->resp_spl_len;
        uint64_t size = bk_wr_wire_len(w) - at_wire - 4;
        if (size > INT32_MAX) {
            rc = BK_ELIMIT;
        } else {
            bk_wr_patch_i32(w, req->resp_at, (int32_t)size);
            req->resp_wire_start = at_wire;
            req->resp_wire_end = bk_wr_wire_len(w);
            return 0;
        }
    }
    /* Drop the partial response; earlier ones are intact (a failed
     * realloc leaves the old buffer in place). */
    w->len = req->resp_at;
    w->nspl = req->resp_nspl;
    w->spl_len = req->resp_spl_len;
    w->err = 0;
    return rc;
}

/* ----------------------------------------------------------------- input */

/* The size prefix of the next frame, if its 4 bytes are buffered. */
static bool peek_size(const bk_conn *c, int32_t *size)
{
    if (c->in_len - c->in_off < 4)
        return false;
    *size = (int32_t)bk_get_be32(c->in + c->in_off);
    return true;
}

static bool frame_complete(const bk_conn *c)
{
    int32_t sz;
    return peek_size(c, &sz) && sz >= 0 && c->in_len - c->in_off - 4 >= (size_t)sz;
}

/* The request in c->req is finished (rc as from the handler). */
static void req_finish(bk_conn *c, int rc)
{
    bk_req *r = &c->req;
    if (r->responding) {
        /* The handler started a response and bailed out: drop it. */
        (void)bk_req_respond_end(r, BK_EINVAL);
    }
    if (rc < 0 && !c->closing) {
        char why[160];
        snprintf(why, sizeof why, "request api_key=%d api_version=%d correlation_id=%d failed: %s",
                 r->hdr.api_key, r->hdr.api_version, r->hdr.correlation_id, bk_strerror(rc));
        bk_conn_fail(c, BK_LOG_INFO, why);
    }
    tim_finish(c, r);
    c->in_off += 4 + (size_t)r->frame_len;
    c->busy = false;
    bk_arena_reset(&c->arena);
}

/* Decode the header of the complete frame at in_off and hand it over. */
static void dispatch(bk_conn *c, int32_t size)
{
    bk_req *r = &c->req;
    memset(r, 0, sizeof *r);
    r->conn = c;
    r->frame_len = size;
    r->recv_ms = bk_now_ms();
    r->arena = &c->arena;
    c->arena.limit = ARENA_BASE + ARENA_PER_BYTE * (size_t)size;
    c->busy = true;

    bk_rd_init(&r->body, c->in + c->in_off + 4, (size_t)size);
    if (bk_reqhdr_decode(&r->body, &r->hdr) != 0) {
        bk_conn_fail(c, BK_LOG_WARN, "malformed request header");
        req_finish(c, 0);
        return;
    }
    if (r->hdr.hdr_version < 0) {
        char why[64];
        snprintf(why, sizeof why, "unknown api key %d", r->hdr.api_key);
        bk_conn_fail(c, BK_LOG_WARN, why);
        req_finish(c, 0);
        return;
    }
    if (c->owner->opts.on_timing) {
        r->t_start_us = bk_metrics_now_us();
        r->t_queue_us = c->last_read_us && r->t_start_us > c->last_read_us
                            ? r->t_start_us - c->last_read_us
                            : 0;
    }
    int rc = c->owner->opts.on_request(r, c->owner->opts.ud);
    if (r->t_start_us)
        r->t_local_us = bk_metrics_now_us() - r->t_start_us;
    if (rc == BK_EAGAIN) {
        r->deferred = true;
        return; /* deferred: bk_req_done() */
    }
    req_finish(c, rc);
}

/* Handle buffered frames while allowed. */
static void process_input(bk_conn *c)
{
    while (!c->closing && !c->busy && !c->owner->quiescing && !c->linger && !c->mute_until &&
           bk_conn_unsent(c) <= c->owner->opts.out_high_water) {
        int32_t size;
        if (!peek_size(c, &size))
            break;
        if (size <= 0 || size > c->owner->opts.max_request_bytes) {
            /* 0 cannot even hold a header; negative and oversize are
             * rejected before buffering anything (Kafka's
             * InvalidReceiveException). */
            char why[128];
            snprintf(why, sizeof why, "invalid request size %d (socket.request.max.bytes=%d)", size,
                     c->owner->opts.max_request_bytes);
            bk_conn_fail(c, BK_LOG_WARN, why);
            break;
        }
        if (!c->authenticated && c->owner->opts.preauth_max_bytes > 0 &&
            size > c->owner->opts.preauth_max_bytes) {
            char why[128];
            snprintf(why, sizeof why,
                     "request size %d before authentication (sasl.server.max.receive.size=%d)",
                     size, c->owner->opts.preauth_max_bytes);
            bk_conn_fail(c, BK_LOG_WARN, why);
            break;
        }
        if (!frame_complete(c))
            break;
        dispatch(c, size);
    }
    if (c->busy)
        return; /* the deferred request borrows the buffer: keep it as is */
    /* Compact: move the partial frame to the front. */
    size_t left = c->in_len - c->in_off;
    if (c->in_off) {
        memmove(c->in, c->in + c->in_off, left);
        c->in_off = 0;
        c->in_len = left;
    }
    if (c->in_cap > IN_SHRINK && left < IN_INIT) {
        uint8_t *nb = realloc(c->in, IN_INIT);
        if (nb) {
            c->in = nb;
            c->in_cap = IN_INIT;
        }
    }
}

/* TLS: drive the handshake, then read until OpenSSL wants more input or
 * the buffer is full (decrypted bytes left inside OpenSSL are picked up
 * through tls_mask's write interest). */
static void tls_read(bk_conn *c)
{
    if (!c->tls_ready) {
        char why[200];
        int rc = bk_tls_handshake(c->tls, &c->tls_want, why, sizeof why);
        if (rc == BK_EAGAIN)
            return;
        if (rc != 0) {
            char msg[256];
            snprintf(msg, sizeof msg, "TLS handshake failed: %s", why);
            bk_conn_fail(c, BK_LOG_INFO, msg);
            return;
        }
        c->tls_ready = true;
        c->tls_want = 0;
        c->last_active = bk_now_ms();
        if (!bk_tls_peer_principal(c->tls, c->principal, sizeof c->principal))
            snprintf(c->principal, sizeof c->principal, "User:ANONYMOUS");
        bk_log(BK_LOG_DEBUG, "connection %llu from %s: %s, principal %s",
               (unsigned long long)c->id, c->peer, bk_tls_version(c->tls), c->principal);
    }
    while (c->in_len < c->in_cap) {
        ssize_t n = bk_tls_read(c->tls, c->in + c->in_len, c->in_cap - c->in_len, &c->tls_want);
        if (n > 0) {
            c->in_len += (size_t)n;
            c->last_active = bk_now_ms();
            c->tls_want = 0;
            continue;
        }
        if (n == 0)
            c->eof = true;
        else if (n != BK_EAGAIN)
            bk_conn_fail(c, BK_LOG_DEBUG, "TLS read failed");
        else if (c->tls_want == BK_EV_READ)
            c->tls_want = 0; /* the normal case: wait for input */
        return;
    }
}

/* Epoll interest of a TLS connection: during the handshake what OpenSSL
 * wants; afterwards the plaintext mask plus what a blocked TLS operation
 * waits for, plus writability while OpenSSL holds decrypted input. */
static uint32_t tls_mask(const bk_conn *c, uint32_t mask)
{
    if (!c->tls_ready)
        return c->tls_want ? c->tls_want : BK_EV_READ;
    mask |= c->tls_want;
    if ((mask & BK_EV_READ) && bk_tls_pending(c->tls))
        mask |= BK_EV_WRITE;
    return mask;
}

/* One read(2) into the input buffer, growing it toward the frame size. */
static void do_read(bk_conn *c)
{
    if (c->in_cap - c->in_len < IN_READ_MIN) {
        /* The most worth buffering: the current frame plus a little of the
         * next. Growth follows arrivals (doubling), not the claimed size. */
        size_t limit = 4 + (size_t)c->owner->opts.max_request_bytes + IN_INIT;
        size_t ncap = BK_MIN(BK_MAX(c->in_cap * 2, (size_t)IN_INIT), limit);
        if (ncap > c->in_cap) {
            uint8_t *nb = realloc(c->in, ncap);
            if (!nb) {
                bk_conn_fail(c, BK_LOG_WARN, "out of memory for the input buffer");
                return;
            }
            c->in = nb;
            c->in_cap = ncap;
        }
        if (c->in_cap == c->in_len)
            return; /* full: a whole frame is buffered; handle it first */
    }
    if (c->tls) {
        tls_read(c);
        return;
    }
    ssize_t n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
    if (n > 0) {
        c->in_len += (size_t)n;
        c->last_active = bk_now_ms();
        if (c->owner->opts.on_timing)
            c->last_read_us = bk_metrics_now_us();
    } else if (n == 0) {
        c->eof = true;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        bk_conn_fail(c, BK_LOG_DEBUG, strerror(errno));
    }
}

/* Handle what is buffered, write what is ready, repeat while that frees
 * the way for more (backpressure released by a complete write). */
static void conn_progress(bk_conn *c)
{
    /* Bounded, so one fast pipelining client cannot starve the others;
     * leave() arranges to come back for what is left. */
    for (int round = 0; round < 64 && !c->closing; round++) {
        process_input(c);
        if (c->closing)
            return;
        int rc = bk_conn_unsent(c) ? flush_out(c) : 0;
        if (rc != 0)
            break; /* EAGAIN: wait for EPOLLOUT; errors: closing is set */
        if (c->busy || c->owner->quiescing || c->linger || c->mute_until || !frame_complete(c))
            break;
    }
    if (!c->closing && c->eof && !c->busy && !bk_conn_unsent(c) && !frame_complete(c)) {
        if (c->in_len > c->in_off)
            bk_conn_fail(c, BK_LOG_INFO, "peer closed in the middle of a request");
        else
            bk_conn_fail(c, BK_LOG_DEBUG, "peer closed");
    }
}

static void io_cb(bk_ev *ev, bk_ev_io *io, uint32_t events)
{
    bk_conn *c = io->data;
    if (c->tls && !c->tls_ready) {
        /* Handshake: no request can be buffered or pending yet. */
        if (!(events & BK_EV_ERROR))
            tls_read(c);
        else
            bk_conn_fail(c, BK_LOG_DEBUG, "hang-up during the TLS handshake");
        if (!c->tls_ready || c->closing) {
            leave(c);
            return;
        }
    } else if (!c->busy && ((events & BK_EV_READ) ||
                            (c->tls && (c->tls_want || bk_tls_pending(c->tls))))) {
        /* never while a deferred request borrows the input buffer (plain
         * connections get no read interest then; TLS may still signal) */
        do_read(c);
    }
    if ((events & BK_EV_ERROR) && !c->closing) {
        /* Reset or both directions shut: nothing more can be delivered.
         * (Reading here is not an option: with reads paused the buffer
         * may be borrowed by a deferred request.) */
        int soerr = 0;
        socklen_t l = sizeof soerr;
        (void)getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &l);
        bk_conn_fail(c, BK_LOG_DEBUG, soerr ? strerror(soerr) : "hang-up");
    }
    if (!c->closing)
        conn_progress(c);
    leave(c);
}

void bk_req_done(bk_req *req, int rc)
{
    bk_conn *c = req->conn;
    BK_ASSERT(c->busy);
    req_finish(c, rc);
    if (!c->closing)
        conn_progress(c);
    leave(c);
}

/* ---------------------------------------------------------------- accept */

int bk_conn_accept(bk_conns *cs, int fd, const struct sockaddr_storage *peer, socklen_t peerlen,
                   const char *listener_name)
{
    return bk_conn_accept_sec(cs, fd, peer, peerlen, listener_name, BK_SEC_PLAINTEXT, NULL);
}

int bk_conn_accept_sec(bk_conns *cs, int fd, const struct sockaddr_storage *peer,
                       socklen_t peerlen, const char *listener_name, int secproto,
                       bk_tls_ctx *tls)
{
    bk_conn *c = calloc(1, sizeof *c);
    uint8_t *in = malloc(IN_INIT);
    if (!c || !in) {
        free(c);
        free(in);
        close(fd);
        bk_log_rl(BK_LOG_WARN, "out of memory accepting a connection");
        return BK_ENOMEM;
    }
    c->owner = cs;
    c->id = cs->next_id++;
    c->fd = fd;
    c->in = in;
    c->in_cap = IN_INIT;
    bk_wr_init(&c->out, OUT_INIT);
    bk_arena_init(&c->arena, ARENA_BASE);
    c->last_active = bk_now_ms();
    snprintf(c->listener_name, sizeof c->listener_name, "%s", listener_name);
    c->secproto = (uint8_t)secproto;
    c->authenticated = secproto != BK_SEC_SASL_PLAINTEXT && secproto != BK_SEC_SASL_SSL;
    snprintf(c->principal, sizeof c->principal, "User:ANONYMOUS");
    if (tls && !(c->tls = bk_tls_new(tls, fd))) {
        free(c->in);
        bk_wr_fini(&c->out);
        bk_arena_fini(&c->arena);
        free(c);
        close(fd);
        bk_log_rl(BK_LOG_WARN, "out of memory for a TLS session");
        return BK_ENOMEM;
    }
    bk_sockaddr_str((const struct sockaddr *)peer, peerlen, c->peer, sizeof c->peer);

    struct sockaddr_storage local;
    socklen_t llen = sizeof local;
    if (getsockname(fd, (struct sockaddr *)&local, &llen) == 0) {
        bk_sockaddr_host((struct sockaddr *)&local, llen, c->local_host, sizeof c->local_host);
        c->local_port =
            ntohs(local.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&local)->sin6_port
                                              : ((struct sockaddr_in *)&local)->sin_port);
        /* An IPv4 client of a dual-stack socket shows as ::ffff:a.b.c.d. */
        if (strncmp(c->local_host, "::ffff:", 7) == 0 && strchr(c->local_host, '.'))
            memmove(c->local_host, c->local_host + 7, strlen(c->local_host + 7) + 1);
    }

    c->next = cs->head;
    if (cs->head)
        cs->head->prev = c;
    cs->head = c;
    cs->n++;

    bk_ev_io_init(&c->io, fd, io_cb, c);
    bk_ev_timer_init(&c->idle, idle_cb, c);
    bk_ev_timer_init(&c->mute_timer, mute_cb, c);
    if (bk_ev_io_start(cs->ev, &c->io, BK_EV_READ) != 0 ||
        (cs->opts.idle_ms >= 0 &&
         bk_ev_timer_start(cs->ev, &c->idle, c->last_active + cs->opts.idle_ms) != 0)) {
        bk_log_rl(BK_LOG_WARN, "cannot watch connection from %s: %s", c->peer, strerror(errno));
        conn_destroy(c);
        return BK_EIO;
    }
    bk_log(BK_LOG_DEBUG, "connection %llu from %s on %s", (unsigned long long)c->id, c->peer,
           c->listener_name);
    return 0;
}
