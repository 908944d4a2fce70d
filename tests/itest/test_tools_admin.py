"""Issue 7 (admin part): the admin subcommands of the `brook` operator tool
against a real brookd, checking both what they print (Kafka 3.9's tool
output) and what they did (seen through confluent-kafka / the wire):

  brook topics               kafka-topics.sh
  brook configs              kafka-configs.sh
  brook delete-records       kafka-delete-records.sh
  brook log-dirs             kafka-log-dirs.sh
  brook broker-api-versions  kafka-broker-api-versions.sh

plus --help for each, usage errors (exit 2), failures (exit 1 with one
line "brook <cmd>: ...") and an unreachable broker (a clear error within
the connect timeout).
"""

import json
import os
import re
import subprocess
import time

import pytest

import kwire

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BROOK = os.environ.get("BROOK_TOOL", os.path.join(REPO, "build", "bin", "brook"))

CMDS = ["topics", "configs", "delete-records", "log-dirs", "broker-api-versions"]


def run(*args, timeout=60):
    p = subprocess.run([BROOK] + [str(a) for a in args], capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def ok(*args):
    rc, out, err = run(*args)
    assert rc == 0, "brook %s: rc=%d\nstdout:\n%s\nstderr:\n%s" % (" ".join(map(str, args)), rc, out, err)
    assert err == "", err
    return out


def fails(cmd, *args, rc=1):
    """The command fails with exit code rc, one line on stderr naming it,
    and nothing from librdkafka."""
    got, out, err = run(cmd, *args)
    assert got == rc, "expected rc %d, got %d\nstdout:\n%s\nstderr:\n%s" % (rc, got, out, err)
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("brook %s: " % cmd), err
    return out, lines[0]


def admin(brook):
    from confluent_kafka.admin import AdminClient
    return AdminClient({"bootstrap.servers": brook.bootstrap})


def partitions_of(brook, topic):
    md = admin(brook).list_topics(timeout=10)
    t = md.topics.get(topic)
    return None if t is None or t.error is not None else len(t.partitions)


def topic_configs(brook, topic):
    from confluent_kafka.admin import ConfigResource
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    a = admin(brook)  # must outlive the future
    cfg = a.describe_configs([res])[res].result(timeout=10)
    return {k: v.value for k, v in cfg.items()}, cfg


def produce(brook, topic, counts):
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": brook.bootstrap})
    for part, n in counts.items():
        for i in range(n):
            p.produce(topic, b"v%d" % i, partition=part)
    assert p.flush(15) == 0


def watermarks(brook, topic, part):
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": brook.bootstrap, "group.id": "wm"})
    try:
        return c.get_watermark_offsets(TopicPartition(topic, part), timeout=10)
    finally:
        c.close()


def topic_id_on_disk(brook, topic):
    with open(os.path.join(brook.datadir, topic + "-0", "partition.metadata")) as f:
        for line in f:
            if line.startswith("topic_id:"):
                return line.split(":", 1)[1].strip()
    return None


# ---------------------------------------------------------------- --help


@pytest.mark.smoke
def test_help_for_every_subcommand():
    flags = {
        "topics": ["--bootstrap-server", "--create", "--delete", "--list", "--describe", "--alter",
                   "--topic", "--partitions", "--replication-factor", "--replica-assignment",
                   "--config", "--if-exists", "--if-not-exists", "--under-replicated-partitions",
                   "--under-min-isr-partitions", "--unavailable-partitions", "--exclude-internal",
                   "--command-config", "--version"],
        "configs": ["--bootstrap-server", "--entity-type", "--entity-name", "--entity-default",
                    "--describe", "--all", "--alter", "--add-config", "--add-config-file",
                    "--delete-config", "--topic",
                    "--broker", "--command-config"],
        "delete-records": ["--bootstrap-server", "--offset-json-file", "--command-config"],
        "log-dirs": ["--bootstrap-server", "--describe", "--topic-list", "--broker-list"],
        "broker-api-versions": ["--bootstrap-server", "--command-config"],
    }
    rc, listing, _ = run("--help")
    assert rc == 0
    for cmd in CMDS:
        assert re.search(r"^  %s\s" % re.escape(cmd), listing, re.M), listing
        out = ok(cmd, "--help")
        assert out.startswith("usage: brook %s " % cmd), out
        for f in flags[cmd]:
            assert f in out, (cmd, f)
        # --version as Kafka's scripts
        assert "librdkafka" in ok(cmd, "--version")
        # an unknown option is a usage error
        fails(cmd, "--no-such-option", rc=2)


# ---------------------------------------------------------------- topics


def test_topics_create_list_describe_alter_delete(brook):
    b = brook.bootstrap
    assert ok("topics", "--bootstrap-server", b, "--create", "--topic", "foo", "--partitions", 3,
              "--config", "retention.ms=1000", "--config", "cleanup.policy = compact") == \
        "Created topic foo.\n"
    assert partitions_of(brook, "foo") == 3
    vals, _ = topic_configs(brook, "foo")
    assert vals["retention.ms"] == "1000" and vals["cleanup.policy"] == "compact"

    # exists: one line, non-zero; --if-not-exists: quietly fine
    out, line = fails("topics", "--bootstrap-server", b, "--create", "--topic", "foo")
    assert out == "" and line == "brook topics: Topic 'foo' already exists."
    assert ok("topics", "--bootstrap-server", b, "--create", "--topic", "foo",
              "--if-not-exists") == ""

    # replica assignment: partition count from the list
    assert ok("topics", "--bootstrap-server", b, "--create", "--topic", "bar",
              "--replica-assignment", "0,0") == "Created topic bar.\n"
    assert partitions_of(brook, "bar") == 2
    # a name with '.' gets Kafka's metric-name warning
    out = ok("topics", "--bootstrap-server", b, "--create", "--topic", "a.b", "--replication-factor", 1)
    assert out.startswith("WARNING: Due to limitations in metric names") and \
        out.endswith("Created topic a.b.\n")

    assert ok("topics", "--bootstrap-server", b, "--list") == "a.b\nbar\nfoo\n"
    assert ok("topics", "--bootstrap-server", b, "--list", "--topic", "fo.*,ba.") == "bar\nfoo\n"
    # Kafka prints an empty line for an empty list
    assert ok("topics", "--bootstrap-server", b, "--list", "--topic", "nomatch") == "\n"

    # describe: exact Kafka format; the id is the one on disk
    out = ok("topics", "--bootstrap-server", b, "--describe", "--topic", "foo")
    tid = topic_id_on_disk(brook, "foo")
    assert tid and len(tid) == 22
    lines = out.splitlines()
    assert lines[0].startswith("Topic: foo\tTopicId: %s\tPartitionCount: 3\tReplicationFactor: 1\tConfigs: " % tid)
    assert sorted(lines[0].split("Configs: ")[1].split(",")) == ["cleanup.policy=compact", "retention.ms=1000"]
    assert lines[1:] == ["\tTopic: foo\tPartition: %d\tLeader: 0\tReplicas: 0\tIsr: 0" % p for p in range(3)]
    out = ok("topics", "--bootstrap-server", b, "--describe", "--topic", "bar")
    assert out.splitlines()[0].endswith("\tPartitionCount: 2\tReplicationFactor: 1\tConfigs: ")
    # all topics, sorted
    out = ok("topics", "--bootstrap-server", b, "--describe")
    assert [ln.split("\t")[0] for ln in out.splitlines() if ln.startswith("Topic:")] == \
        ["Topic: a.b", "Topic: bar", "Topic: foo"]

    out, line = fails("topics", "--bootstrap-server", b, "--describe", "--topic", "nope")
    assert line == "brook topics: Topic 'nope' does not exist as expected"
    assert ok("topics", "--bootstrap-server", b, "--describe", "--topic", "nope", "--if-exists") == ""

    # alter: more partitions, silently; fewer is the broker's error
    assert ok("topics", "--bootstrap-server", b, "--alter", "--topic", "foo", "--partitions", 5) == ""
    assert partitions_of(brook, "foo") == 5
    _, line = fails("topics", "--bootstrap-server", b, "--alter", "--topic", "foo", "--partitions", 2)
    assert "5 partitions" in line, line
    assert partitions_of(brook, "foo") == 5
    # as Kafka 3.x: configs are kafka-configs' business
    _, line = fails("topics", "--bootstrap-server", b, "--alter", "--topic", "foo", "--partitions", 6,
                    "--config", "retention.ms=5", rc=2)
    assert "brook configs" in line

    # delete by regex, silently
    assert ok("topics", "--bootstrap-server", b, "--delete", "--topic", "ba.|a\\.b") == ""
    deadline = time.time() + 10
    while (partitions_of(brook, "bar") is not None or partitions_of(brook, "a.b") is not None) \
            and time.time() < deadline:
        time.sleep(0.2)
    assert partitions_of(brook, "bar") is None and partitions_of(brook, "a.b") is None
    assert partitions_of(brook, "foo") == 5
    fails("topics", "--bootstrap-server", b, "--delete", "--topic", "bar")
    assert ok("topics", "--bootstrap-server", b, "--delete", "--topic", "bar", "--if-exists") == ""

    # usage errors: exit 2, one line
    fails("topics", "--bootstrap-server", b, "--list", "--create", rc=2)
    fails("topics", "--bootstrap-server", b, "--create", rc=2)
    fails("topics", "--bootstrap-server", b, "--create", "--topic", "x", "--partitions", 2,
          "--replica-assignment", "0", rc=2)
    fails("topics", "--list", rc=2)
    _, line = fails("topics", "--bootstrap-server", b, "--create", "--topic", "x", "--partitions", 0)
    assert line == "brook topics: The partitions must be greater than 0"
    _, line = fails("topics", "--bootstrap-server", b, "--create", "--topic", "x",
                    "--replica-assignment", "0,0:1")
    assert line == "brook topics: Partition 1 has different replication factor: [0, 1]"
    assert partitions_of(brook, "x") is None


def test_topics_describe_reports(brook):
    b = brook.bootstrap
    ok("topics", "--bootstrap-server", b, "--create", "--topic", "strict", "--partitions", 2,
       "--config", "min.insync.replicas=2")
    ok("topics", "--bootstrap-server", b, "--create", "--topic", "plain", "--partitions", 1)
    # one replica: never under-replicated, always led by a live broker
    assert ok("topics", "--bootstrap-server", b, "--describe", "--under-replicated-partitions") == ""
    assert ok("topics", "--bootstrap-server", b, "--describe", "--unavailable-partitions") == ""
    # ISR 1 < min.insync.replicas 2: the partitions alone, no topic line
    assert ok("topics", "--bootstrap-server", b, "--describe", "--under-min-isr-partitions") == \
        "\tTopic: strict\tPartition: 0\tLeader: 0\tReplicas: 0\tIsr: 0\n" \
        "\tTopic: strict\tPartition: 1\tLeader: 0\tReplicas: 0\tIsr: 0\n"
    assert ok("topics", "--bootstrap-server", b, "--describe", "--at-min-isr-partitions") == \
        "\tTopic: plain\tPartition: 0\tLeader: 0\tReplicas: 0\tIsr: 0\n"
    out = ok("topics", "--bootstrap-server", b, "--describe", "--topics-with-overrides")
    assert len(out.splitlines()) == 1 and out.startswith("Topic: strict\t") and \
        out.endswith("Configs: min.insync.replicas=2\n")
    # internal topics: a consumer group makes __consumer_offsets
    from confluent_kafka import Consumer
    c = Consumer({"bootstrap.servers": b, "group.id": "g1"})
    try:
        from confluent_kafka import TopicPartition
        c.commit(offsets=[TopicPartition("plain", 0, 0)], asynchronous=False)
    finally:
        c.close()
    listed = ok("topics", "--bootstrap-server", b, "--list").split()
    assert "__consumer_offsets" in listed
    assert ok("topics", "--bootstrap-server", b, "--list", "--exclude-internal").split() == ["plain", "strict"]


# ---------------------------------------------------------------- configs


def test_configs_describe_alter(brook, tmp_path):
    b = brook.bootstrap
    ok("topics", "--bootstrap-server", b, "--create", "--topic", "cfg")
    assert ok("configs", "--bootstrap-server", b, "--entity-type", "topics", "--entity-name", "cfg",
              "--describe") == "Dynamic configs for topic cfg are:\n"

    assert ok("configs", "--bootstrap-server", b, "--entity-type", "topics", "--entity-name", "cfg",
              "--alter", "--add-config", "retention.ms=1000,cleanup.policy=[compact,delete]") == \
        "Completed updating config for topic cfg.\n"
    vals, full = topic_configs(brook, "cfg")
    assert vals["retention.ms"] == "1000" and vals["cleanup.policy"] == "compact,delete"

    out = ok("configs", "--bootstrap-server", b, "--topic", "cfg", "--describe")
    lines = out.splitlines()
    assert lines[0] == "Dynamic configs for topic cfg are:"
    assert lines[1].startswith("  cleanup.policy=compact,delete sensitive=false synonyms="
                               "{DYNAMIC_TOPIC_CONFIG:cleanup.policy=compact,delete, ")
    assert re.fullmatch(r"  retention\.ms=1000 sensitive=false synonyms=\{DYNAMIC_TOPIC_CONFIG:"
                        r"retention\.ms=1000, DEFAULT_CONFIG:log\.retention\.\w+=\d+\}", lines[2]), lines[2]
    assert len(lines) == 3

    # an alter merges with what is there (AlterConfigs would replace it)
    ok("configs", "--bootstrap-server", b, "--topic", "cfg", "--alter", "--add-config", "segment.ms=60000")
    vals, _ = topic_configs(brook, "cfg")
    assert vals["retention.ms"] == "1000" and vals["segment.ms"] == "60000"
    assert ok("configs", "--bootstrap-server", b, "--topic", "cfg", "--alter",
              "--delete-config", "retention.ms,cleanup.policy") == "Completed updating config for topic cfg.\n"
    vals, full = topic_configs(brook, "cfg")
    assert vals["segment.ms"] == "60000"
    from confluent_kafka.admin import ConfigSource
    assert full["retention.ms"].source == ConfigSource.DEFAULT_CONFIG.value
    assert full["cleanup.policy"].value == "delete"
    out = ok("configs", "--bootstrap-server", b, "--topic", "cfg", "--describe")
    assert [ln.split("=")[0] for ln in out.splitlines()[1:]] == ["  segment.ms"]

    # --add-config-file: a properties file, merged with --add-config
    f = tmp_path / "add.properties"
    f.write_text("# more\nretention.bytes = 1048576\n")
    ok("configs", "--bootstrap-server", b, "--topic", "cfg", "--alter", "--add-config-file", f,
       "--add-config", "max.message.bytes=200000")
    vals, _ = topic_configs(brook, "cfg")
    assert vals["retention.bytes"] == "1048576" and vals["max.message.bytes"] == "200000"
    assert vals["segment.ms"] == "60000"
    ok("configs", "--bootstrap-server", b, "--topic", "cfg", "--alter", "--delete-config",
       "retention.bytes,max.message.bytes")

    # Kafka's errors
    _, line = fails("configs", "--bootstrap-server", b, "--topic", "cfg", "--alter",
                    "--delete-config", "retention.ms")
    assert line == "brook configs: Invalid config(s): retention.ms"
    _, line = fails("configs", "--bootstrap-server", b, "--topic", "cfg", "--alter",
                    "--add-config", "a=b=c")
    assert "key=val" in line
    fails("configs", "--bootstrap-server", b, "--topic", "cfg", "--alter", "--add-config",
          "retention.ms=abc")
    _, line = fails("configs", "--bootstrap-server", b, "--topic", "nope", "--alter",
                    "--add-config", "retention.ms=1")
    fails("configs", "--bootstrap-server", b, "--entity-type", "topics", "--describe",
          "--alter", rc=2)
    fails("configs", "--bootstrap-server", b, "--describe", rc=2)

    # --all: every entry, sorted, defaults included
    out = ok("configs", "--bootstrap-server", b, "--topic", "cfg", "--describe", "--all")
    lines = out.splitlines()
    assert lines[0] == "All configs for topic cfg are:"
    names = [ln.strip().split("=")[0] for ln in lines[1:]]
    assert names == sorted(names) and "retention.ms" in names and "segment.ms" in names

    # brokers: described (no dynamic configs), never altered
    out = ok("configs", "--bootstrap-server", b, "--entity-type", "brokers", "--describe")
    assert out == "Dynamic configs for broker 0 are:\nDefault configs for brokers in the cluster are:\n"
    out = ok("configs", "--bootstrap-server", b, "--broker", 0, "--describe", "--all")
    assert out.startswith("All configs for broker 0 are:\n")
    assert "  broker.id=0 sensitive=false synonyms={STATIC_BROKER_CONFIG:broker.id=0}\n" in out
    _, line = fails("configs", "--bootstrap-server", b, "--broker", 0, "--alter",
                    "--add-config", "log.retention.ms=5")
    assert "server.properties" in line, line
    _, line = fails("configs", "--bootstrap-server", b, "--entity-type", "brokers",
                    "--entity-default", "--alter", "--add-config", "log.retention.ms=5")
    assert "server.properties" in line, line


# ---------------------------------------------------------- delete-records


def test_delete_records(brook, tmp_path):
    b = brook.bootstrap
    ok("topics", "--bootstrap-server", b, "--create", "--topic", "dr", "--partitions", 3)
    produce(brook, "dr", {0: 10, 1: 4, 2: 3})
    f = tmp_path / "offsets.json"
    f.write_text(json.dumps({"partitions": [
        {"topic": "dr", "partition": 0, "offset": 5},
        {"topic": "dr", "partition": 1, "offset": -1},
        {"topic": "dr", "partition": 2, "offset": 99},
    ], "version": 1}))
    rc, out, err = run("delete-records", "--bootstrap-server", b, "--offset-json-file", f)
    assert err == "" and rc == 1  # one partition failed
    assert out == ("Executing records delete operation\n"
                   "Records delete operation completed:\n"
                   "partition: dr-0\tlow_watermark: 5\n"
                   "partition: dr-1\tlow_watermark: 4\n"
                   "partition: dr-2\terror: org.apache.kafka.common.errors.OffsetOutOfRangeException: "
                   "The requested offset is not within the range of offsets maintained by the server.\n")
    assert watermarks(brook, "dr", 0) == (5, 10)
    assert watermarks(brook, "dr", 1) == (4, 4)
    assert watermarks(brook, "dr", 2) == (0, 3)

    f.write_text('{"version": 1, "partitions": [{"topic": "dr", "partition": 2, "offset": 2}]}')
    assert ok("delete-records", "--bootstrap-server", b, "--offset-json-file", f).endswith(
        "partition: dr-2\tlow_watermark: 2\n")
    assert watermarks(brook, "dr", 2) == (2, 3)

    for text, msg in [("not json", "The input string is not a valid JSON"),
                      ('{"version": 2, "partitions": []}', "Not supported version field value 2"),
                      ('{"version": 1}', "Missing partitions field"),
                      ('{"partitions": [{"topic": "dr", "partition": 0, "offset": 1},'
                       '{"topic": "dr", "partition": 0, "offset": 2}]}',
                       "Offset json file contains duplicate topic partitions: dr-0")]:
        f.write_text(text)
        _, line = fails("delete-records", "--bootstrap-server", b, "--offset-json-file", f)
        assert line == "brook delete-records: " + msg
    fails("delete-records", "--bootstrap-server", b, rc=2)
    _, line = fails("delete-records", "--bootstrap-server", b, "--offset-json-file", tmp_path / "none")
    assert "cannot read" in line


# ---------------------------------------------------------------- log-dirs


def test_log_dirs(brook):
    b = brook.bootstrap
    ok("topics", "--bootstrap-server", b, "--create", "--topic", "ld", "--partitions", 2)
    ok("topics", "--bootstrap-server", b, "--create", "--topic", "other")
    produce(brook, "ld", {0: 20})
    out = ok("log-dirs", "--bootstrap-server", b, "--describe")
    lines = out.splitlines()
    assert lines[:2] == ["Querying brokers for log directories information",
                         "Received log directory information from brokers 0"]
    assert len(lines) == 3
    assert lines[2].startswith('{"brokers":[{"broker":0,"logDirs":[{"partitions":[{"partition":"')
    assert lines[2].endswith('],"error":null,"logDir":"%s"}]}],"version":1}' % brook.datadir)
    doc = json.loads(lines[2])
    parts = {p["partition"]: p for p in doc["brokers"][0]["logDirs"][0]["partitions"]}
    assert set(parts) == {"ld-0", "ld-1", "other-0"}
    assert list(parts["ld-0"]) == ["partition", "size", "offsetLag", "isFuture"]
    assert parts["ld-0"]["size"] > 0 and parts["ld-1"]["size"] == 0
    assert parts["ld-0"]["offsetLag"] == 0 and parts["ld-0"]["isFuture"] is False

    out = ok("log-dirs", "--bootstrap-server", b, "--describe", "--topic-list", "other", "--broker-list", "0")
    doc = json.loads(out.splitlines()[2])
    assert [p["partition"] for p in doc["brokers"][0]["logDirs"][0]["partitions"]] == ["other-0"]

    _, line = fails("log-dirs", "--bootstrap-server", b, "--describe", "--broker-list", "0,7")
    assert line == ("brook log-dirs: The given brokers do not exist from --broker-list: 7. "
                    "Current existent brokers: 0")
    fails("log-dirs", "--bootstrap-server", b, rc=2)


# ------------------------------------------------------ broker-api-versions


@pytest.mark.smoke
def test_broker_api_versions(brook):
    out = ok("broker-api-versions", "--bootstrap-server", brook.bootstrap)
    lines = out.splitlines()
    assert lines[0] == "%s (id: 0 rack: null) -> (" % brook.bootstrap
    assert lines[-1] == ")"
    body = lines[1:-1]
    assert all(ln.startswith("\t") for ln in body)
    assert all(ln.endswith(",") for ln in body[:-1]) and not body[-1].endswith(",")
    adv = kwire.api_versions(brook.host, brook.port, version=3)["keys"]
    seen = {}
    for ln in body:
        m = re.fullmatch(r"\t(\w+)\((\d+)\): (.*?),?", ln)
        assert m, ln
        seen[int(m.group(2))] = (m.group(1), m.group(3))
    for key, (lo, hi) in adv.items():
        name, text = seen[key]
        rng = str(lo) if lo == hi else "%d to %d" % (lo, hi)
        assert text.startswith(rng + " [usable: "), (key, text)
    assert seen[0][0] == "Produce" and seen[18] == ("ApiVersions", "0 to %d [usable: %d]" % (adv[18][1], adv[18][1]))
    # APIs a ZooKeeper-mode broker has but Brook does not advertise
    missing = [k for k in seen if k not in adv]
    assert missing and all(seen[k][1] == "UNSUPPORTED" for k in missing)
    if 4 not in adv:
        assert seen[4] == ("LeaderAndIsr", "UNSUPPORTED")


# ------------------------------------------------------- unreachable broker


def test_unreachable_broker_fails_fast_and_clearly():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]  # bound, not listening: connections are refused
    b = "127.0.0.1:%d" % port
    cmds = {
        "topics": ["--bootstrap-server", b, "--list"],
        "configs": ["--bootstrap-server", b, "--topic", "t", "--describe"],
        "log-dirs": ["--bootstrap-server", b, "--describe"],
        "broker-api-versions": ["--bootstrap-server", b],
    }
    t0 = time.time()
    procs = {c: subprocess.Popen([BROOK, c] + a, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for c, a in cmds.items()}
    try:
        for c, p in procs.items():
            out, err = p.communicate(timeout=25)
            assert p.returncode == 1, (c, out, err)
            lines = err.splitlines()
            assert len(lines) == 1 and lines[0].startswith("brook %s: cannot connect to " % c), (c, err)
            assert b in lines[0]
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
        s.close()
    assert time.time() - t0 < 20
