"""The server's CDS auctions: one engine per auction, commands journaled before they are acked.

:meth:`AuctionRegistry.execute` is the one path by which a command changes an auction: the
engine decides (raising a DomainError, which changes nothing), the events are applied in
memory, appended to the journal, and only when the commit holding them is durable does the
caller get its acknowledgement and do watchers see them. Between the decision and the apply
there is no ``await``, so commands on one auction are serialised by the event loop.

The registry also keeps each auction's event history for ``WatchAuction`` (resumable by
sequence number), wakes watchers when events become durable, and runs the window scheduler
that opens and closes windows on the server's clock.

No auction rule lives here: what is allowed, and what it means, is the engine's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from matching.cds import events as ev
from matching.cds.auction import CdsAuction, Decision
from matching.errors import AlreadyExists, DomainError, NotFound
from server.journal import Journal, Record

__all__ = ["STREAM_PREFIX", "AuctionRegistry"]

#: Journal streams of CDS auctions are ``cds/<auction id>``.
STREAM_PREFIX = "cds/"
SCHEDULER = "scheduler"

_log = logging.getLogger("closeout.cds")


@dataclass
class _Entry:
    auction: CdsAuction
    history: list[ev.Event] = field(default_factory=list)
    durable_seq: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def mark_durable(self, seq: int) -> None:
        if seq > self.durable_seq:
            self.durable_seq = seq
            # Wake everyone waiting on the old event; later waiters get a fresh one.
            woken, self.changed = self.changed, asyncio.Event()
            woken.set()


class AuctionRegistry:
    """Every CDS auction of the server, its history, and the scheduler of its windows."""

    def __init__(self, journal: Journal, now: Callable[[], datetime]) -> None:
        self._journal = journal
        self._now = now
        self._auctions: dict[str, _Entry] = {}
        self._poke = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- queries -------------------------------------------------------------------------

    def get(self, auction_id: str) -> CdsAuction:
        """The auction, or NotFound."""
        return self._entry(auction_id).auction

    def auctions(self) -> list[CdsAuction]:
        """All auctions in creation order."""
        return [e.auction for e in self._auctions.values()]

    def durable_history(self, auction_id: str, after: int) -> list[ev.Event]:
        """Durable events with ``seq > after``."""
        entry = self._entry(auction_id)
        return [e for e in entry.history[after:] if e.seq <= entry.durable_seq]

    async def wait_for_events(self, auction_id: str, after: int) -> None:
        """Return once an event with ``seq > after`` is durable."""
        entry = self._entry(auction_id)
        while entry.durable_seq <= after:
            await entry.changed.wait()

    # -- commands ------------------------------------------------------------------------

    async def create(self, decision: Decision) -> CdsAuction:
        """Register a new auction from its AuctionCreated decision and journal it."""
        created = decision.events[0]
        if created.auction_id in self._auctions:
            raise AlreadyExists(f"an auction {created.auction_id!r} already exists")
        entry = _Entry(CdsAuction.from_events(decision.events))
        self._auctions[created.auction_id] = entry
        await self._commit(entry, decision.events)
        self._poke.set()
        return entry.auction

    async def execute(self, auction_id: str, command: Callable[[CdsAuction], Decision]) -> Decision:
        """Decide, apply, journal; return once durable. DomainErrors propagate unchanged."""
        decision, durable = self.begin(auction_id, command)
        await durable
        return decision

    def begin(
        self, auction_id: str, command: Callable[[CdsAuction], Decision]
    ) -> tuple[Decision, Awaitable[object]]:
        """Decide, apply and queue the journal write now; await the second value for durability.

        Everything up to the queueing is synchronous, so the journal receives each auction's
        events in the order they were applied even when callers await later (bulk streams
        keep many commits in flight this way).
        """
        entry = self._entry(auction_id)
        decision = command(entry.auction)
        if decision.events:
            phase = entry.auction.phase
            entry.auction.apply_all(decision.events)
            durable = self._commit(entry, decision.events)
            if entry.auction.phase is not phase:
                self._poke.set()
            return decision, durable
        if decision.ack is not None and decision.ack.seq > entry.durable_seq:
            # An idempotent repeat of a submission whose commit is still in flight: its
            # acknowledgement may only go out once the original is durable.
            return decision, self.wait_for_events(auction_id, decision.ack.seq - 1)
        return decision, _done()

    # -- journal replay ------------------------------------------------------------------

    def replay(self, record: Record) -> None:
        """Startup hook: rebuild auctions from their journal records (in sequence order)."""
        if not record.stream.startswith(STREAM_PREFIX):
            return
        event = ev.event_from_dict(record.payload)
        if isinstance(event, ev.AuctionCreated):
            entry = _Entry(CdsAuction.from_events([event]))
            self._auctions[event.auction_id] = entry
        else:
            entry = self._entry(event.auction_id)
            entry.auction.apply(event)
        entry.history.append(event)
        entry.mark_durable(event.seq)

    # -- scheduler -----------------------------------------------------------------------

    async def start(self) -> None:
        """Start the window scheduler (and catch up on windows due while the server was down)."""
        self._task = asyncio.create_task(self._schedule(), name="cds-window-scheduler")

    async def stop(self) -> None:
        """Stop the scheduler."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def run_due(self) -> int:
        """Run every scheduled phase change that is due now; returns how many ran.

        Each runs as the ``scheduler`` through :meth:`execute`, like an operator's command. A
        change that is no longer possible (an operator got there first) is logged and skipped.
        """
        ran = 0
        progressed = True
        while progressed:  # opening may make a close due at once, e.g. after downtime
            progressed = False
            now = self._now()
            for auction in self.auctions():
                timer = auction.next_timer()
                if timer is None or timer[0] > now:
                    continue
                name = timer[1]
                try:
                    await self.execute(
                        auction.auction_id,
                        lambda a, name=name, now=now: getattr(a, name)(by=SCHEDULER, now=now),  # type: ignore[misc]
                    )
                except DomainError as exc:
                    _log.warning("scheduled %s of %s skipped: %s", name, auction.auction_id, exc)
                    continue
                ran += 1
                progressed = True
        return ran

    async def _schedule(self) -> None:
        while True:
            self._poke.clear()
            await self.run_due()
            timers = [t[0] for a in self.auctions() if (t := a.next_timer()) is not None]
            # Sleep until the next window time, at most a second: the clock may be adjusted
            # (or faked in tests) and a poke wakes us early for new or changed auctions.
            delay = 1.0
            if timers:
                delay = min(delay, max(0.0, (min(timers) - self._now()).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poke.wait(), timeout=delay)

    # -- internals -----------------------------------------------------------------------

    def _entry(self, auction_id: str) -> _Entry:
        try:
            return self._auctions[auction_id]
        except KeyError:
            raise NotFound(f"no auction {auction_id!r}") from None

    def _commit(self, entry: _Entry, events: tuple[ev.Event, ...]) -> Awaitable[object]:
        entry.history.extend(events)
        stream = STREAM_PREFIX + entry.auction.auction_id
        written = self._journal.submit(stream, [e.to_dict() for e in events])
        last = events[-1].seq

        def durable(future: asyncio.Future[Any]) -> None:
            # Commits complete in queue order, so everything up to ``last`` is durable now.
            # Runs whether or not anyone awaits: watchers must not depend on the submitter.
            if not future.cancelled() and future.exception() is None:
                entry.mark_durable(last)

        written.add_done_callback(durable)
        return asyncio.shield(written)


async def _done() -> None:
    return None
