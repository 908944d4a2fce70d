/*
 * api.c - API key lookup and request/response header coding (see api.h).
 */
#include "api.h"

#include "bkgen_msgs.h"

const bk_apidef *bk_apidef_get(int16_t key)
{
    int lo = 0, hi = bk_apidefs_count - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (bk_apidefs[mid].key == key)
            return &bk_apidefs[mid];
        if (bk_apidefs[mid].key < key)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}

/* ControlledShutdown v0 predates client ids: the only user of header v0. */
#define API_CONTROLLED_SHUTDOWN 7
#define API_API_VERSIONS        18

int16_t bk_reqhdr_version(int16_t key, int16_t ver)
{
    const bk_apidef *d = bk_apidef_get(key);
    if (!d)
        return -1;
    if (key == API_CONTROLLED_SHUTDOWN && ver == 0)
        return 0;
    /* A version above the newest known one still follows the flexible
     * range, so an ApiVersions request newer than ours is parsed right. */
    return BK_V_IN(d->req->flexible, ver) ? 2 : 1;
}

int16_t bk_resphdr_version(int16_t key, int16_t ver)
{
    const bk_apidef *d = bk_apidef_get(key);
    if (!d || key == API_API_VERSIONS)
        return 0;
    return BK_V_IN(d->resp->flexible, ver) ? 1 : 0;
}

int bk_reqhdr_decode(bk_rd *rd, bk_reqhdr *h)
{
    bk_rd start = *rd;
    memset(h, 0, sizeof *h);
    h->client_id = (bk_str){NULL, -1};
    h->api_key = bk_rd_i16(rd);
    h->api_version = bk_rd_i16(rd);
    h->correlation_id = bk_rd_i32(rd);
    if (rd->err)
        return BK_EPARSE;
    h->hdr_version = bk_reqhdr_version(h->api_key, h->api_version);
    int16_t hv = h->hdr_version < 0 ? 1 : h->hdr_version;

    /* The header is itself a generated message (RequestHeader.json). Its
     * descriptor needs no arena: it has no arrays. */
    bk_RequestHeader rh;
    *rd = start;
    int r = bk_codec_decode(&bk_desc_RequestHeader, hv >= 2, hv, rd, NULL, &rh);
    if (r)
        return BK_EPARSE;
    h->client_id = rh.ClientId;
    return 0;
}

void bk_resphdr_encode(bk_wr *wr, int16_t hdr_version, int32_t correlation_id)
{
    bk_wr_i32(wr, correlation_id);
    if (hdr_version >= 1)
        bk_wr_uvarint(wr, 0); /* no tagged fields */
}
