"""Checkers, filters and failures with one group's daemon killed (SIGKILL)."""

import signal
import time

import pytest

import elliptics


@pytest.fixture
def degraded(fresh_cluster):
    """A node on three daemons, and the daemon of group 3 killed."""
    n = fresh_cluster.node(wait_timeout=5)
    s = elliptics.Session(n)
    s.groups = [1, 2, 3]
    s.write_data("before-kill", b"all three").get()
    fresh_cluster.daemons[3].kill()
    yield n, s, fresh_cluster
    s.close()
    n.close()


def test_at_least_one_succeeds_with_a_group_down(degraded):
    _, s, cluster = degraded
    s.set_checker(elliptics.checkers.at_least_one)
    t0 = time.monotonic()
    entries = s.write_data("k", b"v").get()
    assert time.monotonic() - t0 < 5  # a dead node fails fast, not at the timeout
    assert sorted(e.group_id for e in entries) == [1, 2]  # positive filter: successes only
    assert all(e.status == 0 for e in entries)
    s.set_filter(elliptics.filters.all)
    r = s.write_data("k", b"v2")
    entries = r.get()
    assert sorted(e.group_id for e in entries) == [1, 2, 3]
    bad = [e for e in entries if e.group_id == 3][0]
    assert bad.status < 0 and bad.error.code == bad.status and bad.error.message
    assert r.successful()
    s.set_filter(elliptics.filters.negative)
    entries = s.write_data("k", b"v3").get()
    assert [e.group_id for e in entries] == [3]


def test_all_fails_with_the_checker_error(degraded):
    _, s, _ = degraded
    s.set_checker(elliptics.checkers.all)
    with pytest.raises(elliptics.Error) as ei:
        s.write_data("k-all", b"v").get()
    e = ei.value
    # 2 of 3 succeeded: no group's error explains it, so the checker's ENXIO
    assert isinstance(e, elliptics.NoRouteError)
    assert e.code == -6
    assert e.message.endswith(": No such device or address: -6")
    # the written replicas are still readable from the live groups
    s.set_checker(elliptics.checkers.at_least_one)
    assert s.read_data("k-all").get()[0].data == b"v"


def test_quorum_and_no_check(degraded):
    _, s, _ = degraded
    s.set_checker(elliptics.checkers.quorum)  # 2 of 3 > 3/2
    assert len(s.write_data("k-q", b"v").get()) == 2
    s.groups = [1, 3]  # 1 of 2 is not a quorum
    with pytest.raises(elliptics.Error) as ei:
        s.write_data("k-q2", b"v").get()
    assert ei.value.code < 0
    s.set_checker(elliptics.checkers.no_check)
    s.groups = [3]
    r = s.write_data("k-nc", b"v")
    assert r.successful() and r.get() == []  # no success, but no check either


def test_reads_fall_over_to_live_groups(degraded):
    _, s, _ = degraded
    s.groups = [3, 1, 2]
    e = s.read_data("before-kill").get()[0]
    assert e.data == b"all three" and e.group_id == 1
    s.groups = [3]
    with pytest.raises(elliptics.Error) as ei:
        s.read_data("before-kill").get()
    assert not isinstance(ei.value, elliptics.NotFoundError)
    assert ei.value.code < 0


def test_timeout_error_on_a_stopped_daemon(fresh_cluster):
    n = fresh_cluster.node()
    s = elliptics.Session(n)
    s.groups = [2]
    s.write_data("k", b"v").get()
    s.timeout = 1
    fresh_cluster.daemons[2].signal(signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        with pytest.raises(elliptics.TimeoutError) as ei:
            s.read_data("k").get()
        took = time.monotonic() - t0
        assert 0.8 < took < 4
        assert ei.value.code == -110
        assert isinstance(ei.value, TimeoutError)  # the builtin too
    finally:
        fresh_cluster.daemons[2].signal(signal.SIGCONT)
    s.close()
    n.close()
