/*
 * interbroker.h - asynchronous requests from this broker to other brokers
 * (Kafka's NetworkClient as the broker uses it for its channel managers:
 * the transaction marker channel, and later e.g. ControlledShutdown to the
 * controller).
 *
 * Model. One client (bk_ib) per broker, on the event loop. It keeps at
 * most one connection per destination broker id, opened on demand to the
 * address the live broker registrations give (bk_broker_live_find: the
 * ZooKeeper /brokers/ids registrations or UpdateMetadata), looked up again
 * at every (re)connect, so a broker that restarts on a new address is
 * found. Requests to one destination go out in the order they were sent,
 * one at a time (the next one is written once the previous answer came
 * back), as Kafka's broker-to-broker channels do with one request in
 * flight per connection.
 *
 *   bk_ib_send(ib, dest, key, ver, &req, timeout_ms, cb, arg)
 *     encodes req (a bk_<Name>Request of api `key`, at version ver, with
 *     the generated codec) at once - req may go away after the call - and
 *     queues it. Later, exactly once, cb(arg, rc, resp) is called from the
 *     loop, never from inside bk_ib_send:
 *       rc 0       resp is the decoded bk_<Name>Response; it and
 *                  everything it points to live until cb returns;
 *       BK_ENOENT  dest is not a live broker (no address), or
 *       BK_EIO     the connection failed or closed before the answer, or
 *                  the response could not be decoded (the connection is
 *                  closed and reconnected with a backoff), or
 *       BK_EAGAIN  no answer within timeout_ms (from bk_ib_send; the
 *                  connection is closed: a late answer cannot be matched
 *                  with the next request), or shutdown (bk_ib_free).
 *     Errors are transport errors; Kafka error codes are in resp. The
 *     caller decides about retries (and should look up the destination
 *     again: a leader may have moved). bk_ib_send itself returns 0, or
 *     BK_ENOMEM / BK_EINVAL (unknown key or version: cb is not called).
 *   bk_ib_cancel(ib, arg) forgets every queued or in-flight request with
 *     that arg: its cb is never called (an owner going away).
 *
 * Connections speak the inter-broker listener's protocol (PLAINTEXT, SSL,
 * SASL_PLAINTEXT, SASL_SSL: net/tlsclient.h): the TLS handshake and SASL
 * login run before the first request, within the connect timeout; a
 * failure counts as a failed connect (BK_EIO, backoff).
 *
 * Connecting never blocks the loop: sockets are non-blocking; a numeric
 * host (the usual registration) is parsed in place, a name is resolved
 * by getaddrinfo on a short-lived resolver thread that reports back
 * through an eventfd watched by the loop. A failed connect or a dropped
 * connection is retried with an exponential backoff (100 ms doubling to
 * 5 s, reset by a successful answer). bk_ib_tick (~100 ms) enforces the
 * timeouts and retries.
 *
 * Thread: loop thread (the resolver threads touch only their own job).
 */
#ifndef BK_INTERBROKER_H
#define BK_INTERBROKER_H

#include "broker.h"

typedef struct bk_ib bk_ib;

/* See above. resp is NULL unless rc == 0. */
typedef void bk_ib_cb(void *arg, int rc, const void *resp);

/* b->ev must be set (bk_broker_start). NULL on allocation failure. */
bk_ib *bk_ib_new(bk_broker *b);
/* Close every connection; every pending cb gets BK_EAGAIN first. */
void bk_ib_free(bk_ib *ib);
int bk_ib_send(bk_ib *ib, int32_t dest, int16_t key, int16_t ver, const void *req,
               int32_t timeout_ms, bk_ib_cb *cb, void *arg);
void bk_ib_cancel(bk_ib *ib, void *arg);
/* Timeouts, reconnects (~100 ms). */
void bk_ib_tick(bk_ib *ib, int64_t now_ms);
/* Requests queued or in flight (tests, metrics). */
int bk_ib_pending(const bk_ib *ib);

#endif
