/* zkjson_test.c - the JSON reader/writer and Kafka's znode shapes. */
#include "../../tests/unit.h"
#include "../core/err.h"
#include "zkjson.h"

#include <stdlib.h>
#include <string.h>

void bk_test_zkjson(void);
void bk_test_zkjson(void)
{
    BK_TEST("zkjson: parse objects, arrays, strings with escapes, numbers");
    const char *s = " {\"a\":[1,-2,3.5,\"x\\\"y\\u0041\"],\"b\":{\"c\":true,\"d\":null},\"e\":\"12\"} ";
    bk_json *j = bk_json_parse(s, strlen(s));
    BK_CHECK(j && j->type == BK_J_OBJ && j->nkids == 3);
    const bk_json *a = bk_json_get(j, "a");
    BK_CHECK(a && a->type == BK_J_ARR && a->nkids == 4);
    BK_CHECK(a && a->kids[1].isint && a->kids[1].i == -2);
    BK_CHECK(a && !a->kids[2].isint && a->kids[2].num == 3.5);
    BK_CHECK(a && strcmp(a->kids[3].str, "x\"yA") == 0);
    int64_t v = 0;
    BK_CHECK(bk_json_int(bk_json_get(j, "e"), &v) == 0 && v == 12);
    BK_CHECK(bk_json_get(bk_json_get(j, "b"), "c")->b);
    BK_CHECK(bk_json_get(j, "zz") == NULL);
    bk_json_free(j);

    BK_TEST("zkjson: malformed input is refused, not crashed on");
    const char *bad[] = {"", "{", "{\"a\":}", "[1,]", "{\"a\" 1}", "\"abc", "tru", "{} x",
                         "[\"\\u00\"]", "[\"\\u0000\"]", "{\"a\":01e}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        bk_json *b = bk_json_parse(bad[i], strlen(bad[i]));
        BK_CHECK(b == NULL);
        bk_json_free(b);
    }
    char deep[200];
    memset(deep, '[', sizeof deep);
    BK_CHECK(bk_json_parse(deep, sizeof deep) == NULL);

    BK_TEST("zkjson: writer escapes");
    bk_jw w;
    bk_jw_init(&w);
    bk_jw_str(&w, "a\"b\\c\n");
    BK_CHECK(strcmp(w.p, "\"a\\\"b\\\\c\\u000a\"") == 0);
    bk_jw_fini(&w);

    BK_TEST("zkjson: /brokers/ids/<id> as Kafka 3.9 writes it, and back");
    bk_zk_broker b = {.id = 2, .port = 9094, .timestamp = 1700000000123};
    strcpy(b.host, "10.0.0.7");
    bk_jw_init(&w);
    bk_zkj_broker(&w, &b);
    BK_CHECK(strcmp(w.p, "{\"features\":{},\"listener_security_protocol_map\":{\"PLAINTEXT\":"
                         "\"PLAINTEXT\"},\"endpoints\":[\"PLAINTEXT://10.0.0.7:9094\"],"
                         "\"jmx_port\":-1,\"port\":9094,\"host\":\"10.0.0.7\",\"version\":5,"
                         "\"timestamp\":\"1700000000123\"}") == 0);
    bk_zk_broker b2;
    BK_CHECK(bk_zkj_broker_parse(w.p, w.len, &b2) == 0 && b2.port == 9094 &&
             strcmp(b2.host, "10.0.0.7") == 0 && b2.rack[0] == 0 && b2.timestamp == 1700000000123);
    bk_jw_fini(&w);
    strcpy(b.rack, "r1");
    strcpy(b.host, "::1");
    bk_jw_init(&w);
    bk_zkj_broker(&w, &b);
    BK_CHECK(strstr(w.p, "\"PLAINTEXT://[::1]:9094\"") && strstr(w.p, ",\"rack\":\"r1\"}"));
    BK_CHECK(bk_zkj_broker_parse(w.p, w.len, &b2) == 0 && strcmp(b2.host, "::1") == 0 &&
             strcmp(b2.rack, "r1") == 0);
    bk_jw_fini(&w);
    /* a Kafka broker with SSL first: the PLAINTEXT endpoint is taken */
    const char *kb = "{\"listener_security_protocol_map\":{\"SSL\":\"SSL\",\"PLAINTEXT\":"
                     "\"PLAINTEXT\"},\"endpoints\":[\"SSL://h:9093\",\"PLAINTEXT://h:9092\"],"
                     "\"jmx_port\":-1,\"host\":\"h\",\"timestamp\":\"1\",\"port\":9092,"
                     "\"version\":4}";
    BK_CHECK(bk_zkj_broker_parse(kb, strlen(kb), &b2) == 0 && b2.port == 9092);
    /* several listeners (issue 11): written as Kafka does, the inter-broker
     * listener's endpoint picked, every endpoint kept */
    memset(&b, 0, sizeof b);
    b.port = 9092;
    strcpy(b.host, "h");
    strcpy(b.eps, "INTERNAL://h:9092,SASL_SSL://pub.example:9094");
    strcpy(b.protomap, "INTERNAL:PLAINTEXT,SASL_SSL:SASL_SSL");
    bk_jw_init(&w);
    bk_zkj_broker(&w, &b);
    BK_CHECK(strstr(w.p, "\"listener_security_protocol_map\":{\"INTERNAL\":\"PLAINTEXT\","
                         "\"SASL_SSL\":\"SASL_SSL\"},\"endpoints\":[\"INTERNAL://h:9092\","
                         "\"SASL_SSL://pub.example:9094\"]") != NULL);
    BK_CHECK(bk_zkj_broker_parse_listener(w.p, w.len, "SASL_SSL", &b2) == 0 && b2.port == 9094 &&
             strcmp(b2.host, "pub.example") == 0);
    BK_CHECK(bk_zkj_broker_parse_listener(w.p, w.len, "INTERNAL", &b2) == 0 && b2.port == 9092);
    char eh[64];
    int ep = 0;
    BK_CHECK(bk_zkj_endpoint_of(b2.eps, "SASL_SSL", eh, sizeof eh, &ep) == 0 && ep == 9094);
    BK_CHECK(bk_zkj_endpoint_of(b2.eps, "SASL", eh, sizeof eh, &ep) == BK_ENOENT);
    bk_jw_fini(&w);

    BK_TEST("zkjson: /brokers/topics/<t>, /cluster/id, /controller, state, config");
    int32_t reps[6] = {0, 1, 1, 2, 2, 0};
    bk_zk_topic t = {.nparts = 3, .rf = 2, .replicas = reps, .has_id = true};
    for (int i = 0; i < 16; i++)
        t.id[i] = (uint8_t)(i * 7);
    bk_jw_init(&w);
    bk_zkj_topic(&w, &t);
    BK_CHECK(strncmp(w.p, "{\"partitions\":{\"0\":[0,1],\"1\":[1,2],\"2\":[2,0]},\"topic_id\":\"",
                     58) == 0);
    BK_CHECK(strstr(w.p, "\",\"adding_replicas\":{},\"removing_replicas\":{},\"version\":3}"));
    bk_zk_topic t2;
    BK_CHECK(bk_zkj_topic_parse(w.p, w.len, &t2) == 0 && t2.nparts == 3 && t2.rf == 2 &&
             t2.has_id && memcmp(t2.id, t.id, 16) == 0 && t2.replicas[5] == 0 &&
             t2.replicas[2] == 1);
    bk_zk_topic_free(&t2);
    bk_jw_fini(&w);
    const char *unordered = "{\"version\":1,\"partitions\":{\"1\":[5],\"0\":[4]}}";
    BK_CHECK(bk_zkj_topic_parse(unordered, strlen(unordered), &t2) == 0 && !t2.has_id &&
             t2.replicas[0] == 4 && t2.replicas[1] == 5);
    bk_zk_topic_free(&t2);
    const char *gap = "{\"partitions\":{\"0\":[4],\"2\":[5]}}";
    BK_CHECK(bk_zkj_topic_parse(gap, strlen(gap), &t2) != 0);

    char id[65];
    bk_jw_init(&w);
    bk_zkj_cluster_id(&w, "P4RMyn9yQ62Jj2nBeppwKg");
    BK_CHECK(strcmp(w.p, "{\"version\":\"1\",\"id\":\"P4RMyn9yQ62Jj2nBeppwKg\"}") == 0);
    BK_CHECK(bk_zkj_cluster_id_parse(w.p, w.len, id, sizeof id) == 0 &&
             strcmp(id, "P4RMyn9yQ62Jj2nBeppwKg") == 0);
    bk_jw_fini(&w);

    int32_t cid = -1;
    bk_jw_init(&w);
    bk_zkj_controller(&w, 3, 42);
    BK_CHECK(strcmp(w.p, "{\"version\":2,\"brokerid\":3,\"timestamp\":\"42\","
                         "\"kraftControllerEpoch\":-1}") == 0);
    BK_CHECK(bk_zkj_controller_parse(w.p, w.len, &cid) == 0 && cid == 3);
    BK_CHECK(bk_zkj_controller_parse("7", 1, &cid) == 0 && cid == 7);
    bk_jw_fini(&w);

    bk_zk_pstate ps = {.leader = 1, .leader_epoch = 4, .controller_epoch = 2, .nisr = 2,
                       .isr = {1, 0}};
    bk_jw_init(&w);
    bk_zkj_pstate(&w, &ps);
    BK_CHECK(strcmp(w.p, "{\"controller_epoch\":2,\"leader\":1,\"version\":1,\"leader_epoch\":4,"
                         "\"isr\":[1,0]}") == 0);
    bk_zk_pstate ps2;
    BK_CHECK(bk_zkj_pstate_parse(w.p, w.len, &ps2) == 0 && ps2.leader == 1 &&
             ps2.leader_epoch == 4 && ps2.nisr == 2 && ps2.isr[1] == 0);
    bk_jw_fini(&w);

    char *keys[2] = {"retention.ms", "cleanup.policy"}, *vals[2] = {"1000", "compact,delete"};
    bk_jw_init(&w);
    bk_zkj_config(&w, keys, vals, 2);
    BK_CHECK(strcmp(w.p, "{\"version\":1,\"config\":{\"retention.ms\":\"1000\","
                         "\"cleanup.policy\":\"compact,delete\"}}") == 0);
    char **k2, **v2;
    int n2;
    BK_CHECK(bk_zkj_config_parse(w.p, w.len, &k2, &v2, &n2) == 0 && n2 == 2 &&
             strcmp(k2[1], "cleanup.policy") == 0 && strcmp(v2[0], "1000") == 0);
    for (int i = 0; i < n2; i++) {
        free(k2[i]);
        free(v2[i]);
    }
    free(k2);
    free(v2);
    bk_jw_fini(&w);
    bk_jw_init(&w);
    bk_zkj_config_change(&w, "topics/t");
    BK_CHECK(strcmp(w.p, "{\"version\":2,\"entity_path\":\"topics/t\"}") == 0);
    bk_jw_fini(&w);
}
