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
never binary floats. Unknown fields are refused. This module reads a file and parses; it
decides no auction rule (the engine does, and its refusals are reported against the entry).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
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
class Scenario:
    """A parsed scenario: validated parameters, the panel, and the entries in file order."""

    params: AuctionParams
    panel: tuple[str, ...]
    markets: tuple[MarketEntry, ...]
    requests: tuple[RequestEntry, ...]
    orders: tuple[OrderEntry, ...]

    def where(self, kind: str, index: int) -> str:
        """How an entry is named in messages: ``initial_markets[3] (Barclays)``."""
        entries: dict[
            str, tuple[MarketEntry, ...] | tuple[RequestEntry, ...] | tuple[OrderEntry, ...]
        ] = {
            "initial_markets": self.markets,
            "physical_settlement_requests": self.requests,
            "limit_orders": self.orders,
        }
        return f"{kind}[{index}] ({entries[kind][index].dealer})"


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
    "panel",
    "description",
}
_TOP_FIELDS = {
    "auction",
    "initial_markets",
    "physical_settlement_requests",
    "limit_orders",
    "description",
}


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


def parse_scenario(text: str, *, source: str = "scenario") -> Scenario:
    """Parse scenario JSON; every refusal names the entry and the rule it breaks."""
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
        )
    except InvalidInput as exc:
        raise ScenarioError(exc.field, exc.description) from None

    markets = tuple(
        MarketEntry(i, _text(e, "dealer", w), _number(e, "bid", w), _number(e, "offer", w))
        for i, e, w in _entries(obj, "initial_markets", {"dealer", "bid", "offer"})
    )
    requests = tuple(
        RequestEntry(
            i,
            _text(e, "dealer", w),
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
        )
    )
    orders = tuple(
        OrderEntry(
            i,
            _text(e, "dealer", w),
            _text(e, "side", w),
            _number(e, "price", w),
            _number(e, "size", w),
            _text(e, "customer", w, default=None),
        )
        for i, e, w in _entries(
            obj, "limit_orders", {"dealer", "side", "price", "size", "customer"}
        )
    )
    named = {m.dealer for m in markets} | {r.dealer for r in requests} | {o.dealer for o in orders}
    panel_raw = auction.get("panel")
    if panel_raw is None:
        panel = tuple(sorted(named))
    else:
        if not isinstance(panel_raw, list) or not all(isinstance(p, str) for p in panel_raw):
            raise ScenarioError("auction.panel", "must be a list of dealer names")
        panel = tuple(panel_raw)
    return Scenario(params, panel, markets, requests, orders)


def describe(exc: DomainError) -> str:
    """One line for an engine refusal: the field (if any) and the rule."""
    if isinstance(exc, InvalidInput):
        return f"{exc.field}: {exc.description}"
    return exc.message


def _entries(
    obj: Mapping[str, Any], kind: str, allowed: set[str]
) -> list[tuple[int, dict[str, Any], str]]:
    raw = obj.get(kind, [])
    if not isinstance(raw, list):
        raise ScenarioError(kind, "must be a list")
    out = []
    for i, entry in enumerate(raw):
        where = f"{kind}[{i}]"
        if isinstance(entry, dict) and isinstance(entry.get("dealer"), str):
            where = f"{where} ({entry['dealer']})"
        required = allowed & {"dealer", "bid", "offer", "side", "size", "price"}
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
