"""Every invalid field of a pricing input at once, each found by the pricing library's parser.

The pricing library parses an input in order and stops at its first error (a curve is read
against the market's conventions, a swap against the valuation date). A client with a bad
valuation date, two bad quotes and a swap with a bad notional *and* a bad rate would fix them
one round trip at a time. So each field of a market definition (valuation date, each
convention, each curve's interpolation, conventions and quotes), of a curve quote, a swap, a
margin scenario, a fixing, an FX rate, a member id and a collateral amount is parsed again
**on its own**: copied (with the fields its rule reads) onto an input known to be valid,
parsed by **the same library function** that parses the request (``parse_market_input``,
``quote_of``, ``book_of``, ``scenario_of``, ``parse_margin_request``, ``fixing_table``,
``fx_rate_of``, ``market_key``), and counted when that function names that field. A field
whose rule reads another field that is itself refused is not judged (it is counted once).

The inputs are the request's plain-data form (the JSON format of ``examples/pricing``, which
``server/pricing_service.market_in`` and friends produce); every path is the request's own
(``curve.quotes[3].rate``, ``markets.markets[1].market.valuation_date``, ``swaps[7].notional``).
Rules that tie several fields together (a fixing twice for one date, one valuation date for
every market, a curve that does not bootstrap) are left to the parse of the whole request,
which names the first.

This module must never decide a rule of its own (every check is a call to the library), and
it never prices anything: it parses, which is cheap, but callers still run it in a worker
when the input may be large.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from matching.errors import FieldViolation
from pricing.clearing import fixing_table, fx_rate_of, market_key
from pricing.conventions import SwapConvention
from pricing.dates import parse_date
from pricing.errors import PricingInputError
from pricing.inputs import (
    book_of,
    conventions_of,
    parse_margin_request,
    parse_market_input,
    quote_of,
    scenario_of,
)

__all__ = [
    "collateral_violations",
    "date_violations",
    "market_set_violations",
    "market_violations",
    "member_violations",
    "quote_violations",
    "scenario_violations",
    "swap_violations",
]

# -- inputs known to be valid, which one field at a time is copied onto --------------------

_CALENDAR = "NewYork"
_QUOTES: Mapping[str, Mapping[str, str]] = {
    "deposit": {"instrument": "deposit", "tenor": "3M", "rate": "0.05"},
    "swap": {"instrument": "swap", "tenor": "2Y", "rate": "0.05"},
    "fra": {"instrument": "fra", "start": "3M", "end": "6M", "rate": "0.05"},
}
_CURVE: Mapping[str, Any] = {"quotes": [dict(_QUOTES["deposit"])]}
_MARKET: Mapping[str, Any] = {
    "valuation_date": "2007-12-12",
    "conventions": {"calendar": _CALENDAR},
    "curve": _CURVE,
}
_SWAP: Mapping[str, str] = {
    "side": "payer",
    "notional": "1000000",
    "fixed_rate": "0.05",
    "tenor": "5Y",
}
_SCENARIO: Mapping[str, str] = {"name": "check", "short_bp": "0", "long_bp": "0"}
_FIXING: Mapping[str, str] = {"date": "1901-01-02", "rate": "0.05"}
#: Swap fields whose rule reads the market's valuation date and conventions.
_DATED = ("start", "forward_start", "maturity", "tenor")
#: A swap field -> the other swap fields its rule reads.
_SWAP_READS: Mapping[str, tuple[str, ...]] = {
    "maturity": ("start", "forward_start"),
    "tenor": ("start", "forward_start"),
}


def _under(field: str, unit: str) -> bool:
    """Whether ``field`` is ``unit`` or a part of it."""
    return field == unit or field.startswith((f"{unit}.", f"{unit}["))


def _probe(
    unit: str,
    parse: Callable[..., object],
    *args: Any,
    renamed: tuple[str, str] | None = None,
) -> list[FieldViolation]:
    """The violation ``parse(*args)`` finds in ``unit``, if it names that unit (its path
    first ``renamed``: the probe's own index replaced by the request's)."""
    try:
        parse(*args)
    except PricingInputError as exc:
        field = exc.field.replace(*renamed, 1) if renamed else exc.field
        if _under(field, unit):
            return [FieldViolation(field, exc.message)]
    return []


def _prefixed(prefix: str, found: list[FieldViolation]) -> list[FieldViolation]:
    return [FieldViolation(f"{prefix}{v.field}", v.description) for v in found]


# -- a market definition --------------------------------------------------------------------


def _in_market(key: str, value: Any, unit: str) -> list[FieldViolation]:
    """``value`` as the valid market's ``key``, parsed: what it says of ``unit``."""
    return _probe(unit, parse_market_input, {**_MARKET, key: value})


def _conventions_probes(
    value: Any, unit: str, put: Callable[[Any], list[FieldViolation]]
) -> list[FieldViolation]:
    """Each convention of ``value`` on its own (beside a valid calendar), and the calendar's
    absence where ``put({})`` says it is required."""
    if not isinstance(value, Mapping):
        return put(value)
    found: list[FieldViolation] = []
    if "calendar" not in value:
        found.extend(v for v in put({}) if _under(v.field, f"{unit}.calendar"))
    for key, one in value.items():
        probe = {key: one} if key == "calendar" else {key: one, "calendar": _CALENDAR}
        found.extend(v for v in put(probe) if _under(v.field, f"{unit}.{key}"))
    return found


def quote_violations(quote: Any, field: str) -> list[FieldViolation]:
    """Every bad field of one curve quote (the instrument's own fields read the instrument)."""
    if not isinstance(quote, Mapping):
        return _probe(field, quote_of, quote, field)
    instrument = quote.get("instrument")
    kind = instrument.lower() if isinstance(instrument, str) else ""
    template = _QUOTES.get(kind, _QUOTES["deposit"])
    found = _probe(field, quote_of, {**template, "instrument": instrument}, field)
    known = not found and kind in _QUOTES
    for key, value in quote.items():
        if key == "instrument" or (key != "rate" and not known):
            continue
        found.extend(_probe(f"{field}.{key}", quote_of, {**template, key: value}, field))
    return found


def _curve_violations(name: str, curve: Any) -> list[FieldViolation]:
    """Every bad field of the market's curve ``name`` (``curve`` or ``discount_curve``)."""
    if not isinstance(curve, Mapping):
        return _in_market(name, curve, name)
    found: list[FieldViolation] = []
    for key, value in curve.items():
        if key == "quotes" and isinstance(value, list) and value:
            for i, quote in enumerate(value):
                found.extend(quote_violations(quote, f"{name}.quotes[{i}]"))
        elif key == "conventions":
            found.extend(
                _conventions_probes(
                    value,
                    f"{name}.conventions",
                    lambda v: _in_market(name, {**_CURVE, "conventions": v}, name),
                )
            )
        else:
            found.extend(_in_market(name, {**_CURVE, key: value}, f"{name}.{key}"))
    return found


def market_violations(market: Any, prefix: str = "") -> list[FieldViolation]:
    """Every bad field of a market definition (plain data), each path led by ``prefix``."""
    if not isinstance(market, Mapping):
        return _prefixed(prefix, _probe("", parse_market_input, market))
    found: list[FieldViolation] = []
    for key in sorted(_MARKET.keys() | market.keys(), key=_MARKET_ORDER.index):
        if key not in market:  # a required part missing: the probe without it says so
            probe = {k: v for k, v in _MARKET.items() if k != key}
            found.extend(_probe(key, parse_market_input, probe))
        elif key == "conventions":
            found.extend(
                _conventions_probes(
                    market[key], key, lambda v: _in_market("conventions", v, "conventions")
                )
            )
        elif key in ("curve", "discount_curve"):
            found.extend(_curve_violations(key, market[key]))
        else:
            found.extend(_in_market(key, market[key], key))
    return _prefixed(prefix, found)


_MARKET_ORDER = ("valuation_date", "conventions", "curve", "discount_curve")


def _parsed_market(market: Any) -> tuple[int, SwapConvention] | None:
    """The valuation day and conventions a swap is read against, if they parse."""
    if not isinstance(market, Mapping):
        return None
    try:
        day = parse_date(market.get("valuation_date"), "valuation_date").toordinal()  # type: ignore[arg-type]
        return day, conventions_of(market.get("conventions"), "conventions")
    except PricingInputError:
        return None


# -- a market set (the clearing service's several currencies and indices) ----------------------


def market_set_violations(raw: Any) -> list[FieldViolation]:
    """Every bad field of a MarketSet (``pricing.clearing.priced_markets``' format)."""
    if not isinstance(raw, Mapping):
        return []
    found: list[FieldViolation] = []
    clearing = str(raw.get("clearing_currency") or "USD")
    for i, entry in enumerate(raw.get("markets") or []):
        where = f"markets.markets[{i}]"
        if not isinstance(entry, Mapping):
            continue  # the whole parse names it
        found.extend(_probe(where, market_key, entry, where))
        market = entry.get("market")
        found.extend(market_violations(market, f"{where}.market."))
        parsed = _parsed_market(market)
        valuation = (parsed or _VALID_PARSED)[0]
        for j, row in enumerate(entry.get("fixings") or []):
            if not isinstance(row, Mapping):
                continue  # the whole parse names it
            at = f"{where}.fixings"
            for key in row:
                if parsed is None and key == "date":
                    continue  # read against the valuation date, which is itself refused
                found.extend(
                    _probe(
                        f"{at}[{j}].{key}",
                        fixing_table,
                        [{**_FIXING, key: row[key]}],
                        valuation,
                        at,
                        renamed=(f"{at}[0]", f"{at}[{j}]"),
                    )
                )
    for i, row in enumerate(raw.get("fx_rates") or []):
        where = f"markets.fx_rates[{i}]"
        found.extend(_probe(where, fx_rate_of, row, clearing, where))
    return found


# -- swaps, scenarios, members, collateral, dates ---------------------------------------------


def swap_violations(swaps: Sequence[Mapping[str, Any]], market: Any) -> list[FieldViolation]:
    """Every bad field of every swap (``swaps[i]``), each read against the market's valuation
    date and conventions (the fields that read them are not judged when those do not parse)."""
    parsed = _parsed_market(market)
    valuation, convention = parsed or _VALID_PARSED
    found: list[FieldViolation] = []
    for i, swap in enumerate(swaps):
        for key, value in swap.items():
            if key == "member_id" or (parsed is None and key in _DATED):
                continue
            probe: dict[str, Any] = dict(_SWAP)
            if key == "maturity":
                del probe["tenor"]
            probe.update({k: swap[k] for k in _SWAP_READS.get(key, ()) if k in swap})
            probe[key] = value
            found.extend(
                _probe(
                    f"swaps[{i}].{key}",
                    book_of,
                    [probe],
                    "swaps",
                    valuation,
                    convention,
                    renamed=("swaps[0]", f"swaps[{i}]"),
                )
            )
    return found


def member_violations(swaps: Sequence[Mapping[str, Any]]) -> list[FieldViolation]:
    """Each swap of a performance-bond request without its member (``parse_margin_request``)."""
    found: list[FieldViolation] = []
    for i, swap in enumerate(swaps):
        probe = {**_MARKET, "swaps": [{**_SWAP, "member_id": swap.get("member_id", "")}]}
        found.extend(
            _probe(
                f"swaps[{i}].member_id",
                parse_margin_request,
                probe,
                renamed=("swaps[0]", f"swaps[{i}]"),
            )
        )
    return found


def collateral_violations(collateral: Mapping[str, Any]) -> list[FieldViolation]:
    """Every bad collateral amount of a performance-bond request (``parse_margin_request``)."""
    swaps = [{**_SWAP, "member_id": "check"}]
    found: list[FieldViolation] = []
    for member, amount in collateral.items():
        probe = {**_MARKET, "swaps": swaps, "collateral": {member: amount}}
        found.extend(_probe(f"collateral[{member}]", parse_margin_request, probe))
    return found


def scenario_violations(scenarios: Sequence[Any], field: str = "scenarios") -> list[FieldViolation]:
    """Every bad field of every margin scenario (``scenario_of``); a scenario whose fields
    are each valid but not together (the years) is named as a whole."""
    found: list[FieldViolation] = []
    for i, scenario in enumerate(scenarios):
        at = f"{field}[{i}]"
        before = len(found)
        if isinstance(scenario, Mapping):
            for key, value in scenario.items():
                found.extend(_probe(f"{at}.{key}", scenario_of, {**_SCENARIO, key: value}, at))
        if len(found) == before:
            found.extend(_probe(at, scenario_of, scenario, at))
    return found


def date_violations(dates: Sequence[str], field: str = "dates") -> list[FieldViolation]:
    """Every bad date of a list (``parse_date``)."""
    found: list[FieldViolation] = []
    for i, text in enumerate(dates):
        found.extend(_probe(f"{field}[{i}]", parse_date, text, f"{field}[{i}]"))
    return found


_VALID_PARSED: tuple[int, SwapConvention] = (
    parse_date(_MARKET["valuation_date"], "valuation_date").toordinal(),
    conventions_of(_MARKET["conventions"], "conventions"),
)
