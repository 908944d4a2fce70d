/*
 * index.c - offset and time indexes (see index.h).
 */
#include "index.h"

#include "../core/buf.h"
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int bk_index_init(bk_index *ix, const char *path, uint32_t esz, uint32_t max_bytes)
{
    memset(ix, 0, sizeof *ix);
    ix->path = strdup(path);
    if (!ix->path)
        return BK_ENOMEM;
    ix->esz = esz;
    ix->max = max_bytes / esz;
    if (ix->max < 2)
        ix->max = 2;
    return 0;
}

static void release(bk_index *ix)
{
    if (ix->ents) {
        if (ix->mapped)
            munmap(ix->ents, (size_t)ix->max * ix->esz);
        else
            free(ix->ents);
    }
    ix->ents = NULL;
    ix->mapped = false;
}

void bk_index_fini(bk_index *ix)
{
    release(ix);
    free(ix->path);
    memset(ix, 0, sizeof *ix);
}

/* Reserve room for max entries without committing memory. */
static int reserve(bk_index *ix)
{
    if (ix->mapped)
        return 0;
    void *p = mmap(NULL, (size_t)ix->max * ix->esz, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return BK_ENOMEM;
    if (ix->ents) {
        memcpy(p, ix->ents, (size_t)ix->n * ix->esz);
        free(ix->ents);
    }
    ix->ents = p;
    ix->mapped = true;
    return 0;
}

int bk_index_create(bk_index *ix)
{
    int fd = bk_io->open(ix->path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd == -1)
        return errno == ENOSPC ? BK_ENOSPC : BK_EIO;
    /* Preallocate as Kafka does (a sparse file of the maximum size). */
    int r = bk_io->ftruncate(fd, (off_t)ix->max * ix->esz) == -1 ? BK_EIO : 0;
    bk_io->close(fd);
    if (r)
        return r;
    release(ix);
    ix->n = ix->written = 0;
    return reserve(ix);
}

static uint32_t ent_rel(const bk_index *ix, uint32_t i)
{
    const uint8_t *e = ix->ents + (size_t)i * ix->esz;
    return bk_get_be32(ix->esz == BK_OIDX_ESZ ? e : e + 8);
}

int bk_index_load(bk_index *ix, uint64_t log_size, bool writable)
{
    int fd = bk_io->open(ix->path, O_RDONLY, 0);
    if (fd == -1)
        return errno == ENOENT ? BK_ENOENT : BK_EIO;
    off_t size;
    if (bk_io->fsize(fd, &size) == -1) {
        bk_io->close(fd);
        return BK_EIO;
    }
    if (size % ix->esz != 0) {
        bk_io->close(fd);
        return BK_ECORRUPT;
    }
    uint32_t fn = (uint32_t)(size / ix->esz);
    if (fn > ix->max)
        ix->max = fn;
    release(ix);
    int r = writable ? reserve(ix) : 0;
    if (!writable) {
        ix->ents = malloc((size_t)(fn ? fn : 1) * ix->esz);
        if (!ix->ents)
            r = BK_ENOMEM;
    }
    if (r) {
        bk_io->close(fd);
        return r;
    }
    ssize_t got = bk_io_pread_full(fd, ix->ents, (size_t)fn * ix->esz, 0);
    bk_io->close(fd);
    if (got != (ssize_t)((size_t)fn * ix->esz))
        return BK_EIO;

    /* Count the entries that keep the invariants; a preallocated file ends
     * in zeros, which break them. */
    uint32_t n = 0;
    for (; n < fn; n++) {
        const uint8_t *e = ix->ents + (size_t)n * ix->esz;
        if (ix->esz == BK_OIDX_ESZ) {
            uint32_t rel = bk_get_be32(e), pos = bk_get_be32(e + 4);
            if (pos >= log_size || rel > INT32_MAX)
                break;
            if (n > 0) {
                uint32_t prel, ppos;
                bk_index_off_at(ix, n - 1, &prel, &ppos);
                if (rel <= prel || pos <= ppos)
                    break;
            }
        } else {
            int64_t ts = (int64_t)bk_get_be64(e);
            uint32_t rel = bk_get_be32(e + 8);
            if (rel > INT32_MAX)
                break;
            if (n > 0) {
                int64_t pts;
                uint32_t prel;
                bk_index_time_at(ix, n - 1, &pts, &prel);
                if (ts <= pts || rel < prel)
                    break;
            } else if (ts == 0 && rel == 0) {
                break; /* a zero entry: nothing was ever written */
            }
        }
    }
    /* Trailing bytes that are not zeros mean the file is not what it says. */
    for (size_t i = (size_t)n * ix->esz; i < (size_t)fn * ix->esz; i++)
        if (ix->ents[i] != 0)
            return BK_ECORRUPT;
    ix->n = n;
    ix->written = n;
    return 0;
}

void bk_index_off_at(const bk_index *ix, uint32_t i, uint32_t *rel, uint32_t *pos)
{
    const uint8_t *e = ix->ents + (size_t)i * BK_OIDX_ESZ;
    *rel = bk_get_be32(e);
    *pos = bk_get_be32(e + 4);
}

void bk_index_time_at(const bk_index *ix, uint32_t i, int64_t *ts, uint32_t *rel)
{
    const uint8_t *e = ix->ents + (size_t)i * BK_TIDX_ESZ;
    *ts = (int64_t)bk_get_be64(e);
    *rel = bk_get_be32(e + 8);
}

void bk_index_append_off(bk_index *ix, uint32_t rel, uint32_t pos)
{
    if (ix->n >= ix->max || (!ix->mapped && reserve(ix) != 0))
        return;
    uint8_t *e = ix->ents + (size_t)ix->n * BK_OIDX_ESZ;
    bk_be32(e, rel);
    bk_be32(e + 4, pos);
    ix->n++;
}

void bk_index_append_time(bk_index *ix, int64_t ts, uint32_t rel)
{
    if (ix->n > 0) {
        int64_t lts;
        uint32_t lrel;
        bk_index_time_at(ix, ix->n - 1, &lts, &lrel);
        if (ts <= lts)
            return;
    }
    if (ix->n >= ix->max || (!ix->mapped && reserve(ix) != 0))
        return;
    uint8_t *e = ix->ents + (size_t)ix->n * BK_TIDX_ESZ;
    bk_be64(e, (uint64_t)ts);
    bk_be32(e + 8, rel);
    ix->n++;
}

bool bk_index_floor_off(const bk_index *ix, uint32_t rel, uint32_t *erel, uint32_t *pos)
{
    /* binary search for the last entry with entry.rel <= rel */
    uint32_t lo = 0, hi = ix->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (ent_rel(ix, mid) <= rel)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return false;
    bk_index_off_at(ix, lo - 1, erel, pos);
    return true;
}

bool bk_index_floor_time(const bk_index *ix, int64_t ts, uint32_t *erel)
{
    uint32_t lo = 0, hi = ix->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int64_t mts;
        uint32_t mrel;
        bk_index_time_at(ix, mid, &mts, &mrel);
        if (mts <= ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return false;
    int64_t t;
    bk_index_time_at(ix, lo - 1, &t, erel);
    return true;
}

void bk_index_truncate_rel(bk_index *ix, uint32_t rel)
{
    uint32_t n = ix->n;
    while (n > 0 && ent_rel(ix, n - 1) >= rel)
        n--;
    ix->n = n;
}

void bk_index_clear(bk_index *ix)
{
    ix->n = 0;
}

int bk_index_trim(bk_index *ix)
{
    /* One pass: write what is pending, cut the preallocated tail, then a
     * single fsync covers both. */
    int fd = bk_io->open(ix->path, O_RDWR | O_CREAT, 0644);
    if (fd == -1)
        return errno == ENOSPC ? BK_ENOSPC : BK_EIO;
    int r = 0;
    if (ix->written > ix->n)
        ix->written = ix->n; /* truncated in memory: the cut below drops the rest */
    if (ix->n > ix->written &&
        bk_io_pwrite_all(fd, ix->ents + (size_t)ix->written * ix->esz,
                         (size_t)(ix->n - ix->written) * ix->esz, (off_t)ix->written * ix->esz) == -1)
        r = errno == ENOSPC ? BK_ENOSPC : BK_EIO;
    if (!r && bk_io->ftruncate(fd, (off_t)ix->n * ix->esz) == -1)
        r = BK_EIO;
    if (!r && bk_io->fsync(fd) == -1)
        r = BK_EIO;
    bk_io->close(fd);
    if (!r)
        ix->written = ix->n;
    return r;
}
