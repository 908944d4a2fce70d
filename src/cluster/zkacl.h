/*
 * zkacl.h - ACLs in ZooKeeper, where Kafka's ZooKeeper mode keeps them
 * (kafka.zk.ZkData / ZkAclStore), so every broker of a cluster authorizes
 * with the same bindings:
 *
 *   /kafka-acl/<Type>/<name>                   LITERAL bindings of a resource
 *   /kafka-acl-extended/prefixed/<Type>/<name> PREFIXED bindings
 *       {"version":1,"acls":[{"principal":"User:alice","permissionType":"Allow",
 *                             "operation":"Read","host":"*"}]}
 *   /kafka-acl-changes/acl_changes_<seq>       "Topic:t" after a literal change
 *   /kafka-acl-extended-changes/acl_changes_<seq>
 *       {"version":1,"resourceType":"Topic","name":"app-","patternType":"PREFIXED"}
 *
 * <Type> is Topic, Group, Cluster or TransactionalId. A resource without
 * bindings has no znode.
 *
 * Every broker watches both change paths; a new notification (from any
 * broker) makes it read all ACL znodes again and replace its cache
 * (authz.h bk_authz_replace) when the whole read completed. The broker
 * that changed a resource updates its own cache at once, writes the
 * resource's znode (the full binding list of that resource from its
 * cache, so two brokers changing the same resource at the same moment may
 * lose one change: the last writer wins) and the notification, and only
 * then answers CreateAcls/DeleteAcls (UNKNOWN_SERVER_ERROR when ZooKeeper
 * refused). Watches lost
 * with a ZooKeeper session are re-armed by bk_zkacl_tick().
 *
 * Thread: loop thread.
 */
#ifndef BK_ZKACL_H
#define BK_ZKACL_H

#include "../security/acl.h"
#include "zk.h"
#include "zkjson.h"

typedef struct bk_zkacl bk_zkacl;

/* Called with freshly read bindings (ownership passes: take them or fini). */
typedef void bk_zkacl_loaded_fn(void *ud, bk_acls *fresh);

/* Create the paths (blocking, start-up), arm the watches, start the first
 * read. NULL when out of memory or ZooKeeper failed. */
bk_zkacl *bk_zkacl_open(bk_zk *zk, bk_zkacl_loaded_fn *loaded, void *ud);
void bk_zkacl_free(bk_zkacl *z);
/* The bindings of resource (rtype, ptype, name) in `all` are now what the
 * cluster must have: write the znode and a change notification, then
 * done(ud, ok) (may be NULL; it may run before this returns when
 * ZooKeeper refuses at once). 0, or an error (done will not run). */
typedef void bk_zkacl_done_fn(void *ud, bool ok);
int bk_zkacl_write(bk_zkacl *z, const bk_acls *all, int rtype, int ptype, const char *name,
                   bk_zkacl_done_fn *done, void *ud);
/* Periodic: re-arm the watches and re-read after a lost session. */
void bk_zkacl_tick(bk_zkacl *z);

/* Pure helpers (unit tested). The znode JSON of one resource's bindings in
 * all; returns how many there are. */
int bk_zkacl_encode(const bk_acls *all, int rtype, int ptype, const char *name, bk_jw *w);
/* Add the bindings of one resource's znode JSON to out. 0 or BK_ECORRUPT. */
int bk_zkacl_decode(const char *json, size_t len, int rtype, int ptype, const char *name,
                    bk_acls *out);
/* "Topic", "Group", "Cluster", "TransactionalId"; NULL for others. */
const char *bk_zkacl_type_name(int rtype);

#endif
