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
under the Rounding Convention (``matching.allocation``: rounded down to the rounding amount,
the remainder handed out a unit at a time to the largest order first, a residue below one
unit disregarded and reported). When the orders run out the final price is 0 (to sell) or
the greater of 100 and the highest offer received (to buy), every order fills, and the PSRs
on the open interest's side are matched pro rata under the same convention.

Pure functions; no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from matching.allocation import Allocation, Claim, pro_rata_rounded
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
    groups before ``marginal`` fill in full, the marginal group's orders (in walk order)
    get ``shares`` (the Rounding Convention's split, worked out at clearing), later groups
    get nothing. ``marginal`` is ``len(groups)`` when the orders ran out (everything filled).
    """

    __slots__ = ("_fills", "book", "groups", "marginal", "shares", "version")

    def __init__(
        self,
        book: SealedBook,
        groups: list[tuple[int, list[int]]],
        marginal: int,
        shares: list[int],
    ) -> None:
        self.book = book
        self.version = book.version
        self.groups = groups
        self.marginal = marginal
        self.shares = shares
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
                    out.extend(
                        _fill(o, effective, share)
                        for o, share in zip(orders, self.shares, strict=True)
                    )
                else:
                    out.extend(_fill(o, effective, 0) for o in orders)
            self._fills = tuple(out)
        return self._fills


@dataclass(frozen=True, slots=True)
class Stage2Outcome:
    """The final price and every fill; ``insufficient`` when the orders ran out.

    ``matched_size`` is what the limit orders bought (or sold): |OI| less ``residue``, the
    part below one rounding amount the Rounding Convention leaves unallocated at the final
    price (or, when the orders ran out, |OI| less what was left over). ``request_residue``
    is the same for the settlement requests on the open interest's side when they are
    scaled down. ``order_fills`` (one per resting order, best level first, arrival order
    within a level) is built on first use; it reads the book as cleared, which a closed
    auction never changes (a RuntimeError says so if it did).
    """

    final_ticks: int
    cap_ticks: int
    matched_size: int
    insufficient: bool
    request_fills: tuple[RequestFill, ...]
    _plan: _FillPlan = field(repr=False, compare=False)
    residue: int = 0
    request_residue: int = 0
    excluded: tuple[tuple[BookOrder, str], ...] = ()

    @property
    def order_fills(self) -> tuple[OrderFill, ...]:
        """How much of each limit order traded."""
        return self._plan.fills()


def _split(amount: int, orders: list[BookOrder], unit: int) -> Allocation:
    """The Rounding Convention's split of ``amount`` over the orders at the final price."""
    return pro_rata_rounded(amount, [Claim(o.order_id, o.size, o.seq) for o in orders], unit)


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
    excluded: Sequence[tuple[BookOrder, str]] = (),
) -> Stage2Outcome:
    """Match the open interest against the book and find the final price.

    ``requests`` are the valid settlement requests; ``excluded`` orders (with the reason)
    were submitted but do not count (a customer's orders over all dealers beyond the open
    interest): they are left out of ``book`` before matching. O(L) over the L price levels'
    running totals to find the price, plus the orders of the one level that sets it.
    """
    oi_side = outcome.oi_side
    imm = outcome.imm
    if oi_side is None or imm is None:
        raise ValueError("stage 2 needs a non-zero open interest and an IMM")
    if excluded:
        book = _without(book, {o.order_id for o, _ in excluded})
    unit = params.rounding_amount
    cap = cap_price(params, imm, oi_side)
    oi = abs(outcome.open_interest)
    remaining = oi
    level_sizes = book.level_sizes(descending=oi_side is Side.SELL)
    groups = _clamped_groups(level_sizes, oi_side, cap)
    final: int | None = None
    marginal = len(groups)
    shares: list[int] = []
    residue = 0
    for index, (effective, levels, level_total) in enumerate(groups):
        if level_total < remaining:
            remaining -= level_total
            continue
        final = effective
        marginal = index
        orders = [o for ticks in levels for o in book.level(ticks)]
        split = _split(remaining, orders, unit)
        shares, residue = split.shares, split.residue
        remaining = 0
        break
    insufficient = final is None
    if final is None:
        final = _exhausted_price(params, oi_side, [ticks for ticks, _ in level_sizes])
    matched = oi - remaining - residue
    request_fills, request_residue = settle_requests(requests, oi_side, matched, unit)
    return Stage2Outcome(
        final_ticks=final,
        cap_ticks=cap,
        matched_size=matched,
        insufficient=insufficient,
        request_fills=request_fills,
        _plan=_FillPlan(book, [(g[0], g[1]) for g in groups], marginal, shares),
        residue=residue,
        request_residue=request_residue,
        excluded=tuple(excluded),
    )


def _without(book: SealedBook, order_ids: set[str]) -> SealedBook:
    """A copy of ``book`` without the given orders (the original is left as it is)."""
    copy = SealedBook()
    for order in sorted(book.orders(), key=lambda o: o.seq):
        if order.order_id not in order_ids:
            copy.add(order)
    return copy


def _exhausted_price(params: AuctionParams, oi_side: Side, limits: Sequence[int]) -> int:
    """The final price when every eligible order filled and open interest is left over.

    To sell: 0. To buy: the greater of 100 and the highest offer received (``limits`` are
    the limit prices of every resting offer level), so that no offer sells below its limit.
    """
    if oi_side is Side.SELL:
        return 0
    return max([params.par_ticks, *limits])


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
    requests: Sequence[SettlementRequest], oi_side: Side | None, matched_limit: int, unit: int
) -> tuple[tuple[RequestFill, ...], int]:
    """Each valid PSR's settled size, and the residue the Rounding Convention left.

    Requests settle in full, except on the open interest's side when the limit orders did
    not match all of it: that side trades the opposing requests plus what the limit orders
    matched, shared pro rata over its requests under the Rounding Convention.
    """
    buys = sum(r.size for r in requests if r.side is Side.BUY)
    sells = sum(r.size for r in requests if r.side is Side.SELL)
    scaled: dict[int, int] = {}
    residue = 0
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
        split = pro_rata_rounded(executable, claims, unit)
        residue = split.residue
        for i, share in zip(own, split.shares, strict=True):
            scaled[i] = share
    fills = tuple(
        RequestFill(r.dealer, r.customer, r.side, r.size, scaled.get(i, r.size))
        for i, r in enumerate(requests)
    )
    return fills, residue
