"""i4util - helpers for the issue-4 client tests (tests/itest/test_i4_*.py):
deterministic messages, confluent-kafka produce/consume with full
verification, topic creation, external client processes.

Every message of a run is a pure function of (tag, i), so a consumer can
check each key, value and header without keeping the produced list:

    key      b"<tag>-%07d" % i
    value    compressible text of varying length; b"" when i % 97 == 0,
             None (a null value) when i % 101 == 100
    headers  [("seq", b"<i>"), ("tag", b"<tag>")], plus ("empty", b"")
             when i % 5 == 0, ("null", None) when i % 11 == 0 and a second
             ("seq", b"dup") when i % 13 == 0 (header keys may repeat)
"""

import os
import random
import shutil
import subprocess
import time

import kwire
import kwirex

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CLIENT_TIMEOUT = 90


# ---------------------------------------------------------------- messages


def key_of(tag, i):
    return b"%s-%07d" % (tag.encode(), i)


def index_of(tag, key):
    prefix = tag.encode() + b"-"
    if key is None or not key.startswith(prefix):
        raise AssertionError("unexpected key %r (tag %s)" % (key, tag))
    return int(key[len(prefix):])


_WORDS = [b"alpha", b"bravo", b"charlie", b"delta", b"echo", b"foxtrot", b"golf", b"hotel"]


def value_of(tag, i):
    if i % 101 == 100:
        return None
    if i % 97 == 0:
        return b""
    rnd = random.Random(i * 7919 + len(tag))
    n = i % 9
    parts = [b"%s:%d:" % (tag.encode(), i)]
    parts += [rnd.choice(_WORDS) for _ in range(n)]
    parts.append(bytes(rnd.getrandbits(8) for _ in range(i % 23)))
    return b" ".join(parts)


def headers_of(tag, i):
    h = [("seq", b"%d" % i), ("tag", tag.encode())]
    if i % 5 == 0:
        h.append(("empty", b""))
    if i % 11 == 0:
        h.append(("null", None))
    if i % 13 == 0:
        h.append(("seq", b"dup"))
    return h


def _fix_null_header_refcounts(h):
    """confluent-kafka 1.7.0 bug: converting a consumed header whose value is
    NULL to Python puts Py_None into the tuple without Py_INCREF, so every
    such header freed later steals a reference to None, and after a few
    thousand the interpreter aborts ("none_dealloc: deallocating None").
    Message.headers() converts once and caches, so give None one reference
    per null-valued header right after the first call."""
    import ctypes

    for _, v in h or ():
        if v is None:
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(None))


def norm_headers(h):
    """confluent-kafka gives None for no headers, and may give str or bytes."""
    if not h:
        return []
    return [(k, v.encode() if isinstance(v, str) else v) for k, v in h]


# ---------------------------------------------------------------- topics


def _md_version(host, port):
    """Metadata version to use: the broker's max, capped at 9 (>= 4 carries
    AllowAutoTopicCreation; older versions auto-create anyway)."""
    lo, hi = kwirex.api_ranges(host, port)[kwire.API_METADATA]
    return min(hi, 9)


def wait_metadata(bootstrap, topic, partitions, timeout=20):
    """Wait until Metadata shows the topic with `partitions` partitions, each
    with a leader. Returns the topic metadata (kwire dict)."""
    host, port = bootstrap.rsplit(":", 1)
    deadline = time.monotonic() + timeout
    last = None
    v = _md_version(host, int(port))
    while True:
        try:
            md = kwirex.metadata((host, int(port)), v, [topic], allow_auto_create=False)
            (t,) = md["topics"]
            last = t
            if t["error_code"] == 0 and len(t["partitions"]) == partitions and all(
                p["leader_id"] >= 0 and p["error_code"] == 0 for p in t["partitions"]
            ):
                return t
        except (OSError, kwire.ParseError, EOFError) as e:
            last = repr(e)
        if time.monotonic() > deadline:
            raise AssertionError("topic %s with %d partitions not in metadata after %ds: %r"
                                 % (topic, partitions, timeout, last))
        time.sleep(0.1)


def auto_create(bootstrap, topic, partitions, timeout=20):
    """Create a topic by asking for it in Metadata with
    AllowAutoTopicCreation (the broker's num.partitions must be
    `partitions`), then wait for it."""
    host, port = bootstrap.rsplit(":", 1)
    deadline = time.monotonic() + timeout
    v = _md_version(host, int(port))
    while True:
        md = kwirex.metadata((host, int(port)), v, [topic], allow_auto_create=True)
        (t,) = md["topics"]
        # LEADER_NOT_AVAILABLE (5) is Kafka's answer right after creation
        if t["error_code"] in (0, 5):
            break
        if time.monotonic() > deadline:
            raise AssertionError("auto-creating %s: Metadata error %d" % (topic, t["error_code"]))
        time.sleep(0.1)
    return wait_metadata(bootstrap, topic, partitions, max(1, deadline - time.monotonic()))


def admin(bootstrap):
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 10000})


def create_topic(bootstrap, topic, partitions, config=None, replication=1, timeout=20):
    """CreateTopics through confluent-kafka's AdminClient; waits for the
    topic in Metadata."""
    from confluent_kafka.admin import NewTopic

    a = admin(bootstrap)
    fs = a.create_topics([NewTopic(topic, partitions, replication, config=dict(config or {}))],
                         operation_timeout=10, request_timeout=15)
    fs[topic].result(timeout)
    return wait_metadata(bootstrap, topic, partitions, timeout)


# ---------------------------------------------------------------- produce


class Produced:
    def __init__(self, tag, n):
        self.tag = tag
        self.n = n
        self.where = {}  # i -> (partition, offset)
        self.errors = []  # (i, error)
        self.elapsed = None

    def delivered(self):
        return len(self.where)


def produce_confluent(bootstrap, topic, tag, n, acks="all", compression="none", partitioner=None,
                      conf=None, timeout=90):
    """Produce messages 0..n-1 (keyed: the default partitioner spreads them
    by key) with delivery reports; returns Produced. With acks=0 the
    reports carry no broker offset (librdkafka fills in a meaningless
    count), so only the partition is kept."""
    from confluent_kafka import Producer

    res = Produced(tag, n)
    no_offsets = str(acks) == "0"

    def on_delivery(err, msg):
        i = index_of(tag, msg.key())
        if err is not None:
            res.errors.append((i, err))
        else:
            if i in res.where:
                res.errors.append((i, "second delivery report"))
            res.where[i] = (msg.partition(), None if no_offsets else msg.offset())

    c = {
        "bootstrap.servers": bootstrap,
        "acks": str(acks),
        "compression.type": compression,
        "linger.ms": 5,
        "queue.buffering.max.messages": max(100000, n + 1000),
        "queue.buffering.max.kbytes": 1048576,
        "message.timeout.ms": timeout * 1000,
        "socket.timeout.ms": 15000,
        "on_delivery": on_delivery,
    }
    if partitioner:
        c["partitioner"] = partitioner
    c.update(conf or {})
    p = Producer(c)
    t0 = time.monotonic()
    deadline = t0 + timeout
    for i in range(n):
        while True:
            try:
                p.produce(topic, key=key_of(tag, i), value=value_of(tag, i), headers=headers_of(tag, i))
                break
            except BufferError:
                p.poll(0.05)
                if time.monotonic() > deadline:
                    raise AssertionError("producer queue stayed full")
        if i % 1000 == 0:
            p.poll(0)
    left = p.flush(max(1, deadline - time.monotonic()))
    res.elapsed = time.monotonic() - t0
    if left:
        raise AssertionError("%d of %d messages not delivered within %ds (%d delivered, errors %s)"
                             % (left, n, timeout, res.delivered(), res.errors[:5]))
    return res


# ---------------------------------------------------------------- consume


def consumer(bootstrap, extra=None):
    """A confluent-kafka consumer for assign(): group.id is mandatory in
    confluent-kafka 1.7, but nothing is committed and no offsets are read
    from the group (explicit or reset offsets only)."""
    from confluent_kafka import Consumer

    c = {
        "bootstrap.servers": bootstrap,
        "group.id": "i4-%d-%d" % (os.getpid(), int(time.time() * 1000)),
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": False,
        "socket.timeout.ms": 15000,
        "fetch.wait.max.ms": 100,
    }
    c.update(extra or {})
    return Consumer(c)


def watermarks(cons, topic, partitions, timeout=15):
    from confluent_kafka import TopicPartition

    return {p: cons.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout, cached=False)
            for p in range(partitions)}


def consume_all(bootstrap, topic, partitions, expected=None, timeout=90, extra=None):
    """Consume every partition from the beginning up to its high watermark
    (read when called) and, if given, until `expected` messages arrived.
    Returns [(partition, offset, key, value, headers, timestamp)]."""
    from confluent_kafka import OFFSET_BEGINNING, KafkaError, TopicPartition

    c = consumer(bootstrap, extra)
    try:
        hw = watermarks(c, topic, partitions)
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        out = []
        nextoff = {p: lo for p, (lo, hi) in hw.items()}
        deadline = time.monotonic() + timeout

        def done():
            if expected is not None and len(out) < expected:
                return False
            return all(nextoff[p] >= hw[p][1] for p in hw)

        while not done():
            if time.monotonic() > deadline:
                raise AssertionError("consumed %d (expected %s) within %ds; positions %s, watermarks %s"
                                     % (len(out), expected, timeout, nextoff, hw))
            for m in c.consume(num_messages=10000, timeout=0.5):
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        continue
                    raise AssertionError("consumer error: %s" % m.error())
                h = m.headers()  # the first call on this message: see _fix_null_header_refcounts
                _fix_null_header_refcounts(h)
                out.append((m.partition(), m.offset(), m.key(), m.value(), h, m.timestamp()))
                nextoff[m.partition()] = m.offset() + 1
        return out
    finally:
        c.close()


def verify(tag, n, consumed, produced=None, exact=True, t_window=None):
    """Check consumed messages: every one is a message of this run with the
    right value and headers, no duplicates, per-partition offsets and
    sequence numbers strictly increasing; with exact, all n arrived and each
    sits at the partition/offset its delivery report gave."""
    from confluent_kafka import TIMESTAMP_CREATE_TIME

    seen = {}
    last = {}  # partition -> (offset, i)
    problems = []
    for (p, off, k, v, h, ts) in consumed:
        i = index_of(tag, k)
        if not 0 <= i < n:
            problems.append("key %r out of range" % k)
            continue
        if i in seen:
            problems.append("duplicate: message %d at %s and %s" % (i, seen[i], (p, off)))
        seen[i] = (p, off)
        if v != value_of(tag, i):
            problems.append("message %d at %d/%d: value %r, expected %r" % (i, p, off, v, value_of(tag, i)))
        if norm_headers(h) != headers_of(tag, i):
            problems.append("message %d at %d/%d: headers %r, expected %r" % (i, p, off, h, headers_of(tag, i)))
        if t_window is not None:
            if ts[0] != TIMESTAMP_CREATE_TIME or not (t_window[0] - 5000 <= ts[1] <= t_window[1] + 5000):
                problems.append("message %d: timestamp %r outside %r" % (i, ts, t_window))
        if p in last:
            lo, li = last[p]
            if off <= lo:
                problems.append("partition %d: offset %d after %d" % (p, off, lo))
            if i <= li:
                problems.append("partition %d: message %d (offset %d) after message %d (offset %d): order broken"
                                % (p, i, off, li, lo))
        last[p] = (off, i)
        if produced is not None:
            want = produced.where.get(i)
            if want is not None:
                if want[0] != p:
                    problems.append("message %d: consumed from partition %d, delivered to %d" % (i, p, want[0]))
                elif want[1] is not None and want[1] >= 0 and want[1] != off:
                    problems.append("message %d: consumed at offset %d, delivery report said %d" % (i, off, want[1]))
        if len(problems) > 20:
            break
    if exact and not problems:
        missing = [i for i in range(n) if i not in seen]
        if missing:
            problems.append("%d of %d messages missing, e.g. %s" % (len(missing), n, missing[:10]))
    assert not problems, "%d problem(s):\n  %s" % (len(problems), "\n  ".join(problems[:20]))
    return seen


# ---------------------------------------------------------------- processes


def run(cmd, timeout=CLIENT_TIMEOUT, input=None, env=None):
    return subprocess.run(
        cmd,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        timeout=timeout,
        env=env,
    )


def kcat():
    path = shutil.which("kcat")
    assert path, "kcat is not installed (scripts/deps.sh installs it)"
    return path


def node_env():
    node_modules = os.path.join(REPO, "tests", "node", "node_modules")
    assert os.path.isdir(os.path.join(node_modules, "kafkajs")), "kafkajs missing: run scripts/deps.sh"
    node = shutil.which("node")
    assert node, "node is not installed"
    return node, dict(os.environ, NODE_PATH=node_modules)


def broker_has(brook, *api_keys):
    """True if the broker advertises every api key."""
    ranges = kwirex.api_ranges(brook.host, brook.port)
    return all(k in ranges for k in api_keys)
