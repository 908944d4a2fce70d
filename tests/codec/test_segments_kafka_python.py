"""Segments written by Brook's storage engine, read by independent code.

build/bin/mklog writes a partition log through bk_plog with Brook's batch
builder (every codec, null keys, headers, several segments); kafka-python's
record reader (kafka.record, Debian python3-kafka) must find exactly the
records the rules in tests/mklog.c describe. `brook dump-log` is checked on
the same files, and on a corrupted copy.
"""

import glob
import os
import subprocess

import pytest

from kafka.record import MemoryRecords

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "build", "bin")
CODECS = {0: None, 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}


def expected(off):
    key = None if off % 7 == 3 else b"k%d" % off
    value = (b"v%d" % off) * (off % 13 + 1)
    headers = [("h", b"%d" % off)] if off % 3 == 0 else []
    return key, value, headers, 1700000000000 + off


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("segs")
    out = subprocess.run([os.path.join(BIN, "mklog"), str(d), "orders", "2", "1500", "65536"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    assert out.strip() == "LEO 3750"
    return d / "orders-2"


@pytest.mark.smoke
def test_kafka_python_reads_brook_segments(logdir):
    logs = sorted(glob.glob(str(logdir / "*.log")))
    assert len(logs) > 3, "expected several segments"
    off = 0
    codecs_seen = set()
    for path in logs:
        base = int(os.path.basename(path)[:20])
        assert base == off, "segment %s should start at offset %d" % (path, off)
        data = open(path, "rb").read()
        records = MemoryRecords(data)
        while records.has_next():
            batch = records.next_batch()
            codecs_seen.add(batch.compression_type)
            assert batch.magic == 2
            assert batch.validate_crc()
            for rec in batch:
                key, value, headers, ts = expected(off)
                assert rec.offset == off
                assert rec.key == key and rec.value == value
                assert list(rec.headers) == headers
                assert rec.timestamp == ts
                off += 1
    assert off == 3750
    assert codecs_seen == {0, 1, 2, 3, 4}


@pytest.mark.smoke
def test_dump_log_prints_and_verifies(logdir, tmp_path):
    first = str(logdir / ("%020d.log" % 0))
    out = subprocess.run([os.path.join(BIN, "brook"), "dump-log", "--files", first,
                          "--print-data-log"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "Dumping " + first
    batches = [l for l in lines if l.startswith("baseOffset:")]
    assert batches and all("isvalid: true" in l for l in batches)
    assert "compresscodec: zstd" in out.stdout and "compresscodec: snappy" in out.stdout
    assert "| offset: 3 CreateTime: 1700000000003 keySize: -1" in out.stdout
    assert "key: null payload: v3v3v3v3" in out.stdout

    idx = subprocess.run([os.path.join(BIN, "brook"), "dump-log", "--index-sanity-check"] +
                         sorted(glob.glob(str(logdir / "*index"))),
                         capture_output=True, text=True, timeout=60)
    assert idx.returncode == 0, idx.stdout
    assert "passed sanity check" in idx.stdout

    # a flipped byte makes that batch invalid and the exit status 1
    bad = tmp_path / ("%020d.log" % 0)
    data = bytearray(open(first, "rb").read())
    data[200] ^= 0xFF
    bad.write_bytes(bytes(data) + b"\x00\x01garbage")
    out = subprocess.run([os.path.join(BIN, "brook"), "dump-log", str(bad)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "isvalid: false" in out.stdout
    assert "invalid bytes at the end" in out.stdout
