/*
 * lag.h - consumer lag computed by the broker (issue 10): per group and
 * partition, in offsets (log end - committed) and in seconds (age of the
 * oldest unconsumed message, from the timestamps the log holds).
 *
 * Definitions (what docs/metrics-lag.md documents):
 *
 *   end        the partition's high watermark, as Kafka's tools
 *              (kafka-consumer-groups.sh, kafka-lag-exporter) take it
 *   lag        max(end - committed, 0)
 *   lag secs   0 when committed >= end (caught up); otherwise now minus
 *              the timestamp of the oldest unconsumed message: the batch
 *              holding offset max(committed, log start) - its first
 *              record's timestamp (baseTimestamp), or its maxTimestamp when
 *              the topic uses LogAppendTime. One 61-byte batch header read
 *              (the offset index finds the batch); when the committed
 *              offset lies inside a batch the answer is at most that
 *              batch's linger time too old.
 *
 * Cost: the coordinator caches, per committed offset, the timestamp it
 * read (coord.c, bk_coord_lag_ts; keyed by the lookup offset, the log and
 * the partition's leader epoch): a partition whose commit did not move
 * since the last scrape costs no I/O; a scrape does at most
 * BK_LAG_READS_PER_SCRAPE header reads (the rest are reported at the next
 * scrape). Nothing is computed between scrapes.
 *
 * Cluster mode: each broker reports the groups it coordinates (it leads
 * their __consumer_offsets partition), for the partitions whose log is on
 * this broker (leader: its high watermark; follower: the high watermark
 * its leader last sent it). Partitions without a local log get only the
 * committed-offset gauge; their lag is not reported by any broker.
 *
 * bk_lag_prometheus appends the lag metrics, in Prometheus text format, to
 * a /metrics scrape (called by the metrics endpoint, on the loop thread).
 *
 * Thread: loop thread.
 */
#ifndef BK_LAG_H
#define BK_LAG_H

#include "../core/buf.h"

#include <stdint.h>

typedef struct bk_broker bk_broker;
typedef struct bk_plog bk_plog;

#define BK_LAG_READS_PER_SCRAPE 4096

/* max(end - committed, 0); -1 when either is unknown (< 0). */
int64_t bk_lag_offsets(int64_t end, int64_t committed);

/* Age in ms of the oldest unconsumed message: 0 when caught up (committed
 * >= end), -1 when unknown (no end, no committed offset or no timestamp),
 * else max(now - oldest_ts, 0). */
int64_t bk_lag_age_ms(int64_t committed, int64_t end, int64_t oldest_ts, int64_t now_ms);

/* The timestamp a batch header (61 bytes, magic 2) gives its first
 * record: maxTimestamp for LogAppendTime batches, else baseTimestamp;
 * -1 when the header is not magic 2 or has no timestamp. */
int64_t bk_lag_batch_ts(const uint8_t *hdr);

/*
 * Timestamp of the oldest message at or after `offset` below `end` in l
 * (offset is raised to the log start first): *at = the offset looked up,
 * *ts = its batch's timestamp, or -1 when there is none (caught up).
 * One offset-index lookup and one header read. 0, or a BK_E* read error.
 */
int bk_lag_read_ts(bk_plog *l, int64_t offset, int64_t end, int64_t *at, int64_t *ts);

/* A Prometheus label value, escaped (\\, \", \n). */
void bk_lag_label(bk_wr *out, const char *s);

void bk_lag_prometheus(bk_broker *b, bk_wr *out, int64_t now_ms);

#endif
