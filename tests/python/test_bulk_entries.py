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


def test_bulk_write_entries_without_data(session):
    # Write entries carry no data: the block ends with its strings.
    prefix = uuid.uuid4().hex
    datas = {"%s-%d" % (prefix, i): b"w%d" % i * (i + 1) for i in range(6)}
    got = session.bulk_write(datas).get()
    keys = list(datas)
    assert sorted(set(e.key_index for e in got)) == list(range(len(keys)))
    assert len(got) == len(keys) * len(session.groups)
    for e in got:
        assert e.status == 0 and e.data == b""
        assert e.address is not None and e.error.code == 0
        assert e.size == len(datas[keys[e.key_index]])


def test_bulk_read_of_only_missing_keys(session):
    # No entry has data: the block ends with the error messages.
    s = session.clone()
    s.set_filter(elliptics.filters.all)
    s.exceptions_policy = elliptics.exceptions_policy.no_exceptions
    keys = ["missing-%s-%d" % (uuid.uuid4().hex, i) for i in range(3)]
    got = s.bulk_read(keys).get()
    assert sorted(e.key_index for e in got) == [0, 1, 2]
    for e in got:
        assert e.status == -2 and e.data == b""
        assert e.error.code == -2 and "not found" in e.error.message.lower()


def _slab(n, sizes, strs=b"\x00127.0.0.1:1025\x00"):
    """A block laid out as capi's newSlab lays out a bulk call's entries."""
    from elliptics._lib import ffi
    from elliptics import _result

    es = _result._ENTRY_SIZE
    blk = ffi.new("char[]", n * es + len(strs) + sum(sizes) + 16)
    ffi.memmove(blk + n * es, strs, len(strs))
    ents = ffi.new("const ell_entry *[]", n)
    off = n * es + len(strs)
    for i in range(n):
        e = ffi.cast("ell_entry *", blk + i * es)
        ents[i] = e
        e.key_index = i
        e.address = blk + n * es + 1
        e.error = e.path = e.column = blk + n * es
        if sizes[i]:
            e.data = ffi.cast("uint8_t *", blk + off)
            e.data_size = sizes[i]
            ffi.memmove(e.data, bytes([65 + i]) * sizes[i], sizes[i])
            off += sizes[i]
    return blk, ents


def test_slab_layout_checks():
    # _from_slab takes only blocks laid out as newSlab writes them; anything
    # else goes entry by entry (None).
    from elliptics._lib import ffi
    from elliptics import _result

    blk, ents = _slab(4, [3, 0, 2, 1])
    got = _result._from_slab(ents, 0, 4)
    assert [e.data for e in got] == [b"AAA", b"", b"CC", b"D"]
    assert [e.key_index for e in got] == [0, 1, 2, 3]
    assert got[2].address.host_port() == "127.0.0.1:1025" and got[2].column == ""
    assert [e.data for e in _result._from_slab(ents, 1, 4)] == [b"", b"CC", b"D"]

    blk, ents = _slab(3, [0, 0, 0])
    assert [e.data for e in _result._from_slab(ents, 0, 3)] == [b""] * 3

    # The data in a block of its own (as the library stages it), even below
    # the structs: only its order counts.
    blk, ents = _slab(3, [2, 0, 3])
    data = ffi.new("char[]", b"xxyyy")
    ffi.cast("ell_entry *", ents[0]).data = ffi.cast("uint8_t *", data)
    ffi.cast("ell_entry *", ents[2]).data = ffi.cast("uint8_t *", data + 2)
    assert [e.data for e in _result._from_slab(ents, 0, 3)] == [b"xx", b"", b"yyy"]

    blk, ents = _slab(3, [2, 2, 2])
    ents[1], ents[2] = ents[2], ents[1]  # structs out of order
    assert _result._from_slab(ents, 0, 3) is None

    blk, ents = _slab(3, [2, 2, 2])
    e = ffi.cast("ell_entry *", ents[2])
    e.data = e.data + 1  # a gap between two entries' data
    assert _result._from_slab(ents, 0, 3) is None

    blk, ents = _slab(3, [2, 2, 2])
    ffi.cast("ell_entry *", ents[1]).error = ffi.NULL
    assert _result._from_slab(ents, 0, 3) is None


def test_packing_of_names_and_values():
    # The packed bulk calls take names and values joined, lengths in bytes as
    # uint64; anything else goes the general way (None).
    import struct
    from array import array

    from elliptics import _speedups

    joined, lens = _speedups.pack_names(["a", "日本", "bc"])
    assert joined == "a日本bc".encode() and struct.unpack("=3Q", lens) == (1, 6, 2)
    assert _speedups.pack_names(["a", ""]) is None
    assert _speedups.pack_names(["a", b"b"]) is None
    assert _speedups.pack_names([]) == (b"", b"")
    joined, sizes = _speedups.pack_values([b"xy", bytearray(b"z"), memoryview(array("I", [7])), b""])
    assert joined == b"xyz" + array("I", [7]).tobytes() and struct.unpack("=4Q", sizes) == (2, 1, 4, 0)
    assert _speedups.pack_values([b"x", "str"]) is None
    assert _speedups.pack_values([memoryview(b"abcd")[::2]]) is None  # not contiguous
