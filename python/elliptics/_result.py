"""Results of data calls: :class:`AsyncResult` and its entries."""

from __future__ import annotations

import asyncio
import struct
import threading
import time as _time
from typing import Any, Callable, Generator, Iterator, List, Optional

from . import _lib, _speedups  # type: ignore[attr-defined]
from ._enums import exceptions_policy
from ._errors import ErrorInfo, format_message, make_error
from ._lib import ffi, lib
from ._values import Address, Id, Time, parse_entry_address

__all__ = ["ResultEntry", "IteratorResponse", "IteratorResultEntry", "IoAttribute", "AsyncResult"]

# How long one blocking library call may last before control comes back to
# Python (for KeyboardInterrupt); the GIL is released during each.
_SLICE_MS = 500

# The error of every successful entry (ErrorInfo is never changed in place).
_OK = ErrorInfo()

_ETIMEDOUT = -110

# The most entries a thread's scratch array (_lib.Scratch) grows to hold.
_SCRATCH_MAX = 4096
_ENOENT = -2


# struct ell_entry as bytes (elliptics.h): status, group_id, backend_id,
# reserved, record_flags, address, error, id, checksum, path, column, offset,
# size, total_size, tsec, tnsec, user_flags, key_index, data, data_size;
# pointers read as integers (0 is NULL). Checked against cffi's layout below.
# Then the ell_entry_ext that follows every entry in memory (elliptics.h):
# expire_tsec, expire_tnsec, count, iterator_id, iterated_keys, total_keys,
# iterator_state, reserved. Both in one unpack.
_ENTRY = struct.Struct("=iIiIQQQ64s64sQQQQQQQQQQQ" "QQQQQQII")
_ENTRY_BASE = ffi.sizeof("ell_entry")
_ENTRY_SIZE = _ENTRY.size
assert _ENTRY_BASE + ffi.sizeof("ell_entry_ext") == _ENTRY_SIZE
assert ffi.offsetof("ell_entry", "data_size") == _ENTRY_BASE - 8
assert ffi.sizeof("void *") == 8 and ffi.offsetof("ell_entry", "path") == 168
assert ffi.offsetof("ell_entry_ext", "iterator_state") == 48


def _s(p: Any) -> str:
    if p == ffi.NULL:
        return ""
    return ffi.string(p).decode("utf-8", "replace")


class _Reply:
    """The original binding's reply flags, the same for every entry here, and
    ``successful()``: shared by :class:`ResultEntry` and
    :class:`IteratorResultEntry`."""

    __slots__ = ()
    status: int

    @property
    def is_valid(self) -> bool:
        """True: every entry of this binding carries a reply (original name)."""
        return True

    @property
    def is_ack(self) -> bool:
        """False: this binding has no separate ack entries (original name)."""
        return False

    @property
    def is_final(self) -> bool:
        """True: every entry is the final reply of its command (original name)."""
        return True

    def successful(self) -> bool:
        """True when the entry has no error."""
        return self.status == 0


class ResultEntry(_Reply):
    """The outcome of one command in one group (or of one key of a bulk call).

    Everything is copied out of the library: entries stay valid after the
    result is gone. ``error`` is an :class:`ErrorInfo` (code 0 on success) and
    ``status`` its code; ``address`` is the node that answered (None if no
    node could be reached). Read calls fill ``data``; ``size`` is the bytes
    written or read, ``total_size`` the size of the whole object, ``offset``
    where the data lies in it. ``key_index`` tells which key of a bulk call
    the entry belongs to. ``expire`` is when the value expires (a
    :class:`Time`, None when it has no lifetime); ``count`` is the number of
    records of a range count or remove (also ``io_attribute.num``).
    """

    __slots__ = (
        "status",
        "error",
        "address",
        "group_id",
        "backend_id",
        "record_flags",
        "_id_raw",
        "_id",
        "checksum",
        "filepath",
        "column",
        "offset",
        "size",
        "total_size",
        "timestamp",
        "user_flags",
        "key_index",
        "data",
        "expire",
        "count",
        "_iter",
        "_row",  # these two: the state of an entry not filled in yet (_SlabEntry)
        "_ctx",
    )

    def __init__(self) -> None:
        self.status = 0
        self.error = ErrorInfo()
        self.address: Optional[Address] = None
        self.group_id = 0
        self.backend_id = -1
        self.record_flags = 0
        self._id_raw = b"\0" * 64
        self._id: Optional[Id] = None
        self.checksum = b"\0" * 64
        self.filepath = ""
        self.column = ""
        self.offset = 0
        self.size = 0
        self.total_size = 0
        self.timestamp = Time()
        self.user_flags = 0
        self.key_index = 0
        self.data = b""
        self.expire: Optional[Time] = None
        self.count = 0
        self._iter = (0, 0, 0, 0)

    @classmethod
    def _from_c(cls, e: Any) -> "ResultEntry":
        # The hot path of every call, once per entry (100 times per bulk
        # call of 100 keys): the numbers come from one unpack of the struct's
        # bytes (each cffi field read costs about as much as that whole
        # unpack), the strings from the pointers, the Id only when asked for.
        r = cls.__new__(cls)
        (
            status,
            r.group_id,
            r.backend_id,
            _,
            r.record_flags,
            address,
            _,
            r._id_raw,
            r.checksum,
            path,
            column,
            r.offset,
            r.size,
            r.total_size,
            tsec,
            tnsec,
            r.user_flags,
            r.key_index,
            data,
            data_size,
            expire_tsec,
            expire_tnsec,
            r.count,
            iter_id,
            iterated,
            total,
            iter_state,
            _,
        ) = _ENTRY.unpack(ffi.buffer(e, _ENTRY_SIZE))
        r.status = status
        r.error = ErrorInfo(status, format_message(_s(e.error), status)) if status else _OK
        r.address = parse_entry_address(ffi.string(e.address).decode()) if address else None
        r._id = None
        r.filepath = ffi.string(e.path).decode("utf-8", "replace") if path else ""
        r.column = ffi.string(e.column).decode("utf-8", "replace") if column else ""
        t = Time.__new__(Time)
        t.tsec, t.tnsec = tsec, tnsec
        r.timestamp = t
        r.data = ffi.buffer(e.data, data_size)[:] if data and data_size else b""
        if expire_tsec or expire_tnsec:
            x = Time.__new__(Time)
            x.tsec, x.tnsec = expire_tsec, expire_tnsec
            r.expire = x
        else:
            r.expire = None
        r._iter = (iter_id, iterated, total, iter_state)
        return r

    @property
    def id(self) -> Id:
        """The ID of the object (made on first use: most callers never ask)."""
        if self._id is None:
            self._id = Id(self._id_raw, self.group_id)
        return self._id

    # Names of the original binding.
    @property
    def storage_address(self) -> Optional[Address]:
        """Alias of :attr:`address` (lookup entries of the original)."""
        return self.address

    @property
    def flags(self) -> int:
        """Alias of :attr:`record_flags`."""
        return self.record_flags

    @property
    def io_attribute(self) -> "IoAttribute":
        """The entry's io attributes as the original named them (``num`` is
        the count of a range count or remove)."""
        return IoAttribute(self)

    def __repr__(self) -> str:
        return "<ResultEntry group %d status %d address %s size %d>" % (
            self.group_id,
            self.status,
            self.address.host_port() if self.address else "-",
            self.size,
        )


def _from_slab(ents: Any, lo: int, hi: int) -> Optional[List[ResultEntry]]:
    """ResultEntry objects of entries lo..hi-1 of ents when the library wrote
    them in one block (bulk calls: capi/data.go newSlab): the structs back to
    back, then their strings, and their data back to back (in a block of its
    own); None otherwise
    (the caller converts them one by one).

    Each entry gets its data (copied straight from the block), status and
    key_index at once; the rest (about 30 fields, strings decoded, Address
    and Time objects) is filled on first use from one copy of the structs
    and strings (_SlabEntry), since most callers of a bulk call read only
    the data and which key it is. The layout check and the loop over the
    entries are C (elliptics._speedups): as Python they were about 90 us of
    a 100-key call."""
    return _speedups.slab_entries(int(ffi.cast("uintptr_t", ents + lo)), hi - lo, {})


class _SlabEntry(ResultEntry):
    """A ResultEntry of a bulk call whose attributes but data, status and
    key_index are filled from its copy of the entry's block on first use:
    reading, setting or deleting one of them (a property here, shadowing
    the slot), or copying/pickling the entry, fills them all and turns the
    object into a plain ResultEntry (same layout).

    No __getattr__, __setattr__ or __delattr__: a class with any of them
    makes every attribute access a slow call."""

    __slots__ = ()

    def _materialize(self) -> None:
        row, ctx = _get_row(self), _get_ctx(self)
        kept = [slot.__get__(self) for slot in _EAGER_SLOTS]  # the caller may have set them
        object.__setattr__(self, "__class__", ResultEntry)
        _del_row(self)
        _del_ctx(self)
        _fill(self, row, ctx)
        for slot, value in zip(_EAGER_SLOTS, kept):
            slot.__set__(self, value)

    def __reduce_ex__(self, proto: Any) -> Any:
        self._materialize()
        return self.__reduce_ex__(proto)

    def __repr__(self) -> str:
        self._materialize()
        return repr(self)


def _lazy(slot: Any) -> property:
    """A property of _SlabEntry over one of ResultEntry's slots that fills the entry first."""

    def get(self: _SlabEntry) -> Any:
        self._materialize()
        return slot.__get__(self)

    def set_(self: _SlabEntry, value: Any) -> None:
        self._materialize()
        slot.__set__(self, value)

    def delete(self: _SlabEntry) -> None:
        self._materialize()
        slot.__delete__(self)

    return property(get, set_, delete)


_EAGER_SLOTS = [ResultEntry.__dict__[n] for n in ("data", "status", "key_index")]
for _name in ResultEntry.__slots__:
    if _name not in ("_row", "_ctx", "data", "status", "key_index"):
        setattr(_SlabEntry, _name, _lazy(ResultEntry.__dict__[_name]))
del _name

_speedups.setup(ResultEntry, _SlabEntry)
_speedups.set_collect(int(ffi.cast("uintptr_t", ffi.addressof(lib, "ell_async_collect"))))
_collect = _speedups.collect
_get_row = ResultEntry.__dict__["_row"].__get__
_del_row = ResultEntry.__dict__["_row"].__delete__
_get_ctx = ResultEntry.__dict__["_ctx"].__get__
_del_ctx = ResultEntry.__dict__["_ctx"].__delete__


def _slab_str(ctx: Any, p: int) -> str:
    """The string at address p of a slab (ctx of _from_slab), decoded once per slab."""
    head, base, cache = ctx
    s = cache.get(p)
    if s is None:
        o = p - base
        s = cache[p] = head[o : head.index(b"\0", o)].decode("utf-8", "replace")
    return s


def _fill(self: ResultEntry, i: int, ctx: Any) -> None:
    """Fills every field of entry i of a slab but data (set by _from_slab;
    ctx's copy holds only the structs and strings)."""
    head, _, cache = ctx
    (
        status,
        self.group_id,
        self.backend_id,
        _,
        self.record_flags,
        address,
        error,
        self._id_raw,
        self.checksum,
        path,
        column,
        self.offset,
        self.size,
        self.total_size,
        tsec,
        tnsec,
        self.user_flags,
        self.key_index,
        _,
        _,
        expire_tsec,
        expire_tnsec,
        self.count,
        iter_id,
        iterated,
        total_keys,
        iter_state,
        _,
    ) = _ENTRY.unpack_from(head, i * _ENTRY_SIZE)
    self.status = status
    self.error = ErrorInfo(status, format_message(_slab_str(ctx, error), status)) if status else _OK
    a = cache.get(-address, cache)  # Address objects are shared too, under -p
    if a is cache:
        a = cache[-address] = parse_entry_address(_slab_str(ctx, address)) if address else None
    self.address = a
    self._id = None
    self.filepath = _slab_str(ctx, path) if path else ""
    self.column = _slab_str(ctx, column) if column else ""
    t = Time.__new__(Time)
    t.tsec, t.tnsec = tsec, tnsec
    self.timestamp = t
    if expire_tsec or expire_tnsec:
        x = Time.__new__(Time)
        x.tsec, x.tnsec = expire_tsec, expire_tnsec
        self.expire = x
    else:
        self.expire = None
    self._iter = (iter_id, iterated, total_keys, iter_state)


_DEFAULT_FROM_C = ResultEntry._from_c


class IoAttribute:
    """The io attributes of an entry, with the original's names (read-only):
    ``id``, ``offset``, ``size``, ``total_size``, ``timestamp``,
    ``user_flags``, ``record_flags``, and ``num``, the records a range count
    or remove counted."""

    __slots__ = ("id", "offset", "size", "total_size", "timestamp", "user_flags", "record_flags", "num")

    def __init__(self, e: ResultEntry) -> None:
        self.id = e.id
        self.offset = e.offset
        self.size = e.size
        self.total_size = e.total_size
        self.timestamp = e.timestamp
        self.user_flags = e.user_flags
        self.record_flags = e.record_flags
        self.num = e.count

    def __repr__(self) -> str:
        return "<IoAttribute size %d num %d>" % (self.size, self.num)


class IteratorResponse:
    """One record an iterator visited (the original's ``response`` of an
    :class:`IteratorResultEntry`): ``key`` (:class:`Id`), ``column``,
    ``timestamp``, ``user_flags``, ``size`` (of the record), ``record_flags``,
    ``expire`` (Time or None), ``status`` (0, or for a copy iterator the
    copy's code), and the iterator's progress ``iterated_keys`` of
    ``total_keys`` when it was sent."""

    __slots__ = (
        "key",
        "column",
        "timestamp",
        "user_flags",
        "size",
        "record_flags",
        "expire",
        "status",
        "iterated_keys",
        "total_keys",
    )

    def __init__(self, e: ResultEntry) -> None:
        self.key = e.id
        self.column = e.column
        self.timestamp = e.timestamp
        self.user_flags = e.user_flags
        self.size = e.total_size
        self.record_flags = e.record_flags
        self.expire = e.expire
        self.status = e.status
        _, self.iterated_keys, self.total_keys, _ = e._iter

    def __repr__(self) -> str:
        return "<IteratorResponse key %s size %d status %d %d/%d>" % (
            str(self.key)[:16],
            self.size,
            self.status,
            self.iterated_keys,
            self.total_keys,
        )


class IteratorResultEntry(_Reply):
    """An entry of an iterator (``start_iterator``, ``start_copy_iterator``)
    or of an iterator control call (``pause_iterator``, ...): ``id`` is the
    iterator's id on its node (``address``), ``response`` the record
    (:class:`IteratorResponse`), ``response_data`` its data (with
    ``iterator_flags.data``). For a copy iterator ``group_id`` is the
    destination group and ``status``/``error`` the outcome of the copy."""

    __slots__ = ("id", "response", "response_data", "status", "error", "address", "group_id", "backend_id", "state")

    def __init__(self, e: ResultEntry) -> None:
        self.id = e._iter[0]
        self.state = e._iter[3]
        self.response = IteratorResponse(e)
        self.response_data = e.data
        self.status = e.status
        self.error = e.error
        self.address = e.address
        self.group_id = e.group_id
        self.backend_id = e.backend_id

    @classmethod
    def _from_c(cls, e: Any) -> "IteratorResultEntry":
        return cls(ResultEntry._from_c(e))

    def __repr__(self) -> str:
        return "<IteratorResultEntry iterator %d %r>" % (self.id, self.response)


class AsyncResult:
    """An operation in flight (or done), as returned by every data call.

    Consume it with :meth:`get` (wait, return the list of entries), by
    iterating (entries as they arrive), with ``await`` (in asyncio, returns
    the list), or with :meth:`connect`. Whether a failed call raises depends
    on the session's exceptions policy at the time of the call. The library
    handle is released as soon as the operation completes and its entries
    are copied (or by :meth:`close`, or when the object is collected).
    """

    # The state of a result just started, as class attributes: a single call
    # sets only what differs (every attribute set in __init__ was a visible
    # part of its cost). Each is replaced on the instance when it changes.
    _from_c: Any = _DEFAULT_FROM_C  # how entries are copied out (an iterator's differs)
    _pin: Any = None  # kept alive until the handle is freed (a converter's state)
    # The session (and so the node) stays alive while the call runs: a
    # collected Node would close and cancel it.
    _owner: Any = None
    _busy = 0
    _free_pending = False
    _complete = False  # the library reported completion (not just closed here)
    _done = False
    _status = _OK
    _elapsed_us = 0
    _aio: Any = None  # the _LoopQueue its completion is posted to, if any
    _future: Optional[asyncio.Future] = None

    def __init__(self, handle: int, policy: int, aio: Any = None, owner: Any = None, entry: Any = None) -> None:
        self._handle = int(handle)
        if entry is not None:
            self._from_c = entry
        if owner is not None:
            self._owner = owner
        if aio is not None:
            self._aio = aio
        self._policy = int(policy)
        self._lock = threading.Lock()
        self._entries: List[Any] = []  # ResultEntry, or IteratorResultEntry of iterators
        self._start_ns = _time.time_ns()  # start_time() makes the Time when asked

    @classmethod
    def _failed(cls, code: int, message: str, policy: int) -> "AsyncResult":
        """A result already complete with an error (a call that could not start)."""
        r = cls(0, policy)
        r._status = ErrorInfo(code, format_message(message, code))
        r._done = True
        return r

    # ---- handle management ----------------------------------------------

    def _acquire(self) -> int:
        with self._lock:
            if not self._handle:
                return 0
            self._busy += 1
            return self._handle

    def _release(self) -> None:
        with self._lock:
            self._busy -= 1
            if self._busy == 0 and self._free_pending:
                self._free_locked()

    def _free_locked(self) -> None:
        h, self._handle = self._handle, 0
        self._owner = None
        pin, self._pin = self._pin, None
        if pin is not None:
            pin.release(self._complete)
        self._free_pending = False
        if h and _lib.usable():
            lib.ell_async_free(h)

    def _finish(self, sc: Any = None) -> None:
        """Copies what is left and the status, then frees the handle (once complete).

        sc is the calling thread's Scratch right after an ell_async_collect
        that returned ELL_OK for this handle (the get() path: one call into
        the library); without it, the result is collected here."""
        with self._lock:
            if self._done:
                return
            h = self._handle
            if h:
                if sc is None:
                    sc = _lib.scratch()
                    rc = int(lib.ell_async_collect(h, 0, sc.info, sc.ents, sc.cap, sc.err))
                    if rc:  # not complete after all (a caller's bug): report it
                        self._status = ErrorInfo(rc, format_message(_lib.error_text(sc.err), rc))
                        sc = None
                if sc is not None:
                    self._take(h, sc)
                    self._complete = True
            self._done = True
            if self._busy == 0:
                self._free_locked()
            else:
                self._free_pending = True

    def _take(self, h: int, sc: Any) -> None:
        """Copies the entries not copied yet and the status of a collected result."""
        info = sc.info
        n = info.count
        have = len(self._entries)
        if n > have:
            ents = sc.ents
            if n > sc.cap:  # more than the scratch array holds: all of them at once
                if n <= _SCRATCH_MAX:
                    # A bigger scratch array for this thread's next results
                    # too (a bulk call's 100 entries in the first collect).
                    cap = max(n, min(2 * sc.cap, _SCRATCH_MAX))
                    sc.set_ents(ffi.new("const ell_entry *[]", cap), cap)
                    ents = sc.ents
                else:
                    ents = ffi.new("const ell_entry *[]", n)
                lib.ell_async_collect(h, 0, info, ents, n, sc.err)
            from_c = self._from_c
            got = _from_slab(ents, have, n) if from_c is _DEFAULT_FROM_C else None
            if got is None:
                got = [from_c(ents[i]) for i in range(have, n)]
            self._entries.extend(got)
        st = info.status
        if st:
            self._status = ErrorInfo(st, format_message(_lib.error_text(sc.err), st))
        self._elapsed_us = info.elapsed_us

    def _fail(self, code: int, text: str) -> None:
        with self._lock:
            if self._done:
                return
            self._status = ErrorInfo(code, format_message(text, code))
            self._done = True
            if self._busy == 0:
                self._free_locked()
            else:
                self._free_pending = True

    def close(self) -> None:
        """Releases the library handle now; an operation still running goes on, unobserved.

        A result that is not complete yet ends with a CancelledError status.
        """
        with self._lock:
            if not self._done:
                self._status = ErrorInfo(-125, format_message("result closed before completion", -125))
                self._done = True
            if self._busy == 0:
                self._free_locked()
            else:
                self._free_pending = True

    def __del__(self) -> None:
        try:
            h = self._handle
            self._handle = 0
            pin, self._pin = self._pin, None
            if pin is not None:
                pin.release(self._complete)
            if h and _lib.usable():
                lib.ell_async_free(h)
        except Exception:  # pragma: no cover - interpreter shutdown
            pass

    # ---- waiting ------------------------------------------------------

    def _wait_done(self, timeout: Optional[float] = None) -> bool:
        """Waits for completion (None: as long as it takes); True when complete."""
        if self._done:
            return True
        _lib.check_process()
        h = self._acquire()
        if not h:
            return self._done
        deadline = None if timeout is None else _time.monotonic() + timeout
        sc = _lib.scratch()
        info, ents, cap, err = sc.addrs
        build = self._from_c is _DEFAULT_FROM_C  # else an iterator's entries: copied by _take
        try:
            while True:
                slice_ms = _SLICE_MS
                if deadline is not None:
                    left = deadline - _time.monotonic()
                    if left <= 0:
                        break
                    slice_ms = max(1, min(slice_ms, int(left * 1000)))
                # Wait, status and entries in one call into the library; a
                # successful call's entries come back built (_speedups.collect).
                got = _collect(h, slice_ms, info, ents, cap, err, build)
                if got.__class__ is list:
                    if self._finish_with(got, sc):
                        h = 0  # released by _finish_with
                        break
                    got = None  # entries taken by iteration already: _take copies the rest
                if got is None:
                    self._finish(sc)
                    break
                if got != _ETIMEDOUT:
                    self._release()
                    h = 0
                    self._fail(got, _lib.error_text(sc.err))
                    return True
        finally:
            if h:
                self._release()
        return self._done

    def _finish_with(self, got: List[ResultEntry], sc: Any) -> bool:
        """_finish and _release of _wait_done in one hold of the lock, for a
        successful result whose entries _speedups.collect built (the common
        get()); False, changing nothing, when entries were taken already."""
        with self._lock:
            if self._entries:
                return False
            if not self._done:
                self._entries = got
                self._elapsed_us = sc.info.elapsed_us
                self._complete = True
                self._done = True
            self._busy -= 1
            if self._busy == 0:
                self._free_locked()
            else:
                self._free_pending = True
            return True

    def _raise_if(self, bit: int) -> None:
        if self._status.code and self._policy & bit:
            raise make_error(self._status.code, self._status.message)

    def get(self, timeout: Optional[float] = None) -> List[ResultEntry]:
        """Waits for the operation and returns its entries.

        Raises the error of a failed call if the exceptions policy has
        ``throw_at_get`` (the default). With ``timeout`` (seconds), raises
        :class:`elliptics.TimeoutError` if the operation is still running then.
        """
        if not self._wait_done(timeout):
            raise make_error(_ETIMEDOUT, "result not ready in %.3fs" % timeout)
        self._raise_if(exceptions_policy.throw_at_get)
        return list(self._entries)

    def wait(self, timeout: Optional[float] = None) -> None:
        """Waits for the operation to complete.

        Raises the call's error if the policy has ``throw_at_wait`` (the
        default); with ``timeout`` (seconds) raises TimeoutError if still running.
        """
        if not self._wait_done(timeout):
            raise make_error(_ETIMEDOUT, "result not ready in %.3fs" % timeout)
        self._raise_if(exceptions_policy.throw_at_wait)

    def ready(self) -> bool:
        """True once the operation completed (does not wait)."""
        if self._done:
            return True
        _lib.check_process()
        h = self._acquire()
        if not h:
            return self._done
        try:
            return bool(lib.ell_async_ready(h))
        finally:
            self._release()

    def successful(self) -> bool:
        """Waits, then tells whether the call succeeded (never raises for its status)."""
        self._wait_done()
        return self._status.code == 0

    def error(self) -> ErrorInfo:
        """Waits, then returns the call's status as an ErrorInfo (code 0 on success)."""
        self._wait_done()
        return self._status

    def elapsed_time(self) -> Time:
        """Time from the call to completion (so far, while it runs)."""
        us = self._elapsed_us
        if not self._done:
            h = self._acquire()
            if h:
                try:
                    us = int(lib.ell_async_elapsed_us(h))
                finally:
                    self._release()
            else:
                us = self._elapsed_us
        return Time(us // 1_000_000, (us % 1_000_000) * 1000)

    def start_time(self) -> Time:
        """When the call was made."""
        return Time(self._start_ns // 1_000_000_000, self._start_ns % 1_000_000_000)

    def end_time(self) -> Time:
        """When the call completed (start + elapsed)."""
        e = self.elapsed_time()
        ns = self._start_ns + e.tsec * 1_000_000_000 + e.tnsec
        return Time(ns // 1_000_000_000, ns % 1_000_000_000)

    def total(self) -> int:
        """The number of entries received so far."""
        return len(self._entries)

    # ---- iteration ----------------------------------------------------

    def _next(self, i: int) -> None:
        """Fetches entry i (or learns that the operation ended)."""
        _lib.check_process()
        h = self._acquire()
        if not h:
            return
        end = False
        try:
            out = ffi.new("const ell_entry **")
            err = _lib.new_error()
            rc = int(lib.ell_async_next(h, i, _SLICE_MS, out, err))
            if rc == 0:
                with self._lock:
                    if len(self._entries) == i:
                        self._entries.append(self._from_c(out[0]))
            elif rc == _ENOENT:
                end = True
            elif rc != _ETIMEDOUT:
                self._release()
                h = 0
                self._fail(rc, _lib.error_text(err))
        finally:
            if h:
                self._release()
        if end:
            self._finish()

    def __iter__(self) -> Iterator[ResultEntry]:
        """Entries in the order they arrive; at the end raises the call's error
        if the policy has ``throw_at_iterator_end`` (the default)."""
        i = 0
        while True:
            if i < len(self._entries):
                yield self._entries[i]
                i += 1
                continue
            if self._done:
                break
            self._next(i)
        self._raise_if(exceptions_policy.throw_at_iterator_end)

    # ---- callbacks ------------------------------------------------------

    def connect(
        self,
        result_handler: Optional[Callable[..., Any]] = None,
        final_handler: Optional[Callable[[ErrorInfo], Any]] = None,
    ) -> threading.Thread:
        """Calls handlers on a Python thread as the operation progresses.

        ``connect(result_handler, final_handler)``: ``result_handler(entry)``
        for each entry as it arrives, then ``final_handler(error_info)``.
        ``connect(handler)``: ``handler(entries, error_info)`` once at the end.
        Returns the (daemon) thread running them.
        """
        _lib.check_process()

        def run() -> None:
            if final_handler is None:
                self._wait_done()
                if result_handler is not None:
                    result_handler(list(self._entries), self._status)
                return
            i = 0
            while True:
                if i < len(self._entries):
                    if result_handler is not None:
                        result_handler(self._entries[i])
                    i += 1
                    continue
                if self._done:
                    break
                self._next(i)
            final_handler(self._status)

        t = threading.Thread(target=run, name="elliptics-connect", daemon=True)
        t.start()
        return t

    # ---- asyncio --------------------------------------------------------

    def _resolve_future(self) -> None:
        f = self._future
        if f is None or f.done():
            return
        if self._status.code and self._policy & exceptions_policy.throw_at_get:
            f.set_exception(make_error(self._status.code, self._status.message))
        else:
            f.set_result(list(self._entries))

    def _on_complete(self) -> None:
        """Called on the event loop when the completion queue reports this result."""
        self._finish()
        self._resolve_future()

    def _get_for_executor(self) -> List[ResultEntry]:
        return self.get()

    def __await__(self) -> Generator[Any, None, List[ResultEntry]]:
        """``await result`` waits without blocking the loop and returns the entries."""
        loop = asyncio.get_running_loop()
        if self._done:
            self._raise_if(exceptions_policy.throw_at_get)
            return list(self._entries)
        if self._aio is not None and self._aio.loop is loop:
            if self._future is None:
                self._future = loop.create_future()
            fut: Any = self._future
        else:
            fut = loop.run_in_executor(None, self._get_for_executor)
        return (yield from fut.__await__())

    def __repr__(self) -> str:
        state = "done, status %d" % self._status.code if self._done else "running"
        return "<AsyncResult %s, %d entries>" % (state, len(self._entries))


