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
 * Credentials: PLAIN from sasl.plain.users.file (sasl.h); SCRAM in the
 * broker's bk_scram_db, persisted in <log.dirs[0]>/brook-scram-credentials
 * (single-node mode). Cluster mode does not store SCRAM credentials yet
 * (AlterUserScramCredentials answers an error there; see docs/security.md).
 *
 * Thread: loop thread.
 */
#include "../core/clock.h"
#include "../core/log.h"
#include "api_table.h"
#include "sasl.h"

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
} sasl_conn;

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
            bk_log(BK_LOG_ERROR, "SASL/PLAIN disabled: %s", err);
    }
    if (!b->cluster && cfg->log_dirs.n > 0) {
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
        if (bk_sasl_mech_parse(l->v[i], strlen(l->v[i])) == mech)
            return mech != BK_SASL_PLAIN || (state(b) && state(b)->plain);
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
        const bk_scram_cred *cred = bk_scram_db_get(st->scram, f.user, sc->mech);
        if (!cred)
            return auth_fail(req, ver, &rs, BK_KERR_SASL_AUTHENTICATION_FAILED, fail);
        uint8_t rnd[24];
        char snonce[40];
        if (RAND_bytes(rnd, sizeof rnd) != 1 ||
            bk_b64_encode(rnd, sizeof rnd, snonce, sizeof snonce) < 0)
            return BK_EIO;
        r = bk_scram_server_first(&sc->scram, cred, snonce, out, sizeof out, &outlen);
        if (r != 0)
            return auth_fail(req, ver, &rs, BK_KERR_SASL_AUTHENTICATION_FAILED,
                             "Invalid SCRAM client first message");
        sc->busy = true;
        rs.AuthBytes = (bk_bytes){(const uint8_t *)out, (int32_t)outlen};
        snprintf(sc->user, sizeof sc->user, "%s", f.user);
        return BK_RESPOND(req, SaslAuthenticateResponse, ver, &rs);
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

int bk_h_describe_user_scram_credentials(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_DescribeUserScramCredentialsRequest rq;
    int rc = bk_DescribeUserScramCredentialsRequest_decode(&req->body, ver, req->arena, &rq);
    if (rc)
        return rc;
    bk_DescribeUserScramCredentialsResponse rs;
    bk_DescribeUserScramCredentialsResponse_init(&rs);
    bk_sasl_state *st = state(b);
    if (!st)
        return BK_ENOMEM;
    typedef bk_DescribeUserScramCredentialsResponse_DescribeUserScramCredentialsResult res_t;
    typedef bk_DescribeUserScramCredentialsResponse_CredentialInfo info_t;
    const char *u;
    const bk_scram_cred *c;
    int total = 0;
    while (bk_scram_db_at(st->scram, total, &u, &c))
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
                if ((c = bk_scram_db_get(st->scram, nm, m)) != NULL)
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
            bk_scram_db_at(st->scram, i, &u, &c);
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
        if (b->cluster) {
            err = BK_KERR_UNSUPPORTED_VERSION;
            msg = "Brook stores SCRAM credentials in single-node mode only (for now)";
        } else if (!user[0]) {
            err = BK_KERR_UNACCEPTABLE_CREDENTIAL;
            msg = "Username must not be empty";
        } else if (mech != BK_SCRAM_SHA_256 && mech != BK_SCRAM_SHA_512) {
            err = BK_KERR_UNSUPPORTED_SASL_MECHANISM;
            msg = "Unknown SCRAM mechanism";
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
