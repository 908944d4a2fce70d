/*
 * main.c - brookd: the Brook broker.
 *
 *   brookd path/to/server.properties [--override key=value ...]
 *
 * Like kafka-server-start.sh: the properties file first, then every
 * --override in order. Configuration errors print one line naming the key,
 * the value and the reason and exit 1; SIGTERM/SIGINT shut down cleanly
 * with exit 0. When ready, one line "brookd: listening on ..." goes to
 * stdout (scripts wait for it); diagnostics go to stderr. The environment
 * variable BROOK_LOG_LEVEL (debug, info, warn, error) sets the log level.
 */
#include "../core/config.h"
#include "../core/log.h"
#include "server.h"

#include <stdio.h>
#include <stdlib.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: brookd server.properties [--override key=value ...]\n"
               "       brookd --help-config    list every configuration key\n");
}

static void help_config(void)
{
    for (int i = 0; i < bk_config_nkeys; i++) {
        const bk_config_key *k = &bk_config_keys[i];
        printf("%-45s default %-20s %s\n", k->name, k->def ? k->def : "null", k->doc);
    }
}

int main(int argc, char **argv)
{
    const char *lvl = getenv("BROOK_LOG_LEVEL");
    if (lvl) {
        int l = bk_log_level_parse(lvl);
        if (l < 0) {
            fprintf(stderr, "brookd: BROOK_LOG_LEVEL: unknown level '%s'\n", lvl);
            return 1;
        }
        bk_log_set_level(l);
    }
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "--help-config") == 0) {
        help_config();
        return 0;
    }
    if (argc < 2 || argv[1][0] == '-') {
        usage(stderr);
        return 1;
    }

    bk_config cfg;
    char err[1024];
    if (bk_config_init(&cfg) != 0) {
        fprintf(stderr, "brookd: out of memory\n");
        return 1;
    }
    int rc = bk_config_load_file(&cfg, argv[1], err, sizeof err);
    for (int i = 2; rc == 0 && i < argc; i++) {
        const char *kv = NULL;
        if (strcmp(argv[i], "--override") == 0 && i + 1 < argc)
            kv = argv[++i];
        else if (strncmp(argv[i], "--override=", 11) == 0)
            kv = argv[i] + 11;
        if (!kv) {
            snprintf(err, sizeof err, "unexpected argument '%s'", argv[i]);
            rc = BK_EINVAL;
            break;
        }
        rc = bk_config_override(&cfg, kv, err, sizeof err);
    }
    if (rc == 0)
        rc = bk_config_finish(&cfg, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "brookd: %s\n", err);
        bk_config_fini(&cfg);
        return 1;
    }

    bk_server srv;
    if (bk_server_init(&srv, &cfg, err, sizeof err) != 0) {
        fprintf(stderr, "brookd: %s\n", err);
        bk_config_fini(&cfg);
        return 1;
    }

    char where[512], dirs[512];
    bk_server_describe_listeners(&srv, where, sizeof where);
    bk_config_format(&cfg, bk_config_key_find("log.dirs"), dirs, sizeof dirs);
    printf("brookd: listening on %s (broker.id=%d, log.dirs=%s)\n", where, srv.broker.node_id,
           dirs);
    fflush(stdout);

    rc = bk_server_run(&srv);
    bk_server_fini(&srv);
    bk_config_fini(&cfg);
    bk_log(BK_LOG_INFO, "stopped");
    return rc == 0 ? 0 : 1;
}
