"""The pricing the server does for default management, on the clearing house's booked positions.

The values themselves come from :mod:`pricing.clearing`, the same module the offline runner
(``clients/default_replay.py``) calls, so online and offline record the same values. This
adapter hands it booked positions and lots in plain form, turns its plain results into the
engines' value types, and turns a ``PricingInputError`` into ``InvalidInput`` naming the
request field (``market.curve.quotes[3]``). Every position is priced off the market of its
own currency and index (:class:`pricing.clearing.PricedMarkets`); one ``market`` alone is
the market of the positions concerned, which must then share one currency and index.

Pure and synchronous; the server runs the ``*_job`` functions in worker processes. It must
never decide a clearing or auction rule (the engines do), never compute a price itself,
never journal and never read a clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeVar

from matching.clearing.model import Position, SwapTerms
from matching.default.cash import cents_text
from matching.default.lot import ConvertedPosition, Lot
from matching.errors import InvalidInput
from matching.process.steps import LotPricing
from pricing import clearing
from pricing.clearing import PricedMarkets
from pricing.errors import PricingInputError
from pricing.margin import Scenario as MarginScenario

__all__ = [
    "Markets",
    "PricedMarkets",
    "conversion_job",
    "conversions",
    "hedges",
    "lot_pricing",
    "margin_job",
    "margin_requirements",
    "margin_scenarios",
    "markets_for",
    "npv_job",
    "position_npvs",
    "rcv_name",
    "reserve_at_bp",
    "settled_flows_name",
]

_T = TypeVar("_T")


def _guard(prefix: str, fn: Callable[[], _T]) -> _T:
    try:
        return fn()
    except PricingInputError as exc:
        field = f"{prefix}.{exc.field}" if prefix and exc.field else (exc.field or prefix)
        raise InvalidInput(field, exc.message) from None


def markets_for(
    market: Mapping[str, Any] | None,
    markets: Mapping[str, Any] | None,
    positions: Sequence[Position],
) -> PricedMarkets:
    """The markets of a request: ``markets`` (a MarketSet), or one ``market`` serving the
    (single) currency and index of ``positions``."""
    kinds = [p.terms.market for p in positions]
    return _guard("", lambda: clearing.markets_of(market, markets, kinds))


def _swaps(positions: Sequence[Position]) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    return (
        [clearing.swap_of(p.position_id, p.terms.to_dict()) for p in positions],
        [p.terms.market for p in positions],
    )


def margin_scenarios(raw: Sequence[Mapping[str, str]]) -> tuple[MarginScenario, ...]:
    """Curve scenarios from ``{name, short_bp, long_bp, short_years, long_years}`` (decimal
    strings; absent years take 2 and 30); none given: the pricing library's defaults. (A
    request's bad scenarios are all named before: ``server/request_checks.py``.)"""
    return _guard("", lambda: clearing.margin_scenarios(raw or None))


def margin_requirements(
    pmx: PricedMarkets,
    positions: Sequence[Position],
    collateral: Mapping[str, int],
    scenarios: Sequence[MarginScenario],
) -> tuple[dict[str, str], dict[str, str]]:
    """Each member's requirement in the clearing currency and its worst scenario.

    ``positions`` are the open cleared positions in booking order; ``collateral`` (cents)
    names the members. Members without positions require 0.
    """
    if not positions:
        return {m: "0.00" for m in collateral}, {m: "" for m in collateral}
    swaps, markets = _swaps(positions)
    held = {m: float(Decimal(cents) / 100) for m, cents in collateral.items()}
    members = [p.account for p in positions]
    return _guard(
        "",
        lambda: clearing.margin_requirements_multi(pmx, swaps, markets, members, held, scenarios),
    )


def position_npvs(pmx: PricedMarkets, positions: Sequence[Position]) -> dict[str, str]:
    """NPV to the holder of each position, in its currency, off its own market."""
    if not positions:
        return {}
    swaps, markets = _swaps(positions)
    npvs = _guard("", lambda: clearing.position_npvs_multi(pmx, swaps, markets))
    return {p.position_id: npv for p, npv in zip(positions, npvs, strict=True)}


def conversions(
    pmx: PricedMarkets,
    positions: Sequence[Position],
    rcv_convention: str,
    standard_tenors: Sequence[str],
    settled_flows: str = "",
) -> dict[str, ConvertedPosition]:
    """Convert each position to its standard swap plus RCV, keyed by position id."""
    rcv = _guard("", lambda: clearing.rcv_convention(rcv_convention))
    tenors = _guard("", lambda: clearing.standard_tenors(standard_tenors or None))
    flows = _guard("", lambda: clearing.settled_flows(settled_flows))
    booked = [clearing.Booked(p.position_id, p.terms.to_dict()) for p in positions]
    rows = _guard("", lambda: clearing.converted_positions_multi(pmx, booked, rcv, tenors, flows))
    return {
        row["position_id"]: ConvertedPosition.from_dict(row, f"conversion of {row['position_id']}")
        for row in rows
    }


def rcv_name(rcv_convention: str) -> str:
    """The canonical RCV convention name (``same_coupon`` when empty)."""
    return _guard("", lambda: clearing.rcv_convention(rcv_convention)).value


def settled_flows_name(settled_flows: str) -> str:
    """The canonical settled-flows convention name (``exclude_settled`` when empty)."""
    return _guard("", lambda: clearing.settled_flows(settled_flows)).value


def lot_pricing(pmx: PricedMarkets, market: tuple[str, str]) -> LotPricing:
    """A market's curve id and FX rate into the clearing currency, for its lots."""
    currency, index = market
    pm = _guard("", lambda: pmx.market_for(currency, index, "lots"))
    rate = _guard("", lambda: pmx.fx_rate(currency, "fx_rates"))
    return LotPricing(pm.curve_id, format(rate.normalize(), "f"), pmx.clearing_currency)


def hedges(pmx: PricedMarkets, converted: Mapping[str, ConvertedPosition]) -> dict[str, SwapTerms]:
    """At-market forward swaps from each defaulted maturity to its standard maturity, off
    each position's own market (positions that need none are left out)."""
    out: dict[str, SwapTerms] = {}
    for c in converted.values():
        pm = pmx.markets[c.defaulted.market]
        one = {"currency": c.defaulted.currency, "index": c.defaulted.index}
        for hid, terms in clearing.forward_hedges(pm, {**one, "positions": [c.to_dict()]}):
            out[hid] = SwapTerms.from_dict(terms, f"hedge of {hid}")
    return out


def reserve_at_bp(lot: Lot, reserve_bp: str, field: str = "reserve_bp") -> str:
    """The reserve b* - reserve_bp x |DV01| in cents, rounded half-even (decimal string)."""
    cents = _guard("", lambda: clearing.reserve_at_bp(lot.implied_bid, lot.dv01, reserve_bp, field))
    return cents_text(cents)


# -- jobs for the compute pool ---------------------------------------------------------------
# Module-level functions of plain, picklable arguments (the request's market data and a
# snapshot of the positions concerned), so that the server runs them in a worker process
# (``server/compute.py``): the pricing of a margin run, a default or a conversion never holds
# the event loop. Each builds the markets itself, from the request's data.

Markets = tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]


def margin_job(
    markets: Markets,
    positions: Sequence[Position],
    collateral: Mapping[str, int],
    scenarios: Sequence[MarginScenario],
) -> tuple[str, str, dict[str, str], dict[str, str]]:
    """A margin run's pricing: (valuation day, curve id, requirements, worst scenarios)."""
    pmx = markets_for(*markets, positions)
    requirements, worst = margin_requirements(pmx, positions, collateral, scenarios)
    return pmx.valuation_day, pmx.curve_id, requirements, worst


def npv_job(markets: Markets, positions: Sequence[Position]) -> dict[str, str]:
    """A default's pricing: each position's NPV to its holder."""
    return position_npvs(markets_for(*markets, positions), positions)


def conversion_job(
    markets: Markets,
    positions: Sequence[Position],
    rcv_convention: str,
    standard_tenors: Sequence[str],
    settled_flows: str,
    hedge: bool,
) -> tuple[
    str,
    dict[str, ConvertedPosition],
    dict[tuple[str, str], LotPricing],
    dict[str, SwapTerms] | None,
]:
    """A conversion's pricing: (valuation day, conversions by position id, each market's lot
    pricing, hedges when wanted)."""
    pmx = markets_for(*markets, positions)
    converted = conversions(pmx, positions, rcv_convention, standard_tenors, settled_flows)
    pricing = {p.terms.market: lot_pricing(pmx, p.terms.market) for p in positions}
    return pmx.valuation_day, converted, pricing, hedges(pmx, converted) if hedge else None
