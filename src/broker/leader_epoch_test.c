/* leader_epoch_test.c - Kafka's LeaderEpochFileCache.endOffsetFor rules. */
#include "leader_epoch.h"

#include "../../tests/unit.h"

void bk_test_leader_epoch(void);
void bk_test_leader_epoch(void)
{
    int32_t ep;
    int64_t off;

    BK_TEST("leader epoch: single node history (epoch 0 from the log start)");
    bk_epoch_entry one = bk_epochs_single(0, 0);
    bk_epochs_end_offset_for(&one, 1, 0, 42, &ep, &off);
    BK_CHECK(ep == 0 && off == 42);
    bk_epochs_end_offset_for(&one, 1, 1, 42, &ep, &off); /* newer than we know */
    BK_CHECK(ep == -1 && off == -1);
    bk_epochs_end_offset_for(&one, 1, -1, 42, &ep, &off);
    BK_CHECK(ep == -1 && off == -1);
    bk_epochs_end_offset_for(&one, 0, 0, 42, &ep, &off); /* empty history */
    BK_CHECK(ep == -1 && off == -1);
    BK_CHECK(bk_epochs_epoch_for_offset(&one, 1, 0) == 0);
    BK_CHECK(bk_epochs_epoch_for_offset(&one, 1, 100) == 0);

    BK_TEST("leader epoch: a history with gaps (Kafka's test cases)");
    bk_epoch_entry h[3] = {{2, 10}, {4, 20}, {7, 35}};
    bk_epochs_end_offset_for(h, 3, 7, 50, &ep, &off); /* latest */
    BK_CHECK(ep == 7 && off == 50);
    bk_epochs_end_offset_for(h, 3, 4, 50, &ep, &off);
    BK_CHECK(ep == 4 && off == 35);
    bk_epochs_end_offset_for(h, 3, 5, 50, &ep, &off); /* between: floor epoch, next start */
    BK_CHECK(ep == 4 && off == 35);
    bk_epochs_end_offset_for(h, 3, 1, 50, &ep, &off); /* before the first */
    BK_CHECK(ep == 1 && off == 10);
    bk_epochs_end_offset_for(h, 3, 8, 50, &ep, &off);
    BK_CHECK(ep == -1 && off == -1);
    BK_CHECK(bk_epochs_epoch_for_offset(h, 3, 5) == -1);
    BK_CHECK(bk_epochs_epoch_for_offset(h, 3, 19) == 2);
    BK_CHECK(bk_epochs_epoch_for_offset(h, 3, 20) == 4);
    BK_CHECK(bk_epochs_epoch_for_offset(h, 3, 99) == 7);
}
