"""SASL/GSSAPI (Kerberos, issue 11) against a real MIT KDC.

The `realm` fixture builds realm BROOK.TEST in tmp_path with Debian's
krb5-kdc tools (kdb5_util, kadmin.local), on a free loopback port:
principals kafka/localhost (the broker), client and other, each with a
keytab. krb5kdc runs in the foreground (-n) and is killed at the end. The
broker gets KRB5_CONFIG through its environment (the harness copies
os.environ) and its keytab/principal through Kafka's
listener.name.<l>.gssapi.sasl.jaas.config. Clients are kcat and
confluent-kafka with librdkafka's own kinit (sasl.kerberos.kinit.cmd) into
a per-client credential cache.

The broker advertises its SASL listener as localhost, the host of its
principal: Kerberos clients name the service kafka/<advertised host>.
"""

import os
import shutil
import signal
import subprocess
import time

import pytest

from brookharness import REPO, free_port, port_open

pytestmark = pytest.mark.timeout(240)

BROOK = os.path.join(REPO, "build", "bin", "brook")
REALM = "BROOK.TEST"
T = 60
AUTHZ = {
    "authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
    "allow.everyone.if.no.acl.found": "false",
    "super.users": "User:ANONYMOUS",
    "group.initial.rebalance.delay.ms": 0,
    "offsets.topic.num.partitions": 1,
    "auto.create.topics.enable": "false",
}


def _tools():
    """{tool: path} of the MIT Kerberos tools, or (None, the missing one)."""
    paths = {}
    for t in ("krb5kdc", "kdb5_util", "kadmin.local", "kinit"):
        p = shutil.which(t) or next((d + "/" + t for d in ("/usr/sbin", "/usr/bin")
                                     if os.path.exists(d + "/" + t)), None)
        if not p:
            return None, t
        paths[t] = p
    return paths, None


@pytest.fixture
def realm(tmp_path, monkeypatch):
    paths, missing = _tools()
    if not paths:
        pytest.skip("MIT Kerberos tool %s not installed (scripts/deps.sh installs krb5-kdc, "
                    "krb5-admin-server, krb5-user)" % missing)
    d = tmp_path / "krb"
    d.mkdir()
    port = free_port()
    conf, kdcconf = d / "krb5.conf", d / "kdc.conf"
    conf.write_text(
        "[libdefaults]\n"
        "  default_realm = %s\n"
        "  dns_lookup_realm = false\n  dns_lookup_kdc = false\n"
        "  rdns = false\n  dns_canonicalize_hostname = false\n"
        "  udp_preference_limit = 1\n"
        "  ticket_lifetime = 1h\n"
        "[realms]\n  %s = {\n    kdc = 127.0.0.1:%d\n  }\n"
        "[domain_realm]\n  localhost = %s\n" % (REALM, REALM, port, REALM))
    kdcconf.write_text(
        "[kdcdefaults]\n  kdc_ports = %d\n  kdc_tcp_ports = %d\n"
        "[realms]\n  %s = {\n    database_name = %s/principal\n    key_stash_file = %s/stash\n"
        "    acl_file = %s/kadm5.acl\n    max_life = 1h\n"
        "    supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal\n  }\n"
        "[logging]\n  kdc = FILE:%s/kdc.log\n" % (port, port, REALM, d, d, d, d))
    (d / "kadm5.acl").write_text("")
    env = dict(os.environ, KRB5_CONFIG=str(conf), KRB5_KDC_PROFILE=str(kdcconf))

    def run(*cmd):
        r = subprocess.run(list(cmd), env=env, capture_output=True, text=True, timeout=T)
        assert r.returncode == 0, "%s: %s%s" % (cmd, r.stdout, r.stderr)

    run(paths["kdb5_util"], "create", "-s", "-r", REALM, "-P", "master-pw-not-secret")
    kt = {}
    for princ, name in (("kafka/localhost", "kafka"), ("client", "client"), ("other", "other"),
                        ("stranger", "stranger")):
        run(paths["kadmin.local"], "-r", REALM, "-q", "addprinc -randkey %s@%s" % (princ, REALM))
        kt[name] = str(d / (name + ".keytab"))
        run(paths["kadmin.local"], "-r", REALM, "-q", "ktadd -k %s %s@%s" % (kt[name], princ, REALM))
    # stranger's keytab goes stale: re-randomize its key in the KDC
    run(paths["kadmin.local"], "-r", REALM, "-q", "cpw -randkey stranger@%s" % REALM)
    kdc_log = open(d / "krb5kdc.out", "w")
    kdc = subprocess.Popen([paths["krb5kdc"], "-n", "-r", REALM], env=env, stdout=kdc_log,
                           stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while not port_open(port):
            if kdc.poll() is not None or time.monotonic() > deadline:
                kdc_log.flush()
                out = (d / "krb5kdc.out").read_text()
                pytest.skip("krb5kdc cannot run here (rc=%s): %s" % (kdc.poll(), out[-500:]))
            time.sleep(0.1)
        monkeypatch.setenv("KRB5_CONFIG", str(conf))
        monkeypatch.setenv("KRB5CCNAME", "FILE:%s/cc-client" % d)
        yield {"dir": d, "conf": str(conf), "keytab": kt, "kinit": paths["kinit"], "env": env}
    finally:
        kdc.send_signal(signal.SIGTERM)
        try:
            kdc.wait(10)
        except subprocess.TimeoutExpired:
            kdc.kill()
            kdc.wait(10)
        kdc_log.close()


def start_broker(brook_factory, realm, authz=False):
    plain, sp = free_port(), free_port()
    props = {
        "listeners": "PLAINTEXT://127.0.0.1:%d,SASL_PLAINTEXT://127.0.0.1:%d" % (plain, sp),
        "advertised.listeners": "PLAINTEXT://127.0.0.1:%d,SASL_PLAINTEXT://localhost:%d" % (plain, sp),
        "sasl.enabled.mechanisms": "GSSAPI",
        "sasl.kerberos.service.name": "kafka",
        "listener.name.sasl_plaintext.gssapi.sasl.jaas.config":
            'com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true storeKey=true '
            'keyTab="%s" principal="kafka/localhost@%s";' % (realm["keytab"]["kafka"], REALM),
    }
    if authz:
        props.update(AUTHZ)
    b = brook_factory(props, start=False)
    b.port = plain
    b.start()
    b.sasl_port = sp
    return b


def client_conf(realm, b, who="client"):
    kt = realm["keytab"][who]
    return {
        "bootstrap.servers": "localhost:%d" % b.sasl_port,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanisms": "GSSAPI",
        "sasl.kerberos.service.name": "kafka",
        "sasl.kerberos.keytab": kt,
        "sasl.kerberos.principal": "%s@%s" % (who, REALM),
        "sasl.kerberos.kinit.cmd": "%s -k -t %s %s@%s" % (realm["kinit"], kt, who, REALM),
    }


def kcat_args(realm, b, who):
    c = client_conf(realm, b, who)
    args = ["kcat", "-b", c.pop("bootstrap.servers")]
    for k, v in c.items():
        args += ["-X", "%s=%s" % (k, v)]
    return args


def kcat(realm, b, who, extra, inp=None, timeout=T):
    env = dict(os.environ, KRB5_CONFIG=realm["conf"],
               KRB5CCNAME="FILE:%s/cc-kcat-%s" % (realm["dir"], who))
    return subprocess.run(kcat_args(realm, b, who) + extra, input=inp, capture_output=True,
                          text=True, timeout=timeout, env=env)


def create_topic(b, name):
    from confluent_kafka.admin import AdminClient, NewTopic

    a = AdminClient({"bootstrap.servers": b.bootstrap})
    for f in a.create_topics([NewTopic(name, 1, 1)]).values():
        f.result(30)


def produce_consume(conf, topic, n=100):
    from confluent_kafka import Consumer, KafkaException, Producer

    errors = []
    p = Producer(dict(conf, **{"error_cb": errors.append}))
    for i in range(n):
        p.produce(topic, value=b"k%d" % i)
    assert p.flush(40) == 0, errors
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
    assert got == [b"k%d" % i for i in range(n)]


def test_gssapi_confluent_and_kcat_produce_consume(brook_factory, realm):
    b = start_broker(brook_factory, realm)
    create_topic(b, "kt")
    t0 = time.monotonic()
    produce_consume(client_conf(realm, b), "kt")
    print("confluent-kafka GSSAPI produce+consume: %.2fs" % (time.monotonic() - t0))
    r = kcat(realm, b, "client", ["-P", "-t", "kt"], inp="from-kcat-1\nfrom-kcat-2\n")
    assert r.returncode == 0, r.stderr
    r = kcat(realm, b, "client", ["-C", "-t", "kt", "-o", "-2", "-e", "-q"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["from-kcat-1", "from-kcat-2"]
    log = b.log_text()
    assert "Kerberos principal client@%s is User:client" % REALM in log
    b.assert_alive("after GSSAPI clients")


def test_gssapi_principal_is_user_client_for_acls(brook_factory, realm):
    b = start_broker(brook_factory, realm, authz=True)
    create_topic(b, "acl-t")
    r = subprocess.run([BROOK, "acls", "--bootstrap-server", b.bootstrap, "--add",
                        "--allow-principal", "User:client", "--operation", "All",
                        "--topic", "acl-t", "--group", "*"],
                       capture_output=True, text=True, timeout=T)
    assert r.returncode == 0, r.stdout + r.stderr
    # User:client may write and read
    r = kcat(realm, b, "client", ["-P", "-t", "acl-t"], inp="allowed\n")
    assert r.returncode == 0, r.stderr
    r = kcat(realm, b, "client", ["-C", "-t", "acl-t", "-o", "beginning", "-e", "-q"])
    assert r.returncode == 0 and r.stdout.split() == ["allowed"], r.stderr
    # User:other authenticates (a valid Kerberos principal) but has no ACL
    r = kcat(realm, b, "other", ["-P", "-t", "acl-t", "-X", "message.timeout.ms=8000"],
             inp="denied\n")
    print("User:other produce: rc=%d %s" % (r.returncode, r.stderr[-300:]))
    assert r.returncode != 0 or "TOPIC_AUTHORIZATION_FAILED" in r.stderr or \
        "not authorized" in r.stderr.lower(), (r.returncode, r.stderr)
    assert "authoriz" in r.stderr.lower(), r.stderr
    assert "Kerberos principal other@%s is User:other" % REALM in b.log_text()
    r = kcat(realm, b, "client", ["-C", "-t", "acl-t", "-o", "beginning", "-e", "-q"])
    assert r.returncode == 0 and r.stdout.split() == ["allowed"], r.stderr
    b.assert_alive("after an unauthorized Kerberos principal")


def test_gssapi_stale_keytab_fails_and_broker_stays_up(brook_factory, realm):
    b = start_broker(brook_factory, realm)
    create_topic(b, "kt2")
    # stranger's keytab holds an outdated key: kinit fails, so librdkafka
    # cannot get a ticket and the connection never authenticates
    r = kcat(realm, b, "stranger", ["-L", "-m", "8"], timeout=30)
    print("stale keytab: rc=%d %s" % (r.returncode, r.stderr[-300:]))
    assert r.returncode != 0 or "kt2" not in r.stdout, r.stdout
    # a client holding another service's ticket: service name mismatch
    bad = kcat_args(realm, b, "client")
    bad[bad.index("sasl.kerberos.service.name=kafka")] = "sasl.kerberos.service.name=nosuch"
    env = dict(os.environ, KRB5_CONFIG=realm["conf"],
               KRB5CCNAME="FILE:%s/cc-kcat-bad" % realm["dir"])
    r = subprocess.run(bad + ["-L", "-m", "8"], capture_output=True, text=True, timeout=30, env=env)
    print("wrong service name: rc=%d %s" % (r.returncode, r.stderr[-300:]))
    assert "kt2" not in r.stdout, r.stdout
    # garbage GSSAPI tokens over the wire: refused, connection closed
    import socket
    import struct

    def req(s, key, ver, corr, body):
        h = struct.pack(">hhih", key, ver, corr, 3) + b"raw"
        s.sendall(struct.pack(">i", len(h) + len(body)) + h + body)
        n = struct.unpack(">i", s.recv(4, socket.MSG_WAITALL))[0]
        return s.recv(n, socket.MSG_WAITALL)

    s = socket.create_connection(("127.0.0.1", b.sasl_port), timeout=10)
    resp = req(s, 17, 1, 1, struct.pack(">h", 6) + b"GSSAPI")
    assert struct.unpack(">h", resp[4:6])[0] == 0, resp
    tok = b"\x60\x82" + os.urandom(300)
    resp = req(s, 36, 1, 2, struct.pack(">i", len(tok)) + tok)
    assert struct.unpack(">h", resp[4:6])[0] == 58, resp  # SASL_AUTHENTICATION_FAILED
    s.settimeout(10)
    assert s.recv(1) == b""
    s.close()
    b.assert_alive("after failed GSSAPI authentications")
    # and a good client still works
    r = kcat(realm, b, "client", ["-L"])
    assert r.returncode == 0 and "kt2" in r.stdout, r.stderr


def test_gssapi_broker_keytab_outdated_refuses(brook_factory, realm):
    """The broker's keytab no longer holds the service key (the KDC re-keyed
    kafka/localhost): the client's real ticket cannot be decrypted, the
    broker answers SASL_AUTHENTICATION_FAILED and stays up."""
    b = start_broker(brook_factory, realm)
    create_topic(b, "kt3")
    r = kcat(realm, b, "client", ["-L"])
    assert r.returncode == 0 and "kt3" in r.stdout, r.stderr
    kadmin = shutil.which("kadmin.local") or "/usr/sbin/kadmin.local"
    k = subprocess.run([kadmin, "-r", REALM, "-q", "cpw -randkey kafka/localhost@%s" % REALM],
                       env=realm["env"], capture_output=True, text=True, timeout=T)
    assert k.returncode == 0, k.stderr
    env = dict(os.environ, KRB5_CONFIG=realm["conf"],
               KRB5CCNAME="FILE:%s/cc-kcat-rekeyed" % realm["dir"])
    r = subprocess.run(kcat_args(realm, b, "client") + ["-L", "-m", "8"], capture_output=True,
                       text=True, timeout=30, env=env)
    print("outdated broker keytab: rc=%d %s" % (r.returncode, r.stderr[-300:]))
    assert r.returncode != 0 and "kt3" not in r.stdout, r.stdout
    assert "SASL mechanism GSSAPI" in b.log_text()
    b.assert_alive("after GSSAPI tokens it cannot decrypt")


def test_gssapi_over_sasl_ssl(brook_factory, realm, tmp_path):
    """GSSAPI on a SASL_SSL listener: TLS underneath, Kerberos on top."""
    import seccerts

    pki = seccerts.make_pki(tmp_path / "pki")
    plain, ss = free_port(), free_port()
    props = {
        "listeners": "PLAINTEXT://127.0.0.1:%d,SASL_SSL://127.0.0.1:%d" % (plain, ss),
        "advertised.listeners": "PLAINTEXT://127.0.0.1:%d,SASL_SSL://localhost:%d" % (plain, ss),
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": pki["broker.pem"],
        "sasl.enabled.mechanisms": "GSSAPI",
        "listener.name.sasl_ssl.gssapi.sasl.jaas.config":
            'com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true '
            'keyTab="%s" principal="kafka/localhost@%s";' % (realm["keytab"]["kafka"], REALM),
    }
    b = brook_factory(props, start=False)
    b.port = plain
    b.start()
    b.sasl_port = ss
    create_topic(b, "kts")
    conf = dict(client_conf(realm, b), **{"security.protocol": "SASL_SSL",
                                          "ssl.ca.location": pki["ca.crt"]})
    produce_consume(conf, "kts", n=50)
    assert "Kerberos principal client@%s is User:client" % REALM in b.log_text()
