/*
 * h_sasl.c - SaslHandshake (17), SaslAuthenticate (36),
 * DescribeUserScramCredentials (50), AlterUserScramCredentials (51), and the
 * pre-authentication gate of broker.c (bk_sasl_gate).
 *
 * Per connection (conn->sasl, freed with the connection): the mechanism
 * chosen by SaslHandshake and the SCRAM exchange in progress. A SASL
 * listener's connection starts with authenticated=false; SaslAuthenticate
 * sets it and conn->principal ("User:<name>") when the exchange succeeds.
 * Until then bk_sasl_gate lets only ApiVersions, SaslHandshake and
 * SaslAuthenticate through (anything else closes the connection, as
 * Kafka's SaslServerAuthenticator does), and conn.c bounds frames by
 * sasl.server.max.receive.size.
 *
 * A failed authentication is answered (SASL_AUTHENTICATION_FAILED with
 * Kafka's message) and the connection closed once the answer is out.
 *
 * Re-authentication (KIP-368): with connections.max.reauth.ms > 0,
 * SaslAuthenticate v1+ tells the client its SessionLifetimeMs; the client
 * re-runs SaslHandshake + SaslAuthenticate on the same connection before
 * it ends (the principal must not change). A connection whose session has
 * expired is closed on its next request other than the three above.
 *
 * Credentials: PLAIN from sasl.plain.users.file and Kafka's
 * listener.name.<l>.plain.sasl.jaas.config user_<name> options (sasl.h). SCRAM single
 * node: the broker's bk_scram_db, persisted in
 * <log.dirs[0]>/brook-scram-credentials. SCRAM cluster mode: where Kafka's
 * ZooKeeper mode keeps them, /config/users/<sanitized user> =
 * {"version":1,"config":{"SCRAM-SHA-512":"salt=...,stored_key=...,..."}};
 * a login reads the znode (the SaslAuthenticate is deferred until ZooKeeper
 * answers), AlterUserScramCredentials rewrites it (version-checked) and
 * writes Kafka's change notification /config/changes/config_change_<seq>
 * {"version":2,"entity_path":"users/<user>"}. DescribeUserScramCredentials
 * reads the znodes the same way.
 *
 * GSSAPI (Kerberos): each SaslAuthenticate carries one GSS-API token,
 * handed to Cyrus SASL (sasl_gssapi.h); the principal is the short name of
 * the client's Kerberos principal (Kafka's DEFAULT principal.to.local
 * rule), the full name is logged. GSSAPI is offered when it is in
 * sasl.enabled.mechanisms and a Krb5LoginModule JAAS entry names a
 * readable keytab.
 *
 * Thread: loop thread.
 */
#include "../cluster/cluster.h"
#include "../cluster/zk.h"
#include "../core/clock.h"
#include "../core/log.h"
#include "api_table.h"
#include "sasl.h"
#include "sasl_gssapi.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>

#define SCRAM_FILE "brook-scram-credentials"

/* Broker-wide SASL state (b->sasl). */
typedef struct bk_sasl_state {
    bk_plain_users *plain; /* NULL: no users file (PLAIN not offered) */
    bk_scram_db *scram;
    char path[4096]; /* the credential file */
} bk_sasl_state;

/* Per-connection state (conn->sasl). */
typedef struct sasl_conn {
    int mech;  /* from SaslHandshake; NONE before */
    bool busy; /* a SCRAM exchange awaits its client-final */
    bk_scram_sess scram;
    char user[BK_SASL_NAME_MAX]; /* SCRAM: the user of the exchange */
    bk_gssapi *gss;              /* GSSAPI exchange in progress, or NULL */
} sasl_conn;


/* SCRAM credentials live in ZooKeeper in ZooKeeper mode; a broker without
 * ZooKeeper (single node, or cluster mode driven by controller requests
 * in tests) keeps them in its own file. */
static bool scram_in_zk(const bk_broker *b)
{
    return b->cluster && b->zkc && b->zkc->zk;
}

static bk_sasl_state *state(bk_broker *b)
{
    if (b->sasl)
        return b->sasl;
    bk_sasl_state *s = calloc(1, sizeof *s);
    if (!s || !(s->scram = bk_scram_db_new())) {
        free(s);
        return NULL;
    }
    const bk_config *cfg = b->cfg;
    if (cfg->sasl_plain_users_file) {
        char err[512];
        s->plain = bk_plain_users_load(cfg->sasl_plain_users_file, err, sizeof err);
        if (!s->plain)
            bk_log(BK_LOG_ERROR, "SASL/PLAIN users file not loaded: %s", err);
    }
    if (cfg->plain_jaas) {
        char err[256] = "";
        if (bk_plain_users_add_text(&s->plain, cfg->plain_jaas, err, sizeof err) != 0) {
            bk_log(BK_LOG_ERROR, "SASL/PLAIN disabled: listener.name.*.plain.sasl.jaas.config: %s",
                   err);
            bk_plain_users_free(s->plain);
            s->plain = NULL;
        }
    }
    if (cfg->gssapi_jaas) {
        char err[512] = "";
        const char *svc = cfg->sasl_kerberos_service_name && cfg->sasl_kerberos_service_name[0]
                              ? cfg->sasl_kerberos_service_name
                              : "kafka";
        if (!bk_gssapi_global_init(svc, cfg->gssapi_jaas, err, sizeof err))
            bk_log(BK_LOG_ERROR, "SASL/GSSAPI disabled: %s", err);
    }
    if (!scram_in_zk(b) && cfg->log_dirs.n > 0) {
        snprintf(s->path, sizeof s->path, "%s/%s", cfg->log_dirs.v[0], SCRAM_FILE);
        int rc = bk_scram_db_load(s->scram, s->path);
        if (rc != 0)
            bk_log(BK_LOG_ERROR, "cannot load SCRAM credentials from %s: %s", s->path,
                   bk_strerror(rc));
    }
    b->sasl = s;
    return s;
}

void bk_sasl_state_free(struct bk_sasl_state *s)
{
    if (!s)
        return;
    bk_plain_users_free(s->plain);
    bk_scram_db_free(s->scram);
    free(s);
}

static void conn_sasl_free(void *p)
{
    if (p)
        bk_gssapi_free(((sasl_conn *)p)->gss);
    if (p)
        OPENSSL_cleanse(p, sizeof(sasl_conn));
    free(p);
}

static sasl_conn *conn_state(bk_conn *c)
{
    if (!c->sasl) {
        c->sasl = calloc(1, sizeof(sasl_conn));
        c->sasl_free = conn_sasl_free;
    }
    return c->sasl;
}

/* Is mech in sasl.enabled.mechanisms and servable? */
static bool mech_enabled(bk_broker *b, int mech)
{
    const bk_strlist *l = &b->cfg->sasl_enabled_mechanisms;
    for (int i = 0; i < l->n; i++)
        if (bk_sasl_mech_parse(l->v[i], strlen(l->v[i])) == mech) {
            if (mech == BK_SASL_GSSAPI)
                return state(b) && bk_gssapi_available();
            return mech != BK_SASL_PLAIN || (state(b) && state(b)->plain);
        }
    return false;
}

int bk_sasl_gate(bk_broker *b, bk_req *req)
{
    bk_conn *c = req->conn;
    int16_t k = req->hdr.api_key;
    if (k == BK_API_API_VERSIONS || k == BK_API_SASL_HANDSHAKE || k == BK_API_SASL_AUTHENTICATE)
        return 0;
    if (!c->authenticated) {
        char why[96];
        snprintf(why, sizeof why, "api key %d before SASL authentication", k);
        bk_conn_fail(c, BK_LOG_INFO, why);
        return BK_EINVAL;
    }
    if (c->session_expiry_ms && bk_now_ms() >= c->session_expiry_ms) {
        bk_conn_fail(c, BK_LOG_INFO, "SASL session expired (connections.max.reauth.ms)");
        return BK_EINVAL;
    }
    return 0;
}

/* ---------------------------------------------------------- handshake */

int bk_h_sasl_handshake(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_SaslHandshakeRequest rq;
    int rc = bk_SaslHandshakeRequest_decode(&req->body, ver, req->arena, &rq);
    if (rc)
        return rc;
    bk_SaslHandshakeResponse rs;
    bk_SaslHandshakeResponse_init(&rs);
    bk_conn *c = req->conn;
    const bk_strlist *l = &b->cfg->sasl_enabled_mechanisms;
    bk_str *names = BK_ARENA_NEW(req, bk_str, l->n > 0 ? l->n : 1);
    if (!names)
        return BK_ENOMEM;
    int n = 0;
    for (int i = 0; i < l->n; i++)
        if (mech_enabled(b, bk_sasl_mech_parse(l->v[i], strlen(l->v[i]))))
            names[n++] = bk_str_c(l->v[i]);
    rs.Mechanisms.n = n;
    rs.Mechanisms.a = names;
    int mech = rq.Mechanism.len > 0 ? bk_sasl_mech_parse(rq.Mechanism.p, (size_t)rq.Mechanism.len)
                                     : BK_SASL_NONE;
    sasl_conn *sc = conn_state(c);
    if (!sc)
        return BK_ENOMEM;
    bool sasl_listener = c->secproto == BK_SEC_SASL_PLAINTEXT || c->secproto == BK_SEC_SASL_SSL;
    if (ver == 0) {
        /* v0 is followed by raw SASL tokens outside Kafka framing, which
         * Brook does not read; clients that know v1 use it */
        rs.ErrorCode = BK_KERR_UNSUPPORTED_VERSION;
    } else if (!sasl_listener || (c->authenticated && b->cfg->connections_max_reauth_ms <= 0)) {
        rs.ErrorCode = BK_KERR_ILLEGAL_SASL_STATE;
    } else if (mech == BK_SASL_NONE || !mech_enabled(b, mech)) {
        rs.ErrorCode = BK_KERR_UNSUPPORTED_SASL_MECHANISM;
        sc->mech = BK_SASL_NONE;
    } else {
        sc->mech = mech;
        sc->busy = false;
        bk_gssapi_free(sc->gss);
        sc->gss = NULL;
    }
    return BK_RESPOND(req, SaslHandshakeResponse, ver, &rs);
}

/* ------------------------------------------------------- authenticate */

/* Answer a failed step and close the connection once the answer is out. */
static int auth_fail(bk_req *req, int16_t ver, bk_SaslAuthenticateResponse *rs, int16_t err,
                     const char *msg)
{
    rs->ErrorCode = err;
    rs->ErrorMessage = bk_str_c(msg);
    rs->AuthBytes = (bk_bytes){(const uint8_t *)"", 0};
    bk_log_rl(BK_LOG_INFO, "SASL authentication of connection %llu from %s failed: %s",
              (unsigned long long)req->conn->id, req->conn->peer, msg);
    int rc = BK_RESPOND(req, SaslAuthenticateResponse, ver, rs);
    bk_conn_close_after_output(req->conn);
    sasl_conn *sc = req->conn->sasl;
    if (sc) {
        sc->busy = false;
        sc->mech = BK_SASL_NONE;
    }
    return rc;
}

/* The exchange succeeded for user: principal, session lifetime. */
static int auth_ok(bk_broker *b, bk_req *req, int16_t ver, bk_SaslAuthenticateResponse *rs,
                   const char *user)
{
    bk_conn *c = req->conn;
    char principal[sizeof c->principal];
    snprintf(principal, sizeof principal, "User:%s", user);
    if (c->authenticated && strcmp(principal, c->principal) != 0)
        return auth_fail(req, ver, rs, BK_KERR_SASL_AUTHENTICATION_FAILED,
                         "Cannot change principals during re-authentication");
    snprintf(c->principal, sizeof c->principal, "%s", principal);
    c->authenticated = true;
    int64_t life = b->cfg->connections_max_reauth_ms;
    c->session_expiry_ms = life > 0 ? bk_now_ms() + life : 0;
    rs->SessionLifetimeMs = life > 0 ? life : 0;
    sasl_conn *sc = c->sasl;
    sc->busy = false;
    sc->mech = BK_SASL_NONE; /* a re-authentication starts with a handshake */
    bk_log(BK_LOG_DEBUG, "connection %llu from %s authenticated as %s", (unsigned long long)c->id,
           c->peer, c->principal);
    return BK_RESPOND(req, SaslAuthenticateResponse, ver, rs);
}

static const char *fail_msg(int mech, char *buf, size_t len)
{
    snprintf(buf, len,
             "Authentication failed during authentication due to invalid credentials with SASL "
             "mechanism %s",
             bk_sasl_mech_name(mech));
    return buf;
}

/* The server-first message for cred (NULL: unknown user, fail). */
static int scram_first_reply(bk_req *req, int16_t ver, const bk_scram_cred *cred)
{
    sasl_conn *sc = req->conn->sasl;
    bk_SaslAuthenticateResponse rs;
    bk_SaslAuthenticateResponse_init(&rs);
    char fail[160], out[1024];
    size_t outlen = 0;
    if (!cred)
        return auth_fail(req, ver, &rs, BK_KERR_SASL_AUTHENTICATION_FAILED,
                         fail_msg(sc->mech, fail, sizeof fail));
    uint8_t rnd[24];
    char snonce[40];
    if (RAND_bytes(rnd, sizeof rnd) != 1 ||
        bk_b64_encode(rnd, sizeof rnd, snonce, sizeof snonce) < 0)
        return BK_EIO;
    if (bk_scram_server_first(&sc->scram, cred, snonce, out, sizeof out, &outlen) != 0)
        return auth_fail(req, ver, &rs, BK_KERR_SASL_AUTHENTICATION_FAILED,
                         "Invalid SCRAM client first message");
    sc->busy = true;
    rs.AuthBytes = (bk_bytes){(const uint8_t *)out, (int32_t)outlen};
    return BK_RESPOND(req, SaslAuthenticateResponse, ver, &rs);
}

/* Kafka's Sanitizer: URL-encode the user for its znode name. */
static void sanitize(const char *u, char *out, size_t cap)
{
    size_t o = 0;
    for (; *u && o + 4 < cap; u++) {
        unsigned char ch = (unsigned char)*u;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '.' || ch == '-' || ch == '_')
            out[o++] = (char)ch;
        else
            o += (size_t)snprintf(out + o, cap - o, "%%%02X", ch);
    }
    out[o] = 0;
}

/* A SCRAM credential of one mechanism from a /config/users znode. */
static bool cred_from_znode(const char *data, int len, int mech, bk_scram_cred *out)
{
    char **keys, **vals;
    int n;
    bool ok = false;
    if (!data || len <= 0 || bk_zkj_config_parse(data, (size_t)len, &keys, &vals, &n) != 0)
        return false;
    for (int i = 0; i < n; i++) {
        if (!ok && strcmp(keys[i], bk_sasl_mech_name(mech)) == 0)
            ok = bk_scram_cred_parse(mech, vals[i], strlen(vals[i]), out) == 0;
        free(keys[i]);
        free(vals[i]);
    }
    free(keys);
    free(vals);
    return ok;
}

typedef struct zk_login {
    bk_req *req;
    int16_t ver;
} zk_login;

static void zk_login_got(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    zk_login *x = ud;
    bk_req *req = x->req;
    sasl_conn *sc = req->conn->sasl;
    bk_scram_cred cred;
    bool found = r->rc == ZOK && cred_from_znode(r->data, r->len, sc->mech, &cred);
    if (r->rc != ZOK && r->rc != ZNONODE)
        bk_log_rl(BK_LOG_WARN, "SCRAM login: reading /config/users failed (zk rc %d)", r->rc);
    int rc = req->conn->closing ? 0 : scram_first_reply(req, x->ver, found ? &cred : NULL);
    free(x);
    bk_req_done(req, rc);
}

/* Cluster mode: read the user's credential from ZooKeeper, answer later. */
static int zk_lookup(bk_broker *b, bk_req *req, int16_t ver, const char *user)
{
    zk_login *x = calloc(1, sizeof *x);
    if (!x || !b->zkc || !b->zkc->zk) {
        free(x);
        return scram_first_reply(req, ver, NULL);
    }
    x->req = req;
    x->ver = ver;
    char path[64 + 3 * BK_SASL_NAME_MAX], san[3 * BK_SASL_NAME_MAX];
    sanitize(user, san, sizeof san);
    snprintf(path, sizeof path, "/config/users/%s", san);
    bk_zk_get(b->zkc->zk, path, NULL, NULL, zk_login_got, x);
    return BK_EAGAIN;
}

/* One GSSAPI token: the next server token, or the end of the exchange. */
static int gssapi_step(bk_broker *b, bk_req *req, int16_t ver, bk_SaslAuthenticateResponse *rs,
                       sasl_conn *sc, const uint8_t *msg, size_t len)
{
    if (!sc->gss && !(sc->gss = bk_gssapi_new()))
        return auth_fail(req, ver, rs, BK_KERR_SASL_AUTHENTICATION_FAILED,
                         "Authentication failed: GSSAPI is not available");
    const uint8_t *out = NULL;
    size_t outlen = 0;
    char full[512], err[256] = "";
    int r = bk_gssapi_step(sc->gss, msg, len, &out, &outlen, full, sizeof full, err, sizeof err);
    if (r < 0) {
        char m[400];
        snprintf(m, sizeof m, "Authentication failed during authentication with SASL mechanism "
                              "GSSAPI: %s", err);
        bk_gssapi_free(sc->gss);
        sc->gss = NULL;
        return auth_fail(req, ver, rs, BK_KERR_SASL_AUTHENTICATION_FAILED, m);
    }
    /* the token lives in Cyrus's buffer until the next step: copy it */
    uint8_t *tok = outlen ? BK_ARENA_NEW(req, uint8_t, outlen) : NULL;
    if (outlen && !tok)
        return BK_ENOMEM;
    if (outlen)
        memcpy(tok, out, outlen);
    rs->AuthBytes = (bk_bytes){tok ? tok : (const uint8_t *)"", (int32_t)outlen};
    if (r == 1) {
        sc->busy = true;
        return BK_RESPOND(req, SaslAuthenticateResponse, ver, rs);
    }
    char user[BK_SASL_NAME_MAX];
    bk_gssapi_short_name(full, user, sizeof user);
    bk_gssapi_free(sc->gss);
    sc->gss = NULL;
    if (!user[0])
        return auth_fail(req, ver, rs, BK_KERR_SASL_AUTHENTICATION_FAILED,
                         "Authentication failed: empty Kerberos principal");
    bk_log(BK_LOG_INFO, "connection %llu from %s: Kerberos principal %s is User:%s",
           (unsigned long long)req->conn->id, req->conn->peer, full, user);
    return auth_ok(b, req, ver, rs, user);
}

int bk_h_sasl_authenticate(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_SaslAuthenticateRequest rq;
    int rc = bk_SaslAuthenticateRequest_decode(&req->body, ver, req->arena, &rq);
    if (rc)
        return rc;
    bk_SaslAuthenticateResponse rs;
    bk_SaslAuthenticateResponse_init(&rs);
    rs.AuthBytes = (bk_bytes){(const uint8_t *)"", 0};
    sasl_conn *sc = req->conn->sasl;
    bk_sasl_state *st = state(b);
    if (!st)
        return BK_ENOMEM;
    if (!sc || sc->mech == BK_SASL_NONE)
        return auth_fail(req, ver, &rs, BK_KERR_ILLEGAL_SASL_STATE,
                         "Unexpected SaslAuthenticate request without a SaslHandshake");
    const uint8_t *msg = rq.AuthBytes.p ? rq.AuthBytes.p : (const uint8_t *)"";
    size_t len = rq.AuthBytes.len > 0 ? (size_t)rq.AuthBytes.len : 0;
    char fail[160];
    snprintf(fail, sizeof fail,
             "Authentication failed during authentication due to invalid credentials with SASL "
             "mechanism %s",
             bk_sasl_mech_name(sc->mech));

    if (sc->mech == BK_SASL_PLAIN) {
        char user[BK_SASL_NAME_MAX], pass[BK_SASL_NAME_MAX];
        int r = bk_sasl_plain_parse(msg, len, user, pass);
        bool ok = r == 0 && bk_plain_users_check(st->plain, user, pass);
        OPENSSL_cleanse(pass, sizeof pass);
        if (!ok)
            return auth_fail(req, ver, &rs, BK_KERR_SASL_AUTHENTICATION_FAILED,
                             r == BK_EPARSE ? "Invalid SASL/PLAIN message"
                             : r != 0       ? "Authentication failed: authorization id differs"
                                            : "Authentication failed: Invalid username or password");
        return auth_ok(b, req, ver, &rs, user);
    }

    if (sc->mech == BK_SASL_GSSAPI)
        return gssapi_step(b, req, ver, &rs, sc, msg, len);

    /* SCRAM */
    char out[1024];
    size_t outlen = 0;
    if (!sc->busy) {
        bk_scram_first f;
        int r = bk_scram_server_start(&sc->scram, sc->mech, msg, len, &f);
        if (r != 0)
            return auth_fail(req, ver, &rs, BK_KERR_SASL_AUTHENTICATION_FAILED,
                             r == BK_EINVAL ? "Authentication failed: unsupported SCRAM request"
                                            : "Invalid SCRAM client first message");
        snprintf(sc->user, sizeof sc->user, "%s", f.user);
        if (scram_in_zk(b))
            return zk_lookup(b, req, ver, f.user);
        return scram_first_reply(req, ver, bk_scram_db_get(st->scram, f.user, sc->mech));
    }
    int r = bk_scram_server_final(&sc->scram, msg, len, out, sizeof out, &outlen);
    if (r != 0)
        return auth_fail(req, ver, &rs, BK_KERR_SASL_AUTHENTICATION_FAILED,
                         r == BK_ENOENT ? fail
                         : r == BK_EINVAL
                             ? "Invalid SCRAM client final message: nonce or channel binding mismatch"
                             : "Invalid SCRAM client final message");
    rs.AuthBytes = (bk_bytes){(const uint8_t *)out, (int32_t)outlen};
    return auth_ok(b, req, ver, &rs, sc->user);
}

/* ------------------------------------------------- SCRAM credential admin */

/* The answer from the credentials in db. */
static int describe_reply(bk_req *req, int16_t ver, const bk_DescribeUserScramCredentialsRequest *rqp,
                          const bk_scram_db *db)
{
    bk_DescribeUserScramCredentialsRequest rq = *rqp;
    bk_DescribeUserScramCredentialsResponse rs;
    bk_DescribeUserScramCredentialsResponse_init(&rs);
    typedef bk_DescribeUserScramCredentialsResponse_DescribeUserScramCredentialsResult res_t;
    typedef bk_DescribeUserScramCredentialsResponse_CredentialInfo info_t;
    const char *u;
    const bk_scram_cred *c;
    int total = 0;
    while (bk_scram_db_at(db, total, &u, &c))
        total++;
    /* the users asked for, or every user with a credential (null/empty list) */
    int nask = rq.Users.n > 0 ? rq.Users.n : 0;
    int cap = nask ? nask : total;
    res_t *res = BK_ARENA_NEW(req, res_t, cap > 0 ? cap : 1);
    if (!res)
        return BK_ENOMEM;
    int n = 0;
    if (nask) {
        for (int i = 0; i < nask; i++) {
            bk_str name = rq.Users.a[i].Name;
            char *nm = bk_arena_alloc(req->arena, (size_t)(name.len > 0 ? name.len : 0) + 1);
            if (!nm)
                return BK_ENOMEM;
            if (name.len > 0)
                memcpy(nm, name.p, (size_t)name.len);
            nm[name.len > 0 ? name.len : 0] = 0;
            res_t *r = &res[n++];
            memset(r, 0, sizeof *r);
            r->User = bk_str_c(nm);
            r->ErrorMessage = (bk_str){NULL, -1};
            bool dup = false;
            for (int j = 0; j < i; j++)
                dup |= rq.Users.a[j].Name.len == name.len &&
                       (name.len <= 0 || memcmp(rq.Users.a[j].Name.p, name.p, (size_t)name.len) == 0);
            if (dup) {
                r->ErrorCode = BK_KERR_DUPLICATE_RESOURCE;
                r->ErrorMessage = bk_str_c("Cannot describe SCRAM credentials for the same user "
                                           "twice in a single request");
                continue;
            }
            info_t *inf = BK_ARENA_NEW(req, info_t, 2);
            if (!inf)
                return BK_ENOMEM;
            int k = 0;
            for (int m = BK_SCRAM_SHA_256; m <= BK_SCRAM_SHA_512; m++)
                if ((c = bk_scram_db_get(db, nm, m)) != NULL)
                    inf[k++] = (info_t){(int8_t)m, c->iterations};
            if (!k) {
                r->ErrorCode = BK_KERR_RESOURCE_NOT_FOUND;
                r->ErrorMessage =
                    bk_str_c("Attempt to describe a user credential that does not exist");
            }
            r->CredentialInfos.n = k;
            r->CredentialInfos.a = inf;
        }
    } else {
        for (int i = 0; i < total; i++) {
            bk_scram_db_at(db, i, &u, &c);
            int j;
            for (j = 0; j < n; j++)
                if (strcmp(res[j].User.p, u) == 0)
                    break;
            if (j == n) {
                memset(&res[n], 0, sizeof res[n]);
                res[n].User = bk_str_c(u);
                res[n].ErrorMessage = (bk_str){NULL, -1};
                res[n].CredentialInfos.a = BK_ARENA_NEW(req, info_t, 2);
                if (!res[n].CredentialInfos.a)
                    return BK_ENOMEM;
                n++;
            }
            res[j].CredentialInfos.a[res[j].CredentialInfos.n++] =
                (info_t){(int8_t)c->mech, c->iterations};
        }
    }
    rs.ErrorMessage = (bk_str){NULL, -1};
    rs.Results.n = n;
    rs.Results.a = res;
    return BK_RESPOND(req, DescribeUserScramCredentialsResponse, ver, &rs);
}

/* Cluster mode: the users' znodes read into a temporary db, then the same
 * answer. */
typedef struct zk_describe {
    bk_broker *b;
    bk_req *req;
    int16_t ver;
    bk_DescribeUserScramCredentialsRequest rq;
    bk_scram_db *db;
    char **names; /* owned: users to read */
    int n, i;
} zk_describe;

static void describe_next(zk_describe *x);

static void describe_got(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    zk_describe *x = ud;
    for (int m = BK_SCRAM_SHA_256; r->rc == ZOK && m <= BK_SCRAM_SHA_512; m++) {
        bk_scram_cred c;
        if (cred_from_znode(r->data, r->len, m, &c))
            (void)bk_scram_db_put(x->db, x->names[x->i], &c);
    }
    x->i++;
    describe_next(x);
}

static void describe_next(zk_describe *x)
{
    if (x->i < x->n) {
        char san[3 * BK_SASL_NAME_MAX], path[64 + 3 * BK_SASL_NAME_MAX];
        sanitize(x->names[x->i], san, sizeof san);
        snprintf(path, sizeof path, "/config/users/%s", san);
        bk_zk_get(x->b->zkc->zk, path, NULL, NULL, describe_got, x);
        return;
    }
    bk_req *req = x->req;
    int rc = req->conn->closing ? 0 : describe_reply(req, x->ver, &x->rq, x->db);
    for (int i = 0; i < x->n; i++)
        free(x->names[i]);
    free(x->names);
    bk_scram_db_free(x->db);
    free(x);
    bk_req_done(req, rc);
}

/* "%XX" of a sanitized znode name back to the user name. */
static char *unsanitize(const char *s)
{
    char *out = malloc(strlen(s) + 1);
    size_t o = 0;
    for (; out && *s; s++) {
        unsigned v;
        if (*s == '%' && s[1] && s[2] && sscanf(s + 1, "%2x", &v) == 1) {
            out[o++] = (char)v;
            s += 2;
        } else {
            out[o++] = *s;
        }
    }
    if (out)
        out[o] = 0;
    return out;
}

static void describe_children(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    zk_describe *x = ud;
    if (r->rc == ZOK && r->nkids > 0 && (x->names = calloc((size_t)r->nkids, sizeof *x->names)))
        for (int i = 0; i < r->nkids; i++)
            if ((x->names[x->n] = unsanitize(r->kids[i])) != NULL)
                x->n++;
    describe_next(x);
}

int bk_h_describe_user_scram_credentials(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_DescribeUserScramCredentialsRequest rq;
    int rc = bk_DescribeUserScramCredentialsRequest_decode(&req->body, ver, req->arena, &rq);
    if (rc)
        return rc;
    bk_sasl_state *st = state(b);
    if (!st)
        return BK_ENOMEM;
    if (!scram_in_zk(b))
        return describe_reply(req, ver, &rq, st->scram);
    zk_describe *x = calloc(1, sizeof *x);
    if (!x || !(x->db = bk_scram_db_new()) || !b->zkc || !b->zkc->zk) {
        if (x)
            bk_scram_db_free(x->db);
        free(x);
        return BK_ENOMEM;
    }
    x->b = b;
    x->req = req;
    x->ver = ver;
    x->rq = rq;
    if (rq.Users.n > 0) {
        x->names = calloc((size_t)rq.Users.n, sizeof *x->names);
        for (int i = 0; x->names && i < rq.Users.n; i++) {
            bk_str nm = rq.Users.a[i].Name;
            if ((x->names[x->n] = strndup(nm.len > 0 ? nm.p : "", nm.len > 0 ? (size_t)nm.len : 0)))
                x->n++;
        }
        describe_next(x);
    } else {
        bk_zk_children(b->zkc->zk, "/config/users", NULL, NULL, describe_children, x);
    }
    return BK_EAGAIN;
}

/* ---- cluster mode: AlterUserScramCredentials against /config/users ---- */

typedef bk_AlterUserScramCredentialsResponse_AlterUserScramCredentialsResult alter_res;

typedef struct alter_op {
    int user;      /* index into the results (one per user) */
    int mech;
    bool del;
    bk_scram_cred cred;
} alter_op;

typedef struct zk_alter {
    bk_broker *b;
    bk_req *req;
    int16_t ver;
    alter_res *res;
    int nres;
    alter_op *ops;
    int nops;
    int cur;          /* the user being written */
    char path[64 + 3 * BK_SASL_NAME_MAX];
    char *json;       /* owned: the new znode */
    int version;      /* of the znode read; -1: it did not exist */
} zk_alter;

static void alter_next(zk_alter *x);

static void alter_finish(zk_alter *x)
{
    bk_req *req = x->req;
    int rc = 0;
    if (!req->conn->closing) {
        bk_AlterUserScramCredentialsResponse rs;
        bk_AlterUserScramCredentialsResponse_init(&rs);
        rs.Results.n = x->nres;
        rs.Results.a = x->res;
        rc = BK_RESPOND(req, AlterUserScramCredentialsResponse, x->ver, &rs);
    }
    free(x->ops);
    free(x->json);
    free(x);
    bk_req_done(req, rc);
}

static void alter_user_failed(zk_alter *x, int zrc)
{
    alter_res *r = &x->res[x->cur];
    if (!r->ErrorCode) {
        r->ErrorCode = BK_KERR_UNKNOWN_SERVER_ERROR;
        r->ErrorMessage = bk_str_c("Could not write the credential to ZooKeeper");
        bk_log_rl(BK_LOG_WARN, "AlterUserScramCredentials: %s: zk rc %d", x->path, zrc);
    }
    x->cur++;
    alter_next(x);
}

static void alter_notified(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    zk_alter *x = ud;
    x->cur++;
    alter_next(x);
}

static void alter_written(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    zk_alter *x = ud;
    if (r->rc != ZOK) {
        alter_user_failed(x, r->rc);
        return;
    }
    /* Kafka's change notification, so every broker rereads the entity */
    char san[3 * BK_SASL_NAME_MAX], note[80 + 3 * BK_SASL_NAME_MAX];
    sanitize(x->res[x->cur].User.p, san, sizeof san);
    bk_jw w;
    bk_jw_init(&w);
    bk_jw_raw(&w, "{\"version\":2,\"entity_path\":");
    snprintf(note, sizeof note, "users/%s", san);
    bk_jw_str(&w, note);
    bk_jw_raw(&w, "}");
    bk_zk_create(zk, "/config/changes/config_change_", w.p, (int)w.len, ZOO_SEQUENCE,
                 alter_notified, x);
    bk_jw_fini(&w);
}

static void alter_parent(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    (void)r; /* ZNODEEXISTS is fine */
}

static void alter_got(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    zk_alter *x = ud;
    if (r->rc != ZOK && r->rc != ZNONODE) {
        alter_user_failed(x, r->rc);
        return;
    }
    char **keys = NULL, **vals = NULL;
    int n = 0;
    if (r->rc == ZOK && r->data && r->len > 0 &&
        bk_zkj_config_parse(r->data, (size_t)r->len, &keys, &vals, &n) != 0) {
        alter_user_failed(x, ZOK);
        return;
    }
    x->version = r->rc == ZOK && r->stat ? r->stat->version : -1;
    /* apply this user's operations to the config map (room for 2 more) */
    char **nk = realloc(keys, (size_t)(n + 2) * sizeof *nk);
    if (nk)
        keys = nk;
    char **nv = realloc(vals, (size_t)(n + 2) * sizeof *nv);
    if (nv)
        vals = nv;
    alter_res *res = &x->res[x->cur];
    for (int i = 0; nk && nv && i < x->nops && !res->ErrorCode; i++) {
        alter_op *op = &x->ops[i];
        if (op->user != x->cur)
            continue;
        const char *mn = bk_sasl_mech_name(op->mech);
        int at = -1;
        for (int k = 0; k < n; k++)
            if (strcmp(keys[k], mn) == 0)
                at = k;
        if (op->del) {
            if (at < 0) {
                res->ErrorCode = BK_KERR_RESOURCE_NOT_FOUND;
                res->ErrorMessage =
                    bk_str_c("Attempt to delete a user credential that does not exist");
                break;
            }
            free(keys[at]);
            free(vals[at]);
            keys[at] = keys[n - 1];
            vals[at] = vals[n - 1];
            n--;
        } else {
            char txt[600];
            if (bk_scram_cred_format(&op->cred, txt, sizeof txt) != 0)
                continue;
            if (at < 0) {
                keys[n] = strdup(mn);
                vals[n] = strdup(txt);
                n++;
            } else {
                free(vals[at]);
                vals[at] = strdup(txt);
            }
        }
    }
    bool ok = nk && nv && !res->ErrorCode;
    for (int k = 0; ok && k < n; k++)
        ok = keys[k] && vals[k];
    if (ok) {
        bk_jw w;
        bk_jw_init(&w);
        bk_zkj_config(&w, keys, vals, n);
        free(x->json);
        x->json = w.err ? NULL : strndup(w.p, w.len);
        bk_jw_fini(&w);
        ok = x->json != NULL;
    }
    for (int k = 0; k < n; k++) {
        free(keys[k]);
        free(vals[k]);
    }
    free(keys);
    free(vals);
    if (res->ErrorCode) { /* nothing written for this user */
        x->cur++;
        alter_next(x);
        return;
    }
    if (!ok) {
        alter_user_failed(x, ZOK);
        return;
    }
    if (x->version >= 0) {
        bk_zk_set(zk, x->path, x->json, (int)strlen(x->json), x->version, alter_written, x);
    } else {
        bk_zk_create(zk, "/config", NULL, -1, 0, alter_parent, NULL);
        bk_zk_create(zk, "/config/users", NULL, -1, 0, alter_parent, NULL);
        bk_zk_create(zk, "/config/changes", NULL, -1, 0, alter_parent, NULL);
        bk_zk_create(zk, x->path, x->json, (int)strlen(x->json), 0, alter_written, x);
    }
}

/* The next user with operations and no error yet, or the answer. */
static void alter_next(zk_alter *x)
{
    for (; x->cur < x->nres; x->cur++) {
        if (x->res[x->cur].ErrorCode)
            continue;
        char san[3 * BK_SASL_NAME_MAX];
        sanitize(x->res[x->cur].User.p, san, sizeof san);
        snprintf(x->path, sizeof x->path, "/config/users/%s", san);
        bk_zk_get(x->b->zkc->zk, x->path, NULL, NULL, alter_got, x);
        return;
    }
    alter_finish(x);
}

static char *arena_str(bk_req *req, bk_str s)
{
    size_t n = s.len > 0 ? (size_t)s.len : 0;
    char *p = bk_arena_alloc(req->arena, n + 1);
    if (p) {
        if (n)
            memcpy(p, s.p, n);
        p[n] = 0;
    }
    return p;
}

static bool zx_add(zk_alter *x, int user, int mech, bool del, const bk_scram_cred *c)
{
    alter_op *op = &x->ops[x->nops++];
    op->user = user;
    op->mech = mech;
    op->del = del;
    if (c)
        op->cred = *c;
    return true;
}

int bk_h_alter_user_scram_credentials(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_AlterUserScramCredentialsRequest rq;
    int rc = bk_AlterUserScramCredentialsRequest_decode(&req->body, ver, req->arena, &rq);
    if (rc)
        return rc;
    bk_AlterUserScramCredentialsResponse rs;
    bk_AlterUserScramCredentialsResponse_init(&rs);
    bk_sasl_state *st = state(b);
    if (!st)
        return BK_ENOMEM;
    typedef bk_AlterUserScramCredentialsResponse_AlterUserScramCredentialsResult res_t;
    int nd = rq.Deletions.n > 0 ? rq.Deletions.n : 0, nu = rq.Upsertions.n > 0 ? rq.Upsertions.n : 0;
    res_t *res = BK_ARENA_NEW(req, res_t, nd + nu + 1);
    if (!res)
        return BK_ENOMEM;
    int n = 0;
    bool changed = false;
    zk_alter *zx = NULL;
    if (scram_in_zk(b)) {
        if (!(zx = calloc(1, sizeof *zx)) ||
            !(zx->ops = calloc((size_t)(nd + nu + 1), sizeof *zx->ops))) {
            if (zx)
                free(zx);
            return BK_ENOMEM;
        }
        zx->b = b;
        zx->req = req;
        zx->ver = ver;
    }
    /* one result per user; the first error of a user wins */
    for (int i = 0; i < nd + nu; i++) {
        bool del = i < nd;
        bk_str name = del ? rq.Deletions.a[i].Name : rq.Upsertions.a[i - nd].Name;
        int8_t mech = del ? rq.Deletions.a[i].Mechanism : rq.Upsertions.a[i - nd].Mechanism;
        char *user = arena_str(req, name);
        if (!user)
            return BK_ENOMEM;
        res_t *r = NULL;
        for (int j = 0; j < n && !r; j++)
            if (strcmp(res[j].User.p, user) == 0)
                r = &res[j];
        if (!r) {
            r = &res[n++];
            memset(r, 0, sizeof *r);
            r->User = bk_str_c(user);
            r->ErrorMessage = (bk_str){NULL, -1};
        }
        if (r->ErrorCode)
            continue;
        int16_t err = 0;
        const char *msg = NULL;
        bk_scram_cred cred;
        if (!user[0]) {
            err = BK_KERR_UNACCEPTABLE_CREDENTIAL;
            msg = "Username must not be empty";
        } else if (mech != BK_SCRAM_SHA_256 && mech != BK_SCRAM_SHA_512) {
            err = BK_KERR_UNSUPPORTED_SASL_MECHANISM;
            msg = "Unknown SCRAM mechanism";
        } else if (del && zx) {
            if (!zx_add(zx, (int)(r - res), mech, true, NULL))
                return BK_ENOMEM;
        } else if (del) {
            if (bk_scram_db_del(st->scram, user, mech) != 0) {
                err = BK_KERR_RESOURCE_NOT_FOUND;
                msg = "Attempt to delete a user credential that does not exist";
            } else {
                changed = true;
            }
        } else {
            const bk_AlterUserScramCredentialsRequest_ScramCredentialUpsertion *u =
                &rq.Upsertions.a[i - nd];
            if (u->Iterations < BK_SCRAM_MIN_ITERATIONS) {
                err = BK_KERR_UNACCEPTABLE_CREDENTIAL;
                msg = "Too few iterations";
            } else if (u->Iterations > BK_SCRAM_MAX_ITERATIONS) {
                err = BK_KERR_UNACCEPTABLE_CREDENTIAL;
                msg = "Too many iterations";
            } else if (u->Salt.len <= 0 || u->SaltedPassword.len <= 0 ||
                       bk_scram_cred_from_salted(mech, u->SaltedPassword.p,
                                                 (size_t)u->SaltedPassword.len, u->Salt.p,
                                                 (size_t)u->Salt.len, u->Iterations, &cred) != 0) {
                err = BK_KERR_UNACCEPTABLE_CREDENTIAL;
                msg = "Invalid salt or salted password";
            } else if (zx) {
                if (!zx_add(zx, (int)(r - res), mech, false, &cred))
                    return BK_ENOMEM;
            } else if (bk_scram_db_put(st->scram, user, &cred) != 0) {
                return BK_ENOMEM;
            } else {
                changed = true;
            }
        }
        r->ErrorCode = err;
        if (msg)
            r->ErrorMessage = bk_str_c(msg);
    }
    if (zx) {
        /* cluster mode: write each user's znode in turn, then answer */
        zx->res = res;
        zx->nres = n;
        alter_next(zx);
        return BK_EAGAIN;
    }
    if (changed && st->path[0] && (rc = bk_scram_db_save(st->scram, st->path)) != 0) {
        bk_log(BK_LOG_ERROR, "cannot write SCRAM credentials to %s: %s", st->path,
               bk_strerror(rc));
        for (int j = 0; j < n; j++)
            if (!res[j].ErrorCode) {
                res[j].ErrorCode = BK_KERR_UNKNOWN_SERVER_ERROR;
                res[j].ErrorMessage = bk_str_c("Could not persist the credential");
            }
    }
    rs.Results.n = n;
    rs.Results.a = res;
    return BK_RESPOND(req, AlterUserScramCredentialsResponse, ver, &rs);
}
