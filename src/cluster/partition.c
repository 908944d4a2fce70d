/* partition.c - follower state, HW and ISR rules. See partition.h. */
#include "partition.h"

#include <stdlib.h>
#include <string.h>

int bk_part_reset_followers(bk_partition *p, int32_t self, int64_t leader_leo, int64_t now_ms)
{
    free(p->rstate);
    p->rstate = NULL;
    p->nrstate = 0;
    if (p->nreplicas <= 1)
        return 0;
    p->rstate = calloc((size_t)p->nreplicas, sizeof *p->rstate);
    if (!p->rstate)
        return BK_ENOMEM;
    for (int32_t i = 0; i < p->nreplicas; i++) {
        int32_t id = p->replicas[i];
        if (id == self)
            continue;
        bool in_sync = bk_ids_has(p->isr, p->nisr, id);
        bk_replica_state *r = &p->rstate[p->nrstate++];
        r->id = id;
        r->leo = -1;
        r->last_caught_up_ms = in_sync ? now_ms : 0;
        r->last_fetch_ms = in_sync ? now_ms : 0;
        r->last_fetch_leader_leo = in_sync ? leader_leo : -1;
    }
    return 0;
}

bk_replica_state *bk_part_follower(bk_partition *p, int32_t id)
{
    for (int32_t i = 0; i < p->nrstate; i++)
        if (p->rstate[i].id == id)
            return &p->rstate[i];
    return NULL;
}

bool bk_part_follower_fetched(bk_partition *p, int32_t id, int64_t fetch_offset,
                              int64_t leader_leo, int64_t now_ms)
{
    bk_replica_state *r = bk_part_follower(p, id);
    if (!r)
        return false;
    if (fetch_offset >= leader_leo)
        r->last_caught_up_ms = BK_MAX(r->last_caught_up_ms, now_ms);
    else if (r->last_fetch_leader_leo >= 0 && fetch_offset >= r->last_fetch_leader_leo)
        r->last_caught_up_ms = BK_MAX(r->last_caught_up_ms, r->last_fetch_ms);
    r->leo = fetch_offset;
    r->last_fetch_leader_leo = leader_leo;
    r->last_fetch_ms = now_ms;
    return true;
}

int64_t bk_part_hw_candidate(const bk_partition *p, int32_t self, int64_t leader_leo)
{
    int64_t hw = leader_leo;
    for (int32_t i = 0; i < p->nisr; i++) {
        int32_t id = p->isr[i];
        if (id == self)
            continue;
        const bk_replica_state *r = bk_part_follower((bk_partition *)p, id);
        if (!r || r->leo < 0)
            return -1;
        hw = BK_MIN(hw, r->leo);
    }
    return hw;
}

bool bk_part_isr_eligible(const bk_partition *p, int32_t id, int64_t hw, int64_t epoch_start)
{
    if (bk_ids_has(p->isr, p->nisr, id) || !bk_ids_has(p->replicas, p->nreplicas, id) ||
        bk_ids_has(p->removing, p->nremoving, id))
        return false;
    const bk_replica_state *r = bk_part_follower((bk_partition *)p, id);
    return r && r->leo >= 0 && r->leo >= hw && r->leo >= epoch_start;
}

int32_t bk_part_isr_after_shrink(const bk_partition *p, int32_t self, int64_t now_ms,
                                 int64_t lag_ms, int32_t *out)
{
    int32_t n = 0;
    for (int32_t i = 0; i < p->nisr; i++) {
        int32_t id = p->isr[i];
        const bk_replica_state *r = id == self ? NULL : bk_part_follower((bk_partition *)p, id);
        if (id != self && r && now_ms - r->last_caught_up_ms > lag_ms)
            continue;
        out[n++] = id;
    }
    return n;
}
