"""Monitoring (issue 10): /metrics, /health, /ready on metrics.listener.

Real parts: a real Prometheus server (Debian `prometheus`) started here on
a free loopback port with its own storage dir and a generated
prometheus.yml (scrape_interval 1s) scrapes a brookd started by the test;
confluent-kafka produces; a PromQL query over Prometheus's HTTP API must
return a positive rate of incoming messages. The metric families served
are checked against the mapping table in docs/metrics.md (parsed here, so
doc and code cannot drift). Hostile HTTP input over raw sockets (huge
head, garbage, a slowloris, more idle connections than the cap) must
leave the broker serving Kafka requests.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

import brookharness

REPO = brookharness.REPO
DOCS = os.path.join(REPO, "docs")


# ------------------------------------------------------------------ helpers

def http_get(port, path, timeout=10, method="GET"):
    """(status, body) of a request to 127.0.0.1:port."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def metrics_broker(brook_factory, **props):
    mport = brookharness.free_port()
    p = {"metrics.listener": "http://127.0.0.1:%d" % mport}
    p.update(props)
    b = brook_factory(p)
    b.mport = mport
    return b


def produce(bootstrap, topic, n, payload=b"x" * 100):
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5,
                  "message.timeout.ms": 30000})
    errors = []
    for i in range(n):
        p.produce(topic, payload, on_delivery=lambda err, msg: err and errors.append(err))
        if i % 500 == 0:
            p.poll(0)
    left = p.flush(30)
    assert left == 0 and not errors, (left, errors[:3])


def parse_exposition(text):
    """{family: type}, [(name, labels dict, value)] of Prometheus text."""
    types, samples = {}, []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            types[name] = typ
        elif line and not line.startswith("#"):
            m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', line)
            assert m, "malformed sample line %r" % line
            labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
            samples.append((m.group(1), labels, float(m.group(4))))
    return types, samples


def documented_metrics(only=None):
    """{name: type} from every mapping table row "| `name` | type | ..." in docs/*.md
    (or only in docs/<only>)."""
    out = {}
    for fn in sorted(os.listdir(DOCS)):
        if only and fn != only:
            continue
        if not fn.endswith(".md"):
            continue
        for line in open(os.path.join(DOCS, fn)):
            m = re.match(r"^\|\s*`([a-z_][a-z0-9_]*)`\s*\|\s*(counter|gauge|summary|histogram)\s*\|", line)
            if m:
                out[m.group(1)] = m.group(2)
    return out


def sample(samples, name, **labels):
    for n, l, v in samples:
        if n == name and all(l.get(k) == v2 for k, v2 in labels.items()) and \
                (labels or not l):
            return v
    return None


class Prometheus:
    def __init__(self, workdir, target_port):
        self.port = brookharness.free_port()
        self.dir = str(workdir)
        cfg = os.path.join(self.dir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: brook\n    scrape_interval: 1s\n"
                    "    scrape_timeout: 1s\n"
                    "    static_configs:\n      - targets: ['127.0.0.1:%d']\n" % target_port)
        exe = shutil.which("prometheus")
        assert exe, "prometheus is not installed (scripts/deps.sh installs it)"
        self.log = open(os.path.join(self.dir, "prometheus.log"), "w")
        self.proc = subprocess.Popen(
            [exe, "--config.file=" + cfg, "--storage.tsdb.path=" + os.path.join(self.dir, "tsdb"),
             "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=warn"],
            stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=brookharness._pdeathsig)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "prometheus exited: " + self.tail()
            try:
                if http_get(self.port, "/-/ready", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError("prometheus not ready in 30 s: " + self.tail())

    def tail(self):
        self.log.flush()
        with open(os.path.join(self.dir, "prometheus.log")) as f:
            return f.read()[-3000:]

    def api(self, path, **params):
        st, body = http_get(self.port, "/api/v1/%s?%s" % (path, urllib.parse.urlencode(params)))
        assert st == 200, (st, body)
        d = json.loads(body)
        assert d["status"] == "success", d
        return d["data"]

    def query(self, q):
        return self.api("query", query=q)["result"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


# -------------------------------------------------------------------- tests

@pytest.mark.timeout(180)
def test_prometheus_scrapes_message_rate(brook_factory, tmp_path):
    b = metrics_broker(brook_factory)
    prom = Prometheus(tmp_path, b.mport)
    try:
        # the target comes up
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            up = prom.query('up{job="brook"}')
            if up and up[0]["value"][1] == "1":
                break
            time.sleep(0.5)
        assert up and up[0]["value"][1] == "1", (up, prom.tail())

        # produce for a few seconds so that several scrapes see the counter move
        t0 = time.monotonic()
        for _ in range(4):
            produce(b.bootstrap, "prom-rate", 2000)
            time.sleep(1)
        q = 'rate(kafka_server_brokertopicmetrics_messagesin_total{topic="prom-rate"}[30s])'
        qall = 'rate(kafka_server_brokertopicmetrics_messagesin_total{topic=""}[30s])'
        val = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            res = prom.query(q)
            if res and float(res[0]["value"][1]) > 0:
                val = float(res[0]["value"][1])
                break
            time.sleep(0.5)
        print("PromQL %s = %r (%.1f s after the first produce)" % (q, val, time.monotonic() - t0))
        assert val is not None and val > 0, prom.query(q)
        res = prom.query(qall)
        assert res and float(res[0]["value"][1]) > 0, res
        # the latency quantiles and a state gauge are scraped too
        res = prom.query('kafka_network_requestmetrics_totaltimems{request="Produce",quantile="0.99"}')
        assert res and float(res[0]["value"][1]) > 0, res
        q = 'histogram_quantile(0.99, rate(brook_request_total_time_seconds_bucket{request="Produce"}[30s]))'
        res = prom.query(q)
        assert res and float(res[0]["value"][1]) > 0, res
        print("PromQL %s = %s" % (q, res[0]["value"][1]))
        res = prom.query('kafka_log_log_logendoffset{topic="prom-rate",partition="0"}')
        assert res and float(res[0]["value"][1]) == 8000, res
    finally:
        prom.stop()


@pytest.mark.smoke
@pytest.mark.timeout(120)
def test_metrics_match_documented_mapping(brook_factory):
    b = metrics_broker(brook_factory)
    produce(b.bootstrap, "doc-check", 300)
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "doc-check",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    try:
        c.assign([TopicPartition("doc-check", 0, 0)])
        got = 0
        deadline = time.monotonic() + 30
        while got < 300 and time.monotonic() < deadline:
            m = c.poll(1)
            if m is not None and not m.error():
                got += 1
        assert got == 300
    finally:
        c.close()

    st, text = http_get(b.mport, "/metrics")
    assert st == 200
    types, samples = parse_exposition(text)
    doc = documented_metrics()
    assert len(doc) >= 40, doc
    undocumented = sorted(set(types) - set(doc))
    assert not undocumented, "served but not in a docs/*.md mapping table: %s" % undocumented
    wrong = {n: (types[n], doc[n]) for n in types if types[n] != doc[n]}
    assert not wrong, "type differs from the documentation: %s" % wrong
    # everything documented is served, except what only cluster mode has
    cluster_only = {"brook_zookeeper_session_state", "brook_zookeeper_registered"}
    missing = sorted(n for n in documented_metrics("metrics.md") if n not in types and n not in cluster_only)
    assert not missing, "documented but not served: %s" % missing
    # every sample belongs to a declared family
    for n, _, _ in samples:
        fam = re.sub(r"_(count|sum|bucket)$", "", n) if n not in types else n
        assert fam in types, n

    assert sample(samples, "kafka_server_brokertopicmetrics_messagesin_total", topic="doc-check") == 300
    assert sample(samples, "kafka_server_brokertopicmetrics_messagesin_total") >= 300
    assert sample(samples, "kafka_server_brokertopicmetrics_bytesout_total", topic="doc-check") > 0
    assert sample(samples, "kafka_server_brokertopicmetrics_totalproducerequests_total", topic="doc-check") >= 1
    assert sample(samples, "kafka_server_brokertopicmetrics_totalfetchrequests_total", topic="doc-check") >= 1
    assert sample(samples, "kafka_log_log_logendoffset", topic="doc-check", partition="0") == 300
    assert sample(samples, "kafka_log_log_size", topic="doc-check", partition="0") > 0
    assert sample(samples, "kafka_server_replicamanager_partitioncount") >= 1
    assert sample(samples, "kafka_controller_kafkacontroller_activecontrollercount") == 1
    assert sample(samples, "brook_ready") == 1
    reqs = [(l, v) for n, l, v in samples if n == "kafka_network_requestmetrics_requests_total"
            and l.get("request") == "Produce"]
    assert reqs and all(l.get("version") for l, _ in reqs), reqs
    assert sample(samples, "kafka_network_requestmetrics_errors_total", request="Produce", error="NONE") >= 1
    for fam in ("totaltimems", "requestqueuetimems", "localtimems", "remotetimems",
                "responsequeuetimems", "responsesendtimems"):
        for q in ("0.50", "0.75", "0.95", "0.98", "0.99", "0.999"):
            v = sample(samples, "kafka_network_requestmetrics_" + fam, request="Produce", quantile=q)
            assert v is not None and v >= 0, (fam, q, v)
    p99 = sample(samples, "kafka_network_requestmetrics_totaltimems", request="Produce", quantile="0.99")
    print("Produce TotalTimeMs p99 %.3f ms" % p99)
    assert 0 <= sample(samples, "kafka_network_socketserver_networkprocessoravgidlepercent") <= 1
    assert sample(samples, "kafka_server_socket_server_metrics_connection_count",
                  listener="PLAINTEXT", networkprocessor="0") is not None
    assert 0 < sample(samples, "process_open_fds") < sample(samples, "process_max_fds")
    assert sample(samples, "process_resident_memory_bytes") > 0
    assert abs(sample(samples, "process_start_time_seconds") - time.time()) < 600
    info = [l for n, l, v in samples if n == "brook_build_info"]
    assert info and info[0]["version"] and re.match(r"^([0-9a-f]{4,}|unknown)$", info[0]["commit"]), info


@pytest.mark.smoke
@pytest.mark.timeout(60)
def test_health_ready_and_http_errors(brook_factory):
    b = metrics_broker(brook_factory)
    assert http_get(b.mport, "/health") == (200, "ok\n")
    assert http_get(b.mport, "/ready") == (200, "ready\n")
    assert http_get(b.mport, "/health?probe=1")[0] == 200
    assert http_get(b.mport, "/nope")[0] == 404
    assert http_get(b.mport, "/metrics", method="POST")[0] == 405
    st, body = http_get(b.mport, "/metrics", method="HEAD")
    assert st == 200 and body == ""
    # a listener that is off when the key is empty
    b2 = brook_factory({"metrics.listener": ""})
    assert b2.proc.poll() is None


def raw(port, data, timeout=10):
    """Send data, return what the server answers before closing (b"" on reset)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        out = b""
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    break
                out += d
        except (ConnectionResetError, socket.timeout):
            pass
        return out
    finally:
        s.close()


def kafka_works(b, topic):
    produce(b.bootstrap, topic, 50)


@pytest.mark.timeout(120)
def test_hostile_http_input_leaves_broker_serving(brook_factory):
    b = metrics_broker(brook_factory)

    # a head larger than the limit: 431, connection closed
    out = raw(b.mport, b"GET /metrics HTTP/1.1\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 431"), out[:80]
    # garbage (a TLS ClientHello) and a broken request line: 400
    out = raw(b.mport, bytes(range(256)) + b"\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400"), out[:80]
    out = raw(b.mport, b"GET\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400"), out[:80]
    # a Kafka request on the HTTP port
    out = raw(b.mport, b"\x00\x00\x00\x0a\x00\x12\x00\x00\x00\x00\x00\x01\x00\x00\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400"), out[:80]
    kafka_works(b, "hostile-1")

    # slowloris: one byte a second is cut off at the connection deadline
    s = socket.create_connection(("127.0.0.1", b.mport), timeout=5)
    t0 = time.monotonic()
    closed = False
    try:
        for ch in b"GET /metrics HTTP/1.1\r\nX-Slow: " + b"a" * 60:
            try:
                s.send(bytes([ch]))
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            s.settimeout(1)
            try:
                if s.recv(1) == b"":
                    closed = True
                    break
            except socket.timeout:
                pass
            except ConnectionResetError:
                closed = True
                break
    finally:
        s.close()
    print("slowloris connection closed by the broker after %.1f s" % (time.monotonic() - t0))
    assert closed

    # more idle connections than the cap: the extra ones are closed at
    # once, Kafka keeps working meanwhile, and once they go /health answers
    idle = []
    try:
        for _ in range(60):
            idle.append(socket.create_connection(("127.0.0.1", b.mport), timeout=5))
        time.sleep(0.5)
        refused = 0
        for s in idle:
            s.settimeout(0.2)
            try:
                if s.recv(1) == b"":
                    refused += 1
            except socket.timeout:
                pass
            except ConnectionResetError:
                refused += 1
        print("%d of %d idle connections closed at once (cap 32)" % (refused, len(idle)))
        assert refused >= len(idle) - 32
        kafka_works(b, "hostile-2")
    finally:
        for s in idle:
            s.close()
    deadline = time.monotonic() + 30
    st = None
    while time.monotonic() < deadline:
        try:
            st = http_get(b.mport, "/health", timeout=2)[0]
            if st == 200:
                break
        except OSError:
            pass
        time.sleep(0.2)
    assert st == 200
    kafka_works(b, "hostile-3")
    b.assert_alive("after hostile HTTP input")
    st, text = http_get(b.mport, "/metrics")
    _, samples = parse_exposition(text)
    assert sample(samples, "brook_metrics_http_rejected_total") >= 4


@pytest.mark.timeout(60)
def test_slow_request_log_and_log_format(brook_factory):
    # request.slow.ms=0: every request is "slow" (logged, rate-limited)
    b = metrics_broker(brook_factory, **{"request.slow.ms": 0, "log.level": "info"})
    produce(b.bootstrap, "slow-log", 20)
    st, text = http_get(b.mport, "/metrics")
    _, samples = parse_exposition(text)
    assert sample(samples, "brook_slow_requests_total") >= 1
    deadline = time.monotonic() + 10
    log = ""
    while time.monotonic() < deadline:
        log = b.log_tail()
        if "slow request Produce" in log:
            break
        time.sleep(0.2)
    line = [l for l in log.splitlines() if "slow request Produce" in l]
    assert line, log[-2000:]
    assert re.match(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] WARN slow request Produce v\d+ from "
                    r"\S+: total [\d.]+ ms \(request queue [\d.]+, local [\d.]+, remote [\d.]+, "
                    r"response queue [\d.]+, response send [\d.]+\) \(broker/broker\)$", line[0]), line[0]
    # the start-up lines carry a component too
    assert re.search(r"\] INFO broker\.id=\d+ cluster\.id=\S+ \(server/server\)", log), log[:2000]
    # rate-limited: not one line per request
    n = len([l for l in log.splitlines() if "slow request" in l])
    reqs = sum(v for nm, l, v in samples if nm == "kafka_network_requestmetrics_requests_total")
    print("%d slow-request lines for %d requests" % (n, reqs))
    assert n <= 10 + 1


# ------------------------------------------------------------- cluster mode

def scrape(b):
    st, text = http_get(b.mport, "/metrics", timeout=5)
    assert st == 200
    return parse_exposition(text)[1]


def total(bs, name, **labels):
    return sum(sample(scrape(b), name, **labels) or 0 for b in bs if b.alive())


@pytest.mark.timeout(180)
def test_cluster_gauges_follow_a_broker_kill(tmp_path):
    """3 brokers + ZooKeeper: one active controller, ZooKeeper session and
    readiness per broker, leaders and ISR gauges; kill -9 of a broker makes
    the survivors report under-replicated partitions and ISR shrinks; its
    restart brings the ISR back (expands, no under-replicated partition);
    without ZooKeeper every broker answers /ready 503 and /health 200."""
    import zkharness
    from test_cluster_zk import Cluster, wait_for

    if not zkharness.available():
        pytest.skip("Debian's zookeeper package is not installed")
    from confluent_kafka.admin import AdminClient, NewTopic

    # no controlled shutdown: the brokers stop at the end without ZooKeeper
    extra = {"replica.lag.time.max.ms": 3000, "replica.fetch.wait.max.ms": 200,
             "controlled.shutdown.enable": "false"}
    with Cluster(tmp_path) as c:
        bs = []
        for i in range(3):
            mport = brookharness.free_port()
            b = c.broker(i, dict(extra, **{"metrics.listener": "http://127.0.0.1:%d" % mport}))
            b.mport = mport
            bs.append(b)
        wait_for(lambda: all(sample(scrape(b), "brook_ready") == 1 for b in bs), 20, "3 ready brokers")
        for b in bs:
            s = scrape(b)
            assert sample(s, "brook_zookeeper_session_state", state="connected") == 1
            assert sample(s, "brook_zookeeper_registered") == 1
        wait_for(lambda: total(bs, "kafka_controller_kafkacontroller_activecontrollercount") == 1,
                 20, "exactly one active controller")
        a = AdminClient({"bootstrap.servers": bs[0].bootstrap})
        for f in a.create_topics([NewTopic("m3", 3, 3)], operation_timeout=10).values():
            f.result(timeout=20)
        wait_for(lambda: total(bs, "kafka_server_replicamanager_leadercount") >= 3 and
                 total(bs, "kafka_server_replicamanager_underreplicatedpartitions") == 0 and
                 all(sample(scrape(b), "kafka_server_replicamanager_partitioncount") >= 3 for b in bs),
                 30, "3 leaders, full ISR")
        produce(",".join(b.bootstrap for b in bs), "m3", 300)

        wait_for(lambda: total(bs, "kafka_server_brokertopicmetrics_replicationbytesout_total") > 0 and
                 total(bs, "kafka_server_brokertopicmetrics_replicationbytesin_total") > 0,
                 30, "replication bytes in and out")

        victim = bs[2]
        victim.kill9()
        live = bs[:2]
        t0 = time.monotonic()
        wait_for(lambda: total(live, "kafka_server_replicamanager_underreplicatedpartitions") >= 1,
                 30, "under-replicated partitions on the survivors")
        print("under-replicated reported %.1f s after the kill" % (time.monotonic() - t0))
        wait_for(lambda: total(live, "kafka_server_replicamanager_isrshrinks_total") >= 1, 30, "ISR shrinks")
        wait_for(lambda: total(live, "kafka_controller_kafkacontroller_activecontrollercount") == 1,
                 30, "one active controller among the survivors")
        assert total(live, "kafka_controller_kafkacontroller_offlinepartitionscount") == 0

        # /ready also means caught up: broker 2's follower fetches are
        # throttled (KIP-73 configs: its replicas of m3, 1000 B/s by the
        # <default> broker entity) and it misses 600 KB, so after its restart
        # it is registered but outside the ISRs: 503 "catching up" until the
        # throttle goes
        import kwirex
        tgt = (live[0].host, live[0].port)
        assert kwirex.incremental_alter_configs(tgt, [
            (2, "m3", [("follower.replication.throttled.replicas", 0, "0:2,1:2,2:2")]),
            (4, "", [("follower.replication.throttled.rate", 0, "1000")])])[0][0] == 0
        produce(",".join(b.bootstrap for b in live), "m3", 6000)
        victim.start()
        def catching_up():
            st, body = http_get(victim.mport, "/ready", timeout=5)
            return body if st == 503 and "catching up" in body else None
        print("restarted broker: " + wait_for(catching_up, 30, "/ready 503 while catching up").strip())
        assert kwirex.incremental_alter_configs(tgt, [
            (2, "m3", [("follower.replication.throttled.replicas", 1, None)]),
            (4, "", [("follower.replication.throttled.rate", 1, None)])])[0][0] == 0
        wait_for(lambda: total(bs, "kafka_server_replicamanager_underreplicatedpartitions") == 0 and
                 total(bs, "kafka_server_replicamanager_isrexpands_total") >= 1,
                 60, "the restarted broker back in every ISR")
        wait_for(lambda: sample(scrape(victim), "brook_ready") == 1, 20, "restarted broker ready")

        # ZooKeeper gone: every broker stays alive (/health) but is not ready
        c.zk.kill(0)
        wait_for(lambda: all(http_get(b.mport, "/ready", timeout=5)[0] == 503 for b in bs), 30,
                 "/ready 503 without ZooKeeper")
        for b in bs:
            st, body = http_get(b.mport, "/ready")
            assert st == 503 and "ZooKeeper" in body, body
            assert http_get(b.mport, "/health") == (200, "ok\n")
            s = scrape(b)
            assert sample(s, "brook_zookeeper_session_state", state="disconnected") == 1
            assert sample(s, "brook_ready") == 0


@pytest.mark.timeout(60)
def test_sigusr2_turns_the_request_logger_on_and_off(brook_factory):
    import signal as sig

    b = metrics_broker(brook_factory)
    produce(b.bootstrap, "usr2", 5)
    assert "completed request" not in b.log_tail(1000)
    b.signal(sig.SIGUSR2)
    wait_for_log(b, "SIGUSR2: log level now debug")
    produce(b.bootstrap, "usr2", 5)
    wait_for_log(b, "completed request Produce")
    b.signal(sig.SIGUSR2)
    wait_for_log(b, "SIGUSR2: log level now info")
    n = b.log_tail(5000).count("completed request")
    produce(b.bootstrap, "usr2", 5)
    time.sleep(0.5)
    assert b.log_tail(5000).count("completed request") == n
    b.assert_alive("after SIGUSR2")


def wait_for_log(b, what, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if what in b.log_tail(5000):
            return
        time.sleep(0.1)
    raise AssertionError("no %r in the log:\n%s" % (what, b.log_tail(50)))


@pytest.mark.timeout(60)
def test_deleted_topic_series_disappear(brook_factory):
    from confluent_kafka.admin import AdminClient

    b = metrics_broker(brook_factory)
    produce(b.bootstrap, "gone-soon", 10)
    produce(b.bootstrap, "stays", 10)
    _, s = parse_exposition(http_get(b.mport, "/metrics")[1])
    assert sample(s, "kafka_server_brokertopicmetrics_messagesin_total", topic="gone-soon") == 10
    a = AdminClient({"bootstrap.servers": b.bootstrap})
    for f in a.delete_topics(["gone-soon"], operation_timeout=10).values():
        f.result(timeout=20)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        _, s = parse_exposition(http_get(b.mport, "/metrics")[1])
        if not any(l.get("topic") == "gone-soon" for _, l, _ in s):
            break
        time.sleep(0.2)
    assert not any(l.get("topic") == "gone-soon" for _, l, _ in s), \
        [x for x in s if x[1].get("topic") == "gone-soon"]
    assert sample(s, "kafka_server_brokertopicmetrics_messagesin_total", topic="stays") == 10
    # the all-topics counter keeps what was counted
    assert sample(s, "kafka_server_brokertopicmetrics_messagesin_total") == 20
