/*
 * bkcodec - a line-oriented window into the generated codec, for tests that
 * compare Brook's encoding with an independent implementation
 * (tests/itest/test_codec_kafka_python.py uses kafka-python's).
 *
 * Reads commands from stdin, one per line, answers one JSON line each:
 *   schema NAME VERSION     -> the regular (non-tagged) fields on the wire at
 *                              VERSION, in order: [{"name","type","nullable",
 *                              "fields"?}...]
 *   decode NAME VERSION HEX -> {"ok":true,"value":[...positional...],
 *                              "reencoded":"HEX","size":N} or {"ok":false,"err":E}
 *   list                    -> ["AddOffsetsToTxnRequest", ...]
 * Positional values: a struct is a JSON array of its regular fields'
 * values; strings are JSON strings (bytes escaped); bytes, records and uuids
 * are lowercase hex strings; null is null.
 */
#include "../src/proto/bkgen_msgs.h"

#include <stdio.h>
#include <stdlib.h>

static const char *type_name(uint8_t t)
{
    static const char *const n[] = {"?",      "bool",  "int8",    "int16",  "uint16",
                                    "int32",  "uint32", "int64",  "float64", "string",
                                    "bytes",  "records", "uuid",  "struct", "array"};
    return t < BK_ARRAY_LEN(n) ? n[t] : "?";
}

static const bk_msginfo *find_msg(const char *name)
{
    for (int i = 0; i < bk_all_msgs_count; i++)
        if (strcmp(bk_all_msgs[i]->desc->name, name) == 0)
            return bk_all_msgs[i];
    return NULL;
}

static void print_schema(const bk_msgdesc *d, int16_t v)
{
    printf("[");
    int first = 1;
    for (int i = 0; i < d->nfields; i++) {
        const bk_field *f = &d->fields[i];
        if (!BK_V_IN(f->versions, v) || BK_V_IN(f->tagged, v))
            continue;
        printf("%s{\"name\":\"%s\",\"type\":\"%s\",\"elem\":\"%s\",\"nullable\":%s", first ? "" : ",",
               f->name, type_name(f->type), f->type == BK_T_ARRAY ? type_name(f->elem) : "",
               BK_V_IN(f->nullable, v) ? "true" : "false");
        if (f->sub) {
            printf(",\"fields\":");
            print_schema(f->sub, v);
        }
        printf("}");
        first = 0;
    }
    printf("]");
}

static void print_hex(const uint8_t *p, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
    putchar('"');
}

static void print_jstr(const char *p, int32_t len)
{
    putchar('"');
    for (int32_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            printf("\\u%04x", c); /* bytes, not code points: tests use ASCII */
        else
            putchar(c);
    }
    putchar('"');
}

static void print_struct(const bk_msgdesc *d, int16_t v, const void *m);

static void print_value(uint8_t type, const bk_msgdesc *sub, int16_t v, const void *p, bool isnull)
{
    switch (type) {
    case BK_T_BOOL: printf(*(const bool *)p ? "true" : "false"); break;
    case BK_T_INT8: printf("%d", *(const int8_t *)p); break;
    case BK_T_INT16: printf("%d", *(const int16_t *)p); break;
    case BK_T_UINT16: printf("%u", *(const uint16_t *)p); break;
    case BK_T_INT32: printf("%d", *(const int32_t *)p); break;
    case BK_T_UINT32: printf("%u", *(const uint32_t *)p); break;
    case BK_T_INT64: printf("%lld", (long long)*(const int64_t *)p); break;
    case BK_T_FLOAT64: printf("%.17g", *(const double *)p); break;
    case BK_T_UUID: print_hex(p, 16); break;
    case BK_T_STRING: {
        const bk_str *s = p;
        if (s->len < 0)
            printf("null");
        else
            print_jstr(s->p, s->len);
        break;
    }
    case BK_T_BYTES: {
        const bk_bytes *b = p;
        if (b->len < 0)
            printf("null");
        else
            print_hex(b->p, (size_t)b->len);
        break;
    }
    case BK_T_RECORDS: {
        const bk_records *b = p;
        if (b->len < 0)
            printf("null");
        else
            print_hex(b->p, (size_t)b->len);
        break;
    }
    case BK_T_STRUCT:
        if (isnull)
            printf("null");
        else
            print_struct(sub, v, p);
        break;
    }
}

static void print_struct(const bk_msgdesc *d, int16_t v, const void *m)
{
    printf("[");
    int first = 1;
    for (int i = 0; i < d->nfields; i++) {
        const bk_field *f = &d->fields[i];
        if (!BK_V_IN(f->versions, v) || BK_V_IN(f->tagged, v))
            continue;
        if (!first)
            printf(",");
        first = 0;
        const uint8_t *p = (const uint8_t *)m + f->off;
        if (f->type == BK_T_ARRAY) {
            const bk_array_any *a = (const bk_array_any *)p;
            if (a->n < 0) {
                printf("null");
                continue;
            }
            size_t esz = bk_codec_elem_size(f);
            printf("[");
            for (int32_t j = 0; j < a->n; j++) {
                if (j)
                    printf(",");
                print_value(f->elem, f->sub, v, (const uint8_t *)a->a + (size_t)j * esz, false);
            }
            printf("]");
            continue;
        }
        bool isnull = f->has_null_flag && *(const bool *)((const uint8_t *)m + f->null_off);
        print_value(f->type, f->sub, v, p, isnull);
    }
    printf("]");
}

static int unhex(const char *s, uint8_t *out, size_t *n)
{
    size_t len = strlen(s);
    if (len % 2)
        return -1;
    for (size_t i = 0; i < len / 2; i++) {
        unsigned b;
        if (sscanf(s + 2 * i, "%2x", &b) != 1)
            return -1;
        out[i] = (uint8_t)b;
    }
    *n = len / 2;
    return 0;
}

int main(void)
{
    size_t cap = 1 << 20;
    char *line = malloc(cap);
    uint8_t *bin = malloc(cap);
    char *name = malloc(256), *hex = malloc(cap);
    bk_arena a;
    bk_arena_init(&a, 64 << 20);
    bk_wr w;
    bk_wr_init(&w, 4096);
    while (fgets(line, (int)cap, stdin)) {
        int ver;
        if (strncmp(line, "list", 4) == 0) {
            printf("[");
            for (int i = 0; i < bk_all_msgs_count; i++)
                printf("%s\"%s\"", i ? "," : "", bk_all_msgs[i]->desc->name);
            printf("]\n");
        } else if (sscanf(line, "schema %255s %d", name, &ver) == 2) {
            const bk_msginfo *mi = find_msg(name);
            if (!mi)
                printf("null\n");
            else {
                print_schema(mi->desc, (int16_t)ver);
                printf("\n");
            }
        } else if ((hex[0] = 0, sscanf(line, "decode %255s %d %s", name, &ver, hex) >= 2)) {
            const bk_msginfo *mi = find_msg(name);
            size_t n = 0;
            if (!mi || unhex(hex, bin, &n) != 0) {
                printf("{\"ok\":false,\"err\":\"bad command\"}\n");
                fflush(stdout);
                continue;
            }
            bool flex = BK_V_IN(mi->flexible, ver);
            void *m = calloc(1, mi->desc->size);
            bk_arena_reset(&a);
            bk_wr_reset(&w);
            bk_rd rd;
            bk_rd_init(&rd, bin, n);
            int r = bk_codec_decode(mi->desc, flex, (int16_t)ver, &rd, &a, m);
            if (r) {
                printf("{\"ok\":false,\"err\":\"%s\"}\n", bk_strerror(r));
            } else {
                int re = bk_codec_encode(mi->desc, flex, (int16_t)ver, &w, m);
                printf("{\"ok\":true,\"left\":%zu,\"value\":", bk_rd_left(&rd));
                print_struct(mi->desc, (int16_t)ver, m);
                printf(",\"encode_err\":%d,\"size\":%zu,\"reencoded\":", re,
                       bk_codec_size(mi->desc, flex, (int16_t)ver, m));
                print_hex(w.buf, w.len);
                printf("}\n");
            }
            free(m);
        } else {
            printf("{\"ok\":false,\"err\":\"bad command\"}\n");
        }
        fflush(stdout);
    }
    bk_wr_fini(&w);
    bk_arena_fini(&a);
    free(line);
    free(bin);
    free(name);
    free(hex);
    return 0;
}
