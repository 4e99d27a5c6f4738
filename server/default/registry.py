"""The server's default management: the clearing house and its lots' auctions, journaled.

One journal stream for the clearing house (``clearing/<house id>``) and one per default
auction (``default/<auction id>``). Every command goes the same way as in
``server/cds/registry.py``: the engine decides (a DomainError changes nothing), the events
are applied in memory and queued for the journal **in the same synchronous step** (so each
stream's order is the order of application), and the caller is acknowledged only once the
commit holding them is durable. Commands that touch both (settlement) decide on both
engines before applying either.

The registry also keeps each auction's history for ``WatchLot`` (resumable by sequence, sent
within a per-participant cap on what the streams hold: ``server/watch_buffer.py``),
wakes watchers when events become durable, runs the window scheduler that opens and closes
bid windows on the server's clock, and draws the award seed (``secrets.randbits(64)``), which
the engine journals. Pricing is done by :mod:`server.default.valuation` before the engine is
asked; every process rule (which positions a margin run counts, lots and their numbering,
invitation at the window's opening, exclusions at the award, award -> settlement,
withdrawal, re-auction, loss allocation) is a call into :mod:`matching.process.steps`, the
same functions the offline runner calls.

No clearing or auction rule lives here (what is allowed, and what it means, is the engines'
and the process layer's), and it must never acknowledge a command before the commit holding
its events is durable.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from matching.clearing import events as cev
from matching.clearing.model import SwapTerms
from matching.clearing.state import ClearingHouse, MemberSpec
from matching.default import events as aev
from matching.default.auction import AuctionParams, DefaultAuction, Schedule
from matching.default.cash import to_cents
from matching.errors import (
    AlreadyExists,
    InvalidInput,
    InvalidTransition,
    NotFound,
)
from matching.eventsourcing import Ack, Decision, Event
from matching.process import steps
from matching.process.waterfall import WaterfallConfig
from server.compute import Compute
from server.default import valuation
from server.durability import Durability
from server.events_log import log_durable
from server.journal import Journal, JournalFailed, Record
from server.scheduler import WindowScheduler
from server.sequences import ViewNumbers
from server.watch_buffer import WatchBuffers

__all__ = ["AUCTION_PREFIX", "CLEARING_PREFIX", "DEFAULT_HOUSE", "DefaultRegistry"]

#: Journal stream of the clearing house: ``clearing/<house id>``.
CLEARING_PREFIX = "clearing/"
#: Journal streams of default auctions: ``default/<auction id>``.
AUCTION_PREFIX = "default/"
DEFAULT_HOUSE = "closeout-ccp"


E = TypeVar("E", bound=Event)
_Engine = TypeVar("_Engine")


@dataclass
class _Stream(Generic[_Engine, E]):
    """One engine, its event history, and how much of it is durable."""

    engine: _Engine
    stream: str
    history: list[E] = field(default_factory=list)
    durable_seq: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    #: An auction's events numbered per viewer (``server.sequences``); unused for the house.
    numbers: ViewNumbers = field(default_factory=ViewNumbers)

    def extend(self, events: Sequence[E]) -> None:
        """Append applied events to the history (and, for an auction, number them)."""
        self.history.extend(events)
        if self.stream.startswith(AUCTION_PREFIX):
            for event in events:
                self.numbers.add(event.seq, owner_of(event))

    def mark_durable(self, seq: int) -> None:
        if seq > self.durable_seq:
            self.durable_seq = seq
            woken, self.changed = self.changed, asyncio.Event()
            woken.set()

    async def wait_beyond(self, seq: int) -> None:
        while self.durable_seq <= seq:
            await self.changed.wait()


@dataclass(frozen=True)
class MarginResult:
    """A recorded margin run and, per member, the scenario that set its requirement."""

    run_id: str
    ack: Ack | None
    worst: dict[str, str]


class DefaultRegistry:
    """The clearing house, every default auction, their histories, the window scheduler."""

    def __init__(
        self,
        journal: Journal,
        now: Callable[[], datetime],
        durability: Durability | None = None,
        compute: Compute | None = None,
    ) -> None:
        self._journal = journal
        self._now = now
        self._durability = durability or Durability()
        self._compute = compute or Compute()
        self._house: _Stream[ClearingHouse, cev.Event] | None = None
        self._auctions: dict[str, _Stream[DefaultAuction, aev.Event]] = {}
        self._scheduler = WindowScheduler("default", now, self.auctions, self._scheduled)
        #: The per-participant cap on watch history held for sending (``WatchLot``).
        self.watch_buffers = WatchBuffers()

    # -- queries -------------------------------------------------------------------------

    @property
    def house(self) -> ClearingHouse:
        """The clearing house; FAILED_PRECONDITION before the first load."""
        if self._house is None:
            raise InvalidTransition("no clearing state yet: load members and positions first")
        return self._house.engine

    def has_house(self) -> bool:
        """Whether a clearing house has been loaded."""
        return self._house is not None

    def auction(self, auction_id: str) -> DefaultAuction:
        """The auction, or NotFound."""
        return self._entry(auction_id).engine

    def auctions(self) -> list[DefaultAuction]:
        """Every auction in creation order."""
        return [e.engine for e in self._auctions.values()]

    def durable_seq(self, auction_id: str) -> int:
        """The auction's last durable event sequence number."""
        return self._entry(auction_id).durable_seq

    def numbers(self, auction_id: str) -> ViewNumbers:
        """The auction's events numbered per viewer (``server.sequences``)."""
        return self._entry(auction_id).numbers

    def auction_rows(self) -> Iterator[tuple[str, str, str, int | None]]:
        """(kind, auction id, phase, live bids) per default auction, for metrics scrapes; the
        bids None while the auction is sealed (how many bid is private until the close)."""
        for auction_id, entry in list(self._auctions.items()):
            engine = entry.engine
            bids = None if engine.is_sealed() else len(engine.bidders())
            yield "default", auction_id, engine.phase.value, bids

    def durable_history(
        self, auction_id: str, after: int, limit: int | None = None
    ) -> list[aev.Event]:
        """An auction's durable events with ``seq > after`` (at most ``limit``: a page)."""
        entry = self._entry(auction_id)
        end = None if limit is None else after + limit
        return [e for e in entry.history[after:end] if e.seq <= entry.durable_seq]

    async def wait_for_events(self, auction_id: str, after: int) -> None:
        """Return once an event of the auction with ``seq > after`` is durable."""
        await self._entry(auction_id).wait_beyond(after)

    # -- clearing commands ---------------------------------------------------------------

    async def load(
        self,
        *,
        house_id: str,
        members: Sequence[MemberSpec],
        positions: Sequence[tuple[str, str, SwapTerms]],
        by: str,
    ) -> Ack | None:
        """Admit members and book positions, creating the clearing house on the first load."""
        now = self._now()
        wanted = house_id or (self._house.engine.house_id if self._house else DEFAULT_HOUSE)
        if self._house is None:
            created = ClearingHouse.create(house_id=wanted, by=by, now=now)
            house = ClearingHouse.from_events(created.events)
            decision = house.load(members=members, positions=positions, by=by, now=now)
            self._house = _Stream(house, CLEARING_PREFIX + wanted)
            durable = [self._commit(self._house, created.events)]
            house.apply_all(decision.events)
            durable.append(self._commit(self._house, decision.events))
            await asyncio.gather(*durable)
            return decision.ack
        if wanted != self._house.engine.house_id:
            raise InvalidInput(
                "house_id", f"this server clears {self._house.engine.house_id!r}, not {wanted!r}"
            )
        return (
            await self._clearing(
                lambda h: h.load(members=members, positions=positions, by=by, now=now)
            )
        ).ack

    async def run_margin(
        self,
        *,
        run_id: str,
        markets: valuation.Markets,
        scenarios: Sequence[Any],
        by: str,
    ) -> MarginResult:
        """Price every active member's requirement and record the run.

        ``markets`` is the request's (market, markets) data, built for the positions concerned.
        """
        house = self.house
        active = steps.margin_positions(house)
        collateral = steps.margin_collateral(house)
        # Curves and scenarios are CPU work: in a worker process, never on the event loop.
        valuation_day, curve_id, requirements, worst = await self._compute.run(
            valuation.margin_job, markets, active, collateral, scenarios
        )
        decision = await self._clearing(
            lambda h: h.record_margin_run(
                run_id=run_id,
                requirements=requirements,
                valuation_date=valuation_day,
                curve_id=curve_id,
                by=by,
                now=self._now(),
                worst=worst,
            )
        )
        return MarginResult(run_id, decision.ack, worst)

    async def declare_default(
        self,
        *,
        member: str,
        reason: str | None,
        markets: valuation.Markets | None,
        by: str,
    ) -> Ack | None:
        """Declare a member in default; with markets its positions are listed with NPVs
        (priced in a worker process from a snapshot of its positions)."""
        house = self.house
        house.member(member)
        values = None
        if markets is not None:
            held = house.open_positions(member)
            values = await self._compute.run(valuation.npv_job, markets, held)
            _unchanged(held, self.house.open_positions(member), member)
        decision = await self._clearing(
            lambda h: h.declare_default(
                member=member, by=by, now=self._now(), reason=reason, values=values
            )
        )
        return decision.ack

    async def convert(
        self,
        *,
        member: str,
        markets: valuation.Markets,
        rcv_convention: str,
        standard_tenors: Sequence[str],
        grouping: str,
        position_ids: Sequence[str],
        max_lot_dv01: str,
        settled_flows: str,
        hedge: bool,
        by: str,
    ) -> tuple[Ack | None, list[str]]:
        """Convert the defaulter's positions into lots (``matching.process.steps``), all or
        nothing. The pricing runs in a worker process on a snapshot of the positions; the
        decision is taken on the loop afterwards, against the house as it is then."""
        house = self.house
        held = steps.positions_to_convert(house, member, position_ids)
        valuation_day, converted, pricing, hedged = await self._compute.run(
            valuation.conversion_job,
            markets,
            held,
            rcv_convention,
            standard_tenors,
            settled_flows,
            hedge,
        )
        house = self.house
        _unchanged(held, steps.positions_to_convert(house, member, position_ids), member)
        limit = to_cents(max_lot_dv01, "max_lot_dv01") if max_lot_dv01 else None
        groups = steps.group_into_lots(
            held,
            grouping=grouping,
            dv01={pid: c.standard_dv01 for pid, c in converted.items()},
            max_dv01=limit,
            by_hand=bool(position_ids),
        )
        decision, lot_ids = steps.convert(
            house,
            member=member,
            conversions=converted,
            groups=groups,
            pricing=pricing.__getitem__,
            valuation_time=valuation_day,
            rcv_convention=valuation.rcv_name(rcv_convention),
            settled_flows=valuation.settled_flows_name(settled_flows),
            hedges=hedged,
            by=by,
            now=self._now(),
        )
        assert self._house is not None
        house.apply_all(decision.events)
        await self._commit(self._house, decision.events)
        return decision.ack, lot_ids

    async def withdraw_lot(self, *, lot_id: str, reason: str, by: str) -> Ack | None:
        """Withdraw a lot in no live auction."""
        return (
            await self._clearing(
                lambda h: steps.withdraw_lot(
                    h, self.auctions(), lot_id=lot_id, reason=reason, by=by, now=self._now()
                )
            )
        ).ack

    async def allocate_losses(
        self, *, defaulter: str, config: WaterfallConfig, by: str
    ) -> Ack | None:
        """Net the default over its lots and run the loss waterfall."""
        return (
            await self._clearing(
                lambda h: steps.allocate_losses(
                    h, self.auctions(), defaulter=defaulter, config=config, by=by, now=self._now()
                )
            )
        ).ack

    # -- auction commands ----------------------------------------------------------------

    async def create_auction(
        self,
        *,
        auction_id: str,
        lot_id: str,
        reserve: str | None,
        reserve_bp: str | None,
        grading_threshold: str,
        open_at: datetime | None,
        close_at: datetime | None,
        window_seconds: int,
        by: str,
        lot_ids: Sequence[str] = (),
    ) -> tuple[list[DefaultAuction], Ack | None]:
        """Create the auction of a converted lot, or one auction per lot of ``lot_ids`` in
        one window (all decided before any is recorded)."""
        if lot_ids and lot_id:
            raise InvalidInput("lot_ids", "give lot_id or lot_ids, not both")
        wanted = list(lot_ids) or [lot_id]
        if len(set(wanted)) != len(wanted):
            raise InvalidInput("lot_ids", "a lot can be named only once")
        if reserve and reserve_bp:
            raise InvalidInput("reserve_bp", "give reserve or reserve_bp, not both")
        if close_at is not None and window_seconds:
            raise InvalidInput("window_seconds", "give close_at or window_seconds, not both")
        now = self._now()
        if window_seconds:
            try:
                close_at = (open_at or now) + timedelta(seconds=window_seconds)
            except OverflowError:
                raise InvalidInput("window_seconds", "the window would end after 9999") from None
        schedule = Schedule(open_at=open_at, close_at=close_at)
        house = self.house
        decisions: list[Decision[aev.Event]] = []
        known = self.auctions()
        for n, lid in enumerate(wanted):
            where = f"lot_ids[{n}]" if lot_ids else "lot_id"
            if not lid:
                raise InvalidInput(where, "required")
            record = house.lot(lid)
            steps.check_new_auction(house, known, lid)
            aid = steps.auction_id_for(known, lid, auction_id, several=bool(lot_ids))
            if aid in self._auctions or any(d.events[0].auction_id == aid for d in decisions):
                raise AlreadyExists(f"an auction {aid!r} already exists")
            lot_reserve = reserve
            if reserve_bp:
                lot_reserve = valuation.reserve_at_bp(record.lot, reserve_bp)
            params = AuctionParams.build(
                reserve=lot_reserve or None, grading_threshold=grading_threshold or "0"
            )
            invitation = house.invitation(lid)
            decisions.append(
                DefaultAuction.create(
                    auction_id=aid,
                    lot=record.lot,
                    eligible=invitation.eligible,
                    market_makers=invitation.market_makers,
                    mandatory=invitation.mandatory,
                    params=params,
                    schedule=schedule,
                    by=by,
                    now=now,
                )
            )
        durable: list[Awaitable[object]] = []
        created: list[DefaultAuction] = []
        for decision in decisions:
            entry: _Stream[DefaultAuction, aev.Event] = _Stream(
                DefaultAuction.from_events(decision.events),
                AUCTION_PREFIX + decision.events[0].auction_id,
            )
            self._auctions[entry.engine.auction_id] = entry
            durable.append(self._commit(entry, decision.events))
            created.append(entry.engine)
        self._scheduler.poke()
        await asyncio.gather(*durable)
        return created, decisions[0].ack

    async def open_window(self, auction_id: str, *, by: str) -> Decision[aev.Event]:
        """Open the window, deciding who is invited now."""
        return await self.execute(
            auction_id, lambda a: steps.open_window(self.house, a, by=by, now=self._now())
        )

    async def execute(
        self, auction_id: str, command: Callable[[DefaultAuction], Decision[aev.Event]]
    ) -> Decision[aev.Event]:
        """Decide, apply, journal one auction command; return once durable."""
        entry = self._entry(auction_id)
        decision = command(entry.engine)
        if decision.events:
            phase = entry.engine.phase
            entry.engine.apply_all(decision.events)
            durable = self._commit(entry, decision.events)
            if entry.engine.phase is not phase:
                self._scheduler.poke()
            await durable
        elif decision.ack is not None and decision.ack.seq > entry.durable_seq:
            # An idempotent repeat whose original commit is still in flight.
            await entry.wait_beyond(decision.ack.seq - 1)
        return decision

    async def award(self, auction_id: str, *, by: str) -> Decision[aev.Event]:
        """Award, assign or fail with a freshly drawn seed (the engine journals it)."""
        seed = secrets.randbits(64)
        return await self.execute(
            auction_id,
            lambda a: steps.award(self.house, a, seed=seed, by=by, now=self._now()),
        )

    async def assign(
        self, auction_id: str, *, member: str, reason: str, by: str
    ) -> Decision[aev.Event]:
        """An operator's assignment of a closed or failed auction's lot, with a reason."""
        return await self.execute(
            auction_id,
            lambda a: steps.assign(
                self.house, a, member=member, reason=reason, by=by, now=self._now()
            ),
        )

    async def settle(self, auction_id: str, *, by: str) -> Decision[aev.Event]:
        """Settle the award in the clearing house and record it on the auction.

        Both engines decide before either applies. If a crash left the clearing house
        settled (its commit is queued first) but not the auction, a retry records the
        auction's settlement only.
        """
        entry = self._entry(auction_id)
        house = self.house
        clearing, closing = steps.settle(house, entry.engine, by=by, now=self._now())
        durable: list[Awaitable[object]] = []
        if clearing is not None:
            assert self._house is not None
            house.apply_all(clearing.events)
            durable.append(self._commit(self._house, clearing.events))
        entry.engine.apply_all(closing.events)
        durable.append(self._commit(entry, closing.events))
        await asyncio.gather(*durable)
        return closing

    # -- journal replay ------------------------------------------------------------------

    def replay(self, record: Record) -> None:
        """Startup hook: rebuild the clearing house and the auctions (in sequence order)."""
        if record.stream.startswith(CLEARING_PREFIX):
            event = cev.event_from_dict(record.payload)
            if isinstance(event, cev.HouseCreated):
                self._house = _Stream(ClearingHouse.from_events([event]), record.stream)
            elif self._house is None:
                raise ValueError(f"clearing event {event.seq} before HouseCreated")
            else:
                self._house.engine.apply(event)
            self._house.extend([event])
            self._house.mark_durable(event.seq)
        elif record.stream.startswith(AUCTION_PREFIX):
            aevent = aev.event_from_dict(record.payload)
            if isinstance(aevent, aev.AuctionCreated):
                entry: _Stream[DefaultAuction, aev.Event] = _Stream(
                    DefaultAuction.from_events([aevent]), record.stream
                )
                self._auctions[aevent.auction_id] = entry
            else:
                entry = self._entry(aevent.auction_id)
                entry.engine.apply(aevent)
            entry.extend([aevent])
            entry.mark_durable(aevent.seq)

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

    async def _clearing(
        self, command: Callable[[ClearingHouse], Decision[cev.Event]]
    ) -> Decision[cev.Event]:
        stream = self._house
        if stream is None:
            raise InvalidTransition("no clearing state yet: load members and positions first")
        decision = command(stream.engine)
        if decision.events:
            stream.engine.apply_all(decision.events)
            await self._commit(stream, decision.events)
        return decision

    async def _scheduled(
        self, auction_id: str, command: Callable[[Any], Decision[aev.Event]]
    ) -> Decision[aev.Event]:
        """The scheduler's execute: a scheduled opening decides the invitation like an
        operator's (``steps.open_window``)."""
        return await self.execute(auction_id, lambda a: command(_Scheduled(a, self.house)))

    def _entry(self, auction_id: str) -> _Stream[DefaultAuction, aev.Event]:
        try:
            return self._auctions[auction_id]
        except KeyError:
            raise NotFound(f"no default auction {auction_id!r}") from None

    def _commit(self, entry: _Stream[Any, Any], events: Sequence[Event]) -> Awaitable[object]:
        """Queue ``events`` (already applied) now; the awaitable resolves once durable.

        Everything that can fail is done before the read barrier's ticket is taken, and the
        ticket is returned whatever the callback meets: a ticket never returned would hold
        every answer of the server at the barrier for ever. No events: nothing to write, no
        ticket, already done."""
        if not events:
            done: asyncio.Future[object] = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return done
        records = [e.to_dict() for e in events]
        last = events[-1].seq
        entry.extend(events)
        durability = self._durability
        ticket = durability.applied()
        try:
            # No records back (``submit`` would parse every payload again to hand them over:
            # 2.9 s of a 150,000-position load's 4.2 s on the loop, py-spy).
            written = self._journal.submit_many([(entry.stream, records)])
        except BaseException as exc:
            durability.failed(exc)
            raise

        def durable(future: asyncio.Future[Any]) -> None:
            # Commits complete in queue order: everything up to ``last`` is durable now.
            if future.cancelled():
                # Nothing says whether the events were written: fail stop (see the docstring).
                durability.failed(JournalFailed("a journal write was cancelled"))
                return
            exc = future.exception()
            if exc is not None:
                durability.failed(exc)
                return
            try:
                entry.mark_durable(last)
            finally:
                durability.durable(ticket)
            kind, _, stream_id = entry.stream.partition("/")
            log_durable(
                stream_id, events, "house_id" if kind + "/" == CLEARING_PREFIX else "auction_id"
            )

        written.add_done_callback(durable)
        return asyncio.shield(written)


def _unchanged(before: Sequence[Any], after: Sequence[Any], member: str) -> None:
    """Refuse (nothing changed) if ``member``'s positions changed while they were priced."""
    if [p.position_id for p in before] != [p.position_id for p in after]:
        raise InvalidTransition(
            f"the positions of {member!r} changed while they were priced; retry"
        )


def owner_of(event: Event) -> str | None:
    """Whose private event this is (a member's bid or withdrawal), or None for a public one."""
    if isinstance(event, aev.BidSubmitted | aev.BidWithdrawn):
        return event.member
    return None


class _Scheduled:
    """What the window scheduler drives: ``open`` and ``close`` of one auction, the opening
    through the process layer."""

    def __init__(self, auction: DefaultAuction, house: ClearingHouse) -> None:
        self._auction = auction
        self._house = house

    def open(self, *, by: str, now: datetime) -> Decision[aev.Event]:
        return steps.open_window(self._house, self._auction, by=by, now=now)

    def close(self, *, by: str, now: datetime) -> Decision[aev.Event]:
        return self._auction.close(by=by, now=now)
