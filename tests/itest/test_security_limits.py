"""Issue 11 (limits): max.connections, max.connections.per.ip (with
max.connections.per.ip.overrides) and connections.max.idle.ms, with raw
sockets (tests/lib/kwire.py). A connection over a limit is accepted by the
kernel and closed by the broker before it reads a byte; connections under
the limit keep working, and a slot frees when one of them closes.
"""

import time

import pytest

import kwire

pytestmark = pytest.mark.timeout(60)


def conn_ok(b, corr=1):
    """A new connection that answers ApiVersions (kept open)."""
    c = kwire.Conn(b.host, b.port, 5)
    got, _ = c.roundtrip(kwire.API_API_VERSIONS, 0, corr, kwire.api_versions_body(0))
    assert got == corr
    return c


def refused(b):
    """A new connection the broker closes without answering."""
    c = kwire.Conn(b.host, b.port, 5)
    try:
        try:
            c.send(kwire.request(kwire.API_API_VERSIONS, 0, 7, kwire.api_versions_body(0)))
        except OSError:
            return True
        closed, data = c.wait_closed(5)
        return closed and data == b""
    finally:
        c.close()


def limit_holds(b, n):
    held = [conn_ok(b, i + 1) for i in range(n)]
    try:
        assert refused(b), "connection %d was not closed" % (n + 1)
        # the held ones still work
        got, _ = held[0].roundtrip(kwire.API_API_VERSIONS, 0, 99, kwire.api_versions_body(0))
        assert got == 99
        # one closes: a new one is let in (the broker sees the close first)
        held.pop().close()
        deadline = time.monotonic() + 5
        while True:
            try:
                held.append(conn_ok(b, 50))
                break
            except (OSError, kwire.ParseError, EOFError, ConnectionError):
                assert time.monotonic() < deadline, "no slot after a close"
                time.sleep(0.1)
        assert refused(b)
    finally:
        for c in held:
            c.close()


@pytest.mark.brook_config({"max.connections.per.ip": 3})
def test_max_connections_per_ip(brook):
    limit_holds(brook, 3)
    brook.assert_alive()


@pytest.mark.brook_config({"max.connections.per.ip": 100,
                           "max.connections.per.ip.overrides": "10.9.9.9:50,127.0.0.1:2"})
def test_max_connections_per_ip_override(brook):
    limit_holds(brook, 2)


@pytest.mark.brook_config({"max.connections": 4})
def test_max_connections(brook):
    limit_holds(brook, 4)


@pytest.mark.brook_config({"connections.max.idle.ms": 1000})
def test_idle_connections_are_closed(brook):
    c = conn_ok(brook)
    t0 = time.monotonic()
    closed, _ = c.wait_closed(10)
    took = time.monotonic() - t0
    print("idle connection closed after %.2f s (connections.max.idle.ms=1000)" % took)
    assert closed
    c.close()


def test_bad_overrides_refuse_to_start(tmp_path):
    import subprocess
    import brookharness
    cfg = tmp_path / "server.properties"
    cfg.write_text("listeners=PLAINTEXT://127.0.0.1:%d\nlog.dirs=%s\n"
                   "max.connections.per.ip.overrides=nonsense\n"
                   % (brookharness.free_port(), tmp_path / "data"))
    p = subprocess.run([brookharness.brookd_path(), str(cfg)], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 1, p
    assert "max.connections.per.ip.overrides" in p.stdout + p.stderr
