"""Leadership moves that are not failover (issue 8, the controller part):
controlled shutdown, ElectLeaders through `brook leader-election`
(preferred and unclean), unclean.leader.election.enable, and the automatic
preferred-leader rebalance. Three brokers over the real ZooKeeper harness,
replication factor 3, min.insync.replicas=2.

  - SIGTERM to a broker that leads partitions while an idempotent acks=all
    confluent-kafka producer writes: Metadata on the other brokers shows its
    leaderships moved while its process still runs (its log says the
    controlled shutdown succeeded before "stopped"), every acknowledged
    message is read back once and in order; the produce stall is printed
    (compare with kill -9 failover in test_cluster_failover.py);
  - after its restart, `brook leader-election --election-type preferred
    --all-topic-partitions` gives every partition its preferred leader back;
    a second run reports "Valid replica already elected";
  - with leader.imbalance.check.interval.seconds=2 the controller does that
    by itself;
  - a partition whose only ISR member is dead stays offline
    (unclean.leader.election.enable=false), a preferred election of it fails
    with a non-zero exit, `--election-type unclean` elects a live
    out-of-sync replica; a topic with unclean.leader.election.enable=true
    gets one without being asked;
  - ControlledShutdown answers RemainingPartitions when the only other
    replica is itself shutting down; the stopping broker retries
    (controlled.shutdown.max.retries), then stops anyway, and failover
    elects the shutting-down broker as the last live ISR member;
    ControlledShutdown and ElectLeaders get NOT_CONTROLLER off the
    controller.

Bounded: short sessions (4 s), pytest timeouts, bounded waits; the Cluster
context manager kills every broker and the ZooKeeper JVM."""

import os
import signal
import struct
import subprocess
import sys
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
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
    pytest.mark.timeout(180),
]

BROOK = os.environ.get("BROOK_TOOL", os.path.join(REPO, "build", "bin", "brook"))
EXTRA = {"replica.lag.time.max.ms": 3000, "replica.fetch.wait.max.ms": 200,
         "controlled.shutdown.retry.backoff.ms": 500}


def md(b, topics):
    return kwirex.call((b.host, b.port), 3, 10, kwire.metadata_body(10, topics), kwire.parse_metadata)


def parts_of(b, topic):
    t = md(b, [topic])["topics"][0]
    if t["error_code"] != 0:
        return None
    return {p["partition_index"]: p for p in t["partitions"]}


def start3(c, extra=None):
    e = dict(EXTRA)
    e.update(extra or {})
    bs = [c.broker(i, e) for i in range(3)]
    wait_for(lambda: all(sorted(x["node_id"] for x in md(b, [])["brokers"]) == [0, 1, 2] for b in bs),
             15, "3 live brokers everywhere")
    return bs


def create(bs, name, nparts=None, config=None, assignment=None):
    from confluent_kafka.admin import AdminClient, NewTopic

    a = AdminClient({"bootstrap.servers": bs[0].bootstrap})
    if assignment:
        nt = NewTopic(name, len(assignment), replica_assignment=assignment, config=config or {})
    else:
        nt = NewTopic(name, nparts, 3, config=config or {})
    for f in a.create_topics([nt], operation_timeout=10).values():
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


def preferred_everywhere(bs, topic, nparts):
    for b in bs:
        ps = parts_of(b, topic)
        if not ps or len(ps) != nparts:
            return False
        if any(p["leader_id"] != p["replica_nodes"][0] for p in ps.values()):
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


def leader_election(bs, *args):
    r = subprocess.run([BROOK, "leader-election", "--bootstrap-server",
                        ",".join(b.bootstrap for b in bs if b.alive())] + list(args),
                       capture_output=True, text=True, timeout=60)
    print("$ brook leader-election %s -> %d\n%s%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
    return r


class Writer(threading.Thread):
    """An idempotent acks=all producer writing numbered messages to one
    partition; records when each acknowledgement arrived."""

    def __init__(self, bootstrap, topic, partition, prefix=b"m"):
        super().__init__(daemon=True)
        self.prefix = prefix
        self.p = ck.Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                              "linger.ms": 5, "message.timeout.ms": 60000,
                              "retry.backoff.ms": 50, "reconnect.backoff.max.ms": 500,
                              "topic.metadata.refresh.interval.ms": 1000})
        self.topic = topic
        self.partition = partition
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
                    self.p.produce(self.topic, value=self.prefix + b"%08d" % self.n, partition=self.partition,
                                   on_delivery=self.cb)
                    self.n += 1
            except BufferError:
                pass
            self.p.poll(0.005)
        self.p.flush(30)


def log_time(text, what):
    """The time (s, from the line's timestamp) of the first log line with `what`."""
    import datetime
    for line in text.splitlines():
        if what in line and line.startswith("["):
            ts = datetime.datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S.%f")
            return ts.timestamp()
    raise AssertionError("no log line with %r" % what)


def stall_after(w, t0):
    times = [t for (_, _, t) in w.acked if t >= t0 - 0.5]
    gaps = [b - a for a, b in zip(times, times[1:])] + [times[0] - t0 if times else 99]
    return max(gaps)


def check_acked_log(bs, w, topic, partition):
    acked = [v for (v, _, _) in w.acked]
    assert acked
    log = [(o, v) for o, v in read_all(bs, topic, partition) if v.startswith(w.prefix)]
    values = [v for _, v in log]
    assert len(values) == len(set(values)), "duplicates in the log"
    pos = {v: i for i, v in enumerate(values)}
    missing = [v for v in acked if v not in pos]
    assert not missing, "%d acknowledged messages missing, e.g. %s" % (len(missing), missing[:3])
    order = [pos[v] for v in sorted(acked)]
    assert order == sorted(order), "acknowledged messages out of order"
    for v, off, _ in w.acked:
        assert log[pos[v]][0] == off, (v, off, log[pos[v]][0])
    return len(acked)


@pytest.mark.timeout(240)
def test_sigterm_moves_leaderships_away_before_exit_then_preferred_election(tmp_path):
    with Cluster(tmp_path) as c:
        bs = start3(c)
        byid = {b.node_id: b for b in bs}
        create(bs, "cs", 3, {"min.insync.replicas": "2"})
        wait_for(lambda: full_isr_everywhere(bs, "cs", 3), 20, "ISR [0,1,2]")
        wait_for(lambda: preferred_everywhere(bs, "cs", 3), 10, "preferred leaders")
        # ControlledShutdown and ElectLeaders: NOT_CONTROLLER but on the controller
        ctl_id = md(bs[0], [])["controller_id"]
        non = [b for b in bs if b.node_id != ctl_id][0]
        err = kwirex.call((non.host, non.port), 7, 1, struct.pack(">i", non.node_id),
                          lambda body, v: struct.unpack_from(">h", body, 0)[0])
        assert err == 41, err
        err = kwirex.call((non.host, non.port), 43, 1, struct.pack(">bii", 0, -1, 10000),
                          lambda body, v: struct.unpack_from(">ih", body, 0)[1])
        assert err == 41, err
        # a ControlledShutdown for a broker id that is not registered
        ctl = byid[ctl_id]
        err = kwirex.call((ctl.host, ctl.port), 7, 1, struct.pack(">i", 77),
                          lambda body, v: struct.unpack_from(">h", body, 0)[0])
        assert err == 8, err  # BROKER_NOT_AVAILABLE

        victim = byid[parts_of(bs[0], "cs")[0]["leader_id"]]
        others = [b for b in bs if b is not victim]
        led = sorted(p for p, x in parts_of(bs[0], "cs").items() if x["leader_id"] == victim.node_id)
        w = Writer(",".join(b.bootstrap for b in bs), "cs", 0)
        w.start()
        try:
            wait_for(lambda: len(w.acked) > 200, 20, "first acks")
            n_before = len(w.acked)
            t0 = time.monotonic()
            victim.signal(signal.SIGTERM)

            # Metadata on the others: the victim leads nothing any more
            def moved():
                for b in others:
                    ps = parts_of(b, "cs")
                    if any(ps[p]["leader_id"] in (victim.node_id, -1) for p in ps):
                        return None
                return ("alive" if victim.alive() else "exited", time.monotonic() - t0)
            seen, t_moved = wait_for(moved, 20, "leaderships moved off broker %d" % victim.node_id,
                                     step=0.02)
            victim.proc.wait(30)
            t_exit = time.monotonic() - t0
            victim._reap()
            assert victim.proc.returncode == 0, victim.log_tail(40)
            wait_for(lambda: len(w.acked) > n_before + 100, 30, "acks after the controlled shutdown")
            stall = stall_after(w, t0)
        finally:
            w.stop_ev.set()
            w.join(40)
        log = victim.log_text()
        print("controlled shutdown of broker %d (led %s): leaderships moved %.2f s after SIGTERM "
              "(process %s then), exited after %.2f s; produce stalled %.2f s (kill -9 failover in "
              "test_cluster_failover.py: ~ZooKeeper session timeout)" %
              (victim.node_id, led, t_moved, seen, t_exit, stall))
        # the order, from the logs (one clock): the controller wrote every
        # state that moves a leadership of the victim before the victim
        # stopped, and the victim stopped after its request succeeded
        assert "controlled shutdown succeeded" in log, log[-3000:]
        t_stopped = log_time(log, "INFO stopped")
        assert log_time(log, "controlled shutdown succeeded") <= t_stopped
        logs = "\n".join(b.log_text() for b in others) + "\n" + log
        for p in led:
            t_move = log_time(logs, "controller: controlled shutdown: cs-%d: leader %d -> " % (p, victim.node_id))
            assert t_move <= t_stopped, (p, t_move, t_stopped)
            print("cs-%d: leadership moved %.0f ms before broker %d stopped" %
                  (p, (t_stopped - t_move) * 1000, victim.node_id))
        assert not w.errors, w.errors[:5]
        n = check_acked_log(others, w, "cs", 0)
        print("%d acknowledged messages, all read back in order" % n)

        # back: it rejoins as follower; preferred election through the tool
        victim.start()
        wait_for(lambda: full_isr_everywhere(bs, "cs", 3), 30, "broker %d back in the ISR" % victim.node_id)
        ps = parts_of(bs[0], "cs")
        assert all(ps[p]["leader_id"] != victim.node_id for p in led), ps
        r = leader_election(bs, "--election-type", "preferred", "--all-topic-partitions")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "Successfully completed leader election (PREFERRED) for partitions" in r.stdout
        for p in led:
            assert "cs-%d" % p in r.stdout.split("Successfully completed")[1].splitlines()[0]
        wait_for(lambda: preferred_everywhere(bs, "cs", 3), 15, "preferred leaders back")
        r = leader_election(bs, "--election-type", "preferred", "--topic", "cs", "--partition", "0")
        assert r.returncode == 0 and "Valid replica already elected for partitions cs-0" in r.stdout, r.stdout
        jf = os.path.join(str(tmp_path), "elect.json")
        with open(jf, "w") as f:
            f.write('{"partitions": [{"topic": "cs", "partition": 1}, {"topic": "cs", "partition": 2}]}')
        r = leader_election(bs, "--election-type", "preferred", "--path-to-json-file", jf)
        assert r.returncode == 0 and "Valid replica already elected for partitions cs-1, cs-2" in r.stdout, \
            r.stdout + r.stderr
        # a partition that does not exist fails, with a non-zero exit
        r = leader_election(bs, "--election-type", "preferred", "--topic", "cs", "--partition", "9")
        assert r.returncode != 0 and "cs-9" in r.stdout, r.stdout + r.stderr

        # for comparison: kill -9 of the same leader under the same producer
        wait_for(lambda: full_isr_everywhere(bs, "cs", 3), 30, "full ISR again")
        w = Writer(",".join(b.bootstrap for b in bs), "cs", 0, prefix=b"k")
        w.start()
        try:
            wait_for(lambda: len(w.acked) > 200, 20, "first acks")
            n_before = len(w.acked)
            t0 = time.monotonic()
            victim.kill9()
            wait_for(lambda: len(w.acked) > n_before + 100, 30, "acks after the kill -9 failover")
            stall9 = stall_after(w, t0)
        finally:
            w.stop_ev.set()
            w.join(40)
        assert not w.errors, w.errors[:5]
        check_acked_log(others, w, "cs", 0)
        print("produce stall: controlled shutdown %.2f s, kill -9 failover %.2f s" % (stall, stall9))


@pytest.mark.timeout(180)
def test_auto_leader_rebalance_moves_leadership_back(tmp_path):
    with Cluster(tmp_path) as c:
        bs = start3(c, {"leader.imbalance.check.interval.seconds": 2})
        byid = {b.node_id: b for b in bs}
        create(bs, "rb", 3, {"min.insync.replicas": "2"})
        wait_for(lambda: full_isr_everywhere(bs, "rb", 3), 20, "ISR [0,1,2]")
        wait_for(lambda: preferred_everywhere(bs, "rb", 3), 10, "preferred leaders")
        victim = byid[parts_of(bs[0], "rb")[1]["leader_id"]]
        others = [b for b in bs if b is not victim]
        victim.stop()
        wait_for(lambda: all(p["leader_id"] not in (victim.node_id, -1)
                             for b in others for p in parts_of(b, "rb").values()), 20, "moved away")
        t0 = time.monotonic()
        victim.start()
        wait_for(lambda: preferred_everywhere(bs, "rb", 3), 40, "the controller rebalancing by itself")
        print("auto rebalance: preferred leaders back %.2f s after broker %d restarted" %
              (time.monotonic() - t0, victim.node_id))
        ctl = [b for b in bs if "leader rebalance moved" in b.log_text()]
        assert ctl, "no controller logged a rebalance"


@pytest.mark.timeout(180)
def test_unclean_election_of_a_partition_without_live_isr(tmp_path):
    with Cluster(tmp_path) as c:
        bs = start3(c)
        b0, b1, b2 = bs
        # replicas [0,1,2]: 0 is the leader; the first topic keeps
        # unclean.leader.election.enable=false, the second sets it
        create(bs, "uc", config={"min.insync.replicas": "1"}, assignment=[[0, 1, 2]])
        create(bs, "uc2", config={"min.insync.replicas": "1", "unclean.leader.election.enable": "true"},
               assignment=[[0, 1, 2]])
        for t in ("uc", "uc2"):
            wait_for(lambda: full_isr_everywhere(bs, t, 1), 20, "ISR [0,1,2] of " + t)
        p = ck.Producer({"bootstrap.servers": b0.bootstrap, "acks": "all"})
        for t in ("uc", "uc2"):
            for i in range(10):
                p.produce(t, value=b"x%d" % i, partition=0)
        assert p.flush(20) == 0
        # the followers die: the ISR shrinks to [0]; then 0 dies too
        b1.kill9()
        b2.kill9()
        for t in ("uc", "uc2"):
            wait_for(lambda: parts_of(b0, t)[0]["isr_nodes"] == [0], 30, "ISR [0] of " + t)
        b0.kill9()
        b1.start()
        wait_for(lambda: sorted(x["node_id"] for x in md(b1, [])["brokers"]) == [1], 20, "broker 1 alone")
        # uc2 (unclean allowed): the controller elects 1 by itself
        wait_for(lambda: parts_of(b1, "uc2")[0]["leader_id"] == 1, 20, "unclean failover of uc2")
        assert parts_of(b1, "uc2")[0]["isr_nodes"] == [1]
        # uc (unclean not allowed): offline, with the last ISR kept
        time.sleep(1)
        ps = parts_of(b1, "uc")[0]
        assert ps["leader_id"] == -1 and ps["isr_nodes"] == [0], ps
        r = leader_election([b1], "--election-type", "preferred", "--topic", "uc", "--partition", "0")
        assert r.returncode != 0 and "Error completing leader election (PREFERRED)" in r.stdout, r.stdout
        assert "PreferredLeaderNotAvailableException" in r.stdout, r.stdout
        r = leader_election([b1], "--election-type", "unclean", "--topic", "uc", "--partition", "0")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "Successfully completed leader election (UNCLEAN) for partitions uc-0" in r.stdout
        wait_for(lambda: parts_of(b1, "uc")[0]["leader_id"] == 1, 15, "broker 1 leads uc-0")
        assert parts_of(b1, "uc")[0]["isr_nodes"] == [1]
        # the elected replica had the data (it replicated before dying)
        assert [v for _, v in read_all([b1], "uc", 0)] == [b"x%d" % i for i in range(10)]
        # a second unclean election has nothing to do
        r = leader_election([b1], "--election-type", "unclean", "--topic", "uc", "--partition", "0")
        assert r.returncode == 0 and "Valid replica already elected for partitions uc-0" in r.stdout, r.stdout


def cshut_v1(b, broker_id):
    """ControlledShutdown v1 to b: (error code, [(topic, partition)])."""
    def parse(body, v):
        err, n = struct.unpack_from(">hi", body, 0)
        off, out = 6, []
        for _ in range(max(n, 0)):
            (tl,) = struct.unpack_from(">h", body, off)
            t = body[off + 2:off + 2 + tl].decode()
            (p,) = struct.unpack_from(">i", body, off + 2 + tl)
            off += 6 + tl
            out.append((t, p))
        return err, out
    return kwirex.call((b.host, b.port), 7, 1, struct.pack(">i", broker_id), parse)


@pytest.mark.timeout(180)
def test_controlled_shutdown_remaining_partitions_and_retries(tmp_path):
    with Cluster(tmp_path) as c:
        bs = start3(c, {"controlled.shutdown.max.retries": 2})
        b0, b1, b2 = bs
        byid = {b.node_id: b for b in bs}
        create(bs, "rp", config={"min.insync.replicas": "1"}, assignment=[[0, 1]])
        wait_for(lambda: parts_of(b2, "rp")[0]["leader_id"] == 0 and
                 sorted(parts_of(b2, "rp")[0]["isr_nodes"]) == [0, 1], 20, "rp-0 led by 0, ISR [0,1]")
        ctl = byid[md(b0, [])["controller_id"]]
        # broker 1 shuts down (as far as the controller knows): it leads
        # nothing, so nothing remains
        assert cshut_v1(ctl, 1) == (0, [])
        # broker 0 then: its only other replica is shutting down too, and
        # live: rp-0 remains (a later attempt could move it)
        assert cshut_v1(ctl, 0) == (0, [("rp", 0)])
        assert parts_of(b2, "rp")[0]["leader_id"] == 0
        # SIGTERM to 0: it asks, rp-0 remains, it retries once after the
        # backoff, then stops anyway; failover then elects 1 (shutting down,
        # but the only live ISR member)
        wait_for(lambda: sorted(parts_of(b2, "rp")[0]["isr_nodes"]) == [0, 1], 20, "1 back in the ISR")
        b0.signal(signal.SIGTERM)
        b0.proc.wait(30)
        b0._reap()
        assert b0.proc.returncode == 0
        log = b0.log_text()
        assert "controlled shutdown: attempt 2 failed (1 partitions still led here, e.g. rp-0); " \
               "no retries left" in log, log[-3000:]
        wait_for(lambda: parts_of(b2, "rp")[0]["leader_id"] == 1, 20, "rp-0 failed over to 1")


@pytest.mark.timeout(120)
def test_controlled_shutdown_is_bounded_when_the_controller_does_not_answer(tmp_path):
    with Cluster(tmp_path) as c:
        bs = start3(c)
        byid = {b.node_id: b for b in bs}
        create(bs, "st", 3, {"min.insync.replicas": "2"})
        wait_for(lambda: full_isr_everywhere(bs, "st", 3), 20, "ISR [0,1,2]")
        ctl = byid[md(bs[0], [])["controller_id"]]
        x = [b for b in bs if b is not ctl][0]
        ctl.signal(signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            x.signal(signal.SIGTERM)
            x.proc.wait(30)
            took = time.monotonic() - t0
            x._reap()
        finally:
            ctl.signal(signal.SIGCONT)
        assert x.proc.returncode == 0
        log = x.log_text()
        assert "proceeding to an unclean shutdown" in log, log[-3000:]
        print("controlled shutdown with a stopped controller: broker %d exited after %.2f s "
              "(bound: (retries-1) * backoff + 1 s = 2 s here)" % (x.node_id, took))
