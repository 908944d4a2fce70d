"""Issue 4: what was acknowledged survives a broker stop between produce and
consume: a clean stop (SIGTERM), and kill -9 with flushing after every
message (broker log.flush.interval.messages=1, or topic flush.messages=1),
also with the producer still running while the broker dies.
"""

import time

import pytest

import i4util
import kwirex

PARTS = 3


def _roundtrip_across(brook, topic, tag, n, stop):
    prod = i4util.produce_confluent(brook.bootstrap, topic, tag, n, acks="all", compression="lz4")
    assert not prod.errors, prod.errors[:5]
    stop()
    brook.start()
    i4util.wait_metadata(brook.bootstrap, topic, PARTS)
    consumed = i4util.consume_all(brook.bootstrap, topic, PARTS, expected=n)
    i4util.verify(tag, n, consumed, prod, exact=True)
    # appends continue after the recovered end
    more = i4util.produce_confluent(brook.bootstrap, topic, tag + "x", 300, acks="all")
    assert not more.errors
    ends = {}
    for p, off in prod.where.values():
        ends[p] = max(ends.get(p, -1), off + 1)
    for p, off in more.where.values():
        assert off >= ends.get(p, 0), "partition %d: new message at offset %d, below the old end %d" % (p, off, ends[p])
    brook.assert_alive()


@pytest.mark.smoke
@pytest.mark.timeout(180)
@pytest.mark.brook_config({"num.partitions": PARTS})
def test_sigterm_between_produce_and_consume(brook):
    i4util.auto_create(brook.bootstrap, "rs-term", PARTS)
    _roundtrip_across(brook, "rs-term", "term", 20000, brook.stop)


@pytest.mark.smoke
@pytest.mark.timeout(180)
@pytest.mark.brook_config({"num.partitions": PARTS, "log.flush.interval.messages": 1})
def test_kill9_between_produce_and_consume_broker_flush(brook):
    i4util.auto_create(brook.bootstrap, "rs-kill", PARTS)
    _roundtrip_across(brook, "rs-kill", "kill", 5000, brook.kill9)


@pytest.mark.smoke
@pytest.mark.timeout(180)
def test_kill9_between_produce_and_consume_topic_flush(brook):
    i4util.create_topic(brook.bootstrap, "rs-kill-t", PARTS, {"flush.messages": "1"})
    _roundtrip_across(brook, "rs-kill-t", "killt", 5000, brook.kill9)


@pytest.mark.timeout(240)
@pytest.mark.brook_config({"num.partitions": PARTS, "log.flush.interval.messages": 1})
def test_kill9_while_producing(brook):
    """The producer keeps sending while the broker is killed and restarted
    (librdkafka retries). Every message whose delivery report succeeded
    must be at the partition/offset the report gave; the rest may be lost
    or duplicated (no idempotence), but nothing may be corrupted."""
    from confluent_kafka import Producer

    topic, tag, n = "rs-live", "live", 30000
    i4util.auto_create(brook.bootstrap, topic, PARTS)
    acked = {}
    failed = []

    def on_delivery(err, msg):
        i = i4util.index_of(tag, msg.key())
        if err is None:
            acked[i] = (msg.partition(), msg.offset())
        else:
            failed.append((i, err))

    p = Producer({"bootstrap.servers": brook.bootstrap, "acks": "all", "linger.ms": 2,
                  "message.timeout.ms": 60000, "retry.backoff.ms": 200, "on_delivery": on_delivery,
                  "queue.buffering.max.messages": n + 1000})

    # The kill and the restart happen in this (the main) thread: brookd gets
    # PR_SET_PDEATHSIG, which fires when the *thread* that started it exits.
    deadline = time.monotonic() + 90
    t0 = time.monotonic()
    killed = False
    for i in range(n):
        p.produce(topic, key=i4util.key_of(tag, i), value=i4util.value_of(tag, i), headers=i4util.headers_of(tag, i))
        p.poll(0)
        if i % 100 == 99:
            time.sleep(0.01)  # spread the sends over ~3 s so the kill lands mid-stream
        if not killed and time.monotonic() - t0 > 1.0:
            brook.kill9()  # batches are in flight now
            killed = True
            for _ in range(50):  # 0.5 s down: requests fail, librdkafka will retry them
                p.poll(0.01)
            brook.start()
    assert killed
    left = p.flush(max(1, deadline - time.monotonic()))
    assert left == 0, "%d messages still queued" % left
    assert len(acked) > 0

    consumed = i4util.consume_all(brook.bootstrap, topic, PARTS)
    at = {(c[0], c[1]): c for c in consumed}
    for i, (part, off) in acked.items():
        c = at.get((part, off))
        assert c is not None, "acknowledged message %d at %d/%d is gone" % (i, part, off)
        assert i4util.index_of(tag, c[2]) == i, "offset %d/%d holds %r, acknowledged for message %d" % (part, off, c[2], i)
    # everything present is intact (values/headers), even duplicates of unacknowledged retries
    for (part, off, k, v, h, ts) in consumed:
        i = i4util.index_of(tag, k)
        assert v == i4util.value_of(tag, i) and i4util.norm_headers(h) == i4util.headers_of(tag, i)
    # per partition, offsets are dense from 0 to the high watermark
    per = {}
    for (part, off, *_rest) in consumed:
        per.setdefault(part, []).append(off)
    for part, offs in per.items():
        assert offs == list(range(len(offs))), "partition %d: offsets have gaps" % part
    addr = (brook.host, brook.port)
    for part in range(PARTS):
        assert kwirex.list_offset(addr, topic, part, kwirex.LATEST) == (0, len(per.get(part, [])))
