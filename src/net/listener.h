/*
 * listener.h - listening sockets ("PLAINTEXT://host:port") and accept.
 *
 * A listener binds its endpoint (empty host = all interfaces, IPv6 and
 * IPv4 where the system allows it; port 0 = ephemeral, the real port is in
 * bound_port after open), sets SO_REUSEADDR so a restarted broker can bind
 * while old connections sit in TIME_WAIT, and registers itself with the
 * loop. Accepted sockets are non-blocking and close-on-exec, with
 * TCP_NODELAY (responses are complete messages; Nagle would only add
 * latency) and the configured SO_SNDBUF/SO_RCVBUF; then they are handed to
 * on_accept, which owns the fd from then on.
 *
 * When accept fails for lack of descriptors (EMFILE/ENFILE), the listener
 * stops watching for 100 ms instead of spinning on the level-triggered
 * readiness it cannot clear.
 *
 * Thread: loop thread.
 */
#ifndef BK_LISTENER_H
#define BK_LISTENER_H

#include "../core/config.h"
#include "ev.h"

#include <sys/socket.h>

typedef struct bk_listener bk_listener;

/* fd is owned by the callee; peer is the client address. */
typedef void bk_accept_cb(bk_listener *l, int fd, const struct sockaddr_storage *peer,
                          socklen_t peerlen);

struct bk_listener {
    bk_endpoint ep;      /* as configured */
    int fd;              /* owned; -1 when closed */
    char bound_host[64]; /* numeric address actually bound ("0.0.0.0", "::") */
    int bound_port;      /* real port (differs from ep.port when that was 0) */
    int sndbuf, rcvbuf;  /* for accepted sockets; -1 = OS default */
    bk_ev *ev;           /* borrowed */
    bk_ev_io io;
    bk_ev_timer retry; /* re-enable accept after EMFILE */
    bk_accept_cb *on_accept;
    void *data; /* owner's context */
};

/* Bind, listen and start accepting. Blocking name resolution of ep->host
 * happens here (start-up only). On failure returns BK_EIO/BK_EINVAL and
 * writes a message naming the endpoint to err. */
int bk_listener_open(bk_listener *l, bk_ev *ev, const bk_endpoint *ep, int backlog, int sndbuf,
                     int rcvbuf, bk_accept_cb *cb, void *data, char *err, size_t errlen);
void bk_listener_close(bk_listener *l);

/* "host:port" of a socket address (numeric), for logs. */
void bk_sockaddr_str(const struct sockaddr *sa, socklen_t len, char *buf, size_t buflen);
/* Numeric host only (no port, no brackets). */
void bk_sockaddr_host(const struct sockaddr *sa, socklen_t len, char *buf, size_t buflen);

#endif
