"""Issue 4: topic administration as clients see it.

confluent-kafka 1.7 AdminClient (librdkafka 2.0.2: CreateTopics <=v4,
DeleteTopics <=v1, CreatePartitions v0, DescribeConfigs <=v1, AlterConfigs
v0): create with configs, validate_only, replication factor 2 on one node,
bad names/configs/partition counts, describe_configs (value, source,
is_default, is_read_only, is_sensitive for overridden vs default entries),
alter_configs (a full replacement of the overrides), create_partitions,
delete_topics. IncrementalAlterConfigs, DescribeCluster, DescribeLogDirs and
topic ids (Metadata v10+) through kwirex, since these clients lack them.

Kafka's rules used here (librdkafka reports is_default = source is
DEFAULT_CONFIG for DescribeConfigs v1+):
  - a topic override: source DYNAMIC_TOPIC_CONFIG, not default
  - a topic entry taken from the broker's server.properties (log.* synonym):
    STATIC_BROKER_CONFIG, not default
  - a topic entry nobody set: DEFAULT_CONFIG, default
  - topic configs are never read-only; broker.id is read-only; nothing here
    is sensitive (passwords would be, with a null value)
"""

import os
import time
import uuid

import pytest

import i4util
import kwirex

SEGMENT = 104857600  # log.segment.bytes in server.properties: a STATIC_BROKER_CONFIG default


def _admin(brook):
    return i4util.admin(brook.bootstrap)


def _err(fut, timeout=20):
    """The Kafka error code a future failed with (0 = success)."""
    from confluent_kafka import KafkaException

    try:
        fut.result(timeout)
        return 0
    except KafkaException as e:
        return e.args[0].code()


def _create(a, topic, parts=1, rf=1, config=None, validate_only=False):
    from confluent_kafka.admin import NewTopic

    fs = a.create_topics([NewTopic(topic, parts, rf, config=dict(config or {}))], operation_timeout=10,
                         request_timeout=15, validate_only=validate_only)
    return _err(fs[topic])


def _describe(a, topic, rtype=None):
    from confluent_kafka.admin import ConfigResource

    ResourceType = ConfigResource.Type

    res = ConfigResource(rtype if rtype is not None else ResourceType.TOPIC, topic)
    fs = a.describe_configs([res], request_timeout=15)
    return fs[res].result(20)


def _topics(a):
    return set(a.list_topics(timeout=10).topics)


def _assert_entry(e, name, value, source, read_only=False):
    from confluent_kafka.admin import ConfigSource

    c = e[name]
    got = (c.value, ConfigSource(c.source), c.is_default, c.is_read_only, c.is_sensitive)
    want = (value, source, source == ConfigSource.DEFAULT_CONFIG, read_only, False)
    assert got == want, "%s: (value, source, is_default, is_read_only, is_sensitive) = %r, expected %r" % (name, got, want)


# ---------------------------------------------------------------- create / describe


@pytest.mark.smoke
@pytest.mark.timeout(90)
@pytest.mark.brook_config({"log.segment.bytes": SEGMENT})
def test_create_with_configs_and_describe(brook):
    from confluent_kafka.admin import ConfigSource

    a = _admin(brook)
    cfg = {"retention.ms": "3600000", "cleanup.policy": "compact", "max.message.bytes": "2048"}
    assert _create(a, "adm-cfg", 3, config=cfg) == 0
    md = i4util.wait_metadata(brook.bootstrap, "adm-cfg", 3)
    assert all(p["replica_nodes"] == [0] and p["isr_nodes"] == [0] for p in md["partitions"]), md

    e = _describe(a, "adm-cfg")
    for k, v in cfg.items():
        _assert_entry(e, k, v, ConfigSource.DYNAMIC_TOPIC_CONFIG)
    _assert_entry(e, "segment.bytes", str(SEGMENT), ConfigSource.STATIC_BROKER_CONFIG)
    _assert_entry(e, "compression.type", "producer", ConfigSource.DEFAULT_CONFIG)
    _assert_entry(e, "retention.bytes", "-1", ConfigSource.DEFAULT_CONFIG)
    _assert_entry(e, "min.insync.replicas", "1", ConfigSource.DEFAULT_CONFIG)
    for c in e.values():
        assert not c.is_read_only and not c.is_sensitive, (c.name, c.is_read_only, c.is_sensitive)
    # the topic configs Kafka always lists (a few of them)
    for k in ("cleanup.policy", "compression.type", "delete.retention.ms", "file.delete.delay.ms", "flush.messages",
              "flush.ms", "index.interval.bytes", "max.message.bytes", "message.timestamp.type",
              "min.cleanable.dirty.ratio", "min.insync.replicas", "retention.bytes", "retention.ms",
              "segment.bytes", "segment.index.bytes", "segment.ms", "unclean.leader.election.enable"):
        assert k in e, "DescribeConfigs lacks %s" % k

    # an auto-created topic has no overrides at all
    i4util.auto_create(brook.bootstrap, "adm-auto", 1)
    e = _describe(a, "adm-auto")
    assert not [c.name for c in e.values() if c.source == ConfigSource.DYNAMIC_TOPIC_CONFIG]
    _assert_entry(e, "max.message.bytes", "1048588", ConfigSource.DEFAULT_CONFIG)
    _assert_entry(e, "cleanup.policy", "delete", ConfigSource.DEFAULT_CONFIG)


@pytest.mark.smoke
@pytest.mark.timeout(90)
@pytest.mark.brook_config({"log.segment.bytes": SEGMENT})
def test_describe_broker_configs(brook):
    from confluent_kafka.admin import ConfigResource, ConfigSource

    ResourceType = ConfigResource.Type

    a = _admin(brook)
    e = _describe(a, "0", ResourceType.BROKER)
    _assert_entry(e, "broker.id", "0", ConfigSource.STATIC_BROKER_CONFIG, read_only=True)
    # Kafka can change these two at run time (dynamic broker configs), so it
    # reports them not read-only; a broker without dynamic broker configs
    # rightly says read-only. Either way the flag must match what an
    # (incremental) alter of the broker resource does.
    for name, value, source in (("log.segment.bytes", str(SEGMENT), ConfigSource.STATIC_BROKER_CONFIG),
                                 ("message.max.bytes", "1048588", ConfigSource.DEFAULT_CONFIG)):
        ro = e[name].is_read_only
        _assert_entry(e, name, value, source, read_only=ro)
        (r,) = kwirex.incremental_alter_configs((brook.host, brook.port), [
            (kwirex.RESOURCE_BROKER, "0", [(name, kwirex.OP_SET, "2000000")])], validate_only=True)
        assert (r[0] != 0) == ro, "%s: read-only %s, but a validate-only alter answered %r" % (name, ro, r)
    # Kafka's PASSWORD-type configs are sensitive (KIP-651 made the PEM
    # key material one of them)
    secret = {"ssl.keystore.key", "ssl.keystore.certificate.chain", "ssl.truststore.certificates"}
    for c in e.values():
        if "password" in c.name or c.name in secret or c.name.endswith("sasl.jaas.config"):
            assert c.is_sensitive and c.value is None, (c.name, c.value)
        else:
            assert not c.is_sensitive, c.name


@pytest.mark.smoke
@pytest.mark.timeout(90)
def test_create_errors(brook):
    a = _admin(brook)
    # validate_only: checked, answered, not created
    assert _create(a, "adm-dry", 2, config={"retention.ms": "1000"}, validate_only=True) == 0
    assert "adm-dry" not in _topics(a)
    # more replicas than brokers
    assert _create(a, "adm-rf2", 1, rf=2) == kwirex.INVALID_REPLICATION_FACTOR
    assert _create(a, "adm-rf2", 1, rf=2, validate_only=True) == kwirex.INVALID_REPLICATION_FACTOR
    assert "adm-rf2" not in _topics(a)
    # bad partition count, name and configs
    assert _create(a, "adm-p0", 0) == kwirex.INVALID_PARTITIONS
    assert _create(a, "bad name!", 1) == 17  # INVALID_TOPIC_EXCEPTION
    assert _create(a, "adm-badcfg", 1, config={"cleanup.policy": "bogus"}) == kwirex.INVALID_CONFIG
    assert _create(a, "adm-badcfg", 1, config={"no.such.config": "1"}) == kwirex.INVALID_CONFIG
    assert _create(a, "adm-badcfg", 1, config={"retention.ms": "soon"}) == kwirex.INVALID_CONFIG
    assert not {"adm-p0", "bad name!", "adm-badcfg"} & _topics(a)
    # twice
    assert _create(a, "adm-twice", 1) == 0
    assert _create(a, "adm-twice", 1) == kwirex.TOPIC_ALREADY_EXISTS
    assert _create(a, "adm-twice", 1, validate_only=True) == kwirex.TOPIC_ALREADY_EXISTS


# ---------------------------------------------------------------- alter


@pytest.mark.smoke
@pytest.mark.timeout(90)
def test_alter_configs_replaces_all_overrides(brook):
    """AlterConfigs (not incremental) sets the complete set of overrides:
    whatever is not in the request goes back to its default."""
    from confluent_kafka.admin import ConfigResource, ConfigSource

    ResourceType = ConfigResource.Type

    a = _admin(brook)
    assert _create(a, "adm-alter", 1, config={"cleanup.policy": "compact", "retention.ms": "3600000"}) == 0

    res = ConfigResource(ResourceType.TOPIC, "adm-alter", set_config={"retention.ms": "7200000", "segment.ms": "600000"})
    assert _err(a.alter_configs([res], request_timeout=15)[res]) == 0
    e = _describe(a, "adm-alter")
    _assert_entry(e, "retention.ms", "7200000", ConfigSource.DYNAMIC_TOPIC_CONFIG)
    _assert_entry(e, "segment.ms", "600000", ConfigSource.DYNAMIC_TOPIC_CONFIG)
    _assert_entry(e, "cleanup.policy", "delete", ConfigSource.DEFAULT_CONFIG)

    # validate_only changes nothing; an invalid value is refused and changes nothing
    res = ConfigResource(ResourceType.TOPIC, "adm-alter", set_config={"retention.ms": "1"})
    assert _err(a.alter_configs([res], request_timeout=15, validate_only=True)[res]) == 0
    res = ConfigResource(ResourceType.TOPIC, "adm-alter", set_config={"cleanup.policy": "bogus"})
    assert _err(a.alter_configs([res], request_timeout=15)[res]) == kwirex.INVALID_CONFIG
    e = _describe(a, "adm-alter")
    _assert_entry(e, "retention.ms", "7200000", ConfigSource.DYNAMIC_TOPIC_CONFIG)
    _assert_entry(e, "cleanup.policy", "delete", ConfigSource.DEFAULT_CONFIG)

    # an unknown topic
    res = ConfigResource(ResourceType.TOPIC, "adm-nosuch", set_config={"retention.ms": "1000"})
    assert _err(a.alter_configs([res], request_timeout=15)[res]) == kwirex.UNKNOWN_TOPIC_OR_PARTITION

    # overrides survive a restart
    brook.restart()
    e = _describe(_admin(brook), "adm-alter")
    _assert_entry(e, "retention.ms", "7200000", ConfigSource.DYNAMIC_TOPIC_CONFIG)
    _assert_entry(e, "segment.ms", "600000", ConfigSource.DYNAMIC_TOPIC_CONFIG)


@pytest.mark.smoke
@pytest.mark.timeout(90)
def test_incremental_alter_configs(brook):
    from confluent_kafka.admin import ConfigSource

    a = _admin(brook)
    addr = (brook.host, brook.port)
    assert _create(a, "adm-inc", 1, config={"retention.ms": "3600000", "segment.ms": "600000"}) == 0
    T = kwirex.RESOURCE_TOPIC
    # SET one, DELETE another, keep the rest (unlike AlterConfigs)
    r = kwirex.incremental_alter_configs(addr, [(T, "adm-inc", [("max.message.bytes", kwirex.OP_SET, "4096"),
                                                                ("segment.ms", kwirex.OP_DELETE, None)])])
    assert [x[0] for x in r] == [0], r
    e = _describe(a, "adm-inc")
    _assert_entry(e, "max.message.bytes", "4096", ConfigSource.DYNAMIC_TOPIC_CONFIG)
    _assert_entry(e, "retention.ms", "3600000", ConfigSource.DYNAMIC_TOPIC_CONFIG)
    _assert_entry(e, "segment.ms", "604800000", ConfigSource.DEFAULT_CONFIG)
    # APPEND / SUBTRACT on a list config start from its default ("delete")
    r = kwirex.incremental_alter_configs(addr, [(T, "adm-inc", [("cleanup.policy", kwirex.OP_APPEND, "compact")])])
    assert [x[0] for x in r] == [0], r
    assert set(_describe(a, "adm-inc")["cleanup.policy"].value.split(",")) == {"delete", "compact"}
    r = kwirex.incremental_alter_configs(addr, [(T, "adm-inc", [("cleanup.policy", kwirex.OP_SUBTRACT, "delete")])])
    assert [x[0] for x in r] == [0], r
    _assert_entry(_describe(a, "adm-inc"), "cleanup.policy", "compact", ConfigSource.DYNAMIC_TOPIC_CONFIG)
    # errors: a bad value, APPEND to a non-list config, an unknown topic; validate_only changes nothing
    r = kwirex.incremental_alter_configs(addr, [(T, "adm-inc", [("retention.ms", kwirex.OP_SET, "soon")])])
    assert r[0][0] == kwirex.INVALID_CONFIG, r
    r = kwirex.incremental_alter_configs(addr, [(T, "adm-inc", [("retention.ms", kwirex.OP_APPEND, "5")])])
    assert r[0][0] in (kwirex.INVALID_CONFIG, 42), r  # Kafka: INVALID_REQUEST
    r = kwirex.incremental_alter_configs(addr, [(T, "adm-nosuch", [("retention.ms", kwirex.OP_SET, "5")])])
    assert r[0][0] == kwirex.UNKNOWN_TOPIC_OR_PARTITION, r
    r = kwirex.incremental_alter_configs(addr, [(T, "adm-inc", [("retention.ms", kwirex.OP_SET, "5")])],
                                         validate_only=True)
    assert r[0][0] == 0, r
    _assert_entry(_describe(a, "adm-inc"), "retention.ms", "3600000", ConfigSource.DYNAMIC_TOPIC_CONFIG)


# ---------------------------------------------------------------- partitions / delete


@pytest.mark.smoke
@pytest.mark.timeout(90)
def test_create_partitions(brook):
    from confluent_kafka import Producer
    from confluent_kafka.admin import NewPartitions

    a = _admin(brook)
    assert _create(a, "adm-parts", 3) == 0
    i4util.wait_metadata(brook.bootstrap, "adm-parts", 3)
    ids_before = kwirex.topic_ids((brook.host, brook.port), names=["adm-parts"])

    def grow(n, validate_only=False):
        fs = a.create_partitions([NewPartitions("adm-parts", n)], operation_timeout=10, request_timeout=15,
                                 validate_only=validate_only)
        return _err(fs["adm-parts"])

    assert grow(6, validate_only=True) == 0
    i4util.wait_metadata(brook.bootstrap, "adm-parts", 3)
    assert grow(6) == 0
    md = i4util.wait_metadata(brook.bootstrap, "adm-parts", 6)
    assert sorted(p["partition_index"] for p in md["partitions"]) == list(range(6))
    assert grow(6) == kwirex.INVALID_PARTITIONS  # no increase
    assert grow(4) == kwirex.INVALID_PARTITIONS  # a decrease
    fs = a.create_partitions([NewPartitions("adm-nosuch", 4)], request_timeout=15)
    assert _err(fs["adm-nosuch"]) == kwirex.UNKNOWN_TOPIC_OR_PARTITION
    assert kwirex.topic_ids((brook.host, brook.port), names=["adm-parts"]) == ids_before

    # the new partitions take data
    got = []
    p = Producer({"bootstrap.servers": brook.bootstrap, "acks": "all"})
    for part in (5, 3, 0):
        p.produce("adm-parts", value=b"to %d" % part, partition=part,
                  on_delivery=lambda e, m: got.append((e, m.partition(), m.offset())))
    p.flush(15)
    assert sorted(got, key=lambda x: x[1]) == [(None, 0, 0), (None, 3, 0), (None, 5, 0)], got
    batches, hw = kwirex.fetch_all((brook.host, brook.port), "adm-parts", 5)
    assert hw == 1 and batches[0]["records"][0][2] == b"to 5"

    # still 6 after a restart
    brook.restart()
    i4util.wait_metadata(brook.bootstrap, "adm-parts", 6)
    assert kwirex.list_offset((brook.host, brook.port), "adm-parts", 5, kwirex.LATEST) == (0, 1)


@pytest.mark.smoke
@pytest.mark.timeout(90)
def test_delete_topics(brook):
    from confluent_kafka import Producer

    a = _admin(brook)
    addr = (brook.host, brook.port)
    assert _create(a, "adm-del", 2) == 0
    i4util.wait_metadata(brook.bootstrap, "adm-del", 2)
    old_id = kwirex.topic_ids(addr, names=["adm-del"])["adm-del"]
    p = Producer({"bootstrap.servers": brook.bootstrap, "acks": "all"})
    for i in range(10):
        p.produce("adm-del", value=b"v%d" % i, partition=i % 2)
    assert p.flush(15) == 0

    fs = a.delete_topics(["adm-del"], operation_timeout=10, request_timeout=15)
    assert _err(fs["adm-del"]) == 0
    deadline = time.monotonic() + 10
    while "adm-del" in _topics(a) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "adm-del" not in _topics(a)
    md = kwirex.metadata(addr, 12, ["adm-del"])
    assert md["topics"][0]["error_code"] == kwirex.UNKNOWN_TOPIC_OR_PARTITION, md["topics"]
    fs = a.delete_topics(["adm-del"], operation_timeout=10, request_timeout=15)
    assert _err(fs["adm-del"]) == kwirex.UNKNOWN_TOPIC_OR_PARTITION

    # a new topic of the same name: a new id, no old data
    assert _create(a, "adm-del", 1) == 0
    i4util.wait_metadata(brook.bootstrap, "adm-del", 1)
    new_id = kwirex.topic_ids(addr, names=["adm-del"])["adm-del"]
    assert new_id != old_id and new_id != uuid.UUID(int=0)
    assert kwirex.list_offset(addr, "adm-del", 0, kwirex.LATEST) == (0, 0)

    # the deletion is durable
    brook.restart()
    i4util.wait_metadata(brook.bootstrap, "adm-del", 1)
    assert kwirex.topic_ids(addr, names=["adm-del"])["adm-del"] == new_id
    assert kwirex.list_offset(addr, "adm-del", 0, kwirex.LATEST) == (0, 0)


# ---------------------------------------------------------------- topic ids


@pytest.mark.smoke
@pytest.mark.timeout(90)
@pytest.mark.brook_config({"num.partitions": 2})
def test_topic_ids_stable_across_restarts(brook):
    a = _admin(brook)
    addr = (brook.host, brook.port)
    assert _create(a, "ids-a", 3) == 0
    i4util.wait_metadata(brook.bootstrap, "ids-a", 3)
    i4util.auto_create(brook.bootstrap, "ids-b", 2)
    ids = kwirex.topic_ids(addr)
    assert set(ids) >= {"ids-a", "ids-b"}
    assert ids["ids-a"] != ids["ids-b"]
    for name in ("ids-a", "ids-b"):
        assert ids[name] != uuid.UUID(int=0), "%s has the zero topic id" % name
        for v in (10, 11, 12):
            assert kwirex.topic_ids(addr, version=v, names=[name]) == {name: ids[name]}, "Metadata v%d" % v

    brook.restart()
    assert kwirex.topic_ids(addr) == ids
    brook.kill9()
    brook.start()
    assert kwirex.topic_ids(addr) == ids
    i4util.wait_metadata(brook.bootstrap, "ids-a", 3)
    i4util.wait_metadata(brook.bootstrap, "ids-b", 2)


# ---------------------------------------------------------------- cluster / log dirs


@pytest.mark.smoke
@pytest.mark.timeout(60)
@pytest.mark.parametrize("version", [0, 1])
def test_describe_cluster(brook, version):
    addr = (brook.host, brook.port)
    dc = kwirex.describe_cluster(addr, version)
    md = kwirex.metadata(addr, 12)
    assert dc["error_code"] == 0 and dc["error_message"] is None, dc
    assert dc["cluster_id"] == md["cluster_id"] and dc["cluster_id"], (dc, md["cluster_id"])
    assert dc["controller_id"] == 0
    assert [(b["broker_id"], b["host"], b["port"], b["rack"]) for b in dc["brokers"]] == [(0, brook.host, brook.port, None)]
    assert dc["cluster_authorized_operations"] == -2147483648  # not requested
    if version >= 1:
        assert dc["endpoint_type"] == 1


@pytest.mark.smoke
@pytest.mark.timeout(90)
@pytest.mark.brook_config({"num.partitions": 2})
@pytest.mark.parametrize("version", [1, 2, 3, 4])
def test_describe_log_dirs(brook, version):
    addr = (brook.host, brook.port)
    i4util.auto_create(brook.bootstrap, "ld", 2)
    i4util.auto_create(brook.bootstrap, "ld-other", 2)
    for i in range(20):
        r = kwirex.produce(addr, "ld", 0, kwirex.record_batch([(b"k", b"x" * 500, [])]), acks=-1)
        assert r["error_code"] == 0

    out = kwirex.describe_log_dirs(addr, version)
    assert out["error_code"] == 0
    (d,) = out["results"]
    assert d["error_code"] == 0
    assert os.path.realpath(d["log_dir"]) == os.path.realpath(brook.datadir), d["log_dir"]
    assert os.path.isabs(d["log_dir"])
    assert set(d["topics"]) >= {"ld", "ld-other"}
    ld = d["topics"]["ld"]
    assert set(ld) == {0, 1}
    assert ld[0]["size"] >= 20 * 500, ld  # 20 batches of > 500 bytes
    assert ld[1]["size"] == 0, ld
    assert ld[0]["is_future"] is False and ld[0]["offset_lag"] == 0
    if version >= 4:
        assert d["total_bytes"] > 0 and 0 <= d["usable_bytes"] <= d["total_bytes"], d

    # only what was asked for
    out = kwirex.describe_log_dirs(addr, version, topics={"ld": [0]})
    (d,) = out["results"]
    assert list(d["topics"]) == ["ld"] and list(d["topics"]["ld"]) == [0], d["topics"]
    assert d["topics"]["ld"][0]["size"] == ld[0]["size"]
