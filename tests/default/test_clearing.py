"""The clearing state: loading, margin run, default, conversion, hedge, settlement, replay."""

from __future__ import annotations

import dataclasses
import json

import pytest

from matching.clearing import events as cev
from matching.clearing.model import CCP, PositionStatus, Role
from matching.clearing.state import ClearingHouse, MemberSpec
from matching.default.auction import ReplayMismatch
from matching.errors import AlreadyExists, InvalidInput, InvalidTransition, NotFound
from matching.process.waterfall import WaterfallConfig
from tests.default.builders import (
    House,
    defaulted_house,
    reference_conversion,
    standard_house,
    terms,
)


def json_roundtrip(events: list[cev.Event]) -> list[cev.Event]:
    return [cev.event_from_dict(json.loads(json.dumps(e.to_dict()))) for e in events]


def account(h: House, name: str) -> dict[str, object]:
    return next(a for a in h.state.ledger()["accounts"] if a["account"] == name)


def allocate(h: House, **config: str) -> None:
    h.do(
        h.state.allocate_losses(
            defaulter="D",
            grades={},
            config=WaterfallConfig.build(**config),
            by="ops",
            now=h.now(),
        )
    )


def settle(h: House, member: str, amount: str, method: str = "AWARD") -> None:
    h.do(
        h.state.settle(
            lot_id="L1",
            member=member,
            amount=amount,
            method=method,
            auction_id="L1",
            by="ops",
            now=h.now(),
        )
    )


# -- loading and margin ------------------------------------------------------------------------


def test_load_is_all_or_nothing_and_names_the_entry() -> None:
    h = House()
    with pytest.raises(InvalidInput) as err:
        h.state.load(
            members=[MemberSpec("A", "CLEARING_MEMBER", True, "1"), MemberSpec("B", "BOSS", True)],
            positions=[],
            by="ops",
            now=h.now(),
        )
    assert err.value.field == "members[1].role"
    with pytest.raises(NotFound, match=r"positions\[0\]"):
        h.state.load(members=[], positions=[("p", "nobody", terms())], by="ops", now=h.now())
    with pytest.raises(InvalidInput, match="CCP"):
        h.state.admit_member(member=CCP, role="MARKET_MAKER", mandatory=True, by="o", now=h.now())
    with pytest.raises(InvalidInput, match=r"collateral"):
        h.state.load(
            members=[MemberSpec("A", "CLEARING_MEMBER", True, "1.001")],
            positions=[],
            by="o",
            now=h.now(),
        )
    assert h.state.members == {} and h.state.last_seq == 1


def test_margin_run_records_requirements_collateral_and_shortfall() -> None:
    h = standard_house()
    rows = {r.member: r for r in h.state.margin_run("r1")}
    assert rows["D"].shortfall == 29_780_707
    assert rows["A"].shortfall == 0 and rows["MM1"].requirement == 0
    assert h.state.short_members() == ["D"]
    assert h.state.members["MM1"].role is Role.MARKET_MAKER
    with pytest.raises(AlreadyExists):
        h.state.record_margin_run(
            run_id="r1",
            requirements={},
            valuation_date="2007-12-12",
            curve_id="c",
            by="o",
            now=h.now(),
        )
    with pytest.raises(NotFound):
        h.state.record_margin_run(
            run_id="r2",
            requirements={"Z": "1"},
            valuation_date="2007-12-12",
            curve_id="c",
            by="o",
            now=h.now(),
        )


def test_default_by_shortfall_needs_one_and_operator_default_needs_a_reason() -> None:
    h = standard_house()
    with pytest.raises(InvalidTransition, match="no shortfall"):
        h.state.declare_default(member="A", by="ops", now=h.now())
    with pytest.raises(InvalidInput, match="reason"):
        h.state.declare_default(member="A", by="ops", now=h.now(), reason="  ")
    with pytest.raises(InvalidInput, match="one NPV"):
        h.state.declare_default(member="D", by="ops", now=h.now(), values={})
    h.do(h.state.declare_default(member="D", by="ops", now=h.now(), values={"p-D": "-130298.79"}))
    record = h.state.defaults["D"]
    assert (record.basis, record.shortfall) == ("SHORTFALL", 29_780_707)
    assert "297807.07" in record.reason
    [(position, npv)] = h.state.defaulted_positions("D")
    assert (position.position_id, npv) == ("p-D", -13_029_879)
    h.do(h.state.declare_default(member="C", by="ops", now=h.now(), reason="operational failure"))
    assert h.state.defaults["C"].basis == "OPERATOR"
    with pytest.raises(AlreadyExists):
        h.state.declare_default(member="C", by="ops", now=h.now(), reason="again")
    with pytest.raises(InvalidTransition):
        h.state.book_position(position_id="new", member="C", terms=terms(), by="o", now=h.now())


# -- conversion ----------------------------------------------------------------------------------


def test_conversion_registers_the_lot_and_computes_the_invitation() -> None:
    h = defaulted_house()
    rec = h.state.lot("L1")
    assert (rec.lot.rcv, rec.lot.implied_bid, rec.lot.dv01) == (-1_233_767, 1_233_767, 792_023)
    assert rec.invitation.eligible == ("A", "B", "MM1", "MM2")
    assert rec.invitation.mandatory == ("A", "MM1", "MM2")


def test_conversion_refusals() -> None:
    h = standard_house()
    conv = reference_conversion("p-D")

    def convert(member: str = "D", lot_id: str = "L9", **kw: object) -> None:
        args: dict[str, object] = {
            "lot_id": lot_id,
            "member": member,
            "conversions": [conv],
            "curve_id": "c",
            "valuation_time": "2007-12-12",
            "by": "ops",
            "now": h.now(),
            **kw,
        }
        h.do(h.state.convert(**args))  # type: ignore[arg-type]

    with pytest.raises(InvalidTransition, match="not in default"):
        convert()
    h.do(h.state.declare_default(member="D", by="ops", now=h.now()))
    with pytest.raises(NotFound):
        convert(conversions=[reference_conversion("p-A")])
    other = dataclasses.replace(conv, defaulted=terms(rate="0.06"))
    with pytest.raises(InvalidInput, match="differs from the booked"):
        convert(conversions=[other])
    with pytest.raises(InvalidInput, match="valuation_time"):
        convert(valuation_time="yesterday")
    convert(lot_id="L1")
    with pytest.raises(AlreadyExists):
        convert(lot_id="L1")
    with pytest.raises(AlreadyExists, match="already in lot L1"):
        convert(lot_id="L2")


def test_converted_position_checks_b_star_is_minus_rcv_and_the_standard_keeps_the_side() -> None:
    from matching.default.lot import ConvertedPosition

    good = reference_conversion().to_dict()
    with pytest.raises(InvalidInput, match="exactly -rcv"):
        ConvertedPosition.from_dict({**good, "implied_bid": "12337.66"})
    flipped = {**good, "standard": {**good["standard"], "side": "RECEIVER"}}
    with pytest.raises(InvalidInput, match=r"standard\.side"):
        ConvertedPosition.from_dict(flipped)


# -- settlement ------------------------------------------------------------------------------------


def test_settlement_ledger_to_the_cent() -> None:
    h = defaulted_house()
    settle(h, "MM1", "12200.00")
    st = h.state
    # cash: MM1 pays 12,200.00; the 137.67 shortfall is recorded, not charged lot by lot
    assert st.cash == {
        "CCP": 1_220_000,
        "A": 0,
        "B": 0,
        "C": 0,
        "D": 0,
        "E": 0,
        "MM1": -1_220_000,
        "MM2": 0,
    }
    assert st.collateral["D"] == 50_000_000
    plan = st.lot("L1").settlement
    assert plan is not None
    assert (plan.shortfall, plan.collateral_charge, plan.uncovered) == (13_767, 0, 0)
    # positions: D's swap is closed and taken over by the CCP; MM1 holds the standard payer
    assert st.positions["p-D"].status is PositionStatus.CLOSED
    assert st.positions["p-D"].closed_by == "L1"
    won = st.positions["L1/p-D/MM1"]
    assert (won.account, won.terms.side.value, won.terms.maturity, won.terms.notional) == (
        "MM1",
        "PAYER",
        "2017-12-14",
        10_000_000,
    )
    assert won.terms.fixed_rate == "0.0515"
    ccp = sorted(
        (p.position_id, p.terms.side.value, p.terms.maturity) for p in st.open_positions(CCP)
    )
    assert ccp == [("L1/p-D/CCP", "RECEIVER", "2017-12-14"), ("p-D@CCP", "PAYER", "2017-06-14")]
    assert account(h, "D")["positions"] == []
    kinds = [
        (i.kind, i.from_account, i.to_account, i.amount) for i in st.settlement_instructions("L1")
    ]
    assert kinds == [
        ("POSITION", "D", "CCP", None),
        ("POSITION", "CCP", "MM1", None),
        ("CASH", "MM1", "CCP", 1_220_000),
    ]
    # the netted loss of the default is taken from D's margin by the waterfall
    allocate(h)
    assert st.collateral["D"] == 50_000_000 - 13_767
    assert st.cash[CCP] == 1_233_767
    assert [(i.kind, i.from_account, i.amount) for i in st.settlement_instructions("D/losses")] == [
        ("COLLATERAL", "D", 13_767)
    ]


def test_a_negative_bid_means_the_ccp_pays_and_a_big_shortfall_exhausts_the_collateral() -> None:
    h = defaulted_house(defaulter_side="RECEIVER", defaulter_collateral="100")
    rec = h.state.lot("L1")
    assert rec.lot.implied_bid == -1_233_767
    # everything flips with the side: A and B now pay fixed, so they are invited
    assert rec.invitation.eligible == ("A", "B", "MM1", "MM2")
    settle(h, "A", "-12400.00")
    plan = h.state.lot("L1").settlement
    assert plan is not None
    assert plan.shortfall == 6_233
    allocate(h)
    assert h.state.cash["A"] == 1_240_000 and h.state.cash[CCP] == -1_240_000 + 6_233
    assert h.state.collateral["D"] == 10_000 - 6_233
    h2 = defaulted_house(defaulter_side="RECEIVER", defaulter_collateral="10")
    settle(h2, "B", "-13000")
    allocate(h2)
    allocation = h2.state.allocations["D"].allocation
    assert (allocation["loss"], allocation["uncovered"]) == ("662.33", "652.33")
    assert h2.state.collateral["D"] == 0


def test_a_bid_above_b_star_is_a_surplus_the_ccp_keeps() -> None:
    h = defaulted_house()
    settle(h, "A", "13000")
    plan = h.state.lot("L1").settlement
    assert plan is not None
    assert (plan.shortfall, plan.collateral_charge, plan.uncovered) == (-66_233, 0, 0)
    allocate(h)
    # netted over the default's lots, a surplus goes back to the defaulter's estate
    assert h.state.collateral["D"] == 50_000_000
    assert h.state.cash["D"] == 66_233 and h.state.cash[CCP] == 1_300_000 - 66_233


def test_settlement_refusals() -> None:
    h = defaulted_house()
    with pytest.raises(NotFound):
        settle(h, "Z", "12000")  # not a member
    with pytest.raises(InvalidTransition, match="in default"):
        settle(h, "D", "12000")  # the defaulter
    with pytest.raises(InvalidInput, match="reason"):
        settle(h, "A", "12337.67", "OPERATOR_ASSIGNMENT")  # an operator's needs a reason
    with pytest.raises(InvalidInput, match="b\\*"):
        settle(h, "MM1", "12000", "ASSIGNMENT")
    with pytest.raises(InvalidInput, match="method"):
        settle(h, "MM1", "12000", "GIFT")
    with pytest.raises(NotFound):
        h.state.settle(
            lot_id="L9", member="A", amount="1", method="AWARD", auction_id="x", by="o", now=h.now()
        )
    settle(h, "MM2", "12337.67", "ASSIGNMENT")
    with pytest.raises(AlreadyExists):
        settle(h, "MM1", "12000")


def test_hedge_is_booked_as_an_external_ccp_position_before_settlement() -> None:
    h = defaulted_house()
    hedge = terms(
        "PAYER", notional=9_609_364, rate="0.0555683075", start="2017-06-14", maturity="2017-12-14"
    )
    h.do(h.state.book_hedge(lot_id="L1", hedges=[hedge], by="ops", now=h.now()))
    assert h.state.lot("L1").hedged
    booked = h.state.positions["L1/hedge/1"]
    assert booked.external and booked.account == CCP and booked.terms == hedge
    with pytest.raises(AlreadyExists):
        h.state.book_hedge(lot_id="L1", hedges=[hedge], by="ops", now=h.now())
    # the hedge (a payer) does not make the CCP or anyone eligible
    assert h.state.lot("L1").invitation.eligible == ("A", "B", "MM1", "MM2")


# -- replay ----------------------------------------------------------------------------------


def test_replay_gives_identical_state_also_after_a_json_round_trip() -> None:
    h = defaulted_house()
    hedge = terms("PAYER", notional=9_609_364, start="2017-06-14", maturity="2017-12-14")
    h.do(h.state.book_hedge(lot_id="L1", hedges=[hedge], by="ops", now=h.now()))
    settle(h, "MM1", "12200")
    assert h.replayed().snapshot() == h.state.snapshot()
    again = ClearingHouse.from_events(json_roundtrip(h.events))
    assert again.snapshot() == h.state.snapshot()
    assert again.ledger() == h.state.ledger()


def test_tampered_derived_facts_are_caught_on_replay() -> None:
    h = defaulted_house()
    settle(h, "MM1", "12200")
    events = list(h.events)
    settled = events[-1]
    assert isinstance(settled, cev.LotSettled)
    with pytest.raises(ReplayMismatch):
        ClearingHouse.from_events(
            [*events[:-1], dataclasses.replace(settled, collateral_charge="1.00")]
        )
    converted_at = next(i for i, e in enumerate(events) if isinstance(e, cev.LotConverted))
    conv = events[converted_at]
    assert isinstance(conv, cev.LotConverted)
    forged = dataclasses.replace(conv, eligible=[*conv.eligible, "C"])
    with pytest.raises(ReplayMismatch):
        ClearingHouse.from_events([*events[:converted_at], forged])
    run_at = next(i for i, e in enumerate(events) if isinstance(e, cev.MarginRunRecorded))
    run = events[run_at]
    assert isinstance(run, cev.MarginRunRecorded)
    rows = [{**r, "shortfall": "0.00"} for r in run.rows]
    with pytest.raises(ReplayMismatch):
        ClearingHouse.from_events([*events[:run_at], dataclasses.replace(run, rows=rows)])
