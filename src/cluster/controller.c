/* controller.c - see controller.h.
 *
 * Mechanism (issue 8's "documented mechanism"): brokers watch ZooKeeper
 * directly instead of receiving LeaderAndIsr/UpdateMetadata/StopReplica
 * from the controller. The controller only writes partition state znodes
 * (creation, failover); each broker applies the states it watches; the
 * leader's ISR changes are version-checked writes of the state znode (no
 * AlterPartition). */
#include "controller.h"
#include "controller_int.h"

#include "../core/clock.h"
#include "../core/err.h"
#include "../core/log.h"
#include "../core/metrics.h"
#include "../core/uuid.h"
#include "cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- assignment */

static int rand_below(int n)
{
    uint8_t b[16];
    bk_uuid_random(b); /* getrandom-backed; the quality is irrelevant here */
    uint32_t v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return (int)(v % (uint32_t)n);
}

int bk_assign_replicas(const int32_t *brokers, int n, int32_t nparts, int16_t rf, int start,
                       int32_t *out)
{
    if (n <= 0 || rf < 1 || rf > n || nparts < 0)
        return BK_EINVAL;
    int start_index = start >= 0 ? start % n : rand_below(n);
    int shift = start >= 0 ? start % n : rand_below(n);
    for (int32_t p = 0; p < nparts; p++) {
        if (p > 0 && p % n == 0)
            shift++;
        int first = (int)((p + start_index) % n);
        out[(size_t)p * (size_t)rf] = brokers[first];
        for (int j = 0; j < rf - 1; j++) {
            int s = 1 + (shift + j) % (n - 1);
            out[(size_t)p * (size_t)rf + (size_t)j + 1] = brokers[(first + s) % n];
        }
    }
    return 0;
}

/* Kafka's getRackAlternatedBrokerList: racks in name order, taking the
 * next broker (by id) of each rack in turn: r1b0, r2b0, r3b0, r1b1, ... */
static int rack_alternate(const int32_t *brokers, const char *const *racks, int n, int32_t *out,
                          const char **out_rack)
{
    int *order = calloc((size_t)n + 1, sizeof *order);
    bool *used = calloc((size_t)n + 1, sizeof *used);
    if (!order || !used) {
        free(order);
        free(used);
        return BK_ENOMEM;
    }
    /* brokers by (rack, id) */
    for (int i = 0; i < n; i++)
        order[i] = i;
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0; j--) {
            int a = order[j - 1], b = order[j];
            int c = strcmp(racks[a], racks[b]);
            if (c > 0 || (c == 0 && brokers[a] > brokers[b])) {
                order[j - 1] = b;
                order[j] = a;
            } else {
                break;
            }
        }
    int m = 0;
    while (m < n) {
        const char *last = NULL;
        for (int i = 0; i < n; i++) {
            int k = order[i];
            if (used[k] || (last && strcmp(last, racks[k]) == 0))
                continue;
            /* the first unused broker of each rack, racks in order */
            bool first_of_rack = true;
            for (int j = 0; j < i && first_of_rack; j++)
                if (!used[order[j]] && strcmp(racks[order[j]], racks[k]) == 0)
                    first_of_rack = false;
            if (!first_of_rack)
                continue;
            used[k] = true;
            out[m] = brokers[k];
            out_rack[m] = racks[k];
            m++;
            last = racks[k];
        }
    }
    free(order);
    free(used);
    return 0;
}

int bk_assign_replicas_racks(const int32_t *brokers, const char *const *racks, int n,
                             int32_t nparts, int16_t rf, int start, int32_t *out)
{
    if (n <= 0 || rf < 1 || rf > n || nparts < 0)
        return BK_EINVAL;
    int with_rack = 0;
    for (int i = 0; i < n; i++)
        with_rack += racks[i] && racks[i][0];
    if (with_rack != n) /* Kafka refuses a partly racked cluster; we stay rack-unaware */
        return bk_assign_replicas(brokers, n, nparts, rf, start, out);
    int32_t *arr = calloc((size_t)n, sizeof *arr);
    const char **arack = calloc((size_t)n, sizeof *arack);
    if (!arr || !arack || rack_alternate(brokers, racks, n, arr, arack) != 0) {
        free(arr);
        free(arack);
        return BK_ENOMEM;
    }
    int nracks = 0;
    for (int i = 0; i < n; i++) {
        bool seen = false;
        for (int j = 0; j < i && !seen; j++)
            seen = strcmp(arack[i], arack[j]) == 0;
        nracks += !seen;
    }
    int start_index = start >= 0 ? start % n : rand_below(n);
    int shift = start >= 0 ? start % n : rand_below(n);
    const char **rw = calloc((size_t)rf, sizeof *rw); /* racks with a replica */
    int32_t *bw = calloc((size_t)rf, sizeof *bw);     /* brokers with a replica */
    if (!rw || !bw) {
        free(arr);
        free(arack);
        free(rw);
        free(bw);
        return BK_ENOMEM;
    }
    for (int32_t p = 0; p < nparts; p++) {
        if (p > 0 && p % n == 0)
            shift++;
        int first = (int)((p + start_index) % n);
        int32_t *r = &out[(size_t)p * (size_t)rf];
        r[0] = arr[first];
        rw[0] = arack[first];
        bw[0] = arr[first];
        int nrw = 1, nbw = 1;
        int k = 0;
        for (int j = 1; j < rf; j++) {
            for (;;) {
                int ix = (first + 1 + (shift * nracks + k) % (n - 1)) % n;
                k++;
                bool rack_has = false, broker_has = false;
                for (int q = 0; q < nrw; q++)
                    rack_has |= strcmp(rw[q], arack[ix]) == 0;
                for (int q = 0; q < nbw; q++)
                    broker_has |= bw[q] == arr[ix];
                /* skip a rack that has a replica while another has none, and
                 * a broker that has one while another has none */
                if ((!rack_has || nrw == nracks) && (!broker_has || nbw == n)) {
                    r[j] = arr[ix];
                    if (!rack_has)
                        rw[nrw++] = arack[ix];
                    if (!broker_has)
                        bw[nbw++] = arr[ix];
                    break;
                }
            }
        }
    }
    free(arr);
    free(arack);
    free(rw);
    free(bw);
    return 0;
}

/* ------------------------------------------------------------- election */

cctx *bk_ctl_cctx_new(bk_controller *ctl)
{
    cctx *x = malloc(sizeof *x);
    if (x) {
        x->ctl = ctl;
        x->gen = ctl->gen;
    }
    return x;
}

static void elect(bk_controller *ctl);
static void on_elected(bk_controller *ctl);
static void deletes_refresh(bk_controller *ctl);
static void failover_all(bk_controller *ctl);

bk_controller *bk_controller_new(bk_cluster *c, bk_zk *zk, int32_t node_id)
{
    bk_controller *ctl = calloc(1, sizeof *ctl);
    if (!ctl)
        return NULL;
    ctl->c = c;
    ctl->zk = zk;
    ctl->node_id = node_id;
    ctl->controller_id = -1;
    return ctl;
}

void bk_controller_free(bk_controller *ctl)
{
    if (!ctl)
        return;
    bk_ctl_leaders_free(ctl);
    bk_ctl_reassign_free(ctl);
    free(ctl);
}

bool bk_controller_active(const bk_controller *ctl)
{
    return ctl->state == C_ACTIVE;
}

int32_t bk_controller_id(const bk_controller *ctl)
{
    return ctl->controller_id;
}

int32_t bk_controller_epoch(const bk_controller *ctl)
{
    return ctl->epoch;
}

void bk_controller_session_up(bk_controller *ctl)
{
    ctl->gen++;
    elect(ctl);
}

void bk_controller_session_lost(bk_controller *ctl)
{
    if (ctl->state == C_ACTIVE)
        bk_log(BK_LOG_WARN, "controller: session lost, resigning (epoch %d)", ctl->epoch);
    bool was = ctl->state == C_ACTIVE;
    ctl->gen++;
    ctl->state = C_IDLE;
    ctl->controller_id = -1;
    if (was) {
        bk_ctl_leaders_resigned(ctl);
        bk_ctl_reassign_resigned(ctl);
    }
}

static void controller_watch(bk_zk *zk, int type, const char *path, void *ud)
{
    cctx *x = ud;
    bk_controller *ctl = x->ctl;
    bool current = type != BK_ZK_WATCH_DROPPED && x->gen == ctl->gen;
    free(x);
    if (!current)
        return;
    if (type == ZOO_DELETED_EVENT) {
        bk_log(BK_LOG_INFO, "controller: /controller deleted (was broker %d); electing",
               ctl->controller_id);
        ctl->controller_id = -1;
    }
    /* deleted: run (again, if it was ours and someone removed it);
     * changed or created: re-read and re-arm the watch - elect() ends in
     * follow() when the node is somebody else's */
    elect(ctl);
}

static void controller_read(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    cctx *x = ud;
    bk_controller *ctl = x->ctl;
    bool current = x->gen == ctl->gen;
    free(x);
    if (!current)
        return;
    if (r->rc == ZNONODE) {
        elect(ctl); /* gone between our create and read: try again */
        return;
    }
    if (r->rc != ZOK) {
        bk_log(BK_LOG_WARN, "controller: cannot read /controller: %s", zerror(r->rc));
        return;
    }
    int32_t id;
    if (bk_zkj_controller_parse(r->data, (size_t)r->len, &id) != 0) {
        bk_log(BK_LOG_WARN, "controller: cannot parse /controller");
        return;
    }
    if (id == ctl->node_id && r->stat && r->stat->ephemeralOwner == bk_zk_session_id(zk)) {
        if (ctl->state != C_ACTIVE)
            on_elected(ctl);
        return;
    }
    if (ctl->controller_id != id)
        bk_log(BK_LOG_INFO, "controller: broker %d is the controller", id);
    ctl->controller_id = id;
    ctl->state = C_FOLLOWING;
}

/* Read /controller with a watch: follow whoever holds it. */
static void follow(bk_controller *ctl)
{
    cctx *x = bk_ctl_cctx_new(ctl), *w = bk_ctl_cctx_new(ctl);
    if (!x || !w) {
        free(x);
        free(w);
        return;
    }
    bk_zk_get(ctl->zk, "/controller", controller_watch, w, controller_read, x);
}

static void created(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    cctx *x = ud;
    bk_controller *ctl = x->ctl;
    bool current = x->gen == ctl->gen;
    free(x);
    if (!current)
        return;
    if (r->rc == ZOK || r->rc == ZNODEEXISTS) {
        follow(ctl); /* ours (then on_elected) or someone else's */
        return;
    }
    bk_log(BK_LOG_WARN, "controller: cannot create /controller: %s", zerror(r->rc));
    ctl->state = C_IDLE;
}

static void elect(bk_controller *ctl)
{
    ctl->state = C_ELECTING;
    bk_jw w;
    bk_jw_init(&w);
    bk_zkj_controller(&w, ctl->node_id, bk_wall_ms_raw());
    cctx *x = bk_ctl_cctx_new(ctl);
    if (!x || w.err) {
        free(x);
        bk_jw_fini(&w);
        return;
    }
    bk_zk_create(ctl->zk, "/controller", w.p, (int)w.len, ZOO_EPHEMERAL, created, x);
    bk_jw_fini(&w);
}

/* /controller_epoch: read, then bump with a version check. */
static void epoch_read(bk_zk *zk, const bk_zk_result *r, void *ud);

static void resign(bk_controller *ctl, const char *why)
{
    bk_log(BK_LOG_WARN, "controller: resigning: %s", why);
    if (ctl->state == C_ACTIVE) {
        bk_ctl_leaders_resigned(ctl);
        bk_ctl_reassign_resigned(ctl);
    }
    ctl->state = C_IDLE;
    ctl->controller_id = -1;
    bk_zk_delete(ctl->zk, "/controller", -1, NULL, NULL);
}

static void epoch_written(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    cctx *x = ud;
    bk_controller *ctl = x->ctl;
    bool current = x->gen == ctl->gen;
    free(x);
    if (!current)
        return;
    if (r->rc == ZBADVERSION || r->rc == ZNODEEXISTS) {
        /* another controller bumped it meanwhile: it won */
        resign(ctl, "the controller epoch moved under us");
        return;
    }
    if (r->rc != ZOK) {
        resign(ctl, zerror(r->rc));
        return;
    }
    ctl->state = C_ACTIVE;
    ctl->controller_id = ctl->node_id;
    bk_log(BK_LOG_INFO, "controller: broker %d is the controller, epoch %d", ctl->node_id,
           ctl->epoch);
    int n = bk_cluster_ntopics(ctl->c);
    for (int i = 0; i < n; i++) {
        const bk_zk_topic *a;
        const char *name = bk_cluster_topic_at(ctl->c, i, &a);
        if (a)
            bk_controller_on_topic(ctl, name, a);
    }
    deletes_refresh(ctl);
    failover_all(ctl); /* brokers may have died while nobody was controller */
    /* Kafka's controller enables feature versioning: /feature with no
     * finalized features, status 1 (enabled). Left alone if present. */
    static const char feature[] = "{\"features\":{},\"version\":2,\"status\":1}";
    bk_zk_create(ctl->zk, "/feature", feature, (int)sizeof feature - 1, 0, NULL, NULL);
    bk_ctl_leaders_elected(ctl);
    bk_ctl_reassign_elected(ctl);
}

static void epoch_read(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    cctx *x = ud;
    bk_controller *ctl = x->ctl;
    if (x->gen != ctl->gen) {
        free(x);
        return;
    }
    char buf[32];
    if (r->rc == ZNONODE) {
        ctl->epoch = 1;
        bk_zk_create(zk, "/controller_epoch", "1", 1, 0, epoch_written, x);
        return;
    }
    if (r->rc != ZOK || !r->stat) {
        free(x);
        resign(ctl, zerror(r->rc));
        return;
    }
    long long e = r->data ? strtoll(r->data, NULL, 10) : 0;
    ctl->epoch = (int32_t)(e + 1);
    int n = snprintf(buf, sizeof buf, "%d", ctl->epoch);
    bk_zk_set(zk, "/controller_epoch", buf, n, r->stat->version, epoch_written, x);
}

static void on_elected(bk_controller *ctl)
{
    cctx *x = bk_ctl_cctx_new(ctl);
    if (!x)
        return;
    ctl->controller_id = ctl->node_id;
    bk_zk_get(ctl->zk, "/controller_epoch", NULL, NULL, epoch_read, x);
}

/* ------------------------------------------------------------- topic deletion
 *
 * DeleteTopics on any broker creates /admin/delete_topics/<t> (Kafka's
 * flow). The controller watches that path and removes the topic's znodes,
 * children first, the marker last; one session's requests apply in order,
 * so they are issued back to back. Brokers drop the topic when it leaves
 * /brokers/topics. (Kafka first stops the replicas with StopReplica; that
 * comes with replication.) */

static void deletes_watch(bk_zk *zk, int type, const char *path, void *ud);

static void delete_logged(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    char *path = ud;
    if (r->rc != ZOK && r->rc != ZNONODE)
        bk_log(BK_LOG_WARN, "controller: cannot delete %s: %s", path, zerror(r->rc));
    free(path);
}

static void zdel(bk_controller *ctl, const char *path)
{
    char *p = strdup(path);
    if (p)
        bk_zk_delete(ctl->zk, path, -1, delete_logged, p);
}

static void delete_topic(bk_controller *ctl, const char *name)
{
    char path[512];
    const bk_zk_topic *a = bk_cluster_assignment(ctl->c, name);
    int32_t nparts = a ? a->nparts : 0;
    for (int32_t p = 0; p < nparts; p++) {
        snprintf(path, sizeof path, "/brokers/topics/%s/partitions/%d/state", name, p);
        zdel(ctl, path);
        snprintf(path, sizeof path, "/brokers/topics/%s/partitions/%d", name, p);
        zdel(ctl, path);
    }
    snprintf(path, sizeof path, "/brokers/topics/%s/partitions", name);
    zdel(ctl, path);
    snprintf(path, sizeof path, "/brokers/topics/%s", name);
    zdel(ctl, path);
    snprintf(path, sizeof path, "/config/topics/%s", name);
    zdel(ctl, path);
    snprintf(path, sizeof path, "/admin/delete_topics/%s", name);
    zdel(ctl, path);
    bk_log(BK_LOG_INFO, "controller: deleted topic %s", name);
}

static void deletes_listed(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    cctx *x = ud;
    bk_controller *ctl = x->ctl;
    bool current = x->gen == ctl->gen && ctl->state == C_ACTIVE;
    free(x);
    if (!current || r->rc != ZOK)
        return;
    for (int i = 0; i < r->nkids; i++)
        delete_topic(ctl, r->kids[i]);
}

static void deletes_refresh(bk_controller *ctl)
{
    cctx *x = bk_ctl_cctx_new(ctl), *w = bk_ctl_cctx_new(ctl);
    if (!x || !w) {
        free(x);
        free(w);
        return;
    }
    bk_zk_children(ctl->zk, "/admin/delete_topics", deletes_watch, w, deletes_listed, x);
}

static void deletes_watch(bk_zk *zk, int type, const char *path, void *ud)
{
    cctx *w = ud;
    bk_controller *ctl = w->ctl;
    bool current = type != BK_ZK_WATCH_DROPPED && w->gen == ctl->gen && ctl->state == C_ACTIVE;
    free(w);
    if (current)
        deletes_refresh(ctl);
}

/* ------------------------------------------------------------- new topics */

static void state_created(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    char *path = ud;
    if (r->rc == ZOK)
        bk_log(BK_LOG_DEBUG, "controller: created %s", path);
    else if (r->rc != ZNODEEXISTS)
        bk_log(BK_LOG_WARN, "controller: cannot create %s: %s", path, zerror(r->rc));
    free(path);
}

void bk_controller_on_topic(bk_controller *ctl, const char *name, const bk_zk_topic *a)
{
    if (ctl->state != C_ACTIVE)
        return;
    bk_ctl_reassign_topic(ctl, name, a);
    int nb;
    const bk_zk_broker *live = bk_cluster_brokers(ctl->c, &nb);
    char path[512];
    /* One session's requests are applied in order: parents before
     * children, no need to wait between them. Existing nodes answer
     * NODEEXISTS and are left as they are. */
    snprintf(path, sizeof path, "/brokers/topics/%s/partitions", name);
    bk_zk_create(ctl->zk, path, NULL, -1, 0, NULL, NULL);
    for (int32_t p = 0; p < a->nparts; p++) {
        snprintf(path, sizeof path, "/brokers/topics/%s/partitions/%d", name, p);
        bk_zk_create(ctl->zk, path, NULL, -1, 0, NULL, NULL);
        bk_zk_pstate st = {.leader = -1, .leader_epoch = 0, .controller_epoch = ctl->epoch};
        for (int r = 0; r < a->rf && st.nisr < 64; r++) {
            int32_t id = a->replicas[(size_t)p * (size_t)a->rf + (size_t)r];
            bool up = false;
            for (int k = 0; k < nb && !up; k++)
                up = live[k].id == id;
            if (!up)
                continue;
            if (st.leader < 0)
                st.leader = id;
            st.isr[st.nisr++] = id;
        }
        if (st.leader < 0) /* no live replica: Kafka leaves it offline with the last ISR */
            for (int r = 0; r < a->rf && st.nisr < 64; r++)
                st.isr[st.nisr++] = a->replicas[(size_t)p * (size_t)a->rf + (size_t)r];
        bk_jw w;
        bk_jw_init(&w);
        bk_zkj_pstate(&w, &st);
        snprintf(path, sizeof path, "/brokers/topics/%s/partitions/%d/state", name, p);
        char *ud = strdup(path);
        if (!w.err && ud)
            bk_zk_create(ctl->zk, path, w.p, (int)w.len, 0, state_created, ud);
        else
            free(ud);
        bk_jw_fini(&w);
    }
}

/* ------------------------------------------------------------- failover
 *
 * On every change of the live broker set, and on becoming controller,
 * every partition state is read and checked against the live brokers
 * (Kafka's onBrokerFailure / OfflinePartition -> OnlinePartition and
 * OfflineReplica, ZooKeeper mode):
 *   - leader not live: the new leader is the first replica of the
 *     assignment that is live and in the ISR, one not in controlled
 *     shutdown first (none -> leader -1, the partition is offline, unless
 *     the topic's unclean.leader.election.enable lets the first live
 *     replica lead with the ISR just it); ISR = old ISR minus the dead
 *     brokers (when nothing is left, the old ISR stays, as Kafka keeps the
 *     last member so that it can be elected when it returns); the strategy
 *     is bk_elect_offline (ctl_leaders.c);
 *   - leader live but a dead broker in the ISR: it leaves the ISR;
 *   - either way the leader epoch is bumped (Kafka's controller bumps it on
 *     every state it writes) and the znode is written with its version;
 *     a conflict (the leader changed the ISR meanwhile) re-reads and tries
 *     again. The brokers learn the new state from their state watches. */

typedef struct fctx {
    bk_controller *ctl;
    int gen;
    int tries;
    int32_t partition;
    char name[256];
} fctx;

static void fo_read(bk_controller *ctl, const char *name, int32_t p, int tries);

bool bk_ctl_is_live(const bk_zk_broker *live, int n, int32_t id)
{
    for (int i = 0; i < n; i++)
        if (live[i].id == id)
            return true;
    return false;
}

static void fo_written(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    fctx *x = ud;
    bk_controller *ctl = x->ctl;
    bool current = x->gen == ctl->gen && ctl->state == C_ACTIVE;
    if (current && r->rc == ZBADVERSION && x->tries < 10)
        fo_read(ctl, x->name, x->partition, x->tries + 1);
    else if (current && r->rc != ZOK)
        bk_log(BK_LOG_WARN, "controller: cannot write the state of %s-%d: %s", x->name,
               x->partition, zerror(r->rc));
    free(x);
}

static void fo_got(bk_zk *zk, const bk_zk_result *r, void *ud)
{
    fctx *x = ud;
    bk_controller *ctl = x->ctl;
    const bk_zk_topic *a = NULL;
    bk_zk_pstate st;
    if (x->gen != ctl->gen || ctl->state != C_ACTIVE || r->rc != ZOK || !r->stat ||
        !(a = bk_cluster_assignment(ctl->c, x->name)) || x->partition >= a->nparts ||
        bk_zkj_pstate_parse(r->data, (size_t)r->len, &st) != 0) {
        free(x);
        return;
    }
    int nb, nsh;
    const bk_zk_broker *live = bk_cluster_brokers(ctl->c, &nb);
    int32_t *ids = malloc(((size_t)nb + 1) * sizeof *ids);
    if (!ids) {
        free(x);
        return;
    }
    for (int i = 0; i < nb; i++)
        ids[i] = live[i].id;
    /* unclean.leader.election.enable: the topic's (its configs are mirrored
     * into the registry), else the broker default */
    bk_topic *t = ctl->c->topics ? bk_topics_get(ctl->c->topics, x->name, strlen(x->name)) : NULL;
    bool unclean = t ? t->cfg.unclean_leader_election : ctl->c->cfg->unclean_leader_election_enable;
    bk_elect_in in = {.replicas = a->replicas + (size_t)x->partition * (size_t)a->rf,
                      .nreplicas = a->rf,
                      .live = ids,
                      .nlive = nb,
                      .shutting = bk_controller_shutting(ctl, &nsh)};
    in.nshutting = nsh;
    bk_zk_pstate ns;
    bool changed = bk_elect_offline(&in, unclean, &st, &ns);
    bk_zk_pstate clean;
    bool was_unclean =
        unclean && ns.leader >= 0 && (bk_elect_offline(&in, false, &st, &clean), clean.leader < 0);
    free(ids);
    if (!changed) {
        free(x); /* nothing to do (offline and still offline, or all live) */
        return;
    }
    ns.leader_epoch = st.leader_epoch + 1;
    ns.controller_epoch = ctl->epoch;
    if (was_unclean)
        bk_metrics_g.unclean_elections++; /* UncleanLeaderElectionsPerSec */
    bk_log(BK_LOG_INFO,
           "controller: %s-%d: leader %d -> %d, leader epoch %d, ISR %d -> %d "
           "replicas%s",
           x->name, x->partition, st.leader, ns.leader, ns.leader_epoch, st.nisr, ns.nisr,
           ns.leader < 0 ? " (offline: no live replica in the ISR)"
           : was_unclean ? " (unclean election: unclean.leader.election.enable)"
                         : "");
    bk_jw w;
    bk_jw_init(&w);
    bk_zkj_pstate(&w, &ns);
    char path[400];
    snprintf(path, sizeof path, "/brokers/topics/%s/partitions/%d/state", x->name, x->partition);
    if (w.err) {
        free(x);
    } else {
        bk_zk_set(ctl->zk, path, w.p, (int)w.len, r->stat->version, fo_written, x);
    }
    bk_jw_fini(&w);
}

static void fo_read(bk_controller *ctl, const char *name, int32_t p, int tries)
{
    fctx *x = calloc(1, sizeof *x);
    if (!x)
        return;
    x->ctl = ctl;
    x->gen = ctl->gen;
    x->tries = tries;
    x->partition = p;
    snprintf(x->name, sizeof x->name, "%s", name);
    char path[400];
    snprintf(path, sizeof path, "/brokers/topics/%s/partitions/%d/state", name, p);
    bk_zk_get(ctl->zk, path, NULL, NULL, fo_got, x);
}

static void failover_all(bk_controller *ctl)
{
    int nb;
    (void)bk_cluster_brokers(ctl->c, &nb);
    if (nb == 0)
        return; /* not read yet (we are registered ourselves) */
    int n = bk_cluster_ntopics(ctl->c);
    for (int i = 0; i < n; i++) {
        const bk_zk_topic *a;
        const char *name = bk_cluster_topic_at(ctl->c, i, &a);
        for (int32_t p = 0; a && p < a->nparts; p++)
            fo_read(ctl, name, p, 0);
    }
}

void bk_controller_on_brokers(bk_controller *ctl)
{
    if (ctl->state != C_ACTIVE)
        return;
    int n;
    (void)bk_cluster_brokers(ctl->c, &n);
    bk_log(BK_LOG_INFO, "controller: %d live brokers; checking partition leaders", n);
    failover_all(ctl);
    bk_ctl_leaders_brokers(ctl);
    bk_ctl_reassign_brokers(ctl);
}
