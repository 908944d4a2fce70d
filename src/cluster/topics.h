/*
 * topics.h - the broker's topics: names, ids, partitions and their logs,
 * per-topic configuration, backed by a metadata store (metastore.h).
 *
 * In single-node mode every partition is led by this broker, its replica
 * set is {this broker}, and its log lives in the log manager. In cluster
 * mode (zookeeper.connect, or brook.controller.requests.enable) topics
 * loaded from the store are not led or hosted here: the registry opens a
 * partition's log only when the controller's LeaderAndIsr makes this
 * broker a replica (bk_topics_host, called by broker/replica.c), and
 * UpdateMetadata / LeaderAndIsr add topics the store never had
 * (bk_topics_ensure).
 *
 * Lifetime: bk_topic and bk_partition pointers stay valid until the topic
 * is deleted (bk_topics_delete) or partitions are added (the partition
 * array may move: re-fetch after bk_topics_add_partitions). Handlers must
 * not keep them across requests; keep (name, index) instead.
 *
 * Thread: loop thread.
 */
#ifndef BK_TOPICS_H
#define BK_TOPICS_H

#include "../core/config.h"
#include "../proto/codec.h"
#include "../storage/logmgr.h"

/* compression.type */
enum {
    BK_TCOMP_PRODUCER = -1, /* keep what the producer sent */
    BK_TCOMP_NONE = 0,      /* "uncompressed" */
    BK_TCOMP_GZIP = 1,
    BK_TCOMP_SNAPPY = 2,
    BK_TCOMP_LZ4 = 3,
    BK_TCOMP_ZSTD = 4
};

/* A topic's effective configuration, parsed (Kafka topic config names). */
typedef struct bk_topic_config {
    bk_logcfg log;               /* segment.*, retention.*, flush.*, index.* */
    int32_t max_message_bytes;   /* max.message.bytes */
    int timestamp_type;          /* message.timestamp.type: 0 CreateTime, 1 LogAppendTime */
    int64_t ts_before_max_ms;    /* message.timestamp.before.max.ms */
    int64_t ts_after_max_ms;     /* message.timestamp.after.max.ms */
    int compression;             /* compression.type: BK_TCOMP_* */
    bool cleanup_delete;         /* cleanup.policy has "delete" */
    bool cleanup_compact;        /* cleanup.policy has "compact" */
    int32_t min_insync_replicas; /* min.insync.replicas */
    bool unclean_leader_election;
} bk_topic_config;

typedef struct bk_topic bk_topic;

/* A replica's state as the leader sees it (Kafka's Replica): kept for every
 * other replica while this broker leads the partition. */
typedef struct bk_replica_state {
    int32_t id;
    int64_t leo;                 /* its last fetch offset; -1 = unknown */
    int64_t last_caught_up_ms;   /* wall ms it last was at our LEO (Kafka's rules) */
    int64_t last_fetch_ms;       /* wall ms of its last fetch */
    int64_t last_fetch_leader_leo; /* our LEO at that fetch */
} bk_replica_state;

/* A leader-epoch history entry (same layout as storage's bk_ckpt_epoch). */
typedef struct bk_pepoch {
    int32_t epoch;
    int64_t start_offset;
} bk_pepoch;

/*
 * A partition: Kafka's partition state (leader, epochs, replicas, ISR) as
 * the controller last told this broker (LeaderAndIsr for hosted
 * partitions, UpdateMetadata for all), plus what the leader tracks.
 *
 * Single-node mode: leader = this broker, replicas = ISR = {this broker},
 * epochs 0, log always present (NULL only after a failed open).
 * Cluster mode: log != NULL iff this broker hosts a replica (LeaderAndIsr
 * opened it); leader -1 = no leader known.
 */
typedef struct bk_partition {
    int32_t index;
    bk_topic *topic;       /* borrowed: owner */
    bk_plog *log;          /* borrowed from the log manager; NULL = offline / not hosted */
    int32_t leader_epoch;
    void *waiters;         /* owned by broker/purgatory: fetches waiting for data */

    int32_t leader;           /* broker id; -1 none */
    int32_t partition_epoch;  /* Kafka's partition epoch (ZooKeeper: the state znode version) */
    int32_t controller_epoch; /* of the controller that last set the state */
    int32_t *replicas;        /* owned */
    int32_t nreplicas;
    int32_t *isr;             /* owned */
    int32_t nisr;
    int32_t *adding;          /* owned: AddingReplicas (reassignment) */
    int32_t nadding;
    int32_t *removing;        /* owned: RemovingReplicas */
    int32_t nremoving;
    int32_t *offline;         /* owned: OfflineReplicas (UpdateMetadata) */
    int32_t noffline;
    bool hosted;              /* cluster mode: a LeaderAndIsr made this broker a replica */
    bool isr_pending;         /* an ISR change is in flight in the isr_change hook */
    /* leader only: one entry per other replica */
    bk_replica_state *rstate; /* owned */
    int32_t nrstate;
    /* leader-epoch history (leader-epoch-checkpoint); cluster mode only,
     * single node uses bk_epochs_single() */
    bk_pepoch *epochs;        /* owned */
    int32_t nepochs;
} bk_partition;

/* Replace an owned id list (n may be 0). 0 or BK_ENOMEM. */
int bk_ids_set(int32_t **v, int32_t *nv, const int32_t *src, int32_t n);
bool bk_ids_has(const int32_t *v, int32_t n, int32_t id);
/* Free what a partition owns (not the log). */
void bk_partition_fini(bk_partition *p);

/* A user-set configuration override, "name" = "value". */
typedef struct bk_kv {
    char *key; /* owned */
    char *val; /* owned; NULL = delete (in alter requests) */
} bk_kv;

struct bk_topic {
    char *name;            /* owned */
    bk_uuid id;
    bool internal;         /* __consumer_offsets, __transaction_state */
    int32_t nparts;
    bk_partition *parts;   /* owned */
    int16_t replication_factor;
    bk_kv *overrides;      /* owned: the topic's own config entries */
    int noverrides;
    bk_topic_config cfg;   /* effective: overrides over broker defaults */
};

typedef struct bk_topics bk_topics;

/*
 * Open the registry: load the metadata store from meta_dir (the first log
 * directory), open every partition's log through lm (creating missing
 * ones). bcfg gives the broker-level defaults of topic configs.
 */
int bk_topics_open(bk_topics **out, const bk_config *bcfg, bk_logmgr *lm, const char *meta_dir,
                   int32_t node_id, char *err, size_t errlen);
/* The same over a given store (cluster mode: the ZooKeeper store); takes
 * ownership of store, also on failure. */
struct bk_metastore;
int bk_topics_open_store(bk_topics **out, const bk_config *bcfg, bk_logmgr *lm,
                         struct bk_metastore *store, int32_t node_id, char *err, size_t errlen);
void bk_topics_close(bk_topics *t);
/* borrowed */
struct bk_metastore *bk_topics_store(bk_topics *t);

/* Cluster mode: the number of live brokers, the largest replication
 * factor bk_topics_create accepts (1 in single-node mode). */
/* The largest replication factor accepted (cluster mode: live brokers; 1 otherwise). */
int32_t bk_topics_max_rf(const bk_topics *t);
void bk_topics_set_max_rf(bk_topics *t, int32_t n);

/*
 * Cluster mode: mirror a topic the store already holds (another broker
 * created or changed it; or our own CreateTopics once ZooKeeper has it).
 * Creates it locally (opening its logs) if unknown, replaces its overrides
 * and grows its partitions if known; a different id under the same name
 * replaces the local topic. Writes nothing to the store.
 */
struct bk_meta_topic;
int bk_topics_apply(bk_topics *t, const struct bk_meta_topic *m);
/* Cluster mode: forget a topic deleted in the store (its logs are removed
 * off the loop); writes nothing to the store. */
int bk_topics_drop(bk_topics *t, bk_topic *topic);

int32_t bk_topics_count(const bk_topics *t);
bk_topic *bk_topics_at(bk_topics *t, int32_t i);
bk_topic *bk_topics_get(bk_topics *t, const char *name, size_t len);
bk_topic *bk_topics_get_id(bk_topics *t, const bk_uuid *id);
/* NULL if the topic or partition does not exist. */
bk_partition *bk_topics_partition(bk_topics *t, const char *name, size_t len, int32_t index);

/*
 * Create a topic. nparts/rf of -1 mean the broker defaults (num.partitions,
 * default.replication.factor). On a Kafka-level failure returns BK_EINVAL
 * with *kerr (TOPIC_ALREADY_EXISTS, INVALID_TOPIC_EXCEPTION,
 * INVALID_PARTITIONS, INVALID_REPLICATION_FACTOR, INVALID_CONFIG, ...) and
 * a message in msg; validate_only checks without creating.
 */
int bk_topics_create(bk_topics *t, const char *name, size_t len, int32_t nparts, int16_t rf,
                     const bk_kv *configs, int nconfigs, bool validate_only, int16_t *kerr,
                     char *msg, size_t msglen);
/* auto.create.topics.enable path: defaults, never validate_only. */
int bk_topics_auto_create(bk_topics *t, const char *name, size_t len, int16_t *kerr);

/* Delete a topic: gone from metadata at once, files removed off the loop. */
int bk_topics_delete(bk_topics *t, bk_topic *topic);

/* CreatePartitions: grow to total partitions. */
int bk_topics_add_partitions(bk_topics *t, bk_topic *topic, int32_t total, bool validate_only,
                             int16_t *kerr, char *msg, size_t msglen);

/*
 * Change a topic's overrides: each kv sets (val != NULL) or deletes (val
 * NULL) one entry; replace = true first drops every override (AlterConfigs
 * semantics), false edits in place (IncrementalAlterConfigs SET/DELETE).
 * Validated as a whole; nothing changes on error.
 */
int bk_topics_alter_config(bk_topics *t, bk_topic *topic, const bk_kv *kv, int n, bool replace,
                           bool validate_only, int16_t *kerr, char *msg, size_t msglen);

/* ------------------------------------------------------- cluster mode
 *
 * Topics that the controller tells this broker about (UpdateMetadata,
 * LeaderAndIsr) live in the registry without being written to the
 * single-node metadata store: the controller (ZooKeeper) owns them.
 */

/* Find or create the topic `name` with id (zero id: keep/any) and at least
 * nparts partitions (logs not opened; leader -1). A different non-zero id
 * than the known one is BK_EEXIST (INCONSISTENT_TOPIC_ID). */
int bk_topics_ensure(bk_topics *t, const char *name, size_t len, const bk_uuid *id, int32_t nparts,
                     bk_topic **out);
/* Open (or create) the local log of p: this broker hosts a replica.
 * Loads the leader-epoch history. */
int bk_topics_host(bk_topics *t, bk_partition *p);
/* Stop hosting p: forget the log (delete = remove its files). */
void bk_topics_unhost(bk_topics *t, bk_partition *p, bool del);
/* Write p's leader-epoch history to its leader-epoch-checkpoint. */
int bk_partition_write_epochs(bk_partition *p);
/* Kafka's LeaderEpochFileCache.assign: drop entries with epoch >= e or
 * start >= off, add (e, off) if e is newer than the latest. true if changed. */
bool bk_partition_assign_epoch(bk_partition *p, int32_t e, int64_t off);
/* Cut the history at offset (follower truncation): entries starting at or
 * after off go. true if changed. */
bool bk_partition_truncate_epochs(bk_partition *p, int64_t off);
/* Latest epoch in the history, -1 if none. */
int32_t bk_partition_latest_epoch(const bk_partition *p);
/* Is this a cluster-mode registry (controller-driven)? */
bool bk_topics_cluster(const bk_topics *t);
void bk_topics_set_cluster(bk_topics *t, bool on);

/* Is name a legal Kafka topic name ([a-zA-Z0-9._-]{1,249}, not "." / "..")? */
bool bk_topic_name_valid(const char *name, size_t len);

/* ------------------------------------------------- topic config catalogue */

/* Where a described value comes from (DescribeConfigs ConfigSource). */
enum {
    BK_CFGSRC_UNKNOWN = 0,
    BK_CFGSRC_TOPIC = 1,
    BK_CFGSRC_DYNAMIC_BROKER = 2,
    BK_CFGSRC_DYNAMIC_DEFAULT_BROKER = 3,
    BK_CFGSRC_STATIC_BROKER = 4,
    BK_CFGSRC_DEFAULT = 5
};

/* DescribeConfigs ConfigType */
enum {
    BK_CFGTYPE_UNKNOWN = 0,
    BK_CFGTYPE_BOOLEAN = 1,
    BK_CFGTYPE_STRING = 2,
    BK_CFGTYPE_INT = 3,
    BK_CFGTYPE_SHORT = 4,
    BK_CFGTYPE_LONG = 5,
    BK_CFGTYPE_DOUBLE = 6,
    BK_CFGTYPE_LIST = 7,
    BK_CFGTYPE_CLASS = 8,
    BK_CFGTYPE_PASSWORD = 9
};

typedef struct bk_topic_cfg_entry {
    const char *name;
    char value[128];   /* effective value as text */
    int source;        /* BK_CFGSRC_* */
    int type;          /* BK_CFGTYPE_* */
    bool read_only;
    bool sensitive;
    const char *doc;
    /* the broker-level synonym (e.g. log.retention.ms), if any */
    const char *synonym;
    char synonym_value[128];
    int synonym_source;
} bk_topic_cfg_entry;

/* Every topic config Kafka defines, in Kafka's order. */
int bk_topic_cfg_count(void);
void bk_topic_cfg_describe(const bk_topics *t, const bk_topic *topic, int i,
                           bk_topic_cfg_entry *out);

#endif
