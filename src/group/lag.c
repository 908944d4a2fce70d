/* lag.c - consumer lag computed by the broker. See lag.h.
 *
 * A scrape walks every group this broker coordinates (bk_coord_lag_ts,
 * which keeps the timestamp cache beside each committed offset), collects
 * one row per committed partition, then writes each metric family in one
 * block (Prometheus wants a family's samples together, after its HELP and
 * TYPE lines). Rows borrow the group and topic names from the coordinator:
 * nothing changes the groups while the scrape runs (loop thread).
 */
#include "lag.h"

#include "../broker/broker.h"
#include "../core/kb.h"
#include "../proto/records.h"
#include "../storage/fileio.h"
#include "../storage/plog.h"
#include "coord.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t bk_lag_offsets(int64_t end, int64_t committed)
{
    if (end < 0 || committed < 0)
        return -1;
    return end > committed ? end - committed : 0;
}

int64_t bk_lag_age_ms(int64_t committed, int64_t end, int64_t oldest_ts, int64_t now_ms)
{
    if (end < 0 || committed < 0)
        return -1;
    if (committed >= end)
        return 0;
    if (oldest_ts < 0)
        return -1;
    return now_ms > oldest_ts ? now_ms - oldest_ts : 0;
}

int64_t bk_lag_batch_ts(const uint8_t *hdr)
{
    if (bk_batch_magic(hdr) != BK_BATCH_MAGIC)
        return -1;
    int64_t ts = bk_batch_timestamp_type(hdr) == BK_TIMESTAMP_LOG_APPEND
                     ? bk_batch_max_timestamp(hdr)
                     : bk_batch_base_timestamp(hdr);
    return ts >= 0 ? ts : -1;
}

int bk_lag_read_ts(bk_plog *l, int64_t offset, int64_t end, int64_t *at, int64_t *ts)
{
    *ts = -1;
    *at = BK_MAX(offset, l->log_start);
    if (*at >= end)
        return 0;
    bk_plog_slice sl;
    int r = bk_plog_read(l, *at, 0, end, true, &sl);
    if (r)
        return r;
    if (sl.len < BK_BATCH_HDR || sl.fd < 0)
        return 0;
    uint8_t hdr[BK_BATCH_HDR];
    if (bk_io_pread_full(sl.fd, hdr, sizeof hdr, (off_t)sl.pos) != (ssize_t)sizeof hdr)
        return BK_EIO;
    *ts = bk_lag_batch_ts(hdr);
    return 0;
}

/* Length of the valid UTF-8 sequence at p (1-4), or 0 if invalid
 * (overlong forms, surrogates and code points above U+10FFFF included). */
static int utf8_len(const unsigned char *p)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    int n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    if (n == 0 || c > 0xf4)
        return 0;
    for (int i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0) || (c == 0xf0 && p[1] < 0x90) ||
        (c == 0xf4 && p[1] >= 0x90))
        return 0;
    return n;
}

void bk_lag_label(bk_wr *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        switch (*p) {
        case '\\':
            bk_wr_mem(out, "\\\\", 2);
            p++;
            continue;
        case '"':
            bk_wr_mem(out, "\\\"", 2);
            p++;
            continue;
        case '\n':
            bk_wr_mem(out, "\\n", 2);
            p++;
            continue;
        default:
            break;
        }
        int n = utf8_len(p);
        if (n == 0) {
            /* Prometheus refuses a whole scrape with invalid UTF-8 in a
             * label: a client-chosen group id must not do that. */
            bk_wr_mem(out, "\xef\xbf\xbd", 3); /* U+FFFD */
            p++;
            continue;
        }
        bk_wr_mem(out, p, (size_t)n);
        p += n;
    }
}

/* ------------------------------------------------------------ scrape */

typedef struct lrow {
    const char *group; /* borrowed */
    const char *topic; /* borrowed */
    int32_t partition;
    int64_t committed;
    int64_t lag;    /* -1 unknown */
    int64_t age_ms; /* -1 unknown */
} lrow;

typedef struct lscrape {
    lrow *v;
    size_t n, cap;
    const char *group;
    int64_t now_ms;
    bool oom;
} lscrape;

static void collect(void *ud, const bk_lag *l)
{
    lscrape *s = ud;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        lrow *v = realloc(s->v, cap * sizeof *v);
        if (!v) {
            s->oom = true;
            return;
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = (lrow){.group = s->group,
                          .topic = l->topic,
                          .partition = l->partition,
                          .committed = l->committed,
                          .lag = l->lag,
                          .age_ms = bk_lag_age_ms(l->committed, l->log_end, l->oldest_ts,
                                                  s->now_ms)};
}

static void wr_str(bk_wr *out, const char *s)
{
    bk_wr_mem(out, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void wr_fmt(bk_wr *out, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0)
        bk_wr_mem(out, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static void family(bk_wr *out, const char *name, const char *help)
{
    wr_fmt(out, "# HELP %s ", name);
    wr_str(out, help);
    wr_fmt(out, "\n# TYPE %s gauge\n", name);
}

/* name{<glabel>="g",topic="t",partition="p"} */
static void series(bk_wr *out, const char *name, const char *glabel, const lrow *r, bool part)
{
    wr_str(out, name);
    wr_fmt(out, "{%s=\"", glabel);
    bk_lag_label(out, r->group);
    if (r->topic) {
        wr_str(out, "\",topic=\"");
        bk_lag_label(out, r->topic);
    }
    if (part)
        wr_fmt(out, "\",partition=\"%" PRId32, r->partition);
    wr_str(out, "\"} ");
}

enum { V_LAG, V_AGE, V_OFFSET };

static int64_t rval(const lrow *r, int what)
{
    return what == V_LAG ? r->lag : what == V_AGE ? r->age_ms : r->committed;
}

static void per_partition(bk_wr *out, const lscrape *s, const char *name, const char *glabel,
                          const char *help, int what)
{
    family(out, name, help);
    for (size_t i = 0; i < s->n; i++) {
        int64_t v = rval(&s->v[i], what);
        if (v < 0)
            continue;
        series(out, name, glabel, &s->v[i], true);
        if (what == V_AGE)
            wr_fmt(out, "%" PRId64 ".%03d\n", v / 1000, (int)(v % 1000));
        else
            wr_fmt(out, "%" PRId64 "\n", v);
    }
}

/* Aggregates over runs of rows: per group (by_topic false) or per group
 * and topic. agg: 0 max, 1 sum. Runs with no known value are left out. */
static void aggregate(bk_wr *out, const lscrape *s, const char *name, const char *glabel,
                      const char *help, int what, bool by_topic, int agg)
{
    family(out, name, help);
    for (size_t i = 0; i < s->n;) {
        size_t j = i;
        int64_t acc = -1;
        while (j < s->n && s->v[j].group == s->v[i].group &&
               (!by_topic || strcmp(s->v[j].topic, s->v[i].topic) == 0)) {
            int64_t v = rval(&s->v[j], what);
            if (v >= 0)
                acc = acc < 0 ? v : agg == 0 ? BK_MAX(acc, v) : acc + v;
            j++;
        }
        if (acc >= 0) {
            lrow r = s->v[i];
            if (!by_topic)
                r.topic = NULL;
            series(out, name, glabel, &r, false);
            if (what == V_AGE)
                wr_fmt(out, "%" PRId64 ".%03d\n", acc / 1000, (int)(acc % 1000));
            else
                wr_fmt(out, "%" PRId64 "\n", acc);
        }
        i = j;
    }
}

void bk_lag_prometheus(bk_broker *b, bk_wr *out, int64_t now_ms)
{
    if (!b || !b->coord)
        return;
    lscrape s = {.now_ms = now_ms};
    int reads = BK_LAG_READS_PER_SCRAPE;
    int ng = bk_coord_ngroups(b->coord);
    for (int i = 0; i < ng && !s.oom; i++) {
        bk_group_summary gs;
        bk_group_summarize(bk_coord_group_at(b->coord, i), &gs);
        s.group = gs.group_id;
        bk_coord_lag_ts(b->coord, gs.group_id, strlen(gs.group_id), &reads, collect, &s);
    }

    /* kafka-lag-exporter's names */
    per_partition(out, &s, "kafka_consumergroup_group_lag", "group",
                  "Consumer group lag in offsets: high watermark minus committed offset.", V_LAG);
    per_partition(out, &s, "kafka_consumergroup_group_lag_seconds", "group",
                  "Age in seconds of the oldest unconsumed message (0 when caught up), from the "
                  "log's timestamps.",
                  V_AGE);
    per_partition(out, &s, "kafka_consumergroup_group_offset", "group",
                  "Committed offset of the consumer group.", V_OFFSET);
    aggregate(out, &s, "kafka_consumergroup_group_max_lag", "group",
              "Largest partition lag of the group, in offsets.", V_LAG, false, 0);
    aggregate(out, &s, "kafka_consumergroup_group_max_lag_seconds", "group",
              "Largest partition lag of the group, in seconds.", V_AGE, false, 0);
    aggregate(out, &s, "kafka_consumergroup_group_sum_lag", "group",
              "Sum of the partition lags of the group, in offsets.", V_LAG, false, 1);
    /* kafka_exporter's names (label "consumergroup") */
    per_partition(out, &s, "kafka_consumergroup_lag", "consumergroup",
                  "Consumer group lag in offsets (kafka_exporter name).", V_LAG);
    per_partition(out, &s, "kafka_consumergroup_current_offset", "consumergroup",
                  "Committed offset of the consumer group (kafka_exporter name).", V_OFFSET);
    aggregate(out, &s, "kafka_consumergroup_lag_sum", "consumergroup",
              "Sum of the group's lag over a topic's partitions (kafka_exporter name).", V_LAG,
              true, 1);
    free(s.v);
}
