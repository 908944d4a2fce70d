#!/usr/bin/python3
"""cleaner_e2e.py - produce latency through brookd while its log cleaner
works, against the same run with log.cleaner.enable=false. Not a test (see
bench/README.md); bench/run-cleaner.sh runs it after bench-cleaner.

Each run starts a fresh single-node brookd (tests/lib/brookharness.py),
creates a compacted topic (segment.bytes 8 MB, min.cleanable.dirty.ratio
0.01), fills it with PREFILL updates (100-byte values over 100,000 keys),
then produces RATE records/s, one at a time (linger.ms=0, acks=1), for
SECONDS, and records each record's latency (produce() to its delivery
report). With the cleaner on, the fill makes the log ~100% dirty, so the
cleaner runs during the measurement; the row says how far its checkpoint
moved meanwhile. A third row throttles the cleaner
(log.cleaner.io.max.bytes.per.second = BENCH_THROTTLE, 20 MB/s).

Environment: BENCH_PREFILL (2000000), BENCH_RATE (2000), BENCH_SECONDS (10),
BENCH_THROTTLE (20000000).
"""

import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lib"))

import brookharness  # noqa: E402
from confluent_kafka import Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

PREFILL = int(os.environ.get("BENCH_PREFILL", "2000000"))
RATE = int(os.environ.get("BENCH_RATE", "2000"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
THROTTLE = float(os.environ.get("BENCH_THROTTLE", "20000000"))
TOPIC = "bench-compact"


def cleaner_offset(b):
    try:
        with open(os.path.join(b.datadir, "cleaner-offset-checkpoint")) as f:
            for line in f.read().split("\n")[2:]:
                p = line.split(" ")
                if len(p) == 3 and p[0] == TOPIC:
                    return int(p[2])
    except FileNotFoundError:
        pass
    return -1


def run(cleaner, throttle=None):
    parent = os.environ.get("BENCH_DIR")
    tmp = tempfile.mkdtemp(prefix="bench-cleaner-e2e-", dir=os.path.abspath(parent) if parent else None)
    b = brookharness.Broker(
        tmp,
        props={
            "log.cleaner.enable": "true" if cleaner else "false",
            "log.cleaner.backoff.ms": "100",
            "log.cleaner.io.max.bytes.per.second": str(throttle or "1.7976931348623157E308"),
        },
    )
    b.start()
    try:
        admin = AdminClient({"bootstrap.servers": b.bootstrap})
        cfg = {"cleanup.policy": "compact", "segment.bytes": str(8 << 20), "min.cleanable.dirty.ratio": "0.01"}
        admin.create_topics([NewTopic(TOPIC, 1, 1, config=cfg)])[TOPIC].result(30)
        fill = Producer(
            {
                "bootstrap.servers": b.bootstrap,
                "linger.ms": 20,
                "batch.num.messages": 10000,
                "batch.size": 1000000,
                "queue.buffering.max.messages": 2000000,
                "queue.buffering.max.kbytes": 2097152,
            }
        )
        val = b"x" * 100
        t0 = time.monotonic()
        for i in range(PREFILL):
            while True:
                try:
                    fill.produce(TOPIC, key=b"key-%06d" % (i * 7919 % 100000), value=val)
                    break
                except BufferError:
                    fill.poll(0.05)
        fill.flush(120)
        fill_s = time.monotonic() - t0
        os.sync()  # the fill's dirty pages are not written back during the measurement
        c0 = cleaner_offset(b)
        p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0, "acks": 1})
        # warm up: connection and metadata are not part of the measurement
        for i in range(10):
            p.produce(TOPIC, key=b"warmup", value=val)
        p.flush(30)
        lat = []

        def cb(err, msg, sent):
            if err is None:
                lat.append(time.monotonic() - sent)

        start = time.monotonic()
        n = 0
        while time.monotonic() - start < SECONDS:
            due = start + n / RATE
            now = time.monotonic()
            if due > now:
                p.poll(due - now)
                continue
            sent = time.monotonic()
            p.produce(TOPIC, key=b"key-%06d" % (n % 100000), value=val,
                      on_delivery=lambda e, m, s=sent: cb(e, m, s))
            p.poll(0)
            n += 1
        p.flush(30)
        c1 = cleaner_offset(b)
        lat.sort()
        ms = [x * 1000 for x in lat]
        q = lambda f: ms[min(len(ms) - 1, int(len(ms) * f))]  # noqa: E731
        return {
            "n": len(ms),
            "p50": q(0.5),
            "p99": q(0.99),
            "p999": q(0.999),
            "max": ms[-1],
            "fill_s": fill_s,
            "c0": c0,
            "c1": c1,
        }
    finally:
        b.stop()
        b.finish()
        os.system("rm -rf '%s'" % tmp)


def main():
    print(
        "produce latency through brookd, %d records/s for %.0f s after %d updates (ms):\n"
        % (RATE, SECONDS, PREFILL)
    )
    print("| %-16s | %7s | %7s | %7s | %7s | %8s | %s" % ("cleaner", "records", "p50", "p99", "p99.9", "max",
                                                          "cleaner checkpoint during the run"))
    print("|------------------|---------|---------|---------|---------|----------|----------")
    for cleaner, throttle in ((False, None), (True, None), (True, THROTTLE)):
        r = run(cleaner, throttle)
        print(
            "| %-16s | %7d | %7.2f | %7.2f | %7.2f | %8.2f | %s"
            % (
                ("on, %.0f MB/s" % (throttle / 1e6) if throttle else "on") if cleaner else "off",
                r["n"],
                r["p50"],
                r["p99"],
                r["p999"],
                r["max"],
                "%d -> %d" % (r["c0"], r["c1"]) if cleaner else "-",
            )
        )
        sys.stdout.flush()


if __name__ == "__main__":
    main()
