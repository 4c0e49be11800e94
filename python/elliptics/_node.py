"""Connections to a cluster: :class:`Logger`, :class:`Config`, :class:`Node`, :func:`create_node`."""

from __future__ import annotations

import threading
from typing import Any, Iterable, List, Optional, Union

from . import _lib
from ._enums import log_level
from ._errors import InvalidError, format_message
from ._lib import ffi, lib
from ._route import Route, RouteList
from ._values import Address, Id, parse_entry_address, to_remote

__all__ = ["Logger", "Config", "Node", "create_node"]


class Logger:
    """Where the client library logs: ``Logger(path, level)``.

    ``path`` is a file (``"/dev/stderr"`` works; ``""`` or None: no log),
    ``level`` an :class:`elliptics.log_level`.
    """

    def __init__(self, path: Optional[str] = "/dev/stderr", level: int = log_level.error) -> None:
        self.path = path or ""
        self.level = log_level(int(level))

    def __repr__(self) -> str:
        return "Logger(%r, %s)" % (self.path, self.level.name)


def _bounded(name: str, value: Any, lo: int, hi: int) -> int:
    v = int(value)
    if not lo <= v <= hi:
        raise OverflowError("Config.%s: %d out of range [%d, %d]" % (name, v, lo, hi))
    return v


class Config:
    """Node settings (``Node(logger, config)``).

    ``wait_timeout``: seconds a call waits for replies (default 5);
    ``check_timeout``: seconds between route refreshes (default 5);
    ``dial_timeout``: seconds to connect to a node (default 5);
    ``proxy``: send everything through the remotes added (NAT);
    ``name``: names the client in node logs;
    ``tls_ca``, ``tls_cert``, ``tls_key``, ``tls_server_name``: connect with
    TLS (docs/tls.md), any of them set turns it on: the CA file verifying
    the nodes (default: the system's pool), the client certificate and key
    files (both or neither), the name the nodes' certificates are verified
    against instead of the host of their address.
    ``key_id``, ``key_secret``: a client key of nodes that authenticate
    (``[security]``, docs/security.md).

    The original's ``cookie``, ``io_thread_num``, ``nonblocking_io_thread_num``,
    ``net_thread_num``, ``flags`` and ``client_prio`` are accepted (range
    checked like the original) and have no effect: the Go library sizes its
    own threads.
    """

    _U32 = (1 << 32) - 1

    def __init__(self, **kwargs: Any) -> None:
        self.wait_timeout: float = 5
        self.check_timeout: float = 5
        self.dial_timeout: float = 5
        self.proxy = False
        self.name = ""
        self.tls_ca = ""
        self.tls_cert = ""
        self.tls_key = ""
        self.tls_server_name = ""
        self.key_id = ""
        self.key_secret = ""
        self._cookie = ""
        self._ints = {
            "io_thread_num": 1,
            "nonblocking_io_thread_num": 1,
            "net_thread_num": 1,
            "flags": 0,
            "client_prio": 0,
        }
        for k, v in kwargs.items():
            if not hasattr(self, k):
                raise TypeError("Config: unknown setting %r" % k)
            setattr(self, k, v)

    def __getattr__(self, name: str) -> Any:
        ints = self.__dict__.get("_ints")
        if ints is not None and name in ints:
            return ints[name]
        raise AttributeError(name)

    def __setattr__(self, name: str, value: Any) -> None:
        ints = self.__dict__.get("_ints")
        if ints is not None and name in ints:
            hi = 255 if name == "client_prio" else self._U32
            ints[name] = _bounded(name, value, 0, hi)
            return
        if name in ("wait_timeout", "check_timeout", "dial_timeout"):
            if value < 0:
                raise OverflowError("Config.%s: must not be negative" % name)
        object.__setattr__(self, name, value)

    @property
    def cookie(self) -> str:
        """Accepted for compatibility (at most 31 characters kept)."""
        return self._cookie

    @cookie.setter
    def cookie(self, value: str) -> None:
        self._cookie = str(value)[:31]

    def __repr__(self) -> str:
        return "Config(wait_timeout=%r, check_timeout=%r, dial_timeout=%r, proxy=%r)" % (
            self.wait_timeout,
            self.check_timeout,
            self.dial_timeout,
            self.proxy,
        )


def _ms(seconds: float) -> int:
    return int(round(float(seconds) * 1000))


Remotes = Union[str, Address, Iterable[Union[str, Address]]]


class Node:
    """Connections to an elliptics cluster: ``Node(logger=None, config=None)``.

    Add nodes with :meth:`add_remotes`, then make :class:`elliptics.Session`
    objects on it. Close it with :meth:`close` or a ``with`` block (a
    collected Node is closed too); sessions of a closed node fail their calls.
    """

    def __init__(self, logger: Optional[Logger] = None, config: Optional[Config] = None) -> None:
        _lib.check_process()
        self._handle = 0
        self._lock = threading.Lock()
        self.logger = logger
        self.config = config if config is not None else Config()
        c = ffi.new("ell_node_config *")
        lib.ell_node_config_init(c)
        cfg = self.config
        c.wait_timeout_ms = _ms(cfg.wait_timeout) or c.wait_timeout_ms
        c.check_timeout_ms = _ms(cfg.check_timeout) or c.check_timeout_ms
        c.dial_timeout_ms = _ms(cfg.dial_timeout) or c.dial_timeout_ms
        c.proxy = 1 if cfg.proxy else 0
        keep = []
        if logger is not None:
            c.log_level = int(logger.level)
            if logger.path:
                p = ffi.new("char[]", logger.path.encode())
                keep.append(p)
                c.log_file = p
        if cfg.name:
            n = ffi.new("char[]", str(cfg.name).encode())
            keep.append(n)
            c.name = n
        if cfg.key_id:
            kid = ffi.new("char[]", str(cfg.key_id).encode())
            ksec = ffi.new("char[]", str(cfg.key_secret or "").encode())
            keep += [kid, ksec]
            c.key_id = kid
            c.key_secret = ksec
        out = ffi.new("ell_node_t *")
        err = _lib.new_error()
        _lib.raise_for(lib.ell_node_new(c, out, err), err, "ell_node_new")
        self._handle = int(out[0])
        tls = [str(v or "") for v in (cfg.tls_ca, cfg.tls_cert, cfg.tls_key, cfg.tls_server_name)]
        if any(tls):
            err = _lib.new_error()
            rc = lib.ell_node_set_tls(self._handle, *[ffi.new("char[]", v.encode()) for v in tls], err)
            if rc != 0:
                self.close()
            _lib.raise_for(rc, err, "ell_node_set_tls")

    @property
    def handle(self) -> int:
        """The library handle (raises if the node is closed)."""
        _lib.check_process()
        h = self._handle
        if not h:
            raise InvalidError(format_message("Node: closed", -22), -22)
        return h

    def add_remotes(self, remotes: Remotes) -> None:
        """Connects to nodes and learns the cluster from them.

        ``remotes``: an :class:`Address`, ``"host:port"`` (or the original's
        ``"host:port:family"``), or a list of them. Succeeds if at least one
        is reached; raises otherwise.
        """
        if isinstance(remotes, (str, Address)):
            remotes = [remotes]
        addrs = [to_remote(r) for r in remotes]
        if not addrs:
            raise InvalidError(format_message("add_remotes: no address given", -22), -22)
        bufs = [ffi.new("char[]", a.encode()) for a in addrs]
        arr = ffi.new("const char *[]", bufs)
        err = _lib.new_error()
        _lib.raise_for(lib.ell_node_add_remotes(self.handle, arr, len(bufs), err), err, "add_remotes")

    def add_remote(self, remote: Union[str, Address]) -> None:
        """Connects to one node (see :meth:`add_remotes`)."""
        self.add_remotes([remote])

    def set_timeouts(self, wait_timeout: float, check_timeout: float) -> None:
        """Changes the default wait timeout of sessions made afterwards and the
        route refresh period (seconds; 0 leaves a value as it is)."""
        err = _lib.new_error()
        _lib.raise_for(
            lib.ell_node_set_timeouts(self.handle, _ms(wait_timeout), _ms(check_timeout), err), err, "set_timeouts"
        )
        if wait_timeout:
            self.config.wait_timeout = wait_timeout
        if check_timeout:
            self.config.check_timeout = check_timeout

    def routes(self) -> RouteList:
        """The current route table of the node."""
        lst = ffi.new("ell_route_list *")
        err = _lib.new_error()
        _lib.raise_for(lib.ell_node_routes(self.handle, lst, err), err, "routes")
        try:
            out: List[Route] = []
            addrs = {}
            for i in range(lst.count):
                r = lst.routes[i]
                s = ffi.string(r.address).decode() if r.address != ffi.NULL else ""
                a = addrs.get(s)
                if a is None:
                    a = addrs[s] = parse_entry_address(s)
                if a is None:
                    continue
                out.append(Route(Id(bytes(ffi.buffer(r.id, 64)), int(r.group_id)), a, int(r.backend_id)))
            return RouteList(out)
        finally:
            lib.ell_route_list_free(lst)

    def close(self) -> None:
        """Closes every connection; operations in flight fail with CancelledError. Idempotent."""
        with self._lock:
            h, self._handle = self._handle, 0
        if h and _lib.usable():
            lib.ell_node_close(h)

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return not self._handle

    def __enter__(self) -> "Node":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            h, self._handle = getattr(self, "_handle", 0), 0
            if h and _lib.usable():
                lib.ell_node_close(h)
        except Exception:  # pragma: no cover - interpreter shutdown
            pass

    def __repr__(self) -> str:
        return "<elliptics.Node %s>" % ("closed" if self.closed else "open")


def create_node(
    elog: Optional[Logger] = None,
    log_file: str = "/dev/stderr",
    log_level: int = log_level.error,
    cfg: Optional[Config] = None,
    wait_timeout: float = 3600,
    check_timeout: float = 60,
    flags: int = 0,
    io_thread_num: int = 1,
    net_thread_num: int = 1,
    nonblocking_io_thread_num: int = 1,
    remotes: Remotes = (),
) -> Node:
    """Makes a Node the way the original helper did and adds ``remotes``.

    ``elog`` (a Logger) wins over ``log_file``/``log_level``; ``cfg`` wins
    over the individual settings. Remotes that cannot be reached are
    skipped as long as one is (add_remotes semantics).
    """
    if elog is None:
        elog = Logger(log_file, log_level)
    if cfg is None:
        cfg = Config()
        cfg.wait_timeout = wait_timeout
        cfg.check_timeout = check_timeout
        cfg.flags = flags
        cfg.io_thread_num = io_thread_num
        cfg.net_thread_num = net_thread_num
        cfg.nonblocking_io_thread_num = nonblocking_io_thread_num
    n = Node(elog, cfg)
    if isinstance(remotes, (str, Address)):
        remotes = [remotes]
    remotes = list(remotes)
    if remotes:
        try:
            n.add_remotes(remotes)
        except Exception:
            n.close()
            raise
    return n
