/*
 * h_fetch.c - Fetch (key 1), v4-v17 (v12+ flexible, v13+ topic ids).
 *
 * Reading. Per partition, in request order: bk_plog_read() from FetchOffset
 * up to the high watermark (consumers, read_uncommitted), the last stable
 * offset (read_committed; equal to the HW until transactions exist) or the
 * LEO (a replica, ReplicaId >= 0), at most PartitionMaxBytes and at most
 * what is left of the response's MaxBytes. KIP-74: until some partition
 * has returned data, the first batch is returned whole even if it is
 * larger than both limits, so a consumer can always make progress; after
 * that the limits are hard. An offset outside [log start, LEO] is
 * OFFSET_OUT_OF_RANGE.
 *
 * Zero copy. A read gives a byte range of one segment file. The response
 * carries it as a bk_records {fd, off, len}: the codec emits a splice and
 * the connection sendfile()s it (conn.h). The descriptor must stay valid
 * until those bytes are on the socket, but segments can be closed and
 * deleted at any time on the loop (retention, DeleteRecords, DeleteTopics,
 * the descriptor LRU), and bk_seg_pin() does not hold off deletion. So
 * each range gets its own dup() of the segment descriptor, and a
 * connection hold (bk_conn_hold) closes it once the response is sent. An
 * open descriptor keeps even an unlinked file readable, so a deleted
 * segment's bytes still go out intact (Kafka defers the unlink by
 * file.delete.delay.ms for the same reason). The dup() happens right
 * after each partition's read, while the descriptor is known to be open:
 * reading the following partitions may open other segments and let the
 * descriptor LRU close (and the kernel reuse) one chosen earlier. (Pinning
 * the segments until the response is built would do too, but the LRU
 * then evicts the descriptor it has just opened once pins fill the
 * budget - see the report on segment.c's lru_evict.)
 *
 * Long polling. If fewer than MinBytes were found, MaxWaitMs > 0 and no
 * partition had an error, the request is parked in the purgatory on every
 * requested partition (Kafka's DelayedFetch). Each append to one of them
 * adds its size to the bytes gathered; once that reaches MinBytes the
 * request completes: the read runs again and the answer goes out. At the
 * deadline (MaxWaitMs after the request arrived) it answers with what is
 * there. If the connection fails meanwhile it is completed without an
 * answer. All state (the decoded request, the response arrays, the watch
 * nodes) lives in the request's arena.
 *
 * Fetch sessions (KIP-227) are declined: a full fetch (SessionEpoch 0 or
 * -1) is answered with SessionId 0, which tells clients to keep sending
 * full fetches; an incremental one (any other epoch) gets the top-level
 * FETCH_SESSION_ID_NOT_FOUND, as Kafka without a session cache does.
 *
 * Transactions. read_uncommitted consumers read up to the high watermark,
 * read_committed ones up to the last stable offset (the first offset of
 * the earliest open transaction, bk_plog_lso) and get the aborted
 * transactions overlapping the returned range (storage keeps them, from
 * the .txnindex files); replicas read to the LEO. LastStableOffset (v4+)
 * is the LSO; AbortedTransactions is null for read_uncommitted, as Kafka.
 * Other fields: LogStartOffset (v5+); PreferredReadReplica -1 (v11+). A partition
 * with an error reports HW, LSO and log start -1 and no records.
 * CurrentLeaderEpoch (v9+) is checked (FENCED_LEADER_EPOCH /
 * UNKNOWN_LEADER_EPOCH); v13+ requests name topics by id (an unknown id is
 * UNKNOWN_TOPIC_ID). KAFKA_STORAGE_ERROR (offline log, read I/O error) is
 * NOT_LEADER_OR_FOLLOWER before v6, which predates the code.
 */
#include "api_table.h"

#include "../core/clock.h"
#include "../core/log.h"
#include "../core/metrics.h"
#include "replica.h"
#include "../cluster/cluster.h"
#include "../core/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

typedef struct fetch_ctx {
    bk_delayed d; /* the purgatory op while parked */
    bk_broker *b;
    bk_req *req;
    int16_t ver;
    bk_FetchRequest rq;
    bk_FetchResponse rs;
    /* per partition, flattened in request order; slices[k].fd is OUR dup
     * of the segment descriptor when len > 0 (owned until respond()) */
    bk_plog_slice *slices;
    int32_t nparts;
    uint64_t gathered; /* bytes found by the last read + appended since */
    bool recorded;     /* a replica's fetch offsets were recorded (first read) */
} fetch_ctx;

static void close_fd(void *arg)
{
    close((int)(intptr_t)arg);
}

static bk_topic *find_topic(fetch_ctx *x, const bk_FetchRequest_FetchTopic *ft)
{
    bk_topics *t = x->b->topics;
    if (!t)
        return NULL;
    if (x->ver >= 13)
        return bk_topics_get_id(t, &ft->TopicId);
    if (ft->Topic.len < 0)
        return NULL;
    return bk_topics_get(t, ft->Topic.p, (size_t)ft->Topic.len);
}

/* Aborted transactions of a read_committed fetch: counted, then copied. */
typedef struct aborted_acc {
    bk_FetchResponse_AbortedTransaction *a; /* NULL while counting */
    int32_t n;
} aborted_acc;

static void aborted_add(void *ud, int64_t pid, int64_t first)
{
    aborted_acc *acc = ud;
    if (acc->a) {
        acc->a[acc->n].ProducerId = pid;
        acc->a[acc->n].FirstOffset = first;
    }
    acc->n++;
}

/* The aborted transactions overlapping the records returned, as Kafka's
 * collectAbortedTransactions(fetch offset, offset after the range): the
 * consumer drops those producers' batches from each one's first offset
 * up to its abort marker. */
static void fill_aborted(fetch_ctx *x, bk_plog *l, int64_t from, const bk_plog_slice *sl,
                         bk_FetchResponse_PartitionData *pd)
{
    pd->AbortedTransactions.n = 0;
    if (sl->len == 0)
        return;
    aborted_acc acc = {NULL, 0};
    (void)bk_plog_aborted(l, from, sl->end_offset, aborted_add, &acc);
    if (acc.n == 0)
        return;
    int32_t n = acc.n;
    acc.a = BK_ARENA_NEW(x->req, bk_FetchResponse_AbortedTransaction, n);
    acc.n = 0;
    if (!acc.a)
        return; /* arena limit: the caller checks and fails the partition */
    (void)bk_plog_aborted(l, from, sl->end_offset, aborted_add, &acc);
    pd->AbortedTransactions.a = acc.a;
    pd->AbortedTransactions.n = BK_MIN(acc.n, n);
}

/* One partition: fill *pd and *sl; returns its error code. */
static int16_t read_part(fetch_ctx *x, bk_topic *tp, const bk_FetchRequest_FetchPartition *fp,
                         int32_t replica_id, bool *min_one, int64_t *left,
                         bk_FetchResponse_PartitionData *pd, bk_plog_slice *sl)
{
    if (!tp)
        return x->ver >= 13 ? BK_KERR_UNKNOWN_TOPIC_ID : BK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    if (fp->Partition < 0 || fp->Partition >= tp->nparts)
        return BK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    bk_partition *p = &tp->parts[fp->Partition];
    bk_plog *l = p->log;
    /* Cluster mode: only the leader serves fetches, of consumers (no
     * follower fetching: PreferredReadReplica stays -1) and of replicas. */
    int16_t lerr = bk_leader_check(x->b, p);
    if (lerr != BK_KERR_NONE)
        return lerr;
    if (!l)
        return BK_KERR_KAFKA_STORAGE_ERROR;
    if (x->ver >= 9) {
        int16_t e = bk_check_leader_epoch(p, fp->CurrentLeaderEpoch);
        if (e != BK_KERR_NONE)
            return e;
    }
    if (replica_id >= 0 && x->b->cluster && !bk_ids_has(p->replicas, p->nreplicas, replica_id))
        return BK_KERR_NOT_LEADER_OR_FOLLOWER;
    /* Upper bound: LEO for replicas, HW for read_uncommitted consumers,
     * the last stable offset for read_committed ones. */
    bool read_committed = replica_id < 0 && x->rq.IsolationLevel == 1;
    int64_t lso = bk_plog_lso(l);
    int64_t upto = replica_id >= 0 ? bk_plog_leo(l) : read_committed ? lso : l->hw;
    int64_t pmax = BK_MAX(fp->PartitionMaxBytes, 0);
    uint32_t max = (uint32_t)BK_MIN(BK_MIN(pmax, *left), (int64_t)UINT32_MAX);
    /* Leader replication throttle (KIP-73, throttle.h): a throttled
     * partition sends a replica no data while the leader quota is
     * exhausted (the fetch offset still counts for the ISR). */
    bk_throttle *lt = replica_id >= 0 && x->b->zkc && x->b->zkc->leader_throttle.rate >= 0 &&
                              bk_topic_repl_throttled(tp, true, p->index, x->b->node_id)
                          ? &x->b->zkc->leader_throttle
                          : NULL;
    int r;
    if (lt && bk_throttle_exhausted(lt, bk_now_ms() * 1000)) {
        memset(sl, 0, sizeof *sl);
        sl->fd = -1;
        r = 0;
    } else {
        r = bk_plog_read(l, fp->FetchOffset, max, upto, *min_one, sl);
        if (r == 0 && lt)
            bk_throttle_record(lt, (int64_t)sl->len, bk_now_ms() * 1000);
    }
    if (r == BK_ERANGE)
        return BK_KERR_OFFSET_OUT_OF_RANGE;
    if (r != 0) {
        bk_log_rl(BK_LOG_ERROR, "read of %s-%d at offset %lld failed: %s", tp->name, p->index,
                  (long long)fp->FetchOffset, bk_strerror(r));
        memset(sl, 0, sizeof *sl);
        return BK_KERR_KAFKA_STORAGE_ERROR;
    }
    /* A follower's fetch offset is its LEO (Kafka records it after a read
     * without error; once per request, not again when a parked fetch is
     * re-read). It may move the HW this response carries. */
    if (replica_id >= 0 && x->b->cluster && !x->recorded)
        bk_replica_on_fetch(x->b, p, replica_id, fp->FetchOffset);
    if (sl->len > 0) {
        int fd = fcntl(sl->fd, F_DUPFD_CLOEXEC, 0);
        if (fd == -1) {
            /* Out of descriptors: this partition goes out empty; the
             * consumer asks again. */
            bk_log_rl(BK_LOG_WARN, "fetch: cannot duplicate a segment descriptor: %s",
                      strerror(errno));
            sl->len = 0;
        } else {
            sl->fd = fd;
            sl->seg = NULL; /* not ours to keep */
            *min_one = false;
            *left = BK_MAX(*left - (int64_t)sl->len, 0);
        }
    }
    pd->HighWatermark = l->hw;
    pd->LastStableOffset = lso;
    pd->LogStartOffset = l->log_start;
    if (read_committed) {
        fill_aborted(x, l, fp->FetchOffset, sl, pd);
        if (pd->AbortedTransactions.n > 0 && !pd->AbortedTransactions.a) {
            if (sl->len > 0)
                close(sl->fd);
            memset(sl, 0, sizeof *sl);
            return BK_KERR_UNKNOWN_SERVER_ERROR;
        }
    }
    return BK_KERR_NONE;
}

/*
 * Read every partition into x->rs and x->slices. Returns the bytes found;
 * *errors tells whether some partition failed.
 */
static uint64_t read_all(fetch_ctx *x, bool *errors)
{
    const bk_FetchRequest *rq = &x->rq;
    int32_t replica_id = x->ver >= 15 ? rq->ReplicaState.ReplicaId : rq->ReplicaId;
    bool read_committed = rq->IsolationLevel == 1;
    bool min_one = true;
    int64_t left = BK_MAX(rq->MaxBytes, 0);
    uint64_t total = 0;
    int32_t k = 0;
    *errors = false;
    for (int32_t i = 0; i < x->rs.Responses.n; i++) {
        const bk_FetchRequest_FetchTopic *ft = &rq->Topics.a[i];
        bk_FetchResponse_FetchableTopicResponse *tr = &x->rs.Responses.a[i];
        bk_topic *tp = find_topic(x, ft);
        for (int32_t j = 0; j < tr->Partitions.n; j++, k++) {
            const bk_FetchRequest_FetchPartition *fp = &ft->Partitions.a[j];
            bk_FetchResponse_PartitionData *pd = &tr->Partitions.a[j];
            bk_plog_slice *sl = &x->slices[k];
            memset(sl, 0, sizeof *sl);
            sl->fd = -1;
            bk_codec_init(&bk_desc_FetchResponse_PartitionData, pd);
            pd->PartitionIndex = fp->Partition;
            pd->HighWatermark = -1;
            pd->LastStableOffset = -1;
            pd->LogStartOffset = -1;
            pd->PreferredReadReplica = -1;
            pd->Records = (bk_records){NULL, 0, -1, 0};
            int16_t err = read_part(x, tp, fp, replica_id, &min_one, &left, pd, sl);
            if (err != BK_KERR_NONE) {
                *errors = true;
                if (err == BK_KERR_KAFKA_STORAGE_ERROR && x->ver < 6)
                    err = BK_KERR_NOT_LEADER_OR_FOLLOWER;
                pd->ErrorCode = err;
                pd->HighWatermark = -1;
                pd->LastStableOffset = -1;
                pd->LogStartOffset = -1;
                sl->len = 0;
            }
            /* Kafka: a list for read_committed (filled by read_part), null
             * otherwise. */
            if (!(read_committed && err == BK_KERR_NONE)) {
                pd->AbortedTransactions.n = -1;
                pd->AbortedTransactions.a = NULL;
            }
            total += sl->len;
        }
    }
    x->recorded = true;
    return total;
}

/* Close the descriptors read_all() duplicated (a fetch that waits). */
static void drop_slices(fetch_ctx *x)
{
    for (int32_t k = 0; k < x->nparts; k++) {
        bk_plog_slice *sl = &x->slices[k];
        if (sl->len > 0)
            close(sl->fd);
        sl->len = 0;
        sl->fd = -1;
    }
}

/* BrokerTopicMetrics of an answered fetch (metrics.h): per partition;
 * bytes out only to consumers (Kafka counts followers' bytes apart). */
static void count_fetch(fetch_ctx *x)
{
    const bk_FetchRequest *rq = &x->rq;
    bool replica = (x->ver >= 15 ? rq->ReplicaState.ReplicaId : rq->ReplicaId) >= 0;
    bk_topic_counters *all = &bk_metrics_g.all;
    for (int32_t i = 0; i < x->rs.Responses.n; i++) {
        const bk_FetchResponse_FetchableTopicResponse *tr = &x->rs.Responses.a[i];
        bk_topic *tp = find_topic(x, &rq->Topics.a[i]);
        bk_topic_counters *tc = tp ? bk_metrics_topic(tp->name, strlen(tp->name)) : NULL;
        for (int32_t j = 0; j < tr->Partitions.n; j++) {
            const bk_FetchResponse_PartitionData *pd = &tr->Partitions.a[j];
            uint64_t n = !replica && pd->Records.len > 0 ? (uint64_t)pd->Records.len : 0;
            if (replica && pd->Records.len > 0) /* ReplicationBytesOutPerSec */
                bk_metrics_g.replication_bytes_out += (uint64_t)pd->Records.len;
            bool bad = pd->ErrorCode != BK_KERR_NONE;
            all->fetch_reqs++;
            all->failed_fetch += bad;
            all->bytes_out += n;
            if (tc) {
                tc->fetch_reqs++;
                tc->failed_fetch += bad;
                tc->bytes_out += n;
            }
        }
    }
}

/* Encode and queue the response; each record range is sent from its own
 * descriptor, closed by a connection hold once the bytes are out. */
static int respond(fetch_ctx *x)
{
    bk_req *req = x->req;
    int32_t k = 0;
    for (int32_t i = 0; i < x->rs.Responses.n; i++) {
        bk_FetchResponse_FetchableTopicResponse *tr = &x->rs.Responses.a[i];
        for (int32_t j = 0; j < tr->Partitions.n; j++, k++) {
            bk_plog_slice *sl = &x->slices[k];
            if (sl->len > 0)
                tr->Partitions.a[j].Records = (bk_records){NULL, (int32_t)sl->len, sl->fd, sl->pos};
        }
    }
    int rc = BK_RESPOND(req, FetchResponse, x->ver, &x->rs);
    if (rc == 0)
        count_fetch(x);
    for (k = 0; k < x->nparts; k++) {
        bk_plog_slice *sl = &x->slices[k];
        if (sl->len == 0)
            continue;
        if (rc == 0)
            (void)bk_conn_hold(req->conn, close_fd, (void *)(intptr_t)sl->fd);
        else
            close(sl->fd);
        sl->len = 0;
        sl->fd = -1;
    }
    return rc;
}

static bool on_event(bk_delayed *d, unsigned what, uint64_t bytes)
{
    fetch_ctx *x = (fetch_ctx *)d;
    x->gathered += bytes;
    return x->gathered >= (uint64_t)BK_MAX(x->rq.MinBytes, 0);
}

static void on_complete(bk_delayed *d, bool expired)
{
    fetch_ctx *x = (fetch_ctx *)d;
    bk_req *req = x->req;
    req->hctx = NULL;
    if (req->conn->closing) {
        bk_req_done(req, 0); /* nobody to answer */
        return;
    }
    bool errors;
    (void)read_all(x, &errors);
    bk_req_done(req, respond(x));
}

/* Park x on every partition it reads. 0, or < 0: answer now instead. */
static int park(fetch_ctx *x)
{
    bk_req *req = x->req;
    bk_partition **parts = BK_ARENA_NEW(req, bk_partition *, x->nparts);
    bk_watch *nodes = BK_ARENA_NEW(req, bk_watch, x->nparts);
    if (!parts || !nodes)
        return BK_ENOMEM;
    int n = 0;
    for (int32_t i = 0; i < x->rs.Responses.n; i++) {
        bk_topic *tp = find_topic(x, &x->rq.Topics.a[i]);
        const bk_FetchResponse_FetchableTopicResponse *tr = &x->rs.Responses.a[i];
        for (int32_t j = 0; tp && j < tr->Partitions.n; j++) {
            int32_t idx = tr->Partitions.a[j].PartitionIndex;
            if (idx >= 0 && idx < tp->nparts)
                parts[n++] = &tp->parts[idx];
        }
    }
    /* replicas read to the LEO: new data wakes them; consumers read to the
     * HW, which in cluster mode moves after the append */
    int32_t rid = x->ver >= 15 ? x->rq.ReplicaState.ReplicaId : x->rq.ReplicaId;
    x->d.wants = x->b->cluster && rid < 0 ? BK_WAKE_HW : BK_WAKE_DATA;
    x->d.kind = BK_DELAYED_FETCH;
    x->d.on_event = on_event;
    x->d.complete = on_complete;
    int64_t deadline = req->recv_ms + x->rq.MaxWaitMs;
    int rc = bk_delayed_park(&x->b->purg, &x->d, deadline, parts, nodes, n);
    if (rc == 0)
        req->hctx = &x->d;
    return rc;
}

int bk_h_fetch(bk_broker *b, bk_req *req)
{
    int16_t ver = req->hdr.api_version;
    fetch_ctx *x = BK_ARENA_NEW(req, fetch_ctx, 1);
    if (!x)
        return BK_ENOMEM;
    x->b = b;
    x->req = req;
    x->ver = ver;
    bk_FetchRequest_init(&x->rq);
    int rc = bk_FetchRequest_decode(&req->body, ver, req->arena, &x->rq);
    if (rc != 0)
        return rc;
    const bk_FetchRequest *rq = &x->rq;
    bk_FetchResponse *rs = &x->rs;
    bk_FetchResponse_init(rs);
    rs->ThrottleTimeMs = 0;
    rs->ErrorCode = BK_KERR_NONE;
    rs->SessionId = 0;

    if (ver >= 7 && rq->SessionEpoch != 0 && rq->SessionEpoch != -1) {
        /* An incremental fetch in a session we never created. */
        rs->ErrorCode = BK_KERR_FETCH_SESSION_ID_NOT_FOUND;
        return BK_RESPOND(req, FetchResponse, ver, rs);
    }

    int32_t nt = BK_MAX(rq->Topics.n, 0);
    rs->Responses.n = nt;
    if (nt > 0 &&
        !(rs->Responses.a = BK_ARENA_NEW(req, bk_FetchResponse_FetchableTopicResponse, nt)))
        return BK_ENOMEM;
    x->nparts = 0;
    for (int32_t i = 0; i < nt; i++) {
        const bk_FetchRequest_FetchTopic *ft = &rq->Topics.a[i];
        bk_FetchResponse_FetchableTopicResponse *tr = &rs->Responses.a[i];
        if (ver >= 13)
            tr->TopicId = ft->TopicId;
        else
            tr->Topic = ft->Topic;
        int32_t np = BK_MAX(ft->Partitions.n, 0);
        tr->Partitions.n = np;
        if (np > 0 && !(tr->Partitions.a = BK_ARENA_NEW(req, bk_FetchResponse_PartitionData, np)))
            return BK_ENOMEM;
        if (x->nparts > INT32_MAX - np)
            return BK_ELIMIT;
        x->nparts += np;
    }
    if (x->nparts > 0 && !(x->slices = BK_ARENA_NEW(req, bk_plog_slice, x->nparts)))
        return BK_ENOMEM;

    bool errors;
    x->gathered = read_all(x, &errors);
    if (rq->MaxWaitMs <= 0 || x->nparts == 0 || x->gathered >= (uint64_t)BK_MAX(rq->MinBytes, 0) ||
        errors || !b->started)
        return respond(x);
    /* Not enough yet: wait. What was found is read again at completion. */
    drop_slices(x);
    if (park(x) == 0)
        return BK_EAGAIN;
    (void)read_all(x, &errors);
    return respond(x);
}
