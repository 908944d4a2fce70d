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
 * gets the first live ISR replica of its assignment as leader, one not in
 * controlled shutdown first (none: -1, offline, unless the topic's
 * unclean.leader.election.enable allows the first live replica;
 * bk_elect_offline), dead brokers leave every ISR,
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

/* ------------------------------------------------ leaders (ctl_leaders.c)
 *
 * Controlled shutdown (Kafka's ControlledShutdown), ElectLeaders (preferred
 * and unclean) and the automatic preferred-leader rebalance
 * (auto.leader.rebalance.enable). Every change is a version-checked write
 * of the partition state znode with the leader epoch bumped, as failover. */

enum { BK_ELECT_PREFERRED = 0, BK_ELECT_UNCLEAN = 1 };

/* The pure election strategies (Kafka's PartitionLeaderElectionAlgorithms),
 * over one partition: its assignment, the live brokers and the brokers
 * shutting down. */
typedef struct bk_elect_in {
    const int32_t *replicas; /* assignment order; replicas[0] is preferred */
    int nreplicas;
    const int32_t *live; /* live broker ids */
    int nlive;
    const int32_t *shutting; /* brokers in controlled shutdown */
    int nshutting;
} bk_elect_in;

/* Failover (leader gone): dead brokers leave the ISR; the new leader is the
 * first replica in assignment order that is live and in the ISR, one not
 * shutting down first; none and unclean: the first live replica, with the
 * ISR just it; none at all: -1 with the last ISR kept. true if ns differs
 * from st (leader or ISR; epochs are the caller's). */
bool bk_elect_offline(const bk_elect_in *in, bool unclean, const bk_zk_pstate *st,
                      bk_zk_pstate *ns);
/* Preferred: replicas[0] becomes leader if live, not shutting down and in
 * the ISR. 0 (BK_KERR_NONE: write ns), ELECTION_NOT_NEEDED or
 * PREFERRED_LEADER_NOT_AVAILABLE. */
int16_t bk_elect_preferred(const bk_elect_in *in, const bk_zk_pstate *st, bk_zk_pstate *ns);
/* Unclean (ElectLeaders type 1): a live leader -> ELECTION_NOT_NEEDED;
 * else as bk_elect_offline with unclean allowed; no live replica ->
 * ELIGIBLE_LEADERS_NOT_AVAILABLE. */
int16_t bk_elect_unclean(const bk_elect_in *in, const bk_zk_pstate *st, bk_zk_pstate *ns);
/* Controlled shutdown of `id` (in in->shutting): it leads -> the first
 * replica that is live, in the ISR and not shutting down, ISR minus the
 * shutting-down brokers (1); nobody -> it stays leader (-1); it follows a
 * live leader and the ISR has others -> it leaves the ISR (1); else 0. */
int bk_elect_cshut(const bk_elect_in *in, int32_t id, const bk_zk_pstate *st, bk_zk_pstate *ns);

/* One partition of an election: in, topic and partition; out, the Kafka
 * error code and the leader afterwards (-1 unknown). */
typedef struct bk_ctl_part {
    const char *topic;
    int32_t partition;
    int16_t err;
    int32_t leader;
    /* controlled shutdown: the stopping broker still leads it and another
     * replica is live, so a later attempt may move it (Kafka counts every
     * led partition with more than one replica; one whose other replicas
     * are all down cannot move, and retrying for it only delays the exit) */
    bool remain;
} bk_ctl_part;

/* Called exactly once, maybe before the call that started it returns: err
 * for the whole request (NOT_CONTROLLER), parts owned by the callee. */
typedef void bk_ctl_done_fn(void *ud, int16_t err, const bk_ctl_part *parts, int n);

/* ElectLeaders on the active controller; parts NULL = every partition. */
void bk_controller_elect(bk_controller *ctl, int type, const bk_ctl_part *parts, int n,
                         bk_ctl_done_fn *cb, void *ud);
/* ControlledShutdown of `broker`: it joins the shutting-down set (left
 * when it disappears from /brokers/ids or re-registers), its leaderships
 * move, it leaves the ISRs it follows in. parts: every partition looked at,
 * with its leader afterwards; `remain` marks RemainingPartitions. */
void bk_controller_controlled_shutdown(bk_controller *ctl, int32_t broker, bk_ctl_done_fn *cb,
                                       void *ud);
/* Brokers in controlled shutdown (failover avoids electing them). */
const int32_t *bk_controller_shutting(const bk_controller *ctl, int *n);

#endif
