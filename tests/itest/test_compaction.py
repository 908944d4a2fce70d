"""Log compaction (issue 9) against a single-node brookd with real clients.

Topics are created with cleanup.policy=compact, small segments and
min.cleanable.dirty.ratio=0.01, and the broker runs its cleaner every
log.cleaner.backoff.ms=100, so cleaning starts as soon as a segment rolls
and is flushed. A cleaning is observed through cleaner-offset-checkpoint
(Kafka's format) in the log directory, which the broker rewrites about a
second after every swap; the log itself is then read back with a consumer
(offsets, keys, latest values) and, for the codec test, parsed straight
from the segment files (batch attributes).

  - 1,000,000 updates over 10,000 keys compact to the latest value of each
    key;
  - tombstones stay (older values gone) while delete.retention.ms has not
    passed, and disappear after it;
  - a consumer reading from the start again and again while the cleaner
    swaps segments sees offsets strictly increasing and only valid values;
  - kill -9 while the cleaner writes its .cleaned files (slowed down by
    log.cleaner.io.max.bytes.per.second): the broker starts, no .cleaned or
    .swap file is left, every key's latest value is there, no offset twice;
  - every codec (none, gzip, snappy, lz4, zstd): latest values, and the
    cleaned batches are still compressed with their codec;
  - a record without a key is refused (INVALID_RECORD);
  - __consumer_offsets and __transaction_state are created with
    cleanup.policy=compact; a compacted __consumer_offsets (with a deleted
    group's tombstones) reloads after a restart;
  - transactions: aborted data is cleaned away, an idempotent producer
    goes on after compaction and a kill -9;
  - kcat reads a compacted log exactly as confluent-kafka does;
  - log.cleaner.threads=2 cleans two partitions side by side.
"""

import os
import struct
import subprocess
import threading
import time

import pytest

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

BROKER_PROPS = {
    "log.cleaner.backoff.ms": "100",
    "log.cleaner.threads": "1",
    "log.cleaner.dedupe.buffer.size": "33554432",
}


def wait_for(what, fn, timeout=60.0, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("timed out waiting for " + what)


def create_topic(brook, name, cfg, partitions=1):
    admin = AdminClient({"bootstrap.servers": brook.bootstrap})
    conf = {"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.01"}
    conf.update(cfg)
    fs = admin.create_topics([NewTopic(name, partitions, 1, config=conf)])
    fs[name].result(30)


def producer(brook, **extra):
    conf = {
        "bootstrap.servers": brook.bootstrap,
        "linger.ms": 20,
        "batch.num.messages": 10000,
        "batch.size": 1000000,
        "queue.buffering.max.messages": 2000000,
        "queue.buffering.max.kbytes": 1048576,
        "acks": 1,
    }
    conf.update(extra)
    return Producer(conf)


def produce_all(p, topic, items):
    """items: iterable of (key, value); waits for every delivery, returns the
    number of failures."""
    errors = []

    def cb(err, msg):
        if err is not None:
            errors.append(err)

    for k, v in items:
        while True:
            try:
                p.produce(topic, key=k, value=v, on_delivery=cb)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
    assert p.flush(60) == 0
    return errors


def cleaner_offset(brook, topic, partition=0):
    """The topic-partition's entry of cleaner-offset-checkpoint, or -1."""
    path = os.path.join(brook.datadir, "cleaner-offset-checkpoint")
    try:
        with open(path) as f:
            lines = f.read().split("\n")
    except FileNotFoundError:
        return -1
    if len(lines) < 2 or lines[0] != "0":
        return -1
    for line in lines[2:]:
        parts = line.split(" ")
        if len(parts) == 3 and parts[0] == topic and parts[1] == str(partition):
            return int(parts[2])
    return -1


def read_all(brook, topic, partition=0, timeout=60.0):
    """Every record from offset 0 to the high watermark: [(offset, key, value)]."""
    c = Consumer(
        {
            "bootstrap.servers": brook.bootstrap,
            "group.id": "reader-%d" % time.monotonic_ns(),
            "enable.auto.commit": False,
            "fetch.max.bytes": 52428800,
            "max.partition.fetch.bytes": 10485760,
        }
    )
    try:
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
        out = []
        if hi <= lo:
            return out, hi
        c.assign([TopicPartition(topic, partition, lo)])
        deadline = time.monotonic() + timeout
        last = -1
        while last < hi - 1 and time.monotonic() < deadline:
            msgs = c.consume(10000, 1.0)
            for m in msgs:
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        continue
                    raise AssertionError("consume error: %s" % m.error())
                out.append((m.offset(), m.key(), m.value()))
                last = m.offset()
            if not msgs:
                # a compacted tail: nothing more below hi
                pos = c.position([TopicPartition(topic, partition)])[0].offset
                if pos >= hi:
                    break
        return out, hi
    finally:
        c.close()


def check_ordered(recs):
    offs = [o for o, _, _ in recs]
    assert all(a < b for a, b in zip(offs, offs[1:])), "offsets not strictly increasing"


def latest(recs):
    d = {}
    for _, k, v in recs:
        d[k] = v
    return d


def log_files(brook, topic, partition=0):
    d = os.path.join(brook.datadir, "%s-%d" % (topic, partition))
    return sorted(os.listdir(d)), d


def batches_on_disk(brook, topic, partition=0):
    """(base offset, attributes, record count) of every batch in the .log files."""
    names, d = log_files(brook, topic, partition)
    out = []
    for n in names:
        if not n.endswith(".log"):
            continue
        with open(os.path.join(d, n), "rb") as f:
            data = f.read()
        pos = 0
        while pos + 61 <= len(data):
            base, blen = struct.unpack(">qi", data[pos : pos + 12])
            attrs = struct.unpack(">h", data[pos + 21 : pos + 23])[0]
            count = struct.unpack(">i", data[pos + 57 : pos + 61])[0]
            out.append((base, attrs, count))
            pos += 12 + blen
    return out


@pytest.mark.timeout(180)
@pytest.mark.brook_config(BROKER_PROPS)
def test_million_updates_compact_to_latest(brook):
    topic = "cmp-million"
    create_topic(brook, topic, {"segment.bytes": str(1 << 20)})
    nkeys, n = 10000, 1000000
    p = producer(brook, **{"compression.type": "none"})
    keys = [b"key-%05d" % i for i in range(nkeys)]
    t0 = time.monotonic()
    errs = produce_all(p, topic, ((keys[i % nkeys], b"%d" % i) for i in range(n)))
    produce_s = time.monotonic() - t0
    assert not errs, errs[:3]
    expect = {keys[i % nkeys]: b"%d" % i for i in range(n - nkeys, n)}
    t1 = time.monotonic()
    # cleaned up to (nearly) the active segment
    wait_for("the cleaner to reach the tail", lambda: cleaner_offset(brook, topic) >= n - 60000, timeout=90)
    clean_s = time.monotonic() - t1
    recs, hi = read_all(brook, topic)
    assert hi == n
    check_ordered(recs)
    got = latest(recs)
    assert len(got) == nkeys
    assert got == expect
    print(
        "\n1M updates: produce %.1f s, cleaned to %d after %.1f s, %d records left of %d"
        % (produce_s, cleaner_offset(brook, topic), clean_s, len(recs), n)
    )
    assert len(recs) < n // 5
    # clean restart: the cleaned log loads and reads the same
    brook.restart()
    recs2, hi2 = read_all(brook, topic)
    assert hi2 == n and latest(recs2) == expect
    check_ordered(recs2)


@pytest.mark.smoke
@pytest.mark.timeout(120)
@pytest.mark.brook_config(BROKER_PROPS)
def test_tombstones_and_delete_retention(brook):
    keep, expire = "cmp-tomb-keep", "cmp-tomb-expire"
    create_topic(brook, keep, {"segment.bytes": "16384", "delete.retention.ms": "86400000"})
    create_topic(brook, expire, {"segment.bytes": "16384", "delete.retention.ms": "1000"})
    p = producer(brook, **{"batch.num.messages": 100, "linger.ms": 5})
    for topic in (keep, expire):
        items = [(b"k%03d" % (i % 200), b"value-%d" % i) for i in range(4000)]
        items += [(b"k%03d" % i, None) for i in range(100)]  # delete k000..k099
        items += [(b"f%03d" % (i % 50), b"filler-%d" % i) for i in range(2000)]
        assert not produce_all(p, topic, items)
    total = 6100

    # within delete.retention.ms: the tombstones stay, the values they delete go
    wait_for("a cleaning past the tombstones", lambda: cleaner_offset(brook, keep) > 4100)
    recs, _ = read_all(brook, keep)
    check_ordered(recs)
    by_key = {}
    for _, k, v in recs:
        by_key.setdefault(k, []).append(v)
    for i in range(100):
        assert by_key.get(b"k%03d" % i) == [None], "tombstone of k%03d" % i
    for i in range(100, 200):
        assert by_key[b"k%03d" % i][-1] == b"value-%d" % (3800 + i)

    # past delete.retention.ms, after more dirty data, the tombstones are gone
    def tombstones_gone():
        assert not produce_all(p, expire, [(b"f%03d" % (i % 50), b"more-%d" % i) for i in range(2000)])
        wait_for("a cleaning", lambda: cleaner_offset(brook, expire) > 4100)
        time.sleep(0.5)
        r, _ = read_all(brook, expire)
        return r if not any(k.startswith(b"k0") and k < b"k100" for _, k, _ in r) else None

    time.sleep(1.2)
    recs = wait_for("the tombstones to go", tombstones_gone, timeout=60, step=0.5)
    check_ordered(recs)
    live = latest(recs)
    for i in range(100, 200):
        assert live[b"k%03d" % i] == b"value-%d" % (3800 + i)
    assert total > 0


@pytest.mark.timeout(120)
@pytest.mark.brook_config(BROKER_PROPS)
def test_consumer_reads_while_cleaning(brook):
    topic = "cmp-live"
    create_topic(brook, topic, {"segment.bytes": "65536"})
    nkeys, rounds = 1000, 150
    done = threading.Event()
    errors = []

    def produce():
        try:
            p = producer(brook, **{"batch.num.messages": 500})
            for r in range(rounds):
                errs = produce_all(p, topic, ((b"k%04d" % k, b"%d:%d" % (k, r)) for k in range(nkeys)))
                if errs:
                    errors.append(errs[0])
                time.sleep(0.02)  # spread the writes over the reader's passes
        except Exception as e:  # noqa: BLE001
            errors.append(e)
        finally:
            done.set()

    th = threading.Thread(target=produce, daemon=True)
    th.start()
    passes, swaps_seen, prev = 0, 0, cleaner_offset(brook, topic)
    try:
        while not done.is_set() or passes < 3 or swaps_seen < 1:
            recs, hi = read_all(brook, topic)
            check_ordered(recs)
            for o, k, v in recs:
                assert k is not None and v is not None
                kk, rr = v.split(b":")
                assert b"k%04d" % int(kk) == k
            passes += 1
            c = cleaner_offset(brook, topic)
            if c != prev:
                swaps_seen += 1
                prev = c
            if passes > 300:
                break
    finally:
        th.join(60)
    assert not errors, errors[:3]
    wait_for("a final cleaning", lambda: cleaner_offset(brook, topic) > nkeys * rounds - 20000)
    recs, hi = read_all(brook, topic)
    check_ordered(recs)
    got = latest(recs)
    assert got == {b"k%04d" % k: b"%d:%d" % (k, rounds - 1) for k in range(nkeys)}
    print("\nconcurrent reader: %d full passes, cleaner checkpoint moved %d times" % (passes, swaps_seen))
    assert swaps_seen >= 1


@pytest.mark.timeout(150)
@pytest.mark.brook_config(
    dict(BROKER_PROPS, **{"log.cleaner.io.max.bytes.per.second": "3000000"})
)
def test_kill9_during_cleaning(brook):
    topic = "cmp-kill"
    create_topic(brook, topic, {"segment.bytes": str(256 * 1024)})
    nkeys, n = 5000, 200000
    p = producer(brook, **{"compression.type": "lz4"})
    keys = [b"key-%05d" % i for i in range(nkeys)]
    assert not produce_all(p, topic, ((keys[i % nkeys], b"v%d" % i) for i in range(n)))
    del p
    expect = {keys[i % nkeys]: b"v%d" % i for i in range(n - nkeys, n)}
    part = os.path.join(brook.datadir, topic + "-0")
    kills = 0
    for cycle in range(3):
        # kill while the cleaner writes its output (throttled to ~3 MB/s)
        def cleaning():
            return any(f.endswith(".cleaned") for f in os.listdir(part))

        try:
            wait_for("the cleaner to write .cleaned files", cleaning, timeout=30, step=0.02)
        except AssertionError:
            if cycle == 0:
                raise
            break
        time.sleep(0.05 * cycle)
        brook.kill9()
        kills += 1
        brook.start()
        left = [f for f in os.listdir(part) if f.endswith(".cleaned") or f.endswith(".swap")]
        assert not left, left
        recs, hi = read_all(brook, topic)
        assert hi == n
        check_ordered(recs)
        assert latest(recs) == expect
    assert kills >= 1
    wait_for("cleaning to finish after the kills", lambda: cleaner_offset(brook, topic) > n - 40000, timeout=90)
    recs, hi = read_all(brook, topic)
    check_ordered(recs)
    assert latest(recs) == expect
    print("\nkill -9 during cleaning: %d kills, %d records left of %d" % (kills, len(recs), n))


@pytest.mark.timeout(150)
@pytest.mark.brook_config(BROKER_PROPS)
@pytest.mark.parametrize("codec,attr", [("none", 0), ("gzip", 1), ("snappy", 2), ("lz4", 3), ("zstd", 4)])
def test_every_codec(brook, codec, attr):
    topic = "cmp-codec-" + codec
    create_topic(brook, topic, {"segment.bytes": "32768"})
    nkeys, n = 500, 20000
    p = producer(brook, **{"compression.type": codec, "linger.ms": 5, "batch.num.messages": 200})
    assert not produce_all(p, topic, ((b"k%03d" % (i % nkeys), b"value %d of %s" % (i, codec.encode())) for i in range(n)))
    expect = {b"k%03d" % (i % nkeys): b"value %d of %s" % (i, codec.encode()) for i in range(n - nkeys, n)}
    wait_for("a cleaning", lambda: cleaner_offset(brook, topic) > n // 2)
    recs, hi = read_all(brook, topic)
    assert hi == n
    check_ordered(recs)
    assert latest(recs) == expect
    assert len(recs) < n // 2
    # kcat (librdkafka's CLI) reads the very same compacted log
    out = subprocess.run(
        ["kcat", "-b", brook.bootstrap, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q",
         "-f", "%o %k %s\\n"],
        capture_output=True, timeout=60, check=True,
    ).stdout.decode().splitlines()
    assert out == ["%d %s %s" % (o, k.decode(), v.decode()) for o, k, v in recs]
    # the cleaned batches keep their codec (empty batches are uncompressed)
    bs = [b for b in batches_on_disk(brook, topic) if b[2] > 0]
    assert bs and all(a & 7 == attr for _, a, _ in bs)


@pytest.mark.smoke
@pytest.mark.timeout(60)
@pytest.mark.brook_config(BROKER_PROPS)
def test_keyless_record_refused(brook):
    topic = "cmp-nokey"
    create_topic(brook, topic, {})
    p = producer(brook, **{"linger.ms": 0, "message.send.max.retries": 0})
    res = []
    # separate batches: Kafka refuses the whole batch holding a keyless record
    p.produce(topic, value=b"no key", on_delivery=lambda e, m: res.append(e))
    p.flush(30)
    p.produce(topic, key=b"k", value=b"with key", on_delivery=lambda e, m: res.append(e))
    p.flush(30)
    assert len(res) == 2
    assert res[0] is not None and res[0].code() == KafkaError.INVALID_RECORD
    assert res[1] is None


@pytest.mark.timeout(60)
@pytest.mark.brook_config(BROKER_PROPS)
def test_internal_topics_are_compacted(brook):
    topic = "plain"
    admin = AdminClient({"bootstrap.servers": brook.bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(30)
    p = producer(brook)
    assert not produce_all(p, topic, [(b"a", b"1")])
    c = Consumer({"bootstrap.servers": brook.bootstrap, "group.id": "g-cmp", "enable.auto.commit": False})
    c.assign([TopicPartition(topic, 0, 0)])
    wait_for("a record", lambda: c.consume(1, 1.0))
    c.commit(offsets=[TopicPartition(topic, 0, 1)], asynchronous=False)
    c.close()
    tp = Producer({"bootstrap.servers": brook.bootstrap, "transactional.id": "cmp-txn"})
    tp.init_transactions(30)
    tp.begin_transaction()
    tp.produce(topic, key=b"t", value=b"txn")
    tp.commit_transaction(30)
    for name in ("__consumer_offsets", "__transaction_state"):
        res = ConfigResource(ConfigResource.Type.TOPIC, name)
        cfg = admin.describe_configs([res])[res].result(30)
        assert cfg["cleanup.policy"].value == "compact", name


@pytest.mark.timeout(120)
@pytest.mark.brook_config(
    dict(BROKER_PROPS, **{"offsets.topic.num.partitions": "1", "offsets.topic.segment.bytes": "16384"})
)
def test_consumer_offsets_compacted_and_reloaded(brook):
    """__consumer_offsets is compacted like any compacted topic, and the group
    coordinator loads the cleaned log (gaps, tombstones) after a restart."""
    topic, nparts, ngroups, rounds = "src", 10, 8, 40
    admin = AdminClient({"bootstrap.servers": brook.bootstrap})
    admin.create_topics([NewTopic(topic, nparts, 1)])[topic].result(30)
    consumers = [
        Consumer({"bootstrap.servers": brook.bootstrap, "group.id": "cg%d" % g, "enable.auto.commit": False})
        for g in range(ngroups)
    ]
    try:
        for r in range(rounds):
            for g, c in enumerate(consumers):
                c.commit(
                    offsets=[TopicPartition(topic, p, r * 100 + g * 10 + p) for p in range(nparts)],
                    asynchronous=False,
                )
    finally:
        for c in consumers:
            c.close()
    # drop one group: its offsets become tombstones
    from kafka import KafkaAdminClient

    ka = KafkaAdminClient(bootstrap_servers=brook.bootstrap)
    try:
        res = dict(ka.delete_consumer_groups(["cg0"]))
        assert res["cg0"].errno == 0, res
    finally:
        ka.close()
    end = rounds * ngroups + 1
    wait_for(
        "the cleaner on __consumer_offsets",
        lambda: cleaner_offset(brook, "__consumer_offsets") > end // 2,
        timeout=60,
    )
    recs, hi = read_all(brook, "__consumer_offsets")
    check_ordered(recs)
    print("\n__consumer_offsets: %d records left of %d" % (len(recs), hi))
    assert len(recs) < hi // 2
    brook.restart()
    for g in range(ngroups):
        c = Consumer({"bootstrap.servers": brook.bootstrap, "group.id": "cg%d" % g, "enable.auto.commit": False})
        try:
            got = c.committed([TopicPartition(topic, p) for p in range(nparts)], timeout=30)
        finally:
            c.close()
        for tp in got:
            if g == 0:
                assert tp.offset < 0, "deleted group cg0 still has %s" % tp
            else:
                assert tp.offset == (rounds - 1) * 100 + g * 10 + tp.partition, tp


def read_isolated(brook, topic, isolation):
    c = Consumer(
        {
            "bootstrap.servers": brook.bootstrap,
            "group.id": "iso-%d" % time.monotonic_ns(),
            "enable.auto.commit": False,
            "isolation.level": isolation,
            "enable.partition.eof": True,
        }
    )
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        out = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            m = c.poll(1.0)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    break
                raise AssertionError(str(m.error()))
            out.append((m.offset(), m.key(), m.value()))
        return out
    finally:
        c.close()


@pytest.mark.timeout(120)
@pytest.mark.brook_config(BROKER_PROPS)
def test_transactions_and_idempotent_producer(brook):
    """Aborted transactional data is cleaned away, committed data stays, and
    an idempotent producer goes on after compaction and a kill -9 of the
    broker (its last batch, hence its sequence, is kept)."""
    topic = "cmp-txn"
    create_topic(brook, topic, {"segment.bytes": "16384"})
    tp = Producer({"bootstrap.servers": brook.bootstrap, "transactional.id": "cmp-t1", "linger.ms": 5})
    tp.init_transactions(30)
    for r in range(6):
        tp.begin_transaction()
        for i in range(200):
            tp.produce(topic, key=b"t%03d" % i, value=b"%s-%d" % (b"commit" if r % 2 == 0 else b"abort", r))
        if r % 2 == 0:
            tp.commit_transaction(30)
        else:
            tp.abort_transaction(30)
    ip = producer(brook, **{"enable.idempotence": True, "acks": "all", "batch.num.messages": 100, "linger.ms": 5})
    assert not produce_all(ip, topic, [(b"i%03d" % (i % 300), b"idem-%d" % i) for i in range(6000)])
    wait_for("a cleaning", lambda: cleaner_offset(brook, topic) > 2000)
    for iso in ("read_committed", "read_uncommitted"):
        recs = read_isolated(brook, topic, iso)
        check_ordered(recs)
        vals = [v for _, _, v in recs]
        assert not any(v.startswith(b"abort") for v in vals), iso
        got = latest(recs)
        for i in range(200):
            assert got[b"t%03d" % i] == b"commit-4", iso
    brook.kill9()
    brook.start()
    # the same idempotent producer, across the crash: no sequence error
    assert not produce_all(ip, topic, [(b"i%03d" % (i % 300), b"after-%d" % i) for i in range(600)])
    ip.flush(30)
    recs = read_isolated(brook, topic, "read_committed")
    got = latest(recs)
    for i in range(300):
        assert got[b"i%03d" % i] == b"after-%d" % (300 + i)


@pytest.mark.timeout(120)
@pytest.mark.brook_config(dict(BROKER_PROPS, **{"log.cleaner.threads": "2"}))
def test_two_cleaner_threads(brook):
    """log.cleaner.threads=2: two partitions cleaned side by side, each to its
    latest values."""
    topic = "cmp-two"
    create_topic(brook, topic, {"segment.bytes": "65536"}, partitions=2)
    p = producer(brook, **{"batch.num.messages": 500})
    n, nkeys = 60000, 1000
    errs = []
    for part in (0, 1):
        for i in range(n):
            while True:
                try:
                    p.produce(topic, key=b"k%04d" % (i % nkeys), value=b"%d-%d" % (part, i), partition=part,
                              on_delivery=lambda e, m: e and errs.append(e))
                    break
                except BufferError:
                    p.poll(0.05)
    assert p.flush(60) == 0 and not errs
    for part in (0, 1):
        wait_for("partition %d cleaned" % part, lambda: cleaner_offset(brook, topic, part) > n // 2)
        recs, hi = read_all(brook, topic, part)
        assert hi == n
        check_ordered(recs)
        assert latest(recs) == {b"k%04d" % k: b"%d-%d" % (part, n - nkeys + k) for k in range(nkeys)}
        assert len(recs) < n // 2
