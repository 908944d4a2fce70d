/*
 * h_acl.c - the authorizer (authz.h) and the ACL APIs: CreateAcls (30),
 * DescribeAcls (29), DeleteAcls (31), v0-3.
 *
 * As Kafka: without an authorizer the three APIs answer SECURITY_DISABLED;
 * DescribeAcls needs DESCRIBE on the cluster, CreateAcls and DeleteAcls
 * ALTER on the cluster (CLUSTER_AUTHORIZATION_FAILED). A binding that is
 * not valid (unknown resource type, MATCH/ANY pattern on create, CLUSTER
 * not named kafka-cluster, a principal without "Type:") is refused with
 * INVALID_REQUEST for that creation only.
 */
#include "authz.h"

#include "../cluster/cluster.h"
#include "../cluster/zkacl.h"
#include "../core/log.h"
#include "api_table.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ authorizer */

static char *dupn(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = 0;
    }
    return s;
}

int bk_authz_open(bk_broker *b)
{
    const bk_config *cfg = b->cfg;
    if (!cfg->authorizer_class_name || !cfg->authorizer_class_name[0])
        return 0;
    bk_authz *az = calloc(1, sizeof *az);
    if (!az)
        return BK_ENOMEM;
    bk_acls_init(&az->acls);
    b->authz = az;
    /* super.users: "User:a;User:b" */
    const char *su = cfg->super_users ? cfg->super_users : "";
    int cap = 1;
    for (const char *p = su; *p; p++)
        cap += *p == ';';
    az->supers = calloc((size_t)cap, sizeof *az->supers);
    if (!az->supers)
        return BK_ENOMEM;
    for (const char *p = su; *p;) {
        const char *e = strchr(p, ';');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        while (n && (*p == ' ' || *p == '\t'))
            p++, n--;
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n && !(az->supers[az->pol.nsuper++] = dupn(p, n)))
            return BK_ENOMEM;
        p = e ? e + 1 : p + strlen(p);
    }
    az->pol.super_users = (const char *const *)az->supers;
    az->pol.allow_if_no_acl = cfg->allow_everyone_if_no_acl_found;
    /* ZooKeeper mode: ready once ZooKeeper was read */
    az->ready = !(cfg->zookeeper_connect && cfg->zookeeper_connect[0]);
    if (az->ready && cfg->log_dirs.n > 0) {
        if (!(az->dir = strdup(cfg->log_dirs.v[0])))
            return BK_ENOMEM;
        int rc = bk_acls_load_file(&az->acls, az->dir);
        if (rc != 0) {
            bk_log(BK_LOG_ERROR, "cannot load %s/brook-acls: %s", az->dir, bk_strerror(rc));
            return rc;
        }
    }
    bk_log(BK_LOG_INFO, "authorizer %s: %d ACLs, %d super users, allow.everyone.if.no.acl.found=%s",
           cfg->authorizer_class_name, az->acls.n, az->pol.nsuper,
           az->pol.allow_if_no_acl ? "true" : "false");
    return 0;
}

static void zk_loaded(void *ud, bk_acls *fresh)
{
    bk_broker *b = ud;
    if (b->authz && b->authz->acls.n != fresh->n)
        bk_log(BK_LOG_INFO, "authorizer: %d ACLs from ZooKeeper", fresh->n);
    bk_authz_replace(b, fresh);
    if (b->authz)
        b->authz->ready = true;
}

int bk_authz_attach_zk(bk_broker *b)
{
    if (!b->authz || !b->zkc || !b->zkc->zk)
        return 0;
    b->authz->zk = bk_zkacl_open(b->zkc->zk, zk_loaded, b);
    return b->authz->zk ? 0 : BK_EIO;
}

void bk_authz_tick(bk_broker *b)
{
    if (b->authz && b->authz->zk)
        bk_zkacl_tick(b->authz->zk);
}

void bk_authz_close(bk_broker *b)
{
    bk_authz *az = b->authz;
    if (!az)
        return;
    bk_zkacl_free(az->zk);
    bk_acls_fini(&az->acls);
    for (int i = 0; i < az->pol.nsuper; i++)
        free(az->supers[i]);
    free(az->supers);
    free(az->dir);
    free(az);
    b->authz = NULL;
}

void bk_authz_replace(bk_broker *b, bk_acls *fresh)
{
    if (!b->authz)
        return;
    bk_acls_fini(&b->authz->acls);
    b->authz->acls = *fresh;
    bk_acls_init(fresh);
}

/* "ip:port" or "[v6]:port" -> the address */
static void peer_host(const char *peer, char *out, size_t outlen)
{
    const char *colon = strrchr(peer, ':');
    size_t n = colon ? (size_t)(colon - peer) : strlen(peer);
    if (n >= 2 && peer[0] == '[' && peer[n - 1] == ']')
        peer++, n -= 2;
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, peer, n);
    out[n] = 0;
}

bool bk_authz_any(bk_broker *b, const bk_req *req, int op, int rtype)
{
    bk_authz *az = b->authz;
    if (!az)
        return true;
    char host[64];
    peer_host(req->conn->peer, host, sizeof host);
    bk_acls none = {0};
    bk_authz_policy pol = az->pol;
    if (!az->ready)
        pol.allow_if_no_acl = false;
    return bk_acls_authorize_any(az->ready ? &az->acls : &none, &pol, req->conn->principal, host,
                                 op, rtype);
}

bool bk_authorized(bk_broker *b, const bk_req *req, int op, int rtype, const char *name,
                   size_t namelen)
{
    bk_authz *az = b->authz;
    if (!az)
        return true;
    if (!name)
        name = "";
    const bk_conn *c = req->conn;
    char host[64];
    peer_host(c->peer, host, sizeof host);
    bk_authz_policy pol = az->pol;
    bk_acls none = {0};
    if (!az->ready) /* ACLs not read yet: super users only */
        pol.allow_if_no_acl = false;
    bool ok = bk_acls_authorize(az->ready ? &az->acls : &none, &pol, c->principal, host, op, rtype,
                                name, namelen);
    if (!ok)
        bk_log_rl(BK_LOG_INFO, "authorizer: %s from %s denied %s on %s:%.*s", c->principal, host,
                  bk_acl_op_name(op), bk_acl_rtype_name(rtype), (int)BK_MIN(namelen, 200), name);
    return ok;
}

/* Make the current bindings durable. 0 or an error (the change is then
 * reported failed, and undone by the caller reloading). */
static int authz_persist(bk_broker *b)
{
    bk_authz *az = b->authz;
    if (az->dir)
        return bk_acls_save_file(&az->acls, az->dir);
    return 0;
}

/* --------------------------------------------------------------- helpers */

/* NUL-terminated copy in the request arena; NULL for a null string. */
static char *cstr(bk_req *req, bk_str s)
{
    if (s.len < 0)
        return NULL;
    char *p = BK_ARENA_NEW(req, char, s.len + 1);
    if (p) {
        memcpy(p, s.p, (size_t)s.len);
        p[s.len] = 0;
    }
    return p;
}

static bk_str mkstr(const char *s)
{
    return (bk_str){s, s ? (int32_t)strlen(s) : -1};
}

/* The same string in the arena (responses outlive a removed binding). */
static bk_str arena_str(bk_req *req, const char *s)
{
    size_t n = strlen(s);
    char *p = BK_ARENA_NEW(req, char, n + 1);
    if (!p)
        return (bk_str){"", 0};
    memcpy(p, s, n + 1);
    return (bk_str){p, (int32_t)n};
}

static bool filter_valid(const bk_acl_filter *f)
{
    return f->rtype > BK_RES_UNKNOWN && f->rtype <= BK_RES_USER && f->ptype > BK_PAT_UNKNOWN &&
           f->ptype <= BK_PAT_PREFIXED && f->op > BK_OP_UNKNOWN && f->op <= BK_OP_MAX &&
           f->perm > BK_PERM_UNKNOWN && f->perm <= BK_PERM_ALLOW;
}

/* ------------------------------------------- cluster mode: wait for ZooKeeper */

typedef struct acl_res {
    int8_t rtype, ptype;
    const char *name; /* arena */
} acl_res;

/* A CreateAcls/DeleteAcls answer waiting for its ZooKeeper writes. */
typedef struct acl_wait {
    bk_req *req;
    int pending; /* writes in flight + 1 while the handler runs */
    bool failed, deferred;
    int (*respond)(struct acl_wait *w); /* sets the errors when failed, answers */
    void *resp;                         /* arena copy of the response */
} acl_wait;

static void acl_written(void *ud, bool ok)
{
    acl_wait *w = ud;
    if (!ok)
        w->failed = true;
    if (--w->pending == 0 && w->deferred)
        bk_req_done(w->req, w->respond(w));
}

/* Write the changed resources (each once) and answer when done: returns
 * the handler's value (0 answered, BK_EAGAIN deferred). */
static int zk_write_then_respond(bk_broker *b, acl_wait *w, const acl_res *res, int nres)
{
    w->pending = 1;
    for (int i = 0; i < nres; i++) {
        bool dup = false;
        for (int k = 0; k < i && !dup; k++)
            dup = res[k].rtype == res[i].rtype && res[k].ptype == res[i].ptype &&
                  strcmp(res[k].name, res[i].name) == 0;
        if (dup)
            continue;
        w->pending++;
        if (bk_zkacl_write(b->authz->zk, &b->authz->acls, res[i].rtype, res[i].ptype, res[i].name,
                           acl_written, w) != 0) {
            w->pending--;
            w->failed = true;
        }
    }
    if (--w->pending == 0)
        return w->respond(w);
    w->deferred = true;
    w->req->hctx = NULL; /* not cancellable: ZooKeeper always answers */
    return BK_EAGAIN;
}

static int create_respond(acl_wait *w)
{
    bk_CreateAclsResponse *r = w->resp;
    for (int i = 0; w->failed && i < r->Results.n; i++)
        if (!r->Results.a[i].ErrorCode) {
            r->Results.a[i].ErrorCode = BK_KERR_UNKNOWN_SERVER_ERROR;
            r->Results.a[i].ErrorMessage = bk_str_c("The ACLs could not be written to ZooKeeper.");
        }
    return BK_RESPOND(w->req, CreateAclsResponse, w->req->hdr.api_version, r);
}

static int delete_respond(acl_wait *w)
{
    bk_DeleteAclsResponse *r = w->resp;
    for (int i = 0; w->failed && i < r->FilterResults.n; i++)
        if (!r->FilterResults.a[i].ErrorCode) {
            r->FilterResults.a[i].ErrorCode = BK_KERR_UNKNOWN_SERVER_ERROR;
            r->FilterResults.a[i].ErrorMessage =
                bk_str_c("The ACLs could not be written to ZooKeeper.");
        }
    return BK_RESPOND(w->req, DeleteAclsResponse, w->req->hdr.api_version, r);
}

/* ------------------------------------------------------------ CreateAcls */

int bk_h_create_acls(bk_broker *b, bk_req *req)
{
    bk_CreateAclsRequest m;
    BK_DECODE(req, CreateAclsRequest, &m);
    bk_CreateAclsResponse r;
    bk_CreateAclsResponse_init(&r);
    int n = m.Creations.n > 0 ? m.Creations.n : 0;
    r.Results.n = n;
    r.Results.a = BK_ARENA_NEW(req, bk_CreateAclsResponse_AclCreationResult, n);
    if (n && !r.Results.a)
        return BK_ENOMEM;
    int16_t all = 0;
    const char *allmsg = NULL;
    if (!b->authz) {
        all = BK_KERR_SECURITY_DISABLED;
        allmsg = "No Authorizer is configured on the broker";
    } else if (!bk_authz_cluster(b, req, BK_OP_ALTER)) {
        all = BK_KERR_CLUSTER_AUTHORIZATION_FAILED;
    }
    bool changed = false;
    acl_res *changed_res = BK_ARENA_NEW(req, acl_res, n + 1);
    int nchanged = 0;
    if (!changed_res)
        return BK_ENOMEM;
    for (int i = 0; i < n; i++) {
        bk_CreateAclsResponse_AclCreationResult *res = &r.Results.a[i];
        bk_codec_init(&bk_desc_CreateAclsResponse_AclCreationResult, res);
        if (all) {
            res->ErrorCode = all;
            res->ErrorMessage = mkstr(allmsg);
            continue;
        }
        const bk_CreateAclsRequest_AclCreation *c = &m.Creations.a[i];
        bk_acl a = {c->ResourceType, c->ResourcePatternType, cstr(req, c->ResourceName),
                    cstr(req, c->Principal), cstr(req, c->Host), c->Operation, c->PermissionType};
        const char *why = bk_acl_invalid(&a);
        if (why) {
            res->ErrorCode = BK_KERR_INVALID_REQUEST;
            res->ErrorMessage = mkstr(why);
            continue;
        }
        if (bk_acls_add(&b->authz->acls, &a) != 0) {
            res->ErrorCode = BK_KERR_UNKNOWN_SERVER_ERROR;
            continue;
        }
        changed = true;
        changed_res[nchanged++] = (acl_res){a.rtype, a.ptype, a.name};
    }
    if (changed && b->authz->zk) {
        /* cluster mode: the znodes and notifications first (zkacl.h) */
        acl_wait *w = BK_ARENA_NEW(req, acl_wait, 1);
        bk_CreateAclsResponse *rp = BK_ARENA_NEW(req, bk_CreateAclsResponse, 1);
        if (!w || !rp)
            return BK_ENOMEM;
        *rp = r;
        *w = (acl_wait){req, 0, false, false, create_respond, rp};
        return zk_write_then_respond(b, w, changed_res, nchanged);
    }
    if (changed && authz_persist(b) != 0) {
        bk_log(BK_LOG_ERROR, "cannot store ACLs");
        for (int i = 0; i < n; i++)
            if (!r.Results.a[i].ErrorCode)
                r.Results.a[i].ErrorCode = BK_KERR_UNKNOWN_SERVER_ERROR;
    }
    return BK_RESPOND(req, CreateAclsResponse, req->hdr.api_version, &r);
}

/* ---------------------------------------------------------- DescribeAcls */

int bk_h_describe_acls(bk_broker *b, bk_req *req)
{
    bk_DescribeAclsRequest m;
    BK_DECODE(req, DescribeAclsRequest, &m);
    bk_DescribeAclsResponse r;
    bk_DescribeAclsResponse_init(&r);
    r.Resources.n = 0;
    bk_acl_filter f = {m.ResourceTypeFilter, m.PatternTypeFilter, cstr(req, m.ResourceNameFilter),
                       cstr(req, m.PrincipalFilter), cstr(req, m.HostFilter), m.Operation,
                       m.PermissionType};
    if (!b->authz) {
        r.ErrorCode = BK_KERR_SECURITY_DISABLED;
        r.ErrorMessage = mkstr("No Authorizer is configured on the broker");
    } else if (!bk_authz_cluster(b, req, BK_OP_DESCRIBE)) {
        r.ErrorCode = BK_KERR_CLUSTER_AUTHORIZATION_FAILED;
    } else if (!filter_valid(&f)) {
        r.ErrorCode = BK_KERR_INVALID_REQUEST;
        r.ErrorMessage = mkstr("invalid ACL filter");
    }
    if (r.ErrorCode)
        return BK_RESPOND(req, DescribeAclsResponse, req->hdr.api_version, &r);

    const bk_acls *s = &b->authz->acls;
    /* group the matching bindings by resource (at most one resource per binding) */
    r.Resources.a = BK_ARENA_NEW(req, bk_DescribeAclsResponse_DescribeAclsResource, s->n + 1);
    int *owner = BK_ARENA_NEW(req, int, s->n + 1);
    if (!r.Resources.a || !owner)
        return BK_ENOMEM;
    int nres = 0;
    for (int i = 0; i < s->n; i++) {
        const bk_acl *a = &s->v[i];
        owner[i] = -1;
        if (!bk_acl_filter_matches(&f, a))
            continue;
        int k = 0;
        for (; k < nres; k++) {
            bk_DescribeAclsResponse_DescribeAclsResource *x = &r.Resources.a[k];
            if (x->ResourceType == a->rtype && x->PatternType == a->ptype &&
                strcmp(x->ResourceName.p, a->name) == 0)
                break;
        }
        if (k == nres) {
            bk_DescribeAclsResponse_DescribeAclsResource *x = &r.Resources.a[nres++];
            bk_codec_init(&bk_desc_DescribeAclsResponse_DescribeAclsResource, x);
            x->ResourceType = a->rtype;
            x->PatternType = a->ptype;
            x->ResourceName = arena_str(req, a->name);
            x->Acls.n = 0;
        }
        owner[i] = k;
        r.Resources.a[k].Acls.n++;
    }
    r.Resources.n = nres;
    for (int k = 0; k < nres; k++) {
        bk_DescribeAclsResponse_DescribeAclsResource *x = &r.Resources.a[k];
        int cnt = x->Acls.n;
        x->Acls.a = BK_ARENA_NEW(req, bk_DescribeAclsResponse_AclDescription, cnt);
        if (!x->Acls.a)
            return BK_ENOMEM;
        x->Acls.n = 0;
    }
    for (int i = 0; i < s->n; i++) {
        if (owner[i] < 0)
            continue;
        bk_DescribeAclsResponse_DescribeAclsResource *x = &r.Resources.a[owner[i]];
        bk_DescribeAclsResponse_AclDescription *d = &x->Acls.a[x->Acls.n++];
        bk_codec_init(&bk_desc_DescribeAclsResponse_AclDescription, d);
        d->Principal = arena_str(req, s->v[i].principal);
        d->Host = arena_str(req, s->v[i].host);
        d->Operation = s->v[i].op;
        d->PermissionType = s->v[i].perm;
    }
    return BK_RESPOND(req, DescribeAclsResponse, req->hdr.api_version, &r);
}

/* ------------------------------------------------------------ DeleteAcls */

typedef struct del_ctx {
    bk_req *req;
    bk_DeleteAclsResponse_DeleteAclsFilterResult *fr;
    int cap;
    acl_res *res; /* the resources whose bindings changed (cluster mode) */
    int nres;
} del_ctx;

static void on_removed(void *ud, const bk_acl *a)
{
    del_ctx *d = ud;
    if (d->fr->MatchingAcls.n >= d->cap)
        return;
    if (d->nres < d->cap) {
        d->res[d->nres].rtype = a->rtype;
        d->res[d->nres].ptype = a->ptype;
        d->res[d->nres++].name = arena_str(d->req, a->name).p;
    }
    bk_DeleteAclsResponse_DeleteAclsMatchingAcl *x = &d->fr->MatchingAcls.a[d->fr->MatchingAcls.n++];
    bk_codec_init(&bk_desc_DeleteAclsResponse_DeleteAclsMatchingAcl, x);
    x->ResourceType = a->rtype;
    x->ResourceName = arena_str(d->req, a->name);
    x->PatternType = a->ptype;
    x->Principal = arena_str(d->req, a->principal);
    x->Host = arena_str(d->req, a->host);
    x->Operation = a->op;
    x->PermissionType = a->perm;
}

int bk_h_delete_acls(bk_broker *b, bk_req *req)
{
    bk_DeleteAclsRequest m;
    BK_DECODE(req, DeleteAclsRequest, &m);
    bk_DeleteAclsResponse r;
    bk_DeleteAclsResponse_init(&r);
    int n = m.Filters.n > 0 ? m.Filters.n : 0;
    r.FilterResults.n = n;
    r.FilterResults.a = BK_ARENA_NEW(req, bk_DeleteAclsResponse_DeleteAclsFilterResult, n);
    if (n && !r.FilterResults.a)
        return BK_ENOMEM;
    int16_t all = 0;
    if (!b->authz)
        all = BK_KERR_SECURITY_DISABLED;
    else if (!bk_authz_cluster(b, req, BK_OP_ALTER))
        all = BK_KERR_CLUSTER_AUTHORIZATION_FAILED;
    bool changed = false;
    acl_res *all_res = NULL;
    int nall = 0;
    for (int i = 0; i < n; i++) {
        bk_DeleteAclsResponse_DeleteAclsFilterResult *fr = &r.FilterResults.a[i];
        bk_codec_init(&bk_desc_DeleteAclsResponse_DeleteAclsFilterResult, fr);
        fr->MatchingAcls.n = 0;
        if (all) {
            fr->ErrorCode = all;
            continue;
        }
        const bk_DeleteAclsRequest_DeleteAclsFilter *q = &m.Filters.a[i];
        bk_acl_filter f = {q->ResourceTypeFilter, q->PatternTypeFilter,
                           cstr(req, q->ResourceNameFilter), cstr(req, q->PrincipalFilter),
                           cstr(req, q->HostFilter), q->Operation, q->PermissionType};
        if (!filter_valid(&f)) {
            fr->ErrorCode = BK_KERR_INVALID_REQUEST;
            fr->ErrorMessage = mkstr("invalid ACL filter");
            continue;
        }
        int cap = b->authz->acls.n;
        fr->MatchingAcls.a = BK_ARENA_NEW(req, bk_DeleteAclsResponse_DeleteAclsMatchingAcl, cap + 1);
        if (!fr->MatchingAcls.a)
            return BK_ENOMEM;
        del_ctx d = {req, fr, cap, BK_ARENA_NEW(req, acl_res, cap + 1), 0};
        if (!d.res)
            return BK_ENOMEM;
        if (bk_acls_remove(&b->authz->acls, &f, on_removed, &d) > 0)
            changed = true;
        if (d.nres) { /* gather the changed resources of every filter */
            acl_res *v = BK_ARENA_NEW(req, acl_res, nall + d.nres);
            if (!v)
                return BK_ENOMEM;
            if (nall)
                memcpy(v, all_res, sizeof *v * (size_t)nall);
            memcpy(v + nall, d.res, sizeof *v * (size_t)d.nres);
            all_res = v;
            nall += d.nres;
        }
    }
    if (changed && b->authz->zk) {
        acl_wait *w = BK_ARENA_NEW(req, acl_wait, 1);
        bk_DeleteAclsResponse *rp = BK_ARENA_NEW(req, bk_DeleteAclsResponse, 1);
        if (!w || !rp)
            return BK_ENOMEM;
        *rp = r;
        *w = (acl_wait){req, 0, false, false, delete_respond, rp};
        return zk_write_then_respond(b, w, all_res, nall);
    }
    if (changed && authz_persist(b) != 0) {
        bk_log(BK_LOG_ERROR, "cannot store ACLs");
        for (int i = 0; i < n; i++)
            r.FilterResults.a[i].ErrorCode = BK_KERR_UNKNOWN_SERVER_ERROR;
    }
    return BK_RESPOND(req, DeleteAclsResponse, req->hdr.api_version, &r);
}
