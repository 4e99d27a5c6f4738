"""No dead ends, as a hypothesis property: whatever happens to the members between the
conversion and the award (bidders defaulting, market makers admitted, nobody bidding), a lot
can always be placed and settled by the process's own steps, and the default allocated."""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from matching.clearing.state import MemberSpec
from matching.default.auction import AuctionParams, DefaultAuction, Schedule
from matching.default.phases import Phase
from matching.process import steps
from matching.process.waterfall import WaterfallConfig
from tests.default.builders import House, reference_conversion, terms

OTHERS = ["A", "B", "C", "MM1", "MM2"]

events = st.lists(
    st.one_of(
        st.tuples(st.just("default"), st.sampled_from(OTHERS)),
        st.tuples(st.just("admit"), st.sampled_from(["MM8", "MM9"])),
        st.tuples(st.just("bid"), st.sampled_from([*OTHERS, "MM8", "MM9"])),
    ),
    max_size=8,
)


@settings(max_examples=120, deadline=None)
@given(
    makers=st.lists(st.sampled_from(["MM1", "MM2"]), unique=True),
    holders=st.lists(st.sampled_from(["A", "B"]), unique=True),
    before_open=events,
    before_award=events,
    seed=st.integers(0, 2**32),
)
def test_a_lot_can_always_be_placed_and_the_default_allocated(
    makers: list[str],
    holders: list[str],
    before_open: list[tuple[str, str]],
    before_award: list[tuple[str, str]],
    seed: int,
) -> None:
    h = House()
    members = [MemberSpec("D", "CLEARING_MEMBER", True, "1000")]
    members += [
        MemberSpec(m, "MARKET_MAKER" if m in makers else "CLEARING_MEMBER", True, "0", "100")
        for m in OTHERS
    ]
    positions = [("p-D", "D", terms("PAYER"))] + [(f"p-{m}", m, terms("RECEIVER")) for m in holders]
    h.do(h.state.load(members=members, positions=positions, by="o", now=h.now()))
    h.do(h.state.declare_default(member="D", by="o", now=h.now(), reason="r"))
    decision, [lot_id] = steps.convert(
        h.state,
        member="D",
        conversions={"p-D": reference_conversion("p-D")},
        groups=[("p-D",)],
        pricing=lambda market: steps.LotPricing("c", "1", "USD"),
        valuation_time="2007-12-12",
        rcv_convention="same_coupon",
        settled_flows="exclude_settled",
        hedges=None,
        by="o",
        now=h.now(),
    )
    h.do(decision)
    inv = h.state.invitation(lot_id)
    a = DefaultAuction.from_events(
        DefaultAuction.create(
            auction_id=lot_id,
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

    def happen(what: str, who: str) -> None:
        st_ = h.state
        if what == "default" and who in st_.members and not st_.is_defaulted(who):
            h.do(st_.declare_default(member=who, by="o", now=h.now(), reason="r"))
        elif what == "admit" and who not in st_.members:
            spec = MemberSpec(who, "MARKET_MAKER", True, "0")
            h.do(st_.load(members=[spec], positions=[], by="o", now=h.now()))
        elif what == "bid" and a.phase is Phase.OPEN and who in a.eligible:
            a.apply_all(
                a.submit_bid(member=who, client_order_id="x", amount="12000", now=h.now()).events
            )

    for what, who in before_open:
        happen(what, who)
    a.apply_all(steps.open_window(h.state, a, by="o", now=h.now()).events)
    assert not any(h.state.is_defaulted(m) for m in a.eligible)
    for what, who in before_award:
        happen(what, who)
    a.apply_all(a.close(by="o", now=h.now()).events)
    a.apply_all(steps.award(h.state, a, seed=seed, by="o", now=h.now()).events)
    assert a.outcome is not None
    if a.outcome.failed:
        # nobody to draw: the operator assigns to any member in good standing
        active = sorted(m for m in h.state.members if not h.state.is_defaulted(m))
        assume(active)  # with every member in default, there is nobody left at all
        a.apply_all(
            steps.assign(h.state, a, member=active[0], reason="r", by="o", now=h.now()).events
        )
    else:
        assert not h.state.is_defaulted(a.outcome.member)
    clearing, closing = steps.settle(h.state, a, by="o", now=h.now())
    assert clearing is not None
    h.do(clearing)
    a.apply_all(closing.events)
    assert steps.lot_status(h.state, [a], lot_id) == "SETTLED"
    h.do(
        steps.allocate_losses(
            h.state, [a], defaulter="D", config=WaterfallConfig(), by="o", now=h.now()
        )
    )
    assert "D" in h.state.allocations
    assert h.replayed().snapshot() == h.state.snapshot()
