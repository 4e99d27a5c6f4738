"""Default scenario files (``closeout default run``): parse and check them strictly.

A scenario is a whole default as one JSON document (format and examples in
``examples/default/README.md``): the market in the pricing library's request format,
members with their role, mandatory flag and collateral, their cleared swap positions,
margin scenarios, the default decision, conversion and auction parameters, and the bids.
JSON numbers are read as exact decimals (never binary floats); unknown fields are refused;
every refusal names the entry (``positions[1] (p-2)``) and the rule. This module reads one
file and parses; it decides no clearing or auction rule (the engines do).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from clients.scenario import ScenarioError, decode_json, json_object, read_text
from matching.clearing.model import Role, SwapTerms, parse_enum
from matching.errors import InvalidInput

TOP_FIELDS = {
    "description",
    "house",
    "market",
    "members",
    "positions",
    "margin",
    "default",
    "conversion",
    "auction",
    "bids",
    "markets",
    "waterfall",
    "process",
}
MEMBER_FIELDS = {"id", "role", "mandatory", "collateral", "default_fund"}
POSITION_FIELDS = {
    "id",
    "member",
    "currency",
    "index",
    "side",
    "notional",
    "fixed_rate",
    "start",
    "maturity",
    "spread",
    "current_fixing",
}
DEFAULT_FIELDS = {"basis", "member", "reason"}
CONVERSION_FIELDS = {
    "rcv_convention",
    "standard_tenors",
    "group_by",
    "hedge",
    "settled_flows",
    "max_lot_dv01",
}
WATERFALL_FIELDS = {"ccp_tranche", "assessment_multiple"}
#: The actions of a ``process`` list and their fields (``do`` names the action).
ACTIONS: dict[str, tuple[set[str], set[str]]] = {
    "admit": (MEMBER_FIELDS | {"do"}, {"do", "id", "role"}),
    "default": ({"do", "member", "reason"}, {"do", "member", "reason"}),
    "convert": ({"do", "member", "positions", "group_by", "max_lot_dv01"}, {"do", "member"}),
    "window": ({"do", "lots", "bids", "cancel", "assign"}, {"do", "lots"}),
    "withdraw": ({"do", "lot", "reason"}, {"do", "lot", "reason"}),
}
AUCTION_FIELDS = {"reserve", "reserve_bp", "grading_threshold", "seed", "window_seconds"}
BID_FIELDS = {"lot", "member", "amount", "withdraw", "at", "id"}
GROUPINGS = ("position", "currency_index", "dv01")


#: The id of the one margin run a scenario makes.
MARGIN_RUN = "margin-1"


def window_opens(valuation_day: str, k: int, window_seconds: int) -> datetime:
    """When a scenario's ``k``-th bid window (from 0) opens on its synthetic clock: 10:00
    UTC on the valuation date, then an hour after each window's close. The offline runner
    opens its windows then, and the online runner paces a test server's clock to the same
    instants, so bid times agree."""
    base = datetime.combine(date.fromisoformat(valuation_day), time(10), tzinfo=UTC)
    return base + timedelta(seconds=k * (window_seconds + 3600))


@dataclass(frozen=True, slots=True)
class MemberEntry:
    """One member as written."""

    index: int
    member: str
    role: Role
    mandatory: bool
    collateral: str
    default_fund: str = "0"


@dataclass(frozen=True, slots=True)
class PositionEntry:
    """One cleared position: booked terms, plus the raw swap for the pricing library."""

    index: int
    position_id: str
    member: str
    terms: SwapTerms
    swap: dict[str, Any]


@dataclass(frozen=True, slots=True)
class BidEntry:
    """One bid (or withdrawal) as written; ``at`` is seconds after the window opened."""

    index: int
    lot: str | None
    member: str
    amount: str | None
    withdraw: bool
    at: int | None
    client_order_id: str


@dataclass(frozen=True, slots=True)
class Action:
    """One step of a ``process`` list (``lots`` None: every lot still to place)."""

    index: int
    do: str
    data: dict[str, Any]
    lots: tuple[str, ...] | None = None
    bids: tuple[BidEntry, ...] = ()

    @property
    def where(self) -> str:
        """How the action is named in messages: ``process[2] (window)``."""
        return "bids" if self.index < 0 else f"process[{self.index}] ({self.do})"


@dataclass(frozen=True, slots=True)
class Scenario:
    """A parsed default scenario."""

    house: str
    market: dict[str, Any] | None
    members: tuple[MemberEntry, ...]
    positions: tuple[PositionEntry, ...]
    margin_scenarios: list[Any] | None
    default_basis: str
    default_member: str | None
    default_reason: str | None
    rcv_convention: str
    standard_tenors: list[Any] | None
    group_by: str
    hedge: bool
    reserve: str | None
    reserve_bp: str | None
    grading_threshold: str
    seed: int
    window_seconds: int
    bids: tuple[BidEntry, ...]
    markets: dict[str, Any] | None = None
    settled_flows: str = ""
    max_lot_dv01: str | None = None
    waterfall: dict[str, str] | None = None
    process: tuple[Action, ...] = ()

    @property
    def actions(self) -> tuple[Action, ...]:
        """What happens after the automatic conversion: ``process``, or one window over
        every lot with the top-level ``bids``."""
        if self.process:
            return self.process
        return (Action(index=-1, do="window", data={}, lots=None, bids=self.bids),)

    def defaulters(self, short: Sequence[str]) -> tuple[list[str], list[str]]:
        """Who is declared in default given the margin run's short members, and notes.

        The operator's named member when the basis is ``operator``; otherwise the named member,
        or every short member. Short members not declared are noted, never defaulted silently.
        """
        if self.default_basis == "operator":
            chosen = [self.default_member or ""]
        elif self.default_member is not None:
            chosen = [self.default_member]
        else:
            chosen = list(short)
            if not chosen:
                raise ScenarioError("default", "no member falls short in the margin run")
        notes = [
            f"{extra} also falls short in {MARGIN_RUN} but was not declared in default"
            for extra in sorted(set(short) - set(chosen))
        ]
        return chosen, notes

    def where_bid(self, index: int, action: Action | None = None) -> str:
        """How a bid entry is named in messages: ``bids[3] (Barclays)``, or
        ``process[1] (window).bids[0] (Bank-A)`` for a bid of a process window."""
        if action is None or action.index < 0:
            return f"bids[{index}] ({self.bids[index].member})"
        return f"{action.where}.bids[{index}] ({action.bids[index].member})"


def load_default_scenario(path: Path) -> Scenario:
    """Read and parse a scenario file."""
    return parse_default_scenario(read_text(path), source=str(path))


def parse_default_scenario(text: str, *, source: str = "scenario") -> Scenario:
    """Parse scenario JSON; every refusal names the entry and the rule it breaks."""
    doc = decode_json(text, source)
    top = json_object(doc, source, TOP_FIELDS, {"members", "positions", "default"})
    market = top.get("market")
    markets = top.get("markets")
    if (market is None) == (markets is None):
        raise ScenarioError("market", "give market (one currency and index) or markets")
    if market is not None and not isinstance(market, dict):
        raise ScenarioError("market", "must be a JSON object (the pricing request format)")
    if markets is not None:
        markets = _markets(markets)
    members = tuple(_member(i, e) for i, e in enumerate(_list(top, "members")))
    positions = tuple(_position(i, e) for i, e in enumerate(_list(top, "positions")))
    if not positions:
        raise ScenarioError("positions", "must list at least one position")
    margin = json_object(top.get("margin", {}), "margin", {"scenarios"}, set())
    scenarios = margin.get("scenarios")
    if scenarios is not None and not isinstance(scenarios, list):
        raise ScenarioError("margin.scenarios", "must be a list")
    default = json_object(top["default"], "default", DEFAULT_FIELDS, {"basis"})
    basis = _str(default, "basis", "default").lower()
    if basis not in ("shortfall", "operator"):
        raise ScenarioError("default.basis", "must be shortfall or operator")
    reason = _opt_str(default, "reason", "default")
    member = _opt_str(default, "member", "default")
    if basis == "operator" and (member is None or not reason):
        raise ScenarioError("default", "an operator default names the member and a reason")
    if basis == "shortfall" and reason is not None:
        raise ScenarioError("default.reason", "a shortfall default states its own reason")
    conversion = json_object(top.get("conversion", {}), "conversion", CONVERSION_FIELDS, set())
    group_by = _opt_str(conversion, "group_by", "conversion") or "position"
    if group_by not in GROUPINGS:
        raise ScenarioError("conversion.group_by", f"must be one of {', '.join(GROUPINGS)}")
    tenors = conversion.get("standard_tenors")
    if tenors is not None and not isinstance(tenors, list):
        raise ScenarioError("conversion.standard_tenors", "must be a list of tenors")
    auction = json_object(top.get("auction", {}), "auction", AUCTION_FIELDS, set())
    if "reserve" in auction and "reserve_bp" in auction:
        raise ScenarioError("auction", "give reserve or reserve_bp, not both")
    bids = tuple(_bid(i, e) for i, e in enumerate(_list(top, "bids", required=False)))
    process = tuple(_action(i, e) for i, e in enumerate(_list(top, "process", required=False)))
    if process and bids:
        raise ScenarioError("bids", "with a process, bids go into its windows")
    waterfall = json_object(top.get("waterfall", {}), "waterfall", WATERFALL_FIELDS, set())
    max_dv01 = _opt_number(conversion, "max_lot_dv01", "conversion")
    if (group_by == "dv01") != (max_dv01 is not None):
        raise ScenarioError("conversion", "group_by dv01 goes with max_lot_dv01")
    return Scenario(
        house=_opt_str(top, "house", "scenario") or "closeout-ccp",
        market=market,
        members=members,
        positions=positions,
        margin_scenarios=scenarios,
        default_basis=basis,
        default_member=member,
        default_reason=reason,
        rcv_convention=_opt_str(conversion, "rcv_convention", "conversion") or "same_coupon",
        standard_tenors=tenors,
        group_by=group_by,
        hedge=_bool(conversion, "hedge", "conversion", False),
        reserve=_opt_number(auction, "reserve", "auction"),
        reserve_bp=_opt_number(auction, "reserve_bp", "auction"),
        grading_threshold=_opt_number(auction, "grading_threshold", "auction") or "0",
        seed=_int(auction, "seed", "auction", 0, minimum=0),
        window_seconds=_int(auction, "window_seconds", "auction", 3600, minimum=1),
        bids=bids,
        markets=markets,
        settled_flows=_opt_str(conversion, "settled_flows", "conversion") or "",
        max_lot_dv01=max_dv01,
        waterfall={k: str(v) for k, v in waterfall.items()} or None,
        process=process,
    )


def _markets(raw: Any) -> dict[str, Any]:
    obj = json_object(raw, "markets", {"clearing_currency", "markets", "fx_rates"}, {"markets"})
    entries = obj["markets"]
    if not isinstance(entries, list) or not entries:
        raise ScenarioError("markets.markets", "must list at least one market")
    out = []
    for i, e in enumerate(entries):
        where = f"markets.markets[{i}]"
        m = json_object(
            e, where, {"currency", "index", "market", "fixings"}, {"currency", "index", "market"}
        )
        if not isinstance(m["market"], dict):
            raise ScenarioError(f"{where}.market", "must be a JSON object")
        fixings = []
        for j, f in enumerate(_list(m, "fixings", required=False)):
            at = f"{where}.fixings[{j}]"
            row = json_object(f, at, {"date", "rate"}, {"date", "rate"})
            fixings.append({"date": _str(row, "date", at), "rate": _number(row, "rate", at)})
        entry = {
            "currency": _str(m, "currency", where),
            "index": _str(m, "index", where),
            "market": m["market"],
        }
        if fixings:
            entry["fixings"] = fixings
        out.append(entry)
    fx = []
    for i, e in enumerate(_list(obj, "fx_rates", required=False)):
        where = f"markets.fx_rates[{i}]"
        r = json_object(e, where, {"currency", "rate"}, {"currency", "rate"})
        fx.append({"currency": _str(r, "currency", where), "rate": _number(r, "rate", where)})
    return {
        "clearing_currency": _opt_str(obj, "clearing_currency", "markets") or "USD",
        "markets": out,
        "fx_rates": fx,
    }


def _action(i: int, raw: Any) -> Action:
    kind = raw.get("do") if isinstance(raw, dict) else None
    where = f"process[{i}]" + (f" ({kind})" if isinstance(kind, str) else "")
    if kind not in ACTIONS:
        raise ScenarioError(f"{where}.do", f"must be one of {', '.join(ACTIONS)}")
    allowed, required = ACTIONS[kind]
    obj = json_object(raw, where, allowed, required)
    lots: tuple[str, ...] | None = None
    bids: tuple[BidEntry, ...] = ()
    if kind == "window":
        names = obj["lots"]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names) or not names:
            raise ScenarioError(f"{where}.lots", "must list the lots of the window")
        lots = tuple(names)
        bids = tuple(_bid(j, e) for j, e in enumerate(_list(obj, "bids", required=False)))
        for name in ("cancel", "assign"):
            json_object(obj.get(name, {}), f"{where}.{name}", set(lots), set())
    if kind == "admit":
        _member(i, {k: v for k, v in obj.items() if k != "do"})
    if kind == "convert" and "positions" in obj:
        ids = obj["positions"]
        if not isinstance(ids, list) or not all(isinstance(n, str) for n in ids):
            raise ScenarioError(f"{where}.positions", "must list position ids")
    data = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in obj.items()}
    return Action(index=i, do=kind, data=data, lots=lots, bids=bids)


def _member(i: int, raw: Any) -> MemberEntry:
    where = _where("members", i, raw, "id")
    obj = json_object(raw, where, MEMBER_FIELDS, {"id", "role"})
    try:
        role = parse_enum(Role, _str(obj, "role", where), f"{where}.role")
    except InvalidInput as exc:
        raise ScenarioError(exc.field, exc.description) from None
    return MemberEntry(
        i,
        _str(obj, "id", where),
        role,
        _bool(obj, "mandatory", where, False),
        _opt_number(obj, "collateral", where) or "0",
        _opt_number(obj, "default_fund", where) or "0",
    )


def _position(i: int, raw: Any) -> PositionEntry:
    where = _where("positions", i, raw, "id")
    obj = json_object(
        raw,
        where,
        POSITION_FIELDS,
        {"id", "member", "side", "notional", "fixed_rate", "start", "maturity"},
    )
    try:
        terms = SwapTerms.build(
            currency=_opt_str(obj, "currency", where) or "USD",
            index=_opt_str(obj, "index", where) or "USD-LIBOR-3M",
            side=_str(obj, "side", where),
            notional=_number(obj, "notional", where),
            fixed_rate=_number(obj, "fixed_rate", where),
            start=_str(obj, "start", where),
            maturity=_str(obj, "maturity", where),
            field=where,
        )
    except InvalidInput as exc:
        raise ScenarioError(exc.field, exc.description) from None
    swap = {k: v for k, v in obj.items() if k not in ("member", "currency", "index")}
    swap["side"] = terms.side.value.lower()
    swap = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in swap.items()}
    return PositionEntry(i, _str(obj, "id", where), _str(obj, "member", where), terms, swap)


def _bid(i: int, raw: Any) -> BidEntry:
    where = _where("bids", i, raw, "member")
    obj = json_object(raw, where, BID_FIELDS, {"member"})
    withdraw = _bool(obj, "withdraw", where, False)
    amount = _opt_number(obj, "amount", where)
    if withdraw == (amount is not None):
        raise ScenarioError(where, "give an amount, or withdraw: true (not both)")
    at = obj.get("at")
    if at is not None and (isinstance(at, bool) or not isinstance(at, int) or at < 0):
        raise ScenarioError(f"{where}.at", "must be whole seconds after the window opened")
    return BidEntry(
        index=i,
        lot=_opt_str(obj, "lot", where),
        member=_str(obj, "member", where),
        amount=amount,
        withdraw=withdraw,
        at=at,
        client_order_id=_opt_str(obj, "id", where) or f"bid-{i}",
    )


def _where(kind: str, i: int, raw: Any, key: str) -> str:
    name = raw.get(key) if isinstance(raw, dict) else None
    return f"{kind}[{i}] ({name})" if isinstance(name, str) else f"{kind}[{i}]"


def _list(obj: Mapping[str, Any], key: str, required: bool = True) -> list[Any]:
    value = obj.get(key, None if required else [])
    if not isinstance(value, list):
        raise ScenarioError(key, "must be a list")
    return value


def _str(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise ScenarioError(f"{where}.{key}", "must be a string")
    return value


def _opt_str(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    return None if obj.get(key) is None else _str(obj, key, where)


def _number(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ScenarioError(f"{where}.{key}", 'must be a decimal string such as "12337.67"')
    return str(value)


def _opt_number(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    return None if obj.get(key) is None else _number(obj, key, where)


def _bool(obj: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
    value = obj.get(key, default)
    if not isinstance(value, bool):
        raise ScenarioError(f"{where}.{key}", "must be true or false")
    return value


def _int(obj: Mapping[str, Any], key: str, where: str, default: int, *, minimum: int) -> int:
    value = obj.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ScenarioError(f"{where}.{key}", f"must be a whole number >= {minimum}")
    return value
