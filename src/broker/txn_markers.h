/*
 * txn_markers.h - the transaction marker channel (Kafka's
 * TransactionMarkerChannelManager): how the transaction coordinator's
 * markers reach every partition of a transaction in cluster mode, and how
 * a leader acknowledges a marker only once it is replicated.
 *
 * Coordinator side (bk_txnmk_write, the tcoord write_marker hook in
 * cluster mode). Each marker goes to the partition's current leader, as
 * the metadata this broker holds says at the time of the call (the
 * coordinator calls again for every retry, so a moved leader is found):
 *   - led here: appended at once (bk_broker_write_marker), then - unless
 *     the high watermark is already past it - parked in the purgatory
 *     until it is (acks=all), and reported with bk_tcoord_marker_done;
 *   - led elsewhere: queued for that broker; the queue is drained on the
 *     next loop iteration into ONE WriteTxnMarkers v1 request per broker
 *     (markers of one transaction grouped by topic), sent through the
 *     inter-broker client (interbroker.h); each partition's error code is
 *     reported; a transport failure reports NOT_LEADER_OR_FOLLOWER /
 *     NETWORK_EXCEPTION for all of them (the coordinator retries);
 *   - no leader: LEADER_NOT_AVAILABLE at once (retried from the tick).
 *
 * Leader side (h_txn_markers.c): bk_txnmk_wait_state tells whether a
 * marker appended at `offset` under `leader_epoch` is replicated: the
 * high watermark passed it (NONE), or the partition changed leader
 * (NOT_LEADER_OR_FOLLOWER) or vanished.
 *
 * Thread: loop thread.
 */
#ifndef BK_TXN_MARKERS_H
#define BK_TXN_MARKERS_H

#include "../txn/tcoord.h"
#include "broker.h"

typedef struct bk_txnmk bk_txnmk;

/* b->ib and b->tcoord are used when they are set. */
bk_txnmk *bk_txnmk_new(bk_broker *b);
/* Drops queued markers and in-flight answers (the coordinator retries
 * them after a restart, from its log). */
void bk_txnmk_free(bk_txnmk *mc);
/* The write_marker hook (tcoord.h): a Kafka error code, NONE (durable
 * already), or BK_TXN_MARKER_PENDING. */
int16_t bk_txnmk_write(bk_txnmk *mc, const bk_txn_marker *m);
/* ~100 ms: a request in flight to a broker that no longer leads one of
 * its partitions (it died, or froze and lost its ZooKeeper session) is
 * given up at once - its markers are reported NOT_LEADER_OR_FOLLOWER and
 * go to the new leaders - instead of waiting for the request timeout. */
void bk_txnmk_tick(bk_txnmk *mc);

/* 1 with *kerr set when a marker at offset of topic/partition, appended
 * under leader_epoch, is settled (NONE: replicated); 0 while waiting. */
int bk_txnmk_wait_state(bk_broker *b, const char *topic, size_t tlen, int32_t partition,
                        int32_t leader_epoch, int64_t offset, int16_t *kerr);

#endif
