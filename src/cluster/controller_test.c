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
