/*
 * h_quota.c - client quotas (quotas.h): the manager, the throttle mute and
 * DescribeClientQuotas / AlterClientQuotas v0-1.
 *
 * Entities on the wire: components {EntityType "user" | "client-id",
 * EntityName (null = the default entity)}. Describe filters match a
 * component exactly (MatchType 0), the default (1) or any specified
 * entity (2); Strict asks for entities with no other component. Both APIs
 * need DESCRIBE_CONFIGS / ALTER_CONFIGS on the cluster (authz.h).
 */
#include "quotas.h"

#include "../cluster/cluster.h"
#include "../cluster/zkquota.h"
#include "../core/clock.h"
#include "../core/log.h"
#include "../core/metrics.h"
#include "api_table.h"
#include "authz.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SENSORS 4096

typedef struct sensor {
    char *user, *client; /* owned */
    bk_rate rate[4];     /* BK_QUOTA_PRODUCE, _FETCH, _REQUEST, _MUTATION */
    uint64_t id;         /* unique: connections refer to it (quota_sensor) */
    double req_rate;     /* request_percentage as us/s, when last resolved */
} sensor;

#define MAX_IP_RATES 1024

typedef struct ip_rate {
    char ip[64];
    bk_rate r;
    int64_t used_ms;
} ip_rate;

typedef struct bk_quotamgr {
    ip_rate ips[MAX_IP_RATES]; /* connection_creation_rate sensors */
    int nips;
    bk_rate broker_conn;       /* max.connection.creation.rate */
    uint64_t conn_refused;     /* accepts closed by the creation rate */
    bk_quotas q;
    char *dir; /* owned: file store; NULL = cluster mode (not stored) */
    sensor *s; /* owned */
    int ns, caps;
    uint64_t next_id;
    bk_zkquota *zk; /* cluster mode store, or NULL */
} bk_quotamgr;

static void zk_loaded(void *ud, bk_quotas *fresh)
{
    bk_broker *b = ud;
    bk_quotamgr *m = b->quotas;
    if (!m)
        return;
    bk_quotas_fini(&m->q);
    m->q = *fresh;
    bk_quotas_init(fresh);
}

int bk_quotas_attach_zk(bk_broker *b)
{
    if (!b->quotas || !b->zkc || !b->zkc->zk)
        return 0;
    b->quotas->zk = bk_zkquota_open(b->zkc->zk, zk_loaded, b);
    return b->quotas->zk ? 0 : BK_EIO;
}

void bk_quotas_tick(bk_broker *b)
{
    if (b->quotas && b->quotas->zk)
        bk_zkquota_tick(b->quotas->zk);
}

int bk_quotas_open(bk_broker *b)
{
    bk_quotamgr *m = calloc(1, sizeof *m);
    if (!m)
        return BK_ENOMEM;
    bk_quotas_init(&m->q);
    b->quotas = m;
    bool zk = b->cfg->zookeeper_connect && b->cfg->zookeeper_connect[0];
    if (!zk && b->cfg->log_dirs.n > 0) {
        if (!(m->dir = strdup(b->cfg->log_dirs.v[0])))
            return BK_ENOMEM;
        int rc = bk_quotas_load_file(&m->q, m->dir);
        if (rc != 0)
            return rc;
        if (m->q.n)
            bk_log(BK_LOG_INFO, "client quotas: %d values", m->q.n);
    }
    return 0;
}

void bk_quotas_close(bk_broker *b)
{
    bk_quotamgr *m = b->quotas;
    if (!m)
        return;
    bk_zkquota_free(m->zk);
    bk_quotas_fini(&m->q);
    for (int i = 0; i < m->ns; i++) {
        free(m->s[i].user);
        free(m->s[i].client);
    }
    free(m->s);
    free(m->dir);
    free(m);
    b->quotas = NULL;
}

/* "User:alice" -> "alice" */
static const char *user_of(const bk_conn *c)
{
    const char *p = strchr(c->principal, ':');
    return p ? p + 1 : c->principal;
}

static sensor *sensor_for(bk_quotamgr *m, const char *user, const char *client)
{
    for (int i = 0; i < m->ns; i++)
        if (strcmp(m->s[i].user, user) == 0 && strcmp(m->s[i].client, client) == 0)
            return &m->s[i];
    if (m->ns >= MAX_SENSORS) /* bounded: recycle the oldest slot */
        m->ns = 0;
    if (m->ns == m->caps) {
        int cap = m->caps ? m->caps * 2 : 16;
        sensor *v = realloc(m->s, sizeof *v * (size_t)cap);
        if (!v)
            return NULL;
        m->s = v;
        m->caps = cap;
    }
    sensor *s = &m->s[m->ns];
    if (s < m->s + m->ns) {
        free(s->user);
        free(s->client);
    }
    memset(s, 0, sizeof *s);
    s->user = strdup(user);
    s->client = strdup(client);
    if (!s->user || !s->client) {
        free(s->user);
        free(s->client);
        return NULL;
    }
    s->id = ++m->next_id;
    m->ns++;
    return s;
}

static const char *const quota_keys[4] = {"producer_byte_rate", "consumer_byte_rate",
                                          "request_percentage", "controller_mutation_rate"};

/* The rate (units/s) of kind for the request's (user, client id) and its
 * sensor; NULL when no quota applies. */
static sensor *quota_of(bk_broker *b, const bk_req *req, int kind, double *rate)
{
    bk_quotamgr *m = b->quotas;
    if (!m || m->q.n == 0 || !req->conn)
        return NULL;
    char client[256];
    int cl = req->hdr.client_id.len > 0 ? (int)BK_MIN(req->hdr.client_id.len, 255) : 0;
    memcpy(client, req->hdr.client_id.p ? req->hdr.client_id.p : "", (size_t)cl);
    client[cl] = 0;
    const char *user = user_of(req->conn);
    double r = bk_quotas_resolve(&m->q, user, client, quota_keys[kind]);
    if (r <= 0)
        return NULL;
    /* request_percentage is a percentage of one thread: microseconds of
     * handler time per second */
    *rate = kind == BK_QUOTA_REQUEST ? r * 10000.0 : r;
    return sensor_for(m, user, client);
}

int32_t bk_quota_record(bk_broker *b, const bk_req *req, int kind, uint64_t bytes)
{
    double rate = 0;
    sensor *s = quota_of(b, req, kind, &rate);
    return s ? bk_rate_record(&s->rate[kind], rate, bytes, bk_now_ms()) : 0;
}

int32_t bk_quota_mutation(bk_broker *b, bk_req *req, uint64_t n, bool strict, bool *rejected)
{
    *rejected = false;
    double rate = 0;
    sensor *s = quota_of(b, req, BK_QUOTA_MUTATION, &rate);
    if (!s)
        return 0;
    int64_t now = bk_now_ms();
    /* strict (KIP-599): refused while the quota is already exceeded;
     * otherwise recorded even when it goes over (a burst is let through,
     * the throttle time says how long to wait before the next one) */
    int32_t before = bk_rate_record(&s->rate[BK_QUOTA_MUTATION], rate, 0, now);
    if (strict && before > 0) {
        *rejected = true;
    } else {
        before = bk_rate_record(&s->rate[BK_QUOTA_MUTATION], rate, n, now);
    }
    if (before > req->quota_throttle_ms)
        req->quota_throttle_ms = before; /* answered by bk_quota_on_respond */
    return before;
}

/* Requests exempt from request_percentage: before authentication, and
 * the brokers' own (replica fetches; Kafka exempts ClusterAction). */
static bool time_exempt(const bk_req *req)
{
    const bk_reqhdr *h = &req->hdr;
    if (!req->conn || !req->conn->authenticated)
        return true;
    return h->api_key == BK_API_FETCH && h->client_id.len > 7 && h->client_id.p &&
           memcmp(h->client_id.p, "broker-", 7) == 0;
}

void bk_quota_request_start(bk_broker *b, bk_req *req)
{
    req->quota_t0_us = 0;
    double rate;
    sensor *s;
    if (time_exempt(req) || !(s = quota_of(b, req, BK_QUOTA_REQUEST, &rate))) {
        if (req->conn)
            req->conn->quota_sensor = 0;
        return;
    }
    /* the time is recorded when the response is out (bk_quota_on_timing) */
    s->req_rate = rate;
    req->quota_t0_us = 1;
    req->conn->quota_sensor = s->id;
    req->conn->quota_slot = (int32_t)(s - b->quotas->s);
}

/* Take one token; refused (and not charged) when there is none. */
static bool take(bk_rate *r, double rate, int64_t now)
{
    if (bk_rate_record(r, rate, 1, now) <= 0)
        return true;
    r->credit += 1;
    return false;
}

static ip_rate *ip_sensor(bk_quotamgr *m, const char *ip, int64_t now)
{
    int lru = 0;
    for (int i = 0; i < m->nips; i++) {
        if (strcmp(m->ips[i].ip, ip) == 0)
            return &m->ips[i];
        if (m->ips[i].used_ms < m->ips[lru].used_ms)
            lru = i;
    }
    ip_rate *x = m->nips < MAX_IP_RATES ? &m->ips[m->nips++] : &m->ips[lru];
    memset(x, 0, sizeof *x);
    snprintf(x->ip, sizeof x->ip, "%s", ip);
    return x;
}

bool bk_quota_conn_allowed(bk_broker *b, const char *ip)
{
    bk_quotamgr *m = b->quotas;
    if (!m)
        return true;
    int64_t now = bk_now_ms();
    int32_t brate = b->cfg->max_connection_creation_rate;
    double irate = m->q.n ? bk_quotas_resolve_ip(&m->q, ip) : -1;
    bool ok = true;
    const char *why = NULL;
    ip_rate *x = NULL;
    if (irate > 0) {
        x = ip_sensor(m, ip, now);
        x->used_ms = now;
        if (!take(&x->r, irate, now)) {
            ok = false;
            why = "connection_creation_rate";
        }
    }
    if (ok && brate > 0 && brate != INT32_MAX && !take(&m->broker_conn, brate, now)) {
        ok = false;
        why = "max.connection.creation.rate";
        if (x)
            x->r.credit += 1; /* not let in: not charged to the ip either */
    }
    if (!ok) {
        m->conn_refused++;
        bk_log_rl(BK_LOG_INFO, "closing connection from %s: %s exceeded (%llu refused so far)", ip,
                  why, (unsigned long long)m->conn_refused);
    }
    return ok;
}

void bk_quota_on_timing(bk_broker *b, bk_conn *c, const uint64_t *us)
{
    bk_quotamgr *m = b->quotas;
    if (!m || !c->quota_sensor || c->quota_slot >= m->ns ||
        m->s[c->quota_slot].id != c->quota_sensor)
        return;
    sensor *s = &m->s[c->quota_slot];
    /* the response's sending, recorded without throttling as Kafka does
     * with its network thread time: the next response pays for it */
    (void)bk_rate_record(&s->rate[BK_QUOTA_REQUEST], s->req_rate, us[BK_RT_RESP_SEND],
                         bk_now_ms());
}

/* The ThrottleTimeMs field of a top-level response, or NULL. */
static int32_t *throttle_field(const bk_msgdesc *d, int16_t ver, void *m)
{
    for (uint16_t i = 0; i < d->nfields; i++) {
        const bk_field *f = &d->fields[i];
        if (f->type == BK_T_INT32 && BK_V_IN(f->versions, ver) &&
            strcmp(f->name, "ThrottleTimeMs") == 0)
            return (int32_t *)((char *)m + f->off);
    }
    return NULL;
}

void bk_quota_on_respond(bk_broker *b, bk_req *req, const bk_msgdesc *d, int16_t ver, void *m)
{
    /* nothing to do without quotas (every response passes here) */
    if (!b || !b->quotas || (b->quotas->q.n == 0 && !req->quota_throttle_ms))
        return;
    int32_t *tt = throttle_field(d, ver, m);
    int32_t throttle = tt ? *tt : 0;
    if (req->quota_throttle_ms > throttle)
        throttle = req->quota_throttle_ms;
    req->quota_throttle_ms = 0;
    if (req->quota_t0_us) {
        /* the handler's time: its synchronous run so far (a deferred
         * request: its run until it parked; the purgatory wait is not) */
        uint64_t used = 0;
        if (req->deferred)
            used = req->t_local_us;
        else if (req->t_start_us)
            used = bk_metrics_now_us() - req->t_start_us;
        int32_t t = bk_quota_record(b, req, BK_QUOTA_REQUEST, used);
        req->quota_t0_us = 0;
        if (t > throttle)
            throttle = t;
    }
    if (throttle <= 0)
        return;
    if (tt)
        *tt = throttle;
    /* KIP-219: the client is told and the broker stops reading its
     * connection for that long, synchronous and deferred answers alike
     * (the mute starts now; the response itself still leaves). Versions
     * whose response has no ThrottleTimeMs are muted too. */
    bk_conn_mute(req->conn, throttle);
}

int bk_quota_mute(bk_broker *b, bk_req *req, int32_t ms)
{
    if (ms > 0 && req->conn)
        bk_conn_mute(req->conn, ms);
    return 0;
}

/* ------------------------------------------------------------ the APIs */

static bool is_user(bk_str t) { return t.len == 4 && memcmp(t.p, "user", 4) == 0; }
static bool is_client(bk_str t) { return t.len == 9 && memcmp(t.p, "client-id", 9) == 0; }
static bool is_ip(bk_str t) { return t.len == 2 && memcmp(t.p, "ip", 2) == 0; }
static bool ip_kind(int k) { return k == BK_QPART_IP || k == BK_QPART_IP_DEFAULT; }

static char *cstr(bk_req *req, bk_str s)
{
    char *p = BK_ARENA_NEW(req, char, BK_MAX(s.len, 0) + 1);
    if (p && s.len > 0)
        memcpy(p, s.p, (size_t)s.len);
    return p;
}

/* A filter component against one part of a stored entity. */
static bool comp_match(int8_t mt, const char *name, int kind, const char *have)
{
    switch (mt) {
    case 0: return kind == BK_QPART_NAME && strcmp(have, name) == 0;
    case 1: return kind == BK_QPART_DEFAULT;
    case 2: return kind == BK_QPART_NAME || kind == BK_QPART_DEFAULT;
    default: return false;
    }
}

int bk_h_describe_client_quotas(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_DescribeClientQuotasRequest rq;
    BK_DECODE(req, DescribeClientQuotasRequest, &rq);
    bk_DescribeClientQuotasResponse rs;
    bk_DescribeClientQuotasResponse_init(&rs);
    rs.Entries.n = 0;
    bk_quotamgr *m = b->quotas;
    if (!bk_authz_cluster(b, req, BK_OP_DESCRIBE_CONFIGS)) {
        rs.ErrorCode = BK_KERR_CLUSTER_AUTHORIZATION_FAILED;
        rs.Entries.n = -1;
        return BK_RESPOND(req, DescribeClientQuotasResponse, ver, &rs);
    }
    /* the filter: per part, -1 = not constrained, else the match type */
    int8_t umt = -1, cmt = -1, imt = -1;
    const char *uname = "", *cname = "", *iname = "";
    for (int i = 0; i < BK_MAX(rq.Components.n, 0); i++) {
        const bk_DescribeClientQuotasRequest_ComponentData *c = &rq.Components.a[i];
        bool u = is_user(c->EntityType), cl = is_client(c->EntityType);
        if (is_ip(c->EntityType) && imt < 0 && c->MatchType >= 0 && c->MatchType <= 2) {
            imt = c->MatchType;
            iname = cstr(req, c->Match);
            continue;
        }
        if ((!u && !cl) || c->MatchType < 0 || c->MatchType > 2 || (u ? umt : cmt) >= 0) {
            rs.ErrorCode = BK_KERR_INVALID_REQUEST;
            rs.ErrorMessage = bk_str_c("Invalid or repeated entity type in the filter.");
            rs.Entries.n = -1;
            return BK_RESPOND(req, DescribeClientQuotasResponse, ver, &rs);
        }
        *(u ? &umt : &cmt) = c->MatchType;
        *(u ? &uname : &cname) = cstr(req, c->Match);
    }
    int n = m ? m->q.n : 0;
    /* one entry per distinct entity */
    int *ent = BK_ARENA_NEW(req, int, n + 1);
    rs.Entries.a = BK_ARENA_NEW(req, bk_DescribeClientQuotasResponse_EntryData, n + 1);
    if (!ent || !rs.Entries.a)
        return BK_ENOMEM;
    for (int i = 0; i < n; i++) {
        const bk_quota_val *v = &m->q.v[i];
        ent[i] = -1;
        if (imt >= 0 || ip_kind(v->ukind)) { /* IP entities (KIP-612) stand alone */
            if (umt >= 0 || cmt >= 0 || (rq.Strict && imt < 0))
                continue;
            if (imt >= 0 && !comp_match(imt, iname,
                                        v->ukind == BK_QPART_IP ? BK_QPART_NAME
                                        : v->ukind == BK_QPART_IP_DEFAULT ? BK_QPART_DEFAULT
                                                                          : BK_QPART_NONE,
                                        v->user))
                continue;
        }
        if (umt >= 0 && !comp_match(umt, uname, v->ukind, v->user))
            continue;
        if (cmt >= 0 && !comp_match(cmt, cname, v->ckind, v->client))
            continue;
        if (rq.Strict && !ip_kind(v->ukind) && ((umt < 0 && v->ukind != BK_QPART_NONE) ||
                          (cmt < 0 && v->ckind != BK_QPART_NONE)))
            continue;
        int k = 0;
        for (; k < i; k++)
            if (ent[k] >= 0 && m->q.v[k].ukind == v->ukind && m->q.v[k].ckind == v->ckind &&
                ((v->ukind != BK_QPART_NAME && v->ukind != BK_QPART_IP) ||
                 strcmp(m->q.v[k].user, v->user) == 0) &&
                (v->ckind != BK_QPART_NAME || strcmp(m->q.v[k].client, v->client) == 0))
                break;
        ent[i] = k < i ? ent[k] : rs.Entries.n++;
        bk_DescribeClientQuotasResponse_EntryData *e = &rs.Entries.a[ent[i]];
        if (k < i)
            continue;
        bk_codec_init(&bk_desc_DescribeClientQuotasResponse_EntryData, e);
        int ne = (v->ukind != BK_QPART_NONE) + (v->ckind != BK_QPART_NONE);
        e->Entity.n = ne;
        e->Entity.a = BK_ARENA_NEW(req, bk_DescribeClientQuotasResponse_EntityData, ne + 1);
        e->Values.n = 0;
        e->Values.a = BK_ARENA_NEW(req, bk_DescribeClientQuotasResponse_ValueData, n + 1);
        if (!e->Entity.a || !e->Values.a)
            return BK_ENOMEM;
        int j = 0;
        if (ip_kind(v->ukind))
            e->Entity.a[j++] = (bk_DescribeClientQuotasResponse_EntityData){
                bk_str_c("ip"), v->ukind == BK_QPART_IP ? bk_str_c(v->user) : (bk_str){NULL, -1}};
        else if (v->ukind != BK_QPART_NONE)
            e->Entity.a[j++] = (bk_DescribeClientQuotasResponse_EntityData){
                bk_str_c("user"),
                v->ukind == BK_QPART_NAME ? bk_str_c(v->user) : (bk_str){NULL, -1}};
        if (v->ckind != BK_QPART_NONE)
            e->Entity.a[j++] = (bk_DescribeClientQuotasResponse_EntityData){
                bk_str_c("client-id"),
                v->ckind == BK_QPART_NAME ? bk_str_c(v->client) : (bk_str){NULL, -1}};
    }
    for (int i = 0; i < n; i++) {
        if (ent[i] < 0)
            continue;
        bk_DescribeClientQuotasResponse_EntryData *e = &rs.Entries.a[ent[i]];
        e->Values.a[e->Values.n++] =
            (bk_DescribeClientQuotasResponse_ValueData){bk_str_c(m->q.v[i].key), m->q.v[i].value};
    }
    return BK_RESPOND(req, DescribeClientQuotasResponse, ver, &rs);
}

int bk_h_alter_client_quotas(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_AlterClientQuotasRequest rq;
    BK_DECODE(req, AlterClientQuotasRequest, &rq);
    bk_AlterClientQuotasResponse rs;
    bk_AlterClientQuotasResponse_init(&rs);
    int n = BK_MAX(rq.Entries.n, 0);
    rs.Entries.n = n;
    rs.Entries.a = BK_ARENA_NEW(req, bk_AlterClientQuotasResponse_EntryData, n + 1);
    if (!rs.Entries.a)
        return BK_ENOMEM;
    bk_quotamgr *m = b->quotas;
    bool authorized = bk_authz_cluster(b, req, BK_OP_ALTER_CONFIGS);
    bool changed = false;
    for (int i = 0; i < n; i++) {
        const bk_AlterClientQuotasRequest_EntryData *q = &rq.Entries.a[i];
        bk_AlterClientQuotasResponse_EntryData *e = &rs.Entries.a[i];
        bk_codec_init(&bk_desc_AlterClientQuotasResponse_EntryData, e);
        e->Entity.n = BK_MAX(q->Entity.n, 0);
        e->Entity.a = BK_ARENA_NEW(req, bk_AlterClientQuotasResponse_EntityData, e->Entity.n + 1);
        if (!e->Entity.a)
            return BK_ENOMEM;
        int uk = BK_QPART_NONE, ck = BK_QPART_NONE;
        const char *u = NULL, *c = NULL, *bad = NULL;
        for (int j = 0; j < e->Entity.n; j++) {
            const bk_AlterClientQuotasRequest_EntityData *d = &q->Entity.a[j];
            e->Entity.a[j] = (bk_AlterClientQuotasResponse_EntityData){d->EntityType, d->EntityName};
            int kind = d->EntityName.len < 0 ? BK_QPART_DEFAULT : BK_QPART_NAME;
            if (is_ip(d->EntityType) && uk == BK_QPART_NONE && ck == BK_QPART_NONE &&
                e->Entity.n == 1) {
                uk = kind == BK_QPART_DEFAULT ? BK_QPART_IP_DEFAULT : BK_QPART_IP;
                u = cstr(req, d->EntityName);
                unsigned char a[16];
                if (u && kind == BK_QPART_NAME && inet_pton(AF_INET, u, a) != 1 &&
                    inet_pton(AF_INET6, u, a) != 1)
                    bad = "An ip entity must be a numeric IPv4 or IPv6 address.";
            } else if (is_user(d->EntityType) && uk == BK_QPART_NONE) {
                uk = kind;
                u = cstr(req, d->EntityName);
            } else if (is_client(d->EntityType) && ck == BK_QPART_NONE) {
                ck = kind;
                c = cstr(req, d->EntityName);
            } else {
                bad = "Invalid or repeated entity type (user and client-id, or ip alone, are "
                      "supported).";
            }
        }
        if ((u && strlen(u) > 255) || (c && strlen(c) > 255))
            bad = "Entity names are limited to 255 bytes.";
        if (!bad && uk == BK_QPART_NONE && ck == BK_QPART_NONE)
            bad = "An entity needs a user or a client-id.";
        for (int j = 0; !bad && j < BK_MAX(q->Ops.n, 0); j++) {
            char *key = cstr(req, q->Ops.a[j].Key);
            if (!key || !bk_quota_key_valid(key))
                bad = "Unknown quota key.";
            else if (ip_kind(uk) != (strcmp(key, "connection_creation_rate") == 0))
                bad = ip_kind(uk) ? "An ip entity takes connection_creation_rate only."
                                  : "connection_creation_rate is a quota of ip entities.";
            else if (!q->Ops.a[j].Remove && !(q->Ops.a[j].Value > 0))
                bad = "Quota values must be positive.";
        }
        if (!authorized) {
            e->ErrorCode = BK_KERR_CLUSTER_AUTHORIZATION_FAILED;
            continue;
        }
        if (!bad && !m)
            bad = "Client quotas are not available.";
        if (!bad && !m->zk && !m->dir)
            bad = "Client quotas cannot be stored (no log dir, no ZooKeeper).";
        if (bad) {
            e->ErrorCode = BK_KERR_INVALID_REQUEST;
            e->ErrorMessage = bk_str_c(bad);
            continue;
        }
        if (rq.ValidateOnly)
            continue;
        for (int j = 0; j < BK_MAX(q->Ops.n, 0); j++) {
            const bk_AlterClientQuotasRequest_OpData *op = &q->Ops.a[j];
            if (bk_quotas_set(&m->q, uk, u, ck, c, cstr(req, op->Key), op->Value, op->Remove) !=
                0)
                e->ErrorCode = BK_KERR_UNKNOWN_SERVER_ERROR;
            changed = true;
        }
        if (m->zk) /* cluster mode: the entity's znode and a notification */
            bk_zkquota_write(m->zk, &m->q, uk, u, ck, c);
    }
    if (changed && m->dir && bk_quotas_save_file(&m->q, m->dir) != 0) {
        bk_log(BK_LOG_ERROR, "cannot store the client quotas in %s", m->dir);
        for (int i = 0; i < n; i++)
            rs.Entries.a[i].ErrorCode = BK_KERR_UNKNOWN_SERVER_ERROR;
    }
    return BK_RESPOND(req, AlterClientQuotasResponse, ver, &rs);
}
