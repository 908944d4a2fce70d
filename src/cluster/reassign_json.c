/* reassign_json.c - see reassign_json.h. */
#include "reassign_json.h"

#include "../core/err.h"
#include "controller.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bk_reassign_plan_free(bk_reassign_plan *p)
{
    free(p->v);
    p->v = NULL;
    p->n = p->cap = 0;
}

int bk_reassign_plan_add(bk_reassign_plan *p, const char *topic, int32_t partition,
                         const int32_t *replicas, int n)
{
    if (strlen(topic) >= sizeof p->v[0].topic || n < 0 || n > BK_REASSIGN_MAX_RF)
        return BK_EINVAL;
    if (p->n == p->cap) {
        int nc = p->cap ? p->cap * 2 : 16;
        bk_reassign_part *nv = realloc(p->v, (size_t)nc * sizeof *nv);
        if (!nv)
            return BK_ENOMEM;
        p->v = nv;
        p->cap = nc;
    }
    bk_reassign_part *e = &p->v[p->n++];
    memset(e, 0, sizeof *e);
    snprintf(e->topic, sizeof e->topic, "%s", topic);
    e->partition = partition;
    if (n)
        memcpy(e->replicas, replicas, (size_t)n * sizeof *replicas);
    e->nreplicas = n;
    return 0;
}

static int cmp_part(const void *a, const void *b)
{
    const bk_reassign_part *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    if (c)
        return c;
    return (x->partition > y->partition) - (x->partition < y->partition);
}

void bk_reassign_plan_sort(bk_reassign_plan *p)
{
    if (p->n > 1)
        qsort(p->v, (size_t)p->n, sizeof *p->v, cmp_part);
}

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(err, errlen, __VA_ARGS__);                                                        \
        goto out;                                                                                  \
    } while (0)

int bk_reassign_parse(const char *s, size_t len, bk_reassign_plan *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int r = BK_EINVAL;
    bk_json *j = bk_json_parse(s, len);
    if (!j || j->type != BK_J_OBJ)
        FAIL("the reassignment is not a JSON object");
    const bk_json *parts = bk_json_get(j, "partitions");
    if (!parts || parts->type != BK_J_ARR)
        FAIL("the reassignment has no \"partitions\" array");
    if (parts->nkids == 0)
        FAIL("Partition reassignment list cannot be empty");
    for (int i = 0; i < parts->nkids; i++) {
        const bk_json *e = &parts->kids[i];
        const bk_json *t = bk_json_get(e, "topic");
        const bk_json *reps = bk_json_get(e, "replicas");
        const bk_json *dirs = bk_json_get(e, "log_dirs");
        int64_t p;
        if (!t || t->type != BK_J_STR || !t->str[0] || strlen(t->str) > 249)
            FAIL("partition entry %d: no valid \"topic\"", i);
        if (bk_json_int(bk_json_get(e, "partition"), &p) != 0 || p < 0 || p > INT32_MAX)
            FAIL("partition entry %d: no valid \"partition\"", i);
        if (!reps || reps->type != BK_J_ARR || reps->nkids == 0 ||
            reps->nkids > BK_REASSIGN_MAX_RF)
            FAIL("%s-%d: \"replicas\" must be a non-empty list of broker ids", t->str, (int)p);
        int32_t ids[BK_REASSIGN_MAX_RF];
        for (int k = 0; k < reps->nkids; k++) {
            const bk_json *b = &reps->kids[k];
            if (b->type != BK_J_NUM || !b->isint || b->i < 0 || b->i > INT32_MAX)
                FAIL("%s-%d: replica %d is not a broker id", t->str, (int)p, k);
            ids[k] = (int32_t)b->i;
            for (int q = 0; q < k; q++)
                if (ids[q] == ids[k])
                    FAIL("Duplicate replica assignment found: %s-%d", t->str, (int)p);
        }
        if (dirs && dirs->type != BK_J_NULL) {
            if (dirs->type != BK_J_ARR || dirs->nkids != reps->nkids)
                FAIL("Size of replicas list and log_dirs list differ for %s-%d", t->str, (int)p);
            for (int k = 0; k < dirs->nkids; k++)
                if (dirs->kids[k].type != BK_J_STR || strcmp(dirs->kids[k].str, "any") != 0)
                    FAIL("%s-%d: only \"any\" log directories are supported", t->str, (int)p);
        }
        for (int q = 0; q < out->n; q++)
            if (out->v[q].partition == p && strcmp(out->v[q].topic, t->str) == 0)
                FAIL("Duplicate reassignment found: %s-%d", t->str, (int)p);
        if (bk_reassign_plan_add(out, t->str, (int32_t)p, ids, reps->nkids) != 0)
            FAIL("out of memory");
    }
    r = 0;
out:
    if (r)
        bk_reassign_plan_free(out);
    bk_json_free(j);
    return r;
}

void bk_reassign_write(bk_jw *w, const bk_reassign_plan *p)
{
    bk_jw_raw(w, "{\"version\":1,\"partitions\":[");
    for (int i = 0; i < p->n; i++) {
        const bk_reassign_part *e = &p->v[i];
        bk_jw_raw(w, i ? ",{\"topic\":" : "{\"topic\":");
        bk_jw_str(w, e->topic);
        bk_jw_fmt(w, ",\"partition\":%d,\"replicas\":[", e->partition);
        for (int k = 0; k < e->nreplicas; k++)
            bk_jw_fmt(w, "%s%d", k ? "," : "", e->replicas[k]);
        bk_jw_raw(w, "],\"log_dirs\":[");
        for (int k = 0; k < e->nreplicas; k++)
            bk_jw_raw(w, k ? ",\"any\"" : "\"any\"");
        bk_jw_raw(w, "]}");
    }
    bk_jw_raw(w, "]}");
}

int bk_reassign_topics_parse(const char *s, size_t len, char ***names, int *n, char *err,
                             size_t errlen)
{
    *names = NULL;
    *n = 0;
    int r = BK_EINVAL;
    bk_json *j = bk_json_parse(s, len);
    const bk_json *ts = j ? bk_json_get(j, "topics") : NULL;
    if (!ts || ts->type != BK_J_ARR)
        FAIL("the topics file has no \"topics\" array");
    if (ts->nkids == 0)
        FAIL("List of topics to reassign contains no topics");
    *names = calloc((size_t)ts->nkids, sizeof **names);
    if (!*names)
        FAIL("out of memory");
    for (int i = 0; i < ts->nkids; i++) {
        const bk_json *t = bk_json_get(&ts->kids[i], "topic");
        if (!t || t->type != BK_J_STR || !t->str[0])
            FAIL("topic entry %d has no \"topic\"", i);
        for (int k = 0; k < *n; k++)
            if (strcmp((*names)[k], t->str) == 0)
                FAIL("List of topics to reassign contains duplicate entries: %s", t->str);
        if (!((*names)[*n] = strdup(t->str)))
            FAIL("out of memory");
        (*n)++;
    }
    r = 0;
out:
    if (r) {
        for (int i = 0; i < *n; i++)
            free((*names)[i]);
        free(*names);
        *names = NULL;
        *n = 0;
    }
    bk_json_free(j);
    return r;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

int bk_reassign_propose(const bk_reassign_plan *cur, const int32_t *brokers, int nb, int start,
                        bk_reassign_plan *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int r = BK_EINVAL;
    int32_t *sorted = nb > 0 ? malloc((size_t)nb * sizeof *sorted) : NULL;
    int32_t *asg = NULL;
    if (nb <= 0 || !sorted)
        FAIL("no brokers to assign to");
    memcpy(sorted, brokers, (size_t)nb * sizeof *sorted);
    qsort(sorted, (size_t)nb, sizeof *sorted, cmp_i32);
    for (int i = 0; i < cur->n; i++) {
        const char *t = cur->v[i].topic;
        bool seen = false;
        for (int k = 0; k < out->n && !seen; k++)
            seen = strcmp(out->v[k].topic, t) == 0;
        if (seen)
            continue;
        int32_t nparts = 0, rf = 0;
        for (int k = 0; k < cur->n; k++)
            if (strcmp(cur->v[k].topic, t) == 0) {
                nparts = cur->v[k].partition + 1 > nparts ? cur->v[k].partition + 1 : nparts;
                if (cur->v[k].partition == 0)
                    rf = cur->v[k].nreplicas;
            }
        if (rf <= 0)
            FAIL("topic %s has no partition 0", t);
        if (rf > nb)
            FAIL("Replication factor: %d larger than available brokers: %d.", rf, nb);
        free(asg);
        asg = malloc((size_t)nparts * (size_t)rf * sizeof *asg);
        if (!asg || bk_assign_replicas(sorted, nb, nparts, (int16_t)rf, start, asg) != 0)
            FAIL("cannot assign the replicas of %s", t);
        for (int32_t p = 0; p < nparts; p++)
            if (bk_reassign_plan_add(out, t, p, asg + (size_t)p * (size_t)rf, rf) != 0)
                FAIL("out of memory");
    }
    bk_reassign_plan_sort(out);
    r = 0;
out:
    free(sorted);
    free(asg);
    if (r)
        bk_reassign_plan_free(out);
    return r;
}
