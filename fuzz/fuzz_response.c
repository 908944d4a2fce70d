/*
 * fuzz_response - libFuzzer target over response bodies (what the broker
 * decodes as a client: a follower's Fetch responses, controller replies).
 * Input: int16 api key, int16 version, then the body.
 */
#include "../src/proto/bkgen_msgs.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bk_rd rd;
    bk_rd_init(&rd, data, size);
    int16_t key = bk_rd_i16(&rd), ver = bk_rd_i16(&rd);
    const bk_apidef *def = bk_apidef_get(key);
    if (rd.err || !def)
        return 0;
    const bk_msginfo *mi = def->resp;
    bool flex = BK_V_IN(mi->flexible, ver);
    bk_arena a;
    bk_arena_init(&a, 4 * size + 65536);
    void *m = calloc(1, mi->desc->size);
    if (bk_codec_decode(mi->desc, flex, ver, &rd, &a, m) == 0) {
        bk_wr w;
        bk_wr_init(&w, 256);
        if (bk_codec_encode(mi->desc, flex, ver, &w, m) != 0 ||
            bk_codec_size(mi->desc, flex, ver, m) != w.len)
            abort();
        bk_wr_fini(&w);
    }
    free(m);
    bk_arena_fini(&a);
    return 0;
}
