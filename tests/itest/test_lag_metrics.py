"""Consumer lag computed by the broker, read through a real /metrics scrape.

A topic with 2 partitions gets 10 messages each, 2 seconds apart in two
rounds (5 messages, pause, 5 messages). A confluent-kafka group commits 5
on partition 0 (exactly at the second round) and 10 on partition 1 (caught
up). The scrape must show, with Kafka's exporter names (docs/metrics-lag.md):
lag 5 and 0 in offsets; lag in seconds 0 on the caught-up partition and, on
partition 0, the age of the second round's first message (measured by the
test: between the time it was produced and the scrape); the group gauges;
every family with HELP/TYPE lines. After the group commits further the
value follows (the cache is keyed by the committed offset).

Needs the metrics endpoint (metrics.listener, src/net/http.c from the
metrics work); skipped on a tree without it.
"""

import os
import re
import time
import urllib.request
import uuid

import pytest

from brookharness import free_port

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HAS_METRICS = os.path.exists(os.path.join(REPO, "src", "net", "http.c"))
METRICS_PORT = free_port()

pytestmark = [
    pytest.mark.timeout(90),
    pytest.mark.skipif(not HAS_METRICS, reason="this tree has no /metrics endpoint (metrics.listener)"),
]


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        return r.read().decode()


def samples(text, name):
    """{frozenset(labels.items()): value} of metric `name`."""
    out = {}
    for ln in text.splitlines():
        m = re.match(r"^%s\{([^}]*)\} (\S+)$" % re.escape(name), ln)
        if m:
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(1)))
            out[frozenset(labels.items())] = float(m.group(2))
    return out


def one(text, name, **labels):
    s = samples(text, name)
    key = frozenset((k, str(v)) for k, v in labels.items())
    assert key in s, "%s%s not in the scrape:\n%s" % (name, labels, "\n".join(
        ln for ln in text.splitlines() if "consumergroup" in ln))
    return s[key]


@pytest.mark.brook_config({"metrics.listener": "http://127.0.0.1:%d" % METRICS_PORT})
def test_lag_gauges(brook):
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    topic = "lagm-" + uuid.uuid4().hex[:8]
    group = "lagm-grp-" + uuid.uuid4().hex[:8]
    admin = AdminClient({"bootstrap.servers": brook.bootstrap})
    admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(15)
    p = Producer({"bootstrap.servers": brook.bootstrap, "linger.ms": 0})
    for i in range(5):
        p.produce(topic, b"a%d" % i, partition=0)
        p.produce(topic, b"a%d" % i, partition=1)
    assert p.flush(15) == 0
    time.sleep(2.0)
    t_round2 = time.time()
    for i in range(5):
        p.produce(topic, b"b%d" % i, partition=0)
        p.produce(topic, b"b%d" % i, partition=1)
    assert p.flush(15) == 0

    c = Consumer({"bootstrap.servers": brook.bootstrap, "group.id": group,
                  "enable.auto.commit": False})
    try:
        c.commit(offsets=[TopicPartition(topic, 0, 5), TopicPartition(topic, 1, 10)],
                 asynchronous=False)
        time.sleep(0.5)
        t0 = time.time()
        text = scrape(METRICS_PORT)
        t1 = time.time()
        print("scrape took %.3fs" % (t1 - t0))

        for fam in ("kafka_consumergroup_group_lag", "kafka_consumergroup_group_lag_seconds",
                    "kafka_consumergroup_group_offset", "kafka_consumergroup_group_max_lag",
                    "kafka_consumergroup_group_max_lag_seconds", "kafka_consumergroup_group_sum_lag",
                    "kafka_consumergroup_lag", "kafka_consumergroup_current_offset",
                    "kafka_consumergroup_lag_sum"):
            assert "# HELP %s " % fam in text and "# TYPE %s gauge\n" % fam in text, fam

        assert one(text, "kafka_consumergroup_group_lag", group=group, topic=topic, partition=0) == 5
        assert one(text, "kafka_consumergroup_group_lag", group=group, topic=topic, partition=1) == 0
        assert one(text, "kafka_consumergroup_group_offset", group=group, topic=topic, partition=0) == 5
        assert one(text, "kafka_consumergroup_lag", consumergroup=group, topic=topic, partition=0) == 5
        assert one(text, "kafka_consumergroup_lag_sum", consumergroup=group, topic=topic) == 5
        assert one(text, "kafka_consumergroup_group_sum_lag", group=group) == 5
        assert one(text, "kafka_consumergroup_group_max_lag", group=group) == 5

        secs0 = one(text, "kafka_consumergroup_group_lag_seconds", group=group, topic=topic, partition=0)
        secs1 = one(text, "kafka_consumergroup_group_lag_seconds", group=group, topic=topic, partition=1)
        print("lag seconds: p0 %.3f (produced %.3fs before the scrape), p1 %.3f"
              % (secs0, t1 - t_round2, secs1))
        assert secs1 == 0
        # the second round's first message: produced after t_round2, before t0
        assert 0 < secs0 <= t1 - t_round2 + 0.05
        assert one(text, "kafka_consumergroup_group_max_lag_seconds", group=group) == secs0

        # The group moves back to the first round: the age follows (older).
        c.commit(offsets=[TopicPartition(topic, 0, 0)], asynchronous=False)
        time.sleep(0.2)
        text = scrape(METRICS_PORT)
        older = one(text, "kafka_consumergroup_group_lag_seconds", group=group, topic=topic, partition=0)
        assert one(text, "kafka_consumergroup_group_lag", group=group, topic=topic, partition=0) == 10
        assert older >= secs0 + 1.5, (older, secs0)
        # ... and to the end: caught up, 0.
        c.commit(offsets=[TopicPartition(topic, 0, 10)], asynchronous=False)
        time.sleep(0.2)
        text = scrape(METRICS_PORT)
        assert one(text, "kafka_consumergroup_group_lag_seconds", group=group, topic=topic, partition=0) == 0
        assert one(text, "kafka_consumergroup_group_lag", group=group, topic=topic, partition=0) == 0
    finally:
        c.close()


def test_lag_in_cluster_mode_reported_by_the_coordinator(tmp_path):
    """3 brokers: the group's lag is on exactly one scrape - its coordinator's
    (the leader of its __consumer_offsets partition) - for every partition
    with a replica there (RF 3 topic: all; RF 1 topic: only the coordinator's
    own); partitions without a local replica get only the offset gauge
    (docs/metrics-lag.md, "What is reported where")."""
    import sys as _sys
    _sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import zkharness
    if not zkharness.available():
        pytest.skip("Debian's zookeeper package is not installed")
    pytest.importorskip("kazoo.client")
    from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic
    from test_cluster_zk import Cluster, wait_for

    with Cluster(tmp_path) as c:
        mports = {i: free_port() for i in range(3)}
        bs = [c.broker(i, {"metrics.listener": "http://127.0.0.1:%d" % mports[i],
                           "replica.fetch.wait.max.ms": 200}) for i in range(3)]
        boot = ",".join(b.bootstrap for b in bs)
        admin = AdminClient({"bootstrap.servers": boot})
        wait_for(lambda: all(
            len(m.brokers) == 3 and m.controller_id >= 0 for m in
            (AdminClient({"bootstrap.servers": b.bootstrap}).list_topics(timeout=5) for b in bs)),
            30, "3 live brokers and a controller everywhere", step=0.3)

        def create():
            fs = admin.create_topics([NewTopic("lag3", 3, 3), NewTopic("lag1", 3, 1)],
                                     operation_timeout=10)
            for f in fs.values():
                try:
                    f.result(15)
                except KafkaException as e:
                    if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                        print("create_topics: %s" % e)
                        return False
            return True
        t_create = time.time()
        wait_for(create, 60, "creating lag3 and lag1", step=0.5)
        print("topics created in %.1fs" % (time.time() - t_create))

        def leaders_known():
            md = admin.list_topics(timeout=5)
            ok = all(t in md.topics and len(md.topics[t].partitions) == 3 and
                     all(p.leader >= 0 for p in md.topics[t].partitions.values())
                     for t in ("lag3", "lag1"))
            return ok and md
        wait_for(leaders_known, 30, "leaders of lag3 and lag1", step=0.3)
        p = Producer({"bootstrap.servers": boot, "acks": "all"})
        for t in ("lag3", "lag1"):
            for i in range(30):
                p.produce(t, b"x", partition=i % 3)  # 10 per partition
        assert p.flush(30) == 0

        group = "lagc-" + uuid.uuid4().hex[:6]
        cons = Consumer({"bootstrap.servers": boot, "group.id": group, "enable.auto.commit": False})
        try:
            offs = [TopicPartition(t, i, 4) for t in ("lag3", "lag1") for i in range(3)]
            wait_for(lambda: cons.commit(offsets=offs, asynchronous=False) or True, 30,
                     "the commit", step=0.5)
        finally:
            cons.close()
        md = admin.list_topics(timeout=5)
        replicas = {(t, i): set(md.topics[t].partitions[i].replicas)
                    for t in ("lag1", "lag3") for i in range(3)}

        def reports():
            out = {}
            for i in range(3):
                text = scrape(mports[i])
                if samples(text, "kafka_consumergroup_group_offset") and any(
                        dict(k).get("group") == group for k in samples(text, "kafka_consumergroup_group_offset")):
                    out[i] = text
            return out

        def settled():
            r = reports()
            if len(r) != 1:
                return None
            (coord, text), = r.items()
            lag = {(dict(k)["topic"], int(dict(k)["partition"])): v
                   for k, v in samples(text, "kafka_consumergroup_group_lag").items()
                   if dict(k)["group"] == group}
            want = {tp: 6 for tp, reps in replicas.items() if coord in reps}
            return (coord, text) if lag == want else None
        coord, text = wait_for(settled, 30, "the group's lag on one broker only", step=0.5)
        print("coordinator %d; RF1 partitions hosted there: %s" % (
            coord, sorted(i for i in range(3) if coord in replicas[("lag1", i)])))
        offsets = {(dict(k)["topic"], int(dict(k)["partition"])): v
                   for k, v in samples(text, "kafka_consumergroup_group_offset").items()
                   if dict(k)["group"] == group}
        assert offsets == {tp: 4 for tp in replicas}  # every committed partition
        secs = {(dict(k)["topic"], int(dict(k)["partition"])) for k in
                samples(text, "kafka_consumergroup_group_lag_seconds") if dict(k)["group"] == group}
        assert secs == {tp for tp, reps in replicas.items() if coord in reps}
        # the other brokers do not report the group at all
        for i in range(3):
            if i != coord:
                assert group not in scrape(mports[i])


@pytest.mark.brook_config({"metrics.listener": "http://127.0.0.1:%d" % METRICS_PORT})
def test_dashboard_and_alert_lag_queries_on_real_prometheus(brook, tmp_path):
    """A real Prometheus (Debian) scrapes the broker; the dashboard's lag
    panels' queries (Grafana variables filled in) return the group's series,
    and the lag alert rules load and evaluate."""
    import json
    import shutil
    import signal
    import subprocess
    import urllib.parse

    from brookharness import _pdeathsig, port_open
    from confluent_kafka import Consumer, Producer, TopicPartition

    prom = shutil.which("prometheus")
    if prom is None:
        pytest.skip("Debian's prometheus package is not installed")
    topic = "lagp-" + uuid.uuid4().hex[:8]
    group = "lagp-grp-" + uuid.uuid4().hex[:8]
    p = Producer({"bootstrap.servers": brook.bootstrap})
    for i in range(12):
        p.produce(topic, b"x%d" % i)
    assert p.flush(15) == 0
    c = Consumer({"bootstrap.servers": brook.bootstrap, "group.id": group, "enable.auto.commit": False})
    c.commit(offsets=[TopicPartition(topic, 0, 2)], asynchronous=False)
    c.close()

    port = free_port()
    rules = os.path.join(REPO, "deploy", "prometheus", "brook-alerts.yml")
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                   "rule_files: [%s]\n"
                   "scrape_configs:\n  - job_name: brook\n    static_configs:\n"
                   "      - targets: ['127.0.0.1:%d']\n" % (json.dumps(rules), METRICS_PORT))
    log = open(str(tmp_path / "prometheus.log"), "wb")
    proc = subprocess.Popen([prom, "--config.file=%s" % cfg, "--storage.tsdb.path=%s" % (tmp_path / "tsdb"),
                             "--web.listen-address=127.0.0.1:%d" % port, "--log.level=warn"],
                            stdout=log, stderr=subprocess.STDOUT, preexec_fn=_pdeathsig)
    try:
        def query(expr):
            u = "http://127.0.0.1:%d/api/v1/query?%s" % (port, urllib.parse.urlencode({"query": expr}))
            with urllib.request.urlopen(u, timeout=5) as r:
                body = json.loads(r.read().decode())
            assert body["status"] == "success", body
            return body["data"]["result"]

        deadline = time.time() + 40
        while not port_open(port) and time.time() < deadline:
            assert proc.poll() is None, "prometheus exited"
            time.sleep(0.2)
        with open(os.path.join(REPO, "deploy", "grafana", "brook-dashboard.json")) as f:
            dash = json.load(f)
        lag_queries = [t["expr"] for row in dash["panels"] for t in row.get("targets", [])
                       if "consumergroup" in t["expr"]]
        assert len(lag_queries) >= 4
        got = {}
        while time.time() < deadline and len(got) < len(lag_queries):
            for e in lag_queries:
                q = re.sub(r"\$\{?\w+\}?", ".*", e.replace("$__rate_interval", "1m"))
                res = [r for r in query(q) if r["metric"].get("group") == group]
                if res:
                    got[e] = float(res[0]["value"][1])
            time.sleep(0.5)
        print("dashboard lag panels: %s" % got)
        assert set(got) == set(lag_queries), set(lag_queries) - set(got)
        offs = [v for e, v in got.items() if "lag_seconds" not in e]
        assert offs and all(v == 10 for v in offs), got
        assert all(v > 0 for e, v in got.items() if "lag_seconds" in e), got
        # the alert rules loaded and evaluate (none of the lag ones fires yet)
        with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/rules" % port, timeout=5) as r:
            groups = json.loads(r.read().decode())["data"]["groups"]
        names = {rl["name"]: rl for g in groups for rl in g["rules"]}
        assert "BrookConsumerLagGrowing" in names and "BrookConsumerLagHigh" in names
        assert all(rl.get("health") != "err" for rl in names.values()), names
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()
