/*
 * segment.h - one log segment: <base>.log with its .index and .timeindex.
 *
 * File names are the segment's base offset, zero-padded to 20 digits
 * (00000000000000000000.log), as in Kafka. The .log file is record batches
 * (magic 2) back to back, byte for byte as the broker validated them, with
 * no other framing. Each batch starts with (Kafka DefaultRecordBatch):
 *
 *   OFFSET  SIZE  FIELD
 *   0       8     baseOffset
 *   8       4     batchLength (bytes after this field)
 *   12      4     partitionLeaderEpoch
 *   16      1     magic (2)
 *   17      4     crc (CRC-32C of bytes 21..end)
 *   21      2     attributes
 *   23      4     lastOffsetDelta
 *   27      8     baseTimestamp
 *   35      8     maxTimestamp
 *   43      8     producerId
 *   51      2     producerEpoch
 *   53      4     baseSequence
 *   57      4     recordCount
 *   61      ...   records
 *
 * Invariants:
 *   1. batches are contiguous from position 0 to size, offsets increase;
 *   2. next = last offset of the last batch + 1 (= base for an empty one);
 *   3. every index entry points at a batch start below size.
 *
 * Descriptors are a bounded resource (20,000 per process here, as on many
 * production hosts). The active segment's .log descriptor stays open; a
 * sealed segment's is opened lazily when read and kept in a process-wide
 * LRU of at most bk_seg_set_fd_budget() descriptors; the least recently
 * used unpinned one is closed when the budget is exceeded. A pin
 * (bk_seg_pin) keeps the descriptor open while something outside the loop
 * uses it: a background fsync, or a Fetch response being sent with
 * sendfile. Index files are only open while being loaded or flushed.
 */
#ifndef BK_SEGMENT_H
#define BK_SEGMENT_H

#include "../proto/records.h"
#include "index.h"

#define BK_BATCH_HDR BK_BATCH_HEADER_SIZE /* 61 */

/* Per-topic log settings that a segment needs (Kafka's names). */
typedef struct bk_segcfg {
    uint32_t index_bytes;    /* segment.index.bytes */
    uint32_t index_interval; /* index.interval.bytes */
} bk_segcfg;

typedef struct bk_segment {
    int64_t base;        /* base offset (file name) */
    int64_t next;        /* next offset to write */
    uint64_t size;       /* bytes in .log */
    int fd;              /* .log descriptor or -1 */
    char *log_path;      /* owned */
    bk_index oidx, tidx;
    bool idx_loaded;     /* indexes in memory */
    int64_t max_ts;      /* largest batch max timestamp; -1 if none */
    int64_t max_ts_off;  /* offset (batch last offset) of max_ts */
    int64_t first_ts;    /* max timestamp of the first batch (segment.ms rolling); -1 */
    int64_t created_ms;  /* when this process created or opened it */
    uint32_t since_index; /* bytes appended since the last index entry */
    bk_segcfg cfg;
    bool sealed;         /* not the active segment: fd lives in the LRU */
    bool trimmed;        /* sealed and its index files flushed and trimmed */
    bool recovered;      /* bk_seg_open scanned it (asked to, or its files disagreed) */
    int pins;            /* users of fd outside the loop (see above) */
    struct bk_segment *lru_prev, *lru_next; /* LRU of open sealed fds */
    bool in_lru;
    uint32_t txn_n;      /* entries in <base>.txnindex (0: none, maybe no file) */
    bool txn_dirty;      /* .txnindex written since the last flush point */
} bk_segment;

/* Descriptor budget for sealed segments (default 1024). */
void bk_seg_set_fd_budget(int n);
/* .log descriptors open now, all segments (for metrics and tests). */
int bk_seg_open_fds(void);
/* Mark a segment sealed (after a roll, or found sealed at start-up). */
void bk_seg_mark_sealed(bk_segment *s);
/* A sealed segment that becomes active again (truncation). */
void bk_seg_mark_active(bk_segment *s);
void bk_seg_pin(bk_segment *s);
void bk_seg_unpin(bk_segment *s);

/* Build "<dir>/<base 20 digits><ext>" into out (size >= strlen(dir)+32). */
void bk_seg_filename(char *out, size_t cap, const char *dir, int64_t base, const char *ext);

/* Create an empty segment (files truncated if present). */
int bk_seg_create(bk_segment *s, const char *dir, int64_t base, const bk_segcfg *cfg,
                  int64_t now_ms);

/*
 * Open an existing segment.
 *   recover = false: trust the files (the segment lies below the recovery
 *     point); indexes are loaded lazily, and next/size come from the last
 *     index entry and a short scan. A bad index triggers a rebuild.
 *   recover = true: scan every batch, verify length, magic and CRC, rebuild
 *     both indexes and truncate the file at the first invalid batch (a torn
 *     or corrupt tail). *truncated reports the bytes dropped.
 */
int bk_seg_open(bk_segment *s, const char *dir, int64_t base, const bk_segcfg *cfg, bool recover,
                bool active, int64_t now_ms, uint64_t *truncated);
void bk_seg_close(bk_segment *s);

/* Ensure the .log descriptor is open (read-only for sealed segments). */
int bk_seg_fd(bk_segment *s);
/* Close the .log descriptor if open (sealed segments only). */
void bk_seg_release_fd(bk_segment *s);

/*
 * Append validated batches (one or more, offsets already assigned) whose
 * offsets are first..last. On failure the file is truncated back so no
 * partial batch stays; returns BK_ENOSPC or BK_EIO.
 */
int bk_seg_append(bk_segment *s, const uint8_t *data, size_t len, int64_t first, int64_t last,
                  int64_t max_ts, int64_t max_ts_off);

/* A range of whole batches in the .log file. */
typedef struct bk_seg_range {
    int64_t pos;
    uint32_t len;
    int64_t first_offset; /* base offset of the first batch in range */
    int64_t end_offset;   /* base offset of the batch after the range (or the segment's next) */
} bk_seg_range;

/*
 * Find the batches holding offsets >= offset: start at the batch containing
 * offset, take whole batches while the total stays <= max_bytes (but at
 * least one if min_one), and stop before any batch whose base offset is >=
 * max_offset. out->len = 0 when nothing qualifies. BK_ENOENT if offset is
 * not in this segment.
 */
int bk_seg_read(bk_segment *s, int64_t offset, uint32_t max_bytes, int64_t max_offset, bool min_one,
                bk_seg_range *out);

/* Offset and position of the first batch whose max timestamp >= ts;
 * BK_ENOENT if none in this segment. */
int bk_seg_find_time(bk_segment *s, int64_t ts, int64_t *offset, int64_t *batch_max_ts);

/* Remove batches with offsets >= offset (whole batches from the one that
 * contains it). */
int bk_seg_truncate_to(bk_segment *s, int64_t offset);

/* Snapshot for a background flush: the log size and index entry counts. */
typedef struct bk_seg_flushpoint {
    uint64_t size;
    uint32_t oidx_n, tidx_n;
    int64_t next;
    bool txn;            /* fsync the .txnindex too (plog sets it) */
} bk_seg_flushpoint;

void bk_seg_flushpoint_take(const bk_segment *s, bk_seg_flushpoint *fp);
/* fsync the .log (the indexes are synced when sealed, see index.h).
 * Thread-safe with respect to concurrent appends on the loop thread. */
int bk_seg_flush(bk_segment *s, const bk_seg_flushpoint *fp);


/* "<dir>/<base>.txnindex" of s into out (cap >= strlen(log_path) + 8). */
void bk_seg_txn_path(const bk_segment *s, char *out, size_t cap);

/*
 * Walk the batches whose last offset >= from, in file order, for producer
 * state replay: fn(ud, s, batch, avail) gets each batch with avail >= 61
 * readable bytes - the whole batch (avail == bk_batch_size) for control
 * batches up to cap bytes, maybe only the header for others. buf is
 * scratch of cap bytes (>= 4096). Returns 0, fn's first non-zero result,
 * or BK_E* (BK_ECORRUPT when a header does not frame).
 */
typedef int (*bk_seg_batch_fn)(void *ud, bk_segment *s, const uint8_t *batch, size_t avail);
int bk_seg_scan(bk_segment *s, int64_t from, uint8_t *buf, size_t cap, bk_seg_batch_fn fn,
                void *ud);

/* Delete the segment's files (.log, .index, .timeindex, .txnindex). */
int bk_seg_delete_files(bk_segment *s);

/* Load the indexes of a sealed segment if they are not in memory. */
int bk_seg_load_indexes(bk_segment *s);

#endif
