"""asyncio integration: one completion queue per event loop.

Go never calls into Python: an asynchronous call made while an event loop
runs in the calling thread passes an ``ell_completion`` naming the loop's
queue and a tag; the queue's eventfd is watched with ``loop.add_reader``,
and the reader pops completions (without waiting) and resolves the futures
of the results by their tags.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import weakref
from typing import Any, Dict, Optional, Tuple

from . import _lib
from ._lib import ffi, lib

__all__ = ["completion_for_current_loop"]

_tags = itertools.count(1)
_queues: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Optional[_LoopQueue]]" = weakref.WeakKeyDictionary()
_queues_lock = threading.Lock()


def _free_queue(q: int) -> None:
    if q and _lib.usable():
        lib.ell_queue_free(q)


class _LoopQueue:
    """The completion queue of one event loop and its results in flight."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        out = ffi.new("ell_queue_t *")
        err = _lib.new_error()
        _lib.raise_for(lib.ell_queue_new(out, err), err, "ell_queue_new")
        self.q = int(out[0])
        self.loop = loop
        self.pending: Dict[int, Any] = {}
        self._tag = ffi.new("uint64_t *")
        self._handle = ffi.new("ell_async_t *")
        self._finalizer = weakref.finalize(loop, _free_queue, self.q)
        try:
            loop.add_reader(int(lib.ell_queue_fd(self.q)), self.drain)
        except Exception:
            self._finalizer()
            raise

    def drain(self) -> None:
        """Pops every completion waiting in the queue and resolves its result."""
        if not _lib.usable():
            return
        while True:
            rc = lib.ell_queue_pop(self.q, 0, self._tag, self._handle, ffi.NULL)
            if rc != 0:
                return
            r = self.pending.pop(int(self._tag[0]), None)
            if r is not None:
                r._on_complete()

    def completion(self) -> Tuple[Any, int]:
        """A fresh ``ell_completion`` posting to this queue, and its tag."""
        tag = next(_tags)
        c = ffi.new("ell_completion *")
        c.queue = self.q
        c.tag = tag
        return c, tag


def _queue_of(loop: asyncio.AbstractEventLoop) -> Optional[_LoopQueue]:
    with _queues_lock:
        if loop in _queues:
            return _queues[loop]
        try:
            lq: Optional[_LoopQueue] = _LoopQueue(loop)
        except (NotImplementedError, RuntimeError):
            lq = None  # a loop without add_reader: results are awaited in a thread
        _queues[loop] = lq
        return lq


def completion_for_current_loop() -> Tuple[Any, Optional[_LoopQueue], int]:
    """(ell_completion pointer or NULL, the loop queue or None, tag) for a call made now."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return ffi.NULL, None, 0
    if loop.is_closed():
        return ffi.NULL, None, 0
    lq = _queue_of(loop)
    if lq is None:
        return ffi.NULL, None, 0
    c, tag = lq.completion()
    return c, lq, tag


def _reset_in_child() -> None:
    # Queues of the parent are unusable in a forked child; forget them
    # without calling the library.
    for lq in list(_queues.values()):
        if lq is not None:
            lq._finalizer.detach()
    _queues.clear()


_lib.on_child(_reset_in_child)
