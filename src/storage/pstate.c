/*
 * pstate.c - producer state of one partition (see pstate.h).
 */
#include "pstate.h"

#include "../core/buf.h"
#include "../core/crc32c.h"
#include "../core/vec.h"
#include "../proto/records.h"

#include <stdlib.h>
#include <string.h>

void bk_pstate_init(bk_pstate *ps)
{
    memset(ps, 0, sizeof *ps);
}

void bk_pstate_fini(bk_pstate *ps)
{
    free(ps->tab);
    free(ps->ong);
    free(ps->ab);
    free(ps->scratch);
    free(ps->snaps);
    memset(ps, 0, sizeof *ps);
}

void bk_pstate_clear(bk_pstate *ps)
{
    for (uint32_t i = 0; i < ps->cap; i++)
        ps->tab[i].pid = -1;
    ps->n = 0;
    ps->nong = 0;
}

int32_t bk_seq_add(int32_t seq, int32_t n)
{
    if (seq > INT32_MAX - n)
        return n - (INT32_MAX - seq) - 1;
    return seq + n;
}

static int32_t seq_sub(int32_t seq, int32_t n)
{
    if (seq < n)
        return INT32_MAX - (n - seq) + 1;
    return seq - n;
}

/* ------------------------------------------------------------- the map */

static uint32_t slot_of(const bk_pstate *ps, int64_t pid)
{
    return (uint32_t)(((uint64_t)pid * 0x9E3779B97F4A7C15ull) >> 32) & (ps->cap - 1);
}

static bk_pentry *find(const bk_pstate *ps, int64_t pid)
{
    if (!ps->cap)
        return NULL;
    for (uint32_t i = slot_of(ps, pid);; i = (i + 1) & (ps->cap - 1)) {
        bk_pentry *e = &ps->tab[i];
        if (e->pid == pid)
            return e;
        if (e->pid < 0)
            return NULL;
    }
}

const bk_pentry *bk_pstate_get(const bk_pstate *ps, int64_t pid)
{
    return pid < 0 ? NULL : find(ps, pid);
}

static int rehash(bk_pstate *ps, uint32_t ncap)
{
    bk_pentry *nt = malloc((size_t)ncap * sizeof *nt);
    if (!nt)
        return BK_ENOMEM;
    for (uint32_t i = 0; i < ncap; i++)
        nt[i].pid = -1;
    bk_pentry *old = ps->tab;
    uint32_t ocap = ps->cap;
    ps->tab = nt;
    ps->cap = ncap;
    for (uint32_t i = 0; i < ocap; i++) {
        if (old[i].pid < 0)
            continue;
        uint32_t j = slot_of(ps, old[i].pid);
        while (nt[j].pid >= 0)
            j = (j + 1) & (ncap - 1);
        nt[j] = old[i];
    }
    free(old);
    return 0;
}

int bk_pstate_reserve(bk_pstate *ps, int n)
{
    /* load factor at most 3/4 */
    uint32_t need = ps->n + (uint32_t)n;
    uint32_t cap = ps->cap ? ps->cap : 16;
    while ((uint64_t)need * 4 > (uint64_t)cap * 3)
        cap *= 2;
    if (cap != ps->cap && rehash(ps, cap))
        return BK_ENOMEM;
    while (ps->capong < ps->nong + n) {
        bk_ptxn *v = bk_vec_grow(ps->ong, ps->capong, &ps->capong, sizeof *v, 4);
        if (!v)
            return BK_ENOMEM;
        ps->ong = v;
    }
    while (ps->capab < ps->nab + n) {
        bk_abtxn *v = bk_vec_grow(ps->ab, ps->capab, &ps->capab, sizeof *v, 8);
        if (!v)
            return BK_ENOMEM;
        ps->ab = v;
    }
    return 0;
}

/* Entry for pid, inserted empty if absent (room reserved by the caller). */
static bk_pentry *get_or_add(bk_pstate *ps, int64_t pid)
{
    bk_pentry *e = find(ps, pid);
    if (e)
        return e;
    if (bk_pstate_reserve(ps, 1))
        return NULL;
    uint32_t i = slot_of(ps, pid);
    while (ps->tab[i].pid >= 0)
        i = (i + 1) & (ps->cap - 1);
    e = &ps->tab[i];
    memset(e, 0, sizeof *e);
    e->pid = pid;
    e->txn_first = -1;
    e->last_ts = -1;
    e->coord_epoch = -1;
    e->epoch = -1;
    ps->n++;
    return e;
}

/* Backward-shift deletion of slot i (linear probing). */
static void remove_slot(bk_pstate *ps, uint32_t i)
{
    uint32_t mask = ps->cap - 1, j = i;
    ps->tab[i].pid = -1;
    ps->n--;
    for (;;) {
        j = (j + 1) & mask;
        if (ps->tab[j].pid < 0)
            return;
        uint32_t home = slot_of(ps, ps->tab[j].pid);
        /* may the entry at j move to the hole at i? only if its home is
         * not cyclically in (i, j] */
        bool in_range = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (in_range)
            continue;
        ps->tab[i] = ps->tab[j];
        ps->tab[j].pid = -1;
        i = j;
    }
}

/* ------------------------------------------------- ongoing transactions */

static int ong_add(bk_pstate *ps, int64_t pid, int64_t first)
{
    bk_ptxn *v = bk_vec_grow(ps->ong, ps->nong, &ps->capong, sizeof *v, 4);
    if (!v)
        return BK_ENOMEM;
    ps->ong = v;
    int i = ps->nong;
    while (i > 0 && ps->ong[i - 1].first > first) {
        ps->ong[i] = ps->ong[i - 1];
        i--;
    }
    ps->ong[i] = (bk_ptxn){.first = first, .pid = pid};
    ps->nong++;
    return 0;
}

static void ong_remove(bk_pstate *ps, int64_t pid)
{
    for (int i = 0; i < ps->nong; i++) {
        if (ps->ong[i].pid == pid) {
            memmove(ps->ong + i, ps->ong + i + 1, (size_t)(ps->nong - i - 1) * sizeof *ps->ong);
            ps->nong--;
            return;
        }
    }
}

/* --------------------------------------------------- applying batches */

static void add_batch(bk_pentry *e, const bk_pbatch *b)
{
    if (e->nb == BK_PSTATE_NBATCH) {
        e->b[e->head] = *b;
        e->head = (uint8_t)((e->head + 1) % BK_PSTATE_NBATCH);
    } else {
        e->b[(e->head + e->nb) % BK_PSTATE_NBATCH] = *b;
        e->nb++;
    }
}

static const bk_pbatch *newest(const bk_pentry *e)
{
    return e->nb ? &e->b[(e->head + e->nb - 1) % BK_PSTATE_NBATCH] : NULL;
}

static void set_epoch(bk_pentry *e, int16_t epoch)
{
    /* Kafka's maybeUpdateProducerEpoch: any other epoch resets the window */
    if (e->epoch != epoch) {
        e->epoch = epoch;
        e->nb = e->head = 0;
    }
}

int bk_pstate_parse_marker(const uint8_t *batch, size_t size, int *type, int32_t *coord_epoch)
{
    if (size < BK_BATCH_HEADER_SIZE || bk_batch_compression(batch) != BK_COMPRESSION_NONE)
        return BK_ECORRUPT;
    bk_rec_iter it;
    bk_record r;
    bk_rec_iter_init(&it, batch + BK_BATCH_HEADER_SIZE, size - BK_BATCH_HEADER_SIZE, -1);
    if (!bk_rec_iter_next(&it, &r) || r.key_len < 4)
        return BK_ECORRUPT;
    int16_t t = (int16_t)bk_get_be16(r.key + 2);
    if (t != 0 && t != 1)
        return BK_ECORRUPT;
    *type = t;
    *coord_epoch = -1;
    if (r.value_len >= 6)
        *coord_epoch = (int32_t)bk_get_be32(r.value + 2);
    return 0;
}

int bk_pstate_apply(bk_pstate *ps, const uint8_t *hdr, int ctrl_type, int32_t coord_epoch,
                    bk_abtxn *ab)
{
    int64_t pid = bk_batch_producer_id(hdr);
    if (pid < 0)
        return 0;
    bk_pentry *e = get_or_add(ps, pid);
    if (!e)
        return BK_ENOMEM;
    int64_t base = bk_batch_base_offset(hdr);
    int64_t ts = bk_batch_max_timestamp(hdr);
    int16_t epoch = bk_batch_producer_epoch(hdr);
    if (bk_batch_is_control(hdr)) {
        /* Kafka's appendEndTxnMarker. Markers are not checked before they
         * are written (the coordinator is in this process), so a stale one
         * must not move the epoch back. */
        if (epoch > e->epoch)
            set_epoch(e, epoch);
        e->last_ts = ts;
        if (ctrl_type < 0)
            return 0;
        int64_t first = e->txn_first >= 0 ? e->txn_first : base;
        if (e->txn_first >= 0)
            ong_remove(ps, pid);
        e->txn_first = -1;
        e->coord_epoch = coord_epoch;
        if (ctrl_type != 0)
            return 0;
        ab->pid = pid;
        ab->first = first;
        ab->last = base;
        ab->lso = ps->nong ? ps->ong[0].first : base + 1;
        return 1;
    }
    set_epoch(e, epoch);
    int32_t seq = bk_batch_base_sequence(hdr);
    int32_t delta = bk_batch_last_offset_delta(hdr);
    bk_pbatch b = {.first_seq = seq,
                   .last_seq = seq < 0 ? seq : bk_seq_add(seq, delta),
                   .first_off = base,
                   .last_off = base + delta,
                   .ts = ts};
    add_batch(e, &b);
    e->last_ts = ts;
    if (bk_batch_is_transactional(hdr) && e->txn_first < 0) {
        if (ong_add(ps, pid, base))
            return BK_ENOMEM;
        e->txn_first = base;
    }
    return 0;
}

/* ------------------------------------------------ aborted transactions */

int bk_pstate_add_aborted(bk_pstate *ps, const bk_abtxn *ab)
{
    bk_abtxn *v = bk_vec_grow(ps->ab, ps->nab, &ps->capab, sizeof *v, 8);
    if (!v)
        return BK_ENOMEM;
    ps->ab = v;
    ps->ab[ps->nab++] = *ab;
    return 0;
}

void bk_pstate_drop_aborted_from(bk_pstate *ps, int64_t offset)
{
    while (ps->nab > 0 && ps->ab[ps->nab - 1].last >= offset)
        ps->nab--;
}

void bk_pstate_drop_aborted_below(bk_pstate *ps, int64_t offset)
{
    int k = 0;
    while (k < ps->nab && ps->ab[k].last < offset)
        k++;
    if (k) {
        memmove(ps->ab, ps->ab + k, (size_t)(ps->nab - k) * sizeof *ps->ab);
        ps->nab -= k;
    }
}

/* ---------------------------------------------------------- validation */

int16_t bk_pstate_check(const bk_pstate *ps, const uint8_t *hdr, int64_t *dup_first,
                        int64_t *dup_last, int64_t *dup_ts, const char **msg)
{
    *dup_first = -1;
    int64_t pid = bk_batch_producer_id(hdr);
    if (pid < 0)
        return BK_KERR_NONE;
    int16_t epoch = bk_batch_producer_epoch(hdr);
    int32_t seq = bk_batch_base_sequence(hdr);
    int32_t last_seq = bk_seq_add(seq, bk_batch_last_offset_delta(hdr));
    const bk_pentry *e = find(ps, pid);
    int16_t cur = e ? e->epoch : -1;
    if (e && epoch == cur) {
        for (int i = 0; i < e->nb; i++) {
            const bk_pbatch *b = &e->b[i];
            if (b->first_seq == seq && b->last_seq == last_seq) {
                *dup_first = b->first_off;
                *dup_last = b->last_off;
                *dup_ts = b->ts;
                return BK_KERR_NONE;
            }
        }
    }
    if (epoch < cur) {
        if (msg)
            *msg = "producer epoch is older than the current one";
        return BK_KERR_INVALID_PRODUCER_EPOCH;
    }
    if (epoch != cur) {
        if (seq != 0 && cur != -1) {
            if (msg)
                *msg = "invalid sequence number for a new producer epoch (must be 0)";
            return BK_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
        }
    } else if (cur != -1) {
        const bk_pbatch *nb = newest(e);
        int32_t lastseq = nb ? nb->last_seq : -1;
        bool in_seq = (int64_t)seq == (int64_t)lastseq + 1 || (seq == 0 && lastseq == INT32_MAX);
        if (!in_seq) {
            if (msg)
                *msg = "out of order sequence number";
            return BK_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
        }
    }
    if (e && e->txn_first >= 0 && !bk_batch_is_transactional(hdr)) {
        if (msg)
            *msg = "non-transactional batch while the producer has a transaction open";
        return BK_KERR_INVALID_TXN_STATE;
    }
    return BK_KERR_NONE;
}

int bk_pstate_expire(bk_pstate *ps, int64_t cutoff)
{
    int n = 0;
    for (uint32_t i = 0; i < ps->cap; i++) {
        /* a removal shifts a later entry into slot i: look at it again */
        while (ps->tab[i].pid >= 0 && ps->tab[i].txn_first < 0 && ps->tab[i].last_ts < cutoff) {
            remove_slot(ps, i);
            n++;
        }
    }
    return n;
}

/* ------------------------------------------------------------ snapshots */

int bk_pstate_encode(const bk_pstate *ps, uint8_t **out, size_t *len)
{
    size_t n = BK_SNAP_HDR + (size_t)ps->n * BK_SNAP_ESZ;
    uint8_t *p = malloc(n);
    if (!p)
        return BK_ENOMEM;
    bk_be16(p, 1);
    bk_be32(p + 6, ps->n);
    uint8_t *q = p + BK_SNAP_HDR;
    for (uint32_t i = 0; i < ps->cap; i++) {
        const bk_pentry *e = &ps->tab[i];
        if (e->pid < 0)
            continue;
        const bk_pbatch *b = newest(e);
        bk_be64(q, (uint64_t)e->pid);
        bk_be16(q + 8, (uint16_t)e->epoch);
        bk_be32(q + 10, (uint32_t)(b ? b->last_seq : -1));
        bk_be64(q + 14, (uint64_t)(b ? b->last_off : -1));
        bk_be32(q + 22, (uint32_t)(b ? (int32_t)(b->last_off - b->first_off) : 0));
        bk_be64(q + 26, (uint64_t)e->last_ts);
        bk_be32(q + 34, (uint32_t)e->coord_epoch);
        bk_be64(q + 38, (uint64_t)e->txn_first);
        q += BK_SNAP_ESZ;
    }
    bk_be32(p + 2, bk_crc32c(0, p + 6, n - 6));
    *out = p;
    *len = n;
    return 0;
}

static int cmp_txn(const void *a, const void *b)
{
    int64_t x = ((const bk_ptxn *)a)->first, y = ((const bk_ptxn *)b)->first;
    return x < y ? -1 : x > y;
}

int bk_pstate_decode(bk_pstate *ps, const uint8_t *p, size_t len)
{
    bk_pstate_clear(ps);
    if (len < BK_SNAP_HDR || bk_get_be16(p) != 1)
        return BK_ECORRUPT;
    uint32_t cnt = bk_get_be32(p + 6);
    if ((len - BK_SNAP_HDR) % BK_SNAP_ESZ || (len - BK_SNAP_HDR) / BK_SNAP_ESZ != cnt)
        return BK_ECORRUPT;
    if (bk_crc32c(0, p + 6, len - 6) != bk_get_be32(p + 2))
        return BK_ECORRUPT;
    if (cnt > INT32_MAX / 2 || bk_pstate_reserve(ps, (int)cnt))
        return BK_ENOMEM;
    const uint8_t *q = p + BK_SNAP_HDR;
    for (uint32_t i = 0; i < cnt; i++, q += BK_SNAP_ESZ) {
        int64_t pid = (int64_t)bk_get_be64(q);
        if (pid < 0)
            continue;
        bk_pentry *e = get_or_add(ps, pid);
        if (!e)
            return BK_ENOMEM;
        e->epoch = (int16_t)bk_get_be16(q + 8);
        int32_t lseq = (int32_t)bk_get_be32(q + 10);
        int64_t loff = (int64_t)bk_get_be64(q + 14);
        int32_t delta = (int32_t)bk_get_be32(q + 22);
        e->last_ts = (int64_t)bk_get_be64(q + 26);
        e->coord_epoch = (int32_t)bk_get_be32(q + 34);
        int64_t tf = (int64_t)bk_get_be64(q + 38);
        e->nb = e->head = 0;
        if (loff >= 0 && delta >= 0) {
            bk_pbatch b = {.first_seq = lseq < 0 ? lseq : seq_sub(lseq, delta),
                           .last_seq = lseq,
                           .first_off = loff - delta,
                           .last_off = loff,
                           .ts = e->last_ts};
            add_batch(e, &b);
        }
        e->txn_first = -1;
        if (tf >= 0) {
            e->txn_first = tf;
            ps->ong[ps->nong++] = (bk_ptxn){.first = tf, .pid = pid};
        }
    }
    if (ps->nong > 1)
        qsort(ps->ong, (size_t)ps->nong, sizeof *ps->ong, cmp_txn);
    return 0;
}

int bk_pstate_snap_add(bk_pstate *ps, int64_t off)
{
    int i = ps->nsnaps;
    for (int k = 0; k < ps->nsnaps; k++)
        if (ps->snaps[k] == off)
            return 0;
    int64_t *v = bk_vec_grow(ps->snaps, ps->nsnaps, &ps->capsnaps, sizeof *v, 4);
    if (!v)
        return BK_ENOMEM;
    ps->snaps = v;
    while (i > 0 && ps->snaps[i - 1] > off) {
        ps->snaps[i] = ps->snaps[i - 1];
        i--;
    }
    ps->snaps[i] = off;
    ps->nsnaps++;
    return 0;
}

void bk_pstate_snap_remove(bk_pstate *ps, int64_t off)
{
    for (int k = 0; k < ps->nsnaps; k++) {
        if (ps->snaps[k] == off) {
            memmove(ps->snaps + k, ps->snaps + k + 1,
                    (size_t)(ps->nsnaps - k - 1) * sizeof *ps->snaps);
            ps->nsnaps--;
            return;
        }
    }
}
