/*
 * mon.c - the monitoring endpoints on metrics.listener (net/http.h):
 *
 *   GET /metrics  Prometheus text 0.0.4: the request-path counters and
 *                 latency quantiles (core/metrics.h), the broker's state
 *                 gauges (broker/bmetrics.c), the server's own gauges
 *                 below, process_* metrics, then consumer lag
 *                 (group/lag.h, bk_lag_prometheus, last).
 *   GET /health   200 "ok" while the process runs its loop.
 *   GET /ready    200 once start-up is complete (storage loaded, listeners
 *                 open, in cluster mode registered in ZooKeeper with a
 *                 live session and caught up: in the ISR of every
 *                 partition it replicates that has a leader) and until
 *                 shutdown starts; 503 with the reason otherwise.
 *
 * The listener opens early in start-up, so /health and a 503 /ready are
 * answered whenever the loop runs (ZooKeeper waits run it).
 *
 * Thread: loop thread.
 */
#include "server.h"

#include "../core/clock.h"
#include "../core/log.h"
#include "../core/metrics.h"
#include "../core/version.h"
#include "../group/lag.h"

#include <stdio.h>

#ifndef BK_GIT_COMMIT
#define BK_GIT_COMMIT "unknown"
#endif

static const char *not_ready(const bk_server *s)
{
    if (!s->serving)
        return s->stop_signal ? "shutting down" : "starting";
    if (s->cluster) {
        if (!s->cluster->zk || !bk_zk_connected(s->cluster->zk))
            return "no ZooKeeper session";
        if (!s->cluster->registered)
            return "not registered in /brokers/ids";
        /* caught up: this broker is in the ISR of every partition it
         * replicates that has a leader (a follower still fetching its way
         * back after a restart is not) */
        int behind = 0;
        const char *first = NULL;
        int32_t first_p = -1;
        int32_t nt = s->topics ? bk_topics_count(s->topics) : 0;
        for (int32_t i = 0; i < nt; i++) {
            bk_topic *t = bk_topics_at(s->topics, i);
            for (int32_t k = 0; t && k < t->nparts; k++) {
                const bk_partition *p = &t->parts[k];
                if (!p->hosted || p->leader < 0)
                    continue;
                bool in = false;
                for (int32_t r = 0; r < p->nisr && !in; r++)
                    in = p->isr[r] == s->broker.node_id;
                if (!in && !behind++) {
                    first = t->name;
                    first_p = p->index;
                }
            }
        }
        if (behind) {
            static char why[400];
            snprintf(why, sizeof why, "catching up: not in the ISR of %d partition(s), e.g. %s-%d",
                     behind, first, first_p);
            return why;
        }
    }
    return NULL;
}

static bool topic_exists(const char *name, void *ud)
{
    bk_server *s = ud;
    return s->topics && bk_topics_get(s->topics, name, strlen(name)) != NULL;
}

static void gauge(bk_wr *w, const char *name, const char *help, const char *labels, double v)
{
    bk_prom_family(w, name, "gauge", help);
    bk_prom_sample(w, name, labels, v);
}

static void server_metrics(bk_server *s, bk_wr *w)
{
    /* the loop's idle ratio since the previous scrape (since start at first) */
    uint64_t now = bk_metrics_now_us();
    uint64_t didle = s->ev.idle_us - s->mon_idle_us, dt = now - s->mon_at_us;
    double idle = dt > 0 ? (double)didle / (double)dt : 1.0;
    if (idle > 1)
        idle = 1;
    s->mon_idle_us = s->ev.idle_us;
    s->mon_at_us = now;
    gauge(w, "kafka_network_socketserver_networkprocessoravgidlepercent",
          "NetworkProcessorAvgIdlePercent: fraction of time the event loop waited for events", "",
          idle);

    /* open connections per listener (socket-server-metrics connection-count) */
    const char *cc = "kafka_server_socket_server_metrics_connection_count";
    bk_prom_family(w, cc, "gauge", "connection-count: open client connections, by listener");
    for (int i = 0; i < s->nlisteners; i++) {
        int n = 0;
        for (bk_conn *c = s->conns.head; c; c = c->next)
            if (strcmp(c->listener_name, s->listeners[i].ep.name) == 0)
                n++;
        char labels[128];
        snprintf(labels, sizeof labels, "listener=\"%s\",networkprocessor=\"0\"",
                 s->listeners[i].ep.name);
        bk_prom_sample(w, cc, labels, n);
    }

    const char *zs = "brook_zookeeper_session_state";
    bk_prom_family(w, zs, "gauge",
                   "ZooKeeper session (SessionExpireListener SessionState): 1 for the current "
                   "state; none without zookeeper.connect");
    if (s->cluster) {
        bool up = s->cluster->zk && bk_zk_connected(s->cluster->zk);
        bk_prom_sample(w, zs, "state=\"connected\"", up);
        bk_prom_sample(w, zs, "state=\"disconnected\"", !up);
        gauge(w, "brook_zookeeper_registered", "1 while /brokers/ids/<id> is ours", "",
              s->cluster->registered);
    }
    gauge(w, "brook_ready", "1 when /ready answers 200", "", not_ready(s) ? 0 : 1);

    char labels[256];
    snprintf(labels, sizeof labels, "version=\"%s\",commit=\"%s\",broker_id=\"%d\"",
             BK_VERSION, BK_GIT_COMMIT, s->broker.node_id);
    gauge(w, "brook_build_info", "Build information (always 1)", labels, 1);
    bk_prom_family(w, "brook_metrics_http_requests_total", "counter",
                   "Requests answered by the metrics listener");
    bk_prom_sample_u(w, "brook_metrics_http_requests_total", "", s->http.requests);
    bk_prom_family(w, "brook_metrics_http_rejected_total", "counter",
                   "Metrics-listener connections refused or timed out, and bad requests");
    bk_prom_sample_u(w, "brook_metrics_http_rejected_total", "", s->http.rejected);
}

static int handler(void *ud, const char *path, bk_wr *body, const char **ctype)
{
    bk_server *s = ud;
    if (strcmp(path, "/health") == 0) {
        bk_wr_mem(body, "ok\n", 3);
        return 200;
    }
    if (strcmp(path, "/ready") == 0) {
        const char *why = not_ready(s);
        if (!why) {
            bk_wr_mem(body, "ready\n", 6);
            return 200;
        }
        bk_prom_printf(body, "not ready: %s\n", why);
        return 503;
    }
    if (strcmp(path, "/metrics") == 0) {
        *ctype = "text/plain; version=0.0.4; charset=utf-8";
        int64_t now = bk_now_ms();
        bk_metrics_topic_gc(topic_exists, s); /* deleted topics' series go */
        bk_metrics_write(body, now, bk_broker_api_name, topic_exists, s);
        if (s->broker_ok)
            bk_broker_prometheus(&s->broker, body, now);
        server_metrics(s, body);
        bk_metrics_write_process(body);
        if (s->broker_ok)
            bk_lag_prometheus(&s->broker, body, bk_wall_ms());
        return 200;
    }
    bk_wr_mem(body, "not found; try /metrics, /health or /ready\n", 43);
    return 404;
}

int bk_mon_open(bk_server *s, char *err, size_t errlen)
{
    const char *url = s->cfg->metrics_listener;
    s->mon_at_us = bk_metrics_now_us();
    if (!url || !*url)
        return 0;
    int rc = bk_http_open(&s->http, &s->ev, url, handler, s, err, errlen);
    if (rc == 0)
        bk_log(BK_LOG_INFO, "metrics listener on http://%s:%d (/metrics, /health, /ready)",
               s->http.l.bound_host, s->http.l.bound_port);
    return rc;
}

void bk_mon_close(bk_server *s)
{
    bk_http_close(&s->http);
}
