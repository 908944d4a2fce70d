/*
 * metastore.c - the single-node file store (see metastore.h).
 */
#include "metastore.h"
#include "../core/vec.h"

#include "../core/uuid.h"
#include "../storage/checkpoint.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FILE_NAME "brook-metadata"
#define MAGIC     "brook-metadata 1"

typedef struct file_store {
    bk_metastore base;
    char *path;
    bk_meta_topic *t; /* owned: the durable state */
    int n, cap;
} file_store;

void bk_meta_topic_free(bk_meta_topic *t)
{
    if (!t)
        return;
    free(t->name);
    for (int i = 0; i < t->nconfigs; i++) {
        free(t->keys[i]);
        free(t->vals[i]);
    }
    free(t->keys);
    free(t->vals);
    free(t->replicas);
    memset(t, 0, sizeof *t);
}

static int copy_topic(bk_meta_topic *dst, const bk_meta_topic *src)
{
    memset(dst, 0, sizeof *dst);
    dst->name = strdup(src->name);
    memcpy(dst->id, src->id, 16);
    dst->partitions = src->partitions;
    dst->replication_factor = src->replication_factor;
    dst->internal = src->internal;
    dst->keys = calloc((size_t)src->nconfigs + 1, sizeof *dst->keys);
    dst->vals = calloc((size_t)src->nconfigs + 1, sizeof *dst->vals);
    if (!dst->name || !dst->keys || !dst->vals)
        goto oom;
    for (int i = 0; i < src->nconfigs; i++) {
        dst->keys[i] = strdup(src->keys[i]);
        dst->vals[i] = strdup(src->vals[i]);
        dst->nconfigs++;
        if (!dst->keys[i] || !dst->vals[i])
            goto oom;
    }
    return 0;
oom:
    bk_meta_topic_free(dst);
    return BK_ENOMEM;
}

/* ------------------------------------------------------------ encoding */

/* Percent-encode everything but [A-Za-z0-9._-]. */
static void pct_encode(FILE *f, const char *s)
{
    if (!*s) {
        fputs("%", f); /* the empty string: a lone '%' */
        return;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '.' || *p == '_' || *p == '-')
            fputc(*p, f);
        else
            fprintf(f, "%%%02X", *p);
    }
}

static char *pct_decode(const char *s)
{
    if (strcmp(s, "%") == 0)
        return strdup("");
    size_t n = strlen(s);
    char *out = malloc(n + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n + 1) {
            unsigned v;
            if (sscanf(s + i + 1, "%2X", &v) != 1) {
                free(out);
                return NULL;
            }
            *o++ = (char)v;
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    *o = 0;
    return out;
}

static int save(file_store *fs)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return BK_ENOMEM;
    fprintf(f, "%s\n", MAGIC);
    for (int i = 0; i < fs->n; i++) {
        bk_meta_topic *t = &fs->t[i];
        char id[23];
        bk_uuid_encode(t->id, id);
        fputs("topic ", f);
        pct_encode(f, t->name);
        fprintf(f, " %s %d %d %d\n", id, t->partitions, t->replication_factor, t->internal);
        for (int k = 0; k < t->nconfigs; k++) {
            fputs("config ", f);
            pct_encode(f, t->name);
            fputc(' ', f);
            pct_encode(f, t->keys[k]);
            fputc(' ', f);
            pct_encode(f, t->vals[k]);
            fputc('\n', f);
        }
    }
    fclose(f);
    int r = bk_ckpt_write_file(fs->path, buf, len);
    free(buf);
    return r;
}

static int find(file_store *fs, const char *name)
{
    for (int i = 0; i < fs->n; i++)
        if (strcmp(fs->t[i].name, name) == 0)
            return i;
    return -1;
}

static int parse(file_store *fs, char *text)
{
    char *save_ptr = NULL;
    char *line = strtok_r(text, "\n", &save_ptr);
    if (!line || strcmp(line, MAGIC) != 0)
        return BK_ECORRUPT;
    while ((line = strtok_r(NULL, "\n", &save_ptr))) {
        char w[6][1024];
        int nw = sscanf(line, "%1023s %1023s %1023s %1023s %1023s %1023s", w[0], w[1], w[2], w[3],
                        w[4], w[5]);
        if (nw == 6 && strcmp(w[0], "topic") == 0) {
            bk_meta_topic *nt = bk_vec_grow(fs->t, fs->n, &fs->cap, sizeof *nt, 16);
            if (!nt)
                return BK_ENOMEM;
            fs->t = nt;
            bk_meta_topic *t = &fs->t[fs->n];
            memset(t, 0, sizeof *t);
            t->name = pct_decode(w[1]);
            if (!t->name || bk_uuid_decode(w[2], t->id) != 0)
                return BK_ECORRUPT;
            t->partitions = atoi(w[3]);
            t->replication_factor = (int16_t)atoi(w[4]);
            t->internal = atoi(w[5]) != 0;
            if (t->partitions < 1)
                return BK_ECORRUPT;
            fs->n++;
        } else if (nw == 4 && strcmp(w[0], "config") == 0) {
            char *name = pct_decode(w[1]);
            int i = name ? find(fs, name) : -1;
            free(name);
            if (i < 0)
                return BK_ECORRUPT;
            bk_meta_topic *t = &fs->t[i];
            char **nk = realloc(t->keys, (size_t)(t->nconfigs + 1) * sizeof *nk);
            if (!nk)
                return BK_ENOMEM;
            t->keys = nk;
            char **nv = realloc(t->vals, (size_t)(t->nconfigs + 1) * sizeof *nv);
            if (!nv)
                return BK_ENOMEM;
            t->vals = nv;
            t->keys[t->nconfigs] = pct_decode(w[2]);
            t->vals[t->nconfigs] = pct_decode(w[3]);
            if (!t->keys[t->nconfigs] || !t->vals[t->nconfigs])
                return BK_ECORRUPT;
            t->nconfigs++;
        } else {
            return BK_ECORRUPT;
        }
    }
    return 0;
}

static int fs_load(bk_metastore *s, bk_meta_topic **topics, int *n)
{
    file_store *fs = (file_store *)s;
    bk_meta_topic *out = calloc((size_t)fs->n + 1, sizeof *out);
    if (!out)
        return BK_ENOMEM;
    for (int i = 0; i < fs->n; i++)
        if (copy_topic(&out[i], &fs->t[i])) {
            for (int j = 0; j < i; j++)
                bk_meta_topic_free(&out[j]);
            free(out);
            return BK_ENOMEM;
        }
    *topics = out;
    *n = fs->n;
    return 0;
}

static int fs_put(bk_metastore *s, const bk_meta_topic *t)
{
    file_store *fs = (file_store *)s;
    bk_meta_topic copy;
    if (copy_topic(&copy, t))
        return BK_ENOMEM;
    int i = find(fs, t->name);
    bk_meta_topic old;
    bool had = i >= 0;
    if (had) {
        old = fs->t[i];
        fs->t[i] = copy;
    } else {
        bk_meta_topic *nt = bk_vec_grow(fs->t, fs->n, &fs->cap, sizeof *nt, 16);
        if (!nt) {
            bk_meta_topic_free(&copy);
            return BK_ENOMEM;
        }
        fs->t = nt;
        i = fs->n++;
        fs->t[i] = copy;
    }
    int r = save(fs);
    if (r) {
        /* not durable: undo, so memory and file agree */
        bk_meta_topic_free(&fs->t[i]);
        if (had)
            fs->t[i] = old;
        else
            fs->n--;
        return r;
    }
    if (had)
        bk_meta_topic_free(&old);
    return 0;
}

static int fs_remove(bk_metastore *s, const char *name)
{
    file_store *fs = (file_store *)s;
    int i = find(fs, name);
    if (i < 0)
        return BK_ENOENT;
    bk_meta_topic old = fs->t[i];
    memmove(&fs->t[i], &fs->t[i + 1], (size_t)(fs->n - i - 1) * sizeof *fs->t);
    fs->n--;
    int r = save(fs);
    if (r) {
        memmove(&fs->t[i + 1], &fs->t[i], (size_t)(fs->n - i) * sizeof *fs->t);
        fs->t[i] = old;
        fs->n++;
        return r;
    }
    bk_meta_topic_free(&old);
    return 0;
}

static void fs_close(bk_metastore *s)
{
    file_store *fs = (file_store *)s;
    for (int i = 0; i < fs->n; i++)
        bk_meta_topic_free(&fs->t[i]);
    free(fs->t);
    free(fs->path);
    free(fs);
}

static const bk_metastore_ops file_ops = {fs_load, fs_put, fs_remove, fs_close, NULL, NULL};

int bk_metastore_file_open(bk_metastore **out, const char *dir)
{
    file_store *fs = calloc(1, sizeof *fs);
    if (!fs)
        return BK_ENOMEM;
    fs->base.ops = &file_ops;
    size_t pl = strlen(dir) + sizeof(FILE_NAME) + 2;
    fs->path = malloc(pl);
    if (!fs->path) {
        free(fs);
        return BK_ENOMEM;
    }
    snprintf(fs->path, pl, "%s/%s", dir, FILE_NAME);
    FILE *f = fopen(fs->path, "rb");
    if (f) {
        char *text = NULL;
        size_t cap = 0;
        ssize_t n = getdelim(&text, &cap, '\0', f);
        fclose(f);
        int r = n < 0 ? BK_EIO : parse(fs, text);
        free(text);
        if (r) {
            fs_close(&fs->base);
            return r;
        }
    } else if (errno != ENOENT) {
        fs_close(&fs->base);
        return BK_EIO;
    }
    *out = &fs->base;
    return 0;
}

/* ------------------------------------------------------------ producer id blocks */

#define PID_FILE_NAME "brook-producer-ids"

typedef struct pid_file_store {
    bk_pidstore base;
    char *path; /* NULL: memory only */
    int32_t broker;
    bool have;         /* a block was claimed before */
    bk_pid_block last; /* the latest claimed block */
} pid_file_store;

/* The number after "name": in json, quoted (Kafka writes the block bounds
 * as strings) or not. */
static int json_int(const char *json, size_t len, const char *name, int64_t *out)
{
    char key[32];
    int kl = snprintf(key, sizeof key, "\"%s\"", name);
    const char *end = json + len;
    for (const char *p = json; p + kl <= end; p++) {
        if (memcmp(p, key, (size_t)kl) != 0)
            continue;
        p += kl;
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
            p++;
        if (p >= end || *p != ':')
            return BK_ECORRUPT;
        p++;
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
            p++;
        bool quoted = p < end && *p == '"';
        if (quoted)
            p++;
        char num[24];
        size_t n = 0;
        if (p < end && *p == '-')
            num[n++] = *p++;
        while (p < end && *p >= '0' && *p <= '9' && n < sizeof num - 1)
            num[n++] = *p++;
        num[n] = 0;
        if (n == 0 || (n == 1 && num[0] == '-') || (quoted && (p >= end || *p != '"')))
            return BK_ECORRUPT;
        errno = 0;
        long long v = strtoll(num, NULL, 10);
        if (errno)
            return BK_ECORRUPT;
        *out = v;
        return 0;
    }
    return BK_ENOENT;
}

int bk_pid_block_parse(const char *json, size_t len, bk_pid_block *out)
{
    int64_t ver, broker, start, end;
    if (json_int(json, len, "version", &ver) != 0 || json_int(json, len, "broker", &broker) != 0 ||
        json_int(json, len, "block_start", &start) != 0 ||
        json_int(json, len, "block_end", &end) != 0)
        return BK_ECORRUPT;
    if (ver != 1 || start < 0 || end < start)
        return BK_ECORRUPT;
    out->broker = (int32_t)broker;
    out->start = start;
    out->end = end;
    return 0;
}

static int pid_claim(bk_pidstore *s, int64_t min_start, bk_pid_block *out)
{
    pid_file_store *ps = (pid_file_store *)s;
    int64_t start = ps->have ? ps->last.end + 1 : 0;
    if (ps->have && ps->last.end == INT64_MAX)
        return BK_ELIMIT;
    if (min_start > start)
        start = min_start;
    if (start > INT64_MAX - BK_PID_BLOCK_SIZE)
        return BK_ELIMIT; /* Kafka: "Have exhausted all producerIds" */
    bk_pid_block b = {ps->broker, start, start + BK_PID_BLOCK_SIZE - 1};
    if (ps->path) {
        char buf[160];
        int n = snprintf(buf, sizeof buf,
                         "{\"version\":1,\"broker\":%d,\"block_start\":\"%lld\",\"block_end\":"
                         "\"%lld\"}",
                         (int)b.broker, (long long)b.start, (long long)b.end);
        int r = bk_ckpt_write_file(ps->path, buf, (size_t)n);
        if (r)
            return r;
    }
    ps->last = b;
    ps->have = true;
    *out = b;
    return 0;
}

static void pid_close(bk_pidstore *s)
{
    pid_file_store *ps = (pid_file_store *)s;
    free(ps->path);
    free(ps);
}

static const bk_pidstore_ops pid_file_ops = {pid_claim, pid_close};

int bk_pidstore_file_open(bk_pidstore **out, const char *dir, int32_t broker_id)
{
    pid_file_store *ps = calloc(1, sizeof *ps);
    if (!ps)
        return BK_ENOMEM;
    ps->base.ops = &pid_file_ops;
    ps->broker = broker_id;
    if (dir) {
        size_t pl = strlen(dir) + sizeof(PID_FILE_NAME) + 2;
        if (!(ps->path = malloc(pl))) {
            free(ps);
            return BK_ENOMEM;
        }
        snprintf(ps->path, pl, "%s/%s", dir, PID_FILE_NAME);
        FILE *f = fopen(ps->path, "rb");
        if (f) {
            char text[512];
            size_t n = fread(text, 1, sizeof text - 1, f);
            int ferr = ferror(f);
            fclose(f);
            text[n] = 0;
            if (ferr || bk_pid_block_parse(text, n, &ps->last) != 0) {
                pid_close(&ps->base);
                return BK_ECORRUPT;
            }
            ps->have = true;
        } else if (errno != ENOENT) {
            pid_close(&ps->base);
            return BK_EIO;
        }
    }
    *out = &ps->base;
    return 0;
}
