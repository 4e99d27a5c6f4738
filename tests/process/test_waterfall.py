"""The loss waterfall: layer order, juniorisation by grade, pro rata within a tier, capped
assessments, surplus to the estate; hypothesis properties and worked cases."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matching.errors import InvalidInput
from matching.process.waterfall import (
    TIER_ORDER,
    Layer,
    Survivor,
    Tier,
    WaterfallConfig,
    allocate,
    tier_of,
)

MEMBERS = ["A", "B", "C", "D2", "E", "F"]


def survivors_strategy() -> st.SearchStrategy[list[Survivor]]:
    return st.lists(
        st.builds(
            Survivor,
            member=st.sampled_from(MEMBERS),
            contribution=st.integers(0, 5_000_000),
            tier=st.sampled_from(list(Tier)),
        ),
        max_size=6,
        unique_by=lambda s: s.member,
    )


@settings(max_examples=300, deadline=None)
@given(
    net=st.integers(-30_000_000, 5_000_000),
    margin=st.integers(0, 5_000_000),
    fund=st.integers(0, 3_000_000),
    tranche=st.integers(0, 3_000_000),
    multiple=st.sampled_from(["0", "0.5", "1", "2", "1.37"]),
    survivors=survivors_strategy(),
)
def test_waterfall_properties(
    net: int, margin: int, fund: int, tranche: int, multiple: str, survivors: list[Survivor]
) -> None:
    config = WaterfallConfig.build(ccp_tranche=f"{tranche / 100:.2f}", assessment_multiple=multiple)
    assert config.ccp_tranche == tranche
    fall = allocate(
        net_result=net,
        defaulter="X",
        defaulter_margin=margin,
        defaulter_fund=fund,
        survivors=survivors,
        config=config,
    )
    if net >= 0:
        # a surplus goes back to the defaulter's estate; nothing else moves
        assert (fall.loss, fall.surplus, fall.uncovered) == (0, net, 0)
        assert fall.used_by(Layer.SURPLUS_TO_ESTATE, "X") == net
        assert all(s.layer is Layer.SURPLUS_TO_ESTATE for s in fall.steps)
        return
    loss = -net
    assert fall.loss == loss and fall.surplus == 0
    # every cent of the loss is covered by a layer or left uncovered, exactly
    used = sum(s.used for s in fall.steps if s.layer is not Layer.UNCOVERED)
    assert used + fall.uncovered == loss
    assert all(0 <= s.used <= s.available for s in fall.steps)
    # layers in order: a later one is touched only when every earlier one is exhausted
    order = [
        Layer.DEFAULTER_MARGIN,
        Layer.DEFAULTER_DEFAULT_FUND,
        Layer.CCP_TRANCHE,
        Layer.SURVIVOR_DEFAULT_FUND,
        Layer.ASSESSMENT,
        Layer.UNCOVERED,
    ]
    layer_steps = [s.layer for s in fall.steps]
    assert layer_steps == sorted(layer_steps, key=order.index)
    seen_short = False
    for s in fall.steps:
        if s.used < s.available and s.layer is not Layer.UNCOVERED:
            seen_short = True
        elif seen_short and s.used:
            # only pro-rata layers may have partly used members next to each other
            assert s.layer in (Layer.SURVIVOR_DEFAULT_FUND, Layer.ASSESSMENT)
    assert fall.used_by(Layer.DEFAULTER_MARGIN) == min(loss, margin)
    assert fall.used_by(Layer.DEFAULTER_DEFAULT_FUND) == min(max(loss - margin, 0), fund)
    after_ccp = max(loss - margin - fund - tranche, 0)
    assert fall.used_by(Layer.CCP_TRANCHE) == min(max(loss - margin - fund, 0), tranche)
    # juniorisation: a tier is used only once every junior tier is exhausted
    left = after_ccp
    for tier in TIER_ORDER:
        group = [s for s in survivors if s.tier is tier]
        total = sum(s.contribution for s in group)
        took = sum(
            st_.used
            for st_ in fall.steps
            if st_.layer is Layer.SURVIVOR_DEFAULT_FUND and st_.tier is tier
        )
        assert took == min(left, total)
        # pro rata within the tier: each share within a cent of the exact proportion
        for member in group:
            share = fall.used_by(Layer.SURVIVOR_DEFAULT_FUND, member.member)
            if total:
                assert abs(share * total - took * member.contribution) < total
        left -= took
    caps = {s.member: config.cap(s.contribution) for s in survivors}
    assessed = fall.used_by(Layer.ASSESSMENT)
    assert assessed == min(left, sum(caps.values()))
    for member in survivors:
        assert fall.used_by(Layer.ASSESSMENT, member.member) <= caps[member.member]
    assert fall.uncovered == left - assessed


def test_worked_case_reaching_the_mutualised_fund_with_juniorisation() -> None:
    survivors = [
        Survivor("NoBid", 1_000_000, Tier.NO_BID),
        Survivor("Short", 2_000_000, Tier.SHORT),
        Survivor("Good1", 3_000_000, Tier.SENIOR),
        Survivor("Good2", 1_000_000, Tier.SENIOR),
    ]
    fall = allocate(
        net_result=-9_000_000,
        defaulter="D",
        defaulter_margin=2_000_000,
        defaulter_fund=1_000_000,
        survivors=survivors,
        config=WaterfallConfig.build(ccp_tranche="10000", assessment_multiple="1"),
    )
    used = {(s.layer, s.member): s.used for s in fall.steps}
    assert used[(Layer.DEFAULTER_MARGIN, "D")] == 2_000_000
    assert used[(Layer.DEFAULTER_DEFAULT_FUND, "D")] == 1_000_000
    assert used[(Layer.CCP_TRANCHE, "CCP")] == 1_000_000
    # 5,000,000 left: NO_BID's 1m, SHORT's 2m, then 2m pro rata over the seniors 3:1
    assert used[(Layer.SURVIVOR_DEFAULT_FUND, "NoBid")] == 1_000_000
    assert used[(Layer.SURVIVOR_DEFAULT_FUND, "Short")] == 2_000_000
    assert used[(Layer.SURVIVOR_DEFAULT_FUND, "Good1")] == 1_500_000
    assert used[(Layer.SURVIVOR_DEFAULT_FUND, "Good2")] == 500_000
    assert fall.used_by(Layer.ASSESSMENT) == 0 and fall.uncovered == 0


def test_capped_assessments_then_uncovered() -> None:
    fall = allocate(
        net_result=-1_000,
        defaulter="D",
        defaulter_margin=100,
        defaulter_fund=0,
        survivors=[Survivor("A", 100, Tier.SENIOR), Survivor("B", 300, Tier.NO_BID)],
        config=WaterfallConfig.build(assessment_multiple="0.5"),
    )
    assert fall.used_by(Layer.SURVIVOR_DEFAULT_FUND) == 400
    assert fall.used_by(Layer.ASSESSMENT, "A") == 50
    assert fall.used_by(Layer.ASSESSMENT, "B") == 150
    assert fall.uncovered == 300


def test_tier_is_the_worst_grade() -> None:
    assert tier_of(["COMPETITIVE", "NO_BID"]) is Tier.NO_BID
    assert tier_of(["WINNER", "SHORT"]) is Tier.SHORT
    assert tier_of(["WINNER", "COMPETITIVE"]) is Tier.SENIOR
    assert tier_of([]) is Tier.SENIOR


def test_config_is_validated() -> None:
    with pytest.raises(InvalidInput, match="ccp_tranche"):
        WaterfallConfig.build(ccp_tranche="-1")
    with pytest.raises(InvalidInput, match="ccp_tranche"):
        WaterfallConfig.build(ccp_tranche="0.001")
    with pytest.raises(InvalidInput, match="assessment_multiple"):
        WaterfallConfig.build(assessment_multiple="lots")
    with pytest.raises(InvalidInput, match="assessment_multiple"):
        WaterfallConfig.build(assessment_multiple="-2")
    for loose in (" 1 ", ".5", "1e0", "Infinity", "\u0661", 1.5):
        with pytest.raises(InvalidInput, match="assessment_multiple"):
            WaterfallConfig.build(assessment_multiple=loose)  # type: ignore[arg-type]
    assert WaterfallConfig.build(assessment_multiple="1.5").cap(101) == 151
    assert WaterfallConfig.from_dict(WaterfallConfig.build(ccp_tranche="5").to_dict()) == (
        WaterfallConfig(500, Decimal("5") / Decimal("5"))
    )
