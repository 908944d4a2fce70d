"""Issue 11 (ACLs): the authorizer against real clients - confluent-kafka
1.7.0 (librdkafka 2.0.2), kafka-python 2.0.2 and kcat - and `brook acls`.

Until the TLS/SASL listeners land every connection runs as User:ANONYMOUS,
so the tests grant and take rights from that principal (PRINCIPAL below;
other principals are added by the SASL tests). The broker starts with
authorizer.class.name set and allow.everyone.if.no.acl.found=false. The
`secured` fixture first runs it with super.users=User:ANONYMOUS to create
the topics and let ANONYMOUS manage ACLs (ALTER and DESCRIBE on the
cluster), then restarts it without super users: from then on ANONYMOUS
has no right on any topic or group until a test grants one, and the
cluster ACLs surviving the restart already show that ACLs persist.
"""

import json
import os
import subprocess
import time
import uuid

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BROOK = os.environ.get("BROOK_TOOL", os.path.join(REPO, "build", "bin", "brook"))
PRINCIPAL = "User:ANONYMOUS"
AUTHZ = {
    "authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
    "allow.everyone.if.no.acl.found": "false",
    "group.initial.rebalance.delay.ms": 0,
    "offsets.topic.num.partitions": 1,
    "auto.create.topics.enable": "false",
}
TOPICS = ["t", "app-1", "app-2", "secret", "other"]

pytestmark = pytest.mark.timeout(180)


def acls(*args, check=True):
    p = subprocess.run([BROOK, "acls"] + [str(a) for a in args], capture_output=True, text=True,
                       timeout=60)
    if check:
        assert p.returncode == 0, "brook acls %s: rc=%d\n%s%s" % (args, p.returncode, p.stdout, p.stderr)
    return p


@pytest.fixture
def secured(brook_factory):
    from confluent_kafka.admin import AdminClient, NewTopic
    props = dict(AUTHZ, **{"super.users": PRINCIPAL})
    b = brook_factory(props)
    a = AdminClient({"bootstrap.servers": b.bootstrap})
    for f in a.create_topics([NewTopic(t, 1, 1) for t in TOPICS]).values():
        f.result(30)
    acls("--bootstrap-server", b.bootstrap, "--add", "--allow-principal", PRINCIPAL,
         "--operation", "Alter", "--operation", "Describe", "--cluster")
    del b.extra_props["super.users"]
    b.restart()
    return b


def produce_ck(b, topic, n=3):
    """Errors (by code name) of n confluent-kafka deliveries; [] if all went through."""
    from confluent_kafka import Producer
    errs = []
    p = Producer({"bootstrap.servers": b.bootstrap, "message.timeout.ms": 8000,
                  "enable.idempotence": False, "retries": 0})
    for i in range(n):
        p.produce(topic, b"v%d" % i, on_delivery=lambda e, m: errs.append(e.name() if e else None))
    p.flush(20)
    assert len(errs) == n, errs
    return [e for e in errs if e]


def consume_ck(b, topic, group, want, timeout=20):
    """(values, errors) from a confluent-kafka group consumer."""
    from confluent_kafka import Consumer
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": group,
                  "auto.offset.reset": "earliest", "session.timeout.ms": 6000,
                  "enable.auto.commit": False})
    c.subscribe([topic])
    vals, errs = [], []
    end = time.time() + timeout
    try:
        while time.time() < end and len(vals) < want and not errs:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                errs.append(m.error().name())
            else:
                vals.append(m.value())
        if vals and not errs:
            c.commit(asynchronous=False)
    finally:
        c.close()
    return vals, errs


def metadata_topics(b):
    from confluent_kafka.admin import AdminClient
    md = AdminClient({"bootstrap.servers": b.bootstrap}).list_topics(timeout=10)
    return {n: (t.error.name() if t.error else None) for n, t in md.topics.items()}


def test_no_acls_denies_produce_consume_and_group(secured):
    b = secured
    errs = produce_ck(b, "t")
    assert errs and set(errs) == {"TOPIC_AUTHORIZATION_FAILED"}, errs
    vals, errs = consume_ck(b, "t", "g-" + uuid.uuid4().hex[:6], 1, timeout=15)
    assert not vals
    assert errs and errs[0] in ("TOPIC_AUTHORIZATION_FAILED", "GROUP_AUTHORIZATION_FAILED"), errs

    # kafka-python: the Java-named exceptions. Its producer waits for
    # metadata, so it may DESCRIBE the topic, not WRITE it.
    acls("--bootstrap-server", b.bootstrap, "--add", "--allow-principal", PRINCIPAL,
         "--operation", "Describe", "--topic", "t")
    import kafka
    from kafka.errors import TopicAuthorizationFailedError, GroupAuthorizationFailedError
    p = kafka.KafkaProducer(bootstrap_servers=b.bootstrap, retries=0, max_block_ms=8000)
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            p.send("t", b"x").get(timeout=15)
    finally:
        p.close(5)
    # READ on the topic but not on the group: the group is refused
    acls("--bootstrap-server", b.bootstrap, "--add", "--allow-principal", PRINCIPAL,
         "--operation", "Read", "--topic", "t")
    c = kafka.KafkaConsumer("t", bootstrap_servers=b.bootstrap, group_id="kp-group",
                            auto_offset_reset="earliest", consumer_timeout_ms=8000)
    try:
        with pytest.raises(GroupAuthorizationFailedError):
            end = time.time() + 20
            while time.time() < end:
                c.poll(timeout_ms=500)
    finally:
        c.close()

    # kcat: produce is refused
    r = subprocess.run(["kcat", "-b", b.bootstrap, "-P", "-t", "secret", "-X",
                        "message.timeout.ms=5000"], input=b"x\n", capture_output=True, timeout=30)
    assert b"Topic authorization failed" in r.stderr, r.stderr


def test_acls_grant_produce_consume_and_group(secured):
    b = secured
    assert produce_ck(b, "t") == ["TOPIC_AUTHORIZATION_FAILED"] * 3
    out = acls("--bootstrap-server", b.bootstrap, "--add", "--allow-principal", PRINCIPAL,
               "--operation", "Write", "--operation", "Read", "--topic", "t").stdout
    assert "Adding ACLs for resource `ResourcePattern(resourceType=TOPIC, name=t, patternType=LITERAL)`:" in out
    assert "(principal=User:ANONYMOUS, host=*, operation=WRITE, permissionType=ALLOW)" in out
    assert produce_ck(b, "t") == []
    # READ on the topic, none on the group yet
    vals, errs = consume_ck(b, "t", "g1", 3, timeout=15)
    assert errs == ["GROUP_AUTHORIZATION_FAILED"], (vals, errs)
    acls("--bootstrap-server", b.bootstrap, "--add", "--allow-principal", PRINCIPAL, "--consumer",
         "--topic", "t", "--group", "g1")
    vals, errs = consume_ck(b, "t", "g1", 3)
    assert errs == [] and sorted(vals) == [b"v0", b"v1", b"v2"], (vals, errs)
    # kcat reads with the same rights
    r = subprocess.run(["kcat", "-b", b.bootstrap, "-C", "-t", "t", "-o", "beginning", "-e", "-q"],
                       capture_output=True, timeout=30)
    assert r.stdout.split() == [b"v0", b"v1", b"v2"], r


def test_prefixed_acl_and_deny_wins(secured):
    b = secured
    acls("--bootstrap-server", b.bootstrap, "--add", "--allow-principal", PRINCIPAL,
         "--operation", "Write", "--topic", "app-", "--resource-pattern-type", "prefixed")
    assert produce_ck(b, "app-1") == []
    assert produce_ck(b, "app-2") == []
    assert produce_ck(b, "other") == ["TOPIC_AUTHORIZATION_FAILED"] * 3
    # DENY on one literal topic beats the prefixed ALLOW
    acls("--bootstrap-server", b.bootstrap, "--add", "--deny-principal", PRINCIPAL,
         "--operation", "Write", "--topic", "app-2")
    assert produce_ck(b, "app-2") == ["TOPIC_AUTHORIZATION_FAILED"] * 3
    assert produce_ck(b, "app-1") == []
    out = acls("--bootstrap-server", b.bootstrap, "--list", "--topic", "app-2",
               "--resource-pattern-type", "match").stdout
    assert "name=app-, patternType=PREFIXED" in out and "permissionType=DENY" in out, out
    # removing the DENY gives the right back
    out = acls("--bootstrap-server", b.bootstrap, "--remove", "--force", "--deny-principal",
               PRINCIPAL, "--operation", "Write", "--topic", "app-2").stdout
    assert "Removing ACLs" in out
    assert produce_ck(b, "app-2") == []


def test_metadata_hides_undescribable_topics(secured):
    b = secured
    assert set(metadata_topics(b)) == set()
    acls("--bootstrap-server", b.bootstrap, "--add", "--allow-principal", PRINCIPAL,
         "--operation", "Describe", "--topic", "t")
    acls("--bootstrap-server", b.bootstrap, "--add", "--allow-principal", PRINCIPAL,
         "--operation", "Read", "--topic", "app-", "--resource-pattern-type", "prefixed")
    assert set(metadata_topics(b)) == {"t", "app-1", "app-2"}
    # named explicitly: TOPIC_AUTHORIZATION_FAILED (kafka-python asks by name)
    import kafka
    from kafka.errors import TopicAuthorizationFailedError
    c = kafka.KafkaConsumer(bootstrap_servers=b.bootstrap)
    try:
        parts = c.partitions_for_topic("t")
        assert parts == {0}
    finally:
        c.close()
    p = kafka.KafkaProducer(bootstrap_servers=b.bootstrap, max_block_ms=5000)
    try:
        with pytest.raises((TopicAuthorizationFailedError, kafka.errors.KafkaTimeoutError)):
            p.send("secret", b"x").get(timeout=10)
    finally:
        p.close(5)


def test_admin_api_round_trip_and_restart(secured):
    b = secured
    from kafka.admin import (KafkaAdminClient, ACL, ACLFilter, ACLOperation, ACLPermissionType,
                             ResourcePattern, ResourcePatternFilter, ResourceType)
    from kafka.admin.acl_resource import ACLResourcePatternType
    a = KafkaAdminClient(bootstrap_servers=b.bootstrap)
    try:
        want = [
            ACL(PRINCIPAL, "*", ACLOperation.READ, ACLPermissionType.ALLOW,
                ResourcePattern(ResourceType.TOPIC, "other")),
            ACL("User:alice", "10.1.2.3", ACLOperation.WRITE, ACLPermissionType.DENY,
                ResourcePattern(ResourceType.TOPIC, "app-", ACLResourcePatternType.PREFIXED)),
            ACL("User:alice", "*", ACLOperation.READ, ACLPermissionType.ALLOW,
                ResourcePattern(ResourceType.GROUP, "*")),
        ]
        res = a.create_acls(want)
        assert len(res["succeeded"]) == 3 and not res["failed"], res
        # invalid: the CLUSTER resource must be named kafka-cluster
        bad = a.create_acls([ACL("User:x", "*", ACLOperation.ALTER, ACLPermissionType.ALLOW,
                                 ResourcePattern(ResourceType.CLUSTER, "c"))])
        assert len(bad["failed"]) == 1, bad
        got, err = a.describe_acls(ACLFilter(None, None, ACLOperation.ANY, ACLPermissionType.ANY,
                                             ResourcePatternFilter(ResourceType.TOPIC, None,
                                                                   ACLResourcePatternType.ANY)))
        assert {(x.principal, x.host, x.operation, x.permission_type, x.resource_pattern.resource_name)
                for x in got} == {
            (PRINCIPAL, "*", ACLOperation.READ, ACLPermissionType.ALLOW, "other"),
            ("User:alice", "10.1.2.3", ACLOperation.WRITE, ACLPermissionType.DENY, "app-")}
        # survives a restart (single node: the local store)
        b.restart()
        a.close()
        a = KafkaAdminClient(bootstrap_servers=b.bootstrap)
        got, err = a.describe_acls(ACLFilter("User:alice", None, ACLOperation.ANY,
                                             ACLPermissionType.ANY,
                                             ResourcePatternFilter(ResourceType.ANY, None,
                                                                   ACLResourcePatternType.ANY)))
        assert len(got) == 2, got
        deleted = a.delete_acls([ACLFilter("User:alice", None, ACLOperation.ANY,
                                           ACLPermissionType.ANY,
                                           ResourcePatternFilter(ResourceType.ANY, None,
                                                                 ACLResourcePatternType.ANY))])
        assert len(deleted[0][1]) == 2, deleted
        got, err = a.describe_acls(ACLFilter("User:alice", None, ACLOperation.ANY,
                                             ACLPermissionType.ANY,
                                             ResourcePatternFilter(ResourceType.ANY, None,
                                                                   ACLResourcePatternType.ANY)))
        assert got == [], got
    finally:
        a.close()
    # the READ on `other` granted above works after the restart
    vals, errs = consume_ck(b, "other", "nogroup-rights", 1, timeout=10)
    assert errs == ["GROUP_AUTHORIZATION_FAILED"]


def test_security_disabled_without_authorizer(brook):
    out = acls("--bootstrap-server", brook.bootstrap, "--list", check=False)
    assert out.returncode == 1 and "SecurityDisabledException" in out.stderr, out


def test_super_user_bypasses_deny(brook_factory):
    b = brook_factory(dict(AUTHZ, **{"super.users": "User:nobody; " + PRINCIPAL}))
    from confluent_kafka.admin import AdminClient, NewTopic
    a = AdminClient({"bootstrap.servers": b.bootstrap})
    a.create_topics([NewTopic("t", 1, 1)])["t"].result(30)
    acls("--bootstrap-server", b.bootstrap, "--add", "--deny-principal", PRINCIPAL,
         "--operation", "All", "--topic", "*")
    assert produce_ck(b, "t") == []


# ------------------------------------------------- 3 brokers on ZooKeeper

def _cluster_mod():
    import importlib
    import sys
    here = os.path.dirname(os.path.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)
    return importlib.import_module("test_cluster_zk")


def listed(bootstrap, *args):
    p = acls("--bootstrap-server", bootstrap, "--list", *args, check=False)
    return p.stdout if p.returncode == 0 else ""


def test_acls_reach_every_broker_through_zookeeper(tmp_path):
    tz = _cluster_mod()
    if not tz.zkharness.available():
        pytest.skip("Debian's zookeeper package is not installed")
    from confluent_kafka.admin import AdminClient, NewTopic
    # allow.everyone.if.no.acl.found=true: the brokers' own requests
    # (CLUSTER_ACTION, no ACL on the cluster) pass; a DENY on a topic bites
    extra = dict(AUTHZ, **{"allow.everyone.if.no.acl.found": "true",
                           "offsets.topic.replication.factor": 3})
    with tz.Cluster(tmp_path) as c:
        bs = [c.broker(i, extra) for i in range(3)]
        tz.wait_for(lambda: tz.all_see_three(bs), 30, "three brokers")
        a = AdminClient({"bootstrap.servers": bs[0].bootstrap})
        a.create_topics([NewTopic("t", 1, 3)])["t"].result(30)
        boot = ",".join(b.bootstrap for b in bs)
        tz.wait_for(lambda: produce_ck(bs[0], "t", 1) == [], 30, "produce before any ACL")

        acls("--bootstrap-server", bs[0].bootstrap, "--add", "--deny-principal", PRINCIPAL,
             "--operation", "Write", "--topic", "t")
        kz = c.zkc()
        # CreateAcls answers once the znode and the notification are written
        assert kz.exists("/kafka-acl/Topic/t")
        data, _ = tz.zk_json(kz, "/kafka-acl/Topic/t")
        assert data == {"version": 1, "acls": [{"principal": PRINCIPAL, "permissionType": "Deny",
                                                "operation": "Write", "host": "*"}]}, data
        tz.wait_for(lambda: kz.get_children("/kafka-acl-changes"), 10, "a notification")
        notes = kz.get_children("/kafka-acl-changes")
        assert notes and all(n.startswith("acl_changes_") for n in notes), notes
        assert kz.get("/kafka-acl-changes/" + sorted(notes)[-1])[0] == b"Topic:t"
        for b in bs:
            tz.wait_for(lambda: "permissionType=DENY" in listed(b.bootstrap, "--topic", "t"), 20,
                        "the DENY on broker %d" % b.node_id)
        errs = produce_ck(bs[1], "t", 2)
        assert errs == ["TOPIC_AUTHORIZATION_FAILED"] * 2, errs

        # prefixed, added through another broker
        acls("--bootstrap-server", bs[1].bootstrap, "--add", "--deny-principal", PRINCIPAL,
             "--operation", "Describe", "--topic", "hid", "--resource-pattern-type", "prefixed")
        tz.wait_for(lambda: kz.exists("/kafka-acl-extended/prefixed/Topic/hid"), 10, "znode")
        data, _ = tz.zk_json(kz, "/kafka-acl-extended/prefixed/Topic/hid")
        assert data["acls"][0]["operation"] == "Describe", data
        tz.wait_for(lambda: kz.get_children("/kafka-acl-extended-changes"), 10, "a notification")
        note = sorted(kz.get_children("/kafka-acl-extended-changes"))[-1]
        assert json.loads(kz.get("/kafka-acl-extended-changes/" + note)[0]) == {
            "version": 1, "resourceType": "Topic", "name": "hid", "patternType": "PREFIXED"}
        a.create_topics([NewTopic("hidden-1", 1, 1), NewTopic("open", 1, 1)])["open"].result(30)
        for b in bs:
            # (t has ACLs now, none allowing DESCRIBE: hidden too, as in Kafka)
            tz.wait_for(lambda: "hidden-1" not in metadata_topics(b) and "open" in metadata_topics(b),
                        20, "hidden-1 hidden on broker %d" % b.node_id)

        # removed through the third broker: writes work again everywhere
        acls("--bootstrap-server", bs[2].bootstrap, "--remove", "--force", "--deny-principal",
             PRINCIPAL, "--operation", "Write", "--topic", "t")
        assert not kz.exists("/kafka-acl/Topic/t")  # DeleteAcls waited for ZooKeeper
        for b in bs:
            tz.wait_for(lambda: "name=t," not in listed(b.bootstrap, "--topic", "t"), 20,
                        "the DENY gone from broker %d" % b.node_id)
        tz.wait_for(lambda: produce_ck(bs[0], "t", 1) == [], 30, "produce after the removal")

        # a restarted broker reads them from ZooKeeper
        bs[0].restart()
        tz.wait_for(lambda: "name=hid, patternType=PREFIXED" in listed(bs[0].bootstrap), 20,
                    "the prefixed ACL after a restart")
        assert "hidden-1" not in metadata_topics(bs[0])


def test_idempotent_and_transactional_producers(secured):
    b = secured
    from confluent_kafka import Producer, KafkaException
    acls("--bootstrap-server", b.bootstrap, "--add", "--allow-principal", PRINCIPAL,
         "--operation", "Write", "--topic", "t")
    # idempotent: InitProducerId passes on WRITE on some topic (KIP-679)
    errs = []
    p = Producer({"bootstrap.servers": b.bootstrap, "enable.idempotence": True,
                  "message.timeout.ms": 10000})
    for i in range(3):
        p.produce("t", b"i%d" % i, on_delivery=lambda e, m: errs.append(e))
    p.flush(20)
    assert errs == [None] * 3, errs
    # transactional without rights on the transactional id
    tp = Producer({"bootstrap.servers": b.bootstrap, "transactional.id": "tx-1"})
    with pytest.raises(KafkaException) as ei:
        tp.init_transactions(15)
    assert ei.value.args[0].name() == "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", ei.value
    # with WRITE on it: a transaction commits
    acls("--bootstrap-server", b.bootstrap, "--add", "--allow-principal", PRINCIPAL,
         "--operation", "Write", "--transactional-id", "tx-2")
    tp = Producer({"bootstrap.servers": b.bootstrap, "transactional.id": "tx-2"})
    tp.init_transactions(15)
    tp.begin_transaction()
    tp.produce("t", b"txn")
    tp.commit_transaction(15)


def _s(v):
    import struct
    if v is None:
        return struct.pack(">h", -1)
    v = v.encode() if isinstance(v, str) else v
    return struct.pack(">h", len(v)) + v


@pytest.mark.brook_config(dict(AUTHZ, **{"super.users": PRINCIPAL}))
def test_hostile_acl_requests_do_not_hurt_the_broker(brook, healthy):
    import struct
    import kwire
    bad = [
        (2, "t", 3, "", "*", 3, 3),            # empty principal
        (2, "", 3, "User:a", "*", 3, 3),       # empty name
        (99, "t", 3, "User:a", "*", 3, 3),     # unknown resource type
        (2, "t", 2, "User:a", "*", 3, 3),      # MATCH on create
        (2, "t", 3, "User:a", "*", 99, 3),     # unknown operation
        (2, "t", 3, "User:a", "*", 1, 3),      # ANY operation
        (2, "t", 3, "User:a", "*", 3, 7),      # unknown permission
        (4, "other-cluster", 3, "User:a", "*", 7, 3),
        (2, "x" * 5000, 3, "User:a", "*", 3, 3),
        (2, "t", 3, "nocolon", "", 3, 3),
        (2, b"t\x00u", 3, "User:\xff", "*", 3, 3),
    ]
    body = struct.pack(">i", len(bad))
    for rt, name, pt, pr, host, op, perm in bad:
        body += struct.pack(">b", rt) + _s(name) + struct.pack(">b", pt) + _s(pr) + _s(host) + \
            struct.pack(">bb", op, perm)
    with kwire.Conn(brook.host, brook.port, 10) as c:
        got, resp = c.roundtrip(30, 1, 5, body)
        assert got == 5
        thr, n = struct.unpack(">ii", resp[:8])
        assert n == len(bad)
        off, codes = 8, []
        for _ in range(n):
            code, mlen = struct.unpack(">hh", resp[off:off + 4])
            off += 4 + max(mlen, 0)
            codes.append(code)
        # the embedded NUL is cut at the NUL: "t" for User:\xff is valid
        assert codes[:10] == [42] * 10, codes
    # null in a non-nullable string, truncated and garbage bodies close the
    # connection (Kafka's parse error), the broker stays up
    nulls = struct.pack(">i", 1) + struct.pack(">b", 2) + _s(None) + struct.pack(">b", 3) + \
        _s("User:a") + _s("*") + struct.pack(">bb", 3, 3)
    for key, ver, junk in [(30, 1, nulls), (30, 1, b"\x00\x00\x00\x05\x02"), (29, 1, b"\xff" * 7),
                           (31, 1, b"\x7f\xff\xff\xff"), (49, 0, b"\x00\x00\x00\x01"),
                           (48, 0, b"\x00\x00\x10\x00")]:
        with kwire.Conn(brook.host, brook.port, 5) as c:
            c.send(kwire.request(key, ver, 9, junk))
            c.wait_closed(5)
    healthy("after hostile ACL and quota requests")
    out = acls("--bootstrap-server", brook.bootstrap, "--list").stdout
    assert "other-cluster" not in out and "nocolon" not in out
