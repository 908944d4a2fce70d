/* leader_epoch.c - leader-epoch history lookups. See leader_epoch.h. */
#include "leader_epoch.h"

void bk_epochs_end_offset_for(const bk_epoch_entry *e, int n, int32_t requested, int64_t leo,
                              int32_t *epoch, int64_t *end_offset)
{
    *epoch = BK_UNDEFINED_EPOCH;
    *end_offset = BK_UNDEFINED_EPOCH_OFFSET;
    if (requested == BK_UNDEFINED_EPOCH || n == 0)
        return;
    if (requested == e[n - 1].epoch) {
        *epoch = requested;
        *end_offset = leo;
        return;
    }
    /* higher = first entry with epoch > requested */
    int hi = 0;
    while (hi < n && e[hi].epoch <= requested)
        hi++;
    if (hi == n)
        return; /* above the latest epoch: undefined */
    if (hi == 0) {
        /* older than anything we know: it ended where our history starts */
        *epoch = requested;
        *end_offset = e[0].start_offset;
        return;
    }
    *epoch = e[hi - 1].epoch;
    *end_offset = e[hi].start_offset;
}

int32_t bk_epochs_epoch_for_offset(const bk_epoch_entry *e, int n, int64_t offset)
{
    int32_t ep = BK_UNDEFINED_EPOCH;
    for (int i = 0; i < n && e[i].start_offset <= offset; i++)
        ep = e[i].epoch;
    return ep;
}
