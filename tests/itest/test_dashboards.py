"""The Grafana dashboard and the Prometheus alert rules in deploy/.

- deploy/prometheus/brook-alerts.yml passes `promtool check rules`, and its
  unit tests (brook-alerts.test.yml: input series -> expected alerts) pass
  `promtool test rules` (Debian's prometheus package ships promtool).
- deploy/grafana/brook-dashboard.json parses, and every metric name its
  queries use is either a documented lag metric (docs/metrics-lag.md) or
  one of the Kafka JMX-exporter names Brook serves (KAFKA_NAMES below, from
  issue 10); the alert rules likewise (plus `up` and node_exporter's
  filesystem gauges). The dashboard covers throughput, latency, partition
  health, lag in offsets and seconds, and disk.
- The lag metric names in docs/metrics-lag.md are exactly those
  src/group/lag.c writes.
"""

import json
import os
import re
import shutil
import subprocess

import pytest
import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DASHBOARD = os.path.join(REPO, "deploy", "grafana", "brook-dashboard.json")
RULES = os.path.join(REPO, "deploy", "prometheus", "brook-alerts.yml")
RULE_TESTS = os.path.join(REPO, "deploy", "prometheus", "brook-alerts.test.yml")
LAG_DOC = os.path.join(REPO, "docs", "metrics-lag.md")
LAG_SRC = os.path.join(REPO, "src", "group", "lag.c")

pytestmark = pytest.mark.timeout(60)

# The common JMX-exporter names of Kafka's MBeans that Brook serves (issue 10).
KAFKA_NAMES = {
    "kafka_server_brokertopicmetrics_messagesin_total",
    "kafka_server_brokertopicmetrics_bytesin_total",
    "kafka_server_brokertopicmetrics_bytesout_total",
    "kafka_network_requestmetrics_totaltimems",
    "kafka_server_replicamanager_underreplicatedpartitions",
    "kafka_controller_kafkacontroller_activecontrollercount",
    "kafka_controller_kafkacontroller_offlinepartitionscount",
    "kafka_server_replicamanager_underminisrpartitioncount",
    "kafka_log_log_size",
}
# Alert rules may also use Prometheus' own `up` and node_exporter's gauges.
ALERT_EXTRA = {"up", "node_filesystem_avail_bytes", "node_filesystem_size_bytes"}

PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool",
    "and", "or", "unless", "inf", "nan", "atan2",
}


def metric_names(expr):
    """Metric names used by a PromQL expression (Grafana variables allowed)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)  # strings
    e = re.sub(r"\{[^}]*\}", " ", e)                                  # label matchers
    e = re.sub(r"\[[^\]]*\]", " ", e)                                 # ranges, subqueries
    e = re.sub(r"\$\{?\w+\}?", " ", e)                                # $__rate_interval, ${var}
    e = re.sub(r"\boffset\s+-?(\d+(ms|[smhdwy]))+", " ", e)              # offset 5m
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"\b\d+(\.\d+)?(e[+-]?\d+)?\b", " ", e, flags=re.I)    # numbers
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        rest = e[m.end():].lstrip()
        if rest.startswith("("):  # a function or aggregation
            continue
        if m.group(0).lower() in PROMQL_WORDS:
            continue
        names.add(m.group(0))
    return names


def lag_doc_names():
    with open(LAG_DOC) as f:
        text = f.read()
    return set(re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.M))


def dashboard_queries(d):
    out = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                out.append((p["title"], t["expr"]))
            walk(p.get("panels", []))

    walk(d["panels"])
    for v in d.get("templating", {}).get("list", []):
        if v.get("type") != "query":
            continue
        q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
        m = re.fullmatch(r"label_values\(\s*(.+?)\s*,\s*\w+\s*\)", q)
        assert m, "unexpected template query %r" % q
        out.append(("$" + v["name"], m.group(1)))
    return out


def test_metric_name_extraction():
    # The checker itself must catch names (else the checks below prove nothing).
    assert metric_names('sum by (topic) (rate(kafka_x_total{instance=~"$instance"}[$__rate_interval]))') \
        == {"kafka_x_total"}
    assert metric_names("a / on(instance) group_left b > 0.5 and c offset 5m") == {"a", "b", "c"}
    assert metric_names('max by (request) (foo{quantile="0.99"}) > 500 * 1024') == {"foo"}
    assert metric_names('topk(10, sum by (topic) (bar))') == {"bar"}


def test_lag_doc_matches_source():
    doc = lag_doc_names()
    with open(LAG_SRC) as f:
        src = set(re.findall(r'"(kafka_consumergroup_[a-z_]+)"', f.read()))
    assert doc, "no metric table in docs/metrics-lag.md"
    assert doc == src, "docs/metrics-lag.md and src/group/lag.c disagree: %s" % sorted(doc ^ src)


def test_dashboard_json():
    with open(DASHBOARD) as f:
        d = json.load(f)
    assert d["title"] and d["panels"]
    allowed = KAFKA_NAMES | lag_doc_names()
    used = set()
    for title, expr in dashboard_queries(d):
        names = metric_names(expr)
        assert names, "panel %r: no metric in %r" % (title, expr)
        unknown = names - allowed
        assert not unknown, "panel %r queries undocumented metrics %s" % (title, sorted(unknown))
        used |= names
    # Panel ids are unique and every panel has a place on the grid.
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids))
    assert all({"x", "y", "w", "h"} <= set(p["gridPos"]) for p in d["panels"])
    # What issue 10 asks the dashboard to show.
    for need in ("kafka_server_brokertopicmetrics_messagesin_total",
                 "kafka_server_brokertopicmetrics_bytesin_total",
                 "kafka_server_brokertopicmetrics_bytesout_total",
                 "kafka_network_requestmetrics_totaltimems",
                 "kafka_server_replicamanager_underreplicatedpartitions",
                 "kafka_controller_kafkacontroller_offlinepartitionscount",
                 "kafka_server_replicamanager_underminisrpartitioncount",
                 "kafka_controller_kafkacontroller_activecontrollercount",
                 "kafka_consumergroup_group_lag",
                 "kafka_consumergroup_group_lag_seconds",
                 "kafka_log_log_size"):
        assert need in used, "the dashboard does not show %s" % need


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian prometheus) not installed")
def test_alert_rules_promtool():
    r = subprocess.run(["promtool", "check", "rules", RULES], capture_output=True, timeout=30)
    out = (r.stdout + r.stderr).decode()
    print(out)
    assert r.returncode == 0 and "SUCCESS" in out, out
    # The rules' own unit tests: series in, expected alerts (with labels and
    # rendered annotations) out.
    r = subprocess.run(["promtool", "test", "rules", os.path.basename(RULE_TESTS)],
                       cwd=os.path.dirname(RULE_TESTS), capture_output=True, timeout=30)
    out = (r.stdout + r.stderr).decode()
    print(out)
    assert r.returncode == 0 and "SUCCESS" in out, out


def test_alert_rules_names():
    with open(RULES) as f:
        rules = yaml.safe_load(f)
    allowed = KAFKA_NAMES | lag_doc_names() | ALERT_EXTRA
    alerts = {}
    for g in rules["groups"]:
        for r in g["rules"]:
            names = metric_names(r["expr"])
            assert names and not names - allowed, (r["alert"], sorted(names - allowed))
            alerts[r["alert"]] = names
    # What issue 10 asks the rules to cover.
    assert "kafka_controller_kafkacontroller_offlinepartitionscount" in alerts["BrookOfflinePartitions"]
    assert "kafka_server_replicamanager_underreplicatedpartitions" in alerts["BrookUnderReplicatedPartitions"]
    assert "kafka_controller_kafkacontroller_activecontrollercount" in alerts["BrookNoActiveController"]
    assert "kafka_consumergroup_group_lag" in alerts["BrookConsumerLagGrowing"]
    assert "node_filesystem_avail_bytes" in alerts["BrookDiskNearlyFull"]
    assert "kafka_log_log_size" in alerts["BrookLogSizeHigh"]
    assert "up" in alerts["BrookBrokerDown"]


def grafana_to_promql(expr):
    """A dashboard query with Grafana's variables replaced by PromQL."""
    e = expr.replace("$__rate_interval", "1m").replace("$__interval", "1m")
    return re.sub(r"\$\{?\w+\}?", ".*", e)


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian prometheus) not installed")
def test_dashboard_queries_are_valid_promql(tmp_path):
    # promtool parses every query as the expression of a recording rule.
    with open(DASHBOARD) as f:
        d = json.load(f)
    rules = [{"record": "brook:dashboard:q%d" % i, "expr": grafana_to_promql(e)}
             for i, (_, e) in enumerate(dashboard_queries(d))]
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    r = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, timeout=30)
    out = (r.stdout + r.stderr).decode()
    assert r.returncode == 0 and "SUCCESS: %d rules found" % len(rules) in out, out
    # ... and promtool does catch a broken one.
    path.write_text(yaml.safe_dump({"groups": [{"name": "d", "rules": [
        {"record": "x:y", "expr": "sum by (topic) (rate(kafka_log_log_size[1m])"}]}]}))
    r = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, timeout=30)
    assert r.returncode != 0
