"""Sessions: settings of a series of calls, and the data calls themselves."""

from __future__ import annotations

import struct
import threading
from asyncio import _get_running_loop
from typing import Any, Iterable, List, Mapping, Sequence, Tuple, Union

from . import _aio, _lib
from ._enums import checkers, command_flags, exceptions_policy, filters
from ._errors import InvalidError, format_message, make_error
from ._lib import ffi, lib
from ._node import Node
from ._result import AsyncResult
from ._route import RouteList
from ._values import Address, Id, Time, parse_entry_address

__all__ = ["Session", "Key", "Data"]

#: A key: a name (str, UTF-8 encoded, or bytes) or a raw :class:`Id`.
Key = Union[str, bytes, bytearray, memoryview, Id]
#: Data to write: bytes-like or str (UTF-8 encoded).
Data = Union[bytes, bytearray, memoryview, str]

_U64 = (1 << 64) - 1


def _name_bytes(key: Any) -> bytes:
    if isinstance(key, str):
        return key.encode("utf-8")
    if isinstance(key, (bytes, bytearray, memoryview)):
        return bytes(key)
    raise TypeError("elliptics: a key is a str, bytes or elliptics.Id, not %s" % type(key).__name__)


def _fill_key(k: Any, key: Key, keep: List[Any]) -> None:
    """Fills the ell_key k from a Python key; keep holds buffers alive for the call."""
    if isinstance(key, Id):
        k.has_id = 1
        ffi.memmove(k.id, key.to_bytes(), 64)
        return
    b = _name_bytes(key)
    buf = ffi.from_buffer("char[]", b)
    keep.append(buf)
    k.name = buf
    k.name_len = len(b)


# struct ell_key as bytes (elliptics.h): name, name_len, has_id, id,
# (padding), column, column_len. Bulk calls pack their key arrays with it:
# one pack per key instead of a cffi struct and two field stores.
_KEY = struct.Struct("=QQi64s4xQQ")
assert _KEY.size == ffi.sizeof("ell_key") and ffi.offsetof("ell_key", "column") == 88


def _key_array(keys: List[Any], keep: List[Any]) -> Any:
    """An ell_key[] of keys (at least one element); keep holds its buffers."""
    n = len(keys)
    if not all(isinstance(k, str) for k in keys):
        arr = ffi.new("ell_key[]", max(1, n))
        for i, key in enumerate(keys):
            _fill_key(arr[i], key, keep)
        return arr
    # Every name in one buffer, each key pointing into it.
    names = [k.encode("utf-8") for k in keys]
    joined = ffi.from_buffer(b"".join(names))
    keep.append(joined)
    base = int(ffi.cast("uintptr_t", joined))
    raw = bytearray(_KEY.size * max(1, n))
    pack, size, off = _KEY.pack_into, _KEY.size, 0
    for i, name in enumerate(names):
        pack(raw, i * size, base + off, len(name), 0, b"", 0, 0)
        off += len(name)
    keep.append(raw)
    return ffi.from_buffer("ell_key[]", raw)


def _data_buffer(data: Data) -> Any:
    if isinstance(data, str):
        data = data.encode("utf-8")
    try:
        return ffi.from_buffer(data)
    except TypeError as e:
        raise TypeError("elliptics: data is bytes-like or str, not %s" % type(data).__name__) from e


class Session:
    """Settings for a series of calls on a :class:`Node`, and the data calls.

    Settings are properties (each also has ``set_*``/``get_*`` methods, as in
    the original): ``groups``, ``timeout`` (seconds, 0 = node default),
    ``cflags``, ``ioflags``, ``exceptions_policy``, ``user_flags``,
    ``timestamp``, ``trace_id``, ``namespace``, ``checker``, ``filter``;
    ``routes`` is read-only. Data calls return an
    :class:`elliptics.AsyncResult` at once.
    """

    def __init__(self, node: Node) -> None:
        _lib.check_process()
        self._handle = 0
        self._lock = threading.Lock()
        out = ffi.new("ell_session_t *")
        err = _lib.new_error()
        _lib.raise_for(lib.ell_session_new(node.handle, out, err), err, "ell_session_new")
        self._handle = int(out[0])
        self._node = node
        self._policy = int(exceptions_policy.default_exceptions)

    # ---- lifetime -------------------------------------------------------

    @property
    def handle(self) -> int:
        """The library handle (raises if the session is closed)."""
        _lib.check_process()
        h = self._handle
        if not h:
            raise InvalidError(format_message("Session: closed", -22), -22)
        return h

    @property
    def node(self) -> Node:
        """The node of the session."""
        return self._node

    def close(self) -> None:
        """Frees the session (idempotent); results already returned stay valid."""
        with self._lock:
            h, self._handle = self._handle, 0
        if h and _lib.usable():
            lib.ell_session_free(h)

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            h, self._handle = getattr(self, "_handle", 0), 0
            if h and _lib.usable():
                lib.ell_session_free(h)
        except Exception:  # pragma: no cover - interpreter shutdown
            pass

    def clone(self) -> "Session":
        """An independent session with the same settings."""
        out = ffi.new("ell_session_t *")
        err = _lib.new_error()
        _lib.raise_for(lib.ell_session_clone(self.handle, out, err), err, "clone")
        s = Session.__new__(Session)
        s._lock = threading.Lock()
        s._handle = int(out[0])
        s._node = self._node
        s._policy = self._policy
        return s

    def _check(self, rc: int, err: Any, what: str) -> None:
        _lib.raise_for(rc, err, what)

    # ---- settings -------------------------------------------------------

    def set_groups(self, groups: Iterable[int]) -> None:
        """Sets the groups (replicas) calls go to, in order of preference for reads."""
        gs = [int(g) for g in groups]
        arr = ffi.new("uint32_t[]", gs) if gs else ffi.NULL
        err = _lib.new_error()
        self._check(lib.ell_session_set_groups(self.handle, arr, len(gs), err), err, "set_groups")

    def get_groups(self) -> List[int]:
        """The groups of the session."""
        h = self.handle
        cap = 64
        while True:
            buf = ffi.new("uint32_t[]", cap)
            n = int(lib.ell_session_get_groups(h, buf, cap))
            if n <= cap:
                return [int(buf[i]) for i in range(n)]
            cap = n

    add_groups = set_groups

    groups = property(get_groups, set_groups, doc="The groups of the session (a list of ints).")

    def set_timeout(self, seconds: float) -> None:
        """Sets how long calls wait for replies, in seconds (0: the node's wait timeout)."""
        if seconds < 0:
            raise OverflowError("timeout must not be negative")
        err = _lib.new_error()
        self._check(lib.ell_session_set_timeout(self.handle, int(round(seconds * 1000)), err), err, "set_timeout")

    def get_timeout(self) -> float:
        """The wait timeout of calls in seconds (an int when whole)."""
        ms = int(lib.ell_session_get_timeout(self.handle))
        return ms // 1000 if ms % 1000 == 0 else ms / 1000.0

    timeout = property(get_timeout, set_timeout, doc="Seconds calls wait for replies (0 sets the node default).")

    def set_cflags(self, cflags: int) -> None:
        """Sets the command flags (:class:`elliptics.command_flags`)."""
        err = _lib.new_error()
        self._check(lib.ell_session_set_cflags(self.handle, int(cflags), err), err, "set_cflags")

    def get_cflags(self) -> command_flags:
        """The command flags."""
        return command_flags(int(lib.ell_session_get_cflags(self.handle)))

    cflags = property(get_cflags, set_cflags, doc="Command flags (elliptics.command_flags).")

    def set_ioflags(self, ioflags: int) -> None:
        """Sets the I/O flags (:class:`elliptics.io_flags`)."""
        err = _lib.new_error()
        self._check(lib.ell_session_set_ioflags(self.handle, int(ioflags), err), err, "set_ioflags")

    def get_ioflags(self) -> int:
        """The I/O flags."""
        return int(lib.ell_session_get_ioflags(self.handle))

    ioflags = property(get_ioflags, set_ioflags, doc="I/O flags (elliptics.io_flags).")

    def set_user_flags(self, user_flags: int) -> None:
        """Sets the 64-bit user flags stored with written objects."""
        v = int(user_flags)
        if not 0 <= v <= _U64:
            raise OverflowError("user_flags must fit in 64 unsigned bits")
        err = _lib.new_error()
        self._check(lib.ell_session_set_user_flags(self.handle, v, err), err, "set_user_flags")

    def get_user_flags(self) -> int:
        """The user flags."""
        return int(lib.ell_session_get_user_flags(self.handle))

    user_flags = property(get_user_flags, set_user_flags, doc="64-bit user flags stored with writes.")

    def set_trace_id(self, trace_id: int) -> None:
        """Sets the trace ID that follows requests through node logs."""
        v = int(trace_id)
        if not 0 <= v <= _U64:
            raise OverflowError("trace_id must fit in 64 unsigned bits")
        err = _lib.new_error()
        self._check(lib.ell_session_set_trace_id(self.handle, v, err), err, "set_trace_id")

    def get_trace_id(self) -> int:
        """The trace ID."""
        return int(lib.ell_session_get_trace_id(self.handle))

    trace_id = property(get_trace_id, set_trace_id, doc="Trace ID of requests (u64).")

    def set_trace_bit(self, on: bool) -> None:
        """Sets or clears the trace bit (``command_flags.trace_bit``)."""
        cf = int(self.get_cflags())
        self.set_cflags(cf | command_flags.trace_bit if on else cf & ~command_flags.trace_bit)

    def get_trace_bit(self) -> bool:
        """True when requests are logged at every hop."""
        return bool(int(self.get_cflags()) & command_flags.trace_bit)

    trace_bit = property(get_trace_bit, set_trace_bit, doc="Log requests at every hop (a command flag).")

    def set_timestamp(self, ts: Time) -> None:
        """Sets the timestamp written with data; ``Time(0, 0)`` (or the
        original's ``Time(2**64-1, 2**64-1)``) means the time of each write."""
        if not isinstance(ts, Time):
            raise TypeError("timestamp must be an elliptics.Time")
        tsec, tnsec = ts.tsec, ts.tnsec
        if tsec == _U64 and tnsec == _U64:
            tsec = tnsec = 0
        err = _lib.new_error()
        self._check(lib.ell_session_set_timestamp(self.handle, tsec, tnsec, err), err, "set_timestamp")

    def get_timestamp(self) -> Time:
        """The session timestamp (``Time(0, 0)``: the time of each write)."""
        tsec = ffi.new("uint64_t *")
        tnsec = ffi.new("uint64_t *")
        lib.ell_session_get_timestamp(self.handle, tsec, tnsec)
        return Time(tsec[0], tnsec[0])

    timestamp = property(get_timestamp, set_timestamp, doc="Timestamp written with data (elliptics.Time).")

    def set_namespace(self, namespace: Union[str, bytes]) -> None:
        """Sets the namespace mixed into the IDs of key names ('' for none)."""
        b = _name_bytes(namespace)
        err = _lib.new_error()
        self._check(lib.ell_session_set_namespace(self.handle, b, len(b), err), err, "set_namespace")

    def get_namespace(self) -> str:
        """The namespace ('' when none)."""
        h = self.handle
        cap = 256
        while True:
            buf = ffi.new("char[]", cap)
            n = int(lib.ell_session_get_namespace(h, buf, cap))
            if n <= cap:
                return ffi.buffer(buf, n)[:].decode("utf-8", "surrogateescape")
            cap = n

    namespace = property(get_namespace, set_namespace, doc="Namespace of key names (str).")

    def set_exceptions_policy(self, policy: int) -> None:
        """Sets when failed calls raise (:class:`elliptics.exceptions_policy` bits)."""
        v = int(policy)
        if v & ~0xF:
            raise ValueError("exceptions_policy: unknown bits %#x" % v)
        self._policy = v

    def get_exceptions_policy(self) -> exceptions_policy:
        """When failed calls raise."""
        return exceptions_policy(self._policy)

    exceptions_policy = property(
        get_exceptions_policy, set_exceptions_policy, doc="When failed calls raise (elliptics.exceptions_policy)."
    )

    def set_checker(self, checker: int) -> None:
        """Sets how multi-group calls decide success (:class:`elliptics.checkers`)."""
        err = _lib.new_error()
        self._check(lib.ell_session_set_checker(self.handle, int(checker), err), err, "set_checker")

    def get_checker(self) -> checkers:
        """The checker."""
        return checkers(int(lib.ell_session_get_checker(self.handle)))

    checker = property(get_checker, set_checker, doc="How multi-group calls decide success (elliptics.checkers).")

    def set_filter(self, filter: int) -> None:
        """Sets which entries results carry (:class:`elliptics.filters`)."""
        err = _lib.new_error()
        self._check(lib.ell_session_set_filter(self.handle, int(filter), err), err, "set_filter")

    def get_filter(self) -> filters:
        """The filter."""
        return filters(int(lib.ell_session_get_filter(self.handle)))

    filter = property(get_filter, set_filter, doc="Which entries results carry (elliptics.filters).")

    def get_routes(self) -> RouteList:
        """The node's current route table."""
        return self._node.routes()

    routes = property(get_routes, doc="The node's route table (elliptics.RouteList), read-only.")

    def state_num(self) -> int:
        """How many nodes the route table names."""
        return len(self.get_routes().addresses())

    # ---- local computations --------------------------------------------

    def transform(self, data: Union[str, bytes]) -> Id:
        """The ID of a key name in this session (SHA-512, namespace applied)."""
        b = _name_bytes(data)
        out = ffi.new("uint8_t[64]")
        err = _lib.new_error()
        self._check(lib.ell_session_transform(self.handle, b, len(b), out, err), err, "transform")
        return Id(bytes(ffi.buffer(out, 64)))

    def key_id(self, key: Key) -> Id:
        """The ID a key has in this session (an Id is returned as it is)."""
        keep: List[Any] = []
        k = ffi.new("ell_key *")
        _fill_key(k, key, keep)
        out = ffi.new("uint8_t[64]")
        err = _lib.new_error()
        self._check(lib.ell_session_key_id(self.handle, k, out, err), err, "key_id")
        return Id(bytes(ffi.buffer(out, 64)))

    def lookup_address(self, key: Key, group_id: int) -> Address:
        """The address of the node that owns key in a group (no network)."""
        keep: List[Any] = []
        k = ffi.new("ell_key *")
        _fill_key(k, key, keep)
        cap = 256
        buf = ffi.new("char[]", cap)
        backend = ffi.new("int32_t *")
        err = _lib.new_error()
        self._check(
            lib.ell_session_lookup_address(self.handle, k, int(group_id), buf, cap, backend, err), err, "lookup_address"
        )
        a = parse_entry_address(ffi.string(buf).decode())
        if a is None:
            raise make_error(-6, "lookup_address: no address for group %d" % int(group_id))
        return a

    # ---- data calls -----------------------------------------------------

    def _start(self, func: Any, *args: Any) -> AsyncResult:
        """Starts an asynchronous call: func(session, *args, completion, out, err)."""
        h = self._handle
        if not h or _lib._forked:
            h = self.handle  # raises the right error
        if _get_running_loop() is None:  # no exception raised per call, unlike asyncio.get_running_loop
            comp: Any = ffi.NULL
            lq = None
            tag = 0
        else:
            comp, lq, tag = _aio.completion_for_current_loop()
        sc = _lib.scratch()
        rc = func(h, *args, comp, sc.out, sc.err)
        if rc != 0:
            text = _lib.error_text(sc.err) or ffi.string(lib.ell_strerror(rc)).decode("utf-8", "replace")
            if self._policy & exceptions_policy.throw_at_start:
                raise make_error(rc, text)
            return AsyncResult._failed(rc, text, self._policy)
        r = AsyncResult(sc.out[0], self._policy, lq, self)
        if lq is not None:
            lq.pending[tag] = r
        return r

    def _key(self, key: Key) -> Tuple[Any, Any]:
        """The calling thread's scratch ell_key filled from key, and the buffer
        that must stay alive until the call returns (the library copies it)."""
        k = _lib.scratch().key
        if isinstance(key, str):
            buf = ffi.from_buffer(key.encode("utf-8"))
        elif isinstance(key, Id):
            k.has_id = 1
            ffi.memmove(k.id, key.to_bytes(), 64)
            return k, None
        else:
            buf = ffi.from_buffer(_name_bytes(key))
        k.has_id = 0
        k.name = buf
        k.name_len = len(buf)
        return k, buf

    def write_data(self, key: Key, data: Data, offset: int = 0, chunk_size: int = 0) -> AsyncResult:
        """Writes data at offset to every session group, in parallel; one entry per group.

        The checker decides the status of the whole call. ``chunk_size`` is
        accepted for compatibility (the library streams large values itself).
        """
        k, keep = self._key(key)
        buf = _data_buffer(data)
        return self._start(lib.ell_session_write_data, k, buf, len(buf), int(offset))

    def read_data(self, key: Key, offset: int = 0, size: int = 0) -> AsyncResult:
        """Reads size bytes at offset (0: to the end) from the first group that has the key."""
        k, keep = self._key(key)
        return self._start(lib.ell_session_read_data, k, int(offset), int(size))

    def read_data_from_groups(self, key: Key, groups: Sequence[int], offset: int = 0, size: int = 0) -> AsyncResult:
        """:meth:`read_data` over an explicit list of groups, tried in order."""
        s = self.clone()
        try:
            s.set_groups(groups)
            return s.read_data(key, offset, size)
        finally:
            s.close()

    def read_latest(self, key: Key, offset: int = 0, size: int = 0) -> AsyncResult:
        """Reads from the group with the newest copy (a lookup in every group first)."""
        keep: List[Any] = []
        k = ffi.new("ell_key *")
        _fill_key(k, key, keep)
        return self._start(lib.ell_session_read_latest, k, int(offset), int(size))

    def lookup(self, key: Key) -> AsyncResult:
        """Where and what the object is (size, timestamp, path), from the first group that has it."""
        keep: List[Any] = []
        k = ffi.new("ell_key *")
        _fill_key(k, key, keep)
        return self._start(lib.ell_session_lookup, k)

    def remove(self, key: Key) -> AsyncResult:
        """Removes the key from every session group; one entry per group."""
        keep: List[Any] = []
        k = ffi.new("ell_key *")
        _fill_key(k, key, keep)
        return self._start(lib.ell_session_remove, k)

    def bulk_read(self, keys: Iterable[Key]) -> AsyncResult:
        """Reads many keys; one entry per key found (``entry.key_index`` is its
        position in keys). Missing keys give no entry with the default filter."""
        ks = list(keys)
        keep: List[Any] = []
        arr = _key_array(ks, keep)
        return self._start(lib.ell_session_bulk_read, arr, len(ks))

    def bulk_write(self, datas: Union[Mapping[Key, Data], Iterable[Tuple[Key, Data]]]) -> AsyncResult:
        """Writes many keys: a dict {key: data} or pairs (key, data). Entries of
        every key and group (``entry.key_index`` says which key); fails if any
        key's write fails its checker."""
        items = list(datas.items()) if isinstance(datas, Mapping) else [tuple(p) for p in datas]
        n = len(items)
        keep: List[Any] = []
        karr = _key_array([k for k, _ in items], keep)
        bufs = [_data_buffer(d) for _, d in items]  # alive until the call returns
        # Arrays built from lists: one C loop each, not a store per element.
        parr = ffi.new("const void *[]", bufs or 1)
        sarr = ffi.new("uint64_t[]", [len(b) for b in bufs] or 1)
        return self._start(lib.ell_session_bulk_write, karr, parr, sarr, n)

    def __repr__(self) -> str:
        if not self._handle:
            return "<elliptics.Session closed>"
        return "<elliptics.Session groups %s>" % self.get_groups()
