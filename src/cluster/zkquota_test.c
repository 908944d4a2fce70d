/* zkquota_test.c - the quota config znodes (Kafka's /config/users, /config/clients). */
#include "../../tests/unit.h"
#include "../core/err.h"
#include "zkquota.h"

#include <stdlib.h>
#include <string.h>

void bk_test_zkquota(void);
void bk_test_zkquota(void)
{
    enum { N = BK_QPART_NAME, D = BK_QPART_DEFAULT, X = BK_QPART_NONE };
    BK_TEST("zkquota: encode keeps other keys (SCRAM credentials), decode reads quotas only");
    bk_quotas q, r;
    bk_quotas_init(&q);
    bk_quotas_init(&r);
    BK_CHECK(bk_quotas_set(&q, N, "alice", X, NULL, "producer_byte_rate", 1024, false) == 0);
    BK_CHECK(bk_quotas_set(&q, N, "alice", N, "app", "consumer_byte_rate", 5, false) == 0);
    const char *old = "{\"version\":1,\"config\":{\"SCRAM-SHA-256\":\"salt=x,iterations=4096\","
                      "\"producer_byte_rate\":\"1.0\"}}";
    int nk;
    char *j = bk_zkquota_encode(old, strlen(old), &q, N, "alice", X, NULL, &nk);
    BK_CHECK(j && nk == 2);
    BK_CHECK(j && strcmp(j, "{\"version\":1,\"config\":{\"SCRAM-SHA-256\":\"salt=x,iterations=4096\","
                            "\"producer_byte_rate\":\"1024.0\"}}") == 0);
    BK_CHECK(j && bk_zkquota_decode(j, strlen(j), N, "alice", X, NULL, &r) == 0);
    BK_CHECK(r.n == 1 && bk_quotas_resolve(&r, "alice", "x", "producer_byte_rate") == 1024);
    free(j);
    j = bk_zkquota_encode(NULL, 0, &q, D, NULL, X, NULL, &nk);
    BK_CHECK(j && nk == 0 && strcmp(j, "{\"version\":1,\"config\":{}}") == 0);
    free(j);
    const char *bad = "{\"version\":1,\"config\":{\"producer_byte_rate\":\"fast\"}}";
    BK_CHECK(bk_zkquota_decode(bad, strlen(bad), N, "a", X, NULL, &r) == BK_ECORRUPT);
    bk_quotas_fini(&q);
    bk_quotas_fini(&r);
}
