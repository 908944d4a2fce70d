"""Consumer groups with real clients: the group coordinator (FindCoordinator,
JoinGroup, SyncGroup, Heartbeat, LeaveGroup), committed offsets
(OffsetCommit/OffsetFetch) kept in __consumer_offsets, and the admin group
APIs.

Clients: confluent-kafka 1.7.0 (librdkafka 2.0.2: JoinGroup v5, SyncGroup
v3, Heartbeat v3, LeaveGroup v1, OffsetCommit v7, OffsetFetch v7), kcat
1.7.1 (same library), kafka-python 2.0.2 (JoinGroup v2, OffsetCommit v2,
OffsetFetch v1) and kafkajs 2.2.4 (JoinGroup v5, OffsetCommit v5, OffsetFetch
v4; skipped when node or kafkajs is not installed). Consumers of the membership test run in their own
processes so one can be killed with SIGKILL. Brokers use
group.initial.rebalance.delay.ms=0 and 3 partitions of __consumer_offsets
so the suite stays fast; consumers use session.timeout.ms=6000 and
heartbeat.interval.ms=1000.
"""

import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time

import pytest

PY = "/usr/bin/python3"
GROUP_PROPS = {"group.initial.rebalance.delay.ms": 0, "offsets.topic.num.partitions": 3}

# A consumer process: prints one JSON line per event (assign, revoke, msg,
# commit, closed). Commits synchronously every 0.5 s and on revocation.
WORKER = r"""
import json, signal, sys, time
from confluent_kafka import Consumer, TopicPartition
conf = json.loads(sys.argv[1]); topic = sys.argv[2]
def out(**k):
    sys.stdout.write(json.dumps(k) + "\n"); sys.stdout.flush()
c = Consumer(conf)
pending = {}
def commit():
    if not pending:
        return
    tps = [TopicPartition(topic, p, o) for p, o in pending.items()]
    offs = dict(pending)
    pending.clear()
    try:
        c.commit(offsets=tps, asynchronous=False)
        out(ev="commit", offsets=offs)
    except Exception as e:
        out(ev="commit_error", err=str(e))
def on_assign(cons, parts):
    out(ev="assign", parts=sorted(p.partition for p in parts))
def on_revoke(cons, parts):
    commit()
    out(ev="revoke", parts=sorted(p.partition for p in parts))
c.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
stop = []
signal.signal(signal.SIGTERM, lambda s, f: stop.append(1))
last = time.time()
while not stop:
    m = c.poll(0.2)
    if m is not None and not m.error():
        out(ev="msg", p=m.partition(), o=m.offset(), v=m.value().decode())
        pending[m.partition()] = m.offset() + 1
    if time.time() - last > 0.5:
        commit()
        last = time.time()
commit()
c.close()
out(ev="closed")
"""


class Worker:
    def __init__(self, brook, group, topic, **extra):
        conf = {
            "bootstrap.servers": brook.bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 1000,
            "enable.partition.eof": False,
        }
        conf.update(extra)
        self.events = []
        self.lock = threading.Lock()
        self.proc = subprocess.Popen([PY, "-c", WORKER, json.dumps(conf), topic],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            ev["t"] = time.monotonic()
            with self.lock:
                self.events.append(ev)

    def evs(self, kind=None):
        with self.lock:
            return [e for e in self.events if kind is None or e["ev"] == kind]

    def assignment(self):
        """Current partitions (eager: the last assign; cooperative: sum)."""
        cur = set()
        for e in self.evs():
            if e["ev"] == "assign":
                cur |= set(e["parts"])
            elif e["ev"] == "revoke":
                cur -= set(e["parts"])
        return cur

    def stop(self, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=timeout)
        self.reader.join(timeout=5)

    def kill9(self):
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.reader.join(timeout=5)


def wait_for(cond, timeout, what):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def create_topic(brook, name, parts):
    from confluent_kafka.admin import AdminClient, NewTopic

    a = AdminClient({"bootstrap.servers": brook.bootstrap})
    fs = a.create_topics([NewTopic(name, num_partitions=parts, replication_factor=1)])
    fs[name].result(30)


class ProducerThread(threading.Thread):
    def __init__(self, brook, topic, nparts):
        super().__init__(daemon=True)
        from confluent_kafka import Producer

        self.p = Producer({"bootstrap.servers": brook.bootstrap, "linger.ms": 5, "acks": "all"})
        self.topic, self.nparts = topic, nparts
        self.stopped = threading.Event()
        self.acked = {}  # (partition, offset) -> value
        self.seq = 0

    def _cb(self, err, msg):
        if err is None:
            self.acked[(msg.partition(), msg.offset())] = msg.value().decode()

    def run(self):
        while not self.stopped.is_set():
            for _ in range(6):
                self.p.produce(self.topic, ("m%d" % self.seq).encode(), partition=self.seq % self.nparts,
                               on_delivery=self._cb)
                self.seq += 1
            self.p.poll(0)
            time.sleep(0.02)
        self.p.flush(30)

    def finish(self):
        self.stopped.set()
        self.join(60)


def committed(brook, group, topic, nparts):
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": brook.bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        res = c.committed([TopicPartition(topic, p) for p in range(nparts)], timeout=20)
        return {tp.partition: tp.offset for tp in res}
    finally:
        c.close()


def end_offsets(brook, topic, nparts):
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": brook.bootstrap, "group.id": "eo-%d" % time.monotonic_ns()})
    try:
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=20)[1] for p in range(nparts)}
    finally:
        c.close()


@pytest.mark.brook_config(GROUP_PROPS)
def test_group_membership_changes_lose_nothing(brook):
    topic, group, nparts = "grp-members", "g-members", 6
    create_topic(brook, topic, nparts)
    prod = ProducerThread(brook, topic, nparts)
    prod.start()
    workers = [Worker(brook, group, topic) for _ in range(3)]
    try:
        wait_for(lambda: sum(len(w.assignment()) for w in workers) == nparts and
                 all(w.evs("msg") for w in workers), 40, "3 members sharing 6 partitions")
        workers.append(Worker(brook, group, topic))
        wait_for(lambda: workers[3].assignment() and sum(len(w.assignment()) for w in workers) == nparts,
                 40, "the 4th member to get partitions")
        time.sleep(1)
        workers[0].stop()  # clean leave
        wait_for(lambda: sum(len(w.assignment()) for w in workers[1:]) == nparts, 40,
                 "the partitions of the member that left to move")
        time.sleep(1)
        victim = workers[1]
        victim_parts = victim.assignment()
        assert victim_parts
        victim.kill9()
        t_kill = time.monotonic()
        wait_for(lambda: sum(len(w.assignment()) for w in workers[2:]) == nparts, 40,
                 "the partitions of the killed member to move")
        moved_after = time.monotonic() - t_kill
        assert moved_after > 3, "partitions moved before the session timeout (%.1fs)" % moved_after
        time.sleep(1)
    finally:
        prod.finish()
    ends = end_offsets(brook, topic, nparts)
    try:
        wait_for(lambda: all(
            max([e["o"] for w in workers[2:] for e in w.evs("msg") if e["p"] == p] or [-1]) >= ends[p] - 1
            for p in range(nparts)), 60, "the remaining members to consume everything")
        time.sleep(1.5)  # a last periodic commit
    finally:
        for w in workers:
            if w.proc.poll() is None:
                w.stop()

    # No loss: every acknowledged record was consumed by someone, with the right value.
    seen = {}
    for w in workers:
        for e in w.evs("msg"):
            seen.setdefault((e["p"], e["o"]), []).append((w, e))
    missing = [k for k in prod.acked if k not in seen]
    assert not missing, "lost %d records, e.g. %s" % (len(missing), missing[:5])
    for k, lst in seen.items():
        for _, e in lst:
            assert e["v"] == prod.acked[k]
    # Order per partition within each consumer's ownership.
    for w in workers:
        last = {}
        for e in w.evs():
            if e["ev"] in ("assign", "revoke"):
                last = {}
            elif e["ev"] == "msg":
                assert e["o"] > last.get(e["p"], -1), "out of order on partition %d" % e["p"]
                last[e["p"]] = e["o"]
    # Duplicates only at or after the last successful commit of the previous owner.
    for (p, o), lst in seen.items():
        if len(lst) < 2:
            continue
        lst.sort(key=lambda we: we[1]["t"])
        first_w, first_e = lst[0]
        commits = [c["offsets"].get(str(p)) for c in first_w.evs("commit") if c["t"] <= lst[1][1]["t"]]
        commits = [c for c in commits if c is not None]
        last_commit = max(commits) if commits else 0
        assert o >= last_commit, "partition %d offset %d redelivered although committed up to %d" % (
            p, o, last_commit)
    # Committed offsets afterwards: the end of each partition.
    com = committed(brook, group, topic, nparts)
    assert com == ends, (com, ends)


@pytest.mark.brook_config(GROUP_PROPS)
def test_offsets_survive_restart(brook):
    from confluent_kafka import Consumer, Producer, TopicPartition

    topic, group = "grp-restart", "g-restart"
    create_topic(brook, topic, 3)
    p = Producer({"bootstrap.servers": brook.bootstrap})
    for i in range(60):
        p.produce(topic, b"v%d" % i, partition=i % 3)
    p.flush(30)
    conf = {"bootstrap.servers": brook.bootstrap, "group.id": group, "auto.offset.reset": "earliest",
            "enable.auto.commit": False, "session.timeout.ms": 6000}
    c = Consumer(conf)
    c.subscribe([topic])
    got = 0
    t0 = time.monotonic()
    while got < 30 and time.monotonic() - t0 < 30:
        m = c.poll(0.5)
        if m is not None and not m.error():
            got += 1
            c.commit(message=m, asynchronous=False)
    before = {tp.partition: tp.offset for tp in
              c.committed([TopicPartition(topic, i) for i in range(3)], timeout=20)}
    c.close()
    assert sum(max(o, 0) for o in before.values()) == 30

    brook.restart()
    after = committed(brook, group, topic, 3)
    assert after == before
    c = Consumer(conf)
    c.subscribe([topic])
    firsts = {}
    n = 0
    t0 = time.monotonic()
    while n < 30 and time.monotonic() - t0 < 30:
        m = c.poll(0.5)
        if m is not None and not m.error():
            firsts.setdefault(m.partition(), m.offset())
            n += 1
    c.close()
    assert n == 30
    for part, off in firsts.items():
        assert off == max(before[part], 0), (part, off, before)


@pytest.mark.brook_config(GROUP_PROPS)
def test_static_member_restart_keeps_partitions(brook):
    topic, group = "grp-static", "g-static"
    create_topic(brook, topic, 4)
    prod = ProducerThread(brook, topic, 4)
    prod.start()
    extra = {"session.timeout.ms": 10000}
    a = Worker(brook, group, topic, **{"group.instance.id": "inst-a"}, **extra)
    bw = Worker(brook, group, topic, **{"group.instance.id": "inst-b"}, **extra)
    try:
        wait_for(lambda: len(a.assignment()) + len(bw.assignment()) == 4 and a.assignment() and
                 bw.assignment(), 40, "two static members sharing 4 partitions")
        time.sleep(2)
        parts_b = bw.assignment()
        a_events = len(a.evs("assign")) + len(a.evs("revoke"))
        bw.kill9()
        time.sleep(1)
        b2 = Worker(brook, group, topic, **{"group.instance.id": "inst-b"}, **extra)
        wait_for(lambda: b2.assignment(), 30, "the restarted static member to get partitions")
        assert b2.assignment() == parts_b
        wait_for(lambda: b2.evs("msg"), 20, "the restarted member to consume")
        time.sleep(2)
        assert len(a.evs("assign")) + len(a.evs("revoke")) == a_events, "the other member rebalanced"
        b2.stop()
    finally:
        prod.finish()
        a.stop()


@pytest.mark.brook_config(GROUP_PROPS)
def test_cooperative_sticky_incremental(brook):
    topic, group = "grp-coop", "g-coop"
    create_topic(brook, topic, 6)
    extra = {"partition.assignment.strategy": "cooperative-sticky"}
    a = Worker(brook, group, topic, **extra)
    try:
        wait_for(lambda: len(a.assignment()) == 6, 40, "the first member to own all partitions")
        b = Worker(brook, group, topic, **extra)
        wait_for(lambda: len(b.assignment()) == 3 and len(a.assignment()) == 3, 40,
                 "the partitions to be shared")
        revokes = a.evs("revoke")
        assert revokes, "the first member never gave anything up"
        revoked = set()
        for r in revokes:
            revoked |= set(r["parts"])
        assert len(revoked) == 3, "revoked %s (eager protocols revoke all 6)" % revoked
        assert revoked == b.assignment()
        b.stop()
    finally:
        a.stop()


@pytest.mark.brook_config(GROUP_PROPS)
def test_kafka_python_group_consumes_and_commits(brook):
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    topic, group = "grp-kpy", "g-kpy"
    create_topic(brook, topic, 2)
    p = KafkaProducer(bootstrap_servers=brook.bootstrap)
    for i in range(20):
        p.send(topic, b"x%d" % i, partition=i % 2)
    p.flush()
    p.close()
    c = KafkaConsumer(topic, bootstrap_servers=brook.bootstrap, group_id=group, auto_offset_reset="earliest",
                      enable_auto_commit=False, consumer_timeout_ms=15000, session_timeout_ms=6000,
                      heartbeat_interval_ms=1000)
    got = []
    for m in c:
        got.append(m)
        if len(got) == 20:
            break
    assert len(got) == 20
    c.commit()
    assert c.committed(TopicPartition(topic, 0)) == 10
    assert c.committed(TopicPartition(topic, 1)) == 10
    c.close()
    assert committed(brook, group, topic, 2) == {0: 10, 1: 10}


@pytest.mark.brook_config(GROUP_PROPS)
def test_kcat_group_consumes_and_commits(brook):
    kcat = shutil.which("kcat")
    assert kcat
    topic, group = "grp-kcat", "g-kcat"
    create_topic(brook, topic, 2)
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": brook.bootstrap})
    for i in range(10):
        p.produce(topic, b"k%d" % i, partition=i % 2)
    p.flush(30)
    proc = subprocess.Popen([kcat, "-b", brook.bootstrap, "-G", group, "-u",
                             "-X", "auto.offset.reset=earliest", "-X", "auto.commit.interval.ms=200",
                             "-X", "session.timeout.ms=6000", topic],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines = []
    reader = threading.Thread(target=lambda: [lines.append(l.strip()) for l in proc.stdout], daemon=True)
    reader.start()
    try:
        wait_for(lambda: len(lines) >= 10, 30, "kcat to consume 10 records")
        time.sleep(1.5)  # auto commit
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert sorted(lines) == sorted("k%d" % i for i in range(10))
    assert committed(brook, group, topic, 2) == {0: 5, 1: 5}


def java_hash(s):
    h = 0
    data = s.encode("utf-16-be")
    for i in range(0, len(data), 2):
        h = (31 * h + ((data[i] << 8) | data[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def partition_for(group, n):
    h = java_hash(group)
    return 0 if h == -(1 << 31) else abs(h) % n


def read_offsets_topic(brook, nparts):
    """(partition, key bytes, value bytes or None) of every record, read
    from the segment files with kafka-python's record reader."""
    from kafka.record import MemoryRecords

    out = []
    for p in range(nparts):
        d = os.path.join(brook.datadir, "__consumer_offsets-%d" % p)
        for f in sorted(os.listdir(d)):
            if not f.endswith(".log"):
                continue
            recs = MemoryRecords(open(os.path.join(d, f), "rb").read())
            while recs.has_next():
                batch = recs.next_batch()
                for r in batch:
                    out.append((p, r.key, r.value))
    return out


def parse_str(b, off):
    (n,) = struct.unpack_from(">h", b, off)
    off += 2
    if n < 0:
        return None, off
    return b[off:off + n].decode(), off + n


@pytest.mark.brook_config(GROUP_PROPS)
def test_consumer_offsets_records_match_commits(brook):
    from confluent_kafka import Consumer, Producer, TopicPartition

    topic, group = "grp-records", "g-records-é"  # a non-ASCII group id
    create_topic(brook, topic, 2)
    p = Producer({"bootstrap.servers": brook.bootstrap})
    for i in range(8):
        p.produce(topic, b"r%d" % i, partition=i % 2)
    p.flush(30)
    c = Consumer({"bootstrap.servers": brook.bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False, "session.timeout.ms": 6000})
    c.subscribe([topic])
    n = 0
    t0 = time.monotonic()
    while n < 8 and time.monotonic() - t0 < 30:
        m = c.poll(0.5)
        if m is not None and not m.error():
            n += 1
    c.commit(offsets=[TopicPartition(topic, 0, 3, ), TopicPartition(topic, 1, 4)], asynchronous=False)
    c.close()

    recs = read_offsets_topic(brook, 3)
    want_part = partition_for(group, 3)
    offsets, groups = {}, []
    for part, k, v in recs:
        (kver,) = struct.unpack_from(">h", k, 0)
        if kver in (0, 1):
            g, off = parse_str(k, 2)
            t, off = parse_str(k, off)
            (pi,) = struct.unpack_from(">i", k, off)
            if g != group:
                continue
            assert part == want_part
            assert v is not None
            (vver, o) = struct.unpack_from(">hq", v, 0)
            assert vver == 3
            (epoch,) = struct.unpack_from(">i", v, 10)
            md, off = parse_str(v, 14)
            (cts,) = struct.unpack_from(">q", v, off)
            assert abs(cts - time.time() * 1000) < 120000
            offsets[(t, pi)] = o
        elif kver == 2:
            g, _ = parse_str(k, 2)
            if g != group or v is None:
                continue
            assert part == want_part
            (vver,) = struct.unpack_from(">h", v, 0)
            assert vver == 3
            ptype, off = parse_str(v, 2)
            (gen,) = struct.unpack_from(">i", v, off)
            groups.append((ptype, gen))
    assert offsets == {(topic, 0): 3, (topic, 1): 4}
    assert groups and groups[0] == ("consumer", 1)

    # DeleteGroups writes tombstones; the group is then gone.
    from kafka.admin import KafkaAdminClient

    adm = KafkaAdminClient(bootstrap_servers=brook.bootstrap)
    try:
        res = adm.delete_consumer_groups([group])
        assert res[0][1].errno == 0, res
        res = adm.delete_consumer_groups([group])
        assert res[0][1].errno == 69, res  # GROUP_ID_NOT_FOUND
    finally:
        adm.close()
    tomb = [(part, k) for part, k, v in read_offsets_topic(brook, 3) if v is None]
    keys = set()
    for part, k in tomb:
        (kver,) = struct.unpack_from(">h", k, 0)
        g, off = parse_str(k, 2)
        if g == group:
            keys.add(kver)
    assert keys == {1, 2}
    assert committed(brook, group, topic, 2) == {0: -1001, 1: -1001}


@pytest.mark.brook_config(GROUP_PROPS)
def test_admin_list_and_describe_groups(brook):
    from confluent_kafka import Consumer

    topic, group = "grp-admin", "g-admin"
    create_topic(brook, topic, 2)
    c = Consumer({"bootstrap.servers": brook.bootstrap, "group.id": group, "session.timeout.ms": 6000,
                  "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    t0 = time.monotonic()
    while not c.assignment() and time.monotonic() - t0 < 30:
        c.poll(0.2)
    assert c.assignment()
    # librdkafka's legacy list_groups: ListGroups v0 + DescribeGroups v0
    from confluent_kafka.admin import AdminClient

    a = AdminClient({"bootstrap.servers": brook.bootstrap})
    groups = a.list_groups(timeout=20)
    mine = [g for g in groups if g.id == group]
    assert mine and mine[0].state == "Stable" and mine[0].protocol_type == "consumer"
    assert mine[0].protocol == "range" and len(mine[0].members) == 1
    # kafka-python: ListGroups / DescribeGroups at its versions; deleting a
    # group with members fails with NON_EMPTY_GROUP.
    from kafka.admin import KafkaAdminClient

    adm = KafkaAdminClient(bootstrap_servers=brook.bootstrap)
    try:
        assert (group, "consumer") in adm.list_consumer_groups()
        d = adm.describe_consumer_groups([group])[0]
        assert d.state == "Stable" and len(d.members) == 1
        res = adm.delete_consumer_groups([group])
        assert res[0][1].errno == 68, res  # NON_EMPTY_GROUP
    finally:
        adm.close()
    c.close()


@pytest.mark.brook_config(GROUP_PROPS)
def test_group_members_survive_broker_restart(brook):
    """Group metadata is reloaded with its members (Kafka's loadGroup): a
    consumer whose session outlives a quick broker restart keeps its
    generation and partitions - no revocation, and it keeps consuming."""
    topic, group = "grp-bounce", "g-bounce"
    create_topic(brook, topic, 2)
    w = Worker(brook, group, topic, **{"session.timeout.ms": 15000})
    prod = None
    try:
        wait_for(lambda: len(w.assignment()) == 2, 40, "the member to own both partitions")
        brook.restart()
        prod = ProducerThread(brook, topic, 2)
        prod.start()
        wait_for(lambda: w.evs("msg"), 30, "consumption after the restart")
        time.sleep(3)
        assert not w.evs("revoke"), w.evs("revoke")
        assert len(w.evs("assign")) == 1
    finally:
        if prod:
            prod.finish()
        w.stop()


KAFKAJS_GROUP = r"""
'use strict';
const { Kafka, logLevel } = require('kafkajs');
const [bootstrap, topic, group, nArg] = process.argv.slice(2);
const N = parseInt(nArg, 10);
const kafka = new Kafka({ clientId: 'brook-groups-js', brokers: [bootstrap], logLevel: logLevel.ERROR,
                          retry: { retries: 3 } });
(async () => {
  const consumer = kafka.consumer({ groupId: group, maxWaitTimeInMs: 200, sessionTimeout: 6000,
                                    heartbeatInterval: 1000 });
  await consumer.connect();
  let got = 0;
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timeout: ' + got)), 60000);
    consumer.run({ autoCommit: true, autoCommitThreshold: 1,
      eachMessage: async () => { if (++got >= N) { clearTimeout(timer); resolve(); } } }).catch(reject);
  });
  await new Promise((r) => setTimeout(r, 500));
  await consumer.disconnect();  // commits what was resolved, then LeaveGroup
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  await admin.disconnect();
  process.stdout.write(JSON.stringify({ got, offsets }) + '\n');
})().catch((e) => { process.stderr.write('kafkajs error: ' + (e && e.stack ? e.stack : e) + '\n'); process.exit(1); });
"""


@pytest.mark.brook_config(GROUP_PROPS)
def test_kafkajs_group_consumes_and_commits(brook, tmp_path):
    node_modules = os.path.join(os.path.dirname(__file__), "..", "node", "node_modules")
    node = shutil.which("node")
    if not node or not os.path.isdir(os.path.join(node_modules, "kafkajs")):
        pytest.skip("node/kafkajs not installed (scripts/deps.sh)")
    topic, group = "grp-js", "g-js"
    create_topic(brook, topic, 2)
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": brook.bootstrap})
    for i in range(20):
        p.produce(topic, b"j%d" % i, partition=i % 2)
    p.flush(30)
    script = tmp_path / "group.js"
    script.write_text(KAFKAJS_GROUP)
    r = subprocess.run([node, str(script), brook.bootstrap, topic, group, "20"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=90, env=dict(os.environ, NODE_PATH=node_modules))
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    out = json.loads(r.stdout)
    assert out["got"] == 20
    parts = {int(p["partition"]): int(p["offset"]) for t in out["offsets"] for p in t["partitions"]}
    assert parts == {0: 10, 1: 10}
    assert committed(brook, group, topic, 2) == {0: 10, 1: 10}
