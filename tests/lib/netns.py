"""netns - real network isolation for cluster fault tests: every broker in
its own Linux network namespace, linked to a bridge in the root namespace
by a veth pair; ZooKeeper and the test's clients stay in the root namespace
and reach the brokers at their 10.x addresses.

    with netns.Net(3) as net:           # needs root and iproute2
        net.addr(i)                     # "10.213.K.(i+2)": broker i's address
        net.gateway                     # "10.213.K.1": the root side (ZooKeeper)
        net.wrapper(i, "/path/brookd")  # an executable that runs brookd in ns i
        net.cut(i); net.heal(i)         # take broker i's link down / up again

Cutting sets the root-side end of broker i's veth down: its packets reach
nobody (neither the other brokers nor ZooKeeper nor the clients) and nobody
reaches it, without any reset - exactly a partition. `ip netns exec` execs
the program in place (no fork), so the Popen pid is the broker's own.

Cleanup is unconditional: Net.close() (context exit), atexit, and names are
unique per test process so a leftover from a crashed run never collides.
available() says whether `ip netns add` works here (root, iproute2).
"""

import atexit
import os
import shutil
import subprocess
import uuid

_open = []


def _ip(*args, check=True):
    r = subprocess.run(["ip"] + list(args), capture_output=True, text=True, timeout=20)
    if check and r.returncode != 0:
        raise RuntimeError("ip %s: %s" % (" ".join(args), r.stderr.strip()))
    return r


def available():
    """(ok, reason): can this process build what Net builds (a namespace,
    a bridge, a veth pair) and run a program inside? Tried for real with
    one namespace."""
    if not shutil.which("ip"):
        return False, "iproute2 (`ip`) is not installed"
    if os.geteuid() != 0:
        return False, "network namespaces need root"
    try:
        net = Net(1).__enter__()
        try:
            r = net.run(0, ["true"], capture_output=True, text=True, timeout=20)
            if r.returncode != 0:
                raise RuntimeError("ip netns exec: %s" % r.stderr.strip())
        finally:
            net.close()
    except Exception as e:
        return False, "cannot set up a network namespace with a veth link here: %s" % e
    return True, ""


class Net:
    def __init__(self, n):
        tag = uuid.uuid4().hex[:5]
        self.n = n
        self.ns = ["bk%sn%d" % (tag, i) for i in range(n)]
        self.veth = ["bk%sv%d" % (tag, i) for i in range(n)]
        self.bridge = "bk%sbr" % tag
        # a /24 unlikely to be in use: 10.213.<random>.0
        self.subnet = "10.213.%d" % (int(tag, 16) % 250 + 1)
        self.gateway = self.subnet + ".1"
        self.wrappers = []
        self.up = False

    def addr(self, i):
        return "%s.%d" % (self.subnet, i + 2)

    def start(self):
        _open.append(self)
        _ip("link", "add", self.bridge, "type", "bridge", "stp_state", "0", "forward_delay", "0")
        _ip("addr", "add", self.gateway + "/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        for i in range(self.n):
            ns, v = self.ns[i], self.veth[i]
            _ip("netns", "add", ns)
            _ip("link", "add", v, "type", "veth", "peer", "name", v + "p")
            _ip("link", "set", v + "p", "netns", ns)
            _ip("link", "set", v, "master", self.bridge)
            _ip("link", "set", v, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "link", "set", v + "p", "name", "eth0")
            _ip("-n", ns, "addr", "add", self.addr(i) + "/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            _ip("-n", ns, "route", "add", "default", "via", self.gateway)
        self.up = True
        return self

    def wrapper(self, i, binary, workdir):
        """An executable file that runs `binary args...` inside namespace i."""
        path = os.path.join(str(workdir), "in-%s.sh" % self.ns[i])
        with open(path, "w") as f:
            f.write("#!/bin/sh\nexec ip netns exec %s %s \"$@\"\n" % (self.ns[i], binary))
        os.chmod(path, 0o755)
        self.wrappers.append(path)
        return path

    def run(self, i, argv, **kw):
        """Run a command inside namespace i (subprocess.run)."""
        return subprocess.run(["ip", "netns", "exec", self.ns[i]] + list(argv), **kw)

    def cut(self, i):
        """Partition namespace i from everything (bridge port down)."""
        _ip("link", "set", self.veth[i], "down")

    def heal(self, i):
        _ip("link", "set", self.veth[i], "up")

    def close(self):
        for ns in self.ns:
            _ip("netns", "del", ns, check=False)  # deletes its veth end, so the pair
        for v in self.veth:
            _ip("link", "del", v, check=False)
        _ip("link", "del", self.bridge, check=False)
        self.up = False
        if self in _open:
            _open.remove(self)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc):
        self.close()
        return False


def _close_all():
    for net in list(_open):
        try:
            net.close()
        except Exception:
            pass


atexit.register(_close_all)
