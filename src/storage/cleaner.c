/*
 * cleaner.c - the log cleaner (see cleaner.h).
 */
#include "cleaner.h"

#include "../core/log.h"
#include "../core/vec.h"
#include "compress.h"
#include "fileio.h"
#include "txnindex.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int bk_cleaner_crash_step;

#define MAP_ESZ      24
#define MAP_LOAD     0.9
#define READ_CHUNK   (1u << 20)
#define DECOMP_LIMIT ((size_t)1 << 30)
#define MAX_JOB_SEGS 256

void bk_cleaner_cfg_defaults(bk_cleaner_cfg *c)
{
    c->threads = 1;
    c->dedupe_bytes = 134217728; /* 128 MiB */
    c->io_max_bps = 0;
    c->backoff_ms = 15000;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ offset map
 *
 * Open addressing with linear probing: {h1, h2, offset}, offset -1 empty.
 * Two independent 64-bit hashes of the key make a 128-bit digest (Kafka
 * keeps a 16-byte MD5): a collision would drop a live key, so it must be
 * negligible at hundreds of millions of keys. */

typedef struct omap {
    uint64_t *e; /* 3 words per slot */
    size_t slots, n, max;
} omap;

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static uint64_t hash64(const uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t h = seed ^ ((uint64_t)n * 0x9e3779b97f4a7c15ULL);
    while (n >= 8) {
        uint64_t k;
        memcpy(&k, p, 8);
        h = (h ^ mix64(k + seed)) * 0x100000001b3ULL;
        h = (h << 27) | (h >> 37);
        p += 8;
        n -= 8;
    }
    uint64_t k = 0;
    for (size_t i = 0; i < n; i++)
        k |= (uint64_t)p[i] << (8 * i);
    h = (h ^ mix64(k + seed + n)) * 0x100000001b3ULL;
    return mix64(h);
}

static int omap_init(omap *m, size_t slots)
{
    size_t cap = 1024;
    while (cap < slots && cap < ((size_t)1 << 40))
        cap <<= 1;
    if (cap > slots && cap > 1024)
        cap >>= 1; /* stay within the budget */
    m->e = malloc(cap * MAP_ESZ);
    if (!m->e)
        return BK_ENOMEM;
    memset(m->e, 0xff, cap * MAP_ESZ);
    m->slots = cap;
    m->n = 0;
    m->max = (size_t)((double)cap * MAP_LOAD);
    return 0;
}

static void omap_free(omap *m)
{
    free(m->e);
    m->e = NULL;
}

/* The slot of (h1, h2): its index; found says whether it is occupied. */
static size_t omap_slot(const omap *m, uint64_t h1, uint64_t h2, bool *found)
{
    size_t mask = m->slots - 1;
    for (size_t i = (size_t)h1 & mask;; i = (i + 1) & mask) {
        const uint64_t *s = m->e + i * 3;
        if ((int64_t)s[2] < 0) {
            *found = false;
            return i;
        }
        if (s[0] == h1 && s[1] == h2) {
            *found = true;
            return i;
        }
    }
}

static void omap_put(omap *m, uint64_t h1, uint64_t h2, int64_t off)
{
    bool f;
    size_t i = omap_slot(m, h1, h2, &f);
    uint64_t *s = m->e + i * 3;
    if (!f) {
        s[0] = h1;
        s[1] = h2;
        m->n++;
    }
    s[2] = (uint64_t)off;
}

static int64_t omap_get(const omap *m, uint64_t h1, uint64_t h2)
{
    bool f;
    size_t i = omap_slot(m, h1, h2, &f);
    return f ? (int64_t)m->e[i * 3 + 2] : -1;
}

/* ------------------------------------------------------------------- jobs */

typedef struct cseg {
    bk_segment *orig; /* identity only: never dereferenced off the loop */
    int64_t base, next;
    uint64_t size;
    int fd; /* our own read-only descriptor */
} cseg;

typedef struct cgroup {
    int first, n; /* segments [first, first + n) of the job */
    int64_t base;
    uint32_t txn_n; /* aborted-transaction entries written */
    bool written;
} cgroup;

typedef struct plast {
    int64_t pid, last_off;
} plast;

typedef struct ptxn {
    int64_t pid;
    bool data; /* data of its current transaction stays */
} ptxn;

typedef struct job {
    bk_plog *log; /* loop side only; NULL = forgotten */
    char *dir;
    bk_logcfg cfg;
    int64_t now_ms;
    cseg *segs;
    int nsegs;
    int64_t first_dirty, end, map_end;
    bk_abtxn *ab; /* aborted transactions (copy) */
    int nab;
    plast *pl; /* last batch of each producer (copy), sorted by pid */
    int npl;
    cgroup *groups;
    int ngroups;
    int result;
    atomic_int cancel;
    /* commit (the .swap renames) on the worker vs. abort on the loop */
    pthread_mutex_t cmu;
    bool committed, aborted;
    bk_cleaner_stats st;
    struct job *next;
    /* worker scratch */
    ptxn *tx;
    int ntx, captx;
} job;

struct bk_cleaner {
    bk_cleaner_cfg cfg;
    pthread_t *th;
    int nth;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *queue, *done;
    job *reap; /* finished on the loop: a worker closes their descriptors */
    job **running; /* per thread */
    int busy;      /* queued + running + done not yet swapped */
    bool stop;
    int64_t next_run_ms;
    int swapped;
    bk_cleaner_stats st;
    /* throttle, shared by the threads */
    int64_t io_start_ms;
    uint64_t io_bytes;
};

/* the throttle of bk_cleaner_clean_now (no bk_cleaner) */
typedef struct throttle {
    pthread_mutex_t *mu;
    double bps;
    int64_t *start_ms;
    uint64_t *bytes;
} throttle;

static void job_free(job *j)
{
    if (!j)
        return;
    for (int i = 0; i < j->nsegs; i++)
        if (j->segs[i].fd >= 0)
            close(j->segs[i].fd);
    free(j->segs);
    free(j->ab);
    free(j->pl);
    free(j->groups);
    free(j->tx);
    free(j->dir);
    pthread_mutex_destroy(&j->cmu);
    free(j);
}

static void cpath(char *out, size_t cap, const char *dir, int64_t base, const char *ext,
                  const char *suffix)
{
    snprintf(out, cap, "%s/%020" PRId64 "%s%s", dir, base, ext, suffix);
}

static const char *const exts[4] = {".index", ".timeindex", ".txnindex", ".log"};

static void unlink_group(const char *dir, int64_t base, const char *suffix)
{
    char p[4096];
    for (int k = 0; k < 4; k++) {
        cpath(p, sizeof p, dir, base, exts[k], suffix);
        (void)bk_io->unlink(p);
    }
}

static void throttle_io(const throttle *t, uint64_t n)
{
    if (!t || t->bps <= 0)
        return;
    pthread_mutex_lock(t->mu);
    int64_t now = mono_ms();
    if (*t->start_ms == 0 || now - *t->start_ms > 1000) {
        /* a fresh one-second window */
        *t->start_ms = now;
        *t->bytes = 0;
    }
    *t->bytes += n;
    double want_ms = (double)*t->bytes * 1000.0 / t->bps;
    int64_t sleep_ms = (int64_t)want_ms - (now - *t->start_ms);
    pthread_mutex_unlock(t->mu);
    if (sleep_ms > 0) {
        struct timespec ts = {sleep_ms / 1000, (sleep_ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
    }
}

/* --------------------------------------------------------- batch reading */

typedef struct rdr {
    int fd;
    uint64_t size, fpos; /* file position of buf[0] */
    uint8_t *buf;
    size_t cap, len, off;
} rdr;

static void rdr_init(rdr *r, int fd, uint64_t size)
{
    memset(r, 0, sizeof *r);
    r->fd = fd;
    r->size = size;
}

/* Next whole batch: *b and *pos (its file position); 0, 1 at the end, or
 * BK_E*. */
static int rdr_next(rdr *r, const uint8_t **b, uint64_t *pos, job *j, const throttle *t)
{
    for (;;) {
        size_t avail = r->len - r->off;
        if (avail >= BK_BATCH_HDR) {
            const uint8_t *p = r->buf + r->off;
            uint32_t blen = bk_get_be32(p + BK_BATCH_OFF_LENGTH);
            size_t total = (size_t)blen + BK_BATCH_LOG_OVERHEAD;
            if (blen < BK_BATCH_HDR - BK_BATCH_LOG_OVERHEAD || blen > (1u << 30) ||
                p[BK_BATCH_OFF_MAGIC] != 2)
                return BK_ECORRUPT;
            if (total <= avail) {
                *b = p;
                *pos = r->fpos + r->off;
                r->off += total;
                return 0;
            }
            if (total > r->cap) {
                /* a batch larger than the buffer */
                uint8_t *nb = malloc(total);
                if (!nb)
                    return BK_ENOMEM;
                memcpy(nb, p, avail);
                free(r->buf);
                r->buf = nb;
                r->cap = total;
                r->fpos += r->off;
                r->len = avail;
                r->off = 0;
            }
        }
        uint64_t at = r->fpos + r->len;
        if (at >= r->size)
            return avail ? BK_ECORRUPT : 1;
        if (!r->buf) {
            r->cap = READ_CHUNK;
            if (!(r->buf = malloc(r->cap)))
                return BK_ENOMEM;
        }
        /* keep the partial batch at the front and refill */
        if (r->off) {
            memmove(r->buf, r->buf + r->off, avail);
            r->fpos += r->off;
            r->len = avail;
            r->off = 0;
        }
        size_t want = (size_t)BK_MIN((uint64_t)(r->cap - r->len), r->size - at);
        ssize_t got = bk_io_pread_full(r->fd, r->buf + r->len, want, (off_t)at);
        if (got <= 0)
            return got < 0 ? BK_EIO : BK_ECORRUPT;
        r->len += (size_t)got;
        j->st.bytes_read += (uint64_t)got;
        throttle_io(t, (uint64_t)got);
    }
}

static void rdr_fini(rdr *r)
{
    free(r->buf);
}

/* Is the transactional batch (pid, offset) part of an aborted transaction? */
static bool aborted(const job *j, int64_t pid, int64_t off)
{
    for (int i = 0; i < j->nab; i++)
        if (j->ab[i].pid == pid && j->ab[i].first <= off && off <= j->ab[i].last)
            return true;
    return false;
}

static int cmp_pl(const void *a, const void *b)
{
    int64_t x = ((const plast *)a)->pid, y = ((const plast *)b)->pid;
    return x < y ? -1 : x > y;
}

/* Is the batch ending at last the newest batch of producer pid? */
static bool producer_last(const job *j, int64_t pid, int64_t last)
{
    int lo = 0, hi = j->npl - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (j->pl[mid].pid == pid)
            return j->pl[mid].last_off == last;
        if (j->pl[mid].pid < pid)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return false;
}

static ptxn *txn_of(job *j, int64_t pid)
{
    for (int i = 0; i < j->ntx; i++)
        if (j->tx[i].pid == pid)
            return &j->tx[i];
    ptxn *nt = bk_vec_grow(j->tx, j->ntx, &j->captx, sizeof *nt, 8);
    if (!nt)
        return NULL;
    j->tx = nt;
    nt[j->ntx] = (ptxn){pid, false};
    return &nt[j->ntx++];
}

/* The records of a batch, decompressed into scratch if needed. */
static int batch_records(const bk_batch_info *bi, bk_zctx *z, bk_wr *scratch, const uint8_t **recs,
                         size_t *len)
{
    if (bi->compression == BK_COMPRESSION_NONE) {
        *recs = bi->records;
        *len = bi->records_len;
        return 0;
    }
    bk_wr_reset(scratch);
    int r = bk_decompress(z, bi->compression, bi->records, bi->records_len, scratch, DECOMP_LIMIT);
    if (r)
        return r;
    *recs = scratch->buf;
    *len = scratch->len;
    return 0;
}

/* --------------------------------------------------- phase 1: offset map */

static int build_map(job *j, omap *m, const throttle *t)
{
    bk_zctx z;
    bk_zctx_init(&z);
    bk_wr scratch;
    bk_wr_init(&scratch, 0);
    int rc = 0;
    j->map_end = j->end;
    for (int i = 0; i < j->nsegs && !rc; i++) {
        cseg *s = &j->segs[i];
        if (s->next <= j->first_dirty)
            continue;
        rdr rd;
        rdr_init(&rd, s->fd, s->size);
        const uint8_t *b;
        uint64_t pos;
        int r;
        while ((r = rdr_next(&rd, &b, &pos, j, t)) == 0) {
            if (atomic_load(&j->cancel)) {
                r = BK_EAGAIN;
                break;
            }
            bk_batch_info bi;
            if (bk_batch_parse(b, bk_batch_size(b), &bi) != 0) {
                r = BK_ECORRUPT;
                break;
            }
            int64_t last = bi.base_offset + bi.last_offset_delta;
            if (last < j->first_dirty || bi.control)
                continue;
            if (bi.transactional && aborted(j, bi.producer_id, bi.base_offset))
                continue;
            if (m->n + (size_t)BK_MAX(bi.record_count, 0) > m->max) {
                /* full: this job stops before this batch */
                if (bi.base_offset <= j->first_dirty) {
                    r = BK_ELIMIT; /* not even one batch fits */
                    break;
                }
                j->map_end = bi.base_offset;
                r = 2;
                break;
            }
            const uint8_t *recs;
            size_t rlen;
            if ((r = batch_records(&bi, &z, &scratch, &recs, &rlen)))
                break;
            bk_rec_iter it;
            bk_record rec;
            bk_rec_iter_init(&it, recs, rlen, bi.record_count);
            while (bk_rec_iter_next(&it, &rec)) {
                int64_t off = bi.base_offset + rec.offset_delta;
                if (rec.key_len < 0 || off < j->first_dirty)
                    continue;
                const uint8_t *k = rec.key ? rec.key : (const uint8_t *)"";
                omap_put(m, hash64(k, (size_t)rec.key_len, 0x5bd1e995),
                         hash64(k, (size_t)rec.key_len, 0x27d4eb2f165667c5ULL), off);
            }
            if (it.err) {
                r = BK_ECORRUPT;
                break;
            }
        }
        rdr_fini(&rd);
        if (r == 2) {
            break;
        } else if (r < 0) {
            rc = r;
        }
    }
    bk_wr_fini(&scratch);
    bk_zctx_fini(&z);
    return rc;
}

/* ------------------------------------------------ phase 2: rewrite groups */

typedef struct outseg {
    int fd;
    uint64_t size;
    int64_t base;
    bk_index oidx, tidx;
    uint32_t since_index, index_interval;
    int64_t max_ts, max_ts_off;
    bk_wr buf; /* pending bytes at file position size - buf.len */
    bk_abtxn *txn;
    int ntxn, captxn;
} outseg;

static int out_flush(outseg *o, job *j, const throttle *t)
{
    if (!o->buf.len)
        return 0;
    if (bk_io_pwrite_all(o->fd, o->buf.buf, o->buf.len, (off_t)(o->size - o->buf.len)) == -1)
        return errno == ENOSPC ? BK_ENOSPC : BK_EIO;
    j->st.bytes_written += o->buf.len;
    throttle_io(t, o->buf.len);
    bk_wr_reset(&o->buf);
    return 0;
}

/* Append one finished batch (whole, CRC set). */
static int out_batch(outseg *o, const uint8_t *b, size_t n, job *j, const throttle *t)
{
    int64_t last = bk_batch_last_offset(b);
    int64_t mts = bk_batch_max_timestamp(b);
    uint64_t pos = o->size;
    if (mts > o->max_ts) {
        o->max_ts = mts;
        o->max_ts_off = last;
    }
    if (o->since_index > o->index_interval && !bk_index_full(&o->oidx) &&
        !bk_index_full(&o->tidx)) {
        bk_index_append_off(&o->oidx, (uint32_t)(last - o->base), (uint32_t)pos);
        bk_index_append_time(&o->tidx, o->max_ts, (uint32_t)(o->max_ts_off - o->base));
        o->since_index = 0;
    }
    o->since_index += (uint32_t)n;
    bk_wr_mem(&o->buf, b, n);
    if (o->buf.err)
        return BK_ENOMEM;
    o->size += n;
    if (o->buf.len >= READ_CHUNK)
        return out_flush(o, j, t);
    return 0;
}

/* A batch with b's header and the given records (already encoded),
 * compressed with b's codec. count 0: an empty batch, uncompressed. */
static int out_rebuilt(outseg *o, const uint8_t *b, const uint8_t *recs, size_t rlen, int32_t count,
                       bk_wr *tmp, job *j, const throttle *t)
{
    int codec = bk_batch_compression(b);
    bk_wr_reset(tmp);
    uint8_t *h = bk_wr_take(tmp, BK_BATCH_HDR);
    if (!h)
        return BK_ENOMEM;
    memcpy(h, b, BK_BATCH_HDR);
    if (count > 0 && codec != BK_COMPRESSION_NONE) {
        int r = bk_compress(codec, recs, rlen, tmp);
        if (r)
            return r;
    } else if (count > 0) {
        bk_wr_mem(tmp, recs, rlen);
    }
    if (tmp->err)
        return BK_ENOMEM;
    uint8_t *p = tmp->buf;
    if (count == 0)
        bk_be16(p + BK_BATCH_OFF_ATTRIBUTES,
                (uint16_t)(bk_batch_attributes(p) & ~BK_BATCH_ATTR_COMPRESSION));
    bk_be32(p + BK_BATCH_OFF_LENGTH, (uint32_t)(tmp->len - BK_BATCH_LOG_OVERHEAD));
    bk_be32(p + BK_BATCH_OFF_RECORD_COUNT, (uint32_t)count);
    bk_be32(p + BK_BATCH_OFF_CRC, bk_batch_crc_compute(p, tmp->len));
    return out_batch(o, p, tmp->len, j, t);
}

static int out_open(outseg *o, job *j, int64_t base)
{
    memset(o, 0, sizeof *o);
    o->fd = -1;
    o->base = base;
    o->max_ts = o->max_ts_off = -1;
    o->index_interval = j->cfg.index_interval;
    bk_wr_init(&o->buf, READ_CHUNK + 65536);
    char p[4096];
    cpath(p, sizeof p, j->dir, base, ".log", ".cleaned");
    o->fd = bk_io->open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (o->fd == -1)
        return errno == ENOSPC ? BK_ENOSPC : BK_EIO;
    int r;
    cpath(p, sizeof p, j->dir, base, ".index", ".cleaned");
    if ((r = bk_index_init(&o->oidx, p, BK_OIDX_ESZ, j->cfg.index_bytes)))
        return r;
    cpath(p, sizeof p, j->dir, base, ".timeindex", ".cleaned");
    if ((r = bk_index_init(&o->tidx, p, BK_TIDX_ESZ, j->cfg.index_bytes)))
        return r;
    if ((r = bk_index_create(&o->oidx)) || (r = bk_index_create(&o->tidx)))
        return r;
    return 0;
}

/* Flush, write the indexes and the .txnindex, fsync everything. */
static int out_finish(outseg *o, job *j, const throttle *t)
{
    int r = out_flush(o, j, t);
    if (!r && bk_io->fsync(o->fd) == -1)
        r = BK_EIO;
    if (!r && o->max_ts >= 0)
        bk_index_append_time(&o->tidx, o->max_ts, (uint32_t)(o->max_ts_off - o->base));
    if (!r)
        r = bk_index_trim(&o->oidx);
    if (!r)
        r = bk_index_trim(&o->tidx);
    char p[4096];
    cpath(p, sizeof p, j->dir, o->base, ".txnindex", ".cleaned");
    if (!r) {
        int fd = bk_io->open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
        if (fd == -1)
            r = BK_EIO;
        else
            bk_io->close(fd);
    }
    for (int i = 0; !r && i < o->ntxn; i++)
        r = bk_txnidx_write(p, (uint32_t)i, &o->txn[i]);
    if (!r)
        r = bk_txnidx_sync(p);
    return r;
}

static void out_close(outseg *o)
{
    if (o->fd >= 0)
        bk_io->close(o->fd);
    o->fd = -1;
    bk_index_fini(&o->oidx);
    bk_index_fini(&o->tidx);
    bk_wr_fini(&o->buf);
    free(o->txn);
    o->txn = NULL;
}

typedef struct cleanctx {
    job *j;
    const omap *m;
    const throttle *t;
    bk_zctx z;
    bk_wr scratch, kept, tmp;
} cleanctx;

/* Keep the record at off with this key/value? */
static bool keep_record(cleanctx *cx, const bk_batch_info *bi, const bk_record *rec)
{
    job *j = cx->j;
    int64_t off = bi->base_offset + rec->offset_delta;
    if (rec->key_len < 0)
        return false; /* Kafka's cleaner drops keyless records */
    if (off >= j->map_end)
        return true;
    const uint8_t *k = rec->key ? rec->key : (const uint8_t *)"";
    int64_t latest = omap_get(cx->m, hash64(k, (size_t)rec->key_len, 0x5bd1e995),
                              hash64(k, (size_t)rec->key_len, 0x27d4eb2f165667c5ULL));
    if (latest > off)
        return false;
    if (rec->value_len < 0) {
        /* a tombstone, the latest of its key: every older value of the key
         * below the map end goes in this pass; the tombstone itself after
         * delete.retention.ms */
        int64_t ts = bk_record_timestamp(bi, rec);
        if (bi->timestamp_type == BK_TIMESTAMP_LOG_APPEND)
            ts = bi->max_timestamp;
        if (j->now_ms - ts > j->cfg.delete_retention_ms)
            return false;
    }
    return true;
}

static int clean_batch(cleanctx *cx, outseg *o, const uint8_t *b)
{
    job *j = cx->j;
    bk_batch_info bi;
    if (bk_batch_parse(b, bk_batch_size(b), &bi) != 0)
        return BK_ECORRUPT;
    int64_t last = bi.base_offset + bi.last_offset_delta;
    if (bi.control) {
        ptxn *tx = txn_of(j, bi.producer_id);
        if (!tx)
            return BK_ENOMEM;
        int type = -1;
        int32_t ce;
        bool keep = tx->data || j->now_ms - bi.max_timestamp <= j->cfg.delete_retention_ms ||
                    bi.base_offset >= j->map_end;
        tx->data = false;
        if (!keep)
            return 0;
        if (bk_pstate_parse_marker(b, bi.size, &type, &ce) == 0 && type == 0) {
            for (int i = 0; i < j->nab; i++) {
                if (j->ab[i].pid == bi.producer_id && j->ab[i].last == bi.base_offset) {
                    bk_abtxn *na = bk_vec_grow(o->txn, o->ntxn, &o->captxn, sizeof *na, 4);
                    if (!na)
                        return BK_ENOMEM;
                    o->txn = na;
                    na[o->ntxn++] = j->ab[i];
                    break;
                }
            }
        }
        j->st.records_read += (uint64_t)BK_MAX(bi.record_count, 0);
        j->st.records_kept += (uint64_t)BK_MAX(bi.record_count, 0);
        return out_batch(o, b, bi.size, j, cx->t);
    }
    bool is_last = bi.producer_id >= 0 && producer_last(j, bi.producer_id, last);
    if (bi.transactional && aborted(j, bi.producer_id, bi.base_offset)) {
        j->st.records_read += (uint64_t)BK_MAX(bi.record_count, 0);
        return is_last ? out_rebuilt(o, b, NULL, 0, 0, &cx->tmp, j, cx->t) : 0;
    }
    const uint8_t *recs;
    size_t rlen;
    int r = batch_records(&bi, &cx->z, &cx->scratch, &recs, &rlen);
    if (r)
        return r;
    bk_rec_iter it;
    bk_record rec;
    bk_rec_iter_init(&it, recs, rlen, bi.record_count);
    bk_wr_reset(&cx->kept);
    int32_t n = 0, nk = 0;
    while (bk_rec_iter_next(&it, &rec)) {
        n++;
        if (keep_record(cx, &bi, &rec)) {
            nk++;
            bk_wr_mem(&cx->kept, rec.raw, rec.raw_len);
        }
    }
    if (it.err || cx->kept.err)
        return it.err ? BK_ECORRUPT : BK_ENOMEM;
    j->st.records_read += (uint64_t)n;
    j->st.records_kept += (uint64_t)nk;
    if (bi.transactional && nk > 0) {
        ptxn *tx = txn_of(j, bi.producer_id);
        if (!tx)
            return BK_ENOMEM;
        tx->data = true;
    }
    if (nk == 0 && !is_last)
        return 0;
    if (nk == n)
        return out_batch(o, b, bi.size, j, cx->t); /* unchanged: byte for byte */
    return out_rebuilt(o, b, cx->kept.buf, cx->kept.len, nk, &cx->tmp, j, cx->t);
}

static int clean_group(cleanctx *cx, cgroup *g)
{
    job *j = cx->j;
    outseg o;
    int r = out_open(&o, j, g->base);
    for (int i = g->first; !r && i < g->first + g->n; i++) {
        cseg *s = &j->segs[i];
        rdr rd;
        rdr_init(&rd, s->fd, s->size);
        const uint8_t *b;
        uint64_t pos;
        while ((r = rdr_next(&rd, &b, &pos, j, cx->t)) == 0) {
            if (atomic_load(&j->cancel)) {
                r = BK_EAGAIN;
                break;
            }
            if ((r = clean_batch(cx, &o, b)))
                break;
        }
        rdr_fini(&rd);
        if (r == 1)
            r = 0;
    }
    if (!r)
        r = out_finish(&o, j, cx->t);
    g->txn_n = (uint32_t)o.ntxn;
    out_close(&o);
    g->written = true;
    return r;
}

static int ren(const char *dir, int64_t base, const char *ext, const char *from, const char *to);

/* Commit the job's groups, off the loop: <base>.{index,timeindex,
 * txnindex}.cleaned -> .swap, then <base>.log.cleaned -> .log.swap, one
 * directory fsync (recovery takes an index file of a committed group under
 * either name, so none is needed between the two). Under the job's commit
 * lock, so that the loop's abort (bk_cleaner_abort: a truncation or
 * retention is about to change the segments) either comes first (no
 * commit) or finds the .swap files to remove. */
static int commit(job *j)
{
    pthread_mutex_lock(&j->cmu);
    int r = j->aborted ? BK_EAGAIN : 0;
    for (int g = 0; !r && g < j->ngroups; g++)
        for (int k = 0; !r && k < 3; k++)
            r = ren(j->dir, j->groups[g].base, exts[k], ".cleaned", ".swap");
    for (int g = 0; !r && g < j->ngroups; g++)
        r = ren(j->dir, j->groups[g].base, ".log", ".cleaned", ".swap");
    if (!r && bk_io->fsync_dir(j->dir) == -1)
        r = BK_EIO;
    if (r && r != BK_EAGAIN) {
        for (int g = 0; g < j->ngroups; g++)
            unlink_group(j->dir, j->groups[g].base, ".swap");
    }
    j->committed = r == 0;
    pthread_mutex_unlock(&j->cmu);
    return r;
}

/* Remove a committed job's .swap files (on the loop: the job is dropped). */
static void uncommit(job *j)
{
    for (int g = 0; g < j->ngroups; g++) {
        unlink_group(j->dir, j->groups[g].base, ".swap");
        unlink_group(j->dir, j->groups[g].base, ".cleaned");
    }
    (void)bk_io->fsync_dir(j->dir);
    j->committed = false;
}

/* The whole job on the calling thread: map, groups, cleaned files. */
static void run_job(job *j, int64_t map_slots, const throttle *t)
{
    int64_t t0 = mono_ms();
    omap m = {0};
    /* no more slots than the dirty bytes could need */
    uint64_t dirty = 0;
    for (int i = 0; i < j->nsegs; i++)
        if (j->segs[i].next > j->first_dirty)
            dirty += j->segs[i].size;
    int64_t want = (int64_t)BK_MIN((uint64_t)map_slots, dirty / 4 + 1024);
    int r = omap_init(&m, (size_t)want);
    if (!r)
        r = build_map(j, &m, t);
    if (!r) {
        /* only segments that start below the map end */
        int n = 0;
        while (n < j->nsegs && j->segs[n].base < j->map_end)
            n++;
        j->groups = calloc((size_t)BK_MAX(n, 1), sizeof *j->groups);
        if (!j->groups)
            r = BK_ENOMEM;
        /* Kafka's groupSegmentsBySize */
        for (int i = 0; !r && i < n;) {
            cgroup *g = &j->groups[j->ngroups++];
            g->first = i;
            g->base = j->segs[i].base;
            uint64_t sz = j->segs[i].size;
            int k = i + 1;
            while (k < n && sz + j->segs[k].size <= (uint64_t)j->cfg.segment_bytes &&
                   j->segs[k].next - g->base < INT32_MAX) {
                sz += j->segs[k].size;
                k++;
            }
            g->n = k - i;
            i = k;
        }
    }
    if (!r) {
        cleanctx cx = {.j = j, .m = &m, .t = t};
        bk_zctx_init(&cx.z);
        bk_wr_init(&cx.scratch, 0);
        bk_wr_init(&cx.kept, 0);
        bk_wr_init(&cx.tmp, 0);
        for (int g = 0; !r && g < j->ngroups; g++)
            r = clean_group(&cx, &j->groups[g]);
        bk_wr_fini(&cx.scratch);
        bk_wr_fini(&cx.kept);
        bk_wr_fini(&cx.tmp);
        bk_zctx_fini(&cx.z);
    }
    omap_free(&m);
    if (!r) {
        /* Write back what is still dirty of the segments being replaced
         * here, off the loop: the swap's directory fsyncs on the loop
         * commit the filesystem journal, which (ext4, data=ordered) writes
         * back every dirty page first, and these are most of them. */
        for (int i = 0; i < j->nsegs && !atomic_load(&j->cancel); i++)
            if (j->segs[i].base < j->map_end)
                (void)fdatasync(j->segs[i].fd);
    }
    if (!r)
        r = commit(j);
    if (r) {
        for (int g = 0; g < j->ngroups; g++)
            if (j->groups[g].written)
                unlink_group(j->dir, j->groups[g].base, ".cleaned");
    }
    j->result = r;
    j->st.busy_ms = mono_ms() - t0;
}

/* ------------------------------------------------- choosing and preparing */

/* The cleanable range of l: segments [0, *nseg), the first dirty offset
 * and the byte counts. false when l is not compacted or nothing is
 * cleanable. */
static bool cleanable(bk_plog *l, int64_t now_ms, int *nseg, int64_t *first_dirty,
                      uint64_t *clean_b, uint64_t *dirty_b, bool *overdue)
{
    if (!l->cfg.cleanup_compact || l->offline || l->cleaning || l->nsegs < 2)
        return false;
    /* Kafka's cleanable bound: below the high watermark and the first
     * unstable offset, whole sealed segments only (the cleaned files are
     * fsynced on their own, so unflushed input is fine) */
    int64_t limit = BK_MIN(l->hw, bk_plog_lso(l));
    int k = 0;
    for (int i = 0; i < l->nsegs - 1; i++) {
        bk_segment *s = l->segs[i];
        if (s->next > limit)
            break;
        if (bk_seg_load_indexes(s) != 0)
            break;
        if (l->cfg.min_compaction_lag_ms > 0 && s->max_ts >= 0 &&
            now_ms - s->max_ts < l->cfg.min_compaction_lag_ms)
            break;
        k = i + 1;
    }
    if (k == 0)
        return false;
    int64_t fd = BK_MAX(l->clean_upto, l->log_start);
    uint64_t c = 0, d = 0;
    bool od = false;
    bool first = true;
    for (int i = 0; i < k; i++) {
        bk_segment *s = l->segs[i];
        if (s->next <= fd) {
            c += s->size;
        } else {
            d += s->size;
            if (first && l->cfg.max_compaction_lag_ms < INT64_MAX && s->max_ts >= 0 &&
                now_ms - s->max_ts > l->cfg.max_compaction_lag_ms)
                od = true;
            first = false;
        }
    }
    if (d == 0)
        return false;
    *nseg = k;
    *first_dirty = fd;
    *clean_b = c;
    *dirty_b = d;
    *overdue = od;
    return true;
}

double bk_cleaner_dirty_ratio(bk_plog *l, int64_t now_ms)
{
    int k;
    int64_t fd;
    uint64_t c, d;
    bool od;
    if (!cleanable(l, now_ms, &k, &fd, &c, &d, &od))
        return -1;
    return (double)d / (double)(c + d);
}

static job *prepare(bk_plog *l, int64_t now_ms)
{
    int k;
    int64_t fd;
    uint64_t c, d;
    bool od;
    if (!cleanable(l, now_ms, &k, &fd, &c, &d, &od))
        return NULL;
    /* the job holds a descriptor per segment: a bounded number (the next
     * job goes on from where this one ends) */
    if (k > MAX_JOB_SEGS) {
        k = MAX_JOB_SEGS;
        if (l->segs[k - 1]->next <= fd)
            return NULL; /* all clean below the cap: nothing to gain */
    }
    job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->log = l;
    pthread_mutex_init(&j->cmu, NULL);
    j->dir = strdup(l->dir);
    j->cfg = l->cfg;
    j->now_ms = now_ms;
    j->first_dirty = fd;
    j->segs = calloc((size_t)k, sizeof *j->segs);
    if (!j->dir || !j->segs) {
        job_free(j);
        return NULL;
    }
    for (int i = 0; i < k; i++)
        j->segs[i].fd = -1;
    j->nsegs = k;
    for (int i = 0; i < k; i++) {
        bk_segment *s = l->segs[i];
        cseg *cs = &j->segs[i];
        cs->orig = s;
        cs->base = s->base;
        cs->next = s->next;
        cs->size = s->size;
        cs->fd = open(s->log_path, O_RDONLY | O_CLOEXEC);
        if (cs->fd == -1) {
            job_free(j);
            return NULL;
        }
    }
    j->end = j->segs[k - 1].next;
    if (l->ps.nab) {
        j->ab = malloc((size_t)l->ps.nab * sizeof *j->ab);
        if (!j->ab) {
            job_free(j);
            return NULL;
        }
        for (int i = 0; i < l->ps.nab; i++)
            if (l->ps.ab[i].first < j->end)
                j->ab[j->nab++] = l->ps.ab[i];
    }
    if (l->ps.n) {
        j->pl = malloc((size_t)l->ps.n * sizeof *j->pl);
        if (!j->pl) {
            job_free(j);
            return NULL;
        }
        for (uint32_t i = 0; i < l->ps.cap; i++) {
            const bk_pentry *e = &l->ps.tab[i];
            if (e->pid < 0 || e->nb == 0 || j->npl >= (int)l->ps.n)
                continue;
            const bk_pbatch *pb = &e->b[(e->head + e->nb - 1) % BK_PSTATE_NBATCH];
            if (pb->last_off < j->end)
                j->pl[j->npl++] = (plast){e->pid, pb->last_off};
        }
        qsort(j->pl, (size_t)j->npl, sizeof *j->pl, cmp_pl);
    }
    l->cleaning = true;
    l->clean_job = j;
    return j;
}

/* ------------------------------------------------------------------ swap */

static int ren(const char *dir, int64_t base, const char *ext, const char *from, const char *to)
{
    char a[4096], b[4096];
    cpath(a, sizeof a, dir, base, ext, from);
    cpath(b, sizeof b, dir, base, ext, to);
    if (bk_io->rename(a, b) == -1)
        return errno == ENOENT ? 0 : BK_EIO;
    return 0;
}

/* Are the job's segments still segs[idx..] of l, unchanged and unpinned?
 * 1 yes, 0 changed (drop the job), BK_EAGAIN not now. */
static int still_there(bk_plog *l, job *j, int *idx)
{
    if (l->flushing)
        return BK_EAGAIN;
    int i0 = -1;
    for (int i = 0; i < l->nsegs - 1; i++)
        if (l->segs[i] == j->segs[0].orig) {
            i0 = i;
            break;
        }
    int n = 0;
    for (int g = 0; g < j->ngroups; g++)
        n += j->groups[g].n;
    if (i0 < 0 || i0 + n > l->nsegs - 1)
        return 0;
    bool pinned = false;
    for (int i = 0; i < n; i++) {
        bk_segment *s = l->segs[i0 + i];
        if (s != j->segs[i].orig || s->base != j->segs[i].base || s->size != j->segs[i].size ||
            s->next != j->segs[i].next || !s->sealed)
            return 0;
        pinned |= s->pins > 0;
    }
    *idx = i0;
    return pinned ? BK_EAGAIN : 1;
}

/* The swap of every group of a committed job (see cleaner.h, step 4),
 * with one directory fsync whatever the number of groups:
 *   1. the replaced segments other than each <base> are deleted, fsync
 *      (a rename below must never be on disk without these deletions);
 *   2. the .swap files get their final names (.log last); no fsync: a
 *      rename lost with the page cache is redone by recovery;
 *   3. the new segments replace the old ones in memory.
 * Returns 0, or BK_E* (the log then goes offline; the next start completes
 * the swap). */
static int swap_groups(bk_plog *l, job *j, int i0, int64_t now_ms)
{
    const char *dir = l->dir;
    int r = 0;
    if (bk_cleaner_crash_step == 1)
        return BK_EIO;
    /* committed: from here on the new state wins, even after a crash */
    int64_t *next = calloc((size_t)j->ngroups, sizeof *next);
    if (!next) {
        l->offline = true;
        return BK_ENOMEM;
    }
    int at = i0;
    for (int g = 0; g < j->ngroups; g++) {
        cgroup *gr = &j->groups[g];
        next[g] = l->segs[at + gr->n - 1]->next;
        for (int k = 0; k < gr->n; k++) {
            bk_segment *s = l->segs[at + k];
            if (k > 0 && bk_seg_delete_files(s))
                r = BK_EIO;
            bk_seg_close(s);
            free(s);
            l->segs[at + k] = NULL;
        }
        at += gr->n;
    }
    if (!r && bk_io->fsync_dir(dir) == -1)
        r = BK_EIO;
    if (bk_cleaner_crash_step == 2)
        r = BK_EIO;
    for (int g = 0; !r && g < j->ngroups; g++) {
        for (int k = 0; !r && k < 4; k++) {
            if (k == 3 && bk_cleaner_crash_step == 3)
                r = BK_EIO;
            else
                r = ren(dir, j->groups[g].base, exts[k], ".swap", "");
        }
    }
    /* in memory: each group's slots become its new segment */
    bk_segcfg sc = {.index_bytes = l->cfg.index_bytes, .index_interval = l->cfg.index_interval};
    int out = i0;
    at = i0;
    for (int g = 0; g < j->ngroups; g++) {
        cgroup *gr = &j->groups[g];
        bk_segment *ns = NULL;
        if (!r) {
            uint64_t trunc = 0;
            ns = calloc(1, sizeof *ns);
            r = ns ? bk_seg_open(ns, dir, gr->base, &sc, false, false, now_ms, &trunc) : BK_ENOMEM;
            if (r && ns) {
                bk_seg_close(ns);
                free(ns);
                ns = NULL;
            }
        }
        if (ns) {
            ns->next = next[g];
            ns->txn_n = gr->txn_n;
            bk_seg_mark_sealed(ns);
            l->segs[out++] = ns;
        }
        at += gr->n;
    }
    /* close the hole left by the replaced segments */
    memmove(l->segs + out, l->segs + at, (size_t)(l->nsegs - at) * sizeof *l->segs);
    l->nsegs -= at - out;
    free(next);
    if (r) {
        /* what is missing from memory comes back at the next start */
        l->offline = true;
        bk_log(BK_LOG_ERROR, "%s: the cleaner's swap failed: %s; log offline", dir, bk_strerror(r));
    }
    return r;
}

/* Complete a finished job on the loop thread: 1 swapped, 0 dropped,
 * BK_EAGAIN later. */
static int complete(job *j, int64_t now_ms)
{
    bk_plog *l = j->log;
    if (l && l->clean_job == j)
        l->clean_job = NULL;
    if (!l || j->result || j->aborted) {
        if (l)
            l->cleaning = false;
        if (j->result && j->result != BK_EAGAIN)
            bk_log(BK_LOG_WARN, "%s: cleaning failed: %s", j->dir, bk_strerror(j->result));
        return 0;
    }
    int i0;
    int s = still_there(l, j, &i0);
    if (s == BK_EAGAIN) {
        l->clean_job = j; /* still ours */
        return BK_EAGAIN;
    }
    if (s == 0) {
        /* changed without an abort (should not happen): drop it */
        uncommit(j);
        l->cleaning = false;
        return 0;
    }
    int r = swap_groups(l, j, i0, now_ms);
    l->cleaning = false;
    if (r)
        return 0;
    if (j->map_end > l->clean_upto)
        l->clean_upto = j->map_end;
    return 1;
}

void bk_cleaner_abort(bk_plog *l)
{
    job *j = l->clean_job;
    if (!j)
        return;
    pthread_mutex_lock(&j->cmu);
    j->aborted = true;
    atomic_store(&j->cancel, 1);
    if (j->committed)
        uncommit(j);
    pthread_mutex_unlock(&j->cmu);
    l->clean_job = NULL;
    /* l->cleaning stays set until the job comes back to the loop */
}

int bk_cleaner_clean_now(bk_plog *l, const bk_cleaner_cfg *cfg, int64_t now_ms,
                         bk_cleaner_stats *st)
{
    job *j = prepare(l, now_ms);
    if (!j)
        return l->cleaning ? BK_EAGAIN : BK_ENOENT;
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    int64_t start = 0;
    uint64_t bytes = 0;
    throttle t = {&mu, cfg->io_max_bps, &start, &bytes};
    run_job(j, cfg->dedupe_bytes / MAP_ESZ, &t);
    int r = j->result;
    if (!r) {
        int c = complete(j, now_ms);
        r = c == 1 ? 0 : c == BK_EAGAIN ? BK_EAGAIN : BK_EIO;
        if (c == BK_EAGAIN) {
            uncommit(j);
            l->cleaning = false;
            l->clean_job = NULL;
        }
    } else {
        l->cleaning = false;
        l->clean_job = NULL;
    }
    if (st)
        *st = j->st;
    job_free(j);
    return r;
}

/* ---------------------------------------------------------------- threads */

typedef struct worker_arg {
    bk_cleaner *c;
    int idx;
} worker_arg;

static void *worker(void *arg)
{
    worker_arg *wa = arg;
    bk_cleaner *c = wa->c;
    int idx = wa->idx;
    free(wa);
    throttle t = {&c->mu, c->cfg.io_max_bps, &c->io_start_ms, &c->io_bytes};
    int64_t slots = c->cfg.dedupe_bytes / MAP_ESZ / BK_MAX(c->nth, 1);
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->stop && !c->queue && !c->reap)
            pthread_cond_wait(&c->cv, &c->mu);
        if (c->stop)
            break;
        if (c->reap) {
            /* the last descriptors of deleted segments: closing them frees
             * the files' blocks, which can take a while */
            job *rj = c->reap;
            c->reap = NULL;
            pthread_mutex_unlock(&c->mu);
            while (rj) {
                job *n = rj->next;
                job_free(rj);
                rj = n;
            }
            pthread_mutex_lock(&c->mu);
            continue;
        }
        job *j = c->queue;
        c->queue = j->next;
        c->running[idx] = j;
        bool forgotten = j->log == NULL;
        pthread_mutex_unlock(&c->mu);
        if (forgotten)
            j->result = BK_EAGAIN; /* its log went away while it waited */
        else
            run_job(j, slots, &t);
        pthread_mutex_lock(&c->mu);
        c->running[idx] = NULL;
        j->next = c->done;
        c->done = j;
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

int bk_cleaner_start(bk_cleaner **out, const bk_cleaner_cfg *cfg)
{
    bk_cleaner *c = calloc(1, sizeof *c);
    if (!c)
        return BK_ENOMEM;
    c->cfg = *cfg;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    int n = BK_MAX(cfg->threads, 0);
    c->th = calloc((size_t)BK_MAX(n, 1), sizeof *c->th);
    c->running = calloc((size_t)BK_MAX(n, 1), sizeof *c->running);
    if (!c->th || !c->running) {
        free(c->th);
        free(c->running);
        free(c);
        return BK_ENOMEM;
    }
    c->nth = n;
    for (int i = 0; i < n; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (wa) {
            wa->c = c;
            wa->idx = i;
        }
        if (!wa || pthread_create(&c->th[i], NULL, worker, wa) != 0) {
            free(wa);
            c->nth = i;
            bk_cleaner_stop(c);
            return BK_ENOMEM;
        }
    }
    *out = c;
    return 0;
}

void bk_cleaner_stop(bk_cleaner *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    for (int i = 0; i < c->nth; i++)
        if (c->running[i])
            atomic_store(&c->running[i]->cancel, 1);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    for (int i = 0; i < c->nth; i++)
        pthread_join(c->th[i], NULL);
    for (job *j = c->reap, *n; j; j = n) {
        n = j->next;
        job_free(j);
    }
    for (job *j = c->queue, *n; j; j = n) {
        n = j->next;
        if (j->log) {
            j->log->cleaning = false;
            j->log->clean_job = NULL;
        }
        job_free(j);
    }
    for (job *j = c->done, *n; j; j = n) {
        n = j->next;
        if (j->committed)
            uncommit(j);
        for (int g = 0; g < j->ngroups; g++)
            unlink_group(j->dir, j->groups[g].base, ".cleaned");
        if (j->log) {
            j->log->cleaning = false;
            j->log->clean_job = NULL;
        }
        job_free(j);
    }
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c->th);
    free(c->running);
    free(c);
}

void bk_cleaner_forget(bk_cleaner *c, bk_plog *l)
{
    if (!c || !l->cleaning)
        return;
    bk_cleaner_abort(l);
    pthread_mutex_lock(&c->mu);
    for (job *j = c->queue; j; j = j->next)
        if (j->log == l)
            j->log = NULL;
    for (job *j = c->done; j; j = j->next)
        if (j->log == l)
            j->log = NULL;
    for (int i = 0; i < c->nth; i++)
        if (c->running[i] && c->running[i]->log == l) {
            c->running[i]->log = NULL;
            atomic_store(&c->running[i]->cancel, 1);
        }
    pthread_mutex_unlock(&c->mu);
    l->cleaning = false;
}

typedef struct pick {
    int64_t now_ms;
    bk_plog *best;
    double ratio;
} pick;

static void pick_cb(void *ud, bk_plog *l)
{
    pick *p = ud;
    int k;
    int64_t fd;
    uint64_t c, d;
    bool od;
    if (!cleanable(l, p->now_ms, &k, &fd, &c, &d, &od))
        return;
    double ratio = (double)d / (double)(c + d);
    if (ratio < l->cfg.min_cleanable_ratio && !od)
        return;
    if (od)
        ratio += 1; /* overdue logs first */
    if (!p->best || ratio > p->ratio) {
        p->best = l;
        p->ratio = ratio;
    }
}

void bk_cleaner_tick(bk_cleaner *c, int64_t now_ms, bk_cleaner_each_fn each, void *arg)
{
    if (!c || c->nth == 0)
        return;
    /* finished jobs: swap them in on this (the loop) thread */
    pthread_mutex_lock(&c->mu);
    job *done = c->done;
    c->done = NULL;
    pthread_mutex_unlock(&c->mu);
    job *later = NULL;
    while (done) {
        job *j = done;
        done = j->next;
        int64_t t0 = mono_ms();
        int r = complete(j, now_ms);
        if (r == 1)
            bk_log(BK_LOG_INFO,
                   "%s: cleaned up to offset %" PRId64 ": %.1f MB read, %.1f MB written, %" PRIu64
                   " of %" PRIu64 " records kept, %d segment group(s), %" PRId64
                   " ms cleaning, %" PRId64 " ms swap",
                   j->dir, j->map_end, (double)j->st.bytes_read / 1e6,
                   (double)j->st.bytes_written / 1e6, j->st.records_kept, j->st.records_read,
                   j->ngroups, j->st.busy_ms, mono_ms() - t0);
        if (r == BK_EAGAIN) {
            j->next = later;
            later = j;
            continue;
        }
        if (r == 1) {
            c->swapped++;
            c->st.jobs++;
        }
        c->st.bytes_read += j->st.bytes_read;
        c->st.bytes_written += j->st.bytes_written;
        c->st.records_read += j->st.records_read;
        c->st.records_kept += j->st.records_kept;
        c->st.busy_ms += j->st.busy_ms;
        if (j->result == 0 && r != 1)
            c->next_run_ms = 0;
        c->busy--;
        pthread_mutex_lock(&c->mu);
        j->next = c->reap;
        c->reap = j;
        pthread_cond_signal(&c->cv);
        pthread_mutex_unlock(&c->mu);
    }
    if (later) {
        pthread_mutex_lock(&c->mu);
        job *t = later;
        while (t->next)
            t = t->next;
        t->next = c->done;
        c->done = later;
        pthread_mutex_unlock(&c->mu);
    }
    if (c->busy >= c->nth || now_ms < c->next_run_ms)
        return;
    pick p = {.now_ms = now_ms};
    each(arg, pick_cb, &p);
    if (!p.best) {
        c->next_run_ms = now_ms + c->cfg.backoff_ms;
        return;
    }
    job *j = prepare(p.best, now_ms);
    if (!j) {
        c->next_run_ms = now_ms + c->cfg.backoff_ms;
        return;
    }
    c->busy++;
    pthread_mutex_lock(&c->mu);
    j->next = NULL;
    job **tail = &c->queue;
    while (*tail)
        tail = &(*tail)->next;
    *tail = j;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

int bk_cleaner_swapped(bk_cleaner *c)
{
    if (!c)
        return 0;
    int n = c->swapped;
    c->swapped = 0;
    return n;
}

void bk_cleaner_get_stats(bk_cleaner *c, bk_cleaner_stats *st)
{
    memset(st, 0, sizeof *st);
    if (c)
        *st = c->st;
}

/* -------------------------------------------------------------- recovery */

static int64_t name_base(const char *name, const char *suffix)
{
    size_t len = strlen(name), sl = strlen(suffix);
    if (len != 20 + sl || strcmp(name + 20, suffix) != 0)
        return -1;
    for (int i = 0; i < 20; i++)
        if (name[i] < '0' || name[i] > '9')
            return -1;
    return strtoll(name, NULL, 10);
}

/* The offset after the last whole batch of the file at path (base when
 * empty). */
static int64_t swap_end(const char *path, int64_t base)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1)
        return base;
    struct stat st;
    int64_t end = base;
    if (fstat(fd, &st) == 0) {
        uint64_t pos = 0;
        uint8_t h[BK_BATCH_HDR];
        while (pos + BK_BATCH_HDR <= (uint64_t)st.st_size) {
            if (bk_io_pread_full(fd, h, sizeof h, (off_t)pos) != (ssize_t)sizeof h)
                break;
            uint64_t total = (uint64_t)bk_get_be32(h + BK_BATCH_OFF_LENGTH) + BK_BATCH_LOG_OVERHEAD;
            if (total < BK_BATCH_HDR || pos + total > (uint64_t)st.st_size)
                break;
            end = bk_batch_last_offset(h) + 1;
            pos += total;
        }
    }
    close(fd);
    return end;
}

static int push_base(int64_t **v, int *n, int *cap, int64_t b)
{
    int64_t *nv = bk_vec_grow(*v, *n, cap, sizeof *nv, 8);
    if (!nv)
        return BK_ENOMEM;
    *v = nv;
    nv[(*n)++] = b;
    return 0;
}

static bool has_base(const int64_t *v, int n, int64_t b)
{
    for (int i = 0; i < n; i++)
        if (v[i] == b)
            return true;
    return false;
}

int bk_cleaner_recover_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : BK_EIO;
    /* .log bases, committed groups (.log.swap), index .swap bases, groups
     * whose .log.cleaned is still there, any .cleaned file */
    int64_t *logs = NULL, *swaps = NULL, *oswaps = NULL, *lcl = NULL, *cl = NULL;
    int nlogs = 0, caplogs = 0, nsw = 0, capsw = 0, nos = 0, capos = 0, nlcl = 0, caplcl = 0;
    int ncl = 0, capcl = 0;
    int r = 0;
    struct dirent *de;
    while (!r && (de = readdir(d))) {
        const char *name = de->d_name;
        int64_t b;
        if ((b = name_base(name, ".log")) >= 0)
            r = push_base(&logs, &nlogs, &caplogs, b);
        else if ((b = name_base(name, ".log.swap")) >= 0)
            r = push_base(&swaps, &nsw, &capsw, b);
        else if ((b = name_base(name, ".index.swap")) >= 0 ||
                 (b = name_base(name, ".timeindex.swap")) >= 0 ||
                 (b = name_base(name, ".txnindex.swap")) >= 0)
            r = push_base(&oswaps, &nos, &capos, b);
        else if ((b = name_base(name, ".log.cleaned")) >= 0)
            r = push_base(&lcl, &nlcl, &caplcl, b) ? BK_ENOMEM : push_base(&cl, &ncl, &capcl, b);
        else if ((b = name_base(name, ".index.cleaned")) >= 0 ||
                 (b = name_base(name, ".timeindex.cleaned")) >= 0 ||
                 (b = name_base(name, ".txnindex.cleaned")) >= 0)
            r = push_base(&cl, &ncl, &capcl, b);
    }
    closedir(d);
    bool changed = false;
    char p[4096];
    /* committed groups: finish them */
    for (int i = 0; !r && i < nsw; i++) {
        int64_t base = swaps[i];
        cpath(p, sizeof p, dir, base, ".log", ".swap");
        int64_t end = swap_end(p, base);
        for (int k = 0; k < nlogs; k++) {
            if (logs[k] > base && logs[k] < end) {
                for (int e = 0; e < 4; e++) {
                    cpath(p, sizeof p, dir, logs[k], exts[e], "");
                    if (bk_io->unlink(p) == -1 && errno != ENOENT)
                        r = BK_EIO;
                }
            }
        }
        if (!r && bk_io->fsync_dir(dir) == -1)
            r = BK_EIO;
        /* an index file under either name: its rename to .swap need not
         * have reached the disk */
        for (int e = 0; !r && e < 3; e++) {
            char a[4096];
            cpath(a, sizeof a, dir, base, exts[e], ".swap");
            if (access(a, F_OK) == 0)
                r = ren(dir, base, exts[e], ".swap", "");
            else
                r = ren(dir, base, exts[e], ".cleaned", "");
        }
        if (!r)
            r = ren(dir, base, ".log", ".swap", "");
        bk_log(BK_LOG_INFO,
               "%s: completed the cleaner's swap of %020" PRId64 " (data up to %" PRId64 ")", dir,
               base, end);
        changed = true;
    }
    /* index .swap files of a group without .log.swap: with the .log.cleaned
     * still there, the commit was cut short (drop them); without it, the
     * .log already has its final name (finish the renames) */
    for (int i = 0; !r && i < nos; i++) {
        if (has_base(swaps, nsw, oswaps[i]))
            continue;
        bool uncommitted = has_base(lcl, nlcl, oswaps[i]);
        for (int k = 0; k < 3; k++) {
            if (uncommitted) {
                cpath(p, sizeof p, dir, oswaps[i], exts[k], ".swap");
                (void)bk_io->unlink(p);
            } else if (ren(dir, oswaps[i], exts[k], ".swap", "")) {
                r = BK_EIO;
            }
        }
        changed = true;
    }
    /* whatever .cleaned is left belongs to no committed group */
    for (int i = 0; !r && i < ncl; i++) {
        for (int k = 0; k < 4; k++) {
            cpath(p, sizeof p, dir, cl[i], exts[k], ".cleaned");
            if (bk_io->unlink(p) == 0)
                changed = true;
        }
    }
    if (!r && changed && bk_io->fsync_dir(dir) == -1)
        r = BK_EIO;
    free(logs);
    free(swaps);
    free(oswaps);
    free(lcl);
    free(cl);
    return r;
}
