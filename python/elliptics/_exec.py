"""Server-side scripts: exec (the original's ``exec_``), the job manager and
script management, over the JSON calls of the C ABI (``ell_session_exec``,
``ell_session_run_jobs``, ``ell_session_script_*``).

Those calls are synchronous; :meth:`Session.exec_` runs its call on a
worker thread (the GIL is released inside the library) and returns an
:class:`ExecAsyncResult` at once, which is waited on like an
:class:`AsyncResult`: ``get()``, ``wait()``, iteration or ``await``.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import dataclasses
import datetime
import json
import threading
import time as _time
from typing import Any, Callable, Dict, Generator, Iterator, List, Mapping, Optional, Sequence

from . import _lib
from ._enums import exceptions_policy
from ._errors import ErrorInfo, make_error
from ._files import ProgressState
from ._lib import ffi, lib
from ._values import Address, Id, Time, parse_entry_address

__all__ = [
    "ExecLimits",
    "ExecContext",
    "ExecResultEntry",
    "ExecAsyncResult",
    "ScriptInfo",
    "ScriptRecord",
    "JobProgress",
]

_U64 = (1 << 64) - 1
_ETIMEDOUT = -110

#: The progress of :meth:`Session.run_jobs`: ``progress(done, total)`` after each job.
JobProgress = Callable[[int, int], Any]


@dataclasses.dataclass(frozen=True)
class ExecLimits:
    """Lowers the node's script limits for one call (``ell_exec_limits``).

    Zero fields keep the node's limits; a node never raises its limits for a
    caller. ``steps``: Starlark steps; ``timeout``: wall time in seconds;
    ``read_bytes`` / ``write_bytes``: bytes the script may read / write;
    ``result_bytes``: the size of the function's result; ``memory``: heap
    bytes. A steps, bytes or memory budget exceeded raises
    :class:`elliptics.TooLargeError`, the time limit
    :class:`elliptics.TimeoutError`."""

    steps: int = 0
    timeout: float = 0.0
    read_bytes: int = 0
    write_bytes: int = 0
    result_bytes: int = 0
    memory: int = 0

    def _to_c(self) -> Any:
        """The ``ell_exec_limits`` of these limits."""
        c = ffi.new("ell_exec_limits *")
        for name in ("steps", "read_bytes", "write_bytes", "result_bytes", "memory"):
            v = int(getattr(self, name))
            if not 0 <= v <= _U64:
                raise ValueError("ExecLimits.%s must be in [0, 2**64), got %d" % (name, v))
            setattr(c, name, v)
        t = float(self.timeout)
        if t < 0:
            raise ValueError("ExecLimits.timeout must not be negative, got %r" % (self.timeout,))
        # A positive timeout under a millisecond is one millisecond, not "none".
        c.timeout_ms = max(1, int(round(t * 1000))) if t > 0 else 0
        return c


@dataclasses.dataclass(frozen=True)
class ExecContext:
    """What an exec ran, as the original's ``exec_context``: the event
    (``"script@function"``), the result ``data``, the ``src_key`` the caller
    passed (-1 by default), the key's ``src_id`` (None for a fan-out) and the
    ``address`` of the node that ran it."""

    event: str
    data: bytes
    src_key: int
    src_id: Optional[Id]
    address: Optional[Address]


@dataclasses.dataclass(frozen=True)
class ExecResultEntry:
    """One run of a script: the node and group that ran it and what its
    function returned (``data``: bytes, str results UTF-8 encoded, other
    values as JSON), or the ``error`` that stopped it.

    ``key`` is the key the script ran on (None for a fan-out), ``id`` its ID;
    ``duration`` (also ``seconds``) the time the node spent, in seconds."""

    event: str
    key: Optional[str]
    id: Optional[Id]
    address: Optional[Address]
    group: int
    data: bytes
    duration: float
    error: ErrorInfo
    src_key: int = -1

    @property
    def seconds(self) -> float:
        """The time the node spent running the script, in seconds (``duration``)."""
        return self.duration

    @property
    def status(self) -> int:
        """0, or the negative code of the failure (``error.code``)."""
        return self.error.code

    @property
    def context(self) -> ExecContext:
        """The original's ``exec_context``: event, data, src_key, src_id, address."""
        return ExecContext(self.event, self.data, self.src_key, self.id, self.address)

    def successful(self) -> bool:
        """Whether the script ran and returned."""
        return self.error.code == 0

    @classmethod
    def _from_json(cls, j: Mapping[str, Any], src_key: int = -1, fan_out: bool = False) -> "ExecResultEntry":
        e = j.get("error")
        info = ErrorInfo(int(e.get("code", -5)), str(e.get("message", ""))) if e else ErrorInfo()
        raw_id = j.get("id")
        return cls(
            event=str(j.get("event", "")),
            key=None if fan_out else str(j.get("key", "")),
            id=Id.from_hex(raw_id) if raw_id else None,
            address=parse_entry_address(str(j.get("address", ""))),
            group=int(j.get("group", 0)),
            data=base64.b64decode(j["data"]) if j.get("data") else b"",
            duration=float(j.get("seconds", 0.0)),
            error=info,
            src_key=src_key,
        )


@dataclasses.dataclass(frozen=True)
class ScriptInfo:
    """A stored script's version: ``name``, ``version`` (1 for the first),
    source ``size`` in bytes, when it was ``updated`` (UTC) and the
    ``sha256`` of its source (hex)."""

    name: str
    version: int
    size: int
    updated: datetime.datetime
    sha256: str

    @staticmethod
    def _fields_from_json(j: Mapping[str, Any]) -> Dict[str, Any]:
        return dict(
            name=str(j.get("name", "")),
            version=int(j.get("version", 0)),
            size=int(j.get("size", 0)),
            updated=_parse_time(str(j.get("updated", ""))),
            sha256=str(j.get("sha256", "")),
        )

    @classmethod
    def _from_json(cls, j: Mapping[str, Any]) -> "ScriptInfo":
        return cls(**cls._fields_from_json(j))


@dataclasses.dataclass(frozen=True)
class ScriptRecord(ScriptInfo):
    """A stored script: its :class:`ScriptInfo` fields and its ``source``."""

    source: str = ""

    @classmethod
    def _from_json(cls, j: Mapping[str, Any]) -> "ScriptRecord":
        return cls(source=str(j.get("source", "")), **cls._fields_from_json(j))


def _parse_time(s: str) -> datetime.datetime:
    """An RFC 3339 time from Go (nanoseconds cut to microseconds), in UTC."""
    if not s:
        return datetime.datetime.fromtimestamp(0, datetime.timezone.utc)
    s = s.replace("Z", "+00:00")
    head, sep, rest = s.partition(".")
    if sep:  # fractional seconds: keep at most 6 digits
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        s = head + "." + (digits[:6] or "0") + rest
    t = datetime.datetime.fromisoformat(s)
    return t.astimezone(datetime.timezone.utc)


def _take_json(out: Any) -> Any:
    try:
        return json.loads(ffi.string(out.data, out.size).decode())
    finally:
        lib.ell_json_free(out)


def _event_bytes(event: str) -> bytes:
    if not isinstance(event, str) or "@" not in event:
        raise make_error(-22, "exec: event %r: want \"script@function\"" % (event,))
    return event.encode("utf-8")


def _data_bytes(data: Any) -> bytes:
    if data is None:
        return b""
    if isinstance(data, str):
        return data.encode("utf-8")
    return bytes(data)


def exec_call(handle: int, key: Any, event: str, data: bytes, limits: Optional[ExecLimits], src_key: int) -> List[ExecResultEntry]:
    """Runs ``ell_session_exec`` (key: a filled ``ell_key *`` or NULL) and
    returns its entries; raises the call's error."""
    ev = _event_bytes(event)
    lim = limits._to_c() if limits is not None else ffi.NULL
    out = ffi.new("ell_json *")
    err = _lib.new_error()
    rc = lib.ell_session_exec(handle, key, ev, data, len(data), lim, out, err)
    _lib.raise_for(rc, err, "exec " + event)
    j = _take_json(out)
    if isinstance(j, list):
        return [ExecResultEntry._from_json(x, src_key, fan_out=True) for x in j]
    return [ExecResultEntry._from_json(j, src_key)]


def run_jobs_call(
    handle: int,
    event: str,
    keys: Sequence[str],
    data: bytes,
    concurrency: int,
    limits: Optional[ExecLimits],
    progress: Optional[JobProgress],
) -> List[ExecResultEntry]:
    """Runs ``ell_session_run_jobs`` and returns one entry per key, in order."""
    ev = _event_bytes(event)
    bufs = []
    for k in keys:
        b = k.encode("utf-8") if isinstance(k, str) else bytes(k)
        if not b or b"\0" in b:
            raise make_error(-22, "run_jobs: key %r: empty or with NUL" % (k,))
        bufs.append(ffi.new("char[]", b))
    arr = ffi.new("const char *[]", bufs) if bufs else ffi.NULL
    lim = limits._to_c() if limits is not None else ffi.NULL
    st: Optional[ProgressState] = None
    cb: Any = ffi.NULL
    ud: Any = ffi.NULL
    if progress is not None:
        if not callable(progress):
            raise TypeError("progress must be callable(done, total)")
        st = ProgressState(progress)
        cb, ud = lib._ell_py_progress, st.handle
    out = ffi.new("ell_json *")
    err = _lib.new_error()
    try:
        rc = lib.ell_session_run_jobs(handle, ev, arr, len(bufs), data, len(data), int(concurrency), lim, cb, ud, out, err)
    finally:
        if st is not None:
            st.release(True)
    if rc != 0 and st is not None and st.error is not None:
        raise st.error
    _lib.raise_for(rc, err, "run_jobs " + event)
    return [ExecResultEntry._from_json(x) for x in _take_json(out)]


def script_call(func: Any, what: str, *args: Any) -> Any:
    """Runs an ``ell_session_script_*`` call answering JSON and returns the parsed reply."""
    out = ffi.new("ell_json *")
    err = _lib.new_error()
    rc = func(*args, out, err)
    _lib.raise_for(rc, err, what)
    return _take_json(out)


# ---- the worker threads of exec_ ------------------------------------------

_pool: Optional[concurrent.futures.ThreadPoolExecutor] = None
_pool_lock = threading.Lock()


def _executor() -> concurrent.futures.ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(max_workers=64, thread_name_prefix="elliptics-exec")
        return _pool


def _reset_in_child() -> None:
    global _pool
    _pool = None  # the parent's threads do not exist in a forked child


_lib.on_child(_reset_in_child)


def submit(fn: Callable[[], List[ExecResultEntry]]) -> "concurrent.futures.Future[List[ExecResultEntry]]":
    """Runs fn on a worker thread."""
    return _executor().submit(fn)


class ExecAsyncResult:
    """The result of :meth:`Session.exec_`, consumed like an
    :class:`AsyncResult`: :meth:`get` (a list of :class:`ExecResultEntry`),
    :meth:`wait`, iteration, ``await`` (without blocking the event loop).
    Whether a failed call raises follows the session's exceptions policy at
    the time of the call."""

    def __init__(self, future: "concurrent.futures.Future[List[ExecResultEntry]]", policy: int) -> None:
        self._future = future
        self._policy = int(policy)
        self._start = _time.monotonic()
        self._end: Optional[float] = None
        future.add_done_callback(self._on_done)

    def _on_done(self, _f: Any) -> None:
        self._end = _time.monotonic()

    def _outcome(self, timeout: Optional[float]) -> List[ExecResultEntry]:
        """The entries, or raises the call's error (an elliptics Error)."""
        try:
            return self._future.result(timeout)
        except concurrent.futures.TimeoutError:
            raise make_error(_ETIMEDOUT, "result not ready in %.3fs" % (timeout or 0.0)) from None

    def _wait_done(self, timeout: Optional[float]) -> None:
        try:
            self._future.exception(timeout)
        except concurrent.futures.TimeoutError:
            raise make_error(_ETIMEDOUT, "result not ready in %.3fs" % (timeout or 0.0)) from None

    def _entries_or_raise(self, bit: int) -> List[ExecResultEntry]:
        e = self._future.exception()
        if e is None:
            return self._future.result()
        if self._policy & bit or not hasattr(e, "code"):
            raise e
        return []

    def get(self, timeout: Optional[float] = None) -> List[ExecResultEntry]:
        """Waits and returns the entries: one for a key, one per node for a
        fan-out. Raises the call's error if the policy has ``throw_at_get``
        (the default); with ``timeout`` (seconds) raises
        :class:`elliptics.TimeoutError` if the call is still running then."""
        self._wait_done(timeout)
        return self._entries_or_raise(exceptions_policy.throw_at_get)

    def wait(self, timeout: Optional[float] = None) -> None:
        """Waits for the call; raises its error if the policy has ``throw_at_wait``."""
        self._wait_done(timeout)
        self._entries_or_raise(exceptions_policy.throw_at_wait)

    def ready(self) -> bool:
        """True once the call completed (does not wait)."""
        return self._future.done()

    def successful(self) -> bool:
        """Waits, then tells whether the call succeeded (never raises for its status)."""
        return self._future.exception() is None

    def error(self) -> ErrorInfo:
        """Waits, then returns the call's status as an :class:`ErrorInfo` (code 0 on success)."""
        e = self._future.exception()
        if e is None:
            return ErrorInfo()
        return ErrorInfo(int(getattr(e, "code", -5)), str(e))

    def elapsed_time(self) -> Time:
        """Time from the call to completion (so far, while it runs)."""
        ns = int(((self._end if self._end is not None else _time.monotonic()) - self._start) * 1e9)
        return Time(ns // 1_000_000_000, ns % 1_000_000_000)

    def __iter__(self) -> Iterator[ExecResultEntry]:
        """Waits and yields the entries; raises the call's error at the end if
        the policy has ``throw_at_iterator_end`` (the default)."""
        self._future.exception()
        yield from self._entries_or_raise(exceptions_policy.throw_at_iterator_end)

    def __await__(self) -> Generator[Any, None, List[ExecResultEntry]]:
        """``await result`` waits without blocking the loop and returns the entries."""
        fut = asyncio.wrap_future(self._future)
        try:
            yield from fut.__await__()
        except Exception:
            pass  # the policy decides below
        return self._entries_or_raise(exceptions_policy.throw_at_get)

    def __repr__(self) -> str:
        if not self._future.done():
            return "<ExecAsyncResult running>"
        return "<ExecAsyncResult done, status %d>" % self.error().code
