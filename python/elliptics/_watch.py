"""Watches (NOTIFY): every write and removal of a key, wherever it lives."""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import threading
from typing import Any, AsyncIterator, Iterator, Optional

from . import _lib
from ._errors import Error, make_error
from ._lib import ffi, lib
from ._values import Id, Time

_ETIMEDOUT = -110
_ECANCELED = -125

#: How long one blocking wait for an event lasts before Python gets control
#: back (Ctrl-C, a cancelled task).
_POLL_MS = 500


class watch_kinds(enum.IntEnum):
    """What a :class:`WatchEvent` reports (``ELL_WATCH_*``)."""

    write = 1  #: a write, append or commit of the key
    remove = 2  #: a removal of the key or a column
    missed = 3  #: the node dropped ``missed`` events: the watcher read too slowly
    started = 4  #: the watch is established on ``address`` for ``group_id``
    lost = 5  #: the watch on ``address`` ended (``error`` says why); it is being re-established


@dataclasses.dataclass(frozen=True)
class WatchEvent:
    """One event of a :class:`Watcher`.

    After a ``lost`` event and until the next ``started`` one for that group,
    changes of the key were not seen; ``missed`` counts events a node dropped
    just before this one."""

    kind: watch_kinds
    id: Id
    group_id: int
    address: str
    column: str
    size: int
    timestamp: Time
    user_flags: int
    record_flags: int
    missed: int
    error: Optional[Error]

    @classmethod
    def _from_c(cls, ev: Any) -> "WatchEvent":
        err = None
        if ev.error:
            err = make_error(int(ev.error), "watch lost on %s" % ffi.string(ev.address).decode())
        return cls(
            kind=watch_kinds(int(ev.kind)),
            id=Id(bytes(ffi.buffer(ev.id, 64))),
            group_id=int(ev.group_id),
            address=ffi.string(ev.address).decode("utf-8", "replace"),
            column=ffi.string(ev.column).decode("utf-8", "surrogateescape"),
            size=int(ev.size),
            timestamp=Time(int(ev.tsec), int(ev.tnsec)),
            user_flags=int(ev.user_flags),
            record_flags=int(ev.record_flags),
            missed=int(ev.missed),
            error=err,
        )


class Watcher:
    """A watch on one key in every group of the session it came from.

    Iterate it (``for ev in watcher``) or, in asyncio, ``async for ev in
    watcher``; :meth:`next` waits with a timeout. Use it as a context manager,
    or call :meth:`close`, to end the watch on the nodes."""

    def __init__(self, handle: int) -> None:
        self._handle = handle
        self._lock = threading.Lock()

    def next(self, timeout: Optional[float] = None) -> Optional[WatchEvent]:
        """The next event, waiting up to ``timeout`` seconds (None: until one
        comes); None when none came in time. Raises :class:`CancelledError`
        once the watcher is closed."""
        left = None if timeout is None else int(timeout * 1000)
        while True:
            step = _POLL_MS if left is None else min(left, _POLL_MS)
            ev = self._next_ms(step)
            if ev is not None:
                return ev
            if left is not None:
                left -= step
                if left <= 0:
                    return None

    def _next_ms(self, ms: int) -> Optional[WatchEvent]:
        h = self._handle
        if not h:
            raise make_error(_ECANCELED, "watch: closed")
        ev = ffi.new("ell_watch_event *")
        err = _lib.new_error()
        rc = lib.ell_watch_next(h, ms, ev, err)  # the GIL is released while it waits
        if rc == _ETIMEDOUT:
            return None
        _lib.raise_for(rc, err, "watch")
        return WatchEvent._from_c(ev)

    def __iter__(self) -> Iterator[WatchEvent]:
        while True:
            try:
                ev = self.next()
            except Error as e:
                if e.code == _ECANCELED:
                    return
                raise
            if ev is not None:
                yield ev

    def __aiter__(self) -> AsyncIterator[WatchEvent]:
        return self._events()

    async def _events(self) -> AsyncIterator[WatchEvent]:
        loop = asyncio.get_running_loop()
        while True:
            try:
                ev = await loop.run_in_executor(None, self._next_ms, _POLL_MS)
            except Error as e:
                if e.code == _ECANCELED:
                    return
                raise
            if ev is not None:
                yield ev

    def close(self) -> None:
        """Ends the watch on the nodes; an iteration in progress ends."""
        with self._lock:
            h, self._handle = self._handle, 0
        if h:
            lib.ell_watch_close(h)

    def __enter__(self) -> "Watcher":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass
