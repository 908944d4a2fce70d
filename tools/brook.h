/* brook.h - the subcommands of the brook tool. Each takes argv with its own
 * name at argv[0] and returns the process exit code. */
#ifndef BK_TOOLS_BROOK_H
#define BK_TOOLS_BROOK_H

int bk_cmd_dump_log(int argc, char **argv);
int bk_cmd_broker_api_versions(int argc, char **argv);
int bk_cmd_topics(int argc, char **argv);
int bk_cmd_acls(int argc, char **argv);
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
