/*
 * api.h - Kafka API keys and request/response headers.
 *
 * bk_apidefs[] (generated) lists every API key found in the message
 * definitions with its request and response descriptors and the version
 * ranges of the JSON. What the broker *advertises* is the broker's
 * business (broker/ api table), not this module's.
 *
 * Header versions (KIP-482): a request in a flexible version uses request
 * header v2, otherwise v1 (v0 only for ControlledShutdown v0); a response in
 * a flexible version uses response header v1, otherwise v0. ApiVersions
 * responses always use header v0.
 */
#ifndef BK_API_H
#define BK_API_H

#include "codec.h"

typedef struct bk_apidef {
    int16_t key;
    const char *name;       /* "Produce" */
    const bk_msginfo *req;  /* bk_msg_ProduceRequest */
    const bk_msginfo *resp; /* bk_msg_ProduceResponse */
} bk_apidef;

/* Highest API key in the definitions plus one. */
#define BK_API_KEY_MAX 128

/* NULL if the key is not defined. */
const bk_apidef *bk_apidef_get(int16_t key);

/* Request header version for (key, version), following the API's flexible
 * range even for versions outside its valid range. -1 for unknown keys. */
int16_t bk_reqhdr_version(int16_t key, int16_t ver);
int16_t bk_resphdr_version(int16_t key, int16_t ver);

typedef struct bk_reqhdr {
    int16_t api_key;
    int16_t api_version;
    int32_t correlation_id;
    bk_str client_id; /* borrowed from the frame; may be null */
    int16_t hdr_version; /* 0, 1 or 2; -1 when the api key is unknown */
} bk_reqhdr;

/*
 * Decode a request header from the start of a frame (size prefix already
 * removed). On return rd points at the body.
 *   0          header decoded (the api key may still be unknown: hdr_version
 *              is then -1 and rd is positioned after the v1 fields)
 *   BK_EPARSE  not even api key / version / correlation id could be read,
 *              or the header is malformed.
 * For BK_EPARSE after the first 8 bytes, api_key/api_version/correlation_id
 * are filled so the caller can still answer.
 */
int bk_reqhdr_decode(bk_rd *rd, bk_reqhdr *h);

/* Write a response header of the given version. */
void bk_resphdr_encode(bk_wr *wr, int16_t hdr_version, int32_t correlation_id);

#endif
