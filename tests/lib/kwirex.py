"""kwirex - more of the Kafka wire protocol for raw-socket tests (issue 4).

Extends kwire (same Writer/Reader/Conn, same rules: written from Kafka's
message definitions in shared/kafka-protocol/messages, strict parsers that
fail on short reads and trailing bytes) with the data-plane and admin APIs
the client tests check directly:

    Produce        0   v3-v8  (record batch v2 bytes, e.g. from record_batch())
    Fetch          1   v4-v11 (returns the raw records bytes + parsed batches)
    ListOffsets    2   v1-v5
    Metadata       3   v10-v12 helpers with topic ids (parse from kwire)
    DeleteRecords  21  v0-v2
    DescribeLogDirs 35 v0-v4
    DescribeCluster 60 v0-v1

Record batches are built and parsed with kafka-python's record classes
(kafka.record.default_records), an encoder independent of Brook and of
librdkafka.
"""

import struct
import time
import uuid as _uuid

import kwire
from kwire import Conn, ParseError, Reader, Writer

API_FETCH = 1
API_LIST_OFFSETS = 2
API_DELETE_RECORDS = 21
API_DESCRIBE_LOG_DIRS = 35
API_DESCRIBE_CLUSTER = 60

# Kafka error codes used by the tests
NONE = 0
OFFSET_OUT_OF_RANGE = 1
UNKNOWN_TOPIC_OR_PARTITION = 3
MESSAGE_TOO_LARGE = 10
INVALID_REPLICATION_FACTOR = 38
INVALID_PARTITIONS = 37
TOPIC_ALREADY_EXISTS = 36
INVALID_CONFIG = 40
UNKNOWN_TOPIC_ID = 100

# ListOffsets special timestamps
LATEST = -1
EARLIEST = -2

# Record batch v2 header: baseOffset 8, batchLength 4, partitionLeaderEpoch 4,
# magic 1, crc 4, attributes 2, lastOffsetDelta 4, baseTimestamp 8,
# maxTimestamp 8, producerId 8, producerEpoch 2, baseSequence 4, count 4.
BATCH_HEADER_SIZE = 61

COMPRESSION = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


# ---------------------------------------------------------------- records


def record_batch(records, compression="none", base_offset=0, timestamp_ms=None, producer_id=-1,
                 producer_epoch=-1, base_sequence=-1, transactional=False):
    """A record batch v2 (bytes) built by kafka-python. records: iterable of
    (key, value, headers) with headers a list of (str, bytes|None)."""
    from kafka.record.default_records import DefaultRecordBatchBuilder

    b = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=COMPRESSION[compression],
        is_transactional=transactional,
        producer_id=producer_id,
        producer_epoch=producer_epoch,
        base_sequence=base_sequence,
        batch_size=1 << 30,
    )
    ts = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    for i, (k, v, h) in enumerate(records):
        if b.append(i, timestamp=ts, key=k, value=v, headers=list(h or [])) is None:
            raise ValueError("record %d did not fit" % i)
    return bytes(b.build())


def varint_size(v):
    """Bytes of a zigzag varint (Kafka record fields)."""
    z = (v << 1) ^ (v >> 63)
    n = 1
    while z >= 0x80:
        z >>= 7
        n += 1
    return n


def single_record_batch_size(value_len, key_len=None, headers=()):
    """Exact size of a batch holding one record with timestamp delta 0 and
    offset delta 0 (what librdkafka and kafka-python write for a batch of
    one), key None if key_len is None: 61 + varint(recordLen) + recordLen."""
    body = 1 + 1 + 1  # attributes, timestampDelta 0, offsetDelta 0
    body += varint_size(-1) if key_len is None else varint_size(key_len) + key_len
    body += varint_size(value_len) + value_len
    body += varint_size(len(headers))
    for hk, hv in headers:
        hk = hk.encode() if isinstance(hk, str) else hk
        body += varint_size(len(hk)) + len(hk)
        body += varint_size(-1) if hv is None else varint_size(len(hv)) + len(hv)
    return BATCH_HEADER_SIZE + varint_size(body) + body


def value_len_for_batch_size(size, key_len=None):
    """The value length whose single-record batch is exactly `size` bytes
    (None if no value length gives exactly that size)."""
    for v in range(max(0, size - 80), size):
        if single_record_batch_size(v, key_len) == size:
            return v
    return None


def parse_batches(data):
    """Split a records blob into batches: [{base_offset, last_offset,
    length, size, magic, attributes, compression, count, records}] where
    records (from kafka-python, decompressed) is [(offset, key, value,
    headers)]. A trailing partial batch (allowed in Fetch) is ignored."""
    from kafka.record.default_records import DefaultRecordBatch

    out = []
    pos = 0
    while len(data) - pos >= 17:
        base, length = struct.unpack_from(">qi", data, pos)
        size = 12 + length
        if len(data) - pos < size:
            break  # partial batch at the end of a fetch response
        magic = data[pos + 16]
        if magic != 2:
            raise ParseError("batch at %d has magic %d" % (pos, magic))
        chunk = bytes(data[pos : pos + size])
        (attrs,) = struct.unpack_from(">h", chunk, 21)
        (last_delta,) = struct.unpack_from(">i", chunk, 23)
        (count,) = struct.unpack_from(">i", chunk, 57)
        batch = DefaultRecordBatch(chunk)
        if not batch.validate_crc():
            raise ParseError("batch at offset %d: CRC mismatch" % base)
        recs = [(r.offset, r.key, r.value, list(r.headers)) for r in batch]
        out.append(
            {
                "base_offset": base,
                "last_offset": base + last_delta,
                "size": size,
                "attributes": attrs,
                "compression": attrs & 7,
                "control": bool(attrs & 0x20),
                "count": count,
                "records": recs,
            }
        )
        pos += size
    return out


# ---------------------------------------------------------------- helpers


def _flex(api, version):
    return kwire.is_flexible(api, version)


def _str(r, flex, nullable=False, what="string"):
    return r.string(flex, nullable=nullable, what=what)


def _arr(r, flex, nullable=False, what="array"):
    return r.array_len(flex, nullable=nullable, what=what)


def _bytes_field(r, flex, what="bytes"):
    """(nullable) bytes: int32 length, or compact (uvarint len+1)."""
    if flex:
        n = r.uvarint(what) - 1
    else:
        n = r.i32(what)
    if n == -1:
        return None
    if n < -1:
        raise ParseError("%s: bad length %d" % (what, n))
    return r._take(n, what)


def _roundtrip(conn, api, version, body, corr=None):
    corr = corr if corr is not None else int(time.monotonic() * 1000) & 0x7FFFFFFF
    got, rbody = conn.roundtrip(api, version, corr, body)
    if got != corr:
        raise ParseError("correlation id %d, expected %d" % (got, corr))
    return rbody


def _conn(target, timeout):
    if isinstance(target, Conn):
        return target, False
    host, port = target
    return Conn(host, port, timeout), True


def call(target, api, version, body, parse, timeout=15.0):
    """target: an open kwire.Conn or (host, port) for a fresh connection."""
    c, own = _conn(target, timeout)
    try:
        return parse(_roundtrip(c, api, version, body), version)
    finally:
        if own:
            c.close()


# ---------------------------------------------------------------- Produce


def produce_body(version, topic, partition, records, acks=-1, timeout_ms=10000):
    assert 3 <= version <= 8
    w = Writer()
    w.string(None)  # TransactionalId
    w.i16(acks).i32(timeout_ms)
    w.array_len(1).string(topic)
    w.array_len(1).i32(partition)
    w.i32(len(records)).raw(records)
    return w.bytes()


def parse_produce(body, version):
    r = Reader(body)
    out = {"topics": []}
    for _ in range(_arr(r, False, what="Responses")):
        t = {"name": r.string(what="Name"), "partitions": []}
        for _ in range(_arr(r, False, what="PartitionResponses")):
            p = {"index": r.i32("Index"), "error_code": r.i16("ErrorCode"), "base_offset": r.i64("BaseOffset")}
            if version >= 2:
                p["log_append_time_ms"] = r.i64("LogAppendTimeMs")
            if version >= 5:
                p["log_start_offset"] = r.i64("LogStartOffset")
            if version >= 8:
                p["record_errors"] = []
                for _ in range(_arr(r, False, what="RecordErrors")):
                    p["record_errors"].append((r.i32("BatchIndex"), r.string(nullable=True)))
                p["error_message"] = r.string(nullable=True, what="ErrorMessage")
            t["partitions"].append(p)
        out["topics"].append(t)
    out["throttle_time_ms"] = r.i32("ThrottleTimeMs") if version >= 1 else None
    r.done("ProduceResponse v%d" % version)
    return out


def produce(target, topic, partition, records, acks=-1, version=7, timeout=15.0):
    """Send one batch blob; returns the partition's response dict."""
    res = call(target, kwire.API_PRODUCE, version, produce_body(version, topic, partition, records, acks), parse_produce, timeout)
    (t,) = res["topics"]
    (p,) = t["partitions"]
    return p


# ---------------------------------------------------------------- Fetch


def fetch_body(version, topic, partition, offset, max_wait_ms=0, min_bytes=1, max_bytes=64 << 20,
               partition_max_bytes=32 << 20, isolation_level=0):
    assert 4 <= version <= 11
    w = Writer()
    w.i32(-1).i32(max_wait_ms).i32(min_bytes).i32(max_bytes).i8(isolation_level)
    if version >= 7:
        w.i32(0).i32(-1)  # SessionId, SessionEpoch: no fetch session
    w.array_len(1).string(topic)
    w.array_len(1).i32(partition)
    if version >= 9:
        w.i32(-1)  # CurrentLeaderEpoch
    w.i64(offset)
    if version >= 5:
        w.i64(-1)  # LogStartOffset (followers only)
    w.i32(partition_max_bytes)
    if version >= 7:
        w.array_len(0)  # ForgottenTopicsData
    if version >= 11:
        w.string("")  # RackId
    return w.bytes()


def parse_fetch(body, version):
    r = Reader(body)
    out = {"throttle_time_ms": r.i32("ThrottleTimeMs")}
    if version >= 7:
        out["error_code"] = r.i16("ErrorCode")
        out["session_id"] = r.i32("SessionId")
    out["topics"] = []
    for _ in range(_arr(r, False, what="Responses")):
        t = {"name": r.string(what="Topic"), "partitions": []}
        for _ in range(_arr(r, False, what="Partitions")):
            p = {
                "index": r.i32("PartitionIndex"),
                "error_code": r.i16("ErrorCode"),
                "high_watermark": r.i64("HighWatermark"),
                "last_stable_offset": r.i64("LastStableOffset"),
            }
            if version >= 5:
                p["log_start_offset"] = r.i64("LogStartOffset")
            n = _arr(r, False, nullable=True, what="AbortedTransactions")
            p["aborted"] = None if n is None else [(r.i64(), r.i64()) for _ in range(n)]
            if version >= 11:
                p["preferred_read_replica"] = r.i32("PreferredReadReplica")
            p["records"] = _bytes_field(r, False, "Records") or b""
            t["partitions"].append(p)
        out["topics"].append(t)
    r.done("FetchResponse v%d" % version)
    return out


def fetch(target, topic, partition, offset, version=11, timeout=15.0, **kw):
    """One Fetch of one partition; returns the partition dict with
    'batches' (parse_batches of its records)."""
    res = call(target, API_FETCH, version, fetch_body(version, topic, partition, offset, **kw), parse_fetch, timeout)
    if version >= 7 and res["error_code"]:
        raise AssertionError("Fetch top-level error %d" % res["error_code"])
    (t,) = res["topics"]
    (p,) = t["partitions"]
    p["batches"] = parse_batches(p["records"]) if p["error_code"] == 0 else []
    return p


def fetch_all(target, topic, partition, start=0, end=None, timeout=30.0):
    """Every batch of a partition from `start` up to the high watermark (or
    `end`), following the batches. Returns (batches, high_watermark)."""
    deadline = time.monotonic() + timeout
    c, own = _conn(target, timeout)
    try:
        batches = []
        off = start
        while True:
            p = fetch(c, topic, partition, off)
            if p["error_code"]:
                raise AssertionError("Fetch %s-%d @%d: error %d" % (topic, partition, off, p["error_code"]))
            hw = p["high_watermark"]
            stop = hw if end is None else min(end, hw)
            for b in p["batches"]:
                if b["last_offset"] >= off:
                    batches.append(b)
            if p["batches"]:
                off = max(off, p["batches"][-1]["last_offset"] + 1)
            if off >= stop:
                return batches, hw
            if not p["batches"]:
                if time.monotonic() > deadline:
                    raise AssertionError("Fetch %s-%d made no progress at %d (hw %d)" % (topic, partition, off, hw))
                time.sleep(0.05)
    finally:
        if own:
            c.close()


# ---------------------------------------------------------------- ListOffsets


def list_offsets_body(version, topic, partition, timestamp):
    assert 1 <= version <= 5
    w = Writer().i32(-1)
    if version >= 2:
        w.i8(0)
    w.array_len(1).string(topic).array_len(1).i32(partition)
    if version >= 4:
        w.i32(-1)
    w.i64(timestamp)
    return w.bytes()


def parse_list_offsets(body, version):
    r = Reader(body)
    out = {"throttle_time_ms": r.i32() if version >= 2 else None, "topics": []}
    for _ in range(_arr(r, False)):
        t = {"name": r.string(), "partitions": []}
        for _ in range(_arr(r, False)):
            p = {"index": r.i32(), "error_code": r.i16(), "timestamp": r.i64(), "offset": r.i64()}
            if version >= 4:
                p["leader_epoch"] = r.i32()
            t["partitions"].append(p)
        out["topics"].append(t)
    r.done("ListOffsetsResponse v%d" % version)
    return out


def list_offset(target, topic, partition, timestamp, version=5, timeout=15.0):
    """(error_code, offset) of EARLIEST (-2), LATEST (-1) or a timestamp."""
    res = call(target, API_LIST_OFFSETS, version, list_offsets_body(version, topic, partition, timestamp),
               parse_list_offsets, timeout)
    (t,) = res["topics"]
    (p,) = t["partitions"]
    return p["error_code"], p["offset"]


# ---------------------------------------------------------------- DeleteRecords


def delete_records_body(version, topic, offsets, timeout_ms=10000):
    """offsets: {partition: offset}; offset -1 = the high watermark."""
    flex = version >= 2
    w = Writer()
    w.array_len(1, flex).string(topic, flex)
    w.array_len(len(offsets), flex)
    for p, o in sorted(offsets.items()):
        w.i32(p).i64(o)
        if flex:
            w.tags()
    if flex:
        w.tags()
    w.i32(timeout_ms)
    if flex:
        w.tags()
    return w.bytes()


def parse_delete_records(body, version):
    flex = version >= 2
    r = Reader(body)
    out = {"throttle_time_ms": r.i32(), "topics": {}}
    for _ in range(_arr(r, flex)):
        name = _str(r, flex)
        parts = {}
        for _ in range(_arr(r, flex)):
            idx = r.i32()
            parts[idx] = {"low_watermark": r.i64(), "error_code": r.i16()}
            if flex:
                r.tags()
        out["topics"][name] = parts
        if flex:
            r.tags()
    if flex:
        r.tags()
    r.done("DeleteRecordsResponse v%d" % version)
    return out


def delete_records(target, topic, offsets, version=1, timeout=15.0):
    """{partition: {low_watermark, error_code}}"""
    res = call(target, API_DELETE_RECORDS, version, delete_records_body(version, topic, offsets),
               parse_delete_records, timeout)
    return res["topics"][topic]


# ---------------------------------------------------------------- DescribeCluster


def describe_cluster_body(version, include_ops=False):
    w = Writer().bool(include_ops)
    if version >= 1:
        w.i8(1)  # EndpointType: brokers
    return w.tags().bytes()


def parse_describe_cluster(body, version):
    r = Reader(body)
    out = {"throttle_time_ms": r.i32(), "error_code": r.i16(), "error_message": r.string(True, nullable=True)}
    if version >= 1:
        out["endpoint_type"] = r.i8()
    out["cluster_id"] = r.string(True, what="ClusterId")
    out["controller_id"] = r.i32()
    out["brokers"] = []
    for _ in range(_arr(r, True)):
        b = {"broker_id": r.i32(), "host": r.string(True), "port": r.i32(), "rack": r.string(True, nullable=True)}
        r.tags()
        out["brokers"].append(b)
    out["cluster_authorized_operations"] = r.i32()
    out["tags"] = r.tags()
    r.done("DescribeClusterResponse v%d" % version)
    return out


def describe_cluster(target, version=0, timeout=15.0):
    return call(target, API_DESCRIBE_CLUSTER, version, describe_cluster_body(version), parse_describe_cluster, timeout)


# ---------------------------------------------------------------- DescribeLogDirs


def describe_log_dirs_body(version, topics=None):
    """topics: None = all, or {name: [partitions]}"""
    flex = version >= 2
    w = Writer()
    if topics is None:
        w.array_len(None, flex)
    else:
        w.array_len(len(topics), flex)
        for name, parts in topics.items():
            w.string(name, flex)
            w.array_len(len(parts), flex)
            for p in parts:
                w.i32(p)
            if flex:
                w.tags()
    if flex:
        w.tags()
    return w.bytes()


def parse_describe_log_dirs(body, version):
    flex = version >= 2
    r = Reader(body)
    out = {"throttle_time_ms": r.i32()}
    out["error_code"] = r.i16() if version >= 3 else 0
    out["results"] = []
    for _ in range(_arr(r, flex)):
        d = {"error_code": r.i16(), "log_dir": _str(r, flex), "topics": {}}
        for _ in range(_arr(r, flex)):
            name = _str(r, flex)
            parts = {}
            for _ in range(_arr(r, flex)):
                idx = r.i32()
                parts[idx] = {"size": r.i64(), "offset_lag": r.i64(), "is_future": r.bool()}
                if flex:
                    r.tags()
            d["topics"][name] = parts
            if flex:
                r.tags()
        if version >= 4:
            d["total_bytes"] = r.i64()
            d["usable_bytes"] = r.i64()
        if flex:
            r.tags()
        out["results"].append(d)
    if flex:
        out["tags"] = r.tags()
    r.done("DescribeLogDirsResponse v%d" % version)
    return out


def describe_log_dirs(target, version=4, topics=None, timeout=15.0):
    return call(target, API_DESCRIBE_LOG_DIRS, version, describe_log_dirs_body(version, topics),
                parse_describe_log_dirs, timeout)


# ---------------------------------------------------------------- Metadata


def metadata(target, version=12, topics=None, allow_auto_create=False, timeout=15.0):
    return call(target, kwire.API_METADATA, version, kwire.metadata_body(version, topics, allow_auto_create),
                kwire.parse_metadata, timeout)


def topic_ids(target, version=12, names=None):
    """{name: uuid.UUID} from Metadata v10+ (all topics when names is None)."""
    md = metadata(target, version, names)
    return {t["name"]: _uuid.UUID(bytes=t["topic_id"]) for t in md["topics"] if t["error_code"] == 0}


# ---------------------------------------------------------------- ApiVersions


def api_ranges(host, port, timeout=10.0):
    """{api_key: (min, max)} the broker advertises (ApiVersions v2)."""
    return kwire.api_versions(host, port, version=2, timeout=timeout)["keys"]


# ---------------------------------------------------------------- IncrementalAlterConfigs

API_INCREMENTAL_ALTER_CONFIGS = 44

RESOURCE_TOPIC = 2
RESOURCE_BROKER = 4
OP_SET, OP_DELETE, OP_APPEND, OP_SUBTRACT = 0, 1, 2, 3


def incremental_alter_configs_body(version, resources, validate_only=False):
    """resources: [(resource_type, name, [(config, op, value|None)])]"""
    flex = version >= 1
    w = Writer()
    w.array_len(len(resources), flex)
    for rtype, name, configs in resources:
        w.i8(rtype).string(name, flex)
        w.array_len(len(configs), flex)
        for cname, op, value in configs:
            w.string(cname, flex).i8(op).string(value, flex)
            if flex:
                w.tags()
        if flex:
            w.tags()
    w.bool(validate_only)
    if flex:
        w.tags()
    return w.bytes()


def parse_incremental_alter_configs(body, version):
    flex = version >= 1
    r = Reader(body)
    out = {"throttle_time_ms": r.i32(), "responses": []}
    for _ in range(_arr(r, flex)):
        x = {"error_code": r.i16(), "error_message": _str(r, flex, nullable=True), "resource_type": r.i8(),
             "resource_name": _str(r, flex)}
        if flex:
            r.tags()
        out["responses"].append(x)
    if flex:
        r.tags()
    r.done("IncrementalAlterConfigsResponse v%d" % version)
    return out


def incremental_alter_configs(target, resources, validate_only=False, version=1, timeout=15.0):
    """[(error_code, error_message)] per resource, in request order."""
    res = call(target, API_INCREMENTAL_ALTER_CONFIGS, version,
               incremental_alter_configs_body(version, resources, validate_only),
               parse_incremental_alter_configs, timeout)
    return [(x["error_code"], x["error_message"]) for x in res["responses"]]
