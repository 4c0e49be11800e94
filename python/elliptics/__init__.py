"""elliptics: the Python client of the Elliptics distributed key/value store.

A cffi binding over ``libelliptics.so`` (the Go client library), with the
names of the original Elliptics Python binding::

    import elliptics

    node = elliptics.Node(elliptics.Logger("/dev/stderr", elliptics.log_level.error))
    node.add_remotes(["127.0.0.1:1025"])
    s = elliptics.Session(node)
    s.groups = [1, 2, 3]
    s.write_data("key", b"data").get()
    assert s.read_data("key").get()[0].data == b"data"

Data calls return an :class:`AsyncResult`: ``.get()`` blocks (the GIL is
released while waiting), ``await`` works in asyncio, iteration yields
entries as they arrive. Errors are :class:`Error` subclasses with ``.code``
(negative errno) and ``.message``.
"""

from __future__ import annotations

try:
    from importlib.metadata import PackageNotFoundError, version as _dist_version

    try:
        __version__ = _dist_version("elliptics")
    except PackageNotFoundError:  # running from a source tree
        __version__ = "0.1.0"
except ImportError:  # pragma: no cover - Python < 3.8
    __version__ = "0.1.0"

from ._errors import (
    AlreadyError,
    BackendIOError,
    CancelledError,
    CompareAndSwapError,
    ConnectionError,
    CorruptError,
    Error,
    ErrorInfo,
    ExistsError,
    ForkedProcessError,
    InvalidError,
    NoRouteError,
    NoSpaceError,
    NotFoundError,
    NotPermittedError,
    NotSupportedError,
    OutOfMemoryError,
    ProtocolError,
    ReadOnlyError,
    ShutdownError,
    TimeoutError,
    TooLargeError,
    TryAgainError,
    error_class,
    make_error,
)
from ._enums import (
    checkers,
    command_flags,
    exceptions_policy,
    filters,
    io_flags,
    iterator_flags,
    iterator_types,
    log_level,
    record_flags,
)
from ._values import ID_SIZE, Address, Id, Time
from ._lib import ffi as _ffi, lib as _clib
from ._node import Config, Logger, Node, create_node
from ._route import Route, RouteList
from ._result import AsyncResult, IoAttribute, IteratorResponse, IteratorResultEntry, ResultEntry
from ._dataops import IteratorRange, Range
from ._session import Session
from ._admin import MonitorStatResult, MonitorStatResultEntry, RecoveryJob, monitor_stat_categories
from ._watch import WatchEvent, Watcher, watch_kinds
from ._exec import ExecAsyncResult, ExecContext, ExecLimits, ExecResultEntry, ScriptInfo, ScriptRecord

__all__ = [
    "__version__",
    "library_version",
    "abi_version",
    "strerror",
    # errors
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
    # enums
    "log_level",
    "checkers",
    "filters",
    "exceptions_policy",
    "io_flags",
    "command_flags",
    "record_flags",
    "iterator_flags",
    "iterator_types",
    # values
    "ID_SIZE",
    "Id",
    "Time",
    "Address",
    # objects
    "Logger",
    "Config",
    "Node",
    "create_node",
    "Route",
    "RouteList",
    "Session",
    "AsyncResult",
    "ResultEntry",
    "IoAttribute",
    "IteratorResponse",
    "IteratorResultEntry",
    "Range",
    "IteratorRange",
    "RecoveryJob",
    "MonitorStatResult",
    "MonitorStatResultEntry",
    "monitor_stat_categories",
    "WatchEvent",
    "Watcher",
    "watch_kinds",
    "ExecLimits",
    "ExecContext",
    "ExecResultEntry",
    "ExecAsyncResult",
    "ScriptInfo",
    "ScriptRecord",
]

for _name in __all__:
    _obj = globals().get(_name)
    if isinstance(_obj, type) and _obj.__module__.startswith("elliptics."):
        _obj.__module__ = "elliptics"  # show elliptics.NotFoundError, not elliptics._errors...
del _name, _obj

#: The ABI version this package was compiled against (``ELL_ABI_VERSION``).
ABI_VERSION: int = int(_clib.ELL_ABI_VERSION)


def library_version() -> str:
    """The version of the loaded libelliptics (``ell_version()``)."""
    return _ffi.string(_clib.ell_version()).decode()


def abi_version() -> int:
    """The ABI version of the loaded libelliptics (``ell_abi_version()``)."""
    return int(_clib.ell_abi_version())


def strerror(code: int) -> str:
    """The library's short description of a status code (``ell_strerror``)."""
    return _ffi.string(_clib.ell_strerror(int(code))).decode("utf-8", "replace")


if abi_version() != ABI_VERSION:  # pragma: no cover - a mismatched build
    raise ImportError(
        "elliptics: libelliptics ABI %d does not match the binding's %d; reinstall the package"
        % (abi_version(), ABI_VERSION)
    )
