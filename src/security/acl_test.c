/* acl_test.c - ACL matching and Kafka's authorization decision. */
#include "../../tests/unit.h"
#include "acl.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void add(bk_acls *s, int rt, int pt, const char *name, const char *pr, const char *host,
                int op, int perm)
{
    bk_acl a = {(int8_t)rt, (int8_t)pt, (char *)name, (char *)pr, (char *)host, (int8_t)op,
                (int8_t)perm};
    BK_CHECK(bk_acl_invalid(&a) == NULL);
    BK_CHECK(bk_acls_add(s, &a) == 0);
}

static bool az(const bk_acls *s, const bk_authz_policy *p, const char *pr, int op, int rt,
               const char *name)
{
    return bk_acls_authorize(s, p, pr, "127.0.0.1", op, rt, name, strlen(name));
}

void bk_test_acl(void);
void bk_test_acl(void)
{
    const char *supers[] = {"User:admin"};
    bk_authz_policy pol = {supers, 1, false};
    bk_authz_policy open = {NULL, 0, true};
    bk_acls s;
    bk_acls_init(&s);

    BK_TEST("acl: no ACLs: allow.everyone.if.no.acl.found decides, super users pass");
    BK_CHECK(!az(&s, &pol, "User:ANONYMOUS", BK_OP_READ, BK_RES_TOPIC, "t"));
    BK_CHECK(az(&s, &open, "User:ANONYMOUS", BK_OP_READ, BK_RES_TOPIC, "t"));
    BK_CHECK(az(&s, &pol, "User:admin", BK_OP_ALTER, BK_RES_CLUSTER, "kafka-cluster"));

    BK_TEST("acl: literal, wildcard, prefixed, implied DESCRIBE");
    add(&s, BK_RES_TOPIC, BK_PAT_LITERAL, "t", "User:alice", "*", BK_OP_READ, BK_PERM_ALLOW);
    BK_CHECK(az(&s, &pol, "User:alice", BK_OP_READ, BK_RES_TOPIC, "t"));
    BK_CHECK(az(&s, &pol, "User:alice", BK_OP_DESCRIBE, BK_RES_TOPIC, "t"));
    BK_CHECK(!az(&s, &pol, "User:alice", BK_OP_WRITE, BK_RES_TOPIC, "t"));
    BK_CHECK(!az(&s, &pol, "User:bob", BK_OP_READ, BK_RES_TOPIC, "t"));
    BK_CHECK(!az(&s, &pol, "User:alice", BK_OP_READ, BK_RES_TOPIC, "t2"));
    BK_CHECK(!az(&s, &pol, "User:alice", BK_OP_READ, BK_RES_GROUP, "t"));
    /* an ACL on the resource for someone else: no longer "no ACL found" */
    BK_CHECK(!az(&s, &open, "User:bob", BK_OP_READ, BK_RES_TOPIC, "t"));
    BK_CHECK(az(&s, &open, "User:bob", BK_OP_READ, BK_RES_TOPIC, "other"));
    add(&s, BK_RES_TOPIC, BK_PAT_PREFIXED, "app-", "User:bob", "*", BK_OP_WRITE, BK_PERM_ALLOW);
    BK_CHECK(az(&s, &pol, "User:bob", BK_OP_WRITE, BK_RES_TOPIC, "app-1"));
    BK_CHECK(az(&s, &pol, "User:bob", BK_OP_WRITE, BK_RES_TOPIC, "app-"));
    BK_CHECK(!az(&s, &pol, "User:bob", BK_OP_WRITE, BK_RES_TOPIC, "app"));
    BK_CHECK(!az(&s, &pol, "User:bob", BK_OP_WRITE, BK_RES_TOPIC, "xapp-1"));
    add(&s, BK_RES_GROUP, BK_PAT_LITERAL, "*", "User:*", "*", BK_OP_READ, BK_PERM_ALLOW);
    BK_CHECK(az(&s, &pol, "User:carol", BK_OP_READ, BK_RES_GROUP, "g1"));
    BK_CHECK(az(&s, &pol, "User:carol", BK_OP_DESCRIBE, BK_RES_GROUP, "g1"));
    BK_CHECK(!az(&s, &pol, "User:carol", BK_OP_DELETE, BK_RES_GROUP, "g1"));
    add(&s, BK_RES_TOPIC, BK_PAT_LITERAL, "cfg", "User:carol", "*", BK_OP_ALTER_CONFIGS,
        BK_PERM_ALLOW);
    BK_CHECK(az(&s, &pol, "User:carol", BK_OP_DESCRIBE_CONFIGS, BK_RES_TOPIC, "cfg"));
    BK_CHECK(!az(&s, &pol, "User:carol", BK_OP_DESCRIBE, BK_RES_TOPIC, "cfg"));

    BK_TEST("acl: DENY wins, host matching, ALL");
    add(&s, BK_RES_TOPIC, BK_PAT_LITERAL, "app-secret", "User:bob", "*", BK_OP_WRITE,
        BK_PERM_DENY);
    BK_CHECK(!az(&s, &pol, "User:bob", BK_OP_WRITE, BK_RES_TOPIC, "app-secret"));
    BK_CHECK(az(&s, &pol, "User:bob", BK_OP_WRITE, BK_RES_TOPIC, "app-public"));
    add(&s, BK_RES_TOPIC, BK_PAT_LITERAL, "h", "User:dave", "10.0.0.9", BK_OP_ALL, BK_PERM_ALLOW);
    BK_CHECK(!az(&s, &pol, "User:dave", BK_OP_READ, BK_RES_TOPIC, "h"));
    BK_CHECK(bk_acls_authorize(&s, &pol, "User:dave", "10.0.0.9", BK_OP_READ, BK_RES_TOPIC, "h",
                               1));
    BK_CHECK(bk_acls_authorize(&s, &pol, "User:dave", "10.0.0.9", BK_OP_CREATE, BK_RES_TOPIC,
                               "h", 1));
    add(&s, BK_RES_TOPIC, BK_PAT_LITERAL, "*", "User:dave", "*", BK_OP_ALL, BK_PERM_DENY);
    BK_CHECK(!bk_acls_authorize(&s, &pol, "User:dave", "10.0.0.9", BK_OP_READ, BK_RES_TOPIC,
                                "h", 1));
    /* super users bypass even DENY */
    add(&s, BK_RES_TOPIC, BK_PAT_LITERAL, "*", "User:admin", "*", BK_OP_ALL, BK_PERM_DENY);
    BK_CHECK(az(&s, &pol, "User:admin", BK_OP_READ, BK_RES_TOPIC, "t"));

    BK_TEST("acl: authorize on any resource of a type");
    BK_CHECK(bk_acls_authorize_any(&s, &pol, "User:bob", "1.1.1.1", BK_OP_WRITE, BK_RES_TOPIC));
    BK_CHECK(!bk_acls_authorize_any(&s, &pol, "User:alice", "1.1.1.1", BK_OP_WRITE, BK_RES_TOPIC));
    BK_CHECK(!bk_acls_authorize_any(&s, &pol, "User:dave", "10.0.0.9", BK_OP_READ, BK_RES_TOPIC));
    BK_CHECK(!bk_acls_authorize_any(&s, &pol, "User:x", "1.1.1.1", BK_OP_WRITE,
                                    BK_RES_TRANSACTIONAL_ID));
    BK_CHECK(bk_acls_authorize_any(&s, &open, "User:x", "1.1.1.1", BK_OP_WRITE,
                                   BK_RES_TRANSACTIONAL_ID));

    BK_TEST("acl: validation and duplicates");
    bk_acl bad = {BK_RES_CLUSTER, BK_PAT_LITERAL, "c", "User:x", "*", BK_OP_ALTER, BK_PERM_ALLOW};
    BK_CHECK(bk_acl_invalid(&bad) != NULL);
    bad.name = "kafka-cluster";
    BK_CHECK(bk_acl_invalid(&bad) == NULL);
    bad.principal = "alice";
    BK_CHECK(bk_acl_invalid(&bad) != NULL);
    bad.principal = "User:x";
    bad.ptype = BK_PAT_MATCH;
    BK_CHECK(bk_acl_invalid(&bad) != NULL);
    bad.ptype = BK_PAT_LITERAL;
    bad.rtype = BK_RES_USER;
    BK_CHECK(bk_acl_invalid(&bad) != NULL);
    char longname[1100];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    bad.rtype = BK_RES_TOPIC;
    bad.name = longname;
    BK_CHECK(bk_acl_invalid(&bad) != NULL);
    int n = s.n;
    add(&s, BK_RES_TOPIC, BK_PAT_LITERAL, "t", "User:alice", "*", BK_OP_READ, BK_PERM_ALLOW);
    BK_CHECK(s.n == n);

    BK_TEST("acl: filters");
    bk_acl_filter f = {BK_RES_ANY, BK_PAT_ANY, NULL, NULL, NULL, BK_OP_ANY, BK_PERM_ANY};
    int all = 0;
    for (int i = 0; i < s.n; i++)
        all += bk_acl_filter_matches(&f, &s.v[i]);
    BK_CHECK(all == s.n);
    f = (bk_acl_filter){BK_RES_TOPIC, BK_PAT_MATCH, "app-secret", NULL, NULL, BK_OP_ANY,
                        BK_PERM_ANY};
    int m = 0;
    for (int i = 0; i < s.n; i++)
        m += bk_acl_filter_matches(&f, &s.v[i]);
    BK_CHECK(m == 4); /* prefixed app-, literal app-secret, two literal * */
    f.ptype = BK_PAT_PREFIXED;
    f.name = "app-";
    m = 0;
    for (int i = 0; i < s.n; i++)
        m += bk_acl_filter_matches(&f, &s.v[i]);
    BK_CHECK(m == 1);

    BK_TEST("acl: file store round trip, remove");
    char dir[] = "/tmp/bk-acl-XXXXXX";
    BK_CHECK(mkdtemp(dir) != NULL);
    add(&s, BK_RES_TRANSACTIONAL_ID, BK_PAT_LITERAL, "tx 1%", "User:odd name", "*", BK_OP_WRITE,
        BK_PERM_ALLOW);
    BK_CHECK(bk_acls_save_file(&s, dir) == 0);
    bk_acls t;
    bk_acls_init(&t);
    BK_CHECK(bk_acls_load_file(&t, dir) == 0);
    BK_CHECK(t.n == s.n);
    BK_CHECK(bk_acls_authorize(&t, &pol, "User:odd name", "1.2.3.4", BK_OP_DESCRIBE,
                               BK_RES_TRANSACTIONAL_ID, "tx 1%", 5));
    bk_acl_filter rf = {BK_RES_TOPIC, BK_PAT_ANY, NULL, "User:dave", NULL, BK_OP_ANY,
                        BK_PERM_ANY};
    BK_CHECK(bk_acls_remove(&t, &rf, NULL, NULL) == 2);
    BK_CHECK(t.n == s.n - 2);
    bk_acls_fini(&t);
    char path[128];
    snprintf(path, sizeof path, "%s/brook-acls", dir);
    unlink(path);
    rmdir(dir);
    bk_acls_fini(&s);
}
