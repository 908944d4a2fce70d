/*
 * brook consumer-groups - kafka-consumer-groups.sh.
 *
 *   --list [--state [S,S]]                       group ids (with states)
 *   --describe (--group G... | --all-groups)     [--offsets] (default):
 *        GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID
 *        LAG-SECONDS
 *      --members [--verbose]: GROUP CONSUMER-ID HOST CLIENT-ID #PARTITIONS [ASSIGNMENT]
 *      --state: GROUP COORDINATOR (ID) ASSIGNMENT-STRATEGY STATE #MEMBERS
 *   --reset-offsets (--group G | --all-groups) (--topic T[:P,P] | --all-topics)
 *      one of --to-earliest --to-latest --to-current --to-offset N
 *      --to-datetime YYYY-MM-DDTHH:mm:SS.sss[Z|+hh:mm] --by-duration PnDTnHnMnS
 *      --shift-by N, --from-file CSV; --dry-run (default) or --execute;
 *      --export prints the plan as CSV ([group,]topic,partition,offset)
 *   --delete (--group G... | --all-groups)
 *   --delete-offsets --group G --topic T[:P,P]...
 *
 * Tables are laid out as Kafka's ConsumerGroupCommand lays them out (columns
 * at least 15 wide, widened to the longest value, "-" for unknown values);
 * LAG is the log end offset (high watermark) minus the committed offset.
 * LAG-SECONDS (Brook's addition, after Kafka's nine columns so scripts that
 * read those by position keep working) is the age of the oldest unconsumed
 * message: now minus the timestamp of the first message at or after the
 * committed offset, read with librdkafka's simple consumer (one fetch per
 * partition, all in parallel, bounded by --timeout); 0 when caught up, "-"
 * when unknown (no commit, no answer in time). The broker reports the
 * same value as the gauge kafka_consumergroup_group_lag_seconds
 * (docs/metrics-lag.md).
 * Offsets of groups with members cannot be reset (Kafka's rule): that, an
 * unknown group and any failed request end the tool with exit code 1.
 */
#include "brook.h"
#include "tool.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MISSING "-"

static int timeout_ms = 5000;
static int exit_code;

/* Report a failure that does not stop the other groups. */
__attribute__((format(printf, 1, 2))) static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "brook %s: ", bk_tool_name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit_code = 1;
}

static void usage(FILE *f)
{
    fprintf(
        f, "usage: brook consumer-groups --bootstrap-server HOST:PORT ACTION [options]\n"
           "Lists, describes, deletes consumer groups and resets their offsets.\n\n"
           "actions (exactly one):\n"
           "  --list                       list groups (--state [S,..] adds/filter by state)\n"
           "  --describe                   describe --group G (repeatable) or --all-groups:\n"
           "                                 --offsets (default), --members [--verbose], --state\n"
           "  --reset-offsets              reset committed offsets of an inactive group\n"
           "  --delete                     delete --group G (repeatable) or --all-groups\n"
           "  --delete-offsets             delete the offsets of --group G for --topic T[:P,..]\n\n"
           "reset scopes: --topic T[:P,P] (repeatable), --all-topics\n"
           "reset scenarios: --to-earliest, --to-latest, --to-current, --to-offset N,\n"
           "  --to-datetime YYYY-MM-DDTHH:mm:SS.sss[Z|+hh:mm], --by-duration PnDTnHnMnS,\n"
           "  --shift-by N, --from-file CSV ([group,]topic,partition,offset lines)\n"
           "  --export                     print the new offsets as that CSV instead of a table\n"
           "  --dry-run                    show the new offsets only (default)\n"
           "  --execute                    commit the new offsets\n\n"
           "  --bootstrap-server H:P[,..]  broker(s) to connect to (required)\n"
           "  --command-config FILE        client settings in properties syntax\n"
           "  --timeout MS                 per-request timeout (default 5000)\n"
           "  --help, --version\n");
}

/* ------------------------------------------------------------------ admin */

static rd_kafka_AdminOptions_t *aopts(rd_kafka_t *rk)
{
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_ANY);
    char e[256];
    rd_kafka_AdminOptions_set_request_timeout(o, timeout_ms, e, sizeof e);
    return o;
}

static rd_kafka_event_t *admin_wait(rd_kafka_queue_t *q, rd_kafka_event_type_t t)
{
    return bk_tool_admin_wait(q, t, timeout_ms + 5000);
}

typedef struct glisting {
    char *id;
    rd_kafka_consumer_group_state_t state;
} glisting;

static int cmp_glisting(const void *a, const void *b)
{
    return strcmp(((const glisting *)a)->id, ((const glisting *)b)->id);
}

/* All consumer groups, sorted by id. */
static glisting *list_groups(rd_kafka_t *rk, size_t *cntp)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = aopts(rk);
    rd_kafka_ListConsumerGroups(rk, o, q);
    rd_kafka_event_t *ev = admin_wait(q, RD_KAFKA_EVENT_LISTCONSUMERGROUPS_RESULT);
    const rd_kafka_ListConsumerGroups_result_t *res = rd_kafka_event_ListConsumerGroups_result(ev);
    size_t nerr = 0, n = 0;
    const rd_kafka_error_t **errs = rd_kafka_ListConsumerGroups_result_errors(res, &nerr);
    if (nerr)
        bk_tool_die("cannot list groups: %s", rd_kafka_error_string(errs[0]));
    const rd_kafka_ConsumerGroupListing_t **v = rd_kafka_ListConsumerGroups_result_valid(res, &n);
    glisting *out = calloc(n + 1, sizeof *out);
    for (size_t i = 0; i < n; i++) {
        out[i].id = strdup(rd_kafka_ConsumerGroupListing_group_id(v[i]));
        out[i].state = rd_kafka_ConsumerGroupListing_state(v[i]);
    }
    qsort(out, n, sizeof *out, cmp_glisting);
    rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    *cntp = n;
    return out;
}

/* The description event of groups[0..n) (caller destroys it). */
static rd_kafka_event_t *describe(rd_kafka_t *rk, const char **groups, size_t n)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = aopts(rk);
    rd_kafka_DescribeConsumerGroups(rk, groups, n, o, q);
    rd_kafka_event_t *ev = admin_wait(q, RD_KAFKA_EVENT_DESCRIBECONSUMERGROUPS_RESULT);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    return ev;
}

static const rd_kafka_ConsumerGroupDescription_t *find_desc(rd_kafka_event_t *ev, const char *g)
{
    size_t n = 0;
    const rd_kafka_ConsumerGroupDescription_t **d = rd_kafka_DescribeConsumerGroups_result_groups(
        rd_kafka_event_DescribeConsumerGroups_result(ev), &n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(rd_kafka_ConsumerGroupDescription_group_id(d[i]), g) == 0)
            return d[i];
    return NULL;
}

/* The group's state, or DEAD when it does not exist; dies on other errors. */
static rd_kafka_consumer_group_state_t desc_state(const rd_kafka_ConsumerGroupDescription_t *d,
                                                  const char *g)
{
    if (!d)
        bk_tool_die("no description of group '%s' in the answer", g);
    const rd_kafka_error_t *e = rd_kafka_ConsumerGroupDescription_error(d);
    if (e) {
        if (rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND)
            return RD_KAFKA_CONSUMER_GROUP_STATE_DEAD;
        bk_tool_die("cannot describe group '%s': %s", g, rd_kafka_error_string(e));
    }
    return rd_kafka_ConsumerGroupDescription_state(d);
}

static int cmp_tp(const void *a, const void *b)
{
    const rd_kafka_topic_partition_t *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

static void sort_tps(rd_kafka_topic_partition_list_t *l)
{
    if (l->cnt > 1)
        qsort(l->elems, (size_t)l->cnt, sizeof *l->elems, cmp_tp);
}

/* Committed offsets of group g (a copy, sorted; offsets -1 = none). */
static rd_kafka_topic_partition_list_t *committed(rd_kafka_t *rk, const char *g)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = aopts(rk);
    rd_kafka_ListConsumerGroupOffsets_t *req = rd_kafka_ListConsumerGroupOffsets_new(g, NULL);
    rd_kafka_ListConsumerGroupOffsets(rk, &req, 1, o, q);
    rd_kafka_ListConsumerGroupOffsets_destroy(req);
    rd_kafka_event_t *ev = admin_wait(q, RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT);
    size_t n = 0;
    const rd_kafka_group_result_t **gr = rd_kafka_ListConsumerGroupOffsets_result_groups(
        rd_kafka_event_ListConsumerGroupOffsets_result(ev), &n);
    if (n != 1)
        bk_tool_die("no committed offsets of group '%s' in the answer", g);
    const rd_kafka_error_t *e = rd_kafka_group_result_error(gr[0]);
    if (e)
        bk_tool_die("cannot fetch the offsets of group '%s': %s", g, rd_kafka_error_string(e));
    const rd_kafka_topic_partition_list_t *p = rd_kafka_group_result_partitions(gr[0]);
    rd_kafka_topic_partition_list_t *out = rd_kafka_topic_partition_list_new(p ? p->cnt : 0);
    for (int i = 0; p && i < p->cnt; i++)
        if (p->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR && p->elems[i].offset >= 0)
            rd_kafka_topic_partition_list_add(out, p->elems[i].topic, p->elems[i].partition)
                ->offset = p->elems[i].offset;
    sort_tps(out);
    rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    return out;
}

static int64_t committed_of(const rd_kafka_topic_partition_list_t *c, const char *t, int32_t p)
{
    rd_kafka_topic_partition_t *x =
        rd_kafka_topic_partition_list_find((rd_kafka_topic_partition_list_t *)c, t, p);
    return x ? x->offset : -1;
}

/* Offsets of tps at time ts (-1 latest = high watermark, -2 earliest, or a
 * timestamp): a copy of tps with .offset set, .err set where unknown. */
static rd_kafka_topic_partition_list_t *
log_offsets(rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *tps, int64_t ts)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_copy(tps);
    for (int i = 0; i < l->cnt; i++) {
        l->elems[i].offset = ts;
        l->elems[i].err = 0;
    }
    if (l->cnt == 0)
        return l;
    rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(rk, l, timeout_ms);
    if (e && e != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART &&
        e != RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION && e != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE)
        bk_tool_die("cannot list offsets: %s", rd_kafka_err2str(e));
    return l;
}

static int64_t offset_in(const rd_kafka_topic_partition_list_t *l, const char *t, int32_t p)
{
    rd_kafka_topic_partition_t *x =
        rd_kafka_topic_partition_list_find((rd_kafka_topic_partition_list_t *)l, t, p);
    return x && !x->err && x->offset >= 0 ? x->offset : -1;
}

/* Number of partitions of topic t, or -1 if it does not exist. */
static int partition_count(rd_kafka_t *rk, const char *t)
{
    rd_kafka_topic_conf_t *tc = rd_kafka_topic_conf_new();
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, t, tc);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
    rd_kafka_topic_destroy(rkt);
    if (e)
        bk_tool_die("cannot read the metadata of topic '%s': %s", t, rd_kafka_err2str(e));
    int n = -1;
    if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
        n = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    return n;
}

/* --topic arguments "t" or "t:p,p" -> partitions (all of t's for "t"). */
static rd_kafka_topic_partition_list_t *parse_topics(rd_kafka_t *rk, char **topics, int n)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
    for (int i = 0; i < n; i++) {
        char buf[512];
        snprintf(buf, sizeof buf, "%s", topics[i]);
        char *colon = strchr(buf, ':');
        if (colon)
            *colon = 0;
        int cnt = partition_count(rk, buf);
        if (cnt < 0)
            bk_tool_die("topic '%s' does not exist", buf);
        if (!colon) {
            for (int p = 0; p < cnt; p++)
                rd_kafka_topic_partition_list_add(l, buf, p);
            continue;
        }
        char *save = NULL;
        for (char *s = strtok_r(colon + 1, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
            char *end;
            long p = strtol(s, &end, 10);
            if (end == s || *end || p < 0)
                bk_tool_usage_error("Invalid partition '%s' specified in topic arg '%s'", s,
                                    topics[i]);
            if (p >= cnt)
                bk_tool_die("partition %s-%ld does not exist", buf, p);
            if (!rd_kafka_topic_partition_list_find(l, buf, (int32_t)p))
                rd_kafka_topic_partition_list_add(l, buf, (int32_t)p);
        }
    }
    sort_tps(l);
    return l;
}

/* ------------------------------------------------------------------ print */

static const char *state_name(rd_kafka_consumer_group_state_t s)
{
    return rd_kafka_consumer_group_state_name(s);
}

/* Kafka's shouldPrintMemberState: notes on stderr, whether to print rows. */
static bool should_print(const char *g, rd_kafka_consumer_group_state_t s, size_t rows)
{
    switch (s) {
    case RD_KAFKA_CONSUMER_GROUP_STATE_DEAD:
        fail("Consumer group '%s' does not exist.", g);
        return false;
    case RD_KAFKA_CONSUMER_GROUP_STATE_EMPTY:
        fprintf(stderr, "\nConsumer group '%s' has no active members.\n", g);
        break;
    case RD_KAFKA_CONSUMER_GROUP_STATE_PREPARING_REBALANCE:
    case RD_KAFKA_CONSUMER_GROUP_STATE_COMPLETING_REBALANCE:
        fprintf(stderr, "\nWarning: Consumer group '%s' is rebalancing.\n", g);
        break;
    default:
        break;
    }
    return rows > 0;
}

typedef struct row {
    const char *topic; /* NULL: "-" */
    int32_t partition;
    int64_t cur, leo; /* -1: unknown */
    const char *cid, *host, *client;
    int64_t age_ms;       /* LAG-SECONDS in ms; -1: unknown */
    rd_kafka_topic_t *rkt; /* while its first message is awaited */
} row;

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * LAG-SECONDS of every row: for each partition behind its end, start the
 * simple consumer at the committed offset (all partitions at once, into
 * one queue) and take the timestamp of the first message that arrives. A
 * partition-EOF event first means nothing but control records were left:
 * caught up. A committed offset below the log start reads from the log
 * start (auto.offset.reset=earliest): the oldest message left.
 */
static void lag_seconds(rd_kafka_t *rk, row *rows, size_t nr)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    int pending = 0;
    for (size_t i = 0; i < nr; i++) {
        row *r = &rows[i];
        r->age_ms = -1;
        r->rkt = NULL;
        if (r->cur < 0 || r->leo < 0)
            continue;
        if (r->cur >= r->leo) {
            r->age_ms = 0;
            continue;
        }
        r->rkt = rd_kafka_topic_new(rk, r->topic, NULL);
        if (!r->rkt)
            continue;
        if (rd_kafka_consume_start_queue(r->rkt, r->partition, r->cur, q) == -1) {
            rd_kafka_topic_destroy(r->rkt);
            r->rkt = NULL;
            continue;
        }
        pending++;
    }
    int64_t deadline = bk_tool_mono_us() / 1000 + timeout_ms;
    while (pending > 0 && bk_tool_mono_us() / 1000 < deadline) {
        rd_kafka_message_t *m = rd_kafka_consume_queue(q, 100);
        if (!m)
            continue;
        const char *t = m->rkt ? rd_kafka_topic_name(m->rkt) : NULL;
        row *r = NULL;
        for (size_t i = 0; t && i < nr && !r; i++)
            if (rows[i].rkt && rows[i].partition == m->partition && rows[i].age_ms == -1 &&
                strcmp(rows[i].topic, t) == 0)
                r = &rows[i];
        if (r && (m->err == RD_KAFKA_RESP_ERR_NO_ERROR ||
                  m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)) {
            int64_t ts = -1, now = wall_ms();
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
                ts = now;
            else
                ts = rd_kafka_message_timestamp(m, NULL);
            r->age_ms = ts < 0 ? -2 : now > ts ? now - ts : 0; /* -2: answered, no timestamp */
            pending--;
        }
        rd_kafka_message_destroy(m);
    }
    for (size_t i = 0; i < nr; i++) {
        row *r = &rows[i];
        if (r->age_ms == -2)
            r->age_ms = -1;
        if (!r->rkt)
            continue;
        rd_kafka_consume_stop(r->rkt, r->partition);
        rd_kafka_topic_destroy(r->rkt);
        r->rkt = NULL;
    }
    rd_kafka_queue_destroy(q);
}

static int wmax(int w, const char *s)
{
    return s && (int)strlen(s) > w ? (int)strlen(s) : w;
}

static void i64s(char *buf, size_t n, int64_t v)
{
    if (v < 0)
        snprintf(buf, n, MISSING);
    else
        snprintf(buf, n, "%" PRId64, v);
}

typedef struct member_ref {
    const rd_kafka_MemberDescription_t *m;
    int nparts;
    size_t idx;
} member_ref;

static int cmp_member(const void *a, const void *b)
{
    const member_ref *x = a, *y = b;
    if (x->nparts != y->nparts)
        return y->nparts - x->nparts;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

static const rd_kafka_topic_partition_list_t *member_parts(const rd_kafka_MemberDescription_t *m)
{
    const rd_kafka_MemberAssignment_t *a = rd_kafka_MemberDescription_assignment(m);
    return a ? rd_kafka_MemberAssignment_partitions(a) : NULL;
}

static void describe_offsets(rd_kafka_t *rk, const char *g,
                             const rd_kafka_ConsumerGroupDescription_t *d)
{
    rd_kafka_consumer_group_state_t st = desc_state(d, g);
    if (st == RD_KAFKA_CONSUMER_GROUP_STATE_DEAD) {
        should_print(g, st, 0);
        return;
    }
    rd_kafka_topic_partition_list_t *com = committed(rk, g);
    size_t nm = rd_kafka_ConsumerGroupDescription_member_count(d);
    member_ref *mr = calloc(nm + 1, sizeof *mr);
    rd_kafka_topic_partition_list_t *all = rd_kafka_topic_partition_list_new(16);
    for (size_t i = 0; i < nm; i++) {
        mr[i].m = rd_kafka_ConsumerGroupDescription_member(d, i);
        const rd_kafka_topic_partition_list_t *p = member_parts(mr[i].m);
        mr[i].nparts = p ? p->cnt : 0;
        mr[i].idx = i;
        for (int j = 0; p && j < p->cnt; j++)
            rd_kafka_topic_partition_list_add(all, p->elems[j].topic, p->elems[j].partition);
    }
    qsort(mr, nm, sizeof *mr, cmp_member);
    for (int i = 0; i < com->cnt; i++)
        if (!rd_kafka_topic_partition_list_find(all, com->elems[i].topic, com->elems[i].partition))
            rd_kafka_topic_partition_list_add(all, com->elems[i].topic, com->elems[i].partition);
    rd_kafka_topic_partition_list_t *leo = log_offsets(rk, all, RD_KAFKA_OFFSET_END);

    row *rows = calloc((size_t)all->cnt + 1, sizeof *rows);
    size_t nr = 0;
    for (size_t i = 0; i < nm; i++) {
        const rd_kafka_topic_partition_list_t *p = member_parts(mr[i].m);
        if (!p || p->cnt == 0)
            continue;
        rd_kafka_topic_partition_list_t *s = rd_kafka_topic_partition_list_copy(p);
        sort_tps(s);
        for (int j = 0; j < s->cnt; j++) {
            row *r = &rows[nr++];
            /* The name in `all` outlives the sorted copy. */
            r->topic = rd_kafka_topic_partition_list_find((rd_kafka_topic_partition_list_t *)all,
                                                          s->elems[j].topic, s->elems[j].partition)
                           ->topic;
            r->partition = s->elems[j].partition;
            r->cid = rd_kafka_MemberDescription_consumer_id(mr[i].m);
            r->host = rd_kafka_MemberDescription_host(mr[i].m);
            r->client = rd_kafka_MemberDescription_client_id(mr[i].m);
        }
        rd_kafka_topic_partition_list_destroy(s);
    }
    for (int i = 0; i < com->cnt; i++) {
        bool assigned = false;
        for (size_t j = 0; j < nr && !assigned; j++)
            assigned = rows[j].partition == com->elems[i].partition &&
                       strcmp(rows[j].topic, com->elems[i].topic) == 0;
        if (assigned)
            continue;
        row *r = &rows[nr++];
        r->topic = com->elems[i].topic;
        r->partition = com->elems[i].partition;
        r->cid = r->host = r->client = MISSING;
    }
    for (size_t i = 0; i < nr; i++) {
        rows[i].cur = committed_of(com, rows[i].topic, rows[i].partition);
        rows[i].leo = offset_in(leo, rows[i].topic, rows[i].partition);
    }
    if (nr)
        lag_seconds(rk, rows, nr);

    if (should_print(g, st, nr)) {
        int wg = wmax(15, g), wt = 15, wc = 15, wh = 15, wl = 15;
        for (size_t i = 0; i < nr; i++) {
            wt = wmax(wt, rows[i].topic);
            wc = wmax(wc, rows[i].cid);
            wh = wmax(wh, rows[i].host);
            wl = wmax(wl, rows[i].client);
        }
        printf("\n%-*s %-*s %-10s %-15s %-15s %-15s %-*s %-*s %-*s %s", wg, "GROUP", wt, "TOPIC",
               "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", wc, "CONSUMER-ID", wh,
               "HOST", wl, "CLIENT-ID", "LAG-SECONDS");
        for (size_t i = 0; i < nr; i++) {
            const row *r = &rows[i];
            char part[16], cur[24], end[24], lag[24], secs[32];
            snprintf(part, sizeof part, "%" PRId32, r->partition);
            i64s(cur, sizeof cur, r->cur);
            i64s(end, sizeof end, r->leo);
            i64s(lag, sizeof lag, r->cur >= 0 && r->leo >= 0 ? r->leo - r->cur : -1);
            if (r->age_ms < 0)
                snprintf(secs, sizeof secs, MISSING);
            else
                snprintf(secs, sizeof secs, "%" PRId64 ".%03d", r->age_ms / 1000,
                         (int)(r->age_ms % 1000));
            printf("\n%-*s %-*s %-10s %-15s %-15s %-15s %-*s %-*s %-*s %s", wg, g, wt, r->topic,
                   part, cur, end, lag, wc, r->cid, wh, r->host, wl, r->client, secs);
        }
        printf("\n");
    }
    free(rows);
    free(mr);
    rd_kafka_topic_partition_list_destroy(leo);
    rd_kafka_topic_partition_list_destroy(all);
    rd_kafka_topic_partition_list_destroy(com);
}

/* "t1(0,1), t2(3)" as Kafka 3's --members --verbose prints assignments. */
static void assignment_str(const rd_kafka_topic_partition_list_t *p, char *buf, size_t n)
{
    buf[0] = 0;
    if (!p || p->cnt == 0) {
        snprintf(buf, n, MISSING);
        return;
    }
    rd_kafka_topic_partition_list_t *s = rd_kafka_topic_partition_list_copy(p);
    sort_tps(s);
    size_t len = 0;
    for (int i = 0; i < s->cnt && len < n; i++) {
        bool first = i == 0 || strcmp(s->elems[i - 1].topic, s->elems[i].topic) != 0;
        bool last = i == s->cnt - 1 || strcmp(s->elems[i + 1].topic, s->elems[i].topic) != 0;
        int w = snprintf(buf + len, n - len, "%s%s%s%" PRId32 "%s", first && i ? ", " : "",
                         first ? s->elems[i].topic : "", first ? "(" : ",", s->elems[i].partition,
                         last ? ")" : "");
        if (w > 0)
            len += (size_t)w;
    }
    rd_kafka_topic_partition_list_destroy(s);
}

static void describe_members(const char *g, const rd_kafka_ConsumerGroupDescription_t *d,
                             bool verbose)
{
    rd_kafka_consumer_group_state_t st = desc_state(d, g);
    size_t nm = st == RD_KAFKA_CONSUMER_GROUP_STATE_DEAD
                    ? 0
                    : rd_kafka_ConsumerGroupDescription_member_count(d);
    if (!should_print(g, st, nm))
        return;
    int wg = wmax(15, g), wc = 15, wi = 17, wh = 15, wl = 15;
    bool with_instance = false;
    for (size_t i = 0; i < nm; i++) {
        const rd_kafka_MemberDescription_t *m = rd_kafka_ConsumerGroupDescription_member(d, i);
        const char *inst = rd_kafka_MemberDescription_group_instance_id(m);
        wc = wmax(wc, rd_kafka_MemberDescription_consumer_id(m));
        wi = wmax(wi, inst);
        wh = wmax(wh, rd_kafka_MemberDescription_host(m));
        wl = wmax(wl, rd_kafka_MemberDescription_client_id(m));
        with_instance = with_instance || (inst && *inst);
    }
    if (with_instance)
        printf("\n%-*s %-*s %-*s %-*s %-*s %-15s ", wg, "GROUP", wc, "CONSUMER-ID", wi,
               "GROUP-INSTANCE-ID", wh, "HOST", wl, "CLIENT-ID", "#PARTITIONS");
    else
        printf("\n%-*s %-*s %-*s %-*s %-15s ", wg, "GROUP", wc, "CONSUMER-ID", wh, "HOST", wl,
               "CLIENT-ID", "#PARTITIONS");
    printf("%s\n", verbose ? "ASSIGNMENT" : "");
    for (size_t i = 0; i < nm; i++) {
        const rd_kafka_MemberDescription_t *m = rd_kafka_ConsumerGroupDescription_member(d, i);
        const rd_kafka_topic_partition_list_t *p = member_parts(m);
        const char *inst = rd_kafka_MemberDescription_group_instance_id(m);
        char np[16];
        snprintf(np, sizeof np, "%d", p ? p->cnt : 0);
        if (with_instance)
            printf("%-*s %-*s %-*s %-*s %-*s %-15s ", wg, g, wc,
                   rd_kafka_MemberDescription_consumer_id(m), wi, inst ? inst : "", wh,
                   rd_kafka_MemberDescription_host(m), wl, rd_kafka_MemberDescription_client_id(m),
                   np);
        else
            printf("%-*s %-*s %-*s %-*s %-15s ", wg, g, wc,
                   rd_kafka_MemberDescription_consumer_id(m), wh,
                   rd_kafka_MemberDescription_host(m), wl, rd_kafka_MemberDescription_client_id(m),
                   np);
        if (verbose) {
            char a[4096];
            assignment_str(p, a, sizeof a);
            printf("%s", a);
        }
        printf("\n");
    }
}

static void describe_state(const char *g, const rd_kafka_ConsumerGroupDescription_t *d)
{
    rd_kafka_consumer_group_state_t st = desc_state(d, g);
    if (!should_print(g, st, 1))
        return;
    const rd_kafka_Node_t *n = rd_kafka_ConsumerGroupDescription_coordinator(d);
    char coord[300];
    if (n)
        snprintf(coord, sizeof coord, "%s:%u  (%d)", rd_kafka_Node_host(n), rd_kafka_Node_port(n),
                 rd_kafka_Node_id(n));
    else
        snprintf(coord, sizeof coord, MISSING);
    const char *as = rd_kafka_ConsumerGroupDescription_partition_assignor(d);
    if (!as || !*as)
        as = MISSING;
    int wg = wmax(15, g), wc = wmax(25, coord);
    printf("\n%-*s %-*s %-20s %-20s %s", wg, "GROUP", wc, "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY",
           "STATE", "#MEMBERS");
    printf("\n%-*s %-*s %-20s %-20s %zu\n", wg, g, wc, coord, as, state_name(st),
           rd_kafka_ConsumerGroupDescription_member_count(d));
}

/* ------------------------------------------------------------------ reset */

typedef enum scen {
    S_NONE,
    S_EARLIEST,
    S_LATEST,
    S_CURRENT,
    S_OFFSET,
    S_DATETIME,
    S_DURATION,
    S_SHIFT,
    S_FILE
} scen;

/* "YYYY-MM-DDTHH:mm:SS[.sss][Z|+hh:mm|+hhmm|-hh:mm]" -> ms since the epoch;
 * no zone means local time (Kafka's Utils.getDateTime). */
static int64_t parse_datetime(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int ms = 0, used = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &used) != 6)
        goto bad;
    const char *p = s + used;
    if (*p == '.') {
        p++;
        int digits = 0;
        while (isdigit((unsigned char)*p)) {
            if (digits < 3)
                ms = ms * 10 + (*p - '0');
            digits++;
            p++;
        }
        if (!digits)
            goto bad;
        for (; digits < 3; digits++)
            ms *= 10;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t;
    if (*p == 0) {
        tm.tm_isdst = -1;
        t = mktime(&tm);
    } else {
        long off = 0;
        if (*p == 'Z' && p[1] == 0) {
            off = 0;
        } else if (*p == '+' || *p == '-') {
            int hh = 0, mm = 0;
            if (!(sscanf(p + 1, "%2d:%2d", &hh, &mm) == 2 && strlen(p) == 6) &&
                !(sscanf(p + 1, "%2d%2d", &hh, &mm) == 2 && strlen(p) == 5) &&
                !(sscanf(p + 1, "%2d", &hh) == 1 && strlen(p) == 3))
                goto bad;
            off = (hh * 60L + mm) * 60L * (*p == '-' ? -1 : 1);
        } else {
            goto bad;
        }
        t = timegm(&tm) - off;
    }
    return (int64_t)t * 1000 + ms;
bad:
    bk_tool_usage_error("--to-datetime: expected yyyy-MM-ddTHH:mm:SS.sss[zone], got '%s'", s);
}

/* ISO-8601 duration "PnDTnHnMn.nS" (Java's Duration.parse) -> ms. */
static int64_t parse_duration(const char *s)
{
    const char *p = s;
    int sign = 1;
    if (*p == '-' || *p == '+')
        sign = *p++ == '-' ? -1 : 1;
    if (*p != 'P' && *p != 'p')
        goto bad;
    p++;
    double ms = 0;
    bool in_time = false, any = false;
    while (*p) {
        if (*p == 'T' || *p == 't') {
            if (in_time)
                goto bad;
            in_time = true;
            p++;
            continue;
        }
        char *end;
        double v = strtod(p, &end);
        if (end == p)
            goto bad;
        char u = (char)toupper((unsigned char)*end);
        if (u == 'D' && !in_time)
            ms += v * 86400000.0;
        else if (u == 'H' && in_time)
            ms += v * 3600000.0;
        else if (u == 'M' && in_time)
            ms += v * 60000.0;
        else if (u == 'S' && in_time)
            ms += v * 1000.0;
        else
            goto bad;
        any = true;
        p = end + 1;
    }
    if (!any)
        goto bad;
    return (int64_t)(sign * ms);
bad:
    bk_tool_usage_error(
        "--by-duration: expected an ISO-8601 duration such as PT1H or P1DT2H30M, got '%s'", s);
}

typedef struct reset_args {
    scen sc;
    int64_t offset, shift, ts;
    char **topics;
    int ntopics;
    bool all_topics, execute;
    const char *file;  /* --from-file */
    bool export_csv;   /* --export */
    bool single;       /* one --group: CSV without the group column */
    bool warn_dry_run; /* neither --dry-run nor --execute */
} reset_args;

/* The plan of group g in a --from-file CSV: "topic,partition,offset" lines
 * (one group) or "group,topic,partition,offset" lines, as --export writes. */
static rd_kafka_topic_partition_list_t *plan_from_file(const reset_args *a, const char *g)
{
    FILE *f = fopen(a->file, "r");
    if (!f)
        bk_tool_die("cannot read %s: %s", a->file, strerror(errno));
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
    char line[1024];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0])
            continue;
        char *field[5];
        int nf = 0;
        char *save = NULL;
        for (char *t = strtok_r(line, ",", &save); t && nf < 5; t = strtok_r(NULL, ",", &save))
            field[nf++] = t;
        if (nf != 3 && nf != 4)
            bk_tool_die("%s:%d: expected [group,]topic,partition,offset", a->file, lineno);
        if (nf == 4 && strcmp(field[0], g) != 0)
            continue;
        if (nf == 3 && !a->single)
            bk_tool_die("%s:%d: lines need the group column when several groups are reset", a->file,
                        lineno);
        const char *t = field[nf - 3];
        char *end1, *end2;
        long p = strtol(field[nf - 2], &end1, 10);
        long long o = strtoll(field[nf - 1], &end2, 10);
        if (*end1 || *end2 || p < 0 || p > INT32_MAX || o < 0)
            bk_tool_die("%s:%d: bad partition or offset", a->file, lineno);
        rd_kafka_topic_partition_list_add(l, t, (int32_t)p)->offset = o;
    }
    fclose(f);
    return l;
}

/* Clamp requested offsets into [log start, log end] (Kafka's checkOffsetsRange). */
static void clamp(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *l)
{
    rd_kafka_topic_partition_list_t *lo = log_offsets(rk, l, RD_KAFKA_OFFSET_BEGINNING);
    rd_kafka_topic_partition_list_t *hi = log_offsets(rk, l, RD_KAFKA_OFFSET_END);
    for (int i = 0; i < l->cnt; i++) {
        int64_t s = offset_in(lo, l->elems[i].topic, l->elems[i].partition);
        int64_t e = offset_in(hi, l->elems[i].topic, l->elems[i].partition);
        if (e >= 0 && l->elems[i].offset > e)
            l->elems[i].offset = e;
        else if (s >= 0 && l->elems[i].offset < s)
            l->elems[i].offset = s;
    }
    rd_kafka_topic_partition_list_destroy(lo);
    rd_kafka_topic_partition_list_destroy(hi);
}

/* The new offsets of group g (sorted). */
static rd_kafka_topic_partition_list_t *plan_reset(rd_kafka_t *rk, const char *g,
                                                   const reset_args *a)
{
    rd_kafka_topic_partition_list_t *com = committed(rk, g);
    rd_kafka_topic_partition_list_t *l;
    if (a->sc == S_FILE) {
        l = plan_from_file(a, g);
    } else if (a->all_topics) {
        l = rd_kafka_topic_partition_list_copy(com);
    } else {
        l = parse_topics(rk, a->topics, a->ntopics);
    }
    switch (a->sc) {
    case S_EARLIEST:
    case S_LATEST:
    case S_DATETIME:
    case S_DURATION: {
        int64_t ts = a->sc == S_EARLIEST ? RD_KAFKA_OFFSET_BEGINNING
                     : a->sc == S_LATEST ? RD_KAFKA_OFFSET_END
                                         : a->ts;
        rd_kafka_topic_partition_list_t *o = log_offsets(rk, l, ts);
        rd_kafka_topic_partition_list_t *end = NULL;
        for (int i = 0; i < l->cnt; i++) {
            int64_t v = offset_in(o, l->elems[i].topic, l->elems[i].partition);
            if (v < 0 && (a->sc == S_DATETIME || a->sc == S_DURATION)) {
                /* No record at or after the time: the log end (Kafka warns too). */
                fprintf(stderr,
                        "\nWarn: Partition %" PRId32
                        " from topic %s is empty. Falling back to latest known offset.\n",
                        l->elems[i].partition, l->elems[i].topic);
                if (!end)
                    end = log_offsets(rk, l, RD_KAFKA_OFFSET_END);
                v = offset_in(end, l->elems[i].topic, l->elems[i].partition);
            }
            if (v < 0)
                bk_tool_die("cannot get the %s offset of %s-%" PRId32,
                            a->sc == S_EARLIEST ? "starting"
                            : a->sc == S_LATEST ? "ending"
                                                : "timestamp",
                            l->elems[i].topic, l->elems[i].partition);
            l->elems[i].offset = v;
        }
        if (end)
            rd_kafka_topic_partition_list_destroy(end);
        rd_kafka_topic_partition_list_destroy(o);
        break;
    }
    case S_CURRENT: {
        rd_kafka_topic_partition_list_t *end = log_offsets(rk, l, RD_KAFKA_OFFSET_END);
        for (int i = 0; i < l->cnt; i++) {
            int64_t v = committed_of(com, l->elems[i].topic, l->elems[i].partition);
            if (v < 0)
                v = offset_in(end, l->elems[i].topic, l->elems[i].partition);
            if (v < 0)
                bk_tool_die("cannot get the ending offset of %s-%" PRId32, l->elems[i].topic,
                            l->elems[i].partition);
            l->elems[i].offset = v;
        }
        rd_kafka_topic_partition_list_destroy(end);
        break;
    }
    case S_OFFSET:
        for (int i = 0; i < l->cnt; i++)
            l->elems[i].offset = a->offset;
        clamp(rk, l);
        break;
    case S_SHIFT:
        for (int i = 0; i < l->cnt; i++) {
            int64_t v = committed_of(com, l->elems[i].topic, l->elems[i].partition);
            if (v < 0)
                bk_tool_die("Cannot shift offset for partition %s-%" PRId32
                            " since there is no current committed offset",
                            l->elems[i].topic, l->elems[i].partition);
            l->elems[i].offset = v + a->shift;
        }
        clamp(rk, l);
        break;
    case S_FILE:
    case S_NONE:
        break;
    }
    rd_kafka_topic_partition_list_destroy(com);
    sort_tps(l);
    return l;
}

static void alter_offsets(rd_kafka_t *rk, const char *g, const rd_kafka_topic_partition_list_t *l)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = aopts(rk);
    rd_kafka_AlterConsumerGroupOffsets_t *req = rd_kafka_AlterConsumerGroupOffsets_new(g, l);
    rd_kafka_AlterConsumerGroupOffsets(rk, &req, 1, o, q);
    rd_kafka_AlterConsumerGroupOffsets_destroy(req);
    rd_kafka_event_t *ev = admin_wait(q, RD_KAFKA_EVENT_ALTERCONSUMERGROUPOFFSETS_RESULT);
    size_t n = 0;
    const rd_kafka_group_result_t **gr = rd_kafka_AlterConsumerGroupOffsets_result_groups(
        rd_kafka_event_AlterConsumerGroupOffsets_result(ev), &n);
    for (size_t i = 0; i < n; i++) {
        const rd_kafka_error_t *e = rd_kafka_group_result_error(gr[i]);
        if (e)
            bk_tool_die("cannot commit the offsets of group '%s': %s", g, rd_kafka_error_string(e));
        const rd_kafka_topic_partition_list_t *p = rd_kafka_group_result_partitions(gr[i]);
        for (int j = 0; p && j < p->cnt; j++)
            if (p->elems[j].err)
                bk_tool_die("cannot commit the offset of %s-%" PRId32 " for group '%s': %s",
                            p->elems[j].topic, p->elems[j].partition, g,
                            rd_kafka_err2str(p->elems[j].err));
    }
    rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
}

static void reset_offsets(rd_kafka_t *rk, const char **groups, size_t ng, const reset_args *a)
{
    rd_kafka_event_t *ev = describe(rk, groups, ng);
    rd_kafka_topic_partition_list_t **plans = calloc(ng + 1, sizeof *plans);
    for (size_t i = 0; i < ng; i++) {
        rd_kafka_consumer_group_state_t st = desc_state(find_desc(ev, groups[i]), groups[i]);
        if (st != RD_KAFKA_CONSUMER_GROUP_STATE_EMPTY && st != RD_KAFKA_CONSUMER_GROUP_STATE_DEAD) {
            fail("Assignments can only be reset if the group '%s' is inactive, but the current "
                 "state is %s.",
                 groups[i], state_name(st));
            continue;
        }
        plans[i] = plan_reset(rk, groups[i], a);
        if (a->execute)
            alter_offsets(rk, groups[i], plans[i]);
    }
    rd_kafka_event_destroy(ev);
    int wg = 15, wt = 15;
    bool any = false;
    for (size_t i = 0; i < ng; i++) {
        if (!plans[i])
            continue;
        any = true;
        wg = wmax(wg, groups[i]);
        for (int j = 0; j < plans[i]->cnt; j++)
            wt = wmax(wt, plans[i]->elems[j].topic);
    }
    /* (Kafka warns at the start; here only once nothing failed, so that a
     * failure stays one line.) */
    if (a->warn_dry_run && !exit_code)
        fprintf(stderr, "WARN: No action will be performed as the --execute option is missing. "
                        "Add --dry-run to keep this behaviour without the warning.\n");
    if (any && a->export_csv) {
        for (size_t i = 0; i < ng; i++)
            for (int j = 0; plans[i] && j < plans[i]->cnt; j++) {
                if (!a->single)
                    printf("%s,", groups[i]);
                printf("%s,%" PRId32 ",%" PRId64 "\n", plans[i]->elems[j].topic,
                       plans[i]->elems[j].partition, plans[i]->elems[j].offset);
            }
    } else if (any) {
        printf("\n%-*s %-*s %-10s %s", wg, "GROUP", wt, "TOPIC", "PARTITION", "NEW-OFFSET");
        for (size_t i = 0; i < ng; i++)
            for (int j = 0; plans[i] && j < plans[i]->cnt; j++) {
                char part[16];
                snprintf(part, sizeof part, "%" PRId32, plans[i]->elems[j].partition);
                printf("\n%-*s %-*s %-10s %" PRId64, wg, groups[i], wt, plans[i]->elems[j].topic,
                       part, plans[i]->elems[j].offset);
            }
        printf("\n");
    }
    for (size_t i = 0; i < ng; i++)
        if (plans[i])
            rd_kafka_topic_partition_list_destroy(plans[i]);
    free(plans);
}

/* ----------------------------------------------------------------- delete */

static void delete_groups(rd_kafka_t *rk, const char **groups, size_t ng)
{
    rd_kafka_DeleteGroup_t **req = calloc(ng + 1, sizeof *req);
    for (size_t i = 0; i < ng; i++)
        req[i] = rd_kafka_DeleteGroup_new(groups[i]);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = aopts(rk);
    rd_kafka_DeleteGroups(rk, req, ng, o, q);
    rd_kafka_DeleteGroup_destroy_array(req, ng);
    free(req);
    rd_kafka_event_t *ev = admin_wait(q, RD_KAFKA_EVENT_DELETEGROUPS_RESULT);
    size_t n = 0;
    const rd_kafka_group_result_t **gr =
        rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(ev), &n);
    char ok[8192] = "";
    size_t len = 0;
    int nok = 0;
    for (size_t i = 0; i < n; i++) {
        const rd_kafka_error_t *e = rd_kafka_group_result_error(gr[i]);
        const char *name = rd_kafka_group_result_name(gr[i]);
        if (e) {
            fail("Group '%s' could not be deleted due to: %s", name, rd_kafka_error_string(e));
            continue;
        }
        if (len < sizeof ok) { /* (thousands of groups: the list is cut short) */
            int w = snprintf(ok + len, sizeof ok - len, "%s'%s'", nok ? ", " : "", name);
            if (w > 0)
                len += (size_t)w;
        }
        nok++;
    }
    if (nok && !exit_code)
        printf("Deletion of requested consumer groups (%s) was successful.\n", ok);
    else if (nok)
        printf("\nThese consumer groups were deleted successfully: %s\n", ok);
    rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
}

static void delete_offsets(rd_kafka_t *rk, const char *g, char **topics, int ntopics)
{
    rd_kafka_topic_partition_list_t *l = parse_topics(rk, topics, ntopics);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = aopts(rk);
    rd_kafka_DeleteConsumerGroupOffsets_t *req = rd_kafka_DeleteConsumerGroupOffsets_new(g, l);
    rd_kafka_DeleteConsumerGroupOffsets(rk, &req, 1, o, q);
    rd_kafka_DeleteConsumerGroupOffsets_destroy(req);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_ms + 5000);
    if (!ev)
        bk_tool_die("no answer within %d ms", timeout_ms + 5000);
    if (rd_kafka_event_error(ev))
        bk_tool_die("cannot delete the offsets of group '%s': %s (%s)", g,
                    rd_kafka_err2str(rd_kafka_event_error(ev)),
                    rd_kafka_err2name(rd_kafka_event_error(ev)));
    size_t n = 0;
    const rd_kafka_group_result_t **gr = rd_kafka_DeleteConsumerGroupOffsets_result_groups(
        rd_kafka_event_DeleteConsumerGroupOffsets_result(ev), &n);
    if (n != 1)
        bk_tool_die("no result for group '%s' in the answer", g);
    const rd_kafka_error_t *e = rd_kafka_group_result_error(gr[0]);
    const rd_kafka_topic_partition_list_t *p = rd_kafka_group_result_partitions(gr[0]);
    bool part_err = false;
    for (int i = 0; p && i < p->cnt; i++)
        part_err = part_err || p->elems[i].err;
    if (e && !part_err)
        bk_tool_die("%s", rd_kafka_error_string(e));
    if (!e && !part_err)
        printf("Request succeeded for deleting offsets from group %s.\n", g);
    int wt = 15;
    for (int i = 0; p && i < p->cnt; i++)
        wt = wmax(wt, p->elems[i].topic);
    printf("\n%-*s %-10s %-15s", wt, "TOPIC", "PARTITION", "STATUS");
    rd_kafka_topic_partition_list_t *s =
        p ? rd_kafka_topic_partition_list_copy(p) : rd_kafka_topic_partition_list_new(0);
    sort_tps(s);
    for (int i = 0; i < s->cnt; i++) {
        char part[16], status[512];
        snprintf(part, sizeof part, "%" PRId32, s->elems[i].partition);
        if (s->elems[i].err)
            snprintf(status, sizeof status, "Error: %s", rd_kafka_err2str(s->elems[i].err));
        else
            snprintf(status, sizeof status, "Successful");
        printf("\n%-*s %-10s %-15s", wt, s->elems[i].topic, part, status);
    }
    printf("\n");
    if (part_err)
        fail("Encountered some partition-level error, see the follow-up details.");
    rd_kafka_topic_partition_list_destroy(s);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
}

/* ------------------------------------------------------------------- main */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool parse_state_filter(const char *spec, bool want[RD_KAFKA_CONSUMER_GROUP_STATE__CNT])
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", spec);
    bool any = false;
    char *save = NULL;
    for (char *s = strtok_r(buf, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
        while (*s == ' ')
            s++;
        size_t n = strlen(s);
        while (n && s[n - 1] == ' ')
            s[--n] = 0;
        int found = -1;
        for (int i = 1; i < RD_KAFKA_CONSUMER_GROUP_STATE__CNT; i++)
            if (strcasecmp(s, state_name((rd_kafka_consumer_group_state_t)i)) == 0)
                found = i;
        if (found < 0)
            bk_tool_usage_error("Invalid state list '%s'. Valid states are: PreparingRebalance, "
                                "CompletingRebalance, Stable, Dead, Empty",
                                spec);
        want[found] = true;
        any = true;
    }
    return any;
}

int bk_cmd_consumer_groups(int argc, char **argv)
{
    enum {
        O_BOOT = 1000,
        O_CCONF,
        O_LIST,
        O_DESCRIBE,
        O_DELETE,
        O_RESET,
        O_DELOFF,
        O_GROUP,
        O_ALLGROUPS,
        O_MEMBERS,
        O_STATE,
        O_OFFSETS,
        O_VERBOSE,
        O_TOPIC,
        O_ALLTOPICS,
        O_EARLIEST,
        O_LATEST,
        O_CURRENT,
        O_TOOFFSET,
        O_DATETIME,
        O_DURATION,
        O_SHIFT,
        O_FROMFILE,
        O_EXPORT,
        O_DRYRUN,
        O_EXECUTE,
        O_TIMEOUT,
        O_HELP,
        O_VERSION
    };
    static const struct option lo[] = {
        {"bootstrap-server", required_argument, 0, O_BOOT},
        {"command-config", required_argument, 0, O_CCONF},
        {"list", no_argument, 0, O_LIST},
        {"describe", no_argument, 0, O_DESCRIBE},
        {"delete", no_argument, 0, O_DELETE},
        {"reset-offsets", no_argument, 0, O_RESET},
        {"delete-offsets", no_argument, 0, O_DELOFF},
        {"group", required_argument, 0, O_GROUP},
        {"all-groups", no_argument, 0, O_ALLGROUPS},
        {"members", no_argument, 0, O_MEMBERS},
        {"state", optional_argument, 0, O_STATE},
        {"offsets", no_argument, 0, O_OFFSETS},
        {"verbose", no_argument, 0, O_VERBOSE},
        {"topic", required_argument, 0, O_TOPIC},
        {"all-topics", no_argument, 0, O_ALLTOPICS},
        {"to-earliest", no_argument, 0, O_EARLIEST},
        {"to-latest", no_argument, 0, O_LATEST},
        {"to-current", no_argument, 0, O_CURRENT},
        {"to-offset", required_argument, 0, O_TOOFFSET},
        {"to-datetime", required_argument, 0, O_DATETIME},
        {"by-duration", required_argument, 0, O_DURATION},
        {"shift-by", required_argument, 0, O_SHIFT},
        {"from-file", required_argument, 0, O_FROMFILE},
        {"export", no_argument, 0, O_EXPORT},
        {"dry-run", no_argument, 0, O_DRYRUN},
        {"execute", no_argument, 0, O_EXECUTE},
        {"timeout", required_argument, 0, O_TIMEOUT},
        {"help", no_argument, 0, O_HELP},
        {"version", no_argument, 0, O_VERSION},
        {0, 0, 0, 0},
    };
    const char *boot = NULL, *cconf = NULL, *state_spec = NULL;
    int action = 0, nactions = 0, nscen = 0;
    bool all_groups = false, members = false, state = false, offsets = false, verbose = false,
         dry_run = false;
    const char **groups = calloc((size_t)argc + 1, sizeof *groups);
    size_t ngroups = 0;
    reset_args ra = {.topics = calloc((size_t)argc + 1, sizeof(char *))};

    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
        switch (c) {
        case O_BOOT:
            boot = optarg;
            break;
        case O_CCONF:
            cconf = optarg;
            break;
        case O_LIST:
        case O_DESCRIBE:
        case O_DELETE:
        case O_RESET:
        case O_DELOFF:
            if (action != c)
                nactions++;
            action = c;
            break;
        case O_GROUP:
            groups[ngroups++] = optarg;
            break;
        case O_ALLGROUPS:
            all_groups = true;
            break;
        case O_MEMBERS:
            members = true;
            break;
        case O_STATE:
            state = true;
            /* --state [S,S]: the value is optional, also as a separate word. */
            if (optarg)
                state_spec = optarg;
            else if (optind < argc && argv[optind][0] != '-')
                state_spec = argv[optind++];
            break;
        case O_OFFSETS:
            offsets = true;
            break;
        case O_VERBOSE:
            verbose = true;
            break;
        case O_TOPIC:
            ra.topics[ra.ntopics++] = optarg;
            break;
        case O_ALLTOPICS:
            ra.all_topics = true;
            break;
        case O_EARLIEST:
            ra.sc = S_EARLIEST;
            nscen++;
            break;
        case O_LATEST:
            ra.sc = S_LATEST;
            nscen++;
            break;
        case O_CURRENT:
            ra.sc = S_CURRENT;
            nscen++;
            break;
        case O_TOOFFSET:
            ra.sc = S_OFFSET;
            nscen++;
            ra.offset = bk_tool_parse_i64("--to-offset", optarg);
            break;
        case O_DATETIME:
            ra.sc = S_DATETIME;
            nscen++;
            ra.ts = parse_datetime(optarg);
            break;
        case O_DURATION:
            ra.sc = S_DURATION;
            nscen++;
            ra.ts = bk_tool_wall_ms() - parse_duration(optarg);
            break;
        case O_SHIFT:
            ra.sc = S_SHIFT;
            nscen++;
            ra.shift = bk_tool_parse_i64("--shift-by", optarg);
            break;
        case O_FROMFILE:
            ra.sc = S_FILE;
            nscen++;
            ra.file = optarg;
            break;
        case O_EXPORT:
            ra.export_csv = true;
            break;
        case O_DRYRUN:
            dry_run = true;
            break;
        case O_EXECUTE:
            ra.execute = true;
            break;
        case O_TIMEOUT: {
            int64_t t = bk_tool_parse_i64("--timeout", optarg);
            if (t <= 0 || t > INT32_MAX)
                bk_tool_usage_error("--timeout: out of range: %s", optarg);
            timeout_ms = (int)t;
            break;
        }
        case O_HELP:
            usage(stdout);
            exit(0);
        case O_VERSION:
            bk_tool_print_version();
            exit(0);
        default:
            bk_tool_usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        bk_tool_usage_error("unexpected argument '%s'", argv[optind]);
    if (nactions != 1)
        bk_tool_usage_error(
            "Command must include exactly one action: --list, --describe, --delete, "
            "--reset-offsets, --delete-offsets");
    bool want[RD_KAFKA_CONSUMER_GROUP_STATE__CNT] = {false};
    bool filter = false;
    if (action == O_LIST && state_spec)
        filter = parse_state_filter(state_spec, want);
    if (action != O_LIST && state_spec)
        bk_tool_usage_error("--state takes a value only with --list");
    if ((action == O_DESCRIBE || action == O_DELETE || action == O_RESET) && !ngroups &&
        !all_groups)
        bk_tool_usage_error("Option --%s takes one of these options: --all-groups, --group",
                            action == O_DESCRIBE ? "describe"
                            : action == O_DELETE ? "delete"
                                                 : "reset-offsets");
    if (ngroups && all_groups)
        bk_tool_usage_error("Options --group and --all-groups cannot be used together");
    if (action == O_DESCRIBE && members + state + offsets > 1)
        bk_tool_usage_error(
            "Option --describe takes at most one of these options: --members, --offsets, --state");
    if (action == O_DELOFF && (ngroups != 1 || ra.ntopics == 0))
        bk_tool_usage_error("Option --delete-offsets takes the options --group (one) and --topic");
    if (action == O_RESET) {
        if (nscen != 1)
            bk_tool_usage_error("Option --reset-offsets requires one of the following scenarios: "
                                "--to-offset, --to-datetime, --by-duration, --to-earliest, "
                                "--to-latest, --shift-by, --to-current, --from-file");
        if (!ra.all_topics && !ra.ntopics && ra.sc != S_FILE)
            bk_tool_usage_error(
                "One of the reset scopes should be defined: --all-topics, --topic.");
        if (ra.all_topics && ra.ntopics)
            bk_tool_usage_error("Options --all-topics and --topic cannot be used together");
        if (dry_run && ra.execute)
            bk_tool_usage_error(
                "Option --reset-offsets only accepts one of --execute and --dry-run");
        ra.warn_dry_run = !dry_run && !ra.execute;
        ra.single = ngroups == 1;
    } else if (nscen || ra.execute || dry_run || ra.all_topics || ra.export_csv) {
        bk_tool_usage_error("reset scenarios, --all-topics, --export, --dry-run and --execute need "
                            "--reset-offsets");
    }

    rd_kafka_conf_t *conf = bk_tool_conf(boot);
    bk_tool_set(conf, "client.id", "consumer-groups");
    if (cconf)
        bk_tool_conf_file(conf, cconf);
    /* Log end = high watermark, as Kafka's admin ListOffsets reports it. */
    bk_tool_set(conf, "isolation.level", "read_uncommitted");
    /* LAG-SECONDS (lag_seconds): EOF says "caught up"; a commit below the
     * log start reads the oldest message left; small fetches. */
    bk_tool_set(conf, "enable.partition.eof", "true");
    bk_tool_set(conf, "auto.offset.reset", "earliest");
    bk_tool_set(conf, "fetch.message.max.bytes", "65536");
    bk_tool_set(conf, "queued.max.messages.kbytes", "1024");
    rd_kafka_t *rk = bk_tool_client(RD_KAFKA_CONSUMER, conf);
    bk_tool_wait_connected(rk, boot, BK_TOOL_CONNECT_TIMEOUT_MS);

    size_t nl = 0;
    glisting *gl = NULL;
    if (action == O_LIST || all_groups) {
        gl = list_groups(rk, &nl);
        if (all_groups) {
            free(groups);
            groups = calloc(nl + 1, sizeof *groups);
            for (size_t i = 0; i < nl; i++)
                groups[i] = gl[i].id;
            ngroups = nl;
        }
    }
    switch (action) {
    case O_LIST:
        if (state) {
            int w = 15;
            for (size_t i = 0; i < nl; i++)
                w = wmax(w, gl[i].id);
            printf("%-*s %s\n", w, "GROUP", "STATE");
            for (size_t i = 0; i < nl; i++)
                if (!filter || want[gl[i].state])
                    printf("%-*s %s\n", w, gl[i].id, state_name(gl[i].state));
        } else {
            for (size_t i = 0; i < nl; i++)
                printf("%s\n", gl[i].id);
        }
        break;
    case O_DESCRIBE: {
        if (!ngroups)
            break;
        /* Sorted by group id, as Kafka prints them. */
        qsort(groups, ngroups, sizeof *groups, cmp_str);
        rd_kafka_event_t *ev = describe(rk, groups, ngroups);
        for (size_t i = 0; i < ngroups; i++) {
            const rd_kafka_ConsumerGroupDescription_t *d = find_desc(ev, groups[i]);
            if (members)
                describe_members(groups[i], d, verbose);
            else if (state)
                describe_state(groups[i], d);
            else
                describe_offsets(rk, groups[i], d);
        }
        rd_kafka_event_destroy(ev);
        break;
    }
    case O_RESET:
        if (ngroups)
            reset_offsets(rk, groups, ngroups, &ra);
        break;
    case O_DELETE:
        if (ngroups)
            delete_groups(rk, groups, ngroups);
        break;
    case O_DELOFF:
        delete_offsets(rk, groups[0], ra.topics, ra.ntopics);
        break;
    }
    fflush(stdout);
    for (size_t i = 0; i < nl; i++)
        free(gl[i].id);
    free(gl);
    free(groups);
    free(ra.topics);
    rd_kafka_destroy(rk);
    return exit_code;
}
