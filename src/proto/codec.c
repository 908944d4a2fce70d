/*
 * codec.c - the table-driven Kafka codec engine (see codec.h).
 *
 * Wire rules implemented here, once for every message:
 *   - a field is on the wire at version v iff v is in its `versions`; it is
 *     in the tagged section iff v is also in its `taggedVersions`;
 *   - flexible versions use compact strings/bytes/arrays/records (unsigned
 *     varint length+1, 0 = null) and end every struct with a tagged-field
 *     section: uvarint count, then {uvarint tag, uvarint size, value} in
 *     increasing tag order; a tagged field is written only when it differs
 *     from its default;
 *   - a field-level flexibleVersions ("none" for RequestHeader.ClientId)
 *     keeps the classic encoding inside a flexible struct;
 *   - nullable struct fields carry an int8 marker (-1 null, 1 present);
 *   - null is accepted only in nullableVersions.
 *
 * Limits against hostile input: every length and count is checked against
 * the bytes left before anything is allocated; arrays are allocated from
 * the caller's bk_arena, which has a byte cap; nesting depth is fixed by the
 * schema (Kafka's structs are not recursive), so recursion is bounded.
 */
#include "codec.h"

/* Longest string Kafka accepts (it is an int16 length on the classic wire). */
#define STR_MAX 0x7fff

typedef struct ctx {
    bool flex; /* message version is flexible */
    int16_t ver;
} ctx;

static size_t elem_size(uint8_t type, const bk_msgdesc *sub)
{
    switch (type) {
    case BK_T_BOOL: return sizeof(bool);
    case BK_T_INT8: return 1;
    case BK_T_INT16:
    case BK_T_UINT16: return 2;
    case BK_T_INT32:
    case BK_T_UINT32: return 4;
    case BK_T_INT64: return 8;
    case BK_T_FLOAT64: return sizeof(double);
    case BK_T_STRING: return sizeof(bk_str);
    case BK_T_BYTES: return sizeof(bk_bytes);
    case BK_T_RECORDS: return sizeof(bk_records);
    case BK_T_UUID: return sizeof(bk_uuid);
    case BK_T_STRUCT: return sub->size;
    }
    return 0;
}

size_t bk_codec_elem_size(const bk_field *f)
{
    return elem_size(f->type == BK_T_ARRAY ? f->elem : f->type, f->sub);
}

/* Smallest number of wire bytes one array element can take, so a count can
 * be checked against the bytes left. Structs may legitimately be empty in
 * non-flexible versions; count them as 1 to still bound the loop. */
static size_t elem_min_wire(uint8_t type, bool flex)
{
    switch (type) {
    case BK_T_INT16:
    case BK_T_UINT16: return 2;
    case BK_T_INT32:
    case BK_T_UINT32: return 4;
    case BK_T_INT64:
    case BK_T_FLOAT64: return 8;
    case BK_T_UUID: return 16;
    case BK_T_STRING: return flex ? 1 : 2;
    case BK_T_BYTES: return flex ? 1 : 4;
    }
    return 1;
}

/* ------------------------------------------------------------------ init */

void bk_codec_init(const bk_msgdesc *d, void *m)
{
    memset(m, 0, d->size);
    for (int i = 0; i < d->nfields; i++) {
        const bk_field *f = &d->fields[i];
        uint8_t *p = (uint8_t *)m + f->off;
        switch (f->type) {
        case BK_T_BOOL: *(bool *)p = f->idef != 0; break;
        case BK_T_INT8: *(int8_t *)p = (int8_t)f->idef; break;
        case BK_T_INT16: *(int16_t *)p = (int16_t)f->idef; break;
        case BK_T_UINT16: *(uint16_t *)p = (uint16_t)f->idef; break;
        case BK_T_INT32: *(int32_t *)p = (int32_t)f->idef; break;
        case BK_T_UINT32: *(uint32_t *)p = (uint32_t)f->idef; break;
        case BK_T_INT64: *(int64_t *)p = f->idef; break;
        case BK_T_FLOAT64: *(double *)p = f->fdef; break;
        case BK_T_STRING:
            *(bk_str *)p = f->sdef ? (bk_str){f->sdef, (int32_t)strlen(f->sdef)} : (bk_str){NULL, -1};
            break;
        case BK_T_BYTES: *(bk_bytes *)p = (bk_bytes){NULL, f->null_def ? -1 : 0}; break;
        case BK_T_RECORDS:
            *(bk_records *)p = (bk_records){NULL, f->null_def ? -1 : 0, -1, 0};
            break;
        case BK_T_UUID: break;
        case BK_T_STRUCT:
            bk_codec_init(f->sub, p);
            if (f->has_null_flag)
                *(bool *)((uint8_t *)m + f->null_off) = f->null_def;
            break;
        case BK_T_ARRAY: ((bk_array_any *)p)->n = f->null_def ? -1 : 0; break;
        }
    }
}

/* ---------------------------------------------------------------- decode */

static int decode_struct(const bk_msgdesc *d, const ctx *cx, bk_rd *rd, bk_arena *a, void *m);

/* Length prefix of string/bytes/records/array: classic int16/int32 or
 * compact uvarint. Returns -1 for null, -2 for malformed. */
static int64_t read_len(bk_rd *rd, bool compact, bool i16)
{
    if (compact) {
        uint32_t n = bk_rd_uvarint32(rd);
        if (rd->err)
            return -2;
        return (int64_t)n - 1;
    }
    int64_t n = i16 ? bk_rd_i16(rd) : bk_rd_i32(rd);
    if (rd->err)
        return -2;
    return n < 0 ? -1 : n;
}

/* Decode one value of `type` into p. */
static int decode_value(uint8_t type, const bk_msgdesc *sub, bool compact, bool nullable,
                        const ctx *cx, bk_rd *rd, bk_arena *a, void *p, bool *nullflag)
{
    switch (type) {
    case BK_T_BOOL: *(bool *)p = bk_rd_u8(rd) != 0; break;
    case BK_T_INT8: *(int8_t *)p = bk_rd_i8(rd); break;
    case BK_T_INT16: *(int16_t *)p = bk_rd_i16(rd); break;
    case BK_T_UINT16: *(uint16_t *)p = bk_rd_u16(rd); break;
    case BK_T_INT32: *(int32_t *)p = bk_rd_i32(rd); break;
    case BK_T_UINT32: *(uint32_t *)p = bk_rd_u32(rd); break;
    case BK_T_INT64: *(int64_t *)p = bk_rd_i64(rd); break;
    case BK_T_FLOAT64: *(double *)p = bk_rd_f64(rd); break;
    case BK_T_UUID: {
        const uint8_t *b = bk_rd_take(rd, 16);
        if (b)
            memcpy(p, b, 16);
        break;
    }
    case BK_T_STRING: {
        int64_t n = read_len(rd, compact, true);
        if (n == -2)
            return BK_EPARSE;
        if (n < 0) {
            if (!nullable)
                return BK_EPARSE;
            *(bk_str *)p = (bk_str){NULL, -1};
            break;
        }
        if (n > STR_MAX)
            return BK_EPARSE;
        const uint8_t *b = bk_rd_take(rd, (size_t)n);
        if (!b)
            return BK_EPARSE;
        *(bk_str *)p = (bk_str){(const char *)b, (int32_t)n};
        break;
    }
    case BK_T_BYTES:
    case BK_T_RECORDS: {
        int64_t n = read_len(rd, compact, false);
        if (n == -2)
            return BK_EPARSE;
        const uint8_t *b = NULL;
        if (n < 0) {
            if (!nullable)
                return BK_EPARSE;
            n = -1;
        } else {
            if (n > INT32_MAX)
                return BK_EPARSE;
            b = bk_rd_take(rd, (size_t)n);
            if (!b)
                return BK_EPARSE;
        }
        if (type == BK_T_BYTES)
            *(bk_bytes *)p = (bk_bytes){b, (int32_t)n};
        else
            *(bk_records *)p = (bk_records){b, (int32_t)n, -1, 0};
        break;
    }
    case BK_T_STRUCT:
        if (nullflag) {
            /* nullable struct: int8 marker, negative = null */
            int8_t mark = bk_rd_i8(rd);
            if (rd->err)
                return BK_EPARSE;
            if (mark < 0) {
                bk_codec_init(sub, p);
                *nullflag = true;
                break;
            }
            *nullflag = false;
        }
        return decode_struct(sub, cx, rd, a, p);
    default: return BK_EPARSE;
    }
    return rd->err ? BK_EPARSE : 0;
}

static int decode_field(const bk_field *f, const ctx *cx, bk_rd *rd, bk_arena *a, void *m)
{
    uint8_t *p = (uint8_t *)m + f->off;
    bool compact = cx->flex && BK_V_IN(f->flexible, cx->ver);
    bool nullable = BK_V_IN(f->nullable, cx->ver);

    if (f->type != BK_T_ARRAY) {
        bool *nf = NULL;
        if (f->type == BK_T_STRUCT && f->has_null_flag && nullable)
            nf = (bool *)((uint8_t *)m + f->null_off);
        return decode_value(f->type, f->sub, compact, nullable, cx, rd, a, p, nf);
    }

    bk_array_any *arr = (bk_array_any *)p;
    int64_t n = read_len(rd, compact, false);
    if (n == -2)
        return BK_EPARSE;
    if (n < 0) {
        if (!nullable)
            return BK_EPARSE;
        arr->n = -1;
        arr->a = NULL;
        return 0;
    }
    /* Every element takes at least elem_min_wire bytes: reject counts the
     * remaining input cannot hold before allocating anything. */
    if ((uint64_t)n > bk_rd_left(rd) / elem_min_wire(f->elem, compact))
        return BK_EPARSE;
    size_t esz = elem_size(f->elem, f->sub);
    arr->n = (int32_t)n;
    arr->a = NULL;
    if (n == 0)
        return 0;
    uint8_t *elems = bk_arena_alloc(a, (size_t)n * esz);
    if (!elems)
        return BK_ENOMEM;
    arr->a = elems;
    for (int64_t i = 0; i < n; i++) {
        int r = decode_value(f->elem, f->sub, compact, false, cx, rd, a, elems + (size_t)i * esz,
                             NULL);
        if (r)
            return r;
    }
    return 0;
}

static int decode_struct(const bk_msgdesc *d, const ctx *cx, bk_rd *rd, bk_arena *a, void *m)
{
    bk_codec_init(d, m);
    for (int i = 0; i < d->nfields; i++) {
        const bk_field *f = &d->fields[i];
        if (!BK_V_IN(f->versions, cx->ver) || BK_V_IN(f->tagged, cx->ver))
            continue;
        int r = decode_field(f, cx, rd, a, m);
        if (r)
            return r;
    }
    if (!cx->flex)
        return rd->err ? BK_EPARSE : 0;

    uint32_t ntags = bk_rd_uvarint32(rd);
    for (uint32_t t = 0; t < ntags && !rd->err; t++) {
        uint32_t tag = bk_rd_uvarint32(rd);
        uint32_t size = bk_rd_uvarint32(rd);
        const uint8_t *b = bk_rd_take(rd, size);
        if (!b)
            return BK_EPARSE;
        const bk_field *f = NULL;
        for (int i = 0; i < d->nfields; i++) {
            const bk_field *g = &d->fields[i];
            if (g->tag == (int32_t)tag && BK_V_IN(g->tagged, cx->ver) &&
                BK_V_IN(g->versions, cx->ver)) {
                f = g;
                break;
            }
        }
        if (!f)
            continue; /* unknown tag: skip, as Kafka does */
        bk_rd sub;
        bk_rd_init(&sub, b, size);
        int r = decode_field(f, cx, &sub, a, m);
        if (r)
            return r;
        if (bk_rd_left(&sub) != 0)
            return BK_EPARSE;
    }
    return rd->err ? BK_EPARSE : 0;
}

int bk_codec_decode(const bk_msgdesc *d, bool flexible, int16_t ver, bk_rd *rd, bk_arena *a,
                    void *m)
{
    ctx cx = {flexible, ver};
    int r = decode_struct(d, &cx, rd, a, m);
    if (r == 0 && rd->err)
        r = BK_EPARSE;
    return r;
}

/* ------------------------------------------------------------- defaults */

static bool struct_is_default(const bk_msgdesc *d, const void *m);

static bool value_is_default(const bk_field *f, const void *m)
{
    const uint8_t *p = (const uint8_t *)m + f->off;
    switch (f->type) {
    case BK_T_BOOL: return *(const bool *)p == (f->idef != 0);
    case BK_T_INT8: return *(const int8_t *)p == (int8_t)f->idef;
    case BK_T_INT16: return *(const int16_t *)p == (int16_t)f->idef;
    case BK_T_UINT16: return *(const uint16_t *)p == (uint16_t)f->idef;
    case BK_T_INT32: return *(const int32_t *)p == (int32_t)f->idef;
    case BK_T_UINT32: return *(const uint32_t *)p == (uint32_t)f->idef;
    case BK_T_INT64: return *(const int64_t *)p == f->idef;
    case BK_T_FLOAT64: return memcmp(p, &f->fdef, sizeof(double)) == 0;
    case BK_T_STRING: {
        const bk_str *s = (const bk_str *)p;
        if (!f->sdef)
            return s->len < 0;
        return s->len >= 0 && (size_t)s->len == strlen(f->sdef) &&
               memcmp(s->p, f->sdef, (size_t)s->len) == 0;
    }
    case BK_T_BYTES: {
        const bk_bytes *b = (const bk_bytes *)p;
        return f->null_def ? b->len < 0 : b->len == 0;
    }
    case BK_T_RECORDS: {
        const bk_records *b = (const bk_records *)p;
        return f->null_def ? b->len < 0 : b->len == 0;
    }
    case BK_T_UUID: {
        static const uint8_t zero[16];
        return memcmp(p, zero, 16) == 0;
    }
    case BK_T_STRUCT: {
        bool isnull = f->has_null_flag && *(const bool *)((const uint8_t *)m + f->null_off);
        if (f->null_def)
            return isnull;
        return !isnull && struct_is_default(f->sub, p);
    }
    case BK_T_ARRAY: {
        const bk_array_any *a = (const bk_array_any *)p;
        return f->null_def ? a->n < 0 : a->n == 0;
    }
    }
    return false;
}

static bool struct_is_default(const bk_msgdesc *d, const void *m)
{
    for (int i = 0; i < d->nfields; i++)
        if (!value_is_default(&d->fields[i], m))
            return false;
    return true;
}

/* ------------------------------------------------------------------ size */

static size_t size_struct(const bk_msgdesc *d, const ctx *cx, const void *m);

static size_t len_prefix_size(int64_t len, bool compact, bool i16)
{
    if (compact)
        return bk_uvarint_size(len < 0 ? 0 : (uint64_t)len + 1);
    return i16 ? 2 : 4;
}

static size_t size_value(uint8_t type, const bk_msgdesc *sub, bool compact, const ctx *cx,
                         const void *p, bool nullable_struct, bool isnull)
{
    switch (type) {
    case BK_T_BOOL:
    case BK_T_INT8: return 1;
    case BK_T_INT16:
    case BK_T_UINT16: return 2;
    case BK_T_INT32:
    case BK_T_UINT32: return 4;
    case BK_T_INT64:
    case BK_T_FLOAT64: return 8;
    case BK_T_UUID: return 16;
    case BK_T_STRING: {
        const bk_str *s = p;
        return len_prefix_size(s->len, compact, true) + (s->len > 0 ? (size_t)s->len : 0);
    }
    case BK_T_BYTES: {
        const bk_bytes *b = p;
        return len_prefix_size(b->len, compact, false) + (b->len > 0 ? (size_t)b->len : 0);
    }
    case BK_T_RECORDS: {
        const bk_records *b = p;
        return len_prefix_size(b->len, compact, false) + (b->len > 0 ? (size_t)b->len : 0);
    }
    case BK_T_STRUCT:
        if (nullable_struct)
            return 1 + (isnull ? 0 : size_struct(sub, cx, p));
        return size_struct(sub, cx, p);
    }
    return 0;
}

static size_t size_field(const bk_field *f, const ctx *cx, const void *m)
{
    const uint8_t *p = (const uint8_t *)m + f->off;
    bool compact = cx->flex && BK_V_IN(f->flexible, cx->ver);
    if (f->type != BK_T_ARRAY) {
        bool ns = f->type == BK_T_STRUCT && f->has_null_flag && BK_V_IN(f->nullable, cx->ver);
        bool isnull = ns && *(const bool *)((const uint8_t *)m + f->null_off);
        return size_value(f->type, f->sub, compact, cx, p, ns, isnull);
    }
    const bk_array_any *arr = (const bk_array_any *)p;
    size_t sz = len_prefix_size(arr->n, compact, false);
    size_t esz = elem_size(f->elem, f->sub);
    for (int32_t i = 0; i < arr->n; i++)
        sz += size_value(f->elem, f->sub, compact, cx, (const uint8_t *)arr->a + (size_t)i * esz,
                         false, false);
    return sz;
}

/* Tagged fields to write at this version, in increasing tag order. */
static int tagged_fields(const bk_msgdesc *d, const ctx *cx, const void *m, const bk_field **out,
                         int max)
{
    int n = 0;
    for (int i = 0; i < d->nfields; i++) {
        const bk_field *f = &d->fields[i];
        if (!BK_V_IN(f->tagged, cx->ver) || !BK_V_IN(f->versions, cx->ver))
            continue;
        if (value_is_default(f, m))
            continue;
        if (n == max)
            break;
        int j = n++;
        while (j > 0 && out[j - 1]->tag > f->tag) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = f;
    }
    return n;
}

#define MAX_TAGGED 64

static size_t size_struct(const bk_msgdesc *d, const ctx *cx, const void *m)
{
    size_t sz = 0;
    for (int i = 0; i < d->nfields; i++) {
        const bk_field *f = &d->fields[i];
        if (!BK_V_IN(f->versions, cx->ver) || BK_V_IN(f->tagged, cx->ver))
            continue;
        sz += size_field(f, cx, m);
    }
    if (cx->flex) {
        const bk_field *tf[MAX_TAGGED];
        int nt = tagged_fields(d, cx, m, tf, MAX_TAGGED);
        sz += bk_uvarint_size((uint64_t)nt);
        for (int i = 0; i < nt; i++) {
            size_t vs = size_field(tf[i], cx, m);
            sz += bk_uvarint_size((uint64_t)tf[i]->tag) + bk_uvarint_size(vs) + vs;
        }
    }
    return sz;
}

size_t bk_codec_size(const bk_msgdesc *d, bool flexible, int16_t ver, const void *m)
{
    ctx cx = {flexible, ver};
    return size_struct(d, &cx, m);
}

/* ---------------------------------------------------------------- encode */

static int encode_struct(const bk_msgdesc *d, const ctx *cx, bk_wr *wr, const void *m);

static void write_len(bk_wr *wr, int64_t len, bool compact, bool i16)
{
    if (compact)
        bk_wr_uvarint(wr, len < 0 ? 0 : (uint64_t)len + 1);
    else if (i16)
        bk_wr_i16(wr, (int16_t)(len < 0 ? -1 : len));
    else
        bk_wr_i32(wr, (int32_t)(len < 0 ? -1 : len));
}

static int encode_value(uint8_t type, const bk_msgdesc *sub, bool compact, bool nullable,
                        const ctx *cx, bk_wr *wr, const void *p, bool nullable_struct, bool isnull)
{
    switch (type) {
    case BK_T_BOOL: bk_wr_u8(wr, *(const bool *)p ? 1 : 0); break;
    case BK_T_INT8: bk_wr_i8(wr, *(const int8_t *)p); break;
    case BK_T_INT16: bk_wr_i16(wr, *(const int16_t *)p); break;
    case BK_T_UINT16: bk_wr_u16(wr, *(const uint16_t *)p); break;
    case BK_T_INT32: bk_wr_i32(wr, *(const int32_t *)p); break;
    case BK_T_UINT32: bk_wr_u32(wr, *(const uint32_t *)p); break;
    case BK_T_INT64: bk_wr_i64(wr, *(const int64_t *)p); break;
    case BK_T_FLOAT64: bk_wr_f64(wr, *(const double *)p); break;
    case BK_T_UUID: bk_wr_mem(wr, p, 16); break;
    case BK_T_STRING: {
        const bk_str *s = p;
        if (s->len < 0 && !nullable)
            return BK_EINVAL;
        if (s->len > STR_MAX)
            return BK_EINVAL;
        write_len(wr, s->len, compact, true);
        if (s->len > 0)
            bk_wr_mem(wr, s->p, (size_t)s->len);
        break;
    }
    case BK_T_BYTES: {
        const bk_bytes *b = p;
        if (b->len < 0 && !nullable)
            return BK_EINVAL;
        write_len(wr, b->len, compact, false);
        if (b->len > 0)
            bk_wr_mem(wr, b->p, (size_t)b->len);
        break;
    }
    case BK_T_RECORDS: {
        const bk_records *b = p;
        if (b->len < 0 && !nullable)
            return BK_EINVAL;
        write_len(wr, b->len, compact, false);
        if (b->len > 0) {
            if (b->fd >= 0)
                bk_wr_splice(wr, b->fd, b->off, (uint32_t)b->len);
            else
                bk_wr_mem(wr, b->p, (size_t)b->len);
        }
        break;
    }
    case BK_T_STRUCT:
        if (nullable_struct) {
            bk_wr_i8(wr, isnull ? -1 : 1);
            if (isnull)
                break;
        } else if (isnull) {
            return BK_EINVAL; /* null struct in a version where it is not nullable */
        }
        return encode_struct(sub, cx, wr, p);
    default: return BK_EINVAL;
    }
    return wr->err;
}

static int encode_field(const bk_field *f, const ctx *cx, bk_wr *wr, const void *m)
{
    const uint8_t *p = (const uint8_t *)m + f->off;
    bool compact = cx->flex && BK_V_IN(f->flexible, cx->ver);
    bool nullable = BK_V_IN(f->nullable, cx->ver);
    if (f->type != BK_T_ARRAY) {
        bool isnull = f->type == BK_T_STRUCT && f->has_null_flag &&
                      *(const bool *)((const uint8_t *)m + f->null_off);
        bool ns = f->type == BK_T_STRUCT && f->has_null_flag && nullable;
        return encode_value(f->type, f->sub, compact, nullable, cx, wr, p, ns, isnull);
    }
    const bk_array_any *arr = (const bk_array_any *)p;
    if (arr->n < 0 && !nullable)
        return BK_EINVAL;
    write_len(wr, arr->n, compact, false);
    size_t esz = elem_size(f->elem, f->sub);
    for (int32_t i = 0; i < arr->n; i++) {
        int r = encode_value(f->elem, f->sub, compact, false, cx, wr,
                             (const uint8_t *)arr->a + (size_t)i * esz, false, false);
        if (r)
            return r;
    }
    return wr->err;
}

static int encode_struct(const bk_msgdesc *d, const ctx *cx, bk_wr *wr, const void *m)
{
    for (int i = 0; i < d->nfields; i++) {
        const bk_field *f = &d->fields[i];
        if (!BK_V_IN(f->versions, cx->ver)) {
            /* A value this version cannot carry is an error unless the
             * field is ignorable (Kafka's UnsupportedVersionException). */
            if (!f->ignorable && !value_is_default(f, m))
                return BK_EINVAL;
            continue;
        }
        if (BK_V_IN(f->tagged, cx->ver))
            continue;
        int r = encode_field(f, cx, wr, m);
        if (r)
            return r;
    }
    if (cx->flex) {
        const bk_field *tf[MAX_TAGGED];
        int nt = tagged_fields(d, cx, m, tf, MAX_TAGGED);
        bk_wr_uvarint(wr, (uint64_t)nt);
        for (int i = 0; i < nt; i++) {
            bk_wr_uvarint(wr, (uint64_t)tf[i]->tag);
            bk_wr_uvarint(wr, size_field(tf[i], cx, m));
            int r = encode_field(tf[i], cx, wr, m);
            if (r)
                return r;
        }
    }
    return wr->err;
}

int bk_codec_encode(const bk_msgdesc *d, bool flexible, int16_t ver, bk_wr *wr, const void *m)
{
    ctx cx = {flexible, ver};
    return encode_struct(d, &cx, wr, m);
}
