#include "buf.h"

#include "vec.h"

#include <stdlib.h>

/* ---------------------------------------------------------------- reader */

uint64_t bk_rd_uvarint(bk_rd *rd)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (BK_UNLIKELY(rd->p >= rd->end)) {
            bk_rd_fail(rd);
            return 0;
        }
        uint8_t b = *rd->p++;
        if (shift == 63 && (b & 0xfe)) { /* more than 64 bits */
            bk_rd_fail(rd);
            return 0;
        }
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    bk_rd_fail(rd);
    return 0;
}

int64_t bk_rd_varint(bk_rd *rd)
{
    uint64_t u = bk_rd_uvarint(rd);
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

uint32_t bk_rd_uvarint32(bk_rd *rd)
{
    uint64_t v = bk_rd_uvarint(rd);
    if (BK_UNLIKELY(v > UINT32_MAX)) {
        bk_rd_fail(rd);
        return 0;
    }
    return (uint32_t)v;
}

int32_t bk_rd_varint32(bk_rd *rd)
{
    int64_t v = bk_rd_varint(rd);
    if (BK_UNLIKELY(v < INT32_MIN || v > INT32_MAX)) {
        bk_rd_fail(rd);
        return 0;
    }
    return (int32_t)v;
}

/* ---------------------------------------------------------------- writer */

void bk_wr_init(bk_wr *wr, size_t initial_cap)
{
    memset(wr, 0, sizeof *wr);
    if (initial_cap) {
        wr->buf = malloc(initial_cap);
        if (wr->buf)
            wr->cap = initial_cap;
        else
            wr->err = BK_ENOMEM;
    }
}

void bk_wr_init_fixed(bk_wr *wr, void *buf, size_t cap)
{
    memset(wr, 0, sizeof *wr);
    wr->buf = buf;
    wr->cap = cap;
    wr->fixed = true;
}

void bk_wr_fini(bk_wr *wr)
{
    if (!wr->fixed)
        free(wr->buf);
    free(wr->spl);
    memset(wr, 0, sizeof *wr);
}

void bk_wr_reset(bk_wr *wr)
{
    wr->len = 0;
    wr->nspl = 0;
    wr->spl_len = 0;
    wr->err = 0;
}

uint8_t *bk_wr_reserve(bk_wr *wr, size_t n)
{
    if (wr->err)
        return NULL;
    if (wr->cap - wr->len >= n)
        return wr->buf + wr->len;
    if (wr->fixed || n > SIZE_MAX / 2 - wr->len) {
        wr->err = wr->fixed ? BK_ELIMIT : BK_ENOMEM;
        return NULL;
    }
    size_t ncap = wr->cap ? wr->cap : 256;
    while (ncap - wr->len < n)
        ncap *= 2;
    uint8_t *nb = realloc(wr->buf, ncap);
    if (!nb) {
        wr->err = BK_ENOMEM;
        return NULL;
    }
    wr->buf = nb;
    wr->cap = ncap;
    return wr->buf + wr->len;
}

size_t bk_uvarint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

size_t bk_varint_size(int64_t v)
{
    return bk_uvarint_size(((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

void bk_wr_uvarint(bk_wr *wr, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    bk_wr_mem(wr, tmp, n);
}

void bk_wr_varint(bk_wr *wr, int64_t v)
{
    bk_wr_uvarint(wr, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

void bk_wr_splice(bk_wr *wr, int fd, int64_t off, uint32_t len)
{
    if (wr->err || len == 0)
        return;
    bk_splice *ns = bk_vec_grow(wr->spl, wr->nspl, &wr->capspl, sizeof *ns, 8);
    if (!ns) {
        wr->err = BK_ENOMEM;
        return;
    }
    wr->spl = ns;
    wr->spl[wr->nspl++] = (bk_splice){.at = wr->len, .fd = fd, .off = off, .len = len};
    wr->spl_len += len;
}

/* ----------------------------------------------------------------- arena */

struct bk_arena_chunk {
    bk_arena_chunk *next;
    size_t size; /* usable bytes in data */
    size_t used;
    _Alignas(16) uint8_t data[];
};

#define ARENA_CHUNK_MIN 8192

void bk_arena_init(bk_arena *a, size_t limit)
{
    a->head = NULL;
    a->used = 0;
    a->limit = limit;
}

void *bk_arena_alloc(bk_arena *a, size_t n)
{
    if (n > SIZE_MAX / 2)
        return NULL;
    n = n ? (n + 15) & ~(size_t)15 : 16;
    if (a->limit && (n > a->limit || a->used > a->limit - n))
        return NULL;
    bk_arena_chunk *c = a->head;
    if (!c || c->size - c->used < n) {
        size_t sz = n > ARENA_CHUNK_MIN ? n : ARENA_CHUNK_MIN;
        if (c && sz < c->size * 2 && c->size * 2 <= (1u << 20))
            sz = c->size * 2;
        c = malloc(sizeof *c + sz);
        if (!c)
            return NULL;
        c->size = sz;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    a->used += n;
    memset(p, 0, n);
    return p;
}

void bk_arena_reset(bk_arena *a)
{
    bk_arena_chunk *c = a->head;
    if (!c)
        return;
    /* keep the oldest (first allocated) chunk, free the rest */
    while (c->next) {
        bk_arena_chunk *n = c->next;
        if (!n->next) {
            free(c);
            c = n;
            break;
        }
        free(c);
        c = n;
    }
    c->used = 0;
    c->next = NULL;
    a->head = c;
    a->used = 0;
}

void bk_arena_fini(bk_arena *a)
{
    bk_arena_chunk *c = a->head;
    while (c) {
        bk_arena_chunk *n = c->next;
        free(c);
        c = n;
    }
    a->head = NULL;
    a->used = 0;
}
