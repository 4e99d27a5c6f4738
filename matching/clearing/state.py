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
from matching.errors import AlreadyExists, InvalidInput, InvalidTransition, NotFound
from matching.eventsourcing import Ack, EventSourced, check_id, iso
from matching.eventsourcing import Decision as _Decision
from matching.money import DecimalLike

METHODS = ("AWARD", "ASSIGNMENT")

#: What a clearing command returns.
Decision: TypeAlias = _Decision[ev.Event]


@dataclass(frozen=True, slots=True)
class MemberSpec:
    """A member as loaded from a file: id, role, mandatory flag, collateral (decimal)."""

    member: str
    role: Role | str
    mandatory: bool
    collateral: DecimalLike = 0


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


class ClearingHouse(EventSourced[ev.Event]):
    """Members, positions, collateral, defaults, lots. Queries, commands, then events."""

    stream_field = "house_id"

    def __init__(self, created: ev.HouseCreated) -> None:
        self.house_id = created.house_id
        self._init_stream(created.house_id, created.seq)
        self.created_at = created.at
        self.members: dict[str, Member] = {}
        self.collateral: dict[str, int] = {}
        self.cash: dict[str, int] = {CCP: 0}
        self.positions: dict[str, Position] = {}
        self.margin_runs: dict[str, tuple[MarginRow, ...]] = {}
        self.latest_run: str | None = None
        self.defaults: dict[str, DefaultRecord] = {}
        self.lots: dict[str, LotRecord] = {}
        self.instructions: list[Instruction] = []
        self._in_lot: dict[str, str] = {}  # position id -> lot id

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
        cents = to_cents(amount, "collateral")
        if cents < 0:
            raise InvalidInput("collateral", "must not be negative")
        return self._decide(
            ev.CollateralSet(**self._head(now), by=by, member=member, amount=cents_text(cents))
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

        All or nothing: the whole load is validated before any event is returned; errors
        name the entry (``members[2]``, ``positions[0]``).
        """
        scratch = copy.deepcopy(self)
        out: list[ev.Event] = []

        def run(where: str, command: Callable[[], Decision]) -> None:
            try:
                decision = command()
            except InvalidInput as exc:
                raise InvalidInput(f"{where}.{exc.field}", exc.description) from None
            except (AlreadyExists, NotFound, InvalidTransition) as exc:
                raise type(exc)(f"{where}: {exc.message}") from None
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
        for i, (pid, owner, terms) in enumerate(positions):
            run(
                f"positions[{i}]",
                lambda pid=pid, owner=owner, terms=terms: scratch.book_position(  # type: ignore[misc]
                    position_id=pid, member=owner, terms=terms, by=by, now=now
                ),
            )
        last = out[-1] if out else None
        return Decision(tuple(out), Ack(last.seq, last.at, "load") if last else None)

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
    ) -> Decision:
        """Record each active member's requirement (cents); members not named require 0.

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
            or len(curve_id) > 128
            or not curve_id.isprintable()
        ):
            # Not check_id: a dual-curve id is "<discount>/<projection>".
            raise InvalidInput("curve_id", "must be 1 to 128 printable characters")
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
    ) -> Decision:
        """Register a lot of ``member``'s defaulted positions, priced outside (``conversions``).

        Each position must be the defaulter's, open and in no other lot, and the defaulted
        terms priced must be the booked terms. The invitation is computed here.
        """
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
    ) -> Decision:
        """Settle a lot awarded (``AWARD``) or assigned (``ASSIGNMENT``) to ``member``.

        ``member`` must be invited (an assignee a market maker) and not in default; an
        assignment is at b* exactly.
        """
        record = self.lot(lot_id)
        if record.settlement is not None:
            raise AlreadyExists(f"lot {lot_id} is already settled")
        if method not in METHODS:
            raise InvalidInput("method", "must be AWARD or ASSIGNMENT")
        check_id(auction_id, "auction_id")
        pool = record.invitation.market_makers if method == "ASSIGNMENT" else None
        if member not in (pool or record.invitation.eligible) or self.is_defaulted(member):
            raise InvalidInput("member", f"{member!r} cannot take lot {lot_id} by {method}")
        cents = to_cents(amount, "amount")
        if method == "ASSIGNMENT" and cents != record.lot.implied_bid:
            raise InvalidInput("amount", "an assignment is at the implied bid b*")
        plan = self._plan(record.lot, member, cents, method)
        taken = sorted(p.position_id for p in plan.new_positions if p.position_id in self.positions)
        if taken:
            raise AlreadyExists(f"position id {taken[0]!r} is already booked")
        return self._decide(self._settled_event(plan, auction_id, method, by, now))

    # -- applying events --------------------------------------------------------------------

    def _on_MemberAdmitted(self, e: ev.MemberAdmitted) -> None:  # noqa: N802
        self.members[e.member] = Member(e.member, Role(e.role), e.mandatory)
        self.collateral[e.member] = 0
        self.cash[e.member] = 0

    def _on_CollateralSet(self, e: ev.CollateralSet) -> None:  # noqa: N802
        self.collateral[e.member] = to_cents(e.amount, "amount")

    def _on_PositionBooked(self, e: ev.PositionBooked) -> None:  # noqa: N802
        terms = SwapTerms.from_dict(dict(e.terms))
        self.positions[e.position_id] = Position(e.position_id, e.member, terms, "cleared")

    def _on_MarginRunRecorded(self, e: ev.MarginRunRecorded) -> None:  # noqa: N802
        required = {r["member"]: to_cents(r["requirement"], "requirement") for r in e.rows}
        rows = self._margin_rows(required)
        if [r.to_dict() for r in rows] != e.rows:
            raise ReplayMismatch(f"margin run {e.run_id} recomputes differently")
        self.margin_runs[e.run_id] = rows
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
        expected = self._settled_event(plan, e.auction_id, e.method, e.by, None)
        if dataclasses.replace(expected, seq=e.seq, at=e.at) != e:
            raise ReplayMismatch(f"the settlement of {e.lot_id} recomputes differently")
        for pid in plan.closed_positions:
            self.positions[pid] = dataclasses.replace(
                self.positions[pid], status=PositionStatus.CLOSED, closed_by=e.lot_id
            )
        for p in plan.new_positions:
            self.positions[p.position_id] = p
        for i in plan.instructions:
            if i.amount is None:
                continue
            if i.kind == "CASH":
                self.cash[i.from_account] -= i.amount
                self.cash[i.to_account] += i.amount
            else:  # COLLATERAL: out of the defaulter's collateral into the CCP's cash
                self.collateral[i.from_account] -= i.amount
                self.cash[i.to_account] += i.amount
        self.instructions.extend(plan.instructions)
        self.lots[e.lot_id] = dataclasses.replace(
            record, settlement=plan, auction_id=e.auction_id, method=e.method
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
        return plan_settlement(
            lot,
            member=member,
            amount=amount,
            defaulter_collateral=self.collateral.get(lot.defaulter, 0),
            method=method,
        )

    def _settled_event(
        self, plan: SettlementPlan, auction_id: str, method: str, by: str, now: datetime | None
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
        )


def _opt_cents(value: int | None) -> str | None:
    return None if value is None else cents_text(value)
