/* ctl_reassign.c - partition reassignment on the controller (Kafka's
 * KafkaController.onPartitionReassignment, ZooKeeper mode, with KIP-455's
 * adding/removing replicas). See controller_int.h for the hooks.
 *
 * With ORS the original replicas and TRS the target:
 *   start   the assignment znode /brokers/topics/<t> gets replicas
 *           RS = TRS + (ORS - TRS), adding_replicas = TRS - ORS and
 *           removing_replicas = ORS - TRS (format v3); the partition's
 *           leader epoch is bumped in its state znode. Brokers watch both
 *           (cluster.c, server.c on_pstate): a broker new in RS creates the
 *           partition and follows the leader, the leader tracks it and adds
 *           it to the ISR once it caught up (replicas being removed are
 *           never added back, partition.c).
 *   finish  when every TRS member is in the ISR (this module sees every
 *           state the broker reads, bk_ctl_reassign_pstate): the state is
 *           written with ISR = ISR n TRS, a leader from TRS n ISR (live) if
 *           the current one is not in TRS or not live, the leader epoch
 *           bumped; then the assignment is written with replicas = TRS and
 *           no adding/removing. The brokers of ORS - TRS find themselves
 *           out of the assignment and stop their replica and delete its
 *           log (server.c: Kafka's StopReplica delete=true).
 *   cancel  TRS := ORS, finished at once (no ISR wait): the assignment goes
 *           back to ORS and the added replicas are deleted.
 *   a new target for a partition being moved keeps its ORS (KIP-455).
 *
 * Kafka's legacy path /admin/reassign_partitions ({"version":1,
 * "partitions":[{"topic":..,"partition":..,"replicas":[..]}]}) is
 * watched by the active controller: its moves start as if asked through
 * AlterPartitionReassignments, and the znode is deleted once all of them
 * completed (as Kafka's controller does).
 *
 * A new controller recovers the moves in progress from the adding/removing
 * fields of the assignment znodes (bk_ctl_reassign_topic sees every topic
 * when elected): ORS = RS - adding, TRS = RS - removing.
 *
 * Assignment writes are built from the cluster's cached assignment with
 * every move of the topic laid over it, so two moves of one topic never
 * undo each other; a finished move stays in the table (RA_DONE) until the
 * cache shows its TRS.
 *
 * Thread: loop thread.
 */
#include "controller_int.h"

#include "../core/err.h"
#include "../core/log.h"
#include "cluster.h"
#include "reassign_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { RA_MOVING, RA_FINISHING, RA_DONE };

#define RA_MAX 64

typedef struct ra_entry {
    char topic[256];
    int32_t partition;
    int32_t ors[RA_MAX], trs[RA_MAX];
    int nors, ntrs;
    int phase;
    bool cancel;  /* finish without waiting for the ISR */
    bool from_zk; /* asked through /admin/reassign_partitions */
} ra_entry;

struct bk_ctl_reassign {
    ra_entry *v;
    int n, cap;
    char **dirty; /* topics whose assignment znode must be written */
    int ndirty;
};

static bool has(const int32_t *v, int n, int32_t id)
{
    for (int i = 0; i < n; i++)
        if (v[i] == id)
            return true;
    return false;
}

static struct bk_ctl_reassign *ra_get(bk_controller *ctl)
{
    if (!ctl->ra)
        ctl->ra = calloc(1, sizeof *ctl->ra);
    return ctl->ra;
}

static ra_entry *ra_find(const bk_controller *ctl, const char *topic, int32_t p)
{
    struct bk_ctl_reassign *ra = ctl->ra;
    for (int i = 0; ra && i < ra->n; i++)
        if (ra->v[i].partition == p && strcmp(ra->v[i].topic, topic) == 0)
            return &ra->v[i];
    return NULL;
}

static ra_entry *ra_add(bk_controller *ctl, const char *topic, int32_t p)
{
    struct bk_ctl_reassign *ra = ra_get(ctl);
    if (!ra || strlen(topic) >= sizeof ra->v[0].topic)
        return NULL;
    if (ra->n == ra->cap) {
        int nc = ra->cap ? ra->cap * 2 : 16;
        ra_entry *nv = realloc(ra->v, (size_t)nc * sizeof *nv);
        if (!nv)
            return NULL;
        ra->v = nv;
        ra->cap = nc;
    }
    ra_entry *e = &ra->v[ra->n++];
    memset(e, 0, sizeof *e);
    snprintf(e->topic, sizeof e->topic, "%s", topic);
    e->partition = p;
    return e;
}

static void ra_del(bk_controller *ctl, ra_entry *e)
{
    struct bk_ctl_reassign *ra = ctl->ra;
    *e = ra->v[--ra->n];
}

/* RS = TRS + (ORS - TRS) */
static int ra_all(const ra_entry *e, int32_t *out)
{
    int n = 0;
    for (int i = 0; i < e->ntrs; i++)
        out[n++] = e->trs[i];
    for (int i = 0; i < e->nors && n < RA_MAX; i++)
        if (!has(e->trs, e->ntrs, e->ors[i]))
            out[n++] = e->ors[i];
    return n;
}

/* a - b */
static int ids_minus(const int32_t *a, int na, const int32_t *b, int nb, int32_t *out)
{
    int n = 0;
    for (int i = 0; i < na; i++)
        if (!has(b, nb, a[i]))
            out[n++] = a[i];
    return n;
}

static void mark_dirty(bk_controller *ctl, const char *topic)
{
    struct bk_ctl_reassign *ra = ra_get(ctl);
    if (!ra)
        return;
    for (int i = 0; i < ra->ndirty; i++)
        if (strcmp(ra->dirty[i], topic) == 0)
            return;
    char **nv = realloc(ra->dirty, (size_t)(ra->ndirty + 1) * sizeof *nv);
    if (!nv)
        return;
    ra->dirty = nv;
    if ((nv[ra->ndirty] = strdup(topic)) != NULL)
        ra->ndirty++;
}

/* ------------------------------------------------------------- assignment */

static void assignment_written(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    (void)zk;
    char *topic = ud;
    if (r->rc != ZOK)
        bk_log(BK_LOG_WARN, "controller: cannot write the assignment of %s: %s", topic,
               zerror(r->rc));
    free(topic);
}

/* The cached assignment of topic with every move of it laid over. */
static void write_assignment(bk_controller *ctl, const char *topic)
{
    const bk_zk_topic *a = bk_cluster_assignment(ctl->c, topic);
    if (!a)
        return;
    int rf = a->rf;
    for (int i = 0; ctl->ra && i < ctl->ra->n; i++) {
        const ra_entry *e = &ctl->ra->v[i];
        int32_t all[RA_MAX];
        if (strcmp(e->topic, topic) == 0 && e->partition < a->nparts && ra_all(e, all) > rf)
            rf = ra_all(e, all);
    }
    size_t cells = (size_t)a->nparts * (size_t)rf;
    bk_zk_topic t = {.nparts = a->nparts, .rf = (int16_t)rf, .has_id = a->has_id};
    memcpy(t.id, a->id, 16);
    t.replicas = malloc(cells * sizeof(int32_t));
    t.adding = malloc(cells * sizeof(int32_t));
    t.removing = malloc(cells * sizeof(int32_t));
    if (!t.replicas || !t.adding || !t.removing) {
        bk_zk_topic_free(&t);
        return;
    }
    for (size_t i = 0; i < cells; i++)
        t.replicas[i] = t.adding[i] = t.removing[i] = -1;
    for (int32_t p = 0; p < a->nparts; p++) {
        int32_t *R = t.replicas + (size_t)p * (size_t)rf;
        int32_t *A = t.adding + (size_t)p * (size_t)rf;
        int32_t *D = t.removing + (size_t)p * (size_t)rf;
        const ra_entry *e = ra_find(ctl, topic, p);
        if (e && e->phase == RA_DONE) {
            memcpy(R, e->trs, (size_t)e->ntrs * sizeof *R);
        } else if (e) {
            (void)ra_all(e, R);
            (void)ids_minus(e->trs, e->ntrs, e->ors, e->nors, A);
            (void)ids_minus(e->ors, e->nors, e->trs, e->ntrs, D);
        } else {
            const int32_t *v;
            int n = bk_zk_topic_reps(a, p, &v);
            memcpy(R, v, (size_t)n * sizeof *R);
            n = bk_zk_topic_adding(a, p, &v);
            if (n)
                memcpy(A, v, (size_t)n * sizeof *A);
            n = bk_zk_topic_removing(a, p, &v);
            if (n)
                memcpy(D, v, (size_t)n * sizeof *D);
        }
    }
    bk_jw w;
    bk_jw_init(&w);
    bk_zkj_topic(&w, &t);
    bk_zk_topic_free(&t);
    char path[320];
    snprintf(path, sizeof path, "/brokers/topics/%s", topic);
    char *ud = strdup(topic);
    if (!w.err && ud)
        bk_zk_set(ctl->zk, path, w.p, (int)w.len, -1, assignment_written, ud);
    else
        free(ud);
    bk_jw_fini(&w);
}

void bk_ctl_reassign_flush(bk_controller *ctl)
{
    struct bk_ctl_reassign *ra = ctl->ra;
    if (!ra)
        return;
    for (int i = 0; i < ra->ndirty; i++) {
        if (ctl->state == C_ACTIVE)
            write_assignment(ctl, ra->dirty[i]);
        free(ra->dirty[i]);
    }
    ra->ndirty = 0;
}

/* ------------------------------------------------------------- /admin/reassign_partitions */

static void zk_path_read(bk_controller *ctl);

/* Every move asked through the znode finished: delete it. */
static void zk_path_maybe_done(bk_controller *ctl)
{
    struct bk_ctl_reassign *ra = ctl->ra;
    for (int i = 0; ra && i < ra->n; i++)
        if (ra->v[i].from_zk && ra->v[i].phase != RA_DONE)
            return;
    bk_log(BK_LOG_INFO, "controller: the reassignments of /admin/reassign_partitions completed");
    bk_zk_delete(ctl->zk, "/admin/reassign_partitions", -1, NULL, NULL);
}

static void zk_path_watch(bk_zk *zk, int type, const char *path, void *ud)
{
    (void)zk;
    (void)path;
    cctx *w = ud;
    bk_controller *ctl = w->ctl;
    bool current = type != BK_ZK_WATCH_DROPPED && w->gen == ctl->gen && ctl->state == C_ACTIVE;
    free(w);
    if (current)
        zk_path_read(ctl);
}

static void zk_path_got(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    (void)zk;
    cctx *x = ud;
    bk_controller *ctl = x->ctl;
    bool current = x->gen == ctl->gen && ctl->state == C_ACTIVE;
    free(x);
    if (!current || r->rc != ZOK || !r->data || r->len <= 0)
        return;
    bk_reassign_plan plan;
    char err[256];
    if (bk_reassign_parse(r->data, (size_t)r->len, &plan, err, sizeof err) != 0) {
        bk_log(BK_LOG_WARN, "controller: ignoring /admin/reassign_partitions: %s", err);
        bk_zk_delete(ctl->zk, "/admin/reassign_partitions", -1, NULL, NULL);
        return;
    }
    int started = 0;
    for (int i = 0; i < plan.n; i++) {
        const bk_reassign_part *p = &plan.v[i];
        const char *msg;
        int16_t e =
            bk_ctl_reassign_alter(ctl, p->topic, p->partition, p->replicas, p->nreplicas, &msg);
        ra_entry *en = ra_find(ctl, p->topic, p->partition);
        if (e == BK_KERR_NONE && en) {
            en->from_zk = true;
            started++;
        } else {
            bk_log(BK_LOG_WARN, "controller: /admin/reassign_partitions: %s-%d: %s", p->topic,
                   p->partition, msg ? msg : bk_kerr_name(e));
        }
    }
    bk_reassign_plan_free(&plan);
    bk_ctl_reassign_flush(ctl);
    if (started == 0)
        zk_path_maybe_done(ctl);
}

static void zk_path_read(bk_controller *ctl)
{
    cctx *w = bk_ctl_cctx_new(ctl), *x = bk_ctl_cctx_new(ctl);
    if (!w || !x) {
        free(w);
        free(x);
        return;
    }
    bk_zk_exists(ctl->zk, "/admin/reassign_partitions", zk_path_watch, w, NULL, NULL);
    bk_zk_get(ctl->zk, "/admin/reassign_partitions", NULL, NULL, zk_path_got, x);
}

/* ------------------------------------------------------------- states
 *
 * A read-modify-write of a partition state znode with its version; the
 * modifier returns false to leave it alone. A version conflict re-reads
 * (the leader changed the ISR meanwhile). */

typedef struct sctx {
    bk_controller *ctl;
    int gen;
    int tries;
    int32_t partition;
    int kind; /* S_BUMP, S_FINISH */
    char topic[256];
} sctx;

enum { S_BUMP, S_FINISH };

static void state_rmw(bk_controller *ctl, const char *topic, int32_t p, int kind, int tries);

static void finish_failed(bk_controller *ctl, const sctx *x)
{
    ra_entry *e = ra_find(ctl, x->topic, x->partition);
    if (e && e->phase == RA_FINISHING)
        e->phase = RA_MOVING;
}

static void state_written(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    (void)zk;
    sctx *x = ud;
    bk_controller *ctl = x->ctl;
    bool current = x->gen == ctl->gen && ctl->state == C_ACTIVE;
    if (!current) {
        free(x);
        return;
    }
    if (r->rc == ZBADVERSION && x->tries < 10) {
        state_rmw(ctl, x->topic, x->partition, x->kind, x->tries + 1);
    } else if (r->rc != ZOK) {
        bk_log(BK_LOG_WARN, "controller: reassignment of %s-%d: cannot write the state: %s",
               x->topic, x->partition, zerror(r->rc));
        if (x->kind == S_FINISH)
            finish_failed(ctl, x);
    } else if (x->kind == S_FINISH) {
        ra_entry *e = ra_find(ctl, x->topic, x->partition);
        if (e && e->phase == RA_FINISHING) {
            e->phase = RA_DONE;
            bk_log(BK_LOG_INFO, "controller: reassignment of %s-%d %s", x->topic, x->partition,
                   e->cancel ? "cancelled" : "completed");
            write_assignment(ctl, x->topic);
            if (e->from_zk)
                zk_path_maybe_done(ctl);
        }
    }
    free(x);
}

/* Finish: ISR n TRS, a leader in TRS. false: not possible yet. */
static bool finish_state(bk_controller *ctl, const ra_entry *e, const bk_zk_pstate *st,
                         bk_zk_pstate *ns)
{
    int nb;
    const bk_zk_broker *live = bk_cluster_brokers(ctl->c, &nb);
    *ns = *st;
    ns->nisr = 0;
    for (int i = 0; i < st->nisr; i++)
        if (has(e->trs, e->ntrs, st->isr[i]))
            ns->isr[ns->nisr++] = st->isr[i];
    if (!has(e->trs, e->ntrs, st->leader) || !bk_ctl_is_live(live, nb, st->leader)) {
        ns->leader = -1;
        for (int i = 0; i < e->ntrs && ns->leader < 0; i++)
            if (has(ns->isr, ns->nisr, e->trs[i]) && bk_ctl_is_live(live, nb, e->trs[i]))
                ns->leader = e->trs[i];
        if (ns->leader < 0 && !e->cancel)
            return false;
        if (ns->leader < 0) /* cancel with no live original in the ISR: keep */
            ns->leader = has(e->trs, e->ntrs, st->leader) ? st->leader : -1;
    }
    if (ns->nisr == 0) { /* keep the last ISR (Kafka keeps one member) */
        ns->nisr = st->nisr;
        memcpy(ns->isr, st->isr, sizeof st->isr);
    }
    return true;
}

static bool ready(const ra_entry *e, const bk_zk_pstate *st)
{
    if (e->cancel)
        return true;
    for (int i = 0; i < e->ntrs; i++)
        if (!has(st->isr, st->nisr, e->trs[i]))
            return false;
    return true;
}

static void state_got(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    sctx *x = ud;
    bk_controller *ctl = x->ctl;
    bk_zk_pstate st, ns;
    if (x->gen != ctl->gen || ctl->state != C_ACTIVE || r->rc != ZOK || !r->stat ||
        bk_zkj_pstate_parse(r->data, (size_t)r->len, &st) != 0) {
        if (x->gen == ctl->gen && ctl->state == C_ACTIVE && x->kind == S_FINISH)
            finish_failed(ctl, x);
        free(x);
        return;
    }
    ra_entry *e = ra_find(ctl, x->topic, x->partition);
    if (x->kind == S_FINISH) {
        if (!e || e->phase != RA_FINISHING || !ready(e, &st) || !finish_state(ctl, e, &st, &ns)) {
            if (e && e->phase == RA_FINISHING)
                e->phase = RA_MOVING;
            free(x);
            return;
        }
    } else {
        ns = st;
    }
    ns.leader_epoch = st.leader_epoch + 1;
    ns.controller_epoch = ctl->epoch;
    bk_jw w;
    bk_jw_init(&w);
    bk_zkj_pstate(&w, &ns);
    char path[400];
    snprintf(path, sizeof path, "/brokers/topics/%s/partitions/%d/state", x->topic, x->partition);
    if (w.err) {
        if (x->kind == S_FINISH)
            finish_failed(ctl, x);
        free(x);
    } else {
        bk_zk_set(zk, path, w.p, (int)w.len, r->stat->version, state_written, x);
    }
    bk_jw_fini(&w);
}

static void state_rmw(bk_controller *ctl, const char *topic, int32_t p, int kind, int tries)
{
    sctx *x = calloc(1, sizeof *x);
    if (!x)
        return;
    x->ctl = ctl;
    x->gen = ctl->gen;
    x->tries = tries;
    x->partition = p;
    x->kind = kind;
    snprintf(x->topic, sizeof x->topic, "%s", topic);
    char path[400];
    snprintf(path, sizeof path, "/brokers/topics/%s/partitions/%d/state", topic, p);
    bk_zk_get(ctl->zk, path, NULL, NULL, state_got, x);
}

static void try_finish(bk_controller *ctl, ra_entry *e)
{
    if (e->phase != RA_MOVING)
        return;
    e->phase = RA_FINISHING;
    state_rmw(ctl, e->topic, e->partition, S_FINISH, 0);
}

void bk_ctl_reassign_pstate(bk_controller *ctl, const char *topic, int32_t partition,
                            const bk_zk_pstate *st, int32_t version)
{
    (void)version;
    if (ctl->state != C_ACTIVE)
        return;
    ra_entry *e = ra_find(ctl, topic, partition);
    if (e && e->phase == RA_MOVING && ready(e, st))
        try_finish(ctl, e);
}

/* ------------------------------------------------------------- requests */

int16_t bk_ctl_reassign_alter(bk_controller *ctl, const char *topic, int32_t partition,
                              const int32_t *replicas, int n, const char **msg)
{
    *msg = NULL;
    if (ctl->state != C_ACTIVE)
        return BK_KERR_NOT_CONTROLLER;
    const bk_zk_topic *a = bk_cluster_assignment(ctl->c, topic);
    if (!a || partition < 0 || partition >= a->nparts) {
        *msg = "The partition does not exist.";
        return BK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    ra_entry *e = ra_find(ctl, topic, partition);
    if (n < 0) { /* cancel */
        if (!e || e->phase == RA_DONE) {
            /* (a finished move stays in the table until the cache shows it) */
            *msg = "There is no reassignment in progress for this partition.";
            return BK_KERR_NO_REASSIGNMENT_IN_PROGRESS;
        }
        if (e->phase != RA_MOVING) {
            *msg = "The reassignment of this partition is finishing.";
            return BK_KERR_REASSIGNMENT_IN_PROGRESS;
        }
        memcpy(e->trs, e->ors, (size_t)e->nors * sizeof *e->trs);
        e->ntrs = e->nors;
        e->cancel = true;
        bk_log(BK_LOG_INFO, "controller: cancelling the reassignment of %s-%d", topic, partition);
        try_finish(ctl, e);
        return BK_KERR_NONE;
    }
    if (n == 0 || n > RA_MAX) {
        *msg = "The replica list is empty or too long.";
        return BK_KERR_INVALID_REPLICA_ASSIGNMENT;
    }
    for (int i = 0; i < n; i++)
        if (replicas[i] < 0 || has(replicas, i, replicas[i])) {
            *msg = "The replica list has a duplicate or a negative broker id.";
            return BK_KERR_INVALID_REPLICA_ASSIGNMENT;
        }
    if (e && e->phase == RA_FINISHING) {
        *msg = "The reassignment of this partition is finishing.";
        return BK_KERR_REASSIGNMENT_IN_PROGRESS;
    }
    if (e && e->phase == RA_DONE) {
        /* finished, the cache lags: a new move from its target */
        memmove(e->ors, e->trs, (size_t)e->ntrs * sizeof *e->ors);
        e->nors = e->ntrs;
    } else if (!e) {
        e = ra_add(ctl, topic, partition);
        if (!e)
            return BK_KERR_UNKNOWN_SERVER_ERROR;
        const int32_t *v;
        int nv = bk_zk_topic_reps(a, partition, &v);
        if (nv > RA_MAX)
            nv = RA_MAX;
        memcpy(e->ors, v, (size_t)nv * sizeof *v);
        e->nors = nv;
    }
    /* a new target for a move in progress keeps its ORS (KIP-455) */
    memcpy(e->trs, replicas, (size_t)n * sizeof *replicas);
    e->ntrs = n;
    e->cancel = false;
    e->from_zk = false;
    e->phase = RA_MOVING;
    char buf[512];
    int o = 0;
    for (int i = 0; i < n && o < 400; i++)
        o += snprintf(buf + o, sizeof buf - (size_t)o, "%s%d", i ? "," : "", replicas[i]);
    buf[o] = 0;
    bk_log(BK_LOG_INFO, "controller: reassigning %s-%d to [%s]", topic, partition, buf);
    mark_dirty(ctl, topic);
    /* the brokers act on the new epoch (and re-read the assignment) */
    state_rmw(ctl, topic, partition, S_BUMP, 0);
    return BK_KERR_NONE;
}

bool bk_ctl_reassign_at(const bk_controller *ctl, int i, const char **topic, int32_t *partition,
                        int32_t *reps, int *nreps, int32_t *adding, int *nadding, int32_t *removing,
                        int *nremoving)
{
    struct bk_ctl_reassign *ra = ctl->ra;
    if (!ra || ctl->state != C_ACTIVE)
        return false;
    int k = 0;
    for (int j = 0; j < ra->n; j++) {
        const ra_entry *e = &ra->v[j];
        if (e->phase == RA_DONE)
            continue;
        if (k++ != i)
            continue;
        *topic = e->topic;
        *partition = e->partition;
        *nreps = ra_all(e, reps);
        *nadding = ids_minus(e->trs, e->ntrs, e->ors, e->nors, adding);
        *nremoving = ids_minus(e->ors, e->nors, e->trs, e->ntrs, removing);
        return true;
    }
    return false;
}

/* ------------------------------------------------------------- hooks */

void bk_ctl_reassign_elected(bk_controller *ctl)
{
    /* recovered moves (bk_ctl_reassign_topic ran for every topic): check
     * whether they can finish now */
    struct bk_ctl_reassign *ra = ctl->ra;
    for (int i = 0; ra && i < ra->n; i++)
        if (ra->v[i].phase == RA_MOVING)
            try_finish(ctl, &ra->v[i]);
    zk_path_read(ctl);
}

void bk_ctl_reassign_brokers(bk_controller *ctl)
{
    /* a leader that died may leave a finished-but-unwritten move: retry */
    struct bk_ctl_reassign *ra = ctl->ra;
    for (int i = 0; ra && i < ra->n; i++)
        if (ra->v[i].phase == RA_MOVING)
            try_finish(ctl, &ra->v[i]);
}

void bk_ctl_reassign_resigned(bk_controller *ctl)
{
    struct bk_ctl_reassign *ra = ctl->ra;
    if (!ra)
        return;
    /* the next controller recovers the moves from ZooKeeper */
    ra->n = 0;
    for (int i = 0; i < ra->ndirty; i++)
        free(ra->dirty[i]);
    ra->ndirty = 0;
}

void bk_ctl_reassign_free(bk_controller *ctl)
{
    struct bk_ctl_reassign *ra = ctl->ra;
    if (!ra)
        return;
    bk_ctl_reassign_resigned(ctl);
    free(ra->v);
    free(ra->dirty);
    free(ra);
    ctl->ra = NULL;
}

void bk_ctl_reassign_topic(bk_controller *ctl, const char *name, const bk_zk_topic *a)
{
    for (int32_t p = 0; p < a->nparts; p++) {
        const int32_t *reps, *add, *rem;
        int nr = bk_zk_topic_reps(a, p, &reps);
        int na = bk_zk_topic_adding(a, p, &add);
        int nd = bk_zk_topic_removing(a, p, &rem);
        ra_entry *e = ra_find(ctl, name, p);
        if (e && e->phase == RA_DONE) {
            /* the cache shows the final assignment: forget the move */
            if (na == 0 && nd == 0 && nr == e->ntrs &&
                memcmp(reps, e->trs, (size_t)nr * sizeof *reps) == 0)
                ra_del(ctl, e);
            continue;
        }
        if (e || (na == 0 && nd == 0) || nr > RA_MAX)
            continue;
        /* a move in progress written by an earlier controller */
        e = ra_add(ctl, name, p);
        if (!e)
            return;
        e->nors = ids_minus(reps, nr, add, na, e->ors);
        e->ntrs = ids_minus(reps, nr, rem, nd, e->trs);
        e->phase = RA_MOVING;
        bk_log(BK_LOG_INFO, "controller: resuming the reassignment of %s-%d", name, p);
        if (ctl->state == C_ACTIVE)
            try_finish(ctl, e);
    }
}
