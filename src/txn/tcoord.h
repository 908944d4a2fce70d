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
 * meta_dir holds the producer id block file (<meta_dir>/brook-producer-ids,
 * a bk_pidstore of cluster/metastore.h; NULL: in memory). */
bk_tcoord *bk_tcoord_new(const bk_config *cfg, bk_topics *topics, const char *meta_dir,
                         const bk_tcoord_hooks *hooks);
void bk_tcoord_free(bk_tcoord *tc);
/* Replace the producer id store (cluster mode: ZooKeeper's
 * /latest_producer_id_block); takes ownership, closes the previous one. */
struct bk_pidstore;
void bk_tcoord_set_pidstore(bk_tcoord *tc, struct bk_pidstore *store);
/* Read __transaction_state and finish transactions that were being
 * committed or aborted when the broker stopped. */
int bk_tcoord_load(bk_tcoord *tc);
/* Cluster mode, on becoming leader of __transaction_state-idx: drop the
 * transactional ids of that partition, replay it from its log start and
 * finish the transactions found in Prepare* (as bk_tcoord_load). */
int bk_tcoord_load_partition(bk_tcoord *tc, int32_t idx);
/* On no longer leading it: drop its transactional ids. */
int bk_tcoord_unload_partition(bk_tcoord *tc, int32_t idx);
/* ~100 ms: retry markers that could not be written, abort transactions
 * past their timeout, expire idle ids (now_ms is monotonic; timestamps
 * in the log are wall-clock). */
void bk_tcoord_tick(bk_tcoord *tc, int64_t now_ms);

/*
 * Produce-side verification (transaction.partition.verification.enable,
 * KIP-890 part 1): may producer pid/epoch write transactional data to
 * topic/partition? BK_KERR_NONE if the partition was added to its ongoing
 * transaction, else INVALID_TXN_STATE (or INVALID_PRODUCER_EPOCH for a
 * stale epoch).
 */
int16_t bk_tcoord_verify(bk_tcoord *tc, int64_t pid, int16_t epoch, const char *topic, size_t tlen,
                         int32_t partition);

/* ------------------------------------------------ request handlers' API
 *
 * Each returns a Kafka error code as Kafka's TransactionCoordinator does;
 * the handlers map PRODUCER_FENCED to INVALID_PRODUCER_EPOCH for request
 * versions that predate it. Single node: everything (log writes, markers)
 * completes before the call returns.
 */

/* Kafka's TransactionState, with its log byte ids. */
enum {
    BK_TXN_EMPTY = 0,
    BK_TXN_ONGOING = 1,
    BK_TXN_PREPARE_COMMIT = 2,
    BK_TXN_PREPARE_ABORT = 3,
    BK_TXN_COMPLETE_COMMIT = 4,
    BK_TXN_COMPLETE_ABORT = 5,
    BK_TXN_DEAD = 6,
    BK_TXN_PREPARE_EPOCH_FENCE = 7
};
/* "Empty", "Ongoing", ... as Kafka names them ("Unknown" otherwise). */
const char *bk_txn_state_name(int state);
/* The state called name, or -1. */
int bk_txn_state_parse(const char *name, size_t len);

/* Create __transaction_state when missing (FindCoordinator). 0, or < 0
 * with *kerr set. */
int bk_tcoord_ensure_topic(bk_tcoord *tc, int16_t *kerr);

/*
 * InitProducerId. txn_id NULL: a new producer id with epoch 0 (idempotent
 * producer). Otherwise (KIP-98/KIP-360) create or bump the transactional
 * id's producer: an ongoing transaction is aborted first (epoch fence);
 * expect_pid/expect_epoch -1/-1 = no expectation. OUT: *pid, *epoch
 * (-1/-1 on error).
 */
int16_t bk_tcoord_init_pid(bk_tcoord *tc, const char *txn_id, size_t len, int32_t timeout_ms,
                           int64_t expect_pid, int16_t expect_epoch, int64_t *pid, int16_t *epoch);

typedef struct bk_txn_part {
    char *topic; /* owned by the coordinator */
    int32_t partition;
    bool marked; /* Prepare*: its marker is written */
} bk_txn_part;

/* AddPartitionsToTxn / AddOffsetsToTxn: one error for all partitions.
 * parts[i].topic are borrowed (copied when added). */
int16_t bk_tcoord_add_partitions(bk_tcoord *tc, const char *txn_id, size_t len, int64_t pid,
                                 int16_t epoch, const bk_txn_part *parts, int n);

/* EndTxn: commit or abort. NONE once the transaction is complete (also
 * for a retry after completion); COORDINATOR_NOT_AVAILABLE when markers
 * could not be written yet (the transaction stays Prepare* and tick
 * retries). */
int16_t bk_tcoord_end_txn(bk_tcoord *tc, const char *txn_id, size_t len, int64_t pid, int16_t epoch,
                          bool commit);

/* What Describe/ListTransactions show; borrowed until the next call that
 * changes the coordinator. */
typedef struct bk_txn_info {
    const char *txn_id;
    int state;
    int64_t pid;
    int16_t epoch;
    int32_t timeout_ms;
    int64_t start_ts; /* -1 when no transaction is open */
    int64_t update_ts;
    const bk_txn_part *parts; /* Prepare*: skip the marked ones */
    int nparts;
} bk_txn_info;

/* NONE, or TRANSACTIONAL_ID_NOT_FOUND. */
int16_t bk_tcoord_describe(bk_tcoord *tc, const char *txn_id, size_t len, bk_txn_info *out);
/* Every transactional id, in no particular order: i < bk_tcoord_count. */
int bk_tcoord_count(const bk_tcoord *tc);
void bk_tcoord_info_at(const bk_tcoord *tc, int i, bk_txn_info *out);
/* Wall-clock ms as the coordinator sees it (ListTransactions
 * DurationFilter). */
int64_t bk_tcoord_wall_ms(const bk_tcoord *tc);

/* Tests: read wall-clock time from fn instead of bk_wall_ms(). */
void bk_tcoord_set_clock(bk_tcoord *tc, int64_t (*fn)(void *ud), void *ud);

#endif
