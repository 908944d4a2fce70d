/*
 * mkcorpus - write the seed corpora: for every api key and every version in
 * the definitions, one populated request frame body (header + body) into
 * fuzz/corpus/request/ and one response (key, version, body) into
 * fuzz/corpus/response/. Deterministic; rerun with `make fuzz-corpus`.
 */
#include "../src/proto/bkgen_msgs.h"
#include "../tests/populate.h"

#include <stdio.h>
#include <stdlib.h>

static void put(const char *dir, const char *name, int16_t v, const char *kind, const bk_wr *w)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s-v%d-%s", dir, name, v, kind);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(w->buf, 1, w->len, f) != w->len) {
        perror(path);
        exit(1);
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: mkcorpus REQUEST_DIR RESPONSE_DIR\n");
        return 2;
    }
    bk_arena a;
    bk_arena_init(&a, 0);
    bk_wr w;
    bk_wr_init(&w, 4096);
    for (int i = 0; i < bk_apidefs_count; i++) {
        const bk_apidef *d = &bk_apidefs[i];
        for (int16_t v = d->req->valid.lo; v <= d->req->valid.hi; v++) {
            void *m = calloc(1, d->req->desc->size);
            bk_pop_seed((uint64_t)d->key * 1000 + (uint64_t)v);
            bk_arena_reset(&a);
            bk_pop_struct(d->req->desc, v, &a, m);
            bk_wr_reset(&w);
            int16_t hv = bk_reqhdr_version(d->key, v);
            bk_wr_i16(&w, d->key);
            bk_wr_i16(&w, v);
            bk_wr_i32(&w, 1000 + v);
            if (hv >= 1) {
                bk_wr_i16(&w, 5);
                bk_wr_mem(&w, "fuzzr", 5);
            }
            if (hv >= 2)
                bk_wr_uvarint(&w, 0);
            if (bk_codec_encode(d->req->desc, BK_V_IN(d->req->flexible, v), v, &w, m) != 0)
                return 1;
            put(argv[1], d->name, v, "req", &w);
            free(m);

            m = calloc(1, d->resp->desc->size);
            bk_arena_reset(&a);
            bk_pop_struct(d->resp->desc, v, &a, m);
            bk_wr_reset(&w);
            bk_wr_i16(&w, d->key);
            bk_wr_i16(&w, v);
            if (bk_codec_encode(d->resp->desc, BK_V_IN(d->resp->flexible, v), v, &w, m) != 0)
                return 1;
            put(argv[2], d->name, v, "resp", &w);
            free(m);
        }
    }
    bk_wr_fini(&w);
    bk_arena_fini(&a);
    return 0;
}
