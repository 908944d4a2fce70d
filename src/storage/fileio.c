/*
 * fileio.c - POSIX file table and its fault-injecting twin (see fileio.h).
 */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ----------------------------------------------------------------- POSIX */

static int px_open(const char *path, int flags, mode_t mode)
{
    return open(path, flags | O_CLOEXEC, mode);
}

static int px_fsize(int fd, off_t *size)
{
    struct stat st;
    if (fstat(fd, &st) == -1)
        return -1;
    *size = st.st_size;
    return 0;
}

static int px_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd == -1)
        return -1;
    int r = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return r;
}

static int px_fsync(int fd)
{
    return fdatasync(fd);
}

const bk_fileio bk_posix_io = {
    .open = px_open,
    .close = close,
    .pread = pread,
    .pwrite = pwrite,
    .pwritev = pwritev,
    .fsync = px_fsync,
    .ftruncate = ftruncate,
    .fsize = px_fsize,
    .rename = rename,
    .unlink = unlink,
    .fsync_dir = px_fsync_dir,
};

const bk_fileio *bk_io = &bk_posix_io;

int bk_io_pwrite_all(int fd, const void *buf, size_t n, off_t off)
{
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t w = bk_io->pwrite(fd, p, n, off);
        if (w == -1) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (w == 0) {
            errno = EIO;
            return -1;
        }
        p += w;
        n -= (size_t)w;
        off += w;
    }
    return 0;
}

ssize_t bk_io_pread_full(int fd, void *buf, size_t n, off_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = bk_io->pread(fd, (uint8_t *)buf + got, n - got, off + (off_t)got);
        if (r == -1) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* ----------------------------------------------------------------- fault */

/*
 * Bookkeeping per path: the size the file had at its last successful fsync
 * and the first unsynced write (for tearing). Storage files are appended to
 * or rewritten whole through a temp file and rename, so "truncate back to
 * the synced size" is what a power cut does to them. Overwrites inside the
 * synced region are not rolled back (the storage layer makes none).
 */
#define FT_FILES 8192
#define FT_FDS   65536

typedef struct ft_file {
    char *path;
    off_t synced;      /* size at the last fsync */
    off_t first_unsync; /* offset of the first write after it; -1 none */
    size_t first_len;
} ft_file;

static pthread_mutex_t ft_mu = PTHREAD_MUTEX_INITIALIZER;
static ft_file ft_files[FT_FILES];
static int ft_nfiles;
static int ft_fd_file[FT_FDS]; /* fd -> index + 1, 0 = untracked */
static bk_fault_cfg ft_cfg;
static long ft_writes, ft_fsyncs, ft_bytes;

static int ft_find(const char *path)
{
    for (int i = 0; i < ft_nfiles; i++)
        if (ft_files[i].path && strcmp(ft_files[i].path, path) == 0)
            return i;
    return -1;
}

static int ft_track(const char *path, off_t size)
{
    int i = ft_find(path);
    if (i >= 0)
        return i;
    for (i = 0; i < ft_nfiles; i++)
        if (!ft_files[i].path)
            break;
    if (i == ft_nfiles) {
        if (ft_nfiles == FT_FILES)
            return -1;
        ft_nfiles++;
    }
    ft_files[i] = (ft_file){strdup(path), size, -1, 0};
    return i;
}

void bk_fault_reset(void)
{
    pthread_mutex_lock(&ft_mu);
    for (int i = 0; i < ft_nfiles; i++)
        free(ft_files[i].path);
    memset(ft_files, 0, sizeof ft_files);
    memset(ft_fd_file, 0, sizeof ft_fd_file);
    ft_nfiles = 0;
    memset(&ft_cfg, 0, sizeof ft_cfg);
    ft_writes = ft_fsyncs = ft_bytes = 0;
    pthread_mutex_unlock(&ft_mu);
}

void bk_fault_set(const bk_fault_cfg *cfg)
{
    pthread_mutex_lock(&ft_mu);
    ft_cfg = *cfg;
    ft_writes = ft_fsyncs = 0;
    pthread_mutex_unlock(&ft_mu);
}

long bk_fault_bytes_written(void)
{
    pthread_mutex_lock(&ft_mu);
    long b = ft_bytes;
    pthread_mutex_unlock(&ft_mu);
    return b;
}

static int ft_open(const char *path, int flags, mode_t mode)
{
    int fd = open(path, flags | O_CLOEXEC, mode);
    if (fd == -1 || fd >= FT_FDS)
        return fd;
    struct stat st;
    off_t size = fstat(fd, &st) == 0 ? st.st_size : 0;
    pthread_mutex_lock(&ft_mu);
    /* A file we have not seen is durable as it is now. */
    int i = ft_track(path, size);
    ft_fd_file[fd] = i + 1;
    pthread_mutex_unlock(&ft_mu);
    return fd;
}

static int ft_close(int fd)
{
    if (fd >= 0 && fd < FT_FDS) {
        pthread_mutex_lock(&ft_mu);
        ft_fd_file[fd] = 0;
        pthread_mutex_unlock(&ft_mu);
    }
    return close(fd);
}

/* Decide the fate of a write of n bytes: returns bytes allowed (n, a short
 * count, or -1 with errno set). Called with ft_mu held. */
static ssize_t ft_write_gate(size_t n)
{
    ft_writes++;
    if (ft_cfg.enospc_above && ft_bytes + (long)n > ft_cfg.enospc_above) {
        long room = ft_cfg.enospc_above - ft_bytes;
        if (room > 0 && ft_cfg.short_write)
            return (ssize_t)room;
        errno = ENOSPC;
        return -1;
    }
    if (ft_cfg.fail_write_after && ft_writes == ft_cfg.fail_write_after) {
        if (ft_cfg.short_write && n > 1) {
            ft_cfg.short_write = false; /* next call fails for real */
            ft_writes--;
            return (ssize_t)(n / 2);
        }
        errno = ft_cfg.write_errno ? ft_cfg.write_errno : EIO;
        return -1;
    }
    return (ssize_t)n;
}

static void ft_note_write(int fd, off_t off, size_t n)
{
    ft_bytes += (long)n;
    if (fd < 0 || fd >= FT_FDS || !ft_fd_file[fd])
        return;
    ft_file *f = &ft_files[ft_fd_file[fd] - 1];
    if (f->first_unsync < 0 && off + (off_t)n > f->synced) {
        f->first_unsync = off;
        f->first_len = n;
    }
}

static ssize_t ft_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    pthread_mutex_lock(&ft_mu);
    ssize_t allow = ft_write_gate(n);
    if (allow < 0) {
        int e = errno;
        pthread_mutex_unlock(&ft_mu);
        errno = e;
        return -1;
    }
    ssize_t w = pwrite(fd, buf, (size_t)allow, off);
    if (w > 0)
        ft_note_write(fd, off, (size_t)w);
    pthread_mutex_unlock(&ft_mu);
    return w;
}

static ssize_t ft_pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
    /* Flatten through pwrite so every byte passes the same gate. */
    ssize_t total = 0;
    for (int i = 0; i < iovcnt; i++) {
        ssize_t w = ft_pwrite(fd, iov[i].iov_base, iov[i].iov_len, off + total);
        if (w < 0)
            return total ? total : -1;
        total += w;
        if ((size_t)w < iov[i].iov_len)
            break;
    }
    return total;
}

static int ft_fsync(int fd)
{
    pthread_mutex_lock(&ft_mu);
    ft_fsyncs++;
    if (ft_cfg.fail_fsync_after && ft_fsyncs == ft_cfg.fail_fsync_after) {
        pthread_mutex_unlock(&ft_mu);
        errno = EIO;
        return -1;
    }
    int r = fdatasync(fd);
    if (r == 0 && fd >= 0 && fd < FT_FDS && ft_fd_file[fd]) {
        ft_file *f = &ft_files[ft_fd_file[fd] - 1];
        struct stat st;
        if (fstat(fd, &st) == 0)
            f->synced = st.st_size;
        f->first_unsync = -1;
    }
    pthread_mutex_unlock(&ft_mu);
    return r;
}

static int ft_ftruncate(int fd, off_t len)
{
    int r = ftruncate(fd, len);
    if (r == 0 && fd >= 0 && fd < FT_FDS) {
        pthread_mutex_lock(&ft_mu);
        if (ft_fd_file[fd]) {
            ft_file *f = &ft_files[ft_fd_file[fd] - 1];
            /* Shrinking is treated as durable at once (it only ever drops
             * data that recovery would drop too); growing is not. */
            if (len < f->synced)
                f->synced = len;
        }
        pthread_mutex_unlock(&ft_mu);
    }
    return r;
}

static int ft_rename(const char *from, const char *to)
{
    int r = rename(from, to);
    if (r == 0) {
        pthread_mutex_lock(&ft_mu);
        int j = ft_find(to);
        if (j >= 0) {
            free(ft_files[j].path);
            ft_files[j].path = NULL;
        }
        int i = ft_find(from);
        if (i >= 0) {
            free(ft_files[i].path);
            ft_files[i].path = strdup(to);
        }
        pthread_mutex_unlock(&ft_mu);
    }
    return r;
}

static int ft_unlink(const char *path)
{
    int r = unlink(path);
    if (r == 0) {
        pthread_mutex_lock(&ft_mu);
        int i = ft_find(path);
        if (i >= 0) {
            free(ft_files[i].path);
            ft_files[i].path = NULL;
        }
        pthread_mutex_unlock(&ft_mu);
    }
    return r;
}

void bk_fault_power_cut(bool tear, uint64_t seed)
{
    pthread_mutex_lock(&ft_mu);
    for (int i = 0; i < ft_nfiles; i++) {
        ft_file *f = &ft_files[i];
        if (!f->path)
            continue;
        struct stat st;
        if (stat(f->path, &st) != 0 || st.st_size <= f->synced)
            continue;
        off_t keep = f->synced;
        if (tear && f->first_unsync >= 0 && f->first_unsync >= f->synced && f->first_len > 1) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            keep = f->first_unsync + (off_t)((seed >> 33) % f->first_len);
        }
        if (truncate(f->path, keep) != 0) {
            /* best effort: a test will notice the extra bytes */
        }
        f->first_unsync = -1;
    }
    pthread_mutex_unlock(&ft_mu);
}

const bk_fileio bk_fault_io = {
    .open = ft_open,
    .close = ft_close,
    .pread = pread,
    .pwrite = ft_pwrite,
    .pwritev = ft_pwritev,
    .fsync = ft_fsync,
    .ftruncate = ft_ftruncate,
    .fsize = px_fsize,
    .rename = ft_rename,
    .unlink = ft_unlink,
    .fsync_dir = px_fsync_dir,
};
