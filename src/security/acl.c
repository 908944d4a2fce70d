/* acl.c - ACL bindings, filters and the authorization decision. See acl.h. */
#include "acl.h"

#include "../core/err.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char *const rtype_names[] = {"UNKNOWN", "ANY",   "TOPIC",           "GROUP",
                                          "CLUSTER", "TRANSACTIONAL_ID", "DELEGATION_TOKEN",
                                          "USER"};
static const char *const ptype_names[] = {"UNKNOWN", "ANY", "MATCH", "LITERAL", "PREFIXED"};
static const char *const op_names[] = {"UNKNOWN",          "ANY",           "ALL",
                                       "READ",             "WRITE",         "CREATE",
                                       "DELETE",           "ALTER",         "DESCRIBE",
                                       "CLUSTER_ACTION",   "DESCRIBE_CONFIGS", "ALTER_CONFIGS",
                                       "IDEMPOTENT_WRITE", "CREATE_TOKENS", "DESCRIBE_TOKENS"};
static const char *const perm_names[] = {"UNKNOWN", "ANY", "DENY", "ALLOW"};

#define NAME_OF(tab, i) ((i) >= 0 && (size_t)(i) < BK_ARRAY_LEN(tab) ? (tab)[i] : NULL)

const char *bk_acl_rtype_name(int t) { return NAME_OF(rtype_names, t); }
const char *bk_acl_ptype_name(int t) { return NAME_OF(ptype_names, t); }
const char *bk_acl_op_name(int t) { return NAME_OF(op_names, t); }
const char *bk_acl_perm_name(int t) { return NAME_OF(perm_names, t); }

/* "IdempotentWrite" == "IDEMPOTENT_WRITE" == "idempotent-write" */
static bool name_eq(const char *tabname, const char *s)
{
    for (;;) {
        while (*tabname == '_')
            tabname++;
        while (*s == '_' || *s == '-')
            s++;
        if (!*tabname || !*s)
            return !*tabname && !*s;
        if (toupper((unsigned char)*tabname) != toupper((unsigned char)*s))
            return false;
        tabname++, s++;
    }
}

static int parse_in(const char *const *tab, size_t n, const char *s)
{
    for (size_t i = 0; s && i < n; i++)
        if (name_eq(tab[i], s))
            return (int)i;
    return -1;
}

int bk_acl_op_parse(const char *s) { return parse_in(op_names, BK_ARRAY_LEN(op_names), s); }
int bk_acl_rtype_parse(const char *s)
{
    return parse_in(rtype_names, BK_ARRAY_LEN(rtype_names), s);
}

void bk_acls_init(bk_acls *s) { memset(s, 0, sizeof *s); }

static void acl_free(bk_acl *a)
{
    free(a->name);
    free(a->principal);
    free(a->host);
}

void bk_acls_fini(bk_acls *s)
{
    for (int i = 0; i < s->n; i++)
        acl_free(&s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

const char *bk_acl_invalid(const bk_acl *a)
{
    if (a->rtype != BK_RES_TOPIC && a->rtype != BK_RES_GROUP && a->rtype != BK_RES_CLUSTER &&
        a->rtype != BK_RES_TRANSACTIONAL_ID)
        return "unsupported resource type";
    if (a->ptype != BK_PAT_LITERAL && a->ptype != BK_PAT_PREFIXED)
        return "pattern type must be LITERAL or PREFIXED";
    if (!a->name || !a->name[0])
        return "empty resource name";
    /* bounded so every binding fits the stores (a line, a znode name) */
    if (strlen(a->name) > 1000 || (a->principal && strlen(a->principal) > 1000) ||
        (a->host && strlen(a->host) > 255))
        return "resource name, principal or host too long";
    if (a->rtype == BK_RES_CLUSTER && strcmp(a->name, BK_ACL_CLUSTER_NAME) != 0)
        return "the only valid name for the CLUSTER resource is kafka-cluster";
    if (a->op <= BK_OP_ANY || a->op > BK_OP_IDEMPOTENT_WRITE)
        return "invalid operation";
    if (a->perm != BK_PERM_ALLOW && a->perm != BK_PERM_DENY)
        return "invalid permission type";
    const char *colon = a->principal ? strchr(a->principal, ':') : NULL;
    if (!colon || colon == a->principal || !colon[1])
        return "principal must be <type>:<name>";
    if (!a->host || !a->host[0])
        return "empty host";
    return NULL;
}

static bool acl_eq(const bk_acl *x, const bk_acl *y)
{
    return x->rtype == y->rtype && x->ptype == y->ptype && x->op == y->op &&
           x->perm == y->perm && strcmp(x->name, y->name) == 0 &&
           strcmp(x->principal, y->principal) == 0 && strcmp(x->host, y->host) == 0;
}

int bk_acls_add(bk_acls *s, const bk_acl *a)
{
    for (int i = 0; i < s->n; i++)
        if (acl_eq(&s->v[i], a))
            return 0;
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 16;
        bk_acl *v = realloc(s->v, sizeof *v * (size_t)cap);
        if (!v)
            return BK_ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    bk_acl c = *a;
    c.name = strdup(a->name);
    c.principal = strdup(a->principal);
    c.host = strdup(a->host);
    if (!c.name || !c.principal || !c.host) {
        acl_free(&c);
        return BK_ENOMEM;
    }
    s->v[s->n++] = c;
    return 0;
}

/* Does binding a apply to the resource (rtype, name)? */
static bool applies(const bk_acl *a, int rtype, const char *name, size_t namelen)
{
    if (a->rtype != rtype)
        return false;
    size_t alen = strlen(a->name);
    if (a->ptype == BK_PAT_LITERAL)
        return strcmp(a->name, BK_ACL_WILDCARD) == 0 ||
               (alen == namelen && memcmp(a->name, name, namelen) == 0);
    if (a->ptype == BK_PAT_PREFIXED)
        return alen <= namelen && memcmp(a->name, name, alen) == 0;
    return false;
}

bool bk_acl_filter_matches(const bk_acl_filter *f, const bk_acl *a)
{
    if (f->rtype != BK_RES_ANY && f->rtype != a->rtype)
        return false;
    if (f->op != BK_OP_ANY && f->op != a->op)
        return false;
    if (f->perm != BK_PERM_ANY && f->perm != a->perm)
        return false;
    if (f->principal && strcmp(f->principal, a->principal) != 0)
        return false;
    if (f->host && strcmp(f->host, a->host) != 0)
        return false;
    switch (f->ptype) {
    case BK_PAT_ANY:
        return !f->name || strcmp(f->name, a->name) == 0;
    case BK_PAT_MATCH:
        return !f->name || applies(a, a->rtype, f->name, strlen(f->name));
    case BK_PAT_LITERAL:
    case BK_PAT_PREFIXED:
        return f->ptype == a->ptype && (!f->name || strcmp(f->name, a->name) == 0);
    default:
        return false;
    }
}

int bk_acls_remove(bk_acls *s, const bk_acl_filter *f, void (*cb)(void *ud, const bk_acl *a),
                   void *ud)
{
    int removed = 0, j = 0;
    for (int i = 0; i < s->n; i++) {
        if (bk_acl_filter_matches(f, &s->v[i])) {
            if (cb)
                cb(ud, &s->v[i]);
            acl_free(&s->v[i]);
            removed++;
        } else {
            s->v[j++] = s->v[i];
        }
    }
    s->n = j;
    return removed;
}

static bool principal_matches(const bk_acl *a, const char *principal)
{
    return strcmp(a->principal, principal) == 0 || strcmp(a->principal, "User:*") == 0;
}

static bool host_matches(const bk_acl *a, const char *host)
{
    return strcmp(a->host, "*") == 0 || (host && strcmp(a->host, host) == 0);
}

/* Does an ALLOW of a->op grant op (implied operations)? */
static bool op_grants(int aop, int op)
{
    if (aop == BK_OP_ALL || aop == op)
        return true;
    if (op == BK_OP_DESCRIBE)
        return aop == BK_OP_READ || aop == BK_OP_WRITE || aop == BK_OP_DELETE ||
               aop == BK_OP_ALTER;
    if (op == BK_OP_DESCRIBE_CONFIGS)
        return aop == BK_OP_ALTER_CONFIGS;
    return false;
}

bool bk_acls_authorize(const bk_acls *s, const bk_authz_policy *pol, const char *principal,
                       const char *host, int op, int rtype, const char *name, size_t namelen)
{
    for (int i = 0; i < pol->nsuper; i++)
        if (strcmp(pol->super_users[i], principal) == 0)
            return true;
    bool any = false, allowed = false;
    for (int i = 0; i < s->n; i++) {
        const bk_acl *a = &s->v[i];
        if (!applies(a, rtype, name, namelen))
            continue;
        any = true;
        if (!principal_matches(a, principal) || !host_matches(a, host))
            continue;
        if (a->perm == BK_PERM_DENY && (a->op == BK_OP_ALL || a->op == op))
            return false;
        if (a->perm == BK_PERM_ALLOW && op_grants(a->op, op))
            allowed = true;
    }
    return any ? allowed : pol->allow_if_no_acl;
}

bool bk_acls_authorize_any(const bk_acls *s, const bk_authz_policy *pol, const char *principal,
                           const char *host, int op, int rtype)
{
    for (int i = 0; i < pol->nsuper; i++)
        if (strcmp(pol->super_users[i], principal) == 0)
            return true;
    bool any = false, allowed = false;
    for (int i = 0; i < s->n; i++) {
        const bk_acl *a = &s->v[i];
        if (a->rtype != rtype)
            continue;
        any = true;
        if (!principal_matches(a, principal) || !host_matches(a, host))
            continue;
        if (a->perm == BK_PERM_DENY && (a->op == BK_OP_ALL || a->op == op) &&
            a->ptype == BK_PAT_LITERAL && strcmp(a->name, BK_ACL_WILDCARD) == 0)
            return false;
        if (a->perm == BK_PERM_ALLOW && op_grants(a->op, op))
            allowed = true;
    }
    return any ? allowed : pol->allow_if_no_acl;
}

/* ------------------------------------------------------------ file store */

static void put_enc(FILE *f, const char *s)
{
    fputc(' ', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= ' ' || c == '%' || c >= 0x7f)
            fprintf(f, "%%%02X", c);
        else
            fputc(c, f);
    }
}

static char *dec(const char *s)
{
    size_t n = strlen(s);
    char *o = malloc(n + 1), *p = o;
    if (!o)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (s[i] == '%' && i + 2 < n + 1 && sscanf(s + i + 1, "%2x", &v) == 1) {
            *p++ = (char)v;
            i += 2;
        } else {
            *p++ = s[i];
        }
    }
    *p = 0;
    return o;
}

int bk_acls_load_file(bk_acls *s, const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/brook-acls", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 0 : BK_EIO;
    char line[8192];
    int rc = 0, lineno = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        char w[8][4096];
        int rt, pt, op, pm;
        if (lineno == 1) {
            if (strncmp(line, "brook-acls 1", 12) != 0)
                rc = BK_ECORRUPT;
            continue;
        }
        if (sscanf(line, "%4095s %d %d %4095s %4095s %4095s %d %d", w[0], &rt, &pt, w[1], w[2],
                   w[3], &op, &pm) != 8 ||
            strcmp(w[0], "acl") != 0) {
            rc = BK_ECORRUPT;
            break;
        }
        bk_acl a = {(int8_t)rt, (int8_t)pt, dec(w[1]), dec(w[2]), dec(w[3]), (int8_t)op,
                    (int8_t)pm};
        if (!a.name || !a.principal || !a.host)
            rc = BK_ENOMEM;
        else if (bk_acl_invalid(&a))
            rc = BK_ECORRUPT;
        else
            rc = bk_acls_add(s, &a);
        acl_free(&a);
    }
    fclose(f);
    return rc;
}

int bk_acls_save_file(const bk_acls *s, const char *dir)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/brook-acls", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return BK_EIO;
    fprintf(f, "brook-acls 1\n");
    for (int i = 0; i < s->n; i++) {
        const bk_acl *a = &s->v[i];
        fprintf(f, "acl %d %d", a->rtype, a->ptype);
        put_enc(f, a->name);
        put_enc(f, a->principal);
        put_enc(f, a->host);
        fprintf(f, " %d %d\n", a->op, a->perm);
    }
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        unlink(tmp);
        return BK_EIO;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}
