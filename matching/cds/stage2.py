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

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

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


class _FillPlan:
    """How every order fills, without a fill object per order until someone asks.

    ``groups`` are the clamped levels best first as (effective ticks, [level ticks]);
    groups before ``marginal`` fill in full, the marginal group shares ``left`` pro rata
    over its orders in walk order, later groups get nothing. ``marginal`` is
    ``len(groups)`` when the orders ran out (everything filled).
    """

    __slots__ = ("_fills", "book", "groups", "left", "marginal", "version")

    def __init__(
        self, book: SealedBook, groups: list[tuple[int, list[int]]], marginal: int, left: int
    ) -> None:
        self.book = book
        self.version = book.version
        self.groups = groups
        self.marginal = marginal
        self.left = left
        self._fills: tuple[OrderFill, ...] | None = None

    def fills(self) -> tuple[OrderFill, ...]:
        if self._fills is None:
            if self.book.version != self.version:
                raise RuntimeError("the book changed after it was cleared")
            out: list[OrderFill] = []
            for index, (effective, levels) in enumerate(self.groups):
                orders = [o for ticks in levels for o in self.book.level(ticks)]
                if index < self.marginal:
                    out.extend(_fill(o, effective, o.size) for o in orders)
                elif index == self.marginal:
                    shares = _split(self.left, orders)
                    out.extend(
                        _fill(o, effective, share) for o, share in zip(orders, shares, strict=True)
                    )
                else:
                    out.extend(_fill(o, effective, 0) for o in orders)
            self._fills = tuple(out)
        return self._fills


@dataclass(frozen=True, slots=True)
class Stage2Outcome:
    """The final price and every fill; ``insufficient`` when the orders ran out.

    ``order_fills`` (one per resting order, best level first, arrival order within a level;
    the level that sets the price shared pro rata) is built on first use: the price and the
    matched size need only the levels' totals. It reads the book as cleared, which a closed auction
    never changes (a RuntimeError says so if it did).
    """

    final_ticks: int
    cap_ticks: int
    matched_size: int
    insufficient: bool
    request_fills: tuple[RequestFill, ...]
    _plan: _FillPlan = field(repr=False, compare=False)

    @property
    def order_fills(self) -> tuple[OrderFill, ...]:
        """How much of each limit order traded."""
        return self._plan.fills()


def _split(amount: int, orders: list[BookOrder]) -> list[int]:
    """``matching.allocation.pro_rata`` over orders, vectorised when it can be exact.

    Same rule and result: floor shares, then one unit each to the largest remainders, ties
    to the lower ``seq`` (then the lower id, which only matters when two seqs are equal:
    then, or when a product could overflow int64, the shared function does it).
    """
    n = len(orders)
    sizes = [o.size for o in orders]
    total = sum(sizes)
    seqs = [o.seq for o in orders]
    if n < 1000 or total >= 2**62 or len(set(seqs)) != n:
        return pro_rata(amount, [Claim(o.order_id, o.size, o.seq) for o in orders])
    if amount < 0 or amount > total:
        raise ValueError(f"cannot allocate {amount} over claims totalling {total}")
    if amount == total:
        return sizes
    products = [amount * size for size in sizes]  # exact (Python ints)
    shares = [p // total for p in products]
    left = amount - sum(shares)
    if left:
        remainders = np.array([p % total for p in products], dtype=np.int64)  # < total
        best = np.lexsort((np.array(seqs, dtype=np.int64), -remainders))[:left]
        for i in best.tolist():
            shares[i] += 1
    return shares


def _clamped_groups(
    levels: list[tuple[int, int]], oi_side: Side, cap: int
) -> list[tuple[int, list[int], int]]:
    """(effective ticks, level ticks, total size) best first, every level beyond the cap
    merged into the cap level."""
    descending = oi_side is Side.SELL
    groups: list[tuple[int, list[int], int]] = []
    merged: list[int] = []
    merged_size = 0
    for ticks, size in levels:
        beyond = ticks > cap if descending else ticks < cap
        if beyond:
            merged.append(ticks)
            merged_size += size
            continue
        if merged:
            if ticks == cap:
                merged.append(ticks)
                merged_size += size
                continue
            groups.append((cap, merged, merged_size))
            merged, merged_size = [], 0
        groups.append((ticks, [ticks], size))
    if merged:
        groups.append((cap, merged, merged_size))
    return groups


def clear(
    params: AuctionParams,
    outcome: Stage1Outcome,
    book: SealedBook,
    requests: Sequence[SettlementRequest],
) -> Stage2Outcome:
    """Match the open interest against the book and find the final price.

    O(L) over the L price levels' running totals (the book keeps them as orders arrive):
    the final price and the matched size depend on nothing else. The split of the marginal
    level and the fill of every order are worked out on first use of ``order_fills``.
    """
    oi_side = outcome.oi_side
    imm = outcome.imm
    if oi_side is None or imm is None:
        raise ValueError("stage 2 needs a non-zero open interest and an IMM")
    cap = cap_price(params, imm, oi_side)
    remaining = abs(outcome.open_interest)
    groups = _clamped_groups(book.level_sizes(descending=oi_side is Side.SELL), oi_side, cap)
    final: int | None = None
    marginal = len(groups)
    left = 0
    for index, (effective, _, level_total) in enumerate(groups):
        if level_total < remaining:
            remaining -= level_total
            continue
        final = effective
        marginal = index
        left = remaining  # shared pro rata by the group's orders (see ``order_fills``)
        remaining = 0
        break
    insufficient = final is None
    if final is None:
        final = _exhausted_price(params, oi_side, [g[0] for g in groups])
    matched = abs(outcome.open_interest) - remaining
    return Stage2Outcome(
        final_ticks=final,
        cap_ticks=cap,
        matched_size=matched,
        insufficient=insufficient,
        request_fills=settle_requests(requests, oi_side, matched),
        _plan=_FillPlan(book, [(g[0], g[1]) for g in groups], marginal, left),
    )


def _exhausted_price(params: AuctionParams, oi_side: Side, effective: Sequence[int]) -> int:
    """The final price when every eligible order filled and open interest is left over.

    To sell: 0 (every bid is at 0 or above, so none trades above its limit). To buy: 100,
    or the highest matched offer when that is above 100, so that no offer is sold below its
    own limit (offers above par occur; auctions have fixed final prices up to 104.25).
    ``effective`` holds the (clamped) price of every level group; all of them filled.
    """
    if oi_side is Side.SELL:
        return 0
    return max([params.par_ticks, *effective])


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
