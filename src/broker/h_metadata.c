/*
 * h_metadata.c - Metadata (key 3) v0-v12.
 *
 *  Brokers       this broker only: node id = broker.id; host/port from the
 *                advertised listener of the listener the client came in on
 *                (else the first one); an empty or wildcard (0.0.0.0, ::)
 *                host - possible when advertised.listeners defaults to
 *                listeners - becomes the local address the client connected
 *                to (127.0.0.1 if even that is unknown), so the default
 *                "PLAINTEXT://:9092" works for local and remote clients.
 *  ClusterId     v2+, from meta.properties / cluster.id.
 *  ControllerId  v1+, this broker (single node); in cluster mode the broker
 *                holding /controller (-1 while unknown), and Brokers lists
 *                every live broker of /brokers/ids.
 *  Topics        from the registry (cluster/topics.h), in creation order,
 *                internal ones included. "All topics" is an empty array in
 *                v0 and a null array in v1+. Every partition is led by this
 *                broker at the partition's leader epoch, replicas = ISR =
 *                [this broker]; a partition whose log is missing or went
 *                offline after a storage error has no leader
 *                (LEADER_NOT_AVAILABLE, leader -1, this broker listed as an
 *                offline replica), as Kafka reports a failed log dir.
 *                Requested topics that do not exist get
 *                UNKNOWN_TOPIC_OR_PARTITION (by name) or UNKNOWN_TOPIC_ID
 *                (by id, v10+). With auto-creation allowed
 *                (auto.create.topics.enable and, v4+, AllowAutoTopicCreation)
 *                an unknown, legal name is created with the broker defaults;
 *                creation is immediate on a single node, so the new topic
 *                is returned at once (Kafka answers LEADER_NOT_AVAILABLE
 *                only while the controller has not elected leaders yet).
 *                A failed creation reports its error (e.g.
 *                INVALID_REPLICATION_FACTOR when default.replication.factor
 *                is above the broker count).
 *                Requested names are not de-duplicated (that would be
 *                quadratic in a hostile request; clients do not repeat names).
 *  Authorized operations (v8+ topics, v8-10 cluster) are reported when asked
 *  for: without an authorizer everything is allowed, as in Kafka.
 */
#include "api_table.h"
#include "authz.h"

#include "../cluster/cluster.h"
#include "../core/log.h"
#include "../group/coord.h"
#include "replica.h"

/* AclOperation codes: READ 3, WRITE 4, CREATE 5, DELETE 6, ALTER 7,
 * DESCRIBE 8, CLUSTER_ACTION 9, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11,
 * IDEMPOTENT_WRITE 12. These are the operations Kafka lists per resource. */
#define OP(x)       (1 << (x))
#define TOPIC_OPS   (OP(3) | OP(4) | OP(5) | OP(6) | OP(7) | OP(8) | OP(10) | OP(11))
#define CLUSTER_OPS (OP(5) | OP(7) | OP(8) | OP(9) | OP(10) | OP(11) | OP(12))

static bool uuid_is_zero(const bk_uuid *u)
{
    for (int i = 0; i < 16; i++)
        if (u->b[i])
            return false;
    return true;
}

static bool live(const bk_broker *b, int32_t id)
{
    return id == b->node_id || bk_broker_live_find(b, id) != NULL;
}

/* Cluster mode: the partition state the controller sent (and, where this
 * broker leads, the ISR it maintains). A leader that is not a live broker
 * is LEADER_NOT_AVAILABLE with leader -1, as Kafka's metadata cache says;
 * our own replica with an offline log is an offline replica. */
static void fill_cluster_partition(const bk_broker *b, const bk_partition *pp,
                                   bk_MetadataResponse_MetadataResponsePartition *p)
{
    p->PartitionIndex = pp->index;
    p->LeaderEpoch = pp->leader_epoch;
    bool self_offline = pp->hosted && (!pp->log || pp->log->offline);
    bool leader_ok = pp->leader >= 0 && live(b, pp->leader) &&
                     !(pp->leader == b->node_id && self_offline);
    p->LeaderId = leader_ok ? pp->leader : -1;
    p->ErrorCode = leader_ok ? BK_KERR_NONE : BK_KERR_LEADER_NOT_AVAILABLE;
    p->ReplicaNodes.n = pp->nreplicas;
    p->ReplicaNodes.a = pp->replicas;
    p->IsrNodes.n = pp->nisr;
    p->IsrNodes.a = pp->isr;
    if (self_offline && !bk_ids_has(pp->offline, pp->noffline, b->node_id)) {
        p->OfflineReplicas.n = 1;
        p->OfflineReplicas.a = (int32_t *)b->self;
    } else {
        p->OfflineReplicas.n = pp->noffline;
        p->OfflineReplicas.a = pp->offline;
    }
}

static int fill_topic(bk_broker *b, bk_req *req, bk_MetadataResponse_MetadataResponseTopic *t,
                      const bk_topic *tp, int16_t ver, bool want_ops)
{
    t->ErrorCode = BK_KERR_NONE;
    t->Name = (bk_str){tp->name, (int32_t)strlen(tp->name)};
    t->TopicId = tp->id;
    t->IsInternal = tp->internal;
    if (want_ops)
        t->TopicAuthorizedOperations = TOPIC_OPS;
    t->Partitions.n = tp->nparts;
    if (tp->nparts == 0)
        return 0;
    t->Partitions.a = BK_ARENA_NEW(req, bk_MetadataResponse_MetadataResponsePartition, tp->nparts);
    if (!t->Partitions.a)
        return BK_ENOMEM;
    for (int32_t i = 0; i < tp->nparts; i++) {
        const bk_partition *pp = &tp->parts[i];
        bk_MetadataResponse_MetadataResponsePartition *p = &t->Partitions.a[i];
        if (b->cluster) {
            fill_cluster_partition(b, pp, p);
            continue;
        }
        bool online = pp->log && !pp->log->offline;
        p->ErrorCode = online ? BK_KERR_NONE : BK_KERR_LEADER_NOT_AVAILABLE;
        p->PartitionIndex = pp->index;
        p->LeaderId = online ? b->node_id : -1;
        p->LeaderEpoch = pp->leader_epoch;
        /* The codec only reads these arrays. */
        p->ReplicaNodes.n = 1;
        p->ReplicaNodes.a = b->self;
        p->IsrNodes.n = online ? 1 : 0;
        p->IsrNodes.a = b->self;
        p->OfflineReplicas.n = online ? 0 : 1;
        p->OfflineReplicas.a = b->self;
    }
    return 0;
}

int bk_h_metadata(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_MetadataRequest rq;
    BK_DECODE(req, MetadataRequest, &rq);
    int rc;

    bk_MetadataResponse rs;
    bk_MetadataResponse_init(&rs);
    rs.ThrottleTimeMs = 0;

    /* Brokers: just us. */
    bk_MetadataResponse_MetadataResponseBroker *br =
        BK_ARENA_NEW(req, bk_MetadataResponse_MetadataResponseBroker, 1);
    if (!br)
        return BK_ENOMEM;
    const char *host;
    int port;
    bk_broker_self_endpoint(b, req->conn, &host, &port);
    br->NodeId = b->node_id;
    br->Host = bk_str_c(host);
    br->Port = port;
    br->Rack = bk_str_c(b->cfg->broker_rack); /* NULL -> null */
    rs.Brokers.n = 1;
    rs.Brokers.a = br;
    rs.ClusterId = bk_str_c(b->cluster_id);
    rs.ControllerId = b->node_id;
    if (b->cluster && b->nlive > 0) {
        /* the live brokers (UpdateMetadata / ZooKeeper registrations) */
        br = BK_ARENA_NEW(req, bk_MetadataResponse_MetadataResponseBroker, b->nlive);
        if (!br)
            return BK_ENOMEM;
        for (int i = 0; i < b->nlive; i++) {
            const bk_live_broker *lb = &b->live[i];
            br[i].NodeId = lb->id;
            /* the endpoint of the listener the client came in on (Kafka) */
            br[i].Host = bk_str_c(bk_broker_live_endpoint(lb, req->conn, req->arena, &br[i].Port));
            br[i].Rack = lb->has_rack ? bk_str_c(lb->rack) : (bk_str){NULL, -1};
        }
        rs.Brokers.n = b->nlive;
        rs.Brokers.a = br;
    }
    if (b->cluster)
        rs.ControllerId = b->controller_id;
    if (ver >= 8 && ver <= 10 && rq.IncludeClusterAuthorizedOperations)
        rs.ClusterAuthorizedOperations = CLUSTER_OPS;
    bool want_ops = ver >= 8 && rq.IncludeTopicAuthorizedOperations;

    /* Topics. */
    bool all = rq.Topics.n < 0 || (ver == 0 && rq.Topics.n == 0);
    int32_t n = all ? (b->topics ? bk_topics_count(b->topics) : 0) : rq.Topics.n;
    rs.Topics.n = 0;
    if (n > 0) {
        rs.Topics.a = BK_ARENA_NEW(req, bk_MetadataResponse_MetadataResponseTopic, n);
        if (!rs.Topics.a)
            return BK_ENOMEM;
    }
    /* cluster mode: topics are created through ZooKeeper (the store's
     * writes); without ZooKeeper (controller requests only) not at all */
    bool may_create = b->topics && (!b->cluster || b->zkc) && b->cfg->auto_create_topics_enable &&
                      (ver < 4 || rq.AllowAutoTopicCreation);

    for (int32_t i = 0; i < n; i++) {
        bk_MetadataResponse_MetadataResponseTopic *t = &rs.Topics.a[rs.Topics.n];
        bk_codec_init(&bk_desc_MetadataResponse_MetadataResponseTopic, t);
        if (all) {
            bk_topic *tp = bk_topics_at(b->topics, i);
            /* authorization: topics the principal may not describe are hidden */
            if (!tp || !bk_authz_topic(b, req, BK_OP_DESCRIBE, bk_str_c(tp->name)))
                continue;
            if ((rc = fill_topic(b, req, t, tp, ver, want_ops)) != 0)
                return rc;
            rs.Topics.n++;
            continue;
        }

        const bk_MetadataRequest_MetadataRequestTopic *q = &rq.Topics.a[i];
        bool by_id = ver >= 10 && q->Name.len < 0;
        if (by_id && uuid_is_zero(&q->TopicId))
            continue; /* neither name nor id: Kafka ignores the entry */
        rs.Topics.n++;
        if (!by_id && !bk_authz_topic(b, req, BK_OP_DESCRIBE, q->Name)) {
            t->Name = q->Name;
            t->ErrorCode = BK_KERR_TOPIC_AUTHORIZATION_FAILED;
            continue;
        }
        bk_topic *tp = NULL;
        if (b->topics)
            tp = by_id
                     ? bk_topics_get_id(b->topics, &q->TopicId)
                     : (q->Name.len >= 0 ? bk_topics_get(b->topics, q->Name.p, (size_t)q->Name.len)
                                         : NULL);
        if (tp && by_id && !bk_authz_topic(b, req, BK_OP_DESCRIBE, bk_str_c(tp->name)))
            tp = NULL; /* by id: an undescribable topic is an unknown one */
        if (tp) {
            if ((rc = fill_topic(b, req, t, tp, ver, want_ops)) != 0)
                return rc;
            continue;
        }
        if (by_id) {
            t->ErrorCode = BK_KERR_UNKNOWN_TOPIC_ID;
            t->TopicId = q->TopicId;
            /* Name is nullable only from v12 on. */
            t->Name = ver >= 12 ? (bk_str){NULL, -1} : bk_str_c("");
            continue;
        }
        t->Name = q->Name;
        if (q->Name.len < 0 || !bk_topic_name_valid(q->Name.p, (size_t)q->Name.len)) {
            t->ErrorCode =
                may_create ? BK_KERR_INVALID_TOPIC_EXCEPTION : BK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            continue;
        }
        if (!may_create) {
            t->ErrorCode = BK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            continue;
        }
        if (!bk_authz_cluster(b, req, BK_OP_CREATE) &&
            !bk_authz_topic(b, req, BK_OP_CREATE, q->Name)) {
            t->ErrorCode = BK_KERR_TOPIC_AUTHORIZATION_FAILED;
            continue;
        }
        int16_t kerr = BK_KERR_NONE;
        /* __consumer_offsets is created by the coordinator with its own
         * settings (offsets.topic.*, compacted), never with broker defaults. */
        bool offsets_topic = q->Name.len == (int32_t)strlen(BK_OFFSETS_TOPIC) &&
                             memcmp(q->Name.p, BK_OFFSETS_TOPIC, (size_t)q->Name.len) == 0;
        int cr = offsets_topic ? (b->coord ? bk_coord_ensure_topic(b->coord, &kerr) : BK_ENOENT)
                               : bk_topics_auto_create(b->topics, q->Name.p, (size_t)q->Name.len,
                                                       &kerr);
        if (cr == 0 &&
            (tp = bk_topics_get(b->topics, q->Name.p, (size_t)q->Name.len)) != NULL) {
            bk_log(BK_LOG_INFO, "auto-created topic %.*s", (int)q->Name.len, q->Name.p);
            if ((rc = fill_topic(b, req, t, tp, ver, want_ops)) != 0)
                return rc;
            continue;
        }
        t->ErrorCode = kerr != BK_KERR_NONE ? kerr : BK_KERR_UNKNOWN_SERVER_ERROR;
    }
    return BK_RESPOND(req, MetadataResponse, ver, &rs);
}
