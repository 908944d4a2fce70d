/* interbroker.c - asynchronous broker-to-broker requests. See interbroker.h. */
#include "interbroker.h"

#include "../core/clock.h"
#include "../core/log.h"
#include "../net/tlsclient.h"
#include "../proto/api.h"
#include "replica.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FRAME     (64u << 20)
#define ARENA_LIMIT   (128u << 20)
#define BACKOFF_MIN   100
#define BACKOFF_MAX   5000
#define CORR_AT       8 /* size(4) key(2) version(2): the correlation id */

enum { C_DOWN, C_RESOLVING, C_CONNECTING, C_HANDSHAKE, C_READY, C_BUSY };

typedef struct ibreq {
    struct ibreq *next;
    int16_t key, ver;
    bk_wr frame; /* size, header (correlation id patched at send), body */
    int64_t deadline;
    bk_ib_cb *cb;
    void *arg;
} ibreq;

/* A name resolution on its own thread; freed by whoever lets go last. */
typedef struct ibres {
    atomic_int refs;
    int efd;
    char host[256];
    char port[16];
    struct sockaddr_storage ss;
    socklen_t sl;
    bool ok;
} ibres;

typedef struct ibconn {
    struct ibconn *next;
    bk_ib *ib;
    int32_t dest;
    char host[256]; /* the address looked up at the last connect */
    int st;
    int fd;
    bk_ibsock *sock; /* owned: TLS or plain transport (tlsclient.h) */
    bk_ev_io io;
    ibreq *head, *tail; /* head is in flight when st == C_BUSY */
    size_t out_off;
    uint8_t *in; /* owned */
    size_t in_len, in_cap;
    int32_t corr;
    int64_t retry_at, backoff, conn_deadline;
    ibres *res;
    bk_ev_io res_io;
} ibconn;

struct bk_ib {
    bk_broker *b;
    ibconn *conns;
    bk_ibconn_ctx *sec; /* owned: the inter-broker listener's protocol */
    ibreq *firing; /* requests whose callbacks are being called */
    bk_ev_timer kick;
    bk_arena arena;
    char client_id[64];
    int pending;
};

static void pump(ibconn *c);

/* ------------------------------------------------------------ requests */

static void req_free(ibreq *q)
{
    bk_wr_fini(&q->frame);
    free(q);
}

/* Call q's callback (unless cancelled meanwhile) and free it. */
static void req_finish(bk_ib *ib, ibreq *q, int rc, const void *resp)
{
    ib->pending--;
    q->next = ib->firing;
    ib->firing = q;
    if (q->cb)
        q->cb(q->arg, rc, resp);
    /* q is still at the head unless a nested finish ran and popped it */
    for (ibreq **pp = &ib->firing; *pp; pp = &(*pp)->next)
        if (*pp == q) {
            *pp = q->next;
            break;
        }
    req_free(q);
}

/* Fail every request of c (detached first: callbacks may send again). */
static void fail_all(ibconn *c, int rc)
{
    ibreq *q = c->head;
    c->head = c->tail = NULL;
    while (q) {
        ibreq *nx = q->next;
        req_finish(c->ib, q, rc, NULL);
        q = nx;
    }
}

/* ------------------------------------------------------------ connections */

static void res_release(ibres *r)
{
    if (atomic_fetch_sub(&r->refs, 1) == 1) {
        close(r->efd);
        free(r);
    }
}

static void conn_close(ibconn *c, int rc, bool backoff)
{
    bk_ev *ev = c->ib->b->ev;
    if (c->res) {
        bk_ev_io_stop(ev, &c->res_io);
        res_release(c->res);
        c->res = NULL;
    }
    if (c->fd >= 0) {
        bk_ev_io_stop(ev, &c->io);
        bk_ibsock_free(c->sock);
        c->sock = NULL;
        close(c->fd);
    }
    c->fd = -1;
    c->st = C_DOWN;
    c->in_len = 0;
    c->out_off = 0;
    if (backoff) {
        c->retry_at = bk_now_ms() + c->backoff;
        c->backoff = BK_MIN(c->backoff * 2, BACKOFF_MAX);
    }
    if (rc)
        fail_all(c, rc);
}

static void on_io(bk_ev *ev, bk_ev_io *io, uint32_t events);

static int conn_connect(ibconn *c, const struct sockaddr *sa, socklen_t sl)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd == -1)
        return BK_EIO;
    if (connect(fd, sa, sl) == -1 && errno != EINPROGRESS) {
        close(fd);
        return BK_EIO;
    }
    if (!(c->sock = bk_ibsock_new(c->ib->sec, fd, c->host))) {
        close(fd);
        return BK_EIO;
    }
    c->fd = fd;
    bk_ev_io_init(&c->io, fd, on_io, c);
    if (bk_ev_io_start(c->ib->b->ev, &c->io, BK_EV_WRITE) != 0) {
        bk_ibsock_free(c->sock);
        c->sock = NULL;
        close(fd);
        c->fd = -1;
        return BK_EIO;
    }
    c->st = C_CONNECTING;
    return 0;
}

static void *resolve_thread(void *arg)
{
    ibres *r = arg;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
    if (getaddrinfo(r->host, r->port, &hints, &ai) == 0) {
        if (ai->ai_addrlen <= sizeof r->ss) {
            memcpy(&r->ss, ai->ai_addr, ai->ai_addrlen);
            r->sl = ai->ai_addrlen;
            r->ok = true;
        }
        freeaddrinfo(ai);
    }
    uint64_t one = 1;
    ssize_t n = write(r->efd, &one, sizeof one);
    (void)n;
    res_release(r);
    return NULL;
}

static void on_resolved(bk_ev *ev, bk_ev_io *io, uint32_t events)
{
    ibconn *c = io->data;
    ibres *r = c->res;
    uint64_t v;
    if (read(r->efd, &v, sizeof v) != (ssize_t)sizeof v)
        return; /* spurious: wait for the thread */
    bk_ev_io_stop(ev, io);
    c->res = NULL;
    bool ok = r->ok;
    struct sockaddr_storage ss = r->ss;
    socklen_t sl = r->sl;
    res_release(r);
    if (!ok) {
        bk_log_rl(BK_LOG_WARN, "interbroker: cannot resolve the address of broker %d", c->dest);
        conn_close(c, BK_EIO, true);
        return;
    }
    if (conn_connect(c, (struct sockaddr *)&ss, sl) != 0)
        conn_close(c, BK_EIO, true);
}

/* Start connecting to c->dest. 0 started (or resolving), < 0 failed. */
static int conn_start(ibconn *c)
{
    const bk_live_broker *lb = bk_broker_live_find(c->ib->b, c->dest);
    if (!lb || !lb->host[0] || lb->port <= 0 || lb->port > 65535)
        return BK_ENOENT;
    c->conn_deadline = bk_now_ms() + c->ib->b->cfg->replica_socket_timeout_ms;
    snprintf(c->host, sizeof c->host, "%s", lb->host);
    /* numeric fast path: no resolver needed */
    struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)lb->port)};
    struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)lb->port)};
    if (inet_pton(AF_INET, lb->host, &s4.sin_addr) == 1)
        return conn_connect(c, (struct sockaddr *)&s4, sizeof s4);
    if (inet_pton(AF_INET6, lb->host, &s6.sin6_addr) == 1)
        return conn_connect(c, (struct sockaddr *)&s6, sizeof s6);
    ibres *r = calloc(1, sizeof *r);
    if (!r)
        return BK_ENOMEM;
    r->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (r->efd == -1) {
        free(r);
        return BK_EIO;
    }
    snprintf(r->host, sizeof r->host, "%s", lb->host);
    snprintf(r->port, sizeof r->port, "%d", lb->port);
    atomic_init(&r->refs, 2);
    bk_ev_io_init(&c->res_io, r->efd, on_resolved, c);
    if (bk_ev_io_start(c->ib->b->ev, &c->res_io, BK_EV_READ) != 0) {
        close(r->efd);
        free(r);
        return BK_EIO;
    }
    pthread_attr_t at;
    pthread_t th;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    int e = pthread_create(&th, &at, resolve_thread, r);
    pthread_attr_destroy(&at);
    if (e != 0) {
        bk_ev_io_stop(c->ib->b->ev, &c->res_io);
        close(r->efd);
        free(r);
        return BK_EIO;
    }
    c->res = r;
    c->st = C_RESOLVING;
    return 0;
}

/* Write what is left of the in-flight frame. false: the connection closed. */
static bool flush_out(ibconn *c)
{
    ibreq *q = c->head;
    while (c->out_off < q->frame.len) {
        uint32_t want = 0;
        errno = 0;
        ssize_t n = bk_ibsock_write(c->sock, q->frame.buf + c->out_off,
                                    q->frame.len - c->out_off, &want);
        if (n == BK_EAGAIN) {
            (void)bk_ev_io_set(c->ib->b->ev, &c->io, BK_EV_WRITE | BK_EV_READ);
            return true;
        }
        if (n < 0) {
            bk_log_rl(BK_LOG_WARN, "interbroker: send to broker %d failed: %s", c->dest,
                      errno ? strerror(errno) : "TLS error");
            conn_close(c, BK_EIO, true);
            return false;
        }
        c->out_off += (size_t)n;
    }
    (void)bk_ev_io_set(c->ib->b->ev, &c->io, BK_EV_READ);
    return true;
}

static void send_head(ibconn *c)
{
    ibreq *q = c->head;
    bk_wr_patch_i32(&q->frame, CORR_AT, ++c->corr);
    c->out_off = 0;
    c->st = C_BUSY;
    flush_out(c);
}

/* Fail queued requests past their deadline (not the one in flight). */
static void expire_queued(ibconn *c, int64_t now)
{
    ibreq **pp = c->st == C_BUSY && c->head ? &c->head->next : &c->head;
    ibreq *late = NULL, **lt = &late;
    while (*pp) {
        ibreq *q = *pp;
        if (q->deadline <= now) {
            *pp = q->next;
            q->next = NULL;
            *lt = q;
            lt = &q->next;
        } else {
            pp = &q->next;
        }
    }
    c->tail = NULL;
    for (ibreq *q = c->head; q; q = q->next)
        c->tail = q;
    while (late) {
        ibreq *nx = late->next;
        req_finish(c->ib, late, BK_EAGAIN, NULL);
        late = nx;
    }
}

static void pump(ibconn *c)
{
    if (!c->head)
        return;
    if (c->st == C_DOWN) {
        if (bk_now_ms() < c->retry_at)
            return;
        int rc = conn_start(c);
        if (rc != 0) {
            if (rc == BK_ENOENT)
                bk_log_rl(BK_LOG_WARN, "interbroker: broker %d is not a live broker", c->dest);
            conn_close(c, rc == BK_ENOENT ? BK_ENOENT : BK_EIO, true);
        }
        return;
    }
    if (c->st == C_READY)
        send_head(c);
}

/* ------------------------------------------------------------ responses */

static void on_frame(ibconn *c, const uint8_t *frame, size_t len)
{
    bk_ib *ib = c->ib;
    ibreq *q = c->head;
    bk_rd rd;
    bk_rd_init(&rd, frame, len);
    int16_t rv = bk_resphdr_version(q->key, q->ver);
    bk_ResponseHeader rh;
    bk_arena_reset(&ib->arena);
    int rc = bk_codec_decode(&bk_desc_ResponseHeader, rv >= 1, rv, &rd, NULL, &rh);
    if (rc || rh.CorrelationId != c->corr) {
        bk_log_rl(BK_LOG_WARN, "interbroker: bad response header from broker %d", c->dest);
        conn_close(c, BK_EIO, true);
        return;
    }
    const bk_apidef *d = bk_apidef_get(q->key);
    void *resp = bk_arena_alloc(&ib->arena, d->resp->desc->size);
    if (!resp) {
        conn_close(c, BK_EIO, true);
        return;
    }
    bk_codec_init(d->resp->desc, resp);
    rc = bk_codec_decode(d->resp->desc, BK_V_IN(d->resp->flexible, q->ver), q->ver, &rd,
                         &ib->arena, resp);
    if (rc) {
        bk_log_rl(BK_LOG_WARN, "interbroker: cannot decode %s v%d response from broker %d: %s",
                  d->name, q->ver, c->dest, bk_strerror(rc));
        conn_close(c, BK_EIO, true);
        return;
    }
    c->head = q->next;
    if (!c->head)
        c->tail = NULL;
    c->st = C_READY;
    c->backoff = BACKOFF_MIN;
    req_finish(ib, q, 0, resp);
}

static void on_readable(ibconn *c)
{
    for (;;) {
        if (c->in_cap - c->in_len < 16384) {
            size_t ncap = c->in_cap ? c->in_cap * 2 : 65536;
            uint8_t *nb = realloc(c->in, ncap);
            if (!nb) {
                conn_close(c, BK_EIO, true);
                return;
            }
            c->in = nb;
            c->in_cap = ncap;
        }
        uint32_t want = 0;
        errno = 0;
        ssize_t n = bk_ibsock_read(c->sock, c->in + c->in_len, c->in_cap - c->in_len, &want);
        if (n == BK_EAGAIN)
            break;
        if (n <= 0) {
            bk_log_rl(BK_LOG_INFO, "interbroker: connection to broker %d closed%s%s", c->dest,
                      n ? ": " : "", n ? (errno ? strerror(errno) : "TLS error") : "");
            /* an idle connection closed by the other side is no failure */
            conn_close(c, BK_EIO, c->head != NULL);
            return;
        }
        c->in_len += (size_t)n;
        if (c->in_len >= 4) {
            uint32_t sz = bk_get_be32(c->in);
            if (sz < 4 || sz > MAX_FRAME) {
                conn_close(c, BK_EIO, true);
                return;
            }
            if (c->in_len >= 4 + (size_t)sz)
                break;
        }
    }
    if (c->in_len < 4 || c->in_len < 4 + (size_t)bk_get_be32(c->in))
        return;
    uint32_t sz = bk_get_be32(c->in);
    /* one request in flight: nothing may come before its frame is sent,
     * and nothing may follow its answer */
    if (c->st != C_BUSY || c->out_off < c->head->frame.len || c->in_len != 4 + (size_t)sz) {
        conn_close(c, BK_EIO, true);
        return;
    }
    c->in_len = 0;
    on_frame(c, c->in + 4, sz);
    if (c->fd >= 0)
        pump(c);
}

static void on_io(bk_ev *ev, bk_ev_io *io, uint32_t events)
{
    ibconn *c = io->data;
    if (c->st == C_CONNECTING) {
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == -1 || soerr) {
            bk_log_rl(BK_LOG_WARN, "interbroker: cannot connect to broker %d: %s", c->dest,
                      strerror(soerr ? soerr : errno));
            conn_close(c, BK_EIO, true);
            return;
        }
        c->st = C_HANDSHAKE;
    }
    if (c->st == C_HANDSHAKE) {
        uint32_t want = 0;
        char why[200];
        int r = bk_ibsock_handshake(c->sock, &want, why, sizeof why);
        if (r == BK_EAGAIN) {
            (void)bk_ev_io_set(ev, io, want);
            return;
        }
        if (r) {
            bk_log_rl(BK_LOG_WARN, "interbroker: %s handshake with broker %d failed: %s",
                      bk_ibconn_ctx_proto(c->ib->sec), c->dest, why);
            conn_close(c, BK_EIO, true);
            return;
        }
        c->st = C_READY;
        (void)bk_ev_io_set(ev, io, BK_EV_READ);
        pump(c);
        return;
    }
    if (c->st == C_BUSY && c->out_off < c->head->frame.len) {
        if (!flush_out(c))
            return;
    }
    if (events & (BK_EV_READ | BK_EV_ERROR))
        on_readable(c);
}

/* ------------------------------------------------------------ API */

static void on_kick(bk_ev *ev, bk_ev_timer *t)
{
    bk_ib *ib = t->data;
    for (ibconn *c = ib->conns; c; c = c->next)
        pump(c);
}

bk_ib *bk_ib_new(bk_broker *b)
{
    bk_ib *ib = calloc(1, sizeof *ib);
    if (!ib)
        return NULL;
    ib->b = b;
    char err[256];
    if (!(ib->sec = bk_ibconn_ctx_new(b->cfg, err, sizeof err))) {
        bk_log(BK_LOG_ERROR, "interbroker: inter-broker transport: %s", err);
        free(ib);
        return NULL;
    }
    bk_arena_init(&ib->arena, ARENA_LIMIT);
    bk_ev_timer_init(&ib->kick, on_kick, ib);
    snprintf(ib->client_id, sizeof ib->client_id, "broker-%d-interbroker", b->node_id);
    return ib;
}

void bk_ib_free(bk_ib *ib)
{
    if (!ib)
        return;
    bk_ev_timer_stop(ib->b->ev, &ib->kick);
    while (ib->conns) {
        ibconn *c = ib->conns;
        conn_close(c, BK_EAGAIN, false);
        ib->conns = c->next;
        free(c->in);
        free(c);
    }
    bk_arena_fini(&ib->arena);
    bk_ibconn_ctx_free(ib->sec);
    free(ib);
}

static ibconn *conn_for(bk_ib *ib, int32_t dest)
{
    for (ibconn *c = ib->conns; c; c = c->next)
        if (c->dest == dest)
            return c;
    ibconn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->ib = ib;
    c->dest = dest;
    c->fd = -1;
    c->st = C_DOWN;
    c->backoff = BACKOFF_MIN;
    c->next = ib->conns;
    ib->conns = c;
    return c;
}

int bk_ib_send(bk_ib *ib, int32_t dest, int16_t key, int16_t ver, const void *req,
               int32_t timeout_ms, bk_ib_cb *cb, void *arg)
{
    const bk_apidef *d = bk_apidef_get(key);
    if (!d || !d->req || !BK_V_IN(d->req->valid, ver) || !cb)
        return BK_EINVAL;
    ibconn *c = conn_for(ib, dest);
    ibreq *q = calloc(1, sizeof *q);
    if (!c || !q) {
        free(q);
        return BK_ENOMEM;
    }
    int16_t hv = bk_reqhdr_version(key, ver);
    bk_RequestHeader h;
    bk_RequestHeader_init(&h);
    h.RequestApiKey = key;
    h.RequestApiVersion = ver;
    h.CorrelationId = 0; /* patched at send */
    h.ClientId = bk_str_c(ib->client_id);
    bk_wr_init(&q->frame, 256);
    bk_wr_i32(&q->frame, 0);
    int rc = bk_codec_encode(&bk_desc_RequestHeader, hv >= 2, hv, &q->frame, &h);
    if (!rc)
        rc = bk_codec_encode(d->req->desc, BK_V_IN(d->req->flexible, ver), ver, &q->frame, req);
    if (!rc && q->frame.err)
        rc = q->frame.err;
    if (rc) {
        req_free(q);
        return rc == BK_ENOMEM ? BK_ENOMEM : BK_EINVAL;
    }
    bk_wr_patch_i32(&q->frame, 0, (int32_t)(q->frame.len - 4));
    q->key = key;
    q->ver = ver;
    q->deadline = bk_now_ms() + BK_MAX(timeout_ms, 1);
    q->cb = cb;
    q->arg = arg;
    if (c->tail)
        c->tail->next = q;
    else
        c->head = q;
    c->tail = q;
    ib->pending++;
    /* go from the loop, never from inside the caller */
    if (!bk_ev_timer_armed(&ib->kick))
        (void)bk_ev_timer_start(ib->b->ev, &ib->kick, bk_now_ms());
    return 0;
}

void bk_ib_cancel(bk_ib *ib, void *arg)
{
    for (ibreq *q = ib->firing; q; q = q->next)
        if (q->arg == arg)
            q->cb = NULL;
    for (ibconn *c = ib->conns; c; c = c->next)
        for (ibreq *q = c->head; q; q = q->next)
            if (q->arg == arg)
                q->cb = NULL; /* stays queued (or in flight); its answer is dropped */
}

void bk_ib_tick(bk_ib *ib, int64_t now)
{
    for (ibconn *c = ib->conns; c; c = c->next) {
        if (c->st == C_BUSY && c->head && c->head->deadline <= now) {
            bk_log_rl(BK_LOG_WARN, "interbroker: no answer from broker %d in time; reconnecting",
                      c->dest);
            /* the late one times out, the others go again on a new connection */
            ibreq *q = c->head;
            c->head = q->next;
            if (!c->head)
                c->tail = NULL;
            conn_close(c, 0, true);
            req_finish(ib, q, BK_EAGAIN, NULL);
        } else if ((c->st == C_CONNECTING || c->st == C_RESOLVING || c->st == C_HANDSHAKE) &&
                   now >= c->conn_deadline) {
            bk_log_rl(BK_LOG_WARN, "interbroker: connecting to broker %d timed out", c->dest);
            conn_close(c, BK_EIO, true);
        }
        expire_queued(c, now);
        pump(c);
    }
}

int bk_ib_pending(const bk_ib *ib)
{
    return ib ? ib->pending : 0;
}
