/*
 * brook dump-log - kafka-dump-log.sh for Brook's (and Kafka's) files.
 *
 *   brook dump-log --files F1[,F2...] [--print-data-log] [--deep-iteration]
 *                  [--index-sanity-check] [--max-bytes N]
 *   brook dump-log F1 F2 ...            (files may also be given bare)
 *
 * .log        every batch with its header fields and CRC validity; with
 *             --print-data-log (or --deep-iteration) every record, its key,
 *             value and headers, decompressing as needed. Bytes after the
 *             last valid batch are reported.
 * .index      offset -> position entries, each checked against the .log
 *             next to it (the position must start a batch holding offsets
 *             up to the entry's offset).
 * .timeindex  timestamp -> offset entries, checked for order and against
 *             the log's offsets.
 * Exit status 1 if any file is unreadable, corrupt, or an index disagrees
 * with its log.
 */
#include "../src/core/buf.h"
#include "../src/proto/records.h"
#include "../src/storage/compress.h"
#include "../src/storage/segment.h"
#include "brook.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct opts {
    bool print_data;
    bool deep;
    bool sanity_only;
    uint64_t max_bytes;
} opts;

typedef struct mapped {
    const uint8_t *p;
    size_t len;
} mapped;

static int map_file(const char *path, mapped *m)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        fprintf(stderr, "brook dump-log: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) == -1) {
        close(fd);
        return -1;
    }
    m->len = (size_t)st.st_size;
    m->p = NULL;
    if (m->len) {
        void *p = mmap(NULL, m->len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            close(fd);
            return -1;
        }
        m->p = p;
    }
    close(fd);
    return 0;
}

static void unmap_file(mapped *m)
{
    if (m->p)
        munmap((void *)m->p, m->len);
}

/* Print bytes as Kafka does for payloads: as text (UTF-8 assumed), with
 * control characters escaped so one record stays on one line. */
static void print_bytes(const uint8_t *p, int32_t len)
{
    if (len < 0) {
        fputs("null", stdout);
        return;
    }
    for (int32_t i = 0; i < len; i++) {
        uint8_t c = p[i];
        if (c == '\n')
            fputs("\\n", stdout);
        else if (c < 0x20 || c == 0x7f)
            printf("\\x%02x", c);
        else
            putchar(c);
    }
}

static int64_t segment_base_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    char *end;
    long long v = strtoll(name, &end, 10);
    if (end == name || (*end != '.' && *end))
        return 0;
    return v;
}

static int dump_records(const bk_batch_info *bi, bk_zctx *z, bk_wr *scratch)
{
    const uint8_t *recs = bi->records;
    size_t rlen = bi->records_len;
    if (bi->compression) {
        bk_wr_reset(scratch);
        int r = bk_decompress(z, bi->compression, bi->records, bi->records_len, scratch,
                              256u << 20);
        if (r) {
            printf("| (cannot decompress: %s)\n", bk_strerror(r));
            return 1;
        }
        recs = scratch->buf;
        rlen = scratch->len;
    }
    bk_rec_iter it;
    bk_rec_iter_init(&it, recs, rlen, bi->record_count);
    bk_record rec;
    int n = 0;
    while (bk_rec_iter_next(&it, &rec)) {
        int64_t off = bi->base_offset + rec.offset_delta;
        printf("| offset: %" PRId64 " %s: %" PRId64 " keySize: %d valueSize: %d sequence: %d "
               "headerKeys: [",
               off, bi->timestamp_type ? "LogAppendTime" : "CreateTime",
               bk_record_timestamp(bi, &rec), rec.key_len, rec.value_len,
               bi->base_sequence < 0 ? -1 : bi->base_sequence + rec.offset_delta);
        bk_hdr_iter hi;
        bk_hdr_iter_init(&hi, &rec);
        bk_rec_header h;
        bool first = true;
        while (bk_hdr_iter_next(&hi, &h)) {
            if (!first)
                fputs(",", stdout);
            print_bytes(h.key, h.key_len);
            first = false;
        }
        fputs("]", stdout);
        if (bi->control) {
            printf(" endTxnMarker: %s", rec.key_len >= 4 && rec.key[3] == 1 ? "COMMIT" : "ABORT");
        } else {
            fputs(" key: ", stdout);
            print_bytes(rec.key, rec.key_len);
            fputs(" payload: ", stdout);
            print_bytes(rec.value, rec.value_len);
        }
        putchar('\n');
        n++;
    }
    if (n != bi->record_count) {
        printf("| (record %d of %d does not parse)\n", n, bi->record_count);
        return 1;
    }
    return 0;
}

static int dump_log(const char *path, const opts *o)
{
    mapped m;
    if (map_file(path, &m))
        return 1;
    printf("Dumping %s\n", path);
    printf("Log starting offset: %" PRId64 "\n", segment_base_of(path));
    bk_zctx z;
    bk_zctx_init(&z);
    bk_wr scratch;
    bk_wr_init(&scratch, 0);
    size_t pos = 0;
    int bad = 0;
    int64_t expect = -1;
    while (pos < m.len && pos < o->max_bytes) {
        bk_batch_info bi;
        int r = bk_batch_check(m.p + pos, m.len - pos, &bi);
        if (r == BK_EAGAIN || (r && m.len - pos < BK_BATCH_HDR)) {
            break; /* torn tail: reported below */
        }
        bool valid = r == 0;
        if (!valid) {
            /* still print what the header says, if it parses */
            if (bk_batch_parse(m.p + pos, m.len - pos, &bi) != 0)
                break;
        }
        int64_t last = bi.base_offset + bi.last_offset_delta;
        printf("baseOffset: %" PRId64 " lastOffset: %" PRId64 " count: %d baseSequence: %d "
               "lastSequence: %d producerId: %" PRId64 " producerEpoch: %d "
               "partitionLeaderEpoch: %d isTransactional: %s isControl: %s position: %zu "
               "%s: %" PRId64 " size: %zu magic: %d compresscodec: %s crc: %" PRIu32
               " isvalid: %s\n",
               bi.base_offset, last, bi.record_count, bi.base_sequence,
               bi.base_sequence < 0 ? -1 : bi.base_sequence + bi.last_offset_delta,
               bi.producer_id, bi.producer_epoch, bi.leader_epoch,
               bi.transactional ? "true" : "false", bi.control ? "true" : "false", pos,
               bi.timestamp_type ? "LogAppendTime" : "CreateTime", bi.max_timestamp, bi.size,
               bi.magic, bk_compression_name(bi.compression), bi.crc, valid ? "true" : "false");
        if (!valid)
            bad = 1;
        if (expect >= 0 && bi.base_offset < expect) {
            printf("(offsets go backwards: %" PRId64 " after %" PRId64 ")\n", bi.base_offset,
                   expect - 1);
            bad = 1;
        }
        expect = last + 1;
        if (valid && (o->print_data || o->deep))
            bad |= dump_records(&bi, &z, &scratch);
        if (bi.size == 0 || bi.size > m.len - pos)
            break;
        pos += bi.size;
    }
    if (pos < m.len && pos < o->max_bytes) {
        printf("Found %zu invalid bytes at the end of %s\n", m.len - pos, path);
        bad = 1;
    }
    bk_wr_fini(&scratch);
    bk_zctx_fini(&z);
    unmap_file(&m);
    return bad;
}

/* The .log next to an index file. */
static int sibling_log(const char *path, const char *ext, mapped *log, char *logpath, size_t cap)
{
    size_t n = strlen(path), e = strlen(ext);
    if (n <= e || n - e + 5 >= cap)
        return -1;
    memcpy(logpath, path, n - e);
    strcpy(logpath + n - e, ".log");
    return map_file(logpath, log);
}

static int dump_index(const char *path, const opts *o)
{
    mapped m, log;
    if (map_file(path, &m))
        return 1;
    char logpath[4096];
    bool have_log = sibling_log(path, ".index", &log, logpath, sizeof logpath) == 0;
    int64_t base = segment_base_of(path);
    printf("Dumping %s\n", path);
    int bad = 0;
    if (m.len % 8) {
        printf("Index file size %zu is not a multiple of 8\n", m.len);
        bad = 1;
    }
    int64_t prev_off = -1;
    uint32_t prev_pos = 0;
    for (size_t i = 0; i + 8 <= m.len; i += 8) {
        uint32_t rel = bk_get_be32(m.p + i), pos = bk_get_be32(m.p + i + 4);
        if (rel == 0 && pos == 0 && i > 0)
            break; /* preallocated tail */
        int64_t off = base + rel;
        if (!o->sanity_only)
            printf("offset: %" PRId64 " position: %" PRIu32 "\n", off, pos);
        if (off <= prev_off || (i > 0 && pos <= prev_pos)) {
            printf("Index entry %zu out of order: offset %" PRId64 " position %" PRIu32 "\n",
                   i / 8, off, pos);
            bad = 1;
        }
        prev_off = off;
        prev_pos = pos;
        if (have_log) {
            bk_batch_info bi;
            if (pos >= log.len || bk_batch_parse(log.p + pos, log.len - pos, &bi) != 0) {
                printf("Index entry offset %" PRId64 " position %" PRIu32
                       " does not point at a batch in %s\n",
                       off, pos, logpath);
                bad = 1;
            } else if (bi.base_offset > off) {
                printf("Index mismatch: offset %" PRId64 " at position %" PRIu32
                       ", but the batch there starts at %" PRId64 "\n",
                       off, pos, bi.base_offset);
                bad = 1;
            }
        }
    }
    if (o->sanity_only)
        printf("%s passed sanity check.\n", path);
    if (have_log)
        unmap_file(&log);
    unmap_file(&m);
    return bad;
}

static int dump_timeindex(const char *path, const opts *o)
{
    mapped m;
    if (map_file(path, &m))
        return 1;
    int64_t base = segment_base_of(path);
    printf("Dumping %s\n", path);
    int bad = 0;
    if (m.len % 12) {
        printf("Time index file size %zu is not a multiple of 12\n", m.len);
        bad = 1;
    }
    int64_t prev_ts = INT64_MIN, prev_off = -1;
    for (size_t i = 0; i + 12 <= m.len; i += 12) {
        int64_t ts = (int64_t)bk_get_be64(m.p + i);
        uint32_t rel = bk_get_be32(m.p + i + 8);
        if (ts == 0 && rel == 0 && i > 0)
            break;
        if (!o->sanity_only)
            printf("timestamp: %" PRId64 " offset: %" PRId64 "\n", ts, base + rel);
        if (ts <= prev_ts || (int64_t)(base + rel) < prev_off) {
            printf("Time index entry %zu out of order: timestamp %" PRId64 " offset %" PRId64
                   "\n",
                   i / 12, ts, base + rel);
            bad = 1;
        }
        prev_ts = ts;
        prev_off = base + rel;
    }
    if (o->sanity_only)
        printf("%s passed sanity check.\n", path);
    unmap_file(&m);
    return bad;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static void help(FILE *f)
{
    fprintf(f,
            "usage: brook dump-log --files FILE[,FILE...] [options]\n"
            "  --files FILES          comma-separated .log, .index or .timeindex files\n"
            "                         (files may also be given without --files)\n"
            "  --print-data-log       print every record's key, value and headers\n"
            "  --deep-iteration       iterate records inside (compressed) batches\n"
            "  --index-sanity-check   only check the index files, do not print entries\n"
            "  --max-bytes N          stop reading a .log after N bytes\n");
}

int bk_cmd_dump_log(int argc, char **argv)
{
    opts o = {.max_bytes = UINT64_MAX};
    char **files = calloc((size_t)argc + 64, sizeof *files);
    char *owned[64];
    int nowned = 0;
    int nfiles = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            help(stdout);
            free(files);
            return 0;
        } else if (strcmp(a, "--print-data-log") == 0) {
            o.print_data = true;
        } else if (strcmp(a, "--deep-iteration") == 0) {
            o.deep = true;
        } else if (strcmp(a, "--index-sanity-check") == 0 || strcmp(a, "--verify-index-only") == 0) {
            o.sanity_only = true;
        } else if (strcmp(a, "--max-bytes") == 0 && i + 1 < argc) {
            o.max_bytes = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(a, "--files") == 0 && i + 1 < argc) {
            char *list = strdup(argv[++i]);
            if (nowned < 64)
                owned[nowned++] = list;
            for (char *tok = strtok(list, ","); tok && nfiles < argc + 63; tok = strtok(NULL, ","))
                files[nfiles++] = tok;
        } else if (a[0] == '-') {
            fprintf(stderr, "brook dump-log: unknown option %s\n", a);
            help(stderr);
            free(files);
            return 2;
        } else {
            files[nfiles++] = argv[i];
        }
    }
    if (nfiles == 0) {
        fprintf(stderr, "brook dump-log: no files given (--files)\n");
        help(stderr);
        free(files);
        return 2;
    }
    int bad = 0;
    for (int i = 0; i < nfiles; i++) {
        const char *f = files[i];
        if (ends_with(f, ".log"))
            bad |= dump_log(f, &o);
        else if (ends_with(f, ".index"))
            bad |= dump_index(f, &o);
        else if (ends_with(f, ".timeindex"))
            bad |= dump_timeindex(f, &o);
        else {
            fprintf(stderr, "brook dump-log: %s: not a .log, .index or .timeindex file\n", f);
            bad = 1;
        }
    }
    for (int i = 0; i < nowned; i++)
        free(owned[i]);
    free(files);
    return bad;
}
