/*
 * tls.h - the TLS transport of SSL and SASL_SSL listeners (OpenSSL).
 *
 * One server context (bk_tls_ctx) is built at start-up from Kafka's ssl.*
 * properties; PEM only (ssl.keystore.type / ssl.truststore.type = PEM):
 *   ssl.keystore.location           PEM file holding the private key and the
 *                                   certificate chain (leaf first), or
 *   ssl.keystore.certificate.chain  the chain inline (PEM text) and
 *   ssl.keystore.key                the key inline (PEM text),
 *   ssl.key.password                password of an encrypted key,
 *   ssl.truststore.location         PEM file of trusted CA certificates, or
 *   ssl.truststore.certificates     the same inline,
 *   ssl.client.auth                 none | requested | required,
 *   ssl.enabled.protocols           subset of TLSv1.2,TLSv1.3,
 *   ssl.protocol                    TLSv1.2 or TLSv1.3, checked only: the
 *                                   enabled list decides the versions.
 *
 * Each connection gets a bk_tls (an SSL object on the accepted socket).
 * Everything is non-blocking: the handshake, reads and writes report
 * BK_EAGAIN with *want set to the readiness (BK_EV_READ / BK_EV_WRITE) to
 * wait for. Writes use partial-write and moving-buffer modes, so a write
 * that returned BK_EAGAIN may be retried with the same bytes at another
 * address (the caller keeps them). Renegotiation is refused.
 *
 * Thread: loop thread (the context is read-only after creation).
 */
#ifndef BK_TLS_H
#define BK_TLS_H

#include "../core/config.h"

#include <stddef.h>
#include <sys/types.h>

typedef struct bk_tls_ctx bk_tls_ctx;
typedef struct bk_tls bk_tls;

/* NULL on failure with a message in err (file names, OpenSSL's reason).
 * sasl: the context of SASL_SSL listeners, where ssl.client.auth does not
 * apply (Kafka, KIP-684: clients authenticate with SASL there). */
bk_tls_ctx *bk_tls_ctx_new(const bk_config *cfg, bool sasl, char *err, size_t errlen);
void bk_tls_ctx_free(bk_tls_ctx *x);

/* Server side of the accepted socket fd (not owned). NULL: out of memory. */
bk_tls *bk_tls_new(bk_tls_ctx *x, int fd);
void bk_tls_free(bk_tls *t);

/* 0: handshake done; BK_EAGAIN: wait for *want; BK_EIO: failed (why set). */
int bk_tls_handshake(bk_tls *t, uint32_t *want, char *why, size_t whylen);
/* > 0 bytes read; 0 = the peer closed; BK_EAGAIN (*want); BK_EIO. */
ssize_t bk_tls_read(bk_tls *t, void *buf, size_t len, uint32_t *want);
/* > 0 bytes written (maybe fewer than len); BK_EAGAIN (*want); BK_EIO. */
ssize_t bk_tls_write(bk_tls *t, const void *buf, size_t len, uint32_t *want);
/* Client side (the inter-broker clients, fetcher.c and interbroker.c, on
 * an SSL or SASL_SSL inter-broker listener): TLS_client_method, the same
 * ssl.enabled.protocols; the peer's chain must verify against the broker's
 * truststore (required); the broker's keystore, when given, is offered as
 * the client certificate (mutual TLS when the listener sets
 * ssl.client.auth=required). With ssl.endpoint.identification.algorithm=https
 * (Kafka's default) the peer's certificate must also name the host or IP
 * address it was reached at (subjectAltName); empty: no name check.
 * NULL on failure with a message in err. */
bk_tls_ctx *bk_tls_client_ctx_new(const bk_config *cfg, char *err, size_t errlen);
/* Client side of the connected (or connecting) socket fd (not owned) to
 * host (SNI and the name check; NULL: none); drive with bk_tls_handshake.
 * NULL: out of memory. */
bk_tls *bk_tls_client_new(bk_tls_ctx *x, int fd, const char *host);
/* Decrypted bytes buffered inside OpenSSL (not visible to epoll). */
size_t bk_tls_pending(bk_tls *t);
/* The verified client certificate's subject as Kafka's default principal
 * ("User:CN=a,OU=b" in RFC 2253 order); false when the client sent none. */
bool bk_tls_peer_principal(bk_tls *t, char *buf, size_t len);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384", for logs. */
const char *bk_tls_version(bk_tls *t);

#endif
