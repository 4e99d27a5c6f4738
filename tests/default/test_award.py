"""The award, tie-break, reserve, assignment and grading rules (``matching.default.award``)."""

from __future__ import annotations

import pytest

from matching.default.award import Grade, Outcome, SealedBid, TieBreak, decide, draw, grade
from tests.default.builders import at

B_STAR = 1_233_767  # b* of the reference lot, cents


def bid(member: str, cents: int, t: float, seq: int = 0) -> SealedBid:
    return SealedBid(member, cents, at(t), seq or int(t))


def run(
    bids: list[SealedBid], *, reserve: int | None = None, seed: int = 1, threshold: int = 0
) -> Outcome:
    return decide(
        bids,
        implied_bid=B_STAR,
        reserve=reserve,
        market_makers=["MM1", "MM2"],
        mandatory=["A", "B", "MM1", "MM2"],
        threshold=threshold,
        seed=seed,
    )


def test_highest_bid_wins_and_pays_its_own_bid() -> None:
    out = run([bid("A", 1_200_000, 1), bid("B", 1_220_000, 2), bid("MM1", 900_000, 3)])
    assert (out.member, out.amount, out.assigned) == ("B", 1_220_000, False)
    assert out.tie_break is TieBreak.NONE and out.tied == ()


def test_negative_bids_the_highest_offer_is_the_least_negative() -> None:
    out = run([bid("A", -1_250_000, 1), bid("B", -1_240_000, 2), bid("MM1", -1_300_000, 3)])
    assert (out.member, out.amount) == ("B", -1_240_000)


def test_equal_bids_go_to_the_earlier_one() -> None:
    out = run([bid("B", 1_200_000, 5), bid("A", 1_200_000, 3), bid("MM1", 1_100_000, 1)])
    assert out.member == "A"
    assert out.tie_break is TieBreak.EARLIER
    assert out.tied == ("A", "B")


def test_equal_bids_at_the_same_time_are_drawn_with_the_seed() -> None:
    bids = [bid("MM1", 1_200_000, 5, seq=10), bid("MM2", 1_200_000, 5, seq=11)]
    winners = {run(bids, seed=s).member for s in range(40)}
    assert winners == {"MM1", "MM2"}, "the draw must be able to pick either"
    for s in range(40):
        out = run(bids, seed=s)
        assert out.tie_break is TieBreak.DRAW
        assert out.member == draw(s, ["MM1", "MM2"]) == run(list(reversed(bids)), seed=s).member


def test_the_draw_is_only_among_the_earliest_equal_bids() -> None:
    bids = [bid("A", 1_200_000, 9), bid("MM1", 1_200_000, 5), bid("MM2", 1_200_000, 5)]
    assert {run(bids, seed=s).member for s in range(40)} == {"MM1", "MM2"}


def test_reserve_bids_below_do_not_fill() -> None:
    out = run([bid("A", 1_000_000, 1), bid("B", 1_100_000, 2)], reserve=1_050_000)
    assert (out.member, out.amount) == ("B", 1_100_000)
    at_reserve = run([bid("A", 1_050_000, 1)], reserve=1_050_000)
    assert at_reserve.member == "A" and not at_reserve.assigned


def test_no_valid_bid_assigns_a_market_maker_at_b_star() -> None:
    out = run([bid("A", 1_000_000, 1)], reserve=1_050_000, seed=123)
    assert out.assigned and out.amount == B_STAR
    assert out.pool == ("MM1", "MM2") and out.member == draw(123, ["MM2", "MM1"])
    assert {run([], seed=s).member for s in range(40)} == {"MM1", "MM2"}


def test_no_valid_bid_and_nobody_to_draw_fails() -> None:
    outcome = decide(
        [], implied_bid=1, reserve=None, market_makers=[], mandatory=["A"], threshold=0, seed=1
    )
    assert outcome.failed and outcome.method == "FAILED" and outcome.member == ""
    assert [(g.member, g.grade) for g in outcome.grades] == [("A", Grade.NO_BID)]


def test_no_market_maker_draws_among_the_available_counterparties() -> None:
    outcome = decide(
        [],
        implied_bid=5,
        reserve=None,
        market_makers=[],
        mandatory=[],
        threshold=0,
        seed=7,
        counterparties=["B", "A", "C"],
    )
    assert outcome.method == "ASSIGNMENT" and outcome.pool_kind == "available_counterparties"
    assert outcome.pool == ("A", "B", "C") and outcome.member in outcome.pool
    assert outcome.amount == 5
    # Market makers come first when there are any.
    first = decide(
        [], implied_bid=5, reserve=None, market_makers=["MM"], mandatory=[], threshold=0,
        seed=7, counterparties=["A"],
    )  # fmt: skip
    assert (first.member, first.pool_kind) == ("MM", "market_makers")


def test_excluded_members_neither_win_nor_are_drawn_nor_graded() -> None:
    bids = [bid("X", 2_000_000, 1), bid("MM1", 1_000_000, 2)]
    outcome = decide(
        bids,
        implied_bid=1_000_000,
        reserve=None,
        market_makers=["MM1", "X"],
        mandatory=["MM1", "X"],
        threshold=0,
        seed=3,
        excluded=["X"],
    )
    assert (outcome.member, outcome.amount) == ("MM1", 1_000_000)
    assert [g.member for g in outcome.grades] == ["MM1"]
    alone = decide(
        [bid("X", 2_000_000, 1)], implied_bid=9, reserve=None, market_makers=["X"],
        mandatory=[], threshold=0, seed=3, excluded=["X"], counterparties=["Y"],
    )  # fmt: skip
    assert (alone.member, alone.pool_kind, alone.amount) == ("Y", "available_counterparties", 9)


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (1_200_000, Grade.COMPETITIVE),  # equal to the winner
        (1_200_000 - 250_000, Grade.COMPETITIVE),  # exactly the threshold below
        (1_200_000 - 250_001, Grade.SHORT),  # one cent more than the threshold below
        (None, Grade.NO_BID),
    ],
)
def test_grading_threshold_boundaries(amount: int | None, expected: Grade) -> None:
    bids = [bid("MM1", 1_200_000, 1)]
    if amount is not None:
        bids.append(bid("A", amount, 2))
    rows = {r.member: r for r in run(bids, threshold=250_000).grades}
    assert rows["A"].grade is expected
    assert rows["A"].bid == amount
    assert rows["MM1"].grade is Grade.WINNER


def test_only_mandatory_members_are_graded_and_the_assigned_lot_grades_against_b_star() -> None:
    bids = [bid("A", B_STAR - 100, 1), bid("C", B_STAR, 2)]  # C is not mandatory
    out = run(bids, reserve=B_STAR + 1, threshold=99)
    assert out.assigned
    rows = {r.member: r.grade for r in out.grades}
    assert rows == {
        "A": Grade.SHORT,
        "B": Grade.NO_BID,
        "MM1": Grade.NO_BID,
        "MM2": Grade.NO_BID,
    }
    rows2 = {
        r.member: r.grade for r in grade(bids, ["A"], winner=None, reference=B_STAR, threshold=100)
    }
    assert rows2 == {"A": Grade.COMPETITIVE}
