"""The process rules between the engines (matching.process.steps): lots and their numbering,
eligibility decided when a window opens, exclusions at the award, re-auction, withdrawal,
operator assignment, and loss allocation only once every defaulted position is settled."""

from __future__ import annotations

from datetime import datetime

import pytest

from matching.clearing.model import Position
from matching.clearing.state import MemberSpec
from matching.default.auction import AuctionParams, DefaultAuction, Schedule
from matching.default.phases import Phase
from matching.errors import AlreadyExists, InvalidInput, InvalidTransition, NotFound
from matching.process import steps
from matching.process.waterfall import WaterfallConfig
from tests.default.builders import House, reference_conversion, standard_house, terms

PRICING = steps.LotPricing("curve-1", "1", "USD")


def pos(pid: str, side: str = "PAYER", index: str = "USD-LIBOR-3M") -> Position:
    return Position(pid, "D", terms(side, index=index), "cleared")


def test_grouping_by_position_currency_index_hand_and_dv01() -> None:
    book = [pos("d1"), pos("d2", "RECEIVER", "USD-SOFR"), pos("d3", "RECEIVER"), pos("d4")]
    assert steps.group_into_lots(book, grouping="position") == [
        ("d1",),
        ("d2",),
        ("d3",),
        ("d4",),
    ]
    assert steps.group_into_lots(book, grouping="currency_index") == [
        ("d1", "d3", "d4"),
        ("d2",),
    ]
    dv01 = {"d1": 600, "d2": 900, "d3": -500, "d4": 300}
    # per market, in order, while the sum of |DV01| stays at or under the limit
    assert steps.group_into_lots(book, grouping="dv01", dv01=dv01, max_dv01=1_100) == [
        ("d1", "d3"),
        ("d2",),
        ("d4",),
    ]
    assert steps.group_into_lots(book, grouping="dv01", dv01=dv01, max_dv01=100) == [
        ("d1",),
        ("d2",),
        ("d3",),
        ("d4",),
    ]
    assert steps.group_into_lots(book[:1] + book[2:3], grouping="x", by_hand=True) == [("d1", "d3")]
    with pytest.raises(InvalidInput, match="one currency and index"):
        steps.group_into_lots(book[:2], grouping="position", by_hand=True)
    with pytest.raises(InvalidInput, match="max_lot_dv01"):
        steps.group_into_lots(book, grouping="dv01", dv01=dv01, max_dv01=0)
    with pytest.raises(InvalidInput, match="group_by"):
        steps.group_into_lots(book, grouping="colour")


def defaulted(extra: list[tuple[str, str, object]] | None = None) -> House:
    h = standard_house(extra_positions=extra or [])  # type: ignore[arg-type]
    held = h.state.open_positions("D")
    h.do(
        h.state.declare_default(
            member="D", by="o", now=h.now(), values={p.position_id: "0" for p in held}
        )
    )
    return h


def convert(h: House, ids: list[str] | None = None, grouping: str = "position") -> list[str]:
    held = steps.positions_to_convert(h.state, "D", ids or ())
    groups = steps.group_into_lots(held, grouping=grouping, by_hand=bool(ids))
    conversions = {p.position_id: reference_conversion(p.position_id) for p in held}
    decision, lot_ids = steps.convert(
        h.state,
        member="D",
        conversions=conversions,
        groups=groups,
        pricing=lambda market: PRICING,
        valuation_time="2007-12-12",
        rcv_convention="same_coupon",
        settled_flows="exclude_settled",
        hedges=None,
        by="o",
        now=h.now(),
    )
    h.do(decision)
    return lot_ids


def auction_of(h: House, lot_id: str, auction_id: str | None = None) -> DefaultAuction:
    inv = h.state.invitation(lot_id)
    return DefaultAuction.from_events(
        DefaultAuction.create(
            auction_id=auction_id or lot_id,
            lot=h.state.lot(lot_id).lot,
            eligible=inv.eligible,
            market_makers=inv.market_makers,
            mandatory=inv.mandatory,
            params=AuctionParams(),
            schedule=Schedule(),
            by="o",
            now=h.now(),
        ).events
    )


def step(a: DefaultAuction, decision: object) -> None:
    a.apply_all(decision.events)  # type: ignore[attr-defined]


def test_lot_numbers_continue_and_a_withdrawn_lot_frees_its_positions() -> None:
    h = defaulted()
    assert convert(h) == ["D-1"]
    with pytest.raises(InvalidTransition, match="no defaulted position left"):
        steps.positions_to_convert(h.state, "D")
    with pytest.raises(NotFound, match="in no live lot"):
        steps.positions_to_convert(h.state, "D", ["p-D"])
    with pytest.raises(InvalidTransition, match="not in default"):
        steps.positions_to_convert(h.state, "A")
    a = auction_of(h, "D-1")
    live = [a]
    with pytest.raises(AlreadyExists, match="already in auction D-1"):
        steps.check_new_auction(h.state, live, "D-1")
    with pytest.raises(InvalidTransition, match="cancel it first"):
        steps.withdraw_lot(h.state, live, lot_id="D-1", reason="r", by="o", now=h.now())
    step(a, a.cancel(by="o", reason="wrong lot", now=h.now()))
    assert steps.lot_status(h.state, live, "D-1") == "CONVERTED"
    assert steps.next_auction_id(live, "D-1") == "D-1.2"
    with pytest.raises(InvalidInput, match="reason"):
        steps.withdraw_lot(h.state, live, lot_id="D-1", reason=" ", by="o", now=h.now())
    h.do(steps.withdraw_lot(h.state, live, lot_id="D-1", reason="rebuild", by="o", now=h.now()))
    assert steps.lot_status(h.state, live, "D-1") == "WITHDRAWN"
    with pytest.raises(InvalidTransition, match="withdrawn"):
        steps.check_new_auction(h.state, live, "D-1")
    assert convert(h, ["p-D"]) == ["D-2"]  # the positions are free again; numbering goes on
    assert h.replayed().snapshot() == h.state.snapshot()


def test_eligibility_is_decided_when_the_window_opens() -> None:
    h = defaulted()
    convert(h)
    a = auction_of(h, "D-1")
    assert a.eligible == {"A", "B", "MM1", "MM2"}
    # after the conversion: B defaults, a new market maker is admitted
    h.do(h.state.declare_default(member="B", by="o", now=h.now(), reason="missed a call"))
    h.do(
        h.state.load(
            members=[MemberSpec("MM3", "MARKET_MAKER", True, "1")],
            positions=[],
            by="o",
            now=h.now(),
        )
    )
    step(a, steps.open_window(h.state, a, by="o", now=h.now()))
    assert a.eligible == {"A", "MM1", "MM2", "MM3"}
    with pytest.raises(Exception, match="not eligible"):
        a.submit_bid(member="B", client_order_id="b", amount="1", now=h.now())
    step(a, a.submit_bid(member="A", client_order_id="a", amount="12000", now=h.now()))
    step(a, a.submit_bid(member="MM3", client_order_id="m", amount="12100", now=h.now()))
    # MM3 defaults before the award: its bid no longer counts
    h.do(h.state.declare_default(member="MM3", by="o", now=h.now(), reason="insolvent"))
    step(a, a.close(by="o", now=h.now()))
    step(a, steps.award(h.state, a, seed=1, by="o", now=h.now()))
    assert a.outcome is not None
    assert (a.outcome.member, a.outcome.amount, a.excluded) == ("A", 1_200_000, ("MM3",))
    clearing, closing = steps.settle(h.state, a, by="o", now=h.now())
    assert clearing is not None
    h.do(clearing)
    step(a, closing)
    assert steps.lot_status(h.state, [a], "D-1") == "SETTLED"
    assert h.replayed().snapshot() == h.state.snapshot()


def test_no_market_maker_assigns_among_counterparties_and_nobody_fails_then_operator() -> None:
    h = House()
    h.do(
        h.state.load(
            members=[
                MemberSpec("D", "CLEARING_MEMBER", True, "1"),
                MemberSpec("A", "CLEARING_MEMBER", True, "1"),
                MemberSpec("C", "CLEARING_MEMBER", True, "1"),
            ],
            positions=[("p-D", "D", terms("PAYER")), ("p-A", "A", terms("RECEIVER"))],
            by="o",
            now=h.now(),
        )
    )
    h.do(h.state.declare_default(member="D", by="o", now=h.now(), reason="r"))
    convert(h)
    a = auction_of(h, "D-1")
    step(a, steps.open_window(h.state, a, by="o", now=h.now()))
    step(a, a.close(by="o", now=h.now()))
    step(a, steps.award(h.state, a, seed=3, by="o", now=h.now()))
    assert a.outcome is not None
    assert (a.phase, a.outcome.member, a.outcome.pool_kind) == (
        Phase.ASSIGNED,
        "A",
        "available_counterparties",
    )
    # once A is in default too, nobody is left: the next auction fails, the operator assigns
    h2 = House()
    h2.events, h2.state = list(h.events), h.replayed()
    b = auction_of(h2, "D-1", "D-1.2")
    h2.do(h2.state.declare_default(member="A", by="o", now=h2.now(), reason="r"))
    step(b, steps.open_window(h2.state, b, by="o", now=h2.now()))
    step(b, b.close(by="o", now=h2.now()))
    step(b, steps.award(h2.state, b, seed=3, by="o", now=h2.now()))
    assert b.phase is Phase.FAILED and b.result()["award"] is None
    with pytest.raises(InvalidTransition, match="in default"):
        steps.assign(h2.state, b, member="A", reason="x", by="o", now=h2.now())
    with pytest.raises(InvalidInput, match="reason"):
        steps.assign(h2.state, b, member="C", reason="", by="o", now=h2.now())
    step(b, steps.assign(h2.state, b, member="C", reason="agreed by phone", by="o", now=h2.now()))
    award = b.result()["award"]
    assert (award["method"], award["member"], award["reason"]) == (
        "OPERATOR_ASSIGNMENT",
        "C",
        "agreed by phone",
    )
    clearing, closing = steps.settle(h2.state, b, by="o", now=h2.now())
    assert clearing is not None
    h2.do(clearing)
    step(b, closing)
    assert b.result()["phase"] == "SETTLED"
    assert h2.state.lot("D-1").method == "OPERATOR_ASSIGNMENT"
    assert h2.state.lot("D-1").reason == "agreed by phone"
    assert h2.replayed().snapshot() == h2.state.snapshot()


def test_losses_are_allocated_once_and_only_when_everything_is_settled() -> None:
    h = defaulted(extra=[("p-D2", "D", terms("PAYER"))])
    now: datetime = h.now()
    config = WaterfallConfig()
    with pytest.raises(InvalidTransition, match="in no lot"):
        steps.allocate_losses(h.state, [], defaulter="D", config=config, by="o", now=now)
    convert(h)
    with pytest.raises(InvalidTransition, match="not settled"):
        steps.allocate_losses(h.state, [], defaulter="D", config=config, by="o", now=now)
    auctions = []
    for lot_id, amount in (("D-1", "12500"), ("D-2", "12000")):
        a = auction_of(h, lot_id)
        step(a, steps.open_window(h.state, a, by="o", now=h.now()))
        step(a, a.submit_bid(member="MM1", client_order_id="x", amount=amount, now=h.now()))
        step(a, a.close(by="o", now=h.now()))
        step(a, steps.award(h.state, a, seed=1, by="o", now=h.now()))
        clearing, closing = steps.settle(h.state, a, by="o", now=h.now())
        assert clearing is not None
        h.do(clearing)
        step(a, closing)
        auctions.append(a)
    h.do(steps.allocate_losses(h.state, auctions, defaulter="D", config=config, by="o", now=now))
    allocation = h.state.allocations["D"].allocation
    # netted: +162.33 on D-1, -337.67 on D-2 -> a loss of 175.34 from D's margin
    assert [lot["result"] for lot in allocation["lots"]] == ["162.33", "-337.67"]
    assert (allocation["net_result"], allocation["loss"]) == ("-175.34", "175.34")
    grades = {m["member"]: m["grades"] for m in allocation["members"]}
    assert grades["A"] == ["D-1:NO_BID", "D-2:NO_BID"]
    with pytest.raises(AlreadyExists):
        steps.allocate_losses(h.state, auctions, defaulter="D", config=config, by="o", now=now)
    with pytest.raises(InvalidTransition, match="already allocated"):
        h.state.convert(
            lot_id="X",
            member="D",
            conversions=[],
            curve_id="c",
            valuation_time="2007-12-12",
            by="o",
            now=now,
        )
    assert h.replayed().snapshot() == h.state.snapshot()


def test_a_taker_defaulting_before_settlement_is_no_dead_end() -> None:
    h = defaulted()
    convert(h)
    a = auction_of(h, "D-1")
    step(a, steps.open_window(h.state, a, by="o", now=h.now()))
    step(a, a.submit_bid(member="A", client_order_id="a", amount="12300", now=h.now()))
    step(a, a.close(by="o", now=h.now()))
    step(a, steps.award(h.state, a, seed=1, by="o", now=h.now()))
    assert a.outcome is not None and a.outcome.member == "A"
    h.do(h.state.declare_default(member="A", by="o", now=h.now(), reason="insolvent"))
    with pytest.raises(InvalidTransition, match="A is in default"):
        steps.settle(h.state, a, by="o", now=h.now())
    step(a, steps.cancel(h.state, a, reason="the winner defaulted", by="o", now=h.now()))
    assert a.phase is Phase.CANCELLED
    again = auction_of(h, "D-1", steps.next_auction_id([a], "D-1"))
    assert again.auction_id == "D-1.2"
    step(again, steps.open_window(h.state, again, by="o", now=h.now()))
    assert "A" not in again.eligible
    step(again, again.close(by="o", now=h.now()))
    step(again, steps.award(h.state, again, seed=2, by="o", now=h.now()))
    clearing, closing = steps.settle(h.state, again, by="o", now=h.now())
    assert clearing is not None
    h.do(clearing)
    step(again, closing)
    assert steps.lot_status(h.state, [a, again], "D-1") == "SETTLED"
    # once settled, the auction that settled it cannot be cancelled
    with pytest.raises(InvalidTransition):
        steps.cancel(h.state, again, reason="late", by="o", now=h.now())
