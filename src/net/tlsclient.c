/*
 * tlsclient.c - see tlsclient.h.
 */
#include "tlsclient.h"

#include "../broker/sasl_client.h"
#include "../core/buf.h"
#include "../core/err.h"
#include "../proto/api.h"
#include "../proto/bkgen_msgs.h"
#include "ev.h"
#include "tls.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define KEY_SASL_HANDSHAKE 17
#define KEY_SASL_AUTH      36
#define SASL_FRAME_MAX     65536 /* answers before authentication are small */

struct bk_ibconn_ctx {
    int proto;       /* 0 PLAINTEXT, 1 SSL, 2 SASL_PLAINTEXT, 3 SASL_SSL */
    bk_tls_ctx *tls; /* SSL and SASL_SSL */
    int mech;        /* BK_SASL_PLAIN / BK_SCRAM_SHA_256 / BK_SCRAM_SHA_512 */
    char user[BK_SASL_NAME_MAX], pass[BK_SASL_NAME_MAX];
};

/* phases of the handshake */
enum { P_TLS, P_SASL_START, P_SEND, P_RECV, P_DONE };
/* SASL steps (the request in flight) */
enum { S_HANDSHAKE, S_AUTH1, S_AUTH2 };

struct bk_ibsock {
    int fd;
    bk_tls *tls; /* NULL: no TLS */
    const bk_ibconn_ctx *x;
    int phase, step;
    int32_t corr;
    bk_wr out;
    size_t out_off;
    uint8_t *in;
    size_t in_len;
    bk_scram_client scram;
};

static const char *const proto_names[] = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"};

bk_ibconn_ctx *bk_ibconn_ctx_new(const bk_config *cfg, char *err, size_t errlen)
{
    int proto = 0;
    if (cfg->nadvertised_eps > 0 && cfg->inter_broker_ep >= 0 &&
        cfg->inter_broker_ep < cfg->nadvertised_eps)
        proto = bk_config_listener_secproto(cfg, cfg->advertised_eps[cfg->inter_broker_ep].name);
    if (proto < 0 || proto > 3)
        proto = 0;
    bk_ibconn_ctx *x = calloc(1, sizeof *x);
    if (!x) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    x->proto = proto;
    if (proto >= 2) {
        const char *m = cfg->sasl_mechanism_inter_broker_protocol;
        x->mech = m ? bk_sasl_mech_parse(m, strlen(m)) : BK_SASL_NONE;
        const char *jaas = x->mech == BK_SASL_PLAIN ? cfg->plain_jaas : cfg->scram_jaas;
        if (x->mech == BK_SASL_NONE) {
            snprintf(err, errlen, "sasl.mechanism.inter.broker.protocol %s is not supported "
                                  "between brokers (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)",
                     m ? m : "(none)");
            free(x);
            return NULL;
        }
        if (bk_jaas_credentials(jaas, x->user, sizeof x->user, x->pass, sizeof x->pass) != 0) {
            snprintf(err, errlen, "no username=\"...\" password=\"...\" for %s in the "
                                  "listener's sasl.jaas.config",
                     bk_sasl_mech_name(x->mech));
            free(x);
            return NULL;
        }
    }
    if ((proto == 1 || proto == 3) && !(x->tls = bk_tls_client_ctx_new(cfg, err, errlen))) {
        bk_ibconn_ctx_free(x);
        return NULL;
    }
    return x;
}

void bk_ibconn_ctx_free(bk_ibconn_ctx *x)
{
    if (!x)
        return;
    bk_tls_ctx_free(x->tls);
    OPENSSL_cleanse(x->pass, sizeof x->pass);
    free(x);
}

const char *bk_ibconn_ctx_proto(const bk_ibconn_ctx *x)
{
    return proto_names[x ? x->proto : 0];
}

bk_ibsock *bk_ibsock_new(bk_ibconn_ctx *x, int fd, const char *host)
{
    bk_ibsock *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->fd = fd;
    s->x = x;
    s->phase = P_TLS;
    bk_wr_init(&s->out, 512);
    if (x && x->tls && !(s->tls = bk_tls_client_new(x->tls, fd, host))) {
        bk_wr_fini(&s->out);
        free(s);
        return NULL;
    }
    return s;
}

void bk_ibsock_free(bk_ibsock *s)
{
    if (!s)
        return;
    bk_tls_free(s->tls);
    bk_wr_fini(&s->out);
    free(s->in);
    free(s);
}

static ssize_t raw_read(bk_ibsock *s, void *buf, size_t len, uint32_t *want)
{
    if (s->tls)
        return bk_tls_read(s->tls, buf, len, want);
    for (;;) {
        ssize_t n = recv(s->fd, buf, len, 0);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            *want = BK_EV_READ;
            return BK_EAGAIN;
        }
        return BK_EIO;
    }
}

static ssize_t raw_write(bk_ibsock *s, const void *buf, size_t len, uint32_t *want)
{
    if (s->tls)
        return bk_tls_write(s->tls, buf, len, want);
    for (;;) {
        ssize_t n = send(s->fd, buf, len, MSG_NOSIGNAL);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            *want = BK_EV_WRITE;
            return BK_EAGAIN;
        }
        return BK_EIO;
    }
}

/* ------------------------------------------------------------ SASL */

static int frame(bk_ibsock *s, int16_t key, int16_t ver, const void *req)
{
    const bk_apidef *d = bk_apidef_get(key);
    int16_t hv = bk_reqhdr_version(key, ver);
    bk_RequestHeader h;
    bk_RequestHeader_init(&h);
    h.RequestApiKey = key;
    h.RequestApiVersion = ver;
    h.CorrelationId = ++s->corr;
    h.ClientId = bk_str_c("broker-interbroker");
    bk_wr_reset(&s->out);
    bk_wr_i32(&s->out, 0);
    int rc = bk_codec_encode(&bk_desc_RequestHeader, hv >= 2, hv, &s->out, &h);
    if (!rc)
        rc = bk_codec_encode(d->req->desc, BK_V_IN(d->req->flexible, ver), ver, &s->out, req);
    if (rc || s->out.err)
        return rc ? rc : s->out.err;
    bk_wr_patch_i32(&s->out, 0, (int32_t)(s->out.len - 4));
    s->out_off = 0;
    s->in_len = 0;
    s->phase = P_SEND;
    return 0;
}

static int send_auth(bk_ibsock *s, const void *bytes, size_t len)
{
    bk_SaslAuthenticateRequest r;
    bk_SaslAuthenticateRequest_init(&r);
    r.AuthBytes.p = bytes;
    r.AuthBytes.len = (int32_t)len;
    return frame(s, KEY_SASL_AUTH, 2, &r);
}

/* The answer to the request of s->step, in s->in (after the size). */
static int on_answer(bk_ibsock *s, char *why, size_t whylen)
{
    uint32_t sz = bk_get_be32(s->in);
    bk_rd rd;
    bk_rd_init(&rd, s->in + 4, sz);
    int16_t key = s->step == S_HANDSHAKE ? KEY_SASL_HANDSHAKE : KEY_SASL_AUTH;
    int16_t ver = s->step == S_HANDSHAKE ? 1 : 2;
    int16_t rv = bk_resphdr_version(key, ver);
    bk_ResponseHeader rh;
    bk_arena a;
    bk_arena_init(&a, 1u << 20);
    int rc = bk_codec_decode(&bk_desc_ResponseHeader, rv >= 1, rv, &rd, NULL, &rh);
    if (rc || rh.CorrelationId != s->corr) {
        snprintf(why, whylen, "SASL: bad response header");
        bk_arena_fini(&a);
        return BK_EIO;
    }
    const bk_apidef *d = bk_apidef_get(key);
    const bk_ibconn_ctx *x = s->x;
    if (s->step == S_HANDSHAKE) {
        bk_SaslHandshakeResponse hr;
        rc = bk_codec_decode(d->resp->desc, BK_V_IN(d->resp->flexible, ver), ver, &rd, &a, &hr);
        bk_arena_fini(&a);
        if (rc || hr.ErrorCode != 0) {
            snprintf(why, whylen, "SASL handshake: mechanism %s refused (error %d)",
                     bk_sasl_mech_name(x->mech), rc ? -1 : hr.ErrorCode);
            return BK_EIO;
        }
        s->step = S_AUTH1;
        if (x->mech == BK_SASL_PLAIN) {
            uint8_t m[2 * BK_SASL_NAME_MAX + 2];
            int n = bk_sasl_plain_message(x->user, x->pass, m, sizeof m);
            rc = n < 0 ? n : send_auth(s, m, (size_t)n);
            OPENSSL_cleanse(m, sizeof m);
            return rc;
        }
        uint8_t rnd[18];
        char cnonce[40];
        if (RAND_bytes(rnd, sizeof rnd) != 1)
            return BK_EIO;
        for (size_t i = 0; i < sizeof rnd; i++)
            snprintf(cnonce + 2 * i, 3, "%02x", rnd[i]);
        char first[BK_SASL_NAME_MAX * 3 + 100];
        size_t fl = 0;
        rc = bk_scram_client_first(&s->scram, x->mech, x->user, cnonce, first, sizeof first, &fl);
        return rc ? rc : send_auth(s, first, fl);
    }
    bk_SaslAuthenticateResponse ar;
    rc = bk_codec_decode(d->resp->desc, BK_V_IN(d->resp->flexible, ver), ver, &rd, &a, &ar);
    if (rc || ar.ErrorCode != 0) {
        snprintf(why, whylen, "SASL %s authentication as %s failed: %s%.*s",
                 bk_sasl_mech_name(x->mech), x->user, rc ? "undecodable answer" : "",
                 rc || ar.ErrorMessage.len < 0 ? 0 : (int)ar.ErrorMessage.len,
                 rc || ar.ErrorMessage.len < 0 ? "" : ar.ErrorMessage.p);
        bk_arena_fini(&a);
        return BK_EIO;
    }
    if (x->mech == BK_SASL_PLAIN || s->step == S_AUTH2) {
        if (x->mech != BK_SASL_PLAIN &&
            bk_scram_client_verify(&s->scram, ar.AuthBytes.p,
                                   ar.AuthBytes.len < 0 ? 0 : (size_t)ar.AuthBytes.len) != 0) {
            snprintf(why, whylen, "SCRAM: the server's signature is wrong");
            bk_arena_fini(&a);
            return BK_EIO;
        }
        bk_arena_fini(&a);
        s->phase = P_DONE;
        return 0;
    }
    char fin[800];
    size_t fl = 0;
    rc = bk_scram_client_final(&s->scram, x->pass, ar.AuthBytes.p,
                               ar.AuthBytes.len < 0 ? 0 : (size_t)ar.AuthBytes.len, fin,
                               sizeof fin, &fl);
    bk_arena_fini(&a);
    if (rc) {
        snprintf(why, whylen, "SCRAM: unusable server-first message (%s)", bk_strerror(rc));
        return BK_EIO;
    }
    s->step = S_AUTH2;
    return send_auth(s, fin, fl);
}

int bk_ibsock_handshake(bk_ibsock *s, uint32_t *want, char *why, size_t whylen)
{
    snprintf(why, whylen, "?");
    if (s->phase == P_TLS) {
        if (s->tls) {
            int r = bk_tls_handshake(s->tls, want, why, whylen);
            if (r)
                return r;
        }
        s->phase = s->x && s->x->proto >= 2 ? P_SASL_START : P_DONE;
    }
    if (s->phase == P_SASL_START) {
        bk_SaslHandshakeRequest r;
        bk_SaslHandshakeRequest_init(&r);
        r.Mechanism = bk_str_c(bk_sasl_mech_name(s->x->mech));
        s->step = S_HANDSHAKE;
        if (frame(s, KEY_SASL_HANDSHAKE, 1, &r) != 0) {
            snprintf(why, whylen, "SASL: cannot encode the handshake");
            return BK_EIO;
        }
    }
    for (;;) {
        if (s->phase == P_DONE)
            return 0;
        if (s->phase == P_SEND) {
            while (s->out_off < s->out.len) {
                ssize_t n = raw_write(s, s->out.buf + s->out_off, s->out.len - s->out_off, want);
                if (n == BK_EAGAIN)
                    return BK_EAGAIN;
                if (n < 0) {
                    snprintf(why, whylen, "SASL: send failed");
                    return BK_EIO;
                }
                s->out_off += (size_t)n;
            }
            s->phase = P_RECV;
        }
        if (s->phase == P_RECV) {
            if (!s->in && !(s->in = malloc(SASL_FRAME_MAX + 4)))
                return BK_EIO;
            size_t need = 4;
            for (;;) {
                if (s->in_len >= 4) {
                    uint32_t sz = bk_get_be32(s->in);
                    if (sz < 4 || sz > SASL_FRAME_MAX) {
                        snprintf(why, whylen, "SASL: bad frame size %u", sz);
                        return BK_EIO;
                    }
                    need = 4 + (size_t)sz;
                }
                if (s->in_len >= need && s->in_len >= 4)
                    break;
                ssize_t n = raw_read(s, s->in + s->in_len, need - s->in_len, want);
                if (n == BK_EAGAIN)
                    return BK_EAGAIN;
                if (n <= 0) {
                    snprintf(why, whylen, "SASL: connection closed during authentication");
                    return BK_EIO;
                }
                s->in_len += (size_t)n;
            }
            int rc = on_answer(s, why, whylen);
            if (rc)
                return BK_EIO;
        }
    }
}

ssize_t bk_ibsock_read(bk_ibsock *s, void *buf, size_t len, uint32_t *want)
{
    return raw_read(s, buf, len, want);
}

ssize_t bk_ibsock_write(bk_ibsock *s, const void *buf, size_t len, uint32_t *want)
{
    return raw_write(s, buf, len, want);
}
