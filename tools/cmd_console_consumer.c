/*
 * brook console-consumer - kafka-console-consumer.sh: print records.
 *
 *   brook console-consumer --bootstrap-server H:P --topic T [--from-beginning]
 *       [--group G] [--partition P [--offset earliest|latest|N]]
 *       [--max-messages N] [--timeout-ms MS] [--isolation-level L]
 *       [--property print.key=true ...] [--consumer-property k=v]...
 *       [--consumer.config FILE] [--skip-message-on-error]
 *
 * Output is Kafka's DefaultMessageFormatter: the optional fields
 * "CreateTime:<ms>", "Partition:<p>", "Offset:<o>", headers "k:v,k2:v2"
 * (or NO_HEADERS), key, then the value, separated by key.separator (tab) and
 * ended by line.separator (newline); null keys/values print null.literal.
 *
 * Without --group the consumer joins a generated group console-consumer-N and
 * commits nothing (Kafka does the same so that throw-away groups do not
 * pile up); with --group it auto-commits. With --partition it assigns that
 * partition instead of subscribing. --timeout-ms ends the tool when no record
 * arrived for that long; every exit prints "Processed a total of N messages"
 * on stderr, as Kafka does.
 */
#include "brook.h"
#include "tool.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fmt {
    bool ts, key, value, partition, offset, headers;
    const char *key_sep;
    const char *line_sep;
    const char *hdr_sep;
    const char *null_lit;
} fmt;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: brook console-consumer --bootstrap-server HOST:PORT --topic TOPIC [options]\n"
            "Prints the records of TOPIC on stdout.\n\n"
            "  --bootstrap-server H:P[,..]  broker(s) to connect to (required)\n"
            "  --topic T                    topic to consume (or --include REGEX)\n"
            "  --include REGEX              consume every topic matching REGEX\n"
            "  --from-beginning             start at the earliest offset when the group has none\n"
            "  --group G                    consumer group (default: a generated one, no commits)\n"
            "  --partition P                consume only partition P (assign, no subscription)\n"
            "  --offset O                   with --partition: earliest, latest (default) or N\n"
            "  --max-messages N             exit after N records\n"
            "  --timeout-ms MS              exit when no record arrived for MS\n"
            "  --isolation-level L          read_uncommitted (default) or read_committed\n"
            "  --property K=V               formatter: print.timestamp, print.key, print.value,\n"
            "                               print.partition, print.offset, print.headers,\n"
            "                               key.separator, line.separator, headers.separator,\n"
            "                               null.literal\n"
            "  --consumer-property K=V      consumer setting (repeatable)\n"
            "  --consumer.config FILE       consumer settings in properties syntax\n"
            "  --skip-message-on-error      skip records that fail instead of stopping\n"
            "  --help, --version\n");
}

static void set_fmt_prop(fmt *f, const char *kv)
{
    char key[128];
    const char *v;
    bk_tool_split_kv(kv, key, sizeof key, &v);
    if (strcmp(key, "print.timestamp") == 0)
        f->ts = bk_tool_is_true(v);
    else if (strcmp(key, "print.key") == 0)
        f->key = bk_tool_is_true(v);
    else if (strcmp(key, "print.value") == 0)
        f->value = bk_tool_is_true(v);
    else if (strcmp(key, "print.partition") == 0)
        f->partition = bk_tool_is_true(v);
    else if (strcmp(key, "print.offset") == 0)
        f->offset = bk_tool_is_true(v);
    else if (strcmp(key, "print.headers") == 0)
        f->headers = bk_tool_is_true(v);
    else if (strcmp(key, "key.separator") == 0)
        f->key_sep = v;
    else if (strcmp(key, "line.separator") == 0)
        f->line_sep = v;
    else if (strcmp(key, "headers.separator") == 0)
        f->hdr_sep = v;
    else if (strcmp(key, "null.literal") == 0)
        f->null_lit = v;
    /* print.delivery, deserializers: nothing to do for bytes. */
}

static void put(const char *s)
{
    fputs(s, stdout);
}

static void put_bytes(const fmt *f, const void *p, size_t n)
{
    if (!p)
        put(f->null_lit);
    else
        fwrite(p, 1, n, stdout);
}

/* After a field: the column separator if more fields follow, else the line
 * separator (DefaultMessageFormatter.writeSeparator). */
static void sep(const fmt *f, bool more)
{
    put(more ? f->key_sep : f->line_sep);
}

static void print_record(const fmt *f, const rd_kafka_message_t *m)
{
    if (f->ts) {
        rd_kafka_timestamp_type_t tt;
        int64_t ts = rd_kafka_message_timestamp(m, &tt);
        if (tt == RD_KAFKA_TIMESTAMP_CREATE_TIME)
            printf("CreateTime:%" PRId64, ts);
        else if (tt == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME)
            printf("LogAppendTime:%" PRId64, ts);
        else
            put("NO_TIMESTAMP");
        sep(f, f->partition || f->offset || f->headers || f->key || f->value);
    }
    if (f->partition) {
        printf("Partition:%" PRId32, m->partition);
        sep(f, f->offset || f->headers || f->key || f->value);
    }
    if (f->offset) {
        printf("Offset:%" PRId64, m->offset);
        sep(f, f->headers || f->key || f->value);
    }
    if (f->headers) {
        rd_kafka_headers_t *h = NULL;
        if (rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR || !h ||
            rd_kafka_header_cnt(h) == 0) {
            put("NO_HEADERS");
        } else {
            const char *name;
            const void *val;
            size_t sz;
            for (size_t i = 0; rd_kafka_header_get_all(h, i, &name, &val, &sz) == 0; i++) {
                if (i)
                    put(f->hdr_sep);
                put(name);
                put(":");
                put_bytes(f, val, sz);
            }
        }
        sep(f, f->key || f->value);
    }
    if (f->key) {
        put_bytes(f, m->key, m->key_len);
        sep(f, f->value);
    }
    if (f->value) {
        put_bytes(f, m->payload, m->len);
        put(f->line_sep);
    }
}

/* Errors librdkafka recovers from by itself (or that topic auto-creation
 * will cure): keep waiting, as Kafka's consumer does. */
static bool transient(rd_kafka_resp_err_t e)
{
    switch (e) {
    case RD_KAFKA_RESP_ERR__PARTITION_EOF:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
        return true;
    default:
        return false;
    }
}

static long processed;

/* Flush stdout; false when it failed (a closed pipe - `| head` - ends the
 * tool quietly, other errors with a message). */
static bool flush_out(char *failure, size_t n, int *rc)
{
    if (fflush(stdout) == 0 && !ferror(stdout))
        return true;
    if (errno != EPIPE && !*rc) {
        snprintf(failure, n, "cannot write to stdout: %s", strerror(errno));
        *rc = 1;
    }
    return false;
}

static void report(void)
{
    fprintf(stderr, "Processed a total of %ld messages\n", processed);
}

int bk_cmd_console_consumer(int argc, char **argv)
{
    enum {
        O_BOOT = 1000,
        O_TOPIC,
        O_INCLUDE,
        O_GROUP,
        O_BEGIN,
        O_PART,
        O_OFFSET,
        O_MAX,
        O_TIMEOUT,
        O_ISO,
        O_PROP,
        O_CPROP,
        O_CCONF,
        O_SKIP,
        O_FORMATTER,
        O_IGNORED,
        O_HELP,
        O_VERSION
    };
    static const struct option lo[] = {
        {"bootstrap-server", required_argument, 0, O_BOOT},
        {"topic", required_argument, 0, O_TOPIC},
        {"include", required_argument, 0, O_INCLUDE},
        {"whitelist", required_argument, 0, O_INCLUDE},
        {"group", required_argument, 0, O_GROUP},
        {"from-beginning", no_argument, 0, O_BEGIN},
        {"partition", required_argument, 0, O_PART},
        {"offset", required_argument, 0, O_OFFSET},
        {"max-messages", required_argument, 0, O_MAX},
        {"timeout-ms", required_argument, 0, O_TIMEOUT},
        {"isolation-level", required_argument, 0, O_ISO},
        {"property", required_argument, 0, O_PROP},
        {"consumer-property", required_argument, 0, O_CPROP},
        {"consumer.config", required_argument, 0, O_CCONF},
        {"skip-message-on-error", no_argument, 0, O_SKIP},
        {"formatter", required_argument, 0, O_FORMATTER},
        {"key-deserializer", required_argument, 0, O_IGNORED},
        {"value-deserializer", required_argument, 0, O_IGNORED},
        {"help", no_argument, 0, O_HELP},
        {"version", no_argument, 0, O_VERSION},
        {0, 0, 0, 0},
    };
    const char *boot = NULL, *topic = NULL, *include = NULL, *group = NULL, *offset = NULL,
               *iso = NULL, *cconf = NULL;
    bool from_beginning = false, skip = false;
    int64_t partition = -1, max_messages = -1, timeout_ms = -1;
    char **props = calloc((size_t)argc + 1, sizeof *props);
    char **cprops = calloc((size_t)argc + 1, sizeof *cprops);
    int nprops = 0, ncprops = 0;
    fmt f = {.value = true, .key_sep = "\t", .line_sep = "\n", .hdr_sep = ",", .null_lit = "null"};

    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case O_BOOT:
            boot = optarg;
            break;
        case O_TOPIC:
            topic = optarg;
            break;
        case O_INCLUDE:
            include = optarg;
            break;
        case O_GROUP:
            group = optarg;
            break;
        case O_BEGIN:
            from_beginning = true;
            break;
        case O_PART:
            partition = bk_tool_parse_i64("--partition", optarg);
            if (partition < 0 || partition > INT32_MAX)
                bk_tool_usage_error("--partition: out of range: %s", optarg);
            break;
        case O_OFFSET:
            offset = optarg;
            break;
        case O_MAX:
            max_messages = bk_tool_parse_i64("--max-messages", optarg);
            break;
        case O_TIMEOUT:
            timeout_ms = bk_tool_parse_i64("--timeout-ms", optarg);
            break;
        case O_ISO:
            iso = optarg;
            break;
        case O_PROP:
            props[nprops++] = optarg;
            break;
        case O_CPROP:
            cprops[ncprops++] = optarg;
            break;
        case O_CCONF:
            cconf = optarg;
            break;
        case O_SKIP:
            skip = true;
            break;
        case O_FORMATTER:
            if (!strstr(optarg, "DefaultMessageFormatter"))
                bk_tool_usage_error("only the default formatter is supported, not '%s'", optarg);
            break;
        case O_IGNORED:
            break;
        case O_HELP:
            usage(stdout);
            exit(0);
        case O_VERSION:
            bk_tool_print_version();
            exit(0);
        default:
            bk_tool_usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        bk_tool_usage_error("unexpected argument '%s'", argv[optind]);
    if (!!topic + !!include != 1)
        bk_tool_usage_error("exactly one of --topic and --include is required");
    if (offset && partition < 0)
        bk_tool_usage_error("The partition is required when offset is specified.");
    if (offset && from_beginning)
        bk_tool_usage_error("Options from-beginning and offset cannot be specified together.");
    if (partition >= 0 && include)
        bk_tool_usage_error("Options include and partition cannot be specified together.");
    int64_t start = from_beginning ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
    if (offset) {
        if (strcmp(offset, "earliest") == 0)
            start = RD_KAFKA_OFFSET_BEGINNING;
        else if (strcmp(offset, "latest") == 0)
            start = RD_KAFKA_OFFSET_END;
        else {
            start = bk_tool_parse_i64("--offset", offset);
            if (start < 0)
                bk_tool_usage_error("--offset: must be earliest, latest or a non-negative number");
        }
    }
    if (iso && strcmp(iso, "read_committed") != 0 && strcmp(iso, "read_uncommitted") != 0)
        bk_tool_usage_error("--isolation-level: read_committed or read_uncommitted, not '%s'", iso);
    for (int i = 0; i < nprops; i++)
        set_fmt_prop(&f, props[i]);

    rd_kafka_conf_t *conf = bk_tool_conf(boot);
    bk_tool_set(conf, "client.id", "console-consumer");
    bk_tool_set(conf, "auto.offset.reset", "latest");
    bk_tool_set(conf, "isolation.level", "read_uncommitted");
    bk_tool_set(conf, "allow.auto.create.topics", "true");
    if (cconf)
        bk_tool_conf_file(conf, cconf);
    bool user_autocommit = false;
    for (int i = 0; i < ncprops; i++) {
        bk_tool_set_kv(conf, cprops[i]);
        if (strncmp(cprops[i], "enable.auto.commit=", 19) == 0)
            user_autocommit = true;
    }
    if (from_beginning)
        bk_tool_set(conf, "auto.offset.reset", "earliest");
    if (iso)
        bk_tool_set(conf, "isolation.level", iso);
    char cur[256];
    size_t cursz = sizeof cur;
    bool have_group =
        rd_kafka_conf_get(conf, "group.id", cur, &cursz) == RD_KAFKA_CONF_OK && cur[0];
    if (group) {
        if (have_group && strcmp(cur, group) != 0)
            bk_tool_usage_error("group.id '%s' and --group '%s' disagree", cur, group);
        bk_tool_set(conf, "group.id", group);
    } else if (!have_group) {
        char gen[64];
        srand((unsigned)bk_tool_mono_us());
        snprintf(gen, sizeof gen, "console-consumer-%d", rand() % 100000);
        bk_tool_set(conf, "group.id", gen);
        if (!user_autocommit)
            bk_tool_set(conf, "enable.auto.commit", "false");
    }
    free(props);
    free(cprops);

    bk_tool_catch_signals();
    rd_kafka_t *rk = bk_tool_client(RD_KAFKA_CONSUMER, conf);
    bk_tool_wait_connected(rk, boot, BK_TOOL_CONNECT_TIMEOUT_MS);
    rd_kafka_poll_set_consumer(rk);

    rd_kafka_topic_partition_list_t *tl = rd_kafka_topic_partition_list_new(1);
    rd_kafka_resp_err_t err;
    if (partition >= 0) {
        rd_kafka_topic_partition_list_add(tl, topic, (int32_t)partition)->offset = start;
        err = rd_kafka_assign(rk, tl);
    } else {
        char re[1024];
        if (include)
            snprintf(re, sizeof re, "^%s", include[0] == '^' ? include + 1 : include);
        rd_kafka_topic_partition_list_add(tl, include ? re : topic, RD_KAFKA_PARTITION_UA);
        err = rd_kafka_subscribe(rk, tl);
    }
    rd_kafka_topic_partition_list_destroy(tl);
    if (err)
        bk_tool_die("cannot %s: %s", partition >= 0 ? "assign" : "subscribe",
                    rd_kafka_err2str(err));

    int rc = 0;
    char failure[1024] = "";
    int64_t last = bk_tool_mono_us();
    bool unflushed = false;
    while (!bk_tool_stopping && (max_messages < 0 || processed < max_messages)) {
        /* Records already fetched come without waiting; stdout is flushed
         * whenever the consumer has nothing more at hand. */
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, unflushed ? 0 : 100);
        if (!m && unflushed) {
            unflushed = false;
            if (!flush_out(failure, sizeof failure, &rc))
                break;
            continue;
        }
        if (!m) {
            if (timeout_ms >= 0 && bk_tool_mono_us() - last >= timeout_ms * 1000)
                break;
            continue;
        }
        if (m->err) {
            char e[512];
            snprintf(e, sizeof e, "%s", rd_kafka_message_errstr(m));
            rd_kafka_resp_err_t code = m->err;
            rd_kafka_message_destroy(m);
            char fe[256];
            if (rd_kafka_fatal_error(rk, fe, sizeof fe)) {
                snprintf(failure, sizeof failure, "%s", fe);
                rc = 1;
                break;
            }
            if (transient(code) || skip) {
                if (getenv("BROOK_DEBUG"))
                    fprintf(stderr, "brook console-consumer: %s\n", e);
                continue;
            }
            snprintf(failure, sizeof failure,
                     "Error processing message, terminating consumer process: %s", e);
            rc = 1;
            break;
        }
        last = bk_tool_mono_us();
        print_record(&f, m);
        rd_kafka_message_destroy(m);
        processed++;
        unflushed = true;
        if (ferror(stdout)) {
            flush_out(failure, sizeof failure, &rc);
            break;
        }
    }
    if (unflushed)
        flush_out(failure, sizeof failure, &rc);
    report();
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    if (rc)
        bk_tool_die("%s", failure);
    return 0;
}
