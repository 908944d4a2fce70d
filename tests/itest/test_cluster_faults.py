"""Cluster fault tests (issue 8 item 7): replication factor 3,
min.insync.replicas=2, acks=all and an idempotent confluent-kafka producer
writing continuously while a fault is injected:

  - the partition leader is frozen with SIGSTOP past its ZooKeeper session
    timeout, then resumed: a produce it receives after resuming is never
    acknowledged unless the new leader has it (it is fenced: its ISR
    writes are version-checked and its session is gone), its divergent tail
    is truncated (its log file ends up equal to the new leader's log), and
    it is back as a follower in the ISR;
  - a shorter freeze (over half the session timeout, under all of it):
    the session survives, the broker is fenced only until ZooKeeper
    confirms it, and stays leader;
  - a follower cut off past its session leaves the ISR, produce goes on
    with the two others, and after the heal it catches up and rejoins;
  - the partition leader is cut off from the other brokers and from
    ZooKeeper by a real network partition (each broker in its own network
    namespace, tests/lib/netns.py), then healed: the isolated leader
    acknowledges nothing at acks=all while cut off, no acknowledged message
    is lost, its divergent tail is truncated, it rejoins the ISR;
  - ZooKeeper faults on a 3-node ensemble: one node killed, produce/consume
    and topic creation carry on; a second one killed (quorum lost),
    produce/consume (a confluent-kafka consumer) on the existing leaders
    carry on while topic creation fails; quorum restored, the cluster recovers (brokers registered, topic
    creation works).

Every acknowledged message must be in the final log, once, in order, at the
offset the producer was told. Produce stalls are measured and printed
(pytest -s), never asserted. Bounded: 4 s ZooKeeper sessions, every wait
has a limit, every process (brokers, ZooKeeper JVMs) and every namespace is
removed at exit."""

import glob
import json
import os
import signal
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import brookharness  # noqa: E402
import kwirex  # noqa: E402
import netns  # noqa: E402
import zkharness  # noqa: E402
from test_cluster_failover import (EXTRA, Writer, create, full_isr_everywhere, md,  # noqa: E402
                                   parts_of, read_all)
from test_cluster_zk import CHROOT, Cluster, wait_for  # noqa: E402

pytest.importorskip("kazoo.client")
ck = pytest.importorskip("confluent_kafka")

pytestmark = [
    pytest.mark.skipif(not zkharness.available(), reason="Debian's zookeeper package is not installed"),
    pytest.mark.timeout(150),
]

TOPIC_CONF = {"min.insync.replicas": "2"}


# ------------------------------------------------------------------ helpers


def start3(c, extra=None):
    props = dict(EXTRA)
    props.update(extra or {})
    bs = [c.broker(i, props) for i in range(3)]
    wait_for(lambda: all(sorted(x["node_id"] for x in md(b, [])["brokers"]) == [0, 1, 2] for b in bs),
             20, "3 live brokers everywhere")
    return bs


def leader_seen_by(bs, topic, partition, exclude=()):
    """The leader id the reachable brokers (not in exclude) agree on."""
    ids = set()
    for b in bs:
        if b in exclude or not b.alive():
            continue
        try:
            ps = parts_of(b, topic)
        except Exception:
            continue
        if ps:
            ids.add(ps[partition]["leader_id"])
    return ids.pop() if len(ids) == 1 and -1 not in ids else None


def new_leader(rest, old):
    def seen():
        x = leader_seen_by(rest, "ft", 0)
        return [x] if x not in (None, old) else None
    return wait_for(seen, 30, "a new leader in place of %d" % old)[0]


def stall_after(w, t0):
    """The longest gap between acknowledgements from t0 on (counting t0 to
    the first one)."""
    times = [t for (_, _, t) in list(w.acked) if t >= t0]
    if not times:
        return float("inf")
    return max([times[0] - t0] + [b - a for a, b in zip(times, times[1:])])


def acks_resume(w, n, what, timeout=40):
    wait_for(lambda: len(w.acked) > n + 100, timeout, "acks after %s (%d so far, errors %s)" %
             (what, len(w.acked), w.errors[:3]))


def file_log(b, topic, partition):
    """(offset, value) of every record in a broker's segment files, read from
    disk (works for a follower, which answers no consumer fetch)."""
    d = os.path.join(b.datadir, "%s-%d" % (topic, partition))
    data = b""
    for f in sorted(glob.glob(os.path.join(d, "*.log"))):
        with open(f, "rb") as fh:
            data += fh.read()
    return [(o, v) for bt in kwirex.parse_batches(data) if not bt["control"]
            for (o, k, v, h) in bt["records"]]


def check_acked(w, log, what):
    """Every acknowledged message is in the log once, in order, at the
    offset the producer was told."""
    assert not w.errors, "%s: producer errors %s" % (what, w.errors[:5])
    acked = list(w.acked)
    assert acked, what
    values = [v for _, v in log]
    assert len(values) == len(set(values)), "%s: duplicates in the log" % what
    pos = {v: i for i, v in enumerate(values)}
    missing = [v for (v, _, _) in acked if v not in pos]
    assert not missing, "%s: %d acknowledged messages missing, e.g. %s" % (what, len(missing), missing[:3])
    order = [pos[v] for v in sorted(v for (v, _, _) in acked)]
    assert order == sorted(order), "%s: acknowledged messages out of order" % what
    # librdkafka reports no offset (None) for a batch whose request timed
    # out but which a later acknowledged batch proves written (idempotence)
    for v, off, _ in acked:
        assert off is None or log[pos[v]][0] == off, (what, v, off, log[pos[v]][0])
    return len(acked)


def probe_body(value):
    rec = kwirex.record_batch([(None, value, [])])
    return kwirex.produce_body(7, "ft", 0, rec, acks=-1, timeout_ms=3000)


def probe(b, value):
    """One raw acks=all Produce straight to broker b: its error code."""
    try:
        r = kwirex.call((b.host, b.port), 0, 7, probe_body(value), kwirex.parse_produce, timeout=10)
        return r["topics"][0]["partitions"][0]["error_code"]
    except Exception as e:
        return "no answer (%s)" % type(e).__name__


TAIL = b"only-on-the-old-leader"


def tail_only_on(leader):
    """An acks=1 write that only the leader has (its followers are held
    back, their outstanding fetches answered): the start of a divergent
    tail. Returns its error code (0 = written)."""
    rec = kwirex.record_batch([(None, TAIL, [])])
    r = kwirex.call((leader.host, leader.port), 0, 7,
                    kwirex.produce_body(7, "ft", 0, rec, acks=1), kwirex.parse_produce, timeout=10)
    return r["topics"][0]["partitions"][0]["error_code"]


def rejoined_follower(bs, victim, topic):
    """The resumed ex-leader is in the ISR on every broker, and a follower."""
    if not full_isr_everywhere(bs, topic, 1):
        return False
    return parts_of(bs[0], topic)[0]["leader_id"] != victim.node_id


def check_truncated(victim, leader, topic, frozen):
    """The ex-leader's log (read from its files) equals the leader's: its
    divergent tail is gone. Returns how many records of the log it had when
    the fault started were not in the final log (its divergent tail)."""
    final = read_all([leader], topic, 0)
    wait_for(lambda: file_log(victim, topic, 0) == final, 20,
             "broker %d's log equal to the leader's (%d records)" % (victim.node_id, len(final)))
    fin = set(final)
    return sum(1 for r in frozen if r not in fin), final


# A frozen or unreachable leader keeps its TCP connections open: the
# producer must give up on requests to it after a few seconds, not wait the
# default 30 s, to move to the new leader.
PRODUCER = {"request.timeout.ms": 5000, "socket.timeout.ms": 5000}


def writer(bs, extra=None):
    return Writer(",".join(b.bootstrap for b in bs), "ft", dict(PRODUCER, **(extra or {})))


# ------------------------------------------------------------------ SIGSTOP


def test_sigstop_leader_past_session_timeout(tmp_path):
    with Cluster(tmp_path) as c:
        bs = start3(c, {"auto.leader.rebalance.enable": "false"})
        byid = {b.node_id: b for b in bs}
        create(bs, "ft", 1, TOPIC_CONF)
        wait_for(lambda: full_isr_everywhere(bs, "ft", 1), 20, "ISR [0,1,2]")
        kz = c.zkc()
        w = writer(bs)
        w.start()
        try:
            wait_for(lambda: len(w.acked) > 300, 30, "first acks")
            lid = leader_seen_by(bs, "ft", 0)
            victim = byid[lid]
            rest = [b for b in bs if b is not victim]
            owner = kz.get("/brokers/ids/%d" % lid)[1].ephemeralOwner
            was_controller = json.loads(kz.get("/controller")[0])["brokerid"] == lid
            # a divergent tail for sure: the followers are frozen for a
            # moment (well under the session and lag times) while the
            # leader takes an acks=1 write, then the leader is frozen
            for b in rest:
                b.signal(signal.SIGSTOP)
            time.sleep(0.6)  # their fetches in flight are answered (empty)
            assert tail_only_on(victim) == 0
            t0 = time.monotonic()
            victim.signal(signal.SIGSTOP)
            for b in rest:
                b.signal(signal.SIGCONT)
            new = new_leader(rest, lid)
            acks_resume(w, len(w.acked), "the failover")
            stall = stall_after(w, t0)
            # past the session timeout: ZooKeeper dropped its registration
            wait_for(lambda: not kz.exists("/brokers/ids/%d" % lid), 20, "broker %d's session expired" % lid)
            frozen = file_log(victim, "ft", 0)
            frozen_s = time.monotonic() - t0
            victim.signal(signal.SIGCONT)
            # the resumed ex-leader must not acknowledge an acks=all write
            # the new leader lacks: a probe sent at once
            err = probe(victim, b"probe-after-resume")
            wait_for(lambda: rejoined_follower(bs, victim, "ft"), 40,
                     "broker %d back in the ISR as a follower" % lid)
            acks_resume(w, len(w.acked), "the rejoin")
        finally:
            w.stop_ev.set()
            w.join(60)
        final_leader = byid[leader_seen_by(bs, "ft", 0)]
        divergent, final = check_truncated(victim, final_leader, "ft", frozen)
        if err == 0:
            assert b"probe-after-resume" in [v for _, v in final], \
                "the resumed ex-leader acknowledged a write the new leader does not have"
        assert TAIL in [v for _, v in frozen] and TAIL not in [v for _, v in final]
        assert divergent >= 1
        n = check_acked(w, final, "SIGSTOP")
        md0 = parts_of(bs[0], "ft")[0]
        assert md0["leader_id"] != lid and sorted(md0["isr_nodes"]) == [0, 1, 2], md0
        # re-registered with a new session; a controller that lost its
        # session resigned; every broker (the resumed one too) agrees
        new_owner = kz.get("/brokers/ids/%d" % lid)[1].ephemeralOwner
        assert new_owner not in (0, owner)
        ctl = json.loads(kz.get("/controller")[0])["brokerid"]
        if was_controller:
            assert ctl != lid
        wait_for(lambda: {md(b, [])["controller_id"] for b in bs} == {ctl}, 10, "one controller everywhere")
        print("SIGSTOP leader %d%s for %.1f s (past its 4 s session): new leader %d, produce stalled "
              "%.2f s; the resumed ex-leader answered a probe with %s; %d records of its "
              "divergent tail truncated; %d acknowledged messages all consumed" %
              (lid, " (the controller)" if was_controller else "", frozen_s, new, stall, err,
               divergent, n))


def test_short_sigstop_of_the_leader_keeps_it_leading(tmp_path):
    """A freeze over half the session timeout but under all of it: the
    session survives, so the broker stays leader. It is fenced after
    resuming until ZooKeeper confirms the session, then leads again (the
    fence must lift), with its ISR whole."""
    with Cluster(tmp_path) as c:
        bs = start3(c, {"auto.leader.rebalance.enable": "false"})
        byid = {b.node_id: b for b in bs}
        create(bs, "ft", 1, TOPIC_CONF)
        wait_for(lambda: full_isr_everywhere(bs, "ft", 1), 20, "ISR [0,1,2]")
        kz = c.zkc()
        w = writer(bs)
        w.start()
        try:
            wait_for(lambda: len(w.acked) > 300, 30, "first acks")
            lid = leader_seen_by(bs, "ft", 0)
            victim = byid[lid]
            owner = kz.get("/brokers/ids/%d" % lid)[1].ephemeralOwner
            t0 = time.monotonic()
            victim.signal(signal.SIGSTOP)
            time.sleep(2.6)  # session 4 s, freeze threshold 2 s
            victim.signal(signal.SIGCONT)
            acks_resume(w, len(w.acked), "the short freeze")
            stall = stall_after(w, t0)
            wait_for(lambda: "leadership fence lifted" in victim.log_text(), 20, "the fence lifted")
        finally:
            w.stop_ev.set()
            w.join(60)
        # the same session, the same leader, no failover
        assert kz.get("/brokers/ids/%d" % lid)[1].ephemeralOwner == owner
        assert "did not run for" in victim.log_text()
        assert leader_seen_by(bs, "ft", 0) == lid
        wait_for(lambda: full_isr_everywhere(bs, "ft", 1), 20, "ISR [0,1,2] after the freeze")
        n = check_acked(w, read_all(bs, "ft", 0), "short SIGSTOP")
        print("SIGSTOP leader %d for 2.6 s (under its 4 s session): still leader, produce stalled "
              "%.2f s; %d acknowledged messages all consumed" % (lid, stall, n))


# ------------------------------------------------------------------ network partition


NETNS_OK, NETNS_WHY = netns.available()

PROBE_IN_NS = r"""
import sys
sys.path.insert(0, %r)
import kwirex
rec = kwirex.record_batch([(None, b"probe-while-cut", [])])
body = kwirex.produce_body(7, "ft", 0, rec, acks=-1, timeout_ms=3000)
try:
    r = kwirex.call((%r, %d), 0, 7, body, kwirex.parse_produce, timeout=10)
    print(r["topics"][0]["partitions"][0]["error_code"])
except Exception as e:
    print("no answer (%%s)" %% type(e).__name__)
"""


def netns_brokers(net, c, tmp_path):
    """3 brokers, broker i in namespace i at net.addr(i); ZooKeeper
    listens on every address (restarted to apply it) and the brokers reach
    it through the bridge."""
    c.zk.stop()
    c.zk.client_addr = "0.0.0.0"
    for i in range(c.zk.n):
        c.zk._write_conf(i)
    c.zk.start()
    zkc = c.zk.connect_via(net.gateway) + CHROOT
    bs = []
    for i in range(3):
        wd = os.path.join(str(tmp_path), "nb%d" % i)
        os.makedirs(wd, exist_ok=True)
        props = c.props(dict(EXTRA, **{"auto.leader.rebalance.enable": "false"}))
        props["zookeeper.connect"] = zkc
        b = brookharness.Broker(wd, props=props, node_id=i,
                                binary=net.wrapper(i, brookharness.brookd_path(), str(tmp_path)))
        b.host = net.addr(i)
        c.brokers[wd] = b
        b.start()
        bs.append(b)
    wait_for(lambda: all(sorted(x["node_id"] for x in md(b, [])["brokers"]) == [0, 1, 2]
                         for b in bs), 20, "3 live brokers everywhere")
    assert {x["host"] for x in md(bs[0], [])["brokers"]} == {net.addr(i) for i in range(3)}
    return bs


@pytest.mark.skipif(not NETNS_OK, reason="no network namespaces: %s" % NETNS_WHY)
def test_network_partition_of_the_leader(tmp_path):
    with netns.Net(3) as net:
        with Cluster(tmp_path) as c:
            bs = netns_brokers(net, c, tmp_path)
            byid = {b.node_id: b for b in bs}
            create(bs, "ft", 1, TOPIC_CONF)
            wait_for(lambda: full_isr_everywhere(bs, "ft", 1), 20, "ISR [0,1,2]")
            kz = c.zkc()
            w = writer(bs)
            w.start()
            try:
                wait_for(lambda: len(w.acked) > 300, 30, "first acks")
                lid = leader_seen_by(bs, "ft", 0)
                victim = byid[lid]
                rest = [b for b in bs if b is not victim]
                # a divergent tail for sure: the followers are cut for a
                # moment while the leader takes an acks=1 write
                for b in rest:
                    net.cut(b.node_id)
                time.sleep(0.6)
                assert tail_only_on(victim) == 0
                t0 = time.monotonic()
                net.cut(lid)
                for b in rest:
                    net.heal(b.node_id)
                new = new_leader(rest, lid)
                acks_resume(w, len(w.acked), "the partition")
                stall = stall_after(w, t0)
                wait_for(lambda: not kz.exists("/brokers/ids/%d" % lid), 20,
                         "broker %d's session expired" % lid)
                # inside its namespace the isolated leader is still reachable:
                # it must not acknowledge an acks=all write on its own
                out = net.run(lid, ["/usr/bin/python3", "-c", PROBE_IN_NS % (
                    os.path.join(HERE, "..", "lib"), victim.host, victim.port)],
                    capture_output=True, text=True, timeout=30)
                err = out.stdout.strip() or out.stderr.strip()[-300:]
                frozen = file_log(victim, "ft", 0)
                cut_s = time.monotonic() - t0
                net.heal(lid)
                wait_for(lambda: rejoined_follower(bs, victim, "ft"), 40,
                         "broker %d back in the ISR as a follower" % lid)
                acks_resume(w, len(w.acked), "the heal")
            finally:
                if net.up:
                    for i in range(3):
                        net.heal(i)
                w.stop_ev.set()
                w.join(60)
            final_leader = byid[leader_seen_by(bs, "ft", 0)]
            divergent, final = check_truncated(victim, final_leader, "ft", frozen)
            if err == "0":
                assert b"probe-while-cut" in [v for _, v in final], \
                    "the isolated leader acknowledged a write the new leader does not have"
            assert TAIL in [v for _, v in frozen] and TAIL not in [v for _, v in final]
            assert divergent >= 1
            n = check_acked(w, final, "partition")
            print("network partition of leader %d for %.1f s: new leader %d, produce stalled %.2f s; "
                  "the isolated leader answered an acks=all probe with %s; %d records of its divergent "
                  "tail truncated; %d acknowledged messages all consumed" %
                  (lid, cut_s, new, stall, err, divergent, n))


@pytest.mark.skipif(not NETNS_OK, reason="no network namespaces: %s" % NETNS_WHY)
def test_network_partition_of_a_follower(tmp_path):
    """A follower cut off past its session: it leaves the ISR (the
    controller drops the dead broker), produce goes on with the 2 others
    (min.insync.replicas=2), and after the heal it re-registers, catches up
    and is back in the ISR with the leader's log."""
    with netns.Net(3) as net:
        with Cluster(tmp_path) as c:
            bs = netns_brokers(net, c, tmp_path)
            byid = {b.node_id: b for b in bs}
            create(bs, "ft", 1, TOPIC_CONF)
            wait_for(lambda: full_isr_everywhere(bs, "ft", 1), 20, "ISR [0,1,2]")
            kz = c.zkc()
            w = writer(bs)
            w.start()
            try:
                wait_for(lambda: len(w.acked) > 300, 30, "first acks")
                lid = leader_seen_by(bs, "ft", 0)
                fid = [b.node_id for b in bs if b.node_id != lid][0]
                rest = [b for b in bs if b.node_id != fid]
                t0 = time.monotonic()
                net.cut(fid)
                wait_for(lambda: not kz.exists("/brokers/ids/%d" % fid), 20,
                         "broker %d's session expired" % fid)
                wait_for(lambda: all(fid not in parts_of(b, "ft")[0]["isr_nodes"] for b in rest), 20,
                         "broker %d out of the ISR" % fid)
                acks_resume(w, len(w.acked), "the follower left")
                stall = stall_after(w, t0)
                assert leader_seen_by(rest, "ft", 0) == lid
                cut_s = time.monotonic() - t0
                net.heal(fid)
                wait_for(lambda: full_isr_everywhere(bs, "ft", 1), 40, "broker %d back in the ISR" % fid)
                acks_resume(w, len(w.acked), "the heal")
            finally:
                if net.up:
                    net.heal(fid)
                w.stop_ev.set()
                w.join(60)
            final = read_all([byid[lid]], "ft", 0)
            wait_for(lambda: file_log(byid[fid], "ft", 0) == final, 20, "the follower's log equal to the leader's")
            n = check_acked(w, final, "follower partition")
            print("network partition of follower %d for %.1f s: leader %d kept leading, produce stalled "
                  "%.2f s; %d acknowledged messages all consumed" % (fid, cut_s, lid, stall, n))


# ------------------------------------------------------------------ ZooKeeper


def consume(bs, topic, n, timeout=30):
    """The first n values of partition 0, read by a confluent-kafka
    consumer (assigned, no group: no coordinator needed)."""
    cons = ck.Consumer({"bootstrap.servers": ",".join(b.bootstrap for b in bs), "group.id": "ft-reader",
                        "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    got = []
    try:
        cons.assign([ck.TopicPartition(topic, 0, 0)])
        deadline = time.monotonic() + timeout
        while len(got) < n and time.monotonic() < deadline:
            m = cons.poll(0.5)
            if m is not None and not m.error():
                got.append(m.value())
    finally:
        cons.close()
    return got


def try_create(bs, name, timeout=10):
    """CreateTopics through AdminClient: None on success, else the error."""
    from confluent_kafka.admin import AdminClient, NewTopic

    a = AdminClient({"bootstrap.servers": ",".join(b.bootstrap for b in bs)})
    try:
        for f in a.create_topics([NewTopic(name, 1, 3, config=TOPIC_CONF)],
                                 operation_timeout=timeout, request_timeout=timeout + 2).values():
            f.result(timeout=timeout + 5)
    except Exception as e:
        return e
    return None


def created(bs, name):
    """try_create succeeded (or an earlier attempt that timed out did)."""
    e = try_create(bs, name)
    if e is None:
        return True
    err = e.args[0] if e.args and isinstance(e.args[0], ck.KafkaError) else None
    return err is not None and err.code() == ck.KafkaError.TOPIC_ALREADY_EXISTS


@pytest.mark.timeout(200)
def test_zookeeper_node_loss_and_quorum_loss(tmp_path):
    with Cluster(tmp_path, zk_nodes=3) as c:
        bs = start3(c)
        create(bs, "ft", 1, TOPIC_CONF)
        wait_for(lambda: full_isr_everywhere(bs, "ft", 1), 20, "ISR [0,1,2]")
        lid0 = leader_seen_by(bs, "ft", 0)
        w = writer(bs)
        w.start()
        stalls = {}
        try:
            wait_for(lambda: len(w.acked) > 300, 30, "first acks")
            # one ZooKeeper node down: everything carries on
            t0 = time.monotonic()
            c.zk.kill(0)
            acks_resume(w, len(w.acked), "killing ZooKeeper node 1")
            wait_for(lambda: created(bs, "after-one"), 40, "creating a topic with 2 of 3 ZooKeeper nodes",
                     step=1)
            wait_for(lambda: full_isr_everywhere(bs, "after-one", 1), 20, "after-one ISR [0,1,2]")
            stalls["one ZooKeeper node killed"] = stall_after(w, t0)
            # quorum lost: produce/consume on the existing leaders carry on
            t1 = time.monotonic()
            c.zk.kill(1)
            # the last node notices and stops serving (it has no quorum)
            wait_for(lambda: not zkharness._ruok(c.zk.client_ports[2]), 20, "ZooKeeper node 3 without quorum")
            n1 = len(w.acked)
            wait_for(lambda: len(w.acked) > n1 + 500, 40, "acks without a ZooKeeper quorum")
            consumed = consume(bs, "ft", n1 + 500)
            assert len(consumed) >= n1 + 500, len(consumed)
            tc = time.monotonic()
            err = try_create(bs, "no-quorum", timeout=8)
            assert err is not None, "a topic was created without a ZooKeeper quorum"
            print("topic creation without a quorum failed after %.1f s: %s" % (time.monotonic() - tc, err))
            n2 = len(w.acked)
            wait_for(lambda: len(w.acked) > n2 + 300, 40, "acks still flowing without a quorum")
            stalls["quorum lost"] = stall_after(w, t1)
            assert leader_seen_by(bs, "ft", 0) == lid0
            # quorum back: the cluster recovers
            t2 = time.monotonic()
            c.zk.start_node(0)
            c.zk.start_node(1)
            c.zk.wait_serving()
            kz = c.zkc()
            wait_for(lambda: sorted(kz.get_children("/brokers/ids")) == ["0", "1", "2"], 40,
                     "brokers registered after the quorum is back")
            wait_for(lambda: created(bs, "after-quorum"), 60, "creating a topic after the quorum is back",
                     step=1)
            wait_for(lambda: full_isr_everywhere(bs, "after-quorum", 1), 30, "after-quorum ISR [0,1,2]")
            n3 = len(w.acked)
            wait_for(lambda: len(w.acked) > n3 + 300, 40, "acks after the quorum is back")
            stalls["quorum restored"] = stall_after(w, t2)
        finally:
            w.stop_ev.set()
            w.join(60)
        final = read_all(bs, "ft", 0)
        n = check_acked(w, final, "ZooKeeper faults")
        print("ZooKeeper faults: produce stalled %s; %d acknowledged messages all consumed" %
              (", ".join("%s %.2f s" % kv for kv in stalls.items()), n))
