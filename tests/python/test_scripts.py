"""Server-side scripts from Python (exec_, run_jobs, script management),
against real nodes: three joined nodes (groups 1, 2, 3), and for the job
manager three nodes of one group, so that keys spread over nodes."""

from __future__ import annotations

import asyncio
import os
import threading
import uuid

import pytest

import elliptics
from conftest import Cluster, Daemon, _free_addr

SCRIPT = """
def incr(key, data):
    cur = read(key)
    n = 0
    if cur != None:
        n = int(str(cur))
    n += 1
    write(key, str(n))
    return n

def where():
    return node

def echo(data):
    return data

def info(key, data):
    return {"key": key, "data": str(data), "group": group}

def spin():
    while True:
        pass

def big(data):
    return "x" * 100

def fail():
    return 1 // 0
"""


def _port(addr) -> int:
    if isinstance(addr, elliptics.Address):
        return addr.port
    return int(addr.rsplit(":", 1)[1])


@pytest.fixture
def jsess(joined_cluster):
    n = joined_cluster.node()
    s = elliptics.Session(n)
    s.groups = [1, 2, 3]
    yield s
    s.close()
    n.close()


@pytest.fixture
def script(jsess):
    """A stored script of the test's own; its name."""
    name = "py-" + uuid.uuid4().hex[:12]
    info = jsess.put_script(name, SCRIPT)
    assert info.name == name and info.version == 1
    yield name
    try:
        jsess.remove_script(name)
    except elliptics.NotFoundError:
        pass


class OneGroup(Cluster):
    """Three nodes of group 1 that know each other."""

    def __init__(self, binary: str, root: str) -> None:  # noqa: D107 - a fixture's helper
        self.daemons = {}
        first = ""
        try:
            for i in range(3):
                d = os.path.join(root, "node-%d" % i)
                os.makedirs(d, exist_ok=True)
                config = os.path.join(d, "node.toml")
                with open(config, "w") as f:
                    f.write(
                        '[node]\nlisten = ["%s"]\n%sdata_dir = "%s"\n\n[[backend]]\ngroup = 1\ntype = "blob"\n'
                        % (_free_addr(), 'remotes = ["%s"]\n' % first if first else "", os.path.join(d, "data"))
                    )
                self.daemons[i] = Daemon(binary, 1, d, config)
                first = first or self.daemons[i].addr
        except Exception:
            self.stop()
            raise

    @property
    def groups(self):
        return [1]

    @property
    def addrs(self):
        return [d.addr for d in self.daemons.values()]


@pytest.fixture(scope="module")
def one_group(daemon_binary, tmp_root):
    c = OneGroup(daemon_binary, os.path.join(tmp_root, "onegroup-" + uuid.uuid4().hex[:8]))
    yield c
    c.stop()


def test_put_get_list_remove(jsess):
    name = "py-" + uuid.uuid4().hex[:12]
    v1 = jsess.put_script(name, SCRIPT)
    assert (v1.name, v1.version, v1.size) == (name, 1, len(SCRIPT.encode()))
    assert len(v1.sha256) == 64 and v1.updated.tzinfo is not None
    v2 = jsess.put_script(name, b"def where():\n    return 2\n")
    assert v2.version == 2 and v2.updated >= v1.updated
    rec = jsess.get_script(name)
    assert isinstance(rec, elliptics.ScriptRecord) and rec.version == 2 and "return 2" in rec.source
    assert jsess.get_script(name, 1).source == SCRIPT
    with pytest.raises(elliptics.NotFoundError):
        jsess.get_script(name, 7)
    listed = {i.name: i for i in jsess.list_scripts()}
    assert listed[name].version == 2 and isinstance(listed[name], elliptics.ScriptInfo)
    with pytest.raises(elliptics.InvalidError):
        jsess.put_script(name, "def broken(:\n")
    jsess.remove_script(name)
    assert name not in {i.name for i in jsess.list_scripts()}
    with pytest.raises(elliptics.NotFoundError):
        jsess.get_script(name)
    with pytest.raises(elliptics.NotFoundError):
        jsess.remove_script(name)


def test_counter_on_key(jsess, joined_cluster, script, key):
    for want in range(1, 6):
        result = jsess.exec_(key, script + "@incr")
        (e,) = result.get()
        assert e.data == str(want).encode() and e.error.code == 0 and e.successful()
    assert jsess.read_data(key).get()[0].data == b"5"
    assert e.key == key and e.id == jsess.transform(key)
    assert _port(e.address) in {_port(a) for a in joined_cluster.addrs} and e.group in (1, 2, 3)
    assert e.duration >= 0 and e.seconds == e.duration
    ctx = e.context
    assert (ctx.event, ctx.data, ctx.src_key, ctx.src_id, ctx.address) == (script + "@incr", b"5", -1, e.id, e.address)
    assert result.successful() and result.ready() and result.error().code == 0
    # The alias; a raw Id (the script sees the ID's hex as its key).
    (e,) = jsess.exec(key, script + "@incr").get()
    assert e.data == b"6"
    (e,) = jsess.exec_(jsess.transform(key), script + "@echo", b"raw").get()
    assert e.data == b"raw" and e.id == jsess.transform(key)


def test_data_in_and_out(jsess, script, key):
    (e,) = jsess.exec_(key, script + "@echo", b"\x00\xffbytes").get()
    assert e.data == b"\x00\xffbytes"
    (e,) = jsess.exec_(key, script + "@info", "text", 7).get()
    got = __import__("json").loads(e.data)
    assert got["key"] == key and got["data"] == "text" and str(got["group"]) == str(e.group)
    assert e.context.src_key == 7


def test_fan_out(jsess, joined_cluster, script):
    entries = jsess.exec_(None, script + "@where").get()
    assert len(entries) == 3
    assert {_port(e.address) for e in entries} == {_port(a) for a in joined_cluster.addrs}
    assert len({e.data for e in entries}) == 3
    for e in entries:
        assert e.key is None and e.id is None and e.error.code == 0 and e.context.src_id is None


def test_original_positional_form(jsess, script):
    entries = jsess.exec_(None, script + "@echo", "data")
    got = list(entries)
    assert len(got) == 3 and all(e.data == b"data" for e in got)
    assert all(e.context.event == script + "@echo" for e in got)


def test_errors(jsess, script, key):
    with pytest.raises(elliptics.TooLargeError):
        jsess.exec_(key, script + "@spin", limits=elliptics.ExecLimits(steps=100000)).get()
    with pytest.raises(elliptics.TimeoutError):
        jsess.exec_(key, script + "@spin", limits=elliptics.ExecLimits(timeout=0.05)).get()
    with pytest.raises(elliptics.TooLargeError):
        jsess.exec_(key, script + "@big", limits=elliptics.ExecLimits(result_bytes=10)).get()
    (e,) = jsess.exec_(key, script + "@big", limits=elliptics.ExecLimits(result_bytes=100)).get()
    assert e.data == b"x" * 100
    with pytest.raises(elliptics.InvalidError):
        jsess.exec_(key, script + "@fail").get()
    with pytest.raises(elliptics.InvalidError):
        jsess.exec_(key, script + "@nosuchfunction").wait()
    with pytest.raises(elliptics.NotFoundError):
        jsess.exec_(key, "py-missing-" + uuid.uuid4().hex[:8] + "@f").get()
    with pytest.raises(elliptics.InvalidError):
        jsess.exec_(key, "no-function").get()
    # A fan-out fails when every node failed, with the script's error.
    with pytest.raises(elliptics.TooLargeError):
        jsess.exec_(None, script + "@spin", limits=elliptics.ExecLimits(steps=1000)).get()
    with pytest.raises(ValueError):
        elliptics.ExecLimits(timeout=-1)._to_c()
    # No exceptions: the status is in error().
    jsess.exceptions_policy = elliptics.exceptions_policy.no_exceptions
    r = jsess.exec_(key, script + "@fail")
    assert r.get() == [] and not r.successful() and r.error().code == -22


def test_run_jobs_spread(one_group):
    n = one_group.node()
    s = elliptics.Session(n)
    s.groups = [1]
    name = "py-" + uuid.uuid4().hex[:12]
    s.put_script(name, SCRIPT)
    keys = ["job-%s-%d" % (name, i) for i in range(200)]
    calls = []
    lock = threading.Lock()

    def progress(done, total):
        with lock:
            calls.append((done, total))

    results = s.run_jobs(name + "@incr", keys, concurrency=8, progress=progress)
    assert len(results) == 200
    assert [r.key for r in results] == keys
    assert all(r.error.code == 0 and r.data == b"1" for r in results)
    assert len({_port(r.address) for r in results}) > 1
    assert len(calls) == 200 and calls[-1] == (200, 200)
    assert s.read_data(keys[17]).get()[0].data == b"1"
    # Failed jobs are entries, not exceptions.
    bad = s.run_jobs(name + "@fail", keys[:3])
    assert [r.error.code for r in bad] == [-22, -22, -22]

    # A raising progress stops the jobs and is raised.
    def stop(done, total):
        raise RuntimeError("enough")

    with pytest.raises(RuntimeError):
        s.run_jobs(name + "@incr", keys, concurrency=2, progress=stop)
    s.remove_script(name)
    s.close()
    n.close()


def test_asyncio(jsess, script, key):
    async def main():
        (e,) = await jsess.exec_(key, script + "@incr")
        entries = await asyncio.gather(*(jsess.exec_(None, script + "@where") for _ in range(3)))
        with pytest.raises(elliptics.InvalidError):
            await jsess.exec_(key, script + "@fail")
        return e, entries

    e, entries = asyncio.run(main())
    assert e.data == b"1" and [len(x) for x in entries] == [3, 3, 3]
