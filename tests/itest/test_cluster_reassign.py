"""Partition reassignment (issue 8 items 3 and 5) on 3 brokers over a real
ZooKeeper ensemble, driven by `brook reassign-partitions` as an operator
would drive kafka-reassign-partitions.sh:

  - RF1 and RF2 partitions move to other brokers (--execute, then --verify
    until completed) while an idempotent acks=all producer writes: Metadata
    on every broker shows the new replicas and a leader among them, every
    acknowledged message is readable from the new leader, and the old
    replicas' log directories are gone;
  - a move that cannot complete (its target broker is down) is listed by
    --list, reported in progress by --verify, and --cancel restores the
    original replicas;
  - --throttle: the replication rate of a throttled move is measured and
    printed; with a throttle far below the data size the move is still in
    progress after a few seconds, and --verify removes the throttle configs
    once it completed;
  - `brook topics --describe --under-replicated-partitions` lists a
    partition while one of its brokers is down, and nothing once it is back.

Bounded: short sessions (4 s), bounded waits, every process is stopped by
the Cluster context manager."""

import json
import os
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import zkharness  # noqa: E402
from test_cluster_zk import Cluster, wait_for  # noqa: E402
from test_cluster_failover import Writer, md, parts_of, read_all, start3  # noqa: E402

pytest.importorskip("kazoo.client")
ck = pytest.importorskip("confluent_kafka")

pytestmark = [
    pytest.mark.skipif(not zkharness.available(), reason="Debian's zookeeper package is not installed"),
    pytest.mark.timeout(180),
]

REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
BROOK = os.environ.get("BROOK_TOOL", os.path.join(REPO, "build", "bin", "brook"))


def tool(*args, check=True, timeout=60):
    r = subprocess.run([BROOK] + list(args), capture_output=True, text=True, timeout=timeout)
    if check:
        assert r.returncode == 0, "brook %s: rc %d\n%s\n%s" % (" ".join(args), r.returncode, r.stdout, r.stderr)
    return r


def reassign(bs, action, plan=None, tmp=None, extra=()):
    args = ["reassign-partitions", "--bootstrap-server", ",".join(b.bootstrap for b in bs if b.alive()),
            "--" + action]
    if plan is not None:
        path = os.path.join(str(tmp), "plan-%d.json" % time.monotonic_ns())
        with open(path, "w") as f:
            json.dump({"version": 1, "partitions": [
                {"topic": t, "partition": p, "replicas": r, "log_dirs": ["any"] * len(r)}
                for (t, p, r) in plan]}, f)
        args += ["--reassignment-json-file", path]
    return tool(*(args + list(extra)))


def create_assigned(bs, name, assignment, config=None):
    from confluent_kafka.admin import AdminClient, NewTopic

    a = AdminClient({"bootstrap.servers": bs[0].bootstrap})
    nt = NewTopic(name, len(assignment), replica_assignment=assignment, config=config or {})
    for f in a.create_topics([nt], operation_timeout=10).values():
        f.result(timeout=20)


def state_is(bs, topic, want):
    """Every live broker's Metadata: partition p has replicas want[p], a
    leader among them, and the full ISR."""
    for b in bs:
        if not b.alive():
            continue
        ps = parts_of(b, topic)
        if not ps:
            return False
        for p, reps in want.items():
            x = ps.get(p)
            if (x is None or x["error_code"] != 0 or x["replica_nodes"] != reps or x["leader_id"] not in reps
                    or sorted(x["isr_nodes"]) != sorted(reps)):
                return False
    return True


def partition_dir(b, topic, p):
    return os.path.join(b.datadir, "%s-%d" % (topic, p))


def produce_n(bs, topic, partition, n, prefix, size=0):
    p = ck.Producer({"bootstrap.servers": ",".join(b.bootstrap for b in bs if b.alive()), "acks": "all",
                     "message.timeout.ms": 30000, "linger.ms": 20})
    errs = []
    pad = b"x" * size
    for i in range(n):
        while True:
            try:
                p.produce(topic, value=b"%s%06d" % (prefix, i) + pad, partition=partition,
                          on_delivery=lambda e, m: errs.append(e) if e else None)
                break
            except BufferError:
                p.poll(0.05)
    assert p.flush(60) == 0 and not errs, errs[:3]


def verify_until_done(bs, plan, tmp, timeout):
    def done():
        out = reassign(bs, "verify", plan, tmp).stdout
        return out if "still in progress" not in out else None
    return wait_for(done, timeout, "the reassignment to complete", step=0.5)


def test_move_rf1_and_rf2_while_producing(tmp_path):
    with Cluster(tmp_path) as c:
        bs = start3(c)
        byid = {b.node_id: b for b in bs}
        create_assigned(bs, "mv1", [[0]])
        create_assigned(bs, "mv2", [[0, 1], [1, 0]])
        wait_for(lambda: state_is(bs, "mv1", {0: [0]}) and state_is(bs, "mv2", {0: [0, 1], 1: [1, 0]}),
                 20, "the initial assignment everywhere")
        produce_n(bs, "mv1", 0, 300, b"a")
        produce_n(bs, "mv2", 1, 300, b"b")
        w = Writer(",".join(b.bootstrap for b in bs), "mv2")  # writes mv2-0
        w.start()
        try:
            wait_for(lambda: len(w.acked) > 100, 20, "first acks")
            plan = [("mv1", 0, [2]), ("mv2", 0, [1, 2]), ("mv2", 1, [2, 1])]
            t0 = time.monotonic()
            out = reassign(bs, "execute", plan, tmp_path).stdout
            assert "Current partition replica assignment" in out, out
            assert '"topic":"mv2","partition":0,"replicas":[0,1]' in out, out
            assert "Successfully started partition reassignments for mv1-0,mv2-0,mv2-1" in out, out
            out = verify_until_done(bs, plan, tmp_path, 60)
            took = time.monotonic() - t0
            assert "Status of partition reassignment:" in out
            for t, p, _ in plan:
                assert "Reassignment of partition %s-%d is completed." % (t, p) in out, out
            print("reassignment of 3 partitions completed in %.2f s while producing" % took)
            n_at_done = len(w.acked)
            wait_for(lambda: len(w.acked) > n_at_done + 100, 30, "acks after the move")
        finally:
            w.stop_ev.set()
            w.join(40)
        assert not w.errors, w.errors[:5]
        wait_for(lambda: state_is(bs, "mv1", {0: [2]}) and state_is(bs, "mv2", {0: [1, 2], 1: [2, 1]}),
                 30, "the new assignment in Metadata on every broker")
        # the preferred leader of mv1-0 and mv2-1 is the only/first new replica
        for b in bs:
            assert parts_of(b, "mv1")[0]["leader_id"] == 2
        # every acknowledged message is readable from the new leaders
        log = [v for _, v in read_all(bs, "mv2", 0)]
        pos = set(log)
        missing = [v for (v, _, _) in w.acked if v not in pos]
        assert not missing, "%d acknowledged messages missing, e.g. %s" % (len(missing), missing[:3])
        assert len(log) == len(pos), "duplicates in mv2-0"
        assert [v for _, v in read_all(bs, "mv1", 0)] == [b"a%06d" % i for i in range(300)]
        assert [v for _, v in read_all(bs, "mv2", 1)] == [b"b%06d" % i for i in range(300)]
        # the old replicas stopped and deleted their logs; the new ones have them
        wait_for(lambda: not os.path.exists(partition_dir(byid[0], "mv1", 0)) and
                 not os.path.exists(partition_dir(byid[0], "mv2", 0)) and
                 not os.path.exists(partition_dir(byid[0], "mv2", 1)), 20, "broker 0's old logs deleted")
        assert os.path.isdir(partition_dir(byid[2], "mv1", 0))
        assert os.path.isdir(partition_dir(byid[2], "mv2", 0))
        # the assignment znode is back to Kafka's plain form
        data, _ = c.zkc().get("/brokers/topics/mv2")
        z = json.loads(data)
        assert z["partitions"] == {"0": [1, 2], "1": [2, 1]} and z["adding_replicas"] == {} \
            and z["removing_replicas"] == {}, z
        out = reassign(bs, "list").stdout
        assert "No partition reassignments found." in out, out
        # --generate: the current assignment and a proposal over the list
        tj = os.path.join(str(tmp_path), "topics.json")
        with open(tj, "w") as f:
            json.dump({"version": 1, "topics": [{"topic": "mv2"}, {"topic": "mv1"}]}, f)
        out = tool("reassign-partitions", "--bootstrap-server", bs[0].bootstrap, "--generate",
                   "--topics-to-move-json-file", tj, "--broker-list", "0,1").stdout
        lines = out.splitlines()
        assert lines[0] == "Current partition replica assignment", out
        cur = json.loads(lines[1])
        assert cur["partitions"] == [
            {"topic": "mv1", "partition": 0, "replicas": [2], "log_dirs": ["any"]},
            {"topic": "mv2", "partition": 0, "replicas": [1, 2], "log_dirs": ["any", "any"]},
            {"topic": "mv2", "partition": 1, "replicas": [2, 1], "log_dirs": ["any", "any"]}], cur
        assert lines[2] == "" and lines[3] == "Proposed partition reassignment configuration", out
        prop = json.loads(lines[4])["partitions"]
        assert [(x["topic"], x["partition"], len(x["replicas"])) for x in prop] == \
            [("mv1", 0, 1), ("mv2", 0, 2), ("mv2", 1, 2)], prop
        assert all(set(x["replicas"]) <= {0, 1} for x in prop), prop


def test_cancel_restores_the_original_replicas(tmp_path):
    with Cluster(tmp_path) as c:
        bs = start3(c)
        byid = {b.node_id: b for b in bs}
        create_assigned(bs, "cx", [[0, 1]])
        wait_for(lambda: state_is(bs, "cx", {0: [0, 1]}), 20, "cx on [0,1]")
        produce_n(bs, "cx", 0, 100, b"c")
        byid[2].stop()
        wait_for(lambda: sorted(x["node_id"] for x in md(bs[0], [])["brokers"]) == [0, 1], 20,
                 "broker 2 gone")
        plan = [("cx", 0, [1, 2])]
        r = reassign(bs, "execute", plan, tmp_path)
        assert "Successfully started partition reassignment for cx-0" in r.stdout, r.stdout
        assert "Warning: broker 2 of cx-0 is not live" in r.stderr, r.stderr
        # another --execute while a move is in progress needs --additional (as Kafka)
        r = tool("reassign-partitions", "--bootstrap-server", bs[0].bootstrap, "--execute",
                 "--reassignment-json-file", "/dev/null", check=False)
        assert r.returncode != 0
        path = os.path.join(str(tmp_path), "again.json")
        with open(path, "w") as f:
            json.dump({"version": 1, "partitions": [{"topic": "cx", "partition": 0, "replicas": [1, 2]}]}, f)
        r = tool("reassign-partitions", "--bootstrap-server", bs[0].bootstrap, "--execute",
                 "--reassignment-json-file", path, check=False)
        assert r.returncode == 1 and "Cannot execute because there is an existing partition assignment" \
            in r.stderr, (r.stdout, r.stderr)
        # it cannot complete: broker 2 is down
        time.sleep(2)
        out = reassign(bs, "verify", plan, tmp_path).stdout
        assert "Reassignment of partition cx-0 is still in progress." in out, out
        out = reassign(bs, "list").stdout
        assert "Current partition reassignments:" in out and \
            "cx-0: replicas: 1,2,0. adding: 2. removing: 0." in out, out
        # topics --describe shows the move; the replicas being added do not
        # count in the replication factor (Kafka's TopicCommand)
        boot = ",".join(b.bootstrap for b in bs if b.alive())
        out = tool("topics", "--bootstrap-server", boot, "--describe", "--topic", "cx").stdout
        assert "ReplicationFactor: 2\t" in out, out
        assert "Replicas: 1,2,0\tIsr: 0,1\tAdding Replicas: 2\tRemoving Replicas: 0" in out or \
            "Replicas: 1,2,0\tIsr: 1,0\tAdding Replicas: 2\tRemoving Replicas: 0" in out, out
        out = tool("topics", "--bootstrap-server", boot, "--describe", "--topic", "cx",
                   "--under-replicated-partitions").stdout
        assert out.strip() == "", out
        data, _ = c.zkc().get("/brokers/topics/cx")
        z = json.loads(data)
        assert z["partitions"] == {"0": [1, 2, 0]} and z["adding_replicas"] == {"0": [2]} \
            and z["removing_replicas"] == {"0": [0]}, z
        out = reassign(bs, "cancel", plan, tmp_path).stdout
        assert "Successfully cancelled partition reassignment for: cx-0" in out, out
        wait_for(lambda: state_is(bs, "cx", {0: [0, 1]}), 20, "cx back on [0,1]")
        out = reassign(bs, "list").stdout
        assert "No partition reassignments found." in out, out
        data, _ = c.zkc().get("/brokers/topics/cx")
        assert json.loads(data)["partitions"] == {"0": [0, 1]}
        # a second cancel has nothing to cancel; broker 2 comes back and does
        # not host the partition
        byid[2].start()
        wait_for(lambda: sorted(x["node_id"] for x in md(bs[0], [])["brokers"]) == [0, 1, 2], 20,
                 "broker 2 back")
        time.sleep(1)
        assert not os.path.exists(partition_dir(byid[2], "cx", 0))
        assert [v for _, v in read_all(bs, "cx", 0)] == [b"c%06d" % i for i in range(100)]


def test_under_replicated_partitions_filter(tmp_path):
    with Cluster(tmp_path) as c:
        bs = start3(c)
        byid = {b.node_id: b for b in bs}
        create_assigned(bs, "ur", [[0, 1], [1, 2]], {"min.insync.replicas": "2"})
        wait_for(lambda: state_is(bs, "ur", {0: [0, 1], 1: [1, 2]}), 20, "ur in sync")
        boot = ",".join(b.bootstrap for b in bs)

        def describe(flag):
            return tool("topics", "--bootstrap-server", boot, "--describe", "--topic", "ur", flag).stdout

        assert describe("--under-replicated-partitions").strip() == ""
        at_min = describe("--at-min-isr-partitions")
        assert "Partition: 0" in at_min and "Partition: 1" in at_min, at_min
        byid[2].stop()
        boot = ",".join(b.bootstrap for b in bs if b.alive())

        def listed():
            out = describe("--under-replicated-partitions")
            return out if "Partition: 1" in out else None
        out = wait_for(listed, 30, "ur-1 under-replicated")
        assert "Partition: 0" not in out, out
        line = [x for x in out.splitlines() if "Partition: 1" in x][0]
        assert "Leader: 1" in line and "Replicas: 1,2" in line and "Isr: 1" in line, line
        out = describe("--under-min-isr-partitions")
        assert "Partition: 1" in out and "Partition: 0" not in out, out
        assert describe("--unavailable-partitions").strip() == ""
        byid[2].start()
        wait_for(lambda: describe("--under-replicated-partitions").strip() == "", 30,
                 "nothing under-replicated once broker 2 is back")


def test_throttled_move(tmp_path):
    with Cluster(tmp_path) as c:
        bs = start3(c)
        create_assigned(bs, "th", [[0]])
        wait_for(lambda: state_is(bs, "th", {0: [0]}), 20, "th on [0]")
        size = 4 << 20
        produce_n(bs, "th", 0, 4096, b"t", size=1024 - 7)  # ~4 MiB
        throttle = 256 * 1024  # B/s: about 16 s for 4 MiB
        plan = [("th", 0, [1])]
        t0 = time.monotonic()
        out = reassign(bs, "execute", plan, tmp_path, extra=("--throttle", str(throttle))).stdout
        assert "The inter-broker throttle limit was set to %d B/s" % throttle in out, out
        # the configs Kafka's tool sets
        # (the brokers answer before their ZooKeeper writes land)
        wait_for(lambda: json.loads(c.zkc().get("/config/brokers/1")[0])["config"].get(
            "follower.replication.throttled.rate") == str(throttle), 10, "/config/brokers/1")
        want = {"leader.replication.throttled.replicas": "0:0",
                "follower.replication.throttled.replicas": "0:1"}
        wait_for(lambda: json.loads(c.zkc().get("/config/topics/th")[0])["config"] == want, 10,
                 "the topic's throttled replicas in /config/topics/th")
        time.sleep(3)
        out = reassign(bs, "verify", plan, tmp_path).stdout
        still = "still in progress" in out
        print("after 3 s with a %d B/s throttle: %s" % (throttle, "in progress" if still else "completed"))
        assert still, "a %d B/s throttle cannot move %d bytes in 3 s:\n%s" % (throttle, size, out)
        out = verify_until_done(bs, plan, tmp_path, 90)
        took = time.monotonic() - t0
        print("throttled move of %d bytes took %.1f s: %.0f B/s (throttle %d B/s)" %
              (size, took, size / took, throttle))
        assert "Reassignment of partition th-0 is completed." in out, out
        assert "Clearing broker-level throttles on brokers 0,1,2" in out, out
        assert "Clearing topic-level throttles on topic th" in out, out
        def cleared():
            cfg = json.loads(c.zkc().get("/config/topics/th")[0])["config"]
            if any("throttled.replicas" in k for k in cfg):
                return False
            for i in (0, 1):
                data, _ = c.zkc().get("/config/brokers/%d" % i)
                if any("throttled.rate" in k for k in json.loads(data)["config"]):
                    return False
            return True
        wait_for(cleared, 10, "the throttle configs removed from ZooKeeper")
        # unthrottled for comparison
        create_assigned(bs, "nt", [[0]])
        wait_for(lambda: state_is(bs, "nt", {0: [0]}), 20, "nt on [0]")
        produce_n(bs, "nt", 0, 4096, b"t", size=1024 - 7)
        t0 = time.monotonic()
        reassign(bs, "execute", [("nt", 0, [1])], tmp_path)
        verify_until_done(bs, [("nt", 0, [1])], tmp_path, 60)
        took2 = time.monotonic() - t0
        print("unthrottled move of %d bytes took %.1f s: %.0f B/s" % (size, took2, size / took2))
        assert [v[:7] for _, v in read_all(bs, "th", 0)] == [b"t%06d" % i for i in range(4096)]
        # the rates are ordinary dynamic broker configs for `brook configs`
        boot = ",".join(b.bootstrap for b in bs)
        tool("configs", "--bootstrap-server", boot, "--entity-type", "brokers", "--entity-name", "2",
             "--alter", "--add-config", "leader.replication.throttled.rate=1000000,"
             "follower.replication.throttled.rate=2000000")
        wait_for(lambda: json.loads(c.zkc().get("/config/brokers/2")[0])["config"] ==
                 {"leader.replication.throttled.rate": "1000000",
                  "follower.replication.throttled.rate": "2000000"}, 10, "/config/brokers/2")
        out = tool("configs", "--bootstrap-server", boot, "--entity-type", "brokers", "--entity-name", "2",
                   "--describe").stdout
        assert "leader.replication.throttled.rate=1000000" in out and \
            "follower.replication.throttled.rate=2000000" in out, out
        tool("configs", "--bootstrap-server", boot, "--entity-type", "brokers", "--entity-name", "2",
             "--alter", "--delete-config", "leader.replication.throttled.rate")
        wait_for(lambda: json.loads(c.zkc().get("/config/brokers/2")[0])["config"] ==
                 {"follower.replication.throttled.rate": "2000000"}, 10, "the delete in /config/brokers/2")
        r = tool("configs", "--bootstrap-server", boot, "--entity-type", "brokers", "--entity-name", "2",
                 "--alter", "--add-config", "log.retention.ms=5", check=False)
        assert r.returncode != 0, r.stdout


def controller_of(bs):
    for b in bs:
        if b.alive():
            cid = md(b, [])["controller_id"]
            if cid >= 0:
                return cid
    return None


def test_new_controller_resumes_a_move_and_the_legacy_znode_works(tmp_path):
    with Cluster(tmp_path) as c:
        bs = start3(c)
        byid = {b.node_id: b for b in bs}
        ctrl = wait_for(lambda: [controller_of(bs)] if controller_of(bs) is not None else None, 20,
                        "a controller")[0]
        a, b2 = [i for i in (0, 1, 2) if i != ctrl]
        create_assigned(bs, "rc", [[a]])
        wait_for(lambda: state_is(bs, "rc", {0: [a]}), 20, "rc on [%d]" % a)
        produce_n(bs, "rc", 0, 200, b"r")
        byid[b2].stop()
        wait_for(lambda: sorted(x["node_id"] for x in md(byid[a], [])["brokers"]) == sorted([a, ctrl]), 20,
                 "broker %d gone" % b2)
        plan = [("rc", 0, [b2])]
        reassign(bs, "execute", plan, tmp_path)
        assert "still in progress" in reassign(bs, "verify", plan, tmp_path).stdout
        # the controller dies: the next one finds the move in the assignment znode
        byid[ctrl].kill9()
        wait_for(lambda: controller_of([byid[a]]) == a, 30, "broker %d controller" % a)
        out = wait_for(lambda: (lambda o: o if "rc-0: replicas: %d,%d. adding: %d. removing: %d." % (
            b2, a, b2, a) in o else None)(reassign(bs, "list").stdout), 20, "the move listed by the new controller")
        byid[b2].start()
        out = verify_until_done(bs, plan, tmp_path, 60)
        assert "Reassignment of partition rc-0 is completed." in out, out
        wait_for(lambda: state_is(bs, "rc", {0: [b2]}), 30, "rc on [%d]" % b2)
        assert [v for _, v in read_all(bs, "rc", 0)] == [b"r%06d" % i for i in range(200)]
        # Kafka's legacy path: the controller starts the moves of
        # /admin/reassign_partitions and deletes the znode when they are done
        kz = c.zkc()
        kz.create("/admin/reassign_partitions", json.dumps(
            {"version": 1, "partitions": [{"topic": "rc", "partition": 0, "replicas": [a]}]}).encode())
        wait_for(lambda: kz.exists("/admin/reassign_partitions") is None, 30, "the znode deleted")
        wait_for(lambda: state_is(bs, "rc", {0: [a]}), 30, "rc back on [%d]" % a)
        assert [v for _, v in read_all(bs, "rc", 0)] == [b"r%06d" % i for i in range(200)]
        byid[ctrl].start()


def alter_body(topic, partition, replicas):
    import kwire
    w = kwire.Writer().i32(10000).array_len(1, True).string(topic, True).array_len(1, True).i32(partition)
    if replicas is None:
        w.uvarint(0)  # null
    else:
        w.array_len(len(replicas), True)
        for r in replicas:
            w.i32(r)
    return w.tags().tags().tags().bytes()


def parse_alter(body, version):
    import kwire
    r = kwire.Reader(body)
    out = {"throttle": r.i32(), "error_code": r.i16(), "error_message": r.string(True, nullable=True),
           "partitions": []}
    for _ in range(r.array_len(True)):
        name = r.string(True)
        for _ in range(r.array_len(True)):
            out["partitions"].append((name, r.i32(), r.i16(), r.string(True, nullable=True)))
            r.tags()
        r.tags()
    r.tags()
    return out


def test_alter_reassignments_errors_over_the_wire(tmp_path):
    import kwirex
    with Cluster(tmp_path) as c:
        bs = start3(c)
        ctrl = wait_for(lambda: [controller_of(bs)] if controller_of(bs) is not None else None, 20,
                        "a controller")[0]
        byid = {b.node_id: b for b in bs}
        create_assigned(bs, "we", [[0, 1]])
        wait_for(lambda: state_is(bs, "we", {0: [0, 1]}), 20, "we on [0,1]")
        other = [b for b in bs if b.node_id != ctrl][0]
        out = kwirex.call((other.host, other.port), 45, 0, alter_body("we", 0, [1, 2]), parse_alter)
        assert out["error_code"] == 41 and out["partitions"] == [], out  # NOT_CONTROLLER
        cb = byid[ctrl]
        cases = [("nope", 0, [1], 3),       # UNKNOWN_TOPIC_OR_PARTITION
                 ("we", 5, [1], 3),
                 ("we", -1, [1], 3),
                 ("we", 0, [1, 1], 39),     # INVALID_REPLICA_ASSIGNMENT
                 ("we", 0, [-4], 39),
                 ("we", 0, [], 39),
                 ("we", 0, list(range(100)), 39),
                 ("we", 0, None, 85)]       # cancel without a move: NO_REASSIGNMENT_IN_PROGRESS
        for t, p, reps, want in cases:
            out = kwirex.call((cb.host, cb.port), 45, 0, alter_body(t, p, reps), parse_alter)
            assert out["error_code"] == 0 and [x[2] for x in out["partitions"]] == [want], (t, p, reps, out)
        # garbage bodies close the connection, the broker lives on
        for junk in (b"", b"\xff" * 7, alter_body("we", 0, [1])[:9]):
            try:
                kwirex.call((cb.host, cb.port), 45, 0, junk, parse_alter, timeout=5)
            except Exception:
                pass
        assert cb.alive()
        assert state_is(bs, "we", {0: [0, 1]})
        out = reassign(bs, "list").stdout
        assert "No partition reassignments found." in out, out
