/*
 * brook broker-api-versions - kafka-broker-api-versions.sh.
 *
 *   brook broker-api-versions --bootstrap-server HOST:PORT [--command-config FILE]
 *
 * Asks every broker in the cluster metadata for its ApiVersions and prints
 * them as Kafka's NodeApiVersions.toString(true) does:
 *
 *   127.0.0.1:9092 (id: 0 rack: null) -> (
 *           Produce(0): 0 to 11 [usable: 11],
 *           ...
 *   )
 *
 * "Usable" is the highest version both the broker and this tool's codec
 * (Kafka 3.9's message definitions) know. APIs a ZooKeeper-mode broker
 * should serve but this one does not advertise are listed as UNSUPPORTED,
 * as the Java tool does for ApiKeys.zkBrokerApis().
 *
 * librdkafka does not expose the ApiVersions table, so this talks to the
 * brokers directly (wire.c). --command-config is accepted for runbook
 * compatibility; only PLAINTEXT connections exist.
 */
#include "../src/proto/bkgen_msgs.h"
#include "brook.h"
#include "tool.h"
#include "wire.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* API keys whose Kafka 3.9 definition lists the "zkBroker" listener. */
static bool zk_broker_api(int k)
{
    if (k >= 0 && k <= 51)
        return true;
    switch (k) {
    case 56:
    case 57:
    case 58:
    case 60:
    case 61:
    case 65:
    case 66:
    case 67:
    case 68:
    case 69:
        return true;
    }
    return false;
}

static void help(FILE *f)
{
    fprintf(f,
            "usage: brook broker-api-versions --bootstrap-server HOST:PORT [options]\n"
            "Print the API versions every broker of the cluster supports.\n"
            "  --bootstrap-server HOST:PORT[,...]  REQUIRED: a broker to connect to\n"
            "  --command-config FILE               client properties (accepted; PLAINTEXT only)\n"
            "  --version                           print the version and exit\n"
            "  --help                              this text\n");
}

static void print_versions(const bk_wire *w)
{
    bool first = true;
    for (int k = 0; k < BK_API_KEY_MAX; k++) {
        const bk_apidef *d = bk_apidef_get((int16_t)k);
        bool has = w->vmax[k] >= 0;
        if (!has && !(d && zk_broker_api(k)))
            continue;
        printf("%s\t", first ? "" : ",\n");
        first = false;
        if (!has) {
            printf("%s(%d): UNSUPPORTED", d->name, k);
            continue;
        }
        printf("%s(%d): ", d ? d->name : "UNKNOWN", k);
        if (w->vmin[k] == w->vmax[k])
            printf("%d", w->vmin[k]);
        else
            printf("%d to %d", w->vmin[k], w->vmax[k]);
        if (!d)
            continue;
        if (d->req->valid.hi < w->vmin[k])
            printf(" [unusable: node too new]");
        else if (w->vmax[k] < d->req->valid.lo)
            printf(" [unusable: node too old]");
        else
            printf(" [usable: %d]", BK_MIN(d->req->valid.hi, w->vmax[k]));
    }
    printf("\n)\n");
}

static int cmp_broker(const void *a, const void *b)
{
    const bk_MetadataResponse_MetadataResponseBroker *x = a, *y = b;
    return (x->NodeId > y->NodeId) - (x->NodeId < y->NodeId);
}

int bk_cmd_broker_api_versions(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"bootstrap-server", required_argument, 0, 'b'},
        {"command-config", required_argument, 0, 'c'},
        {"version", no_argument, 0, 'V'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *bootstrap = NULL;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            bootstrap = optarg;
            break;
        case 'c':
            break;
        case 'V':
            bk_tool_print_version();
            return 0;
        case 'h':
            help(stdout);
            return 0;
        default:
            bk_tool_usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        bk_tool_usage_error("unexpected argument '%s'", argv[optind]);
    if (!bootstrap)
        bk_tool_usage_error("--bootstrap-server is required");

    bk_wire w;
    if (bk_wire_connect_list(&w, bootstrap, BK_TOOL_CONNECT_TIMEOUT_MS) == -1)
        bk_tool_die("%s", w.err);
    bk_MetadataResponse md;
    if (bk_wire_metadata(&w, false, &md) == -1)
        bk_tool_die("%s", w.err);
    int n = BK_MAX(md.Brokers.n, 0);
    bk_MetadataResponse_MetadataResponseBroker *brokers = calloc((size_t)n + 1, sizeof *brokers);
    char **hosts = calloc((size_t)n + 1, sizeof *hosts);
    char **racks = calloc((size_t)n + 1, sizeof *racks);
    if (!brokers || !hosts || !racks)
        bk_tool_die("out of memory");
    /* copy out: the metadata borrows from the connection we reuse */
    memcpy(brokers, md.Brokers.a, sizeof *brokers * (size_t)n);
    qsort(brokers, (size_t)n, sizeof *brokers, cmp_broker);
    for (int i = 0; i < n; i++) {
        hosts[i] = strndup(brokers[i].Host.p ? brokers[i].Host.p : "",
                           (size_t)BK_MAX(brokers[i].Host.len, 0));
        racks[i] = brokers[i].Rack.len < 0
                       ? NULL
                       : strndup(brokers[i].Rack.p, (size_t)brokers[i].Rack.len);
    }
    bk_wire_close(&w);

    int rc = 0;
    for (int i = 0; i < n; i++) {
        bk_wire bw;
        printf("%s:%d (id: %d rack: %s) -> ", hosts[i], brokers[i].Port, brokers[i].NodeId,
               racks[i] ? racks[i] : "null");
        if (bk_wire_connect(&bw, hosts[i], brokers[i].Port, BK_TOOL_CONNECT_TIMEOUT_MS) == -1) {
            printf("ERROR: %s\n", bw.err);
            rc = 1;
            continue;
        }
        printf("(\n");
        print_versions(&bw);
        bk_wire_close(&bw);
    }
    for (int i = 0; i < n; i++) {
        free(hosts[i]);
        free(racks[i]);
    }
    free(hosts);
    free(racks);
    free(brokers);
    return rc;
}
