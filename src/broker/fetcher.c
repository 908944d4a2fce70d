/* fetcher.c - follower replica fetchers. See fetcher.h. */
#include "fetcher.h"

#include "../cluster/cluster.h"
#include "../cluster/throttle.h"
#include "../core/clock.h"
#include "../core/log.h"
#include "../net/tlsclient.h"
#include "../proto/api.h"
#include "leader_epoch.h"
#include "replica.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define KEY_FETCH        1
#define KEY_LIST_OFFSETS 2
#define KEY_OFFSET_EPOCH 23
#define FETCH_VERSION    12 /* topics by name (no topic ids known) */
#define FETCH_VERSION_ID 15 /* topic ids, ReplicaState */
#define LIST_VERSION     2
#define EPOCH_VERSION    4
#define MAX_FRAME        (256u << 20)
#define ARENA_LIMIT      (512u << 20)

enum { FP_TRUNCATE, FP_FETCH, FP_OOR, FP_FENCED };
enum { C_DOWN, C_CONNECTING, C_HANDSHAKE, C_READY, C_SENDING, C_WAITING };

typedef struct fpart {
    struct fpart *next;
    char *topic; /* owned */
    int32_t index;
    int32_t leader, epoch;
    int state;
    int64_t delay_until; /* monotonic ms */
    bool in_flight;
} fpart;

typedef struct fconn {
    struct fconn *next;
    bk_fetcher *f;
    int32_t leader;
    int fd;
    bk_ibsock *sock; /* owned: TLS or plain transport (tlsclient.h) */
    bk_ev_io io;
    int st;
    bk_wr out;
    size_t out_off;
    uint8_t *in; /* owned */
    size_t in_len, in_cap;
    int32_t corr;
    int16_t key, ver;
    int64_t sent_ms, retry_at;
} fconn;

struct bk_fetcher {
    bk_broker *b;
    fpart *parts;
    int nparts;
    fconn *conns;
    bk_ibconn_ctx *sec; /* owned: the inter-broker listener's protocol */
    bk_arena arena;
    char client_id[64];
};

bk_fetcher *bk_fetcher_new(bk_broker *b)
{
    bk_fetcher *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->b = b;
    char err[256];
    if (!(f->sec = bk_ibconn_ctx_new(b->cfg, err, sizeof err))) {
        bk_log(BK_LOG_ERROR, "fetcher: inter-broker transport: %s", err);
        free(f);
        return NULL;
    }
    bk_arena_init(&f->arena, ARENA_LIMIT);
    snprintf(f->client_id, sizeof f->client_id, "broker-%d-fetcher-0", b->node_id);
    return f;
}

static void conn_close(fconn *c, bool backoff)
{
    if (c->fd >= 0) {
        bk_ev_io_stop(c->f->b->ev, &c->io);
        bk_ibsock_free(c->sock);
        c->sock = NULL;
        close(c->fd);
    }
    c->fd = -1;
    c->st = C_DOWN;
    c->in_len = 0;
    bk_wr_reset(&c->out);
    c->out_off = 0;
    c->retry_at = bk_now_ms() + (backoff ? c->f->b->cfg->replica_fetch_backoff_ms : 0);
    for (fpart *p = c->f->parts; p; p = p->next)
        if (p->leader == c->leader)
            p->in_flight = false;
}

void bk_fetcher_free(bk_fetcher *f)
{
    if (!f)
        return;
    while (f->conns) {
        fconn *c = f->conns;
        f->conns = c->next;
        conn_close(c, false);
        bk_wr_fini(&c->out);
        free(c->in);
        free(c);
    }
    while (f->parts) {
        fpart *p = f->parts;
        f->parts = p->next;
        free(p->topic);
        free(p);
    }
    bk_arena_fini(&f->arena);
    bk_ibconn_ctx_free(f->sec);
    free(f);
}

int bk_fetcher_count(const bk_fetcher *f)
{
    return f ? f->nparts : 0;
}

static fpart *find_part(bk_fetcher *f, const char *topic, size_t len, int32_t index)
{
    for (fpart *p = f->parts; p; p = p->next)
        if (p->index == index && strlen(p->topic) == len && memcmp(p->topic, topic, len) == 0)
            return p;
    return NULL;
}

static fconn *conn_for(bk_fetcher *f, int32_t leader)
{
    for (fconn *c = f->conns; c; c = c->next)
        if (c->leader == leader)
            return c;
    fconn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->f = f;
    c->leader = leader;
    c->fd = -1;
    bk_wr_init(&c->out, 1024);
    c->next = f->conns;
    f->conns = c;
    return c;
}

static void pump(fconn *c);

int bk_fetcher_add(bk_fetcher *f, bk_partition *p, int32_t leader, int32_t leader_epoch)
{
    const char *name = p->topic->name;
    fpart *fp = find_part(f, name, strlen(name), p->index);
    if (!fp) {
        fp = calloc(1, sizeof *fp);
        if (!fp || !(fp->topic = strdup(name))) {
            free(fp);
            return BK_ENOMEM;
        }
        fp->index = p->index;
        fp->next = f->parts;
        f->parts = fp;
        f->nparts++;
    }
    fp->leader = leader;
    fp->epoch = leader_epoch;
    fp->state = FP_TRUNCATE;
    fp->delay_until = 0;
    fp->in_flight = false;
    fconn *c = conn_for(f, leader);
    if (!c)
        return BK_ENOMEM;
    if (c->st == C_READY)
        pump(c);
    return 0;
}

void bk_fetcher_remove(bk_fetcher *f, bk_partition *p)
{
    const char *name = p->topic->name;
    for (fpart **pp = &f->parts; *pp; pp = &(*pp)->next) {
        fpart *fp = *pp;
        if (fp->index == p->index && strcmp(fp->topic, name) == 0) {
            *pp = fp->next;
            free(fp->topic);
            free(fp);
            f->nparts--;
            return;
        }
    }
}

/* The partition behind fp, if this broker still follows fp->leader at
 * fp->epoch. */
static bk_partition *live_part(bk_fetcher *f, const fpart *fp)
{
    bk_broker *b = f->b;
    bk_partition *p =
        b->topics ? bk_topics_partition(b->topics, fp->topic, strlen(fp->topic), fp->index) : NULL;
    if (!p || !p->log || !p->hosted || p->leader != fp->leader || p->leader_epoch != fp->epoch)
        return NULL;
    return p;
}

/* ------------------------------------------------------------ I/O */

static void on_io(bk_ev *ev, bk_ev_io *io, uint32_t events);

static int conn_start(fconn *c)
{
    bk_broker *b = c->f->b;
    const bk_live_broker *lb = bk_broker_live_find(b, c->leader);
    if (!lb || !lb->host[0] || lb->port <= 0)
        return BK_ENOENT;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", lb->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    /* Numeric addresses resolve without blocking; a name may block the loop
     * briefly (the ZooKeeper registration normally carries what
     * advertised.listeners says). */
    if (getaddrinfo(lb->host, ps, &hints, &res) != 0)
        return BK_EIO;
    int fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd == -1) {
        freeaddrinfo(res);
        return BK_EIO;
    }
    if (connect(fd, res->ai_addr, res->ai_addrlen) == -1 && errno != EINPROGRESS) {
        freeaddrinfo(res);
        close(fd);
        return BK_EIO;
    }
    freeaddrinfo(res);
    if (!(c->sock = bk_ibsock_new(c->f->sec, fd, lb->host))) {
        close(fd);
        return BK_ENOMEM;
    }
    c->fd = fd;
    bk_ev_io_init(&c->io, fd, on_io, c);
    if (bk_ev_io_start(b->ev, &c->io, BK_EV_WRITE) != 0) {
        bk_ibsock_free(c->sock);
        c->sock = NULL;
        close(fd);
        c->fd = -1;
        return BK_EIO;
    }
    c->st = C_CONNECTING;
    c->sent_ms = bk_now_ms();
    return 0;
}

static bool flush_out(fconn *c)
{
    while (c->out_off < c->out.len) {
        uint32_t want = 0;
        errno = 0;
        ssize_t n = bk_ibsock_write(c->sock, c->out.buf + c->out_off, c->out.len - c->out_off,
                                    &want);
        if (n == BK_EAGAIN) {
            (void)bk_ev_io_set(c->f->b->ev, &c->io, BK_EV_WRITE | BK_EV_READ);
            return true;
        }
        if (n < 0) {
            bk_log_rl(BK_LOG_WARN, "fetcher: send to broker %d failed: %s", c->leader,
                      errno ? strerror(errno) : "TLS error");
            conn_close(c, true);
            return false;
        }
        c->out_off += (size_t)n;
    }
    c->st = C_WAITING;
    (void)bk_ev_io_set(c->f->b->ev, &c->io, BK_EV_READ);
    return true;
}

static int send_req(fconn *c, int16_t key, int16_t ver, const void *req)
{
    bk_fetcher *f = c->f;
    const bk_apidef *d = bk_apidef_get(key);
    int16_t hv = bk_reqhdr_version(key, ver);
    bk_RequestHeader h;
    bk_RequestHeader_init(&h);
    h.RequestApiKey = key;
    h.RequestApiVersion = ver;
    h.CorrelationId = ++c->corr;
    h.ClientId = bk_str_c(f->client_id);
    bk_wr_reset(&c->out);
    bk_wr_i32(&c->out, 0);
    int rc = bk_codec_encode(&bk_desc_RequestHeader, hv >= 2, hv, &c->out, &h);
    if (!rc)
        rc = bk_codec_encode(d->req->desc, BK_V_IN(d->req->flexible, ver), ver, &c->out, req);
    if (rc || c->out.err)
        return rc ? rc : c->out.err;
    bk_wr_patch_i32(&c->out, 0, (int32_t)(c->out.len - 4));
    c->out_off = 0;
    c->key = key;
    c->ver = ver;
    c->sent_ms = bk_now_ms();
    c->st = C_SENDING;
    flush_out(c);
    return 0;
}

/* ------------------------------------------------------------ requests */

/* Partitions of this connection in state st that may go now. */
static int ready_parts(fconn *c, int st, fpart **out, int max)
{
    int n = 0;
    int64_t now = bk_now_ms();
    for (fpart *p = c->f->parts; p && n < max; p = p->next)
        if (p->leader == c->leader && p->state == st && p->delay_until <= now && !p->in_flight &&
            live_part(c->f, p))
            out[n++] = p;
    return n;
}

#define MAX_BATCH 1024

static bool send_epochs(fconn *c)
{
    fpart *v[MAX_BATCH];
    int n = ready_parts(c, FP_TRUNCATE, v, MAX_BATCH);
    if (n == 0)
        return false;
    bk_arena_reset(&c->f->arena);
    bk_OffsetForLeaderEpochRequest rq;
    bk_OffsetForLeaderEpochRequest_init(&rq);
    rq.ReplicaId = c->f->b->node_id;
    rq.Topics.n = n;
    rq.Topics.a = bk_arena_alloc(&c->f->arena, sizeof *rq.Topics.a * (size_t)n);
    if (!rq.Topics.a)
        return false;
    for (int i = 0; i < n; i++) {
        bk_partition *p = live_part(c->f, v[i]);
        bk_OffsetForLeaderEpochRequest_OffsetForLeaderTopic *t = &rq.Topics.a[i];
        bk_OffsetForLeaderEpochRequest_OffsetForLeaderPartition *pp =
            bk_arena_alloc(&c->f->arena, sizeof *pp);
        if (!pp)
            return false;
        t->Topic = bk_str_c(v[i]->topic);
        t->Partitions.n = 1;
        t->Partitions.a = pp;
        pp->Partition = v[i]->index;
        pp->CurrentLeaderEpoch = v[i]->epoch;
        pp->LeaderEpoch = bk_partition_latest_epoch(p);
        v[i]->in_flight = true;
    }
    if (send_req(c, KEY_OFFSET_EPOCH, EPOCH_VERSION, &rq) != 0) {
        conn_close(c, true);
        return false;
    }
    return true;
}

static bool send_list(fconn *c)
{
    fpart *v[MAX_BATCH];
    int n = ready_parts(c, FP_OOR, v, MAX_BATCH);
    if (n == 0)
        return false;
    bk_arena_reset(&c->f->arena);
    bk_ListOffsetsRequest rq;
    bk_ListOffsetsRequest_init(&rq);
    rq.ReplicaId = c->f->b->node_id;
    rq.Topics.n = n;
    rq.Topics.a = bk_arena_alloc(&c->f->arena, sizeof *rq.Topics.a * (size_t)n);
    if (!rq.Topics.a)
        return false;
    for (int i = 0; i < n; i++) {
        bk_ListOffsetsRequest_ListOffsetsTopic *t = &rq.Topics.a[i];
        bk_ListOffsetsRequest_ListOffsetsPartition *pp = bk_arena_alloc(&c->f->arena, sizeof *pp);
        if (!pp)
            return false;
        bk_codec_init(&bk_desc_ListOffsetsRequest_ListOffsetsPartition, pp);
        t->Name = bk_str_c(v[i]->topic);
        t->Partitions.n = 1;
        t->Partitions.a = pp;
        pp->PartitionIndex = v[i]->index;
        pp->CurrentLeaderEpoch = v[i]->epoch;
        pp->Timestamp = -2; /* earliest */
        v[i]->in_flight = true;
    }
    if (send_req(c, KEY_LIST_OFFSETS, LIST_VERSION, &rq) != 0) {
        conn_close(c, true);
        return false;
    }
    return true;
}

/* Follower throttle (KIP-73, throttle.h): is this partition throttled
 * here, and is the follower quota exhausted? */
static bool follower_throttled(bk_fetcher *f, bk_partition *p)
{
    bk_cluster *zc = f->b->zkc;
    if (!zc || zc->follower_throttle.rate < 0 ||
        !bk_topic_repl_throttled(p->topic, false, p->index, f->b->node_id))
        return false;
    return true;
}

static bool send_fetch(fconn *c)
{
    fpart *v[MAX_BATCH];
    int n = ready_parts(c, FP_FETCH, v, MAX_BATCH);
    /* throttled partitions wait while the follower quota is exhausted */
    bk_cluster *zc = c->f->b->zkc;
    if (n > 0 && zc && zc->follower_throttle.rate >= 0 &&
        bk_throttle_exhausted(&zc->follower_throttle, bk_now_ms() * 1000)) {
        int k = 0;
        for (int i = 0; i < n; i++)
            if (!follower_throttled(c->f, live_part(c->f, v[i])))
                v[k++] = v[i];
        n = k;
    }
    if (n == 0)
        return false;
    const bk_config *cfg = c->f->b->cfg;
    bk_arena_reset(&c->f->arena);
    /* v15 (ReplicaState, topic ids) when every topic has an id - what a
     * Kafka 3.x follower does - else v12 (names; LeaderAndIsr before v5
     * carries no ids) */
    static const bk_uuid zero;
    int16_t ver = FETCH_VERSION_ID;
    for (int i = 0; i < n; i++) {
        bk_partition *p = live_part(c->f, v[i]);
        if (memcmp(p->topic->id.b, zero.b, 16) == 0)
            ver = FETCH_VERSION;
    }
    bk_FetchRequest rq;
    bk_FetchRequest_init(&rq);
    if (ver >= 15) {
        rq.ReplicaId = -1;
        rq.ReplicaState.ReplicaId = c->f->b->node_id;
        rq.ReplicaState.ReplicaEpoch = c->f->b->broker_epoch;
    } else {
        rq.ReplicaId = c->f->b->node_id;
    }
    rq.MaxWaitMs = (int32_t)BK_MIN(cfg->replica_fetch_wait_max_ms, INT32_MAX);
    rq.MinBytes = 1;
    rq.MaxBytes = 10 * 1024 * 1024;
    rq.IsolationLevel = 0;
    rq.SessionId = 0;
    rq.SessionEpoch = -1;
    rq.Topics.n = n;
    rq.Topics.a = bk_arena_alloc(&c->f->arena, sizeof *rq.Topics.a * (size_t)n);
    if (!rq.Topics.a)
        return false;
    rq.ForgottenTopicsData.n = 0;
    for (int i = 0; i < n; i++) {
        bk_partition *p = live_part(c->f, v[i]);
        bk_FetchRequest_FetchTopic *t = &rq.Topics.a[i];
        bk_codec_init(&bk_desc_FetchRequest_FetchTopic, t);
        bk_FetchRequest_FetchPartition *pp = bk_arena_alloc(&c->f->arena, sizeof *pp);
        if (!pp)
            return false;
        bk_codec_init(&bk_desc_FetchRequest_FetchPartition, pp);
        if (ver >= 13)
            t->TopicId = p->topic->id;
        else
            t->Topic = bk_str_c(v[i]->topic);
        t->Partitions.n = 1;
        t->Partitions.a = pp;
        pp->Partition = v[i]->index;
        pp->CurrentLeaderEpoch = v[i]->epoch;
        pp->FetchOffset = bk_plog_leo(p->log);
        pp->LastFetchedEpoch = -1;
        pp->LogStartOffset = p->log->log_start;
        pp->PartitionMaxBytes = cfg->replica_fetch_max_bytes;
        v[i]->in_flight = true;
    }
    if (send_req(c, KEY_FETCH, ver, &rq) != 0) {
        conn_close(c, true);
        return false;
    }
    return true;
}

static void pump(fconn *c)
{
    if (c->st == C_DOWN) {
        bool any = false;
        for (fpart *p = c->f->parts; p && !any; p = p->next)
            any = p->leader == c->leader && p->state != FP_FENCED;
        if (!any || bk_now_ms() < c->retry_at)
            return;
        int r = conn_start(c);
        if (r) {
            bk_log_rl(BK_LOG_WARN, "fetcher: cannot connect to broker %d: %s", c->leader,
                      r == BK_ENOENT ? "no known endpoint" : bk_strerror(r));
            c->retry_at = bk_now_ms() + c->f->b->cfg->replica_fetch_backoff_ms;
        }
        return;
    }
    if (c->st != C_READY)
        return;
    if (!send_epochs(c) && c->st == C_READY && !send_list(c) && c->st == C_READY)
        (void)send_fetch(c);
}

/* ------------------------------------------------------------ responses */

static void delay(bk_fetcher *f, fpart *fp)
{
    fp->delay_until = bk_now_ms() + f->b->cfg->replica_fetch_backoff_ms;
}

static fpart *resp_part(fconn *c, bk_str topic, int32_t index)
{
    if (topic.len < 0)
        return NULL;
    fpart *fp = find_part(c->f, topic.p, (size_t)topic.len, index);
    if (!fp || fp->leader != c->leader || !fp->in_flight)
        return NULL;
    return fp;
}

static void on_epochs(fconn *c, const bk_OffsetForLeaderEpochResponse *rs)
{
    bk_fetcher *f = c->f;
    for (int32_t i = 0; i < rs->Topics.n; i++) {
        const bk_OffsetForLeaderEpochResponse_OffsetForLeaderTopicResult *t = &rs->Topics.a[i];
        for (int32_t k = 0; k < t->Partitions.n; k++) {
            const bk_OffsetForLeaderEpochResponse_EpochEndOffset *e = &t->Partitions.a[k];
            fpart *fp = resp_part(c, t->Topic, e->Partition);
            bk_partition *p = fp ? live_part(f, fp) : NULL;
            if (!p)
                continue;
            fp->in_flight = false;
            if (e->ErrorCode == BK_KERR_FENCED_LEADER_EPOCH) {
                fp->state = FP_FENCED;
                continue;
            }
            if (e->ErrorCode != BK_KERR_NONE) {
                delay(f, fp);
                continue;
            }
            bk_plog *l = p->log;
            int64_t leo = bk_plog_leo(l), to;
            bool done = true;
            if (e->EndOffset == BK_UNDEFINED_EPOCH_OFFSET) {
                to = l->hw; /* the leader knows nothing of our epoch */
            } else if (e->LeaderEpoch == BK_UNDEFINED_EPOCH) {
                to = BK_MIN(e->EndOffset, leo);
            } else {
                int32_t fe;
                int64_t fend;
                bk_epochs_end_offset_for((const bk_epoch_entry *)p->epochs, p->nepochs,
                                         e->LeaderEpoch, leo, &fe, &fend);
                if (fe == BK_UNDEFINED_EPOCH) {
                    to = BK_MIN(e->EndOffset, leo);
                } else if (fe != e->LeaderEpoch) {
                    to = fend; /* diverged earlier: ask again for our older epoch */
                    done = false;
                } else {
                    to = BK_MIN(BK_MIN(e->EndOffset, fend), leo);
                }
            }
            if (to < leo && bk_replica_truncate(f->b, p, to) != 0) {
                delay(f, fp);
                continue;
            }
            if (done)
                fp->state = FP_FETCH;
        }
    }
}

static void on_list(fconn *c, const bk_ListOffsetsResponse *rs)
{
    bk_fetcher *f = c->f;
    for (int32_t i = 0; i < rs->Topics.n; i++) {
        const bk_ListOffsetsResponse_ListOffsetsTopicResponse *t = &rs->Topics.a[i];
        for (int32_t k = 0; k < t->Partitions.n; k++) {
            const bk_ListOffsetsResponse_ListOffsetsPartitionResponse *e = &t->Partitions.a[k];
            fpart *fp = resp_part(c, t->Name, e->PartitionIndex);
            bk_partition *p = fp ? live_part(f, fp) : NULL;
            if (!p)
                continue;
            fp->in_flight = false;
            if (e->ErrorCode != BK_KERR_NONE) {
                delay(f, fp);
                continue;
            }
            bk_plog *l = p->log;
            if (bk_plog_leo(l) < e->Offset) {
                /* behind the leader's log start: restart there */
                bk_log(BK_LOG_INFO, "%s-%d: restarting the log at the leader's start %lld",
                       fp->topic, fp->index, (long long)e->Offset);
                if (bk_plog_truncate_fully(l, e->Offset, bk_wall_ms()) != 0) {
                    delay(f, fp);
                    continue;
                }
                p->nepochs = 0;
                (void)bk_partition_write_epochs(p);
                fp->state = FP_FETCH;
            } else {
                fp->state = FP_TRUNCATE; /* ahead of the leader: find the divergence */
            }
        }
    }
}

static void on_fetch(fconn *c, const bk_FetchResponse *rs)
{
    bk_fetcher *f = c->f;
    if (rs->ErrorCode != BK_KERR_NONE) {
        for (fpart *fp = f->parts; fp; fp = fp->next)
            if (fp->leader == c->leader && fp->in_flight) {
                fp->in_flight = false;
                delay(f, fp);
            }
        return;
    }
    for (int32_t i = 0; i < rs->Responses.n; i++) {
        const bk_FetchResponse_FetchableTopicResponse *t = &rs->Responses.a[i];
        bk_str name = t->Topic;
        if (c->ver >= 13) {
            bk_topic *tp = f->b->topics ? bk_topics_get_id(f->b->topics, &t->TopicId) : NULL;
            name = tp ? bk_str_c(tp->name) : (bk_str){NULL, -1};
        }
        for (int32_t k = 0; k < t->Partitions.n; k++) {
            const bk_FetchResponse_PartitionData *pd = &t->Partitions.a[k];
            fpart *fp = resp_part(c, name, pd->PartitionIndex);
            bk_partition *p = fp ? live_part(f, fp) : NULL;
            if (!p)
                continue;
            fp->in_flight = false;
            switch (pd->ErrorCode) {
            case BK_KERR_NONE: break;
            case BK_KERR_OFFSET_OUT_OF_RANGE: fp->state = FP_OOR; continue;
            case BK_KERR_FENCED_LEADER_EPOCH:
                bk_log(BK_LOG_INFO, "%s-%d: fenced by the leader at epoch %d; waiting for the "
                       "controller", fp->topic, fp->index, fp->epoch);
                fp->state = FP_FENCED;
                continue;
            default: delay(f, fp); continue;
            }
            bk_plog *l = p->log;
            size_t app = 0;
            if (pd->Records.len > 0) {
                int r = bk_replica_append_as_follower(f->b, p, pd->Records.p,
                                                      (size_t)pd->Records.len, &app);
                if (r == BK_ECORRUPT) {
                    fp->state = FP_TRUNCATE;
                    delay(f, fp);
                    continue;
                }
                if (r != 0) {
                    bk_log_rl(BK_LOG_ERROR, "%s-%d: follower append failed: %s", fp->topic,
                              fp->index, bk_strerror(r));
                    delay(f, fp);
                    continue;
                }
            }
            int64_t leo = bk_plog_leo(l);
            int64_t hw = BK_MIN(pd->HighWatermark, leo);
            if (hw > l->hw)
                l->hw = hw;
            if (pd->LogStartOffset > l->log_start && pd->LogStartOffset <= l->hw)
                (void)bk_plog_delete_records(l, pd->LogStartOffset);
            if (app > 0 && f->b->started)
                bk_purgatory_notify(&f->b->purg, p, BK_WAKE_DATA | BK_WAKE_HW, app);
            if (pd->Records.len > 0 && follower_throttled(f, p))
                bk_throttle_record(&f->b->zkc->follower_throttle, pd->Records.len,
                                   bk_now_ms() * 1000);
        }
    }
}

static void on_frame(fconn *c, const uint8_t *frame, size_t len)
{
    bk_fetcher *f = c->f;
    bk_rd rd;
    bk_rd_init(&rd, frame, len);
    int16_t rv = bk_resphdr_version(c->key, c->ver);
    bk_ResponseHeader rh;
    bk_arena_reset(&f->arena);
    int rc = bk_codec_decode(&bk_desc_ResponseHeader, rv >= 1, rv, &rd, NULL, &rh);
    if (rc || rh.CorrelationId != c->corr) {
        bk_log_rl(BK_LOG_WARN, "fetcher: bad response header from broker %d", c->leader);
        conn_close(c, true);
        return;
    }
    const bk_apidef *d = bk_apidef_get(c->key);
    union {
        bk_FetchResponse fetch;
        bk_OffsetForLeaderEpochResponse epochs;
        bk_ListOffsetsResponse list;
    } u;
    rc = bk_codec_decode(d->resp->desc, BK_V_IN(d->resp->flexible, c->ver), c->ver, &rd,
                         &f->arena, &u);
    if (rc) {
        bk_log_rl(BK_LOG_WARN, "fetcher: cannot decode %s response from broker %d: %s", d->name,
                  c->leader, bk_strerror(rc));
        conn_close(c, true);
        return;
    }
    c->st = C_READY;
    if (c->key == KEY_FETCH)
        on_fetch(c, &u.fetch);
    else if (c->key == KEY_OFFSET_EPOCH)
        on_epochs(c, &u.epochs);
    else
        on_list(c, &u.list);
    /* whatever was sent and not answered goes again */
    for (fpart *fp = f->parts; fp; fp = fp->next)
        if (fp->leader == c->leader)
            fp->in_flight = false;
}

static void on_readable(fconn *c)
{
    for (;;) {
        if (c->in_cap - c->in_len < 65536) {
            size_t ncap = c->in_cap ? c->in_cap * 2 : 131072;
            uint8_t *nb = realloc(c->in, ncap);
            if (!nb) {
                conn_close(c, true);
                return;
            }
            c->in = nb;
            c->in_cap = ncap;
        }
        uint32_t want = 0;
        errno = 0;
        ssize_t n = bk_ibsock_read(c->sock, c->in + c->in_len, c->in_cap - c->in_len, &want);
        if (n == BK_EAGAIN)
            break;
        if (n <= 0) {
            bk_log_rl(BK_LOG_INFO, "fetcher: connection to broker %d closed%s%s", c->leader,
                      n ? ": " : "", n ? (errno ? strerror(errno) : "TLS error") : "");
            conn_close(c, true);
            return;
        }
        c->in_len += (size_t)n;
        if (c->in_len >= 4) {
            uint32_t sz = bk_get_be32(c->in);
            if (sz < 4 || sz > MAX_FRAME) {
                conn_close(c, true);
                return;
            }
            if (c->in_len >= 4 + (size_t)sz)
                break;
        }
    }
    if (c->in_len < 4)
        return;
    uint32_t sz = bk_get_be32(c->in);
    if (c->in_len < 4 + (size_t)sz)
        return;
    if (c->st != C_WAITING) {
        conn_close(c, true);
        return;
    }
    on_frame(c, c->in + 4, sz);
    if (c->fd < 0)
        return;
    size_t rest = c->in_len - 4 - sz;
    memmove(c->in, c->in + 4 + sz, rest);
    c->in_len = rest;
    if (rest) { /* one request in flight: nothing may follow */
        conn_close(c, true);
        return;
    }
    pump(c);
}

static void on_io(bk_ev *ev, bk_ev_io *io, uint32_t events)
{
    fconn *c = io->data;
    if (c->st == C_CONNECTING) {
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == -1 || soerr) {
            bk_log_rl(BK_LOG_WARN, "fetcher: cannot connect to broker %d: %s", c->leader,
                      strerror(soerr ? soerr : errno));
            conn_close(c, true);
            return;
        }
        c->st = C_HANDSHAKE;
    }
    if (c->st == C_HANDSHAKE) {
        uint32_t want = 0;
        char why[200];
        int r = bk_ibsock_handshake(c->sock, &want, why, sizeof why);
        if (r == BK_EAGAIN) {
            (void)bk_ev_io_set(ev, io, want);
            return;
        }
        if (r) {
            bk_log_rl(BK_LOG_WARN, "fetcher: %s handshake with broker %d failed: %s",
                      bk_ibconn_ctx_proto(c->f->sec), c->leader, why);
            conn_close(c, true);
            return;
        }
        c->st = C_READY;
        (void)bk_ev_io_set(ev, io, BK_EV_READ);
        pump(c);
        return;
    }
    if (c->st == C_SENDING) {
        if (!flush_out(c))
            return;
    }
    if (events & (BK_EV_READ | BK_EV_ERROR))
        on_readable(c);
}

void bk_fetcher_tick(bk_fetcher *f, int64_t now_ms)
{
    int64_t limit = f->b->cfg->replica_socket_timeout_ms + f->b->cfg->replica_fetch_wait_max_ms;
    for (fconn *c = f->conns; c; c = c->next) {
        if ((c->st == C_WAITING || c->st == C_SENDING || c->st == C_CONNECTING ||
             c->st == C_HANDSHAKE) &&
            now_ms - c->sent_ms > limit) {
            bk_log_rl(BK_LOG_WARN, "fetcher: no answer from broker %d; reconnecting", c->leader);
            conn_close(c, true);
        }
        pump(c);
    }
}
