"""The GIL is released while a call waits; results work across threads."""

import signal
import threading
import time

import elliptics


def test_gil_released_while_waiting(fresh_cluster):
    n = fresh_cluster.node()
    s = elliptics.Session(n)
    s.groups = [1]
    s.write_data("k", b"v").get()
    s.timeout = 2
    fresh_cluster.daemons[1].signal(signal.SIGSTOP)  # the read will wait for its 2 s timeout
    stamps = []
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            stamps.append(time.monotonic())
            time.sleep(0.001)

    t = threading.Thread(target=spin)
    try:
        t.start()
        time.sleep(0.05)
        t0 = time.monotonic()
        r = s.read_data("k")
        ok = r.successful()  # blocks in ell_async_wait (slices of 500 ms)
        t1 = time.monotonic()
    finally:
        stop.set()
        t.join()
        fresh_cluster.daemons[1].signal(signal.SIGCONT)
    assert not ok and r.error().code == -110
    assert t1 - t0 > 1.5
    during = [x for x in stamps if t0 <= x <= t1]
    # the other thread ran all along: with the GIL held during the C wait it
    # would have stalled for a whole 500 ms slice at a time
    assert len(during) > 100
    gaps = [b - a for a, b in zip(during, during[1:])]
    assert max(gaps) < 0.2, max(gaps)
    s.close()
    n.close()


def test_many_threads_share_a_session(session):
    errors = []

    def worker(n):
        try:
            for i in range(20):
                k = "thread-%d-%d" % (n, i)
                session.write_data(k, k.encode()).get()
                assert session.read_data(k).get()[0].data == k.encode()
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors


def test_one_result_consumed_by_two_threads(session, key):
    session.write_data(key, b"shared").get()
    r = session.read_data(key)
    out = []
    ts = [threading.Thread(target=lambda: out.append(r.get()[0].data)) for _ in range(4)]
    for t in ts:
        t.start()
    out.append(next(iter(r)).data)
    for t in ts:
        t.join(10)
    assert out == [b"shared"] * 5
