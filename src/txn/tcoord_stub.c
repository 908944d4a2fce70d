/* tcoord_stub.c - TEMPORARY: stand-ins for tcoord.h until the real
 * transaction coordinator lands (delete this file then). */
#include "tcoord.h"

bk_tcoord *bk_tcoord_new(const bk_config *cfg, bk_topics *topics, const char *meta_dir,
                         const bk_tcoord_hooks *hooks)
{
    return NULL;
}
void bk_tcoord_free(bk_tcoord *tc) {}
int bk_tcoord_load(bk_tcoord *tc) { return 0; }
void bk_tcoord_tick(bk_tcoord *tc, int64_t now_ms) {}
int16_t bk_tcoord_verify(bk_tcoord *tc, int64_t pid, int16_t epoch, const char *topic,
                         size_t tlen, int32_t partition)
{
    return BK_KERR_INVALID_TXN_STATE;
}
