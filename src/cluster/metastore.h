/*
 * metastore.h - where topic metadata lives between restarts.
 *
 * The interface is what a store must do; two implementations are planned:
 * the single-node file store here (the default: nothing but the binary),
 * and the ZooKeeper store of cluster mode (Kafka's /brokers/topics/<t>
 * and /config/topics/<t> znodes). The topic registry (topics.h) holds the
 * live state and tells the store about every change; the store makes it
 * durable before the change is acknowledged to a client.
 *
 * File store format (<meta_dir>/brook-metadata, rewritten atomically
 * through a temp file, fsync and rename on every change; values are
 * percent-encoded so a line is always "word word ..."):
 *
 *   brook-metadata 1
 *   topic <name> <id base64url> <partitions> <replication factor> <internal 0|1>
 *   config <topic> <key> <value>
 */
#ifndef BK_METASTORE_H
#define BK_METASTORE_H

#include "../core/err.h"

typedef struct bk_meta_topic {
    char *name;           /* owned */
    uint8_t id[16];
    int32_t partitions;
    int16_t replication_factor;
    bool internal;
    int nconfigs;
    char **keys, **vals;  /* owned: topic config overrides */
} bk_meta_topic;

void bk_meta_topic_free(bk_meta_topic *t);

typedef struct bk_metastore bk_metastore;

typedef struct bk_metastore_ops {
    /* All topics. OUT: *topics (owned by caller: free each, then the array). */
    int (*load)(bk_metastore *s, bk_meta_topic **topics, int *n);
    /* Create or replace one topic (partitions, configs). */
    int (*put)(bk_metastore *s, const bk_meta_topic *t);
    int (*remove)(bk_metastore *s, const char *name);
    void (*close)(bk_metastore *s);
} bk_metastore_ops;

struct bk_metastore {
    const bk_metastore_ops *ops;
};

/* The single-node store in dir. */
int bk_metastore_file_open(bk_metastore **out, const char *dir);

#endif
