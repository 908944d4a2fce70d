/* controller_test.c - replica assignment (Kafka's AdminUtils). */
#include "../../tests/unit.h"
#include "../core/err.h"
#include "controller.h"

#include <string.h>

void bk_test_controller(void);
void bk_test_controller(void)
{
    BK_TEST("assign: Kafka's rack-unaware layout with a fixed start index");
    /* AdminUtilsTest/ReplicaAssignmentTest: brokers 0..4, 10 partitions,
     * rf 3, fixedStartIndex 0 */
    int32_t brokers[5] = {0, 1, 2, 3, 4};
    int32_t out[30];
    BK_CHECK(bk_assign_replicas(brokers, 5, 10, 3, 0, out) == 0);
    static const int32_t want[30] = {0, 1, 2, 1, 2, 3, 2, 3, 4, 3, 4, 0, 4, 0, 1,
                                     0, 2, 3, 1, 3, 4, 2, 4, 0, 3, 0, 1, 4, 1, 2};
    BK_CHECK(memcmp(out, want, sizeof want) == 0);

    BK_TEST("assign: random start: distinct replicas, leaders spread evenly");
    int32_t ids[3] = {10, 20, 30};
    int32_t o[3 * 30];
    for (int round = 0; round < 20; round++) {
        BK_CHECK(bk_assign_replicas(ids, 3, 30, 3, -1, o) == 0);
        int lead[3] = {0};
        for (int p = 0; p < 30; p++) {
            int32_t *r = &o[p * 3];
            BK_CHECK(r[0] != r[1] && r[1] != r[2] && r[0] != r[2]);
            lead[r[0] / 10 - 1]++;
        }
        BK_CHECK(lead[0] == 10 && lead[1] == 10 && lead[2] == 10);
    }
    BK_CHECK(bk_assign_replicas(ids, 3, 1, 1, -1, o) == 0 && (o[0] == 10 || o[0] == 20 || o[0] == 30));

    BK_TEST("assign: impossible replication factors");
    BK_CHECK(bk_assign_replicas(ids, 3, 1, 4, -1, o) == BK_EINVAL);
    BK_CHECK(bk_assign_replicas(ids, 0, 1, 1, -1, o) == BK_EINVAL);
    BK_CHECK(bk_assign_replicas(ids, 3, 1, 0, -1, o) == BK_EINVAL);
}

void bk_test_controller_racks(void);
void bk_test_controller_racks(void)
{
    BK_TEST("assign: Kafka's rack-aware layout");
    /* AdminRackAwareTest.testAssignmentWithRackAware... brokers 0..5 */
    int32_t b[6] = {0, 1, 2, 3, 4, 5};
    const char *r[6] = {"rack1", "rack3", "rack3", "rack2", "rack2", "rack1"};
    int32_t out[18];
    BK_CHECK(bk_assign_replicas_racks(b, r, 6, 6, 3, 0, out) == 0);
    static const int32_t want[18] = {0, 3, 1, 3, 1, 5, 1, 5, 4, 5, 4, 2, 4, 2, 0, 2, 0, 3};
    BK_CHECK(memcmp(out, want, sizeof want) == 0);
    /* random start: every partition on three racks, leaders even */
    for (int round = 0; round < 20; round++) {
        int32_t o[36];
        BK_CHECK(bk_assign_replicas_racks(b, r, 6, 12, 3, -1, o) == 0);
        int lead[6] = {0};
        for (int p = 0; p < 12; p++) {
            int32_t *x = &o[p * 3];
            BK_CHECK(strcmp(r[x[0]], r[x[1]]) != 0 && strcmp(r[x[1]], r[x[2]]) != 0 &&
                     strcmp(r[x[0]], r[x[2]]) != 0);
            lead[x[0]]++;
        }
        for (int i = 0; i < 6; i++)
            BK_CHECK(lead[i] == 2);
    }
    /* a broker without a rack: rack-unaware */
    const char *partial[3] = {"a", "", "b"};
    int32_t b3[3] = {0, 1, 2}, o3[3], u3[3];
    BK_CHECK(bk_assign_replicas_racks(b3, partial, 3, 1, 3, 0, o3) == 0);
    BK_CHECK(bk_assign_replicas(b3, 3, 1, 3, 0, u3) == 0 && memcmp(o3, u3, sizeof o3) == 0);
}
