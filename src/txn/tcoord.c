/*
 * tcoord.c - the transaction coordinator. See tcoord.h.
 *
 * 1. States (Kafka's TransactionState; the numbers are the log's byte ids)
 *
 *   Empty(0) --AddPartitions--> Ongoing(1) --EndTxn(commit)--> PrepareCommit(2)
 *                                   |                                |
 *                                   | EndTxn(abort), or a fence:     | markers
 *                                   | timeout / InitProducerId       v
 *                                   v                          CompleteCommit(4)
 *                             PrepareAbort(3) --markers--> CompleteAbort(5)
 *
 *   InitProducerId: a new id starts Empty at epoch 0; Empty and Complete*
 *   go to Empty with epoch + 1 (a new producer id at epoch 0 once the epoch
 *   reaches 32766); Ongoing is fenced and aborted first; Prepare* answers
 *   CONCURRENT_TRANSACTIONS until its markers are written.
 *   AddPartitions on Complete* starts the next transaction (Ongoing).
 *   Empty and Complete* idle for transactional.id.expiration.ms become
 *   Dead(6): a tombstone is written and the id is forgotten.
 *   PrepareEpochFence(7) is Kafka's in-memory mark of a fencing abort; here
 *   the fence is part of the Ongoing -> PrepareAbort transition (epoch + 1).
 *
 *   transition                          function
 *   ----------------------------------  ---------------------------------
 *   new id -> Empty; Empty, Complete*   bk_tcoord_init_pid (bump_epoch, or
 *     -> Empty (epoch bump)               a new pid when exhausted)
 *   Empty, Complete*, Ongoing           bk_tcoord_add_partitions
 *     -> Ongoing
 *   Ongoing -> Prepare*                 end_ongoing -> prepare_end
 *   Prepare* -> Complete*               complete (markers first)
 *   Ongoing -> PrepareAbort, fenced     end_ongoing(fence): InitProducerId
 *                                         on an open txn; timeout in tick
 *   Empty, Complete* -> Dead, removed   bk_tcoord_tick (expiry)
 *
 * Every transition is computed into a new tmeta (Kafka's
 * TxnTransitMetadata), written to __transaction_state, and only applied to
 * memory once the write succeeded: memory never runs ahead of the log.
 *
 * 2. Records in __transaction_state (Kafka's TransactionLog; non-flexible,
 *    big-endian), in partition bk_group_partition(transactional id, number
 *    of partitions of the topic):
 *
 *   key v0        OFFSET  SIZE  FIELD
 *                 0       2     version = 0
 *                 2       2+n   TransactionalId STRING (int16 length n)
 *
 *   value v0      OFFSET  SIZE  FIELD
 *                 0       2     version = 0
 *                 2       8     ProducerId
 *                 10      2     ProducerEpoch
 *                 12      4     TransactionTimeoutMs
 *                 16      1     TransactionStatus (the state byte ids above)
 *                 17      4     partition count by topic: -1 (null) when
 *                               Empty, else T, then T times
 *                                 {Topic STRING, int32 N, N x int32 partition}
 *                 ...     8     TransactionLastUpdateTimestampMs
 *                 ...     8     TransactionStartTimestampMs (-1: none)
 *
 *   null value: the id expired (tombstone). Value v1 (flexible, written by
 *   Kafka 4 with transaction.version 2) is skipped when loading.
 *
 * Loading replays every partition: the last value per id wins, a
 * tombstone deletes. Prepare* transactions are finished (every marker
 * written again - a repeated marker is harmless, Kafka resends them the
 * same way - then Complete*); Ongoing
 * ones are kept and time out. The previous producer id/epoch (KIP-360
 * retries) are not in the v0 value and are lost over a restart, as in
 * Kafka with an old inter.broker.protocol.version.
 *
 * 3. Single node and cluster. Markers go through hooks->write_marker: the
 *    broker appends them to its local partitions (bk_broker_write_marker);
 *    in cluster mode the hook also sends WriteTxnMarkers to the leaders
 *    of the other partitions and answers BK_TXN_MARKER_PENDING; the result
 *    comes back through bk_tcoord_marker_done. Single node, completion is
 *    synchronous: a request that ends a transaction writes Prepare*, every
 *    marker, and Complete* before it answers. Cluster mode, EndTxn answers
 *    once Prepare* is written (its handler then waits for the high
 *    watermark) and Complete* is written when the last marker is reported
 *    durable; markers are not sent before Prepare* is replicated (a
 *    coordinator elected after a failure must know of every transaction
 *    that has markers out). A marker that cannot be written leaves the
 *    transaction in Prepare* (EndTxn answers COORDINATOR_NOT_AVAILABLE
 *    when that happens at once, later requests CONCURRENT_TRANSACTIONS)
 *    and tick retries forever, as Kafka's marker channel does; a partition
 *    that no longer exists (UNKNOWN_TOPIC_OR_PARTITION) counts as done.
 *    The coordinator epoch in markers is the leader epoch of the id's
 *    __transaction_state partition.
 *
 *    Producer ids come in blocks of BK_PID_BLOCK_SIZE from a bk_pidstore
 *    (cluster/metastore.h): a file in the meta dir here, ZooKeeper's
 *    /latest_producer_id_block later. After loading, allocation also stays
 *    above every producer id seen in the log.
 *
 * Thread: loop thread.
 */
#include "tcoord.h"

#include "../cluster/metastore.h"
#include "../core/clock.h"
#include "../core/log.h"
#include "../core/vec.h"
#include "../group/coord.h"
#include "../proto/records.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RETRY_MS          1000  /* marker retries from tick */
#define MARKER_RETRY_MS   250   /* after a marker failed (leader moved, connection lost) */
#define EPOCH_EXHAUSTED   32766 /* Short.MaxValue - 1 */
#define NO_PRODUCER_ID    (-1)
#define NO_PRODUCER_EPOCH (-1)

typedef struct tmeta {
    int state;
    int64_t pid;
    int64_t last_pid; /* memory only */
    int16_t epoch;
    int16_t last_epoch; /* memory only */
    int32_t timeout_ms;
    bk_txn_part *parts; /* owned */
    int nparts, capparts;
    int64_t start_ts; /* wall ms, -1 = none */
    int64_t update_ts;
} tmeta;

typedef struct txn {
    char *id; /* owned, NUL-terminated */
    size_t len;
    tmeta m;
    int idx;                /* in tc->all */
    struct txn *hid, *hpid; /* hash chains */
    int64_t retry_at;       /* Prepare*: next marker retry from tick (monotonic) */
    bool durable_wait;      /* Prepare*: not replicated yet (tick looks every time) */
    int32_t stored_idx;     /* the last record written for it (memory only): */
    int64_t stored_off;     /*   partition and offset, -1 = none */
} txn;

struct bk_tcoord {
    const bk_config *cfg;
    bk_topics *topics;
    bk_tcoord_hooks hooks;
    /* producer ids */
    bk_pidstore *store; /* owned; NULL: none can be handed out */
    bk_pid_block blk;
    bool have_blk;
    int64_t next_pid;
    int64_t pid_floor; /* never hand out ids below (seen in the log) */
    /* transactional ids */
    txn **all;
    int n, cap;
    txn **by_id, **by_pid;
    size_t nb; /* buckets, a power of two */
    /* scratch for log writes */
    bk_wr out, k, v;
    int32_t last_idx; /* where store() wrote last */
    int64_t last_off;
    /* timers */
    bool ticked;
    int64_t next_abort, next_expire;
    int64_t (*clock)(void *ud);
    void *clock_ud;
    bool cluster; /* other brokers coordinate other ids */
    /* loading (cluster mode): the offset of the record being replayed,
     * kept as the id's last write, so that a Prepare* found beyond the
     * high watermark sends no marker before it is replicated */
    bool load_track;
    int32_t load_idx;
    int64_t load_off;
};

/* ------------------------------------------------------------ helpers */

static const char *state_names[] = {"Empty",        "Ongoing",          "PrepareCommit",
                                    "PrepareAbort", "CompleteCommit",   "CompleteAbort",
                                    "Dead",         "PrepareEpochFence"};

const char *bk_txn_state_name(int state)
{
    return state >= 0 && state <= BK_TXN_PREPARE_EPOCH_FENCE ? state_names[state] : "Unknown";
}

int bk_txn_state_parse(const char *name, size_t len)
{
    for (int i = 0; i <= BK_TXN_PREPARE_EPOCH_FENCE; i++)
        if (strlen(state_names[i]) == len && memcmp(state_names[i], name, len) == 0)
            return i;
    return -1;
}

static int64_t wall_ms(const bk_tcoord *tc)
{
    return tc->clock ? tc->clock(tc->clock_ud) : bk_wall_ms();
}

int64_t bk_tcoord_wall_ms(const bk_tcoord *tc)
{
    return wall_ms(tc);
}

void bk_tcoord_set_clock(bk_tcoord *tc, int64_t (*fn)(void *ud), void *ud)
{
    tc->clock = fn;
    tc->clock_ud = ud;
}

static bool exhausted(int16_t epoch)
{
    return epoch >= EPOCH_EXHAUSTED;
}

static bool is_prepare(int st)
{
    return st == BK_TXN_PREPARE_COMMIT || st == BK_TXN_PREPARE_ABORT;
}

static bool is_idle(int st)
{
    return st == BK_TXN_EMPTY || st == BK_TXN_COMPLETE_COMMIT || st == BK_TXN_COMPLETE_ABORT;
}

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ULL;
    return h;
}

static uint64_t hash_pid(int64_t pid)
{
    uint64_t x = (uint64_t)pid;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

/* ------------------------------------------------------------ metadata */

static void meta_clear_parts(tmeta *m)
{
    for (int i = 0; i < m->nparts; i++)
        free(m->parts[i].topic);
    free(m->parts);
    m->parts = NULL;
    m->nparts = m->capparts = 0;
}

static bool meta_has_part(const tmeta *m, const char *topic, size_t tlen, int32_t partition)
{
    for (int i = 0; i < m->nparts; i++)
        if (m->parts[i].partition == partition && strlen(m->parts[i].topic) == tlen &&
            memcmp(m->parts[i].topic, topic, tlen) == 0)
            return true;
    return false;
}

/* Append without checking for a duplicate (loading our own records). */
static int meta_push_part(tmeta *m, const char *topic, size_t tlen, int32_t partition, bool marked)
{
    bk_txn_part *np = bk_vec_grow(m->parts, m->nparts, &m->capparts, sizeof *np, 4);
    if (!np)
        return BK_ENOMEM;
    m->parts = np;
    char *t = malloc(tlen + 1);
    if (!t)
        return BK_ENOMEM;
    memcpy(t, topic, tlen);
    t[tlen] = 0;
    m->parts[m->nparts++] = (bk_txn_part){t, partition, marked};
    return 0;
}

static int meta_add_part(tmeta *m, const char *topic, size_t tlen, int32_t partition, bool marked)
{
    if (meta_has_part(m, topic, tlen, partition))
        return 0;
    return meta_push_part(m, topic, tlen, partition, marked);
}

/* A deep copy of src (partitions included). */
static int meta_copy(tmeta *dst, const tmeta *src)
{
    *dst = *src;
    dst->parts = NULL;
    dst->nparts = dst->capparts = 0;
    for (int i = 0; i < src->nparts; i++)
        if (meta_push_part(dst, src->parts[i].topic, strlen(src->parts[i].topic),
                           src->parts[i].partition, src->parts[i].marked) != 0) {
            meta_clear_parts(dst);
            return BK_ENOMEM;
        }
    return 0;
}

/* src without its partitions (Empty and Complete* have none). */
static tmeta meta_bare(const tmeta *src)
{
    tmeta m = *src;
    m.parts = NULL;
    m.nparts = m.capparts = 0;
    return m;
}

/* ------------------------------------------------------------ the id table */

static txn *find_id(const bk_tcoord *tc, const char *id, size_t len)
{
    for (txn *t = tc->by_id[hash_bytes(id, len) & (tc->nb - 1)]; t; t = t->hid)
        if (t->len == len && memcmp(t->id, id, len) == 0)
            return t;
    return NULL;
}

static txn *find_pid(const bk_tcoord *tc, int64_t pid)
{
    for (txn *t = tc->by_pid[hash_pid(pid) & (tc->nb - 1)]; t; t = t->hpid)
        if (t->m.pid == pid)
            return t;
    return NULL;
}

static void link_id(bk_tcoord *tc, txn *t)
{
    txn **b = &tc->by_id[hash_bytes(t->id, t->len) & (tc->nb - 1)];
    t->hid = *b;
    *b = t;
}

static void link_pid(bk_tcoord *tc, txn *t)
{
    txn **b = &tc->by_pid[hash_pid(t->m.pid) & (tc->nb - 1)];
    t->hpid = *b;
    *b = t;
}

static void unlink_id(bk_tcoord *tc, txn *t)
{
    for (txn **pp = &tc->by_id[hash_bytes(t->id, t->len) & (tc->nb - 1)]; *pp; pp = &(*pp)->hid)
        if (*pp == t) {
            *pp = t->hid;
            return;
        }
}

static void unlink_pid(bk_tcoord *tc, txn *t)
{
    for (txn **pp = &tc->by_pid[hash_pid(t->m.pid) & (tc->nb - 1)]; *pp; pp = &(*pp)->hpid)
        if (*pp == t) {
            *pp = t->hpid;
            return;
        }
}

static int rehash(bk_tcoord *tc, size_t nb)
{
    txn **bi = calloc(nb, sizeof *bi), **bp = calloc(nb, sizeof *bp);
    if (!bi || !bp) {
        free(bi);
        free(bp);
        return BK_ENOMEM;
    }
    free(tc->by_id);
    free(tc->by_pid);
    tc->by_id = bi;
    tc->by_pid = bp;
    tc->nb = nb;
    for (int i = 0; i < tc->n; i++) {
        link_id(tc, tc->all[i]);
        link_pid(tc, tc->all[i]);
    }
    return 0;
}

static txn *txn_add(bk_tcoord *tc, const char *id, size_t len)
{
    if ((size_t)tc->n + 1 > tc->nb && rehash(tc, tc->nb * 2) != 0)
        return NULL;
    txn **na = bk_vec_grow(tc->all, tc->n, &tc->cap, sizeof *na, 16);
    if (!na)
        return NULL;
    tc->all = na;
    txn *t = calloc(1, sizeof *t);
    if (!t || !(t->id = malloc(len + 1))) {
        free(t);
        return NULL;
    }
    memcpy(t->id, id, len);
    t->id[len] = 0;
    t->len = len;
    t->m.state = BK_TXN_EMPTY;
    t->m.pid = t->m.last_pid = NO_PRODUCER_ID;
    t->m.epoch = t->m.last_epoch = NO_PRODUCER_EPOCH;
    t->m.start_ts = -1;
    t->stored_off = -1;
    t->idx = tc->n;
    tc->all[tc->n++] = t;
    link_id(tc, t);
    link_pid(tc, t);
    return t;
}

static void txn_remove(bk_tcoord *tc, txn *t)
{
    unlink_id(tc, t);
    unlink_pid(tc, t);
    int i = t->idx;
    tc->all[i] = tc->all[--tc->n];
    tc->all[i]->idx = i;
    meta_clear_parts(&t->m);
    free(t->id);
    free(t);
}

/* Replace t's metadata by m (moved: m's partitions now belong to t). */
static void set_meta(bk_tcoord *tc, txn *t, tmeta *m)
{
    bool moved = m->pid != t->m.pid;
    if (moved)
        unlink_pid(tc, t);
    meta_clear_parts(&t->m);
    t->m = *m;
    if (moved)
        link_pid(tc, t);
    m->parts = NULL;
    m->nparts = m->capparts = 0;
}

/* ------------------------------------------------------------ producer ids */

static void pid_seen(bk_tcoord *tc, int64_t pid)
{
    if (pid >= 0 && pid < INT64_MAX && pid + 1 > tc->pid_floor)
        tc->pid_floor = pid + 1;
}

static int16_t next_pid(bk_tcoord *tc, int64_t *out)
{
    if (tc->next_pid < tc->pid_floor)
        tc->next_pid = tc->pid_floor;
    if (!tc->have_blk || tc->next_pid > tc->blk.end) {
        if (!tc->store)
            return BK_KERR_COORDINATOR_NOT_AVAILABLE;
        bk_pid_block b;
        int r = tc->store->ops->claim(tc->store, tc->next_pid, &b);
        if (r != 0) {
            bk_log_rl(BK_LOG_ERROR, "cannot claim a block of producer ids: %s", bk_strerror(r));
            return BK_KERR_COORDINATOR_NOT_AVAILABLE;
        }
        bk_log(BK_LOG_INFO, "claimed producer ids %lld-%lld", (long long)b.start, (long long)b.end);
        tc->blk = b;
        tc->have_blk = true;
        if (tc->next_pid < b.start)
            tc->next_pid = b.start;
    }
    *out = tc->next_pid++;
    return BK_KERR_NONE;
}

/* ------------------------------------------------------------ log writes */

int bk_tcoord_ensure_topic(bk_tcoord *tc, int16_t *kerr)
{
    *kerr = BK_KERR_NONE;
    if (!tc || !tc->topics) {
        *kerr = BK_KERR_COORDINATOR_NOT_AVAILABLE;
        return BK_ENOENT;
    }
    if (bk_topics_get(tc->topics, BK_TXN_TOPIC, strlen(BK_TXN_TOPIC)))
        return 0;
    /* A replication factor above the number of (live) brokers could never
     * be met: min(transaction.state.log.replication.factor, live brokers),
     * 1 on a single node. Kafka creates the topic with these overrides
     * (TransactionLog's transactionTopicConfigs). */
    int16_t rf = (int16_t)tc->cfg->transaction_state_log_replication_factor;
    int32_t maxrf = bk_topics_cluster(tc->topics) ? bk_topics_max_rf(tc->topics) : 1;
    if (rf > maxrf) {
        bk_log(BK_LOG_WARN,
               "transaction.state.log.replication.factor=%d exceeds the %d live broker(s); "
               "creating %s with replication factor %d",
               rf, maxrf, BK_TXN_TOPIC, maxrf);
        rf = (int16_t)maxrf;
    }
    char segb[16];
    snprintf(segb, sizeof segb, "%d", (int)tc->cfg->transaction_state_log_segment_bytes);
    bk_kv kv[] = {{"cleanup.policy", "compact"},
                  {"compression.type", "uncompressed"},
                  {"min.insync.replicas", "1"},
                  {"segment.bytes", segb},
                  {"unclean.leader.election.enable", "false"}};
    char msg[256];
    int r = bk_topics_create(tc->topics, BK_TXN_TOPIC, strlen(BK_TXN_TOPIC),
                             tc->cfg->transaction_state_log_num_partitions, rf, kv,
                             (int)BK_ARRAY_LEN(kv), false, kerr, msg, sizeof msg);
    if (r != 0) {
        bk_log(BK_LOG_ERROR, "cannot create %s: %s", BK_TXN_TOPIC, msg);
        *kerr = BK_KERR_COORDINATOR_NOT_AVAILABLE;
        return r;
    }
    bk_log(BK_LOG_INFO, "created %s with %d partitions", BK_TXN_TOPIC,
           tc->cfg->transaction_state_log_num_partitions);
    return 0;
}

static bk_partition *txn_partition(bk_tcoord *tc, const txn *t)
{
    if (!tc->topics)
        return NULL;
    bk_topic *tp = bk_topics_get(tc->topics, BK_TXN_TOPIC, strlen(BK_TXN_TOPIC));
    if (!tp || tp->nparts <= 0)
        return NULL;
    return &tp->parts[bk_group_partition(t->id, t->len, tp->nparts)];
}

/* The coordinator epoch in markers: the leader epoch of the id's partition. */
static int32_t coord_epoch(bk_tcoord *tc, const txn *t)
{
    bk_partition *p = txn_partition(tc, t);
    return p && p->leader_epoch > 0 ? p->leader_epoch : 0;
}

static void wr_str(bk_wr *w, const char *s, size_t n)
{
    bk_wr_i16(w, (int16_t)n);
    bk_wr_mem(w, s, n);
}

static void encode_value(bk_wr *v, const tmeta *m)
{
    bk_wr_reset(v);
    bk_wr_i16(v, 0);
    bk_wr_i64(v, m->pid);
    bk_wr_i16(v, m->epoch);
    bk_wr_i32(v, m->timeout_ms);
    bk_wr_i8(v, (int8_t)m->state);
    if (m->state == BK_TXN_EMPTY) {
        bk_wr_i32(v, -1);
    } else {
        /* grouped by topic, in first-seen order */
        int ntopics = 0;
        for (int i = 0; i < m->nparts; i++) {
            bool first = true;
            for (int j = 0; j < i && first; j++)
                first = strcmp(m->parts[j].topic, m->parts[i].topic) != 0;
            ntopics += first;
        }
        bk_wr_i32(v, ntopics);
        for (int i = 0; i < m->nparts; i++) {
            bool first = true;
            for (int j = 0; j < i && first; j++)
                first = strcmp(m->parts[j].topic, m->parts[i].topic) != 0;
            if (!first)
                continue;
            wr_str(v, m->parts[i].topic, strlen(m->parts[i].topic));
            int32_t cnt = 0;
            for (int j = i; j < m->nparts; j++)
                cnt += strcmp(m->parts[j].topic, m->parts[i].topic) == 0;
            bk_wr_i32(v, cnt);
            for (int j = i; j < m->nparts; j++)
                if (strcmp(m->parts[j].topic, m->parts[i].topic) == 0)
                    bk_wr_i32(v, m->parts[j].partition);
        }
    }
    bk_wr_i64(v, m->update_ts);
    bk_wr_i64(v, m->start_ts);
}

/* Write t's record (m, or a tombstone when m is NULL) to its partition of
 * __transaction_state. Without storage: nothing to do. */
static int16_t store(bk_tcoord *tc, const txn *t, const tmeta *m)
{
    if (!tc->topics)
        return BK_KERR_NONE;
    int16_t kerr;
    if (bk_tcoord_ensure_topic(tc, &kerr) != 0)
        return BK_KERR_COORDINATOR_NOT_AVAILABLE;
    bk_partition *p = txn_partition(tc, t);
    if (!p || !p->log || p->log->offline)
        return BK_KERR_COORDINATOR_NOT_AVAILABLE;
    bk_wr_reset(&tc->k);
    bk_wr_i16(&tc->k, 0);
    wr_str(&tc->k, t->id, t->len);
    if (m)
        encode_value(&tc->v, m);
    bk_plog *l = p->log;
    bk_wr_reset(&tc->out);
    bk_batch_opts o = BK_BATCH_OPTS_DEFAULT;
    o.base_offset = bk_plog_leo(l);
    o.leader_epoch = p->leader_epoch;
    bk_batch_builder bb;
    if (bk_batch_builder_init(&bb, &tc->out, &o) != 0)
        return BK_KERR_COORDINATOR_NOT_AVAILABLE;
    int r = bk_batch_builder_add(&bb, wall_ms(tc), tc->k.buf, (int32_t)tc->k.len,
                                 m ? tc->v.buf : NULL, m ? (int32_t)tc->v.len : -1, NULL, 0);
    if (r == 0)
        r = bk_batch_builder_finish(&bb);
    if (r == 0) {
        int64_t first = bk_plog_leo(l);
        const uint8_t *data = tc->out.buf + bb.start;
        size_t len = tc->out.len - bb.start;
        r = bk_plog_append(l, data, len, first, first, bk_batch_max_timestamp(data), first,
                           bk_wall_ms());
        if (r == 0) {
            tc->last_idx = p->index;
            tc->last_off = first;
            if (!tc->hooks.moves_hw)
                l->hw = bk_plog_leo(l);
            if (tc->hooks.appended)
                tc->hooks.appended(tc->hooks.ud, p, len);
        }
    }
    bk_batch_builder_fini(&bb);
    if (r != 0) {
        bk_log_rl(BK_LOG_ERROR, "write to %s-%d failed: %s", BK_TXN_TOPIC, p->index,
                  bk_strerror(r));
        return BK_KERR_COORDINATOR_NOT_AVAILABLE;
    }
    return BK_KERR_NONE;
}

/* Persist m as t's new metadata, then apply it. m is consumed. */
static int16_t transition(bk_tcoord *tc, txn *t, tmeta *m)
{
    tc->last_off = -1;
    int16_t r = store(tc, t, m);
    if (r != BK_KERR_NONE) {
        meta_clear_parts(m);
        return r;
    }
    if (tc->last_off >= 0) {
        t->stored_idx = tc->last_idx;
        t->stored_off = tc->last_off;
    }
    set_meta(tc, t, m);
    return BK_KERR_NONE;
}

/* ------------------------------------------------------------ ending transactions */

/* Is t's last write below the high watermark of its partition? (Always
 * on a single node: the coordinator or its hook moves it at once.) */
static bool write_durable(bk_tcoord *tc, const txn *t)
{
    if (t->stored_off < 0 || !tc->topics)
        return true;
    bk_topic *tp = bk_topics_get(tc->topics, BK_TXN_TOPIC, strlen(BK_TXN_TOPIC));
    if (!tp || t->stored_idx >= tp->nparts)
        return false;
    const bk_partition *p = &tp->parts[t->stored_idx];
    return p->log && p->log->hw > t->stored_off;
}

/* Prepare*: write the markers still missing, then Complete*. NONE when
 * complete; BK_TXN_MARKER_PENDING while markers are on their way (or
 * Prepare* is not replicated yet); COORDINATOR_NOT_AVAILABLE when some
 * failed (retried from tick). */
static int16_t complete(bk_tcoord *tc, txn *t)
{
    bool commit = t->m.state == BK_TXN_PREPARE_COMMIT;
    t->durable_wait = !write_durable(tc, t);
    if (t->durable_wait)
        return BK_TXN_MARKER_PENDING; /* the next tick looks again */
    int32_t ce = coord_epoch(tc, t);
    int failed = 0, pending = 0;
    int16_t last = BK_KERR_NONE;
    for (int i = 0; i < t->m.nparts; i++) {
        bk_txn_part *p = &t->m.parts[i];
        if (p->marked)
            continue;
        if (p->pending) {
            pending++;
            continue;
        }
        int16_t r = BK_KERR_NONE;
        bk_txn_marker mk = {t->id,       t->len,     p->topic, p->partition,
                            t->m.pid,    t->m.epoch, ce,       commit};
        if (tc->hooks.write_marker)
            r = tc->hooks.write_marker(tc->hooks.ud, &mk);
        /* A partition that is gone (topic deleted) needs no marker: Kafka
         * drops it from the transaction too. */
        if (r == BK_KERR_NONE || r == BK_KERR_UNKNOWN_TOPIC_OR_PARTITION) {
            p->marked = true;
        } else if (r == BK_TXN_MARKER_PENDING) {
            p->pending = true;
            pending++;
        } else {
            failed++;
            last = r;
        }
    }
    if (failed) {
        bk_log_rl(BK_LOG_WARN,
                  "transactional id %s: %d %s marker(s) not written yet (%s); will retry", t->id,
                  failed, commit ? "commit" : "abort", bk_kerr_name(last));
        return BK_KERR_COORDINATOR_NOT_AVAILABLE;
    }
    if (pending)
        return BK_TXN_MARKER_PENDING;
    tmeta m = meta_bare(&t->m);
    m.state = commit ? BK_TXN_COMPLETE_COMMIT : BK_TXN_COMPLETE_ABORT;
    m.update_ts = wall_ms(tc);
    return transition(tc, t, &m);
}

void bk_tcoord_marker_done(bk_tcoord *tc, const bk_txn_marker *mk, int16_t kerr)
{
    if (!tc)
        return;
    txn *t = find_id(tc, mk->txn_id, mk->len);
    if (!t || !is_prepare(t->m.state) || t->m.pid != mk->pid || t->m.epoch != mk->epoch ||
        (t->m.state == BK_TXN_PREPARE_COMMIT) != mk->commit)
        return;
    bk_txn_part *p = NULL;
    for (int i = 0; i < t->m.nparts && !p; i++)
        if (t->m.parts[i].partition == mk->partition && strcmp(t->m.parts[i].topic, mk->topic) == 0)
            p = &t->m.parts[i];
    if (!p || p->marked)
        return;
    p->pending = false;
    if (kerr == BK_KERR_NONE || kerr == BK_KERR_UNKNOWN_TOPIC_OR_PARTITION) {
        p->marked = true;
    } else {
        bk_log_rl(BK_LOG_INFO, "transactional id %s: %s marker for %s-%d failed (%s); will retry",
                  t->id, mk->commit ? "commit" : "abort", mk->topic, mk->partition,
                  bk_kerr_name(kerr));
        t->retry_at = bk_now_ms() + MARKER_RETRY_MS;
        return;
    }
    for (int i = 0; i < t->m.nparts; i++)
        if (!t->m.parts[i].marked)
            return;
    int16_t r = complete(tc, t);
    if (r == BK_KERR_NONE)
        bk_log(BK_LOG_DEBUG, "transactional id %s: %s complete", t->id,
               mk->commit ? "commit" : "abort");
    else if (r != BK_TXN_MARKER_PENDING)
        t->retry_at = bk_now_ms() + MARKER_RETRY_MS;
}

bool bk_tcoord_last_write(const bk_tcoord *tc, const char *txn_id, size_t len, int32_t *idx,
                          int64_t *offset)
{
    txn *t = tc && txn_id ? find_id(tc, txn_id, len) : NULL;
    if (!t || t->stored_off < 0)
        return false;
    *idx = t->stored_idx;
    *offset = t->stored_off;
    return true;
}

void bk_tcoord_kick(bk_tcoord *tc, const char *txn_id, size_t len)
{
    txn *t = tc && txn_id ? find_id(tc, txn_id, len) : NULL;
    if (t && is_prepare(t->m.state)) {
        int16_t r = complete(tc, t);
        if (r != BK_KERR_NONE && r != BK_TXN_MARKER_PENDING)
            t->retry_at = bk_now_ms() + MARKER_RETRY_MS;
    }
}

/* Ongoing -> Prepare*. fence: the coordinator aborts on its own (timeout,
 * InitProducerId): bump the epoch so the old producer is fenced. */
static int16_t prepare_end(bk_tcoord *tc, txn *t, bool commit, bool fence)
{
    tmeta m;
    if (meta_copy(&m, &t->m) != 0)
        return BK_KERR_COORDINATOR_NOT_AVAILABLE;
    m.state = commit ? BK_TXN_PREPARE_COMMIT : BK_TXN_PREPARE_ABORT;
    if (fence) {
        if (m.epoch < INT16_MAX)
            m.epoch++;
        m.last_epoch = NO_PRODUCER_EPOCH;
    }
    for (int i = 0; i < m.nparts; i++)
        m.parts[i].marked = m.parts[i].pending = false;
    m.update_ts = wall_ms(tc);
    return transition(tc, t, &m);
}

static int16_t end_ongoing(bk_tcoord *tc, txn *t, bool commit, bool fence)
{
    int16_t r = prepare_end(tc, t, commit, fence);
    if (r != BK_KERR_NONE)
        return r;
    r = complete(tc, t);
    return r == BK_TXN_MARKER_PENDING ? BK_KERR_NONE : r;
}

/* ------------------------------------------------------------ InitProducerId */

/* KIP-360: may a request that names pid/epoch take over this id? */
static bool valid_pid(const txn *t, int64_t pid, int16_t epoch)
{
    return t->m.epoch == NO_PRODUCER_EPOCH || pid == t->m.pid ||
           (pid == t->m.last_pid && exhausted(epoch));
}

/* Kafka's prepareIncrementProducerEpoch. */
static int16_t bump_epoch(bk_tcoord *tc, const txn *t, int32_t timeout_ms, bool has_exp,
                          int16_t exp_epoch, tmeta *out)
{
    int16_t epoch, last;
    if (!has_exp) {
        if (exhausted(t->m.epoch))
            return BK_KERR_PRODUCER_FENCED; /* not reached: rotated instead */
        epoch = (int16_t)(t->m.epoch + 1);
        last = NO_PRODUCER_EPOCH;
    } else if (!exhausted(t->m.epoch) &&
               (t->m.epoch == NO_PRODUCER_EPOCH || exp_epoch == t->m.epoch)) {
        epoch = (int16_t)(t->m.epoch + 1);
        last = t->m.epoch;
    } else if (exp_epoch == t->m.last_epoch) {
        /* a retry of a bump whose answer was lost */
        epoch = t->m.epoch;
        last = t->m.last_epoch;
    } else {
        return BK_KERR_PRODUCER_FENCED;
    }
    *out = meta_bare(&t->m);
    out->state = BK_TXN_EMPTY;
    out->last_pid = t->m.pid;
    out->epoch = epoch;
    out->last_epoch = last;
    out->timeout_ms = timeout_ms;
    out->start_ts = -1;
    out->update_ts = wall_ms(tc);
    return BK_KERR_NONE;
}

int16_t bk_tcoord_init_pid(bk_tcoord *tc, const char *txn_id, size_t len, int32_t timeout_ms,
                           int64_t expect_pid, int16_t expect_epoch, int64_t *pid, int16_t *epoch)
{
    *pid = NO_PRODUCER_ID;
    *epoch = NO_PRODUCER_EPOCH;
    if (!tc)
        return BK_KERR_COORDINATOR_NOT_AVAILABLE;
    if (!txn_id) {
        /* idempotent producer: always a new id */
        int16_t r = next_pid(tc, pid);
        if (r == BK_KERR_NONE)
            *epoch = 0;
        return r;
    }
    if (len == 0 || len > INT16_MAX)
        return BK_KERR_INVALID_REQUEST;
    if (timeout_ms <= 0 || timeout_ms > tc->cfg->transaction_max_timeout_ms)
        return BK_KERR_INVALID_TRANSACTION_TIMEOUT;
    bool has_exp = !(expect_pid == NO_PRODUCER_ID && expect_epoch == NO_PRODUCER_EPOCH);
    txn *t = find_id(tc, txn_id, len);
    if (!t) {
        int64_t np;
        int16_t r = next_pid(tc, &np);
        if (r != BK_KERR_NONE)
            return r;
        if (!(t = txn_add(tc, txn_id, len)))
            return BK_KERR_COORDINATOR_NOT_AVAILABLE;
        unlink_pid(tc, t);
        t->m.pid = np;
        link_pid(tc, t);
        t->m.timeout_ms = timeout_ms;
        t->m.update_ts = wall_ms(tc);
    }
    /* At most: finish a pending end, abort an open transaction, bump. */
    for (int round = 0; round < 3; round++) {
        if (has_exp && !valid_pid(t, expect_pid, expect_epoch))
            return BK_KERR_PRODUCER_FENCED;
        switch (t->m.state) {
        case BK_TXN_PREPARE_COMMIT:
        case BK_TXN_PREPARE_ABORT:
            if (complete(tc, t) != BK_KERR_NONE)
                return BK_KERR_CONCURRENT_TRANSACTIONS;
            continue;
        case BK_TXN_ONGOING: {
            /* Kafka fences and aborts, answers CONCURRENT_TRANSACTIONS and
             * the client retries (bumping again); here the abort completes
             * at once and the retry happens in this call. */
            bk_log(BK_LOG_INFO,
                   "transactional id %s: InitProducerId aborts the ongoing transaction of "
                   "producer %lld epoch %d",
                   t->id, (long long)t->m.pid, t->m.epoch);
            int16_t r = end_ongoing(tc, t, false, true);
            if (r != BK_KERR_NONE)
                return is_prepare(t->m.state) ? BK_KERR_CONCURRENT_TRANSACTIONS : r;
            continue;
        }
        case BK_TXN_EMPTY:
        case BK_TXN_COMPLETE_COMMIT:
        case BK_TXN_COMPLETE_ABORT: {
            tmeta m;
            if (exhausted(t->m.epoch) && (!has_exp || expect_epoch == t->m.epoch)) {
                int64_t np;
                int16_t r = next_pid(tc, &np);
                if (r != BK_KERR_NONE)
                    return r;
                m = meta_bare(&t->m);
                m.state = BK_TXN_EMPTY;
                m.pid = np;
                m.last_pid = t->m.pid;
                m.epoch = 0;
                m.last_epoch = has_exp ? t->m.epoch : NO_PRODUCER_EPOCH;
                m.timeout_ms = timeout_ms;
                m.start_ts = -1;
                m.update_ts = wall_ms(tc);
                bk_log(BK_LOG_INFO,
                       "transactional id %s: epoch of producer %lld exhausted, new producer id "
                       "%lld",
                       t->id, (long long)t->m.pid, (long long)np);
            } else {
                int16_t r = bump_epoch(tc, t, timeout_ms, has_exp, expect_epoch, &m);
                if (r != BK_KERR_NONE)
                    return r;
            }
            int16_t r = transition(tc, t, &m);
            if (r != BK_KERR_NONE)
                return r;
            *pid = t->m.pid;
            *epoch = t->m.epoch;
            return BK_KERR_NONE;
        }
        default:
            return BK_KERR_INVALID_TXN_STATE;
        }
    }
    return BK_KERR_CONCURRENT_TRANSACTIONS;
}

/* ------------------------------------------------------------ AddPartitions, EndTxn */

int16_t bk_tcoord_add_partitions(bk_tcoord *tc, const char *txn_id, size_t len, int64_t pid,
                                 int16_t epoch, const bk_txn_part *parts, int n)
{
    if (!tc)
        return BK_KERR_COORDINATOR_NOT_AVAILABLE;
    if (!txn_id || len == 0)
        return BK_KERR_INVALID_REQUEST;
    txn *t = find_id(tc, txn_id, len);
    if (!t || t->m.pid != pid)
        return BK_KERR_INVALID_PRODUCER_ID_MAPPING;
    if (t->m.epoch != epoch)
        return BK_KERR_PRODUCER_FENCED;
    if (is_prepare(t->m.state) && complete(tc, t) != BK_KERR_NONE)
        return BK_KERR_CONCURRENT_TRANSACTIONS;
    if (t->m.state != BK_TXN_ONGOING && !is_idle(t->m.state))
        return BK_KERR_INVALID_TXN_STATE;
    bool all = t->m.state == BK_TXN_ONGOING;
    for (int i = 0; i < n && all; i++)
        all = meta_has_part(&t->m, parts[i].topic, strlen(parts[i].topic), parts[i].partition);
    if (all)
        return BK_KERR_NONE;
    tmeta m;
    if (meta_copy(&m, &t->m) != 0)
        return BK_KERR_COORDINATOR_NOT_AVAILABLE;
    for (int i = 0; i < n; i++)
        if (meta_add_part(&m, parts[i].topic, strlen(parts[i].topic), parts[i].partition, false) !=
            0) {
            meta_clear_parts(&m);
            return BK_KERR_COORDINATOR_NOT_AVAILABLE;
        }
    int64_t now = wall_ms(tc);
    if (t->m.state != BK_TXN_ONGOING)
        m.start_ts = now;
    m.state = BK_TXN_ONGOING;
    m.update_ts = now;
    return transition(tc, t, &m);
}

int16_t bk_tcoord_end_txn(bk_tcoord *tc, const char *txn_id, size_t len, int64_t pid, int16_t epoch,
                          bool commit)
{
    if (!tc)
        return BK_KERR_COORDINATOR_NOT_AVAILABLE;
    if (!txn_id || len == 0)
        return BK_KERR_INVALID_REQUEST;
    txn *t = find_id(tc, txn_id, len);
    if (!t || t->m.pid != pid)
        return BK_KERR_INVALID_PRODUCER_ID_MAPPING;
    if (t->m.epoch != epoch)
        return BK_KERR_PRODUCER_FENCED;
    switch (t->m.state) {
    case BK_TXN_ONGOING:
        return end_ongoing(tc, t, commit, false);
    case BK_TXN_COMPLETE_COMMIT:
        return commit ? BK_KERR_NONE : BK_KERR_INVALID_TXN_STATE;
    case BK_TXN_COMPLETE_ABORT:
        return commit ? BK_KERR_INVALID_TXN_STATE : BK_KERR_NONE;
    case BK_TXN_PREPARE_COMMIT:
    case BK_TXN_PREPARE_ABORT:
        if (commit != (t->m.state == BK_TXN_PREPARE_COMMIT))
            return BK_KERR_INVALID_TXN_STATE;
        /* a retry while markers are pending: try them now */
        return complete(tc, t) == BK_KERR_NONE ? BK_KERR_NONE : BK_KERR_CONCURRENT_TRANSACTIONS;
    default: /* Empty: nothing to end */
        return BK_KERR_INVALID_TXN_STATE;
    }
}

/* ------------------------------------------------------------ verification, describe */

int16_t bk_tcoord_verify(bk_tcoord *tc, int64_t pid, int16_t epoch, const char *topic, size_t tlen,
                         int32_t partition)
{
    if (!tc)
        return BK_KERR_INVALID_TXN_STATE;
    txn *t = find_pid(tc, pid);
    /* Cluster mode: another broker may coordinate pid. Kafka asks it
     * (AddPartitionsToTxn v4, VerifyOnly); not done yet, so only the
     * producers this broker coordinates are verified. */
    if (!t)
        return tc->cluster ? BK_KERR_NONE : BK_KERR_INVALID_TXN_STATE;
    if (t->m.epoch != epoch)
        return BK_KERR_INVALID_PRODUCER_EPOCH;
    if (t->m.state != BK_TXN_ONGOING || !meta_has_part(&t->m, topic, tlen, partition))
        return BK_KERR_INVALID_TXN_STATE;
    return BK_KERR_NONE;
}

static void fill_info(const txn *t, bk_txn_info *out)
{
    out->txn_id = t->id;
    out->state = t->m.state;
    out->pid = t->m.pid;
    out->epoch = t->m.epoch;
    out->timeout_ms = t->m.timeout_ms;
    out->start_ts = t->m.start_ts;
    out->update_ts = t->m.update_ts;
    out->parts = t->m.parts;
    out->nparts = t->m.nparts;
}

int16_t bk_tcoord_describe(bk_tcoord *tc, const char *txn_id, size_t len, bk_txn_info *out)
{
    memset(out, 0, sizeof *out);
    txn *t = tc ? find_id(tc, txn_id, len) : NULL;
    if (!t || t->m.state == BK_TXN_DEAD)
        return BK_KERR_TRANSACTIONAL_ID_NOT_FOUND;
    fill_info(t, out);
    return BK_KERR_NONE;
}

int bk_tcoord_count(const bk_tcoord *tc)
{
    return tc ? tc->n : 0;
}

void bk_tcoord_info_at(const bk_tcoord *tc, int i, bk_txn_info *out)
{
    fill_info(tc->all[i], out);
}

/* ------------------------------------------------------------ tick */

void bk_tcoord_tick(bk_tcoord *tc, int64_t now)
{
    if (!tc)
        return;
    const bk_config *c = tc->cfg;
    if (!tc->ticked) {
        tc->ticked = true;
        tc->next_abort = now + c->transaction_abort_timed_out_cleanup_interval_ms;
        tc->next_expire = now + c->transaction_remove_expired_cleanup_interval_ms;
    }
    int64_t wall = wall_ms(tc);
    /* markers that could not be written before */
    for (int i = 0; i < tc->n; i++) {
        txn *t = tc->all[i];
        if (!is_prepare(t->m.state) || now < t->retry_at)
            continue;
        bool commit = t->m.state == BK_TXN_PREPARE_COMMIT;
        int16_t r = complete(tc, t);
        if (r == BK_KERR_NONE)
            bk_log(BK_LOG_INFO, "transactional id %s: %s completed after retrying markers", t->id,
                   commit ? "commit" : "abort");
        else if (!t->durable_wait)
            t->retry_at = now + RETRY_MS; /* failed, or in flight: their results drive it */
    }
    if (now >= tc->next_abort) {
        tc->next_abort = now + c->transaction_abort_timed_out_cleanup_interval_ms;
        for (int i = 0; i < tc->n; i++) {
            txn *t = tc->all[i];
            if (t->m.state != BK_TXN_ONGOING || t->m.start_ts + t->m.timeout_ms >= wall)
                continue;
            bk_log(BK_LOG_INFO,
                   "transactional id %s: transaction of producer %lld epoch %d timed out after "
                   "%d ms; aborting and fencing the producer",
                   t->id, (long long)t->m.pid, t->m.epoch, t->m.timeout_ms);
            if (end_ongoing(tc, t, false, true) != BK_KERR_NONE)
                t->retry_at = now + RETRY_MS;
        }
    }
    if (now >= tc->next_expire) {
        tc->next_expire = now + c->transaction_remove_expired_cleanup_interval_ms;
        int64_t limit = wall - c->transactional_id_expiration_ms;
        for (int i = 0; i < tc->n;) {
            txn *t = tc->all[i];
            if (is_idle(t->m.state) && t->m.update_ts <= limit &&
                store(tc, t, NULL) == BK_KERR_NONE) {
                bk_log(BK_LOG_INFO, "transactional id %s expired", t->id);
                txn_remove(tc, t); /* the last one moves to i */
                continue;
            }
            i++;
        }
    }
}

/* ------------------------------------------------------------ loading */

static int load_value(bk_tcoord *tc, const char *id, size_t idlen, bk_rd *v)
{
    int16_t vv = bk_rd_i16(v);
    if (v->err || vv != 0) {
        bk_log_rl(BK_LOG_WARN, "%s: skipping a value of version %d (transactional id %.*s)",
                  BK_TXN_TOPIC, vv, (int)BK_MIN(idlen, 200), id);
        return 0;
    }
    tmeta m;
    memset(&m, 0, sizeof m);
    m.pid = bk_rd_i64(v);
    m.last_pid = NO_PRODUCER_ID;
    m.epoch = bk_rd_i16(v);
    m.last_epoch = NO_PRODUCER_EPOCH;
    m.timeout_ms = bk_rd_i32(v);
    m.state = bk_rd_i8(v);
    int32_t nt = bk_rd_i32(v);
    if (v->err || nt > (int32_t)bk_rd_left(v) / 6)
        return 0; /* corrupt: skip */
    for (int32_t i = 0; i < nt && !v->err; i++) {
        int16_t tl = bk_rd_i16(v);
        const uint8_t *tp = bk_rd_take(v, tl < 0 ? 0 : (size_t)tl);
        int32_t np = bk_rd_i32(v);
        if (v->err || tl < 0 || np < 0 || np > (int32_t)bk_rd_left(v) / 4)
            break;
        for (int32_t j = 0; j < np; j++) {
            int32_t part = bk_rd_i32(v);
            if (meta_push_part(&m, (const char *)tp, (size_t)tl, part, false) != 0) {
                meta_clear_parts(&m);
                return BK_ENOMEM;
            }
        }
    }
    m.update_ts = bk_rd_i64(v);
    m.start_ts = bk_rd_i64(v);
    if (v->err || m.state < BK_TXN_EMPTY || m.state > BK_TXN_DEAD) {
        meta_clear_parts(&m);
        return 0;
    }
    pid_seen(tc, m.pid);
    txn *t = find_id(tc, id, idlen);
    if (m.state == BK_TXN_DEAD) {
        if (t)
            txn_remove(tc, t);
        meta_clear_parts(&m);
        return 0;
    }
    if (!t && !(t = txn_add(tc, id, idlen))) {
        meta_clear_parts(&m);
        return BK_ENOMEM;
    }
    set_meta(tc, t, &m);
    if (tc->load_track) {
        t->stored_idx = tc->load_idx;
        t->stored_off = tc->load_off;
    }
    return 0;
}

static int load_record(bk_tcoord *tc, const bk_record *rec)
{
    if (!rec->key || rec->key_len < 2)
        return 0;
    bk_rd k;
    bk_rd_init(&k, rec->key, (size_t)rec->key_len);
    int16_t kv = bk_rd_i16(&k);
    int16_t il = bk_rd_i16(&k);
    const uint8_t *ip = bk_rd_take(&k, il < 0 ? 0 : (size_t)il);
    if (k.err || kv != 0 || il <= 0)
        return 0;
    if (!rec->value) {
        txn *t = find_id(tc, (const char *)ip, (size_t)il);
        if (t)
            txn_remove(tc, t);
        return 0;
    }
    bk_rd v;
    bk_rd_init(&v, rec->value, (size_t)rec->value_len);
    return load_value(tc, (const char *)ip, (size_t)il, &v);
}

typedef struct load_ctx {
    bk_tcoord *tc;
    bk_partition *p;
    int64_t from; /* records below it are skipped (the log start) */
    uint64_t nrec;
} load_ctx;

static int load_batch(void *ud, const bk_batch_info *bi)
{
    load_ctx *x = ud;
    if (bi->compression != BK_COMPRESSION_NONE) {
        bk_log_rl(BK_LOG_WARN, "%s-%d: skipping a compressed batch at offset %lld", BK_TXN_TOPIC,
                  x->p->index, (long long)bi->base_offset);
        return 0;
    }
    if (bi->control)
        return 0;
    bk_rec_iter it;
    bk_record rec;
    bk_rec_iter_init(&it, bi->records, bi->records_len, bi->record_count);
    while (bk_rec_iter_next(&it, &rec)) {
        if (bi->base_offset + rec.offset_delta < x->from)
            continue;
        x->tc->load_idx = x->p->index;
        x->tc->load_off = bi->base_offset + rec.offset_delta;
        int rc = load_record(x->tc, &rec);
        if (rc)
            return rc;
        x->nrec++;
    }
    return 0;
}

static int load_partition(bk_tcoord *tc, bk_partition *p, uint64_t *nrec)
{
    if (!p->log)
        return 0;
    load_ctx x = {tc, p, p->log->log_start, 0};
    int rc = bk_plog_foreach_batch(p->log, p->log->log_start, load_batch, &x);
    *nrec += x.nrec;
    return rc;
}

int bk_tcoord_load(bk_tcoord *tc)
{
    if (!tc || !tc->topics)
        return 0;
    bk_topic *tp = bk_topics_get(tc->topics, BK_TXN_TOPIC, strlen(BK_TXN_TOPIC));
    if (!tp)
        return 0;
    uint64_t nrec = 0;
    for (int32_t i = 0; i < tp->nparts; i++) {
        int r = load_partition(tc, &tp->parts[i], &nrec);
        if (r)
            return r;
    }
    int pending = 0, done = 0;
    for (int i = 0; i < tc->n; i++) {
        txn *t = tc->all[i];
        if (!is_prepare(t->m.state))
            continue;
        pending++;
        done += complete(tc, t) == BK_KERR_NONE;
    }
    bk_log(BK_LOG_INFO,
           "loaded %d transactional ids from %llu records of %s; %d of %d transactions being "
           "ended completed, producer ids continue from %lld",
           tc->n, (unsigned long long)nrec, BK_TXN_TOPIC, done, pending, (long long)tc->pid_floor);
    return 0;
}

/* The transactional ids of __transaction_state partition idx. */
static bool in_partition(const bk_tcoord *tc, const txn *t, int32_t idx)
{
    bk_topic *tp = tc->topics ? bk_topics_get(tc->topics, BK_TXN_TOPIC, strlen(BK_TXN_TOPIC)) : NULL;
    int32_t n = tp ? tp->nparts : tc->cfg->transaction_state_log_num_partitions;
    return n > 0 && bk_group_partition(t->id, t->len, n) == idx;
}

static int drop_partition(bk_tcoord *tc, int32_t idx)
{
    int n = 0;
    /* txn_remove moves the last entry into the hole: walk downwards */
    for (int i = tc->n - 1; i >= 0; i--)
        if (in_partition(tc, tc->all[i], idx)) {
            txn_remove(tc, tc->all[i]);
            n++;
        }
    return n;
}

int bk_tcoord_unload_partition(bk_tcoord *tc, int32_t idx)
{
    if (!tc)
        return 0;
    int n = drop_partition(tc, idx);
    if (n)
        bk_log(BK_LOG_INFO, "%s-%d: unloaded %d transactional ids", BK_TXN_TOPIC, idx, n);
    return 0;
}

int bk_tcoord_load_partition(bk_tcoord *tc, int32_t idx)
{
    if (!tc)
        return 0;
    drop_partition(tc, idx);
    if (!tc->topics)
        return 0;
    bk_partition *p = bk_topics_partition(tc->topics, BK_TXN_TOPIC, strlen(BK_TXN_TOPIC), idx);
    if (!p)
        return 0;
    uint64_t nrec = 0;
    tc->load_track = tc->cluster;
    int r = load_partition(tc, p, &nrec);
    tc->load_track = false;
    if (r)
        return r;
    int loaded = 0, pending = 0, done = 0;
    for (int i = 0; i < tc->n; i++) {
        txn *t = tc->all[i];
        if (!in_partition(tc, t, idx))
            continue;
        loaded++;
        if (!is_prepare(t->m.state))
            continue;
        pending++;
        done += complete(tc, t) == BK_KERR_NONE;
    }
    bk_log(BK_LOG_INFO,
           "%s-%d: loaded %d transactional ids from %llu records; %d transactions being ended "
           "(markers sent again), %d completed at once",
           BK_TXN_TOPIC, idx, loaded, (unsigned long long)nrec, pending, done);
    return 0;
}

/* ------------------------------------------------------------ life cycle */

bk_tcoord *bk_tcoord_new(const bk_config *cfg, bk_topics *topics, const char *meta_dir,
                         const bk_tcoord_hooks *hooks)
{
    bk_tcoord *tc = calloc(1, sizeof *tc);
    if (!tc)
        return NULL;
    tc->cfg = cfg;
    tc->topics = topics;
    if (hooks)
        tc->hooks = *hooks;
    if (rehash(tc, 64) != 0) {
        free(tc);
        return NULL;
    }
    int r = bk_pidstore_file_open(&tc->store, meta_dir, cfg->broker_id >= 0 ? cfg->broker_id : 0);
    if (r != 0) {
        bk_log(BK_LOG_ERROR,
               "cannot read the producer id block file in %s: %s; no producer ids will be "
               "handed out",
               meta_dir ? meta_dir : "(none)", bk_strerror(r));
        tc->store = NULL;
    }
    bk_wr_init(&tc->out, 0);
    bk_wr_init(&tc->k, 0);
    bk_wr_init(&tc->v, 0);
    return tc;
}

void bk_tcoord_set_cluster(bk_tcoord *tc, bool on)
{
    if (tc)
        tc->cluster = on;
}

void bk_tcoord_set_pidstore(bk_tcoord *tc, bk_pidstore *store)
{
    if (tc->store)
        tc->store->ops->close(tc->store);
    tc->store = store;
    tc->have_blk = false;
}

void bk_tcoord_free(bk_tcoord *tc)
{
    if (!tc)
        return;
    while (tc->n > 0)
        txn_remove(tc, tc->all[tc->n - 1]);
    free(tc->all);
    free(tc->by_id);
    free(tc->by_pid);
    if (tc->store)
        tc->store->ops->close(tc->store);
    bk_wr_fini(&tc->out);
    bk_wr_fini(&tc->k);
    bk_wr_fini(&tc->v);
    free(tc);
}
