"""Settlement economics kept over a whole default: a hypothesis property through the process
layer (conversion into lots, auctions with bids or assignment, settlement, loss allocation).

Who pays whom (docs/default-management.md): the defaulted swaps pass from the defaulter to
the CCP at their value V_D; the winner takes the standard swaps at their value V_S facing the
CCP and pays its bid b; the CCP's result on the lot is b - b*, with b* = V_S - V_D; the
default's result netted over its lots goes through the waterfall. So, to the cent:

* cash + collateral + default funds + position values, summed over every member and the CCP,
  do not change;
* the winner's value changes by V_S - b, the defaulter's by -V_D - (margin and fund used) +
  surplus, each survivor's by -(fund used + assessment), and the CCP's by -(its tranche used
  + what stayed uncovered).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from matching.clearing.model import CCP, PositionStatus
from matching.clearing.state import ClearingHouse, MemberSpec
from matching.default.auction import AuctionParams, DefaultAuction, Schedule
from matching.default.cash import cents_text, to_cents
from matching.process import steps
from matching.process.waterfall import Layer, WaterfallConfig
from tests.default.builders import reference_conversion, terms

T0 = datetime(2007, 12, 12, 9, tzinfo=UTC)
BIDDERS = ["A", "B", "MM1", "MM2"]


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> datetime:
        self.t += timedelta(seconds=1)
        return self.t


def house_with(
    funds: Mapping[str, int], collateral_d: int, sides: list[str], sizes: list[int]
) -> tuple[ClearingHouse, Clock]:
    clock = Clock()
    h = ClearingHouse.from_events(ClearingHouse.create(house_id="h", by="o", now=clock()).events)
    members = [
        MemberSpec("D", "CLEARING_MEMBER", True, cents_text(collateral_d), cents_text(funds["D"])),
        *(
            MemberSpec(
                m,
                "MARKET_MAKER" if m.startswith("MM") else "CLEARING_MEMBER",
                True,
                "1000000",
                cents_text(funds[m]),
            )
            for m in BIDDERS
        ),
    ]
    positions = [
        (f"p{i}", "D", terms(side, notional=k * 10_000_000))
        for i, (side, k) in enumerate(zip(sides, sizes, strict=True))
    ]
    positions += [
        ("pa", "A", terms("RECEIVER", rate="0.05")),
        ("pb", "B", terms("PAYER", rate="0.05")),
    ]
    h.apply_all(h.load(members=members, positions=positions, by="o", now=clock()).events)
    values = {
        pid: cents_text(reference_conversion(pid, t.side, t.notional).defaulted_npv)
        for pid, _, t in positions
        if pid.startswith("p") and pid not in ("pa", "pb")
    }
    h.apply_all(
        h.declare_default(member="D", by="o", now=clock(), reason="test", values=values).events
    )
    return h, clock


def worth(h: ClearingHouse, values: Mapping[str, int]) -> dict[str, int]:
    """Cash + collateral + default fund + position values per account (cents)."""
    out = {a: h.cash.get(a, 0) + h.collateral.get(a, 0) + h.default_fund.get(a, 0) for a in h.cash}
    for p in h.positions.values():
        if p.status is PositionStatus.OPEN and not p.external:
            out[p.account] = out.get(p.account, 0) + values.get(p.position_id, 0)
    return out


@settings(max_examples=80, deadline=None)
@given(
    data=st.data(),
    n=st.integers(1, 3),
    collateral_d=st.integers(0, 3_000_000),
    fund_d=st.integers(0, 2_000_000),
    tranche=st.integers(0, 1_000_000),
    multiple=st.sampled_from(["0", "1", "2.5"]),
)
def test_a_whole_default_conserves_value_to_the_cent(
    data: st.DataObject, n: int, collateral_d: int, fund_d: int, tranche: int, multiple: str
) -> None:
    sides = data.draw(st.lists(st.sampled_from(["PAYER", "RECEIVER"]), min_size=n, max_size=n))
    sizes = data.draw(st.lists(st.integers(1, 3), min_size=n, max_size=n))
    funds = {"D": fund_d, **{m: data.draw(st.integers(0, 2_000_000)) for m in BIDDERS}}
    h, clock = house_with(funds, collateral_d, sides, sizes)
    conversions = {
        f"p{i}": reference_conversion(f"p{i}", side, k * 10_000_000)
        for i, (side, k) in enumerate(zip(sides, sizes, strict=True))
    }
    held = steps.positions_to_convert(h, "D")
    groups = steps.group_into_lots(held, grouping="position")
    decision, lot_ids = steps.convert(
        h,
        member="D",
        conversions=conversions,
        groups=groups,
        pricing=lambda market: steps.LotPricing("curve", "1", "USD"),
        valuation_time="2007-12-12",
        rcv_convention="same_coupon",
        settled_flows="exclude_settled",
        hedges=None,
        by="o",
        now=clock(),
    )
    h.apply_all(decision.events)
    # every position's model value: defaulted V_D wherever it is, standard legs +/- V_S
    values: dict[str, int] = {}
    for lot_id in lot_ids:
        for c in h.lot(lot_id).lot.positions:
            values[c.position_id] = values[f"{c.position_id}@{CCP}"] = c.defaulted_npv
            for m in BIDDERS:
                values[f"{lot_id}/{c.position_id}/{m}"] = c.standard_npv
            values[f"{lot_id}/{c.position_id}/{CCP}"] = -c.standard_npv
    before = worth(h, values)
    auctions: list[DefaultAuction] = []
    takers: dict[str, tuple[str, int, int]] = {}  # lot -> (taker, paid, V_S)
    for lot_id in lot_ids:
        lot = h.lot(lot_id).lot
        inv = h.invitation(lot_id)
        a = DefaultAuction.from_events(
            DefaultAuction.create(
                auction_id=lot_id,
                lot=lot,
                eligible=inv.eligible,
                market_makers=inv.market_makers,
                mandatory=inv.mandatory,
                params=AuctionParams.build(grading_threshold="1000"),
                schedule=Schedule(),
                by="o",
                now=clock(),
            ).events
        )
        auctions.append(a)
        a.apply_all(steps.open_window(h, a, by="o", now=clock()).events)
        for m in sorted(a.eligible):
            offset = data.draw(st.one_of(st.none(), st.integers(-200_000, 200_000)))
            if offset is not None:
                amount = cents_text(lot.implied_bid + offset)
                a.apply_all(
                    a.submit_bid(member=m, client_order_id="b", amount=amount, now=clock()).events
                )
        a.apply_all(a.close(by="o", now=clock()).events)
        a.apply_all(
            steps.award(h, a, seed=data.draw(st.integers(0, 99)), by="o", now=clock()).events
        )
        assert a.outcome is not None and not a.outcome.failed  # market makers are always there
        settled, closing = steps.settle(h, a, by="o", now=clock())
        assert settled is not None
        h.apply_all(settled.events)
        a.apply_all(closing.events)
        takers[lot_id] = (
            a.outcome.member,
            a.outcome.amount,
            sum(c.standard_npv for c in lot.positions),
        )
    config = WaterfallConfig.build(ccp_tranche=cents_text(tranche), assessment_multiple=multiple)
    h.apply_all(
        steps.allocate_losses(h, auctions, defaulter="D", config=config, by="o", now=clock()).events
    )
    after = worth(h, values)
    # 1. nothing is created or destroyed, to the cent
    assert sum(after.values()) == sum(before.values())
    # 2. who bears what
    record = h.allocations["D"].allocation
    net = sum(paid - h.lot(lot).lot.implied_bid for lot, (_, paid, _) in takers.items())
    assert record["net_result"] == cents_text(net)
    steps_by = record["steps"]

    def used(layer: Layer, member: str | None = None) -> int:
        return sum(
            to_cents(s["used"], "used")
            for s in steps_by
            if s["layer"] == layer.value and (member is None or s["member"] == member)
        )

    expected = {a: 0 for a in after}
    v_d = sum(c.defaulted_npv for lot in lot_ids for c in h.lot(lot).lot.positions)
    expected["D"] = (
        -v_d
        - used(Layer.DEFAULTER_MARGIN)
        - used(Layer.DEFAULTER_DEFAULT_FUND)
        + used(Layer.SURPLUS_TO_ESTATE)
    )
    for taker, paid, v_s in takers.values():
        expected[taker] += v_s - paid
    for m in BIDDERS:
        expected[m] -= used(Layer.SURVIVOR_DEFAULT_FUND, m) + used(Layer.ASSESSMENT, m)
    expected[CCP] = -used(Layer.CCP_TRANCHE) - used(Layer.UNCOVERED)
    assert {a: after[a] - before.get(a, 0) for a in after} == expected
