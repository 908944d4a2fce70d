/* quota.c - client quota values and rate sensors. See quota.h. */
#include "quota.h"

#include "../core/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const keys[] = {"producer_byte_rate", "consumer_byte_rate",
                                   "request_percentage", "controller_mutation_rate",
                                   "connection_creation_rate"};

bool bk_quota_key_valid(const char *key)
{
    for (size_t i = 0; key && i < BK_ARRAY_LEN(keys); i++)
        if (strcmp(keys[i], key) == 0)
            return true;
    return false;
}

void bk_quotas_init(bk_quotas *q) { memset(q, 0, sizeof *q); }

static void val_free(bk_quota_val *v)
{
    free(v->user);
    free(v->client);
    free(v->key);
}

void bk_quotas_fini(bk_quotas *q)
{
    for (int i = 0; i < q->n; i++)
        val_free(&q->v[i]);
    free(q->v);
    memset(q, 0, sizeof *q);
}

static bool part_eq(int k1, const char *n1, int k2, const char *n2)
{
    return k1 == k2 && ((k1 != BK_QPART_NAME && k1 != BK_QPART_IP) || strcmp(n1, n2) == 0);
}

int bk_quotas_set(bk_quotas *q, int ukind, const char *user, int ckind, const char *client,
                  const char *key, double value, bool remove)
{
    for (int i = 0; i < q->n; i++) {
        bk_quota_val *v = &q->v[i];
        if (!part_eq(v->ukind, v->user, ukind, user) ||
            !part_eq(v->ckind, v->client, ckind, client) || strcmp(v->key, key) != 0)
            continue;
        if (remove) {
            val_free(v);
            q->v[i] = q->v[--q->n];
        } else {
            v->value = value;
        }
        return 0;
    }
    if (remove)
        return 0;
    if (q->n == q->cap) {
        int cap = q->cap ? q->cap * 2 : 8;
        bk_quota_val *nv = realloc(q->v, sizeof *nv * (size_t)cap);
        if (!nv)
            return BK_ENOMEM;
        q->v = nv;
        q->cap = cap;
    }
    bk_quota_val v = {ukind, ckind, NULL, NULL, strdup(key), value};
    bool uname = ukind == BK_QPART_NAME || ukind == BK_QPART_IP;
    if (uname)
        v.user = strdup(user);
    if (ckind == BK_QPART_NAME)
        v.client = strdup(client);
    if (!v.key || (uname && !v.user) || (ckind == BK_QPART_NAME && !v.client)) {
        val_free(&v);
        return BK_ENOMEM;
    }
    q->v[q->n++] = v;
    return 0;
}

static bool find(const bk_quotas *q, int uk, const char *u, int ck, const char *c, const char *key,
                 double *out)
{
    for (int i = 0; i < q->n; i++) {
        const bk_quota_val *v = &q->v[i];
        if (part_eq(v->ukind, v->user, uk, u) && part_eq(v->ckind, v->client, ck, c) &&
            strcmp(v->key, key) == 0) {
            *out = v->value;
            return true;
        }
    }
    return false;
}

double bk_quotas_resolve(const bk_quotas *q, const char *user, const char *client,
                         const char *key)
{
    enum { N = BK_QPART_NAME, D = BK_QPART_DEFAULT, X = BK_QPART_NONE };
    static const int order[8][2] = {{N, N}, {N, D}, {N, X}, {D, N}, {D, D}, {D, X}, {X, N}, {X, D}};
    double v;
    for (int i = 0; i < 8; i++)
        if (find(q, order[i][0], user, order[i][1], client, key, &v))
            return v;
    return -1;
}

int32_t bk_rate_record(bk_rate *r, double rate, uint64_t bytes, int64_t now_ms)
{
    if (rate <= 0)
        return 0;
    if (!r->started) {
        r->started = true;
        r->credit = rate; /* one second of burst */
        r->last_ms = now_ms;
    }
    if (now_ms > r->last_ms) {
        r->credit += rate * (double)(now_ms - r->last_ms) / 1000.0;
        if (r->credit > rate)
            r->credit = rate;
        r->last_ms = now_ms;
    }
    r->credit -= (double)bytes;
    if (r->credit >= 0)
        return 0;
    double ms = -r->credit / rate * 1000.0;
    return ms > 3600000.0 ? 3600000 : (int32_t)ms;
}

double bk_quotas_resolve_ip(const bk_quotas *q, const char *ip)
{
    double v;
    if (find(q, BK_QPART_IP, ip, BK_QPART_NONE, NULL, "connection_creation_rate", &v) ||
        find(q, BK_QPART_IP_DEFAULT, NULL, BK_QPART_NONE, NULL, "connection_creation_rate", &v))
        return v;
    return -1;
}

/* ------------------------------------------------------------ file store */

static void put_part(FILE *f, int kind, const char *name)
{
    fputc(' ', f);
    if (kind == BK_QPART_NONE) {
        fputc('-', f);
        return;
    }
    if (kind == BK_QPART_DEFAULT) {
        fputc('*', f);
        return;
    }
    if (!*name || strcmp(name, "-") == 0 || strcmp(name, "*") == 0)
        fputc('%', f), fputc('=', f); /* marks a literal name that needs escaping below */
    for (const char *s = name; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= ' ' || c == '%' || c == '*' || c == '-' || c >= 0x7f)
            fprintf(f, "%%%02X", c);
        else
            fputc(c, f);
    }
}

static int get_part(const char *w, int *kind, char **name)
{
    *name = NULL;
    if (strcmp(w, "-") == 0) {
        *kind = BK_QPART_NONE;
        return 0;
    }
    if (strcmp(w, "*") == 0) {
        *kind = BK_QPART_DEFAULT;
        return 0;
    }
    *kind = BK_QPART_NAME;
    if (strncmp(w, "%=", 2) == 0)
        w += 2;
    size_t n = strlen(w);
    char *o = malloc(n + 1), *p = o;
    if (!o)
        return BK_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (w[i] == '%' && i + 2 < n + 1 && sscanf(w + i + 1, "%2x", &v) == 1) {
            *p++ = (char)v;
            i += 2;
        } else {
            *p++ = w[i];
        }
    }
    *p = 0;
    *name = o;
    return 0;
}

int bk_quotas_load_file(bk_quotas *q, const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/brook-quotas", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 0 : BK_EIO;
    char line[4096], w[4][1024];
    double val;
    int rc = 0, lineno = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        if (++lineno == 1) {
            if (strncmp(line, "brook-quotas 1", 14) != 0)
                rc = BK_ECORRUPT;
            continue;
        }
        if (line[0] == 'i' && line[1] == ' ') { /* an IP entity */
            if (sscanf(line, "%1023s %1023s %1023s %lf", w[0], w[1], w[3], &val) != 4 ||
                !bk_quota_key_valid(w[3])) {
                rc = BK_ECORRUPT;
                break;
            }
            int ik;
            char *ip = NULL;
            if ((rc = get_part(w[1], &ik, &ip)) == 0 && ik != BK_QPART_NONE)
                rc = bk_quotas_set(q, ik == BK_QPART_DEFAULT ? BK_QPART_IP_DEFAULT : BK_QPART_IP,
                                   ip, BK_QPART_NONE, NULL, w[3], val, false);
            free(ip);
            continue;
        }
        if (sscanf(line, "%1023s %1023s %1023s %1023s %lf", w[0], w[1], w[2], w[3], &val) != 5 ||
            strcmp(w[0], "q") != 0 || !bk_quota_key_valid(w[3])) {
            rc = BK_ECORRUPT;
            break;
        }
        int uk, ck;
        char *u = NULL, *c = NULL;
        if ((rc = get_part(w[1], &uk, &u)) == 0 && (rc = get_part(w[2], &ck, &c)) == 0)
            rc = bk_quotas_set(q, uk, u, ck, c, w[3], val, false);
        free(u);
        free(c);
    }
    fclose(f);
    return rc;
}

int bk_quotas_save_file(const bk_quotas *q, const char *dir)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/brook-quotas", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return BK_EIO;
    fprintf(f, "brook-quotas 1\n");
    for (int i = 0; i < q->n; i++) {
        const bk_quota_val *v = &q->v[i];
        if (v->ukind == BK_QPART_IP || v->ukind == BK_QPART_IP_DEFAULT) {
            fputc('i', f);
            put_part(f, v->ukind == BK_QPART_IP ? BK_QPART_NAME : BK_QPART_DEFAULT, v->user);
            fprintf(f, " %s %.17g\n", v->key, v->value);
            continue;
        }
        fputc('q', f);
        put_part(f, v->ukind, v->user);
        put_part(f, v->ckind, v->client);
        fprintf(f, " %s %.17g\n", v->key, v->value);
    }
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        unlink(tmp);
        return BK_EIO;
    }
    return 0;
}
