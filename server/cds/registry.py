"""The server's CDS auctions: one engine per auction, commands journaled before they are acked.

:meth:`AuctionRegistry.execute` is the one path by which a command changes an auction: the
engine decides (raising a DomainError, which changes nothing), the events are applied in
memory, appended to the journal, and only when the commit holding them is durable does the
caller get its acknowledgement and do watchers see them. Between the decision and the apply
there is no ``await``, so commands on one auction are serialised by the event loop.

The registry also serves each auction's event history for ``WatchAuction`` (resumable by
sequence number: phase changes and publications from memory, submissions read back from the
journal by position), wakes watchers when events become durable, and runs the window scheduler
that opens and closes windows on the server's clock.

No auction rule lives here: what is allowed, and what it means, is the engine's.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
from array import array
from bisect import bisect_right
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from matching.cds import events as ev
from matching.cds.auction import CdsAuction, Decision
from matching.errors import AlreadyExists, NotFound
from server.durability import Durability
from server.events_log import log_durable
from server.journal import Journal, JournalFailed, Record
from server.scheduler import WindowScheduler
from server.sequences import ViewNumbers
from server.watch_buffer import WatchBuffers

__all__ = ["STREAM_PREFIX", "WATCH_PAGE", "AuctionRegistry", "owner_of"]

#: Journal streams of CDS auctions are ``cds/<auction id>``.
STREAM_PREFIX = "cds/"
#: Events a watcher's history is read in (per journal read, and at most held per stream).
WATCH_PAGE = 1000
#: Group commits of one registry handed to the journal and not yet durable, at most. While
#: one is, what is applied meanwhile waits in the one pending group, handed over whole once
#: no commit is in flight (see SECOND_COMMIT_AT): the event loop pays for one append, one
#: future and one callback per group commit instead of one per loop turn (under load nearly
#: every call arrives in a turn of its own), and the writer one commit (its statement, its
#: fsyncs and its handoffs of the GIL, a fixed cost that dominates the commit) per group.
COMMITS_IN_FLIGHT = 2
#: A pending group goes to the journal while another commit is still in flight only once it
#: holds this many events (a burst, a bulk stream): the writer then has the next group
#: queued while it commits one. Smaller groups wait until no commit is in flight (not
#: merely one fewer: a burst must not leave the registry handing over small groups two at a
#: time), so that under load each commit carries what arrived during the whole of the
#: previous one. The writer commits one group at a time anyway: a small group that waits
#: loses only the loop's turnaround. With nothing in flight a group goes at the end of its
#: loop turn, as before.
SECOND_COMMIT_AT = 64


@dataclass
class _Entry:
    auction: CdsAuction
    #: Events without a client order id (phase changes, publications: a handful), in order.
    public: list[ev.Event] = field(default_factory=list)
    #: The journal sequence number of each durable event, by the event's ``seq - 1``.
    journal_seqs: array[int] = field(default_factory=lambda: array("q"))
    #: Each event's number as each viewer counts (see ``server.sequences``).
    numbers: ViewNumbers = field(default_factory=ViewNumbers)
    durable_seq: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    waiting: int = 0

    def mark_durable(self, seq: int) -> None:
        if seq > self.durable_seq:
            self.durable_seq = seq
            if self.waiting:
                # Wake everyone waiting on the old event; later waiters get a fresh one.
                woken, self.changed = self.changed, asyncio.Event()
                woken.set()


class _Commit(asyncio.Future[Any]):
    """The durability of one group commit, shared by every command in the group.

    Awaited by many handlers at once, so a cancelled handler must not cancel it for the
    others: :meth:`cancel` refuses, and the cancelled task (``Task.cancel`` then marks it)
    sees its ``CancelledError`` once the commit is over, the events durable or failed. This
    replaces a ``asyncio.shield`` per command (a second future and two callbacks each).
    """

    def cancel(self, msg: Any | None = None) -> bool:
        return False

    def abandon(self) -> None:
        """Cancel for real: the journal's own future was cancelled (nothing was written)."""
        super().cancel()


class AuctionRegistry:
    """Every CDS auction of the server, its history, and the scheduler of its windows."""

    def __init__(
        self,
        journal: Journal,
        now: Callable[[], datetime],
        durability: Durability | None = None,
    ) -> None:
        self._journal = journal
        self._now = now
        self._durability = durability or Durability()
        self._pending_ticket = 0
        self._auctions: dict[str, _Entry] = {}
        self._scheduler = WindowScheduler("cds", now, self.auctions, self.execute)
        #: The per-participant cap on watch history held for sending (``WatchAuction``).
        self.watch_buffers = WatchBuffers()
        # Commands applied since the last flush to the journal (one append per loop turn).
        self._pending: list[tuple[str, list[dict[str, Any]]]] = []
        self._pending_marks: list[tuple[_Entry, int]] = []  # (auction, number of events)
        self._pending_events = 0  # events in the pending group
        self._pending_future: _Commit | None = None
        self._in_flight = 0  # group commits handed to the journal, not yet durable

    # -- queries -------------------------------------------------------------------------

    def get(self, auction_id: str) -> CdsAuction:
        """The auction, or NotFound."""
        return self._entry(auction_id).auction

    def auctions(self) -> list[CdsAuction]:
        """All auctions in creation order."""
        return [e.auction for e in self._auctions.values()]

    def auction_rows(self) -> Iterator[tuple[str, str, str, int | None]]:
        """(kind, auction id, phase, accepted submissions) per auction, for metrics scrapes.

        Submissions count every accepted market, request and order event (replacements and
        withdrawals included): the auction's events less its phase changes and publications;
        None while the auction is sealed (how often others submitted is what a sealed window
        keeps from every participant).
        """
        for auction_id, entry in list(self._auctions.items()):
            auction = entry.auction
            submitted = None if auction.is_sealed() else auction.last_seq - len(entry.public)
            yield "cds", auction_id, auction.phase.value, submitted

    def durable_seq(self, auction_id: str) -> int:
        """The auction's last durable event sequence number."""
        return self._entry(auction_id).durable_seq

    def numbers(self, auction_id: str) -> ViewNumbers:
        """The auction's events numbered per viewer (``server.sequences``)."""
        return self._entry(auction_id).numbers

    def seen_count(self, auction_id: str, viewer: str | None) -> int:
        """How many durable events ``viewer`` (a dealer; None: public only) may see: its
        ``last_sequence``, which moves only with what it is shown."""
        entry = self._entry(auction_id)
        return entry.numbers.position(viewer, entry.durable_seq)

    def public_history(self, auction_id: str, after: int) -> list[ev.Event]:
        """Durable events with ``seq > after`` that are nobody's submission (kept in memory)."""
        entry = self._entry(auction_id)
        return [e for e in entry.public if after < e.seq <= entry.durable_seq]

    async def durable_history(
        self, auction_id: str, after: int, limit: int | None = None
    ) -> list[ev.Event]:
        """Up to ``limit`` durable events with ``seq > after``, read back from the journal.

        Submissions are not kept in memory (a million resting orders would cost a million
        event objects); their journal positions are, so a page of a watcher's history is one
        range read on a worker thread. Paged so that a watcher of a long history (or one
        that does not read) never makes the server hold more than a page of it.
        """
        entry = self._entry(auction_id)
        durable = min(entry.durable_seq, after + (limit or WATCH_PAGE))
        if after >= durable:
            return []
        seqs = entry.journal_seqs
        records = await asyncio.to_thread(
            self._journal.read_stream,
            STREAM_PREFIX + auction_id,
            seqs[after],
            seqs[durable - 1],
        )
        return [ev.event_from_dict(r.payload) for r in records]

    async def visible_history(
        self, auction_id: str, viewer: str, after: int, limit: int = WATCH_PAGE
    ) -> tuple[list[ev.Event], int]:
        """What dealer ``viewer`` may see after ``after``: up to ``limit`` of its own durable
        events (read back from the journal, and only those) merged with the public events
        among them (from memory), and the auction number ``through`` which that covers.

        A dealer with no submissions reads nothing from the journal at all; a dealer's watch
        never reads, decodes or holds another dealer's submissions.
        """
        entry = self._entry(auction_id)
        durable = entry.durable_seq
        if after >= durable:
            return [], after
        own = entry.numbers.own_seqs(viewer)
        first = bisect_right(own, after)
        end = bisect_right(own, durable)
        page = own[first : min(end, first + limit)]
        through = durable if first + limit >= end else page[-1]
        mine: list[ev.Event] = []
        if page:
            runs = _runs(page)
            seqs = entry.journal_seqs
            stream = STREAM_PREFIX + auction_id
            ranges = [(seqs[a - 1], seqs[b - 1]) for a, b in runs]
            records = await asyncio.to_thread(self._read_ranges, stream, ranges)
            mine = [ev.event_from_dict(r.payload) for r in records]
        public_seqs = entry.numbers.public_seqs()
        public = entry.public[bisect_right(public_seqs, after) : bisect_right(public_seqs, through)]
        return list(heapq.merge(mine, public, key=lambda e: e.seq)), through

    def _read_ranges(self, stream: str, ranges: list[tuple[int, int]]) -> list[Record]:
        out: list[Record] = []
        for first, last in ranges:
            out.extend(self._journal.read_stream(stream, first, last))
        return out

    async def wait_for_events(self, auction_id: str, after: int) -> None:
        """Return once an event with ``seq > after`` is durable."""
        entry = self._entry(auction_id)
        while entry.durable_seq <= after:
            entry.waiting += 1
            try:
                await entry.changed.wait()
            finally:
                entry.waiting -= 1

    # -- commands ------------------------------------------------------------------------

    async def create(self, decision: Decision) -> CdsAuction:
        """Register a new auction from its AuctionCreated decision and journal it."""
        created = decision.events[0]
        if created.auction_id in self._auctions:
            raise AlreadyExists(f"an auction {created.auction_id!r} already exists")
        entry = _Entry(CdsAuction.from_events(decision.events))
        self._auctions[created.auction_id] = entry
        await self._commit(entry, decision.events)
        self._scheduler.poke()
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
                self._scheduler.poke()
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
        if owner_of(event) is None:
            entry.public.append(event)
        entry.numbers.add(event.seq, owner_of(event))
        entry.journal_seqs.append(record.seq)
        entry.mark_durable(event.seq)

    # -- scheduler -----------------------------------------------------------------------

    async def start(self) -> None:
        """Start the window scheduler (catching up on windows due while the server was down)."""
        await self._scheduler.start()

    async def stop(self) -> None:
        """Stop the scheduler."""
        await self._scheduler.stop()

    async def run_due(self) -> int:
        """Run every scheduled phase change that is due now (see ``server.scheduler``)."""
        return await self._scheduler.run_due()

    # -- internals -----------------------------------------------------------------------

    def _entry(self, auction_id: str) -> _Entry:
        try:
            return self._auctions[auction_id]
        except KeyError:
            raise NotFound(f"no auction {auction_id!r}") from None

    def _commit(self, entry: _Entry, events: tuple[ev.Event, ...]) -> Awaitable[object]:
        """Queue the events for the journal; the awaitable resolves once they are durable.

        Group commit starts here: every command applied in one turn of the event loop goes
        to the journal as one append (queued at the end of the turn, in apply order), with
        one future and one callback for all of them instead of one each. While a commit is
        in flight the group grows over further turns until it completes, or until the group
        holds :data:`SECOND_COMMIT_AT` events (then it goes as the second of at most
        :data:`COMMITS_IN_FLIGHT`).
        """
        public = []
        for event in events:
            owner = owner_of(event)
            entry.numbers.add(event.seq, owner)
            if owner is None:
                public.append(event)
        entry.public.extend(public)
        self._pending.append(
            (STREAM_PREFIX + entry.auction.auction_id, [e.to_dict() for e in events])
        )
        self._pending_marks.append((entry, len(events)))
        future = self._pending_future
        if future is None:
            future = self._pending_future = _Commit(loop=asyncio.get_running_loop())
            # One read-barrier ticket for everything in the group.
            self._pending_ticket = self._durability.applied()
        before = self._pending_events
        self._pending_events = grouped = before + len(events)
        in_flight = self._in_flight
        if (before == 0 and in_flight == 0) or (
            before < SECOND_COMMIT_AT <= grouped and 0 < in_flight < COMMITS_IN_FLIGHT
        ):
            # To the journal at the end of this turn; else a completion hands it over.
            future.get_loop().call_soon(self._flush_group, future)
        if public:  # phase changes and publications: a handful per auction
            future.add_done_callback(
                functools.partial(_log_when_durable, entry.auction.auction_id, public)
            )
        return future

    def _flush_group(self, group: _Commit) -> None:
        """Hand ``group`` to the journal at the end of its loop turn, unless a completion
        handed it over meanwhile (the group pending now may be a later one)."""
        if self._pending_future is group:
            self._flush()

    def _flush(self) -> None:
        future, items, marks = self._pending_future, self._pending, self._pending_marks
        self._pending_future, self._pending, self._pending_marks = None, [], []
        self._pending_events = 0
        ticket, durability = self._pending_ticket, self._durability
        if future is None:
            return
        if future.done():
            # Cannot happen (a group's future settles only once it was written), but if it
            # did, its ticket would hold every answer at the barrier for ever: fail stop.
            durability.failed(JournalFailed("a commit group was settled before it was written"))
            return
        try:
            written = self._journal.submit_many(items)
        except BaseException as exc:  # JournalFailed: every waiter hears it (fail-stop)
            durability.failed(exc)
            future.set_exception(exc)
            future.exception()  # retrieved: nobody may be awaiting (bulk streams)
            return
        self._in_flight += 1

        def durable(done: asyncio.Future[Any]) -> None:
            # Commits complete in queue order, so everything up to each mark is durable now.
            # Runs whether or not anyone awaits: watchers must not depend on the submitter.
            self._in_flight -= 1
            if self._pending_future is not None and (
                self._in_flight == 0 or self._pending_events >= SECOND_COMMIT_AT
            ):
                self._flush()  # the group that waited: to the writer before anything else
            if done.cancelled():
                # Nothing says whether the events were written: fail stop, so the barrier
                # refuses every later answer instead of waiting for this ticket for ever.
                durability.failed(JournalFailed("a journal write was cancelled"))
                future.abandon()
                return
            exc = done.exception()
            if exc is not None:
                durability.failed(exc)
                future.set_exception(exc)
                future.exception()
                return
            # The batch's records are contiguous and end at the journal sequence ``done``
            # resolved with; hand each auction the journal position of each of its events.
            try:
                journal_seq = done.result() - sum(count for _, count in marks)
                for entry, count in marks:
                    entry.journal_seqs.extend(range(journal_seq + 1, journal_seq + count + 1))
                    journal_seq += count
                    entry.mark_durable(len(entry.journal_seqs))
            finally:
                # The records are in the journal: the ticket goes back whatever happened
                # above (a ticket never returned holds every answer at the barrier).
                durability.durable(ticket)
            future.set_result(None)

        written.add_done_callback(durable)


def _runs(seqs: Sequence[int]) -> list[tuple[int, int]]:
    """Consecutive auction numbers as (first, last) runs: one journal range read each."""
    runs: list[tuple[int, int]] = []
    start = prev = seqs[0]
    for seq in seqs[1:]:
        if seq != prev + 1:
            runs.append((start, prev))
            start = seq
        prev = seq
    runs.append((start, prev))
    return runs


def owner_of(event: ev.Event) -> str | None:
    """Whose private event this is (the submitting dealer), or None for a public one (a
    phase change or a publication: the events without a client order id)."""
    if getattr(event, "client_order_id", None) is None:
        return None
    return str(event.dealer)  # type: ignore[attr-defined]


async def _done() -> None:
    return None


def _log_when_durable(auction_id: str, events: list[ev.Event], future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is None:
        log_durable(auction_id, events)
