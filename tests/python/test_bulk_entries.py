"""Entries of bulk calls: copied out in one go, attributes filled on first use."""

import copy
import pickle
import uuid

import elliptics


def _read(session, n=5):
    prefix = uuid.uuid4().hex
    datas = {"%s-%d" % (prefix, i): b"v%d" % i * (i + 1) for i in range(n)}
    session.bulk_write(datas).get()
    keys = list(datas)
    return datas, keys, session.bulk_read(keys).get()


def test_set_before_read_keeps_the_new_value(session):
    datas, keys, got = _read(session)
    e = got[0]
    e.data = b"changed"
    e.column = "mine"  # not filled in yet when set
    assert e.data == b"changed"
    assert e.key_index in range(len(keys))
    assert e.address is not None  # fills the rest...
    assert type(e) is elliptics.ResultEntry
    assert (e.data, e.column) == (b"changed", "mine")  # ...keeping what was set


def test_copy_pickle_repr_of_unread_entries(session):
    datas, keys, got = _read(session)
    by_index = {}
    c = copy.copy(got[0])
    p = pickle.loads(pickle.dumps(got[1]))
    assert "ResultEntry" in repr(got[2])
    for e in got:
        by_index[e.key_index] = e
        assert isinstance(e, elliptics.ResultEntry)
        assert e.status == 0 and e.error.code == 0
        assert e.address is not None
    assert c.data == datas[keys[c.key_index]]
    assert p.data == datas[keys[p.key_index]]
    for i, k in enumerate(keys):
        assert by_index[i].data == datas[k]


def test_entries_outlive_the_result(session):
    datas, keys, got = _read(session, 50)
    import gc

    gc.collect()
    assert sorted(e.data for e in got) == sorted(datas.values())


def test_unread_fields_match_a_single_read(session):
    # Every field filled on first use (strings, Address, Time, numbers) is the
    # one a single read of the same key reports; a missing key's entry
    # (filter all) carries its error message.
    datas, keys, _ = _read(session, 4)
    session.set_filter(elliptics.filters.all)
    got = session.bulk_read(keys[:2] + ["missing-" + keys[0]] + keys[2:]).get()
    session.set_filter(elliptics.filters.positive)
    found = [e for e in got if e.status == 0]
    assert len(found) == 4
    for e in found:
        k = (keys[:2] + [None] + keys[2:])[e.key_index]
        one = session.read_data(k).get()[0]
        assert e.data == one.data == datas[k]
        assert (e.address, e.group_id, e.size, e.total_size, e.offset) == (one.address, one.group_id, one.size, one.total_size, one.offset)
        assert (e.timestamp.tsec, e.timestamp.tnsec, e.user_flags, e.column, e.id) == (one.timestamp.tsec, one.timestamp.tnsec, one.user_flags, one.column, one.id)
        assert e.error.code == 0 and e.expire is None
    missing = [e for e in got if e.key_index == 2]
    assert missing and all(e.status == -2 and e.error.code == -2 and e.error.message for e in missing)
    assert all(e.data == b"" for e in missing)
