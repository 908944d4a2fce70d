/* sasl_client_test.c - the SCRAM client against RFC 7677's exchange and
 * against Brook's own server side; PLAIN message; JAAS options. */
#include "../../tests/unit.h"
#include "../core/config.h"
#include "../core/err.h"
#include "sasl_client.h"

#include <string.h>

void bk_test_sasl_client(void);

#define S(x) (const uint8_t *)(x), strlen(x)

void bk_test_sasl_client(void)
{
    BK_TEST("sasl_client: RFC 7677 SCRAM-SHA-256 client side");
    bk_scram_client c;
    char out[600];
    size_t ol = 0;
    BK_CHECK(bk_scram_client_first(&c, BK_SCRAM_SHA_256, "user", "rOprNGfwEbeRWgbNEkqO", out,
                                   sizeof out, &ol) == 0);
    BK_CHECK(strcmp(out, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO") == 0);
    const char *sf = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                     "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    BK_CHECK(bk_scram_client_final(&c, "pencil", S(sf), out, sizeof out, &ol) == 0);
    BK_CHECK(strcmp(out, "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                         "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=") == 0);
    BK_CHECK(bk_scram_client_verify(&c, S("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")) == 0);
    BK_CHECK(bk_scram_client_verify(&c, S("v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")) != 0);
    BK_CHECK(bk_scram_client_verify(&c, S("e=invalid-proof")) != 0);

    BK_TEST("sasl_client: hostile server-first");
    BK_CHECK(bk_scram_client_first(&c, BK_SCRAM_SHA_256, "u", "abc", out, sizeof out, &ol) == 0);
    BK_CHECK(bk_scram_client_final(&c, "p", S("r=xyz1,s=QUJD,i=4096"), out, sizeof out, &ol) ==
             BK_EINVAL); /* nonce not ours */
    BK_CHECK(bk_scram_client_final(&c, "p", S("r=abc1,s=QUJD,i=10"), out, sizeof out, &ol) ==
             BK_EINVAL); /* too few iterations */
    BK_CHECK(bk_scram_client_final(&c, "p", S("r=abc1,i=4096"), out, sizeof out, &ol) ==
             BK_EPARSE);
    BK_CHECK(bk_scram_client_final(&c, "p", S("e=other-error"), out, sizeof out, &ol) ==
             BK_EINVAL);

    BK_TEST("sasl_client: SCRAM-SHA-512 against the server side");
    uint8_t salt[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    bk_scram_cred cred;
    BK_CHECK(bk_scram_cred_from_password(BK_SCRAM_SHA_512, "s3cr=t,", salt, sizeof salt, 4096,
                                         &cred) == 0);
    BK_CHECK(bk_scram_client_first(&c, BK_SCRAM_SHA_512, "br,o=ker", "cn0nce", out, sizeof out,
                                   &ol) == 0);
    bk_scram_sess s;
    bk_scram_first f;
    BK_CHECK(bk_scram_server_start(&s, BK_SCRAM_SHA_512, (const uint8_t *)out, ol, &f) == 0);
    BK_CHECK(strcmp(f.user, "br,o=ker") == 0);
    char sfirst[600], sfinal[600];
    size_t sfl = 0, sfinl = 0;
    BK_CHECK(bk_scram_server_first(&s, &cred, "srvn0nce", sfirst, sizeof sfirst, &sfl) == 0);
    BK_CHECK(bk_scram_client_final(&c, "s3cr=t,", (const uint8_t *)sfirst, sfl, out, sizeof out,
                                   &ol) == 0);
    BK_CHECK(bk_scram_server_final(&s, (const uint8_t *)out, ol, sfinal, sizeof sfinal, &sfinl) ==
             0);
    BK_CHECK(bk_scram_client_verify(&c, (const uint8_t *)sfinal, sfinl) == 0);
    /* a wrong password is refused by the server */
    BK_CHECK(bk_scram_client_first(&c, BK_SCRAM_SHA_512, "b", "n2", out, sizeof out, &ol) == 0);
    BK_CHECK(bk_scram_server_start(&s, BK_SCRAM_SHA_512, (const uint8_t *)out, ol, &f) == 0);
    BK_CHECK(bk_scram_server_first(&s, &cred, "x", sfirst, sizeof sfirst, &sfl) == 0);
    BK_CHECK(bk_scram_client_final(&c, "wrong", (const uint8_t *)sfirst, sfl, out, sizeof out,
                                   &ol) == 0);
    BK_CHECK(bk_scram_server_final(&s, (const uint8_t *)out, ol, sfinal, sizeof sfinal, &sfinl) ==
             BK_ENOENT);

    BK_TEST("sasl_client: PLAIN message and JAAS options");
    uint8_t pm[64];
    BK_CHECK(bk_sasl_plain_message("ab", "cd", pm, sizeof pm) == 6);
    BK_CHECK(memcmp(pm, "\0ab\0cd", 6) == 0);
    BK_CHECK(bk_sasl_plain_message("ab", "cd", pm, 5) == BK_ENOMEM);
    char u[64], p[64];
    BK_CHECK(bk_jaas_credentials("org.apache.kafka.common.security.plain.PlainLoginModule "
                                 "required username=\"admin\" password=\"a-s\" "
                                 "user_admin=\"a-s\" user_bob=\"x\";",
                                 u, sizeof u, p, sizeof p) == 0);
    BK_CHECK(strcmp(u, "admin") == 0 && strcmp(p, "a-s") == 0);
    BK_CHECK(bk_jaas_credentials("x required user_username=\"a\";", u, sizeof u, p, sizeof p) ==
             BK_ENOENT);
    BK_CHECK(bk_jaas_credentials(NULL, u, sizeof u, p, sizeof p) == BK_ENOENT);

    BK_TEST("sasl_client: start-up checks of a SASL inter-broker listener");
    const char *mechs[] = {NULL, "PLAIN", "PLAIN", "SCRAM-SHA-512", "SCRAM-SHA-512"};
    const char *jaas[] = {NULL, NULL, "listener.name.sasl_ssl.plain.sasl.jaas.config",
                          "listener.name.sasl_ssl.plain.sasl.jaas.config",
                          "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config"};
    const int ok[] = {0, 0, 1, 0, 1};
    for (int i = 0; i < 5; i++) {
        bk_config cf;
        char err[256];
        BK_CHECK(bk_config_init(&cf) == 0);
        BK_CHECK(bk_config_set(&cf, "zookeeper.connect", "127.0.0.1:2181", err, sizeof err) == 0);
        BK_CHECK(bk_config_set(&cf, "listeners", "SASL_SSL://:9093", err, sizeof err) == 0);
        BK_CHECK(bk_config_set(&cf, "security.inter.broker.protocol", "SASL_SSL", err,
                               sizeof err) == 0);
        if (mechs[i])
            BK_CHECK(bk_config_set(&cf, "sasl.mechanism.inter.broker.protocol", mechs[i], err,
                                   sizeof err) == 0);
        if (jaas[i])
            BK_CHECK(bk_config_set(&cf, jaas[i], "m required username=\"b\" password=\"p\";", err,
                                   sizeof err) == 0);
        int rc = bk_config_finish(&cf, err, sizeof err);
        BK_CHECK(ok[i] ? rc == 0 : rc != 0);
        if (i == 0)
            BK_CHECK(strstr(err, "GSSAPI") != NULL);
        if (ok[i] && i == 4)
            BK_CHECK(cf.scram_jaas && strstr(cf.scram_jaas, "username=\"b\""));
        bk_config_fini(&cf);
    }
}
