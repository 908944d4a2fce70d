/*
 * topics.c - topic registry, topic configuration and its catalogue (see
 * topics.h).
 */
#include "topics.h"
#include "../core/vec.h"

#include "../core/uuid.h"
#include "../storage/checkpoint.h"
#include "metastore.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------- config catalogue */

/* How a value is checked beyond its type. */
enum { V_NONE, V_CLEANUP, V_COMPRESSION, V_TSTYPE, V_LIST };

typedef struct tdef {
    const char *name;
    int type;             /* BK_CFGTYPE_* */
    const char *def;      /* Kafka's default when the broker says nothing */
    const char *broker[3]; /* broker-level synonyms, most specific first */
    int64_t min, max;
    int check;
    const char *doc;
} tdef;

#define L BK_CFGTYPE_LONG
#define I BK_CFGTYPE_INT
#define B BK_CFGTYPE_BOOLEAN
#define S BK_CFGTYPE_STRING
#define D BK_CFGTYPE_DOUBLE
#define LST BK_CFGTYPE_LIST
#define LMAX INT64_MAX
#define IMAX INT32_MAX

/* Kafka 3.9's topic configs (LogConfig), in its order. */
static const tdef tdefs[] = {
    {"cleanup.policy", LST, "delete", {"log.cleanup.policy"}, 0, 0, V_CLEANUP,
     "The retention policy for old segments: delete and/or compact."},
    {"compression.type", S, "producer", {"compression.type"}, 0, 0, V_COMPRESSION,
     "Final compression of the topic's data: uncompressed, zstd, lz4, snappy, gzip, producer."},
    {"delete.retention.ms", L, "86400000", {"log.cleaner.delete.retention.ms"}, 0, LMAX, V_NONE,
     "How long delete tombstones are kept for compacted topics."},
    {"file.delete.delay.ms", L, "60000", {NULL}, 0, LMAX, V_NONE,
     "Time to wait before deleting a file from the filesystem."},
    {"flush.messages", L, "9223372036854775807", {"log.flush.interval.messages"}, 1, LMAX,
     V_NONE, "Messages written before an fsync of the log."},
    {"flush.ms", L, "9223372036854775807", {"log.flush.interval.ms"}, 0, LMAX, V_NONE,
     "Time after which the log is fsynced."},
    {"follower.replication.throttled.replicas", LST, "", {NULL}, 0, 0, V_LIST,
     "Replicas whose log replication is throttled on the follower side."},
    {"index.interval.bytes", I, "4096", {"log.index.interval.bytes"}, 0, IMAX, V_NONE,
     "How often an offset index entry is added."},
    {"leader.replication.throttled.replicas", LST, "", {NULL}, 0, 0, V_LIST,
     "Replicas whose log replication is throttled on the leader side."},
    {"local.retention.bytes", L, "-2", {NULL}, -2, LMAX, V_NONE,
     "Local retention with tiered storage (not supported: -2 = same as retention.bytes)."},
    {"local.retention.ms", L, "-2", {NULL}, -2, LMAX, V_NONE,
     "Local retention with tiered storage (not supported: -2 = same as retention.ms)."},
    {"max.compaction.lag.ms", L, "9223372036854775807", {"log.cleaner.max.compaction.lag.ms"}, 1, LMAX, V_NONE,
     "Longest time a message stays uncompacted."},
    {"max.message.bytes", I, "1048588", {"message.max.bytes"}, 0, IMAX, V_NONE,
     "Largest record batch size allowed."},
    {"message.downconversion.enable", B, "true", {NULL}, 0, 0, V_NONE,
     "Down-conversion for old consumers (Brook never down-converts)."},
    {"message.format.version", S, "3.0-IV1", {NULL}, 0, 0, V_NONE,
     "Deprecated; always record batch v2."},
    {"message.timestamp.after.max.ms", L, "9223372036854775807", {NULL}, 0, LMAX, V_NONE,
     "How far a record's timestamp may be ahead of the broker's clock."},
    {"message.timestamp.before.max.ms", L, "9223372036854775807", {NULL}, 0, LMAX, V_NONE,
     "How far a record's timestamp may be behind the broker's clock."},
    {"message.timestamp.difference.max.ms", L, "9223372036854775807", {NULL}, 0, LMAX, V_NONE,
     "Deprecated in favour of message.timestamp.before/after.max.ms."},
    {"message.timestamp.type", S, "CreateTime", {"log.message.timestamp.type"}, 0, 0, V_TSTYPE,
     "CreateTime or LogAppendTime."},
    {"min.cleanable.dirty.ratio", D, "0.5", {"log.cleaner.min.cleanable.ratio"}, 0, 1, V_NONE,
     "Dirty ratio that triggers compaction."},
    {"min.compaction.lag.ms", L, "0", {"log.cleaner.min.compaction.lag.ms"}, 0, LMAX, V_NONE,
     "Shortest time a message stays uncompacted."},
    {"min.insync.replicas", I, "1", {"min.insync.replicas"}, 1, IMAX, V_NONE,
     "Replicas that must acknowledge an acks=all write."},
    {"preallocate", B, "false", {NULL}, 0, 0, V_NONE, "Preallocate segment files."},
    {"remote.storage.enable", B, "false", {NULL}, 0, 0, V_NONE,
     "Tiered storage (not supported)."},
    {"retention.bytes", L, "-1", {"log.retention.bytes"}, -1, LMAX, V_NONE,
     "Largest size of the log before old segments are deleted; -1 = no limit."},
    {"retention.ms", L, "604800000", {"log.retention.ms", "log.retention.minutes",
                                       "log.retention.hours"},
     -1, LMAX, V_NONE, "How long data is kept; -1 = forever."},
    {"segment.bytes", I, "1073741824", {"log.segment.bytes"}, 14, IMAX, V_NONE,
     "Segment file size."},
    {"segment.index.bytes", I, "10485760", {"log.index.size.max.bytes"}, 4, IMAX, V_NONE,
     "Size of a segment's offset index."},
    {"segment.jitter.ms", L, "0", {NULL}, 0, LMAX, V_NONE, "Random jitter subtracted from segment.ms."},
    {"segment.ms", L, "604800000", {"log.roll.ms", "log.roll.hours"}, 1, LMAX, V_NONE,
     "Time after which a segment rolls even if not full."},
    {"unclean.leader.election.enable", B, "false", {"unclean.leader.election.enable"}, 0, 0,
     V_NONE, "Whether an out-of-sync replica may become leader."},
};

#undef L
#undef I
#undef B
#undef S
#undef D
#undef LST

#define NDEFS ((int)BK_ARRAY_LEN(tdefs))

int bk_topic_cfg_count(void)
{
    return NDEFS;
}

static const tdef *tdef_find(const char *name)
{
    for (int i = 0; i < NDEFS; i++)
        if (strcmp(tdefs[i].name, name) == 0)
            return &tdefs[i];
    return NULL;
}

/* The broker's value of key as text; false if Brook has no such key. */
static bool broker_text(const bk_config *c, const char *key, char *buf, size_t cap, bool *set)
{
    const bk_config_key *k = bk_config_key_find(key);
    if (!k)
        return false;
    *set = c->set[k - bk_config_keys];
    const char *v = bk_config_text(c, k, buf, cap);
    if (v != buf)
        snprintf(buf, cap, "%s", v ? v : "");
    return true;
}

/* Default of a topic config on this broker: the broker synonym's value
 * (whether set or Brook's default for it) or Kafka's default. */
static const char *default_of(const bk_config *bc, const tdef *d, char *buf, size_t cap,
                              int *source, const char **syn)
{
    *source = BK_CFGSRC_DEFAULT;
    *syn = NULL;
    bool any_set = false;
    for (int k = 0; k < 3 && d->broker[k]; k++) {
        bool set = false;
        char tmp[128];
        if (broker_text(bc, d->broker[k], tmp, sizeof tmp, &set) && set)
            any_set = true;
    }
    if (d->broker[0]) {
        bool set;
        if (broker_text(bc, d->broker[0], buf, cap, &set) && buf[0]) {
            *syn = d->broker[0];
            if (any_set)
                *source = BK_CFGSRC_STATIC_BROKER;
            return buf;
        }
    }
    snprintf(buf, cap, "%s", d->def);
    return buf;
}

static bool parse_i64(const char *s, int64_t *out)
{
    if (!*s)
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end || errno)
        return false;
    *out = v;
    return true;
}

/* Check one value; *why on failure. */
static bool check_value(const tdef *d, const char *v, const char **why)
{
    int64_t x;
    switch (d->type) {
    case BK_CFGTYPE_LONG:
    case BK_CFGTYPE_INT:
        if (!parse_i64(v, &x)) {
            *why = "not a number";
            return false;
        }
        if (d->type == BK_CFGTYPE_INT && (x < INT32_MIN || x > INT32_MAX)) {
            *why = "out of range for an int";
            return false;
        }
        if (x < d->min || x > d->max) {
            *why = "out of range";
            return false;
        }
        return true;
    case BK_CFGTYPE_BOOLEAN:
        if (strcasecmp(v, "true") && strcasecmp(v, "false")) {
            *why = "expected true or false";
            return false;
        }
        return true;
    case BK_CFGTYPE_DOUBLE: {
        char *end;
        double dv = strtod(v, &end);
        if (!*v || *end || dv < (double)d->min || dv > (double)d->max) {
            *why = "not a number in range";
            return false;
        }
        return true;
    }
    default: break;
    }
    switch (d->check) {
    case V_CLEANUP: {
        /* a list of delete/compact, at least one */
        char tmp[256];
        snprintf(tmp, sizeof tmp, "%s", v);
        int n = 0;
        for (char *sp, *t = strtok_r(tmp, ",", &sp); t; t = strtok_r(NULL, ",", &sp)) {
            while (*t == ' ')
                t++;
            char *e = t + strlen(t);
            while (e > t && e[-1] == ' ')
                *--e = 0;
            if (strcmp(t, "delete") && strcmp(t, "compact")) {
                *why = "cleanup.policy must be delete and/or compact";
                return false;
            }
            n++;
        }
        if (!n) {
            *why = "cleanup.policy must be delete and/or compact";
            return false;
        }
        return true;
    }
    case V_COMPRESSION:
        if (strcmp(v, "uncompressed") && strcmp(v, "zstd") && strcmp(v, "lz4") &&
            strcmp(v, "snappy") && strcmp(v, "gzip") && strcmp(v, "producer")) {
            *why = "must be one of uncompressed, zstd, lz4, snappy, gzip, producer";
            return false;
        }
        return true;
    case V_TSTYPE:
        if (strcmp(v, "CreateTime") && strcmp(v, "LogAppendTime")) {
            *why = "must be CreateTime or LogAppendTime";
            return false;
        }
        return true;
    }
    return true;
}

static int64_t i64_of(const char *v)
{
    int64_t x = 0;
    parse_i64(v, &x);
    return x;
}

/* Apply one (checked) value to the parsed config. */
static void apply(bk_topic_config *c, const tdef *d, const char *v)
{
    const char *n = d->name;
    if (!strcmp(n, "cleanup.policy")) {
        c->cleanup_delete = strstr(v, "delete") != NULL;
        c->cleanup_compact = strstr(v, "compact") != NULL;
        c->log.cleanup_delete = c->cleanup_delete;
        c->log.cleanup_compact = c->cleanup_compact;
    } else if (!strcmp(n, "delete.retention.ms")) {
        c->log.delete_retention_ms = i64_of(v);
    } else if (!strcmp(n, "max.compaction.lag.ms")) {
        c->log.max_compaction_lag_ms = i64_of(v);
    } else if (!strcmp(n, "min.compaction.lag.ms")) {
        c->log.min_compaction_lag_ms = i64_of(v);
    } else if (!strcmp(n, "min.cleanable.dirty.ratio")) {
        c->log.min_cleanable_ratio = strtod(v, NULL);
    } else if (!strcmp(n, "compression.type")) {
        c->compression = !strcmp(v, "producer")   ? BK_TCOMP_PRODUCER
                         : !strcmp(v, "gzip")     ? BK_TCOMP_GZIP
                         : !strcmp(v, "snappy")   ? BK_TCOMP_SNAPPY
                         : !strcmp(v, "lz4")      ? BK_TCOMP_LZ4
                         : !strcmp(v, "zstd")     ? BK_TCOMP_ZSTD
                                                  : BK_TCOMP_NONE;
    } else if (!strcmp(n, "flush.messages")) {
        c->log.flush_messages = i64_of(v);
    } else if (!strcmp(n, "flush.ms")) {
        c->log.flush_ms = i64_of(v);
    } else if (!strcmp(n, "index.interval.bytes")) {
        c->log.index_interval = (uint32_t)i64_of(v);
    } else if (!strcmp(n, "max.message.bytes")) {
        c->max_message_bytes = (int32_t)i64_of(v);
    } else if (!strcmp(n, "message.timestamp.after.max.ms")) {
        c->ts_after_max_ms = i64_of(v);
    } else if (!strcmp(n, "message.timestamp.before.max.ms")) {
        c->ts_before_max_ms = i64_of(v);
    } else if (!strcmp(n, "message.timestamp.type")) {
        c->timestamp_type = !strcmp(v, "LogAppendTime");
    } else if (!strcmp(n, "min.insync.replicas")) {
        c->min_insync_replicas = (int32_t)i64_of(v);
    } else if (!strcmp(n, "retention.bytes")) {
        c->log.retention_bytes = i64_of(v);
    } else if (!strcmp(n, "retention.ms")) {
        c->log.retention_ms = i64_of(v);
    } else if (!strcmp(n, "segment.bytes")) {
        c->log.segment_bytes = i64_of(v);
    } else if (!strcmp(n, "segment.index.bytes")) {
        c->log.index_bytes = (uint32_t)i64_of(v);
    } else if (!strcmp(n, "segment.ms")) {
        c->log.segment_ms = i64_of(v);
    } else if (!strcmp(n, "unclean.leader.election.enable")) {
        c->unclean_leader_election = !strcasecmp(v, "true");
    }
}

/* Effective config: broker defaults, then the overrides. The overrides
 * must have been checked. */
static void effective(const bk_config *bc, const bk_kv *ov, int nov, bk_topic_config *out)
{
    memset(out, 0, sizeof *out);
    bk_logcfg_defaults(&out->log);
    for (int i = 0; i < NDEFS; i++) {
        char buf[128];
        int src;
        const char *syn;
        apply(out, &tdefs[i], default_of(bc, &tdefs[i], buf, sizeof buf, &src, &syn));
    }
    for (int i = 0; i < nov; i++) {
        const tdef *d = tdef_find(ov[i].key);
        if (d && ov[i].val)
            apply(out, d, ov[i].val);
    }
}

/* Validate a set of overrides as a whole. */
static bool check_overrides(const bk_kv *ov, int n, int16_t *kerr, char *msg, size_t msglen)
{
    for (int i = 0; i < n; i++) {
        const tdef *d = tdef_find(ov[i].key);
        const char *why = NULL;
        if (!d) {
            *kerr = BK_KERR_INVALID_CONFIG;
            snprintf(msg, msglen, "Unknown topic config name: %s", ov[i].key);
            return false;
        }
        if (!ov[i].val) {
            *kerr = BK_KERR_INVALID_CONFIG;
            snprintf(msg, msglen, "Null value not supported for topic configs: %s", ov[i].key);
            return false;
        }
        if (!check_value(d, ov[i].val, &why)) {
            *kerr = BK_KERR_INVALID_CONFIG;
            snprintf(msg, msglen, "Invalid value %s for configuration %s: %s", ov[i].val,
                     ov[i].key, why);
            return false;
        }
    }
    return true;
}

/* ---------------------------------------------------------------- registry */

struct bk_topics {
    const bk_config *bcfg;
    bk_logmgr *lm;
    bk_metastore *store;
    int32_t node_id;
    bool cluster; /* controller-driven (zookeeper.connect or brook.controller.requests.enable) */
    int32_t max_rf; /* live brokers: the largest replication factor accepted */
    bk_topic **v; /* owned: topics in creation order */
    int32_t n, cap;
    /* Indexes for the request path (every Produce/Fetch partition looks
     * its topic up): open addressing by name and by id, power-of-two
     * sizes, rebuilt whole on create/delete (rare). Entries borrow v's. */
    bk_topic **by_name, **by_id;
    uint32_t hcap;
    size_t *name_len; /* strlen of by_name[i]->name, 0 for empty slots */
};

bool bk_topic_name_valid(const char *name, size_t len)
{
    if (len == 0 || len > 249)
        return false;
    if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

int32_t bk_topics_count(const bk_topics *t)
{
    return t->n;
}

bk_topic *bk_topics_at(bk_topics *t, int32_t i)
{
    return i >= 0 && i < t->n ? t->v[i] : NULL;
}

static uint32_t hash_bytes(const void *p, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ ((const uint8_t *)p)[i]) * 16777619u;
    return h;
}

/* Rebuild both indexes from v. On allocation failure the old ones stay
 * (they may then miss a new topic: lookups fall back to the scan). */
static void reindex(bk_topics *t)
{
    uint32_t cap = 16;
    while (cap < (uint32_t)t->n * 2 + 1)
        cap *= 2;
    bk_topic **bn = calloc(cap, sizeof *bn), **bi = calloc(cap, sizeof *bi);
    size_t *ln = calloc(cap, sizeof *ln);
    if (!bn || !bi || !ln) {
        free(bn);
        free(bi);
        free(ln);
        t->hcap = 0; /* scan until the next successful rebuild */
        return;
    }
    for (int32_t k = 0; k < t->n; k++) {
        bk_topic *tp = t->v[k];
        size_t len = strlen(tp->name);
        uint32_t i = hash_bytes(tp->name, len) & (cap - 1);
        while (bn[i])
            i = (i + 1) & (cap - 1);
        bn[i] = tp;
        ln[i] = len;
        i = hash_bytes(tp->id.b, 16) & (cap - 1);
        while (bi[i])
            i = (i + 1) & (cap - 1);
        bi[i] = tp;
    }
    free(t->by_name);
    free(t->by_id);
    free(t->name_len);
    t->by_name = bn;
    t->by_id = bi;
    t->name_len = ln;
    t->hcap = cap;
}

bk_topic *bk_topics_get(bk_topics *t, const char *name, size_t len)
{
    if (t->hcap) {
        for (uint32_t i = hash_bytes(name, len) & (t->hcap - 1); t->by_name[i];
             i = (i + 1) & (t->hcap - 1))
            if (t->name_len[i] == len && memcmp(t->by_name[i]->name, name, len) == 0)
                return t->by_name[i];
        return NULL;
    }
    for (int32_t i = 0; i < t->n; i++) {
        bk_topic *tp = t->v[i];
        if (strlen(tp->name) == len && memcmp(tp->name, name, len) == 0)
            return tp;
    }
    return NULL;
}

bk_topic *bk_topics_get_id(bk_topics *t, const bk_uuid *id)
{
    if (t->hcap) {
        for (uint32_t i = hash_bytes(id->b, 16) & (t->hcap - 1); t->by_id[i];
             i = (i + 1) & (t->hcap - 1))
            if (memcmp(t->by_id[i]->id.b, id->b, 16) == 0)
                return t->by_id[i];
        return NULL;
    }
    for (int32_t i = 0; i < t->n; i++)
        if (memcmp(t->v[i]->id.b, id->b, 16) == 0)
            return t->v[i];
    return NULL;
}

bk_partition *bk_topics_partition(bk_topics *t, const char *name, size_t len, int32_t index)
{
    bk_topic *tp = bk_topics_get(t, name, len);
    if (!tp || index < 0 || index >= tp->nparts)
        return NULL;
    return &tp->parts[index];
}

static void topic_free(bk_topic *tp)
{
    if (!tp)
        return;
    for (int i = 0; i < tp->noverrides; i++) {
        free(tp->overrides[i].key);
        free(tp->overrides[i].val);
    }
    free(tp->overrides);
    for (int32_t p = 0; tp->parts && p < tp->nparts; p++)
        bk_partition_fini(&tp->parts[p]);
    free(tp->parts);
    free(tp->name);
    free(tp);
}

static int push(bk_topics *t, bk_topic *tp)
{
    bk_topic **nv = bk_vec_grow(t->v, t->n, &t->cap, sizeof *nv, 16);
    if (!nv)
        return BK_ENOMEM;
    t->v = nv;
    t->v[t->n++] = tp;
    reindex(t);
    return 0;
}

static bool is_internal(const char *name)
{
    return strcmp(name, "__consumer_offsets") == 0 || strcmp(name, "__transaction_state") == 0;
}

static int to_meta(const bk_topic *tp, bk_meta_topic *m)
{
    memset(m, 0, sizeof *m);
    m->name = tp->name; /* borrowed for the put() call */
    memcpy(m->id, tp->id.b, 16);
    m->partitions = tp->nparts;
    m->replication_factor = tp->replication_factor;
    m->internal = tp->internal;
    m->nconfigs = tp->noverrides;
    m->keys = calloc((size_t)tp->noverrides + 1, sizeof *m->keys);
    m->vals = calloc((size_t)tp->noverrides + 1, sizeof *m->vals);
    if (!m->keys || !m->vals) {
        free(m->keys);
        free(m->vals);
        return BK_ENOMEM;
    }
    for (int i = 0; i < tp->noverrides; i++) {
        m->keys[i] = tp->overrides[i].key;
        m->vals[i] = tp->overrides[i].val;
    }
    return 0;
}

static int store_put(bk_topics *t, const bk_topic *tp)
{
    bk_meta_topic m;
    int r = to_meta(tp, &m);
    if (r)
        return r;
    r = t->store->ops->put(t->store, &m);
    free(m.keys);
    free(m.vals);
    return r;
}

/* Open or create the log of each partition in [from, tp->nparts). */
static int open_logs(bk_topics *t, bk_topic *tp, int32_t from, int64_t now_ms)
{
    if (t->cluster) {
        /* cluster mode: no partition is led or hosted until its state
         * (LeaderAndIsr, or the state znode) says so (bk_topics_host) */
        for (int32_t p = from; p < tp->nparts; p++) {
            tp->parts[p].index = p;
            tp->parts[p].topic = tp;
            tp->parts[p].leader = -1;
        }
        return 0;
    }
    for (int32_t p = from; p < tp->nparts; p++) {
        bk_partition *part = &tp->parts[p];
        part->index = p;
        part->topic = tp;
        bk_plog *l = bk_logmgr_get(t->lm, tp->name, p);
        if (!l) {
            int r = bk_logmgr_create(t->lm, tp->name, p, &tp->cfg.log, now_ms, &l);
            if (r)
                return r;
            (void)bk_plog_write_topic_id(l, tp->id.b);
        } else {
            l->cfg = tp->cfg.log;
        }
        part->log = l;
        part->leader = t->node_id;
        part->hosted = true;
        if (bk_ids_set(&part->replicas, &part->nreplicas, &t->node_id, 1) ||
            bk_ids_set(&part->isr, &part->nisr, &t->node_id, 1))
            return BK_ENOMEM;
        /* Single node: this broker leads every partition and is its whole
         * ISR, so on becoming leader its high watermark is its LEO (the
         * checkpointed HW may lag after a kill -9: Kafka's leader moves it
         * up the same way, maybeIncrementLeaderHW). */
        l->hw = bk_plog_leo(l);
        /* leader-epoch-checkpoint: this broker leads at epoch 0 from the
         * log start (replication will keep real histories). */
        char path[4096];
        snprintf(path, sizeof path, "%s/leader-epoch-checkpoint", l->dir);
        if (access(path, F_OK) != 0) {
            bk_ckpt_epoch e = {part->leader_epoch, l->log_start};
            int r = bk_ckpt_write_epochs(path, &e, 1);
            if (r)
                return r;
        }
    }
    return 0;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bk_kv *copy_kvs(const bk_kv *kv, int n)
{
    bk_kv *out = calloc((size_t)n + 1, sizeof *out);
    for (int i = 0; out && i < n; i++) {
        out[i].key = strdup(kv[i].key);
        out[i].val = kv[i].val ? strdup(kv[i].val) : NULL;
    }
    return out;
}

/* A new registry entry from store metadata (logs not opened yet). */
static int topic_from_meta(const bk_config *bcfg, const bk_meta_topic *m, bk_topic **out)
{
    bk_topic *tp = calloc(1, sizeof *tp);
    if (!tp)
        return BK_ENOMEM;
    tp->name = strdup(m->name);
    memcpy(tp->id.b, m->id, 16);
    tp->internal = m->internal || (tp->name && is_internal(tp->name));
    tp->nparts = m->partitions;
    tp->replication_factor = m->replication_factor;
    tp->parts = calloc((size_t)tp->nparts + 1, sizeof *tp->parts);
    tp->overrides = calloc((size_t)m->nconfigs + 1, sizeof *tp->overrides);
    for (int k = 0; tp->overrides && k < m->nconfigs; k++) {
        tp->overrides[k].key = strdup(m->keys[k]);
        tp->overrides[k].val = strdup(m->vals[k]);
        tp->noverrides++;
    }
    if (!tp->name || !tp->parts || !tp->overrides) {
        topic_free(tp);
        return BK_ENOMEM;
    }
    effective(bcfg, tp->overrides, tp->noverrides, &tp->cfg);
    *out = tp;
    return 0;
}

int bk_topics_open(bk_topics **out, const bk_config *bcfg, bk_logmgr *lm, const char *meta_dir,
                   int32_t node_id, char *err, size_t errlen)
{
    bk_metastore *store;
    int r = bk_metastore_file_open(&store, meta_dir);
    if (r) {
        snprintf(err, errlen, "cannot read topic metadata in %s: %s", meta_dir, bk_strerror(r));
        return r;
    }
    return bk_topics_open_store(out, bcfg, lm, store, node_id, err, errlen);
}

int bk_topics_open_store(bk_topics **out, const bk_config *bcfg, bk_logmgr *lm,
                         bk_metastore *store, int32_t node_id, char *err, size_t errlen)
{
    bk_topics *t = calloc(1, sizeof *t);
    if (!t) {
        store->ops->close(store);
        return BK_ENOMEM;
    }
    t->bcfg = bcfg;
    t->lm = lm;
    t->node_id = node_id;
    t->cluster = (bcfg->zookeeper_connect && bcfg->zookeeper_connect[0]) ||
                 bcfg->controller_requests_enable;
    t->max_rf = 1;
    t->store = store;
    bk_meta_topic *mt = NULL;
    int n = 0;
    int r = t->store->ops->load(t->store, &mt, &n);
    if (r)
        snprintf(err, errlen, "cannot load the topic metadata: %s", bk_strerror(r));
    int64_t now = wall_ms();
    for (int i = 0; !r && i < n; i++) {
        bk_topic *tp;
        if ((r = topic_from_meta(bcfg, &mt[i], &tp)) != 0)
            break;
        if (t->cluster) {
            /* cluster mode: no partition is led or hosted until the
             * controller's LeaderAndIsr says so (bk_topics_host) */
            for (int32_t p = 0; p < tp->nparts; p++) {
                tp->parts[p].index = p;
                tp->parts[p].topic = tp;
                tp->parts[p].leader = -1;
            }
        } else {
            r = open_logs(t, tp, 0, now);
        }
        if (!r)
            r = push(t, tp);
        if (r) {
            snprintf(err, errlen, "cannot open the logs of topic %s: %s", tp->name,
                     bk_strerror(r));
            topic_free(tp);
        }
    }
    for (int i = 0; i < n; i++)
        bk_meta_topic_free(&mt[i]);
    free(mt);
    if (r) {
        bk_topics_close(t);
        return r;
    }
    *out = t;
    return 0;
}

int32_t bk_topics_max_rf(const bk_topics *t)
{
    return t->max_rf;
}

void bk_topics_set_max_rf(bk_topics *t, int32_t n)
{
    t->max_rf = n > 0 ? n : 1;
}

bk_metastore *bk_topics_store(bk_topics *t)
{
    return t->store;
}

int bk_topics_apply(bk_topics *t, const bk_meta_topic *m)
{
    bk_topic *tp = bk_topics_get(t, m->name, strlen(m->name));
    if (tp && memcmp(tp->id.b, m->id, 16) != 0) {
        /* deleted and re-created meanwhile: a different topic */
        int r = bk_topics_drop(t, tp);
        if (r)
            return r;
        tp = NULL;
    }
    if (!tp) {
        int r = topic_from_meta(t->bcfg, m, &tp);
        if (r)
            return r;
        r = open_logs(t, tp, 0, wall_ms());
        if (!r)
            r = push(t, tp);
        if (r) {
            for (int32_t p = 0; p < tp->nparts; p++)
                if (tp->parts[p].log)
                    bk_logmgr_delete(t->lm, tp->name, p);
            topic_free(tp);
        }
        return r;
    }
    /* known: configs replaced, partitions only grow */
    bk_kv *nv = calloc((size_t)m->nconfigs + 1, sizeof *nv);
    if (!nv)
        return BK_ENOMEM;
    for (int k = 0; k < m->nconfigs; k++) {
        nv[k].key = strdup(m->keys[k]);
        nv[k].val = strdup(m->vals[k]);
    }
    for (int k = 0; k < tp->noverrides; k++) {
        free(tp->overrides[k].key);
        free(tp->overrides[k].val);
    }
    free(tp->overrides);
    tp->overrides = nv;
    tp->noverrides = m->nconfigs;
    effective(t->bcfg, tp->overrides, tp->noverrides, &tp->cfg);
    for (int32_t p = 0; p < tp->nparts; p++)
        if (tp->parts[p].log)
            tp->parts[p].log->cfg = tp->cfg.log;
    if (m->partitions > tp->nparts) {
        bk_partition *np = realloc(tp->parts, (size_t)m->partitions * sizeof *np);
        if (!np)
            return BK_ENOMEM;
        memset(np + tp->nparts, 0, (size_t)(m->partitions - tp->nparts) * sizeof *np);
        tp->parts = np;
        for (int32_t p = 0; p < tp->nparts; p++)
            np[p].topic = tp;
        int32_t old = tp->nparts;
        tp->nparts = m->partitions;
        return open_logs(t, tp, old, wall_ms());
    }
    return 0;
}

int bk_topics_drop(bk_topics *t, bk_topic *tp)
{
    int32_t i = 0;
    while (i < t->n && t->v[i] != tp)
        i++;
    if (i == t->n)
        return BK_ENOENT;
    for (int32_t p = 0; p < tp->nparts; p++)
        if (tp->parts[p].log)
            bk_logmgr_delete(t->lm, tp->name, p);
    memmove(&t->v[i], &t->v[i + 1], (size_t)(t->n - i - 1) * sizeof *t->v);
    t->n--;
    reindex(t);
    topic_free(tp);
    return 0;
}

void bk_topics_close(bk_topics *t)
{
    if (!t)
        return;
    for (int32_t i = 0; i < t->n; i++)
        topic_free(t->v[i]);
    free(t->v);
    free(t->by_name);
    free(t->by_id);
    free(t->name_len);
    if (t->store)
        t->store->ops->close(t->store);
    free(t);
}

/* Kafka refuses names that collide once '.' and '_' are equated (metric
 * names replace '.' with '_'). */
static bk_topic *collides(bk_topics *t, const char *name, size_t len)
{
    for (int32_t i = 0; i < t->n; i++) {
        const char *o = t->v[i]->name;
        if (strlen(o) != len)
            continue;
        size_t k = 0;
        for (; k < len; k++) {
            char a = name[k] == '.' ? '_' : name[k], b = o[k] == '.' ? '_' : o[k];
            if (a != b)
                break;
        }
        if (k == len)
            return t->v[i];
    }
    return NULL;
}

int bk_topics_create(bk_topics *t, const char *name, size_t len, int32_t nparts, int16_t rf,
                     const bk_kv *configs, int nconfigs, bool validate_only, int16_t *kerr,
                     char *msg, size_t msglen)
{
    *kerr = BK_KERR_NONE;
    msg[0] = 0;
    if (!bk_topic_name_valid(name, len)) {
        *kerr = BK_KERR_INVALID_TOPIC_EXCEPTION;
        snprintf(msg, msglen,
                 "Topic name \"%.*s\" is illegal: it must be 1 to 249 of [a-zA-Z0-9._-] "
                 "and not '.' or '..'",
                 (int)BK_MIN(len, 300), name);
        return BK_EINVAL;
    }
    if (bk_topics_get(t, name, len)) {
        *kerr = BK_KERR_TOPIC_ALREADY_EXISTS;
        snprintf(msg, msglen, "Topic '%.*s' already exists.", (int)len, name);
        return BK_EINVAL;
    }
    bk_topic *other = collides(t, name, len);
    if (other) {
        *kerr = BK_KERR_INVALID_TOPIC_EXCEPTION;
        snprintf(msg, msglen, "Topic '%.*s' collides with existing topic: %s", (int)len, name,
                 other->name);
        return BK_EINVAL;
    }
    if (nparts == -1)
        nparts = t->bcfg->num_partitions;
    if (rf == -1)
        rf = (int16_t)t->bcfg->default_replication_factor;
    if (nparts <= 0 || nparts > 100000) {
        *kerr = BK_KERR_INVALID_PARTITIONS;
        snprintf(msg, msglen, "Number of partitions must be larger than 0 (and at most 100000).");
        return BK_EINVAL;
    }
    if (rf <= 0) {
        *kerr = BK_KERR_INVALID_REPLICATION_FACTOR;
        snprintf(msg, msglen, "Replication factor must be larger than 0.");
        return BK_EINVAL;
    }
    if (rf > t->max_rf) {
        *kerr = BK_KERR_INVALID_REPLICATION_FACTOR;
        snprintf(msg, msglen, "Replication factor: %d larger than available brokers: %d.", rf,
                 t->max_rf);
        return BK_EINVAL;
    }
    if (!check_overrides(configs, nconfigs, kerr, msg, msglen))
        return BK_EINVAL;
    if (validate_only)
        return 0;

    bk_topic *tp = calloc(1, sizeof *tp);
    if (!tp)
        return BK_ENOMEM;
    tp->name = strndup(name, len);
    bk_uuid_random(tp->id.b);
    tp->internal = tp->name && is_internal(tp->name);
    tp->nparts = nparts;
    tp->replication_factor = rf;
    tp->parts = calloc((size_t)nparts, sizeof *tp->parts);
    tp->overrides = copy_kvs(configs, nconfigs);
    tp->noverrides = nconfigs;
    if (!tp->name || !tp->parts || !tp->overrides) {
        topic_free(tp);
        return BK_ENOMEM;
    }
    effective(t->bcfg, tp->overrides, tp->noverrides, &tp->cfg);
    /* durable first: a topic the store does not know would vanish */
    int r = store_put(t, tp);
    if (!r)
        r = open_logs(t, tp, 0, wall_ms());
    if (!r)
        r = push(t, tp);
    if (r) {
        for (int32_t p = 0; p < nparts; p++)
            if (tp->parts[p].log)
                bk_logmgr_delete(t->lm, tp->name, p);
        t->store->ops->remove(t->store, tp->name);
        topic_free(tp);
        *kerr = BK_KERR_KAFKA_STORAGE_ERROR;
        snprintf(msg, msglen, "Cannot create the topic's logs: %s", bk_strerror(r));
        return BK_EINVAL;
    }
    return 0;
}

int bk_topics_auto_create(bk_topics *t, const char *name, size_t len, int16_t *kerr)
{
    char msg[256];
    return bk_topics_create(t, name, len, -1, -1, NULL, 0, false, kerr, msg, sizeof msg);
}

int bk_topics_delete(bk_topics *t, bk_topic *tp)
{
    int32_t i = 0;
    while (i < t->n && t->v[i] != tp)
        i++;
    if (i == t->n)
        return BK_ENOENT;
    int r = t->store->ops->remove(t->store, tp->name);
    if (r && !t->cluster)
        return r;
    for (int32_t p = 0; p < tp->nparts; p++)
        if (tp->parts[p].log)
            bk_logmgr_delete(t->lm, tp->name, p);
    memmove(&t->v[i], &t->v[i + 1], (size_t)(t->n - i - 1) * sizeof *t->v);
    t->n--;
    reindex(t);
    topic_free(tp);
    return 0;
}

int bk_topics_add_partitions(bk_topics *t, bk_topic *tp, int32_t total, bool validate_only,
                             int16_t *kerr, char *msg, size_t msglen)
{
    *kerr = BK_KERR_NONE;
    msg[0] = 0;
    if (total <= tp->nparts) {
        *kerr = BK_KERR_INVALID_PARTITIONS;
        if (total == tp->nparts)
            snprintf(msg, msglen, "Topic already has %d partitions.", tp->nparts);
        else
            snprintf(msg, msglen,
                     "Topic currently has %d partitions, which is higher than the requested %d.",
                     tp->nparts, total);
        return BK_EINVAL;
    }
    if (total > 100000) {
        *kerr = BK_KERR_INVALID_PARTITIONS;
        snprintf(msg, msglen, "Too many partitions requested: %d.", total);
        return BK_EINVAL;
    }
    if (validate_only)
        return 0;
    bk_partition *np = realloc(tp->parts, (size_t)total * sizeof *np);
    if (!np)
        return BK_ENOMEM;
    memset(np + tp->nparts, 0, (size_t)(total - tp->nparts) * sizeof *np);
    tp->parts = np;
    for (int32_t p = 0; p < tp->nparts; p++)
        np[p].topic = tp;
    int32_t old = tp->nparts;
    tp->nparts = total;
    int r = store_put(t, tp);
    if (!r)
        r = open_logs(t, tp, old, wall_ms());
    if (r) {
        for (int32_t p = old; p < total; p++)
            if (tp->parts[p].log)
                bk_logmgr_delete(t->lm, tp->name, p);
        tp->nparts = old;
        (void)store_put(t, tp);
        *kerr = BK_KERR_KAFKA_STORAGE_ERROR;
        snprintf(msg, msglen, "Cannot create the new partitions: %s", bk_strerror(r));
        return BK_EINVAL;
    }
    return 0;
}

int bk_topics_alter_config(bk_topics *t, bk_topic *tp, const bk_kv *kv, int n, bool replace,
                           bool validate_only, int16_t *kerr, char *msg, size_t msglen)
{
    *kerr = BK_KERR_NONE;
    msg[0] = 0;
    /* the new override list */
    int cap = n + (replace ? 0 : tp->noverrides) + 1;
    bk_kv *nv = calloc((size_t)cap, sizeof *nv);
    if (!nv)
        return BK_ENOMEM;
    int cnt = 0;
    if (!replace)
        for (int i = 0; i < tp->noverrides; i++)
            nv[cnt++] = (bk_kv){tp->overrides[i].key, tp->overrides[i].val};
    for (int i = 0; i < n; i++) {
        if (!tdef_find(kv[i].key)) {
            *kerr = BK_KERR_INVALID_CONFIG;
            snprintf(msg, msglen, "Unknown topic config name: %s", kv[i].key);
            free(nv);
            return BK_EINVAL;
        }
        int j = 0;
        while (j < cnt && strcmp(nv[j].key, kv[i].key))
            j++;
        if (kv[i].val == NULL) {
            if (j < cnt) {
                nv[j] = nv[cnt - 1];
                cnt--;
            }
            continue;
        }
        if (j == cnt)
            cnt++;
        nv[j] = (bk_kv){kv[i].key, kv[i].val};
    }
    if (!check_overrides(nv, cnt, kerr, msg, msglen)) {
        free(nv);
        return BK_EINVAL;
    }
    if (validate_only) {
        free(nv);
        return 0;
    }
    bk_kv *owned = copy_kvs(nv, cnt);
    free(nv);
    if (!owned)
        return BK_ENOMEM;
    bk_kv *old = tp->overrides;
    int nold = tp->noverrides;
    tp->overrides = owned;
    tp->noverrides = cnt;
    /* cluster mode owns topic configs in ZooKeeper (/config/topics); with
     * controller requests but no ZooKeeper (tests) the change stays local */
    int r = t->cluster && !t->store->ops->put_async ? 0 : store_put(t, tp);
    bk_kv *drop = old;
    int ndrop = nold;
    if (r) {
        drop = owned;
        ndrop = cnt;
        tp->overrides = old;
        tp->noverrides = nold;
    }
    for (int i = 0; i < ndrop; i++) {
        free(drop[i].key);
        free(drop[i].val);
    }
    free(drop);
    if (r) {
        *kerr = BK_KERR_KAFKA_STORAGE_ERROR;
        snprintf(msg, msglen, "Cannot store the configuration: %s", bk_strerror(r));
        return BK_EINVAL;
    }
    effective(t->bcfg, tp->overrides, tp->noverrides, &tp->cfg);
    for (int32_t p = 0; p < tp->nparts; p++)
        if (tp->parts[p].log)
            tp->parts[p].log->cfg = tp->cfg.log;
    return 0;
}

void bk_topic_cfg_describe(const bk_topics *t, const bk_topic *tp, int i, bk_topic_cfg_entry *out)
{
    const tdef *d = &tdefs[i];
    memset(out, 0, sizeof *out);
    out->name = d->name;
    out->type = d->type;
    out->doc = d->doc;
    default_of(t->bcfg, d, out->synonym_value, sizeof out->synonym_value, &out->synonym_source,
               &out->synonym);
    snprintf(out->value, sizeof out->value, "%s", out->synonym_value);
    out->source = out->synonym_source;
    for (int k = 0; tp && k < tp->noverrides; k++)
        if (strcmp(tp->overrides[k].key, d->name) == 0 && tp->overrides[k].val) {
            snprintf(out->value, sizeof out->value, "%s", tp->overrides[k].val);
            out->source = BK_CFGSRC_TOPIC;
        }
}

/* ------------------------------------------------------------ cluster mode */

int bk_ids_set(int32_t **v, int32_t *nv, const int32_t *src, int32_t n)
{
    if (n < 0)
        n = 0;
    int32_t *nw = NULL;
    if (n > 0) {
        nw = malloc((size_t)n * sizeof *nw);
        if (!nw)
            return BK_ENOMEM;
        memcpy(nw, src, (size_t)n * sizeof *nw);
    }
    free(*v);
    *v = nw;
    *nv = n;
    return 0;
}

bool bk_ids_has(const int32_t *v, int32_t n, int32_t id)
{
    for (int32_t i = 0; i < n; i++)
        if (v[i] == id)
            return true;
    return false;
}

void bk_partition_fini(bk_partition *p)
{
    free(p->replicas);
    free(p->isr);
    free(p->adding);
    free(p->removing);
    free(p->offline);
    free(p->rstate);
    free(p->epochs);
    p->replicas = p->isr = p->adding = p->removing = p->offline = NULL;
    p->nreplicas = p->nisr = p->nadding = p->nremoving = p->noffline = 0;
    p->rstate = NULL;
    p->nrstate = 0;
    p->epochs = NULL;
    p->nepochs = 0;
}

bool bk_topics_cluster(const bk_topics *t)
{
    return t->cluster;
}

void bk_topics_set_cluster(bk_topics *t, bool on)
{
    t->cluster = on;
}

int bk_topics_ensure(bk_topics *t, const char *name, size_t len, const bk_uuid *id, int32_t nparts,
                     bk_topic **out)
{
    static const bk_uuid zero;
    bool has_id = id && memcmp(id->b, zero.b, 16) != 0;
    bk_topic *tp = bk_topics_get(t, name, len);
    if (tp) {
        if (has_id && memcmp(tp->id.b, zero.b, 16) != 0 && memcmp(tp->id.b, id->b, 16) != 0)
            return BK_EEXIST;
        if (has_id && memcmp(tp->id.b, id->b, 16) != 0) {
            tp->id = *id;
            reindex(t);
        }
        if (nparts > tp->nparts) {
            bk_partition *np = realloc(tp->parts, (size_t)nparts * sizeof *np);
            if (!np)
                return BK_ENOMEM;
            memset(np + tp->nparts, 0, (size_t)(nparts - tp->nparts) * sizeof *np);
            for (int32_t p = tp->nparts; p < nparts; p++) {
                np[p].index = p;
                np[p].leader = -1;
            }
            for (int32_t p = 0; p < nparts; p++)
                np[p].topic = tp;
            tp->parts = np;
            tp->nparts = nparts;
        }
        *out = tp;
        return 0;
    }
    if (!bk_topic_name_valid(name, len))
        return BK_EINVAL;
    tp = calloc(1, sizeof *tp);
    if (!tp)
        return BK_ENOMEM;
    tp->name = strndup(name, len);
    if (has_id)
        tp->id = *id;
    tp->internal = tp->name && is_internal(tp->name);
    tp->nparts = nparts > 0 ? nparts : 1;
    tp->parts = calloc((size_t)tp->nparts, sizeof *tp->parts);
    tp->overrides = calloc(1, sizeof *tp->overrides);
    if (!tp->name || !tp->parts || !tp->overrides) {
        topic_free(tp);
        return BK_ENOMEM;
    }
    for (int32_t p = 0; p < tp->nparts; p++) {
        tp->parts[p].index = p;
        tp->parts[p].topic = tp;
        tp->parts[p].leader = -1;
    }
    effective(t->bcfg, NULL, 0, &tp->cfg);
    int r = push(t, tp);
    if (r) {
        topic_free(tp);
        return r;
    }
    *out = tp;
    return 0;
}

static void epochs_path(const bk_plog *l, char *path, size_t cap)
{
    snprintf(path, cap, "%s/leader-epoch-checkpoint", l->dir);
}

int bk_partition_write_epochs(bk_partition *p)
{
    if (!p->log)
        return 0;
    char path[4096];
    epochs_path(p->log, path, sizeof path);
    _Static_assert(sizeof(bk_pepoch) == sizeof(bk_ckpt_epoch), "same layout");
    return bk_ckpt_write_epochs(path, (const bk_ckpt_epoch *)p->epochs, p->nepochs);
}

int32_t bk_partition_latest_epoch(const bk_partition *p)
{
    return p->nepochs > 0 ? p->epochs[p->nepochs - 1].epoch : -1;
}

bool bk_partition_assign_epoch(bk_partition *p, int32_t e, int64_t off)
{
    if (e < 0)
        return false;
    if (p->nepochs > 0 && p->epochs[p->nepochs - 1].epoch == e)
        return false; /* already there (Kafka keeps the first start) */
    int32_t n = p->nepochs;
    while (n > 0 && (p->epochs[n - 1].epoch >= e || p->epochs[n - 1].start_offset >= off))
        n--;
    bk_pepoch *nv = realloc(p->epochs, (size_t)(n + 1) * sizeof *nv);
    if (!nv)
        return false;
    p->epochs = nv;
    p->epochs[n] = (bk_pepoch){e, off};
    p->nepochs = n + 1;
    return true;
}

bool bk_partition_truncate_epochs(bk_partition *p, int64_t off)
{
    int32_t n = p->nepochs;
    while (n > 0 && p->epochs[n - 1].start_offset >= off)
        n--;
    if (n == p->nepochs)
        return false;
    p->nepochs = n;
    return true;
}

int bk_topics_host(bk_topics *t, bk_partition *p)
{
    bk_topic *tp = p->topic;
    if (p->log) {
        p->hosted = true;
        return 0;
    }
    bk_plog *l = bk_logmgr_get(t->lm, tp->name, p->index);
    if (!l) {
        int r = bk_logmgr_create(t->lm, tp->name, p->index, &tp->cfg.log, wall_ms(), &l);
        if (r)
            return r;
    } else {
        l->cfg = tp->cfg.log;
    }
    (void)bk_plog_write_topic_id(l, tp->id.b);
    p->log = l;
    p->hosted = true;
    free(p->epochs);
    p->epochs = NULL;
    p->nepochs = 0;
    char path[4096];
    epochs_path(l, path, sizeof path);
    bk_ckpt_epoch *e = NULL;
    int n = 0;
    if (bk_ckpt_read_epochs(path, &e, &n) == 0 && n > 0) {
        p->epochs = (bk_pepoch *)e;
        p->nepochs = n;
        /* entries beyond the LEO (a torn tail cut at load) are stale */
        if (bk_partition_truncate_epochs(p, bk_plog_leo(l) + 1))
            (void)bk_partition_write_epochs(p);
    } else {
        free(e);
    }
    if (l->hw > bk_plog_leo(l))
        l->hw = bk_plog_leo(l);
    return 0;
}

void bk_topics_unhost(bk_topics *t, bk_partition *p, bool del)
{
    if (p->log && del)
        bk_logmgr_delete(t->lm, p->topic->name, p->index);
    if (del) {
        p->log = NULL;
        free(p->epochs);
        p->epochs = NULL;
        p->nepochs = 0;
    }
    p->hosted = false;
    free(p->rstate);
    p->rstate = NULL;
    p->nrstate = 0;
}
