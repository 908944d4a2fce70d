/*
 * h_admin.c - topic and configuration administration:
 *
 *   CreateTopics (19) v0-7        DeleteTopics (20) v0-6
 *   CreatePartitions (37) v0-3    DescribeConfigs (32) v0-4
 *   AlterConfigs (33) v0-2        IncrementalAlterConfigs (44) v0-1
 *   DescribeCluster (60) v0-1     DescribeLogDirs (35) v0-4
 *
 * Error codes and messages follow Kafka's (ZooKeeper-mode) broker so that
 * admin clients and operators see what they know. Topic operations are
 * synchronous in single-node mode: timeoutMs is accepted and ignored, a
 * created topic is usable when the response leaves.
 *
 * Broker configs can be described but, in single-node mode, not altered:
 * AlterConfigs/IncrementalAlterConfigs on a BROKER resource answer
 * INVALID_REQUEST saying so. In cluster mode the replication throttle
 * rates (KIP-73) are dynamic: cluster.c bk_cluster_alter_broker_config.
 */
#include "../cluster/cluster.h"
#include "../cluster/metastore.h"
#include "../cluster/topics.h"
#include "../core/uuid.h"
#include "api_table.h"
#include "authz.h"
#include "quotas.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/statvfs.h>

#ifndef BK_TOPICS
#define BK_TOPICS(b) ((b)->topics)
#endif

/* controller_mutation_rate (KIP-599, quotas.h): n partitions created or
 * deleted. Strict versions get THROTTLING_QUOTA_EXCEEDED for a topic while
 * the quota is exceeded; older ones are throttled (the response's
 * throttle time and the mute, through bk_respond). */
static int16_t mutation_quota(bk_broker *b, bk_req *req, int32_t n, bool strict, char *msg,
                              size_t msglen)
{
    bool rejected = false;
    (void)bk_quota_mutation(b, req, (uint64_t)BK_MAX(n, 0), strict, &rejected);
    if (!rejected)
        return 0;
    if (msg)
        snprintf(msg, msglen, "The throttling quota has been exceeded.");
    return BK_KERR_THROTTLING_QUOTA_EXCEEDED;
}

/* ConfigResource.Type */
#define RES_TOPIC         2
#define RES_BROKER        4
#define RES_BROKER_LOGGER 8

/* Authorization of a config resource (authz.h): a topic, or a broker
 * (and its loggers), which Kafka authorizes on the cluster. */
static int16_t cfg_auth(bk_broker *b, bk_req *req, int8_t rtype, bk_str name, int op)
{
    if (rtype == RES_TOPIC)
        return bk_authz_topic(b, req, op, name) ? 0 : BK_KERR_TOPIC_AUTHORIZATION_FAILED;
    if (rtype == RES_BROKER || rtype == RES_BROKER_LOGGER)
        return bk_authz_cluster(b, req, op) ? 0 : BK_KERR_CLUSTER_AUTHORIZATION_FAILED;
    return 0;
}

static char *arena_strdup(bk_req *req, const char *s, size_t n)
{
    char *p = bk_arena_alloc(req->arena, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

static bk_str arena_str(bk_req *req, const char *s)
{
    if (!s)
        return (bk_str){NULL, -1};
    size_t n = strlen(s);
    char *p = arena_strdup(req, s, n);
    return p ? (bk_str){p, (int32_t)n} : (bk_str){"", 0};
}

/* A NUL-terminated copy of a wire string in the arena ("" for null). */
static char *cstr(bk_req *req, bk_str s)
{
    return arena_strdup(req, s.len > 0 ? s.p : "", s.len > 0 ? (size_t)s.len : 0);
}

static bool same_str(bk_str a, bk_str b)
{
    return a.len == b.len && (a.len <= 0 || memcmp(a.p, b.p, (size_t)a.len) == 0);
}

/* Assignments in a single-node cluster may only name this broker, once. */
static bool assignment_ok(const bk_broker *b, const int32_t *ids, int32_t n)
{
    if (!b->zkc)
        return n == 1 && ids[0] == b->node_id;
    /* cluster mode: distinct live brokers */
    int nb;
    const bk_zk_broker *live = bk_cluster_brokers(b->zkc, &nb);
    if (n < 1)
        return false;
    for (int32_t i = 0; i < n; i++) {
        bool up = false;
        for (int k = 0; k < nb && !up; k++)
            up = live[k].id == ids[i];
        for (int32_t j = 0; j < i && up; j++)
            up = ids[j] != ids[i];
        if (!up)
            return false;
    }
    return true;
}

static void fill_created_configs(bk_req *req, bk_topics *reg, const bk_topic *tp,
                                 bk_CreateTopicsResponse_CreatableTopicResult *r);

/* ------------------------------------------- CreateTopics in cluster mode
 *
 * The topic is validated here, then written to ZooKeeper (config, then
 * /brokers/topics/<t> with the replica assignment) and the request parks
 * until every topic's write has completed; each written topic is mirrored
 * into the local registry at once (the /brokers/topics watch would do it
 * a moment later) so the answer carries its id and configs. */

typedef struct ct_ctx {
    bk_broker *b;
    bk_req *req;
    int16_t ver;
    int pending;
    bool parked; /* the handler returned BK_EAGAIN */
    bk_CreateTopicsResponse rs;
} ct_ctx;

typedef struct ct_one {
    ct_ctx *x;
    int32_t i;
    bk_meta_topic m; /* owned (malloc) */
} ct_one;

static void ct_finish(ct_ctx *x)
{
    int rc = BK_RESPOND(x->req, CreateTopicsResponse, x->ver, &x->rs);
    if (x->parked)
        bk_req_done(x->req, rc);
}

static void ct_done(void *ud, int rc)
{
    ct_one *o = ud;
    ct_ctx *x = o->x;
    bk_req *req = x->req;
    bk_CreateTopicsResponse_CreatableTopicResult *r = &x->rs.Topics.a[o->i];
    bk_topics *reg = BK_TOPICS(x->b);
    if (rc == 0 && reg)
        rc = bk_topics_apply(reg, &o->m);
    const bk_topic *tp = rc == 0 && reg ? bk_topics_get(reg, o->m.name, strlen(o->m.name)) : NULL;
    if (tp) {
        r->ErrorCode = BK_KERR_NONE;
        r->ErrorMessage = (bk_str){NULL, -1};
        r->NumPartitions = tp->nparts;
        r->ReplicationFactor = tp->replication_factor;
        r->TopicId = tp->id;
        if (x->ver >= 5)
            fill_created_configs(req, reg, tp, r);
    } else {
        r->ErrorCode = rc == BK_EEXIST ? BK_KERR_TOPIC_ALREADY_EXISTS : BK_KERR_UNKNOWN_SERVER_ERROR;
        char msg[300];
        if (rc == BK_EEXIST)
            snprintf(msg, sizeof msg, "Topic '%s' already exists.", o->m.name);
        else
            snprintf(msg, sizeof msg, "Cannot write the topic to ZooKeeper: %s", bk_strerror(rc));
        r->ErrorMessage = arena_str(req, msg);
        r->NumPartitions = -1;
        r->ReplicationFactor = -1;
    }
    bk_meta_topic_free(&o->m);
    free(o);
    if (--x->pending == 0)
        ct_finish(x);
}

/* Start the ZooKeeper write of one validated topic. 0 (ct_done will run) or an error. */
static int ct_start(ct_ctx *x, int32_t i, const bk_CreateTopicsRequest_CreatableTopic *t,
                    int32_t nparts, int16_t rf, const bk_kv *kv, int nkv)
{
    bk_metastore *st = bk_topics_store(BK_TOPICS(x->b));
    ct_one *o = calloc(1, sizeof *o);
    if (!o)
        return BK_ENOMEM;
    o->x = x;
    o->i = i;
    bk_meta_topic *m = &o->m;
    m->name = strndup(t->Name.p, (size_t)t->Name.len);
    bk_uuid_random(m->id);
    m->partitions = nparts == -1 ? x->b->cfg->num_partitions : nparts;
    m->replication_factor = rf == -1 ? (int16_t)x->b->cfg->default_replication_factor : rf;
    m->keys = calloc((size_t)nkv + 1, sizeof *m->keys);
    m->vals = calloc((size_t)nkv + 1, sizeof *m->vals);
    int bad = !m->name || !m->keys || !m->vals;
    for (int k = 0; !bad && k < nkv; k++) {
        if (!kv[k].val)
            continue; /* a null value means the default: no override */
        m->keys[m->nconfigs] = strdup(kv[k].key);
        m->vals[m->nconfigs] = strdup(kv[k].val);
        bad = !m->keys[m->nconfigs] || !m->vals[m->nconfigs];
        m->nconfigs++;
    }
    if (!bad && t->Assignments.n > 0) {
        m->replicas = calloc((size_t)m->partitions * (size_t)m->replication_factor, sizeof(int32_t));
        bad = !m->replicas;
        for (int32_t p = 0; !bad && p < t->Assignments.n; p++)
            memcpy(m->replicas + (size_t)p * (size_t)m->replication_factor,
                   t->Assignments.a[p].BrokerIds.a,
                   (size_t)m->replication_factor * sizeof(int32_t));
    }
    int rc = bad ? BK_ENOMEM : st->ops->put_async(st, m, true, ct_done, o);
    if (rc) {
        bk_meta_topic_free(m);
        free(o);
    }
    return rc;
}

/* ---------------------------------------------------------- CreateTopics */

static void fill_created_configs(bk_req *req, bk_topics *reg, const bk_topic *tp,
                                 bk_CreateTopicsResponse_CreatableTopicResult *r)
{
    int n = bk_topic_cfg_count();
    r->Configs.a = BK_ARENA_NEW(req, bk_CreateTopicsResponse_CreatableTopicConfigs, n);
    if (!r->Configs.a) {
        r->Configs.n = -1;
        return;
    }
    r->Configs.n = n;
    for (int i = 0; i < n; i++) {
        bk_topic_cfg_entry e;
        bk_topic_cfg_describe(reg, tp, i, &e);
        bk_CreateTopicsResponse_CreatableTopicConfigs *c = &r->Configs.a[i];
        c->Name = bk_str_c(e.name);
        c->Value = arena_str(req, e.value);
        c->ReadOnly = e.read_only;
        c->ConfigSource = (int8_t)e.source;
        c->IsSensitive = e.sensitive;
    }
}

int bk_h_create_topics(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_CreateTopicsRequest rq;
    int rc = bk_CreateTopicsRequest_decode(&req->body, ver, req->arena, &rq);
    if (rc)
        return rc;
    bk_CreateTopicsResponse rs;
    bk_CreateTopicsResponse_init(&rs);
    int32_t n = rq.Topics.n > 0 ? rq.Topics.n : 0;
    rs.Topics.n = n;
    rs.Topics.a = n ? BK_ARENA_NEW(req, bk_CreateTopicsResponse_CreatableTopicResult, n) : NULL;
    if (n && !rs.Topics.a)
        return BK_ENOMEM;
    bk_topics *reg = BK_TOPICS(b);
    bk_metastore *store = reg ? bk_topics_store(reg) : NULL;
    ct_ctx *x = NULL;
    if (store && store->ops->put_async && !rq.validateOnly) {
        x = BK_ARENA_NEW(req, ct_ctx, 1);
        if (!x)
            return BK_ENOMEM;
        x->b = b;
        x->req = req;
        x->ver = ver;
        x->pending = 1; /* the handler's own, dropped at the end */
    }
    for (int32_t i = 0; i < n; i++) {
        const bk_CreateTopicsRequest_CreatableTopic *t = &rq.Topics.a[i];
        bk_CreateTopicsResponse_CreatableTopicResult *r = &rs.Topics.a[i];
        bk_codec_init(&bk_desc_CreateTopicsResponse_CreatableTopicResult, r);
        r->Name = t->Name;
        r->Configs.n = -1;
        int16_t kerr = 0;
        char msg[512] = "";
        bool dup = false;
        for (int32_t j = 0; j < n; j++)
            if (j != i && same_str(rq.Topics.a[j].Name, t->Name))
                dup = true;
        int32_t nparts = t->NumPartitions;
        int16_t rf = t->ReplicationFactor;
        if (!bk_authz_cluster(b, req, BK_OP_CREATE) &&
            !bk_authz_topic(b, req, BK_OP_CREATE, t->Name)) {
            kerr = BK_KERR_TOPIC_AUTHORIZATION_FAILED;
            snprintf(msg, sizeof msg, "Authorization failed.");
        } else if (dup) {
            kerr = BK_KERR_INVALID_REQUEST;
            snprintf(msg, sizeof msg, "Create topics request contains multiple entries for %.*s",
                     (int)BK_MAX(t->Name.len, 0), t->Name.p);
        } else if (t->Assignments.n > 0) {
            if (nparts != -1 || rf != -1) {
                kerr = BK_KERR_INVALID_REQUEST;
                snprintf(msg, sizeof msg,
                         "Both numPartitions or replicationFactor and replicasAssignments were "
                         "set. Both cannot be used at the same time.");
            } else {
                nparts = t->Assignments.n;
                rf = (int16_t)t->Assignments.a[0].BrokerIds.n;
                for (int32_t k = 0; k < t->Assignments.n && !kerr; k++) {
                    const bk_CreateTopicsRequest_CreatableReplicaAssignment *a =
                        &t->Assignments.a[k];
                    if (a->PartitionIndex != k ||
                        !assignment_ok(b, a->BrokerIds.a, BK_MAX(a->BrokerIds.n, 0))) {
                        kerr = BK_KERR_INVALID_REPLICA_ASSIGNMENT;
                        snprintf(msg, sizeof msg,
                                 b->zkc ? "Replica assignment must give partitions 0..n-1, "
                                                      "each on distinct live brokers"
                                                    : "Replica assignment must give partitions "
                                                      "0..n-1, each on broker %d only",
                                 b->node_id);
                    }
                }
            }
        }
        bk_kv *kv = NULL;
        int nkv = BK_MAX(t->Configs.n, 0);
        if (!kerr && nkv) {
            kv = bk_arena_alloc(req->arena, sizeof *kv * (size_t)nkv);
            if (!kv)
                return BK_ENOMEM;
            for (int k = 0; k < nkv; k++) {
                kv[k].key = cstr(req, t->Configs.a[k].Name);
                kv[k].val = t->Configs.a[k].Value.len < 0 ? NULL : cstr(req, t->Configs.a[k].Value);
            }
        }
        if (!kerr && t->Name.len >= 0 && BK_MAX(t->Name.len, 0) > 0 && bk_topics_get(reg, t->Name.p, (size_t)t->Name.len)) {
            kerr = BK_KERR_TOPIC_ALREADY_EXISTS;
            snprintf(msg, sizeof msg, "Topic '%.*s' already exists.", (int)t->Name.len, t->Name.p);
        }
        if (!kerr && !rq.validateOnly)
            kerr = mutation_quota(b, req, nparts == -1 ? b->cfg->num_partitions : nparts, ver >= 6,
                                  msg, sizeof msg);
        if (!kerr)
            bk_topics_create(reg, t->Name.p ? t->Name.p : "", (size_t)BK_MAX(t->Name.len, 0),
                             nparts, rf, kv, nkv, rq.validateOnly || x, &kerr, msg, sizeof msg);
        if (!kerr && x) {
            int cr = ct_start(x, i, t, nparts, rf, kv, nkv);
            if (cr == 0) {
                x->pending++;
                continue; /* answered in ct_done */
            }
            kerr = BK_KERR_UNKNOWN_SERVER_ERROR;
            snprintf(msg, sizeof msg, "Cannot write the topic to ZooKeeper: %s", bk_strerror(cr));
        }
        r->ErrorCode = kerr;
        if (kerr) {
            r->ErrorMessage = arena_str(req, msg);
            r->NumPartitions = -1;
            r->ReplicationFactor = -1;
            continue;
        }
        r->ErrorMessage = (bk_str){NULL, -1};
        const bk_topic *tp = bk_topics_get(reg, t->Name.p, (size_t)t->Name.len);
        r->NumPartitions = tp ? tp->nparts
                              : (nparts == -1 ? b->cfg->num_partitions : nparts);
        r->ReplicationFactor = tp ? tp->replication_factor
                                  : (rf == -1 ? (int16_t)b->cfg->default_replication_factor : rf);
        if (tp)
            r->TopicId = tp->id;
        if (ver >= 5 && tp)
            fill_created_configs(req, reg, tp, r);
    }
    if (x) {
        x->rs = rs;
        if (--x->pending > 0) {
            x->parked = true;
            req->hctx = NULL; /* not cancellable: ZooKeeper always answers */
            return BK_EAGAIN;
        }
        return BK_RESPOND(req, CreateTopicsResponse, ver, &x->rs);
    }
    return BK_RESPOND(req, CreateTopicsResponse, ver, &rs);
}

/* ---------------------------------------------------------- DeleteTopics */

static bool uuid_zero(const bk_uuid *u)
{
    for (int i = 0; i < 16; i++)
        if (u->b[i])
            return false;
    return true;
}

/* DeleteTopics in cluster mode: the topic leaves this broker's registry at
 * once; the request parks until the controller has removed it from
 * ZooKeeper (REQUEST_TIMED_OUT after TimeoutMs, as Kafka; the deletion
 * still completes). */
typedef struct dt_ctx {
    bk_req *req;
    int16_t ver;
    int pending;
    bool parked;
    bk_DeleteTopicsResponse rs;
} dt_ctx;

typedef struct dt_one {
    dt_ctx *x;
    int32_t i;
} dt_one;

static void dt_done(void *ud, int rc)
{
    dt_one *o = ud;
    dt_ctx *x = o->x;
    bk_DeleteTopicsResponse_DeletableTopicResult *r = &x->rs.Responses.a[o->i];
    free(o);
    if (rc == BK_EAGAIN) {
        r->ErrorCode = BK_KERR_REQUEST_TIMED_OUT;
        r->ErrorMessage = bk_str_c("The deletion did not complete within the timeout; it goes on.");
    } else if (rc != 0) {
        r->ErrorCode = BK_KERR_UNKNOWN_SERVER_ERROR;
        r->ErrorMessage = bk_str_c("The deletion could not be written to ZooKeeper.");
    }
    if (--x->pending > 0)
        return;
    int rrc = BK_RESPOND(x->req, DeleteTopicsResponse, x->ver, &x->rs);
    if (x->parked)
        bk_req_done(x->req, rrc);
}

int bk_h_delete_topics(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_DeleteTopicsRequest rq;
    int rc = bk_DeleteTopicsRequest_decode(&req->body, ver, req->arena, &rq);
    if (rc)
        return rc;
    bk_DeleteTopicsResponse rs;
    bk_DeleteTopicsResponse_init(&rs);
    bk_topics *reg = BK_TOPICS(b);
    int32_t n = ver >= 6 ? BK_MAX(rq.Topics.n, 0) : BK_MAX(rq.TopicNames.n, 0);
    rs.Responses.n = n;
    rs.Responses.a = n ? BK_ARENA_NEW(req, bk_DeleteTopicsResponse_DeletableTopicResult, n) : NULL;
    if (n && !rs.Responses.a)
        return BK_ENOMEM;
    bk_metastore *store = reg ? bk_topics_store(reg) : NULL;
    dt_ctx *x = NULL;
    if (store && store->ops->remove_async) {
        x = BK_ARENA_NEW(req, dt_ctx, 1);
        if (!x)
            return BK_ENOMEM;
        x->req = req;
        x->ver = ver;
        x->pending = 1; /* the handler's own */
    }
    for (int32_t i = 0; i < n; i++) {
        bk_DeleteTopicsResponse_DeletableTopicResult *r = &rs.Responses.a[i];
        bk_codec_init(&bk_desc_DeleteTopicsResponse_DeletableTopicResult, r);
        bk_str name = ver >= 6 ? rq.Topics.a[i].Name : rq.TopicNames.a[i];
        bk_uuid id = ver >= 6 ? rq.Topics.a[i].TopicId : (bk_uuid){{0}};
        bool by_id = ver >= 6 && !uuid_zero(&id);
        bk_topic *tp = NULL;
        if (by_id && name.len >= 0) {
            r->ErrorCode = BK_KERR_INVALID_REQUEST;
            r->ErrorMessage = bk_str_c("Give a topic name or a topic id, not both.");
        } else if (by_id) {
            tp = bk_topics_get_id(reg, &id);
            r->TopicId = id;
            if (!tp)
                r->ErrorCode = BK_KERR_UNKNOWN_TOPIC_ID;
        } else {
            r->Name = name;
            tp = name.len > 0 ? bk_topics_get(reg, name.p, (size_t)name.len) : NULL;
            if (!bk_authz_topic(b, req, BK_OP_DELETE, name)) {
                r->ErrorCode = BK_KERR_TOPIC_AUTHORIZATION_FAILED;
                continue;
            }
            if (!tp)
                r->ErrorCode = BK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        }
        if (!tp)
            continue;
        if (by_id && !bk_authz_topic(b, req, BK_OP_DELETE, bk_str_c(tp->name))) {
            r->ErrorCode = BK_KERR_TOPIC_AUTHORIZATION_FAILED;
            continue;
        }
        r->Name = arena_str(req, tp->name);
        r->TopicId = tp->id;
        if (!b->cfg->delete_topic_enable) {
            r->ErrorCode = BK_KERR_TOPIC_DELETION_DISABLED;
            continue;
        }
        if (tp->internal) {
            r->ErrorCode = BK_KERR_INVALID_REQUEST;
            r->ErrorMessage = bk_str_c("Internal topics cannot be deleted.");
            continue;
        }
        if ((r->ErrorCode = mutation_quota(b, req, tp->nparts, ver >= 5, NULL, 0)) != 0) {
            r->ErrorMessage = bk_str_c("The throttling quota has been exceeded.");
            continue;
        }
        if (x) {
            dt_one *o = malloc(sizeof *o);
            int dr = o ? 0 : BK_ENOMEM;
            if (o) {
                o->x = x;
                o->i = i;
                dr = store->ops->remove_async(store, tp->name, BK_MAX(rq.TimeoutMs, 0), dt_done, o);
                if (dr)
                    free(o);
            }
            if (dr == 0) {
                (void)bk_topics_drop(reg, tp);
                x->pending++;
            } else {
                r->ErrorCode = BK_KERR_UNKNOWN_SERVER_ERROR;
                r->ErrorMessage = bk_str_c("The deletion could not be written to ZooKeeper.");
            }
            continue;
        }
        if (bk_topics_delete(reg, tp) != 0) {
            r->ErrorCode = BK_KERR_KAFKA_STORAGE_ERROR;
            r->ErrorMessage = bk_str_c("The topic's metadata could not be updated.");
        }
    }
    if (x) {
        x->rs = rs;
        if (--x->pending > 0) {
            x->parked = true;
            req->hctx = NULL; /* completes by itself: deletion or its timeout */
            return BK_EAGAIN;
        }
        return BK_RESPOND(req, DeleteTopicsResponse, ver, &x->rs);
    }
    return BK_RESPOND(req, DeleteTopicsResponse, ver, &rs);
}

/* ------------------------------------------------------ CreatePartitions */

int bk_h_create_partitions(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_CreatePartitionsRequest rq;
    int rc = bk_CreatePartitionsRequest_decode(&req->body, ver, req->arena, &rq);
    if (rc)
        return rc;
    bk_CreatePartitionsResponse rs;
    bk_CreatePartitionsResponse_init(&rs);
    bk_topics *reg = BK_TOPICS(b);
    int32_t n = BK_MAX(rq.Topics.n, 0);
    rs.Results.n = n;
    rs.Results.a =
        n ? BK_ARENA_NEW(req, bk_CreatePartitionsResponse_CreatePartitionsTopicResult, n) : NULL;
    if (n && !rs.Results.a)
        return BK_ENOMEM;
    for (int32_t i = 0; i < n; i++) {
        const bk_CreatePartitionsRequest_CreatePartitionsTopic *t = &rq.Topics.a[i];
        bk_CreatePartitionsResponse_CreatePartitionsTopicResult *r = &rs.Results.a[i];
        bk_codec_init(&bk_desc_CreatePartitionsResponse_CreatePartitionsTopicResult, r);
        r->Name = t->Name;
        char msg[256] = "";
        int16_t kerr = 0;
        for (int32_t j = 0; j < n; j++)
            if (j != i && same_str(rq.Topics.a[j].Name, t->Name))
                kerr = BK_KERR_INVALID_REQUEST;
        bk_topic *tp = t->Name.len > 0 ? bk_topics_get(reg, t->Name.p, (size_t)t->Name.len) : NULL;
        if (kerr)
            snprintf(msg, sizeof msg, "Duplicate topic in the request.");
        else if (!bk_authz_topic(b, req, BK_OP_ALTER, t->Name)) {
            kerr = BK_KERR_TOPIC_AUTHORIZATION_FAILED;
            snprintf(msg, sizeof msg, "Authorization failed.");
        } else if (!tp) {
            kerr = BK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            snprintf(msg, sizeof msg, "The topic '%.*s' does not exist.",
                     (int)BK_MAX(t->Name.len, 0), t->Name.p);
        } else if (t->Assignments.n >= 0 && t->Assignments.n != t->Count - tp->nparts) {
            kerr = BK_KERR_INVALID_REPLICA_ASSIGNMENT;
            snprintf(msg, sizeof msg, "Increasing the number of partitions by %d but %d "
                     "assignments provided.", t->Count - tp->nparts, t->Assignments.n);
        } else {
            for (int32_t k = 0; k < BK_MAX(t->Assignments.n, 0) && !kerr; k++)
                if (!assignment_ok(b, t->Assignments.a[k].BrokerIds.a,
                                   BK_MAX(t->Assignments.a[k].BrokerIds.n, 0))) {
                    kerr = BK_KERR_INVALID_REPLICA_ASSIGNMENT;
                    snprintf(msg, sizeof msg, "Replicas may only be on broker %d.", b->node_id);
                }
            if (!kerr && !rq.ValidateOnly && t->Count > tp->nparts)
                kerr = mutation_quota(b, req, t->Count - tp->nparts, ver >= 3, msg, sizeof msg);
            if (!kerr)
                bk_topics_add_partitions(reg, tp, t->Count, rq.ValidateOnly, &kerr, msg,
                                         sizeof msg);
        }
        r->ErrorCode = kerr;
        r->ErrorMessage = kerr ? arena_str(req, msg) : (bk_str){NULL, -1};
    }
    return BK_RESPOND(req, CreatePartitionsResponse, ver, &rs);
}

/* ------------------------------------------------------- DescribeConfigs */

static bool key_wanted(const bk_DescribeConfigsRequest_DescribeConfigsResource *res, const char *k)
{
    if (res->ConfigurationKeys.n < 0)
        return true;
    for (int32_t i = 0; i < res->ConfigurationKeys.n; i++)
        if (bk_str_eq(res->ConfigurationKeys.a[i], k))
            return true;
    return false;
}

static int describe_topic(bk_req *req, bk_topics *reg, int16_t ver, bool synonyms, bool docs,
                          const bk_DescribeConfigsRequest_DescribeConfigsResource *res,
                          bk_DescribeConfigsResponse_DescribeConfigsResult *out)
{
    bk_topic *tp = res->ResourceName.len > 0
                       ? bk_topics_get(reg, res->ResourceName.p, (size_t)res->ResourceName.len)
                       : NULL;
    if (!tp) {
        out->ErrorCode = BK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        out->ErrorMessage = bk_str_c("The topic does not exist.");
        return 0;
    }
    int n = bk_topic_cfg_count();
    out->Configs.a = BK_ARENA_NEW(req, bk_DescribeConfigsResponse_DescribeConfigsResourceResult, n);
    if (!out->Configs.a)
        return BK_ENOMEM;
    out->Configs.n = 0;
    for (int i = 0; i < n; i++) {
        bk_topic_cfg_entry e;
        bk_topic_cfg_describe(reg, tp, i, &e);
        if (!key_wanted(res, e.name))
            continue;
        bk_DescribeConfigsResponse_DescribeConfigsResourceResult *c =
            &out->Configs.a[out->Configs.n++];
        bk_codec_init(&bk_desc_DescribeConfigsResponse_DescribeConfigsResourceResult, c);
        c->Name = bk_str_c(e.name);
        c->Value = arena_str(req, e.value);
        c->ReadOnly = e.read_only;
        if (ver == 0) /* v0 only, and not ignorable */
            c->IsDefault = e.source != BK_CFGSRC_TOPIC;
        c->ConfigSource = (int8_t)e.source;
        c->IsSensitive = e.sensitive;
        c->ConfigType = (int8_t)e.type;
        c->Documentation = docs ? bk_str_c(e.doc) : (bk_str){NULL, -1};
        c->Synonyms.n = 0;
        if (ver >= 1 && synonyms) {
            c->Synonyms.a = BK_ARENA_NEW(req, bk_DescribeConfigsResponse_DescribeConfigsSynonym, 2);
            if (!c->Synonyms.a)
                return BK_ENOMEM;
            /* in precedence order: the topic's own value, then the broker's */
            if (e.source == BK_CFGSRC_TOPIC)
                c->Synonyms.a[c->Synonyms.n++] =
                    (bk_DescribeConfigsResponse_DescribeConfigsSynonym){
                        bk_str_c(e.name), c->Value, BK_CFGSRC_TOPIC};
            if (e.synonym)
                c->Synonyms.a[c->Synonyms.n++] =
                    (bk_DescribeConfigsResponse_DescribeConfigsSynonym){
                        bk_str_c(e.synonym), arena_str(req, e.synonym_value),
                        (int8_t)e.synonym_source};
        }
    }
    return 0;
}

static int config_type_of(uint8_t t)
{
    switch (t) {
    case BK_CFG_INT: return BK_CFGTYPE_INT;
    case BK_CFG_LONG: return BK_CFGTYPE_LONG;
    case BK_CFG_BOOL: return BK_CFGTYPE_BOOLEAN;
    case BK_CFG_DOUBLE: return BK_CFGTYPE_DOUBLE;
    case BK_CFG_LIST: return BK_CFGTYPE_LIST;
    }
    return BK_CFGTYPE_STRING;
}

static int describe_broker(bk_broker *b, bk_req *req, int16_t ver, bool synonyms, bool docs,
                           const bk_DescribeConfigsRequest_DescribeConfigsResource *res,
                           bk_DescribeConfigsResponse_DescribeConfigsResult *out)
{
    char id[16];
    snprintf(id, sizeof id, "%" PRId32, b->node_id);
    if (res->ResourceName.len > 0 && !bk_str_eq(res->ResourceName, id)) {
        out->ErrorCode = BK_KERR_INVALID_REQUEST;
        out->ErrorMessage = arena_str(req, "Unexpected broker id: describe this broker by its id "
                                           "or the empty name.");
        return 0;
    }
    int n = bk_config_nkeys;
    out->Configs.a = BK_ARENA_NEW(req, bk_DescribeConfigsResponse_DescribeConfigsResourceResult, n);
    if (!out->Configs.a)
        return BK_ENOMEM;
    out->Configs.n = 0;
    for (int i = 0; i < n; i++) {
        const bk_config_key *k = &bk_config_keys[i];
        if (!key_wanted(res, k->name))
            continue;
        char buf[512];
        const char *v = bk_config_text(b->cfg, k, buf, sizeof buf);
        bool set = b->cfg->set[i];
        int src = set ? BK_CFGSRC_STATIC_BROKER : BK_CFGSRC_DEFAULT;
        /* cluster mode: a dynamic value (the throttle rates) wins; the
         * default entity (empty name) shows the cluster-wide default */
        bool dyn_default = false;
        const char *dyn = b->zkc ? bk_cluster_broker_config(b->zkc, k->name, &dyn_default) : NULL;
        if (dyn && res->ResourceName.len <= 0 && !dyn_default) {
            dyn = NULL; /* only our own: look for a default one */
            for (int d = 0; d < b->zkc->nbcfg[1]; d++)
                if (strcmp(b->zkc->bcfg_keys[1][d], k->name) == 0) {
                    dyn = b->zkc->bcfg_vals[1][d];
                    dyn_default = true;
                }
        }
        if (dyn) {
            v = dyn;
            set = true;
            src = dyn_default ? BK_CFGSRC_DYNAMIC_DEFAULT_BROKER : BK_CFGSRC_DYNAMIC_BROKER;
        }
        bk_DescribeConfigsResponse_DescribeConfigsResourceResult *c =
            &out->Configs.a[out->Configs.n++];
        bk_codec_init(&bk_desc_DescribeConfigsResponse_DescribeConfigsResourceResult, c);
        c->Name = bk_str_c(k->name);
        c->Value = v ? arena_str(req, v) : (bk_str){NULL, -1};
        c->ReadOnly = !(b->zkc && strstr(k->name, "replication.throttled.rate"));
        if (ver == 0)
            c->IsDefault = !set;
        c->ConfigSource = (int8_t)src;
        c->IsSensitive = bk_config_key_sensitive(k->name);
        if (c->IsSensitive)
            c->Value = (bk_str){NULL, -1}; /* Kafka: passwords and keys are never shown */
        c->ConfigType = (int8_t)config_type_of(k->type);
        c->Documentation = docs ? bk_str_c(k->doc) : (bk_str){NULL, -1};
        c->Synonyms.n = 0;
        if (ver >= 1 && synonyms) {
            c->Synonyms.a = BK_ARENA_NEW(req, bk_DescribeConfigsResponse_DescribeConfigsSynonym, 1);
            if (!c->Synonyms.a)
                return BK_ENOMEM;
            c->Synonyms.a[0] = (bk_DescribeConfigsResponse_DescribeConfigsSynonym){
                c->Name, c->Value, (int8_t)src};
            c->Synonyms.n = 1;
        }
    }
    return 0;
}

int bk_h_describe_configs(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_DescribeConfigsRequest rq;
    int rc = bk_DescribeConfigsRequest_decode(&req->body, ver, req->arena, &rq);
    if (rc)
        return rc;
    bk_DescribeConfigsResponse rs;
    bk_DescribeConfigsResponse_init(&rs);
    int32_t n = BK_MAX(rq.Resources.n, 0);
    rs.Results.n = n;
    rs.Results.a =
        n ? BK_ARENA_NEW(req, bk_DescribeConfigsResponse_DescribeConfigsResult, n) : NULL;
    if (n && !rs.Results.a)
        return BK_ENOMEM;
    bool synonyms = ver >= 1 && rq.IncludeSynonyms;
    bool docs = ver >= 3 && rq.IncludeDocumentation;
    for (int32_t i = 0; i < n; i++) {
        const bk_DescribeConfigsRequest_DescribeConfigsResource *res = &rq.Resources.a[i];
        bk_DescribeConfigsResponse_DescribeConfigsResult *out = &rs.Results.a[i];
        bk_codec_init(&bk_desc_DescribeConfigsResponse_DescribeConfigsResult, out);
        out->ResourceType = res->ResourceType;
        out->ResourceName = res->ResourceName;
        out->ErrorMessage = (bk_str){NULL, -1};
        out->Configs.n = 0;
        if ((out->ErrorCode = cfg_auth(b, req, res->ResourceType, res->ResourceName,
                                       BK_OP_DESCRIBE_CONFIGS)) != 0)
            continue;
        if (res->ResourceType == RES_TOPIC)
            rc = describe_topic(req, BK_TOPICS(b), ver, synonyms, docs, res, out);
        else if (res->ResourceType == RES_BROKER)
            rc = describe_broker(b, req, ver, synonyms, docs, res, out);
        else {
            out->ErrorCode = BK_KERR_INVALID_REQUEST;
            out->ErrorMessage = bk_str_c(res->ResourceType == RES_BROKER_LOGGER
                                             ? "Broker loggers are not supported by Brook."
                                             : "Unsupported resource type.");
        }
        if (rc)
            return rc;
    }
    return BK_RESPOND(req, DescribeConfigsResponse, ver, &rs);
}

/* --------------------------------------- AlterConfigs / Incremental... */

/* One resource of either request: check the type and name, alter a topic. */
static int16_t alter_one(bk_broker *b, bk_req *req, int8_t type, bk_str name, const bk_kv *kv,
                         int nkv, bool replace, bool validate_only, bk_str *emsg)
{
    char msg[512] = "";
    int16_t kerr = 0;
    if (type == RES_TOPIC) {
        bk_topic *tp =
            name.len > 0 ? bk_topics_get(BK_TOPICS(b), name.p, (size_t)name.len) : NULL;
        if (!tp) {
            kerr = BK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            snprintf(msg, sizeof msg, "The topic '%.*s' does not exist.",
                     (int)BK_MAX(name.len, 0), name.p);
        } else {
            bk_topics_alter_config(BK_TOPICS(b), tp, kv, nkv, replace, validate_only, &kerr, msg,
                                   sizeof msg);
        }
    } else if (type == RES_BROKER && b->zkc) {
        /* cluster mode: the replication throttle rates are dynamic
         * (/config/brokers/<id>, or <default> for the empty name) */
        char id[16];
        snprintf(id, sizeof id, "%" PRId32, b->node_id);
        if (name.len > 0 && !bk_str_eq(name, id)) {
            kerr = BK_KERR_INVALID_REQUEST;
            snprintf(msg, sizeof msg, "Unexpected broker id: alter broker %.*s through itself.",
                     (int)BK_MAX(name.len, 0), name.p);
        } else {
            kerr = bk_cluster_alter_broker_config(b->zkc, name.len <= 0, kv, nkv, replace,
                                                  validate_only, msg, sizeof msg);
        }
    } else if (type == RES_BROKER) {
        kerr = BK_KERR_INVALID_REQUEST;
        snprintf(msg, sizeof msg,
                 "Cannot update these configs dynamically: Brook has no dynamic broker "
                 "configuration yet; set them in server.properties.");
    } else {
        kerr = BK_KERR_INVALID_REQUEST;
        snprintf(msg, sizeof msg, "Unsupported resource type %d.", type);
    }
    *emsg = kerr ? arena_str(req, msg) : (bk_str){NULL, -1};
    return kerr;
}

int bk_h_alter_configs(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_AlterConfigsRequest rq;
    int rc = bk_AlterConfigsRequest_decode(&req->body, ver, req->arena, &rq);
    if (rc)
        return rc;
    bk_AlterConfigsResponse rs;
    bk_AlterConfigsResponse_init(&rs);
    int32_t n = BK_MAX(rq.Resources.n, 0);
    rs.Responses.n = n;
    rs.Responses.a =
        n ? BK_ARENA_NEW(req, bk_AlterConfigsResponse_AlterConfigsResourceResponse, n) : NULL;
    if (n && !rs.Responses.a)
        return BK_ENOMEM;
    for (int32_t i = 0; i < n; i++) {
        const bk_AlterConfigsRequest_AlterConfigsResource *res = &rq.Resources.a[i];
        int nkv = BK_MAX(res->Configs.n, 0);
        bk_kv *kv = nkv ? bk_arena_alloc(req->arena, sizeof *kv * (size_t)nkv) : NULL;
        if (nkv && !kv)
            return BK_ENOMEM;
        for (int k = 0; k < nkv; k++) {
            kv[k].key = cstr(req, res->Configs.a[k].Name);
            /* AlterConfigs sets every listed key; a null value is invalid */
            kv[k].val = res->Configs.a[k].Value.len < 0 ? NULL : cstr(req, res->Configs.a[k].Value);
        }
        bk_AlterConfigsResponse_AlterConfigsResourceResponse *r = &rs.Responses.a[i];
        r->ResourceType = res->ResourceType;
        r->ResourceName = res->ResourceName;
        bool has_null = false;
        for (int k = 0; k < nkv; k++)
            has_null |= kv[k].val == NULL;
        if (has_null) {
            r->ErrorCode = BK_KERR_INVALID_REQUEST;
            r->ErrorMessage = bk_str_c("Null value not supported in AlterConfigs.");
            continue;
        }
        if ((r->ErrorCode = cfg_auth(b, req, res->ResourceType, res->ResourceName,
                                     BK_OP_ALTER_CONFIGS)) != 0)
            continue;
        r->ErrorCode = alter_one(b, req, res->ResourceType, res->ResourceName, kv, nkv, true,
                                 rq.ValidateOnly, &r->ErrorMessage);
    }
    return BK_RESPOND(req, AlterConfigsResponse, ver, &rs);
}

/* OpType of IncrementalAlterConfigs */
#define OP_SET      0
#define OP_DELETE   1
#define OP_APPEND   2
#define OP_SUBTRACT 3

/* APPEND/SUBTRACT on a list config: the new list as text, from the
 * effective value. */
static char *list_op(bk_req *req, bk_topics *reg, const bk_topic *tp, const char *key, int op,
                     const char *arg)
{
    char cur[256] = "";
    for (int i = 0; i < bk_topic_cfg_count(); i++) {
        bk_topic_cfg_entry e;
        bk_topic_cfg_describe(reg, tp, i, &e);
        if (!strcmp(e.name, key)) {
            if (e.type != BK_CFGTYPE_LIST)
                return NULL;
            snprintf(cur, sizeof cur, "%s", e.value);
        }
    }
    char out[512] = "";
    size_t o = 0;
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s", cur);
    for (char *sp, *t = strtok_r(tmp, ",", &sp); t; t = strtok_r(NULL, ",", &sp)) {
        if (op == OP_SUBTRACT && !strcmp(t, arg))
            continue;
        o += (size_t)snprintf(out + o, sizeof out - o, "%s%s", o ? "," : "", t);
    }
    if (op == OP_APPEND && !strstr(cur, arg))
        o += (size_t)snprintf(out + o, sizeof out - o, "%s%s", o ? "," : "", arg);
    return arena_strdup(req, out, strlen(out));
}

int bk_h_incremental_alter_configs(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_IncrementalAlterConfigsRequest rq;
    int rc = bk_IncrementalAlterConfigsRequest_decode(&req->body, ver, req->arena, &rq);
    if (rc)
        return rc;
    bk_IncrementalAlterConfigsResponse rs;
    bk_IncrementalAlterConfigsResponse_init(&rs);
    int32_t n = BK_MAX(rq.Resources.n, 0);
    rs.Responses.n = n;
    rs.Responses.a =
        n ? BK_ARENA_NEW(req, bk_IncrementalAlterConfigsResponse_AlterConfigsResourceResponse, n)
          : NULL;
    if (n && !rs.Responses.a)
        return BK_ENOMEM;
    for (int32_t i = 0; i < n; i++) {
        const bk_IncrementalAlterConfigsRequest_AlterConfigsResource *res = &rq.Resources.a[i];
        bk_IncrementalAlterConfigsResponse_AlterConfigsResourceResponse *r = &rs.Responses.a[i];
        r->ResourceType = res->ResourceType;
        r->ResourceName = res->ResourceName;
        int nkv = BK_MAX(res->Configs.n, 0);
        bk_kv *kv = nkv ? bk_arena_alloc(req->arena, sizeof *kv * (size_t)nkv) : NULL;
        if (nkv && !kv)
            return BK_ENOMEM;
        bk_topic *tp = res->ResourceType == RES_TOPIC && res->ResourceName.len > 0
                           ? bk_topics_get(BK_TOPICS(b), res->ResourceName.p,
                                           (size_t)res->ResourceName.len)
                           : NULL;
        const char *bad = NULL;
        for (int k = 0; k < nkv && !bad; k++) {
            const bk_IncrementalAlterConfigsRequest_AlterableConfig *c = &res->Configs.a[k];
            kv[k].key = cstr(req, c->Name);
            char *val = c->Value.len < 0 ? NULL : cstr(req, c->Value);
            switch (c->ConfigOperation) {
            case OP_SET:
                kv[k].val = val;
                if (!val)
                    bad = "Null value not supported for SET.";
                break;
            case OP_DELETE: kv[k].val = NULL; break;
            case OP_APPEND:
            case OP_SUBTRACT:
                kv[k].val = tp && val ? list_op(req, BK_TOPICS(b), tp, kv[k].key,
                                                c->ConfigOperation, val)
                                      : NULL;
                if (tp && !kv[k].val)
                    bad = "APPEND and SUBTRACT apply to list configs only.";
                break;
            default: bad = "Unknown config operation.";
            }
        }
        if (bad) {
            r->ErrorCode = BK_KERR_INVALID_REQUEST;
            r->ErrorMessage = bk_str_c(bad);
            continue;
        }
        if ((r->ErrorCode = cfg_auth(b, req, res->ResourceType, res->ResourceName,
                                     BK_OP_ALTER_CONFIGS)) != 0)
            continue;
        r->ErrorCode = alter_one(b, req, res->ResourceType, res->ResourceName, kv, nkv, false,
                                 rq.ValidateOnly, &r->ErrorMessage);
    }
    return BK_RESPOND(req, IncrementalAlterConfigsResponse, ver, &rs);
}

/* ------------------------------------------------------- DescribeCluster */

int bk_h_describe_cluster(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_DescribeClusterRequest rq;
    int rc = bk_DescribeClusterRequest_decode(&req->body, ver, req->arena, &rq);
    if (rc)
        return rc;
    bk_DescribeClusterResponse rs;
    bk_DescribeClusterResponse_init(&rs);
    rs.ClusterId = bk_str_c(b->cluster_id);
    rs.ControllerId = b->zkc ? bk_cluster_controller_id(b->zkc) : b->node_id;
    if (ver >= 1 && rq.EndpointType != 1) {
        /* only broker endpoints (1) are served by a broker */
        rs.ErrorCode = BK_KERR_MISMATCHED_ENDPOINT_TYPE;
        rs.ErrorMessage = bk_str_c("This is a broker; ask for broker endpoints.");
        rs.Brokers.n = 0;
        return BK_RESPOND(req, DescribeClusterResponse, ver, &rs);
    }
    bk_DescribeClusterResponse_DescribeClusterBroker *br =
        BK_ARENA_NEW(req, bk_DescribeClusterResponse_DescribeClusterBroker, 1);
    if (!br)
        return BK_ENOMEM;
    const char *host;
    int port;
    bk_broker_self_endpoint(b, req->conn, &host, &port);
    br->BrokerId = b->node_id;
    br->Host = bk_str_c(host);
    br->Port = port;
    br->Rack = bk_str_c(b->cfg->broker_rack);
    rs.Brokers.n = 1;
    rs.Brokers.a = br;
    if (b->cluster) {
        rs.ControllerId = b->controller_id;
        if (b->nlive > 0) {
            br = BK_ARENA_NEW(req, bk_DescribeClusterResponse_DescribeClusterBroker, b->nlive);
            if (!br)
                return BK_ENOMEM;
            for (int i = 0; i < b->nlive; i++) {
                br[i].BrokerId = b->live[i].id;
                br[i].Host = bk_str_c(
                    bk_broker_live_endpoint(&b->live[i], req->conn, req->arena, &br[i].Port));
                br[i].Rack = b->live[i].has_rack ? bk_str_c(b->live[i].rack) : (bk_str){NULL, -1};
            }
            rs.Brokers.n = b->nlive;
            rs.Brokers.a = br;
        }
    }
    if (rq.IncludeClusterAuthorizedOperations)
        rs.ClusterAuthorizedOperations = (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) |
                                         (1 << 11) | (1 << 12);
    return BK_RESPOND(req, DescribeClusterResponse, ver, &rs);
}

/* ------------------------------------------------------- DescribeLogDirs */

typedef struct dir_acc {
    bk_req *req;
    const bk_DescribeLogDirsRequest *rq;
    bk_logmgr *lm;
    const char *dir;
    bk_DescribeLogDirsResponse_DescribeLogDirsResult *out;
    int32_t cap_topics;
    int err;
} dir_acc;

static bool partition_wanted(const bk_DescribeLogDirsRequest *rq, const bk_plog *l)
{
    if (rq->Topics.n < 0)
        return true;
    for (int32_t i = 0; i < rq->Topics.n; i++) {
        const bk_DescribeLogDirsRequest_DescribableLogDirTopic *t = &rq->Topics.a[i];
        if (!bk_str_eq(t->Topic, l->topic))
            continue;
        for (int32_t k = 0; k < t->Partitions.n; k++)
            if (t->Partitions.a[k] == l->partition)
                return true;
    }
    return false;
}

static void add_partition(void *arg, bk_plog *l)
{
    dir_acc *a = arg;
    if (a->err || strcmp(bk_logmgr_dir_of(a->lm, l), a->dir) != 0 ||
        !partition_wanted(a->rq, l))
        return;
    bk_DescribeLogDirsResponse_DescribeLogDirsResult *out = a->out;
    bk_DescribeLogDirsResponse_DescribeLogDirsTopic *t = NULL;
    for (int32_t i = 0; i < out->Topics.n; i++)
        if (bk_str_eq(out->Topics.a[i].Name, l->topic))
            t = &out->Topics.a[i];
    if (!t) {
        if (out->Topics.n == a->cap_topics) {
            int32_t ncap = a->cap_topics ? a->cap_topics * 2 : 16;
            bk_DescribeLogDirsResponse_DescribeLogDirsTopic *nt =
                BK_ARENA_NEW(a->req, bk_DescribeLogDirsResponse_DescribeLogDirsTopic, ncap);
            if (!nt) {
                a->err = BK_ENOMEM;
                return;
            }
            if (out->Topics.n)
                memcpy(nt, out->Topics.a, sizeof *nt * (size_t)out->Topics.n);
            out->Topics.a = nt;
            a->cap_topics = ncap;
        }
        t = &out->Topics.a[out->Topics.n++];
        t->Name = arena_str(a->req, l->topic);
        t->Partitions.n = 0;
        t->Partitions.a = NULL;
    }
    /* grow the partition array (arena memory: copy on growth). Capacity is
     * implicit: 8, then doubling whenever the count reaches a power of two. */
    int32_t cnt = t->Partitions.n;
    if (cnt == 0 || (cnt >= 8 && (cnt & (cnt - 1)) == 0)) {
        int32_t ncap = cnt == 0 ? 8 : cnt * 2;
        bk_DescribeLogDirsResponse_DescribeLogDirsPartition *na =
            BK_ARENA_NEW(a->req, bk_DescribeLogDirsResponse_DescribeLogDirsPartition, ncap);
        if (!na) {
            a->err = BK_ENOMEM;
            return;
        }
        if (t->Partitions.n)
            memcpy(na, t->Partitions.a, sizeof *na * (size_t)t->Partitions.n);
        t->Partitions.a = na;
    }
    bk_DescribeLogDirsResponse_DescribeLogDirsPartition *p = &t->Partitions.a[t->Partitions.n++];
    p->PartitionIndex = l->partition;
    p->PartitionSize = (int64_t)bk_plog_size(l);
    p->OffsetLag = 0;
    p->IsFutureKey = false;
}

int bk_h_describe_log_dirs(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    bk_DescribeLogDirsRequest rq;
    int rc = bk_DescribeLogDirsRequest_decode(&req->body, ver, req->arena, &rq);
    if (rc)
        return rc;
    bk_DescribeLogDirsResponse rs;
    bk_DescribeLogDirsResponse_init(&rs);
    if (!bk_authz_cluster(b, req, BK_OP_DESCRIBE)) {
        /* Kafka: v3+ the top-level error, older an empty answer */
        rs.ErrorCode = BK_KERR_CLUSTER_AUTHORIZATION_FAILED;
        rs.Results.n = 0;
        return BK_RESPOND(req, DescribeLogDirsResponse, ver, &rs);
    }
    const bk_strlist *dirs = &b->cfg->log_dirs;
    rs.Results.n = dirs->n;
    rs.Results.a = BK_ARENA_NEW(req, bk_DescribeLogDirsResponse_DescribeLogDirsResult,
                                BK_MAX(dirs->n, 1));
    if (!rs.Results.a)
        return BK_ENOMEM;
    for (int d = 0; d < dirs->n; d++) {
        bk_DescribeLogDirsResponse_DescribeLogDirsResult *out = &rs.Results.a[d];
        bk_codec_init(&bk_desc_DescribeLogDirsResponse_DescribeLogDirsResult, out);
        out->LogDir = bk_str_c(dirs->v[d]);
        out->Topics.n = 0;
        struct statvfs sv;
        if (statvfs(dirs->v[d], &sv) == 0) {
            out->TotalBytes = (int64_t)sv.f_blocks * (int64_t)sv.f_frsize;
            out->UsableBytes = (int64_t)sv.f_bavail * (int64_t)sv.f_frsize;
        }
        dir_acc acc = {req, &rq, BK_LOGMGR(b), dirs->v[d], out, 0, 0};
        bk_logmgr_foreach(BK_LOGMGR(b), add_partition, &acc);
        if (acc.err)
            return acc.err;
    }
    return BK_RESPOND(req, DescribeLogDirsResponse, ver, &rs);
}
