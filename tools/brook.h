/* brook.h - the subcommands of the brook tool. Each takes argv with its own
 * name at argv[0] and returns the process exit code. */
#ifndef BK_TOOLS_BROOK_H
#define BK_TOOLS_BROOK_H

#include <stdbool.h>

int bk_cmd_dump_log(int argc, char **argv);
int bk_cmd_broker_api_versions(int argc, char **argv);
int bk_cmd_topics(int argc, char **argv);
int bk_cmd_acls(int argc, char **argv);
/* configs_quota.c: `brook configs --entity-type users|clients` (client quotas).
 * name: NULL = all, "" = the default entity. */
int bk_configs_quotas(const char *bootstrap, const char *type, const char *name, bool describe,
                      const char *add, const char *del);
int bk_cmd_configs(int argc, char **argv);
int bk_cmd_delete_records(int argc, char **argv);
int bk_cmd_log_dirs(int argc, char **argv);
int bk_cmd_leader_election(int argc, char **argv);
int bk_cmd_console_producer(int argc, char **argv);
int bk_cmd_console_consumer(int argc, char **argv);
int bk_cmd_consumer_groups(int argc, char **argv);
int bk_cmd_producer_perf_test(int argc, char **argv);
int bk_cmd_consumer_perf_test(int argc, char **argv);
int bk_cmd_reassign_partitions(int argc, char **argv);

#endif
