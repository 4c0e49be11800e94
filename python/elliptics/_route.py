"""Route tables: :class:`Route` and :class:`RouteList` (``session.routes``)."""

from __future__ import annotations

from typing import Dict, Iterable, Iterator, List, Optional, Tuple, Union, overload

from ._values import Address, Id

__all__ = ["Route", "RouteList"]


class Route:
    """One ring point: ``id`` (an Id with the group), ``address``, ``backend_id``.

    The backend at ``address`` owns the keys from this point up to the next
    point of the same group.
    """

    __slots__ = ("id", "address", "backend_id")

    def __init__(self, id: Id, address: Address, backend_id: int = 0) -> None:
        self.id = id
        self.address = address
        self.backend_id = int(backend_id)

    @property
    def group_id(self) -> int:
        """The group of the route (``route.id.group_id``)."""
        return self.id.group_id

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Route):
            return (self.id, self.address, self.backend_id) == (other.id, other.address, other.backend_id)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.id, self.address, self.backend_id))

    def __repr__(self) -> str:
        return "<Route group %d %s... %s backend %d>" % (
            self.group_id,
            str(self.id)[:16],
            self.address.host_port(),
            self.backend_id,
        )


_RING_SIZE = 1 << 512


def _as_int(i: Id) -> int:
    return int.from_bytes(i.to_bytes(), "big")


class RouteList:
    """The routes of a node, sorted by group then ID (``session.routes``).

    A sequence of :class:`Route`: ``len``, indexing, iteration; queries below
    as in the original binding.
    """

    def __init__(self, routes: Iterable[Route] = ()) -> None:
        self.routes: List[Route] = sorted(routes, key=lambda r: (r.id.group_id, r.id.to_bytes()))

    def __len__(self) -> int:
        return len(self.routes)

    def __iter__(self) -> Iterator[Route]:
        return iter(self.routes)

    @overload
    def __getitem__(self, i: int) -> Route: ...

    @overload
    def __getitem__(self, i: slice) -> "RouteList": ...

    def __getitem__(self, i: Union[int, slice]) -> Union[Route, "RouteList"]:
        if isinstance(i, slice):
            return RouteList(self.routes[i])
        return self.routes[i]

    def __repr__(self) -> str:
        return "<RouteList %d routes, groups %s>" % (len(self.routes), self.groups())

    # ---- selections -----------------------------------------------------

    def groups(self) -> List[int]:
        """Groups of the routes, sorted, without duplicates."""
        return sorted({r.group_id for r in self.routes})

    def addresses(self) -> List[Address]:
        """Addresses of the routes, sorted, without duplicates."""
        return sorted({r.address for r in self.routes})

    def addresses_with_backends(self) -> List[Tuple[Address, int]]:
        """(address, backend_id) pairs, sorted, without duplicates."""
        return sorted({(r.address, r.backend_id) for r in self.routes})

    def get_unique_routes(self) -> List[Route]:
        """The first route of each (address, backend, group)."""
        seen = set()
        out = []
        for r in self.routes:
            k = (r.address, r.backend_id, r.group_id)
            if k not in seen:
                seen.add(k)
                out.append(r)
        return out

    def filter_by_address(self, address: Union[Address, str]) -> "RouteList":
        """The routes of one node."""
        a = Address.parse(address)
        return RouteList(r for r in self.routes if r.address == a)

    def filter_by_group(self, group_id: int) -> "RouteList":
        """The routes of one group."""
        return RouteList(r for r in self.routes if r.group_id == int(group_id))

    def filter_by_groups(self, group_ids: Iterable[int]) -> "RouteList":
        """The routes of some groups."""
        gs = {int(g) for g in group_ids}
        return RouteList(r for r in self.routes if r.group_id in gs)

    def filter_by_backend(self, address: Union[Address, str], backend_id: int) -> "RouteList":
        """The routes of one backend of a node."""
        a = Address.parse(address)
        return RouteList(r for r in self.routes if r.address == a and r.backend_id == int(backend_id))

    def get_address_groups(self, address: Union[Address, str]) -> List[int]:
        """Groups served by a node."""
        return self.filter_by_address(address).groups()

    def get_address_backends(self, address: Union[Address, str]) -> List[int]:
        """Backend IDs of a node."""
        return sorted({r.backend_id for r in self.filter_by_address(address)})

    def get_address_backend_group(self, address: Union[Address, str], backend_id: int) -> Optional[int]:
        """The group of a node's backend (None if unknown)."""
        gs = self.filter_by_backend(address, backend_id).groups()
        return gs[0] if gs else None

    def get_id_routes(self, id: Id) -> List[Tuple[Address, int, int]]:
        """(address, backend_id, group) owning id in each group."""
        out = []
        for g in self.groups():
            r = self._owner(g, id)
            if r is not None:
                out.append((r.address, r.backend_id, g))
        return out

    def _owner(self, group: int, id: Id) -> Optional[Route]:
        rs = self.filter_by_group(group).routes
        if not rs:
            return None
        key = id.to_bytes()
        owner = rs[-1]  # below the first point: the ring wraps to the last
        for r in rs:
            if r.id.to_bytes() <= key:
                owner = r
            else:
                break
        return owner

    def _ranges(self, group: int) -> List[Tuple[Route, int, int]]:
        """(route, start, end) ranges of a group's ring, as integers (end exclusive)."""
        rs = self.filter_by_group(group).routes
        out = []
        for i, r in enumerate(rs):
            start = _as_int(r.id)
            end = _as_int(rs[i + 1].id) if i + 1 < len(rs) else _RING_SIZE + _as_int(rs[0].id)
            out.append((r, start, end))
        return out

    def get_address_ranges(self, address: Union[Address, str]) -> List[Tuple[Id, Id]]:
        """[start, end) ID ranges owned by a node in every group (end wraps past [255]*64)."""
        a = Address.parse(address)
        out = []
        for g in self.groups():
            for r, start, end in self._ranges(g):
                if r.address == a:
                    out.append((Id(start, g), Id(end % _RING_SIZE, g)))
        return out

    def percentages(self) -> Dict[int, Dict[Tuple[Address, int], float]]:
        """{group: {(address, backend_id): percent of the group's ring}}."""
        out: Dict[int, Dict[Tuple[Address, int], float]] = {}
        for g in self.groups():
            shares: Dict[Tuple[Address, int], float] = {}
            for r, start, end in self._ranges(g):
                k = (r.address, r.backend_id)
                shares[k] = shares.get(k, 0.0) + (end - start) * 100.0 / _RING_SIZE
            out[g] = shares
        return out
