"""Offline default run: a whole default from a scenario file, through the pure engines.

The runner is the piece that may import both ``pricing`` and ``matching`` (the server does
the same per request): every priced value (performance bond requirements, NPVs, the
conversion to standard swaps with RCV, b*, DV01 and the hedge, a reserve in bp) comes from
:mod:`pricing.clearing`, the module the server calls too, and goes into
:class:`~matching.clearing.state.ClearingHouse` and
:class:`~matching.default.auction.DefaultAuction` as decimal strings, one command at a time
on a synthetic clock, exactly as a server would. Engine and pricing refusals are reported
against the scenario entry that caused them. No network, no server, no wall clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from clients.default_scenario import MARGIN_RUN, PositionEntry, Scenario
from clients.scenario import ScenarioError, describe
from matching.clearing import events as cev
from matching.clearing.eligibility import group_positions
from matching.clearing.model import SwapTerms
from matching.clearing.state import ClearingHouse, Decision, MemberSpec
from matching.default import events as aev
from matching.default.auction import AuctionParams, DefaultAuction, Schedule
from matching.default.auction import Decision as AuctionDecision
from matching.default.cash import cents_text
from matching.default.lot import ConvertedPosition, Lot
from matching.errors import DomainError
from pricing import clearing
from pricing.clearing import PricedMarket
from pricing.errors import PricingInputError
from pricing.swaps import SwapBook

OPERATOR = "scenario-operator"


@dataclass
class DefaultReplay:
    """The outcome of an offline default run: the result dict and both journals."""

    result: dict[str, Any]
    clearing_events: list[cev.Event]
    auction_events: dict[str, list[aev.Event]]
    notes: list[str] = field(default_factory=list)


class _Clock:
    """Synthetic time: the valuation date at 09:00 UTC, one second per step."""

    def __init__(self, day: str) -> None:
        self.t = datetime.combine(datetime.fromisoformat(day).date(), time(9), tzinfo=UTC)

    def next(self, seconds: int = 1) -> datetime:
        self.t += timedelta(seconds=seconds)
        return self.t


def _pricing(where: str, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except PricingInputError as exc:
        raise ScenarioError(f"{where}.{exc.field}" if where else exc.field, exc.message) from None


def run_default(scenario: Scenario, seeds: Mapping[str, int] | None = None) -> DefaultReplay:
    """Play the scenario to settlement; ScenarioError names the entry that was refused.

    ``seeds`` overrides the scenario's seed per auction id (a live server draws its own:
    replaying with the seeds it recorded reproduces its outcome).
    """
    pm: PricedMarket = _pricing("market", partial(clearing.priced_market, scenario.market))
    book: SwapBook = _pricing(
        "", partial(clearing.swap_book, pm, [p.swap for p in scenario.positions])
    )
    valuation_day, curve_id = pm.valuation_day, pm.curve_id
    clock = _Clock(valuation_day)

    # -- the clearing state: members, collateral, positions ---------------------------------
    created = ClearingHouse.create(house_id=scenario.house, by=OPERATOR, now=clock.next())
    house = ClearingHouse.from_events(created.events)
    journal: list[cev.Event] = list(created.events)

    def step(where: str, command: Callable[[], Decision]) -> Decision:
        try:
            decision = command()
        except DomainError as exc:
            raise ScenarioError(where, describe(exc)) from None
        house.apply_all(decision.events)
        journal.extend(decision.events)
        return decision

    step(
        "members/positions",
        lambda: house.load(
            members=[
                MemberSpec(m.member, m.role, m.mandatory, m.collateral) for m in scenario.members
            ],
            positions=[(p.position_id, p.member, p.terms) for p in scenario.positions],
            by=OPERATOR,
            now=clock.next(),
        ),
    )

    # -- margin run: performance bond per member with the pricing library -------------------
    scenarios = _pricing("margin", partial(clearing.margin_scenarios, scenario.margin_scenarios))
    collateral = {m.member: float(Decimal(m.collateral)) for m in scenario.members}
    holders = [p.member for p in scenario.positions]
    requirements, worst = _pricing(
        "margin", partial(clearing.margin_requirements, pm, book, holders, collateral, scenarios)
    )
    step(
        "margin",
        lambda: house.record_margin_run(
            run_id=MARGIN_RUN,
            requirements=requirements,
            valuation_date=valuation_day,
            curve_id=curve_id,
            by=OPERATOR,
            now=clock.next(),
        ),
    )

    # -- default: on the shortfall, or the operator's decision -------------------------------
    defaulters, notes = scenario.defaulters(house.short_members(MARGIN_RUN))
    index_of = {p.position_id: i for i, p in enumerate(scenario.positions)}
    conversions: dict[str, list[dict[str, Any]]] = {}
    rcv = _pricing("conversion", partial(clearing.rcv_convention, scenario.rcv_convention))
    tenors = _pricing("conversion", partial(clearing.standard_tenors, scenario.standard_tenors))
    held_by: dict[str, list[PositionEntry]] = {}
    for member in defaulters:
        held_by[member] = [p for p in scenario.positions if p.member == member]
        if held_by[member]:
            sub = book.take([index_of[p.position_id] for p in held_by[member]])
            entries = [clearing.Booked(p.position_id, p.terms.to_dict()) for p in held_by[member]]
            conversions[member] = _pricing(
                "conversion", partial(clearing.converted_positions, pm, sub, entries, rcv, tenors)
            )
        values = {row["position_id"]: row["defaulted_npv"] for row in conversions.get(member, [])}
        step(
            "default",
            partial(
                house.declare_default,
                member=member,
                by=OPERATOR,
                now=clock.next(),
                reason=scenario.default_reason if scenario.default_basis == "operator" else None,
                values=values,
            ),
        )

    # -- conversion into lots, optional hedge ------------------------------------------------
    lots: list[Lot] = []
    for member in defaulters:
        if member not in conversions:
            notes.append(f"{member} holds no position: nothing to convert")
            continue
        converted = {
            row["position_id"]: ConvertedPosition.from_dict(
                row, f"conversion of {row['position_id']}"
            )
            for row in conversions[member]
        }
        booked = [house.positions[p.position_id] for p in held_by[member]]
        for n, ids in enumerate(group_positions(booked, by_market=scenario.group_by != "position")):
            lot_id = f"{member}-{n + 1}"
            step(
                f"conversion of {lot_id}",
                partial(
                    house.convert,
                    lot_id=lot_id,
                    member=member,
                    conversions=[converted[i] for i in ids],
                    curve_id=curve_id,
                    valuation_time=valuation_day,
                    rcv_convention=rcv.value,
                    by=OPERATOR,
                    now=clock.next(),
                ),
            )
            lots.append(house.lot(lot_id).lot)
            if scenario.hedge:
                hedges = [
                    SwapTerms.from_dict(terms, f"hedge of {pid}")
                    for pid, terms in clearing.forward_hedges(pm, house.lot(lot_id).lot.to_dict())
                ]
                if hedges:
                    step(
                        f"hedge of {lot_id}",
                        partial(
                            house.book_hedge,
                            lot_id=lot_id,
                            hedges=hedges,
                            by=OPERATOR,
                            now=clock.next(),
                        ),
                    )

    # -- the sealed-bid auctions, award and settlement ------------------------------------
    known = {lot.lot_id for lot in lots}
    for b in scenario.bids:
        target = b.lot if b.lot is not None else (lots[0].lot_id if len(lots) == 1 else None)
        if target is None:
            raise ScenarioError(scenario.where_bid(b.index), "name the lot (there are several)")
        if target not in known:
            raise ScenarioError(scenario.where_bid(b.index), f"no lot {target!r}")
    opened = clock.next(60)
    close_at = opened + timedelta(seconds=scenario.window_seconds)
    auction_journals: dict[str, list[aev.Event]] = {}
    results = []
    for lot in lots:
        seed = (seeds or {}).get(lot.lot_id, scenario.seed)
        auction, history = _auction(scenario, house, lot, opened, close_at, seed)
        auction_journals[auction.auction_id] = history
        results.append(auction.result())
        settle_at = close_at + timedelta(seconds=10 + len(results))
        outcome = auction.outcome
        assert outcome is not None
        step(
            f"settlement of {lot.lot_id}",
            partial(
                house.settle,
                lot_id=lot.lot_id,
                member=outcome.member,
                amount=cents_text(outcome.amount),
                method="ASSIGNMENT" if outcome.assigned else "AWARD",
                auction_id=lot.lot_id,
                by=OPERATOR,
                now=settle_at,
            ),
        )
        settled = auction.settle(by=OPERATOR, now=settle_at, settlement_id=lot.lot_id)
        auction.apply_all(settled.events)
        history.extend(settled.events)
        results[-1] = auction.result()

    result = {
        "house": scenario.house,
        "valuation_date": valuation_day,
        "curve_id": curve_id,
        "margin_run": {
            "run_id": MARGIN_RUN,
            "rows": [
                {**r.to_dict(), "worst_scenario": worst.get(r.member, "")}
                for r in house.margin_run(MARGIN_RUN)
            ],
        },
        "defaults": [
            {
                "member": d.member,
                "basis": d.basis,
                "reason": d.reason,
                "shortfall": None if d.shortfall is None else cents_text(d.shortfall),
                "positions": [
                    {"position_id": pid, "npv": None if npv is None else cents_text(npv)}
                    for pid, npv in d.positions
                ],
            }
            for d in house.defaults.values()
        ],
        "lots": [
            {
                **rec.lot.to_dict(),
                "eligible": list(rec.invitation.eligible),
                "market_makers": list(rec.invitation.market_makers),
                "mandatory": list(rec.invitation.mandatory),
                "hedged": rec.hedged,
            }
            for rec in house.lots.values()
        ],
        "auctions": results,
        "settlements": [
            {
                "lot_id": rec.lot.lot_id,
                "method": rec.method,
                "member": rec.settlement.member,
                "amount": cents_text(rec.settlement.amount),
                "implied_bid": cents_text(rec.settlement.implied_bid),
                "shortfall": cents_text(rec.settlement.shortfall),
                "collateral_charge": cents_text(rec.settlement.collateral_charge),
                "uncovered": cents_text(rec.settlement.uncovered),
            }
            for rec in house.lots.values()
            if rec.settlement is not None
        ],
        "instructions": [i.to_dict() for i in house.settlement_instructions()],
        "ledger": house.ledger(),
    }
    return DefaultReplay(result, journal, auction_journals, notes)


def _reserve(scenario: Scenario, lot: Lot) -> str | None:
    """The reserve in cents: fixed, or b* - reserve_bp x |DV01| (rounded half-even)."""
    if scenario.reserve is not None:
        return scenario.reserve
    if scenario.reserve_bp is None:
        return None
    cents: int = _pricing(
        "auction",
        partial(clearing.reserve_at_bp, lot.implied_bid, lot.dv01, scenario.reserve_bp),
    )
    return cents_text(cents)


def _auction(
    scenario: Scenario,
    house: ClearingHouse,
    lot: Lot,
    opened: datetime,
    close_at: datetime,
    seed: int,
) -> tuple[DefaultAuction, list[aev.Event]]:
    rec = house.lot(lot.lot_id)
    try:
        params = AuctionParams.build(
            reserve=_reserve(scenario, lot), grading_threshold=scenario.grading_threshold
        )
    except DomainError as exc:
        raise ScenarioError("auction", describe(exc)) from None
    created = _guard(
        f"auction of {lot.lot_id}",
        lambda: DefaultAuction.create(
            auction_id=lot.lot_id,
            lot=lot,
            eligible=rec.invitation.eligible,
            market_makers=rec.invitation.market_makers,
            mandatory=rec.invitation.mandatory,
            params=params,
            schedule=Schedule(close_at=close_at),
            by=OPERATOR,
            now=opened - timedelta(seconds=1),
        ),
    )
    auction = DefaultAuction.from_events(created.events)
    history: list[aev.Event] = list(created.events)

    def step(where: str, command: Callable[[], AuctionDecision]) -> None:
        decision = _guard(where, command)
        auction.apply_all(decision.events)
        history.extend(decision.events)

    step(f"opening {lot.lot_id}", lambda: auction.open(by=OPERATOR, now=opened))
    for b in scenario.bids:
        target = b.lot if b.lot is not None else lot.lot_id
        if target != lot.lot_id:
            continue
        now = opened + timedelta(seconds=b.index + 1 if b.at is None else b.at)
        where = scenario.where_bid(b.index)
        if b.withdraw:
            step(
                where,
                partial(
                    auction.withdraw_bid,
                    member=b.member,
                    client_order_id=b.client_order_id,
                    now=now,
                ),
            )
        else:
            step(
                where,
                partial(
                    auction.submit_bid,
                    member=b.member,
                    client_order_id=b.client_order_id,
                    amount=b.amount or "",
                    now=now,
                ),
            )
    step(f"closing {lot.lot_id}", lambda: auction.close(by=OPERATOR, now=close_at))
    step(
        f"award of {lot.lot_id}",
        lambda: auction.award(by=OPERATOR, now=close_at + timedelta(seconds=1), seed=seed),
    )
    return auction, history


def _guard(where: str, command: Callable[[], AuctionDecision]) -> AuctionDecision:
    try:
        return command()
    except DomainError as exc:
        raise ScenarioError(where, describe(exc)) from None
