/* server.c - see server.h. */
#include "server.h"
#include "cshut.h"

#include "../security/connlimit.h"
#include "../broker/authz.h"
#include "../broker/quotas.h"
#include "../broker/meta_props.h"
#include "../broker/replica.h"
#include "../core/clock.h"
#include "../core/log.h"
#include "../storage/bio.h"
#include "../txn/tcoord.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <unistd.h>

/* Unsent output per connection above which no further request of that
 * connection is handled (conn.h, backpressure). Kafka handles one request
 * per connection at a time and waits for its response to be sent; we let
 * pipelined requests run ahead up to this bound. */
#define OUT_HIGH_WATER (1024 * 1024)

#define TICK_MS     100  /* logmgr tick (flush.*, retention, checkpoints) */
#define DRAIN_MS    2000 /* at shutdown: how long answered requests may take to leave */
#define BIO_THREADS 1    /* one worker: jobs complete in submission order (bio.h) */

static void cshut_done(void *ud, bool ok)
{
    bk_server *s = ud;
    bk_log(BK_LOG_INFO, "controlled shutdown %s; shutting down",
           ok ? "complete" : "incomplete");
    bk_ev_stop(&s->ev);
}

static void signal_cb(bk_ev *ev, bk_ev_io *io, uint32_t events)
{
    bk_server *s = io->data;
    struct signalfd_siginfo si;
    ssize_t n = read(s->sigfd, &si, sizeof si);
    if (n != (ssize_t)sizeof si)
        return;
    if (si.ssi_signo == SIGUSR2) {
        /* log.level at run time: one step more verbose, from debug back to
         * the configured level */
        int cur = bk_log_get_level(), base = bk_log_level_parse(s->cfg->log_level);
        int next = cur > BK_LOG_DEBUG ? cur - 1 : (base >= 0 ? base : BK_LOG_INFO);
        bk_log_set_level(BK_LOG_INFO);
        bk_log(BK_LOG_INFO, "SIGUSR2: log level now %s",
               (const char *[]){"debug", "info", "warn", "error", "off"}[next]);
        bk_log_set_level(next);
        return;
    }
    s->stop_signal = (int)si.ssi_signo;
    s->serving = false; /* /ready: 503 from now on */
    if (s->cshut) {
        bk_log(BK_LOG_INFO, "received %s during the controlled shutdown, shutting down now",
               strsignal((int)si.ssi_signo));
        bk_ev_stop(ev);
        return;
    }
    /* Cluster mode: the controller moves our leaderships away first; the
     * loop keeps serving meanwhile (cshut.h). */
    if (s->cluster && s->cluster->registered && s->cfg->controlled_shutdown_enable) {
        bk_log(BK_LOG_INFO, "received %s, controlled shutdown", strsignal((int)si.ssi_signo));
        if ((s->cshut = bk_cshut_start(ev, s->cluster, s->broker.ib, s->cfg, s->broker.node_id,
                                       cshut_done, s)) != NULL)
            return;
    }
    bk_log(BK_LOG_INFO, "received %s, shutting down", strsignal((int)si.ssi_signo));
    bk_ev_stop(ev);
}

static void on_accept(bk_listener *l, int fd, const struct sockaddr_storage *peer,
                      socklen_t peerlen)
{
    bk_server *s = l->data;
    /* connection limits (security/connlimit.h), before any byte is read */
    const bk_config *cfg = s->cfg;
    char addr[64], ip[64];
    bk_sockaddr_str((const struct sockaddr *)peer, peerlen, addr, sizeof addr);
    bk_peer_ip(addr, ip, sizeof ip);
    int32_t per_ip = bk_connlimit_for(cfg->max_connections_per_ip_overrides, ip,
                                      cfg->max_connections_per_ip);
    int same = 0;
    if (per_ip != INT32_MAX)
        for (bk_conn *c = s->conns.head; c; c = c->next) {
            char cip[64];
            bk_peer_ip(c->peer, cip, sizeof cip);
            same += !c->closing && strcmp(cip, ip) == 0;
        }
    if (s->conns.n >= cfg->max_connections || same >= per_ip) {
        bk_log_rl(BK_LOG_INFO, "closing connection from %s: %s reached (%d)", addr,
                  same >= per_ip ? "max.connections.per.ip" : "max.connections",
                  same >= per_ip ? per_ip : cfg->max_connections);
        close(fd);
        return;
    }
    /* connection creation rate (KIP-612, quotas.h): closed, not delayed */
    if (!bk_quota_conn_allowed(&s->broker, ip)) {
        close(fd);
        return;
    }
    int sec = bk_config_listener_secproto(s->cfg, l->ep.name);
    bool tls = sec == BK_SEC_SSL || sec == BK_SEC_SASL_SSL;
    (void)bk_conn_accept_sec(&s->conns, fd, peer, peerlen, l->ep.name, sec < 0 ? 0 : sec,
                             !tls ? NULL : sec == BK_SEC_SSL ? s->tls : s->tls_sasl);
}

static int setup_signals(bk_server *s, char *err, size_t errlen)
{
    /* SIG_IGN (not a handler) so it also survives into threads. */
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR2); /* log level (signal_cb) */
    /* Blocked before any thread exists, so every later thread inherits
     * the mask and only the signalfd sees these signals. */
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0 ||
        (s->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1) {
        snprintf(err, errlen, "signalfd: %s", strerror(errno));
        return BK_EIO;
    }
    bk_ev_io_init(&s->sig_io, s->sigfd, signal_cb, s);
    if (bk_ev_io_start(&s->ev, &s->sig_io, BK_EV_READ) != 0) {
        snprintf(err, errlen, "epoll (signalfd): %s", strerror(errno));
        return BK_EIO;
    }
    return 0;
}

static void bio_cb(bk_ev *ev, bk_ev_io *io, uint32_t events)
{
    (void)bk_bio_drain();
}

static void tick_cb(bk_ev *ev, bk_ev_timer *t)
{
    bk_server *s = t->data;
    bk_logmgr_tick(s->logmgr, bk_wall_ms());
    if (s->cluster) /* the elected controller, as ZooKeeper says */
        s->broker.controller_id = bk_cluster_controller_id(s->cluster);
    bk_broker_tick(&s->broker, bk_now_ms());
    if (bk_ev_timer_start(ev, t, bk_now_ms() + TICK_MS) != 0)
        bk_log(BK_LOG_ERROR, "cannot re-arm the storage timer");
}

/* Broker-level log.* settings as the defaults of every log. */
static void log_defaults(const bk_config *cfg, bk_logcfg *c)
{
    bk_logcfg_defaults(c);
    c->segment_bytes = cfg->log_segment_bytes;
    c->segment_ms = cfg->log_roll_ms;
    c->index_bytes = (uint32_t)cfg->log_index_size_max_bytes;
    c->index_interval = (uint32_t)cfg->log_index_interval_bytes;
    c->retention_ms = cfg->log_retention_ms;
    c->retention_bytes = cfg->log_retention_bytes;
    c->flush_messages = cfg->log_flush_interval_messages;
    c->flush_ms = cfg->log_flush_interval_ms;
}

static int open_storage(bk_server *s, char *err, size_t errlen)
{
    const bk_config *cfg = s->cfg;
    int rc = bk_bio_start(BIO_THREADS);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the background I/O threads: %s", bk_strerror(rc));
        return rc;
    }
    s->bio_ok = true;

    bk_logmgr_cfg lc;
    bk_logmgr_cfg_defaults(&lc);
    lc.dirs = (const char *const *)cfg->log_dirs.v;
    lc.ndirs = cfg->log_dirs.n;
    log_defaults(cfg, &lc.defaults);
    lc.retention_check_ms = cfg->log_retention_check_interval_ms;
    lc.producer_expiration_ms = cfg->producer_id_expiration_ms;
    lc.producer_expiration_check_ms = cfg->producer_id_expiration_check_interval_ms;
    lc.cleaner.threads = cfg->log_cleaner_enable ? cfg->log_cleaner_threads : 0;
    lc.cleaner.dedupe_bytes = cfg->log_cleaner_dedupe_buffer_size;
    lc.cleaner.io_max_bps = cfg->log_cleaner_io_max_bytes_per_second;
    lc.cleaner.backoff_ms = cfg->log_cleaner_backoff_ms;
    lc.recovery_threads = bk_config_is_set(cfg, "num.recovery.threads.per.data.dir")
                              ? cfg->num_recovery_threads_per_data_dir
                              : 2;
    bk_logmgr_stats st;
    char why[512] = "";
    rc = bk_logmgr_open(&s->logmgr, &lc, bk_wall_ms_raw(), &st, why, sizeof why);
    if (rc != 0) {
        snprintf(err, errlen, "cannot open the log directories: %s",
                 why[0] ? why : bk_strerror(rc));
        s->logmgr = NULL;
        return rc;
    }
    bk_log(BK_LOG_INFO,
           "storage: %d partitions, %d segments, %d recovered segments, %llu bytes truncated, "
           "loaded in %lld ms (%d log dirs, %d recovery threads)",
           st.partitions, st.segments, st.recovered_segments,
           (unsigned long long)st.truncated_bytes, (long long)st.elapsed_ms, lc.ndirs,
           lc.recovery_threads);

    /* Topic metadata lives in the first log directory, beside meta.properties,
     * or in ZooKeeper in cluster mode. */
    if (s->cluster) {
        bk_metastore *ms;
        if ((rc = bk_metastore_zk_open(&ms, s->cluster)) != 0) {
            snprintf(err, errlen, "out of memory");
            return rc;
        }
        rc = bk_topics_open_store(&s->topics, cfg, s->logmgr, ms, s->broker.node_id, err, errlen);
    } else {
        rc = bk_topics_open(&s->topics, cfg, s->logmgr, cfg->log_dirs.v[0], s->broker.node_id, err,
                            errlen);
    }
    if (rc != 0) {
        s->topics = NULL;
        return rc;
    }
    bk_log(BK_LOG_INFO, "topics: %d", (int)bk_topics_count(s->topics));

    bk_ev_io_init(&s->bio_io, bk_bio_fd(), bio_cb, s);
    if (bk_ev_io_start(&s->ev, &s->bio_io, BK_EV_READ) != 0) {
        snprintf(err, errlen, "epoll (bio eventfd): %s", strerror(errno));
        return BK_EIO;
    }
    if (bk_ev_timer_start(&s->ev, &s->tick, bk_now_ms() + TICK_MS) != 0) {
        snprintf(err, errlen, "out of memory");
        return BK_ENOMEM;
    }
    return 0;
}

/* Cluster mode, before anything touches the disk: the ZooKeeper session
 * and /cluster/id, then meta.properties, which must agree with it. */
static int cluster_identity(bk_server *s, int32_t *node_id, char *cluster_id, size_t idlen,
                            char *err, size_t errlen)
{
    const bk_config *cfg = s->cfg;
    bk_meta_props mp;
    char why[256];
    const char *stored = NULL;
    if (cfg->log_dirs.n > 0 && bk_meta_props_read(cfg->log_dirs.v[0], &mp, why, sizeof why) == 0)
        stored = mp.cluster_id;
    int rc = bk_cluster_open(&s->cluster, &s->ev, cfg, stored, err, errlen);
    if (rc != 0) {
        s->cluster = NULL;
        return rc;
    }
    if (cfg->cluster_id && strcmp(cfg->cluster_id, s->cluster->cluster_id) != 0) {
        snprintf(err, errlen,
                 "the configured cluster.id %s doesn't match the cluster id %s in ZooKeeper; "
                 "the broker is trying to join the wrong cluster (is zookeeper.connect right?)",
                 cfg->cluster_id, s->cluster->cluster_id);
        return BK_EINVAL;
    }
    /* meta.properties is checked against ZooKeeper's id, as Kafka does
     * (InconsistentClusterIdException): a mismatch refuses start-up. */
    bk_config c2 = *cfg;
    c2.cluster_id = s->cluster->cluster_id;
    rc = bk_meta_identity(&c2, node_id, cluster_id, idlen, err, errlen);
    if (rc != 0 && strstr(err, "doesn't match stored cluster id")) {
        char tmp[512];
        snprintf(tmp, sizeof tmp, "%s (ZooKeeper %s has /cluster/id %s)", err,
                 cfg->zookeeper_connect, s->cluster->cluster_id);
        snprintf(err, errlen, "%s", tmp);
    }
    return rc;
}

/* The port of the first listener as configured (0: ephemeral). */
static int cfg_port(const bk_server *s)
{
    return s->cfg->nlistener_eps > 0 ? s->cfg->listener_eps[0].port : 0;
}

/* Register /brokers/ids/<id> with the advertised endpoint of the first
 * listener (a wildcard host becomes this machine's name). */
/* /brokers/ids changed: the replica side's live-broker list (Metadata,
 * DescribeCluster, follower connections) and the controller id follow the
 * ZooKeeper registrations. */
static void on_live_brokers(bk_cluster *c, void *ud)
{
    bk_broker *b = ud;
    int n = 0;
    const bk_zk_broker *zb = bk_cluster_brokers(c, &n);
    bk_live_broker *v = n > 0 ? calloc((size_t)n, sizeof *v) : NULL;
    if (n > 0 && !v)
        return;
    for (int i = 0; i < n; i++) {
        v[i].id = zb[i].id;
        snprintf(v[i].host, sizeof v[i].host, "%s", zb[i].host);
        v[i].port = zb[i].port;
        snprintf(v[i].eps, sizeof v[i].eps, "%s", zb[i].eps);
        snprintf(v[i].rack, sizeof v[i].rack, "%s", zb[i].rack);
        v[i].has_rack = zb[i].rack[0] != 0;
    }
    (void)bk_broker_set_live(b, v, n);
    free(v);
    b->controller_id = bk_cluster_controller_id(c);
}

/* A partition state znode (cluster.c watches them): the replica side
 * applies it as the controller's LeaderAndIsr (partitions this broker is a
 * replica of) or UpdateMetadata (the others). Re-reads, duplicates and
 * stale states are harmless: a known (leader epoch, version) is skipped, an
 * older leader epoch is refused by bk_replica_leader_and_isr. */
static void on_pstate(bk_cluster *c, void *ud, const char *topic, const uint8_t id[16],
                      int32_t partition, const bk_zk_pstate *st, int32_t version,
                      const int32_t *replicas, int nreplicas)
{
    bk_broker *b = ud;
    size_t len = strlen(topic);
    bk_partition *p = b->topics ? bk_topics_partition(b->topics, topic, len, partition) : NULL;
    if (!st) { /* deleted */
        if (p && p->hosted)
            (void)bk_replica_stop(b, topic, len, partition, -1, true);
        return;
    }
    bk_uuid uid;
    memcpy(uid.b, id, 16);
    bk_part_state ps = {.controller_epoch = st->controller_epoch,
                        .leader = st->leader,
                        .leader_epoch = st->leader_epoch,
                        .partition_epoch = version,
                        .isr = st->isr,
                        .nisr = st->nisr,
                        .replicas = replicas,
                        .nreplicas = nreplicas};
    /* a reassignment in progress (KIP-455): the leader keeps the replicas
     * being removed out of the ISR, Metadata shows both lists */
    const bk_zk_topic *a = bk_cluster_assignment(c, topic);
    if (a && partition < a->nparts) {
        ps.nadding = bk_zk_topic_adding(a, partition, &ps.adding);
        ps.nremoving = bk_zk_topic_removing(a, partition, &ps.removing);
    }
    if (st->controller_epoch > b->controller_epoch)
        b->controller_epoch = st->controller_epoch;
    if (bk_ids_has(replicas, nreplicas, b->node_id)) {
        if (p && p->hosted && p->leader == st->leader && p->leader_epoch == st->leader_epoch &&
            p->partition_epoch >= version && p->nreplicas == nreplicas &&
            memcmp(p->replicas, replicas, (size_t)nreplicas * sizeof *replicas) == 0 &&
            p->nadding == ps.nadding && p->nremoving == ps.nremoving)
            return; /* known (our own ISR write, or a re-read) */
        int16_t e = bk_replica_leader_and_isr(b, topic, len, &uid, partition, &ps);
        if (e != BK_KERR_NONE && e != BK_KERR_STALE_CONTROLLER_EPOCH)
            bk_log(BK_LOG_WARN, "%s-%d: cannot apply the partition state: error %d", topic,
                   partition, e);
        return;
    }
    if (p && p->hosted) /* no longer a replica here */
        (void)bk_replica_stop(b, topic, len, partition, -1, true);
    bk_replica_update_metadata(b, topic, len, &uid, partition, &ps);
}

/* The ISR hook in ZooKeeper mode: a version-checked write of the state
 * znode (expected version = the partition epoch the leader holds). A
 * conflict refuses the change: the controller changed the state, and the
 * watch brings it. */
typedef struct isr_write {
    bk_broker *b;
    char topic[256];
    int32_t partition;
    int32_t nisr;
    int32_t isr[64];
} isr_write;

static void isr_written(void *ud, int rc, int32_t new_version)
{
    isr_write *x = ud;
    if (rc != 0)
        bk_log(BK_LOG_INFO, "%s-%d: ISR change not written (%s); waiting for the state znode",
               x->topic, x->partition, rc == BK_EVERSION ? "version conflict" : bk_strerror(rc));
    bk_replica_isr_done(x->b, x->topic, x->partition, rc, x->isr, x->nisr, new_version);
    free(x);
}

static int zk_isr_change(void *ud, const char *topic, int32_t partition, int32_t leader,
                         int32_t leader_epoch, int32_t controller_epoch, const int32_t *isr,
                         int32_t nisr, int32_t partition_epoch, int32_t *new_partition_epoch)
{
    bk_broker *b = ud;
    (void)new_partition_epoch;
    if (!b->zkc || nisr > 64 || nisr < 0)
        return BK_EINVAL;
    isr_write *x = calloc(1, sizeof *x);
    if (!x)
        return BK_ENOMEM;
    x->b = b;
    snprintf(x->topic, sizeof x->topic, "%s", topic);
    x->partition = partition;
    x->nisr = nisr;
    memcpy(x->isr, isr, (size_t)nisr * sizeof *isr);
    bk_zk_pstate st = {.leader = leader, .leader_epoch = leader_epoch,
                       .controller_epoch = controller_epoch, .nisr = nisr};
    memcpy(st.isr, isr, (size_t)nisr * sizeof *isr);
    bk_cluster_write_pstate(b->zkc, topic, partition, &st, partition_epoch, isr_written, x);
    return BK_EAGAIN;
}

/* The advertised endpoint i as registered: a wildcard host becomes this
 * machine's name, port 0 the bound port. */
static void reg_endpoint(const bk_server *s, int i, char *host, size_t hostlen, int *port)
{
    const bk_broker *b = &s->broker;
    host[0] = 0;
    *port = 0;
    if (i < b->nadv) {
        snprintf(host, hostlen, "%s", b->adv[i].host);
        *port = b->adv[i].port;
        for (int j = 0; *port == 0 && j < s->nlisteners; j++)
            if (strcmp(s->listeners[j].ep.name, b->adv[i].name) == 0)
                *port = s->listeners[j].bound_port;
        for (int j = 0; *port == 0 && j < s->cfg->nlistener_eps; j++)
            if (strcmp(s->cfg->listener_eps[j].name, b->adv[i].name) == 0)
                *port = s->cfg->listener_eps[j].port;
    }
    if (*port == 0 && s->nlisteners > 0)
        *port = s->listeners[0].bound_port;
    if (*port == 0 && cfg_port(s) > 0)
        *port = cfg_port(s);
    if (!host[0] || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0) {
        if (gethostname(host, hostlen) != 0 || !host[0])
            snprintf(host, hostlen, "127.0.0.1");
        host[hostlen - 1] = 0;
    }
}

/* Register /brokers/ids/<id>: host/port of the inter-broker listener
 * (inter.broker.listener.name), and every advertised endpoint with the
 * listener map, as Kafka lists them (issue 11). */
static int cluster_register(bk_server *s, char *err, size_t errlen)
{
    const bk_broker *b = &s->broker;
    char host[256];
    int port;
    int ib = s->cfg->inter_broker_ep >= 0 && s->cfg->inter_broker_ep < b->nadv
                 ? s->cfg->inter_broker_ep
                 : 0;
    reg_endpoint(s, ib, host, sizeof host, &port);
    bk_zk_broker *self = &s->cluster->self;
    size_t at = 0, pat = 0;
    self->eps[0] = self->protomap[0] = 0;
    for (int i = 0; i < b->nadv; i++) {
        char h[256];
        int p;
        reg_endpoint(s, i, h, sizeof h, &p);
        bool v6 = strchr(h, ':') != NULL;
        int sec = bk_config_listener_secproto(s->cfg, b->adv[i].name);
        static const char *const protos[] = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"};
        int n = snprintf(self->eps + at, sizeof self->eps - at, "%s%s://%s%s%s:%d", at ? "," : "",
                         b->adv[i].name, v6 ? "[" : "", h, v6 ? "]" : "", p);
        int m = snprintf(self->protomap + pat, sizeof self->protomap - pat, "%s%s:%s",
                         pat ? "," : "", b->adv[i].name, protos[sec < 0 ? 0 : sec]);
        if (n < 0 || (size_t)n >= sizeof self->eps - at || m < 0 ||
            (size_t)m >= sizeof self->protomap - pat) {
            self->eps[0] = self->protomap[0] = 0; /* too many: the single endpoint */
            break;
        }
        at += (size_t)n;
        pat += (size_t)m;
    }
    return bk_cluster_register(s->cluster, b->node_id, host, port, err, errlen);
}

int bk_server_init(bk_server *s, const bk_config *cfg, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->cfg = cfg;
    s->sigfd = -1;
    bk_ev_timer_init(&s->tick, tick_cb, s);
    int rc;

    int32_t node_id;
    char cluster_id[65];
    if ((rc = bk_ev_init(&s->ev)) != 0) {
        snprintf(err, errlen, "epoll: %s", strerror(errno));
        return rc;
    }
    s->ev_ok = true;
    if ((rc = setup_signals(s, err, errlen)) != 0)
        goto fail;
    if (cfg->log_level && !getenv("BROOK_LOG_LEVEL") && bk_log_level_parse(cfg->log_level) >= 0)
        bk_log_set_level(bk_log_level_parse(cfg->log_level));
    if ((rc = bk_mon_open(s, err, errlen)) != 0)
        goto fail;
    if (cfg->zookeeper_connect) {
        if ((rc = cluster_identity(s, &node_id, cluster_id, sizeof cluster_id, err, errlen)) != 0)
            goto fail;
    } else if ((rc = bk_meta_identity(cfg, &node_id, cluster_id, sizeof cluster_id, err,
                                      errlen)) != 0) {
        goto fail;
    }

    if ((rc = bk_broker_init(&s->broker, cfg, node_id, cluster_id)) != 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    s->broker_ok = true;
    if (bk_connlimit_check(cfg->max_connections_per_ip_overrides) != 0) {
        snprintf(err, errlen, "Invalid value %s for configuration max.connections.per.ip.overrides: "
                 "must be a list of host:count", cfg->max_connections_per_ip_overrides);
        rc = BK_EINVAL;
        goto fail;
    }
    if ((rc = bk_authz_open(&s->broker)) != 0) {
        snprintf(err, errlen, "authorizer: cannot load the ACLs: %s", bk_strerror(rc));
        goto fail;
    }
    if ((rc = bk_quotas_open(&s->broker)) != 0) {
        snprintf(err, errlen, "cannot load the client quotas: %s", bk_strerror(rc));
        goto fail;
    }

    if ((rc = open_storage(s, err, errlen)) != 0)
        goto fail;
    bk_broker_start(&s->broker, &s->ev, s->logmgr, s->topics);
    if (s->cluster) {
        s->broker.zkc = s->cluster;
        s->cluster->on_brokers = on_live_brokers;
        s->cluster->on_pstate = on_pstate;
        s->cluster->ud = &s->broker;
        s->broker.isr_change = zk_isr_change;
        s->broker.isr_change_ud = &s->broker;
        on_live_brokers(s->cluster, &s->broker);
        bk_cluster_attach_topics(s->cluster, s->topics);
        if ((rc = bk_authz_attach_zk(&s->broker)) != 0) {
            snprintf(err, errlen, "authorizer: cannot read the ACLs from ZooKeeper");
            goto fail;
        }
        if ((rc = bk_quotas_attach_zk(&s->broker)) != 0) {
            snprintf(err, errlen, "cannot read the client quotas from ZooKeeper");
            goto fail;
        }
        bk_pidstore *ps;
        if (s->broker.tcoord && bk_pidstore_zk_open(&ps, s->cluster) == 0)
            bk_tcoord_set_pidstore(s->broker.tcoord, ps);
    }

    bk_conn_opts opts = {
        .max_request_bytes = cfg->socket_request_max_bytes,
        .idle_ms = cfg->connections_max_idle_ms,
        .out_high_water = OUT_HIGH_WATER,
        .preauth_max_bytes = cfg->sasl_server_max_receive_size,
        .on_request = bk_broker_on_request,
        .on_close = NULL,
        .on_cancel = bk_broker_on_cancel,
        .on_timing = bk_broker_on_timing,
        .ud = &s->broker,
    };
    bk_conns_init(&s->conns, &s->ev, &opts);

    /* Cluster mode: register before listening when the port is known, so
     * no client is served before the broker is part of the cluster (and a
     * broker.id in use fails start-up before the port opens); with port 0
     * the bound port is needed first. */
    bool registered = false;
    if (s->cluster && (s->broker.nadv > 0 ? s->broker.adv[0].port : 0) + cfg_port(s) > 0) {
        if ((rc = cluster_register(s, err, errlen)) != 0)
            goto fail;
        registered = true;
    }

    for (int i = 0; i < cfg->nlistener_eps; i++) {
        int sec = bk_config_listener_secproto(cfg, cfg->listener_eps[i].name);
        bk_tls_ctx **x = sec == BK_SEC_SSL ? &s->tls : sec == BK_SEC_SASL_SSL ? &s->tls_sasl : NULL;
        if (x && !*x && !(*x = bk_tls_ctx_new(cfg, sec == BK_SEC_SASL_SSL, err, errlen))) {
            rc = BK_EINVAL;
            goto fail;
        }
    }
    s->listeners = calloc((size_t)cfg->nlistener_eps, sizeof *s->listeners);
    if (!s->listeners) {
        rc = BK_ENOMEM;
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (int i = 0; i < cfg->nlistener_eps; i++) {
        bk_listener *l = &s->listeners[i];
        rc = bk_listener_open(l, &s->ev, &cfg->listener_eps[i], cfg->socket_listen_backlog_size,
                              cfg->socket_send_buffer_bytes, cfg->socket_receive_buffer_bytes,
                              on_accept, s, err, errlen);
        if (rc != 0)
            goto fail;
        s->nlisteners++;
        bk_broker_set_bound_port(&s->broker, l->ep.name, l->bound_port);
    }
    if (s->cluster && !registered && (rc = cluster_register(s, err, errlen)) != 0)
        goto fail;
    bk_log(BK_LOG_INFO, "broker.id=%d cluster.id=%s", node_id, cluster_id);
    s->serving = true;
    return 0;

fail:
    bk_server_fini(s);
    return rc;
}

int bk_server_run(bk_server *s)
{
    return bk_ev_run(&s->ev);
}

/* Let answered requests leave: no new requests, connections close once
 * their output is sent; at most DRAIN_MS, less if a second signal comes. */
static void drain_connections(bk_server *s)
{
    int64_t deadline = bk_mono_ms_raw() + DRAIN_MS;
    s->ev.stop = false;
    while (s->conns.n > 0 && !s->ev.stop && bk_mono_ms_raw() < deadline)
        if (bk_ev_run_once(&s->ev, 50) != 0)
            break;
}

void bk_server_fini(bk_server *s)
{
    bk_cshut_free(s->cshut);
    s->cshut = NULL;
    /* Listeners first: no new clients while the others go away. */
    s->serving = false;
    if (s->ev_ok)
        bk_mon_close(s);
    for (int i = 0; i < s->nlisteners; i++)
        bk_listener_close(&s->listeners[i]);
    free(s->listeners);
    s->listeners = NULL;
    s->nlisteners = 0;
    if (s->ev_ok && s->broker_ok) {
        /* No new requests; long-polling fetches answer with what they have;
         * what is answered gets DRAIN_MS to leave. */
        bk_conns_quiesce(&s->conns);
        bk_broker_complete_delayed(&s->broker);
        drain_connections(s);
    }
    if (s->ev_ok)
        bk_conns_close_all(&s->conns);
    bk_tls_ctx_free(s->tls);
    bk_tls_ctx_free(s->tls_sasl);
    s->tls = s->tls_sasl = NULL;
    /* The session goes before the broker: parked CreateTopics complete
     * (with an error) and our ephemerals vanish at once. */
    if (s->cluster)
        bk_cluster_close(s->cluster);
    s->cluster = NULL;
    s->broker.zkc = NULL;
    if (s->broker_ok)
        bk_broker_fini(&s->broker); /* completes what close_all cancelled */
    s->broker_ok = false;
    if (s->topics)
        bk_topics_close(s->topics);
    s->topics = NULL;
    if (s->logmgr) {
        int64_t t0 = bk_mono_ms_raw();
        int rc = bk_logmgr_close(s->logmgr);
        if (rc != 0)
            bk_log(BK_LOG_ERROR, "log manager: unclean close (%s); the next start recovers",
                   bk_strerror(rc));
        else
            bk_log(BK_LOG_INFO, "storage closed cleanly in %lld ms",
                   (long long)(bk_mono_ms_raw() - t0));
    }
    s->logmgr = NULL;
    if (s->ev_ok) {
        bk_ev_timer_stop(&s->ev, &s->tick);
        if (s->bio_ok)
            bk_ev_io_stop(&s->ev, &s->bio_io);
    }
    if (s->bio_ok)
        bk_bio_stop();
    s->bio_ok = false;
    if (s->sigfd >= 0) {
        bk_ev_io_stop(&s->ev, &s->sig_io);
        close(s->sigfd);
        s->sigfd = -1;
    }
    if (s->ev_ok)
        bk_ev_fini(&s->ev);
    s->ev_ok = false;
}

void bk_server_describe_listeners(const bk_server *s, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = '\0';
    for (int i = 0; i < s->nlisteners && at < len; i++) {
        const bk_listener *l = &s->listeners[i];
        const char *host = l->ep.host[0] ? l->ep.host : l->bound_host;
        bool v6 = strchr(host, ':') != NULL;
        int w = snprintf(buf + at, len - at, "%s%s%s%s:%d", i ? ", " : "", v6 ? "[" : "", host,
                         v6 ? "]" : "", l->bound_port);
        if (w < 0)
            break;
        at += (size_t)w;
    }
}
