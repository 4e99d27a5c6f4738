"""Stage 1 rules of the spec, one test each: matched markets, tradeable pairs, the best half
(ceil), IMM rounding, open interest, market position trades, adjustment amounts, failures."""

from __future__ import annotations

import pytest

from matching.cds.params import AuctionParams, MidpointRounding, Side
from matching.cds.stage1 import (
    InitialMarket,
    SettlementRequest,
    compute_stage1,
    match_markets,
    midpoint,
)

P = AuctionParams.build(auction_id="a", quotation_amount="2000000", max_spread="2")


def mk(*quotes: tuple[str, float, float]) -> list[InitialMarket]:
    """Markets from (dealer, bid, offer) in points; seq follows the argument order."""
    return [
        InitialMarket(d, P.grid.to_ticks(str(b), "bid"), P.grid.to_ticks(str(o), "offer"), i)
        for i, (d, b, o) in enumerate(quotes)
    ]


def test_bids_and_offers_are_sorted_independently_of_dealers() -> None:
    pairs = match_markets(mk(("A", 40, 41), ("B", 42, 43), ("C", 39, 44)))
    assert [(p.bid.dealer, p.offer.dealer) for p in pairs] == [("B", "A"), ("A", "B"), ("C", "C")]


def test_touching_and_crossing_pairs_are_tradeable() -> None:
    pairs = match_markets(mk(("A", 41, 43), ("B", 40, 41), ("C", 39, 40.5)))
    # bids 41, 40, 39 vs offers 40.5, 41, 43: 41 >= 40.5 crosses, 40 < 41 does not
    assert [p.tradeable for p in pairs] == [True, False, False]
    pairs = match_markets(mk(("A", 41, 42), ("B", 40, 41)))
    assert pairs[0].tradeable  # 41 vs 41 touches


def test_equal_prices_tie_break_earlier_received_counts_as_worse_then_dealer_id() -> None:
    # The Terms: of equal bids the one received first is the lower, of equal offers the one
    # received first is the higher. (This reverses the old "earlier submission first".)
    markets = [
        InitialMarket("Z", 8 * 26, 8 * 28, seq=1),
        InitialMarket("A", 8 * 26, 8 * 28, seq=2),
        InitialMarket("M", 8 * 26, 8 * 28, seq=2),
    ]
    pairs = match_markets(markets)
    assert [p.bid.dealer for p in pairs] == ["A", "M", "Z"]
    assert [p.offer.dealer for p in pairs] == ["A", "M", "Z"]


def test_best_half_is_ceil_of_odd_count() -> None:
    out = compute_stage1(
        P,
        mk(("A", 40, 41), ("B", 39, 41.5), ("C", 38, 40), ("D", 37.5, 38.5), ("E", 36, 37)),
        [],
    )
    # offers sort 37, 38.5, 40, 41, 41.5: (40,37) and (39,38.5) are tradeable; three remain
    assert [p.tradeable for p in out.matched] == [True, True, False, False, False]
    assert out.best_half == 2  # ceil(3/2), where floor would take 1
    # (38, 40) and (37.5, 41): mean 39.125, where floor(3/2) = 1 pair would give 39
    assert out.imm == P.grid.to_ticks("39.125", "x")


def test_imm_is_mean_of_best_half_rounded_to_increment() -> None:
    out = compute_stage1(P, mk(("A", 40, 41), ("B", 39.5, 41.5), ("C", 39, 41), ("D", 38, 40)), [])
    # bids 40, 39.5, 39, 38; offers 40, 41, 41, 41.5: (40,40) tradeable; 3 left, best 2:
    # (39.5, 41) and (39, 41): mean 40.125
    assert out.imm == P.grid.to_ticks("40.125", "x")


def test_midpoint_tie_rounds_half_up_spec_case() -> None:
    params = AuctionParams.build(auction_id="a", quotation_amount="2000000", max_spread="3.5")
    markets = [
        InitialMarket("A", 320, 330, 0),  # 40 / 41.25
        InitialMarket("B", 318, 330, 1),  # 39.75 / 41.25
        InitialMarket("C", 308, 336, 2),  # 38.5 / 42
        InitialMarket("D", 316, 344, 3),  # 39.5 / 43
    ]
    out = compute_stage1(params, markets, [])
    assert params.grid.format(out.imm or 0) == "40.625"  # mean 40.5625, half up


def test_midpoint_rounding_is_never_bankers() -> None:
    # 2.5 ticks: half up -> 3, half down -> 2; banker's rounding would give 2 for 2.5 and 4 for 3.5
    assert midpoint(5, 2, MidpointRounding.HALF_UP) == 3
    assert midpoint(7, 2, MidpointRounding.HALF_UP) == 4
    assert midpoint(5, 2, MidpointRounding.HALF_DOWN) == 2
    assert midpoint(7, 2, MidpointRounding.HALF_DOWN) == 3
    assert midpoint(9, 4, MidpointRounding.HALF_UP) == 2  # 2.25 rounds to nearest, not up


def test_all_pairs_tradeable_fails_stage1() -> None:
    # With valid markets (bid < offer for each) the bid column sums below the offer column, so
    # some pair is always non-tradeable; the pure rule still fails cleanly on degenerate input.
    out = compute_stage1(P, [InitialMarket("A", 330, 320, 0), InitialMarket("B", 330, 320, 1)], [])
    assert out.failure is not None and "tradeable" in out.failure
    assert out.imm is None


def test_fewer_than_minimum_valid_submissions_fails() -> None:
    params = AuctionParams.build(
        auction_id="a", quotation_amount="2000000", max_spread="2", min_valid_submissions=3
    )
    out = compute_stage1(params, mk(("A", 40, 41), ("B", 39, 41)), [])
    assert out.failure == "2 valid initial market(s), fewer than the minimum of 3"


def req(dealer: str, side: Side, size: int, seq: int = 0) -> SettlementRequest:
    return SettlementRequest(dealer, side, size, seq)


def test_open_interest_is_buys_minus_sells_and_opposing_requests_match() -> None:
    out = compute_stage1(
        P,
        mk(("A", 40, 41), ("B", 39, 41)),
        [req("A", Side.SELL, 100), req("B", Side.BUY, 30), req("A", Side.BUY, 12)],
    )
    assert out.open_interest == -58
    assert out.oi_side is Side.SELL
    assert out.market_position_trades == 42


def test_adjustment_for_tradeable_bids_above_imm_when_oi_to_sell() -> None:
    markets = mk(("A", 42, 44), ("B", 40, 41), ("C", 39.5, 41.5), ("D", 39, 41))
    out = compute_stage1(P, markets, [req("A", Side.SELL, 5)])
    # bids 42, 40, 39.5, 39; offers 41, 41, 41.5, 44: (42,41) tradeable; IMM from (40,41)
    # and (39.5,41.5) = 40.5; A's bid 42 is 1.5 above: 1.5/100 * 2m = 30,000
    assert out.imm == P.grid.to_ticks("40.5", "x")
    assert [(a.dealer, a.amount) for a in out.adjustments] == [("A", 30_000)]


def test_adjustment_for_tradeable_offers_below_imm_when_oi_to_buy() -> None:
    markets = mk(("A", 37, 39), ("B", 40, 41), ("C", 39.5, 41.5), ("D", 39, 41))
    out = compute_stage1(P, markets, [req("A", Side.BUY, 5)])
    # bids 40, 39.5, 39, 37; offers 39, 41, 41, 41.5: (40,39) tradeable; best 2 of the other
    # 3: (39.5, 41) and (39, 41): IMM 40.125; A's offer 39 is 1.125 below: 22,500
    assert out.imm == P.grid.to_ticks("40.125", "x")
    assert [(a.dealer, a.amount) for a in out.adjustments] == [("A", 22_500)]


def test_no_adjustment_when_open_interest_is_zero() -> None:
    markets = mk(("A", 42, 44), ("B", 40, 41), ("C", 39.5, 41.5), ("D", 39, 41))
    out = compute_stage1(P, markets, [req("A", Side.SELL, 5), req("B", Side.BUY, 5)])
    assert out.oi_side is None and out.adjustments == ()


def test_no_adjustment_for_a_tradeable_bid_exactly_at_the_imm() -> None:
    # bids 40.5 (A), 40, 39.5, 39 against offers 40.5 (C), 41, 41.5, 42: A's bid touches C's
    # offer (tradeable); the best two of the other three pairs give IMM 40.5 = A's bid
    markets = mk(("A", 40.5, 42), ("B", 40, 41), ("C", 39.5, 40.5), ("D", 39, 41.5))
    out = compute_stage1(P, markets, [req("A", Side.SELL, 5)])
    assert [p.bid.dealer for p in out.matched if p.tradeable] == ["A"]
    assert out.imm == P.grid.to_ticks("40.5", "x")
    assert out.adjustments == ()


def test_no_adjustment_for_a_bid_above_the_imm_outside_tradeable_pairs() -> None:
    # No tradeable pair; A's bid 40 sits above the IMM 39.625 (mean 39.59375 of the best two
    # pairs) but is not in a tradeable market, so it pays nothing. The pure rule is given
    # markets wider than an auction would accept, to reach this shape.
    markets = mk(("A", 40, 40.125), ("B", 38.125, 40.125), ("C", 30, 46), ("D", 29, 47))
    out = compute_stage1(P, markets, [req("A", Side.SELL, 5)])
    assert not any(p.tradeable for p in out.matched)
    assert out.imm == P.grid.to_ticks("39.625", "x")
    assert markets[0].bid > out.imm
    assert out.adjustments == ()


@pytest.mark.parametrize(
    ("qa", "ticks", "amount"),
    [("2000000", 5, 12_500), ("1000000", 1, 1_250), ("3000000", 3, 11_250)],
)
def test_adjustment_amount_is_ticks_over_100_times_quotation_amount(
    qa: str, ticks: int, amount: int
) -> None:
    params = AuctionParams.build(auction_id="a", quotation_amount=qa, max_spread="2")
    assert params.adjustment_amount(ticks) == amount
