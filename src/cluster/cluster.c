/* cluster.c - see cluster.h. */
#include "cluster.h"

#include "../core/clock.h"
#include "../core/err.h"
#include "../core/log.h"
#include "../core/uuid.h"
#include "../core/vec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The persistent paths KafkaZkClient.createTopLevelPaths creates. */
static const char *const PERSISTENT_PATHS[] = {
    "/consumers",
    "/brokers/ids",
    "/brokers/topics",
    "/brokers/seqid",
    "/config/changes",
    "/config/clients",
    "/config/brokers",
    "/config/topics",
    "/config/users",
    "/config/ips",
    "/admin/delete_topics",
    "/isr_change_notification",
    "/latest_producer_id_block",
    "/log_dir_event_notification",
    "/kafka-acl/Topic",
    "/kafka-acl/Group",
    "/kafka-acl/Cluster",
    "/kafka-acl/TransactionalId",
    "/kafka-acl/DelegationToken",
    "/kafka-acl-changes",
    "/kafka-acl-extended",
    "/kafka-acl-extended-changes",
    "/delegation_token/tokens",
    "/delegation_token/token_changes",
};

#define RETRY_MS 1000

struct bk_ctopic {
    char *name;    /* owned */
    bool have_a;   /* assignment read */
    bk_zk_topic a; /* owned replicas */
    bool have_cfg;
    char **keys, **vals; /* owned */
    int ncfg;
    bool applied; /* mirrored into the registry at least once */
    uint64_t serial;   /* this incarnation (a re-created topic gets another) */
    int32_t nwatched;  /* partitions whose state znode is watched */
    bool a_changed;    /* assignment (re)read: partition states to (re)apply */
};

/* Context of a read about one topic: the name, looked up again on
 * completion (the topic may be gone meanwhile). */
typedef struct tctx {
    bk_cluster *c;
    int gen;
    char name[256];
} tctx;

static void setup_session(bk_cluster *c);
static void confirm_step(bk_cluster *c);

/* ------------------------------------------------------------- helpers */

static const char *zerr(int rc)
{
    return zerror(rc);
}

static int64_t timeout_ms(const bk_cluster *c)
{
    return c->cfg->zookeeper_connection_timeout_ms;
}

/* Split "hosts/chroot" into hosts and "/chroot" ("" if none). */
static void split_connect(const char *s, char *hosts, size_t hl, char *chroot, size_t cl)
{
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    snprintf(hosts, hl, "%.*s", (int)n, s);
    snprintf(chroot, cl, "%s", slash ? slash : "");
    size_t cn = strlen(chroot);
    while (cn > 1 && chroot[cn - 1] == '/')
        chroot[--cn] = 0;
    if (strcmp(chroot, "/") == 0)
        chroot[0] = 0;
}

/* ------------------------------------------------------------- session */

static void session_cb(bk_zk *zk, int state, void *ud)
{
    bk_cluster *c = ud;
    switch (state) {
    case BK_ZK_CONNECTED:
        bk_log(BK_LOG_INFO, "zookeeper: connected (session 0x%llx)",
               (unsigned long long)bk_zk_session_id(zk));
        if (c->setup_pending)
            setup_session(c);
        confirm_step(c);
        break;
    case BK_ZK_DISCONNECTED:
        bk_log(BK_LOG_WARN, "zookeeper: disconnected, reconnecting");
        break;
    case BK_ZK_EXPIRED:
        bk_log(BK_LOG_WARN, "zookeeper: session expired; re-registering with a new session");
        c->registered = false;
        if (c->ctl)
            bk_controller_session_lost(c->ctl);
        if (c->on_session_lost)
            c->on_session_lost(c->session_lost_ud);
        c->setup_pending = c->self.port > 0; /* registered once: do it again */
        c->brokers_gen++;
        c->topics_gen++;
        if (bk_zk_reopen(zk) != 0)
            bk_log(BK_LOG_ERROR, "zookeeper: cannot start a new session");
        break;
    }
}

int bk_cluster_open(bk_cluster **out, bk_ev *ev, const bk_config *cfg, const char *stored_cluster_id,
                    char *err, size_t errlen)
{
    bk_cluster *c = calloc(1, sizeof *c);
    if (!c)
        return BK_ENOMEM;
    c->cfg = cfg;
    c->ev = ev;
    c->node_id = -1;
    c->leader_throttle.rate = BK_THROTTLE_NONE;
    c->follower_throttle.rate = BK_THROTTLE_NONE;
    bk_ev_timer_init(&c->retry, NULL, c);
    bk_ev_timer_init(&c->confirm_timer, NULL, c);
    char hosts[1024], chroot[1024];
    split_connect(cfg->zookeeper_connect, hosts, sizeof hosts, chroot, sizeof chroot);
    int rc;
    int64_t to = cfg->zookeeper_connection_timeout_ms;

    if (chroot[0]) {
        /* Kafka creates a missing chroot through a connection without it. */
        bk_zk *z0;
        if ((rc = bk_zk_open(&z0, ev, hosts, cfg->zookeeper_session_timeout_ms, NULL, NULL)) != 0) {
            snprintf(err, errlen, "zookeeper.connect %s is not valid", cfg->zookeeper_connect);
            free(c);
            return rc;
        }
        rc = bk_zk_wait_connected(z0, to);
        if (rc == ZOK)
            rc = bk_zk_sync_mkdirs(z0, chroot, to);
        bk_zk_close(z0);
        if (rc != ZOK) {
            snprintf(err, errlen, "cannot create the chroot %s in ZooKeeper %s: %s", chroot, hosts,
                     rc == ZOPERATIONTIMEOUT ? "timed out" : zerr(rc));
            free(c);
            return BK_EIO;
        }
    }
    if ((rc = bk_zk_open(&c->zk, ev, cfg->zookeeper_connect, cfg->zookeeper_session_timeout_ms,
                         session_cb, c)) != 0) {
        snprintf(err, errlen, "zookeeper.connect %s is not valid", cfg->zookeeper_connect);
        free(c);
        return rc;
    }
    if (bk_zk_wait_connected(c->zk, to) != ZOK) {
        snprintf(err, errlen, "timed out connecting to ZooKeeper %s after %lld ms",
                 cfg->zookeeper_connect, (long long)to);
        bk_cluster_close(c);
        return BK_EIO;
    }
    for (size_t i = 0; i < sizeof PERSISTENT_PATHS / sizeof *PERSISTENT_PATHS; i++) {
        if ((rc = bk_zk_sync_mkdirs(c->zk, PERSISTENT_PATHS[i], to)) != ZOK) {
            snprintf(err, errlen, "cannot create %s in ZooKeeper: %s", PERSISTENT_PATHS[i],
                     zerr(rc));
            bk_cluster_close(c);
            return BK_EIO;
        }
    }

    /* /cluster/id: read, or create (losing a race: read again). */
    for (int attempt = 0; attempt < 3; attempt++) {
        bk_zk_sync *s = bk_zk_sync_new();
        bk_zk_get(c->zk, "/cluster/id", NULL, NULL, bk_zk_sync_cb, s);
        rc = bk_zk_sync_wait(c->zk, s, to);
        if (rc == ZOK) {
            int pr = bk_zkj_cluster_id_parse(s->data, (size_t)s->len, c->cluster_id,
                                             sizeof c->cluster_id);
            bk_zk_sync_free(s);
            if (pr != 0) {
                snprintf(err, errlen, "cannot parse /cluster/id in ZooKeeper");
                bk_cluster_close(c);
                return BK_ECORRUPT;
            }
            break;
        }
        if (rc != ZOPERATIONTIMEOUT)
            bk_zk_sync_free(s);
        if (rc != ZNONODE) {
            snprintf(err, errlen, "cannot read /cluster/id: %s", zerr(rc));
            bk_cluster_close(c);
            return BK_EIO;
        }
        char id[65];
        if (cfg->cluster_id)
            snprintf(id, sizeof id, "%s", cfg->cluster_id);
        else if (stored_cluster_id && stored_cluster_id[0])
            snprintf(id, sizeof id, "%s", stored_cluster_id);
        else {
            uint8_t raw[16];
            bk_uuid_random(raw);
            bk_uuid_encode(raw, id);
        }
        bk_jw w;
        bk_jw_init(&w);
        bk_zkj_cluster_id(&w, id);
        if ((rc = bk_zk_sync_mkdirs(c->zk, "/cluster", to)) != ZOK || w.err) {
            bk_jw_fini(&w);
            snprintf(err, errlen, "cannot create /cluster: %s", zerr(rc));
            bk_cluster_close(c);
            return BK_EIO;
        }
        s = bk_zk_sync_new();
        bk_zk_create(c->zk, "/cluster/id", w.p, (int)w.len, 0, bk_zk_sync_cb, s);
        bk_jw_fini(&w);
        rc = bk_zk_sync_wait(c->zk, s, to);
        if (rc != ZOPERATIONTIMEOUT)
            bk_zk_sync_free(s);
        if (rc == ZOK) {
            snprintf(c->cluster_id, sizeof c->cluster_id, "%s", id);
            bk_log(BK_LOG_INFO, "zookeeper: created /cluster/id %s", id);
            break;
        }
        if (rc != ZNODEEXISTS) {
            snprintf(err, errlen, "cannot create /cluster/id: %s", zerr(rc));
            bk_cluster_close(c);
            return BK_EIO;
        }
    }
    if (!c->cluster_id[0]) {
        snprintf(err, errlen, "cannot agree on /cluster/id");
        bk_cluster_close(c);
        return BK_EIO;
    }
    *out = c;
    return 0;
}

/* ------------------------------------------------------------- brokers */

static void brokers_watch(bk_zk *zk, int type, const char *path, void *ud);

typedef struct bref {
    bk_cluster *c;
    int gen;
    int pending;
    bk_zk_broker *v; /* owned */
    int n;
} bref;

static int broker_cmp(const void *a, const void *b)
{
    int32_t x = ((const bk_zk_broker *)a)->id, y = ((const bk_zk_broker *)b)->id;
    return x < y ? -1 : x > y;
}

static void brokers_publish(bk_cluster *c, bref *r)
{
    qsort(r->v, (size_t)r->n, sizeof *r->v, broker_cmp);
    free(c->brokers);
    c->brokers = r->v;
    c->nbrokers = r->n;
    r->v = NULL;
    char list[512] = "";
    size_t at = 0;
    for (int i = 0; i < c->nbrokers && at < sizeof list; i++)
        at += (size_t)snprintf(list + at, sizeof list - at, "%s%d", i ? "," : "", c->brokers[i].id);
    bk_log(BK_LOG_INFO, "cluster: live brokers [%s]", list);
    if (c->topics)
        bk_topics_set_max_rf(c->topics, c->nbrokers);
    if (c->ctl)
        bk_controller_on_brokers(c->ctl);
    if (c->on_brokers)
        c->on_brokers(c, c->ud);
}

typedef struct bget {
    bref *r;
    int32_t id;
} bget;

static void broker_got(bk_zk *zk, const bk_zk_result *res, void *ud)
{
    bget *g = ud;
    bref *r = g->r;
    if (res->rc == ZOK) {
        bk_zk_broker b;
        const bk_config *cfg = r->c->cfg;
        const char *ibl = cfg->nadvertised_eps > 0 && cfg->inter_broker_ep >= 0
                              ? cfg->advertised_eps[cfg->inter_broker_ep].name
                              : NULL;
        if (bk_zkj_broker_parse_listener(res->data, (size_t)res->len, ibl, &b) == 0) {
            b.id = g->id;
            r->v[r->n++] = b;
        } else {
            bk_log(BK_LOG_WARN, "cluster: cannot parse /brokers/ids/%d", g->id);
        }
    }
    free(g);
    if (--r->pending > 0)
        return;
    if (r->gen == r->c->brokers_gen)
        brokers_publish(r->c, r);
    free(r->v);
    free(r);
}

static void brokers_listed(bk_zk *zk, const bk_zk_result *res, void *ud)
{
    bref *r = ud;
    bk_cluster *c = r->c;
    if (res->rc != ZOK || r->gen != c->brokers_gen) {
        if (res->rc != ZOK)
            bk_log(BK_LOG_WARN, "cluster: cannot list /brokers/ids: %s", zerr(res->rc));
        free(r);
        return;
    }
    r->v = calloc((size_t)res->nkids + 1, sizeof *r->v);
    if (!r->v) {
        free(r);
        return;
    }
    r->pending = 1; /* ours, dropped below: publishes even with no child */
    for (int i = 0; i < res->nkids; i++) {
        char *e;
        long id = strtol(res->kids[i], &e, 10);
        if (*e || id < 0 || id > INT32_MAX)
            continue;
        bget *g = calloc(1, sizeof *g);
        if (!g)
            continue;
        g->r = r;
        g->id = (int32_t)id;
        r->pending++;
        char path[64];
        snprintf(path, sizeof path, "/brokers/ids/%d", (int)id);
        bk_zk_get(zk, path, NULL, NULL, broker_got, g);
    }
    bk_zk_result none = {.rc = ZNONODE};
    bget *g = calloc(1, sizeof *g);
    if (g) {
        g->r = r;
        broker_got(zk, &none, g);
    }
}

static void brokers_refresh(bk_cluster *c)
{
    bref *r = calloc(1, sizeof *r);
    if (!r)
        return;
    r->c = c;
    r->gen = ++c->brokers_gen;
    bk_zk_children(c->zk, "/brokers/ids", brokers_watch, c, brokers_listed, r);
}

static void brokers_watch(bk_zk *zk, int type, const char *path, void *ud)
{
    if (type != BK_ZK_WATCH_DROPPED)
        brokers_refresh(ud);
}

const bk_zk_broker *bk_cluster_brokers(const bk_cluster *c, int *n)
{
    *n = c->nbrokers;
    return c->brokers;
}

/* ------------------------------------------------------------- topics */

static bk_ctopic *ctopic_find(const bk_cluster *c, const char *name, int *ix)
{
    for (int i = 0; i < c->ntopics; i++)
        if (strcmp(c->topics_v[i]->name, name) == 0) {
            if (ix)
                *ix = i;
            return c->topics_v[i];
        }
    return NULL;
}

static void ctopic_free(bk_ctopic *t)
{
    if (!t)
        return;
    free(t->name);
    bk_zk_topic_free(&t->a);
    for (int i = 0; i < t->ncfg; i++) {
        free(t->keys[i]);
        free(t->vals[i]);
    }
    free(t->keys);
    free(t->vals);
    free(t);
}

static bool is_deleting(const bk_cluster *c, const char *name)
{
    for (int i = 0; i < c->ndeleting; i++)
        if (strcmp(c->deleting[i], name) == 0)
            return true;
    return false;
}

void bk_cluster_mark_deleting(bk_cluster *c, const char *name)
{
    if (is_deleting(c, name))
        return;
    char **nv = realloc(c->deleting, (size_t)(c->ndeleting + 1) * sizeof *nv);
    if (!nv)
        return;
    c->deleting = nv;
    if ((nv[c->ndeleting] = strdup(name)) != NULL)
        c->ndeleting++;
}

static void unmark_deleting(bk_cluster *c, const char *name)
{
    for (int i = 0; i < c->ndeleting; i++)
        if (strcmp(c->deleting[i], name) == 0) {
            free(c->deleting[i]);
            c->deleting[i] = c->deleting[--c->ndeleting];
            return;
        }
}

static void states_read(bk_cluster *c, bk_ctopic *t);

/* Both halves read: mirror into the registry, tell the controller. */
static void ctopic_ready(bk_cluster *c, bk_ctopic *t)
{
    if (!t->have_a || !t->have_cfg)
        return;
    if (c->ctl)
        bk_controller_on_topic(c->ctl, t->name, &t->a);
    if (!c->topics || is_deleting(c, t->name))
        return;
    bk_meta_topic m = {0};
    m.name = t->name;
    memcpy(m.id, t->a.id, 16);
    m.partitions = t->a.nparts;
    m.replication_factor = t->a.rf;
    m.internal = strcmp(t->name, "__consumer_offsets") == 0 ||
                 strcmp(t->name, "__transaction_state") == 0;
    m.nconfigs = t->ncfg;
    m.keys = t->keys;
    m.vals = t->vals;
    m.replicas = t->a.replicas;
    int r = bk_topics_apply(c->topics, &m);
    if (r)
        bk_log(BK_LOG_ERROR, "cluster: cannot open topic %s: %s", t->name, bk_strerror(r));
    else if (!t->applied)
        bk_log(BK_LOG_INFO, "cluster: topic %s (%d partitions, replication factor %d)", t->name,
               t->a.nparts, t->a.rf);
    t->applied = true;
    if (t->a_changed) {
        t->a_changed = false;
        states_read(c, t);
    }
}

static tctx *tctx_new(bk_cluster *c, const char *name)
{
    tctx *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->c = c;
    x->gen = c->topics_gen;
    snprintf(x->name, sizeof x->name, "%s", name);
    return x;
}

static void topic_watch(bk_zk *zk, int type, const char *path, void *ud);
static void config_watch(bk_zk *zk, int type, const char *path, void *ud);

static void topic_got(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    tctx *x = ud;
    bk_cluster *c = x->c;
    bk_ctopic *t = x->gen == c->topics_gen ? ctopic_find(c, x->name, NULL) : NULL;
    if (t && r->rc == ZOK) {
        bk_zk_topic a;
        if (bk_zkj_topic_parse(r->data, (size_t)r->len, &a) == 0) {
            if (!a.has_id) /* written by an old tool: Kafka adds the id */
                bk_uuid_random(a.id);
            bk_zk_topic_free(&t->a);
            t->a = a;
            t->have_a = true;
            t->a_changed = true;
            ctopic_ready(c, t);
        } else {
            bk_log(BK_LOG_WARN, "cluster: cannot parse /brokers/topics/%s", x->name);
        }
    }
    free(x);
}

static void config_got(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    tctx *x = ud;
    bk_cluster *c = x->c;
    bk_ctopic *t = x->gen == c->topics_gen ? ctopic_find(c, x->name, NULL) : NULL;
    if (t && (r->rc == ZOK || r->rc == ZNONODE)) {
        char **k = NULL, **v = NULL;
        int n = 0;
        if (r->rc == ZOK && bk_zkj_config_parse(r->data, (size_t)r->len, &k, &v, &n) != 0)
            bk_log(BK_LOG_WARN, "cluster: cannot parse /config/topics/%s", x->name);
        for (int i = 0; i < t->ncfg; i++) {
            free(t->keys[i]);
            free(t->vals[i]);
        }
        free(t->keys);
        free(t->vals);
        t->keys = k;
        t->vals = v;
        t->ncfg = n;
        t->have_cfg = true;
        ctopic_ready(c, t);
    }
    free(x);
}

static void read_topic(bk_cluster *c, const char *name)
{
    char path[320];
    tctx *x = tctx_new(c, name);
    if (x) {
        snprintf(path, sizeof path, "/brokers/topics/%s", name);
        tctx *w = tctx_new(c, name);
        bk_zk_get(c->zk, path, w ? topic_watch : NULL, w, topic_got, x);
    }
    x = tctx_new(c, name);
    if (x) {
        snprintf(path, sizeof path, "/config/topics/%s", name);
        tctx *w = tctx_new(c, name);
        bk_zk_exists(c->zk, path, w ? config_watch : NULL, w, NULL, NULL);
        bk_zk_get(c->zk, path, NULL, NULL, config_got, x);
    }
}

/* A watch context is freed when the watch fires or is dropped. */
static void topic_watch(bk_zk *zk, int type, const char *path, void *ud)
{
    tctx *w = ud;
    bk_cluster *c = w->c;
    if (type == ZOO_CHANGED_EVENT && w->gen == c->topics_gen && ctopic_find(c, w->name, NULL)) {
        char p[320];
        snprintf(p, sizeof p, "/brokers/topics/%s", w->name);
        tctx *x = tctx_new(c, w->name), *w2 = tctx_new(c, w->name);
        if (x)
            bk_zk_get(zk, p, w2 ? topic_watch : NULL, w2, topic_got, x);
        else
            free(w2);
    }
    free(w);
}

static void config_watch(bk_zk *zk, int type, const char *path, void *ud)
{
    tctx *w = ud;
    bk_cluster *c = w->c;
    if (type != BK_ZK_WATCH_DROPPED && w->gen == c->topics_gen && ctopic_find(c, w->name, NULL)) {
        char p[320];
        snprintf(p, sizeof p, "/config/topics/%s", w->name);
        tctx *x = tctx_new(c, w->name), *w2 = tctx_new(c, w->name);
        bk_zk_exists(zk, p, w2 ? config_watch : NULL, w2, NULL, NULL);
        if (x)
            bk_zk_get(zk, p, NULL, NULL, config_got, x);
    }
    free(w);
}

static void topics_watch(bk_zk *zk, int type, const char *path, void *ud);

static void topics_listed(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    tctx *x = ud;
    bk_cluster *c = x->c;
    int gen = x->gen;
    free(x);
    if (gen != c->topics_gen)
        return;
    if (r->rc != ZOK) {
        bk_log(BK_LOG_WARN, "cluster: cannot list /brokers/topics: %s", zerr(r->rc));
        return;
    }
    /* gone */
    for (int i = 0; i < c->ntopics;) {
        bk_ctopic *t = c->topics_v[i];
        bool present = false;
        for (int k = 0; k < r->nkids && !present; k++)
            present = strcmp(r->kids[k], t->name) == 0;
        if (present) {
            i++;
            continue;
        }
        bk_log(BK_LOG_INFO, "cluster: topic %s deleted", t->name);
        if (c->on_pstate && t->have_a)
            for (int32_t p = 0; p < t->a.nparts; p++)
                c->on_pstate(c, c->ud, t->name, t->a.id, p, NULL, -1, NULL, 0);
        if (c->topics) {
            bk_topic *tp = bk_topics_get(c->topics, t->name, strlen(t->name));
            if (tp)
                (void)bk_topics_drop(c->topics, tp);
        }
        unmark_deleting(c, t->name);
        ctopic_free(t);
        c->topics_v[i] = c->topics_v[--c->ntopics];
    }
    /* new */
    for (int k = 0; k < r->nkids; k++) {
        if (ctopic_find(c, r->kids[k], NULL))
            continue;
        bk_ctopic **nv = bk_vec_grow(c->topics_v, c->ntopics, &c->captopics, sizeof *nv, 16);
        bk_ctopic *t = calloc(1, sizeof *t);
        if (!nv || !t || !(t->name = strdup(r->kids[k]))) {
            if (nv)
                c->topics_v = nv;
            free(t);
            continue;
        }
        c->topics_v = nv;
        t->serial = ++c->topic_serial;
        c->topics_v[c->ntopics++] = t;
        read_topic(c, t->name);
    }
}

static void topics_refresh(bk_cluster *c)
{
    tctx *x = tctx_new(c, "");
    tctx *w = tctx_new(c, "");
    if (!x) {
        free(w);
        return;
    }
    bk_zk_children(c->zk, "/brokers/topics", w ? topics_watch : NULL, w, topics_listed, x);
}

static void topics_watch(bk_zk *zk, int type, const char *path, void *ud)
{
    tctx *w = ud;
    bk_cluster *c = w->c;
    bool current = type != BK_ZK_WATCH_DROPPED && w->gen == c->topics_gen;
    free(w);
    if (current)
        topics_refresh(c);
}

/* ------------------------------------------------------------- partition states
 *
 * Every broker reads and watches /brokers/topics/<t>/partitions/<p>/state
 * of every topic it mirrors (an exists watch: it is set whether or not the
 * znode exists yet, and fires on creation, change and deletion) and hands
 * each state to c->on_pstate, which applies it to the replica side (the
 * documented replacement for the controller's LeaderAndIsr/UpdateMetadata
 * requests). */

typedef struct pctx {
    bk_cluster *c;
    int gen;
    uint64_t serial;
    int32_t partition;
    char name[256];
} pctx;

static pctx *pctx_new(bk_cluster *c, const bk_ctopic *t, int32_t p)
{
    pctx *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->c = c;
    x->gen = c->topics_gen;
    x->serial = t->serial;
    x->partition = p;
    snprintf(x->name, sizeof x->name, "%s", t->name);
    return x;
}

static bk_ctopic *pctx_topic(const pctx *x)
{
    if (x->gen != x->c->topics_gen)
        return NULL;
    bk_ctopic *t = ctopic_find(x->c, x->name, NULL);
    return t && t->serial == x->serial ? t : NULL;
}

static void state_watch(bk_zk *zk, int type, const char *path, void *ud);

static void state_got(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    pctx *x = ud;
    bk_cluster *c = x->c;
    bk_ctopic *t = pctx_topic(x);
    int32_t p = x->partition;
    if (t && t->have_a && p < t->a.nparts && c->on_pstate) {
        const int32_t *reps;
        int nreps = bk_zk_topic_reps(&t->a, p, &reps);
        if (r->rc == ZOK && r->stat) {
            bk_zk_pstate st;
            if (bk_zkj_pstate_parse(r->data, (size_t)r->len, &st) == 0) {
                c->on_pstate(c, c->ud, t->name, t->a.id, p, &st, r->stat->version, reps, nreps);
                /* the controller follows reassignments through the states */
                if (c->ctl)
                    bk_ctl_reassign_pstate(c->ctl, t->name, p, &st, r->stat->version);
            } else {
                bk_log(BK_LOG_WARN, "cluster: cannot parse the state of %s-%d", t->name, p);
            }
        } else if (r->rc == ZNONODE && is_deleting(c, t->name)) {
            c->on_pstate(c, c->ud, t->name, t->a.id, p, NULL, -1, reps, nreps);
        }
    }
    free(x);
}

static void state_arm(bk_cluster *c, bk_ctopic *t, int32_t p, bool watch)
{
    char path[400];
    snprintf(path, sizeof path, "/brokers/topics/%s/partitions/%d/state", t->name, p);
    if (watch) {
        pctx *w = pctx_new(c, t, p);
        if (w)
            bk_zk_exists(c->zk, path, state_watch, w, NULL, NULL);
    }
    pctx *x = pctx_new(c, t, p);
    if (x)
        bk_zk_get(c->zk, path, NULL, NULL, state_got, x);
}

static void state_watch(bk_zk *zk, int type, const char *path, void *ud)
{
    pctx *w = ud;
    bk_ctopic *t = type != BK_ZK_WATCH_DROPPED ? pctx_topic(w) : NULL;
    if (t)
        state_arm(w->c, t, w->partition, true);
    free(w);
}

/* The assignment was (re)read: watch new partitions, re-apply the others
 * (their replicas may have changed). */
static void states_read(bk_cluster *c, bk_ctopic *t)
{
    if (!c->on_pstate)
        return;
    for (int32_t p = 0; p < t->a.nparts; p++)
        state_arm(c, t, p, p >= t->nwatched);
    if (t->a.nparts > t->nwatched)
        t->nwatched = t->a.nparts;
}

typedef struct wctx {
    bk_cluster *c;
    bk_cluster_pstate_done_fn *cb;
    void *ud;
    char name[256];
    int32_t partition;
} wctx;

static void isr_notified(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    if (r->rc != ZOK)
        bk_log(BK_LOG_DEBUG, "cluster: cannot write an ISR change notification: %s",
               zerror(r->rc));
}

static void pstate_written(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    wctx *x = ud;
    int rc = r->rc == ZOK ? 0 : r->rc == ZBADVERSION ? BK_EVERSION : BK_EIO;
    int32_t v = r->rc == ZOK && r->stat ? r->stat->version : -1;
    if (r->rc == ZOK && r->stat == NULL)
        rc = BK_EIO; /* no version known: let the watch bring the state */
    if (rc == 0 && r->rc == ZOK && x->c->zk == zk) {
        /* Kafka's ISR change notification (its controller reads and
         * deletes them; ours watches the state znodes instead) */
        bk_jw w;
        bk_jw_init(&w);
        bk_jw_raw(&w, "{\"version\":1,\"partitions\":[{\"topic\":");
        bk_jw_str(&w, x->name);
        char tail[64];
        snprintf(tail, sizeof tail, ",\"partition\":%d}]}", x->partition);
        bk_jw_raw(&w, tail);
        if (!w.err)
            bk_zk_create(zk, "/isr_change_notification/isr_change_", w.p, (int)w.len,
                         ZOO_SEQUENCE, isr_notified, NULL);
        bk_jw_fini(&w);
    }
    if (rc == BK_EIO && r->rc != ZOK)
        bk_log(BK_LOG_WARN, "cluster: cannot write the state of %s-%d: %s", x->name,
               x->partition, zerror(r->rc));
    x->cb(x->ud, rc, v);
    free(x);
}

void bk_cluster_write_pstate(bk_cluster *c, const char *topic, int32_t partition,
                             const bk_zk_pstate *st, int32_t version, bk_cluster_pstate_done_fn *cb,
                             void *ud)
{
    wctx *x = calloc(1, sizeof *x);
    bk_jw w;
    bk_jw_init(&w);
    bk_zkj_pstate(&w, st);
    if (!x || w.err) {
        free(x);
        bk_jw_fini(&w);
        cb(ud, BK_ENOMEM, -1);
        return;
    }
    x->c = c;
    x->cb = cb;
    x->ud = ud;
    x->partition = partition;
    snprintf(x->name, sizeof x->name, "%s", topic);
    char path[400];
    snprintf(path, sizeof path, "/brokers/topics/%s/partitions/%d/state", topic, partition);
    bk_zk_set(c->zk, path, w.p, (int)w.len, version, pstate_written, x);
    bk_jw_fini(&w);
}

const bk_zk_topic *bk_cluster_assignment(const bk_cluster *c, const char *name)
{
    bk_ctopic *t = ctopic_find(c, name, NULL);
    return t && t->have_a ? &t->a : NULL;
}

int bk_cluster_ntopics(const bk_cluster *c)
{
    return c->ntopics;
}

const char *bk_cluster_topic_at(const bk_cluster *c, int i, const bk_zk_topic **a)
{
    bk_ctopic *t = c->topics_v[i];
    *a = t->have_a ? &t->a : NULL;
    return t->name;
}

void bk_cluster_attach_topics(bk_cluster *c, bk_topics *t)
{
    c->topics = t;
    if (c->nbrokers > 0)
        bk_topics_set_max_rf(t, c->nbrokers);
    for (int i = 0; i < c->ntopics; i++)
        ctopic_ready(c, c->topics_v[i]);
}

/* ------------------------------------------------------------- registration */

static void broker_path(const bk_cluster *c, char *p, size_t n)
{
    snprintf(p, n, "/brokers/ids/%d", c->node_id);
}

static void reg_json(bk_cluster *c, bk_jw *w)
{
    c->self.timestamp = bk_wall_ms_raw();
    bk_jw_init(w);
    bk_zkj_broker(w, &c->self);
}

static void register_async(bk_cluster *c);

static void retry_cb(bk_ev *ev, bk_ev_timer *t)
{
    register_async(t->data);
}

static void owner_checked(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    bk_cluster *c = ud;
    if (r->rc == ZOK && r->stat && r->stat->ephemeralOwner == bk_zk_session_id(zk)) {
        c->registered = true; /* ours: created before a connection loss */
        return;
    }
    if (r->rc == ZNONODE) {
        register_async(c);
        return;
    }
    if (++c->reg_attempts <= 30) {
        bk_log(BK_LOG_WARN, "cluster: broker.id %d is registered by another session; retrying",
               c->node_id);
        bk_ev_timer_start(c->ev, &c->retry, bk_now_ms() + RETRY_MS);
    } else {
        bk_log(BK_LOG_ERROR, "cluster: broker.id %d stays registered by another session; giving up",
               c->node_id);
    }
}

static void registered_cb(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    bk_cluster *c = ud;
    char path[64];
    broker_path(c, path, sizeof path);
    if (r->rc == ZOK) {
        c->registered = true;
        c->reg_attempts = 0;
        bk_log(BK_LOG_INFO, "cluster: registered %s", path);
        return;
    }
    if (r->rc == ZNODEEXISTS) {
        bk_zk_get(zk, path, NULL, NULL, owner_checked, c);
        return;
    }
    bk_log(BK_LOG_WARN, "cluster: cannot register %s: %s; retrying", path, zerr(r->rc));
    if (r->rc != ZINVALIDSTATE && r->rc != ZSESSIONEXPIRED && r->rc != ZCLOSING)
        bk_ev_timer_start(c->ev, &c->retry, bk_now_ms() + RETRY_MS);
}

static void register_async(bk_cluster *c)
{
    char path[64];
    broker_path(c, path, sizeof path);
    bk_jw w;
    reg_json(c, &w);
    if (w.err) {
        bk_jw_fini(&w);
        return;
    }
    bk_zk_create(c->zk, path, w.p, (int)w.len, ZOO_EPHEMERAL, registered_cb, c);
    bk_jw_fini(&w);
}

/* ------------------------------------------------------------- broker configs
 *
 * /config/brokers/<id> and /config/brokers/<default> (Kafka's dynamic
 * broker configs) are read and watched; the replication throttle rates
 * (throttle.h) follow them: this broker's own value over the default. */

static const char *const THROTTLE_KEYS[2] = {"leader.replication.throttled.rate",
                                             "follower.replication.throttled.rate"};

static void bcfg_clear(bk_cluster *c, int k)
{
    for (int i = 0; i < c->nbcfg[k]; i++) {
        free(c->bcfg_keys[k][i]);
        free(c->bcfg_vals[k][i]);
    }
    free(c->bcfg_keys[k]);
    free(c->bcfg_vals[k]);
    c->bcfg_keys[k] = c->bcfg_vals[k] = NULL;
    c->nbcfg[k] = 0;
}

const char *bk_cluster_broker_config(const bk_cluster *c, const char *key, bool *is_default)
{
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < c->nbcfg[k]; i++)
            if (strcmp(c->bcfg_keys[k][i], key) == 0) {
                if (is_default)
                    *is_default = k == 1;
                return c->bcfg_vals[k][i];
            }
    return NULL;
}

static int64_t rate_of(const char *v)
{
    if (!v || !*v)
        return BK_THROTTLE_NONE;
    char *e;
    long long r = strtoll(v, &e, 10);
    return *e || r < 0 ? BK_THROTTLE_NONE : (int64_t)r;
}

static void bcfg_apply(bk_cluster *c)
{
    int64_t now_us = bk_now_ms() * 1000;
    /* dynamic (own, then default), else server.properties; Long.MaxValue
     * (Kafka's default) is no throttle */
    const char *lv = bk_cluster_broker_config(c, THROTTLE_KEYS[0], NULL);
    const char *fv = bk_cluster_broker_config(c, THROTTLE_KEYS[1], NULL);
    int64_t lr = lv ? rate_of(lv) : c->cfg->leader_replication_throttled_rate;
    int64_t fr = fv ? rate_of(fv) : c->cfg->follower_replication_throttled_rate;
    if (lr == INT64_MAX)
        lr = BK_THROTTLE_NONE;
    if (fr == INT64_MAX)
        fr = BK_THROTTLE_NONE;
    if (lr != c->leader_throttle.rate || fr != c->follower_throttle.rate)
        bk_log(BK_LOG_INFO, "cluster: replication throttle: leader %lld B/s, follower %lld B/s "
               "(-1: none)", (long long)lr, (long long)fr);
    bk_throttle_set_rate(&c->leader_throttle, lr, now_us);
    bk_throttle_set_rate(&c->follower_throttle, fr, now_us);
}

typedef struct bctx {
    bk_cluster *c;
    int gen;
    int which; /* 0 self, 1 default */
} bctx;

static void bcfg_path(const bk_cluster *c, int which, char *out, size_t n)
{
    if (which == 0)
        snprintf(out, n, "/config/brokers/%d", c->node_id);
    else
        snprintf(out, n, "/config/brokers/<default>");
}

static void bcfg_read(bk_cluster *c, int which);

static void bcfg_watch(bk_zk *zk, int type, const char *path, void *ud)
{
    bctx *w = ud;
    bk_cluster *c = w->c;
    if (type != BK_ZK_WATCH_DROPPED && w->gen == c->bcfg_gen)
        bcfg_read(c, w->which);
    free(w);
}

static void bcfg_got(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    bctx *x = ud;
    bk_cluster *c = x->c;
    if (x->gen == c->bcfg_gen && (r->rc == ZOK || r->rc == ZNONODE)) {
        char **k = NULL, **v = NULL;
        int n = 0;
        if (r->rc == ZOK && r->len > 0 &&
            bk_zkj_config_parse(r->data, (size_t)r->len, &k, &v, &n) != 0)
            bk_log(BK_LOG_WARN, "cluster: cannot parse the broker config znode");
        bcfg_clear(c, x->which);
        c->bcfg_keys[x->which] = k;
        c->bcfg_vals[x->which] = v;
        c->nbcfg[x->which] = n;
        bcfg_apply(c);
    }
    free(x);
}

static void bcfg_read(bk_cluster *c, int which)
{
    char path[64];
    bcfg_path(c, which, path, sizeof path);
    bctx *w = calloc(1, sizeof *w), *x = calloc(1, sizeof *x);
    if (!w || !x) {
        free(w);
        free(x);
        return;
    }
    *w = (bctx){c, c->bcfg_gen, which};
    *x = *w;
    bk_zk_exists(c->zk, path, bcfg_watch, w, NULL, NULL);
    bk_zk_get(c->zk, path, NULL, NULL, bcfg_got, x);
}

static void bcfg_refresh_all(bk_cluster *c)
{
    c->bcfg_gen++;
    bcfg_read(c, 0);
    bcfg_read(c, 1);
}

typedef struct bwrite {
    char path[64];
    char *json; /* owned */
    int len;
} bwrite;

static void bcfg_set_done(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    bwrite *x = ud;
    if (r->rc != ZOK)
        bk_log(BK_LOG_WARN, "cluster: cannot write %s: %s", x->path, zerror(r->rc));
    free(x->json);
    free(x);
}

static void bcfg_created(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    bwrite *x = ud;
    if (r->rc == ZNODEEXISTS) {
        bk_zk_set(zk, x->path, x->json, x->len, -1, bcfg_set_done, x);
        return;
    }
    bcfg_set_done(zk, r, ud);
}

int16_t bk_cluster_alter_broker_config(bk_cluster *c, bool dflt, const bk_kv *kv, int nkv,
                                       bool replace, bool validate_only, char *msg, size_t msglen)
{
    for (int i = 0; i < nkv; i++) {
        bool known = strcmp(kv[i].key, THROTTLE_KEYS[0]) == 0 ||
                     strcmp(kv[i].key, THROTTLE_KEYS[1]) == 0;
        if (!known) {
            snprintf(msg, msglen,
                     "Cannot update %s dynamically: Brook's dynamic broker configs are "
                     "leader.replication.throttled.rate and follower.replication.throttled.rate",
                     kv[i].key);
            return BK_KERR_INVALID_REQUEST;
        }
        if (kv[i].val && rate_of(kv[i].val) < 0) {
            snprintf(msg, msglen, "Invalid value %s for configuration %s: a non-negative long",
                     kv[i].val, kv[i].key);
            return BK_KERR_INVALID_CONFIG;
        }
    }
    if (validate_only)
        return BK_KERR_NONE;
    int which = dflt ? 1 : 0;
    /* the merged set: current entries (unless replaced), then the changes */
    int cap = c->nbcfg[which] + nkv + 1, n = 0;
    char **keys = calloc((size_t)cap, sizeof *keys), **vals = calloc((size_t)cap, sizeof *vals);
    if (!keys || !vals) {
        free(keys);
        free(vals);
        snprintf(msg, msglen, "out of memory");
        return BK_KERR_UNKNOWN_SERVER_ERROR;
    }
    for (int i = 0; !replace && i < c->nbcfg[which]; i++) {
        keys[n] = c->bcfg_keys[which][i];
        vals[n++] = c->bcfg_vals[which][i];
    }
    for (int i = 0; i < nkv; i++) {
        int at = -1;
        for (int k = 0; k < n && at < 0; k++)
            if (strcmp(keys[k], kv[i].key) == 0)
                at = k;
        if (!kv[i].val) {
            if (at >= 0) {
                keys[at] = keys[n - 1];
                vals[at] = vals[n - 1];
                n--;
            }
            continue;
        }
        if (at < 0)
            at = n++;
        keys[at] = kv[i].key;
        vals[at] = kv[i].val;
    }
    bk_jw w;
    bk_jw_init(&w);
    bk_zkj_config(&w, keys, vals, n);
    bwrite *x = calloc(1, sizeof *x);
    if (w.err || !x) {
        bk_jw_fini(&w);
        free(x);
        free(keys);
        free(vals);
        snprintf(msg, msglen, "out of memory");
        return BK_KERR_UNKNOWN_SERVER_ERROR;
    }
    bcfg_path(c, which, x->path, sizeof x->path);
    x->json = w.p;
    x->len = (int)w.len;
    w.p = NULL;
    bk_jw_fini(&w);
    /* our own mirror now, so a second alter right after builds on this one */
    char **nk = calloc((size_t)n + 1, sizeof *nk), **nv = calloc((size_t)n + 1, sizeof *nv);
    int nn = 0;
    for (int i = 0; nk && nv && i < n; i++) {
        nk[nn] = strdup(keys[i]);
        nv[nn] = strdup(vals[i]);
        if (nk[nn] && nv[nn])
            nn++;
        else {
            free(nk[nn]);
            free(nv[nn]);
        }
    }
    free(keys);
    free(vals);
    bcfg_clear(c, which);
    c->bcfg_keys[which] = nk;
    c->bcfg_vals[which] = nv;
    c->nbcfg[which] = nn;
    bcfg_apply(c);
    bk_zk_create(c->zk, x->path, x->json, x->len, 0, bcfg_created, x);
    /* Kafka's change notification */
    char ent[64];
    if (dflt)
        snprintf(ent, sizeof ent, "brokers/<default>");
    else
        snprintf(ent, sizeof ent, "brokers/%d", c->node_id);
    bk_jw_init(&w);
    bk_zkj_config_change(&w, ent);
    if (!w.err)
        bk_zk_create(c->zk, "/config/changes/config_change_", w.p, (int)w.len, ZOO_SEQUENCE, NULL,
                     NULL);
    bk_jw_fini(&w);
    return BK_KERR_NONE;
}

/* A new session: register, watch, elect. */
static void setup_session(bk_cluster *c)
{
    c->setup_pending = false;
    c->reg_attempts = 0;
    register_async(c);
    brokers_refresh(c);
    c->topics_gen++;
    topics_refresh(c);
    bcfg_refresh_all(c);
    /* the old session's watches are gone: read and watch known topics again */
    for (int i = 0; i < c->ntopics; i++) {
        c->topics_v[i]->nwatched = 0;
        read_topic(c, c->topics_v[i]->name);
    }
    bk_controller_session_up(c->ctl);
}

int bk_cluster_register(bk_cluster *c, int32_t node_id, const char *host, int port, char *err,
                        size_t errlen)
{
    c->node_id = node_id;
    c->self.id = node_id;
    snprintf(c->self.host, sizeof c->self.host, "%s", host);
    c->self.port = port;
    snprintf(c->self.rack, sizeof c->self.rack, "%s", c->cfg->broker_rack ? c->cfg->broker_rack : "");
    c->retry.cb = retry_cb;
    c->ctl = bk_controller_new(c, c->zk, node_id);
    if (!c->ctl) {
        snprintf(err, errlen, "out of memory");
        return BK_ENOMEM;
    }

    char path[64];
    broker_path(c, path, sizeof path);
    /* A registration left by a previous process of this broker (kill -9)
     * lives until its session times out: wait that long for it to go
     * before calling the id taken (Kafka fails at once). */
    int64_t deadline = bk_mono_ms_raw() + c->cfg->zookeeper_session_timeout_ms + 2000;
    bool waited = false;
    int rc;
    for (;;) {
        bk_jw w;
        reg_json(c, &w);
        bk_zk_sync *s = bk_zk_sync_new();
        if (w.err || !s) {
            bk_jw_fini(&w);
            bk_zk_sync_free(s);
            snprintf(err, errlen, "out of memory");
            return BK_ENOMEM;
        }
        bk_zk_create(c->zk, path, w.p, (int)w.len, ZOO_EPHEMERAL, bk_zk_sync_cb, s);
        bk_jw_fini(&w);
        rc = bk_zk_sync_wait(c->zk, s, timeout_ms(c));
        if (rc != ZOPERATIONTIMEOUT)
            bk_zk_sync_free(s);
        if (rc != ZNODEEXISTS || bk_mono_ms_raw() >= deadline || c->ev->stop)
            break;
        if (!waited)
            bk_log(BK_LOG_WARN,
                   "cluster: %s exists (a previous run of this broker, or another broker with "
                   "broker.id %d); waiting up to %d ms for its session to expire",
                   path, node_id, c->cfg->zookeeper_session_timeout_ms);
        waited = true;
        int64_t until = bk_mono_ms_raw() + 500;
        while (bk_mono_ms_raw() < until && !c->ev->stop)
            (void)bk_ev_run_once(c->ev, 100);
    }
    if (rc == ZNODEEXISTS) {
        /* Kafka: "Error while creating ephemeral at /brokers/ids/N, node
         * already exists and owner ... does not match current session" */
        snprintf(err, errlen,
                 "broker.id %d is already registered in ZooKeeper (%s exists, owned by another "
                 "live broker's session)",
                 node_id, path);
        return BK_EEXIST;
    }
    if (rc != ZOK) {
        snprintf(err, errlen, "cannot register %s in ZooKeeper: %s", path,
                 rc == ZOPERATIONTIMEOUT ? "timed out" : zerr(rc));
        return BK_EIO;
    }
    c->registered = true;
    bk_log(BK_LOG_INFO, "cluster: registered %s as %s:%d", path, host, port);
    /* Learn the live brokers before serving, so the first Metadata is right. */
    brokers_refresh(c);
    deadline = bk_mono_ms_raw() + timeout_ms(c);
    while (c->nbrokers == 0 && !c->ev->stop && bk_mono_ms_raw() < deadline)
        (void)bk_ev_run_once(c->ev, 100);
    c->topics_gen++;
    topics_refresh(c);
    bcfg_refresh_all(c);
    bk_controller_session_up(c->ctl);
    return 0;
}

void bk_cluster_close(bk_cluster *c)
{
    if (!c)
        return;
    bk_ev_timer_stop(c->ev, &c->retry);
    bk_ev_timer_stop(c->ev, &c->confirm_timer);
    c->confirm_cb = NULL;
    bk_cluster_cancel_removals(c);
    c->brokers_gen++;
    c->topics_gen++;
    /* Closing the session deletes our ephemerals at once (registration,
     * /controller), so the others notice now, not a session timeout later. */
    bk_zk_close(c->zk); /* pending completions run here, with ZCLOSING */
    c->zk = NULL;
    bk_controller_free(c->ctl);
    for (int i = 0; i < c->ntopics; i++)
        ctopic_free(c->topics_v[i]);
    free(c->topics_v);
    for (int i = 0; i < c->ndeleting; i++)
        free(c->deleting[i]);
    free(c->deleting);
    free(c->brokers);
    for (int k = 0; k < 2; k++)
        bcfg_clear(c, k);
    free(c);
}

int32_t bk_cluster_controller_id(const bk_cluster *c)
{
    return c->ctl ? bk_controller_id(c->ctl) : -1;
}

int32_t bk_cluster_controller_epoch(const bk_cluster *c)
{
    return c->ctl ? bk_controller_epoch(c->ctl) : 0;
}

bool bk_cluster_is_controller(const bk_cluster *c)
{
    return c->ctl && bk_controller_active(c->ctl);
}

/* ------------------------------------------------------------- confirming the session */

int64_t bk_cluster_session_id(const bk_cluster *c)
{
    return c->zk ? bk_zk_session_id(c->zk) : 0;
}

static void confirm_later(bk_cluster *c)
{
    if (c->zk)
        bk_ev_timer_start(c->ev, &c->confirm_timer, bk_now_ms() + 200);
}

static void confirm_owner(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    bk_cluster *c = ud;
    c->confirm_busy = false;
    if (!c->confirm_cb)
        return;
    if (r->rc == ZOK && r->stat && r->stat->ephemeralOwner == c->confirm_session &&
        bk_zk_session_id(zk) == c->confirm_session) {
        c->confirm_owner_ok = true;
        confirm_step(c);
    } else {
        /* expired (session_cb sets up a new one), or unreachable */
        confirm_later(c);
    }
}

static void confirm_round(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    bk_cluster *c = ud;
    c->confirm_busy = false;
    if (!c->confirm_cb)
        return;
    if (r->rc != ZOK || bk_zk_session_id(zk) != c->confirm_round_sid) {
        confirm_later(c);
        return;
    }
    if (++c->confirm_rounds < BK_CLUSTER_CONFIRM_ROUNDS) {
        confirm_step(c);
        return;
    }
    bk_cluster_confirmed_fn *cb = c->confirm_cb;
    c->confirm_cb = NULL;
    bk_log(BK_LOG_INFO, "cluster: ZooKeeper session 0x%llx confirmed (%s) and partition states "
           "current", (unsigned long long)c->confirm_round_sid,
           c->confirm_round_sid == c->confirm_session ? "it survived" : "a new session");
    cb(c->confirm_ud);
}

static void confirm_step(bk_cluster *c)
{
    if (!c->confirm_cb || c->confirm_busy || !c->zk || c->setup_pending ||
        !bk_zk_connected(c->zk))
        return; /* session_cb calls again on (re)connection */
    int64_t sid = bk_zk_session_id(c->zk);
    if (sid != c->confirm_round_sid) {
        c->confirm_round_sid = sid;
        c->confirm_rounds = 0;
        /* a new session has re-read everything since setup_session */
        c->confirm_owner_ok = sid != c->confirm_session;
    }
    char path[64];
    broker_path(c, path, sizeof path);
    c->confirm_busy = true;
    if (!c->confirm_owner_ok)
        bk_zk_get(c->zk, path, NULL, NULL, confirm_owner, c);
    else
        bk_zk_exists(c->zk, path, NULL, NULL, confirm_round, c);
}

static void confirm_timer_cb(bk_ev *ev, bk_ev_timer *t)
{
    confirm_step(t->data);
}

void bk_cluster_confirm_session(bk_cluster *c, int64_t old_session, bk_cluster_confirmed_fn *cb,
                                void *ud)
{
    c->confirm_cb = cb;
    c->confirm_ud = ud;
    c->confirm_session = old_session;
    c->confirm_round_sid = -1;
    c->confirm_rounds = 0;
    c->confirm_owner_ok = false;
    c->confirm_timer.cb = confirm_timer_cb;
    confirm_step(c);
}
