"""kwire - a tiny, independent Kafka wire-protocol client for raw-socket tests.

Pure Python (socket + struct), written from the Kafka message definitions in
../shared/kafka-protocol/messages, deliberately NOT from Brook's generator, so
that the tests check the broker against the protocol and not against itself.

Only what the tests need: request framing (request header v1/v2), the
ApiVersions (key 18) and Metadata (key 3) request encoders for every version,
and strict response parsers that fail on any short read or trailing byte.
"""

import socket
import struct
import time

API_PRODUCE = 0
API_METADATA = 3
API_API_VERSIONS = 18

# First flexible version (KIP-482) of each client-facing API ("flexibleVersions"
# in the message definitions). Requests at or above it use request header v2;
# responses use response header v1, except ApiVersions, whose response header
# is always v0.
FIRST_FLEXIBLE = {
    0: 9, 1: 12, 2: 6, API_METADATA: 9, 8: 8, 9: 6, 10: 3, 11: 6, 12: 4, 13: 4, 14: 4, 15: 5, 16: 3,
    17: 99, API_API_VERSIONS: 3, 19: 5, 20: 4, 21: 2, 22: 2, 23: 4, 24: 3, 25: 3, 26: 3, 27: 1, 28: 3,
    29: 2, 30: 2, 31: 2, 32: 4, 33: 2, 34: 2, 35: 2, 36: 2, 37: 2, 42: 2, 43: 2, 44: 1, 45: 0,
    46: 0, 47: 99, 48: 1, 49: 1, 50: 0, 51: 0, 57: 0, 60: 0, 61: 0, 65: 0, 66: 0, 68: 0, 69: 0,
}

UNSUPPORTED_VERSION = 35
UNKNOWN_TOPIC_OR_PARTITION = 3


class ParseError(Exception):
    pass


# ---------------------------------------------------------------- encoding


class Writer:
    def __init__(self):
        self.buf = bytearray()

    def raw(self, b):
        self.buf += b
        return self

    def i8(self, v):
        self.buf += struct.pack(">b", v)
        return self

    def bool(self, v):
        return self.i8(1 if v else 0)

    def i16(self, v):
        self.buf += struct.pack(">h", v)
        return self

    def i32(self, v):
        self.buf += struct.pack(">i", v)
        return self

    def u32(self, v):
        self.buf += struct.pack(">I", v)
        return self

    def i64(self, v):
        self.buf += struct.pack(">q", v)
        return self

    def uvarint(self, v):
        assert v >= 0
        while True:
            b = v & 0x7F
            v >>= 7
            if v:
                self.buf.append(b | 0x80)
            else:
                self.buf.append(b)
                return self

    def string(self, s, flexible=False):
        """(nullable) string: int16 length, or compact (uvarint len+1)."""
        if s is None:
            return self.uvarint(0) if flexible else self.i16(-1)
        b = s.encode() if isinstance(s, str) else bytes(s)
        if flexible:
            self.uvarint(len(b) + 1)
        else:
            self.i16(len(b))
        self.buf += b
        return self

    def array_len(self, n, flexible=False):
        """Array length; n=None writes a null array."""
        if n is None:
            return self.uvarint(0) if flexible else self.i32(-1)
        return self.uvarint(n + 1) if flexible else self.i32(n)

    def uuid(self, b=b"\0" * 16):
        assert len(b) == 16
        self.buf += b
        return self

    def tags(self):
        """An empty tagged-field section."""
        return self.uvarint(0)

    def bytes(self):
        return bytes(self.buf)


def is_flexible(api_key, version):
    f = FIRST_FLEXIBLE.get(api_key)
    return f is not None and version >= f


def request_header(api_key, version, corr, client_id="brook-itest", hdr_version=None):
    """Request header v1 (non-flexible) or v2 (flexible). client_id stays a
    classic int16 string even in v2."""
    if hdr_version is None:
        hdr_version = 2 if is_flexible(api_key, version) else 1
    w = Writer().i16(api_key).i16(version).i32(corr)
    if hdr_version >= 1:
        w.string(client_id)
    if hdr_version >= 2:
        w.tags()
    return w.bytes()


def frame(payload):
    return struct.pack(">i", len(payload)) + payload


def request(api_key, version, corr, body=b"", **kw):
    """A complete frame: size prefix + header + body."""
    return frame(request_header(api_key, version, corr, **kw) + body)


def api_versions_body(version):
    if version < 3:
        return b""
    w = Writer()
    w.string("brook-itest", flexible=True)  # ClientSoftwareName
    w.string("0.1", flexible=True)  # ClientSoftwareVersion
    w.tags()
    return w.bytes()


def metadata_body(version, topics=None, allow_auto_create=False):
    """MetadataRequest body. topics=None asks for all topics (an empty array
    in v0, a null array from v1)."""
    flex = version >= 9
    w = Writer()
    if topics is None:
        w.array_len(0 if version == 0 else None, flex)
    else:
        w.array_len(len(topics), flex)
        for t in topics:
            if version >= 10:
                w.uuid()  # TopicId: zero = look up by name
            w.string(t, flex)
            if flex:
                w.tags()
    if version >= 4:
        w.bool(allow_auto_create)
    if 8 <= version <= 10:
        w.bool(False)  # IncludeClusterAuthorizedOperations
    if version >= 8:
        w.bool(False)  # IncludeTopicAuthorizedOperations
    if flex:
        w.tags()
    return w.bytes()


# ---------------------------------------------------------------- decoding


class Reader:
    def __init__(self, data):
        self.data = bytes(data)
        self.pos = 0

    def _take(self, n, what):
        if n < 0 or self.pos + n > len(self.data):
            raise ParseError(
                "short read: %s needs %d bytes at offset %d, body has %d"
                % (what, n, self.pos, len(self.data))
            )
        b = self.data[self.pos : self.pos + n]
        self.pos += n
        return b

    def _unpack(self, fmt, n, what):
        return struct.unpack(fmt, self._take(n, what))[0]

    def i8(self, what="int8"):
        return self._unpack(">b", 1, what)

    def bool(self, what="bool"):
        v = self.i8(what)
        if v not in (0, 1):
            raise ParseError("%s: bool byte is %d" % (what, v))
        return bool(v)

    def i16(self, what="int16"):
        return self._unpack(">h", 2, what)

    def i32(self, what="int32"):
        return self._unpack(">i", 4, what)

    def i64(self, what="int64"):
        return self._unpack(">q", 8, what)

    def uuid(self, what="uuid"):
        return self._take(16, what)

    def uvarint(self, what="uvarint"):
        v = 0
        for i in range(5):
            b = self._take(1, what)[0]
            v |= (b & 0x7F) << (7 * i)
            if not b & 0x80:
                if v > 0xFFFFFFFF:
                    raise ParseError("%s: uvarint overflows 32 bits" % what)
                return v
        raise ParseError("%s: uvarint longer than 5 bytes" % what)

    def string(self, flexible=False, nullable=False, what="string"):
        if flexible:
            n = self.uvarint(what) - 1
        else:
            n = self.i16(what)
        if n == -1:
            if not nullable:
                raise ParseError("%s: null in a non-nullable string" % what)
            return None
        if n < -1:
            raise ParseError("%s: bad string length %d" % (what, n))
        return self._take(n, what).decode("utf-8")

    def array_len(self, flexible=False, nullable=False, what="array"):
        if flexible:
            n = self.uvarint(what) - 1
        else:
            n = self.i32(what)
        if n == -1:
            if not nullable:
                raise ParseError("%s: null in a non-nullable array" % what)
            return None
        if n < -1:
            raise ParseError("%s: bad array length %d" % (what, n))
        # each element takes at least one byte: reject absurd counts early
        if n > len(self.data) - self.pos:
            raise ParseError("%s: count %d exceeds remaining bytes" % (what, n))
        return n

    def tags(self, what="tagged fields"):
        """Parse a tagged-field section; returns {tag: raw bytes}. Tags must be
        strictly increasing (KIP-482)."""
        n = self.uvarint(what)
        out = {}
        last = -1
        for _ in range(n):
            tag = self.uvarint(what + " tag")
            if tag <= last:
                raise ParseError("%s: tag %d after %d (must increase)" % (what, tag, last))
            last = tag
            size = self.uvarint(what + " size")
            out[tag] = self._take(size, what + " data")
        return out

    def remaining(self):
        return len(self.data) - self.pos

    def done(self, what="body"):
        if self.pos != len(self.data):
            raise ParseError(
                "%s: %d trailing bytes after offset %d" % (what, len(self.data) - self.pos, self.pos)
            )


def split_response(api_key, version, payload):
    """Split a response frame payload (size prefix removed) into
    (correlation_id, header tagged fields or None, body bytes)."""
    r = Reader(payload)
    corr = r.i32("correlation id")
    tagged = None
    if api_key != API_API_VERSIONS and is_flexible(api_key, version):
        tagged = r.tags("response header tagged fields")
    return corr, tagged, payload[r.pos :]


def parse_api_versions(body, version):
    """Parse an ApiVersionsResponse body. For version > 4 (an unsupported
    version) the broker must answer in the v0 format, so parse v0."""
    if version > 4:
        version = 0
    flex = version >= 3
    r = Reader(body)
    out = {"error_code": r.i16("ErrorCode"), "keys": {}, "order": []}
    n = r.array_len(flex, what="ApiKeys")
    for _ in range(n):
        key = r.i16("ApiKey")
        lo = r.i16("MinVersion")
        hi = r.i16("MaxVersion")
        if flex:
            r.tags("ApiKeys[] tagged fields")
        if key in out["keys"]:
            raise ParseError("api key %d listed twice" % key)
        out["keys"][key] = (lo, hi)
        out["order"].append(key)
    out["throttle_time_ms"] = r.i32("ThrottleTimeMs") if version >= 1 else None
    out["tags"] = r.tags("body tagged fields") if flex else {}
    r.done("ApiVersionsResponse v%d" % version)
    return out


def parse_metadata(body, version):
    """Parse a whole MetadataResponse body at any version 0..12; every field
    of the version is read and no byte may be left over."""
    flex = version >= 9
    r = Reader(body)
    out = {}
    out["throttle_time_ms"] = r.i32("ThrottleTimeMs") if version >= 3 else None
    brokers = []
    for _ in range(r.array_len(flex, what="Brokers")):
        b = {
            "node_id": r.i32("NodeId"),
            "host": r.string(flex, what="Host"),
            "port": r.i32("Port"),
        }
        b["rack"] = r.string(flex, nullable=True, what="Rack") if version >= 1 else None
        if flex:
            r.tags("Brokers[] tagged fields")
        brokers.append(b)
    out["brokers"] = brokers
    out["cluster_id"] = r.string(flex, nullable=True, what="ClusterId") if version >= 2 else None
    out["controller_id"] = r.i32("ControllerId") if version >= 1 else None
    topics = []
    for _ in range(r.array_len(flex, what="Topics")):
        t = {"error_code": r.i16("Topics[].ErrorCode")}
        t["name"] = r.string(flex, nullable=version >= 12, what="Topics[].Name")
        t["topic_id"] = r.uuid("TopicId") if version >= 10 else None
        t["is_internal"] = r.bool("IsInternal") if version >= 1 else False
        parts = []
        for _ in range(r.array_len(flex, what="Partitions")):
            p = {
                "error_code": r.i16("Partitions[].ErrorCode"),
                "partition_index": r.i32("PartitionIndex"),
                "leader_id": r.i32("LeaderId"),
            }
            p["leader_epoch"] = r.i32("LeaderEpoch") if version >= 7 else None
            p["replica_nodes"] = [r.i32("ReplicaNodes[]") for _ in range(r.array_len(flex, what="ReplicaNodes"))]
            p["isr_nodes"] = [r.i32("IsrNodes[]") for _ in range(r.array_len(flex, what="IsrNodes"))]
            if version >= 5:
                p["offline_replicas"] = [
                    r.i32("OfflineReplicas[]") for _ in range(r.array_len(flex, what="OfflineReplicas"))
                ]
            if flex:
                r.tags("Partitions[] tagged fields")
            parts.append(p)
        t["partitions"] = parts
        t["topic_authorized_operations"] = r.i32("TopicAuthorizedOperations") if version >= 8 else None
        if flex:
            r.tags("Topics[] tagged fields")
        topics.append(t)
    out["topics"] = topics
    if 8 <= version <= 10:
        out["cluster_authorized_operations"] = r.i32("ClusterAuthorizedOperations")
    out["tags"] = r.tags("body tagged fields") if flex else {}
    r.done("MetadataResponse v%d" % version)
    return out


# ---------------------------------------------------------------- sockets


class Conn:
    """One blocking TCP connection with a per-operation timeout."""

    def __init__(self, host, port, timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def _recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                return None if not buf else bytes(buf)
            buf += chunk
        return bytes(buf)

    def recv_frame(self, max_size=64 << 20):
        """Read one response frame; returns its payload (without the size
        prefix). Raises EOFError if the broker closed the connection, and
        socket.timeout if nothing complete arrived in time."""
        hdr = self._recv_exact(4)
        if hdr is None or len(hdr) < 4:
            raise EOFError("connection closed by broker while waiting for a response")
        (n,) = struct.unpack(">i", hdr)
        if n < 4 or n > max_size:
            raise ParseError("response size prefix %d is out of range" % n)
        body = self._recv_exact(n)
        if body is None or len(body) < n:
            raise EOFError("connection closed by broker in the middle of a %d-byte response" % n)
        return body

    def roundtrip(self, api_key, version, corr, body=b"", **kw):
        """Send one request and return (corr, body) of its response."""
        self.send(request(api_key, version, corr, body, **kw))
        got_corr, _, rbody = split_response(api_key, version, self.recv_frame())
        return got_corr, rbody

    def wait_closed(self, timeout):
        """Wait up to `timeout` seconds for the peer to close. Returns
        (closed, bytes received meanwhile)."""
        deadline = time.monotonic() + timeout
        got = bytearray()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False, bytes(got)
            self.sock.settimeout(min(left, 0.5))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError):
                return True, bytes(got)
            finally:
                self.sock.settimeout(self.timeout)
            if not chunk:
                return True, bytes(got)
            got += chunk


def api_versions(host, port, version=0, corr=1, timeout=10.0):
    """Fresh connection, one ApiVersions request; returns the parsed body."""
    with Conn(host, port, timeout) as c:
        got, body = c.roundtrip(API_API_VERSIONS, version, corr, api_versions_body(version))
        if got != corr:
            raise ParseError("correlation id %d, expected %d" % (got, corr))
        return parse_api_versions(body, version)
