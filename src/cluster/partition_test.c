/* partition_test.c - the leader's HW and ISR rules (partition.h). */
#include "partition.h"

#include "../../tests/unit.h"

#include <stdlib.h>
#include <string.h>

void bk_test_partition(void);

static void setup(bk_partition *p, const int32_t *replicas, int nr, const int32_t *isr, int ni)
{
    memset(p, 0, sizeof *p);
    p->leader = 0;
    bk_ids_set(&p->replicas, &p->nreplicas, replicas, nr);
    bk_ids_set(&p->isr, &p->nisr, isr, ni);
}

void bk_test_partition(void)
{
    static const int32_t r3[] = {0, 1, 2};
    bk_partition p;
    int32_t out[8];

    BK_TEST("partition: HW = min LEO over the ISR; unknown follower LEOs hold it");
    setup(&p, r3, 3, r3, 3);
    BK_CHECK(bk_part_reset_followers(&p, 0, 100, 1000) == 0);
    BK_CHECK(p.nrstate == 2);
    BK_CHECK(bk_part_hw_candidate(&p, 0, 100) == -1); /* no fetch yet */
    BK_CHECK(bk_part_follower_fetched(&p, 1, 100, 100, 1100));
    BK_CHECK(bk_part_hw_candidate(&p, 0, 100) == -1); /* 2 unknown */
    BK_CHECK(bk_part_follower_fetched(&p, 2, 60, 100, 1100));
    BK_CHECK(bk_part_hw_candidate(&p, 0, 100) == 60);
    BK_CHECK(bk_part_follower_fetched(&p, 2, 100, 120, 1200));
    BK_CHECK(bk_part_hw_candidate(&p, 0, 120) == 100);
    BK_CHECK(!bk_part_follower_fetched(&p, 7, 100, 120, 1200)); /* not a replica */
    /* a follower outside the ISR does not hold the HW */
    static const int32_t isr01[] = {0, 1};
    bk_ids_set(&p.isr, &p.nisr, isr01, 2);
    BK_CHECK(bk_part_hw_candidate(&p, 0, 120) == 100);
    BK_CHECK(bk_part_follower_fetched(&p, 1, 120, 120, 1300));
    BK_CHECK(bk_part_hw_candidate(&p, 0, 120) == 120);
    bk_partition_fini(&p);

    BK_TEST("partition: ISR of the leader alone: HW = LEO");
    static const int32_t r1[] = {0};
    setup(&p, r1, 1, r1, 1);
    BK_CHECK(bk_part_reset_followers(&p, 0, 5, 0) == 0);
    BK_CHECK(bk_part_hw_candidate(&p, 0, 5) == 5);
    bk_partition_fini(&p);

    BK_TEST("partition: last caught-up time (Kafka's Replica.updateFetchState)");
    setup(&p, r3, 3, r3, 3);
    bk_part_reset_followers(&p, 0, 100, 1000);
    bk_replica_state *f1 = bk_part_follower(&p, 1);
    BK_CHECK(f1 && f1->last_caught_up_ms == 1000); /* in sync at election */
    bk_part_follower_fetched(&p, 1, 90, 100, 2000); /* behind, below last LEO */
    BK_CHECK(f1->last_caught_up_ms == 1000);
    bk_part_follower_fetched(&p, 1, 100, 150, 3000); /* reached the LEO of the last fetch */
    BK_CHECK(f1->last_caught_up_ms == 2000);
    bk_part_follower_fetched(&p, 1, 150, 150, 4000); /* at the LEO */
    BK_CHECK(f1->last_caught_up_ms == 4000);

    BK_TEST("partition: ISR shrink after replica.lag.time.max.ms");
    bk_part_follower_fetched(&p, 2, 150, 150, 4000);
    BK_CHECK(bk_part_isr_after_shrink(&p, 0, 5000, 2000, out) == 3);
    bk_part_follower_fetched(&p, 2, 150, 300, 9000); /* 2 behind since 4000 */
    bk_part_follower_fetched(&p, 1, 300, 300, 9000);
    int32_t n = bk_part_isr_after_shrink(&p, 0, 9000, 2000, out);
    BK_CHECK(n == 2 && out[0] == 0 && out[1] == 1);
    /* the leader never leaves */
    f1->last_caught_up_ms = 0;
    n = bk_part_isr_after_shrink(&p, 0, 9000, 2000, out);
    BK_CHECK(n == 1 && out[0] == 0);
    bk_partition_fini(&p);

    BK_TEST("partition: ISR expansion once a follower reaches the HW and the epoch start");
    setup(&p, r3, 3, isr01, 2);
    bk_part_reset_followers(&p, 0, 100, 0);
    BK_CHECK(!bk_part_isr_eligible(&p, 2, 100, 50)); /* LEO unknown */
    bk_part_follower_fetched(&p, 2, 80, 100, 10);
    BK_CHECK(!bk_part_isr_eligible(&p, 2, 100, 50));
    bk_part_follower_fetched(&p, 2, 100, 100, 20);
    BK_CHECK(bk_part_isr_eligible(&p, 2, 100, 50));
    BK_CHECK(!bk_part_isr_eligible(&p, 2, 100, 120)); /* before this epoch's start */
    BK_CHECK(!bk_part_isr_eligible(&p, 1, 0, 0));     /* already in */
    static const int32_t rm2[] = {2};
    bk_ids_set(&p.removing, &p.nremoving, rm2, 1);
    BK_CHECK(!bk_part_isr_eligible(&p, 2, 100, 50)); /* being removed */
    bk_partition_fini(&p);

    BK_TEST("partition: leader-epoch history assign and truncate (LeaderEpochFileCache)");
    memset(&p, 0, sizeof p);
    BK_CHECK(bk_partition_assign_epoch(&p, 0, 0));
    BK_CHECK(!bk_partition_assign_epoch(&p, 0, 10)); /* same epoch: kept */
    BK_CHECK(bk_partition_assign_epoch(&p, 2, 50));
    BK_CHECK(bk_partition_assign_epoch(&p, 3, 70));
    BK_CHECK(p.nepochs == 3 && bk_partition_latest_epoch(&p) == 3);
    BK_CHECK(bk_partition_assign_epoch(&p, 4, 50)); /* drops entries at/after 50 */
    BK_CHECK(p.nepochs == 2 && p.epochs[1].epoch == 4 && p.epochs[1].start_offset == 50);
    BK_CHECK(bk_partition_truncate_epochs(&p, 50));
    BK_CHECK(p.nepochs == 1 && bk_partition_latest_epoch(&p) == 0);
    BK_CHECK(!bk_partition_truncate_epochs(&p, 50));
    bk_partition_fini(&p);
}
