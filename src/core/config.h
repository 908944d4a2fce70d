/*
 * config.h - server.properties: parsing, validation, typed access.
 *
 * Every key Brook understands is ONE row of the table in config.c:
 *   {name, type, offsetof(bk_config, field), default, min, max, doc, check}
 * with Kafka's key names and defaults (KafkaConfig). The parser, the
 * --override handling, the range checks and the error messages are all
 * driven by that table, so adding a key is adding a row and a field.
 *
 * File syntax is java.util.Properties: '#' or '!' comment lines, "key=value",
 * "key: value" or "key value", backslash line continuation, \t \n \r \f \uXXXX
 * escapes. Values are trimmed as Kafka's ConfigDef does.
 *
 * Life cycle:
 *   bk_config_init()          all defaults
 *   bk_config_load_file()     the properties file (unknown keys: warning)
 *   bk_config_set() ...       --override key=value, in order, after the file
 *   bk_config_finish()        derived values and cross-key checks
 *   bk_config_fini()
 * Any function taking (err, errlen) writes a one-line message naming key,
 * value and reason there when it returns an error; main prints it and exits 1.
 *
 * Ownership: strings and lists inside bk_config are owned by it (malloc) and
 * freed by bk_config_fini(). The struct is filled at start-up and read-only
 * afterwards; it is not synchronised.
 */
#ifndef BK_CONFIG_H
#define BK_CONFIG_H

#include "kb.h"

#include <stdio.h>

enum {
    BK_CFG_INT = 1, /* int32_t */
    BK_CFG_LONG,    /* int64_t */
    BK_CFG_BOOL,    /* bool */
    BK_CFG_STRING,  /* char * (owned, NULL = null) */
    BK_CFG_LIST,    /* bk_strlist (comma separated, elements trimmed) */
    BK_CFG_DOUBLE   /* double */
};

typedef struct bk_strlist {
    int n;
    char **v; /* owned: n owned strings */
} bk_strlist;

/* One listener: "NAME://host:port". */
typedef struct bk_endpoint {
    char name[64];  /* listener name, upper-cased ("PLAINTEXT") */
    char host[256]; /* "" = all interfaces; IPv6 without brackets */
    int port;       /* 0..65535; 0 = ephemeral (listeners only) */
} bk_endpoint;

/* Security protocol of a listener name from listener.security.protocol.map:
 * 0 PLAINTEXT, 1 SSL, 2 SASL_PLAINTEXT, 3 SASL_SSL (conn.h's BK_SEC_*), or
 * -1 when the map has no entry for it. */
struct bk_config;
int bk_config_listener_secproto(const struct bk_config *c, const char *listener);
/* Kafka's PASSWORD-type keys (private keys, passwords, inline key
 * material): never shown by DescribeConfigs (value null, IsSensitive). */
bool bk_config_key_sensitive(const char *name);

/* Parse "NAME://host:port" / "NAME://[v6addr]:port" (Kafka's
 * EndPoint regex). 0, or BK_EINVAL with *why set to a static reason. */
int bk_endpoint_parse(const char *s, bk_endpoint *ep, const char **why);

#define BK_CONFIG_MAX_KEYS 256

typedef struct bk_config {
    /* --- broker identity --- */
    int32_t broker_id; /* -1: take it from meta.properties, else generated */
    int32_t reserved_broker_max_id;
    char *broker_rack;
    char *cluster_id; /* Brook: fixed cluster id (else meta.properties / random) */

    /* --- network --- */
    bk_strlist listeners;
    bk_strlist advertised_listeners; /* after finish: defaults to listeners */
    bk_strlist listener_security_protocol_map;
    int32_t socket_request_max_bytes;
    int32_t socket_send_buffer_bytes;    /* -1: OS default */
    int32_t socket_receive_buffer_bytes; /* -1: OS default */
    int32_t socket_listen_backlog_size;
    int64_t connections_max_idle_ms; /* -1: never */
    int32_t num_network_threads;     /* accepted; Brook runs one loop */
    int32_t num_io_threads;          /* accepted; Brook runs one loop */
    int32_t queued_max_requests;
    int32_t background_threads;

    /* --- log --- */
    bk_strlist log_dirs; /* after finish: log.dirs, or [log.dir] */
    char *log_dir;
    int32_t num_partitions;
    int32_t default_replication_factor;
    bool auto_create_topics_enable;
    bool delete_topic_enable;
    int32_t message_max_bytes;
    int32_t log_segment_bytes;
    int64_t log_retention_ms; /* after finish: ms > minutes > hours; -1 = forever */
    int32_t log_retention_minutes;
    int32_t log_retention_hours;
    int64_t log_retention_bytes;
    int64_t log_retention_check_interval_ms;
    int64_t log_roll_ms; /* after finish: ms > hours */
    int32_t log_roll_hours;
    int64_t log_flush_interval_messages;
    int64_t log_flush_interval_ms; /* after finish: defaults to the scheduler interval */
    int64_t log_flush_scheduler_interval_ms;
    int32_t log_index_size_max_bytes;
    int32_t log_index_interval_bytes;
    bk_strlist log_cleanup_policy;
    double log_cleaner_min_cleanable_ratio;
    bool log_cleaner_enable;
    int32_t log_cleaner_threads;
    int64_t log_cleaner_dedupe_buffer_size;
    double log_cleaner_io_max_bytes_per_second;
    int64_t log_cleaner_backoff_ms;
    int64_t log_cleaner_delete_retention_ms;
    int64_t log_cleaner_min_compaction_lag_ms;
    int64_t log_cleaner_max_compaction_lag_ms;
    char *log_message_timestamp_type;
    char *compression_type;
    int32_t num_recovery_threads_per_data_dir;
    int32_t min_insync_replicas;
    bool unclean_leader_election_enable;

    /* --- replication --- */
    int64_t replica_lag_time_max_ms;
    int32_t num_replica_fetchers;
    int64_t replica_fetch_wait_max_ms;
    int32_t replica_fetch_max_bytes;
    int64_t replica_fetch_backoff_ms;
    int64_t replica_socket_timeout_ms;
    int64_t leader_replication_throttled_rate;   /* KIP-73; also dynamic (cluster.c) */
    int64_t follower_replication_throttled_rate;
    bool controller_requests_enable; /* brook.controller.requests.enable */
    bool controlled_shutdown_enable;
    int32_t controlled_shutdown_max_retries;
    int64_t controlled_shutdown_retry_backoff_ms;
    bool auto_leader_rebalance_enable;
    int32_t leader_imbalance_per_broker_percentage;
    int64_t leader_imbalance_check_interval_seconds;

    /* --- internal topics, groups, transactions --- */
    int32_t offsets_topic_replication_factor;
    int32_t offsets_topic_num_partitions;
    int32_t offsets_topic_segment_bytes;
    int32_t offsets_retention_minutes;
    int32_t transaction_state_log_replication_factor;
    int32_t transaction_state_log_min_isr;
    int32_t transaction_state_log_num_partitions;
    int32_t transaction_state_log_segment_bytes;
    int32_t transaction_max_timeout_ms;
    int32_t transactional_id_expiration_ms;
    int32_t transaction_abort_timed_out_cleanup_interval_ms;
    int32_t transaction_remove_expired_cleanup_interval_ms;
    bool transaction_partition_verification_enable;
    int32_t producer_id_expiration_ms;
    int32_t producer_id_expiration_check_interval_ms;
    int32_t group_initial_rebalance_delay_ms;
    int32_t group_min_session_timeout_ms;
    int32_t group_max_session_timeout_ms;
    int32_t group_max_size;

    /* --- security (issue 11; Kafka's names, see tls.h and sasl.h) --- */
    char *inter_broker_listener_name;     /* NULL: from security.inter.broker.protocol */
    char *security_inter_broker_protocol; /* PLAINTEXT */
    char *ssl_keystore_type;              /* NULL or PEM */
    char *ssl_keystore_location;          /* PEM file: key + chain */
    char *ssl_keystore_certificate_chain; /* inline PEM */
    char *ssl_keystore_key;               /* inline PEM */
    char *ssl_key_password;
    char *ssl_truststore_type; /* NULL or PEM */
    char *ssl_truststore_location;
    char *ssl_truststore_certificates; /* inline PEM */
    char *ssl_client_auth;             /* none | requested | required */
    bk_strlist ssl_enabled_protocols;  /* TLSv1.2,TLSv1.3 */
    char *ssl_protocol;                /* TLSv1.3 */
    char *ssl_endpoint_identification_algorithm; /* https | "" (inter-broker client) */
    bk_strlist sasl_enabled_mechanisms;
    char *sasl_plain_users_file; /* Brook: PLAIN users, see sasl.h */
    char *sasl_kerberos_service_name; /* GSSAPI: "kafka" */
    char *sasl_mechanism_inter_broker_protocol; /* PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512 */
    int32_t sasl_server_max_receive_size;
    int64_t connections_max_reauth_ms; /* 0: no re-authentication */

    /* --- ZooKeeper --- */
    char *zookeeper_connect;
    int32_t zookeeper_session_timeout_ms;
    int32_t zookeeper_connection_timeout_ms; /* after finish: defaults to session timeout */

    /* --- monitoring (issue 10) --- */
    char *metrics_listener;  /* metrics.listener: http://host:port; NULL/empty = off */
    char *log_level;         /* log.level */
    int64_t request_slow_ms; /* request.slow.ms; -1 = off */
    /* --- security: authorization, connection limits (issue 11) --- */
    char *authorizer_class_name; /* "" = none */
    char *super_users;           /* "User:a;User:b", NULL = none */
    bool allow_everyone_if_no_acl_found;
    int32_t max_connections;
    int32_t max_connections_per_ip;
    char *max_connections_per_ip_overrides; /* "host:count,..." */
    int32_t max_connection_creation_rate;   /* KIP-612, per second */

    /* --- derived by bk_config_finish() --- */
    bk_endpoint *listener_eps; /* owned: one per listeners entry */
    int nlistener_eps;
    bk_endpoint *advertised_eps; /* owned: one per advertised.listeners entry */
    int nadvertised_eps;
    int inter_broker_ep; /* index into advertised_eps: the inter-broker listener */
    /* listener.name.<l>.plain.sasl.jaas.config values (Kafka's way of giving
     * PLAIN users: user_<name>="<password>" options), joined by newlines;
     * owned, NULL if none. Brook applies them to every SASL listener. */
    char *plain_jaas;
    /* listener.name.<l>.gssapi.sasl.jaas.config or sasl.jaas.config with a
     * Krb5LoginModule entry (keyTab, principal: sasl_gssapi.h); owned. */
    char *gssapi_jaas;
    /* listener.name.<l>.scram-sha-256|512.sasl.jaas.config values, joined by
     * newlines (the inter-broker client's SCRAM username/password); owned. */
    char *scram_jaas;

    bool set[BK_CONFIG_MAX_KEYS]; /* by table index: given in the file or an override */
} bk_config;

typedef int bk_config_check_fn(const char *value, const char **why);

typedef struct bk_config_key {
    const char *name;
    uint8_t type;
    uint16_t off;     /* offsetof(bk_config, field) */
    const char *def;  /* default as text, NULL = null (no value, not set) */
    int64_t min, max; /* inclusive, for INT/LONG/DOUBLE; min > max = no range */
    const char *doc;
    bk_config_check_fn *check; /* optional: extra check of each (list) value */
} bk_config_key;

/* The table, for --help style listings and tests. */
extern const bk_config_key bk_config_keys[];
extern const int bk_config_nkeys;

const bk_config_key *bk_config_key_find(const char *name);

/* The value of key k in c as Kafka prints it (lists comma-separated);
 * NULL for a null string. Uses buf (cap bytes) for numbers and lists. */
const char *bk_config_text(const bk_config *c, const bk_config_key *k, char *buf, size_t cap);

/* Defaults. Returns BK_ENOMEM only. */
int bk_config_init(bk_config *c);
void bk_config_fini(bk_config *c);

/* Set one key from its text form.
 *   0          ok
 *   BK_ENOENT  unknown key (not an error for Kafka: callers warn)
 *   BK_EINVAL  bad value; err says "Invalid value V for configuration K: why" */
int bk_config_set(bk_config *c, const char *key, const char *value, char *err, size_t errlen);

/* Parse properties text (origin names it in messages, e.g. the file path).
 * Unknown keys are logged as warnings; the first bad value stops parsing
 * with BK_EINVAL. */
int bk_config_load_string(bk_config *c, const char *text, size_t len, const char *origin, char *err,
                          size_t errlen);
/* Same for a file; BK_EIO if it cannot be read. */
int bk_config_load_file(bk_config *c, const char *path, char *err, size_t errlen);

/* Apply "key=value" (as given to --override). Unknown keys warn. */
int bk_config_override(bk_config *c, const char *kv, char *err, size_t errlen);

/* Compute derived values (see the "after finish" fields) and check
 * combinations. Call once, after the last set. */
int bk_config_finish(bk_config *c, char *err, size_t errlen);

/* Was the key given explicitly (file or override)? */
bool bk_config_is_set(const bk_config *c, const char *name);

/* Write the value of one key as text (lists comma separated, null as
 * "null"). Returns snprintf's result. */
int bk_config_format(const bk_config *c, const bk_config_key *k, char *buf, size_t len);

/* Java-properties parser used by the loader; exposed for tests and for
 * meta.properties. cb returns 0 to go on, anything else stops and is
 * returned. key/value are NUL-terminated and valid only during the call. */
typedef int bk_props_cb(void *ud, const char *key, const char *value, int lineno);
int bk_props_parse(const char *text, size_t len, bk_props_cb *cb, void *ud);

#endif
