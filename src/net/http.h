/*
 * http.h - a minimal HTTP/1.1 server on the event loop, for /metrics,
 * /health and /ready (monitoring, not a web server).
 *
 * One request per connection: the server reads the request head (request
 * line and headers, up to BK_HTTP_HEAD_MAX bytes), ignores any body, asks
 * the owner's handler for the answer, writes it with "Connection: close"
 * and closes once it is sent. Prometheus and load-balancer probes reconnect
 * per scrape; keep-alive would save one handshake a second and is not worth
 * the state.
 *
 * Hostile input. Nothing a client sends can block the loop or grow memory
 * beyond a fixed bound:
 *   - the head is read into a fixed BK_HTTP_HEAD_MAX buffer; a head that
 *     does not fit is answered 431 and the connection closed;
 *   - a request line that is not "METHOD SP target SP HTTP/1.x" is 400;
 *     methods other than GET and HEAD are 405;
 *   - every connection has a deadline of BK_HTTP_TIMEOUT_MS from accept to
 *     the last byte of the answer (slowloris, stalled readers);
 *   - at most BK_HTTP_MAX_CONNS connections are open; further ones are
 *     accepted and closed at once (the listen backlog does not fill up
 *     behind them);
 *   - responses go out with non-blocking send(); a client that does not
 *     read holds only its own buffer until its deadline.
 *
 * Thread: loop thread.
 */
#ifndef BK_HTTP_H
#define BK_HTTP_H

#include "../core/buf.h"
#include "listener.h"

#define BK_HTTP_HEAD_MAX   8192
#define BK_HTTP_TIMEOUT_MS 10000
#define BK_HTTP_MAX_CONNS  32

typedef struct bk_http_conn bk_http_conn;

/* The handler: path (without query string), fill body and content type;
 * returns the status code (200, 404, 503, ...). body is empty on entry. */
typedef int bk_http_handler(void *ud, const char *path, bk_wr *body, const char **content_type);

typedef struct bk_http_server {
    bk_listener l;
    bk_ev *ev;
    bool open;
    bk_http_conn *head; /* owned: open connections */
    int nconns;
    uint64_t requests, rejected; /* answered; refused (cap, bad input) */
    bk_http_handler *handler;
    void *ud;
} bk_http_server;

/* url: "http://host:port" (host empty = all interfaces, port 0 =
 * ephemeral; the bound port is srv->l.bound_port). BK_EINVAL/BK_EIO with
 * a message in err. */
int bk_http_open(bk_http_server *srv, bk_ev *ev, const char *url, bk_http_handler *h, void *ud,
                 char *err, size_t errlen);
/* Close the listener and every connection. */
void bk_http_close(bk_http_server *srv);

/* Parse the head in buf[0..len) (it ends with CRLF CRLF or LF LF). Returns
 * 0 with method and path copied out (path without the query string), or
 * the status to answer (400, 405 is the caller's). Exposed for tests. */
int bk_http_parse_head(const char *buf, size_t len, char *method, size_t mlen, char *path,
                       size_t plen);

#endif
