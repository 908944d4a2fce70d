/*
 * throttle.h - replication throttles (Kafka's KIP-73).
 *
 * Broker dynamic configs leader.replication.throttled.rate and
 * follower.replication.throttled.rate (bytes/s, from ZooKeeper's
 * /config/brokers/<id> over /config/brokers/<default>; cluster.c) bound
 * the replication traffic of the throttled partitions: the topic configs
 * leader.replication.throttled.replicas / follower.replication.throttled.
 * replicas list them as "partition:broker,..." (this broker's entries
 * count) or "*" (every partition). The leader (h_fetch.c) sends no data
 * for a throttled partition to a replica while its bucket is empty; the
 * follower (fetcher.c) leaves throttled partitions out of its fetches
 * while its bucket is empty. Other partitions are never slowed.
 *
 * The bucket: tokens refill at rate bytes/s up to one second's worth;
 * bytes sent take tokens (possibly below zero: a fetch is not cut), and
 * the bucket is empty while the tokens are <= 0. So the average rate over
 * a few seconds stays at the rate whatever the fetch size.
 *
 * Thread: loop thread (pure functions: any).
 */
#ifndef BK_THROTTLE_H
#define BK_THROTTLE_H

#include "../core/kb.h"

#define BK_THROTTLE_NONE (-1) /* no rate configured: unthrottled */

typedef struct bk_throttle {
    int64_t rate; /* bytes/s, BK_THROTTLE_NONE when unset */
    double tokens;
    int64_t last_us; /* monotonic, of the last refill */
} bk_throttle;

/* Refill at now_us; true when the bucket is empty (throttled partitions
 * must wait). Never true without a rate. */
bool bk_throttle_exhausted(bk_throttle *t, int64_t now_us);
/* bytes of throttled partitions were sent/received. */
void bk_throttle_record(bk_throttle *t, int64_t bytes, int64_t now_us);
/* A new rate (BK_THROTTLE_NONE: off); the bucket starts full. */
void bk_throttle_set_rate(bk_throttle *t, int64_t rate, int64_t now_us);

/* Does the throttled-replicas list (a topic config value, NULL/"" = none)
 * name (partition, broker)? "*" names every partition. */
bool bk_throttle_listed(const char *list, int32_t partition, int32_t broker);


/* Is partition of tp throttled on broker's leader side (leader_side) or
 * follower side, by the topic's own *.replication.throttled.replicas? */
struct bk_topic;
bool bk_topic_repl_throttled(const struct bk_topic *tp, bool leader_side, int32_t partition,
                             int32_t broker);

#endif
