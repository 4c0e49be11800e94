"""Data calls against three real daemons (groups 1, 2, 3)."""

import os
import threading
import time
import uuid

import pytest

import elliptics


def test_write_read_round_trip(session, key, cluster):
    entries = session.write_data(key, b"hello world").get()
    assert sorted(e.group_id for e in entries) == [1, 2, 3]
    addrs = {e.group_id: e.address.host_port() for e in entries}
    assert addrs == {g: cluster.daemons[g].addr for g in (1, 2, 3)}
    for e in entries:
        assert e.status == 0 and e.error.code == 0 and not e.error
        assert e.size == 11
        assert e.timestamp > elliptics.Time(0, 0)
    r = session.read_data(key).get()
    assert len(r) == 1
    assert r[0].data == b"hello world"
    assert r[0].group_id == 1  # reads try groups in session order
    assert r[0].size == 11 and r[0].total_size == 11 and r[0].offset == 0
    assert r[0].id.id == session.transform(key).id and r[0].id.group_id == 1


def test_offset_and_size(session, key):
    session.write_data(key, b"0123456789").get()
    assert session.read_data(key, 3, 4).get()[0].data == b"3456"
    assert session.read_data(key, 7).get()[0].data == b"789"
    session.write_data(key, b"AB", 2).get()  # partial overwrite
    assert session.read_data(key).get()[0].data == b"01AB456789"


def test_lookup(session, key, cluster):
    session.write_data(key, b"x" * 1000).get()
    e = session.lookup(key).get()[0]
    assert e.size == 1000 or e.total_size == 1000
    assert e.address.host_port() == cluster.daemons[1].addr
    assert e.timestamp.tsec > 0


def test_binary_data_with_nul_bytes(session, key):
    data = bytes(range(256)) * 16 + b"\0\0\0"
    session.write_data(key, data).get()
    got = session.read_data(key).get()[0].data
    assert got == data and len(got) == 4099


def test_binary_and_bytes_keys(session):
    k = b"\x00bin\xffkey\x00" + uuid.uuid4().bytes
    session.write_data(k, b"v1").get()
    assert session.read_data(k).get()[0].data == b"v1"
    assert session.transform(k) != session.transform(k[:-1])


def test_unicode_keys(session):
    k = "ключ-ключ-鍵-🔑-" + uuid.uuid4().hex
    session.write_data(k, "значение 🔑").get()  # str data is UTF-8 encoded
    assert session.read_data(k).get()[0].data == "значение 🔑".encode()
    # a str key and its UTF-8 bytes are the same key
    assert session.read_data(k.encode("utf-8")).get()[0].data == "значение 🔑".encode()


def test_id_keys(session, key):
    i = session.transform(key)
    session.write_data(i, b"by id").get()
    assert session.read_data(key).get()[0].data == b"by id"
    assert session.read_data(elliptics.Id(i.id, 2)).get()[0].data == b"by id"


def test_remove_then_not_found(session, key):
    session.write_data(key, b"bye").get()
    removed = session.remove(key).get()
    assert sorted(e.group_id for e in removed) == [1, 2, 3]
    with pytest.raises(elliptics.NotFoundError) as ei:
        session.read_data(key).get()
    assert ei.value.code == -2
    assert ei.value.message.endswith(": No such file or directory: -2")
    with pytest.raises(elliptics.NotFoundError):
        session.lookup(key).get()


def test_missing_key_raises_not_found(session, key):
    with pytest.raises(elliptics.NotFoundError) as ei:
        session.read_data(key).get()
    e = ei.value
    assert isinstance(e, elliptics.Error)
    assert e.code == -2 and e.info.code == -2


def test_exceptions_policy(session, key):
    session.exceptions_policy = elliptics.exceptions_policy.no_exceptions
    assert session.get_exceptions_policy() == elliptics.exceptions_policy.no_exceptions
    r = session.read_data(key)
    assert r.get() == []  # no raise
    assert not r.successful()
    assert r.error().code == -2
    assert r.error().message.endswith(": -2")
    r.wait()  # no raise either
    assert list(r) == []
    # throw_at_wait only: wait raises, get does not
    session.exceptions_policy = elliptics.exceptions_policy.throw_at_wait
    r = session.read_data(key)
    with pytest.raises(elliptics.NotFoundError):
        r.wait()
    assert r.get() == []
    # throw_at_iterator_end only
    session.set_exceptions_policy(elliptics.exceptions_policy.throw_at_iterator_end)
    with pytest.raises(elliptics.NotFoundError):
        for _ in session.read_data(key):
            pass
    # the default raises at get
    session.exceptions_policy = elliptics.exceptions_policy.default_exceptions
    with pytest.raises(elliptics.NotFoundError):
        session.read_data(key).get()


def test_throw_at_start(node):
    s = elliptics.Session(node)
    s.groups = [1]
    # an empty key is refused when the call starts: raised there with throw_at_start ...
    s.exceptions_policy = elliptics.exceptions_policy.throw_at_start
    with pytest.raises(elliptics.InvalidError) as ei:
        s.write_data("", b"x")
    assert ei.value.code == -22
    # ... else carried by the result, raised at get() by the default policy
    s.exceptions_policy = elliptics.exceptions_policy.default_exceptions
    r = s.write_data("", b"x")
    assert r.ready() and r.error().code == -22
    with pytest.raises(elliptics.InvalidError):
        r.get()
    with pytest.raises(TypeError):
        s.write_data(12345, b"x")  # not a key: a Python-side error
    s.close()
    with pytest.raises(elliptics.InvalidError):
        s.write_data("k", b"x")  # a closed session


def test_closed_node_cancels(cluster, key):
    n = cluster.node()
    s = elliptics.Session(n)
    s.groups = [1, 2, 3]
    s.write_data(key, b"x").get()
    n.close()
    n.close()  # idempotent
    with pytest.raises(elliptics.Error) as ei:
        s.read_data(key).get()
    assert ei.value.code == -125 and isinstance(ei.value, elliptics.CancelledError)
    s.close()


def test_no_route(session, key):
    session.groups = [99]
    with pytest.raises(elliptics.NoRouteError) as ei:
        session.write_data(key, b"x").get()
    assert ei.value.code == -6


def test_namespaces(node, key):
    a = elliptics.Session(node)
    b = elliptics.Session(node)
    a.groups = b.groups = [1, 2, 3]
    a.set_namespace("ns-a")
    b.namespace = "ns-b"
    assert a.namespace == "ns-a" and b.get_namespace() == "ns-b"
    assert a.transform(key) != b.transform(key)
    a.write_data(key, b"in a").get()
    b.write_data(key, b"in b").get()
    assert a.read_data(key).get()[0].data == b"in a"
    assert b.read_data(key).get()[0].data == b"in b"
    plain = elliptics.Session(node)
    plain.groups = [1, 2, 3]
    with pytest.raises(elliptics.NotFoundError):
        plain.read_data(key).get()


def test_groups_and_read_order(node, key):
    s = elliptics.Session(node)
    s.groups = [2]
    s.write_data(key, b"only in 2").get()
    s.add_groups([1, 2])
    assert s.groups == [1, 2]
    e = s.read_data(key).get()[0]  # group 1 misses it, group 2 answers
    assert e.data == b"only in 2" and e.group_id == 2
    assert s.read_data_from_groups(key, [2]).get()[0].group_id == 2
    with pytest.raises(elliptics.NotFoundError):
        s.read_data_from_groups(key, [1, 3]).get()


def test_read_latest(node, key):
    s = elliptics.Session(node)
    s.groups = [1, 2, 3]
    s.timestamp = elliptics.Time(1000, 0)
    s.write_data(key, b"old").get()
    s2 = s.clone()
    s2.groups = [3]
    s2.timestamp = elliptics.Time(2000, 0)
    s2.write_data(key, b"new").get()
    assert s.read_data(key).get()[0].data == b"old"  # group 1 first
    latest = s.read_latest(key).get()[0]
    assert latest.data == b"new" and latest.group_id == 3
    assert latest.timestamp == elliptics.Time(2000, 0)


def test_settings_round_trip(session):
    session.timeout = 7
    assert session.timeout == 7 and session.get_timeout() == 7
    session.set_timeout(1.5)
    assert session.timeout == 1.5
    session.cflags = elliptics.command_flags.direct
    assert session.cflags == elliptics.command_flags.direct
    session.ioflags = elliptics.io_flags.nocsum
    assert session.get_ioflags() == elliptics.io_flags.nocsum
    session.user_flags = 2**64 - 1
    assert session.user_flags == 2**64 - 1
    session.trace_id = 0xABCDEF
    assert session.get_trace_id() == 0xABCDEF
    session.trace_bit = True
    assert session.trace_bit and session.cflags & elliptics.command_flags.trace_bit
    session.timestamp = elliptics.Time(12, 34)
    assert session.timestamp == elliptics.Time(12, 34)
    session.set_checker(elliptics.checkers.quorum)
    assert session.get_checker() == elliptics.checkers.quorum
    session.set_filter(elliptics.filters.all)
    assert session.get_filter() == elliptics.filters.all
    with pytest.raises(elliptics.InvalidError):
        session.set_checker(99)
    clone = session.clone()
    assert clone.groups == [1, 2, 3] and clone.user_flags == 2**64 - 1
    assert clone.get_checker() == elliptics.checkers.quorum
    clone.groups = [1]
    assert session.groups == [1, 2, 3]  # independent


def test_user_flags_and_timestamp_are_stored(session, key):
    session.user_flags = 0x1234
    session.timestamp = elliptics.Time(1_500_000_000, 42)
    session.write_data(key, b"x").get()
    e = session.read_data(key).get()[0]
    assert e.user_flags == 0x1234
    assert e.timestamp == elliptics.Time(1_500_000_000, 42)


def test_routes(session, cluster):
    routes = session.routes
    assert routes.groups() == [1, 2, 3]
    addrs = sorted(a.host_port() for a in routes.addresses())
    assert addrs == sorted(cluster.addrs)
    g2 = routes.filter_by_group(2)
    assert len(g2) > 0 and g2.groups() == [2]
    assert [a.host_port() for a in g2.addresses()] == [cluster.daemons[2].addr]
    a1 = elliptics.Address.from_host_port(cluster.daemons[1].addr)
    assert routes.get_address_groups(a1) == [1]
    assert routes.filter_by_address(a1).groups() == [1]
    pct = routes.percentages()
    assert abs(sum(pct[3].values()) - 100.0) < 1e-6
    assert session.state_num() == 3


def test_lookup_address(session, key, cluster):
    for g in (1, 2, 3):
        a = session.lookup_address(key, g)
        assert a.host_port() == cluster.daemons[g].addr
    entries = session.write_data(key, b"x").get()
    assert {e.group_id: e.address for e in entries} == {g: session.lookup_address(key, g) for g in (1, 2, 3)}


def test_iteration_and_result_api(session, key):
    r = session.write_data(key, b"abc")
    seen = [e.group_id for e in r]
    assert sorted(seen) == [1, 2, 3]
    assert r.ready() and r.successful() and r.error().code == 0
    assert r.get() and len(r.get()) == 3  # get after iteration: the same entries
    assert r.elapsed_time() < elliptics.Time(60, 0)
    assert r.end_time() >= r.start_time()


def test_connect(session, key):
    got = []
    done = threading.Event()
    final = []
    r = session.write_data(key, b"cb")
    r.connect(lambda e: got.append(e.group_id), lambda err: (final.append(err), done.set()))
    assert done.wait(10)
    assert sorted(got) == [1, 2, 3] and final[0].code == 0
    done.clear()
    both = []
    session.read_data(key + "-missing").connect(lambda entries, err: (both.append((entries, err)), done.set()))
    assert done.wait(10)
    assert both[0][0] == [] and both[0][1].code == -2


def test_large_value_100mib(session, key):
    data = os.urandom(1 << 20) * 100  # 100 MiB
    session.timeout = 120
    session.groups = [1]
    t0 = time.monotonic()
    w = session.write_data(key, data).get()
    assert w[0].size == len(data)
    got = session.read_data(key).get()[0]
    assert got.size == len(data) and got.total_size == len(data)
    assert got.data == data
    assert time.monotonic() - t0 < 120
    session.remove(key).get()


def test_handles_freed(node, key):
    # close() twice, context managers, results outlive their session
    with elliptics.Session(node) as s:
        s.groups = [1]
        r = s.write_data(key, b"v")
    assert r.get()[0].size == 1  # completed after the session closed
    assert r._handle == 0  # freed as soon as complete and copied
    assert s._handle == 0
    s.close()
    with pytest.raises(elliptics.InvalidError):
        s.groups = [1]
    # many results dropped without get(): freed by __del__ without trouble
    s2 = elliptics.Session(node)
    s2.groups = [1]
    for _ in range(200):
        s2.read_data(key)
    res = s2.read_data(key)
    res.close()
    res.close()
    assert res.ready()
    assert s2.read_data(key).get()[0].data == b"v"


def test_result_keeps_its_session_and_node_alive(cluster, key):
    import gc
    import weakref

    def start():
        n = cluster.node()
        s = elliptics.Session(n)
        s.groups = [1, 2, 3]
        return s.write_data(key, b"kept"), weakref.ref(n)

    r, node_ref = start()
    gc.collect()
    assert node_ref() is not None  # held by the running call
    assert [e.size for e in r.get()] == [4, 4, 4]  # not cancelled
    gc.collect()
    assert node_ref() is None  # released (and closed) once the call completed
