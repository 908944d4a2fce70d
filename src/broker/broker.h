/*
 * broker.h - request handling (Kafka's KafkaApis): the broker context every
 * handler gets, the dispatch entry called by net/conn, and small helpers
 * shared by the handlers.
 *
 * Flow: conn decodes the request header and calls bk_broker_on_request();
 * the API table (api_table.h) says which keys and versions are served;
 * a handler decodes the body with the generated codec into the request's
 * arena, fills the response struct (after bk_<Resp>_init) and sends it with
 * BK_RESPOND(). Handlers return 0 (answered), BK_EAGAIN (deferred, see
 * conn.h) or a negative status to close the connection (malformed body).
 *
 * Topics come from the registry (cluster/topics.h); b->topics is NULL only
 * in tests that run handlers without storage (then no topic exists).
 * Handlers look partitions up per request and never keep the pointers.
 *
 * Deferred requests. A handler that must wait (Fetch below MinBytes) parks
 * a bk_delayed in b->purg (purgatory.h) with its state in the request's
 * arena, sets req->hctx to it and returns BK_EAGAIN; bk_broker_on_cancel()
 * completes it early when its connection fails.
 *
 * Thread: loop thread.
 */
#ifndef BK_BROKER_H
#define BK_BROKER_H

#include "../cluster/topics.h"
#include "../core/config.h"
#include "../net/conn.h"
#include "../proto/bkgen_msgs.h"
#include "../storage/validate.h"
#include "purgatory.h"

/* A live broker as the controller (UpdateMetadata) or the ZooKeeper
 * registration (/brokers/ids) says: what Metadata lists. */
typedef struct bk_live_broker {
    int32_t id;
    char host[256];
    int32_t port;
    char rack[128];
    bool has_rack;
    char eps[1024]; /* every listener's endpoint, "NAME://host:port,..." (issue 11) */
} bk_live_broker;

/*
 * The ISR change hook (Kafka's pre-AlterPartition mechanism: the leader
 * writes the partition state znode with a version check). The leader calls
 * it with the new ISR, its leader epoch, the controller epoch of the state
 * it holds (the znode's JSON carries all three) and the partition epoch
 * (znode version) it believes current.
 * Returns 0 when the change is accepted, with *new_partition_epoch (the
 * znode's new version): the broker then applies it locally; BK_EAGAIN
 * when the change is in flight (the hook calls bk_replica_isr_done()
 * later; no other change of that partition starts meanwhile); any other
 * value when it was refused (version conflict: the controller changed the
 * state, its LeaderAndIsr will follow). Default (no ZooKeeper): accepted
 * at partition_epoch + 1.
 */
typedef int bk_isr_change_fn(void *ud, const char *topic, int32_t partition, int32_t leader,
                             int32_t leader_epoch, int32_t controller_epoch, const int32_t *isr,
                             int32_t nisr, int32_t partition_epoch, int32_t *new_partition_epoch);

typedef struct bk_broker {
    const bk_config *cfg; /* borrowed */
    int32_t node_id;      /* broker.id, or from meta.properties */
    char cluster_id[65];
    /* What Metadata tells clients: advertised.listeners with port 0
     * replaced by the bound port. Owned. */
    bk_endpoint *adv;
    int nadv;
    int32_t self[1]; /* {node_id}: every partition's replicas and ISR (single node) */

    bk_ev *ev;         /* borrowed: the loop (NULL until bk_broker_start) */
    bk_topics *topics; /* borrowed: the registry; NULL = no topics */
    bk_logmgr *logmgr; /* borrowed: every partition log; NULL without storage */
    bk_purgatory purg; /* delayed Fetch (and acks=-1 Produce with replication) */
    struct bk_coord *coord; /* owned: the group coordinator (group/coord.h), from start */
    struct bk_tcoord *tcoord; /* owned: the transaction coordinator (txn/tcoord.h), from start */
    bool started;
    /* Cluster mode (zookeeper.connect): membership, live brokers, the
     * controller (cluster/cluster.h). Borrowed; NULL on a single node. */
    struct bk_sasl_state *sasl; /* owned: SASL users and credentials (h_sasl.c) */
    struct bk_cluster *zkc;

    /* Cluster mode (zookeeper.connect, or brook.controller.requests.enable):
     * partitions are led and followed as the controller says
     * (broker/replica.h). */
    bool cluster;
    int32_t controller_id;    /* -1 unknown */
    int32_t controller_epoch; /* largest seen; -1 */
    int64_t broker_epoch;     /* this broker's ZooKeeper epoch; -1 = not checked */
    bk_live_broker *live;     /* owned: live brokers (bk_broker_set_live) */
    int nlive;
    bk_isr_change_fn *isr_change;
    void *isr_change_ud;
    struct bk_fetcher *fetcher; /* owned: follower fetch connections (fetcher.h) */
    struct bk_ib *ib;           /* owned: requests to other brokers (interbroker.h) */
    struct bk_txnmk *txnmk;     /* owned: the transaction marker channel (txn_markers.h) */
    int64_t next_isr_check_ms;
    /* Leadership fence after a freeze (replica.h bk_leader_check). */
    int64_t last_tick_ms; /* bk_now_ms() of the last replica tick; 0 = none */
    int64_t freeze_ms;    /* a longer gap between ticks fences (0 = never) */
    int64_t tick_session; /* the ZooKeeper session id at the last tick */
    bool lead_fenced;     /* leading nothing until ZooKeeper confirms */

    struct bk_authz *authz; /* owned: the authorizer (authz.h); NULL = none */
    struct bk_quotamgr *quotas; /* owned: client quotas (quotas.h) */

    /* Scratch reused by handlers (loop thread, one request at a time). */
    bk_validate_scratch vscratch; /* Produce: validation and recompression */
    bk_zctx zctx;                 /* ListOffsets: decompression contexts */
    bk_wr batch;                  /* ListOffsets: one batch read from a segment */
    bk_wr dec;                    /* ListOffsets: its decompressed records */
} bk_broker;

/* cfg must be finished. cluster_id/node_id come from bk_meta_identity(). */
int bk_broker_init(bk_broker *b, const bk_config *cfg, int32_t node_id, const char *cluster_id);
/* Attach the loop, the log manager and the topic registry (may be NULL). */
void bk_broker_start(bk_broker *b, bk_ev *ev, bk_logmgr *lm, bk_topics *topics);
/* Complete every delayed request now (shutdown). */
void bk_broker_complete_delayed(bk_broker *b);
/* Periodic work (~100 ms): purgatory housekeeping. */
void bk_broker_tick(bk_broker *b, int64_t now_ms);
/* Completes delayed requests first; call before the topics are closed. */
void bk_broker_fini(bk_broker *b);
/* After binding: the real port of listener `name` (for port 0). */
void bk_broker_set_bound_port(bk_broker *b, const char *listener_name, int port);

/*
 * Append a transaction marker (commit or abort) for pid/epoch to a local
 * partition, move its high watermark, wake its fetchers, and tell the
 * group coordinator when the partition belongs to __consumer_offsets.
 * Returns a Kafka error code; OUT (may be NULL): the marker's offset and
 * the leader epoch it was written under. Cluster mode: NOT_ENOUGH_REPLICAS
 * when the ISR is below min.insync.replicas (nothing written); the HW is
 * NOT waited for (txn_markers.h does). The transaction coordinator's
 * write_marker hook in single-node mode.
 */
int16_t bk_broker_write_marker(bk_broker *b, const char *topic, int32_t partition, int64_t pid,
                               int16_t epoch, int32_t coord_epoch, bool commit, int64_t *offset,
                               int32_t *leader_epoch);

/* bk_conn_opts.on_request; ud is the bk_broker. */
int bk_broker_on_request(bk_req *req, void *ud);
/* bk_conn_opts.on_cancel: a deferred request's connection failed. */
void bk_broker_on_cancel(bk_req *req, void *ud);
/* bk_conn_opts.on_timing: record RequestMetrics times (core/metrics.h) and
 * log requests slower than request.slow.ms (rate-limited). */
void bk_broker_on_timing(bk_conn *c, int16_t api_key, int16_t api_version, const uint64_t *us,
                         void *ud);
/* Kafka's name of an API key ("Produce"), "Unknown" if none. */
const char *bk_broker_api_name(int key);
/* Append the broker's state gauges (partitions, replicas, controller,
 * logs, purgatory) in Prometheus text (broker/bmetrics.c). */
void bk_broker_prometheus(bk_broker *b, bk_wr *w, int64_t now_ms);

/* Accessors for handlers (the admin handlers use these). */
#define BK_TOPICS(b) ((b)->topics)
#define BK_LOGMGR(b) ((b)->logmgr)

/* Where clients reach this broker on connection c's listener: the
 * advertised listener of that name (else the first); an empty or wildcard
 * host - advertised.listeners defaulting to listeners - becomes the local
 * address c connected to (127.0.0.1 if unknown), port 0 the bound port.
 * *host is borrowed from b or c. */
void bk_broker_self_endpoint(const bk_broker *b, const bk_conn *c, const char **host, int *port);
/* Host and port of live broker lb for a client on connection c: lb's
 * endpoint of c's listener (Kafka answers with the listener the client
 * came in on), else lb's inter-broker host/port. The host is allocated
 * from arena a when it comes from the endpoint list (issue 11). */
const char *bk_broker_live_endpoint(const bk_live_broker *lb, const bk_conn *c, bk_arena *a,
                                    int32_t *port);

/* The partition named by a request, or NULL (unknown topic or partition). */
static inline bk_partition *bk_broker_partition(bk_broker *b, bk_str topic, int32_t index)
{
    if (!b->topics || topic.len < 0)
        return NULL;
    return bk_topics_partition(b->topics, topic.p, (size_t)topic.len, index);
}

/* Kafka's CurrentLeaderEpoch check (KIP-320): -1 = no check, older =
 * FENCED_LEADER_EPOCH, newer = UNKNOWN_LEADER_EPOCH. */
static inline int16_t bk_check_leader_epoch(const bk_partition *p, int32_t current)
{
    if (current < 0 || current == p->leader_epoch)
        return BK_KERR_NONE;
    return current < p->leader_epoch ? BK_KERR_FENCED_LEADER_EPOCH : BK_KERR_UNKNOWN_LEADER_EPOCH;
}

/* Encode and queue a response (size first, reserve once, encode). */
int bk_respond(bk_req *req, const bk_msginfo *mi, int16_t ver, const void *m);
/* Typed front end: BK_RESPOND(req, MetadataResponse, ver, &resp). */
#define BK_RESPOND(req, Msg, ver, mptr)                                                            \
    bk_respond((req), &bk_msg_##Msg, (ver), (const bk_##Msg *){(mptr)})

/* Decode the request body into *mptr (a bk_<Msg>) at the request's
 * version; a malformed body returns its status from the handler (the
 * connection is closed). */
#define BK_DECODE(req, Msg, mptr)                                                                  \
    do {                                                                                           \
        bk_##Msg##_init(mptr);                                                                     \
        int bk_decode_rc_ =                                                                        \
            bk_##Msg##_decode(&(req)->body, (req)->hdr.api_version, (req)->arena, (mptr));         \
        if (bk_decode_rc_ != 0)                                                                    \
            return bk_decode_rc_;                                                                  \
    } while (0)

/* Allocate n zeroed T in the request arena (NULL when over its limit). */
#define BK_ARENA_NEW(req, T, n) ((T *)bk_arena_alloc((req)->arena, sizeof(T) * (size_t)(n)))

#endif
