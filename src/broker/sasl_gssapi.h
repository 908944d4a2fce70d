/*
 * sasl_gssapi.h - SASL/GSSAPI (Kerberos) through Cyrus SASL, server side.
 *
 * Kafka configures the broker's Kerberos identity with a JAAS entry:
 *   listener.name.<l>.gssapi.sasl.jaas.config=com.sun.security.auth.module.Krb5LoginModule
 *       required useKeyTab=true storeKey=true keyTab="/etc/brook/kafka.keytab"
 *       principal="kafka/broker1.example.com@EXAMPLE.COM";
 * Brook reads keyTab and principal from it (other options are ignored):
 * the keytab becomes the acceptor keytab (KRB5_KTNAME, read by MIT
 * Kerberos under Cyrus), and the principal's host part is the server FQDN
 * handed to sasl_server_new, so Cyrus accepts tickets for
 * <sasl.kerberos.service.name>/<host>@<realm>. The Kerberos configuration
 * (realm, KDC) comes from the environment as usual (KRB5_CONFIG or
 * /etc/krb5.conf); the acceptor never talks to the KDC.
 *
 * One exchange per connection: bk_gssapi_step is called with each client
 * token (SaslAuthenticate AuthBytes) and yields the server's token. Cyrus
 * reads the keytab from disk inside a step (a short blocking file read on
 * the loop thread; never network I/O). No security layer is negotiated
 * (max_ssf 0): as in Kafka, integrity and privacy come from TLS
 * (SASL_SSL), not from GSSAPI wrapping.
 *
 * Principal mapping: Kafka's DEFAULT sasl.kerberos.principal.to.local.rules
 * turn "user/instance@REALM" into "user" when REALM is the default realm
 * and match nothing otherwise (the login fails). Brook does the same with
 * the realm of the broker's principal as the default realm: bk_gssapi_step
 * refuses other realms and returns the full name, bk_gssapi_short_name
 * takes the primary. Custom RULE:... lists are not supported.
 *
 * Thread: loop thread (Cyrus SASL's global state is not thread-safe).
 */
#ifndef BK_SASL_GSSAPI_H
#define BK_SASL_GSSAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bk_gssapi bk_gssapi;

/* From a Krb5LoginModule JAAS text: keyTab="..." and principal="...".
 * 0, or -1 with err set when either is missing or too long. */
int bk_gssapi_jaas_parse(const char *jaas, char *keytab, size_t kcap, char *principal,
                         size_t pcap, char *err, size_t errlen);

/* "user/instance@REALM" -> "user" (Kafka's DEFAULT rule). */
void bk_gssapi_short_name(const char *full, char *out, size_t cap);

/* Initialize Cyrus SASL once per process (service = Kafka's service name)
 * with the keytab and principal of the JAAS entry. false with err set. */
bool bk_gssapi_global_init(const char *service, const char *jaas, char *err, size_t errlen);
bool bk_gssapi_available(void);

bk_gssapi *bk_gssapi_new(void);
void bk_gssapi_free(bk_gssapi *g);

/* One client token in. Returns 1 when more tokens are expected (out/outlen
 * to send), 0 when authenticated (out/outlen: a final token, possibly
 * empty; full: the client's Kerberos principal), -1 on failure (err set).
 * out stays valid until the next call or bk_gssapi_free. */
int bk_gssapi_step(bk_gssapi *g, const uint8_t *in, size_t len, const uint8_t **out,
                   size_t *outlen, char *full, size_t fullcap, char *err, size_t errlen);

#endif
