"""Data path with real clients: Produce, Fetch (long polling, out of range),
ListOffsets by timestamp, DeleteRecords.

Clients: kcat 1.7.1 and confluent-kafka 1.7.0 (both librdkafka 2.0.2:
Produce v7, Fetch v11, ListOffsets v2), kafka-python 2.0.2 (Produce v7,
Fetch v4, ListOffsets v1), plus raw requests for what clients do not send
(tests/lib/kwirex.py). Topics are auto-created by the clients' Metadata
requests (auto.create.topics.enable defaults to true) with num.partitions
partitions. Consumers use assign() without committing: group coordination
is a later milestone.
"""

import shutil
import subprocess
import threading
import time

import pytest

import kwire
import kwirex

CLIENT_TIMEOUT = 60


def run(cmd, input=None):
    return subprocess.run(cmd, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=CLIENT_TIMEOUT, text=True)


def kcat():
    path = shutil.which("kcat")
    assert path, "kcat is not installed (scripts/deps.sh installs it)"
    return path


def producer(brook, **extra):
    from confluent_kafka import Producer

    conf = {"bootstrap.servers": brook.bootstrap, "acks": "all", "linger.ms": 5,
            "message.timeout.ms": 30000}
    conf.update(extra)
    return Producer(conf)


def consumer(brook, **extra):
    from confluent_kafka import Consumer

    conf = {
        "bootstrap.servers": brook.bootstrap,
        # mandatory in confluent-kafka, unused with assign() and no commits
        "group.id": "dataplane-%d" % time.monotonic_ns(),
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": False,
    }
    conf.update(extra)
    return Consumer(conf)


def produce_all(p, msgs, timeout=30):
    """msgs: list of produce() kwargs. Returns the delivery reports."""
    done = []

    def cb(err, msg):
        done.append((err, msg.topic(), msg.partition(), msg.offset(), msg.key(), msg.value()))

    for m in msgs:
        while True:
            try:
                p.produce(on_delivery=cb, **m)
                break
            except BufferError:
                p.poll(0.1)
    left = p.flush(timeout)
    assert left == 0, "%d messages not delivered within %ds" % (left, timeout)
    errs = [d for d in done if d[0] is not None]
    assert not errs, "delivery errors: %s" % errs[:5]
    return done


def consume_n(c, n, timeout=30):
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        assert m.error() is None, m.error()
        got.append(m)
    return got


def ensure_topic(brook, topic, partitions):
    """Auto-create through Metadata and wait until all partitions show up."""
    from confluent_kafka.admin import AdminClient

    a = AdminClient({"bootstrap.servers": brook.bootstrap})
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        md = a.list_topics(topic=topic, timeout=10)
        t = md.topics.get(topic)
        if t is not None and t.error is None and len(t.partitions) == partitions:
            assert all(p.leader == 0 and p.replicas == [0] and p.isrs == [0] for p in t.partitions.values())
            return
        time.sleep(0.1)
    raise AssertionError("topic %s did not appear with %d partitions" % (topic, partitions))


# ------------------------------------------------------------------ kcat


@pytest.mark.smoke
def test_kcat_roundtrip_keys_and_headers(brook, healthy):
    lines = ["k%d:value %d" % (i, i) for i in range(20)] + [":no key"]
    r = run([kcat(), "-P", "-b", brook.bootstrap, "-t", "kc", "-K:", "-H", "h1=v1", "-H", "h2=",
             "-X", "acks=all"], input="\n".join(lines) + "\n")
    assert r.returncode == 0, r.stderr
    r = run([kcat(), "-C", "-b", brook.bootstrap, "-t", "kc", "-e", "-f", "%k|%s|%h|%o\\n"])
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    want = ["k%d|value %d|h1=v1,h2=|%d" % (i, i, i) for i in range(20)] + ["|no key|h1=v1,h2=|20"]
    assert out == want
    healthy("after kcat")


# ------------------------------------------------------------------ confluent-kafka


@pytest.mark.brook_config({"num.partitions": 3})
@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_confluent_roundtrip_each_codec(brook, codec):
    topic = "rt-" + codec
    ensure_topic(brook, topic, 3)
    p = producer(brook, **{"compression.type": codec, "linger.ms": 20})
    n = 600
    msgs = [{"topic": topic, "key": b"key-%d" % i, "value": (b"v%d-" % i) * (1 + i % 7),
             "headers": [("i", b"%d" % i)]} for i in range(n)]
    reports = produce_all(p, msgs)
    where = {r[4]: (r[2], r[3]) for r in reports}
    assert {pp for pp, _ in where.values()} == {0, 1, 2}, "keys should spread over the 3 partitions"
    for part in range(3):
        offs = sorted(o for pp, o in where.values() if pp == part)
        assert offs == list(range(len(offs))), "partition %d offsets are not dense" % part

    from confluent_kafka import TopicPartition

    c = consumer(brook)
    c.assign([TopicPartition(topic, i, 0) for i in range(3)])
    got = consume_n(c, n)
    assert len(got) == n, "consumed %d of %d" % (len(got), n)
    for m in got:
        i = int(m.key()[4:])
        assert m.value() == (b"v%d-" % i) * (1 + i % 7)
        assert m.headers() == [("i", b"%d" % i)]
        assert where[m.key()] == (m.partition(), m.offset())
    lo, hi = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    assert lo == 0 and hi == sum(1 for pp, _ in where.values() if pp == 0)
    c.close()


@pytest.mark.smoke
def test_long_poll_is_woken_by_a_produce(brook):
    """A consumer waiting with fetch.wait.max.ms=5000 at the end of the log
    gets a new message well before those 5 s run out."""
    from confluent_kafka import OFFSET_END, TopicPartition

    topic = "longpoll"
    ensure_topic(brook, topic, 1)
    produce_all(producer(brook), [{"topic": topic, "value": b"before"}])
    c = consumer(brook, **{"fetch.wait.max.ms": 5000, "fetch.min.bytes": 1})
    c.assign([TopicPartition(topic, 0, OFFSET_END)])
    # let the consumer reach the end and park a fetch
    assert c.poll(1.5) is None
    got = {}

    def wait():
        m = c.poll(10)
        got["msg"] = m
        got["at"] = time.monotonic()

    th = threading.Thread(target=wait)
    th.start()
    time.sleep(0.3)
    p = producer(brook, **{"linger.ms": 0})
    sent = time.monotonic()
    produce_all(p, [{"topic": topic, "value": b"wake up"}])
    th.join(15)
    assert got.get("msg") is not None and got["msg"].error() is None
    assert got["msg"].value() == b"wake up"
    assert got["at"] - sent < 3.0, "the parked fetch took %.2fs to answer" % (got["at"] - sent)
    c.close()


def test_offset_out_of_range_resets_to_earliest(brook):
    from confluent_kafka import TopicPartition

    topic = "oor"
    ensure_topic(brook, topic, 1)
    produce_all(producer(brook), [{"topic": topic, "value": b"m%d" % i} for i in range(10)])
    # past the end: the broker answers OFFSET_OUT_OF_RANGE, the client resets
    c = consumer(brook, **{"auto.offset.reset": "earliest"})
    c.assign([TopicPartition(topic, 0, 1000)])
    got = consume_n(c, 10)
    assert [m.offset() for m in got] == list(range(10))
    c.close()
    # below the log start after DeleteRecords: reset to the new log start
    res = kwirex.delete_records((brook.host, brook.port), topic, {0: 4}, version=1)
    assert res[0] == {"low_watermark": 4, "error_code": 0}
    c = consumer(brook, **{"auto.offset.reset": "earliest"})
    c.assign([TopicPartition(topic, 0, 1)])
    got = consume_n(c, 6)
    assert [m.offset() for m in got] == list(range(4, 10))
    assert [m.value() for m in got] == [b"m%d" % i for i in range(4, 10)]
    lo, hi = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    assert (lo, hi) == (4, 10)
    c.close()


@pytest.mark.brook_config({"num.partitions": 2})
def test_delete_records_errors(brook):
    topic = "dr"
    ensure_topic(brook, topic, 2)
    produce_all(producer(brook), [{"topic": topic, "partition": 0, "value": b"x"} for _ in range(5)])
    target = (brook.host, brook.port)
    for version in (0, 1, 2):
        res = kwirex.delete_records(target, topic, {0: 6, 1: -1}, version=version)
        assert res[0] == {"low_watermark": -1, "error_code": 1}  # OFFSET_OUT_OF_RANGE: beyond the HW
        assert res[1] == {"low_watermark": 0, "error_code": 0}  # -1 = HW of an empty partition
    res = kwirex.delete_records(target, topic, {0: -1}, version=2)
    assert res[0] == {"low_watermark": 5, "error_code": 0}
    res = kwirex.delete_records(target, topic, {0: 2, 7: 0}, version=1)
    assert res[0] == {"low_watermark": 5, "error_code": 0}  # below the log start: no change
    assert res[7]["error_code"] == 3  # UNKNOWN_TOPIC_OR_PARTITION


@pytest.mark.parametrize("codec", ["none", "gzip"])
def test_offsets_for_times(brook, codec):
    """ListOffsets by timestamp returns the first *record* with timestamp >=
    the target, also inside a (compressed) batch of many records."""
    from confluent_kafka import TopicPartition

    topic = "times-" + codec
    ensure_topic(brook, topic, 1)
    base = int(time.time() * 1000) - 3_600_000
    # 3 batches of 50 records, timestamps base + 2*i (gaps let us ask in between)
    p = producer(brook, **{"compression.type": codec, "linger.ms": 100, "batch.num.messages": 50})
    for b in range(3):
        produce_all(p, [{"topic": topic, "value": b"r%d" % i, "timestamp": base + 2 * i}
                        for i in range(50 * b, 50 * (b + 1))])
    c = consumer(brook)
    cases = {
        base - 1000: 0,       # before everything: the first record
        base: 0,
        base + 2 * 17: 17,    # exact, inside the first batch
        base + 2 * 17 + 1: 18,  # between two records
        base + 2 * 120: 120,  # inside the third batch
        base + 2 * 149: 149,  # the last record
        base + 2 * 149 + 1: -1,  # after everything: no offset (librdkafka: -1 = end)
    }
    for ts, want in cases.items():
        (res,) = c.offsets_for_times([TopicPartition(topic, 0, ts)], timeout=10)
        assert res.error is None
        assert res.offset == want, "timestamp base%+d: offset %d, expected %d" % (ts - base, res.offset, want)
    lo, hi = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    assert (lo, hi) == (0, 150)
    c.close()


def list_offsets(brook, topic, partition, timestamp, version, max_num=1):
    """Raw ListOffsets v0-v9 of one partition: the partition's fields."""
    flex = version >= 6
    w = kwire.Writer().i32(-1)
    if version >= 2:
        w.i8(0)
    w.array_len(1, flex).string(topic, flex).array_len(1, flex).i32(partition)
    if version >= 4:
        w.i32(-1)
    w.i64(timestamp)
    if version == 0:
        w.i32(max_num)
    if flex:
        w.tags().tags().tags()
    with kwire.Conn(brook.host, brook.port) as c:
        corr, body = c.roundtrip(2, version, 7, w.bytes(), hdr_version=2 if flex else 1)
    r = kwire.Reader(body)
    if version >= 2:
        r.i32()
    assert r.array_len(flex) == 1
    assert r.string(flex) == topic
    assert r.array_len(flex) == 1
    out = {"index": r.i32(), "error_code": r.i16()}
    if version == 0:
        out["offsets"] = [r.i64() for _ in range(r.array_len(flex))]
    else:
        out["timestamp"], out["offset"] = r.i64(), r.i64()
    if version >= 4:
        out["leader_epoch"] = r.i32()
    if flex:
        r.tags(), r.tags(), r.tags()
    r.done()
    return out


def test_list_offsets_raw_versions(brook):
    """Earliest / latest / max timestamp / by time at every version."""
    topic = "lo"
    ensure_topic(brook, topic, 1)
    base = int(time.time() * 1000) - 10_000
    p = producer(brook, **{"linger.ms": 50, "compression.type": "zstd"})
    produce_all(p, [{"topic": topic, "value": b"x", "timestamp": base + i} for i in range(10)])
    for v in range(1, 10):
        r = list_offsets(brook, topic, 0, -2, v)
        assert (r["error_code"], r["offset"]) == (0, 0), (v, r)
        r = list_offsets(brook, topic, 0, -1, v)
        assert (r["error_code"], r["offset"]) == (0, 10), (v, r)
        r = list_offsets(brook, topic, 0, base + 4, v)
        assert (r["offset"], r["timestamp"]) == (4, base + 4), (v, r)
        if v >= 4:
            assert r["leader_epoch"] == 0
    r = list_offsets(brook, topic, 0, -3, 7)
    assert (r["offset"], r["timestamp"]) == (9, base + 9), r
    r = list_offsets(brook, topic, 0, -5, 9)  # latest tiered: no tiered storage
    assert (r["error_code"], r["offset"]) == (0, -1), r
    assert list_offsets(brook, topic, 0, -1, 0)["offsets"] == [10]
    assert list_offsets(brook, topic, 0, -2, 0)["offsets"] == [0]
    assert list_offsets(brook, topic, 0, -1, 0, max_num=0)["offsets"] == []
    r = list_offsets(brook, "no-such-topic-lo", 0, -1, 5)
    assert r["error_code"] == 3


def test_kafka_python_roundtrip(brook):
    """kafka-python pins Produce v7 / Fetch v4 / ListOffsets v1."""
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    topic = "kp"
    ensure_topic(brook, topic, 1)
    prod = KafkaProducer(bootstrap_servers=brook.bootstrap, acks="all", compression_type="gzip",
                         api_version_auto_timeout_ms=10000, request_timeout_ms=15000)
    futs = [prod.send(topic, key=b"k%d" % i, value=b"v%d" % i, headers=[("h", b"%d" % i)]) for i in range(50)]
    prod.flush(30)
    offs = [f.get(timeout=30).offset for f in futs]
    assert offs == list(range(50))
    prod.close(10)
    c = KafkaConsumer(bootstrap_servers=brook.bootstrap, group_id=None, enable_auto_commit=False,
                      api_version_auto_timeout_ms=10000, request_timeout_ms=15000,
                      fetch_max_wait_ms=200, consumer_timeout_ms=10000)
    tp = TopicPartition(topic, 0)
    c.assign([tp])
    c.seek_to_beginning(tp)
    got = []
    for m in c:
        got.append(m)
        if len(got) == 50:
            break
    assert [(m.offset, m.key, m.value, m.headers) for m in got] == [
        (i, b"k%d" % i, b"v%d" % i, [("h", b"%d" % i)]) for i in range(50)]
    assert c.end_offsets([tp])[tp] == 50
    c.close()
