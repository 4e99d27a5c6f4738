"""The clearing house's default-management state, event-sourced like the auctions.

:class:`ClearingHouse` holds members (role, mandatory flag), their cleared swap positions
and collateral, margin runs, defaults, lots and settlements. Every command validates and
returns a :class:`Decision` of events **without changing anything**; ``apply`` is the only
mutation; ``ClearingHouse.from_events`` replays a journal into identical state
(``snapshot()`` compares). Derived facts written into events (margin shortfalls, the
invitation to a lot, settlement instructions) are recomputed on replay and checked.

The process it records, one command at a time (the server, or the offline runner, computes
every priced value with the ``pricing`` library and passes it in as a decimal string):

1. ``admit_member`` / ``set_collateral`` / ``book_position`` (or ``load`` for a file);
2. ``record_margin_run`` with each member's performance bond requirement;
3. ``declare_default`` on a shortfall, or by an operator with a reason, listing the
   positions with their NPVs;
4. ``convert`` defaulted positions into a lot (standard swap, RCV, b*, DV01, curve id,
   valuation time); the invitation (eligible, market makers, mandatory) is computed here
   and handed to :class:`~matching.default.auction.DefaultAuction`;
5. optionally ``book_hedge`` (the neutralising hedge);
6. ``settle`` the award or assignment: positions move, cash b, shortfall to collateral.

No I/O, no clock, no pricing.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, TypeAlias

from matching.clearing import events as ev
from matching.clearing.eligibility import Invitation, eligible_bidders
from matching.clearing.model import (
    CCP,
    Member,
    Position,
    PositionStatus,
    Role,
    SwapTerms,
    check_date,
    parse_enum,
)
from matching.clearing.settlement import Instruction, SettlementPlan, plan_settlement
from matching.default.auction import ReplayMismatch
from matching.default.cash import cents_text, to_cents
from matching.default.lot import ConvertedPosition, Lot
from matching.errors import (
    AlreadyExists,
    DomainError,
    InvalidInput,
    InvalidTransition,
    NotFound,
    refusal_of,
)
from matching.eventsourcing import Ack, EventSourced, check_id, iso
from matching.eventsourcing import Decision as _Decision
from matching.money import DecimalLike
from matching.process.waterfall import Layer, Survivor, WaterfallConfig, allocate, tier_of

METHODS = ("AWARD", "ASSIGNMENT", "OPERATOR_ASSIGNMENT")
#: Lot statuses the clearing house knows itself (IN_AUCTION is the process layer's, from the
#: auctions: see ``matching.process.steps.lot_status``).
CONVERTED, SETTLED, WITHDRAWN = "CONVERTED", "SETTLED", "WITHDRAWN"

#: What a clearing command returns.
Decision: TypeAlias = _Decision[ev.Event]


@dataclass(frozen=True, slots=True)
class MemberSpec:
    """A member as loaded from a file: id, role, mandatory flag, collateral (decimal)."""

    member: str
    role: Role | str
    mandatory: bool
    collateral: DecimalLike = 0
    default_fund: DecimalLike = 0


@dataclass(frozen=True, slots=True)
class MarginRow:
    """One member's line of a margin run, in cents."""

    member: str
    requirement: int
    collateral: int

    @property
    def shortfall(self) -> int:
        """What collateral does not cover (never negative)."""
        return max(self.requirement - self.collateral, 0)

    def to_dict(self) -> dict[str, str]:
        """Journal form."""
        return {
            "member": self.member,
            "requirement": cents_text(self.requirement),
            "collateral": cents_text(self.collateral),
            "shortfall": cents_text(self.shortfall),
        }


@dataclass(frozen=True, slots=True)
class DefaultRecord:
    """Why and when a member was declared in default, and its positions with their NPVs."""

    member: str
    basis: str
    reason: str
    run_id: str | None
    shortfall: int | None
    positions: tuple[tuple[str, int | None], ...]
    at: str


@dataclass(frozen=True, slots=True)
class LotRecord:
    """A lot, its invitation and, once settled, the settlement plan."""

    lot: Lot
    invitation: Invitation
    hedged: bool = False
    settlement: SettlementPlan | None = None
    auction_id: str | None = None
    method: str | None = None
    reason: str = ""
    withdrawn: str | None = None

    @property
    def status(self) -> str:
        """CONVERTED, SETTLED or WITHDRAWN (whether it is in a live auction is not known here)."""
        if self.settlement is not None:
            return SETTLED
        return WITHDRAWN if self.withdrawn is not None else CONVERTED


class ClearingHouse(EventSourced[ev.Event]):
    """Members, positions, collateral, defaults, lots. Queries, commands, then events."""

    stream_field = "house_id"

    def __init__(self, created: ev.HouseCreated) -> None:
        self.house_id = created.house_id
        self._init_stream(created.house_id, created.seq)
        self.created_at = created.at
        self.members: dict[str, Member] = {}
        self.collateral: dict[str, int] = {}
        self.default_fund: dict[str, int] = {}
        self.allocations: dict[str, ev.LossesAllocated] = {}
        self.cash: dict[str, int] = {CCP: 0}
        self.positions: dict[str, Position] = {}
        self.margin_runs: dict[str, tuple[MarginRow, ...]] = {}
        self.margin_meta: dict[str, ev.MarginRunRecorded] = {}
        self.latest_run: str | None = None
        self.defaults: dict[str, DefaultRecord] = {}
        self.lots: dict[str, LotRecord] = {}
        self.instructions: list[Instruction] = []
        self._in_lot: dict[str, str] = {}  # position id -> lot id
        #: The last load's events, the sequence they follow and the scratch they were
        #: decided on (applied: see :meth:`apply_all`).
        self._decided: tuple[tuple[ev.Event, ...], int, ClearingHouse] | None = None

    # -- construction --------------------------------------------------------------------

    @staticmethod
    def create(*, house_id: str, by: str, now: datetime) -> Decision:
        """The HouseCreated event that starts a clearing journal."""
        check_id(house_id, "house_id")
        created = ev.HouseCreated(house_id=house_id, seq=1, at=iso(now), by=by)
        return Decision((created,), Ack(1, created.at, house_id))

    @classmethod
    def from_events(cls, events: Iterable[ev.Event]) -> ClearingHouse:
        """Rebuild the state from its whole journal (the first event must be HouseCreated)."""
        iterator = iter(events)
        first = next(iterator, None)
        if not isinstance(first, ev.HouseCreated):
            raise ValueError("a clearing journal starts with HouseCreated")
        house = cls(first)
        for event in iterator:
            house.apply(event)
        return house

    def scratch(self) -> ClearingHouse:
        """A copy to decide a command of several steps on (events applied to it change
        nothing here): every container copied, its values shared, since every value the house
        holds is frozen. One pass over the entries at C speed, where a deep copy of a house
        of 150,000 positions held the caller for seconds."""
        other = copy.copy(self)
        for name, value in vars(self).items():
            if isinstance(value, dict | list | set):
                setattr(other, name, value.copy())
        other._decided = None
        return other

    # -- queries -------------------------------------------------------------------------

    def member(self, member: str) -> Member:
        """The member; NotFound otherwise."""
        try:
            return self.members[member]
        except KeyError:
            raise NotFound(f"no member {member!r}") from None

    def is_defaulted(self, member: str) -> bool:
        """True once the member was declared in default."""
        return member in self.defaults

    def open_positions(self, account: str | None = None) -> list[Position]:
        """Open positions (of one account, or all), in booking order."""
        return [
            p
            for p in self.positions.values()
            if p.status is PositionStatus.OPEN and (account is None or p.account == account)
        ]

    def defaulted_positions(self, member: str) -> list[tuple[Position, int | None]]:
        """The positions listed when ``member`` defaulted, with their NPVs in cents."""
        record = self.defaults.get(member)
        if record is None:
            raise NotFound(f"{member} is not in default")
        return [(self.positions[pid], npv) for pid, npv in record.positions]

    def margin_run(self, run_id: str) -> tuple[MarginRow, ...]:
        """The rows of a recorded margin run."""
        try:
            return self.margin_runs[run_id]
        except KeyError:
            raise NotFound(f"no margin run {run_id!r}") from None

    def short_members(self, run_id: str | None = None) -> list[str]:
        """Members with a shortfall in the run (default: the latest), not yet in default."""
        run = run_id or self.latest_run
        if run is None:
            return []
        return [
            r.member
            for r in self.margin_run(run)
            if r.shortfall > 0 and not self.is_defaulted(r.member)
        ]

    def lot(self, lot_id: str) -> LotRecord:
        """A converted lot with its invitation; NotFound otherwise."""
        try:
            return self.lots[lot_id]
        except KeyError:
            raise NotFound(f"no lot {lot_id!r}") from None

    def settlement_instructions(self, lot_id: str | None = None) -> list[Instruction]:
        """Every settlement instruction so far (or one lot's), in the order they were made."""
        return [i for i in self.instructions if lot_id is None or i.lot_id == lot_id]

    def ledger(self) -> dict[str, Any]:
        """Accounts with their open positions, cash and collateral (the positions ledger)."""
        accounts = sorted(set(self.members) | {CCP})
        return {
            "accounts": [
                {
                    "account": a,
                    "status": "CCP"
                    if a == CCP
                    else ("DEFAULTED" if self.is_defaulted(a) else "ACTIVE"),
                    "cash": cents_text(self.cash.get(a, 0)),
                    "collateral": None if a == CCP else cents_text(self.collateral.get(a, 0)),
                    "default_fund": None if a == CCP else cents_text(self.default_fund.get(a, 0)),
                    "positions": [p.to_dict() for p in self.open_positions(a)],
                }
                for a in accounts
            ],
            "closed_positions": [
                p.to_dict() for p in self.positions.values() if p.status is PositionStatus.CLOSED
            ],
        }

    def snapshot(self) -> dict[str, Any]:
        """Everything that defines the state, for replay-equality checks."""
        return {
            "last_seq": self.last_seq,
            "members": {m: v.to_dict() for m, v in sorted(self.members.items())},
            "collateral": dict(sorted(self.collateral.items())),
            "default_fund": dict(sorted(self.default_fund.items())),
            "allocations": {k: v.to_dict() for k, v in sorted(self.allocations.items())},
            "cash": dict(sorted(self.cash.items())),
            "positions": [p.to_dict() for p in self.positions.values()],
            "margin_runs": {
                k: [r.to_dict() for r in v] for k, v in sorted(self.margin_runs.items())
            },
            "latest_run": self.latest_run,
            "defaults": {k: dataclasses.asdict(v) for k, v in sorted(self.defaults.items())},
            "lots": {
                k: {
                    "lot": v.lot.to_dict(),
                    "invitation": dataclasses.asdict(v.invitation),
                    "hedged": v.hedged,
                    "auction_id": v.auction_id,
                    "method": v.method,
                    "settled": v.settlement is not None,
                    "reason": v.reason,
                    "withdrawn": v.withdrawn,
                }
                for k, v in sorted(self.lots.items())
            },
            "instructions": [i.to_dict() for i in self.instructions],
        }

    # -- commands: loading ------------------------------------------------------------------

    def admit_member(
        self, *, member: str, role: Role | str, mandatory: bool, by: str, now: datetime
    ) -> Decision:
        """Admit a member (``CCP`` is reserved for the clearing house's own account)."""
        check_id(member, "member")
        if member == CCP:
            raise InvalidInput("member", f"{CCP} is the clearing house's own account")
        role_v = parse_enum(Role, role, "role")
        if not isinstance(mandatory, bool):
            raise InvalidInput("mandatory", "must be true or false")
        if member in self.members:
            raise AlreadyExists(f"member {member!r} is already admitted")
        return self._decide(
            ev.MemberAdmitted(
                **self._head(now), by=by, member=member, role=role_v.value, mandatory=mandatory
            )
        )

    def set_collateral(
        self, *, member: str, amount: DecimalLike, by: str, now: datetime
    ) -> Decision:
        """Set a member's collateral to ``amount`` (decimal string, cents at most)."""
        self.member(member)
        cents = contribution_cents(amount, "collateral")
        return self._decide(
            ev.CollateralSet(**self._head(now), by=by, member=member, amount=cents_text(cents))
        )

    def set_default_fund(
        self, *, member: str, amount: DecimalLike, by: str, now: datetime
    ) -> Decision:
        """Set a member's default-fund contribution (clearing currency, cents at most)."""
        self.member(member)
        cents = contribution_cents(amount, "default_fund")
        if self.allocations:
            raise InvalidTransition("losses have been allocated: contributions are final")
        return self._decide(
            ev.DefaultFundSet(**self._head(now), by=by, member=member, amount=cents_text(cents))
        )

    def book_position(
        self, *, position_id: str, member: str, terms: SwapTerms, by: str, now: datetime
    ) -> Decision:
        """Book a cleared swap into an active member's account."""
        check_id(position_id, "position_id")
        self.member(member)
        if self.is_defaulted(member):
            raise InvalidTransition(f"{member} is in default: no new positions")
        if position_id in self.positions:
            raise AlreadyExists(f"position {position_id!r} is already booked")
        return self._decide(
            ev.PositionBooked(
                **self._head(now),
                by=by,
                position_id=position_id,
                member=member,
                terms=terms.to_dict(),
            )
        )

    def load(
        self,
        *,
        members: Sequence[MemberSpec],
        positions: Sequence[tuple[str, str, SwapTerms]],
        by: str,
        now: datetime,
    ) -> Decision:
        """Admit members with their collateral and book ``(position_id, member, terms)``.

        All or nothing: the whole load is validated before any event is returned; a refusal
        names each entry at fault (``members[2]``, ``positions[0]``), listing every problem
        up to :data:`~matching.errors.MAX_LISTED_PROBLEMS` (an entry at fault is skipped, so
        the entries after it are still checked).
        """
        scratch = self.scratch()
        out: list[ev.Event] = []
        problems: list[tuple[str, DomainError]] = []

        def run(where: str, command: Callable[[], Decision]) -> None:
            try:
                decision = command()
            except (InvalidInput, AlreadyExists, NotFound, InvalidTransition) as exc:
                problems.append((where, exc))
                return
            scratch.apply_all(decision.events)
            out.extend(decision.events)

        for i, m in enumerate(members):
            run(
                f"members[{i}]",
                lambda m=m: scratch.admit_member(  # type: ignore[misc]
                    member=m.member, role=m.role, mandatory=m.mandatory, by=by, now=now
                ),
            )
            run(
                f"members[{i}]",
                lambda m=m: scratch.set_collateral(  # type: ignore[misc]
                    member=m.member, amount=m.collateral, by=by, now=now
                ),
            )
            if m.default_fund not in (0, "", "0", None):
                run(
                    f"members[{i}]",
                    lambda m=m: scratch.set_default_fund(  # type: ignore[misc]
                        member=m.member, amount=m.default_fund, by=by, now=now
                    ),
                )
        for i, (pid, owner, terms) in enumerate(positions):
            run(
                f"positions[{i}]",
                lambda pid=pid, owner=owner, terms=terms: scratch.book_position(  # type: ignore[misc]
                    position_id=pid, member=owner, terms=terms, by=by, now=now
                ),
            )
        if problems:
            raise refusal_of(problems)
        last = out[-1] if out else None
        decision = Decision(tuple(out), Ack(last.seq, last.at, "load") if last else None)
        # The scratch holds exactly this house with these events applied: applying them
        # (next, in the same step) takes its containers instead of applying them again.
        self._decided = (decision.events, self.last_seq, scratch)
        return decision

    def apply_all(self, events: Sequence[ev.Event]) -> None:
        """Apply events in order; the events of the decision just taken on a scratch (a
        load of 150,000 positions), with nothing applied since, by taking the scratch's
        state, which is this house with exactly those events applied."""
        decided, self._decided = self._decided, None
        if decided is not None and decided[0] is events and decided[1] == self.last_seq:
            scratch = decided[2]
            scratch._decided = None
            self.__dict__.update(vars(scratch))
            return
        super().apply_all(events)

    # -- commands: margin and default ---------------------------------------------------------

    def record_margin_run(
        self,
        *,
        run_id: str,
        requirements: Mapping[str, DecimalLike],
        valuation_date: str,
        curve_id: str,
        by: str,
        now: datetime,
        worst: Mapping[str, str] | None = None,
    ) -> Decision:
        """Record each active member's requirement (cents); members not named require 0.
        ``worst`` names the scenario that set each member's requirement (for the record).

        The requirements come from the pricing library's performance bond; the shortfall
        against the member's collateral is computed here and recorded.
        """
        check_id(run_id, "run_id")
        if run_id in self.margin_runs:
            raise AlreadyExists(f"margin run {run_id!r} is already recorded")
        check_date(valuation_date, "valuation_date")
        if (
            not isinstance(curve_id, str)
            or not curve_id.strip()
            or len(curve_id) > 2048
            or not curve_id.isprintable()
        ):
            # Not check_id: a dual-curve id is "<discount>/<projection>", and a run over
            # several markets names each market's curve.
            raise InvalidInput("curve_id", "must be 1 to 2048 printable characters")
        for name in requirements:
            self.member(name)
        required = {m: to_cents(v, f"requirements[{m}]") for m, v in requirements.items()}
        for m, cents in required.items():
            if cents < 0:
                raise InvalidInput(f"requirements[{m}]", "must not be negative")
        return self._decide(
            ev.MarginRunRecorded(
                **self._head(now),
                by=by,
                run_id=run_id,
                valuation_date=valuation_date,
                curve_id=curve_id,
                rows=[r.to_dict() for r in self._margin_rows(required)],
                worst=None if worst is None else {str(k): str(v) for k, v in worst.items()},
            )
        )

    def declare_default(
        self,
        *,
        member: str,
        by: str,
        now: datetime,
        reason: str | None = None,
        values: Mapping[str, DecimalLike] | None = None,
    ) -> Decision:
        """Declare ``member`` in default.

        Without ``reason`` the basis is SHORTFALL: the latest margin run must show one. With
        a ``reason`` it is an OPERATOR decision. ``values`` are the NPVs (to the member, from
        pricing) of its open positions; when given they must cover exactly those positions.
        """
        self.member(member)
        if self.is_defaulted(member):
            raise AlreadyExists(f"{member} is already in default")
        held = self.open_positions(member)
        npvs: dict[str, int | None] = {p.position_id: None for p in held}
        if values is not None:
            if set(values) != set(npvs):
                raise InvalidInput("values", "must give one NPV for each open position")
            npvs = {pid: to_cents(v, f"values[{pid}]") for pid, v in values.items()}
        run_id: str | None = None
        shortfall: int | None = None
        if reason is None:
            run_id = self.latest_run
            row = None
            if run_id is not None:
                row = next((r for r in self.margin_runs[run_id] if r.member == member), None)
            if row is None or row.shortfall <= 0:
                raise InvalidTransition(
                    f"{member} shows no shortfall in the latest margin run; an operator "
                    "default needs a reason"
                )
            shortfall = row.shortfall
            text = f"performance bond shortfall of {cents_text(shortfall)} in margin run {run_id}"
            basis = "SHORTFALL"
        else:
            if not reason.strip():
                raise InvalidInput("reason", "an operator's default needs a reason")
            text, basis = reason, "OPERATOR"
        return self._decide(
            ev.MemberDefaulted(
                **self._head(now),
                by=by,
                member=member,
                basis=basis,
                reason=text,
                run_id=run_id,
                shortfall=None if shortfall is None else cents_text(shortfall),
                positions=[
                    {"position_id": p.position_id, "npv": _opt_cents(npvs[p.position_id])}
                    for p in held
                ],
            )
        )

    # -- commands: conversion, hedge, settlement --------------------------------------------

    def convert(
        self,
        *,
        lot_id: str,
        member: str,
        conversions: Sequence[ConvertedPosition],
        curve_id: str,
        valuation_time: str,
        by: str,
        now: datetime,
        rcv_convention: str = "same_coupon",
        settled_flows: str = "exclude_settled",
        fx_rate: DecimalLike = "1",
        clearing_currency: str = "",
    ) -> Decision:
        """Register a lot of ``member``'s defaulted positions, priced outside (``conversions``).

        Each position must be the defaulter's, open and in no other lot (a withdrawn lot's
        positions are free again), and the defaulted terms priced must be the booked terms.
        The invitation at conversion is computed here (the auction's is recomputed when its
        window opens). ``fx_rate`` converts the lot's currency into ``clearing_currency``.
        """
        if member in self.allocations:
            raise InvalidTransition(f"the losses of {member}'s default are already allocated")
        check_id(lot_id, "lot_id")
        if lot_id in self.lots:
            raise AlreadyExists(f"lot {lot_id!r} already exists")
        if not self.is_defaulted(member):
            raise InvalidTransition(f"{member} is not in default")
        for i, c in enumerate(conversions):
            where = f"conversions[{i}]"
            p = self.positions.get(c.position_id)
            if p is None or p.account != member or p.status is not PositionStatus.OPEN:
                raise NotFound(f"{where}: {member} has no open position {c.position_id!r}")
            if c.position_id in self._in_lot:
                raise AlreadyExists(
                    f"{where}: {c.position_id} is already in lot {self._in_lot[c.position_id]}"
                )
            if c.defaulted != p.terms:
                raise InvalidInput(f"{where}.defaulted", "differs from the booked position")
        lot = Lot.build(
            lot_id=lot_id,
            defaulter=member,
            positions=conversions,
            curve_id=curve_id,
            valuation_time=valuation_time,
            rcv_convention=rcv_convention,
            settled_flows=settled_flows,
            fx_rate=fx_rate,
            clearing_currency=clearing_currency,
        )
        invitation = self._invitation(lot)
        return self._decide(
            ev.LotConverted(
                **self._head(now),
                by=by,
                lot=lot.to_dict(),
                eligible=list(invitation.eligible),
                market_makers=list(invitation.market_makers),
                mandatory=list(invitation.mandatory),
            )
        )

    def book_hedge(
        self, *, lot_id: str, hedges: Sequence[SwapTerms], by: str, now: datetime
    ) -> Decision:
        """Book the CCP's neutralising hedge of a lot (terms priced outside), before settling."""
        record = self.lot(lot_id)
        if record.hedged:
            raise AlreadyExists(f"lot {lot_id} is already hedged")
        if record.settlement is not None:
            raise InvalidTransition(f"lot {lot_id} is settled: hedge before the auction")
        if not hedges:
            raise InvalidInput("hedges", "at least one hedge swap")
        if f"{lot_id}/hedge/1" in self.positions:
            raise AlreadyExists(f"position id {lot_id}/hedge/1 is already booked")
        return self._decide(
            ev.HedgeBooked(
                **self._head(now),
                by=by,
                lot_id=lot_id,
                hedges=[
                    {"position_id": f"{lot_id}/hedge/{i + 1}", "terms": h.to_dict()}
                    for i, h in enumerate(hedges)
                ],
            )
        )

    def settle(
        self,
        *,
        lot_id: str,
        member: str,
        amount: DecimalLike,
        method: str,
        auction_id: str,
        by: str,
        now: datetime,
        reason: str = "",
    ) -> Decision:
        """Settle a lot awarded (``AWARD``) or assigned (``ASSIGNMENT``, or
        ``OPERATOR_ASSIGNMENT`` with a ``reason``) to ``member``.

        Who may take the lot is the auction's business (invited when its window opened);
        here ``member`` must be a member, not the defaulter and not in default now; an
        assignment is at b* exactly. A withdrawn lot cannot be settled.
        """
        record = self.lot(lot_id)
        if record.settlement is not None:
            raise AlreadyExists(f"lot {lot_id} is already settled")
        if record.withdrawn is not None:
            raise InvalidTransition(f"lot {lot_id} was withdrawn")
        if method not in METHODS:
            raise InvalidInput("method", f"must be {', '.join(METHODS)}")
        check_id(auction_id, "auction_id")
        self.member(member)
        if self.is_defaulted(member):
            raise InvalidTransition(f"{member} is in default: it cannot take lot {lot_id}")
        if method == "OPERATOR_ASSIGNMENT" and not reason.strip():
            raise InvalidInput("reason", "an operator's assignment needs a reason")
        cents = to_cents(amount, "amount")
        if method != "AWARD" and cents != record.lot.implied_bid:
            raise InvalidInput("amount", "an assignment is at the implied bid b*")
        plan = self._plan(record.lot, member, cents, method)
        taken = sorted(p.position_id for p in plan.new_positions if p.position_id in self.positions)
        if taken:
            raise AlreadyExists(f"position id {taken[0]!r} is already booked")
        return self._decide(self._settled_event(plan, auction_id, method, by, now, reason))

    def withdraw_lot(self, *, lot_id: str, reason: str, by: str, now: datetime) -> Decision:
        """Withdraw a converted lot (the caller checked it is in no live auction)."""
        record = self.lot(lot_id)
        if record.settlement is not None:
            raise InvalidTransition(f"lot {lot_id} is settled: it cannot be withdrawn")
        if record.withdrawn is not None:
            raise AlreadyExists(f"lot {lot_id} is already withdrawn")
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidInput("reason", "a withdrawal needs a reason")
        return self._decide(ev.LotWithdrawn(**self._head(now), by=by, lot_id=lot_id, reason=reason))

    def invitation(self, lot_id: str) -> Invitation:
        """Who would be invited to ``lot_id`` now (members in default since are out, market
        makers admitted since are in): what a window opening records."""
        return self._invitation(self.lot(lot_id).lot)

    def allocate_losses(
        self,
        *,
        defaulter: str,
        grades: Mapping[str, Sequence[str]],
        config: WaterfallConfig,
        by: str,
        now: datetime,
    ) -> Decision:
        """Net the default's result over its settled lots and run the loss waterfall.

        Every position ``defaulter`` defaulted with must be in a settled lot. ``grades``
        maps members to their grades over the default's auctions (``"<auction>:<grade>"``),
        collected by the process layer; they set the survivors' tiers.
        """
        record = self.defaults.get(defaulter)
        if record is None:
            self.member(defaulter)
            raise InvalidTransition(f"{defaulter} is not in default")
        if defaulter in self.allocations:
            raise AlreadyExists(f"the losses of {defaulter}'s default are already allocated")
        for pid, _ in record.positions:
            lot_id = self._in_lot.get(pid)
            if lot_id is None:
                raise InvalidTransition(
                    f"position {pid} of {defaulter} is in no lot: convert and auction it first"
                )
            if self.lots[lot_id].settlement is None:
                raise InvalidTransition(f"lot {lot_id} is not settled yet")
        clean = {}
        for member, rows in sorted(grades.items()):
            self.member(member)
            clean[member] = [str(r) for r in rows]
        allocation = self._allocation(defaulter, clean, config)
        return self._decide(
            ev.LossesAllocated(
                **self._head(now),
                by=by,
                defaulter=defaulter,
                config=config.to_dict(),
                grades=clean,
                allocation=allocation,
            )
        )

    # -- applying events --------------------------------------------------------------------

    def _on_MemberAdmitted(self, e: ev.MemberAdmitted) -> None:  # noqa: N802
        self.members[e.member] = Member(e.member, Role(e.role), e.mandatory)
        self.collateral[e.member] = 0
        self.cash[e.member] = 0

    def _on_CollateralSet(self, e: ev.CollateralSet) -> None:  # noqa: N802
        self.collateral[e.member] = to_cents(e.amount, "amount")

    def _on_DefaultFundSet(self, e: ev.DefaultFundSet) -> None:  # noqa: N802
        self.default_fund[e.member] = to_cents(e.amount, "amount")

    def _on_LotWithdrawn(self, e: ev.LotWithdrawn) -> None:  # noqa: N802
        record = self.lots[e.lot_id]
        self.lots[e.lot_id] = dataclasses.replace(record, withdrawn=e.reason)
        for p in record.lot.positions:
            if self._in_lot.get(p.position_id) == e.lot_id:
                del self._in_lot[p.position_id]

    def _on_LossesAllocated(self, e: ev.LossesAllocated) -> None:  # noqa: N802
        config = WaterfallConfig.from_dict(e.config)
        expected = self._allocation(e.defaulter, e.grades, config)
        if expected != e.allocation:
            raise ReplayMismatch(f"the loss allocation of {e.defaulter} recomputes differently")
        for row in e.allocation["instructions"]:
            self._move(Instruction(**{**row, "amount": to_cents(row["amount"], "amount")}))
        self.instructions.extend(
            Instruction(**{**row, "amount": to_cents(row["amount"], "amount")})
            for row in e.allocation["instructions"]
        )
        self.allocations[e.defaulter] = e

    def _on_PositionBooked(self, e: ev.PositionBooked) -> None:  # noqa: N802
        terms = SwapTerms.from_dict(dict(e.terms))
        self.positions[e.position_id] = Position(e.position_id, e.member, terms, "cleared")

    def _on_MarginRunRecorded(self, e: ev.MarginRunRecorded) -> None:  # noqa: N802
        required = {r["member"]: to_cents(r["requirement"], "requirement") for r in e.rows}
        rows = self._margin_rows(required)
        if [r.to_dict() for r in rows] != e.rows:
            raise ReplayMismatch(f"margin run {e.run_id} recomputes differently")
        self.margin_runs[e.run_id] = rows
        self.margin_meta[e.run_id] = e
        self.latest_run = e.run_id

    def _on_MemberDefaulted(self, e: ev.MemberDefaulted) -> None:  # noqa: N802
        self.defaults[e.member] = DefaultRecord(
            member=e.member,
            basis=e.basis,
            reason=e.reason,
            run_id=e.run_id,
            shortfall=None if e.shortfall is None else to_cents(e.shortfall, "shortfall"),
            positions=tuple(
                (str(p["position_id"]), None if p["npv"] is None else to_cents(p["npv"], "npv"))
                for p in e.positions
            ),
            at=e.at,
        )

    def _on_LotConverted(self, e: ev.LotConverted) -> None:  # noqa: N802
        lot = Lot.from_dict(e.lot)
        invitation = self._invitation(lot)
        recorded = Invitation(tuple(e.eligible), tuple(e.market_makers), tuple(e.mandatory))
        if invitation != recorded:
            raise ReplayMismatch(f"the invitation to lot {lot.lot_id} recomputes differently")
        self.lots[lot.lot_id] = LotRecord(lot, invitation)
        for p in lot.positions:
            self._in_lot[p.position_id] = lot.lot_id

    def _on_HedgeBooked(self, e: ev.HedgeBooked) -> None:  # noqa: N802
        for h in e.hedges:
            pid = h["position_id"]
            terms = SwapTerms.from_dict(dict(h["terms"]))
            self.positions[pid] = Position(
                pid, CCP, terms, f"neutralising hedge of {e.lot_id}", external=True
            )
        self.lots[e.lot_id] = dataclasses.replace(self.lots[e.lot_id], hedged=True)

    def _on_LotSettled(self, e: ev.LotSettled) -> None:  # noqa: N802
        record = self.lots[e.lot_id]
        plan = self._plan(record.lot, e.member, to_cents(e.amount, "amount"), e.method)
        expected = self._settled_event(plan, e.auction_id, e.method, e.by, None, e.reason)
        if dataclasses.replace(expected, seq=e.seq, at=e.at) != e:
            raise ReplayMismatch(f"the settlement of {e.lot_id} recomputes differently")
        for pid in plan.closed_positions:
            self.positions[pid] = dataclasses.replace(
                self.positions[pid], status=PositionStatus.CLOSED, closed_by=e.lot_id
            )
        for p in plan.new_positions:
            self.positions[p.position_id] = p
        for i in plan.instructions:
            self._move(i)
        self.instructions.extend(plan.instructions)
        self.lots[e.lot_id] = dataclasses.replace(
            record, settlement=plan, auction_id=e.auction_id, method=e.method, reason=e.reason
        )

    # -- internals --------------------------------------------------------------------------

    def _margin_rows(self, required: Mapping[str, int]) -> tuple[MarginRow, ...]:
        return tuple(
            MarginRow(m, required.get(m, 0), self.collateral.get(m, 0))
            for m in sorted(self.members)
            if not self.is_defaulted(m)
        )

    def _invitation(self, lot: Lot) -> Invitation:
        return eligible_bidders(
            market=(lot.currency, lot.index),
            sides=[p.defaulted.side for p in lot.positions],
            members=self.members,
            positions=self.positions.values(),
            defaulted=set(self.defaults),
        )

    def _plan(self, lot: Lot, member: str, amount: int, method: str) -> SettlementPlan:
        return plan_settlement(lot, member=member, amount=amount, method=method)

    def _move(self, i: Instruction) -> None:
        """Apply one instruction's cash, collateral or default-fund move."""
        if i.amount is None:
            return
        if i.kind == "COLLATERAL":
            self.collateral[i.from_account] -= i.amount
        elif i.kind == "DEFAULT_FUND":
            self.default_fund[i.from_account] -= i.amount
        else:  # CASH, ASSESSMENT: cash between accounts
            self.cash[i.from_account] -= i.amount
        self.cash[i.to_account] += i.amount

    def _allocation(
        self, defaulter: str, grades: Mapping[str, Sequence[str]], config: WaterfallConfig
    ) -> dict[str, Any]:
        """The netting and waterfall of ``defaulter``'s default, in journal form."""
        settled = [r for r in self.lots.values() if r.lot.defaulter == defaulter and r.settlement]
        clearing = {r.lot.clearing_currency for r in settled} or {""}
        if len(clearing) > 1:
            raise InvalidInput("lots", f"lots of {defaulter} in several clearing currencies")
        lots = []
        net = 0
        for r in settled:
            assert r.settlement is not None
            result = r.settlement.amount - r.settlement.implied_bid
            in_clearing = int(
                (Decimal(result) * Decimal(r.lot.fx_rate)).to_integral_value(ROUND_HALF_EVEN)
            )
            net += in_clearing
            lots.append(
                {
                    "lot_id": r.lot.lot_id,
                    "currency": r.lot.currency,
                    "amount": cents_text(r.settlement.amount),
                    "implied_bid": cents_text(r.settlement.implied_bid),
                    "result": cents_text(result),
                    "fx_rate": r.lot.fx_rate,
                    "clearing_result": cents_text(in_clearing),
                }
            )
        survivors = [
            Survivor(
                m, self.default_fund.get(m, 0), tier_of(g.split(":")[-1] for g in grades.get(m, ()))
            )
            for m in sorted(self.members)
            if not self.is_defaulted(m)
        ]
        fall = allocate(
            net_result=net,
            defaulter=defaulter,
            defaulter_margin=self.collateral.get(defaulter, 0),
            defaulter_fund=self.default_fund.get(defaulter, 0),
            survivors=survivors,
            config=config,
            ccp=CCP,
        )
        currency = clearing.pop()
        out: list[Instruction] = []

        def add(kind: str, src: str, dst: str, amount: int, text: str) -> None:
            if amount:
                out.append(
                    Instruction(
                        f"{defaulter}/losses/{len(out) + 1}",
                        f"{defaulter}/losses",
                        kind,
                        src,
                        dst,
                        currency,
                        amount,
                        None,
                        text,
                    )
                )

        kinds = {
            Layer.DEFAULTER_MARGIN: ("COLLATERAL", "defaulter's margin"),
            Layer.DEFAULTER_DEFAULT_FUND: ("DEFAULT_FUND", "defaulter's default-fund contribution"),
            Layer.SURVIVOR_DEFAULT_FUND: ("DEFAULT_FUND", "default-fund contribution"),
            Layer.ASSESSMENT: ("ASSESSMENT", "assessment"),
        }
        for step in fall.steps:
            if step.layer in kinds:
                kind, text = kinds[step.layer]
                add(kind, step.member, CCP, step.used, f"{text} for the default of {defaulter}")
            elif step.layer is Layer.SURPLUS_TO_ESTATE:
                add(
                    "CASH",
                    CCP,
                    defaulter,
                    step.used,
                    f"surplus of {defaulter}'s default to its estate",
                )
        members = []
        for m in [defaulter] + [s.member for s in survivors]:
            fund_used = fall.used_by(Layer.DEFAULTER_DEFAULT_FUND, m) + fall.used_by(
                Layer.SURVIVOR_DEFAULT_FUND, m
            )
            collateral_used = fall.used_by(Layer.DEFAULTER_MARGIN, m)
            assessment = fall.used_by(Layer.ASSESSMENT, m)
            received = fall.used_by(Layer.SURPLUS_TO_ESTATE, m)
            tier = next((s.tier.value for s in survivors if s.member == m), None)
            members.append(
                {
                    "member": m,
                    "tier": tier,
                    "grades": list(grades.get(m, ())),
                    "default_fund_before": cents_text(self.default_fund.get(m, 0)),
                    "default_fund_used": cents_text(fund_used),
                    "collateral_used": cents_text(collateral_used),
                    "assessment": cents_text(assessment),
                    "surplus_received": cents_text(received),
                    "total": cents_text(fund_used + collateral_used + assessment - received),
                }
            )
        return {
            "defaulter": defaulter,
            "clearing_currency": currency,
            "lots": lots,
            "net_result": cents_text(fall.net_result),
            "loss": cents_text(fall.loss),
            "surplus": cents_text(fall.surplus),
            "uncovered": cents_text(fall.uncovered),
            "config": config.to_dict(),
            "steps": [s.to_dict() for s in fall.steps],
            "members": members,
            "instructions": [i.to_dict() for i in out],
        }

    def _settled_event(
        self,
        plan: SettlementPlan,
        auction_id: str,
        method: str,
        by: str,
        now: datetime | None,
        reason: str = "",
    ) -> ev.LotSettled:
        head = (
            self._head(now)
            if now is not None
            else {
                "house_id": self.house_id,
                "seq": 0,
                "at": "",
            }
        )
        return ev.LotSettled(
            **head,
            by=by,
            lot_id=plan.lot_id,
            auction_id=auction_id,
            method=method,
            member=plan.member,
            amount=cents_text(plan.amount),
            implied_bid=cents_text(plan.implied_bid),
            shortfall=cents_text(plan.shortfall),
            collateral_charge=cents_text(plan.collateral_charge),
            uncovered=cents_text(plan.uncovered),
            instructions=[i.to_dict() for i in plan.instructions],
            reason=reason,
        )


def _opt_cents(value: int | None) -> str | None:
    return None if value is None else cents_text(value)


def contribution_cents(amount: DecimalLike, field: str) -> int:
    """A member's collateral or default-fund contribution in cents (whole cents, not
    negative)."""
    cents = to_cents(amount, field)
    if cents < 0:
        raise InvalidInput(field, "must not be negative")
    return cents
