/*
 * leader_epoch.h - a partition's leader-epoch history (Kafka's
 * LeaderEpochFileCache): which leader epoch wrote which offsets.
 *
 * The history is a list of (epoch, start offset) entries, epochs and start
 * offsets strictly increasing; entry i covers offsets [start_i, start_i+1)
 * and the last one runs to the log end offset. Kafka keeps it in
 * <partition dir>/leader-epoch-checkpoint, adds an entry when a new leader
 * epoch writes its first batch (or becomes leader at the LEO), cuts it at
 * the log start offset (DeleteRecords, retention) and truncates it with the
 * log on a follower.
 *
 * Single node: the only leader is this broker at the partition's
 * leader_epoch, which every batch carries (validate.c writes it), so the
 * history is the single entry (leader_epoch, log start offset) and
 * bk_epochs_single() builds it on the fly. Replication will keep real
 * histories (checkpoint file, assign on epoch change, truncation) and feed
 * the same lookups below, which follow Kafka's rules exactly.
 *
 * Pure functions; any thread.
 */
#ifndef BK_LEADER_EPOCH_H
#define BK_LEADER_EPOCH_H

#include "../core/kb.h"

#define BK_UNDEFINED_EPOCH        (-1)
#define BK_UNDEFINED_EPOCH_OFFSET ((int64_t)-1)

typedef struct bk_epoch_entry {
    int32_t epoch;
    int64_t start_offset;
} bk_epoch_entry;

/* The history of a single-node partition: one entry. */
static inline bk_epoch_entry bk_epochs_single(int32_t leader_epoch, int64_t log_start)
{
    return (bk_epoch_entry){leader_epoch, log_start};
}

/*
 * OffsetForLeaderEpoch (LeaderEpochFileCache.endOffsetFor): the largest
 * epoch <= requested and the end offset of `requested`, i.e. the start
 * offset of the first epoch after it, or the LEO for the latest epoch.
 *   requested undefined (-1), or above the latest  -> -1 / -1
 *   requested == latest                            -> latest / leo
 *   requested below the first entry                -> requested / first start
 *   otherwise                                      -> floor epoch / next start
 */
void bk_epochs_end_offset_for(const bk_epoch_entry *e, int n, int32_t requested, int64_t leo,
                              int32_t *epoch, int64_t *end_offset);

/* The epoch that wrote offset (the entry whose range holds it), or -1. */
int32_t bk_epochs_epoch_for_offset(const bk_epoch_entry *e, int n, int64_t offset);

#endif
