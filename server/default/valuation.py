"""The pricing the server does for default management, on the clearing house's booked positions.

The values themselves come from :mod:`pricing.clearing`, the same module the offline runner
(``clients/default_replay.py``) calls, so online and offline record the same values. This
adapter hands it booked positions and lots in plain form, turns its plain results into the
engines' value types, and turns a ``PricingInputError`` into ``InvalidInput`` naming the
request field (``market.curve.quotes[3]``).

Pure and synchronous (pricing is fast for these sizes). It must never decide a clearing or
auction rule (the engines do), never compute a price itself, never journal and never read
a clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeVar

from matching.clearing.model import Position, SwapTerms
from matching.default.cash import cents_text
from matching.default.lot import ConvertedPosition, Lot
from matching.errors import InvalidInput
from pricing import clearing
from pricing.clearing import PricedMarket
from pricing.errors import PricingInputError
from pricing.margin import Scenario as MarginScenario
from pricing.swaps import SwapBook

__all__ = [
    "PricedMarket",
    "conversions",
    "hedges",
    "margin_requirements",
    "margin_scenarios",
    "position_npvs",
    "priced_market",
    "rcv_name",
    "reserve_at_bp",
]

_T = TypeVar("_T")


def _guard(prefix: str, fn: Callable[[], _T]) -> _T:
    try:
        return fn()
    except PricingInputError as exc:
        field = f"{prefix}.{exc.field}" if prefix and exc.field else (exc.field or prefix)
        raise InvalidInput(field, exc.message) from None


def priced_market(raw: Mapping[str, Any]) -> PricedMarket:
    """Parse and build the market (errors name ``market.<field>``)."""
    data = dict(raw)
    return _guard("market", lambda: clearing.priced_market(data))


def _book(pm: PricedMarket, positions: Sequence[Position]) -> SwapBook:
    swaps = [clearing.swap_of(p.position_id, p.terms.to_dict()) for p in positions]
    return _guard("", lambda: clearing.swap_book(pm, swaps))


def margin_scenarios(raw: Sequence[Mapping[str, str]]) -> tuple[MarginScenario, ...]:
    """Curve scenarios from ``{name, short_bp, long_bp, short_years, long_years}`` (decimal
    strings; absent years take 2 and 30); none given: the pricing library's defaults."""
    return _guard("", lambda: clearing.margin_scenarios(raw or None))


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
    members = [p.account for p in positions]
    return _guard("", lambda: clearing.margin_requirements(pm, book, members, held, scenarios))


def position_npvs(pm: PricedMarket, positions: Sequence[Position]) -> dict[str, str]:
    """NPV to the holder of each position (as the conversion prices the defaulted swaps)."""
    if not positions:
        return {}
    book = _book(pm, positions)
    npvs = _guard("", lambda: clearing.position_npvs(pm, book))
    return {p.position_id: npv for p, npv in zip(positions, npvs, strict=True)}


def conversions(
    pm: PricedMarket,
    positions: Sequence[Position],
    rcv_convention: str,
    standard_tenors: Sequence[str],
) -> dict[str, ConvertedPosition]:
    """Convert each position to its standard swap plus RCV, keyed by position id."""
    rcv = _guard("", lambda: clearing.rcv_convention(rcv_convention))
    tenors = _guard("", lambda: clearing.standard_tenors(standard_tenors or None))
    book = _book(pm, positions)
    booked = [clearing.Booked(p.position_id, p.terms.to_dict()) for p in positions]
    rows = _guard("", lambda: clearing.converted_positions(pm, book, booked, rcv, tenors))
    return {
        row["position_id"]: ConvertedPosition.from_dict(row, f"conversion of {row['position_id']}")
        for row in rows
    }


def rcv_name(rcv_convention: str) -> str:
    """The canonical RCV convention name (``same_coupon`` when empty)."""
    return _guard("", lambda: clearing.rcv_convention(rcv_convention)).value


def hedges(pm: PricedMarket, lot: Lot) -> list[SwapTerms]:
    """At-market forward swaps from each defaulted maturity to its standard maturity."""
    return [
        SwapTerms.from_dict(terms, f"hedge of {pid}")
        for pid, terms in clearing.forward_hedges(pm, lot.to_dict())
    ]


def reserve_at_bp(lot: Lot, reserve_bp: str, field: str = "reserve_bp") -> str:
    """The reserve b* - reserve_bp x |DV01| in cents, rounded half-even (decimal string)."""
    cents = _guard("", lambda: clearing.reserve_at_bp(lot.implied_bid, lot.dv01, reserve_bp, field))
    return cents_text(cents)
