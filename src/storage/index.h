/*
 * index.h - a segment's sparse offset index (.index) and time index
 * (.timeindex), in Kafka's file formats.
 *
 * Offset index entry (Kafka OffsetIndex), 8 bytes, big-endian:
 *
 *   OFFSET  SIZE  FIELD
 *   0       4     relative offset = offset - segment base offset (int32)
 *   4       4     position of a batch in the .log file (int32)
 *
 * Time index entry (Kafka TimeIndex), 12 bytes, big-endian:
 *
 *   OFFSET  SIZE  FIELD
 *   0       8     timestamp (int64): the largest timestamp seen so far
 *   8       4     relative offset of the batch carrying it (int32)
 *
 * Invariants: relative offsets strictly increase along both files;
 * positions strictly increase along the offset index; timestamps strictly
 * increase along the time index. Entries are sparse (one per
 * index.interval.bytes of log), so a lookup gives a floor and the segment
 * scans batch headers forward from it.
 *
 * Like Kafka, the file of the active segment is preallocated to
 * segment.index.bytes (sparse) and trimmed to its entries when the segment
 * rolls or the log closes cleanly. A preallocated file found at start-up
 * ends in zero entries; loading stops at the first entry that breaks the
 * invariants.
 *
 * Memory: entries are kept in memory in their file (big-endian) form, so a
 * flush writes them with one pwrite. The active segment reserves its
 * maximum up front with an anonymous no-reserve mapping (pages are only
 * committed as entries are written), so entries never move while a
 * background flush reads them.
 *
 * Durability: entries reach the file once, when the segment is sealed or
 * closed cleanly (bk_index_trim: write, cut, one fsync). An active
 * segment's index is rebuilt by recovery after an unclean stop, so it is
 * never synced on its own.
 *
 * Thread: owned by the loop thread; bk_index_trim of a sealed segment runs
 * on a background thread (its entries no longer change).
 */
#ifndef BK_INDEX_H
#define BK_INDEX_H

#include "../core/err.h"

#define BK_OIDX_ESZ 8
#define BK_TIDX_ESZ 12

typedef struct bk_index {
    char *path;        /* owned */
    uint8_t *ents;     /* owned: entries in file byte order */
    uint32_t esz;      /* BK_OIDX_ESZ or BK_TIDX_ESZ */
    uint32_t n;        /* entries in memory */
    uint32_t max;      /* capacity in entries */
    uint32_t written;  /* entries already in the file */
    bool mapped;       /* ents is a reservation mapping (active segment) */
} bk_index;

/* Initialize for the file at path (copied); nothing is opened. */
int bk_index_init(bk_index *ix, const char *path, uint32_t esz, uint32_t max_bytes);
void bk_index_fini(bk_index *ix);

/* Create (or truncate) the file and preallocate it to max entries. */
int bk_index_create(bk_index *ix);
/* Load entries from the file; BK_ENOENT if missing, BK_ECORRUPT if the
 * file cannot be an index (size not a multiple of the entry size, first
 * entries out of order). Positions must lie below log_size. */
int bk_index_load(bk_index *ix, uint64_t log_size, bool writable);

static inline bool bk_index_full(const bk_index *ix)
{
    return ix->n >= ix->max;
}

/* Append an entry (the caller keeps the invariants). */
void bk_index_append_off(bk_index *ix, uint32_t rel, uint32_t pos);
/* Time index: appended only if ts is larger than the last entry's. */
void bk_index_append_time(bk_index *ix, int64_t ts, uint32_t rel);

/* Entry i. */
void bk_index_off_at(const bk_index *ix, uint32_t i, uint32_t *rel, uint32_t *pos);
void bk_index_time_at(const bk_index *ix, uint32_t i, int64_t *ts, uint32_t *rel);

/* Offset index: the last entry with relative offset <= rel; false if none. */
bool bk_index_floor_off(const bk_index *ix, uint32_t rel, uint32_t *erel, uint32_t *pos);
/* Time index: the last entry with timestamp <= ts; false if none. */
bool bk_index_floor_time(const bk_index *ix, int64_t ts, uint32_t *erel);

/* Drop entries whose relative offset is >= rel. */
void bk_index_truncate_rel(bk_index *ix, uint32_t rel);
void bk_index_clear(bk_index *ix);

/* Flush, then make the file hold exactly its entries (at roll and clean
 * close). Memory stays where it is, so concurrent lookups are safe. */
int bk_index_trim(bk_index *ix);

#endif
