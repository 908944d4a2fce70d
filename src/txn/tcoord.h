/*
 * tcoord.h - the transaction coordinator (Kafka's TransactionCoordinator
 * and TransactionStateManager): producer ids, transactional ids and their
 * state machine, kept in the internal topic __transaction_state.
 *
 * Single node: this broker coordinates every transactional id; the
 * markers that end a transaction are appended straight to the local
 * partitions through the write_marker hook (the broker's
 * bk_broker_write_marker). In cluster mode the same hook sends
 * WriteTxnMarkers to each partition's leader, and producer id blocks come
 * from ZooKeeper's /latest_producer_id_block.
 *
 * Thread: loop thread.
 */
#ifndef BK_TCOORD_H
#define BK_TCOORD_H

#include "../cluster/topics.h"
#include "../core/config.h"

#define BK_TXN_TOPIC "__transaction_state"

typedef struct bk_tcoord bk_tcoord;

typedef struct bk_tcoord_hooks {
    /* Append a commit/abort marker for pid/epoch to topic/partition.
     * Returns a Kafka error code (BK_KERR_NONE when written). */
    int16_t (*write_marker)(void *ud, const char *topic, int32_t partition, int64_t pid,
                            int16_t epoch, int32_t coord_epoch, bool commit);
    /* Partition p of __transaction_state got `bytes` appended. */
    void (*appended)(void *ud, bk_partition *p, uint64_t bytes);
    void *ud;
} bk_tcoord_hooks;

/* topics may be NULL (tests without storage: state in memory only);
 * meta_dir holds the producer id block file. */
bk_tcoord *bk_tcoord_new(const bk_config *cfg, bk_topics *topics, const char *meta_dir,
                         const bk_tcoord_hooks *hooks);
void bk_tcoord_free(bk_tcoord *tc);
/* Read __transaction_state and finish transactions that were being
 * committed or aborted when the broker stopped. */
int bk_tcoord_load(bk_tcoord *tc);
/* ~100 ms: abort transactions past their timeout, expire idle ids. */
void bk_tcoord_tick(bk_tcoord *tc, int64_t now_ms);

/*
 * Produce-side verification (transaction.partition.verification.enable,
 * KIP-890 part 1): may producer pid/epoch write transactional data to
 * topic/partition? BK_KERR_NONE if the partition was added to its ongoing
 * transaction, else INVALID_TXN_STATE (or INVALID_PRODUCER_EPOCH for a
 * stale epoch).
 */
int16_t bk_tcoord_verify(bk_tcoord *tc, int64_t pid, int16_t epoch, const char *topic,
                         size_t tlen, int32_t partition);

#endif
