"""CDS auction scenario files: parse and check them, naming the entry and the rule on error.

A scenario is the whole of one auction as a JSON document (see ``examples/cds/README.md``)::

    {"auction": {"id": "hertz-2020", "currency": "USD", "quotation_amount": "2000000",
                 "max_spread": "2", "cap_amount": "1", "price_increment": "0.125",
                 "min_valid_submissions": 2},
     "initial_markets": [{"dealer": "Citigroup", "bid": "26", "offer": "28"}],
     "physical_settlement_requests": [{"dealer": "Goldman Sachs", "side": "SELL",
                                       "size": "140000000", "market_position": "150000000"}],
     "limit_orders": [{"dealer": "Goldman Sachs", "side": "BID", "price": "26.375",
                       "size": "42000000"}]}

Numbers may be decimal strings or JSON numbers; JSON numbers are read as exact decimals,
never binary floats. Unknown fields are refused. Dealers are written as published ("Bank of
America / Merrill Lynch", accents, '&', '.'): each gets a safe internal id (:func:`dealer_id`)
and the auction publishes the name. The order of the entries is their order of receipt.
``reruns`` hold the submissions of further initial bidding periods (when stage 1 fails for
too few markets); ``customer_declines`` the customer requests dealers declined. This module
reads a file and parses; it decides no auction rule (the engine does, and its refusals are
reported against the entry).
"""

from __future__ import annotations

import dataclasses
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from matching.cds.params import AuctionParams
from matching.errors import DomainError, InvalidInput


class ScenarioError(ValueError):
    """A scenario that cannot run: ``where`` names the entry, ``message`` the broken rule."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


@dataclass(frozen=True, slots=True)
class MarketEntry:
    """One initial market as written in the scenario."""

    index: int
    dealer: str
    bid: str
    offer: str


@dataclass(frozen=True, slots=True)
class RequestEntry:
    """One physical settlement request as written in the scenario."""

    index: int
    dealer: str
    side: str
    size: str
    customer: str | None
    market_position: str | None
    market_position_side: str | None


@dataclass(frozen=True, slots=True)
class OrderEntry:
    """One stage-2 limit order as written in the scenario."""

    index: int
    dealer: str
    side: str
    price: str
    size: str
    customer: str | None


@dataclass(frozen=True, slots=True)
class DeclineEntry:
    """A customer request a dealer declined, as written in the scenario."""

    index: int
    dealer: str
    customer: str
    kind: str
    side: str
    size: str
    price: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class Period:
    """The submissions of one further initial bidding period (a rerun)."""

    index: int
    markets: tuple[MarketEntry, ...]
    requests: tuple[RequestEntry, ...]


@dataclass(frozen=True, slots=True)
class Scenario:
    """A parsed scenario: validated parameters, the panel (published names), the entries in
    file order, and the safe internal id of every dealer name."""

    params: AuctionParams
    panel: tuple[str, ...]
    markets: tuple[MarketEntry, ...]
    requests: tuple[RequestEntry, ...]
    orders: tuple[OrderEntry, ...]
    ids: dict[str, str] = field(default_factory=dict)
    reruns: tuple[Period, ...] = ()
    declines: tuple[DeclineEntry, ...] = ()

    def id_of(self, dealer: str) -> str:
        """The internal id of a dealer name."""
        return self.ids.get(dealer, dealer)

    def where(self, kind: str, index: int, period: int = 0) -> str:
        """How an entry is named in messages: ``initial_markets[3] (Barclays)``; entries of
        a rerun as ``reruns[0].initial_markets[3] (Barclays)``."""
        markets, requests = self.markets, self.requests
        prefix = ""
        if period:
            rerun = self.reruns[period - 1]
            markets, requests = rerun.markets, rerun.requests
            prefix = f"reruns[{rerun.index}]."
        entries: dict[
            str,
            tuple[MarketEntry, ...]
            | tuple[RequestEntry, ...]
            | tuple[OrderEntry, ...]
            | tuple[DeclineEntry, ...],
        ] = {
            "initial_markets": markets,
            "physical_settlement_requests": requests,
            "limit_orders": self.orders,
            "customer_declines": self.declines,
        }
        return f"{prefix}{kind}[{index}] ({entries[kind][index].dealer})"


_AUCTION_FIELDS = {
    "id",
    "currency",
    "quotation_amount",
    "max_spread",
    "cap_amount",
    "price_increment",
    "min_valid_submissions",
    "min_limit_order_size",
    "max_orders_per_dealer",
    "midpoint_rounding",
    "rounding_amount",
    "require_market_position",
    "calendar",
    "fallback_settlement_method",
    "max_initial_bidding_periods",
    "date",
    "panel",
    "description",
}
_TOP_FIELDS = {
    "auction",
    "initial_markets",
    "physical_settlement_requests",
    "limit_orders",
    "customer_declines",
    "reruns",
    "description",
}
#: Longest dealer name a scenario may use (the engine's limit for published names).
MAX_DEALER_NAME = 200


def dealer_id(name: str) -> str:
    """A safe internal id for a published dealer name: ASCII letters and digits joined by
    '-', lower case ("Bank of America / Merrill Lynch" -> "bank-of-america-merrill-lynch",
    "Société Générale" -> "societe-generale"); "dealer" if nothing is left."""
    ascii_text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:64].strip("-") or "dealer"


def assign_ids(names: list[str]) -> dict[str, str]:
    """Ids for names, in order, distinct ("-2", "-3" ... on a clash)."""
    ids: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        if name in ids:
            continue
        base = candidate = dealer_id(name)
        n = 1
        while candidate in taken:
            n += 1
            candidate = f"{base}-{n}"
        taken.add(candidate)
        ids[name] = candidate
    return ids


def read_text(path: Path) -> str:
    """A scenario file's text; ScenarioError naming the file if it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(str(path), f"cannot read: {exc.strerror}") from None


def decode_json(text: str, source: str) -> Any:
    """JSON with every number an exact Decimal (never a binary float)."""
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise ScenarioError(source, f"not valid JSON: {exc.msg} at line {exc.lineno}") from None


def json_object(value: Any, where: str, allowed: set[str], required: set[str]) -> dict[str, Any]:
    """``value`` as an object with only ``allowed`` keys and every ``required`` one."""
    if not isinstance(value, dict):
        raise ScenarioError(where, "must be a JSON object")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ScenarioError(where, f"unknown field(s) {', '.join(unknown)}")
    missing = sorted(required - set(value))
    if missing:
        raise ScenarioError(where, f"missing field(s) {', '.join(missing)}")
    return value


def load_scenario(path: Path) -> Scenario:
    """Read and parse a scenario file."""
    return parse_scenario(read_text(path), source=str(path))


@dataclass(frozen=True, slots=True)
class ScenarioSet:
    """Several auctions under one set of terms: one panel (published names), one set of
    currency rates; each auction a :class:`Scenario` of its own."""

    set_id: str
    terms: str
    panel: tuple[str, ...]
    currency_rates: dict[str, str]
    auctions: tuple[Scenario, ...]
    descriptions: tuple[str, ...]
    ids: dict[str, str]


def is_auction_set(text: str, source: str = "scenario") -> bool:
    """Whether a scenario file holds an auction set (an ``auction_set`` object)."""
    doc = decode_json(text, source)
    return isinstance(doc, dict) and "auction_set" in doc


def parse_auction_set(text: str, *, source: str = "scenario") -> ScenarioSet:
    """Parse an auction-set scenario::

        {"auction_set": {"id": "x-2026", "terms": "...", "panel": ["Barclays", ...],
                         "currency_rates": {"EUR": "1.08", "USD": "1"}},
         "auctions": [{"description": "Senior", "auction": {...}, "initial_markets": [...]},
                      ...]}

    Each auction is written as a lone scenario without its own panel.
    """
    doc = decode_json(text, source)
    obj = json_object(
        doc, source, {"auction_set", "auctions", "description"}, {"auction_set", "auctions"}
    )
    meta = json_object(
        obj["auction_set"],
        "auction_set",
        {"id", "terms", "panel", "currency_rates"},
        {"id", "panel"},
    )
    set_id = _text(meta, "id", "auction_set")
    terms = _text(meta, "terms", "auction_set", default="") or ""
    panel_raw = meta["panel"]
    if (
        not isinstance(panel_raw, list)
        or not panel_raw
        or not all(isinstance(p, str) for p in panel_raw)
    ):
        raise ScenarioError("auction_set.panel", "must be a non-empty list of dealer names")
    panel = tuple(_check_name(n, f"auction_set.panel[{i}]") for i, n in enumerate(panel_raw))
    rates_raw = meta.get("currency_rates", {})
    if not isinstance(rates_raw, dict):
        raise ScenarioError("auction_set.currency_rates", "must be an object of rates")
    rates = {str(k): _number(rates_raw, k, f"auction_set.currency_rates[{k}]") for k in rates_raw}
    raw = obj["auctions"]
    if not isinstance(raw, list) or not raw:
        raise ScenarioError("auctions", "must be a non-empty list of auctions")
    scenarios = []
    descriptions = []
    for i, entry in enumerate(raw):
        where = f"auctions[{i}]"
        if not isinstance(entry, dict):
            raise ScenarioError(where, "must be a JSON object")
        auction = entry.get("auction")
        if isinstance(auction, dict) and "panel" in auction:
            raise ScenarioError(
                f"{where}.auction", "panel: the set's panel applies to every auction"
            )
        try:
            one = parse_scenario(json.dumps(entry, default=str), source=where, panel=panel)
        except ScenarioError as exc:
            raise ScenarioError(f"{where}.{exc.where}", exc.message) from None
        scenarios.append(one)
        descriptions.append(str(entry.get("description") or ""))
    named: list[str] = []
    for one in scenarios:
        named += [d for d in one.ids if d not in panel and d not in named]
    ids = assign_ids([*panel, *named])
    scenarios = [dataclasses.replace(one, ids=ids) for one in scenarios]
    return ScenarioSet(set_id, terms, panel, rates, tuple(scenarios), tuple(descriptions), ids)


def parse_scenario(
    text: str, *, source: str = "scenario", panel: tuple[str, ...] | None = None
) -> Scenario:
    """Parse scenario JSON; every refusal names the entry and the rule it breaks.

    ``panel`` (for the auctions of a set) is the panel when the scenario names none.
    """
    doc = decode_json(text, source)
    obj = json_object(doc, source, _TOP_FIELDS, required={"auction", "initial_markets"})
    auction = json_object(
        obj["auction"],
        "auction",
        _AUCTION_FIELDS,
        required={"id", "quotation_amount", "max_spread"},
    )
    try:
        params = AuctionParams.build(
            auction_id=_text(auction, "id", "auction"),
            currency=_text(auction, "currency", "auction", default="USD"),
            quotation_amount=_number(auction, "quotation_amount", "auction"),
            max_spread=_number(auction, "max_spread", "auction"),
            price_increment=_number(auction, "price_increment", "auction", default="0.125"),
            cap_amount=_number(auction, "cap_amount", "auction", default=None),
            min_valid_submissions=_int(auction, "min_valid_submissions", "auction", 1),
            min_limit_order_size=_number(auction, "min_limit_order_size", "auction", default="0"),
            max_orders_per_dealer=_int(auction, "max_orders_per_dealer", "auction", 0),
            midpoint_rounding=_text(auction, "midpoint_rounding", "auction", default="HALF_UP"),
            rounding_amount=_number(auction, "rounding_amount", "auction", default=None),
            require_market_position=_bool(auction, "require_market_position", "auction"),
            calendar=_text(auction, "calendar", "auction", default=None),
            fallback_settlement_method=_text(
                auction, "fallback_settlement_method", "auction", default=None
            ),
            max_initial_bidding_periods=_int(auction, "max_initial_bidding_periods", "auction", 3),
            auction_date=_text(auction, "date", "auction", default=None),
        )
    except InvalidInput as exc:
        raise ScenarioError(exc.field.replace("auction_date", "date"), exc.description) from None

    markets, requests = _stage1_entries(obj, "")
    reruns = []
    raw_reruns = obj.get("reruns", [])
    if not isinstance(raw_reruns, list):
        raise ScenarioError("reruns", "must be a list")
    for k, rerun in enumerate(raw_reruns):
        where = f"reruns[{k}]"
        entries = json_object(
            rerun, where, {"initial_markets", "physical_settlement_requests"}, set()
        )
        rerun_markets, rerun_requests = _stage1_entries(entries, f"{where}.")
        reruns.append(Period(k, rerun_markets, rerun_requests))
    orders = tuple(
        OrderEntry(
            i,
            _dealer(e, w),
            _text(e, "side", w),
            _number(e, "price", w),
            _number(e, "size", w),
            _text(e, "customer", w, default=None),
        )
        for i, e, w in _entries(
            obj, "limit_orders", {"dealer", "side", "price", "size", "customer"}
        )
    )
    declines = tuple(
        DeclineEntry(
            i,
            _dealer(e, w),
            _text(e, "customer", w),
            _text(e, "kind", w),
            _text(e, "side", w),
            _number(e, "size", w),
            _number(e, "price", w, default=None),
            _text(e, "reason", w),
        )
        for i, e, w in _entries(
            obj,
            "customer_declines",
            {"dealer", "customer", "kind", "side", "size", "price", "reason"},
        )
    )
    named = [m.dealer for m in markets] + [r.dealer for r in requests]
    for rerun_period in reruns:
        named += [m.dealer for m in rerun_period.markets]
        named += [r.dealer for r in rerun_period.requests]
    named += [o.dealer for o in orders] + [d.dealer for d in declines]
    panel_raw = auction.get("panel", None if panel is None else list(panel))
    if panel_raw is None:
        panel = tuple(sorted(set(named)))
    else:
        if not isinstance(panel_raw, list) or not all(isinstance(p, str) for p in panel_raw):
            raise ScenarioError("auction.panel", "must be a list of dealer names")
        for i, name in enumerate(panel_raw):
            _check_name(name, f"auction.panel[{i}]")
        panel = tuple(panel_raw)
    ids = assign_ids([*panel, *sorted(set(named) - set(panel))])
    return Scenario(params, panel, markets, requests, orders, ids, tuple(reruns), declines)


def _stage1_entries(
    obj: Mapping[str, Any], prefix: str
) -> tuple[tuple[MarketEntry, ...], tuple[RequestEntry, ...]]:
    """The initial markets and settlement requests of one initial bidding period."""
    markets = tuple(
        MarketEntry(i, _dealer(e, w), _number(e, "bid", w), _number(e, "offer", w))
        for i, e, w in _entries(obj, "initial_markets", {"dealer", "bid", "offer"}, prefix)
    )
    requests = tuple(
        RequestEntry(
            i,
            _dealer(e, w),
            _text(e, "side", w),
            _number(e, "size", w),
            _text(e, "customer", w, default=None),
            _position(e, w)[0],
            _position(e, w)[1],
        )
        for i, e, w in _entries(
            obj,
            "physical_settlement_requests",
            {"dealer", "side", "size", "customer", "market_position"},
            prefix,
        )
    )
    return markets, requests


def describe(exc: DomainError) -> str:
    """One line for an engine refusal: the field (if any) and the rule."""
    if isinstance(exc, InvalidInput):
        return f"{exc.field}: {exc.description}"
    return exc.message


def _entries(
    obj: Mapping[str, Any], kind: str, allowed: set[str], prefix: str = ""
) -> list[tuple[int, dict[str, Any], str]]:
    raw = obj.get(kind, [])
    if not isinstance(raw, list):
        raise ScenarioError(f"{prefix}{kind}", "must be a list")
    out = []
    for i, entry in enumerate(raw):
        where = f"{prefix}{kind}[{i}]"
        if isinstance(entry, dict) and isinstance(entry.get("dealer"), str):
            where = f"{where} ({entry['dealer']})"
        required = allowed & {
            "dealer",
            "bid",
            "offer",
            "side",
            "size",
            "price",
            "customer" if kind == "customer_declines" else "",
            "kind",
            "reason",
        }
        out.append((i, json_object(entry, where, allowed, required), where))
    return out


def _text(obj: Mapping[str, Any], key: str, where: str, default: Any = ...) -> Any:
    value = obj.get(key, default)
    if value is ...:
        raise ScenarioError(where, f"missing field {key}")
    if value is not None and value is not default and not isinstance(value, str):
        raise ScenarioError(where, f"{key} must be a string")
    return value


def _number(obj: Mapping[str, Any], key: str, where: str, default: Any = ...) -> Any:
    value = obj.get(key, default)
    if value is ...:
        raise ScenarioError(where, f"missing field {key}")
    if value is None or value is default:
        return value
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ScenarioError(where, f'{key} must be a decimal string such as "25.375"')
    return str(value)


def _dealer(entry: Mapping[str, Any], where: str) -> str:
    name: str = _text(entry, "dealer", where)
    return _check_name(name, where)


def _check_name(name: str, where: str) -> str:
    if not name.strip() or len(name) > MAX_DEALER_NAME or not name.isprintable():
        raise ScenarioError(
            where, f"dealer must be a name of 1 to {MAX_DEALER_NAME} printable characters"
        )
    return name


def _bool(obj: Mapping[str, Any], key: str, where: str) -> bool:
    value = obj.get(key, False)
    if not isinstance(value, bool):
        raise ScenarioError(f"{where}.{key}", "must be true or false")
    return value


def _int(obj: Mapping[str, Any], key: str, where: str, default: int) -> int:
    value = obj.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScenarioError(f"{where}.{key}", "must be a whole number")
    return value


def _position(entry: Mapping[str, Any], where: str) -> tuple[str | None, str | None]:
    """``market_position``: an amount in the request's direction, or {"side", "size"}."""
    raw = entry.get("market_position")
    if raw is None:
        return None, None
    if isinstance(raw, dict):
        pos = json_object(raw, f"{where}.market_position", {"side", "size"}, {"side", "size"})
        return _number(pos, "size", where), _text(pos, "side", where)
    return _number(entry, "market_position", where), None
