"""Issue 4: Kafka data-plane semantics that clients rely on.

- long polling: a Fetch with no data waits up to MaxWaitMs, and a produce
  wakes it (librdkafka consumer with fetch.wait.max.ms=5000, and raw Fetch);
  MinBytes is honoured.
- OFFSET_OUT_OF_RANGE and the consumer's auto.offset.reset (earliest /
  latest), for offsets beyond the end and below the log start offset that
  DeleteRecords moved (DeleteRecords through kwirex: confluent-kafka 1.7 and
  kafka-python 2.0.2 have no delete_records).
- max.message.bytes: Kafka compares each record batch's whole size
  (sizeInBytes = 12-byte log overhead + batchLength, i.e. the 61-byte v2
  batch header + the records) with the limit (UnifiedLog
  analyzeAndValidateRecords): a batch of exactly the limit is accepted, one
  byte more is rejected with MESSAGE_TOO_LARGE (10); a compressed batch
  counts with its compressed size.
"""

import threading
import time

import pytest

import i4util
import kwirex


def _producer(brook, **extra):
    from confluent_kafka import Producer

    c = {"bootstrap.servers": brook.bootstrap, "acks": "all", "linger.ms": 0, "socket.nagle.disable": True}
    c.update(extra)
    return Producer(c)


def _deliver(p, topic, value, key=None, partition=0, timeout=15):
    """Produce one message and wait for its delivery report: (err, offset)."""
    res = []
    p.produce(topic, value=value, key=key, partition=partition, on_delivery=lambda e, m: res.append((e, m.offset())))
    p.flush(timeout)
    assert res, "no delivery report within %ds" % timeout
    return res[0]


def _poll_one(c, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = c.poll(0.1)
        if m is None:
            continue
        if m.error():
            raise AssertionError("consumer error: %s" % m.error())
        return m
    return None


# ---------------------------------------------------------------- long poll


@pytest.mark.smoke
@pytest.mark.timeout(60)
def test_long_poll_wakes_up_librdkafka_consumer(brook):
    """With fetch.wait.max.ms=5000 the consumer's Fetch sits in the broker;
    a message produced 1 s later must arrive well before that Fetch would
    have timed out (it would be ~4 s after the produce without a wake-up)."""
    from confluent_kafka import TopicPartition

    i4util.auto_create(brook.bootstrap, "lp", 1)
    p = _producer(brook)
    err, off = _deliver(p, "lp", b"first")
    assert err is None and off == 0
    c = i4util.consumer(brook.bootstrap, {"fetch.wait.max.ms": 5000})
    try:
        c.assign([TopicPartition("lp", 0, 0)])
        m = _poll_one(c, 15)
        assert m is not None and m.value() == b"first"
        # the consumer has now sent its next Fetch, which waits in the broker
        time.sleep(1.0)
        got = {}

        def consume():
            m2 = _poll_one(c, 12)
            got["t"] = time.monotonic()
            got["m"] = m2

        th = threading.Thread(target=consume)
        th.start()
        t_produce = time.monotonic()
        err, off = _deliver(p, "lp", b"second")
        assert err is None and off == 1
        th.join(15)
        assert got.get("m") is not None, "the consumer did not get the second message within 12 s"
        assert got["m"].value() == b"second" and got["m"].offset() == 1
        delay = got["t"] - t_produce
        assert delay < 2.0, "message arrived %.2f s after the produce: the waiting Fetch was not woken up" % delay
    finally:
        c.close()


@pytest.mark.smoke
@pytest.mark.timeout(60)
def test_fetch_waits_max_wait_and_wakes_on_produce(brook):
    i4util.auto_create(brook.bootstrap, "lpraw", 1)
    addr = (brook.host, brook.port)
    # nothing to read at the end of the log: the broker holds the Fetch for MaxWaitMs
    t0 = time.monotonic()
    r = kwirex.fetch(addr, "lpraw", 0, 0, max_wait_ms=1000, min_bytes=1)
    dt = time.monotonic() - t0
    assert r["error_code"] == 0 and r["batches"] == [] and r["high_watermark"] == 0, r
    assert 0.9 <= dt < 3.0, "an empty Fetch with MaxWaitMs=1000 returned after %.2f s" % dt

    # a waiting Fetch is completed by a produce to its partition
    res = {}

    def waiter():
        t = time.monotonic()
        res["r"] = kwirex.fetch(addr, "lpraw", 0, 0, max_wait_ms=5000, min_bytes=1, timeout=20)
        res["t"] = time.monotonic()
        res["t0"] = t

    th = threading.Thread(target=waiter)
    th.start()
    time.sleep(1.0)
    t_produce = time.monotonic()
    pr = kwirex.produce(addr, "lpraw", 0, kwirex.record_batch([(b"k", b"wake", [])]), acks=-1)
    assert pr["error_code"] == 0 and pr["base_offset"] == 0, pr
    th.join(20)
    assert "r" in res, "the waiting Fetch never returned"
    r = res["r"]
    assert r["error_code"] == 0, r
    assert [rec[2] for b in r["batches"] for rec in b["records"]] == [b"wake"], r["batches"]
    assert res["t"] - t_produce < 2.0, "Fetch returned %.2f s after the produce" % (res["t"] - t_produce)


@pytest.mark.smoke
@pytest.mark.timeout(60)
def test_fetch_min_bytes(brook):
    """MinBytes: a Fetch returns when at least MinBytes are available or
    MaxWaitMs has passed, whichever comes first."""
    i4util.auto_create(brook.bootstrap, "minb", 1)
    addr = (brook.host, brook.port)
    for i in range(3):
        pr = kwirex.produce(addr, "minb", 0, kwirex.record_batch([(None, b"x" * 100, [])]), acks=-1)
        assert pr["error_code"] == 0
    # ~3 x 170 bytes available: MinBytes 1 answers at once
    t0 = time.monotonic()
    r = kwirex.fetch(addr, "minb", 0, 0, max_wait_ms=3000, min_bytes=1)
    assert time.monotonic() - t0 < 1.0 and len(r["batches"]) == 3
    # MinBytes 100000 is not reached: the broker waits MaxWaitMs, then returns what it has
    t0 = time.monotonic()
    r = kwirex.fetch(addr, "minb", 0, 0, max_wait_ms=1500, min_bytes=100000)
    dt = time.monotonic() - t0
    assert 1.3 <= dt < 4.0, "Fetch with unmet MinBytes returned after %.2f s" % dt
    assert len(r["batches"]) == 3, r


# ---------------------------------------------------------------- offsets


@pytest.mark.smoke
@pytest.mark.timeout(90)
def test_offset_out_of_range_beyond_end(brook):
    from confluent_kafka import TopicPartition

    i4util.auto_create(brook.bootstrap, "oor", 1)
    addr = (brook.host, brook.port)
    p = _producer(brook)
    for i in range(10):
        assert _deliver(p, "oor", b"m%d" % i) == (None, i)

    assert kwirex.list_offset(addr, "oor", 0, kwirex.EARLIEST) == (0, 0)
    assert kwirex.list_offset(addr, "oor", 0, kwirex.LATEST) == (0, 10)
    r = kwirex.fetch(addr, "oor", 0, 10)  # == high watermark: fine, nothing to read
    assert r["error_code"] == 0 and r["batches"] == [] and r["high_watermark"] == 10
    r = kwirex.fetch(addr, "oor", 0, 11)
    assert r["error_code"] == kwirex.OFFSET_OUT_OF_RANGE, r
    r = kwirex.fetch(addr, "oor", 0, -5)
    assert r["error_code"] == kwirex.OFFSET_OUT_OF_RANGE, r

    # auto.offset.reset=earliest: from offset 100 back to 0
    c = i4util.consumer(brook.bootstrap, {"auto.offset.reset": "earliest"})
    try:
        c.assign([TopicPartition("oor", 0, 100)])
        m = _poll_one(c, 15)
        assert m is not None and (m.offset(), m.value()) == (0, b"m0")
    finally:
        c.close()

    # auto.offset.reset=latest: from offset 100 to the end (10); the next message is new
    c = i4util.consumer(brook.bootstrap, {"auto.offset.reset": "latest"})
    try:
        c.assign([TopicPartition("oor", 0, 100)])
        assert _poll_one(c, 3) is None
        assert _deliver(p, "oor", b"new") == (None, 10)
        m = _poll_one(c, 15)
        assert m is not None and (m.offset(), m.value()) == (10, b"new")
    finally:
        c.close()

    # kcat -o beyond the end: librdkafka resets (default latest) and reaches EOF
    kc = i4util.kcat()
    r = i4util.run([kc, "-C", "-b", brook.bootstrap, "-t", "oor", "-p", "0", "-o", "1000", "-e", "-f", r"%o\n"])
    assert r.returncode == 0 and r.stdout == b"", (r.stdout, r.stderr)
    r = i4util.run([kc, "-C", "-b", brook.bootstrap, "-t", "oor", "-p", "0", "-o", "1000", "-e", "-f", r"%o\n",
                    "-X", "auto.offset.reset=earliest"])
    assert r.returncode == 0 and r.stdout.decode().split() == [str(i) for i in range(11)], (r.stdout, r.stderr)


@pytest.mark.smoke
@pytest.mark.timeout(90)
def test_offset_reset_after_delete_records(brook):
    from confluent_kafka import TopicPartition

    i4util.auto_create(brook.bootstrap, "dr", 1)
    addr = (brook.host, brook.port)
    # 100 records in 10 batches of 10 (offsets 0-9, 10-19, ...)
    for b in range(10):
        recs = [(b"k%d" % (b * 10 + j), b"v%d" % (b * 10 + j), []) for j in range(10)]
        pr = kwirex.produce(addr, "dr", 0, kwirex.record_batch(recs), acks=-1)
        assert pr["error_code"] == 0 and pr["base_offset"] == b * 10, pr

    res = kwirex.delete_records(addr, "dr", {0: 65})
    assert res == {0: {"low_watermark": 65, "error_code": 0}}, res
    assert kwirex.list_offset(addr, "dr", 0, kwirex.EARLIEST) == (0, 65)
    assert kwirex.list_offset(addr, "dr", 0, kwirex.LATEST) == (0, 100)
    r = kwirex.fetch(addr, "dr", 0, 10)
    assert r["error_code"] == kwirex.OFFSET_OUT_OF_RANGE, r
    r = kwirex.fetch(addr, "dr", 0, 64)
    assert r["error_code"] == kwirex.OFFSET_OUT_OF_RANGE, r
    r = kwirex.fetch(addr, "dr", 0, 65)
    assert r["error_code"] == 0 and r["log_start_offset"] == 65, r
    # whole batches come back: the first holds 60-69, the consumer skips 60-64
    assert r["batches"][0]["base_offset"] <= 65 <= r["batches"][0]["last_offset"]

    # a deletion offset beyond the high watermark is OFFSET_OUT_OF_RANGE;
    # going backwards is a no-op that reports the current low watermark
    res = kwirex.delete_records(addr, "dr", {0: 101})
    assert res[0]["error_code"] == kwirex.OFFSET_OUT_OF_RANGE, res
    res = kwirex.delete_records(addr, "dr", {0: 30})
    assert res == {0: {"low_watermark": 65, "error_code": 0}}, res

    c = i4util.consumer(brook.bootstrap, {"auto.offset.reset": "earliest"})
    try:
        c.assign([TopicPartition("dr", 0, 10)])
        m = _poll_one(c, 15)
        assert m is not None and (m.offset(), m.value()) == (65, b"v65")
        lo, hi = c.get_watermark_offsets(TopicPartition("dr", 0), timeout=10, cached=False)
        assert (lo, hi) == (65, 100)
    finally:
        c.close()

    c = i4util.consumer(brook.bootstrap, {"auto.offset.reset": "latest"})
    try:
        c.assign([TopicPartition("dr", 0, 10)])
        assert _poll_one(c, 3) is None
        p = _producer(brook)
        assert _deliver(p, "dr", b"after") == (None, 100)
        m = _poll_one(c, 15)
        assert m is not None and (m.offset(), m.value()) == (100, b"after")
    finally:
        c.close()

    # -1 deletes up to the high watermark
    res = kwirex.delete_records(addr, "dr", {0: -1})
    assert res == {0: {"low_watermark": 101, "error_code": 0}}, res

    # the log start offset survives a restart (Kafka: log-start-offset-checkpoint)
    brook.restart()
    assert kwirex.list_offset(addr, "dr", 0, kwirex.EARLIEST) == (0, 101)
    assert kwirex.list_offset(addr, "dr", 0, kwirex.LATEST) == (0, 101)


# ---------------------------------------------------------------- max.message.bytes

LIMIT = 1024


def _check_size_limit(brook, topic):
    """Through librdkafka (uncompressed, one record per batch, no key, no
    headers) and through raw Produce: a batch of exactly LIMIT bytes is
    accepted, LIMIT+1 is rejected with MESSAGE_TOO_LARGE and not appended."""
    from confluent_kafka import KafkaError

    v = kwirex.value_len_for_batch_size(LIMIT)
    assert v is not None and kwirex.single_record_batch_size(v) == LIMIT
    assert kwirex.single_record_batch_size(v + 1) == LIMIT + 1
    addr = (brook.host, brook.port)

    p = _producer(brook, **{"message.max.bytes": 10 * 1024 * 1024, "compression.type": "none"})
    err, off = _deliver(p, topic, b"a" * v)
    assert err is None and off == 0, "a %d-byte batch (the limit) was refused: %s" % (LIMIT, err)
    err, off = _deliver(p, topic, b"b" * (v + 1))
    assert err is not None and err.code() == KafkaError.MSG_SIZE_TOO_LARGE, (
        "a %d-byte batch (limit + 1) got %s, expected MESSAGE_TOO_LARGE" % (LIMIT + 1, err))
    err, off = _deliver(p, topic, b"c" * v)
    assert err is None and off == 1, "after the rejection the next message got %s / offset %s" % (err, off)

    # the same with raw Produce and kafka-python-built batches
    exact = kwirex.record_batch([(None, b"d" * v, [])])
    over = kwirex.record_batch([(None, b"e" * (v + 1), [])])
    assert (len(exact), len(over)) == (LIMIT, LIMIT + 1)
    r = kwirex.produce(addr, topic, 0, exact, acks=-1)
    assert (r["error_code"], r["base_offset"]) == (0, 2), r
    r = kwirex.produce(addr, topic, 0, over, acks=-1)
    assert r["error_code"] == kwirex.MESSAGE_TOO_LARGE, r
    assert kwirex.list_offset(addr, topic, 0, kwirex.LATEST) == (0, 3)

    # compressed: the batch's size on the wire counts, not the records inside
    big = kwirex.record_batch([(None, b"z" * 20000, [])], compression="gzip")
    assert len(big) < LIMIT
    r = kwirex.produce(addr, topic, 0, big, acks=-1)
    assert (r["error_code"], r["base_offset"]) == (0, 3), r

    batches, hw = kwirex.fetch_all(addr, topic, 0)
    assert hw == 4
    assert [(b["base_offset"], len(b["records"][0][2])) for b in batches] == [(0, v), (1, v), (2, v), (3, 20000)]


@pytest.mark.smoke
@pytest.mark.timeout(60)
def test_max_message_bytes_topic_config(brook):
    """Topic-level max.message.bytes (set through CreateTopics)."""
    i4util.create_topic(brook.bootstrap, "big-topic", 1, {"max.message.bytes": str(LIMIT)})
    _check_size_limit(brook, "big-topic")


@pytest.mark.smoke
@pytest.mark.timeout(60)
@pytest.mark.brook_config({"message.max.bytes": LIMIT})
def test_max_message_bytes_broker_config(brook):
    """Broker-level message.max.bytes, the default of every topic's
    max.message.bytes (auto-created topic)."""
    i4util.auto_create(brook.bootstrap, "big-broker", 1)
    _check_size_limit(brook, "big-broker")
