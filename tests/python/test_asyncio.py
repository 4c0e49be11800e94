"""asyncio: results are awaitable, completions come through the loop's queue."""

import asyncio
import signal
import time
import uuid

import pytest

import elliptics


def test_500_concurrent_writes_and_reads(session):
    prefix = uuid.uuid4().hex
    keys = ["%s-%d" % (prefix, i) for i in range(500)]

    async def main():
        writes = [session.write_data(k, ("value of %s" % k).encode()) for k in keys]
        # every call made inside the loop is posted to the loop's completion queue
        assert all(w._aio is not None for w in writes)
        written = await asyncio.gather(*writes)
        reads = await asyncio.gather(*[session.read_data(k) for k in keys])
        assert not writes[0]._aio.pending  # every completion was drained
        return written, reads

    t0 = time.monotonic()
    written, reads = asyncio.run(main())
    assert time.monotonic() - t0 < 60
    assert len(written) == 500 and all(sorted(e.group_id for e in w) == [1, 2, 3] for w in written)
    assert [r[0].data for r in reads] == [("value of %s" % k).encode() for k in keys]


def test_the_loop_runs_while_a_call_waits(fresh_cluster):
    n = fresh_cluster.node()
    s = elliptics.Session(n)
    s.groups = [1]
    s.write_data("k", b"v").get()
    s.timeout = 1

    async def main():
        ticks = 0
        stop = False

        async def ticker():
            nonlocal ticks
            while not stop:
                ticks += 1
                await asyncio.sleep(0.005)

        t = asyncio.ensure_future(ticker())
        t0 = time.monotonic()
        with pytest.raises(elliptics.TimeoutError):
            await s.read_data("k")  # the daemon is stopped: waits the 1 s timeout
        took = time.monotonic() - t0
        stop = True
        await t
        return ticks, took

    fresh_cluster.daemons[1].signal(signal.SIGSTOP)
    try:
        ticks, took = asyncio.run(main())
    finally:
        fresh_cluster.daemons[1].signal(signal.SIGCONT)
    assert took > 0.8
    assert ticks > 50  # about 200 when the loop is never blocked; 1 if it were
    s.close()
    n.close()


def test_await_raises_by_policy(session, key):
    async def main():
        with pytest.raises(elliptics.NotFoundError) as ei:
            await session.read_data(key)
        assert ei.value.code == -2
        session.exceptions_policy = elliptics.exceptions_policy.no_exceptions
        r = session.read_data(key)
        assert await r == []
        assert r.error().code == -2

    asyncio.run(main())


def test_await_a_result_made_outside_the_loop(session, key):
    r = session.write_data(key, b"made outside")
    assert r._aio is None

    async def main():
        entries = await r  # waited in an executor thread
        assert len(entries) == 3
        return (await session.read_data(key))[0].data

    assert asyncio.run(main()) == b"made outside"


def test_sync_get_inside_the_loop_and_later_await(session, key):
    async def main():
        r = session.write_data(key, b"x")
        assert len(r.get()) == 3  # blocking get works on a queued result
        assert len(await r) == 3
        r2 = session.read_data(key)
        await asyncio.sleep(0.2)  # completion drained before anyone awaits
        return (await r2)[0].data

    assert asyncio.run(main()) == b"x"


def test_several_loops_one_after_another(session, key):
    session.write_data(key, b"loops").get()
    for _ in range(5):
        got = asyncio.run(asyncio.wait_for(_read(session, key), 10))
        assert got == b"loops"


async def _read(session, key):
    return (await session.read_data(key))[0].data


def test_queue_fd_quiet_after_drain(session, key):
    import select

    from elliptics import _aio

    async def main():
        await asyncio.gather(*[session.write_data("%s-%d" % (key, i), b"q") for i in range(20)])
        lq = _aio._queues[asyncio.get_running_loop()]
        fd = int(elliptics._lib.lib.ell_queue_fd(lq.q))
        await asyncio.sleep(0.05)
        return select.select([fd], [], [], 0)[0]

    assert asyncio.run(main()) == []  # drained: the reader does not spin
