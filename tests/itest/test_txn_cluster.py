"""Transactions in a 3-broker cluster (issue 8, item 4): the transaction
coordinator ends transactions on partitions led by other brokers through
WriteTxnMarkers (src/broker/txn_markers.c over the inter-broker client),
acknowledged once replicated.

  - a topic with 3 partitions, replication factor 3, min.insync.replicas=2,
    whose leaders are on all three brokers (so two of them are not the
    coordinator, found with FindCoordinator key type 1); committed and
    aborted transactions across the three partitions are seen correctly by
    a read_committed consumer, and the LSO reaches the log end;
  - the coordinator broker is kill -9'd (a) with a transaction open,
    before commit_transaction(), and (b) while commit_transaction() is in
    progress, then restarted; the producer (or a new one with the same
    transactional.id) carries on; every transaction is visible to
    read_committed completely or not at all, and every transaction whose
    commit_transaction() returned is completely visible. The coordinator
    failover time (kill to the next committed transaction) is printed.
    Also: right after commit_transaction() returned, and a partition
    leader instead of the coordinator;
  - transactional offsets (send_offsets_to_transaction) reach a group
    coordinator on another broker: the aborted ones are dropped, the
    committed ones visible;
  - a marker outstanding: the leader of one partition is frozen with
    SIGSTOP during the commit, the coordinator kill -9'd, the leader
    resumed: the next coordinator finishes the PrepareCommit it finds
    (checked in the brokers' logs) and the transaction is complete.

Bounded: short ZooKeeper sessions (4 s), every wait has a limit, every
process is killed by the Cluster context manager."""

import glob
import os
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
from test_txn_coord import find_coordinator  # noqa: E402

pytest.importorskip("kazoo.client")
ck = pytest.importorskip("confluent_kafka")

pytestmark = [
    pytest.mark.skipif(not zkharness.available(), reason="Debian's zookeeper package is not installed"),
    pytest.mark.timeout(300),
]

EXTRA = {"replica.lag.time.max.ms": 3000, "replica.fetch.wait.max.ms": 100,
         "transaction.state.log.num.partitions": 3}
TOPIC = "txc"
NPARTS = 3
PER_PART = 2  # messages per partition per transaction


def md(b, topics):
    return kwirex.call((b.host, b.port), 3, 10, kwire.metadata_body(10, topics), kwire.parse_metadata)


def parts_of(b, topic):
    t = md(b, [topic])["topics"][0]
    if t["error_code"] != 0:
        return None
    return {p["partition_index"]: p for p in t["partitions"]}


def full_isr_everywhere(bs, topic, nparts):
    for b in bs:
        ps = parts_of(b, topic)
        if not ps or len(ps) != nparts:
            return False
        for p in ps.values():
            if p["error_code"] != 0 or p["leader_id"] < 0 or sorted(p["isr_nodes"]) != [0, 1, 2]:
                return False
    return True


def coordinator_of(bs, txn_id):
    """The node FindCoordinator(key type 1) names, asked of a live broker."""
    def ask():
        for b in bs:
            if not b.alive():
                continue
            try:
                c = find_coordinator(b, txn_id, 3)
            except Exception:
                continue
            if c["error"] == 0 and c["node"] >= 0:
                return [c["node"]]  # node 0 is falsy for wait_for
        return None
    return wait_for(ask, 30, "the coordinator of %s" % txn_id, step=0.2)[0]


def producer(bs, txn_id):
    p = ck.Producer({"bootstrap.servers": ",".join(b.bootstrap for b in bs),
                     "transactional.id": txn_id, "transaction.timeout.ms": 30000,
                     "message.timeout.ms": 30000, "retry.backoff.ms": 50,
                     "reconnect.backoff.max.ms": 500, "topic.metadata.refresh.interval.ms": 1000,
                     "socket.connection.setup.timeout.ms": 3000})
    p.init_transactions(60)
    return p


def values(tag):
    return [b"%s-p%d-%d" % (tag.encode(), part, k) for part in range(NPARTS) for k in range(PER_PART)]


def send_txn(p, tag):
    """Begin, write PER_PART messages to every partition, flush."""
    p.begin_transaction()
    for part in range(NPARTS):
        for k in range(PER_PART):
            p.produce(TOPIC, value=b"%s-p%d-%d" % (tag.encode(), part, k), partition=part)
    assert p.flush(60) == 0


def committed_view(bs, timeout=90):
    """Everything a read_committed consumer sees, once no transaction is
    open any more (LSO == log end on every partition)."""
    boot = ",".join(b.bootstrap for b in bs if b.alive())
    rc = ck.Consumer({"bootstrap.servers": boot, "group.id": "v%d" % time.monotonic_ns(),
                      "isolation.level": "read_committed", "enable.auto.commit": False,
                      "auto.offset.reset": "earliest"})
    ru = ck.Consumer({"bootstrap.servers": boot, "group.id": "u%d" % time.monotonic_ns(),
                      "isolation.level": "read_uncommitted", "enable.auto.commit": False})
    try:
        def lso_at_end():
            ends = []
            for part in range(NPARTS):
                tp = ck.TopicPartition(TOPIC, part)
                _, lso = rc.get_watermark_offsets(tp, timeout=5, cached=False)
                _, hw = ru.get_watermark_offsets(tp, timeout=5, cached=False)
                if lso != hw or lso < 0:
                    return None
                ends.append(lso)
            return ends
        ends = wait_for(lso_at_end, timeout, "the LSO reaching the log end on every partition", step=0.5)
        rc.assign([ck.TopicPartition(TOPIC, part, ck.OFFSET_BEGINNING) for part in range(NPARTS)])
        got = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            m = rc.poll(0.5)
            if m is not None and not m.error():
                got.append(m.value())
            pos = rc.position([ck.TopicPartition(TOPIC, part) for part in range(NPARTS)])
            if all(x.offset >= ends[x.partition] for x in pos):
                break
        return got, ends
    finally:
        rc.close()
        ru.close()


def check_atomic(got, outcomes):
    """outcomes: tag -> "commit" (commit_transaction returned), "abort"
    (abort_transaction returned) or "unknown". Returns the tags seen."""
    assert len(got) == len(set(got)), "duplicates in the read_committed view"
    seen = {}
    for v in got:
        tag = v.decode().rsplit("-p", 1)[0]
        seen.setdefault(tag, set()).add(v)
    assert set(seen) <= set(outcomes), "values of unknown transactions: %s" % (set(seen) - set(outcomes))
    for tag, how in outcomes.items():
        vs = seen.get(tag, set())
        assert vs in (set(), set(values(tag))), \
            "transaction %s (%s) is partly visible: %d of %d" % (tag, how, len(vs), len(values(tag)))
        if how == "commit":
            assert vs, "transaction %s was committed but is not visible" % tag
        if how == "abort":
            assert not vs, "transaction %s was aborted but is visible" % tag
    return set(seen)


def start3(c):
    bs = [c.broker(i, EXTRA) for i in range(3)]
    wait_for(lambda: all(sorted(x["node_id"] for x in md(b, [])["brokers"]) == [0, 1, 2] for b in bs),
             20, "3 live brokers everywhere")
    from confluent_kafka.admin import AdminClient, NewTopic
    a = AdminClient({"bootstrap.servers": bs[0].bootstrap})
    for f in a.create_topics([NewTopic(TOPIC, NPARTS, 3, config={"min.insync.replicas": "2"})],
                             operation_timeout=10).values():
        f.result(timeout=20)
    wait_for(lambda: full_isr_everywhere(bs, TOPIC, NPARTS), 30, "leaders and ISR [0,1,2]")
    return bs


def test_commit_and_abort_across_three_leaders(tmp_path):
    with Cluster(tmp_path) as c:
        bs = start3(c)
        txn_id = "txc-a"
        p = producer(bs, txn_id)
        coord = coordinator_of(bs, txn_id)
        leaders = {part: x["leader_id"] for part, x in parts_of(bs[0], TOPIC).items()}
        print("coordinator %d, partition leaders %s" % (coord, leaders))
        assert sorted(leaders.values()) == [0, 1, 2], leaders
        assert any(lead != coord for lead in leaders.values())
        outcomes = {}
        t0 = time.monotonic()
        for i in range(12):
            tag = "a%02d" % i
            send_txn(p, tag)
            if i % 3 == 2:
                p.abort_transaction(30)
                outcomes[tag] = "abort"
            else:
                p.commit_transaction(30)
                outcomes[tag] = "commit"
        print("12 transactions over 3 leaders in %.2f s" % (time.monotonic() - t0))
        got, ends = committed_view(bs)
        seen = check_atomic(got, outcomes)
        assert seen == {t for t, how in outcomes.items() if how == "commit"}
        # per partition: 12 transactions x PER_PART records (aborted ones
        # stay in the log) + 12 markers, each marker written once
        assert ends == [12 * PER_PART + 12] * NPARTS, ends
        # the markers went through WriteTxnMarkers to the other leaders: each
        # leader's log has all 12 of them (read back through the leader)
        for part, lead in leaders.items():
            b = [x for x in bs if x.node_id == lead][0]
            batches, _ = kwirex.fetch_all((b.host, b.port), TOPIC, part, timeout=10)
            assert sum(1 for bt in batches if bt["control"]) == 12, (part, lead)
        # consumed offsets in the transaction (TxnOffsetCommit to the group
        # coordinator; its __consumer_offsets partition gets the marker,
        # through WriteTxnMarkers when another broker leads it): visible
        # after commit, dropped after abort
        boot = ",".join(b.bootstrap for b in bs)
        g = ck.Consumer({"bootstrap.servers": boot, "group.id": "g-txc", "enable.auto.commit": False})
        try:
            gc = find_coordinator(bs[0], "g-txc", 3, key_type=0)["node"]
            print("group g-txc: coordinator %d (transaction coordinator %d)" % (gc, coord))
            for off, commit in ((7, False), (5, True)):
                p.begin_transaction()
                p.produce(TOPIC, value=b"offsets-%d" % off, partition=0)
                p.send_offsets_to_transaction([ck.TopicPartition(TOPIC, part, off) for part in range(NPARTS)],
                                              g.consumer_group_metadata(), 30)
                if commit:
                    p.commit_transaction(30)
                else:
                    p.abort_transaction(30)
            def committed():
                got = g.committed([ck.TopicPartition(TOPIC, part) for part in range(NPARTS)], timeout=10)
                return [x.offset for x in got] == [5] * NPARTS and got
            wait_for(committed, 30, "the transaction's offsets committed")
        finally:
            g.close()
        p.flush(5)


def test_coordinator_kill9_mid_transaction(tmp_path):
    with Cluster(tmp_path) as c:
        bs = start3(c)
        byid = {b.node_id: b for b in bs}
        txn_id = "txc-k"
        p = producer(bs, txn_id)
        outcomes = {}
        for i in range(3):
            send_txn(p, "w%d" % i)
            p.commit_transaction(30)
            outcomes["w%d" % i] = "commit"
        failovers = []

        def carry_on(p, tag):
            """Commit one transaction; a new producer when the old one is
            in a fatal state. Returns the producer that worked."""
            for attempt in range(6):
                try:
                    send_txn(p, tag)
                    p.commit_transaction(60)
                    outcomes[tag] = "commit"
                    return p
                except ck.KafkaException as e:
                    err = e.args[0]
                    outcomes.setdefault(tag, "unknown")
                    print("  %s attempt %d: %s" % (tag, attempt, err))
                    if err.txn_requires_abort():
                        try:
                            p.abort_transaction(60)
                        except ck.KafkaException:
                            pass
                    elif not err.retriable():
                        p = producer(bs, txn_id)
                    tag = tag + "r"
            raise AssertionError("the producer never carried on")

        def recover(p, err):
            """After a failed commit: abort when the producer can, else a
            new producer (init_transactions fences the old epoch)."""
            if err.txn_requires_abort():
                try:
                    p.abort_transaction(60)
                    return p
                except ck.KafkaException:
                    pass
            return producer(bs, txn_id)

        # (kill what, when): "before" = with the transaction open, before
        # commit_transaction(); a number = that many seconds after
        # commit_transaction() started (in another thread); "after" = as
        # soon as commit_transaction() returned (EndTxn answers once
        # PrepareCommit is replicated: the markers are usually still on
        # their way, and the next coordinator must finish them)
        scenarios = [("coordinator", "before"), ("coordinator", 0.0), ("coordinator", 0.004),
                     ("coordinator", "after"), ("partition leader", 0.0)]
        for n, (what, when) in enumerate(scenarios):
            coord = coordinator_of(bs, txn_id)
            leaders = {part: x["leader_id"] for part, x in parts_of(bs[0], TOPIC).items()}
            if what == "coordinator":
                victim = coord
            else:
                victim = [lead for lead in leaders.values() if lead != coord][0]
            tag = "k%d" % n
            send_txn(p, tag)
            res = {}

            def commit():
                try:
                    p.commit_transaction(60)
                    res["ok"] = time.monotonic()
                except ck.KafkaException as e:
                    res["err"] = e.args[0]
            if when == "before":
                t_kill = time.monotonic()
                byid[victim].kill9()
                commit()
            elif when == "after":
                commit()
                t_kill = time.monotonic()
                byid[victim].kill9()
            else:
                th = threading.Thread(target=commit, daemon=True)
                th.start()
                time.sleep(when)
                t_kill = time.monotonic()
                byid[victim].kill9()
                th.join(90)
                assert not th.is_alive(), "commit_transaction() did not return"
            print("%s: killed the %s (broker %d; coordinator %d, leaders %s) %s" % (
                tag, what, victim, coord, leaders,
                "before commit" if when == "before" else "after commit returned" if when == "after"
                else "%.0f ms into commit" % (when * 1000)))
            if "ok" in res:
                outcomes[tag] = "commit"
                print("  %s committed (commit_transaction returned %+.1f ms after the kill)" % (
                    tag, (res["ok"] - t_kill) * 1000))
            else:
                outcomes[tag] = "unknown"
                print("  %s: commit failed: %s" % (tag, res["err"]))
                p = recover(p, res["err"])
            p = carry_on(p, tag + "next")
            failovers.append(time.monotonic() - t_kill)
            print("  failover: %.2f s from kill -9 to the next commit" % failovers[-1])
            byid[victim].start()
            wait_for(lambda: full_isr_everywhere(bs, TOPIC, NPARTS), 60,
                     "the restarted broker back in the ISR")
        for i in range(3):
            p = carry_on(p, "z%d" % i)
        p.flush(5)

        got, ends = committed_view(bs)
        seen = check_atomic(got, outcomes)
        # how often a new coordinator found a transaction in PrepareCommit
        # and finished its markers (from the brokers' logs)
        logs = [b.log_text(f) for b in bs for f in glob.glob(os.path.join(b.workdir, "brookd.*.log"))]
        finished = [ln.strip() for text in logs for ln in text.splitlines()
                    if "transactions being ended (markers sent again)" in ln and
                    "; 0 transactions being ended" not in ln]
        print("coordinator loads that finished Prepare* transactions:\n  %s" % "\n  ".join(finished))
        print("outcomes %s; visible %s" % (outcomes, sorted(seen)))
        print("failover times (kill -9 to the next commit): %s s" % ", ".join(
            "%.2f" % f for f in failovers))


def test_coordinator_kill9_with_markers_outstanding(tmp_path):
    """A partition leader X (not the coordinator) is frozen with SIGSTOP,
    so the commit's marker for X's partition cannot be acknowledged; the
    coordinator is kill -9'd once commit_transaction() returned (or after
    8 s), X is resumed, the coordinator restarted. The transaction is
    seen completely (commit returned) by read_committed, and so are the
    ones after it."""
    with Cluster(tmp_path) as c:
        bs = start3(c)
        byid = {b.node_id: b for b in bs}
        txn_id = "txc-m"
        p = producer(bs, txn_id)
        outcomes = {}
        send_txn(p, "m0")
        p.commit_transaction(30)
        outcomes["m0"] = "commit"
        coord = coordinator_of(bs, txn_id)
        leaders = {part: x["leader_id"] for part, x in parts_of(bs[0], TOPIC).items()}
        x = [lead for lead in leaders.values() if lead != coord][0]
        send_txn(p, "m1")
        res = {}

        def commit():
            try:
                p.commit_transaction(60)
                res["ok"] = time.monotonic()
            except ck.KafkaException as e:
                res["err"] = e.args[0]
        import signal
        byid[x].signal(signal.SIGSTOP)
        t0 = time.monotonic()
        th = threading.Thread(target=commit, daemon=True)
        th.start()
        th.join(8)
        t_kill = time.monotonic()
        returned_before_kill = "ok" in res
        byid[coord].kill9()
        byid[x].signal(signal.SIGCONT)
        print("froze broker %d (leader of %s), commit %s after %.2f s, killed coordinator %d" % (
            x, [q for q, lead in leaders.items() if lead == x],
            "returned" if "ok" in res else "failed" if "err" in res else "still running",
            time.monotonic() - t0, coord))
        th.join(90)
        assert not th.is_alive(), "commit_transaction() did not return"
        if "ok" in res:
            outcomes["m1"] = "commit"
        else:
            outcomes["m1"] = "unknown"
            print("  m1: %s" % res["err"])
            if res["err"].txn_requires_abort():
                try:
                    p.abort_transaction(60)
                except ck.KafkaException:
                    p = producer(bs, txn_id)
            else:
                p = producer(bs, txn_id)
        byid[coord].start()
        t_next = None
        for i in range(4):
            tag = "m%d" % (i + 2)
            try:
                send_txn(p, tag)
                p.commit_transaction(60)
                outcomes[tag] = "commit"
                t_next = t_next or time.monotonic()
            except ck.KafkaException as e:
                outcomes[tag] = "unknown"
                print("  %s: %s" % (tag, e.args[0]))
                p = producer(bs, txn_id)
        assert t_next is not None, "no transaction committed after the faults"
        print("  first commit %.2f s after the kill" % (t_next - t_kill))
        wait_for(lambda: full_isr_everywhere(bs, TOPIC, NPARTS), 90, "every broker back in the ISR")
        got, ends = committed_view(bs)
        seen = check_atomic(got, outcomes)
        logs = [b.log_text(f) for b in bs for f in glob.glob(os.path.join(b.workdir, "brookd.*.log"))]
        finished = [ln.strip() for text in logs for ln in text.splitlines()
                    if "transactions being ended (markers sent again)" in ln and
                    "; 0 transactions being ended" not in ln]
        print("outcomes %s; visible %s" % (outcomes, sorted(seen)))
        print("coordinator loads that finished Prepare* transactions:\n  %s" % "\n  ".join(finished))
        if returned_before_kill:
            # EndTxn had answered (PrepareCommit replicated) while the marker
            # for the frozen leader's partition could not be acknowledged:
            # the next coordinator found the transaction being committed
            assert finished, "no coordinator took over a transaction in PrepareCommit"
        p.flush(5)
