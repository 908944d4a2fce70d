/*
 * ctl_leaders.c - the controller's leadership moves that are not failover
 * (see controller_int.h and controller.h):
 *
 *   - controlled shutdown (Kafka's KafkaController.doControlledShutdown):
 *     the stopping broker joins the shutting-down set; each partition it
 *     leads gets the first replica in assignment order that is live, in
 *     the ISR and not shutting down as leader (Kafka's
 *     ControlledShutdownPartitionLeaderElectionStrategy), the ISR losing
 *     the shutting-down brokers; each partition it follows loses it from
 *     the ISR unless it is the only member. The answer lists what it still
 *     leads (RemainingPartitions).
 *   - ElectLeaders, PREFERRED and UNCLEAN (bk_elect_preferred/_unclean).
 *   - auto.leader.rebalance.enable: every
 *     leader.imbalance.check.interval.seconds, per broker, the share of
 *     the partitions it is the preferred replica of that another broker
 *     leads; above leader.imbalance.per.broker.percentage those partitions
 *     get a preferred election (Kafka's checkAndTriggerAutoLeaderRebalance).
 *
 * Every change is one batch (lop) of per-partition steps: read the state
 * znode, decide with the pure strategy, write it back with its version and
 * the leader epoch bumped (a version conflict re-reads, at most 10 times).
 * The batch answers once every step has (ZooKeeper always answers, with
 * ZCLOSING at the latest), or NOT_CONTROLLER when the controller resigned
 * meanwhile.
 *
 * The shutting-down set: a broker joins it with its ControlledShutdown; it
 * leaves when it is no longer in /brokers/ids, or is there with another
 * registration timestamp (it registered again: Kafka's new broker epoch),
 * and when the controller resigns (a new controller starts empty, as
 * Kafka's; the stopping broker asks again).
 *
 * Thread: loop thread.
 */
#include "../core/clock.h"
#include "../core/err.h"
#include "../core/log.h"
#include "cluster.h"
#include "controller_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- strategies */

static bool has(const int32_t *v, int n, int32_t id)
{
    for (int i = 0; i < n; i++)
        if (v[i] == id)
            return true;
    return false;
}

static bool in_isr(const bk_zk_pstate *st, int32_t id)
{
    return has(st->isr, st->nisr, id);
}

static bool isr_same(const bk_zk_pstate *a, const bk_zk_pstate *b)
{
    if (a->nisr != b->nisr)
        return false;
    for (int i = 0; i < a->nisr; i++)
        if (!in_isr(b, a->isr[i]))
            return false;
    return true;
}

bool bk_elect_offline(const bk_elect_in *in, bool unclean, const bk_zk_pstate *st,
                      bk_zk_pstate *ns)
{
    *ns = *st;
    ns->nisr = 0;
    for (int i = 0; i < st->nisr; i++)
        if (has(in->live, in->nlive, st->isr[i]))
            ns->isr[ns->nisr++] = st->isr[i];
    bool leader_live = st->leader >= 0 && has(in->live, in->nlive, st->leader);
    if (!leader_live) {
        ns->leader = -1;
        /* a live ISR member that is not shutting down; else one that is */
        for (int pass = 0; pass < 2 && ns->leader < 0; pass++)
            for (int i = 0; i < in->nreplicas && ns->leader < 0; i++) {
                int32_t r = in->replicas[i];
                if (in_isr(ns, r) && (pass == 1 || !has(in->shutting, in->nshutting, r)))
                    ns->leader = r;
            }
        if (ns->leader < 0 && unclean) {
            for (int pass = 0; pass < 2 && ns->leader < 0; pass++)
                for (int i = 0; i < in->nreplicas && ns->leader < 0; i++) {
                    int32_t r = in->replicas[i];
                    if (has(in->live, in->nlive, r) &&
                        (pass == 1 || !has(in->shutting, in->nshutting, r)))
                        ns->leader = r;
                }
            if (ns->leader >= 0) {
                ns->isr[0] = ns->leader;
                ns->nisr = 1;
            }
        }
        if (ns->nisr == 0) { /* keep the last ISR: one of them must come back */
            ns->nisr = st->nisr;
            memcpy(ns->isr, st->isr, sizeof st->isr);
        }
    }
    return ns->leader != st->leader || !isr_same(ns, st);
}

int16_t bk_elect_preferred(const bk_elect_in *in, const bk_zk_pstate *st, bk_zk_pstate *ns)
{
    *ns = *st;
    if (in->nreplicas < 1)
        return BK_KERR_PREFERRED_LEADER_NOT_AVAILABLE;
    int32_t pref = in->replicas[0];
    if (st->leader == pref)
        return BK_KERR_ELECTION_NOT_NEEDED;
    if (!has(in->live, in->nlive, pref) || has(in->shutting, in->nshutting, pref) ||
        !in_isr(st, pref))
        return BK_KERR_PREFERRED_LEADER_NOT_AVAILABLE;
    ns->leader = pref;
    return BK_KERR_NONE;
}

int16_t bk_elect_unclean(const bk_elect_in *in, const bk_zk_pstate *st, bk_zk_pstate *ns)
{
    *ns = *st;
    if (st->leader >= 0 && has(in->live, in->nlive, st->leader))
        return BK_KERR_ELECTION_NOT_NEEDED;
    (void)bk_elect_offline(in, true, st, ns);
    if (ns->leader < 0)
        return BK_KERR_ELIGIBLE_LEADERS_NOT_AVAILABLE;
    return BK_KERR_NONE;
}

int bk_elect_cshut(const bk_elect_in *in, int32_t id, const bk_zk_pstate *st, bk_zk_pstate *ns)
{
    *ns = *st;
    if (st->leader == id) {
        int32_t to = -1;
        for (int i = 0; i < in->nreplicas && to < 0; i++) {
            int32_t r = in->replicas[i];
            if (r != id && has(in->live, in->nlive, r) && in_isr(st, r) &&
                !has(in->shutting, in->nshutting, r))
                to = r;
        }
        if (to < 0)
            return -1;
        ns->leader = to;
        ns->nisr = 0;
        for (int i = 0; i < st->nisr; i++)
            if (st->isr[i] != id && !has(in->shutting, in->nshutting, st->isr[i]))
                ns->isr[ns->nisr++] = st->isr[i];
        return 1;
    }
    /* a follower: only under a live leader (with the leader gone, failover
     * may need it as the last live ISR member) */
    if (st->leader >= 0 && has(in->live, in->nlive, st->leader) && in_isr(st, id) &&
        st->nisr > 1) {
        ns->nisr = 0;
        for (int i = 0; i < st->nisr; i++)
            if (st->isr[i] != id)
                ns->isr[ns->nisr++] = st->isr[i];
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------- state */

enum { OP_CSHUT, OP_PREFERRED, OP_UNCLEAN };

typedef struct lop lop;

typedef struct lpart {
    lop *op;
    int tries;
    bk_zk_pstate ns; /* what is being written */
    bk_ctl_part out;
} lpart;

struct lop {
    bk_controller *ctl;
    int gen;
    int kind;
    int32_t broker; /* OP_CSHUT */
    int n, pending;
    lpart *parts;
    char **names; /* owned copies of the topic names */
    bk_ctl_done_fn *cb;
    void *ud;
};

typedef struct shut {
    int32_t id;
    int64_t reg_ts; /* its registration's timestamp when it asked */
} shut;

struct bk_ctl_leaders {
    shut *shut;
    int nshut;
    int32_t *shut_ids; /* nshut ids, for bk_elect_in */
    bk_ev_timer rebalance;
    bool timer_init;
    int rebalancing; /* rebalance batches in flight */
};

static struct bk_ctl_leaders *ld_get(bk_controller *ctl)
{
    if (!ctl->ld)
        ctl->ld = calloc(1, sizeof *ctl->ld);
    return ctl->ld;
}

const int32_t *bk_controller_shutting(const bk_controller *ctl, int *n)
{
    *n = ctl->ld ? ctl->ld->nshut : 0;
    return ctl->ld ? ctl->ld->shut_ids : NULL;
}

static void shut_sync_ids(struct bk_ctl_leaders *ld)
{
    for (int i = 0; i < ld->nshut; i++)
        ld->shut_ids[i] = ld->shut[i].id;
}

static void shut_add(bk_controller *ctl, int32_t id)
{
    struct bk_ctl_leaders *ld = ld_get(ctl);
    if (!ld)
        return;
    int nb;
    const bk_zk_broker *live = bk_cluster_brokers(ctl->c, &nb);
    int64_t ts = 0;
    for (int i = 0; i < nb; i++)
        if (live[i].id == id)
            ts = live[i].timestamp;
    for (int i = 0; i < ld->nshut; i++)
        if (ld->shut[i].id == id) {
            ld->shut[i].reg_ts = ts;
            return;
        }
    shut *ns = realloc(ld->shut, (size_t)(ld->nshut + 1) * sizeof *ns);
    if (!ns)
        return;
    ld->shut = ns;
    int32_t *ni = realloc(ld->shut_ids, (size_t)(ld->nshut + 1) * sizeof *ni);
    if (!ni)
        return;
    ld->shut_ids = ni;
    ld->shut[ld->nshut++] = (shut){.id = id, .reg_ts = ts};
    shut_sync_ids(ld);
    bk_log(BK_LOG_INFO, "controller: broker %d is shutting down", id);
}

/* The live brokers' ids (owned by the caller). */
static int32_t *live_ids(bk_controller *ctl, int *n)
{
    int nb;
    const bk_zk_broker *live = bk_cluster_brokers(ctl->c, &nb);
    int32_t *v = malloc(((size_t)nb + 1) * sizeof *v);
    if (!v) {
        *n = 0;
        return NULL;
    }
    for (int i = 0; i < nb; i++)
        v[i] = live[i].id;
    *n = nb;
    return v;
}

/* ------------------------------------------------------------- batches */

static void op_free(lop *op)
{
    for (int i = 0; i < op->n; i++)
        free(op->names[i]);
    free(op->names);
    free(op->parts);
    free(op);
}

static void op_finish(lop *op)
{
    bk_ctl_part *out = calloc((size_t)op->n + 1, sizeof *out);
    int16_t err = BK_KERR_NONE;
    for (int i = 0; i < op->n; i++) {
        if (out)
            out[i] = op->parts[i].out;
        if (op->parts[i].out.err == BK_KERR_NOT_CONTROLLER)
            err = BK_KERR_NOT_CONTROLLER;
    }
    if (op->kind == OP_CSHUT && err == BK_KERR_NONE) {
        int remain = 0;
        for (int i = 0; i < op->n; i++)
            remain += op->parts[i].out.remain;
        bk_log(BK_LOG_INFO,
               "controller: controlled shutdown of broker %d: %d partitions looked at, "
               "%d still led by it",
               op->broker, op->n, remain);
    }
    op->cb(op->ud, out ? err : BK_KERR_UNKNOWN_SERVER_ERROR, out, out ? op->n : 0);
    free(out);
    op_free(op);
}

static void part_done(lpart *lp, int16_t err, int32_t leader)
{
    lp->out.err = err;
    lp->out.leader = leader;
    lop *op = lp->op;
    if (--op->pending == 0)
        op_finish(op);
}

static void part_read(lpart *lp);

static void part_written(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    lpart *lp = ud;
    lop *op = lp->op;
    bk_controller *ctl = op->ctl;
    if (op->gen != ctl->gen || ctl->state != C_ACTIVE) {
        part_done(lp, BK_KERR_NOT_CONTROLLER, -1);
        return;
    }
    if (r->rc == ZBADVERSION && lp->tries < 10) {
        lp->tries++;
        part_read(lp);
        return;
    }
    if (r->rc != ZOK) {
        bk_log(BK_LOG_WARN, "controller: cannot write the state of %s-%d: %s", lp->out.topic,
               lp->out.partition, zerror(r->rc));
        part_done(lp, BK_KERR_UNKNOWN_SERVER_ERROR, -1);
        return;
    }
    part_done(lp, BK_KERR_NONE, lp->ns.leader);
}

static void part_got(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    lpart *lp = ud;
    lop *op = lp->op;
    bk_controller *ctl = op->ctl;
    if (op->gen != ctl->gen || ctl->state != C_ACTIVE) {
        part_done(lp, BK_KERR_NOT_CONTROLLER, -1);
        return;
    }
    const bk_zk_topic *a = bk_cluster_assignment(ctl->c, lp->out.topic);
    bk_zk_pstate st;
    if (r->rc == ZNONODE || !a || lp->out.partition >= a->nparts) {
        part_done(lp, BK_KERR_UNKNOWN_TOPIC_OR_PARTITION, -1);
        return;
    }
    if (r->rc != ZOK || !r->stat || bk_zkj_pstate_parse(r->data, (size_t)r->len, &st) != 0) {
        part_done(lp, BK_KERR_UNKNOWN_SERVER_ERROR, -1);
        return;
    }
    int nl, ns;
    int32_t *live = live_ids(ctl, &nl);
    const int32_t *sh = bk_controller_shutting(ctl, &ns);
    bk_elect_in in = {.replicas = a->replicas + (size_t)lp->out.partition * (size_t)a->rf,
                      .nreplicas = a->rf,
                      .live = live,
                      .nlive = nl,
                      .shutting = sh,
                      .nshutting = ns};
    int16_t err = BK_KERR_NONE;
    bool write = false;
    if (op->kind == OP_CSHUT) {
        write = bk_elect_cshut(&in, op->broker, &st, &lp->ns) > 0;
        if (!write && st.leader == op->broker) {
            for (int i = 0; i < in.nreplicas; i++)
                if (in.replicas[i] != op->broker && has(live, nl, in.replicas[i]))
                    lp->out.remain = true;
        }
    } else {
        err = op->kind == OP_PREFERRED ? bk_elect_preferred(&in, &st, &lp->ns)
                                       : bk_elect_unclean(&in, &st, &lp->ns);
        write = err == BK_KERR_NONE;
    }
    free(live);
    if (!write) {
        part_done(lp, err, st.leader);
        return;
    }
    lp->ns.leader_epoch = st.leader_epoch + 1;
    lp->ns.controller_epoch = ctl->epoch;
    static const char *const kinds[] = {"controlled shutdown", "preferred election",
                                        "unclean election"};
    bk_log(BK_LOG_INFO, "controller: %s: %s-%d: leader %d -> %d, leader epoch %d, ISR %d -> %d",
           kinds[op->kind], lp->out.topic, lp->out.partition, st.leader, lp->ns.leader,
           lp->ns.leader_epoch, st.nisr, lp->ns.nisr);
    bk_jw w;
    bk_jw_init(&w);
    bk_zkj_pstate(&w, &lp->ns);
    char path[600];
    snprintf(path, sizeof path, "/brokers/topics/%s/partitions/%d/state", lp->out.topic,
             lp->out.partition);
    if (w.err) {
        bk_jw_fini(&w);
        part_done(lp, BK_KERR_UNKNOWN_SERVER_ERROR, -1);
        return;
    }
    bk_zk_set(ctl->zk, path, w.p, (int)w.len, r->stat->version, part_written, lp);
    bk_jw_fini(&w);
}

static void part_read(lpart *lp)
{
    char path[600];
    snprintf(path, sizeof path, "/brokers/topics/%s/partitions/%d/state", lp->out.topic,
             lp->out.partition);
    bk_zk_get(lp->op->ctl->zk, path, NULL, NULL, part_got, lp);
}

static lop *op_new(bk_controller *ctl, int kind, int n, bk_ctl_done_fn *cb, void *ud)
{
    lop *op = calloc(1, sizeof *op);
    if (!op)
        return NULL;
    op->ctl = ctl;
    op->gen = ctl->gen;
    op->kind = kind;
    op->broker = -1;
    op->cb = cb;
    op->ud = ud;
    op->parts = calloc((size_t)n + 1, sizeof *op->parts);
    op->names = calloc((size_t)n + 1, sizeof *op->names);
    if (!op->parts || !op->names) {
        free(op->parts);
        free(op->names);
        free(op);
        return NULL;
    }
    return op;
}

static void op_add(lop *op, const char *topic, int32_t partition)
{
    lpart *lp = &op->parts[op->n];
    char *name = strdup(topic ? topic : "");
    op->names[op->n++] = name;
    lp->op = op;
    lp->out.topic = name ? name : "";
    lp->out.partition = partition;
    lp->out.err = BK_KERR_UNKNOWN_SERVER_ERROR;
    lp->out.leader = -1;
}

/* Every partition of every topic with an assignment. */
static lop *op_all(bk_controller *ctl, int kind, bk_ctl_done_fn *cb, void *ud)
{
    int total = 0, nt = bk_cluster_ntopics(ctl->c);
    for (int i = 0; i < nt; i++) {
        const bk_zk_topic *a;
        (void)bk_cluster_topic_at(ctl->c, i, &a);
        total += a ? a->nparts : 0;
    }
    lop *op = op_new(ctl, kind, total, cb, ud);
    for (int i = 0; op && i < nt; i++) {
        const bk_zk_topic *a;
        const char *name = bk_cluster_topic_at(ctl->c, i, &a);
        for (int32_t p = 0; a && p < a->nparts; p++)
            op_add(op, name, p);
    }
    return op;
}

static void op_start(lop *op)
{
    op->pending = op->n + 1;
    for (int i = 0; i < op->n; i++) {
        lpart *lp = &op->parts[i];
        const bk_zk_topic *a = bk_cluster_assignment(op->ctl->c, lp->out.topic);
        if (!a || lp->out.partition < 0 || lp->out.partition >= a->nparts)
            part_done(lp, BK_KERR_UNKNOWN_TOPIC_OR_PARTITION, -1);
        else
            part_read(lp);
    }
    if (--op->pending == 0)
        op_finish(op);
}

static void answer_not_controller(bk_ctl_done_fn *cb, void *ud, int16_t err)
{
    cb(ud, err, NULL, 0);
}

void bk_controller_elect(bk_controller *ctl, int type, const bk_ctl_part *parts, int n,
                         bk_ctl_done_fn *cb, void *ud)
{
    if (ctl->state != C_ACTIVE) {
        answer_not_controller(cb, ud, BK_KERR_NOT_CONTROLLER);
        return;
    }
    int kind = type == BK_ELECT_UNCLEAN ? OP_UNCLEAN : OP_PREFERRED;
    lop *op;
    if (!parts) {
        op = op_all(ctl, kind, cb, ud);
    } else {
        op = op_new(ctl, kind, n, cb, ud);
        for (int i = 0; op && i < n; i++)
            op_add(op, parts[i].topic, parts[i].partition);
    }
    if (!op) {
        answer_not_controller(cb, ud, BK_KERR_UNKNOWN_SERVER_ERROR);
        return;
    }
    op_start(op);
}

void bk_controller_controlled_shutdown(bk_controller *ctl, int32_t broker, bk_ctl_done_fn *cb,
                                       void *ud)
{
    if (ctl->state != C_ACTIVE) {
        answer_not_controller(cb, ud, BK_KERR_NOT_CONTROLLER);
        return;
    }
    int nb;
    const bk_zk_broker *live = bk_cluster_brokers(ctl->c, &nb);
    bool known = false;
    for (int i = 0; i < nb; i++)
        known |= live[i].id == broker;
    if (!known) { /* Kafka: BrokerNotAvailableException */
        answer_not_controller(cb, ud, BK_KERR_BROKER_NOT_AVAILABLE);
        return;
    }
    shut_add(ctl, broker);
    lop *op = op_all(ctl, OP_CSHUT, cb, ud);
    if (!op) {
        answer_not_controller(cb, ud, BK_KERR_UNKNOWN_SERVER_ERROR);
        return;
    }
    op->broker = broker;
    op_start(op);
}

/* ------------------------------------------------------------- rebalance */

static void rebalance_arm(bk_controller *ctl);

static void rebalance_done(void *ud, int16_t err, const bk_ctl_part *parts, int n)
{
    bk_controller *ctl = ud;
    int moved = 0;
    for (int i = 0; i < n; i++)
        moved += parts[i].err == BK_KERR_NONE;
    if (moved)
        bk_log(BK_LOG_INFO, "controller: leader rebalance moved %d of %d partitions", moved, n);
    if (ctl->ld)
        ctl->ld->rebalancing--;
}

/* Kafka's checkAndTriggerAutoLeaderRebalance over the leaders this broker
 * knows from its state watches (the election re-reads each state). */
static void rebalance_check(bk_controller *ctl)
{
    const bk_config *cfg = ctl->c->cfg;
    bk_topics *reg = ctl->c->topics;
    struct bk_ctl_leaders *ld = ctl->ld;
    if (!reg || !ld || ld->rebalancing > 0 || ld->nshut > 0)
        return;
    int nb;
    const bk_zk_broker *live = bk_cluster_brokers(ctl->c, &nb);
    int nt = bk_cluster_ntopics(ctl->c);
    lop *op = NULL;
    int32_t *over = calloc((size_t)nb + 1, sizeof *over); /* brokers above the threshold */
    int nover = 0;
    if (!over)
        return;
    for (int b = 0; b < nb; b++) {
        int32_t id = live[b].id;
        int total = 0, off = 0;
        for (int i = 0; i < nt; i++) {
            const bk_zk_topic *a;
            const char *name = bk_cluster_topic_at(ctl->c, i, &a);
            for (int32_t p = 0; a && a->rf > 0 && p < a->nparts; p++) {
                if (a->replicas[(size_t)p * (size_t)a->rf] != id)
                    continue;
                bk_partition *bp = bk_topics_partition(reg, name, strlen(name), p);
                total++;
                off += !bp || bp->leader != id;
            }
        }
        if (total == 0 || off == 0)
            continue;
        double ratio = (double)off / (double)total;
        if (ratio * 100.0 <= (double)cfg->leader_imbalance_per_broker_percentage)
            continue;
        bk_log(BK_LOG_INFO,
               "controller: broker %d leads %d of its %d preferred partitions "
               "(imbalance %.0f%% > %d%%): preferred election",
               id, total - off, total, ratio * 100.0, cfg->leader_imbalance_per_broker_percentage);
        over[nover++] = id;
        if (!op && !(op = op_all(ctl, OP_PREFERRED, rebalance_done, ctl))) {
            free(over);
            return;
        }
    }
    if (!op) {
        free(over);
        return;
    }
    /* op_all listed every partition; keep those of the imbalanced brokers
     * that their preferred replica does not lead */
    int keep = 0;
    for (int i = 0; i < op->n; i++) {
        const bk_zk_topic *a = bk_cluster_assignment(ctl->c, op->parts[i].out.topic);
        int32_t p = op->parts[i].out.partition;
        bool k = false;
        if (a && a->rf > 0 && p < a->nparts) {
            int32_t pref = a->replicas[(size_t)p * (size_t)a->rf];
            const char *name = op->parts[i].out.topic;
            bk_partition *bp = bk_topics_partition(reg, name, strlen(name), p);
            k = (!bp || bp->leader != pref) && has(over, nover, pref);
        }
        if (k) {
            op->parts[keep] = op->parts[i];
            char *t = op->names[keep];
            op->names[keep] = op->names[i];
            op->names[i] = t;
            keep++;
        }
    }
    for (int i = keep; i < op->n; i++) {
        free(op->names[i]);
        op->names[i] = NULL;
    }
    op->n = keep;
    free(over);
    ld->rebalancing++;
    op_start(op);
}

static void rebalance_timer(bk_ev *ev, bk_ev_timer *t)
{
    bk_controller *ctl = t->data;
    if (ctl->state != C_ACTIVE)
        return;
    rebalance_check(ctl);
    rebalance_arm(ctl);
}

static void rebalance_arm(bk_controller *ctl)
{
    const bk_config *cfg = ctl->c->cfg;
    struct bk_ctl_leaders *ld = ld_get(ctl);
    if (!ld || !cfg || !cfg->auto_leader_rebalance_enable || !ctl->c->ev)
        return;
    if (!ld->timer_init) {
        bk_ev_timer_init(&ld->rebalance, rebalance_timer, ctl);
        ld->timer_init = true;
    }
    int64_t iv = cfg->leader_imbalance_check_interval_seconds;
    if (iv > INT64_MAX / 2000)
        iv = INT64_MAX / 2000;
    if (bk_ev_timer_start(ctl->c->ev, &ld->rebalance, bk_now_ms() + iv * 1000) != 0)
        bk_log(BK_LOG_WARN, "controller: cannot arm the leader rebalance timer");
}

/* ------------------------------------------------------------- hooks */

void bk_ctl_leaders_elected(bk_controller *ctl)
{
    rebalance_arm(ctl);
}

void bk_ctl_leaders_brokers(bk_controller *ctl)
{
    struct bk_ctl_leaders *ld = ctl->ld;
    if (!ld)
        return;
    int nb;
    const bk_zk_broker *live = bk_cluster_brokers(ctl->c, &nb);
    int k = 0;
    for (int i = 0; i < ld->nshut; i++) {
        bool same = false;
        for (int j = 0; j < nb; j++)
            if (live[j].id == ld->shut[i].id)
                same = live[j].timestamp == ld->shut[i].reg_ts;
        if (same)
            ld->shut[k++] = ld->shut[i];
        else
            bk_log(BK_LOG_INFO, "controller: broker %d is no longer shutting down (%s)",
                   ld->shut[i].id, "gone or registered again");
    }
    ld->nshut = k;
    shut_sync_ids(ld);
}

void bk_ctl_leaders_resigned(bk_controller *ctl)
{
    struct bk_ctl_leaders *ld = ctl->ld;
    if (!ld)
        return;
    if (ld->timer_init && ctl->c->ev)
        bk_ev_timer_stop(ctl->c->ev, &ld->rebalance);
    ld->nshut = 0;
}

void bk_ctl_leaders_free(bk_controller *ctl)
{
    struct bk_ctl_leaders *ld = ctl->ld;
    if (!ld)
        return;
    if (ld->timer_init && ctl->c->ev)
        bk_ev_timer_stop(ctl->c->ev, &ld->rebalance);
    free(ld->shut);
    free(ld->shut_ids);
    free(ld);
    ctl->ld = NULL;
}
