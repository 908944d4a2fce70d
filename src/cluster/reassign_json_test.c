/* reassign_json_test.c - the reassignment JSON and --generate's proposal. */
#include "../../tests/unit.h"
#include "../core/err.h"
#include "reassign_json.h"

#include <stdlib.h>
#include <string.h>

void bk_test_reassign_json(void);
void bk_test_reassign_json(void)
{
    char err[256];
    bk_reassign_plan p;

    BK_TEST("reassign_json: Kafka's reassignment file round trip");
    const char *in = "{\"version\":1,\"partitions\":[{\"topic\":\"b\",\"partition\":1,"
                     "\"replicas\":[3,1],\"log_dirs\":[\"any\",\"any\"]},"
                     "{\"topic\":\"a\",\"partition\":0,\"replicas\":[2]}]}";
    BK_CHECK(bk_reassign_parse(in, strlen(in), &p, err, sizeof err) == 0 && p.n == 2);
    BK_CHECK(strcmp(p.v[0].topic, "b") == 0 && p.v[0].partition == 1 && p.v[0].nreplicas == 2 &&
             p.v[0].replicas[0] == 3 && p.v[0].replicas[1] == 1);
    bk_reassign_plan_sort(&p);
    BK_CHECK(strcmp(p.v[0].topic, "a") == 0);
    bk_jw w;
    bk_jw_init(&w);
    bk_reassign_write(&w, &p);
    BK_CHECK(strcmp(w.p, "{\"version\":1,\"partitions\":[{\"topic\":\"a\",\"partition\":0,"
                         "\"replicas\":[2],\"log_dirs\":[\"any\"]},{\"topic\":\"b\",\"partition\":"
                         "1,\"replicas\":[3,1],\"log_dirs\":[\"any\",\"any\"]}]}") == 0);
    bk_reassign_plan p2;
    BK_CHECK(bk_reassign_parse(w.p, w.len, &p2, err, sizeof err) == 0 && p2.n == 2 &&
             p2.v[1].replicas[1] == 1);
    bk_reassign_plan_free(&p2);
    bk_jw_fini(&w);
    bk_reassign_plan_free(&p);

    BK_TEST("reassign_json: bad reassignment files are refused with a reason");
    static const char *const bad[] = {
        "",
        "[]",
        "{\"partitions\":[]}",
        "{\"partitions\":[{\"topic\":\"a\",\"partition\":0,\"replicas\":[1,1]}]}",
        "{\"partitions\":[{\"topic\":\"a\",\"partition\":0,\"replicas\":[]}]}",
        "{\"partitions\":[{\"topic\":\"a\",\"partition\":-1,\"replicas\":[1]}]}",
        "{\"partitions\":[{\"topic\":\"a\",\"partition\":0,\"replicas\":[\"x\"]}]}",
        "{\"partitions\":[{\"partition\":0,\"replicas\":[1]}]}",
        "{\"partitions\":[{\"topic\":\"a\",\"partition\":0,\"replicas\":[1],"
        "\"log_dirs\":[\"any\",\"any\"]}]}",
        "{\"partitions\":[{\"topic\":\"a\",\"partition\":0,\"replicas\":[1]},"
        "{\"topic\":\"a\",\"partition\":0,\"replicas\":[2]}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        BK_CHECK(bk_reassign_parse(bad[i], strlen(bad[i]), &p, err, sizeof err) == BK_EINVAL &&
                 err[0] && p.n == 0);
    }

    BK_TEST("reassign_json: topics to move");
    char **names;
    int n;
    const char *tj = "{\"topics\":[{\"topic\":\"x\"},{\"topic\":\"y\"}],\"version\":1}";
    BK_CHECK(bk_reassign_topics_parse(tj, strlen(tj), &names, &n, err, sizeof err) == 0 &&
             n == 2 && strcmp(names[1], "y") == 0);
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    const char *dup = "{\"topics\":[{\"topic\":\"x\"},{\"topic\":\"x\"}]}";
    BK_CHECK(bk_reassign_topics_parse(dup, strlen(dup), &names, &n, err, sizeof err) != 0 &&
             n == 0);

    BK_TEST("reassign_json: --generate spreads each topic over the broker list");
    bk_reassign_plan cur = {0}, out;
    int32_t r12[2] = {1, 2}, r1[1] = {1};
    BK_CHECK(bk_reassign_plan_add(&cur, "t", 0, r12, 2) == 0);
    BK_CHECK(bk_reassign_plan_add(&cur, "t", 1, r12, 2) == 0);
    BK_CHECK(bk_reassign_plan_add(&cur, "t", 2, r12, 2) == 0);
    BK_CHECK(bk_reassign_plan_add(&cur, "u", 0, r1, 1) == 0);
    int32_t brokers[3] = {4, 2, 3};
    BK_CHECK(bk_reassign_propose(&cur, brokers, 3, 0, &out, err, sizeof err) == 0 && out.n == 4);
    /* start 0 over sorted brokers [2,3,4]: p0 [2,3], p1 [3,4], p2 [4,2] */
    BK_CHECK(strcmp(out.v[0].topic, "t") == 0 && out.v[0].nreplicas == 2 &&
             out.v[0].replicas[0] == 2 && out.v[0].replicas[1] == 3);
    BK_CHECK(out.v[1].replicas[0] == 3 && out.v[1].replicas[1] == 4);
    BK_CHECK(out.v[2].replicas[0] == 4 && out.v[2].replicas[1] == 2);
    BK_CHECK(strcmp(out.v[3].topic, "u") == 0 && out.v[3].nreplicas == 1 &&
             out.v[3].replicas[0] == 2);
    bk_reassign_plan_free(&out);
    /* more replicas than brokers */
    BK_CHECK(bk_reassign_propose(&cur, brokers, 1, 0, &out, err, sizeof err) == BK_EINVAL &&
             strstr(err, "larger than available brokers"));
    bk_reassign_plan_free(&cur);

    BK_TEST("zkjson: assignment with a reassignment in progress (adding/removing, per-partition "
            "lengths)");
    const char *zt = "{\"version\":3,\"partitions\":{\"0\":[2,3,1],\"1\":[1]},"
                     "\"adding_replicas\":{\"0\":[2,3]},\"removing_replicas\":{\"0\":[1]}}";
    bk_zk_topic a;
    BK_CHECK(bk_zkj_topic_parse(zt, strlen(zt), &a) == 0 && a.rf == 3 && a.nparts == 2);
    const int32_t *v;
    BK_CHECK(bk_zk_topic_reps(&a, 0, &v) == 3 && v[2] == 1);
    BK_CHECK(bk_zk_topic_reps(&a, 1, &v) == 1 && v[0] == 1);
    BK_CHECK(bk_zk_topic_adding(&a, 0, &v) == 2 && v[1] == 3);
    BK_CHECK(bk_zk_topic_removing(&a, 0, &v) == 1 && v[0] == 1);
    BK_CHECK(bk_zk_topic_adding(&a, 1, &v) == 0 && bk_zk_topic_removing(&a, 1, &v) == 0);
    bk_jw_init(&w);
    bk_zkj_topic(&w, &a);
    BK_CHECK(strcmp(w.p, "{\"partitions\":{\"0\":[2,3,1],\"1\":[1]},\"adding_replicas\":{\"0\":"
                         "[2,3]},\"removing_replicas\":{\"0\":[1]},\"version\":3}") == 0);
    bk_jw_fini(&w);
    bk_zk_topic_free(&a);
    const char *badmv = "{\"partitions\":{\"0\":[1]},\"adding_replicas\":{\"5\":[2]}}";
    BK_CHECK(bk_zkj_topic_parse(badmv, strlen(badmv), &a) != 0);
}
