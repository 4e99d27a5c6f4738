"""Property tests of the CDS auction engine over random but valid auctions.

Covered (each against an oracle written here, never against engine helpers):

* clearing: fills sum to |OI| (or to every eligible order when they run out), no order is
  overfilled, one final price for every trade, better orders fill in full, orders at the
  final price share pro rata within one unit, the final price equals an independent walk of
  the published (cap-clamped) book, is on the grid and within the cap, or 0 / 100;
* carry-over of stage-1 quotes and the adjustment amounts;
* physical settlement requests: the open interest's side settles min(buys, sells) plus
  the matched limit size, the other side in full;
* IMM against a straightforward ``Fraction`` reimplementation (best ceil(n/2) pairs);
* monotonicity: a new or improved order never moves the price against the open interest;
* replacement never double counts; idempotent repeats of a client order id;
* replay (also through JSON) rebuilds the identical snapshot;
* refused commands raise a DomainError and leave the snapshot unchanged;
* ``SealedBook`` as a state machine against a dict model; ``pro_rata`` allocation.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from matching.allocation import Claim, pro_rata, pro_rata_rounded
from matching.book import BookOrder, SealedBook
from matching.cds.auction import CdsAuction
from matching.cds.events import event_from_dict
from matching.cds.params import OrderSide, Side
from matching.cds.phases import Phase
from matching.cds.result import AuctionResult, FillRow
from matching.errors import AlreadyExists, DomainError, NotFound
from tests.cds.strategies import (
    STAGE1_CLOSE,
    STAGE2_CLOSE,
    AuctionRun,
    AuctionSpec,
    MarketSpec,
    OrderSpec,
    RequestSpec,
    auction_specs,
    price_str,
    run_full,
    sizes,
    to_ticks,
    with_open_interest,
)

PROPS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FEW = settings(PROPS, max_examples=50)


# -- independent oracles ------------------------------------------------------------------


def oracle_imm(markets: tuple[MarketSpec, ...]) -> Fraction:
    """IMM in points: best ceil(n/2) non-tradeable pairs, mean, nearest 1/8, halves up."""
    eighth = Fraction(1, 8)
    bids = sorted((m.bid * eighth for m in markets), reverse=True)
    offers = sorted(m.offer * eighth for m in markets)
    pairs = [(b, o) for b, o in zip(bids, offers, strict=True) if b < o]
    assert pairs, "the lowest bid is below the highest offer, so one pair is never tradeable"
    best = pairs[: math.ceil(len(pairs) / 2)]
    mean = Fraction(sum(b + o for b, o in best), 2 * len(best))
    return math.floor(mean / eighth + Fraction(1, 2)) * eighth


def oracle_adjustments(spec: AuctionSpec, imm: Fraction) -> list[int]:
    """Sorted adjustment amounts: tradeable quotes off-market against the open interest."""
    eighth = Fraction(1, 8)
    bids = sorted((m.bid * eighth for m in spec.markets), reverse=True)
    offers = sorted(m.offer * eighth for m in spec.markets)
    oi = psr_totals(spec)[0] - psr_totals(spec)[1]
    amounts = []
    for b, o in zip(bids, offers, strict=True):
        if b < o:
            continue
        off = b - imm if oi < 0 else imm - o if oi > 0 else Fraction(0)
        if off > 0:
            exact = off / 100 * spec.quotation_amount
            amounts.append(math.floor(exact + Fraction(1, 2)))
    return sorted(amounts)


def psr_totals(spec: AuctionSpec) -> tuple[int, int]:
    """(buys, sells) of the spec's settlement requests that count."""
    valid = spec.valid_requests()
    buys = sum(r.size for r in valid if r.side is Side.BUY)
    sells = sum(r.size for r in valid if r.side is Side.SELL)
    return buys, sells


def check_rounding(left: int, rows: list[tuple[int, int]], unit: int) -> int:
    """``rows`` (size, got) shared ``left`` under the Rounding Convention: each share is at
    least its exact share rounded down to the unit, a multiple of the unit (or a whole
    size), extra units went to larger claims first, and the residue is below one unit
    unless no claim had room for one. Returns the residue."""
    total = sum(size for size, _ in rows)
    residue = left - sum(got for _, got in rows)
    assert residue >= 0
    if left == total:
        assert all(got == size for size, got in rows)
        return residue
    extra = []
    for size, got in rows:
        floor_unit = (left * size // total) // unit * unit
        assert floor_unit <= got <= size
        assert got % unit == 0
        extra.append(got > floor_unit)
    if residue >= unit:
        assert all(size - got < unit for size, got in rows)
    for (size_i, _), got_extra in zip(rows, extra, strict=True):
        for (size_j, got_j), missed in zip(rows, extra, strict=True):
            if got_extra and not missed and size_j - got_j >= unit:
                assert size_i >= size_j, "an extra unit skipped a larger order with room"
    return residue


def points(price: str | None) -> Fraction:
    assert price is not None
    return Fraction(Decimal(price))


@dataclass(frozen=True)
class Walk:
    """The oracle's clearing of a published book."""

    final: Fraction | None  # None: the orders ran out
    better_total: int  # size strictly better than the final price


def oracle_walk(fills: tuple[FillRow, ...], sell: bool, cap: Fraction, oi: int) -> Walk:
    """Clamp to the cap, sort best first, take orders until |OI| is reached."""
    eff = [min(points(f.price), cap) if sell else max(points(f.price), cap) for f in fills]
    by_price: dict[Fraction, int] = defaultdict(int)
    for e, f in zip(eff, fills, strict=True):
        by_price[e] += int(f.size)
    cumulative = 0
    for price in sorted(by_price, reverse=sell):
        if cumulative + by_price[price] >= oi:
            return Walk(price, cumulative)
        cumulative += by_price[price]
    return Walk(None, cumulative)


# -- the invariant checks of one finished auction -----------------------------------------


def check_auction(run: AuctionRun) -> None:
    """Every published figure of a finished auction against the oracles above."""
    spec = run.spec
    result = run.auction.result()
    buys, sells = psr_totals(spec)
    oi = buys - sells
    imm = oracle_imm(spec.markets)
    assert result.initial_market_midpoint is not None
    assert points(result.initial_market_midpoint) == imm
    assert result.open_interest_size == str(abs(oi))
    assert result.open_interest_side == ("NONE" if oi == 0 else "BUY" if oi > 0 else "SELL")
    assert sorted(int(a.amount) for a in result.adjustment_amounts) == oracle_adjustments(spec, imm)
    check_matched_markets(spec, result)
    assert run.auction.phase is Phase.FINAL
    final = points(result.final_price)
    assert (final * 8).denominator == 1, "final price off the grid"
    for trade in result.market_position_trades:
        assert points(trade.price) == final, "every trade settles at the single final price"
    event(f"open interest {'zero' if oi == 0 else 'to buy' if oi > 0 else 'to sell'}")
    event(f"tradeable pairs: {any(r.tradeable for r in result.matched_markets)}")
    event(f"adjustments: {bool(result.adjustment_amounts)}")
    if oi == 0:
        assert final == imm
        assert not result.limit_order_fills
        for trade in result.market_position_trades:
            assert trade.filled == trade.size
        return
    check_clearing(spec, result, oi, imm)


def check_matched_markets(spec: AuctionSpec, result: AuctionResult) -> None:
    """Published columns: bids descending, offers ascending; of equal quotes the one received
    first counts as the worse (sorts later)."""
    order = {m.dealer: i for i, m in enumerate(spec.markets)}
    bids = sorted(spec.markets, key=lambda m: (-m.bid, -order[m.dealer]))
    offers = sorted(spec.markets, key=lambda m: (m.offer, -order[m.dealer]))
    rows = result.matched_markets
    assert [(r.bid_dealer, to_ticks(r.bid)) for r in rows] == [(m.dealer, m.bid) for m in bids]
    assert [(r.offer_dealer, to_ticks(r.offer)) for r in rows] == [
        (m.dealer, m.offer) for m in offers
    ]
    assert [r.tradeable for r in rows] == [
        b.bid >= o.offer for b, o in zip(bids, offers, strict=True)
    ]


def check_clearing(spec: AuctionSpec, result: AuctionResult, oi: int, imm: Fraction) -> None:
    sell = oi < 0
    size_oi = abs(oi)
    cap = imm + Fraction(spec.cap_ticks(), 8) if sell else imm - Fraction(spec.cap_ticks(), 8)
    final = points(result.final_price)
    fills = result.limit_order_fills
    wanted = OrderSide.BID if sell else OrderSide.OFFER
    assert all(f.side == wanted.value for f in fills)

    # carried-over quotes: one per quoting dealer, quotation amount, IMM if tradeable beyond
    tradeable = {
        (r.bid_dealer if sell else r.offer_dealer) for r in result.matched_markets if r.tradeable
    }
    carried = {f.dealer: f for f in fills if f.carried_over}
    assert set(carried) == {m.dealer for m in spec.markets}
    for m in spec.markets:
        quote = Fraction(m.bid if sell else m.offer, 8)
        if m.dealer in tradeable:
            quote = min(quote, imm) if sell else max(quote, imm)
        assert points(carried[m.dealer].price) == quote
        assert int(carried[m.dealer].size) == spec.quotation_amount
    excluded = [o for o in spec.orders if o.customer is None and o.size > size_oi]
    assert len(result.excluded_orders) == len(excluded)
    assert len(fills) == len(spec.markets) + len(spec.orders) - len(excluded)
    unit = spec.rounding_amount

    total = sum(int(f.size) for f in fills)
    filled = [int(f.filled) for f in fills]
    for f, got in zip(fills, filled, strict=True):
        assert 0 <= got <= int(f.size), f"overfilled {f}"
        eff = min(points(f.price), cap) if sell else max(points(f.price), cap)
        assert points(f.effective_price) == eff
        better = eff > final if sell else eff < final
        worse = eff < final if sell else eff > final
        if got > 0:
            assert not worse, f"{f} filled at a price worse than the final {final}"
        if better:
            assert got == int(f.size), f"{f} is better than the final price but not full"
        assert f.status == ("FILLED" if got == int(f.size) else "PARTIAL" if got else "UNFILLED")

    walk = oracle_walk(fills, sell, cap, size_oi)
    event(f"orders ran out: {walk.final is None}")
    event(f"final at the cap: {walk.final == cap}")
    clamped = any(points(f.price) != points(f.effective_price) for f in fills)
    event(f"orders beyond the cap: {clamped}")
    event(f"partial fill: {any(f.status == 'PARTIAL' for f in fills)}")
    if total >= size_oi:
        assert walk.final is not None
        assert final == walk.final
        assert (final <= cap) if sell else (final >= cap)
        at_final = [
            (int(f.size), got)
            for f, got in zip(fills, filled, strict=True)
            if points(f.effective_price) == final
        ]
        left = size_oi - walk.better_total
        residue = check_rounding(left, at_final, unit)
        assert result.limit_order_residue == str(residue)
        assert sum(filled) == size_oi - residue, "fills sum to |OI| less the residue"
        matched = size_oi - residue
    else:
        assert walk.final is None
        assert filled == [int(f.size) for f in fills], "all eligible orders fill"
        highest = max(points(f.price) for f in fills)
        assert final == (0 if sell else max(Fraction(100), highest))
        matched = total

    # physical settlement requests
    oi_side = "SELL" if sell else "BUY"
    buys, sells = psr_totals(spec)
    own = [t for t in result.market_position_trades if t.side == oi_side]
    other = [t for t in result.market_position_trades if t.side != oi_side]
    assert all(t.filled == t.size for t in other)
    executable = min(buys, sells) + matched
    # scaled down pro rata under the Rounding Convention when the orders did not match all
    request_residue = check_rounding(executable, [(int(t.size), int(t.filled)) for t in own], unit)
    assert result.request_residue == str(request_residue)
    assert len(result.market_position_trades) == sum(1 for r in spec.valid_requests() if r.size > 0)


# -- clearing, IMM, carry-over, PSRs ------------------------------------------------------


@PROPS
@given(spec=auction_specs())
def test_every_published_figure_matches_the_oracles(spec: AuctionSpec) -> None:
    check_auction(run_full(spec))


@PROPS
@given(spec=auction_specs(max_dealers=8, max_orders=20))
def test_clearing_with_open_interest_and_many_orders(spec: AuctionSpec) -> None:
    check_auction(run_full(with_open_interest(spec)))


@FEW
@given(spec=auction_specs(min_dealers=20, max_dealers=25))
def test_large_panels(spec: AuctionSpec) -> None:
    check_auction(run_full(with_open_interest(spec)))


@PROPS
@given(
    spec=auction_specs(),
    imm_offsets=st.lists(st.integers(-4, 4), min_size=4, max_size=25),
)
def test_imm_against_fraction_oracle_with_crowded_quotes(
    spec: AuctionSpec, imm_offsets: list[int]
) -> None:
    """Markets crowded round one price: many ties, tradeable pairs and halves to round."""
    markets = tuple(
        MarketSpec(d, 40 + off, 40 + off + 1 + abs(off) % 3)
        for d, off in zip(spec.panel, imm_offsets, strict=False)
    )
    run = AuctionRun(replace(spec, markets=markets, max_spread=max(spec.max_spread, 8), cap=None))
    run.run_stage1()
    result = run.auction.result()
    assert points(result.initial_market_midpoint) == oracle_imm(markets)


def test_spec_midpoint_tie_example() -> None:
    """The spec's worked tie: mean 40.5625 rounds up to 40.625."""
    markets = (
        MarketSpec("A", to_ticks("40"), to_ticks("41.25")),
        MarketSpec("B", to_ticks("39.75"), to_ticks("41.25")),
        MarketSpec("C", to_ticks("38.5"), to_ticks("42")),
        MarketSpec("D", to_ticks("39.5"), to_ticks("43")),
    )
    assert oracle_imm(markets) == Fraction("40.625")
    spec = AuctionSpec(("A", "B", "C", "D"), 2_000_000, 28, None, markets, (), ())
    run = AuctionRun(spec)
    run.run_stage1()
    assert run.auction.result().initial_market_midpoint == "40.625"


# -- monotonicity -------------------------------------------------------------------------


def not_worse(before: Fraction, after: Fraction, sell: bool) -> bool:
    """For OI to sell a higher price is better for it, for OI to buy a lower one."""
    return after >= before if sell else after <= before


def comparable(base: AuctionRun, new_price: Fraction) -> bool:
    """Whether the new or improved order is "better" in the sense of the property.

    When the orders ran out, the final price (0, or 100 or the highest matched offer above
    it) need not be an order's price: a new order counts as better only at or beyond it.
    """
    stage2 = base.auction.stage2
    assert stage2 is not None
    if not stage2.insufficient:
        return True
    result = base.auction.result()
    final = points(result.final_price)
    sell = result.open_interest_side == "SELL"
    return new_price >= final if sell else new_price <= final


@PROPS
@given(spec=auction_specs(max_orders=8), data=st.data())
def test_an_added_order_never_worsens_the_price(spec: AuctionSpec, data: st.DataObject) -> None:
    spec = with_open_interest(spec)
    base = run_full(spec)
    extra = OrderSpec(
        data.draw(st.sampled_from(spec.panel)),
        data.draw(st.integers(-3 * spec.max_spread, 2 * spec.max_spread)),
        data.draw(sizes),
    )
    more = run_full(replace(spec, orders=(*spec.orders, extra)))
    check_auction(more)
    sell = base.auction.result().open_interest_side == "SELL"
    before = points(base.auction.result().final_price)
    after = points(more.auction.result().final_price)
    if comparable(base, Fraction(more.order_ticks(extra), 8)):
        assert not_worse(before, after, sell), (before, after)


@PROPS
@given(spec=auction_specs(max_orders=8), data=st.data())
def test_an_improved_order_never_worsens_the_price(spec: AuctionSpec, data: st.DataObject) -> None:
    spec = with_open_interest(spec)
    if not spec.orders:
        spec = replace(spec, orders=(OrderSpec(spec.panel[0], 0, 1_000_000),))
    base = run_full(spec)
    sell = base.auction.result().open_interest_side == "SELL"
    j = data.draw(st.integers(0, len(spec.orders) - 1))
    ticks = data.draw(st.integers(1, 2 * spec.max_spread))
    grow = data.draw(st.integers(0, 10**9))
    old = spec.orders[j]
    # a customer's orders beyond the open interest do not count: grow only up to it
    size_oi = int(base.auction.result().open_interest_size)
    grown = min(old.size + grow, max(old.size, size_oi))
    better = replace(old, offset=old.offset + (ticks if sell else -ticks), size=grown)

    run = AuctionRun(spec)
    run.run_stage1()
    run.open_stage2()
    for i, o in enumerate(spec.orders):
        run.order(i, o)
    run.replace_order(j, better, f"o-{j}-better")
    run.close_stage2()
    improved = replace(
        spec, orders=tuple(better if i == j else o for i, o in enumerate(spec.orders))
    )
    run.spec = improved
    check_auction(run)
    before = points(base.auction.result().final_price)
    after = points(run.auction.result().final_price)
    if comparable(base, Fraction(run.order_ticks(better), 8)):
        assert not_worse(before, after, sell), (before, after)


# -- replacement and idempotency ----------------------------------------------------------


@PROPS
@given(spec=auction_specs(max_orders=8), data=st.data())
def test_replacing_a_submission_never_double_counts(spec: AuctionSpec, data: st.DataObject) -> None:
    """Earlier versions, replaced (or withdrawn) later, leave no trace in the result."""
    spec = with_open_interest(spec)
    mi = data.draw(st.integers(0, len(spec.markets) - 1))
    m = spec.markets[mi]
    bid = data.draw(st.integers(0, 900))
    m_old = MarketSpec(m.dealer, bid, bid + data.draw(st.integers(1, spec.max_spread)))
    ri = data.draw(st.integers(0, len(spec.requests) - 1))
    r = spec.requests[ri]
    r_old = RequestSpec(r.dealer, r.customer, data.draw(st.sampled_from(Side)), data.draw(sizes))
    gone = RequestSpec(spec.panel[-1], "gone", data.draw(st.sampled_from(Side)), data.draw(sizes))
    o_old = OrderSpec("?", data.draw(st.integers(-20, 20)), data.draw(sizes))
    oj = data.draw(st.integers(0, max(0, len(spec.orders) - 1)))

    live = AuctionRun(spec)
    live.open_stage1()
    live.market(m_old, "m-old")
    live.request(-1, r_old, "r-old")
    live.request(-2, gone, "r-gone")
    live.do(
        live.auction.withdraw_request,
        dealer=gone.dealer,
        customer=gone.customer,
        client_order_id="r-gone-w",
    )
    for market in spec.markets:
        live.market(market)
    for i, request in enumerate(spec.requests):
        live.request(i, request)
    live.close_stage1()
    if live.auction.phase is Phase.STAGE1_CLOSED:
        live.open_stage2()
        cancelled = OrderSpec(spec.panel[0], 0, 5)
        live.order(-1, cancelled, "o-gone")
        live.do(
            live.auction.cancel_limit_order,
            dealer=cancelled.dealer,
            client_order_id="o-gone-c",
            order_client_id="o-gone",
        )
        if spec.orders:
            live.order(oj, replace(o_old, dealer=spec.orders[oj].dealer))
        for i, o in enumerate(spec.orders):
            if i == oj:
                live.replace_order(i, o, f"o-{i}-r")
            else:
                live.order(i, o)
        live.close_stage2()

    reference = run_full(spec)
    assert canonical(live.auction.result()) == canonical(reference.auction.result())
    check_auction(live)


def canonical(result: AuctionResult) -> dict[str, Any]:
    """The result with limit-order rows in order-id order.

    A replaced order queues as a new submission, so row order within a price level may
    follow replacement history; every figure must not.
    """
    data = result.to_dict()
    data["limit_order_fills"] = sorted(data["limit_order_fills"], key=lambda f: f["order_id"])
    for period in data["initial_bidding_periods"]:
        del period["closed_at"]  # when the window closed, not a figure
    return data


# -- regressions of engine defects these properties found ----------------------------------


def small_spec(markets: tuple[MarketSpec, ...], requests: tuple[RequestSpec, ...]) -> AuctionSpec:
    panel = tuple(sorted({m.dealer for m in markets}))
    return AuctionSpec(panel, 2_000_000, 16, None, markets, requests, ())


def test_unmatched_buy_interest_never_sells_an_offer_below_its_limit() -> None:
    markets = tuple(MarketSpec(d, to_ticks("100"), to_ticks("100.5")) for d in "ABCD")
    run = run_full(small_spec(markets, (RequestSpec("A", None, Side.BUY, 10_000_000),)))
    result = run.auction.result()
    # IMM 100.25; 4 offers x 2m at 100.5 < 10m to buy: the final price is the highest matched
    # offer, not 100, which would sell those offers below their limit
    assert result.final_price == "100.5"
    assert [f.filled for f in result.limit_order_fills] == ["2000000"] * 4
    final = points(result.final_price)
    for f in result.limit_order_fills:
        assert points(f.effective_price) <= final, f"{f.order_id} sold below its limit"


def test_fill_rows_do_not_depend_on_an_earlier_replaced_market() -> None:
    markets = tuple(MarketSpec(d, 320, 328) for d in ("A", "B", "C", "D"))
    spec = small_spec(markets, (RequestSpec("A", None, Side.SELL, 3_000_000),))
    live = AuctionRun(spec)
    live.open_stage1()
    live.market(MarketSpec("B", 320, 328), "early")  # B quotes first, then re-quotes
    for m in spec.markets:
        live.market(m)
    live.request(0, spec.requests[0])
    live.close_stage1()
    live.open_stage2()
    live.close_stage2()
    reference = run_full(spec)
    assert canonical(live.auction.result()) == canonical(reference.auction.result())
    live_rows = live.auction.result().to_dict()["limit_order_fills"]
    assert live_rows == reference.auction.result().to_dict()["limit_order_fills"]


@PROPS
@given(spec=auction_specs(max_orders=6), data=st.data())
def test_repeated_client_order_id(spec: AuctionSpec, data: st.DataObject) -> None:
    """Same content: the original ack, no event. Other content: AlreadyExists. No change."""
    spec = with_open_interest(spec)
    run = AuctionRun(spec)
    run.open_stage1()
    for m in spec.markets:
        run.market(m)
    for i, r in enumerate(spec.requests):
        run.request(i, r)
    auction = run.auction

    def repeat(first_key: str, same: Any, other: Any) -> None:
        first = run.acks[first_key]
        assert first.ack is not None
        before = auction.snapshot()
        decision = same(now=run.now())
        assert decision.events == ()
        assert decision.ack is not None
        assert decision.ack.duplicate
        assert (decision.ack.seq, decision.ack.at) == (first.ack.seq, first.ack.at)
        assert auction.snapshot() == before
        with pytest.raises(AlreadyExists):
            other(now=run.now())
        assert auction.snapshot() == before

    m = data.draw(st.sampled_from(spec.markets))
    repeat(
        f"{m.dealer}/m-{m.dealer}",
        lambda now: auction.submit_market(
            dealer=m.dealer,
            client_order_id=f"m-{m.dealer}",
            bid=price_str(m.bid),
            offer=price_str(m.offer),
            now=now,
        ),
        lambda now: auction.submit_market(
            dealer=m.dealer,
            client_order_id=f"m-{m.dealer}",
            bid=price_str(m.bid + 1),
            offer=price_str(m.offer + 1),
            now=now,
        ),
    )
    i = data.draw(st.integers(0, len(spec.requests) - 1))
    r = spec.requests[i]
    repeat(
        f"{r.dealer}/r-{i}",
        lambda now: auction.submit_request(
            dealer=r.dealer,
            client_order_id=f"r-{i}",
            side=r.side,
            size=str(r.size),
            customer=r.customer,
            now=now,
        ),
        lambda now: auction.submit_request(
            dealer=r.dealer,
            client_order_id=f"r-{i}",
            side=r.side,
            size=str(r.size + 1),
            customer=r.customer,
            now=now,
        ),
    )
    run.close_stage1()
    run.open_stage2()
    o = OrderSpec(spec.panel[0], data.draw(st.integers(-10, 10)), data.draw(sizes))
    run.order(0, o)
    price = price_str(run.order_ticks(o))
    repeat(
        f"{o.dealer}/o-0",
        lambda now: auction.submit_limit_order(
            dealer=o.dealer,
            client_order_id="o-0",
            side=run.eligible,
            price=price,
            size=str(o.size),
            now=now,
            customer="cust-0",
        ),
        lambda now: auction.submit_limit_order(
            dealer=o.dealer,
            client_order_id="o-0",
            side=run.eligible,
            price=price,
            size=str(o.size + 1),
            now=now,
            customer="cust-0",
        ),
    )
    run.close_stage2()
    assert len(auction.book) == len(spec.markets) + 1, "the repeats added no order"


# -- replay -------------------------------------------------------------------------------


@PROPS
@given(spec=auction_specs())
def test_replay_rebuilds_the_same_state(spec: AuctionSpec) -> None:
    run = AuctionRun(spec)
    run.run_stage1()
    mid = run.auction.snapshot()
    assert CdsAuction.from_events(run.history).snapshot() == mid
    run.run_stage2()
    live = run.auction.snapshot()
    assert CdsAuction.from_events(run.history).snapshot() == live
    wire = [json.loads(json.dumps(e.to_dict())) for e in run.history]
    rebuilt = [event_from_dict(d) for d in wire]
    assert rebuilt == run.history
    assert CdsAuction.from_events(rebuilt).snapshot() == live


# -- refused commands ---------------------------------------------------------------------

REFUSALS = [
    "market_off_grid",
    "market_spread_too_wide",
    "market_crossed",
    "market_negative_bid",
    "market_float",
    "market_not_on_panel",
    "market_late",
    "request_over_position",
    "request_against_position",
    "request_negative",
    "request_fraction",
    "request_not_on_panel",
    "request_late",
    "withdraw_unknown_request",
    "order_wrong_side",
    "order_off_grid",
    "order_zero_size",
    "order_negative_price",
    "order_float",
    "order_not_on_panel",
    "order_late",
    "replace_unknown_order",
    "cancel_unknown_order",
    "phase_misfit",
]


def refuse(run: AuctionRun, kind: str) -> None:
    """Issue one command that the engine must refuse, whatever the phase."""
    a = run.auction
    spec = run.spec
    dealer = spec.panel[0]
    m = spec.markets[0]
    bid, offer = price_str(m.bid), price_str(m.offer)
    now = run.now()
    coid = f"bad-{kind.replace('_', '-')}"
    stage1 = a.stage1
    eligible = OrderSide.BID
    if stage1 is not None and stage1.oi_side is Side.BUY:
        eligible = OrderSide.OFFER
    wrong = OrderSide.OFFER if eligible is OrderSide.BID else OrderSide.BID

    def market(**kw: Any) -> None:
        args: dict[str, Any] = {"dealer": dealer, "client_order_id": coid, "bid": bid}
        args |= {"offer": offer, "now": now} | kw
        a.submit_market(**args)

    def request(**kw: Any) -> None:
        args: dict[str, Any] = {"dealer": dealer, "client_order_id": coid, "side": "SELL"}
        args |= {"size": "5", "now": now} | kw
        a.submit_request(**args)

    def order(**kw: Any) -> None:
        args: dict[str, Any] = {"dealer": dealer, "client_order_id": coid, "side": eligible}
        args |= {"price": bid, "size": "1000000", "now": now} | kw
        a.submit_limit_order(**args)

    misfit = {
        Phase.SCHEDULED: lambda: a.close_stage1(by="ops", now=now),
        Phase.STAGE1_OPEN: lambda: a.open_stage2(by="ops", now=now),
        Phase.STAGE1_CLOSED: lambda: a.close_stage2(by="ops", now=now),
        Phase.STAGE2_OPEN: lambda: a.open_stage1(by="ops", now=now),
        Phase.FINAL: lambda: a.cancel(by="ops", reason="too late", now=now),
    }
    commands: dict[str, Any] = {
        "market_off_grid": lambda: market(bid=str(Decimal(bid) + Decimal("0.01"))),
        "market_spread_too_wide": lambda: market(offer=price_str(m.bid + spec.max_spread + 1)),
        "market_crossed": lambda: market(offer=bid),
        "market_negative_bid": lambda: market(bid="-0.125", offer="0.5"),
        "market_float": lambda: market(bid=float(bid)),
        "market_not_on_panel": lambda: market(dealer="NOT-ON-PANEL"),
        "market_late": lambda: market(now=STAGE1_CLOSE + timedelta(seconds=1)),
        "request_over_position": lambda: request(size="10", market_position="9"),
        "request_against_position": lambda: request(
            side="BUY", market_position="10", market_position_side="SELL"
        ),
        "request_negative": lambda: request(size="-1"),
        "request_fraction": lambda: request(size="1.5"),
        "request_not_on_panel": lambda: request(dealer="NOT-ON-PANEL"),
        "request_late": lambda: request(now=STAGE1_CLOSE),
        "withdraw_unknown_request": lambda: a.withdraw_request(
            dealer=dealer, client_order_id=coid, customer="nobody", now=now
        ),
        "order_wrong_side": lambda: order(side=wrong),
        "order_off_grid": lambda: order(price=str(Decimal(bid) + Decimal("0.0625"))),
        "order_zero_size": lambda: order(size="0"),
        "order_negative_price": lambda: order(price="-1"),
        "order_float": lambda: order(price=float(bid)),
        "order_not_on_panel": lambda: order(dealer="NOT-ON-PANEL"),
        "order_late": lambda: order(now=STAGE2_CLOSE),
        "replace_unknown_order": lambda: a.replace_limit_order(
            dealer=dealer,
            client_order_id=coid,
            order_client_id="never-submitted",
            price=bid,
            size="5",
            now=now,
        ),
        "cancel_unknown_order": lambda: a.cancel_limit_order(
            dealer=dealer, client_order_id=coid, order_client_id="never-submitted", now=now
        ),
        "phase_misfit": lambda: misfit[a.phase](),
    }
    commands[kind]()


PHASES = [Phase.SCHEDULED, Phase.STAGE1_OPEN, Phase.STAGE1_CLOSED, Phase.STAGE2_OPEN, Phase.FINAL]


def run_to(spec: AuctionSpec, phase: Phase) -> AuctionRun:
    run = AuctionRun(spec)
    if phase is Phase.SCHEDULED:
        return run
    run.open_stage1()
    for m in spec.markets:
        run.market(m)
    for i, r in enumerate(spec.requests):
        run.request(i, r)
    if phase is Phase.STAGE1_OPEN:
        return run
    run.close_stage1()
    if phase is Phase.STAGE1_CLOSED:
        return run
    run.open_stage2()
    for i, o in enumerate(spec.orders):
        run.order(i, o)
    if phase is Phase.STAGE2_OPEN:
        return run
    run.close_stage2()
    return run


@PROPS
@given(
    spec=auction_specs(max_dealers=10, max_orders=5),
    phase=st.sampled_from(PHASES),
    kind=st.sampled_from(REFUSALS),
)
def test_a_refused_command_changes_nothing(spec: AuctionSpec, phase: Phase, kind: str) -> None:
    run = run_to(with_open_interest(spec), phase)
    assert run.auction.phase is phase
    before = run.auction.snapshot()
    with pytest.raises(DomainError):
        refuse(run, kind)
    assert run.auction.snapshot() == before
    assert CdsAuction.from_events(run.history).snapshot() == before


@pytest.mark.parametrize("kind", REFUSALS)
def test_every_refusal_kind_in_its_own_window(kind: str) -> None:
    """Each refusal also while the window it targets is open (not only by phase)."""
    spec = AuctionSpec(
        panel=("A", "B", "C", "D"),
        quotation_amount=2_000_000,
        max_spread=16,
        cap=None,
        markets=tuple(MarketSpec(d, 320 + i, 330 + i) for i, d in enumerate("ABCD")),
        requests=(RequestSpec("A", None, Side.SELL, 10_000_000),),
        orders=(OrderSpec("B", 0, 1_000_000),),
    )
    stage2 = kind.startswith(("order", "replace", "cancel"))
    target = Phase.STAGE2_OPEN if stage2 else Phase.STAGE1_OPEN
    run = run_to(spec, target)
    before = run.auction.snapshot()
    with pytest.raises(DomainError):
        refuse(run, kind)
    assert run.auction.snapshot() == before


# -- SealedBook state machine -------------------------------------------------------------

BOOK_IDS = st.sampled_from([f"o{i}" for i in range(10)])
BOOK_OWNERS = ["A", "B", "C"]


class SealedBookMachine(RuleBasedStateMachine):
    """Random add / replace / cancel against a dict model of id -> (owner, ticks, size, seq)."""

    def __init__(self) -> None:
        super().__init__()
        self.book = SealedBook()
        self.model: dict[str, tuple[str, int, int, int]] = {}
        self.seq = 0

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    @rule(
        order_id=BOOK_IDS,
        owner=st.sampled_from(BOOK_OWNERS),
        ticks=st.integers(0, 12),
        size=sizes,
    )
    def add(self, order_id: str, owner: str, ticks: int, size: int) -> None:
        order = BookOrder(order_id, owner, ticks, size, self.next_seq())
        if order_id in self.model:
            with pytest.raises(AlreadyExists):
                self.book.add(order)
        else:
            self.book.add(order)
            self.model[order_id] = (owner, ticks, size, order.seq)

    @rule(order_id=BOOK_IDS, ticks=st.integers(0, 12), size=sizes)
    def replace(self, order_id: str, ticks: int, size: int) -> None:
        seq = self.next_seq()
        if order_id not in self.model:
            with pytest.raises(NotFound):
                self.book.replace(order_id, ticks=ticks, size=size, seq=seq)
            return
        new = self.book.replace(order_id, ticks=ticks, size=size, seq=seq)
        owner = self.model[order_id][0]
        assert (new.owner, new.ticks, new.size, new.seq) == (owner, ticks, size, seq)
        self.model[order_id] = (owner, ticks, size, seq)

    @rule(order_id=BOOK_IDS)
    def cancel(self, order_id: str) -> None:
        if order_id not in self.model:
            with pytest.raises(NotFound):
                self.book.cancel(order_id)
            return
        gone = self.book.cancel(order_id)
        assert gone.order_id == order_id
        del self.model[order_id]

    @invariant()
    def agrees_with_model(self) -> None:
        self.book._check()
        assert len(self.book) == len(self.model)
        assert self.book.total_size == sum(v[2] for v in self.model.values())
        for descending in (True, False):
            expected: dict[int, list[str]] = defaultdict(list)
            for oid in sorted(self.model, key=lambda k: self.model[k][3]):
                expected[self.model[oid][1]].append(oid)
            want = [(t, expected[t]) for t in sorted(expected, reverse=descending)]
            got = [
                (t, [o.order_id for o in level])
                for t, level in self.book.levels(descending=descending)
            ]
            assert got == want
        for owner in BOOK_OWNERS:
            mine = sorted(
                (k for k, v in self.model.items() if v[0] == owner), key=lambda k: self.model[k][3]
            )
            assert [o.order_id for o in self.book.orders_of(owner)] == mine
        for oid, (owner, ticks, size, seq) in self.model.items():
            assert oid in self.book
            o = self.book.get(oid)
            assert (o.owner, o.ticks, o.size, o.seq) == (owner, ticks, size, seq)


SealedBookMachine.TestCase.settings = settings(
    max_examples=100, stateful_step_count=50, deadline=None
)
TestSealedBook = SealedBookMachine.TestCase


# -- pro rata -----------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    raw=st.lists(
        st.tuples(st.one_of(st.integers(0, 20), st.integers(0, 10**12)), st.integers(0, 4)),
        min_size=1,
        max_size=12,
    ),
    unit=st.sampled_from([1, 7, 1_000, 100_000]),
    multiples=st.booleans(),
    data=st.data(),
)
def test_pro_rata(
    raw: list[tuple[int, int]], unit: int, multiples: bool, data: st.DataObject
) -> None:
    """The Rounding Convention: shares are multiples of the unit (unless a claim takes its
    whole size), never above the exact share by a unit or more, never beyond a size; the
    residue is below one unit whenever every size is a multiple of it; the extra units go
    to the largest claims (then the earlier received); independent of listing order."""
    claims = [
        Claim(f"k{i:02d}", size * unit if multiples else size, seq)
        for i, (size, seq) in enumerate(raw)
    ]
    total = sum(c.size for c in claims)
    amount = data.draw(st.one_of(st.integers(0, total), st.just(total)))
    got = pro_rata_rounded(amount, claims, unit)
    shares = got.shares
    assert len(shares) == len(claims)
    assert sum(shares) + got.residue == amount
    assert got.residue >= 0
    if amount == total:
        assert shares == [c.size for c in claims] and got.residue == 0
        return
    if multiples:
        assert got.residue < unit
    extra: list[bool] = []
    for c, share in zip(claims, shares, strict=True):
        exact = Fraction(amount * c.size, total) if total else Fraction(0)
        assert 0 <= share <= c.size
        assert share % unit == 0
        floor_unit = math.floor(exact / unit) * unit
        assert floor_unit <= share
        extra.append(share > floor_unit)
        if share > floor_unit + unit:
            # more than one extra unit only when every other claim was full or had no room
            assert all(o.size - s < unit for o, s in zip(claims, shares, strict=True) if o is not c)
    for i, got_extra in enumerate(extra):
        for j, missed in enumerate(extra):
            if got_extra and not missed and claims[j].size - shares[j] >= unit:
                ci, cj = claims[i], claims[j]
                assert (-ci.size, ci.seq, ci.key) < (-cj.size, cj.seq, cj.key)
    # deterministic and independent of the order the claims are listed in
    assert pro_rata_rounded(amount, claims, unit) == got
    order = data.draw(st.permutations(range(len(claims))))
    shuffled = pro_rata_rounded(amount, [claims[i] for i in order], unit).shares
    assert {claims[i].key: s for i, s in zip(order, shuffled, strict=True)} == {
        c.key: s for c, s in zip(claims, shares, strict=True)
    }


@settings(max_examples=200, deadline=None)
@given(
    raw=st.lists(st.tuples(st.integers(0, 10**12), st.integers(0, 4)), min_size=1, max_size=12),
    data=st.data(),
)
def test_whole_unit_pro_rata(raw: list[tuple[int, int]], data: st.DataObject) -> None:
    """The whole-unit rule (the default waterfall's): shares sum exactly to the amount,
    each within one unit of its exact share, extra units to the largest remainders."""
    claims = [Claim(f"k{i:02d}", size, seq) for i, (size, seq) in enumerate(raw)]
    total = sum(c.size for c in claims)
    amount = data.draw(st.integers(0, total))
    shares = pro_rata(amount, claims)
    assert sum(shares) == amount
    for c, share in zip(claims, shares, strict=True):
        exact = Fraction(amount * c.size, total) if total else Fraction(0)
        assert math.floor(exact) <= share <= math.ceil(exact) and share <= c.size


def test_pro_rata_refuses_more_than_the_claims() -> None:
    with pytest.raises(ValueError, match="cannot allocate"):
        pro_rata_rounded(11, [Claim("a", 5, 1), Claim("b", 5, 2)], 1)
    with pytest.raises(ValueError, match="cannot allocate"):
        pro_rata(11, [Claim("a", 5, 1), Claim("b", 5, 2)])


def test_pro_rata_a_claim_may_take_two_extra_units_when_no_other_has_room() -> None:
    """Found by hypothesis: 21 left over after the floors (three units of 7); the 5,116 and
    16 claims have less than a unit of room, so the largest claim takes a second unit."""
    claims = [
        Claim("k00", 7, 0),
        Claim("k01", 16, 0),
        Claim("k02", 5116, 0),
        Claim("k03", 84315, 0),
    ]
    got = pro_rata_rounded(89439, claims, 7)
    assert got.shares == [7, 14, 5110, 84308]
    assert got.residue == 0
