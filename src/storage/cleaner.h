/*
 * cleaner.h - the log cleaner: compaction of cleanup.policy=compact logs
 * (Kafka's LogCleaner), on log.cleaner.threads threads of its own.
 *
 * A compacted log keeps, for every key, at least the record with the
 * latest offset. The cleaner works on whole sealed segments below the
 * first uncleanable offset: min(last stable offset, high watermark), and
 * never on a segment younger than min.compaction.lag.ms
 * (largest timestamp). The active segment is never touched.
 *
 * Choice of log (loop thread, every log.cleaner.backoff.ms while a thread
 * is idle): the log with the largest dirty ratio = bytes at or after the
 * cleaner checkpoint (first dirty offset) / bytes of the cleanable range,
 * if it reaches min.cleanable.dirty.ratio, or any log whose first dirty
 * segment is older than max.compaction.lag.ms.
 *
 * One cleaning (a job), on a cleaner thread:
 *   1. offset map: key hash (128 bits) -> latest offset over the dirty
 *      section [first dirty, end), skipping control batches and aborted
 *      transactional data. It is bounded by log.cleaner.dedupe.buffer.size
 *      (24 bytes an entry, 90% full at most, split between the threads):
 *      when it fills, the job cleans only up to the batch where it stopped
 *      (map end), and the next job goes on from there.
 *   2. the segments [log start segment, map end) are grouped so that each
 *      group's old size stays within segment.bytes, and every group is
 *      rewritten into <base>.log.cleaned (base = the group's first base
 *      offset, so offsets are never reused), with rebuilt .index and
 *      .timeindex and a .txnindex (possibly empty), all fsynced. A record
 *      is kept unless: the map holds a later offset for its key; it has no
 *      key; its transaction was aborted; it is a tombstone (null value)
 *      below the map end older than delete.retention.ms. A batch whose
 *      records all stay is copied byte for byte; otherwise its kept records
 *      go into a batch with the same header (base offset, last offset
 *      delta, timestamps, producer id/epoch/base sequence, leader epoch),
 *      compressed again with the batch's codec. A batch left empty is
 *      dropped, unless it is the last batch of a producer id that has
 *      producer state: its header stays, without records (Kafka's empty
 *      batch), so the producer's sequence survives a reload. A control
 *      batch (transaction marker) stays while data of its transaction
 *      remains, and until delete.retention.ms after its timestamp.
 *   3. commit, still on the cleaner thread: <base>.{index,timeindex,
 *      txnindex}.cleaned -> .swap, then <base>.log.cleaned -> .log.swap,
 *      one directory fsync. From here a restart completes the swap. The
 *      commit and bk_cleaner_abort (called by the partition log before a
 *      truncation, retention or DeleteRecords changes the segments) hold
 *      the job's lock, so the log either drops the job before its commit
 *      or removes the .swap files before it changes anything: a crash can
 *      never bring back what was removed meanwhile.
 *   4. hand-over: the job goes back to the loop thread (bk_cleaner_tick),
 *      which swaps all its groups in, as Kafka does: the replaced segments
 *      other than each <base> are deleted, one directory fsync (a rename
 *      below must never reach the disk before these deletions), the .swap
 *      files get their final names (.log last; a rename lost with the page
 *      cache is redone by recovery), and the new segments take the old
 *      ones' place in memory. One directory fsync on the loop per cleaning,
 *      whatever the number of groups. The swap waits while the log is
 *      being flushed or an old segment is pinned (a Fetch being sent).
 *
 * Crash safety (bk_cleaner_recover_dir, at the start of every log load):
 * *.cleaned files are deleted (the old segments are intact); a
 * <base>.log.swap means the group was committed: segments with base
 * offsets in (base, end of the swap's data) are deleted and the .swap files
 * renamed; index .swap files without a .log.swap are an interrupted commit
 * (deleted) if the .log.cleaned was still there, else the tail of step 3
 * (renamed). So a kill at any moment comes back to the old or the new
 * segments.
 *
 * The cleaner checkpoint (map end of the last swap) is kept in
 * bk_plog.clean_upto and written by logmgr to cleaner-offset-checkpoint in
 * each log directory (Kafka's format, checkpoint.h).
 *
 * I/O throttle: log.cleaner.io.max.bytes.per.second over bytes read plus
 * written by all threads.
 *
 * Thread: bk_cleaner_* on the loop thread, except the workers (private).
 * A worker reads only descriptors opened for it and its own copies, so
 * appends, rolls and reads on the loop thread go on untouched.
 */
#ifndef BK_CLEANER_H
#define BK_CLEANER_H

#include "plog.h"

typedef struct bk_cleaner_cfg {
    int threads;          /* log.cleaner.threads (0: no cleaner) */
    int64_t dedupe_bytes; /* log.cleaner.dedupe.buffer.size */
    double io_max_bps;    /* log.cleaner.io.max.bytes.per.second; <= 0 none */
    int64_t backoff_ms;   /* log.cleaner.backoff.ms */
} bk_cleaner_cfg;

void bk_cleaner_cfg_defaults(bk_cleaner_cfg *c);

typedef struct bk_cleaner_stats {
    int64_t jobs; /* swaps completed */
    uint64_t bytes_read;
    uint64_t bytes_written;
    uint64_t records_read, records_kept;
    int64_t busy_ms; /* time spent in jobs */
} bk_cleaner_stats;

typedef struct bk_cleaner bk_cleaner;

int bk_cleaner_start(bk_cleaner **out, const bk_cleaner_cfg *cfg);
/* Cancel running jobs, wait for the threads, delete unfinished output. */
void bk_cleaner_stop(bk_cleaner *c);

/* Pick the dirtiest cleanable log among those fn enumerates and start a
 * job on it, if a thread is idle and the backoff has passed; then swap in
 * the finished jobs. */
typedef void (*bk_cleaner_each_fn)(void *arg, void (*cb)(void *ud, bk_plog *l), void *ud);
void bk_cleaner_tick(bk_cleaner *c, int64_t now_ms, bk_cleaner_each_fn each, void *arg);
/* The log goes away (deleted or closed): its job's result is dropped. */
void bk_cleaner_forget(bk_cleaner *c, bk_plog *l);
/* Called by the partition log before it deletes or truncates segments
 * while l->cleaning: the job is dropped, and if it already committed its
 * .swap files they are removed first (so a crash cannot bring back what
 * the log is about to remove). Loop thread. */
void bk_cleaner_abort(bk_plog *l);
/* Swaps completed since the last call (logmgr then writes the checkpoint). */
int bk_cleaner_swapped(bk_cleaner *c);
void bk_cleaner_get_stats(bk_cleaner *c, bk_cleaner_stats *st);

/* The dirty ratio of l now (for tests and the choice above); -1 when l is
 * not compacted or nothing is cleanable. */
double bk_cleaner_dirty_ratio(bk_plog *l, int64_t now_ms);

/* Clean l on the calling thread, whatever its dirty ratio (tests, tools).
 * BK_ENOENT: nothing cleanable; BK_EAGAIN: a flush or a pinned segment is
 * in the way. st may be NULL. */
int bk_cleaner_clean_now(bk_plog *l, const bk_cleaner_cfg *cfg, int64_t now_ms,
                         bk_cleaner_stats *st);

/* Start-up recovery of an interrupted swap in a partition directory. */
int bk_cleaner_recover_dir(const char *dir);

/* Test hook: stop after this swap step (1 = after .cleaned -> .swap,
 * 2 = after deleting the old segments, 3 = after renaming the indexes)
 * and return BK_EIO, leaving the files as a crash would. 0 = off. */
extern int bk_cleaner_crash_step;

#endif
