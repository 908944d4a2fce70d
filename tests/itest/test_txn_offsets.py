"""TxnOffsetCommit (28) v0-v4 over the raw wire, and what OffsetFetch shows.

Offsets committed in a transaction stay pending - invisible to OffsetFetch -
until the transaction's commit marker reaches the group's __consumer_offsets
partition. Markers come from the transaction coordinator, which is not part
of this test (the coordinator-side commit/abort and the replay of markers are
unit-tested in src/group/coord_test.c); here: the pending offsets are
invisible, OffsetFetch RequireStable (v7+) answers UNSTABLE_OFFSET_COMMIT for
them, plain commits stay visible beside them, the group-level and
per-partition errors, every request version, and a restart (the
transactional batch is replayed as pending).

transaction.partition.verification.enable is off: with it, a running
transaction coordinator would first want the offsets partition added to the
transaction (AddOffsetsToTxn), which is not what these tests are about.
"""

import pytest

import kwire
from kwire import Reader, Writer

PROPS = {
    "group.initial.rebalance.delay.ms": 0,
    "offsets.topic.num.partitions": 3,
    "transaction.partition.verification.enable": "false",
}

NONE = 0
UNKNOWN_TOPIC_OR_PARTITION = 3
OFFSET_METADATA_TOO_LARGE = 12
ILLEGAL_GENERATION = 22
INVALID_GROUP_ID = 24
UNKNOWN_MEMBER_ID = 25
FENCED_INSTANCE_ID = 82
UNSTABLE_OFFSET_COMMIT = 88

TOPIC = "txo"


def create_topic(brook, name, parts):
    from confluent_kafka.admin import AdminClient, NewTopic

    adm = AdminClient({"bootstrap.servers": brook.bootstrap})
    adm.create_topics([NewTopic(name, num_partitions=parts, replication_factor=1)])[name].result(30)


# ------------------------------------------------------------ TxnOffsetCommit


def txn_commit_body(version, group, offsets, txn_id="tx-1", pid=4242, epoch=0, generation=-1, member="",
                    instance=None):
    """offsets: {topic: [(partition, offset, metadata), ...]} in order."""
    flex = version >= 3
    w = Writer().string(txn_id, flex).string(group, flex).i64(pid).i16(epoch)
    if version >= 3:
        w.i32(generation).string(member, flex).string(instance, flex)
    w.array_len(len(offsets), flex)
    for topic, parts in offsets.items():
        w.string(topic, flex).array_len(len(parts), flex)
        for p, off, md in parts:
            w.i32(p).i64(off)
            if version >= 2:
                w.i32(7)  # CommittedLeaderEpoch
            w.string(md, flex)
            if flex:
                w.tags()
        if flex:
            w.tags()
    if flex:
        w.tags()
    return w.bytes()


def parse_txn_commit(body, version):
    """{(topic, partition): error}"""
    flex = version >= 3
    r = Reader(body)
    assert r.i32() == 0  # ThrottleTimeMs
    out = {}
    for _ in range(r.array_len(flexible=flex)):
        t = r.string(flexible=flex)
        for _ in range(r.array_len(flexible=flex)):
            p = r.i32()
            out[(t, p)] = r.i16()
            if flex:
                r.tags()
        if flex:
            r.tags()
    if flex:
        r.tags()
    r.done()
    return out


def txn_commit(c, version, group, offsets, **kw):
    _, rb = c.roundtrip(28, version, 100 + version, txn_commit_body(version, group, offsets, **kw))
    return parse_txn_commit(rb, version)


# ------------------------------------------------------------ OffsetFetch


def offset_fetch_v1(c, group, topic, parts):
    """{partition: (offset, metadata, error)}"""
    w = Writer().string(group).i32(1).string(topic).i32(len(parts))
    for p in parts:
        w.i32(p)
    _, rb = c.roundtrip(9, 1, 21, w.bytes())
    r = Reader(rb)
    out = {}
    for _ in range(r.i32()):
        assert r.string() == topic
        for _ in range(r.i32()):
            p = r.i32()
            out[p] = (r.i64(), r.string(nullable=True), r.i16())
    r.done()
    return out


def offset_fetch_v7(c, group, topic, parts, stable):
    """{partition: (offset, leader_epoch, metadata, error)}, group error"""
    w = Writer().string(group, True).array_len(1, True).string(topic, True).array_len(len(parts), True)
    for p in parts:
        w.i32(p)
    w.tags().bool(stable).tags()
    _, rb = c.roundtrip(9, 7, 22, w.bytes())
    r = Reader(rb)
    r.i32()
    out = {}
    for _ in range(r.array_len(flexible=True)):
        assert r.string(flexible=True) == topic
        for _ in range(r.array_len(flexible=True)):
            p = r.i32()
            out[p] = (r.i64(), r.i32(), r.string(flexible=True, nullable=True), r.i16())
            r.tags()
        r.tags()
    gerr = r.i16()
    r.tags()
    r.done()
    return out, gerr


def offset_fetch_v8_all(c, group, stable):
    """Null topics (everything committed): {(topic, partition): (offset, error)}"""
    w = Writer().array_len(1, True).string(group, True).array_len(None, True).tags()
    w.bool(stable).tags()
    _, rb = c.roundtrip(9, 8, 23, w.bytes())
    r = Reader(rb)
    r.i32()
    out = {}
    assert r.array_len(flexible=True) == 1
    assert r.string(flexible=True) == group
    for _ in range(r.array_len(flexible=True)):
        t = r.string(flexible=True)
        for _ in range(r.array_len(flexible=True)):
            p = r.i32()
            off = r.i64()
            r.i32()
            r.string(flexible=True, nullable=True)
            out[(t, p)] = (off, r.i16())
            r.tags()
        r.tags()
    assert r.i16() == 0
    r.tags()
    r.tags()
    r.done()
    return out


def offset_commit_v2(c, group, topic, part, offset):
    w = Writer().string(group).i32(-1).string("").i64(-1).i32(1).string(topic).i32(1)
    w.i32(part).i64(offset).string("plain")
    _, rb = c.roundtrip(8, 2, 31, w.bytes())
    r = Reader(rb)
    assert r.i32() == 1 and r.string() == topic and r.i32() == 1
    assert r.i32() == part
    return r.i16()


def join_static(c, group, instance):
    """JoinGroup v5 of a static member (no MEMBER_ID_REQUIRED round):
    (error, generation, member id)."""
    meta = Writer().i16(0).i32(1).string(TOPIC).i32(-1).bytes()
    w = Writer().string(group).i32(10000).i32(30000).string("").string(instance)
    w.string("consumer").i32(1).string("range").i32(len(meta)).raw(meta)
    _, rb = c.roundtrip(11, 5, 41, w.bytes())
    r = Reader(rb)
    r.i32()
    err = r.i16()
    gen = r.i32()
    r.string()
    r.string()
    member = r.string()
    return err, gen, member


# ------------------------------------------------------------ tests


@pytest.mark.brook_config(PROPS)
def test_pending_offsets_invisible_and_unstable(brook, healthy):
    create_topic(brook, TOPIC, 3)
    g = "txg"
    with kwire.Conn(brook.host, brook.port, timeout=20) as c:
        res = txn_commit(c, 0, g, {TOPIC: [(0, 10, "m0"), (1, 11, None)]})
        assert res == {(TOPIC, 0): NONE, (TOPIC, 1): NONE}
        # not visible: no committed offset, no error
        assert offset_fetch_v1(c, g, TOPIC, [0, 1, 2]) == {
            0: (-1, "", NONE), 1: (-1, "", NONE), 2: (-1, "", NONE)}
        got, gerr = offset_fetch_v7(c, g, TOPIC, [0, 1, 2], stable=False)
        assert gerr == 0 and {p: (v[0], v[3]) for p, v in got.items()} == {
            0: (-1, NONE), 1: (-1, NONE), 2: (-1, NONE)}
        # RequireStable: the pending partitions are unstable, the other is not
        got, gerr = offset_fetch_v7(c, g, TOPIC, [0, 1, 2], stable=True)
        assert gerr == 0
        assert got[0] == (-1, -1, "", UNSTABLE_OFFSET_COMMIT)
        assert got[1] == (-1, -1, "", UNSTABLE_OFFSET_COMMIT)
        assert got[2][3] == NONE and got[2][0] == -1
        assert offset_fetch_v8_all(c, g, stable=True) == {}

        # a plain commit beside the pending ones is visible; with
        # RequireStable the partition still has a pending offset
        assert offset_commit_v2(c, g, TOPIC, 0, 3) == NONE
        assert offset_commit_v2(c, g, TOPIC, 2, 5) == NONE
        assert offset_fetch_v1(c, g, TOPIC, [0, 2]) == {0: (3, "plain", NONE), 2: (5, "plain", NONE)}
        assert offset_fetch_v8_all(c, g, stable=False) == {(TOPIC, 0): (3, NONE), (TOPIC, 2): (5, NONE)}
        assert offset_fetch_v8_all(c, g, stable=True) == {
            (TOPIC, 0): (-1, UNSTABLE_OFFSET_COMMIT), (TOPIC, 2): (5, NONE)}
        # another transaction of the same producer replaces the pending value;
        # a second producer adds its own
        assert txn_commit(c, 1, g, {TOPIC: [(0, 12, "m1")]}) == {(TOPIC, 0): NONE}
        assert txn_commit(c, 2, g, {TOPIC: [(2, 20, "x")]}, pid=4343) == {(TOPIC, 2): NONE}
        got, _ = offset_fetch_v7(c, g, TOPIC, [0, 1, 2], stable=True)
        assert [got[p][3] for p in (0, 1, 2)] == [UNSTABLE_OFFSET_COMMIT] * 3
        got, _ = offset_fetch_v7(c, g, TOPIC, [0, 1, 2], stable=False)
        assert [got[p][0] for p in (0, 1, 2)] == [3, -1, 5]
    healthy("after transactional commits")

    # the transactional batches are replayed as pending after a restart
    brook.restart()
    with kwire.Conn(brook.host, brook.port, timeout=20) as c:
        got, _ = offset_fetch_v7(c, g, TOPIC, [0, 1, 2], stable=False)
        assert [got[p][0] for p in (0, 1, 2)] == [3, -1, 5]
        got, _ = offset_fetch_v7(c, g, TOPIC, [0, 1, 2], stable=True)
        assert [got[p][3] for p in (0, 1, 2)] == [UNSTABLE_OFFSET_COMMIT] * 3


@pytest.mark.brook_config(PROPS)
def test_txn_offset_commit_errors(brook, healthy):
    create_topic(brook, TOPIC, 2)
    with kwire.Conn(brook.host, brook.port, timeout=20) as c:
        # per partition: unknown topic / partition, metadata too large
        res = txn_commit(c, 3, "txe", {TOPIC: [(0, 1, "ok"), (9, 1, ""), (1, 1, "x" * 5000)],
                                       "no-such-topic": [(0, 1, "")]})
        assert res == {(TOPIC, 0): NONE, (TOPIC, 9): UNKNOWN_TOPIC_OR_PARTITION,
                       (TOPIC, 1): OFFSET_METADATA_TOO_LARGE,
                       ("no-such-topic", 0): UNKNOWN_TOPIC_OR_PARTITION}
        got, _ = offset_fetch_v7(c, "txe", TOPIC, [0, 1], stable=True)
        assert got[0][3] == UNSTABLE_OFFSET_COMMIT and got[1][3] == NONE

        # group level, on every existing partition
        one = {TOPIC: [(0, 1, "")], "no-such-topic": [(0, 1, "")]}
        assert txn_commit(c, 0, "", one) == {
            (TOPIC, 0): INVALID_GROUP_ID, ("no-such-topic", 0): UNKNOWN_TOPIC_OR_PARTITION}
        # v3+: the member is checked when the request names one
        assert txn_commit(c, 3, "txm", one, generation=1, member="nobody") == {
            (TOPIC, 0): UNKNOWN_MEMBER_ID, ("no-such-topic", 0): UNKNOWN_TOPIC_OR_PARTITION}
        err, gen, member = join_static(c, "txm", "inst-1")
        assert err == 0 and gen == 1 and member
        commit = {TOPIC: [(1, 5, "")]}
        assert txn_commit(c, 3, "txm", commit, generation=gen + 1, member=member,
                          instance="inst-1") == {(TOPIC, 1): ILLEGAL_GENERATION}
        assert txn_commit(c, 4, "txm", commit, generation=gen, member="old-id",
                          instance="inst-1") == {(TOPIC, 1): FENCED_INSTANCE_ID}
        assert txn_commit(c, 3, "txm", commit, generation=gen, member="old-id") == {
            (TOPIC, 1): UNKNOWN_MEMBER_ID}
        got, _ = offset_fetch_v7(c, "txm", TOPIC, [1], stable=True)
        assert got[1][3] == NONE  # nothing was written
        for v in (3, 4):
            assert txn_commit(c, v, "txm", commit, generation=gen, member=member,
                              instance="inst-1") == {(TOPIC, 1): NONE}
        # v0-v2 carry no member: accepted whatever the group's state
        assert txn_commit(c, 2, "txm", {TOPIC: [(0, 6, "")]}) == {(TOPIC, 0): NONE}
        got, _ = offset_fetch_v7(c, "txm", TOPIC, [0, 1], stable=True)
        assert got[0][3] == UNSTABLE_OFFSET_COMMIT and got[1][3] == UNSTABLE_OFFSET_COMMIT
        got, _ = offset_fetch_v7(c, "txm", TOPIC, [0, 1], stable=False)
        assert got[0][0] == -1 and got[1][0] == -1
    healthy("after TxnOffsetCommit errors")


@pytest.mark.brook_config(PROPS)
def test_txn_offset_commit_advertised_0_to_4(brook):
    with kwire.Conn(brook.host, brook.port) as c:
        _, body = c.roundtrip(kwire.API_API_VERSIONS, 3, 1, kwire.api_versions_body(3))
    keys = kwire.parse_api_versions(body, 3)["keys"]
    assert keys[28] == (0, 4)
