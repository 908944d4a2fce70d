/*
 * quota.h - client quotas (Kafka's ClientQuotaManager): the configured
 * values per entity and the rate sensors that turn usage into a throttle
 * time. Pure: no I/O but the optional file store.
 *
 * Entities are (user, client-id) pairs where each part is absent, a name
 * or the default (Kafka's <default>): /config/users/<u>, /config/clients/<c>,
 * /config/users/<u>/clients/<c> and the same with <default>. The value that
 * applies to a connection of user U with client id C is the first found in
 * Kafka's order:
 *   1 user=U,client=C   2 user=U,client=<default>   3 user=U
 *   4 user=<default>,client=C   5 user=<default>,client=<default>
 *   6 user=<default>   7 client=C   8 client=<default>
 * Keys: producer_byte_rate, consumer_byte_rate, request_percentage,
 * controller_mutation_rate (enforced in the broker, quotas.h),
 * connection_creation_rate (IP entities, enforced at accept).
 *
 * File store (single node): <dir>/brook-quotas, atomically rewritten:
 *   brook-quotas 1
 *   q <user|-|*> <client|-|*> <key> <value>     (- absent, * default, names %-encoded)
 *   i <ip|*> <key> <value>                      (an IP entity)
 *
 * Thread: any; callers serialise.
 */
#ifndef BK_QUOTA_H
#define BK_QUOTA_H

#include "../core/kb.h"

#include <stddef.h>
#include <stdint.h>

/* IP entities (KIP-612, /config/ips/<ip>, only connection_creation_rate)
 * are kept in the same list with ukind BK_QPART_IP (user = the address)
 * or BK_QPART_IP_DEFAULT, and ckind NONE; bk_quotas_resolve never sees
 * them. */
enum {
    BK_QPART_NONE = 0,
    BK_QPART_NAME = 1,
    BK_QPART_DEFAULT = 2,
    BK_QPART_IP = 3,
    BK_QPART_IP_DEFAULT = 4
};

typedef struct bk_quota_val {
    int ukind, ckind; /* BK_QPART_* */
    char *user;       /* owned when ukind == NAME */
    char *client;     /* owned when ckind == NAME */
    char *key;        /* owned */
    double value;
} bk_quota_val;

typedef struct bk_quotas {
    bk_quota_val *v; /* owned */
    int n, cap;
} bk_quotas;

void bk_quotas_init(bk_quotas *q);
void bk_quotas_fini(bk_quotas *q);
/* Is key one of Kafka's client quota keys? */
bool bk_quota_key_valid(const char *key);
/* Set (remove=false) or remove a value. 0 or BK_ENOMEM. */
int bk_quotas_set(bk_quotas *q, int ukind, const char *user, int ckind, const char *client,
                  const char *key, double value, bool remove);
/* The value for user/client (client may be ""), or -1 when none applies. */
double bk_quotas_resolve(const bk_quotas *q, const char *user, const char *client,
                         const char *key);

/* connection_creation_rate of an IP: its own value, else the default IP
 * entity's; -1 when none. */
double bk_quotas_resolve_ip(const bk_quotas *q, const char *ip);

int bk_quotas_load_file(bk_quotas *q, const char *dir);
int bk_quotas_save_file(const bk_quotas *q, const char *dir);

/* A byte-rate sensor (token bucket with one second of burst): record what
 * was used, get how long the client must wait to be back at the rate. */
typedef struct bk_rate {
    double credit; /* bytes that may still go now (negative: debt) */
    int64_t last_ms;
    bool started;
} bk_rate;

/* Record bytes at now_ms under quota rate (bytes/s); returns the throttle
 * time in ms (0 when within the quota). */
int32_t bk_rate_record(bk_rate *r, double rate, uint64_t bytes, int64_t now_ms);

#endif
