"""Stage 1 of the ISDA auction: matched markets, the inside market midpoint, open interest.

Given the valid initial markets and physical settlement requests (PSRs) at the close of the
first window, compute everything the administrator publishes:

1. Bids sorted descending and offers ascending, independently of who sent them; the i-th bid
   pairs with the i-th offer. Ties among equal prices by time of receipt, **the earlier one
   counting as the worse**: of equal bids the one received first sorts lower, of equal
   offers the one received first sorts higher (this decides which dealer's quote sits in a
   tradeable pair, pays the adjustment amount and is carried over at the IMM).
2. Pairs with bid >= offer are tradeable and left out of the midpoint.
3. Of the n other pairs take the best ceil(n/2); the IMM is the mean of those 2*ceil(n/2)
   prices rounded to the increment, exact halves up (or down, by parameter). n = 0 fails.
4. Only PSRs of dealers with a valid initial market at the close count (the others are
   reported invalid, with the reason); open interest = BUY PSRs - SELL PSRs; min(buys,
   sells) is matched as market position trades.
5. Adjustment amounts for tradeable quotes on the off-market side of the open interest.

Pure functions over immutable values; no I/O, no clock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from matching.cds.params import AuctionParams, MidpointRounding, Side


@dataclass(frozen=True, slots=True)
class InitialMarket:
    """A dealer's two-way market as accepted (already validated): prices in ticks."""

    dealer: str
    bid: int
    offer: int
    seq: int


@dataclass(frozen=True, slots=True)
class SettlementRequest:
    """A physical settlement request as accepted; ``customer`` is None for the dealer's own."""

    dealer: str
    side: Side
    size: int
    seq: int
    customer: str | None = None
    market_position: int | None = None


@dataclass(frozen=True, slots=True)
class Quote:
    """One side of a dealer's market as it sits in the sorted columns."""

    dealer: str
    ticks: int
    seq: int


@dataclass(frozen=True, slots=True)
class MatchedMarket:
    """The i-th best bid paired with the i-th best offer."""

    bid: Quote
    offer: Quote

    @property
    def tradeable(self) -> bool:
        """Crossing or touching: bid >= offer."""
        return self.bid.ticks >= self.offer.ticks


@dataclass(frozen=True, slots=True)
class Adjustment:
    """An amount a dealer pays the administrator for an off-market tradeable quote."""

    dealer: str
    amount: int
    quote: Quote


@dataclass(frozen=True, slots=True)
class InvalidRequest:
    """A settlement request that does not count, and why."""

    request: SettlementRequest
    reason: str


@dataclass(frozen=True, slots=True)
class Stage1Outcome:
    """What stage 1 publishes. ``failure`` is set (and the rest empty) when stage 1 fails.

    ``requests`` are the valid settlement requests (the ones that make the open interest),
    ``invalid`` the others with their reasons.
    """

    failure: str | None
    matched: tuple[MatchedMarket, ...]
    best_half: int
    imm: int | None
    buy_total: int
    sell_total: int
    adjustments: tuple[Adjustment, ...]
    requests: tuple[SettlementRequest, ...] = ()
    invalid: tuple[InvalidRequest, ...] = ()
    #: True when stage 1 failed for too few valid initial markets (it may be run again).
    too_few_markets: bool = False

    @property
    def open_interest(self) -> int:
        """Signed: positive to buy, negative to sell."""
        return self.buy_total - self.sell_total

    @property
    def oi_side(self) -> Side | None:
        """Direction of the open interest, None when it is zero."""
        oi = self.open_interest
        return None if oi == 0 else (Side.BUY if oi > 0 else Side.SELL)

    @property
    def market_position_trades(self) -> int:
        """Size of opposing PSRs matched against each other."""
        return min(self.buy_total, self.sell_total)


def sort_bids(markets: Sequence[InitialMarket]) -> list[Quote]:
    """Bids best (highest) first; of equal bids the one received first counts as lower."""
    quotes = [Quote(m.dealer, m.bid, m.seq) for m in markets]
    return sorted(quotes, key=lambda q: (-q.ticks, -q.seq, q.dealer))


def sort_offers(markets: Sequence[InitialMarket]) -> list[Quote]:
    """Offers best (lowest) first; of equal offers the one received first counts as higher."""
    quotes = [Quote(m.dealer, m.offer, m.seq) for m in markets]
    return sorted(quotes, key=lambda q: (q.ticks, -q.seq, q.dealer))


def match_markets(markets: Sequence[InitialMarket]) -> tuple[MatchedMarket, ...]:
    """Pair the sorted bid and offer columns."""
    return tuple(
        MatchedMarket(b, o) for b, o in zip(sort_bids(markets), sort_offers(markets), strict=True)
    )


def midpoint(prices_sum: int, count: int, rounding: MidpointRounding) -> int:
    """Mean of ``count`` tick prices summing to ``prices_sum``, rounded to a whole tick.

    Integer arithmetic only: floor((2s + c) / 2c) rounds exact halves up, the other variant down.
    """
    if rounding is MidpointRounding.HALF_UP:
        return (2 * prices_sum + count) // (2 * count)
    return -((-2 * prices_sum + count) // (2 * count))


def compute_stage1(
    params: AuctionParams,
    markets: Sequence[InitialMarket],
    requests: Sequence[SettlementRequest],
) -> Stage1Outcome:
    """Everything stage 1 publishes, or the reason it failed.

    ``requests`` in order of receipt (customers' requests included).
    """
    valid, invalid = validate_requests(markets, requests)
    buys = sum(r.size for r in valid if r.side is Side.BUY)
    sells = sum(r.size for r in valid if r.side is Side.SELL)
    if len(markets) < params.min_valid_submissions:
        return dataclasses.replace(
            _failed(
                f"{len(markets)} valid initial market(s), fewer than the minimum of "
                f"{params.min_valid_submissions}",
                (),
                buys,
                sells,
            ),
            requests=valid,
            invalid=invalid,
            too_few_markets=True,
        )
    matched = match_markets(markets)
    non_tradeable = [m for m in matched if not m.tradeable]
    if not non_tradeable:
        return dataclasses.replace(
            _failed("every matched market is tradeable: no midpoint", matched, buys, sells),
            requests=valid,
            invalid=invalid,
        )
    half = (len(non_tradeable) + 1) // 2
    best = non_tradeable[:half]
    total = sum(m.bid.ticks + m.offer.ticks for m in best)
    imm = midpoint(total, 2 * half, params.midpoint_rounding)

    adjustments: list[Adjustment] = []
    oi = buys - sells
    for pair in matched:
        if not pair.tradeable:
            continue
        if oi < 0 and pair.bid.ticks > imm:
            adjustments.append(
                Adjustment(
                    pair.bid.dealer, params.adjustment_amount(pair.bid.ticks - imm), pair.bid
                )
            )
        elif oi > 0 and pair.offer.ticks < imm:
            adjustments.append(
                Adjustment(
                    pair.offer.dealer, params.adjustment_amount(imm - pair.offer.ticks), pair.offer
                )
            )
    return Stage1Outcome(
        failure=None,
        matched=matched,
        best_half=half,
        imm=imm,
        buy_total=buys,
        sell_total=sells,
        adjustments=tuple(adjustments),
        requests=valid,
        invalid=invalid,
    )


def validate_requests(
    markets: Sequence[InitialMarket], requests: Sequence[SettlementRequest]
) -> tuple[tuple[SettlementRequest, ...], tuple[InvalidRequest, ...]]:
    """Split the requests (in order of receipt) into those that count and those that do not.

    A request counts only if its dealer has a valid initial market at the close. Per
    customer, the requests summed over every dealer may not exceed the customer's stated
    market position (the smallest it stated to any dealer) nor go in two directions: taken
    in order of receipt, a request that would break this does not count.
    """
    quoting = {m.dealer for m in markets}
    stated: dict[str, int] = {}
    for r in requests:
        if r.customer is not None and r.market_position is not None:
            known = stated.get(r.customer)
            stated[r.customer] = (
                r.market_position if known is None else min(known, r.market_position)
            )
    valid: list[SettlementRequest] = []
    invalid: list[InvalidRequest] = []
    per_customer: dict[str, int] = {}
    customer_side: dict[str, Side] = {}
    for r in requests:
        if r.dealer not in quoting:
            invalid.append(InvalidRequest(r, "the dealer has no valid initial market at the close"))
            continue
        if r.customer is not None and r.size > 0:
            side = customer_side.setdefault(r.customer, r.side)
            if side is not r.side:
                invalid.append(
                    InvalidRequest(
                        r,
                        f"the customer's requests over all dealers go both ways ({side.value} "
                        f"received first)",
                    )
                )
                continue
            total = per_customer.get(r.customer, 0) + r.size
            limit = stated.get(r.customer)
            if limit is not None and total > limit:
                invalid.append(
                    InvalidRequest(
                        r,
                        "the customer's requests summed over all dealers exceed its stated "
                        f"market position of {limit}",
                    )
                )
                continue
            per_customer[r.customer] = total
        valid.append(r)
    return tuple(valid), tuple(invalid)


def _failed(
    reason: str, matched: tuple[MatchedMarket, ...], buys: int, sells: int
) -> Stage1Outcome:
    return Stage1Outcome(
        failure=reason,
        matched=matched,
        best_half=0,
        imm=None,
        buy_total=buys,
        sell_total=sells,
        adjustments=(),
    )
