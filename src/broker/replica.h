/*
 * replica.h - the replica manager (Kafka's ReplicaManager and Partition
 * leader/follower transitions) of cluster mode.
 *
 * A broker's partitions become leaders or followers only through the
 * functions below, one partition at a time: called by h_controller.c for
 * the controller's LeaderAndIsr, UpdateMetadata and StopReplica requests,
 * and in ZooKeeper mode by server.c for every partition state znode the
 * broker watches (the ZooKeeper controller writes states, it sends no
 * requests). These functions are the whole seam.
 *
 * Leader side: every Fetch from a replica records the follower's LEO
 * (bk_replica_on_fetch), which may expand the ISR and move the high
 * watermark = min LEO over the ISR; bk_replica_tick() shrinks the ISR of
 * followers that lagged replica.lag.time.max.ms. ISR changes go through
 * b->isr_change (broker.h). HW moves wake BK_WAKE_HW waiters (acks=all
 * produces) in the purgatory.
 *
 * Follower side: fetcher.h (one connection per leader).
 *
 * Thread: loop thread.
 */
#ifndef BK_REPLICA_H
#define BK_REPLICA_H

#include "../core/clock.h"
#include "broker.h"

/* One partition's state as LeaderAndIsr / UpdateMetadata carry it. */
typedef struct bk_part_state {
    int32_t controller_epoch;
    int32_t leader;
    int32_t leader_epoch;
    int32_t partition_epoch; /* LeaderAndIsr PartitionEpoch / UpdateMetadata ZkVersion */
    const int32_t *isr;
    int32_t nisr;
    const int32_t *replicas;
    int32_t nreplicas;
    const int32_t *adding, *removing, *offline;
    int32_t nadding, nremoving, noffline;
    bool is_new;
} bk_part_state;

#define BK_LEADER_DURING_DELETE (-2)

/* Start/stop (fetcher, default ISR hook). */
int bk_replica_init(bk_broker *b);
void bk_replica_fini(bk_broker *b);

/* Controller request header check: STALE_CONTROLLER_EPOCH for an epoch
 * below the largest seen (which it then records), STALE_BROKER_EPOCH when
 * b->broker_epoch is known and the request names another one. */
int16_t bk_replica_check_controller(bk_broker *b, int32_t controller_id, int32_t controller_epoch,
                                    int64_t broker_epoch);

/* LeaderAndIsr for one partition (becomeLeaderOrFollower): creates the
 * topic (with its id) and the local log, then makes this broker leader or
 * follower. A leader epoch below the current one is ignored with
 * STALE_CONTROLLER_EPOCH (Kafka's answer); a state that does not list
 * this broker as a replica is UNKNOWN_TOPIC_OR_PARTITION. */
int16_t bk_replica_leader_and_isr(bk_broker *b, const char *topic, size_t len,
                                  const bk_uuid *topic_id, int32_t partition,
                                  const bk_part_state *st);
/* UpdateMetadata for one partition: the metadata view (leader, ISR, ...)
 * of every partition, hosted or not. Leader BK_LEADER_DURING_DELETE marks
 * a topic being deleted: it leaves the view once no partition is hosted. */
void bk_replica_update_metadata(bk_broker *b, const char *topic, size_t len,
                                const bk_uuid *topic_id, int32_t partition,
                                const bk_part_state *st);
/* StopReplica for one partition: stop fetching, stop leading; del removes
 * the log. leader_epoch -1 = any (v0-2), -2 = deletion sentinel. */
int16_t bk_replica_stop(bk_broker *b, const char *topic, size_t len, int32_t partition,
                        int32_t leader_epoch, bool del);

/* The live brokers (UpdateMetadata LiveBrokers, or ZooKeeper's
 * /brokers/ids): replaces the list Metadata serves; upsert adds/updates
 * one. */
int bk_broker_set_live(bk_broker *b, const bk_live_broker *v, int n);
int bk_broker_upsert_live(bk_broker *b, const bk_live_broker *lb);
const bk_live_broker *bk_broker_live_find(const bk_broker *b, int32_t id);

/* Leader: a Fetch from replica id at fetch_offset arrived for p. */
void bk_replica_on_fetch(bk_broker *b, bk_partition *p, int32_t replica_id, int64_t fetch_offset);
/* Leader: records were appended to p (move the HW if the ISR allows). */
void bk_replica_appended(bk_broker *b, bk_partition *p);
/* Leader: recompute the HW; wakes BK_WAKE_HW waiters if it moved. */
bool bk_replica_maybe_advance_hw(bk_broker *b, bk_partition *p);
/* The result of an asynchronous isr_change (the hook returned BK_EAGAIN):
 * rc 0 applies isr at new_partition_epoch. */
void bk_replica_isr_done(bk_broker *b, const char *topic, int32_t partition, int rc,
                         const int32_t *isr, int32_t nisr, int32_t new_partition_epoch);
/* Periodic: ISR shrink (every replica.lag.time.max.ms / 2), fetcher. */
void bk_replica_tick(bk_broker *b, int64_t now_ms);

/* Truncate a follower's log (and its leader-epoch history) to offset. */
int bk_replica_truncate(bk_broker *b, bk_partition *p, int64_t offset);
/* Append a leader's batches as they are (follower): whole batches from
 * the LEO on; keeps the leader-epoch history. *appended = bytes. */
int bk_replica_append_as_follower(bk_broker *b, bk_partition *p, const uint8_t *data, size_t len,
                                  size_t *appended);

/* Leader-only check for client requests (Produce, consumer Fetch,
 * ListOffsets, OffsetForLeaderEpoch, DeleteRecords): NONE in single-node
 * mode; NOT_LEADER_OR_FOLLOWER when this broker does not lead p.
 *
 * Also NOT_LEADER_OR_FOLLOWER for every partition while the broker is
 * fenced after a freeze: when the loop did not run for freeze_ms (half the
 * ZooKeeper session timeout: SIGSTOP, a VM pause), the session may have
 * expired and another broker may lead now, with the producers' later
 * batches; a frozen ex-leader that answered from its stale state would
 * send them OUT_OF_ORDER_SEQUENCE_NUMBER (fatal for an idempotent
 * producer) or stale data. The first requests after the freeze are caught
 * by the stale last_tick_ms (the tick has not run yet); the tick then sets
 * lead_fenced until bk_cluster_confirm_session says ZooKeeper's view is
 * current (replica.c). acks=all safety does not depend on this (the ISR
 * writes are version-checked); it keeps clients away from a zombie. */
static inline int16_t bk_leader_check(const bk_broker *b, const bk_partition *p)
{
    if (!b->cluster)
        return BK_KERR_NONE;
    if (!p->log || !p->hosted || p->leader != b->node_id)
        return BK_KERR_NOT_LEADER_OR_FOLLOWER;
    if (b->lead_fenced ||
        (b->freeze_ms > 0 && b->last_tick_ms > 0 && bk_now_ms() - b->last_tick_ms > b->freeze_ms))
        return BK_KERR_NOT_LEADER_OR_FOLLOWER;
    return BK_KERR_NONE;
}

/* Cluster mode: NOT_COORDINATOR unless this broker leads the group's
 * __consumer_offsets partition (whose groups it then has loaded). */
int16_t bk_group_coord_check(bk_broker *b, const char *group, size_t glen);
/* The same for a transactional id and __transaction_state (NONE for a
 * null or empty id: no coordinator state is involved). */
int16_t bk_txn_coord_check(bk_broker *b, const char *txn_id, size_t len);

#endif
