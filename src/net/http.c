/* http.c - see http.h. */
#include "http.h"

#include "../core/clock.h"
#include "../core/err.h"
#include "../core/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

struct bk_http_conn {
    bk_http_server *srv;
    bk_http_conn *prev, *next;
    int fd;
    bk_ev_io io;
    bk_ev_timer deadline;
    char peer[64];
    char head[BK_HTTP_HEAD_MAX];
    size_t hlen;
    bk_wr out; /* the whole response */
    size_t sent;
    bool responding;
};

static void hc_close(bk_http_conn *hc)
{
    bk_http_server *s = hc->srv;
    bk_ev_io_stop(s->ev, &hc->io);
    bk_ev_timer_stop(s->ev, &hc->deadline);
    close(hc->fd);
    if (hc->prev)
        hc->prev->next = hc->next;
    else
        s->head = hc->next;
    if (hc->next)
        hc->next->prev = hc->prev;
    s->nconns--;
    bk_wr_fini(&hc->out);
    free(hc);
}

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 431:
        return "Request Header Fields Too Large";
    case 503:
        return "Service Unavailable";
    default:
        return status < 500 ? "Client Error" : "Server Error";
    }
}

/* Write what the socket takes; close when all is out or on error. */
static void hc_flush(bk_http_conn *hc)
{
    while (hc->sent < hc->out.len) {
        ssize_t n = send(hc->fd, hc->out.buf + hc->sent, hc->out.len - hc->sent,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            hc->sent += (size_t)n;
            continue;
        }
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (bk_ev_io_set(hc->srv->ev, &hc->io, BK_EV_WRITE) != 0)
                hc_close(hc);
            return;
        }
        hc_close(hc);
        return;
    }
    /* Everything is out: half-close, then close. The client reads to EOF. */
    shutdown(hc->fd, SHUT_WR);
    hc_close(hc);
}

static void hc_respond(bk_http_conn *hc, int status, const char *ctype, const bk_wr *body,
                       bool head_only)
{
    hc->responding = true;
    bk_wr_reset(&hc->out);
    size_t blen = body ? body->len : 0;
    char hdr[256];
    int n = snprintf(hdr, sizeof hdr,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, reason(status), ctype, blen);
    bk_wr_mem(&hc->out, hdr, (size_t)n);
    if (body && blen && !head_only)
        bk_wr_mem(&hc->out, body->buf, blen);
    if (hc->out.err) {
        hc_close(hc);
        return;
    }
    (void)bk_ev_io_set(hc->srv->ev, &hc->io, 0);
    hc_flush(hc);
}

static void hc_error(bk_http_conn *hc, int status)
{
    bk_wr b;
    char text[64];
    snprintf(text, sizeof text, "%d %s\n", status, reason(status));
    bk_wr_init_fixed(&b, text, sizeof text);
    b.len = strlen(text);
    hc->srv->rejected++;
    hc_respond(hc, status, "text/plain; charset=utf-8", &b, false);
}

int bk_http_parse_head(const char *buf, size_t len, char *method, size_t mlen, char *path,
                       size_t plen)
{
    const char *eol = memchr(buf, '\n', len);
    if (!eol)
        return 400;
    size_t l = (size_t)(eol - buf);
    if (l && buf[l - 1] == '\r')
        l--;
    const char *sp1 = memchr(buf, ' ', l);
    if (!sp1 || sp1 == buf || (size_t)(sp1 - buf) >= mlen)
        return 400;
    const char *t = sp1 + 1;
    const char *sp2 = memchr(t, ' ', l - (size_t)(t - buf));
    if (!sp2 || sp2 == t)
        return 400;
    const char *ver = sp2 + 1;
    size_t vlen = l - (size_t)(ver - buf);
    if (vlen != 8 || memcmp(ver, "HTTP/1.", 7) != 0 || (ver[7] != '0' && ver[7] != '1'))
        return 400;
    for (const char *p = buf; p < sp1; p++)
        if (*p < 'A' || *p > 'Z')
            return 400;
    size_t tl = (size_t)(sp2 - t);
    const char *q = memchr(t, '?', tl);
    if (q)
        tl = (size_t)(q - t);
    if (tl == 0 || tl >= plen || t[0] != '/')
        return 400;
    for (size_t i = 0; i < tl; i++)
        if ((unsigned char)t[i] <= ' ' || (unsigned char)t[i] >= 0x7f)
            return 400;
    memcpy(method, buf, (size_t)(sp1 - buf));
    method[sp1 - buf] = '\0';
    memcpy(path, t, tl);
    path[tl] = '\0';
    return 0;
}

/* The end of the head in the buffer, or 0 if not there yet. */
static size_t head_end(const char *b, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (b[i] != '\n')
            continue;
        if (b[i + 1] == '\n')
            return i + 2;
        if (i + 2 < n && b[i + 1] == '\r' && b[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

static void hc_request(bk_http_conn *hc, size_t end)
{
    char method[16], path[256];
    int st = bk_http_parse_head(hc->head, end, method, sizeof method, path, sizeof path);
    if (st) {
        hc_error(hc, st);
        return;
    }
    bool head_only = strcmp(method, "HEAD") == 0;
    if (!head_only && strcmp(method, "GET") != 0) {
        hc_error(hc, 405);
        return;
    }
    bk_http_server *s = hc->srv;
    bk_wr body;
    bk_wr_init(&body, 4096);
    const char *ctype = "text/plain; charset=utf-8";
    int status = s->handler(s->ud, path, &body, &ctype);
    s->requests++;
    if (body.err) {
        bk_wr_fini(&body);
        hc_error(hc, 500);
        return;
    }
    hc_respond(hc, status, ctype, &body, head_only);
    bk_wr_fini(&body);
}

static void hc_io(bk_ev *ev, bk_ev_io *io, uint32_t events)
{
    BK_UNUSED(ev);
    bk_http_conn *hc = io->data;
    if (hc->responding) {
        if (events & (BK_EV_WRITE | BK_EV_ERROR))
            hc_flush(hc);
        return;
    }
    if (hc->hlen == sizeof hc->head) { /* cannot happen: answered below */
        hc_close(hc);
        return;
    }
    ssize_t n = read(hc->fd, hc->head + hc->hlen, sizeof hc->head - hc->hlen);
    if (n == 0 || (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        hc_close(hc);
        return;
    }
    if (n < 0)
        return;
    size_t from = hc->hlen > 3 ? hc->hlen - 3 : 0;
    hc->hlen += (size_t)n;
    size_t end = head_end(hc->head + from, hc->hlen - from);
    if (end) {
        hc_request(hc, from + end);
        return;
    }
    if (hc->hlen == sizeof hc->head)
        hc_error(hc, 431);
}

static void hc_timeout(bk_ev *ev, bk_ev_timer *t)
{
    BK_UNUSED(ev);
    bk_http_conn *hc = t->data;
    hc->srv->rejected++;
    hc_close(hc);
}

static void on_accept(bk_listener *l, int fd, const struct sockaddr_storage *peer,
                      socklen_t peerlen)
{
    bk_http_server *s = l->data;
    if (s->nconns >= BK_HTTP_MAX_CONNS) {
        s->rejected++;
        bk_log_rl(BK_LOG_WARN, "metrics listener: %d connections open; refusing another",
                  s->nconns);
        close(fd);
        return;
    }
    bk_http_conn *hc = calloc(1, sizeof *hc);
    if (!hc) {
        close(fd);
        return;
    }
    hc->srv = s;
    hc->fd = fd;
    bk_sockaddr_str((const struct sockaddr *)peer, peerlen, hc->peer, sizeof hc->peer);
    bk_wr_init(&hc->out, 0);
    bk_ev_io_init(&hc->io, fd, hc_io, hc);
    bk_ev_timer_init(&hc->deadline, hc_timeout, hc);
    hc->next = s->head;
    if (s->head)
        s->head->prev = hc;
    s->head = hc;
    s->nconns++;
    if (bk_ev_io_start(s->ev, &hc->io, BK_EV_READ) != 0 ||
        bk_ev_timer_start(s->ev, &hc->deadline, bk_now_ms() + BK_HTTP_TIMEOUT_MS) != 0)
        hc_close(hc);
}

int bk_http_open(bk_http_server *srv, bk_ev *ev, const char *url, bk_http_handler *h, void *ud,
                 char *err, size_t errlen)
{
    memset(srv, 0, sizeof *srv);
    srv->ev = ev;
    srv->handler = h;
    srv->ud = ud;
    bk_endpoint ep;
    const char *why = NULL;
    if (bk_endpoint_parse(url, &ep, &why) != 0 || strcmp(ep.name, "HTTP") != 0) {
        snprintf(err, errlen, "metrics.listener %s: %s", url, why ? why : "expected http://host:port");
        return BK_EINVAL;
    }
    int rc = bk_listener_open(&srv->l, ev, &ep, 64, -1, -1, on_accept, srv, err, errlen);
    if (rc != 0)
        return rc;
    srv->open = true;
    return 0;
}

void bk_http_close(bk_http_server *srv)
{
    if (!srv->open)
        return;
    bk_listener_close(&srv->l);
    while (srv->head)
        hc_close(srv->head);
    srv->open = false;
}
