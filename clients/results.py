"""The wire ``AuctionResult`` as the JSON result dict the offline replay prints.

Both ``closeout cds run`` paths (offline, and ``--target`` a live server) print through the
same dict shape, so an online run can be compared with the offline one field by field.
``rename`` maps participant ids back to the scenario's dealer names. Conversion only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from closeout.v1 import auction_pb2 as apb
from closeout.v1 import operator_pb2 as opb

_SIDE = {apb.SIDE_BUY: "BUY", apb.SIDE_SELL: "SELL", apb.SIDE_UNSPECIFIED: "NONE"}
_ORDER_SIDE = {apb.ORDER_SIDE_BID: "BID", apb.ORDER_SIDE_OFFER: "OFFER"}
_STATUS = {
    opb.FILL_STATUS_FILLED: "FILLED",
    opb.FILL_STATUS_PARTIAL: "PARTIAL",
    opb.FILL_STATUS_UNFILLED: "UNFILLED",
}


def phase_name(value: int) -> str:
    """``PHASE_FINAL`` -> ``FINAL``."""
    return apb.Phase.Name(value).removeprefix("PHASE_")  # type: ignore[arg-type]


def side_name(value: int) -> str:
    """``SIDE_SELL`` -> ``SELL``; unspecified -> ``NONE``."""
    return _SIDE[value]  # type: ignore[index]


def result_to_dict(
    msg: opb.AuctionResult, rename: Callable[[str], str] = lambda d: d
) -> dict[str, Any]:
    """The JSON result (``AuctionResult.to_dict`` shape); every number a decimal string."""

    def order_id(value: str) -> str:
        dealer, _, rest = value.partition("/")
        return f"{rename(dealer)}/{rest}"

    return {
        "auction_id": msg.auction_id,
        "currency": msg.currency,
        "status": phase_name(msg.status),
        "reason": msg.reason or None,
        "initial_market_midpoint": msg.initial_market_midpoint or None,
        "open_interest": {
            "side": _SIDE[msg.open_interest_side],
            "size": str(msg.open_interest_size),
        },
        "adjustment_amounts": [
            {"dealer": rename(a.dealer), "amount": a.amount} for a in msg.adjustment_amounts
        ],
        "matched_markets": [
            {
                "bid_dealer": rename(m.bid_dealer),
                "bid": m.bid,
                "offer_dealer": rename(m.offer_dealer),
                "offer": m.offer,
                "tradeable": m.tradeable,
                "in_best_half": m.in_best_half,
            }
            for m in msg.matched_markets
        ],
        "final_price": msg.final_price or None,
        "settlement_price": msg.settlement_price or None,
        "market_position_trades": [
            {
                "dealer": rename(t.dealer),
                "customer": t.customer or None,
                "side": _SIDE[t.side],
                "price": t.price,
                "size": str(t.size),
                "filled": str(t.filled),
            }
            for t in msg.market_position_trades
        ],
        "limit_order_fills": [
            {
                "dealer": rename(f.dealer),
                "order_id": order_id(f.order_id),
                "customer": f.customer or None,
                "side": _ORDER_SIDE[f.side],
                "price": f.price,
                "effective_price": f.effective_price,
                "size": str(f.size),
                "filled": str(f.filled),
                "status": _STATUS[f.status],
                "carried_over": f.carried_over,
            }
            for f in msg.limit_order_fills
        ],
    }
