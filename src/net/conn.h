/*
 * conn.h - one client connection: framing, dispatch, in-order responses,
 * output with sendfile, backpressure, idle timeout.
 *
 * Input. Bytes are read into a per-connection buffer. A frame is an int32
 * size followed by that many bytes. As soon as the 4 size bytes are in, a
 * size <= 0 or > max_request_bytes (socket.request.max.bytes) closes the
 * connection - before any memory is reserved for it. The buffer grows with
 * the bytes actually received (never to the claimed size up front), so a
 * client announcing 100 MB and sending nothing costs nothing. Once the whole
 * frame is present its request header is decoded (proto/api.h); a header
 * that does not parse or names an API key we have no definition for closes
 * the connection, as Kafka does.
 *
 * Dispatch and ordering. The request goes to opts.on_request() together
 * with the body reader and the connection's arena (reset after every
 * request; no per-request malloc once buffers are warm). The handler either
 *   - answers synchronously: bk_req_respond_begin() / encode / _end(), and
 *     returns 0 (or returns 0 without a response, for Produce acks=0), or
 *   - returns BK_EAGAIN and completes later with bk_req_done() (a delayed
 *     Produce or Fetch), or
 *   - returns a negative BK_E* status: the connection is closed.
 * Like Kafka's SocketServer, a connection has at most ONE request in
 * flight: while one is deferred, the following frames stay unread in the
 * input buffer (and the socket is not read). Responses therefore leave in
 * request (= correlation id) order without a reorder queue, the request's
 * borrowed input bytes stay valid while it is deferred, and a client cannot
 * make the broker hold more than one request's state per connection.
 * Pipelining still pays off: every complete frame already buffered is
 * handled back to back and all responses go out in one write.
 *
 * Output. Responses are appended to one bk_wr per connection. Memory is
 * sent with send(2) (MSG_MORE while file data follows), each bk_wr splice
 * with sendfile(2) at its position, so record data read from segments never
 * enters user space. Partial writes resume when the socket is writable. The
 * whole writer is a single contiguous buffer, so writev would only ever
 * carry one iovec; send() with flags is the useful form here. While more than
 * opts.out_high_water bytes are unsent, no new request is read or handled
 * (backpressure on a client that does not read its responses).
 *
 * Closing. Any error, EOF after the last response, a protocol violation or
 * opts.idle_ms without traffic closes the connection; protocol violations
 * are logged (rate limited) with the peer address. Destruction is deferred
 * to the end of the current callback, so handlers may fail a connection
 * from anywhere. A deferred request keeps its connection's memory alive
 * until bk_req_done() is called; that call is mandatory even when the
 * connection has failed meanwhile.
 *
 * TLS (SSL and SASL_SSL listeners, tls.h). The same machinery runs over an
 * OpenSSL session instead of the raw socket: the handshake is driven from
 * the socket events first (epoll interest follows what OpenSSL wants; the
 * idle timer bounds a stalled handshake), then reads go through
 * bk_tls_read (all decrypted bytes OpenSSL already holds are drained too,
 * since epoll cannot see them) and memory output through bk_tls_write.
 * Splices cannot use sendfile under TLS: their file ranges are pread(2)
 * into one reused per-connection buffer (TLS_FBUF bytes, allocated at the
 * first splice and kept) and written from there; bytes handed to OpenSSL
 * that it could not write yet stay in that buffer until it takes them, so
 * the retry rule of SSL_write holds. Kernel TLS was not used: it needs
 * the tls module and OpenSSL built with ktls, which Debian 12's is not by
 * default; the copy costs one memcpy per byte against the encryption's
 * much larger cost. The verified client certificate sets the principal
 * (tls.h, Kafka's DN form).
 *
 * Pre-authentication limit. While !authenticated (SASL listeners before
 * the exchange succeeds) a frame larger than opts.preauth_max_bytes
 * (sasl.server.max.receive.size) closes the connection.
 *
 * Holds. Files referenced by splices must stay open until their bytes are
 * sent. bk_conn_hold() registers a release callback that runs once every
 * byte queued on the connection so far has been written to the socket, or
 * when the connection is destroyed, whichever comes first; the Fetch
 * handler queues the record ranges, then holds the descriptors they read
 * from. Holds are released in the order they were taken.
 *
 * Cancellation. When a connection fails while its request is deferred, the
 * request cannot be answered any more; opts.on_cancel (if set) is called
 * once, from the loop, so the owner of the deferred request can complete
 * it early (bk_req_done) instead of waiting for its own timeout. It must
 * not call bk_req_done() from inside on_cancel; arm a timer instead.
 *
 * Muting (quota throttling, KIP-219). bk_conn_mute() stops reading and
 * handling requests of a connection until a deadline (a timer resumes
 * it); output still flows, so the response that carried the throttle time
 * leaves at once.
 *
 * Shutdown. bk_conns_quiesce() stops handling new requests on every
 * connection; a connection is closed as soon as it has no request in
 * flight and no unsent output, so answers already produced still leave.
 *
 * Timing (Kafka's RequestMetrics split). Each request is timed in
 * microseconds: request queue (the last read before its handling started,
 * to the start: frames that waited behind a deferred request or in a
 * pipelined batch), local (the handler's synchronous run), remote (from
 * BK_EAGAIN to bk_req_done: purgatory), response queue (response complete
 * to the first attempt to write it: it waits behind earlier responses),
 * response send (to its last byte written). opts.on_timing gets them once
 * the response is out (at once for a request without a response). At most
 * BK_CONN_TIMINGS responses per connection are tracked while unsent; the
 * others are reported with a zero send time.
 *
 * Thread: loop thread only.
 */
#ifndef BK_CONN_H
#define BK_CONN_H

#include "../core/buf.h"
#include "../proto/api.h"
#include "ev.h"
#include "tls.h"

#include <sys/socket.h>

typedef struct bk_conn bk_conn;
typedef struct bk_conns bk_conns;

/* Listener security protocols (Kafka's SecurityProtocol). */
enum { BK_SEC_PLAINTEXT = 0, BK_SEC_SSL = 1, BK_SEC_SASL_PLAINTEXT = 2, BK_SEC_SASL_SSL = 3 };

/* One request being handled. Embedded in its connection. */
typedef struct bk_req {
    bk_conn *conn;     /* borrowed: valid until the request is done */
    bk_reqhdr hdr;     /* client_id borrowed from the frame */
    bk_rd body;        /* the body: borrowed from the input buffer until done */
    bk_arena *arena;   /* the connection's; reset when the request is done */
    int32_t frame_len; /* size prefix of the frame */
    int64_t recv_ms;   /* monotonic ms when the frame was complete */
    void *hctx;        /* the handler layer's state of a deferred request */
    uint64_t quota_t0_us;      /* the handler layer's: request_percentage applies (quotas.h) */
    int32_t quota_throttle_ms; /* the handler layer's pending quota throttle (quotas.h) */

    /* private to conn.c: timing (monotonic us) */
    uint64_t t_start_us, t_local_us, t_queue_us;
    bool deferred;
    uint64_t resp_wire_start, resp_wire_end; /* of the answer; end 0 = none */
    /* private to conn.c: where the response being written starts */
    size_t resp_at;
    int resp_nspl;
    uint64_t resp_spl_len;
    bool responding;
} bk_req;

typedef struct bk_conn_opts {
    int32_t max_request_bytes; /* socket.request.max.bytes */
    int64_t idle_ms;           /* connections.max.idle.ms; < 0 = never */
    size_t out_high_water;     /* stop handling requests above this much unsent output */
    int32_t preauth_max_bytes; /* frame limit until authenticated; 0 = max_request_bytes */
    /* 0: handled; BK_EAGAIN: deferred (bk_req_done later); < 0: close */
    int (*on_request)(bk_req *req, void *ud);
    /* Called once when a connection goes away (release conn->udata). May be NULL. */
    void (*on_close)(bk_conn *c, void *ud);
    /* The connection of a deferred request failed (see above). May be NULL. */
    void (*on_cancel)(bk_req *req, void *ud);
    /* A request's times, microseconds, indexed by BK_RT_* (core/metrics.h);
     * called when its response is out. May be NULL. */
    void (*on_timing)(bk_conn *c, int16_t api_key, int16_t api_version, const uint64_t *us,
                      void *ud);
    void *ud;
} bk_conn_opts;

#define BK_CONN_TIMINGS 8
/* A response on its way out, for its send times. */
typedef struct bk_conn_timing {
    uint64_t start_mark, end_mark; /* wire positions of the response in out */
    uint64_t done_us, send_us;     /* complete; first write attempt (0 = not yet) */
    uint64_t us[6];                /* BK_RT_*: total, queue, local, remote filled so far */
    int16_t api_key, api_version;
} bk_conn_timing;

/* Something the bytes queued on a connection depend on (see Holds). */
typedef void bk_conn_release_fn(void *arg);
typedef struct bk_conn_hold_ent {
    uint64_t mark; /* released once out_wire_sent reaches this */
    bk_conn_release_fn *fn;
    void *arg;
} bk_conn_hold_ent;

/* All connections of a server: the list used for shutdown and counting. */
struct bk_conns {
    bk_ev *ev; /* borrowed */
    bk_conn_opts opts;
    bk_conn *head; /* owned: intrusive list */
    int n;
    uint64_t next_id;
    bool quiescing; /* bk_conns_quiesce(): no new requests */
};

struct bk_conn {
    bk_conns *owner; /* borrowed */
    bk_conn *prev, *next;
    uint64_t id;
    int fd; /* owned */
    bk_ev_io io;
    bk_ev_timer idle;
    int64_t last_active; /* monotonic ms of the last byte in or out */

    char peer[64];       /* "ip:port" of the client */
    char local_host[64]; /* numeric local address the client connected to */
    int local_port;
    char listener_name[64]; /* listener the connection came in on */
    /* Security (issue 11): the listener's protocol (BK_SEC_*, from
     * listener.security.protocol.map) and the principal requests run as:
     * "User:ANONYMOUS" until TLS client authentication or SASL sets it
     * (Kafka's KafkaPrincipal, "User:<name>"); authenticated is false on
     * SASL listeners until the SASL exchange succeeded. */
    uint8_t secproto;
    bool authenticated;
    char principal[256];
    /* SASL state of the handler layer (broker/sasl.h); freed with sasl_free */
    void *sasl;
    void (*sasl_free)(void *sasl);
    int64_t session_expiry_ms; /* monotonic ms the SASL session ends; 0 = never */

    /* TLS (NULL on plaintext listeners): see TLS above */
    bk_tls *tls;      /* owned */
    bool tls_ready;   /* handshake done */
    uint32_t tls_want; /* BK_EV_* OpenSSL waits for (handshake, blocked I/O) */
    uint8_t *tls_fbuf; /* owned: file bytes of a splice on their way to SSL_write */
    uint32_t tls_foff, tls_flen; /* bytes [tls_foff, tls_flen) not yet written */

    /* input: bytes [in_off, in_len) of in are unconsumed */
    uint8_t *in; /* owned */
    size_t in_off, in_len, in_cap;

    /* output: out minus what was sent (memory up to out_sent, splices
     * before out_spl, and out_spl_sent bytes of splice out_spl) */
    bk_wr out;
    size_t out_sent;
    int out_spl;
    uint32_t out_spl_sent;
    uint64_t out_wire_sent; /* memory + file bytes sent of out */

    /* holds [hold_head, nholds) of holds are pending, in mark order */
    bk_conn_hold_ent *holds; /* owned */
    int hold_head, nholds, capholds;

    /* responses being sent, for their timing: [tim_head, tim_head+ntim) mod */
    bk_conn_timing tim[BK_CONN_TIMINGS];
    int tim_head, ntim;
    uint64_t last_read_us; /* monotonic us of the last read that brought bytes */

    bk_arena arena;
    bk_req req;     /* the request in flight (at most one) */
    bool busy;      /* req is being handled or deferred */
    bool eof;       /* the peer finished sending */
    bool closing;   /* failed or finished; destroyed at the end of the callback */
    bool cancelled; /* on_cancel was called for the deferred request */
    bool linger;    /* bk_conn_close_after_output: close once all is sent */

    void *udata; /* the handler layer's per-connection state */

    /* Quota throttling (KIP-219): no request is read or handled before
     * mute_until (monotonic ms); mute_timer resumes the connection. */
    int64_t mute_until;
    bk_ev_timer mute_timer;
    /* the handler layer's request_percentage sensor (quotas.h) */
    uint64_t quota_sensor;
    int32_t quota_slot;
};

void bk_conns_init(bk_conns *cs, bk_ev *ev, const bk_conn_opts *opts);
/* Close every connection (shutdown). Deferred requests get on_cancel and
 * must still be completed with bk_req_done(). */
void bk_conns_close_all(bk_conns *cs);
/* Stop handling requests; close each connection once it has nothing in
 * flight and nothing unsent (see Shutdown). */
void bk_conns_quiesce(bk_conns *cs);

/* Take ownership of an accepted socket. On failure the fd is closed. */
int bk_conn_accept(bk_conns *cs, int fd, const struct sockaddr_storage *peer, socklen_t peerlen,
                   const char *listener_name);

/* The same for a listener with a security protocol (BK_SEC_*): SASL
 * listeners start unauthenticated; tls (SSL, SASL_SSL) runs the connection
 * over TLS. */
int bk_conn_accept_sec(bk_conns *cs, int fd, const struct sockaddr_storage *peer,
                       socklen_t peerlen, const char *listener_name, int secproto,
                       bk_tls_ctx *tls);

/* Start the response to req: writes the size placeholder and a response
 * header of hdr_version, reserves body_hint bytes; returns the writer to
 * encode the body into. */
bk_wr *bk_req_respond_begin(bk_req *req, int16_t hdr_version, size_t body_hint);
/* Finish it: patches the size. If rc (the encoder's status) or the writer
 * failed, the partial response is removed and the error returned. */
int bk_req_respond_end(bk_req *req, int rc);

/* Complete a request the handler deferred with BK_EAGAIN. rc as the
 * handler's return value would have been (0, or < 0 to close). */
void bk_req_done(bk_req *req, int rc);

/* Mark the connection failed; it is closed once control returns to the
 * loop. why is logged at level (NULL: nothing logged). */
void bk_conn_fail(bk_conn *c, int level, const char *why);

/* Close c once everything queued on it is sent; no further request is
 * handled (a failed authentication answers, then closes). */
void bk_conn_close_after_output(bk_conn *c);

/* Quota throttling (KIP-219): read and handle nothing more on c for ms
 * (from now; extends a running mute, never shortens it). Output still
 * flows, so a response already queued leaves. */
void bk_conn_mute(bk_conn *c, int64_t ms);

/* Unsent bytes (memory + file). */
uint64_t bk_conn_unsent(const bk_conn *c);

/* Call fn(arg) once everything queued on c so far is sent, or when c goes
 * away. 0, or BK_ENOMEM after calling fn(arg) at once (the queued splice
 * may then fail to send, which closes the connection). */
int bk_conn_hold(bk_conn *c, bk_conn_release_fn *fn, void *arg);

#endif
