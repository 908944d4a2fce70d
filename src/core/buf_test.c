/* buf_test.c - reader/writer bounds, varints, arena limits. */
#include "../../tests/unit.h"
#include "buf.h"

#include <stdlib.h>

void bk_test_buf(void);
void bk_test_buf(void)
{
    BK_TEST("buf: reads past the end are sticky errors returning zero");
    static const uint8_t three[] = {1, 2, 3};
    bk_rd rd;
    bk_rd_init(&rd, three, sizeof three);
    BK_CHECK(bk_rd_i16(&rd) == 0x0102);
    BK_CHECK(bk_rd_i32(&rd) == 0 && rd.err == BK_EPARSE);
    BK_CHECK(bk_rd_i8(&rd) == 0 && rd.err == BK_EPARSE && bk_rd_left(&rd) == 0);

    BK_TEST("buf: uvarint/varint round trip at the edges");
    static const int64_t sv[] = {0, 1, -1, 63, -64, 64, 300, -300, INT32_MAX, INT32_MIN,
                                 INT64_MAX, INT64_MIN};
    bk_wr w;
    bk_wr_init(&w, 0);
    for (size_t i = 0; i < BK_ARRAY_LEN(sv); i++) {
        bk_wr_reset(&w);
        bk_wr_varint(&w, sv[i]);
        BK_CHECK(w.len == bk_varint_size(sv[i]));
        bk_rd_init(&rd, w.buf, w.len);
        BK_CHECK(bk_rd_varint(&rd) == sv[i] && rd.err == 0 && bk_rd_left(&rd) == 0);
    }
    bk_wr_reset(&w);
    bk_wr_uvarint(&w, UINT64_MAX);
    BK_CHECK(w.len == 10);
    bk_rd_init(&rd, w.buf, w.len);
    BK_CHECK(bk_rd_uvarint(&rd) == UINT64_MAX && rd.err == 0);
    bk_rd_init(&rd, w.buf, w.len);
    BK_CHECK(bk_rd_uvarint32(&rd) == 0 && rd.err == BK_EPARSE);
    /* 300 = ac 02 (protobuf docs) */
    bk_wr_reset(&w);
    bk_wr_uvarint(&w, 300);
    BK_CHECK(w.len == 2 && w.buf[0] == 0xac && w.buf[1] == 0x02);
    /* zig-zag: -1 -> 1, 1 -> 2 */
    bk_wr_reset(&w);
    bk_wr_varint(&w, -1);
    bk_wr_varint(&w, 1);
    BK_CHECK(w.len == 2 && w.buf[0] == 1 && w.buf[1] == 2);
    /* 11th byte / overflow into bit 64 */
    static const uint8_t over[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    bk_rd_init(&rd, over, sizeof over);
    BK_CHECK(bk_rd_uvarint(&rd) == 0 && rd.err == BK_EPARSE);

    BK_TEST("buf: fixed writer reports the overflow, splices count on the wire");
    uint8_t small[4];
    bk_wr f;
    bk_wr_init_fixed(&f, small, sizeof small);
    bk_wr_i32(&f, 7);
    BK_CHECK(f.err == 0 && f.len == 4);
    bk_wr_i8(&f, 1);
    BK_CHECK(f.err == BK_ELIMIT && f.len == 4);
    bk_wr_reset(&w);
    bk_wr_i32(&w, 0);
    bk_wr_splice(&w, 3, 100, 50);
    bk_wr_i16(&w, 1);
    BK_CHECK(w.len == 6 && bk_wr_wire_len(&w) == 56 && w.nspl == 1 && w.spl[0].at == 4);
    bk_wr_patch_i32(&w, 0, 52);
    BK_CHECK(bk_get_be32(w.buf) == 52);
    bk_wr_fini(&w);

    BK_TEST("buf: arena enforces its limit and resets");
    bk_arena a;
    bk_arena_init(&a, 1000);
    void *p1 = bk_arena_alloc(&a, 500);
    BK_CHECK(p1 != NULL && ((uintptr_t)p1 & 15) == 0);
    BK_CHECK(bk_arena_alloc(&a, 600) == NULL);
    BK_CHECK(bk_arena_alloc(&a, SIZE_MAX - 8) == NULL);
    bk_arena_reset(&a);
    BK_CHECK(bk_arena_alloc(&a, 900) != NULL);
    bk_arena_fini(&a);
    bk_arena_init(&a, 0);
    for (int i = 0; i < 100; i++)
        BK_CHECK(bk_arena_alloc(&a, 5000) != NULL);
    bk_arena_reset(&a);
    BK_CHECK(a.used == 0);
    bk_arena_fini(&a);
}
