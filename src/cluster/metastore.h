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
    /* owned, may be NULL (file store): the replica assignment, partitions *
     * replication_factor broker ids, partition-major (cluster mode) */
    int32_t *replicas;
} bk_meta_topic;

void bk_meta_topic_free(bk_meta_topic *t);

typedef struct bk_metastore bk_metastore;

/* Completion of an asynchronous store operation, on the loop thread:
 * 0, BK_EEXIST (create: the topic exists), BK_EIO (the store failed). */
typedef void bk_metastore_done(void *ud, int rc);

typedef struct bk_metastore_ops {
    /* All topics. OUT: *topics (owned by caller: free each, then the array). */
    int (*load)(bk_metastore *s, bk_meta_topic **topics, int *n);
    /* Create or replace one topic (partitions, configs). */
    int (*put)(bk_metastore *s, const bk_meta_topic *t);
    int (*remove)(bk_metastore *s, const char *name);
    void (*close)(bk_metastore *s);
    /*
     * Asynchronous forms, NULL when the store is synchronous (file store).
     * In cluster mode (ZooKeeper store) put/remove above only start the
     * writes and return 0 (the registry mirrors ZooKeeper's state back
     * through bk_topics_apply / bk_topics_drop); a handler that must not
     * answer before the store has the change uses put_async and parks
     * (BK_EAGAIN) until done runs. create: the topic must not exist yet.
     * t->replicas NULL: the store assigns replicas over the live brokers.
     * Returns 0 (done will run) or an error (done will not run).
     */
    int (*put_async)(bk_metastore *s, const bk_meta_topic *t, bool create,
                     bk_metastore_done *done, void *ud);
    /*
     * Delete a topic and wait (at most timeout_ms) until the deletion is
     * complete in the store: done(ud, 0), or BK_EAGAIN when the time ran
     * out (the deletion goes on), BK_EIO when the store failed or closed.
     * In cluster mode: /admin/delete_topics/<t>, then until the controller
     * has removed /brokers/topics/<t>. Returns 0 (done will run) or an error.
     */
    int (*remove_async)(bk_metastore *s, const char *name, int64_t timeout_ms,
                        bk_metastore_done *done, void *ud);
} bk_metastore_ops;

struct bk_metastore {
    const bk_metastore_ops *ops;
};

/* The single-node store in dir. */
int bk_metastore_file_open(bk_metastore **out, const char *dir);

/* ------------------------------------------------- producer id blocks
 *
 * Producer ids are handed out in blocks (Kafka's ProducerIdsBlock): a
 * broker durably claims the next block before it gives out any id of it,
 * so ids never repeat, even after a crash (the rest of a claimed block is
 * simply skipped). In cluster mode the claim is a conditional update of
 * ZooKeeper's /latest_producer_id_block; the single-node file store keeps
 * the same JSON in <meta_dir>/brook-producer-ids (written through a temp
 * file, fsync and rename):
 *
 *   {"version":1,"broker":0,"block_start":"1000","block_end":"1999"}
 *
 * block_end is inclusive; the next block starts at block_end + 1.
 */

#define BK_PID_BLOCK_SIZE 1000

typedef struct bk_pid_block {
    int32_t broker;
    int64_t start; /* first id of the block */
    int64_t end;   /* last id, inclusive */
} bk_pid_block;

typedef struct bk_pidstore bk_pidstore;

typedef struct bk_pidstore_ops {
    /* Durably claim the next block of BK_PID_BLOCK_SIZE ids: it starts
     * after every block claimed before and at or above min_start. */
    int (*claim)(bk_pidstore *s, int64_t min_start, bk_pid_block *out);
    void (*close)(bk_pidstore *s);
} bk_pidstore_ops;

struct bk_pidstore {
    const bk_pidstore_ops *ops;
};

/* The single-node store: <dir>/brook-producer-ids (dir NULL: in memory
 * only, for tests). A file that does not parse is BK_ECORRUPT: better no
 * ids than repeated ones. */
int bk_pidstore_file_open(bk_pidstore **out, const char *dir, int32_t broker_id);
/* Parse the JSON of a block (also what ZooKeeper holds). */
int bk_pid_block_parse(const char *json, size_t len, bk_pid_block *out);

#endif
