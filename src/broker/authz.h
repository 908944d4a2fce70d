/*
 * authz.h - the broker's authorizer (Kafka's Authorizer plug-in point):
 * enabled by authorizer.class.name, it holds the ACL bindings (acl.h),
 * super.users and allow.everyone.if.no.acl.found, and every handler asks
 * it before touching a resource (the checks of Kafka's KafkaApis; see the
 * table in docs/security.md).
 *
 * Where the bindings live: single node, <first log dir>/brook-acls
 * (acl.h's file store, rewritten on each change); cluster mode, ZooKeeper
 * as Kafka keeps them (zkacl.h): every broker caches them and follows the
 * change notifications.
 *
 * Thread: loop thread.
 */
#ifndef BK_AUTHZ_H
#define BK_AUTHZ_H

#include "../security/acl.h"
#include "broker.h"

typedef struct bk_authz {
    bk_acls acls;           /* the cache every decision reads */
    char **supers;          /* owned: super.users */
    bk_authz_policy pol;    /* points into supers */
    char *dir;              /* owned: file store directory; NULL in cluster mode */
    struct bk_zkacl *zk;    /* cluster mode store (zkacl.h), or NULL */
    bool ready;             /* the bindings are loaded; before, only super users pass */
} bk_authz;

/* Create b->authz when authorizer.class.name is set (loads the file
 * store on a single node). 0, or an error (the broker must not start
 * with an authorizer it could not load: it would let the wrong requests
 * through or refuse everything). */
int bk_authz_open(bk_broker *b);
void bk_authz_close(bk_broker *b);
/* Cluster mode, once b->zkc is set: load the ACLs from ZooKeeper and
 * follow their changes (zkacl.h). 0 or an error. */
int bk_authz_attach_zk(bk_broker *b);
/* Periodic (broker tick). */
void bk_authz_tick(bk_broker *b);

/* May the request's principal do op on the resource? Always true with no
 * authorizer. */
bool bk_authorized(bk_broker *b, const bk_req *req, int op, int rtype, const char *name,
                   size_t namelen);

/* May it do op on some resource of rtype (Kafka's authorizeByResourceType)? */
bool bk_authz_any(bk_broker *b, const bk_req *req, int op, int rtype);

static inline bool bk_authz_topic(bk_broker *b, const bk_req *req, int op, bk_str topic)
{
    return bk_authorized(b, req, op, BK_RES_TOPIC, topic.p ? topic.p : "",
                         topic.len > 0 ? (size_t)topic.len : 0);
}
static inline bool bk_authz_group(bk_broker *b, const bk_req *req, int op, bk_str group)
{
    return bk_authorized(b, req, op, BK_RES_GROUP, group.p ? group.p : "",
                         group.len > 0 ? (size_t)group.len : 0);
}
static inline bool bk_authz_cluster(bk_broker *b, const bk_req *req, int op)
{
    return bk_authorized(b, req, op, BK_RES_CLUSTER, BK_ACL_CLUSTER_NAME,
                         sizeof BK_ACL_CLUSTER_NAME - 1);
}

/* The bindings changed (cluster mode: a notification was read). */
void bk_authz_replace(bk_broker *b, bk_acls *fresh);

#endif
