/*
 * durable.h - answer a coordinator request once its internal-topic write
 * is replicated (cluster mode).
 *
 * Kafka's coordinators append to __consumer_offsets and
 * __transaction_state with acks=all: the client hears "done" only when the
 * record is below the partition's high watermark, so a leader failover
 * cannot take back an acknowledged commit. bk_answer_durable() answers a
 * prepared response at once when the write at `offset` of p is already
 * below the HW (or there is nothing to wait for: offset < 0, single node),
 * else parks it in the purgatory (BK_WAKE_HW) until it is, turning it into
 * an error response when this broker stops leading p or its leader epoch
 * moves (not_leader_err) or the wait passes timeout_ms (timeout_err).
 *
 * rs must live in the request's arena (it outlives the handler's frame).
 * Thread: loop thread.
 */
#ifndef BK_DURABLE_H
#define BK_DURABLE_H

#include "broker.h"

typedef struct bk_durable_opts {
    int16_t not_leader_err;
    int16_t timeout_err;
    int timeout_ms;
    /* Turn rs into an error response. */
    void (*set_err)(void *rs, int16_t err);
    /* Called when a parked write got replicated, before the answer (may
     * be NULL; not called when the answer goes at once). */
    void (*on_ok)(bk_broker *b, void *ud);
    void *ud;
} bk_durable_opts;

/* Returns what a handler returns: 0 answered, BK_EAGAIN parked, < 0 error. */
int bk_answer_durable(bk_broker *b, bk_req *req, bk_partition *p, int64_t offset, void *rs,
                      const bk_msginfo *mi, const bk_durable_opts *o);

#endif
