/*
 * logmgr.c - the broker's partition logs across log.dirs (see logmgr.h).
 */
#include "logmgr.h"
#include "../core/vec.h"

#include "bio.h"
#include "checkpoint.h"
#include "fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RP_FILE  "recovery-point-offset-checkpoint"
#define LSO_FILE "log-start-offset-checkpoint"
#define HW_FILE  "replication-offset-checkpoint"
#define CLN_FILE "cleaner-offset-checkpoint"
/* Kafka's marker of a clean shutdown: written last by a clean close,
 * removed at start-up. Without it every active segment is scanned. */
#define CLEAN_FILE ".kafka_cleanshutdown"

typedef struct entry {
    bk_plog *log; /* NULL = empty slot */
    int dir;      /* index into m->dirs */
    uint64_t hash;
} entry;

struct bk_logmgr {
    bk_logmgr_cfg cfg;
    char **dirs;   /* owned copies */
    int *lockfds;
    int *counts;   /* partitions per dir */
    entry *tab;    /* open addressing, power of two */
    uint32_t cap, n;
    int64_t next_retention_ms, next_checkpoint_ms, next_pexpire_ms;
    int ckpt_inflight;
    bk_cleaner *cleaner; /* NULL: log.cleaner.enable=false */
    void (*on_flushed)(void *arg, bk_plog *l);
    void *on_flushed_arg;
};

void bk_logmgr_cfg_defaults(bk_logmgr_cfg *c)
{
    memset(c, 0, sizeof *c);
    bk_logcfg_defaults(&c->defaults);
    c->retention_check_ms = 300000;
    c->checkpoint_ms = 60000;
    c->recovery_threads = 2;
    c->producer_expiration_ms = 86400000;
    c->producer_expiration_check_ms = 600000;
    bk_cleaner_cfg_defaults(&c->cleaner);
}

static void errf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void errf(char *buf, size_t len, const char *fmt, ...)
{
    if (!buf || !len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------ hash table */

static uint64_t hash_tp(const char *topic, int32_t partition)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const char *p = topic; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    h = (h ^ (uint32_t)partition) * 1099511628211ULL;
    return h ? h : 1;
}

static entry *find(bk_logmgr *m, const char *topic, int32_t partition)
{
    if (!m->cap)
        return NULL;
    uint64_t h = hash_tp(topic, partition);
    for (uint32_t i = (uint32_t)h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        entry *e = &m->tab[i];
        if (!e->hash)
            return NULL;
        if (e->hash == h && e->log && e->log->partition == partition &&
            strcmp(e->log->topic, topic) == 0)
            return e;
    }
}

static int insert(bk_logmgr *m, bk_plog *l, int dir);

static int grow(bk_logmgr *m)
{
    uint32_t ncap = m->cap ? m->cap * 2 : 64;
    entry *old = m->tab;
    uint32_t ocap = m->cap;
    m->tab = calloc(ncap, sizeof *m->tab);
    if (!m->tab) {
        m->tab = old;
        return BK_ENOMEM;
    }
    m->cap = ncap;
    m->n = 0;
    for (uint32_t i = 0; i < ocap; i++)
        if (old[i].log)
            insert(m, old[i].log, old[i].dir);
    free(old);
    return 0;
}

static int insert(bk_logmgr *m, bk_plog *l, int dir)
{
    if ((m->n + 1) * 4 >= m->cap * 3 && grow(m))
        return BK_ENOMEM;
    uint64_t h = hash_tp(l->topic, l->partition);
    uint32_t i = (uint32_t)h & (m->cap - 1);
    /* tombstones (hash set, log NULL) are reused */
    while (m->tab[i].log)
        i = (i + 1) & (m->cap - 1);
    m->tab[i] = (entry){l, dir, h};
    m->n++;
    m->counts[dir]++;
    return 0;
}

bk_plog *bk_logmgr_get(bk_logmgr *m, const char *topic, int32_t partition)
{
    entry *e = find(m, topic, partition);
    return e ? e->log : NULL;
}

void bk_logmgr_foreach(bk_logmgr *m, void (*fn)(void *arg, bk_plog *l), void *arg)
{
    for (uint32_t i = 0; i < m->cap; i++)
        if (m->tab[i].log)
            fn(arg, m->tab[i].log);
}

int bk_logmgr_count(const bk_logmgr *m)
{
    return (int)m->n;
}

const char *bk_logmgr_dir_of(const bk_logmgr *m, const bk_plog *l)
{
    entry *e = find((bk_logmgr *)m, l->topic, l->partition);
    return e ? m->dirs[e->dir] : NULL;
}

/* ------------------------------------------------------------- start-up */

/* "<topic>-<partition>" -> topic, partition. Kafka topic names are
 * [a-zA-Z0-9._-]{1,249}; the partition follows the last '-'. */
static bool parse_partition_dir(const char *name, char *topic, size_t cap, int32_t *partition)
{
    const char *dash = strrchr(name, '-');
    if (!dash || dash == name || !dash[1])
        return false;
    char *end;
    long p = strtol(dash + 1, &end, 10);
    if (*end || p < 0 || p > INT32_MAX || (size_t)(dash - name) >= cap)
        return false;
    for (const char *c = name; c < dash; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '.' || *c == '_' || *c == '-'))
            return false;
    memcpy(topic, name, (size_t)(dash - name));
    topic[dash - name] = 0;
    *partition = (int32_t)p;
    return true;
}

typedef struct pending {
    char topic[256];
    int32_t partition;
    int dir;
    bool clean;
    int64_t rp, lso, hw, cln;
    bk_plog *log;
    bk_plog_open_stats st;
    int err;
} pending;

typedef struct opener {
    bk_logmgr *m;
    pending *items;
    int n;
    int next; /* under mu */
    int64_t now_ms;
    pthread_mutex_t mu;
} opener;

static void *open_worker(void *arg)
{
    opener *o = arg;
    for (;;) {
        pthread_mutex_lock(&o->mu);
        int i = o->next++;
        pthread_mutex_unlock(&o->mu);
        if (i >= o->n)
            return NULL;
        pending *p = &o->items[i];
        bk_logcfg lc = o->m->cfg.defaults;
        if (o->m->cfg.topic_cfg)
            o->m->cfg.topic_cfg(o->m->cfg.topic_cfg_arg, p->topic, &lc);
        p->err = bk_plog_load(&p->log, o->m->dirs[p->dir], p->topic, p->partition, &lc, p->rp,
                              p->lso, p->clean, o->now_ms, &p->st);
        if (!p->err && p->hw >= 0 && p->hw < p->log->hw)
            p->log->hw = p->hw;
        if (!p->err)
            p->log->clean_upto = p->cln;
    }
}

static int64_t ckpt_lookup(bk_ckpt_tpo *e, int n, const char *topic, int32_t part, int64_t dflt)
{
    for (int i = 0; i < n; i++)
        if (e[i].partition == part && strcmp(e[i].topic, topic) == 0)
            return e[i].offset;
    return dflt;
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    if (remove(path) != 0) {
        /* keep going; a leftover is removed at the next start */
    }
    return 0;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int bk_logmgr_open(bk_logmgr **out, const bk_logmgr_cfg *cfg, int64_t now_ms,
                   bk_logmgr_stats *stats, char *errbuf, size_t errlen)
{
    int64_t t0 = mono_ms();
    bk_logmgr *m = calloc(1, sizeof *m);
    if (!m)
        return BK_ENOMEM;
    m->cfg = *cfg;
    m->dirs = calloc((size_t)cfg->ndirs, sizeof *m->dirs);
    m->lockfds = calloc((size_t)cfg->ndirs, sizeof *m->lockfds);
    m->counts = calloc((size_t)cfg->ndirs, sizeof *m->counts);
    pending *items = NULL;
    int nitems = 0, capitems = 0, r = 0;
    if (!m->dirs || !m->lockfds || !m->counts) {
        r = BK_ENOMEM;
        goto fail;
    }
    for (int d = 0; d < cfg->ndirs; d++)
        m->lockfds[d] = -1;

    for (int d = 0; d < cfg->ndirs; d++) {
        const char *dir = cfg->dirs[d];
        m->dirs[d] = strdup(dir);
        if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
            errf(errbuf, errlen, "cannot create log directory %s: %s", dir, strerror(errno));
            r = BK_EIO;
            goto fail;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/.lock", dir);
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd == -1 || flock(fd, LOCK_EX | LOCK_NB) == -1) {
            errf(errbuf, errlen,
                 "log directory %s is in use by another process (cannot lock %s: %s)", dir, path,
                 strerror(errno));
            if (fd >= 0)
                close(fd);
            r = BK_EEXIST;
            goto fail;
        }
        m->lockfds[d] = fd;

        snprintf(path, sizeof path, "%s/" CLEAN_FILE, dir);
        bool clean = access(path, F_OK) == 0;
        if (clean) {
            /* from now on a crash must not look clean */
            if (unlink(path) == -1 || bk_io->fsync_dir(dir) == -1) {
                errf(errbuf, errlen, "cannot remove %s: %s", path, strerror(errno));
                r = BK_EIO;
                goto fail;
            }
        }
        bk_ckpt_tpo *rp = NULL, *lso = NULL, *hw = NULL, *cln = NULL;
        int nrp = 0, nlso = 0, nhw = 0, ncln = 0;
        snprintf(path, sizeof path, "%s/" RP_FILE, dir);
        int cr = bk_ckpt_read_offsets(path, &rp, &nrp);
        if (cr && cr != BK_ENOENT) {
            errf(errbuf, errlen, "bad checkpoint file %s", path);
            r = cr;
            goto fail;
        }
        snprintf(path, sizeof path, "%s/" LSO_FILE, dir);
        if (bk_ckpt_read_offsets(path, &lso, &nlso) != 0)
            lso = NULL, nlso = 0;
        snprintf(path, sizeof path, "%s/" HW_FILE, dir);
        if (bk_ckpt_read_offsets(path, &hw, &nhw) != 0)
            hw = NULL, nhw = 0;
        snprintf(path, sizeof path, "%s/" CLN_FILE, dir);
        if (bk_ckpt_read_offsets(path, &cln, &ncln) != 0)
            cln = NULL, ncln = 0;

        DIR *dd = opendir(dir);
        if (!dd) {
            errf(errbuf, errlen, "cannot read log directory %s: %s", dir, strerror(errno));
            r = BK_EIO;
            goto fail;
        }
        struct dirent *de;
        while ((de = readdir(dd))) {
            if (de->d_name[0] == '.')
                continue;
            size_t len = strlen(de->d_name);
            if (len > 7 && strcmp(de->d_name + len - 7, "-delete") == 0) {
                /* a deletion interrupted by a crash: finish it */
                snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
                nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
                continue;
            }
            char topic[256];
            int32_t part;
            if (!parse_partition_dir(de->d_name, topic, sizeof topic, &part))
                continue;
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            struct stat sb;
            if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
                continue;
            pending *ni = bk_vec_grow(items, nitems, &capitems, sizeof *ni, 64);
            if (!ni) {
                r = BK_ENOMEM;
                closedir(dd);
                goto fail;
            }
            items = ni;
            pending *p = &items[nitems++];
            memset(p, 0, sizeof *p);
            snprintf(p->topic, sizeof p->topic, "%s", topic);
            p->partition = part;
            p->dir = d;
            p->clean = clean;
            /* without a checkpoint entry, trust nothing: scan it all */
            p->rp = ckpt_lookup(rp, nrp, topic, part, 0);
            p->lso = ckpt_lookup(lso, nlso, topic, part, 0);
            p->hw = ckpt_lookup(hw, nhw, topic, part, -1);
            p->cln = ckpt_lookup(cln, ncln, topic, part, -1);
        }
        closedir(dd);
        bk_ckpt_free_offsets(rp, nrp);
        bk_ckpt_free_offsets(lso, nlso);
        bk_ckpt_free_offsets(hw, nhw);
        bk_ckpt_free_offsets(cln, ncln);
    }

    /* open them all, in parallel */
    opener o = {.m = m, .items = items, .n = nitems, .now_ms = now_ms};
    pthread_mutex_init(&o.mu, NULL);
    int nth = BK_MAX(1, BK_MIN(cfg->recovery_threads, 16));
    if (nth > nitems)
        nth = nitems ? nitems : 1;
    pthread_t th[16];
    int started = 0;
    for (int i = 1; i < nth; i++)
        if (pthread_create(&th[i], NULL, open_worker, &o) == 0)
            started++;
    open_worker(&o);
    for (int i = 1; i <= started; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&o.mu);

    bk_logmgr_stats st = {0};
    for (int i = 0; i < nitems; i++) {
        pending *p = &items[i];
        if (p->err) {
            if (!r) {
                errf(errbuf, errlen, "cannot open partition %s-%d in %s: %s", p->topic,
                     p->partition, m->dirs[p->dir], bk_strerror(p->err));
                r = p->err;
            }
            continue;
        }
        if (!r && (r = insert(m, p->log, p->dir)) == 0) {
            p->log = NULL;
            st.partitions++;
            st.segments += p->st.segments;
            st.recovered_segments += p->st.recovered_segments;
            st.truncated_bytes += p->st.truncated_bytes;
        }
    }
    if (r) {
        for (int i = 0; i < nitems; i++)
            bk_plog_free(items[i].log);
        goto fail;
    }
    free(items);
    if (cfg->cleaner.threads > 0 && (r = bk_cleaner_start(&m->cleaner, &cfg->cleaner))) {
        errf(errbuf, errlen, "cannot start the log cleaner: %s", bk_strerror(r));
        goto fail;
    }
    m->next_retention_ms = now_ms + cfg->retention_check_ms;
    m->next_checkpoint_ms = now_ms + cfg->checkpoint_ms;
    m->next_pexpire_ms = now_ms + cfg->producer_expiration_check_ms;
    st.elapsed_ms = mono_ms() - t0;
    if (stats)
        *stats = st;
    *out = m;
    return 0;

fail:
    free(items);
    for (uint32_t i = 0; i < m->cap; i++)
        bk_plog_free(m->tab[i].log);
    free(m->tab);
    for (int d = 0; d < cfg->ndirs; d++) {
        if (m->lockfds && m->lockfds[d] >= 0)
            close(m->lockfds[d]);
        if (m->dirs)
            free(m->dirs[d]);
    }
    free(m->dirs);
    free(m->lockfds);
    free(m->counts);
    free(m);
    return r;
}

int bk_logmgr_create(bk_logmgr *m, const char *topic, int32_t partition, const bk_logcfg *cfg,
                     int64_t now_ms, bk_plog **out)
{
    if (find(m, topic, partition))
        return BK_EEXIST;
    int best = 0;
    for (int d = 1; d < m->cfg.ndirs; d++)
        if (m->counts[d] < m->counts[best])
            best = d;
    bk_plog *l;
    int r = bk_plog_create(&l, m->dirs[best], topic, partition, cfg, now_ms);
    if (r)
        return r;
    if ((r = insert(m, l, best))) {
        bk_plog_free(l);
        return r;
    }
    *out = l;
    return 0;
}

/* ------------------------------------------------------- background work */

typedef struct flush_job {
    bk_bio_job job;
    bk_plog_flushjob fj;
    bk_logmgr *m;
} flush_job;

static void flush_run(bk_bio_job *j)
{
    flush_job *f = (flush_job *)j;
    bk_plog_flush_run(&f->fj);
}

static void flush_done(bk_bio_job *j)
{
    flush_job *f = (flush_job *)j;
    bk_plog_flush_complete(&f->fj);
    bk_logmgr *m = f->m;
    bk_plog *l = f->fj.log;
    free(f);
    if (m->on_flushed)
        m->on_flushed(m->on_flushed_arg, l);
}

/* Submit a flush of l (the caller checked that none is in flight). */
static void submit_flush(bk_logmgr *m, bk_plog *l, int64_t now_ms)
{
    flush_job *f = calloc(1, sizeof *f);
    if (!f)
        return; /* the next tick tries again */
    f->m = m;
    bk_plog_flush_prepare(l, &f->fj, now_ms);
    f->job.run = flush_run;
    f->job.done = flush_done;
    bk_bio_submit(&f->job);
}

void bk_logmgr_flush_now(bk_logmgr *m, bk_plog *l, int64_t now_ms)
{
    if (!l->flushing && !l->offline && (l->unflushed > 0 || l->flush_on_roll))
        submit_flush(m, l, now_ms);
}

void bk_logmgr_on_flushed(bk_logmgr *m, void (*fn)(void *arg, bk_plog *l), void *arg)
{
    m->on_flushed = fn;
    m->on_flushed_arg = arg;
}

typedef struct rm_job {
    bk_bio_job job;
    char path[];
} rm_job;

static void rm_run(bk_bio_job *j)
{
    rm_job *r = (rm_job *)j;
    nftw(r->path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void rm_done(bk_bio_job *j)
{
    free(j);
}

int bk_logmgr_delete(bk_logmgr *m, const char *topic, int32_t partition)
{
    entry *e = find(m, topic, partition);
    if (!e)
        return BK_ENOENT;
    bk_plog *l = e->log;
    if (l->flushing)
        bk_bio_wait_idle(); /* its flush job points at it */
    bk_cleaner_forget(m->cleaner, l); /* a cleaning of it is dropped */
    size_t plen = strlen(l->dir) + 48;
    rm_job *rj = malloc(sizeof *rj + plen);
    if (!rj)
        return BK_ENOMEM;
    /* Kafka's marker: <topic>-<partition>.<unique id>-delete */
    static uint64_t seq;
    snprintf(rj->path, plen, "%s.%016" PRIx64 "%016" PRIx64 "-delete", l->dir,
             (uint64_t)time(NULL), ++seq);
    if (rename(l->dir, rj->path) == -1) {
        free(rj);
        return BK_EIO;
    }
    (void)bk_io->fsync_dir(m->dirs[e->dir]);
    m->counts[e->dir]--;
    e->log = NULL; /* tombstone: hash stays set so probing continues */
    m->n--;
    bk_plog_free(l);
    rj->job.run = rm_run;
    rj->job.done = rm_done;
    bk_bio_submit(&rj->job);
    return 0;
}

typedef struct ckpt_job {
    bk_bio_job job;
    bk_logmgr *m;
    int ndirs;
    /* per dir and file: entries */
    bk_ckpt_tpo *e[4];
    int n[4];
    char *path[4];
    int result;
    struct ckpt_job *next_dir;
} ckpt_job;

static void ckpt_run(bk_bio_job *j)
{
    ckpt_job *c = (ckpt_job *)j;
    for (ckpt_job *d = c; d; d = d->next_dir)
        for (int k = 0; k < 4; k++)
            if (bk_ckpt_write_offsets(d->path[k], d->e[k], d->n[k]))
                c->result = BK_EIO;
}

static void ckpt_free(ckpt_job *c)
{
    while (c) {
        ckpt_job *n = c->next_dir;
        for (int k = 0; k < 4; k++) {
            bk_ckpt_free_offsets(c->e[k], c->n[k]);
            free(c->path[k]);
        }
        free(c);
        c = n;
    }
}

static void ckpt_done(bk_bio_job *j)
{
    ckpt_job *c = (ckpt_job *)j;
    c->m->ckpt_inflight--;
    ckpt_free(c);
}

/* Snapshot the three checkpoints of every directory. The job owns copies
 * of the topic names: a log may be deleted while it runs. */
static ckpt_job *ckpt_snapshot(bk_logmgr *m)
{
    ckpt_job *head = NULL;
    for (int d = m->cfg.ndirs - 1; d >= 0; d--) {
        ckpt_job *c = calloc(1, sizeof *c);
        if (!c)
            break;
        c->m = m;
        c->next_dir = head;
        head = c;
        static const char *const names[4] = {RP_FILE, LSO_FILE, HW_FILE, CLN_FILE};
        for (int k = 0; k < 4; k++) {
            c->e[k] = calloc((size_t)m->counts[d] + 1, sizeof(bk_ckpt_tpo));
            size_t pl = strlen(m->dirs[d]) + 64;
            c->path[k] = malloc(pl);
            if (c->path[k])
                snprintf(c->path[k], pl, "%s/%s", m->dirs[d], names[k]);
        }
        for (uint32_t i = 0; i < m->cap; i++) {
            entry *e = &m->tab[i];
            if (!e->log || e->dir != d)
                continue;
            bk_plog *l = e->log;
            int64_t v[4] = {l->recovery_point, l->log_start, l->hw, l->clean_upto};
            for (int k = 0; k < 4; k++)
                if (c->e[k] && c->n[k] < m->counts[d] && (k < 3 || v[k] >= 0))
                    c->e[k][c->n[k]++] = (bk_ckpt_tpo){strdup(l->topic), l->partition, v[k]};
        }
    }
    return head;
}

static int ckpt_write_now(bk_logmgr *m)
{
    ckpt_job *c = ckpt_snapshot(m);
    if (!c)
        return BK_ENOMEM;
    ckpt_run(&c->job);
    int r = c->result;
    ckpt_free(c);
    return r;
}

static void cleaner_each(void *arg, void (*cb)(void *ud, bk_plog *l), void *ud)
{
    bk_logmgr *m = arg;
    for (uint32_t i = 0; i < m->cap; i++)
        if (m->tab[i].log)
            cb(ud, m->tab[i].log);
}

void bk_logmgr_cleaner_stats(bk_logmgr *m, bk_cleaner_stats *st)
{
    bk_cleaner_get_stats(m->cleaner, st);
}

void bk_logmgr_tick(bk_logmgr *m, int64_t now_ms)
{
    for (uint32_t i = 0; i < m->cap; i++) {
        bk_plog *l = m->tab[i].log;
        if (!l || !bk_plog_flush_due(l, now_ms))
            continue;
        submit_flush(m, l, now_ms);
    }
    if (now_ms >= m->next_retention_ms) {
        m->next_retention_ms = now_ms + m->cfg.retention_check_ms;
        for (uint32_t i = 0; i < m->cap; i++)
            if (m->tab[i].log)
                bk_plog_retention(m->tab[i].log, now_ms);
    }
    if (now_ms >= m->next_pexpire_ms && m->cfg.producer_expiration_check_ms > 0) {
        m->next_pexpire_ms = now_ms + m->cfg.producer_expiration_check_ms;
        for (uint32_t i = 0; i < m->cap; i++)
            if (m->tab[i].log)
                bk_plog_expire_producers(m->tab[i].log, now_ms, m->cfg.producer_expiration_ms);
    }
    if (m->cleaner) {
        bk_cleaner_tick(m->cleaner, now_ms, cleaner_each, m);
        /* a swap moved a cleaner checkpoint: write it soon */
        if (bk_cleaner_swapped(m->cleaner) > 0)
            m->next_checkpoint_ms = BK_MIN(m->next_checkpoint_ms, now_ms + 1000);
    }
    if (now_ms >= m->next_checkpoint_ms && m->ckpt_inflight == 0) {
        m->next_checkpoint_ms = now_ms + m->cfg.checkpoint_ms;
        ckpt_job *c = ckpt_snapshot(m);
        if (c) {
            c->job.run = ckpt_run;
            c->job.done = ckpt_done;
            m->ckpt_inflight++;
            bk_bio_submit(&c->job);
        }
    }
}

int bk_logmgr_close(bk_logmgr *m)
{
    bk_cleaner_stop(m->cleaner); /* unfinished cleanings are dropped */
    m->cleaner = NULL;
    bk_bio_wait_idle();
    int r = 0;
    for (uint32_t i = 0; i < m->cap; i++) {
        bk_plog *l = m->tab[i].log;
        if (l && bk_plog_close(l))
            r = BK_EIO;
    }
    if (ckpt_write_now(m))
        r = BK_EIO;
    /* the marker goes last, and only if everything above worked */
    for (int d = 0; !r && d < m->cfg.ndirs; d++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/" CLEAN_FILE, m->dirs[d]);
        if (bk_ckpt_write_file(path, "", 0))
            r = BK_EIO;
    }
    for (uint32_t i = 0; i < m->cap; i++)
        bk_plog_free(m->tab[i].log);
    free(m->tab);
    for (int d = 0; d < m->cfg.ndirs; d++) {
        if (m->lockfds[d] >= 0)
            close(m->lockfds[d]);
        free(m->dirs[d]);
    }
    free(m->dirs);
    free(m->lockfds);
    free(m->counts);
    free(m);
    return r;
}
