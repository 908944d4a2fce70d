/* sasl_test.c - SCRAM against RFC 7677's SCRAM-SHA-256 exchange, PLAIN,
 * credential text form, hostile messages. */
#include "../../tests/unit.h"
#include "sasl.h"
#include "sasl_gssapi.h"

#include <stdio.h>
#include <string.h>

void bk_test_sasl(void);

#define S(x) (const uint8_t *)(x), strlen(x)

void bk_test_sasl(void)
{
    BK_TEST("sasl: RFC 7677 SCRAM-SHA-256 exchange");
    uint8_t salt[64];
    int sl = bk_b64_decode("W22ZaJ0SNY7soEsUEjb6gQ==", 24, salt, sizeof salt);
    BK_CHECK(sl == 16);
    bk_scram_cred cred;
    BK_CHECK(bk_scram_cred_from_password(BK_SCRAM_SHA_256, "pencil", salt, (size_t)sl, 4096,
                                         &cred) == 0);
    bk_scram_sess s;
    bk_scram_first f;
    BK_CHECK(bk_scram_server_start(&s, BK_SCRAM_SHA_256, S("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"),
                                   &f) == 0);
    BK_CHECK(strcmp(f.user, "user") == 0);
    char out[512];
    size_t outlen = 0;
    BK_CHECK(bk_scram_server_first(&s, &cred, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", out, sizeof out,
                                   &outlen) == 0);
    BK_CHECK(strcmp(out, "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                         "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096") == 0);
    BK_CHECK(bk_scram_server_final(&s,
                                   S("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                                     "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="),
                                   out, sizeof out, &outlen) == 0);
    BK_CHECK(strcmp(out, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=") == 0);

    BK_TEST("sasl: wrong proof, wrong nonce, replay");
    BK_CHECK(bk_scram_server_start(&s, BK_SCRAM_SHA_256, S("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"),
                                   &f) == 0);
    BK_CHECK(bk_scram_server_first(&s, &cred, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", out, sizeof out,
                                   &outlen) == 0);
    BK_CHECK(bk_scram_server_final(&s,
                                   S("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                                     "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVM="),
                                   out, sizeof out, &outlen) == BK_ENOENT);
    /* one attempt per exchange */
    BK_CHECK(bk_scram_server_final(&s,
                                   S("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                                     "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="),
                                   out, sizeof out, &outlen) == BK_EINVAL);
    BK_CHECK(bk_scram_server_start(&s, BK_SCRAM_SHA_256, S("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"),
                                   &f) == 0);
    BK_CHECK(bk_scram_server_first(&s, &cred, "xyz", out, sizeof out, &outlen) == 0);
    BK_CHECK(bk_scram_server_final(&s, S("c=biws,r=rOprNGfwEbeRWgbNEkqOxyq,p=AAAA"), out,
                                   sizeof out, &outlen) == BK_EINVAL);

    BK_TEST("sasl: malformed SCRAM messages");
    const char *bad_first[] = {"", "n", "n,,", "p=tls-unique,,n=a,r=b", "n,,n=,r=x", "n,,r=x,n=a",
                               "n,,n=a=zz,r=x", "n,,n=a,r=", "x,,n=a,r=b", "n,a=b,n=a,r=x",
                               "n,,n=a,r=x,tokenauth=true", NULL};
    for (int i = 0; bad_first[i]; i++)
        BK_CHECK(bk_scram_parse_client_first(bad_first[i], strlen(bad_first[i]), &f) != 0);
    BK_CHECK(bk_scram_parse_client_first("n,,n=a=2Cb=3D,r=x", 17, &f) == 0 &&
             strcmp(f.user, "a,b=") == 0);
    bk_scram_final fin;
    const char *bad_final[] = {"", "c=biws", "c=biws,r=x", "c=biws,r=x,p=", "c=biws,r=x,p=@@@@",
                               "r=x,c=biws,p=AAAA", "c=biws,r=x,p=AAAA,e=1", NULL};
    for (int i = 0; bad_final[i]; i++)
        BK_CHECK(bk_scram_parse_client_final(bad_final[i], strlen(bad_final[i]), &fin) != 0);

    BK_TEST("sasl: credential text form round trip");
    char txt[512];
    BK_CHECK(bk_scram_cred_format(&cred, txt, sizeof txt) == 0);
    BK_CHECK(strncmp(txt, "salt=W22ZaJ0SNY7soEsUEjb6gQ==,stored_key=", 41) == 0);
    bk_scram_cred c2;
    BK_CHECK(bk_scram_cred_parse(BK_SCRAM_SHA_256, txt, strlen(txt), &c2) == 0);
    BK_CHECK(c2.iterations == 4096 && c2.saltlen == 16 &&
             memcmp(c2.stored_key, cred.stored_key, 32) == 0 &&
             memcmp(c2.server_key, cred.server_key, 32) == 0);
    BK_CHECK(bk_scram_cred_parse(BK_SCRAM_SHA_512, txt, strlen(txt), &c2) != 0);
    BK_CHECK(bk_scram_cred_parse(BK_SCRAM_SHA_256, "salt=AA==", 9, &c2) != 0);

    BK_TEST("sasl: PLAIN messages");
    char u[BK_SASL_NAME_MAX], p[BK_SASL_NAME_MAX];
    BK_CHECK(bk_sasl_plain_parse((const uint8_t *)"\0bob\0pw", 7, u, p) == 0 &&
             strcmp(u, "bob") == 0 && strcmp(p, "pw") == 0);
    BK_CHECK(bk_sasl_plain_parse((const uint8_t *)"bob\0bob\0pw", 10, u, p) == 0);
    BK_CHECK(bk_sasl_plain_parse((const uint8_t *)"eve\0bob\0pw", 10, u, p) == BK_EINVAL);
    BK_CHECK(bk_sasl_plain_parse((const uint8_t *)"\0bob", 4, u, p) == BK_EPARSE);
    BK_CHECK(bk_sasl_plain_parse((const uint8_t *)"\0\0pw", 4, u, p) == BK_EPARSE);
    BK_CHECK(bk_sasl_plain_parse((const uint8_t *)"\0bob\0", 5, u, p) == BK_EPARSE);

    BK_TEST("sasl: PLAIN users from a JAAS config value");
    bk_plain_users *pu = NULL;
    char err[128];
    BK_CHECK(bk_plain_users_add_text(&pu,
                                     "org.apache.kafka.common.security.plain.PlainLoginModule "
                                     "required username=\"admin\" password=\"admin-secret\" "
                                     "user_admin=\"admin-secret\"\n  user_alice=\"a b=c\";",
                                     err, sizeof err) == 0);
    BK_CHECK(bk_plain_users_check(pu, "admin", "admin-secret"));
    BK_CHECK(bk_plain_users_check(pu, "alice", "a b=c"));
    BK_CHECK(!bk_plain_users_check(pu, "alice", "a b=") && !bk_plain_users_check(pu, "x", ""));
    BK_CHECK(bk_plain_users_add_text(&pu, "user_bob=\"unterminated", err, sizeof err) ==
             BK_EPARSE);
    bk_plain_users_free(pu);

    BK_TEST("sasl: GSSAPI JAAS entry, mechanism name, short names");
    char kt[256], pr[256];
    BK_CHECK(bk_gssapi_jaas_parse("com.sun.security.auth.module.Krb5LoginModule required "
                                  "useKeyTab=true storeKey=true keyTab=\"/etc/k.keytab\"\n"
                                  "  principal=\"kafka/b1.example.com@EX.COM\";",
                                  kt, sizeof kt, pr, sizeof pr, err, sizeof err) == 0);
    BK_CHECK(strcmp(kt, "/etc/k.keytab") == 0 && strcmp(pr, "kafka/b1.example.com@EX.COM") == 0);
    BK_CHECK(bk_gssapi_jaas_parse("com.sun.security.auth.module.Krb5LoginModule required "
                                  "keyTab=/k principal=\"unterminated", kt, sizeof kt, pr,
                                  sizeof pr, err, sizeof err) != 0);
    BK_CHECK(bk_gssapi_jaas_parse("x required keyTab=\"/k\" principal=\"p\";", kt, sizeof kt,
                                  pr, sizeof pr, err, sizeof err) != 0);
    BK_CHECK(bk_gssapi_jaas_parse("com.sun.security.auth.module.Krb5LoginModule required "
                                  "mykeyTab=\"/k\" principal=\"p\";", kt, sizeof kt, pr,
                                  sizeof pr, err, sizeof err) != 0);
    BK_CHECK(bk_sasl_mech_parse("GSSAPI", 6) == BK_SASL_GSSAPI &&
             strcmp(bk_sasl_mech_name(BK_SASL_GSSAPI), "GSSAPI") == 0);
    char sn[8];
    bk_gssapi_short_name("client@BROOK.TEST", sn, sizeof sn);
    BK_CHECK(strcmp(sn, "client") == 0);
    bk_gssapi_short_name("svc/host.example.com@R", sn, sizeof sn);
    BK_CHECK(strcmp(sn, "svc") == 0);
    bk_gssapi_short_name("averyverylongname", sn, sizeof sn);
    BK_CHECK(strcmp(sn, "averyve") == 0);
}
