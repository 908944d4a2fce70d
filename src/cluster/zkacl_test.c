/* zkacl_test.c - the ACL znode JSON (Kafka's ZooKeeper layout). */
#include "../../tests/unit.h"
#include "../core/err.h"
#include "zkacl.h"

#include <string.h>

void bk_test_zkacl(void);
void bk_test_zkacl(void)
{
    BK_TEST("zkacl: encode one resource, decode it back");
    bk_acls s, t;
    bk_acls_init(&s);
    bk_acls_init(&t);
    bk_acl a = {BK_RES_TOPIC, BK_PAT_LITERAL, "t", "User:alice", "*", BK_OP_READ, BK_PERM_ALLOW};
    BK_CHECK(bk_acls_add(&s, &a) == 0);
    a.op = BK_OP_IDEMPOTENT_WRITE;
    a.perm = BK_PERM_DENY;
    a.host = "10.0.0.1";
    BK_CHECK(bk_acls_add(&s, &a) == 0);
    a.name = "other";
    BK_CHECK(bk_acls_add(&s, &a) == 0);
    bk_jw w;
    bk_jw_init(&w);
    BK_CHECK(bk_zkacl_encode(&s, BK_RES_TOPIC, BK_PAT_LITERAL, "t", &w) == 2);
    BK_CHECK(strcmp(w.p, "{\"version\":1,\"acls\":[{\"principal\":\"User:alice\","
                         "\"permissionType\":\"Allow\",\"operation\":\"Read\",\"host\":\"*\"},"
                         "{\"principal\":\"User:alice\",\"permissionType\":\"Deny\","
                         "\"operation\":\"IdempotentWrite\",\"host\":\"10.0.0.1\"}]}") == 0);
    BK_CHECK(bk_zkacl_decode(w.p, w.len, BK_RES_TOPIC, BK_PAT_LITERAL, "t", &t) == 0);
    BK_CHECK(t.n == 2 && t.v[1].op == BK_OP_IDEMPOTENT_WRITE && t.v[1].perm == BK_PERM_DENY);
    bk_jw_fini(&w);

    BK_TEST("zkacl: malformed znodes are refused");
    const char *bad[] = {"", "{}", "{\"acls\":[{}]}",
                         "{\"acls\":[{\"principal\":\"User:a\",\"permissionType\":\"Maybe\","
                         "\"operation\":\"Read\",\"host\":\"*\"}]}",
                         "{\"acls\":[{\"principal\":\"nobody\",\"permissionType\":\"Allow\","
                         "\"operation\":\"Read\",\"host\":\"*\"}]}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        BK_CHECK(bk_zkacl_decode(bad[i], strlen(bad[i]), BK_RES_TOPIC, BK_PAT_LITERAL, "t", &t) ==
                 BK_ECORRUPT);
    BK_CHECK(strcmp(bk_zkacl_type_name(BK_RES_TRANSACTIONAL_ID), "TransactionalId") == 0);
    bk_acls_fini(&s);
    bk_acls_fini(&t);
}
