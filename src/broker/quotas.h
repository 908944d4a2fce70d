/*
 * quotas.h - client quotas in the broker (Kafka's ClientQuotaManager with
 * KIP-219 throttling): the configured values (security/quota.h), one rate
 * sensor per (user, client id), and the DescribeClientQuotas (48) /
 * AlterClientQuotas (49) APIs (h_quota.c).
 *
 * Enforcement (one token bucket with a second of burst per (user, client
 * id) and quota; sensors are per broker, as in Kafka):
 *   producer_byte_rate       Produce request bytes (h_produce.c)
 *   consumer_byte_rate       Fetch record bytes (h_fetch.c)
 *   request_percentage       loop thread time: the handler's, recorded at
 *                            its response, and the response's send time
 *                            (bk_quota_on_timing), in us per second
 *   controller_mutation_rate partitions created/deleted (h_admin.c, KIP-599)
 *   connection_creation_rate ip entities, at accept (server.c, KIP-612),
 *                            with the broker-wide max.connection.creation.rate
 * A response over a quota carries throttle_time_ms (bk_respond calls
 * bk_quota_on_respond, which takes the largest throttle that applies) and
 * its connection reads nothing more for that long (KIP-219, bk_conn_mute),
 * whether the answer is synchronous or deferred (a long-poll Fetch, an
 * acks=all Produce).
 *
 * Storage: single node <first log dir>/brook-quotas; cluster mode
 * ZooKeeper's /config/users and /config/clients (zkquota.h).
 *
 * Thread: loop thread.
 */
#ifndef BK_QUOTAS_H
#define BK_QUOTAS_H

#include "../security/quota.h"
#include "broker.h"

enum { BK_QUOTA_PRODUCE = 0, BK_QUOTA_FETCH = 1, BK_QUOTA_REQUEST = 2, BK_QUOTA_MUTATION = 3 };

/* Create b->quotas (loads the file store on a single node). */
int bk_quotas_open(bk_broker *b);
void bk_quotas_close(bk_broker *b);
/* Cluster mode, once b->zkc is set: read the quotas from ZooKeeper and
 * follow /config/changes (zkquota.h). */
int bk_quotas_attach_zk(bk_broker *b);
void bk_quotas_tick(bk_broker *b);
/* Record bytes for the request's (user, client id); the throttle time in
 * ms (0: within the quota or no quota). */
int32_t bk_quota_record(bk_broker *b, const bk_req *req, int kind, uint64_t bytes);
/* After a response: keep the connection muted for ms (bk_conn_mute).
 * Returns 0. */
int bk_quota_mute(bk_broker *b, bk_req *req, int32_t ms);
/* controller_mutation_rate (KIP-599): n partitions created/deleted. strict
 * (CreateTopics v6+, CreatePartitions v3+, DeleteTopics v5+): *rejected
 * when the quota is already exceeded (nothing recorded; the caller answers
 * THROTTLING_QUOTA_EXCEEDED); otherwise recorded. Returns the throttle ms. */
int32_t bk_quota_mutation(bk_broker *b, bk_req *req, uint64_t n, bool strict, bool *rejected);
/* request_percentage (KIP-124): _start marks a request the quota applies
 * to; bk_quota_on_respond records the loop thread's time for its handler
 * (from the start of its handling to the response; a deferred request its
 * synchronous part, not the purgatory wait), and once the response is out
 * bk_quota_on_timing adds its send time without throttling (Kafka's
 * network thread time). bk_quota_on_respond sets the response's
 * ThrottleTimeMs to the largest throttle that applies (byte rates,
 * mutations, request time used so far) and mutes the connection for it
 * (KIP-219), synchronous and deferred answers alike. */
void bk_quota_request_start(bk_broker *b, bk_req *req);
/* Accept time (KIP-612): may a new connection from ip be let in under
 * max.connection.creation.rate and the ip's connection_creation_rate
 * (each a token bucket with one second of burst; a refused connection is
 * not charged)? Refusals are counted and logged (rate limited); the caller
 * closes the socket (Kafka delays the accept instead). */
bool bk_quota_conn_allowed(bk_broker *b, const char *ip);
void bk_quota_on_timing(bk_broker *b, bk_conn *c, const uint64_t *us);
void bk_quota_on_respond(bk_broker *b, bk_req *req, const bk_msgdesc *d, int16_t ver, void *m);

#endif
