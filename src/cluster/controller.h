/*
 * controller.h - the cluster controller (Kafka's KafkaController, ZooKeeper
 * mode): election through the ephemeral /controller znode, the controller
 * epoch, and what the controller does with new topics. Plus the replica
 * assignment every broker uses at topic creation.
 *
 * Election (one bk_controller per broker, driven by bk_cluster):
 *
 *   IDLE --session up--> ELECTING: create /controller (ephemeral,
 *        {"version":2,"brokerid":N,...}) and
 *          ok          -> read /controller_epoch, set it to epoch+1 with
 *                         its version (create "1" if absent); ok ->
 *                         ACTIVE (on_elected); version conflict -> another
 *                         controller raced us: resign (delete /controller)
 *          NODEEXISTS  -> FOLLOWING: read /controller with a watch, learn
 *                         the controller id; when it is deleted -> ELECTING
 *   ACTIVE --session expired--> IDLE (resign: am_controller false at once;
 *                         the ephemeral is gone with the session)
 *
 * Propagation (the documented replacement for Kafka's LeaderAndIsr /
 * UpdateMetadata / StopReplica requests): the controller only writes the
 * partition state znodes; every broker reads and watches
 * /brokers/topics/<t>/partitions/<p>/state of every topic it mirrors
 * (cluster.c) and applies each state to its replica side (server.c
 * on_pstate: bk_replica_leader_and_isr for partitions it is a replica of,
 * with partition epoch = the znode's version, bk_replica_update_metadata
 * for the others, bk_replica_stop when the partition goes).
 *
 * ISR changes: the leader writes the state znode itself with a version
 * check (Kafka's pre-AlterPartition way; expected version = its partition
 * epoch); a conflict means the controller moved the state, and the watch
 * brings the new one. A leader that lost its session cannot write, so it
 * cannot shrink the ISR to acknowledge acks=all writes alone.
 *
 * As controller: for every topic in /brokers/topics (when elected, then on
 * every new topic), the partition state znodes that are missing are
 * created: /brokers/topics/<t>/partitions/<p>/state with leader = first
 * live replica of the assignment, isr = the live replicas, leader_epoch 0,
 * controller_epoch = ours. Failover (when elected and on every change of
 * the live broker set, controller.c): a partition whose leader is not live
 * gets the first live ISR replica of its assignment as leader (none: -1,
 * offline; unclean election is never done), dead brokers leave every ISR,
 * the leader epoch is bumped, and the znode is written with its version
 * (a conflict re-reads and retries). A returning broker sees the state
 * znode, becomes a follower, and its leader adds it back to the ISR.
 *
 * Thread: loop thread.
 */
#ifndef BK_CONTROLLER_H
#define BK_CONTROLLER_H

#include "zk.h"
#include "zkjson.h"

/*
 * Kafka's AdminUtils.assignReplicasToBrokers, rack-unaware: brokers sorted
 * by id; partition p's first replica is brokers[(p + start) % n], the
 * others follow at a shift that grows by one every n partitions. start
 * (and the initial shift) < 0: random, as Kafka. OUT: out[p * rf + r].
 * BK_EINVAL if rf > n or rf < 1 or n == 0.
 */
int bk_assign_replicas(const int32_t *brokers, int n, int32_t nparts, int16_t rf, int start,
                       int32_t *out);

/* Kafka's assignReplicasToBrokersRackAware, used when every broker has a
 * broker.rack: brokers alternate by rack, and each partition's replicas go
 * to as many different racks as possible. racks[i] is brokers[i]'s rack;
 * if any is missing or empty, the rack-unaware layout is used (Kafka
 * refuses a partly racked cluster instead). */
int bk_assign_replicas_racks(const int32_t *brokers, const char *const *racks, int n,
                             int32_t nparts, int16_t rf, int start, int32_t *out);

typedef struct bk_cluster bk_cluster;
typedef struct bk_controller bk_controller;

bk_controller *bk_controller_new(bk_cluster *c, bk_zk *zk, int32_t node_id);
void bk_controller_free(bk_controller *ctl);
/* A (new) session is up: take part in the election. */
void bk_controller_session_up(bk_controller *ctl);
/* The session expired: resign. */
void bk_controller_session_lost(bk_controller *ctl);
/* The cluster learnt a topic's assignment (new or changed). */
void bk_controller_on_topic(bk_controller *ctl, const char *name, const bk_zk_topic *a);
/* The live broker set changed (bk_cluster_brokers has the new one): on
 * the active controller, broker failover (new leaders from the ISR, dead
 * brokers out of the ISRs; see above). */
void bk_controller_on_brokers(bk_controller *ctl);

/* Partition reassignment (ctl_reassign.c; KIP-455, ZooKeeper mode). */
/* A partition state was read (cluster.c): the active controller checks
 * whether a reassignment of that partition can complete. */
void bk_ctl_reassign_pstate(bk_controller *ctl, const char *topic, int32_t partition,
                            const bk_zk_pstate *st, int32_t version);
/* AlterPartitionReassignments of one partition: replicas (n of them) is the
 * target; n < 0 cancels. Returns a Kafka error code, *msg a message (static)
 * or NULL. Only on the active controller (else NOT_CONTROLLER). The
 * assignment znode is written after the call returns. */
int16_t bk_ctl_reassign_alter(bk_controller *ctl, const char *topic, int32_t partition,
                              const int32_t *replicas, int n, const char **msg);
/* After a batch of alters: write the assignment znodes they changed. */
void bk_ctl_reassign_flush(bk_controller *ctl);
/* The reassignments in progress, one at a time (i from 0 while it returns
 * true): topic, partition, the full replica list (target + the originals
 * being removed), adding and removing replicas; arrays borrowed, up to
 * 64 each. */
bool bk_ctl_reassign_at(const bk_controller *ctl, int i, const char **topic, int32_t *partition,
                        int32_t *reps, int *nreps, int32_t *adding, int *nadding,
                        int32_t *removing, int *nremoving);

bool bk_controller_active(const bk_controller *ctl);
/* The current controller's broker id (-1 unknown) and epoch (0 unknown;
 * only known on the controller itself and after reading /controller_epoch). */
int32_t bk_controller_id(const bk_controller *ctl);
int32_t bk_controller_epoch(const bk_controller *ctl);

#endif
