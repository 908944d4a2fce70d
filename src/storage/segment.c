/*
 * segment.c - one log segment (see segment.h).
 */
#include "segment.h"

#include "../core/buf.h"
#include "../core/crc32c.h"
#include "fileio.h"
#include "txnindex.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Batch header field offsets (table in segment.h). */
#define H_BASE_OFFSET  0
#define H_LENGTH       8
#define H_MAGIC        16
#define H_CRC          17
#define H_ATTRS        21
#define H_LAST_DELTA   23
#define H_MAX_TS       35

/* Largest batch recovery will believe (a corrupt length must not make it
 * allocate gigabytes). Kafka's own limit is max.message.bytes; 1 GiB here
 * is a sanity bound, not a policy. */
#define MAX_BATCH (1u << 30)

/* ------------------------------------------------- descriptor budget */

/* The mutex matters only at start-up, when partitions open on several
 * threads; afterwards only the loop thread takes it (uncontended). */
static pthread_mutex_t lru_mu = PTHREAD_MUTEX_INITIALIZER;
static bk_segment *lru_head, *lru_tail;
static int lru_n, lru_max = 1024, open_fds;

void bk_seg_set_fd_budget(int n)
{
    lru_max = n > 1 ? n : 1;
}

int bk_seg_open_fds(void)
{
    pthread_mutex_lock(&lru_mu);
    int n = open_fds;
    pthread_mutex_unlock(&lru_mu);
    return n;
}

static void lru_unlink(bk_segment *s)
{
    if (!s->in_lru)
        return;
    if (s->lru_prev)
        s->lru_prev->lru_next = s->lru_next;
    else
        lru_head = s->lru_next;
    if (s->lru_next)
        s->lru_next->lru_prev = s->lru_prev;
    else
        lru_tail = s->lru_prev;
    s->lru_prev = s->lru_next = NULL;
    s->in_lru = false;
    lru_n--;
}

static void lru_push_front(bk_segment *s)
{
    s->lru_prev = NULL;
    s->lru_next = lru_head;
    if (lru_head)
        lru_head->lru_prev = s;
    lru_head = s;
    if (!lru_tail)
        lru_tail = s;
    s->in_lru = true;
    lru_n++;
}

/* Close least recently used unpinned descriptors over the budget, never
 * keep's (the one just opened, about to be used). */
static void lru_evict(const bk_segment *keep)
{
    bk_segment *s = lru_tail;
    while (lru_n > lru_max && s) {
        bk_segment *prev = s->lru_prev;
        if (s->pins == 0 && s != keep) {
            lru_unlink(s);
            bk_io->close(s->fd);
            s->fd = -1;
            open_fds--;
        }
        s = prev;
    }
}

/* Note that s->fd was just opened (or that s was just sealed). */
static void fd_opened(bk_segment *s, bool new_fd)
{
    pthread_mutex_lock(&lru_mu);
    if (new_fd)
        open_fds++;
    if (s->sealed && !s->in_lru) {
        lru_push_front(s);
        lru_evict(s);
    }
    pthread_mutex_unlock(&lru_mu);
}

static void fd_touch(bk_segment *s)
{
    if (!s->in_lru || lru_head == s)
        return;
    pthread_mutex_lock(&lru_mu);
    lru_unlink(s);
    lru_push_front(s);
    pthread_mutex_unlock(&lru_mu);
}

void bk_seg_mark_sealed(bk_segment *s)
{
    s->sealed = true;
    if (s->fd >= 0)
        fd_opened(s, false);
}

void bk_seg_mark_active(bk_segment *s)
{
    pthread_mutex_lock(&lru_mu);
    lru_unlink(s);
    s->sealed = false;
    pthread_mutex_unlock(&lru_mu);
}

void bk_seg_pin(bk_segment *s)
{
    pthread_mutex_lock(&lru_mu);
    s->pins++;
    pthread_mutex_unlock(&lru_mu);
}

void bk_seg_unpin(bk_segment *s)
{
    pthread_mutex_lock(&lru_mu);
    BK_BUG_ON(s->pins <= 0);
    s->pins--;
    lru_evict(NULL);
    pthread_mutex_unlock(&lru_mu);
}

/* ---------------------------------------------------------- segments */

void bk_seg_filename(char *out, size_t cap, const char *dir, int64_t base, const char *ext)
{
    snprintf(out, cap, "%s/%020" PRId64 "%s", dir, base, ext);
}

static int err_of(int e)
{
    return e == ENOSPC || e == EDQUOT ? BK_ENOSPC : BK_EIO;
}

static int init_paths(bk_segment *s, const char *dir, int64_t base, const bk_segcfg *cfg)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
    s->base = s->next = base;
    s->max_ts = s->max_ts_off = s->first_ts = -1;
    s->cfg = *cfg;
    size_t cap = strlen(dir) + 40;
    char *p = malloc(cap);
    if (!p)
        return BK_ENOMEM;
    bk_seg_filename(p, cap, dir, base, ".log");
    s->log_path = p;
    char tmp[4096];
    bk_seg_filename(tmp, sizeof tmp, dir, base, ".index");
    int r = bk_index_init(&s->oidx, tmp, BK_OIDX_ESZ, cfg->index_bytes);
    bk_seg_filename(tmp, sizeof tmp, dir, base, ".timeindex");
    if (!r)
        r = bk_index_init(&s->tidx, tmp, BK_TIDX_ESZ, cfg->index_bytes);
    return r;
}

int bk_seg_create(bk_segment *s, const char *dir, int64_t base, const bk_segcfg *cfg,
                  int64_t now_ms)
{
    int r = init_paths(s, dir, base, cfg);
    if (r)
        return r;
    s->created_ms = now_ms;
    /* a leftover aborted-transaction index of an earlier segment at this
     * base (truncation) must not come back with the new one */
    char tp[4096];
    bk_seg_txn_path(s, tp, sizeof tp);
    if (bk_io->unlink(tp) == -1 && errno != ENOENT)
        return BK_EIO;
    s->fd = bk_io->open(s->log_path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (s->fd == -1)
        return err_of(errno);
    fd_opened(s, true);
    if ((r = bk_index_create(&s->oidx)) || (r = bk_index_create(&s->tidx)))
        return r;
    s->idx_loaded = true;
    return 0;
}

int bk_seg_fd(bk_segment *s)
{
    if (s->fd >= 0) {
        fd_touch(s);
        return 0;
    }
    s->fd = bk_io->open(s->log_path, O_RDWR, 0);
    if (s->fd == -1)
        return errno == ENOENT ? BK_ENOENT : err_of(errno);
    fd_opened(s, true);
    return 0;
}

void bk_seg_release_fd(bk_segment *s)
{
    pthread_mutex_lock(&lru_mu);
    lru_unlink(s);
    if (s->fd >= 0) {
        bk_io->close(s->fd);
        s->fd = -1;
        open_fds--;
    }
    pthread_mutex_unlock(&lru_mu);
}

/* Note an appended batch (or a batch found by recovery) at pos: index
 * entries every index_interval bytes, largest timestamp so far. */
static void note_batch(bk_segment *s, uint64_t pos, uint32_t len, int64_t last, int64_t max_ts,
                       int64_t max_ts_off)
{
    if (s->first_ts < 0)
        s->first_ts = max_ts;
    if (max_ts > s->max_ts) {
        s->max_ts = max_ts;
        s->max_ts_off = max_ts_off;
    }
    if (s->since_index > s->cfg.index_interval && !bk_index_full(&s->oidx) &&
        !bk_index_full(&s->tidx)) {
        bk_index_append_off(&s->oidx, (uint32_t)(last - s->base), (uint32_t)pos);
        bk_index_append_time(&s->tidx, s->max_ts, (uint32_t)(s->max_ts_off - s->base));
        s->since_index = 0;
    }
    s->since_index += len;
}

/* Is the batch in buf (avail bytes) whole and valid? Returns its total
 * size, 0 if it is not (torn, corrupt or not a batch). */
static uint32_t valid_batch(const uint8_t *b, size_t avail, int64_t min_base)
{
    if (avail < BK_BATCH_HDR)
        return 0;
    uint32_t blen = bk_get_be32(b + H_LENGTH);
    if (blen < BK_BATCH_HDR - BK_BATCH_LOG_OVERHEAD || blen > MAX_BATCH)
        return 0;
    size_t total = (size_t)blen + BK_BATCH_LOG_OVERHEAD;
    if (total > avail || b[H_MAGIC] != 2)
        return 0;
    int64_t base = (int64_t)bk_get_be64(b + H_BASE_OFFSET);
    int32_t delta = (int32_t)bk_get_be32(b + H_LAST_DELTA);
    if (base < min_base || delta < 0)
        return 0;
    if (bk_crc32c(0, b + H_ATTRS, total - H_ATTRS) != bk_get_be32(b + H_CRC))
        return 0;
    return (uint32_t)total;
}

/* Full scan of the .log: validate each batch, rebuild indexes, truncate
 * the invalid tail. */
static int recover(bk_segment *s, uint64_t *truncated)
{
    off_t fsize;
    if (bk_io->fsize(s->fd, &fsize) == -1)
        return BK_EIO;
    bk_index_clear(&s->oidx);
    bk_index_clear(&s->tidx);
    s->next = s->base;
    s->max_ts = s->max_ts_off = s->first_ts = -1;
    s->since_index = 0;

    size_t cap = 4u << 20;
    uint8_t *buf = malloc(cap);
    if (!buf)
        return BK_ENOMEM;
    uint64_t pos = 0;
    int r = 0;
    while (pos < (uint64_t)fsize) {
        size_t want = (size_t)BK_MIN((uint64_t)cap, (uint64_t)fsize - pos);
        ssize_t got = bk_io_pread_full(s->fd, buf, want, (off_t)pos);
        if (got < 0) {
            r = BK_EIO;
            break;
        }
        size_t off = 0;
        bool stop = false, grew = false;
        while (off < (size_t)got) {
            const uint8_t *b = buf + off;
            size_t avail = (size_t)got - off;
            uint64_t here = pos + off;
            if (avail < BK_BATCH_HDR) {
                if (off > 0 && here + BK_BATCH_HDR <= (uint64_t)fsize)
                    break; /* header straddles the window: refill from here */
            } else {
                uint32_t blen = bk_get_be32(b + H_LENGTH);
                uint64_t total = (uint64_t)blen + BK_BATCH_LOG_OVERHEAD;
                if (blen <= MAX_BATCH && total > avail && here + total <= (uint64_t)fsize) {
                    if (off > 0)
                        break; /* batch straddles the window: refill from here */
                    uint8_t *nb = realloc(buf, (size_t)total);
                    if (!nb) {
                        r = BK_ENOMEM;
                        goto done;
                    }
                    buf = nb;
                    cap = (size_t)total;
                    grew = true;
                    break;
                }
            }
            uint32_t n = valid_batch(b, avail, s->next);
            if (!n) {
                stop = true; /* first invalid byte: everything after goes */
                break;
            }
            int64_t base = (int64_t)bk_get_be64(b + H_BASE_OFFSET);
            int64_t last = base + (int32_t)bk_get_be32(b + H_LAST_DELTA);
            int64_t mts = (int64_t)bk_get_be64(b + H_MAX_TS);
            note_batch(s, here, n, last, mts, last);
            s->next = last + 1;
            off += n;
        }
        pos += off;
        if (stop || (off == 0 && !grew))
            break;
    }
done:
    free(buf);
    if (r)
        return r;
    s->size = pos;
    if (pos < (uint64_t)fsize) {
        *truncated = (uint64_t)fsize - pos;
        if (bk_io->ftruncate(s->fd, (off_t)pos) == -1)
            return BK_EIO;
    }
    return 0;
}

int bk_seg_open(bk_segment *s, const char *dir, int64_t base, const bk_segcfg *cfg, bool recover_it,
                bool active, int64_t now_ms, uint64_t *truncated)
{
    *truncated = 0;
    int r = init_paths(s, dir, base, cfg);
    if (r)
        return r;
    s->created_ms = now_ms;
    struct stat st;
    if (stat(s->log_path, &st) == -1)
        return errno == ENOENT ? BK_ENOENT : BK_EIO;
    s->size = (uint64_t)st.st_size;
    if (!recover_it && !active) {
        /* Sealed and below the recovery point: nothing to read now; the
         * partition log sets next from the following segment's base. */
        s->trimmed = true;
        return 0;
    }
    if ((r = bk_seg_fd(s)))
        return r;
    if (!recover_it) {
        /* Active segment below the recovery point (clean shutdown): trust
         * the indexes, then walk headers from the last entry to the end. */
        r = bk_seg_load_indexes(s);
        if (r == 0) {
            uint64_t pos = 0;
            if (s->oidx.n) {
                uint32_t rel, p;
                bk_index_off_at(&s->oidx, s->oidx.n - 1, &rel, &p);
                pos = p;
            }
            uint8_t h[BK_BATCH_HDR];
            while (pos < s->size) {
                if (bk_io_pread_full(s->fd, h, sizeof h, (off_t)pos) != (ssize_t)sizeof h) {
                    r = BK_ECORRUPT;
                    break;
                }
                uint32_t blen = bk_get_be32(h + H_LENGTH);
                uint64_t total = (uint64_t)blen + BK_BATCH_LOG_OVERHEAD;
                if (blen < BK_BATCH_HDR - BK_BATCH_LOG_OVERHEAD || pos + total > s->size ||
                    h[H_MAGIC] != 2) {
                    r = BK_ECORRUPT;
                    break;
                }
                int64_t b0 = (int64_t)bk_get_be64(h + H_BASE_OFFSET);
                s->next = b0 + (int32_t)bk_get_be32(h + H_LAST_DELTA) + 1;
                int64_t mts = (int64_t)bk_get_be64(h + H_MAX_TS);
                if (pos == 0)
                    s->first_ts = mts;
                /* the time index is sparse: batches after its last entry
                 * may hold the segment's largest timestamp */
                if (mts > s->max_ts) {
                    s->max_ts = mts;
                    s->max_ts_off = s->next - 1;
                }
                pos += total;
            }
            /* bytes since the last index entry, for the next entry */
            if (s->oidx.n) {
                uint32_t rel, p;
                bk_index_off_at(&s->oidx, s->oidx.n - 1, &rel, &p);
                s->since_index = (uint32_t)BK_MIN(s->size - p, (uint64_t)UINT32_MAX);
            } else {
                s->since_index = (uint32_t)BK_MIN(s->size, (uint64_t)UINT32_MAX);
            }
        }
        if (r == 0)
            return 0;
        /* fall through: the files disagree, recover this one */
    }
    if (!s->idx_loaded) {
        bk_index_fini(&s->oidx);
        bk_index_fini(&s->tidx);
        char tmp[4096];
        bk_seg_filename(tmp, sizeof tmp, dir, base, ".index");
        bk_index_init(&s->oidx, tmp, BK_OIDX_ESZ, cfg->index_bytes);
        bk_seg_filename(tmp, sizeof tmp, dir, base, ".timeindex");
        bk_index_init(&s->tidx, tmp, BK_TIDX_ESZ, cfg->index_bytes);
    }
    if ((r = bk_index_create(&s->oidx)) || (r = bk_index_create(&s->tidx)))
        return r;
    s->idx_loaded = true;
    s->recovered = true;
    if ((r = recover(s, truncated)))
        return r;
    if (!active) {
        /* A recovered sealed segment: its time index must end with the
         * segment's largest timestamp (as a roll writes it), or a later
         * lazy load would take a smaller maximum and time lookups would
         * skip this segment. Then write the rebuilt indexes. */
        if (s->max_ts >= 0)
            bk_index_append_time(&s->tidx, s->max_ts, (uint32_t)(s->max_ts_off - s->base));
        if ((r = bk_index_trim(&s->oidx)) || (r = bk_index_trim(&s->tidx)))
            return r;
        s->trimmed = true;
    }
    return 0;
}

int bk_seg_load_indexes(bk_segment *s)
{
    if (s->idx_loaded)
        return 0;
    int r = bk_index_load(&s->oidx, s->size, false);
    if (!r)
        r = bk_index_load(&s->tidx, UINT64_MAX, false);
    if (r)
        return r;
    s->idx_loaded = true;
    if (s->tidx.n) {
        uint32_t rel;
        bk_index_time_at(&s->tidx, s->tidx.n - 1, &s->max_ts, &rel);
        s->max_ts_off = s->base + rel;
    }
    return 0;
}

void bk_seg_close(bk_segment *s)
{
    bk_seg_release_fd(s);
    bk_index_fini(&s->oidx);
    bk_index_fini(&s->tidx);
    free(s->log_path);
    s->log_path = NULL;
}

int bk_seg_append(bk_segment *s, const uint8_t *data, size_t len, int64_t first, int64_t last,
                  int64_t max_ts, int64_t max_ts_off)
{
    BK_BUG_ON(first < s->next);
    int r = bk_seg_fd(s);
    if (r)
        return r;
    if (bk_io_pwrite_all(s->fd, data, len, (off_t)s->size) == -1) {
        int e = errno;
        /* Never leave a partial batch behind. If even this fails, the
         * recovery scan at the next start cuts the torn tail. */
        (void)bk_io->ftruncate(s->fd, (off_t)s->size);
        return err_of(e);
    }
    note_batch(s, s->size, (uint32_t)len, last, max_ts, max_ts_off);
    s->size += len;
    s->next = last + 1;
    return 0;
}

/* Read the header of the batch at pos. */
static int read_hdr(bk_segment *s, uint64_t pos, uint8_t h[BK_BATCH_HDR])
{
    ssize_t got = bk_io_pread_full(s->fd, h, BK_BATCH_HDR, (off_t)pos);
    if (got < 0)
        return BK_EIO;
    if (got != BK_BATCH_HDR)
        return BK_ECORRUPT;
    return 0;
}

/* Position of the batch containing offset (or the first batch after it). */
static int locate(bk_segment *s, int64_t offset, uint64_t *pos_out, uint8_t h[BK_BATCH_HDR])
{
    uint64_t pos = 0;
    uint32_t rel, p;
    if (offset > s->base && bk_index_floor_off(&s->oidx, (uint32_t)(offset - s->base), &rel, &p))
        pos = p;
    while (pos < s->size) {
        int r = read_hdr(s, pos, h);
        if (r)
            return r;
        int64_t b0 = (int64_t)bk_get_be64(h + H_BASE_OFFSET);
        int64_t last = b0 + (int32_t)bk_get_be32(h + H_LAST_DELTA);
        if (last >= offset) {
            *pos_out = pos;
            return 0;
        }
        pos += (uint64_t)bk_get_be32(h + H_LENGTH) + BK_BATCH_LOG_OVERHEAD;
    }
    *pos_out = s->size;
    return BK_ENOENT;
}

int bk_seg_read(bk_segment *s, int64_t offset, uint32_t max_bytes, int64_t max_offset, bool min_one,
                bk_seg_range *out)
{
    memset(out, 0, sizeof *out);
    out->first_offset = -1;
    if (offset >= s->next)
        return BK_ENOENT;
    int r = bk_seg_fd(s);
    if (!r)
        r = bk_seg_load_indexes(s);
    if (r)
        return r;
    uint8_t h[BK_BATCH_HDR];
    uint64_t start;
    if ((r = locate(s, offset, &start, h)))
        return r;
    uint64_t pos = start;
    bool first = true;
    out->end_offset = s->next;
    while (pos < s->size) {
        if (!first && (r = read_hdr(s, pos, h)))
            return r;
        int64_t b0 = (int64_t)bk_get_be64(h + H_BASE_OFFSET);
        uint64_t total = (uint64_t)bk_get_be32(h + H_LENGTH) + BK_BATCH_LOG_OVERHEAD;
        if (b0 >= max_offset || (pos - start + total > max_bytes && !(first && min_one))) {
            out->end_offset = b0;
            break;
        }
        if (first)
            out->first_offset = b0;
        first = false;
        pos += total;
    }
    out->pos = (int64_t)start;
    out->len = (uint32_t)(pos - start);
    return 0;
}

int bk_seg_find_time(bk_segment *s, int64_t ts, int64_t *offset, int64_t *batch_max_ts)
{
    int r = bk_seg_fd(s);
    if (!r)
        r = bk_seg_load_indexes(s);
    if (r)
        return r;
    uint64_t pos = 0;
    uint32_t rel, p, orel;
    if (bk_index_floor_time(&s->tidx, ts, &rel) &&
        bk_index_floor_off(&s->oidx, rel, &orel, &p))
        pos = p;
    uint8_t h[BK_BATCH_HDR];
    while (pos < s->size) {
        if ((r = read_hdr(s, pos, h)))
            return r;
        int64_t mts = (int64_t)bk_get_be64(h + H_MAX_TS);
        if (mts >= ts) {
            *offset = (int64_t)bk_get_be64(h + H_BASE_OFFSET);
            *batch_max_ts = mts;
            return 0;
        }
        pos += (uint64_t)bk_get_be32(h + H_LENGTH) + BK_BATCH_LOG_OVERHEAD;
    }
    return BK_ENOENT;
}

int bk_seg_truncate_to(bk_segment *s, int64_t offset)
{
    if (offset >= s->next)
        return 0;
    int r = bk_seg_fd(s);
    if (!r)
        r = bk_seg_load_indexes(s);
    if (r)
        return r;
    uint8_t h[BK_BATCH_HDR];
    uint64_t pos;
    r = locate(s, offset, &pos, h);
    if (r && r != BK_ENOENT)
        return r;
    if (bk_io->ftruncate(s->fd, (off_t)pos) == -1)
        return BK_EIO;
    s->size = pos;
    /* Recompute the end state from what is left: indexes drop entries at or
     * past the cut, next comes from the last remaining batch. */
    int64_t new_next = s->base;
    if (pos > 0) {
        /* the batch just before pos: walk from the last index entry */
        uint64_t q = 0;
        uint32_t rel, p;
        bk_index_truncate_rel(&s->oidx, (uint32_t)BK_MAX(offset - s->base, 0));
        if (s->oidx.n) {
            bk_index_off_at(&s->oidx, s->oidx.n - 1, &rel, &p);
            if (p < pos)
                q = p;
        }
        while (q < pos) {
            if ((r = read_hdr(s, q, h)))
                return r;
            new_next = (int64_t)bk_get_be64(h + H_BASE_OFFSET) +
                       (int32_t)bk_get_be32(h + H_LAST_DELTA) + 1;
            q += (uint64_t)bk_get_be32(h + H_LENGTH) + BK_BATCH_LOG_OVERHEAD;
        }
    } else {
        bk_index_clear(&s->oidx);
    }
    bk_index_truncate_rel(&s->oidx, (uint32_t)(new_next - s->base));
    bk_index_truncate_rel(&s->tidx, (uint32_t)(new_next - s->base));
    s->next = new_next;
    /* the largest timestamp may have been cut off: take it from the index */
    s->max_ts = s->max_ts_off = -1;
    if (s->tidx.n) {
        uint32_t rel;
        bk_index_time_at(&s->tidx, s->tidx.n - 1, &s->max_ts, &rel);
        s->max_ts_off = s->base + rel;
    }
    if (s->size == 0)
        s->first_ts = -1;
    s->since_index = s->cfg.index_interval + 1; /* index the next append */
    return 0;
}

void bk_seg_flushpoint_take(const bk_segment *s, bk_seg_flushpoint *fp)
{
    fp->size = s->size;
    fp->oidx_n = s->oidx.n;
    fp->tidx_n = s->tidx.n;
    fp->next = s->next;
}

int bk_seg_flush(bk_segment *s, const bk_seg_flushpoint *fp)
{
    /* Only the .log: what the recovery point promises. The indexes of a
     * segment are made durable once, when it is sealed (bk_index_trim in
     * the flush job) or closed cleanly; until then a crash makes the next
     * start scan the segment and rebuild them (plog.h), so syncing them on
     * every flush would only triple the fsyncs. */
    if (s->fd >= 0 && bk_io->fsync(s->fd) == -1)
        return BK_EIO;
    if (fp->txn) {
        char tp[4096];
        bk_seg_txn_path(s, tp, sizeof tp);
        return bk_txnidx_sync(tp);
    }
    return 0;
}

void bk_seg_txn_path(const bk_segment *s, char *out, size_t cap)
{
    size_t n = strlen(s->log_path) - 4; /* without ".log" */
    snprintf(out, cap, "%.*s.txnindex", (int)n, s->log_path);
}

static int scan(bk_segment *s, int64_t from, uint8_t *buf, size_t cap, bk_seg_batch_fn fn,
                void *ud);

int bk_seg_scan(bk_segment *s, int64_t from, uint8_t *buf, size_t cap, bk_seg_batch_fn fn,
                void *ud)
{
    if (from >= s->next || s->size == 0)
        return 0;
    /* Pinned before the descriptor is opened: at start-up other threads
     * open segments of other partitions, and the LRU must not close this
     * one under the scan. */
    bk_seg_pin(s);
    int r = bk_seg_fd(s);
    if (!r)
        r = scan(s, from, buf, cap, fn, ud);
    bk_seg_unpin(s);
    return r;
}

static int scan(bk_segment *s, int64_t from, uint8_t *buf, size_t cap, bk_seg_batch_fn fn,
                void *ud)
{
    int r;
    uint64_t pos = 0;
    if (from > s->base) {
        uint8_t h[BK_BATCH_HDR];
        if ((r = bk_seg_load_indexes(s)))
            return r;
        r = locate(s, from, &pos, h);
        if (r == BK_ENOENT)
            return 0;
        if (r)
            return r;
    }
    uint64_t bpos = pos; /* file position of buf[0] */
    size_t blen = 0;     /* bytes valid in buf */
    bool big = false;    /* the last batch was large: read just a header */
    while (pos < s->size) {
        size_t off = (size_t)(pos - bpos);
        if (pos - bpos + BK_BATCH_HDR > blen) {
            size_t want = (size_t)BK_MIN((uint64_t)(big ? 4096 : cap), s->size - pos);
            ssize_t got = bk_io_pread_full(s->fd, buf, want, (off_t)pos);
            if (got < 0)
                return BK_EIO;
            bpos = pos;
            blen = (size_t)got;
            off = 0;
            if (blen < BK_BATCH_HDR)
                return BK_ECORRUPT;
        }
        const uint8_t *b = buf + off;
        uint32_t blen_f = bk_get_be32(b + H_LENGTH);
        uint64_t total = (uint64_t)blen_f + BK_BATCH_LOG_OVERHEAD;
        if (blen_f < BK_BATCH_HDR - BK_BATCH_LOG_OVERHEAD || pos + total > s->size ||
            b[H_MAGIC] != 2)
            return BK_ECORRUPT;
        bool control = (bk_get_be16(b + H_ATTRS) & BK_BATCH_ATTR_CONTROL) != 0;
        if (control && off + total > blen && total <= cap) {
            ssize_t got = bk_io_pread_full(s->fd, buf, (size_t)total, (off_t)pos);
            if (got != (ssize_t)total)
                return got < 0 ? BK_EIO : BK_ECORRUPT;
            bpos = pos;
            blen = (size_t)got;
            off = 0;
            b = buf;
        }
        size_t avail = (size_t)BK_MIN(total, (uint64_t)(blen - off));
        if ((r = fn(ud, s, b, avail)))
            return r;
        pos += total;
        big = total >= cap / 4;
    }
    return 0;
}

int bk_seg_delete_files(bk_segment *s)
{
    bk_seg_release_fd(s);
    int r = 0;
    if (bk_io->unlink(s->log_path) == -1 && errno != ENOENT)
        r = BK_EIO;
    if (bk_io->unlink(s->oidx.path) == -1 && errno != ENOENT)
        r = BK_EIO;
    if (bk_io->unlink(s->tidx.path) == -1 && errno != ENOENT)
        r = BK_EIO;
    char tp[4096];
    bk_seg_txn_path(s, tp, sizeof tp);
    if (bk_io->unlink(tp) == -1 && errno != ENOENT)
        r = BK_EIO;
    return r;
}
