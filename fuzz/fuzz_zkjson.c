/*
 * fuzz_zkjson - libFuzzer target over the JSON of ZooKeeper znodes: what
 * another broker, an operator's tool or a corrupted znode may put in
 * /brokers/ids/<id>, /brokers/topics/<t>, .../state, /config/topics/<t>,
 * /controller and /cluster/id. Every decoder runs on the input; a decoded
 * value is encoded again and must decode to the same thing.
 */
#include "../src/cluster/zkjson.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    bk_json_free(bk_json_parse(s, size));

    bk_jw w;
    bk_zk_broker b;
    if (bk_zkj_broker_parse(s, size, &b) == 0 && !memchr(b.host, '"', strlen(b.host))) {
        bk_jw_init(&w);
        bk_zkj_broker(&w, &b);
        bk_zk_broker b2;
        if (!w.err && (bk_zkj_broker_parse(w.p, w.len, &b2) != 0 || b2.port != b.port ||
                       strcmp(b2.rack, b.rack) != 0))
            abort();
        bk_jw_fini(&w);
    }

    bk_zk_topic t;
    if (bk_zkj_topic_parse(s, size, &t) == 0) {
        t.has_id = true;
        bk_jw_init(&w);
        bk_zkj_topic(&w, &t);
        bk_zk_topic t2;
        if (!w.err) {
            if (bk_zkj_topic_parse(w.p, w.len, &t2) != 0 || t2.nparts != t.nparts ||
                t2.rf != t.rf ||
                memcmp(t2.replicas, t.replicas, (size_t)t.nparts * (size_t)t.rf * 4) != 0)
                abort();
            bk_zk_topic_free(&t2);
        }
        bk_jw_fini(&w);
        bk_zk_topic_free(&t);
    }

    bk_zk_pstate p;
    (void)bk_zkj_pstate_parse(s, size, &p);
    char **k, **v;
    int n;
    if (bk_zkj_config_parse(s, size, &k, &v, &n) == 0) {
        bk_jw_init(&w);
        bk_zkj_config(&w, k, v, n);
        char **k2, **v2;
        int n2;
        if (!w.err && (bk_zkj_config_parse(w.p, w.len, &k2, &v2, &n2) != 0 || n2 != n))
            abort();
        if (!w.err) {
            for (int i = 0; i < n2; i++) {
                if (strcmp(k2[i], k[i]) != 0 || strcmp(v2[i], v[i]) != 0)
                    abort();
                free(k2[i]);
                free(v2[i]);
            }
            free(k2);
            free(v2);
        }
        bk_jw_fini(&w);
        for (int i = 0; i < n; i++) {
            free(k[i]);
            free(v[i]);
        }
        free(k);
        free(v);
    }
    int32_t id;
    (void)bk_zkj_controller_parse(s, size, &id);
    char cid[65];
    (void)bk_zkj_cluster_id_parse(s, size, cid, sizeof cid);
    return 0;
}
