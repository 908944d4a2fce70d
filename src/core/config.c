/*
 * config.c - the server.properties table, the Java-properties parser and
 * typed value parsing. See config.h for the contract.
 */
#include "config.h"

#include <inttypes.h>

#include "err.h"
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <strings.h>

/* ------------------------------------------------------------ validators */

static int check_endpoint(const char *v, const char **why)
{
    bk_endpoint ep;
    return bk_endpoint_parse(v, &ep, why);
}

static int check_http_url(const char *v, const char **why)
{
    bk_endpoint ep;
    if (!*v)
        return 0;
    if (bk_endpoint_parse(v, &ep, why) != 0)
        return BK_EINVAL;
    if (strcmp(ep.name, "HTTP") != 0) {
        *why = "expected http://host:port";
        return BK_EINVAL;
    }
    return 0;
}

static int check_log_level(const char *v, const char **why)
{
    if (bk_log_level_parse(v) < 0) {
        *why = "expected debug, info, warn, error or off";
        return BK_EINVAL;
    }
    return 0;
}

static int check_path(const char *v, const char **why)
{
    if (!*v) {
        *why = "empty directory name";
        return BK_EINVAL;
    }
    return 0;
}

static int check_one_of(const char *v, const char *const *allowed, const char **why,
                        const char *msg)
{
    for (; *allowed; allowed++)
        if (strcmp(v, *allowed) == 0)
            return 0;
    *why = msg;
    return BK_EINVAL;
}

static int check_authorizer(const char *v, const char **why)
{
    static const char *const ok[] = {"", "kafka.security.authorizer.AclAuthorizer",
                                     "kafka.security.auth.SimpleAclAuthorizer",
                                     "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                                     NULL};
    return check_one_of(v, ok, why,
                        "Must be empty, kafka.security.authorizer.AclAuthorizer or "
                        "org.apache.kafka.metadata.authorizer.StandardAuthorizer");
}

static int check_ts_type(const char *v, const char **why)
{
    static const char *const ok[] = {"CreateTime", "LogAppendTime", NULL};
    return check_one_of(v, ok, why, "String must be one of: CreateTime, LogAppendTime");
}

static int check_compression(const char *v, const char **why)
{
    static const char *const ok[] = {"uncompressed", "zstd",     "lz4", "snappy",
                                     "gzip",         "producer", NULL};
    return check_one_of(v, ok, why,
                        "String must be one of: uncompressed, zstd, lz4, snappy, gzip, producer");
}

static int check_cleanup(const char *v, const char **why)
{
    static const char *const ok[] = {"delete", "compact", NULL};
    return check_one_of(v, ok, why, "String must be one of: delete, compact");
}

static int check_proto_map_entry(const char *v, const char **why)
{
    static const char *const protos[] = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL", NULL};
    const char *colon = strchr(v, ':');
    if (!colon || colon == v) {
        *why = "entries must be NAME:SECURITY_PROTOCOL";
        return BK_EINVAL;
    }
    return check_one_of(
        colon + 1, protos, why,
        "security protocol must be one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL");
}

static int check_sec_proto(const char *v, const char **why)
{
    static const char *const protos[] = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL", NULL};
    return check_one_of(
        v, protos, why, "security protocol must be one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL");
}

static int check_client_auth(const char *v, const char **why)
{
    static const char *const vals[] = {"none", "requested", "required", NULL};
    return check_one_of(v, vals, why, "must be one of none, requested, required");
}

static int check_cluster_id(const char *v, const char **why)
{
    size_t n = strlen(v);
    if (n == 0 || n > 64) {
        *why = "cluster id must be 1 to 64 characters";
        return BK_EINVAL;
    }
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)v[i]) && v[i] != '-' && v[i] != '_') {
            *why = "cluster id may only contain [A-Za-z0-9_-]";
            return BK_EINVAL;
        }
    return 0;
}

/* ----------------------------------------------------------------- table */

#define OFF(f) ((uint16_t)offsetof(bk_config, f))
#define NR     1, 0 /* no numeric range */
#define I32MAX INT32_MAX
#define I64MAX INT64_MAX

/* Rows follow KafkaConfig (3.9): same names, types and defaults. A NULL
 * default is Kafka's "null": the key has no value unless given. */
const bk_config_key bk_config_keys[] = {
    /* broker identity */
    {"broker.id", BK_CFG_INT, OFF(broker_id), "-1", -1, I32MAX,
     "Broker id; -1 takes it from meta.properties or generates one above reserved.broker.max.id",
     NULL},
    {"reserved.broker.max.id", BK_CFG_INT, OFF(reserved_broker_max_id), "1000", 0, I32MAX,
     "Highest broker id that may be configured by hand", NULL},
    {"broker.rack", BK_CFG_STRING, OFF(broker_rack), NULL, NR, "Rack of this broker", NULL},
    {"cluster.id", BK_CFG_STRING, OFF(cluster_id), NULL, NR,
     "Brook: fixed cluster id; otherwise meta.properties or a new random id", check_cluster_id},

    /* network */
    {"listeners", BK_CFG_LIST, OFF(listeners), "PLAINTEXT://:9092", NR,
     "Comma-separated NAME://host:port to listen on; empty host = all interfaces, port 0 = "
     "ephemeral",
     check_endpoint},
    {"advertised.listeners", BK_CFG_LIST, OFF(advertised_listeners), NULL, NR,
     "Listeners given to clients in Metadata; defaults to listeners", check_endpoint},
    {"listener.security.protocol.map", BK_CFG_LIST, OFF(listener_security_protocol_map),
     "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL", NR,
     "Listener name to security protocol", check_proto_map_entry},
    {"inter.broker.listener.name", BK_CFG_STRING, OFF(inter_broker_listener_name), NULL, NR,
     "Listener the brokers connect to each other on; "
     "default: the listener of security.inter.broker.protocol",
     NULL},
    {"security.inter.broker.protocol", BK_CFG_STRING, OFF(security_inter_broker_protocol),
     "PLAINTEXT", NR, "Security protocol between brokers",
     check_sec_proto},
    {"ssl.keystore.type", BK_CFG_STRING, OFF(ssl_keystore_type), NULL, NR,
     "Key store format; Brook reads PEM only", NULL},
    {"ssl.keystore.location", BK_CFG_STRING, OFF(ssl_keystore_location), NULL, NR,
     "PEM file with the private key and the certificate chain (leaf first)", NULL},
    {"ssl.keystore.certificate.chain", BK_CFG_STRING, OFF(ssl_keystore_certificate_chain), NULL,
     NR, "The certificate chain as inline PEM", NULL},
    {"ssl.keystore.key", BK_CFG_STRING, OFF(ssl_keystore_key), NULL, NR,
     "The private key as inline PEM", NULL},
    {"ssl.key.password", BK_CFG_STRING, OFF(ssl_key_password), NULL, NR,
     "Password of an encrypted private key", NULL},
    {"ssl.truststore.type", BK_CFG_STRING, OFF(ssl_truststore_type), NULL, NR,
     "Trust store format; Brook reads PEM only", NULL},
    {"ssl.truststore.location", BK_CFG_STRING, OFF(ssl_truststore_location), NULL, NR,
     "PEM file of the CA certificates client certificates are verified against", NULL},
    {"ssl.truststore.certificates", BK_CFG_STRING, OFF(ssl_truststore_certificates), NULL, NR,
     "Trusted CA certificates as inline PEM", NULL},
    {"ssl.client.auth", BK_CFG_STRING, OFF(ssl_client_auth), "none", NR,
     "Client certificates: none, requested or required", check_client_auth},
    {"ssl.enabled.protocols", BK_CFG_LIST, OFF(ssl_enabled_protocols), "TLSv1.2,TLSv1.3", NR,
     "TLS versions accepted (TLSv1.2, TLSv1.3)", NULL},
    {"ssl.endpoint.identification.algorithm", BK_CFG_STRING,
     OFF(ssl_endpoint_identification_algorithm), "https", NR,
     "Inter-broker TLS: https = the other broker's certificate must name the host or IP "
     "it is reached at (subjectAltName); empty = no host name check",
     NULL},
    {"ssl.protocol", BK_CFG_STRING, OFF(ssl_protocol), "TLSv1.3", NR,
     "TLS protocol of the SSL context (TLSv1.2 or TLSv1.3)", NULL},
    {"sasl.enabled.mechanisms", BK_CFG_LIST, OFF(sasl_enabled_mechanisms), "GSSAPI", NR,
     "SASL mechanisms offered (Brook: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, GSSAPI)", NULL},
    {"sasl.kerberos.service.name", BK_CFG_STRING, OFF(sasl_kerberos_service_name), "kafka", NR,
     "Kerberos service name of the broker's GSSAPI principal (<name>/<host>@<REALM>)", NULL},
    {"sasl.plain.users.file", BK_CFG_STRING, OFF(sasl_plain_users_file), NULL, NR,
     "Brook: file of PLAIN users, one 'user_<name>=\"<password>\"' per line (docs/security.md)",
     NULL},
    {"sasl.mechanism.inter.broker.protocol", BK_CFG_STRING,
     OFF(sasl_mechanism_inter_broker_protocol), "GSSAPI", NR,
     "SASL mechanism between brokers on a SASL inter-broker listener (Brook: PLAIN, "
     "SCRAM-SHA-256 or SCRAM-SHA-512; credentials from the listener's sasl.jaas.config)",
     NULL},
    {"sasl.server.max.receive.size", BK_CFG_INT, OFF(sasl_server_max_receive_size), "524288", 1,
     I32MAX, "Largest frame accepted before SASL authentication completes", NULL},
    {"connections.max.reauth.ms", BK_CFG_LONG, OFF(connections_max_reauth_ms), "0", 0, I64MAX,
     "SASL session lifetime (KIP-368); 0 = sessions do not expire", NULL},
    {"socket.request.max.bytes", BK_CFG_INT, OFF(socket_request_max_bytes), "104857600", 1, I32MAX,
     "Largest request frame accepted; larger frames close the connection", NULL},
    {"socket.send.buffer.bytes", BK_CFG_INT, OFF(socket_send_buffer_bytes), "102400", -1, I32MAX,
     "SO_SNDBUF of client sockets; -1 = OS default", NULL},
    {"socket.receive.buffer.bytes", BK_CFG_INT, OFF(socket_receive_buffer_bytes), "102400", -1,
     I32MAX, "SO_RCVBUF of client sockets; -1 = OS default", NULL},
    {"socket.listen.backlog.size", BK_CFG_INT, OFF(socket_listen_backlog_size), "50", 1, I32MAX,
     "listen(2) backlog", NULL},
    {"connections.max.idle.ms", BK_CFG_LONG, OFF(connections_max_idle_ms), "600000", -1, I64MAX,
     "Close connections idle this long; -1 = never", NULL},
    {"num.network.threads", BK_CFG_INT, OFF(num_network_threads), "3", 1, I32MAX,
     "Accepted for compatibility; Brook runs one event loop", NULL},
    {"num.io.threads", BK_CFG_INT, OFF(num_io_threads), "8", 1, I32MAX,
     "Accepted for compatibility; Brook runs one event loop", NULL},
    {"queued.max.requests", BK_CFG_INT, OFF(queued_max_requests), "500", 1, I32MAX,
     "Accepted for compatibility", NULL},
    {"background.threads", BK_CFG_INT, OFF(background_threads), "10", 1, I32MAX,
     "Accepted for compatibility", NULL},

    /* log */
    {"log.dirs", BK_CFG_LIST, OFF(log_dirs), NULL, NR,
     "Directories holding the partition logs; defaults to log.dir", check_path},
    {"log.dir", BK_CFG_STRING, OFF(log_dir), "/tmp/kafka-logs", NR,
     "Log directory, used when log.dirs is not set", check_path},
    {"num.partitions", BK_CFG_INT, OFF(num_partitions), "1", 1, I32MAX,
     "Partitions of auto-created topics", NULL},
    {"default.replication.factor", BK_CFG_INT, OFF(default_replication_factor), "1", 1, I32MAX,
     "Replication factor of auto-created topics", NULL},
    {"auto.create.topics.enable", BK_CFG_BOOL, OFF(auto_create_topics_enable), "true", NR,
     "Create topics on first Metadata/Produce for them", NULL},
    {"delete.topic.enable", BK_CFG_BOOL, OFF(delete_topic_enable), "true", NR, "Allow DeleteTopics",
     NULL},
    {"message.max.bytes", BK_CFG_INT, OFF(message_max_bytes), "1048588", 0, I32MAX,
     "Largest record batch accepted", NULL},
    {"log.segment.bytes", BK_CFG_INT, OFF(log_segment_bytes), "1073741824", 14, I32MAX,
     "Segment file size before rolling", NULL},
    {"log.retention.ms", BK_CFG_LONG, OFF(log_retention_ms), NULL, -1, I64MAX,
     "Retention time; wins over minutes and hours; -1 = forever", NULL},
    {"log.retention.minutes", BK_CFG_INT, OFF(log_retention_minutes), NULL, -1, I32MAX,
     "Retention time in minutes; wins over hours", NULL},
    {"log.retention.hours", BK_CFG_INT, OFF(log_retention_hours), "168", -1, I32MAX,
     "Retention time in hours", NULL},
    {"log.retention.bytes", BK_CFG_LONG, OFF(log_retention_bytes), "-1", -1, I64MAX,
     "Retention size per partition; -1 = unlimited", NULL},
    {"log.retention.check.interval.ms", BK_CFG_LONG, OFF(log_retention_check_interval_ms), "300000",
     1, I64MAX, "How often retention is checked", NULL},
    {"log.roll.ms", BK_CFG_LONG, OFF(log_roll_ms), NULL, 1, I64MAX,
     "Roll a segment after this long; wins over log.roll.hours", NULL},
    {"log.roll.hours", BK_CFG_INT, OFF(log_roll_hours), "168", 1, I32MAX,
     "Roll a segment after this many hours", NULL},
    {"log.flush.interval.messages", BK_CFG_LONG, OFF(log_flush_interval_messages),
     "9223372036854775807", 1, I64MAX, "fsync after this many messages", NULL},
    {"log.flush.interval.ms", BK_CFG_LONG, OFF(log_flush_interval_ms), NULL, 0, I64MAX,
     "fsync after this long; defaults to log.flush.scheduler.interval.ms", NULL},
    {"log.flush.scheduler.interval.ms", BK_CFG_LONG, OFF(log_flush_scheduler_interval_ms),
     "9223372036854775807", 0, I64MAX, "How often the flusher checks", NULL},
    {"log.index.size.max.bytes", BK_CFG_INT, OFF(log_index_size_max_bytes), "10485760", 4, I32MAX,
     "Maximum offset index size", NULL},
    {"log.index.interval.bytes", BK_CFG_INT, OFF(log_index_interval_bytes), "4096", 0, I32MAX,
     "Bytes between offset index entries", NULL},
    {"log.cleanup.policy", BK_CFG_LIST, OFF(log_cleanup_policy), "delete", NR,
     "delete and/or compact", check_cleanup},
    {"log.cleaner.min.cleanable.ratio", BK_CFG_DOUBLE, OFF(log_cleaner_min_cleanable_ratio), "0.5",
     0, 1, "Dirty ratio that triggers compaction", NULL},
    {"log.cleaner.enable", BK_CFG_BOOL, OFF(log_cleaner_enable), "true", NR,
     "Run the log cleaner for compacted topics", NULL},
    {"log.cleaner.threads", BK_CFG_INT, OFF(log_cleaner_threads), "1", 0, 64,
     "Log cleaner threads", NULL},
    {"log.cleaner.dedupe.buffer.size", BK_CFG_LONG, OFF(log_cleaner_dedupe_buffer_size),
     "134217728", 1048576, I64MAX, "Memory of the cleaners' offset maps, all threads", NULL},
    {"log.cleaner.io.max.bytes.per.second", BK_CFG_DOUBLE,
     OFF(log_cleaner_io_max_bytes_per_second), "1.7976931348623157E308", NR,
     "Cleaner I/O throttle (read plus written bytes)", NULL},
    {"log.cleaner.backoff.ms", BK_CFG_LONG, OFF(log_cleaner_backoff_ms), "15000", 0, I64MAX,
     "Sleep of the cleaner when no log is cleanable", NULL},
    {"log.cleaner.delete.retention.ms", BK_CFG_LONG, OFF(log_cleaner_delete_retention_ms),
     "86400000", 0, I64MAX, "Default delete.retention.ms", NULL},
    {"log.cleaner.min.compaction.lag.ms", BK_CFG_LONG, OFF(log_cleaner_min_compaction_lag_ms), "0",
     0, I64MAX, "Default min.compaction.lag.ms", NULL},
    {"log.cleaner.max.compaction.lag.ms", BK_CFG_LONG, OFF(log_cleaner_max_compaction_lag_ms),
     "9223372036854775807", 1, I64MAX, "Default max.compaction.lag.ms", NULL},
    {"log.message.timestamp.type", BK_CFG_STRING, OFF(log_message_timestamp_type), "CreateTime", NR,
     "CreateTime or LogAppendTime", check_ts_type},
    {"compression.type", BK_CFG_STRING, OFF(compression_type), "producer", NR,
     "Final compression of topics", check_compression},
    {"num.recovery.threads.per.data.dir", BK_CFG_INT, OFF(num_recovery_threads_per_data_dir), "1",
     1, I32MAX, "Accepted for compatibility", NULL},
    {"min.insync.replicas", BK_CFG_INT, OFF(min_insync_replicas), "1", 1, I32MAX,
     "Replicas that must acknowledge an acks=all write", NULL},
    {"unclean.leader.election.enable", BK_CFG_BOOL, OFF(unclean_leader_election_enable), "false",
     NR, "Allow out-of-sync replicas to become leader", NULL},

    /* replication */
    {"replica.lag.time.max.ms", BK_CFG_LONG, OFF(replica_lag_time_max_ms), "30000", 0, I64MAX,
     "A follower that has not caught up for this long leaves the ISR", NULL},
    {"num.replica.fetchers", BK_CFG_INT, OFF(num_replica_fetchers), "1", 1, I32MAX,
     "Fetcher connections per source broker", NULL},
    {"replica.fetch.wait.max.ms", BK_CFG_LONG, OFF(replica_fetch_wait_max_ms), "500", 0, I64MAX,
     "Longest wait of a follower's fetch at the leader", NULL},
    {"replica.fetch.max.bytes", BK_CFG_INT, OFF(replica_fetch_max_bytes), "1048576", 0, I32MAX,
     "Bytes a follower asks for per partition", NULL},
    {"replica.fetch.backoff.ms", BK_CFG_LONG, OFF(replica_fetch_backoff_ms), "1000", 0, I64MAX,
     "Pause of a follower's fetcher after an error", NULL},
    {"replica.socket.timeout.ms", BK_CFG_LONG, OFF(replica_socket_timeout_ms), "30000", 1, I64MAX,
     "A fetcher request without an answer for this long drops the connection", NULL},
    {"leader.replication.throttled.rate", BK_CFG_LONG, OFF(leader_replication_throttled_rate),
     "9223372036854775807", 0, I64MAX,
     "Bytes/s a leader sends of the throttled replicas (dynamic in cluster mode)", NULL},
    {"follower.replication.throttled.rate", BK_CFG_LONG,
     OFF(follower_replication_throttled_rate), "9223372036854775807", 0, I64MAX,
     "Bytes/s a follower fetches of the throttled replicas (dynamic in cluster mode)", NULL},
    {"brook.controller.requests.enable", BK_CFG_BOOL, OFF(controller_requests_enable), "false",
     NR,
     "Accept the controller's LeaderAndIsr/UpdateMetadata/StopReplica (cluster mode without "
     "ZooKeeper: partitions are led and replicated only as those requests say; implied by "
     "zookeeper.connect)",
     NULL},

    {"controlled.shutdown.enable", BK_CFG_BOOL, OFF(controlled_shutdown_enable), "true", NR,
     "On SIGTERM, ask the controller to move this broker's leaderships away first (cluster mode)",
     NULL},
    {"controlled.shutdown.max.retries", BK_CFG_INT, OFF(controlled_shutdown_max_retries), "3", 0,
     I32MAX, "Controlled shutdown attempts before shutting down anyway", NULL},
    {"controlled.shutdown.retry.backoff.ms", BK_CFG_LONG,
     OFF(controlled_shutdown_retry_backoff_ms), "5000", 0, I64MAX,
     "Pause between controlled shutdown attempts", NULL},
    {"auto.leader.rebalance.enable", BK_CFG_BOOL, OFF(auto_leader_rebalance_enable), "true", NR,
     "The controller moves leadership back to preferred replicas when brokers are imbalanced",
     NULL},
    {"leader.imbalance.per.broker.percentage", BK_CFG_INT,
     OFF(leader_imbalance_per_broker_percentage), "10", 0, 100,
     "Share of a broker's preferred leaderships held elsewhere that triggers a rebalance", NULL},
    {"leader.imbalance.check.interval.seconds", BK_CFG_LONG,
     OFF(leader_imbalance_check_interval_seconds), "300", 1, I64MAX,
     "How often the controller checks the leader imbalance", NULL},

    /* internal topics, groups, transactions */
    {"offsets.topic.replication.factor", BK_CFG_INT, OFF(offsets_topic_replication_factor), "3", 1,
     INT16_MAX, "Replication factor of __consumer_offsets", NULL},
    {"offsets.topic.num.partitions", BK_CFG_INT, OFF(offsets_topic_num_partitions), "50", 1, I32MAX,
     "Partitions of __consumer_offsets", NULL},
    {"offsets.topic.segment.bytes", BK_CFG_INT, OFF(offsets_topic_segment_bytes), "104857600", 1,
     I32MAX, "segment.bytes of __consumer_offsets", NULL},
    {"offsets.retention.minutes", BK_CFG_INT, OFF(offsets_retention_minutes), "10080", 1, I32MAX,
     "Committed offsets of empty groups expire after this", NULL},
    {"transaction.state.log.replication.factor", BK_CFG_INT,
     OFF(transaction_state_log_replication_factor), "3", 1, INT16_MAX,
     "Replication factor of __transaction_state", NULL},
    {"transaction.state.log.min.isr", BK_CFG_INT, OFF(transaction_state_log_min_isr), "2", 1,
     I32MAX, "min.insync.replicas of __transaction_state", NULL},
    {"transaction.state.log.num.partitions", BK_CFG_INT, OFF(transaction_state_log_num_partitions),
     "50", 1, I32MAX, "Partitions of __transaction_state", NULL},
    {"transaction.state.log.segment.bytes", BK_CFG_INT, OFF(transaction_state_log_segment_bytes),
     "104857600", 1, I32MAX, "segment.bytes of __transaction_state", NULL},
    {"transaction.max.timeout.ms", BK_CFG_INT, OFF(transaction_max_timeout_ms), "900000", 1,
     I32MAX, "Largest transaction.timeout.ms a producer may ask for", NULL},
    {"transactional.id.expiration.ms", BK_CFG_INT, OFF(transactional_id_expiration_ms),
     "604800000", 1, I32MAX, "Forget a transactional id idle for this long", NULL},
    {"transaction.abort.timed.out.transaction.cleanup.interval.ms", BK_CFG_INT,
     OFF(transaction_abort_timed_out_cleanup_interval_ms), "10000", 1, I32MAX,
     "How often to abort transactions that ran past their timeout", NULL},
    {"transaction.remove.expired.transaction.cleanup.interval.ms", BK_CFG_INT,
     OFF(transaction_remove_expired_cleanup_interval_ms), "3600000", 1, I32MAX,
     "How often to forget expired transactional ids", NULL},
    {"transaction.partition.verification.enable", BK_CFG_BOOL,
     OFF(transaction_partition_verification_enable), "true", NR,
     "Refuse transactional writes to partitions not added to the transaction", NULL},
    {"producer.id.expiration.ms", BK_CFG_INT, OFF(producer_id_expiration_ms), "86400000", 1,
     I32MAX, "Forget an idle producer's state (sequence numbers) after this", NULL},
    {"producer.id.expiration.check.interval.ms", BK_CFG_INT,
     OFF(producer_id_expiration_check_interval_ms), "600000", 1, I32MAX,
     "How often to look for expired producer ids", NULL},
    {"group.initial.rebalance.delay.ms", BK_CFG_INT, OFF(group_initial_rebalance_delay_ms), "3000",
     0, I32MAX, "Wait for more members before the first rebalance of a new group", NULL},
    {"group.min.session.timeout.ms", BK_CFG_INT, OFF(group_min_session_timeout_ms), "6000", 0,
     I32MAX, "Smallest session timeout a member may ask for", NULL},
    {"group.max.session.timeout.ms", BK_CFG_INT, OFF(group_max_session_timeout_ms), "1800000", 0,
     I32MAX, "Largest session timeout a member may ask for", NULL},
    {"group.max.size", BK_CFG_INT, OFF(group_max_size), "2147483647", 1, I32MAX,
     "Largest number of members a consumer group may have", NULL},

    /* ZooKeeper */
    {"zookeeper.connect", BK_CFG_STRING, OFF(zookeeper_connect), NULL, NR,
     "host:port[,host:port...][/chroot] of the ZooKeeper ensemble", NULL},
    {"zookeeper.session.timeout.ms", BK_CFG_INT, OFF(zookeeper_session_timeout_ms), "18000", 1,
     I32MAX, "ZooKeeper session timeout", NULL},
    {"zookeeper.connection.timeout.ms", BK_CFG_INT, OFF(zookeeper_connection_timeout_ms), NULL, 1,
     I32MAX, "Connect timeout; defaults to the session timeout", NULL},

    /* monitoring (docs/metrics.md) */
    {"metrics.listener", BK_CFG_STRING, OFF(metrics_listener), NULL, NR,
     "Brook: http://host:port serving /metrics (Prometheus), /health and /ready; empty = off",
     check_http_url},
    {"log.level", BK_CFG_STRING, OFF(log_level), "info", NR,
     "Brook: debug, info, warn, error or off (BROOK_LOG_LEVEL overrides)", check_log_level},
    {"request.slow.ms", BK_CFG_LONG, OFF(request_slow_ms), "1000", -1, I64MAX,
     "Brook: log requests slower than this (Fetch: without its long-poll wait); -1 = off",
     NULL},
    /* security: authorization and connection limits (issue 11) */
    {"authorizer.class.name", BK_CFG_STRING, OFF(authorizer_class_name), "", NR,
     "ACL authorizer (Kafka's class names accepted); empty = no authorization", check_authorizer},
    {"super.users", BK_CFG_STRING, OFF(super_users), NULL, NR,
     "Principals allowed everything, separated by ';' (User:admin;User:ops)", NULL},
    {"allow.everyone.if.no.acl.found", BK_CFG_BOOL, OFF(allow_everyone_if_no_acl_found), "false",
     NR, "Allow a request when no ACL matches its resource", NULL},
    {"max.connections", BK_CFG_INT, OFF(max_connections), "2147483647", 0, I32MAX,
     "Most connections the broker accepts; more are closed at accept", NULL},
    {"max.connections.per.ip", BK_CFG_INT, OFF(max_connections_per_ip), "2147483647", 0, I32MAX,
     "Most connections from one IP address", NULL},
    {"max.connections.per.ip.overrides", BK_CFG_STRING, OFF(max_connections_per_ip_overrides), "",
     NR, "Per-IP limits: host:count,host:count (checked at start-up)", NULL},
    {"max.connection.creation.rate", BK_CFG_INT, OFF(max_connection_creation_rate), "2147483647",
     0, I32MAX, "Most new connections a second for the broker (KIP-612); more are closed at accept",
     NULL},
};
const int bk_config_nkeys = (int)BK_ARRAY_LEN(bk_config_keys);

_Static_assert(BK_ARRAY_LEN(bk_config_keys) <= BK_CONFIG_MAX_KEYS, "grow BK_CONFIG_MAX_KEYS");

const bk_config_key *bk_config_key_find(const char *name)
{
    /* Linear: ~60 rows, used at start-up only. */
    for (int i = 0; i < bk_config_nkeys; i++)
        if (strcmp(bk_config_keys[i].name, name) == 0)
            return &bk_config_keys[i];
    return NULL;
}

/* --------------------------------------------------------------- helpers */

BK_PRINTF(3, 4)
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return BK_EINVAL;
}

static void *field(bk_config *c, const bk_config_key *k)
{
    return (char *)c + k->off;
}

static const void *cfield(const bk_config *c, const bk_config_key *k)
{
    return (const char *)c + k->off;
}

static void strlist_free(bk_strlist *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* Java String.trim(): strip every char <= ' ' at both ends. Returns a
 * pointer into s and the trimmed length. */
static const char *trim(const char *s, size_t *len)
{
    size_t n = strlen(s);
    while (n && (unsigned char)*s <= ' ') {
        s++;
        n--;
    }
    while (n && (unsigned char)s[n - 1] <= ' ')
        n--;
    *len = n;
    return s;
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* Split "a , b,c" on commas with surrounding whitespace (Kafka's
 * COMMA_WITH_WHITESPACE); "" is the empty list. */
static int split_list(const char *s, size_t n, bk_strlist *out)
{
    out->n = 0;
    out->v = NULL;
    if (n == 0)
        return 0;
    int cnt = 1;
    for (size_t i = 0; i < n; i++)
        cnt += s[i] == ',';
    out->v = calloc((size_t)cnt, sizeof *out->v);
    if (!out->v)
        return BK_ENOMEM;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != ',')
            continue;
        size_t a = start, b = i;
        while (a < b && (unsigned char)s[a] <= ' ')
            a++;
        while (b > a && (unsigned char)s[b - 1] <= ' ')
            b--;
        if (!(out->v[out->n] = dup_n(s + a, b - a))) {
            strlist_free(out);
            return BK_ENOMEM;
        }
        out->n++;
        start = i + 1;
    }
    return 0;
}

/* Integer as Java's Long.parseLong: optional sign, decimal digits only. */
static bool parse_i64(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    if (i == n)
        return false;
    uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (lim - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

static const char *type_name(uint8_t t)
{
    switch (t) {
    case BK_CFG_INT:
        return "INT";
    case BK_CFG_LONG:
        return "LONG";
    case BK_CFG_BOOL:
        return "BOOLEAN";
    case BK_CFG_STRING:
        return "STRING";
    case BK_CFG_LIST:
        return "LIST";
    case BK_CFG_DOUBLE:
        return "DOUBLE";
    }
    return "?";
}

/* Parse value into k's field. The old value is replaced only on success. */
static int parse_into(bk_config *c, const bk_config_key *k, const char *raw, char *err,
                      size_t errlen)
{
    size_t n;
    const char *v = trim(raw, &n);
    char tmp[64];
    const char *why = NULL;

    switch (k->type) {
    case BK_CFG_INT:
    case BK_CFG_LONG: {
        int64_t x;
        if (!parse_i64(v, n, &x) || (k->type == BK_CFG_INT && (x < INT32_MIN || x > INT32_MAX)))
            return fail(err, errlen,
                        "Invalid value %s for configuration %s: Not a number of type %s", raw,
                        k->name, type_name(k->type));
        if (k->min <= k->max && x < k->min)
            return fail(err, errlen,
                        "Invalid value %s for configuration %s: Value must be at least %lld", raw,
                        k->name, (long long)k->min);
        if (k->min <= k->max && x > k->max)
            return fail(err, errlen,
                        "Invalid value %s for configuration %s: Value must be no more than %lld",
                        raw, k->name, (long long)k->max);
        if (k->type == BK_CFG_INT)
            *(int32_t *)field(c, k) = (int32_t)x;
        else
            *(int64_t *)field(c, k) = x;
        return 0;
    }
    case BK_CFG_DOUBLE: {
        if (n == 0 || n >= sizeof tmp)
            return fail(err, errlen,
                        "Invalid value %s for configuration %s: Not a number of type DOUBLE", raw,
                        k->name);
        memcpy(tmp, v, n);
        tmp[n] = '\0';
        char *end;
        errno = 0;
        double d = strtod(tmp, &end);
        if (*end || errno || isnan(d))
            return fail(err, errlen,
                        "Invalid value %s for configuration %s: Not a number of type DOUBLE", raw,
                        k->name);
        if (k->min <= k->max && (d < (double)k->min || d > (double)k->max))
            return fail(err, errlen,
                        "Invalid value %s for configuration %s: Value must be between %lld and "
                        "%lld",
                        raw, k->name, (long long)k->min, (long long)k->max);
        *(double *)field(c, k) = d;
        return 0;
    }
    case BK_CFG_BOOL:
        if (n == 4 && strncasecmp(v, "true", 4) == 0)
            *(bool *)field(c, k) = true;
        else if (n == 5 && strncasecmp(v, "false", 5) == 0)
            *(bool *)field(c, k) = false;
        else
            return fail(err, errlen,
                        "Invalid value %s for configuration %s: Expected value to be either true "
                        "or false",
                        raw, k->name);
        return 0;
    case BK_CFG_STRING: {
        char *s = dup_n(v, n);
        if (!s)
            return BK_ENOMEM;
        if (k->check && k->check(s, &why) != 0) {
            free(s);
            return fail(err, errlen, "Invalid value %s for configuration %s: %s", raw, k->name,
                        why);
        }
        char **slot = field(c, k);
        free(*slot);
        *slot = s;
        return 0;
    }
    case BK_CFG_LIST: {
        bk_strlist l;
        if (split_list(v, n, &l) != 0)
            return BK_ENOMEM;
        for (int i = 0; k->check && i < l.n; i++) {
            if (k->check(l.v[i], &why) != 0) {
                int rc = fail(err, errlen, "Invalid value %s for configuration %s: %s (in '%s')",
                              raw, k->name, why, l.v[i]);
                strlist_free(&l);
                return rc;
            }
        }
        bk_strlist *slot = field(c, k);
        strlist_free(slot);
        *slot = l;
        return 0;
    }
    }
    bk_panic(__FILE__, __LINE__, "unknown config type");
}

/* ------------------------------------------------------------- endpoints */

int bk_endpoint_parse(const char *s, bk_endpoint *ep, const char **why)
{
    memset(ep, 0, sizeof *ep);
    const char *sep = strstr(s, "://");
    if (!sep) {
        *why = "Unable to parse as a listener: expected NAME://host:port";
        return BK_EINVAL;
    }
    size_t nlen = (size_t)(sep - s);
    if (nlen == 0 || nlen >= sizeof ep->name) {
        *why = "listener name must be 1 to 63 characters";
        return BK_EINVAL;
    }
    for (size_t i = 0; i < nlen; i++) {
        char ch = s[i];
        if (!isalnum((unsigned char)ch) && ch != '_' && ch != '-' && ch != '.') {
            *why = "listener name may only contain [A-Za-z0-9._-]";
            return BK_EINVAL;
        }
        ep->name[i] = (char)toupper((unsigned char)ch);
    }

    const char *h = sep + 3, *hend, *p;
    if (*h == '[') { /* [IPv6]:port */
        hend = strchr(h, ']');
        if (!hend || hend[1] != ':') {
            *why = "Unable to parse as a listener: bad [IPv6 address]:port";
            return BK_EINVAL;
        }
        h++;
        p = hend + 2;
    } else {
        const char *colon = strrchr(h, ':');
        if (!colon) {
            *why = "Unable to parse as a listener: missing :port";
            return BK_EINVAL;
        }
        hend = colon;
        p = colon + 1;
    }
    size_t hlen = (size_t)(hend - h);
    if (hlen >= sizeof ep->host) {
        *why = "host name too long";
        return BK_EINVAL;
    }
    for (size_t i = 0; i < hlen; i++) {
        char ch = h[i];
        if (!isalnum((unsigned char)ch) && !strchr("-%._:", ch)) {
            *why = "invalid character in host name";
            return BK_EINVAL;
        }
    }
    memcpy(ep->host, h, hlen);
    ep->host[hlen] = '\0';

    int64_t port;
    if (!parse_i64(p, strlen(p), &port) || port < 0 || port > 65535) {
        *why = "port must be a number between 0 and 65535";
        return BK_EINVAL;
    }
    ep->port = (int)port;
    return 0;
}

/* -------------------------------------------------------------- life cycle */

int bk_config_init(bk_config *c)
{
    memset(c, 0, sizeof *c);
    for (int i = 0; i < bk_config_nkeys; i++) {
        const bk_config_key *k = &bk_config_keys[i];
        if (!k->def)
            continue;
        char err[256];
        int rc = parse_into(c, k, k->def, err, sizeof err);
        if (rc == BK_ENOMEM) {
            bk_config_fini(c);
            return rc;
        }
        BK_BUG_ON(rc != 0); /* a default in the table does not parse */
    }
    return 0;
}

void bk_config_fini(bk_config *c)
{
    for (int i = 0; i < bk_config_nkeys; i++) {
        const bk_config_key *k = &bk_config_keys[i];
        if (k->type == BK_CFG_STRING) {
            char **s = field(c, k);
            free(*s);
            *s = NULL;
        } else if (k->type == BK_CFG_LIST) {
            strlist_free(field(c, k));
        }
    }
    free(c->listener_eps);
    free(c->advertised_eps);
    free(c->plain_jaas);
    c->plain_jaas = NULL;
    free(c->gssapi_jaas);
    c->gssapi_jaas = NULL;
    free(c->scram_jaas);
    c->scram_jaas = NULL;
    c->listener_eps = c->advertised_eps = NULL;
    c->nlistener_eps = c->nadvertised_eps = 0;
}

/* listener.name.<listener>.plain.sasl.jaas.config (any listener): kept in
 * c->plain_jaas. 1 if key is one, 0 if not, BK_ENOMEM. */
static int set_plain_jaas(bk_config *c, const char *key, const char *value)
{
    static const char pre[] = "listener.name.", suf[] = ".plain.sasl.jaas.config";
    static const char s256[] = ".scram-sha-256.sasl.jaas.config",
                      s512[] = ".scram-sha-512.sasl.jaas.config";
    size_t kl = strlen(key), pl = sizeof pre - 1, sl = sizeof suf - 1;
    char **dst = &c->plain_jaas;
    if (kl > pl + sizeof s256 - 1 && strncasecmp(key, pre, pl) == 0 &&
        (strcasecmp(key + kl - (sizeof s256 - 1), s256) == 0 ||
         strcasecmp(key + kl - (sizeof s512 - 1), s512) == 0)) {
        dst = &c->scram_jaas; /* the inter-broker client's SCRAM login */
    } else if (kl <= pl + sl || strncasecmp(key, pre, pl) != 0 ||
               strcasecmp(key + kl - sl, suf) != 0) {
        return 0;
    }
    size_t old = *dst ? strlen(*dst) : 0;
    char *n = realloc(*dst, old + strlen(value) + 2);
    if (!n)
        return BK_ENOMEM;
    if (old)
        n[old++] = '\n';
    strcpy(n + old, value);
    *dst = n;
    return 1;
}

/* listener.name.<listener>.gssapi.sasl.jaas.config, or sasl.jaas.config
 * holding a Krb5LoginModule entry: c->gssapi_jaas (the last one wins). */
static int set_gssapi_jaas(bk_config *c, const char *key, const char *value)
{
    static const char pre[] = "listener.name.", suf[] = ".gssapi.sasl.jaas.config";
    size_t kl = strlen(key), pl = sizeof pre - 1, sl = sizeof suf - 1;
    bool listener = kl > pl + sl && strncasecmp(key, pre, pl) == 0 &&
                    strcasecmp(key + kl - sl, suf) == 0;
    bool plain = strcmp(key, "sasl.jaas.config") == 0 && strstr(value, "Krb5LoginModule");
    if (!listener && !plain)
        return 0;
    char *n = strdup(value);
    if (!n)
        return BK_ENOMEM;
    free(c->gssapi_jaas);
    c->gssapi_jaas = n;
    return 1;
}

int bk_config_set(bk_config *c, const char *key, const char *value, char *err, size_t errlen)
{
    const bk_config_key *k = bk_config_key_find(key);
    if (!k) {
        int r = set_gssapi_jaas(c, key, value);
        if (r == 0)
            r = set_plain_jaas(c, key, value);
        if (r < 0)
            return fail(err, errlen, "out of memory setting %s", key), BK_ENOMEM;
        return r ? 0 : BK_ENOENT;
    }
    int rc = parse_into(c, k, value, err, errlen);
    if (rc == BK_ENOMEM) {
        fail(err, errlen, "out of memory setting %s", key);
        return BK_ENOMEM;
    }
    if (rc == 0)
        c->set[k - bk_config_keys] = true;
    return rc;
}

bool bk_config_is_set(const bk_config *c, const char *name)
{
    const bk_config_key *k = bk_config_key_find(name);
    return k && c->set[k - bk_config_keys];
}

/* ------------------------------------------------------- properties parser */

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static int sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->cap - b->len < n + 1) {
        size_t nc = b->cap ? b->cap : 128;
        while (nc - b->len < n + 1)
            nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np)
            return BK_ENOMEM;
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Undo Properties escapes in s[0..n) into out (NUL-terminated). \uXXXX is
 * written as UTF-8; a malformed \u is kept literally (Java would throw;
 * the value then fails validation with a readable message). */
static int unescape(const char *s, size_t n, sbuf *out)
{
    out->len = 0;
    if (sb_put(out, "", 0))
        return BK_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch != '\\' || i + 1 == n) {
            if (sb_put(out, &ch, 1))
                return BK_ENOMEM;
            continue;
        }
        ch = s[++i];
        char utf8[4];
        size_t ulen = 1;
        switch (ch) {
        case 't':
            utf8[0] = '\t';
            break;
        case 'n':
            utf8[0] = '\n';
            break;
        case 'r':
            utf8[0] = '\r';
            break;
        case 'f':
            utf8[0] = '\f';
            break;
        case 'u': {
            unsigned cp = 0;
            bool ok = i + 4 < n;
            for (int d = 1; ok && d <= 4; d++) {
                int hv = hexval(s[i + (size_t)d]);
                if (hv < 0)
                    ok = false;
                cp = cp << 4 | (unsigned)hv;
            }
            if (!ok) {
                utf8[0] = 'u';
                break;
            }
            i += 4;
            if (cp < 0x80) {
                utf8[0] = (char)cp;
            } else if (cp < 0x800) {
                utf8[0] = (char)(0xC0 | cp >> 6);
                utf8[1] = (char)(0x80 | (cp & 0x3F));
                ulen = 2;
            } else {
                utf8[0] = (char)(0xE0 | cp >> 12);
                utf8[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                utf8[2] = (char)(0x80 | (cp & 0x3F));
                ulen = 3;
            }
            break;
        }
        default:
            utf8[0] = ch;
            break;
        }
        if (sb_put(out, utf8, ulen))
            return BK_ENOMEM;
    }
    return 0;
}

static bool is_ws(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\f';
}

/* Split one logical line (escapes intact) into key and value, unescape
 * both and hand them to cb. */
static int props_emit(const char *line, size_t n, int lineno, sbuf *kb, sbuf *vb, bk_props_cb *cb,
                      void *ud)
{
    size_t i = 0;
    while (i < n && line[i] != '=' && line[i] != ':' && !is_ws(line[i]))
        i += line[i] == '\\' ? 2 : 1;
    size_t klen = BK_MIN(i, n);
    i = klen;
    while (i < n && is_ws(line[i]))
        i++;
    if (i < n && (line[i] == '=' || line[i] == ':')) {
        i++;
        while (i < n && is_ws(line[i]))
            i++;
    }
    if (unescape(line, klen, kb) || unescape(line + i, n - i, vb))
        return BK_ENOMEM;
    return cb(ud, kb->p, vb->p, lineno);
}

int bk_props_parse(const char *text, size_t len, bk_props_cb *cb, void *ud)
{
    sbuf line = {0}, kb = {0}, vb = {0};
    int rc = 0, lineno = 0, start_line = 0;
    bool cont = false; /* the logical line continues on the next natural line */
    size_t pos = 0;

    while (pos < len && rc == 0) {
        /* one natural line: [pos, eol), terminated by \n, \r or \r\n */
        size_t eol = pos;
        while (eol < len && text[eol] != '\n' && text[eol] != '\r')
            eol++;
        size_t next = eol;
        if (next < len)
            next += text[next] == '\r' && next + 1 < len && text[next + 1] == '\n' ? 2 : 1;
        lineno++;

        size_t s = pos;
        while (s < eol && is_ws(text[s]))
            s++;
        pos = next;
        if (!cont) {
            /* blank and comment lines only count at the start of a logical line */
            if (s == eol || text[s] == '#' || text[s] == '!')
                continue;
            line.len = 0;
            start_line = lineno;
        }
        /* an odd number of trailing backslashes continues the line */
        size_t bs = 0;
        while (eol - bs > s && text[eol - bs - 1] == '\\')
            bs++;
        cont = bs % 2 == 1;
        if (sb_put(&line, text + s, eol - s - (cont ? 1 : 0))) {
            rc = BK_ENOMEM;
            break;
        }
        if (cont && pos < len)
            continue;
        cont = false;
        rc = props_emit(line.p, line.len, start_line, &kb, &vb, cb, ud);
    }
    free(line.p);
    free(kb.p);
    free(vb.p);
    return rc;
}

/* ------------------------------------------------------------------ loading */

typedef struct load_ctx {
    bk_config *c;
    const char *origin;
    char *err;
    size_t errlen;
} load_ctx;

static int load_cb(void *ud, const char *key, const char *value, int lineno)
{
    load_ctx *lc = ud;
    char why[512];
    int rc = bk_config_set(lc->c, key, value, why, sizeof why);
    if (rc == BK_ENOENT) {
        bk_log(BK_LOG_WARN, "%s:%d: unknown configuration '%s' ignored", lc->origin, lineno, key);
        return 0;
    }
    if (rc != 0)
        fail(lc->err, lc->errlen, "%s:%d: %s", lc->origin, lineno, why);
    return rc;
}

int bk_config_load_string(bk_config *c, const char *text, size_t len, const char *origin, char *err,
                          size_t errlen)
{
    load_ctx lc = {c, origin, err, errlen};
    int rc = bk_props_parse(text, len, load_cb, &lc);
    if (rc == BK_ENOMEM)
        fail(err, errlen, "%s: out of memory", origin);
    return rc;
}

int bk_config_load_file(bk_config *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        fail(err, errlen, "cannot open %s: %s", path, strerror(e));
        return BK_EIO;
    }
    sbuf b = {0};
    char chunk[8192];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (sb_put(&b, chunk, n)) {
            rc = BK_ENOMEM;
            break;
        }
    if (rc == 0 && ferror(f)) {
        fail(err, errlen, "cannot read %s", path);
        rc = BK_EIO;
    }
    fclose(f);
    if (rc == 0)
        rc = bk_config_load_string(c, b.p ? b.p : "", b.len, path, err, errlen);
    else if (rc == BK_ENOMEM)
        fail(err, errlen, "%s: out of memory", path);
    free(b.p);
    return rc;
}

int bk_config_override(bk_config *c, const char *kv, char *err, size_t errlen)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv)
        return fail(err, errlen, "--override expects key=value, got '%s'", kv);
    char key[256];
    size_t klen = (size_t)(eq - kv);
    if (klen >= sizeof key)
        return fail(err, errlen, "--override key too long: '%s'", kv);
    memcpy(key, kv, klen);
    key[klen] = '\0';
    size_t tl;
    const char *tk = trim(key, &tl);
    memmove(key, tk, tl);
    key[tl] = '\0';
    int rc = bk_config_set(c, key, eq + 1, err, errlen);
    if (rc == BK_ENOENT) {
        bk_log(BK_LOG_WARN, "--override: unknown configuration '%s' ignored", key);
        return 0;
    }
    return rc;
}

/* ------------------------------------------------------------------ finish */

static int copy_list(const bk_strlist *from, bk_strlist *to)
{
    strlist_free(to);
    if (from->n == 0)
        return 0;
    to->v = calloc((size_t)from->n, sizeof *to->v);
    if (!to->v)
        return BK_ENOMEM;
    for (; to->n < from->n; to->n++)
        if (!(to->v[to->n] = strdup(from->v[to->n])))
            return BK_ENOMEM;
    return 0;
}

static const char *proto_of(const bk_config *c, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < c->listener_security_protocol_map.n; i++) {
        const char *e = c->listener_security_protocol_map.v[i];
        if (strncasecmp(e, name, n) == 0 && e[n] == ':')
            return e + n + 1;
    }
    return NULL;
}

static int parse_eps(const bk_strlist *l, bk_endpoint **out, int *nout, const char *key, char *err,
                     size_t errlen)
{
    free(*out);
    *out = NULL;
    *nout = 0;
    if (l->n == 0)
        return 0;
    *out = calloc((size_t)l->n, sizeof **out);
    if (!*out)
        return BK_ENOMEM;
    for (int i = 0; i < l->n; i++) {
        const char *why;
        if (bk_endpoint_parse(l->v[i], &(*out)[i], &why) != 0)
            return fail(err, errlen, "Invalid value %s for configuration %s: %s", l->v[i], key,
                        why);
        for (int j = 0; j < i; j++)
            if (strcmp((*out)[i].name, (*out)[j].name) == 0)
                return fail(err, errlen,
                            "Invalid value %s for configuration %s: each listener must have a "
                            "different name, %s is used twice",
                            l->v[i], key, (*out)[i].name);
    }
    *nout = l->n;
    return 0;
}

bool bk_config_key_sensitive(const char *name)
{
    static const char *const keys[] = {"ssl.key.password", "ssl.keystore.key",
                                       "ssl.keystore.certificate.chain",
                                       "ssl.truststore.certificates", "ssl.keystore.password",
                                       "ssl.truststore.password", NULL};
    for (int i = 0; keys[i]; i++)
        if (strcmp(name, keys[i]) == 0)
            return true;
    return false;
}

int bk_config_listener_secproto(const bk_config *c, const char *listener)
{
    static const char *const protos[] = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"};
    const char *p = proto_of(c, listener);
    for (int i = 0; p && i < 4; i++)
        if (strcasecmp(p, protos[i]) == 0)
            return i;
    return -1;
}

/* The inter-broker listener (Kafka: inter.broker.listener.name, else the
 * listener named after security.inter.broker.protocol); Brook falls back to
 * the first PLAINTEXT listener. Brook's inter-broker client (tlsclient.h)
 * speaks every protocol; SASL with PLAIN or SCRAM only, with the login of
 * the listener's JAAS config. */
static int pick_inter_broker(bk_config *c, char *err, size_t errlen)
{
    c->inter_broker_ep = -1;
    const char *want = c->inter_broker_listener_name;
    if (want && c->security_inter_broker_protocol &&
        bk_config_is_set(c, "security.inter.broker.protocol"))
        return fail(err, errlen,
                    "Only one of inter.broker.listener.name and security.inter.broker.protocol "
                    "should be set.");
    if (!want && bk_config_is_set(c, "security.inter.broker.protocol"))
        want = c->security_inter_broker_protocol;
    for (int i = 0; want && i < c->nadvertised_eps; i++)
        if (strcasecmp(c->advertised_eps[i].name, want) == 0)
            c->inter_broker_ep = i;
    if (want && c->inter_broker_ep < 0)
        return fail(err, errlen,
                    "inter.broker.listener.name must be a listener name defined in "
                    "advertised.listeners (%s is not)",
                    want);
    for (int i = 0; c->inter_broker_ep < 0 && i < c->nadvertised_eps; i++)
        if (bk_config_listener_secproto(c, c->advertised_eps[i].name) == 0)
            c->inter_broker_ep = i;
    if (c->inter_broker_ep < 0)
        c->inter_broker_ep = 0;
    bool cluster = c->zookeeper_connect && c->zookeeper_connect[0];
    int ibp = c->nadvertised_eps > 0
                  ? bk_config_listener_secproto(c, c->advertised_eps[c->inter_broker_ep].name)
                  : 0;
    if (cluster && (ibp == 2 || ibp == 3)) { /* SASL between brokers: tlsclient.h */
        const char *m = c->sasl_mechanism_inter_broker_protocol;
        bool plain = m && strcasecmp(m, "PLAIN") == 0;
        bool scram = m && (strcasecmp(m, "SCRAM-SHA-256") == 0 ||
                           strcasecmp(m, "SCRAM-SHA-512") == 0);
        if (!plain && !scram)
            return fail(err, errlen,
                        "sasl.mechanism.inter.broker.protocol must be PLAIN, SCRAM-SHA-256 or "
                        "SCRAM-SHA-512 in Brook (the inter-broker listener %s is SASL; %s is "
                        "not supported between brokers)",
                        c->advertised_eps[c->inter_broker_ep].name, m ? m : "(none)");
        const char *jaas = plain ? c->plain_jaas : c->scram_jaas;
        if (!jaas || !strstr(jaas, "username") || !strstr(jaas, "password"))
            return fail(err, errlen,
                        "the inter-broker SASL login needs username=\"...\" password=\"...\" "
                        "in listener.name.%s.%s.sasl.jaas.config",
                        c->advertised_eps[c->inter_broker_ep].name, plain ? "plain" : "scram-sha-*");
    }
    return 0;
}

int bk_config_finish(bk_config *c, char *err, size_t errlen)
{
    int rc;
    if (!bk_config_is_set(c, "log.dirs")) {
        strlist_free(&c->log_dirs);
        if (c->log_dir) {
            bk_strlist one = {1, NULL};
            if (!(one.v = calloc(1, sizeof *one.v)) || !(one.v[0] = strdup(c->log_dir))) {
                free(one.v);
                return BK_ENOMEM;
            }
            c->log_dirs = one;
        }
    }
    if (c->log_dirs.n == 0)
        return fail(err, errlen,
                    "Invalid value for configuration log.dirs: at least one log directory is "
                    "required (log.dirs or log.dir)");

    if (!bk_config_is_set(c, "advertised.listeners") &&
        (rc = copy_list(&c->listeners, &c->advertised_listeners)) != 0)
        return rc;

    /* Retention: Kafka's precedence ms > minutes > hours, negative = forever. */
    if (!bk_config_is_set(c, "log.retention.ms")) {
        if (bk_config_is_set(c, "log.retention.minutes"))
            c->log_retention_ms = (int64_t)c->log_retention_minutes * 60000;
        else
            c->log_retention_ms = (int64_t)c->log_retention_hours * 3600000;
    }
    if (c->log_retention_ms < 0)
        c->log_retention_ms = -1;
    if (!bk_config_is_set(c, "log.roll.ms"))
        c->log_roll_ms = (int64_t)c->log_roll_hours * 3600000;
    if (!bk_config_is_set(c, "log.flush.interval.ms"))
        c->log_flush_interval_ms = c->log_flush_scheduler_interval_ms;
    if (!bk_config_is_set(c, "zookeeper.connection.timeout.ms"))
        c->zookeeper_connection_timeout_ms = c->zookeeper_session_timeout_ms;

    if (c->group_min_session_timeout_ms > c->group_max_session_timeout_ms)
        return fail(err, errlen,
                    "Invalid value %d for configuration group.min.session.timeout.ms: must not "
                    "exceed group.max.session.timeout.ms (%d)",
                    c->group_min_session_timeout_ms, c->group_max_session_timeout_ms);
    if (c->broker_id > c->reserved_broker_max_id)
        return fail(err, errlen,
                    "Invalid value %d for configuration broker.id: must not exceed "
                    "reserved.broker.max.id (%d)",
                    c->broker_id, c->reserved_broker_max_id);

    if (c->listeners.n == 0)
        return fail(err, errlen,
                    "Invalid value for configuration listeners: at least one listener is required");
    if ((rc = parse_eps(&c->listeners, &c->listener_eps, &c->nlistener_eps, "listeners", err,
                        errlen)) != 0)
        return rc;
    if ((rc = parse_eps(&c->advertised_listeners, &c->advertised_eps, &c->nadvertised_eps,
                        "advertised.listeners", err, errlen)) != 0)
        return rc;

    for (int i = 0; i < c->nlistener_eps; i++) {
        const bk_endpoint *ep = &c->listener_eps[i];
        const char *proto = proto_of(c, ep->name);
        if (!proto)
            return fail(err, errlen,
                        "Invalid value %s for configuration listeners: no security protocol "
                        "defined for listener %s in listener.security.protocol.map",
                        c->listeners.v[i], ep->name);
        (void)proto;
    }
    for (int i = 0; i < c->nadvertised_eps; i++) {
        const bk_endpoint *ep = &c->advertised_eps[i];
        bool found = false;
        for (int j = 0; j < c->nlistener_eps; j++)
            found |= strcmp(ep->name, c->listener_eps[j].name) == 0;
        if (!found)
            return fail(err, errlen,
                        "Invalid value %s for configuration advertised.listeners: listener %s is "
                        "not in listeners",
                        c->advertised_listeners.v[i], ep->name);
        if (bk_config_is_set(c, "advertised.listeners") &&
            (strcmp(ep->host, "0.0.0.0") == 0 || strcmp(ep->host, "::") == 0))
            return fail(err, errlen,
                        "Invalid value %s for configuration advertised.listeners: cannot "
                        "advertise the non-routable meta-address %s",
                        c->advertised_listeners.v[i], ep->host);
    }
    return pick_inter_broker(c, err, errlen);
}

/* ------------------------------------------------------------------ format */

int bk_config_format(const bk_config *c, const bk_config_key *k, char *buf, size_t len)
{
    const void *f = cfield(c, k);
    bool null = !k->def && !c->set[k - bk_config_keys];
    switch (k->type) {
    case BK_CFG_INT:
        return null ? snprintf(buf, len, "null") : snprintf(buf, len, "%d", *(const int32_t *)f);
    case BK_CFG_LONG:
        return null ? snprintf(buf, len, "null")
                    : snprintf(buf, len, "%lld", (long long)*(const int64_t *)f);
    case BK_CFG_DOUBLE:
        return snprintf(buf, len, "%g", *(const double *)f);
    case BK_CFG_BOOL:
        return snprintf(buf, len, "%s", *(const bool *)f ? "true" : "false");
    case BK_CFG_STRING: {
        const char *s = *(char *const *)f;
        return snprintf(buf, len, "%s", s ? s : "null");
    }
    case BK_CFG_LIST: {
        const bk_strlist *l = f;
        size_t at = 0;
        if (len)
            buf[0] = '\0';
        int total = 0;
        for (int i = 0; i < l->n; i++) {
            int w = snprintf(buf + at, len > at ? len - at : 0, "%s%s", i ? "," : "", l->v[i]);
            if (w < 0)
                return w;
            total += w;
            at = BK_MIN(len, at + (size_t)w);
        }
        return total;
    }
    }
    return 0;
}

const char *bk_config_text(const bk_config *c, const bk_config_key *k, char *buf, size_t cap)
{
    const void *p = (const char *)c + k->off;
    switch (k->type) {
    case BK_CFG_INT: snprintf(buf, cap, "%" PRId32, *(const int32_t *)p); return buf;
    case BK_CFG_LONG: snprintf(buf, cap, "%" PRId64, *(const int64_t *)p); return buf;
    case BK_CFG_BOOL: return *(const bool *)p ? "true" : "false";
    case BK_CFG_DOUBLE: snprintf(buf, cap, "%g", *(const double *)p); return buf;
    case BK_CFG_STRING: return *(char *const *)p;
    case BK_CFG_LIST: {
        const bk_strlist *l = p;
        size_t o = 0;
        buf[0] = 0;
        for (int i = 0; i < l->n && o < cap; i++)
            o += (size_t)snprintf(buf + o, cap - o, "%s%s", i ? "," : "", l->v[i]);
        return buf;
    }
    }
    return NULL;
}
