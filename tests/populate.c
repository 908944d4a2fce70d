/*
 * populate.c - fill any generated message with random values that are legal
 * at a given version (present fields only, nulls only where nullable), by
 * walking the descriptors. Used by the codec unit test and the fuzz corpus
 * generator.
 */
#include "populate.h"

/* xorshift64*: deterministic, seedable. */
static uint64_t rng_state = 1;

void bk_pop_seed(uint64_t seed)
{
    rng_state = seed ? seed : 1;
}

static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}
static uint32_t rndn(uint32_t n)
{
    return (uint32_t)(rnd() % n);
}

static const char *const sample_strs[] = {"", "a", "topic-1", "consumer_group.x", "ünïcödé",
                                          "0123456789abcdefghijklmnopqrstuvwxyz"};

static void populate_struct(const bk_msgdesc *d, int16_t ver, bk_arena *a, void *m, int depth);


static void populate_value(uint8_t type, const bk_msgdesc *sub, int16_t ver, bk_arena *a, void *p,
                           bool nullable, bool *nullflag, int depth)
{
    switch (type) {
    case BK_T_BOOL: *(bool *)p = rnd() & 1; break;
    case BK_T_INT8: *(int8_t *)p = (int8_t)rnd(); break;
    case BK_T_INT16: *(int16_t *)p = (int16_t)rnd(); break;
    case BK_T_UINT16: *(uint16_t *)p = (uint16_t)rnd(); break;
    case BK_T_INT32: *(int32_t *)p = (int32_t)rnd(); break;
    case BK_T_UINT32: *(uint32_t *)p = (uint32_t)rnd(); break;
    case BK_T_INT64: *(int64_t *)p = (int64_t)rnd(); break;
    case BK_T_FLOAT64: *(double *)p = (double)(int32_t)rnd() / 7.0; break;
    case BK_T_UUID:
        for (int i = 0; i < 16; i++)
            ((uint8_t *)p)[i] = (uint8_t)rnd();
        break;
    case BK_T_STRING:
        if (nullable && rndn(4) == 0)
            *(bk_str *)p = (bk_str){NULL, -1};
        else
            *(bk_str *)p = bk_str_c(sample_strs[rndn(BK_ARRAY_LEN(sample_strs))]);
        break;
    case BK_T_BYTES:
    case BK_T_RECORDS: {
        int32_t len = -1;
        uint8_t *b = NULL;
        if (!(nullable && rndn(4) == 0)) {
            len = (int32_t)rndn(300);
            b = bk_arena_alloc(a, (size_t)len + 1);
            for (int32_t i = 0; i < len; i++)
                b[i] = (uint8_t)rnd();
        }
        if (type == BK_T_BYTES)
            *(bk_bytes *)p = (bk_bytes){b, len};
        else
            *(bk_records *)p = (bk_records){b, len, -1, 0};
        break;
    }
    case BK_T_STRUCT:
        if (nullflag && rndn(3) == 0) {
            bk_codec_init(sub, p);
            *nullflag = true;
            break;
        }
        if (nullflag)
            *nullflag = false;
        populate_struct(sub, ver, a, p, depth + 1);
        break;
    }
}

static void populate_struct(const bk_msgdesc *d, int16_t ver, bk_arena *a, void *m, int depth)
{
    bk_codec_init(d, m);
    for (int i = 0; i < d->nfields; i++) {
        const bk_field *f = &d->fields[i];
        if (!BK_V_IN(f->versions, ver))
            continue;
        /* tagged fields: leave at default a third of the time */
        if (BK_V_IN(f->tagged, ver) && rndn(3) == 0)
            continue;
        uint8_t *p = (uint8_t *)m + f->off;
        bool nullable = BK_V_IN(f->nullable, ver);
        if (f->type == BK_T_ARRAY) {
            bk_array_any *arr = (bk_array_any *)p;
            if (nullable && rndn(4) == 0) {
                arr->n = -1;
                arr->a = NULL;
                continue;
            }
            int32_t n = (int32_t)rndn(depth > 2 ? 2 : 4);
            size_t esz = bk_codec_elem_size(f);
            uint8_t *el = n ? bk_arena_alloc(a, (size_t)n * esz) : NULL;
            for (int32_t j = 0; j < n; j++) {
                if (f->elem == BK_T_STRUCT)
                    populate_struct(f->sub, ver, a, el + (size_t)j * esz, depth + 1);
                else
                    populate_value(f->elem, NULL, ver, a, el + (size_t)j * esz, false, NULL,
                                   depth);
            }
            arr->n = n;
            arr->a = el;
            continue;
        }
        bool *nf = NULL;
        if (f->type == BK_T_STRUCT && f->has_null_flag && nullable)
            nf = (bool *)((uint8_t *)m + f->null_off);
        populate_value(f->type, f->sub, ver, a, p, nullable, nf, depth);
    }
}

void bk_pop_struct(const bk_msgdesc *d, int16_t ver, bk_arena *a, void *m)
{
    populate_struct(d, ver, a, m, 0);
}
