/* replica.c - leader/follower transitions, HW and ISR. See replica.h. */
#include "replica.h"

#include "../cluster/cluster.h"
#include "../cluster/partition.h"
#include "../core/clock.h"
#include "../core/log.h"
#include "../core/metrics.h"
#include "../group/coord.h"
#include "../txn/tcoord.h"
#include "../proto/records.h"
#include "fetcher.h"
#include "leader_epoch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Without ZooKeeper the leader's ISR change is accepted and applied
 * locally (the "controller" - a test - learns it from Metadata). */
static int default_isr_change(void *ud, const char *topic, int32_t partition, int32_t leader,
                              int32_t leader_epoch, int32_t controller_epoch, const int32_t *isr,
                              int32_t nisr, int32_t partition_epoch, int32_t *new_partition_epoch)
{
    *new_partition_epoch = partition_epoch + 1;
    return 0;
}

int bk_replica_init(bk_broker *b)
{
    if (!b->isr_change)
        b->isr_change = default_isr_change;
    if (b->cluster && !b->fetcher && b->ev) {
        b->fetcher = bk_fetcher_new(b);
        if (!b->fetcher)
            return BK_ENOMEM;
    }
    return 0;
}

void bk_replica_fini(bk_broker *b)
{
    bk_fetcher_free(b->fetcher);
    b->fetcher = NULL;
    free(b->live);
    b->live = NULL;
    b->nlive = 0;
}

int16_t bk_replica_check_controller(bk_broker *b, int32_t controller_id, int32_t controller_epoch,
                                    int64_t broker_epoch)
{
    if (controller_epoch < b->controller_epoch)
        return BK_KERR_STALE_CONTROLLER_EPOCH;
    if (b->broker_epoch >= 0 && broker_epoch >= 0 && broker_epoch != b->broker_epoch)
        return BK_KERR_STALE_BROKER_EPOCH;
    b->controller_epoch = controller_epoch;
    b->controller_id = controller_id;
    return BK_KERR_NONE;
}

/* ------------------------------------------------------------ live brokers */

int bk_broker_set_live(bk_broker *b, const bk_live_broker *v, int n)
{
    bk_live_broker *nv = NULL;
    if (n > 0) {
        nv = malloc((size_t)n * sizeof *nv);
        if (!nv)
            return BK_ENOMEM;
        memcpy(nv, v, (size_t)n * sizeof *nv);
    }
    free(b->live);
    b->live = nv;
    b->nlive = n;
    return 0;
}

int bk_broker_upsert_live(bk_broker *b, const bk_live_broker *lb)
{
    for (int i = 0; i < b->nlive; i++)
        if (b->live[i].id == lb->id) {
            b->live[i] = *lb;
            return 0;
        }
    bk_live_broker *nv = realloc(b->live, (size_t)(b->nlive + 1) * sizeof *nv);
    if (!nv)
        return BK_ENOMEM;
    b->live = nv;
    b->live[b->nlive++] = *lb;
    return 0;
}

const bk_live_broker *bk_broker_live_find(const bk_broker *b, int32_t id)
{
    for (int i = 0; i < b->nlive; i++)
        if (b->live[i].id == id)
            return &b->live[i];
    return NULL;
}

/* ------------------------------------------------------------ state */

static int set_state(bk_partition *p, const bk_part_state *st)
{
    if (bk_ids_set(&p->replicas, &p->nreplicas, st->replicas, st->nreplicas) ||
        bk_ids_set(&p->isr, &p->nisr, st->isr, st->nisr) ||
        bk_ids_set(&p->adding, &p->nadding, st->adding, st->nadding) ||
        bk_ids_set(&p->removing, &p->nremoving, st->removing, st->nremoving))
        return BK_ENOMEM;
    p->leader = st->leader;
    p->leader_epoch = st->leader_epoch;
    p->partition_epoch = st->partition_epoch;
    p->controller_epoch = st->controller_epoch;
    return 0;
}

static void wake(bk_broker *b, bk_partition *p, unsigned what, uint64_t n)
{
    if (b->started)
        bk_purgatory_notify(&b->purg, p, what, n);
}

bool bk_replica_maybe_advance_hw(bk_broker *b, bk_partition *p)
{
    bk_plog *l = p->log;
    if (!l || p->leader != b->node_id)
        return false;
    int64_t leo = bk_plog_leo(l);
    int64_t hw = bk_part_hw_candidate(p, b->node_id, leo);
    if (hw <= l->hw)
        return false;
    int64_t old = l->hw;
    l->hw = hw;
    wake(b, p, BK_WAKE_HW, (uint64_t)(hw - old));
    return true;
}

void bk_replica_appended(bk_broker *b, bk_partition *p)
{
    (void)bk_replica_maybe_advance_hw(b, p);
}

static void apply_isr(bk_broker *b, bk_partition *p, const int32_t *isr, int32_t nisr,
                      int32_t new_epoch)
{
    char buf[256];
    int o = 0;
    for (int32_t i = 0; i < nisr && o < (int)sizeof buf - 16; i++)
        o += snprintf(buf + o, sizeof buf - (size_t)o, "%s%d", i ? "," : "", isr[i]);
    buf[o] = 0;
    bk_log(BK_LOG_INFO, "%s-%d: ISR now [%s] (partition epoch %d)", p->topic->name, p->index, buf,
           new_epoch);
    /* IsrShrinksPerSec / IsrExpandsPerSec (core/metrics.h) */
    if (nisr < p->nisr)
        bk_metrics_g.isr_shrinks++;
    else if (nisr > p->nisr)
        bk_metrics_g.isr_expands++;
    if (bk_ids_set(&p->isr, &p->nisr, isr, nisr) != 0)
        return;
    p->partition_epoch = new_epoch;
    (void)bk_replica_maybe_advance_hw(b, p);
    /* acks=all waiters re-check min.insync.replicas */
    wake(b, p, BK_WAKE_HW, 0);
}

static void change_isr(bk_broker *b, bk_partition *p, const int32_t *isr, int32_t nisr)
{
    if (p->isr_pending)
        return;
    int32_t ne = p->partition_epoch;
    int rc = b->isr_change(b->isr_change_ud, p->topic->name, p->index, p->leader, p->leader_epoch,
                           p->controller_epoch, isr, nisr, p->partition_epoch, &ne);
    if (rc == BK_EAGAIN) {
        p->isr_pending = true;
        return;
    }
    if (rc != 0) {
        bk_log_rl(BK_LOG_WARN, "%s-%d: ISR change refused (%d); waiting for the controller",
                  p->topic->name, p->index, rc);
        return;
    }
    apply_isr(b, p, isr, nisr, ne);
}

void bk_replica_isr_done(bk_broker *b, const char *topic, int32_t partition, int rc,
                         const int32_t *isr, int32_t nisr, int32_t new_partition_epoch)
{
    bk_partition *p = b->topics ? bk_topics_partition(b->topics, topic, strlen(topic), partition)
                                : NULL;
    if (!p)
        return;
    p->isr_pending = false;
    if (rc == 0 && p->leader == b->node_id)
        apply_isr(b, p, isr, nisr, new_partition_epoch);
}

/* Start offset of the current leader epoch (for ISR expansion). */
static int64_t epoch_start(const bk_partition *p)
{
    for (int32_t i = p->nepochs - 1; i >= 0; i--)
        if (p->epochs[i].epoch == p->leader_epoch)
            return p->epochs[i].start_offset;
    return 0;
}

void bk_replica_on_fetch(bk_broker *b, bk_partition *p, int32_t replica_id, int64_t fetch_offset)
{
    bk_plog *l = p->log;
    if (!b->cluster || !l || p->leader != b->node_id)
        return;
    int64_t leo = bk_plog_leo(l);
    if (!bk_part_follower_fetched(p, replica_id, fetch_offset, leo, bk_wall_ms()))
        return;
    if (bk_part_isr_eligible(p, replica_id, l->hw, epoch_start(p)) && !p->isr_pending) {
        int32_t *nv = malloc((size_t)(p->nisr + 1) * sizeof *nv);
        if (nv) {
            memcpy(nv, p->isr, (size_t)p->nisr * sizeof *nv);
            nv[p->nisr] = replica_id;
            change_isr(b, p, nv, p->nisr + 1);
            free(nv);
        }
    }
    (void)bk_replica_maybe_advance_hw(b, p);
}

static void shrink_all(bk_broker *b, int64_t now)
{
    for (int32_t i = 0; i < bk_topics_count(b->topics); i++) {
        bk_topic *tp = bk_topics_at(b->topics, i);
        for (int32_t k = 0; k < tp->nparts; k++) {
            bk_partition *p = &tp->parts[k];
            if (!p->log || p->leader != b->node_id || p->nisr <= 1 || p->isr_pending)
                continue;
            int32_t *nv = malloc((size_t)p->nisr * sizeof *nv);
            if (!nv)
                continue;
            int32_t n = bk_part_isr_after_shrink(p, b->node_id, now,
                                                 b->cfg->replica_lag_time_max_ms, nv);
            if (n < p->nisr) {
                bk_log(BK_LOG_INFO, "%s-%d: shrinking the ISR from %d to %d replicas", tp->name,
                       p->index, p->nisr, n);
                change_isr(b, p, nv, n);
            }
            free(nv);
        }
    }
}

/* The fence ends (bk_cluster_confirm_session): the pause was ours, not
 * the followers' - restart their lag clocks instead of shrinking the ISR
 * for fetches we did not serve. */
static void unfence(void *ud)
{
    bk_broker *b = ud;
    b->lead_fenced = false;
    b->tick_session = b->zkc ? bk_cluster_session_id(b->zkc) : 0;
    int64_t now = bk_wall_ms();
    for (int32_t i = 0; b->topics && i < bk_topics_count(b->topics); i++) {
        bk_topic *tp = bk_topics_at(b->topics, i);
        for (int32_t k = 0; k < tp->nparts; k++) {
            bk_partition *p = &tp->parts[k];
            if (p->leader != b->node_id)
                continue;
            for (int32_t r = 0; r < p->nrstate; r++)
                if (bk_ids_has(p->isr, p->nisr, p->rstate[r].id))
                    p->rstate[r].last_caught_up_ms = p->rstate[r].last_fetch_ms = now;
        }
    }
    bk_log(BK_LOG_INFO, "leadership fence lifted");
}

/* The session expired (cluster.c, as soon as the client learns it): every
 * leadership is stale until the new session has read the states. */
static void session_lost(void *ud)
{
    bk_broker *b = ud;
    if (b->lead_fenced)
        return;
    b->lead_fenced = true;
    bk_log(BK_LOG_WARN, "ZooKeeper session 0x%llx expired: leading nothing until the new session "
           "has read the partition states", (unsigned long long)b->tick_session);
    bk_cluster_confirm_session(b->zkc, b->tick_session, unfence, b);
}

/* Fencing (replica.h): a gap between ticks longer than freeze_ms (a
 * freeze), or a ZooKeeper session that is no longer the one of the last
 * tick (it expired: a partitioned broker learns it when it reconnects),
 * fences every leadership until ZooKeeper confirms the view. */
static void check_freeze(bk_broker *b, int64_t now_ms)
{
    if (!b->zkc)
        return;
    if (b->freeze_ms == 0) {
        b->freeze_ms = BK_MAX(b->cfg->zookeeper_session_timeout_ms / 2, 1000);
        b->zkc->on_session_lost = session_lost;
        b->zkc->session_lost_ud = b;
    }
    int64_t gap = b->last_tick_ms > 0 ? now_ms - b->last_tick_ms : 0;
    b->last_tick_ms = now_ms;
    int64_t sid = bk_cluster_session_id(b->zkc);
    bool changed = b->tick_session != 0 && sid != b->tick_session;
    if ((gap > b->freeze_ms || changed) && !b->lead_fenced) {
        b->lead_fenced = true;
        if (gap > b->freeze_ms)
            bk_log(BK_LOG_WARN, "the broker did not run for %lld ms (frozen?): leading nothing "
                   "until ZooKeeper confirms the session and the partition states",
                   (long long)gap);
        else
            bk_log(BK_LOG_WARN, "ZooKeeper session 0x%llx is gone: leading nothing until the new "
                   "session has read the partition states",
                   (unsigned long long)b->tick_session);
        bk_cluster_confirm_session(b->zkc, b->tick_session, unfence, b);
    }
    if (!b->lead_fenced)
        b->tick_session = sid;
}

void bk_replica_tick(bk_broker *b, int64_t now_ms)
{
    if (!b->cluster || !b->topics)
        return;
    check_freeze(b, now_ms);
    if (b->fetcher)
        bk_fetcher_tick(b->fetcher, now_ms);
    if (b->lead_fenced)
        return; /* no ISR shrink on the word of a stale view */
    if (now_ms < b->next_isr_check_ms)
        return;
    int64_t every = BK_MAX(BK_MIN(b->cfg->replica_lag_time_max_ms / 2, 1000), 50);
    b->next_isr_check_ms = now_ms + every;
    shrink_all(b, bk_wall_ms());
}

/* ------------------------------------------------------------ transitions */

static void make_leader(bk_broker *b, bk_partition *p, bool new_epoch)
{
    bk_plog *l = p->log;
    if (b->fetcher)
        bk_fetcher_remove(b->fetcher, p);
    int64_t leo = bk_plog_leo(l);
    if (new_epoch || !p->rstate) {
        /* Kafka's makeLeader: the new epoch starts at our LEO */
        if (bk_partition_assign_epoch(p, p->leader_epoch, leo))
            (void)bk_partition_write_epochs(p);
        (void)bk_part_reset_followers(p, b->node_id, leo, bk_wall_ms());
        bk_log(BK_LOG_INFO, "%s-%d: leader at epoch %d (LEO %lld, HW %lld)", p->topic->name,
               p->index, p->leader_epoch, (long long)leo, (long long)l->hw);
    } else {
        /* same epoch: replicas may have changed, keep known LEOs */
        bk_replica_state *old = p->rstate;
        int32_t nold = p->nrstate;
        p->rstate = NULL;
        (void)bk_part_reset_followers(p, b->node_id, leo, bk_wall_ms());
        for (int32_t i = 0; i < p->nrstate; i++)
            for (int32_t k = 0; k < nold; k++)
                if (old[k].id == p->rstate[i].id)
                    p->rstate[i] = old[k];
        free(old);
    }
    (void)bk_replica_maybe_advance_hw(b, p);
}

static void make_follower(bk_broker *b, bk_partition *p, bool restart)
{
    bk_plog *l = p->log;
    free(p->rstate);
    p->rstate = NULL;
    p->nrstate = 0;
    if (l->hw > bk_plog_leo(l))
        l->hw = bk_plog_leo(l);
    /* produces waiting for the HW as leader now fail */
    wake(b, p, BK_WAKE_HW | BK_WAKE_DATA, 1);
    if (!restart || !b->fetcher)
        return;
    if (p->leader >= 0) {
        bk_log(BK_LOG_INFO, "%s-%d: follower of %d at epoch %d (LEO %lld)", p->topic->name,
               p->index, p->leader, p->leader_epoch, (long long)bk_plog_leo(l));
        (void)bk_fetcher_add(b->fetcher, p, p->leader, p->leader_epoch);
    } else {
        bk_fetcher_remove(b->fetcher, p);
    }
}

int16_t bk_group_coord_check(bk_broker *b, const char *group, size_t glen)
{
    if (!b->cluster || !b->coord || !b->topics)
        return BK_KERR_NONE;
    bk_partition *p = bk_topics_partition(b->topics, BK_OFFSETS_TOPIC, strlen(BK_OFFSETS_TOPIC),
                                          bk_coord_partition_for(b->coord, group, glen));
    if (!p || bk_leader_check(b, p) != BK_KERR_NONE)
        return BK_KERR_NOT_COORDINATOR;
    return BK_KERR_NONE;
}

int16_t bk_txn_coord_check(bk_broker *b, const char *txn_id, size_t len)
{
    if (!b->cluster || !b->tcoord || !b->topics || !txn_id || len == 0)
        return BK_KERR_NONE;
    bk_topic *tp = bk_topics_get(b->topics, BK_TXN_TOPIC, strlen(BK_TXN_TOPIC));
    if (!tp || tp->nparts <= 0)
        return BK_KERR_NOT_COORDINATOR;
    bk_partition *p = &tp->parts[bk_group_partition(txn_id, len, tp->nparts)];
    if (bk_leader_check(b, p) != BK_KERR_NONE)
        return BK_KERR_NOT_COORDINATOR;
    return BK_KERR_NONE;
}

/* The coordinators follow the leadership of their internal partitions
 * (Kafka's onLeadershipChange): becoming leader (or a new leader epoch)
 * loads the partition's state from the log, ceasing to lead unloads it. */
static void coord_move(bk_broker *b, bk_partition *p, bool was_leader, bool is_leader,
                       bool reload)
{
    if (!b->cluster || !p->topic)
        return;
    if (strcmp(p->topic->name, BK_OFFSETS_TOPIC) == 0 && b->coord) {
        if (is_leader && (reload || !was_leader)) {
            if (bk_coord_load_partition(b->coord, p->index) != 0)
                bk_log(BK_LOG_ERROR, "%s-%d: loading the groups failed", BK_OFFSETS_TOPIC,
                       p->index);
        } else if (!is_leader && was_leader) {
            (void)bk_coord_unload_partition(b->coord, p->index);
        }
    }
    if (strcmp(p->topic->name, BK_TXN_TOPIC) == 0 && b->tcoord) {
        if (is_leader && (reload || !was_leader)) {
            if (bk_tcoord_load_partition(b->tcoord, p->index) != 0)
                bk_log(BK_LOG_ERROR, "%s-%d: loading the transactional ids failed", BK_TXN_TOPIC,
                       p->index);
        } else if (!is_leader && was_leader) {
            (void)bk_tcoord_unload_partition(b->tcoord, p->index);
        }
    }
}

int16_t bk_replica_leader_and_isr(bk_broker *b, const char *topic, size_t len,
                                  const bk_uuid *topic_id, int32_t partition,
                                  const bk_part_state *st)
{
    if (!b->topics)
        return BK_KERR_KAFKA_STORAGE_ERROR;
    if (partition < 0 || partition > 100000)
        return BK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    bk_topic *tp;
    int r = bk_topics_ensure(b->topics, topic, len, topic_id, partition + 1, &tp);
    if (r == BK_EEXIST)
        return BK_KERR_INCONSISTENT_TOPIC_ID;
    if (r == BK_EINVAL)
        return BK_KERR_INVALID_TOPIC_EXCEPTION;
    if (r)
        return BK_KERR_KAFKA_STORAGE_ERROR;
    bk_partition *p = &tp->parts[partition];
    /* Kafka: a request epoch below ours is stale; equal is applied (ISR
     * and replica changes at the same epoch). */
    if (p->hosted && st->leader_epoch >= 0 && st->leader_epoch < p->leader_epoch) {
        bk_log_rl(BK_LOG_INFO, "%s-%d: ignoring LeaderAndIsr at epoch %d (current %d)", tp->name,
                  partition, st->leader_epoch, p->leader_epoch);
        return BK_KERR_STALE_CONTROLLER_EPOCH;
    }
    if (!bk_ids_has(st->replicas, st->nreplicas, b->node_id))
        return BK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    bool was_hosted = p->hosted;
    int32_t old_leader = p->leader, old_epoch = p->leader_epoch, old_nisr = p->nisr;
    if ((r = bk_topics_host(b->topics, p)) != 0) {
        bk_log(BK_LOG_ERROR, "%s-%d: cannot open the log: %s", tp->name, partition,
               bk_strerror(r));
        return BK_KERR_KAFKA_STORAGE_ERROR;
    }
    if (set_state(p, st) != 0)
        return BK_KERR_KAFKA_STORAGE_ERROR;
    p->isr_pending = false;
    bool new_epoch = !was_hosted || st->leader_epoch != old_epoch;
    /* IsrShrinks/IsrExpands of a partition we keep leading whose ISR the
     * controller changed (a dead broker removed); our own changes were
     * counted in apply_isr and come back here unchanged. */
    if (was_hosted && old_leader == b->node_id && st->leader == b->node_id) {
        if (st->nisr < old_nisr)
            bk_metrics_g.isr_shrinks++;
        else if (st->nisr > old_nisr)
            bk_metrics_g.isr_expands++;
    }
    if (st->leader == b->node_id)
        make_leader(b, p, new_epoch || old_leader != b->node_id);
    else
        make_follower(b, p, new_epoch || old_leader != st->leader || !was_hosted);
    coord_move(b, p, was_hosted && old_leader == b->node_id, st->leader == b->node_id, new_epoch);
    return BK_KERR_NONE;
}

void bk_replica_update_metadata(bk_broker *b, const char *topic, size_t len,
                                const bk_uuid *topic_id, int32_t partition,
                                const bk_part_state *st)
{
    if (!b->topics || partition < 0 || partition > 100000)
        return;
    if (st->leader == BK_LEADER_DURING_DELETE) {
        bk_topic *tp = bk_topics_get(b->topics, topic, len);
        if (!tp)
            return;
        bool any = false;
        for (int32_t i = 0; i < tp->nparts; i++)
            any |= tp->parts[i].log != NULL;
        if (!any)
            (void)bk_topics_delete(b->topics, tp);
        return;
    }
    bk_topic *tp;
    if (bk_topics_ensure(b->topics, topic, len, topic_id, partition + 1, &tp) != 0)
        return;
    bk_partition *p = &tp->parts[partition];
    (void)bk_ids_set(&p->offline, &p->noffline, st->offline, st->noffline);
    if (p->hosted) {
        /* hosted: LeaderAndIsr owns the state; take newer ISR news only */
        if (st->leader_epoch < p->leader_epoch ||
            (st->leader_epoch == p->leader_epoch && st->partition_epoch <= p->partition_epoch) ||
            p->leader == b->node_id)
            return;
    }
    if (!p->hosted && st->leader_epoch < p->leader_epoch)
        return;
    bk_part_state s = *st;
    s.adding = p->adding;
    s.nadding = p->nadding;
    s.removing = p->removing;
    s.nremoving = p->nremoving;
    if (p->hosted && st->leader_epoch != p->leader_epoch)
        return; /* leadership changes come with LeaderAndIsr */
    (void)set_state(p, &s);
}

int16_t bk_replica_stop(bk_broker *b, const char *topic, size_t len, int32_t partition,
                        int32_t leader_epoch, bool del)
{
    bk_partition *p = b->topics ? bk_topics_partition(b->topics, topic, len, partition) : NULL;
    if (!p)
        return BK_KERR_NONE; /* Kafka: nothing to stop is fine */
    if (leader_epoch >= 0 && leader_epoch < p->leader_epoch)
        return BK_KERR_FENCED_LEADER_EPOCH;
    if (b->fetcher)
        bk_fetcher_remove(b->fetcher, p);
    wake(b, p, BK_WAKE_HW | BK_WAKE_DATA, 1);
    bool was_leader = p->leader == b->node_id;
    if (was_leader)
        p->leader = -1;
    coord_move(b, p, was_leader, false, false);
    bk_topics_unhost(b->topics, p, del);
    bk_log(BK_LOG_INFO, "%s-%d: replica stopped%s", p->topic->name, p->index,
           del ? " and deleted" : "");
    return BK_KERR_NONE;
}

/* ------------------------------------------------------------ follower log */

int bk_replica_truncate(bk_broker *b, bk_partition *p, int64_t offset)
{
    bk_plog *l = p->log;
    if (!l)
        return BK_ENOENT;
    int64_t leo = bk_plog_leo(l);
    if (offset >= leo)
        return 0;
    if (offset < l->log_start) {
        int r = bk_plog_truncate_fully(l, offset, bk_wall_ms());
        if (r)
            return r;
    } else {
        int r = bk_plog_truncate_to(l, offset);
        if (r)
            return r;
    }
    bk_log(BK_LOG_INFO, "%s-%d: truncated from %lld to %lld", p->topic->name, p->index,
           (long long)leo, (long long)offset);
    if (bk_partition_truncate_epochs(p, offset))
        (void)bk_partition_write_epochs(p);
    if (l->hw > bk_plog_leo(l))
        l->hw = bk_plog_leo(l);
    return 0;
}

int bk_replica_append_as_follower(bk_broker *b, bk_partition *p, const uint8_t *data, size_t len,
                                  size_t *appended)
{
    bk_plog *l = p->log;
    *appended = 0;
    if (!l || l->offline)
        return BK_EIO;
    int64_t leo = bk_plog_leo(l);
    size_t off = 0;
    /* skip what we have */
    while (off + BK_BATCH_HDR <= len) {
        const uint8_t *h = data + off;
        size_t sz = bk_batch_size(h);
        if (sz < BK_BATCH_HDR || off + sz > len)
            return 0; /* a partial batch at the end: next fetch */
        if (bk_batch_last_offset(h) >= leo)
            break;
        off += sz;
    }
    size_t start = off;
    if (off + BK_BATCH_HDR <= len && bk_plog_leo(l) == l->log_start) {
        /* An empty log restarted at the leader's log start (after
         * OFFSET_OUT_OF_RANGE) that falls inside a batch: restart it at the
         * batch's base instead, as Kafka does on UnexpectedAppendOffset;
         * the log start then follows the leader's again. */
        int64_t base = bk_batch_base_offset(data + off);
        if (base < leo) {
            int64_t keep_start = l->log_start;
            int r = bk_plog_truncate_fully(l, base, bk_wall_ms());
            if (r)
                return r;
            bk_log(BK_LOG_INFO, "%s-%d: log restarted at %lld, the base of the batch holding %lld",
                   p->topic->name, p->index, (long long)base, (long long)keep_start);
            p->nepochs = 0;
            leo = base;
        }
    }
    int64_t first = -1, last = -1, max_ts = -1, max_ts_off = -1;
    bool epochs_changed = false;
    while (off + BK_BATCH_HDR <= len) {
        const uint8_t *h = data + off;
        size_t sz = bk_batch_size(h);
        if (sz < BK_BATCH_HDR || off + sz > len)
            break;
        int64_t base = bk_batch_base_offset(h);
        if (first < 0 && base != leo) {
            bk_log_rl(BK_LOG_ERROR, "%s-%d: leader batch at %lld does not start at our LEO %lld",
                      p->topic->name, p->index, (long long)base, (long long)leo);
            return BK_ECORRUPT;
        }
        if (first >= 0 && base != last + 1)
            break;
        if (bk_batch_magic(h) != 2 || !bk_batch_crc_ok(h, sz)) {
            bk_log_rl(BK_LOG_ERROR, "%s-%d: corrupt batch from the leader at %lld",
                      p->topic->name, p->index, (long long)base);
            break;
        }
        if (first < 0)
            first = base;
        last = bk_batch_last_offset(h);
        int64_t ts = bk_batch_max_timestamp(h);
        if (ts > max_ts) {
            max_ts = ts;
            max_ts_off = last;
        }
        int32_t e = bk_batch_leader_epoch(h);
        if (e > bk_partition_latest_epoch(p))
            epochs_changed |= bk_partition_assign_epoch(p, e, base);
        off += sz;
    }
    if (first < 0)
        return 0;
    int r = bk_plog_append(l, data + start, off - start, first, last, max_ts, max_ts_off,
                           bk_wall_ms());
    if (r != 0) {
        if (epochs_changed)
            (void)bk_partition_truncate_epochs(p, leo);
        return r;
    }
    if (epochs_changed)
        (void)bk_partition_write_epochs(p);
    *appended = off - start;
    bk_metrics_g.replication_bytes_in += off - start; /* ReplicationBytesInPerSec */
    return 0;
}
