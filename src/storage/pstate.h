/*
 * pstate.h - a partition's producer state (Kafka's ProducerStateManager and
 * ProducerAppendInfo), without any knowledge of segments: the partition
 * log (plog.c) feeds it every appended or replayed batch header and keeps
 * the files.
 *
 * Per producer id (an open-addressing hash map, linear probing, keys >= 0,
 * backward-shift deletion; entries live inline, so an append of a known
 * producer never allocates):
 *   epoch              -1 until the first batch or marker
 *   the last 5 batches {first/last sequence, first/last offset, max ts},
 *                      a ring; a newer epoch clears it
 *   coordinator epoch  of the last marker
 *   txn_first          first offset of the open transaction, -1 none
 *   last_ts            timestamp of the last batch or marker
 *
 * Ongoing transactions are also kept in a small array sorted by first
 * offset (a transaction starts at the LEO, so it is appended at the end),
 * so the LSO is ong[0]. Aborted transactions are a list sorted by last
 * offset (marker order): {pid, first, last, lso}, where lso is Kafka's
 * lastStableOffset(completedTxn): the first offset of the earliest other
 * ongoing transaction, else the marker offset + 1. Every later aborted
 * transaction starts at or after it, which lets a lookup stop early.
 *
 * Snapshot file (Kafka ProducerSnapshot v1), big-endian:
 *
 *   OFFSET  SIZE  FIELD
 *   0       2     version (1)
 *   2       4     crc: CRC-32C of bytes 6 .. end
 *   6       4     producer count
 *   10      46*n  producerId i64, epoch i16, lastSequence i32,
 *                 lastOffset i64, offsetDelta i32 (last - first offset of
 *                 the last batch), timestamp i64, coordinatorEpoch i32,
 *                 currentTxnFirstOffset i64 (-1 none)
 *
 * Only the last batch of each producer is stored (as Kafka), so after a
 * reload only a retry of the last batch is recognised as a duplicate.
 *
 * Thread: the owner's (the loop thread, or the start-up thread loading
 * the log). No globals.
 */
#ifndef BK_PSTATE_H
#define BK_PSTATE_H

#include "../core/err.h"

#define BK_PSTATE_NBATCH 5
#define BK_SNAP_HDR 10
#define BK_SNAP_ESZ 46

typedef struct bk_pbatch {
    int32_t first_seq, last_seq;
    int64_t first_off, last_off;
    int64_t ts;
} bk_pbatch;

typedef struct bk_pentry {
    int64_t pid;       /* -1: empty slot */
    int64_t txn_first; /* -1: no open transaction */
    int64_t last_ts;
    int32_t coord_epoch;
    int16_t epoch;     /* -1: none yet */
    uint8_t nb, head;  /* ring: b[head] oldest, nb used */
    bk_pbatch b[BK_PSTATE_NBATCH];
} bk_pentry;

typedef struct bk_ptxn {
    int64_t first;
    int64_t pid;
} bk_ptxn;

typedef struct bk_abtxn {
    int64_t pid;
    int64_t first;
    int64_t last; /* the abort marker's offset */
    int64_t lso;
} bk_abtxn;

typedef struct bk_pstate {
    bk_pentry *tab; /* owned: cap slots, cap a power of two or 0 */
    uint32_t cap, n;
    bk_ptxn *ong;   /* owned: ongoing transactions by first offset */
    int nong, capong;
    bk_abtxn *ab;   /* owned: aborted transactions by last offset */
    int nab, capab;
    bk_abtxn *scratch; /* owned: bk_plog_aborted's sort buffer */
    int capscratch;
    int64_t *snaps; /* owned: offsets of the snapshot files, ascending */
    int nsnaps, capsnaps;
} bk_pstate;

void bk_pstate_init(bk_pstate *ps);
void bk_pstate_fini(bk_pstate *ps);
/* Forget producers and ongoing transactions (aborted list and snapshot
 * list stay). */
void bk_pstate_clear(bk_pstate *ps);

const bk_pentry *bk_pstate_get(const bk_pstate *ps, int64_t pid);

/* Make room so that n more batches can be applied without allocating
 * (0 or BK_ENOMEM). */
int bk_pstate_reserve(bk_pstate *ps, int n);

/* Marker record of a control batch (whole, uncompressed): *type 0 abort,
 * 1 commit. 0 or BK_ECORRUPT. */
int bk_pstate_parse_marker(const uint8_t *batch, size_t size, int *type, int32_t *coord_epoch);

/*
 * Apply one appended batch (its header, final offsets). For a control
 * batch, ctrl_type is the marker type (0 abort, 1 commit) or -1 when it
 * could not be read (the batch then only bumps the epoch). Returns 1 when
 * an aborted transaction completed (*ab filled, not yet added to the
 * list), 0 otherwise, BK_ENOMEM.
 */
int bk_pstate_apply(bk_pstate *ps, const uint8_t *hdr, int ctrl_type, int32_t coord_epoch,
                    bk_abtxn *ab);

/* Append an aborted transaction (last offsets ascending). 0 or BK_ENOMEM. */
int bk_pstate_add_aborted(bk_pstate *ps, const bk_abtxn *ab);
/* Drop aborted transactions with last >= offset / last < offset. */
void bk_pstate_drop_aborted_from(bk_pstate *ps, int64_t offset);
void bk_pstate_drop_aborted_below(bk_pstate *ps, int64_t offset);

/* Validation before an append (see bk_plog_check_batch). dup_* are set
 * for a duplicate. */
int16_t bk_pstate_check(const bk_pstate *ps, const uint8_t *hdr, int64_t *dup_first,
                        int64_t *dup_last, int64_t *dup_ts, const char **msg);

/* Remove producers idle since before cutoff without an open transaction. */
int bk_pstate_expire(bk_pstate *ps, int64_t cutoff);

/* Snapshot bytes: *out malloc'd, *len. 0 or BK_ENOMEM. */
int bk_pstate_encode(const bk_pstate *ps, uint8_t **out, size_t *len);
/* Replace the producers and ongoing transactions with a snapshot's.
 * BK_ECORRUPT (bad version, size or CRC: state left cleared), BK_ENOMEM. */
int bk_pstate_decode(bk_pstate *ps, const uint8_t *p, size_t len);

/* Snapshot offset list. */
int bk_pstate_snap_add(bk_pstate *ps, int64_t off);
void bk_pstate_snap_remove(bk_pstate *ps, int64_t off);

/* Sequence arithmetic (wraps at INT32_MAX to 0, as Kafka's). */
int32_t bk_seq_add(int32_t seq, int32_t n);

#endif
