/* config_test.c - unit tests for config.c (properties syntax, table, checks). */
#include "config.h"

#include "err.h"
#include "log.h"

#include "../../tests/unit.h"

#include <stdio.h>
#include <string.h>

static int warnings;
static char last_warning[256];

static void capture(int level, const char *msg, void *ud)
{
    if (level >= BK_LOG_WARN) {
        warnings++;
        snprintf(last_warning, sizeof last_warning, "%s", msg);
    }
}

static int load(bk_config *c, const char *text, char *err, size_t errlen)
{
    return bk_config_load_string(c, text, strlen(text), "test.properties", err, errlen);
}

/* Collect what the properties parser produces as "k=v;" pairs. */
static int collect_cb(void *ud, const char *key, const char *value, int lineno)
{
    char *out = ud;
    size_t n = strlen(out);
    snprintf(out + n, 512 - n, "%s=%s;", key, value);
    return 0;
}

static void test_props_syntax(void)
{
    char out[512];
    BK_TEST("config: properties syntax");
    const char *text = "# comment\n"
                       "! also a comment\n"
                       "   \n"
                       "a=1\n"
                       "  b : two words  \n"
                       "c three\n"
                       "d\\\n"
                       "   =cont\\\n"
                       "   inued\n"
                       "e=x\\\\\n"
                       "f=\\u0041\\t\\=\r\n"
                       "g\\ h=i\r"
                       "empty=\n"
                       "last=eof";
    out[0] = '\0';
    BK_CHECK(bk_props_parse(text, strlen(text), collect_cb, out) == 0);
    BK_CHECK(
        strcmp(out, "a=1;b=two words  ;c=three;d=continued;e=x\\;f=A\t=;g h=i;empty=;last=eof;") ==
        0);
    if (strcmp(out, "a=1;b=two words  ;c=three;d=continued;e=x\\;f=A\t=;g h=i;empty=;last=eof;"))
        fprintf(stderr, "  got: %s\n", out);

    /* a comment char inside a continuation is data, not a comment */
    out[0] = '\0';
    const char *t2 = "k=a,\\\n  #b\n";
    BK_CHECK(bk_props_parse(t2, strlen(t2), collect_cb, out) == 0);
    BK_CHECK(strcmp(out, "k=a,#b;") == 0);
}

static void test_defaults(void)
{
    bk_config c;
    char err[256];
    BK_TEST("config: defaults");
    BK_CHECK(bk_config_init(&c) == 0);
    BK_CHECK(c.broker_id == -1);
    BK_CHECK(c.listeners.n == 1 && strcmp(c.listeners.v[0], "PLAINTEXT://:9092") == 0);
    BK_CHECK(c.socket_request_max_bytes == 104857600);
    BK_CHECK(c.connections_max_idle_ms == 600000);
    BK_CHECK(c.auto_create_topics_enable);
    BK_CHECK(c.num_partitions == 1);
    BK_CHECK(c.offsets_topic_num_partitions == 50);
    BK_CHECK(c.zookeeper_connect == NULL);
    BK_CHECK(c.log_cleaner_min_cleanable_ratio == 0.5);
    BK_CHECK(bk_config_finish(&c, err, sizeof err) == 0);
    BK_CHECK(c.log_dirs.n == 1 && strcmp(c.log_dirs.v[0], "/tmp/kafka-logs") == 0);
    BK_CHECK(c.advertised_listeners.n == 1);
    BK_CHECK(c.nlistener_eps == 1 && c.listener_eps[0].port == 9092 &&
             c.listener_eps[0].host[0] == '\0' && strcmp(c.listener_eps[0].name, "PLAINTEXT") == 0);
    BK_CHECK(c.log_retention_ms == 168LL * 3600000);
    BK_CHECK(c.log_roll_ms == 168LL * 3600000);
    BK_CHECK(c.zookeeper_connection_timeout_ms == 18000);
    bk_config_fini(&c);
}

static void test_load(void)
{
    bk_config c;
    char err[256];
    BK_TEST("config: load, unknown keys, override");
    bk_log_set_hook(capture, NULL);
    warnings = 0;
    BK_CHECK(bk_config_init(&c) == 0);
    const char *text = "broker.id=3\n"
                       "listeners = PLAINTEXT://127.0.0.1:0, OTHER://[::1]:9093\n"
                       "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,OTHER:PLAINTEXT\n"
                       "log.dirs=/a, /b\n"
                       "auto.create.topics.enable=FALSE\n"
                       "no.such.key=1\n"
                       "log.retention.minutes=5\n"
                       "zookeeper.connect=localhost:2181/brook\n"
                       "log.cleaner.min.cleanable.ratio=0.25\n";
    BK_CHECK(load(&c, text, err, sizeof err) == 0);
    BK_CHECK(warnings == 1 && strstr(last_warning, "no.such.key") != NULL);
    BK_CHECK(bk_config_override(&c, "broker.id=4", err, sizeof err) == 0);
    BK_CHECK(bk_config_override(&c, "bogus=1", err, sizeof err) == 0 && warnings == 2);
    BK_CHECK(bk_config_override(&c, "novalue", err, sizeof err) == BK_EINVAL);
    BK_CHECK(bk_config_finish(&c, err, sizeof err) == 0);
    BK_CHECK(c.broker_id == 4);
    BK_CHECK(!c.auto_create_topics_enable);
    BK_CHECK(c.log_dirs.n == 2 && strcmp(c.log_dirs.v[1], "/b") == 0);
    BK_CHECK(c.log_retention_ms == 5 * 60000);
    BK_CHECK(c.log_cleaner_min_cleanable_ratio == 0.25);
    BK_CHECK(strcmp(c.zookeeper_connect, "localhost:2181/brook") == 0);
    BK_CHECK(c.nlistener_eps == 2 && c.listener_eps[0].port == 0);
    BK_CHECK(strcmp(c.listener_eps[1].host, "::1") == 0 && c.listener_eps[1].port == 9093);
    BK_CHECK(c.nadvertised_eps == 2); /* defaulted to listeners */
    BK_CHECK(bk_config_is_set(&c, "broker.id") && !bk_config_is_set(&c, "num.partitions"));
    char buf[128];
    bk_config_format(&c, bk_config_key_find("log.dirs"), buf, sizeof buf);
    BK_CHECK(strcmp(buf, "/a,/b") == 0);
    bk_config_fini(&c);
    bk_log_set_hook(NULL, NULL);
}

/* Set key=value on a fresh config; expect failure whose message contains
 * every needle. */
static void expect_bad(const char *key, const char *value, const char *needle)
{
    bk_config c;
    char err[512] = "";
    BK_CHECK(bk_config_init(&c) == 0);
    int rc = bk_config_set(&c, key, value, err, sizeof err);
    BK_CHECK(rc == BK_EINVAL);
    BK_CHECK(strstr(err, key) != NULL);
    BK_CHECK(strstr(err, needle) != NULL);
    if (rc != BK_EINVAL || !strstr(err, needle))
        fprintf(stderr, "  %s=%s -> rc %d '%s'\n", key, value, rc, err);
    bk_config_fini(&c);
}

static void test_bad_values(void)
{
    BK_TEST("config: bad values are rejected with key, value and reason");
    expect_bad("num.partitions", "abc", "Not a number of type INT");
    expect_bad("num.partitions", "1x", "Not a number");
    expect_bad("num.partitions", "", "Not a number");
    expect_bad("num.partitions", "0", "at least 1");
    expect_bad("broker.id", "2147483648", "Not a number of type INT");
    expect_bad("broker.id", "-2", "at least -1");
    expect_bad("socket.request.max.bytes", "0x10", "Not a number");
    expect_bad("connections.max.idle.ms", "99999999999999999999", "LONG");
    expect_bad("auto.create.topics.enable", "yes", "either true or false");
    expect_bad("log.cleaner.min.cleanable.ratio", "1.5", "between 0 and 1");
    expect_bad("log.cleaner.min.cleanable.ratio", "half", "DOUBLE");
    expect_bad("listeners", "localhost:9092", "NAME://host:port");
    expect_bad("listeners", "PLAINTEXT://host", "Unable to parse");
    expect_bad("listeners", "PLAINTEXT://host:99999", "port");
    expect_bad("listeners", "PLAINTEXT://ho st:1", "invalid character");
    expect_bad("listeners", "PLAINTEXT://:9092,", "NAME://host:port");
    expect_bad("log.message.timestamp.type", "Wrong", "CreateTime");
    expect_bad("log.dirs", "/a,,/b", "empty directory");

    /* Errors from a file carry file:line. */
    bk_config c;
    char err[512] = "";
    BK_CHECK(bk_config_init(&c) == 0);
    bk_log_set_hook(capture, NULL);
    BK_CHECK(load(&c, "a.b=1\n\nnum.partitions = -5\n", err, sizeof err) == BK_EINVAL);
    bk_log_set_hook(NULL, NULL);
    BK_CHECK(strstr(err, "test.properties:3:") && strstr(err, "-5") &&
             strstr(err, "num.partitions"));
    bk_config_fini(&c);

    /* Cross-key checks in finish. */
    BK_CHECK(bk_config_init(&c) == 0);
    BK_CHECK(bk_config_set(&c, "listeners", "SSL://:9093", err, sizeof err) == 0);
    BK_CHECK(bk_config_finish(&c, err, sizeof err) == 0);
    BK_CHECK(bk_config_listener_secproto(&c, "SSL") == 1);
    bk_config_fini(&c);

    BK_CHECK(bk_config_init(&c) == 0);
    BK_CHECK(bk_config_set(&c, "listeners", "FOO://:9093", err, sizeof err) == 0);
    BK_CHECK(bk_config_finish(&c, err, sizeof err) == BK_EINVAL &&
             strstr(err, "no security protocol"));
    bk_config_fini(&c);

    BK_CHECK(bk_config_init(&c) == 0);
    BK_CHECK(bk_config_set(&c, "listeners", "PLAINTEXT://:9092,INTERNAL://:9093", err,
                           sizeof err) == 0);
    BK_CHECK(bk_config_set(&c, "listener.security.protocol.map",
                           "PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT", err, sizeof err) == 0);
    BK_CHECK(bk_config_set(&c, "inter.broker.listener.name", "INTERNAL", err, sizeof err) == 0);
    BK_CHECK(bk_config_finish(&c, err, sizeof err) == 0 && c.inter_broker_ep == 1);
    bk_config_fini(&c);

    BK_CHECK(bk_config_init(&c) == 0);
    BK_CHECK(bk_config_set(&c, "listener.name.sasl_plaintext.plain.sasl.jaas.config",
                           "x required user_a=\"b\";", err, sizeof err) == 0);
    BK_CHECK(bk_config_set(&c, "listener.name.SASL_SSL.plain.sasl.jaas.config", "user_c=\"d\"", err,
                           sizeof err) == 0);
    BK_CHECK(c.plain_jaas && strcmp(c.plain_jaas, "x required user_a=\"b\";\nuser_c=\"d\"") == 0);
    BK_CHECK(bk_config_set(&c, "listener.name.x.other", "1", err, sizeof err) == BK_ENOENT);
    BK_CHECK(c.gssapi_jaas == NULL &&
             strcmp(c.sasl_kerberos_service_name, "kafka") == 0);
    BK_CHECK(bk_config_set(&c, "listener.name.sasl_plaintext.gssapi.sasl.jaas.config",
                           "com.sun.security.auth.module.Krb5LoginModule required keyTab=\"/k\";",
                           err, sizeof err) == 0);
    BK_CHECK(c.gssapi_jaas && strstr(c.gssapi_jaas, "keyTab=\"/k\"") &&
             !strstr(c.plain_jaas, "Krb5"));
    BK_CHECK(bk_config_set(&c, "sasl.jaas.config", "x required;", err, sizeof err) == BK_ENOENT);
    bk_config_fini(&c);

    BK_CHECK(bk_config_init(&c) == 0);
    BK_CHECK(bk_config_set(&c, "advertised.listeners", "OTHER://h:1", err, sizeof err) == 0);
    BK_CHECK(bk_config_finish(&c, err, sizeof err) == BK_EINVAL && strstr(err, "not in listeners"));
    bk_config_fini(&c);

    BK_CHECK(bk_config_init(&c) == 0);
    BK_CHECK(bk_config_set(&c, "listeners", "PLAINTEXT://:1,plaintext://:2", err, sizeof err) == 0);
    BK_CHECK(bk_config_finish(&c, err, sizeof err) == BK_EINVAL && strstr(err, "different name"));
    bk_config_fini(&c);

    BK_CHECK(bk_config_init(&c) == 0);
    BK_CHECK(bk_config_set(&c, "advertised.listeners", "PLAINTEXT://0.0.0.0:9092", err,
                           sizeof err) == 0);
    BK_CHECK(bk_config_finish(&c, err, sizeof err) == BK_EINVAL && strstr(err, "meta-address"));
    bk_config_fini(&c);

    BK_CHECK(bk_config_init(&c) == 0);
    BK_CHECK(bk_config_set(&c, "broker.id", "1001", err, sizeof err) == 0);
    BK_CHECK(bk_config_finish(&c, err, sizeof err) == BK_EINVAL &&
             strstr(err, "reserved.broker.max.id"));
    bk_config_fini(&c);

    BK_CHECK(bk_config_load_file(&c, "/nonexistent/brook.properties", err, sizeof err) == BK_EIO);
}

static void test_endpoint(void)
{
    bk_endpoint ep;
    const char *why;
    BK_TEST("config: endpoint parsing");
    BK_CHECK(bk_endpoint_parse("plaintext://:0", &ep, &why) == 0);
    BK_CHECK(strcmp(ep.name, "PLAINTEXT") == 0 && ep.host[0] == '\0' && ep.port == 0);
    BK_CHECK(bk_endpoint_parse("PLAINTEXT://[fe80::1%eth0]:9092", &ep, &why) == 0);
    BK_CHECK(strcmp(ep.host, "fe80::1%eth0") == 0 && ep.port == 9092);
    BK_CHECK(bk_endpoint_parse("PLAINTEXT://my-host.example.com:65535", &ep, &why) == 0);
    BK_CHECK(ep.port == 65535);
    BK_CHECK(bk_endpoint_parse("PLAINTEXT://h:-1", &ep, &why) == BK_EINVAL);
    BK_CHECK(bk_endpoint_parse("://h:1", &ep, &why) == BK_EINVAL);
    BK_CHECK(bk_endpoint_parse("PLAINTEXT://[::1:1", &ep, &why) == BK_EINVAL);
    BK_CHECK(bk_endpoint_parse("", &ep, &why) == BK_EINVAL);
}

void bk_test_config(void);
void bk_test_config(void)
{
    test_props_syntax();
    test_defaults();
    test_load();
    test_bad_values();
    test_endpoint();
}
