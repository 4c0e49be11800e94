"""Sessions: settings of a series of calls, and the data calls themselves."""

from __future__ import annotations

import datetime
import functools
import itertools
import struct
import threading
from asyncio import _get_running_loop
from typing import Any, Callable, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from . import _aio, _lib, _speedups  # type: ignore[attr-defined]
from ._admin import AddressLike, MonitorStatResult, RecoveryJob, monitor_stat_call, monitor_stat_categories, recovery_call, start_request
from ._watch import Watcher
from ._exec import (
    ExecAsyncResult,
    ExecContext,
    ExecLimits,
    ExecResultEntry,
    JobProgress,
    ScriptInfo,
    ScriptRecord,
    exec_call,
    run_jobs_call,
    script_call,
    submit,
)
from ._dataops import CasState, IteratorRange, Range, csum_bytes, time_pair, ttl_ms
from ._enums import checkers, command_flags, exceptions_policy, filters, io_flags, iterator_flags, iterator_types
from ._errors import InvalidError, format_message, make_error
from ._files import PathLike, Progress, check_source, check_target, file_options, path_bytes
from ._lib import ffi, lib
from ._node import Node
from ._result import AsyncResult, IteratorResultEntry
from ._route import RouteList
from ._values import Address, Id, Time, parse_entry_address, to_remote

__all__ = ["Session", "Key", "Data"]

#: A key: a name (str, UTF-8 encoded, or bytes) or a raw :class:`Id`.
Key = Union[str, bytes, bytearray, memoryview, Id]
#: Data to write: bytes-like or str (UTF-8 encoded).
Data = Union[bytes, bytearray, memoryview, str]

_U64 = (1 << 64) - 1

#: A lifetime: seconds (int or float) or a timedelta; None or 0 for none.
TTL = Union[None, int, float, datetime.timedelta]

# ell_write_options.flags (elliptics.h).
_WRITE_APPEND = 1
_WRITE_PREPARE = 2
_WRITE_PLAIN = 4
_WRITE_COMMIT = 8
_WRITE_CAS_TIMESTAMP = 16
_ITERATOR_FLAGS = 0x3F


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


@functools.lru_cache(maxsize=64)
def _keys_struct(n: int) -> struct.Struct:
    """n ell_key back to back (the layout of _KEY, repeated)."""
    return struct.Struct("=" + _KEY.format[1:] * n)


def _key_array(keys: List[Any], keep: List[Any]) -> Any:
    """An ell_key[] of keys (at least one element); keep holds its buffers."""
    n = len(keys)
    if not n or set(map(type, keys)) != {str}:
        arr = ffi.new("ell_key[]", max(1, n))
        for i, key in enumerate(keys):
            _fill_key(arr[i], key, keep)
        return arr
    # Every name in one buffer, each key pointing into it; all the keys
    # packed with one call (no Python code per key).
    names = [k.encode("utf-8") for k in keys]
    joined = ffi.from_buffer(b"".join(names))
    keep.append(joined)
    base = int(ffi.cast("uintptr_t", joined))
    lens = list(map(len, names))
    ptrs = map(base.__add__, itertools.accumulate(lens, initial=0))
    z = itertools.repeat(0)
    raw = bytearray(_keys_struct(n).pack(*itertools.chain.from_iterable(zip(ptrs, lens, z, itertools.repeat(b""), z, z))))
    keep.append(raw)
    return ffi.from_buffer("ell_key[]", raw)


def _packed_names(keys: List[Any], keep: List[Any]) -> Optional[Tuple[Any, Any]]:
    """keys as (names, name_lens) for the packed bulk calls when every key is
    a non-empty str (by name, default column); None otherwise. One C loop
    (elliptics._speedups) joins the UTF-8 names and writes their lengths."""
    packed = _speedups.pack_names(keys)
    if packed is None:
        return None
    keep.append(packed)
    return ffi.from_buffer(packed[0]), ffi.from_buffer("uint64_t[]", packed[1])


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

    # ---- statistics and watches ----------------------------------------

    def monitor_stat(
        self, address: Optional[AddressLike] = None, categories: int = monitor_stat_categories.all
    ) -> MonitorStatResult:
        """Statistics of the node at ``address``, or of every node of the route table (None).

        ``categories`` are :class:`monitor_stat_categories` bits. The call
        completes before it returns; ``result.get()`` gives one
        :class:`MonitorStatResultEntry` per node, whose ``statistics`` is the
        node's JSON as a dict (docs/monitoring.md). A node that cannot be asked
        has ``error`` set; the call raises only if every node failed."""
        return monitor_stat_call(self.handle, address, int(categories))

    def watch(self, key: Key, queue: int = 0) -> Watcher:
        """Watches a key in every group of this session: an event for every
        write and removal of it, whichever node the writer used.

        ``queue`` is the events each node keeps for this watcher before it
        drops and counts them (0: the node's default, 1024). Iterate the
        :class:`Watcher` (``for``/``async for``); close it (or use ``with``)
        to end the watch."""
        keep: List[Any] = []
        k = ffi.new("ell_key *")
        _fill_key(k, key, keep)
        out = ffi.new("ell_watch_t *")
        err = _lib.new_error()
        self._check(lib.ell_session_watch(self.handle, k, int(queue), out, err), err, "watch")
        return Watcher(int(out[0]))

    # ---- server-side scripts (EXEC) --------------------------------------

    def exec_(
        self,
        id_or_context: Union[None, Key, ExecContext] = None,
        event: str = "",
        data: Data = b"",
        src_key: int = -1,
        *,
        limits: Optional[ExecLimits] = None,
    ) -> ExecAsyncResult:
        """Runs ``event`` (``"script@function"``, a script stored with
        :meth:`put_script`) next to the data, with ``data`` as the function's
        input (the original's ``exec_(id_or_context, event, data, src_key)``).

        ``id_or_context`` None runs it once on every node of the route table
        (a fan-out: the script's ``key`` is None), one entry per node, a node
        that failed having ``error`` set (the call fails only if every node
        did). A key (str, bytes or :class:`Id`), or an :class:`ExecContext`
        naming one, runs it on the node that owns the key, trying the
        session's groups in order while a node cannot be reached; one entry.
        ``src_key`` is passed back in each entry's ``context``. ``limits``
        (:class:`ExecLimits`) lower the node's script limits.

        Returns an :class:`ExecAsyncResult` at once (``get()``, ``wait()``,
        iteration, ``await``). Script failures raise like any call: a budget
        exceeded :class:`TooLargeError`, the time limit
        :class:`TimeoutError`, a script error :class:`InvalidError`, a missing
        script :class:`NotFoundError`."""
        if isinstance(id_or_context, ExecContext):
            key: Any = id_or_context.src_id
            if not event:
                event = id_or_context.event
        else:
            key = id_or_context
        if limits is not None and not isinstance(limits, ExecLimits):
            raise TypeError("limits must be an elliptics.ExecLimits, not %s" % type(limits).__name__)
        payload = bytes(data.encode("utf-8") if isinstance(data, str) else data or b"")
        keep: List[Any] = []
        k: Any = ffi.NULL
        if key is not None:
            k = ffi.new("ell_key *")
            _fill_key(k, key, keep)
        h = self.handle
        ev, sk = event, int(src_key)

        def run() -> List[ExecResultEntry]:
            _ = (keep, self)  # alive until the call returns
            return exec_call(h, k, ev, payload, limits, sk)

        return ExecAsyncResult(submit(run), self._policy)

    #: ``exec`` is no keyword in Python 3: the same call as :meth:`exec_`.
    exec = exec_

    def run_jobs(
        self,
        event: str,
        keys: Iterable[str],
        data: Data = b"",
        concurrency: int = 16,
        limits: Optional[ExecLimits] = None,
        progress: Optional[JobProgress] = None,
    ) -> List[ExecResultEntry]:
        """The job manager: runs ``event`` on the owner of every key, with
        ``data`` as input, ``concurrency`` at a time, so the work spreads over
        the nodes as the keys do; a job whose node cannot be reached is
        retried in the session's next group.

        Blocks until every job ran and returns one :class:`ExecResultEntry`
        per key, in the order of ``keys``; a failed job has ``error`` set
        (the call itself raises only on bad arguments). ``progress(done,
        total)`` is called after each job, on a library thread; an exception
        from it stops starting jobs and is raised."""
        payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        return run_jobs_call(self.handle, event, list(keys), payload, int(concurrency), limits, progress)

    def put_script(self, name: str, source: Union[str, bytes]) -> ScriptInfo:
        """Stores ``source`` (Starlark, UTF-8, at most 1 MiB) as the next
        version of script ``name`` (1 for a new one) in every group, and
        tells every node to drop its cached copy. A script that does not
        compile raises :class:`InvalidError`."""
        src = source.encode("utf-8") if isinstance(source, str) else bytes(source)
        j = script_call(lib.ell_session_script_put, "put_script " + name, self.handle, name.encode("utf-8"), src, len(src))
        return ScriptInfo._from_json(j)

    def get_script(self, name: str, version: int = 0) -> ScriptRecord:
        """Version ``version`` of script ``name`` (0: the latest), with its
        source; :class:`NotFoundError` when there is none."""
        j = script_call(lib.ell_session_script_get, "get_script " + name, self.handle, name.encode("utf-8"), int(version))
        return ScriptRecord._from_json(j)

    def list_scripts(self) -> List[ScriptInfo]:
        """Every stored script's latest version, by name."""
        return [ScriptInfo._from_json(j) for j in script_call(lib.ell_session_script_list, "list_scripts", self.handle)]

    def remove_script(self, name: str) -> None:
        """Removes script ``name``, every version of it (:class:`NotFoundError` when missing)."""
        err = _lib.new_error()
        self._check(lib.ell_session_script_remove(self.handle, name.encode("utf-8"), err), err, "remove_script " + name)

    # ---- recovery -------------------------------------------------------

    def _recovery_nodes(self, address: Optional[AddressLike]) -> List[AddressLike]:
        return [address] if address is not None else list(self.get_routes().addresses())

    def start_recovery(
        self,
        kind: str,
        address: Optional[AddressLike] = None,
        group: Optional[int] = None,
        backend: Optional[int] = None,
        dry_run: bool = False,
        verify: bool = False,
        rate: int = 0,
        objects_rate: int = 0,
    ) -> List[RecoveryJob]:
        """Starts a recovery job (``kind`` "merge" or "dc") on each selected backend of a node.

        With ``address`` None, on every node of the route table. ``group`` and
        ``backend`` select backends; ``dry_run`` only plans; ``verify`` (dc)
        first checks local records against their checksums; ``rate`` (bytes/s)
        and ``objects_rate`` limit the run beyond the node's own limits.
        Returns the jobs started."""
        req = start_request(kind, group, backend, dry_run, verify, rate, objects_rate)
        jobs: List[RecoveryJob] = []
        for a in self._recovery_nodes(address):
            jobs.extend(recovery_call(self.handle, a, req))
        return jobs

    def recovery_status(self, address: Optional[AddressLike] = None) -> List[RecoveryJob]:
        """The recovery jobs a node knows (every node's with ``address`` None), newest first."""
        jobs: List[RecoveryJob] = []
        for a in self._recovery_nodes(address):
            jobs.extend(recovery_call(self.handle, a, {"action": "status", "backend": -1}))
        return jobs

    def _control_recovery(self, action: str, address: AddressLike, job_id: int) -> RecoveryJob:
        jobs = recovery_call(self.handle, address, {"action": action, "job": int(job_id), "backend": -1})
        if len(jobs) != 1:
            raise make_error(-71, "%s_recovery: %d jobs in the reply, want 1" % (action, len(jobs)))
        return jobs[0]

    def pause_recovery(self, address: AddressLike, job_id: int) -> RecoveryJob:
        """Pauses a running recovery job; returns its status."""
        return self._control_recovery("pause", address, job_id)

    def resume_recovery(self, address: AddressLike, job_id: int) -> RecoveryJob:
        """Resumes a paused recovery job; returns its status."""
        return self._control_recovery("resume", address, job_id)

    def stop_recovery(self, address: AddressLike, job_id: int) -> RecoveryJob:
        """Stops a recovery job for good; returns its status."""
        return self._control_recovery("stop", address, job_id)

    def forget_node(self, address: AddressLike, gone: AddressLike) -> None:
        """Tells the node at ``address`` that node ``gone`` left for good (``elliptics node remove``).

        The backends that took over its ranges fill them from the other groups
        at once instead of after ``leave_after``."""
        recovery_call(self.handle, address, {"action": "forget", "address": to_remote(gone), "backend": -1})

    # ---- data calls -----------------------------------------------------

    def _start(self, func: Any, *args: Any, entry: Any = None, pin: Any = None) -> AsyncResult:
        """Starts an asynchronous call: func(session, *args, completion, out, err).

        entry copies the entries out (default ResultEntry._from_c); pin is kept
        alive with the result's handle (a converter's state)."""
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
            if pin is not None:
                pin.release(True)  # never called
            if self._policy & exceptions_policy.throw_at_start:
                raise make_error(rc, text)
            return AsyncResult._failed(rc, text, self._policy)
        r = AsyncResult(sc.out[0], self._policy, lq, self, entry)
        if pin is not None:
            r._pin = pin
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

    def write_data(self, key: Key, data: Data, offset: int = 0, chunk_size: int = 0, ttl: TTL = None) -> AsyncResult:
        """Writes data at offset to every session group, in parallel; one entry per group.

        The checker decides the status of the whole call. ``chunk_size`` is
        accepted for compatibility (the library streams large values itself).
        ``ttl`` gives the value a lifetime in seconds (or a timedelta): once
        it ends the value is invisible to every read, lookup and iteration;
        ``entry.expire`` tells when. Without it an offset write or an append
        (``session.ioflags = io_flags.append``) keeps the value's lifetime.
        """
        if ttl is not None:
            return self._write(key, data, offset=offset, ttl=ttl)
        k, keep = self._key(key)
        buf = _data_buffer(data)
        return self._start(lib.ell_session_write_data, k, buf, len(buf), int(offset))

    def _write(
        self,
        key: Key,
        data: Data,
        offset: int = 0,
        flags: int = 0,
        total_size: int = 0,
        ttl: TTL = None,
        cas: Any = None,
    ) -> AsyncResult:
        """ell_session_write with options."""
        k, keep = self._key(key)
        buf = _data_buffer(data)
        o = ffi.new("ell_write_options *")
        o.offset = int(offset)
        o.flags = int(flags)
        o.total_size = int(total_size)
        o.ttl_ms = ttl_ms(ttl)
        if cas is not None:
            o.has_cas = 1
            ffi.memmove(o.cas, csum_bytes(cas), 64)
        return self._start(lib.ell_session_write, k, buf, len(buf), o)

    def write_cas(
        self,
        key: Key,
        data: Union[Data, Callable[[bytes], Data]],
        old_csum: Any = None,
        remote_offset: int = 0,
        count: int = 10,
    ) -> AsyncResult:
        """Compare-and-swap writes, in the original's two forms.

        ``write_cas(key, data, old_csum, remote_offset=0)`` writes data at
        remote_offset only if the SHA-512 of the stored value is old_csum (an
        :class:`Id`, 64 bytes or hex; ``hashlib.sha512(value).digest()``), or
        the key is absent; otherwise the call fails with
        :class:`CompareAndSwapError` (code -77).

        ``write_cas(key, converter, remote_offset=0, count=10)`` is a
        read-modify-write that loses no concurrent update: it reads the newest
        copy, calls ``converter(current: bytes) -> bytes`` (``b""`` for an
        absent key) on a library thread, and writes the result only if the
        value did not change meanwhile, retrying up to count times in all.
        An exception in the converter ends the call with its code (-22 for
        non-elliptics exceptions).
        """
        if callable(data):
            if old_csum is not None:
                # Positional write_cas(key, converter, remote_offset[, count]):
                # the arguments arrive one place to the left.
                remote_offset, count = int(old_csum), int(remote_offset or count)
            st = CasState(data)
            k, keep = self._key(key)
            return self._start(
                lib.ell_session_write_cas,
                k,
                lib._ell_py_cas_converter,
                st.handle,
                int(remote_offset),
                int(count),
                pin=st,
            )
        if old_csum is None:
            raise TypeError("write_cas(key, data, old_csum, remote_offset=0): old_csum is required with data")
        return self._write(key, data, offset=remote_offset, cas=old_csum)

    def write_prepare(self, key: Key, data: Data, remote_offset: int, psize: int, ttl: TTL = None) -> AsyncResult:
        """Starts a chunked upload: reserves psize bytes and writes data at
        remote_offset. The value stays invisible (reads: NotFoundError) until
        :meth:`write_commit`; ``ttl`` bounds how long the upload may take."""
        return self._write(key, data, offset=remote_offset, flags=_WRITE_PREPARE, total_size=psize, ttl=ttl)

    def write_plain(self, key: Key, data: Data, remote_offset: int) -> AsyncResult:
        """Writes a chunk of an upload started with :meth:`write_prepare` at remote_offset."""
        return self._write(key, data, offset=remote_offset, flags=_WRITE_PLAIN)

    def write_commit(self, key: Key, data: Data, remote_offset: int, csize: int, ttl: TTL = None) -> AsyncResult:
        """Writes the last chunk of an upload at remote_offset, sets the final
        size to csize (at most the reservation) and makes the value visible."""
        return self._write(key, data, offset=remote_offset, flags=_WRITE_COMMIT, total_size=csize, ttl=ttl)

    def write_cache(self, key: Key, data: Data, timeout: TTL) -> AsyncResult:
        """Writes a value that lives timeout seconds (the original's cache
        write; here the lifetime is kept by the backends themselves)."""
        return self._write(key, data, ttl=timeout)

    def write_data_cas_timestamp(self, key: Key, data: Data, offset: int = 0) -> AsyncResult:
        """Writes data only if the stored timestamp is not newer than the
        write's (the session timestamp, or the node's clock); otherwise
        :class:`CompareAndSwapError`. ``session.ioflags |= io_flags.cas_timestamp``
        does the same for every write."""
        return self._write(key, data, offset=offset, flags=_WRITE_CAS_TIMESTAMP)

    # ---- files ----------------------------------------------------------

    def write_file(
        self,
        key: Key,
        filename: PathLike,
        offset: int = 0,
        local_offset: int = 0,
        size: int = 0,
        *,
        chunk_size: int = 0,
        progress: Optional[Progress] = None,
        ttl: TTL = None,
    ) -> AsyncResult:
        """Writes ``size`` bytes of the local file ``filename`` from byte
        ``local_offset`` (size 0: to the end of the file) to key in every
        session group; the entries are those of the last request, one per
        group, as :meth:`write_data`'s.

        The library reads the file itself, ``chunk_size`` bytes (default
        4 MiB) per request, so memory stays at about one chunk whatever the
        file's size. With ``offset`` 0 the transfer is a chunked upload
        (:meth:`write_prepare`, :meth:`write_plain`, :meth:`write_commit`):
        it replaces the object, which stays invisible until the last chunk.
        A non-zero ``offset`` writes into the object as it is, each chunk as
        :meth:`write_data` at its offset: every chunk is visible once
        written, and a failure leaves the chunks before it in place.

        Keyword-only: ``progress(done, total)`` is called on a library
        thread after every chunk with the bytes sent so far; an exception
        in it stops the transfer (the result fails with its elliptics code,
        else -125). ``ttl`` gives the value a lifetime, as in write_data.

        A file that cannot be read raises its OSError (FileNotFoundError,
        PermissionError) at once, and a slice past its end ValueError.
        """
        path = path_bytes(filename)
        check_source(path, int(local_offset), int(size))
        o, st = file_options(offset, local_offset, size, chunk_size, ttl_ms(ttl), progress)
        return self._start_file(lib.ell_session_write_file, key, path, o, st)

    def read_file(
        self,
        key: Key,
        filename: PathLike,
        offset: int = 0,
        size: int = 0,
        *,
        chunk_size: int = 0,
        progress: Optional[Progress] = None,
    ) -> AsyncResult:
        """Reads ``size`` bytes of the object from ``offset`` (size 0: to
        its end) into the local file ``filename``, created if missing (mode
        0644). One entry, as :meth:`read_data`'s but without data: its
        ``offset`` is the first byte read, ``size`` the bytes written to the
        file, ``total_size`` the object's size.

        The library writes the file itself in ranged reads of
        ``chunk_size`` bytes (default 4 MiB) from the first group that has
        the key, so memory stays at about one chunk. The file is truncated
        only once the first chunk arrived: a missing key
        (:class:`NotFoundError`) leaves an existing file as it was and
        removes one the call created; a failure midway leaves the bytes read
        so far. An object that changes while it is read fails with
        :class:`CompareAndSwapError` (-77). ``progress`` as in
        :meth:`write_file`.

        A directory that does not exist raises FileNotFoundError at once.
        """
        path = path_bytes(filename)
        check_target(path)
        o, st = file_options(offset, 0, size, chunk_size, 0, progress)
        return self._start_file(lib.ell_session_read_file, key, path, o, st)

    def _start_file(self, func: Any, key: Key, path: bytes, o: Any, st: Any) -> AsyncResult:
        """Starts a file transfer; the progress state st (or None) is
        released if the call raises before the library took it."""
        try:
            k, keep = self._key(key)
            return self._start(func, k, path, o, pin=st)
        except BaseException:
            if st is not None:
                st.release(True)
            raise

    # ---- ID ranges ------------------------------------------------------

    def read_data_range(self, range: Range) -> AsyncResult:
        """Reads the records of an :class:`elliptics.Range`: one entry per
        record, sorted by ID, with its data. With ``io_flags.nodata`` in
        ``range.ioflags`` it counts them instead: one entry whose ``count``
        (``io_attribute.num``) is the number."""
        if not isinstance(range, Range):
            raise TypeError("read_data_range: expected an elliptics.Range")
        if range.ioflags & io_flags.nodata:
            return self._start(lib.ell_session_count_range, range._to_c())
        return self._start(lib.ell_session_read_range, range._to_c())

    def remove_data_range(self, range: Range) -> AsyncResult:
        """Removes the records of an :class:`elliptics.Range` (limits
        applied): one entry whose ``count`` (``io_attribute.num``) is how
        many were removed, 0 when none were left."""
        if not isinstance(range, Range):
            raise TypeError("remove_data_range: expected an elliptics.Range")
        return self._start(lib.ell_session_remove_range, range._to_c())

    # ---- server-side iterators ------------------------------------------

    def _iterator_address(self, id: Any) -> str:
        """The "host:port" an iterator runs on: an Address or "host:port", or
        the owner of an Id in its group (0: the session's first group)."""
        if isinstance(id, Address):
            return id.host_port()
        if isinstance(id, str) and ":" in id:
            return to_remote(id)
        if not isinstance(id, Id):
            raise TypeError("expected an elliptics.Id, Address or 'host:port', not %s" % type(id).__name__)
        group = id.group_id or (self.get_groups() or [0])[0]
        return self.lookup_address(id, group).host_port()

    def _iterate(
        self,
        id: Any,
        ranges: Optional[Iterable[Any]],
        flags: int,
        time_begin: Any,
        time_end: Any,
        copy_groups: Optional[Sequence[int]],
        backend_id: Optional[int],
        window: int,
    ) -> AsyncResult:
        o = ffi.new("ell_iterator_options *")
        keep: List[Any] = []
        if isinstance(id, (Address, str)):
            if backend_id is None:
                raise TypeError("start_iterator: an address needs backend_id")
            addr = ffi.new("char[]", self._iterator_address(id).encode())
            keep.append(addr)
            o.address = addr
            o.backend_id = int(backend_id)
        elif isinstance(id, Id):
            if backend_id is not None:
                addr = ffi.new("char[]", self._iterator_address(id).encode())
                keep.append(addr)
                o.address = addr
                o.backend_id = int(backend_id)
            o.group_id = id.group_id
            ffi.memmove(o.id, id.to_bytes(), 64)
        else:
            raise TypeError("start_iterator: id is an elliptics.Id or an address, not %s" % type(id).__name__)
        rs = []
        for r in ranges or ():
            if isinstance(r, IteratorRange):
                rs.append((r.key_begin, r.key_end))
            else:
                b, e = r
                rs.append((Id(b), Id(e)))
        if rs:
            arr = ffi.new("ell_iterator_range[]", len(rs))
            for i, (b, e) in enumerate(rs):
                ffi.memmove(arr[i].start, b.to_bytes(), 64)
                ffi.memmove(arr[i].end, e.to_bytes(), 64)
            keep.append(arr)
            o.ranges = arr
            o.range_count = len(rs)
        o.time_begin_tsec, o.time_begin_tnsec = time_pair(time_begin)
        o.time_end_tsec, o.time_end_tnsec = time_pair(time_end)
        o.flags = int(flags) & _ITERATOR_FLAGS
        if copy_groups:
            gs = ffi.new("uint32_t[]", [int(g) for g in copy_groups])
            keep.append(gs)
            o.copy_groups = gs
            o.copy_group_count = len(copy_groups)
        o.window = int(window)
        return self._start(lib.ell_session_start_iterator, o, entry=IteratorResultEntry._from_c)

    def start_iterator(
        self,
        id: Any,
        ranges: Optional[Iterable[Any]] = None,
        type: int = iterator_types.network,
        flags: int = iterator_flags.default,
        time_begin: Any = None,
        time_end: Any = None,
        *,
        backend_id: Optional[int] = None,
        window: int = 0,
    ) -> AsyncResult:
        """Starts a server-side iterator and returns its result, whose
        :class:`IteratorResultEntry` entries stream as the node sends them
        (iterate it; ``entry.id`` is the iterator's id for
        :meth:`pause_iterator` and friends).

        ``id`` selects the backend: an :class:`Id` (the owner of that ID in
        ``id.group_id``, or the session's first group), or an
        :class:`Address`/"host:port" with ``backend_id``. ``ranges``:
        :class:`IteratorRange` or (begin, end) pairs, both ends inclusive;
        none means every record. ``flags``: :class:`iterator_flags` (``data``
        sends the values, ``no_meta`` leaves metadata out); ``time_begin`` and
        ``time_end`` (:class:`Time`, seconds, or None for open) keep records
        whose timestamp lies in between. Iterating reads at most ``window``
        entries ahead (default 64), so a reader that stops holds the node
        back; ``get()`` collects everything."""
        if int(type) == iterator_types.server_send:
            raise InvalidError(format_message("start_iterator: use start_copy_iterator for server_send", -22), -22)
        if int(type) != iterator_types.network:
            raise InvalidError(format_message("start_iterator: only iterator_types.network is supported", -95), -95)
        return self._iterate(id, ranges, flags, time_begin, time_end, None, backend_id, window)

    def start_copy_iterator(
        self,
        id: Any,
        ranges: Optional[Iterable[Any]],
        dst_groups: Sequence[int],
        flags: int = iterator_flags.default,
        time_begin: Any = None,
        time_end: Any = None,
        *,
        backend_id: Optional[int] = None,
        window: int = 0,
    ) -> AsyncResult:
        """Starts a copy iterator (server-send): the node writes every record
        it visits to dst_groups itself; one entry per record and destination
        group (``entry.group_id``), whose status is the copy's
        (:class:`CompareAndSwapError` code -77 without
        ``iterator_flags.overwrite`` when the destination has newer data,
        which it keeps). ``iterator_flags.move`` removes each copied record.
        Other arguments as :meth:`start_iterator`."""
        groups = [int(g) for g in dst_groups]
        if not groups:
            raise InvalidError(format_message("start_copy_iterator: no destination groups", -22), -22)
        return self._iterate(id, ranges, flags, time_begin, time_end, groups, backend_id, window)

    def _control(self, id: Any, iterator_id: int, action: int) -> AsyncResult:
        addr = self._iterator_address(id).encode()
        return self._start(
            lib.ell_session_iterator_control, addr, int(iterator_id), action, entry=IteratorResultEntry._from_c
        )

    def pause_iterator(self, id: Any, iterator_id: int) -> AsyncResult:
        """Pauses iterator iterator_id on the node of id (an :class:`Id`, as
        in start_iterator, or the :class:`Address` of the node, such as an
        entry's ``address``). One entry with its progress; NotFoundError when
        the node does not know the iterator (it finished or was canceled)."""
        return self._control(id, iterator_id, lib.ELL_ITERATOR_PAUSE)

    def continue_iterator(self, id: Any, iterator_id: int) -> AsyncResult:
        """Resumes a paused iterator (as :meth:`pause_iterator`)."""
        return self._control(id, iterator_id, lib.ELL_ITERATOR_CONTINUE)

    def cancel_iterator(self, id: Any, iterator_id: int) -> AsyncResult:
        """Cancels an iterator (as :meth:`pause_iterator`); its result then
        completes without an error."""
        return self._control(id, iterator_id, lib.ELL_ITERATOR_CANCEL)

    def server_send(self, keys: Iterable[Key], flags: int, groups: Sequence[int]) -> AsyncResult:
        """Asks the nodes holding keys in the session's first group to copy
        them to groups themselves. One entry per key and group
        (``key_index``, ``group_id`` the destination); ``flags``:
        ``iterator_flags.move`` removes the sources, ``iterator_flags.overwrite``
        overwrites newer data (otherwise such a key fails with code -77 and
        the destination keeps its data). Fails if any copy failed."""
        ks = list(keys)
        keep: List[Any] = []
        arr = _key_array(ks, keep)
        gs = [int(g) for g in groups]
        garr = ffi.new("uint32_t[]", gs or 1)
        return self._start(lib.ell_session_server_send, arr, len(ks), garr, len(gs), int(flags))

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
        if ks:
            packed = _packed_names(ks, keep)
            if packed is not None:
                return self._start(lib.ell_session_bulk_read_names, packed[0], packed[1], len(ks))
        arr = _key_array(ks, keep)
        return self._start(lib.ell_session_bulk_read, arr, len(ks))

    def bulk_write(self, datas: Union[Mapping[Key, Data], Iterable[Tuple[Key, Data]]]) -> AsyncResult:
        """Writes many keys: a dict {key: data} or pairs (key, data). Entries of
        every key and group (``entry.key_index`` says which key); fails if any
        key's write fails its checker."""
        if isinstance(datas, Mapping):
            keys, values = list(datas.keys()), list(datas.values())
        else:
            pairs = [tuple(p) for p in datas]
            keys, values = [k for k, _ in pairs], [d for _, d in pairs]
        n = len(keys)
        keep: List[Any] = []
        if n:
            # Names and values each packed in one buffer (one copy, no
            # object per value) when the keys are names and the values bytes-like.
            packed = _packed_names(keys, keep)
            if packed is not None:
                joined = _speedups.pack_values(values)
                if joined is not None:  # else a str value (encoded below) or not data at all
                    keep.append(joined)
                    return self._start(
                        lib.ell_session_bulk_write_names,
                        packed[0],
                        packed[1],
                        ffi.from_buffer(joined[0]),
                        ffi.from_buffer("uint64_t[]", joined[1]),
                        n,
                    )
        karr = _key_array(keys, keep)
        bufs = [_data_buffer(d) for d in values]  # alive until the call returns
        # Arrays built from lists: one C loop each, not a store per element.
        parr = ffi.new("const void *[]", bufs or 1)
        sarr = ffi.new("uint64_t[]", [len(b) for b in bufs] or 1)
        return self._start(lib.ell_session_bulk_write, karr, parr, sarr, n)

    def __repr__(self) -> str:
        if not self._handle:
            return "<elliptics.Session closed>"
        return "<elliptics.Session groups %s>" % self.get_groups()
