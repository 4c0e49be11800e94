"""Administration calls that speak JSON: recovery jobs (RECOVERY) and
statistics (MONITOR_STAT)."""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Any, Dict, Iterator, List, Mapping, Optional, Union

from . import _lib
from ._errors import ErrorInfo
from ._lib import ffi, lib
from ._values import Address, to_remote

AddressLike = Union[str, Address]


@dataclasses.dataclass(frozen=True)
class RecoveryJob:
    """One recovery job of one node, as ``elliptics recovery status`` shows it.

    ``kind`` is ``"merge"`` (move records a backend no longer owns to their
    owners in its group) or ``"dc"`` (fill a backend's ranges from the other
    groups); ``state`` is ``running``, ``paused``, ``stopped``, ``done`` or
    ``failed``. ``raw`` holds every field the node sent (docs/protocol.md,
    "RECOVERY")."""

    address: Address
    id: int
    kind: str
    backend_id: int
    group_id: int
    state: str
    auto: bool
    dry_run: bool
    verify: bool
    scanned: int
    total: int
    moved: int
    bytes: int
    kept: int
    errors: int
    corrupt: int
    equal_buckets: int
    rate: float
    eta: float
    last_error: str
    error: str
    raw: Mapping[str, Any] = dataclasses.field(repr=False, compare=False)

    @property
    def finished(self) -> bool:
        """Whether the job will do no more work (stopped, done or failed)."""
        return self.state in ("stopped", "done", "failed")

    @classmethod
    def _from_json(cls, address: Address, j: Mapping[str, Any]) -> "RecoveryJob":
        spec = j.get("spec") or {}
        return cls(
            address=address,
            id=int(j.get("id", 0)),
            kind=str(spec.get("kind", "")),
            backend_id=int(spec.get("backend", -1)),
            group_id=int(j.get("group", 0)),
            state=str(j.get("state", "")),
            auto=bool(spec.get("auto", False)),
            dry_run=bool(spec.get("dry_run", False)),
            verify=bool(spec.get("verify", False)),
            scanned=int(j.get("scanned", 0)),
            total=int(j.get("total", 0)),
            moved=int(j.get("moved", 0)),
            bytes=int(j.get("bytes", 0)),
            kept=int(j.get("kept", 0)),
            errors=int(j.get("errors", 0)),
            corrupt=int(j.get("corrupt", 0)),
            equal_buckets=int(j.get("equal_buckets", 0)),
            rate=float(j.get("rate", 0.0)),
            eta=float(j.get("eta", 0.0)),
            last_error=str(j.get("last_error", "")),
            error=str(j.get("error", "")),
            raw=dict(j),
        )


def recovery_call(session_handle: Any, address: AddressLike, request: Dict[str, Any]) -> List[RecoveryJob]:
    """Sends one RECOVERY request to a node and returns the jobs of its reply."""
    body = json.dumps(request).encode()
    out = ffi.new("ell_json *")
    err = _lib.new_error()
    rc = lib.ell_session_recovery(session_handle, to_remote(address).encode(), body, len(body), out, err)
    _lib.raise_for(rc, err, "recovery " + str(request.get("action", "")))
    try:
        reply = json.loads(ffi.string(out.data, out.size).decode())
    finally:
        lib.ell_json_free(out)
    addr = Address.parse(address)
    return [RecoveryJob._from_json(addr, j) for j in reply.get("jobs") or []]


def start_request(
    kind: str,
    group: Optional[int],
    backend: Optional[int],
    dry_run: bool,
    verify: bool,
    rate: int,
    objects_rate: int,
) -> Dict[str, Any]:
    """The RECOVERY request that starts a merge or dc."""
    if kind not in ("merge", "dc"):
        raise ValueError("recovery kind %r: want 'merge' or 'dc'" % (kind,))
    req: Dict[str, Any] = {"action": "start", "kind": kind, "backend": -1 if backend is None else int(backend)}
    if group is not None:
        req["group"] = int(group)
    if dry_run:
        req["dry_run"] = True
    if verify:
        req["verify"] = True
    if rate:
        req["bytes_per_sec"] = int(rate)
    if objects_rate:
        req["objects_per_sec"] = int(objects_rate)
    return req


class monitor_stat_categories(enum.IntFlag):
    """Categories of :meth:`Session.monitor_stat` (the original's bits, plus recovery)."""

    cache = 1  #: accepted; reports nothing (no cache here)
    io = 2
    commands = 4
    backend = 16
    stats = 32
    procfs = 64
    top = 128
    recovery = 256  #: not in the original
    scripts = 512  #: scripts run by EXEC; not in the original
    all = (1 << 64) - 1  #: every category (-1 in the original)


@dataclasses.dataclass(frozen=True)
class MonitorStatResultEntry:
    """The statistics of one node: ``statistics`` is the node's JSON as a dict
    (docs/monitoring.md), empty when ``error`` is set."""

    address: Address
    statistics: Mapping[str, Any]
    error: Optional[ErrorInfo]

    @property
    def status(self) -> int:
        """0, or the negative code of why the node could not be asked."""
        return self.error.code if self.error else 0


class MonitorStatResult:
    """The completed result of :meth:`Session.monitor_stat`, shaped like an
    AsyncResult: ``get()`` returns the entries, iteration yields them, and
    ``await`` works."""

    def __init__(self, entries: List[MonitorStatResultEntry]) -> None:
        self._entries = entries

    def get(self) -> List[MonitorStatResultEntry]:
        """The entries, one per node asked, in address order."""
        return list(self._entries)

    def wait(self) -> None:
        """Returns at once: the call completed before the result was made."""

    def ready(self) -> bool:
        """Always true."""
        return True

    def successful(self) -> bool:
        """Whether every node answered."""
        return all(e.error is None for e in self._entries)

    def __iter__(self) -> Iterator[MonitorStatResultEntry]:
        return iter(self.get())

    def __len__(self) -> int:
        return len(self._entries)

    def __await__(self) -> Any:
        if False:  # pragma: no cover - makes this a generator
            yield
        return self.get()


def monitor_stat_call(session_handle: Any, address: Optional[AddressLike], categories: int) -> MonitorStatResult:
    """Runs ell_session_monitor_stat and parses its JSON."""
    out = ffi.new("ell_json *")
    err = _lib.new_error()
    addr = to_remote(address).encode() if address is not None else ffi.NULL
    rc = lib.ell_session_monitor_stat(session_handle, addr, int(categories) & ((1 << 64) - 1), out, err)
    _lib.raise_for(rc, err, "monitor_stat")
    try:
        nodes = json.loads(ffi.string(out.data, out.size).decode())
    finally:
        lib.ell_json_free(out)
    entries = []
    for n in nodes:
        e = n.get("error")
        info = ErrorInfo(int(e.get("code", -5)), str(e.get("message", ""))) if e else None
        entries.append(MonitorStatResultEntry(Address.parse(n["address"]), n.get("stats") or {}, info))
    return MonitorStatResult(entries)
