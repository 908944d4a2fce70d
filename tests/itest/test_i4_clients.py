"""Issue 4: kafka-python 2.0.2, kafkajs 2.2.4 and kcat 1.7.1 against Brook:
produce/consume round trips and topic administration.

Topics for the data-plane tests are auto-created (num.partitions); the
admin tests use each client's CreateTopics/DescribeConfigs/DeleteTopics.
"""

import json
import os
import time

import pytest

import i4util
import kwirex

HERE = os.path.dirname(os.path.abspath(__file__))
JS = os.path.join(HERE, "js")


def kp_common(brook):
    return dict(bootstrap_servers=brook.bootstrap, api_version_auto_timeout_ms=10000, request_timeout_ms=15000)


def kp_headers(tag, i):
    # kafka-python's producer only accepts bytes header values (no None)
    return [(k, v) for k, v in i4util.headers_of(tag, i) if v is not None]


# ---------------------------------------------------------------- kafka-python


@pytest.mark.smoke
@pytest.mark.timeout(120)
@pytest.mark.brook_config({"num.partitions": 3})
@pytest.mark.parametrize("codec", [None, "gzip", "snappy", "lz4", "zstd"])
def test_kafka_python_roundtrip(brook, codec):
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    topic = "kp-%s" % (codec or "none")
    tag = "kp%s" % (codec or "none")
    n = 2000
    i4util.auto_create(brook.bootstrap, topic, 3)
    p = KafkaProducer(acks="all", compression_type=codec, linger_ms=5, **kp_common(brook))
    try:
        futs = [
            p.send(topic, key=i4util.key_of(tag, i), value=i4util.value_of(tag, i), headers=kp_headers(tag, i))
            for i in range(n)
        ]
        p.flush(60)
        where = {}
        for i, f in enumerate(futs):
            md = f.get(timeout=30)
            where[i] = (md.partition, md.offset)
    finally:
        p.close(10)
    assert len({w[0] for w in where.values()}) == 3, "keyed messages should use all 3 partitions"

    c = KafkaConsumer(group_id=None, enable_auto_commit=False, fetch_max_wait_ms=100,
                      consumer_timeout_ms=1000, **kp_common(brook))
    try:
        tps = [TopicPartition(topic, i) for i in range(3)]
        c.assign(tps)
        c.seek_to_beginning(*tps)
        got = []
        deadline = time.monotonic() + 60
        while len(got) < n and time.monotonic() < deadline:
            for tp, recs in c.poll(timeout_ms=500, max_records=5000).items():
                got.extend(recs)
    finally:
        c.close()
    assert len(got) == n, "consumed %d of %d" % (len(got), n)
    seen = set()
    last = {}
    for r in got:
        i = i4util.index_of(tag, r.key)
        assert i not in seen, "duplicate message %d" % i
        seen.add(i)
        assert (r.partition, r.offset) == where[i], "message %d at %s, producer got %s" % (i, (r.partition, r.offset), where[i])
        assert r.value == i4util.value_of(tag, i), "message %d: value %r" % (i, r.value)
        assert list(r.headers) == kp_headers(tag, i), "message %d: headers %r" % (i, r.headers)
        assert r.partition not in last or last[r.partition] < r.offset
        last[r.partition] = r.offset
    if codec:
        # the stored batches carry the producer's codec (kafka-python sends a
        # batch uncompressed when compressing it would not make it smaller)
        batches, _ = kwirex.fetch_all((brook.host, brook.port), topic, 0)
        codecs = {b["compression"] for b in batches}
        assert kwirex.COMPRESSION[codec] in codecs and codecs <= {0, kwirex.COMPRESSION[codec]}, codecs


def _kp_describe_entries(resp):
    """{name: entry dict} from a kafka-python DescribeConfigsResponse v0-v2."""
    (res,) = resp.resources
    err, msg, _rtype, _rname, entries = res[:5]
    assert err == 0, "DescribeConfigs error %d %s" % (err, msg)
    out = {}
    v = resp.API_VERSION
    for e in entries:
        if v == 0:
            name, value, ro, is_default, sensitive = e
            out[name] = dict(value=value, read_only=ro, is_default=is_default, sensitive=sensitive, source=None)
        else:
            name, value, ro, source, sensitive, _syn = e
            out[name] = dict(value=value, read_only=ro, is_default=source == 5, sensitive=sensitive, source=source)
    return out


@pytest.mark.smoke
@pytest.mark.timeout(120)
def test_kafka_python_admin(brook):
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    a = KafkaAdminClient(**kp_common(brook))
    try:
        r = a.create_topics([NewTopic("kp-admin", 3, 1, topic_configs={"retention.ms": "3600000"})], timeout_ms=10000)
        assert [(t[0], t[1]) for t in r.topic_errors] == [("kp-admin", 0)], r
        i4util.wait_metadata(brook.bootstrap, "kp-admin", 3)
        assert "kp-admin" in a.list_topics()

        with pytest.raises(TopicAlreadyExistsError):  # kafka-python 2.0.2 raises topic errors
            a.create_topics([NewTopic("kp-admin", 3, 1)], timeout_ms=10000)

        (resp,) = a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "kp-admin")])
        e = _kp_describe_entries(resp)
        assert e["retention.ms"]["value"] == "3600000"
        assert e["retention.ms"]["is_default"] is False
        assert e["retention.ms"]["read_only"] is False
        assert e["retention.ms"]["source"] in (None, 1), e["retention.ms"]  # DYNAMIC_TOPIC_CONFIG
        assert e["cleanup.policy"]["value"] == "delete"
        assert e["cleanup.policy"]["is_default"] is True
        assert e["cleanup.policy"]["source"] in (None, 5), e["cleanup.policy"]  # DEFAULT_CONFIG
        assert e["max.message.bytes"]["value"] == "1048588"
        assert not any(x["sensitive"] for x in e.values())

        r = a.delete_topics(["kp-admin"], timeout_ms=10000)
        assert [(t[0], t[1]) for t in r.topic_error_codes] == [("kp-admin", 0)], r
        deadline = time.monotonic() + 10
        while "kp-admin" in a.list_topics() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "kp-admin" not in a.list_topics()
    finally:
        a.close()


# ---------------------------------------------------------------- kafkajs


@pytest.mark.smoke
@pytest.mark.timeout(120)
@pytest.mark.brook_config({"num.partitions": 3})
def test_kafkajs_roundtrip(brook):
    node, env = i4util.node_env()
    n = 3000
    r = i4util.run([node, os.path.join(JS, "i4_roundtrip.js"), brook.bootstrap, "js-rt", "3", str(n)], env=env)
    assert r.returncode == 0, "kafkajs failed (%d):\n%s" % (r.returncode, r.stderr.decode(errors="replace"))
    out = json.loads(r.stdout)
    assert out["problems"] == [], out["problems"]
    assert out["produced"] == out["consumed"] == n, out
    assert sum(out["partitions"].values()) == n, out


@pytest.mark.smoke
@pytest.mark.timeout(120)
def test_kafkajs_admin(brook):
    node, env = i4util.node_env()
    r = i4util.run([node, os.path.join(JS, "i4_admin.js"), brook.bootstrap, "js-admin"], env=env)
    assert r.returncode == 0, "kafkajs failed (%d):\n%s" % (r.returncode, r.stderr.decode(errors="replace"))
    out = json.loads(r.stdout)
    assert out["created"] is True, out
    assert out["createdAgain"] is False, out  # TOPIC_ALREADY_EXISTS, which kafkajs reports as false
    (t,) = out["metadata"]["topics"]
    assert t["name"] == "js-admin"
    assert sorted(p["partitionId"] for p in t["partitions"]) == [0, 1, 2]
    for p in t["partitions"]:
        assert p["leader"] == 0 and p["replicas"] == [0] and p["isr"] == [0], p
    (res,) = out["configs"]
    assert res["errorCode"] == 0 and res["resourceName"] == "js-admin", res
    e = {c["configName"]: c for c in res["configEntries"]}
    assert e["retention.ms"]["configValue"] == "3600000"
    assert e["retention.ms"]["isDefault"] is False
    assert e["cleanup.policy"]["configValue"] == "compact"
    assert e["cleanup.policy"]["isDefault"] is False
    assert e["segment.bytes"]["isDefault"] is True, e["segment.bytes"]
    for c in e.values():
        assert c["readOnly"] is False and c["isSensitive"] is False, c
    assert "js-admin" in out["topicsBeforeDelete"]
    assert "js-admin" not in out["topicsAfterDelete"]


@pytest.mark.timeout(120)
@pytest.mark.brook_config({"num.partitions": 2})
def test_kafkajs_group_consumer(brook):
    """kafkajs's real consumer needs consumer groups: runs once the broker
    advertises the group APIs (a later milestone), skipped before."""
    if not i4util.broker_has(brook, 8, 9, 10, 11, 12, 13, 14):
        pytest.skip("broker does not advertise the consumer-group APIs yet")
    prod = i4util.produce_confluent(brook.bootstrap, "js-group", "jg", 500, acks="all")
    assert not prod.errors
    node, env = i4util.node_env()
    r = i4util.run([node, os.path.join(JS, "i4_group_consume.js"), brook.bootstrap, "js-group", "500"], env=env)
    assert r.returncode == 0, "kafkajs failed (%d):\n%s" % (r.returncode, r.stderr.decode(errors="replace"))
    out = json.loads(r.stdout)
    keys = sorted(m["key"] for m in out["messages"])
    assert keys == sorted(i4util.key_of("jg", i).decode() for i in range(500))


# ---------------------------------------------------------------- kcat


@pytest.mark.smoke
@pytest.mark.timeout(120)
@pytest.mark.brook_config({"num.partitions": 3})
def test_kcat_produce_consume_and_list(brook):
    kc = i4util.kcat()
    i4util.auto_create(brook.bootstrap, "kc", 3)
    lines = b"k1:v1\nk2:\nk3:v3 with spaces\n:v4\nk5:\xc3\xa9t\xc3\xa9\n"
    r = i4util.run([kc, "-P", "-b", brook.bootstrap, "-t", "kc", "-p", "1", "-K:", "-Z",
                    "-H", "h1=a", "-H", "h2=b=c", "-X", "acks=all"], input=lines)
    assert r.returncode == 0, r.stderr
    fmt = r"o=%o k=%k K=%K S=%S v=%s h=%h\n"
    r = i4util.run([kc, "-C", "-b", brook.bootstrap, "-t", "kc", "-p", "1", "-o", "beginning", "-e", "-Z",
                    "-f", fmt])
    assert r.returncode == 0, r.stderr
    got = r.stdout.decode().splitlines()
    assert got == [
        "o=0 k=k1 K=2 S=2 v=v1 h=h1=a,h2=b=c",
        "o=1 k=k2 K=2 S=-1 v=NULL h=h1=a,h2=b=c",  # -Z: empty value sent as NULL
        "o=2 k=k3 K=2 S=14 v=v3 with spaces h=h1=a,h2=b=c",
        "o=3 k=NULL K=-1 S=2 v=v4 h=h1=a,h2=b=c",  # -Z: empty key sent as NULL
        "o=4 k=k5 K=2 S=5 v=\u00e9t\u00e9 h=h1=a,h2=b=c",
    ], got

    # JSON envelope: null payload and key, create-time timestamps
    r = i4util.run([kc, "-C", "-b", brook.bootstrap, "-t", "kc", "-p", "1", "-o", "beginning", "-e", "-J"])
    assert r.returncode == 0, r.stderr
    js = [json.loads(x) for x in r.stdout.decode().splitlines()]
    assert [m["payload"] for m in js] == ["v1", None, "v3 with spaces", "v4", "\u00e9t\u00e9"]
    assert [m["key"] for m in js] == ["k1", "k2", "k3", None, "k5"]
    assert all(m["tstype"] == "create" and m["broker"] == 0 for m in js), js
    assert all(m["headers"] == ["h1", "a", "h2", "b=c"] for m in js), js

    # -o with a relative offset from the end, -c count
    r = i4util.run([kc, "-C", "-b", brook.bootstrap, "-t", "kc", "-p", "1", "-o", "-2", "-e", "-f", r"%o\n"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().split() == ["3", "4"]

    # the other partitions are empty
    for p in ("0", "2"):
        r = i4util.run([kc, "-C", "-b", brook.bootstrap, "-t", "kc", "-p", p, "-o", "beginning", "-e", "-f", r"%o\n"])
        assert r.returncode == 0 and r.stdout == b"", (p, r.stdout, r.stderr)

    r = i4util.run([kc, "-L", "-b", brook.bootstrap, "-t", "kc"])
    assert r.returncode == 0, r.stderr
    text = r.stdout.decode()
    assert 'topic "kc" with 3 partitions:' in text, text
    for p in range(3):
        assert "partition %d, leader 0, replicas: 0, isrs: 0" % p in text, text

    r = i4util.run([kc, "-L", "-J", "-b", brook.bootstrap])
    md = json.loads(r.stdout)
    (t,) = [t for t in md["topics"] if t["topic"] == "kc"]
    assert [p["partition"] for p in t["partitions"]] == [0, 1, 2]


@pytest.mark.smoke
@pytest.mark.timeout(120)
@pytest.mark.brook_config({"num.partitions": 1})
def test_kcat_compressed_produce(brook):
    kc = i4util.kcat()
    i4util.auto_create(brook.bootstrap, "kcz", 1)
    n = 0
    for codec in ("gzip", "snappy", "lz4"):
        data = b"".join(b"%s-%d:value %s %d\n" % (codec.encode(), i, codec.encode(), i) for i in range(500))
        r = i4util.run([kc, "-P", "-b", brook.bootstrap, "-t", "kcz", "-K:", "-z", codec,
                        "-X", "linger.ms=50"], input=data)
        assert r.returncode == 0, r.stderr
        n += 500
    r = i4util.run([kc, "-C", "-b", brook.bootstrap, "-t", "kcz", "-o", "beginning", "-e", "-f", r"%k=%s\n"])
    assert r.returncode == 0, r.stderr
    got = r.stdout.decode().splitlines()
    want = ["%s-%d=value %s %d" % (c, i, c, i) for c in ("gzip", "snappy", "lz4") for i in range(500)]
    assert got == want
    batches, hw = kwirex.fetch_all((brook.host, brook.port), "kcz", 0)
    assert hw == n
    codecs = {b["compression"] for b in batches}
    assert codecs == {1, 2, 3}, (
        "stored codecs %s, expected gzip, snappy, lz4 (1, 2, 3); librdkafka sends lz4 uncompressed (0) "
        "unless the broker advertises FindCoordinator v0 (CLIENTS.md 2.1)" % sorted(codecs))
