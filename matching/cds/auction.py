"""One CDS auction as an event-sourced state machine, driven one command at a time.

Every command method validates against the current state and returns a :class:`Decision`
(the events it would emit and the acknowledgement) **without changing anything**; the
caller applies the events (``apply``), typically after or while journaling them. Replaying
the same events into a fresh auction (``CdsAuction.from_events``) gives identical state:
derived results (stage-1 publication, final price) are recomputed on replay and checked
against what the events recorded.

Rules enforced here (see ``shared/spec/cds-auction.md``): dealers on the panel only; one
initial market per dealer and one PSR per dealer and customer, each replaceable until the
close; sealed windows that close on the schedule (a command stamped at or after the close
is refused even if the close command has not run yet); limit orders only on the side
opposite the open interest; idempotency by client order id (same content: the original
acknowledgement; other content: ALREADY_EXISTS); nobody reads the whole book before its
window closes unless an audited disclosure is recorded.

No I/O, no clock (``now`` is an argument), no randomness.
"""

from __future__ import annotations

import dataclasses
import itertools
import unicodedata
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeAlias

from matching.book import BookOrder, SealedBook
from matching.cds import events as ev
from matching.cds.params import AuctionParams, OrderSide, Side
from matching.cds.phases import TERMINAL, Phase, check_transition
from matching.cds.result import AuctionResult, build_result
from matching.cds.stage1 import InitialMarket, SettlementRequest, Stage1Outcome, compute_stage1
from matching.cds.stage2 import (
    Stage2Outcome,
    carried_order_id,
    carried_over,
    clear,
    eligible_side,
)
from matching.errors import (
    DomainError,
    InvalidInput,
    InvalidTransition,
    LimitExceeded,
    NotFound,
    NotPermitted,
)
from matching.eventsourcing import (
    HEADER_FIELDS,
    Ack,
    EventSourced,
    check_id,
    check_scheduled,
    field_names,
    iso,
    utc_micros,
    utc_text,
)
from matching.eventsourcing import Decision as _Decision
from matching.money import DecimalLike, parse_amount

__all__ = [
    "Ack",
    "BulkDecision",
    "CdsAuction",
    "Decision",
    "OrderTerms",
    "Schedule",
    "check_dealer_names",
    "check_id",
    "decline_kind",
    "decline_reason",
    "decline_side",
]

#: Longest published dealer name accepted.
MAX_NAME_LENGTH = 200


def check_dealer_names(names: Mapping[str, str], panel: Iterable[str]) -> dict[str, str]:
    """Published names by panel id: printable text (spaces, '/', '&', '.', accents are all
    fine), trimmed, at most 200 characters, for ids on the panel, no two alike."""
    members = set(panel)
    out: dict[str, str] = {}
    seen: dict[str, str] = {}
    for dealer, name in sorted(names.items()):
        where = f"dealer_names[{dealer}]"
        if dealer not in members:
            raise InvalidInput(where, "names a dealer that is not on the panel")
        if not isinstance(name, str):
            raise InvalidInput(where, "must be text")
        text = unicodedata.normalize("NFC", name.strip())
        if not text or len(text) > MAX_NAME_LENGTH or not text.isprintable():
            raise InvalidInput(where, f"must be 1 to {MAX_NAME_LENGTH} printable characters")
        key = text.casefold()
        if key in seen:
            raise InvalidInput(where, f"{text!r} is also the name of {seen[key]}")
        seen[key] = dealer
        out[dealer] = text
    for dealer in members - set(out):
        key = dealer.casefold()
        if key in seen and seen[key] != dealer:
            raise InvalidInput(f"dealer_names[{seen[key]}]", f"{dealer!r} is another dealer's id")
    return out


#: What a CDS auction command returns.
Decision: TypeAlias = _Decision[ev.Event]

#: One limit order of a bulk submission: client order id, side, price, size, customer (None:
#: the dealer's own), as :meth:`CdsAuction.submit_limit_order` takes them.
OrderTerms: TypeAlias = tuple[str, OrderSide | str, DecimalLike, DecimalLike, str | None]


@dataclass(frozen=True)
class BulkDecision(_Decision[ev.Event]):
    """What :meth:`CdsAuction.submit_limit_orders` decided: the events of the accepted orders,
    per order its acknowledgement or its refusal (``outcomes``, in the orders' order), and as
    ``ack`` the acknowledgement with the highest sequence number (None if none)."""

    outcomes: tuple[Ack | DomainError, ...] = ()


#: Distinct limit prices remembered per auction (a book has a few hundred levels).
_PRICE_CACHE = 4096
#: Stands for "no time in microseconds" in the per-event array of times.
_NO_MICROS = -(1 << 63)
#: Fields a fingerprint leaves out, besides the header, ``dealer`` and ``client_order_id``
#: (which key the record): a submitted order's id is ``dealer/client_order_id``.
_PRINT_SKIP: dict[type, frozenset[str]] = {ev.LimitOrderSubmitted: frozenset({"order_id"})}
_HANDLER_NAMES: dict[type, str] = {}
#: Distinct sizes shared per auction (a book repeats a few hundred).
_SIZE_POOL = 4096
_PRINT_NAMES: dict[type, tuple[str, ...]] = {}


def _print(event: ev.Event) -> str:
    """What a submitter asked for, as one string comparable across retries.

    The shared ``fingerprint`` (every field but the header, with ``repr`` values) less the
    fields determined by the key of the idempotency record (``dealer``, ``client_order_id``,
    a submitted order's id: equal whenever two fingerprints are compared), joined by a
    separator that ``repr`` of a str never contains, so equal strings mean equal fingerprints.
    """
    kind = type(event)
    if kind is ev.LimitOrderSubmitted:  # the hot one, spelled out (same fields, same order)
        e: ev.LimitOrderSubmitted = event  # type: ignore[assignment]
        return f"{e.type}\x1f{e.customer!r}\x1f{e.price!r}\x1f{e.side!r}\x1f{e.size!r}"
    names = _PRINT_NAMES.get(kind)
    if names is None:
        skip = HEADER_FIELDS | {"dealer", "client_order_id"} | _PRINT_SKIP.get(kind, frozenset())
        names = _PRINT_NAMES[kind] = tuple(sorted(n for n in field_names(kind) if n not in skip))
    return "\x1f".join([event.type, *[repr(getattr(event, n)) for n in names]])


def _compact_at(at: str) -> int | str:
    """An event time as microseconds since the epoch (:func:`utc_micros`) when it reads back
    as the very same string, else the string itself.

    The auction keeps the time of every accepted submission for its duplicate
    acknowledgement: as an ISO string that is 81 bytes per resting order, as an int in an
    array 8; the acknowledgement of a repeat is byte for byte the original.
    """
    micros = utc_micros(at)
    return at if micros is None else micros


class ReplayMismatch(RuntimeError):
    """Replay recomputed a different publication than the journal recorded: stop, do not serve."""


@dataclass(frozen=True, slots=True)
class Schedule:
    """When the windows open and close on the server's clock; None means by hand only."""

    stage1_open: datetime | None = None
    stage1_close: datetime | None = None
    stage2_open: datetime | None = None
    stage2_close: datetime | None = None

    def __post_init__(self) -> None:
        times = [(n, t) for n, t in self._items() if t is not None]
        for name, value in times:
            if value.tzinfo is None:
                raise InvalidInput(f"schedule.{name}", "must carry a time zone (use UTC)")
        for (first, a), (second, b) in itertools.pairwise(times):
            if not a < b:
                raise InvalidInput(f"schedule.{second}", f"must be after {first}")

    def _items(self) -> list[tuple[str, datetime | None]]:
        return [(f.name, getattr(self, f.name)) for f in dataclasses.fields(self)]

    def check_ahead(self, now: datetime) -> None:
        """Refuse a close at or before ``now`` (the server's time at creation): its bidding
        period would be over before anyone could submit, and its results published empty;
        and any time beyond the horizon (:func:`check_scheduled`)."""
        for name, value in self._items():
            check_scheduled(f"schedule.{name}", value, now, closes=name.endswith("_close"))

    def to_dict(self) -> dict[str, str | None]:
        """ISO-8601 strings (or None), the journal form."""
        return {n: (t.isoformat() if t else None) for n, t in self._items()}

    @classmethod
    def from_dict(cls, data: dict[str, str | None]) -> Schedule:
        """Inverse of :meth:`to_dict`."""
        return cls(**{k: (datetime.fromisoformat(v) if v else None) for k, v in data.items()})


@dataclass(frozen=True, slots=True)
class MarketEntry:
    """A dealer's accepted initial market and the client order id it came with."""

    market: InitialMarket
    client_order_id: str


@dataclass(frozen=True, slots=True)
class RequestEntry:
    """An accepted physical settlement request and the client order id it came with."""

    request: SettlementRequest
    client_order_id: str


@dataclass(frozen=True, slots=True)
class DealerView:
    """One dealer's own submissions: what it may always see."""

    dealer: str
    market: MarketEntry | None
    requests: tuple[RequestEntry, ...]
    orders: tuple[BookOrder, ...]


class CdsAuction(EventSourced[ev.Event]):
    """State of one auction. Queries first, then commands, then event application."""

    def __init__(self, created: ev.AuctionCreated) -> None:
        self.params = AuctionParams.from_dict(created.params)
        self.auction_id = created.auction_id
        self.panel: frozenset[str] = frozenset(created.panel)
        self.dealer_names: dict[str, str] = dict(created.dealer_names)
        self.auction_set: dict[str, Any] | None = created.auction_set
        self.schedule = Schedule.from_dict(created.schedule)
        self.created_at = created.at
        self._init_stream(created.auction_id, created.seq)
        self.phase = Phase.SCHEDULED
        self.markets: dict[str, MarketEntry] = {}
        self.requests: dict[tuple[str, str | None], RequestEntry] = {}
        self.book = SealedBook()
        self.stage1: Stage1Outcome | None = None
        self.stage2: Stage2Outcome | None = None
        self.cancel_reason: str | None = None
        self.disclosures: list[ev.BookDisclosed] = []
        self.phase_times: dict[str, str] = {Phase.SCHEDULED.value: created.at}
        self._orders_per_dealer: dict[str, int] = {}
        # Per dealer, the size of its own resting limit orders (customers' and the carried
        # quote apart): with the carried quote it may not exceed the open interest.
        self._own_size: dict[str, int] = {}
        # Customers' limit orders: order id -> customer (checked over all dealers at close).
        self._customer_orders: dict[str, str] = {}
        self.declines: list[ev.CustomerRequestDeclined] = []
        #: Every initial bidding period that closed: (attempt, closed at, failure or None).
        self.bidding_periods: list[tuple[int, str, str | None]] = []
        self.attempt = 1
        # Limit prices seen, as (ticks, canonical string): a book has a few hundred levels.
        self._prices: dict[str, tuple[int, str]] = {}
        # The fingerprints the last decision made for its events, by ``id`` (with the event,
        # so that a recycled id never matches): ``apply`` takes each instead of remaking it.
        self._prints: dict[int, tuple[ev.Event, str]] = {}
        # The last event time applied and its :func:`_compact_at` form.
        self._last_at: tuple[str, int | str] = ("", "")
        # Idempotency records, compact (the shared ``_acks`` stays empty): "dealer/client
        # order id" (ids never hold '/') -> seq of the accepted submission. Its fingerprint
        # and time are found by that seq in two arrays with an entry per event (4 + 8 bytes
        # instead of a tuple and an ISO string per order), the seq int being the very object
        # the resting order holds: an idempotency record costs little more than its dict entry.
        self._submissions: dict[str, int] = {}
        self._first_seq = created.seq
        # Per event, by ``seq - first seq``: the index of its fingerprint in ``_print_list``
        # (-1: not a submission), and its time as :func:`_compact_at` microseconds
        # (``_NO_MICROS``: the string is in ``_at_text``).
        self._event_prints = array("i", [-1])
        self._event_at = array("q", [_NO_MICROS])
        self._at_text: dict[int, str] = {created.seq: created.at}
        # Every distinct fingerprint of an accepted submission, once (a book repeats a few
        # hundred prices and sizes), and its index.
        self._print_list: list[str] = []
        self._print_ids: dict[str, int] = {}
        # Limit order sizes as ints, one object per distinct size (saves an int per order).
        self._sizes: dict[str, int] = {}

    # -- construction --------------------------------------------------------------------

    @staticmethod
    def create(
        *,
        params: AuctionParams,
        panel: Iterable[str],
        schedule: Schedule,
        by: str,
        now: datetime,
        dealer_names: Mapping[str, str] | None = None,
        auction_set: Mapping[str, Any] | None = None,
    ) -> Decision:
        """Validate a new auction; the single AuctionCreated event starts its history.

        ``panel`` holds safe participant ids; ``dealer_names`` the names published for them
        (any printable text: spaces, '/', '&', '.', accents), each id's own by default.
        """
        dealers = sorted({check_id(d, f"panel[{i}]") for i, d in enumerate(panel)})
        if not dealers:
            raise InvalidInput("panel", "must name at least one dealer")
        check_id(params.auction_id, "auction.id")
        schedule.check_ahead(now)
        names = check_dealer_names(dealer_names or {}, dealers)
        created = ev.AuctionCreated(
            auction_id=params.auction_id,
            seq=1,
            at=iso(now),
            params=params.to_dict(),
            panel=dealers,
            schedule=schedule.to_dict(),
            created_by=by,
            dealer_names=names,
            auction_set=None if auction_set is None else dict(auction_set),
        )
        return Decision((created,), Ack(1, created.at, params.auction_id))

    @classmethod
    def from_events(cls, events: Iterable[ev.Event]) -> CdsAuction:
        """Rebuild an auction from its full history (the first event must be AuctionCreated)."""
        iterator = iter(events)
        first = next(iterator, None)
        if not isinstance(first, ev.AuctionCreated):
            raise ValueError("an auction's history starts with AuctionCreated")
        auction = cls(first)
        for event in iterator:
            auction.apply(event)
        return auction

    # -- queries -------------------------------------------------------------------------

    def name_of(self, dealer: str) -> str:
        """The published name of a panel dealer (its id when none was given)."""
        return self.dealer_names.get(dealer, dealer)

    def view_of(self, dealer: str) -> DealerView:
        """A dealer's own submissions; never anybody else's."""
        return DealerView(
            dealer=dealer,
            market=self.markets.get(dealer),
            requests=tuple(
                sorted(
                    (e for (d, _), e in self.requests.items() if d == dealer),
                    key=lambda e: e.request.seq,
                )
            ),
            orders=tuple(self.book.orders_of(dealer)),
        )

    def all_views(self, *, disclosed: bool = False) -> list[DealerView]:
        """Every dealer's submissions: only once the open window has closed.

        ``disclosed`` is for an operator whose audited disclosure (``disclose_book``) has
        been recorded; nobody else reads a sealed book.
        """
        if self.is_sealed() and not disclosed:
            raise NotPermitted(
                f"the {self.phase.value} book of {self.auction_id} is sealed until its window "
                "closes"
            )
        dealers = sorted(
            self.panel
            | set(self.markets)
            | {d for d, _ in self.requests}
            | {o.owner for o in self.book.orders()}
        )
        return [self.view_of(d) for d in dealers]

    def activity(self) -> list[tuple[str, bool, int, int]]:
        """Who has submitted, never what: per panel dealer (by id), whether it has an initial
        market, and how many settlement requests and resting limit orders it has.

        Open at any phase (no price or size leaves here); the services decide who may ask.
        """
        requests: dict[str, int] = {}
        for dealer, _ in self.requests:
            requests[dealer] = requests.get(dealer, 0) + 1
        return [
            (d, d in self.markets, requests.get(d, 0), self.book.count_of(d))
            for d in sorted(self.panel)
        ]

    def is_sealed(self) -> bool:
        """True while a submission window is open."""
        return self.phase in (Phase.STAGE1_OPEN, Phase.STAGE2_OPEN)

    def next_timer(self) -> tuple[datetime, str] | None:
        """The next scheduled phase change as (when, command name), if any."""
        s = self.schedule
        if self.attempt > 1:
            return None  # after a rerun of the initial bidding period, windows are by hand
        due = {
            Phase.SCHEDULED: (s.stage1_open, "open_stage1"),
            Phase.STAGE1_OPEN: (s.stage1_close, "close_stage1"),
            Phase.STAGE1_CLOSED: (s.stage2_open, "open_stage2"),
            Phase.STAGE2_OPEN: (s.stage2_close, "close_stage2"),
        }.get(self.phase)
        if due is None or due[0] is None:
            return None
        return due[0], due[1]

    def result(self, *, customers_of: str | bool | None = True) -> AuctionResult:
        """The publication so far: stage 1 after its close, everything when final.

        ``customers_of``: True shows every customer id (operators), a dealer id shows only
        that dealer's customers, False or None shows none.
        """
        return build_result(self, customers_of=customers_of)

    # -- commands: operator ---------------------------------------------------------------

    def open_stage1(self, *, by: str, now: datetime) -> Decision:
        """Open the first sealed window (or run the initial bidding period again).

        A rerun must open on the auction date (the day of the first failed period when
        the auction has none) or on one of the next two business days.
        """
        check_transition(self.phase, Phase.STAGE1_OPEN)
        if self.attempt > 1:
            first, last = self.rerun_dates()
            if not first <= now.date() <= last:
                raise InvalidTransition(
                    f"a rerun of the initial bidding period must open between {first} and "
                    f"{last} (the auction date or the next two business days)"
                )
        return self._decide(ev.Stage1Opened(**self._head(now), by=by))

    def rerun_dates(self) -> tuple[date, date]:
        """First and last day a rerun of the initial bidding period may open."""
        base = self.params.auction_date
        if base is None:
            base = datetime.fromisoformat(self.bidding_periods[0][1]).date()
        return base, self.params.business_days_after(base, 2)

    def close_stage1(self, *, by: str, now: datetime) -> Decision:
        """Close the first window and publish IMM, open interest and adjustment amounts."""
        check_transition(self.phase, Phase.STAGE1_CLOSED)
        outcome = self._compute_stage1()
        return self._decide(
            ev.Stage1Closed(
                **self._head(now),
                by=by,
                **self._publish1(outcome),
                next_phase=self._after_stage1(outcome).value,
            )
        )

    def open_stage2(self, *, by: str, now: datetime) -> Decision:
        """Open the limit-order window (only after a stage 1 with open interest)."""
        check_transition(self.phase, Phase.STAGE2_OPEN)
        if self.stage1 is None or self.stage1.failure or self.stage1.oi_side is None:
            raise InvalidTransition("stage 2 needs a successful stage 1 with open interest")
        return self._decide(ev.Stage2Opened(**self._head(now), by=by))

    def close_stage2(self, *, by: str, now: datetime) -> Decision:
        """Close the limit-order window: match and fix the final price."""
        check_transition(self.phase, Phase.STAGE2_CLOSED)
        outcome = self._clear()
        return self._decide(
            ev.Stage2Closed(
                **self._head(now),
                by=by,
                final_price=self.params.grid.format(outcome.final_ticks),
                matched_size=str(outcome.matched_size),
            )
        )

    def cancel(self, *, by: str, reason: str, now: datetime) -> Decision:
        """Cancel the auction from any phase that is not over."""
        check_transition(self.phase, Phase.CANCELLED)
        if not reason.strip():
            raise InvalidInput("reason", "a cancellation needs a reason")
        return self._decide(ev.AuctionCancelled(**self._head(now), by=by, reason=reason))

    def disclose_book(self, *, by: str, reason: str, now: datetime) -> Decision:
        """Record an audited read of a sealed book; then ``all_views(disclosed=True)``."""
        if not self.is_sealed():
            raise InvalidTransition("no window is open: the book is not sealed")
        if not reason.strip():
            raise InvalidInput("reason", "an audited disclosure needs a reason")
        return self._decide(
            ev.BookDisclosed(**self._head(now), by=by, reason=reason, phase=self.phase.value)
        )

    # -- commands: dealers, stage 1 -------------------------------------------------------

    def submit_market(
        self,
        *,
        dealer: str,
        client_order_id: str,
        bid: DecimalLike,
        offer: DecimalLike,
        now: datetime,
    ) -> Decision:
        """Submit or replace the dealer's two-way initial market."""
        self._require_panel(dealer)
        check_id(client_order_id, "client_order_id")
        grid = self.params.grid
        bid_t = grid.to_ticks(bid, "bid")
        offer_t = grid.to_ticks(offer, "offer")
        if bid_t < 0:
            raise InvalidInput("bid", "must not be negative")
        if not bid_t < offer_t:
            raise InvalidInput("offer", "must be above the bid")
        if offer_t - bid_t > self.params.max_spread_ticks:
            raise InvalidInput(
                "offer",
                f"spread {grid.format(offer_t - bid_t)} exceeds the maximum "
                f"{grid.format(self.params.max_spread_ticks)}",
            )
        event = ev.MarketSubmitted(
            **self._head(now),
            dealer=dealer,
            client_order_id=client_order_id,
            bid=grid.format(bid_t),
            offer=grid.format(offer_t),
        )
        return self._submission(event, dealer, client_order_id, Phase.STAGE1_OPEN, now)

    def withdraw_market(self, *, dealer: str, client_order_id: str, now: datetime) -> Decision:
        """Withdraw the dealer's initial market before the close."""
        self._require_panel(dealer)
        check_id(client_order_id, "client_order_id")
        event = ev.MarketWithdrawn(
            **self._head(now), dealer=dealer, client_order_id=client_order_id
        )
        repeat = self._repeat(event)
        if repeat:
            return repeat
        self._require_window(Phase.STAGE1_OPEN, now)
        if dealer not in self.markets:
            raise NotFound(f"{dealer} has no initial market in {self.auction_id}")
        return self._decide(event, client_order_id)

    def submit_request(
        self,
        *,
        dealer: str,
        client_order_id: str,
        side: Side | str,
        size: DecimalLike,
        now: datetime,
        customer: str | None = None,
        market_position: DecimalLike | None = None,
        market_position_side: Side | str | None = None,
    ) -> Decision:
        """Submit or replace a physical settlement request (the dealer's own or a customer's).

        With an attested market position, a request larger than it or in the other direction
        is refused; without one the engine cannot check and says so in the record (None).
        """
        self._require_panel(dealer)
        check_id(client_order_id, "client_order_id")
        if customer is not None:
            check_id(customer, "customer")
        side_v = _side(side, "side")
        amount = parse_amount(size, "size")
        if self.params.require_market_position and market_position is None and amount > 0:
            raise InvalidInput(
                "market_position",
                "this auction requires the market position to be attested with every request",
            )
        position: int | None = None
        position_side: Side | None = None
        if market_position is not None:
            position = parse_amount(market_position, "market_position")
            position_side = (
                side_v
                if market_position_side is None
                else _side(market_position_side, "market_position_side")
            )
            if amount > 0 and position_side is not side_v:
                raise InvalidInput(
                    "side",
                    f"a {side_v.value} request goes against the attested "
                    f"{position_side.value} market position",
                )
            if amount > position:
                raise InvalidInput(
                    "size", f"{amount} exceeds the attested market position of {position}"
                )
        event = ev.RequestSubmitted(
            **self._head(now),
            dealer=dealer,
            client_order_id=client_order_id,
            customer=customer,
            side=side_v.value,
            size=str(amount),
            market_position_side=position_side.value if position_side else None,
            market_position=None if position is None else str(position),
        )
        return self._submission(event, dealer, client_order_id, Phase.STAGE1_OPEN, now)

    def withdraw_request(
        self, *, dealer: str, client_order_id: str, now: datetime, customer: str | None = None
    ) -> Decision:
        """Withdraw a physical settlement request before the close."""
        self._require_panel(dealer)
        check_id(client_order_id, "client_order_id")
        event = ev.RequestWithdrawn(
            **self._head(now), dealer=dealer, client_order_id=client_order_id, customer=customer
        )
        repeat = self._repeat(event)
        if repeat:
            return repeat
        self._require_window(Phase.STAGE1_OPEN, now)
        if (dealer, customer) not in self.requests:
            raise NotFound(f"{dealer} has no such physical settlement request")
        return self._decide(event, client_order_id)

    # -- commands: dealers, stage 2 -------------------------------------------------------

    def submit_limit_order(
        self,
        *,
        dealer: str,
        client_order_id: str,
        side: OrderSide | str,
        price: DecimalLike,
        size: DecimalLike,
        now: datetime,
        customer: str | None = None,
    ) -> Decision:
        """Submit a stage-2 limit order on the side opposite the open interest: the run of
        one order of :meth:`submit_limit_orders` (one sequence of checks for both)."""
        decided = self.submit_limit_orders(
            dealer=dealer, orders=((client_order_id, side, price, size, customer),), now=now
        )
        outcome = decided.outcomes[0]
        if isinstance(outcome, DomainError):
            raise outcome
        return decided  # a run of one: its acknowledgement is the order's

    def submit_limit_orders(
        self, *, dealer: str, orders: Sequence[OrderTerms], now: datetime
    ) -> BulkDecision:
        """Decide a run of the dealer's stage-2 limit orders at once, all at ``now``.

        Exactly what :meth:`submit_limit_order` per order would decide, in order, with each
        accepted order applied before the next is decided: the same events (numbered on from
        the last), the same acknowledgements (a repeat of an order earlier in the run gets
        its acknowledgement) and the same refusals, each in ``outcomes`` at the order's
        index, the accepted in ``events``. The rules are the single command's own helpers;
        what does not change from one order to the next (the panel, the window, the
        eligible side) is looked at once. Changes nothing, like every command (but the
        fingerprints it leaves for :meth:`apply` to reuse).
        """
        try:
            self._require_panel(dealer)
        except NotPermitted as exc:
            return BulkDecision((), None, (exc,) * len(orders))
        at = iso(now)
        try:
            self._require_window(Phase.STAGE2_OPEN, now)
        except InvalidTransition as exc:
            closed: InvalidTransition | None = exc
            wanted = None
        else:
            closed = None
            wanted = self._eligible_side()
        self._prints.clear()
        events: list[ev.LimitOrderSubmitted] = []
        outcomes: list[Ack | DomainError] = []
        earlier: dict[str, tuple[str, Ack]] = {}  # client order id -> (fingerprint, ack)
        own_added = 0  # the size of the dealer's own orders accepted so far in the run
        last: Ack | None = None
        for terms in orders:
            try:
                event, side_v, amount = self._limit_order_event(
                    dealer, terms, self.last_seq + len(events) + 1, at
                )
                print_ = _print(event)
                client_order_id = event.client_order_id
                before = earlier.get(client_order_id)
                if before is not None:  # a repeat within the run (decided before: applied)
                    if before[0] != print_:
                        raise self._reused(dealer, client_order_id)
                    ack = dataclasses.replace(before[1], duplicate=True)
                elif (repeat := self._prior_ack(dealer, client_order_id, print_)) is not None:
                    ack = repeat  # a repeat of an order accepted before the run
                elif closed is not None:
                    # Kept, not raised again: each raise would lengthen its traceback.
                    outcomes.append(closed)
                    continue
                else:
                    assert wanted is not None
                    customer = event.customer
                    self._check_limit_order(
                        dealer, side_v, amount, customer, wanted, len(events), own_added
                    )
                    if customer is None:
                        own_added += amount
                    ack = Ack(event.seq, at, client_order_id)
                    events.append(event)
                    self._prints[id(event)] = (event, print_)
                    earlier[client_order_id] = (print_, ack)
            except DomainError as exc:
                outcomes.append(exc)
                continue
            outcomes.append(ack)
            if last is None or ack.seq > last.seq:
                last = ack
        return BulkDecision(tuple(events), last, tuple(outcomes))

    def _limit_order_event(
        self, dealer: str, terms: OrderTerms, seq: int, at: str
    ) -> tuple[ev.LimitOrderSubmitted, OrderSide, int]:
        """The limit order ``terms`` of ``dealer`` as the event that would record it (with
        ``seq`` and ``at``), its side and its size; its fields checked on their own (ids,
        side, price on the grid, size), in this order."""
        client_order_id, side, price, size, customer = terms
        check_id(client_order_id, "client_order_id")
        if customer is not None:
            check_id(customer, "customer")
        side_v = _order_side(side)
        (_, price_text), amount = self._check_order(price, size)
        event = ev.LimitOrderSubmitted(
            auction_id=self.stream_id,
            seq=seq,
            at=at,
            dealer=dealer,
            client_order_id=client_order_id,
            order_id=f"{dealer}/{client_order_id}",
            side=side_v.value,
            price=price_text,
            size=str(amount),
            customer=customer,
        )
        return event, side_v, amount

    def _eligible_side(self) -> OrderSide:
        """The side limit orders must take in the open stage-2 window."""
        assert self.stage1 is not None
        oi_side = self.stage1.oi_side
        assert oi_side is not None
        return eligible_side(oi_side)

    def _check_limit_order(
        self,
        dealer: str,
        side: OrderSide,
        amount: int,
        customer: str | None,
        wanted: OrderSide,
        held: int = 0,
        own_added: int = 0,
    ) -> None:
        """A new limit order's rules against the state: the eligible side (``wanted``), the
        dealer's order count (``held`` more than applied) and, for its own orders, the open
        interest (``own_added`` more than applied)."""
        if side is not wanted:
            assert self.stage1 is not None
            assert self.stage1.oi_side is not None
            raise InvalidInput(
                "side",
                f"the open interest is to {self.stage1.oi_side.value}: only {wanted.value} "
                "limit orders take part",
            )
        limit = self.params.max_orders_per_dealer
        if limit and self._orders_per_dealer.get(dealer, 0) + held >= limit:
            raise LimitExceeded(f"{dealer} already has the maximum of {limit} limit orders")
        if customer is None:
            self._check_own_size(dealer, amount, pending=own_added)

    def _check_own_size(self, dealer: str, added: int, removed: int = 0, pending: int = 0) -> None:
        """A dealer's own limit orders plus its carried quote may not exceed the open interest
        (``pending``: own orders decided but not applied yet)."""
        assert self.stage1 is not None
        oi = abs(self.stage1.open_interest)
        carried = self.params.quotation_amount if carried_order_id(dealer) in self.book else 0
        total = self._own_size.get(dealer, 0) + pending - removed + added + carried
        if total > oi:
            raise InvalidInput(
                "size",
                f"the dealer's own limit orders plus its carried-over quote ({total}) may not "
                f"exceed the open interest of {oi}",
            )

    def replace_limit_order(
        self,
        *,
        dealer: str,
        client_order_id: str,
        order_client_id: str,
        price: DecimalLike,
        size: DecimalLike,
        now: datetime,
    ) -> Decision:
        """Change the price and size of one of the dealer's own limit orders."""
        self._require_panel(dealer)
        check_id(client_order_id, "client_order_id")
        check_id(order_client_id, "order_client_id")
        (_, price_text), amount = self._check_order(price, size)
        event = ev.LimitOrderReplaced(
            **self._head(now),
            dealer=dealer,
            client_order_id=client_order_id,
            order_id=f"{dealer}/{order_client_id}",
            price=price_text,
            size=str(amount),
        )
        repeat = self._repeat(event)
        if repeat:
            return repeat
        self._require_window(Phase.STAGE2_OPEN, now)
        order = self._own_order(dealer, event.order_id)
        if order.customer is None and not order.carried:
            self._check_own_size(dealer, amount, removed=order.size)
        return self._decide(event, client_order_id)

    def cancel_limit_order(
        self, *, dealer: str, client_order_id: str, order_client_id: str, now: datetime
    ) -> Decision:
        """Withdraw one of the dealer's own limit orders."""
        self._require_panel(dealer)
        check_id(client_order_id, "client_order_id")
        check_id(order_client_id, "order_client_id")
        event = ev.LimitOrderCancelled(
            **self._head(now),
            dealer=dealer,
            client_order_id=client_order_id,
            order_id=f"{dealer}/{order_client_id}",
        )
        repeat = self._repeat(event)
        if repeat:
            return repeat
        self._require_window(Phase.STAGE2_OPEN, now)
        self._own_order(dealer, event.order_id)
        return self._decide(event, client_order_id)

    def decline_customer_request(
        self,
        *,
        dealer: str,
        client_order_id: str,
        customer: str,
        kind: str,
        side: str,
        size: DecimalLike,
        reason: str,
        now: datetime,
        price: DecimalLike | None = None,
    ) -> Decision:
        """Record that the dealer declined a customer's request (``kind`` PSR or LIMIT_ORDER).

        Nothing is submitted; the record is the dealer's proof that it told the customer.
        Allowed until the auction is over.
        """
        self._require_panel(dealer)
        check_id(client_order_id, "client_order_id")
        check_id(customer, "customer")
        kind_v = decline_kind(kind)
        side_v = decline_side(kind_v, side)
        amount = parse_amount(size, "size")
        price_text = None if price is None or price == "" else self._limit_price(price)[1]
        decline_reason(reason)
        event = ev.CustomerRequestDeclined(
            **self._head(now),
            dealer=dealer,
            client_order_id=client_order_id,
            customer=customer,
            kind=kind_v,
            side=side_v,
            size=str(amount),
            price=price_text,
            reason=reason.strip(),
        )
        repeat = self._repeat(event)
        if repeat:
            return repeat
        if self.terminal:
            raise InvalidTransition(f"the auction is {self.phase.value}")
        return self._decide(event, client_order_id)

    # -- applying events ------------------------------------------------------------------

    def _on_Stage1Opened(self, e: ev.Stage1Opened) -> None:  # noqa: N802
        self._move(Phase.STAGE1_OPEN, e.at)

    def _on_MarketSubmitted(self, e: ev.MarketSubmitted) -> None:  # noqa: N802
        grid = self.params.grid
        market = InitialMarket(
            e.dealer, grid.to_ticks(e.bid, "bid"), grid.to_ticks(e.offer, "offer"), e.seq
        )
        self.markets[e.dealer] = MarketEntry(market, e.client_order_id)

    def _on_MarketWithdrawn(self, e: ev.MarketWithdrawn) -> None:  # noqa: N802
        del self.markets[e.dealer]

    def _on_RequestSubmitted(self, e: ev.RequestSubmitted) -> None:  # noqa: N802
        request = SettlementRequest(
            dealer=e.dealer,
            side=Side(e.side),
            size=int(e.size),
            seq=e.seq,
            customer=e.customer,
            market_position=None if e.market_position is None else int(e.market_position),
        )
        self.requests[(e.dealer, e.customer)] = RequestEntry(request, e.client_order_id)

    def _on_RequestWithdrawn(self, e: ev.RequestWithdrawn) -> None:  # noqa: N802
        del self.requests[(e.dealer, e.customer)]

    def _on_Stage1Closed(self, e: ev.Stage1Closed) -> None:  # noqa: N802
        outcome = self._compute_stage1()
        after = self._after_stage1(outcome)
        if self._publish1(outcome) != {
            "failure": e.failure,
            "initial_market_midpoint": e.initial_market_midpoint,
            "open_interest_side": e.open_interest_side,
            "open_interest": e.open_interest,
            "adjustments": e.adjustments,
        } or (e.next_phase is not None and e.next_phase != after.value):
            raise ReplayMismatch(f"stage 1 of {self.auction_id} recomputes differently")
        self._move(Phase.STAGE1_CLOSED, e.at)
        self.stage1 = outcome
        self.bidding_periods.append((self.attempt, e.at, outcome.failure))
        if after is Phase.SCHEDULED:
            # The initial bidding period is run again: a fresh window, fresh submissions.
            self._move(Phase.SCHEDULED, e.at)
            self.attempt += 1
            self.markets.clear()
            self.requests.clear()
            self.stage1 = None
        elif after is Phase.CANCELLED:
            self._move(Phase.CANCELLED, e.at)
            self.cancel_reason = (
                f"too few valid initial markets in each of {self.attempt} initial bidding "
                f"periods (last: {outcome.failure}): the auction is cancelled and the "
                f"fallback settlement method applies: {self.params.fallback_settlement_method}"
            )
        elif outcome.failure:
            self._move(Phase.FAILED, e.at)
        elif outcome.oi_side is None:
            self._move(Phase.FINAL, e.at)
        else:
            # In arrival order, so that a replaced market queues as the new submission it is.
            markets = sorted((m.market for m in self.markets.values()), key=lambda m: m.seq)
            for order in carried_over(self.params, outcome, markets):
                self.book.add(order)

    def _on_Stage2Opened(self, e: ev.Stage2Opened) -> None:  # noqa: N802
        self._move(Phase.STAGE2_OPEN, e.at)

    def _on_LimitOrderSubmitted(self, e: ev.LimitOrderSubmitted) -> None:  # noqa: N802
        dealer, size = e.dealer, self._size(e.size)
        if e.customer is None:
            self._own_size[dealer] = self._own_size.get(dealer, 0) + size
        else:
            self._customer_orders[e.order_id] = e.customer
        self.book.add(
            BookOrder(
                order_id=e.order_id,
                owner=dealer,
                ticks=self._ticks(e.price),
                size=size,
                seq=e.seq,
                customer=e.customer,
            )
        )
        self._orders_per_dealer[dealer] = self._orders_per_dealer.get(dealer, 0) + 1

    def _on_LimitOrderReplaced(self, e: ev.LimitOrderReplaced) -> None:  # noqa: N802
        old = self.book.get(e.order_id)
        if old.customer is None and not old.carried:
            self._own_size[e.dealer] += self._size(e.size) - old.size
        self.book.replace(
            e.order_id,
            ticks=self._ticks(e.price),
            size=self._size(e.size),
            seq=e.seq,
        )

    def _on_LimitOrderCancelled(self, e: ev.LimitOrderCancelled) -> None:  # noqa: N802
        old = self.book.cancel(e.order_id)
        if old.customer is None and not old.carried:
            self._own_size[e.dealer] -= old.size
        self._customer_orders.pop(e.order_id, None)
        self._orders_per_dealer[e.dealer] -= 1

    def _on_Stage2Closed(self, e: ev.Stage2Closed) -> None:  # noqa: N802
        outcome = self._clear()
        if (self.params.grid.format(outcome.final_ticks), str(outcome.matched_size)) != (
            e.final_price,
            e.matched_size,
        ):
            raise ReplayMismatch(f"stage 2 of {self.auction_id} recomputes differently")
        self._move(Phase.STAGE2_CLOSED, e.at)
        self.stage2 = outcome
        self._move(Phase.FINAL, e.at)

    def _on_CustomerRequestDeclined(self, e: ev.CustomerRequestDeclined) -> None:  # noqa: N802
        self.declines.append(e)

    def _on_AuctionCancelled(self, e: ev.AuctionCancelled) -> None:  # noqa: N802
        self._move(Phase.CANCELLED, e.at)
        self.cancel_reason = e.reason

    def _on_BookDisclosed(self, e: ev.BookDisclosed) -> None:  # noqa: N802
        self.disclosures.append(e)

    # -- internals -------------------------------------------------------------------------

    def _move(self, target: Phase, at: str) -> None:
        check_transition(self.phase, target)
        self.phase = target
        self.phase_times[target.value] = at

    def _require_panel(self, dealer: str) -> None:
        if dealer not in self.panel:
            raise NotPermitted(f"{dealer!r} is not on the panel of auction {self.auction_id}")

    def _require_window(self, phase: Phase, now: datetime) -> None:
        """The window must be open and, on the server's clock, not past its scheduled close."""
        if self.phase is not phase:
            stage = "stage 1" if phase is Phase.STAGE1_OPEN else "stage 2"
            raise InvalidTransition(
                f"the {stage} window of {self.auction_id} is not open (phase {self.phase.value})"
            )
        close = (
            self.schedule.stage1_close if phase is Phase.STAGE1_OPEN else self.schedule.stage2_close
        )
        if self.attempt > 1:
            close = None  # the schedule was the first period's; reruns are run by hand
        if close is not None and now >= close:
            raise InvalidTransition(
                f"the window of {self.auction_id} closed at {close.isoformat()}"
            )

    def _submission(
        self, event: ev.Event, dealer: str, client_order_id: str, phase: Phase, now: datetime
    ) -> Decision:
        repeat = self._repeat(event)
        if repeat:
            return repeat
        self._require_window(phase, now)
        return self._decide(event, client_order_id)

    def _limit_price(self, price: DecimalLike) -> tuple[int, str]:
        """A limit price as (ticks, canonical string); refused off the grid or negative."""
        if type(price) is str:
            known = self._prices.get(price)
            if known is not None:
                return known
        grid = self.params.grid
        ticks = grid.to_ticks(price, "price")
        if ticks < 0:
            raise InvalidInput("price", "must not be negative")
        found = (ticks, grid.format(ticks))
        if type(price) is str:
            if len(self._prices) >= _PRICE_CACHE:
                self._prices.clear()
            self._prices[price] = found
        return found

    def _ticks(self, price: str) -> int:
        """Ticks of a price recorded in an event (canonical, on the grid)."""
        known = self._prices.get(price)
        return known[0] if known is not None else self._limit_price(price)[0]

    def _size(self, size: str) -> int:
        """A size recorded in an event as an int, pooled: one object per distinct size."""
        known = self._sizes.get(size)
        if known is None:
            known = int(size)
            if len(self._sizes) < _SIZE_POOL:
                self._sizes[size] = known
        return known

    def _check_order(self, price: DecimalLike, size: DecimalLike) -> tuple[tuple[int, str], int]:
        ticks = self._limit_price(price)
        # A positive int is its own amount (the wire's int64); anything else is parsed.
        amount = size if type(size) is int and size > 0 else parse_amount(size, "size")
        if amount <= 0:
            raise InvalidInput("size", "must be positive")
        if amount < self.params.min_limit_order_size:
            raise InvalidInput(
                "size", f"below the minimum limit order size {self.params.min_limit_order_size}"
            )
        return ticks, amount

    def _own_order(self, dealer: str, order_id: str) -> BookOrder:
        if order_id not in self.book:
            raise NotFound(f"{dealer} has no limit order {order_id.split('/', 1)[1]!r}")
        order = self.book.get(order_id)
        if order.owner != dealer:  # pragma: no cover - ids embed the owner
            raise NotFound(f"{dealer} has no such limit order")
        return order

    def _compute_stage1(self) -> Stage1Outcome:
        markets = sorted((m.market for m in self.markets.values()), key=lambda m: m.seq)
        requests = sorted((r.request for r in self.requests.values()), key=lambda r: r.seq)
        return compute_stage1(self.params, markets, requests)

    def _clear(self) -> Stage2Outcome:
        assert self.stage1 is not None
        return clear(
            self.params, self.stage1, self.book, self.stage1.requests, self._excluded_orders()
        )

    def _excluded_orders(self) -> list[tuple[BookOrder, str]]:
        """Customers' limit orders that do not count: per customer, over all dealers, in
        order of receipt, those that would take its orders beyond the open interest."""
        if not self._customer_orders:
            return []
        assert self.stage1 is not None
        oi = abs(self.stage1.open_interest)
        orders = sorted(
            (self.book.get(i) for i in self._customer_orders if i in self.book),
            key=lambda o: o.seq,
        )
        totals: dict[str, int] = {}
        excluded = []
        for order in orders:
            customer = order.customer or ""
            total = totals.get(customer, 0) + order.size
            if total > oi:
                excluded.append(
                    (
                        order,
                        "the customer's limit orders summed over all dealers exceed the open "
                        f"interest of {oi}",
                    )
                )
                continue
            totals[customer] = total
        return excluded

    def _after_stage1(self, outcome: Stage1Outcome) -> Phase:
        """Where closing stage 1 leaves the auction."""
        if outcome.too_few_markets:
            if self.attempt < self.params.max_initial_bidding_periods:
                return Phase.SCHEDULED
            if self.params.max_initial_bidding_periods > 1:
                return Phase.CANCELLED
            return Phase.FAILED
        if outcome.failure:
            return Phase.FAILED
        return Phase.FINAL if outcome.oi_side is None else Phase.STAGE1_CLOSED

    def _publish1(self, outcome: Stage1Outcome) -> dict[str, Any]:
        grid = self.params.grid
        return {
            "failure": outcome.failure,
            "initial_market_midpoint": None if outcome.imm is None else grid.format(outcome.imm),
            "open_interest_side": outcome.oi_side.value if outcome.oi_side else "NONE",
            "open_interest": str(abs(outcome.open_interest)),
            "adjustments": [
                {"dealer": a.dealer, "amount": str(a.amount)} for a in outcome.adjustments
            ],
        }

    # -- idempotency: the shared rules, computed once per event -------------------------

    def apply(self, event: ev.Event) -> None:
        """Apply one accepted event; the only place state changes.

        :meth:`EventSourced.apply` with the same checks and effects, but the submission's
        fingerprint is computed once (``_repeat`` made it for the decision being applied)
        and kept as one string (:func:`_print`) instead of a tuple of pairs: every order
        went through ``to_dict`` and a sort three times, and its idempotency record was
        most of a resting order's memory.
        """
        if event.auction_id != self.stream_id:
            raise ValueError(f"event of {event.auction_id} applied to {self.stream_id}")
        if event.seq != self.last_seq + 1:
            raise ValueError(f"event seq {event.seq} does not follow {self.last_seq}")
        kind = type(event)
        name = _HANDLER_NAMES.get(kind)
        if name is None:
            name = _HANDLER_NAMES[kind] = f"_on_{kind.__name__}"
        getattr(self, name)(event)
        self.last_seq = event.seq
        text, at = self._last_at
        if event.at is not text:  # the events of one bulk decision share their time
            at = _compact_at(event.at)
            self._last_at = (event.at, at)
        if type(at) is int:
            self._event_at.append(at)
        else:
            self._event_at.append(_NO_MICROS)
            self._at_text[event.seq] = event.at
        if client_order_id := getattr(event, "client_order_id", None):
            cached = self._prints.pop(id(event), None)
            print_ = cached[1] if cached is not None and cached[0] is event else _print(event)
            self._event_prints.append(self._print_id(print_))
            if type(event) is ev.LimitOrderSubmitted:
                key = event.order_id  # "dealer/client_order_id", the book's own string
            else:
                dealer: str = getattr(event, "dealer")  # noqa: B009 - every such event has one
                key = f"{dealer}/{client_order_id}"
            self._submissions[key] = event.seq
        else:
            self._event_prints.append(-1)

    def _repeat(self, event: ev.Event) -> Decision | None:
        """The original acknowledgement when this client order id was used for the same thing."""
        dealer: str = getattr(event, "dealer")  # noqa: B009
        client_order_id: str = getattr(event, "client_order_id")  # noqa: B009
        print_ = _print(event)
        self._prints.clear()
        self._prints[id(event)] = (event, print_)
        ack = self._prior_ack(dealer, client_order_id, print_)
        return None if ack is None else _Decision((), ack)

    def _prior_ack(self, dealer: str, client_order_id: str, print_: str) -> Ack | None:
        """The acknowledgement (marked duplicate) of the dealer's accepted submission with
        this client order id, if its fingerprint is ``print_``; ALREADY_EXISTS if another."""
        seq = self._submissions.get(f"{dealer}/{client_order_id}")
        if seq is None:
            return None
        index = seq - self._first_seq
        if self._print_list[self._event_prints[index]] != print_:
            raise self._reused(dealer, client_order_id)
        micros = self._event_at[index]
        at = self._at_text[seq] if micros == _NO_MICROS else utc_text(micros)
        return Ack(seq, at, client_order_id, duplicate=True)

    def acks_snapshot(self) -> list[tuple[tuple[str, str], int]]:
        """(dealer, client order id) -> seq, for replay-equality snapshots."""
        pairs = [(key.split("/", 1), seq) for key, seq in self._submissions.items()]
        return sorted(((dealer, coid), seq) for (dealer, coid), seq in pairs)

    def _print_id(self, print_: str) -> int:
        """The index of an accepted submission's fingerprint in ``_print_list`` (added if new).

        Only accepted submissions add one, so refused requests cannot grow the list.
        """
        known = self._print_ids.get(print_)
        if known is None:
            known = self._print_ids[print_] = len(self._print_list)
            self._print_list.append(print_)
        return known

    def snapshot(self) -> dict[str, Any]:
        """Everything that defines the state, for replay-equality checks."""
        return {
            "phase": self.phase.value,
            "last_seq": self.last_seq,
            "markets": {d: dataclasses.asdict(m) for d, m in sorted(self.markets.items())},
            "requests": sorted(
                (dataclasses.asdict(r) for r in self.requests.values()),
                key=lambda r: r["request"]["seq"],
            ),
            "book": sorted(
                (dataclasses.asdict(o) for o in self.book.orders()), key=lambda o: o["order_id"]
            ),
            "result": self.result().to_dict(),
            "acks": self.acks_snapshot(),
            "disclosures": [d.to_dict() for d in self.disclosures],
            "phase_times": dict(self.phase_times),
        }

    @property
    def terminal(self) -> bool:
        """True once the auction is FINAL, FAILED or CANCELLED."""
        return self.phase in TERMINAL


def decline_kind(kind: str) -> str:
    """The kind of a declined customer request: PSR or LIMIT_ORDER."""
    kind_v = str(kind).upper()
    if kind_v not in ("PSR", "LIMIT_ORDER"):
        raise InvalidInput("kind", "must be PSR or LIMIT_ORDER")
    return kind_v


def decline_side(kind: str, side: str) -> str:
    """The side of a declined customer request of ``kind`` (a PSR's BUY/SELL, a limit
    order's BID/OFFER)."""
    return _side(side, "side").value if kind == "PSR" else _order_side(side).value


def decline_reason(reason: str) -> str:
    """The reason a dealer gives for a decline (required)."""
    if not reason.strip():
        raise InvalidInput("reason", "a decline needs a reason")
    return reason.strip()


def _side(value: Side | str, field: str) -> Side:
    try:
        return value if isinstance(value, Side) else Side(str(value).upper())
    except ValueError:
        raise InvalidInput(field, f"must be BUY or SELL, not {value!r}") from None


def _order_side(value: OrderSide | str) -> OrderSide:
    try:
        return value if isinstance(value, OrderSide) else OrderSide(str(value).upper())
    except ValueError:
        raise InvalidInput("side", f"must be BID or OFFER, not {value!r}") from None
