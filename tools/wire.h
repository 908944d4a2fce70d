/*
 * wire.h - a small blocking Kafka client over Brook's own protocol codec,
 * for the few requests librdkafka 2.0.2 does not expose to applications
 * (DescribeLogDirs, the ApiVersions listing, Metadata v10+ topic ids).
 *
 * One TCP connection (PLAINTEXT only: Brook has no TLS or SASL listener),
 * one request in flight. On connect the client asks ApiVersions (v3, or v0
 * if the broker refuses v3) and keeps the broker's ranges, so a caller picks
 * a version with bk_wire_version(). Every call has a deadline: connect,
 * write and read each give up after the connection's timeout.
 *
 * Decoded responses borrow from the connection: their strings point into
 * the last response frame and their arrays live in the connection's arena,
 * both valid until the next bk_wire_call() or bk_wire_close().
 *
 * Errors: functions return 0 or -1 and leave a one-line message in
 * w->err ("cannot connect to 127.0.0.1:9092: Connection refused").
 */
#ifndef BK_TOOLS_WIRE_H
#define BK_TOOLS_WIRE_H

#include "../src/core/buf.h"
#include "../src/proto/api.h"

typedef struct bk_wire {
    int fd;         /* -1 when closed */
    char addr[300]; /* "host:port", for messages */
    int timeout_ms; /* per connect / per call */
    int32_t corr;   /* next correlation id */
    uint8_t *frame; /* owned: the last response frame */
    size_t frame_cap;
    bk_arena arena; /* decoded arrays of the last response */
    /* The broker's ApiVersions answer: [min,max] per key, max < 0 = absent. */
    int16_t vmin[BK_API_KEY_MAX], vmax[BK_API_KEY_MAX];
    char err[512];
} bk_wire;

/* Connect to host:port (port given apart; host may be a name) and ask for
 * the broker's API versions. On failure w is closed and w->err says why. */
int bk_wire_connect(bk_wire *w, const char *host, int port, int timeout_ms);
/* The first reachable broker of a "host:port[,host:port...]" list. */
int bk_wire_connect_list(bk_wire *w, const char *bootstrap, int timeout_ms);
void bk_wire_close(bk_wire *w);

/* min(want, the broker's max) for key, or -1 if the broker lacks the API or
 * its range does not reach down to `floor`. */
int16_t bk_wire_version(const bk_wire *w, int16_t key, int16_t want, int16_t floor);

/* Send request `req` (the generated struct of key's request) at version
 * ver and decode the answer into `resp` (the generated response struct). */
int bk_wire_call(bk_wire *w, int16_t key, int16_t ver, const void *req, void *resp);

/* Split "host:port" (IPv6 as "[::1]:9092") into host and port. -1 if bad. */
int bk_wire_split_addr(const char *hp, char *host, size_t hostlen, int *port);


typedef struct bk_MetadataResponse bk_MetadataResponse;

/* Metadata at the highest version both sides know (up to v12, so topic ids
 * come back): every topic when all_topics, else none (brokers only). */
int bk_wire_metadata(bk_wire *w, bool all_topics, bk_MetadataResponse *out);

#endif
