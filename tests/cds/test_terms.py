"""The rules of ISDA's Auction Settlement Terms, one test each: the Terms' worked example,
the Rounding Convention (Hertz 2020), ties by time of receipt with the earlier counting as
worse, prices when the open interest is not filled, validity of requests and orders, and
customers across dealers."""

from __future__ import annotations

import pytest

from matching.allocation import Claim, pro_rata_rounded
from matching.cds.auction import CdsAuction
from matching.cds.events import event_from_dict
from matching.cds.params import AuctionParams
from matching.cds.phases import Phase
from matching.cds.stage1 import InitialMarket, compute_stage1
from matching.errors import InvalidInput
from tests.cds.builders import Driver

WORKED = [
    ("A", "39.5", "41"),
    ("B", "40", "42"),
    ("C", "41", "43"),
    ("D", "45", "47"),
    ("E", "32", "34"),
    ("F", "38.75", "40"),
    ("G", "38", "39.5"),
    ("H", "41", "42.75"),
]


def worked_example(oi_side: str) -> Driver:
    d = Driver("ABCDEFGH", max_spread="2", cap_amount="1")
    d.stage1(WORKED, [("A", oi_side, 10_000_000)])
    return d


def test_terms_worked_example_tradeable_pairs_best_half_and_imm() -> None:
    d = worked_example("SELL")
    r = d.auction.result()
    pairs = [(m.bid, m.offer, m.tradeable, m.in_best_half) for m in r.matched_markets]
    assert [(b, o) for b, o, t, _ in pairs if t] == [("45", "34"), ("41", "39.5"), ("41", "40")]
    assert [(b, o) for b, o, _, best in pairs if best] == [
        ("40", "41"),
        ("39.5", "42"),
        ("38.75", "42.75"),
    ]
    assert r.initial_market_midpoint == "40.625"


def test_terms_worked_example_adjustment_amounts_open_interest_to_sell() -> None:
    r = worked_example("SELL").auction.result()
    # 4.375 %, 0.375 %, 0.375 % of the 2m quotation amount, paid by the tradeable bids
    assert [(a.dealer, a.amount) for a in r.adjustment_amounts] == [
        ("D", "87500"),
        ("H", "7500"),
        ("C", "7500"),
    ]


def test_terms_worked_example_adjustment_amounts_open_interest_to_buy() -> None:
    r = worked_example("BUY").auction.result()
    # 6.625 %, 1.125 %, 0.625 % of the quotation amount, paid by the tradeable offers
    assert [(a.dealer, a.amount) for a in r.adjustment_amounts] == [
        ("E", "132500"),
        ("G", "22500"),
        ("F", "12500"),
    ]


# -- ties by time of receipt: the earlier one counts as worse ----------------------------

TIE_BIDS = [("A", "41", "43"), ("B", "41", "44"), ("C", "36", "40"), ("D", "35", "42")]


@pytest.mark.parametrize(("first", "second"), [("A", "B"), ("B", "A")])
def test_equal_bids_the_one_received_first_is_lower_and_escapes_the_tradeable_pair(
    first: str, second: str
) -> None:
    d = Driver("ABCD", max_spread="7", cap_amount="1")
    d.open1()
    by = {m[0]: m for m in TIE_BIDS}
    for dealer in (first, second, "C", "D"):
        d.market(*by[dealer])
    d.psr("C", "SELL", 10_000_000)
    d.close1()
    r = d.auction.result()
    # pairs (41|40) tradeable, (41|42), (36|43), (35|44): IMM of the best two = 40.5
    assert r.initial_market_midpoint == "40.5"
    assert (r.matched_markets[0].bid_dealer, r.matched_markets[0].tradeable) == (second, True)
    assert (r.matched_markets[1].bid_dealer, r.matched_markets[1].tradeable) == (first, False)
    # the later-received 41 bid sits in the tradeable pair: it pays, and is carried at the IMM
    assert [(a.dealer, a.amount) for a in r.adjustment_amounts] == [(second, "10000")]
    d.open2()
    carried = {o.owner: d.params.grid.format(o.ticks) for o in d.auction.book.orders()}
    assert carried[second] == "40.5" and carried[first] == "41"


@pytest.mark.parametrize(("first", "second"), [("A", "B"), ("B", "A")])
def test_equal_offers_the_one_received_first_is_higher(first: str, second: str) -> None:
    mirrored = {"A": ("A", "38", "40"), "B": ("B", "37", "40"), "C": ("C", "41", "45")}
    mirrored["D"] = ("D", "39", "46")
    d = Driver("ABCD", max_spread="7", cap_amount="1")
    d.open1()
    for dealer in (first, second, "C", "D"):
        d.market(*mirrored[dealer])
    d.psr("C", "BUY", 10_000_000)
    d.close1()
    r = d.auction.result()
    assert r.initial_market_midpoint == "40.5"
    assert (r.matched_markets[0].offer_dealer, r.matched_markets[0].tradeable) == (second, True)
    assert r.matched_markets[1].offer_dealer == first
    assert [(a.dealer, a.amount) for a in r.adjustment_amounts] == [(second, "10000")]


def test_a_replaced_market_is_received_when_replaced() -> None:
    markets = [
        InitialMarket("A", 328, 344, seq=5),  # A re-quoted after B: counts as received later
        InitialMarket("B", 328, 344, seq=3),
    ]
    params = AuctionParams.build(auction_id="x", quotation_amount="2000000", max_spread="2")
    out = compute_stage1(params, markets, [])
    assert [p.bid.dealer for p in out.matched] == ["A", "B"]
    assert [p.offer.dealer for p in out.matched] == ["A", "B"]


# -- the Rounding Convention ---------------------------------------------------------------


def test_rounding_convention_hertz_goldman_gets_the_published_39_528m() -> None:
    # 111.525m to sell; 118.5m bid at the cap: Goldman's 42m and (as published only in
    # total) 76.5m of others, here two 38.25m orders, none larger than Goldman's.
    claims = [Claim("gs", 42_000_000, 1), Claim("x", 38_250_000, 2), Claim("y", 38_250_000, 3)]
    split = pro_rata_rounded(111_525_000, claims, 1_000)
    # 39,527,848 -> 39,527,000 (+1,000 as the largest); 35,998,575 -> 35,998,000 (+1,000
    # to the one received first of the two identical orders)
    assert split.shares == [39_528_000, 35_999_000, 35_998_000]
    assert split.residue == 0


def test_rounding_convention_never_beyond_an_order_and_the_residue_is_reported() -> None:
    split = pro_rata_rounded(2_400, [Claim("small", 1_000, 1), Claim("big", 1_500, 2)], 1_000)
    # exact 960 and 1,440 -> 0 and 1,000; 1,400 left: the big one has room for 500 only,
    # so the small one gets the unit; 400 is a residue below one rounding amount
    assert split.shares == [1_000, 1_000]
    assert split.residue == 400


def test_rounding_amount_defaults_by_currency_and_must_be_stated_otherwise() -> None:
    def build(currency: str, **kw: object) -> AuctionParams:
        return AuctionParams.build(
            auction_id="x",
            currency=currency,
            quotation_amount="2000000",
            max_spread="2",
            **kw,  # type: ignore[arg-type]
        )

    assert build("USD").rounding_amount == 1_000
    assert build("EUR").rounding_amount == 1_000
    assert build("JPY").rounding_amount == 100_000
    with pytest.raises(InvalidInput, match="required for GBP"):
        build("GBP")
    assert build("GBP", rounding_amount="1000").rounding_amount == 1_000
    with pytest.raises(InvalidInput, match="must be positive"):
        build("USD", rounding_amount="0")


def test_jpy_fills_round_down_to_100000_yen() -> None:
    d = Driver("ABCD", currency="JPY", quotation_amount="100000000")
    d.stage1(
        [
            ("A", "39.5", "40.5"),
            ("B", "39.5", "40.5"),
            ("C", "39.5", "40.5"),
            ("D", "39.5", "40.5"),
        ],
        [("A", "SELL", 1_000_000_000)],
    )
    d.open2()
    for dealer in "BCD":
        d.order(dealer, "BID", "40", 700_000_000)
    d.close2()
    r = d.auction.result()
    filled = sorted(int(f.filled) for f in r.limit_order_fills if f.filled != "0")
    # 333,333,333.3 each -> 333,300,000; 100,000 left goes to the first received (B)
    assert filled == [333_300_000, 333_300_000, 333_400_000]
    assert r.limit_order_residue == "0"


# -- when the open interest is not filled -------------------------------------------------


def test_not_filled_to_buy_final_is_100_when_every_offer_is_below_par() -> None:
    d = Driver("ABCD", cap_amount="1")
    d.stage1(
        [("A", "96", "98"), ("B", "96", "98"), ("C", "96", "98"), ("D", "96", "98")],
        [("A", "BUY", 20_000_000)],
    )
    d.open2()
    d.close2()
    r = d.auction.result()
    assert r.final_price == "100"
    assert all(f.status == "FILLED" for f in r.limit_order_fills)


def test_not_filled_to_buy_final_is_the_highest_offer_received_above_par() -> None:
    d = Driver("ABCD", cap_amount="1")
    d.stage1(
        [("A", "101", "103"), ("B", "101", "103"), ("C", "101", "103"), ("D", "101", "103")],
        [("A", "BUY", 20_000_000)],
    )
    d.open2()
    d.order("B", "OFFER", "104.25", 1_000_000)
    d.close2()
    r = d.auction.result()
    assert r.final_price == "104.25"
    assert r.settlement_price == "100"


def test_not_filled_to_sell_final_is_zero_and_requests_share_pro_rata_under_rounding() -> None:
    d = Driver("ABCD")
    d.stage1(
        [
            ("A", "39.5", "40.5"),
            ("B", "39.5", "40.5"),
            ("C", "39.5", "40.5"),
            ("D", "39.5", "40.5"),
        ],
        [("A", "SELL", 33_333_000), ("B", "SELL", 66_667_000)],
    )
    d.open2()
    d.order("C", "BID", "40", 42_000_000, customer="LEI-C-1")
    d.close2()
    r = d.auction.result()
    assert r.final_price == "0"
    # 42m + four carried 2m bids = 50m matched; 16,666,500 -> 16,666,000 and 33,333,500 ->
    # 33,333,000; the 1,000 left goes to the largest request (B's)
    assert {t.dealer: int(t.filled) for t in r.market_position_trades} == {
        "A": 16_666_000,
        "B": 33_334_000,
    }
    assert r.request_residue == "0"


# -- validity ------------------------------------------------------------------------------


def test_a_request_without_a_valid_initial_market_does_not_count() -> None:
    d = Driver("ABCDE")
    d.stage1(
        [
            ("A", "39.5", "40.5"),
            ("B", "39.5", "40.5"),
            ("C", "39.5", "40.5"),
            ("D", "39.5", "40.5"),
        ],
        [("A", "SELL", 5_000_000), ("E", "SELL", 50_000_000)],
    )
    r = d.auction.result()
    assert (r.open_interest_side, r.open_interest_size) == ("SELL", "5000000")
    assert [(i.dealer, i.size, i.reason) for i in r.invalid_requests] == [
        ("E", "50000000", "the dealer has no valid initial market at the close")
    ]


def test_a_withdrawn_market_makes_the_request_invalid() -> None:
    d = Driver("ABCD")
    d.open1()
    for m in [("A", "39.5", "40.5"), ("B", "39.5", "40.5"), ("C", "39.5", "40.5")]:
        d.market(*m)
    d.psr("A", "SELL", 5_000_000)
    d.do(d.auction.withdraw_market(dealer="A", client_order_id="w", now=d.now()))
    d.close1()
    r = d.auction.result()
    assert r.open_interest_side == "NONE"
    assert [i.dealer for i in r.invalid_requests] == ["A"]


def test_required_market_position_refuses_a_request_without_one() -> None:
    d = Driver("ABCD", require_market_position=True)
    d.open1()
    d.market("A", "39.5", "40.5")
    with pytest.raises(InvalidInput, match="requires the market position"):
        d.psr("A", "SELL", 5_000_000)
    d.psr("A", "SELL", 5_000_000, market_position="5000000")
    d.psr("B", "SELL", 0)  # nothing to attest


def test_own_limit_orders_plus_carried_quote_may_not_exceed_the_open_interest() -> None:
    d = Driver("ABCD")
    d.stage1(
        [
            ("A", "39.5", "40.5"),
            ("B", "39.5", "40.5"),
            ("C", "39.5", "40.5"),
            ("D", "39.5", "40.5"),
        ],
        [("A", "SELL", 10_000_000)],
    )
    d.open2()
    d.order("B", "BID", "40", 5_000_000)
    with pytest.raises(InvalidInput, match="own limit orders plus its carried-over quote"):
        d.order("B", "BID", "40", 3_000_001)  # 5m + 3,000,001 + 2m carried > 10m
    d.order("B", "BID", "40", 3_000_000)  # exactly 10m with the carried quote
    d.order("B", "BID", "40", 9_000_000, customer="LEI-B-1")  # customers' do not count
    with pytest.raises(InvalidInput, match="may not exceed the open interest of 10000000"):
        d.do(
            d.auction.replace_limit_order(
                dealer="B",
                client_order_id="r",
                order_client_id="c6",
                price="40",
                size="5000001",
                now=d.now(),
            )
        )


# -- customers across dealers ---------------------------------------------------------------


def test_customer_requests_over_all_dealers_may_not_exceed_its_stated_position() -> None:
    d = Driver("ABCD")
    d.open1()
    for m in [("A", "39.5", "40.5"), ("B", "39.5", "40.5"), ("C", "39.5", "40.5")]:
        d.market(*m)
    d.psr("A", "SELL", 6_000_000, customer="LEI-1", market_position="10000000")
    d.psr("B", "SELL", 5_000_000, customer="LEI-1", market_position="10000000")
    d.psr("C", "BUY", 1_000_000, customer="LEI-2")
    d.psr("A", "SELL", 1_000_000, customer="LEI-2")
    d.close1()
    r = d.auction.result()
    assert [(i.dealer, i.customer, i.reason) for i in r.invalid_requests] == [
        (
            "B",
            "LEI-1",
            "the customer's requests summed over all dealers exceed its stated market "
            "position of 10000000",
        ),
        (
            "A",
            "LEI-2",
            "the customer's requests over all dealers go both ways (BUY received first)",
        ),
    ]
    assert (r.open_interest_side, r.open_interest_size) == ("SELL", "5000000")


def test_customer_limit_orders_over_all_dealers_beyond_the_open_interest_do_not_count() -> None:
    d = Driver("ABCD")
    d.stage1(
        [
            ("A", "39.5", "40.5"),
            ("B", "39.5", "40.5"),
            ("C", "39.5", "40.5"),
            ("D", "39.5", "40.5"),
        ],
        [("A", "SELL", 10_000_000)],
    )
    d.open2()
    d.order("B", "BID", "41", 6_000_000, customer="LEI-9")
    d.order("C", "BID", "41", 5_000_000, customer="LEI-9")  # 11m > 10m: does not count
    d.close2()
    r = d.auction.result()
    assert [(o.dealer, o.size) for o in r.excluded_orders] == [("C", "5000000")]
    assert r.final_price == "39.5"  # 6m at the cap 40.5, then the carried bids at 39.5
    assert {f.order_id: f.filled for f in r.limit_order_fills if not f.carried_over} == {
        "B/c6": "6000000"
    }


def test_customer_ids_are_seen_only_by_their_dealer_and_operators() -> None:
    d = Driver("ABCD")
    d.stage1(
        [
            ("A", "39.5", "40.5"),
            ("B", "39.5", "40.5"),
            ("C", "39.5", "40.5"),
            ("D", "39.5", "40.5"),
        ],
        [("A", "SELL", 10_000_000)],
    )
    d.do(
        d.auction.decline_customer_request(
            dealer="C",
            client_order_id="dec",
            customer="LEI-DECLINED",
            kind="LIMIT_ORDER",
            side="BID",
            size="1000000",
            price="40",
            reason="over the customer's credit line",
            now=d.now(),
        )
    )
    d.open2()
    d.order("B", "BID", "40", 4_000_000, customer="LEI-SECRET")
    d.close2()
    everything = str(d.auction.result().to_dict())
    assert "LEI-SECRET" in everything and "LEI-DECLINED" in everything  # operators
    assert "LEI-SECRET" in str(d.auction.result(customers_of="B").to_dict())
    for other in ("A", "C", False):
        seen = str(d.auction.result(customers_of=other).to_dict())
        assert "LEI-SECRET" not in seen
    assert "LEI-DECLINED" in str(d.auction.result(customers_of="C").to_dict())
    assert "LEI-DECLINED" not in str(d.auction.result(customers_of="B").to_dict())
    declines = d.auction.result(customers_of="C").declines
    assert [(x.dealer, x.kind, x.reason) for x in declines] == [
        ("C", "LIMIT_ORDER", "over the customer's credit line")
    ]


def test_a_dealer_names_a_customer_request_it_declines_with_a_reason() -> None:
    d = Driver("ABCD")
    d.open1()
    with pytest.raises(InvalidInput, match="needs a reason"):
        d.auction.decline_customer_request(
            dealer="A",
            client_order_id="x",
            customer="LEI",
            kind="PSR",
            side="SELL",
            size="1",
            reason=" ",
            now=d.now(),
        )
    with pytest.raises(InvalidInput, match="PSR or LIMIT_ORDER"):
        d.auction.decline_customer_request(
            dealer="A",
            client_order_id="x",
            customer="LEI",
            kind="SWAP",
            side="SELL",
            size="1",
            reason="no",
            now=d.now(),
        )


def test_a_journal_from_before_the_new_parameters_replays_under_its_own_rules() -> None:
    d = Driver("ABCD")
    d.stage1(
        [
            ("A", "39.5", "40.5"),
            ("B", "39.5", "40.5"),
            ("C", "39.5", "40.5"),
            ("D", "39.5", "40.5"),
        ],
        [("A", "SELL", 1_000_001)],
    )
    old = []
    for e in d.events:
        data = e.to_dict()
        if data["type"] == "AuctionCreated":
            for key in (
                "rounding_amount",
                "require_market_position",
                "calendar",
                "fallback_settlement_method",
                "max_initial_bidding_periods",
                "auction_date",
            ):
                del data["params"][key]
            del data["dealer_names"], data["auction_set"]
        if data["type"] == "Stage1Closed":
            del data["next_phase"]
        old.append(event_from_dict(data))
    replayed = CdsAuction.from_events(old)
    # before the Rounding Convention every amount was rounded to the whole currency unit
    assert replayed.params.rounding_amount == 1
    assert replayed.phase is Phase.STAGE1_CLOSED
