"""TLS listeners (issue 11): SSL with client certificates, real clients.

One broker per test with a PLAINTEXT and an SSL listener; a throw-away PKI
(tests/lib/seccerts.py, openssl CLI) in tmp_path. kcat and confluent-kafka
(librdkafka 2.0.2, OpenSSL) and kafka-python (Python's ssl) talk TLS to it.
"""

import socket
import ssl
import subprocess
import time

import pytest

import kwire
import seccerts
from brookharness import free_port

pytestmark = pytest.mark.timeout(180)

T = 60  # seconds for one client process


@pytest.fixture
def pki(tmp_path):
    return seccerts.make_pki(tmp_path / "pki")


def start_tls_broker(brook_factory, pki, client_auth="required", extra=None):
    plain, tls = free_port(), free_port()
    props = {
        "listeners": "PLAINTEXT://127.0.0.1:%d,SSL://127.0.0.1:%d" % (plain, tls),
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": pki["broker.pem"],
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": pki["ca.crt"],
        "ssl.client.auth": client_auth,
    }
    props.update(extra or {})
    b = brook_factory(props, start=False)
    b.port = plain
    b.start()
    b.tls_port = tls
    return b


def kcat_ssl(pki, cert=True, rogue=False):
    args = ["-X", "security.protocol=ssl", "-X", "ssl.ca.location=" + pki["ca.crt"]]
    if cert:
        name = "rogue" if rogue else "client"
        args += ["-X", "ssl.certificate.location=" + pki[name + ".crt"],
                 "-X", "ssl.key.location=" + pki[name + ".key"]]
    return args


def run(cmd, inp=None):
    return subprocess.run(cmd, input=inp, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=T, text=True)


def test_kcat_client_cert_produce_consume(brook_factory, pki):
    b = start_tls_broker(brook_factory, pki)
    boot = "127.0.0.1:%d" % b.tls_port
    lines = "".join("tls-%d\n" % i for i in range(500))
    r = run(["kcat", "-b", boot, *kcat_ssl(pki), "-P", "-t", "sec1"], lines)
    assert r.returncode == 0, r.stderr
    r = run(["kcat", "-b", boot, *kcat_ssl(pki), "-C", "-t", "sec1", "-e", "-q"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["tls-%d" % i for i in range(500)]
    # Metadata over SSL names the SSL listener (the one the client came in on)
    r = run(["kcat", "-b", boot, *kcat_ssl(pki), "-L", "-J"])
    assert r.returncode == 0, r.stderr
    assert '"name":"127.0.0.1:%d"' % b.tls_port in r.stdout.replace(" ", ""), r.stdout
    # and over PLAINTEXT the PLAINTEXT one
    r = run(["kcat", "-b", b.bootstrap, "-L", "-J"])
    assert '"name":"127.0.0.1:%d"' % b.port in r.stdout.replace(" ", ""), r.stdout


def test_required_client_auth_refuses_without_or_with_foreign_cert(brook_factory, pki):
    b = start_tls_broker(brook_factory, pki)
    boot = "127.0.0.1:%d" % b.tls_port
    for args in (kcat_ssl(pki, cert=False), kcat_ssl(pki, rogue=True)):
        r = run(["kcat", "-b", boot, *args, "-m", "5", "-L"])
        assert r.returncode != 0
        assert "Failed to acquire metadata" in r.stderr or "SSL" in r.stderr, r.stderr
    log = b.log_text()
    assert "TLS handshake failed" in log
    # the broker still serves TLS clients with a good certificate
    r = run(["kcat", "-b", boot, *kcat_ssl(pki), "-L"])
    assert r.returncode == 0, r.stderr


def test_requested_client_auth_accepts_without_cert(brook_factory, pki):
    b = start_tls_broker(brook_factory, pki, client_auth="requested")
    r = run(["kcat", "-b", "127.0.0.1:%d" % b.tls_port, *kcat_ssl(pki, cert=False), "-L"])
    assert r.returncode == 0, r.stderr


def test_tls12_only_and_inline_pem(brook_factory, pki):
    """ssl.enabled.protocols=TLSv1.2 with key material given inline
    (ssl.keystore.certificate.chain / ssl.keystore.key, properties file
    line continuations are not needed: PEM lines joined by \\n escapes)."""
    def inline(path):
        with open(path) as f:
            return f.read().strip().replace("\n", "\\n")
    extra = {
        "ssl.keystore.location": "",
        "ssl.keystore.certificate.chain": inline(pki["broker.crt"]),
        "ssl.keystore.key": inline(pki["broker.key"]),
        "ssl.enabled.protocols": "TLSv1.2",
        "ssl.protocol": "TLSv1.2",
    }
    b = start_tls_broker(brook_factory, pki, client_auth="none", extra=extra)
    ctx = ssl.create_default_context(cafile=pki["ca.crt"])
    with socket.create_connection(("127.0.0.1", b.tls_port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            assert t.version() == "TLSv1.2"
            t.sendall(kwire.request(kwire.API_API_VERSIONS, 0, 7))
            size = int.from_bytes(t.recv(4), "big")
            assert 6 < size < 10000
    # the inline private key is never shown by DescribeConfigs (Kafka: PASSWORD type)
    from confluent_kafka.admin import AdminClient, ConfigResource
    a = AdminClient({"bootstrap.servers": b.bootstrap})
    res = ConfigResource(ConfigResource.Type.BROKER, "0")
    cfg = a.describe_configs([res])[res].result(20)
    assert cfg["ssl.keystore.key"].is_sensitive and cfg["ssl.keystore.key"].value is None
    assert "PRIVATE KEY" not in repr({k: v.value for k, v in cfg.items()})
    assert cfg["ssl.enabled.protocols"].value == "TLSv1.2"
    ctx13 = ssl.create_default_context(cafile=pki["ca.crt"])
    ctx13.minimum_version = ssl.TLSVersion.TLSv1_3
    with socket.create_connection(("127.0.0.1", b.tls_port), timeout=10) as s:
        with pytest.raises(ssl.SSLError):
            ctx13.wrap_socket(s, server_hostname="localhost")


def test_confluent_kafka_large_fetch_over_tls(brook_factory, pki):
    """Fetches over TLS cannot use sendfile: record data is read into the
    connection's buffer and written through SSL_write (conn.h). Several MB
    through one consumer exercises partial writes and buffer reuse."""
    from confluent_kafka import Consumer, Producer

    b = start_tls_broker(brook_factory, pki)
    conf = {"bootstrap.servers": "127.0.0.1:%d" % b.tls_port, "security.protocol": "ssl",
            "ssl.ca.location": pki["ca.crt"], "ssl.certificate.location": pki["client.crt"],
            "ssl.key.location": pki["client.key"]}
    p = Producer(dict(conf, **{"linger.ms": 5}))
    n, size = 3000, 4000
    for i in range(n):
        p.produce("big", value=(b"%08d" % i) * (size // 8))
    assert p.flush(60) == 0
    c = Consumer(dict(conf, **{"group.id": "g-tls", "auto.offset.reset": "earliest",
                               "fetch.max.bytes": 8 * 1024 * 1024}))
    c.subscribe(["big"])
    seen = 0
    t0 = time.monotonic()
    deadline = t0 + 60
    while seen < n and time.monotonic() < deadline:
        m = c.poll(1.0)
        if m is None or m.error():
            continue
        assert m.value() == (b"%08d" % seen) * (size // 8)
        seen += 1
    dt = time.monotonic() - t0
    c.close()
    assert seen == n
    print("consumed %d MB over TLS in %.2f s" % (n * size // 1000000, dt))


def test_kafka_python_over_ssl(brook_factory, pki):
    from kafka import KafkaConsumer, KafkaProducer

    b = start_tls_broker(brook_factory, pki)
    kw = dict(bootstrap_servers="127.0.0.1:%d" % b.tls_port, security_protocol="SSL",
              ssl_cafile=pki["ca.crt"], ssl_certfile=pki["client.crt"],
              ssl_keyfile=pki["client.key"], ssl_check_hostname=False, api_version=(2, 5, 0))
    p = KafkaProducer(**kw)
    for i in range(50):
        p.send("kp", b"v%d" % i)
    p.flush(30)
    p.close()
    c = KafkaConsumer("kp", auto_offset_reset="earliest", consumer_timeout_ms=10000, **kw)
    got = [m.value for m in c]
    c.close()
    assert got == [b"v%d" % i for i in range(50)]


@pytest.mark.smoke
def test_garbage_and_stalled_handshakes_do_not_hurt(brook_factory, pki):
    b = start_tls_broker(brook_factory, pki)
    socks = []
    # garbage instead of a ClientHello, a Kafka request in clear text on
    # the TLS port, a half ClientHello that never completes
    for payload in (b"\x16\x03\x01\xff\xff" + b"\x00" * 4000, kwire.request(3, 1, 1),
                    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", b"GET / HTTP/1.0\r\n\r\n"):
        s = socket.create_connection(("127.0.0.1", b.tls_port), timeout=10)
        s.sendall(payload)
        socks.append(s)
    # random bytes from many connections
    import os as _os
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", b.tls_port), timeout=10)
        try:
            s.sendall(_os.urandom(3000))
        except OSError:
            pass
        s.close()
    for s in socks[:2]:
        s.settimeout(10)
        try:
            data = s.recv(100)
        except ConnectionResetError:
            data = b""
        # a TLS alert at most, never a Kafka answer
        assert data == b"" or data[:1] == b"\x15"
    b.assert_alive("after garbage handshakes")
    r = run(["kcat", "-b", "127.0.0.1:%d" % b.tls_port, *kcat_ssl(pki), "-L"])
    assert r.returncode == 0, r.stderr
    res = kwire.api_versions(b.host, b.port, version=0, timeout=10)
    assert res["error_code"] == 0
    for s in socks:
        s.close()


def test_cluster_inter_broker_listener_and_per_listener_metadata(tmp_path, pki):
    """Two brokers with an INTERNAL (PLAINTEXT, inter-broker) and an SSL
    listener: /brokers/ids lists both endpoints with the protocol map as
    Kafka writes them, replication runs over INTERNAL, and Metadata names
    every broker's endpoint of the listener the client connected on."""
    import json
    import os
    import sys

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import zkharness
    if not zkharness.available():
        pytest.skip("Debian's zookeeper package is not installed")
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient, NewTopic
    from test_cluster_zk import Cluster, wait_for

    with Cluster(tmp_path) as c:
        ports = {}
        for nid in (1, 2):
            internal, tls = free_port(), free_port()
            ports[nid] = (internal, tls)
            b = c.broker(nid, {
                "listeners": "INTERNAL://127.0.0.1:%d,SSL://127.0.0.1:%d" % (internal, tls),
                "listener.security.protocol.map": "INTERNAL:PLAINTEXT,SSL:SSL",
                "inter.broker.listener.name": "INTERNAL",
                "ssl.keystore.location": pki["broker.pem"],
                "ssl.client.auth": "none",
            }, start=False)
            b.port = internal
            b.start()
        zk = c.zkc()
        reg = json.loads(wait_for(lambda: zk.get("/brokers/ids/2")[0], 30, "registration"))
        assert reg["listener_security_protocol_map"] == {"INTERNAL": "PLAINTEXT", "SSL": "SSL"}
        assert reg["endpoints"] == ["INTERNAL://127.0.0.1:%d" % ports[2][0], "SSL://127.0.0.1:%d" % ports[2][1]]
        assert reg["port"] == ports[2][0]

        ssl_conf = {"bootstrap.servers": "127.0.0.1:%d" % ports[1][1], "security.protocol": "ssl",
                    "ssl.ca.location": pki["ca.crt"]}
        a = AdminClient(ssl_conf)
        wait_for(lambda: len(a.list_topics(timeout=5).brokers) == 2, 30, "2 brokers over SSL")
        md = a.list_topics(timeout=5)
        assert {bid: (bm.host, bm.port) for bid, bm in md.brokers.items()} == {
            1: ("127.0.0.1", ports[1][1]), 2: ("127.0.0.1", ports[2][1])}
        ai = AdminClient({"bootstrap.servers": "127.0.0.1:%d" % ports[2][0]})
        md = ai.list_topics(timeout=10)
        assert {bid: bm.port for bid, bm in md.brokers.items()} == {1: ports[1][0], 2: ports[2][0]}
        fs = a.create_topics([NewTopic("rep", num_partitions=2, replication_factor=2)])
        fs["rep"].result(30)
        wait_for(lambda: all(len(p.isrs) == 2 for p in a.list_topics("rep", timeout=5).topics["rep"].partitions.values()),
                 60, "ISR of 2 (replication over INTERNAL)")
        p = Producer(dict(ssl_conf, **{"acks": "all"}))
        for i in range(100):
            p.produce("rep", value=b"r%d" % i)
        assert p.flush(60) == 0
        cons = Consumer(dict(ssl_conf, **{"group.id": "g-rep", "auto.offset.reset": "earliest"}))
        cons.subscribe(["rep"])
        got = set()
        deadline = time.monotonic() + 60
        while len(got) < 100 and time.monotonic() < deadline:
            m = cons.poll(1.0)
            if m is not None and not m.error():
                got.add(m.value())
        cons.close()
        assert got == {b"r%d" % i for i in range(100)}


@pytest.mark.smoke
def test_principal_from_client_certificate(brook_factory, pki, monkeypatch):
    """The principal ACLs will see: Kafka's default mapping of the verified
    certificate's subject, RFC 2253 order (logged at debug level)."""
    monkeypatch.setenv("BROOK_LOG_LEVEL", "debug")
    b = start_tls_broker(brook_factory, pki, client_auth="requested")
    boot = "127.0.0.1:%d" % b.tls_port
    assert run(["kcat", "-b", boot, *kcat_ssl(pki), "-L"]).returncode == 0
    assert run(["kcat", "-b", boot, *kcat_ssl(pki, cert=False), "-L"]).returncode == 0
    log = b.log_text()
    assert "principal User:CN=client1,OU=test,O=brook" in log
    assert "principal User:ANONYMOUS" in log
