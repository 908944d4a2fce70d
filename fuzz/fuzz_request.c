/*
 * fuzz_request - libFuzzer target over what a client sends: one request
 * frame (without its 4-byte size prefix), header and body, for every api
 * key and version, through the same calls the broker makes.
 *
 * Beyond "no crash, no sanitizer report", it checks the codec's own
 * contract: a body that decodes must encode again (size() equal to the
 * bytes written), and decode(encode(x)) must encode to the same bytes.
 * The arena has the broker's kind of limit, so allocation stays bounded.
 */
#include "../src/proto/bkgen_msgs.h"

#include <stdlib.h>

static void roundtrip(const bk_msginfo *mi, int16_t ver, bk_rd *rd, bk_arena *a)
{
    bool flex = BK_V_IN(mi->flexible, ver);
    void *m = calloc(1, mi->desc->size), *m2 = calloc(1, mi->desc->size);
    if (bk_codec_decode(mi->desc, flex, ver, rd, a, m) == 0) {
        bk_wr w1, w2;
        bk_wr_init(&w1, 256);
        bk_wr_init(&w2, 256);
        int r = bk_codec_encode(mi->desc, flex, ver, &w1, m);
        if (r != 0 || bk_codec_size(mi->desc, flex, ver, m) != w1.len)
            abort();
        bk_rd rd2;
        bk_rd_init(&rd2, w1.buf, w1.len);
        if (bk_codec_decode(mi->desc, flex, ver, &rd2, a, m2) != 0 || bk_rd_left(&rd2) != 0)
            abort();
        if (bk_codec_encode(mi->desc, flex, ver, &w2, m2) != 0 || w1.len != w2.len ||
            memcmp(w1.buf, w2.buf, w1.len) != 0)
            abort();
        bk_wr_fini(&w1);
        bk_wr_fini(&w2);
    }
    free(m);
    free(m2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bk_rd rd;
    bk_rd_init(&rd, data, size);
    bk_reqhdr h;
    if (bk_reqhdr_decode(&rd, &h) != 0)
        return 0;
    const bk_apidef *def = bk_apidef_get(h.api_key);
    if (!def)
        return 0;
    bk_arena a;
    bk_arena_init(&a, 4 * size + 65536);
    roundtrip(def->req, h.api_version, &rd, &a);
    bk_arena_fini(&a);
    return 0;
}
