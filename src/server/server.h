/*
 * server.h - wiring of one broker process: start-up, run, shutdown.
 *
 * Start-up order (any failure: an error message in err, nothing left
 * running, main exits 1):
 *   1. signals: SIGPIPE ignored (a vanished client must not kill us; writes
 *      report EPIPE instead); SIGTERM/SIGINT blocked and read through a
 *      signalfd on the loop, so shutdown starts from a normal callback
 *      rather than inside a signal handler;
 *   2. identity: log directories, meta.properties, cluster id;
 *   3. event loop, broker context;
 *   4. storage: background I/O threads (bio), the log manager over log.dirs
 *      (locks every directory - a directory used by another process is a
 *      start-up error - and recovers the partitions on
 *      num.recovery.threads.per.data.dir threads, 2 unless set), then the
 *      topic registry; one log line says what it took. The bio eventfd is
 *      watched by the loop (completions: flushes, checkpoints, deletions)
 *      and a 100 ms timer runs bk_logmgr_tick (flush.*, retention,
 *      checkpoints) and the purgatory's housekeeping;
 *   5. listeners (bound ports known now): clients connect only once the
 *      logs are open.
 * Cluster mode (zookeeper.connect set; cluster/cluster.h): the loop and
 * signals come first, then the ZooKeeper session, persistent paths and
 * /cluster/id (which meta.properties must match: step 2 then refuses a
 * mismatch); topics are loaded from ZooKeeper instead of brook-metadata;
 * producer id blocks come from /latest_producer_id_block; the broker
 * registers /brokers/ids/<id> before its listeners open (after, when a
 * listener port is 0 and must be bound first; a live broker with the same
 * id is a start-up error) and runs for controller.
 * Shutdown closes the session right after the connections (ephemerals go
 * at once, so the others see this broker leave without waiting for the
 * session timeout).
 * bk_server_run() serves until a signal. bk_server_fini() then closes the
 * listeners (no new clients), answers the parked requests (long-polling
 * fetches) with what they have, stops handling requests and lets the
 * connections send what is already answered (at most DRAIN_MS), closes
 * them, closes the topics and the log manager (a clean close: flush,
 * checkpoints, so the next start scans nothing) and stops the bio threads.
 *
 * Thread: the calling thread becomes the event-loop thread.
 */
#ifndef BK_SERVER_H
#define BK_SERVER_H

#include "../broker/broker.h"
#include "../cluster/cluster.h"
#include "../core/config.h"
#include "../net/conn.h"
#include "../net/ev.h"
#include "../net/http.h"
#include "../net/listener.h"
#include "../storage/logmgr.h"

typedef struct bk_server {
    const bk_config *cfg; /* borrowed; finished */
    bk_ev ev;
    bool ev_ok;
    bk_listener *listeners; /* owned: cfg->nlistener_eps of them */
    int nlisteners;
    bk_conns conns;
    struct bk_tls_ctx *tls;      /* owned: SSL listeners' TLS context (issue 11) */
    struct bk_tls_ctx *tls_sasl; /* owned: SASL_SSL listeners' (no client auth) */
    bk_broker broker;
    bool broker_ok;
    int sigfd; /* owned; -1 if none */
    bk_ev_io sig_io;
    int stop_signal; /* the signal that ended run(), 0 if none */

    bool bio_ok;       /* bk_bio_start() succeeded */
    bk_ev_io bio_io;   /* the bio completion eventfd */
    bk_logmgr *logmgr; /* owned */
    bk_topics *topics; /* owned */
    bk_ev_timer tick;  /* ~100 ms: logmgr and purgatory housekeeping */
    bk_cluster *cluster; /* owned: cluster mode (zookeeper.connect) only */
    struct bk_cshut *cshut; /* owned: the controlled shutdown under way (cshut.h) */
    /* Monitoring (server/mon.c): metrics.listener, readiness. */
    bk_http_server http;
    bool serving;           /* listeners open, start-up complete */
    uint64_t mon_idle_us;   /* ev.idle_us at the previous scrape */
    uint64_t mon_at_us;     /* monotonic us of the previous scrape */
} bk_server;

int bk_server_init(bk_server *s, const bk_config *cfg, char *err, size_t errlen);
/* Serve until SIGTERM/SIGINT. 0, or BK_EIO if the loop itself failed. */
int bk_server_run(bk_server *s);
void bk_server_fini(bk_server *s);

/* Monitoring endpoints (mon.c): open metrics.listener if set (0, or an
 * error in err), close it. */
int bk_mon_open(bk_server *s, char *err, size_t errlen);
void bk_mon_close(bk_server *s);

/* "127.0.0.1:9092, [::1]:9093" - the bound addresses, for the start-up line. */
void bk_server_describe_listeners(const bk_server *s, char *buf, size_t len);

#endif
