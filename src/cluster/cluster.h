/*
 * cluster.h - this broker's membership of a ZooKeeper-coordinated cluster
 * (cluster mode: zookeeper.connect is set).
 *
 * Start-up (server.c; both steps run the loop until done, bounded by
 * zookeeper.connection.timeout.ms, before any client is served):
 *   1. bk_cluster_open: connect (a chroot in zookeeper.connect is created
 *      first if missing, as Kafka does), create the persistent paths Kafka
 *      creates (/brokers/ids, /brokers/topics, /config/..., /admin/...,
 *      ...), read /cluster/id or create it (with the configured cluster.id,
 *      else the one in meta.properties, else a random one). The caller
 *      checks it against meta.properties (a mismatch refuses start-up).
 *   2. bk_cluster_register, once the listeners are bound: the ephemeral
 *      /brokers/ids/<id>; if it exists, wait up to the session timeout for
 *      it to go (a previous run of this broker, killed) and then fail (a
 *      live broker has that id),
 *      then, asynchronously: the /brokers/ids watch (live-broker map), the
 *      /brokers/topics watch (topics mirrored into the registry with
 *      bk_topics_apply / bk_topics_drop; in cluster mode no partition is
 *      hosted by that), the partition state znode watches of every
 *      mirrored topic (each state goes to on_pstate, which applies it to
 *      the replica side), and the controller election (controller.h).
 *
 * Session expiry: the controller resigns at once, a new session is
 * started, and on connection the broker re-registers, re-reads and
 * re-watches everything, and runs for controller again.
 *
 * Thread: loop thread.
 */
#ifndef BK_CLUSTER_H
#define BK_CLUSTER_H

#include "../core/config.h"
#include "controller.h"
#include "metastore.h"
#include "throttle.h"
#include "topics.h"
#include "zk.h"
#include "zkjson.h"

typedef struct bk_ctopic bk_ctopic;
typedef struct bk_cluster bk_cluster;

/* A partition's state znode as read (st, version = its stat.version,
 * replicas from the topic's assignment), or gone (st NULL: the topic or
 * partition is being deleted). */
typedef void bk_cluster_pstate_fn(bk_cluster *c, void *ud, const char *topic, const uint8_t id[16],
                                  int32_t partition, const bk_zk_pstate *st, int32_t version,
                                  const int32_t *replicas, int nreplicas);
/* The end of bk_cluster_write_pstate: rc 0 (new_version = the znode's new
 * version), BK_EVERSION (version conflict) or another error. */
typedef void bk_cluster_pstate_done_fn(void *ud, int rc, int32_t new_version);
/* The end of bk_cluster_confirm_session. */
typedef void bk_cluster_confirmed_fn(void *ud);

struct bk_cluster {
    const bk_config *cfg; /* borrowed */
    bk_ev *ev;            /* borrowed */
    bk_zk *zk;            /* owned */
    char cluster_id[65];
    int32_t node_id;
    bk_zk_broker self;   /* our registration (valid after register) */
    bool registered;     /* our ephemeral exists in the current session */
    bool setup_pending;  /* a new session needs re-registration and watches */
    int reg_attempts;
    bk_ev_timer retry;   /* re-registration retry */

    bk_zk_broker *brokers; /* owned: live brokers, sorted by id */
    int nbrokers;
    int brokers_gen; /* refreshes in flight are dropped when it moves */

    bk_ctopic **topics_v; /* owned: every topic in /brokers/topics we know of */
    int ntopics, captopics;
    int topics_gen;
    char **deleting; /* owned: names this broker asked to delete, not gone yet */
    int ndeleting;

    struct bk_removal *removals; /* owned: deletions being waited for (zkstore.c) */
    bk_topics *topics;    /* borrowed: the registry (NULL until attached) */
    bk_controller *ctl;   /* owned */
    void (*on_brokers)(bk_cluster *c, void *ud); /* live set changed (may be NULL) */
    bk_cluster_pstate_fn *on_pstate;             /* a partition state (may be NULL) */
    void *ud;
    uint64_t topic_serial; /* incarnations of bk_ctopic (state watches check it) */

    /* Broker dynamic configs: /config/brokers/<id> ([0]) and
     * /config/brokers/<default> ([1]), watched; owned strings. Only the
     * replication throttle rates are used (throttle.h). */
    char **bcfg_keys[2], **bcfg_vals[2];
    int nbcfg[2];
    int bcfg_gen;
    bk_throttle leader_throttle, follower_throttle;
    /* bk_cluster_confirm_session in progress (confirm_cb set) */
    bk_cluster_confirmed_fn *confirm_cb;
    void *confirm_ud;
    int64_t confirm_session;   /* the session before the freeze */
    int64_t confirm_round_sid; /* the session the barrier rounds run on */
    int confirm_rounds;        /* barrier round trips completed on it */
    bool confirm_owner_ok;     /* the old session is still ours (or a new one) */
    bool confirm_busy;         /* a request in flight */
    bk_ev_timer confirm_timer; /* retry */
    /* The session expired (may be NULL): the broker fences its leaderships
     * at once (replica.c installs it). */
    void (*on_session_lost)(void *ud);
    void *session_lost_ud;
};

/* IncrementalAlterConfigs/AlterConfigs of a broker entity (this broker,
 * or the cluster default when dflt): only leader.replication.throttled.rate
 * and follower.replication.throttled.rate may be set (a non-negative
 * long) or deleted (kv[i].val NULL); replace drops the other dynamic
 * entries (AlterConfigs). Writes /config/brokers/<id|<default>> and a
 * /config/changes notification; the watch applies it. Returns a Kafka
 * error code with a message in msg. */
int16_t bk_cluster_alter_broker_config(bk_cluster *c, bool dflt, const bk_kv *kv, int nkv,
                                       bool replace, bool validate_only, char *msg, size_t msglen);
/* This broker's dynamic value of key (its own over the default), or NULL. */
const char *bk_cluster_broker_config(const bk_cluster *c, const char *key, bool *is_default);

int bk_cluster_open(bk_cluster **out, bk_ev *ev, const bk_config *cfg, const char *stored_cluster_id,
                    char *err, size_t errlen);
/* host/port: what other brokers and clients connect to (advertised). */
int bk_cluster_register(bk_cluster *c, int32_t node_id, const char *host, int port, char *err,
                        size_t errlen);
/* From now on topics in ZooKeeper are mirrored into t. */
void bk_cluster_attach_topics(bk_cluster *c, bk_topics *t);
void bk_cluster_close(bk_cluster *c);

/* Live brokers, sorted by id (borrowed until the next loop callback). */
const bk_zk_broker *bk_cluster_brokers(const bk_cluster *c, int *n);
int32_t bk_cluster_controller_id(const bk_cluster *c);
int32_t bk_cluster_controller_epoch(const bk_cluster *c);
bool bk_cluster_is_controller(const bk_cluster *c);

/*
 * Fencing after a freeze (replica.h: a broker whose loop did not run for a
 * large part of the session timeout - SIGSTOP, a VM pause - leads nothing
 * until this confirms). Confirmed when the ZooKeeper session is known and
 * its view of the partition states is current: either the session of
 * before the freeze (old_session) still owns our registration, or a new
 * session was set up after expiry; then BK_CLUSTER_CONFIRM_ROUNDS round
 * trips on that session. ZooKeeper answers a session's requests in order
 * and the loop runs completions in order, so every read queued before a
 * round trip - and, one level per round, the reads those reads queued
 * (children -> assignment -> partition state) - has been applied when it
 * completes; watch events of changes made meanwhile come before the
 * answers too. cb runs once, on the loop; it is retried while ZooKeeper is
 * unreachable (the broker stays fenced). A second call replaces the first.
 */
#define BK_CLUSTER_CONFIRM_ROUNDS 5
void bk_cluster_confirm_session(bk_cluster *c, int64_t old_session, bk_cluster_confirmed_fn *cb,
                                void *ud);
/* The current ZooKeeper session id (0 if none). */
int64_t bk_cluster_session_id(const bk_cluster *c);

/* Topic assignments as ZooKeeper has them (NULL if unknown). */
const bk_zk_topic *bk_cluster_assignment(const bk_cluster *c, const char *name);
int bk_cluster_ntopics(const bk_cluster *c);
/* i-th known topic: name (borrowed), assignment (NULL while being read). */
const char *bk_cluster_topic_at(const bk_cluster *c, int i, const bk_zk_topic **a);

/* The ZooKeeper metadata store (zkstore.c) over c: load reads every topic
 * (running the loop, start-up); put/remove/put_async write the znodes. */
int bk_metastore_zk_open(bk_metastore **out, bk_cluster *c);
/* Producer id blocks from /latest_producer_id_block (zkstore.c). */
int bk_pidstore_zk_open(bk_pidstore **out, bk_cluster *c);

/* The leader's ISR change (Kafka's pre-AlterPartition way): set
 * /brokers/topics/<t>/partitions/<p>/state to st if its version is still
 * `version`; on success an /isr_change_notification/isr_change_ sequential
 * znode is written too, as Kafka's brokers do. */
void bk_cluster_write_pstate(bk_cluster *c, const char *topic, int32_t partition,
                             const bk_zk_pstate *st, int32_t version, bk_cluster_pstate_done_fn *cb,
                             void *ud);

/* Internal to cluster.c / zkstore.c: the topic is being deleted by us. */
void bk_cluster_mark_deleting(bk_cluster *c, const char *name);
/* Internal: complete every waiting remove_async with BK_EIO (close). */
void bk_cluster_cancel_removals(bk_cluster *c);

#endif
