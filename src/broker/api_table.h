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
    BK_API_PRODUCE = 0,
    BK_API_FETCH = 1,
    BK_API_LIST_OFFSETS = 2,
    BK_API_METADATA = 3,
    BK_API_LEADER_AND_ISR = 4,
    BK_API_STOP_REPLICA = 5,
    BK_API_UPDATE_METADATA = 6,
    BK_API_CONTROLLED_SHUTDOWN = 7,
    BK_API_OFFSET_COMMIT = 8,
    BK_API_OFFSET_FETCH = 9,
    BK_API_FIND_COORDINATOR = 10,
    BK_API_JOIN_GROUP = 11,
    BK_API_HEARTBEAT = 12,
    BK_API_LEAVE_GROUP = 13,
    BK_API_SYNC_GROUP = 14,
    BK_API_DESCRIBE_GROUPS = 15,
    BK_API_LIST_GROUPS = 16,
    BK_API_SASL_HANDSHAKE = 17,
    BK_API_API_VERSIONS = 18,
    BK_API_CREATE_TOPICS = 19,
    BK_API_DELETE_TOPICS = 20,
    BK_API_DELETE_RECORDS = 21,
    BK_API_INIT_PRODUCER_ID = 22,
    BK_API_OFFSET_FOR_LEADER_EPOCH = 23,
    BK_API_ADD_PARTITIONS_TO_TXN = 24,
    BK_API_ADD_OFFSETS_TO_TXN = 25,
    BK_API_END_TXN = 26,
    BK_API_WRITE_TXN_MARKERS = 27,
    BK_API_TXN_OFFSET_COMMIT = 28,
    BK_API_DESCRIBE_ACLS = 29,
    BK_API_CREATE_ACLS = 30,
    BK_API_DELETE_ACLS = 31,
    BK_API_DESCRIBE_CONFIGS = 32,
    BK_API_ALTER_CONFIGS = 33,
    BK_API_DESCRIBE_LOG_DIRS = 35,
    BK_API_SASL_AUTHENTICATE = 36,
    BK_API_CREATE_PARTITIONS = 37,
    BK_API_DELETE_GROUPS = 42,
    BK_API_ELECT_LEADERS = 43,
    BK_API_INCREMENTAL_ALTER_CONFIGS = 44,
    BK_API_ALTER_PARTITION_REASSIGNMENTS = 45,
    BK_API_LIST_PARTITION_REASSIGNMENTS = 46,
    BK_API_OFFSET_DELETE = 47,
    BK_API_DESCRIBE_CLIENT_QUOTAS = 48,
    BK_API_ALTER_CLIENT_QUOTAS = 49,
    BK_API_DESCRIBE_USER_SCRAM_CREDENTIALS = 50,
    BK_API_ALTER_USER_SCRAM_CREDENTIALS = 51,
    BK_API_DESCRIBE_CLUSTER = 60,
    BK_API_DESCRIBE_TRANSACTIONS = 65,
    BK_API_LIST_TRANSACTIONS = 66,
};

typedef int bk_api_handler(bk_broker *b, bk_req *req);

typedef struct bk_api_entry {
    int16_t key;
    int16_t min, max; /* advertised versions */
    bk_api_handler *handler;
    /* Controller-to-broker APIs: served and advertised only in cluster
     * mode (as Kafka's ZooKeeper-mode brokers do); a single-node broker
     * treats them as unknown keys. */
    bool cluster_only;
} bk_api_entry;

extern const bk_api_entry bk_api_table[];
extern const int bk_api_table_len;

/* NULL if the key is not served. */
const bk_api_entry *bk_api_find(int16_t key);

bk_api_handler bk_h_produce;
bk_api_handler bk_h_fetch;
bk_api_handler bk_h_list_offsets;
bk_api_handler bk_h_metadata;
bk_api_handler bk_h_api_versions;
bk_api_handler bk_h_delete_records;
bk_api_handler bk_h_offset_for_leader_epoch;
/* h_controller.c */
bk_api_handler bk_h_leader_and_isr;
bk_api_handler bk_h_stop_replica;
bk_api_handler bk_h_update_metadata;
/* h_elect.c (cluster mode; NOT_CONTROLLER but on the controller) */
bk_api_handler bk_h_controlled_shutdown;
bk_api_handler bk_h_elect_leaders;
/* h_admin.c */
bk_api_handler bk_h_create_topics;
bk_api_handler bk_h_delete_topics;
bk_api_handler bk_h_create_partitions;
bk_api_handler bk_h_describe_configs;
bk_api_handler bk_h_alter_configs;
bk_api_handler bk_h_incremental_alter_configs;
bk_api_handler bk_h_describe_cluster;
bk_api_handler bk_h_describe_log_dirs;
/* h_group.c */
bk_api_handler bk_h_find_coordinator;
bk_api_handler bk_h_join_group;
bk_api_handler bk_h_sync_group;
bk_api_handler bk_h_heartbeat;
bk_api_handler bk_h_leave_group;
bk_api_handler bk_h_offset_commit;
bk_api_handler bk_h_offset_fetch;
bk_api_handler bk_h_list_groups;
bk_api_handler bk_h_describe_groups;
bk_api_handler bk_h_delete_groups;
bk_api_handler bk_h_offset_delete;
/* h_txn_markers.c */
bk_api_handler bk_h_write_txn_markers;
/* h_txn_offset.c */
bk_api_handler bk_h_txn_offset_commit;
/* h_txn.c */
bk_api_handler bk_h_init_producer_id;
bk_api_handler bk_h_add_partitions_to_txn;
bk_api_handler bk_h_add_offsets_to_txn;
bk_api_handler bk_h_end_txn;
bk_api_handler bk_h_describe_transactions;
bk_api_handler bk_h_list_transactions;
/* h_acl.c */
bk_api_handler bk_h_describe_acls;
bk_api_handler bk_h_create_acls;
bk_api_handler bk_h_delete_acls;
/* h_quota.c */
bk_api_handler bk_h_describe_client_quotas;
bk_api_handler bk_h_alter_client_quotas;
/* issue 11: h_sasl.c */
bk_api_handler bk_h_sasl_handshake;
bk_api_handler bk_h_sasl_authenticate;
bk_api_handler bk_h_describe_user_scram_credentials;
bk_api_handler bk_h_alter_user_scram_credentials;
/* 0, or < 0 after closing the connection: a request other than ApiVersions,
 * SaslHandshake, SaslAuthenticate before SASL authentication (or after the
 * session expired). */
int bk_sasl_gate(bk_broker *b, bk_req *req);
struct bk_sasl_state;
void bk_sasl_state_free(struct bk_sasl_state *s);
/* h_reassign.c */
bk_api_handler bk_h_alter_partition_reassignments;
bk_api_handler bk_h_list_partition_reassignments;

#endif
