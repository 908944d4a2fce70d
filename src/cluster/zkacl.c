/* zkacl.c - ACL bindings in ZooKeeper, Kafka's layout. See zkacl.h. */
#include "zkacl.h"

#include "../core/err.h"
#include "../core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int kTypes[] = {BK_RES_TOPIC, BK_RES_GROUP, BK_RES_CLUSTER, BK_RES_TRANSACTIONAL_ID};

const char *bk_zkacl_type_name(int rtype)
{
    switch (rtype) {
    case BK_RES_TOPIC: return "Topic";
    case BK_RES_GROUP: return "Group";
    case BK_RES_CLUSTER: return "Cluster";
    case BK_RES_TRANSACTIONAL_ID: return "TransactionalId";
    default: return NULL;
    }
}

/* Kafka's JSON spelling of operations: "Read", "IdempotentWrite", ... */
static const char *const op_json[] = {NULL,     NULL,     "All",    "Read",
                                      "Write",  "Create", "Delete", "Alter",
                                      "Describe", "ClusterAction", "DescribeConfigs",
                                      "AlterConfigs", "IdempotentWrite"};

static int op_from_json(const char *s)
{
    for (size_t i = 0; i < BK_ARRAY_LEN(op_json); i++)
        if (op_json[i] && strcmp(op_json[i], s) == 0)
            return (int)i;
    return -1;
}

static bool same_res(const bk_acl *a, int rtype, int ptype, const char *name)
{
    return a->rtype == rtype && a->ptype == ptype && strcmp(a->name, name) == 0;
}

int bk_zkacl_encode(const bk_acls *all, int rtype, int ptype, const char *name, bk_jw *w)
{
    int n = 0;
    bk_jw_raw(w, "{\"version\":1,\"acls\":[");
    for (int i = 0; i < all->n; i++) {
        const bk_acl *a = &all->v[i];
        if (!same_res(a, rtype, ptype, name) || a->op < 2 || a->op >= (int)BK_ARRAY_LEN(op_json))
            continue;
        bk_jw_raw(w, n++ ? ",{\"principal\":" : "{\"principal\":");
        bk_jw_str(w, a->principal);
        bk_jw_fmt(w, ",\"permissionType\":\"%s\",\"operation\":\"%s\",\"host\":",
                  a->perm == BK_PERM_DENY ? "Deny" : "Allow", op_json[a->op]);
        bk_jw_str(w, a->host);
        bk_jw_raw(w, "}");
    }
    bk_jw_raw(w, "]}");
    return n;
}

int bk_zkacl_decode(const char *json, size_t len, int rtype, int ptype, const char *name,
                    bk_acls *out)
{
    bk_json *j = bk_json_parse(json, len);
    const bk_json *arr = j ? bk_json_get(j, "acls") : NULL;
    int rc = arr && arr->type == BK_J_ARR ? 0 : BK_ECORRUPT;
    for (int i = 0; rc == 0 && i < arr->nkids; i++) {
        const bk_json *e = &arr->kids[i];
        const bk_json *p = bk_json_get(e, "principal"), *pt = bk_json_get(e, "permissionType"),
                      *op = bk_json_get(e, "operation"), *h = bk_json_get(e, "host");
        if (!p || !pt || !op || !h || p->type != BK_J_STR || pt->type != BK_J_STR ||
            op->type != BK_J_STR || h->type != BK_J_STR) {
            rc = BK_ECORRUPT;
            break;
        }
        int o = op_from_json(op->str);
        int perm = strcmp(pt->str, "Allow") == 0 ? BK_PERM_ALLOW
                   : strcmp(pt->str, "Deny") == 0 ? BK_PERM_DENY
                                                  : -1;
        bk_acl a = {(int8_t)rtype, (int8_t)ptype, (char *)name, p->str, h->str, (int8_t)o,
                    (int8_t)perm};
        if (o < 0 || perm < 0 || bk_acl_invalid(&a)) {
            rc = BK_ECORRUPT;
            break;
        }
        rc = bk_acls_add(out, &a);
    }
    bk_json_free(j);
    return rc;
}

/* ----------------------------------------------------------- ZooKeeper */

struct bk_zkacl {
    bk_zk *zk;
    bk_zkacl_loaded_fn *loaded;
    void *ud;
    /* the read in progress */
    uint64_t gen;    /* of the latest read started */
    bk_acls *fresh;  /* owned: what it found so far */
    int pending;     /* its outstanding ZooKeeper calls */
    bool failed;     /* one of them failed: the read is thrown away */
    bool rewatch;    /* a watch was lost: read again (tick) */
    bool reread;     /* a change came during a read: read again when it ends */
    bool closing;    /* bk_zkacl_free() ran: freed with the last callback */
    int refs;        /* outstanding callbacks (completions and watches) */
};

/* Every callback registered with ZooKeeper counts in z->refs, so
 * bk_zkacl_free() can return while some are pending: the last one frees z
 * (a closing handle runs them all, watches with BK_ZK_WATCH_DROPPED). */
typedef struct zctx {
    bk_zkacl *z;
    uint64_t gen;
    int rtype, ptype;
    char path[1100];
    char name[1024];
} zctx;

static void read_all(bk_zkacl *z);

/* A callback of z finished: true when z is gone. */
static bool unref(bk_zkacl *z)
{
    if (--z->refs > 0 || !z->closing)
        return false;
    if (z->fresh) {
        bk_acls_fini(z->fresh);
        free(z->fresh);
    }
    free(z);
    return true;
}

static const char *change_paths[] = {"/kafka-acl-changes", "/kafka-acl-extended-changes"};

static void base_path(char *buf, size_t n, int rtype, int ptype)
{
    if (ptype == BK_PAT_PREFIXED)
        snprintf(buf, n, "/kafka-acl-extended/prefixed/%s", bk_zkacl_type_name(rtype));
    else
        snprintf(buf, n, "/kafka-acl/%s", bk_zkacl_type_name(rtype));
}

static void read_done(bk_zkacl *z)
{
    if (--z->pending > 0 || z->closing)
        return;
    bk_acls *fresh = z->fresh;
    z->fresh = NULL;
    if (!z->failed && fresh) {
        z->loaded(z->ud, fresh);
    } else {
        z->rewatch = true; /* try again at the next tick */
    }
    if (fresh) {
        bk_acls_fini(fresh);
        free(fresh);
    }
    if (z->reread) {
        z->reread = false;
        read_all(z);
    }
}

static void on_get(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    zctx *c = ud;
    bk_zkacl *z = c->z;
    if (c->gen == z->gen && !z->closing) {
        if (r->rc == ZOK && r->data) {
            if (bk_zkacl_decode(r->data, (size_t)r->len, c->rtype, c->ptype, c->name, z->fresh) !=
                0)
                bk_log_rl(BK_LOG_WARN, "ACL znode %s does not parse; ignored", c->path);
        } else if (r->rc != ZNONODE) {
            z->failed = true;
        }
        read_done(z);
    }
    free(c);
    unref(z);
}

static void on_children(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    zctx *c = ud;
    bk_zkacl *z = c->z;
    if (c->gen == z->gen && !z->closing) {
        if (r->rc == ZOK) {
            for (int i = 0; i < r->nkids; i++) {
                zctx *g = calloc(1, sizeof *g);
                if (!g) {
                    z->failed = true;
                    break;
                }
                *g = *c;
                snprintf(g->name, sizeof g->name, "%s", r->kids[i]);
                if (strlen(c->path) + strlen(r->kids[i]) + 2 > sizeof g->path) {
                    free(g);
                    continue;
                }
                memcpy(g->path, c->path, sizeof c->path);
                strcat(g->path, "/");
                strcat(g->path, r->kids[i]);
                z->pending++;
                z->refs++;
                bk_zk_get(zk, g->path, NULL, NULL, on_get, g);
            }
        } else if (r->rc != ZNONODE) {
            z->failed = true;
        }
        read_done(z);
    }
    free(c);
    unref(z);
}

static void on_change(bk_zk *zk, int type, const char *path, void *ud)
{
    bk_zkacl *z = ud;
    if (z->closing) {
        unref(z);
        return;
    }
    if (type == BK_ZK_WATCH_DROPPED)
        z->rewatch = true;
    else if (z->pending > 0)
        z->reread = true;
    else
        read_all(z);
    unref(z);
}

static void on_watch_set(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    bk_zkacl *z = ud;
    if (r->rc != ZOK && !z->closing)
        z->rewatch = true;
    unref(z);
}

static void read_all(bk_zkacl *z)
{
    if (z->closing)
        return;
    z->gen++;
    if (z->fresh) { /* an older read: dropped (its completions see the new gen) */
        bk_acls_fini(z->fresh);
        free(z->fresh);
    }
    z->fresh = calloc(1, sizeof *z->fresh);
    z->failed = !z->fresh;
    z->pending = 1;
    /* re-arm the change watches with the read (one watch per path) */
    for (size_t i = 0; i < BK_ARRAY_LEN(change_paths); i++) {
        z->refs += 2;
        bk_zk_children(z->zk, change_paths[i], on_change, z, on_watch_set, z);
    }
    for (size_t t = 0; t < BK_ARRAY_LEN(kTypes) && z->fresh; t++)
        for (int pt = BK_PAT_LITERAL; pt <= BK_PAT_PREFIXED; pt++) {
            zctx *c = calloc(1, sizeof *c);
            if (!c) {
                z->failed = true;
                continue;
            }
            c->z = z;
            c->gen = z->gen;
            c->rtype = kTypes[t];
            c->ptype = pt;
            base_path(c->path, sizeof c->path, kTypes[t], pt);
            z->pending++;
            z->refs++;
            bk_zk_children(z->zk, c->path, NULL, NULL, on_children, c);
        }
    read_done(z);
}

bk_zkacl *bk_zkacl_open(bk_zk *zk, bk_zkacl_loaded_fn *loaded, void *ud)
{
    char path[256];
    for (size_t t = 0; t < BK_ARRAY_LEN(kTypes); t++)
        for (int pt = BK_PAT_LITERAL; pt <= BK_PAT_PREFIXED; pt++) {
            base_path(path, sizeof path, kTypes[t], pt);
            if (bk_zk_sync_mkdirs(zk, path, 10000) != 0)
                return NULL;
        }
    for (size_t i = 0; i < BK_ARRAY_LEN(change_paths); i++)
        if (bk_zk_sync_mkdirs(zk, change_paths[i], 10000) != 0)
            return NULL;
    bk_zkacl *z = calloc(1, sizeof *z);
    if (!z)
        return NULL;
    z->zk = zk;
    z->loaded = loaded;
    z->ud = ud;
    read_all(z);
    return z;
}

void bk_zkacl_free(bk_zkacl *z)
{
    if (!z)
        return;
    z->closing = true;
    z->gen++;
    z->refs++;
    unref(z); /* frees z now if nothing is pending */
}

void bk_zkacl_tick(bk_zkacl *z)
{
    if (z && !z->closing && z->rewatch && z->pending == 0 && bk_zk_connected(z->zk)) {
        z->rewatch = false;
        read_all(z);
    }
}

/* ----------------------------------------------------------------- write */

typedef struct wctx {
    bk_zk *zk;
    char path[1100];
    char *json; /* owned */
    int len;
    char *note; /* owned: the notification */
    int extended;
    bool failed;
    bk_zkacl_done_fn *done;
    void *ud;
} wctx;

static void wctx_free(wctx *w)
{
    free(w->json);
    free(w->note);
    free(w);
}

static void on_noted(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    wctx *w = ud;
    if (r->rc != ZOK) {
        bk_log(BK_LOG_WARN, "ACL change notification for %s failed (zk %d)", w->path, r->rc);
        w->failed = true;
    }
    if (w->done)
        w->done(w->ud, !w->failed);
    wctx_free(w);
}

static void notify(wctx *w)
{
    char p[64];
    snprintf(p, sizeof p, "%s/acl_changes_", change_paths[w->extended]);
    bk_zk_create(w->zk, p, w->note, (int)strlen(w->note), ZOO_SEQUENCE, on_noted, w);
}

static void on_created(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    wctx *w = ud;
    if (r->rc != ZOK && r->rc != ZNODEEXISTS) {
        bk_log(BK_LOG_WARN, "cannot write ACL znode %s (zk %d)", w->path, r->rc);
        w->failed = true;
    }
    notify(w);
}

static void on_set(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    wctx *w = ud;
    if (r->rc == ZNONODE) {
        bk_zk_create(zk, w->path, w->json, w->len, 0, on_created, w);
        return;
    }
    if (r->rc != ZOK) {
        bk_log(BK_LOG_WARN, "cannot write ACL znode %s (zk %d)", w->path, r->rc);
        w->failed = true;
    }
    notify(w);
}

static void on_deleted(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    wctx *w = ud;
    if (r->rc != ZOK && r->rc != ZNONODE) {
        bk_log(BK_LOG_WARN, "cannot delete ACL znode %s (zk %d)", w->path, r->rc);
        w->failed = true;
    }
    notify(w);
}

int bk_zkacl_write(bk_zkacl *z, const bk_acls *all, int rtype, int ptype, const char *name,
                   bk_zkacl_done_fn *done, void *ud)
{
    if (!z || !bk_zkacl_type_name(rtype) || strchr(name, '/')) {
        bk_log_rl(BK_LOG_WARN, "ACLs of resource '%s' cannot be stored in ZooKeeper", name);
        return BK_EINVAL;
    }
    wctx *w = calloc(1, sizeof *w);
    bk_jw j, note;
    bk_jw_init(&j);
    bk_jw_init(&note);
    int n = bk_zkacl_encode(all, rtype, ptype, name, &j);
    char base[256];
    base_path(base, sizeof base, rtype, ptype);
    if (w) {
        w->zk = z->zk;
        snprintf(w->path, sizeof w->path, "%s/%s", base, name);
        w->extended = ptype == BK_PAT_PREFIXED;
    }
    if (ptype == BK_PAT_PREFIXED) {
        bk_jw_fmt(&note, "{\"version\":1,\"resourceType\":\"%s\",\"name\":",
                  bk_zkacl_type_name(rtype));
        bk_jw_str(&note, name);
        bk_jw_raw(&note, ",\"patternType\":\"PREFIXED\"}");
    } else {
        bk_jw_fmt(&note, "%s:%s", bk_zkacl_type_name(rtype), name);
    }
    if (!w || j.err || note.err) {
        bk_log(BK_LOG_ERROR, "out of memory writing ACLs of %s", name);
        bk_jw_fini(&j);
        bk_jw_fini(&note);
        free(w);
        return BK_ENOMEM;
    }
    w->done = done;
    w->ud = ud;
    w->json = j.p;
    w->len = (int)j.len;
    w->note = note.p;
    if (n == 0)
        bk_zk_delete(z->zk, w->path, -1, on_deleted, w);
    else
        bk_zk_set(z->zk, w->path, w->json, w->len, -1, on_set, w);
    return 0;
}
