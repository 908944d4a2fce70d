"""Issue 6: exactly-once - idempotent producers and transactions, with real
clients (confluent-kafka on librdkafka 2.0.2, kafkajs 2.2.4) and raw wire
requests for the exact error codes.

What is checked:
  - the producer state on the wire: a retried batch is answered with its
    original offsets and not written twice, a gap is
    OUT_OF_ORDER_SEQUENCE_NUMBER, an older epoch INVALID_PRODUCER_EPOCH,
    and the state survives a clean restart and a kill -9;
  - an idempotent confluent-kafka producer sends 200,000 messages while the
    broker is killed (kill -9) and restarted twice: every message is in the
    log exactly once, in order per partition;
  - transactions: committed data is visible to read_committed consumers,
    aborted data only to read_uncommitted ones, an open transaction holds
    read_committed consumers at the last stable offset, and a transaction
    left open past its timeout is aborted by the coordinator;
  - consume-transform-produce with send_offsets_to_transaction, the
    transforming process killed with kill -9 mid-way and restarted: the
    output holds every input exactly once;
  - kafkajs transactions commit, abort and send offsets.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest

import i4util
import kwire
import kwirex
from test_dataplane_clients import producer

HERE = os.path.dirname(os.path.abspath(__file__))
JS = os.path.join(HERE, "js")

API_INIT_PRODUCER_ID = 22
OUT_OF_ORDER_SEQUENCE_NUMBER = 45
INVALID_PRODUCER_EPOCH = 47
INVALID_TXN_STATE = 48


# ------------------------------------------------------------------ helpers


def init_producer_id(brook, txn_id=None, timeout_ms=60000):
    w = kwire.Writer()
    w.string(txn_id)
    w.i32(timeout_ms)

    def parse(body, version):
        r = kwire.Reader(body)
        out = {"throttle_time_ms": r.i32(), "error_code": r.i16(), "producer_id": r.i64(),
               "producer_epoch": r.i16()}
        r.done("InitProducerIdResponse v0")
        return out

    return kwirex.call((brook.host, brook.port), API_INIT_PRODUCER_ID, 0, w.bytes(), parse)


def idem_batch(pid, epoch, seq, n, tag="m", transactional=False):
    return kwirex.record_batch([(None, b"%s-%d" % (tag.encode(), seq + i), []) for i in range(n)],
                               producer_id=pid, producer_epoch=epoch, base_sequence=seq,
                               transactional=transactional)


def txn_producer(brook, tid, **extra):
    conf = {"transactional.id": tid, "transaction.timeout.ms": 30000}
    conf.update(extra)
    return producer(brook, **conf)


def read_all(brook, topic, parts, isolation, timeout=40):
    """Every message of the topic from offset 0 to the end each consumer of
    that isolation level sees (the LSO for read_committed, the HW
    otherwise), in delivery order."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    c = Consumer({
        "bootstrap.servers": brook.bootstrap,
        "group.id": "eos-reader-%d" % time.monotonic_ns(),
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": True,
        "isolation.level": isolation,
    })
    try:
        c.assign([TopicPartition(topic, i, 0) for i in range(parts)])
        eof, out = set(), []
        deadline = time.monotonic() + timeout
        while len(eof) < parts and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    eof.add(m.partition())
                    continue
                raise AssertionError("consumer error: %s" % m.error())
            eof.discard(m.partition())
            out.append(m)
        assert len(eof) == parts, "%s consumer did not reach the end of %s" % (isolation, topic)
        return out
    finally:
        c.close()


def values(msgs):
    return [m.value().decode() for m in msgs]


def produce_values(p, topic, vals, parts):
    for i, v in enumerate(vals):
        while True:
            try:
                p.produce(topic, value=v.encode(), partition=i % parts)
                break
            except BufferError:
                p.poll(0.1)


# ------------------------------------------------------------------ wire


@pytest.mark.smoke
def test_idempotent_produce_on_the_wire(brook):
    i4util.create_topic(brook.bootstrap, "idem-wire", 1)
    target = (brook.host, brook.port)
    ip = init_producer_id(brook)
    assert ip["error_code"] == 0 and ip["producer_id"] >= 0 and ip["producer_epoch"] == 0, ip
    pid = ip["producer_id"]
    # a second producer gets another id
    assert init_producer_id(brook)["producer_id"] != pid

    r = kwirex.produce(target, "idem-wire", 0, idem_batch(pid, 0, 0, 3))
    assert r["error_code"] == 0 and r["base_offset"] == 0, r
    # a retry of the same batch: the original offsets, nothing written
    r = kwirex.produce(target, "idem-wire", 0, idem_batch(pid, 0, 0, 3))
    assert r["error_code"] == 0 and r["base_offset"] == 0, r
    assert kwirex.list_offset(target, "idem-wire", 0, kwirex.LATEST)[1] == 3

    r = kwirex.produce(target, "idem-wire", 0, idem_batch(pid, 0, 3, 2))
    assert r["error_code"] == 0 and r["base_offset"] == 3, r
    # a gap
    r = kwirex.produce(target, "idem-wire", 0, idem_batch(pid, 0, 10, 1))
    assert r["error_code"] == OUT_OF_ORDER_SEQUENCE_NUMBER, r
    # five more batches: the first two batches drop out of the window of 5
    for k in range(5):
        r = kwirex.produce(target, "idem-wire", 0, idem_batch(pid, 0, 5 + k, 1))
        assert r["error_code"] == 0 and r["base_offset"] == 5 + k, r
    r = kwirex.produce(target, "idem-wire", 0, idem_batch(pid, 0, 5, 1))  # still in the window
    assert r["error_code"] == 0 and r["base_offset"] == 5, r
    r = kwirex.produce(target, "idem-wire", 0, idem_batch(pid, 0, 0, 3))  # dropped out
    assert r["error_code"] == OUT_OF_ORDER_SEQUENCE_NUMBER, r
    assert kwirex.list_offset(target, "idem-wire", 0, kwirex.LATEST)[1] == 10

    # a new epoch must start at sequence 0; the old epoch is then fenced
    r = kwirex.produce(target, "idem-wire", 0, idem_batch(pid, 1, 7, 1))
    assert r["error_code"] == OUT_OF_ORDER_SEQUENCE_NUMBER, r
    r = kwirex.produce(target, "idem-wire", 0, idem_batch(pid, 1, 0, 2))
    assert r["error_code"] == 0 and r["base_offset"] == 10, r
    r = kwirex.produce(target, "idem-wire", 0, idem_batch(pid, 0, 10, 1))
    assert r["error_code"] == INVALID_PRODUCER_EPOCH, r

    # the producer state survives a clean restart (snapshot) ...
    brook.restart()
    target = (brook.host, brook.port)
    r = kwirex.produce(target, "idem-wire", 0, idem_batch(pid, 1, 0, 2))
    assert r["error_code"] == 0 and r["base_offset"] == 10, r
    r = kwirex.produce(target, "idem-wire", 0, idem_batch(pid, 1, 2, 1))
    assert r["error_code"] == 0 and r["base_offset"] == 12, r
    # ... and a kill -9 (rebuilt from the log)
    brook.kill9()
    brook.start()
    target = (brook.host, brook.port)
    r = kwirex.produce(target, "idem-wire", 0, idem_batch(pid, 1, 2, 1))
    assert r["error_code"] == 0 and r["base_offset"] == 12, r
    r = kwirex.produce(target, "idem-wire", 0, idem_batch(pid, 1, 4, 1))
    assert r["error_code"] == OUT_OF_ORDER_SEQUENCE_NUMBER, r
    assert kwirex.list_offset(target, "idem-wire", 0, kwirex.LATEST)[1] == 13
    # producer ids are never handed out twice, restarts included
    assert init_producer_id(brook)["producer_id"] > pid


def test_transactional_batch_needs_the_coordinator(brook):
    """A transactional write to a partition that was never added to a
    transaction is refused (KIP-890 verification), not stored."""
    i4util.create_topic(brook.bootstrap, "txn-verify", 1)
    target = (brook.host, brook.port)
    ip = init_producer_id(brook)
    r = kwirex.produce(target, "txn-verify", 0, idem_batch(ip["producer_id"], 0, 0, 2, transactional=True))
    assert r["error_code"] == INVALID_TXN_STATE, r
    assert kwirex.list_offset(target, "txn-verify", 0, kwirex.LATEST)[1] == 0


# ------------------------------------------------------------------ idempotent producer


@pytest.mark.timeout(300)
@pytest.mark.brook_config({"num.partitions": 3, "log.segment.bytes": 1048576})
def test_idempotent_producer_survives_two_kill9(brook):
    from confluent_kafka import TopicPartition

    topic, parts, n = "idem-kill", 3, 200000
    i4util.create_topic(brook.bootstrap, topic, parts)
    p = producer(brook, **{"enable.idempotence": True, "message.timeout.ms": 120000,
                           "linger.ms": 5, "retry.backoff.ms": 50})
    state = {"ok": 0, "errors": [], "kills": []}
    kill_at = [n // 4, n * 3 // 5]

    def cb(err, msg):
        if err is not None:
            state["errors"].append(str(err))
        else:
            state["ok"] += 1

    def maybe_kill():
        # from this (the main) thread: the harness ties brookd's life to the
        # thread that started it (PR_SET_PDEATHSIG)
        if kill_at and state["ok"] >= kill_at[0]:
            brook.kill9()
            time.sleep(0.2)
            brook.start()
            state["kills"].append(kill_at.pop(0))

    for i in range(n):
        while True:
            try:
                p.produce(topic, value=b"%d" % i, partition=i % parts, on_delivery=cb)
                break
            except BufferError:
                p.poll(0.05)
                maybe_kill()
        if i % 2000 == 0:
            p.poll(0)
            maybe_kill()
    deadline = time.monotonic() + 150
    left = len(p)
    while left > 0 and time.monotonic() < deadline:
        left = p.flush(0.5)
        maybe_kill()
    assert not state["errors"], "delivery errors: %s" % state["errors"][:5]
    assert left == 0 and state["ok"] == n, (left, state["ok"])
    assert len(state["kills"]) == 2, "the broker was not killed twice: %s" % state["kills"]

    got = read_all(brook, topic, parts, "read_uncommitted", timeout=120)
    per = {}
    for m in got:
        per.setdefault(m.partition(), []).append((m.offset(), int(m.value())))
    for part in range(parts):
        rows = per.get(part, [])
        want = list(range(part, n, parts))
        seen = [v for _, v in rows]
        dups = [v for v, c in Counter(seen).items() if c > 1]
        assert not dups, "partition %d: %d duplicates, e.g. %s" % (part, len(dups), dups[:5])
        assert seen == want, "partition %d: %d messages, %d expected, first difference at %s" % (
            part, len(seen), len(want), next((i for i, (a, b) in enumerate(zip(seen, want)) if a != b), None))
        assert [o for o, _ in rows] == list(range(len(rows))), "partition %d: offsets not dense" % part


# ------------------------------------------------------------------ transactions


@pytest.mark.smoke
def test_committed_visible_aborted_hidden_and_lso(brook):
    topic = "txn-vis"
    i4util.create_topic(brook.bootstrap, topic, 2)
    p = txn_producer(brook, "vis-1")
    p.init_transactions(30)
    p.begin_transaction()
    produce_values(p, topic, ["c1-%d" % i for i in range(100)], 2)
    p.commit_transaction(30)
    p.begin_transaction()
    produce_values(p, topic, ["ab-%d" % i for i in range(100)], 2)
    p.flush(30)
    p.abort_transaction(30)
    p.begin_transaction()
    produce_values(p, topic, ["c2-%d" % i for i in range(100)], 2)
    p.commit_transaction(30)

    want = ["c1-%d" % i for i in range(100)] + ["c2-%d" % i for i in range(100)]
    rc = values(read_all(brook, topic, 2, "read_committed"))
    assert sorted(rc) == sorted(want), "read_committed saw %d messages (%s...)" % (len(rc), rc[:3])
    for part in range(2):  # order per partition kept
        mine = [v for v in rc if int(v.split("-")[1]) % 2 == part]
        assert mine == [v for v in want if int(v.split("-")[1]) % 2 == part]
    ru = values(read_all(brook, topic, 2, "read_uncommitted"))
    assert sorted(ru) == sorted(want + ["ab-%d" % i for i in range(100)])

    # an open transaction holds read_committed consumers at its first offset
    p.begin_transaction()
    produce_values(p, topic, ["open-%d" % i for i in range(50)], 2)
    p.flush(30)
    q = producer(brook)
    produce_values(q, topic, ["plain-%d" % i for i in range(10)], 2)
    assert q.flush(30) == 0
    rc = values(read_all(brook, topic, 2, "read_committed"))
    assert sorted(rc) == sorted(want), "read_committed read past the last stable offset"
    ru = values(read_all(brook, topic, 2, "read_uncommitted"))
    assert len(ru) == 360
    # ListOffsets: LATEST is the LSO for read_committed, the HW otherwise
    target = (brook.host, brook.port)
    hw = kwirex.list_offset(target, topic, 0, kwirex.LATEST)[1]
    p.commit_transaction(30)
    rc = values(read_all(brook, topic, 2, "read_committed"))
    assert sorted(rc) == sorted(want + ["open-%d" % i for i in range(50)] + ["plain-%d" % i for i in range(10)])
    assert kwirex.list_offset(target, topic, 0, kwirex.LATEST)[1] == hw + 1  # + the marker


@pytest.mark.brook_config({"transaction.abort.timed.out.transaction.cleanup.interval.ms": 500})
def test_open_transaction_is_aborted_after_its_timeout(brook):
    from confluent_kafka import KafkaException

    topic = "txn-timeout"
    i4util.create_topic(brook.bootstrap, topic, 1)
    p = txn_producer(brook, "timeout-1", **{"transaction.timeout.ms": 2000, "message.timeout.ms": 2000})
    p.init_transactions(30)
    p.begin_transaction()
    produce_values(p, topic, ["late-%d" % i for i in range(20)], 1)
    p.flush(30)
    time.sleep(4)  # the coordinator aborts it meanwhile
    q = producer(brook)
    produce_values(q, topic, ["after-%d" % i for i in range(5)], 1)
    assert q.flush(30) == 0
    rc = values(read_all(brook, topic, 1, "read_committed"))
    assert rc == ["after-%d" % i for i in range(5)], rc
    ru = values(read_all(brook, topic, 1, "read_uncommitted"))
    assert len(ru) == 25
    with pytest.raises(KafkaException):
        p.commit_transaction(15)


@pytest.mark.parametrize("how", ["sigterm", "kill9"])
def test_transaction_survives_a_coordinator_restart(brook, how):
    """The broker (transaction coordinator and partition leader) restarts in
    the middle of a transaction: the coordinator reloads it from
    __transaction_state and the producer commits it afterwards."""
    topic = "txn-restart-" + how
    i4util.create_topic(brook.bootstrap, topic, 2)
    p = txn_producer(brook, "restart-" + how)
    p.init_transactions(30)
    p.begin_transaction()
    produce_values(p, topic, ["before-%d" % i for i in range(10)], 2)
    assert p.flush(30) == 0
    if how == "sigterm":
        brook.restart()
    else:
        brook.kill9()
        brook.start()
    produce_values(p, topic, ["after-%d" % i for i in range(10)], 2)
    assert p.flush(60) == 0
    p.commit_transaction(60)
    rc = values(read_all(brook, topic, 2, "read_committed"))
    assert sorted(rc) == sorted(["before-%d" % i for i in range(10)] + ["after-%d" % i for i in range(10)])


# ------------------------------------------------------------------ consume-transform-produce


def _start_transformer(brook, src, dst, group, tid):
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "eos_transform.py"), brook.bootstrap, src,
                             dst, group, tid], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []

    def pump():
        for line in proc.stdout:
            lines.append(line.strip())

    threading.Thread(target=pump, daemon=True).start()
    return proc, lines


def test_consume_transform_produce_survives_kill9_of_the_transformer(brook):
    src, dst, n = "ctp-in", "ctp-out", 3000
    i4util.create_topic(brook.bootstrap, src, 2)
    i4util.create_topic(brook.bootstrap, dst, 2)
    q = producer(brook)
    produce_values(q, src, ["in-%d" % i for i in range(n)], 2)
    assert q.flush(30) == 0

    procs = []
    try:
        proc, lines = _start_transformer(brook, src, dst, "ctp-group", "ctp-1")
        procs.append(proc)
        deadline = time.monotonic() + 60
        while sum(1 for l in lines if l.startswith("committed")) < 5 and time.monotonic() < deadline:
            assert proc.poll() is None, "transformer died: %s" % proc.stderr.read()
            time.sleep(0.02)
        assert sum(1 for l in lines if l.startswith("committed")) >= 5, lines
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        done_before = sum(int(l.split()[1]) for l in lines if l.startswith("committed"))
        assert done_before < n, "the transformer finished before it could be killed"

        proc, lines = _start_transformer(brook, src, dst, "ctp-group", "ctp-1")
        procs.append(proc)
        deadline = time.monotonic() + 90
        out = []
        while time.monotonic() < deadline:
            assert proc.poll() is None, "transformer died: %s" % proc.stderr.read()
            out = values(read_all(brook, dst, 2, "read_committed"))
            if len(out) >= n:
                break
            time.sleep(1)
        time.sleep(1)
        out = values(read_all(brook, dst, 2, "read_committed"))
    finally:
        for pr in procs:
            if pr.poll() is None:
                pr.kill()
            pr.wait(10)
    c = Counter(out)
    dups = [v for v, k in c.items() if k > 1]
    missing = n - len(c)
    assert not dups and missing == 0, "output: %d duplicated, %d missing (of %d)" % (len(dups), missing, n)
    assert set(out) == {"in-%d" % i for i in range(n)}
    # the aborted transaction of the killed transformer is there for read_uncommitted only
    ru = values(read_all(brook, dst, 2, "read_uncommitted"))
    assert len(ru) >= n


# ------------------------------------------------------------------ kafkajs


def test_kafkajs_transactions(brook):
    from confluent_kafka import Consumer, TopicPartition

    topic = "txn-js"
    i4util.create_topic(brook.bootstrap, topic, 2)
    node, env = i4util.node_env()
    r = i4util.run([node, os.path.join(JS, "eos_txn.js"), brook.bootstrap, topic], env=env)
    assert r.returncode == 0, "kafkajs failed (%d):\n%s" % (r.returncode, r.stderr.decode(errors="replace"))
    assert json.loads(r.stdout)["ok"] is True
    rc = values(read_all(brook, topic, 2, "read_committed"))
    assert sorted(rc) == sorted(["commit-%d" % i for i in range(10)] + ["with-offsets"]), rc
    ru = values(read_all(brook, topic, 2, "read_uncommitted"))
    assert sorted(ru) == sorted(["commit-%d" % i for i in range(10)] + ["abort-%d" % i for i in range(10)]
                                + ["with-offsets"])
    c = Consumer({"bootstrap.servers": brook.bootstrap, "group.id": "js-eos-group"})
    try:
        (tp,) = c.committed([TopicPartition(topic, 0)], 15)
        assert tp.offset == 5, tp
    finally:
        c.close()


# ------------------------------------------------------------------ WriteTxnMarkers


def write_txn_markers(brook, pid, epoch, commit, topics, coordinator_epoch=0):
    """WriteTxnMarkers v1 (flexible), one marker; topics: {name: [partitions]}
    -> {(name, partition): error}"""
    w = kwire.Writer().uvarint(2)  # one marker (compact array length + 1)
    w.i64(pid).i16(epoch).bool(commit).uvarint(len(topics) + 1)
    for name, parts in topics.items():
        w.string(name, True).uvarint(len(parts) + 1)
        for p in parts:
            w.i32(p)
        w.tags()
    w.i32(coordinator_epoch).tags().tags()
    with kwire.Conn(brook.host, brook.port, timeout=15) as c:
        corr, body = c.roundtrip(27, 1, 9, w.bytes())
    r = kwire.Reader(body)
    out = {}
    for _ in range(r.uvarint() - 1):
        assert r.i64() == pid
        for _ in range(r.uvarint() - 1):
            name = r.string(True)
            for _ in range(r.uvarint() - 1):
                part = r.i32()
                out[(name, part)] = r.i16()
                r.tags()
            r.tags()
        r.tags()
    r.tags()
    r.done()
    return out


def test_write_txn_markers_end_a_transaction(brook):
    """WriteTxnMarkers (what a coordinator on another broker sends in a
    cluster) writes the marker that makes the transaction's data visible."""
    from test_txn_coord import add_partitions, init_pid

    i4util.create_topic(brook.bootstrap, "wtm", 1)
    err, pid, epoch = init_pid(brook, 3, txn_id="wtm-1")
    assert err == 0
    assert add_partitions(brook, 3, "wtm-1", pid, epoch, {"wtm": [0]}) == {("wtm", 0): 0}
    r = kwirex.produce((brook.host, brook.port), "wtm", 0,
                       idem_batch(pid, epoch, 0, 3, tag="t", transactional=True))
    assert r["error_code"] == 0, r
    assert values(read_all(brook, "wtm", 1, "read_committed")) == []
    res = write_txn_markers(brook, pid, epoch, True, {"wtm": [0], "nope": [0]})
    assert res == {("wtm", 0): 0, ("nope", 0): 3}, res
    assert values(read_all(brook, "wtm", 1, "read_committed")) == ["t-0", "t-1", "t-2"]
