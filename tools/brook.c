/*
 * brook - the operator's tool: one binary, one subcommand per Kafka script
 * (kafka-topics.sh -> brook topics, kafka-dump-log.sh -> brook dump-log, ...),
 * with Kafka's flag names so runbooks carry over.
 */
#include "brook.h"
#include "tool.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *what;
} cmds[] = {
    {"acls", bk_cmd_acls, "add, remove and list ACLs (kafka-acls.sh)"},
    {"broker-api-versions", bk_cmd_broker_api_versions,
     "the API versions every broker supports (kafka-broker-api-versions.sh)"},
    {"configs", bk_cmd_configs, "describe and change topic and broker configs (kafka-configs.sh)"},
    {"console-consumer", bk_cmd_console_consumer, "print records (kafka-console-consumer.sh)"},
    {"console-producer", bk_cmd_console_producer,
     "send stdin lines as records (kafka-console-producer.sh)"},
    {"consumer-groups", bk_cmd_consumer_groups,
     "list, describe, delete groups; reset offsets (kafka-consumer-groups.sh)"},
    {"consumer-perf-test", bk_cmd_consumer_perf_test,
     "consume throughput (kafka-consumer-perf-test.sh)"},
    {"delete-records", bk_cmd_delete_records,
     "delete records below given offsets (kafka-delete-records.sh)"},
    {"dump-log", bk_cmd_dump_log, "print segment, index and time index files (kafka-dump-log.sh)"},
    {"leader-election", bk_cmd_leader_election,
     "elect preferred or unclean partition leaders (kafka-leader-election.sh)"},
    {"log-dirs", bk_cmd_log_dirs, "describe the brokers' log directories (kafka-log-dirs.sh)"},
    {"producer-perf-test", bk_cmd_producer_perf_test,
     "produce throughput and latency (kafka-producer-perf-test.sh)"},
    {"reassign-partitions", bk_cmd_reassign_partitions,
     "move partition replicas between brokers (kafka-reassign-partitions.sh)"},
    {"topics", bk_cmd_topics, "create, delete, list, describe, add partitions (kafka-topics.sh)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: brook <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        fprintf(f, "  %-20s %s\n", cmds[i].name, cmds[i].what);
    fprintf(f, "\n'brook <command> --help' describes a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        bk_tool_print_version();
        return 0;
    }
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (strcmp(argv[1], cmds[i].name) == 0) {
            bk_tool_name = cmds[i].name;
            return cmds[i].fn(argc - 1, argv + 1);
        }
    fprintf(stderr, "brook: unknown command '%s' (try 'brook --help')\n", argv[1]);
    return 2;
}
