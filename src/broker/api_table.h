/*
 * api_table.h - which Kafka APIs this broker serves, at which versions.
 *
 * One row per API key: the [min,max] advertised in ApiVersions and the
 * handler. Only APIs that really work are listed; a client negotiates
 * from this table, so every version inside a range must be fully
 * implemented (CLIENTS.md section 1).
 *
 * Requests outside the table: an unknown key, or a version outside
 * [min,max] for any API but ApiVersions, close the connection. That is
 * what Kafka does (its request parsing throws InvalidRequestException and
 * the SocketServer drops the channel), and it is the only answer that
 * works for every API: an error response would have to be encoded at a
 * version we do not implement, with an error field whose place differs per
 * API. Negotiating clients never get there; pinned ones (Sarama) see a
 * closed connection exactly as with Kafka. ApiVersions itself answers any
 * version (KIP-511), see h_api_versions.c.
 */
#ifndef BK_API_TABLE_H
#define BK_API_TABLE_H

#include "broker.h"

enum {
    BK_API_METADATA = 3,
    BK_API_API_VERSIONS = 18,
};

typedef int bk_api_handler(bk_broker *b, bk_req *req);

typedef struct bk_api_entry {
    int16_t key;
    int16_t min, max; /* advertised versions */
    bk_api_handler *handler;
} bk_api_entry;

extern const bk_api_entry bk_api_table[];
extern const int bk_api_table_len;

/* NULL if the key is not served. */
const bk_api_entry *bk_api_find(int16_t key);

bk_api_handler bk_h_api_versions;
bk_api_handler bk_h_metadata;

#endif
