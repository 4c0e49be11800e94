"""Issue 6's data operations through the Python binding: writes with
offsets, appends, lifetimes, compare-and-swap and chunked uploads; ID range
reads and removes; server-side iterators; copying with server_send."""

import hashlib
import os
import threading
import time
import uuid

import pytest

import elliptics


def read(session, key):
    return session.read_data(key).get()[0].data


def test_offsets(session, key):
    session.write_data(key, b"55555").get()
    session.write_data(key, b"43210", 1).get()
    assert read(session, key) == b"543210"


def test_append_io_flag(session, key):
    session.write_data(key, b"abc").get()
    s = session.clone()
    s.ioflags = elliptics.io_flags.append
    s.write_data(key, b"def").get()
    s.write_data(key, b"ghi").get()
    assert read(session, key) == b"abcdefghi"


def test_ttl_visible_then_gone(session, key):
    before = time.time()
    entries = session.write_data(key, b"short-lived", ttl=1.5).get()
    assert len(entries) == 3
    e = session.read_data(key).get()[0]
    assert e.data == b"short-lived"
    assert e.expire is not None and before < float(e.expire) < before + 10
    other = "pytest-" + uuid.uuid4().hex
    session.write_data(other, b"forever").get()
    assert session.read_data(other).get()[0].expire is None
    time.sleep(2)
    with pytest.raises(elliptics.NotFoundError):
        session.read_data(key).get()
    assert read(session, other) == b"forever"
    with pytest.raises(ValueError):
        session.write_data(key, b"x", ttl=-1)


def test_write_cache_lifetime(session, key):
    session.write_cache(key, b"cached", 60).get()
    e = session.read_data(key).get()[0]
    assert e.data == b"cached" and e.expire is not None


def test_cas_checksum(session, key):
    session.write_data(key, b"v1").get()
    with pytest.raises(elliptics.Error) as ei:
        session.write_cas(key, b"v2", elliptics.Id(b"\x01" * 64)).get()
    assert ei.value.code == -77
    assert isinstance(ei.value, elliptics.CompareAndSwapError)
    assert read(session, key) == b"v1"
    csum = elliptics.Id(hashlib.sha512(b"v1").digest())
    session.write_cas(key, b"v2", csum).get()
    assert read(session, key) == b"v2"
    # 64 raw bytes and an offset.
    session.write_cas(key, b"X", hashlib.sha512(b"v2").digest(), 1).get()
    assert read(session, key) == b"vX"


def test_cas_diverged_groups_converge(session, key):
    """Replicas holding different values: the first group decides the
    compare-and-swap and the others take its outcome."""
    for g, v in ((1, b"a"), (2, b"b"), (3, b"c")):
        one = session.clone()
        one.groups = [g]
        one.write_data(key, v).get()

    def values():
        out = []
        for g in (1, 2, 3):
            one = session.clone()
            one.groups = [g]
            out.append(one.read_data(key).get()[0].data)
        return out

    # Only a secondary holds this value: refused, nothing changes.
    with pytest.raises(elliptics.CompareAndSwapError):
        session.write_cas(key, b"new", hashlib.sha512(b"b").digest()).get()
    assert values() == [b"a", b"b", b"c"]
    # The primary's value: every group ends with the new one.
    entries = session.write_cas(key, b"new", hashlib.sha512(b"a").digest()).get()
    assert sorted(e.group_id for e in entries if e.status == 0) == [1, 2, 3]
    assert values() == [b"new", b"new", b"new"]


def test_cas_converter_retries(session, key):
    """Concurrent converters lose no update: each retries on -77. (One
    group: with several, each checks the condition on its own.)"""
    session = session.clone()
    session.groups = [1]
    session.write_data(key, b"0").get()
    calls = []

    def incr(cur):
        calls.append(cur)
        return str(int(cur) + 1).encode()

    results = []
    threads = [
        threading.Thread(target=lambda: results.append(session.write_cas(key, incr, count=50).get()))
        for _ in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 6
    assert read(session, key) == b"6"
    assert len(calls) >= 6


def test_cas_converter_forms(session, key):
    # An absent key: the converter gets b"" and the write is conditional on absence.
    session.write_cas(key, lambda cur: cur + b"+").get()
    session.write_cas(key, lambda cur: cur + b"+", 0, 3).get()  # positional remote_offset, count
    assert read(session, key) == b"++"
    session.write_cas(key, lambda cur: "str", remote_offset=0, count=2).get()
    assert read(session, key) == b"str"

    def boom(cur):
        raise RuntimeError("converter failed")

    with pytest.raises(elliptics.InvalidError):
        session.write_cas(key, boom).get()
    assert read(session, key) == b"str"


def test_cas_converter_gives_up(session, key):
    """A converter that changes the value behind its own back never wins."""
    session.write_data(key, b"a").get()
    other = session.clone()

    def meddle(cur):
        other.write_data(key, cur + b"!").get()
        return b"mine"

    with pytest.raises(elliptics.CompareAndSwapError) as ei:
        session.write_cas(key, meddle, count=3).get()
    assert ei.value.code == -77
    assert read(session, key) == b"a!!!"


def test_prepare_plain_commit(session, key):
    session.write_prepare(key, b"01234", 0, 10).get()
    with pytest.raises(elliptics.NotFoundError):
        session.read_data(key).get()
    session.write_plain(key, b"56", 5).get()
    with pytest.raises(elliptics.NotFoundError):
        session.lookup(key).get()
    session.write_commit(key, b"789", 7, 10).get()
    assert read(session, key) == b"0123456789"


def _range_keys(session, n, prefix=None, value=lambda i: b"value-%d" % i):
    """n raw keys sharing a random 8-byte prefix, written to group 1, and
    the Range of that prefix."""
    prefix = prefix or os.urandom(8)
    ids = [elliptics.Id(prefix + bytes([i]) + b"\0" * 54 + b"\x01") for i in range(n)]
    s = session.clone()
    s.groups = [1]
    for i, oid in enumerate(ids):
        s.write_data(oid, value(i)).get()
    r = elliptics.Range(elliptics.Id(prefix), elliptics.Id(prefix + b"\xff" * 56), group_id=1)
    return s, ids, r


def test_range_limits_and_remove(session):
    s, ids, r = _range_keys(session, 16)
    entries = s.read_data_range(r).get()
    assert [e.id.to_bytes() for e in entries] == [i.to_bytes() for i in ids]
    assert [e.data for e in entries] == [b"value-%d" % i for i in range(16)]
    r.limit_start, r.limit_num = 3, 14
    entries = s.read_data_range(r).get()
    assert len(entries) == 13
    assert entries[0].data == b"value-3"
    r.ioflags = elliptics.io_flags.nodata
    counted = s.read_data_range(r).get()
    assert len(counted) == 1 and counted[0].count == 13 and counted[0].io_attribute.num == 13
    # Part of each value.
    part = elliptics.Range(r.start, r.end, offset=6, size=1, group_id=1)
    assert [e.data for e in s.read_data_range(part).get()][:3] == [b"0", b"1", b"2"]

    whole = elliptics.Range(r.start, r.end, group_id=1)
    removed = s.remove_data_range(whole).get()
    assert sum(e.io_attribute.num for e in removed) == 16
    assert sum(e.count for e in s.remove_data_range(whole).get()) == 0
    with pytest.raises(elliptics.NotFoundError):
        s.read_data(ids[0]).get()
    with pytest.raises(TypeError):
        s.read_data_range("not a range")


@pytest.fixture(scope="module")
def jnode(joined_cluster):
    n = joined_cluster.node()
    yield n
    n.close()


@pytest.fixture
def jsession(jnode):
    s = elliptics.Session(jnode)
    s.groups = [1, 2, 3]
    yield s
    s.close()


def test_iterator_pause_continue(jsession, joined_cluster):
    big = b"v" * (256 << 10)
    s, ids, r = _range_keys(jsession, 48, value=lambda i: big)
    addr = joined_cluster.daemons[1].addr
    it = s.start_iterator(
        elliptics.Address.from_host_port(addr),
        [elliptics.IteratorRange(r.start, r.end)],
        elliptics.iterator_types.network,
        elliptics.iterator_flags.data,
        backend_id=0,
        window=1,
    )
    stream = iter(it)
    first = next(stream)
    assert isinstance(first, elliptics.IteratorResultEntry)
    assert first.response.key.to_bytes() == ids[0].to_bytes()
    assert first.response_data == big and first.response.size == len(big)
    assert first.response.total_keys >= 48 and first.response.status == 0
    assert first.response.timestamp.tsec > 0
    iterator_id = first.id
    # The reader holds back, so the node waits; pause it (by address).
    s.pause_iterator(first.address, iterator_id).get()
    time.sleep(0.2)
    p1 = s.pause_iterator(first.address, iterator_id).get()[0].response.iterated_keys
    time.sleep(0.3)
    p2 = s.pause_iterator(first.address, iterator_id).get()[0].response.iterated_keys
    assert p1 == p2 < 48
    s.continue_iterator(first.address, iterator_id).get()
    rest = list(stream)
    assert len(rest) == 47
    assert [e.response.key.to_bytes() for e in rest] == [i.to_bytes() for i in ids[1:]]
    assert all(e.id == iterator_id for e in rest)
    with pytest.raises(elliptics.NotFoundError):
        s.continue_iterator(first.address, iterator_id).get()

    # Cancel: the result ends early without an error.
    it = s.start_iterator(
        elliptics.Address.from_host_port(addr),
        [(r.start, r.end)],
        flags=elliptics.iterator_flags.data,
        backend_id=0,
        window=1,
    )
    stream = iter(it)
    first = next(stream)
    s.cancel_iterator(first.address, first.id).get()
    assert 1 + len(list(stream)) < 48
    s.remove_data_range(r).get()


def test_iterator_by_id_and_time(jsession):
    s, ids, r = _range_keys(jsession, 5)
    # By route ID: the owner of ids[0] in group 1.
    entries = s.start_iterator(elliptics.Id(ids[0].to_bytes(), 1), [(r.start, r.end)]).get()
    assert [e.response.key.to_bytes() for e in entries] == [i.to_bytes() for i in ids]
    assert all(e.response_data == b"" for e in entries)
    assert entries[-1].response.iterated_keys >= 5
    nometa = s.start_iterator(ids[0], [(r.start, r.end)], flags=elliptics.iterator_flags.no_meta).get()
    assert all(e.response.timestamp == elliptics.Time(0, 0) for e in nometa)
    future = s.start_iterator(ids[0], [(r.start, r.end)], time_begin=time.time() + 3600).get()
    assert future == []
    past = s.start_iterator(ids[0], [(r.start, r.end)], time_begin=elliptics.Time(0, 0), time_end=time.time() + 60)
    assert len(past.get()) == 5
    with pytest.raises(elliptics.Error):
        s.start_iterator(ids[0], [], elliptics.iterator_types.disk)
    s.remove_data_range(r).get()


def test_copy_iterator_and_server_send(jsession):
    s, ids, r = _range_keys(jsession, 4)
    g2 = jsession.clone()
    g2.groups = [2]
    g3 = jsession.clone()
    g3.groups = [3]
    # server_send: keys 0 and 1 to group 2; key 2 is newer there and stays.
    g2.timestamp = elliptics.Time(int(time.time()) + 3600, 0)
    g2.write_data(ids[2], b"newer").get()
    s.filter = elliptics.filters.all
    s.exceptions_policy = elliptics.exceptions_policy.no_exceptions
    res = s.server_send(ids[:3], 0, [2])
    entries = res.get()
    assert res.error().code == -77
    assert sorted((e.key_index, e.group_id, e.status) for e in entries) == [(0, 2, 0), (1, 2, 0), (2, 2, -77)]
    assert read(g2, ids[0]) == b"value-0"
    assert read(g2, ids[2]) == b"newer"
    s.exceptions_policy = elliptics.exceptions_policy.default_exceptions
    s.server_send([ids[2]], elliptics.iterator_flags.overwrite, [2]).get()
    assert read(g2, ids[2]) == b"value-2"

    # A copy iterator moves every record of the range to group 3.
    entries = s.start_copy_iterator(ids[0], [(r.start, r.end)], [3], elliptics.iterator_flags.move).get()
    assert len(entries) == 4 and all(e.group_id == 3 and e.status == 0 for e in entries)
    assert read(g3, ids[3]) == b"value-3"
    with pytest.raises(elliptics.NotFoundError):
        s.read_data(ids[3]).get()
    g2.remove_data_range(elliptics.Range(r.start, r.end, group_id=2)).get()
    g3.remove_data_range(elliptics.Range(r.start, r.end, group_id=3)).get()
