"""Performance bond: each member's worst loss over a set of curve scenarios.

A scenario moves every curve quote by a number of basis points that depends on the quote's
tenor: ``short_bp`` up to ``short_years``, ``long_bp`` from ``long_years``, linear in
between, so parallel shifts, steepeners and flatteners are one shape. Each scenario market is
rebuilt once; the whole book is priced per scenario with one shared cash-flow layout, and
profit and loss is summed per member with ``np.bincount`` over (scenario, member) cells. The
requirement is max(0, worst scenario loss); the shortfall is what collateral does not cover.
This module must never call a margin or issue a default: it only measures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from pricing.bootstrap import Quote
from pricing.dates import FloatArray
from pricing.errors import PricingInputError
from pricing.market import Market
from pricing.swaps import SwapBook, layout, price


@dataclass(frozen=True)
class Scenario:
    """A curve move in basis points, by quote tenor."""

    name: str
    short_bp: float
    long_bp: float
    short_years: float = 2.0
    long_years: float = 30.0

    def __post_init__(self) -> None:
        if not self.long_years > self.short_years:
            raise PricingInputError("scenarios", f"{self.name}: long_years must exceed short_years")

    def shift(self, quote: Quote) -> float:
        """Rate change (not bp) for one quote."""
        tenor = quote.end if quote.instrument == "fra" else quote.tenor
        years = tenor.years if tenor is not None else 0.0
        w = min(max((years - self.short_years) / (self.long_years - self.short_years), 0.0), 1.0)
        return (self.short_bp + w * (self.long_bp - self.short_bp)) * 1e-4


def parallel(bp: float) -> Scenario:
    """Every quote moves by ``bp``."""
    return Scenario(f"parallel {bp:+g}bp", bp, bp)


DEFAULT_SCENARIOS: tuple[Scenario, ...] = (
    parallel(100),
    parallel(-100),
    parallel(50),
    parallel(-50),
    Scenario("steepener 50bp", -25, 25),
    Scenario("flattener 50bp", 25, -25),
    Scenario("bull steepener", -75, -25),
    Scenario("bear flattener", 75, 25),
)


@dataclass(frozen=True)
class PerformanceBond:
    """Per-member requirement, collateral and shortfall, and the scenario that drove it."""

    members: tuple[str, ...]
    requirement: FloatArray
    collateral: FloatArray
    shortfall: FloatArray
    worst_scenario: tuple[str, ...]
    losses: FloatArray  # (scenario, member): loss, positive = the member loses


def performance_bond(
    book: SwapBook,
    members: Sequence[str],
    market: Market,
    collateral: Mapping[str, float],
    scenarios: Sequence[Scenario] = DEFAULT_SCENARIOS,
) -> PerformanceBond:
    """Requirement = worst loss over ``scenarios``; shortfall = max(0, requirement - collateral)."""
    if len(members) != len(book):
        raise PricingInputError("members", f"expected {len(book)} member ids")
    if not scenarios:
        raise PricingInputError("scenarios", "at least one scenario is needed")
    for name, amount in collateral.items():
        if not np.isfinite(amount) or amount < 0:
            raise PricingInputError(f"collateral[{name}]", "must be a non-negative amount")
    names, member_idx = np.unique(np.asarray(members, dtype=str), return_inverse=True)
    all_names = sorted(set(names.tolist()) | set(collateral))
    index = {name: i for i, name in enumerate(all_names)}
    who = np.array([index[str(n)] for n in names], dtype=np.int64)[member_idx.reshape(-1)]
    m = len(all_names)
    lay = layout(book)
    val = market.valuation
    base_curves = market.build()
    base = price(book, val, base_curves.discount, base_curves.projection, lay).npv
    pnl = np.empty((len(scenarios), len(book)))
    for s, scenario in enumerate(scenarios):
        curves = market.bumped(scenario.shift).build()
        pnl[s] = price(book, val, curves.discount, curves.projection, lay).npv - base
    cells = (np.arange(len(scenarios))[:, None] * m + who[None, :]).reshape(-1)
    by_member = np.bincount(cells, weights=pnl.reshape(-1), minlength=len(scenarios) * m)
    losses = -np.asarray(by_member, dtype=np.float64).reshape(len(scenarios), m)
    worst = np.argmax(losses, axis=0)
    requirement = np.maximum(losses.max(axis=0), 0.0)
    held = np.array([float(collateral.get(name, 0.0)) for name in all_names])
    return PerformanceBond(
        members=tuple(all_names),
        requirement=requirement,
        collateral=held,
        shortfall=np.maximum(requirement - held, 0.0),
        worst_scenario=tuple(
            scenarios[int(w)].name if requirement[i] > 0 else "" for i, w in enumerate(worst)
        ),
        losses=losses,
    )
