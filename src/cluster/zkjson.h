/*
 * zkjson.h - the JSON of Kafka's ZooKeeper znodes (Kafka 3.9 kafka.zk.ZkData),
 * and a small JSON reader/writer for them.
 *
 * Znode shapes written here (field order as Kafka writes them; readers
 * accept any order and ignore unknown fields):
 *
 *   /cluster/id                  {"version":"1","id":"<22-char id>"}
 *   /brokers/ids/<id>            {"features":{},"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},
 *    (ephemeral)                  "endpoints":["PLAINTEXT://host:port"],"jmx_port":-1,"port":9092,
 *                                 "host":"host","version":5,"timestamp":"<ms>"[,"rack":"r"]}
 *   /brokers/topics/<t>          {"partitions":{"0":[0,1,2]},"topic_id":"<id>","adding_replicas":{},
 *                                 "removing_replicas":{},"version":3}
 *   /brokers/topics/<t>/partitions/<p>/state
 *                                {"controller_epoch":1,"leader":0,"version":1,"leader_epoch":0,
 *                                 "isr":[0,1,2]}
 *   /config/topics/<t>           {"version":1,"config":{"k":"v"}}
 *   /config/changes/config_change_<seq>  {"version":2,"entity_path":"topics/<t>"}
 *   /controller (ephemeral)      {"version":2,"brokerid":0,"timestamp":"<ms>","kraftControllerEpoch":-1}
 *   /controller_epoch            the epoch as decimal text ("1")
 *   /latest_producer_id_block    {"version":1,"broker":0,"block_start":"0","block_end":"999"}
 *   /feature                     {"features":{},"version":2,"status":1}
 *
 * Ownership: bk_json trees and bk_jw buffers are owned by the caller
 * (bk_json_free, bk_jw_fini). Decoders fill caller structs whose arrays
 * are owned by the caller (free them, or the _free helper).
 *
 * Thread: any (no shared state).
 */
#ifndef BK_ZKJSON_H
#define BK_ZKJSON_H

#include "../core/kb.h"

#include <stddef.h>

/* ---------------------------------------------------------------- reader */

typedef enum { BK_J_NULL, BK_J_BOOL, BK_J_NUM, BK_J_STR, BK_J_ARR, BK_J_OBJ } bk_jtype;

typedef struct bk_json {
    bk_jtype type;
    char *key;            /* owned: member name when inside an object, else NULL */
    char *str;            /* owned: BK_J_STR text (NUL-terminated; no embedded NUL) */
    double num;           /* BK_J_NUM */
    bool isint;           /* BK_J_NUM written without fraction/exponent */
    int64_t i;            /* BK_J_NUM value when isint */
    bool b;               /* BK_J_BOOL */
    struct bk_json *kids; /* owned: elements / members */
    int nkids;
} bk_json;

/* Parse len bytes (nesting at most 32 deep). NULL if malformed or out of memory. */
bk_json *bk_json_parse(const char *s, size_t len);
void bk_json_free(bk_json *j);
/* Member `key` of an object (NULL if j is not an object or lacks it). */
const bk_json *bk_json_get(const bk_json *j, const char *key);
/* An integer: a number without fraction, or a string of decimal digits
 * (Kafka writes timestamps and block bounds as strings). 0 or BK_EINVAL. */
int bk_json_int(const bk_json *j, int64_t *out);

/* ---------------------------------------------------------------- writer */

typedef struct bk_jw {
    char *p; /* owned, NUL-terminated */
    size_t len, cap;
    bool err; /* sticky: out of memory */
} bk_jw;

void bk_jw_init(bk_jw *w);
void bk_jw_fini(bk_jw *w);
void bk_jw_raw(bk_jw *w, const char *s);
void bk_jw_fmt(bk_jw *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string literal, escaped. */
void bk_jw_str(bk_jw *w, const char *s);

/* ---------------------------------------------------------------- znodes */

typedef struct bk_zk_broker {
    int32_t id;
    char host[256];
    int port;
    char rack[128]; /* "" = none */
    int64_t timestamp;
    /* issue 11: every endpoint, "NAME://host:port,..." and the listener
     * map "NAME:PROTOCOL,..." ("" = the single PLAINTEXT host:port above).
     * host/port are the inter-broker listener's endpoint. */
    char eps[1024];
    char protomap[512];
} bk_zk_broker;

typedef struct bk_zk_topic {
    uint8_t id[16];
    bool has_id;
    int32_t nparts;
    int16_t rf;        /* the longest replica list (all of them, outside reassignments) */
    int32_t *replicas; /* owned: nparts * rf, partition-major; a shorter list
                        * (a partition being reassigned may have more replicas
                        * than the others) is padded with -1 at its end */
    int32_t *adding;   /* owned: nparts * rf, -1 padded, KIP-455's adding_replicas
                        * of the partitions being reassigned; NULL: none */
    int32_t *removing; /* owned: the same for removing_replicas */
} bk_zk_topic;

/* Partition p's replicas (a pointer into a->replicas), adding and removing
 * replicas (NULL when none): each returns its length. */
int bk_zk_topic_reps(const bk_zk_topic *a, int32_t p, const int32_t **out);
int bk_zk_topic_adding(const bk_zk_topic *a, int32_t p, const int32_t **out);
int bk_zk_topic_removing(const bk_zk_topic *a, int32_t p, const int32_t **out);

typedef struct bk_zk_pstate {
    int32_t leader;
    int32_t leader_epoch;
    int32_t controller_epoch;
    int32_t isr[64];
    int nisr;
} bk_zk_pstate;

void bk_zkj_cluster_id(bk_jw *w, const char *id);
int bk_zkj_cluster_id_parse(const char *s, size_t len, char *id, size_t idlen);

void bk_zkj_broker(bk_jw *w, const bk_zk_broker *b);
int bk_zkj_broker_parse(const char *s, size_t len, bk_zk_broker *b);
/* The same, taking host/port from the endpoint of listener (the
 * inter-broker listener name; NULL or absent: PLAINTEXT, else the first). */
int bk_zkj_broker_parse_listener(const char *s, size_t len, const char *listener,
                                 bk_zk_broker *b);
/* The endpoint of listener in an eps list ("NAME://host:port,..."): 0 with
 * host/port, or BK_ENOENT. */
int bk_zkj_endpoint_of(const char *eps, const char *listener, char *host, size_t hostlen,
                       int *port);

void bk_zkj_topic(bk_jw *w, const bk_zk_topic *t);
int bk_zkj_topic_parse(const char *s, size_t len, bk_zk_topic *t);
void bk_zk_topic_free(bk_zk_topic *t);

void bk_zkj_pstate(bk_jw *w, const bk_zk_pstate *p);
int bk_zkj_pstate_parse(const char *s, size_t len, bk_zk_pstate *p);

/* {"version":1,"config":{...}}; keys/vals borrowed. */
void bk_zkj_config(bk_jw *w, char *const *keys, char *const *vals, int n);
/* OUT: *keys, *vals (owned arrays of owned strings), *n. */
int bk_zkj_config_parse(const char *s, size_t len, char ***keys, char ***vals, int *n);

void bk_zkj_controller(bk_jw *w, int32_t broker_id, int64_t timestamp);
/* The brokerid of /controller (also accepts the plain-integer form of Kafka < 0.9). */
int bk_zkj_controller_parse(const char *s, size_t len, int32_t *broker_id);

void bk_zkj_config_change(bk_jw *w, const char *entity_path);

#endif
