/*
 * plog.h - a partition's log: an ordered set of segments in
 * <log.dir>/<topic>-<partition>/, the last one active.
 *
 * Offsets (Kafka's names):
 *   log start offset  first offset a consumer may read (DeleteRecords and
 *                     retention move it forward; checkpointed by logmgr)
 *   log end offset    LEO = next offset to assign = active segment's next
 *   recovery point    every offset below it is fsynced; start-up scans only
 *                     segments at or after it
 *   high watermark    set by the owner (replication); reads for consumers
 *                     stop there
 *
 * Invariants:
 *   1. segs[i].base < segs[i+1].base; segs[i].next <= segs[i+1].base;
 *   2. log_start <= LEO, and log_start lies in the first segment or at its
 *      end;
 *   3. recovery_point <= LEO; hw <= LEO.
 *
 * Errors: an append that fails with ENOSPC leaves the log exactly as it was
 * and the next append tries again (writes resume once space is freed); any
 * other I/O error, or a failed fsync, takes the log offline for writes
 * (bk_plog.offline) until restart, reported to clients as
 * KAFKA_STORAGE_ERROR. Reads keep working.
 *
 * Thread: all calls on the owning loop thread, except bk_plog_flush_run,
 * which a background thread runs on a flush point taken on the loop.
 */
#ifndef BK_PLOG_H
#define BK_PLOG_H

#include "segment.h"

/* Per-topic log configuration (Kafka topic config names). */
typedef struct bk_logcfg {
    int64_t segment_bytes;   /* segment.bytes */
    int64_t segment_ms;      /* segment.ms */
    uint32_t index_bytes;    /* segment.index.bytes */
    uint32_t index_interval; /* index.interval.bytes */
    int64_t retention_ms;    /* retention.ms; -1 = forever */
    int64_t retention_bytes; /* retention.bytes; -1 = no limit */
    int64_t flush_messages;  /* flush.messages; INT64_MAX = leave it to the OS */
    int64_t flush_ms;        /* flush.ms; INT64_MAX = leave it to the OS */
} bk_logcfg;

void bk_logcfg_defaults(bk_logcfg *c);

typedef struct bk_plog {
    char *dir;       /* owned: <log.dir>/<topic>-<partition> */
    char *topic;     /* owned */
    int32_t partition;
    bk_logcfg cfg;
    bk_segment **segs; /* owned: sorted by base; segs[nsegs-1] is active.
                        * Segments are separate allocations so a background
                        * flush can hold a pointer across a roll. */
    int nsegs, capsegs;
    int64_t log_start;
    int64_t hw;
    int64_t recovery_point;
    int64_t unflushed;     /* messages appended since the last flush point */
    int64_t last_flush_ms;
    bool offline;          /* a storage error: no more writes */
    bool flushing;         /* a background flush is in flight: no segment
                            * is deleted or truncated meanwhile */
    bool flush_on_roll;    /* a segment rolled: flush it (as Kafka does) */
} bk_plog;

/* "<dir>/<topic>-<partition>" into out. */
void bk_plog_dirname(char *out, size_t cap, const char *logdir, const char *topic, int32_t part);

/* Create a new, empty partition log (directory and first segment). */
int bk_plog_create(bk_plog **out, const char *logdir, const char *topic, int32_t partition,
                   const bk_logcfg *cfg, int64_t now_ms);

typedef struct bk_plog_open_stats {
    int segments;
    int recovered_segments;
    uint64_t truncated_bytes;
} bk_plog_open_stats;

/*
 * Load an existing partition log (Kafka's LogLoader). After a clean
 * shutdown (clean = true: the log was closed with bk_plog_close and the
 * recovery point is its LEO) nothing is scanned: the active segment is
 * read from its last index entry to its end. Otherwise the segment that
 * contains recovery_point and every later one - the active segment always
 * - are scanned batch by batch and cut at the first invalid byte; earlier
 * segments are trusted and opened lazily. A missing partition directory is
 * BK_ENOENT.
 */
int bk_plog_load(bk_plog **out, const char *logdir, const char *topic, int32_t partition,
                 const bk_logcfg *cfg, int64_t recovery_point, int64_t log_start, bool clean,
                 int64_t now_ms, bk_plog_open_stats *stats);
/* bk_plog_load after an unclean stop (the safe default). */
int bk_plog_open(bk_plog **out, const char *logdir, const char *topic, int32_t partition,
                 const bk_logcfg *cfg, int64_t recovery_point, int64_t log_start, int64_t now_ms,
                 bk_plog_open_stats *stats);

/* Clean close: flush and trim the active segment's indexes; sets the
 * recovery point to the LEO. */
int bk_plog_close(bk_plog *l);
void bk_plog_free(bk_plog *l);

static inline int64_t bk_plog_leo(const bk_plog *l)
{
    return l->segs[l->nsegs - 1]->next;
}

static inline bk_segment *bk_plog_active(bk_plog *l)
{
    return l->segs[l->nsegs - 1];
}

/* Total bytes of all segments. */
uint64_t bk_plog_size(const bk_plog *l);

/*
 * Append validated batches with offsets first..last (first must be the
 * LEO). Rolls a new segment first if segment.bytes, segment.ms, a full
 * index or the relative-offset range require it.
 */
int bk_plog_append(bk_plog *l, const uint8_t *data, size_t len, int64_t first, int64_t last,
                   int64_t max_ts, int64_t max_ts_off, int64_t now_ms);

/* A read result: a byte range of one segment file. */
typedef struct bk_plog_slice {
    bk_segment *seg; /* borrowed: valid until the next call that changes the log */
    int fd;          /* the segment's .log descriptor */
    int64_t pos;
    uint32_t len;    /* 0: nothing to return (offset == max_offset or LEO) */
    int64_t first_offset;
} bk_plog_slice;

/*
 * Read whole batches from offset: at most max_bytes (but the first batch
 * whole when min_one), only batches whose base offset < max_offset (the
 * high watermark or last stable offset for consumers, the LEO for
 * followers). BK_ERANGE (OFFSET_OUT_OF_RANGE) when offset < log start or
 * > LEO.
 */
#define BK_ERANGE (-20)
int bk_plog_read(bk_plog *l, int64_t offset, uint32_t max_bytes, int64_t max_offset, bool min_one,
                 bk_plog_slice *out);

/* ListOffsets by timestamp: offset of the first batch with max timestamp >=
 * ts; BK_ENOENT if none. */
int bk_plog_offset_for_time(bk_plog *l, int64_t ts, int64_t *offset, int64_t *batch_ts);

/* Largest timestamp in the log and its offset (ListOffsets MAX_TIMESTAMP);
 * -1/-1 when empty. */
void bk_plog_max_timestamp(bk_plog *l, int64_t *ts, int64_t *offset);

/* Remove everything at and after offset (replication divergence). */
int bk_plog_truncate_to(bk_plog *l, int64_t offset);
/* Remove everything and restart the log at offset. */
int bk_plog_truncate_fully(bk_plog *l, int64_t offset, int64_t now_ms);

/* DeleteRecords: move the log start offset to offset (<= hw) and delete
 * segments that lie wholly below it. */
int bk_plog_delete_records(bk_plog *l, int64_t offset);

/* Retention by retention.ms and retention.bytes: delete whole old
 * segments (never the active one). Returns the number deleted. */
int bk_plog_retention(bk_plog *l, int64_t now_ms);

/* Flushing. bk_plog_flush_due tells whether flush.messages / flush.ms ask
 * for a flush now. A flush is: take a point on the loop thread, run it
 * (fsync; any thread), then complete it on the loop thread, which advances
 * the recovery point or, on failure, takes the log offline. */
typedef struct bk_plog_flushjob {
    bk_plog *log;
    int nsegs;
    bk_segment *segs[8];           /* segments with unflushed data */
    bk_seg_flushpoint points[8];
    bool trim[8];                  /* sealed: trim its index files too */
    int64_t upto;                  /* new recovery point on success */
    int result;
} bk_plog_flushjob;

bool bk_plog_flush_due(const bk_plog *l, int64_t now_ms);
void bk_plog_flush_prepare(bk_plog *l, bk_plog_flushjob *job, int64_t now_ms);
void bk_plog_flush_run(bk_plog_flushjob *job);
void bk_plog_flush_complete(bk_plog_flushjob *job);
/* All three in a row, on the calling thread (tests, shutdown, tools). */
int bk_plog_flush_sync(bk_plog *l, int64_t now_ms);

/* partition.metadata: "version: 0\ntopic_id: <base64url id>\n". */
int bk_plog_write_topic_id(bk_plog *l, const uint8_t id[16]);
int bk_plog_read_topic_id(const bk_plog *l, uint8_t id[16]);

#endif
