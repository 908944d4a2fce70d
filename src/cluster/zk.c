/* zk.c - see zk.h. */
#include "zk.h"

#include "../core/clock.h"
#include "../core/err.h"
#include "../core/log.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

enum { EV_OP, EV_WATCH, EV_SESSION };
enum { W_NONE, W_DATA, W_EXISTS, W_CHILD };

typedef struct zwatch {
    struct zwatch *prev, *next; /* zk->watches */
    bk_zk *zk;
    bk_zk_watch_cb *cb;
    void *ud;
    int gen;    /* session generation that registered it */
    bool lib;   /* the library may still call it */
    int queued; /* events in the queue referring to it (under zk->mu) */
    int ops;    /* its registering request is not delivered yet (loop thread) */
} zwatch;

typedef struct zev {
    struct zev *next;
    bk_zk *zk;
    int kind;
    int gen;
    bool submitted; /* EV_OP: the library took it (counted in zk->inflight) */
    /* EV_OP */
    bk_zk_cb *cb;
    void *ud;
    zwatch *w;
    int wkind;
    int rc;
    char *data;
    int len;
    struct Stat stat;
    bool has_stat;
    char *path;
    char **kids;
    int nkids;
    /* EV_WATCH, EV_SESSION */
    int type, state;
} zev;

struct bk_zk {
    bk_ev *ev;
    char *connect; /* owned */
    int timeout_ms;
    zhandle_t *zh;
    int gen;
    bool connected;
    bk_zk_session_cb *scb;
    void *sud;

    pthread_mutex_t mu;
    zev *head, **tail; /* under mu */
    int efd;
    bk_ev_io io;
    zwatch *watches; /* loop thread */
    int inflight;    /* requests the library took and has not answered (loop thread) */
    bool closing;
};

/* ------------------------------------------------------------------ queue */

static void push(bk_zk *zk, zev *e)
{
    e->next = NULL;
    pthread_mutex_lock(&zk->mu);
    if (e->kind == EV_WATCH && e->w)
        e->w->queued++;
    *zk->tail = e;
    zk->tail = &e->next;
    pthread_mutex_unlock(&zk->mu);
    uint64_t one = 1;
    ssize_t n = write(zk->efd, &one, sizeof one);
    (void)n; /* EAGAIN: the counter is already non-zero, the loop wakes anyway */
}

static void watch_maybe_free(bk_zk *zk, zwatch *w)
{
    pthread_mutex_lock(&zk->mu);
    bool dead = !w->lib && w->queued == 0 && w->ops == 0;
    pthread_mutex_unlock(&zk->mu);
    if (!dead)
        return;
    if (w->prev)
        w->prev->next = w->next;
    else
        zk->watches = w->next;
    if (w->next)
        w->next->prev = w->prev;
    free(w);
}

static void ev_free(zev *e)
{
    free(e->data);
    free(e->path);
    for (int i = 0; i < e->nkids; i++)
        free(e->kids[i]);
    free(e->kids);
    free(e);
}

static void deliver(bk_zk *zk, zev *e)
{
    switch (e->kind) {
    case EV_SESSION:
        if (e->gen != zk->gen || zk->closing || !zk->zh)
            break; /* from a closed handle */
        if (e->state == ZOO_CONNECTED_STATE) {
            zk->connected = true;
            if (zk->scb)
                zk->scb(zk, BK_ZK_CONNECTED, zk->sud);
        } else if (e->state == ZOO_EXPIRED_SESSION_STATE || e->state == ZOO_AUTH_FAILED_STATE) {
            zk->connected = false;
            if (zk->scb)
                zk->scb(zk, BK_ZK_EXPIRED, zk->sud);
        } else if (zk->connected) {
            zk->connected = false;
            if (zk->scb)
                zk->scb(zk, BK_ZK_DISCONNECTED, zk->sud);
        }
        break;
    case EV_WATCH: {
        zwatch *w = e->w;
        pthread_mutex_lock(&zk->mu);
        w->queued--;
        pthread_mutex_unlock(&zk->mu);
        w->lib = false; /* one-shot: the library dropped it when it fired */
        if (w->cb)
            w->cb(zk, zk->closing ? BK_ZK_WATCH_DROPPED : e->type, e->path ? e->path : "", w->ud);
        watch_maybe_free(zk, w);
        break;
    }
    case EV_OP: {
        if (e->submitted)
            zk->inflight--;
        if (e->w) {
            /* registered, and by a handle that is still open? */
            bool registered = (e->rc == ZOK || (e->wkind == W_EXISTS && e->rc == ZNONODE)) &&
                              e->gen == zk->gen;
            e->w->ops--;
            if (!registered && e->w->lib) {
                e->w->lib = false;
                if (e->w->cb)
                    e->w->cb(zk, BK_ZK_WATCH_DROPPED, "", e->w->ud);
            }
            watch_maybe_free(zk, e->w);
        }
        bk_zk_result r = {
            .rc = e->rc,
            .data = e->data,
            .len = e->len,
            .stat = e->has_stat ? &e->stat : NULL,
            .path = e->path,
            .kids = e->kids,
            .nkids = e->nkids,
        };
        if (e->cb)
            e->cb(zk, &r, e->ud);
        break;
    }
    }
    ev_free(e);
}

static void drain(bk_zk *zk)
{
    pthread_mutex_lock(&zk->mu);
    zev *e = zk->head;
    zk->head = NULL;
    zk->tail = &zk->head;
    pthread_mutex_unlock(&zk->mu);
    while (e) {
        zev *next = e->next;
        deliver(zk, e);
        e = next;
    }
}

static void io_cb(bk_ev *ev, bk_ev_io *io, uint32_t events)
{
    bk_zk *zk = io->data;
    uint64_t v;
    ssize_t n = read(zk->efd, &v, sizeof v);
    (void)n;
    drain(zk);
}

/* ------------------------------------------------ library-thread callbacks */

static void global_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    zev *e = calloc(1, sizeof *e);
    if (!e)
        return;
    e->kind = EV_SESSION;
    e->zk = ((zev *)ctx)->zk;
    e->gen = ((zev *)ctx)->gen;
    e->type = type;
    e->state = state;
    if (type == ZOO_SESSION_EVENT)
        push(e->zk, e);
    else
        free(e);
}

static void path_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    zwatch *w = ctx;
    if (type == ZOO_SESSION_EVENT)
        return; /* the global watcher reports those */
    zev *e = calloc(1, sizeof *e);
    if (!e)
        return;
    e->kind = EV_WATCH;
    e->zk = w->zk;
    e->w = w;
    e->type = type;
    e->path = path ? strdup(path) : NULL;
    push(w->zk, e);
}

static void data_done(int rc, const char *value, int len, const struct Stat *stat, const void *d)
{
    zev *e = (zev *)d;
    e->rc = rc;
    if (rc == ZOK && value && len >= 0) {
        e->data = malloc((size_t)len + 1);
        if (e->data) {
            memcpy(e->data, value, (size_t)len);
            e->data[len] = 0;
            e->len = len;
        } else {
            e->rc = ZSYSTEMERROR;
        }
    }
    if (stat) {
        e->stat = *stat;
        e->has_stat = true;
    }
    push(e->zk, e);
}

static void stat_done(int rc, const struct Stat *stat, const void *d)
{
    zev *e = (zev *)d;
    e->rc = rc;
    if (rc == ZOK && stat) {
        e->stat = *stat;
        e->has_stat = true;
    }
    push(e->zk, e);
}

static void string_done(int rc, const char *value, const void *d)
{
    zev *e = (zev *)d;
    e->rc = rc;
    if (rc == ZOK && value)
        e->path = strdup(value);
    push(e->zk, e);
}

static void void_done(int rc, const void *d)
{
    zev *e = (zev *)d;
    e->rc = rc;
    push(e->zk, e);
}

static void strings_done(int rc, const struct String_vector *v, const void *d)
{
    zev *e = (zev *)d;
    e->rc = rc;
    if (rc == ZOK && v && v->count > 0) {
        e->kids = calloc((size_t)v->count, sizeof *e->kids);
        for (int i = 0; e->kids && i < v->count; i++) {
            e->kids[i] = strdup(v->data[i]);
            if (!e->kids[i]) {
                e->rc = ZSYSTEMERROR;
                break;
            }
            e->nkids++;
        }
        if (!e->kids)
            e->rc = ZSYSTEMERROR;
    }
    push(e->zk, e);
}

/* ------------------------------------------------------------ session */

/* The global watcher's context is a zev holding (zk, gen), owned by the
 * handle's life (the library may call the watcher until close). */
static int start_handle(bk_zk *zk)
{
    zev *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return BK_ENOMEM;
    ctx->zk = zk;
    ctx->gen = ++zk->gen;
    zk->connected = false;
    zk->zh = zookeeper_init(zk->connect, global_watcher, zk->timeout_ms, NULL, ctx, 0);
    if (!zk->zh) {
        int e = errno;
        free(ctx);
        bk_log(BK_LOG_ERROR, "zookeeper: cannot start a session with %s: %s", zk->connect,
               strerror(e));
        return BK_EINVAL;
    }
    return 0;
}

static void stop_handle(bk_zk *zk)
{
    if (!zk->zh)
        return;
    zev *ctx = (zev *)zoo_get_context(zk->zh);
    /* Joins the library threads; pending completions are queued (ZCLOSING).
     * Session events it queues meanwhile belong to a dead handle: the
     * generation moves on so that deliver() ignores them (an "expired"
     * from here must not start another session). */
    zookeeper_close(zk->zh);
    zk->zh = NULL;
    free(ctx);
    zk->connected = false;
    int old = zk->gen++;
    /* Watches of that session will never fire now: their owners free
     * their contexts (those with an event queued get that event). */
    for (zwatch *w = zk->watches, *next; w; w = next) {
        next = w->next;
        if (w->gen != old || !w->lib || w->ops > 0)
            continue; /* gone already, or its request's delivery decides */
        w->lib = false;
        pthread_mutex_lock(&zk->mu);
        bool queued = w->queued > 0;
        pthread_mutex_unlock(&zk->mu);
        if (!queued && w->cb)
            w->cb(zk, BK_ZK_WATCH_DROPPED, "", w->ud);
        watch_maybe_free(zk, w);
    }
}

int bk_zk_open(bk_zk **out, bk_ev *ev, const char *connect, int session_timeout_ms,
               bk_zk_session_cb *scb, void *ud)
{
    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
    bk_zk *zk = calloc(1, sizeof *zk);
    if (!zk)
        return BK_ENOMEM;
    zk->ev = ev;
    zk->connect = strdup(connect);
    zk->timeout_ms = session_timeout_ms;
    zk->scb = scb;
    zk->sud = ud;
    zk->tail = &zk->head;
    zk->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    pthread_mutex_init(&zk->mu, NULL);
    if (!zk->connect || zk->efd == -1) {
        if (zk->efd != -1)
            close(zk->efd);
        free(zk->connect);
        pthread_mutex_destroy(&zk->mu);
        free(zk);
        return BK_EIO;
    }
    bk_ev_io_init(&zk->io, zk->efd, io_cb, zk);
    int r = bk_ev_io_start(ev, &zk->io, BK_EV_READ);
    if (r == 0)
        r = start_handle(zk);
    if (r != 0) {
        bk_ev_io_stop(ev, &zk->io);
        close(zk->efd);
        free(zk->connect);
        pthread_mutex_destroy(&zk->mu);
        free(zk);
        return r;
    }
    *out = zk;
    return 0;
}

int bk_zk_reopen(bk_zk *zk)
{
    stop_handle(zk);
    return start_handle(zk);
}

void bk_zk_close(bk_zk *zk)
{
    if (!zk)
        return;
    /* Let the answers to requests already sent come back (bounded): the
     * library drops completions it has received but not yet dispatched
     * when it closes, and their owners (a parked CreateTopics) would wait
     * for ever. */
    int64_t deadline = bk_mono_ms_raw() + 2000;
    while (zk->inflight > 0 && zk->connected && bk_mono_ms_raw() < deadline) {
        struct pollfd pfd = {.fd = zk->efd, .events = POLLIN};
        if (poll(&pfd, 1, 100) > 0) {
            uint64_t v;
            ssize_t n = read(zk->efd, &v, sizeof v);
            (void)n;
        }
        drain(zk);
    }
    zk->closing = true;
    stop_handle(zk);
    /* Pending completions (ZCLOSING) still reach their owners; watches
     * are only told they were dropped. */
    for (int i = 0; i < 8 && zk->head; i++)
        drain(zk); /* completions may queue follow-ups that fail at once */
    while (zk->watches) { /* none left normally: all dropped or delivered above */
        zwatch *w = zk->watches;
        zk->watches = w->next;
        if (w->cb)
            w->cb(zk, BK_ZK_WATCH_DROPPED, "", w->ud);
        free(w);
    }
    bk_ev_io_stop(zk->ev, &zk->io);
    close(zk->efd);
    pthread_mutex_destroy(&zk->mu);
    free(zk->connect);
    free(zk);
}

bool bk_zk_connected(const bk_zk *zk)
{
    return zk->connected;
}

int64_t bk_zk_session_id(const bk_zk *zk)
{
    if (!zk->zh)
        return 0;
    const clientid_t *c = zoo_client_id(zk->zh);
    return c ? c->client_id : 0;
}

/* ------------------------------------------------------------ operations */

static zev *op_new(bk_zk *zk, bk_zk_cb *cb, void *ud)
{
    zev *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->kind = EV_OP;
    e->zk = zk;
    e->cb = cb;
    e->ud = ud;
    e->gen = zk->gen;
    return e;
}

static zwatch *watch_new(bk_zk *zk, bk_zk_watch_cb *wcb, void *wud)
{
    zwatch *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->zk = zk;
    w->cb = wcb;
    w->ud = wud;
    w->gen = zk->gen;
    w->lib = true;
    w->next = zk->watches;
    if (w->next)
        w->next->prev = w;
    zk->watches = w;
    return w;
}

/* The library refused the request: complete it from the loop anyway. */
static void op_failed(bk_zk *zk, zev *e, int rc)
{
    e->rc = rc;
    push(zk, e);
}

/* No memory even for the event: the caller's callback cannot run. */
static void op_oom(const char *what, const char *path)
{
    bk_log(BK_LOG_ERROR, "zookeeper: out of memory for %s %s", what, path);
}

void bk_zk_create(bk_zk *zk, const char *path, const char *data, int len, int flags, bk_zk_cb *cb,
                  void *ud)
{
    zev *e = op_new(zk, cb, ud);
    if (!e)
        return op_oom("create", path);
    if (!zk->zh)
        return op_failed(zk, e, ZINVALIDSTATE);
    e->submitted = true;
    zk->inflight++;
    int rc = zoo_acreate(zk->zh, path, data, len, &ZOO_OPEN_ACL_UNSAFE, flags, string_done, e);
    if (rc != ZOK)
        op_failed(zk, e, rc);
}

static void watched(bk_zk *zk, int wkind, const char *path, bk_zk_watch_cb *wcb, void *wud,
                    bk_zk_cb *cb, void *ud)
{
    zev *e = op_new(zk, cb, ud);
    if (!e)
        return op_oom("read", path);
    if (!zk->zh)
        return op_failed(zk, e, ZINVALIDSTATE);
    zwatch *w = NULL;
    if (wcb) {
        w = watch_new(zk, wcb, wud);
        if (!w)
            return op_failed(zk, e, ZSYSTEMERROR);
        e->w = w;
        e->wkind = wkind;
        w->ops = 1;
    }
    watcher_fn fn = w ? path_watcher : NULL;
    e->submitted = true;
    zk->inflight++;
    int rc;
    switch (wkind) {
    case W_DATA: rc = zoo_awget(zk->zh, path, fn, w, data_done, e); break;
    case W_EXISTS: rc = zoo_awexists(zk->zh, path, fn, w, stat_done, e); break;
    default: rc = zoo_awget_children(zk->zh, path, fn, w, strings_done, e); break;
    }
    if (rc != ZOK)
        op_failed(zk, e, rc); /* delivery frees the watch: rc says unregistered */
}

void bk_zk_get(bk_zk *zk, const char *path, bk_zk_watch_cb *wcb, void *wud, bk_zk_cb *cb, void *ud)
{
    watched(zk, W_DATA, path, wcb, wud, cb, ud);
}

void bk_zk_exists(bk_zk *zk, const char *path, bk_zk_watch_cb *wcb, void *wud, bk_zk_cb *cb,
                  void *ud)
{
    watched(zk, W_EXISTS, path, wcb, wud, cb, ud);
}

void bk_zk_children(bk_zk *zk, const char *path, bk_zk_watch_cb *wcb, void *wud, bk_zk_cb *cb,
                    void *ud)
{
    watched(zk, W_CHILD, path, wcb, wud, cb, ud);
}

void bk_zk_set(bk_zk *zk, const char *path, const char *data, int len, int version, bk_zk_cb *cb,
               void *ud)
{
    zev *e = op_new(zk, cb, ud);
    if (!e)
        return op_oom("set", path);
    if (!zk->zh)
        return op_failed(zk, e, ZINVALIDSTATE);
    e->submitted = true;
    zk->inflight++;
    int rc = zoo_aset(zk->zh, path, data, len, version, stat_done, e);
    if (rc != ZOK)
        op_failed(zk, e, rc);
}

void bk_zk_delete(bk_zk *zk, const char *path, int version, bk_zk_cb *cb, void *ud)
{
    zev *e = op_new(zk, cb, ud);
    if (!e)
        return op_oom("delete", path);
    if (!zk->zh)
        return op_failed(zk, e, ZINVALIDSTATE);
    e->submitted = true;
    zk->inflight++;
    int rc = zoo_adelete(zk->zh, path, version, void_done, e);
    if (rc != ZOK)
        op_failed(zk, e, rc);
}

/* ------------------------------------------------------------ start-up helpers */

bk_zk_sync *bk_zk_sync_new(void)
{
    return calloc(1, sizeof(bk_zk_sync));
}

void bk_zk_sync_free(bk_zk_sync *s)
{
    if (!s)
        return;
    free(s->data);
    free(s->path);
    for (int i = 0; i < s->nkids; i++)
        free(s->kids[i]);
    free(s->kids);
    free(s);
}

void bk_zk_sync_cb(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    bk_zk_sync *s = ud;
    if (s->abandoned) {
        bk_zk_sync_free(s);
        return;
    }
    s->done = true;
    s->rc = r->rc;
    if (r->data) {
        s->data = malloc((size_t)r->len + 1);
        if (s->data) {
            memcpy(s->data, r->data, (size_t)r->len);
            s->data[r->len] = 0;
            s->len = r->len;
        }
    }
    if (r->stat) {
        s->stat = *r->stat;
        s->has_stat = true;
    }
    if (r->path)
        s->path = strdup(r->path);
    if (r->nkids > 0) {
        s->kids = calloc((size_t)r->nkids, sizeof *s->kids);
        for (int i = 0; s->kids && i < r->nkids; i++)
            if ((s->kids[s->nkids] = strdup(r->kids[i])) != NULL)
                s->nkids++;
    }
}

int bk_zk_sync_wait(bk_zk *zk, bk_zk_sync *s, int64_t timeout_ms)
{
    int64_t deadline = bk_mono_ms_raw() + timeout_ms;
    while (!s->done && !zk->ev->stop) {
        int64_t left = deadline - bk_mono_ms_raw();
        if (left <= 0)
            break;
        (void)bk_ev_run_once(zk->ev, (int)BK_MIN(left, 100));
    }
    if (!s->done) {
        s->abandoned = true;
        return ZOPERATIONTIMEOUT;
    }
    return s->rc;
}

int bk_zk_sync_mkdirs(bk_zk *zk, const char *path, int64_t timeout_ms)
{
    char buf[1024];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf || path[0] != '/')
        return ZBADARGUMENTS;
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != 0)
            continue;
        char c = buf[i];
        buf[i] = 0;
        bk_zk_sync *s = bk_zk_sync_new();
        if (!s)
            return ZSYSTEMERROR;
        bk_zk_create(zk, buf, NULL, -1, 0, bk_zk_sync_cb, s);
        int rc = bk_zk_sync_wait(zk, s, timeout_ms);
        if (rc == ZOPERATIONTIMEOUT)
            return rc;
        bk_zk_sync_free(s);
        if (rc != ZOK && rc != ZNODEEXISTS)
            return rc;
        buf[i] = c;
    }
    return ZOK;
}

int bk_zk_wait_connected(bk_zk *zk, int64_t timeout_ms)
{
    int64_t deadline = bk_mono_ms_raw() + timeout_ms;
    while (!zk->connected && !zk->ev->stop) {
        int64_t left = deadline - bk_mono_ms_raw();
        if (left <= 0)
            break;
        (void)bk_ev_run_once(zk->ev, (int)BK_MIN(left, 100));
    }
    return zk->connected ? ZOK : ZOPERATIONTIMEOUT;
}
