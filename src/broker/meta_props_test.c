/* meta_props_test.c - cluster id format, meta.properties round trip and
 * the identity checks done at start-up. */
#include "meta_props.h"

#include "../../tests/unit.h"
#include "../core/err.h"
#include "../core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void rm_tree(const char *root)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    BK_CHECK(system(cmd) == 0);
}

static int identity(const char *dirs, const char *extra_key, const char *extra_val, int32_t *id,
                    char *cid, char *err)
{
    bk_config c;
    char e2[256];
    BK_CHECK(bk_config_init(&c) == 0);
    BK_CHECK(bk_config_set(&c, "log.dirs", dirs, e2, sizeof e2) == 0);
    if (extra_key)
        BK_CHECK(bk_config_set(&c, extra_key, extra_val, e2, sizeof e2) == 0);
    BK_CHECK(bk_config_finish(&c, e2, sizeof e2) == 0);
    int rc = bk_meta_identity(&c, id, cid, 65, err, 512);
    bk_config_fini(&c);
    return rc;
}

void bk_test_meta_props(void);
void bk_test_meta_props(void)
{
    int level = bk_log_get_level();
    bk_log_set_level(BK_LOG_WARN); /* "new cluster id" lines are expected */
    BK_TEST("meta_props: random cluster ids look like Kafka's");
    char a[23], b[23];
    for (int i = 0; i < 200; i++) {
        bk_random_cluster_id(a);
        BK_CHECK(strlen(a) == 22 && a[0] != '-');
        BK_CHECK(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
                 22);
        /* byte 6 high nibble = 4 (version): chars 8..9 carry bits 48..59 */
        static const char *b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        int c8 = (int)(strchr(b64, a[8]) - b64);
        BK_CHECK((c8 >> 2) == 4);
    }
    bk_random_cluster_id(b);
    BK_CHECK(strcmp(a, b) != 0);

    BK_TEST("meta_props: identity is created once and then kept");
    char root[] = "/tmp/bk_meta_test_XXXXXX";
    BK_CHECK(mkdtemp(root) != NULL);
    char d1[256], d2[256], dirs[600];
    snprintf(d1, sizeof d1, "%s/x/y/d1", root); /* nested: mkdir -p */
    snprintf(d2, sizeof d2, "%s/d2", root);
    snprintf(dirs, sizeof dirs, "%s,%s", d1, d2);
    int32_t id = -7;
    char cid[65], cid2[65], err[512];
    BK_CHECK(identity(dirs, "broker.id", "3", &id, cid, err) == 0);
    BK_CHECK(id == 3 && strlen(cid) == 22);
    bk_meta_props mp;
    BK_CHECK(bk_meta_props_read(d2, &mp, err, sizeof err) == 0);
    BK_CHECK(mp.version == 0 && mp.broker_id == 3 && strcmp(mp.cluster_id, cid) == 0);
    /* broker.id -1 takes the stored one; the cluster id is stable */
    BK_CHECK(identity(dirs, NULL, NULL, &id, cid2, err) == 0);
    BK_CHECK(id == 3 && strcmp(cid, cid2) == 0);

    BK_TEST("meta_props: mismatches refuse to start");
    BK_CHECK(identity(dirs, "broker.id", "4", &id, cid2, err) == BK_EINVAL);
    BK_CHECK(strstr(err, "broker.id 4") != NULL);
    BK_CHECK(identity(dirs, "cluster.id", "someOtherCluster", &id, cid2, err) == BK_EINVAL);
    BK_CHECK(strstr(err, "someOtherCluster") != NULL);
    /* the two directories disagree */
    bk_meta_props other = {.version = 0, .broker_id = 3};
    snprintf(other.cluster_id, sizeof other.cluster_id, "differentClusterIdxxxx");
    BK_CHECK(bk_meta_props_write(d2, &other, err, sizeof err) == 0);
    BK_CHECK(identity(dirs, NULL, NULL, &id, cid2, err) == BK_EINVAL);
    BK_CHECK(strstr(err, "inconsistent") != NULL);

    BK_TEST("meta_props: fixed cluster.id and generated broker id on a fresh dir");
    char d3[256];
    snprintf(d3, sizeof d3, "%s/d3", root);
    BK_CHECK(identity(d3, "cluster.id", "fixedCluster_1", &id, cid2, err) == 0);
    BK_CHECK(strcmp(cid2, "fixedCluster_1") == 0 && id == 1001);

    BK_TEST("meta_props: broken files are reported");
    char path[300];
    snprintf(path, sizeof path, "%s/meta.properties", d3);
    FILE *f = fopen(path, "w");
    BK_CHECK(f != NULL);
    if (f) {
        fputs("version=7\ncluster.id=x\n", f);
        fclose(f);
    }
    BK_CHECK(bk_meta_props_read(d3, &mp, err, sizeof err) == BK_EINVAL);
    BK_CHECK(strstr(err, "version") != NULL);
    rm_tree(root);
    bk_log_set_level(level);
}
