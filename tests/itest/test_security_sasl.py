"""SASL listeners (issue 11): PLAIN and SCRAM-SHA-256/512 with real clients,
and a raw-socket attacker.

Each test starts a broker with a PLAINTEXT listener (for `brook configs`,
which creates the SCRAM users, as kafka-configs.sh would over an internal
listener), a SASL_PLAINTEXT and a SASL_SSL listener. PLAIN users come from
a JAAS-style users file (sasl.plain.users.file).
"""

import base64
import hashlib
import hmac
import os
import socket
import struct
import subprocess
import time

import pytest

import kwire
import seccerts
from brookharness import REPO, free_port

pytestmark = pytest.mark.timeout(180)

BROOK = os.path.join(REPO, "build", "bin", "brook")
T = 60

SASL_AUTHENTICATION_FAILED = 58
ILLEGAL_SASL_STATE = 34
UNSUPPORTED_SASL_MECHANISM = 33


@pytest.fixture
def pki(tmp_path):
    return seccerts.make_pki(tmp_path / "pki")


def start_sasl_broker(brook_factory, pki, tmp_path, extra=None):
    plain, sp, ss = free_port(), free_port(), free_port()
    users = tmp_path / "plain-users.jaas"
    users.write_text(
        "KafkaServer {\n"
        "  org.apache.kafka.common.security.plain.PlainLoginModule required\n"
        '  username="admin" password="admin-secret"\n'
        '  user_admin="admin-secret"\n'
        '  user_bob="bob-pw";\n'
        "};\n"
    )
    props = {
        "listeners": "PLAINTEXT://127.0.0.1:%d,SASL_PLAINTEXT://127.0.0.1:%d,SASL_SSL://127.0.0.1:%d"
        % (plain, sp, ss),
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": pki["broker.pem"],
        # applies to SSL listeners only: SASL_SSL clients need no certificate
        "ssl.truststore.location": pki["ca.crt"],
        "ssl.client.auth": "required",
        "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
        "sasl.plain.users.file": str(users),
    }
    props.update(extra or {})
    b = brook_factory(props, start=False)
    b.port = plain
    b.start()
    b.sasl_port, b.ssl_port = sp, ss
    for mech, pw in (("SCRAM-SHA-512", "alice-secret"), ("SCRAM-SHA-256", "alice-secret")):
        r = subprocess.run([BROOK, "configs", "--bootstrap-server", b.bootstrap, "--entity-type", "users",
                            "--entity-name", "alice", "--alter", "--add-config", "%s=[password=%s]" % (mech, pw)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=T)
        assert r.returncode == 0, r.stderr
    return b


def produce_consume(conf, topic, n=200):
    from confluent_kafka import Consumer, KafkaException, Producer

    errors = []
    p = Producer(dict(conf, **{"error_cb": errors.append}))
    for i in range(n):
        p.produce(topic, value=b"m%d" % i)
    left = p.flush(30)
    assert left == 0, errors
    c = Consumer(dict(conf, **{"group.id": "g-" + topic, "auto.offset.reset": "earliest",
                               "error_cb": errors.append}))
    c.subscribe([topic])
    got = []
    deadline = time.monotonic() + 40
    while len(got) < n and time.monotonic() < deadline:
        m = c.poll(1.0)
        if m is None:
            continue
        if m.error():
            raise KafkaException(m.error())
        got.append(m.value())
    c.close()
    assert got == [b"m%d" % i for i in range(n)]


def test_describe_scram_users(brook_factory, pki, tmp_path):
    b = start_sasl_broker(brook_factory, pki, tmp_path)
    r = subprocess.run([BROOK, "configs", "--bootstrap-server", b.bootstrap, "--entity-type", "users",
                        "--describe"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=T)
    assert r.returncode == 0, r.stderr
    assert "SCRAM credential configs for user-principal 'alice' are" in r.stdout
    assert "SCRAM-SHA-512=iterations=4096" in r.stdout and "SCRAM-SHA-256=iterations=4096" in r.stdout
    # kept across a restart (single-node credential file)
    b.restart()
    r = subprocess.run([BROOK, "configs", "--bootstrap-server", b.bootstrap, "--entity-type", "users",
                        "--entity-name", "alice", "--describe"], stdout=subprocess.PIPE, text=True, timeout=T)
    assert "SCRAM-SHA-512=iterations=4096" in r.stdout
    # delete one mechanism
    r = subprocess.run([BROOK, "configs", "--bootstrap-server", b.bootstrap, "--entity-type", "users",
                        "--entity-name", "alice", "--alter", "--delete-config", "SCRAM-SHA-256"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=T)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([BROOK, "configs", "--bootstrap-server", b.bootstrap, "--entity-type", "users",
                        "--entity-name", "alice", "--describe"], stdout=subprocess.PIPE, text=True, timeout=T)
    assert "SCRAM-SHA-512" in r.stdout and "SCRAM-SHA-256" not in r.stdout


def test_scram_sha512_over_sasl_ssl(brook_factory, pki, tmp_path):
    b = start_sasl_broker(brook_factory, pki, tmp_path)
    produce_consume({"bootstrap.servers": "127.0.0.1:%d" % b.ssl_port, "security.protocol": "SASL_SSL",
                     "ssl.ca.location": pki["ca.crt"], "sasl.mechanisms": "SCRAM-SHA-512",
                     "sasl.username": "alice", "sasl.password": "alice-secret"}, "scram512")


def test_scram_sha256_and_plain_over_sasl_plaintext(brook_factory, pki, tmp_path):
    b = start_sasl_broker(brook_factory, pki, tmp_path)
    base = {"bootstrap.servers": "127.0.0.1:%d" % b.sasl_port, "security.protocol": "SASL_PLAINTEXT"}
    produce_consume(dict(base, **{"sasl.mechanisms": "SCRAM-SHA-256", "sasl.username": "alice",
                                  "sasl.password": "alice-secret"}), "scram256")
    produce_consume(dict(base, **{"sasl.mechanisms": "PLAIN", "sasl.username": "bob",
                                  "sasl.password": "bob-pw"}), "plain")
    # kcat with PLAIN reads what the SCRAM client wrote
    r = subprocess.run(["kcat", "-b", "127.0.0.1:%d" % b.sasl_port, "-X", "security.protocol=sasl_plaintext",
                        "-X", "sasl.mechanisms=PLAIN", "-X", "sasl.username=admin", "-X", "sasl.password=admin-secret",
                        "-C", "-t", "scram256", "-e", "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=T)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == 200


@pytest.mark.parametrize("mech,user,pw", [("SCRAM-SHA-512", "alice", "wrong"), ("SCRAM-SHA-256", "nobody", "x"),
                                          ("PLAIN", "bob", "wrong")])
def test_wrong_password_rejected(brook_factory, pki, tmp_path, mech, user, pw):
    from confluent_kafka import KafkaError, Producer

    b = start_sasl_broker(brook_factory, pki, tmp_path)
    errors = []
    p = Producer({"bootstrap.servers": "127.0.0.1:%d" % b.sasl_port, "security.protocol": "SASL_PLAINTEXT",
                  "sasl.mechanisms": mech, "sasl.username": user, "sasl.password": pw,
                  "error_cb": errors.append, "message.timeout.ms": 5000})
    reports = []
    p.produce("denied", b"x", on_delivery=lambda err, msg: reports.append(err))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any(e.code() == KafkaError._AUTHENTICATION for e in errors):
        p.poll(0.5)
    assert any(e.code() == KafkaError._AUTHENTICATION for e in errors), errors
    p.flush(15)
    assert len(reports) == 1 and reports[0] is not None  # the message never got in
    text = b.log_text()
    assert "SASL authentication of connection" in text and "failed" in text
    # nothing was created by the rejected client
    assert "auto-created topic denied" not in text


# ------------------------------------------------------------- raw socket


def hdr(key, ver, corr, client_id=b"raw"):
    return struct.pack(">hhih", key, ver, corr, len(client_id)) + client_id


def send_req(s, key, ver, corr, body):
    payload = hdr(key, ver, corr) + body
    s.sendall(struct.pack(">i", len(payload)) + payload)


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def recv_resp(s):
    size = struct.unpack(">i", recv_exact(s, 4))[0]
    body = recv_exact(s, size)
    return struct.unpack(">i", body[:4])[0], body[4:]


def closed(s, timeout=10):
    """True once the broker closed the connection (EOF or reset)."""
    s.settimeout(timeout)
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def handshake(s, mech, corr=1):
    m = mech.encode()
    send_req(s, 17, 1, corr, struct.pack(">h", len(m)) + m)
    _, body = recv_resp(s)
    return struct.unpack(">h", body[:2])[0]


def authenticate(s, data, corr=2, ver=1):
    send_req(s, 36, ver, corr, struct.pack(">i", len(data)) + data)
    _, body = recv_resp(s)
    err = struct.unpack(">h", body[:2])[0]
    mlen = struct.unpack(">h", body[2:4])[0]
    pos = 4 + max(mlen, 0)
    alen = struct.unpack(">i", body[pos:pos + 4])[0]
    auth = body[pos + 4:pos + 4 + max(alen, 0)]
    life = struct.unpack(">q", body[pos + 4 + max(alen, 0):pos + 12 + max(alen, 0)])[0]
    return err, auth, life


def scram_client(s, user, pw, mech="SCRAM-SHA-256", tamper=None):
    """A SCRAM client (RFC 5802). tamper: 'nonce' or 'proof' corrupts the final message."""
    h = hashlib.sha256 if mech == "SCRAM-SHA-256" else hashlib.sha512
    assert handshake(s, mech) == 0
    cnonce = base64.b64encode(os.urandom(18)).decode()
    first_bare = "n=%s,r=%s" % (user, cnonce)
    err, sf, _ = authenticate(s, ("n,," + first_bare).encode())
    if err:
        return err, None
    attrs = dict(kv.split("=", 1) for kv in sf.decode().split(","))
    nonce, salt, it = attrs["r"], base64.b64decode(attrs["s"]), int(attrs["i"])
    assert nonce.startswith(cnonce)
    if tamper == "nonce":
        nonce = nonce[:-2] + "zz"
    salted = hashlib.pbkdf2_hmac(h().name, pw.encode(), salt, it)
    ck = hmac.new(salted, b"Client Key", h).digest()
    stored = h(ck).digest()
    wo = "c=biws,r=%s" % nonce
    auth_msg = ",".join([first_bare, sf.decode(), wo]).encode()
    sig = hmac.new(stored, auth_msg, h).digest()
    proof = bytes(a ^ b for a, b in zip(ck, sig))
    if tamper == "proof":
        proof = bytes([proof[0] ^ 1]) + proof[1:]
    err, fin, life = authenticate(s, (wo + ",p=" + base64.b64encode(proof).decode()).encode(), corr=3)
    if err == 0:
        sk = hmac.new(salted, b"Server Key", h).digest()
        assert fin.decode() == "v=" + base64.b64encode(hmac.new(sk, auth_msg, h).digest()).decode()
    return err, life


def connect(b):
    return socket.create_connection(("127.0.0.1", b.sasl_port), timeout=10)


@pytest.mark.smoke
def test_raw_scram_and_gate(brook_factory, pki, tmp_path, monkeypatch):
    monkeypatch.setenv("BROOK_LOG_LEVEL", "debug")
    b = start_sasl_broker(brook_factory, pki, tmp_path)
    # a correct exchange from Python's own SCRAM, then Metadata is served
    with connect(b) as s:
        err, life = scram_client(s, "alice", "alice-secret")
        assert err == 0 and life == 0
        send_req(s, 3, 1, 9, struct.pack(">i", 0))
        corr, _ = recv_resp(s)
        assert corr == 9
    assert "authenticated as User:alice" in b.log_text()
    # Metadata before authentication: closed without an answer
    with connect(b) as s:
        send_req(s, 3, 1, 1, struct.pack(">i", 0))
        assert closed(s)
    # ApiVersions is allowed before authentication, then Produce is not
    with connect(b) as s:
        s.sendall(kwire.request(kwire.API_API_VERSIONS, 0, 5))
        assert recv_resp(s)[0] == 5
        assert handshake(s, "SCRAM-SHA-256", corr=6) == 0
        send_req(s, 0, 3, 7, b"\x00" * 20)
        assert closed(s)
    # unknown mechanism
    with connect(b) as s:
        assert handshake(s, "GSSAPI") == UNSUPPORTED_SASL_MECHANISM
    # SaslAuthenticate without a handshake: error, then closed
    with connect(b) as s:
        err, _, _ = authenticate(s, b"n,,n=alice,r=abc")
        assert err == ILLEGAL_SASL_STATE
        assert closed(s)
    # a SASL handshake on a plaintext listener is an illegal state
    with socket.create_connection(("127.0.0.1", b.port), timeout=10) as s:
        assert handshake(s, "PLAIN") == ILLEGAL_SASL_STATE
    b.assert_alive()


@pytest.mark.parametrize("tamper", ["nonce", "proof"])
def test_tampered_scram_rejected_and_closed(brook_factory, pki, tmp_path, tamper):
    b = start_sasl_broker(brook_factory, pki, tmp_path)
    with connect(b) as s:
        err, _ = scram_client(s, "alice", "alice-secret", tamper=tamper)
        assert err == SASL_AUTHENTICATION_FAILED
        assert closed(s)


@pytest.mark.smoke
def test_hostile_sasl_exchanges(brook_factory, pki, tmp_path):
    b = start_sasl_broker(brook_factory, pki, tmp_path)
    garbage = [b"", b"\x00" * 100, b"n,,", b"n,,n=alice", b"p=tls-unique,,n=alice,r=x", b"n,,n=alice,r=,,,",
               b"n,,n=al=ZZice,r=abc", os.urandom(400), b"n,,n=alice,r=" + b"A" * 5000,
               b"n,,n=" + b"x" * 3000 + b",r=abc"]
    for g in garbage:
        with connect(b) as s:
            assert handshake(s, "SCRAM-SHA-512") == 0
            err, _, _ = authenticate(s, g)
            assert err == SASL_AUTHENTICATION_FAILED, g[:40]
            assert closed(s)
    # garbage as client-final after a good client-first
    for g in (b"", b"c=biws", b"c=biws,r=x,p=" + b"@" * 20, os.urandom(300)):
        with connect(b) as s:
            assert handshake(s, "SCRAM-SHA-512") == 0
            err, sf, _ = authenticate(s, b"n,,n=alice,r=abcdef")
            assert err == 0 and sf.startswith(b"r=abcdef")
            err, _, _ = authenticate(s, g, corr=3)
            assert err == SASL_AUTHENTICATION_FAILED
            assert closed(s)
    # PLAIN garbage
    for g in (b"", b"bob", b"\x00bob", b"eve\x00bob\x00bob-pw", os.urandom(100)):
        with connect(b) as s:
            assert handshake(s, "PLAIN") == 0
            err, _, _ = authenticate(s, g)
            assert err == SASL_AUTHENTICATION_FAILED
            assert closed(s)
    # a frame above sasl.server.max.receive.size before authentication:
    # closed as soon as the size is read, nothing is buffered
    with connect(b) as s:
        s.sendall(struct.pack(">i", 600000) + b"\x00" * 1000)
        assert closed(s)
    # a huge SaslAuthenticate within the limit is still just a failed login
    with connect(b) as s:
        assert handshake(s, "SCRAM-SHA-512") == 0
        err, _, _ = authenticate(s, b"n,,n=alice,r=" + b"Q" * 500000)
        assert err == SASL_AUTHENTICATION_FAILED
    # many half-open exchanges, then everybody else is still served
    socks = []
    for _ in range(30):
        s = connect(b)
        handshake(s, "SCRAM-SHA-256")
        authenticate(s, b"n,,n=alice,r=abcdef")
        socks.append(s)
    b.assert_alive("after hostile exchanges")
    with connect(b) as s:
        assert scram_client(s, "alice", "alice-secret")[0] == 0
    for s in socks:
        s.close()
    res = kwire.api_versions(b.host, b.port, version=3, timeout=10)
    assert res["error_code"] == 0
    assert 17 in res["keys"] and 36 in res["keys"]


def test_reauthentication_session_lifetime(brook_factory, pki, tmp_path):
    """connections.max.reauth.ms (KIP-368): SaslAuthenticate v1 tells the
    lifetime; re-authenticating on the same connection extends it; a
    connection whose session expired is closed on its next request."""
    b = start_sasl_broker(brook_factory, pki, tmp_path, {"connections.max.reauth.ms": 1500})
    with connect(b) as s:
        err, life = scram_client(s, "alice", "alice-secret")
        assert err == 0 and life == 1500
        time.sleep(1.0)
        err, life = scram_client(s, "alice", "alice-secret")  # re-authentication
        assert err == 0 and life == 1500
        time.sleep(1.0)  # 2 s after the first login, 1 s after the second
        send_req(s, 3, 1, 9, struct.pack(">i", 0))
        assert recv_resp(s)[0] == 9
        time.sleep(1.7)
        send_req(s, 3, 1, 10, struct.pack(">i", 0))
        assert closed(s)
    # re-authenticating as somebody else is refused
    with connect(b) as s:
        assert scram_client(s, "alice", "alice-secret")[0] == 0
        assert handshake(s, "PLAIN", corr=20) == 0
        err, _, _ = authenticate(s, b"\x00bob\x00bob-pw", corr=21)
        assert err == SASL_AUTHENTICATION_FAILED
        assert closed(s)


def test_cluster_scram_credentials_in_zookeeper(tmp_path):
    """Cluster mode: AlterUserScramCredentials writes /config/users/<user> in
    Kafka's format plus a /config/changes notification; every broker reads
    the credential from ZooKeeper at login."""
    import json
    import sys

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import zkharness
    if not zkharness.available():
        pytest.skip("Debian's zookeeper package is not installed")
    from test_cluster_zk import Cluster, wait_for

    with Cluster(tmp_path) as c:
        ports = {}
        for nid in (1, 2):
            internal, sasl = free_port(), free_port()
            ports[nid] = (internal, sasl)
            b = c.broker(nid, {
                "listeners": "INTERNAL://127.0.0.1:%d,SASL_PLAINTEXT://127.0.0.1:%d" % (internal, sasl),
                "listener.security.protocol.map": "INTERNAL:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
                "inter.broker.listener.name": "INTERNAL",
                "sasl.enabled.mechanisms": "SCRAM-SHA-512",
            }, start=False)
            b.port = internal
            b.start()
        zk = c.zkc()
        wait_for(lambda: zk.exists("/brokers/ids/2"), 30, "broker 2 registered")
        r = subprocess.run([BROOK, "configs", "--bootstrap-server", "127.0.0.1:%d" % ports[1][0],
                            "--entity-type", "users", "--entity-name", "alice", "--alter", "--add-config",
                            "SCRAM-SHA-512=[iterations=8192,password=alice-secret]"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=T)
        assert r.returncode == 0, r.stderr
        data = json.loads(zk.get("/config/users/alice")[0])
        assert data["version"] == 1 and list(data["config"]) == ["SCRAM-SHA-512"]
        v = data["config"]["SCRAM-SHA-512"]
        assert v.startswith("salt=") and ",stored_key=" in v and ",server_key=" in v and v.endswith(",iterations=8192")
        notes = [json.loads(zk.get("/config/changes/" + n)[0]) for n in zk.get_children("/config/changes")]
        assert {"version": 2, "entity_path": "users/alice"} in notes
        # described by any broker (from ZooKeeper), by name and all users
        for args in (["--entity-name", "alice"], []):
            r = subprocess.run([BROOK, "configs", "--bootstrap-server", "127.0.0.1:%d" % ports[2][0],
                                "--entity-type", "users", *args, "--describe"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=T)
            assert r.returncode == 0, r.stderr
            assert r.stdout.strip() == "SCRAM credential configs for user-principal 'alice' are " \
                                       "SCRAM-SHA-512=iterations=8192", r.stdout
        # log in on broker 2, which never saw the AlterUserScramCredentials
        with socket.create_connection(("127.0.0.1", ports[2][1]), timeout=10) as s:
            assert scram_client(s, "alice", "alice-secret", mech="SCRAM-SHA-512")[0] == 0
        with socket.create_connection(("127.0.0.1", ports[2][1]), timeout=10) as s:
            assert scram_client(s, "alice", "nope", mech="SCRAM-SHA-512")[0] == SASL_AUTHENTICATION_FAILED
        produce_consume({"bootstrap.servers": "127.0.0.1:%d" % ports[2][1], "security.protocol": "SASL_PLAINTEXT",
                         "sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": "alice",
                         "sasl.password": "alice-secret"}, "zkscram", n=50)
        # deleting the credential: logins fail at once on every broker
        r = subprocess.run([BROOK, "configs", "--bootstrap-server", "127.0.0.1:%d" % ports[2][0],
                            "--entity-type", "users", "--entity-name", "alice", "--alter", "--delete-config",
                            "SCRAM-SHA-512"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=T)
        assert r.returncode == 0, r.stderr
        assert json.loads(zk.get("/config/users/alice")[0])["config"] == {}
        with socket.create_connection(("127.0.0.1", ports[1][1]), timeout=10) as s:
            assert scram_client(s, "alice", "alice-secret", mech="SCRAM-SHA-512")[0] == SASL_AUTHENTICATION_FAILED


def test_plain_users_from_kafka_jaas_property(brook_factory, tmp_path):
    """PLAIN users given the way Kafka brokers take them:
    listener.name.<listener>.plain.sasl.jaas.config with user_<name> options."""
    plain, sp = free_port(), free_port()
    b = brook_factory({
        "listeners": "PLAINTEXT://127.0.0.1:%d,SASL_PLAINTEXT://127.0.0.1:%d" % (plain, sp),
        "sasl.enabled.mechanisms": "PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config":
            'org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" '
            'password="admin-secret" user_admin="admin-secret" user_carol="carol-pw";',
    }, start=False)
    b.port = plain
    b.start()
    base = ["kcat", "-b", "127.0.0.1:%d" % sp, "-X", "security.protocol=sasl_plaintext",
            "-X", "sasl.mechanisms=PLAIN", "-X", "sasl.username=carol"]
    r = subprocess.run(base + ["-X", "sasl.password=carol-pw", "-L"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=T)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(base + ["-X", "sasl.password=wrong", "-m", "5", "-L"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=T)
    assert r.returncode != 0 and "Authentication" in r.stderr, r.stderr
    assert "unknown configuration" not in b.log_text()
