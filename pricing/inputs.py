"""Pricing requests as plain data (parsed JSON) turned into domain values, strictly.

The CLI and any other front end hand over the decoded JSON object; this module checks every
field (unknown fields are refused, each error names its JSON path) and returns a ``Request``.
Numbers may be JSON numbers or decimal strings. It must never open files or read a clock.
The format is documented with examples in ``examples/pricing/README.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from pricing.bootstrap import CurveSpec, Quote
from pricing.calendars import BusinessDay, Calendar, explicit_calendar, named_calendar
from pricing.conventions import FloatKind, SwapConvention, Tenor, usd_sofr_ois
from pricing.conversion import DEFAULT_STANDARD_TENORS, RcvConvention
from pricing.dates import parse_date
from pricing.daycount import DayCount
from pricing.errors import PricingInputError
from pricing.interpolation import Interpolation
from pricing.margin import DEFAULT_SCENARIOS, Scenario
from pricing.market import Market
from pricing.money import parse_number
from pricing.swaps import PAYER, RECEIVER, SwapBook

CONVENTION_KEYS = (
    "calendar business_day end_of_month spot_lag fixed_frequency fixed_day_count float_index"
    " float_frequency float_day_count fixing_days"
)
SWAP_KEYS = "id side notional fixed_rate start forward_start maturity tenor spread current_fixing"


class _Obj:
    """A JSON object being read: every key must be consumed, or it is refused."""

    def __init__(self, data: Any, path: str, keys: str) -> None:
        if not isinstance(data, dict):
            raise PricingInputError(path or "request", "expected a JSON object")
        self.data: dict[str, Any] = data
        self.path = path
        self.seen: set[str] = set()
        # Unknown fields are refused first: a typo should not surface as "x is required".
        extra = sorted(set(data) - set(keys.split()))
        if extra:
            raise PricingInputError(self.at(extra[0]), "unknown field")

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def get(self, key: str, default: Any = None) -> Any:
        self.seen.add(key)
        return self.data.get(key, default)

    def need(self, key: str) -> Any:
        self.seen.add(key)
        if key not in self.data or self.data[key] is None:
            raise PricingInputError(self.at(key), "is required")
        return self.data[key]

    def done(self) -> None:
        extra = sorted(set(self.data) - self.seen)
        if extra:
            raise PricingInputError(self.at(extra[0]), "unknown field")


#: Significant digits a binary float holds exactly for every decimal (C's DBL_DIG): the
#: pricing computes in floats, so a number with more would be rounded without a word.
MAX_FLOAT_DIGITS = 15


def number(value: Any, field: str) -> float:
    """A JSON number, decimal string or ``Decimal`` (JSON read with ``parse_float=Decimal``)
    as a float; refused if it has more than :data:`MAX_FLOAT_DIGITS` significant digits."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise PricingInputError(field, f"expected a number, got {value!r}")
    # Floats only come from Python callers (JSON is read as Decimal); the rest: strict, exact.
    if isinstance(value, float):
        result = value
    else:
        exact = parse_number(value, field)
        digits = exact.normalize().as_tuple().digits if exact else ()
        if len(digits) > MAX_FLOAT_DIGITS:
            raise PricingInputError(
                field,
                f"at most {MAX_FLOAT_DIGITS} significant digits: the pricing computes in binary"
                " floating point, which would round this number",
            )
        result = float(exact)
    if not np.isfinite(result):
        raise PricingInputError(field, "must be finite")
    return result


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise PricingInputError(field, f"expected a string, got {value!r}")
    return value


def _int(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PricingInputError(field, f"expected an integer, got {value!r}")
    return value


def _bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise PricingInputError(field, f"expected true or false, got {value!r}")
    return value


def calendar_of(value: Any, field: str) -> Calendar:
    """ "NewYork+London", ["NewYork", "London"], or {"holidays": [...], "name": ...}."""
    if isinstance(value, str | list):
        names = (
            value
            if isinstance(value, str)
            else "+".join(_text(v, f"{field}[{i}]") for i, v in enumerate(value))
        )
        try:
            return named_calendar(names)
        except PricingInputError as exc:
            raise PricingInputError(field, exc.message) from None
    obj = _Obj(value, field, "holidays name")
    days = obj.need("holidays")
    if not isinstance(days, list):
        raise PricingInputError(obj.at("holidays"), "expected a list of dates")
    name = _text(obj.get("name", "explicit"), obj.at("name"))
    obj.done()
    return explicit_calendar(
        [
            parse_date(_text(d, f"{field}.holidays[{i}]"), f"{field}.holidays[{i}]")
            for i, d in enumerate(days)
        ],
        name,
    )


def _months(value: Any, field: str) -> int:
    tenor = Tenor.parse(_text(value, field), field)
    if not tenor.months:
        raise PricingInputError(field, "a payment frequency must be whole months")
    return tenor.months


def conventions_of(value: Any, field: str, base: SwapConvention | None = None) -> SwapConvention:
    """A ``SwapConvention``; missing fields come from ``base`` (or the LIBOR 3M defaults)."""
    obj = _Obj(value, field, CONVENTION_KEYS)
    cal_value = obj.get("calendar")
    if cal_value is None and base is None:
        raise PricingInputError(obj.at("calendar"), "is required")
    calendar = (
        base.calendar if cal_value is None and base else calendar_of(cal_value, obj.at("calendar"))
    )
    d = base or SwapConvention(calendar=calendar)
    kind_text = obj.get("float_index")
    kind = (
        d.float_kind
        if kind_text is None
        else FloatKind.parse(_text(kind_text, obj.at("float_index")), obj.at("float_index"))
    )
    if kind is not d.float_kind and base is None:
        d = usd_sofr_ois(calendar) if kind is FloatKind.OIS else SwapConvention(calendar=calendar)

    def opt(key: str, parse: Any, default: Any) -> Any:
        raw = obj.get(key)
        return default if raw is None else parse(raw, obj.at(key))

    try:
        conv = SwapConvention(
            calendar=calendar,
            business_day=opt(
                "business_day", lambda v, f: BusinessDay.parse(_text(v, f), f), d.business_day
            ),
            end_of_month=opt("end_of_month", _bool, d.end_of_month),
            spot_lag=opt("spot_lag", _int, d.spot_lag),
            fixed_months=opt("fixed_frequency", _months, d.fixed_months),
            fixed_day_count=opt(
                "fixed_day_count", lambda v, f: DayCount.parse(_text(v, f), f), d.fixed_day_count
            ),
            float_kind=kind,
            float_months=opt("float_frequency", _months, d.float_months),
            float_day_count=opt(
                "float_day_count", lambda v, f: DayCount.parse(_text(v, f), f), d.float_day_count
            ),
            fixing_days=opt("fixing_days", _int, d.fixing_days),
        )
    except PricingInputError as exc:
        named = exc.field if exc.field.startswith(f"{field}.") else obj.at(exc.field)
        raise PricingInputError(named, exc.message) from None
    obj.done()
    return conv


def quote_of(value: Any, field: str) -> Quote:
    """One curve quote."""
    obj = _Obj(value, field, "instrument rate tenor start end")
    instrument = _text(obj.need("instrument"), obj.at("instrument")).lower()
    if instrument not in ("deposit", "fra", "swap"):
        raise PricingInputError(
            obj.at("instrument"), f"unknown instrument {instrument!r} (deposit, fra, swap)"
        )
    rate = number(obj.need("rate"), obj.at("rate"))
    if instrument == "fra":
        start = Tenor.parse(_text(obj.need("start"), obj.at("start")), obj.at("start"))
        end = Tenor.parse(_text(obj.need("end"), obj.at("end")), obj.at("end"))
        obj.done()
        try:
            return Quote("fra", rate, start=start, end=end)
        except PricingInputError as exc:
            raise PricingInputError(obj.at(exc.field), exc.message) from None
    tenor = Tenor.parse(_text(obj.need("tenor"), obj.at("tenor")), obj.at("tenor"))
    obj.done()
    return Quote(instrument, rate, tenor=tenor)


def curve_of(value: Any, field: str, valuation: int, convention: SwapConvention) -> CurveSpec:
    """A curve recipe: optional own conventions, interpolation and quotes."""
    obj = _Obj(value, field, "conventions interpolation quotes")
    conv_value = obj.get("conventions")
    if conv_value is not None:
        convention = conventions_of(
            conv_value,
            obj.at("conventions"),
            None if "calendar" in conv_value else _ois_base(convention, conv_value),
        )
    method = obj.get("interpolation")
    interpolation = (
        Interpolation.LOG_LINEAR_DISCOUNT
        if method is None
        else Interpolation.parse(_text(method, obj.at("interpolation")), obj.at("interpolation"))
    )
    quotes_value = obj.need("quotes")
    if not isinstance(quotes_value, list) or not quotes_value:
        raise PricingInputError(obj.at("quotes"), "expected a non-empty list")
    quotes = tuple(quote_of(q, f"{obj.at('quotes')}[{i}]") for i, q in enumerate(quotes_value))
    obj.done()
    spec = CurveSpec(valuation, convention, quotes, interpolation)
    return spec


def _ois_base(convention: SwapConvention, conv_value: Any) -> SwapConvention:
    kind = conv_value.get("float_index") if isinstance(conv_value, dict) else None
    if kind is not None and str(kind).lower() == "ois":
        return usd_sofr_ois(convention.calendar)
    return convention


@dataclass(frozen=True)
class Request:
    """A parsed pricing request."""

    valuation: int
    market: Market
    book: SwapBook
    rcv_convention: RcvConvention = RcvConvention.SAME_COUPON
    standard_tenors: tuple[Tenor, ...] = DEFAULT_STANDARD_TENORS


@dataclass(frozen=True)
class MarginRequest:
    """A parsed performance-bond request."""

    valuation: int
    market: Market
    book: SwapBook
    members: tuple[str, ...]
    collateral: dict[str, float]
    scenarios: tuple[Scenario, ...]


MARKET_KEYS = "valuation_date conventions curve discount_curve"


def _market(obj: _Obj) -> tuple[int, SwapConvention, Market]:
    valuation = parse_date(
        _text(obj.need("valuation_date"), "valuation_date"), "valuation_date"
    ).toordinal()
    convention = conventions_of(obj.need("conventions"), "conventions")
    projection = curve_of(obj.need("curve"), "curve", valuation, convention)
    disc_value = obj.get("discount_curve")
    discount = None
    if disc_value is not None:
        if isinstance(disc_value, dict) and "conventions" not in disc_value:
            disc_value = {**disc_value, "conventions": {"float_index": "ois"}}
        discount = curve_of(disc_value, "discount_curve", valuation, convention)
    return valuation, convention, Market(projection, discount)


@dataclass(frozen=True)
class MarketInput:
    """A parsed market definition: valuation day, the swap conventions and the curves."""

    valuation: int
    convention: SwapConvention
    market: Market


def parse_market_input(data: Any) -> MarketInput:
    """The market with its conventions (the ones the request's swaps are booked under)."""
    obj = _Obj(data, "", MARKET_KEYS)
    valuation, convention, market = _market(obj)
    obj.done()
    return MarketInput(valuation, convention, market)


def parse_market(data: Any) -> Market:
    """Just the market: valuation date, conventions, curve and optional discount curve."""
    return parse_market_input(data).market


def parse_request(data: Any, convert: bool = False) -> Request:
    """Parse a whole request (``convert`` allows the conversion fields)."""
    keys = MARKET_KEYS + " swaps" + (" rcv_convention standard_tenors" if convert else "")
    obj = _Obj(data, "", keys)
    valuation, convention, market = _market(obj)
    book = book_of(obj.need("swaps"), "swaps", valuation, convention)
    rcv = RcvConvention.SAME_COUPON
    tenors = DEFAULT_STANDARD_TENORS
    if convert:
        raw = obj.get("rcv_convention")
        if raw is not None:
            rcv = RcvConvention.parse(_text(raw, "rcv_convention"), "rcv_convention")
        raw_tenors = obj.get("standard_tenors")
        if raw_tenors is not None:
            if not isinstance(raw_tenors, list) or not raw_tenors:
                raise PricingInputError("standard_tenors", "expected a non-empty list of tenors")
            tenors = tuple(
                Tenor.parse(_text(t, f"standard_tenors[{i}]"), f"standard_tenors[{i}]")
                for i, t in enumerate(raw_tenors)
            )
    obj.done()
    return Request(valuation, market, book, rcv, tenors)


def parse_margin_request(data: Any) -> MarginRequest:
    """Positions with ``member_id``, ``collateral`` by member, optional ``scenarios``."""
    obj = _Obj(data, "", MARKET_KEYS + " swaps collateral scenarios")
    valuation, convention, market = _market(obj)
    swaps = obj.need("swaps")
    if not isinstance(swaps, list) or not swaps:
        raise PricingInputError("swaps", "expected a non-empty list of swaps")
    members = []
    for i, raw in enumerate(swaps):
        if not isinstance(raw, dict):
            raise PricingInputError(f"swaps[{i}]", "expected a JSON object")
        member = raw.get("member_id")
        if not isinstance(member, str) or not member:
            raise PricingInputError(f"swaps[{i}].member_id", "is required")
        members.append(member)
    book = book_of(
        [{k: v for k, v in s.items() if k != "member_id"} for s in swaps],
        "swaps",
        valuation,
        convention,
    )
    raw_collateral = obj.get("collateral", {})
    if not isinstance(raw_collateral, dict):
        raise PricingInputError("collateral", "expected an object of member id to amount")
    collateral = {str(k): number(v, f"collateral[{k}]") for k, v in raw_collateral.items()}
    for name, amount in collateral.items():
        if amount < 0:
            raise PricingInputError(f"collateral[{name}]", "must not be negative")
    raw_scenarios = obj.get("scenarios")
    scenarios = DEFAULT_SCENARIOS
    if raw_scenarios is not None:
        if not isinstance(raw_scenarios, list) or not raw_scenarios:
            raise PricingInputError("scenarios", "expected a non-empty list")
        scenarios = tuple(scenario_of(v, f"scenarios[{i}]") for i, v in enumerate(raw_scenarios))
    obj.done()
    return MarginRequest(valuation, market, book, tuple(members), collateral, scenarios)


def scenario_of(value: Any, field: str) -> Scenario:
    """One margin scenario ``{name, short_bp, long_bp[, short_years, long_years]}``; years
    default to 2 and 30. An empty name counts as missing (an unset wire string)."""
    obj = _Obj(value, field, "name short_bp long_bp short_years long_years")
    name = _text(obj.need("name"), obj.at("name"))
    if not name:
        raise PricingInputError(obj.at("name"), "is required")
    short_bp = number(obj.need("short_bp"), obj.at("short_bp"))
    long_bp = number(obj.need("long_bp"), obj.at("long_bp"))
    short_years = obj.get("short_years")
    long_years = obj.get("long_years")
    obj.done()
    try:
        return Scenario(
            name,
            short_bp,
            long_bp,
            2.0 if short_years is None else number(short_years, obj.at("short_years")),
            30.0 if long_years is None else number(long_years, obj.at("long_years")),
        )
    except PricingInputError as exc:
        raise PricingInputError(field, exc.message) from None


def book_of(value: Any, field: str, valuation: int, convention: SwapConvention) -> SwapBook:
    """The swaps of a request."""
    if not isinstance(value, list) or not value:
        raise PricingInputError(field, "expected a non-empty list of swaps")
    spot = convention.spot(valuation)
    ids: list[str] = []
    cols: dict[str, list[float]] = {
        k: [] for k in ("start", "maturity", "notional", "rate", "side", "spread", "fixing")
    }
    for i, raw in enumerate(value):
        obj = _Obj(raw, f"{field}[{i}]", SWAP_KEYS)
        ids.append(_text(obj.get("id", str(i + 1)), obj.at("id")))
        side_text = _text(obj.need("side"), obj.at("side")).lower()
        if side_text not in ("payer", "receiver"):
            raise PricingInputError(
                obj.at("side"), f"expected payer or receiver, got {side_text!r}"
            )
        start_value = obj.get("start")
        fwd_value = obj.get("forward_start")
        if start_value is not None and fwd_value is not None:
            raise PricingInputError(
                obj.at("forward_start"), "give start or forward_start, not both"
            )
        if start_value is not None:
            start = parse_date(_text(start_value, obj.at("start")), obj.at("start")).toordinal()
        elif fwd_value is not None:
            tenor = Tenor.parse(_text(fwd_value, obj.at("forward_start")), obj.at("forward_start"))
            start = int(convention.add_tenor(np.array([spot]), tenor)[0])
        else:
            start = spot
        mat_value = obj.get("maturity")
        tenor_value = obj.get("tenor")
        if (mat_value is None) == (tenor_value is None):
            raise PricingInputError(obj.at("maturity"), "give exactly one of maturity or tenor")
        if mat_value is not None:
            maturity = parse_date(
                _text(mat_value, obj.at("maturity")), obj.at("maturity")
            ).toordinal()
        else:
            tenor = Tenor.parse(_text(tenor_value, obj.at("tenor")), obj.at("tenor"))
            maturity = int(convention.add_tenor(np.array([start]), tenor)[0])
        if maturity <= start:
            raise PricingInputError(obj.at("maturity"), "must be after the start date")
        notional = number(obj.need("notional"), obj.at("notional"))
        if notional < 0:
            raise PricingInputError(obj.at("notional"), "must not be negative")
        cols["start"].append(start)
        cols["maturity"].append(maturity)
        cols["notional"].append(notional)
        cols["rate"].append(number(obj.need("fixed_rate"), obj.at("fixed_rate")))
        cols["side"].append(PAYER if side_text == "payer" else RECEIVER)
        spread = obj.get("spread")
        cols["spread"].append(0.0 if spread is None else number(spread, obj.at("spread")))
        fixing = obj.get("current_fixing")
        cols["fixing"].append(
            np.nan if fixing is None else number(fixing, obj.at("current_fixing"))
        )
        obj.done()
    return SwapBook.of(
        convention,
        [int(x) for x in cols["start"]],
        [int(x) for x in cols["maturity"]],
        cols["notional"],
        cols["rate"],
        cols["side"],
        cols["spread"],
        cols["fixing"],
        ids,
    )
