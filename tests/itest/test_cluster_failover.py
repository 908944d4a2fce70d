"""Cluster mode end to end on a real ZooKeeper ensemble (issue 8): brokers
apply the partition state znodes (leaders, ISRs), the leader's ISR changes
are version-checked writes of them, and the controller fails partitions over
when a broker dies.

  - a replication-factor-3 topic created through AdminClient has its
    leaders and ISR [0,1,2] in Metadata on every broker; produce/consume;
  - acks=all + min.insync.replicas=2 + an idempotent producer writing
    continuously while the leader is kill -9'd and restarted 20 times
    (BROOK_FAILOVER_KILLS; about 100 s): every
    acknowledged message is read back once, in order; the produce stall per
    kill is printed (pytest -s) and quoted in the assertion messages;
  - the restarted broker is back in the ISR (Metadata and kcat -L).

Bounded: short sessions (4 s), every wait has a limit, every process
(brokers and the ZooKeeper JVM) is killed by the Cluster context manager."""

import os
import shutil
import struct
import subprocess
import sys
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import kwire  # noqa: E402
import kwirex  # noqa: E402
import zkharness  # noqa: E402
from test_cluster_zk import Cluster, wait_for  # noqa: E402

pytest.importorskip("kazoo.client")
ck = pytest.importorskip("confluent_kafka")

pytestmark = [
    pytest.mark.skipif(not zkharness.available(), reason="Debian's zookeeper package is not installed"),
    pytest.mark.timeout(150),
]

KILLS = int(os.environ.get("BROOK_FAILOVER_KILLS", "20"))  # issue 8: 20 (about 5 s each, ~100 s)
EXTRA = {"replica.lag.time.max.ms": 3000, "replica.fetch.wait.max.ms": 200}


def md(b, topics):
    return kwirex.call((b.host, b.port), 3, 10, kwire.metadata_body(10, topics), kwire.parse_metadata)


def parts_of(b, topic):
    t = md(b, [topic])["topics"][0]
    if t["error_code"] != 0:
        return None
    return {p["partition_index"]: p for p in t["partitions"]}


def start3(c):
    bs = [c.broker(i, EXTRA) for i in range(3)]
    wait_for(lambda: all(sorted(x["node_id"] for x in md(b, [])["brokers"]) == [0, 1, 2] for b in bs),
             15, "3 live brokers everywhere")
    return bs


def create(bs, name, nparts, config=None):
    from confluent_kafka.admin import AdminClient, NewTopic

    a = AdminClient({"bootstrap.servers": bs[0].bootstrap})
    for f in a.create_topics([NewTopic(name, nparts, 3, config=config or {})], operation_timeout=10).values():
        f.result(timeout=20)


def full_isr_everywhere(bs, topic, nparts):
    for b in bs:
        ps = parts_of(b, topic)
        if not ps or len(ps) != nparts:
            return False
        for p in ps.values():
            if p["error_code"] != 0 or p["leader_id"] < 0 or sorted(p["isr_nodes"]) != [0, 1, 2]:
                return False
    return True


def read_all(bs, topic, partition, timeout=20):
    """(offset, value) of every record, read from the current leader."""
    def attempt():
        for b in bs:
            if not b.alive():
                continue
            ps = parts_of(b, topic)
            if ps and ps[partition]["leader_id"] >= 0:
                leader = [x for x in bs if x.node_id == ps[partition]["leader_id"]][0]
                batches, _ = kwirex.fetch_all((leader.host, leader.port), topic, partition, timeout=10)
                return [(o, v) for bt in batches if not bt["control"] for (o, k, v, h) in bt["records"]]
        return None
    return wait_for(attempt, timeout, "reading %s-%d" % (topic, partition), step=0.3)


def test_rf3_topic_gets_leaders_and_full_isr_on_every_broker(tmp_path):
    with Cluster(tmp_path) as c:
        bs = start3(c)
        create(bs, "rf3", 3)
        wait_for(lambda: full_isr_everywhere(bs, "rf3", 3), 20, "leaders and ISR [0,1,2] on every broker")
        ps = parts_of(bs[1], "rf3")
        # the preferred (first) replica leads each partition
        assert all(p["leader_id"] == p["replica_nodes"][0] for p in ps.values()), ps
        p = ck.Producer({"bootstrap.servers": ",".join(b.bootstrap for b in bs), "acks": "all",
                         "message.timeout.ms": 20000})
        errs = []
        for i in range(60):
            p.produce("rf3", value=b"v%d" % i, partition=i % 3,
                      on_delivery=lambda e, m: errs.append(e) if e else None)
        assert p.flush(25) == 0 and not errs, errs
        for part in range(3):
            got = [v for _, v in read_all(bs, "rf3", part)]
            assert got == [b"v%d" % i for i in range(part, 60, 3)]
        # a consumer group: FindCoordinator names the leader of the group's
        # __consumer_offsets partition (created with replication factor 3)
        cons = ck.Consumer({"bootstrap.servers": bs[2].bootstrap, "group.id": "g1",
                            "auto.offset.reset": "earliest", "enable.auto.commit": False})
        try:
            cons.subscribe(["rf3"])
            got = []
            deadline = time.monotonic() + 30
            while len(got) < 60 and time.monotonic() < deadline:
                m = cons.poll(0.5)
                if m is not None and not m.error():
                    got.append(m.value())
            assert sorted(got) == sorted(b"v%d" % i for i in range(60)), len(got)
            cons.commit(asynchronous=False)
        finally:
            cons.close()
        t = md(bs[0], ["__consumer_offsets"])["topics"][0]
        assert t["error_code"] == 0 and all(len(p["replica_nodes"]) == 3 for p in t["partitions"]), t
        # followers hold the same log (they replicated it)
        for part in range(3):
            for b in bs:
                def same():
                    bt, hw = kwirex.fetch_all((b.host, b.port), "rf3", part, timeout=5) \
                        if parts_of(b, "rf3")[part]["leader_id"] == b.node_id else ([], 20)
                    return hw == 20
                wait_for(same, 10, "hw 20 on %d" % part)


class Writer(threading.Thread):
    """An idempotent acks=all producer writing numbered messages to one
    partition; records when each acknowledgement arrived."""

    def __init__(self, bootstrap, topic, extra=None):
        super().__init__(daemon=True)
        conf = {"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                "linger.ms": 5, "message.timeout.ms": 60000,
                "retry.backoff.ms": 50, "reconnect.backoff.max.ms": 500,
                "topic.metadata.refresh.interval.ms": 1000}
        conf.update(extra or {})
        self.p = ck.Producer(conf)
        self.topic = topic
        self.stop_ev = threading.Event()
        self.acked = []  # (value, offset, time)
        self.errors = []
        self.n = 0

    def cb(self, err, msg):
        if err is None:
            self.acked.append((msg.value(), msg.offset(), time.monotonic()))
        else:
            self.errors.append(str(err))

    def run(self):
        while not self.stop_ev.is_set():
            try:
                if len(self.p) < 200:
                    self.p.produce(self.topic, value=b"m%08d" % self.n, partition=0, on_delivery=self.cb)
                    self.n += 1
            except BufferError:
                pass
            self.p.poll(0.005)
        self.p.flush(30)


def leader_of(bs, topic, partition, exclude=None):
    for b in bs:
        if not b.alive() or b is exclude:
            continue
        try:
            ps = parts_of(b, topic)
        except Exception:
            continue
        if ps and ps[partition]["leader_id"] >= 0 and ps[partition]["leader_id"] != (
                exclude.node_id if exclude else None):
            return ps[partition]["leader_id"]
    return None


@pytest.mark.timeout(150 + 8 * KILLS)
def test_kill9_leader_three_times_loses_no_acknowledged_message(tmp_path):
    with Cluster(tmp_path) as c:
        bs = start3(c)
        byid = {b.node_id: b for b in bs}
        create(bs, "fo", 1, {"min.insync.replicas": "2"})
        wait_for(lambda: full_isr_everywhere(bs, "fo", 1), 20, "ISR [0,1,2]")
        w = Writer(",".join(b.bootstrap for b in bs), "fo")
        w.start()
        stalls = []
        try:
            wait_for(lambda: len(w.acked) > 200, 20, "first acks")
            for k in range(KILLS):
                lid = leader_of(bs, "fo", 0)
                assert lid is not None
                victim = byid[lid]
                t_kill = time.monotonic()
                n_before = len(w.acked)
                victim.kill9()
                new = wait_for(lambda: [leader_of(bs, "fo", 0, exclude=victim)] if leader_of(
                    bs, "fo", 0, exclude=victim) is not None else None, 20,
                    "a new leader after killing %d" % lid)[0]
                wait_for(lambda: len(w.acked) > n_before + 50, 30, "acks after the failover")
                times = [t for (_, _, t) in w.acked if t >= t_kill - 0.5]
                gaps = [b - a for a, b in zip(times, times[1:])] + [times[0] - t_kill if times else 99]
                stall = max(gaps)
                stalls.append(stall)
                print("kill %d: leader %d -> %d, produce stalled %.2f s" % (k + 1, lid, new, stall))
                victim.start()
                # the restarted broker rejoins as follower and the ISR grows back
                wait_for(lambda: full_isr_everywhere([b for b in bs if b.alive()], "fo", 1), 30,
                         "broker %d back in the ISR (stalls so far %s)" % (lid, stalls))
            time.sleep(1)
        finally:
            w.stop_ev.set()
            w.join(40)
        assert not w.errors, "producer errors %s (stalls %s)" % (w.errors[:5], stalls)
        acked = [v for (v, _, _) in w.acked]
        assert acked, stalls
        log = read_all(bs, "fo", 0)
        values = [v for _, v in log]
        assert len(values) == len(set(values)), "duplicates in the log (stalls %s)" % stalls
        pos = {v: i for i, v in enumerate(values)}
        missing = [v for v in acked if v not in pos]
        assert not missing, "%d acknowledged messages missing, e.g. %s (stalls %s)" % (
            len(missing), missing[:3], stalls)
        order = [pos[v] for v in sorted(acked)]
        assert order == sorted(order), "acknowledged messages out of order (stalls %s)" % stalls
        # offsets reported to the producer are where the messages are
        # (librdkafka gives no offset, None, for a batch acknowledged
        # implicitly after its request timed out)
        for v, off, _ in w.acked:
            assert off is None or log[pos[v]][0] == off, (v, off, log[pos[v]][0])
        # (iii) every broker lists the rejoined broker in the ISR; so does kcat
        wait_for(lambda: full_isr_everywhere(bs, "fo", 1), 20, "full ISR at the end")
        if shutil.which("kcat"):
            out = subprocess.run(["kcat", "-L", "-b", bs[0].bootstrap, "-t", "fo", "-m", "10"],
                                 capture_output=True, text=True, timeout=20).stdout
            line = [x for x in out.splitlines() if "partition 0" in x][0]
            isrs = line.split("isrs:")[1].strip().rstrip(")").split(",")
            assert sorted(int(x) for x in isrs) == [0, 1, 2], out
        print("produce stall per kill: %s s; %d acknowledged messages" %
              (", ".join("%.2f" % s for s in stalls), len(acked)))
        # the stalls are measurements (printed, quoted in notes), not targets:
        # liveness is the bounded waits above (a new leader, acks resuming)


def java_hash(s):
    h = 0
    for u in s.encode("utf-16-be").decode("utf-16-be"):
        for cu in ([ord(u)] if ord(u) < 0x10000 else
                   [0xD800 + ((ord(u) - 0x10000) >> 10), 0xDC00 + ((ord(u) - 0x10000) & 0x3FF)]):
            h = (31 * h + cu) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def offset_fetch_v1(b, group, topic, part):
    """(offset, error) of one partition, over the wire (OffsetFetch v1)."""
    w = kwire.Writer().string(group).i32(1).string(topic).i32(1).i32(part)
    with kwire.Conn(b.host, b.port, timeout=10) as c:
        _, rb = c.roundtrip(9, 1, 21, w.bytes())
    r = kwire.Reader(rb)
    assert r.i32() == 1 and r.string() == topic and r.i32() == 1 and r.i32() == part
    off, _, err = r.i64(), r.string(nullable=True), r.i16()
    return off, err


def group_partition(group, nparts):
    h = java_hash(group)
    return (0 if h == -(1 << 31) else abs(h)) % nparts


@pytest.mark.timeout(90)
def test_group_offsets_survive_coordinator_failover(tmp_path):
    """The leader of the group's __consumer_offsets partition is killed -9:
    the new leader's coordinator loads that partition, so a new consumer of
    the group resumes from the committed offset (issue 8 item 4)."""
    with Cluster(tmp_path) as c:
        bs = start3(c)
        byid = {b.node_id: b for b in bs}
        create(bs, "gt", 1)
        wait_for(lambda: full_isr_everywhere(bs, "gt", 1), 20, "ISR [0,1,2]")
        p = ck.Producer({"bootstrap.servers": ",".join(b.bootstrap for b in bs), "acks": "all"})
        for i in range(30):
            p.produce("gt", value=b"v%d" % i, partition=0)
        assert p.flush(20) == 0
        conf = {"bootstrap.servers": ",".join(b.bootstrap for b in bs), "group.id": "gfo",
                "auto.offset.reset": "earliest", "enable.auto.commit": False,
                "session.timeout.ms": 6000, "topic.metadata.refresh.interval.ms": 1000}
        cons = ck.Consumer(conf)
        try:
            cons.subscribe(["gt"])
            got = []
            deadline = time.monotonic() + 20
            while len(got) < 20 and time.monotonic() < deadline:
                m = cons.poll(0.5)
                if m is not None and not m.error():
                    got.append(m)
            assert len(got) == 20, len(got)
            cons.commit(message=got[-1], asynchronous=False)
            assert cons.committed([ck.TopicPartition("gt", 0)], timeout=10)[0].offset == 20
        finally:
            cons.close()
        t = md(bs[0], ["__consumer_offsets"])["topics"][0]
        nparts = len(t["partitions"])
        gp = group_partition("gfo", nparts)
        wait_for(lambda: full_isr_everywhere(bs, "__consumer_offsets", nparts), 20,
                 "__consumer_offsets fully in sync")
        lid = leader_of(bs, "__consumer_offsets", gp)
        victim = byid[lid]
        # the commit is replicated: a consumer fetch (up to the HW, which the
        # full ISR bounds) of the leader returns the offset record
        def replicated():
            bts, _ = kwirex.fetch_all((victim.host, victim.port), "__consumer_offsets", gp, timeout=5)
            want = struct.pack(">hh3sh2si", 1, 3, b"gfo", 2, b"gt", 0)
            return any(k == want and v and struct.unpack(">hq", v[:10])[1] == 20
                       for bt in bts if not bt["control"] for (o, k, v, h) in bt["records"])
        wait_for(replicated, 10, "the commit replicated", step=0.3)
        # only the leader of the group's partition is its coordinator
        for b in bs:
            assert offset_fetch_v1(b, "gfo", "gt", 0) == ((20, 0) if b is victim else (-1, 16)), b.node_id
        victim.kill9()
        new = wait_for(lambda: [leader_of(bs, "__consumer_offsets", gp, exclude=victim)]
                       if leader_of(bs, "__consumer_offsets", gp, exclude=victim) is not None
                       else None, 20, "a new coordinator after killing %d" % lid)[0]
        assert new != lid
        # the new leader loaded the partition: it serves the committed offset
        wait_for(lambda: offset_fetch_v1(byid[new], "gfo", "gt", 0) == (20, 0), 10,
                 "OffsetFetch from the new coordinator %d" % new)
        alive = [b for b in bs if b.alive()]
        conf["bootstrap.servers"] = ",".join(b.bootstrap for b in alive)
        cons = ck.Consumer(conf)
        try:
            def committed():
                try:
                    r = cons.committed([ck.TopicPartition("gt", 0)], timeout=5)[0]
                except ck.KafkaException:
                    return None
                return r.offset if r.error is None and r.offset >= 0 else None
            assert wait_for(committed, 20, "the committed offset from the new coordinator") == 20
            cons.subscribe(["gt"])
            first = None
            deadline = time.monotonic() + 20
            while first is None and time.monotonic() < deadline:
                m = cons.poll(0.5)
                if m is not None and not m.error():
                    first = m
            assert first is not None and first.offset() == 20, first and first.offset()
        finally:
            cons.close()


@pytest.mark.timeout(90)
def test_offset_commit_is_answered_once_replicated(tmp_path):
    """OffsetCommit in cluster mode is acknowledged like an acks=all write
    (Kafka appends offsets with acks=-1): with both followers of the group's
    __consumer_offsets partition frozen (SIGSTOP, well inside
    replica.lag.time.max.ms, so the ISR keeps them), the coordinator holds
    the answer; once they resume and replicate it, the commit succeeds. A
    coordinator that answered at once could lose an acknowledged commit to
    a failover."""
    import signal as _signal
    import socket as _socket

    with Cluster(tmp_path) as c:
        bs = start3(c)
        byid = {b.node_id: b for b in bs}
        create(bs, "oc", 1)
        wait_for(lambda: full_isr_everywhere(bs, "oc", 1), 20, "ISR [0,1,2]")
        # a first commit creates __consumer_offsets (RF3) and the group
        body = (kwire.Writer().string("gdur").i32(-1).string("").i64(-1).i32(1).string("oc")
                .i32(1).i32(0).i64(5).string("").bytes())  # OffsetCommit v2
        def commit_via(b, corr, timeout):
            conn = kwire.Conn(b.host, b.port, timeout=timeout)
            conn.send(kwire.request(8, 2, corr, body))
            return conn
        def parse_commit(payload):
            _, _, rb = kwire.split_response(8, 2, payload)
            r = kwire.Reader(rb)
            assert r.i32() == 1 and r.string() == "oc" and r.i32() == 1 and r.i32() == 0
            return r.i16()
        nparts = None
        def coordinator():
            nonlocal nparts
            try:
                t = md(bs[0], ["__consumer_offsets"])["topics"][0]
            except Exception:
                return None
            if t["error_code"] != 0 or not t["partitions"]:
                return None
            nparts = len(t["partitions"])
            if not full_isr_everywhere(bs, "__consumer_offsets", nparts):
                return None
            lid = leader_of(bs, "__consumer_offsets", group_partition("gdur", nparts))
            return [lid] if lid is not None else None
        def first_commit():
            # a simple consumer's commit: FindCoordinator creates the topic
            cons = ck.Consumer({"bootstrap.servers": ",".join(b.bootstrap for b in bs),
                                "group.id": "gdur", "enable.auto.commit": False})
            try:
                cons.commit(offsets=[ck.TopicPartition("oc", 0, 3)], asynchronous=False)
                return True
            except ck.KafkaException:
                return None
            finally:
                cons.close()
        wait_for(first_commit, 30, "a first OffsetCommit accepted", step=0.5)
        lid = wait_for(coordinator, 30, "__consumer_offsets fully in sync")[0]
        coord = byid[lid]
        followers = [b for b in bs if b is not coord]
        for f in followers:
            os.kill(f.proc.pid, _signal.SIGSTOP)
        try:
            conn = commit_via(coord, 2, 1.0)
            try:
                early = conn.recv_frame()
            except _socket.timeout:
                early = None
            assert early is None, ("the commit was acknowledged (error %d) while neither follower "
                                   "had it" % parse_commit(early))
        finally:
            for f in followers:
                os.kill(f.proc.pid, _signal.SIGCONT)
        conn.sock.settimeout(15)
        assert parse_commit(conn.recv_frame()) == 0
        conn.close()
        assert offset_fetch_v1(coord, "gdur", "oc", 0) == (5, 0)
