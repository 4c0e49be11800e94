"""The native library (cffi ``elliptics._native``), the fork guard and error helpers."""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, List

from ._errors import ForkedProcessError, make_error

try:
    from ._native import ffi, lib  # type: ignore[import-not-found]
except ImportError as e:  # pragma: no cover - only without a build
    raise ImportError(
        "elliptics: the native part (elliptics._native and libelliptics.so) is not built: "
        "install the package with pip (pip install .) from the repository root (%s)" % e
    ) from e

__all__ = ["ffi", "lib", "check_process", "usable", "new_error", "raise_for", "on_child"]

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


def usable() -> bool:
    """True in the process that loaded the library (False in a forked child)."""
    return not _forked and os.getpid() == _pid


def check_process() -> None:
    """Raises :class:`ForkedProcessError` when called in a forked child."""
    if not usable():
        raise ForkedProcessError(
            "elliptics: cannot be used in a child process made by fork() (pid %d, loaded in pid %d): "
            "libelliptics runs a Go runtime that does not survive fork; create nodes after forking "
            "or use the 'spawn' start method: Operation not permitted: -1" % (os.getpid(), _pid),
            -1,
        )


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
