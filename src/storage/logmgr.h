/*
 * logmgr.h - every partition log of this broker, across the directories of
 * log.dirs (Kafka's LogManager).
 *
 * Each log directory holds:
 *   .lock                              flock()ed while a broker runs, so
 *                                      two brokers never share a directory
 *   <topic>-<partition>/               one partition log (plog.h)
 *   <topic>-<partition>.<id>-delete/   a deleted partition awaiting removal
 *   recovery-point-offset-checkpoint   per partition: offsets below are
 *                                      fsynced (start-up scans from there)
 *   log-start-offset-checkpoint        per partition: log start offset
 *   replication-offset-checkpoint      per partition: high watermark
 *   cleaner-offset-checkpoint          per compacted partition: offsets
 *                                      below are cleaned (cleaner.h)
 * (meta.properties is the broker's; see broker/meta_props.)
 *
 * Start-up opens all partitions on recovery_threads threads: segments below
 * a partition's recovery point are trusted and opened lazily, the rest are
 * scanned and repaired (plog.h). A clean shutdown flushes everything and
 * writes the checkpoints, so the next start scans nothing.
 *
 * Background work (bio.h): flushes due by flush.messages / flush.ms and at
 * segment roll, checkpoint writes, and removal of deleted partitions.
 * bk_logmgr_tick() schedules it; the loop calls it about every 100 ms and
 * drains bio completions when bk_bio_fd() is readable.
 *
 * Thread: loop thread only (start-up aside).
 */
#ifndef BK_LOGMGR_H
#define BK_LOGMGR_H

#include "cleaner.h"
#include "plog.h"

typedef struct bk_logmgr_cfg {
    const char *const *dirs; /* borrowed: log.dirs */
    int ndirs;
    bk_logcfg defaults;      /* broker-level log.* defaults */
    /* per-topic configuration for logs found on disk; NULL = defaults */
    void (*topic_cfg)(void *arg, const char *topic, bk_logcfg *out);
    void *topic_cfg_arg;
    int64_t retention_check_ms; /* log.retention.check.interval.ms */
    int64_t checkpoint_ms;      /* log.flush.offset.checkpoint.interval.ms */
    int recovery_threads;       /* num.recovery.threads.per.data.dir */
    int64_t producer_expiration_ms;       /* producer.id.expiration.ms */
    int64_t producer_expiration_check_ms; /* producer.id.expiration.check.interval.ms */
    bk_cleaner_cfg cleaner;     /* log.cleaner.*; threads 0 = log.cleaner.enable=false */
} bk_logmgr_cfg;

void bk_logmgr_cfg_defaults(bk_logmgr_cfg *c);

typedef struct bk_logmgr bk_logmgr;

typedef struct bk_logmgr_stats {
    int partitions;
    int segments;
    int recovered_segments;
    uint64_t truncated_bytes;
    int64_t elapsed_ms;
} bk_logmgr_stats;

/* Lock the directories, read the checkpoints and open every partition.
 * On failure errbuf says why (a directory in use, an unreadable file). */
int bk_logmgr_open(bk_logmgr **out, const bk_logmgr_cfg *cfg, int64_t now_ms,
                   bk_logmgr_stats *stats, char *errbuf, size_t errlen);

bk_plog *bk_logmgr_get(bk_logmgr *m, const char *topic, int32_t partition);

/* Create a partition log in the directory holding the fewest partitions. */
int bk_logmgr_create(bk_logmgr *m, const char *topic, int32_t partition, const bk_logcfg *cfg,
                     int64_t now_ms, bk_plog **out);

/* Delete a partition: it disappears at once (renamed to ...-delete) and its
 * files are removed in the background. */
int bk_logmgr_delete(bk_logmgr *m, const char *topic, int32_t partition);

/* Schedule due flushes, retention, producer id expiration
 * (bk_plog_expire_producers), checkpoints and the log cleaner (cleaner.h:
 * a job is started, finished ones are swapped in). */
void bk_logmgr_tick(bk_logmgr *m, int64_t now_ms);

/* Start a background flush of l now if it has unflushed data and none is
 * in flight (a Produce that flush.messages asks to be durable before it is
 * acknowledged calls this, as Kafka flushes inline). */
void bk_logmgr_flush_now(bk_logmgr *m, bk_plog *l, int64_t now_ms);

/* Called on the loop thread after every flush of a log completes (the
 * recovery point moved, or the log went offline). */
void bk_logmgr_on_flushed(bk_logmgr *m, void (*fn)(void *arg, bk_plog *l), void *arg);

/* Call fn for every partition log (order unspecified). */
void bk_logmgr_foreach(bk_logmgr *m, void (*fn)(void *arg, bk_plog *l), void *arg);
int bk_logmgr_count(const bk_logmgr *m);

/* The log cleaner's totals (all zero without a cleaner). */
void bk_logmgr_cleaner_stats(bk_logmgr *m, bk_cleaner_stats *st);

/* Which log directory a partition lives in. */
const char *bk_logmgr_dir_of(const bk_logmgr *m, const bk_plog *l);

/* Clean shutdown: wait for background work, flush every log, trim the
 * active indexes, write the checkpoints, unlock, free. */
int bk_logmgr_close(bk_logmgr *m);

#endif
