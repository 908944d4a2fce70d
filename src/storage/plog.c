/*
 * plog.c - a partition's log (see plog.h).
 */
#include "plog.h"
#include "cleaner.h"
#include "../core/vec.h"

#include "../core/log.h"
#include "../core/uuid.h"
#include "checkpoint.h"
#include "fileio.h"
#include "txnindex.h"

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
    c->cleanup_delete = true;
    c->cleanup_compact = false;
    c->min_cleanable_ratio = 0.5;
    c->min_compaction_lag_ms = 0;
    c->max_compaction_lag_ms = INT64_MAX;
    c->delete_retention_ms = 86400000; /* 1 day */
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
    l->snap_pending = -1;
    l->clean_upto = -1;
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

/* ------------------------------------------- producer state: the files */

#define SNAP_KEEP 3              /* snapshot files kept (newest) */
#define SCAN_BUF (256u << 10)    /* replay read buffer */

static int find_seg(const bk_plog *l, int64_t offset);

static void snap_path(const bk_plog *l, int64_t off, char *out, size_t cap)
{
    bk_seg_filename(out, cap, l->dir, off, ".snapshot");
}

static void snap_delete(bk_plog *l, int64_t off)
{
    char path[4096];
    snap_path(l, off, path, sizeof path);
    (void)bk_io->unlink(path);
    bk_pstate_snap_remove(&l->ps, off);
}

/*
 * Snapshot files. The rule that makes them safe to load after any crash:
 * a file is renamed to its final name <off>.snapshot only once it is
 * fsynced AND everything below off - segment data and .txnindex entries -
 * is fsynced too. A load can then take the newest valid snapshot at or
 * below the LEO and trust the .txnindex entries below it. The state is
 * first written to <off>.snapshot.tmp:
 *   - at roll, on the loop thread, without fsync; the flush that follows
 *     the roll (flush_on_roll) covers the data below off, fsyncs the file
 *     and renames it on the background thread (bk_plog_flush_run);
 *   - at clean close (after the final flush) and by bk_plog_snapshot(),
 *     fsynced and renamed at once;
 *   - by a replay that passes the active segment's base (pstate_rebuild),
 *     after fsyncing the .txnindex files it rewrote.
 * A .tmp left by a crash is removed by the next load (list_segments).
 */
static void snap_tmp_path(const bk_plog *l, int64_t off, char *out, size_t cap)
{
    char path[4096];
    snap_path(l, off, path, sizeof path);
    snprintf(out, cap, "%s.tmp", path);
}

/* The current state into <off>.snapshot.tmp (fsynced when sync). */
static int snap_write_tmp(bk_plog *l, int64_t off, bool sync)
{
    uint8_t *data;
    size_t len;
    int r = bk_pstate_encode(&l->ps, &data, &len);
    if (r)
        return r;
    char tmp[4200];
    snap_tmp_path(l, off, tmp, sizeof tmp);
    int fd = bk_io->open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd == -1) {
        free(data);
        return errno == ENOSPC ? BK_ENOSPC : BK_EIO;
    }
    if (bk_io_pwrite_all(fd, data, len, 0) == -1 || (sync && bk_io->fsync(fd) == -1))
        r = errno == ENOSPC ? BK_ENOSPC : BK_EIO;
    bk_io->close(fd);
    free(data);
    if (r)
        (void)bk_io->unlink(tmp);
    return r;
}

/* <off>.snapshot.tmp -> <off>.snapshot (fsync_dir: and make the rename
 * durable). Any thread: touches files only. */
static int snap_rename(const bk_plog *l, int64_t off, bool fsync_dir)
{
    char path[4096], tmp[4200];
    snap_path(l, off, path, sizeof path);
    snap_tmp_path(l, off, tmp, sizeof tmp);
    if (bk_io->rename(tmp, path) == -1)
        return errno == ENOENT ? BK_ENOENT : BK_EIO;
    if (fsync_dir && bk_io->fsync_dir(l->dir) == -1)
        return BK_EIO;
    return 0;
}

/* A snapshot got its final name: list it; keep the newest SNAP_KEEP and
 * none below the log start. */
static int snap_listed(bk_plog *l, int64_t off)
{
    bk_pstate *ps = &l->ps;
    if (bk_pstate_snap_add(ps, off))
        return BK_ENOMEM;
    while (ps->nsnaps > SNAP_KEEP || (ps->nsnaps && ps->snaps[0] < l->log_start))
        snap_delete(l, ps->snaps[0]);
    return 0;
}

/* Write, fsync and publish a snapshot at off now (everything below off
 * must be durable already). */
static int snap_write_now(bk_plog *l, int64_t off, bool fsync_dir)
{
    int r = snap_write_tmp(l, off, true);
    if (!r)
        r = snap_rename(l, off, fsync_dir);
    if (!r)
        r = snap_listed(l, off);
    return r;
}

/* Forget the roll snapshot waiting for a flush (its file too). */
static void snap_drop_pending(bk_plog *l)
{
    if (l->snap_pending < 0)
        return;
    char tmp[4200];
    snap_tmp_path(l, l->snap_pending, tmp, sizeof tmp);
    (void)bk_io->unlink(tmp);
    l->snap_pending = -1;
}

/* Load <off>.snapshot into the producer state. */
static int snap_read(bk_plog *l, int64_t off)
{
    char path[4096];
    snap_path(l, off, path, sizeof path);
    int fd = bk_io->open(path, O_RDONLY, 0);
    if (fd == -1)
        return errno == ENOENT ? BK_ENOENT : BK_EIO;
    off_t size;
    int r = 0;
    uint8_t *buf = NULL;
    if (bk_io->fsize(fd, &size) == -1)
        r = BK_EIO;
    else if (size < BK_SNAP_HDR || size > (off_t)1 << 30)
        r = BK_ECORRUPT;
    else if (!(buf = malloc((size_t)size)))
        r = BK_ENOMEM;
    else if (bk_io_pread_full(fd, buf, (size_t)size, 0) != (ssize_t)size)
        r = BK_EIO;
    bk_io->close(fd);
    if (!r)
        r = bk_pstate_decode(&l->ps, buf, (size_t)size);
    free(buf);
    return r;
}

/* Feed one batch (avail readable bytes at b, in segment s) to the producer
 * state; an aborted transaction goes to the list and s's .txnindex. */
static int apply_batch(bk_plog *l, bk_segment *s, const uint8_t *b, size_t avail)
{
    if (bk_batch_producer_id(b) < 0)
        return 0;
    int type = -1;
    int32_t ce = -1;
    if (bk_batch_is_control(b) && avail >= bk_batch_size(b) &&
        bk_pstate_parse_marker(b, bk_batch_size(b), &type, &ce) != 0)
        type = -1;
    bk_abtxn ab;
    int r = bk_pstate_apply(&l->ps, b, type, ce, &ab);
    if (r <= 0)
        return r;
    if (bk_pstate_add_aborted(&l->ps, &ab))
        return BK_ENOMEM;
    char tp[4096];
    bk_seg_txn_path(s, tp, sizeof tp);
    if ((r = bk_txnidx_write(tp, s->txn_n, &ab)))
        return r;
    s->txn_n++;
    s->txn_dirty = true;
    return 0;
}

typedef struct replay {
    bk_plog *l;
    uint64_t n;
} replay;

static int replay_cb(void *ud, bk_segment *s, const uint8_t *b, size_t avail)
{
    replay *rp = ud;
    rp->n++;
    return apply_batch(rp->l, s, b, avail);
}

/* Forget aborted transactions whose marker is at or after offset: in
 * memory and in the .txnindex files. */
static int drop_aborted_from(bk_plog *l, int64_t offset)
{
    bk_pstate_drop_aborted_from(&l->ps, offset);
    for (int i = find_seg(l, offset); i < l->nsegs; i++) {
        bk_segment *s = l->segs[i];
        if (!s->txn_n)
            continue;
        char tp[4096];
        bk_seg_txn_path(s, tp, sizeof tp);
        int r = bk_txnidx_truncate(tp, offset, &s->txn_n);
        if (r)
            return r;
        s->txn_dirty = true;
    }
    return 0;
}

/* fsync the .txnindex files of segments [0, upto) written since their
 * last flush. */
static int sync_txn_indexes(bk_plog *l, int upto)
{
    for (int i = 0; i < upto; i++) {
        bk_segment *s = l->segs[i];
        if (!s->txn_dirty)
            continue;
        char tp[4096];
        bk_seg_txn_path(s, tp, sizeof tp);
        if (bk_txnidx_sync(tp))
            return BK_EIO;
        s->txn_dirty = false;
    }
    return 0;
}

/*
 * Rebuild the producer state (Kafka's truncateAndReload + rebuild): drop
 * snapshots above the LEO and below the log start, load the newest valid
 * one (a corrupt one is deleted and the next older tried), drop the
 * aborted transactions from there on and replay every batch from there
 * (the log start when there is no snapshot) to the LEO. A snapshot is
 * written at the active segment's base when the replay passes it and
 * none is there, so the next rebuild is short.
 */
static int pstate_rebuild(bk_plog *l, uint64_t *replayed)
{
    bk_pstate *ps = &l->ps;
    int64_t leo = bk_plog_leo(l);
    if (l->snap_pending > leo)
        snap_drop_pending(l);
    while (ps->nsnaps && ps->snaps[ps->nsnaps - 1] > leo)
        snap_delete(l, ps->snaps[ps->nsnaps - 1]);
    while (ps->nsnaps && ps->snaps[0] < l->log_start)
        snap_delete(l, ps->snaps[0]);
    bk_pstate_clear(ps);
    int64_t start = l->log_start;
    for (int k = ps->nsnaps - 1; k >= 0; k--) {
        int64_t off = ps->snaps[k];
        int r = snap_read(l, off);
        if (r == 0) {
            start = off;
            break;
        }
        if (r == BK_ENOMEM)
            return r;
        /* corrupt (torn by a crash): never trust it again; unreadable (an
         * I/O error): leave the file, use an older one */
        bk_pstate_clear(ps);
        if (r != BK_EIO)
            snap_delete(l, off);
    }
    int r = drop_aborted_from(l, start);
    if (r || start >= leo)
        return r;
    uint8_t *buf = malloc(SCAN_BUF);
    if (!buf)
        return BK_ENOMEM;
    replay rp = {.l = l};
    for (int i = find_seg(l, start); i < l->nsegs && !r; i++) {
        bk_segment *s = l->segs[i];
        if (i == l->nsegs - 1 && s->base > start) {
            bool have = false;
            for (int k = 0; k < ps->nsnaps; k++)
                have |= ps->snaps[k] == s->base;
            /* what lies below it was read back from the files (it is
             * durable, or a crash cuts the log below this snapshot, which
             * the next load then deletes); the .txnindex entries the
             * replay wrote are not yet */
            if (!have && sync_txn_indexes(l, i) == 0)
                (void)snap_write_now(l, s->base, false);
        }
        r = bk_seg_scan(s, start, buf, SCAN_BUF, replay_cb, &rp);
    }
    free(buf);
    if (replayed)
        *replayed = rp.n;
    return r;
}

/* At load: the .txnindex files of the segments (bases txb, sorted) into
 * the aborted list (entries below the log start are of no use). */
static int load_txn_indexes(bk_plog *l, const int64_t *txb, int ntx)
{
    int i = 0;
    for (int t = 0; t < ntx; t++) {
        while (i < l->nsegs && l->segs[i]->base < txb[t])
            i++;
        char tp[4096];
        if (i == l->nsegs || l->segs[i]->base != txb[t]) {
            /* an orphan (its segment is gone) */
            bk_seg_filename(tp, sizeof tp, l->dir, txb[t], ".txnindex");
            (void)bk_io->unlink(tp);
            continue;
        }
        bk_segment *s = l->segs[i];
        bk_seg_txn_path(s, tp, sizeof tp);
        bk_abtxn *v;
        uint32_t n;
        int r = bk_txnidx_read(tp, &v, &n);
        if (r)
            return r;
        s->txn_n = n;
        for (uint32_t k = 0; k < n && !r; k++)
            if (v[k].last >= l->log_start)
                r = bk_pstate_add_aborted(&l->ps, &v[k]);
        free(v);
        if (r)
            return r;
    }
    return 0;
}

/* The log start offset moved forward: aborted transactions wholly below
 * it and snapshots below it go (producers stay, as in Kafka, until they
 * expire). */
static void log_start_moved(bk_plog *l)
{
    bk_pstate_drop_aborted_below(&l->ps, l->log_start);
    while (l->ps.nsnaps && l->ps.snaps[0] < l->log_start)
        snap_delete(l, l->ps.snaps[0]);
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

/* Offset in a "<20 digits><ext>" file name, -1 if name is not one. */
static int64_t name_offset(const char *name, size_t len, const char *ext)
{
    size_t el = strlen(ext);
    if (len != 20 + el || strcmp(name + 20, ext) != 0)
        return -1;
    char *end;
    long long v = strtoll(name, &end, 10);
    return end == name + 20 && v >= 0 ? (int64_t)v : -1;
}

/* Base offsets of the .log files in dir, sorted. Leftover .tmp, .deleted,
 * and .cleaned files of an interrupted operation are removed. The offsets
 * of .snapshot files go to ps's list; the bases of .txnindex files to
 * txb[0..ntx) (sorted). */
static int list_segments(const char *dir, int64_t **bases, int *n, bk_pstate *ps, int64_t **txb,
                         int *ntx)
{
    int ctx = 0;
    *txb = NULL;
    *ntx = 0;
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
        int64_t so = name_offset(name, len, ".snapshot");
        if (so >= 0) {
            if (bk_pstate_snap_add(ps, so)) {
                free(b);
                b = NULL;
                break;
            }
            continue;
        }
        int64_t to = name_offset(name, len, ".txnindex");
        if (to >= 0) {
            int64_t *nt = bk_vec_grow(*txb, *ntx, &ctx, sizeof *nt, 4);
            if (!nt) {
                free(b);
                b = NULL;
                break;
            }
            *txb = nt;
            nt[(*ntx)++] = to;
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
    if (!b) {
        free(*txb);
        *txb = NULL;
        return BK_ENOMEM;
    }
    qsort(b, (size_t)cnt, sizeof *b, cmp_i64);
    if (*ntx)
        qsort(*txb, (size_t)*ntx, sizeof **txb, cmp_i64);
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
    int64_t *bases = NULL, *txb = NULL;
    int nb = 0, ntx = 0;
    /* an interrupted cleaner swap: back to the old or on to the new
     * segments (cleaner.h) */
    int r = bk_cleaner_recover_dir(l->dir);
    if (r) {
        bk_plog_free(l);
        return r;
    }
    r = list_segments(l->dir, &bases, &nb, &l->ps, &txb, &ntx);
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
        free(txb);
        bk_plog_free(l);
        return r;
    }
    /* the last segment is the active one: make sure it is open for writes */
    bk_segment *act = bk_plog_active(l);
    if (act->fd < 0 && (r = bk_seg_fd(act))) {
        free(txb);
        bk_plog_free(l);
        return r;
    }
    if (!act->idx_loaded && (r = bk_seg_load_indexes(act))) {
        free(txb);
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
    int rt = load_txn_indexes(l, txb, ntx);
    free(txb);
    r = rt == BK_ENOMEM ? rt : 0;
    /* Producer state from the newest snapshot (at the LEO after a clean
     * shutdown: nothing is replayed). An
     * unreadable batch (in a trusted segment: recovery did not see it)
     * stops the replay but not the load: the log stays readable, as it
     * was before producer state existed; duplicates of the producers
     * after that point may go undetected. */
    if (!r)
        r = pstate_rebuild(l, &st.replayed_batches);
    if (!r)
        r = rt;
    if (r && r != BK_ENOMEM) {
        bk_log(BK_LOG_WARN, "%s: producer state rebuilt only in part: %s", l->dir,
               bk_strerror(r));
        st.pstate_incomplete = true;
        r = 0;
    }
    if (r) {
        bk_plog_free(l);
        return r;
    }
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
        /* The next start reads the state from here and replays nothing. A
         * failure only makes that replay longer: not a close failure. */
        snap_drop_pending(l);
        (void)snap_write_now(l, bk_plog_leo(l), false);
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
    bk_pstate_fini(&l->ps);
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
    /* Producer state at the new base, as Kafka takes it at roll; the next
     * flush publishes it (see snap_write_tmp). A failure only costs a
     * longer replay later. An older one still waiting is replaced. */
    snap_drop_pending(l);
    if (snap_write_tmp(l, base, false) == 0)
        l->snap_pending = base;
    return 0;
}

int bk_plog_append(bk_plog *l, const uint8_t *data, size_t len, int64_t first, int64_t last,
                   int64_t max_ts, int64_t max_ts_off, int64_t now_ms)
{
    if (l->offline)
        return BK_EIO;
    BK_BUG_ON(first != bk_plog_leo(l) || last < first);
    /* room for the producer state updates, so nothing can fail for lack of
     * memory once the bytes are in the file */
    int np = 0;
    for (size_t pos = 0; pos + BK_BATCH_HDR <= len; pos += bk_batch_size(data + pos))
        np += bk_batch_producer_id(data + pos) >= 0;
    if (np && bk_pstate_reserve(&l->ps, np))
        return BK_ENOMEM;
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
    for (size_t pos = 0; np && pos + BK_BATCH_HDR <= len; pos += bk_batch_size(data + pos)) {
        if ((r = apply_batch(l, s, data + pos, len - pos))) {
            /* the .txnindex could not be written: no more writes (the next
             * start rebuilds it from the log) */
            l->offline = true;
            return r == BK_ENOMEM ? r : BK_EIO;
        }
    }
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
    if (l->cleaning)
        bk_cleaner_abort(l); /* its segments are about to change */
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
    /* Kafka's truncateAndReload: the newest snapshot at or below the new
     * end, then replay (snapshots above it go, aborted transactions at or
     * after the replay start are rebuilt). */
    if ((r = pstate_rebuild(l, NULL))) {
        l->offline = true;
        return BK_EIO;
    }
    return 0;
}

int bk_plog_truncate_fully(bk_plog *l, int64_t offset, int64_t now_ms)
{
    if (l->flushing)
        return BK_EAGAIN;
    if (l->cleaning)
        bk_cleaner_abort(l);
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
    bk_pstate_clear(&l->ps);
    l->ps.nab = 0;
    snap_drop_pending(l);
    while (l->ps.nsnaps)
        snap_delete(l, l->ps.snaps[0]);
    return 0;
}

/* Delete segments [0, n) (never the active one). */
static int drop_head_segments(bk_plog *l, int n)
{
    if (n >= l->nsegs)
        n = l->nsegs - 1;
    if (n <= 0)
        return 0;
    if (l->cleaning)
        bk_cleaner_abort(l);
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
    log_start_moved(l);
    return r;
}

int bk_plog_delete_records(bk_plog *l, int64_t offset)
{
    if (offset > l->hw || offset > bk_plog_leo(l))
        return BK_ERANGE;
    if (offset <= l->log_start)
        return 0;
    l->log_start = offset;
    log_start_moved(l);
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
    if (l->cfg.retention_ms >= 0 && l->cfg.cleanup_delete) {
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
    if (l->cfg.retention_bytes >= 0 && l->cfg.cleanup_delete) {
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
        job->points[k].txn = s->txn_dirty;
        s->txn_dirty = false;
        /* The fd must be open (an evicted one is reopened: fsync works on
         * the file, whichever descriptor) and stay open while the job runs. */
        if (bk_seg_fd(s) != 0)
            job->result = BK_EIO;
        bk_seg_pin(s);
        if (job->points[k].next > job->upto)
            job->upto = job->points[k].next;
    }
    /* the snapshot taken at a roll is published with the data below it */
    job->snap = -1;
    if (l->snap_pending >= 0 && l->snap_pending <= job->upto) {
        job->snap = l->snap_pending;
        l->snap_pending = -1;
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
    if (!job->result && job->snap >= 0) {
        /* The loop thread leaves this file alone once the job owns it
         * (and l->dir never changes). */
        char tmp[4200];
        snap_tmp_path(job->log, job->snap, tmp, sizeof tmp);
        int fd = bk_io->open(tmp, O_RDONLY, 0);
        if (fd == -1) {
            job->snap = -1; /* never written: nothing to publish */
            return;
        }
        if (bk_io->fsync(fd) == -1)
            job->result = BK_EIO;
        bk_io->close(fd);
        if (!job->result && snap_rename(job->log, job->snap, true))
            job->result = BK_EIO;
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
    if (job->snap >= 0)
        (void)snap_listed(l, job->snap);
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

/* ------------------------------------------ producer state, transactions */

int16_t bk_plog_check_batch(bk_plog *l, const uint8_t *batch, size_t len, bk_pdup *dup,
                            const char **msg)
{
    dup->first_offset = dup->last_offset = dup->timestamp = -1;
    if (len < BK_BATCH_HDR)
        return BK_KERR_NONE; /* framing is the validator's business */
    return bk_pstate_check(&l->ps, batch, &dup->first_offset, &dup->last_offset, &dup->timestamp,
                           msg);
}

int64_t bk_plog_lso(const bk_plog *l)
{
    if (l->ps.nong && l->ps.ong[0].first < l->hw)
        return l->ps.ong[0].first;
    return l->hw;
}

static int cmp_first(const void *a, const void *b)
{
    int64_t x = ((const bk_abtxn *)a)->first, y = ((const bk_abtxn *)b)->first;
    return x < y ? -1 : x > y;
}

int bk_plog_aborted(bk_plog *l, int64_t from, int64_t upto,
                    void (*fn)(void *ud, int64_t producer_id, int64_t first_offset), void *ud)
{
    bk_pstate *ps = &l->ps;
    /* first entry whose marker is at or after from (the list is in marker
     * order) */
    int lo = 0, hi = ps->nab;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (ps->ab[mid].last < from)
            lo = mid + 1;
        else
            hi = mid;
    }
    int end = lo, n = 0;
    /* Kafka's collectAbortedTxns: stop after the first entry whose LSO
     * reaches upto; later ones all start at or after it */
    while (end < ps->nab) {
        const bk_abtxn *a = &ps->ab[end++];
        n += a->first < upto;
        if (a->lso >= upto)
            break;
    }
    if (n == 0)
        return 0;
    if (ps->capscratch < n) {
        bk_abtxn *v = realloc(ps->scratch, (size_t)n * sizeof *v);
        if (!v) {
            /* no memory to sort: still report them all, in marker order */
            for (int i = lo; i < end; i++)
                if (ps->ab[i].first < upto)
                    fn(ud, ps->ab[i].pid, ps->ab[i].first);
            return n;
        }
        ps->scratch = v;
        ps->capscratch = n;
    }
    int k = 0;
    for (int i = lo; i < end; i++)
        if (ps->ab[i].first < upto)
            ps->scratch[k++] = ps->ab[i];
    qsort(ps->scratch, (size_t)k, sizeof *ps->scratch, cmp_first);
    for (int i = 0; i < k; i++)
        fn(ud, ps->scratch[i].pid, ps->scratch[i].first);
    return k;
}

int bk_plog_append_marker(bk_plog *l, int64_t pid, int16_t epoch, int32_t coord_epoch,
                          bool commit, int32_t leader_epoch, int64_t now_ms, int64_t *offset)
{
    *offset = -1;
    if (l->offline)
        return BK_EIO;
    int64_t leo = bk_plog_leo(l);
    uint8_t mem[256], key[4], val[6];
    bk_be16(key, 0);
    bk_be16(key + 2, commit ? 1 : 0);
    bk_be16(val, 0);
    bk_be32(val + 2, (uint32_t)coord_epoch);
    bk_wr wr;
    bk_wr_init_fixed(&wr, mem, sizeof mem);
    bk_batch_opts o = BK_BATCH_OPTS_DEFAULT;
    o.base_offset = leo;
    o.leader_epoch = leader_epoch;
    o.transactional = true;
    o.control = true;
    o.producer_id = pid;
    o.producer_epoch = epoch;
    o.base_sequence = -1;
    bk_batch_builder b;
    int r = bk_batch_builder_init(&b, &wr, &o);
    if (!r)
        r = bk_batch_builder_add(&b, now_ms, key, sizeof key, val, sizeof val, NULL, 0);
    if (!r)
        r = bk_batch_builder_finish(&b);
    size_t start = b.start;
    bk_batch_builder_fini(&b);
    if (r) {
        bk_wr_fini(&wr);
        return r;
    }
    r = bk_plog_append(l, wr.buf + start, wr.len - start, leo, leo, now_ms, leo, now_ms);
    bk_wr_fini(&wr);
    if (r)
        return r;
    *offset = leo;
    return 0;
}

bool bk_plog_txn_open(const bk_plog *l, int64_t pid)
{
    const bk_pentry *e = bk_pstate_get(&l->ps, pid);
    return e && e->txn_first >= 0;
}

int bk_plog_expire_producers(bk_plog *l, int64_t now_ms, int64_t expiration_ms)
{
    return bk_pstate_expire(&l->ps, now_ms - expiration_ms);
}

int bk_plog_snapshot(bk_plog *l)
{
    if (l->flushing)
        return BK_EAGAIN;
    /* a published snapshot needs everything below it durable */
    int r = bk_plog_flush_sync(l, l->last_flush_ms);
    if (!r)
        r = snap_write_now(l, bk_plog_leo(l), true);
    return r;
}

int bk_plog_nproducers(const bk_plog *l)
{
    return (int)l->ps.n;
}

int bk_plog_foreach_batch(bk_plog *l, int64_t from, int (*fn)(void *ud, const bk_batch_info *bi),
                          void *ud)
{
    int64_t off = BK_MAX(from, l->log_start);
    int64_t leo = bk_plog_leo(l);
    uint8_t *buf = NULL;
    size_t cap = 0;
    int rc = 0;
    while (off < leo) {
        bk_plog_slice sl;
        int r = bk_plog_read(l, off, 1 << 20, leo, true, &sl);
        if (r != 0) {
            rc = r;
            break;
        }
        if (sl.len == 0)
            break;
        if (sl.len > cap) {
            uint8_t *nb = realloc(buf, sl.len);
            if (!nb) {
                rc = BK_ENOMEM;
                break;
            }
            buf = nb;
            cap = sl.len;
        }
        if (bk_io_pread_full(sl.fd, buf, sl.len, (off_t)sl.pos) != (ssize_t)sl.len) {
            rc = BK_EIO;
            break;
        }
        size_t pos = 0;
        int64_t next = off;
        while (pos < sl.len) {
            bk_batch_info bi;
            if (bk_batch_parse(buf + pos, sl.len - pos, &bi) != 0)
                break;
            int64_t last = bi.base_offset + bi.last_offset_delta;
            if (last >= off && (rc = fn(ud, &bi)) != 0)
                goto out;
            next = last + 1;
            pos += bi.size;
        }
        if (next <= off)
            break; /* no progress: a batch that does not frame */
        off = next;
    }
out:
    free(buf);
    return rc;
}
