/*
 * tool.h - what the librdkafka-based subcommands of `brook` share.
 *
 * Conventions (Kafka's scripts): long options only, `--name value` or
 * `--name=value` (getopt_long), `--bootstrap-server host:port[,...]`,
 * `--command-config FILE` (admin tools) / `--producer.config` /
 * `--consumer.config` for client properties in Java properties syntax
 * (librdkafka accepts most of the same keys). Every subcommand has --help.
 *
 * Errors: one line on stderr, "brook <cmd>: <what went wrong>", exit code 1
 * (2 for usage errors). librdkafka's own log lines are suppressed unless
 * BROOK_DEBUG is set in the environment. A broker that cannot be reached
 * fails within the connect timeout (--timeout-ms where the tool has it,
 * else 15 s) with a clear message instead of hanging.
 */
#ifndef BK_TOOLS_TOOL_H
#define BK_TOOLS_TOOL_H

#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BK_TOOL_CONNECT_TIMEOUT_MS 15000

/* The running subcommand's name, for messages ("topics", ...). */
extern const char *bk_tool_name;

/* Print "brook <cmd>: <msg>" and exit(1). */
__attribute__((noreturn, format(printf, 1, 2))) void bk_tool_die(const char *fmt, ...);
/* Usage error: message, "try --help", exit(2). */
__attribute__((noreturn, format(printf, 1, 2))) void bk_tool_usage_error(const char *fmt, ...);

/* A client configuration with bootstrap.servers set (die if NULL/empty),
 * library logs silenced, and short timeouts suitable for tools. */
rd_kafka_conf_t *bk_tool_conf(const char *bootstrap);
/* conf key=value, dying with librdkafka's message if it is refused. */
void bk_tool_set(rd_kafka_conf_t *c, const char *key, const char *val);
/* "key=value" (as --producer-property gives it). */
void bk_tool_set_kv(rd_kafka_conf_t *c, const char *kv);
/* Java-style properties file: key=value or key: value lines, # and !
 * comments. Keys librdkafka does not know are ignored with a note on stderr
 * when BROOK_DEBUG is set (Java-only settings such as key.serializer). */
void bk_tool_conf_file(rd_kafka_conf_t *c, const char *path);

/* A client of the given type from conf (consumed); dies on failure. */
rd_kafka_t *bk_tool_client(rd_kafka_type_t type, rd_kafka_conf_t *conf);
/* Make sure some broker answers Metadata within timeout_ms, else die with
 * "cannot connect to <bootstrap> within N ms". */
void bk_tool_wait_connected(rd_kafka_t *rk, const char *bootstrap, int timeout_ms);

/* --- Additions for the client tools (console-producer/-consumer,
 * consumer-groups, perf tests). --- */

/* Set by SIGINT/SIGTERM once bk_tool_catch_signals() ran; a second signal
 * terminates the process at once (the default action). */
extern volatile sig_atomic_t bk_tool_stopping;
void bk_tool_catch_signals(void);
/* Wall clock (ms since the epoch) and a monotonic clock (us). */
int64_t bk_tool_wall_ms(void);
int64_t bk_tool_mono_us(void);
/* A Kafka boolean property value ("true", case-insensitive, trimmed). */
bool bk_tool_is_true(const char *v);
/* Split "key=value" at the first '=': the key is copied into key[keysz], *val
 * points into kv. Usage error (exit 2) without a key or with one too long. */
void bk_tool_split_kv(const char *kv, char *key, size_t keysz, const char **val);

/* Run an admin result event loop: wait for the result of type `evtype` on
 * queue q (timeout_ms), die on a top-level error. Caller destroys it. */
rd_kafka_event_t *bk_tool_admin_wait(rd_kafka_queue_t *q, rd_kafka_event_type_t evtype,
                                     int timeout_ms);

/* "brook <version> (librdkafka <version>)" on stdout (--version). */
void bk_tool_print_version(void);

/* Parse a decimal integer option value or die naming the option. */
int64_t bk_tool_parse_i64(const char *opt, const char *val);

/* Admin options for `op` with request and operation timeouts of timeout_ms
 * (librdkafka's operation timeout is how long the broker may wait for the
 * change to complete). Dies if librdkafka refuses them. Caller destroys. */
rd_kafka_AdminOptions_t *bk_tool_admin_options(rd_kafka_t *rk, rd_kafka_admin_op_t op,
                                               int timeout_ms);

/* Split a comma-separated list into its non-empty, space-trimmed items:
 * *out gets a malloc'd array of malloc'd strings; returns the count. */
int bk_tool_split_list(const char *list, char ***out);
void bk_tool_free_list(char **items, int n);

/* Kafka's Java exception for a wire error code and Kafka's message for it
 * (Errors.java), for output that must read as the Java tools': e.g. 1 ->
 * "org.apache.kafka.common.errors.OffsetOutOfRangeException" and "The
 * requested offset is not within the range of offsets maintained by the
 * server.". Unknown codes give UnknownServerException and NULL message.
 * *exception points to static storage, overwritten by the next call. */
void bk_tool_java_error(int code, const char **exception, const char **message);

#endif
