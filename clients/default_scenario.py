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
}
MEMBER_FIELDS = {"id", "role", "mandatory", "collateral"}
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
CONVERSION_FIELDS = {"rcv_convention", "standard_tenors", "group_by", "hedge"}
AUCTION_FIELDS = {"reserve", "reserve_bp", "grading_threshold", "seed", "window_seconds"}
BID_FIELDS = {"lot", "member", "amount", "withdraw", "at", "id"}
GROUPINGS = ("position", "currency_index")


#: The id of the one margin run a scenario makes.
MARGIN_RUN = "margin-1"


@dataclass(frozen=True, slots=True)
class MemberEntry:
    """One member as written."""

    index: int
    member: str
    role: Role
    mandatory: bool
    collateral: str


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
class Scenario:
    """A parsed default scenario."""

    house: str
    market: dict[str, Any]
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

    def where_bid(self, index: int) -> str:
        """How a bid entry is named in messages: ``bids[3] (Barclays)``."""
        return f"bids[{index}] ({self.bids[index].member})"


def load_default_scenario(path: Path) -> Scenario:
    """Read and parse a scenario file."""
    return parse_default_scenario(read_text(path), source=str(path))


def parse_default_scenario(text: str, *, source: str = "scenario") -> Scenario:
    """Parse scenario JSON; every refusal names the entry and the rule it breaks."""
    doc = decode_json(text, source)
    top = json_object(doc, source, TOP_FIELDS, {"market", "members", "positions", "default"})
    market = top["market"]
    if not isinstance(market, dict):
        raise ScenarioError("market", "must be a JSON object (the pricing request format)")
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
    )


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
