"""What an auction publishes: stage-1 figures, the final price and every fill, as decimal strings.

``build_result`` reads an auction's state; ``AuctionResult.to_dict`` is the JSON shape the CLI
prints and tests compare (the server's protobuf result carries the same fields). Nothing is
included before the window that produced it has closed. Dealers appear under their
published names; customer ids only for whom ``customers_of`` allows (operators: all; a
dealer: its own customers; anybody else: none). The public results in the creditfixings
shape are ``matching.cds.publication``.

No I/O; formatting only, no auction rule is decided here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from matching.cds.phases import Phase
from matching.cds.stage2 import eligible_side, settle_requests

if TYPE_CHECKING:
    from matching.cds.auction import CdsAuction


@dataclass(frozen=True, slots=True)
class MatchedMarketRow:
    """A published matched market: the i-th bid and i-th offer."""

    bid_dealer: str
    bid: str
    offer_dealer: str
    offer: str
    tradeable: bool
    in_best_half: bool


@dataclass(frozen=True, slots=True)
class AdjustmentRow:
    """An adjustment amount owed by a dealer."""

    dealer: str
    amount: str


@dataclass(frozen=True, slots=True)
class TradeRow:
    """A market position trade: a PSR settling at the final price (``filled`` of ``size``)."""

    dealer: str
    customer: str | None
    side: str
    price: str
    size: str
    filled: str


@dataclass(frozen=True, slots=True)
class FillRow:
    """A limit order and how much of it filled; ``status`` FILLED, PARTIAL or UNFILLED."""

    dealer: str
    order_id: str
    customer: str | None
    side: str
    price: str
    effective_price: str
    size: str
    filled: str
    status: str
    carried_over: bool


@dataclass(frozen=True, slots=True)
class InvalidRequestRow:
    """A settlement request that did not count, and why."""

    dealer: str
    customer: str | None
    side: str
    size: str
    reason: str


@dataclass(frozen=True, slots=True)
class ExcludedOrderRow:
    """A limit order that did not count, and why."""

    dealer: str
    order_id: str
    customer: str | None
    price: str
    size: str
    reason: str


@dataclass(frozen=True, slots=True)
class BiddingPeriodRow:
    """One initial bidding period that closed: its number, when, and why it failed."""

    attempt: int
    closed_at: str
    failure: str | None


@dataclass(frozen=True, slots=True)
class DeclineRow:
    """A customer request a dealer declined (never public)."""

    dealer: str
    customer: str
    kind: str
    side: str
    size: str
    price: str | None
    reason: str
    at: str


@dataclass(frozen=True, slots=True)
class AuctionResult:
    """The publication of one auction at its current phase."""

    auction_id: str
    currency: str
    status: str
    reason: str | None
    initial_market_midpoint: str | None
    open_interest_side: str
    open_interest_size: str
    adjustment_amounts: tuple[AdjustmentRow, ...]
    matched_markets: tuple[MatchedMarketRow, ...]
    final_price: str | None
    settlement_price: str | None
    market_position_trades: tuple[TradeRow, ...]
    limit_order_fills: tuple[FillRow, ...]
    rounding_amount: str = "1000"
    limit_order_residue: str = "0"
    request_residue: str = "0"
    invalid_requests: tuple[InvalidRequestRow, ...] = ()
    excluded_orders: tuple[ExcludedOrderRow, ...] = ()
    bidding_periods: tuple[BiddingPeriodRow, ...] = ()
    declines: tuple[DeclineRow, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON result: every number a decimal string."""
        return {
            "auction_id": self.auction_id,
            "currency": self.currency,
            "status": self.status,
            "reason": self.reason,
            "initial_market_midpoint": self.initial_market_midpoint,
            "open_interest": {"side": self.open_interest_side, "size": self.open_interest_size},
            "adjustment_amounts": [dataclasses.asdict(a) for a in self.adjustment_amounts],
            "matched_markets": [dataclasses.asdict(m) for m in self.matched_markets],
            "final_price": self.final_price,
            "settlement_price": self.settlement_price,
            "market_position_trades": [dataclasses.asdict(t) for t in self.market_position_trades],
            "limit_order_fills": [dataclasses.asdict(f) for f in self.limit_order_fills],
            "rounding_amount": self.rounding_amount,
            "residue": {
                "limit_orders": self.limit_order_residue,
                "settlement_requests": self.request_residue,
            },
            "invalid_settlement_requests": [dataclasses.asdict(r) for r in self.invalid_requests],
            "excluded_limit_orders": [dataclasses.asdict(r) for r in self.excluded_orders],
            "initial_bidding_periods": [dataclasses.asdict(p) for p in self.bidding_periods],
            "customer_declines": [dataclasses.asdict(d) for d in self.declines],
        }


def build_result(auction: CdsAuction, *, customers_of: str | bool | None = True) -> AuctionResult:
    """Assemble the publication from the auction's state.

    Stage-1 figures exist only once stage 1 has closed and fills only once stage 2 has, so
    nothing of a sealed book can leak through here. ``customers_of``: True shows every
    customer id, a dealer id only that dealer's customers, False/None none.
    """
    grid = auction.params.grid
    name = auction.name_of

    def customer(dealer: str, value: str | None) -> str | None:
        if value is None or customers_of is True:
            return value
        return value if isinstance(customers_of, str) and customers_of == dealer else None

    s1 = auction.stage1
    s2 = auction.stage2
    final: int | None = None
    if s2 is not None:
        final = s2.final_ticks
    elif s1 is not None and s1.imm is not None and s1.oi_side is None and not s1.failure:
        final = s1.imm
    reason = auction.cancel_reason if auction.phase is Phase.CANCELLED else None
    if s1 is not None and s1.failure and reason is None:
        reason = s1.failure

    matched: tuple[MatchedMarketRow, ...] = ()
    adjustments: tuple[AdjustmentRow, ...] = ()
    if s1 is not None:
        non_tradeable = [m for m in s1.matched if not m.tradeable]
        best = {id(m) for m in non_tradeable[: s1.best_half]}
        matched = tuple(
            MatchedMarketRow(
                name(m.bid.dealer),
                grid.format(m.bid.ticks),
                name(m.offer.dealer),
                grid.format(m.offer.ticks),
                m.tradeable,
                id(m) in best,
            )
            for m in s1.matched
        )
        adjustments = tuple(AdjustmentRow(name(a.dealer), str(a.amount)) for a in s1.adjustments)

    trades: tuple[TradeRow, ...] = ()
    fills: tuple[FillRow, ...] = ()
    if final is not None and s1 is not None:
        request_fills = (
            s2.request_fills
            if s2 is not None
            else settle_requests(s1.requests, None, 0, auction.params.rounding_amount)[0]
        )
        price = grid.format(final)
        trades = tuple(
            TradeRow(
                name(f.dealer),
                customer(f.dealer, f.customer),
                f.side.value,
                price,
                str(f.requested),
                str(f.size),
            )
            for f in request_fills  # in submission order
            if f.requested > 0
        )
    if s2 is not None and s1 is not None and s1.oi_side is not None:
        side = eligible_side(s1.oi_side).value
        fills = tuple(
            FillRow(
                dealer=name(f.dealer),
                order_id=f.order_id,
                customer=customer(f.dealer, f.customer),
                side=side,
                price=grid.format(f.limit_ticks),
                effective_price=grid.format(f.effective_ticks),
                size=str(f.order_size),
                filled=str(f.size),
                status="FILLED"
                if f.size == f.order_size
                else ("PARTIAL" if f.size else "UNFILLED"),
                carried_over=f.carried,
            )
            for f in s2.order_fills
        )
    invalid: tuple[InvalidRequestRow, ...] = ()
    if s1 is not None:
        invalid = tuple(
            InvalidRequestRow(
                name(i.request.dealer),
                customer(i.request.dealer, i.request.customer),
                i.request.side.value,
                str(i.request.size),
                i.reason,
            )
            for i in s1.invalid
        )
    excluded: tuple[ExcludedOrderRow, ...] = ()
    if s2 is not None:
        excluded = tuple(
            ExcludedOrderRow(
                name(o.owner),
                o.order_id,
                customer(o.owner, o.customer),
                grid.format(o.ticks),
                str(o.size),
                reason,
            )
            for o, reason in s2.excluded
        )
    declines = tuple(
        DeclineRow(name(d.dealer), d.customer, d.kind, d.side, d.size, d.price, d.reason, d.at)
        for d in auction.declines
        if customers_of is True or (isinstance(customers_of, str) and customers_of == d.dealer)
    )
    par = auction.params.par_ticks
    return AuctionResult(
        auction_id=auction.auction_id,
        currency=auction.params.currency,
        status=auction.phase.value,
        reason=reason,
        initial_market_midpoint=(
            grid.format(s1.imm) if s1 is not None and s1.imm is not None else None
        ),
        open_interest_side=(s1.oi_side.value if s1 is not None and s1.oi_side else "NONE"),
        open_interest_size=str(abs(s1.open_interest)) if s1 is not None else "0",
        adjustment_amounts=adjustments,
        matched_markets=matched,
        final_price=None if final is None else grid.format(final),
        settlement_price=None if final is None else grid.format(min(final, par)),
        market_position_trades=trades,
        limit_order_fills=fills,
        rounding_amount=str(auction.params.rounding_amount),
        limit_order_residue=str(s2.residue if s2 is not None else 0),
        request_residue=str(s2.request_residue if s2 is not None else 0),
        invalid_requests=invalid,
        excluded_orders=excluded,
        bidding_periods=tuple(BiddingPeriodRow(*p) for p in auction.bidding_periods),
        declines=declines,
    )
