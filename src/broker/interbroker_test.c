/*
 * interbroker_test.c - the inter-broker client on the real event loop
 * against a tiny in-process server: answers in order over one connection,
 * a host name resolved off the loop, an unknown destination, connection
 * refused, a request timeout, cancellation and shutdown.
 */
#include "interbroker.h"

#include "../../tests/unit.h"
#include "../core/clock.h"
#include "../proto/api.h"
#include "replica.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define KEY_API_VERSIONS 18

void bk_test_interbroker(void);

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* The server: accepts, and - unless mute - answers every ApiVersions v0
 * request with ErrorCode = its correlation id's low bits. */
typedef struct srv {
    bk_ev *ev;
    int lfd, cfd;
    bk_ev_io lio, cio;
    bool mute;
    uint8_t in[4096];
    size_t in_len;
    int requests;
} srv;

static void srv_read(bk_ev *ev, bk_ev_io *io, uint32_t events)
{
    srv *s = io->data;
    ssize_t n = recv(s->cfd, s->in + s->in_len, sizeof s->in - s->in_len, 0);
    if (n <= 0) {
        bk_ev_io_stop(ev, io);
        close(s->cfd);
        s->cfd = -1;
        return;
    }
    s->in_len += (size_t)n;
    while (s->in_len >= 4) {
        uint32_t sz = bk_get_be32(s->in);
        if (s->in_len < 4 + sz)
            return;
        int32_t corr = (int32_t)bk_get_be32(s->in + 8);
        s->requests++;
        if (!s->mute) {
            /* size, correlation id, ErrorCode, ApiKeys [] */
            uint8_t out[14];
            put_be32(out, 10);
            put_be32(out + 4, (uint32_t)corr);
            out[8] = 0;
            out[9] = (uint8_t)(corr & 0x3f);
            put_be32(out + 10, 0);
            BK_CHECK(send(s->cfd, out, sizeof out, MSG_NOSIGNAL) == (ssize_t)sizeof out);
        }
        memmove(s->in, s->in + 4 + sz, s->in_len - 4 - sz);
        s->in_len -= 4 + sz;
    }
}

static void srv_accept(bk_ev *ev, bk_ev_io *io, uint32_t events)
{
    srv *s = io->data;
    int fd = accept(s->lfd, NULL, NULL);
    if (fd < 0)
        return;
    if (s->cfd >= 0) {
        bk_ev_io_stop(ev, &s->cio);
        close(s->cfd);
    }
    s->cfd = fd;
    s->in_len = 0;
    bk_ev_io_init(&s->cio, fd, srv_read, s);
    BK_CHECK(bk_ev_io_start(ev, &s->cio, BK_EV_READ) == 0);
}

static int srv_start(srv *s, bk_ev *ev)
{
    memset(s, 0, sizeof *s);
    s->ev = ev;
    s->cfd = -1;
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    BK_CHECK(bind(s->lfd, (struct sockaddr *)&a, sizeof a) == 0);
    BK_CHECK(listen(s->lfd, 8) == 0);
    BK_CHECK(getsockname(s->lfd, (struct sockaddr *)&a, &al) == 0);
    bk_ev_io_init(&s->lio, s->lfd, srv_accept, s);
    BK_CHECK(bk_ev_io_start(ev, &s->lio, BK_EV_READ) == 0);
    return ntohs(a.sin_port);
}

static void srv_stop(srv *s)
{
    if (s->cfd >= 0) {
        bk_ev_io_stop(s->ev, &s->cio);
        close(s->cfd);
    }
    bk_ev_io_stop(s->ev, &s->lio);
    close(s->lfd);
}

/* What the callbacks saw. */
typedef struct seen {
    int calls;
    int rc[16];
    int16_t err[16];
} seen;

static void cb(void *arg, int rc, const void *resp)
{
    seen *w = arg;
    if (w->calls < 16) {
        w->rc[w->calls] = rc;
        w->err[w->calls] = rc == 0 ? ((const bk_ApiVersionsResponse *)resp)->ErrorCode : -1;
    }
    w->calls++;
}

static void run_until(bk_ev *ev, bk_ib *ib, const int *calls, int want, int64_t ms)
{
    int64_t end = bk_mono_ms_raw() + ms;
    while (*calls < want && bk_mono_ms_raw() < end) {
        bk_ev_run_once(ev, 20);
        bk_ib_tick(ib, bk_now_ms());
    }
}

static int send_av(bk_ib *ib, int32_t dest, int32_t timeout_ms, seen *w)
{
    bk_ApiVersionsRequest rq;
    bk_ApiVersionsRequest_init(&rq);
    return bk_ib_send(ib, dest, KEY_API_VERSIONS, 0, &rq, timeout_ms, cb, w);
}

void bk_test_interbroker(void)
{
    bk_config cfg;
    BK_CHECK(bk_config_init(&cfg) == 0);
    bk_ev ev;
    BK_CHECK(bk_ev_init(&ev) == 0);
    bk_broker b;
    memset(&b, 0, sizeof b);
    b.cfg = &cfg;
    b.ev = &ev;
    b.node_id = 0;
    srv s;
    int port = srv_start(&s, &ev);
    /* a closed port: bind, note, close */
    int tmp = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    BK_CHECK(bind(tmp, (struct sockaddr *)&a, sizeof a) == 0);
    BK_CHECK(getsockname(tmp, (struct sockaddr *)&a, &al) == 0);
    int dead_port = ntohs(a.sin_port);
    close(tmp);
    bk_live_broker lv[3] = {{.id = 1, .port = port}, {.id = 2, .port = port}, {.id = 3}};
    snprintf(lv[0].host, sizeof lv[0].host, "127.0.0.1");
    snprintf(lv[1].host, sizeof lv[1].host, "localhost");
    snprintf(lv[2].host, sizeof lv[2].host, "127.0.0.1");
    lv[2].port = dead_port;
    BK_CHECK(bk_broker_set_live(&b, lv, 3) == 0);
    bk_ib *ib = bk_ib_new(&b);
    BK_CHECK(ib != NULL);

    bk_unit_case("interbroker: answers in order, never from inside send");
    seen w1 = {0};
    for (int i = 0; i < 3; i++)
        BK_CHECK(send_av(ib, 1, 5000, &w1) == 0);
    BK_CHECK(w1.calls == 0 && bk_ib_pending(ib) == 3);
    run_until(&ev, ib, &w1.calls, 3, 5000);
    BK_CHECK(w1.calls == 3);
    for (int i = 0; i < 3; i++)
        BK_CHECK(w1.rc[i] == 0 && w1.err[i] == i + 1); /* correlation ids 1, 2, 3 */
    BK_CHECK(bk_ib_pending(ib) == 0);

    bk_unit_case("interbroker: a host name is resolved off the loop");
    seen w2 = {0};
    BK_CHECK(send_av(ib, 2, 5000, &w2) == 0);
    run_until(&ev, ib, &w2.calls, 1, 5000);
    BK_CHECK(w2.calls == 1 && w2.rc[0] == 0 && w2.err[0] == 1);

    bk_unit_case("interbroker: unknown destination, connection refused");
    seen w3 = {0};
    BK_CHECK(send_av(ib, 9, 5000, &w3) == 0);
    BK_CHECK(send_av(ib, 3, 5000, &w3) == 0);
    run_until(&ev, ib, &w3.calls, 2, 5000);
    BK_CHECK(w3.calls == 2);
    BK_CHECK((w3.rc[0] == BK_ENOENT && w3.rc[1] == BK_EIO) ||
             (w3.rc[1] == BK_ENOENT && w3.rc[0] == BK_EIO));
    BK_CHECK(send_av(ib, 1, 5000, &w3) == 0 && bk_ib_send(ib, 1, 9999, 0, NULL, 1, cb, &w3) ==
                                                  BK_EINVAL);

    bk_unit_case("interbroker: a request without an answer times out; the next one goes");
    run_until(&ev, ib, &w3.calls, 3, 5000);
    s.mute = true;
    seen w4 = {0};
    int64_t t0 = bk_mono_ms_raw();
    BK_CHECK(send_av(ib, 1, 300, &w4) == 0);
    run_until(&ev, ib, &w4.calls, 1, 5000);
    BK_CHECK(w4.calls == 1 && w4.rc[0] == BK_EAGAIN && bk_mono_ms_raw() - t0 >= 300);
    s.mute = false;
    BK_CHECK(send_av(ib, 1, 5000, &w4) == 0);
    run_until(&ev, ib, &w4.calls, 2, 5000);
    BK_CHECK(w4.calls == 2 && w4.rc[1] == 0);

    bk_unit_case("interbroker: cancel and shutdown");
    seen w5 = {0}, w6 = {0};
    BK_CHECK(send_av(ib, 1, 5000, &w5) == 0);
    BK_CHECK(send_av(ib, 1, 5000, &w6) == 0);
    bk_ib_cancel(ib, &w5);
    run_until(&ev, ib, &w6.calls, 1, 5000);
    BK_CHECK(w5.calls == 0 && w6.calls == 1 && w6.rc[0] == 0);
    s.mute = true;
    seen w7 = {0};
    BK_CHECK(send_av(ib, 1, 5000, &w7) == 0);
    for (int i = 0; i < 5; i++)
        bk_ev_run_once(&ev, 10);
    bk_ib_free(ib);
    BK_CHECK(w7.calls == 1 && w7.rc[0] == BK_EAGAIN);

    srv_stop(&s);
    free(b.live);
    bk_ev_fini(&ev);
    bk_config_fini(&cfg);
}
