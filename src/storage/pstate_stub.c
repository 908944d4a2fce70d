/* pstate_stub.c - TEMPORARY: stand-ins for the producer-state API of
 * plog.h until the real implementation lands (delete this file then). */
#include "plog.h"

int16_t bk_plog_check_batch(bk_plog *l, const uint8_t *batch, size_t len, bk_pdup *dup,
                            const char **msg)
{
    dup->first_offset = -1;
    return 0;
}
int64_t bk_plog_lso(const bk_plog *l) { return l->hw; }
int bk_plog_aborted(bk_plog *l, int64_t from, int64_t upto,
                    void (*fn)(void *ud, int64_t producer_id, int64_t first_offset), void *ud)
{
    return 0;
}
int bk_plog_append_marker(bk_plog *l, int64_t pid, int16_t epoch, int32_t coord_epoch,
                          bool commit, int32_t leader_epoch, int64_t now_ms, int64_t *offset)
{
    *offset = -1;
    return BK_EIO;
}
bool bk_plog_txn_open(const bk_plog *l, int64_t pid) { return false; }
int bk_plog_expire_producers(bk_plog *l, int64_t now_ms, int64_t expiration_ms) { return 0; }
int bk_plog_snapshot(bk_plog *l) { return 0; }
int bk_plog_nproducers(const bk_plog *l) { return 0; }
