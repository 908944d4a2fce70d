"""pytest fixtures for Brook's integration tests.

`brook` starts a fresh brookd (BROOKD, default build/bin/brookd) in its own
temp dir on a free 127.0.0.1 port and stops it at teardown. Extra
server.properties entries come from the `brook_config` marker:

    @pytest.mark.brook_config({"connections.max.idle.ms": 2000})
    def test_idle(brook): ...

`brook_factory(props=None)` starts more brokers in the same test.

At teardown a test fails if its broker crashed (exited without being asked,
or died of a signal the test did not send), did not stop cleanly on SIGTERM,
or printed a sanitizer report. When a test fails, the broker log is attached
to the failure report.
"""

import os
import signal
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import brookharness  # noqa: E402
import kwire  # noqa: E402

REPO = brookharness.REPO


def pytest_configure(config):
    config.addinivalue_line("markers", "smoke: quick test, also run against the ASan/UBSan build")
    config.addinivalue_line("markers", "brook_config(props): extra server.properties for the brook fixture")

    # `timeout` (tests/run-itest.sh) sends SIGTERM to the process group: kill
    # the brokers and stop at once (the run has failed anyway).
    def on_term(signum, frame):
        brookharness.kill_all()
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and rep.when in ("setup", "call"):
        for b in getattr(item, "_brook_brokers", []):
            rep.sections.append(("brookd log (%s, %s)" % (b.bootstrap if b.port else "?", b.workdir), b.log_tail()))


class _Factory:
    def __init__(self, request, tmp_path_factory):
        self.request = request
        self.tmp = tmp_path_factory
        self.brokers = []

    def __call__(self, props=None, start=True):
        b = brookharness.Broker(self.tmp.mktemp("brook"), props=props)
        self.brokers.append(b)
        node = self.request.node
        if not hasattr(node, "_brook_brokers"):
            node._brook_brokers = []
        node._brook_brokers.append(b)
        if start:
            b.start()
        return b

    def finish(self):
        problems = []
        for b in self.brokers:
            try:
                p = b.finish()
            except Exception as e:  # never leave a process behind
                b._kill_hard()
                p = ["teardown error: %r" % e]
            if p:
                problems.append("%s:\n  %s\n--- brookd log ---\n%s" % (b.workdir, "\n  ".join(p), b.log_tail()))
        return problems


@pytest.fixture
def brook_factory(request, tmp_path_factory):
    f = _Factory(request, tmp_path_factory)
    try:
        yield f
    finally:
        problems = f.finish()
    if problems:
        pytest.fail("brookd problems at teardown:\n" + "\n\n".join(problems), pytrace=False)


@pytest.fixture
def brook(request, brook_factory):
    props = {}
    for m in reversed(list(request.node.iter_markers("brook_config"))):
        props.update(m.args[0] if m.args else {})
        props.update(m.kwargs)
    return brook_factory(props)


@pytest.fixture
def healthy(brook):
    """Call healthy() to assert that brookd still runs and that a NEW
    connection still gets a correct ApiVersions v0 answer."""

    def check(context=""):
        brook.assert_alive(context)
        try:
            res = kwire.api_versions(brook.host, brook.port, version=0, corr=424242, timeout=10)
        except Exception as e:
            brook.assert_alive(context)
            raise AssertionError("a new connection got no valid ApiVersions answer %s: %r" % (context, e))
        assert res["error_code"] == 0, context
        assert kwire.API_API_VERSIONS in res["keys"], context

    return check
