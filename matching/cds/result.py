"""What an auction publishes: stage-1 figures, the final price and every fill, as decimal strings.

``build_result`` reads an auction's state; ``AuctionResult.to_dict`` is the JSON shape the CLI
prints and tests compare (the server's protobuf result carries the same fields). Nothing is
included before the window that produced it has closed.

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
        }


def build_result(auction: CdsAuction) -> AuctionResult:
    """Assemble the publication from the auction's state.

    Stage-1 figures exist only once stage 1 has closed and fills only once stage 2 has, so
    nothing of a sealed book can leak through here.
    """
    grid = auction.params.grid
    s1 = auction.stage1
    s2 = auction.stage2
    final: int | None = None
    if s2 is not None:
        final = s2.final_ticks
    elif s1 is not None and s1.imm is not None and s1.oi_side is None and not s1.failure:
        final = s1.imm
    reason = auction.cancel_reason if auction.phase is Phase.CANCELLED else None
    if s1 is not None and s1.failure:
        reason = s1.failure

    matched: tuple[MatchedMarketRow, ...] = ()
    adjustments: tuple[AdjustmentRow, ...] = ()
    if s1 is not None:
        non_tradeable = [m for m in s1.matched if not m.tradeable]
        best = {id(m) for m in non_tradeable[: s1.best_half]}
        matched = tuple(
            MatchedMarketRow(
                m.bid.dealer,
                grid.format(m.bid.ticks),
                m.offer.dealer,
                grid.format(m.offer.ticks),
                m.tradeable,
                id(m) in best,
            )
            for m in s1.matched
        )
        adjustments = tuple(AdjustmentRow(a.dealer, str(a.amount)) for a in s1.adjustments)

    trades: tuple[TradeRow, ...] = ()
    fills: tuple[FillRow, ...] = ()
    if final is not None and s1 is not None:
        request_fills = (
            s2.request_fills
            if s2 is not None
            else settle_requests(
                sorted((r.request for r in auction.requests.values()), key=lambda r: r.seq),
                None,
                0,
            )
        )
        price = grid.format(final)
        trades = tuple(
            TradeRow(f.dealer, f.customer, f.side.value, price, str(f.requested), str(f.size))
            for f in request_fills  # in submission order
            if f.requested > 0
        )
    if s2 is not None and s1 is not None and s1.oi_side is not None:
        side = eligible_side(s1.oi_side).value
        fills = tuple(
            FillRow(
                dealer=f.dealer,
                order_id=f.order_id,
                customer=f.customer,
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
    )
