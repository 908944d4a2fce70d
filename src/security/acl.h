/*
 * acl.h - Kafka's ACL model and the authorization decision (Kafka's
 * AclAuthorizer / StandardAuthorizer semantics), as a pure module: no I/O
 * but the optional file store at the end.
 *
 * A binding is (resource type, pattern type, resource name) x (principal,
 * host, operation, permission). The numeric codes are Kafka's wire codes
 * (ResourceType, PatternType, AclOperation, AclPermissionType), so the
 * CreateAcls/DescribeAcls/DeleteAcls handlers store what they decode.
 *
 * Decision for (principal, host, operation, resource type, name):
 *   1. super users (super.users) are allowed everything;
 *   2. the ACLs that apply to the resource: LITERAL with the same name,
 *      LITERAL "*" (wildcard), PREFIXED whose name is a prefix of it;
 *   3. none at all (for any principal): allow.everyone.if.no.acl.found;
 *   4. a DENY whose principal matches (exact or "User:*"), whose host
 *      matches ("*" or the peer's address) and whose operation is the
 *      requested one or ALL denies - DENY wins;
 *   5. an ALLOW that matches the same way allows, where DESCRIBE is also
 *      granted by READ, WRITE, DELETE and ALTER, and DESCRIBE_CONFIGS by
 *      ALTER_CONFIGS (Kafka's implied operations);
 *   6. otherwise denied.
 *
 * Filters (DescribeAcls, DeleteAcls): ANY matches every value of a field, a
 * null string matches every string; pattern type MATCH matches the
 * bindings that would apply to the named resource (literal same name,
 * literal "*", prefixed prefixes), ANY every pattern type with that exact
 * name.
 *
 * File store (single-node mode): <dir>/brook-acls, rewritten atomically
 * (temp file, fsync, rename) on every change, one binding per line with
 * percent-encoded strings:
 *   brook-acls 1
 *   acl <rtype> <ptype> <name> <principal> <host> <op> <perm>
 *
 * Thread: any, no shared state (the caller serialises access).
 */
#ifndef BK_ACL_H
#define BK_ACL_H

#include "../core/kb.h"

#include <stddef.h>
#include <stdint.h>

/* Kafka's ResourceType codes. */
enum {
    BK_RES_UNKNOWN = 0,
    BK_RES_ANY = 1,
    BK_RES_TOPIC = 2,
    BK_RES_GROUP = 3,
    BK_RES_CLUSTER = 4,
    BK_RES_TRANSACTIONAL_ID = 5,
    BK_RES_DELEGATION_TOKEN = 6,
    BK_RES_USER = 7,
};
/* PatternType. */
enum {
    BK_PAT_UNKNOWN = 0,
    BK_PAT_ANY = 1,
    BK_PAT_MATCH = 2,
    BK_PAT_LITERAL = 3,
    BK_PAT_PREFIXED = 4,
};
/* AclOperation. */
enum {
    BK_OP_UNKNOWN = 0,
    BK_OP_ANY = 1,
    BK_OP_ALL = 2,
    BK_OP_READ = 3,
    BK_OP_WRITE = 4,
    BK_OP_CREATE = 5,
    BK_OP_DELETE = 6,
    BK_OP_ALTER = 7,
    BK_OP_DESCRIBE = 8,
    BK_OP_CLUSTER_ACTION = 9,
    BK_OP_DESCRIBE_CONFIGS = 10,
    BK_OP_ALTER_CONFIGS = 11,
    BK_OP_IDEMPOTENT_WRITE = 12,
    BK_OP_MAX = 14,
};
/* AclPermissionType. */
enum { BK_PERM_UNKNOWN = 0, BK_PERM_ANY = 1, BK_PERM_DENY = 2, BK_PERM_ALLOW = 3 };

#define BK_ACL_CLUSTER_NAME "kafka-cluster"
#define BK_ACL_WILDCARD "*"

typedef struct bk_acl {
    int8_t rtype, ptype;
    char *name;      /* owned */
    char *principal; /* owned: "User:alice", "User:*" */
    char *host;      /* owned: "*" or an address */
    int8_t op, perm;
} bk_acl;

/* A filter: NULL strings match anything; ANY codes match anything. */
typedef struct bk_acl_filter {
    int8_t rtype, ptype;
    const char *name;
    const char *principal;
    const char *host;
    int8_t op, perm;
} bk_acl_filter;

typedef struct bk_acls {
    bk_acl *v; /* owned */
    int n, cap;
} bk_acls;

void bk_acls_init(bk_acls *s);
void bk_acls_fini(bk_acls *s);
/* NULL for an unknown code. Kafka's names: "TOPIC", "READ", "ALLOW", "LITERAL". */
const char *bk_acl_rtype_name(int rtype);
const char *bk_acl_ptype_name(int ptype);
const char *bk_acl_op_name(int op);
const char *bk_acl_perm_name(int perm);
/* Case-insensitive, '_' optional ("Read", "IdempotentWrite"); -1 unknown. */
int bk_acl_op_parse(const char *s);
int bk_acl_rtype_parse(const char *s);

/* Is a binding acceptable for CreateAcls? NULL, or a static reason. */
const char *bk_acl_invalid(const bk_acl *a);
/* Add a copy (strings copied). An identical binding is not added twice.
 * 0 or BK_ENOMEM. */
int bk_acls_add(bk_acls *s, const bk_acl *a);
bool bk_acl_filter_matches(const bk_acl_filter *f, const bk_acl *a);
/* Remove every binding the filter matches; each is passed to cb (which
 * must copy what it keeps) before it is freed. Returns how many. */
int bk_acls_remove(bk_acls *s, const bk_acl_filter *f, void (*cb)(void *ud, const bk_acl *a),
                   void *ud);

/* The decision inputs that do not change per request. */
typedef struct bk_authz_policy {
    const char *const *super_users; /* principals */
    int nsuper;
    bool allow_if_no_acl;
} bk_authz_policy;

/* The decision above. host: the peer's address without port. */
bool bk_acls_authorize(const bk_acls *s, const bk_authz_policy *pol, const char *principal,
                       const char *host, int op, int rtype, const char *name, size_t namelen);

/* Kafka's authorizeByResourceType (InitProducerId of an idempotent
 * producer: WRITE on any topic): is op allowed on SOME resource of rtype?
 * Super users yes; a matching DENY on literal "*" no; a matching ALLOW on
 * any resource of the type yes; no binding of the type at all:
 * allow.everyone.if.no.acl.found. */
bool bk_acls_authorize_any(const bk_acls *s, const bk_authz_policy *pol, const char *principal,
                           const char *host, int op, int rtype);

/* File store: load <dir>/brook-acls (missing = empty) / save it. */
int bk_acls_load_file(bk_acls *s, const char *dir);
int bk_acls_save_file(const bk_acls *s, const char *dir);

#endif
