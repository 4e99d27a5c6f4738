"""The server's default management: the clearing house and its lots' auctions, journaled.

One journal stream for the clearing house (``clearing/<house id>``) and one per default
auction (``default/<auction id>``). Every command goes the same way as in
``server/cds/registry.py``: the engine decides (a DomainError changes nothing), the events
are applied in memory and queued for the journal **in the same synchronous step** (so each
stream's order is the order of application), and the caller is acknowledged only once the
commit holding them is durable. Commands that touch both (settlement) decide on both
engines before applying either.

The registry also keeps each auction's history for ``WatchLot`` (resumable by sequence),
wakes watchers when events become durable, runs the window scheduler that opens and closes
bid windows on the server's clock, and draws the award seed (``secrets.randbits(64)``), which
the engine journals. Pricing is done by :mod:`server.default.valuation` before the engine is
asked.

No clearing or auction rule lives here (what is allowed, and what it means, is the engines'),
and it must never acknowledge a command before the commit holding its events is durable.
"""

from __future__ import annotations

import asyncio
import copy
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from matching.clearing import events as cev
from matching.clearing.eligibility import group_positions
from matching.clearing.model import CCP, PositionStatus, SwapTerms
from matching.clearing.state import ClearingHouse, MemberSpec
from matching.default import events as aev
from matching.default.auction import AuctionParams, DefaultAuction, Schedule
from matching.default.cash import cents_text
from matching.default.phases import Phase
from matching.errors import (
    AlreadyExists,
    InvalidInput,
    InvalidTransition,
    NotFound,
)
from matching.eventsourcing import Ack, Decision, Event
from server.default import valuation
from server.durability import Durability
from server.journal import Journal, Record
from server.scheduler import WindowScheduler

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
    ) -> None:
        self._journal = journal
        self._now = now
        self._durability = durability or Durability()
        self._house: _Stream[ClearingHouse, cev.Event] | None = None
        self._auctions: dict[str, _Stream[DefaultAuction, aev.Event]] = {}
        self._scheduler = WindowScheduler("default", now, self.auctions, self.execute)

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

    def durable_history(self, auction_id: str, after: int) -> list[aev.Event]:
        """An auction's durable events with ``seq > after``."""
        entry = self._entry(auction_id)
        return [e for e in entry.history[after:] if e.seq <= entry.durable_seq]

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
        market: valuation.PricedMarket,
        scenarios: Sequence[Any],
        by: str,
    ) -> MarginResult:
        """Price every active member's requirement and record the run."""
        house = self.house
        active = [
            p
            for p in house.open_positions()
            if p.account != CCP and not p.external and not house.is_defaulted(p.account)
        ]
        collateral = {
            m: house.collateral.get(m, 0) for m in house.members if not house.is_defaulted(m)
        }
        requirements, worst = valuation.margin_requirements(market, active, collateral, scenarios)
        decision = await self._clearing(
            lambda h: h.record_margin_run(
                run_id=run_id,
                requirements=requirements,
                valuation_date=market.valuation_day,
                curve_id=market.curve_id,
                by=by,
                now=self._now(),
            )
        )
        return MarginResult(run_id, decision.ack, worst)

    async def declare_default(
        self, *, member: str, reason: str | None, market: valuation.PricedMarket | None, by: str
    ) -> Ack | None:
        """Declare a member in default; with a market its positions are listed with NPVs."""
        house = self.house
        house.member(member)
        values = None
        if market is not None:
            values = valuation.position_npvs(market, house.open_positions(member))
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
        market: valuation.PricedMarket,
        rcv_convention: str,
        standard_tenors: Sequence[str],
        by_market: bool,
        hedge: bool,
        by: str,
    ) -> tuple[Ack | None, list[str]]:
        """Convert the defaulter's positions not yet in a lot into lots ``<member>-<n>``.

        All or nothing: every lot (and hedge) is decided on a scratch copy first.
        """
        house = self.house
        if not house.is_defaulted(member):
            house.member(member)
            raise InvalidTransition(f"{member} is not in default")
        in_lots = {p.position_id for rec in house.lots.values() for p in rec.lot.positions}
        held = [
            pos
            for pos, _ in house.defaulted_positions(member)
            if pos.position_id not in in_lots and pos.status is PositionStatus.OPEN
        ]
        if not held:
            raise InvalidTransition(f"{member} has no defaulted position left to convert")
        converted = valuation.conversions(market, held, rcv_convention, standard_tenors)
        rcv = valuation.rcv_name(rcv_convention)
        first = 1 + sum(1 for rec in house.lots.values() if rec.lot.defaulter == member)
        now = self._now()
        scratch = copy.deepcopy(house)
        events: list[cev.Event] = []
        lot_ids: list[str] = []

        def step(decision: Decision[cev.Event]) -> None:
            scratch.apply_all(decision.events)
            events.extend(decision.events)

        for n, ids in enumerate(group_positions(held, by_market=by_market)):
            lot_id = f"{member}-{first + n}"
            step(
                scratch.convert(
                    lot_id=lot_id,
                    member=member,
                    conversions=[converted[i] for i in ids],
                    curve_id=market.curve_id,
                    valuation_time=market.valuation_day,
                    rcv_convention=rcv,
                    by=by,
                    now=now,
                )
            )
            lot_ids.append(lot_id)
            if hedge:
                swaps = valuation.hedges(market, scratch.lot(lot_id).lot)
                if swaps:
                    step(scratch.book_hedge(lot_id=lot_id, hedges=swaps, by=by, now=now))
        assert self._house is not None
        house.apply_all(events)
        await self._commit(self._house, tuple(events))
        last = events[-1]
        return Ack(last.seq, last.at, ""), lot_ids

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
    ) -> tuple[DefaultAuction, Ack | None]:
        """Create the auction of a converted lot (one live auction per lot)."""
        record = self.house.lot(lot_id)
        auction_id = auction_id or lot_id
        if auction_id in self._auctions:
            raise AlreadyExists(f"an auction {auction_id!r} already exists")
        if record.settlement is not None:
            raise InvalidTransition(f"lot {lot_id} is already settled")
        live = [
            a.auction_id
            for a in self.auctions()
            if a.lot.lot_id == lot_id and a.phase is not Phase.CANCELLED
        ]
        if live:
            raise AlreadyExists(f"lot {lot_id} is already in auction {live[0]}")
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
        if reserve_bp:
            reserve = valuation.reserve_at_bp(record.lot, reserve_bp)
        params = AuctionParams.build(
            reserve=reserve or None, grading_threshold=grading_threshold or "0"
        )
        decision = DefaultAuction.create(
            auction_id=auction_id,
            lot=record.lot,
            eligible=record.invitation.eligible,
            market_makers=record.invitation.market_makers,
            mandatory=record.invitation.mandatory,
            params=params,
            schedule=Schedule(open_at=open_at, close_at=close_at),
            by=by,
            now=now,
        )
        entry: _Stream[DefaultAuction, aev.Event] = _Stream(
            DefaultAuction.from_events(decision.events), AUCTION_PREFIX + auction_id
        )
        self._auctions[auction_id] = entry
        durable = self._commit(entry, decision.events)
        self._scheduler.poke()
        await durable
        return entry.engine, decision.ack

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
        """Award or assign the lot with a freshly drawn seed (the engine journals it)."""
        seed = secrets.randbits(64)
        return await self.execute(auction_id, lambda a: a.award(by=by, now=self._now(), seed=seed))

    async def settle(self, auction_id: str, *, by: str) -> Decision[aev.Event]:
        """Settle the award in the clearing house and record it on the auction.

        Both engines decide before either applies. If a crash left the clearing house
        settled (its commit is queued first) but not the auction, a retry records the
        auction's settlement only.
        """
        entry = self._entry(auction_id)
        auction = entry.engine
        house = self.house
        now = self._now()
        lot_id = auction.lot.lot_id
        record = house.lot(lot_id)
        closing = auction.settle(by=by, now=now, settlement_id=lot_id)
        clearing: Decision[cev.Event] | None = None
        if record.settlement is None or record.auction_id != auction_id:
            outcome = auction.outcome
            if outcome is None:  # pragma: no cover - settle() above refuses this
                raise InvalidTransition(f"{auction_id} has no award to settle")
            clearing = house.settle(
                lot_id=lot_id,
                member=outcome.member,
                amount=cents_text(outcome.amount),
                method="ASSIGNMENT" if outcome.assigned else "AWARD",
                auction_id=auction_id,
                by=by,
                now=now,
            )
        durable: list[Awaitable[object]] = []
        if clearing is not None:
            assert self._house is not None
            house.apply_all(clearing.events)
            durable.append(self._commit(self._house, clearing.events))
        auction.apply_all(closing.events)
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
            self._house.history.append(event)
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
            entry.history.append(aevent)
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

    def _entry(self, auction_id: str) -> _Stream[DefaultAuction, aev.Event]:
        try:
            return self._auctions[auction_id]
        except KeyError:
            raise NotFound(f"no default auction {auction_id!r}") from None

    def _commit(self, entry: _Stream[Any, Any], events: Sequence[Event]) -> Awaitable[object]:
        """Queue ``events`` (already applied) now; the awaitable resolves once durable."""
        entry.history.extend(events)
        durability = self._durability
        ticket = durability.applied()
        try:
            written = self._journal.submit(entry.stream, [e.to_dict() for e in events])
        except BaseException as exc:
            durability.failed(exc)
            raise
        last = events[-1].seq

        def durable(future: asyncio.Future[Any]) -> None:
            # Commits complete in queue order: everything up to ``last`` is durable now.
            if future.cancelled():
                return
            exc = future.exception()
            if exc is not None:
                durability.failed(exc)
                return
            entry.mark_durable(last)
            durability.durable(ticket)

        written.add_done_callback(durable)
        return asyncio.shield(written)
