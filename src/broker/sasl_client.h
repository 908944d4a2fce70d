/*
 * sasl_client.h - the client side of SASL PLAIN and SCRAM-SHA-256/512 (RFC
 * 5802, RFC 7677), as the broker's inter-broker clients authenticate to a
 * SASL_PLAINTEXT or SASL_SSL inter-broker listener (tlsclient.h drives the
 * SaslHandshake / SaslAuthenticate requests; these are pure functions).
 *
 *   PLAIN: one message "\0user\0password".
 *   SCRAM: bk_scram_client_first -> "n,,n=<user>,r=<cnonce>"; the server's
 *          first message goes to bk_scram_client_final, which checks the
 *          nonce and iteration count and writes "c=biws,r=<nonce>,p=<proof>";
 *          bk_scram_client_verify checks the server's "v=<signature>".
 *
 * Credentials come from Kafka's JAAS text (bk_jaas_credentials): the
 * username="..." and password="..." options of PlainLoginModule or
 * ScramLoginModule.
 *
 * Thread: any (no shared state).
 */
#ifndef BK_SASL_CLIENT_H
#define BK_SASL_CLIENT_H

#include "sasl.h"

#include <stddef.h>
#include <stdint.h>

/* "\0user\0pass" into out; bytes written, or BK_ENOMEM if out is short. */
int bk_sasl_plain_message(const char *user, const char *pass, uint8_t *out, size_t cap);

typedef struct bk_scram_client {
    int mech;
    char cnonce[64];
    char first_bare[BK_SASL_NAME_MAX * 3 + 80]; /* "n=<saslname>,r=<cnonce>" */
    uint8_t server_sig[64];
    int hlen;
} bk_scram_client;

/* Start: cnonce is printable without ','; out gets the client-first message
 * (NUL-terminated); 0, BK_EINVAL (not SCRAM / bad nonce) or BK_ENOMEM. */
int bk_scram_client_first(bk_scram_client *s, int mech, const char *user, const char *cnonce,
                          char *out, size_t cap, size_t *outlen);
/* The server-first message -> client-final in out. BK_EPARSE malformed,
 * BK_EINVAL nonce not extending ours or iterations below
 * BK_SCRAM_MIN_ITERATIONS, BK_ENOMEM out too short. */
int bk_scram_client_final(bk_scram_client *s, const char *password, const uint8_t *msg,
                          size_t len, char *out, size_t cap, size_t *outlen);
/* The server-final message: 0 if its signature is right, BK_EINVAL if not or
 * if the server sent "e=<error>". */
int bk_scram_client_verify(const bk_scram_client *s, const uint8_t *msg, size_t len);

/* username / password options of a JAAS config text (the first of each);
 * 0, or BK_ENOENT if either is missing (or too long). */
int bk_jaas_credentials(const char *jaas, char *user, size_t ucap, char *pass, size_t pcap);

#endif
