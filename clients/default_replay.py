"""Offline default run: a whole default from a scenario file, through the pure engines.

The runner is the piece that may import both ``pricing`` and ``matching`` (the server will
do the same per request): it computes every priced value with the pricing library
(performance bond requirements, NPVs, the conversion to standard swaps with RCV, b*, DV01
and the hedge) and passes them into :class:`~matching.clearing.state.ClearingHouse` and
:class:`~matching.default.auction.DefaultAuction` as decimal strings, one command at a time
on a synthetic clock, exactly as a server would. Engine and pricing refusals are reported
against the scenario entry that caused them. No network, no server, no wall clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from functools import partial
from typing import Any

import numpy as np

from clients.default_scenario import PositionEntry, Scenario
from clients.scenario import ScenarioError, describe
from matching.clearing import events as cev
from matching.clearing.eligibility import group_positions
from matching.clearing.model import Side, SwapTerms
from matching.clearing.state import ClearingHouse, Decision, MemberSpec
from matching.default import events as aev
from matching.default.auction import AuctionParams, DefaultAuction, Schedule
from matching.default.auction import Decision as AuctionDecision
from matching.default.cash import cents_text
from matching.default.lot import ConvertedPosition, Lot
from matching.errors import DomainError
from pricing.conventions import SwapConvention, Tenor
from pricing.conversion import DEFAULT_STANDARD_TENORS, Conversion, RcvConvention, convert
from pricing.dates import from_ordinal
from pricing.errors import PricingInputError
from pricing.inputs import book_of, conventions_of, parse_market
from pricing.margin import DEFAULT_SCENARIOS, performance_bond
from pricing.margin import Scenario as MarginScenario
from pricing.market import Market
from pricing.money import decimal_text, money
from pricing.risk import BumpedMarkets
from pricing.swaps import SwapBook, price

OPERATOR = "scenario-operator"
MARGIN_RUN = "margin-1"


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


def _subset(book: SwapBook, idx: Sequence[int]) -> SwapBook:
    sel = np.asarray(idx, dtype=np.int64)
    return SwapBook(
        convention=book.convention,
        start=book.start[sel],
        maturity=book.maturity[sel],
        notional=book.notional[sel],
        fixed_rate=book.fixed_rate[sel],
        side=book.side[sel],
        spread=book.spread[sel],
        fixing=book.fixing[sel],
        ids=tuple(book.ids[i] for i in idx),
    )


def run_default(scenario: Scenario, seeds: Mapping[str, int] | None = None) -> DefaultReplay:
    """Play the scenario to settlement; ScenarioError names the entry that was refused.

    ``seeds`` overrides the scenario's seed per auction id (a live server draws its own:
    replaying with the seeds it recorded reproduces its outcome).
    """
    market_raw = scenario.market
    market: Market = _pricing("market", lambda: parse_market(market_raw))
    convention: SwapConvention = _pricing(
        "market", lambda: conventions_of(market_raw.get("conventions"), "conventions")
    )
    valuation = market.valuation
    valuation_day = from_ordinal(valuation).isoformat()
    book: SwapBook = _pricing(
        "",
        lambda: book_of([p.swap for p in scenario.positions], "positions", valuation, convention),
    )
    curve_id = _pricing("market", lambda: market.build().id)
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
    scenarios = (
        DEFAULT_SCENARIOS
        if scenario.margin_scenarios is None
        else tuple(
            _pricing("margin", partial(_margin_scenario, s, f"scenarios[{i}]"))
            for i, s in enumerate(scenario.margin_scenarios)
        )
    )
    collateral = {m.member: float(Decimal(m.collateral)) for m in scenario.members}
    bond = _pricing(
        "margin",
        lambda: performance_bond(
            book, [p.member for p in scenario.positions], market, collateral, scenarios
        ),
    )
    requirements = {
        name: money(bond.requirement[i])
        for i, name in enumerate(bond.members)
        if name in collateral
    }
    worst = dict(zip(bond.members, bond.worst_scenario, strict=True))
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
    notes: list[str] = []
    short = house.short_members(MARGIN_RUN)
    if scenario.default_basis == "operator":
        defaulters = [scenario.default_member or ""]
    elif scenario.default_member is not None:
        defaulters = [scenario.default_member]
    else:
        defaulters = short
        if not short:
            raise ScenarioError("default", "no member falls short in the margin run")
    for extra in sorted(set(short) - set(defaulters)):
        notes.append(f"{extra} also falls short in {MARGIN_RUN} but was not declared in default")
    index_of = {p.position_id: i for i, p in enumerate(scenario.positions)}
    conversions: dict[str, Conversion] = {}
    rcv: RcvConvention = _pricing(
        "conversion", partial(RcvConvention.parse, scenario.rcv_convention, "rcv_convention")
    )
    tenors: tuple[Tenor, ...] = DEFAULT_STANDARD_TENORS
    if scenario.standard_tenors is not None:
        tenors = tuple(
            _pricing("conversion", partial(Tenor.parse, str(t), f"standard_tenors[{i}]"))
            for i, t in enumerate(scenario.standard_tenors)
        )
    markets = BumpedMarkets.of(market)
    held_by: dict[str, list[PositionEntry]] = {}
    for member in defaulters:
        held_by[member] = [p for p in scenario.positions if p.member == member]
        sub = (
            _subset(book, [index_of[p.position_id] for p in held_by[member]])
            if held_by[member]
            else None
        )
        if sub is not None:
            conversions[member] = _pricing(
                "conversion",
                partial(convert, sub, markets, rcv, tenors),
            )
        values = {
            p.position_id: money(conversions[member].defaulted.npv[k])
            for k, p in enumerate(held_by[member])
            if member in conversions
        }
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
    spot = from_ordinal(convention.spot(valuation)).isoformat()
    lots: list[Lot] = []
    for member in defaulters:
        if member not in conversions:
            notes.append(f"{member} holds no position: nothing to convert")
            continue
        conv = conversions[member]
        converted = {
            p.position_id: _converted(p, conv, k, spot) for k, p in enumerate(held_by[member])
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
                hedges = _hedges(house.lot(lot_id).lot, convention, market, valuation)
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


def _converted(p: PositionEntry, conv: Conversion, k: int, spot: str) -> ConvertedPosition:
    d, s = conv.defaulted, conv.standard
    standard = SwapTerms.build(
        currency=p.terms.currency,
        index=p.terms.index,
        side=p.terms.side,
        notional=p.terms.notional,
        fixed_rate=decimal_text(conv.standard_rate[k]),
        start=spot,
        maturity=from_ordinal(int(conv.standard_maturity[k])).isoformat(),
        field=f"conversion of {p.position_id}",
    )
    hedge = Decimal(money(conv.hedge_notional[k])).to_integral_value(ROUND_HALF_EVEN)
    return ConvertedPosition.build(
        position_id=p.position_id,
        defaulted=p.terms,
        standard=standard,
        standard_tenor=str(conv.standard_tenor[k]),
        defaulted_npv=money(d.npv[k]),
        defaulted_par_rate=decimal_text(d.par_rate[k]),
        defaulted_svf=decimal_text(d.svf[k]),
        standard_npv=money(s.npv[k]),
        standard_par_rate=decimal_text(s.par_rate[k]),
        standard_svf=decimal_text(s.svf[k]),
        standard_dv01=money(s.dv01[k]),
        rcv=money(conv.rcv[k]),
        implied_bid=money(conv.implied_bid[k]),
        hedge_notional=int(hedge),
        hedge_side=Side.PAYER if conv.hedge_side[k] > 0 else Side.RECEIVER,
    )


def _hedges(
    lot: Lot, convention: SwapConvention, market: Market, valuation: int
) -> list[SwapTerms]:
    """At-market forward swaps from each defaulted maturity to the standard maturity."""
    out = []
    curves = market.build()
    for p in lot.positions:
        if p.hedge_notional <= 0 or p.hedge_side is None:
            continue
        start = datetime.fromisoformat(p.defaulted.maturity).date().toordinal()
        end = datetime.fromisoformat(p.standard.maturity).date().toordinal()
        if end <= start:  # no forward piece: nothing the hedge module can price here
            continue
        unit = SwapBook.of(convention, [start], [end], [1.0], [0.0], [1.0])
        par = price(unit, valuation, curves.discount, curves.projection).par_rate[0]
        out.append(
            SwapTerms.build(
                currency=lot.currency,
                index=lot.index,
                side=p.hedge_side,
                notional=p.hedge_notional,
                fixed_rate=decimal_text(par),
                start=p.defaulted.maturity,
                maturity=p.standard.maturity,
                field=f"hedge of {p.position_id}",
            )
        )
    return out


def _reserve(scenario: Scenario, lot: Lot) -> str | None:
    """The reserve in cents: fixed, or b* - reserve_bp x |DV01| (rounded half-even)."""
    if scenario.reserve is not None:
        return scenario.reserve
    if scenario.reserve_bp is None:
        return None
    cut = (Decimal(scenario.reserve_bp) * abs(lot.dv01)).to_integral_value(ROUND_HALF_EVEN)
    return cents_text(lot.implied_bid - int(cut))


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


def _margin_scenario(raw: Any, where: str) -> MarginScenario:
    """A margin scenario in the pricing request format (``name``, ``short_bp``, ``long_bp``,
    optional ``short_years``/``long_years``)."""
    if not isinstance(raw, dict):
        raise PricingInputError(where, "expected a JSON object")
    allowed = {"name", "short_bp", "long_bp", "short_years", "long_years"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise PricingInputError(f"{where}.{unknown[0]}", "unknown field")
    for key in ("name", "short_bp", "long_bp"):
        if key not in raw:
            raise PricingInputError(f"{where}.{key}", "is required")
    name = raw["name"]
    if not isinstance(name, str):
        raise PricingInputError(f"{where}.name", "expected a string")
    return MarginScenario(
        name,
        _float(raw["short_bp"], f"{where}.short_bp"),
        _float(raw["long_bp"], f"{where}.long_bp"),
        _float(raw.get("short_years", 2), f"{where}.short_years"),
        _float(raw.get("long_years", 30), f"{where}.long_years"),
    )


def _float(value: Any, where: str) -> float:
    # Curve shifts are pricing inputs (basis points), not money: a float is right here.
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        raise PricingInputError(where, f"expected a number, got {value!r}")
    try:
        return float(Decimal(str(value)))
    except ArithmeticError:
        raise PricingInputError(where, f"expected a number, got {value!r}") from None
