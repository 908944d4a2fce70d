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
#include "jsonfile.h"
#include "tool.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TIMEOUT_MS 30000

typedef bk_tool_tp tpo;

static int parse_file(const char *path, tpo **out)
{
    int64_t version;
    tpo *v;
    int n = bk_tool_json_partitions(path, true, &version, &v);
    if (version != 1)
        bk_tool_die("Not supported version field value %" PRId64, version);
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
