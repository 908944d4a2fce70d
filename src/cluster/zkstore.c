/*
 * zkstore.c - the metadata store and the producer-id store of cluster
 * mode, on ZooKeeper (Kafka's znodes, see zkjson.h).
 *
 * Topics: /brokers/topics/<t> holds the assignment and id, /config/topics/<t>
 * the overrides. A new topic is written config first, then the assignment
 * (as Kafka's AdminZkClient: a topic znode always has its config ready).
 * A config change also creates /config/changes/config_change_<seq> (Kafka's
 * notification; Brook brokers watch /config/topics/<t> directly). A delete
 * creates /admin/delete_topics/<t>; the controller completes it.
 *
 * Producer ids: /latest_producer_id_block, claimed with a version-checked
 * set (ZBADVERSION: someone else claimed; read again). The claim interface
 * is synchronous, so one block is always fetched ahead: claim() hands out
 * the ready one and fetches the next; with none ready it answers
 * BK_EAGAIN (InitProducerId then answers COORDINATOR_NOT_AVAILABLE, which
 * clients retry).
 */
#include "cluster.h"

#include "../core/clock.h"
#include "../core/err.h"
#include "../core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct zkstore {
    bk_metastore base;
    bk_cluster *c; /* borrowed: outlives the store's use */
} zkstore;

/* ------------------------------------------------------------- load */

static int sync_get(bk_cluster *c, const char *path, bk_zk_sync **out)
{
    bk_zk_sync *s = bk_zk_sync_new();
    if (!s)
        return ZSYSTEMERROR;
    bk_zk_get(c->zk, path, NULL, NULL, bk_zk_sync_cb, s);
    int rc = bk_zk_sync_wait(c->zk, s, c->cfg->zookeeper_connection_timeout_ms);
    if (rc == ZOPERATIONTIMEOUT)
        return rc;
    *out = s;
    return rc;
}

static int zs_load(bk_metastore *st, bk_meta_topic **topics, int *n)
{
    zkstore *zs = (zkstore *)st;
    bk_cluster *c = zs->c;
    *topics = NULL;
    *n = 0;
    bk_zk_sync *ls = bk_zk_sync_new();
    if (!ls)
        return BK_ENOMEM;
    bk_zk_children(c->zk, "/brokers/topics", NULL, NULL, bk_zk_sync_cb, ls);
    int rc = bk_zk_sync_wait(c->zk, ls, c->cfg->zookeeper_connection_timeout_ms);
    if (rc != ZOK) {
        if (rc != ZOPERATIONTIMEOUT)
            bk_zk_sync_free(ls);
        bk_log(BK_LOG_ERROR, "zkstore: cannot list /brokers/topics: %s", zerror(rc));
        return BK_EIO;
    }
    bk_meta_topic *v = calloc((size_t)ls->nkids + 1, sizeof *v);
    if (!v) {
        bk_zk_sync_free(ls);
        return BK_ENOMEM;
    }
    int m = 0, r = 0;
    for (int i = 0; i < ls->nkids && !r; i++) {
        char path[320];
        snprintf(path, sizeof path, "/brokers/topics/%s", ls->kids[i]);
        bk_zk_sync *ts = NULL, *cs = NULL;
        rc = sync_get(c, path, &ts);
        if (rc == ZNONODE) { /* deleted meanwhile */
            bk_zk_sync_free(ts);
            continue;
        }
        bk_zk_topic a;
        if (rc != ZOK || bk_zkj_topic_parse(ts->data, (size_t)ts->len, &a) != 0) {
            bk_log(BK_LOG_ERROR, "zkstore: cannot read %s: %s", path,
                   rc == ZOK ? "malformed JSON" : zerror(rc));
            if (rc != ZOPERATIONTIMEOUT)
                bk_zk_sync_free(ts);
            r = BK_EIO;
            break;
        }
        bk_zk_sync_free(ts);
        snprintf(path, sizeof path, "/config/topics/%s", ls->kids[i]);
        rc = sync_get(c, path, &cs);
        bk_meta_topic *t = &v[m++];
        t->name = strdup(ls->kids[i]);
        memcpy(t->id, a.id, 16);
        t->partitions = a.nparts;
        t->replication_factor = a.rf;
        t->replicas = a.replicas; /* (-1 padded while a partition is being reassigned) */
        a.replicas = NULL;
        bk_zk_topic_free(&a); /* adding/removing replicas: not kept here */
        t->internal = strcmp(t->name ? t->name : "", "__consumer_offsets") == 0 ||
                      strcmp(t->name ? t->name : "", "__transaction_state") == 0;
        if (rc == ZOK)
            (void)bk_zkj_config_parse(cs->data, (size_t)cs->len, &t->keys, &t->vals, &t->nconfigs);
        if (rc != ZOPERATIONTIMEOUT)
            bk_zk_sync_free(cs);
        if (!t->name)
            r = BK_ENOMEM;
        else if (rc != ZOK && rc != ZNONODE)
            r = BK_EIO;
    }
    bk_zk_sync_free(ls);
    if (r) {
        for (int i = 0; i < m; i++)
            bk_meta_topic_free(&v[i]);
        free(v);
        return r;
    }
    *topics = v;
    *n = m;
    return 0;
}

/* ------------------------------------------------------------- writes */

typedef struct wctx {
    zkstore *zs;
    bk_metastore_done *done;
    void *ud;
    char name[256];
    char *topic_json; /* owned: the /brokers/topics/<t> to create after the config */
    int create;       /* 1: create the topic znode; 2: set it (partitions grew) */
} wctx;

static void wctx_free(wctx *x)
{
    free(x->topic_json);
    free(x);
}

static void finish(wctx *x, int rc)
{
    if (x->done)
        x->done(x->ud, rc);
    wctx_free(x);
}

static void topic_written(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    wctx *x = ud;
    if (r->rc == ZOK) {
        finish(x, 0);
        return;
    }
    if (r->rc != ZNODEEXISTS)
        bk_log(BK_LOG_WARN, "zkstore: cannot write /brokers/topics/%s: %s", x->name,
               zerror(r->rc));
    finish(x, r->rc == ZNODEEXISTS ? BK_EEXIST : BK_EIO);
}

static void write_topic(bk_zk *zk, wctx *x)
{
    if (!x->create) {
        finish(x, 0);
        return;
    }
    char path[320];
    snprintf(path, sizeof path, "/brokers/topics/%s", x->name);
    int len = (int)strlen(x->topic_json);
    if (x->create == 1)
        bk_zk_create(zk, path, x->topic_json, len, 0, topic_written, x);
    else
        bk_zk_set(zk, path, x->topic_json, len, -1, topic_written, x);
}

static void config_set(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    wctx *x = ud;
    if (r->rc != ZOK) {
        bk_log(BK_LOG_WARN, "zkstore: cannot write /config/topics/%s: %s", x->name,
               zerror(r->rc));
        finish(x, BK_EIO);
        return;
    }
    write_topic(zk, x);
}

typedef struct cfgctx {
    wctx *x;
    char *json; /* owned */
} cfgctx;

static void config_created(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    cfgctx *cc = ud;
    wctx *x = cc->x;
    if (r->rc == ZNODEEXISTS) {
        char path[320];
        snprintf(path, sizeof path, "/config/topics/%s", x->name);
        bk_zk_set(zk, path, cc->json, (int)strlen(cc->json), -1, config_set, x);
    } else if (r->rc != ZOK) {
        bk_log(BK_LOG_WARN, "zkstore: cannot create /config/topics/%s: %s", x->name,
               zerror(r->rc));
        finish(x, BK_EIO);
    } else {
        write_topic(zk, x);
    }
    free(cc->json);
    free(cc);
}

static int assign(bk_cluster *c, int32_t nparts, int16_t rf, int32_t *out)
{
    int nb;
    const bk_zk_broker *live = bk_cluster_brokers(c, &nb);
    int32_t *ids = calloc((size_t)nb + 1, sizeof *ids);
    const char **racks = calloc((size_t)nb + 1, sizeof *racks);
    if (!ids || !racks) {
        free(ids);
        free(racks);
        return BK_ENOMEM;
    }
    for (int i = 0; i < nb; i++) {
        ids[i] = live[i].id;
        racks[i] = live[i].rack;
    }
    /* rack-aware when every live broker has broker.rack, as Kafka */
    int r = bk_assign_replicas_racks(ids, racks, nb, nparts, rf, -1, out);
    free(ids);
    free(racks);
    return r;
}

static int put_common(zkstore *zs, const bk_meta_topic *t, bool create, bk_metastore_done *done,
                      void *ud)
{
    bk_cluster *c = zs->c;
    wctx *x = calloc(1, sizeof *x);
    if (!x)
        return BK_ENOMEM;
    x->zs = zs;
    x->done = done;
    x->ud = ud;
    snprintf(x->name, sizeof x->name, "%s", t->name);

    /* the assignment: given, or ours for a new topic / new partitions */
    const bk_zk_topic *cur = bk_cluster_assignment(c, t->name);
    bk_zk_topic a = {0};
    memcpy(a.id, t->id, 16);
    a.has_id = true;
    a.nparts = t->partitions;
    a.rf = t->replication_factor;
    bool need = create || !cur || t->partitions > cur->nparts;
    int r = 0;
    if (need) {
        a.replicas = calloc((size_t)a.nparts * (size_t)BK_MAX(a.rf, 1) + 1, sizeof *a.replicas);
        if (!a.replicas)
            r = BK_ENOMEM;
        else if (t->replicas)
            memcpy(a.replicas, t->replicas, (size_t)a.nparts * (size_t)a.rf * sizeof *a.replicas);
        else if (cur && !create && cur->rf == a.rf) {
            /* keep the existing partitions, assign the new ones */
            memcpy(a.replicas, cur->replicas, (size_t)cur->nparts * (size_t)a.rf * sizeof(int32_t));
            r = assign(c, a.nparts - cur->nparts, a.rf,
                       a.replicas + (size_t)cur->nparts * (size_t)a.rf);
        } else {
            r = assign(c, a.nparts, a.rf, a.replicas);
        }
        if (!r) {
            bk_jw w;
            bk_jw_init(&w);
            bk_zkj_topic(&w, &a);
            x->topic_json = w.err ? NULL : strdup(w.p);
            bk_jw_fini(&w);
            x->create = (create || !cur) ? 1 : 2;
            if (!x->topic_json)
                r = BK_ENOMEM;
        }
        bk_zk_topic_free(&a);
    }
    if (r) {
        wctx_free(x);
        return r;
    }

    bk_jw w;
    bk_jw_init(&w);
    bk_zkj_config(&w, t->keys, t->vals, t->nconfigs);
    cfgctx *cc = calloc(1, sizeof *cc);
    if (w.err || !cc || !(cc->json = strdup(w.p))) {
        bk_jw_fini(&w);
        free(cc);
        wctx_free(x);
        return BK_ENOMEM;
    }
    bk_jw_fini(&w);
    cc->x = x;
    char path[320];
    snprintf(path, sizeof path, "/config/topics/%s", t->name);
    bk_zk_create(c->zk, path, cc->json, (int)strlen(cc->json), 0, config_created, cc);
    if (!create) {
        /* Kafka's change notification, so Kafka-aware tools see the change */
        bk_jw_init(&w);
        char ent[300];
        snprintf(ent, sizeof ent, "topics/%s", t->name);
        bk_zkj_config_change(&w, ent);
        if (!w.err)
            bk_zk_create(c->zk, "/config/changes/config_change_", w.p, (int)w.len, ZOO_SEQUENCE,
                         NULL, NULL);
        bk_jw_fini(&w);
    }
    return 0;
}

static void log_done(void *ud, int rc)
{
    if (rc)
        bk_log(BK_LOG_WARN, "zkstore: a metadata write failed: %s", bk_strerror(rc));
}

static int zs_put(bk_metastore *st, const bk_meta_topic *t)
{
    return put_common((zkstore *)st, t, false, log_done, NULL);
}

static int zs_put_async(bk_metastore *st, const bk_meta_topic *t, bool create,
                        bk_metastore_done *done, void *ud)
{
    return put_common((zkstore *)st, t, create, done, ud);
}

static int zs_remove(bk_metastore *st, const char *name)
{
    zkstore *zs = (zkstore *)st;
    char path[320];
    snprintf(path, sizeof path, "/admin/delete_topics/%s", name);
    bk_cluster_mark_deleting(zs->c, name);
    bk_zk_create(zs->c->zk, path, NULL, -1, 0, NULL, NULL);
    return 0;
}

/* remove_async: the marker, then a poll of /brokers/topics/<t> every
 * POLL_MS until it is gone or the time is up. */
#define POLL_MS 100

typedef struct bk_removal {
    struct bk_removal *next;
    bk_cluster *c;
    bk_metastore_done *done; /* NULL once completed (then freed when idle) */
    void *ud;
    int64_t deadline;
    bk_ev_timer timer;
    bool busy; /* a request is in flight (its completion frees a completed one) */
    char name[256];
} bk_removal;

static void removal_unlink(bk_removal *r)
{
    for (bk_removal **pp = &r->c->removals; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            return;
        }
}

/* Done with r (the caller runs its done callback): unlinked, and freed
 * unless a request is in flight (whose completion frees it). */
static void removal_finish(bk_removal *r)
{
    r->done = NULL;
    bk_ev_timer_stop(r->c->ev, &r->timer);
    removal_unlink(r);
    if (!r->busy)
        free(r);
}

static void removal_poll(bk_ev *ev, bk_ev_timer *t);

static void removal_checked(bk_zk *zk, const bk_zk_result *res, void *ud)
{
    bk_removal *r = ud;
    r->busy = false;
    if (!r->done) { /* completed meanwhile (close) */
        free(r);
        return;
    }
    if (res->rc == ZNONODE) {
        bk_metastore_done *done = r->done;
        void *dud = r->ud;
        removal_finish(r);
        done(dud, 0);
        return;
    }
    if (res->rc != ZOK) {
        bk_metastore_done *done = r->done;
        void *dud = r->ud;
        removal_finish(r);
        done(dud, BK_EIO);
        return;
    }
    if (bk_mono_ms_raw() >= r->deadline) {
        bk_metastore_done *done = r->done;
        void *dud = r->ud;
        removal_finish(r);
        done(dud, BK_EAGAIN);
        return;
    }
    bk_ev_timer_start(r->c->ev, &r->timer, bk_now_ms() + POLL_MS);
}

static void removal_poll(bk_ev *ev, bk_ev_timer *t)
{
    bk_removal *r = t->data;
    char path[320];
    snprintf(path, sizeof path, "/brokers/topics/%s", r->name);
    r->busy = true;
    bk_zk_exists(r->c->zk, path, NULL, NULL, removal_checked, r);
}

static void marker_created(bk_zk *zk, const bk_zk_result *res, void *ud)
{
    bk_removal *r = ud;
    r->busy = false;
    if (!r->done) {
        free(r);
        return;
    }
    if (res->rc != ZOK && res->rc != ZNODEEXISTS) {
        bk_log(BK_LOG_WARN, "zkstore: cannot create /admin/delete_topics/%s: %s", r->name,
               zerror(res->rc));
        bk_metastore_done *done = r->done;
        void *dud = r->ud;
        removal_finish(r);
        done(dud, BK_EIO);
        return;
    }
    removal_poll(r->c->ev, &r->timer);
}

static int zs_remove_async(bk_metastore *st, const char *name, int64_t timeout_ms,
                           bk_metastore_done *done, void *ud)
{
    zkstore *zs = (zkstore *)st;
    bk_removal *r = calloc(1, sizeof *r);
    if (!r)
        return BK_ENOMEM;
    r->c = zs->c;
    r->done = done;
    r->ud = ud;
    r->deadline = bk_mono_ms_raw() + (timeout_ms > 0 ? timeout_ms : 0);
    snprintf(r->name, sizeof r->name, "%s", name);
    bk_ev_timer_init(&r->timer, removal_poll, r);
    r->next = zs->c->removals;
    zs->c->removals = r;
    bk_cluster_mark_deleting(zs->c, name);
    char path[320];
    snprintf(path, sizeof path, "/admin/delete_topics/%s", name);
    r->busy = true;
    bk_zk_create(zs->c->zk, path, NULL, -1, 0, marker_created, r);
    return 0;
}

void bk_cluster_cancel_removals(bk_cluster *c)
{
    while (c->removals) {
        bk_removal *r = c->removals;
        bk_metastore_done *done = r->done;
        void *dud = r->ud;
        removal_finish(r);
        if (done)
            done(dud, BK_EIO);
    }
}

static void zs_close(bk_metastore *st)
{
    free(st);
}

static const bk_metastore_ops zk_ops = {zs_load, zs_put, zs_remove, zs_close, zs_put_async,
                                        zs_remove_async};

int bk_metastore_zk_open(bk_metastore **out, bk_cluster *c)
{
    zkstore *zs = calloc(1, sizeof *zs);
    if (!zs)
        return BK_ENOMEM;
    zs->base.ops = &zk_ops;
    zs->c = c;
    *out = &zs->base;
    return 0;
}

/* ------------------------------------------------------------- producer ids */

typedef struct zkpid {
    bk_pidstore base;
    bk_cluster *c;
    bool have_ready, busy, closed;
    bk_pid_block ready;
    int64_t min_start;
    int attempts;
} zkpid;

static void pid_fetch(zkpid *p);

static void pid_set_done(bk_zk *zk, const bk_zk_result *r, void *ud);

typedef struct pidctx {
    zkpid *p;
    bk_pid_block b;
} pidctx;

static void pid_got(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    zkpid *p = ud;
    if (p->closed) {
        free(p);
        return;
    }
    if (r->rc != ZOK || !r->stat) {
        p->busy = false;
        if (r->rc != ZCLOSING)
            bk_log(BK_LOG_WARN, "producer ids: cannot read /latest_producer_id_block: %s",
                   zerror(r->rc));
        return;
    }
    int64_t start = 0;
    if (r->data && r->len > 0) {
        bk_pid_block prev;
        if (bk_pid_block_parse(r->data, (size_t)r->len, &prev) != 0) {
            p->busy = false;
            bk_log(BK_LOG_ERROR, "producer ids: /latest_producer_id_block does not parse");
            return;
        }
        start = prev.end + 1;
    }
    if (p->min_start > start)
        start = p->min_start;
    pidctx *x = calloc(1, sizeof *x);
    if (!x) {
        p->busy = false;
        return;
    }
    x->p = p;
    x->b = (bk_pid_block){p->c->node_id, start, start + BK_PID_BLOCK_SIZE - 1};
    char buf[160];
    int n = snprintf(buf, sizeof buf,
                     "{\"version\":1,\"broker\":%d,\"block_start\":\"%lld\",\"block_end\":\"%lld\"}",
                     (int)x->b.broker, (long long)x->b.start, (long long)x->b.end);
    bk_zk_set(zk, "/latest_producer_id_block", buf, n, r->stat->version, pid_set_done, x);
}

static void pid_set_done(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    pidctx *x = ud;
    zkpid *p = x->p;
    bk_pid_block b = x->b;
    free(x);
    if (p->closed) {
        free(p);
        return;
    }
    p->busy = false;
    if (r->rc == ZBADVERSION && ++p->attempts < 100) {
        pid_fetch(p); /* another broker claimed first: read again */
        return;
    }
    if (r->rc != ZOK) {
        if (r->rc != ZCLOSING)
            bk_log(BK_LOG_WARN, "producer ids: cannot claim a block: %s", zerror(r->rc));
        return;
    }
    p->attempts = 0;
    p->ready = b;
    p->have_ready = true;
}

static void pid_fetch(zkpid *p)
{
    if (p->busy || p->have_ready)
        return;
    p->busy = true;
    bk_zk_get(p->c->zk, "/latest_producer_id_block", NULL, NULL, pid_got, p);
}

static int pid_claim(bk_pidstore *s, int64_t min_start, bk_pid_block *out)
{
    zkpid *p = (zkpid *)s;
    if (min_start > p->min_start)
        p->min_start = min_start;
    if (p->have_ready && p->ready.end < min_start)
        p->have_ready = false; /* below what is already used: useless */
    if (!p->have_ready) {
        pid_fetch(p);
        return BK_EAGAIN;
    }
    *out = p->ready;
    p->have_ready = false;
    pid_fetch(p); /* the next one, ahead of need */
    return 0;
}

static void pid_close(bk_pidstore *s)
{
    zkpid *p = (zkpid *)s;
    if (p->busy)
        p->closed = true; /* the completion frees it */
    else
        free(p);
}

static const bk_pidstore_ops zk_pid_ops = {pid_claim, pid_close};

int bk_pidstore_zk_open(bk_pidstore **out, bk_cluster *c)
{
    zkpid *p = calloc(1, sizeof *p);
    if (!p)
        return BK_ENOMEM;
    p->base.ops = &zk_pid_ops;
    p->c = c;
    pid_fetch(p);
    *out = &p->base;
    return 0;
}
