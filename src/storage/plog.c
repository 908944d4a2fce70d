/*
 * plog.c - a partition's log (see plog.h).
 */
#include "plog.h"
#include "../core/vec.h"

#include "../core/uuid.h"
#include "checkpoint.h"
#include "fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void bk_logcfg_defaults(bk_logcfg *c)
{
    c->segment_bytes = 1073741824;     /* 1 GiB */
    c->segment_ms = 604800000;         /* 7 days */
    c->index_bytes = 10485760;         /* 10 MiB */
    c->index_interval = 4096;
    c->retention_ms = 604800000;       /* 7 days */
    c->retention_bytes = -1;
    c->flush_messages = INT64_MAX;
    c->flush_ms = INT64_MAX;
}

void bk_plog_dirname(char *out, size_t cap, const char *logdir, const char *topic, int32_t part)
{
    snprintf(out, cap, "%s/%s-%" PRId32, logdir, topic, part);
}

static bk_segcfg segcfg(const bk_logcfg *c)
{
    return (bk_segcfg){.index_bytes = c->index_bytes, .index_interval = c->index_interval};
}

static int io_err(int r)
{
    return r == BK_ENOSPC ? BK_ENOSPC : BK_EIO;
}

static bk_plog *plog_new(const char *logdir, const char *topic, int32_t partition,
                         const bk_logcfg *cfg)
{
    bk_plog *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    size_t cap = strlen(logdir) + strlen(topic) + 16;
    l->dir = malloc(cap);
    l->topic = strdup(topic);
    if (!l->dir || !l->topic) {
        free(l->dir);
        free(l->topic);
        free(l);
        return NULL;
    }
    bk_plog_dirname(l->dir, cap, logdir, topic, partition);
    l->partition = partition;
    l->cfg = *cfg;
    return l;
}

static int push_seg(bk_plog *l, bk_segment *s)
{
    bk_segment **n = bk_vec_grow(l->segs, l->nsegs, &l->capsegs, sizeof *n, 4);
    if (!n)
        return BK_ENOMEM;
    l->segs = n;
    l->segs[l->nsegs++] = s;
    return 0;
}

int bk_plog_create(bk_plog **out, const char *logdir, const char *topic, int32_t partition,
                   const bk_logcfg *cfg, int64_t now_ms)
{
    bk_plog *l = plog_new(logdir, topic, partition, cfg);
    if (!l)
        return BK_ENOMEM;
    int r = 0;
    if (mkdir(l->dir, 0755) == -1 && errno != EEXIST)
        r = errno == ENOSPC ? BK_ENOSPC : BK_EIO;
    bk_segment *s = r ? NULL : calloc(1, sizeof *s);
    if (!r && !s)
        r = BK_ENOMEM;
    if (!r) {
        bk_segcfg sc = segcfg(cfg);
        r = bk_seg_create(s, l->dir, 0, &sc, now_ms);
        if (!r)
            r = push_seg(l, s);
        else {
            bk_seg_close(s);
            free(s);
        }
    }
    if (!r) {
        /* the new directory entry must survive a crash */
        char *slash = strrchr(l->dir, '/');
        if (slash) {
            *slash = 0;
            (void)bk_io->fsync_dir(l->dir);
            *slash = '/';
        }
        l->last_flush_ms = now_ms;
        *out = l;
        return 0;
    }
    bk_plog_free(l);
    return r;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Base offsets of the .log files in dir, sorted. Leftover .tmp, .deleted,
 * and .cleaned files of an interrupted operation are removed. */
static int list_segments(const char *dir, int64_t **bases, int *n)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? BK_ENOENT : BK_EIO;
    int cap = 16, cnt = 0;
    int64_t *b = malloc((size_t)cap * sizeof *b);
    struct dirent *de;
    while (b && (de = readdir(d))) {
        const char *name = de->d_name;
        size_t len = strlen(name);
        if (len > 8 && (strcmp(name + len - 8, ".deleted") == 0 ||
                        (len > 4 && strcmp(name + len - 4, ".tmp") == 0))) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, name);
            (void)bk_io->unlink(path);
            continue;
        }
        if (len != 24 || strcmp(name + 20, ".log") != 0)
            continue;
        char *end;
        long long v = strtoll(name, &end, 10);
        if (end != name + 20 || v < 0)
            continue;
        if (cnt == cap) {
            cap *= 2;
            int64_t *nb = realloc(b, (size_t)cap * sizeof *nb);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
        }
        b[cnt++] = v;
    }
    closedir(d);
    if (!b)
        return BK_ENOMEM;
    qsort(b, (size_t)cnt, sizeof *b, cmp_i64);
    *bases = b;
    *n = cnt;
    return 0;
}

int bk_plog_open(bk_plog **out, const char *logdir, const char *topic, int32_t partition,
                 const bk_logcfg *cfg, int64_t recovery_point, int64_t log_start, int64_t now_ms,
                 bk_plog_open_stats *stats)
{
    return bk_plog_load(out, logdir, topic, partition, cfg, recovery_point, log_start, false,
                        now_ms, stats);
}

int bk_plog_load(bk_plog **out, const char *logdir, const char *topic, int32_t partition,
                 const bk_logcfg *cfg, int64_t recovery_point, int64_t log_start, bool clean,
                 int64_t now_ms, bk_plog_open_stats *stats)
{
    bk_plog_open_stats st = {0};
    bk_plog *l = plog_new(logdir, topic, partition, cfg);
    if (!l)
        return BK_ENOMEM;
    int64_t *bases = NULL;
    int nb = 0;
    int r = list_segments(l->dir, &bases, &nb);
    if (r) {
        bk_plog_free(l);
        return r;
    }
    bk_segcfg sc = segcfg(cfg);
    for (int i = 0; i < nb && !r; i++) {
        bool active = i == nb - 1;
        /* The segment holding the recovery point and everything after it
         * may hold unflushed data: scan them. So is the segment that ends
         * exactly at the recovery point: its data was flushed while it was
         * active, but the final time index entry and the trimming of its
         * index files come with the roll and its own flush, which a crash
         * may have prevented. */
        bool next_above = i + 1 < nb && bases[i + 1] >= recovery_point;
        bool recover = bases[i] >= recovery_point || next_above || (active && !clean);
        bk_segment *s = calloc(1, sizeof *s);
        if (!s) {
            r = BK_ENOMEM;
            break;
        }
        uint64_t trunc = 0;
        r = bk_seg_open(s, l->dir, bases[i], &sc, recover, active, now_ms, &trunc);
        if (r) {
            bk_seg_close(s);
            free(s);
            break;
        }
        st.segments++;
        st.recovered_segments += s->recovered;
        st.truncated_bytes += trunc;
        if (!active && !recover)
            s->next = bases[i + 1];
        if (!active)
            bk_seg_mark_sealed(s);
        if ((r = push_seg(l, s))) {
            bk_seg_close(s);
            free(s);
        }
        if (recover && trunc && !active) {
            /* A torn batch in the middle of the log means everything after
             * it is suspect too (offsets must stay contiguous): drop the
             * later segments, as Kafka's recovery does. */
            for (int j = i + 1; j < nb; j++) {
                bk_segment tmp;
                uint64_t t2;
                if (bk_seg_open(&tmp, l->dir, bases[j], &sc, false, false, now_ms, &t2) == 0) {
                    st.truncated_bytes += tmp.size;
                    bk_seg_delete_files(&tmp);
                }
                bk_seg_close(&tmp);
            }
            break;
        }
    }
    free(bases);
    if (!r && l->nsegs == 0) {
        /* directory without segments (crash during creation): start one */
        bk_segment *s = calloc(1, sizeof *s);
        r = s ? bk_seg_create(s, l->dir, BK_MAX(recovery_point, log_start), &sc, now_ms)
              : BK_ENOMEM;
        if (!r)
            r = push_seg(l, s);
        else if (s) {
            bk_seg_close(s);
            free(s);
        }
    }
    if (r) {
        bk_plog_free(l);
        return r;
    }
    /* the last segment is the active one: make sure it is open for writes */
    bk_segment *act = bk_plog_active(l);
    if (act->fd < 0 && (r = bk_seg_fd(act))) {
        bk_plog_free(l);
        return r;
    }
    if (!act->idx_loaded && (r = bk_seg_load_indexes(act))) {
        bk_plog_free(l);
        return r;
    }
    int64_t leo = bk_plog_leo(l);
    l->log_start = BK_MAX(log_start, l->segs[0]->base);
    if (l->log_start > leo)
        l->log_start = leo;
    l->recovery_point = BK_MIN(BK_MAX(recovery_point, 0), leo);
    /* everything that survived recovery is on disk as far as we can tell;
     * the recovery point moves only after an fsync of our own */
    l->hw = leo;
    l->last_flush_ms = now_ms;
    if (stats)
        *stats = st;
    *out = l;
    return 0;
}

int bk_plog_close(bk_plog *l)
{
    if (!l->offline && l->nsegs) {
        int r = bk_plog_flush_sync(l, 0);
        if (r)
            return r;
        bk_segment *s = bk_plog_active(l);
        int r1 = bk_index_trim(&s->oidx), r2 = bk_index_trim(&s->tidx);
        if (r1 || r2)
            return BK_EIO;
    }
    return 0;
}

void bk_plog_free(bk_plog *l)
{
    if (!l)
        return;
    for (int i = 0; i < l->nsegs; i++) {
        bk_seg_close(l->segs[i]);
        free(l->segs[i]);
    }
    free(l->segs);
    free(l->dir);
    free(l->topic);
    free(l);
}

uint64_t bk_plog_size(const bk_plog *l)
{
    uint64_t t = 0;
    for (int i = 0; i < l->nsegs; i++)
        t += l->segs[i]->size;
    return t;
}

/* Kafka's LogSegment.shouldRoll. */
static bool should_roll(const bk_plog *l, const bk_segment *s, size_t len, int64_t last,
                        int64_t now_ms)
{
    if (s->size == 0)
        return last - s->base > INT32_MAX; /* only an offset overflow rolls an empty one */
    if ((int64_t)s->size > l->cfg.segment_bytes - (int64_t)len)
        return true;
    int64_t since = s->first_ts >= 0 ? s->first_ts : s->created_ms;
    if (l->cfg.segment_ms < INT64_MAX && now_ms - since > l->cfg.segment_ms)
        return true;
    if (bk_index_full(&s->oidx) || bk_index_full(&s->tidx))
        return true;
    if (last - s->base > INT32_MAX || s->size + len > INT32_MAX)
        return true;
    return false;
}

static int roll(bk_plog *l, int64_t base, int64_t now_ms)
{
    bk_segment *old = bk_plog_active(l);
    /* the final time index entry, as Kafka writes at roll */
    if (old->max_ts >= 0)
        bk_index_append_time(&old->tidx, old->max_ts, (uint32_t)(old->max_ts_off - old->base));
    bk_segment *s = calloc(1, sizeof *s);
    if (!s)
        return BK_ENOMEM;
    bk_segcfg sc = segcfg(&l->cfg);
    int r = bk_seg_create(s, l->dir, base, &sc, now_ms);
    if (!r)
        r = push_seg(l, s);
    if (r) {
        bk_seg_delete_files(s);
        bk_seg_close(s);
        free(s);
        return r;
    }
    bk_seg_mark_sealed(old);
    l->flush_on_roll = true;
    return 0;
}

int bk_plog_append(bk_plog *l, const uint8_t *data, size_t len, int64_t first, int64_t last,
                   int64_t max_ts, int64_t max_ts_off, int64_t now_ms)
{
    if (l->offline)
        return BK_EIO;
    BK_BUG_ON(first != bk_plog_leo(l) || last < first);
    bk_segment *s = bk_plog_active(l);
    if (should_roll(l, s, len, last, now_ms)) {
        int r = roll(l, first, now_ms);
        if (r) {
            if (r != BK_ENOSPC)
                l->offline = true;
            return io_err(r);
        }
        s = bk_plog_active(l);
    }
    int r = bk_seg_append(s, data, len, first, last, max_ts, max_ts_off);
    if (r) {
        if (r != BK_ENOSPC)
            l->offline = true;
        return io_err(r);
    }
    l->unflushed += last - first + 1;
    return 0;
}

/* Index of the segment that holds offset (last with base <= offset). */
static int find_seg(const bk_plog *l, int64_t offset)
{
    int lo = 0, hi = l->nsegs - 1, ans = 0;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (l->segs[mid]->base <= offset) {
            ans = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return ans;
}

int bk_plog_read(bk_plog *l, int64_t offset, uint32_t max_bytes, int64_t max_offset, bool min_one,
                 bk_plog_slice *out)
{
    memset(out, 0, sizeof *out);
    out->fd = -1;
    out->first_offset = -1;
    int64_t leo = bk_plog_leo(l);
    if (offset < l->log_start || offset > leo)
        return BK_ERANGE;
    if (offset >= max_offset || offset == leo)
        return 0;
    for (int i = find_seg(l, offset); i < l->nsegs; i++) {
        bk_segment *s = l->segs[i];
        if (offset >= s->next)
            continue; /* a gap (after a truncation): try the next segment */
        bk_seg_range rg;
        int r = bk_seg_read(s, offset, max_bytes, max_offset, min_one, &rg);
        if (r == BK_ENOENT)
            continue;
        if (r)
            return r;
        out->seg = s;
        out->fd = s->fd;
        out->pos = rg.pos;
        out->len = rg.len;
        out->first_offset = rg.first_offset;
        out->end_offset = rg.end_offset;
        return 0;
    }
    return 0;
}

int bk_plog_offset_for_time(bk_plog *l, int64_t ts, int64_t *offset, int64_t *batch_ts)
{
    for (int i = 0; i < l->nsegs; i++) {
        bk_segment *s = l->segs[i];
        int r = bk_seg_load_indexes(s);
        if (r)
            return r;
        if (s->max_ts < ts && s != bk_plog_active(l))
            continue;
        r = bk_seg_find_time(s, ts, offset, batch_ts);
        if (r == BK_ENOENT)
            continue;
        if (r == 0 && *offset < l->log_start)
            *offset = l->log_start;
        return r;
    }
    return BK_ENOENT;
}

void bk_plog_max_timestamp(bk_plog *l, int64_t *ts, int64_t *offset)
{
    *ts = -1;
    *offset = -1;
    for (int i = 0; i < l->nsegs; i++) {
        bk_segment *s = l->segs[i];
        if (bk_seg_load_indexes(s) != 0)
            continue;
        if (s->max_ts > *ts) {
            *ts = s->max_ts;
            *offset = s->max_ts_off;
        }
    }
}

/* Drop segments [from, nsegs) entirely (files and memory). */
static int drop_tail_segments(bk_plog *l, int from)
{
    int r = 0;
    while (l->nsegs > from) {
        bk_segment *s = l->segs[--l->nsegs];
        if (bk_seg_delete_files(s))
            r = BK_EIO;
        bk_seg_close(s);
        free(s);
    }
    return r;
}

int bk_plog_truncate_to(bk_plog *l, int64_t offset)
{
    if (l->flushing)
        return BK_EAGAIN;
    if (offset >= bk_plog_leo(l))
        return 0;
    if (offset < l->segs[0]->base)
        return BK_EINVAL;
    int i = find_seg(l, offset);
    int r = 0;
    if (i + 1 < l->nsegs)
        r = drop_tail_segments(l, i + 1);
    bk_segment *s = l->segs[i];
    bk_seg_mark_active(s);
    if (!r)
        r = bk_seg_fd(s);
    if (!r)
        r = bk_seg_load_indexes(s);
    if (!r)
        r = bk_seg_truncate_to(s, offset);
    if (r) {
        l->offline = true;
        return BK_EIO;
    }
    int64_t leo = bk_plog_leo(l);
    if (l->recovery_point > leo)
        l->recovery_point = leo;
    if (l->hw > leo)
        l->hw = leo;
    if (l->log_start > leo)
        l->log_start = leo;
    return 0;
}

int bk_plog_truncate_fully(bk_plog *l, int64_t offset, int64_t now_ms)
{
    if (l->flushing)
        return BK_EAGAIN;
    int r = drop_tail_segments(l, 0);
    bk_segment *s = calloc(1, sizeof *s);
    if (!s)
        return BK_ENOMEM;
    bk_segcfg sc = segcfg(&l->cfg);
    if (!r)
        r = bk_seg_create(s, l->dir, offset, &sc, now_ms);
    if (!r)
        r = push_seg(l, s);
    if (r) {
        bk_seg_close(s);
        free(s);
        l->offline = true;
        return BK_EIO;
    }
    l->log_start = l->recovery_point = l->hw = offset;
    l->unflushed = 0;
    return 0;
}

/* Delete segments [0, n) (never the active one). */
static int drop_head_segments(bk_plog *l, int n)
{
    if (n >= l->nsegs)
        n = l->nsegs - 1;
    if (n <= 0)
        return 0;
    int r = 0;
    for (int i = 0; i < n; i++) {
        if (bk_seg_delete_files(l->segs[i]))
            r = BK_EIO;
        bk_seg_close(l->segs[i]);
        free(l->segs[i]);
    }
    memmove(l->segs, l->segs + n, (size_t)(l->nsegs - n) * sizeof *l->segs);
    l->nsegs -= n;
    if (l->log_start < l->segs[0]->base)
        l->log_start = l->segs[0]->base;
    return r;
}

int bk_plog_delete_records(bk_plog *l, int64_t offset)
{
    if (offset > l->hw || offset > bk_plog_leo(l))
        return BK_ERANGE;
    if (offset <= l->log_start)
        return 0;
    l->log_start = offset;
    if (l->flushing)
        return 0; /* segments go at the next retention pass */
    int n = 0;
    while (n < l->nsegs - 1 && l->segs[n]->next <= offset)
        n++;
    return drop_head_segments(l, n);
}

int bk_plog_retention(bk_plog *l, int64_t now_ms)
{
    if (l->flushing)
        return 0;
    int n = 0;
    /* segments wholly below the log start offset (DeleteRecords) */
    while (n < l->nsegs - 1 && l->segs[n]->next <= l->log_start)
        n++;
    if (l->cfg.retention_ms >= 0) {
        while (n < l->nsegs - 1) {
            bk_segment *s = l->segs[n];
            if (bk_seg_load_indexes(s) != 0)
                break;
            int64_t ts = s->max_ts >= 0 ? s->max_ts : s->created_ms;
            if (now_ms - ts <= l->cfg.retention_ms)
                break;
            n++;
        }
    }
    if (l->cfg.retention_bytes >= 0) {
        uint64_t total = bk_plog_size(l);
        for (int i = 0; i < n; i++)
            total -= l->segs[i]->size;
        while (n < l->nsegs - 1 && total - l->segs[n]->size >= (uint64_t)l->cfg.retention_bytes) {
            total -= l->segs[n]->size;
            n++;
        }
    }
    if (n == 0)
        return 0;
    int r = drop_head_segments(l, n);
    return r ? r : n;
}

bool bk_plog_flush_due(const bk_plog *l, int64_t now_ms)
{
    if (l->flushing || l->offline)
        return false;
    if (l->flush_on_roll)
        return true;
    if (l->unflushed == 0)
        return false;
    return l->unflushed >= l->cfg.flush_messages ||
           (l->cfg.flush_ms < INT64_MAX && now_ms - l->last_flush_ms >= l->cfg.flush_ms);
}

void bk_plog_flush_prepare(bk_plog *l, bk_plog_flushjob *job, int64_t now_ms)
{
    memset(job, 0, sizeof *job);
    job->log = l;
    job->upto = l->recovery_point;
    int first = find_seg(l, l->recovery_point);
    for (int i = 0; i < l->nsegs && job->nsegs < (int)BK_ARRAY_LEN(job->segs); i++) {
        bk_segment *s = l->segs[i];
        /* from the recovery point on, plus sealed segments whose indexes
         * were not written out yet (a flush taken just before their roll
         * covered their data but not their final index entries) */
        if (i < first && !(s->sealed && !s->trimmed && s->idx_loaded))
            continue;
        int k = job->nsegs++;
        job->segs[k] = s;
        bk_seg_flushpoint_take(s, &job->points[k]);
        job->trim[k] = i < l->nsegs - 1;
        /* The fd must be open (an evicted one is reopened: fsync works on
         * the file, whichever descriptor) and stay open while the job runs. */
        if (bk_seg_fd(s) != 0)
            job->result = BK_EIO;
        bk_seg_pin(s);
        if (job->points[k].next > job->upto)
            job->upto = job->points[k].next;
    }
    l->flushing = true;
    l->flush_on_roll = false;
    l->unflushed = 0;
    l->last_flush_ms = now_ms;
}

void bk_plog_flush_run(bk_plog_flushjob *job)
{
    for (int i = 0; i < job->nsegs && !job->result; i++) {
        bk_segment *s = job->segs[i];
        job->result = bk_seg_flush(s, &job->points[i]);
        if (!job->result && job->trim[i] && s->idx_loaded) {
            job->result = bk_index_trim(&s->oidx);
            if (!job->result)
                job->result = bk_index_trim(&s->tidx);
        }
    }
}

void bk_plog_flush_complete(bk_plog_flushjob *job)
{
    bk_plog *l = job->log;
    l->flushing = false;
    for (int i = 0; i < job->nsegs; i++) {
        if (!job->result && job->trim[i])
            job->segs[i]->trimmed = true;
        bk_seg_unpin(job->segs[i]);
    }
    if (job->result) {
        /* fsync failed: the page cache may have dropped our data; Kafka
         * halts here. We stop writing to this log until restart. */
        l->offline = true;
        return;
    }
    int64_t upto = job->upto;
    if (upto > l->recovery_point)
        l->recovery_point = upto;
    if (l->nsegs > 1 && job->segs[job->nsegs - 1] != bk_plog_active(l))
        l->flush_on_roll = true; /* more sealed segments to flush */
}

int bk_plog_flush_sync(bk_plog *l, int64_t now_ms)
{
    if (l->offline)
        return BK_EIO;
    do {
        bk_plog_flushjob job;
        bk_plog_flush_prepare(l, &job, now_ms);
        bk_plog_flush_run(&job);
        bk_plog_flush_complete(&job);
        if (job.result)
            return BK_EIO;
    } while (l->flush_on_roll);
    return 0;
}

/* partition.metadata, Kafka's PartitionMetadataFile. */
int bk_plog_write_topic_id(bk_plog *l, const uint8_t id[16])
{
    char text[64] = "version: 0\ntopic_id: ";
    size_t n = strlen(text);
    bk_uuid_encode(id, text + n);
    n += 22;
    text[n++] = '\n';
    char path[4096];
    snprintf(path, sizeof path, "%s/partition.metadata", l->dir);
    return bk_ckpt_write_file(path, text, n);
}

int bk_plog_read_topic_id(const bk_plog *l, uint8_t id[16])
{
    char path[4096], text[128];
    snprintf(path, sizeof path, "%s/partition.metadata", l->dir);
    int fd = bk_io->open(path, O_RDONLY, 0);
    if (fd == -1)
        return errno == ENOENT ? BK_ENOENT : BK_EIO;
    ssize_t n = bk_io_pread_full(fd, text, sizeof text - 1, 0);
    bk_io->close(fd);
    if (n < 0)
        return BK_EIO;
    text[n] = 0;
    char *k = strstr(text, "topic_id: ");
    if (strncmp(text, "version: 0\n", 11) != 0 || !k)
        return BK_ECORRUPT;
    k += 10;
    char *nl = strchr(k, '\n');
    if (nl)
        *nl = 0;
    return bk_uuid_decode(k, id) == 0 ? 0 : BK_ECORRUPT;
}
