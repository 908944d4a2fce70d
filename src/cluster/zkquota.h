/*
 * zkquota.h - client quotas in ZooKeeper, where Kafka's ZooKeeper mode
 * keeps them (kafka.zk.ConfigEntityZNode):
 *
 *   /config/users/<user>                    {"version":1,"config":{"producer_byte_rate":"1024.0"}}
 *   /config/users/<user>/clients/<client>
 *   /config/clients/<client>
 *   /config/changes/config_change_<seq>     {"version":2,"entity_path":"users/alice"}
 *
 * with <default> as the name of a default entity. A user znode may hold
 * other configs too (SCRAM credentials): a write keeps every key that is
 * not a quota key. Every broker watches /config/changes and reads all
 * quota znodes again on a change (as zkacl.h does for ACLs); the broker
 * that changed a quota updates its cache at once. Names holding '/' are
 * not stored.
 *
 * Thread: loop thread.
 */
#ifndef BK_ZKQUOTA_H
#define BK_ZKQUOTA_H

#include "../security/quota.h"
#include "zk.h"

typedef struct bk_zkquota bk_zkquota;
typedef void bk_zkquota_loaded_fn(void *ud, bk_quotas *fresh);

bk_zkquota *bk_zkquota_open(bk_zk *zk, bk_zkquota_loaded_fn *loaded, void *ud);
void bk_zkquota_free(bk_zkquota *z);
/* The quotas of one entity in `all` are what the cluster must have now. */
void bk_zkquota_write(bk_zkquota *z, const bk_quotas *all, int ukind, const char *user,
                      int ckind, const char *client);
void bk_zkquota_tick(bk_zkquota *z);

/* Pure (unit tested): the quota keys of a config znode into out for the
 * entity; 0 or BK_ECORRUPT. */
int bk_zkquota_decode(const char *json, size_t len, int ukind, const char *user, int ckind,
                      const char *client, bk_quotas *out);
/* The znode JSON: the non-quota keys of old (may be NULL) plus the
 * entity's quota values in all. *nkeys: how many keys it holds. Owned by
 * the caller (free). NULL when out of memory. */
char *bk_zkquota_encode(const char *old, size_t oldlen, const bk_quotas *all, int ukind,
                        const char *user, int ckind, const char *client, int *nkeys);

#endif
