/*
 * topics.h - the broker's topics: names, ids, partitions and their logs,
 * per-topic configuration, backed by a metadata store (metastore.h).
 *
 * In single-node mode every partition is led by this broker, its replica
 * set is {this broker}, and its log lives in the log manager. The ZooKeeper
 * store of cluster mode will implement the same metastore interface; this
 * registry then only opens logs for the partitions this broker hosts.
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

typedef struct bk_partition {
    int32_t index;
    bk_topic *topic;       /* borrowed: owner */
    bk_plog *log;          /* borrowed from the log manager; NULL = offline */
    int32_t leader_epoch;
    void *waiters;         /* owned by broker/purgatory: fetches waiting for data */
} bk_partition;

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
