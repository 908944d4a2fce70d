"""Replication between three brokers driven by controller requests.

No ZooKeeper: the brokers run with brook.controller.requests.enable=true and
tests/lib/testcontroller.py plays Kafka's controller (LeaderAndIsr,
UpdateMetadata, StopReplica over the wire). Real clients (confluent-kafka)
produce and consume; raw requests (kwire/kwirex) check error codes.
"""

import glob
import os
import time

import pytest

import kwire
import kwirex
from testcontroller import TestController

confluent_kafka = pytest.importorskip("confluent_kafka")

LAG_MS = 2000

NOT_LEADER_OR_FOLLOWER = 6
NOT_ENOUGH_REPLICAS = 19


def start_cluster(brook_factory, n=3, min_isr=2, lag_ms=LAG_MS):
    brokers = {}
    for i in range(n):
        brokers[i] = brook_factory(
            {
                "broker.id": i,
                "brook.controller.requests.enable": "true",
                "auto.create.topics.enable": "false",
                "replica.lag.time.max.ms": lag_ms,
                "replica.fetch.wait.max.ms": 200,
                "replica.fetch.backoff.ms": 200,
                "min.insync.replicas": min_isr,
            }
        )
    return brokers, TestController(brokers)


def wait_for(cond, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def part_meta(broker, topic, partition=0):
    md = kwirex.metadata((broker.host, broker.port), topics=[topic])
    for t in md["topics"]:
        if t["name"] == topic:
            for p in t["partitions"]:
                if p["partition_index"] == partition:
                    return p
    return None


def log_bytes(broker, topic, partition=0):
    d = os.path.join(broker.datadir, "%s-%d" % (topic, partition))
    out = b""
    for f in sorted(glob.glob(os.path.join(d, "*.log"))):
        with open(f, "rb") as fh:
            out += fh.read()
    return out


def produce(brokers, topic, values, acks="all", timeout=30.0):
    boot = ",".join(b.bootstrap for b in brokers)
    p = confluent_kafka.Producer(
        {
            "bootstrap.servers": boot,
            "acks": acks,
            "linger.ms": 5,
            "message.timeout.ms": int(timeout * 1000),
            "enable.idempotence": False,
            "retries": 0 if acks == "1" else 10,
            "topic.metadata.refresh.interval.ms": 500,
        }
    )
    acked, failed = [], []

    def cb(err, msg):
        (failed if err else acked).append((msg.value(), err))

    for v in values:
        p.produce(topic, value=v, partition=0, on_delivery=cb)
        p.poll(0)
    p.flush(timeout + 5)
    return [v for v, _ in acked], failed


def consume_all(broker, topic, expect_at_least, timeout=20.0):
    c = confluent_kafka.Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": "g-%d" % time.monotonic_ns(),
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        c.assign([confluent_kafka.TopicPartition(topic, 0, 0)])
        got = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(got) < expect_at_least:
            m = c.poll(0.5)
            if m is None or m.error():
                continue
            got.append(m.value())
        # a little longer: nothing unexpected may follow
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            m = c.poll(0.2)
            if m is not None and not m.error():
                got.append(m.value())
        return got
    finally:
        c.close()


def test_replicates_to_followers(brook_factory):
    brokers, ctl = start_cluster(brook_factory)
    ctl.create_topic("rep", replicas=[0, 1, 2])
    for b in brokers.values():
        p = wait_for(lambda: part_meta(b, "rep"), what="metadata on %d" % b.port)
        assert p["leader_id"] == 0 and p["replica_nodes"] == [0, 1, 2], p
        assert sorted(p["isr_nodes"]) == [0, 1, 2], p
    vals = [b"v%d" % i for i in range(200)]
    acked, failed = produce(list(brokers.values()), "rep", vals)
    assert not failed, failed[:3]
    assert sorted(acked) == sorted(vals)
    # the HW covers every acknowledged record, and the followers hold the
    # leader's batches byte for byte
    lead = log_bytes(brokers[0], "rep")
    assert lead
    for i in (1, 2):
        wait_for(lambda: log_bytes(brokers[i], "rep") == lead, what="follower %d log" % i)
    # only the leader serves clients
    for i in (1, 2):
        b = brokers[i]
        r = kwirex.fetch((b.host, b.port), "rep", 0, 0)
        assert r["error_code"] == NOT_LEADER_OR_FOLLOWER
        pr = kwirex.produce((b.host, b.port), "rep", 0, kwirex.record_batch([(None, b"x", [])]))
        assert pr["error_code"] == NOT_LEADER_OR_FOLLOWER, pr
    got = consume_all(brokers[0], "rep", len(vals))
    assert got == vals


def test_isr_shrink_and_min_insync(brook_factory):
    brokers, ctl = start_cluster(brook_factory)
    ctl.create_topic("shr", replicas=[0, 1, 2])
    acked, failed = produce(list(brokers.values()), "shr", [b"a%d" % i for i in range(20)])
    assert not failed and len(acked) == 20
    brokers[2].kill9()
    ctl.alive.discard(2)
    # acks=all waits for the ISR; after replica.lag.time.max.ms the dead
    # follower leaves the ISR and {0, 1} >= min.insync.replicas=2 suffices
    t0 = time.monotonic()
    acked, failed = produce([brokers[0]], "shr", [b"b%d" % i for i in range(20)], timeout=20)
    assert not failed, failed[:3]
    assert len(acked) == 20
    assert time.monotonic() - t0 < LAG_MS / 1000.0 + 10
    p = part_meta(brokers[0], "shr")
    assert sorted(p["isr_nodes"]) == [0, 1], p
    # the HW never passed what follower 1 has
    b0 = brokers[0]
    hw = kwirex.fetch((b0.host, b0.port), "shr", 0, 0)["high_watermark"]
    assert hw == 40
    # min.insync.replicas=3 with an ISR of 2: refused before the append
    r = kwirex.incremental_alter_configs((b0.host, b0.port), [(2, "shr", [("min.insync.replicas", 0, "3")])])
    pr = kwirex.produce((b0.host, b0.port), "shr", 0, kwirex.record_batch([(None, b"x", [])]), acks=-1)
    assert pr["error_code"] == NOT_ENOUGH_REPLICAS, (pr, r)
    # acks=1 still works
    pr = kwirex.produce((b0.host, b0.port), "shr", 0, kwirex.record_batch([(None, b"y", [])]), acks=1)
    assert pr["error_code"] == 0, pr
    # the follower comes back, catches up and rejoins the ISR
    brokers[2].start()
    ctl.alive.add(2)
    ctl.send_leadership("shr", only=[2])
    ctl.broadcast_metadata()
    wait_for(lambda: sorted(part_meta(b0, "shr")["isr_nodes"]) == [0, 1, 2], what="ISR expansion")
    wait_for(lambda: log_bytes(brokers[2], "shr") == log_bytes(b0, "shr"), what="catch-up")


def test_failover_truncates_divergent_tail(brook_factory):
    brokers, ctl = start_cluster(brook_factory)
    b0, b1, b2 = brokers[0], brokers[1], brokers[2]
    ctl.create_topic("fo", replicas=[0, 1, 2])
    a_vals = [b"a%d" % i for i in range(50)]
    acked_a, failed = produce(list(brokers.values()), "fo", a_vals)
    assert not failed and sorted(acked_a) == sorted(a_vals)
    # Only broker 0 hears of a new epoch with ISR {0}: the followers are
    # fenced (their fetches carry the old epoch) and stop copying, so what
    # it now takes with acks=1 exists on broker 0 alone.
    ctl.elect("fo", 0, leader=0, isr=[0], only=[0])
    b_vals = [b"b%d" % i for i in range(30)]
    acked_b, failed = produce([b0], "fo", b_vals, acks="1", timeout=10)
    assert not failed and len(acked_b) == 30
    time.sleep(0.5)
    assert len(log_bytes(b1, "fo")) < len(log_bytes(b0, "fo"))
    b0.kill9()
    ctl.alive.discard(0)
    # the controller elects broker 1 (in the last ISR it knew of {0,1,2})
    epoch = ctl.elect("fo", 0, leader=1, isr=[1, 2])
    assert epoch == 2
    wait_for(lambda: part_meta(b1, "fo")["leader_id"] == 1, what="new leader")
    got = consume_all(b1, "fo", len(a_vals))
    assert got == a_vals  # every acknowledged record, once, none of the tail
    c_vals = [b"c%d" % i for i in range(40)]
    acked_c, failed = produce([b1, b2], "fo", c_vals)
    assert not failed and sorted(acked_c) == sorted(c_vals)
    # the old leader comes back as a follower: it truncates its divergent
    # tail (OffsetForLeaderEpoch) and catches up
    b0.start()
    ctl.alive.add(0)
    ctl.send_leadership("fo", only=[0])
    ctl.broadcast_metadata()
    wait_for(lambda: log_bytes(b0, "fo") == log_bytes(b1, "fo"), what="old leader catch-up")
    assert "truncated from" in b0.log_text()
    wait_for(lambda: sorted(part_meta(b1, "fo")["isr_nodes"]) == [0, 1, 2], what="ISR expansion")
    got = consume_all(b1, "fo", len(a_vals) + len(c_vals))
    assert got == a_vals + c_vals
    # its leader-epoch history matches the leader's
    with open(os.path.join(b0.datadir, "fo-0", "leader-epoch-checkpoint")) as f0, open(
        os.path.join(b1.datadir, "fo-0", "leader-epoch-checkpoint")
    ) as f1:
        assert f0.read() == f1.read()


STALE_CONTROLLER_EPOCH = 11


def test_controller_requests(brook_factory, brook):
    # a single-node broker neither advertises nor serves them
    keys = kwire.api_versions(brook.host, brook.port, version=3)["keys"]
    assert 4 not in keys and 5 not in keys and 6 not in keys
    brokers, ctl = start_cluster(brook_factory, n=2, min_isr=1)
    b0, b1 = brokers[0], brokers[1]
    keys = kwire.api_versions(b0.host, b0.port, version=3)["keys"]
    assert 4 in keys and 5 in keys and 6 in keys
    ctl.epoch = 5
    ctl.create_topic("cr", partitions=2, replicas=[0, 1])
    md = kwirex.metadata((b1.host, b1.port), topics=["cr"])
    assert sorted(b["node_id"] for b in md["brokers"]) == [0, 1]
    assert md["controller_id"] == 0
    # an older controller is refused, for the request and each partition
    _, parts = ctl.topics["cr"]
    ctl.epoch = 4
    res = ctl.leader_and_isr(1, "cr", {0: parts[0]})
    assert res["error"] == STALE_CONTROLLER_EPOCH and res[0] == STALE_CONTROLLER_EPOCH
    assert ctl.update_metadata(1) == STALE_CONTROLLER_EPOCH
    ctl.epoch = 5
    # a stale leader epoch is ignored for that partition only
    from testcontroller import PartState

    old = PartState(1, -1 + 0, [0, 1], [0, 1])
    old.leader_epoch = 0
    ctl.elect("cr", 1, leader=1)  # partition 1: epoch 1, leader 1
    res = ctl.leader_and_isr(0, "cr", {1: old})
    assert res[1] == STALE_CONTROLLER_EPOCH
    assert part_meta(b0, "cr", 1)["leader_id"] == 1
    # produce to both leaders, then stop and delete partition 1 on broker 0
    pr = kwirex.produce((b1.host, b1.port), "cr", 1, kwirex.record_batch([(None, b"p1", [])]), acks=-1)
    assert pr["error_code"] == 0, pr
    wait_for(lambda: log_bytes(b0, "cr", 1) == log_bytes(b1, "cr", 1), what="partition 1 replica")
    assert os.path.isdir(os.path.join(b0.datadir, "cr-1"))
    res = ctl.stop_replica(0, "cr", [1], delete=True)
    assert res["error"] == 0 and res[1] == 0
    wait_for(lambda: not os.path.isdir(os.path.join(b0.datadir, "cr-1")), what="deletion")
    # partition 0 is untouched
    pr = kwirex.produce((b0.host, b0.port), "cr", 0, kwirex.record_batch([(None, b"p0", [])]), acks=-1)
    assert pr["error_code"] == 0, pr


REQUEST_TIMED_OUT = 7
NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20


def produce_raw(broker, topic, value, acks=-1, timeout_ms=10000):
    body = kwirex.produce_body(7, topic, 0, kwirex.record_batch([(None, value, [])]), acks, timeout_ms)
    res = kwirex.call((broker.host, broker.port), kwire.API_PRODUCE, 7, body, kwirex.parse_produce,
                      timeout=timeout_ms / 1000.0 + 15)
    return res["topics"][0]["partitions"][0]


def test_acks_all_timeout_and_after_append(brook_factory):
    # a longer lag: the second produce must arrive before the shrink
    brokers, ctl = start_cluster(brook_factory, lag_ms=4000)
    b0 = brokers[0]
    ctl.create_topic("aa", replicas=[0, 1, 2])
    assert produce_raw(b0, "aa", b"ok")["error_code"] == 0
    brokers[1].kill9()
    brokers[2].kill9()
    # the ISR still names the dead followers: the HW cannot move, the
    # request times out
    t0 = time.monotonic()
    pr = produce_raw(b0, "aa", b"t", timeout_ms=500)
    assert pr["error_code"] == REQUEST_TIMED_OUT, pr
    assert time.monotonic() - t0 < 5
    # appended while the ISR was big enough; the ISR then shrinks to {0}
    # (below min.insync.replicas=2) and the HW moves past it
    pr = produce_raw(b0, "aa", b"late", timeout_ms=15000)
    assert pr["error_code"] == NOT_ENOUGH_REPLICAS_AFTER_APPEND, pr
    assert part_meta(b0, "aa")["isr_nodes"] == [0]
    pr = produce_raw(b0, "aa", b"now")
    assert pr["error_code"] == NOT_ENOUGH_REPLICAS, pr


def test_follower_behind_log_start_restarts_there(brook_factory):
    brokers, ctl = start_cluster(brook_factory, n=2, min_isr=1)
    b0, b1 = brokers[0], brokers[1]
    ctl.create_topic("oor", replicas=[0, 1])
    acked, failed = produce([b0], "oor", [b"x%d" % i for i in range(10)])
    assert not failed and len(acked) == 10
    wait_for(lambda: log_bytes(b1, "oor") == log_bytes(b0, "oor"), what="replica")
    b1.kill9()
    ctl.alive.discard(1)
    # the ISR shrinks to {0}; more data, then DeleteRecords moves the log
    # start past everything the follower has
    acked, failed = produce([b0], "oor", [b"y%d" % i for i in range(40)], timeout=20)
    assert not failed and len(acked) == 40
    res = kwirex.delete_records((b0.host, b0.port), "oor", {0: 45})
    assert res[0]["error_code"] == 0 and res[0]["low_watermark"] == 45, res
    b1.start()
    ctl.alive.add(1)
    ctl.send_leadership("oor", only=[1])
    ctl.broadcast_metadata()
    # Fetch at 10 is OFFSET_OUT_OF_RANGE; the follower restarts its log at
    # the leader's log start (45) and copies the rest
    # (at the base of the batch that holds 45, as Kafka)
    wait_for(lambda: sorted(part_meta(b0, "oor")["isr_nodes"]) == [0, 1], what="ISR expansion")
    assert "restarting the log at the leader's start 45" in b1.log_text()
    segs = sorted(glob.glob(os.path.join(b1.datadir, "oor-0", "*.log")))
    assert os.path.basename(segs[0]) != "%020d.log" % 0, segs
    assert b"y39" in log_bytes(b1, "oor") and b"x0" not in log_bytes(b1, "oor")
    # the leader's log start reached the follower too
    def follower_start():
        with open(os.path.join(b1.datadir, "log-start-offset-checkpoint")) as f:
            return "oor 0 45" in f.read()
    b1.stop()
    assert follower_start()


def test_leaders_spread_over_brokers(brook_factory):
    brokers, ctl = start_cluster(brook_factory)
    ctl.create_topic("spread", partitions=3, replicas=[0, 1, 2])
    # partition p led by broker p (leader epoch 1)
    for p in (1, 2):
        ctl.elect("spread", p, leader=p)
    for p in range(3):
        b = brokers[p]
        wait_for(lambda: part_meta(brokers[(p + 1) % 3], "spread", p)["leader_id"] == p, what="leader")
        for k in range(5):
            pr = kwirex.produce((b.host, b.port), "spread", p, kwirex.record_batch([(None, b"p%d-%d" % (p, k), [])]))
            assert pr["error_code"] == 0, pr
            assert pr["base_offset"] == k
    for p in range(3):
        lead = log_bytes(brokers[p], "spread", p)
        for i in range(3):
            wait_for(lambda: log_bytes(brokers[i], "spread", p) == lead, what="replica %d of %d" % (i, p))
