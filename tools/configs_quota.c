/*
 * configs_quota.c - the client quota part of `brook configs`
 * (kafka-configs.sh --entity-type users|clients|ips): --describe and --alter
 * --add-config producer_byte_rate=1024,... / --delete-config k1,k2 through
 * DescribeClientQuotas (48) and AlterClientQuotas (49), over wire.h.
 * Output as kafka-configs.sh: "Quota configs for user-principal 'alice'
 * are producer_byte_rate=1024.0" and "Completed updating config for user
 * alice.".
 */
#include "../src/proto/bkgen_msgs.h"
#include "brook.h"
#include "tool.h"
#include "wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bk_str S(const char *s) { return (bk_str){s, s ? (int32_t)strlen(s) : -1}; }

static const char *wire_type(const char *type)
{
    return strcmp(type, "users") == 0 ? "user" : strcmp(type, "ips") == 0 ? "ip" : "client-id";
}

static void print_entity(const char *wtype, bk_str name)
{
    const char *what = strcmp(wtype, "user") == 0 ? "user-principal"
                       : strcmp(wtype, "ip") == 0 ? "ip"
                                                  : "client-id";
    if (name.len < 0)
        printf("Quota configs for the default %s are ", what);
    else
        printf("Quota configs for %s '%.*s' are ", what, (int)name.len, name.p);
}

static int describe(bk_wire *w, const char *type, const char *name)
{
    int16_t v = bk_wire_version(w, 48, 1, 0);
    if (v < 0)
        bk_tool_die("the broker does not support DescribeClientQuotas");
    bk_DescribeClientQuotasRequest rq;
    bk_DescribeClientQuotasRequest_init(&rq);
    bk_DescribeClientQuotasRequest_ComponentData c = {
        S(wire_type(type)), (int8_t)(!name ? 2 : *name ? 0 : 1), S(name && *name ? name : NULL)};
    rq.Components.n = 1;
    rq.Components.a = &c;
    rq.Strict = true;
    bk_DescribeClientQuotasResponse rs;
    if (bk_wire_call(w, 48, v, &rq, &rs) == -1)
        bk_tool_die("%s", w->err);
    if (rs.ErrorCode)
        bk_tool_die("DescribeClientQuotas failed: %s%s%.*s", bk_kerr_name(rs.ErrorCode),
                    rs.ErrorMessage.len > 0 ? ": " : "",
                    rs.ErrorMessage.len > 0 ? (int)rs.ErrorMessage.len : 0,
                    rs.ErrorMessage.len > 0 ? rs.ErrorMessage.p : "");
    for (int i = 0; i < rs.Entries.n; i++) {
        const bk_DescribeClientQuotasResponse_EntryData *e = &rs.Entries.a[i];
        if (e->Entity.n != 1)
            continue;
        print_entity(wire_type(type), e->Entity.a[0].EntityName);
        for (int k = 0; k < e->Values.n; k++)
            printf("%s%.*s=%.1f", k ? ", " : "", (int)e->Values.a[k].Key.len, e->Values.a[k].Key.p,
                   e->Values.a[k].Value);
        printf("\n");
    }
    return 0;
}

static int alter(bk_wire *w, const char *type, const char *name, const char *add, const char *del)
{
    int16_t v = bk_wire_version(w, 49, 1, 0);
    if (v < 0)
        bk_tool_die("the broker does not support AlterClientQuotas");
    char **adds = NULL, **dels = NULL;
    int nadd = add ? bk_tool_split_list(add, &adds) : 0;
    int ndel = del ? bk_tool_split_list(del, &dels) : 0;
    if (nadd + ndel == 0)
        bk_tool_usage_error("At least one of --add-config or --delete-config must be specified "
                            "with --alter");
    bk_AlterClientQuotasRequest_OpData *ops = calloc((size_t)(nadd + ndel), sizeof *ops);
    if (!ops)
        bk_tool_die("out of memory");
    for (int i = 0; i < nadd; i++) {
        char *eq = strchr(adds[i], '=');
        if (!eq)
            bk_tool_usage_error("bad --add-config item '%s' (want key=value)", adds[i]);
        *eq = 0;
        char *end;
        double val = strtod(eq + 1, &end);
        if (end == eq + 1 || *end)
            bk_tool_usage_error("the value of %s must be a number: %s", adds[i], eq + 1);
        ops[i] = (bk_AlterClientQuotasRequest_OpData){S(adds[i]), val, false};
    }
    for (int i = 0; i < ndel; i++)
        ops[nadd + i] = (bk_AlterClientQuotasRequest_OpData){S(dels[i]), 0, true};
    bk_AlterClientQuotasRequest_EntityData ent = {S(wire_type(type)), S(*name ? name : NULL)};
    bk_AlterClientQuotasRequest_EntryData entry;
    entry.Entity.n = 1;
    entry.Entity.a = &ent;
    entry.Ops.n = nadd + ndel;
    entry.Ops.a = ops;
    bk_AlterClientQuotasRequest rq;
    bk_AlterClientQuotasRequest_init(&rq);
    rq.Entries.n = 1;
    rq.Entries.a = &entry;
    bk_AlterClientQuotasResponse rs;
    if (bk_wire_call(w, 49, v, &rq, &rs) == -1)
        bk_tool_die("%s", w->err);
    for (int i = 0; i < rs.Entries.n; i++)
        if (rs.Entries.a[i].ErrorCode)
            bk_tool_die("Error while altering quotas: %s%s%.*s",
                        bk_kerr_name(rs.Entries.a[i].ErrorCode),
                        rs.Entries.a[i].ErrorMessage.len > 0 ? ": " : "",
                        rs.Entries.a[i].ErrorMessage.len > 0 ? (int)rs.Entries.a[i].ErrorMessage.len
                                                             : 0,
                        rs.Entries.a[i].ErrorMessage.len > 0 ? rs.Entries.a[i].ErrorMessage.p : "");
    const char *what = strcmp(type, "users") == 0 ? "user" : strcmp(type, "ips") == 0 ? "ip" : "client";
    if (*name)
        printf("Completed updating config for %s %s.\n", what, name);
    else
        printf("Completed updating default config for %ss in the cluster.\n", what);
    free(ops);
    bk_tool_free_list(adds, nadd);
    bk_tool_free_list(dels, ndel);
    return 0;
}

int bk_configs_quotas(const char *bootstrap, const char *type, const char *name, bool describe_,
                      const char *add, const char *del)
{
    bk_wire w;
    if (bk_wire_connect_list(&w, bootstrap, BK_TOOL_CONNECT_TIMEOUT_MS) == -1)
        bk_tool_die("%s", w.err);
    int rc = describe_ ? describe(&w, type, name) : alter(&w, type, name, add, del);
    fflush(stdout);
    bk_wire_close(&w);
    return rc;
}
