/*
 * broker.h - request handling (Kafka's KafkaApis): the broker context every
 * handler gets, the dispatch entry called by net/conn, and the hook through
 * which handlers see topics.
 *
 * Flow: conn decodes the request header and calls bk_broker_on_request();
 * the API table (api_table.h) says which keys and versions are served;
 * a handler decodes the body with the generated codec into the request's
 * arena, fills the response struct (after bk_<Resp>_init) and sends it with
 * BK_RESPOND(). Handlers return 0 (answered), BK_EAGAIN (deferred, see
 * conn.h) or a negative status to close the connection (malformed body).
 *
 * Topics. Until the metadata cache (cluster/) exists, handlers see topics
 * only through bk_topic_source: lookup by name or id, iteration, optional
 * auto-creation. The default source has no topics. Whatever it returns is
 * borrowed for the duration of the current request.
 *
 * Thread: loop thread.
 */
#ifndef BK_BROKER_H
#define BK_BROKER_H

#include "../core/config.h"
#include "../net/conn.h"
#include "../proto/bkgen_msgs.h"

typedef struct bk_partition_meta {
    int32_t index;
    int16_t error;  /* e.g. LEADER_NOT_AVAILABLE while electing */
    int32_t leader; /* node id, -1 if none */
    int32_t leader_epoch;
    const int32_t *replicas; /* borrowed */
    int32_t nreplicas;
    const int32_t *isr; /* borrowed */
    int32_t nisr;
    const int32_t *offline; /* borrowed */
    int32_t noffline;
} bk_partition_meta;

typedef struct bk_topic_meta {
    bk_str name;
    bk_uuid id;
    bool internal;
    const bk_partition_meta *partitions; /* borrowed */
    int32_t npartitions;
} bk_topic_meta;

typedef struct bk_topic_source {
    /* By name (id NULL) or by id (name NULL): 0 and *out, or BK_ENOENT. */
    int (*lookup)(void *ud, const bk_str *name, const bk_uuid *id, bk_topic_meta *out);
    int32_t (*count)(void *ud);
    /* i in [0, count): 0 and *out. */
    int (*at)(void *ud, int32_t i, bk_topic_meta *out);
    /* Start creating a topic for auto.create.topics.enable; NULL if not
     * supported. 0: creation started (the client is told
     * LEADER_NOT_AVAILABLE and retries); < 0: not possible. */
    int (*create)(void *ud, const bk_str *name);
    void *ud;
} bk_topic_source;

typedef struct bk_broker {
    const bk_config *cfg; /* borrowed */
    int32_t node_id;      /* broker.id, or from meta.properties */
    char cluster_id[65];
    /* What Metadata tells clients: advertised.listeners with port 0
     * replaced by the bound port. Owned. */
    bk_endpoint *adv;
    int nadv;
    bk_topic_source topics;
} bk_broker;

/* cfg must be finished. cluster_id/node_id come from bk_meta_identity(). */
int bk_broker_init(bk_broker *b, const bk_config *cfg, int32_t node_id, const char *cluster_id);
void bk_broker_fini(bk_broker *b);
/* After binding: the real port of listener `name` (for port 0). */
void bk_broker_set_bound_port(bk_broker *b, const char *listener_name, int port);

/* bk_conn_opts.on_request; ud is the bk_broker. */
int bk_broker_on_request(bk_req *req, void *ud);

/* Topic access through the hook (the default source has no topics). */
int bk_topic_lookup(const bk_broker *b, const bk_str *name, const bk_uuid *id, bk_topic_meta *out);
int32_t bk_topic_count(const bk_broker *b);
int bk_topic_at(const bk_broker *b, int32_t i, bk_topic_meta *out);

/* Encode and queue a response (size first, reserve once, encode). */
int bk_respond(bk_req *req, const bk_msginfo *mi, int16_t ver, const void *m);
/* Typed front end: BK_RESPOND(req, MetadataResponse, ver, &resp). */
#define BK_RESPOND(req, Msg, ver, mptr)                                                            \
    bk_respond((req), &bk_msg_##Msg, (ver), (const bk_##Msg *){(mptr)})

/* Allocate n zeroed T in the request arena (NULL when over its limit). */
#define BK_ARENA_NEW(req, T, n) ((T *)bk_arena_alloc((req)->arena, sizeof(T) * (size_t)(n)))

#endif
