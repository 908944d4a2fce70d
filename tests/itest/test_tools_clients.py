"""Issue 7 (clients): the client subcommands of the `brook` operator tool
against a real brookd, checked by their output and by their effect as
confluent-kafka (librdkafka 2.0.2) sees it.

  console-producer    keys/headers/null.marker as Kafka's LineMessageReader;
                      keyed records land on the partition a murmur2_random
                      (Java-compatible) producer picks; a bad line fails
  console-consumer    DefaultMessageFormatter output with the print.*
                      properties, --max-messages, --timeout-ms, --partition
                      with --offset, --group commits / no group no commits,
                      --isolation-level around an open transaction (skipped
                      while brookd has no transaction coordinator)
  consumer-groups     --describe (CURRENT-OFFSET, LOG-END-OFFSET, LAG and
                      LAG-SECONDS of an active and of an empty group),
                      --members, --state,
                      --list [--state], --reset-offsets dry-run vs --execute
                      (every scenario, --export, --from-file), refusal for
                      an active group,
                      --delete-offsets, --delete
  perf tools          output formats (regexes)
  errors              an unreachable broker: exit != 0 within 20 s, one line
"""

import os
import re
import socket
import subprocess
import time
import uuid

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BROOK = os.environ.get("BROOK_TOOL", os.path.join(REPO, "build", "bin", "brook"))

pytestmark = pytest.mark.brook_config({"group.initial.rebalance.delay.ms": 0, "num.partitions": 3})

COMMANDS = ["console-producer", "console-consumer", "consumer-groups", "producer-perf-test",
            "consumer-perf-test"]


def run(args, input=None, timeout=60):
    return subprocess.run([BROOK] + args, input=input, capture_output=True, timeout=timeout)


def ok(args, input=None, timeout=60):
    r = run(args, input=input, timeout=timeout)
    assert r.returncode == 0, "brook %s: rc=%d\nstdout:%s\nstderr:%s" % (
        " ".join(args), r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace"))
    return r


def uniq(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


def create_topic(brook, name, parts):
    from confluent_kafka.admin import AdminClient, NewTopic

    a = AdminClient({"bootstrap.servers": brook.bootstrap})
    a.create_topics([NewTopic(name, parts, 1)], request_timeout=15)[name].result(20)
    # Wait until the metadata shows every partition.
    deadline = time.time() + 10
    while time.time() < deadline:
        md = a.list_topics(name, timeout=5)
        if name in md.topics and len(md.topics[name].partitions) == parts:
            return
        time.sleep(0.1)
    raise AssertionError("topic %s not visible" % name)


def consume_all(brook, topic, parts, expect, timeout=20):
    """Every record of topic (assign from the beginning) as a list."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": brook.bootstrap, "group.id": uniq("check"),
                  "enable.auto.commit": False, "enable.partition.eof": False})
    c.assign([TopicPartition(topic, p, 0) for p in range(parts)])
    out = []
    deadline = time.time() + timeout
    while len(out) < expect and time.time() < deadline:
        m = c.poll(0.2)
        if m is None or m.error():
            continue
        out.append(m)
    c.close()
    assert len(out) == expect, "got %d of %d records" % (len(out), expect)
    return out


def produce(brook, topic, records, partitioner=None):
    """records: (key, value, headers, partition or None, timestamp or 0).
    Returns the partition each landed on."""
    from confluent_kafka import Producer

    conf = {"bootstrap.servers": brook.bootstrap, "linger.ms": 5}
    if partitioner:
        conf["partitioner"] = partitioner
    p = Producer(conf)
    got = {}

    def dr(err, msg, i):
        assert err is None, err
        got[i] = msg.partition()

    for i, (k, v, h, part, ts) in enumerate(records):
        kw = {"key": k, "value": v, "headers": h, "timestamp": ts,
              "on_delivery": lambda err, msg, i=i: dr(err, msg, i)}
        if part is not None:
            kw["partition"] = part
        p.produce(topic, **kw)
    assert p.flush(20) == 0
    return [got[i] for i in range(len(records))]


def committed(brook, group, topic, parts):
    """{partition: committed offset or None} as a confluent consumer sees it."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": brook.bootstrap, "group.id": group, "enable.auto.commit": False})
    res = c.committed([TopicPartition(topic, p) for p in range(parts)], timeout=10)
    c.close()
    return {tp.partition: (tp.offset if tp.offset >= 0 else None) for tp in res}


def table(stdout):
    """Rows (lists of columns) of a Kafka-style table; the header first."""
    lines = [ln for ln in stdout.decode().splitlines() if ln.strip()]
    return [ln.split() for ln in lines]


# ------------------------------------------------------------ console-producer


def test_console_producer_keys_headers_and_murmur2(brook):
    topic, twin = uniq("cp"), uniq("twin")
    create_topic(brook, topic, 6)
    create_topic(brook, twin, 6)
    n = 60
    lines = ["h1:a%d,h2:NULL\tkey-%d:value-%d" % (i, i, i) for i in range(n)]
    lines.append("h1:x\tkey-null-value:NULL")
    lines.append("h1:y\tNULL:null-key")
    ok(["console-producer", "--bootstrap-server", brook.bootstrap, "--topic", topic,
        "--property", "parse.key=true", "--property", "key.separator=:",
        "--property", "parse.headers=true", "--property", "null.marker=NULL",
        "--producer-property", "linger.ms=5", "--producer-property", "compression.type=lz4"],
       input=("\n".join(lines) + "\n").encode())
    got = consume_all(brook, topic, 6, n + 2)
    by_key = {m.key(): m for m in got}

    # Where a Java-compatible producer puts the same keys.
    keys = [b"key-%d" % i for i in range(n)] + [b"key-null-value"]
    want = produce(brook, twin, [(k, b"x", None, None, 0) for k in keys], partitioner="murmur2_random")
    assert len(set(want)) > 1  # the keys really spread over the partitions
    for k, part in zip(keys, want):
        assert by_key[k].partition() == part, k

    for i in range(n):
        m = by_key[b"key-%d" % i]
        assert m.value() == b"value-%d" % i
        assert m.headers() == [("h1", b"a%d" % i), ("h2", None)]
    assert by_key[b"key-null-value"].value() is None
    assert by_key[None].value() == b"null-key"


def test_console_producer_bad_line_and_options(brook):
    topic = uniq("cpbad")
    create_topic(brook, topic, 1)
    r = run(["console-producer", "--bootstrap-server", brook.bootstrap, "--topic", topic,
             "--property", "parse.key=true", "--sync", "--request-required-acks", "1",
             "--compression-codec", "gzip"], input=b"k\tv\nno-separator\nk2\tv2\n")
    assert r.returncode == 1
    err = r.stderr.decode().strip().splitlines()
    assert err == ["brook console-producer: No key separator found on line number 2: 'no-separator'"]
    # The line before the bad one was sent (with --sync, before reading on).
    got = consume_all(brook, topic, 1, 1)
    assert (got[0].key(), got[0].value()) == (b"k", b"v")

    # ignore.error: the whole line becomes the value.
    ok(["console-producer", "--bootstrap-server", brook.bootstrap, "--topic", topic,
        "--property", "parse.key=true", "--property", "ignore.error=true"], input=b"plain line\n")
    got = consume_all(brook, topic, 1, 2)
    assert (got[1].key(), got[1].value()) == (None, b"plain line")

    # A record the broker refuses: exit 1, one line.
    from confluent_kafka.admin import AdminClient, NewTopic

    small = uniq("small")
    admin = AdminClient({"bootstrap.servers": brook.bootstrap})
    admin.create_topics([NewTopic(small, 1, 1, config={"max.message.bytes": "200"})])[small].result(20)
    r = run(["console-producer", "--bootstrap-server", brook.bootstrap, "--topic", small],
            input=b"short\n" + b"x" * 1000 + b"\n")
    assert r.returncode == 1
    # (Both lines may share the refused batch.)
    lines = r.stderr.decode().splitlines()
    assert len(lines) == 1 and re.fullmatch(
        r"brook console-producer: delivery failed: Broker: Message size too large \([12] of 2 records\)",
        lines[0]), lines

    r = run(["console-producer", "--bootstrap-server", brook.bootstrap, "--topic", topic,
             "--producer-property", "acks=banana"], input=b"x\n")
    assert r.returncode == 1 and r.stderr.decode().startswith("brook console-producer: invalid property acks=banana")


# ------------------------------------------------------------ console-consumer


def test_console_consumer_formatter(brook):
    topic = uniq("cc")
    create_topic(brook, topic, 2)
    produce(brook, topic, [
        (b"k0", b"v0", [("a", b"1"), ("b", None)], 0, 1700000000000),
        (None, b"v1", None, 0, 1700000000001),
        (b"k2", None, [("a", b"2")], 0, 1700000000002),
    ])
    r = ok(["console-consumer", "--bootstrap-server", brook.bootstrap, "--topic", topic,
            "--from-beginning", "--max-messages", "3",
            "--property", "print.timestamp=true", "--property", "print.partition=true",
            "--property", "print.offset=true", "--property", "print.headers=true",
            "--property", "print.key=true"], timeout=30)
    assert r.stdout.decode().splitlines() == [
        "CreateTime:1700000000000\tPartition:0\tOffset:0\ta:1,b:null\tk0\tv0",
        "CreateTime:1700000000001\tPartition:0\tOffset:1\tNO_HEADERS\tnull\tv1",
        "CreateTime:1700000000002\tPartition:0\tOffset:2\ta:2\tk2\tnull",
    ]
    assert r.stderr.decode().strip().splitlines() == ["Processed a total of 3 messages"]

    # Custom separators, null literal, no value: the key ends the line.
    r = ok(["console-consumer", "--bootstrap-server", brook.bootstrap, "--topic", topic,
            "--partition", "0", "--offset", "earliest", "--max-messages", "3",
            "--property", "print.key=true", "--property", "print.value=false",
            "--property", "print.offset=true", "--property", "key.separator= | ",
            "--property", "line.separator=;\n", "--property", "null.literal=<none>"], timeout=30)
    assert r.stdout.decode() == "Offset:0 | k0;\nOffset:1 | <none>;\nOffset:2 | k2;\n"

    # Plain values only (the default); --offset N on one partition.
    r = ok(["console-consumer", "--bootstrap-server", brook.bootstrap, "--topic", topic,
            "--partition", "0", "--offset", "1", "--timeout-ms", "1500"], timeout=30)
    assert r.stdout.decode() == "v1\nnull\n"
    assert "Processed a total of 2 messages" in r.stderr.decode()


def test_console_consumer_timeout_and_groups(brook):
    topic = uniq("cct")
    create_topic(brook, topic, 3)
    produce(brook, topic, [(b"k%d" % i, b"v%d" % i, None, i % 3, 0) for i in range(9)])

    t0 = time.time()
    r = ok(["console-consumer", "--bootstrap-server", brook.bootstrap, "--topic", topic,
            "--from-beginning", "--timeout-ms", "2000"], timeout=30)
    took = time.time() - t0
    assert sorted(r.stdout.decode().split()) == sorted("v%d" % i for i in range(9))
    assert r.stderr.decode().strip() == "Processed a total of 9 messages"
    assert took < 15, took

    # With --group the consumer commits what it printed.
    g = uniq("ccg")
    ok(["console-consumer", "--bootstrap-server", brook.bootstrap, "--topic", topic, "--group", g,
        "--from-beginning", "--max-messages", "9"], timeout=30)
    assert committed(brook, g, topic, 3) == {0: 3, 1: 3, 2: 3}
    # A second run of the group starts after the commits: nothing left.
    r = ok(["console-consumer", "--bootstrap-server", brook.bootstrap, "--topic", topic, "--group", g,
            "--from-beginning", "--timeout-ms", "1500"], timeout=30)
    assert r.stdout == b""

    # Without --group: a generated console-consumer-N group that commits nothing.
    r = ok(["consumer-groups", "--bootstrap-server", brook.bootstrap, "--list"])
    before = set(r.stdout.decode().split())
    ok(["console-consumer", "--bootstrap-server", brook.bootstrap, "--topic", topic,
        "--from-beginning", "--max-messages", "9"], timeout=30)
    r = ok(["consumer-groups", "--bootstrap-server", brook.bootstrap, "--list"])
    for grp in set(r.stdout.decode().split()) - before:
        assert grp.startswith("console-consumer-")
        d = ok(["consumer-groups", "--bootstrap-server", brook.bootstrap, "--describe", "--group", grp])
        assert table(d.stdout) == []  # no committed offsets, no members

    r = run(["console-consumer", "--bootstrap-server", brook.bootstrap, "--topic", topic, "--offset", "3"])
    assert r.returncode == 2 and "The partition is required when offset is specified." in r.stderr.decode()


def test_console_consumer_isolation_level(brook):
    from confluent_kafka import KafkaError, KafkaException, Producer

    topic = uniq("cci")
    create_topic(brook, topic, 1)
    produce(brook, topic, [(None, b"plain", None, 0, 0)])

    def consume(level):
        r = ok(["console-consumer", "--bootstrap-server", brook.bootstrap, "--topic", topic,
                "--partition", "0", "--offset", "earliest", "--timeout-ms", "1500",
                "--isolation-level", level], timeout=30)
        return r.stdout.decode().split()

    assert consume("read_uncommitted") == consume("read_committed") == ["plain"]
    r = run(["console-consumer", "--bootstrap-server", brook.bootstrap, "--topic", topic,
             "--isolation-level", "dirty"])
    assert r.returncode == 2

    # An open transaction: only read_uncommitted sees its record.
    p = Producer({"bootstrap.servers": brook.bootstrap, "transactional.id": uniq("tx")})
    try:
        p.init_transactions(15)
    except KafkaException as e:
        if e.args[0].code() == KafkaError._UNSUPPORTED_FEATURE:
            pytest.skip("this brookd has no transaction coordinator")
        raise
    p.begin_transaction()
    p.produce(topic, b"in-flight")
    assert p.flush(15) == 0
    assert consume("read_uncommitted") == ["plain", "in-flight"]
    assert consume("read_committed") == ["plain"]
    p.commit_transaction(15)
    assert consume("read_committed") == ["plain", "in-flight"]


# ------------------------------------------------------------ consumer-groups


def test_consumer_groups(brook, tmp_path):
    from confluent_kafka import Consumer, TopicPartition

    topic = uniq("grp")
    create_topic(brook, topic, 2)
    t_produced = time.time()
    produce(brook, topic, [(None, b"m%d" % i, None, i % 2, 0) for i in range(10)])  # 5 per partition
    g = uniq("active")
    B = ["--bootstrap-server", brook.bootstrap]

    c = Consumer({"bootstrap.servers": brook.bootstrap, "group.id": g, "client.id": "cli-7",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    deadline = time.time() + 20
    while not c.assignment() and time.time() < deadline:
        c.poll(0.2)
    assert len(c.assignment()) == 2
    c.commit(offsets=[TopicPartition(topic, 0, 2), TopicPartition(topic, 1, 4)], asynchronous=False)
    try:
        r = ok(["consumer-groups"] + B + ["--describe", "--group", g])
        rows = table(r.stdout)
        assert rows[0] == ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG",
                           "CONSUMER-ID", "HOST", "CLIENT-ID", "LAG-SECONDS"]
        assert [row[:6] for row in rows[1:]] == [[g, topic, "0", "2", "5", "3"], [g, topic, "1", "4", "5", "1"]]
        # LAG-SECONDS: the age of the message at the committed offset, produced
        # during this test (so between 0 and the time elapsed since then).
        for row in rows[1:]:
            assert 0 <= float(row[9]) <= time.time() - t_produced + 1, row
        member = rows[1][6]  # librdkafka's member ids start with the client id
        assert member.startswith("cli-7-")
        for row in rows[1:]:
            assert row[6] == member and row[7].startswith("/") and row[8] == "cli-7"
        # Columns line up under the header (Kafka's fixed-width layout).
        lines = [ln for ln in r.stdout.decode().splitlines() if ln]
        for col in ("TOPIC", "PARTITION", "CURRENT-OFFSET", "LAG", "CONSUMER-ID", "CLIENT-ID", "LAG-SECONDS"):
            pos = lines[0].index(col)
            for ln in lines[1:]:
                assert ln[pos - 1] == " " and ln[pos] != " ", (col, ln)

        r = ok(["consumer-groups"] + B + ["--describe", "--group", g, "--members", "--verbose"])
        rows = table(r.stdout)
        assert rows[0] == ["GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS", "ASSIGNMENT"]
        assert rows[1][0:2] == [g, member] and rows[1][3:] == ["cli-7", "2", "%s(0,1)" % topic]

        r = ok(["consumer-groups"] + B + ["--describe", "--group", g, "--state"])
        rows = table(r.stdout)
        assert rows[0] == ["GROUP", "COORDINATOR", "(ID)", "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS"]
        assert rows[1] == [g, brook.bootstrap, "(%s)" % brook.props["broker.id"], "range", "Stable", "1"]

        r = ok(["consumer-groups"] + B + ["--list"])
        assert g in r.stdout.decode().split()
        r = ok(["consumer-groups"] + B + ["--list", "--state", "Stable"])
        rows = table(r.stdout)
        assert rows[0] == ["GROUP", "STATE"] and [g, "Stable"] in rows
        r = ok(["consumer-groups"] + B + ["--list", "--state", "Empty"])
        assert g not in r.stdout.decode().split()

        # Active groups cannot be reset (nor deleted).
        r = run(["consumer-groups"] + B + ["--reset-offsets", "--group", g, "--topic", topic,
                                           "--to-earliest", "--execute"])
        assert r.returncode == 1
        assert r.stderr.decode().strip().splitlines()[-1] == (
            "brook consumer-groups: Assignments can only be reset if the group '%s' is inactive, "
            "but the current state is Stable." % g)
        r = run(["consumer-groups"] + B + ["--delete", "--group", g])
        assert r.returncode == 1 and r.stderr.decode().count("\n") == 1
        assert committed(brook, g, topic, 2) == {0: 2, 1: 4}
    finally:
        c.close()

    # Empty now: rows without consumers, a note on stderr.
    r = ok(["consumer-groups"] + B + ["--describe", "--group", g])
    assert "Consumer group '%s' has no active members." % g in r.stderr.decode()
    rows = table(r.stdout)
    assert [row[:9] for row in rows[1:]] == [[g, topic, "0", "2", "5", "3", "-", "-", "-"],
                                             [g, topic, "1", "4", "5", "1", "-", "-", "-"]]
    assert all(float(row[9]) > 0 for row in rows[1:])

    def reset(*args):
        r = ok(["consumer-groups"] + B + ["--reset-offsets", "--group", g] + list(args))
        rows = table(r.stdout)
        assert rows[0] == ["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"]
        return {int(row[2]): int(row[3]) for row in rows[1:] if row[1] == topic}

    # Dry run (the default, and --dry-run): a plan, nothing committed.
    assert reset("--topic", topic, "--to-earliest") == {0: 0, 1: 0}
    assert reset("--all-topics", "--to-latest", "--dry-run") == {0: 5, 1: 5}
    assert committed(brook, g, topic, 2) == {0: 2, 1: 4}
    # Every scenario, executed.
    assert reset("--topic", topic, "--to-offset", "3", "--execute") == {0: 3, 1: 3}
    assert committed(brook, g, topic, 2) == {0: 3, 1: 3}
    assert reset("--topic", "%s:1" % topic, "--shift-by", "-2", "--execute") == {1: 1}
    assert committed(brook, g, topic, 2) == {0: 3, 1: 1}
    assert reset("--all-topics", "--shift-by", "100", "--execute") == {0: 5, 1: 5}  # clamped to the end
    assert reset("--all-topics", "--to-offset", "-4", "--execute") == {0: 0, 1: 0}  # clamped to the start
    assert reset("--topic", topic, "--to-current", "--execute") == {0: 0, 1: 0}
    assert reset("--topic", topic, "--to-datetime", "2000-01-01T00:00:00.000Z", "--execute") == {0: 0, 1: 0}
    assert reset("--topic", topic, "--to-datetime", "2999-01-01T00:00:00.000+02:00", "--execute") == {0: 5, 1: 5}
    assert reset("--topic", topic, "--by-duration", "P1DT1H", "--execute") == {0: 0, 1: 0}
    assert committed(brook, g, topic, 2) == {0: 0, 1: 0}

    # --export prints the plan as CSV; --from-file applies such a plan.
    r = ok(["consumer-groups"] + B + ["--reset-offsets", "--group", g, "--all-topics", "--to-offset", "4",
                                      "--export", "--dry-run"])
    assert r.stdout.decode() == "%s,0,4\n%s,1,4\n" % (topic, topic)
    assert committed(brook, g, topic, 2) == {0: 0, 1: 0}
    plan = tmp_path / "plan.csv"
    plan.write_text("%s,1,3\n" % topic)
    assert reset("--from-file", str(plan), "--execute") == {1: 3}
    assert committed(brook, g, topic, 2) == {0: 0, 1: 3}

    # --delete-offsets for one partition, then the group.
    r = ok(["consumer-groups"] + B + ["--delete-offsets", "--group", g, "--topic", "%s:0" % topic])
    assert "Request succeeded for deleting offsets from group %s." % g in r.stdout.decode()
    rows = table(r.stdout)
    assert rows[-2] == ["TOPIC", "PARTITION", "STATUS"] and rows[-1] == [topic, "0", "Successful"]
    assert committed(brook, g, topic, 2) == {0: None, 1: 3}

    r = ok(["consumer-groups"] + B + ["--delete", "--group", g])
    assert r.stdout.decode().strip() == "Deletion of requested consumer groups ('%s') was successful." % g
    r = ok(["consumer-groups"] + B + ["--list"])
    assert g not in r.stdout.decode().split()
    r = run(["consumer-groups"] + B + ["--describe", "--group", g])
    assert r.returncode == 1
    assert r.stderr.decode().strip() == "brook consumer-groups: Consumer group '%s' does not exist." % g

    r = run(["consumer-groups"] + B + ["--reset-offsets", "--group", g, "--to-earliest"])
    assert r.returncode == 2 and "One of the reset scopes should be defined" in r.stderr.decode()
    r = run(["consumer-groups"] + B)
    assert r.returncode == 2 and "exactly one action" in r.stderr.decode()


# ------------------------------------------------------------ perf tools

PROGRESS = r"\d+ records sent, [\d.]+ records/sec \([\d.]+ MB/sec\), [\d.]+ ms avg latency, [\d.]+ ms max latency\."
TOTAL = (r"(\d+) records sent, \d+\.\d{6} records/sec \(\d+\.\d\d MB/sec\), \d+\.\d\d ms avg latency, "
         r"\d+\.\d\d ms max latency, \d+ ms 50th, \d+ ms 95th, \d+ ms 99th, \d+ ms 99\.9th\.")
HEADER = ("start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, "
          "rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec")
TS = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3}"
DATA = r"%s, %s, \d+\.\d{4}, \d+\.\d{4}, (\d+), \d+\.\d{4}, \d+, \d+, \d+\.\d{4}, \d+\.\d{4}" % (TS, TS)


def test_perf_tools(brook, tmp_path):
    topic = uniq("perf")
    create_topic(brook, topic, 3)
    r = ok(["producer-perf-test", "--topic", topic, "--num-records", "3000", "--record-size", "200",
            "--throughput", "-1", "--producer-props", "bootstrap.servers=%s" % brook.bootstrap, "acks=1",
            "linger.ms=2"])
    lines = r.stdout.decode().splitlines()
    m = re.fullmatch(TOTAL, lines[-1])
    assert m and m.group(1) == "3000", lines
    for ln in lines[:-1]:
        assert re.fullmatch(PROGRESS, ln), ln

    # Throttled to 1000 records/s for 5.5 s: one 5 s progress window first.
    cfg = tmp_path / "producer.properties"
    cfg.write_text("bootstrap.servers=%s\nkey.serializer=org.apache.kafka.common.serialization."
                   "ByteArraySerializer\n" % brook.bootstrap)
    payloads = tmp_path / "payloads.txt"
    payloads.write_text("alpha\nbeta\ngamma\n")
    t0 = time.time()
    r = ok(["producer-perf-test", "--topic", topic, "--num-records", "5500", "--payload-file", str(payloads),
            "--throughput", "1000", "--producer.config", str(cfg)])
    assert time.time() - t0 >= 5.0
    lines = r.stdout.decode().splitlines()
    assert len(lines) == 2 and re.fullmatch(PROGRESS, lines[0]) and re.fullmatch(TOTAL, lines[1]), lines
    assert int(lines[0].split()[0]) >= 4000
    assert re.fullmatch(TOTAL, lines[1]).group(1) == "5500"

    r = ok(["consumer-perf-test", "--bootstrap-server", brook.bootstrap, "--topic", topic,
            "--messages", "8500", "--timeout", "5000"])
    lines = r.stdout.decode().splitlines()
    assert lines[0] == HEADER
    m = re.fullmatch(DATA, lines[1])
    assert m and m.group(1) == "8500", lines

    # Fewer records than asked for: Kafka's warning after the timeout.
    r = ok(["consumer-perf-test", "--bootstrap-server", brook.bootstrap, "--topic", topic,
            "--messages", "9000", "--timeout", "1000", "--hide-header", "--group", uniq("perfg")])
    lines = r.stdout.decode().splitlines()
    assert lines[0].startswith("WARNING: Exiting before consuming the expected number of messages: "
                               "timeout (1000 ms) exceeded.")
    m = re.fullmatch(DATA, lines[1])
    assert m and m.group(1) == "8500", lines


# ------------------------------------------------------------ help and errors


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_help_and_unreachable_broker():
    for cmd in COMMANDS:
        r = run([cmd, "--help"])
        assert r.returncode == 0 and r.stdout.decode().startswith("usage: brook %s" % cmd), cmd
        r = run([cmd, "--no-such-option"])
        assert r.returncode == 2 and r.stderr.decode().count("\n") == 1, cmd

    dead = "127.0.0.1:%d" % closed_port()
    argv = {
        "console-producer": ["--bootstrap-server", dead, "--topic", "t"],
        "console-consumer": ["--bootstrap-server", dead, "--topic", "t"],
        "consumer-groups": ["--bootstrap-server", dead, "--list"],
        "producer-perf-test": ["--topic", "t", "--num-records", "10", "--record-size", "10", "--throughput", "-1",
                               "--producer-props", "bootstrap.servers=" + dead],
        "consumer-perf-test": ["--bootstrap-server", dead, "--topic", "t", "--messages", "10", "--hide-header"],
    }
    t0 = time.time()
    procs = {cmd: subprocess.Popen([BROOK, cmd] + args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE) for cmd, args in argv.items()}
    for cmd, p in procs.items():
        out, err = p.communicate(input=b"x\n", timeout=40)
        assert p.returncode == 1, cmd
        lines = err.decode().splitlines()
        assert len(lines) == 1 and lines[0].startswith("brook %s: cannot connect to %s" % (cmd, dead)), (cmd, lines)
        assert out == b"", cmd
    assert time.time() - t0 < 20
