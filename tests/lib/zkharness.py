"""A real ZooKeeper ensemble (1 or 3 nodes) for tests, from Debian's
`zookeeper` package, on free loopback ports in a temp dir.

    with zkharness.Ensemble(tmpdir, nodes=3) as zk:
        zk.connect          # "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3"
        zk.kill(0); zk.start_node(0)

Short tickTime (200 ms) so sessions of 4-6 s are allowed (ZooKeeper bounds
a session timeout to [2, 20] ticks). Every JVM gets PR_SET_PDEATHSIG and is
killed (SIGKILL) when the ensemble is stopped, at interpreter exit, or when
the test process dies - nothing outlives the test.
"""

import atexit
import os
import shutil
import signal
import socket
import subprocess
import time

from brookharness import _pdeathsig, free_port, port_open

CLASSPATH = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar"
MAIN = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
TICK_MS = 200

_live = set()


def _kill_all():
    for p in list(_live):
        if p.poll() is None:
            try:
                p.kill()
                p.wait(5)
            except Exception:
                pass
        _live.discard(p)


atexit.register(_kill_all)


def available():
    return os.path.exists("/usr/share/java/zookeeper.jar") and shutil.which("java") is not None


def _ruok(port, timeout=0.5):
    """'imok' and, for an ensemble, serving (srvr says Mode)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"srvr")
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        return b"Mode:" in data
    except OSError:
        return False


class Ensemble:
    def __init__(self, workdir, nodes=1, start_timeout=60, client_addr="127.0.0.1"):
        # client_addr: where clients connect ("0.0.0.0" also serves brokers
        # in network namespaces, tests/lib/netns.py; see connect_via)
        self.client_addr = client_addr
        self.workdir = str(workdir)
        self.n = nodes
        self.start_timeout = start_timeout
        self.client_ports = [free_port() for _ in range(nodes)]
        self.peer_ports = [(free_port(), free_port()) for _ in range(nodes)]
        self.procs = [None] * nodes
        self.logs = [None] * nodes
        for i in range(nodes):
            self._write_conf(i)

    @property
    def connect(self):
        return ",".join("127.0.0.1:%d" % p for p in self.client_ports)

    def connect_via(self, host):
        """The connect string through another address of this machine (the
        bridge address seen from a network namespace)."""
        return ",".join("%s:%d" % (host, p) for p in self.client_ports)

    def _dir(self, i):
        return os.path.join(self.workdir, "zk%d" % (i + 1))

    def _write_conf(self, i):
        d = self._dir(i)
        os.makedirs(os.path.join(d, "data"), exist_ok=True)
        lines = [
            "tickTime=%d" % TICK_MS,
            "initLimit=50",
            "syncLimit=10",
            "dataDir=%s" % os.path.join(d, "data"),
            "clientPort=%d" % self.client_ports[i],
            "clientPortAddress=%s" % self.client_addr,
            "maxClientCnxns=0",
            "admin.enableServer=false",
            "4lw.commands.whitelist=srvr,ruok,stat,mntr",
            "minSessionTimeout=%d" % (2 * TICK_MS),
            "maxSessionTimeout=60000",
        ]
        if self.n > 1:
            for k in range(self.n):
                q, e = self.peer_ports[k]
                lines.append("server.%d=127.0.0.1:%d:%d" % (k + 1, q, e))
            with open(os.path.join(d, "data", "myid"), "w") as f:
                f.write("%d\n" % (i + 1))
        with open(os.path.join(d, "zoo.cfg"), "w") as f:
            f.write("\n".join(lines) + "\n")
        with open(os.path.join(d, "log4j.properties"), "w") as f:
            f.write("log4j.rootLogger=WARN, F\nlog4j.appender.F=org.apache.log4j.FileAppender\n"
                    "log4j.appender.F.File=%s\nlog4j.appender.F.layout=org.apache.log4j.PatternLayout\n"
                    "log4j.appender.F.layout.ConversionPattern=%%d %%p %%c{1}: %%m%%n\n"
                    % os.path.join(d, "zookeeper.log"))

    def start_node(self, i):
        d = self._dir(i)
        out = open(os.path.join(d, "stdout.log"), "ab")
        try:
            p = subprocess.Popen(
                ["java", "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                 "-Dlog4j.configuration=file:%s" % os.path.join(d, "log4j.properties"),
                 "-Dzookeeper.admin.enableServer=false",
                 "-cp", CLASSPATH, MAIN, os.path.join(d, "zoo.cfg")],
                cwd=d, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                preexec_fn=_pdeathsig,
            )
        finally:
            out.close()
        self.procs[i] = p
        _live.add(p)
        return p

    def start(self):
        for i in range(self.n):
            self.start_node(i)
        self.wait_serving()
        return self

    def wait_serving(self, nodes=None, timeout=None):
        nodes = range(self.n) if nodes is None else nodes
        deadline = time.monotonic() + (timeout or self.start_timeout)
        while time.monotonic() < deadline:
            if all(_ruok(self.client_ports[i]) for i in nodes):
                return
            for i in nodes:
                if self.procs[i] is not None and self.procs[i].poll() is not None:
                    raise RuntimeError("zookeeper node %d exited:\n%s" % (i + 1, self.log_tail(i)))
            time.sleep(0.2)
        raise RuntimeError("zookeeper ensemble not serving within the time limit:\n" +
                           "\n".join(self.log_tail(i) for i in nodes))

    def log_tail(self, i, n=40):
        out = []
        for name in ("stdout.log", "zookeeper.log"):
            try:
                with open(os.path.join(self._dir(i), name), errors="replace") as f:
                    out += f.readlines()[-n:]
            except OSError:
                pass
        return "".join(out)

    def kill(self, i):
        p = self.procs[i]
        if p is not None and p.poll() is None:
            p.kill()
            p.wait(10)
        _live.discard(p)
        self.procs[i] = None

    def stop(self):
        for i in range(self.n):
            self.kill(i)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()
        return False
