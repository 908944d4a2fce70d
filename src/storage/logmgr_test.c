/* logmgr_test.c - directories, locks, checkpoints, clean restarts, deletes. */
#include "../../tests/unit.h"
#include "../core/buf.h"
#include "../core/crc32c.h"
#include "bio.h"
#include "logmgr.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static size_t batch(uint8_t *out, int64_t base, int32_t count, size_t payload)
{
    size_t total = BK_BATCH_HDR + payload;
    memset(out, 0, total);
    bk_be64(out, (uint64_t)base);
    bk_be32(out + 8, (uint32_t)(total - 12));
    out[16] = 2;
    bk_be32(out + 23, (uint32_t)(count - 1));
    bk_be32(out + 57, (uint32_t)count);
    bk_be32(out + 17, bk_crc32c(0, out + 21, total - 21));
    return total;
}

static int count_entries(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        size_t l = strlen(de->d_name), s = strlen(suffix);
        if (l > s && strcmp(de->d_name + l - s, suffix) == 0)
            n++;
    }
    if (d)
        closedir(d);
    return n;
}

void bk_test_logmgr(void);
void bk_test_logmgr(void)
{
    char root[] = "/tmp/bk-logmgr-XXXXXX";
    BK_CHECK(mkdtemp(root) != NULL);
    char d1[300], d2[300];
    snprintf(d1, sizeof d1, "%s/a", root);
    snprintf(d2, sizeof d2, "%s/b", root);
    const char *dirs[2] = {d1, d2};
    bk_logmgr_cfg cfg;
    bk_logmgr_cfg_defaults(&cfg);
    cfg.dirs = dirs;
    cfg.ndirs = 2;
    cfg.defaults.segment_bytes = 32 * 1024;
    cfg.checkpoint_ms = 0;
    char err[256];

    BK_TEST("logmgr: partitions spread over log.dirs, a second broker cannot lock them");
    bk_logmgr *m;
    bk_logmgr_stats st;
    BK_CHECK(bk_logmgr_open(&m, &cfg, 0, &st, err, sizeof err) == 0 && st.partitions == 0);
    bk_logmgr *m2;
    BK_CHECK(bk_logmgr_open(&m2, &cfg, 0, &st, err, sizeof err) == BK_EEXIST);
    BK_CHECK(strstr(err, "in use") != NULL);
    BK_CHECK(bk_bio_start(1) == 0);
    uint8_t b[4096];
    for (int p = 0; p < 6; p++) {
        bk_plog *l;
        BK_CHECK(bk_logmgr_create(m, "orders", p, &cfg.defaults, 0, &l) == 0);
        for (int i = 0; i < 50; i++) {
            int64_t base = bk_plog_leo(l);
            size_t n = batch(b, base, 2, 1000);
            BK_CHECK(bk_plog_append(l, b, n, base, base + 1, 0, base + 1, 0) == 0);
        }
        l->hw = bk_plog_leo(l);
    }
    BK_CHECK(bk_logmgr_count(m) == 6);
    BK_CHECK(count_entries(d1, "") >= 3 + 2 && count_entries(d2, "") >= 3 + 2);
    bk_plog *one;
    BK_CHECK(bk_logmgr_create(m, "orders", 3, &cfg.defaults, 0, &one) == BK_EEXIST);

    BK_TEST("logmgr: background flush on roll advances recovery points");
    bk_logmgr_tick(m, 1);
    bk_bio_wait_idle();
    bk_plog *l3 = bk_logmgr_get(m, "orders", 3);
    BK_CHECK(l3 && l3->recovery_point > 0 && l3->recovery_point <= bk_plog_leo(l3));

    BK_TEST("logmgr: the tick expires producer ids (producer.id.expiration.ms)");
    /* the test batches carry producer id 0 and timestamp 0 */
    BK_CHECK(l3 && bk_plog_nproducers(l3) == 1);
    bk_logmgr_tick(m, cfg.producer_expiration_check_ms - 1); /* not due yet */
    BK_CHECK(l3 && bk_plog_nproducers(l3) == 1);
    bk_logmgr_tick(m, cfg.producer_expiration_ms + cfg.producer_expiration_check_ms);
    bk_bio_wait_idle();
    BK_CHECK(l3 && bk_plog_nproducers(l3) == 0 && bk_logmgr_count(m) == 6);

    BK_TEST("logmgr: delete renames at once and removes the files in the background");
    BK_CHECK(bk_logmgr_delete(m, "orders", 5) == 0);
    BK_CHECK(bk_logmgr_get(m, "orders", 5) == NULL && bk_logmgr_count(m) == 5);
    bk_bio_wait_idle();
    BK_CHECK(count_entries(d1, "-delete") + count_entries(d2, "-delete") == 0);
    BK_CHECK(bk_logmgr_get(m, "orders", 4) != NULL); /* probing past the tombstone */

    BK_TEST("logmgr: clean close writes checkpoints; reopening scans nothing");
    BK_CHECK(bk_logmgr_close(m) == 0);
    bk_bio_stop();
    char path[400];
    snprintf(path, sizeof path, "%s/recovery-point-offset-checkpoint", d1);
    BK_CHECK(access(path, R_OK) == 0);
    BK_CHECK(bk_logmgr_open(&m, &cfg, 0, &st, err, sizeof err) == 0);
    BK_CHECK(st.partitions == 5 && st.recovered_segments == 0 && st.truncated_bytes == 0);
    bk_plog *l0 = bk_logmgr_get(m, "orders", 0);
    BK_CHECK(l0 && bk_plog_leo(l0) == 100 && l0->hw == 100);
    BK_CHECK(bk_logmgr_close(m) == 0);

    BK_TEST("logmgr: without checkpoints every partition is recovered by scanning");
    unlink(path);
    snprintf(path, sizeof path, "%s/recovery-point-offset-checkpoint", d2);
    unlink(path);
    BK_CHECK(bk_logmgr_open(&m, &cfg, 0, &st, err, sizeof err) == 0);
    BK_CHECK(st.partitions == 5 && st.recovered_segments >= 5);
    l0 = bk_logmgr_get(m, "orders", 0);
    BK_CHECK(l0 && bk_plog_leo(l0) == 100);
    BK_CHECK(bk_logmgr_close(m) == 0);

    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    BK_CHECK(system(cmd) == 0);
}
