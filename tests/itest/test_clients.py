"""Metadata as real clients see it: kcat, confluent-kafka (librdkafka 2.0.2),
kafka-python 2.0.2 and kafkajs 2.2.4 against a fresh single broker.

A fresh broker has no topics, is node 0 and is its own controller."""

import json
import os
import shutil
import subprocess

import pytest

from brookharness import REPO

CLIENT_TIMEOUT = 60  # seconds for one client process


def run(cmd, **kw):
    return subprocess.run(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        timeout=CLIENT_TIMEOUT,
        text=True,
        **kw,
    )


def kcat():
    path = shutil.which("kcat")
    assert path, "kcat is not installed (scripts/deps.sh installs it)"
    return path


@pytest.mark.smoke
def test_kcat_metadata_json(brook):
    r = run([kcat(), "-L", "-J", "-m", "10", "-b", brook.bootstrap])
    assert r.returncode == 0, "kcat -L -J failed (%d):\n%s" % (r.returncode, r.stderr)
    md = json.loads(r.stdout)
    brokers = {b["id"]: b["name"] for b in md["brokers"]}
    assert brokers == {0: brook.bootstrap}, md
    assert md["controllerid"] == 0, md
    assert md["topics"] == [], md


@pytest.mark.smoke
def test_kcat_metadata_text(brook):
    r = run([kcat(), "-L", "-m", "10", "-b", brook.bootstrap])
    assert r.returncode == 0, "kcat -L failed (%d):\n%s" % (r.returncode, r.stderr)
    assert "1 brokers:" in r.stdout, r.stdout
    assert "broker 0 at %s" % brook.bootstrap in r.stdout, r.stdout
    assert "0 topics:" in r.stdout, r.stdout


@pytest.mark.smoke
def test_confluent_kafka_list_topics(brook):
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": brook.bootstrap, "socket.timeout.ms": 10000})
    md = admin.list_topics(timeout=10)
    assert set(md.brokers) == {0}
    b = md.brokers[0]
    assert (b.id, b.host, b.port) == (0, brook.host, brook.port)
    assert isinstance(md.cluster_id, str) and md.cluster_id, "no cluster id: %r" % md.cluster_id
    assert md.controller_id == 0
    assert md.orig_broker_id == 0
    assert md.topics == {}


@pytest.mark.smoke
def test_kafka_python_consumer_topics(brook):
    # Its first connection pipelines ApiVersions v0 + Metadata v0 (CLIENTS.md 2.2).
    from kafka import KafkaConsumer

    c = KafkaConsumer(
        bootstrap_servers=brook.bootstrap,
        api_version_auto_timeout_ms=10000,
        request_timeout_ms=15000,
        consumer_timeout_ms=1000,
    )
    try:
        assert c.topics() == set()
    finally:
        c.close()


@pytest.mark.smoke
def test_kafka_python_admin_describe_cluster(brook):
    from kafka import KafkaAdminClient

    a = KafkaAdminClient(
        bootstrap_servers=brook.bootstrap,
        api_version_auto_timeout_ms=10000,
        request_timeout_ms=15000,
    )
    try:
        cl = a.describe_cluster()
    finally:
        a.close()
    assert cl["controller_id"] == 0, cl
    brokers = [(b["node_id"], b["host"], b["port"]) for b in cl["brokers"]]
    assert brokers == [(0, brook.host, brook.port)], cl
    assert cl["cluster_id"], cl


@pytest.mark.smoke
def test_kafkajs_describe_cluster(brook):
    node_modules = os.path.join(REPO, "tests", "node", "node_modules")
    assert os.path.isdir(os.path.join(node_modules, "kafkajs")), "kafkajs missing: run scripts/deps.sh"
    node = shutil.which("node")
    assert node, "node is not installed"
    env = dict(os.environ, NODE_PATH=node_modules)
    script = os.path.join(os.path.dirname(__file__), "js", "describe_cluster.js")
    r = run([node, script, brook.bootstrap], env=env)
    assert r.returncode == 0, "kafkajs failed (%d):\n%s" % (r.returncode, r.stderr)
    out = json.loads(r.stdout)
    cl = out["cluster"]
    assert [(b["nodeId"], b["host"], b["port"]) for b in cl["brokers"]] == [(0, brook.host, brook.port)], cl
    assert cl["controller"] == 0, cl
    assert cl["clusterId"], cl
    assert out["topics"] == [], out
