/*
 * txnindex.c - aborted-transaction index files (see txnindex.h).
 */
#include "txnindex.h"

#include "../core/buf.h"
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

void bk_txnidx_encode(uint8_t out[BK_TXNIDX_ESZ], const bk_abtxn *a)
{
    bk_be16(out, 0);
    bk_be64(out + 2, (uint64_t)a->pid);
    bk_be64(out + 10, (uint64_t)a->first);
    bk_be64(out + 18, (uint64_t)a->last);
    bk_be64(out + 26, (uint64_t)a->lso);
}

void bk_txnidx_decode(const uint8_t in[BK_TXNIDX_ESZ], bk_abtxn *a)
{
    a->pid = (int64_t)bk_get_be64(in + 2);
    a->first = (int64_t)bk_get_be64(in + 10);
    a->last = (int64_t)bk_get_be64(in + 18);
    a->lso = (int64_t)bk_get_be64(in + 26);
}

static int err_of(int e)
{
    return e == ENOSPC || e == EDQUOT ? BK_ENOSPC : BK_EIO;
}

int bk_txnidx_write(const char *path, uint32_t idx, const bk_abtxn *a)
{
    uint8_t b[BK_TXNIDX_ESZ];
    bk_txnidx_encode(b, a);
    int fd = bk_io->open(path, O_WRONLY | O_CREAT, 0644);
    if (fd == -1)
        return err_of(errno);
    int r = 0;
    if (bk_io_pwrite_all(fd, b, sizeof b, (off_t)idx * BK_TXNIDX_ESZ) == -1)
        r = err_of(errno);
    bk_io->close(fd);
    return r;
}

int bk_txnidx_read(const char *path, bk_abtxn **out, uint32_t *n)
{
    *out = NULL;
    *n = 0;
    int fd = bk_io->open(path, O_RDONLY, 0);
    if (fd == -1)
        return errno == ENOENT ? 0 : BK_EIO;
    off_t size;
    int r = 0;
    uint8_t *buf = NULL;
    if (bk_io->fsize(fd, &size) == -1) {
        r = BK_EIO;
        goto out;
    }
    uint32_t cnt = (uint32_t)(size / BK_TXNIDX_ESZ);
    if (cnt == 0)
        goto out;
    size_t bytes = (size_t)cnt * BK_TXNIDX_ESZ;
    buf = malloc(bytes);
    bk_abtxn *v = malloc((size_t)cnt * sizeof *v);
    if (!buf || !v) {
        free(v);
        r = BK_ENOMEM;
        goto out;
    }
    if (bk_io_pread_full(fd, buf, bytes, 0) != (ssize_t)bytes) {
        free(v);
        r = BK_EIO;
        goto out;
    }
    for (uint32_t i = 0; i < cnt; i++)
        bk_txnidx_decode(buf + (size_t)i * BK_TXNIDX_ESZ, &v[i]);
    *out = v;
    *n = cnt;
out:
    free(buf);
    bk_io->close(fd);
    return r;
}

int bk_txnidx_truncate(const char *path, int64_t offset, uint32_t *n)
{
    bk_abtxn *v;
    uint32_t cnt;
    int r = bk_txnidx_read(path, &v, &cnt);
    if (r)
        return r;
    uint32_t keep = 0;
    while (keep < cnt && v[keep].last < offset)
        keep++;
    free(v);
    *n = keep;
    int fd = bk_io->open(path, O_WRONLY, 0);
    if (fd == -1)
        return errno == ENOENT ? 0 : BK_EIO;
    off_t size;
    if (bk_io->fsize(fd, &size) == 0 && size != (off_t)keep * BK_TXNIDX_ESZ &&
        bk_io->ftruncate(fd, (off_t)keep * BK_TXNIDX_ESZ) == -1)
        r = BK_EIO;
    bk_io->close(fd);
    return r;
}

int bk_txnidx_sync(const char *path)
{
    int fd = bk_io->open(path, O_RDWR, 0);
    if (fd == -1)
        return errno == ENOENT ? 0 : BK_EIO;
    int r = bk_io->fsync(fd) == -1 ? BK_EIO : 0;
    bk_io->close(fd);
    return r;
}
