/* broker.c - broker context, dispatch and the topic hook. See broker.h. */
#include "broker.h"

#include "../core/log.h"
#include "api_table.h"

#include <stdio.h>
#include <stdlib.h>

/* ------------------------------------------------ default topic source */

static int no_lookup(void *ud, const bk_str *name, const bk_uuid *id, bk_topic_meta *out)
{
    return BK_ENOENT;
}

static int32_t no_count(void *ud)
{
    return 0;
}

static int no_at(void *ud, int32_t i, bk_topic_meta *out)
{
    return BK_ENOENT;
}

int bk_topic_lookup(const bk_broker *b, const bk_str *name, const bk_uuid *id, bk_topic_meta *out)
{
    return b->topics.lookup(b->topics.ud, name, id, out);
}

int32_t bk_topic_count(const bk_broker *b)
{
    return b->topics.count(b->topics.ud);
}

int bk_topic_at(const bk_broker *b, int32_t i, bk_topic_meta *out)
{
    return b->topics.at(b->topics.ud, i, out);
}

/* ------------------------------------------------------------ life cycle */

int bk_broker_init(bk_broker *b, const bk_config *cfg, int32_t node_id, const char *cluster_id)
{
    memset(b, 0, sizeof *b);
    b->cfg = cfg;
    b->node_id = node_id;
    snprintf(b->cluster_id, sizeof b->cluster_id, "%s", cluster_id);
    b->topics = (bk_topic_source){no_lookup, no_count, no_at, NULL, NULL};
    if (cfg->nadvertised_eps > 0) {
        b->adv = calloc((size_t)cfg->nadvertised_eps, sizeof *b->adv);
        if (!b->adv)
            return BK_ENOMEM;
        memcpy(b->adv, cfg->advertised_eps, (size_t)cfg->nadvertised_eps * sizeof *b->adv);
        b->nadv = cfg->nadvertised_eps;
    }
    return 0;
}

void bk_broker_fini(bk_broker *b)
{
    free(b->adv);
    b->adv = NULL;
    b->nadv = 0;
}

void bk_broker_set_bound_port(bk_broker *b, const char *listener_name, int port)
{
    for (int i = 0; i < b->nadv; i++)
        if (b->adv[i].port == 0 && strcmp(b->adv[i].name, listener_name) == 0)
            b->adv[i].port = port;
}

/* -------------------------------------------------------------- dispatch */

int bk_respond(bk_req *req, const bk_msginfo *mi, int16_t ver, const void *m)
{
    bool flex = BK_V_IN(mi->flexible, ver);
    size_t size = bk_codec_size(mi->desc, flex, ver, m);
    bk_wr *w = bk_req_respond_begin(req, bk_resphdr_version(req->hdr.api_key, ver), size);
    int rc = bk_codec_encode(mi->desc, flex, ver, w, m);
    rc = bk_req_respond_end(req, rc);
    if (rc != 0)
        bk_log_rl(BK_LOG_ERROR, "cannot encode %s v%d response: %s", mi->desc->name, ver,
                  bk_strerror(rc));
    return rc;
}

int bk_broker_on_request(bk_req *req, void *ud)
{
    bk_broker *b = ud;
    const bk_reqhdr *h = &req->hdr;
    const bk_api_entry *e = bk_api_find(h->api_key);
    char why[128];
    if (!e) {
        const bk_apidef *d = bk_apidef_get(h->api_key);
        snprintf(why, sizeof why, "unsupported api %s (key %d) v%d", d ? d->name : "?", h->api_key,
                 h->api_version);
        bk_conn_fail(req->conn, BK_LOG_INFO, why);
        return BK_EVERSION;
    }
    /* ApiVersions answers every version itself (KIP-511); any other API
     * outside its advertised range closes the connection like Kafka. */
    if (h->api_key != BK_API_API_VERSIONS && (h->api_version < e->min || h->api_version > e->max)) {
        snprintf(why, sizeof why, "unsupported version %d of api key %d (served: %d-%d)",
                 h->api_version, h->api_key, e->min, e->max);
        bk_conn_fail(req->conn, BK_LOG_INFO, why);
        return BK_EVERSION;
    }
    int rc = e->handler(b, req);
    if (rc < 0 && rc != BK_EAGAIN) {
        snprintf(why, sizeof why, "%s v%d request (client id '%.*s'): %s",
                 bk_apidef_get(h->api_key)->name, h->api_version,
                 h->client_id.len > 0 ? (int)BK_MIN(h->client_id.len, 40) : 0,
                 h->client_id.len > 0 ? h->client_id.p : "", bk_strerror(rc));
        bk_conn_fail(req->conn, BK_LOG_INFO, why);
    }
    return rc;
}
