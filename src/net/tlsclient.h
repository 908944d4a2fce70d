/*
 * tlsclient.h - the transport of the broker's outbound inter-broker
 * connections (fetcher.c: follower fetches; interbroker.c: transaction
 * markers, controlled shutdown), on the inter-broker listener's security
 * protocol (inter.broker.listener.name / security.inter.broker.protocol).
 *
 *   PLAINTEXT  plain send/recv on the socket;
 *   SSL        TLS client (tls.h: bk_tls_client_ctx_new): the other broker's
 *              certificate must verify against this broker's truststore;
 *              this broker's keystore is offered as the client certificate;
 *   SASL_PLAINTEXT / SASL_SSL  (after TLS for SASL_SSL) the client side of
 *              Kafka's SASL exchange before the first real request:
 *              SaslHandshake v1 with sasl.mechanism.inter.broker.protocol
 *              (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; Kafka's GSSAPI default
 *              is refused at start-up), then SaslAuthenticate v2 steps
 *              (sasl_client.h), the server's SCRAM signature verified. The
 *              login is the username / password of the listener's JAAS
 *              config (listener.name.<l>.<mech>.sasl.jaas.config).
 *              ApiVersions is not sent first (the broker knows its peers'
 *              versions); a failed login fails the handshake, and the
 *              caller's reconnect backoff applies.
 *
 * One bk_ibconn_ctx per client (read-only after creation) and one bk_ibsock
 * per connection on a non-blocking socket the caller connected (it keeps
 * the fd). After the TCP connect completes, call bk_ibsock_handshake until
 * it returns 0; then read and write. All calls are non-blocking: BK_EAGAIN
 * comes with *want set to the readiness (BK_EV_READ / BK_EV_WRITE) to wait
 * for (TLS may want to read while writing and the other way round). Writes
 * that returned BK_EAGAIN must be retried with the same bytes.
 *
 * Thread: loop thread.
 */
#ifndef BK_TLSCLIENT_H
#define BK_TLSCLIENT_H

#include "../core/config.h"

#include <stddef.h>
#include <sys/types.h>

typedef struct bk_ibconn_ctx bk_ibconn_ctx;
typedef struct bk_ibsock bk_ibsock;

/* From the inter-broker listener's protocol and the ssl.* properties.
 * NULL on failure with a message in err. */
bk_ibconn_ctx *bk_ibconn_ctx_new(const bk_config *cfg, char *err, size_t errlen);
void bk_ibconn_ctx_free(bk_ibconn_ctx *x);
/* "PLAINTEXT" / "SSL" / "SASL_PLAINTEXT" / "SASL_SSL", for logs. */
const char *bk_ibconn_ctx_proto(const bk_ibconn_ctx *x);

/* NULL: out of memory. fd is not owned; host is the name or address the
 * other broker was reached at (TLS name check, tls.h). */
bk_ibsock *bk_ibsock_new(bk_ibconn_ctx *x, int fd, const char *host);
void bk_ibsock_free(bk_ibsock *s);
/* 0: ready for requests; BK_EAGAIN (*want); BK_EIO (why set). */
int bk_ibsock_handshake(bk_ibsock *s, uint32_t *want, char *why, size_t whylen);
/* > 0 bytes; 0: the peer closed; BK_EAGAIN (*want); BK_EIO (errno kept for
 * plain sockets). */
ssize_t bk_ibsock_read(bk_ibsock *s, void *buf, size_t len, uint32_t *want);
/* > 0 bytes (maybe fewer than len); BK_EAGAIN (*want); BK_EIO. */
ssize_t bk_ibsock_write(bk_ibsock *s, const void *buf, size_t len, uint32_t *want);

#endif
