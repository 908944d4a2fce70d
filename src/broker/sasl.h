/*
 * sasl.h - SASL mechanisms of the broker: PLAIN and SCRAM-SHA-256/512.
 *
 * Everything here is pure (no I/O, no globals) except the stores at the
 * end, so the parsers can be fuzzed (fuzz/fuzz_sasl.c) and the SCRAM
 * arithmetic unit-tested against RFC 7677's vector (sasl_test.c).
 *
 * PLAIN (RFC 4616): one client message "[authzid] NUL authcid NUL passwd";
 * an authzid other than the authcid is refused (Kafka does the same).
 *
 * SCRAM (RFC 5802, 7677) server side, two round trips:
 *   client-first  "n,,n=<user>,r=<cnonce>"     (gs2 "y,," accepted; channel
 *                                               binding "p=" refused; an
 *                                               "a=<authzid>" must name the
 *                                               user; "tokenauth" refused)
 *   server-first  "r=<cnonce><snonce>,s=<salt b64>,i=<iterations>"
 *   client-final  "c=<b64 gs2 header>,r=<nonce>,p=<proof b64>" (the nonce
 *                                               must END with the server's,
 *                                               as Kafka checks: librdkafka
 *                                               2.0 repeats the client nonce)
 *   server-final  "v=<server signature b64>"
 * A credential is what Kafka keeps per user and mechanism: salt, StoredKey
 * = H(HMAC(SaltedPassword, "Client Key")), ServerKey = HMAC(SaltedPassword,
 * "Server Key") and the iteration count; its text form is Kafka's
 *   "salt=<b64>,stored_key=<b64>,server_key=<b64>,iterations=<n>"
 * (ZooKeeper /config/users/<user>, key "SCRAM-SHA-256"/"SCRAM-SHA-512").
 *
 * Thread: any (pure); the stores: loop thread.
 */
#ifndef BK_SASL_H
#define BK_SASL_H

#include "../core/err.h"

#include <stddef.h>
#include <stdint.h>

/* Mechanisms; the SCRAM values are Kafka's ScramMechanism type codes. */
enum { BK_SASL_NONE = 0, BK_SCRAM_SHA_256 = 1, BK_SCRAM_SHA_512 = 2, BK_SASL_PLAIN = 3,
       BK_SASL_GSSAPI = 4 /* Kerberos through Cyrus SASL: sasl_gssapi.h */ };

#define BK_SCRAM_MIN_ITERATIONS 4096
#define BK_SCRAM_MAX_ITERATIONS 16384
#define BK_SASL_NAME_MAX        256 /* user names and passwords */

/* "PLAIN" / "SCRAM-SHA-256" / "SCRAM-SHA-512" / "GSSAPI" -> BK_SASL_* (NONE if unknown). */
int bk_sasl_mech_parse(const char *name, size_t len);
const char *bk_sasl_mech_name(int mech);

/* PLAIN message -> user and password (NUL-terminated). BK_EPARSE if malformed
 * or a field is longer than BK_SASL_NAME_MAX-1, BK_EINVAL if the authzid
 * differs from the user. */
int bk_sasl_plain_parse(const uint8_t *msg, size_t len, char *user, char *pass);

typedef struct bk_scram_cred {
    int mech;
    int iterations;
    uint8_t salt[64];
    int saltlen;
    uint8_t stored_key[64];
    uint8_t server_key[64];
} bk_scram_cred;

/* Digest length of a SCRAM mechanism (32 or 64), 0 if not SCRAM. */
int bk_scram_hlen(int mech);
/* A credential from a password (PBKDF2 with the salt) or from an already
 * salted password (AlterUserScramCredentials sends that). */
int bk_scram_cred_from_password(int mech, const char *password, const uint8_t *salt,
                                size_t saltlen, int iterations, bk_scram_cred *out);
int bk_scram_cred_from_salted(int mech, const uint8_t *salted, size_t len, const uint8_t *salt,
                              size_t saltlen, int iterations, bk_scram_cred *out);
/* Kafka's text form (see above). format: 0 or BK_ENOMEM if buf is short. */
int bk_scram_cred_format(const bk_scram_cred *c, char *buf, size_t len);
int bk_scram_cred_parse(int mech, const char *s, size_t len, bk_scram_cred *out);

/* Parsed client-first message; strings NUL-terminated. */
typedef struct bk_scram_first {
    char user[BK_SASL_NAME_MAX]; /* saslname decoded (=2C ',' =3D '=') */
    char cnonce[256];
    size_t gs2_len; /* bytes of the gs2 header ("n,,") */
} bk_scram_first;
int bk_scram_parse_client_first(const char *msg, size_t len, bk_scram_first *out);

typedef struct bk_scram_final {
    char cbind[128]; /* the c= value (base64 of the gs2 header) */
    char nonce[512];
    uint8_t proof[64];
    int prooflen;
    size_t without_proof; /* length of the message before ",p=" */
} bk_scram_final;
int bk_scram_parse_client_final(const char *msg, size_t len, bk_scram_final *out);

/* One server-side SCRAM exchange. */
typedef struct bk_scram_sess {
    int mech;
    int step; /* 0: expecting client-first, 1: client-final, 2: done */
    bk_scram_cred cred;
    char gs2[64];
    char nonce[512];
    char auth[1600]; /* client-first-bare "," server-first */
    size_t authlen;
} bk_scram_sess;

/* client-first: fills f (the caller looks f->user's credential up next). */
int bk_scram_server_start(bk_scram_sess *s, int mech, const uint8_t *msg, size_t len,
                          bk_scram_first *f);
/* With the user's credential and a fresh server nonce (printable, no ','),
 * write the server-first message to out (NUL-terminated, *outlen). */
int bk_scram_server_first(bk_scram_sess *s, const bk_scram_cred *cred, const char *snonce,
                          char *out, size_t outcap, size_t *outlen);
/* client-final: 0 and the server-final message in out when the proof is
 * right; BK_EPARSE malformed, BK_EINVAL wrong nonce/channel binding, BK_ENOENT
 * wrong proof (bad password). */
int bk_scram_server_final(bk_scram_sess *s, const uint8_t *msg, size_t len, char *out,
                          size_t outcap, size_t *outlen);

/* Standard base64 (with padding). encode: bytes written (NUL added) or -1;
 * decode: bytes or -1 if malformed / too long. */
int bk_b64_encode(const uint8_t *in, size_t len, char *out, size_t outcap);
int bk_b64_decode(const char *in, size_t len, uint8_t *out, size_t outcap);

/* ------------------------------------------------------------------ stores */

/* PLAIN users: a file of JAAS-style entries, one per line,
 *     user_<name>="<password>"
 * (the form of Kafka's PlainLoginModule options); other lines, blank lines
 * and '#' comments are ignored, so a whole JAAS section can be pasted. */
typedef struct bk_plain_users bk_plain_users;
bk_plain_users *bk_plain_users_load(const char *path, char *err, size_t errlen);
/* The same entries from text (a JAAS config value: entries separated by
 * blanks or newlines, `user_<name>="<password>"`), added to *u (created if
 * NULL). 0, or BK_EPARSE / BK_ENOMEM with err set. */
int bk_plain_users_add_text(bk_plain_users **u, const char *text, char *err, size_t errlen);
void bk_plain_users_free(bk_plain_users *u);
/* true when user/pass match an entry (constant time on the password). */
bool bk_plain_users_check(const bk_plain_users *u, const char *user, const char *pass);

/* SCRAM credentials by user and mechanism, in memory; single-node mode
 * persists them in <dir>/brook-scram-credentials (one line per credential:
 * "scram <user percent-encoded> <mechanism> <Kafka text form>", rewritten
 * through a temp file, fsync and rename). Cluster mode keeps them in
 * ZooKeeper /config/users/<user> (h_sasl.c). */
typedef struct bk_scram_db bk_scram_db;
bk_scram_db *bk_scram_db_new(void);
void bk_scram_db_free(bk_scram_db *d);
int bk_scram_db_load(bk_scram_db *d, const char *path);
int bk_scram_db_save(const bk_scram_db *d, const char *path);
const bk_scram_cred *bk_scram_db_get(const bk_scram_db *d, const char *user, int mech);
int bk_scram_db_put(bk_scram_db *d, const char *user, const bk_scram_cred *c);
/* 0, or BK_ENOENT if there was none */
int bk_scram_db_del(bk_scram_db *d, const char *user, int mech);
/* The i-th (user, credential) or false past the end. */
bool bk_scram_db_at(const bk_scram_db *d, int i, const char **user, const bk_scram_cred **c);

#endif
