"""One lot's sealed-bid default auction as an event-sourced state machine.

Like :class:`~matching.cds.auction.CdsAuction`: every command validates against the current
state and returns a :class:`Decision` (events and acknowledgement) **without changing
anything**; ``apply`` is the only mutation; ``DefaultAuction.from_events`` replays a history
into identical state (``snapshot()`` compares), recomputing the award from the recorded
seed and checking it against what the journal says.

Rules: who may bid is decided when the window opens (``open`` records the invitation the
clearing state computes then: members in default by then are out, market makers admitted
since are in; the one given at creation is what is shown before); only those members may
bid (others: NotPermitted = PERMISSION_DENIED); one live all-or-none bid per member,
kept in a :class:`~matching.book.SealedBook` keyed by member (ticks = cents, size 1), which
a new bid replaces and a withdrawal removes until the close; a bid stamped at or after the
scheduled close is refused even before the close command runs; nobody reads another
member's bid before the close (an operator only through a recorded ``disclose_bids``);
idempotency by client order id per member. The award, assignment and grading rules are in
:mod:`matching.default.award`.

No I/O, no clock (``now`` is an argument), no randomness of its own (``seed`` is).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeAlias

from matching.book import BookOrder, SealedBook
from matching.default import events as ev
from matching.default.award import GradeRow, Outcome, SealedBid, TieBreak, decide, grade
from matching.default.cash import cents_text, to_cents
from matching.default.lot import Lot
from matching.default.phases import TERMINAL, Phase, check_transition
from matching.errors import InvalidInput, InvalidTransition, NotFound, NotPermitted
from matching.eventsourcing import Ack, EventSourced, check_id, check_scheduled, iso
from matching.eventsourcing import Decision as _Decision
from matching.money import DecimalLike

#: What a default-auction command returns.
Decision: TypeAlias = _Decision[ev.Event]

MAX_SEED = 2**64 - 1


class ReplayMismatch(RuntimeError):
    """Replay recomputed a different award than the journal recorded: stop, do not serve."""


#: The longest bid window a schedule may give.
MAX_WINDOW = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Schedule:
    """When the window opens and closes on the server's clock; None means by hand only."""

    open_at: datetime | None = None
    close_at: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("open_at", "close_at"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise InvalidInput(f"schedule.{name}", "must carry a time zone (use UTC)")
        if self.open_at and self.close_at and not self.open_at < self.close_at:
            raise InvalidInput("schedule.close_at", "must be after open_at")

    def check_ahead(self, now: datetime) -> None:
        """Refuse a close at or before ``now`` (the server's time at creation: nobody could
        bid, and the lot would go to an assignment), a time beyond the horizon
        (:func:`check_scheduled`), or a window longer than :data:`MAX_WINDOW` (the spec's
        windows last from an hour to a day)."""
        check_scheduled("schedule.open_at", self.open_at, now, closes=False)
        check_scheduled("schedule.close_at", self.close_at, now, closes=True)
        if self.close_at is not None and self.close_at - max(self.open_at or now, now) > MAX_WINDOW:
            raise InvalidInput(
                "schedule.close_at", f"a bid window lasts at most {MAX_WINDOW.days} days"
            )

    def to_dict(self) -> dict[str, str | None]:
        """ISO-8601 strings (or None), the journal form."""
        return {
            "open_at": self.open_at.isoformat() if self.open_at else None,
            "close_at": self.close_at.isoformat() if self.close_at else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, str | None]) -> Schedule:
        """Inverse of :meth:`to_dict`."""
        return cls(**{k: (datetime.fromisoformat(v) if v else None) for k, v in data.items()})


@dataclass(frozen=True, slots=True)
class AuctionParams:
    """The CCP's knobs: an optional reserve and the grading threshold, both in cents."""

    reserve: int | None = None
    grading_threshold: int = 0

    @classmethod
    def build(
        cls, *, reserve: DecimalLike | None = None, grading_threshold: DecimalLike = 0
    ) -> AuctionParams:
        """Validate decimal strings (cents at most)."""
        threshold = to_cents(grading_threshold, "grading_threshold")
        if threshold < 0:
            raise InvalidInput("grading_threshold", "must not be negative")
        return cls(None if reserve is None else to_cents(reserve, "reserve"), threshold)

    def to_dict(self) -> dict[str, str | None]:
        """Journal form."""
        return {
            "reserve": None if self.reserve is None else cents_text(self.reserve),
            "grading_threshold": cents_text(self.grading_threshold),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuctionParams:
        """Inverse of :meth:`to_dict`."""
        return cls.build(reserve=data["reserve"], grading_threshold=data["grading_threshold"])


@dataclass(frozen=True, slots=True)
class BidView:
    """A live bid as its owner (or, after the close, anybody) sees it."""

    member: str
    amount: str
    client_order_id: str
    seq: int
    at: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-native form."""
        return dataclasses.asdict(self)


class DefaultAuction(EventSourced[ev.Event]):
    """State of one lot's auction. Queries first, then commands, then event application."""

    owner_field = "member"

    def __init__(self, created: ev.AuctionCreated) -> None:
        self.auction_id = created.auction_id
        self.lot = Lot.from_dict(created.lot)
        self.eligible: frozenset[str] = frozenset(created.eligible)
        self.market_makers: frozenset[str] = frozenset(created.market_makers)
        self.mandatory: frozenset[str] = frozenset(created.mandatory)
        self.params = AuctionParams.from_dict(created.params)
        self.schedule = Schedule.from_dict(created.schedule)
        self.created_at = created.at
        self._init_stream(created.auction_id, created.seq)
        self.phase = Phase.CREATED
        self.book = SealedBook()
        self.outcome: Outcome | None = None
        self.seed: int | None = None
        self.excluded: tuple[str, ...] = ()
        self.settlement_id: str | None = None
        self.cancel_reason: str | None = None
        self.disclosures: list[ev.BidsDisclosed] = []
        self.phase_times: dict[str, str] = {Phase.CREATED.value: created.at}
        self._bid_meta: dict[str, tuple[str, str]] = {}  # member -> (client_order_id, at)

    # -- construction --------------------------------------------------------------------

    @staticmethod
    def create(
        *,
        auction_id: str,
        lot: Lot,
        eligible: Iterable[str],
        market_makers: Iterable[str],
        mandatory: Iterable[str],
        params: AuctionParams,
        schedule: Schedule,
        by: str,
        now: datetime,
    ) -> Decision:
        """Validate a new auction of ``lot``; the one AuctionCreated event starts its history.

        ``eligible`` are the members invited as of now (computed by the clearing state; the
        window's opening records them again); the ``market_makers`` among them form the
        assignment pool and ``mandatory`` ones are graded.
        """
        check_id(auction_id, "auction_id")
        schedule.check_ahead(now)
        invited, makers, obliged = _check_invitation(lot, eligible, market_makers, mandatory)
        created = ev.AuctionCreated(
            auction_id=auction_id,
            seq=1,
            at=iso(now),
            lot=lot.to_dict(),
            eligible=invited,
            market_makers=makers,
            mandatory=obliged,
            params=params.to_dict(),
            schedule=schedule.to_dict(),
            created_by=by,
        )
        return Decision((created,), Ack(1, created.at, auction_id))

    @classmethod
    def from_events(cls, events: Iterable[ev.Event]) -> DefaultAuction:
        """Rebuild an auction from its full history (the first event must be AuctionCreated)."""
        iterator = iter(events)
        first = next(iterator, None)
        if not isinstance(first, ev.AuctionCreated):
            raise ValueError("a default auction's history starts with DefaultAuctionCreated")
        auction = cls(first)
        for event in iterator:
            auction.apply(event)
        return auction

    # -- queries -------------------------------------------------------------------------

    def is_sealed(self) -> bool:
        """True until the window has closed: bids are then private to their owners."""
        return self.phase in (Phase.CREATED, Phase.OPEN)

    @property
    def terminal(self) -> bool:
        """True once SETTLED or CANCELLED."""
        return self.phase in TERMINAL

    def lot_for(self, member: str) -> Lot:
        """The lot terms and values, disclosed to eligible members only."""
        self._require_eligible(member)
        return self.lot

    def bid_of(self, member: str) -> BidView | None:
        """The member's own live bid, if any; never anybody else's."""
        if member not in self.book:
            return None
        order = self.book.get(member)
        cid, at = self._bid_meta[member]
        return BidView(member, cents_text(order.ticks), cid, order.seq, at)

    def view_of(self, member: str) -> dict[str, Any]:
        """What one eligible member may see at any time: the lot's terms and values, its own
        bid and, after the award, its own grade and whether it took the lot (at what price).

        Never another member's bid or grade: the spec discloses no other bid, even after the
        close; ``bids()`` and ``result()`` are the operator's and the publication's.
        """
        lot = self.lot_for(member)
        own = self.bid_of(member)
        out: dict[str, Any] = {
            "auction_id": self.auction_id,
            "member": member,
            "phase": self.phase.value,
            "lot": lot.to_dict(),
            "close_at": self.schedule.to_dict()["close_at"],
            "mandatory": member in self.mandatory,
            "bid": None if own is None else own.to_dict(),
            "grade": None,
            "took_lot": None,
            "amount": None,
        }
        if self.outcome is not None:
            row = next((g for g in self.outcome.grades if g.member == member), None)
            out["grade"] = None if row is None else row.grade.value
            out["took_lot"] = self.outcome.member == member
            if out["took_lot"]:
                out["amount"] = cents_text(self.outcome.amount)
        return out

    def bidders(self) -> list[str]:
        """Who holds a live bid, by id, never the amount: open at any phase."""
        return sorted(order.owner for order in self.book.orders())

    def bids(self, *, disclosed: bool = False) -> list[BidView]:
        """Every live bid, best first: only once the window has closed.

        ``disclosed`` is for an operator whose audited disclosure (``disclose_bids``) has
        been recorded; nobody else reads sealed bids.
        """
        if self.is_sealed() and not disclosed:
            raise NotPermitted(f"the bids of {self.auction_id} are sealed until the close")
        out: list[BidView] = []
        for _, orders in self.book.levels(descending=True):
            for order in orders:
                view = self.bid_of(order.owner)
                assert view is not None
                out.append(view)
        return out

    def next_timer(self) -> tuple[datetime, str] | None:
        """The next scheduled phase change as (when, command name), if any."""
        if self.phase is Phase.CREATED and self.schedule.open_at:
            return self.schedule.open_at, "open"
        if self.phase is Phase.OPEN and self.schedule.close_at:
            return self.schedule.close_at, "close"
        return None

    def result(self) -> dict[str, Any]:
        """The publication: lot figures always; bids, award and grades after the close."""
        out: dict[str, Any] = {
            "auction_id": self.auction_id,
            "lot_id": self.lot.lot_id,
            "defaulter": self.lot.defaulter,
            "currency": self.lot.currency,
            "phase": self.phase.value,
            "rcv": cents_text(self.lot.rcv),
            "implied_bid": cents_text(self.lot.implied_bid),
            "reserve": self.params.to_dict()["reserve"],
            "grading_threshold": cents_text(self.params.grading_threshold),
            "eligible": sorted(self.eligible),
            "market_makers": sorted(self.market_makers),
            "mandatory": sorted(self.mandatory),
            "bids": None if self.is_sealed() else [b.to_dict() for b in self.bids()],
            "award": None,
            "grades": [],
            "settlement_id": self.settlement_id,
            "cancel_reason": self.cancel_reason,
            "excluded": [],
        }
        if self.outcome is not None:
            o = self.outcome
            if not o.failed:
                out["award"] = {
                    "method": o.method,
                    "member": o.member,
                    "amount": cents_text(o.amount),
                    "shortfall_vs_implied": cents_text(self.lot.implied_bid - o.amount),
                    "tie_break": o.tie_break.value,
                    "tied": list(o.tied),
                    "pool": list(o.pool),
                    "seed": self.seed,
                    "pool_kind": o.pool_kind,
                    "reason": o.reason,
                }
            out["grades"] = [g.to_dict() for g in o.grades]
            out["excluded"] = list(self.excluded)
        return out

    # -- commands: operator ---------------------------------------------------------------

    def open(
        self,
        *,
        by: str,
        now: datetime,
        eligible: Iterable[str] | None = None,
        market_makers: Iterable[str] = (),
        mandatory: Iterable[str] = (),
    ) -> Decision:
        """Open the sealed-bid window, recording who is invited now (``eligible`` None keeps
        the invitation given at creation)."""
        check_transition(self.phase, Phase.OPEN)
        if eligible is None:
            return self._decide(ev.WindowOpened(**self._head(now), by=by))
        invited, makers, obliged = _check_invitation(self.lot, eligible, market_makers, mandatory)
        return self._decide(
            ev.WindowOpened(
                **self._head(now),
                by=by,
                eligible=invited,
                market_makers=makers,
                mandatory=obliged,
            )
        )

    def close(self, *, by: str, now: datetime) -> Decision:
        """Close the window: bids are frozen and become readable."""
        check_transition(self.phase, Phase.CLOSED)
        return self._decide(ev.WindowClosed(**self._head(now), by=by))

    def award(self, *, by: str, now: datetime, seed: int, excluded: Iterable[str] = ()) -> Decision:
        """Award the lot (or assign it at b* when no bid is valid), recording ``seed``.

        The server draws ``seed`` (``secrets.randbits(64)``) and passes it; the seeded
        generator is used only for a tie of equal amount and time, or for the assignment.
        ``excluded`` are invited members in default by now: their bids do not count and
        they are not drawn. With no valid bid and nobody to draw, the auction FAILS.
        """
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
            raise InvalidInput("seed", "must be an integer from 0 to 2**64 - 1")
        if self.phase is not Phase.CLOSED:
            raise InvalidTransition(
                f"the auction is {self.phase.value}; awards are made once the window closed"
            )
        out = sorted(set(excluded) & self.eligible)
        outcome = self._decide_outcome(seed, out)
        return self._decide(self._award_event(outcome, by=by, now=now, seed=seed, excluded=out))

    def assign(self, *, by: str, now: datetime, member: str, reason: str) -> Decision:
        """An operator's assignment of a CLOSED or FAILED auction's lot to ``member`` at b*,
        with a recorded ``reason`` (the caller checks ``member`` is not in default)."""
        if self.phase not in (Phase.CLOSED, Phase.FAILED):
            raise InvalidTransition(
                f"the auction is {self.phase.value}; an operator assigns a closed or failed one"
            )
        check_id(member, "member")
        if member == self.lot.defaulter:
            raise InvalidInput("member", f"{member} is the defaulter")
        assignment_reason(reason)
        return self._decide(
            ev.LotAssignedByOperator(
                **self._head(now),
                by=by,
                assignee=member,
                amount=cents_text(self.lot.implied_bid),
                reason=reason,
            )
        )

    def settle(self, *, by: str, now: datetime, settlement_id: str) -> Decision:
        """Record that the clearing house settled the award under ``settlement_id``."""
        check_transition(self.phase, Phase.SETTLED)
        check_id(settlement_id, "settlement_id")
        return self._decide(
            ev.AuctionSettled(**self._head(now), by=by, settlement_id=settlement_id)
        )

    def cancel(self, *, by: str, reason: str, now: datetime) -> Decision:
        """Cancel before the settlement (the lot can then be put in a new auction): before
        the award, or an award not settled yet (the taker defaulted since, say)."""
        check_transition(self.phase, Phase.CANCELLED)
        if not reason.strip():
            raise InvalidInput("reason", "a cancellation needs a reason")
        return self._decide(ev.AuctionCancelled(**self._head(now), by=by, reason=reason))

    def disclose_bids(self, *, by: str, reason: str, now: datetime) -> Decision:
        """Record an audited read of the sealed bids; then ``bids(disclosed=True)``."""
        if not self.is_sealed():
            raise InvalidTransition("the window has closed: the bids are not sealed")
        if not reason.strip():
            raise InvalidInput("reason", "an audited disclosure needs a reason")
        return self._decide(ev.BidsDisclosed(**self._head(now), by=by, reason=reason))

    # -- commands: members ----------------------------------------------------------------

    def submit_bid(
        self, *, member: str, client_order_id: str, amount: DecimalLike, now: datetime
    ) -> Decision:
        """Submit the member's bid, or replace its live one (the last bid counts).

        ``amount`` is the cash the member pays the CCP for the lot, in the lot's currency
        with at most two decimals; negative when the CCP must pay (an offer).
        """
        self._require_eligible(member)
        check_id(client_order_id, "client_order_id")
        cents = to_cents(amount, "amount")
        event = ev.BidSubmitted(
            **self._head(now),
            member=member,
            client_order_id=client_order_id,
            amount=cents_text(cents),
        )
        repeat = self._repeat(event)
        if repeat:
            return repeat
        self._require_window(now)
        return self._decide(event, client_order_id)

    def withdraw_bid(self, *, member: str, client_order_id: str, now: datetime) -> Decision:
        """Withdraw the member's live bid before the close."""
        self._require_eligible(member)
        check_id(client_order_id, "client_order_id")
        event = ev.BidWithdrawn(**self._head(now), member=member, client_order_id=client_order_id)
        repeat = self._repeat(event)
        if repeat:
            return repeat
        self._require_window(now)
        if member not in self.book:
            raise NotFound(f"{member} has no live bid in {self.auction_id}")
        return self._decide(event, client_order_id)

    # -- applying events ------------------------------------------------------------------

    def _on_WindowOpened(self, e: ev.WindowOpened) -> None:  # noqa: N802
        self._move(Phase.OPEN, e.at)
        if e.eligible is not None:
            self.eligible = frozenset(e.eligible)
            self.market_makers = frozenset(e.market_makers or ())
            self.mandatory = frozenset(e.mandatory or ())

    def _on_BidSubmitted(self, e: ev.BidSubmitted) -> None:  # noqa: N802
        cents = to_cents(e.amount, "amount")
        if e.member in self.book:
            self.book.replace(e.member, ticks=cents, size=1, seq=e.seq)
        else:
            self.book.add(BookOrder(e.member, e.member, cents, 1, e.seq))
        self._bid_meta[e.member] = (e.client_order_id, e.at)

    def _on_BidWithdrawn(self, e: ev.BidWithdrawn) -> None:  # noqa: N802
        self.book.cancel(e.member)
        del self._bid_meta[e.member]

    def _on_WindowClosed(self, e: ev.WindowClosed) -> None:  # noqa: N802
        self._move(Phase.CLOSED, e.at)

    def _on_LotAwarded(self, e: ev.LotAwarded) -> None:  # noqa: N802
        self._on_outcome(e, Phase.AWARDED)

    def _on_LotAssigned(self, e: ev.LotAssigned) -> None:  # noqa: N802
        self._on_outcome(e, Phase.ASSIGNED)

    def _on_AuctionFailed(self, e: ev.AuctionFailed) -> None:  # noqa: N802
        self._on_outcome(e, Phase.FAILED)

    def _on_LotAssignedByOperator(self, e: ev.LotAssignedByOperator) -> None:  # noqa: N802
        self._move(Phase.ASSIGNED, e.at)
        previous = self.outcome
        self.outcome = Outcome(
            member=e.assignee,
            amount=to_cents(e.amount, "amount"),
            assigned=True,
            tie_break=TieBreak.NONE,
            tied=(),
            pool=(),
            grades=previous.grades if previous is not None else self._grades_now(),
            reason=e.reason,
        )

    def _on_outcome(
        self, e: ev.LotAwarded | ev.LotAssigned | ev.AuctionFailed, phase: Phase
    ) -> None:
        outcome = self._decide_outcome(e.seed, e.excluded)
        expected = self._award_event(
            outcome, by=e.by, now=datetime.fromisoformat(e.at), seed=e.seed, excluded=e.excluded
        )
        if dataclasses.replace(expected, at=e.at) != e:
            raise ReplayMismatch(f"the award of {self.auction_id} recomputes differently")
        self._move(phase, e.at)
        self.outcome = outcome
        self.seed = e.seed
        self.excluded = tuple(e.excluded)

    def _on_AuctionSettled(self, e: ev.AuctionSettled) -> None:  # noqa: N802
        self._move(Phase.SETTLED, e.at)
        self.settlement_id = e.settlement_id

    def _on_AuctionCancelled(self, e: ev.AuctionCancelled) -> None:  # noqa: N802
        self._move(Phase.CANCELLED, e.at)
        self.cancel_reason = e.reason

    def _on_BidsDisclosed(self, e: ev.BidsDisclosed) -> None:  # noqa: N802
        self.disclosures.append(e)

    # -- internals -------------------------------------------------------------------------

    def _move(self, target: Phase, at: str) -> None:
        check_transition(self.phase, target)
        self.phase = target
        self.phase_times[target.value] = at

    def _require_eligible(self, member: str) -> None:
        if member not in self.eligible:
            raise NotPermitted(f"{member!r} is not eligible to bid in auction {self.auction_id}")

    def _require_window(self, now: datetime) -> None:
        """The window must be open and, on the server's clock, not past its scheduled close."""
        if self.phase is not Phase.OPEN:
            raise InvalidTransition(
                f"the window of {self.auction_id} is not open (phase {self.phase.value})"
            )
        close = self.schedule.close_at
        if close is not None and now >= close:
            raise InvalidTransition(
                f"the window of {self.auction_id} closed at {close.isoformat()}"
            )

    def _sealed_bids(self) -> list[SealedBid]:
        out = []
        for order in self.book.orders():
            _, at = self._bid_meta[order.owner]
            out.append(SealedBid(order.owner, order.ticks, datetime.fromisoformat(at), order.seq))
        return sorted(out, key=lambda b: b.seq)

    def _decide_outcome(self, seed: int, excluded: Iterable[str] = ()) -> Outcome:
        return decide(
            self._sealed_bids(),
            implied_bid=self.lot.implied_bid,
            reserve=self.params.reserve,
            market_makers=self.market_makers,
            mandatory=self.mandatory,
            threshold=self.params.grading_threshold,
            seed=seed,
            counterparties=self.eligible - self.market_makers,
            excluded=excluded,
        )

    def _grades_now(self) -> tuple[GradeRow, ...]:
        return grade(
            self._sealed_bids(),
            self.mandatory,
            winner=None,
            reference=self.lot.implied_bid,
            threshold=self.params.grading_threshold,
        )

    def _award_event(
        self,
        outcome: Outcome,
        *,
        by: str,
        now: datetime,
        seed: int,
        excluded: Iterable[str] = (),
    ) -> ev.LotAwarded | ev.LotAssigned | ev.AuctionFailed:
        head = self._head(now)
        grades = [g.to_dict() for g in outcome.grades]
        out = list(excluded)
        if outcome.failed:
            return ev.AuctionFailed(**head, by=by, seed=seed, excluded=out, grades=grades)
        if outcome.assigned:
            return ev.LotAssigned(
                **head,
                by=by,
                seed=seed,
                assignee=outcome.member,
                amount=cents_text(outcome.amount),
                pool=list(outcome.pool),
                grades=grades,
                excluded=out,
                pool_kind=outcome.pool_kind,
            )
        return ev.LotAwarded(
            **head,
            by=by,
            seed=seed,
            winner=outcome.member,
            amount=cents_text(outcome.amount),
            tie_break=outcome.tie_break.value,
            tied=list(outcome.tied),
            grades=grades,
            excluded=out,
        )

    def snapshot(self) -> dict[str, Any]:
        """Everything that defines the state, for replay-equality checks."""
        return {
            "phase": self.phase.value,
            "last_seq": self.last_seq,
            "lot": self.lot.to_dict(),
            "book": sorted(
                (dataclasses.asdict(o) for o in self.book.orders()), key=lambda o: o["order_id"]
            ),
            "bid_meta": dict(sorted(self._bid_meta.items())),
            "result": self.result(),
            "acks": self.acks_snapshot(),
            "disclosures": [d.to_dict() for d in self.disclosures],
            "phase_times": dict(self.phase_times),
        }


def _check_invitation(
    lot: Lot, eligible: Iterable[str], market_makers: Iterable[str], mandatory: Iterable[str]
) -> tuple[list[str], list[str], list[str]]:
    """Sorted invited members, market makers and mandatory bidders, checked for consistency."""
    invited = sorted({check_id(m, f"eligible[{i}]") for i, m in enumerate(eligible)})
    makers = sorted(set(market_makers))
    obliged = sorted(set(mandatory))
    if lot.defaulter in invited:
        raise InvalidInput("eligible", f"the defaulter {lot.defaulter} cannot bid")
    for name, group in (("market_makers", makers), ("mandatory", obliged)):
        outside = sorted(set(group) - set(invited))
        if outside:
            raise InvalidInput(name, f"{', '.join(outside)} not among the eligible members")
    return invited, makers, obliged


def assignment_reason(reason: str) -> str:
    """The recorded reason of an operator's assignment (required)."""
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("reason", "an operator's assignment needs a reason")
    return reason
