"""The events of the clearing state: every change to members, positions, collateral,
margin, defaults, lots and settlements is one of these, journaled and replayable.

Frozen dataclasses of JSON-native fields; cash as two-decimal strings, notionals as whole
units, times ISO-8601 with a zone. ``seq`` numbers the events of one clearing house from 1
without gaps. ``to_dict``/``event_from_dict`` (``matching.eventsourcing``) are the only
(de)serialisation; no I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from matching import eventsourcing


@dataclass(frozen=True, slots=True, kw_only=True)
class Event(eventsourcing.Event):
    """Common header of every clearing event: the stream it belongs to."""

    house_id: str


FAMILY: eventsourcing.EventFamily[Event] = eventsourcing.EventFamily("clearing")
_register = FAMILY.register


def event_from_dict(data: Mapping[str, Any]) -> Event:
    """Rebuild an event from its dict form; unknown types and fields are refused."""
    return FAMILY.from_dict(data)


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class HouseCreated(Event):
    """The clearing state was created (the first event of its journal)."""

    type: ClassVar[str] = "HouseCreated"
    by: str


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class MemberAdmitted(Event):
    """A member joined, with its role and mandatory-bidder flag."""

    type: ClassVar[str] = "MemberAdmitted"
    by: str
    member: str
    role: str
    mandatory: bool


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class CollateralSet(Event):
    """A member's collateral (performance bond deposits) is now ``amount``."""

    type: ClassVar[str] = "CollateralSet"
    by: str
    member: str
    amount: str


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class PositionBooked(Event):
    """A cleared swap entered a member's account."""

    type: ClassVar[str] = "PositionBooked"
    by: str
    position_id: str
    member: str
    terms: dict[str, str]


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class MarginRunRecorded(Event):
    """A performance bond run: requirement, collateral and shortfall per active member."""

    type: ClassVar[str] = "MarginRunRecorded"
    by: str
    run_id: str
    valuation_date: str
    curve_id: str
    rows: list[dict[str, str]]
    worst: dict[str, str] | None = None


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class MemberDefaulted(Event):
    """A member was declared in default (basis SHORTFALL or OPERATOR), its positions listed."""

    type: ClassVar[str] = "MemberDefaulted"
    by: str
    member: str
    basis: str
    reason: str
    run_id: str | None
    shortfall: str | None
    positions: list[dict[str, str | None]]


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class LotConverted(Event):
    """Defaulted positions became a lot; who is invited (recomputed and checked on replay)."""

    type: ClassVar[str] = "LotConverted"
    by: str
    lot: dict[str, Any]
    eligible: list[str]
    market_makers: list[str]
    mandatory: list[str]


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class HedgeBooked(Event):
    """The CCP traded a neutralising hedge for a lot outside the cleared set."""

    type: ClassVar[str] = "HedgeBooked"
    by: str
    lot_id: str
    hedges: list[dict[str, Any]]


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class LotSettled(Event):
    """An award settled: instructions and ledger moves (recomputed and checked on replay)."""

    type: ClassVar[str] = "LotSettled"
    by: str
    lot_id: str
    auction_id: str
    method: str
    member: str
    amount: str
    implied_bid: str
    shortfall: str
    collateral_charge: str
    uncovered: str
    instructions: list[dict[str, Any]]
    reason: str = ""


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class DefaultFundSet(Event):
    """A member's default-fund contribution is now ``amount`` (clearing currency)."""

    type: ClassVar[str] = "DefaultFundSet"
    by: str
    member: str
    amount: str


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class LotWithdrawn(Event):
    """An operator withdrew a lot that was in no live auction; its positions are free."""

    type: ClassVar[str] = "LotWithdrawn"
    by: str
    lot_id: str
    reason: str


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class LossesAllocated(Event):
    """A default's result netted over its lots and allocated through the waterfall
    (recomputed from the state, the grades and the config, and checked, on replay)."""

    type: ClassVar[str] = "LossesAllocated"
    by: str
    defaulter: str
    config: dict[str, str]
    grades: dict[str, list[str]]
    allocation: dict[str, Any]
