"""Hypothesis properties: the award is always the best valid bid, replay is exact, and
settlement conserves cash (with collateral) and every instrument's notional."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from matching.clearing.model import PositionStatus
from matching.clearing.state import ClearingHouse
from matching.default.cash import cents_text
from matching.default.phases import Phase
from tests.default.builders import Auction, at, defaulted_house, reference_lot

MEMBERS = ("A", "B", "MM1", "MM2")
B_STAR = 1_233_767

action = st.tuples(
    st.sampled_from(MEMBERS),
    st.one_of(st.none(), st.integers(-2_000_000, 2_000_000)),  # None: withdraw
    st.integers(0, 3),  # seconds after the previous action: 0 makes equal times
)


@settings(max_examples=150, deadline=None)
@given(
    actions=st.lists(action, max_size=25),
    reserve=st.one_of(st.none(), st.integers(-500_000, 1_500_000)),
    seed=st.integers(0, 2**64 - 1),
)
def test_the_award_is_always_the_best_valid_bid(
    actions: list[tuple[str, int | None, int]], reserve: int | None, seed: int
) -> None:
    a = Auction(reference_lot(), reserve=None if reserve is None else cents_text(reserve)).open()
    t = 1.0
    for i, (member, amount, gap) in enumerate(actions):
        t += gap
        if amount is None:
            if a.state.bid_of(member) is not None:
                a.do(a.state.withdraw_bid(member=member, client_order_id=f"w{i}", now=at(t)))
        else:
            a.bid(member, cents_text(amount), t, f"b{i}")
        a.state.book._check()
    live = {m: a.state.bid_of(m) for m in MEMBERS}
    amounts = {m: int(v.amount.replace(".", "")) for m, v in live.items() if v is not None}
    a.close_and_award(seed=seed, t=t + 10)
    outcome = a.state.outcome
    assert outcome is not None
    valid = {m: x for m, x in amounts.items() if reserve is None or x >= reserve}
    if valid:
        assert a.state.phase is Phase.AWARDED
        assert outcome.amount == max(valid.values()) == amounts[outcome.member]
        assert not outcome.assigned
    else:
        assert a.state.phase is Phase.ASSIGNED
        assert outcome.amount == B_STAR and outcome.member in ("MM1", "MM2")
    assert a.replayed().snapshot() == a.state.snapshot()


def instruments(house: ClearingHouse) -> Counter[tuple[str, ...]]:
    """Signed notional per instrument over every open cleared position."""
    out: Counter[tuple[str, ...]] = Counter()
    for p in house.positions.values():
        if p.status is PositionStatus.OPEN and not p.external:
            t = p.terms
            out[(t.currency, t.index, t.start, t.maturity, t.fixed_rate)] += (
                t.side.sign * t.notional
            )
    return out


@settings(max_examples=60, deadline=None)
@given(
    side=st.sampled_from(["PAYER", "RECEIVER"]),
    amount=st.integers(-5_000_000, 5_000_000),
    collateral=st.integers(0, 10_000_000),
    member=st.sampled_from(MEMBERS),
)
def test_settlement_conserves_cash_and_notional(
    side: str, amount: int, collateral: int, member: str
) -> None:
    h = defaulted_house(defaulter_side=side, defaulter_collateral=cents_text(collateral))
    before_money = sum(h.state.cash.values()) + sum(h.state.collateral.values())
    before_instruments = instruments(h.state)
    h.do(
        h.state.settle(
            lot_id="L1",
            member=member,
            amount=cents_text(amount),
            method="AWARD",
            auction_id="L1",
            by="ops",
            now=h.now(),
        )
    )
    st_ = h.state
    assert sum(st_.cash.values()) + sum(st_.collateral.values()) == before_money
    after = instruments(st_)
    assert {k: v for k, v in after.items() if v} == {
        k: v for k, v in before_instruments.items() if v
    }
    plan = st_.lot("L1").settlement
    assert plan is not None
    implied = st_.lot("L1").lot.implied_bid
    assert plan.shortfall == implied - amount
    # nothing is charged lot by lot: the loss waterfall nets the default's lots
    assert plan.collateral_charge == plan.uncovered == 0
    assert st_.collateral["D"] == collateral
    assert st_.cash[member] == -amount
    assert st_.cash["CCP"] == amount
    assert h.replayed().snapshot() == st_.snapshot()
