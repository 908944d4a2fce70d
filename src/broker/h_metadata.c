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
 *  ControllerId  v1+, this broker (single node for now).
 *  Topics        through the bk_topic_source hook (broker.h). "All topics"
 *                is an empty array in v0 and a null array in v1+. Requested
 *                topics that do not exist get UNKNOWN_TOPIC_OR_PARTITION (by
 *                name) or UNKNOWN_TOPIC_ID (by id, v10+); with auto-creation
 *                allowed (auto.create.topics.enable and, v4+,
 *                AllowAutoTopicCreation) and a source that can create, they
 *                get LEADER_NOT_AVAILABLE and the client retries, as in Kafka.
 *                Requested names are not de-duplicated (that would be
 *                quadratic in a hostile request; clients do not repeat names).
 *  Authorized operations (v8+ topics, v8-10 cluster) are reported when asked
 *  for: without an authorizer everything is allowed, as in Kafka.
 */
#include "api_table.h"

/* AclOperation codes: READ 3, WRITE 4, CREATE 5, DELETE 6, ALTER 7,
 * DESCRIBE 8, CLUSTER_ACTION 9, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11,
 * IDEMPOTENT_WRITE 12. These are the operations Kafka lists per resource. */
#define OP(x)       (1 << (x))
#define TOPIC_OPS   (OP(3) | OP(4) | OP(5) | OP(6) | OP(7) | OP(8) | OP(10) | OP(11))
#define CLUSTER_OPS (OP(5) | OP(7) | OP(8) | OP(9) | OP(10) | OP(11) | OP(12))

/* Kafka's Topic.validate: 1-249 chars of [a-zA-Z0-9._-], not "." or "..". */
static bool legal_topic_name(bk_str n)
{
    if (n.len <= 0 || n.len > 249)
        return false;
    if ((n.len == 1 && n.p[0] == '.') || (n.len == 2 && n.p[0] == '.' && n.p[1] == '.'))
        return false;
    for (int32_t i = 0; i < n.len; i++) {
        char ch = n.p[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

static bool uuid_is_zero(const bk_uuid *u)
{
    for (int i = 0; i < 16; i++)
        if (u->b[i])
            return false;
    return true;
}

static int fill_topic(bk_req *req, bk_MetadataResponse_MetadataResponseTopic *t,
                      const bk_topic_meta *tm, bool want_ops)
{
    t->ErrorCode = BK_KERR_NONE;
    t->Name = tm->name;
    t->TopicId = tm->id;
    t->IsInternal = tm->internal;
    if (want_ops)
        t->TopicAuthorizedOperations = TOPIC_OPS;
    t->Partitions.n = tm->npartitions;
    if (tm->npartitions == 0)
        return 0;
    t->Partitions.a =
        BK_ARENA_NEW(req, bk_MetadataResponse_MetadataResponsePartition, tm->npartitions);
    if (!t->Partitions.a)
        return BK_ENOMEM;
    for (int32_t i = 0; i < tm->npartitions; i++) {
        const bk_partition_meta *pm = &tm->partitions[i];
        bk_MetadataResponse_MetadataResponsePartition *p = &t->Partitions.a[i];
        p->ErrorCode = pm->error;
        p->PartitionIndex = pm->index;
        p->LeaderId = pm->leader;
        p->LeaderEpoch = pm->leader_epoch;
        /* The codec only reads these arrays. */
        p->ReplicaNodes.n = pm->nreplicas;
        p->ReplicaNodes.a = (int32_t *)pm->replicas;
        p->IsrNodes.n = pm->nisr;
        p->IsrNodes.a = (int32_t *)pm->isr;
        p->OfflineReplicas.n = pm->noffline;
        p->OfflineReplicas.a = (int32_t *)pm->offline;
    }
    return 0;
}

static const bk_endpoint *endpoint_for(const bk_broker *b, const bk_conn *c)
{
    for (int i = 0; i < b->nadv; i++)
        if (strcmp(b->adv[i].name, c->listener_name) == 0)
            return &b->adv[i];
    return b->nadv ? &b->adv[0] : NULL;
}

int bk_h_metadata(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_MetadataRequest rq;
    bk_MetadataRequest_init(&rq);
    int rc = bk_MetadataRequest_decode(&req->body, ver, req->arena, &rq);
    if (rc != 0)
        return rc;

    bk_MetadataResponse rs;
    bk_MetadataResponse_init(&rs);
    rs.ThrottleTimeMs = 0;

    /* Brokers: just us. */
    const bk_endpoint *ep = endpoint_for(b, req->conn);
    bk_MetadataResponse_MetadataResponseBroker *br =
        BK_ARENA_NEW(req, bk_MetadataResponse_MetadataResponseBroker, 1);
    if (!br)
        return BK_ENOMEM;
    br->NodeId = b->node_id;
    if (ep && ep->host[0] && strcmp(ep->host, "0.0.0.0") != 0 && strcmp(ep->host, "::") != 0)
        br->Host = bk_str_c(ep->host);
    else
        br->Host = bk_str_c(req->conn->local_host[0] ? req->conn->local_host : "127.0.0.1");
    br->Port = ep ? ep->port : req->conn->local_port;
    if (br->Port == 0)
        br->Port = req->conn->local_port;
    br->Rack = bk_str_c(b->cfg->broker_rack); /* NULL -> null */
    rs.Brokers.n = 1;
    rs.Brokers.a = br;
    rs.ClusterId = bk_str_c(b->cluster_id);
    rs.ControllerId = b->node_id;
    if (ver >= 8 && ver <= 10 && rq.IncludeClusterAuthorizedOperations)
        rs.ClusterAuthorizedOperations = CLUSTER_OPS;
    bool want_ops = ver >= 8 && rq.IncludeTopicAuthorizedOperations;

    /* Topics. */
    bool all = rq.Topics.n < 0 || (ver == 0 && rq.Topics.n == 0);
    int32_t n = all ? bk_topic_count(b) : rq.Topics.n;
    rs.Topics.n = 0;
    if (n > 0) {
        rs.Topics.a = BK_ARENA_NEW(req, bk_MetadataResponse_MetadataResponseTopic, n);
        if (!rs.Topics.a)
            return BK_ENOMEM;
    }
    bool may_create = b->cfg->auto_create_topics_enable && (ver < 4 || rq.AllowAutoTopicCreation);

    for (int32_t i = 0; i < n; i++) {
        bk_MetadataResponse_MetadataResponseTopic *t = &rs.Topics.a[rs.Topics.n];
        bk_codec_init(&bk_desc_MetadataResponse_MetadataResponseTopic, t);
        bk_topic_meta tm;
        if (all) {
            if (bk_topic_at(b, i, &tm) != 0)
                continue; /* vanished meanwhile */
            if ((rc = fill_topic(req, t, &tm, want_ops)) != 0)
                return rc;
            rs.Topics.n++;
            continue;
        }

        const bk_MetadataRequest_MetadataRequestTopic *q = &rq.Topics.a[i];
        bool by_id = ver >= 10 && q->Name.len < 0;
        if (by_id && uuid_is_zero(&q->TopicId))
            continue; /* neither name nor id: Kafka ignores the entry */
        rs.Topics.n++;
        if (by_id ? bk_topic_lookup(b, NULL, &q->TopicId, &tm) == 0
                  : bk_topic_lookup(b, &q->Name, NULL, &tm) == 0) {
            if ((rc = fill_topic(req, t, &tm, want_ops)) != 0)
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
        if (!may_create) {
            t->ErrorCode = BK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        } else if (!legal_topic_name(q->Name)) {
            t->ErrorCode = BK_KERR_INVALID_TOPIC_EXCEPTION;
        } else if (b->topics.create && b->topics.create(b->topics.ud, &q->Name) == 0) {
            t->ErrorCode = BK_KERR_LEADER_NOT_AVAILABLE;
        } else {
            t->ErrorCode = BK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        }
    }
    return BK_RESPOND(req, MetadataResponse, ver, &rs);
}
