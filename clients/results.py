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
        "rounding_amount": str(msg.rounding_amount),
        "residue": {
            "limit_orders": str(msg.limit_order_residue),
            "settlement_requests": str(msg.request_residue),
        },
        "invalid_settlement_requests": [
            {
                "dealer": rename(r.dealer),
                "customer": r.customer or None,
                "side": _SIDE[r.side],
                "size": str(r.size),
                "reason": r.reason,
            }
            for r in msg.invalid_settlement_requests
        ],
        "excluded_limit_orders": [
            {
                "dealer": rename(o.dealer),
                "order_id": order_id(o.order_id),
                "customer": o.customer or None,
                "price": o.price,
                "size": str(o.size),
                "reason": o.reason,
            }
            for o in msg.excluded_limit_orders
        ],
        "initial_bidding_periods": [
            {"attempt": p.attempt, "closed_at": p.closed_at, "failure": p.failure or None}
            for p in msg.initial_bidding_periods
        ],
        "customer_declines": [
            {
                "dealer": rename(d.dealer),
                "customer": d.customer,
                "kind": d.kind,
                "side": d.side,
                "size": str(d.size),
                "price": d.price or None,
                "reason": d.reason,
                "at": d.at,
            }
            for d in msg.customer_declines
        ],
    }


def public_result_to_dict(msg: opb.PublicResult) -> dict[str, Any]:
    """The public results as JSON (``PublicResult.to_dict`` shape of the engine)."""
    return {
        "auction_id": msg.auction_id,
        "auction_set": msg.auction_set or None,
        "currency": msg.currency,
        "status": phase_name(msg.status),
        "reason": msg.reason or None,
        "final_price_date": msg.final_price_date or None,
        "initial_market_midpoint": msg.initial_market_midpoint or None,
        "open_interest": {
            "side": _SIDE[msg.open_interest_side],
            "size": str(msg.open_interest_size),
        },
        "final_price": msg.final_price or None,
        "rounding_amount": str(msg.rounding_amount),
        "initial_markets": [
            {"dealer": m.dealer, "bid": m.bid, "offer": m.offer} for m in msg.initial_markets
        ],
        "matched_markets": [
            {
                "bid_dealer": m.bid_dealer,
                "bid": m.bid,
                "offer": m.offer,
                "offer_dealer": m.offer_dealer,
                "tradeable": m.tradeable,
            }
            for m in msg.matched_markets
        ],
        "adjustment_amounts": [
            {
                "dealer": a.dealer,
                "amount": a.amount,
                "currency": a.currency,
                "payment_date": a.payment_date or None,
            }
            for a in msg.adjustment_amounts
        ],
        "physical_settlement_requests": [
            {"dealer": r.dealer, "side": _SIDE[r.side], "size": str(r.size)}
            for r in msg.physical_settlement_requests
        ],
        "limit_orders": [
            {
                "dealer": o.dealer,
                "side": _ORDER_SIDE[o.side],
                "price": o.price,
                "size": str(o.size),
                "filled": str(o.filled),
                "status": _STATUS[o.status],
                "from_initial_market": o.from_initial_market,
            }
            for o in msg.limit_orders
        ],
    }


def statement_to_dict(msg: opb.SettlementStatement) -> dict[str, Any]:
    """A settlement statement as JSON (``SettlementStatement.to_dict`` shape)."""
    return {
        "auction_id": msg.auction_id,
        "dealer": msg.dealer,
        "currency": msg.currency,
        "final_price": msg.final_price,
        "lines": [
            {
                "kind": line.kind,
                "reference": line.reference,
                "customer": line.customer or None,
                "direction": line.direction,
                "size": str(line.size),
                "price": line.price,
                "cash": line.cash,
            }
            for line in msg.lines
        ],
        "bonds_bought": str(msg.bonds_bought),
        "bonds_sold": str(msg.bonds_sold),
        "cash_paid": msg.cash_paid,
        "cash_received": msg.cash_received,
        "net_cash": msg.net_cash,
        "adjustment_amount": msg.adjustment_amount,
        "adjustment_payment_date": msg.adjustment_payment_date or None,
    }
