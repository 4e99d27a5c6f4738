"""Priced values for the clearing and default-management engines, as plain data.

One place for the glue between the pricing library and the engines of ``matching`` that both
the server (``server/default/valuation.py``, per request) and the offline default runner
(``clients/default_replay.py``) call, so that online and offline record the same values:
the market with its conventions and curve id, the book of booked positions, margin scenarios,
each member's performance bond requirement, position NPVs, the conversion of defaulted
positions into standard swaps (RCV, b*, DV01, hedge), the at-market forward hedges of a lot
and a reserve set in basis points of DV01.

Inputs and outputs are plain values: mappings in the pricing request format or in the
``to_dict`` form of the engines' value types (``SwapTerms``, ``ConvertedPosition``, ``Lot``),
decimal strings for money, rates and factors, integers for cents and notionals. The engines
validate what they receive (``ConvertedPosition.from_dict``, ``SwapTerms.from_dict``).
Refusals are ``PricingInputError`` naming the field relative to the caller's input; the
caller adds its prefix and maps it to its own error type.

Several currencies and indices: :class:`PricedMarkets` holds one market per (currency,
index) and FX rates into the clearing currency; each position is priced off its own market
(a position whose market is missing is refused, naming both), and margin is added up in the
clearing currency (each market's requirement rounded to cents in its currency, converted at
the FX rate and rounded half-even to cents; no offset between currencies).

This module must never import ``matching``, ``server`` or ``clients``, never decide a
clearing or auction rule (the engines do), and never do I/O or read a clock.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from functools import partial
from typing import Any, TypeVar

import numpy as np

from pricing.conventions import FloatKind, SwapConvention, Tenor
from pricing.conversion import DEFAULT_STANDARD_TENORS, RcvConvention, SettledFlows, convert
from pricing.dates import from_ordinal
from pricing.errors import PricingInputError
from pricing.inputs import book_of, parse_market_input, scenario_of
from pricing.margin import DEFAULT_SCENARIOS, Scenario, performance_bond
from pricing.market import Market
from pricing.money import decimal_text, money, parse_number
from pricing.risk import BumpedMarkets, analyse
from pricing.swaps import SwapBook, layout, price

_T = TypeVar("_T")

__all__ = [
    "Booked",
    "PricedMarket",
    "converted_positions",
    "fixing_table",
    "forward_hedges",
    "fx_rate_of",
    "margin_requirements",
    "margin_scenarios",
    "market_key",
    "position_npvs",
    "priced_market",
    "rcv_convention",
    "reserve_at_bp",
    "standard_tenors",
    "swap_book",
    "swap_of",
]


@dataclass(frozen=True)
class PricedMarket:
    """A parsed and built market: curves, swap conventions, valuation and spot days, curve id."""

    market: Market
    convention: SwapConvention
    valuation: int
    valuation_day: str
    spot_day: str
    curve_id: str
    fixings: Mapping[int, float] = field(default_factory=dict)


def priced_market(raw: Any, fixings: Sequence[Any] = (), where: str = "fixings") -> PricedMarket:
    """Parse a market in the pricing request format and build its curves once; ``fixings``
    (``[{"date": "YYYY-MM-DD", "rate": "0.0525"}]``) are the index's published fixings."""
    parsed = parse_market_input(raw)
    curve_id = parsed.market.build().id
    table = fixing_table(fixings, parsed.valuation, where)
    return PricedMarket(
        market=parsed.market,
        convention=parsed.convention,
        valuation=parsed.valuation,
        valuation_day=from_ordinal(parsed.valuation).isoformat(),
        spot_day=from_ordinal(parsed.convention.spot(parsed.valuation)).isoformat(),
        curve_id=curve_id,
        fixings=table,
    )


def fixing_table(
    fixings: Sequence[Any], valuation: int, where: str = "fixings"
) -> dict[int, float]:
    """An index's published fixings (``[{"date": "YYYY-MM-DD", "rate": "0.0525"}]``), each
    before the valuation day (an ordinal), by day."""
    table: dict[int, float] = {}
    for i, row in enumerate(fixings):
        at = f"{where}[{i}]"
        if not isinstance(row, Mapping) or set(row) != {"date", "rate"}:
            raise PricingInputError(at, "a fixing is {date, rate}")
        try:
            day = date.fromisoformat(str(row["date"])).toordinal()
        except ValueError:
            raise PricingInputError(f"{at}.date", "must be an ISO date YYYY-MM-DD") from None
        if day >= valuation:
            raise PricingInputError(f"{at}.date", "a fixing must be before the valuation date")
        if day in table:
            raise PricingInputError(f"{at}.date", "a second fixing for the same date")
        table[day] = float(parse_number(str(row["rate"]), f"{at}.rate"))
    return table


# -- books ----------------------------------------------------------------------------------


def swap_of(
    position_id: str, terms: Mapping[str, Any], extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A booked swap (``SwapTerms.to_dict`` form) in the pricing request's swap format;
    ``extra`` adds pricing-only fields (``spread``, ``current_fixing``)."""
    return {
        **(extra or {}),
        "id": position_id,
        "side": str(terms["side"]).lower(),
        "notional": str(terms["notional"]),
        "fixed_rate": terms["fixed_rate"],
        "start": terms["start"],
        "maturity": terms["maturity"],
    }


def swap_book(pm: PricedMarket, swaps: Sequence[Any], field: str = "positions") -> SwapBook:
    """The swaps (pricing request format) as a book under the market's conventions; a swap
    without a stored fixing whose current floating period fixed before the valuation date
    takes the market's fixing for that date, when the market has one (IBOR legs)."""
    book = book_of(list(swaps), field, pm.valuation, pm.convention)
    if not pm.fixings or book.convention.float_kind is not FloatKind.IBOR:
        return book
    lay = layout(book)
    due = np.full(lay.schedules, np.iinfo(np.int64).max, dtype=np.int64)
    offset = 0
    for legs in lay.chunks:
        fixed = np.flatnonzero((legs.fl_fixing < pm.valuation) & (legs.fl_pay > pm.valuation))
        np.minimum.at(due, offset + legs.fl_owner[fixed], legs.fl_fixing[fixed])
        offset += legs.n
    wanted = due[lay.which]
    filled = book.fixing.copy()
    for k in np.flatnonzero(np.isnan(book.fixing) & (wanted < np.iinfo(np.int64).max)):
        rate = pm.fixings.get(int(wanted[k]))
        if rate is not None:
            filled[k] = rate
    return book.replace(fixing=filled)


# -- margin -----------------------------------------------------------------------------------


def margin_scenarios(raw: Sequence[Any] | None, field: str = "scenarios") -> tuple[Scenario, ...]:
    """Curve scenarios in the pricing request format; ``None``: the library's defaults."""
    if raw is None:
        return DEFAULT_SCENARIOS
    return tuple(scenario_of(s, f"{field}[{i}]") for i, s in enumerate(raw))


def margin_requirements(
    pm: PricedMarket,
    book: SwapBook,
    members: Sequence[str],
    collateral: Mapping[str, float],
    scenarios: Sequence[Scenario],
) -> tuple[dict[str, str], dict[str, str]]:
    """Requirement (decimal string) and worst scenario name of each member in ``collateral``.

    ``members[k]`` holds ``book``'s swap ``k``; collateral is in currency units.
    """
    bond = performance_bond(book, members, pm.market, collateral, tuple(scenarios))
    requirements = {
        name: money(bond.requirement[i])
        for i, name in enumerate(bond.members)
        if name in collateral
    }
    worst = {
        name: bond.worst_scenario[i] for i, name in enumerate(bond.members) if name in collateral
    }
    return requirements, worst


def position_npvs(pm: PricedMarket, book: SwapBook) -> list[str]:
    """NPV to the holder of each swap of ``book`` (as the conversion prices them)."""
    risk = analyse(book, BumpedMarkets.of(pm.market))
    return [money(v) for v in risk.npv]


# -- conversion ---------------------------------------------------------------------------


def rcv_convention(text: str, field: str = "rcv_convention") -> RcvConvention:
    """An RCV convention by name; empty is ``same_coupon``."""
    return RcvConvention.parse(text or RcvConvention.SAME_COUPON.value, field)


def standard_tenors(raw: Sequence[Any] | None, field: str = "standard_tenors") -> tuple[Tenor, ...]:
    """Standard tenors by name (``"10Y"``); ``None``: the library's defaults."""
    if raw is None:
        return DEFAULT_STANDARD_TENORS
    return tuple(Tenor.parse(str(t), f"{field}[{i}]") for i, t in enumerate(raw))


@dataclass(frozen=True)
class Booked:
    """A booked position to convert: its id and terms in ``SwapTerms.to_dict`` form, and
    pricing-only fields (``spread``, ``current_fixing``) when it has any."""

    position_id: str
    terms: Mapping[str, Any]
    extra: Mapping[str, Any] | None = None


def converted_positions(
    pm: PricedMarket,
    book: SwapBook,
    positions: Sequence[Booked],
    rcv: RcvConvention,
    tenors: Sequence[Tenor],
    settled_flows: SettledFlows = SettledFlows.EXCLUDE_SETTLED,
) -> list[dict[str, Any]]:
    """Each position (``book``'s swap ``k`` is ``positions[k]``) converted to its standard
    swap with RCV, b*, DV01 and hedge, in ``ConvertedPosition.to_dict`` form.

    The standard swap keeps the defaulted currency, index, side and notional; it starts at
    spot and matures at the standard tenor. The hedge notional is rounded half-even to whole
    currency units; its side is PAYER where the residual DV01 is not negative.
    """
    conv = convert(book, BumpedMarkets.of(pm.market), rcv, tenors, settled_flows=settled_flows)
    d, s = conv.defaulted, conv.standard
    out = []
    for k, p in enumerate(positions):
        hedge = Decimal(money(conv.hedge_notional[k])).to_integral_value(ROUND_HALF_EVEN)
        out.append(
            {
                "position_id": p.position_id,
                "defaulted": dict(p.terms),
                "standard": {
                    **p.terms,
                    "fixed_rate": decimal_text(conv.standard_rate[k]),
                    "start": pm.spot_day,
                    "maturity": from_ordinal(int(conv.standard_maturity[k])).isoformat(),
                },
                "standard_tenor": str(conv.standard_tenor[k]),
                "defaulted_npv": money(d.npv[k]),
                "defaulted_par_rate": decimal_text(d.par_rate[k]),
                "defaulted_svf": decimal_text(d.svf[k]),
                "standard_npv": money(s.npv[k]),
                "standard_par_rate": decimal_text(s.par_rate[k]),
                "standard_svf": decimal_text(s.svf[k]),
                "standard_dv01": money(s.dv01[k]),
                "rcv": money(conv.rcv[k]),
                "implied_bid": money(conv.implied_bid[k]),
                "hedge_notional": int(hedge),
                "hedge_side": "PAYER" if conv.hedge_side[k] > 0 else "RECEIVER",
            }
        )
    return out


def forward_hedges(pm: PricedMarket, lot: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """At-market forward swaps from each defaulted maturity to its standard maturity.

    ``lot`` is in ``Lot.to_dict`` form; the result is ``(position_id, terms)`` with terms in
    ``SwapTerms.to_dict`` form. Positions without a hedge notional or side, or whose standard
    maturity is not after the defaulted one (no forward piece), get none.
    """
    out = []
    curves = pm.market.build()
    for p in lot["positions"]:
        if int(p["hedge_notional"]) <= 0 or p["hedge_side"] is None:
            continue
        start = date.fromisoformat(p["defaulted"]["maturity"]).toordinal()
        end = date.fromisoformat(p["standard"]["maturity"]).toordinal()
        if end <= start:
            continue
        unit = SwapBook.of(pm.convention, [start], [end], [1.0], [0.0], [1.0])
        par = price(unit, pm.valuation, curves.discount, curves.projection).par_rate[0]
        terms = {
            "currency": lot["currency"],
            "index": lot["index"],
            "side": p["hedge_side"],
            "notional": str(p["hedge_notional"]),
            "fixed_rate": decimal_text(par),
            "start": p["defaulted"]["maturity"],
            "maturity": p["standard"]["maturity"],
        }
        out.append((str(p["position_id"]), terms))
    return out


# -- auction --------------------------------------------------------------------------------


def reserve_at_bp(
    implied_bid_cents: int, dv01_cents: int, reserve_bp: str, field: str = "reserve_bp"
) -> int:
    """The reserve b* - reserve_bp x |DV01| in cents, the product rounded half-even."""
    bp = parse_number(reserve_bp, field)  # strict, exact, bounded
    if bp < 0:
        raise PricingInputError(field, "must be a non-negative decimal number")
    cut = (bp * abs(dv01_cents)).to_integral_value(ROUND_HALF_EVEN)
    return implied_bid_cents - int(cut)


# -- several currencies and indices ---------------------------------------------------------


@dataclass(frozen=True)
class PricedMarkets:
    """One built market per (currency, index) and FX rates into the clearing currency."""

    clearing_currency: str
    markets: Mapping[tuple[str, str], PricedMarket]
    fx: Mapping[str, Decimal]

    @property
    def valuation_day(self) -> str:
        """The valuation date every market shares."""
        return next(iter(self.markets.values())).valuation_day

    @property
    def curve_id(self) -> str:
        """The curve ids of every market, ``CCY/INDEX=<id>`` joined by ``;`` (one market:
        its own curve id)."""
        if len(self.markets) == 1:
            return next(iter(self.markets.values())).curve_id
        return ";".join(f"{c}/{i}={pm.curve_id}" for (c, i), pm in sorted(self.markets.items()))

    def market_for(self, currency: str, index: str, field: str) -> PricedMarket:
        """The market of (currency, index); PricingInputError naming ``field`` otherwise."""
        pm = self.markets.get((currency, index))
        if pm is None:
            known = ", ".join(f"{c}/{i}" for c, i in sorted(self.markets)) or "none"
            raise PricingInputError(
                field, f"no market for {currency}/{index} (markets given: {known})"
            )
        return pm

    def fx_rate(self, currency: str, field: str) -> Decimal:
        """Units of the clearing currency per unit of ``currency``."""
        if currency == self.clearing_currency:
            return Decimal(1)
        rate = self.fx.get(currency)
        if rate is None:
            raise PricingInputError(
                field, f"no FX rate from {currency} into {self.clearing_currency}"
            )
        return rate


def priced_markets(raw: Mapping[str, Any]) -> PricedMarkets:
    """``{"clearing_currency", "markets": [{"currency", "index", "market"}], "fx_rates":
    [{"currency", "rate"}]}``: every market built once; one valuation date for all."""
    if not isinstance(raw, Mapping):
        raise PricingInputError("markets", "must be an object")
    clearing = str(raw.get("clearing_currency") or "USD")
    entries = raw.get("markets") or []
    if not isinstance(entries, Sequence) or not entries:
        raise PricingInputError("markets.markets", "give at least one market")
    markets: dict[tuple[str, str], PricedMarket] = {}
    for i, entry in enumerate(entries):
        where = f"markets.markets[{i}]"
        if not isinstance(entry, Mapping):
            raise PricingInputError(where, "must be an object")
        currency, index = market_key(entry, where)
        if (currency, index) in markets:
            raise PricingInputError(where, f"a second market for {currency}/{index}")
        try:
            markets[(currency, index)] = priced_market(entry.get("market"))
        except PricingInputError as exc:
            raise PricingInputError(f"{where}.market.{exc.field}", exc.message) from None
        if entry.get("fixings"):
            fixings = entry["fixings"]
            if not isinstance(fixings, Sequence):
                raise PricingInputError(f"{where}.fixings", "must be a list")
            markets[(currency, index)] = priced_market(
                entry.get("market"), fixings, f"{where}.fixings"
            )
    days = {pm.valuation_day for pm in markets.values()}
    if len(days) > 1:
        raise PricingInputError("markets.markets", f"one valuation date for all: {sorted(days)}")
    fx: dict[str, Decimal] = {}
    for i, row in enumerate(raw.get("fx_rates") or []):
        currency, rate = fx_rate_of(row, clearing, f"markets.fx_rates[{i}]")
        fx[currency] = rate
    return PricedMarkets(clearing, markets, fx)


def market_key(entry: Mapping[str, Any], where: str) -> tuple[str, str]:
    """The (currency, index) a market set's entry serves."""
    currency, index = str(entry.get("currency") or ""), str(entry.get("index") or "")
    if not currency or not index:
        raise PricingInputError(where, "needs a currency and an index")
    return currency, index


def fx_rate_of(row: Any, clearing: str, where: str) -> tuple[str, Decimal]:
    """One FX rate ``{currency, rate}``: units of ``clearing`` per unit of the currency."""
    if not isinstance(row, Mapping) or not row.get("currency"):
        raise PricingInputError(where, "needs a currency and a rate")
    rate = parse_number(str(row.get("rate")), f"{where}.rate")  # strict, exact, bounded
    if rate <= 0:
        raise PricingInputError(f"{where}.rate", "must be a positive decimal number")
    currency = str(row["currency"])
    if currency == clearing and rate != 1:
        raise PricingInputError(f"{where}.rate", f"{clearing} is the clearing currency: 1")
    return currency, rate


def markets_of(
    market: Mapping[str, Any] | None,
    markets: Mapping[str, Any] | None,
    kinds: Sequence[tuple[str, str]],
) -> PricedMarkets:
    """The markets of a request: ``markets`` (several), or one ``market`` serving the single
    (currency, index) of the positions concerned (``kinds``); refused when they span several."""
    if markets is not None:
        if market is not None:
            raise PricingInputError("markets", "give market or markets, not both")
        return priced_markets(markets)
    if market is None:
        raise PricingInputError("markets", "required (or market, for one currency and index)")
    try:
        pm = priced_market(dict(market))
    except PricingInputError as exc:
        raise PricingInputError(f"market.{exc.field}", exc.message) from None
    distinct = sorted(set(kinds))
    if len(distinct) > 1:
        names = ", ".join(f"{c}/{i}" for c, i in distinct)
        raise PricingInputError(
            "markets", f"the positions span {names}: give one market per currency and index"
        )
    currency, index = distinct[0] if distinct else ("USD", "USD-LIBOR-3M")
    return one_market(pm, currency, index)


def one_market(pm: PricedMarket, currency: str, index: str) -> PricedMarkets:
    """A single market serving (currency, index), in that currency (the legacy request)."""
    return PricedMarkets(currency, {(currency, index): pm}, {})


def to_clearing(pmx: PricedMarkets, amount: str, currency: str, field: str) -> Decimal:
    """A money amount in ``currency`` converted to the clearing currency, half-even cents."""
    rate = pmx.fx_rate(currency, field)
    return (Decimal(amount) * rate).quantize(Decimal("0.01"), ROUND_HALF_EVEN)


_INDEXED = re.compile(r"^(?:swaps|positions)\[(\d+)\]")


def _by_id(
    pm: PricedMarket,
    swaps: Sequence[Mapping[str, Any]],
    ks: Sequence[int],
    fn: Callable[[PricedMarket, SwapBook], _T],
) -> _T:
    """``fn`` on the book of ``swaps[k] for k in ks``; an error naming a swap by its index in
    that sub-book names it by its id instead (``positions[D-EUR-6.5y].current_fixing``)."""
    try:
        return fn(pm, swap_book(pm, [swaps[k] for k in ks]))
    except PricingInputError as exc:
        m = _INDEXED.match(exc.field)
        if m is None or int(m.group(1)) >= len(ks):
            raise
        k = ks[int(m.group(1))]
        name = f"positions[{swaps[k].get('id', k)}]"
        raise PricingInputError(name + exc.field[m.end() :], exc.message) from None


def _margin_of(
    members: Sequence[str],
    collateral: Mapping[str, float],
    scenarios: Sequence[Scenario],
    pm: PricedMarket,
    book: SwapBook,
) -> tuple[dict[str, str], dict[str, str]]:
    return margin_requirements(pm, book, members, collateral, scenarios)


def _converted_of(
    positions: Sequence[Booked],
    rcv: RcvConvention,
    tenors: Sequence[Tenor],
    settled_flows: SettledFlows,
    pm: PricedMarket,
    book: SwapBook,
) -> list[dict[str, Any]]:
    return converted_positions(pm, book, positions, rcv, tenors, settled_flows)


def grouped(
    pmx: PricedMarkets, swaps: Sequence[Mapping[str, Any]], markets: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], list[int]]:
    """Indices of ``swaps`` by their (currency, index), each checked to have a market.

    ``swaps[k]`` (pricing request format, with an ``id``) is in ``markets[k]``.
    """
    out: dict[tuple[str, str], list[int]] = {}
    for k, key in enumerate(markets):
        pmx.market_for(key[0], key[1], f"positions[{swaps[k].get('id', k)}]")
        out.setdefault(key, []).append(k)
    return out


def margin_requirements_multi(
    pmx: PricedMarkets,
    swaps: Sequence[Mapping[str, Any]],
    markets: Sequence[tuple[str, str]],
    members: Sequence[str],
    collateral: Mapping[str, float],
    scenarios: Sequence[Scenario],
) -> tuple[dict[str, str], dict[str, str]]:
    """Requirement (clearing currency) and worst scenario per member over every market."""
    total: dict[str, Decimal] = {m: Decimal(0) for m in collateral}
    worst: dict[str, tuple[Decimal, str]] = {m: (Decimal(0), "") for m in collateral}
    for (currency, index), ks in grouped(pmx, swaps, markets).items():
        pm = pmx.markets[(currency, index)]
        req, scen = _by_id(
            pm,
            swaps,
            ks,
            partial(_margin_of, [members[k] for k in ks], {m: 0.0 for m in collateral}, scenarios),
        )
        for m, amount in req.items():
            converted = to_clearing(pmx, amount, currency, f"margin of {m}")
            total[m] += converted
            if converted > worst[m][0]:
                name = scen[m] if len(pmx.markets) == 1 else f"{currency}/{index}: {scen[m]}"
                worst[m] = (converted, name)
    return {m: f"{v:.2f}" for m, v in total.items()}, {m: w[1] for m, w in worst.items()}


def position_npvs_multi(
    pmx: PricedMarkets,
    swaps: Sequence[Mapping[str, Any]],
    markets: Sequence[tuple[str, str]],
) -> list[str]:
    """NPV to the holder of each swap, in its own currency, off its own market."""
    out = [""] * len(swaps)
    for key, ks in grouped(pmx, swaps, markets).items():
        pm = pmx.markets[key]
        npvs = _by_id(pm, swaps, ks, position_npvs)
        for k, v in zip(ks, npvs, strict=True):
            out[k] = v
    return out


def converted_positions_multi(
    pmx: PricedMarkets,
    positions: Sequence[Booked],
    rcv: RcvConvention,
    tenors: Sequence[Tenor],
    settled_flows: SettledFlows = SettledFlows.EXCLUDE_SETTLED,
) -> list[dict[str, Any]]:
    """Each position converted off its own market (aligned with ``positions``)."""
    swaps = [swap_of(p.position_id, p.terms, p.extra) for p in positions]
    markets = [(str(p.terms["currency"]), str(p.terms["index"])) for p in positions]
    out: list[dict[str, Any]] = [{} for _ in positions]
    for key, ks in grouped(pmx, swaps, markets).items():
        pm = pmx.markets[key]
        rows = _by_id(
            pm,
            swaps,
            ks,
            partial(_converted_of, [positions[k] for k in ks], rcv, tenors, settled_flows),
        )
        for k, row in zip(ks, rows, strict=True):
            out[k] = row
    return out


def settled_flows(text: str, field: str = "settled_flows") -> SettledFlows:
    """A settled-flows convention by name; empty is ``exclude_settled``."""
    return SettledFlows.parse(text, field)
