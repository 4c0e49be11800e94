"""Value types: :class:`Id`, :class:`Time` and :class:`Address`."""

from __future__ import annotations

import datetime
import functools
import ipaddress
import socket
import time as _time
from typing import Any, Iterable, Iterator, Optional, Sequence, Tuple, Union

from ._errors import InvalidError, format_message

__all__ = ["ID_SIZE", "Id", "Time", "Address"]

#: The size of an ID in bytes.
ID_SIZE = 64


@functools.total_ordering
class Id:
    """A 64-byte object ID and a group.

    ``Id(value, group=0)`` where value is a hex string (as printed by ``str(id)``,
    shorter strings are zero-padded on the right), a list of up to 64 ints
    (0..255, zero-padded), 64 raw bytes (or fewer, zero-padded), an int (big
    endian) or another Id. ``.id`` is the list of 64 ints, ``.group_id`` the
    group; Ids compare by bytes, then group, and are hashable.

    To get the ID of a key name use ``session.transform(key)``.
    """

    __slots__ = ("_raw", "group_id")

    def __init__(self, value: Union[str, bytes, bytearray, Sequence[int], int, "Id"] = b"", group: int = 0) -> None:
        if isinstance(value, Id):
            raw = value._raw
        elif isinstance(value, str):
            raw = _from_hex(value)
        elif isinstance(value, (bytes, bytearray, memoryview)):
            raw = bytes(value)
        elif isinstance(value, int):
            if value < 0 or value >= 1 << (8 * ID_SIZE):
                raise OverflowError("Id: integer out of range of a 64-byte ID")
            raw = value.to_bytes(ID_SIZE, "big")
        else:
            try:
                raw = bytes(int(x) for x in value)
            except (TypeError, ValueError) as e:
                raise TypeError("Id: expected a hex string, bytes, an int or a list of ints, got %r" % (value,)) from e
        if len(raw) > ID_SIZE:
            raise ValueError("Id: at most %d bytes, got %d" % (ID_SIZE, len(raw)))
        self._raw = raw.ljust(ID_SIZE, b"\0")
        self.group_id = int(group)

    @classmethod
    def from_hex(cls, hex_id: str, group: int = 0) -> "Id":
        """An Id from its hex form (``str(id)``), zero-padded on the right."""
        return cls(_from_hex(hex_id), group)

    @property
    def id(self) -> list:
        """The ID as a list of 64 ints."""
        return list(self._raw)

    @id.setter
    def id(self, value: Sequence[int]) -> None:
        self._raw = Id(value)._raw

    @property
    def group(self) -> int:
        """Alias of :attr:`group_id`."""
        return self.group_id

    @group.setter
    def group(self, value: int) -> None:
        self.group_id = int(value)

    def to_bytes(self) -> bytes:
        """The 64 raw bytes of the ID."""
        return self._raw

    def __bytes__(self) -> bytes:
        return self._raw

    def __str__(self) -> str:
        return self._raw.hex()

    def __repr__(self) -> str:
        return "<Id %s... group %d>" % (self._raw[:8].hex(), self.group_id)

    def __key(self) -> Tuple[bytes, int]:
        return (self._raw, self.group_id)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Id):
            return self.__key() == other.__key()
        return NotImplemented

    def __lt__(self, other: "Id") -> bool:
        if isinstance(other, Id):
            return self.__key() < other.__key()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.__key())

    def __reduce__(self):
        return (Id, (self._raw, self.group_id))


def _from_hex(s: str) -> bytes:
    s = s.strip()
    if s.startswith(("0x", "0X")):
        s = s[2:]
    if len(s) % 2:
        s += "0"
    try:
        raw = bytes.fromhex(s)
    except ValueError as e:
        raise ValueError("Id: not a hex string: %r" % s) from e
    if len(raw) > ID_SIZE:
        raise ValueError("Id: at most %d hex digits" % (2 * ID_SIZE))
    return raw


_U64 = (1 << 64) - 1


@functools.total_ordering
class Time:
    """A timestamp: seconds and nanoseconds since the epoch (``Time(tsec, tnsec)``).

    Comparable, hashable; ``float(t)`` gives seconds. ``Time(0, 0)`` as a
    session timestamp means "the time of each write".
    """

    __slots__ = ("tsec", "tnsec")

    def __init__(self, tsec: int = 0, tnsec: int = 0) -> None:
        tsec, tnsec = int(tsec), int(tnsec)
        if not (0 <= tsec <= _U64 and 0 <= tnsec <= _U64):
            raise OverflowError("Time: tsec and tnsec must fit in 64 unsigned bits")
        self.tsec = tsec
        self.tnsec = tnsec

    @classmethod
    def now(cls) -> "Time":
        """The current time."""
        ns = _time.time_ns()
        return cls(ns // 1_000_000_000, ns % 1_000_000_000)

    @classmethod
    def from_epoch(cls, seconds: float) -> "Time":
        """A Time from seconds since the epoch (a float)."""
        ns = int(round(seconds * 1e9))
        return cls(ns // 1_000_000_000, ns % 1_000_000_000)

    def to_datetime(self) -> datetime.datetime:
        """The time as an aware UTC datetime (microsecond precision)."""
        return datetime.datetime.fromtimestamp(self.tsec, datetime.timezone.utc) + datetime.timedelta(
            microseconds=self.tnsec // 1000
        )

    def __float__(self) -> float:
        return self.tsec + self.tnsec / 1e9

    def __str__(self) -> str:
        try:
            dt = datetime.datetime.fromtimestamp(self.tsec, datetime.timezone.utc)
        except (OverflowError, OSError, ValueError):
            return "%d.%09d" % (self.tsec, self.tnsec)
        return "%s.%06d" % (dt.strftime("%Y-%m-%d %H:%M:%S"), self.tnsec // 1000)

    def __repr__(self) -> str:
        return "Time(%d, %d)" % (self.tsec, self.tnsec)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Time):
            return (self.tsec, self.tnsec) == (other.tsec, other.tnsec)
        return NotImplemented

    def __lt__(self, other: "Time") -> bool:
        if isinstance(other, Time):
            return (self.tsec, self.tnsec) < (other.tsec, other.tnsec)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.tsec, self.tnsec))

    def __reduce__(self):
        return (Time, (self.tsec, self.tnsec))


@functools.total_ordering
class Address:
    """A node address: ``Address(host, port, family=0)``.

    A host name is resolved with getaddrinfo (family 0: any); ``str()`` is
    ``"host:port:family"`` as in the original, :meth:`host_port` is the
    ``"host:port"`` form the library takes. Iterable as (host, port, family),
    comparable and hashable.
    """

    __slots__ = ("host", "port", "family")

    def __init__(self, host: str, port: int, family: int = 0) -> None:
        port = int(port)
        if not 0 <= port <= 65535:
            raise OverflowError("Address: port %d out of range" % port)
        family = int(family)
        host = host.strip()
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            ip = None
        if ip is None:
            try:
                infos = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
            except (socket.gaierror, UnicodeError) as e:
                raise InvalidError(format_message("Address: could not resolve %r: %s" % (host, e), -22), -22) from e
            fam, _, _, _, sockaddr = infos[0]
            host, family = sockaddr[0], int(fam)
        elif family == 0:
            family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        self.host = host
        self.port = port
        self.family = family

    @classmethod
    def from_host_port(cls, addr: str) -> "Address":
        """An Address from ``"host:port"`` (``"[v6]:port"`` for IPv6)."""
        host, port, family = _split(addr, with_family=False)
        return cls(host, port, family)

    @classmethod
    def from_host_port_family(cls, addr: str) -> "Address":
        """An Address from ``"host:port:family"``."""
        host, port, family = _split(addr, with_family=True)
        return cls(host, port, family)

    @classmethod
    def parse(cls, addr: Union[str, "Address"]) -> "Address":
        """An Address from an Address, ``"host:port"`` or ``"host:port:family"``."""
        if isinstance(addr, Address):
            return addr
        if addr.count(":") == 2 and not addr.startswith("["):
            return cls.from_host_port_family(addr)
        if addr.startswith("[") and addr.count("]:") == 1 and addr.rsplit("]:", 1)[1].count(":") == 1:
            return cls.from_host_port_family(addr)
        return cls.from_host_port(addr)

    def host_port(self) -> str:
        """The ``"host:port"`` form (``"[v6]:port"`` for IPv6)."""
        if ":" in self.host:
            return "[%s]:%d" % (self.host, self.port)
        return "%s:%d" % (self.host, self.port)

    def __str__(self) -> str:
        return "%s:%d" % (self.host_port(), self.family)

    def __repr__(self) -> str:
        return "Address(%r, %d, %d)" % (self.host, self.port, self.family)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.host, self.port, self.family))

    def __key(self) -> Tuple[str, int, int]:
        return (self.host, self.port, self.family)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Address):
            return self.__key() == other.__key()
        return NotImplemented

    def __lt__(self, other: "Address") -> bool:
        if isinstance(other, Address):
            return self.__key() < other.__key()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.__key())

    def __reduce__(self):
        return (Address, (self.host, self.port, self.family))


def _split(addr: str, with_family: bool) -> Tuple[str, int, int]:
    family = 0
    rest = addr.strip()
    if with_family:
        rest, _, fam = rest.rpartition(":")
        try:
            family = int(fam)
        except ValueError as e:
            raise InvalidError(format_message("Address: bad family in %r" % addr, -22), -22) from e
    host, sep, port = rest.rpartition(":")
    if not sep or not host:
        raise InvalidError(format_message("Address: expected host:port, got %r" % addr, -22), -22)
    try:
        return host, int(port), family
    except ValueError as e:
        raise InvalidError(format_message("Address: bad port in %r" % addr, -22), -22) from e


@functools.lru_cache(maxsize=4096)
def parse_entry_address(s: str) -> Optional[Address]:
    """The Address of a "host:port" reported by the library (None for "").

    Cached: every entry of a result names one of a few nodes, and parsing
    is most of the cost of an entry. Addresses are never changed in place.
    """
    if not s:
        return None
    host, _, port = s.rpartition(":")
    try:
        return Address(host, int(port))
    except (ValueError, InvalidError, OverflowError):
        return None


def to_remote(addr: Union[str, Address]) -> str:
    """A "host:port" for ell_node_add_remotes from an Address, "host:port" or "host:port:family"."""
    if isinstance(addr, Address):
        return addr.host_port()
    s = str(addr).strip()
    if s.startswith("["):  # "[v6]:port" or "[v6]:port:family"
        head, sep, tail = s.partition("]:")
        if sep and tail.count(":") == 1:
            return head + "]:" + tail.split(":")[0]
        return s
    if s.count(":") == 2:  # "host:port:family"
        return s.rsplit(":", 1)[0]
    return s


def ints(values: Iterable[Any]) -> list:
    """A list of ints from an iterable (for groups)."""
    return [int(v) for v in values]
