/* zkjson.c - see zkjson.h. */
#include "zkjson.h"

#include "../core/err.h"
#include "../core/uuid.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---------------------------------------------------------------- reader */

typedef struct jp {
    const char *s, *end;
    int depth;
} jp;

static void ws(jp *p)
{
    while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r'))
        p->s++;
}

static void json_fini(bk_json *j)
{
    for (int i = 0; i < j->nkids; i++)
        json_fini(&j->kids[i]);
    free(j->kids);
    free(j->key);
    free(j->str);
}

void bk_json_free(bk_json *j)
{
    if (!j)
        return;
    json_fini(j);
    free(j);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A string literal at p->s (on the opening quote); OUT: owned text. */
static int parse_str(jp *p, char **out)
{
    if (p->s >= p->end || *p->s != '"')
        return -1;
    p->s++;
    size_t cap = 16, n = 0;
    char *b = malloc(cap);
    if (!b)
        return -1;
    while (p->s < p->end && *p->s != '"') {
        unsigned c = (unsigned char)*p->s++;
        char tmp[4];
        int tn = 1;
        tmp[0] = (char)c;
        if (c < 0x20) {
            free(b);
            return -1;
        }
        if (c == '\\') {
            if (p->s >= p->end)
                break;
            char e = *p->s++;
            switch (e) {
            case '"': tmp[0] = '"'; break;
            case '\\': tmp[0] = '\\'; break;
            case '/': tmp[0] = '/'; break;
            case 'b': tmp[0] = '\b'; break;
            case 'f': tmp[0] = '\f'; break;
            case 'n': tmp[0] = '\n'; break;
            case 'r': tmp[0] = '\r'; break;
            case 't': tmp[0] = '\t'; break;
            case 'u': {
                if (p->end - p->s < 4) {
                    free(b);
                    return -1;
                }
                unsigned cp = 0;
                for (int k = 0; k < 4; k++) {
                    int h = hexval(p->s[k]);
                    if (h < 0) {
                        free(b);
                        return -1;
                    }
                    cp = cp * 16 + (unsigned)h;
                }
                p->s += 4;
                if (cp == 0) { /* no embedded NULs */
                    free(b);
                    return -1;
                }
                /* surrogates are kept as their own 3-byte forms: znode text is ASCII */
                if (cp < 0x80) {
                    tmp[0] = (char)cp;
                } else if (cp < 0x800) {
                    tmp[0] = (char)(0xC0 | (cp >> 6));
                    tmp[1] = (char)(0x80 | (cp & 0x3F));
                    tn = 2;
                } else {
                    tmp[0] = (char)(0xE0 | (cp >> 12));
                    tmp[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                    tmp[2] = (char)(0x80 | (cp & 0x3F));
                    tn = 3;
                }
                break;
            }
            default: free(b); return -1;
            }
        }
        if (n + (size_t)tn + 1 > cap) {
            cap *= 2;
            char *nb = realloc(b, cap);
            if (!nb) {
                free(b);
                return -1;
            }
            b = nb;
        }
        memcpy(b + n, tmp, (size_t)tn);
        n += (size_t)tn;
    }
    if (p->s >= p->end) {
        free(b);
        return -1;
    }
    p->s++; /* closing quote */
    b[n] = 0;
    *out = b;
    return 0;
}

static int parse_val(jp *p, bk_json *j);

static int push_kid(bk_json *j, int *cap, bk_json **kid)
{
    if (j->nkids == *cap) {
        int nc = *cap ? *cap * 2 : 4;
        bk_json *nk = realloc(j->kids, (size_t)nc * sizeof *nk);
        if (!nk)
            return -1;
        j->kids = nk;
        *cap = nc;
    }
    *kid = &j->kids[j->nkids];
    memset(*kid, 0, sizeof **kid);
    j->nkids++;
    return 0;
}

static int parse_container(jp *p, bk_json *j, bool obj)
{
    if (++p->depth > 32)
        return -1;
    p->s++;
    j->type = obj ? BK_J_OBJ : BK_J_ARR;
    int cap = 0;
    ws(p);
    if (p->s < p->end && *p->s == (obj ? '}' : ']')) {
        p->s++;
        p->depth--;
        return 0;
    }
    for (;;) {
        bk_json *k;
        if (push_kid(j, &cap, &k) != 0)
            return -1;
        ws(p);
        if (obj) {
            if (parse_str(p, &k->key) != 0)
                return -1;
            ws(p);
            if (p->s >= p->end || *p->s != ':')
                return -1;
            p->s++;
        }
        if (parse_val(p, k) != 0)
            return -1;
        ws(p);
        if (p->s >= p->end)
            return -1;
        if (*p->s == ',') {
            p->s++;
            continue;
        }
        if (*p->s == (obj ? '}' : ']')) {
            p->s++;
            p->depth--;
            return 0;
        }
        return -1;
    }
}

static int lit(jp *p, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(p->end - p->s) < n || memcmp(p->s, w, n) != 0)
        return -1;
    p->s += n;
    return 0;
}

static int parse_val(jp *p, bk_json *j)
{
    ws(p);
    if (p->s >= p->end)
        return -1;
    char c = *p->s;
    if (c == '{' || c == '[')
        return parse_container(p, j, c == '{');
    if (c == '"') {
        j->type = BK_J_STR;
        return parse_str(p, &j->str);
    }
    if (c == 't' || c == 'f') {
        j->type = BK_J_BOOL;
        j->b = c == 't';
        return lit(p, j->b ? "true" : "false");
    }
    if (c == 'n') {
        j->type = BK_J_NULL;
        return lit(p, "null");
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        const char *st = p->s;
        if (*p->s == '-')
            p->s++;
        bool any = false, frac = false;
        while (p->s < p->end) {
            char d = *p->s;
            if (d >= '0' && d <= '9')
                any = true;
            else if (d == '.' || d == 'e' || d == 'E' || d == '+' || d == '-')
                frac = true;
            else
                break;
            p->s++;
        }
        if (!any || p->s - st > 60)
            return -1;
        char buf[64];
        memcpy(buf, st, (size_t)(p->s - st));
        buf[p->s - st] = 0;
        j->type = BK_J_NUM;
        char *e;
        j->num = strtod(buf, &e);
        if (*e)
            return -1;
        if (!frac) {
            errno = 0;
            long long v = strtoll(buf, &e, 10);
            if (errno == 0 && !*e) {
                j->isint = true;
                j->i = v;
            }
        }
        return 0;
    }
    return -1;
}

bk_json *bk_json_parse(const char *s, size_t len)
{
    jp p = {s, s + len, 0};
    bk_json *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    if (parse_val(&p, j) != 0) {
        bk_json_free(j);
        return NULL;
    }
    ws(&p);
    if (p.s != p.end) {
        bk_json_free(j);
        return NULL;
    }
    return j;
}

const bk_json *bk_json_get(const bk_json *j, const char *key)
{
    if (!j || j->type != BK_J_OBJ)
        return NULL;
    for (int i = 0; i < j->nkids; i++)
        if (strcmp(j->kids[i].key, key) == 0)
            return &j->kids[i];
    return NULL;
}

int bk_json_int(const bk_json *j, int64_t *out)
{
    if (!j)
        return BK_EINVAL;
    if (j->type == BK_J_NUM && j->isint) {
        *out = j->i;
        return 0;
    }
    if (j->type == BK_J_STR && j->str[0]) {
        char *e;
        errno = 0;
        long long v = strtoll(j->str, &e, 10);
        if (errno || *e)
            return BK_EINVAL;
        *out = v;
        return 0;
    }
    return BK_EINVAL;
}

static int get_i32(const bk_json *o, const char *key, int32_t *out)
{
    int64_t v;
    if (bk_json_int(bk_json_get(o, key), &v) != 0 || v < INT32_MIN || v > INT32_MAX)
        return BK_EINVAL;
    *out = (int32_t)v;
    return 0;
}

/* ---------------------------------------------------------------- writer */

void bk_jw_init(bk_jw *w)
{
    memset(w, 0, sizeof *w);
}

void bk_jw_fini(bk_jw *w)
{
    free(w->p);
    memset(w, 0, sizeof *w);
}

static bool reserve(bk_jw *w, size_t more)
{
    if (w->err)
        return false;
    if (w->len + more + 1 <= w->cap)
        return true;
    size_t nc = w->cap ? w->cap : 128;
    while (nc < w->len + more + 1)
        nc *= 2;
    char *np = realloc(w->p, nc);
    if (!np) {
        w->err = true;
        return false;
    }
    w->p = np;
    w->cap = nc;
    return true;
}

void bk_jw_raw(bk_jw *w, const char *s)
{
    size_t n = strlen(s);
    if (!reserve(w, n))
        return;
    memcpy(w->p + w->len, s, n + 1);
    w->len += n;
}

void bk_jw_fmt(bk_jw *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        w->err = true;
        return;
    }
    if ((size_t)n < sizeof small) {
        bk_jw_raw(w, small);
        return;
    }
    if (!reserve(w, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(w->p + w->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    w->len += (size_t)n;
}

void bk_jw_str(bk_jw *w, const char *s)
{
    bk_jw_raw(w, "\"");
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        char e[8];
        if (c == '"' || c == '\\') {
            e[0] = '\\';
            e[1] = (char)c;
            e[2] = 0;
        } else if (c < 0x20) {
            snprintf(e, sizeof e, "\\u%04x", c);
        } else {
            e[0] = (char)c;
            e[1] = 0;
        }
        bk_jw_raw(w, e);
    }
    bk_jw_raw(w, "\"");
}

/* ---------------------------------------------------------------- znodes */

void bk_zkj_cluster_id(bk_jw *w, const char *id)
{
    bk_jw_raw(w, "{\"version\":\"1\",\"id\":");
    bk_jw_str(w, id);
    bk_jw_raw(w, "}");
}

int bk_zkj_cluster_id_parse(const char *s, size_t len, char *id, size_t idlen)
{
    bk_json *j = bk_json_parse(s, len);
    const bk_json *v = bk_json_get(j, "id");
    int r = BK_EINVAL;
    if (v && v->type == BK_J_STR && strlen(v->str) < idlen && v->str[0]) {
        strcpy(id, v->str);
        r = 0;
    }
    bk_json_free(j);
    return r;
}

/* Write each comma-separated item of list as a JSON string (endpoints) or,
 * split at its first ':', as "key":"value" (the protocol map). */
static void jw_list(bk_jw *w, const char *list, bool pairs)
{
    const char *p = list;
    bool first = true;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char item[400];
        if (n > 0 && n < sizeof item) {
            memcpy(item, p, n);
            item[n] = 0;
            if (!first)
                bk_jw_raw(w, ",");
            first = false;
            char *colon = pairs ? strchr(item, ':') : NULL;
            if (colon) {
                *colon = 0;
                bk_jw_str(w, item);
                bk_jw_raw(w, ":");
                bk_jw_str(w, colon + 1);
            } else {
                bk_jw_str(w, item);
            }
        }
        p = e ? e + 1 : p + n;
    }
}

void bk_zkj_broker(bk_jw *w, const bk_zk_broker *b)
{
    char ep[400];
    bool v6 = strchr(b->host, ':') != NULL;
    snprintf(ep, sizeof ep, "PLAINTEXT://%s%s%s:%d", v6 ? "[" : "", b->host, v6 ? "]" : "",
             b->port);
    if (b->eps[0] && b->protomap[0]) {
        bk_jw_raw(w, "{\"features\":{},\"listener_security_protocol_map\":{");
        jw_list(w, b->protomap, true);
        bk_jw_raw(w, "},\"endpoints\":[");
        jw_list(w, b->eps, false);
    } else {
        bk_jw_raw(w, "{\"features\":{},\"listener_security_protocol_map\":{\"PLAINTEXT\":"
                     "\"PLAINTEXT\"},\"endpoints\":[");
        bk_jw_str(w, ep);
    }
    bk_jw_fmt(w, "],\"jmx_port\":-1,\"port\":%d,\"host\":", b->port);
    bk_jw_str(w, b->host);
    bk_jw_fmt(w, ",\"version\":5,\"timestamp\":\"%lld\"", (long long)b->timestamp);
    if (b->rack[0]) {
        bk_jw_raw(w, ",\"rack\":");
        bk_jw_str(w, b->rack);
    }
    bk_jw_raw(w, "}");
}

/* "PLAINTEXT://host:port" or "PLAINTEXT://[v6]:port" */
static int parse_endpoint(const char *e, char *host, size_t hostlen, int *port)
{
    const char *sep = strstr(e, "://");
    if (!sep)
        return BK_EINVAL;
    const char *h = sep + 3;
    const char *colon = strrchr(h, ':');
    if (!colon)
        return BK_EINVAL;
    const char *hs = h, *he = colon;
    if (*hs == '[' && he > hs && he[-1] == ']') {
        hs++;
        he--;
    }
    if ((size_t)(he - hs) >= hostlen)
        return BK_EINVAL;
    memcpy(host, hs, (size_t)(he - hs));
    host[he - hs] = 0;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p < 0 || p > 65535)
        return BK_EINVAL;
    *port = (int)p;
    return 0;
}

int bk_zkj_endpoint_of(const char *eps, const char *listener, char *host, size_t hostlen,
                       int *port)
{
    size_t ln = strlen(listener);
    const char *p = eps;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char item[400];
        if (n < sizeof item && n > ln + 3 && strncasecmp(p, listener, ln) == 0 &&
            memcmp(p + ln, "://", 3) == 0) {
            memcpy(item, p, n);
            item[n] = 0;
            return parse_endpoint(item, host, hostlen, port) == 0 ? 0 : BK_ENOENT;
        }
        p = e ? e + 1 : p + n;
    }
    return BK_ENOENT;
}

int bk_zkj_broker_parse(const char *s, size_t len, bk_zk_broker *b)
{
    return bk_zkj_broker_parse_listener(s, len, NULL, b);
}

int bk_zkj_broker_parse_listener(const char *s, size_t len, const char *listener,
                                 bk_zk_broker *b)
{
    bk_json *j = bk_json_parse(s, len);
    if (!j)
        return BK_EINVAL;
    int r = BK_EINVAL;
    memset(b->host, 0, sizeof b->host);
    b->rack[0] = 0;
    b->eps[0] = 0;
    b->protomap[0] = 0;
    b->port = -1;
    const bk_json *eps = bk_json_get(j, "endpoints");
    if (eps && eps->type == BK_J_ARR) {
        /* every endpoint, for Metadata on each listener */
        size_t at = 0;
        for (int i = 0; i < eps->nkids; i++) {
            const bk_json *e = &eps->kids[i];
            size_t n = e->type == BK_J_STR ? strlen(e->str) : 0;
            if (n && !strchr(e->str, ',') && at + n + 2 < sizeof b->eps) {
                if (at)
                    b->eps[at++] = ',';
                memcpy(b->eps + at, e->str, n + 1);
                at += n;
            }
        }
        /* the wanted listener's, else PLAINTEXT's, else the first */
        if (!listener || bk_zkj_endpoint_of(b->eps, listener, b->host, sizeof b->host,
                                            &b->port) != 0) {
            b->port = -1;
            for (int i = 0; i < eps->nkids; i++) {
                const bk_json *e = &eps->kids[i];
                if (e->type != BK_J_STR)
                    continue;
                bool plain = strncmp(e->str, "PLAINTEXT://", 12) == 0;
                if (b->port < 0 || plain)
                    if (parse_endpoint(e->str, b->host, sizeof b->host, &b->port) == 0 && plain)
                        break;
            }
        }
    }
    if (b->port < 0) { /* version 1 form: host and port */
        const bk_json *h = bk_json_get(j, "host");
        int32_t port;
        if (h && h->type == BK_J_STR && strlen(h->str) < sizeof b->host &&
            get_i32(j, "port", &port) == 0) {
            strcpy(b->host, h->str);
            b->port = port;
        }
    }
    const bk_json *rack = bk_json_get(j, "rack");
    if (rack && rack->type == BK_J_STR && strlen(rack->str) < sizeof b->rack)
        strcpy(b->rack, rack->str);
    int64_t ts = 0;
    (void)bk_json_int(bk_json_get(j, "timestamp"), &ts);
    b->timestamp = ts;
    if (b->port >= 0)
        r = 0;
    bk_json_free(j);
    return r;
}

static int prefix_len(const int32_t *v, int rf)
{
    int n = 0;
    while (v && n < rf && v[n] >= 0)
        n++;
    return n;
}

int bk_zk_topic_reps(const bk_zk_topic *a, int32_t p, const int32_t **out)
{
    const int32_t *v = a->replicas ? a->replicas + (size_t)p * (size_t)a->rf : NULL;
    *out = v;
    return prefix_len(v, a->rf);
}

int bk_zk_topic_adding(const bk_zk_topic *a, int32_t p, const int32_t **out)
{
    const int32_t *v = a->adding ? a->adding + (size_t)p * (size_t)a->rf : NULL;
    *out = v;
    return prefix_len(v, a->rf);
}

int bk_zk_topic_removing(const bk_zk_topic *a, int32_t p, const int32_t **out)
{
    const int32_t *v = a->removing ? a->removing + (size_t)p * (size_t)a->rf : NULL;
    *out = v;
    return prefix_len(v, a->rf);
}

/* {"0":[1,2],...}: the partitions whose list (a -1 padded nparts * rf
 * array) is not empty; all of them when all. */
static void write_lists(bk_jw *w, const bk_zk_topic *t, const int32_t *v, bool all)
{
    bk_jw_raw(w, "{");
    bool first = true;
    for (int32_t p = 0; v && p < t->nparts; p++) {
        const int32_t *l = v + (size_t)p * (size_t)t->rf;
        int n = prefix_len(l, t->rf);
        if (n == 0 && !all)
            continue;
        bk_jw_fmt(w, "%s\"%d\":[", first ? "" : ",", p);
        first = false;
        for (int r = 0; r < n; r++)
            bk_jw_fmt(w, "%s%d", r ? "," : "", l[r]);
        bk_jw_raw(w, "]");
    }
    bk_jw_raw(w, "}");
}

void bk_zkj_topic(bk_jw *w, const bk_zk_topic *t)
{
    bk_jw_raw(w, "{\"partitions\":");
    write_lists(w, t, t->replicas, true);
    if (t->has_id) {
        char id[23];
        bk_uuid_encode(t->id, id);
        bk_jw_raw(w, ",\"topic_id\":");
        bk_jw_str(w, id);
    }
    bk_jw_raw(w, ",\"adding_replicas\":");
    write_lists(w, t, t->adding, false);
    bk_jw_raw(w, ",\"removing_replicas\":");
    write_lists(w, t, t->removing, false);
    bk_jw_raw(w, ",\"version\":3}");
}

void bk_zk_topic_free(bk_zk_topic *t)
{
    free(t->replicas);
    free(t->adding);
    free(t->removing);
    t->replicas = t->adding = t->removing = NULL;
}

/* One broker-id list of {"p":[ids]} into out[p * rf ...] (-1 padded
 * already); ids must be valid broker ids, at most rf of them. */
static int parse_list(const bk_json *l, int32_t *out, int rf)
{
    if (l->type != BK_J_ARR || l->nkids > rf)
        return BK_EINVAL;
    for (int k = 0; k < l->nkids; k++) {
        const bk_json *b = &l->kids[k];
        if (b->type != BK_J_NUM || !b->isint || b->i < 0 || b->i > INT32_MAX)
            return BK_EINVAL;
        out[k] = (int32_t)b->i;
    }
    return 0;
}

/* adding_replicas / removing_replicas: absent or empty -> NULL. */
static int parse_moves(const bk_json *o, const bk_zk_topic *t, int32_t **out)
{
    *out = NULL;
    if (!o || o->type != BK_J_OBJ || o->nkids == 0)
        return 0;
    int32_t *v = malloc((size_t)t->nparts * (size_t)t->rf * sizeof *v);
    if (!v)
        return BK_ENOMEM;
    for (size_t i = 0; i < (size_t)t->nparts * (size_t)t->rf; i++)
        v[i] = -1;
    for (int i = 0; i < o->nkids; i++) {
        const bk_json *l = &o->kids[i];
        char *e;
        long p = strtol(l->key, &e, 10);
        if (*e || !l->key[0] || p < 0 || p >= t->nparts ||
            parse_list(l, v + (size_t)p * (size_t)t->rf, t->rf) != 0) {
            free(v);
            return BK_EINVAL;
        }
    }
    *out = v;
    return 0;
}

int bk_zkj_topic_parse(const char *s, size_t len, bk_zk_topic *t)
{
    memset(t, 0, sizeof *t);
    bk_json *j = bk_json_parse(s, len);
    if (!j)
        return BK_EINVAL;
    int r = BK_EINVAL;
    const bk_json *parts = bk_json_get(j, "partitions");
    const bk_json *id = bk_json_get(j, "topic_id");
    if (id && id->type == BK_J_STR && bk_uuid_decode(id->str, t->id) == 0)
        t->has_id = true;
    if (!parts || parts->type != BK_J_OBJ || parts->nkids == 0 || parts->nkids > 100000)
        goto out;
    t->nparts = parts->nkids;
    /* partition numbers are 0..n-1, in any order; rf = the longest list */
    int rf = 0;
    for (int i = 0; i < parts->nkids; i++) {
        const bk_json *l = &parts->kids[i];
        if (l->type != BK_J_ARR || l->nkids == 0 || l->nkids > 1000)
            goto out;
        if (l->nkids > rf)
            rf = l->nkids;
    }
    t->rf = (int16_t)rf;
    t->replicas = malloc((size_t)t->nparts * (size_t)rf * sizeof *t->replicas);
    if (!t->replicas)
        goto out;
    for (size_t i = 0; i < (size_t)t->nparts * (size_t)rf; i++)
        t->replicas[i] = -1;
    bool *seen = calloc((size_t)t->nparts, 1);
    if (!seen)
        goto out;
    for (int i = 0; i < parts->nkids; i++) {
        const bk_json *l = &parts->kids[i];
        char *e;
        long p = strtol(l->key, &e, 10);
        if (*e || !l->key[0] || p < 0 || p >= t->nparts || seen[p] ||
            parse_list(l, t->replicas + (size_t)p * (size_t)rf, rf) != 0) {
            free(seen);
            goto out;
        }
        seen[p] = true;
    }
    free(seen);
    if (parse_moves(bk_json_get(j, "adding_replicas"), t, &t->adding) != 0 ||
        parse_moves(bk_json_get(j, "removing_replicas"), t, &t->removing) != 0)
        goto out;
    r = 0;
out:
    if (r)
        bk_zk_topic_free(t);
    bk_json_free(j);
    return r;
}

void bk_zkj_pstate(bk_jw *w, const bk_zk_pstate *p)
{
    bk_jw_fmt(w, "{\"controller_epoch\":%d,\"leader\":%d,\"version\":1,\"leader_epoch\":%d,\"isr\":[",
              p->controller_epoch, p->leader, p->leader_epoch);
    for (int i = 0; i < p->nisr; i++)
        bk_jw_fmt(w, "%s%d", i ? "," : "", p->isr[i]);
    bk_jw_raw(w, "]}");
}

int bk_zkj_pstate_parse(const char *s, size_t len, bk_zk_pstate *p)
{
    memset(p, 0, sizeof *p);
    bk_json *j = bk_json_parse(s, len);
    int r = BK_EINVAL;
    const bk_json *isr = bk_json_get(j, "isr");
    if (!j || get_i32(j, "leader", &p->leader) || get_i32(j, "leader_epoch", &p->leader_epoch) ||
        get_i32(j, "controller_epoch", &p->controller_epoch) || !isr || isr->type != BK_J_ARR ||
        isr->nkids > 64)
        goto out;
    for (int i = 0; i < isr->nkids; i++) {
        if (isr->kids[i].type != BK_J_NUM || !isr->kids[i].isint)
            goto out;
        p->isr[p->nisr++] = (int32_t)isr->kids[i].i;
    }
    r = 0;
out:
    bk_json_free(j);
    return r;
}

void bk_zkj_config(bk_jw *w, char *const *keys, char *const *vals, int n)
{
    bk_jw_raw(w, "{\"version\":1,\"config\":{");
    for (int i = 0; i < n; i++) {
        if (i)
            bk_jw_raw(w, ",");
        bk_jw_str(w, keys[i]);
        bk_jw_raw(w, ":");
        bk_jw_str(w, vals[i]);
    }
    bk_jw_raw(w, "}}");
}

int bk_zkj_config_parse(const char *s, size_t len, char ***keys, char ***vals, int *n)
{
    *keys = *vals = NULL;
    *n = 0;
    bk_json *j = bk_json_parse(s, len);
    const bk_json *c = bk_json_get(j, "config");
    if (!c || c->type != BK_J_OBJ) {
        bk_json_free(j);
        return BK_EINVAL;
    }
    char **k = calloc((size_t)c->nkids + 1, sizeof *k);
    char **v = calloc((size_t)c->nkids + 1, sizeof *v);
    int m = 0, r = 0;
    for (int i = 0; k && v && i < c->nkids; i++) {
        if (c->kids[i].type != BK_J_STR)
            continue;
        k[m] = strdup(c->kids[i].key);
        v[m] = strdup(c->kids[i].str);
        if (!k[m] || !v[m]) {
            r = BK_ENOMEM;
            m++;
            break;
        }
        m++;
    }
    if (!k || !v)
        r = BK_ENOMEM;
    bk_json_free(j);
    if (r) {
        for (int i = 0; k && v && i < m; i++) {
            free(k[i]);
            free(v[i]);
        }
        free(k);
        free(v);
        return r;
    }
    *keys = k;
    *vals = v;
    *n = m;
    return 0;
}

void bk_zkj_controller(bk_jw *w, int32_t broker_id, int64_t timestamp)
{
    bk_jw_fmt(w, "{\"version\":2,\"brokerid\":%d,\"timestamp\":\"%lld\",\"kraftControllerEpoch\":-1}",
              broker_id, (long long)timestamp);
}

int bk_zkj_controller_parse(const char *s, size_t len, int32_t *broker_id)
{
    bk_json *j = bk_json_parse(s, len);
    int r = BK_EINVAL;
    if (j && j->type == BK_J_NUM && j->isint && j->i >= 0 && j->i <= INT32_MAX) {
        *broker_id = (int32_t)j->i;
        r = 0;
    } else if (j && get_i32(j, "brokerid", broker_id) == 0) {
        r = 0;
    }
    bk_json_free(j);
    return r;
}

void bk_zkj_config_change(bk_jw *w, const char *entity_path)
{
    bk_jw_raw(w, "{\"version\":2,\"entity_path\":");
    bk_jw_str(w, entity_path);
    bk_jw_raw(w, "}");
}
