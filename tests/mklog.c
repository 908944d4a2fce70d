/*
 * mklog - write a partition log with Brook's storage engine and batch
 * builder, for tests that read it back with independent code
 * (tests/codec/test_segments_kafka_python.py) and with brook dump-log.
 *
 *   mklog LOGDIR TOPIC PARTITION NBATCHES [SEGMENT_BYTES]
 *
 * Batch i holds (i % 4) + 1 records, compressed with codec i % 5 (none,
 * gzip, snappy, lz4, zstd). Record at offset o: timestamp 1700000000000+o,
 * key "k<o>" (null when o % 7 == 3), value "v<o>" repeated (o % 13) + 1
 * times, one header ("h", "<o>") when o % 3 == 0. The log is closed
 * cleanly, then "LEO <n>" is printed.
 */
#include "../src/core/buf.h"
#include "../src/proto/records.h"
#include "../src/storage/compress.h"
#include "../src/storage/plog.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: mklog LOGDIR TOPIC PARTITION NBATCHES [SEGMENT_BYTES]\n");
        return 2;
    }
    bk_logcfg cfg;
    bk_logcfg_defaults(&cfg);
    if (argc > 5)
        cfg.segment_bytes = atoll(argv[5]);
    bk_plog *l;
    int r = bk_plog_open(&l, argv[1], argv[2], atoi(argv[3]), &cfg, 0, 0, 0, NULL);
    if (r == BK_ENOENT)
        r = bk_plog_create(&l, argv[1], argv[2], atoi(argv[3]), &cfg, 0);
    if (r) {
        fprintf(stderr, "mklog: %s\n", bk_strerror(r));
        return 1;
    }
    int nb = atoi(argv[4]);
    bk_wr out, scratch;
    bk_wr_init(&out, 1 << 16);
    bk_wr_init(&scratch, 1 << 16);
    for (int i = 0; i < nb; i++) {
        int64_t base = bk_plog_leo(l);
        bk_batch_opts o = BK_BATCH_OPTS_DEFAULT;
        o.base_offset = base;
        o.leader_epoch = 0;
        o.compression = i % 5;
        o.compress = bk_compress;
        o.scratch = &scratch;
        bk_batch_builder b;
        bk_wr_reset(&out);
        if (bk_batch_builder_init(&b, &out, &o))
            return 1;
        int n = i % 4 + 1;
        for (int k = 0; k < n; k++) {
            int64_t off = base + k;
            char key[32], val[1024] = "", one[32], hv[32];
            snprintf(key, sizeof key, "k%" PRId64, off);
            snprintf(one, sizeof one, "v%" PRId64, off);
            for (int rep = 0; rep <= off % 13; rep++)
                strcat(val, one);
            snprintf(hv, sizeof hv, "%" PRId64, off);
            bk_rec_header h = {(const uint8_t *)"h", 1, (const uint8_t *)hv, (int32_t)strlen(hv)};
            if (bk_batch_builder_add(&b, 1700000000000 + off, off % 7 == 3 ? NULL : key,
                                     off % 7 == 3 ? -1 : (int32_t)strlen(key), val,
                                     (int32_t)strlen(val), off % 3 == 0 ? &h : NULL,
                                     off % 3 == 0 ? 1 : 0))
                return 1;
        }
        if (bk_batch_builder_finish(&b))
            return 1;
        bk_batch_builder_fini(&b);
        int64_t last = base + n - 1;
        r = bk_plog_append(l, out.buf, out.len, base, last, 1700000000000 + last, last,
                           1700000000000 + last);
        if (r) {
            fprintf(stderr, "mklog: append: %s\n", bk_strerror(r));
            return 1;
        }
    }
    printf("LEO %" PRId64 "\n", bk_plog_leo(l));
    r = bk_plog_close(l);
    bk_plog_free(l);
    bk_wr_fini(&out);
    bk_wr_fini(&scratch);
    return r ? 1 : 0;
}
