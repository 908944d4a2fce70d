/*
 * tcoord.h - the transaction coordinator (Kafka's TransactionCoordinator
 * and TransactionStateManager): producer ids, transactional ids and their
 * state machine, kept in the internal topic __transaction_state.
 *
 * Single node: this broker coordinates every transactional id; the
 * markers that end a transaction are appended straight to the local
 * partitions through the write_marker hook (the broker's
 * bk_broker_write_marker) and are durable at once. In cluster mode the
 * hook is asynchronous: it appends to the partitions this broker leads and
 * sends WriteTxnMarkers to the leaders of the others (broker/txn_markers.h),
 * and reports each marker with bk_tcoord_marker_done() once it is
 * replicated (the leader's high watermark passed it) or failed; producer id
 * blocks come from ZooKeeper's /latest_producer_id_block.
 *
 * Durability of __transaction_state in cluster mode. A transition is
 * applied to memory when appended; the request handlers answer only once
 * bk_tcoord_last_write() is below the partition's high watermark, and the
 * markers of a Prepare* are sent only once Prepare* itself is replicated,
 * so that a new coordinator elected after a failure always knows about a
 * transaction whose markers may be in partitions (Kafka: the marker
 * channel starts after the append of PrepareCommit/PrepareAbort
 * completed with acks=all).
 *
 * Thread: loop thread.
 */
#ifndef BK_TCOORD_H
#define BK_TCOORD_H

#include "../cluster/topics.h"
#include "../core/config.h"

#define BK_TXN_TOPIC "__transaction_state"

typedef struct bk_tcoord bk_tcoord;

/* A marker to write: borrowed for the duration of the call that gets it. */
typedef struct bk_txn_marker {
    const char *txn_id; /* the transaction's id (not NUL-terminated) */
    size_t len;
    const char *topic; /* NUL-terminated */
    int32_t partition;
    int64_t pid;
    int16_t epoch;
    int32_t coord_epoch;
    bool commit;
} bk_txn_marker;

/* write_marker's answer: the result will come through
 * bk_tcoord_marker_done() (not a Kafka error code). */
#define BK_TXN_MARKER_PENDING ((int16_t)INT16_MIN)

typedef struct bk_tcoord_hooks {
    /* Write a commit/abort marker for m->pid/epoch to m->topic/partition.
     * Returns a Kafka error code (BK_KERR_NONE: written and durable), or
     * BK_TXN_MARKER_PENDING: the hook calls bk_tcoord_marker_done(m)
     * exactly once later, from the loop (never from inside this call). */
    int16_t (*write_marker)(void *ud, const bk_txn_marker *m);
    /* Partition p of __transaction_state got `bytes` appended. */
    void (*appended)(void *ud, bk_partition *p, uint64_t bytes);
    void *ud;
    /* true: appended() moves the high watermark (cluster mode: it follows
     * the ISR); false: the coordinator sets it to the log end itself. */
    bool moves_hw;
} bk_tcoord_hooks;

/* The outcome of a marker whose write_marker returned PENDING: NONE (or
 * UNKNOWN_TOPIC_OR_PARTITION: the partition is gone) marks it written;
 * anything else retries it later, looking its leader up again. Ignored
 * when the transaction is no longer waiting for that marker. */
void bk_tcoord_marker_done(bk_tcoord *tc, const bk_txn_marker *m, int16_t kerr);

/* The last record written for txn_id to __transaction_state (cluster
 * mode: or replayed when its partition was loaded): true with its
 * partition index and offset; false when there is none (single node: the
 * state in memory came from the log at start-up). */
bool bk_tcoord_last_write(const bk_tcoord *tc, const char *txn_id, size_t len, int32_t *idx,
                          int64_t *offset);
/* txn_id's last write became durable: send its markers now if it is
 * Prepare* (the tick would do it later anyway). */
void bk_tcoord_kick(bk_tcoord *tc, const char *txn_id, size_t len);

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
/* Cluster mode: other brokers coordinate other transactional ids
 * (bk_tcoord_verify cannot check producers it does not know). */
void bk_tcoord_set_cluster(bk_tcoord *tc, bool on);
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
 * stale epoch). Cluster mode: NONE for a producer id this broker does not
 * coordinate (the check against a remote coordinator, Kafka's
 * AddPartitionsToTxn v4 VerifyOnly, is not implemented).
 */
int16_t bk_tcoord_verify(bk_tcoord *tc, int64_t pid, int16_t epoch, const char *topic, size_t tlen,
                         int32_t partition);

/* ------------------------------------------------ request handlers' API
 *
 * Each returns a Kafka error code as Kafka's TransactionCoordinator does;
 * the handlers map PRODUCER_FENCED to INVALID_PRODUCER_EPOCH for request
 * versions that predate it. Single node: everything (log writes, markers)
 * completes before the call returns. Cluster mode: see "Durability" above.
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
    bool marked;  /* Prepare*: its marker is written */
    bool pending; /* Prepare*: its marker is on its way (memory only) */
} bk_txn_part;

/* AddPartitionsToTxn / AddOffsetsToTxn: one error for all partitions.
 * parts[i].topic are borrowed (copied when added). */
int16_t bk_tcoord_add_partitions(bk_tcoord *tc, const char *txn_id, size_t len, int64_t pid,
                                 int16_t epoch, const bk_txn_part *parts, int n);

/* EndTxn: commit or abort. NONE once the transaction is complete (also
 * for a retry after completion), or - markers pending (cluster mode) -
 * once Prepare* is written (Kafka's answer: the markers follow in the
 * background, and requests meanwhile get CONCURRENT_TRANSACTIONS);
 * COORDINATOR_NOT_AVAILABLE when markers failed at once (the transaction
 * stays Prepare* and tick retries). */
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
