"""Fixtures: real ellipticsd processes, one per group, and clients on them.

The binaries come from $ELLIPTICS_BIN (set by the Makefile) or ./bin (built
by `make build`); if neither has ellipticsd it is built with `go build`
into a temporary directory. Every daemon is killed when the session ends
(and dies with the test process through PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import ctypes
import os
import queue
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from typing import Dict, Iterator, List, Optional

import pytest

import elliptics

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LISTENING = "ellipticsd listening on "


def _daemon_binary(tmp_root: str) -> str:
    for d in (os.environ.get("ELLIPTICS_BIN"), os.path.join(ROOT, "bin")):
        if d and os.access(os.path.join(d, "ellipticsd"), os.X_OK):
            return os.path.join(d, "ellipticsd")
    out = os.path.join(tmp_root, "ellipticsd")
    subprocess.check_call(["go", "build", "-o", out, "./cmd/ellipticsd"], cwd=ROOT)
    return out


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class Daemon:
    """One ellipticsd process serving one group."""

    def __init__(self, binary: str, group: int, data_dir: str, config: Optional[str] = None) -> None:
        self.group = group
        self.data_dir = data_dir
        os.makedirs(data_dir, exist_ok=True)
        self.log_path = os.path.join(data_dir, "ellipticsd.log")
        self._log = open(self.log_path, "ab")
        args = ["--config", config] if config else ["--listen", "127.0.0.1:0", "--group", str(group), "--data-dir", data_dir]
        self.proc = subprocess.Popen(
            [binary] + args,
            stdout=subprocess.PIPE,
            stderr=self._log,
            cwd=data_dir,
            preexec_fn=_die_with_parent,
        )
        lines: "queue.Queue[Optional[str]]" = queue.Queue()

        def pump() -> None:
            assert self.proc.stdout is not None
            for raw in self.proc.stdout:
                lines.put(raw.decode(errors="replace").rstrip("\n"))
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + 20
        self.addr = ""
        while not self.addr:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise RuntimeError("ellipticsd (group %d) did not report listening:\n%s" % (group, self.log()))
            try:
                line = lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                line = ""
                for l in self.log().splitlines():  # some builds print it on stderr
                    if LISTENING in l:
                        line = l[l.index(LISTENING) :]
            if line is None:
                raise RuntimeError("ellipticsd (group %d) exited (%s):\n%s" % (group, self.proc.wait(), self.log()))
            if line.startswith(LISTENING):
                self.addr = line[len(LISTENING) :].split(",")[0].strip()

    def log(self) -> str:
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def signal(self, sig: int) -> None:
        """Sends sig; for SIGSTOP, returns once the process is stopped.

        kill() only queues a signal: a request sent right after SIGSTOP can
        still be served by a process that has not stopped yet.
        """
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        if sig == signal.SIGSTOP:
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and self._state() not in ("T", "t"):
                time.sleep(0.001)

    def _state(self) -> str:
        try:
            with open("/proc/%d/stat" % self.proc.pid) as f:
                return f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL and reap (idempotent)."""
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            pass
        self._log.close()


def _free_addr() -> str:
    """A "127.0.0.1:port" nobody listens on (the kernel picks the port)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return "127.0.0.1:%d" % sock.getsockname()[1]


class Cluster:
    """Three daemons: group 1, 2 and 3."""

    def __init__(self, binary: str, root: str, groups=(1, 2, 3), joined: bool = False) -> None:
        """joined: the nodes know each other (they join through the first
        one), as server_send and copy iterators need; else each stands alone."""
        self.daemons: Dict[int, Daemon] = {}
        try:
            first = ""
            for g in groups:
                d = os.path.join(root, "group-%d" % g)
                config = None
                if joined:
                    os.makedirs(d, exist_ok=True)
                    config = os.path.join(d, "node.toml")
                    addr = _free_addr()
                    with open(config, "w") as f:
                        f.write(
                            '[node]\nlisten = ["%s"]\n%sdata_dir = "%s"\n\n[[backend]]\ngroup = %d\ntype = "blob"\n'
                            % (addr, 'remotes = ["%s"]\n' % first if first else "", os.path.join(d, "data"), g)
                        )
                self.daemons[g] = Daemon(binary, g, d, config)
                if joined and not first:
                    first = self.daemons[g].addr
        except Exception:
            self.stop()
            raise

    @property
    def groups(self) -> List[int]:
        return sorted(self.daemons)

    @property
    def addrs(self) -> List[str]:
        return [self.daemons[g].addr for g in self.groups]

    def node(self, wait_timeout: float = 5) -> elliptics.Node:
        cfg = elliptics.Config()
        cfg.wait_timeout = wait_timeout
        n = elliptics.Node(elliptics.Logger("", elliptics.log_level.error), cfg)
        n.add_remotes(self.addrs)
        # The client learns every node's routes from add_remotes; wait until
        # all groups are routable.
        deadline = time.monotonic() + 10
        while set(n.routes().groups()) != set(self.groups):
            if time.monotonic() > deadline:
                raise RuntimeError("routes of groups %s not learnt: %s" % (self.groups, n.routes().groups()))
            time.sleep(0.05)
        return n

    def stop(self) -> None:
        for d in self.daemons.values():
            d.kill()


@pytest.fixture(scope="session")
def tmp_root() -> Iterator[str]:
    d = tempfile.mkdtemp(prefix="elliptics-pytest-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def daemon_binary(tmp_root: str) -> str:
    return _daemon_binary(tmp_root)


@pytest.fixture(scope="session")
def cluster(daemon_binary: str, tmp_root: str) -> Iterator[Cluster]:
    """Three daemons shared by the whole session (do not kill them: use fresh_cluster)."""
    c = Cluster(daemon_binary, os.path.join(tmp_root, "shared"))
    yield c
    c.stop()


@pytest.fixture
def fresh_cluster(daemon_binary: str, tmp_path) -> Iterator[Cluster]:
    """Three daemons of the test's own, free to kill or stop."""
    c = Cluster(daemon_binary, str(tmp_path))
    yield c
    for d in c.daemons.values():
        d.signal(signal.SIGCONT)
    c.stop()


@pytest.fixture(scope="session")
def node(cluster: Cluster) -> Iterator[elliptics.Node]:
    n = cluster.node()
    yield n
    n.close()


@pytest.fixture
def session(node: elliptics.Node) -> Iterator[elliptics.Session]:
    s = elliptics.Session(node)
    s.groups = [1, 2, 3]
    yield s
    s.close()


@pytest.fixture
def key() -> str:
    """A key no other test uses."""
    return "pytest-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def joined_cluster(daemon_binary: str, tmp_root: str) -> Iterator[Cluster]:
    """Three daemons (groups 1, 2, 3) that know each other, for the module."""
    c = Cluster(daemon_binary, os.path.join(tmp_root, "joined-" + uuid.uuid4().hex[:8]), joined=True)
    yield c
    c.stop()
