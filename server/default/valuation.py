"""The pricing the server does for default management: the same calls the offline runner
(``clients/default_replay.py``) makes, on the clearing house's booked positions.

Given a market in the pricing request format (from a ``MarketDefinition``), it computes
each member's performance bond requirement, the NPVs of a defaulter's positions, the
conversion of defaulted positions into standard swaps with RCV, b*, DV01 and the hedge,
the neutralising hedge's terms and a reserve set in basis points of DV01. Every value goes
into the engines as a decimal string. A ``PricingInputError`` becomes ``InvalidInput``
naming the request field (``market.curve.quotes[3]``).

Pure and synchronous (pricing is fast for these sizes). It must never decide a clearing or
auction rule (the engines do), never journal and never read a clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, TypeVar

from matching.clearing.model import Position, Side, SwapTerms
from matching.default.cash import cents_text
from matching.default.lot import ConvertedPosition, Lot
from matching.errors import InvalidInput
from pricing.conventions import SwapConvention, Tenor
from pricing.conversion import DEFAULT_STANDARD_TENORS, Conversion, RcvConvention, convert
from pricing.dates import from_ordinal
from pricing.errors import PricingInputError
from pricing.inputs import book_of, conventions_of, number, parse_market
from pricing.margin import DEFAULT_SCENARIOS, performance_bond
from pricing.margin import Scenario as MarginScenario
from pricing.market import Market
from pricing.money import decimal_text, money
from pricing.risk import BumpedMarkets, analyse
from pricing.swaps import SwapBook, price

__all__ = [
    "PricedMarket",
    "conversions",
    "hedges",
    "margin_requirements",
    "position_npvs",
    "priced_market",
    "reserve_at_bp",
]

_T = TypeVar("_T")


def _guard(prefix: str, fn: Callable[[], _T]) -> _T:
    try:
        return fn()
    except PricingInputError as exc:
        field = f"{prefix}.{exc.field}" if prefix and exc.field else (exc.field or prefix)
        raise InvalidInput(field, exc.message) from None


@dataclass(frozen=True)
class PricedMarket:
    """A parsed market: curves, swap conventions, valuation day and the curve id."""

    market: Market
    convention: SwapConvention
    valuation: int
    valuation_day: str
    curve_id: str


def priced_market(raw: Mapping[str, Any]) -> PricedMarket:
    """Parse and build the market (errors name ``market.<field>``)."""
    data = dict(raw)
    market: Market = _guard("market", lambda: parse_market(data))
    convention: SwapConvention = _guard(
        "market", lambda: conventions_of(data.get("conventions"), "conventions")
    )
    curve_id: str = _guard("market", lambda: market.build().id)
    return PricedMarket(
        market=market,
        convention=convention,
        valuation=market.valuation,
        valuation_day=from_ordinal(market.valuation).isoformat(),
        curve_id=curve_id,
    )


def _swap(p: Position) -> dict[str, Any]:
    """A booked position in the pricing request's swap format."""
    t = p.terms
    return {
        "id": p.position_id,
        "side": t.side.value.lower(),
        "notional": str(t.notional),
        "fixed_rate": t.fixed_rate,
        "start": t.start,
        "maturity": t.maturity,
    }


def _book(pm: PricedMarket, positions: Sequence[Position]) -> SwapBook:
    book: SwapBook = _guard(
        "", lambda: book_of([_swap(p) for p in positions], "positions", pm.valuation, pm.convention)
    )
    return book


def margin_scenarios(raw: Sequence[Mapping[str, str]]) -> tuple[MarginScenario, ...]:
    """Curve scenarios from ``{name, short_bp, long_bp, short_years, long_years}`` (decimal
    strings; empty years take 2 and 30); none given: the pricing library's defaults."""
    if not raw:
        return DEFAULT_SCENARIOS
    out = []
    for i, s in enumerate(raw):
        where = f"scenarios[{i}]"
        if not s.get("name"):
            raise InvalidInput(f"{where}.name", "is required")

        def one(s: Mapping[str, str] = s, where: str = where) -> MarginScenario:
            return MarginScenario(
                s["name"],
                number(s.get("short_bp") or "", f"{where}.short_bp"),
                number(s.get("long_bp") or "", f"{where}.long_bp"),
                number(s.get("short_years") or "2", f"{where}.short_years"),
                number(s.get("long_years") or "30", f"{where}.long_years"),
            )

        out.append(_guard("", one))
    return tuple(out)


def margin_requirements(
    pm: PricedMarket,
    positions: Sequence[Position],
    collateral: Mapping[str, int],
    scenarios: Sequence[MarginScenario],
) -> tuple[dict[str, str], dict[str, str]]:
    """Each member's requirement (decimal string) and worst scenario name.

    ``positions`` are the open cleared positions in booking order; ``collateral`` (cents)
    names the members. Members without positions require 0.
    """
    if not positions:
        return {m: "0.00" for m in collateral}, {m: "" for m in collateral}
    book = _book(pm, positions)
    held = {m: float(Decimal(cents) / 100) for m, cents in collateral.items()}
    bond = _guard(
        "",
        lambda: performance_bond(
            book, [p.account for p in positions], pm.market, held, tuple(scenarios)
        ),
    )
    requirements = {
        name: money(bond.requirement[i]) for i, name in enumerate(bond.members) if name in held
    }
    worst = {name: bond.worst_scenario[i] for i, name in enumerate(bond.members) if name in held}
    return requirements, worst


def position_npvs(pm: PricedMarket, positions: Sequence[Position]) -> dict[str, str]:
    """NPV to the holder of each position (as the conversion prices the defaulted swaps)."""
    if not positions:
        return {}
    book = _book(pm, positions)
    risk = _guard("", lambda: analyse(book, BumpedMarkets.of(pm.market)))
    return {p.position_id: money(risk.npv[k]) for k, p in enumerate(positions)}


def conversions(
    pm: PricedMarket,
    positions: Sequence[Position],
    rcv_convention: str,
    standard_tenors: Sequence[str],
) -> dict[str, ConvertedPosition]:
    """Convert each position to its standard swap plus RCV, keyed by position id."""
    rcv = _guard("", lambda: RcvConvention.parse(rcv_convention or "same_coupon"))
    tenors: tuple[Tenor, ...] = DEFAULT_STANDARD_TENORS
    if standard_tenors:
        tenors = tuple(
            _guard("", lambda t=t, i=i: Tenor.parse(t, f"standard_tenors[{i}]"))  # type: ignore[misc]
            for i, t in enumerate(standard_tenors)
        )
    book = _book(pm, positions)
    conv: Conversion = _guard("", lambda: convert(book, BumpedMarkets.of(pm.market), rcv, tenors))
    spot = from_ordinal(pm.convention.spot(pm.valuation)).isoformat()
    return {p.position_id: _converted(p, conv, k, spot) for k, p in enumerate(positions)}


def rcv_name(rcv_convention: str) -> str:
    """The canonical RCV convention name (``same_coupon`` when empty)."""
    parsed: RcvConvention = _guard("", lambda: RcvConvention.parse(rcv_convention or "same_coupon"))
    return parsed.value


def _converted(p: Position, conv: Conversion, k: int, spot: str) -> ConvertedPosition:
    d, s = conv.defaulted, conv.standard
    where = f"conversion of {p.position_id}"
    standard = SwapTerms.build(
        currency=p.terms.currency,
        index=p.terms.index,
        side=p.terms.side,
        notional=p.terms.notional,
        fixed_rate=decimal_text(conv.standard_rate[k]),
        start=spot,
        maturity=from_ordinal(int(conv.standard_maturity[k])).isoformat(),
        field=where,
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
        field=where,
    )


def hedges(pm: PricedMarket, lot: Lot) -> list[SwapTerms]:
    """At-market forward swaps from each defaulted maturity to its standard maturity."""
    out = []
    curves = pm.market.build()
    for p in lot.positions:
        if p.hedge_notional <= 0 or p.hedge_side is None:
            continue
        start = datetime.fromisoformat(p.defaulted.maturity).date().toordinal()
        end = datetime.fromisoformat(p.standard.maturity).date().toordinal()
        if end <= start:  # no forward piece to hedge
            continue
        unit = SwapBook.of(pm.convention, [start], [end], [1.0], [0.0], [1.0])
        par = price(unit, pm.valuation, curves.discount, curves.projection).par_rate[0]
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


def reserve_at_bp(lot: Lot, reserve_bp: str, field: str = "reserve_bp") -> str:
    """The reserve b* - reserve_bp x |DV01| in cents, rounded half-even (decimal string)."""
    try:
        bp = Decimal(reserve_bp)
    except InvalidOperation:
        raise InvalidInput(field, f"{reserve_bp!r} is not a decimal number") from None
    if not bp.is_finite() or bp < 0:
        raise InvalidInput(field, "must be a non-negative decimal number")
    cut = (bp * abs(lot.dv01)).to_integral_value(ROUND_HALF_EVEN)
    return cents_text(lot.implied_bid - int(cut))
