"""Streamed file transfers (``Session.write_file`` / ``read_file``): the
local path and options handed to the library, and the progress callback.

The library reads and writes the file itself, one chunk at a time: no data
goes through Python, so memory stays at about one chunk whatever the size.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
from typing import Any, Callable, Dict, Optional, Union

from ._errors import Error
from ._lib import ffi, lib

__all__ = ["PathLike", "Progress", "ProgressState", "path_bytes", "file_options", "check_source", "check_target"]

#: A local file name: str, bytes or an os.PathLike.
PathLike = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]
#: A progress callback: ``progress(done, total)`` after every chunk, in bytes.
Progress = Callable[[int, int], Any]

_U64 = (1 << 64) - 1
_ECANCELED = -125

# The states of progress callbacks of transfers in flight, by id(): the
# library holds only a cffi handle to each, which must stay valid while the
# operation may still call it.
_states: Dict[int, "ProgressState"] = {}
_states_lock = threading.Lock()


class ProgressState:
    """The progress callback of one transfer, handed to the library as
    userdata. It lives until the result learns that the operation
    completed; a result dropped or closed earlier marks it closed, and the
    next call then stops the transfer (ELL_ECANCELED)."""

    __slots__ = ("fn", "handle", "error", "closed", "__weakref__")

    def __init__(self, fn: Progress) -> None:
        self.fn = fn
        self.handle = ffi.new_handle(self)
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
def _ell_py_progress(userdata: Any, done: int, total: int) -> int:
    """The C progress callback: runs the Python one; an exception stops the
    transfer (with an elliptics error's code, else ELL_ECANCELED)."""
    st = ffi.from_handle(userdata)
    if st.closed:
        with _states_lock:
            _states.pop(id(st), None)
        return _ECANCELED
    try:
        st.fn(int(done), int(total))
        return 0
    except Error as e:
        st.error = e
        return int(e.code) if e.code and e.code < 0 else _ECANCELED
    except BaseException as e:  # nothing may unwind into the library
        st.error = e
        return _ECANCELED


def path_bytes(filename: PathLike) -> bytes:
    """The file system encoding of a local file name (NUL-free)."""
    try:
        b = os.fsencode(filename)
    except TypeError as e:
        raise TypeError("elliptics: a file name is a str, bytes or os.PathLike, not %s" % type(filename).__name__) from e
    if not b:
        raise ValueError("elliptics: empty file name")
    if b"\0" in b:
        raise ValueError("elliptics: a file name must not contain NUL")
    return b


def _u64(name: str, v: int) -> int:
    n = int(v)
    if not 0 <= n <= _U64:
        raise ValueError("%s must be in [0, 2**64), got %d" % (name, n))
    return n


def file_options(
    offset: int, local_offset: int, size: int, chunk_size: int, ttl: int, progress: Optional[Progress]
) -> "tuple[Any, Optional[ProgressState]]":
    """An ell_file_options and the progress state (None without progress)."""
    o = ffi.new("ell_file_options *")
    o.offset = _u64("offset", offset)
    o.local_offset = _u64("local_offset", local_offset)
    o.size = _u64("size", size)
    o.chunk_size = _u64("chunk_size", chunk_size)
    o.ttl_ms = ttl
    st = None
    if progress is not None:
        if not callable(progress):
            raise TypeError("progress must be callable(done, total)")
        st = ProgressState(progress)
        o.progress = lib._ell_py_progress
        o.userdata = st.handle
    return o, st


def check_source(path: bytes, local_offset: int, size: int) -> None:
    """Raises the OSError (FileNotFoundError, PermissionError, ...) or
    ValueError that a write of this file slice would fail with, at once and
    in Python's own terms."""
    st = os.stat(path)
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fsdecode(path))
    if not os.access(path, os.R_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(path))
    if stat.S_ISREG(st.st_mode):
        if local_offset > st.st_size:
            raise ValueError("write_file: local_offset %d is past the end of the file (%d bytes)" % (local_offset, st.st_size))
        if size and local_offset + size > st.st_size:
            raise ValueError(
                "write_file: the file has %d bytes from local_offset %d, not %d" % (st.st_size - local_offset, local_offset, size)
            )


def check_target(path: bytes) -> None:
    """Raises FileNotFoundError or NotADirectoryError when the directory a
    read would create the file in is missing."""
    d = os.path.dirname(os.path.abspath(path)) or b"/"
    if not os.path.isdir(d):
        raise FileNotFoundError(errno.ENOENT, "read_file: no such directory", os.fsdecode(d))
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fsdecode(path))
