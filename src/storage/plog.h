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

#include "pstate.h"
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
    /* cleanup.policy and the log cleaner's topic settings (cleaner.h) */
    bool cleanup_delete;           /* "delete": retention.ms / retention.bytes apply */
    bool cleanup_compact;          /* "compact": the log cleaner keeps the latest per key */
    double min_cleanable_ratio;    /* min.cleanable.dirty.ratio */
    int64_t min_compaction_lag_ms; /* min.compaction.lag.ms */
    int64_t max_compaction_lag_ms; /* max.compaction.lag.ms */
    int64_t delete_retention_ms;   /* delete.retention.ms: tombstones and markers */
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
    bk_pstate ps;          /* producer state, aborted transactions, the
                            * offsets of the .snapshot files (pstate.h) */
    int64_t snap_pending;  /* offset of the snapshot taken at the last roll,
                            * published by the next flush (plog.c); -1 */
    int64_t clean_upto;    /* log cleaner: offsets below it are cleaned (the
                            * cleaner-offset-checkpoint entry); -1 never */
    bool cleaning;         /* a cleaner job works on this log's sealed
                            * segments (cleaner.h) */
    void *clean_job;       /* that job until it comes back (bk_cleaner_abort) */
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
    uint64_t replayed_batches; /* read to rebuild the producer state */
    bool pstate_incomplete;    /* that replay stopped at an unreadable batch
                                * (logged; the log itself still opens) */
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
    int64_t end_offset; /* base offset of the batch after the range (when len > 0) */
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

/*
 * Call fn for every whole batch whose last offset >= from, up to the LEO, in
 * offset order (internal topics' loaders: __consumer_offsets,
 * __transaction_state). The batch and its records are valid during the call
 * only. Returns 0, fn's first non-zero result, or a BK_E* read error.
 */
int bk_plog_foreach_batch(bk_plog *l, int64_t from, int (*fn)(void *ud, const bk_batch_info *bi),
                          void *ud);

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
    int64_t snap;                  /* roll snapshot to publish; -1 */
    int result;
} bk_plog_flushjob;

bool bk_plog_flush_due(const bk_plog *l, int64_t now_ms);
void bk_plog_flush_prepare(bk_plog *l, bk_plog_flushjob *job, int64_t now_ms);
void bk_plog_flush_run(bk_plog_flushjob *job);
void bk_plog_flush_complete(bk_plog_flushjob *job);
/* All three in a row, on the calling thread (tests, shutdown, tools). */
int bk_plog_flush_sync(bk_plog *l, int64_t now_ms);

/* ------------------------------------------ producer state, transactions
 *
 * Every partition log keeps Kafka's producer state (ProducerStateManager):
 * per producer id the epoch, the last 5 appended batches (first/last
 * sequence, first/last offset, timestamp), the coordinator epoch and the
 * first offset of its ongoing transaction. bk_plog_append() updates it
 * from the batch headers of whatever it appends (client batches, control
 * batches = transaction markers, internal transactional writes), so all
 * writers share one source of truth. An abort marker adds an entry to the
 * active segment's aborted-transaction index (<base>.txnindex, Kafka's
 * format). Producer state snapshots (<offset>.snapshot, Kafka's v1 format)
 * are written at segment roll and on clean close; bk_plog_load() reads the
 * newest snapshot at or below the LEO and replays the batches after it.
 *
 * Details (pstate.h has the data structures and the snapshot layout,
 * txnindex.h the .txnindex layout):
 *   - The update runs after the bytes are in the file; the memory it needs
 *     is reserved first, so bk_plog_append() may also return BK_ENOMEM
 *     (nothing written). A failed .txnindex write takes the log offline.
 *   - Snapshots: a file gets its final name <off>.snapshot only when it
 *     and everything below off (segment data, .txnindex entries) are
 *     fsynced, so any snapshot found at start-up can be trusted together
 *     with the .txnindex entries below it. At roll the state at the new
 *     base goes to <base>.snapshot.tmp on the loop thread (no fsync); the
 *     flush that follows the roll fsyncs and renames it on the background
 *     thread. Clean close (after its flush; a failure is not a close
 *     failure) and bk_plog_snapshot() (flushes first; BK_EAGAIN while a
 *     background flush runs) write one at the LEO directly. The newest 3
 *     are kept; those below the log start are deleted. A torn one (bad
 *     CRC or size) is deleted and the next older one used.
 *   - Load takes the newest valid snapshot at or below the LEO (at the LEO
 *     after a clean shutdown: nothing replayed). .txnindex entries at or
 *     after the replay start are cut from the files and rebuilt by the
 *     replay (recovery is idempotent). No snapshot at all: the whole log
 *     from the log start is replayed (batch headers only, plus the record
 *     of each control batch; an unreadable batch stops the replay, not the
 *     load), and a snapshot is left at the active segment's base.
 *   - truncate_to reloads from the newest snapshot at or below the new end
 *     and replays; truncate_fully forgets everything; a moving log start
 *     drops aborted transactions wholly below it (producers stay until
 *     they expire).
 *   - The LSO recorded with an aborted transaction is Kafka's
 *     lastStableOffset(completedTxn): the first offset of the earliest
 *     other open transaction, else the marker offset + 1 (not capped by
 *     the high watermark, so a replay writes the very same entry).
 */

/* A duplicate batch: what the original append returned. */
typedef struct bk_pdup {
    int64_t first_offset; /* -1: not a duplicate */
    int64_t last_offset;
    int64_t timestamp;    /* the batch's max timestamp as appended */
} bk_pdup;

/*
 * Check one produce batch (its validated v2 header at batch) against the
 * producer state before it is appended, as Kafka's
 * analyzeAndValidateProducerState: batches without a producer id pass;
 * a duplicate of one of the last 5 batches of the same producer and epoch
 * returns BK_KERR_NONE with dup->first_offset >= 0 (do not append; answer
 * with those offsets); otherwise INVALID_PRODUCER_EPOCH (older epoch),
 * OUT_OF_ORDER_SEQUENCE_NUMBER (gap or new epoch not starting at 0),
 * INVALID_TXN_STATE (a non-transactional batch while the producer has a
 * transaction open here) or BK_KERR_NONE with dup->first_offset = -1.
 * Unknown producers are accepted at any sequence (Kafka 3.x). *msg, when
 * set, is a static text for the response's ErrorMessage.
 */
int16_t bk_plog_check_batch(bk_plog *l, const uint8_t *batch, size_t len, bk_pdup *dup,
                            const char **msg);

/* Last stable offset: the first offset of the earliest transaction still
 * open on this partition, capped at the high watermark. */
int64_t bk_plog_lso(const bk_plog *l);

/* Calls fn for every aborted transaction that overlaps [from, upto):
 * last offset (its abort marker) >= from and first offset < upto, in
 * first-offset order (Kafka's collectAbortedTransactions). Returns the
 * number of calls. */
int bk_plog_aborted(bk_plog *l, int64_t from, int64_t upto,
                    void (*fn)(void *ud, int64_t producer_id, int64_t first_offset), void *ud);

/*
 * Append a transaction marker (a control batch: attributes transactional
 * | control, one record with key {version 0, type 0 abort / 1 commit} and
 * value {version 0, coordinator epoch}) for producer pid/epoch. Completes
 * the producer's open transaction on this partition (an abort adds a
 * .txnindex entry); a marker for a producer with nothing open is still
 * written, as Kafka does. *offset = the marker's offset. The caller moves
 * the high watermark and wakes fetches, as after any append.
 */
int bk_plog_append_marker(bk_plog *l, int64_t pid, int16_t epoch, int32_t coord_epoch,
                          bool commit, int32_t leader_epoch, int64_t now_ms, int64_t *offset);

/* Does producer pid have a transaction open on this partition? */
bool bk_plog_txn_open(const bk_plog *l, int64_t pid);

/* producer.id.expiration.ms: drop producers whose last write is older than
 * expiration_ms and who have no open transaction. Returns how many. */
int bk_plog_expire_producers(bk_plog *l, int64_t now_ms, int64_t expiration_ms);

/* Write a producer state snapshot at the LEO now (roll and close do it
 * themselves). */
int bk_plog_snapshot(bk_plog *l);

/* Number of producer ids with state on this partition. */
int bk_plog_nproducers(const bk_plog *l);

/* partition.metadata: "version: 0\ntopic_id: <base64url id>\n". */
int bk_plog_write_topic_id(bk_plog *l, const uint8_t id[16]);
int bk_plog_read_topic_id(const bk_plog *l, uint8_t id[16]);

#endif
