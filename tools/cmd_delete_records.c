/*
 * brook delete-records - kafka-delete-records.sh.
 *
 *   brook delete-records --bootstrap-server B --offset-json-file FILE
 *
 * FILE, as Kafka's:
 *   {"partitions": [{"topic": "t", "partition": 0, "offset": 5}], "version": 1}
 * deletes every record of t-0 below offset 5; offset -1 means the high
 * watermark (everything). Output, as Kafka's DeleteRecordsCommand:
 *   Executing records delete operation
 *   Records delete operation completed:
 *   partition: t-0<TAB>low_watermark: 5
 *   partition: t-1<TAB>error: org.apache.kafka.common.errors.OffsetOutOfRangeException: ...
 * Partitions are listed in file order. A partition that fails is reported
 * on its line and makes the exit status 1.
 *
 * The JSON reader below knows just this shape (objects, arrays, strings,
 * integers; other values are skipped), which is all the file may hold.
 */
#include "brook.h"
#include "tool.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TIMEOUT_MS 30000

/* ------------------------------------------------------------ tiny JSON */

typedef struct jrd {
    const char *p, *end;
} jrd;

static void ws(jrd *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static bool eat(jrd *j, char c)
{
    ws(j);
    if (j->p < j->end && *j->p == c) {
        j->p++;
        return true;
    }
    return false;
}

__attribute__((noreturn)) static void bad_json(void)
{
    bk_tool_die("The input string is not a valid JSON");
}

/* A string; escapes are decoded for ASCII (\uXXXX above 0x7f is kept as
 * '?': topic names are ASCII). Returns a malloc'd copy. */
static char *jstring(jrd *j)
{
    if (!eat(j, '"'))
        bad_json();
    size_t cap = 16, n = 0;
    char *s = malloc(cap);
    if (!s)
        bk_tool_die("out of memory");
    while (j->p < j->end && *j->p != '"') {
        char c = *j->p++;
        if (c == '\\') {
            if (j->p >= j->end)
                bad_json();
            char e = *j->p++;
            switch (e) {
            case 'n':
                c = '\n';
                break;
            case 't':
                c = '\t';
                break;
            case 'r':
                c = '\r';
                break;
            case 'b':
                c = '\b';
                break;
            case 'f':
                c = '\f';
                break;
            case 'u': {
                if (j->end - j->p < 4)
                    bad_json();
                char hex[5] = {j->p[0], j->p[1], j->p[2], j->p[3], 0};
                long v = strtol(hex, NULL, 16);
                c = v < 0x80 ? (char)v : '?';
                j->p += 4;
                break;
            }
            default:
                c = e;
                break;
            }
        }
        if (n + 1 >= cap) {
            cap *= 2;
            char *ns = realloc(s, cap);
            if (!ns)
                bk_tool_die("out of memory");
            s = ns;
        }
        s[n++] = c;
    }
    if (!eat(j, '"'))
        bad_json();
    s[n] = 0;
    return s;
}

static bool jint(jrd *j, int64_t *v)
{
    ws(j);
    char buf[32];
    size_t n = 0;
    while (j->p < j->end && n < sizeof buf - 1 &&
           (*j->p == '-' || *j->p == '+' || (*j->p >= '0' && *j->p <= '9') || *j->p == '.' ||
            *j->p == 'e' || *j->p == 'E'))
        buf[n++] = *j->p++;
    buf[n] = 0;
    if (!n)
        return false;
    char *end;
    errno = 0;
    long long x = strtoll(buf, &end, 10);
    if (errno || *end)
        return false;
    *v = x;
    return true;
}

static void jskip(jrd *j)
{
    ws(j);
    if (j->p >= j->end)
        bad_json();
    char c = *j->p;
    if (c == '"') {
        free(jstring(j));
    } else if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        j->p++;
        if (eat(j, close))
            return;
        do {
            if (c == '{') {
                free(jstring(j));
                if (!eat(j, ':'))
                    bad_json();
            }
            jskip(j);
        } while (eat(j, ','));
        if (!eat(j, close))
            bad_json();
    } else {
        while (j->p < j->end && !strchr(",}] \t\r\n", *j->p))
            j->p++;
    }
}

typedef struct tpo {
    char *topic;
    int64_t partition, offset;
} tpo;

static int parse_file(const char *path, tpo **out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        bk_tool_die("cannot read %s: %s", path, strerror(errno));
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        bk_tool_die("out of memory");
    size_t r;
    while ((r = fread(buf + len, 1, cap - len, f)) > 0) {
        len += r;
        if (len == cap) {
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb)
                bk_tool_die("out of memory");
            buf = nb;
        }
    }
    fclose(f);
    jrd j = {buf, buf + len};
    int n = 0, ncap = 8;
    tpo *v = calloc((size_t)ncap, sizeof *v);
    int64_t version = 1;
    bool have_parts = false;
    if (!v)
        bk_tool_die("out of memory");
    if (!eat(&j, '{'))
        bad_json();
    if (!eat(&j, '}')) {
        do {
            char *key = jstring(&j);
            if (!eat(&j, ':'))
                bad_json();
            if (strcmp(key, "version") == 0) {
                if (!jint(&j, &version))
                    bad_json();
            } else if (strcmp(key, "partitions") == 0) {
                have_parts = true;
                if (!eat(&j, '['))
                    bk_tool_die("Missing partitions field");
                if (!eat(&j, ']')) {
                    do {
                        if (n == ncap) {
                            ncap *= 2;
                            tpo *nv = realloc(v, sizeof *v * (size_t)ncap);
                            if (!nv)
                                bk_tool_die("out of memory");
                            v = nv;
                        }
                        tpo *e = &v[n++];
                        *e = (tpo){NULL, -1, INT64_MIN};
                        bool hp = false, ho = false;
                        if (!eat(&j, '{'))
                            bad_json();
                        if (!eat(&j, '}')) {
                            do {
                                char *k = jstring(&j);
                                if (!eat(&j, ':'))
                                    bad_json();
                                if (strcmp(k, "topic") == 0) {
                                    free(e->topic);
                                    e->topic = jstring(&j);
                                } else if (strcmp(k, "partition") == 0) {
                                    if (!jint(&j, &e->partition) || e->partition < 0 ||
                                        e->partition > INT32_MAX)
                                        bk_tool_die("bad \"partition\" in %s", path);
                                    hp = true;
                                } else if (strcmp(k, "offset") == 0) {
                                    if (!jint(&j, &e->offset))
                                        bk_tool_die("bad \"offset\" in %s", path);
                                    ho = true;
                                } else {
                                    jskip(&j);
                                }
                                free(k);
                            } while (eat(&j, ','));
                            if (!eat(&j, '}'))
                                bad_json();
                        }
                        if (!e->topic || !hp || !ho)
                            bk_tool_die("%s: each partition needs \"topic\", \"partition\" and "
                                        "\"offset\"",
                                        path);
                    } while (eat(&j, ','));
                    if (!eat(&j, ']'))
                        bad_json();
                }
            } else {
                jskip(&j);
            }
            free(key);
        } while (eat(&j, ','));
        if (!eat(&j, '}'))
            bad_json();
    }
    ws(&j);
    if (j.p != j.end)
        bad_json();
    free(buf);
    if (version != 1)
        bk_tool_die("Not supported version field value %" PRId64, version);
    if (!have_parts)
        bk_tool_die("Missing partitions field");
    /* Kafka refuses duplicates */
    char dup[1024] = "";
    size_t dl = 0;
    for (int a = 0; a < n; a++)
        for (int b = a + 1; b < n; b++)
            if (v[a].partition == v[b].partition && strcmp(v[a].topic, v[b].topic) == 0 &&
                dl < sizeof dup)
                dl += (size_t)snprintf(dup + dl, sizeof dup - dl, "%s%s-%" PRId64, dl ? "," : "",
                                       v[a].topic, v[a].partition);
    if (dup[0])
        bk_tool_die("Offset json file contains duplicate topic partitions: %s", dup);
    *out = v;
    return n;
}

/* ---------------------------------------------------------------- main */

static void help(FILE *f)
{
    fprintf(
        f, "usage: brook delete-records --bootstrap-server HOST:PORT --offset-json-file FILE\n"
           "Delete the records of partitions below given offsets (kafka-delete-records.sh).\n"
           "  --bootstrap-server HOST:PORT  REQUIRED: the broker(s) to connect to\n"
           "  --offset-json-file FILE       REQUIRED: the partitions and offsets, as\n"
           "      {\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"offset\":5}],\"version\":1}\n"
           "      (offset -1 = the high watermark: delete everything)\n"
           "  --command-config FILE         admin client properties file\n"
           "  --version                     print the version and exit\n"
           "  --help                        this text\n");
}

int bk_cmd_delete_records(int argc, char **argv)
{
    enum { O_BOOT = 256, O_FILE, O_CMDCFG, O_VERSION, O_HELP };
    static const struct option longopts[] = {
        {"bootstrap-server", required_argument, 0, O_BOOT},
        {"offset-json-file", required_argument, 0, O_FILE},
        {"command-config", required_argument, 0, O_CMDCFG},
        {"version", no_argument, 0, O_VERSION},
        {"help", no_argument, 0, O_HELP},
        {0, 0, 0, 0},
    };
    const char *bootstrap = NULL, *file = NULL, *cmdcfg = NULL;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case O_BOOT:
            bootstrap = optarg;
            break;
        case O_FILE:
            file = optarg;
            break;
        case O_CMDCFG:
            cmdcfg = optarg;
            break;
        case O_VERSION:
            bk_tool_print_version();
            return 0;
        case 'h':
        case O_HELP:
            help(stdout);
            return 0;
        default:
            bk_tool_usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        bk_tool_usage_error("unexpected argument '%s'", argv[optind]);
    if (!bootstrap)
        bk_tool_usage_error("Missing required argument \"[bootstrap-server]\"");
    if (!file)
        bk_tool_usage_error("Missing required argument \"[offset-json-file]\"");

    tpo *parts;
    int n = parse_file(file, &parts);
    rd_kafka_conf_t *conf = bk_tool_conf(bootstrap);
    if (cmdcfg)
        bk_tool_conf_file(conf, cmdcfg);
    rd_kafka_t *rk = bk_tool_client(RD_KAFKA_PRODUCER, conf);
    bk_tool_wait_connected(rk, bootstrap, BK_TOOL_CONNECT_TIMEOUT_MS);

    printf("Executing records delete operation\n");
    fflush(stdout);
    int rc = 0;
    rd_kafka_topic_partition_list_t *res = NULL;
    rd_kafka_event_t *ev = NULL;
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *ao =
        bk_tool_admin_options(rk, RD_KAFKA_ADMIN_OP_DELETERECORDS, TIMEOUT_MS);
    if (n > 0) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
        for (int i = 0; i < n; i++)
            rd_kafka_topic_partition_list_add(l, parts[i].topic, (int32_t)parts[i].partition)
                ->offset = parts[i].offset;
        rd_kafka_DeleteRecords_t *dr = rd_kafka_DeleteRecords_new(l);
        rd_kafka_topic_partition_list_destroy(l);
        rd_kafka_DeleteRecords(rk, &dr, 1, ao, q);
        ev = bk_tool_admin_wait(q, RD_KAFKA_EVENT_DELETERECORDS_RESULT, TIMEOUT_MS * 2);
        rd_kafka_DeleteRecords_destroy(dr);
        res = (rd_kafka_topic_partition_list_t *)rd_kafka_DeleteRecords_result_offsets(
            rd_kafka_event_DeleteRecords_result(ev));
    }
    printf("Records delete operation completed:\n");
    for (int i = 0; i < n; i++) {
        rd_kafka_topic_partition_t *r = res ? rd_kafka_topic_partition_list_find(
                                                  res, parts[i].topic, (int32_t)parts[i].partition)
                                            : NULL;
        printf("partition: %s-%" PRId64 "\t", parts[i].topic, parts[i].partition);
        if (r && !r->err) {
            printf("low_watermark: %" PRId64 "\n", r->offset);
            continue;
        }
        rc = 1;
        const char *cls, *msg;
        int code = r ? r->err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
        if (code == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
            code == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION)
            code = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
        bk_tool_java_error(code, &cls, &msg);
        printf("error: %s: %s\n", cls, msg ? msg : rd_kafka_err2str((rd_kafka_resp_err_t)code));
    }
    fflush(stdout);
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    for (int i = 0; i < n; i++)
        free(parts[i].topic);
    free(parts);
    return rc;
}
