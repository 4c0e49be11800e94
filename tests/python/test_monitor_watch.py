"""Statistics (monitor_stat) and watches (NOTIFY) from Python, against three real nodes."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import elliptics


@pytest.fixture
def jsess(joined_cluster):
    n = joined_cluster.node()
    s = elliptics.Session(n)
    s.groups = [1, 2, 3]
    yield s
    s.close()
    n.close()


def _writes(entries) -> int:
    total = 0
    for e in entries:
        w = e.statistics.get("commands", {}).get("WRITE", {})
        total += w.get("storage", {}).get("count", 0)
    return total


def test_monitor_stat_every_node(jsess, joined_cluster, key):
    before = _writes(jsess.monitor_stat(categories=elliptics.monitor_stat_categories.commands).get())
    for i in range(5):
        jsess.write_data("%s-%d" % (key, i), b"x").get()
    result = jsess.monitor_stat(categories=elliptics.monitor_stat_categories.commands)
    entries = result.get()
    assert result.successful() and len(entries) == 3
    assert sorted(e.address.port for e in entries) == sorted(int(a.rsplit(":", 1)[1]) for a in joined_cluster.addrs)
    for e in entries:
        assert e.status == 0 and e.statistics["monitor_status"] == "enabled"
        assert "commands" in e.statistics and "backends" not in e.statistics
    # Each write went to three groups, one node each.
    assert _writes(entries) - before == 15


def test_monitor_stat_one_node_all_categories(jsess, joined_cluster):
    a = joined_cluster.addrs[0]
    (e,) = jsess.monitor_stat(a).get()
    assert e.address.port == int(a.rsplit(":", 1)[1])
    for section in ("commands", "backends", "io", "stats", "procfs", "recovery"):
        assert section in e.statistics, section
    (b,) = e.statistics["backends"].values()
    assert b["state"] == "enabled" and b["group"] == 1

    async def main():
        return await jsess.monitor_stat(a, elliptics.monitor_stat_categories.backend)

    (e2,) = asyncio.run(main())
    assert "backends" in e2.statistics


def _next_of(w: elliptics.Watcher, kind: elliptics.watch_kinds, timeout: float = 10) -> elliptics.WatchEvent:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ev = w.next(timeout=0.5)
        if ev is not None and ev.kind == kind:
            return ev
    raise AssertionError("no %s event" % kind.name)


def test_watch_sees_writes_and_removes(jsess, key):
    with jsess.watch(key) as w:
        started = {_next_of(w, elliptics.watch_kinds.started).group_id for _ in range(3)}
        assert started == {1, 2, 3}
        jsess.write_data(key, b"hello").get()
        ev = _next_of(w, elliptics.watch_kinds.write)
        assert ev.size == 5 and ev.id == jsess.transform(key) and ev.group_id in (1, 2, 3)
        assert ev.timestamp.tsec > 0
        jsess.remove(key).get()
        assert _next_of(w, elliptics.watch_kinds.remove).id == jsess.transform(key)
    with pytest.raises(elliptics.CancelledError):
        w.next(timeout=0.1)


def test_watch_iterates_and_closes_from_another_thread(jsess, key):
    w = jsess.watch(key)
    seen = []

    def consume():
        for ev in w:  # ends when the watcher is closed
            seen.append(ev.kind)

    t = threading.Thread(target=consume)
    t.start()
    time.sleep(0.3)
    jsess.write_data(key, b"1").get()
    deadline = time.monotonic() + 10
    while elliptics.watch_kinds.write not in seen and time.monotonic() < deadline:
        time.sleep(0.05)
    w.close()
    t.join(timeout=5)
    assert not t.is_alive()
    assert elliptics.watch_kinds.write in seen


def test_watch_async_for(jsess, key):
    async def main():
        with jsess.watch(key) as w:
            writer = None
            async for ev in w:
                if ev.kind == elliptics.watch_kinds.started and writer is None:
                    writer = asyncio.get_running_loop().run_in_executor(
                        None, lambda: jsess.write_data(key, b"async").get()
                    )
                if ev.kind == elliptics.watch_kinds.write:
                    await writer
                    return ev

    ev = asyncio.run(asyncio.wait_for(main(), 20))
    assert ev.size == 5
