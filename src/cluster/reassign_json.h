/*
 * reassign_json.h - Kafka's partition reassignment JSON (kafka-reassign-
 * partitions.sh, also /admin/reassign_partitions) and the proposal that
 * --generate prints; pure functions for `brook reassign-partitions`.
 *
 *   {"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2],
 *                               "log_dirs":["any","any"]}]}
 *   topics to move: {"version":1,"topics":[{"topic":"t"}]}
 *
 * log_dirs is accepted and must match the replica count when present (only
 * "any" is supported: Brook keeps one log directory per broker).
 *
 * Thread: any (no shared state).
 */
#ifndef BK_REASSIGN_JSON_H
#define BK_REASSIGN_JSON_H

#include "zkjson.h"

#define BK_REASSIGN_MAX_RF 64

typedef struct bk_reassign_part {
    char topic[256];
    int32_t partition;
    int32_t replicas[BK_REASSIGN_MAX_RF];
    int nreplicas;
} bk_reassign_part;

typedef struct bk_reassign_plan {
    bk_reassign_part *v; /* owned */
    int n, cap;
} bk_reassign_plan;

void bk_reassign_plan_free(bk_reassign_plan *p);
/* Append one partition (replicas copied). 0 or BK_ENOMEM / BK_EINVAL. */
int bk_reassign_plan_add(bk_reassign_plan *p, const char *topic, int32_t partition,
                         const int32_t *replicas, int n);
/* Sort by (topic, partition), as Kafka prints them. */
void bk_reassign_plan_sort(bk_reassign_plan *p);

/* Parse the reassignment JSON. On error: BK_EINVAL and a message in err
 * (empty partition list, duplicate partition, duplicate replica, bad
 * field). */
int bk_reassign_parse(const char *s, size_t len, bk_reassign_plan *out, char *err, size_t errlen);
/* The JSON, on one line (log_dirs all "any"). */
void bk_reassign_write(bk_jw *w, const bk_reassign_plan *p);

/* {"topics":[{"topic":"a"},...]}: OUT *names (owned array of owned
 * strings), *n. */
int bk_reassign_topics_parse(const char *s, size_t len, char ***names, int *n, char *err,
                             size_t errlen);

/* --generate: for every topic of cur (its partitions 0..n-1 all present),
 * a new assignment over brokers (Kafka's assignReplicasToBrokers with the
 * topic's replication factor = partition 0's replica count; start < 0 is
 * random, as Kafka). BK_EINVAL (message in err) if a replication factor
 * exceeds the broker count. */
int bk_reassign_propose(const bk_reassign_plan *cur, const int32_t *brokers, int nb, int start,
                        bk_reassign_plan *out, char *err, size_t errlen);

#endif
