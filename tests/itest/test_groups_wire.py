"""Group APIs over the raw wire, for what clients do not show: batched
FindCoordinator v4 (and the transaction key type), JoinGroup v5
MEMBER_ID_REQUIRED, a parked JoinGroup whose connection closes, Heartbeat
fencing, ListGroups v4 state filter, OffsetFetch v8 (several groups, null
topics), OffsetDelete's GROUP_SUBSCRIBED_TO_TOPIC.
"""

import socket
import struct
import time

import pytest

import kwire
from kwire import Reader, Writer

GROUP_PROPS = {"group.initial.rebalance.delay.ms": 0, "offsets.topic.num.partitions": 3}

MEMBER_ID_REQUIRED = 79
REBALANCE_IN_PROGRESS = 27
ILLEGAL_GENERATION = 22
UNKNOWN_MEMBER_ID = 25
COORDINATOR_NOT_AVAILABLE = 15
GROUP_SUBSCRIBED_TO_TOPIC = 86


def subscription(topics):
    w = Writer().i16(0).i32(len(topics))
    for t in topics:
        w.string(t)
    return w.i32(-1).bytes()  # user data: null


def join_body(group, member, topics, session_ms=10000):
    meta = subscription(topics)
    w = Writer().string(group).i32(session_ms).i32(30000).string(member).string(None)  # v5
    w.string("consumer").i32(1).string("range").i32(len(meta)).raw(meta)
    return w.bytes()


def parse_join_v5(body):
    r = Reader(body)
    r.i32()
    err = r.i16()
    gen = r.i32()
    proto = r.string()
    leader = r.string()
    member = r.string()
    n = r.i32()
    members = []
    for _ in range(n):
        mid = r.string()
        r.string(nullable=True)
        ml = r.i32()
        r._take(ml, "metadata")
        members.append(mid)
    return err, gen, proto, leader, member, members


def sync_body(group, gen, member, assignments):
    w = Writer().string(group).i32(gen).string(member).string(None).i32(len(assignments))  # v3
    for mid, a in assignments:
        w.string(mid).i32(len(a)).raw(a)
    return w.bytes()


def parse_sync_v3(body):
    r = Reader(body)
    r.i32()
    err = r.i16()
    n = r.i32()
    return err, r._take(max(n, 0), "assignment")


def heartbeat(conn, group, gen, member, corr=9):
    body = Writer().string(group).i32(gen).string(member).string(None).bytes()  # v3
    _, rb = conn.roundtrip(12, 3, corr, body)
    r = Reader(rb)
    r.i32()
    return r.i16()


def join_member(c, group, topics):
    """Two-step join (MEMBER_ID_REQUIRED); returns the parsed response."""
    _, rb = c.roundtrip(11, 5, 1, join_body(group, "", topics))
    err, _, _, _, mid, _ = parse_join_v5(rb)
    assert err == MEMBER_ID_REQUIRED and mid
    _, rb = c.roundtrip(11, 5, 2, join_body(group, mid, topics))
    return parse_join_v5(rb)


@pytest.mark.brook_config(GROUP_PROPS)
def test_find_coordinator_v4_batched(brook):
    w = Writer().i8(0).array_len(2, True).string("ga", True).string("gb", True).tags()
    with kwire.Conn(brook.host, brook.port) as c:
        _, rb = c.roundtrip(10, 4, 1, w.bytes())
        r = Reader(rb)
        r.i32()
        n = r.array_len(flexible=True)
        assert n == 2
        for key in ("ga", "gb"):
            assert r.string(flexible=True) == key
            assert r.i32() == 0  # node id
            assert r.string(flexible=True) == brook.host
            assert r.i32() == brook.port
            assert r.i16() == 0
            r.string(flexible=True, nullable=True)
            r.tags()
        # key type 1 (transaction): this broker too (test_txn_coord.py)
        w = Writer().i8(1).array_len(1, True).string("tx", True).tags()
        _, rb = c.roundtrip(10, 4, 2, w.bytes())
        r = Reader(rb)
        r.i32()
        assert r.array_len(flexible=True) == 1
        r.string(flexible=True)
        assert r.i32() == 0
        r.string(flexible=True)
        assert r.i32() == brook.port
        assert r.i16() == 0
        # v0 (what librdkafka's feature check needs to be advertised)
        _, rb = c.roundtrip(10, 0, 3, Writer().string("ga").bytes())
        r = Reader(rb)
        assert r.i16() == 0 and r.i32() == 0


@pytest.mark.brook_config(GROUP_PROPS)
def test_join_sync_heartbeat_and_parked_join_on_closed_connection(brook, healthy):
    group, topic = "wire-g", "wire-t"
    with kwire.Conn(brook.host, brook.port, timeout=20) as a:
        err, gen, proto, leader, ida, members = join_member(a, group, [topic])
        assert err == 0 and gen == 1 and proto == "range" and leader == ida and members == [ida]
        _, rb = a.roundtrip(14, 3, 3, sync_body(group, gen, ida, [(ida, b"assign-a")]))
        assert parse_sync_v3(rb) == (0, b"assign-a")
        assert heartbeat(a, group, gen, ida) == 0
        assert heartbeat(a, group, gen + 5, ida) == ILLEGAL_GENERATION
        assert heartbeat(a, group, gen, "nobody") == UNKNOWN_MEMBER_ID

        # A second member parks in JoinGroup; its connection then closes:
        # the request is cancelled and detached from the coordinator, the
        # member (no longer waiting) expires after its session timeout and
        # the rebalance completes without it.
        b = kwire.Conn(brook.host, brook.port, timeout=20)
        _, rb = b.roundtrip(11, 5, 1, join_body(group, "", [topic], session_ms=6000))
        idb = parse_join_v5(rb)[4]
        b.send(kwire.request(11, 5, 2, join_body(group, idb, [topic], session_ms=6000)))
        assert heartbeat(a, group, gen, ida) == REBALANCE_IN_PROGRESS
        # reset (SO_LINGER 0): the broker sees the error although it does not
        # read a connection whose request is deferred (a FIN alone is only
        # noticed when the answer is written, as with Kafka's muted channels)
        b.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        b.close()
        time.sleep(0.5)
        healthy("after closing a connection with a parked JoinGroup")
        t0 = time.monotonic()
        _, rb = a.roundtrip(11, 5, 4, join_body(group, ida, [topic]))
        err, gen2, _, leader, _, members = parse_join_v5(rb)
        assert err == 0 and gen2 == gen + 1 and leader == ida and members == [ida]
        assert time.monotonic() - t0 > 4  # waited for the closed member's session to expire
    healthy("after the rebalance")


@pytest.mark.brook_config(GROUP_PROPS)
def test_list_groups_filter_offset_fetch_v8_and_offset_delete(brook):
    from confluent_kafka.admin import AdminClient, NewTopic

    topic = "wire-od"
    adm = AdminClient({"bootstrap.servers": brook.bootstrap})
    adm.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])[topic].result(30)
    with kwire.Conn(brook.host, brook.port, timeout=20) as c:
        # simple consumer commit (generation -1) into group "simple"
        w = Writer().string("simple").i32(-1).string("").i64(-1).i32(1).string(topic).i32(1)
        w.i32(0).i64(17).string("meta-0")  # OffsetCommit v2
        _, rb = c.roundtrip(8, 2, 1, w.bytes())
        r = Reader(rb)  # v2: no ThrottleTimeMs (v3+)
        assert r.i32() == 1 and r.string() == topic and r.i32() == 1
        assert r.i32() == 0 and r.i16() == 0
        # an active group subscribed to the topic
        err, gen, _, _, mid, _ = join_member(c, "active", [topic])
        assert err == 0
        _, rb = c.roundtrip(14, 3, 5, sync_body("active", gen, mid, [(mid, b"x")]))
        assert parse_sync_v3(rb)[0] == 0

        # ListGroups v4 with a state filter (flexible)
        w = Writer().array_len(1, True).string("stable", True).tags()
        _, rb = c.roundtrip(16, 4, 6, w.bytes())
        r = Reader(rb)
        r.i32()
        assert r.i16() == 0
        n = r.array_len(flexible=True)
        names = []
        for _ in range(n):
            names.append(r.string(flexible=True))
            r.string(flexible=True)
            assert r.string(flexible=True) == "Stable"
            r.tags()
        assert names == ["active"]

        # OffsetFetch v8: two groups, null topics = everything committed
        w = Writer().array_len(2, True)
        for g in ("simple", "active"):
            w.string(g, True).array_len(None, True).tags()
        w.bool(False).tags()
        _, rb = c.roundtrip(9, 8, 7, w.bytes())
        r = Reader(rb)
        r.i32()
        got = {}
        for _ in range(r.array_len(flexible=True)):
            g = r.string(flexible=True)
            for _ in range(r.array_len(flexible=True)):
                t = r.string(flexible=True)
                for _ in range(r.array_len(flexible=True)):
                    p = r.i32()
                    off = r.i64()
                    r.i32()
                    md = r.string(flexible=True, nullable=True)
                    assert r.i16() == 0
                    r.tags()
                    got[(g, t, p)] = (off, md)
                r.tags()
            assert r.i16() == 0
            r.tags()
        assert got == {("simple", topic, 0): (17, "meta-0")}

        # OffsetDelete v0: refused for a topic the active group subscribes to
        def offset_delete(group):
            w = Writer().string(group).i32(1).string(topic).i32(1).i32(0)
            _, rb = c.roundtrip(47, 0, 8, w.bytes())
            r = Reader(rb)
            top = r.i16()
            r.i32()
            errs = []
            for _ in range(max(r.i32(), 0)):
                r.string()
                for _ in range(r.i32()):
                    r.i32()
                    errs.append(r.i16())
            return top, errs

        assert offset_delete("active") == (0, [GROUP_SUBSCRIBED_TO_TOPIC])
        assert offset_delete("simple") == (0, [0])
        assert offset_delete("nope")[0] == 69  # GROUP_ID_NOT_FOUND


@pytest.mark.brook_config(dict(GROUP_PROPS, **{"num.partitions": 7}))
def test_metadata_auto_create_of_offsets_topic_uses_offsets_settings(brook):
    with kwire.Conn(brook.host, brook.port) as c:
        _, rb = c.roundtrip(kwire.API_METADATA, 1, 1, kwire.metadata_body(1, ["__consumer_offsets"]))
    md = kwire.parse_metadata(rb, 1)
    t = [t for t in md["topics"] if t["name"] == "__consumer_offsets"][0]
    assert t["error_code"] == 0 and t["is_internal"]
    assert len(t["partitions"]) == 3  # offsets.topic.num.partitions, not num.partitions
    from confluent_kafka.admin import AdminClient, ConfigResource

    a = AdminClient({"bootstrap.servers": brook.bootstrap})
    res = ConfigResource(ConfigResource.Type.TOPIC, "__consumer_offsets")
    cfg = a.describe_configs([res])[res].result(30)
    assert cfg["cleanup.policy"].value == "compact"


@pytest.mark.brook_config(GROUP_PROPS)
def test_shutdown_with_a_parked_join_group(brook):
    """The broker stops cleanly (fixture teardown) while a JoinGroup and a
    SyncGroup wait; ASan builds check that nothing leaks or is reused."""
    group, topic = "park-g", "park-t"
    a = kwire.Conn(brook.host, brook.port, timeout=20)
    err, gen, _, _, ida, _ = join_member(a, group, [topic])
    assert err == 0
    b = kwire.Conn(brook.host, brook.port, timeout=20)
    _, rb = b.roundtrip(11, 5, 1, join_body(group, "", [topic]))
    idb = parse_join_v5(rb)[4]
    b.send(kwire.request(11, 5, 2, join_body(group, idb, [topic])))  # parks: a has not rejoined
    time.sleep(0.3)
    assert heartbeat(a, group, gen, ida) == REBALANCE_IN_PROGRESS
    brook.stop()
    a.close()
    b.close()


@pytest.mark.brook_config(dict(GROUP_PROPS, **{"group.initial.rebalance.delay.ms": 1500}))
def test_initial_rebalance_delay_gathers_members(brook):
    """group.initial.rebalance.delay.ms: the first rebalance of an empty
    group waits, so members starting together land in generation 1."""
    group, topic = "delay-g", "delay-t"
    a = kwire.Conn(brook.host, brook.port, timeout=20)
    b = kwire.Conn(brook.host, brook.port, timeout=20)
    try:
        ids = []
        for c in (a, b):
            _, rb = c.roundtrip(11, 5, 1, join_body(group, "", [topic]))
            ids.append(parse_join_v5(rb)[4])
        t0 = time.monotonic()
        a.send(kwire.request(11, 5, 2, join_body(group, ids[0], [topic])))
        time.sleep(0.5)
        b.send(kwire.request(11, 5, 2, join_body(group, ids[1], [topic])))
        res = []
        for c in (a, b):
            _, _, body = kwire.split_response(11, 5, c.recv_frame())
            res.append(parse_join_v5(body))
        waited = time.monotonic() - t0
        assert waited >= 1.4, waited
        assert [r[0] for r in res] == [0, 0] and [r[1] for r in res] == [1, 1]
        leader = res[0][3]
        assert leader in ids
        for r in res:
            assert r[4] in ids
            assert (sorted(r[5]) == sorted(ids)) == (r[4] == leader)
    finally:
        a.close()
        b.close()


@pytest.mark.brook_config(GROUP_PROPS)
def test_list_groups_v5_type_filter(brook):
    with kwire.Conn(brook.host, brook.port, timeout=20) as c:
        assert join_member(c, "typed", ["tt"])[0] == 0

        def listed(types):
            w = Writer().array_len(0, True).array_len(len(types), True)
            for t in types:
                w.string(t, True)
            _, rb = c.roundtrip(16, 5, 3, w.tags().bytes())
            r = Reader(rb)
            r.i32()
            assert r.i16() == 0
            out = []
            for _ in range(r.array_len(flexible=True)):
                gid = r.string(flexible=True)
                r.string(flexible=True)
                r.string(flexible=True)
                assert r.string(flexible=True) == "classic"
                r.tags()
                out.append(gid)
            return out

        assert listed([]) == ["typed"]
        assert listed(["Classic"]) == ["typed"]
        assert listed(["consumer"]) == []


GROUP_MAX_SIZE_REACHED = 81


@pytest.mark.brook_config(dict(GROUP_PROPS, **{"group.max.size": 1}))
def test_group_max_size(brook):
    """group.max.size=1: a second member is refused GROUP_MAX_SIZE_REACHED,
    the first keeps its place."""
    with kwire.Conn(brook.host, brook.port) as c1, kwire.Conn(brook.host, brook.port) as c2:
        err, gen, _, leader, m1, _ = join_member(c1, "full", ["t"])
        assert err == 0 and gen == 1 and leader == m1
        _, rb = c2.roundtrip(11, 5, 1, join_body("full", "", ["t"]))
        err2 = parse_join_v5(rb)[0]
        assert err2 == GROUP_MAX_SIZE_REACHED
        assert heartbeat(c1, "full", gen, m1) == 0
