/*
 * cshut.h - the stopping broker's side of controlled shutdown (Kafka's
 * KafkaServer.controlledShutdown, ZooKeeper mode).
 *
 * On SIGTERM/SIGINT in cluster mode with controlled.shutdown.enable, the
 * server starts one bk_cshut instead of stopping its loop. It sends
 * ControlledShutdown (v3, BrokerId = us) to the controller that
 * /controller names, through the broker's inter-broker client
 * (interbroker.h; or calls the controller in-process when we are it), and:
 *   - error NONE and no RemainingPartitions: once the state watches have
 *     made this broker follower of what moved (polled every 20 ms, at most
 *     2 s; requests in flight then get NOT_LEADER_OR_FOLLOWER and clients
 *     look the new leader up at once instead of waiting for a closed
 *     connection), done, ok;
 *   - anything else (an error, partitions still led, no controller known,
 *     connection failure, no answer within CSHUT_TIMEOUT_MS): another
 *     attempt after controlled.shutdown.retry.backoff.ms, at most
 *     controlled.shutdown.max.retries attempts; then done, not ok (the
 *     broker shuts down anyway, as Kafka's "unclean shutdown").
 * The whole is bounded by (max.retries - 1) * retry.backoff.ms + 1 s (11 s
 * by default; Kafka adds controller.socket.timeout.ms per attempt): a
 * controller that does not answer - stopped, or ZooKeeper without quorum -
 * delays the exit by no more than that. While no controller is known (an
 * election), the broker asks again every 300 ms without using an attempt.
 * Meanwhile the loop keeps running: fetches, acks=all completions and the
 * state watches that turn our leaderships into followerships go on.
 *
 * Thread: loop thread.
 */
#ifndef BK_CSHUT_H
#define BK_CSHUT_H

#include "../cluster/cluster.h"
#include "../net/ev.h"

typedef struct bk_cshut bk_cshut;

typedef void bk_cshut_done_fn(void *ud, bool ok);

/* done is called once, from the loop (never from inside start). */
typedef struct bk_ib bk_ib;
bk_cshut *bk_cshut_start(bk_ev *ev, bk_cluster *c, bk_ib *ib, const bk_config *cfg, int32_t node_id,
                         bk_cshut_done_fn *done, void *ud);
/* Stops whatever is in flight (no callback). */
void bk_cshut_free(bk_cshut *s);

#endif
