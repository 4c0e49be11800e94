"""Exceptions of the elliptics package, one class per status code."""

from __future__ import annotations

import builtins
import os
from typing import Dict, Optional, Type

__all__ = [
    "ErrorInfo",
    "Error",
    "NotPermittedError",
    "NotFoundError",
    "BackendIOError",
    "NoRouteError",
    "TryAgainError",
    "OutOfMemoryError",
    "ExistsError",
    "InvalidError",
    "NoSpaceError",
    "ReadOnlyError",
    "ProtocolError",
    "CompareAndSwapError",
    "CorruptError",
    "TooLargeError",
    "NotSupportedError",
    "ConnectionError",
    "ShutdownError",
    "TimeoutError",
    "AlreadyError",
    "CancelledError",
    "ForkedProcessError",
    "error_class",
    "make_error",
    "format_message",
]


class ErrorInfo:
    """A status code and its message, as carried by results and exceptions.

    ``code`` is 0 on success, else a negative errno-style value (-2: no such
    key). ``bool(info)`` is true when it describes an error.
    """

    __slots__ = ("code", "message")

    def __init__(self, code: int = 0, message: str = "") -> None:
        self.code = int(code)
        self.message = message

    def __bool__(self) -> bool:
        return self.code != 0

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ErrorInfo):
            return (self.code, self.message) == (other.code, other.message)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.code, self.message))

    def __repr__(self) -> str:
        return "ErrorInfo(code=%d, message=%r)" % (self.code, self.message)

    def __str__(self) -> str:
        return self.message


def _strerror(code: int) -> str:
    try:
        return os.strerror(-code) if code < 0 else os.strerror(code)
    except ValueError:  # pragma: no cover - os.strerror accepts any int on Linux
        return "Unknown error %d" % code


def format_message(text: str, code: int) -> str:
    """Formats an error message like the original binding: ``"<text>: <strerror>: <code>"``.

    A text that already ends with ``": <code>"`` is returned as it is.
    """
    suffix = ": %d" % code
    if text.endswith(suffix):
        return text
    text = text.strip() or "elliptics call failed"
    return "%s: %s%s" % (text, _strerror(code), suffix)


class Error(Exception):
    """Base class of every elliptics error.

    ``.code`` is the negative errno-style status (for example -2 for a missing
    key), ``.message`` the full message (``"<text>: <strerror>: <code>"``),
    and ``.info`` the same pair as an :class:`ErrorInfo`. Raised by calls that
    fail and, following the session's exceptions policy, by results.
    """

    #: The status code of the class (0 for codes without a class of their own).
    CODE = 0

    def __init__(self, message: str = "", code: Optional[int] = None) -> None:
        if code is None:
            code = self.CODE
        self.code = int(code)
        self.message = message
        super().__init__(message)

    @property
    def info(self) -> ErrorInfo:
        """The code and message as an :class:`ErrorInfo`."""
        return ErrorInfo(self.code, self.message)

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return "%s(%r, code=%d)" % (type(self).__name__, self.message, self.code)

    def __reduce__(self):  # keeps code through pickling (multiprocessing)
        return (type(self), (self.message, self.code))


class NotPermittedError(Error):
    """The operation is not permitted (-1, EPERM)."""

    CODE = -1


class NotFoundError(Error):
    """No such key (-2, ENOENT)."""

    CODE = -2


class BackendIOError(Error):
    """A backend failed to read or write (-5, EIO)."""

    CODE = -5


class NoRouteError(Error):
    """No node serves this group or key, or a checker failed (-6, ENXIO)."""

    CODE = -6


class TryAgainError(Error):
    """The node is overloaded; retry later (-11, EAGAIN)."""

    CODE = -11


class OutOfMemoryError(Error):
    """Out of memory (-12, ENOMEM)."""

    CODE = -12


class ExistsError(Error):
    """The object already exists (-17, EEXIST)."""

    CODE = -17


class InvalidError(Error, ValueError):
    """Invalid argument or malformed request (-22, EINVAL); also a ValueError."""

    CODE = -22


class NoSpaceError(BackendIOError):
    """The backend's disk is full (-28, ENOSPC)."""

    CODE = -28


class ReadOnlyError(Error):
    """The backend or node is read-only (-30, EROFS)."""

    CODE = -30


class ProtocolError(Error):
    """A bad frame or an incompatible protocol version (-71, EPROTO)."""

    CODE = -71


class CompareAndSwapError(Error):
    """A compare-and-swap precondition failed (-77, EBADFD)."""

    CODE = -77


class CorruptError(BackendIOError):
    """Checksum mismatch: the data on disk is corrupt (-84, EILSEQ)."""

    CODE = -84


class TooLargeError(Error):
    """A length exceeds a configured limit (-90, EMSGSIZE)."""

    CODE = -90


class NotSupportedError(Error):
    """Unknown or disabled command (-95, EOPNOTSUPP)."""

    CODE = -95


class ConnectionError(Error, builtins.ConnectionError):  # noqa: A001 - original-style name
    """The connection closed before the reply (-104, ECONNRESET); also a builtin ConnectionError."""

    CODE = -104


class ShutdownError(ConnectionError):
    """The node is stopping (-108, ESHUTDOWN)."""

    CODE = -108


class TimeoutError(Error, builtins.TimeoutError):  # noqa: A001 - the original binding's name
    """No reply within the deadline (-110, ETIMEDOUT); also a builtin TimeoutError."""

    CODE = -110


class AlreadyError(Error):
    """The requested state is already in effect (-114, EALREADY)."""

    CODE = -114


class CancelledError(Error):
    """The operation was cancelled: its node or handle was closed (-125, ECANCELED)."""

    CODE = -125


class ForkedProcessError(NotPermittedError):
    """The library was used in a child made by ``os.fork()``.

    libelliptics runs a Go runtime whose threads do not survive fork: a child
    process must not call it (it would hang). Import and use elliptics after
    the fork, or in a process started with the ``spawn`` method.
    """


_BY_CODE: Dict[int, Type[Error]] = {
    cls.CODE: cls
    for cls in (
        NotPermittedError,
        NotFoundError,
        BackendIOError,
        NoRouteError,
        TryAgainError,
        OutOfMemoryError,
        ExistsError,
        InvalidError,
        NoSpaceError,
        ReadOnlyError,
        ProtocolError,
        CompareAndSwapError,
        CorruptError,
        TooLargeError,
        NotSupportedError,
        ConnectionError,
        ShutdownError,
        TimeoutError,
        AlreadyError,
        CancelledError,
    )
}


def error_class(code: int) -> Type[Error]:
    """The exception class of a status code (:class:`Error` for codes without one)."""
    return _BY_CODE.get(int(code), Error)


def make_error(code: int, text: str = "") -> Error:
    """An exception instance for a status code, its message formatted like the original."""
    return error_class(code)(format_message(text, int(code)), int(code))
