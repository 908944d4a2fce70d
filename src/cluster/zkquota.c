/* zkquota.c - client quotas in ZooKeeper, Kafka's layout. See zkquota.h. */
#include "zkquota.h"

#include "../core/err.h"
#include "../core/log.h"
#include "zkjson.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_NAME "<default>"

static bool same_part(int k1, const char *n1, int k2, const char *n2)
{
    return k1 == k2 && ((k1 != BK_QPART_NAME && k1 != BK_QPART_IP) || strcmp(n1, n2) == 0);
}

int bk_zkquota_decode(const char *json, size_t len, int ukind, const char *user, int ckind,
                      const char *client, bk_quotas *out)
{
    bk_json *j = bk_json_parse(json, len);
    const bk_json *cfg = j ? bk_json_get(j, "config") : NULL;
    int rc = cfg && cfg->type == BK_J_OBJ ? 0 : BK_ECORRUPT;
    for (int i = 0; rc == 0 && i < cfg->nkids; i++) {
        const bk_json *kv = &cfg->kids[i];
        if (!bk_quota_key_valid(kv->key))
            continue; /* other configs (SCRAM credentials) */
        char *end = NULL;
        double v = kv->type == BK_J_STR ? strtod(kv->str, &end) : kv->num;
        if ((kv->type == BK_J_STR && (end == kv->str || *end)) ||
            (kv->type != BK_J_STR && kv->type != BK_J_NUM) || !(v > 0)) {
            rc = BK_ECORRUPT;
            break;
        }
        rc = bk_quotas_set(out, ukind, user, ckind, client, kv->key, v, false);
    }
    bk_json_free(j);
    return rc;
}

char *bk_zkquota_encode(const char *old, size_t oldlen, const bk_quotas *all, int ukind,
                        const char *user, int ckind, const char *client, int *nkeys)
{
    bk_jw w;
    bk_jw_init(&w);
    bk_jw_raw(&w, "{\"version\":1,\"config\":{");
    int n = 0;
    bk_json *j = old ? bk_json_parse(old, oldlen) : NULL;
    const bk_json *cfg = j ? bk_json_get(j, "config") : NULL;
    for (int i = 0; cfg && cfg->type == BK_J_OBJ && i < cfg->nkids; i++) {
        const bk_json *kv = &cfg->kids[i];
        if (bk_quota_key_valid(kv->key) || kv->type != BK_J_STR)
            continue;
        bk_jw_raw(&w, n++ ? "," : "");
        bk_jw_str(&w, kv->key);
        bk_jw_raw(&w, ":");
        bk_jw_str(&w, kv->str);
    }
    bk_json_free(j);
    for (int i = 0; i < all->n; i++) {
        const bk_quota_val *v = &all->v[i];
        if (!same_part(v->ukind, v->user, ukind, user) ||
            !same_part(v->ckind, v->client, ckind, client))
            continue;
        bk_jw_raw(&w, n++ ? "," : "");
        bk_jw_str(&w, v->key);
        char num[64];
        if (v->value == (double)(int64_t)v->value && v->value < 1e15)
            snprintf(num, sizeof num, "%.1f", v->value); /* Java's Double.toString */
        else
            snprintf(num, sizeof num, "%.17g", v->value);
        bk_jw_raw(&w, ":");
        bk_jw_str(&w, num);
    }
    bk_jw_raw(&w, "}}");
    *nkeys = n;
    if (w.err) {
        bk_jw_fini(&w);
        return NULL;
    }
    return w.p;
}

/* ----------------------------------------------------------- ZooKeeper */

struct bk_zkquota {
    bk_zk *zk;
    bk_zkquota_loaded_fn *loaded;
    void *ud;
    uint64_t gen;
    bk_quotas *fresh;
    int pending, refs;
    bool failed, rewatch, reread, closing;
};

typedef struct qctx {
    bk_zkquota *z;
    uint64_t gen;
    int what; /* 0 users list, 1 a user node, 2 a user's clients list, 3 a user+client node,
                 4 clients list, 5 a client node, 6 ips list, 7 an ip node */
    char user[256], client[256];
    char path[600];
} qctx;

static void read_all(bk_zkquota *z);

static bool unref(bk_zkquota *z)
{
    if (--z->refs > 0 || !z->closing)
        return false;
    if (z->fresh) {
        bk_quotas_fini(z->fresh);
        free(z->fresh);
    }
    free(z);
    return true;
}

static void read_done(bk_zkquota *z)
{
    if (--z->pending > 0 || z->closing)
        return;
    bk_quotas *fresh = z->fresh;
    z->fresh = NULL;
    if (!z->failed && fresh)
        z->loaded(z->ud, fresh);
    else
        z->rewatch = true;
    if (fresh) {
        bk_quotas_fini(fresh);
        free(fresh);
    }
    if (z->reread) {
        z->reread = false;
        read_all(z);
    }
}

static int kind_of(const char *name) { return strcmp(name, DEFAULT_NAME) == 0 ? BK_QPART_DEFAULT : BK_QPART_NAME; }

static void on_result(bk_zk *zk, const bk_zk_result *r, void *ud);

static void issue(bk_zkquota *z, const qctx *base, int what, const char *user, const char *client,
                  const char *path)
{
    qctx *c = calloc(1, sizeof *c);
    if (!c || strlen(path) >= sizeof c->path) {
        free(c);
        z->failed = true;
        return;
    }
    *c = *base;
    c->z = z;
    c->gen = z->gen;
    c->what = what;
    snprintf(c->user, sizeof c->user, "%s", user ? user : "");
    snprintf(c->client, sizeof c->client, "%s", client ? client : "");
    memcpy(c->path, path, strlen(path) + 1);
    z->pending++;
    z->refs++;
    if (what == 1 || what == 3 || what == 5 || what == 7)
        bk_zk_get(z->zk, c->path, NULL, NULL, on_result, c);
    else
        bk_zk_children(z->zk, c->path, NULL, NULL, on_result, c);
}

static void on_result(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    qctx *c = ud;
    bk_zkquota *z = c->z;
    if (c->gen == z->gen && !z->closing) {
        if (r->rc == ZOK) {
            char path[700];
            switch (c->what) {
            case 0:
                for (int i = 0; i < r->nkids; i++) {
                    snprintf(path, sizeof path, "/config/users/%s", r->kids[i]);
                    issue(z, c, 1, r->kids[i], NULL, path);
                    snprintf(path, sizeof path, "/config/users/%s/clients", r->kids[i]);
                    issue(z, c, 2, r->kids[i], NULL, path);
                }
                break;
            case 2:
                for (int i = 0; i < r->nkids; i++) {
                    snprintf(path, sizeof path, "/config/users/%s/clients/%s", c->user, r->kids[i]);
                    issue(z, c, 3, c->user, r->kids[i], path);
                }
                break;
            case 4:
                for (int i = 0; i < r->nkids; i++) {
                    snprintf(path, sizeof path, "/config/clients/%s", r->kids[i]);
                    issue(z, c, 5, NULL, r->kids[i], path);
                }
                break;
            case 6:
                for (int i = 0; i < r->nkids; i++) {
                    snprintf(path, sizeof path, "/config/ips/%s", r->kids[i]);
                    issue(z, c, 7, r->kids[i], NULL, path);
                }
                break;
            case 7:
                if (r->data && r->len > 0 &&
                    bk_zkquota_decode(r->data, (size_t)r->len,
                                      kind_of(c->user) == BK_QPART_DEFAULT ? BK_QPART_IP_DEFAULT
                                                                           : BK_QPART_IP,
                                      c->user, BK_QPART_NONE, NULL, z->fresh) != 0)
                    bk_log_rl(BK_LOG_WARN, "quota znode %s does not parse; ignored", c->path);
                break;
            default: {
                int uk = c->what == 5 ? BK_QPART_NONE : kind_of(c->user);
                int ck = c->what == 1 ? BK_QPART_NONE : kind_of(c->client);
                if (r->data && r->len > 0 &&
                    bk_zkquota_decode(r->data, (size_t)r->len, uk, c->user, ck, c->client,
                                      z->fresh) != 0)
                    bk_log_rl(BK_LOG_WARN, "quota znode %s does not parse; ignored", c->path);
            }
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
    bk_zkquota *z = ud;
    if (!z->closing) {
        if (type == BK_ZK_WATCH_DROPPED)
            z->rewatch = true;
        else if (z->pending > 0)
            z->reread = true;
        else
            read_all(z);
    }
    unref(z);
}

static void on_watch_set(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    bk_zkquota *z = ud;
    if (r->rc != ZOK && !z->closing)
        z->rewatch = true;
    unref(z);
}

static void read_all(bk_zkquota *z)
{
    if (z->closing)
        return;
    z->gen++;
    if (z->fresh) {
        bk_quotas_fini(z->fresh);
        free(z->fresh);
    }
    z->fresh = calloc(1, sizeof *z->fresh);
    z->failed = !z->fresh;
    z->pending = 1;
    z->refs += 2;
    bk_zk_children(z->zk, "/config/changes", on_change, z, on_watch_set, z);
    qctx base;
    memset(&base, 0, sizeof base);
    if (z->fresh) {
        issue(z, &base, 0, NULL, NULL, "/config/users");
        issue(z, &base, 4, NULL, NULL, "/config/clients");
        issue(z, &base, 6, NULL, NULL, "/config/ips");
    }
    read_done(z);
}

bk_zkquota *bk_zkquota_open(bk_zk *zk, bk_zkquota_loaded_fn *loaded, void *ud)
{
    static const char *const paths[] = {"/config/users", "/config/clients", "/config/ips",
                                        "/config/changes"};
    for (size_t i = 0; i < BK_ARRAY_LEN(paths); i++)
        if (bk_zk_sync_mkdirs(zk, paths[i], 10000) != 0)
            return NULL;
    bk_zkquota *z = calloc(1, sizeof *z);
    if (!z)
        return NULL;
    z->zk = zk;
    z->loaded = loaded;
    z->ud = ud;
    read_all(z);
    return z;
}

void bk_zkquota_free(bk_zkquota *z)
{
    if (!z)
        return;
    z->closing = true;
    z->gen++;
    z->refs++;
    unref(z);
}

void bk_zkquota_tick(bk_zkquota *z)
{
    if (z && !z->closing && z->rewatch && z->pending == 0 && bk_zk_connected(z->zk)) {
        z->rewatch = false;
        read_all(z);
    }
}

/* ----------------------------------------------------------------- write */

typedef struct wctx {
    bk_zk *zk;
    bk_quotas snap; /* owned: the entity's values when the write was asked */
    int uk, ck;
    char user[256], client[256];
    char path[720], entity[700];
} wctx;

static void wctx_free(wctx *w)
{
    bk_quotas_fini(&w->snap);
    free(w);
}

static void on_noted(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    wctx *w = ud;
    if (r->rc != ZOK)
        bk_log(BK_LOG_WARN, "quota change notification for %s failed (zk %d)", w->entity, r->rc);
    wctx_free(w);
}

static void notify(wctx *w)
{
    bk_jw j;
    bk_jw_init(&j);
    bk_jw_raw(&j, "{\"version\":2,\"entity_path\":");
    bk_jw_str(&j, w->entity);
    bk_jw_raw(&j, "}");
    if (j.err) {
        bk_jw_fini(&j);
        wctx_free(w);
        return;
    }
    bk_zk_create(w->zk, "/config/changes/config_change_", j.p, (int)j.len, ZOO_SEQUENCE, on_noted,
                 w);
    bk_jw_fini(&j);
}

static void on_written(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    wctx *w = ud;
    if (r->rc != ZOK)
        bk_log(BK_LOG_WARN, "cannot write quota znode %s (zk %d)", w->path, r->rc);
    notify(w);
}

static void on_old(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    wctx *w = ud;
    if (r->rc != ZOK && r->rc != ZNONODE) {
        bk_log(BK_LOG_WARN, "cannot read quota znode %s (zk %d)", w->path, r->rc);
        wctx_free(w);
        return;
    }
    int nkeys;
    char *json = bk_zkquota_encode(r->rc == ZOK ? r->data : NULL,
                                   r->rc == ZOK && r->data ? (size_t)r->len : 0, &w->snap, w->uk,
                                   w->user, w->ck, w->client, &nkeys);
    if (!json) {
        wctx_free(w);
        return;
    }
    if (r->rc == ZOK)
        bk_zk_set(zk, w->path, json, (int)strlen(json), r->stat ? r->stat->version : -1,
                  on_written, w);
    else
        bk_zk_create(zk, w->path, json, (int)strlen(json), 0, on_written, w);
    free(json);
}

static const char *seg(int kind, const char *name)
{
    return kind == BK_QPART_DEFAULT || kind == BK_QPART_IP_DEFAULT ? DEFAULT_NAME : name;
}

void bk_zkquota_write(bk_zkquota *z, const bk_quotas *all, int ukind, const char *user,
                      int ckind, const char *client)
{
    if (!z || ((ukind == BK_QPART_NAME || ukind == BK_QPART_IP) && strchr(user, '/')) ||
        (ckind == BK_QPART_NAME && strchr(client, '/')))
        return;
    wctx *w = calloc(1, sizeof *w);
    if (!w)
        return;
    w->zk = z->zk;
    w->uk = ukind;
    w->ck = ckind;
    snprintf(w->user, sizeof w->user, "%s",
             ukind == BK_QPART_NAME || ukind == BK_QPART_IP ? user : "");
    snprintf(w->client, sizeof w->client, "%s", ckind == BK_QPART_NAME ? client : "");
    bk_quotas_init(&w->snap);
    for (int i = 0; i < all->n; i++) {
        const bk_quota_val *v = &all->v[i];
        if (same_part(v->ukind, v->user, ukind, user) &&
            same_part(v->ckind, v->client, ckind, client) &&
            bk_quotas_set(&w->snap, ukind, user, ckind, client, v->key, v->value, false) != 0) {
            wctx_free(w);
            return;
        }
    }
    static const char empty[] = "{\"version\":1,\"config\":{}}";
    char p[700];
    if (ukind == BK_QPART_IP || ukind == BK_QPART_IP_DEFAULT) {
        snprintf(w->entity, sizeof w->entity, "ips/%s", seg(ukind, user));
    } else if (ukind != BK_QPART_NONE && ckind != BK_QPART_NONE) {
        /* the parents first (FIFO per session: they exist before the get) */
        snprintf(p, sizeof p, "/config/users/%s", seg(ukind, user));
        bk_zk_create(z->zk, p, empty, (int)strlen(empty), 0, NULL, NULL);
        snprintf(p, sizeof p, "/config/users/%s/clients", seg(ukind, user));
        bk_zk_create(z->zk, p, NULL, -1, 0, NULL, NULL);
        snprintf(w->entity, sizeof w->entity, "users/%s/clients/%s", seg(ukind, user),
                 seg(ckind, client));
    } else if (ukind != BK_QPART_NONE) {
        snprintf(w->entity, sizeof w->entity, "users/%s", seg(ukind, user));
    } else {
        snprintf(w->entity, sizeof w->entity, "clients/%s", seg(ckind, client));
    }
    snprintf(w->path, sizeof w->path, "/config/%s", w->entity);
    bk_zk_get(z->zk, w->path, NULL, NULL, on_old, w);
}
