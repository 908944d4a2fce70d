/*
 * tlsclient.c - see tlsclient.h.
 */
#include "tlsclient.h"

#include "../core/err.h"
#include "ev.h"
#include "tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

struct bk_ibconn_ctx {
    int proto;      /* 0 PLAINTEXT, 1 SSL (config.c's numbering) */
    bk_tls_ctx *tls; /* SSL only */
};

struct bk_ibsock {
    int fd;
    bk_tls *tls; /* NULL: PLAINTEXT */
};

bk_ibconn_ctx *bk_ibconn_ctx_new(const bk_config *cfg, char *err, size_t errlen)
{
    int proto = 0;
    if (cfg->nadvertised_eps > 0 && cfg->inter_broker_ep >= 0 &&
        cfg->inter_broker_ep < cfg->nadvertised_eps)
        proto = bk_config_listener_secproto(cfg, cfg->advertised_eps[cfg->inter_broker_ep].name);
    if (proto != 0 && proto != 1) {
        snprintf(err, errlen, "inter-broker SASL is not supported");
        return NULL;
    }
    bk_ibconn_ctx *x = calloc(1, sizeof *x);
    if (!x) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    x->proto = proto;
    if (proto == 1 && !(x->tls = bk_tls_client_ctx_new(cfg, err, errlen))) {
        free(x);
        return NULL;
    }
    return x;
}

void bk_ibconn_ctx_free(bk_ibconn_ctx *x)
{
    if (!x)
        return;
    bk_tls_ctx_free(x->tls);
    free(x);
}

const char *bk_ibconn_ctx_proto(const bk_ibconn_ctx *x)
{
    return x && x->tls ? "SSL" : "PLAINTEXT";
}

bk_ibsock *bk_ibsock_new(bk_ibconn_ctx *x, int fd)
{
    bk_ibsock *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->fd = fd;
    if (x && x->tls && !(s->tls = bk_tls_client_new(x->tls, fd))) {
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
    free(s);
}

int bk_ibsock_handshake(bk_ibsock *s, uint32_t *want, char *why, size_t whylen)
{
    if (!s->tls)
        return 0;
    return bk_tls_handshake(s->tls, want, why, whylen);
}

ssize_t bk_ibsock_read(bk_ibsock *s, void *buf, size_t len, uint32_t *want)
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

ssize_t bk_ibsock_write(bk_ibsock *s, const void *buf, size_t len, uint32_t *want)
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
