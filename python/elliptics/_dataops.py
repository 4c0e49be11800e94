"""Values of the data operations: ID ranges, iterator ranges, and the
compare-and-swap converter callback."""

from __future__ import annotations

import datetime
import threading
from typing import Any, Callable, Dict, Optional, Union

from ._errors import Error
from ._lib import ffi, lib
from ._values import ID_SIZE, Id, Time

__all__ = ["Range", "IteratorRange", "csum_bytes", "ttl_ms", "time_pair", "CasState"]

_MAX_ID = Id(b"\xff" * ID_SIZE)


def _id_bytes(v: Any, what: str) -> bytes:
    if isinstance(v, Id):
        return v.to_bytes()
    return Id(v).to_bytes()


def csum_bytes(csum: Any) -> bytes:
    """The 64 bytes of a checksum given as an :class:`Id`, 64 bytes or hex."""
    if isinstance(csum, (bytes, bytearray, memoryview)) and len(csum) != ID_SIZE:
        raise ValueError("a checksum is %d bytes, got %d" % (ID_SIZE, len(csum)))
    return _id_bytes(csum, "checksum")


def ttl_ms(ttl: Union[None, int, float, datetime.timedelta]) -> int:
    """Milliseconds of a lifetime in seconds (or a timedelta); None or 0: none."""
    if ttl is None:
        return 0
    if isinstance(ttl, datetime.timedelta):
        ttl = ttl.total_seconds()
    v = float(ttl)
    if v < 0:
        raise ValueError("ttl must not be negative")
    ms = int(round(v * 1000))
    if v > 0 and ms == 0:
        ms = 1  # a lifetime below a millisecond is still a lifetime
    return ms


def time_pair(t: Any) -> "tuple[int, int]":
    """(tsec, tnsec) of a :class:`Time`, seconds since the epoch or None (0, 0: open)."""
    if t is None:
        return 0, 0
    if isinstance(t, Time):
        return t.tsec, t.tnsec
    if isinstance(t, datetime.datetime):
        t = t.timestamp()
    tt = Time.from_epoch(float(t))
    return tt.tsec, tt.tnsec


class Range:
    """An ID range for ``read_data_range`` and ``remove_data_range`` (the
    original's ``elliptics.Range``): every record whose ID is in
    [``start``, ``end``) in group ``group_id`` (0: the session's first group),
    in ID order, after skipping ``limit_start`` of them, at most
    ``limit_num`` (0: no limit). ``offset`` and ``size`` select the part of
    each value read; ``ioflags`` with ``io_flags.nodata`` makes
    ``read_data_range`` count the records instead (one entry, ``count``).
    """

    __slots__ = ("start", "end", "offset", "size", "ioflags", "group_id", "limit_start", "limit_num")

    def __init__(
        self,
        start: Any = None,
        end: Any = None,
        offset: int = 0,
        size: int = 0,
        ioflags: int = 0,
        group_id: int = 0,
        limit_start: int = 0,
        limit_num: int = 0,
    ) -> None:
        self.start: Id = Id(start) if start is not None else Id()
        self.end: Id = Id(end) if end is not None else _MAX_ID
        self.offset = int(offset)
        self.size = int(size)
        self.ioflags = int(ioflags)
        self.group_id = int(group_id)
        self.limit_start = int(limit_start)
        self.limit_num = int(limit_num)

    def _to_c(self) -> Any:
        r = ffi.new("ell_range *")
        ffi.memmove(r.start, _id_bytes(self.start, "start"), ID_SIZE)
        ffi.memmove(r.end, _id_bytes(self.end, "end"), ID_SIZE)
        r.group_id = self.group_id
        r.limit_start = self.limit_start
        r.limit_num = self.limit_num
        r.offset = self.offset
        r.size = self.size
        return r

    def __repr__(self) -> str:
        return "<Range %s..%s group %d limit (%d, %d)>" % (
            str(self.start)[:16],
            str(self.end)[:16],
            self.group_id,
            self.limit_start,
            self.limit_num,
        )


class IteratorRange:
    """A key range of an iterator, both ends inclusive (the original's
    ``elliptics.IteratorRange``: ``key_begin``, ``key_end``)."""

    __slots__ = ("key_begin", "key_end")

    def __init__(self, key_begin: Any = None, key_end: Any = None) -> None:
        self.key_begin: Id = Id(key_begin) if key_begin is not None else Id()
        self.key_end: Id = Id(key_end) if key_end is not None else _MAX_ID

    def __repr__(self) -> str:
        return "<IteratorRange %s..%s>" % (str(self.key_begin)[:16], str(self.key_end)[:16])


# The states of converters of write_cas calls in flight, by id(): the
# library holds only a cffi handle to each, which must stay valid while the
# operation may still call the converter.
_states: Dict[int, "CasState"] = {}
_states_lock = threading.Lock()


class CasState:
    """The converter of one ``write_cas(key, converter)`` call, handed to the
    library as userdata. It lives until the result learns that the operation
    completed; a result dropped earlier marks it closed, and the next
    converter call then ends the operation with ELL_ECANCELED."""

    __slots__ = ("fn", "handle", "keep", "error", "closed", "__weakref__")

    def __init__(self, fn: Callable[[bytes], Any]) -> None:
        self.fn = fn
        self.handle = ffi.new_handle(self)
        self.keep: Any = None
        self.error: Optional[BaseException] = None
        self.closed = False
        with _states_lock:
            _states[id(self)] = self

    def release(self, complete: bool) -> None:
        """Called when the result frees its handle; complete: the operation ended."""
        if complete:
            with _states_lock:
                _states.pop(id(self), None)
        else:
            self.closed = True


@ffi.def_extern()
def _ell_py_cas_converter(userdata: Any, current: Any, size: int, exists: int, out: Any, out_size: Any) -> int:
    """The C converter of write_cas: runs the Python converter on the current value."""
    st = ffi.from_handle(userdata)
    if st.closed:
        with _states_lock:
            _states.pop(id(st), None)
        return -125
    try:
        cur = ffi.buffer(current, size)[:] if exists and size else b""
        new = st.fn(cur)
        if isinstance(new, str):
            new = new.encode("utf-8")
        b = bytes(new)
        buf = ffi.from_buffer(b)
        st.keep = (b, buf)  # valid until the next call, as the library asks
        out[0] = ffi.cast("const void *", buf)
        out_size[0] = len(b)
        return 0
    except Error as e:
        st.error = e
        return int(e.code) if e.code and e.code < 0 else -22
    except BaseException as e:  # nothing may unwind into the library
        st.error = e
        return -22


_ = lib  # the extern above is bound to elliptics._native's lib
