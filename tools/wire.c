/* wire.c - blocking Kafka requests over the generated codec. See wire.h. */
#include "wire.h"

#include "../src/core/version.h"
#include "../src/proto/bkgen_msgs.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define API_VERSIONS 18
#define MAX_FRAME    (256u << 20)
#define ARENA_LIMIT  (512u << 20)

__attribute__((format(printf, 2, 3))) static int fail(bk_wire *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->err, sizeof w->err, fmt, ap);
    va_end(ap);
    return -1;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until fd is ready for `events` or the deadline passes: 0, or -1
 * with errno ETIMEDOUT. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        struct pollfd p = {fd, events, 0};
        int n = poll(&p, 1, (int)left);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1)
            return -1;
        if (n > 0)
            return 0;
    }
}

static int io_all(int fd, void *buf, size_t len, bool out, int64_t deadline)
{
    uint8_t *p = buf;
    while (len > 0) {
        if (wait_fd(fd, out ? POLLOUT : POLLIN, deadline) == -1)
            return -1;
        ssize_t n = out ? send(fd, p, len, MSG_NOSIGNAL) : recv(fd, p, len, 0);
        if (n == -1 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n == -1)
            return -1;
        if (n == 0) {
            errno = ECONNRESET;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int bk_wire_split_addr(const char *hp, char *host, size_t hostlen, int *port)
{
    const char *colon;
    const char *h = hp;
    size_t hl;
    if (*hp == '[') {
        const char *rb = strchr(hp, ']');
        if (!rb || rb[1] != ':')
            return -1;
        h = hp + 1;
        hl = (size_t)(rb - h);
        colon = rb + 1;
    } else {
        colon = strrchr(hp, ':');
        if (!colon)
            return -1;
        hl = (size_t)(colon - hp);
    }
    if (hl == 0 || hl >= hostlen)
        return -1;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end || p <= 0 || p > 65535)
        return -1;
    memcpy(host, h, hl);
    host[hl] = 0;
    *port = (int)p;
    return 0;
}

static int tcp_connect(bk_wire *w, const char *host, int port, int64_t deadline)
{
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    int gai = getaddrinfo(host, ps, &hints, &res);
    if (gai != 0)
        return fail(w, "cannot resolve %s: %s", host, gai_strerror(gai));
    int saved = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd == -1) {
            saved = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1 && errno != EINPROGRESS) {
            saved = errno;
            close(fd);
            continue;
        }
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (wait_fd(fd, POLLOUT, deadline) == -1 ||
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == -1 || soerr) {
            saved = soerr ? soerr : errno;
            close(fd);
            continue;
        }
        freeaddrinfo(res);
        w->fd = fd;
        return 0;
    }
    freeaddrinfo(res);
    return fail(w, "cannot connect to %s within %d ms: %s", w->addr, w->timeout_ms,
                strerror(saved ? saved : ECONNREFUSED));
}

/* ApiVersions v3 (what Kafka's own clients send first), or v0 when the
 * broker answers v3 with UNSUPPORTED_VERSION. */
static int ask_versions(bk_wire *w)
{
    for (int i = 0; i < BK_API_KEY_MAX; i++)
        w->vmin[i] = w->vmax[i] = -1;
    /* Before the answer, assume the two versions we may send exist. */
    w->vmin[API_VERSIONS] = 0;
    w->vmax[API_VERSIONS] = 3;
    bk_ApiVersionsRequest rq;
    bk_ApiVersionsRequest_init(&rq);
    rq.ClientSoftwareName = bk_str_c("brook-tool");
    rq.ClientSoftwareVersion = bk_str_c(BK_VERSION);
    bk_ApiVersionsResponse rs;
    int16_t vers[2] = {3, 0};
    for (int i = 0; i < 2; i++) {
        if (bk_wire_call(w, API_VERSIONS, vers[i], &rq, &rs) == 0 && rs.ErrorCode == 0) {
            for (int32_t k = 0; k < rs.ApiKeys.n; k++) {
                const bk_ApiVersionsResponse_ApiVersion *a = &rs.ApiKeys.a[k];
                if (a->ApiKey >= 0 && a->ApiKey < BK_API_KEY_MAX) {
                    w->vmin[a->ApiKey] = a->MinVersion;
                    w->vmax[a->ApiKey] = a->MaxVersion;
                }
            }
            return 0;
        }
        if (w->fd < 0)
            return -1;
    }
    return fail(w, "%s answered ApiVersions with error %s", w->addr, bk_kerr_name(rs.ErrorCode));
}

int bk_wire_connect(bk_wire *w, const char *host, int port, int timeout_ms)
{
    memset(w, 0, sizeof *w);
    w->fd = -1;
    w->corr = 1;
    w->timeout_ms = timeout_ms;
    bk_arena_init(&w->arena, ARENA_LIMIT);
    snprintf(w->addr, sizeof w->addr, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    if (tcp_connect(w, host, port, now_ms() + timeout_ms) == -1 || ask_versions(w) == -1) {
        char keep[sizeof w->err];
        memcpy(keep, w->err, sizeof keep);
        bk_wire_close(w);
        memcpy(w->err, keep, sizeof keep);
        return -1;
    }
    return 0;
}

int bk_wire_connect_list(bk_wire *w, const char *bootstrap, int timeout_ms)
{
    char first_err[sizeof w->err] = "";
    char *list = strdup(bootstrap ? bootstrap : "");
    if (!list)
        return fail(w, "out of memory");
    char *save = NULL;
    for (char *hp = strtok_r(list, ",", &save); hp; hp = strtok_r(NULL, ",", &save)) {
        while (*hp == ' ')
            hp++;
        char host[256];
        int port;
        if (bk_wire_split_addr(hp, host, sizeof host, &port) == -1) {
            snprintf(first_err, sizeof first_err, "bad broker address '%s' (want host:port)", hp);
            break;
        }
        if (bk_wire_connect(w, host, port, timeout_ms) == 0) {
            free(list);
            return 0;
        }
        if (!first_err[0])
            memcpy(first_err, w->err, sizeof first_err);
    }
    free(list);
    if (!first_err[0])
        snprintf(first_err, sizeof first_err, "no broker address given");
    memcpy(w->err, first_err, sizeof w->err);
    return -1;
}

void bk_wire_close(bk_wire *w)
{
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    free(w->frame);
    w->frame = NULL;
    w->frame_cap = 0;
    bk_arena_fini(&w->arena);
}

int16_t bk_wire_version(const bk_wire *w, int16_t key, int16_t want, int16_t floor)
{
    if (key < 0 || key >= BK_API_KEY_MAX || w->vmax[key] < 0)
        return -1;
    int16_t v = want < w->vmax[key] ? want : w->vmax[key];
    if (v < w->vmin[key] || v < floor)
        return -1;
    return v;
}

/* A broken connection is closed: the next call fails at once. */
static int io_fail(bk_wire *w, const char *what)
{
    int e = errno;
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    return fail(w, "%s %s: %s", what, w->addr,
                e == ETIMEDOUT ? "no answer within the timeout" : strerror(e));
}

int bk_wire_call(bk_wire *w, int16_t key, int16_t ver, const void *req, void *resp)
{
    if (w->fd < 0)
        return fail(w, "not connected to %s", w->addr);
    const bk_apidef *d = bk_apidef_get(key);
    if (!d || !BK_V_IN(d->req->valid, ver))
        return fail(w, "cannot encode API %d version %d", key, ver);
    int16_t hv = bk_reqhdr_version(key, ver);
    bk_RequestHeader h;
    bk_RequestHeader_init(&h);
    h.RequestApiKey = key;
    h.RequestApiVersion = ver;
    h.CorrelationId = w->corr++;
    h.ClientId = bk_str_c("brook-tool");

    bk_wr wr;
    bk_wr_init(&wr, 256);
    bk_wr_i32(&wr, 0); /* size, patched below */
    int rc = bk_codec_encode(&bk_desc_RequestHeader, hv >= 2, hv, &wr, &h);
    if (!rc)
        rc = bk_codec_encode(d->req->desc, BK_V_IN(d->req->flexible, ver), ver, &wr, req);
    if (rc || wr.err) {
        bk_wr_fini(&wr);
        return fail(w, "cannot encode %sRequest v%d: %s", d->name, ver,
                    bk_strerror(rc ? rc : wr.err));
    }
    bk_wr_patch_i32(&wr, 0, (int32_t)(wr.len - 4));
    int64_t deadline = now_ms() + w->timeout_ms;
    int ok = io_all(w->fd, wr.buf, wr.len, true, deadline);
    bk_wr_fini(&wr);
    if (ok == -1)
        return io_fail(w, "cannot send to");

    uint8_t szb[4];
    if (io_all(w->fd, szb, 4, false, deadline) == -1)
        return io_fail(w, "no answer from");
    uint32_t sz = bk_get_be32(szb);
    if (sz < 4 || sz > MAX_FRAME) {
        close(w->fd);
        w->fd = -1;
        return fail(w, "bad response frame size %u from %s", sz, w->addr);
    }
    if (sz > w->frame_cap) {
        uint8_t *nf = realloc(w->frame, sz);
        if (!nf)
            return fail(w, "out of memory");
        w->frame = nf;
        w->frame_cap = sz;
    }
    if (io_all(w->fd, w->frame, sz, false, deadline) == -1)
        return io_fail(w, "no answer from");

    bk_rd rd;
    bk_rd_init(&rd, w->frame, sz);
    int16_t rv = bk_resphdr_version(key, ver);
    bk_ResponseHeader rh;
    bk_arena_reset(&w->arena);
    rc = bk_codec_decode(&bk_desc_ResponseHeader, rv >= 1, rv, &rd, NULL, &rh);
    if (rc || rh.CorrelationId != h.CorrelationId) {
        close(w->fd);
        w->fd = -1;
        return fail(w, "bad response header from %s", w->addr);
    }
    /* A broker that refuses an ApiVersions version answers in v0. */
    int16_t dv = ver;
    if (key == API_VERSIONS && bk_rd_left(&rd) >= 2 && bk_get_be16(rd.p) == 35)
        dv = 0;
    rc = bk_codec_decode(d->resp->desc, BK_V_IN(d->resp->flexible, dv), dv, &rd, &w->arena, resp);
    if (rc)
        return fail(w, "cannot decode %sResponse v%d from %s: %s", d->name, dv, w->addr,
                    bk_strerror(rc));
    return 0;
}

int bk_wire_metadata(bk_wire *w, bool all_topics, bk_MetadataResponse *out)
{
    int16_t v = bk_wire_version(w, 3, 12, 1);
    if (v < 0)
        return fail(w, "%s does not serve Metadata v1 or later", w->addr);
    bk_MetadataRequest rq;
    bk_MetadataRequest_init(&rq);
    rq.Topics.n = all_topics ? -1 : 0; /* null = all (v1+), empty = none */
    rq.Topics.a = NULL;
    rq.AllowAutoTopicCreation = false;
    return bk_wire_call(w, 3, v, &rq, out);
}
