/* quota_test.c - quota precedence, file store and the rate sensor. */
#include "../../tests/unit.h"
#include "quota.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void bk_test_quota(void);
void bk_test_quota(void)
{
    enum { N = BK_QPART_NAME, D = BK_QPART_DEFAULT, X = BK_QPART_NONE };
    bk_quotas q;
    bk_quotas_init(&q);
    const char *k = "producer_byte_rate";

    BK_TEST("quota: Kafka's precedence");
    BK_CHECK(bk_quotas_resolve(&q, "alice", "app", k) == -1);
    BK_CHECK(bk_quotas_set(&q, X, NULL, D, NULL, k, 8, false) == 0);
    BK_CHECK(bk_quotas_resolve(&q, "alice", "app", k) == 8);
    BK_CHECK(bk_quotas_set(&q, X, NULL, N, "app", k, 7, false) == 0);
    BK_CHECK(bk_quotas_resolve(&q, "alice", "app", k) == 7);
    BK_CHECK(bk_quotas_set(&q, D, NULL, X, NULL, k, 6, false) == 0);
    BK_CHECK(bk_quotas_resolve(&q, "alice", "app", k) == 6);
    BK_CHECK(bk_quotas_set(&q, N, "alice", X, NULL, k, 3, false) == 0);
    BK_CHECK(bk_quotas_resolve(&q, "alice", "app", k) == 3);
    BK_CHECK(bk_quotas_resolve(&q, "bob", "app", k) == 6);
    BK_CHECK(bk_quotas_set(&q, N, "alice", N, "app", k, 1, false) == 0);
    BK_CHECK(bk_quotas_resolve(&q, "alice", "app", k) == 1);
    BK_CHECK(bk_quotas_resolve(&q, "alice", "other", k) == 3);
    BK_CHECK(bk_quotas_resolve(&q, "alice", "app", "consumer_byte_rate") == -1);
    BK_CHECK(bk_quotas_set(&q, N, "alice", N, "app", k, 0, true) == 0);
    BK_CHECK(bk_quotas_resolve(&q, "alice", "app", k) == 3);
    BK_CHECK(bk_quota_key_valid("request_percentage") && !bk_quota_key_valid("foo"));

    BK_TEST("quota: ip entities (KIP-612) stand apart from users and clients");
    const char *ck = "connection_creation_rate";
    BK_CHECK(bk_quotas_resolve_ip(&q, "10.0.0.1") == -1);
    BK_CHECK(bk_quotas_set(&q, BK_QPART_IP_DEFAULT, NULL, X, NULL, ck, 20, false) == 0);
    BK_CHECK(bk_quotas_set(&q, BK_QPART_IP, "127.0.0.1", X, NULL, ck, 2, false) == 0);
    BK_CHECK(bk_quotas_resolve_ip(&q, "127.0.0.1") == 2);
    BK_CHECK(bk_quotas_resolve_ip(&q, "10.0.0.1") == 20);
    /* a user named like the address is another entity */
    BK_CHECK(bk_quotas_resolve(&q, "127.0.0.1", "", ck) == -1);
    BK_CHECK(bk_quotas_set(&q, BK_QPART_IP, "127.0.0.1", X, NULL, ck, 3, false) == 0);
    BK_CHECK(bk_quotas_resolve_ip(&q, "127.0.0.1") == 3);

    BK_TEST("quota: file store");
    char dir[] = "/tmp/bk-quota-XXXXXX";
    BK_CHECK(mkdtemp(dir) != NULL);
    BK_CHECK(bk_quotas_set(&q, N, "-", N, "a b%", "consumer_byte_rate", 1.5, false) == 0);
    BK_CHECK(bk_quotas_save_file(&q, dir) == 0);
    bk_quotas r;
    bk_quotas_init(&r);
    BK_CHECK(bk_quotas_load_file(&r, dir) == 0);
    BK_CHECK(r.n == q.n);
    BK_CHECK(bk_quotas_resolve(&r, "-", "a b%", "consumer_byte_rate") == 1.5);
    BK_CHECK(bk_quotas_resolve(&r, "zed", "app", k) == 6); /* user default before client */
    BK_CHECK(bk_quotas_resolve_ip(&r, "127.0.0.1") == 3);
    BK_CHECK(bk_quotas_resolve_ip(&r, "::1") == 20);
    bk_quotas_fini(&r);
    char path[128];
    snprintf(path, sizeof path, "%s/brook-quotas", dir);
    unlink(path);
    rmdir(dir);
    bk_quotas_fini(&q);

    BK_TEST("quota: the rate sensor throttles past one second of burst");
    bk_rate s = {0};
    BK_CHECK(bk_rate_record(&s, 1000, 500, 0) == 0);
    BK_CHECK(bk_rate_record(&s, 1000, 500, 0) == 0);
    BK_CHECK(bk_rate_record(&s, 1000, 1000, 0) == 1000);
    BK_CHECK(bk_rate_record(&s, 1000, 0, 500) == 500);
    BK_CHECK(bk_rate_record(&s, 1000, 0, 1000) == 0);
    BK_CHECK(bk_rate_record(&s, 0, 1 << 30, 1000) == 0);

    BK_TEST("quota: request_percentage as microseconds a second");
    bk_rate t = {0};
    double pct = 1 * 10000.0; /* 1 % of one thread: 10 ms a second */
    BK_CHECK(bk_rate_record(&t, pct, 10000, 0) == 0);
    BK_CHECK(bk_rate_record(&t, pct, 5000, 0) == 500); /* 5 ms over: 0.5 s to repay */
    BK_CHECK(bk_rate_record(&t, pct, 0, 500) == 0);
}
