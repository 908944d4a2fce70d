/*
 * mkrecords - writes the seed corpus of fuzz_records: valid record batches
 * made with Brook's builder, one per file in the given directory.
 *
 *   mkrecords fuzz/corpus/records
 *
 * Seeds: uncompressed with headers and null key/value, each codec, an
 * idempotent/transactional batch, a LogAppendTime batch, a control batch,
 * two batches back to back, and a batch with a torn tail. The last byte of
 * each file also picks the validator's config in fuzz_records (it is part
 * of the batch too, so the seeds vary it a little).
 */
#include "../src/proto/records.h"
#include "../src/storage/compress.h"

#include <stdio.h>
#include <stdlib.h>

static void add_some(bk_batch_builder *b, int n, bool nulls, bool headers)
{
    for (int i = 0; i < n; i++) {
        char k[16], v[64];
        int kl = snprintf(k, sizeof k, "key-%d", i);
        int vl = snprintf(v, sizeof v, "value %d: the quick brown fox", i);
        bk_rec_header h[2] = {{(const uint8_t *)"trace", 5, (const uint8_t *)"abc", 3},
                              {(const uint8_t *)"nullv", 5, NULL, -1}};
        bool nk = nulls && i % 3 == 1, nv = nulls && i % 3 == 2;
        bk_batch_builder_add(b, 1700000000000LL + i * 7, nk ? NULL : k, nk ? -1 : kl, nv ? NULL : v,
                             nv ? -1 : vl, h, headers ? (i % 3) : 0);
    }
}

static void batch(bk_wr *w, int codec, int n, bool nulls, bool headers, int tstype, bool txn,
                  bool control)
{
    bk_batch_opts o = BK_BATCH_OPTS_DEFAULT;
    o.compression = codec;
    o.compress = bk_compress;
    o.timestamp_type = tstype;
    o.log_append_time = 1700000001000LL;
    o.control = control;
    if (txn) {
        o.transactional = true;
        o.producer_id = 4000;
        o.producer_epoch = 1;
        o.base_sequence = 0;
    }
    bk_batch_builder b;
    bk_batch_builder_init(&b, w, &o);
    if (control) {
        static const uint8_t key[] = {0, 0, 0, 1};       /* version 0, COMMIT */
        static const uint8_t val[] = {0, 0, 0, 0, 0, 5}; /* version 0, epoch 5 */
        bk_batch_builder_add(&b, 1700000000000LL, key, 4, val, 6, NULL, 0);
    } else {
        add_some(&b, n, nulls, headers);
    }
    if (bk_batch_builder_finish(&b) != 0) {
        fprintf(stderr, "mkrecords: builder failed\n");
        exit(1);
    }
    bk_batch_builder_fini(&b);
}

static void save(const char *dir, const char *name, const bk_wr *w, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(w->buf, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: mkrecords DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    bk_wr w;
    bk_wr_init(&w, 4096);
    static const struct {
        const char *name;
        int codec;
    } codecs[] = {{"none", 0}, {"gzip", 1}, {"snappy", 2}, {"lz4", 3}, {"zstd", 4}};
    for (size_t i = 0; i < sizeof codecs / sizeof codecs[0]; i++) {
        char name[64];
        bk_wr_reset(&w);
        batch(&w, codecs[i].codec, 5, true, true, BK_TIMESTAMP_CREATE, false, false);
        snprintf(name, sizeof name, "batch-%s", codecs[i].name);
        save(dir, name, &w, w.len);
    }
    bk_wr_reset(&w);
    batch(&w, 0, 1, false, false, BK_TIMESTAMP_CREATE, false, false);
    save(dir, "batch-one-record", &w, w.len);
    bk_wr_reset(&w);
    batch(&w, 0, 30, true, false, BK_TIMESTAMP_CREATE, false, false);
    save(dir, "batch-nulls", &w, w.len);
    bk_wr_reset(&w);
    batch(&w, 0, 4, false, true, BK_TIMESTAMP_CREATE, true, false);
    save(dir, "batch-transactional", &w, w.len);
    bk_wr_reset(&w);
    batch(&w, 3, 4, false, true, BK_TIMESTAMP_LOG_APPEND, false, false);
    save(dir, "batch-logappendtime-lz4", &w, w.len);
    bk_wr_reset(&w);
    batch(&w, 0, 1, false, false, BK_TIMESTAMP_CREATE, true, true);
    save(dir, "batch-control-commit", &w, w.len);
    bk_wr_reset(&w);
    batch(&w, 0, 3, true, true, BK_TIMESTAMP_CREATE, false, false);
    batch(&w, 1, 3, true, true, BK_TIMESTAMP_CREATE, false, false);
    save(dir, "two-batches", &w, w.len);
    size_t first = w.len;
    batch(&w, 4, 3, false, false, BK_TIMESTAMP_CREATE, false, false);
    save(dir, "torn-tail", &w, first + (w.len - first) / 2);
    bk_wr_fini(&w);
    return 0;
}
