"""Stage 2 of the ISDA auction: carry-over, cap clamping, matching and the final price.

Only orders on the side opposite the open interest take part (bids when it is to sell,
offers when it is to buy). Every dealer's stage-1 quote on that side is carried over as a
limit order of the quotation amount: at its own price when it was not in a tradeable pair,
at the IMM when it was a tradeable quote beyond the IMM (bid: min(bid, IMM); offer:
max(offer, IMM)).

Each order's price is clamped to the cap (IMM + cap when the open interest is to sell, IMM -
cap when to buy) before matching, so orders at or beyond the cap share the capped price pro
rata. The book is walked best first; the final price is the (clamped) price of the last
order needed; better orders fill in full, orders at the final price share the rest pro rata
(``matching.allocation``). When the orders run out the final price is 0 (to sell) or 100
(to buy; the highest matched offer if that is above 100, so no offer sells below its limit),
every order fills, and the PSRs on the open interest's side are scaled down.

Pure functions; no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from matching.allocation import Claim, pro_rata
from matching.book import BookOrder, SealedBook
from matching.cds.params import AuctionParams, OrderSide, Side
from matching.cds.stage1 import InitialMarket, SettlementRequest, Stage1Outcome


def eligible_side(oi_side: Side) -> OrderSide:
    """Limit orders that can meet the open interest: bids against sells, offers against buys."""
    return OrderSide.BID if oi_side is Side.SELL else OrderSide.OFFER


def carried_over(
    params: AuctionParams, outcome: Stage1Outcome, markets: Sequence[InitialMarket]
) -> list[BookOrder]:
    """Stage-1 quotes on the eligible side, as stage-2 limit orders of the quotation amount."""
    side = outcome.oi_side
    imm = outcome.imm
    if side is None or imm is None:
        return []
    if side is Side.SELL:
        tradeable = {p.bid.dealer for p in outcome.matched if p.tradeable}
    else:
        tradeable = {p.offer.dealer for p in outcome.matched if p.tradeable}
    orders = []
    for m in markets:
        if side is Side.SELL:
            ticks = min(m.bid, imm) if m.dealer in tradeable else m.bid
        else:
            ticks = max(m.offer, imm) if m.dealer in tradeable else m.offer
        orders.append(
            BookOrder(
                order_id=carried_order_id(m.dealer),
                owner=m.dealer,
                ticks=ticks,
                size=params.quotation_amount,
                seq=m.seq,
                carried=True,
            )
        )
    return orders


def carried_order_id(dealer: str) -> str:
    """The book id of a dealer's carried-over initial market (client ids never hold '~')."""
    return f"{dealer}/~initial-market"


def cap_price(params: AuctionParams, imm: int, oi_side: Side) -> int:
    """The bound the final price may not pass against the open interest."""
    return imm + params.cap_ticks if oi_side is Side.SELL else imm - params.cap_ticks


@dataclass(frozen=True, slots=True)
class OrderFill:
    """How much of one limit order traded (``size`` 0 when it did not)."""

    order_id: str
    dealer: str
    limit_ticks: int
    effective_ticks: int
    order_size: int
    size: int
    seq: int
    carried: bool
    customer: str | None


@dataclass(frozen=True, slots=True)
class RequestFill:
    """How much of one physical settlement request settles at the final price."""

    dealer: str
    customer: str | None
    side: Side
    requested: int
    size: int


@dataclass(frozen=True, slots=True)
class Stage2Outcome:
    """The final price and every fill; ``insufficient`` when the orders ran out."""

    final_ticks: int
    cap_ticks: int
    matched_size: int
    insufficient: bool
    order_fills: tuple[OrderFill, ...]
    request_fills: tuple[RequestFill, ...]


def _clamped_groups(
    book: SealedBook, oi_side: Side, cap: int
) -> Iterator[tuple[int, list[BookOrder]]]:
    """Levels best first with every level beyond the cap merged into the cap level."""
    descending = oi_side is Side.SELL
    merged: list[BookOrder] = []
    for ticks, orders in book.levels(descending=descending):
        beyond = ticks > cap if descending else ticks < cap
        if beyond:
            merged.extend(orders)
            continue
        if merged:
            if ticks == cap:
                merged.extend(orders)
                continue
            yield cap, merged
            merged = []
        yield ticks, orders
    if merged:
        yield cap, merged


def clear(
    params: AuctionParams,
    outcome: Stage1Outcome,
    book: SealedBook,
    requests: Sequence[SettlementRequest],
) -> Stage2Outcome:
    """Match the open interest against the book and find the final price."""
    oi_side = outcome.oi_side
    imm = outcome.imm
    if oi_side is None or imm is None:
        raise ValueError("stage 2 needs a non-zero open interest and an IMM")
    cap = cap_price(params, imm, oi_side)
    remaining = abs(outcome.open_interest)
    fills: list[OrderFill] = []
    final: int | None = None
    for effective, orders in _clamped_groups(book, oi_side, cap):
        if final is not None:
            fills.extend(_fill(o, effective, 0) for o in orders)
            continue
        level_total = sum(o.size for o in orders)
        if level_total < remaining:
            fills.extend(_fill(o, effective, o.size) for o in orders)
            remaining -= level_total
            continue
        final = effective
        claims = [Claim(o.order_id, o.size, o.seq) for o in orders]
        for order, share in zip(orders, pro_rata(remaining, claims), strict=True):
            fills.append(_fill(order, effective, share))
        remaining = 0
    insufficient = final is None
    if final is None:
        final = _exhausted_price(params, oi_side, fills)
    matched = abs(outcome.open_interest) - remaining
    return Stage2Outcome(
        final_ticks=final,
        cap_ticks=cap,
        matched_size=matched,
        insufficient=insufficient,
        order_fills=tuple(fills),
        request_fills=settle_requests(requests, oi_side, matched),
    )


def _exhausted_price(params: AuctionParams, oi_side: Side, fills: Sequence[OrderFill]) -> int:
    """The final price when every eligible order filled and open interest is left over.

    To sell: 0 (every bid is at 0 or above, so none trades above its limit). To buy: 100,
    or the highest matched offer when that is above 100, so that no offer is sold below its
    own limit (offers above par occur; auctions have fixed final prices up to 104.25).
    """
    if oi_side is Side.SELL:
        return 0
    return max([params.par_ticks, *(f.effective_ticks for f in fills if f.size > 0)])


def _fill(order: BookOrder, effective: int, size: int) -> OrderFill:
    return OrderFill(
        order_id=order.order_id,
        dealer=order.owner,
        limit_ticks=order.ticks,
        effective_ticks=effective,
        order_size=order.size,
        size=size,
        seq=order.seq,
        carried=order.carried,
        customer=order.customer,
    )


def settle_requests(
    requests: Sequence[SettlementRequest], oi_side: Side | None, matched_limit: int
) -> tuple[RequestFill, ...]:
    """Each PSR's settled size: in full, except the open interest's side when orders ran out.

    The open interest's side trades the opposing PSRs plus what the limit orders matched;
    when that falls short of its total, each of its requests is scaled down pro rata.
    """
    buys = sum(r.size for r in requests if r.side is Side.BUY)
    sells = sum(r.size for r in requests if r.side is Side.SELL)
    scaled: dict[int, int] = {}
    if oi_side is not None:
        own = [i for i, r in enumerate(requests) if r.side is oi_side and r.size > 0]
        opposing = sells if oi_side is Side.BUY else buys
        executable = opposing + matched_limit
        claims = [
            Claim(
                f"{requests[i].dealer}/{requests[i].customer or ''}",
                requests[i].size,
                requests[i].seq,
            )
            for i in own
        ]
        for i, share in zip(own, pro_rata(executable, claims), strict=True):
            scaled[i] = share
    return tuple(
        RequestFill(r.dealer, r.customer, r.side, r.size, scaled.get(i, r.size))
        for i, r in enumerate(requests)
    )
