"""bulk_write and bulk_read."""

import uuid

import pytest

import elliptics


def test_bulk_write_and_read_100_keys_one_missing(session):
    prefix = uuid.uuid4().hex
    datas = {"%s-%d" % (prefix, i): ("data %d" % i).encode() * (i + 1) for i in range(100)}
    entries = session.bulk_write(datas).get()
    assert len(entries) == 300  # 100 keys x 3 groups
    assert sorted({e.key_index for e in entries}) == list(range(100))
    assert all(e.status == 0 for e in entries)

    keys = list(datas)
    missing = "%s-missing" % prefix
    keys.insert(37, missing)
    got = session.bulk_read(keys).get()
    assert len(got) == 100
    by_index = {e.key_index: e for e in got}
    assert 37 not in by_index
    assert sorted(by_index) == [i for i in range(101) if i != 37]
    for i, k in enumerate(keys):
        if k != missing:
            assert by_index[i].data == datas[k]
            assert by_index[i].id.id == session.transform(k).id

def test_bulk_read_filter_all_reports_the_missing_key(session):
    prefix = uuid.uuid4().hex
    session.bulk_write([(prefix + "-a", b"A"), (prefix + "-b", b"B")]).get()
    session.set_filter(elliptics.filters.all)
    got = session.bulk_read([prefix + "-a", prefix + "-missing", prefix + "-b"]).get()
    neg = [e for e in got if e.status != 0]
    assert neg and all(e.key_index == 1 for e in neg)
    assert any(e.status == -2 for e in neg)
    assert {e.key_index: e.data for e in got if e.status == 0} == {0: b"A", 2: b"B"}

def test_bulk_write_pairs_and_ids(session):
    prefix = uuid.uuid4().hex
    i = session.transform(prefix + "-id")
    pairs = ((k, v) for k, v in [(prefix + "-s", "str"), (i, b"by id"), ((prefix + "-b").encode(), b"bytes")])
    session.bulk_write(pairs).get()
    assert session.read_data(prefix + "-s").get()[0].data == b"str"
    assert session.read_data(prefix + "-id").get()[0].data == b"by id"
    assert session.read_data(prefix + "-b").get()[0].data == b"bytes"

def test_bulk_read_iteration(session):
    prefix = uuid.uuid4().hex
    session.bulk_write({prefix + str(n): b"%d" % n for n in range(20)}).get()
    seen = {e.key_index: e.data for e in session.bulk_read([prefix + str(n) for n in range(20)])}
    assert seen == {n: b"%d" % n for n in range(20)}

def test_empty_bulk_calls(session):
    assert session.bulk_read([]).get() == []
    assert session.bulk_write({}).get() == []


def test_bulk_write_value_kinds(session):
    # Values of every bytes-like kind land whole (a memoryview of 4-byte
    # items: its bytes, not its item count), str values are UTF-8, and keys
    # by name and by Id mix in one call.
    from array import array

    prefix = uuid.uuid4().hex
    values = {
        prefix + "-ba": bytearray(b"byte\0array"),
        prefix + "-mv": memoryview(array("I", [1, 2, 3])),
        prefix + "-empty": b"",
        prefix + "-b": b"x" * 5000,
    }
    session.bulk_write(values).get()
    session.bulk_write({prefix + "-s": "unicodé"}).get()
    session.bulk_write([(session.transform(prefix + "-id"), b"by id"), (prefix + "-n", b"by name")]).get()
    keys = list(values) + [prefix + "-s", prefix + "-id", prefix + "-n"]
    got = {e.key_index: e.data for e in session.bulk_read(keys).get()}
    want = [bytes(v) for v in values.values()] + ["unicodé".encode(), b"by id", b"by name"]
    assert len(want[1]) == 12
    assert got == dict(enumerate(want))


def test_bulk_calls_reject_an_empty_name(session):
    with pytest.raises(elliptics.Error):
        session.bulk_read(["a", ""]).get()
    with pytest.raises(elliptics.Error):
        session.bulk_write({"a": b"1", "": b"2"}).get()


def test_bulk_calls_with_unicode_names(session):
    # Names packed as UTF-8: lengths in bytes, not characters.
    prefix = uuid.uuid4().hex
    datas = {prefix + "-é": b"1", prefix + "-ascii": b"2", prefix + "-日本": b"3"}
    session.bulk_write(datas).get()
    keys = list(datas)
    assert {e.key_index: e.data for e in session.bulk_read(keys).get()} == {0: b"1", 1: b"2", 2: b"3"}
    assert session.read_data(prefix + "-日本").get()[0].data == b"3"
