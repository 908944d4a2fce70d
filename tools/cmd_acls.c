/*
 * cmd_acls.c - `brook acls`, kafka-acls.sh: add, remove and list ACLs.
 *
 *   brook acls --bootstrap-server H:P --add --allow-principal User:alice
 *              --operation Read --topic t [--group g] [--cluster]
 *              [--transactional-id x] [--resource-pattern-type prefixed]
 *   brook acls --bootstrap-server H:P --list [--topic t] [--principal User:a]
 *   brook acls --bootstrap-server H:P --remove ... --force
 *   --producer (WRITE, DESCRIBE, CREATE on the topics; WRITE, DESCRIBE on
 *   the transactional ids; IDEMPOTENT_WRITE on the cluster with
 *   --idempotent) and --consumer (READ, DESCRIBE on the topics, READ on
 *   the groups) as kafka-acls.sh.
 *
 * Output is kafka-acls.sh's ("Adding ACLs for resource `ResourcePattern(
 * resourceType=TOPIC, name=t, patternType=LITERAL)`:" then one line per
 * ACL, then the resource's current ACLs).
 *
 * It talks through wire.h (Brook's codec), not librdkafka: librdkafka
 * 2.0.2's ACL API has no TRANSACTIONAL_ID resource type.
 */
#include "../src/core/err.h"
#include "../src/proto/bkgen_msgs.h"
#include "../src/security/acl.h"
#include "brook.h"
#include "tool.h"
#include "wire.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum {
    O_BOOT = 256, O_ADD, O_REMOVE, O_LIST, O_ALLOW_P, O_DENY_P, O_ALLOW_H, O_DENY_H, O_OP,
    O_TOPIC, O_GROUP, O_CLUSTER, O_TXN, O_PAT, O_PRODUCER, O_CONSUMER, O_IDEMP, O_FORCE,
    O_PRINCIPAL, O_CMDCFG, O_VERSION, O_HELP,
};

#define MAXN 32

typedef struct res {
    int8_t rtype;
    const char *name;
} res;

typedef struct acl_opts {
    const char *bootstrap;
    int action; /* O_ADD / O_REMOVE / O_LIST */
    const char *allow_p[MAXN], *deny_p[MAXN], *allow_h[MAXN], *deny_h[MAXN], *ops[MAXN];
    int nallow_p, ndeny_p, nallow_h, ndeny_h, nops;
    res res[MAXN];
    int nres;
    int8_t ptype; /* -1 = not given */
    bool producer, consumer, idempotent, force;
    const char *principal; /* --list --principal */
} acl_opts;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: brook acls --bootstrap-server HOST:PORT (--add | --remove | --list)\n"
            "  [--allow-principal P]... [--deny-principal P]... [--allow-host H]... "
            "[--deny-host H]...\n"
            "  [--operation OP]... [--topic T]... [--group G]... [--cluster] "
            "[--transactional-id X]...\n"
            "  [--resource-pattern-type literal|prefixed|match|any] [--producer [--idempotent]] "
            "[--consumer]\n"
            "  [--principal P] (with --list) [--force] (with --remove)\n"
            "Operations: Read, Write, Create, Delete, Alter, Describe, ClusterAction,\n"
            "  DescribeConfigs, AlterConfigs, IdempotentWrite, All.\n");
}

static void push(const char **v, int *n, const char *s)
{
    if (*n >= MAXN)
        bk_tool_usage_error("too many values");
    v[(*n)++] = s;
}

static void push_res(acl_opts *o, int8_t t, const char *name)
{
    if (o->nres >= MAXN)
        bk_tool_usage_error("too many resources");
    o->res[o->nres].rtype = t;
    o->res[o->nres++].name = name;
}

/* Kafka's exception name for the ACL errors, else the wire name. */
__attribute__((noreturn)) static void acl_die(const char *what, int16_t code, bk_str msg)
{
    const char *ex = code == 29   ? "TopicAuthorizationException"
                     : code == 30 ? "GroupAuthorizationException"
                     : code == 31 ? "ClusterAuthorizationException"
                     : code == 42 ? "InvalidRequestException"
                     : code == 53 ? "TransactionalIdAuthorizationException"
                     : code == 54 ? "SecurityDisabledException"
                                  : bk_kerr_name(code);
    bk_tool_die("Error while %s: org.apache.kafka.common.errors.%s%s%.*s", what, ex,
                msg.len > 0 ? ": " : "", msg.len > 0 ? (int)msg.len : 0, msg.len > 0 ? msg.p : "");
}

static bk_str S(const char *s) { return (bk_str){s, s ? (int32_t)strlen(s) : -1}; }

static const char *pattern_name(int p)
{
    return bk_acl_ptype_name(p) ? bk_acl_ptype_name(p) : "UNKNOWN";
}

static void print_acl_line(const char *principal, const char *host, int op, int perm)
{
    printf(" \t(principal=%s, host=%s, operation=%s, permissionType=%s)\n", principal, host,
           bk_acl_op_name(op) ? bk_acl_op_name(op) : "UNKNOWN",
           bk_acl_perm_name(perm) ? bk_acl_perm_name(perm) : "UNKNOWN");
}

static void print_res_head(const char *verb, int rtype, const char *name, int ptype)
{
    printf("%s for resource `ResourcePattern(resourceType=%s, name=%s, patternType=%s)`: \n",
           verb, bk_acl_rtype_name(rtype) ? bk_acl_rtype_name(rtype) : "UNKNOWN", name,
           pattern_name(ptype));
}

/* DescribeAcls with a filter; prints "Current ACLs for resource ..." blocks. */
static void list(bk_wire *w, int8_t rtype, const char *name, int8_t ptype, const char *principal,
                 const char *verb)
{
    int16_t v = bk_wire_version(w, 29, 3, 1);
    if (v < 0)
        bk_tool_die("the broker does not support DescribeAcls");
    bk_DescribeAclsRequest rq;
    bk_DescribeAclsRequest_init(&rq);
    rq.ResourceTypeFilter = rtype;
    rq.ResourceNameFilter = S(name);
    rq.PatternTypeFilter = ptype;
    rq.PrincipalFilter = S(principal);
    rq.HostFilter = S(NULL);
    rq.Operation = BK_OP_ANY;
    rq.PermissionType = BK_PERM_ANY;
    bk_DescribeAclsResponse rs;
    if (bk_wire_call(w, 29, v, &rq, &rs) == -1)
        bk_tool_die("%s", w->err);
    if (rs.ErrorCode)
        acl_die("listing ACLs", rs.ErrorCode, rs.ErrorMessage);
    for (int i = 0; i < rs.Resources.n; i++) {
        const bk_DescribeAclsResponse_DescribeAclsResource *r = &rs.Resources.a[i];
        char nm[1024];
        snprintf(nm, sizeof nm, "%.*s", (int)r->ResourceName.len, r->ResourceName.p);
        print_res_head(verb, r->ResourceType, nm, r->PatternType);
        for (int k = 0; k < r->Acls.n; k++) {
            const bk_DescribeAclsResponse_AclDescription *d = &r->Acls.a[k];
            char p[512], h[256];
            snprintf(p, sizeof p, "%.*s", (int)d->Principal.len, d->Principal.p);
            snprintf(h, sizeof h, "%.*s", (int)d->Host.len, d->Host.p);
            print_acl_line(p, h, d->Operation, d->PermissionType);
        }
        printf("\n");
    }
}

/* The (operation, resource) pairs the options stand for. */
typedef struct opres {
    int8_t op;
    res r;
} opres;

static int expand(const acl_opts *o, opres *out, int cap)
{
    int n = 0;
#define ADD(op_, r_)                                                                               \
    do {                                                                                           \
        if (n < cap)                                                                               \
            out[n++] = (opres){(int8_t)(op_), (r_)};                                               \
    } while (0)
    if (o->producer || o->consumer) {
        for (int i = 0; i < o->nres; i++) {
            const res *r = &o->res[i];
            if (o->producer && r->rtype == BK_RES_TOPIC) {
                ADD(BK_OP_WRITE, *r);
                ADD(BK_OP_DESCRIBE, *r);
                ADD(BK_OP_CREATE, *r);
            }
            if (o->producer && r->rtype == BK_RES_TRANSACTIONAL_ID) {
                ADD(BK_OP_WRITE, *r);
                ADD(BK_OP_DESCRIBE, *r);
            }
            if (o->consumer && r->rtype == BK_RES_TOPIC) {
                ADD(BK_OP_READ, *r);
                ADD(BK_OP_DESCRIBE, *r);
            }
            if (o->consumer && r->rtype == BK_RES_GROUP)
                ADD(BK_OP_READ, *r);
        }
        if (o->producer && o->idempotent)
            ADD(BK_OP_IDEMPOTENT_WRITE, ((res){BK_RES_CLUSTER, BK_ACL_CLUSTER_NAME}));
        return n;
    }
    for (int i = 0; i < o->nres; i++)
        for (int k = 0; k < o->nops; k++)
            ADD(bk_acl_op_parse(o->ops[k]), o->res[i]);
#undef ADD
    return n;
}

static int do_add(bk_wire *w, const acl_opts *o)
{
    opres pr[MAXN * 8];
    int npr = expand(o, pr, (int)BK_ARRAY_LEN(pr));
    if (o->nallow_p + o->ndeny_p == 0)
        bk_tool_usage_error("--add needs --allow-principal or --deny-principal");
    if (npr == 0)
        bk_tool_usage_error("--add needs a resource (--topic, --group, --cluster, "
                            "--transactional-id) and --operation (or --producer/--consumer)");
    int8_t ptype = o->ptype < 0 ? BK_PAT_LITERAL : o->ptype;
    if (ptype != BK_PAT_LITERAL && ptype != BK_PAT_PREFIXED)
        bk_tool_usage_error("A '--resource-pattern-type' value of 'LITERAL' or 'PREFIXED' is "
                            "required when adding ACLs");
    const char *star[1] = {"*"};
    const char *const *ah = o->nallow_h ? o->allow_h : star, *const *dh = o->ndeny_h ? o->deny_h : star;
    int nah = o->nallow_h ? o->nallow_h : 1, ndh = o->ndeny_h ? o->ndeny_h : 1;
    int16_t v = bk_wire_version(w, 30, 3, 1);
    if (v < 0)
        bk_tool_die("the broker does not support CreateAcls");
    /* one resource at a time, as kafka-acls.sh prints them */
    res seen[MAXN + 1];
    int nseen = 0;
    for (int k = 0; k < npr; k++) {
        bool dup = false;
        for (int j = 0; j < nseen; j++)
            dup |= seen[j].rtype == pr[k].r.rtype && strcmp(seen[j].name, pr[k].r.name) == 0;
        if (!dup && nseen < (int)BK_ARRAY_LEN(seen))
            seen[nseen++] = pr[k].r;
    }
    for (int i = 0; i < nseen; i++) {
        bk_CreateAclsRequest_AclCreation c[MAXN * MAXN];
        int nc = 0;
        const res *cur = &seen[i];
        int8_t pt = cur->rtype == BK_RES_CLUSTER ? BK_PAT_LITERAL : ptype;
        for (int k = 0; k < npr; k++) {
            if (pr[k].r.rtype != cur->rtype || strcmp(pr[k].r.name, cur->name) != 0)
                continue;
            for (int pass = 0; pass < 2; pass++) {
                const char *const *ps = pass ? o->deny_p : o->allow_p;
                int np = pass ? o->ndeny_p : o->nallow_p;
                const char *const *hs = pass ? dh : ah;
                int nh = pass ? ndh : nah;
                for (int a = 0; a < np; a++)
                    for (int h = 0; h < nh && nc < (int)BK_ARRAY_LEN(c); h++) {
                        bk_CreateAclsRequest_AclCreation *x = &c[nc++];
                        x->ResourceType = cur->rtype;
                        x->ResourceName = S(cur->name);
                        x->ResourcePatternType = pt;
                        x->Principal = S(ps[a]);
                        x->Host = S(hs[h]);
                        x->Operation = pr[k].op;
                        x->PermissionType = pass ? BK_PERM_DENY : BK_PERM_ALLOW;
                    }
            }
        }
        if (!nc)
            continue;
        print_res_head("Adding ACLs", cur->rtype, cur->name, pt);
        for (int k = 0; k < nc; k++) {
            char p[512], h[256];
            snprintf(p, sizeof p, "%.*s", (int)c[k].Principal.len, c[k].Principal.p);
            snprintf(h, sizeof h, "%.*s", (int)c[k].Host.len, c[k].Host.p);
            print_acl_line(p, h, c[k].Operation, c[k].PermissionType);
        }
        printf("\n");
        bk_CreateAclsRequest rq;
        bk_CreateAclsRequest_init(&rq);
        rq.Creations.n = nc;
        rq.Creations.a = c;
        bk_CreateAclsResponse rs;
        if (bk_wire_call(w, 30, v, &rq, &rs) == -1)
            bk_tool_die("%s", w->err);
        for (int k = 0; k < rs.Results.n; k++)
            if (rs.Results.a[k].ErrorCode)
                acl_die("adding ACLs", rs.Results.a[k].ErrorCode, rs.Results.a[k].ErrorMessage);
        list(w, cur->rtype, cur->name, pt, NULL, "Current ACLs");
    }
    return 0;
}

static int do_remove(bk_wire *w, const acl_opts *o)
{
    if (o->nres == 0)
        bk_tool_usage_error("--remove needs a resource (--topic, --group, --cluster, "
                            "--transactional-id)");
    int8_t ptype = o->ptype < 0 ? BK_PAT_LITERAL : o->ptype;
    int16_t v = bk_wire_version(w, 31, 3, 1);
    if (v < 0)
        bk_tool_die("the broker does not support DeleteAcls");
    if (!o->force) {
        fprintf(stdout, "Are you sure you want to delete all ACLs for the given resources? (y/n)\n");
        fflush(stdout);
        char line[16];
        if (!fgets(line, sizeof line, stdin) || (line[0] != 'y' && line[0] != 'Y'))
            return 0;
    }
    for (int i = 0; i < o->nres; i++) {
        bk_DeleteAclsRequest_DeleteAclsFilter f[MAXN * MAXN];
        int nf = 0;
        const char *const *ps[2] = {o->allow_p, o->deny_p};
        int nps[2] = {o->nallow_p, o->ndeny_p};
        bool any_p = o->nallow_p + o->ndeny_p == 0;
        for (int pass = 0; pass < 2; pass++) {
            int np = any_p ? (pass ? 0 : 1) : nps[pass];
            for (int a = 0; a < np; a++) {
                int nops = o->nops ? o->nops : 1;
                for (int k = 0; k < nops && nf < (int)BK_ARRAY_LEN(f); k++) {
                    bk_DeleteAclsRequest_DeleteAclsFilter *x = &f[nf++];
                    x->ResourceTypeFilter = o->res[i].rtype;
                    x->ResourceNameFilter = S(o->res[i].name);
                    x->PatternTypeFilter = ptype;
                    x->PrincipalFilter = S(any_p ? NULL : ps[pass][a]);
                    x->HostFilter = S(NULL);
                    x->Operation = o->nops ? (int8_t)bk_acl_op_parse(o->ops[k]) : BK_OP_ANY;
                    x->PermissionType = any_p ? BK_PERM_ANY : pass ? BK_PERM_DENY : BK_PERM_ALLOW;
                }
            }
        }
        bk_DeleteAclsRequest rq;
        bk_DeleteAclsRequest_init(&rq);
        rq.Filters.n = nf;
        rq.Filters.a = f;
        bk_DeleteAclsResponse rs;
        if (bk_wire_call(w, 31, v, &rq, &rs) == -1)
            bk_tool_die("%s", w->err);
        bool printed = false;
        for (int k = 0; k < rs.FilterResults.n; k++) {
            const bk_DeleteAclsResponse_DeleteAclsFilterResult *fr = &rs.FilterResults.a[k];
            if (fr->ErrorCode)
                acl_die("removing ACLs", fr->ErrorCode, fr->ErrorMessage);
            for (int m = 0; m < fr->MatchingAcls.n; m++) {
                const bk_DeleteAclsResponse_DeleteAclsMatchingAcl *x = &fr->MatchingAcls.a[m];
                if (!printed) {
                    print_res_head("Removing ACLs", o->res[i].rtype, o->res[i].name, ptype);
                    printed = true;
                }
                char p[512], h[256];
                snprintf(p, sizeof p, "%.*s", (int)x->Principal.len, x->Principal.p);
                snprintf(h, sizeof h, "%.*s", (int)x->Host.len, x->Host.p);
                print_acl_line(p, h, x->Operation, x->PermissionType);
            }
        }
        if (printed)
            printf("\n");
    }
    return 0;
}

int bk_cmd_acls(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"bootstrap-server", required_argument, 0, O_BOOT},
        {"add", no_argument, 0, O_ADD},
        {"remove", no_argument, 0, O_REMOVE},
        {"list", no_argument, 0, O_LIST},
        {"allow-principal", required_argument, 0, O_ALLOW_P},
        {"deny-principal", required_argument, 0, O_DENY_P},
        {"allow-host", required_argument, 0, O_ALLOW_H},
        {"deny-host", required_argument, 0, O_DENY_H},
        {"operation", required_argument, 0, O_OP},
        {"topic", required_argument, 0, O_TOPIC},
        {"group", required_argument, 0, O_GROUP},
        {"cluster", no_argument, 0, O_CLUSTER},
        {"transactional-id", required_argument, 0, O_TXN},
        {"resource-pattern-type", required_argument, 0, O_PAT},
        {"producer", no_argument, 0, O_PRODUCER},
        {"consumer", no_argument, 0, O_CONSUMER},
        {"idempotent", no_argument, 0, O_IDEMP},
        {"force", no_argument, 0, O_FORCE},
        {"principal", required_argument, 0, O_PRINCIPAL},
        {"command-config", required_argument, 0, O_CMDCFG},
        {"version", no_argument, 0, O_VERSION},
        {"help", no_argument, 0, O_HELP},
        {0, 0, 0, 0},
    };
    acl_opts o;
    memset(&o, 0, sizeof o);
    o.ptype = -1;
    int c, nactions = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case O_BOOT: o.bootstrap = optarg; break;
        case O_ADD:
        case O_REMOVE:
        case O_LIST:
            o.action = c;
            nactions++;
            break;
        case O_ALLOW_P: push(o.allow_p, &o.nallow_p, optarg); break;
        case O_DENY_P: push(o.deny_p, &o.ndeny_p, optarg); break;
        case O_ALLOW_H: push(o.allow_h, &o.nallow_h, optarg); break;
        case O_DENY_H: push(o.deny_h, &o.ndeny_h, optarg); break;
        case O_OP:
            if (bk_acl_op_parse(optarg) <= BK_OP_ANY || bk_acl_op_parse(optarg) > BK_OP_IDEMPOTENT_WRITE)
                bk_tool_usage_error("unknown operation '%s'", optarg);
            push(o.ops, &o.nops, optarg);
            break;
        case O_TOPIC: push_res(&o, BK_RES_TOPIC, optarg); break;
        case O_GROUP: push_res(&o, BK_RES_GROUP, optarg); break;
        case O_CLUSTER: push_res(&o, BK_RES_CLUSTER, BK_ACL_CLUSTER_NAME); break;
        case O_TXN: push_res(&o, BK_RES_TRANSACTIONAL_ID, optarg); break;
        case O_PAT:
            if (!strcasecmp(optarg, "literal"))
                o.ptype = BK_PAT_LITERAL;
            else if (!strcasecmp(optarg, "prefixed"))
                o.ptype = BK_PAT_PREFIXED;
            else if (!strcasecmp(optarg, "match"))
                o.ptype = BK_PAT_MATCH;
            else if (!strcasecmp(optarg, "any"))
                o.ptype = BK_PAT_ANY;
            else
                bk_tool_usage_error("unknown --resource-pattern-type '%s'", optarg);
            break;
        case O_PRODUCER: o.producer = true; break;
        case O_CONSUMER: o.consumer = true; break;
        case O_IDEMP: o.idempotent = true; break;
        case O_FORCE: o.force = true; break;
        case O_PRINCIPAL: o.principal = optarg; break;
        case O_CMDCFG: break; /* PLAINTEXT only for now */
        case O_VERSION: bk_tool_print_version(); return 0;
        case O_HELP:
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc)
        bk_tool_usage_error("unexpected argument '%s'", argv[optind]);
    if (nactions != 1)
        bk_tool_usage_error("Command must include exactly one action: --list, --add, --remove.");
    if (!o.bootstrap)
        bk_tool_usage_error("--bootstrap-server is required");
    if (o.consumer && o.action == O_ADD) {
        bool g = false;
        for (int i = 0; i < o.nres; i++)
            g |= o.res[i].rtype == BK_RES_GROUP;
        if (!g)
            bk_tool_usage_error("With --consumer you must specify a --group");
    }
    bk_wire w;
    if (bk_wire_connect_list(&w, o.bootstrap, BK_TOOL_CONNECT_TIMEOUT_MS) == -1)
        bk_tool_die("%s", w.err);
    int rc = 0;
    if (o.action == O_ADD)
        rc = do_add(&w, &o);
    else if (o.action == O_REMOVE)
        rc = do_remove(&w, &o);
    else if (o.nres == 0)
        list(&w, BK_RES_ANY, NULL, o.ptype < 0 ? BK_PAT_ANY : o.ptype, o.principal,
             "Current ACLs");
    else
        for (int i = 0; i < o.nres; i++)
            list(&w, o.res[i].rtype, o.res[i].name, o.ptype < 0 ? BK_PAT_ANY : o.ptype,
                 o.principal, "Current ACLs");
    bk_wire_close(&w);
    return rc;
}
