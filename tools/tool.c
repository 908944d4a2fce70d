/* tool.c - shared plumbing of the librdkafka-based subcommands. See tool.h. */
#include "tool.h"

#include "../src/core/version.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

const char *bk_tool_name = "brook";

void bk_tool_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "brook %s: ", bk_tool_name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

void bk_tool_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "brook %s: ", bk_tool_name);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (try 'brook %s --help')\n", bk_tool_name);
    va_end(ap);
    exit(2);
}

static void quiet_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (getenv("BROOK_DEBUG"))
        fprintf(stderr, "librdkafka %d %s: %s\n", level, fac, buf);
}

void bk_tool_set(rd_kafka_conf_t *c, const char *key, const char *val)
{
    char err[512];
    if (rd_kafka_conf_set(c, key, val, err, sizeof err) != RD_KAFKA_CONF_OK)
        bk_tool_die("invalid property %s=%s: %s", key, val, err);
}

void bk_tool_set_kv(rd_kafka_conf_t *c, const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv)
        bk_tool_usage_error("expected key=value, got '%s'", kv);
    char key[256];
    size_t n = (size_t)(eq - kv);
    if (n >= sizeof key)
        bk_tool_usage_error("property name too long: '%s'", kv);
    memcpy(key, kv, n);
    key[n] = 0;
    bk_tool_set(c, key, eq + 1);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = 0;
    return s;
}

void bk_tool_conf_file(rd_kafka_conf_t *c, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        bk_tool_die("cannot read %s: %s", path, strerror(errno));
    char line[4096];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#' || *s == '!')
            continue;
        char *sep = strpbrk(s, "=:");
        if (!sep) {
            fclose(f);
            bk_tool_die("%s:%d: expected key=value", path, lineno);
        }
        *sep = 0;
        char *k = trim(s), *v = trim(sep + 1);
        char err[512];
        if (rd_kafka_conf_set(c, k, v, err, sizeof err) != RD_KAFKA_CONF_OK && getenv("BROOK_DEBUG"))
            fprintf(stderr, "brook %s: %s:%d: ignoring %s: %s\n", bk_tool_name, path, lineno, k,
                    err);
    }
    fclose(f);
}

rd_kafka_conf_t *bk_tool_conf(const char *bootstrap)
{
    if (!bootstrap || !*bootstrap)
        bk_tool_usage_error("--bootstrap-server is required");
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    bk_tool_set(c, "bootstrap.servers", bootstrap);
    bk_tool_set(c, "client.id", "brook-tool");
    bk_tool_set(c, "log_level", "3");
    bk_tool_set(c, "socket.connection.setup.timeout.ms", "10000");
    rd_kafka_conf_set_log_cb(c, quiet_log);
    return c;
}

rd_kafka_t *bk_tool_client(rd_kafka_type_t type, rd_kafka_conf_t *conf)
{
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof err);
    if (!rk)
        bk_tool_die("cannot create the client: %s", err);
    return rk;
}

void bk_tool_wait_connected(rd_kafka_t *rk, const char *bootstrap, int timeout_ms)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, NULL, &md, timeout_ms);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        bk_tool_die("cannot connect to %s within %d ms: %s", bootstrap, timeout_ms,
                    rd_kafka_err2str(e));
    rd_kafka_metadata_destroy(md);
}

rd_kafka_event_t *bk_tool_admin_wait(rd_kafka_queue_t *q, rd_kafka_event_type_t evtype,
                                     int timeout_ms)
{
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_ms);
    if (!ev)
        bk_tool_die("no answer within %d ms", timeout_ms);
    if (rd_kafka_event_type(ev) != evtype) {
        const char *es = rd_kafka_event_error_string(ev);
        bk_tool_die("unexpected event %s: %s", rd_kafka_event_name(ev), es ? es : "");
    }
    if (rd_kafka_event_error(ev))
        bk_tool_die("%s", rd_kafka_event_error_string(ev));
    return ev;
}

void bk_tool_print_version(void)
{
    printf("%s (librdkafka %s)\n", BK_VERSION, rd_kafka_version_str());
}

int64_t bk_tool_parse_i64(const char *opt, const char *val)
{
    char *end;
    errno = 0;
    long long v = strtoll(val, &end, 10);
    if (errno || end == val || *end)
        bk_tool_usage_error("%s: not a number: '%s'", opt, val);
    return v;
}

rd_kafka_AdminOptions_t *bk_tool_admin_options(rd_kafka_t *rk, rd_kafka_admin_op_t op,
                                               int timeout_ms)
{
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, op);
    char err[512];
    if (!o)
        bk_tool_die("cannot create admin options");
    if (rd_kafka_AdminOptions_set_request_timeout(o, timeout_ms, err, sizeof err))
        bk_tool_die("%s", err);
    if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS || op == RD_KAFKA_ADMIN_OP_DELETETOPICS ||
        op == RD_KAFKA_ADMIN_OP_CREATEPARTITIONS || op == RD_KAFKA_ADMIN_OP_DELETERECORDS)
        if (rd_kafka_AdminOptions_set_operation_timeout(o, timeout_ms, err, sizeof err))
            bk_tool_die("%s", err);
    return o;
}

int bk_tool_split_list(const char *list, char ***out)
{
    int n = 0, cap = 8;
    char **v = malloc(sizeof *v * (size_t)cap);
    char *copy = strdup(list ? list : "");
    if (!v || !copy)
        bk_tool_die("out of memory");
    char *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        t = trim(t);
        if (!*t)
            continue;
        if (n == cap) {
            cap *= 2;
            char **nv = realloc(v, sizeof *v * (size_t)cap);
            if (!nv)
                bk_tool_die("out of memory");
            v = nv;
        }
        if (!(v[n++] = strdup(t)))
            bk_tool_die("out of memory");
    }
    free(copy);
    *out = v;
    return n;
}

void bk_tool_free_list(char **items, int n)
{
    for (int i = 0; i < n; i++)
        free(items[i]);
    free(items);
}

void bk_tool_java_error(int code, const char **exception, const char **message)
{
    static const struct {
        int code;
        const char *cls, *msg;
    } t[] = {
        {1, "OffsetOutOfRangeException",
         "The requested offset is not within the range of offsets maintained by the server."},
        {3, "UnknownTopicOrPartitionException", "This server does not host this topic-partition."},
        {5, "LeaderNotAvailableException",
         "There is no leader for this topic-partition as we are in the middle of a leadership "
         "election."},
        {6, "NotLeaderOrFollowerException",
         "For requests intended only for the leader, this error indicates that the broker is not "
         "the current leader. For requests intended for any replica, this error indicates that "
         "the broker is not a replica of the topic partition."},
        {7, "TimeoutException", "The request timed out."},
        {29, "TopicAuthorizationException", "Topic authorization failed."},
        {42, "InvalidRequestException",
         "This most likely occurs because of a request being malformed by the client library or "
         "the message was sent to an incompatible broker. See the broker logs for more details."},
        {44, "PolicyViolationException",
         "Request parameters do not satisfy the configured policy."},
        {56, "KafkaStorageException", "Disk error when trying to access log file on the disk."},
        {57, "LogDirNotFoundException",
         "The user-specified log directory is not found in the broker config."},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i].code == code) {
            static char buf[128];
            snprintf(buf, sizeof buf, "org.apache.kafka.common.errors.%s", t[i].cls);
            *exception = buf;
            *message = t[i].msg;
            return;
        }
    *exception = "org.apache.kafka.common.errors.UnknownServerException";
    *message = NULL;
}

/* --- client tools --- */

volatile sig_atomic_t bk_tool_stopping;

static void on_stop_signal(int sig)
{
    (void)sig;
    bk_tool_stopping = 1;
}

void bk_tool_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESETHAND; /* the second signal kills */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int64_t bk_tool_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t bk_tool_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

bool bk_tool_is_true(const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    return n == 4 && strncasecmp(v, "true", 4) == 0;
}

void bk_tool_split_kv(const char *kv, char *key, size_t keysz, const char **val)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv)
        bk_tool_usage_error("expected key=value, got '%s'", kv);
    size_t n = (size_t)(eq - kv);
    if (n >= keysz)
        bk_tool_usage_error("property name too long: '%s'", kv);
    memcpy(key, kv, n);
    key[n] = 0;
    *val = eq + 1;
}
