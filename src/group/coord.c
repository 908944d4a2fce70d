/* coord.c - group coordinator and offsets store. See coord.h.
 *
 * __consumer_offsets records (non-flexible, big-endian; CLIENTS.md 7):
 *   offset key   v1: int16 1, group STRING, topic STRING, partition INT32
 *   offset value v3: int16 3, offset INT64, leader_epoch INT32, metadata
 * STRING, commit_timestamp INT64 v1: int16 1, offset INT64, metadata STRING,
 * commit_timestamp INT64, expire_timestamp INT64   (commits with a retention
 * time) group key    v2: int16 2, group STRING group value  v3: int16 3,
 * protocol_type STRING, generation INT32, protocol NULLABLE_STRING, leader
 * NULLABLE_STRING, current_state_timestamp INT64, members ARRAY of {member_id
 * STRING, group_instance_id NULLABLE_STRING, client_id STRING, client_host
 * STRING, rebalance_timeout INT32, session_timeout INT32, subscription BYTES,
 *                     assignment BYTES}
 *   null value = tombstone.
 * Loading reads every partition from its log start; unknown key versions
 * (KIP-848 records) and compressed batches are skipped.
 *
 * Transactions (coord.h). TxnOffsetCommit writes the same offset records
 * in one transactional batch (attributes bit 4, producer id/epoch, base
 * sequence -1) and keeps them in the group's gtxn of that producer. Each
 * goffset has log_off, the base offset of the batch that wrote it (without
 * storage a counter stands in), which decides at commit time whether the
 * pending value or the committed one is newer. Replaying the log:
 *   plain batch, value        committed[g,tp] = value
 *   plain batch, tombstone    committed[g,tp] and every pending[g,*,tp] dropped
 *   txn batch of pid, value   pending[g,pid,tp] = value
 *   txn batch, tombstone      pending[g,pid,tp] dropped
 *   control batch (marker)    key int16 version, int16 type (0 abort,
 *                             1 commit): pending[g,pid,*] of the groups of
 *                             this partition committed or dropped
 * and the in-memory operations do exactly the same, so memory and replay
 * agree. The marker is found by scanning the groups (markers are rare).
 */
#include "coord.h"
#include "../core/vec.h"

#include "../core/clock.h"
#include "../core/log.h"
#include "../core/uuid.h"
#include "../proto/records.h"
#include "lag.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define METADATA_MAX_BYTES 4096 /* offset.metadata.max.bytes */
#define EXPIRY_CHECK_MS 10000   /* offsets.retention.check.interval.ms (Kafka: 600000) */

typedef struct goffset {
    char *topic; /* owned */
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    char *metadata; /* owned, never NULL */
    int64_t commit_ts;
    int64_t expire_ts;
    int64_t log_off; /* where its record is in __consumer_offsets (see "Transactions") */
    /* lag cache (lag.h): the timestamp of the oldest unconsumed message as
     * read at offset lag_at of log lag_log in leader epoch lag_epoch; valid
     * while that offset is still the one to look up (the commit and the log
     * start did not move past it) in the same log and epoch (a recreated
     * topic, or a truncation after a leader change, can put other records
     * at that offset) */
    bool lag_valid;
    int64_t lag_at, lag_ts;
    const void *lag_log;
    int32_t lag_epoch;
} goffset;

/* A set of offsets, one per topic-partition (unsorted; each_offset/lag sort). */
typedef struct oset {
    goffset *v; /* owned */
    int n, cap;
} oset;

/* Offsets committed in producer pid's ongoing transaction (TxnOffsetCommit),
 * waiting for its marker. */
typedef struct gtxn {
    int64_t pid;
    int16_t epoch;
    oset offs;
} gtxn;

typedef struct gproto {
    char *name;    /* owned */
    uint8_t *meta; /* owned */
    int32_t len;
} gproto;

struct bk_gmember {
    bk_group *g;
    char *id;          /* owned */
    char *instance_id; /* owned, NULL = dynamic member */
    char *client_id;
    char *client_host;
    int32_t session_ms;
    int32_t rebalance_ms;
    gproto *protos; /* owned */
    int nprotos;
    uint8_t *assign; /* owned */
    int32_t assign_len;
    int64_t last_hb;                 /* monotonic */
    bk_gwait *join_wait, *sync_wait; /* borrowed */
    bool is_new;                     /* joined during this rebalance */
};

typedef struct gpending {
    char *id;
    int64_t deadline;
} gpending;

struct bk_group {
    char *id; /* owned */
    int state;
    int32_t generation;
    char *protocol_type; /* owned, NULL = none */
    char *protocol;      /* owned, NULL = none */
    char *leader;        /* owned, NULL = none */
    bk_gmember **members;
    int nmembers, capmembers;
    gpending *pending;
    int npending;
    int64_t rebalance_deadline; /* PreparingRebalance: complete at the latest then */
    bool initial_delay;         /* first rebalance of an empty group: wait the whole delay, */
    int64_t initial_limit;      /* extended by each new member up to this (rebalance timeout) */
    int64_t state_ts;           /* wall ms of the last state change */
    oset offs;                  /* committed: what OffsetFetch sees */
    gtxn *txns;                 /* owned: pending transactional offsets, one entry per producer */
    int ntxns, captxns;
};

struct bk_coord {
    const bk_config *cfg;
    bk_topics *topics;
    bk_coord_append_fn *append_fn;
    void *append_ud;
    bk_group **groups;
    int ngroups, capgroups;
    /* scratch for internal writes */
    bk_wr out, k, v;
    bk_batch_builder bb;
    bool bb_open;
    int32_t bb_count;
    bk_partition *bb_part;
    bool bb_txn;         /* the open batch is a transactional one */
    int16_t bb_kerr;     /* why batch_commit refused it (producer state), else NONE */
    int64_t bb_log_off;  /* after batch_commit: the batch's base offset in the log */
    int64_t bb_last_off; /* after batch_commit: its last offset (-1: nothing written) */
    int32_t bb_last_part;
    int64_t mem_log_off; /* without storage: a counter standing in for log offsets */
    int64_t next_expiry_ms;
};

static void oset_free(oset *s);

/* ------------------------------------------------------------ helpers */

static char *xstrndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = 0;
    return p;
}

static bool seq(const char *a, const char *b, size_t blen)
{
    return a && strlen(a) == blen && memcmp(a, b, blen) == 0;
}

static const char *state_names[] = {"Empty", "PreparingRebalance", "CompletingRebalance", "Stable",
                                    "Dead"};

const char *bk_group_state_name(int state)
{
    return state >= 0 && state <= BK_GROUP_DEAD ? state_names[state] : "Unknown";
}

int32_t bk_java_string_hash(const char *s, size_t len)
{
    uint32_t h = 0;
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        uint8_t c = p[i];
        size_t n = 0;
        if (c < 0x80) {
            cp = c;
            n = 1;
        } else if ((c & 0xE0) == 0xC0 && i + 1 < len && (p[i + 1] & 0xC0) == 0x80) {
            cp = ((uint32_t)(c & 0x1F) << 6) | (p[i + 1] & 0x3F);
            n = 2;
        } else if ((c & 0xF0) == 0xE0 && i + 2 < len && (p[i + 1] & 0xC0) == 0x80 &&
                   (p[i + 2] & 0xC0) == 0x80) {
            cp = ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(p[i + 1] & 0x3F) << 6) |
                 (p[i + 2] & 0x3F);
            n = 3;
        } else if ((c & 0xF8) == 0xF0 && i + 3 < len && (p[i + 1] & 0xC0) == 0x80 &&
                   (p[i + 2] & 0xC0) == 0x80 && (p[i + 3] & 0xC0) == 0x80) {
            cp = ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(p[i + 1] & 0x3F) << 12) |
                 ((uint32_t)(p[i + 2] & 0x3F) << 6) | (p[i + 3] & 0x3F);
            n = 4;
        } else {
            cp = 0xFFFD; /* what Java's decoder substitutes */
            n = 1;
        }
        i += n;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            h = 31 * h + (0xD800 + (cp >> 10));
            h = 31 * h + (0xDC00 + (cp & 0x3FF));
        } else {
            h = 31 * h + cp;
        }
    }
    return (int32_t)h;
}

int32_t bk_group_partition(const char *group, size_t len, int32_t nparts)
{
    int32_t h = bk_java_string_hash(group, len);
    int32_t a = h == INT32_MIN ? 0 : (h < 0 ? -h : h);
    return nparts > 0 ? a % nparts : 0;
}

static void member_id_new(char *out, size_t cap, const char *prefix)
{
    uint8_t u[16];
    bk_uuid_random(u);
    u[6] = (uint8_t)((u[6] & 0x0F) | 0x40);
    u[8] = (uint8_t)((u[8] & 0x3F) | 0x80);
    snprintf(out, cap, "%s-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             prefix, u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
             u[12], u[13], u[14], u[15]);
}

/* ------------------------------------------------------------ groups */

static bk_group *group_find(bk_coord *co, const char *id, size_t len, int *idx)
{
    for (int i = 0; i < co->ngroups; i++)
        if (seq(co->groups[i]->id, id, len)) {
            if (idx)
                *idx = i;
            return co->groups[i];
        }
    return NULL;
}

static bk_group *group_add(bk_coord *co, const char *id, size_t len)
{
    bk_group **v = bk_vec_grow(co->groups, co->ngroups, &co->capgroups, sizeof *v, 16);
    if (!v)
        return NULL;
    co->groups = v;
    bk_group *g = calloc(1, sizeof *g);
    if (!g || !(g->id = xstrndup(id, len))) {
        free(g);
        return NULL;
    }
    g->state = BK_GROUP_EMPTY;
    g->state_ts = bk_wall_ms();
    co->groups[co->ngroups++] = g;
    return g;
}

static void protos_free(gproto *p, int n)
{
    for (int i = 0; i < n; i++) {
        free(p[i].name);
        free(p[i].meta);
    }
    free(p);
}

static void member_free(bk_gmember *m)
{
    free(m->id);
    free(m->instance_id);
    free(m->client_id);
    free(m->client_host);
    protos_free(m->protos, m->nprotos);
    free(m->assign);
    free(m);
}

static void group_free(bk_group *g)
{
    for (int i = 0; i < g->nmembers; i++)
        member_free(g->members[i]);
    free(g->members);
    for (int i = 0; i < g->npending; i++)
        free(g->pending[i].id);
    free(g->pending);
    oset_free(&g->offs);
    for (int i = 0; i < g->ntxns; i++)
        oset_free(&g->txns[i].offs);
    free(g->txns);
    free(g->id);
    free(g->protocol_type);
    free(g->protocol);
    free(g->leader);
    free(g);
}

static void group_remove(bk_coord *co, bk_group *g)
{
    for (int i = 0; i < co->ngroups; i++)
        if (co->groups[i] == g) {
            memmove(&co->groups[i], &co->groups[i + 1],
                    (size_t)(co->ngroups - i - 1) * sizeof *co->groups);
            co->ngroups--;
            break;
        }
    group_free(g);
}

static void set_str(char **dst, const char *s)
{
    free(*dst);
    *dst = s ? strdup(s) : NULL;
}

static void set_state(bk_group *g, int st)
{
    g->state = st;
    g->state_ts = bk_wall_ms();
}

static bk_gmember *member_find(bk_group *g, const char *id, size_t len)
{
    for (int i = 0; i < g->nmembers; i++)
        if (seq(g->members[i]->id, id, len))
            return g->members[i];
    return NULL;
}

static bk_gmember *member_by_instance(bk_group *g, const char *inst, size_t len)
{
    for (int i = 0; i < g->nmembers; i++)
        if (g->members[i]->instance_id && seq(g->members[i]->instance_id, inst, len))
            return g->members[i];
    return NULL;
}

static int pending_find(bk_group *g, const char *id, size_t len)
{
    for (int i = 0; i < g->npending; i++)
        if (seq(g->pending[i].id, id, len))
            return i;
    return -1;
}

static void pending_del(bk_group *g, int i)
{
    free(g->pending[i].id);
    g->pending[i] = g->pending[--g->npending];
}

/* ------------------------------------------------------------ offsets (memory)
 */

static goffset *off_find(oset *s, const char *topic, size_t tlen, int32_t part)
{
    for (int i = 0; i < s->n; i++)
        if (s->v[i].partition == part && seq(s->v[i].topic, topic, tlen))
            return &s->v[i];
    return NULL;
}

/* Insert or replace the offset of topic/partition in s. */
static int off_set(oset *s, const char *topic, size_t tlen, int32_t part, int64_t offset,
                   int32_t epoch, const char *md, size_t mdlen, int64_t cts, int64_t ets,
                   int64_t log_off)
{
    goffset *o = off_find(s, topic, tlen, part);
    char *m = xstrndup(md ? md : "", md ? mdlen : 0);
    if (!m)
        return BK_ENOMEM;
    if (!o) {
        goffset *v = bk_vec_grow(s->v, s->n, &s->cap, sizeof *v, 16);
        if (!v) {
            free(m);
            return BK_ENOMEM;
        }
        s->v = v;
        o = &s->v[s->n];
        memset(o, 0, sizeof *o);
        if (!(o->topic = xstrndup(topic, tlen))) {
            free(m);
            return BK_ENOMEM;
        }
        o->partition = part;
        s->n++;
    }
    free(o->metadata);
    o->metadata = m;
    o->offset = offset;
    o->leader_epoch = epoch;
    o->commit_ts = cts;
    o->expire_ts = ets;
    o->log_off = log_off;
    return 0;
}

static void off_del(oset *s, goffset *o)
{
    free(o->topic);
    free(o->metadata);
    *o = s->v[--s->n];
}

static void oset_free(oset *s)
{
    for (int i = 0; i < s->n; i++) {
        free(s->v[i].topic);
        free(s->v[i].metadata);
    }
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

/* ------------------------------------------------------------ pending transactions
 */

static gtxn *txn_find(const bk_group *g, int64_t pid)
{
    for (int i = 0; i < g->ntxns; i++)
        if (g->txns[i].pid == pid)
            return &g->txns[i];
    return NULL;
}

static gtxn *txn_get(bk_group *g, int64_t pid, int16_t epoch)
{
    gtxn *t = txn_find(g, pid);
    if (t)
        return t;
    gtxn *v = bk_vec_grow(g->txns, g->ntxns, &g->captxns, sizeof *v, 4);
    if (!v)
        return NULL;
    g->txns = v;
    t = &g->txns[g->ntxns++];
    memset(t, 0, sizeof *t);
    t->pid = pid;
    t->epoch = epoch;
    return t;
}

static void txn_del(bk_group *g, gtxn *t)
{
    oset_free(&t->offs);
    *t = g->txns[--g->ntxns];
}

/* Does any transaction hold a pending offset for topic/partition? */
static bool txn_pending(const bk_group *g, const char *topic, size_t tlen, int32_t part)
{
    for (int i = 0; i < g->ntxns; i++) {
        const oset *s = &g->txns[i].offs;
        for (int k = 0; k < s->n; k++)
            if (s->v[k].partition == part && seq(s->v[k].topic, topic, tlen))
                return true;
    }
    return false;
}

/* A non-transactional tombstone for topic/partition (OffsetDelete,
 * DeleteGroups) also drops what transactions hold for it, in memory and
 * when the log is replayed (Kafka's removeOffsets; the KIP-848
 * coordinator's replay of an offset tombstone). */
static void txn_drop_partition(bk_group *g, const char *topic, size_t tlen, int32_t part)
{
    for (int i = 0; i < g->ntxns;) {
        gtxn *t = &g->txns[i];
        goffset *o = off_find(&t->offs, topic, tlen, part);
        if (o)
            off_del(&t->offs, o);
        if (t->offs.n == 0) {
            txn_del(g, t);
            continue;
        }
        i++;
    }
}

/* The marker of t's transaction: on commit each pending offset replaces
 * the committed one unless that one was written later in the log (a plain
 * OffsetCommit after the TxnOffsetCommit wins; Kafka's
 * completePendingTxnOffsetCommit). Abort drops them. */
static void txn_complete(bk_group *g, gtxn *t, bool commit)
{
    int moved = 0;
    for (int i = 0; commit && i < t->offs.n; i++) {
        const goffset *p = &t->offs.v[i];
        goffset *cur = off_find(&g->offs, p->topic, strlen(p->topic), p->partition);
        if (cur && !(cur->log_off < p->log_off))
            continue;
        if (off_set(&g->offs, p->topic, strlen(p->topic), p->partition, p->offset, p->leader_epoch,
                    p->metadata, strlen(p->metadata), p->commit_ts, p->expire_ts, p->log_off) != 0)
            bk_log_rl(BK_LOG_ERROR, "group %s: out of memory committing transactional offsets",
                      g->id);
        else
            moved++;
    }
    bk_log(BK_LOG_DEBUG, "group %s: producer %lld %s: %d of %d pending offsets committed", g->id,
           (long long)t->pid, commit ? "committed" : "aborted", moved, t->offs.n);
    txn_del(g, t);
}

/* A marker for pid on partition `partition` (of nparts): complete pid's
 * transaction in every group stored there. */
static void txn_marker(bk_coord *co, int32_t partition, int32_t nparts, int64_t pid, bool commit)
{
    for (int i = 0; i < co->ngroups; i++) {
        bk_group *g = co->groups[i];
        gtxn *t = txn_find(g, pid);
        if (t && bk_group_partition(g->id, strlen(g->id), nparts) == partition)
            txn_complete(g, t, commit);
    }
}

/* ------------------------------------------------------------ log writes */

static void wr_str(bk_wr *w, const char *s, size_t len)
{
    bk_wr_i16(w, (int16_t)len);
    bk_wr_mem(w, s, len);
}

static void wr_nstr(bk_wr *w, const char *s)
{
    if (!s) {
        bk_wr_i16(w, -1);
        return;
    }
    wr_str(w, s, strlen(s));
}

static void wr_bytes(bk_wr *w, const uint8_t *p, int32_t len)
{
    bk_wr_i32(w, len < 0 ? 0 : len);
    if (len > 0)
        bk_wr_mem(w, p, (size_t)len);
}

int bk_coord_ensure_topic(bk_coord *co, int16_t *kerr)
{
    *kerr = BK_KERR_NONE;
    if (!co->topics) {
        *kerr = BK_KERR_COORDINATOR_NOT_AVAILABLE;
        return BK_ENOENT;
    }
    if (bk_topics_get(co->topics, BK_OFFSETS_TOPIC, strlen(BK_OFFSETS_TOPIC)))
        return 0;
    /* A replication factor above the number of (live) brokers could never
     * be met: min(offsets.topic.replication.factor, live brokers) - 1 on a
     * single node. (Kafka refuses to create the topic instead.) */
    int16_t rf = (int16_t)co->cfg->offsets_topic_replication_factor;
    int32_t maxrf = bk_topics_cluster(co->topics) ? bk_topics_max_rf(co->topics) : 1;
    if (rf > maxrf) {
        bk_log(BK_LOG_WARN,
               "offsets.topic.replication.factor=%d exceeds the %d live broker(s); "
               "creating %s with replication factor %d",
               rf, maxrf, BK_OFFSETS_TOPIC, maxrf);
        rf = (int16_t)maxrf;
    }
    char segb[16];
    snprintf(segb, sizeof segb, "%d", (int)co->cfg->offsets_topic_segment_bytes);
    bk_kv kv[] = {{"cleanup.policy", "compact"},
                  {"compression.type", "producer"},
                  {"segment.bytes", segb}};
    char msg[256];
    int r = bk_topics_create(co->topics, BK_OFFSETS_TOPIC, strlen(BK_OFFSETS_TOPIC),
                             co->cfg->offsets_topic_num_partitions, rf, kv, 3, false, kerr, msg,
                             sizeof msg);
    if (r != 0) {
        bk_log(BK_LOG_ERROR, "cannot create %s: %s", BK_OFFSETS_TOPIC, msg);
        if (*kerr == BK_KERR_NONE)
            *kerr = BK_KERR_COORDINATOR_NOT_AVAILABLE;
        return r;
    }
    bk_log(BK_LOG_INFO, "created %s with %d partitions", BK_OFFSETS_TOPIC,
           co->cfg->offsets_topic_num_partitions);
    return 0;
}

/* Partitions of __consumer_offsets (the configured count until it exists). */
static int32_t offsets_nparts(bk_coord *co)
{
    bk_topic *tp =
        co->topics ? bk_topics_get(co->topics, BK_OFFSETS_TOPIC, strlen(BK_OFFSETS_TOPIC)) : NULL;
    return tp ? tp->nparts : co->cfg->offsets_topic_num_partitions;
}

int32_t bk_coord_partition_for(bk_coord *co, const char *group, size_t glen)
{
    return bk_group_partition(group, glen, offsets_nparts(co));
}

/* Start a batch for group g's partition; transactional for producer pid
 * when pid >= 0 (producer id/epoch set, sequence -1, as Kafka's coordinator
 * writes TxnOffsetCommit). Without storage: no-op, 0. */
static int batch_begin_txn(bk_coord *co, const char *group, int64_t pid, int16_t epoch)
{
    co->bb_part = NULL;
    co->bb_open = false;
    co->bb_count = 0;
    co->bb_txn = pid >= 0;
    co->bb_kerr = BK_KERR_NONE;
    co->bb_log_off = -1;
    co->bb_last_off = -1;
    if (!co->topics)
        return 0;
    int16_t kerr;
    if (bk_coord_ensure_topic(co, &kerr) != 0)
        return BK_EIO;
    bk_topic *tp = bk_topics_get(co->topics, BK_OFFSETS_TOPIC, strlen(BK_OFFSETS_TOPIC));
    if (!tp || tp->nparts <= 0)
        return BK_EIO;
    bk_partition *p = &tp->parts[bk_group_partition(group, strlen(group), tp->nparts)];
    if (!p->log || p->log->offline)
        return BK_EIO;
    bk_wr_reset(&co->out);
    bk_batch_opts o = BK_BATCH_OPTS_DEFAULT;
    o.base_offset = bk_plog_leo(p->log);
    o.leader_epoch = p->leader_epoch;
    if (pid >= 0) {
        o.transactional = true;
        o.producer_id = pid;
        o.producer_epoch = epoch;
        o.base_sequence = -1;
    }
    if (bk_batch_builder_init(&co->bb, &co->out, &o) != 0)
        return BK_ENOMEM;
    co->bb_part = p;
    co->bb_open = true;
    return 0;
}

static int batch_begin(bk_coord *co, const char *group)
{
    return batch_begin_txn(co, group, -1, -1);
}

/* Add k (and v, or a tombstone when null_value) to the open batch. */
static void batch_add(bk_coord *co, bool null_value)
{
    if (!co->bb_open)
        return;
    (void)bk_batch_builder_add(&co->bb, bk_wall_ms(), co->k.buf, (int32_t)co->k.len,
                               null_value ? NULL : co->v.buf, null_value ? -1 : (int32_t)co->v.len,
                               NULL, 0);
    co->bb_count++;
}

/* Append the open batch. Sets co->bb_log_off (the batch's base offset; a
 * counter without storage). A transactional batch is first checked against
 * the partition's producer state: a stale producer epoch is refused with
 * co->bb_kerr = INVALID_PRODUCER_EPOCH, as Kafka's append of a coordinator
 * batch does. Its sequence checks do not apply (sequence -1, like Kafka's
 * AppendOrigin.Coordinator), so the other answers are ignored. */
static int batch_commit(bk_coord *co)
{
    if (!co->bb_open) {
        co->bb_log_off = co->mem_log_off++;
        return 0;
    }
    co->bb_open = false;
    int r = bk_batch_builder_finish(&co->bb);
    if (r == 0 && co->bb_count > 0) {
        bk_plog *l = co->bb_part->log;
        int64_t first = bk_plog_leo(l);
        int64_t last = first + co->bb_count - 1;
        const uint8_t *data = co->out.buf + co->bb.start;
        size_t len = co->out.len - co->bb.start;
        if (co->bb_txn) {
            bk_pdup dup;
            const char *msg = NULL;
            int16_t e = bk_plog_check_batch(l, data, len, &dup, &msg);
            if (e == BK_KERR_INVALID_PRODUCER_EPOCH || e == BK_KERR_PRODUCER_FENCED) {
                co->bb_kerr = e;
                bk_batch_builder_fini(&co->bb);
                return BK_EINVAL;
            }
        }
        r = bk_plog_append(l, data, len, first, last, bk_batch_max_timestamp(data), last,
                           bk_wall_ms());
        if (r == 0) {
            co->bb_log_off = first;
            co->bb_last_off = last;
            co->bb_last_part = co->bb_part->index;
            /* The HW: the append hook moves it (cluster mode: with the
             * ISR, the handlers wait for it; single node: the LEO). */
            if (co->append_fn)
                co->append_fn(co->append_ud, co->bb_part, len);
            else
                l->hw = bk_plog_leo(l);
        } else {
            bk_log_rl(BK_LOG_ERROR, "write to %s-%d failed: %s", BK_OFFSETS_TOPIC,
                      co->bb_part->index, bk_strerror(r));
        }
    }
    bk_batch_builder_fini(&co->bb);
    return r;
}

static void key_offset(bk_coord *co, const char *group, const char *topic, size_t tlen,
                       int32_t part)
{
    bk_wr *k = &co->k;
    bk_wr_reset(k);
    bk_wr_i16(k, 1);
    wr_str(k, group, strlen(group));
    wr_str(k, topic, tlen);
    bk_wr_i32(k, part);
}

static void value_offset(bk_coord *co, const goffset *o)
{
    bk_wr *v = &co->v;
    bk_wr_reset(v);
    if (o->expire_ts >= 0) {
        bk_wr_i16(v, 1);
        bk_wr_i64(v, o->offset);
        wr_str(v, o->metadata, strlen(o->metadata));
        bk_wr_i64(v, o->commit_ts);
        bk_wr_i64(v, o->expire_ts);
    } else {
        bk_wr_i16(v, 3);
        bk_wr_i64(v, o->offset);
        bk_wr_i32(v, o->leader_epoch);
        wr_str(v, o->metadata, strlen(o->metadata));
        bk_wr_i64(v, o->commit_ts);
    }
}

static void key_group(bk_coord *co, const char *group)
{
    bk_wr_reset(&co->k);
    bk_wr_i16(&co->k, 2);
    wr_str(&co->k, group, strlen(group));
}

static const gproto *member_proto(const bk_gmember *m, const char *name)
{
    for (int i = 0; name && i < m->nprotos; i++)
        if (strcmp(m->protos[i].name, name) == 0)
            return &m->protos[i];
    return NULL;
}

static void value_group(bk_coord *co, const bk_group *g)
{
    bk_wr *v = &co->v;
    bk_wr_reset(v);
    bk_wr_i16(v, 3);
    const char *pt = g->protocol_type ? g->protocol_type : "";
    wr_str(v, pt, strlen(pt));
    bk_wr_i32(v, g->generation);
    wr_nstr(v, g->protocol);
    wr_nstr(v, g->leader);
    bk_wr_i64(v, g->state_ts);
    bk_wr_i32(v, g->nmembers);
    for (int i = 0; i < g->nmembers; i++) {
        const bk_gmember *m = g->members[i];
        wr_str(v, m->id, strlen(m->id));
        wr_nstr(v, m->instance_id);
        wr_str(v, m->client_id, strlen(m->client_id));
        wr_str(v, m->client_host, strlen(m->client_host));
        bk_wr_i32(v, m->rebalance_ms);
        bk_wr_i32(v, m->session_ms);
        const gproto *p = member_proto(m, g->protocol);
        wr_bytes(v, p ? p->meta : NULL, p ? p->len : 0);
        wr_bytes(v, m->assign, m->assign_len);
    }
}

static int store_group(bk_coord *co, bk_group *g)
{
    int r = batch_begin(co, g->id);
    if (r)
        return r;
    key_group(co, g->id);
    value_group(co, g);
    batch_add(co, false);
    return batch_commit(co);
}

/* ------------------------------------------------------------ loading */

/* The members of a GroupMetadataValue (v0-v3) after `generation`: the
 * group comes back Stable with them (Empty without), each with a fresh
 * session, as Kafka's loadGroup does; members that do not heartbeat expire. */
static char *rd_nstr(bk_rd *rd, bool *null)
{
    int16_t n = bk_rd_i16(rd);
    *null = n < 0;
    const uint8_t *p = bk_rd_take(rd, n < 0 ? 0 : (size_t)n);
    if (rd->err)
        return NULL;
    return xstrndup(n < 0 ? "" : (const char *)p, n < 0 ? 0 : (size_t)n);
}

static uint8_t *rd_bytes(bk_rd *rd, int32_t *len)
{
    int32_t n = bk_rd_i32(rd);
    const uint8_t *p = bk_rd_take(rd, n < 0 ? 0 : (size_t)n);
    *len = 0;
    if (rd->err)
        return NULL;
    uint8_t *b = malloc((size_t)BK_MAX(n, 1));
    if (b && n > 0) {
        memcpy(b, p, (size_t)n);
        *len = n;
    }
    return b;
}

static void restore_members(bk_group *g, bk_rd *v, int16_t vv)
{
    bool null;
    char *proto = rd_nstr(v, &null);
    if (null) {
        free(proto);
        proto = NULL;
    }
    char *leader = rd_nstr(v, &null);
    if (null) {
        free(leader);
        leader = NULL;
    }
    if (vv >= 2)
        (void)bk_rd_i64(v); /* current_state_timestamp */
    int32_t n = bk_rd_i32(v);
    /* drop what an older record left */
    for (int i = 0; i < g->nmembers; i++)
        member_free(g->members[i]);
    g->nmembers = 0;
    set_str(&g->protocol, NULL);
    set_str(&g->leader, NULL);
    g->state = BK_GROUP_EMPTY;
    if (v->err || n < 0 || n > 100000) {
        free(proto);
        free(leader);
        return;
    }
    for (int32_t i = 0; i < n && !v->err; i++) {
        bk_gmember *m = calloc(1, sizeof *m);
        if (!m)
            break;
        m->g = g;
        m->id = rd_nstr(v, &null);
        if (vv >= 3) {
            m->instance_id = rd_nstr(v, &null);
            if (null) {
                free(m->instance_id);
                m->instance_id = NULL;
            }
        }
        m->client_id = rd_nstr(v, &null);
        m->client_host = rd_nstr(v, &null);
        m->rebalance_ms = vv >= 1 ? bk_rd_i32(v) : 0;
        m->session_ms = bk_rd_i32(v);
        if (vv == 0)
            m->rebalance_ms = m->session_ms;
        m->protos = calloc(1, sizeof *m->protos);
        if (m->protos) {
            m->nprotos = 1;
            m->protos[0].name = strdup(proto ? proto : "");
            m->protos[0].meta = rd_bytes(v, &m->protos[0].len);
        }
        m->assign = rd_bytes(v, &m->assign_len);
        m->last_hb = bk_now_ms();
        if (v->err || !m->id || !m->client_id || !m->client_host || !m->protos ||
            !m->protos[0].name || !m->protos[0].meta || !m->assign) {
            member_free(m);
            break;
        }
        bk_gmember **mv = bk_vec_grow(g->members, g->nmembers, &g->capmembers, sizeof *mv, 8);
        if (!mv) {
            member_free(m);
            break;
        }
        g->members = mv;
        g->members[g->nmembers++] = m;
    }
    if (g->nmembers > 0) {
        g->protocol = proto;
        g->leader =
            leader && member_find(g, leader, strlen(leader)) ? leader : strdup(g->members[0]->id);
        if (g->leader != leader)
            free(leader);
        g->state = BK_GROUP_STABLE;
    } else {
        free(proto);
        free(leader);
    }
}

/* One record of a data batch. log_off: the batch's first offset. A
 * transactional batch's offsets become pending for its producer id. */
static int load_record(bk_coord *co, const bk_batch_info *bi, int64_t log_off, const bk_record *rec)
{
    if (!rec->key || rec->key_len < 2)
        return 0;
    bk_rd k;
    bk_rd_init(&k, rec->key, (size_t)rec->key_len);
    int16_t kv = bk_rd_i16(&k);
    if (kv == 0 || kv == 1) {
        int16_t gl = bk_rd_i16(&k);
        const uint8_t *gp = bk_rd_take(&k, gl < 0 ? 0 : (size_t)gl);
        int16_t tl = bk_rd_i16(&k);
        const uint8_t *tpn = bk_rd_take(&k, tl < 0 ? 0 : (size_t)tl);
        int32_t part = bk_rd_i32(&k);
        if (k.err || gl < 0 || tl < 0)
            return 0;
        bk_group *g = group_find(co, (const char *)gp, (size_t)gl, NULL);
        if (!rec->value) {
            if (g && bi->transactional) {
                gtxn *t = txn_find(g, bi->producer_id);
                goffset *o = t ? off_find(&t->offs, (const char *)tpn, (size_t)tl, part) : NULL;
                if (o)
                    off_del(&t->offs, o);
                if (t && t->offs.n == 0)
                    txn_del(g, t);
            } else if (g) {
                goffset *o = off_find(&g->offs, (const char *)tpn, (size_t)tl, part);
                if (o)
                    off_del(&g->offs, o);
                txn_drop_partition(g, (const char *)tpn, (size_t)tl, part);
            }
            return 0;
        }
        bk_rd v;
        bk_rd_init(&v, rec->value, (size_t)rec->value_len);
        int16_t vv = bk_rd_i16(&v);
        int64_t off = bk_rd_i64(&v);
        int32_t epoch = -1;
        if (vv >= 3)
            epoch = bk_rd_i32(&v);
        if (vv > 3)
            return 0; /* flexible v4: not written by us */
        int16_t ml = bk_rd_i16(&v);
        const uint8_t *mp = bk_rd_take(&v, ml < 0 ? 0 : (size_t)ml);
        int64_t cts = bk_rd_i64(&v);
        int64_t ets = vv == 1 ? bk_rd_i64(&v) : -1;
        if (v.err)
            return 0;
        if (!g && !(g = group_add(co, (const char *)gp, (size_t)gl)))
            return BK_ENOMEM;
        oset *dst = &g->offs;
        if (bi->transactional) {
            gtxn *t = txn_get(g, bi->producer_id, bi->producer_epoch);
            if (!t)
                return BK_ENOMEM;
            t->epoch = bi->producer_epoch;
            dst = &t->offs;
        }
        return off_set(dst, (const char *)tpn, (size_t)tl, part, off, epoch, (const char *)mp,
                       ml < 0 ? 0 : (size_t)ml, cts, ets, log_off);
    }
    if (kv == 2) {
        int16_t gl = bk_rd_i16(&k);
        const uint8_t *gp = bk_rd_take(&k, gl < 0 ? 0 : (size_t)gl);
        if (k.err || gl < 0)
            return 0;
        bk_group *g = group_find(co, (const char *)gp, (size_t)gl, NULL);
        if (!rec->value) {
            if (g)
                group_remove(co, g);
            return 0;
        }
        bk_rd v;
        bk_rd_init(&v, rec->value, (size_t)rec->value_len);
        int16_t vv = bk_rd_i16(&v);
        if (vv < 0 || vv > 3)
            return 0;
        int16_t pl = bk_rd_i16(&v);
        const uint8_t *pp = bk_rd_take(&v, pl < 0 ? 0 : (size_t)pl);
        int32_t gen = bk_rd_i32(&v);
        if (v.err)
            return 0;
        if (!g && !(g = group_add(co, (const char *)gp, (size_t)gl)))
            return BK_ENOMEM;
        g->generation = gen;
        free(g->protocol_type);
        g->protocol_type = pl > 0 ? xstrndup((const char *)pp, (size_t)pl) : NULL;
        restore_members(g, &v, vv);
        return 0;
    }
    return 0; /* unknown key version: skip */
}

/* A control batch: a transaction marker (key: int16 version, int16 type
 * 0 abort / 1 commit) completes its producer's pending offsets of the
 * groups stored on this partition. Other control types are skipped. */
static void load_marker(bk_coord *co, bk_partition *p, const bk_batch_info *bi)
{
    bk_rec_iter it;
    bk_record rec;
    bk_rec_iter_init(&it, bi->records, bi->records_len, bi->record_count);
    if (!bk_rec_iter_next(&it, &rec) || !rec.key || rec.key_len < 4)
        return;
    bk_rd k;
    bk_rd_init(&k, rec.key, (size_t)rec.key_len);
    (void)bk_rd_i16(&k); /* version */
    int16_t type = bk_rd_i16(&k);
    if (k.err || (type != 0 && type != 1))
        return;
    txn_marker(co, p->index, p->topic->nparts, bi->producer_id, type == 1);
}

typedef struct load_ctx {
    bk_coord *co;
    bk_partition *p;
    int64_t from; /* records below it are skipped (the log start) */
    uint64_t nrec;
} load_ctx;

static int load_batch(void *ud, const bk_batch_info *bi)
{
    load_ctx *x = ud;
    if (bi->compression != BK_COMPRESSION_NONE) {
        bk_log_rl(BK_LOG_WARN, "%s-%d: skipping a compressed batch at offset %lld",
                  BK_OFFSETS_TOPIC, x->p->index, (long long)bi->base_offset);
        return 0;
    }
    if (bi->control) {
        load_marker(x->co, x->p, bi);
        return 0;
    }
    bk_rec_iter it;
    bk_record rec;
    int64_t first = -1;
    bk_rec_iter_init(&it, bi->records, bi->records_len, bi->record_count);
    while (bk_rec_iter_next(&it, &rec)) {
        if (first < 0)
            first = bi->base_offset + rec.offset_delta;
        if (bi->base_offset + rec.offset_delta < x->from)
            continue;
        int rc = load_record(x->co, bi, first, &rec);
        if (rc)
            return rc;
        x->nrec++;
    }
    return 0;
}

static int load_partition(bk_coord *co, bk_partition *p, uint64_t *nrec)
{
    if (!p->log)
        return 0;
    load_ctx x = {co, p, p->log->log_start, 0};
    int rc = bk_plog_foreach_batch(p->log, p->log->log_start, load_batch, &x);
    *nrec += x.nrec;
    return rc;
}

int bk_coord_load(bk_coord *co)
{
    if (!co->topics)
        return 0;
    bk_topic *tp = bk_topics_get(co->topics, BK_OFFSETS_TOPIC, strlen(BK_OFFSETS_TOPIC));
    if (!tp)
        return 0;
    uint64_t n = 0;
    for (int32_t i = 0; i < tp->nparts; i++) {
        int r = load_partition(co, &tp->parts[i], &n);
        if (r)
            return r;
    }
    bk_log(BK_LOG_INFO, "loaded %d groups from %llu records of %s", co->ngroups,
           (unsigned long long)n, BK_OFFSETS_TOPIC);
    return 0;
}

static void join_error(bk_gmember *m, int16_t err);
static void sync_error(bk_gmember *m, int16_t err);

/* The groups of partition idx: parked Join/Sync answered NOT_COORDINATOR
 * (their waiters detached), then dropped. */
static int drop_partition(bk_coord *co, int32_t idx)
{
    int32_t nparts = offsets_nparts(co);
    int n = 0;
    for (int i = 0; i < co->ngroups;) {
        bk_group *g = co->groups[i];
        if (bk_group_partition(g->id, strlen(g->id), nparts) != idx) {
            i++;
            continue;
        }
        for (int j = 0; j < g->nmembers; j++) {
            join_error(g->members[j], BK_KERR_NOT_COORDINATOR);
            sync_error(g->members[j], BK_KERR_NOT_COORDINATOR);
        }
        group_remove(co, g);
        n++;
    }
    return n;
}

int bk_coord_unload_partition(bk_coord *co, int32_t idx)
{
    int n = drop_partition(co, idx);
    if (n)
        bk_log(BK_LOG_INFO, "%s-%d: unloaded %d groups", BK_OFFSETS_TOPIC, idx, n);
    return 0;
}

int bk_coord_load_partition(bk_coord *co, int32_t idx)
{
    drop_partition(co, idx);
    if (!co->topics)
        return 0;
    bk_partition *p = bk_topics_partition(co->topics, BK_OFFSETS_TOPIC, strlen(BK_OFFSETS_TOPIC), idx);
    if (!p)
        return 0;
    uint64_t n = 0;
    int before = co->ngroups;
    int r = load_partition(co, p, &n);
    bk_log(BK_LOG_INFO, "%s-%d: loaded %d groups from %llu records", BK_OFFSETS_TOPIC, idx,
           co->ngroups - before, (unsigned long long)n);
    return r;
}

/* ------------------------------------------------------------ life cycle */

bk_coord *bk_coord_new(const bk_config *cfg, bk_topics *topics, bk_coord_append_fn *fn, void *ud)
{
    bk_coord *co = calloc(1, sizeof *co);
    if (!co)
        return NULL;
    co->cfg = cfg;
    co->topics = topics;
    co->append_fn = fn;
    co->append_ud = ud;
    co->bb_last_off = -1;
    bk_wr_init(&co->out, 0);
    bk_wr_init(&co->k, 0);
    bk_wr_init(&co->v, 0);
    return co;
}

void bk_coord_free(bk_coord *co)
{
    if (!co)
        return;
    for (int i = 0; i < co->ngroups; i++)
        group_free(co->groups[i]);
    free(co->groups);
    bk_wr_fini(&co->out);
    bk_wr_fini(&co->k);
    bk_wr_fini(&co->v);
    free(co);
}

/* ------------------------------------------------------------ rebalance */

static void answer_join(bk_gmember *m, const bk_join_out *o)
{
    bk_gwait *w = m->join_wait;
    if (!w)
        return;
    m->join_wait = NULL;
    w->member = NULL;
    w->on_join(w, o);
}

static void answer_sync(bk_gmember *m, const bk_sync_out *o)
{
    bk_gwait *w = m->sync_wait;
    if (!w)
        return;
    m->sync_wait = NULL;
    w->member = NULL;
    w->on_sync(w, o);
}

static void join_error(bk_gmember *m, int16_t err)
{
    bk_join_out o = {.error = err, .generation = -1, .leader = "", .member_id = m->id};
    answer_join(m, &o);
}

static void sync_error(bk_gmember *m, int16_t err)
{
    bk_sync_out o = {.error = err};
    answer_sync(m, &o);
}

static void member_remove(bk_group *g, bk_gmember *m)
{
    join_error(m, BK_KERR_UNKNOWN_MEMBER_ID);
    sync_error(m, BK_KERR_UNKNOWN_MEMBER_ID);
    for (int i = 0; i < g->nmembers; i++)
        if (g->members[i] == m) {
            memmove(&g->members[i], &g->members[i + 1],
                    (size_t)(g->nmembers - i - 1) * sizeof *g->members);
            g->nmembers--;
            break;
        }
    if (g->leader && strcmp(g->leader, m->id) == 0) {
        free(g->leader);
        g->leader = g->nmembers ? strdup(g->members[0]->id) : NULL;
    }
    member_free(m);
}

static int32_t max_rebalance_ms(const bk_group *g)
{
    int32_t t = 0;
    for (int i = 0; i < g->nmembers; i++)
        t = BK_MAX(t, g->members[i]->rebalance_ms);
    return t;
}

static void prepare_rebalance(bk_coord *co, bk_group *g)
{
    if (g->state == BK_GROUP_COMPLETING_REBALANCE)
        for (int i = 0; i < g->nmembers; i++) {
            bk_gmember *m = g->members[i];
            free(m->assign);
            m->assign = NULL;
            m->assign_len = 0;
            sync_error(m, BK_KERR_REBALANCE_IN_PROGRESS);
        }
    int64_t now = bk_now_ms();
    if (g->state == BK_GROUP_EMPTY && co->cfg->group_initial_rebalance_delay_ms > 0) {
        g->initial_delay = true;
        g->rebalance_deadline =
            now + BK_MIN(co->cfg->group_initial_rebalance_delay_ms, max_rebalance_ms(g));
        g->initial_limit = now + max_rebalance_ms(g);
    } else {
        g->initial_delay = false;
        g->rebalance_deadline = now + max_rebalance_ms(g);
    }
    set_state(g, BK_GROUP_PREPARING_REBALANCE);
}

/* Kafka's selectProtocol: candidates every member supports, each member
 * votes for its most preferred candidate, most votes wins. */
static const char *select_protocol(const bk_group *g)
{
    if (g->nmembers == 0)
        return NULL;
    const bk_gmember *m0 = g->members[0];
    const char *best = NULL;
    int best_votes = -1;
    for (int c = 0; c < m0->nprotos; c++) {
        const char *cand = m0->protos[c].name;
        bool all = true;
        for (int i = 1; i < g->nmembers && all; i++)
            all = member_proto(g->members[i], cand) != NULL;
        if (!all)
            continue;
        int votes = 0;
        for (int i = 0; i < g->nmembers; i++) {
            const bk_gmember *m = g->members[i];
            for (int k = 0; k < m->nprotos; k++) {
                const char *pn = m->protos[k].name;
                bool sup = true;
                for (int j = 0; j < g->nmembers && sup; j++)
                    sup = member_proto(g->members[j], pn) != NULL;
                if (!sup)
                    continue;
                if (strcmp(pn, cand) == 0)
                    votes++;
                break;
            }
        }
        if (votes > best_votes) {
            best = cand;
            best_votes = votes;
        }
    }
    return best;
}

static void complete_join(bk_coord *co, bk_group *g)
{
    /* Members that did not rejoin in time are removed. */
    for (int i = 0; i < g->nmembers;) {
        bk_gmember *m = g->members[i];
        if (!m->join_wait) {
            bk_log(BK_LOG_INFO, "group %s: member %s did not rejoin in time; removed", g->id,
                   m->id);
            member_remove(g, m);
            continue;
        }
        i++;
    }
    g->generation++;
    g->initial_delay = false;
    if (g->nmembers == 0) {
        free(g->protocol);
        g->protocol = NULL;
        free(g->leader);
        g->leader = NULL;
        set_state(g, BK_GROUP_EMPTY);
        (void)store_group(co, g);
        return;
    }
    set_str(&g->protocol, select_protocol(g));
    if (!g->leader || !member_find(g, g->leader, strlen(g->leader)))
        set_str(&g->leader, g->members[0]->id);
    set_state(g, BK_GROUP_COMPLETING_REBALANCE);
    bk_log(BK_LOG_INFO, "group %s: generation %d with %d members, protocol %s, leader %s", g->id,
           g->generation, g->nmembers, g->protocol ? g->protocol : "-", g->leader);

    bk_join_member *jm = calloc((size_t)g->nmembers, sizeof *jm);
    int n = g->nmembers;
    for (int i = 0; jm && i < n; i++) {
        const gproto *p = member_proto(g->members[i], g->protocol);
        jm[i].member_id = g->members[i]->id;
        jm[i].instance_id = g->members[i]->instance_id;
        jm[i].meta = p ? p->meta : NULL;
        jm[i].meta_len = p ? p->len : 0;
    }
    /* Answer every waiting member; answers may not change the group. */
    bk_gmember **snap = malloc((size_t)n * sizeof *snap);
    if (snap)
        memcpy(snap, g->members, (size_t)n * sizeof *snap);
    for (int i = 0; snap && i < n; i++) {
        bk_gmember *m = snap[i];
        m->is_new = false;
        m->last_hb = bk_now_ms();
        bool leader = strcmp(m->id, g->leader) == 0;
        bk_join_out o = {.error = BK_KERR_NONE,
                         .generation = g->generation,
                         .protocol_type = g->protocol_type,
                         .protocol = g->protocol,
                         .leader = g->leader,
                         .member_id = m->id,
                         .nmembers = leader && jm ? n : 0,
                         .members = leader ? jm : NULL};
        answer_join(m, &o);
    }
    free(snap);
    free(jm);
}

static bool all_joined(const bk_group *g)
{
    for (int i = 0; i < g->nmembers; i++)
        if (!g->members[i]->join_wait)
            return false;
    return g->npending == 0;
}

static void try_complete_join(bk_coord *co, bk_group *g)
{
    if (g->state != BK_GROUP_PREPARING_REBALANCE || g->initial_delay)
        return;
    if (all_joined(g))
        complete_join(co, g);
}

/* A member left or expired: rebalance what remains. */
static void after_member_gone(bk_coord *co, bk_group *g)
{
    switch (g->state) {
    case BK_GROUP_STABLE:
    case BK_GROUP_COMPLETING_REBALANCE:
        prepare_rebalance(co, g);
        /* fall through */
    case BK_GROUP_PREPARING_REBALANCE:
        if (g->nmembers == 0 && g->state == BK_GROUP_PREPARING_REBALANCE && !g->initial_delay)
            complete_join(co, g);
        else
            try_complete_join(co, g);
        break;
    default:
        break;
    }
}

/* offsets.retention.minutes: offsets of an Empty group expire that long
 * after the group became empty (or at their own expire timestamp when the
 * commit carried a retention time); a group left without offsets and
 * members is removed with a tombstone (Kafka's cleanupGroupMetadata).
 * Pending transactional offsets keep their partition's committed offset
 * from expiring, and keep the group (Kafka's hasOffsets counts them): an
 * expiry tombstone would drop them on replay (see txn_drop_partition)
 * while they stayed pending in memory.
 * Returns true when g was removed. */
static bool offset_expired(const bk_group *g, const goffset *o, int64_t wall, int64_t retention)
{
    if (txn_pending(g, o->topic, strlen(o->topic), o->partition))
        return false;
    return o->expire_ts >= 0 ? wall >= o->expire_ts : wall >= g->state_ts + retention;
}

static bool expire_group(bk_coord *co, bk_group *g, int64_t wall)
{
    if (g->state != BK_GROUP_EMPTY || g->npending > 0)
        return false;
    int64_t retention = (int64_t)co->cfg->offsets_retention_minutes * 60000;
    int nexp = 0;
    for (int i = 0; i < g->offs.n; i++)
        if (offset_expired(g, &g->offs.v[i], wall, retention))
            nexp++;
    bool drop_group = nexp == g->offs.n && g->ntxns == 0;
    if (nexp == 0 && !drop_group)
        return false;
    if (batch_begin(co, g->id) != 0)
        return false;
    for (int i = 0; i < g->offs.n; i++) {
        const goffset *o = &g->offs.v[i];
        if (offset_expired(g, o, wall, retention)) {
            key_offset(co, g->id, o->topic, strlen(o->topic), o->partition);
            batch_add(co, true);
        }
    }
    if (drop_group && g->generation > 0) {
        key_group(co, g->id);
        batch_add(co, true);
    }
    if (batch_commit(co) != 0)
        return false;
    for (int i = 0; i < g->offs.n;) {
        goffset *o = &g->offs.v[i];
        if (offset_expired(g, o, wall, retention)) {
            off_del(&g->offs, o);
            continue;
        }
        i++;
    }
    if (nexp)
        bk_log(BK_LOG_INFO, "group %s: %d committed offsets expired", g->id, nexp);
    if (drop_group) {
        group_remove(co, g);
        return true;
    }
    return false;
}

void bk_coord_tick(bk_coord *co, int64_t now)
{
    int64_t wall = bk_wall_ms();
    if (now >= co->next_expiry_ms) {
        co->next_expiry_ms = now + EXPIRY_CHECK_MS;
        for (int gi = 0; gi < co->ngroups;)
            if (!expire_group(co, co->groups[gi], wall))
                gi++;
    }
    for (int gi = 0; gi < co->ngroups; gi++) {
        bk_group *g = co->groups[gi];
        for (int i = 0; i < g->npending;)
            if (now > g->pending[i].deadline)
                pending_del(g, i);
            else
                i++;
        bool gone = false;
        for (int i = 0; i < g->nmembers;) {
            bk_gmember *m = g->members[i];
            bool keep = m->join_wait || (m->sync_wait && g->state == BK_GROUP_COMPLETING_REBALANCE);
            if (!keep && now > m->last_hb + m->session_ms) {
                bk_log(BK_LOG_INFO, "group %s: member %s session expired", g->id, m->id);
                member_remove(g, m);
                gone = true;
                continue;
            }
            i++;
        }
        if (gone)
            after_member_gone(co, g);
        if (g->state == BK_GROUP_PREPARING_REBALANCE) {
            if (g->initial_delay && now >= g->rebalance_deadline) {
                /* The initial delay is over: now a normal rebalance. */
                g->initial_delay = false;
                g->rebalance_deadline = now + max_rebalance_ms(g);
                try_complete_join(co, g);
            } else if (!g->initial_delay && now >= g->rebalance_deadline) {
                complete_join(co, g);
            } else {
                try_complete_join(co, g);
            }
        }
    }
}

/* ------------------------------------------------------------ JoinGroup */

static bool protos_equal(const bk_gmember *m, const bk_join_args *a)
{
    if (m->nprotos != a->nprotos)
        return false;
    for (int i = 0; i < a->nprotos; i++) {
        const gproto *p = &m->protos[i];
        const bk_join_proto *q = &a->protos[i];
        if (!seq(p->name, q->name, q->name_len) || p->len != q->meta_len ||
            (p->len > 0 && memcmp(p->meta, q->meta, (size_t)p->len) != 0))
            return false;
    }
    return true;
}

static int set_protos(bk_gmember *m, const bk_join_args *a)
{
    gproto *v = calloc((size_t)BK_MAX(a->nprotos, 1), sizeof *v);
    if (!v)
        return BK_ENOMEM;
    for (int i = 0; i < a->nprotos; i++) {
        v[i].name = xstrndup(a->protos[i].name, a->protos[i].name_len);
        v[i].len = BK_MAX(a->protos[i].meta_len, 0);
        v[i].meta = malloc((size_t)BK_MAX(v[i].len, 1));
        if (!v[i].name || !v[i].meta) {
            protos_free(v, i + 1);
            return BK_ENOMEM;
        }
        if (v[i].len)
            memcpy(v[i].meta, a->protos[i].meta, (size_t)v[i].len);
    }
    protos_free(m->protos, m->nprotos);
    m->protos = v;
    m->nprotos = a->nprotos;
    return 0;
}

/* Do the group's protocols allow this member's (Kafka's supportsProtocols)? */
static bool supports(const bk_group *g, const bk_join_args *a)
{
    if (a->nprotos == 0 || a->protocol_type_len == 0)
        return false;
    if (g->nmembers == 0)
        return true;
    if (!seq(g->protocol_type, a->protocol_type, a->protocol_type_len))
        return false;
    for (int i = 0; i < a->nprotos; i++) {
        bool all = true;
        char *nm = xstrndup(a->protos[i].name, a->protos[i].name_len);
        for (int k = 0; nm && k < g->nmembers && all; k++)
            all = member_proto(g->members[k], nm) != NULL;
        free(nm);
        if (all)
            return true;
    }
    return false;
}

static void join_reply_now(bk_gwait *w, int16_t err, const char *member_id)
{
    bk_join_out o = {.error = err, .generation = -1, .leader = "", .member_id = member_id};
    w->on_join(w, &o);
}

static bk_gmember *member_add(bk_group *g, const char *id, const bk_join_args *a)
{
    bk_gmember **v = bk_vec_grow(g->members, g->nmembers, &g->capmembers, sizeof *v, 8);
    if (!v)
        return NULL;
    g->members = v;
    bk_gmember *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->g = g;
    m->id = strdup(id);
    m->instance_id = a->instance_id ? xstrndup(a->instance_id, a->instance_id_len) : NULL;
    m->client_id = strdup(a->client_id ? a->client_id : "");
    m->client_host = strdup(a->client_host ? a->client_host : "");
    if (!m->id || (a->instance_id && !m->instance_id) || !m->client_id || !m->client_host ||
        set_protos(m, a) != 0) {
        member_free(m);
        return NULL;
    }
    m->session_ms = a->session_ms;
    m->rebalance_ms = a->rebalance_ms;
    m->last_hb = bk_now_ms();
    m->is_new = true;
    if (g->nmembers == 0) { /* the first member sets the group's protocol type */
        free(g->protocol_type);
        g->protocol_type = xstrndup(a->protocol_type, a->protocol_type_len);
    }
    g->members[g->nmembers++] = m;
    if (!g->leader)
        g->leader = strdup(m->id);
    return m;
}

/* The member joins (or rejoins) the rebalance and waits. */
static int join_and_wait(bk_coord *co, bk_group *g, bk_gmember *m, bk_gwait *w)
{
    if (m->join_wait && m->join_wait != w)
        join_error(m, BK_KERR_UNKNOWN_MEMBER_ID); /* a stale duplicate request */
    m->join_wait = w;
    w->member = m;
    m->last_hb = bk_now_ms();
    if (g->state != BK_GROUP_PREPARING_REBALANCE)
        prepare_rebalance(co, g);
    else if (g->initial_delay) {
        /* InitialDelayedJoin: every new member extends the delay. */
        int64_t until = bk_now_ms() + co->cfg->group_initial_rebalance_delay_ms;
        g->rebalance_deadline = BK_MIN(BK_MAX(g->rebalance_deadline, until), g->initial_limit);
    }
    try_complete_join(co, g);
    return w->member ? BK_EAGAIN : 0;
}

static void reply_current(bk_group *g, bk_gmember *m, bk_gwait *w, bool with_members, bool skip)
{
    int n = with_members ? g->nmembers : 0;
    bk_join_member *jm = n ? calloc((size_t)n, sizeof *jm) : NULL;
    for (int i = 0; jm && i < n; i++) {
        const gproto *p = member_proto(g->members[i], g->protocol);
        jm[i].member_id = g->members[i]->id;
        jm[i].instance_id = g->members[i]->instance_id;
        jm[i].meta = p ? p->meta : NULL;
        jm[i].meta_len = p ? p->len : 0;
    }
    bk_join_out o = {.error = BK_KERR_NONE,
                     .generation = g->generation,
                     .protocol_type = g->protocol_type,
                     .protocol = g->protocol,
                     .leader = g->leader ? g->leader : "",
                     .member_id = m->id,
                     .skip_assignment = skip,
                     .nmembers = jm ? n : 0,
                     .members = jm};
    w->on_join(w, &o);
    free(jm);
}

int bk_coord_join(bk_coord *co, const bk_join_args *a, bk_gwait *w)
{
    w->member = NULL;
    bool unknown = a->member_id_len == 0;
    char mid[512];
    snprintf(mid, sizeof mid, "%.*s", (int)BK_MIN(a->member_id_len, 500),
             a->member_id ? a->member_id : "");
    if (a->group_len == 0) {
        join_reply_now(w, BK_KERR_INVALID_GROUP_ID, mid);
        return 0;
    }
    if (a->session_ms < co->cfg->group_min_session_timeout_ms ||
        a->session_ms > co->cfg->group_max_session_timeout_ms) {
        join_reply_now(w, BK_KERR_INVALID_SESSION_TIMEOUT, mid);
        return 0;
    }
    bk_group *g = group_find(co, a->group, a->group_len, NULL);
    if (!g) {
        if (!unknown) {
            join_reply_now(w, BK_KERR_UNKNOWN_MEMBER_ID, mid);
            return 0;
        }
        if (!(g = group_add(co, a->group, a->group_len)))
            return BK_ENOMEM;
    }
    if (!supports(g, a)) {
        join_reply_now(w, BK_KERR_INCONSISTENT_GROUP_PROTOCOL, mid);
        return 0;
    }
    if (unknown) {
        /* A new member (not a static member taking its old place) is
         * refused once the group is full, members waiting for their id
         * (MEMBER_ID_REQUIRED) included, as Kafka counts them. */
        bool replaces = a->instance_id && member_by_instance(g, a->instance_id, a->instance_id_len);
        if (!replaces && g->nmembers + g->npending >= co->cfg->group_max_size) {
            join_reply_now(w, BK_KERR_GROUP_MAX_SIZE_REACHED, mid);
            return 0;
        }
        if (a->instance_id) {
            bk_gmember *old = member_by_instance(g, a->instance_id, a->instance_id_len);
            char nid[512];
            member_id_new(nid, sizeof nid, "");
            char full[600];
            snprintf(full, sizeof full, "%.*s%s", (int)BK_MIN(a->instance_id_len, 300),
                     a->instance_id, nid);
            if (old) {
                /* A static member restarted: it takes the old member's place. */
                bool same = protos_equal(old, a);
                bool was_leader = g->leader && strcmp(g->leader, old->id) == 0;
                join_error(old, BK_KERR_FENCED_INSTANCE_ID);
                sync_error(old, BK_KERR_FENCED_INSTANCE_ID);
                char *nidp = strdup(full);
                if (!nidp)
                    return BK_ENOMEM;
                free(old->id);
                old->id = nidp;
                if (was_leader)
                    set_str(&g->leader, nidp);
                old->session_ms = a->session_ms;
                old->rebalance_ms = a->rebalance_ms;
                old->last_hb = bk_now_ms();
                free(old->client_id);
                old->client_id = strdup(a->client_id ? a->client_id : "");
                free(old->client_host);
                old->client_host = strdup(a->client_host ? a->client_host : "");
                if (g->state == BK_GROUP_STABLE && same) {
                    bk_log(BK_LOG_INFO,
                           "group %s: static member %.*s rejoined as %s (no rebalance)", g->id,
                           (int)a->instance_id_len, a->instance_id, old->id);
                    (void)store_group(co, g);
                    reply_current(g, old, w, was_leader, was_leader && a->supports_skip_assignment);
                    return 0;
                }
                if (!same && set_protos(old, a) != 0)
                    return BK_ENOMEM;
                if (g->state == BK_GROUP_COMPLETING_REBALANCE && same) {
                    reply_current(g, old, w, false, false);
                    return 0;
                }
                return join_and_wait(co, g, old, w);
            }
            bk_gmember *m = member_add(g, full, a);
            if (!m)
                return BK_ENOMEM;
            return join_and_wait(co, g, m, w);
        }
        char nid[600];
        member_id_new(nid, sizeof nid, a->client_id ? a->client_id : "");
        if (a->require_known_member_id) {
            gpending *pv = realloc(g->pending, (size_t)(g->npending + 1) * sizeof *pv);
            if (!pv)
                return BK_ENOMEM;
            g->pending = pv;
            if (!(pv[g->npending].id = strdup(nid)))
                return BK_ENOMEM;
            pv[g->npending].deadline = bk_now_ms() + a->session_ms;
            g->npending++;
            join_reply_now(w, BK_KERR_MEMBER_ID_REQUIRED, nid);
            return 0;
        }
        bk_gmember *m = member_add(g, nid, a);
        if (!m)
            return BK_ENOMEM;
        return join_and_wait(co, g, m, w);
    }

    /* A known member id. */
    bk_gmember *m = member_find(g, a->member_id, a->member_id_len);
    if (!m) {
        int pi = pending_find(g, a->member_id, a->member_id_len);
        if (pi < 0) {
            bk_gmember *si =
                a->instance_id ? member_by_instance(g, a->instance_id, a->instance_id_len) : NULL;
            join_reply_now(w, si ? BK_KERR_FENCED_INSTANCE_ID : BK_KERR_UNKNOWN_MEMBER_ID, mid);
            return 0;
        }
        pending_del(g, pi);
        if (!(m = member_add(g, mid, a)))
            return BK_ENOMEM;
        return join_and_wait(co, g, m, w);
    }
    if (a->instance_id &&
        (!m->instance_id || !seq(m->instance_id, a->instance_id, a->instance_id_len))) {
        join_reply_now(w, BK_KERR_FENCED_INSTANCE_ID, mid);
        return 0;
    }
    bool same = protos_equal(m, a);
    m->session_ms = a->session_ms;
    m->rebalance_ms = a->rebalance_ms;
    switch (g->state) {
    case BK_GROUP_PREPARING_REBALANCE:
        if (!same && set_protos(m, a) != 0)
            return BK_ENOMEM;
        return join_and_wait(co, g, m, w);
    case BK_GROUP_COMPLETING_REBALANCE:
        if (same) {
            /* A retry of a JoinGroup whose answer was lost. */
            bool leader = g->leader && strcmp(g->leader, m->id) == 0;
            reply_current(g, m, w, leader, false);
            return 0;
        }
        if (set_protos(m, a) != 0)
            return BK_ENOMEM;
        return join_and_wait(co, g, m, w);
    case BK_GROUP_STABLE: {
        bool leader = g->leader && strcmp(g->leader, m->id) == 0;
        if (!leader && same) {
            m->last_hb = bk_now_ms();
            reply_current(g, m, w, false, false);
            return 0;
        }
        if (!same && set_protos(m, a) != 0)
            return BK_ENOMEM;
        return join_and_wait(co, g, m, w);
    }
    default:
        join_reply_now(w, BK_KERR_UNKNOWN_MEMBER_ID, mid);
        return 0;
    }
}

void bk_coord_unwait(bk_coord *co, bk_gwait *w)
{
    (void)co;
    bk_gmember *m = w->member;
    if (!m)
        return;
    if (m->join_wait == w)
        m->join_wait = NULL;
    if (m->sync_wait == w)
        m->sync_wait = NULL;
    w->member = NULL;
}

/* ------------------------------------------------------------ SyncGroup */

static void sync_reply_now(bk_gwait *w, int16_t err)
{
    bk_sync_out o = {.error = err};
    w->on_sync(w, &o);
}

/* Kafka's validateStaticMember / member lookup shared by Sync/Heartbeat/Commit.
 */
static int16_t check_member(bk_group *g, const char *member, size_t mlen, const char *inst,
                            size_t ilen, bk_gmember **out)
{
    *out = NULL;
    if (inst) {
        bk_gmember *si = member_by_instance(g, inst, ilen);
        if (si && !seq(si->id, member, mlen))
            return BK_KERR_FENCED_INSTANCE_ID;
    }
    bk_gmember *m = member_find(g, member, mlen);
    if (!m)
        return BK_KERR_UNKNOWN_MEMBER_ID;
    *out = m;
    return BK_KERR_NONE;
}

int bk_coord_sync(bk_coord *co, const char *group, size_t glen, int32_t generation,
                  const char *member, size_t mlen, const char *instance, size_t ilen,
                  const char *ptype, size_t ptlen, const char *pname, size_t pnlen,
                  const bk_sync_assign *as, int nas, bk_gwait *w)
{
    w->member = NULL;
    bk_group *g = group_find(co, group, glen, NULL);
    if (!g) {
        sync_reply_now(w, BK_KERR_UNKNOWN_MEMBER_ID);
        return 0;
    }
    bk_gmember *m;
    int16_t e = check_member(g, member, mlen, instance, ilen, &m);
    if (e) {
        sync_reply_now(w, e);
        return 0;
    }
    if (generation != g->generation) {
        sync_reply_now(w, BK_KERR_ILLEGAL_GENERATION);
        return 0;
    }
    if ((ptype && !seq(g->protocol_type, ptype, ptlen)) ||
        (pname && !seq(g->protocol, pname, pnlen))) {
        sync_reply_now(w, BK_KERR_INCONSISTENT_GROUP_PROTOCOL);
        return 0;
    }
    m->last_hb = bk_now_ms();
    switch (g->state) {
    case BK_GROUP_PREPARING_REBALANCE:
        sync_reply_now(w, BK_KERR_REBALANCE_IN_PROGRESS);
        return 0;
    case BK_GROUP_COMPLETING_REBALANCE:
        if (m->sync_wait && m->sync_wait != w)
            sync_error(m, BK_KERR_REBALANCE_IN_PROGRESS);
        m->sync_wait = w;
        w->member = m;
        if (g->leader && strcmp(g->leader, m->id) == 0) {
            for (int i = 0; i < g->nmembers; i++) {
                bk_gmember *x = g->members[i];
                free(x->assign);
                x->assign = NULL;
                x->assign_len = 0;
                for (int k = 0; k < nas; k++)
                    if (seq(x->id, as[k].member_id, as[k].member_id_len) && as[k].len > 0) {
                        x->assign = malloc((size_t)as[k].len);
                        if (x->assign) {
                            memcpy(x->assign, as[k].assignment, (size_t)as[k].len);
                            x->assign_len = as[k].len;
                        }
                        break;
                    }
            }
            set_state(g, BK_GROUP_STABLE);
            int r = store_group(co, g);
            bk_gmember **snap = malloc((size_t)g->nmembers * sizeof *snap);
            int n = g->nmembers;
            if (snap)
                memcpy(snap, g->members, (size_t)n * sizeof *snap);
            for (int i = 0; snap && i < n; i++) {
                bk_gmember *x = snap[i];
                bk_sync_out o = {.error = r == 0 ? BK_KERR_NONE : BK_KERR_NOT_COORDINATOR,
                                 .protocol_type = g->protocol_type,
                                 .protocol = g->protocol,
                                 .assignment = x->assign,
                                 .assignment_len = x->assign_len};
                answer_sync(x, &o);
            }
            free(snap);
            if (r != 0)
                prepare_rebalance(co, g);
        }
        return w->member ? BK_EAGAIN : 0;
    case BK_GROUP_STABLE: {
        bk_sync_out o = {.error = BK_KERR_NONE,
                         .protocol_type = g->protocol_type,
                         .protocol = g->protocol,
                         .assignment = m->assign,
                         .assignment_len = m->assign_len};
        w->on_sync(w, &o);
        return 0;
    }
    default:
        sync_reply_now(w, BK_KERR_UNKNOWN_MEMBER_ID);
        return 0;
    }
}

/* ------------------------------------------------------------ Heartbeat, Leave
 */

int16_t bk_coord_heartbeat(bk_coord *co, const char *group, size_t glen, int32_t generation,
                           const char *member, size_t mlen, const char *instance, size_t ilen)
{
    bk_group *g = group_find(co, group, glen, NULL);
    if (!g || g->state == BK_GROUP_EMPTY)
        return BK_KERR_UNKNOWN_MEMBER_ID;
    bk_gmember *m;
    int16_t e = check_member(g, member, mlen, instance, ilen, &m);
    if (e)
        return e;
    if (generation != g->generation)
        return BK_KERR_ILLEGAL_GENERATION;
    m->last_hb = bk_now_ms();
    if (g->state == BK_GROUP_PREPARING_REBALANCE)
        return BK_KERR_REBALANCE_IN_PROGRESS;
    return BK_KERR_NONE;
}

bool bk_coord_group_exists(bk_coord *co, const char *group, size_t glen)
{
    return group_find(co, group, glen, NULL) != NULL;
}

int16_t bk_coord_leave(bk_coord *co, const char *group, size_t glen, const char *member,
                       size_t mlen, const char *instance, size_t ilen)
{
    bk_group *g = group_find(co, group, glen, NULL);
    if (!g)
        return BK_KERR_UNKNOWN_MEMBER_ID;
    bk_gmember *m = NULL;
    if (instance) {
        m = member_by_instance(g, instance, ilen);
        if (!m)
            return BK_KERR_UNKNOWN_MEMBER_ID;
        if (mlen > 0 && !seq(m->id, member, mlen))
            return BK_KERR_FENCED_INSTANCE_ID;
    } else {
        m = member_find(g, member, mlen);
        if (!m) {
            int pi = pending_find(g, member, mlen);
            if (pi >= 0) {
                pending_del(g, pi);
                try_complete_join(co, g);
                return BK_KERR_NONE;
            }
            return BK_KERR_UNKNOWN_MEMBER_ID;
        }
    }
    bk_log(BK_LOG_INFO, "group %s: member %s left", g->id, m->id);
    member_remove(g, m);
    after_member_gone(co, g);
    return BK_KERR_NONE;
}

/* ------------------------------------------------------------ offsets */

/* offset.metadata.max.bytes, per partition. Returns whether any partition
 * is left to write. */
static bool check_metadata(bk_commit_part *parts, int n)
{
    bool any = false;
    for (int i = 0; i < n; i++) {
        if (parts[i].error == BK_KERR_NONE && parts[i].metadata &&
            parts[i].metadata_len > METADATA_MAX_BYTES)
            parts[i].error = BK_KERR_OFFSET_METADATA_TOO_LARGE;
        any |= parts[i].error == BK_KERR_NONE;
    }
    return any;
}

/* Write the offset records of the parts without an error as one batch
 * (transactional for pid >= 0). Returns the error for all of them
 * (Kafka's appendForGroup mapping: no partition or no log ->
 * COORDINATOR_NOT_AVAILABLE, a failed write -> NOT_COORDINATOR, a fenced
 * producer epoch as is); on success co->bb_log_off is where the batch went. */
static int16_t write_offsets(bk_coord *co, bk_group *g, bk_commit_part *parts, int n, int64_t pid,
                             int16_t epoch)
{
    if (batch_begin_txn(co, g->id, pid, epoch) != 0)
        return BK_KERR_COORDINATOR_NOT_AVAILABLE;
    for (int i = 0; i < n; i++) {
        bk_commit_part *c = &parts[i];
        if (c->error != BK_KERR_NONE)
            continue;
        goffset tmp = {.offset = c->offset,
                       .leader_epoch = c->leader_epoch,
                       .metadata = NULL,
                       .commit_ts = c->commit_ts,
                       .expire_ts = c->expire_ts};
        char *md = xstrndup(c->metadata ? c->metadata : "", c->metadata ? c->metadata_len : 0);
        if (!md) {
            c->error = BK_KERR_UNKNOWN_SERVER_ERROR;
            continue;
        }
        tmp.metadata = md;
        key_offset(co, g->id, c->topic, c->topic_len, c->partition);
        value_offset(co, &tmp);
        free(md);
        batch_add(co, false);
    }
    if (batch_commit(co) != 0)
        return co->bb_kerr != BK_KERR_NONE ? co->bb_kerr : BK_KERR_NOT_COORDINATOR;
    return BK_KERR_NONE;
}

bool bk_coord_last_write(const bk_coord *co, int32_t *partition, int64_t *offset)
{
    if (co->bb_last_off < 0)
        return false;
    *partition = co->bb_last_part;
    *offset = co->bb_last_off;
    return true;
}

void bk_coord_commit(bk_coord *co, const char *group, size_t glen, int32_t generation,
                     const char *member, size_t mlen, const char *instance, size_t ilen,
                     bk_commit_part *parts, int n)
{
    co->bb_last_off = -1;
    int16_t gerr = BK_KERR_NONE;
    bk_group *g = group_find(co, group, glen, NULL);
    if (glen == 0)
        gerr = BK_KERR_INVALID_GROUP_ID;
    else if (!g) {
        if (generation < 0) {
            if (!(g = group_add(co, group, glen)))
                gerr = BK_KERR_COORDINATOR_NOT_AVAILABLE;
        } else {
            gerr = BK_KERR_ILLEGAL_GENERATION;
        }
    } else if (!(generation < 0 && g->state == BK_GROUP_EMPTY)) {
        bk_gmember *m = NULL;
        gerr = check_member(g, member ? member : "", member ? mlen : 0, instance, ilen, &m);
        if (gerr == BK_KERR_NONE && generation != g->generation)
            gerr = BK_KERR_ILLEGAL_GENERATION;
        else if (gerr == BK_KERR_NONE && g->state == BK_GROUP_COMPLETING_REBALANCE)
            gerr = BK_KERR_REBALANCE_IN_PROGRESS;
        if (gerr == BK_KERR_NONE)
            m->last_hb = bk_now_ms();
    }
    if (gerr != BK_KERR_NONE) {
        for (int i = 0; i < n; i++)
            if (parts[i].error == BK_KERR_NONE)
                parts[i].error = gerr;
        return;
    }
    if (!check_metadata(parts, n))
        return;
    int16_t werr = write_offsets(co, g, parts, n, -1, -1);
    if (werr != BK_KERR_NONE) {
        for (int i = 0; i < n; i++)
            if (parts[i].error == BK_KERR_NONE)
                parts[i].error = werr;
        return;
    }
    for (int i = 0; i < n; i++) {
        bk_commit_part *c = &parts[i];
        if (c->error == BK_KERR_NONE &&
            off_set(&g->offs, c->topic, c->topic_len, c->partition, c->offset, c->leader_epoch,
                    c->metadata, c->metadata_len, c->commit_ts, c->expire_ts, co->bb_log_off) != 0)
            c->error = BK_KERR_UNKNOWN_SERVER_ERROR;
    }
}

/* ------------------------------------------------------------ transactions */

int16_t bk_coord_txn_commit(bk_coord *co, const char *group, size_t glen, int64_t pid,
                            int16_t epoch, int32_t generation, const char *member, size_t mlen,
                            const char *instance, size_t ilen, bk_commit_part *parts, int n)
{
    int16_t gerr = BK_KERR_NONE;
    bk_group *g = group_find(co, group, glen, NULL);
    /* Kafka's validateOffsetCommit(isTransactional = true): the member is
     * checked only when the request names one (v3+ clients); v0-v2 have
     * neither generation nor member, and any group state is accepted. */
    bool validate = generation >= 0 || mlen > 0 || instance;
    if (glen == 0) {
        gerr = BK_KERR_INVALID_GROUP_ID; /* isValidGroupId: non-empty for this API */
    } else if (pid < 0) {
        gerr = BK_KERR_INVALID_PRODUCER_ID_MAPPING;
    } else if (!g) {
        /* Kafka adds an Empty group, in which no member can be found */
        if (validate)
            gerr = BK_KERR_UNKNOWN_MEMBER_ID;
        else if (!(g = group_add(co, group, glen)))
            gerr = BK_KERR_COORDINATOR_NOT_AVAILABLE;
    } else if (validate) {
        bk_gmember *m = NULL;
        gerr = check_member(g, member ? member : "", member ? mlen : 0, instance, ilen, &m);
        if (gerr == BK_KERR_NONE && generation != g->generation)
            gerr = BK_KERR_ILLEGAL_GENERATION;
    }
    if (gerr == BK_KERR_NONE) {
        /* Without storage there is no producer state to fence a stale
         * epoch: the epoch of the transaction held here does it. */
        const gtxn *t = txn_find(g, pid);
        if (t && epoch < t->epoch)
            gerr = BK_KERR_INVALID_PRODUCER_EPOCH;
    }
    if (gerr == BK_KERR_NONE && check_metadata(parts, n))
        gerr = write_offsets(co, g, parts, n, pid, epoch);
    if (gerr != BK_KERR_NONE) {
        for (int i = 0; i < n; i++)
            if (parts[i].error == BK_KERR_NONE)
                parts[i].error = gerr;
        return gerr;
    }
    gtxn *t = NULL;
    for (int i = 0; i < n; i++) {
        bk_commit_part *c = &parts[i];
        if (c->error != BK_KERR_NONE)
            continue;
        if (!t && !(t = txn_get(g, pid, epoch))) {
            c->error = BK_KERR_UNKNOWN_SERVER_ERROR;
            continue;
        }
        t->epoch = epoch;
        if (off_set(&t->offs, c->topic, c->topic_len, c->partition, c->offset, c->leader_epoch,
                    c->metadata, c->metadata_len, c->commit_ts, c->expire_ts, co->bb_log_off) != 0)
            c->error = BK_KERR_UNKNOWN_SERVER_ERROR;
    }
    if (t && t->offs.n == 0)
        txn_del(g, t);
    return BK_KERR_NONE;
}

void bk_coord_txn_marker(bk_coord *co, int32_t partition, int64_t pid, bool commit)
{
    txn_marker(co, partition, offsets_nparts(co), pid, commit);
}

bool bk_coord_offset_pending(bk_coord *co, const char *group, size_t glen, const char *topic,
                             size_t tlen, int32_t partition)
{
    bk_group *g = group_find(co, group, glen, NULL);
    return g && txn_pending(g, topic, tlen, partition);
}

bool bk_coord_fetch_offset(bk_coord *co, const char *group, size_t glen, const char *topic,
                           size_t tlen, int32_t partition, bk_offset_info *out)
{
    out->offset = -1;
    out->leader_epoch = -1;
    out->metadata = "";
    bk_group *g = group_find(co, group, glen, NULL);
    goffset *o = g ? off_find(&g->offs, topic, tlen, partition) : NULL;
    if (!o)
        return false;
    out->offset = o->offset;
    out->leader_epoch = o->leader_epoch;
    out->metadata = o->metadata;
    return true;
}

static int off_cmp(const void *a, const void *b)
{
    const goffset *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    if (c)
        return c;
    return x->partition < y->partition ? -1 : x->partition > y->partition;
}

void bk_coord_each_offset(bk_coord *co, const char *group, size_t glen,
                          void (*fn)(void *ud, const char *topic, int32_t partition,
                                     const bk_offset_info *oi),
                          void *ud)
{
    bk_group *g = group_find(co, group, glen, NULL);
    if (!g)
        return;
    if (g->offs.n > 1)
        qsort(g->offs.v, (size_t)g->offs.n, sizeof *g->offs.v, off_cmp);
    for (int i = 0; i < g->offs.n; i++) {
        bk_offset_info oi = {g->offs.v[i].offset, g->offs.v[i].leader_epoch, g->offs.v[i].metadata};
        fn(ud, g->offs.v[i].topic, g->offs.v[i].partition, &oi);
    }
}

/* ------------------------------------------------------------ admin */

int bk_coord_ngroups(bk_coord *co) { return co->ngroups; }

bk_group *bk_coord_group_at(bk_coord *co, int i)
{
    return i >= 0 && i < co->ngroups ? co->groups[i] : NULL;
}

bk_group *bk_coord_group_get(bk_coord *co, const char *group, size_t glen)
{
    return group_find(co, group, glen, NULL);
}

void bk_group_summarize(const bk_group *g, bk_group_summary *s)
{
    s->group_id = g->id;
    s->state = bk_group_state_name(g->state);
    s->protocol_type = g->protocol_type ? g->protocol_type : "";
    s->protocol = g->state == BK_GROUP_STABLE && g->protocol ? g->protocol : "";
    s->nmembers = g->nmembers;
}

int bk_group_nmembers(const bk_group *g) { return g->nmembers; }

int32_t bk_group_generation(const bk_group *g) { return g->generation; }

void bk_group_member_desc(const bk_group *g, int i, bk_member_desc *d)
{
    const bk_gmember *m = g->members[i];
    memset(d, 0, sizeof *d);
    d->member_id = m->id;
    d->instance_id = m->instance_id;
    d->client_id = m->client_id;
    d->client_host = m->client_host;
    if (g->state == BK_GROUP_STABLE) {
        const gproto *p = member_proto(m, g->protocol);
        d->meta = p ? p->meta : NULL;
        d->meta_len = p ? p->len : 0;
        d->assign = m->assign;
        d->assign_len = m->assign_len;
    }
}

int16_t bk_coord_delete_group(bk_coord *co, const char *group, size_t glen)
{
    bk_group *g = group_find(co, group, glen, NULL);
    if (!g)
        return BK_KERR_GROUP_ID_NOT_FOUND;
    if (g->state != BK_GROUP_EMPTY)
        return BK_KERR_NON_EMPTY_GROUP;
    if (batch_begin(co, g->id) == 0) {
        for (int i = 0; i < g->offs.n; i++) {
            key_offset(co, g->id, g->offs.v[i].topic, strlen(g->offs.v[i].topic),
                       g->offs.v[i].partition);
            batch_add(co, true);
        }
        /* Pending transactional offsets go with the group: a tombstone for
         * each partition that has no committed offset (the others got one
         * above), so that replaying the log drops them too and a later
         * commit marker finds nothing to resurrect. */
        for (int i = 0; i < g->ntxns; i++) {
            const oset *ts = &g->txns[i].offs;
            for (int k = 0; k < ts->n; k++) {
                const goffset *o = &ts->v[k];
                size_t tl = strlen(o->topic);
                bool seen = off_find(&g->offs, o->topic, tl, o->partition) != NULL;
                for (int j = 0; j < i && !seen; j++)
                    seen = off_find(&g->txns[j].offs, o->topic, tl, o->partition) != NULL;
                if (seen)
                    continue;
                key_offset(co, g->id, o->topic, tl, o->partition);
                batch_add(co, true);
            }
        }
        key_group(co, g->id);
        batch_add(co, true);
        if (batch_commit(co) != 0)
            return BK_KERR_NOT_COORDINATOR;
    } else if (co->topics) {
        return BK_KERR_COORDINATOR_NOT_AVAILABLE;
    }
    set_state(g, BK_GROUP_DEAD);
    group_remove(co, g);
    return BK_KERR_NONE;
}

/* Topics named in the consumer-protocol Subscription of any member
 * (version INT16, topics ARRAY<STRING>, ...). */
static bool subscribed(const bk_group *g, const char *topic, size_t tlen)
{
    if (!g->protocol_type || strcmp(g->protocol_type, "consumer") != 0)
        return false;
    for (int i = 0; i < g->nmembers; i++) {
        const gproto *p = member_proto(g->members[i], g->protocol);
        if (!p)
            continue;
        bk_rd rd;
        bk_rd_init(&rd, p->meta, (size_t)p->len);
        (void)bk_rd_i16(&rd);
        int32_t n = bk_rd_i32(&rd);
        for (int32_t k = 0; k < n && !rd.err; k++) {
            int16_t l = bk_rd_i16(&rd);
            const uint8_t *s = bk_rd_take(&rd, l < 0 ? 0 : (size_t)l);
            if (!rd.err && l >= 0 && (size_t)l == tlen && memcmp(s, topic, tlen) == 0)
                return true;
        }
    }
    return false;
}

/* A committed or pending offset to delete (OffsetDelete drops both, as
 * Kafka's removeOffsets). */
static bool has_offset(bk_group *g, const bk_commit_part *c)
{
    return off_find(&g->offs, c->topic, c->topic_len, c->partition) ||
           txn_pending(g, c->topic, c->topic_len, c->partition);
}

int16_t bk_coord_delete_offsets(bk_coord *co, const char *group, size_t glen, bk_commit_part *parts,
                                int n)
{
    bk_group *g = group_find(co, group, glen, NULL);
    if (!g)
        return BK_KERR_GROUP_ID_NOT_FOUND;
    bool empty = g->state == BK_GROUP_EMPTY;
    if (!empty && (!g->protocol_type || strcmp(g->protocol_type, "consumer") != 0))
        return BK_KERR_NON_EMPTY_GROUP;
    bool any = false;
    for (int i = 0; i < n; i++) {
        if (parts[i].error != BK_KERR_NONE)
            continue;
        if (!empty && subscribed(g, parts[i].topic, parts[i].topic_len))
            parts[i].error = BK_KERR_GROUP_SUBSCRIBED_TO_TOPIC;
        else if (has_offset(g, &parts[i]))
            any = true;
    }
    if (!any)
        return BK_KERR_NONE;
    if (batch_begin(co, g->id) != 0)
        return BK_KERR_COORDINATOR_NOT_AVAILABLE;
    for (int i = 0; i < n; i++)
        if (parts[i].error == BK_KERR_NONE && has_offset(g, &parts[i])) {
            key_offset(co, g->id, parts[i].topic, parts[i].topic_len, parts[i].partition);
            batch_add(co, true);
        }
    if (batch_commit(co) != 0)
        return BK_KERR_NOT_COORDINATOR;
    for (int i = 0; i < n; i++) {
        goffset *o =
            parts[i].error == BK_KERR_NONE
                ? off_find(&g->offs, parts[i].topic, parts[i].topic_len, parts[i].partition)
                : NULL;
        if (o)
            off_del(&g->offs, o);
        if (parts[i].error == BK_KERR_NONE)
            txn_drop_partition(g, parts[i].topic, parts[i].topic_len, parts[i].partition);
    }
    return BK_KERR_NONE;
}

/* ------------------------------------------------------------ lag */

int bk_coord_lag_ts(bk_coord *co, const char *group, size_t glen, int *reads,
                    void (*fn)(void *ud, const bk_lag *l), void *ud)
{
    bk_group *g = group_find(co, group, glen, NULL);
    if (!g)
        return -1;
    if (g->offs.n > 1)
        qsort(g->offs.v, (size_t)g->offs.n, sizeof *g->offs.v, off_cmp);
    for (int i = 0; i < g->offs.n; i++) {
        goffset *o = &g->offs.v[i];
        bk_partition *p =
            co->topics ? bk_topics_partition(co->topics, o->topic, strlen(o->topic), o->partition)
                       : NULL;
        bk_plog *log = p ? p->log : NULL;
        bk_lag l = {.topic = o->topic,
                    .partition = o->partition,
                    .committed = o->offset,
                    .log_end = log ? log->hw : -1,
                    .oldest_ts = -1};
        l.lag = bk_lag_offsets(l.log_end, l.committed);
        if (l.lag > 0) {
            /* The lookup offset: the commit, or the log start when
             * retention or DeleteRecords moved past it. */
            int64_t at = BK_MAX(o->offset, log->log_start);
            if (o->lag_valid && o->lag_at == at && o->lag_log == (const void *)log &&
                o->lag_epoch == p->leader_epoch) {
                l.oldest_ts = o->lag_ts;
            } else if (reads && *reads > 0) {
                (*reads)--;
                int64_t got_at, ts;
                if (bk_lag_read_ts(log, o->offset, l.log_end, &got_at, &ts) == 0) {
                    o->lag_valid = ts >= 0;
                    o->lag_at = got_at;
                    o->lag_ts = ts;
                    o->lag_log = log;
                    o->lag_epoch = p->leader_epoch;
                    l.oldest_ts = ts;
                }
            }
        }
        fn(ud, &l);
    }
    return g->offs.n;
}

int bk_coord_lag(bk_coord *co, const char *group, size_t glen,
                 void (*fn)(void *ud, const bk_lag *l), void *ud)
{
    return bk_coord_lag_ts(co, group, glen, NULL, fn, ud);
}
