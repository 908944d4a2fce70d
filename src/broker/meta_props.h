/*
 * meta_props.h - broker and cluster identity: meta.properties in the log
 * directories.
 *
 * Kafka (ZooKeeper mode) keeps in every log directory a meta.properties:
 *     #
 *     #<date>
 *     version=0
 *     broker.id=<n>
 *     cluster.id=<22-char base64url uuid>
 * It ties the data to one broker of one cluster. bk_meta_identity() does
 * what KafkaServer does at start-up:
 *   1. create missing log directories;
 *   2. read meta.properties where present; all copies must agree;
 *   3. broker.id: the configured one, which must match a stored one; if
 *      configured as -1, the stored one, else reserved.broker.max.id + 1
 *      (Kafka's first generated id; it would come from ZooKeeper);
 *   4. cluster id: cluster.id from the configuration (Brook-specific), which
 *      must match a stored one; else the stored one; else a new random
 *      Kafka-style id (Uuid.randomUuid: 16 random bytes, version 4, base64url
 *      without padding, never starting with '-');
 *   5. write meta.properties (tmp file, fsync, rename, fsync dir) into every
 *      log directory that lacks it.
 * Errors (unreadable file, mismatch, cannot create) fill err and return
 * BK_EIO / BK_EINVAL; the server refuses to start.
 *
 * Thread: start-up only (blocking file I/O).
 */
#ifndef BK_META_PROPS_H
#define BK_META_PROPS_H

#include "../core/config.h"

typedef struct bk_meta_props {
    int version;         /* 0 (ZooKeeper mode) or 1 (KRaft: node.id) */
    int32_t broker_id;   /* -1 if absent */
    char cluster_id[65]; /* "" if absent */
} bk_meta_props;

/* Read dir/meta.properties: 0, BK_ENOENT if there is none, BK_EINVAL/BK_EIO. */
int bk_meta_props_read(const char *dir, bk_meta_props *mp, char *err, size_t errlen);
int bk_meta_props_write(const char *dir, const bk_meta_props *mp, char *err, size_t errlen);

/* 22 chars + NUL. */
void bk_random_cluster_id(char out[23]);

int bk_meta_identity(const bk_config *cfg, int32_t *node_id, char *cluster_id,
                     size_t cluster_id_len, char *err, size_t errlen);

#endif
