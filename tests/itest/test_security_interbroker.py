"""Inter-broker traffic over TLS (issue 11).

Three brokers over the real ZooKeeper harness whose only listener is SSL
(so the inter-broker listener is SSL, with ssl.client.auth=required: the
brokers authenticate to each other with their keystore certificate, mutual
TLS). Everything the brokers say to each other goes through the TLS client
of src/net/tlsclient.c:
  - follower fetches (fetcher.c): an RF3 topic reaches ISR [0,1,2] and an
    acks=all confluent-kafka producer over SSL gets its acks;
  - WriteTxnMarkers (interbroker.c): transactions across three leaders,
    committed and aborted, seen right by a read_committed consumer;
  - ControlledShutdown (interbroker.c): SIGTERM to a leader moves its
    leaderships away before it exits.
A broker whose truststore does not know the others' CA cannot replicate
(the TLS client verifies the peer).
"""

import os
import signal
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import seccerts  # noqa: E402
import zkharness  # noqa: E402
from brookharness import free_port  # noqa: E402

ck = pytest.importorskip("confluent_kafka")
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

pytestmark = [
    pytest.mark.skipif(not zkharness.available(), reason="Debian's zookeeper package is not installed"),
    pytest.mark.timeout(240),
]

EXTRA = {"replica.lag.time.max.ms": 3000, "replica.fetch.wait.max.ms": 200,
         "controlled.shutdown.retry.backoff.ms": 500}


def start_ssl_cluster(c, pki, truststore=None, per_broker=None):
    bs = []
    for nid in range(3):
        port = free_port()
        props = dict(EXTRA)
        props.update({
            "listeners": "SSL://127.0.0.1:%d" % port,
            "security.inter.broker.protocol": "SSL",
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": pki["broker.pem"],
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": (truststore or {}).get(nid, pki["ca.crt"]),
            "ssl.client.auth": "required",
        })
        props.update((per_broker or {}).get(nid, {}))
        b = c.broker(nid, props, start=False)
        b.port = port
        b.start()
        bs.append(b)
    return bs


def client_conf(pki, bs):
    return {"bootstrap.servers": ",".join("127.0.0.1:%d" % b.port for b in bs),
            "security.protocol": "ssl", "ssl.ca.location": pki["ca.crt"],
            "ssl.certificate.location": pki["client.crt"], "ssl.key.location": pki["client.key"]}


def parts(admin, topic):
    md = admin.list_topics(topic, timeout=5)
    t = md.topics.get(topic)
    if t is None or t.error is not None:
        return None
    return t.partitions


def all_registered(admin, n):
    """n brokers and a controller in the admin client's metadata (librdkafka
    sends CreateTopics to the controller it last saw: none yet would leave
    the request waiting for a metadata refresh)."""
    md = admin.list_topics(timeout=5)
    return len(md.brokers) == n and md.controller_id >= 0


def full_isr(admin, topic, n):
    ps = parts(admin, topic)
    return ps is not None and len(ps) == n and all(
        sorted(p.isrs) == [0, 1, 2] and p.leader >= 0 for p in ps.values()) and ps


@pytest.fixture
def pki(tmp_path):
    return seccerts.make_pki(tmp_path / "pki")


def test_replication_transactions_and_controlled_shutdown_over_tls(tmp_path, pki):
    from test_cluster_zk import Cluster, wait_for
    with Cluster(tmp_path) as c:
        bs = start_ssl_cluster(c, pki)
        conf = client_conf(pki, bs)
        a = AdminClient(conf)
        wait_for(lambda: all_registered(a, 3), 30, "3 brokers over SSL")
        t0 = time.monotonic()
        fs = a.create_topics([NewTopic("ibt", num_partitions=3, replication_factor=3)])
        fs["ibt"].result(30)
        ps = wait_for(lambda: full_isr(a, "ibt", 3), 60, "ISR [0,1,2] (replication over TLS)")
        print("RF3 topic: ISR [0,1,2] on 3 partitions %.2f s after creation" % (time.monotonic() - t0))
        leaders = {pid: p.leader for pid, p in ps.items()}
        assert sorted(leaders.values()) == [0, 1, 2], leaders

        # acks=all: each ack needs both followers to have fetched over TLS
        p = ck.Producer(dict(conf, **{"acks": "all", "enable.idempotence": True}))
        errs = []
        for i in range(300):
            p.produce("ibt", value=b"v%d" % i, partition=i % 3,
                      on_delivery=lambda e, m: e and errs.append(e))
        t0 = time.monotonic()
        assert p.flush(60) == 0
        assert errs == []
        print("300 acks=all records over 3 leaders in %.2f s" % (time.monotonic() - t0))
        # a measurement (printed, not asserted): 16 MB acks=all, every byte
        # replicated twice over inter-broker TLS
        val = os.urandom(1024)
        t0 = time.monotonic()
        for i in range(16384):
            while True:
                try:
                    p.produce("ibt", value=val, partition=i % 3)
                    break
                except BufferError:
                    p.poll(0.05)
        assert p.flush(120) == 0
        dt = time.monotonic() - t0
        print("16 MB acks=all over SSL, RF3, replicated over inter-broker TLS: %.2f s (%.1f MB/s)"
              % (dt, 16 / dt))
        assert errs == []
        assert full_isr(a, "ibt", 3)

        # transactions across the three leaders: markers to the other
        # leaders through interbroker.c over TLS
        tp = ck.Producer(dict(conf, **{"transactional.id": "ib-txn", "transaction.timeout.ms": 30000}))
        tp.init_transactions(30)
        outcome = {}
        for k in range(4):
            tp.begin_transaction()
            for part in range(3):
                tp.produce("ibt", value=b"t%d-%d" % (k, part), partition=part)
            if k == 2:
                tp.abort_transaction(30)
                outcome[k] = "abort"
            else:
                tp.commit_transaction(30)
                outcome[k] = "commit"
        cons = ck.Consumer(dict(conf, **{"group.id": "g-ibt", "auto.offset.reset": "earliest",
                                         "isolation.level": "read_committed",
                                         "enable.auto.commit": False}))
        cons.assign([ck.TopicPartition("ibt", part, 0) for part in range(3)])
        got = set()
        want = {b"v%d" % i for i in range(300)} | {
            b"t%d-%d" % (k, part) for k, how in outcome.items() if how == "commit" for part in range(3)}
        deadline = time.monotonic() + 60
        while not want <= got and time.monotonic() < deadline:
            m = cons.poll(0.5)
            if m is not None and not m.error():
                got.add(m.value())
        # drain a little more: nothing of the aborted transaction may appear
        end = time.monotonic() + 2
        while time.monotonic() < end:
            m = cons.poll(0.2)
            if m is not None and not m.error():
                got.add(m.value())
        cons.close()
        assert want <= got, sorted(want - got)[:10]
        assert not any(v.startswith(b"t2-") for v in got)
        tp.flush(5)

        # controlled shutdown: the victim asks the controller over TLS
        victim = [b for b in bs if b.node_id == leaders[0]][0]
        others = [b for b in bs if b is not victim]
        t0 = time.monotonic()
        victim.signal(signal.SIGTERM)
        victim.proc.wait(40)
        t_exit = time.monotonic() - t0
        victim._reap()
        assert victim.proc.returncode == 0, victim.log_tail(40)
        log = victim.log_text()
        assert "controlled shutdown succeeded" in log, log[-3000:]
        oc = client_conf(pki, others)
        a2 = AdminClient(oc)

        def moved():
            ps2 = parts(a2, "ibt")
            return ps2 and all(p.leader not in (victim.node_id, -1) for p in ps2.values())
        wait_for(moved, 20, "leaderships moved off broker %d" % victim.node_id)
        print("controlled shutdown of broker %d over TLS: exited %.2f s after SIGTERM" %
              (victim.node_id, t_exit))
        p2 = ck.Producer(dict(oc, **{"acks": "all"}))
        for i in range(30):
            p2.produce("ibt", value=b"after%d" % i, partition=i % 3)
        assert p2.flush(60) == 0
        for b in bs:
            assert "handshake with broker" not in b.log_text() or b is victim, b.log_tail(40)


def test_untrusted_peer_certificate_is_refused(tmp_path, pki):
    """Broker 2 trusts only a foreign CA: its TLS client refuses the other
    brokers' certificates, so it never joins the ISR; the other two do."""
    from test_cluster_zk import Cluster, wait_for
    other = seccerts.make_pki(tmp_path / "other")
    with Cluster(tmp_path) as c:
        bs = start_ssl_cluster(c, pki, truststore={2: other["ca.crt"]})
        conf = client_conf(pki, bs[:2])
        a = AdminClient(conf)
        wait_for(lambda: all_registered(a, 3), 30, "3 brokers registered")
        a.create_topics([NewTopic("unt", 1, replica_assignment=[[0, 1, 2]])])["unt"].result(30)

        def isr01():
            ps = parts(a, "unt")
            return ps and sorted(ps[0].isrs) in ([0, 1], [0, 1, 2]) and ps
        wait_for(isr01, 30, "partition with leader 0")
        wait_for(lambda: "TLS handshake with broker 0 failed" in bs[2].log_text()
                 or "SSL handshake with broker 0 failed" in bs[2].log_text(), 30,
                 "broker 2's fetcher refused broker 0's certificate")
        time.sleep(4)  # > replica.lag.time.max.ms
        ps = parts(a, "unt")
        assert 2 not in ps[0].isrs, ps[0].isrs
        print("broker 2 log:", [ln for ln in bs[2].log_text().splitlines() if "handshake" in ln][:2])


def test_peer_host_name_is_checked(tmp_path, pki):
    """ssl.endpoint.identification.algorithm=https (Kafka's default): broker
    0's certificate (same CA) names other.example, not 127.0.0.1, so broker
    1 refuses it; broker 2, with the algorithm set empty, accepts it."""
    import subprocess
    from test_cluster_zk import Cluster, wait_for
    d = os.path.dirname(pki["ca.crt"])
    with open(os.path.join(d, "other.ext"), "w") as f:
        f.write("subjectAltName=DNS:other.example\n")
    for args in (["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=other.example",
                  "-keyout", "other.key", "-out", "other.csr"],
                 ["x509", "-req", "-in", "other.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                  "-CAcreateserial", "-days", "2", "-out", "other.crt", "-extfile", "other.ext"]):
        subprocess.run(["openssl", *args], cwd=d, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)
    other = os.path.join(d, "other.pem")
    with open(other, "w") as out:
        for part in ("other.key", "other.crt", "ca.crt"):
            with open(os.path.join(d, part)) as f:
                out.write(f.read())
    with Cluster(tmp_path) as c:
        bs = start_ssl_cluster(c, pki, per_broker={
            0: {"ssl.keystore.location": other},
            2: {"ssl.endpoint.identification.algorithm": ""}})
        conf = dict(client_conf(pki, bs), **{"ssl.endpoint.identification.algorithm": "none"})
        a = AdminClient(conf)
        wait_for(lambda: all_registered(a, 3), 30, "3 brokers")
        a.create_topics([NewTopic("hn", 1, replica_assignment=[[0, 1, 2]])])["hn"].result(30)
        wait_for(lambda: "SSL handshake with broker 0 failed" in bs[1].log_text(), 30,
                 "broker 1 refused broker 0's certificate (host name)")

        def isr02():
            ps = parts(a, "hn")
            return ps and sorted(ps[0].isrs) == [0, 2] and ps
        wait_for(isr02, 30, "ISR [0, 2]: broker 2 replicates, broker 1 cannot")
        p = ck.Producer(dict(conf, **{"acks": "all"}))
        for i in range(20):
            p.produce("hn", value=b"h%d" % i)
        assert p.flush(60) == 0
        assert "handshake with broker 0 failed" not in bs[2].log_text(), bs[2].log_tail(30)
        print("broker 1:", [ln for ln in bs[1].log_text().splitlines() if "fetcher: SSL" in ln][:1])


def scram_znode(password, iterations=4096):
    """/config/users/<user> as kafka-configs --zookeeper writes it (SCRAM-SHA-512)."""
    import base64
    import hashlib
    import hmac
    import json
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    ck_ = hmac.new(salted, b"Client Key", hashlib.sha512).digest()
    sk = hmac.new(salted, b"Server Key", hashlib.sha512).digest()
    b64 = lambda x: base64.b64encode(x).decode()  # noqa: E731
    v = "salt=%s,stored_key=%s,server_key=%s,iterations=%d" % (
        b64(salt), b64(hashlib.sha512(ck_).digest()), b64(sk), iterations)
    return json.dumps({"version": 1, "config": {"SCRAM-SHA-512": v}}).encode()


def test_sasl_ssl_scram_sha512_between_brokers(tmp_path, pki):
    """The only listener is SASL_SSL with SCRAM-SHA-512, also between
    brokers (sasl.mechanism.inter.broker.protocol). The brokers' SCRAM user
    is created in ZooKeeper before they start, as kafka-configs --zookeeper
    does (the chicken-and-egg of SCRAM in ZooKeeper mode). Broker 2 logs in
    with a wrong password: its fetches are refused and it stays out of the
    ISR, while brokers 0 and 1 replicate."""
    from kazoo.client import KazooClient
    from test_cluster_zk import CHROOT, Cluster, wait_for
    with Cluster(tmp_path) as c:
        kz = KazooClient(hosts=c.zk.connect, timeout=10)
        kz.start(timeout=15)
        try:
            kz.create(CHROOT + "/config/users/interbroker", scram_znode("ib-secret"), makepath=True)
            kz.create(CHROOT + "/config/users/app", scram_znode("app-secret"), makepath=True)
        finally:
            kz.stop()
            kz.close()
        bs = []
        for nid in range(3):
            port = free_port()
            pw = "wrong" if nid == 2 else "ib-secret"
            props = dict(EXTRA)
            props.update({
                "listeners": "SASL_SSL://127.0.0.1:%d" % port,
                "security.inter.broker.protocol": "SASL_SSL",
                "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
                "sasl.enabled.mechanisms": "SCRAM-SHA-512",
                "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config":
                    'org.apache.kafka.common.security.scram.ScramLoginModule required '
                    'username="interbroker" password="%s";' % pw,
                "ssl.keystore.type": "PEM",
                "ssl.keystore.location": pki["broker.pem"],
                "ssl.truststore.type": "PEM",
                "ssl.truststore.location": pki["ca.crt"],
            })
            b = c.broker(nid, props, start=False)
            b.port = port
            b.start()
            bs.append(b)
        conf = {"bootstrap.servers": ",".join("127.0.0.1:%d" % b.port for b in bs[:2]),
                "security.protocol": "sasl_ssl", "ssl.ca.location": pki["ca.crt"],
                "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "app",
                "sasl.password": "app-secret"}
        a = AdminClient(conf)
        wait_for(lambda: all_registered(a, 3), 30, "3 brokers over SASL_SSL")
        a.create_topics([NewTopic("scr", 1, replica_assignment=[[0, 1, 2]]),
                         NewTopic("scr2", 1, replica_assignment=[[1, 0]])])["scr"].result(30)
        p = ck.Producer(dict(conf, **{"acks": "all"}))
        for i in range(50):
            p.produce("scr2", value=b"s%d" % i)
        t0 = time.monotonic()
        assert p.flush(60) == 0  # acks=all on [1, 0]: broker 0 fetched from 1 over SASL_SSL
        print("50 acks=all records (replica 0 fetching from 1 over SASL_SSL/SCRAM) in %.2f s"
              % (time.monotonic() - t0))
        wait_for(lambda: "SCRAM-SHA-512 authentication as interbroker failed" in bs[2].log_text(),
                 30, "broker 2's wrong password refused")

        def isr01():
            ps = parts(a, "scr")
            return ps and sorted(ps[0].isrs) == [0, 1] and ps
        wait_for(isr01, 30, "broker 2 (wrong password) out of the ISR of scr")
        for i in range(20):
            p.produce("scr", value=b"x%d" % i)
        assert p.flush(60) == 0  # acks=all with ISR [0, 1]: broker 1 fetched from 0
        for b in bs[:2]:
            assert "authentication as interbroker failed" not in b.log_text(), b.log_tail(30)
        print("broker 2:", [ln for ln in bs[2].log_text().splitlines() if "SCRAM" in ln][:1])


def test_sasl_plaintext_plain_between_brokers(tmp_path):
    """SASL_PLAINTEXT with PLAIN between brokers: the login is the
    username/password of the listener's PLAIN JAAS config (which also lists
    the users). Two brokers, RF2, acks=all both ways; then controlled
    shutdown of one through the inter-broker client."""
    from test_cluster_zk import Cluster, wait_for
    jaas = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
            'username="admin" password="admin-secret" user_admin="admin-secret" user_app="app-pw";')
    with Cluster(tmp_path) as c:
        bs = []
        for nid in range(2):
            port = free_port()
            props = dict(EXTRA)
            props.update({
                "listeners": "SASL_PLAINTEXT://127.0.0.1:%d" % port,
                "security.inter.broker.protocol": "SASL_PLAINTEXT",
                "sasl.mechanism.inter.broker.protocol": "PLAIN",
                "sasl.enabled.mechanisms": "PLAIN",
                "listener.name.sasl_plaintext.plain.sasl.jaas.config": jaas,
            })
            b = c.broker(nid, props, start=False)
            b.port = port
            b.start()
            bs.append(b)
        conf = {"bootstrap.servers": ",".join("127.0.0.1:%d" % b.port for b in bs),
                "security.protocol": "sasl_plaintext", "sasl.mechanism": "PLAIN",
                "sasl.username": "app", "sasl.password": "app-pw"}
        a = AdminClient(conf)
        wait_for(lambda: all_registered(a, 2), 30, "2 brokers over SASL")
        a.create_topics([NewTopic("pl", num_partitions=2, replication_factor=2)])["pl"].result(30)
        p = ck.Producer(dict(conf, **{"acks": "all"}))
        for i in range(100):
            p.produce("pl", value=b"p%d" % i, partition=i % 2)
        assert p.flush(60) == 0
        wait_for(lambda: all(sorted(x.isrs) == [0, 1] for x in parts(a, "pl").values()), 30, "ISR [0,1]")
        victim = bs[1]
        victim.signal(signal.SIGTERM)
        victim.proc.wait(40)
        victim._reap()
        assert victim.proc.returncode == 0, victim.log_tail(40)
        assert "controlled shutdown succeeded" in victim.log_text(), victim.log_tail(40)
        for b in bs:
            assert "handshake with broker" not in b.log_text(), b.log_tail(30)
