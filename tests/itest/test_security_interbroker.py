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


def start_ssl_cluster(c, pki, truststore=None):
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
        wait_for(lambda: len(a.list_topics(timeout=5).brokers) == 3, 30, "3 brokers over SSL")
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
        wait_for(lambda: len(a.list_topics(timeout=5).brokers) == 3, 30, "3 brokers registered")
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
