/*
 * codec_test.c - every message, every version: populate -> encode -> decode
 * -> encode is byte-identical and size() equals the bytes written; plus
 * hand-checked byte vectors for the wire rules, and hostile inputs.
 */
#include "../../tests/unit.h"
#include "api.h"
#include "bkgen_msgs.h"
#include "../../tests/populate.h"

#include <stdlib.h>

static void test_roundtrip_all(void)
{
    BK_TEST("codec: populate/encode/decode/encode identical for every message and version");
    bk_arena a;
    bk_arena_init(&a, 0);
    bk_wr w1, w2;
    bk_wr_init(&w1, 4096);
    bk_wr_init(&w2, 4096);
    int cases = 0;
    for (int mi = 0; mi < bk_all_msgs_count; mi++) {
        const bk_msginfo *mi_ = bk_all_msgs[mi];
        const bk_msgdesc *d = mi_->desc;
        void *m1 = calloc(1, d->size), *m2 = calloc(1, d->size);
        for (int16_t v = mi_->valid.lo; v <= mi_->valid.hi; v++) {
            bool flex = BK_V_IN(mi_->flexible, v);
            for (int seed = 1; seed <= 12; seed++) {
                bk_pop_seed((uint64_t)seed * 0x9E3779B97F4A7C15ULL + (uint64_t)mi * 131 + (uint64_t)v);
                bk_arena_reset(&a);
                bk_wr_reset(&w1);
                bk_wr_reset(&w2);
                bk_pop_struct(d, v, &a, m1);
                int r = bk_codec_encode(d, flex, v, &w1, m1);
                size_t sz = bk_codec_size(d, flex, v, m1);
                bk_rd rd;
                bk_rd_init(&rd, w1.buf, w1.len);
                int r2 = bk_codec_decode(d, flex, v, &rd, &a, m2);
                int r3 = bk_codec_encode(d, flex, v, &w2, m2);
                size_t sz2 = bk_codec_size(d, flex, v, m2);
                bool ok = r == 0 && sz == w1.len && r2 == 0 && bk_rd_left(&rd) == 0 && r3 == 0 &&
                          w1.len == w2.len && sz2 == w2.len &&
                          memcmp(w1.buf, w2.buf, w1.len) == 0;
                if (!ok) {
                    fprintf(stderr, "  %s v%d seed %d: enc=%d size=%zu len=%zu dec=%d left=%zu "
                                    "enc2=%d len2=%zu\n",
                            d->name, v, seed, r, sz, w1.len, r2, bk_rd_left(&rd), r3, w2.len);
                    BK_CHECK(ok);
                    goto next_msg;
                }
                /* Every strict prefix must fail to decode, never crash. */
                if (seed == 1) {
                    for (size_t cut = 0; cut < w1.len; cut += 1 + w1.len / 64) {
                        bk_rd_init(&rd, w1.buf, cut);
                        bk_arena_reset(&a);
                        BK_CHECK(bk_codec_decode(d, flex, v, &rd, &a, m2) != 0);
                    }
                }
                cases++;
            }
        }
    next_msg:
        free(m1);
        free(m2);
    }
    BK_CHECK(cases > 5000);
    printf("codec: %d message/version/seed round trips\n", cases);
    bk_wr_fini(&w1);
    bk_wr_fini(&w2);
    bk_arena_fini(&a);
}

static bool bytes_eq(const bk_wr *w, const char *hex)
{
    size_t n = strlen(hex) / 2;
    if (w->len != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned b;
        if (sscanf(hex + 2 * i, "%2x", &b) != 1 || w->buf[i] != b)
            return false;
    }
    return true;
}

static void test_vectors(void)
{
    bk_wr w;
    bk_wr_init(&w, 256);

    BK_TEST("codec: ApiVersionsRequest v3 compact strings and empty tag section");
    bk_ApiVersionsRequest avr;
    bk_ApiVersionsRequest_init(&avr);
    avr.ClientSoftwareName = bk_str_c("kcat");
    avr.ClientSoftwareVersion = bk_str_c("1.7");
    BK_CHECK(bk_ApiVersionsRequest_encode(&w, 3, &avr) == 0);
    /* 05 "kcat" 04 "1.7" 00 */
    BK_CHECK(bytes_eq(&w, "056b63617404312e3700"));
    bk_wr_reset(&w);
    BK_CHECK(bk_ApiVersionsRequest_encode(&w, 2, &avr) == 0); /* ignorable: dropped */
    BK_CHECK(w.len == 0);

    BK_TEST("codec: ApiVersionsResponse v3 tagged field written only when not default");
    bk_ApiVersionsResponse resp;
    bk_ApiVersionsResponse_init(&resp);
    BK_CHECK(resp.FinalizedFeaturesEpoch == -1);
    bk_ApiVersionsResponse_ApiVersion one = {.ApiKey = 18, .MinVersion = 0, .MaxVersion = 4};
    resp.ApiKeys.n = 1;
    resp.ApiKeys.a = &one;
    bk_wr_reset(&w);
    BK_CHECK(bk_ApiVersionsResponse_encode(&w, 3, &resp) == 0);
    /* error 0000, compact array n+1=02, {0012 0000 0004 00}, throttle 00000000, tags 00 */
    BK_CHECK(bytes_eq(&w, "0000020012000000040000000000" "00"));
    resp.FinalizedFeaturesEpoch = 5;
    bk_wr_reset(&w);
    BK_CHECK(bk_ApiVersionsResponse_encode(&w, 3, &resp) == 0);
    /* ... tags: count 01, tag 01, size 08, int64 5 */
    BK_CHECK(bytes_eq(&w, "0000020012000000040000000000" "0101080000000000000005"));
    BK_CHECK(bk_ApiVersionsResponse_size(3, &resp) == w.len);
    bk_wr_reset(&w);
    BK_CHECK(bk_ApiVersionsResponse_encode(&w, 0, &resp) == 0);
    BK_CHECK(bytes_eq(&w, "0000" "00000001" "0012" "0000" "0004"));

    BK_TEST("codec: non-ignorable field the version lacks is an encode error");
    bk_MetadataRequest mreq;
    bk_MetadataRequest_init(&mreq);
    BK_CHECK(mreq.AllowAutoTopicCreation == true); /* JSON default "true" */
    mreq.IncludeTopicAuthorizedOperations = true;  /* v8+, not ignorable */
    bk_wr_reset(&w);
    BK_CHECK(bk_MetadataRequest_encode(&w, 7, &mreq) == BK_EINVAL);
    bk_wr_reset(&w);
    BK_CHECK(bk_MetadataRequest_encode(&w, 8, &mreq) == 0);

    BK_TEST("codec: null in a non-nullable version is rejected both ways");
    bk_MetadataRequest_init(&mreq);
    mreq.Topics.n = -1; /* nullable from v1 */
    bk_wr_reset(&w);
    BK_CHECK(bk_MetadataRequest_encode(&w, 0, &mreq) == BK_EINVAL);
    bk_wr_reset(&w);
    BK_CHECK(bk_MetadataRequest_encode(&w, 1, &mreq) == 0);
    BK_CHECK(bytes_eq(&w, "ffffffff"));
    {
        bk_arena a;
        bk_arena_init(&a, 1 << 20);
        bk_rd rd;
        bk_rd_init(&rd, w.buf, w.len);
        BK_CHECK(bk_MetadataRequest_decode(&rd, 0, &a, &mreq) == BK_EPARSE);
        bk_rd_init(&rd, w.buf, w.len);
        BK_CHECK(bk_MetadataRequest_decode(&rd, 1, &a, &mreq) == 0 && mreq.Topics.n == -1);
        bk_arena_fini(&a);
    }

    BK_TEST("codec: request header v2 keeps ClientId a classic string");
    {
        static const uint8_t hdr[] = {0, 18, 0, 3, 0, 0, 0, 7, 0, 4, 'k', 'c', 'a', 't', 0};
        bk_rd rd;
        bk_rd_init(&rd, hdr, sizeof hdr);
        bk_reqhdr h;
        BK_CHECK(bk_reqhdr_decode(&rd, &h) == 0);
        BK_CHECK(h.api_key == 18 && h.api_version == 3 && h.correlation_id == 7);
        BK_CHECK(h.hdr_version == 2 && bk_str_eq(h.client_id, "kcat"));
        BK_CHECK(bk_rd_left(&rd) == 0);
        /* ApiVersions v9 (unknown, above max) still uses header v2 */
        BK_CHECK(bk_reqhdr_version(18, 9) == 2);
        BK_CHECK(bk_reqhdr_version(18, 2) == 1);
        BK_CHECK(bk_reqhdr_version(7, 0) == 0);
        BK_CHECK(bk_reqhdr_version(999, 0) == -1);
        BK_CHECK(bk_resphdr_version(18, 3) == 0);
        BK_CHECK(bk_resphdr_version(3, 9) == 1);
        BK_CHECK(bk_resphdr_version(3, 8) == 0);
    }

    BK_TEST("codec: records are borrowed, encoded from a file as a splice");
    {
        bk_ProduceRequest pr;
        bk_ProduceRequest_init(&pr);
        BK_CHECK(pr.TransactionalId.len == -1 && pr.Acks == 0);
        bk_FetchResponse_PartitionData pd;
        bk_codec_init(&bk_desc_FetchResponse_PartitionData, &pd);
        BK_CHECK(pd.Records.fd == -1 && pd.HighWatermark == 0 && pd.LastStableOffset == -1);
        BK_CHECK(pd.PreferredReadReplica == -1 && pd.CurrentLeader.LeaderId == -1);
        pd.Records = (bk_records){NULL, 1000, 42, 4096};
        bk_wr_reset(&w);
        BK_CHECK(bk_codec_encode(&bk_desc_FetchResponse_PartitionData, true, 12, &w, &pd) == 0);
        BK_CHECK(w.nspl == 1 && w.spl[0].fd == 42 && w.spl[0].len == 1000);
        BK_CHECK(bk_wr_wire_len(&w) == bk_codec_size(&bk_desc_FetchResponse_PartitionData, true,
                                                     12, &pd));
    }
    bk_wr_fini(&w);
}

static void test_hostile(void)
{
    BK_TEST("codec: huge array counts are rejected before allocating");
    bk_arena a;
    bk_arena_init(&a, 1 << 20);
    /* MetadataRequest v1: topics count 0x7fffffff followed by 3 bytes */
    static const uint8_t big[] = {0x7f, 0xff, 0xff, 0xff, 0, 1, 'x'};
    bk_MetadataRequest m;
    bk_rd rd;
    bk_rd_init(&rd, big, sizeof big);
    BK_CHECK(bk_MetadataRequest_decode(&rd, 1, &a, &m) == BK_EPARSE);
    BK_CHECK(a.used == 0);
    /* compact count near 2^32 */
    static const uint8_t bigc[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0};
    bk_rd_init(&rd, bigc, sizeof bigc);
    BK_CHECK(bk_MetadataRequest_decode(&rd, 9, &a, &m) == BK_EPARSE);
    /* uvarint longer than 10 bytes */
    static const uint8_t longv[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 1};
    bk_rd_init(&rd, longv, sizeof longv);
    BK_CHECK(bk_MetadataRequest_decode(&rd, 9, &a, &m) == BK_EPARSE);

    BK_TEST("codec: arena limit turns into BK_ENOMEM, not a crash");
    bk_arena small;
    bk_arena_init(&small, 64);
    /* MetadataRequest v1 with 100 topics of empty names: 100 * sizeof elem > 64 */
    uint8_t buf[4 + 100 * 2];
    bk_be32(buf, 100);
    memset(buf + 4, 0, 200);
    bk_rd_init(&rd, buf, sizeof buf);
    BK_CHECK(bk_MetadataRequest_decode(&rd, 1, &small, &m) == BK_ENOMEM);
    bk_arena_fini(&small);

    BK_TEST("codec: tagged field with wrong size is rejected");
    /* ApiVersionsResponse v3 with tag 1 (int64) declared size 4 */
    static const uint8_t badtag[] = {0, 0, 1, 0, 0, 0, 0, 1, 1, 4, 0, 0, 0, 5};
    bk_ApiVersionsResponse r;
    bk_rd_init(&rd, badtag, sizeof badtag);
    BK_CHECK(bk_ApiVersionsResponse_decode(&rd, 3, &a, &r) == BK_EPARSE);
    /* unknown tag 7 is skipped */
    static const uint8_t unk[] = {0, 0, 1, 0, 0, 0, 0, 1, 7, 2, 0xaa, 0xbb};
    bk_rd_init(&rd, unk, sizeof unk);
    BK_CHECK(bk_ApiVersionsResponse_decode(&rd, 3, &a, &r) == 0 && bk_rd_left(&rd) == 0);
    bk_arena_fini(&a);
}

static void test_apidefs(void)
{
    BK_TEST("codec: api table pairs requests and responses by key");
    BK_CHECK(bk_apidefs_count >= 80);
    const bk_apidef *p = bk_apidef_get(0);
    BK_CHECK(p && strcmp(p->name, "Produce") == 0 && p->req == &bk_msg_ProduceRequest);
    p = bk_apidef_get(18);
    BK_CHECK(p && p->resp->valid.lo == 0 && p->resp->valid.hi >= 3);
    BK_CHECK(bk_apidef_get(-1) == NULL && bk_apidef_get(200) == NULL);
    for (int i = 1; i < bk_apidefs_count; i++)
        BK_CHECK(bk_apidefs[i - 1].key < bk_apidefs[i].key);
}

void bk_test_codec(void);
void bk_test_codec(void)
{
    test_vectors();
    test_hostile();
    test_apidefs();
    test_roundtrip_all();
}
