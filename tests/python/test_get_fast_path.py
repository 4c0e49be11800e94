"""AsyncResult.get() of a single call: wait, status and entries in one C call
(elliptics._speedups.collect), then one hold of the result's lock."""

import signal
import threading
import time

import pytest

import elliptics
from elliptics._result import _SlabEntry


def test_get_returns_every_entry_and_frees_the_handle(session, key):
    session.groups = [2]  # one entry: the library lays it out for _speedups.collect
    r = session.write_data(key, b"fast path")
    got = r.get()
    assert [type(e) for e in got] == [_SlabEntry]  # built in C (fields filled on first use)
    assert [e.group_id for e in got] == [2]
    assert all(e.status == 0 and e.error.code == 0 and e.address is not None for e in got)
    assert all(e.size == len(b"fast path") for e in got)
    assert r._handle == 0  # freed as soon as the entries were copied
    assert r.successful() and r.elapsed_time().tsec * 10**9 + r.elapsed_time().tnsec > 0
    assert r.get() == got  # a second get() returns the same entries

    rd = session.read_data(key).get()
    assert len(rd) == 1 and type(rd[0]) is _SlabEntry
    assert rd[0].data == b"fast path" and rd[0].total_size == len(b"fast path") and rd[0].group_id == 2

    session.groups = [1, 2, 3]  # three entries: copied by _take
    got = session.write_data(key, b"three").get()
    assert sorted(e.group_id for e in got) == [1, 2, 3] and all(e.size == 5 for e in got)


def test_single_get_takes_the_one_call_path(session, key, monkeypatch):
    # The slow path gives the same entries, so only a spy tells them apart:
    # collect must hand back the built list, not None ("take the old path").
    import elliptics._result as result

    returned = []
    real = result._collect

    def spy(*args):
        got = real(*args)
        returned.append(type(got).__name__)
        return got

    monkeypatch.setattr(result, "_collect", spy)
    session.groups = [2]
    session.write_data(key, b"v").get()
    assert session.read_data(key).get()[0].data == b"v"
    assert returned == ["list", "list"]


def test_error_status_is_raised_or_reported(session, key):
    with pytest.raises(elliptics.NotFoundError) as ei:
        session.read_data(key).get()
    assert ei.value.code == -2
    session.exceptions_policy = elliptics.exceptions_policy.no_exceptions
    r = session.read_data(key)
    got = r.get()
    assert r.error().code == -2 and not r.successful()
    assert all(e.status == -2 for e in got)


def test_get_after_partial_iteration_keeps_each_entry_once(session, key):
    r = session.write_data(key, b"v")
    first = next(iter(r))  # one entry taken by iteration: get() must not add it again
    got = r.get()
    assert len(got) == 3 and got[0] is first
    assert sorted(e.group_id for e in got) == [1, 2, 3]


def test_timeout_then_get(fresh_cluster):
    n = fresh_cluster.node()
    s = elliptics.Session(n)
    s.groups = [1]
    s.write_data("k", b"v").get()
    fresh_cluster.daemons[1].signal(signal.SIGSTOP)
    try:
        r = s.read_data("k")
        with pytest.raises(elliptics.TimeoutError):
            r.get(timeout=0.1)
        assert not r.ready()
    finally:
        fresh_cluster.daemons[1].signal(signal.SIGCONT)
    got = r.get()
    assert [e.data for e in got] == [b"v"] and r._handle == 0
    s.close()
    n.close()


def test_close_while_another_thread_waits(fresh_cluster):
    n = fresh_cluster.node()
    s = elliptics.Session(n)
    s.groups = [1]
    s.timeout = 1
    s.write_data("k", b"v").get()
    fresh_cluster.daemons[1].signal(signal.SIGSTOP)
    out = []

    def waiter():
        try:
            out.append(r.get())
        except elliptics.Error as e:
            out.append(e)

    try:
        r = s.read_data("k")
        t = threading.Thread(target=waiter)
        t.start()
        time.sleep(0.2)
        r.close()  # the handle is in use by the waiter: freed when its wait ends
        assert r._handle != 0
        t.join(5)
    finally:
        fresh_cluster.daemons[1].signal(signal.SIGCONT)
    assert not t.is_alive()
    assert len(out) == 1 and isinstance(out[0], elliptics.Error) and out[0].code == -125
    assert r._handle == 0 and r.error().code == -125
    s.close()
    n.close()


def test_collect_rejects_bad_arguments():
    from elliptics import _speedups

    with pytest.raises(TypeError):
        _speedups.collect(1, 0, 1, 1, 1, 1)
    with pytest.raises(ValueError):
        _speedups.collect(1, 0, 0, 0, 0, 0, True)  # NULL out-buffers: never passed to the library
