/*
 * fileio.h - every file operation the storage layer makes goes through
 * bk_io, a table of functions. Production uses the POSIX table; tests swap
 * in the fault-injecting table (bk_faultio_*) to get short writes, EIO,
 * ENOSPC, failed fsyncs and simulated power cuts, after SQLite's test6.c.
 *
 * Return conventions follow POSIX (-1 and errno) so call sites read like
 * ordinary system calls: `if (bk_io->fsync(fd) == -1) { int e = errno; ...}`.
 *
 * Thread safety: the POSIX table is stateless. The fault table keeps its
 * bookkeeping under a mutex, because fsync runs on background threads.
 */
#ifndef BK_FILEIO_H
#define BK_FILEIO_H

#include "../core/kb.h"

#include <sys/types.h>
#include <sys/uio.h>

typedef struct bk_fileio {
    int (*open)(const char *path, int flags, mode_t mode);
    int (*close)(int fd);
    ssize_t (*pread)(int fd, void *buf, size_t n, off_t off);
    ssize_t (*pwrite)(int fd, const void *buf, size_t n, off_t off);
    ssize_t (*pwritev)(int fd, const struct iovec *iov, int iovcnt, off_t off);
    int (*fsync)(int fd);
    int (*ftruncate)(int fd, off_t len);
    int (*fsize)(int fd, off_t *size); /* fstat st_size */
    int (*rename)(const char *from, const char *to);
    int (*unlink)(const char *path);
    int (*fsync_dir)(const char *dir);
} bk_fileio;

extern const bk_fileio bk_posix_io;
/* The table in use; tests point it at bk_fault_io. */
extern const bk_fileio *bk_io;

/* Write all of buf at off, retrying short writes and EINTR. 0 or -1/errno.
 * On failure the file may hold a prefix of buf: the caller truncates. */
int bk_io_pwrite_all(int fd, const void *buf, size_t n, off_t off);
/* Read exactly n bytes at off; returns bytes read (< n at end of file) or
 * -1/errno. */
ssize_t bk_io_pread_full(int fd, void *buf, size_t n, off_t off);

/* -------------------------------------------------- fault-injecting twin */

extern const bk_fileio bk_fault_io;

typedef struct bk_fault_cfg {
    long fail_write_after;  /* fail the Nth next write (1 = next); 0 = never */
    int write_errno;        /* EIO or ENOSPC */
    bool short_write;       /* the failing write first writes half its bytes */
    long fail_fsync_after;  /* fail the Nth next fsync with EIO; 0 = never */
    long enospc_above;      /* total bytes beyond which writes fail ENOSPC; 0 = off */
} bk_fault_cfg;

void bk_fault_reset(void);
void bk_fault_set(const bk_fault_cfg *cfg);
/* Simulated power cut: every file written through bk_fault_io loses what
 * was written after its last successful fsync; if tear is set, the first
 * unsynced write survives in part (a torn write). Files are addressed by
 * path, so call it after closing (or abandoning) every descriptor. */
void bk_fault_power_cut(bool tear, uint64_t seed);
/* Bytes written through the fault layer so far. */
long bk_fault_bytes_written(void);

#endif
