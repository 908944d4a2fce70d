"""Burrow (Debian `burrow` 1.2.1, sarama 1.22.1) against a single brookd.

Burrow needs a ZooKeeper of its own (it keeps its state and a notifier lock
there; CLIENTS.md section 8): the test starts a one-node ensemble with
tests/lib/zkharness.py. Burrow is configured with kafka-version 2.1.0 (so
sarama speaks Metadata v5, ListOffsets v0/v1, Fetch v4 with record batches;
CLIENTS.md section 6), a cluster module (broker end offsets through
ListOffsets v0) and a consumer module that reads __consumer_offsets from
the oldest offset and parses Kafka's key/value schemas.

The test produces 10 messages to each of 2 partitions, then a
confluent-kafka consumer group commits offsets 3 and 6 (stopping short of
the end), and Burrow's HTTP API (/v3/kafka/<cluster>/consumer/<group>/lag)
must report that group with both partitions and lags 7 and 4; a second,
subscribed group (whose group metadata records Burrow skips) must be
reported too; `brook consumer-groups --describe` must show the same LAG
and a LAG-SECONDS within the test's lifetime. Every process
(Burrow, ZooKeeper, brookd) is killed at the end; every wait is bounded.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import zkharness  # noqa: E402
from brookharness import _pdeathsig, free_port, port_open  # noqa: E402

BURROW = shutil.which("Burrow") or "/usr/bin/Burrow"
BROOK = os.path.join(HERE, "..", "..", "build", "bin", "brook")
CLUSTER = "brook"

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(not os.path.exists(BURROW), reason="Debian package burrow not installed"),
    pytest.mark.skipif(not zkharness.available(), reason="Debian package zookeeper not installed"),
]


def burrow_config(d, zk_connect, bootstrap, http_port):
    return """
[general]
pidfile="{d}/burrow.pid"

[logging]
filename="{d}/burrow.log"
level="debug"

[zookeeper]
servers=[ "{zk}" ]
timeout=6
root-path="/burrow"

[client-profile.brook]
client-id="burrow-test"
kafka-version="2.1.0"

[cluster.{cluster}]
class-name="kafka"
servers=[ "{boot}" ]
client-profile="brook"
topic-refresh=2
offset-refresh=1

[consumer.{cluster}]
class-name="kafka"
cluster="{cluster}"
servers=[ "{boot}" ]
client-profile="brook"
offsets-topic="__consumer_offsets"
start-latest=false

[httpserver.default]
address="127.0.0.1:{port}"

[storage.default]
class-name="inmemory"
workers=2
intervals=3
expire-group=604800
min-distance=1
""".format(d=d, zk=zk_connect, boot=bootstrap, cluster=CLUSTER, port=http_port)


class Burrow:
    def __init__(self, workdir, zk_connect, bootstrap):
        self.dir = os.path.join(str(workdir), "burrow")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        with open(os.path.join(self.dir, "burrow.toml"), "w") as f:
            f.write(burrow_config(self.dir, zk_connect, bootstrap, self.port))
        self.out = open(os.path.join(self.dir, "burrow.out"), "wb")
        self.proc = subprocess.Popen([BURROW, "--config-dir", self.dir], cwd=self.dir,
                                     stdout=self.out, stderr=subprocess.STDOUT,
                                     preexec_fn=_pdeathsig)

    def get(self, path):
        """The decoded JSON answer, or None (not up yet, 404, ...)."""
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.port, path), timeout=3) as r:
                return json.loads(r.read().decode())
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def alive(self):
        return self.proc.poll() is None

    def log_tail(self, n=60):
        text = []
        for name in ("burrow.out", "burrow.log"):
            p = os.path.join(self.dir, name)
            if os.path.exists(p):
                with open(p, errors="replace") as f:
                    lines = f.read().splitlines()
                text.append("[%s]" % name)
                text.extend(lines[-n:])
        return "\n".join(text)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.out.close()


def wait_for(what, fn, timeout, burrow=None, step=0.5):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        if burrow is not None and not burrow.alive():
            pytest.fail("Burrow exited while waiting for %s\n%s" % (what, burrow.log_tail()))
        time.sleep(step)
    pytest.fail("timed out after %ss waiting for %s (last: %r)\n%s"
                % (timeout, what, last, burrow.log_tail() if burrow else ""))


def test_burrow_reports_group_lag(brook, tmp_path):
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    topic = "burrow-" + uuid.uuid4().hex[:8]
    group = "burrow-grp-" + uuid.uuid4().hex[:8]

    a = AdminClient({"bootstrap.servers": brook.bootstrap})
    a.create_topics([NewTopic(topic, 2, 1)])[topic].result(15)
    p = Producer({"bootstrap.servers": brook.bootstrap})
    t_produced = time.time()
    for i in range(20):
        p.produce(topic, b"m%d" % i, partition=i % 2)
    assert p.flush(15) == 0

    zk = zkharness.Ensemble(str(tmp_path / "zk"), nodes=1)
    burrow = None
    c = None
    t0 = time.time()
    try:
        zk.start()
        burrow = Burrow(tmp_path, zk.connect, brook.bootstrap)
        wait_for("Burrow's HTTP server", lambda: port_open(burrow.port), 20, burrow)

        # The cluster module sees the topic and its end offsets (Metadata,
        # ListOffsets v0): GET /v3/kafka/<cluster>/topic/<topic> -> offsets.
        def topic_offsets():
            r = burrow.get("/v3/kafka/%s/topic/%s" % (CLUSTER, topic))
            return r and not r.get("error") and r.get("offsets") == [10, 10] and r
        wait_for("Burrow to know %s's end offsets" % topic, topic_offsets, 40, burrow)
        print("burrow: topic offsets known after %.1fs" % (time.time() - t0))

        # A consumer group that commits offsets 3 and 6 (short of the end),
        # then leaves; the commits are repeated while we wait so Burrow gets
        # more than one (its storage keeps a window of commits).
        c = Consumer({"bootstrap.servers": brook.bootstrap, "group.id": group,
                      "enable.auto.commit": False, "auto.offset.reset": "earliest"})
        c.assign([TopicPartition(topic, 0), TopicPartition(topic, 1)])

        def commit():
            c.commit(offsets=[TopicPartition(topic, 0, 3), TopicPartition(topic, 1, 6)],
                     asynchronous=False)

        commit()
        t_commit = time.time()

        def lag():
            commit()
            r = burrow.get("/v3/kafka/%s/consumer/%s/lag" % (CLUSTER, group))
            if not r or r.get("error"):
                return None
            st = r.get("status") or {}
            parts = {(x["topic"], x["partition"]): x for x in st.get("partitions") or []}
            if set(parts) != {(topic, 0), (topic, 1)}:
                return None
            if parts[(topic, 0)].get("current_lag") != 7 or parts[(topic, 1)].get("current_lag") != 4:
                return None
            return st
        st = wait_for("Burrow to report %s's lag" % group, lag, 60, burrow, step=1.0)
        print("burrow: lag reported %.1fs after the first commit: %s"
              % (time.time() - t_commit, json.dumps(st)[:600]))
        assert st["group"] == group and st["cluster"] == CLUSTER
        assert st["totallag"] == 11
        ends = {x["partition"]: x["end"]["offset"] for x in st["partitions"]}
        assert ends == {0: 3, 1: 6}

        # A subscribed group (members, so the coordinator also writes group
        # metadata records, version 3, which Burrow 1.2.1 skips): consumes
        # 5 messages of partition 0 (range assignor, one member: both
        # partitions), commits what it consumed and stays in the group.
        group2 = group + "-sub"
        c2 = Consumer({"bootstrap.servers": brook.bootstrap, "group.id": group2,
                       "enable.auto.commit": False, "auto.offset.reset": "earliest"})
        try:
            c2.subscribe([topic])
            got = []
            deadline = time.time() + 30
            while len(got) < 5 and time.time() < deadline:
                m = c2.poll(0.5)
                if m is not None and not m.error() and m.partition() == 0:
                    got.append(m)
            assert len(got) == 5
            c2.commit(offsets=[TopicPartition(topic, 0, got[-1].offset() + 1)], asynchronous=False)

            def lag2():
                c2.poll(0.1)  # heartbeats
                c2.commit(offsets=[TopicPartition(topic, 0, 5)], asynchronous=False)
                r = burrow.get("/v3/kafka/%s/consumer/%s/lag" % (CLUSTER, group2))
                st = r and not r.get("error") and r.get("status") or {}
                parts = {(x["topic"], x["partition"]): x for x in st.get("partitions") or []}
                return parts.get((topic, 0), {}).get("current_lag") == 5 and st
            st2 = wait_for("Burrow to report %s's lag" % group2, lag2, 60, burrow, step=1.0)
            print("burrow: subscribed group: %s" % json.dumps(st2)[:400])
        finally:
            c2.close()

        # brook consumer-groups agrees (Kafka's LAG column, and LAG-SECONDS).
        t1 = time.time()
        out = subprocess.run([BROOK, "consumer-groups", "--bootstrap-server", brook.bootstrap,
                              "--describe", "--group", group], capture_output=True, timeout=60)
        print("brook consumer-groups --describe took %.2fs" % (time.time() - t1))
        assert out.returncode == 0, out.stderr
        rows = [ln.split() for ln in out.stdout.decode().splitlines() if ln.strip()]
        assert rows[0][5] == "LAG" and rows[0][9] == "LAG-SECONDS"
        assert {int(r[2]): int(r[5]) for r in rows[1:]} == {0: 7, 1: 4}
        assert all(0 < float(r[9]) < time.time() - t_produced + 1 for r in rows[1:]), rows

        # Burrow lists the group among the cluster's consumers.
        r = burrow.get("/v3/kafka/%s/consumer" % CLUSTER)
        assert r and group in r.get("consumers", [])
        assert burrow.alive()
    finally:
        if c is not None:
            c.close()
        if burrow is not None:
            burrow.stop()
        zk.stop()
