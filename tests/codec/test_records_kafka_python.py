"""Brook's record batches (proto/records, storage/compress, storage/validate)
against kafka-python's independent implementation.

kafka-python 2.0.2 (Debian python3-kafka) has its own RecordBatch v2 writer
(DefaultRecordBatchBuilder) and reader (DefaultRecordBatch), its own CRC-32C
and its codecs come from other libraries (python3-snappy with the xerial
framing, python3-lz4's frame format with linked blocks, python3-zstandard,
zlib via the gzip module). Each direction is checked:

  * kafka-python builds, Brook (build/bin/bkrecords dump) reads: header
    fields, CRC validity, every record after decompression;
  * Brook builds (bkrecords build), kafka-python reads;
  * Brook validates a kafka-python batch as the leader would (offsets,
    leader epoch, LogAppendTime, recompression) and kafka-python reads the
    result, CRC included.

Codecs kafka-python cannot use here (missing python3-snappy / python3-lz4 /
python3-zstandard) are skipped with the reason.

Run with Debian's interpreter: /usr/bin/python3 -m pytest tests/codec
"""

import json
import os
import random
import subprocess

import pytest

from kafka import codec as kcodec
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BKRECORDS = os.environ.get("BKRECORDS", os.path.join(ROOT, "build", "bin", "bkrecords"))

CODECS = {
    0: ("none", lambda: True),
    1: ("gzip", kcodec.has_gzip),
    2: ("snappy", kcodec.has_snappy),
    3: ("lz4", kcodec.has_lz4),
    4: ("zstd", kcodec.has_zstd),
}
CODEC_PARAMS = [pytest.param(c, id=name) for c, (name, _) in CODECS.items()]

# HEADER_STRUCT ">qiibIhiqqqhii" field order
HDR = ["base_offset", "batch_length", "partition_leader_epoch", "magic", "crc", "attributes",
       "last_offset_delta", "base_timestamp", "max_timestamp", "producer_id", "producer_epoch",
       "base_sequence", "record_count"]


def need_codec(c):
    name, have = CODECS[c]
    if not have():
        pytest.skip("kafka-python has no %s codec here (install python3-%s)" % (
            name, {"snappy": "snappy", "lz4": "lz4", "zstd": "zstandard"}.get(name, name)))


def run(args, stdin):
    if not os.path.exists(BKRECORDS):
        pytest.fail("%s missing: build it (make build/bin/bkrecords)" % BKRECORDS)
    p = subprocess.run([BKRECORDS] + args, input=stdin.encode(), capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr.decode()
    return p.stdout.decode()


def hx(b):
    return None if b is None else bytes(b).hex()


def random_records(rng, n):
    """n records: (timestamp, key, value, headers). Values repeat a lot so
    that every codec actually shrinks them (kafka-python stores a batch
    uncompressed when compression does not help)."""
    words = [b"alpha", b"beta", b"gamma", b"delta", b"kafka", b"brook"]
    base_ts = rng.randrange(1_500_000_000_000, 1_800_000_000_000)
    out = []
    for i in range(n):
        ts = base_ts + rng.randrange(-1000, 100000)
        r = rng.random()
        key = None if r < 0.2 else (b"" if r < 0.25 else b"key-%d" % rng.randrange(1000))
        r = rng.random()
        value = None if r < 0.1 else (b"" if r < 0.15 else
                                       b" ".join(rng.choice(words) for _ in range(rng.randrange(1, 60))))
        headers = []
        for _ in range(rng.choice([0, 0, 1, 3])):
            hk = rng.choice(["trace-id", "h", "", "content-type", "\u00e9t\u00e9"])
            hv = rng.choice([None, b"", b"x", bytes(rng.randrange(256) for _ in range(rng.randrange(20)))])
            headers.append((hk, hv))
        out.append((ts, key, value, headers))
    return out


def kp_build(recs, codec, transactional=False, producer_id=-1, producer_epoch=-1, base_sequence=-1):
    b = DefaultRecordBatchBuilder(magic=2, compression_type=codec, is_transactional=transactional,
                                  producer_id=producer_id, producer_epoch=producer_epoch,
                                  base_sequence=base_sequence, batch_size=1 << 24)
    for i, (ts, k, v, h) in enumerate(recs):
        b.append(i, timestamp=ts, key=k, value=v, headers=h)
    return bytes(b.build())


def kp_read(data):
    """Header tuple as a dict, CRC validity, records as tuples."""
    batch = DefaultRecordBatch(data)
    hdr = dict(zip(HDR, batch._header_data))
    crc_ok = batch.validate_crc()
    recs = [(r.offset, r.timestamp, hx(r.key), hx(r.value),
             [(hk.encode("utf-8").hex(), hx(hv)) for hk, hv in r.headers]) for r in batch]
    return hdr, crc_ok, recs, batch


def bk_dump(data):
    out = json.loads(run(["dump"], data.hex()))
    assert len(out) == 1
    return out[0]


def compare_dump(d, hdr, crc_ok, recs):
    for f in HDR:
        assert d[f] == hdr[f], f
    assert d["crc_valid"] == crc_ok
    assert d["check"] == "ok" and d["decompress"] == "ok" and d["records_check"] == "ok"
    assert not d["iter_error"]
    got = [(r["offset"], r["timestamp"], r["key"], r["value"], [tuple(h) for h in r["headers"]])
           for r in d["records"]]
    assert got == recs


@pytest.mark.parametrize("codec", CODEC_PARAMS)
def test_kafka_python_batches_read_by_brook(codec):
    need_codec(codec)
    rng = random.Random(1000 + codec)
    for it in range(25):
        recs = random_records(rng, rng.choice([1, 2, 7, 40, 300]))
        idem = it % 3 == 1
        data = kp_build(recs, codec, transactional=it % 5 == 2,
                        producer_id=12345 if idem else -1, producer_epoch=3 if idem else -1,
                        base_sequence=77 if idem else -1)
        hdr, crc_ok, krecs, batch = kp_read(data)
        assert crc_ok
        if codec and len(recs) >= 7:
            assert batch.compression_type == codec  # it really is compressed
        d = bk_dump(data)
        compare_dump(d, hdr, crc_ok, krecs)
        assert d["compression"] == batch.compression_type


@pytest.mark.parametrize("codec", CODEC_PARAMS)
def test_brook_batches_read_by_kafka_python(codec):
    need_codec(codec)
    rng = random.Random(2000 + codec)
    for it in range(25):
        recs = random_records(rng, rng.choice([1, 3, 50, 400]))
        lines = []
        for ts, k, v, h in recs:
            f = lambda b: "-" if b is None else (b.hex() or ".")
            hs = " ".join("%s=%s" % (hk.encode("utf-8").hex() or ".", f(hv)) for hk, hv in h)
            lines.append("%d %s %s %s" % (ts, f(k), f(v), hs))
        args = ["build", "--codec", str(codec)]
        if it % 4 == 1:
            args += ["--pid", "999", "--pepoch", "2", "--seq", "10", "--txn"]
        if it % 4 == 2:
            args += ["--ts-type", "1", "--log-append-time", "1700000000123"]
        data = bytes.fromhex(run(args, "\n".join(lines) + "\n").strip())
        hdr, crc_ok, krecs, batch = kp_read(data)
        assert crc_ok
        assert hdr["magic"] == 2 and hdr["record_count"] == len(recs)
        assert hdr["batch_length"] + 12 == len(data)
        assert batch.compression_type == codec
        lat = it % 4 == 2
        assert batch.timestamp_type == (1 if lat else 0)
        if it % 4 == 1:
            assert (hdr["producer_id"], hdr["producer_epoch"], hdr["base_sequence"]) == (999, 2, 10)
            assert batch.is_transactional
        want_max = 1700000000123 if lat else max(r[0] for r in recs)
        assert hdr["max_timestamp"] == want_max
        assert hdr["base_timestamp"] == recs[0][0]
        want = [(i, want_max if lat else ts, hx(k), hx(v),
                 [(hk.encode("utf-8").hex(), hx(hv)) for hk, hv in h])
                for i, (ts, k, v, h) in enumerate(recs)]
        assert krecs == want
        # and Brook reads its own batch the same way
        compare_dump(bk_dump(data), hdr, crc_ok, krecs)


@pytest.mark.parametrize("codec", CODEC_PARAMS)
def test_brook_validates_kafka_python_batches(codec):
    need_codec(codec)
    rng = random.Random(3000 + codec)
    targets = ["producer", "0"] + [str(c) for c in CODECS if c and CODECS[c][1]()]
    for it, target in enumerate(targets * 2):
        recs = random_records(rng, rng.choice([1, 5, 60]))
        data = kp_build(recs, codec)
        _, _, krecs, _ = kp_read(data)
        lat = it >= len(targets)
        now = max(r[0] for r in recs) + 5
        args = ["validate", "--next-offset", "5000", "--epoch", "9", "--now", str(now),
                "--compression", target]
        if lat:
            args.append("--log-append")
        res_line, data_hex = run(args, data.hex()).split("\n")[:2]
        res = json.loads(res_line)
        assert res["error_name"] == "NONE", res
        assert res["first_offset"] == 5000 and res["last_offset"] == 5000 + len(recs) - 1
        out = bytes.fromhex(data_hex)
        hdr, crc_ok, orecs, batch = kp_read(out)
        assert crc_ok
        assert hdr["base_offset"] == 5000 and hdr["partition_leader_epoch"] == 9
        want_codec = codec if target == "producer" else int(target)
        assert batch.compression_type == want_codec
        assert res["recompressed"] == (want_codec != batch_codec(data))
        if not res["recompressed"]:
            assert out[16:] == data[16:] or lat  # only offset/epoch patched
        if lat:
            assert batch.timestamp_type == 1 and hdr["max_timestamp"] == now
            assert res["log_append_time"] == now
        else:
            assert batch.timestamp_type == 0 and hdr["max_timestamp"] == max(r[0] for r in recs)
            assert res["max_timestamp"] == max(r[0] for r in recs)
        assert [r[0] for r in orecs] == list(range(5000, 5000 + len(recs)))
        assert [r[2:] for r in orecs] == [r[2:] for r in krecs]
        if not lat:
            assert [r[1] for r in orecs] == [r[1] for r in krecs]


def batch_codec(data):
    return DefaultRecordBatch(data).compression_type


def test_corruption_seen_by_both():
    rng = random.Random(4000)
    recs = random_records(rng, 20)
    data = bytearray(kp_build(recs, 0))
    for _ in range(50):
        t = bytearray(data)
        i = rng.randrange(21, len(t))  # inside the CRC span
        t[i] ^= 1 << rng.randrange(8)
        d = bk_dump(bytes(t))
        assert d["crc_valid"] is False and d["check"] != "ok"
        assert DefaultRecordBatch(bytes(t)).validate_crc() is False
    res = json.loads(run(["validate"], bytes(t).hex()).split("\n")[0])
    assert res["error_name"] == "CORRUPT_MESSAGE"
