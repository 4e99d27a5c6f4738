"""Stage 2 rules of the spec, one test each: eligible side, carry-over (tradeable quotes at
the IMM), cap clamping, matching and the final price, pro-rata allocation with its remainder
rule, running out of orders (0 / 100, PSRs scaled down), and settlement above par."""

from __future__ import annotations

from typing import Any

import pytest

from matching.errors import InvalidInput
from tests.cds.builders import Driver

FOUR = [("A", "39.5", "40.5"), ("B", "39.5", "40.5"), ("C", "39.5", "40.5"), ("D", "39.5", "40.5")]


def fills(d: Driver) -> dict[str, int]:
    """Filled size of each dealer's own (not carried-over) limit orders."""
    out: dict[str, int] = {}
    for f in d.auction.result().limit_order_fills:
        if not f.carried_over:
            out[f.dealer] = out.get(f.dealer, 0) + int(f.filled)
    return out


def result(d: Driver) -> dict[str, Any]:
    return d.auction.result().to_dict()


def test_spec_cap_clamping_case_final_at_cap_shared_pro_rata() -> None:
    d = Driver("ABCD", cap_amount="1")
    d.stage1(FOUR, [("A", "SELL", 30_000_000)])
    d.open2()
    d.order("B", "BID", "42", 20_000_000)
    d.order("C", "BID", "41", 20_000_000)
    # D's own 30m plus its carried 2m would exceed the 30m open interest: a customer's order
    d.order("D", "BID", "40.5", 30_000_000, customer="LEI-CUSTOMER-D")
    d.close2()
    r = result(d)
    assert (r["initial_market_midpoint"], r["final_price"]) == ("40", "41")
    f = fills(d)
    assert (f["B"], f["C"], f["D"]) == (15_000_000, 15_000_000, 0)


def test_spec_cap_case_with_larger_open_interest_final_below_cap() -> None:
    d = Driver("ABCD", cap_amount="1")
    d.stage1(FOUR, [("A", "SELL", 50_000_000)])
    d.open2()
    d.order("B", "BID", "42", 20_000_000)
    d.order("C", "BID", "41", 20_000_000)
    d.order("D", "BID", "40.5", 30_000_000)
    d.close2()
    assert result(d)["final_price"] == "40.5"
    f = fills(d)
    assert (f["B"], f["C"], f["D"]) == (20_000_000, 20_000_000, 10_000_000)


def test_spec_insufficient_bids_final_zero_and_requests_scaled_down() -> None:
    d = Driver("ABCD")
    d.stage1(FOUR, [("A", "SELL", 60_000_000), ("B", "SELL", 40_000_000)])
    d.open2()
    d.order("C", "BID", "30", 62_000_000)  # plus 4 x 2m carried over = 70m
    d.close2()
    r = result(d)
    assert r["final_price"] == "0"
    assert all(f["status"] == "FILLED" for f in r["limit_order_fills"])
    trades = {t["dealer"]: int(t["filled"]) for t in r["market_position_trades"]}
    assert trades == {"A": 42_000_000, "B": 28_000_000}  # 70m split 60:40


def test_insufficient_offers_final_is_100() -> None:
    d = Driver("ABCD")
    d.stage1(FOUR, [("A", "BUY", 20_000_000)])
    d.open2()
    d.close2()  # only 4 x 2m carried offers
    r = result(d)
    assert r["final_price"] == "100"
    assert r["market_position_trades"][0]["filled"] == "8000000"


def test_only_side_opposite_open_interest_is_accepted() -> None:
    d = Driver("ABCD")
    d.stage1(FOUR, [("A", "SELL", 10_000_000)])
    d.open2()
    before = d.auction.snapshot()
    with pytest.raises(InvalidInput, match="only BID limit orders take part"):
        d.order("B", "OFFER", "41", 1)
    assert d.auction.snapshot() == before


def test_carry_over_non_tradeable_at_own_price_tradeable_at_imm() -> None:
    # bids 42 (A, tradeable against offer 41 of B), 40 (B), 39.5 (C), 39 (D)
    d = Driver("ABCD")
    d.stage1(
        [("A", "42", "44"), ("B", "40", "41"), ("C", "39.5", "41.5"), ("D", "39", "41")],
        [("A", "SELL", 5_000_000)],
    )
    assert result(d)["initial_market_midpoint"] == "40.5"
    carried = {o.owner: o for o in d.auction.book.orders() if o.carried}
    grid = d.params.grid
    assert {k: grid.format(v.ticks) for k, v in carried.items()} == {
        "A": "40.5",  # tradeable bid above the IMM carried at the IMM
        "B": "40",
        "C": "39.5",
        "D": "39",
    }
    assert all(o.size == 2_000_000 for o in carried.values())


def test_tradeable_offer_below_imm_carried_at_imm_when_oi_to_buy() -> None:
    d = Driver("ABCD")
    d.stage1(
        [("A", "40", "42"), ("B", "41", "43"), ("C", "42.5", "44"), ("D", "38", "40")],
        [("A", "BUY", 9_000_000)],
    )
    carried = {o.owner: d.params.grid.format(o.ticks) for o in d.auction.book.orders()}
    assert carried == {"A": "42", "B": "43", "C": "44", "D": "41.5"}
    assert result(d)["adjustment_amounts"] == [{"dealer": "D", "amount": "30000"}]


def test_offers_below_floor_are_clamped_to_imm_minus_cap() -> None:
    d = Driver("ABCD", cap_amount="1")
    d.stage1(
        [("A", "40", "42"), ("B", "41", "43"), ("C", "42.5", "44"), ("D", "38", "40")],
        [("A", "BUY", 3_000_000)],
    )
    d.open2()
    d.order("B", "OFFER", "30", 3_000_000, customer="LEI-B1")
    d.close2()
    r = result(d)
    assert r["final_price"] == "40.5"  # IMM 41.5 - cap 1, not 30
    assert [f["effective_price"] for f in r["limit_order_fills"] if f["filled"] != "0"] == ["40.5"]


def test_no_bound_the_other_way() -> None:
    # open interest to sell, low bids: the final price may fall far below the IMM
    d = Driver("ABCD")
    d.stage1(FOUR, [("A", "SELL", 20_000_000)])
    d.open2()
    d.order("B", "BID", "10.25", 20_000_000, customer="LEI-B1")
    d.close2()
    assert result(d)["final_price"] == "10.25"


def test_rounding_remainder_goes_to_largest_order_then_received_first() -> None:
    d = Driver("ABCD", quotation_amount="1", rounding_amount="1")
    d.stage1(FOUR, [("A", "SELL", 10)])
    d.open2()
    d.order("B", "BID", "45", 3)  # clamped to 41 with C and D
    d.order("C", "BID", "41", 3)
    d.order("D", "BID", "41", 3)
    d.close2()
    r = result(d)
    filled = {f["order_id"]: int(f["filled"]) for f in r["limit_order_fills"]}
    # 9 units fill at the cap 41; the 10th comes from the four carried-over 1-unit bids at
    # 39.5: each rounds down to 0 and the one unit left goes to the largest order, and of
    # identical orders to the one received first (A's initial market)
    assert r["final_price"] == "39.5"
    assert sum(filled.values()) == 10
    assert filled["A/~initial-market"] == 1
    assert sum(v for k, v in filled.items() if k.endswith("~initial-market")) == 1


def test_fills_sum_to_open_interest_less_the_residue_below_one_rounding_amount() -> None:
    d = Driver("ABCD")
    d.stage1(FOUR, [("A", "SELL", 10_000_001)])
    d.open2()
    for dealer in "BCD":
        d.order(dealer, "BID", "40", 7_000_000)
    d.close2()
    r = result(d)
    # 10,000,001 / 3 = 3,333,333.67 -> 3,333,000 each; 1,001 left: one unit of 1,000 to the
    # largest order received first (B), the last 1 is a residue, disregarded and shown
    filled = {f["dealer"]: int(f["filled"]) for f in r["limit_order_fills"] if f["filled"] != "0"}
    assert filled == {"B": 3_334_000, "C": 3_333_000, "D": 3_333_000}
    assert r["residue"]["limit_orders"] == "1"
    assert sum(filled.values()) == 10_000_001 - 1


def test_all_trades_at_single_final_price_and_settlement_caps_at_par() -> None:
    d = Driver("ABCD")
    d.stage1(
        [("A", "103", "105"), ("B", "103.5", "105"), ("C", "104", "105.5"), ("D", "103", "104.5")],
        [("A", "BUY", 1_000_000), ("B", "SELL", 500_000)],
    )
    d.open2()
    d.close2()
    r = result(d)
    prices = {t["price"] for t in r["market_position_trades"]}
    assert prices == {r["final_price"]}
    assert float(r["final_price"]) > 100  # a final price above par is possible
    assert r["settlement_price"] == "100"
