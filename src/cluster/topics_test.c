/* topics_test.c - topic registry over the file metastore and log manager. */
#include "../../tests/unit.h"
#include "../storage/checkpoint.h"
#include "topics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bk_logmgr *lm_open(const char *dir)
{
    const char *dirs[1] = {dir};
    bk_logmgr_cfg lc;
    bk_logmgr_cfg_defaults(&lc);
    lc.dirs = dirs;
    lc.ndirs = 1;
    bk_logmgr *m = NULL;
    char err[256];
    BK_CHECK(bk_logmgr_open(&m, &lc, 0, NULL, err, sizeof err) == 0);
    return m;
}

void bk_test_topics(void);
void bk_test_topics(void)
{
    char root[] = "/tmp/bk-topics-XXXXXX";
    BK_CHECK(mkdtemp(root) != NULL);
    bk_config c;
    char err[256];
    BK_CHECK(bk_config_init(&c) == 0);
    char kv[400];
    snprintf(kv, sizeof kv, "log.dirs=%s", root);
    BK_CHECK(bk_config_override(&c, kv, err, sizeof err) == 0);
    BK_CHECK(bk_config_override(&c, "num.partitions=3", err, sizeof err) == 0);
    BK_CHECK(bk_config_override(&c, "log.retention.hours=24", err, sizeof err) == 0);
    BK_CHECK(bk_config_finish(&c, err, sizeof err) == 0);

    BK_TEST("topics: create with defaults and overrides, errors as Kafka words them");
    bk_logmgr *lm = lm_open(root);
    bk_topics *t;
    BK_CHECK(bk_topics_open(&t, &c, lm, root, 0, err, sizeof err) == 0);
    int16_t kerr;
    char msg[256];
    bk_kv ov[2] = {{"retention.ms", "1000"}, {"cleanup.policy", "compact,delete"}};
    BK_CHECK(bk_topics_create(t, "orders", 6, -1, -1, ov, 2, false, &kerr, msg, sizeof msg) == 0);
    bk_topic *o = bk_topics_get(t, "orders", 6);
    BK_CHECK(o && o->nparts == 3 && o->replication_factor == 1 && o->parts[2].log);
    BK_CHECK(o->cfg.log.retention_ms == 1000 && o->cfg.cleanup_compact && o->cfg.cleanup_delete);
    BK_CHECK(o->cfg.max_message_bytes == 1048588 && o->cfg.compression == BK_TCOMP_PRODUCER);
    BK_CHECK(bk_topics_create(t, "orders", 6, 1, 1, NULL, 0, false, &kerr, msg, sizeof msg) ==
                 BK_EINVAL &&
             kerr == BK_KERR_TOPIC_ALREADY_EXISTS);
    BK_CHECK(bk_topics_create(t, "a.b", 3, 1, 1, NULL, 0, false, &kerr, msg, sizeof msg) == 0);
    BK_CHECK(bk_topics_create(t, "a_b", 3, 1, 1, NULL, 0, false, &kerr, msg, sizeof msg) ==
                 BK_EINVAL &&
             kerr == BK_KERR_INVALID_TOPIC_EXCEPTION && strstr(msg, "collides") != NULL);
    BK_CHECK(bk_topics_create(t, "x", 1, 1, 2, NULL, 0, false, &kerr, msg, sizeof msg) ==
                 BK_EINVAL &&
             kerr == BK_KERR_INVALID_REPLICATION_FACTOR &&
             strstr(msg, "larger than available brokers: 1") != NULL);
    BK_CHECK(bk_topics_create(t, "bad/name", 8, 1, 1, NULL, 0, false, &kerr, msg, sizeof msg) ==
                 BK_EINVAL &&
             kerr == BK_KERR_INVALID_TOPIC_EXCEPTION);
    bk_kv bad[1] = {{"retention.ms", "soon"}};
    BK_CHECK(bk_topics_create(t, "y", 1, 1, 1, bad, 1, false, &kerr, msg, sizeof msg) ==
                 BK_EINVAL &&
             kerr == BK_KERR_INVALID_CONFIG);
    bk_kv unknown[1] = {{"no.such.thing", "1"}};
    BK_CHECK(bk_topics_create(t, "y", 1, 1, 1, unknown, 1, false, &kerr, msg, sizeof msg) ==
                 BK_EINVAL &&
             kerr == BK_KERR_INVALID_CONFIG);
    BK_CHECK(bk_topics_create(t, "y", 1, 4, 1, NULL, 0, true, &kerr, msg, sizeof msg) == 0);
    BK_CHECK(bk_topics_get(t, "y", 1) == NULL); /* validate_only */

    BK_TEST("topics: describe shows sources: topic, static broker, default");
    bk_topic_cfg_entry e;
    int found = 0;
    for (int i = 0; i < bk_topic_cfg_count(); i++) {
        bk_topic_cfg_describe(t, o, i, &e);
        if (!strcmp(e.name, "retention.ms")) {
            BK_CHECK(!strcmp(e.value, "1000") && e.source == BK_CFGSRC_TOPIC);
            BK_CHECK(!strcmp(e.synonym, "log.retention.ms") &&
                     !strcmp(e.synonym_value, "86400000") &&
                     e.synonym_source == BK_CFGSRC_STATIC_BROKER);
            found++;
        }
        if (!strcmp(e.name, "segment.bytes")) {
            BK_CHECK(!strcmp(e.value, "1073741824") && e.source == BK_CFGSRC_DEFAULT);
            found++;
        }
    }
    BK_CHECK(found == 2);

    BK_TEST("topics: add partitions, alter and delete configs");
    BK_CHECK(bk_topics_add_partitions(t, o, 2, false, &kerr, msg, sizeof msg) == BK_EINVAL &&
             kerr == BK_KERR_INVALID_PARTITIONS);
    BK_CHECK(bk_topics_add_partitions(t, o, 5, false, &kerr, msg, sizeof msg) == 0);
    o = bk_topics_get(t, "orders", 6);
    BK_CHECK(o->nparts == 5 && o->parts[4].log && o->parts[4].topic == o && o->parts[0].topic == o);
    bk_kv set[2] = {{"max.message.bytes", "2000"}, {"retention.ms", NULL}};
    BK_CHECK(bk_topics_alter_config(t, o, set, 2, false, false, &kerr, msg, sizeof msg) == 0);
    BK_CHECK(o->cfg.max_message_bytes == 2000 && o->cfg.log.retention_ms == 86400000);
    BK_CHECK(o->parts[1].log->cfg.retention_ms == 86400000);
    bk_kv badset[1] = {{"compression.type", "brotli"}};
    BK_CHECK(bk_topics_alter_config(t, o, badset, 1, false, false, &kerr, msg, sizeof msg) ==
                 BK_EINVAL &&
             o->cfg.max_message_bytes == 2000);
    uint8_t id[16];
    memcpy(id, o->id.b, 16);

    BK_TEST("topics: everything survives a restart, ids included");
    BK_CHECK(bk_topics_create(t, "gone", 4, 2, 1, NULL, 0, false, &kerr, msg, sizeof msg) == 0);
    BK_CHECK(bk_topics_delete(t, bk_topics_get(t, "gone", 4)) == 0);
    BK_CHECK(bk_topics_get(t, "gone", 4) == NULL && bk_topics_count(t) == 2);
    bk_topics_close(t);
    BK_CHECK(bk_logmgr_close(lm) == 0);
    lm = lm_open(root);
    BK_CHECK(bk_topics_open(&t, &c, lm, root, 0, err, sizeof err) == 0);
    o = bk_topics_get(t, "orders", 6);
    BK_CHECK(o && o->nparts == 5 && memcmp(o->id.b, id, 16) == 0);
    BK_CHECK(o->cfg.max_message_bytes == 2000 && o->cfg.cleanup_compact);
    BK_CHECK(bk_topics_get_id(t, &o->id) == o && bk_topics_get(t, "gone", 4) == NULL);
    BK_CHECK(bk_logmgr_count(lm) == 6);
    uint8_t pid[16];
    BK_CHECK(bk_plog_read_topic_id(o->parts[3].log, pid) == 0 && memcmp(pid, id, 16) == 0);
    {
        char path[600];
        snprintf(path, sizeof path, "%s/leader-epoch-checkpoint", o->parts[3].log->dir);
        bk_ckpt_epoch *ep;
        int ne;
        BK_CHECK(bk_ckpt_read_epochs(path, &ep, &ne) == 0 && ne == 1 && ep[0].epoch == 0 &&
                 ep[0].start_offset == 0);
        free(ep);
    }
    BK_TEST("topics: lookups by name and id stay right through creates and deletes");
    {
        bk_uuid ids[60];
        char name[32];
        for (int i = 0; i < 60; i++) {
            snprintf(name, sizeof name, "many-%d", i);
            BK_CHECK(bk_topics_create(t, name, strlen(name), 1, 1, NULL, 0, false, &kerr, msg,
                                      sizeof msg) == 0);
            ids[i] = bk_topics_get(t, name, strlen(name))->id;
        }
        for (int i = 0; i < 60; i += 3) {
            snprintf(name, sizeof name, "many-%d", i);
            BK_CHECK(bk_topics_delete(t, bk_topics_get(t, name, strlen(name))) == 0);
        }
        int live = 0;
        for (int i = 0; i < 60; i++) {
            snprintf(name, sizeof name, "many-%d", i);
            bk_topic *tp = bk_topics_get(t, name, strlen(name));
            bk_topic *ti = bk_topics_get_id(t, &ids[i]);
            BK_CHECK(tp == ti);
            BK_CHECK((tp != NULL) == (i % 3 != 0));
            live += tp != NULL;
            if (tp)
                BK_CHECK(strcmp(tp->name, name) == 0 && bk_topics_partition(t, name, strlen(name), 0));
        }
        BK_CHECK(live == 40 && bk_topics_get(t, "many-", 5) == NULL);
    }
    bk_topics_close(t);
    BK_CHECK(bk_logmgr_close(lm) == 0);
    bk_config_fini(&c);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    BK_CHECK(system(cmd) == 0);
}
