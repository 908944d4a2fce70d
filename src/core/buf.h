/*
 * buf.h - bytes in (bk_rd), bytes out (bk_wr), per-request memory (bk_arena).
 *
 * bk_rd is a bounded big-endian reader over borrowed memory. Every read is
 * bounds-checked; the first failure sets rd->err (sticky) and every later
 * read returns 0 / NULL, so a decoder checks rd->err once at the end.
 *
 * bk_wr is a growable big-endian writer. Besides memory it can carry
 * "splices": file ranges (fd, offset, length) that belong on the wire at a
 * given position of the memory buffer; the connection layer sends memory
 * with writev and splices with sendfile, so record data read from segment
 * files is never copied into user space. bk_wr_wire_len() counts both.
 * Size first, reserve once, write; lengths and CRCs are written as
 * placeholders and patched with bk_wr_patch_*().
 *
 * bk_arena is a bump allocator for one request: decoded arrays live there
 * and are freed all at once. It has a byte limit, so a hostile request
 * cannot make the broker allocate without bound.
 */
#ifndef BK_BUF_H
#define BK_BUF_H

#include "err.h"
#include "kb.h"

/* ---------------------------------------------------------------- reader */

typedef struct bk_rd {
    const uint8_t *p;   /* borrowed: next byte to read */
    const uint8_t *end; /* one past the last readable byte */
    int err;            /* sticky: 0 or BK_EPARSE */
} bk_rd;

static inline void bk_rd_init(bk_rd *rd, const void *p, size_t len)
{
    rd->p = (const uint8_t *)p;
    rd->end = rd->p + len;
    rd->err = 0;
}

static inline size_t bk_rd_left(const bk_rd *rd)
{
    return (size_t)(rd->end - rd->p);
}

static inline void bk_rd_fail(bk_rd *rd)
{
    rd->err = BK_EPARSE;
    rd->p = rd->end;
}

/* Returns a pointer to the next n bytes and advances, or NULL (and sets
 * err) if fewer than n remain. */
static inline const uint8_t *bk_rd_take(bk_rd *rd, size_t n)
{
    if (BK_UNLIKELY(bk_rd_left(rd) < n)) {
        bk_rd_fail(rd);
        return NULL;
    }
    const uint8_t *p = rd->p;
    rd->p += n;
    return p;
}

static inline void bk_rd_skip(bk_rd *rd, size_t n)
{
    (void)bk_rd_take(rd, n);
}

static inline uint8_t bk_rd_u8(bk_rd *rd)
{
    const uint8_t *p = bk_rd_take(rd, 1);
    return p ? p[0] : 0;
}

static inline uint16_t bk_rd_u16(bk_rd *rd)
{
    const uint8_t *p = bk_rd_take(rd, 2);
    return p ? (uint16_t)((p[0] << 8) | p[1]) : 0;
}

static inline uint32_t bk_rd_u32(bk_rd *rd)
{
    const uint8_t *p = bk_rd_take(rd, 4);
    return p ? ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3] : 0;
}

static inline uint64_t bk_rd_u64(bk_rd *rd)
{
    uint64_t hi = bk_rd_u32(rd);
    uint64_t lo = bk_rd_u32(rd);
    return (hi << 32) | lo;
}

static inline int8_t bk_rd_i8(bk_rd *rd)
{
    return (int8_t)bk_rd_u8(rd);
}
static inline int16_t bk_rd_i16(bk_rd *rd)
{
    return (int16_t)bk_rd_u16(rd);
}
static inline int32_t bk_rd_i32(bk_rd *rd)
{
    return (int32_t)bk_rd_u32(rd);
}
static inline int64_t bk_rd_i64(bk_rd *rd)
{
    return (int64_t)bk_rd_u64(rd);
}

static inline double bk_rd_f64(bk_rd *rd)
{
    uint64_t u = bk_rd_u64(rd);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* Unsigned varint (protobuf base-128), at most 10 bytes; values that do not
 * fit 64 bits fail. Callers narrow with an explicit range check. */
uint64_t bk_rd_uvarint(bk_rd *rd);
/* Zig-zag signed varint as used inside record batches. */
int64_t bk_rd_varint(bk_rd *rd);
/* Unsigned varint that must fit in uint32 (compact lengths, tags). */
uint32_t bk_rd_uvarint32(bk_rd *rd);
/* Zig-zag varint that must fit in int32. */
int32_t bk_rd_varint32(bk_rd *rd);

/* ---------------------------------------------------------------- writer */

typedef struct bk_splice {
    size_t at;    /* position in the memory buffer where the file data goes */
    int fd;       /* borrowed: must stay open until the bytes are sent */
    int64_t off;  /* file offset */
    uint32_t len; /* bytes */
} bk_splice;

typedef struct bk_wr {
    uint8_t *buf;      /* owned unless fixed */
    size_t len;        /* bytes of memory written */
    size_t cap;        /* bytes allocated */
    bk_splice *spl;    /* owned */
    int nspl, capspl;  /* splices in order of position */
    uint64_t spl_len;  /* total bytes in splices */
    int err;           /* sticky: BK_ENOMEM (or BK_ELIMIT for fixed) */
    bool fixed;        /* buf is caller's memory of size cap; never grows */
} bk_wr;

void bk_wr_init(bk_wr *wr, size_t initial_cap);
void bk_wr_init_fixed(bk_wr *wr, void *buf, size_t cap);
void bk_wr_fini(bk_wr *wr);
/* Forget the contents, keep the allocation. */
void bk_wr_reset(bk_wr *wr);
/* Make room for n more bytes; returns a pointer to them or NULL (err set). */
uint8_t *bk_wr_reserve(bk_wr *wr, size_t n);
/* Bytes on the wire: memory plus splices. */
static inline uint64_t bk_wr_wire_len(const bk_wr *wr)
{
    return wr->len + wr->spl_len;
}

static inline uint8_t *bk_wr_take(bk_wr *wr, size_t n)
{
    if (BK_LIKELY(wr->cap - wr->len >= n && !wr->err)) {
        uint8_t *p = wr->buf + wr->len;
        wr->len += n;
        return p;
    }
    uint8_t *p = bk_wr_reserve(wr, n);
    if (p)
        wr->len += n;
    return p;
}

static inline void bk_wr_u8(bk_wr *wr, uint8_t v)
{
    uint8_t *p = bk_wr_take(wr, 1);
    if (p)
        p[0] = v;
}

static inline void bk_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void bk_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void bk_be64(uint8_t *p, uint64_t v)
{
    bk_be32(p, (uint32_t)(v >> 32));
    bk_be32(p + 4, (uint32_t)v);
}
static inline uint16_t bk_get_be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t bk_get_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t bk_get_be64(const uint8_t *p)
{
    return ((uint64_t)bk_get_be32(p) << 32) | bk_get_be32(p + 4);
}

static inline void bk_wr_u16(bk_wr *wr, uint16_t v)
{
    uint8_t *p = bk_wr_take(wr, 2);
    if (p)
        bk_be16(p, v);
}
static inline void bk_wr_u32(bk_wr *wr, uint32_t v)
{
    uint8_t *p = bk_wr_take(wr, 4);
    if (p)
        bk_be32(p, v);
}
static inline void bk_wr_u64(bk_wr *wr, uint64_t v)
{
    uint8_t *p = bk_wr_take(wr, 8);
    if (p)
        bk_be64(p, v);
}
static inline void bk_wr_i8(bk_wr *wr, int8_t v)
{
    bk_wr_u8(wr, (uint8_t)v);
}
static inline void bk_wr_i16(bk_wr *wr, int16_t v)
{
    bk_wr_u16(wr, (uint16_t)v);
}
static inline void bk_wr_i32(bk_wr *wr, int32_t v)
{
    bk_wr_u32(wr, (uint32_t)v);
}
static inline void bk_wr_i64(bk_wr *wr, int64_t v)
{
    bk_wr_u64(wr, (uint64_t)v);
}
static inline void bk_wr_f64(bk_wr *wr, double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    bk_wr_u64(wr, u);
}
static inline void bk_wr_mem(bk_wr *wr, const void *src, size_t n)
{
    if (n == 0)
        return;
    uint8_t *p = bk_wr_take(wr, n);
    if (p)
        memcpy(p, src, n);
}

void bk_wr_uvarint(bk_wr *wr, uint64_t v);
void bk_wr_varint(bk_wr *wr, int64_t v);
/* Encoded sizes of varints. */
size_t bk_uvarint_size(uint64_t v);
size_t bk_varint_size(int64_t v);

/* Put len bytes of file fd at offset off on the wire at the current
 * position (zero-copy). */
void bk_wr_splice(bk_wr *wr, int fd, int64_t off, uint32_t len);

static inline void bk_wr_patch_i32(bk_wr *wr, size_t at, int32_t v)
{
    if (!wr->err && at + 4 <= wr->len)
        bk_be32(wr->buf + at, (uint32_t)v);
}

/* ----------------------------------------------------------------- arena */

typedef struct bk_arena_chunk bk_arena_chunk;

typedef struct bk_arena {
    bk_arena_chunk *head; /* owned: newest chunk first */
    size_t used;          /* bytes handed out since the last reset */
    size_t limit;         /* hard cap on used; 0 = unlimited */
} bk_arena;

void bk_arena_init(bk_arena *a, size_t limit);
/* Zeroed memory aligned to 16 bytes, or NULL when over the limit. */
void *bk_arena_alloc(bk_arena *a, size_t n);
/* Free everything but the first chunk (kept for reuse). */
void bk_arena_reset(bk_arena *a);
void bk_arena_fini(bk_arena *a);

#endif
