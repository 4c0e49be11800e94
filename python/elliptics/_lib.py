"""The native library (cffi ``elliptics._native``), the fork guard and error helpers."""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, List, Tuple

from ._errors import ForkedProcessError, make_error

try:
    from ._native import ffi, lib  # type: ignore[import-not-found]
except ImportError as e:  # pragma: no cover - only without a build
    raise ImportError(
        "elliptics: the native part (elliptics._native and libelliptics.so) is not built: "
        "install the package with pip (pip install .) from the repository root (%s)" % e
    ) from e

__all__ = ["ffi", "lib", "check_process", "usable", "new_error", "raise_for", "on_child", "scratch"]

_pid = os.getpid()
_forked = False
_child_hooks: List[Callable[[], None]] = []
_hooks_lock = threading.Lock()


def _after_fork_in_child() -> None:
    global _forked
    _forked = True
    for hook in list(_child_hooks):
        try:
            hook()
        except Exception:  # pragma: no cover - hooks only reset Python state
            pass


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def on_child(hook: Callable[[], None]) -> None:
    """Registers a function run in a forked child (to drop per-process state)."""
    with _hooks_lock:
        _child_hooks.append(hook)


# With at-fork hooks (every Python this package supports, on Linux) a child
# made by os.fork is flagged by _after_fork_in_child, so the guard needs no
# getpid() system call on every library call; without them it compares pids.
_AT_FORK = hasattr(os, "register_at_fork")


def usable() -> bool:
    """True in the process that loaded the library (False in a forked child)."""
    return not _forked and (_AT_FORK or os.getpid() == _pid)


def check_process() -> None:
    """Raises :class:`ForkedProcessError` when called in a forked child."""
    if _forked or not (_AT_FORK or os.getpid() == _pid):
        raise ForkedProcessError(
            "elliptics: cannot be used in a child process made by fork() (pid %d, loaded in pid %d): "
            "libelliptics runs a Go runtime that does not survive fork; create nodes after forking "
            "or use the 'spawn' start method: Operation not permitted: -1" % (os.getpid(), _pid),
            -1,
        )


class Scratch:
    """Per-thread buffers of the hot calls: an ``ell_error``, an ``ell_async_t``
    out-argument, an ``ell_key`` and ``ell_async_collect``'s result and entry
    array. The library copies what it is given and fills these before it
    returns, so one set per thread serves every call made on that thread;
    allocating them per call was a visible part of a small call's cost."""

    __slots__ = ("err", "out", "key", "info", "ents", "cap", "addrs")

    def __init__(self) -> None:
        self.err = ffi.new("ell_error *")
        self.out = ffi.new("ell_async_t *")
        self.key = ffi.new("ell_key *")
        self.info = ffi.new("ell_async_result *")
        self.set_ents(ffi.new("const ell_entry *[]", 16), 16)

    def set_ents(self, ents: Any, cap: int) -> None:
        """Makes ents (room for cap entry pointers) the entry array, and
        updates ``addrs``: (info, ents, cap, err) as integers, the arguments
        of elliptics._speedups.collect."""
        self.ents, self.cap = ents, cap
        self.addrs: Tuple[int, int, int, int] = (_addr(self.info), _addr(ents), cap, _addr(self.err))


def _addr(p: Any) -> int:
    """The address of a cdata pointer or array as an int."""
    return int(ffi.cast("uintptr_t", p))


_tls = threading.local()


def scratch() -> Scratch:
    """The calling thread's :class:`Scratch`."""
    try:
        return _tls.scratch  # type: ignore[no-any-return]
    except AttributeError:
        s = _tls.scratch = Scratch()
        return s


def new_error() -> Any:
    """A fresh ``ell_error`` to pass to a call."""
    return ffi.new("ell_error *")


def error_text(err: Any) -> str:
    """The message of an ``ell_error`` as str."""
    return ffi.string(err.message).decode("utf-8", "replace")


def raise_for(rc: int, err: Any, what: str = "") -> None:
    """Raises the exception of a failed call (rc != 0), using the message in err."""
    if rc == 0:
        return
    text = error_text(err) if err is not None else ""
    if not text:
        text = what or ffi.string(lib.ell_strerror(rc)).decode("utf-8", "replace")
    raise make_error(rc, text)
