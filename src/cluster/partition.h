/*
 * partition.h - the leader's view of its followers (Kafka's Partition and
 * Replica): follower fetch state, the high watermark rule and the ISR
 * shrink/expand rules. Pure functions over bk_partition (topics.h); the
 * broker (broker/replica.c) applies their results to the log, the ISR hook
 * and the purgatory.
 *
 * Rules (Kafka 3.x):
 *   follower fetch   LEO := fetch offset; last caught-up time := fetch time
 *                    if fetch offset >= leader LEO, else the previous fetch
 *                    time if fetch offset >= the leader LEO at that previous
 *                    fetch (Replica.updateFetchState).
 *   high watermark   min LEO over the ISR (the leader's own LEO included);
 *                    an ISR follower whose LEO is unknown (no fetch since
 *                    this broker became leader) holds it; it never moves
 *                    back.
 *   ISR shrink       an ISR follower whose last caught-up time is older than
 *                    replica.lag.time.max.ms (the leader never leaves).
 *   ISR expand       a replica (assigned, not being removed) outside the ISR
 *                    whose LEO >= HW and >= the start offset of the current
 *                    leader epoch.
 *
 * Thread: loop thread.
 */
#ifndef BK_PARTITION_H
#define BK_PARTITION_H

#include "topics.h"

/* Reset follower state on becoming leader (every replica but self). */
int bk_part_reset_followers(bk_partition *p, int32_t self, int64_t leader_leo, int64_t now_ms);
/* The state of replica id, or NULL (not a follower of this leader). */
bk_replica_state *bk_part_follower(bk_partition *p, int32_t id);
/* Record a follower's fetch. false if id is not a follower. */
bool bk_part_follower_fetched(bk_partition *p, int32_t id, int64_t fetch_offset,
                              int64_t leader_leo, int64_t now_ms);
/* The high watermark the ISR allows (may be below the current one: the
 * caller never moves it back); -1 when some ISR follower's LEO is unknown. */
int64_t bk_part_hw_candidate(const bk_partition *p, int32_t self, int64_t leader_leo);
/* Should follower id join the ISR now? */
bool bk_part_isr_eligible(const bk_partition *p, int32_t id, int64_t hw, int64_t epoch_start);
/* The ISR without the followers that lagged longer than lag_ms: writes it
 * to out (room for p->nisr) and returns its size; == p->nisr: no change. */
int32_t bk_part_isr_after_shrink(const bk_partition *p, int32_t self, int64_t now_ms,
                                 int64_t lag_ms, int32_t *out);

#endif
