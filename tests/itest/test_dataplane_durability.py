"""Storage in the server: restart after SIGTERM and after kill -9, the
start-up summary line, the log directory lock, and shutdown while
consumers are long-polling.

kill -9 keeps the page cache, so everything a process wrote survives it;
these tests check that brookd acknowledges only what it wrote, recovers
(scans) its logs after a crash and not after a clean stop, and that the
recovery keeps every acknowledged message. Power loss is the storage unit
tests' business (fault-injecting file layer).
"""

import os
import re
import signal
import subprocess
import threading
import time

import pytest

from test_dataplane_clients import consume_n, consumer, ensure_topic, produce_all, producer

STARTUP_RE = re.compile(
    r"storage: (\d+) partitions, (\d+) segments, (\d+) recovered segments, (\d+) bytes truncated, "
    r"loaded in (\d+) ms")


def startup_stats(brook):
    m = STARTUP_RE.search(brook.log_text())
    assert m, "no storage start-up line in the log:\n" + brook.log_text()
    return dict(zip(("partitions", "segments", "recovered", "truncated", "ms"), map(int, m.groups())))


def fill(brook, topic, parts, per_part, pad=0, **pconf):
    """Produce per_part messages to every partition (acks=all); returns
    {partition: [values in offset order]} and checks the offsets are dense."""
    p = producer(brook, **pconf)
    msgs = [{"topic": topic, "partition": i % parts,
             "value": b"%s-%d-" % (topic.encode(), i) + b"x" * pad}
            for i in range(parts * per_part)]
    reports = produce_all(p, msgs)
    out, first = {}, {}
    for _, _, part, off, _, val in sorted(reports, key=lambda r: (r[2], r[3])):
        first.setdefault(part, off)
        out.setdefault(part, []).append(val)
        assert off == first[part] + len(out[part]) - 1, "offsets of partition %d are not dense" % part
    return out


def read_back(brook, topic, parts, want):
    from confluent_kafka import TopicPartition

    c = consumer(brook)
    n = sum(len(v) for v in want.values())
    c.assign([TopicPartition(topic, i, 0) for i in range(parts)])
    got = consume_n(c, n, timeout=60)
    c.close()
    per = {}
    for m in got:
        per.setdefault(m.partition(), []).append((m.offset(), m.value()))
    for part, vals in want.items():
        assert per.get(part) == list(enumerate(vals)), "partition %d differs after restart" % part


@pytest.mark.smoke
@pytest.mark.brook_config({"num.partitions": 3, "log.segment.bytes": 65536})
def test_sigterm_restart_keeps_everything_and_scans_nothing(brook):
    ensure_topic(brook, "keep", 3)
    # small batches (librdkafka would send ~1 MB ones): ~3 segments per partition
    want = fill(brook, "keep", 3, 1000, pad=200, **{"batch.size": 16384})
    s = startup_stats(brook)
    assert s["partitions"] == 0
    brook.restart()  # SIGTERM, then start again
    s = startup_stats(brook)
    assert s["partitions"] == 3 and s["segments"] > 3, s
    # a clean stop wrote the checkpoints: nothing to scan or cut
    assert s["recovered"] == 0 and s["truncated"] == 0, s
    read_back(brook, "keep", 3, want)
    more = fill(brook, "keep", 3, 10)
    from confluent_kafka import TopicPartition

    c = consumer(brook)
    for part in range(3):
        lo, hi = c.get_watermark_offsets(TopicPartition("keep", part), timeout=10)
        assert (lo, hi) == (0, len(want[part]) + len(more[part]))
    c.close()


@pytest.mark.brook_config({"num.partitions": 2, "log.flush.interval.messages": 1})
def test_kill9_keeps_acknowledged_messages(brook):
    ensure_topic(brook, "crash", 2)
    want = fill(brook, "crash", 2, 300, **{"linger.ms": 0})
    time.sleep(0.3)  # flush.messages=1: flushed by the background thread
    brook.kill9()
    brook.start()
    s = startup_stats(brook)
    assert s["partitions"] == 2
    read_back(brook, "crash", 2, want)
    # and the log is writable where it left off
    more = fill(brook, "crash", 2, 5)
    assert all(len(v) == 5 for v in more.values())


@pytest.mark.brook_config({"num.partitions": 1})
def test_kill9_during_produce_recovers_a_consistent_log(brook):
    """kill -9 while a producer is busy: after the restart every
    acknowledged message is there, offsets are dense, and the log accepts
    new writes."""
    from confluent_kafka import TopicPartition

    ensure_topic(brook, "busy", 1)
    acked = []
    stop = threading.Event()

    def work():
        p = producer(brook, **{"linger.ms": 1, "message.timeout.ms": 3000, "retries": 0})

        def cb(err, msg):
            if err is None:
                acked.append((msg.offset(), msg.value()))

        i = 0
        while not stop.is_set():
            try:
                p.produce("busy", value=b"m%d" % i, on_delivery=cb)
                i += 1
            except BufferError:
                pass
            p.poll(0.001)
        p.flush(5)

    th = threading.Thread(target=work)
    th.start()
    deadline = time.monotonic() + 10
    while len(acked) < 2000 and time.monotonic() < deadline:
        time.sleep(0.05)
    brook.kill9()
    stop.set()
    th.join(20)
    assert len(acked) >= 100, "too few messages acknowledged before the kill"
    brook.start()
    c = consumer(brook)
    lo, hi = c.get_watermark_offsets(TopicPartition("busy", 0), timeout=10)
    top = max(o for o, _ in acked)
    assert lo == 0 and hi > top
    c.assign([TopicPartition("busy", 0, 0)])
    got = consume_n(c, hi, timeout=60)
    c.close()
    assert [m.offset() for m in got] == list(range(hi))
    vals = {m.offset(): m.value() for m in got}
    for off, val in acked:
        assert vals[off] == val
    more = fill(brook, "busy", 1, 3)
    assert len(more[0]) == 3


def test_log_dir_lock_is_exclusive(brook):
    """A second broker on the same log.dirs exits 1 with a clear message."""
    cfg = open(brook.config_path).read()
    other = os.path.join(brook.workdir, "second.properties")
    with open(other, "w") as f:
        f.write(re.sub(r"listeners=PLAINTEXT://127.0.0.1:\d+", "listeners=PLAINTEXT://127.0.0.1:0", cfg))
    r = subprocess.run([brook.binary, other], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30, text=True, env=brook._env())
    assert r.returncode == 1, r
    assert "in use by another process" in r.stderr and brook.datadir in r.stderr, r.stderr
    brook.assert_alive("after a second broker tried its log dir")


@pytest.mark.brook_config({"num.partitions": 1})
def test_sigterm_while_consumers_long_poll(brook):
    """Parked fetches are answered and the broker stops promptly and
    cleanly, well before their 30 s wait."""
    from confluent_kafka import OFFSET_END, TopicPartition

    ensure_topic(brook, "parked", 1)
    cs = []
    for _ in range(3):
        c = consumer(brook, **{"fetch.wait.max.ms": 30000})
        c.assign([TopicPartition("parked", 0, OFFSET_END)])
        c.poll(0.5)
        cs.append(c)
    time.sleep(0.5)
    t0 = time.monotonic()
    rc = brook.stop(timeout=10)
    assert rc == 0 and time.monotonic() - t0 < 5
    assert "storage closed cleanly" in brook.log_text()
    for c in cs:
        c.close()
