"""The events of a default auction: the facts the journal keeps and replay rebuilds from.

Each event is a frozen dataclass of JSON-native fields: cash as two-decimal strings, times
ISO-8601 with a zone. ``seq`` numbers the events of one auction from 1 without gaps. The
award and assignment events record the random ``seed`` the server drew, so a replay makes
the same draw. ``to_dict``/``event_from_dict`` (``matching.eventsourcing``) are the only
(de)serialisation; no I/O here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from matching import eventsourcing


@dataclass(frozen=True, slots=True, kw_only=True)
class Event(eventsourcing.Event):
    """Common header of every default auction event: the stream it belongs to."""

    auction_id: str


FAMILY: eventsourcing.EventFamily[Event] = eventsourcing.EventFamily("default auction")
_register = FAMILY.register


def event_from_dict(data: Mapping[str, Any]) -> Event:
    """Rebuild an event from its dict form; unknown types and fields are refused."""
    return FAMILY.from_dict(data)


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class AuctionCreated(Event):
    """An operator created the auction of one lot, with who may bid and the rules."""

    type: ClassVar[str] = "DefaultAuctionCreated"
    lot: dict[str, Any]
    eligible: list[str]
    market_makers: list[str]
    mandatory: list[str]
    params: dict[str, Any]
    schedule: dict[str, str | None]
    created_by: str


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class WindowOpened(Event):
    """The sealed-bid window opened."""

    type: ClassVar[str] = "DefaultWindowOpened"
    by: str
    # The invitation decided when the window opened (None in journals from before it was).
    eligible: list[str] | None = None
    market_makers: list[str] | None = None
    mandatory: list[str] | None = None


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class BidSubmitted(Event):
    """A member's bid (cash it pays the CCP for the lot), replacing its earlier one."""

    type: ClassVar[str] = "DefaultBidSubmitted"
    member: str
    client_order_id: str
    amount: str


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class BidWithdrawn(Event):
    """A member withdrew its bid before the close."""

    type: ClassVar[str] = "DefaultBidWithdrawn"
    member: str
    client_order_id: str


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class WindowClosed(Event):
    """The window closed; bids are frozen and may now be read."""

    type: ClassVar[str] = "DefaultWindowClosed"
    by: str


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class LotAwarded(Event):
    """The highest valid bid won (recomputed and checked on replay)."""

    type: ClassVar[str] = "DefaultLotAwarded"
    by: str
    seed: int
    winner: str
    amount: str
    tie_break: str
    tied: list[str]
    grades: list[dict[str, Any]]
    excluded: list[str] = dataclasses.field(default_factory=list)


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class LotAssigned(Event):
    """No valid bid: the lot went to a market maker drawn with ``seed``, at b*."""

    type: ClassVar[str] = "DefaultLotAssigned"
    by: str
    seed: int
    assignee: str
    amount: str
    pool: list[str]
    grades: list[dict[str, Any]]
    excluded: list[str] = dataclasses.field(default_factory=list)
    pool_kind: str = "market_makers"


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class AuctionSettled(Event):
    """The clearing house settled the award; ``settlement_id`` names its settlement."""

    type: ClassVar[str] = "DefaultAuctionSettled"
    by: str
    settlement_id: str


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class AuctionCancelled(Event):
    """An operator cancelled the auction before an award (the lot can be re-auctioned)."""

    type: ClassVar[str] = "DefaultAuctionCancelled"
    by: str
    reason: str


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class BidsDisclosed(Event):
    """An operator read the sealed bids before the close: allowed, but always on the record."""

    type: ClassVar[str] = "DefaultBidsDisclosed"
    by: str
    reason: str


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class AuctionFailed(Event):
    """No valid bid and nobody to draw from (recomputed and checked on replay)."""

    type: ClassVar[str] = "DefaultAuctionFailed"
    by: str
    seed: int
    excluded: list[str]
    grades: list[dict[str, Any]]


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class LotAssignedByOperator(Event):
    """An operator assigned the closed or failed auction's lot to ``assignee`` at b*."""

    type: ClassVar[str] = "DefaultLotAssignedByOperator"
    by: str
    assignee: str
    amount: str
    reason: str
