"""The events of a CDS auction: the facts the journal keeps and replay rebuilds state from.

Each event is a frozen dataclass of JSON-native fields (str, int, None, lists and dicts of
those): prices and sizes are decimal strings exactly as accepted, times ISO-8601 UTC. ``seq``
numbers the events of one auction from 1 without gaps; it is the sequence number clients
see in acknowledgements and resume ``WatchAuction`` from.

``to_dict``/``event_from_dict`` (``matching.eventsourcing``) are the only
(de)serialisation; no I/O happens here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from matching import eventsourcing


@dataclass(frozen=True, slots=True, kw_only=True)
class Event(eventsourcing.Event):
    """Common header of every CDS auction event: the auction it belongs to."""

    auction_id: str


FAMILY: eventsourcing.EventFamily[Event] = eventsourcing.EventFamily("CDS auction")
_register = FAMILY.register


def event_from_dict(data: Mapping[str, Any]) -> Event:
    """Rebuild an event from its dict form; unknown types and fields are refused."""
    return FAMILY.from_dict(data)


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class AuctionCreated(Event):
    """An operator created the auction: its parameters, panel and window schedule."""

    type: ClassVar[str] = "AuctionCreated"
    params: dict[str, Any]
    panel: list[str]
    schedule: dict[str, str | None]
    created_by: str
    #: Published names by panel id ("Bank of America / Merrill Lynch"); absent: the id.
    dealer_names: dict[str, str] = dataclasses.field(default_factory=dict)
    #: The auction set (one set of terms) this auction belongs to; None for a lone auction.
    auction_set: dict[str, Any] | None = None


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class Stage1Opened(Event):
    """The stage-1 window opened (on schedule or by an operator)."""

    type: ClassVar[str] = "Stage1Opened"
    by: str


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class MarketSubmitted(Event):
    """A dealer's initial market, replacing any earlier one of the same dealer."""

    type: ClassVar[str] = "MarketSubmitted"
    dealer: str
    client_order_id: str
    bid: str
    offer: str


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class MarketWithdrawn(Event):
    """A dealer withdrew its initial market before the close."""

    type: ClassVar[str] = "MarketWithdrawn"
    dealer: str
    client_order_id: str


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class RequestSubmitted(Event):
    """A physical settlement request (per dealer and customer), replacing an earlier one."""

    type: ClassVar[str] = "RequestSubmitted"
    dealer: str
    client_order_id: str
    customer: str | None
    side: str
    size: str
    market_position_side: str | None
    market_position: str | None


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class RequestWithdrawn(Event):
    """A physical settlement request withdrawn before the close."""

    type: ClassVar[str] = "RequestWithdrawn"
    dealer: str
    client_order_id: str
    customer: str | None


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class Stage1Closed(Event):
    """The stage-1 window closed; the publication (recomputed and checked on replay)."""

    type: ClassVar[str] = "Stage1Closed"
    by: str
    failure: str | None
    initial_market_midpoint: str | None
    open_interest_side: str
    open_interest: str
    adjustments: list[dict[str, str]]
    #: The phase stage 1 left the auction in: FAILED, FINAL, STAGE1_CLOSED, SCHEDULED (the
    #: initial bidding period is run again) or CANCELLED (too many failed periods). Journals
    #: older than reruns leave it None.
    next_phase: str | None = None


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class Stage2Opened(Event):
    """The stage-2 window opened."""

    type: ClassVar[str] = "Stage2Opened"
    by: str


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class LimitOrderSubmitted(Event):
    """A stage-2 limit order; ``order_id`` is ``dealer/client_order_id``."""

    type: ClassVar[str] = "LimitOrderSubmitted"
    dealer: str
    client_order_id: str
    order_id: str
    side: str
    price: str
    size: str
    customer: str | None


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class LimitOrderReplaced(Event):
    """A limit order's new price and size; it takes this event's sequence for time priority."""

    type: ClassVar[str] = "LimitOrderReplaced"
    dealer: str
    client_order_id: str
    order_id: str
    price: str
    size: str


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class LimitOrderCancelled(Event):
    """A limit order withdrawn before the close."""

    type: ClassVar[str] = "LimitOrderCancelled"
    dealer: str
    client_order_id: str
    order_id: str


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class Stage2Closed(Event):
    """The stage-2 window closed and the auction is final (recomputed and checked on replay)."""

    type: ClassVar[str] = "Stage2Closed"
    by: str
    final_price: str
    matched_size: str


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerRequestDeclined(Event):
    """A dealer declined a customer's settlement request or limit order (kept on the record,
    seen only by that dealer and operators)."""

    type: ClassVar[str] = "CustomerRequestDeclined"
    dealer: str
    client_order_id: str
    customer: str
    kind: str
    side: str
    size: str
    price: str | None
    reason: str


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class AuctionCancelled(Event):
    """An operator cancelled the auction (it may be rescheduled as a new one)."""

    type: ClassVar[str] = "AuctionCancelled"
    by: str
    reason: str


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class BookDisclosed(Event):
    """An operator read a sealed book before its close: allowed, but always on the record."""

    type: ClassVar[str] = "BookDisclosed"
    by: str
    reason: str
    phase: str
