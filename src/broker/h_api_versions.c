/*
 * h_api_versions.c - ApiVersions (key 18), every version.
 *
 *  - v0-v4: the advertised table (api_table.c), ThrottleTimeMs 0 (v1+).
 *    No SupportedFeatures/FinalizedFeatures: this is a ZooKeeper-mode
 *    broker without KIP-584 feature flags, so FinalizedFeaturesEpoch stays
 *    -1 ("unknown"), as in Kafka's ZK mode without feature versioning.
 *  - v3+: ClientSoftwareName/Version must match
 *    [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])? or the answer is
 *    INVALID_REQUEST with no keys (Kafka's ApiVersionsRequest.isValid).
 *  - any other version (v5, v127, negative): the client is newer than we
 *    are. We cannot parse its body, so we don't; we answer a v0-format body
 *    with UNSUPPORTED_VERSION and the full key list, from which the client
 *    picks our maximum and retries (KIP-511). The request header still
 *    followed the flexible rule; conn/api.c handled that.
 * The response header is always v0 (bk_resphdr_version knows).
 */
#include "api_table.h"

static bool valid_software_token(bk_str s)
{
    if (s.len <= 0)
        return false;
    for (int32_t i = 0; i < s.len; i++) {
        char ch = s.p[i];
        bool alnum =
            (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
        bool edge = i == 0 || i == s.len - 1;
        if (!alnum && (edge || (ch != '-' && ch != '.')))
            return false;
    }
    return true;
}

static int fill_keys(bk_broker *b, bk_req *req, bk_ApiVersionsResponse *rs)
{
    rs->ApiKeys.a = BK_ARENA_NEW(req, bk_ApiVersionsResponse_ApiVersion, bk_api_table_len);
    if (!rs->ApiKeys.a)
        return BK_ENOMEM;
    int32_t n = 0;
    for (int i = 0; i < bk_api_table_len; i++) {
        if (bk_api_table[i].cluster_only && !b->cluster)
            continue;
        rs->ApiKeys.a[n].ApiKey = bk_api_table[i].key;
        rs->ApiKeys.a[n].MinVersion = bk_api_table[i].min;
        rs->ApiKeys.a[n].MaxVersion = bk_api_table[i].max;
        n++;
    }
    rs->ApiKeys.n = n;
    return 0;
}

int bk_h_api_versions(bk_broker *b, bk_req *req)
{
    const bk_api_entry *self = bk_api_find(BK_API_API_VERSIONS);
    int16_t ver = req->hdr.api_version;
    bk_ApiVersionsResponse rs;
    bk_ApiVersionsResponse_init(&rs);
    rs.ThrottleTimeMs = 0;
    int rc;

    if (ver < self->min || ver > self->max) {
        rs.ErrorCode = BK_KERR_UNSUPPORTED_VERSION;
        if ((rc = fill_keys(b, req, &rs)) != 0)
            return rc;
        return BK_RESPOND(req, ApiVersionsResponse, 0, &rs);
    }

    bk_ApiVersionsRequest rq;
    bk_ApiVersionsRequest_init(&rq);
    if ((rc = bk_ApiVersionsRequest_decode(&req->body, ver, req->arena, &rq)) != 0)
        return rc;
    if (ver >= 3 && (!valid_software_token(rq.ClientSoftwareName) ||
                     !valid_software_token(rq.ClientSoftwareVersion))) {
        rs.ErrorCode = BK_KERR_INVALID_REQUEST;
        return BK_RESPOND(req, ApiVersionsResponse, ver, &rs);
    }
    if ((rc = fill_keys(b, req, &rs)) != 0)
        return rc;
    return BK_RESPOND(req, ApiVersionsResponse, ver, &rs);
}
