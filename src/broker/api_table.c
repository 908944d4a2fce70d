/* api_table.c - the served APIs. Keep sorted by key. See api_table.h. */
#include "api_table.h"

const bk_api_entry bk_api_table[] = {
    /* v0-v2 are advertised but answered UNSUPPORTED_VERSION per partition
     * (h_produce.c: librdkafka 2.0.2 compresses only if min is 0). */
    {BK_API_PRODUCE, 0, 11, bk_h_produce},
    {BK_API_FETCH, 4, 17, bk_h_fetch},
    {BK_API_LIST_OFFSETS, 0, 9, bk_h_list_offsets},
    {BK_API_METADATA, 0, 12, bk_h_metadata},
    {BK_API_LEADER_AND_ISR, 0, 7, bk_h_leader_and_isr, true},
    {BK_API_STOP_REPLICA, 0, 4, bk_h_stop_replica, true},
    {BK_API_UPDATE_METADATA, 0, 8, bk_h_update_metadata, true},
    {BK_API_CONTROLLED_SHUTDOWN, 0, 3, bk_h_controlled_shutdown, true},
    {BK_API_OFFSET_COMMIT, 0, 9, bk_h_offset_commit},
    {BK_API_OFFSET_FETCH, 0, 9, bk_h_offset_fetch},
    {BK_API_FIND_COORDINATOR, 0, 4, bk_h_find_coordinator},
    {BK_API_JOIN_GROUP, 0, 9, bk_h_join_group},
    {BK_API_HEARTBEAT, 0, 4, bk_h_heartbeat},
    {BK_API_LEAVE_GROUP, 0, 5, bk_h_leave_group},
    {BK_API_SYNC_GROUP, 0, 5, bk_h_sync_group},
    {BK_API_DESCRIBE_GROUPS, 0, 5, bk_h_describe_groups},
    {BK_API_LIST_GROUPS, 0, 5, bk_h_list_groups},
    /* v0 is advertised (librdkafka requires it to see SASL at all) but
     * answered UNSUPPORTED_VERSION: it would carry raw SASL tokens outside
     * Kafka framing (h_sasl.c) */
    {BK_API_SASL_HANDSHAKE, 0, 1, bk_h_sasl_handshake},
    {BK_API_API_VERSIONS, 0, 4, bk_h_api_versions},
    {BK_API_CREATE_TOPICS, 0, 7, bk_h_create_topics},
    {BK_API_DELETE_TOPICS, 0, 6, bk_h_delete_topics},
    {BK_API_DELETE_RECORDS, 0, 2, bk_h_delete_records},
    {BK_API_INIT_PRODUCER_ID, 0, 5, bk_h_init_producer_id},
    {BK_API_OFFSET_FOR_LEADER_EPOCH, 0, 4, bk_h_offset_for_leader_epoch},
    {BK_API_ADD_PARTITIONS_TO_TXN, 0, 3, bk_h_add_partitions_to_txn},
    {BK_API_ADD_OFFSETS_TO_TXN, 0, 4, bk_h_add_offsets_to_txn},
    {BK_API_END_TXN, 0, 4, bk_h_end_txn},
    {BK_API_WRITE_TXN_MARKERS, 0, 1, bk_h_write_txn_markers},
    {BK_API_TXN_OFFSET_COMMIT, 0, 4, bk_h_txn_offset_commit},
    {BK_API_DESCRIBE_ACLS, 0, 3, bk_h_describe_acls},
    {BK_API_CREATE_ACLS, 0, 3, bk_h_create_acls},
    {BK_API_DELETE_ACLS, 0, 3, bk_h_delete_acls},
    {BK_API_DESCRIBE_CONFIGS, 0, 4, bk_h_describe_configs},
    {BK_API_ALTER_CONFIGS, 0, 2, bk_h_alter_configs},
    {BK_API_DESCRIBE_LOG_DIRS, 0, 4, bk_h_describe_log_dirs},
    {BK_API_SASL_AUTHENTICATE, 0, 2, bk_h_sasl_authenticate},
    {BK_API_CREATE_PARTITIONS, 0, 3, bk_h_create_partitions},
    {BK_API_DELETE_GROUPS, 0, 2, bk_h_delete_groups},
    {BK_API_ELECT_LEADERS, 0, 2, bk_h_elect_leaders, true},
    {BK_API_INCREMENTAL_ALTER_CONFIGS, 0, 1, bk_h_incremental_alter_configs},
    {BK_API_ALTER_PARTITION_REASSIGNMENTS, 0, 0, bk_h_alter_partition_reassignments, true},
    {BK_API_LIST_PARTITION_REASSIGNMENTS, 0, 0, bk_h_list_partition_reassignments, true},
    {BK_API_OFFSET_DELETE, 0, 0, bk_h_offset_delete},
    {BK_API_DESCRIBE_CLIENT_QUOTAS, 0, 1, bk_h_describe_client_quotas},
    {BK_API_ALTER_CLIENT_QUOTAS, 0, 1, bk_h_alter_client_quotas},
    {BK_API_DESCRIBE_USER_SCRAM_CREDENTIALS, 0, 0, bk_h_describe_user_scram_credentials},
    {BK_API_ALTER_USER_SCRAM_CREDENTIALS, 0, 0, bk_h_alter_user_scram_credentials},
    {BK_API_DESCRIBE_CLUSTER, 0, 1, bk_h_describe_cluster},
    {BK_API_DESCRIBE_TRANSACTIONS, 0, 0, bk_h_describe_transactions},
    {BK_API_LIST_TRANSACTIONS, 0, 1, bk_h_list_transactions},
};
const int bk_api_table_len = (int)BK_ARRAY_LEN(bk_api_table);

const bk_api_entry *bk_api_find(int16_t key)
{
    for (int i = 0; i < bk_api_table_len; i++)
        if (bk_api_table[i].key == key)
            return &bk_api_table[i];
    return NULL;
}
