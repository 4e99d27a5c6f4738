"""The auction as a state machine: phases, panel, windows on the clock, validation of every
submission, idempotency by client order id, replacement without double counting, sealed
books, audited disclosure, and replay from events (including detection of a doctored one)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from matching.cds.auction import CdsAuction, ReplayMismatch, Schedule
from matching.cds.events import MarketSubmitted, Stage1Closed, event_from_dict
from matching.cds.phases import TRANSITIONS, Phase
from matching.errors import (
    AlreadyExists,
    DomainError,
    ErrorCode,
    InvalidInput,
    InvalidTransition,
    LimitExceeded,
    NotFound,
    NotPermitted,
)
from tests.cds.builders import T0, Driver

FOUR = [("A", "39.5", "40.5"), ("B", "39.5", "40.5"), ("C", "39.5", "40.5"), ("D", "39.5", "40.5")]


def refused(d: Driver, exc: type[DomainError], call: object, *args: object, **kw: object) -> str:
    """Run a command that must be refused; assert it changed nothing; return the message."""
    before = d.auction.snapshot()
    with pytest.raises(exc) as info:
        call(*args, **kw)  # type: ignore[operator]
    assert d.auction.snapshot() == before
    return str(info.value)


def test_phase_table_reaches_every_phase_and_terminals_are_final() -> None:
    reachable = {Phase.SCHEDULED}
    frontier = [Phase.SCHEDULED]
    while frontier:
        for nxt in TRANSITIONS[frontier.pop()]:
            if nxt not in reachable:
                reachable.add(nxt)
                frontier.append(nxt)
    assert reachable == set(Phase)
    assert all(not TRANSITIONS[p] for p in (Phase.FINAL, Phase.CANCELLED, Phase.FAILED))


def test_submission_before_open_and_after_close_is_refused() -> None:
    d = Driver("AB")
    a = d.auction
    refused(
        d,
        InvalidTransition,
        a.submit_market,
        dealer="A",
        client_order_id="x",
        bid="1",
        offer="2",
        now=d.now(),
    )
    d.open1()
    d.market("A", "40", "41")
    d.close1()
    msg = refused(
        d,
        InvalidTransition,
        a.submit_market,
        dealer="B",
        client_order_id="y",
        bid="40",
        offer="41",
        now=d.now(),
    )
    assert "not open" in msg


def test_submission_stamped_after_scheduled_close_is_refused_before_close_runs() -> None:
    schedule = Schedule(stage1_open=T0, stage1_close=T0 + timedelta(minutes=15))
    d = Driver("AB", schedule=schedule)
    d.open1()
    a = d.auction
    late = T0 + timedelta(minutes=15)
    msg = refused(
        d,
        InvalidTransition,
        a.submit_market,
        dealer="A",
        client_order_id="x",
        bid="40",
        offer="41",
        now=late,
    )
    assert "closed at" in msg
    assert a.next_timer() == (T0 + timedelta(minutes=15), "close_stage1")


def test_dealer_not_on_panel_is_refused() -> None:
    d = Driver("AB")
    d.open1()
    msg = refused(
        d,
        NotPermitted,
        d.auction.submit_market,
        dealer="Z",
        client_order_id="x",
        bid="40",
        offer="41",
        now=d.now(),
    )
    assert "not on the panel" in msg
    assert NotPermitted.code is ErrorCode.PERMISSION_DENIED


@pytest.mark.parametrize(
    ("bid", "offer", "field", "words"),
    [
        ("40.1", "41", "bid", "grid"),
        ("40", "41.3", "offer", "grid"),
        ("-1", "1", "bid", "negative"),
        ("41", "41", "offer", "above the bid"),
        ("42", "41", "offer", "above the bid"),
        ("38", "40.125", "offer", "exceeds the maximum"),
        ("4e1", "41", "bid", "decimal string"),
        ("NaN", "41", "bid", "decimal string"),
    ],
)
def test_invalid_markets_name_the_field_and_rule(
    bid: str, offer: str, field: str, words: str
) -> None:
    d = Driver("AB")
    d.open1()
    with pytest.raises(InvalidInput) as info:
        d.auction.submit_market(dealer="A", client_order_id="x", bid=bid, offer=offer, now=d.now())
    assert info.value.field == field
    assert words in info.value.description


def test_prices_above_100_are_allowed() -> None:
    d = Driver("AB")
    d.open1()
    d.market("A", "101", "103")
    assert d.auction.markets["A"].market.offer == d.params.grid.to_ticks("103", "x")


def test_binary_floats_are_refused() -> None:
    d = Driver("AB")
    d.open1()
    with pytest.raises(InvalidInput):
        d.auction.submit_market(
            dealer="A",
            client_order_id="x",
            bid=40.5,  # type: ignore[arg-type]
            offer="41",
            now=d.now(),
        )


def test_replacing_a_market_never_double_counts() -> None:
    d = Driver("ABCD")
    d.open1()
    for dealer, bid, offer in FOUR:
        d.market(dealer, bid, offer)
    d.market("A", "30", "31")  # replaces A's market
    assert len(d.auction.markets) == 4
    assert d.auction.markets["A"].market.bid == d.params.grid.to_ticks("30", "x")


def test_psr_replaced_per_dealer_and_customer_and_aggregated() -> None:
    d = Driver("ABCD")
    d.open1()
    for dealer, bid, offer in FOUR:
        d.market(dealer, bid, offer)
    d.psr("A", "SELL", 10)
    d.psr("A", "SELL", 7)  # replaces A's own request
    d.psr("A", "SELL", 5, customer="fund-1")  # a customer's request sits beside it
    d.close1()
    assert d.auction.result().open_interest_size == "12"


def test_psr_against_market_position_is_refused() -> None:
    d = Driver("AB")
    d.open1()
    a = d.auction
    msg = refused(
        d,
        InvalidInput,
        a.submit_request,
        dealer="A",
        client_order_id="x",
        side="SELL",
        size="20",
        market_position="10",
        now=d.now(),
    )
    assert "exceeds the attested market position" in msg
    msg = refused(
        d,
        InvalidInput,
        a.submit_request,
        dealer="A",
        client_order_id="y",
        side="SELL",
        size="5",
        market_position="10",
        market_position_side="BUY",
        now=d.now(),
    )
    assert "against the attested BUY market position" in msg
    d.psr("A", "SELL", 10, market_position="10")
    assert d.auction.requests[("A", None)].request.market_position == 10


def test_same_client_order_id_same_content_returns_original_ack() -> None:
    d = Driver("AB")
    d.open1()
    first = d.auction.submit_market(
        dealer="A", client_order_id="m1", bid="40", offer="41", now=d.now()
    )
    d.do(first)
    before = d.auction.snapshot()
    again = d.auction.submit_market(
        dealer="A", client_order_id="m1", bid="40.000", offer="41", now=d.now()
    )
    assert again.events == ()
    assert again.ack is not None and first.ack is not None
    assert (again.ack.seq, again.ack.at, again.ack.duplicate) == (first.ack.seq, first.ack.at, True)
    assert d.auction.snapshot() == before
    msg = refused(
        d,
        AlreadyExists,
        d.auction.submit_market,
        dealer="A",
        client_order_id="m1",
        bid="39",
        offer="41",
        now=d.now(),
    )
    assert "already used" in msg


def test_retry_after_close_still_gets_the_original_ack() -> None:
    d = Driver("AB")
    d.open1()
    first = d.do(
        d.auction.submit_market(dealer="A", client_order_id="m1", bid="40", offer="41", now=d.now())
    )
    d.close1()
    again = d.auction.submit_market(
        dealer="A", client_order_id="m1", bid="40", offer="41", now=d.now()
    )
    assert again.ack is not None and first.ack is not None and again.ack.seq == first.ack.seq


def test_client_order_ids_are_per_dealer() -> None:
    d = Driver("AB")
    d.open1()
    d.do(
        d.auction.submit_market(
            dealer="A", client_order_id="same", bid="40", offer="41", now=d.now()
        )
    )
    d.do(
        d.auction.submit_market(
            dealer="B", client_order_id="same", bid="39", offer="41", now=d.now()
        )
    )
    assert len(d.auction.markets) == 2


def test_withdrawals() -> None:
    d = Driver("ABC")
    d.open1()
    d.market("A", "40", "41")
    d.psr("A", "SELL", 5)
    d.do(d.auction.withdraw_market(dealer="A", client_order_id="w1", now=d.now()))
    d.do(d.auction.withdraw_request(dealer="A", client_order_id="w2", now=d.now()))
    assert d.auction.markets == {} and d.auction.requests == {}
    refused(d, NotFound, d.auction.withdraw_market, dealer="B", client_order_id="w3", now=d.now())


def test_limit_orders_replace_cancel_and_ownership() -> None:
    d = Driver("ABCD", max_orders_per_dealer=2)
    d.stage1(FOUR, [("A", "SELL", 10_000_000)])
    d.open2()
    a = d.auction
    d.do(
        a.submit_limit_order(
            dealer="B", client_order_id="o1", side="BID", price="40", size="5000000", now=d.now()
        )
    )
    d.do(
        a.replace_limit_order(
            dealer="B",
            client_order_id="r1",
            order_client_id="o1",
            price="40.5",
            size="6000000",
            now=d.now(),
        )
    )
    order = a.book.get("B/o1")
    assert (order.ticks, order.size) == (d.params.grid.to_ticks("40.5", "x"), 6_000_000)
    # C cannot touch B's order: it does not exist for C
    refused(
        d,
        NotFound,
        a.cancel_limit_order,
        dealer="C",
        client_order_id="x1",
        order_client_id="o1",
        now=d.now(),
    )
    d.do(
        a.submit_limit_order(
            dealer="B", client_order_id="o2", side="BID", price="40", size="1", now=d.now()
        )
    )
    refused(
        d,
        LimitExceeded,
        a.submit_limit_order,
        dealer="B",
        client_order_id="o3",
        side="BID",
        price="40",
        size="1",
        now=d.now(),
    )
    d.do(a.cancel_limit_order(dealer="B", client_order_id="x2", order_client_id="o2", now=d.now()))
    assert "B/o2" not in a.book
    for price, size in (("-0.125", "1"), ("40.01", "1"), ("40", "0"), ("40", "1.5")):
        refused(
            d,
            InvalidInput,
            a.submit_limit_order,
            dealer="B",
            client_order_id="bad",
            side="BID",
            price=price,
            size=size,
            now=d.now(),
        )
    a.book._check()


def test_minimum_limit_order_size() -> None:
    d = Driver("ABCD", min_limit_order_size="1000000")
    d.stage1(FOUR, [("A", "SELL", 10_000_000)])
    d.open2()
    msg = refused(
        d,
        InvalidInput,
        d.auction.submit_limit_order,
        dealer="B",
        client_order_id="o",
        side="BID",
        price="40",
        size="999999",
        now=d.now(),
    )
    assert "minimum" in msg


def test_sealed_book_is_hidden_until_the_window_closes() -> None:
    d = Driver("ABCD")
    d.open1()
    for dealer, bid, offer in FOUR:
        d.market(dealer, bid, offer)
    with pytest.raises(NotPermitted):
        d.auction.all_views()
    view = d.auction.view_of("A")
    assert view.market is not None and view.market.market.dealer == "A"
    assert d.auction.result().matched_markets == ()
    disclose = d.do(d.auction.disclose_book(by="ops", reason="regulator request", now=d.now()))
    assert disclose.events[0].type == "BookDisclosed"
    assert len(d.auction.all_views(disclosed=True)) == 4
    d.psr("A", "SELL", 1)
    d.close1()
    assert len(d.auction.all_views()) == 4
    assert len(d.auction.result().matched_markets) == 4


def test_open_interest_zero_ends_at_imm() -> None:
    d = Driver("ABCD")
    d.stage1(FOUR, [("A", "SELL", 5), ("B", "BUY", 5)])
    assert d.auction.phase is Phase.FINAL
    r = d.auction.result()
    assert r.final_price == r.initial_market_midpoint == "40"
    with pytest.raises(InvalidTransition):
        d.auction.open_stage2(by="ops", now=d.now())


def test_stage1_failure_is_an_explicit_state() -> None:
    d = Driver("ABCD", min_valid_submissions=4, max_initial_bidding_periods=1)
    d.stage1(FOUR[:3])
    assert d.auction.phase is Phase.FAILED
    assert d.auction.result().reason == "3 valid initial market(s), fewer than the minimum of 4"


def test_cancel_from_open_window_and_not_after_final() -> None:
    d = Driver("AB")
    d.open1()
    d.do(d.auction.cancel(by="ops", reason="credit event withdrawn", now=d.now()))
    assert d.auction.phase is Phase.CANCELLED
    assert d.auction.result().reason == "credit event withdrawn"
    refused(d, InvalidTransition, d.auction.cancel, by="ops", reason="again", now=d.now())


def test_replay_gives_identical_state_through_json() -> None:
    import json

    d = Driver("ABCD")
    d.stage1(FOUR, [("A", "SELL", 10_000_000)])
    d.open2()
    d.order("B", "BID", "41", 6_000_000)
    d.order("C", "BID", "40", 6_000_000)
    d.close2()
    wire = [json.loads(json.dumps(e.to_dict())) for e in d.events]
    replayed = CdsAuction.from_events(event_from_dict(w) for w in wire)
    assert replayed.snapshot() == d.auction.snapshot()


def test_replay_detects_a_doctored_publication() -> None:
    d = Driver("ABCD")
    d.stage1(FOUR, [("A", "SELL", 10_000_000)])
    doctored = [
        dataclasses.replace(e, initial_market_midpoint="41") if isinstance(e, Stage1Closed) else e
        for e in d.events
    ]
    with pytest.raises(ReplayMismatch):
        CdsAuction.from_events(doctored)


def test_replay_refuses_gaps_in_sequence() -> None:
    d = Driver("AB")
    d.open1()
    d.market("A", "40", "41")
    events = [e for e in d.events if not isinstance(e, MarketSubmitted)]
    d.market("B", "40", "41")
    with pytest.raises(ValueError, match="does not follow"):
        CdsAuction.from_events([*events, d.events[-1]])
