/* coord_txn_stub.c - TEMPORARY: stand-ins for the transactional-offset API
 * of coord.h until the real implementation lands (delete this file then). */
#include "coord.h"

int16_t bk_coord_txn_commit(bk_coord *co, const char *group, size_t glen, int64_t pid,
                            int16_t epoch, int32_t generation, const char *member, size_t mlen,
                            const char *instance, size_t ilen, bk_commit_part *parts, int n)
{
    return BK_KERR_UNKNOWN_SERVER_ERROR;
}
void bk_coord_txn_marker(bk_coord *co, int32_t partition, int64_t pid, bool commit) {}
bool bk_coord_offset_pending(bk_coord *co, const char *group, size_t glen, const char *topic,
                             size_t tlen, int32_t partition)
{
    return false;
}
