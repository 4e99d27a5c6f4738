"""A sealed order book: orders are kept, replaced and cancelled until the window closes.

A sealed book is never matched continuously, so it only needs cheap add / replace / cancel
and, at the close, a walk of its price levels best first. Levels live in a ``SortedDict``
keyed by integer ticks; each level is an insertion-ordered ``dict`` of orders, so iteration
within a level is in arrival order (a tuple key per order in a ``SortedList`` costs twice as
much on ingestion). Both the CDS stage-2 book and the converted-swap bid book use it.

Complexity: add, replace and cancel are O(log L) for L distinct levels (O(1) when the level
exists already); a best-first walk is O(L + N); the levels' total sizes, best first, O(L)
(kept up to date by add and cancel, for clearing).

This module holds orders only: it knows nothing of auction rules, clocks or I/O.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sortedcontainers import SortedDict

from matching.errors import AlreadyExists, NotFound


@dataclass(slots=True)
class BookOrder:
    """One resting order. ``seq`` is its arrival sequence (earlier submission wins ties)."""

    order_id: str
    owner: str
    ticks: int
    size: int
    seq: int
    customer: str | None = None
    carried: bool = False


class SealedBook:
    """Orders by price level, best-first walks, an owner index and an invariant checker."""

    __slots__ = ("_by_id", "_by_owner", "_level_sizes", "_levels", "_total", "version")

    def __init__(self) -> None:
        self._levels: SortedDict[int, dict[str, BookOrder]] = SortedDict()
        self._level_sizes: dict[int, int] = {}  # ticks -> total size resting there
        self._by_id: dict[str, BookOrder] = {}
        self._by_owner: dict[str, dict[str, BookOrder]] = {}
        self._total = 0
        #: Bumped by every change, so a reader holding on to levels can tell they moved.
        self.version = 0

    # -- queries ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._by_id

    @property
    def total_size(self) -> int:
        """Sum of the sizes of all resting orders."""
        return self._total

    def get(self, order_id: str) -> BookOrder:
        """The order with this id; NotFound otherwise."""
        try:
            return self._by_id[order_id]
        except KeyError:
            raise NotFound(f"no order {order_id!r}") from None

    def orders_of(self, owner: str) -> list[BookOrder]:
        """The owner's resting orders in arrival order."""
        return sorted(self._by_owner.get(owner, {}).values(), key=lambda o: o.seq)

    def count_of(self, owner: str) -> int:
        """How many resting orders the owner has (O(1))."""
        return len(self._by_owner.get(owner, ()))

    def orders(self) -> Iterator[BookOrder]:
        """Every resting order, in no particular order."""
        return iter(self._by_id.values())

    def levels(self, *, descending: bool) -> Iterator[tuple[int, list[BookOrder]]]:
        """Price levels best first (``descending`` for bids), orders in arrival order."""
        keys = reversed(self._levels.keys()) if descending else iter(self._levels.keys())
        for ticks in keys:
            yield ticks, list(self._levels[ticks].values())

    def level_sizes(self, *, descending: bool) -> list[tuple[int, int]]:
        """(ticks, total size) of every price level, best first. O(L), not O(N): the
        totals are kept as orders come and go, so clearing never has to add them up."""
        keys = reversed(self._levels.keys()) if descending else iter(self._levels.keys())
        sizes = self._level_sizes
        return [(ticks, sizes[ticks]) for ticks in keys]

    def level(self, ticks: int) -> list[BookOrder]:
        """The orders resting at ``ticks`` in arrival order (empty if none)."""
        found = self._levels.get(ticks)
        return [] if found is None else list(found.values())

    # -- commands --------------------------------------------------------------------------

    def add(self, order: BookOrder) -> None:
        """Rest a new order; an id already in the book is refused."""
        if order.order_id in self._by_id:
            raise AlreadyExists(f"order {order.order_id!r} is already in the book")
        level = self._levels.get(order.ticks)
        if level is None:
            level = self._levels[order.ticks] = {}
        level[order.order_id] = order
        self._level_sizes[order.ticks] = self._level_sizes.get(order.ticks, 0) + order.size
        self._by_id[order.order_id] = order
        owned = self._by_owner.get(order.owner)
        if owned is None:
            owned = self._by_owner[order.owner] = {}
        owned[order.order_id] = order
        self._total += order.size
        self.version += 1

    def cancel(self, order_id: str) -> BookOrder:
        """Remove an order and return it."""
        order = self.get(order_id)
        level = self._levels[order.ticks]
        del level[order_id]
        if not level:
            del self._levels[order.ticks]
            del self._level_sizes[order.ticks]
        else:
            self._level_sizes[order.ticks] -= order.size
        del self._by_id[order_id]
        owned = self._by_owner[order.owner]
        del owned[order_id]
        if not owned:
            del self._by_owner[order.owner]
        self._total -= order.size
        self.version += 1
        return order

    def replace(self, order_id: str, *, ticks: int, size: int, seq: int) -> BookOrder:
        """Change price and size; the order takes the new arrival sequence ``seq``.

        A replaced order loses its time priority, as a new submission would: the earlier
        submission rule must not reward amending an old order.
        """
        old = self.cancel(order_id)
        new = BookOrder(
            order_id=order_id,
            owner=old.owner,
            ticks=ticks,
            size=size,
            seq=seq,
            customer=old.customer,
            carried=old.carried,
        )
        self.add(new)
        return new

    # -- internals -------------------------------------------------------------------------

    def _check(self) -> None:
        """Assert every internal invariant; stress and property tests call this after each step."""
        seen = 0
        total = 0
        assert set(self._level_sizes) == set(self._levels), "level totals and levels disagree"
        for ticks, level in self._levels.items():
            assert level, f"empty level {ticks} left behind"
            assert self._level_sizes[ticks] == sum(o.size for o in level.values()), (
                f"level {ticks} total drifted"
            )
            for order_id, order in level.items():
                assert order.order_id == order_id
                assert order.ticks == ticks, f"order {order_id} filed under the wrong level"
                assert self._by_id.get(order_id) is order
                assert self._by_owner[order.owner].get(order_id) is order
                assert order.size > 0, f"order {order_id} has size {order.size}"
                seen += 1
                total += order.size
        assert seen == len(self._by_id), "index and levels disagree"
        assert sum(len(v) for v in self._by_owner.values()) == seen, "owner index drifted"
        assert all(self._by_owner.values()), "empty owner entry left behind"
        assert total == self._total, "running total drifted"
