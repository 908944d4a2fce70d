/*
 * fetcher.h - follower replica fetchers (Kafka's ReplicaFetcherManager /
 * ReplicaFetcherThread / AbstractFetcherThread), on the loop thread.
 *
 * One non-blocking client connection per leader broker
 * (num.replica.fetchers = 1), on the inter-broker listener's protocol
 * (TLS and/or SASL login first, net/tlsclient.h; a failed handshake is
 * retried after replica.fetch.backoff.ms), one request in flight on it:
 *
 *   partition added (LeaderAndIsr made us follower)  -> TRUNCATING
 *   TRUNCATING: OffsetForLeaderEpoch v4 (ReplicaId = us) with our latest
 *     leader epoch; the answer gives the divergence point (Kafka's
 *     getOffsetTruncationState): truncate there (possibly in several
 *     rounds when the leader answers an older epoch) -> FETCHING
 *   FETCHING: Fetch v15 (ReplicaState.ReplicaId = us, topic ids; v12 with
 *     ReplicaId and names when a topic has no id), CurrentLeaderEpoch, FetchOffset =
 *     our LEO, MaxWaitMs = replica.fetch.wait.max.ms); the leader's batches
 *     are appended unchanged (bk_replica_append_as_follower), the HW
 *     follows min(leader HW, our LEO), the log start follows the leader's.
 *     OFFSET_OUT_OF_RANGE -> ListOffsets(earliest): below the leader's log
 *     start we restart the log there (truncate fully), else TRUNCATING.
 *     FENCED_LEADER_EPOCH -> stop fetching the partition until the next
 *     LeaderAndIsr; NOT_LEADER_OR_FOLLOWER, UNKNOWN_LEADER_EPOCH and other
 *     errors -> retry after replica.fetch.backoff.ms.
 *
 * Partitions are referenced by (topic, index) and looked up per use.
 * Thread: loop thread.
 */
#ifndef BK_FETCHER_H
#define BK_FETCHER_H

#include "broker.h"

typedef struct bk_fetcher bk_fetcher;

bk_fetcher *bk_fetcher_new(bk_broker *b);
void bk_fetcher_free(bk_fetcher *f);
/* (Re)start fetching p from leader at leader_epoch (truncating first). */
int bk_fetcher_add(bk_fetcher *f, bk_partition *p, int32_t leader, int32_t leader_epoch);
void bk_fetcher_remove(bk_fetcher *f, bk_partition *p);
/* Periodic: reconnects, request timeouts, delayed partitions. */
void bk_fetcher_tick(bk_fetcher *f, int64_t now_ms);
/* Number of partitions being fetched (tests). */
int bk_fetcher_count(const bk_fetcher *f);

#endif
