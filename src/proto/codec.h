/*
 * codec.h - the Kafka protocol codec: value types, message descriptors and
 * the table-driven engine that decodes, encodes and sizes any message.
 *
 * proto/bkgen.py reads Kafka's JSON message definitions and emits, in
 * bkgen_msgs.h/.c, one C struct per message and per nested/common struct
 * (Kafka's field names, so bk_ProduceRequest.Acks), a descriptor table per
 * struct (bk_msgdesc/bk_field below), and typed wrappers
 *   bk_<Msg>_init / bk_<Msg>_decode / bk_<Msg>_encode / bk_<Msg>_size.
 *
 * Why descriptors and one engine instead of straight-line code per message:
 * the wire rules (versions, nullability, compact forms, tagged fields) live
 * in one place that is fuzzed and tested once; the same tables give the
 * tests reflection (populate every field of every version, dump values as
 * JSON), and the per-field cost is a few predictable branches, small next
 * to the record bytes a Produce or Fetch moves.
 *
 * Value representation
 *   bool/int8..int64/uint16/uint32/float64  plain C types
 *   string   bk_str   {p, len}; len < 0 means null. Decoded strings are
 *                     borrowed from the input buffer (not NUL-terminated).
 *   bytes    bk_bytes {p, len}; len < 0 means null. Borrowed.
 *   records  bk_records: memory range (borrowed) or, for encoding only,
 *                     a file range sent with sendfile (fd >= 0).
 *   uuid     bk_uuid  16 bytes.
 *   struct   embedded value; a struct field that is nullable in some
 *            version has a companion `bool <Name>_null`.
 *   []T      struct { int32_t n; T *a; }; n < 0 means null. Decoded arrays
 *            live in the request's bk_arena.
 *
 * Errors: decode returns BK_EPARSE for malformed/truncated input (including
 * null in a non-nullable version, bad tagged-field framing) and BK_ENOMEM
 * when the arena limit is reached. encode returns BK_EINVAL for a value the
 * version cannot carry (a null where not nullable, a non-default value of
 * a non-ignorable field the version lacks) and the writer's error otherwise.
 */
#ifndef BK_CODEC_H
#define BK_CODEC_H

#include "../core/buf.h"

typedef struct bk_str {
    const char *p;
    int32_t len; /* < 0: null */
} bk_str;

typedef struct bk_bytes {
    const uint8_t *p;
    int32_t len; /* < 0: null */
} bk_bytes;

typedef struct bk_records {
    const uint8_t *p; /* memory range (decode, or encode when fd < 0) */
    int32_t len;      /* < 0: null */
    int32_t fd;       /* >= 0: encode len bytes of this file from off */
    int64_t off;
} bk_records;

typedef struct bk_uuid {
    uint8_t b[16];
} bk_uuid;

#define BK_ARRAY(T)                                                                                \
    struct {                                                                                       \
        int32_t n; /* < 0: null */                                                                 \
        T *a;                                                                                      \
    }

typedef BK_ARRAY(void) bk_array_any;

static inline bk_str bk_str_c(const char *s)
{
    return (bk_str){s, s ? (int32_t)strlen(s) : -1};
}
static inline bool bk_str_eq(bk_str a, const char *s)
{
    if (a.len < 0 || !s)
        return a.len < 0 && !s;
    return (size_t)a.len == strlen(s) && memcmp(a.p, s, (size_t)a.len) == 0;
}

/* Field types. */
enum {
    BK_T_BOOL = 1,
    BK_T_INT8,
    BK_T_INT16,
    BK_T_UINT16,
    BK_T_INT32,
    BK_T_UINT32,
    BK_T_INT64,
    BK_T_FLOAT64,
    BK_T_STRING,
    BK_T_BYTES,
    BK_T_RECORDS,
    BK_T_UUID,
    BK_T_STRUCT,
    BK_T_ARRAY
};

/* An inclusive version range; lo > hi means "none". */
typedef struct bk_vrange {
    int16_t lo, hi;
} bk_vrange;

#define BK_V_IN(r, v) ((v) >= (r).lo && (v) <= (r).hi)

typedef struct bk_msgdesc bk_msgdesc;

typedef struct bk_field {
    const char *name;
    uint8_t type;
    uint8_t elem;        /* for BK_T_ARRAY: element type */
    bool ignorable;
    bool has_null_flag;  /* BK_T_STRUCT only: a bool at null_off */
    bk_vrange versions;  /* on the wire (regular or tagged) */
    bk_vrange nullable;
    bk_vrange tagged;
    bk_vrange flexible;  /* field-level override; normally "0+" (follow message) */
    int32_t tag;
    uint16_t off;        /* offsetof in the owning struct */
    uint16_t null_off;
    const bk_msgdesc *sub; /* struct or array-of-struct element */
    int64_t idef;        /* default of integer/bool fields */
    double fdef;         /* default of float64 fields */
    const char *sdef;    /* default of string fields; NULL = null */
    bool null_def;       /* bytes/array/struct default is null */
} bk_field;

struct bk_msgdesc {
    const char *name;  /* "ProduceRequest", "ProduceRequest.TopicProduceData" */
    uint32_t size;     /* sizeof the C struct */
    uint16_t nfields;
    const bk_field *fields;
    uint16_t min_wire; /* unused by the engine; informational */
};

/* Describes one message type (top level). */
typedef struct bk_msginfo {
    const bk_msgdesc *desc;
    bk_vrange valid;
    bk_vrange flexible;
} bk_msginfo;

void bk_codec_init(const bk_msgdesc *d, void *m);
int bk_codec_decode(const bk_msgdesc *d, bool flexible, int16_t ver, bk_rd *rd, bk_arena *a,
                    void *m);
int bk_codec_encode(const bk_msgdesc *d, bool flexible, int16_t ver, bk_wr *wr, const void *m);
size_t bk_codec_size(const bk_msgdesc *d, bool flexible, int16_t ver, const void *m);

/* Elementwise size of an array element type in memory. */
size_t bk_codec_elem_size(const bk_field *f);

#endif
