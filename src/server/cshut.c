/* cshut.c - controlled shutdown, the stopping broker's side. See cshut.h. */
#include "cshut.h"

#include "../core/clock.h"
#include "../core/err.h"
#include "../core/log.h"
#include "../proto/api.h"
#include "../proto/bkgen_msgs.h"
#include "../broker/interbroker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CSHUT_KEY        7
#define CSHUT_VERSION    3
#define CSHUT_TIMEOUT_MS 30000 /* Kafka's controller.socket.timeout.ms */
#define CSHUT_QUICK_MS   300   /* retry when no controller is reachable (election) */
#define CSHUT_QUICK_MAX  30

struct bk_cshut {
    bk_ev *ev;
    bk_cluster *c;
    const bk_config *cfg;
    int32_t node_id;
    bk_cshut_done_fn *done;
    void *ud;
    int attempts_left;
    int quick_left; /* retries that wait for a controller, not counted above */
    int attempt;    /* current attempt number, from 1 */
    bool in_process_waiting;
    bool finished;
    bool zombie;       /* freed while an in-process attempt runs: local_done frees */
    bk_ib *ib;         /* borrowed: the broker's inter-broker client */
    bool ib_waiting;   /* a ControlledShutdown is queued or in flight on ib */
    bk_ev_timer timer; /* retry backoff, attempt timeout, deferred finish */
    int timer_what;
    int64_t settle_until; /* monotonic ms */
    int64_t deadline;     /* monotonic ms: the whole controlled shutdown */
};

enum { T_NONE, T_RETRY, T_TIMEOUT, T_FINISH, T_SETTLE };

#define CSHUT_SETTLE_MS     20   /* poll period while the moves reach us */
#define CSHUT_SETTLE_MAX_MS 2000 /* at most this long */

static void attempt(bk_cshut *s);

static void conn_close(bk_cshut *s)
{
    if (s->ib_waiting) {
        bk_ib_cancel(s->ib, s);
        s->ib_waiting = false;
    }
}

static void arm(bk_cshut *s, int what, int64_t delay_ms)
{
    bk_ev_timer_stop(s->ev, &s->timer);
    s->timer_what = what;
    if (bk_ev_timer_start(s->ev, &s->timer, bk_now_ms() + delay_ms) != 0) {
        bk_log(BK_LOG_WARN, "controlled shutdown: cannot arm a timer; shutting down now");
        s->finished = true;
        s->done(s->ud, false);
    }
}

static void finish_soon(bk_cshut *s, bool ok)
{
    conn_close(s);
    s->finished = true;
    arm(s, T_FINISH, 0);
    s->timer_what = ok ? T_FINISH : -T_FINISH;
}

/* One attempt ended: ok, or retry after the backoff while attempts remain.
 * quick: no controller could be asked (none known, or it is going away, as
 * during an election): that attempt does not count and the next comes
 * after CSHUT_QUICK_MS, CSHUT_QUICK_MAX times at most. */
static void attempt_end_q(bk_cshut *s, bool ok, const char *why, bool quick)
{
    conn_close(s);
    if (ok) {
        bk_log(BK_LOG_INFO, "controlled shutdown succeeded (attempt %d)", s->attempt);
        /* wait until our state watches made us follower of what moved, so
         * that requests in flight get NOT_LEADER_OR_FOLLOWER (clients look
         * the new leader up at once) rather than a closed connection */
        s->settle_until = BK_MIN(bk_now_ms() + CSHUT_SETTLE_MAX_MS, s->deadline);
        arm(s, T_SETTLE, 0);
        return;
    }
    int64_t now = bk_now_ms();
    if (quick && s->quick_left > 0 && now + CSHUT_QUICK_MS < s->deadline) {
        s->quick_left--;
        s->attempts_left++;
        bk_log(BK_LOG_INFO, "controlled shutdown: attempt %d: %s; asking again in %d ms",
               s->attempt, why, CSHUT_QUICK_MS);
        arm(s, T_RETRY, CSHUT_QUICK_MS);
        return;
    }
    if (s->attempts_left <= 0 ||
        now + s->cfg->controlled_shutdown_retry_backoff_ms >= s->deadline) {
        bk_log(BK_LOG_WARN,
               "controlled shutdown: attempt %d failed (%s); no retries left, proceeding to an "
               "unclean shutdown",
               s->attempt, why);
        finish_soon(s, false);
        return;
    }
    bk_log(BK_LOG_WARN, "controlled shutdown: attempt %d failed (%s); retrying in %lld ms",
           s->attempt, why, (long long)s->cfg->controlled_shutdown_retry_backoff_ms);
    arm(s, T_RETRY, s->cfg->controlled_shutdown_retry_backoff_ms);
}

static void attempt_end(bk_cshut *s, bool ok, const char *why)
{
    attempt_end_q(s, ok, why, false);
}

static void on_answer(bk_cshut *s, int16_t err, int nremain, const char *first_topic,
                      int32_t first_part)
{
    char why[512];
    if (err != BK_KERR_NONE) {
        snprintf(why, sizeof why, "controller error %s", bk_kerr_name(err));
        attempt_end_q(s, false, why, err == BK_KERR_NOT_CONTROLLER);
    } else if (nremain > 0) {
        snprintf(why, sizeof why, "%d partitions still led here, e.g. %s-%d", nremain,
                 first_topic ? first_topic : "?", first_part);
        attempt_end(s, false, why);
    } else {
        attempt_end(s, true, NULL);
    }
}

/* In-process: we are the controller. */
static void cshut_release(bk_cshut *s);

static void local_done(void *ud, int16_t err, const bk_ctl_part *parts, int n)
{
    bk_cshut *s = ud;
    if (s->zombie) {
        cshut_release(s);
        return;
    }
    if (!s->in_process_waiting)
        return;
    s->in_process_waiting = false;
    int remain = 0;
    const char *t = NULL;
    int32_t p = -1;
    for (int i = 0; err == BK_KERR_NONE && i < n; i++)
        if (parts[i].remain) {
            if (!remain++) {
                t = parts[i].topic;
                p = parts[i].partition;
            }
        }
    bk_ev_timer_stop(s->ev, &s->timer);
    on_answer(s, err, remain, t, p);
}

/* ------------------------------------------------------------ the wire */

/* The controller's answer through the inter-broker client (interbroker.h). */
static void on_ib_answer(void *arg, int rc, const void *resp)
{
    bk_cshut *s = arg;
    s->ib_waiting = false;
    if (rc == BK_EAGAIN) {
        attempt_end(s, false, "no answer in time");
        return;
    }
    if (rc != 0) {
        attempt_end_q(s, false,
                      rc == BK_ENOENT ? "the controller is not among the live brokers"
                                      : "the connection to the controller failed",
                      true);
        return;
    }
    const bk_ControlledShutdownResponse *rs = resp;
    char topic[256] = "";
    int32_t part = -1;
    int nremain = BK_MAX(rs->RemainingPartitions.n, 0);
    if (nremain > 0) {
        bk_str t = rs->RemainingPartitions.a[0].TopicName;
        snprintf(topic, sizeof topic, "%.*s", (int)BK_MAX(t.len, 0), t.p ? t.p : "");
        part = rs->RemainingPartitions.a[0].PartitionIndex;
    }
    on_answer(s, rs->ErrorCode, nremain, topic, part);
}

/* ------------------------------------------------------------ attempts */

/* An attempt waits for its answer at most CSHUT_TIMEOUT_MS, and never
 * past the deadline. */
static int64_t attempt_timeout(const bk_cshut *s)
{
    return BK_MAX(BK_MIN((int64_t)CSHUT_TIMEOUT_MS, s->deadline - bk_now_ms()), 1);
}

static void attempt(bk_cshut *s)
{
    s->attempts_left--;
    s->attempt++;
    int32_t cid = bk_cluster_controller_id(s->c);
    if (cid < 0) {
        attempt_end_q(s, false, "no controller known", true);
        return;
    }
    if (cid == s->node_id && bk_cluster_is_controller(s->c)) {
        bk_log(BK_LOG_INFO, "controlled shutdown: attempt %d, in-process (we are the controller)",
               s->attempt);
        s->in_process_waiting = true;
        arm(s, T_TIMEOUT, attempt_timeout(s));
        bk_controller_controlled_shutdown(s->c->ctl, s->node_id, local_done, s);
        return;
    }
    bk_log(BK_LOG_INFO, "controlled shutdown: attempt %d, asking controller %d", s->attempt, cid);
    bk_ControlledShutdownRequest rq;
    bk_ControlledShutdownRequest_init(&rq);
    rq.BrokerId = s->node_id;
    rq.BrokerEpoch = -1; /* not known here (see h_elect.c) */
    s->ib_waiting = true;
    if (!s->ib || bk_ib_send(s->ib, cid, CSHUT_KEY, CSHUT_VERSION, &rq, (int32_t)attempt_timeout(s),
                             on_ib_answer, s) != 0) {
        s->ib_waiting = false;
        attempt_end_q(s, false, "cannot send to the controller", true);
    }
}

/* Partitions this broker still leads locally that another replica could
 * take (more than one replica). */
static int led_here(bk_cshut *s)
{
    bk_topics *reg = s->c->topics;
    if (!reg)
        return 0;
    int n = 0, nt = bk_cluster_ntopics(s->c);
    for (int i = 0; i < nt; i++) {
        const bk_zk_topic *a;
        const char *name = bk_cluster_topic_at(s->c, i, &a);
        for (int32_t p = 0; a && a->rf > 1 && p < a->nparts; p++) {
            bk_partition *bp = bk_topics_partition(reg, name, strlen(name), p);
            n += bp && bp->leader == s->node_id;
        }
    }
    return n;
}

static void on_timer(bk_ev *ev, bk_ev_timer *t)
{
    bk_cshut *s = t->data;
    int what = s->timer_what;
    s->timer_what = T_NONE;
    if (what == T_FINISH || what == -T_FINISH) {
        s->done(s->ud, what == T_FINISH);
    } else if (what == T_SETTLE) {
        int n = led_here(s);
        if (n > 0 && bk_now_ms() < s->settle_until) {
            arm(s, T_SETTLE, CSHUT_SETTLE_MS);
            return;
        }
        if (n > 0)
            bk_log(BK_LOG_INFO, "controlled shutdown: %d partitions still led here locally", n);
        finish_soon(s, true);
    } else if (what == T_RETRY) {
        attempt(s);
    } else if (what == T_TIMEOUT) {
        s->in_process_waiting = false;
        attempt_end(s, false, "no answer in time");
    }
}

bk_cshut *bk_cshut_start(bk_ev *ev, bk_cluster *c, bk_ib *ib, const bk_config *cfg, int32_t node_id,
                         bk_cshut_done_fn *done, void *ud)
{
    bk_cshut *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->ev = ev;
    s->c = c;
    s->cfg = cfg;
    s->node_id = node_id;
    s->done = done;
    s->ud = ud;
    s->ib = ib;
    s->attempts_left = BK_MAX(cfg->controlled_shutdown_max_retries, 1);
    s->quick_left = CSHUT_QUICK_MAX;
    /* the waits between attempts plus 1 s: a controller that does not
     * answer (stopped, or ZooKeeper without quorum) cannot hold the
     * shutdown longer than that */
    int64_t backoff = BK_MAX(cfg->controlled_shutdown_retry_backoff_ms, 0);
    int64_t waits = (int64_t)(s->attempts_left - 1);
    s->deadline =
        bk_now_ms() + 1000 +
        (backoff > 0 && waits > (INT64_MAX / 4) / backoff ? INT64_MAX / 4 : waits * backoff);
    bk_ev_timer_init(&s->timer, on_timer, s);
    bk_log(BK_LOG_INFO, "starting controlled shutdown");
    arm(s, T_RETRY, 0); /* from the loop: done never runs inside start */
    return s;
}

static void cshut_release(bk_cshut *s)
{
    free(s);
}

void bk_cshut_free(bk_cshut *s)
{
    if (!s)
        return;
    conn_close(s);
    bk_ev_timer_stop(s->ev, &s->timer);
    if (s->in_process_waiting) { /* the controller still holds s */
        s->zombie = true;
        return;
    }
    cshut_release(s);
}
