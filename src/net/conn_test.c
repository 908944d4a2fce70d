/*
 * conn_test.c - framing, ordering, deferral, splices, limits and timeouts
 * of net/conn.c over a socketpair, with a fake handler.
 */
#include "conn.h"

#include "../../tests/unit.h"
#include "../core/clock.h"
#include "../core/log.h"
#include "../core/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct tctx {
    int calls;
    int32_t corrs[64];
    bool defer; /* defer the next request */
    bk_req *deferred;
    size_t big;    /* body size of each response (0: 4 bytes) */
    int splice_fd; /* >= 0: respond "AB" + file[2..7) + "CD" */
    int closes;
} tctx;

static int handler(bk_req *req, void *ud)
{
    tctx *t = ud;
    if (t->calls < 64)
        t->corrs[t->calls] = req->hdr.correlation_id;
    t->calls++;
    if (req->hdr.api_key == 3)
        return BK_EPARSE; /* "malformed body" */
    if (t->defer) {
        t->defer = false;
        t->deferred = req;
        return BK_EAGAIN;
    }
    bk_wr *w = bk_req_respond_begin(req, 0, 0);
    if (t->splice_fd >= 0) {
        bk_wr_mem(w, "AB", 2);
        bk_wr_splice(w, t->splice_fd, 2, 5);
        bk_wr_mem(w, "CD", 2);
    } else if (t->big) {
        uint8_t *p = bk_wr_take(w, t->big);
        if (p)
            memset(p, 'x', t->big);
    } else {
        bk_wr_i32(w, req->hdr.correlation_id * 2);
    }
    return bk_req_respond_end(req, 0);
}

static void on_close(bk_conn *c, void *ud)
{
    ((tctx *)ud)->closes++;
}

/* ApiVersions v0 request frame (header v1, null client id). */
static size_t request(uint8_t *out, int16_t key, int32_t corr)
{
    bk_be32(out, 10);
    bk_be16(out + 4, (uint16_t)key);
    bk_be16(out + 6, 0);
    bk_be32(out + 8, (uint32_t)corr);
    bk_be16(out + 12, 0xFFFF);
    return 14;
}

typedef struct fixture {
    bk_ev ev;
    bk_conns cs;
    tctx t;
    int cli; /* our end */
} fixture;

static void setup(fixture *f, int64_t idle_ms, size_t high_water)
{
    memset(f, 0, sizeof *f);
    f->t.splice_fd = -1;
    BK_CHECK(bk_ev_init(&f->ev) == 0);
    bk_conn_opts o = {.max_request_bytes = 1000,
                      .idle_ms = idle_ms,
                      .out_high_water = high_water,
                      .on_request = handler,
                      .on_close = on_close,
                      .ud = &f->t};
    bk_conns_init(&f->cs, &f->ev, &o);
    int sv[2];
    BK_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    f->cli = sv[0];
    struct sockaddr_storage ss = {.ss_family = AF_UNIX};
    BK_CHECK(bk_conn_accept(&f->cs, sv[1], &ss, sizeof(sa_family_t), "TEST") == 0);
}

static void teardown(fixture *f)
{
    bk_conns_close_all(&f->cs);
    close(f->cli);
    bk_ev_fini(&f->ev);
}

static void pump(fixture *f, int rounds)
{
    for (int i = 0; i < rounds; i++)
        bk_ev_run_once(&f->ev, 2);
}

/* Read what is there; returns bytes, 0 on EOF, -1 if nothing yet. */
static ssize_t drain(fixture *f, uint8_t *buf, size_t cap)
{
    size_t got = 0;
    for (;;) {
        ssize_t n = read(f->cli, buf + got, cap - got);
        if (n > 0) {
            got += (size_t)n;
            if (got == cap)
                return (ssize_t)got;
            continue;
        }
        if (n == 0)
            return got ? (ssize_t)got : 0;
        return got ? (ssize_t)got : -1;
    }
}

static bool peer_closed(fixture *f)
{
    uint8_t b[4096];
    for (int i = 0; i < 50; i++) {
        pump(f, 1);
        ssize_t n = read(f->cli, b, sizeof b);
        if (n == 0 || (n == -1 && errno == ECONNRESET))
            return true;
    }
    return false;
}

static void test_basic_and_pipelined(void)
{
    fixture f;
    uint8_t req[14 * 20], resp[4096];
    BK_TEST("conn: one request, then 20 pipelined, answered in order");
    setup(&f, -1, 1 << 20);
    size_t n = request(req, 18, 7);
    BK_CHECK(write(f.cli, req, n) == (ssize_t)n);
    pump(&f, 3);
    BK_CHECK(drain(&f, resp, sizeof resp) == 12);
    BK_CHECK(bk_get_be32(resp) == 8 && bk_get_be32(resp + 4) == 7 && bk_get_be32(resp + 8) == 14);

    n = 0;
    for (int i = 0; i < 20; i++)
        n += request(req + n, 18, 100 + i);
    BK_CHECK(write(f.cli, req, n) == (ssize_t)n);
    pump(&f, 3);
    BK_CHECK(drain(&f, resp, sizeof resp) == 20 * 12);
    for (int i = 0; i < 20; i++)
        BK_CHECK(bk_get_be32(resp + 12 * i + 4) == (uint32_t)(100 + i));

    BK_TEST("conn: a frame arriving one byte at a time");
    n = request(req, 18, 55);
    for (size_t i = 0; i < n; i++) {
        BK_CHECK(write(f.cli, req + i, 1) == 1);
        pump(&f, 1);
    }
    BK_CHECK(drain(&f, resp, sizeof resp) == 12 && bk_get_be32(resp + 4) == 55);
    teardown(&f);
    BK_CHECK(f.t.closes == 1);
}

static void test_deferred(void)
{
    fixture f;
    uint8_t req[64], resp[256];
    BK_TEST("conn: a deferred request holds back the next one; order is kept");
    setup(&f, -1, 1 << 20);
    f.t.defer = true;
    size_t n = request(req, 18, 1);
    n += request(req + n, 18, 2);
    BK_CHECK(write(f.cli, req, n) == (ssize_t)n);
    pump(&f, 3);
    BK_CHECK(f.t.calls == 1 && f.t.deferred);
    BK_CHECK(drain(&f, resp, sizeof resp) == -1);
    /* complete it now */
    bk_req *r = f.t.deferred;
    bk_wr *w = bk_req_respond_begin(r, 0, 0);
    bk_wr_i32(w, 111);
    BK_CHECK(bk_req_respond_end(r, 0) == 0);
    bk_req_done(r, 0);
    pump(&f, 3);
    BK_CHECK(f.t.calls == 2);
    BK_CHECK(drain(&f, resp, sizeof resp) == 24);
    BK_CHECK(bk_get_be32(resp + 4) == 1 && bk_get_be32(resp + 8) == 111);
    BK_CHECK(bk_get_be32(resp + 16) == 2 && bk_get_be32(resp + 20) == 4);
    teardown(&f);
}

/* on_timing: remember the last request's times. */
static int ntimings;
static uint64_t last_us[BK_RT_N];
static int16_t last_key;

static void timing_cb(bk_conn *c, int16_t key, int16_t ver, const uint64_t *us, void *ud)
{
    ntimings++;
    last_key = key;
    memcpy(last_us, us, sizeof last_us);
}

static void test_timing(void)
{
    fixture f;
    uint8_t req[14 * 21], resp[4096];
    BK_TEST("conn: on_timing: once per request, remote time of a deferred one, send time");
    setup(&f, -1, 1 << 20);
    f.cs.opts.on_timing = timing_cb;
    ntimings = 0;
    size_t n = 0;
    for (int i = 0; i < 21; i++)
        n += request(req + n, 18, i);
    BK_CHECK(write(f.cli, req, n) == (ssize_t)n);
    pump(&f, 3);
    BK_CHECK(drain(&f, resp, sizeof resp) == 21 * 12);
    BK_CHECK(ntimings == 21 && last_key == 18);
    BK_CHECK(last_us[BK_RT_TOTAL] >= last_us[BK_RT_LOCAL] && last_us[BK_RT_REMOTE] == 0);

    /* deferred ~20 ms: remote time, total covers it */
    f.t.defer = true;
    n = request(req, 18, 99);
    BK_CHECK(write(f.cli, req, n) == (ssize_t)n);
    pump(&f, 2);
    BK_CHECK(f.t.deferred && ntimings == 21);
    usleep(20000);
    bk_req *r = f.t.deferred;
    bk_wr *w = bk_req_respond_begin(r, 0, 0);
    bk_wr_i32(w, 1);
    BK_CHECK(bk_req_respond_end(r, 0) == 0);
    bk_req_done(r, 0);
    pump(&f, 2);
    BK_CHECK(ntimings == 22);
    BK_CHECK(last_us[BK_RT_REMOTE] >= 15000 && last_us[BK_RT_TOTAL] >= last_us[BK_RT_REMOTE]);
    (void)drain(&f, resp, sizeof resp);

    /* a response bigger than the socket buffer: reported once it is out */
    f.t.big = 4 << 20;
    n = request(req, 18, 5);
    BK_CHECK(write(f.cli, req, n) == (ssize_t)n);
    pump(&f, 3);
    BK_CHECK(ntimings == 22); /* the client has not read it yet */
    usleep(10000);
    size_t got = 0;
    uint8_t *big = malloc(f.t.big + 64);
    for (int i = 0; i < 2000 && got < f.t.big + 8; i++) {
        pump(&f, 1);
        ssize_t k = read(f.cli, big, f.t.big + 64);
        if (k > 0)
            got += (size_t)k;
    }
    pump(&f, 2);
    BK_CHECK(got == f.t.big + 8);
    BK_CHECK(ntimings == 23 && last_us[BK_RT_RESP_SEND] >= 5000);
    BK_CHECK(last_us[BK_RT_TOTAL] >= last_us[BK_RT_RESP_SEND]);
    free(big);
    f.t.big = 0;
    teardown(&f);
}

static void test_splice(void)
{
    fixture f;
    uint8_t req[64], resp[256];
    BK_TEST("conn: memory + sendfile range + memory in one response");
    setup(&f, -1, 1 << 20);
    char path[] = "/tmp/bk_conn_test_XXXXXX";
    int fd = mkstemp(path);
    BK_CHECK(fd >= 0 && write(fd, "0123456789", 10) == 10);
    unlink(path);
    f.t.splice_fd = fd;
    size_t n = request(req, 18, 9);
    BK_CHECK(write(f.cli, req, n) == (ssize_t)n);
    pump(&f, 3);
    BK_CHECK(drain(&f, resp, sizeof resp) == 4 + 4 + 9);
    BK_CHECK(bk_get_be32(resp) == 13 && bk_get_be32(resp + 4) == 9);
    BK_CHECK(memcmp(resp + 8, "AB23456CD", 9) == 0);
    teardown(&f);
    close(fd);
}

static void test_backpressure(void)
{
    fixture f;
    uint8_t req[14 * 8];
    static uint8_t resp[1 << 20];
    BK_TEST("conn: unsent output above the high-water mark stops request handling");
    setup(&f, -1, 1024);
    f.t.big = 600 * 1024; /* far more than a socketpair buffer takes */
    size_t n = 0;
    for (int i = 0; i < 8; i++)
        n += request(req + n, 18, i);
    BK_CHECK(write(f.cli, req, n) == (ssize_t)n);
    pump(&f, 5);
    BK_CHECK(f.t.calls == 1);
    /* read everything; the loop resumes as output drains */
    size_t total = 0, want = 8 * (8 + f.t.big);
    for (int i = 0; i < 2000 && total < want; i++) {
        pump(&f, 1);
        ssize_t got = drain(&f, resp, sizeof resp);
        if (got > 0)
            total += (size_t)got;
    }
    BK_CHECK(total == want);
    BK_CHECK(f.t.calls == 8);
    for (int i = 0; i < 8; i++)
        BK_CHECK(f.t.corrs[i] == i);
    teardown(&f);
}

static void test_many_small_rounds(void)
{
    fixture f;
    static uint8_t req[14 * 300], resp[12 * 300 + 16];
    BK_TEST("conn: frames left after the per-tick round limit are still answered");
    setup(&f, -1, 1); /* every response goes over the mark: one frame per round */
    size_t n = 0;
    for (int i = 0; i < 300; i++)
        n += request(req + n, 18, i);
    BK_CHECK(write(f.cli, req, n) == (ssize_t)n);
    size_t total = 0;
    for (int i = 0; i < 50 && total < sizeof resp - 16; i++) {
        pump(&f, 1);
        ssize_t got = drain(&f, resp + total, sizeof resp - total);
        if (got > 0)
            total += (size_t)got;
    }
    BK_CHECK(total == 12 * 300);
    BK_CHECK(f.t.calls == 300);
    BK_CHECK(bk_get_be32(resp + 12 * 299 + 4) == 299);
    teardown(&f);
}

static void expect_closed_after(const uint8_t *data, size_t n, const char *what)
{
    fixture f;
    BK_TEST(what);
    setup(&f, -1, 1 << 20);
    BK_CHECK(write(f.cli, data, n) == (ssize_t)n);
    BK_CHECK(peer_closed(&f));
    BK_CHECK(f.t.closes == 1);
    BK_CHECK(f.cs.n == 0);
    teardown(&f);
}

static void test_bad_input(void)
{
    uint8_t b[64];
    bk_be32(b, 1001); /* max_request_bytes is 1000 */
    expect_closed_after(b, 4, "conn: size over the limit closes before the body arrives");
    bk_be32(b, 0xFFFFFFFF);
    expect_closed_after(b, 4, "conn: negative size closes");
    bk_be32(b, 0);
    expect_closed_after(b, 4, "conn: size 0 closes");
    size_t n = request(b, 999, 1);
    expect_closed_after(b, n, "conn: unknown api key closes");
    n = request(b, 3, 1);
    expect_closed_after(b, n, "conn: handler error closes");
    bk_be32(b, 3);
    memset(b + 4, 0, 3);
    expect_closed_after(b, 7, "conn: frame too short for a header closes");
}

static void test_eof_and_idle(void)
{
    fixture f;
    uint8_t req[64], resp[64];
    BK_TEST("conn: request then EOF: the answer still goes out, then close");
    setup(&f, -1, 1 << 20);
    size_t n = request(req, 18, 3);
    BK_CHECK(write(f.cli, req, n) == (ssize_t)n);
    shutdown(f.cli, SHUT_WR);
    pump(&f, 3);
    BK_CHECK(drain(&f, resp, sizeof resp) == 12);
    BK_CHECK(peer_closed(&f));
    teardown(&f);

    BK_TEST("conn: idle connections are closed after idle_ms");
    setup(&f, 30, 1 << 20);
    n = request(req, 18, 4);
    BK_CHECK(write(f.cli, req, n) == (ssize_t)n);
    pump(&f, 2);
    BK_CHECK(drain(&f, resp, sizeof resp) == 12);
    BK_CHECK(f.cs.n == 1);
    int64_t start = bk_mono_ms_raw();
    while (f.cs.n && bk_mono_ms_raw() - start < 1000)
        pump(&f, 1);
    BK_CHECK(f.cs.n == 0);
    BK_CHECK(bk_mono_ms_raw() - start >= 20);
    teardown(&f);
}

static int released[8];
static int nreleased;

static void note_release(void *arg)
{
    if (nreleased < 8)
        released[nreleased] = (int)(intptr_t)arg;
    nreleased++;
}

static int cancels;
static bk_req *cancelled_req;

static void on_cancel(bk_req *req, void *ud)
{
    cancels++;
    cancelled_req = req;
}

static void test_holds_cancel_quiesce(void)
{
    fixture f;
    uint8_t req[64], resp[256];
    BK_TEST("conn: holds run once their response is sent, in order; the rest at close");
    setup(&f, -1, 1 << 20);
    f.t.defer = true;
    size_t n = request(req, 18, 1);
    BK_CHECK(write(f.cli, req, n) == (ssize_t)n);
    pump(&f, 3);
    bk_req *r = f.t.deferred;
    BK_CHECK(r != NULL);
    bk_wr *w = bk_req_respond_begin(r, 0, 0);
    bk_wr_i32(w, 5);
    BK_CHECK(bk_req_respond_end(r, 0) == 0);
    nreleased = 0;
    BK_CHECK(bk_conn_hold(r->conn, note_release, (void *)(intptr_t)1) == 0);
    BK_CHECK(bk_conn_hold(r->conn, note_release, (void *)(intptr_t)2) == 0);
    BK_CHECK(nreleased == 0); /* nothing sent yet */
    bk_req_done(r, 0);
    pump(&f, 2);
    BK_CHECK(nreleased == 2 && released[0] == 1 && released[1] == 2);
    BK_CHECK(drain(&f, resp, sizeof resp) == 12);
    /* a hold whose bytes never leave is released when the connection goes */
    f.t.defer = true;
    n = request(req, 18, 2);
    BK_CHECK(write(f.cli, req, n) == (ssize_t)n);
    pump(&f, 3);
    r = f.t.deferred;
    BK_CHECK(bk_conn_hold(r->conn, note_release, (void *)(intptr_t)3) == 0);

    BK_TEST("conn: a deferred request's failed connection gets on_cancel once");
    f.cs.opts.on_cancel = on_cancel;
    cancels = 0;
    close(f.cli);
    pump(&f, 3);
    BK_CHECK(cancels == 1 && cancelled_req == r && f.cs.n == 1 && nreleased == 2);
    bk_req_done(r, 0); /* now it goes */
    BK_CHECK(f.cs.n == 0 && nreleased == 3 && released[2] == 3);
    BK_CHECK(f.t.closes == 1);
    bk_ev_fini(&f.ev);

    BK_TEST("conn: quiesce answers nothing new and closes once output is out");
    setup(&f, -1, 1 << 20);
    f.cs.opts.on_cancel = on_cancel;
    cancels = 0;
    f.t.defer = true;
    n = request(req, 18, 7);
    n += request(req + n, 18, 8);
    BK_CHECK(write(f.cli, req, n) == (ssize_t)n);
    pump(&f, 3);
    r = f.t.deferred;
    bk_conns_quiesce(&f.cs);
    BK_CHECK(f.cs.n == 1 && cancels == 0); /* busy: stays */
    w = bk_req_respond_begin(r, 0, 0);
    bk_wr_i32(w, 70);
    BK_CHECK(bk_req_respond_end(r, 0) == 0);
    bk_req_done(r, 0);
    pump(&f, 3);
    BK_CHECK(f.t.calls == 1); /* request 8 was not handled */
    BK_CHECK(f.cs.n == 0);
    BK_CHECK(drain(&f, resp, sizeof resp) == 12 && bk_get_be32(resp + 4) == 7);
    BK_CHECK(peer_closed(&f));
    close(f.cli);
    bk_ev_fini(&f.ev);
}

void bk_test_conn(void);
void bk_test_conn(void)
{
    int level = bk_log_get_level();
    bk_log_set_level(BK_LOG_OFF); /* the closes below are expected */
    test_basic_and_pipelined();
    test_deferred();
    test_timing();
    test_splice();
    test_backpressure();
    test_many_small_rounds();
    test_bad_input();
    test_eof_and_idle();
    test_holds_cancel_quiesce();
    bk_log_set_level(level);
}
