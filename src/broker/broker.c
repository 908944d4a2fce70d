/* broker.c - broker context and dispatch. See broker.h. */
#include "broker.h"

#include "../cluster/zkjson.h"
#include "../core/clock.h"
#include "../core/log.h"
#include "../core/metrics.h"
#include "../group/coord.h"
#include "../txn/tcoord.h"
#include "api_table.h"
#include "authz.h"
#include "quotas.h"
#include "interbroker.h"
#include "replica.h"
#include "txn_markers.h"

#include <stdio.h>
#include <stdlib.h>

/* ------------------------------------------------------------ life cycle */

int bk_broker_init(bk_broker *b, const bk_config *cfg, int32_t node_id, const char *cluster_id)
{
    memset(b, 0, sizeof *b);
    b->cfg = cfg;
    b->node_id = node_id;
    snprintf(b->cluster_id, sizeof b->cluster_id, "%s", cluster_id);
    b->self[0] = node_id;
    b->cluster = (cfg->zookeeper_connect && cfg->zookeeper_connect[0]) ||
                 cfg->controller_requests_enable;
    b->controller_id = -1;
    b->controller_epoch = -1;
    b->broker_epoch = -1;
    bk_validate_scratch_init(&b->vscratch);
    bk_zctx_init(&b->zctx);
    bk_wr_init(&b->batch, 0);
    bk_wr_init(&b->dec, 0);
    if (cfg->nadvertised_eps > 0) {
        b->adv = calloc((size_t)cfg->nadvertised_eps, sizeof *b->adv);
        if (!b->adv)
            return BK_ENOMEM;
        memcpy(b->adv, cfg->advertised_eps, (size_t)cfg->nadvertised_eps * sizeof *b->adv);
        b->nadv = cfg->nadvertised_eps;
    }
    return 0;
}

/* The coordinator wrote to __consumer_offsets: cluster mode, the HW
 * follows the ISR (OffsetCommit waits for it, durable.h); single node,
 * the LEO. Wake its fetchers. */
static void coord_appended(void *ud, bk_partition *p, uint64_t bytes)
{
    bk_broker *b = ud;
    if (b->cluster)
        bk_replica_appended(b, p);
    else if (p->log)
        p->log->hw = bk_plog_leo(p->log);
    bk_purgatory_notify(&b->purg, p, BK_WAKE_DATA | BK_WAKE_HW, bytes);
}

int16_t bk_broker_write_marker(bk_broker *b, const char *topic, int32_t partition, int64_t pid,
                               int16_t epoch, int32_t coord_epoch, bool commit, int64_t *offset,
                               int32_t *leader_epoch)
{
    bk_partition *p = b->topics ? bk_topics_partition(b->topics, topic, strlen(topic), partition)
                                : NULL;
    if (!p)
        return BK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    bk_plog *l = p->log;
    int16_t lerr = bk_leader_check(b, p);
    if (lerr != BK_KERR_NONE)
        return lerr;
    if (!l || l->offline)
        return BK_KERR_KAFKA_STORAGE_ERROR;
    /* acks=all, as Kafka appends markers: refused before the append when
     * the ISR is below min.insync.replicas */
    if (b->cluster && p->nisr < p->topic->cfg.min_insync_replicas)
        return BK_KERR_NOT_ENOUGH_REPLICAS;
    int64_t leo0 = bk_plog_leo(l), off = -1;
    int r = bk_plog_append_marker(l, pid, epoch, coord_epoch, commit, p->leader_epoch,
                                  bk_wall_ms(), &off);
    if (r != 0) {
        bk_log_rl(BK_LOG_ERROR, "writing a transaction marker to %s-%d failed: %s", topic,
                  partition, bk_strerror(r));
        return BK_KERR_KAFKA_STORAGE_ERROR;
    }
    /* Single node: the ISR is this broker, so the HW follows the LEO. The
     * marker moves the LSO too: read_committed fetches may now proceed. */
    if (b->cluster)
        bk_replica_appended(b, p);
    else
        l->hw = bk_plog_leo(l);
    bk_purgatory_notify(&b->purg, p, BK_WAKE_DATA | BK_WAKE_HW, (uint64_t)(bk_plog_leo(l) - leo0));
    if (b->coord && p->topic->internal && strcmp(topic, BK_OFFSETS_TOPIC) == 0)
        bk_coord_txn_marker(b->coord, partition, pid, commit);
    if (offset)
        *offset = off;
    if (leader_epoch)
        *leader_epoch = p->leader_epoch;
    return BK_KERR_NONE;
}

/* Single node: append and done. Cluster mode: the marker channel (local
 * partitions wait for their ISR, others get WriteTxnMarkers). */
static int16_t tcoord_write_marker(void *ud, const bk_txn_marker *m)
{
    bk_broker *b = ud;
    if (b->cluster)
        return b->txnmk ? bk_txnmk_write(b->txnmk, m) : BK_KERR_COORDINATOR_NOT_AVAILABLE;
    return bk_broker_write_marker(b, m->topic, m->partition, m->pid, m->epoch, m->coord_epoch,
                                  m->commit, NULL, NULL);
}

/* __transaction_state got a record: cluster mode, the HW follows the ISR
 * (the coordinator's handlers wait for it); single node, the LEO. */
static void tcoord_appended(void *ud, bk_partition *p, uint64_t bytes)
{
    bk_broker *b = ud;
    if (b->cluster)
        bk_replica_appended(b, p);
    else if (p->log)
        p->log->hw = bk_plog_leo(p->log);
    bk_purgatory_notify(&b->purg, p, BK_WAKE_DATA | BK_WAKE_HW, bytes);
}

/* A flush completed: wake the produces waiting for their offsets to be
 * durable, and flush again if more data that must be durable came in
 * while that flush ran. */
static void on_flushed(void *arg, bk_plog *l)
{
    bk_broker *b = arg;
    if (!b->topics)
        return;
    bk_partition *p = bk_topics_partition(b->topics, l->topic, strlen(l->topic), l->partition);
    if (p && p->log == l)
        bk_purgatory_notify(&b->purg, p, BK_WAKE_FLUSH, 0);
    if (l->cfg.flush_messages != INT64_MAX && l->unflushed >= l->cfg.flush_messages)
        bk_logmgr_flush_now(b->logmgr, l, bk_wall_ms());
}

void bk_broker_start(bk_broker *b, bk_ev *ev, bk_logmgr *lm, bk_topics *topics)
{
    b->ev = ev;
    b->logmgr = lm;
    b->topics = topics;
    bk_purgatory_init(&b->purg, ev);
    if (bk_replica_init(b) != 0)
        bk_log(BK_LOG_ERROR, "cannot start the replica fetchers");
    if (lm)
        bk_logmgr_on_flushed(lm, on_flushed, b);
    b->started = true;
    b->coord = bk_coord_new(b->cfg, topics, coord_appended, b);
    if (!b->coord)
        bk_log(BK_LOG_ERROR, "cannot allocate the group coordinator");
    else if (!b->cluster && bk_coord_load(b->coord) != 0)
        bk_log(BK_LOG_ERROR, "loading %s failed; groups start empty", BK_OFFSETS_TOPIC);
    if (b->cluster) {
        b->ib = bk_ib_new(b);
        b->txnmk = bk_txnmk_new(b);
        if (!b->ib || !b->txnmk)
            bk_log(BK_LOG_ERROR, "cannot allocate the inter-broker client");
    }
    bk_tcoord_hooks th = {tcoord_write_marker, tcoord_appended, b, true};
    b->tcoord = bk_tcoord_new(b->cfg, topics, b->cfg->log_dirs.n > 0 ? b->cfg->log_dirs.v[0] : NULL,
                              &th);
    bk_tcoord_set_cluster(b->tcoord, b->cluster);
    if (b->tcoord && !b->cluster && bk_tcoord_load(b->tcoord) != 0)
        bk_log(BK_LOG_ERROR, "loading %s failed; transactions start empty", BK_TXN_TOPIC);
}

void bk_broker_complete_delayed(bk_broker *b)
{
    if (b->started)
        bk_purgatory_complete_all(&b->purg);
}

void bk_broker_tick(bk_broker *b, int64_t now_ms)
{
    if (b->started)
        bk_purgatory_gc(&b->purg, b->topics, now_ms);
    if (b->started)
        bk_replica_tick(b, now_ms);
    if (b->coord)
        bk_coord_tick(b->coord, now_ms);
    if (b->tcoord)
        bk_tcoord_tick(b->tcoord, now_ms);
    if (b->txnmk)
        bk_txnmk_tick(b->txnmk);
    if (b->ib)
        bk_ib_tick(b->ib, now_ms);
    bk_authz_tick(b);
    bk_quotas_tick(b);
}

void bk_broker_fini(bk_broker *b)
{
    /* flushes still completing while the log manager closes must not call
     * into a finished broker */
    if (b->started && b->logmgr)
        bk_logmgr_on_flushed(b->logmgr, NULL, NULL);
    bk_replica_fini(b);
    bk_authz_close(b);
    bk_quotas_close(b);
    /* the marker channel first (drops its answers), then the client */
    bk_txnmk_free(b->txnmk);
    b->txnmk = NULL;
    bk_ib_free(b->ib);
    b->ib = NULL;
    if (b->started)
        bk_purgatory_fini(&b->purg, b->topics);
    bk_tcoord_free(b->tcoord);
    b->tcoord = NULL;
    bk_coord_free(b->coord); /* after the purgatory: parked Join/Sync detach first */
    b->coord = NULL;
    b->started = false;
    bk_validate_scratch_fini(&b->vscratch);
    bk_zctx_fini(&b->zctx);
    bk_wr_fini(&b->batch);
    bk_wr_fini(&b->dec);
    bk_sasl_state_free(b->sasl);
    b->sasl = NULL;
    free(b->adv);
    b->adv = NULL;
    b->nadv = 0;
}

void bk_broker_set_bound_port(bk_broker *b, const char *listener_name, int port)
{
    for (int i = 0; i < b->nadv; i++)
        if (b->adv[i].port == 0 && strcmp(b->adv[i].name, listener_name) == 0)
            b->adv[i].port = port;
}

void bk_broker_self_endpoint(const bk_broker *b, const bk_conn *c, const char **host, int *port)
{
    const bk_endpoint *ep = NULL;
    for (int i = 0; i < b->nadv && !ep; i++)
        if (strcmp(b->adv[i].name, c->listener_name) == 0)
            ep = &b->adv[i];
    if (!ep && b->nadv)
        ep = &b->adv[0];
    if (ep && ep->host[0] && strcmp(ep->host, "0.0.0.0") != 0 && strcmp(ep->host, "::") != 0)
        *host = ep->host;
    else
        *host = c->local_host[0] ? c->local_host : "127.0.0.1";
    *port = ep && ep->port ? ep->port : c->local_port;
}

const char *bk_broker_live_endpoint(const bk_live_broker *lb, const bk_conn *c, bk_arena *a,
                                    int32_t *port)
{
    *port = lb->port;
    if (!lb->eps[0] || !c)
        return lb->host;
    char *h = bk_arena_alloc(a, 256);
    int p;
    if (!h || bk_zkj_endpoint_of(lb->eps, c->listener_name, h, 256, &p) != 0)
        return lb->host;
    *port = p;
    return h;
}

/* -------------------------------------------------------------- dispatch */

/* Count every ErrorCode in a response (Kafka's Errors map: one per
 * top-level and per-partition code, NONE included), walking the message
 * through its descriptor. */
static void count_errors(int api_key, const bk_msgdesc *d, int16_t ver, const void *m, int depth)
{
    if (depth > 6)
        return;
    for (uint16_t i = 0; i < d->nfields; i++) {
        const bk_field *f = &d->fields[i];
        if (!BK_V_IN(f->versions, ver))
            continue;
        const char *at = (const char *)m + f->off;
        if (f->type == BK_T_INT16 && strcmp(f->name, "ErrorCode") == 0) {
            bk_metrics_error(api_key, *(const int16_t *)at);
        } else if (f->type == BK_T_STRUCT && f->sub) {
            if (!(f->has_null_flag && *(const bool *)((const char *)m + f->null_off)))
                count_errors(api_key, f->sub, ver, at, depth + 1);
        } else if (f->type == BK_T_ARRAY && f->elem == BK_T_STRUCT && f->sub) {
            const bk_array_any *arr = (const bk_array_any *)at;
            size_t es = bk_codec_elem_size(f);
            for (int32_t k = 0; k < arr->n; k++)
                count_errors(api_key, f->sub, ver, (const char *)arr->a + (size_t)k * es,
                             depth + 1);
        }
    }
}

int bk_respond(bk_req *req, const bk_msginfo *mi, int16_t ver, const void *m)
{
    /* client quotas: ThrottleTimeMs and the KIP-219 mute (quotas.h); the
     * handlers' response structs are their own, never const objects */
    bk_quota_on_respond(req->conn->owner->opts.ud, req, mi->desc, ver, (void *)m);
    count_errors(req->hdr.api_key, mi->desc, ver, m, 0);
    bool flex = BK_V_IN(mi->flexible, ver);
    size_t size = bk_codec_size(mi->desc, flex, ver, m);
    bk_wr *w = bk_req_respond_begin(req, bk_resphdr_version(req->hdr.api_key, ver), size);
    int rc = bk_codec_encode(mi->desc, flex, ver, w, m);
    rc = bk_req_respond_end(req, rc);
    if (rc != 0)
        bk_log_rl(BK_LOG_ERROR, "cannot encode %s v%d response: %s", mi->desc->name, ver,
                  bk_strerror(rc));
    return rc;
}

void bk_broker_on_cancel(bk_req *req, void *ud)
{
    if (req->hctx)
        bk_delayed_complete_soon(req->hctx);
}

int bk_broker_on_request(bk_req *req, void *ud)
{
    bk_broker *b = ud;
    const bk_reqhdr *h = &req->hdr;
    const bk_api_entry *e = bk_api_find(h->api_key);
    char why[128];
    if (e && e->cluster_only && !b->cluster)
        e = NULL;
    if (!e) {
        const bk_apidef *d = bk_apidef_get(h->api_key);
        snprintf(why, sizeof why, "unsupported api %s (key %d) v%d", d ? d->name : "?", h->api_key,
                 h->api_version);
        bk_conn_fail(req->conn, BK_LOG_INFO, why);
        return BK_EVERSION;
    }
    /* ApiVersions answers every version itself (KIP-511); any other API
     * outside its advertised range closes the connection like Kafka. */
    if (h->api_key != BK_API_API_VERSIONS && (h->api_version < e->min || h->api_version > e->max)) {
        snprintf(why, sizeof why, "unsupported version %d of api key %d (served: %d-%d)",
                 h->api_version, h->api_key, e->min, e->max);
        bk_conn_fail(req->conn, BK_LOG_INFO, why);
        return BK_EVERSION;
    }
    /* SASL listeners: nothing but the authentication before it succeeded */
    int rc = bk_sasl_gate(b, req);
    if (rc < 0)
        return rc;
    bk_metrics_request(h->api_key, h->api_version);
    bk_quota_request_start(b, req);
    rc = e->handler(b, req);
    if (rc != BK_EAGAIN)
        req->quota_t0_us = 0;
    if (rc < 0 && rc != BK_EAGAIN) {
        snprintf(why, sizeof why, "%s v%d request (client id '%.*s'): %s",
                 bk_apidef_get(h->api_key)->name, h->api_version,
                 h->client_id.len > 0 ? (int)BK_MIN(h->client_id.len, 40) : 0,
                 h->client_id.len > 0 ? h->client_id.p : "", bk_strerror(rc));
        bk_conn_fail(req->conn, BK_LOG_INFO, why);
    }
    return rc;
}

static const char *api_name(int key)
{
    const bk_apidef *d = bk_apidef_get((int16_t)key);
    return d ? d->name : "Unknown";
}

void bk_broker_on_timing(bk_conn *c, int16_t api_key, int16_t api_version, const uint64_t *us,
                         void *ud)
{
    bk_broker *b = ud;
    int64_t now = bk_now_ms();
    bk_metrics_timing(api_key, us, now);
    bk_quota_on_timing(b, c, us); /* request_percentage */
    /* Kafka's request logger (kafka.request.logger at DEBUG): every request
     * with its times, only when debug is on (SIGUSR2 or log.level). */
    if (BK_UNLIKELY(bk_log_enabled(BK_LOG_DEBUG)))
        bk_log(BK_LOG_DEBUG,
               "completed request %s v%d from %s: total %.3f ms (request queue %.3f, local %.3f, "
               "remote %.3f, response queue %.3f, response send %.3f)",
               api_name(api_key), api_version, c->peer, us[BK_RT_TOTAL] / 1000.0,
               us[BK_RT_REQ_QUEUE] / 1000.0, us[BK_RT_LOCAL] / 1000.0, us[BK_RT_REMOTE] / 1000.0,
               us[BK_RT_RESP_QUEUE] / 1000.0, us[BK_RT_RESP_SEND] / 1000.0);
    /* Slow requests (request.slow.ms): the remote time of a Fetch is its
     * long poll (MaxWaitMs), asked for by the client, so it does not count. */
    int64_t slow = b->cfg->request_slow_ms;
    if (slow < 0)
        return;
    uint64_t t = us[BK_RT_TOTAL];
    if (api_key == BK_API_FETCH)
        t = t > us[BK_RT_REMOTE] ? t - us[BK_RT_REMOTE] : 0;
    if (t < (uint64_t)slow * 1000)
        return;
    bk_metrics_g.slow_requests++;
    bk_log_rl(BK_LOG_WARN,
              "slow request %s v%d from %s: total %.3f ms (request queue %.3f, local %.3f, "
              "remote %.3f, response queue %.3f, response send %.3f)",
              api_name(api_key), api_version, c->peer, us[BK_RT_TOTAL] / 1000.0,
              us[BK_RT_REQ_QUEUE] / 1000.0, us[BK_RT_LOCAL] / 1000.0, us[BK_RT_REMOTE] / 1000.0,
              us[BK_RT_RESP_QUEUE] / 1000.0, us[BK_RT_RESP_SEND] / 1000.0);
}

const char *bk_broker_api_name(int key)
{
    return api_name(key);
}
