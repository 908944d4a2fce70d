/* txn_markers.c - the transaction marker channel. See txn_markers.h. */
#include "txn_markers.h"

#include "../core/clock.h"
#include "../core/log.h"
#include "interbroker.h"
#include "replica.h"

#include <stdlib.h>
#include <string.h>

#define KEY_WRITE_TXN_MARKERS 27
#define MARKERS_VERSION       1     /* flexible */
#define REQUEST_TIMEOUT_MS    30000 /* the leader's wait for its ISR is shorter */
#define LOCAL_WAIT_MS         20000 /* a local marker waiting for the ISR */

/* One marker, owned copies. */
typedef struct qmk {
    struct qmk *next;
    char *txn_id;
    size_t len;
    char *topic;
    int32_t partition;
    int64_t pid;
    int16_t epoch;
    int32_t coord_epoch;
    bool commit;
} qmk;

/* Markers queued for one broker. */
typedef struct dest {
    struct dest *next;
    int32_t id;
    qmk *head, *tail;
    int n;
} dest;

/* A WriteTxnMarkers request in flight (the bk_ib_send arg). */
typedef struct batch {
    struct batch *next, *prev;
    bk_txnmk *mc;
    int32_t dest;
    qmk *list;
} batch;

/* A marker appended here, waiting for the high watermark. */
typedef struct lwait {
    bk_delayed d; /* first: the purgatory hands it back */
    bk_watch node;
    bk_txnmk *mc;
    qmk *m;
    int32_t leader_epoch;
    int64_t offset;
} lwait;

struct bk_txnmk {
    bk_broker *b;
    dest *dests;
    batch *inflight;
    bk_ev_timer flush;
};

static void qmk_free(qmk *m)
{
    if (m) {
        free(m->txn_id);
        free(m->topic);
        free(m);
    }
}

static void qmk_list_free(qmk *m)
{
    while (m) {
        qmk *nx = m->next;
        qmk_free(m);
        m = nx;
    }
}

static qmk *qmk_copy(const bk_txn_marker *m)
{
    qmk *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->txn_id = malloc(m->len + 1);
    q->topic = strdup(m->topic);
    if (!q->txn_id || !q->topic) {
        qmk_free(q);
        return NULL;
    }
    memcpy(q->txn_id, m->txn_id, m->len);
    q->txn_id[m->len] = 0;
    q->len = m->len;
    q->partition = m->partition;
    q->pid = m->pid;
    q->epoch = m->epoch;
    q->coord_epoch = m->coord_epoch;
    q->commit = m->commit;
    return q;
}

/* Report one marker's outcome to the coordinator. */
static void report(bk_txnmk *mc, const qmk *q, int16_t kerr)
{
    bk_txn_marker m = {q->txn_id, q->len,   q->topic,       q->partition,
                       q->pid,    q->epoch, q->coord_epoch, q->commit};
    if (mc->b->tcoord)
        bk_tcoord_marker_done(mc->b->tcoord, &m, kerr);
}

/* ------------------------------------------------------------ leader side */

int bk_txnmk_wait_state(bk_broker *b, const char *topic, size_t tlen, int32_t partition,
                        int32_t leader_epoch, int64_t offset, int16_t *kerr)
{
    bk_partition *p = b->topics ? bk_topics_partition(b->topics, topic, tlen, partition) : NULL;
    if (!p)
        *kerr = BK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    else if (bk_leader_check(b, p) != BK_KERR_NONE || p->leader_epoch != leader_epoch)
        *kerr = BK_KERR_NOT_LEADER_OR_FOLLOWER;
    else if (!p->log || p->log->offline)
        *kerr = BK_KERR_KAFKA_STORAGE_ERROR;
    else if (p->log->hw <= offset)
        return 0;
    else
        *kerr = BK_KERR_NONE;
    return 1;
}

static bool lwait_on_event(bk_delayed *d, unsigned what, uint64_t bytes)
{
    lwait *w = (lwait *)d;
    int16_t kerr;
    return bk_txnmk_wait_state(w->mc->b, w->m->topic, strlen(w->m->topic), w->m->partition,
                               w->leader_epoch, w->offset, &kerr) == 1;
}

static void lwait_complete(bk_delayed *d, bool expired)
{
    lwait *w = (lwait *)d;
    int16_t kerr;
    if (bk_txnmk_wait_state(w->mc->b, w->m->topic, strlen(w->m->topic), w->m->partition,
                            w->leader_epoch, w->offset, &kerr) == 0)
        kerr = BK_KERR_REQUEST_TIMED_OUT;
    report(w->mc, w->m, kerr);
    qmk_free(w->m);
    free(w);
}

/* A marker for a partition led here. */
static int16_t write_local(bk_txnmk *mc, const bk_txn_marker *m)
{
    bk_broker *b = mc->b;
    int64_t off;
    int32_t le;
    int16_t kerr = bk_broker_write_marker(b, m->topic, m->partition, m->pid, m->epoch,
                                          m->coord_epoch, m->commit, &off, &le);
    if (kerr != BK_KERR_NONE)
        return kerr;
    if (bk_txnmk_wait_state(b, m->topic, strlen(m->topic), m->partition, le, off, &kerr) == 1)
        return kerr;
    lwait *w = calloc(1, sizeof *w);
    if (!w || !(w->m = qmk_copy(m))) {
        free(w);
        return BK_KERR_REQUEST_TIMED_OUT; /* retried: a repeated marker is harmless */
    }
    w->mc = mc;
    w->leader_epoch = le;
    w->offset = off;
    w->d.wants = BK_WAKE_HW;
    w->d.on_event = lwait_on_event;
    w->d.complete = lwait_complete;
    bk_partition *p = bk_topics_partition(b->topics, m->topic, strlen(m->topic), m->partition);
    if (bk_delayed_park(&b->purg, &w->d, bk_now_ms() + LOCAL_WAIT_MS, &p, &w->node, 1) != 0) {
        qmk_free(w->m);
        free(w);
        return BK_KERR_REQUEST_TIMED_OUT;
    }
    return BK_TXN_MARKER_PENDING;
}

/* ------------------------------------------------------------ remote */

static void batch_unlink(bk_txnmk *mc, batch *bt)
{
    if (bt->prev)
        bt->prev->next = bt->next;
    else
        mc->inflight = bt->next;
    if (bt->next)
        bt->next->prev = bt->prev;
}

/* The error for partition/topic of pid in resp; UNKNOWN_SERVER_ERROR when
 * the leader did not answer for it. */
static int16_t result_of(const bk_WriteTxnMarkersResponse *rs, const qmk *q)
{
    for (int32_t i = 0; i < rs->Markers.n; i++) {
        const bk_WriteTxnMarkersResponse_WritableTxnMarkerResult *mr = &rs->Markers.a[i];
        if (mr->ProducerId != q->pid)
            continue;
        for (int32_t t = 0; t < mr->Topics.n; t++) {
            const bk_WriteTxnMarkersResponse_WritableTxnMarkerTopicResult *tr = &mr->Topics.a[t];
            if (!bk_str_eq(tr->Name, q->topic))
                continue;
            for (int32_t k = 0; k < tr->Partitions.n; k++)
                if (tr->Partitions.a[k].PartitionIndex == q->partition)
                    return tr->Partitions.a[k].ErrorCode;
        }
    }
    return BK_KERR_UNKNOWN_SERVER_ERROR;
}

static void on_answer(void *arg, int rc, const void *resp)
{
    batch *bt = arg;
    bk_txnmk *mc = bt->mc;
    batch_unlink(mc, bt);
    int16_t all = rc == BK_EAGAIN ? BK_KERR_REQUEST_TIMED_OUT : BK_KERR_NETWORK_EXCEPTION;
    if (rc != 0)
        bk_log_rl(BK_LOG_INFO, "transaction markers to broker %d failed: %s; will retry",
                  bt->dest, bk_strerror(rc));
    for (qmk *q = bt->list; q; q = q->next)
        report(mc, q, rc == 0 ? result_of(resp, q) : all);
    qmk_list_free(bt->list);
    free(bt);
}

/* Send everything queued for d as one request. */
static void send_dest(bk_txnmk *mc, dest *d)
{
    int n = d->n;
    qmk *list = d->head;
    d->head = d->tail = NULL;
    d->n = 0;
    bk_WriteTxnMarkersRequest_WritableTxnMarker *mk = calloc((size_t)n, sizeof *mk);
    bk_WriteTxnMarkersRequest_WritableTxnMarkerTopic *tp = calloc((size_t)n, sizeof *tp);
    int32_t *parts = calloc((size_t)n, sizeof *parts);
    batch *bt = calloc(1, sizeof *bt);
    int rc = BK_ENOMEM;
    if (mk && tp && parts && bt) {
        /* consecutive markers of one transaction (the coordinator queues a
         * transaction's partitions together) share an entry, consecutive
         * partitions of one topic share a topic */
        int nm = 0, nt = 0, k = 0;
        const qmk *prev = NULL;
        for (const qmk *q = list; q; prev = q, q = q->next) {
            bool same = prev && prev->pid == q->pid && prev->epoch == q->epoch &&
                        prev->commit == q->commit && prev->coord_epoch == q->coord_epoch;
            if (!same) {
                bk_WriteTxnMarkersRequest_WritableTxnMarker *e = &mk[nm++];
                e->ProducerId = q->pid;
                e->ProducerEpoch = q->epoch;
                e->TransactionResult = q->commit;
                e->CoordinatorEpoch = q->coord_epoch;
                e->Topics.a = &tp[nt];
                e->Topics.n = 0;
            }
            bk_WriteTxnMarkersRequest_WritableTxnMarker *e = &mk[nm - 1];
            if (!same || strcmp(prev->topic, q->topic) != 0) {
                bk_WriteTxnMarkersRequest_WritableTxnMarkerTopic *t = &tp[nt++];
                t->Name = bk_str_c(q->topic);
                t->PartitionIndexes.a = &parts[k];
                t->PartitionIndexes.n = 0;
                e->Topics.n++;
            }
            bk_WriteTxnMarkersRequest_WritableTxnMarkerTopic *t = &tp[nt - 1];
            parts[k++] = q->partition;
            t->PartitionIndexes.n++;
        }
        bk_WriteTxnMarkersRequest rq;
        bk_WriteTxnMarkersRequest_init(&rq);
        rq.Markers.a = mk;
        rq.Markers.n = nm;
        bt->mc = mc;
        bt->dest = d->id;
        bt->list = list;
        rc = mc->b->ib ? bk_ib_send(mc->b->ib, d->id, KEY_WRITE_TXN_MARKERS, MARKERS_VERSION, &rq,
                                    REQUEST_TIMEOUT_MS, on_answer, bt)
                       : BK_EINVAL;
    }
    free(mk);
    free(tp);
    free(parts);
    if (rc == 0) {
        bt->next = mc->inflight;
        if (bt->next)
            bt->next->prev = bt;
        mc->inflight = bt;
        return;
    }
    free(bt);
    bk_log_rl(BK_LOG_WARN, "cannot send transaction markers to broker %d: %s", d->id,
              bk_strerror(rc));
    for (qmk *q = list; q; q = q->next)
        report(mc, q, BK_KERR_NETWORK_EXCEPTION);
    qmk_list_free(list);
}

static void on_flush(bk_ev *ev, bk_ev_timer *t)
{
    bk_txnmk *mc = t->data;
    for (dest *d = mc->dests; d; d = d->next)
        if (d->head)
            send_dest(mc, d);
}

int16_t bk_txnmk_write(bk_txnmk *mc, const bk_txn_marker *m)
{
    bk_broker *b = mc->b;
    bk_partition *p =
        b->topics ? bk_topics_partition(b->topics, m->topic, strlen(m->topic), m->partition) : NULL;
    if (!p)
        return BK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    if (p->leader == b->node_id)
        return write_local(mc, m);
    if (p->leader < 0)
        return BK_KERR_LEADER_NOT_AVAILABLE;
    dest *d = mc->dests;
    while (d && d->id != p->leader)
        d = d->next;
    if (!d) {
        if (!(d = calloc(1, sizeof *d)))
            return BK_KERR_COORDINATOR_NOT_AVAILABLE;
        d->id = p->leader;
        d->next = mc->dests;
        mc->dests = d;
    }
    qmk *q = qmk_copy(m);
    if (!q)
        return BK_KERR_COORDINATOR_NOT_AVAILABLE;
    if (d->tail)
        d->tail->next = q;
    else
        d->head = q;
    d->tail = q;
    d->n++;
    if (!bk_ev_timer_armed(&mc->flush))
        (void)bk_ev_timer_start(b->ev, &mc->flush, bk_now_ms());
    return BK_TXN_MARKER_PENDING;
}

void bk_txnmk_tick(bk_txnmk *mc)
{
    bk_broker *b = mc->b;
    for (batch *bt = mc->inflight, *nx; bt; bt = nx) {
        nx = bt->next;
        bool moved = false;
        for (const qmk *q = bt->list; q && !moved; q = q->next) {
            bk_partition *p = b->topics ? bk_topics_partition(b->topics, q->topic,
                                                              strlen(q->topic), q->partition)
                                        : NULL;
            moved = p && p->leader != bt->dest;
        }
        if (!moved)
            continue;
        bk_log_rl(BK_LOG_INFO,
                  "transaction markers in flight to broker %d: a partition changed leader; "
                  "sending them again",
                  bt->dest);
        if (b->ib)
            bk_ib_cancel(b->ib, bt);
        batch_unlink(mc, bt);
        for (const qmk *q = bt->list; q; q = q->next)
            report(mc, q, BK_KERR_NOT_LEADER_OR_FOLLOWER);
        qmk_list_free(bt->list);
        free(bt);
    }
}

/* ------------------------------------------------------------ life cycle */

bk_txnmk *bk_txnmk_new(bk_broker *b)
{
    bk_txnmk *mc = calloc(1, sizeof *mc);
    if (!mc)
        return NULL;
    mc->b = b;
    bk_ev_timer_init(&mc->flush, on_flush, mc);
    return mc;
}

void bk_txnmk_free(bk_txnmk *mc)
{
    if (!mc)
        return;
    bk_ev_timer_stop(mc->b->ev, &mc->flush);
    while (mc->dests) {
        dest *d = mc->dests;
        mc->dests = d->next;
        qmk_list_free(d->head);
        free(d);
    }
    while (mc->inflight) {
        batch *bt = mc->inflight;
        mc->inflight = bt->next;
        if (mc->b->ib)
            bk_ib_cancel(mc->b->ib, bt);
        qmk_list_free(bt->list);
        free(bt);
    }
    free(mc);
}
