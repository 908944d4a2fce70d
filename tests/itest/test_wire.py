"""Raw-socket protocol tests: ApiVersions and Metadata at every version,
pipelining, hostile input and the idle timeout.

Requests are built and responses parsed by tests/lib/kwire.py (pure Python,
written from the Kafka JSON definitions, independent of Brook's codec). The
parsers are strict: a short read or a trailing byte fails the test."""

import random
import struct

import pytest

import kwire
from kwire import API_API_VERSIONS, API_METADATA

INT32_MIN = -(2**31)


def roundtrip(brook, api_key, version, body, corr=77, **kw):
    with kwire.Conn(brook.host, brook.port) as c:
        got, rbody = c.roundtrip(api_key, version, corr, body, **kw)
    assert got == corr, "correlation id %d, expected %d" % (got, corr)
    return rbody


def api_versions(brook, version, corr=77):
    body = roundtrip(brook, API_API_VERSIONS, version, kwire.api_versions_body(version), corr)
    return kwire.parse_api_versions(body, version)


def metadata(brook, version, topics=None, allow_auto_create=False, corr=99):
    body = roundtrip(brook, API_METADATA, version, kwire.metadata_body(version, topics, allow_auto_create), corr)
    return kwire.parse_metadata(body, version)


# ------------------------------------------------------------------ (a) ApiVersions


@pytest.mark.smoke
@pytest.mark.parametrize("version", range(0, 5))
def test_api_versions(brook, version):
    res = api_versions(brook, version, corr=1000 + version)
    assert res["error_code"] == 0
    keys = res["keys"]
    # ApiVersions itself: v0-v4, min 0 (librdkafka's ApiVersion feature gate).
    assert keys.get(API_API_VERSIONS) == (0, 4), keys
    # Metadata: up to v12, from v0 (kafka-python pipelines Metadata v0).
    assert keys.get(API_METADATA) == (0, 12), keys
    for k, (lo, hi) in keys.items():
        assert k >= 0 and 0 <= lo <= hi, "bad range for key %d: %d-%d" % (k, lo, hi)
    if version >= 1:
        assert res["throttle_time_ms"] == 0


@pytest.mark.smoke
def test_api_versions_same_list_at_every_version(brook):
    lists = {v: api_versions(brook, v, corr=v)["keys"] for v in range(0, 5)}
    for v in range(1, 5):
        assert lists[v] == lists[0], "v%d advertises a different list than v0" % v


@pytest.mark.smoke
def test_api_versions_null_client_id(brook):
    # client_id is a nullable string; a null one must be accepted.
    body = roundtrip(brook, API_API_VERSIONS, 0, b"", corr=5, client_id=None)
    assert kwire.parse_api_versions(body, 0)["error_code"] == 0


# ------------------------------------------------------------------ (b) unsupported ApiVersions version


@pytest.mark.smoke
def test_api_versions_unsupported_version(brook):
    full = api_versions(brook, 0, corr=1)["keys"]
    # v127 is "flexible" (3+), so the request uses header v2 and a v3 body;
    # the answer is a v0-format body with UNSUPPORTED_VERSION and all keys.
    body = roundtrip(brook, API_API_VERSIONS, 127, kwire.api_versions_body(3), corr=127)
    res = kwire.parse_api_versions(body, 127)
    assert res["error_code"] == kwire.UNSUPPORTED_VERSION
    assert res["keys"] == full


# ------------------------------------------------------------------ (c) Metadata at every version


@pytest.mark.smoke
@pytest.mark.parametrize("version", range(0, 13))
def test_metadata(brook, version):
    md = metadata(brook, version, corr=2000 + version)
    assert [(b["node_id"], b["host"], b["port"]) for b in md["brokers"]] == [(0, brook.host, brook.port)]
    if version >= 1:
        assert md["brokers"][0]["rack"] is None
        assert md["controller_id"] == 0
    if version >= 2:
        assert isinstance(md["cluster_id"], str) and md["cluster_id"], md
    if version >= 3:
        assert md["throttle_time_ms"] == 0
    if 8 <= version <= 10:
        # not requested => Kafka's "unset" value
        assert md["cluster_authorized_operations"] == INT32_MIN
    assert md["topics"] == [], "a fresh broker has no topics"


@pytest.mark.smoke
def test_metadata_cluster_id_stable(brook):
    ids = {metadata(brook, v)["cluster_id"] for v in (2, 5, 9, 12)}
    assert len(ids) == 1, ids


@pytest.mark.smoke
@pytest.mark.parametrize("version", [4, 8, 9, 10, 12])
def test_metadata_unknown_topic_no_autocreate(brook, version):
    md = metadata(brook, version, topics=["no-such-topic"], allow_auto_create=False)
    assert len(md["topics"]) == 1, md
    t = md["topics"][0]
    assert t["name"] == "no-such-topic"
    assert t["error_code"] == kwire.UNKNOWN_TOPIC_OR_PARTITION
    assert t["partitions"] == []


# ------------------------------------------------------------------ (d) pipelining


@pytest.mark.smoke
def test_pipelined_50_requests_answered_in_order(brook):
    plan = []
    out = bytearray()
    for i in range(50):
        corr = 7000 + 3 * i
        if i % 2 == 0:
            api, ver = API_API_VERSIONS, (i // 2) % 5
            body = kwire.api_versions_body(ver)
        else:
            api, ver = API_METADATA, (i // 2) % 13
            body = kwire.metadata_body(ver)
        plan.append((api, ver, corr))
        out += kwire.request(api, ver, corr, body)
    with kwire.Conn(brook.host, brook.port, timeout=15) as c:
        c.send(bytes(out))  # one send: all 50 frames back to back
        for i, (api, ver, corr) in enumerate(plan):
            got, _, body = kwire.split_response(api, ver, c.recv_frame())
            assert got == corr, "response #%d: correlation id %d, expected %d" % (i, got, corr)
            if api == API_API_VERSIONS:
                assert kwire.parse_api_versions(body, ver)["error_code"] == 0
            else:
                assert kwire.parse_metadata(body, ver)["brokers"][0]["node_id"] == 0


# ------------------------------------------------------------------ (e) hostile input


def expect_close(brook, data, timeout=10, allow_response_to=None):
    """Send data on a fresh connection and expect the broker to close it.
    With allow_response_to=corr, an answer carrying that correlation id is
    also accepted (an error response instead of a close)."""
    with kwire.Conn(brook.host, brook.port) as c:
        try:
            c.send(data)
        except (BrokenPipeError, ConnectionResetError):
            return  # closed while we were still sending
        closed, got = c.wait_closed(timeout)
    if closed and not got:
        return
    if allow_response_to is not None and len(got) >= 8:
        (corr,) = struct.unpack(">i", got[4:8])
        if corr == allow_response_to:
            return
    if closed:
        pytest.fail("broker sent %d unexpected bytes before closing: %r" % (len(got), got[:64]))
    pytest.fail("broker did not close the connection within %d s (received %r)" % (timeout, got[:64]))


@pytest.mark.smoke
def test_truncated_frame_then_close(brook, healthy):
    req = kwire.request(API_API_VERSIONS, 0, 1)
    for cut in (1, 3, 4, 6, len(req) - 1):
        with kwire.Conn(brook.host, brook.port) as c:
            c.send(req[:cut])
        healthy("after a frame cut at %d bytes" % cut)
    # size prefix promises more than ever arrives
    with kwire.Conn(brook.host, brook.port) as c:
        c.send(struct.pack(">i", 100) + req[4:])
    healthy("after a frame shorter than its size prefix")


@pytest.mark.smoke
@pytest.mark.parametrize("size", [0x7FFFFFFF, -1, INT32_MIN, -5, 0, 3])
def test_bad_size_prefix_closes(brook, healthy, size):
    # sizes 0 and 3 come with exactly that many bytes: too short for a header
    payload = b"\0" * size if 0 <= size < 64 else b"\0\x12\0\0\0\0\0\1"
    expect_close(brook, struct.pack(">i", size) + payload)
    healthy("after size prefix %d" % size)


@pytest.mark.smoke
@pytest.mark.brook_config({"socket.request.max.bytes": 1048576})
def test_size_over_socket_request_max_bytes_closes(brook, healthy):
    expect_close(brook, struct.pack(">i", 1048577) + kwire.request_header(API_API_VERSIONS, 0, 1))
    healthy()


@pytest.mark.smoke
def test_random_garbage(brook, healthy):
    for seed in range(300):
        rnd = random.Random(seed)
        data = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 400)))
        with kwire.Conn(brook.host, brook.port) as c:
            try:
                c.send(data)
            except (BrokenPipeError, ConnectionResetError):
                pass
        healthy("after garbage seed %d" % seed)


@pytest.mark.smoke
def test_random_framed_garbage(brook, healthy):
    """Well-framed requests with random headers and bodies, each followed on
    the same connection by a valid ApiVersions request: the broker must answer
    that one or close the connection, never hang or crash."""
    for seed in range(200):
        rnd = random.Random(10_000 + seed)
        api = rnd.choice([API_API_VERSIONS, API_METADATA, API_METADATA, rnd.randint(-32768, 32767)])
        ver = rnd.randint(-3, 20)
        hdr = struct.pack(">hhi", api, ver, rnd.randint(0, 1000))
        body = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 300)))
        sentinel = 0x5EED0000 + seed
        data = kwire.frame(hdr + body) + kwire.request(API_API_VERSIONS, 0, sentinel)
        with kwire.Conn(brook.host, brook.port, timeout=10) as c:
            c.send(data)
            for _ in range(3):
                try:
                    payload = c.recv_frame()
                except (EOFError, ConnectionResetError):
                    break  # closed: fine
                (corr,) = struct.unpack(">i", payload[:4])
                if corr == sentinel:
                    assert kwire.parse_api_versions(payload[4:], 0)["error_code"] == 0
                    break
            else:
                pytest.fail("seed %d: no answer to the ApiVersions after the garbage frame" % seed)
        healthy("after framed garbage seed %d (api %d v%d)" % (seed, api, ver))


@pytest.mark.smoke
def test_unknown_api_key_closes(brook, healthy):
    expect_close(brook, kwire.request(999, 0, 31))
    healthy()


@pytest.mark.smoke
def test_metadata_unsupported_version(brook, healthy):
    # v200 is past the flexible boundary: header v2, flexible body.
    expect_close(brook, kwire.request(API_METADATA, 200, 32, kwire.metadata_body(12)), allow_response_to=32)
    healthy()


@pytest.mark.smoke
@pytest.mark.parametrize("version", [0, 1, 4, 9, 12])
def test_metadata_huge_topic_count(brook, healthy, version):
    if version >= 9:
        body = kwire.Writer().uvarint(0xFFFFFFFF).raw(b"\x01abc\x00").bytes()
    else:
        body = struct.pack(">i", 0x7FFFFFFF) + b"\0\3abc"
    expect_close(brook, kwire.request(API_METADATA, version, 33, body), allow_response_to=33)
    healthy()


@pytest.mark.smoke
def test_metadata_huge_string_length(brook, healthy):
    # one topic whose name claims 32767 bytes
    body = struct.pack(">ih", 1, 0x7FFF) + b"abc"
    expect_close(brook, kwire.request(API_METADATA, 1, 34, body), allow_response_to=34)
    healthy()


@pytest.mark.smoke
def test_client_id_longer_than_frame(brook, healthy):
    hdr = struct.pack(">hhih", API_API_VERSIONS, 0, 35, 0x7FFF) + b"abc"
    expect_close(brook, kwire.frame(hdr), allow_response_to=35)
    healthy()


@pytest.mark.smoke
def test_api_versions_v3_bad_compact_string(brook, healthy):
    body = kwire.Writer().uvarint(0xFFFFFFFF).raw(b"x").bytes()
    expect_close(brook, kwire.request(API_API_VERSIONS, 3, 36, body), allow_response_to=36)
    healthy()


# ------------------------------------------------------------------ (f) idle connections


@pytest.mark.brook_config({"connections.max.idle.ms": 2000})
def test_idle_connection_closed(brook):
    with kwire.Conn(brook.host, brook.port) as c:
        got, body = c.roundtrip(API_API_VERSIONS, 0, 41)
        assert got == 41
        assert kwire.parse_api_versions(body, 0)["error_code"] == 0
        closed, extra = c.wait_closed(12)
    assert closed, "an idle connection was still open 12 s after its last request (connections.max.idle.ms=2000)"
    assert extra == b""


# ------------------------------------------------------------------ restarts


def test_restart_and_kill9_keep_cluster_id(brook):
    """The cluster id is persistent state of the data dir (Kafka keeps it in
    meta.properties): a clean restart and a SIGKILL + start keep it."""
    first = metadata(brook, 12)["cluster_id"]
    brook.restart()
    assert metadata(brook, 12)["cluster_id"] == first
    brook.kill9()
    brook.start()
    md = metadata(brook, 12)
    assert md["cluster_id"] == first
    assert [(b["node_id"], b["port"]) for b in md["brokers"]] == [(0, brook.port)]
