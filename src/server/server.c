/* server.c - see server.h. */
#include "server.h"

#include "../broker/meta_props.h"
#include "../core/log.h"

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

static void signal_cb(bk_ev *ev, bk_ev_io *io, uint32_t events)
{
    bk_server *s = io->data;
    struct signalfd_siginfo si;
    ssize_t n = read(s->sigfd, &si, sizeof si);
    if (n != (ssize_t)sizeof si)
        return;
    s->stop_signal = (int)si.ssi_signo;
    bk_log(BK_LOG_INFO, "received %s, shutting down", strsignal((int)si.ssi_signo));
    bk_ev_stop(ev);
}

static void on_accept(bk_listener *l, int fd, const struct sockaddr_storage *peer,
                      socklen_t peerlen)
{
    bk_server *s = l->data;
    (void)bk_conn_accept(&s->conns, fd, peer, peerlen, l->ep.name);
}

static int setup_signals(bk_server *s, char *err, size_t errlen)
{
    /* SIG_IGN (not a handler) so it also survives into threads. */
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
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

int bk_server_init(bk_server *s, const bk_config *cfg, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->cfg = cfg;
    s->sigfd = -1;
    int rc;

    int32_t node_id;
    char cluster_id[65];
    if ((rc = bk_meta_identity(cfg, &node_id, cluster_id, sizeof cluster_id, err, errlen)) != 0)
        return rc;

    if ((rc = bk_ev_init(&s->ev)) != 0) {
        snprintf(err, errlen, "epoll: %s", strerror(errno));
        return rc;
    }
    s->ev_ok = true;
    if ((rc = setup_signals(s, err, errlen)) != 0)
        goto fail;

    if ((rc = bk_broker_init(&s->broker, cfg, node_id, cluster_id)) != 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    s->broker_ok = true;

    bk_conn_opts opts = {
        .max_request_bytes = cfg->socket_request_max_bytes,
        .idle_ms = cfg->connections_max_idle_ms,
        .out_high_water = OUT_HIGH_WATER,
        .on_request = bk_broker_on_request,
        .on_close = NULL,
        .ud = &s->broker,
    };
    bk_conns_init(&s->conns, &s->ev, &opts);

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
    bk_log(BK_LOG_INFO, "broker.id=%d cluster.id=%s", node_id, cluster_id);
    return 0;

fail:
    bk_server_fini(s);
    return rc;
}

int bk_server_run(bk_server *s)
{
    return bk_ev_run(&s->ev);
}

void bk_server_fini(bk_server *s)
{
    /* Listeners first: no new clients while the others go away. */
    for (int i = 0; i < s->nlisteners; i++)
        bk_listener_close(&s->listeners[i]);
    free(s->listeners);
    s->listeners = NULL;
    s->nlisteners = 0;
    if (s->ev_ok)
        bk_conns_close_all(&s->conns);
    if (s->broker_ok)
        bk_broker_fini(&s->broker);
    s->broker_ok = false;
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
