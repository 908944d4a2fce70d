/*
 * listener.c - see listener.h.
 */
#include "listener.h"

#include "../core/clock.h"
#include "../core/err.h"
#include "../core/log.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <unistd.h>

#define ACCEPTS_PER_WAKEUP 64 /* fairness with already connected clients */
#define EMFILE_BACKOFF_MS  100

void bk_sockaddr_host(const struct sockaddr *sa, socklen_t len, char *buf, size_t buflen)
{
    if (getnameinfo(sa, len, buf, (socklen_t)buflen, NULL, 0, NI_NUMERICHOST) != 0)
        snprintf(buf, buflen, "?");
}

void bk_sockaddr_str(const struct sockaddr *sa, socklen_t len, char *buf, size_t buflen)
{
    char host[INET6_ADDRSTRLEN + 8], port[8];
    if (getnameinfo(sa, len, host, sizeof host, port, sizeof port,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        snprintf(buf, buflen, "?");
        return;
    }
    if (sa->sa_family == AF_INET6)
        snprintf(buf, buflen, "[%s]:%s", host, port);
    else
        snprintf(buf, buflen, "%s:%s", host, port);
}

static void setup_client(bk_listener *l, int fd)
{
    int one = 1;
    /* Failures here only cost performance; the connection still works. */
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == -1)
        bk_log_rl(BK_LOG_DEBUG, "TCP_NODELAY: %s", strerror(errno));
    if (l->sndbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &l->sndbuf, sizeof l->sndbuf) == -1)
        bk_log_rl(BK_LOG_DEBUG, "SO_SNDBUF: %s", strerror(errno));
    if (l->rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &l->rcvbuf, sizeof l->rcvbuf) == -1)
        bk_log_rl(BK_LOG_DEBUG, "SO_RCVBUF: %s", strerror(errno));
}

static void retry_cb(bk_ev *ev, bk_ev_timer *t)
{
    bk_listener *l = t->data;
    if (l->fd >= 0)
        (void)bk_ev_io_set(ev, &l->io, BK_EV_READ);
}

static void accept_cb(bk_ev *ev, bk_ev_io *io, uint32_t events)
{
    bk_listener *l = io->data;
    for (int i = 0; i < ACCEPTS_PER_WAKEUP; i++) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof peer;
        int fd = accept4(l->fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd == -1) {
            int e = errno;
            if (e == EAGAIN || e == EWOULDBLOCK)
                return;
            if (e == EINTR || e == ECONNABORTED || e == EPROTO)
                continue; /* that client gave up; try the next one */
            if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
                bk_log_rl(BK_LOG_WARN, "accept on %s:%d: %s; pausing accepts for %d ms",
                          l->bound_host, l->bound_port, strerror(e), EMFILE_BACKOFF_MS);
                (void)bk_ev_io_set(ev, &l->io, 0);
                if (bk_ev_timer_start(ev, &l->retry, bk_now_ms() + EMFILE_BACKOFF_MS) != 0)
                    (void)bk_ev_io_set(ev, &l->io, BK_EV_READ);
                return;
            }
            bk_log_rl(BK_LOG_WARN, "accept on %s:%d: %s", l->bound_host, l->bound_port,
                      strerror(e));
            return;
        }
        setup_client(l, fd);
        l->on_accept(l, fd, &peer, plen);
    }
}

int bk_listener_open(bk_listener *l, bk_ev *ev, const bk_endpoint *ep, int backlog, int sndbuf,
                     int rcvbuf, bk_accept_cb *cb, void *data, char *err, size_t errlen)
{
    memset(l, 0, sizeof *l);
    l->ep = *ep;
    l->fd = -1;
    l->ev = ev;
    l->sndbuf = sndbuf;
    l->rcvbuf = rcvbuf;
    l->on_accept = cb;
    l->data = data;
    bk_ev_timer_init(&l->retry, retry_cb, l);

    char port[8];
    snprintf(port, sizeof port, "%d", ep->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    /* Empty host = all interfaces: prefer the IPv6 wildcard in dual-stack
     * mode (it also takes IPv4), falling back to 0.0.0.0. */
    int gai = getaddrinfo(ep->host[0] ? ep->host : NULL, port, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "listener %s://%s:%d: cannot resolve host: %s", ep->name, ep->host,
                 ep->port, gai_strerror(gai));
        return BK_EINVAL;
    }
    if (!ep->host[0]) {
        /* getaddrinfo lists 0.0.0.0 before :: on most systems; try :: first */
        struct addrinfo **pp = &res;
        while (*pp && (*pp)->ai_family != AF_INET6)
            pp = &(*pp)->ai_next;
        if (*pp && *pp != res) {
            struct addrinfo *v6 = *pp;
            *pp = v6->ai_next;
            v6->ai_next = res;
            res = v6;
        }
    }

    int fd = -1, saved = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd == -1) {
            saved = errno;
            continue;
        }
        int one = 1, zero = 0;
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (ai->ai_family == AF_INET6 && !ep->host[0])
            (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, backlog) == 0)
            break;
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd == -1) {
        snprintf(err, errlen, "listener %s://%s:%d: cannot listen: %s", ep->name, ep->host,
                 ep->port, strerror(saved));
        return BK_EIO;
    }

    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == -1) {
        saved = errno;
        close(fd);
        snprintf(err, errlen, "listener %s: getsockname: %s", ep->name, strerror(saved));
        return BK_EIO;
    }
    bk_sockaddr_host((struct sockaddr *)&ss, sl, l->bound_host, sizeof l->bound_host);
    l->bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                   : ((struct sockaddr_in *)&ss)->sin_port);
    l->fd = fd;
    bk_ev_io_init(&l->io, fd, accept_cb, l);
    if (bk_ev_io_start(ev, &l->io, BK_EV_READ) != 0) {
        saved = errno;
        bk_listener_close(l);
        snprintf(err, errlen, "listener %s: epoll: %s", ep->name, strerror(saved));
        return BK_EIO;
    }
    return 0;
}

void bk_listener_close(bk_listener *l)
{
    if (l->fd < 0)
        return;
    bk_ev_timer_stop(l->ev, &l->retry);
    bk_ev_io_stop(l->ev, &l->io);
    close(l->fd);
    l->fd = -1;
}
