/*
 * bkrecords - a command-line window on proto/records, storage/compress and
 * storage/validate for tests written in other languages
 * (tests/codec/test_records_kafka_python.py).
 *
 *   bkrecords dump             stdin: hex of one or more batches
 *                              stdout: JSON array, one object per batch:
 *                              header fields, "crc_valid", "check" (the
 *                              bk_batch_check() status) and the records after
 *                              decompression (key/value/headers as hex, null
 *                              when null; absolute offset and timestamp)
 *   bkrecords build [opts]     stdin: one record per line
 *                                <timestamp> <key> <value> [<hkey>=<hvalue>]...
 *                              each field hex, "." for empty, "-" for null
 *                              (header keys cannot be null)
 *                              stdout: hex of the batch
 *       --codec N --ts-type N --log-append-time MS --base-offset N --epoch N
 *       --pid N --pepoch N --seq N --txn --control
 *   bkrecords validate [opts]  stdin: hex of a Produce partition's records
 *                              stdout: line 1 JSON of the bk_validate_result,
 *                              line 2 hex of the bytes to append
 *       --next-offset N --epoch N --now MS --log-append --compression N|producer
 *       --max-message-bytes N --multi
 *
 * Exit status 0, or 1 with a message on stderr for unusable input.
 */
#include "../src/proto/records.h"
#include "../src/storage/compress.h"
#include "../src/storage/validate.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static void die(const char *msg)
{
    fprintf(stderr, "bkrecords: %s\n", msg);
    exit(1);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* All of stdin, hex decoded (whitespace ignored). */
static uint8_t *read_hex_stdin(size_t *len)
{
    bk_wr w;
    bk_wr_init(&w, 4096);
    int c, hi = -1;
    while ((c = getchar()) != EOF) {
        if (isspace(c))
            continue;
        int v = hexval(c);
        if (v < 0)
            die("stdin is not hex");
        if (hi < 0) {
            hi = v;
        } else {
            bk_wr_u8(&w, (uint8_t)(hi << 4 | v));
            hi = -1;
        }
    }
    if (hi >= 0)
        die("odd number of hex digits");
    if (w.err)
        die("out of memory");
    *len = w.len;
    return w.buf; /* the caller frees */
}

static void put_hex(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
}

static void put_json_bytes(const uint8_t *p, int32_t n)
{
    if (n < 0) {
        printf("null");
        return;
    }
    putchar('"');
    put_hex(p, (size_t)n);
    putchar('"');
}

static int dump(void)
{
    size_t len;
    uint8_t *in = read_hex_stdin(&len);
    bk_zctx z;
    bk_zctx_init(&z);
    bk_wr dec;
    bk_wr_init(&dec, 0);
    printf("[");
    size_t pos = 0;
    int nb = 0;
    while (pos < len) {
        const uint8_t *p = in + pos;
        bk_batch_info b;
        int parse = bk_batch_parse(p, len - pos, &b);
        if (parse != 0) {
            fprintf(stderr, "bkrecords: batch %d: %s\n", nb, bk_strerror(parse));
            break;
        }
        int check = bk_batch_check(p, len - pos, NULL);
        printf("%s{\"base_offset\":%" PRId64 ",\"batch_length\":%" PRId32
               ",\"partition_leader_epoch\":%" PRId32 ",\"magic\":%d,\"crc\":%" PRIu32
               ",\"crc_valid\":%s,\"attributes\":%d,\"compression\":%d,\"timestamp_type\":%d"
               ",\"transactional\":%s,\"control\":%s,\"last_offset_delta\":%" PRId32
               ",\"base_timestamp\":%" PRId64 ",\"max_timestamp\":%" PRId64
               ",\"producer_id\":%" PRId64 ",\"producer_epoch\":%d,\"base_sequence\":%" PRId32
               ",\"record_count\":%" PRId32 ",\"check\":\"%s\"",
               nb ? "," : "", b.base_offset, b.length, b.leader_epoch, b.magic, b.crc,
               bk_batch_crc_ok(p, b.size) ? "true" : "false", b.attributes, b.compression,
               b.timestamp_type, b.transactional ? "true" : "false", b.control ? "true" : "false",
               b.last_offset_delta, b.base_timestamp, b.max_timestamp, b.producer_id,
               b.producer_epoch, b.base_sequence, b.record_count,
               check ? bk_strerror(check) : "ok");
        const uint8_t *recs = b.records;
        size_t rlen = b.records_len;
        int drc = 0;
        if (b.compression != BK_COMPRESSION_NONE) {
            bk_wr_reset(&dec);
            drc = bk_decompress(&z, b.compression, b.records, b.records_len, &dec, 1u << 30);
            recs = dec.buf;
            rlen = dec.len;
        }
        printf(",\"decompress\":\"%s\"", drc ? bk_strerror(drc) : "ok");
        printf(",\"records_check\":\"%s\"", drc ? "skipped"
                                            : bk_records_check(recs, rlen, b.record_count)
                                                ? "corrupt"
                                                : "ok");
        printf(",\"records\":[");
        if (!drc) {
            bk_rec_iter it;
            bk_record r;
            bk_rec_iter_init(&it, recs, rlen, b.record_count);
            while (bk_rec_iter_next(&it, &r)) {
                printf("%s{\"offset\":%" PRId64 ",\"offset_delta\":%" PRId32
                       ",\"timestamp\":%" PRId64 ",\"attributes\":%d,\"key\":",
                       it.index > 1 ? "," : "", b.base_offset + r.offset_delta, r.offset_delta,
                       bk_record_timestamp(&b, &r), r.attributes);
                put_json_bytes(r.key, r.key_len);
                printf(",\"value\":");
                put_json_bytes(r.value, r.value_len);
                printf(",\"headers\":[");
                bk_hdr_iter hi;
                bk_rec_header h;
                bk_hdr_iter_init(&hi, &r);
                int nh = 0;
                while (bk_hdr_iter_next(&hi, &h)) {
                    printf("%s[", nh++ ? "," : "");
                    put_json_bytes(h.key, h.key_len);
                    putchar(',');
                    put_json_bytes(h.value, h.value_len);
                    putchar(']');
                }
                printf("]}");
            }
            printf("],\"iter_error\":%s", it.err ? "true" : "false");
        } else {
            printf("],\"iter_error\":true");
        }
        printf("}");
        pos += b.size;
        nb++;
    }
    printf("]\n");
    bk_wr_fini(&dec);
    bk_zctx_fini(&z);
    free(in);
    return 0;
}

/* Decode a build-mode field into out (appended), returning its length or
 * -1 for null. */
static int32_t field(const char *s, size_t n, bk_wr *store, size_t *at)
{
    *at = store->len;
    if (n == 1 && s[0] == '-')
        return -1;
    if (n == 1 && s[0] == '.')
        return 0;
    if (n % 2)
        die("odd hex field");
    for (size_t i = 0; i < n; i += 2) {
        int a = hexval(s[i]), b = hexval(s[i + 1]);
        if (a < 0 || b < 0)
            die("bad hex field");
        bk_wr_u8(store, (uint8_t)(a << 4 | b));
    }
    return (int32_t)(n / 2);
}

static int64_t num_arg(int *i, int argc, char **argv)
{
    if (*i + 1 >= argc)
        die("option needs a value");
    return strtoll(argv[++*i], NULL, 0);
}

static int build(int argc, char **argv)
{
    bk_batch_opts o = BK_BATCH_OPTS_DEFAULT;
    o.compress = bk_compress;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--codec"))
            o.compression = (int)num_arg(&i, argc, argv);
        else if (!strcmp(a, "--ts-type"))
            o.timestamp_type = (int)num_arg(&i, argc, argv);
        else if (!strcmp(a, "--log-append-time"))
            o.log_append_time = num_arg(&i, argc, argv);
        else if (!strcmp(a, "--base-offset"))
            o.base_offset = num_arg(&i, argc, argv);
        else if (!strcmp(a, "--epoch"))
            o.leader_epoch = (int32_t)num_arg(&i, argc, argv);
        else if (!strcmp(a, "--pid"))
            o.producer_id = num_arg(&i, argc, argv);
        else if (!strcmp(a, "--pepoch"))
            o.producer_epoch = (int16_t)num_arg(&i, argc, argv);
        else if (!strcmp(a, "--seq"))
            o.base_sequence = (int32_t)num_arg(&i, argc, argv);
        else if (!strcmp(a, "--txn"))
            o.transactional = true;
        else if (!strcmp(a, "--control"))
            o.control = true;
        else
            die("unknown build option");
    }
    bk_wr out;
    bk_wr_init(&out, 4096);
    bk_batch_builder b;
    if (bk_batch_builder_init(&b, &out, &o) != 0)
        die("bad batch options");
    char *line = NULL;
    size_t cap = 0;
    bk_wr store;
    bk_wr_init(&store, 4096);
    while (getline(&line, &cap, stdin) != -1) {
        char *tok[3 + 256];
        size_t tl[3 + 256];
        int nt = 0;
        for (char *s = line; *s;) {
            while (*s && isspace((unsigned char)*s))
                s++;
            if (!*s)
                break;
            if (nt == (int)BK_ARRAY_LEN(tok))
                die("too many headers");
            tok[nt] = s;
            while (*s && !isspace((unsigned char)*s))
                s++;
            tl[nt] = (size_t)(s - tok[nt]);
            nt++;
        }
        if (nt == 0)
            continue;
        if (nt < 3)
            die("record line needs: timestamp key value [hkey=hvalue]...");
        bk_wr_reset(&store);
        int64_t ts = strtoll(tok[0], NULL, 0);
        size_t kat, vat;
        int32_t kl = field(tok[1], tl[1], &store, &kat);
        int32_t vl = field(tok[2], tl[2], &store, &vat);
        bk_rec_header hs[256];
        size_t hat[256][2];
        int nh = nt - 3;
        for (int h = 0; h < nh; h++) {
            char *eq = memchr(tok[3 + h], '=', tl[3 + h]);
            if (!eq)
                die("header needs key=value");
            size_t klen = (size_t)(eq - tok[3 + h]);
            hs[h].key_len = field(tok[3 + h], klen, &store, &hat[h][0]);
            hs[h].value_len = field(eq + 1, tl[3 + h] - klen - 1, &store, &hat[h][1]);
            if (hs[h].key_len < 0)
                die("header keys cannot be null");
        }
        if (store.err)
            die("out of memory");
        /* pointers only now: the store may have moved while growing */
        for (int h = 0; h < nh; h++) {
            hs[h].key = store.buf + hat[h][0];
            hs[h].value = store.buf + hat[h][1];
        }
        if (bk_batch_builder_add(&b, ts, store.buf + kat, kl, store.buf + vat, vl, hs, nh) != 0)
            die("builder failed");
    }
    free(line);
    int rc = bk_batch_builder_finish(&b);
    bk_batch_builder_fini(&b);
    if (rc)
        die(bk_strerror(rc));
    put_hex(out.buf + b.start, out.len - b.start);
    putchar('\n');
    bk_wr_fini(&store);
    bk_wr_fini(&out);
    return 0;
}

static int validate(int argc, char **argv)
{
    bk_validate_cfg c;
    bk_validate_cfg_default(&c);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--next-offset"))
            c.next_offset = num_arg(&i, argc, argv);
        else if (!strcmp(a, "--epoch"))
            c.leader_epoch = (int32_t)num_arg(&i, argc, argv);
        else if (!strcmp(a, "--now"))
            c.now_ms = num_arg(&i, argc, argv);
        else if (!strcmp(a, "--log-append"))
            c.timestamp_type = BK_TIMESTAMP_LOG_APPEND;
        else if (!strcmp(a, "--max-message-bytes"))
            c.max_message_bytes = (int32_t)num_arg(&i, argc, argv);
        else if (!strcmp(a, "--multi"))
            c.allow_multi_batch = true;
        else if (!strcmp(a, "--compression")) {
            if (i + 1 < argc && !strcmp(argv[i + 1], "producer")) {
                c.compression = BK_VALIDATE_COMPRESSION_PRODUCER;
                i++;
            } else {
                c.compression = (int)num_arg(&i, argc, argv);
            }
        } else
            die("unknown validate option");
    }
    size_t len;
    uint8_t *in = read_hex_stdin(&len);
    bk_validate_scratch s;
    bk_validate_scratch_init(&s);
    bk_validate_result r;
    int rc = bk_validate_records(in, len, &c, &s, &r);
    printf("{\"rc\":%d,\"error\":%d,\"error_name\":\"%s\",\"error_batch\":%" PRId32
           ",\"first_offset\":%" PRId64 ",\"last_offset\":%" PRId64 ",\"max_timestamp\":%" PRId64
           ",\"offset_of_max_timestamp\":%" PRId64 ",\"log_append_time\":%" PRId64
           ",\"record_count\":%" PRId32 ",\"batch_count\":%" PRId32
           ",\"recompressed\":%s,\"record_errors\":[",
           rc, r.error, bk_kerr_name(r.error), r.error_batch, r.first_offset, r.last_offset,
           r.max_timestamp, r.offset_of_max_timestamp, r.log_append_time, r.record_count,
           r.batch_count, r.recompressed ? "true" : "false");
    for (int32_t i = 0; i < r.n_record_errors && i < BK_VALIDATE_MAX_RECORD_ERRORS; i++)
        printf("%s%" PRId32, i ? "," : "", r.record_errors[i]);
    printf("]}\n");
    if (r.data)
        put_hex(r.data, r.len);
    putchar('\n');
    bk_validate_scratch_fini(&s);
    free(in);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "dump"))
        return dump();
    if (argc >= 2 && !strcmp(argv[1], "build"))
        return build(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "validate"))
        return validate(argc, argv);
    fprintf(stderr, "usage: bkrecords dump | build [opts] | validate [opts]  (hex on stdin)\n");
    return 2;
}
