"""The read barrier: nothing leaves the server that reflects state the journal does not hold.

Commands change a registry's memory first and reach the journal a moment later (the engine
decides and applies in one synchronous step, so that each stream's journal order is the
order of application; the commit follows). Anything computed from memory in between -- a
``GetResults`` showing a close, a ``GetLot`` showing an award, a refusal saying "the window
is closed" -- could show something a crash then loses.

:class:`Durability` closes that gap for every answer at once. A registry takes a ticket
(:meth:`Durability.applied`) in the same synchronous step in which it changes memory, and
returns it (:meth:`Durability.durable`) once the commit holding those events is durable.
:meth:`Durability.barrier`, called when an answer has been computed, resolves once every
ticket taken before that moment is returned: the answer reflects only what was applied
before it was computed, so once those commits are durable it reflects only durable state.
The guard interceptor awaits it before it sends any answer or refusal
(``server/interceptors.py``).

Commits are not returned strictly in ticket order (two registries flush at different points
of a loop turn), so the barrier waits for the lowest outstanding ticket, not the highest
returned one. If the journal fails, every waiter gets the failure (the server is stopping).

This module knows nothing of auctions or the journal's format, and must never let a barrier
resolve while a ticket taken before it is outstanding.
"""

from __future__ import annotations

import asyncio
import heapq
from collections import deque
from collections.abc import Awaitable

__all__ = ["Durability"]


class Durability:
    """Tickets for applied-but-not-yet-durable changes, and the barrier over them."""

    def __init__(self) -> None:
        self._issued = 0
        self._outstanding: deque[int] = deque()  # tickets in issue order
        self._returned: set[int] = set()  # returned out of order, still behind the low mark
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []  # heap by ticket
        self._failure: BaseException | None = None
        self._count = 0

    @property
    def outstanding(self) -> int:
        """How many changes are applied in memory but not yet durable."""
        return len(self._outstanding) - len(self._returned)

    @property
    def waiting(self) -> int:
        """How many answers are held at the barrier now."""
        return sum(1 for *_, f in self._waiters if not f.done())

    def applied(self) -> int:
        """Take a ticket for a change just applied in memory; return it with :meth:`durable`."""
        self._issued += 1
        self._outstanding.append(self._issued)
        return self._issued

    def durable(self, ticket: int) -> None:
        """The commit holding the change of ``ticket`` is durable."""
        outstanding = self._outstanding
        if outstanding and outstanding[0] == ticket:
            outstanding.popleft()
            returned = self._returned
            while outstanding and outstanding[0] in returned:
                returned.discard(outstanding.popleft())
        else:
            self._returned.add(ticket)
        self._wake()

    def failed(self, failure: BaseException) -> None:
        """The journal failed: nothing outstanding will become durable; refuse every waiter."""
        self._failure = failure
        for _, _, future in self._waiters:
            if not future.done():
                future.set_exception(failure)
        self._waiters.clear()

    def barrier(self) -> Awaitable[None] | None:
        """None if everything applied so far is durable, else what to await until it is.

        Synchronous on purpose: the moment of the call is the moment the answer reflects.
        """
        if not self._outstanding:
            return None
        if self._failure is not None:
            failure = self._failure

            async def refuse() -> None:
                raise failure

            return refuse()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._count += 1
        heapq.heappush(self._waiters, (self._issued, self._count, future))
        return future

    def _wake(self) -> None:
        low = self._outstanding[0] if self._outstanding else self._issued + 1
        waiters = self._waiters
        while waiters and waiters[0][0] < low:
            _, _, future = heapq.heappop(waiters)
            if not future.done():
                future.set_result(None)
