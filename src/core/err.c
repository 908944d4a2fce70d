#include "err.h"

#include <stdio.h>
#include <stdlib.h>

const char *bk_strerror(int err)
{
    switch (err) {
    case BK_OK: return "success";
    case BK_EPARSE: return "malformed input";
    case BK_ENOMEM: return "out of memory or memory limit reached";
    case BK_EINVAL: return "invalid argument";
    case BK_EIO: return "I/O error";
    case BK_EAGAIN: return "try again";
    case BK_ECORRUPT: return "corrupt data";
    case BK_ELIMIT: return "limit exceeded";
    case BK_ENOSPC: return "no space left on device";
    case BK_ENOENT: return "not found";
    case BK_EEXIST: return "already exists";
    case BK_EVERSION: return "unsupported version";
    }
    return "unknown error";
}

const char *bk_kerr_name(int16_t code)
{
    switch (code) {
#define BK_KERR_CASE(name, c, r)                                                                   \
    case c: return #name;
        BK_KERR_LIST(BK_KERR_CASE)
#undef BK_KERR_CASE
    }
    return "UNKNOWN";
}

bool bk_kerr_retriable(int16_t code)
{
    switch (code) {
#define BK_KERR_CASE(name, c, r)                                                                   \
    case c: return r;
        BK_KERR_LIST(BK_KERR_CASE)
#undef BK_KERR_CASE
    }
    return false;
}

void bk_panic(const char *file, int line, const char *what)
{
    fprintf(stderr, "brook: BUG at %s:%d: %s\n", file, line, what);
    fflush(stderr);
    abort();
}
