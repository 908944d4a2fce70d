/*
 * dataplane_test.c - Produce, Fetch, ListOffsets, DeleteRecords and
 * OffsetForLeaderEpoch through the real stack: requests encoded with the
 * generated codec are written into a socketpair, the event loop runs
 * net/conn + broker + purgatory + storage in a temp dir, and the answers
 * are decoded again. Covers the fetch size rules (KIP-74), long polling on
 * the loop's timers, wake-up by a produce on another connection, and
 * cleanup when a parked connection goes away.
 */
#include "../../tests/unit.h"
#include "../core/clock.h"
#include "../core/log.h"
#include "../storage/compress.h"
#include "../storage/fileio.h"
#include "api_table.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include "../storage/bio.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct harness {
    char root[64];
    bk_config cfg;
    bk_logmgr *lm;
    bk_topics *topics;
    bk_ev ev;
    bk_conns cs;
    bk_broker b;
    int32_t corr;
    bk_arena arena; /* decoded responses */
    uint8_t *rbuf;  /* the last response frame */
} harness;

static int h_connect(harness *h)
{
    int sv[2];
    BK_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    struct sockaddr_storage ss = {.ss_family = AF_UNIX};
    BK_CHECK(bk_conn_accept(&h->cs, sv[1], &ss, sizeof(sa_family_t), "TEST") == 0);
    return sv[0];
}

static void h_setup(harness *h)
{
    memset(h, 0, sizeof *h);
    snprintf(h->root, sizeof h->root, "/tmp/bk-dataplane-XXXXXX");
    BK_CHECK(mkdtemp(h->root) != NULL);
    char err[256], kv[128];
    BK_CHECK(bk_config_init(&h->cfg) == 0);
    snprintf(kv, sizeof kv, "log.dirs=%s", h->root);
    BK_CHECK(bk_config_override(&h->cfg, kv, err, sizeof err) == 0);
    BK_CHECK(bk_config_finish(&h->cfg, err, sizeof err) == 0);
    const char *dirs[1] = {h->root};
    bk_logmgr_cfg lc;
    bk_logmgr_cfg_defaults(&lc);
    lc.dirs = dirs;
    lc.ndirs = 1;
    BK_CHECK(bk_logmgr_open(&h->lm, &lc, bk_wall_ms_raw(), NULL, err, sizeof err) == 0);
    BK_CHECK(bk_topics_open(&h->topics, &h->cfg, h->lm, h->root, 0, err, sizeof err) == 0);
    int16_t kerr;
    char msg[128];
    BK_CHECK(bk_topics_create(h->topics, "t", 1, 2, 1, NULL, 0, false, &kerr, msg, sizeof msg) ==
             0);
    BK_CHECK(bk_ev_init(&h->ev) == 0);
    BK_CHECK(bk_broker_init(&h->b, &h->cfg, 0, "test-cluster") == 0);
    bk_broker_start(&h->b, &h->ev, h->lm, h->topics);
    bk_conn_opts o = {.max_request_bytes = 100 << 20,
                      .idle_ms = -1,
                      .out_high_water = 1 << 20,
                      .on_request = bk_broker_on_request,
                      .on_cancel = bk_broker_on_cancel,
                      .ud = &h->b};
    bk_conns_init(&h->cs, &h->ev, &o);
    bk_arena_init(&h->arena, 0);
    h->corr = 1;
}

static void h_teardown(harness *h)
{
    bk_broker_complete_delayed(&h->b);
    bk_conns_close_all(&h->cs);
    bk_broker_fini(&h->b);
    bk_topics_close(h->topics);
    BK_CHECK(bk_logmgr_close(h->lm) == 0);
    bk_ev_fini(&h->ev);
    bk_config_fini(&h->cfg);
    bk_arena_fini(&h->arena);
    free(h->rbuf);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", h->root);
    BK_CHECK(system(cmd) == 0);
}

static void pump(harness *h, int rounds)
{
    for (int i = 0; i < rounds; i++) {
        bk_ev_run_once(&h->ev, 2);
        bk_bio_drain(); /* background flushes, when bio threads run */
    }
}

/* Encode and write one request; returns its correlation id. */
static int32_t send_req(harness *h, int fd, int16_t key, int16_t ver, const bk_msginfo *mi,
                        const void *m)
{
    bk_wr w;
    bk_wr_init(&w, 1024);
    int32_t corr = h->corr++;
    bk_wr_i32(&w, 0);
    bk_wr_i16(&w, key);
    bk_wr_i16(&w, ver);
    bk_wr_i32(&w, corr);
    bk_wr_i16(&w, 4);
    bk_wr_mem(&w, "test", 4);
    bool flex = BK_V_IN(mi->flexible, ver);
    if (bk_reqhdr_version(key, ver) >= 2)
        bk_wr_uvarint(&w, 0);
    BK_CHECK(bk_codec_encode(mi->desc, flex, ver, &w, m) == 0);
    bk_wr_patch_i32(&w, 0, (int32_t)(w.len - 4));
    size_t off = 0;
    while (off < w.len) {
        ssize_t n = write(fd, w.buf + off, w.len - off);
        if (n > 0)
            off += (size_t)n;
        else
            pump(h, 1);
    }
    bk_wr_fini(&w);
    return corr;
}

/*
 * Run the loop until a whole response is readable on fd (or wait_ms
 * passed: returns false). Decodes it into out (arena memory, records
 * borrowed from h->rbuf).
 */
static bool recv_resp(harness *h, int fd, int16_t key, int16_t ver, int32_t corr,
                      const bk_msginfo *mi, void *out, int wait_ms)
{
    uint8_t hdr[4];
    size_t got = 0, need = 4;
    uint8_t *buf = hdr;
    int64_t end = bk_mono_ms_raw() + wait_ms;
    while (got < need) {
        ssize_t n = read(fd, buf + got, need - got);
        if (n > 0) {
            got += (size_t)n;
            if (buf == hdr && got == 4) {
                need = bk_get_be32(hdr);
                free(h->rbuf);
                h->rbuf = malloc(need);
                buf = h->rbuf;
                got = 0;
            }
            continue;
        }
        if (n == 0 || (n == -1 && errno != EAGAIN))
            return false;
        if (bk_mono_ms_raw() >= end)
            return false;
        pump(h, 1);
    }
    bk_rd rd;
    bk_rd_init(&rd, h->rbuf, need);
    BK_CHECK(bk_rd_i32(&rd) == corr);
    if (bk_resphdr_version(key, ver) >= 1)
        BK_CHECK(bk_rd_uvarint(&rd) == 0);
    bk_codec_init(mi->desc, out);
    int rc = bk_codec_decode(mi->desc, BK_V_IN(mi->flexible, ver), ver, &rd, &h->arena, out);
    BK_CHECK(rc == 0 && bk_rd_left(&rd) == 0);
    return rc == 0;
}

/* A batch of n records with timestamps ts0, ts0+1, ... and `pad` bytes values. */
static void make_batch(bk_wr *w, int n, int64_t ts0, size_t pad, int codec)
{
    bk_batch_opts o = BK_BATCH_OPTS_DEFAULT;
    o.compression = codec;
    o.compress = bk_compress;
    bk_batch_builder bb;
    BK_CHECK(bk_batch_builder_init(&bb, w, &o) == 0);
    char *val = malloc(pad + 1);
    memset(val, 'v', pad);
    for (int i = 0; i < n; i++) {
        char key[16];
        int kl = snprintf(key, sizeof key, "k%d", i);
        BK_CHECK(bk_batch_builder_add(&bb, ts0 + i, key, kl, val, (int32_t)pad, NULL, 0) == 0);
    }
    BK_CHECK(bk_batch_builder_finish(&bb) == 0);
    bk_batch_builder_fini(&bb);
    free(val);
}

/* Produce one batch to t/part; returns the ErrorCode, *base the BaseOffset. */
static int16_t produce(harness *h, int fd, int16_t ver, const char *topic, int32_t part,
                       const uint8_t *data, size_t len, int16_t acks, int64_t *base)
{
    bk_ProduceRequest rq;
    bk_ProduceRequest_init(&rq);
    bk_ProduceRequest_PartitionProduceData pd = {.Index = part};
    pd.Records = (bk_records){data, (int32_t)len, -1, 0};
    bk_ProduceRequest_TopicProduceData td = {.Name = bk_str_c(topic)};
    td.PartitionData.n = 1;
    td.PartitionData.a = &pd;
    rq.Acks = acks;
    rq.TimeoutMs = 1000;
    rq.TopicData.n = 1;
    rq.TopicData.a = &td;
    int32_t corr = send_req(h, fd, 0, ver, &bk_msg_ProduceRequest, &rq);
    bk_ProduceResponse rs;
    if (!recv_resp(h, fd, 0, ver, corr, &bk_msg_ProduceResponse, &rs, 2000))
        return -100;
    BK_CHECK(rs.Responses.n == 1 && rs.Responses.a[0].PartitionResponses.n == 1);
    const bk_ProduceResponse_PartitionProduceResponse *pr =
        &rs.Responses.a[0].PartitionResponses.a[0];
    if (base)
        *base = pr->BaseOffset;
    return pr->ErrorCode;
}

typedef struct fpart {
    int32_t part;
    int64_t offset;
    int32_t max;
} fpart;

/* Send a Fetch v12 for topic t. */
static int32_t fetch_send(harness *h, int fd, const fpart *ps, int n, int32_t max_bytes,
                          int32_t min_bytes, int32_t max_wait, int32_t session_epoch)
{
    bk_FetchRequest rq;
    bk_FetchRequest_init(&rq);
    bk_FetchRequest_FetchPartition fp[4];
    for (int i = 0; i < n; i++) {
        bk_codec_init(&bk_desc_FetchRequest_FetchPartition, &fp[i]);
        fp[i].Partition = ps[i].part;
        fp[i].FetchOffset = ps[i].offset;
        fp[i].PartitionMaxBytes = ps[i].max;
        fp[i].CurrentLeaderEpoch = -1;
    }
    bk_FetchRequest_FetchTopic ft;
    bk_codec_init(&bk_desc_FetchRequest_FetchTopic, &ft);
    ft.Topic = bk_str_c("t");
    ft.Partitions.n = n;
    ft.Partitions.a = fp;
    rq.ReplicaId = -1;
    rq.MaxWaitMs = max_wait;
    rq.MinBytes = min_bytes;
    rq.MaxBytes = max_bytes;
    rq.IsolationLevel = 1;
    rq.SessionId = 0;
    rq.SessionEpoch = session_epoch;
    rq.Topics.n = 1;
    rq.Topics.a = &ft;
    return send_req(h, fd, 1, 12, &bk_msg_FetchRequest, &rq);
}

/* Batches in a records blob. */
static int count_batches(const bk_records *r)
{
    int n = 0;
    size_t at = 0;
    while (r->len > 0 && at < (size_t)r->len) {
        bk_batch_info bi;
        if (bk_batch_parse(r->p + at, (size_t)r->len - at, &bi) != 0)
            return -1;
        at += bi.size;
        n++;
    }
    return n;
}

static const bk_FetchResponse_PartitionData *fpd(const bk_FetchResponse *rs, int i)
{
    return &rs->Responses.a[0].Partitions.a[i];
}

void bk_test_dataplane(void);
void bk_test_dataplane(void)
{
    harness h;
    h_setup(&h);
    int c1 = h_connect(&h), c2 = h_connect(&h);
    bk_wr w;
    bk_wr_init(&w, 0);
    int64_t base = -2;
    int64_t now = bk_wall_ms_raw();

    BK_TEST("produce: three batches get consecutive offsets; errors per partition");
    size_t bsize = 0;
    for (int i = 0; i < 3; i++) {
        bk_wr_reset(&w);
        make_batch(&w, 5, now + 10 * i, 200, BK_COMPRESSION_NONE);
        bsize = w.len;
        BK_CHECK(produce(&h, c1, 9, "t", 0, w.buf, w.len, 1, &base) == 0 && base == 5 * i);
    }
    bk_wr_reset(&w);
    make_batch(&w, 5, now, 200, BK_COMPRESSION_NONE);
    BK_CHECK(produce(&h, c1, 11, "nope", 0, w.buf, w.len, -1, &base) ==
                 BK_KERR_UNKNOWN_TOPIC_OR_PARTITION &&
             base == -1);
    BK_CHECK(produce(&h, c1, 9, "t", 7, w.buf, w.len, 1, NULL) ==
             BK_KERR_UNKNOWN_TOPIC_OR_PARTITION);
    BK_CHECK(produce(&h, c1, 9, "t", 0, w.buf, w.len, 2, NULL) == BK_KERR_INVALID_REQUIRED_ACKS);
    BK_CHECK(produce(&h, c1, 2, "t", 0, w.buf, w.len, 1, NULL) == BK_KERR_UNSUPPORTED_VERSION);
    w.buf[w.len - 1] ^= 0x55; /* inside the CRC span */
    BK_CHECK(produce(&h, c1, 9, "t", 0, w.buf, w.len, 1, NULL) == BK_KERR_CORRUPT_MESSAGE);
    bk_wr_reset(&w);
    make_batch(&w, 3, now, 100, BK_COMPRESSION_NONE);
    BK_CHECK(produce(&h, c1, 9, "t", 1, w.buf, w.len, -1, &base) == 0 && base == 0);
    size_t small = w.len;
    bk_plog *l0 = bk_topics_partition(h.topics, "t", 1, 0)->log;
    BK_CHECK(bk_plog_leo(l0) == 15 && l0->hw == 15);

    BK_TEST("fetch: the first batch is returned whole even over both limits (KIP-74)");
    bk_FetchResponse rs;
    fpart ps[2] = {{0, 0, 1}, {1, 0, 1 << 20}};
    int32_t corr = fetch_send(&h, c1, ps, 2, 1, 1, 0, -1);
    BK_CHECK(recv_resp(&h, c1, 1, 12, corr, &bk_msg_FetchResponse, &rs, 2000));
    BK_CHECK(rs.ErrorCode == 0 && rs.SessionId == 0 && rs.Responses.n == 1);
    BK_CHECK(fpd(&rs, 0)->ErrorCode == 0 && fpd(&rs, 0)->HighWatermark == 15);
    BK_CHECK(fpd(&rs, 0)->LastStableOffset == 15 && fpd(&rs, 0)->LogStartOffset == 0);
    BK_CHECK(fpd(&rs, 0)->Records.len == (int32_t)bsize &&
             count_batches(&fpd(&rs, 0)->Records) == 1);
    BK_CHECK(fpd(&rs, 0)->AbortedTransactions.n == 0); /* read_committed: empty, not null */
    BK_CHECK(fpd(&rs, 0)->PreferredReadReplica == -1);
    /* the response limit is used up: the second partition gets nothing */
    BK_CHECK(fpd(&rs, 1)->ErrorCode == 0 && fpd(&rs, 1)->Records.len == 0);
    BK_CHECK(fpd(&rs, 1)->HighWatermark == 3);

    BK_TEST("fetch: partition and response limits are hard after the first batch");
    ps[0] = (fpart){0, 0, (int32_t)(bsize * 5 / 2)};
    ps[1] = (fpart){1, 0, 1 << 20};
    corr = fetch_send(&h, c1, ps, 2, 1 << 20, 1, 0, -1);
    BK_CHECK(recv_resp(&h, c1, 1, 12, corr, &bk_msg_FetchResponse, &rs, 2000));
    BK_CHECK(count_batches(&fpd(&rs, 0)->Records) == 2);
    BK_CHECK(count_batches(&fpd(&rs, 1)->Records) == 1 &&
             fpd(&rs, 1)->Records.len == (int32_t)small);
    ps[0] = (fpart){0, 5, 1 << 20};
    corr = fetch_send(&h, c1, ps, 2, (int32_t)(bsize + small / 2), 1, 0, -1);
    BK_CHECK(recv_resp(&h, c1, 1, 12, corr, &bk_msg_FetchResponse, &rs, 2000));
    BK_CHECK(count_batches(&fpd(&rs, 0)->Records) == 1); /* 1.x batches fit: one whole */
    BK_CHECK(fpd(&rs, 1)->Records.len == 0);             /* half of one left: none */
    /* a fetch from the middle of a batch starts at that batch */
    ps[0] = (fpart){0, 7, 1 << 20};
    corr = fetch_send(&h, c1, ps, 1, 1 << 20, 1, 0, -1);
    BK_CHECK(recv_resp(&h, c1, 1, 12, corr, &bk_msg_FetchResponse, &rs, 2000));
    BK_CHECK(count_batches(&fpd(&rs, 0)->Records) == 2 &&
             bk_batch_base_offset(fpd(&rs, 0)->Records.p) == 5);

    BK_TEST("fetch: offset out of range; incremental sessions are refused");
    ps[0] = (fpart){0, 16, 1 << 20};
    corr = fetch_send(&h, c1, ps, 1, 1 << 20, 1, 0, -1);
    BK_CHECK(recv_resp(&h, c1, 1, 12, corr, &bk_msg_FetchResponse, &rs, 2000));
    BK_CHECK(fpd(&rs, 0)->ErrorCode == BK_KERR_OFFSET_OUT_OF_RANGE);
    BK_CHECK(fpd(&rs, 0)->HighWatermark == -1 && fpd(&rs, 0)->Records.len == 0);
    corr = fetch_send(&h, c1, ps, 1, 1 << 20, 1, 0, 3);
    BK_CHECK(recv_resp(&h, c1, 1, 12, corr, &bk_msg_FetchResponse, &rs, 2000));
    BK_CHECK(rs.ErrorCode == BK_KERR_FETCH_SESSION_ID_NOT_FOUND && rs.Responses.n == 0);

    BK_TEST("fetch: long poll expires after MaxWaitMs with nothing");
    ps[0] = (fpart){0, 15, 1 << 20};
    ps[1] = (fpart){1, 3, 1 << 20};
    int64_t t0 = bk_mono_ms_raw();
    corr = fetch_send(&h, c1, ps, 2, 1 << 20, 1, 150, -1);
    BK_CHECK(recv_resp(&h, c1, 1, 12, corr, &bk_msg_FetchResponse, &rs, 3000));
    int64_t took = bk_mono_ms_raw() - t0;
    BK_CHECK(took >= 140 && took < 2000);
    BK_CHECK(fpd(&rs, 0)->Records.len == 0 && fpd(&rs, 1)->Records.len == 0);
    BK_CHECK(h.b.purg.nparked == 0 && h.b.purg.expired == 1);

    BK_TEST("fetch: a produce on another connection wakes a long poll at once");
    corr = fetch_send(&h, c1, ps, 2, 1 << 20, 1, 10000, -1);
    pump(&h, 5);
    BK_CHECK(h.b.purg.nparked == 1);
    t0 = bk_mono_ms_raw();
    bk_wr_reset(&w);
    make_batch(&w, 2, now, 10, BK_COMPRESSION_NONE);
    BK_CHECK(produce(&h, c2, 9, "t", 1, w.buf, w.len, 1, &base) == 0 && base == 3);
    BK_CHECK(recv_resp(&h, c1, 1, 12, corr, &bk_msg_FetchResponse, &rs, 3000));
    BK_CHECK(bk_mono_ms_raw() - t0 < 2000);
    BK_CHECK(fpd(&rs, 0)->Records.len == 0 && count_batches(&fpd(&rs, 1)->Records) == 1);
    BK_CHECK(fpd(&rs, 1)->HighWatermark == 5 && h.b.purg.nparked == 0);

    BK_TEST("fetch: MinBytes above one batch waits for more");
    ps[1] = (fpart){1, 5, 1 << 20};
    corr = fetch_send(&h, c1, ps, 2, 1 << 20, (int32_t)(w.len * 2 - 1), 10000, -1);
    pump(&h, 3);
    BK_CHECK(produce(&h, c2, 9, "t", 1, w.buf, w.len, 1, NULL) == 0);
    pump(&h, 10);
    BK_CHECK(h.b.purg.nparked == 1); /* one batch is not enough */
    BK_CHECK(produce(&h, c2, 9, "t", 1, w.buf, w.len, 1, NULL) == 0);
    BK_CHECK(recv_resp(&h, c1, 1, 12, corr, &bk_msg_FetchResponse, &rs, 3000));
    BK_CHECK(count_batches(&fpd(&rs, 1)->Records) == 2);

    BK_TEST("fetch: a parked request whose connection closes is cleaned up");
    ps[1] = (fpart){1, 9, 1 << 20};
    int c3 = h_connect(&h);
    int nconns = h.cs.n;
    (void)fetch_send(&h, c3, ps, 2, 1 << 20, 1, 60000, -1);
    pump(&h, 5);
    BK_CHECK(h.b.purg.nparked == 1);
    close(c3);
    for (int i = 0; i < 50 && h.cs.n == nconns; i++)
        pump(&h, 1);
    BK_CHECK(h.b.purg.nparked == 0 && h.cs.n == nconns - 1);

    BK_TEST("list offsets: earliest, latest, max timestamp, exact record by timestamp");
    bk_wr_reset(&w);
    make_batch(&w, 10, now + 1000, 50, BK_COMPRESSION_GZIP); /* offsets 15..24 */
    BK_CHECK(produce(&h, c1, 9, "t", 0, w.buf, w.len, 1, &base) == 0 && base == 15);
    /* batches: offsets 0-4 at now+0..4, 5-9 at now+10..14, 10-14 at now+20..24,
     * 15-24 (gzip) at now+1000..1009 */
    int64_t tss[7] = {-2, -1, -3, now + 1003, now + 12, now + 15, now + 99999};
    int64_t want_off[7] = {0, 25, 24, 18, 7, 10, -1};
    int64_t want_ts[7] = {-1, -1, now + 1009, now + 1003, now + 12, now + 20, -1};
    for (int i = 0; i < 7; i++) {
        bk_ListOffsetsRequest lq;
        bk_ListOffsetsRequest_init(&lq);
        bk_ListOffsetsRequest_ListOffsetsPartition lp;
        bk_codec_init(&bk_desc_ListOffsetsRequest_ListOffsetsPartition, &lp);
        lp.PartitionIndex = 0;
        lp.Timestamp = tss[i];
        lp.CurrentLeaderEpoch = -1;
        bk_ListOffsetsRequest_ListOffsetsTopic lt = {.Name = bk_str_c("t")};
        lt.Partitions.n = 1;
        lt.Partitions.a = &lp;
        lq.ReplicaId = -1;
        lq.Topics.n = 1;
        lq.Topics.a = &lt;
        corr = send_req(&h, c1, 2, 7, &bk_msg_ListOffsetsRequest, &lq);
        bk_ListOffsetsResponse lr;
        BK_CHECK(recv_resp(&h, c1, 2, 7, corr, &bk_msg_ListOffsetsResponse, &lr, 2000));
        const bk_ListOffsetsResponse_ListOffsetsPartitionResponse *r =
            &lr.Topics.a[0].Partitions.a[0];
        BK_CHECK(r->ErrorCode == 0);
        BK_CHECK(r->Offset == want_off[i]);
        BK_CHECK(r->Timestamp == want_ts[i]);
        BK_CHECK(r->LeaderEpoch == (want_off[i] >= 0 ? 0 : -1));
    }

    BK_TEST("delete records: moves the log start; beyond the HW is out of range");
    for (int i = 0; i < 2; i++) {
        bk_DeleteRecordsRequest dq;
        bk_DeleteRecordsRequest_init(&dq);
        bk_DeleteRecordsRequest_DeleteRecordsPartition dp = {0, i == 0 ? 7 : 26};
        bk_DeleteRecordsRequest_DeleteRecordsTopic dt = {.Name = bk_str_c("t")};
        dt.Partitions.n = 1;
        dt.Partitions.a = &dp;
        dq.Topics.n = 1;
        dq.Topics.a = &dt;
        corr = send_req(&h, c1, 21, 2, &bk_msg_DeleteRecordsRequest, &dq);
        bk_DeleteRecordsResponse dr;
        BK_CHECK(recv_resp(&h, c1, 21, 2, corr, &bk_msg_DeleteRecordsResponse, &dr, 2000));
        const bk_DeleteRecordsResponse_DeleteRecordsPartitionResult *r =
            &dr.Topics.a[0].Partitions.a[0];
        if (i == 0)
            BK_CHECK(r->ErrorCode == 0 && r->LowWatermark == 7);
        else
            BK_CHECK(r->ErrorCode == BK_KERR_OFFSET_OUT_OF_RANGE && r->LowWatermark == -1);
    }
    ps[0] = (fpart){0, 3, 1 << 20};
    corr = fetch_send(&h, c1, ps, 1, 1 << 20, 1, 0, -1);
    BK_CHECK(recv_resp(&h, c1, 1, 12, corr, &bk_msg_FetchResponse, &rs, 2000));
    BK_CHECK(fpd(&rs, 0)->ErrorCode == BK_KERR_OFFSET_OUT_OF_RANGE);

    BK_TEST("offset for leader epoch: current epoch ends at the LEO, a newer one is unknown");
    for (int i = 0; i < 2; i++) {
        bk_OffsetForLeaderEpochRequest oq;
        bk_OffsetForLeaderEpochRequest_init(&oq);
        bk_OffsetForLeaderEpochRequest_OffsetForLeaderPartition op = {0, -1, i};
        bk_OffsetForLeaderEpochRequest_OffsetForLeaderTopic ot = {.Topic = bk_str_c("t")};
        ot.Partitions.n = 1;
        ot.Partitions.a = &op;
        oq.ReplicaId = -1;
        oq.Topics.n = 1;
        oq.Topics.a = &ot;
        corr = send_req(&h, c1, 23, 4, &bk_msg_OffsetForLeaderEpochRequest, &oq);
        bk_OffsetForLeaderEpochResponse orr;
        BK_CHECK(recv_resp(&h, c1, 23, 4, corr, &bk_msg_OffsetForLeaderEpochResponse, &orr, 2000));
        const bk_OffsetForLeaderEpochResponse_EpochEndOffset *r = &orr.Topics.a[0].Partitions.a[0];
        BK_CHECK(r->ErrorCode == 0);
        BK_CHECK(i == 0 ? (r->LeaderEpoch == 0 && r->EndOffset == 25)
                        : (r->LeaderEpoch == -1 && r->EndOffset == -1));
    }

    BK_TEST("fetch: record ranges are sent from duplicated descriptors, closed once sent");
    int fds_before = fcntl(0, F_DUPFD, 0);
    close(fds_before);
    ps[0] = (fpart){0, 7, 1 << 20};
    ps[1] = (fpart){1, 0, 1 << 20};
    corr = fetch_send(&h, c1, ps, 2, 1 << 20, 1, 0, -1);
    BK_CHECK(recv_resp(&h, c1, 1, 12, corr, &bk_msg_FetchResponse, &rs, 2000));
    BK_CHECK(fpd(&rs, 0)->Records.len > 0 && fpd(&rs, 1)->Records.len > 0);
    int fds_after = fcntl(0, F_DUPFD, 0);
    close(fds_after);
    BK_CHECK(fds_after == fds_before); /* no descriptor leaked */

    BK_TEST("produce: ENOSPC rejects the write, the log stays writable; EIO takes it offline");
    bk_plog *l1 = bk_topics_partition(h.topics, "t", 1, 1)->log;
    int64_t leo1 = bk_plog_leo(l1);
    bk_wr_reset(&w);
    make_batch(&w, 2, now, 10, BK_COMPRESSION_NONE);
    int level = bk_log_get_level();
    bk_log_set_level(BK_LOG_OFF); /* the failures below are expected */
    bk_io = &bk_fault_io;
    bk_fault_reset();
    bk_fault_cfg fc = {.fail_write_after = 1, .write_errno = ENOSPC};
    bk_fault_set(&fc);
    BK_CHECK(produce(&h, c1, 9, "t", 1, w.buf, w.len, 1, &base) == BK_KERR_KAFKA_STORAGE_ERROR &&
             base == -1);
    BK_CHECK(!l1->offline && bk_plog_leo(l1) == leo1);
    bk_fault_reset();
    BK_CHECK(produce(&h, c1, 9, "t", 1, w.buf, w.len, 1, &base) == 0 && base == leo1);
    /* v3 predates KAFKA_STORAGE_ERROR: Kafka maps it to NOT_LEADER_OR_FOLLOWER */
    fc = (bk_fault_cfg){.fail_write_after = 1, .write_errno = ENOSPC};
    bk_fault_set(&fc);
    BK_CHECK(produce(&h, c1, 3, "t", 1, w.buf, w.len, 1, NULL) == BK_KERR_NOT_LEADER_OR_FOLLOWER);
    fc = (bk_fault_cfg){.fail_write_after = 1, .write_errno = EIO};
    bk_fault_set(&fc);
    BK_CHECK(produce(&h, c1, 9, "t", 1, w.buf, w.len, 1, NULL) == BK_KERR_KAFKA_STORAGE_ERROR);
    BK_CHECK(l1->offline);
    bk_fault_reset();
    BK_CHECK(produce(&h, c1, 9, "t", 1, w.buf, w.len, 1, NULL) == BK_KERR_KAFKA_STORAGE_ERROR);
    bk_io = &bk_posix_io;
    bk_log_set_level(level);
    ps[0] = (fpart){1, leo1, 1 << 20}; /* reads keep working */
    corr = fetch_send(&h, c1, ps, 1, 1 << 20, 1, 0, -1);
    BK_CHECK(recv_resp(&h, c1, 1, 12, corr, &bk_msg_FetchResponse, &rs, 2000));
    BK_CHECK(fpd(&rs, 0)->ErrorCode == 0 && count_batches(&fpd(&rs, 0)->Records) == 1);

    BK_TEST("produce acks=0: no answer; a failure closes the connection");
    {
        bk_ProduceRequest rq;
        bk_ProduceRequest_init(&rq);
        bk_ProduceRequest_PartitionProduceData pd = {.Index = 0};
        pd.Records = (bk_records){w.buf, (int32_t)w.len, -1, 0};
        bk_ProduceRequest_TopicProduceData td = {.Name = bk_str_c("t")};
        td.PartitionData.n = 1;
        td.PartitionData.a = &pd;
        rq.Acks = 0;
        rq.TopicData.n = 1;
        rq.TopicData.a = &td;
        int64_t leo0 = bk_plog_leo(l0);
        (void)send_req(&h, c1, 0, 9, &bk_msg_ProduceRequest, &rq);
        /* the next request's answer is the first thing that comes back */
        ps[0] = (fpart){0, leo0, 1 << 20};
        corr = fetch_send(&h, c1, ps, 1, 1 << 20, 1, 0, -1);
        BK_CHECK(recv_resp(&h, c1, 1, 12, corr, &bk_msg_FetchResponse, &rs, 2000));
        BK_CHECK(count_batches(&fpd(&rs, 0)->Records) == 1 && bk_plog_leo(l0) == leo0 + 2);
        td.Name = bk_str_c("nope");
        (void)send_req(&h, c1, 0, 9, &bk_msg_ProduceRequest, &rq);
        uint8_t junk[64];
        ssize_t n = -1;
        for (int i = 0; i < 100 && n != 0; i++) {
            pump(&h, 1);
            n = read(c1, junk, sizeof junk);
        }
        BK_CHECK(n == 0); /* closed by the broker */
    }

    BK_TEST("every advertised version of the data-plane APIs answers");
    close(c1);
    c1 = h_connect(&h); /* the broker closed the last one */
    {
        bk_topic *tt = bk_topics_get(h.topics, "t", 1);
        for (int16_t v = 3; v <= 11; v++) {
            bk_wr_reset(&w);
            make_batch(&w, 1, now, 5, v >= 7 ? BK_COMPRESSION_ZSTD : BK_COMPRESSION_LZ4);
            int16_t e = produce(&h, c1, v, "t", 0, w.buf, w.len, -1, &base);
            BK_CHECK(e == 0 && base > 0);
        }
        for (int16_t v = 4; v <= 17; v++) {
            bk_FetchRequest rq;
            bk_FetchRequest_init(&rq);
            bk_FetchRequest_FetchPartition fp;
            bk_codec_init(&bk_desc_FetchRequest_FetchPartition, &fp);
            fp.Partition = 0;
            fp.FetchOffset = 7;
            fp.PartitionMaxBytes = 1 << 20;
            bk_FetchRequest_FetchTopic ft;
            bk_codec_init(&bk_desc_FetchRequest_FetchTopic, &ft);
            if (v >= 13)
                ft.TopicId = tt->id;
            else
                ft.Topic = bk_str_c("t");
            ft.Partitions.n = 1;
            ft.Partitions.a = &fp;
            if (v < 15)
                rq.ReplicaId = -1;
            rq.MaxBytes = 1 << 20;
            rq.MinBytes = 1;
            rq.SessionEpoch = -1;
            rq.Topics.n = 1;
            rq.Topics.a = &ft;
            corr = send_req(&h, c1, 1, v, &bk_msg_FetchRequest, &rq);
            BK_CHECK(recv_resp(&h, c1, 1, v, corr, &bk_msg_FetchResponse, &rs, 2000));
            BK_CHECK(rs.Responses.n == 1 && fpd(&rs, 0)->ErrorCode == 0);
            BK_CHECK(count_batches(&fpd(&rs, 0)->Records) >= 1);
            BK_CHECK(bk_batch_base_offset(fpd(&rs, 0)->Records.p) == 5);
            if (v >= 13) {
                BK_CHECK(memcmp(rs.Responses.a[0].TopicId.b, tt->id.b, 16) == 0);
                ft.TopicId.b[0] ^= 1; /* unknown id */
                corr = send_req(&h, c1, 1, v, &bk_msg_FetchRequest, &rq);
                BK_CHECK(recv_resp(&h, c1, 1, v, corr, &bk_msg_FetchResponse, &rs, 2000));
                BK_CHECK(fpd(&rs, 0)->ErrorCode == BK_KERR_UNKNOWN_TOPIC_ID);
            }
        }
        for (int16_t v = 0; v <= 9; v++) {
            bk_ListOffsetsRequest lq;
            bk_ListOffsetsRequest_init(&lq);
            bk_ListOffsetsRequest_ListOffsetsPartition lp;
            bk_codec_init(&bk_desc_ListOffsetsRequest_ListOffsetsPartition, &lp);
            lp.Timestamp = -1;
            lp.MaxNumOffsets = 1;
            bk_ListOffsetsRequest_ListOffsetsTopic lt = {.Name = bk_str_c("t")};
            lt.Partitions.n = 1;
            lt.Partitions.a = &lp;
            lq.ReplicaId = -1;
            lq.Topics.n = 1;
            lq.Topics.a = &lt;
            corr = send_req(&h, c1, 2, v, &bk_msg_ListOffsetsRequest, &lq);
            bk_ListOffsetsResponse lr;
            BK_CHECK(recv_resp(&h, c1, 2, v, corr, &bk_msg_ListOffsetsResponse, &lr, 2000));
            const bk_ListOffsetsResponse_ListOffsetsPartitionResponse *r =
                &lr.Topics.a[0].Partitions.a[0];
            int64_t leo = bk_plog_leo(l0);
            BK_CHECK(r->ErrorCode == 0);
            BK_CHECK(v == 0 ? (r->OldStyleOffsets.n == 1 && r->OldStyleOffsets.a[0] == leo)
                            : r->Offset == leo);
        }
        for (int16_t v = 0; v <= 2; v++) {
            bk_DeleteRecordsRequest dq;
            bk_DeleteRecordsRequest_init(&dq);
            bk_DeleteRecordsRequest_DeleteRecordsPartition dp = {0, 8};
            bk_DeleteRecordsRequest_DeleteRecordsTopic dt = {.Name = bk_str_c("t")};
            dt.Partitions.n = 1;
            dt.Partitions.a = &dp;
            dq.Topics.n = 1;
            dq.Topics.a = &dt;
            corr = send_req(&h, c1, 21, v, &bk_msg_DeleteRecordsRequest, &dq);
            bk_DeleteRecordsResponse dr;
            BK_CHECK(recv_resp(&h, c1, 21, v, corr, &bk_msg_DeleteRecordsResponse, &dr, 2000));
            BK_CHECK(dr.Topics.a[0].Partitions.a[0].LowWatermark == 8);
        }
        for (int16_t v = 0; v <= 4; v++) {
            bk_OffsetForLeaderEpochRequest oq;
            bk_OffsetForLeaderEpochRequest_init(&oq);
            bk_OffsetForLeaderEpochRequest_OffsetForLeaderPartition op = {0, -1, 0};
            bk_OffsetForLeaderEpochRequest_OffsetForLeaderTopic ot = {.Topic = bk_str_c("t")};
            ot.Partitions.n = 1;
            ot.Partitions.a = &op;
            oq.ReplicaId = -1;
            oq.Topics.n = 1;
            oq.Topics.a = &ot;
            corr = send_req(&h, c1, 23, v, &bk_msg_OffsetForLeaderEpochRequest, &oq);
            bk_OffsetForLeaderEpochResponse orr;
            BK_CHECK(
                recv_resp(&h, c1, 23, v, corr, &bk_msg_OffsetForLeaderEpochResponse, &orr, 2000));
            const bk_OffsetForLeaderEpochResponse_EpochEndOffset *r =
                &orr.Topics.a[0].Partitions.a[0];
            BK_CHECK(r->ErrorCode == 0 && r->EndOffset == bk_plog_leo(l0));
            /* CurrentLeaderEpoch (v2+): older is fenced, newer unknown */
            if (v >= 2) {
                op.CurrentLeaderEpoch = 1;
                corr = send_req(&h, c1, 23, v, &bk_msg_OffsetForLeaderEpochRequest, &oq);
                BK_CHECK(recv_resp(&h, c1, 23, v, corr, &bk_msg_OffsetForLeaderEpochResponse, &orr,
                                   2000));
                BK_CHECK(orr.Topics.a[0].Partitions.a[0].ErrorCode == BK_KERR_UNKNOWN_LEADER_EPOCH);
            }
        }
    }

    BK_TEST("fetch: ranges of sealed segments survive the descriptor LRU within one fetch");
    {
        int16_t kerr;
        char msg[128];
        bk_kv kv[1] = {{"segment.bytes", "1000"}};
        BK_CHECK(bk_topics_create(h.topics, "sm", 2, 2, 1, kv, 1, false, &kerr, msg, sizeof msg) ==
                 0);
        bk_wr_reset(&w);
        make_batch(&w, 4, now, 150, BK_COMPRESSION_NONE); /* ~700 bytes: one per segment */
        for (int i = 0; i < 3; i++)
            for (int p = 0; p < 2; p++)
                BK_CHECK(produce(&h, c1, 9, "sm", p, w.buf, w.len, 1, &base) == 0 && base == 4 * i);
        BK_CHECK(bk_topics_partition(h.topics, "sm", 2, 0)->log->nsegs == 3);
        bk_seg_set_fd_budget(1);
        /* an unpin trims the LRU: the sealed segments' descriptors close */
        bk_segment *s1 = bk_topics_partition(h.topics, "sm", 2, 1)->log->segs[1];
        bk_seg_pin(s1);
        bk_seg_unpin(s1);
        BK_CHECK(bk_topics_partition(h.topics, "sm", 2, 0)->log->segs[0]->fd < 0);
        bk_FetchRequest rq;
        bk_FetchRequest_init(&rq);
        bk_FetchRequest_FetchPartition fp[2];
        for (int i = 0; i < 2; i++) {
            bk_codec_init(&bk_desc_FetchRequest_FetchPartition, &fp[i]);
            fp[i].Partition = i;
            fp[i].FetchOffset = 0;
            fp[i].PartitionMaxBytes = 1 << 20;
        }
        bk_FetchRequest_FetchTopic ft;
        bk_codec_init(&bk_desc_FetchRequest_FetchTopic, &ft);
        ft.Topic = bk_str_c("sm");
        ft.Partitions.n = 2;
        ft.Partitions.a = fp;
        rq.ReplicaId = -1;
        rq.MaxBytes = 1 << 20;
        rq.MinBytes = 1;
        rq.SessionEpoch = -1;
        rq.Topics.n = 1;
        rq.Topics.a = &ft;
        corr = send_req(&h, c1, 1, 11, &bk_msg_FetchRequest, &rq);
        BK_CHECK(recv_resp(&h, c1, 1, 11, corr, &bk_msg_FetchResponse, &rs, 2000));
        for (int i = 0; i < 2; i++) {
            BK_CHECK(fpd(&rs, i)->ErrorCode == 0 && count_batches(&fpd(&rs, i)->Records) == 1);
            BK_CHECK(fpd(&rs, i)->Records.len == (int32_t)w.len);
            BK_CHECK(bk_batch_base_offset(fpd(&rs, i)->Records.p) == 0);
            BK_CHECK(bk_batch_crc_ok(fpd(&rs, i)->Records.p, w.len));
        }
        bk_seg_set_fd_budget(1024);
    }

    BK_TEST("fetch: a response still being sent survives the deletion of its topic");
    {
        int16_t kerr;
        char msg[128];
        bk_kv kv[1] = {{"segment.bytes", "100000"}};
        BK_CHECK(
            bk_topics_create(h.topics, "gone", 4, 1, 1, kv, 1, false, &kerr, msg, sizeof msg) == 0);
        bk_wr_reset(&w);
        make_batch(&w, 10, now, 9000, BK_COMPRESSION_NONE); /* ~90 KB: one per segment */
        for (int i = 0; i < 12; i++)
            BK_CHECK(produce(&h, c1, 9, "gone", 0, w.buf, w.len, 1, NULL) == 0);
        bk_FetchRequest rq;
        bk_FetchRequest_init(&rq);
        bk_FetchRequest_FetchPartition fp;
        bk_codec_init(&bk_desc_FetchRequest_FetchPartition, &fp);
        fp.FetchOffset = 0;
        fp.PartitionMaxBytes = 1 << 20;
        bk_FetchRequest_FetchTopic ft;
        bk_codec_init(&bk_desc_FetchRequest_FetchTopic, &ft);
        ft.Topic = bk_str_c("gone");
        ft.Partitions.n = 1;
        ft.Partitions.a = &fp;
        rq.ReplicaId = -1;
        rq.MaxBytes = 8 << 20;
        rq.MinBytes = 1;
        rq.SessionEpoch = -1;
        rq.Topics.n = 1;
        rq.Topics.a = &ft;
        /* one fetch per segment, none read yet: ~1 MB queued on the socket */
        int32_t corrs[12];
        for (int i = 0; i < 12; i++) {
            fp.FetchOffset = 10 * i;
            corrs[i] = send_req(&h, c2, 1, 12, &bk_msg_FetchRequest, &rq);
            pump(&h, 2);
        }
        uint64_t unsent = 0;
        for (bk_conn *c = h.cs.head; c; c = c->next)
            unsent += bk_conn_unsent(c);
        BK_CHECK(unsent > 200000); /* segment bytes still to be sendfile'd */
        BK_CHECK(bk_topics_delete(h.topics, bk_topics_get(h.topics, "gone", 4)) == 0);
        for (int i = 0; i < 12; i++) {
            BK_CHECK(recv_resp(&h, c2, 1, 12, corrs[i], &bk_msg_FetchResponse, &rs, 5000));
            BK_CHECK(fpd(&rs, 0)->ErrorCode == 0 && count_batches(&fpd(&rs, 0)->Records) == 1);
            BK_CHECK(fpd(&rs, 0)->Records.len == (int32_t)w.len);
            BK_CHECK(bk_batch_base_offset(fpd(&rs, 0)->Records.p) == 10 * i);
            BK_CHECK(bk_batch_crc_ok(fpd(&rs, 0)->Records.p, w.len));
        }
    }

    BK_TEST("fetch: a fetch parked on a deleted topic answers at its deadline; gc frees the list");
    {
        int16_t kerr;
        char msg[128];
        BK_CHECK(bk_topics_create(h.topics, "gone", 4, 1, 1, NULL, 0, false, &kerr, msg,
                                  sizeof msg) == 0);
        bk_FetchRequest rq;
        bk_FetchRequest_init(&rq);
        bk_FetchRequest_FetchPartition fp;
        bk_codec_init(&bk_desc_FetchRequest_FetchPartition, &fp);
        fp.PartitionMaxBytes = 1 << 20;
        bk_FetchRequest_FetchTopic ft;
        bk_codec_init(&bk_desc_FetchRequest_FetchTopic, &ft);
        ft.Topic = bk_str_c("gone");
        ft.Partitions.n = 1;
        ft.Partitions.a = &fp;
        rq.ReplicaId = -1;
        rq.MaxBytes = 1 << 20;
        rq.MinBytes = 1;
        rq.MaxWaitMs = 200;
        rq.SessionEpoch = -1;
        rq.Topics.n = 1;
        rq.Topics.a = &ft;
        int nlists = h.b.purg.nlists;
        corr = send_req(&h, c2, 1, 12, &bk_msg_FetchRequest, &rq);
        pump(&h, 3);
        BK_CHECK(h.b.purg.nparked == 1 && h.b.purg.nlists == nlists + 1);
        BK_CHECK(bk_topics_delete(h.topics, bk_topics_get(h.topics, "gone", 4)) == 0);
        BK_CHECK(recv_resp(&h, c2, 1, 12, corr, &bk_msg_FetchResponse, &rs, 3000));
        BK_CHECK(fpd(&rs, 0)->ErrorCode == BK_KERR_UNKNOWN_TOPIC_OR_PARTITION);
        bk_purgatory_gc(&h.b.purg, h.topics, INT64_MAX / 2);
        BK_CHECK(h.b.purg.nparked == 0 && h.b.purg.nlists < nlists + 1);
    }

    BK_TEST("produce: with flush.messages=1 the answer comes only after the fsync");
    {
        int16_t kerr;
        char msg[128];
        bk_kv fm[1] = {{"flush.messages", "1"}};
        BK_CHECK(bk_topics_create(h.topics, "dur", 3, 1, 1, fm, 1, false, &kerr, msg,
                                  sizeof msg) == 0);
        BK_CHECK(bk_bio_start(1) == 0); /* flushes really run in the background */
        bk_plog *dl = bk_topics_partition(h.topics, "dur", 3, 0)->log;
        for (int i = 0; i < 5; i++) {
            bk_wr_reset(&w);
            make_batch(&w, 3, now, 50, BK_COMPRESSION_NONE);
            BK_CHECK(produce(&h, c1, 9, "dur", 0, w.buf, w.len, 1, &base) == 0);
            /* the recovery point (fsynced offsets) already covers the batch */
            BK_CHECK(base == i * 3 && dl->recovery_point >= base + 3);
        }
        /* acks=0: no answer to wait for, the flush still happens */
        bk_wr_reset(&w);
        make_batch(&w, 1, now, 50, BK_COMPRESSION_NONE);
        bk_ProduceRequest rq;
        bk_ProduceRequest_init(&rq);
        bk_ProduceRequest_PartitionProduceData pd = {.Index = 0};
        pd.Records = (bk_records){w.buf, (int32_t)w.len, -1, 0};
        bk_ProduceRequest_TopicProduceData td = {.Name = bk_str_c("dur")};
        td.PartitionData.n = 1;
        td.PartitionData.a = &pd;
        rq.Acks = 0;
        rq.TimeoutMs = 1000;
        rq.TopicData.n = 1;
        rq.TopicData.a = &td;
        (void)send_req(&h, c1, 0, 9, &bk_msg_ProduceRequest, &rq);
        for (int i = 0; i < 200 && dl->recovery_point < 16; i++)
            pump(&h, 1);
        BK_CHECK(dl->recovery_point == 16);
        bk_bio_stop();
    }

    bk_wr_fini(&w);
    close(c1);
    close(c2);
    pump(&h, 3);
    h_teardown(&h);
}
