"""Performance bond: worst scenario loss per member, shortfall against collateral."""

from __future__ import annotations

import numpy as np
import pytest

from pricing.errors import PricingInputError
from pricing.margin import DEFAULT_SCENARIOS, Scenario, parallel, performance_bond
from pricing.swaps import SwapBook, price
from tests.pricing import patent
from tests.pricing.cases import random_book


def test_requirement_is_the_worst_scenario_loss_per_member() -> None:
    rng = np.random.default_rng(4)
    market = patent.market()
    book = random_book(rng, patent.VALUATION, market.projection.convention, 60)
    members = [f"M{i % 4}" for i in range(len(book))]
    collateral = {"M0": 1e6, "M1": 0.0, "M9": 5e5}
    result = performance_bond(book, members, market, collateral)
    assert result.members == ("M0", "M1", "M2", "M3", "M9")
    # Independent check: price each member's sub-book under each scenario, one at a time.
    base = market.build()
    for k, name in enumerate(result.members):
        mine = np.array([m == name for m in members])
        worst = 0.0
        for scenario in DEFAULT_SCENARIOS:
            moved = market.bumped(scenario.shift).build()
            loss = 0.0
            for i in np.flatnonzero(mine):
                one = SwapBook.of(
                    book.convention,
                    [book.start[i]],
                    [book.maturity[i]],
                    [book.notional[i]],
                    [book.fixed_rate[i]],
                    [book.side[i]],
                    fixing=[book.fixing[i]],
                )
                loss += price(one, patent.VALUATION, base.discount).npv[0]
                loss -= price(one, patent.VALUATION, moved.discount).npv[0]
            worst = max(worst, loss)
        assert result.requirement[k] == pytest.approx(worst, rel=1e-9, abs=1e-6)
        held = collateral.get(name, 0.0)
        assert result.shortfall[k] == pytest.approx(max(worst - held, 0.0), rel=1e-9, abs=1e-6)
    assert result.requirement[4] == 0.0
    assert result.shortfall[4] == 0.0


def test_flat_book_needs_nothing() -> None:
    book = patent.table_book()
    hedged = book.replace(
        start=np.concatenate([book.start, book.start]),
        maturity=np.concatenate([book.maturity, book.maturity]),
        notional=np.concatenate([book.notional, book.notional]),
        fixed_rate=np.concatenate([book.fixed_rate, book.fixed_rate]),
        side=np.concatenate([book.side, -book.side]),
        spread=np.zeros(6),
        fixing=np.full(6, np.nan),
    )
    result = performance_bond(hedged, ["A"] * 6, patent.market(), {"A": 0.0})
    assert result.requirement[0] == pytest.approx(0.0, abs=1e-6)


def test_scenario_shapes() -> None:
    from pricing.bootstrap import Quote
    from pricing.conventions import Tenor

    steep = Scenario("steep", -50, 50)
    two, thirty, ten = (Quote("swap", 0.05, tenor=Tenor(months=12 * y)) for y in (2, 30, 16))
    assert steep.shift(two) == pytest.approx(-0.005)
    assert steep.shift(thirty) == pytest.approx(0.005)
    assert steep.shift(ten) == pytest.approx(0.0)
    assert parallel(25).shift(two) == parallel(25).shift(thirty) == pytest.approx(0.0025)


def test_bad_margin_input() -> None:
    book = patent.table_book()
    with pytest.raises(PricingInputError) as info:
        performance_bond(book, ["A"], patent.market(), {})
    assert info.value.field == "members"
    with pytest.raises(PricingInputError) as info:
        performance_bond(book, ["A"] * 3, patent.market(), {"A": -1.0})
    assert info.value.field == "collateral[A]"
