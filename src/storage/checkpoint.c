/*
 * checkpoint.c - atomic text checkpoints in Kafka's formats (see .h).
 */
#include "checkpoint.h"

#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bk_ckpt_write_file(const char *path, const void *data, size_t len)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 5), *dir = malloc(plen + 2);
    if (!tmp || !dir) {
        free(tmp);
        free(dir);
        return BK_ENOMEM;
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    memcpy(dir, path, plen + 1);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    else
        strcpy(dir, ".");

    int r = BK_EIO;
    int fd = bk_io->open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd == -1)
        goto out;
    if (bk_io_pwrite_all(fd, data, len, 0) == -1 || bk_io->fsync(fd) == -1) {
        r = errno == ENOSPC ? BK_ENOSPC : BK_EIO;
        bk_io->close(fd);
        bk_io->unlink(tmp);
        goto out;
    }
    bk_io->close(fd);
    if (bk_io->rename(tmp, path) == -1 || bk_io->fsync_dir(dir) == -1)
        goto out;
    r = 0;
out:
    free(tmp);
    free(dir);
    return r;
}

/* A growable text buffer for building a checkpoint. */
typedef struct tbuf {
    char *p;
    size_t len, cap;
    int err;
} tbuf;

static void tb_printf(tbuf *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tb_printf(tbuf *t, const char *fmt, ...)
{
    if (t->err)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->err = BK_EINVAL;
            return;
        }
        if (t->p && (size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t ncap = t->cap ? t->cap * 2 : 256;
        while (ncap - t->len <= (size_t)n)
            ncap *= 2;
        char *np = realloc(t->p, ncap);
        if (!np) {
            t->err = BK_ENOMEM;
            return;
        }
        t->p = np;
        t->cap = ncap;
    }
}

int bk_ckpt_write_offsets(const char *path, const bk_ckpt_tpo *e, int n)
{
    tbuf t = {0};
    tb_printf(&t, "0\n%d\n", n);
    for (int i = 0; i < n; i++)
        tb_printf(&t, "%s %" PRId32 " %" PRId64 "\n", e[i].topic, e[i].partition, e[i].offset);
    int r = t.err ? t.err : bk_ckpt_write_file(path, t.p, t.len);
    free(t.p);
    return r;
}

int bk_ckpt_write_epochs(const char *path, const bk_ckpt_epoch *e, int n)
{
    tbuf t = {0};
    tb_printf(&t, "0\n%d\n", n);
    for (int i = 0; i < n; i++)
        tb_printf(&t, "%" PRId32 " %" PRId64 "\n", e[i].epoch, e[i].start_offset);
    int r = t.err ? t.err : bk_ckpt_write_file(path, t.p, t.len);
    free(t.p);
    return r;
}

/* Read a whole small file; NUL-terminated. */
static int slurp(const char *path, char **out)
{
    int fd = bk_io->open(path, O_RDONLY, 0);
    if (fd == -1)
        return errno == ENOENT ? BK_ENOENT : BK_EIO;
    off_t size;
    if (bk_io->fsize(fd, &size) == -1 || size > (64 << 20)) {
        bk_io->close(fd);
        return BK_EIO;
    }
    char *buf = malloc((size_t)size + 1);
    if (!buf) {
        bk_io->close(fd);
        return BK_ENOMEM;
    }
    ssize_t got = bk_io_pread_full(fd, buf, (size_t)size, 0);
    bk_io->close(fd);
    if (got != (ssize_t)size) {
        free(buf);
        return BK_EIO;
    }
    buf[size] = 0;
    *out = buf;
    return 0;
}

/* Parse "0\nN\n" and return a pointer after it, or NULL. */
static char *parse_header(char *s, int *n)
{
    char *end;
    long ver = strtol(s, &end, 10);
    if (end == s || ver != 0 || *end != '\n')
        return NULL;
    s = end + 1;
    long cnt = strtol(s, &end, 10);
    if (end == s || cnt < 0 || cnt > 10000000 || *end != '\n')
        return NULL;
    *n = (int)cnt;
    return end + 1;
}

void bk_ckpt_free_offsets(bk_ckpt_tpo *e, int n)
{
    if (!e)
        return;
    for (int i = 0; i < n; i++)
        free(e[i].topic);
    free(e);
}

int bk_ckpt_read_offsets(const char *path, bk_ckpt_tpo **out, int *nout)
{
    char *buf;
    int r = slurp(path, &buf);
    if (r)
        return r;
    int n;
    char *s = parse_header(buf, &n);
    bk_ckpt_tpo *e = s ? calloc((size_t)n + 1, sizeof *e) : NULL;
    int i = 0;
    if (!e)
        goto bad;
    for (; i < n; i++) {
        char *nl = strchr(s, '\n');
        if (!nl)
            goto bad;
        *nl = 0;
        char *sp2 = strrchr(s, ' ');
        if (!sp2)
            goto bad;
        *sp2 = 0;
        char *sp1 = strrchr(s, ' ');
        if (!sp1 || sp1 == s)
            goto bad;
        *sp1 = 0;
        char *end;
        errno = 0;
        long part = strtol(sp1 + 1, &end, 10);
        if (*end || part < 0 || part > INT32_MAX)
            goto bad;
        long long off = strtoll(sp2 + 1, &end, 10);
        if (*end || errno)
            goto bad;
        e[i].topic = strdup(s);
        e[i].partition = (int32_t)part;
        e[i].offset = off;
        s = nl + 1;
    }
    free(buf);
    *out = e;
    *nout = n;
    return 0;
bad:
    bk_ckpt_free_offsets(e, i);
    free(buf);
    return BK_ECORRUPT;
}

int bk_ckpt_read_epochs(const char *path, bk_ckpt_epoch **out, int *nout)
{
    char *buf;
    int r = slurp(path, &buf);
    if (r)
        return r;
    int n;
    char *s = parse_header(buf, &n);
    bk_ckpt_epoch *e = s ? calloc((size_t)n + 1, sizeof *e) : NULL;
    if (!e)
        goto bad;
    for (int i = 0; i < n; i++) {
        char *end;
        errno = 0;
        long ep = strtol(s, &end, 10);
        if (end == s || *end != ' ' || ep < 0 || ep > INT32_MAX)
            goto bad;
        s = end + 1;
        long long off = strtoll(s, &end, 10);
        if (end == s || *end != '\n' || errno)
            goto bad;
        e[i] = (bk_ckpt_epoch){(int32_t)ep, off};
        s = end + 1;
    }
    free(buf);
    *out = e;
    *nout = n;
    return 0;
bad:
    free(e);
    free(buf);
    return BK_ECORRUPT;
}
