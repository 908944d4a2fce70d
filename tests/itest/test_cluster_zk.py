"""Cluster mode on a real ZooKeeper ensemble (issue 8, the ZooKeeper part):
registration, live brokers in Metadata, controller election and failover,
session expiry, topic creation through ZooKeeper, identity checks and
cluster-wide producer ids. Znodes are read with kazoo and compared with the
shapes Kafka 3.9 writes (kafka.zk.ZkData).

Every test is bounded (pytest-timeout) and kills what it starts: the
ensemble (JVMs) in a context manager, the brokers in `finally`."""

import json
import os
import signal
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import brookharness  # noqa: E402
import kwire  # noqa: E402
import kwirex  # noqa: E402
import zkharness  # noqa: E402

kazoo = pytest.importorskip("kazoo.client")

pytestmark = [
    pytest.mark.skipif(not zkharness.available(), reason="Debian's zookeeper package is not installed"),
    pytest.mark.timeout(180),
]

SESSION_MS = 4000
CHROOT = "/brook"


class Cluster:
    """An ensemble plus brokers (started on demand), all stopped at exit."""

    def __init__(self, tmp, zk_nodes=1):
        self.tmp = str(tmp)
        self.zk = zkharness.Ensemble(os.path.join(self.tmp, "zk"), nodes=zk_nodes)
        self.brokers = {}
        self.kz = None
        self.expected_exit = set()  # workdirs of brokers meant to refuse to start

    def __enter__(self):
        try:
            self.zk.start()
            self.kz = kazoo.KazooClient(hosts=self.zk.connect + CHROOT, timeout=10)
        except BaseException:
            self.zk.stop()
            raise
        return self

    def props(self, extra=None):
        p = {"zookeeper.connect": self.zk.connect + CHROOT,
             "zookeeper.session.timeout.ms": SESSION_MS,
             "zookeeper.connection.timeout.ms": 10000}
        p.update(extra or {})
        return p

    def broker(self, node_id, extra=None, start=True, workdir=None):
        wd = workdir or os.path.join(self.tmp, "b%d-%d" % (node_id, len(self.brokers)))
        os.makedirs(wd, exist_ok=True)
        b = brookharness.Broker(wd, props=self.props(extra), node_id=node_id)
        self.brokers[wd] = b
        if start:
            b.start()
        return b

    def zkc(self):
        if not self.kz.connected:
            self.kz.start(timeout=15)
        return self.kz

    def __exit__(self, exc_type, exc, tb):
        problems = []
        try:
            if self.kz is not None and self.kz.connected:
                self.kz.stop()
                self.kz.close()
        finally:
            # brokers first (a clean stop, so sanitizers and crashes show),
            # then the ensemble; nothing is left running whatever happens
            for wd, b in self.brokers.items():
                try:
                    if b.proc is not None and b.proc.poll() is None:
                        b.proc.send_signal(signal.SIGCONT)
                    for p in b.finish():
                        if wd in self.expected_exit and "exited on its own: exit status 1" in p:
                            continue
                        problems.append("%s: %s\n%s" % (wd, p, b.log_tail(40)))
                except Exception as e:
                    problems.append("%s: teardown error %r" % (wd, e))
                finally:
                    b._kill_hard()
            self.zk.stop()
        if problems and exc_type is None:
            raise AssertionError("broker problems:\n" + "\n".join(problems))
        return False


def metadata(b):
    return kwirex.call((b.host, b.port), 3, 1, kwire.metadata_body(1, []), kwire.parse_metadata)


def wait_for(cond, timeout, what, step=0.1):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = cond()
            if last:
                return last
        except Exception as e:  # a broker restarting, a znode not there yet
            last = e
        time.sleep(step)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


def zk_json(kz, path):
    data, stat = kz.get(path)
    return json.loads(data.decode()), stat


def three(c, racks=False):
    return [c.broker(i, {"broker.rack": "rack%d" % i} if racks else None) for i in range(3)]


def all_see_three(bs):
    ms = [metadata(b) for b in bs]
    ids = [sorted(x["node_id"] for x in m["brokers"]) for m in ms]
    ctl = {m["controller_id"] for m in ms}
    return ms if all(i == [0, 1, 2] for i in ids) and len(ctl) == 1 and -1 not in ctl else None


# ------------------------------------------------------------------ tests


def test_three_brokers_register_and_agree_on_the_controller(tmp_path):
    with Cluster(tmp_path) as c:
        bs = three(c)
        ms = wait_for(lambda: all_see_three(bs), 10, "3 brokers and one controller everywhere")
        ctl = ms[0]["controller_id"]
        ports = {b.node_id: b.port for b in bs}
        for m in ms:
            assert m["cluster_id"] is None or m["cluster_id"]  # v1 has no cluster id
            for x in m["brokers"]:
                assert x["host"] == "127.0.0.1" and x["port"] == ports[x["node_id"]]
        kz = c.zkc()
        # the znodes, as Kafka writes them
        cid, _ = zk_json(kz, "/cluster/id")
        assert cid["version"] == "1" and len(cid["id"]) == 22
        for b in bs:
            reg, st = zk_json(kz, "/brokers/ids/%d" % b.node_id)
            assert st.ephemeralOwner != 0
            assert reg["version"] == 5 and reg["jmx_port"] == -1 and reg["features"] == {}
            assert reg["host"] == "127.0.0.1" and reg["port"] == b.port
            assert reg["endpoints"] == ["PLAINTEXT://127.0.0.1:%d" % b.port]
            assert reg["listener_security_protocol_map"] == {"PLAINTEXT": "PLAINTEXT"}
            assert reg["timestamp"].isdigit()
            assert "rack" not in reg
        ctlj, st = zk_json(kz, "/controller")
        assert st.ephemeralOwner != 0
        assert ctlj == {"version": 2, "brokerid": ctl, "timestamp": ctlj["timestamp"],
                        "kraftControllerEpoch": -1}
        assert int(kz.get("/controller_epoch")[0]) >= 1
        assert zk_json(kz, "/feature")[0] == {"features": {}, "version": 2, "status": 1}
        for p in ("/consumers", "/admin/delete_topics", "/brokers/topics", "/brokers/seqid",
                  "/config/changes", "/config/topics", "/config/brokers", "/config/users",
                  "/config/clients", "/isr_change_notification", "/latest_producer_id_block",
                  "/log_dir_event_notification", "/kafka-acl/Topic"):
            assert kz.exists(p), p
        # every broker wrote the cluster id it got from ZooKeeper into meta.properties
        for b in bs:
            with open(os.path.join(b.datadir, "meta.properties")) as f:
                assert "cluster.id=%s\n" % cid["id"] in f.read()
        # a clean stop removes the registration at once
        victim = [b for b in bs if b.node_id != ctl][0]
        victim.stop()
        rest = [b for b in bs if b is not victim]
        wait_for(lambda: all(sorted(x["node_id"] for x in metadata(b)["brokers"]) ==
                             sorted(r.node_id for r in rest) for b in rest), 3,
                 "the stopped broker gone from Metadata")


def test_controller_failover_after_kill9(tmp_path):
    with Cluster(tmp_path) as c:
        bs = three(c)
        ms = wait_for(lambda: all_see_three(bs), 10, "3 brokers")
        old = ms[0]["controller_id"]
        kz = c.zkc()
        epoch0 = int(kz.get("/controller_epoch")[0])
        dead = [b for b in bs if b.node_id == old][0]
        t0 = time.monotonic()
        dead.kill9()
        rest = [b for b in bs if b is not dead]

        def new_controller():
            ids = {metadata(b)["controller_id"] for b in rest}
            return ids if len(ids) == 1 and old not in ids and -1 not in ids else None

        ids = wait_for(new_controller, SESSION_MS / 1000 + 6, "a new controller")
        took = time.monotonic() - t0
        new = ids.pop()
        assert new in [b.node_id for b in rest]
        ctlj, _ = zk_json(kz, "/controller")
        assert ctlj["brokerid"] == new
        assert int(kz.get("/controller_epoch")[0]) == epoch0 + 1
        assert took < SESSION_MS / 1000 + 6
        print("controller failover took %.1f s (session timeout %d ms)" % (took, SESSION_MS))
        # the dead broker is gone from Metadata too
        wait_for(lambda: all(sorted(x["node_id"] for x in metadata(b)["brokers"]) ==
                             sorted(r.node_id for r in rest) for b in rest), 5, "2 live brokers")


def test_session_expiry_reregisters(tmp_path):
    with Cluster(tmp_path) as c:
        bs = three(c)
        ms = wait_for(lambda: all_see_three(bs), 10, "3 brokers")
        ctl = ms[0]["controller_id"]
        # freeze the controller: it loses its session, registration and controllership
        frozen = [b for b in bs if b.node_id == ctl][0]
        kz = c.zkc()
        _, st = kz.get("/brokers/ids/%d" % ctl)
        owner = st.ephemeralOwner
        frozen.signal(signal.SIGSTOP)
        try:
            wait_for(lambda: kz.exists("/brokers/ids/%d" % ctl) is None, SESSION_MS / 1000 + 6,
                     "the frozen broker's registration to expire")
            wait_for(lambda: zk_json(kz, "/controller")[0]["brokerid"] != ctl, 10,
                     "another controller")
        finally:
            frozen.signal(signal.SIGCONT)
        # back: a new session, registered again, a follower of the new controller
        st = wait_for(lambda: kz.exists("/brokers/ids/%d" % ctl), 15, "re-registration")
        assert st.ephemeralOwner != owner
        reg, _ = zk_json(kz, "/brokers/ids/%d" % ctl)
        assert reg["port"] == frozen.port
        ms = wait_for(lambda: all_see_three(bs), 10, "3 brokers again")
        assert ms[0]["controller_id"] != ctl
        frozen.assert_alive("after SIGSTOP/SIGCONT")


def test_create_topics_writes_assignment_and_partition_state(tmp_path):
    from confluent_kafka.admin import AdminClient, NewTopic

    with Cluster(tmp_path) as c:
        bs = three(c, racks=True)  # rack-aware assignment (every broker has a rack)
        ms = wait_for(lambda: all_see_three(bs), 10, "3 brokers")
        ctl = ms[0]["controller_id"]
        for m in ms:
            assert {x["node_id"]: x["rack"] for x in m["brokers"]} == {0: "rack0", 1: "rack1", 2: "rack2"}
        kz = c.zkc()
        assert zk_json(kz, "/brokers/ids/1")[0]["rack"] == "rack1"
        epoch = int(kz.get("/controller_epoch")[0])
        # ask a broker that is not the controller
        asked = [b for b in bs if b.node_id != ctl][0]
        a = AdminClient({"bootstrap.servers": asked.bootstrap})
        fs = a.create_topics([NewTopic("orders", 6, 3, config={"retention.ms": "60000"}),
                              NewTopic("single", 2, 1)], operation_timeout=10)
        for t, f in fs.items():
            f.result(timeout=20)
        # the same name again: TOPIC_ALREADY_EXISTS
        fs = a.create_topics([NewTopic("orders", 1, 1)], operation_timeout=10)
        with pytest.raises(Exception) as ei:
            fs["orders"].result(timeout=20)
        assert "TOPIC_ALREADY_EXISTS" in str(ei.value) or "already exists" in str(ei.value)
        # more replicas than brokers
        fs = a.create_topics([NewTopic("toobig", 1, 4)], operation_timeout=10)
        with pytest.raises(Exception) as ei:
            fs["toobig"].result(timeout=20)
        assert "REPLICATION_FACTOR" in str(ei.value).upper()

        t, _ = zk_json(kz, "/brokers/topics/orders")
        assert set(t) == {"partitions", "topic_id", "adding_replicas", "removing_replicas", "version"}
        assert t["version"] == 3 and t["adding_replicas"] == {} and t["removing_replicas"] == {}
        assert len(t["topic_id"]) == 22
        assert sorted(t["partitions"]) == [str(p) for p in range(6)]
        leaders = {}
        for p, reps in t["partitions"].items():
            assert sorted(reps) == [0, 1, 2]  # rf 3 over 3 brokers: each once
            leaders[reps[0]] = leaders.get(reps[0], 0) + 1
        assert sorted(leaders.values()) == [2, 2, 2]  # preferred leaders spread evenly
        cfg, _ = zk_json(kz, "/config/topics/orders")
        assert cfg == {"version": 1, "config": {"retention.ms": "60000"}}
        s, _ = zk_json(kz, "/brokers/topics/single")
        assert all(len(r) == 1 and r[0] in (0, 1, 2) for r in s["partitions"].values())

        # the controller writes the partition state znodes
        def states():
            out = {}
            for p in range(6):
                st, _ = zk_json(kz, "/brokers/topics/orders/partitions/%d/state" % p)
                out[p] = st
            return out

        st = wait_for(states, 10, "partition state znodes")
        for p, x in st.items():
            reps = t["partitions"][str(p)]
            assert x == {"controller_epoch": epoch, "leader": reps[0], "version": 1,
                         "leader_epoch": 0, "isr": reps}
        # every broker knows the topic, with the id ZooKeeper has
        import base64
        want_id = base64.urlsafe_b64decode(t["topic_id"] + "==")

        def known_everywhere():
            for b in bs:
                m = kwirex.call((b.host, b.port), 3, 10, kwire.metadata_body(10, ["orders"]),
                                kwire.parse_metadata)
                tt = m["topics"][0]
                if tt["error_code"] != 0 or tt["topic_id"] != want_id or len(tt["partitions"]) != 6:
                    return False
            return True

        wait_for(known_everywhere, 10, "the topic on every broker")


def test_taken_broker_id_and_wrong_cluster_id_refuse_to_start(tmp_path):
    with Cluster(tmp_path) as c:
        b0 = c.broker(0)
        wait_for(lambda: metadata(b0)["controller_id"] == 0, 10, "broker 0 up")
        dup = c.broker(0, start=False)
        with pytest.raises(brookharness.BrokerError) as ei:
            dup.start()
        assert "broker.id 0 is already registered" in str(ei.value)
        assert dup.proc.returncode == 1
        c.expected_exit.add(dup.workdir)

        # a data dir from another cluster
        other = c.broker(1, start=False)
        os.makedirs(other.datadir, exist_ok=True)
        with open(os.path.join(other.datadir, "meta.properties"), "w") as f:
            f.write("version=0\nbroker.id=1\ncluster.id=AAAAAAAAAAAAAAAAAAAAAA\n")
        with pytest.raises(brookharness.BrokerError) as ei:
            other.start()
        c.expected_exit.add(other.workdir)
        assert "doesn't match stored cluster id" in str(ei.value)
        assert "AAAAAAAAAAAAAAAAAAAAAA" in str(ei.value)
        # broker 0 unaffected
        assert sorted(x["node_id"] for x in metadata(b0)["brokers"]) == [0]


def init_producer_id(b):
    w = kwire.Writer()
    w.string(None)
    w.i32(60000)

    def parse(body, version):
        r = kwire.Reader(body)
        out = {"throttle_time_ms": r.i32(), "error_code": r.i16(), "producer_id": r.i64(),
               "producer_epoch": r.i16()}
        r.done("InitProducerIdResponse v0")
        return out

    return kwirex.call((b.host, b.port), 22, 0, w.bytes(), parse)


def test_producer_id_blocks_are_disjoint_across_brokers(tmp_path):
    with Cluster(tmp_path) as c:
        bs = three(c)
        wait_for(lambda: all_see_three(bs), 10, "3 brokers")
        ids = {}
        for b in bs:
            got = []
            for _ in range(5):
                r = wait_for(lambda: (lambda x: x if x["error_code"] == 0 else None)(init_producer_id(b)),
                             10, "a producer id from broker %d" % b.node_id)
                got.append(r["producer_id"])
            assert got == sorted(got) and len(set(got)) == 5
            ids[b.node_id] = got
        # ids of different brokers come from different blocks of 1000
        blocks = {n: {i // 1000 for i in v} for n, v in ids.items()}
        for x in blocks:
            for y in blocks:
                if x < y:
                    assert not (blocks[x] & blocks[y]), (ids, blocks)
        last, st = zk_json(c.zkc(), "/latest_producer_id_block")
        assert last["version"] == 1 and last["broker"] in (0, 1, 2)
        assert int(last["block_end"]) - int(last["block_start"]) == 999
        assert st.version >= 3


def test_delete_topics_completes_through_the_controller(tmp_path):
    from confluent_kafka.admin import AdminClient, NewTopic

    with Cluster(tmp_path) as c:
        bs = three(c)
        ms = wait_for(lambda: all_see_three(bs), 10, "3 brokers")
        ctl = ms[0]["controller_id"]
        asked = [b for b in bs if b.node_id != ctl][0]
        a = AdminClient({"bootstrap.servers": asked.bootstrap})
        for f in a.create_topics([NewTopic("gone", 3, 2, config={"retention.ms": "1000"}),
                                  NewTopic("kept", 1, 1)], operation_timeout=10).values():
            f.result(timeout=20)
        kz = c.zkc()
        wait_for(lambda: kz.exists("/brokers/topics/gone/partitions/2/state"), 10, "state znodes")

        def names(b):
            m = kwirex.call((b.host, b.port), 3, 1, kwire.metadata_body(1, None), kwire.parse_metadata)
            return sorted(t["name"] for t in m["topics"])

        wait_for(lambda: all(names(b) == ["gone", "kept"] for b in bs), 10, "both topics everywhere")
        for f in a.delete_topics(["gone"], operation_timeout=10).values():
            f.result(timeout=20)
        # DeleteTopics answers once the controller has completed the deletion
        assert kz.exists("/brokers/topics/gone") is None
        assert "gone" not in names(asked)
        assert kz.exists("/config/topics/gone") is None
        wait_for(lambda: kz.get_children("/admin/delete_topics") == [], 10, "the delete marker gone")
        wait_for(lambda: all(names(b) == ["kept"] for b in bs), 10, "the topic gone everywhere")
        # its logs are removed on every broker
        wait_for(lambda: not any(d.startswith("gone-") for b in bs for d in os.listdir(b.datadir)),
                 10, "the partition directories removed")
        assert kz.exists("/brokers/topics/kept")


def test_restart_after_kill9_waits_for_the_old_registration(tmp_path):
    with Cluster(tmp_path) as c:
        bs = three(c)
        wait_for(lambda: all_see_three(bs), 10, "3 brokers")
        b = bs[1]
        kz = c.zkc()
        owner = kz.exists("/brokers/ids/1").ephemeralOwner
        b.kill9()
        t0 = time.monotonic()
        b.start()  # the old ephemeral is still there: it waits for its expiry
        took = time.monotonic() - t0
        st = kz.exists("/brokers/ids/1")
        assert st is not None and st.ephemeralOwner != owner
        assert took < SESSION_MS / 1000 + 3
        wait_for(lambda: all_see_three(bs), 10, "3 brokers again")
        assert "waiting up to" in b.log_text()


def test_zookeeper_unreachable_fails_start_up_in_bounded_time(tmp_path):
    port = brookharness.free_port()
    b = brookharness.Broker(str(tmp_path), node_id=0, props={
        "zookeeper.connect": "127.0.0.1:%d" % port,
        "zookeeper.session.timeout.ms": 4000,
        "zookeeper.connection.timeout.ms": 1500})
    t0 = time.monotonic()
    try:
        with pytest.raises(brookharness.BrokerError) as ei:
            b.start()
    finally:
        b._kill_hard()
    assert time.monotonic() - t0 < 8
    assert "timed out connecting to ZooKeeper 127.0.0.1:%d after 1500 ms" % port in str(ei.value)


def test_config_partitions_and_auto_created_topics_reach_every_broker(tmp_path):
    from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic

    with Cluster(tmp_path) as c:
        bs = three(c)
        wait_for(lambda: all_see_three(bs), 10, "3 brokers")
        kz = c.zkc()
        a0 = AdminClient({"bootstrap.servers": bs[0].bootstrap})
        for f in a0.create_topics([NewTopic("cfg", 2, 2)], operation_timeout=10).values():
            f.result(timeout=20)
        wait_for(lambda: all(metadata_topic(b, "cfg") for b in bs), 10, "cfg everywhere")

        # AlterConfigs on broker 1: /config/topics/cfg, a change notification, every broker
        a1 = AdminClient({"bootstrap.servers": bs[1].bootstrap, "broker.address.family": "v4"})
        res = ConfigResource(ConfigResource.Type.TOPIC, "cfg", set_config={"retention.ms": "12345"})
        for f in a1.alter_configs([res]).values():
            f.result(timeout=20)
        # (AlterConfigs answers once the change is local; ZooKeeper follows at once)
        wait_for(lambda: zk_json(kz, "/config/topics/cfg")[0] ==
                 {"version": 1, "config": {"retention.ms": "12345"}}, 5, "/config/topics/cfg")
        changes = wait_for(lambda: kz.get_children("/config/changes"), 5, "a change notification")
        assert any(json.loads(kz.get("/config/changes/" + n)[0]) ==
                   {"version": 2, "entity_path": "topics/cfg"} for n in changes)
        assert all(n.startswith("config_change_") and len(n) == 24 for n in changes)

        def retention(b):
            a = AdminClient({"bootstrap.servers": b.bootstrap})
            # describe through this very broker: its own view of the topic
            r = ConfigResource(ConfigResource.Type.TOPIC, "cfg")
            cfg = list(a.describe_configs([r]).values())[0].result(timeout=10)
            return cfg["retention.ms"].value

        wait_for(lambda: all(retention(b) == "12345" for b in bs), 10, "the override everywhere")

        # CreatePartitions: the assignment grows, the controller adds states
        for f in a0.create_partitions([NewPartitions("cfg", 4)]).values():
            f.result(timeout=20)
        t = wait_for(lambda: (lambda x: x if len(x["partitions"]) == 4 else None)(
            zk_json(kz, "/brokers/topics/cfg")[0]), 5, "4 partitions in /brokers/topics/cfg")
        assert all(len(set(r)) == 2 for r in t["partitions"].values())
        wait_for(lambda: kz.exists("/brokers/topics/cfg/partitions/3/state"), 10, "new partition state")
        wait_for(lambda: all(len(metadata_topic(b, "cfg")["partitions"]) == 4 for b in bs), 10,
                 "4 partitions everywhere")

        # auto-creation through Metadata on broker 2
        m = kwirex.call((bs[2].host, bs[2].port), 3, 4,
                        kwire.metadata_body(4, ["auto1"], allow_auto_create=True), kwire.parse_metadata)
        assert m["topics"][0]["name"] == "auto1"
        wait_for(lambda: kz.exists("/brokers/topics/auto1"), 10, "/brokers/topics/auto1")
        wait_for(lambda: all(metadata_topic(b, "auto1") for b in bs), 10, "auto1 everywhere")


def metadata_topic(b, name):
    m = kwirex.call((b.host, b.port), 3, 1, kwire.metadata_body(1, [name]), kwire.parse_metadata)
    t = m["topics"][0]
    return t if t["error_code"] == 0 else None


def test_delete_topics_times_out_without_a_controller(tmp_path):
    from confluent_kafka.admin import AdminClient, NewTopic

    with Cluster(tmp_path) as c:
        b = c.broker(0)
        wait_for(lambda: metadata(b)["controller_id"] == 0, 10, "broker 0 controller")
        a = AdminClient({"bootstrap.servers": b.bootstrap})
        for f in a.create_topics([NewTopic("stuck", 1, 1)], operation_timeout=10).values():
            f.result(timeout=20)
        kz = c.zkc()
        wait_for(lambda: kz.exists("/brokers/topics/stuck/partitions/0/state"), 10, "state")
        # take the controller away from the broker: a foreign /controller
        # (an ephemeral of the test's own session) that it can only follow
        from kazoo.exceptions import NodeExistsError, NoNodeError

        def steal():
            try:
                kz.delete("/controller")
            except NoNodeError:
                pass
            try:
                kz.create("/controller", b'{"version":2,"brokerid":7,"timestamp":"1",'
                          b'"kraftControllerEpoch":-1}', ephemeral=True)
            except NodeExistsError:
                return False  # the broker won the race: again
            return True

        wait_for(steal, 10, "a foreign controller", step=0.05)
        wait_for(lambda: metadata(b)["controller_id"] == 7, 10, "broker 0 following controller 7")
        t0 = time.monotonic()
        fs = a.delete_topics(["stuck"], operation_timeout=1.5, request_timeout=20)
        with pytest.raises(Exception) as ei:
            fs["stuck"].result(timeout=20)
        assert "REQUEST_TIMED_OUT" in str(ei.value) or "timed out" in str(ei.value).lower()
        assert time.monotonic() - t0 < 10
        assert kz.exists("/admin/delete_topics/stuck")
        assert kz.exists("/brokers/topics/stuck")
        # the controller comes back: the deletion completes
        kz.delete("/controller")
        wait_for(lambda: kz.exists("/brokers/topics/stuck") is None, 10, "the deletion completed")
