"""The global Newton bootstrap: its Jacobian, its reuse across bumped builds, its repricing.

The QuantLib parity tests prove the curves are right; these pin down the parts the speed
comes from, so that a faster path can never drift from an exact one: the analytic
interpolation Jacobian against finite differences, the sector-by-sector Hagan-West G
against evaluating every sector and selecting, a shared (warm-started) workspace giving the
curves of a fresh build, and every quote repriced by the swap pricer on the built curve.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing.bootstrap import CurveSpec, Quote, Workspace, bootstrap
from pricing.calendars import explicit_calendar
from pricing.conventions import Tenor
from pricing.errors import PricingInputError
from pricing.interpolation import (
    Interpolation,
    log_discount,
    log_discount_jacobian,
    monotone_convex_g,
)
from pricing.legs import build_legs
from pricing.market import Market
from pricing.swaps import par_rates_for_bootstrap
from tests.pricing.cases import ois_market, random_ibor_convention, random_market, random_valuation

CAL = explicit_calendar([], "weekends only")


def _pillars(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.concatenate([[0.0], np.sort(rng.uniform(0.05, 40.0, 9))])
    fwd = rng.uniform(-0.01, 0.07, 9)
    return t, np.concatenate([[0.0], -np.cumsum(np.diff(t) * fwd)])


@pytest.mark.parametrize("method", list(Interpolation))
@pytest.mark.parametrize("seed", range(6))
def test_jacobian_matches_finite_differences(method: Interpolation, seed: int) -> None:
    t, y = _pillars(seed)
    rng = np.random.default_rng(100 + seed)
    # Inside, on the pillars and past the last one (extrapolation).
    q = np.concatenate([rng.uniform(0.001, t[-1], 200), t[1:], t[-1] + rng.uniform(0, 10, 20)])
    jac = log_discount_jacobian(method, t, y, q)
    h = 1e-7
    for j in range(1, len(y)):
        bump = np.zeros(len(y))
        bump[j] = h
        fd = (log_discount(method, t, y + bump, q) - log_discount(method, t, y - bump, q)) / (2 * h)
        assert np.allclose(jac[:, j], fd, rtol=1e-5, atol=1e-6), (method, j)


def _cube(v: np.ndarray) -> np.ndarray:
    return np.asarray(v * v * v)


def _g_by_select(g0: np.ndarray, g1: np.ndarray, x: np.ndarray) -> np.ndarray:
    # Every sector's formula everywhere, then the first sector that applies (Hagan-West).
    zero = (g0 == 0.0) | (g1 == 0.0)
    s1 = ((g0 < 0) & (-0.5 * g0 <= g1) & (g1 <= -2.0 * g0)) | (
        (g0 > 0) & (-0.5 * g0 >= g1) & (g1 >= -2.0 * g0)
    )
    s2 = ((g0 < 0) & (g1 > -2.0 * g0)) | ((g0 > 0) & (g1 < -2.0 * g0))
    s3 = ((g0 > 0) & (g1 < 0) & (g1 > -0.5 * g0)) | ((g0 < 0) & (g1 > 0) & (g1 < -0.5 * g0))
    with np.errstate(divide="ignore", invalid="ignore"):
        i1 = g0 * (x - 2 * x * x + _cube(x)) + g1 * (-x * x + _cube(x))
        e2 = (g1 + 2 * g0) / (g1 - g0)
        u2 = np.maximum(x - e2, 0.0)
        i2 = g0 * x + (g1 - g0) * _cube(u2) / (3 * (1 - e2) ** 2)
        e3 = 3 * g1 / (g1 - g0)
        v3 = np.maximum(e3 - x, 0.0)
        i3 = g1 * x + (g0 - g1) * (_cube(e3) - _cube(v3)) / (3 * e3 * e3)
        e4 = g1 / (g1 + g0)
        a4 = -g0 * g1 / (g0 + g1)
        v4, u4 = np.maximum(e4 - x, 0.0), np.maximum(x - e4, 0.0)
        i4 = (
            a4 * x
            + (g0 - a4) * (_cube(e4) - _cube(v4)) / (3 * e4 * e4)
            + (g1 - a4) * _cube(u4) / (3 * (1 - e4) ** 2)
        )
    i2, i3, i4 = (np.nan_to_num(v, nan=0.0) for v in (i2, i3, i4))
    return np.asarray(np.select([zero, s1, s2, s3], [0.0 * x, i1, i2, i3], i4))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_g_by_sector_is_select_of_every_sector(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 400
    g0 = rng.choice([-1.0, 1.0], n) * rng.uniform(0, 0.02, n)
    g1 = rng.uniform(-0.05, 0.05, n)
    # Exactly on the sector boundaries and zeros too.
    g1[:40] = -0.5 * g0[:40]
    g1[40:80] = -2.0 * g0[40:80]
    g0[80:90] = 0.0
    g1[90:100] = 0.0
    x = rng.uniform(0, 1, n)
    x[100:120] = 0.0
    x[120:140] = 1.0
    _, big_g = monotone_convex_g(g0, g1, x)
    assert np.array_equal(big_g, _g_by_select(g0, g1, x))


def _markets() -> list[Market]:
    out = []
    for k, method in enumerate(Interpolation):
        rng = np.random.default_rng(40 + k)
        val = random_valuation(rng, CAL)
        conv = random_ibor_convention(rng, CAL)
        out += [
            random_market(rng, val, conv, method, dual=False),
            random_market(rng, val, conv, method, dual=True),
            ois_market(rng, val, CAL, method),
        ]
    return out


@pytest.mark.parametrize("market", _markets())
def test_bumped_builds_share_work_and_equal_fresh_builds(market: Market) -> None:
    # Bumped markets share the base market's workspace: schedules, and a warm start from
    # the base curve with its Jacobian.
    market.build()
    for shift in (1e-4, -1e-4, 0.0025):
        shared = market.bumped(shift).build()
        fresh = Market(
            market.projection.bumped(shift),
            None if market.discount is None else market.discount.bumped(shift),
        ).build()
        for ours, theirs in (
            (shared.projection, fresh.projection),
            (shared.discount, fresh.discount),
        ):
            # The same root, reached from the base curve instead of from scratch: equal to
            # rounding (the parity tolerance is 1e-12 in discount factors).
            assert np.array_equal(ours.pillar_days, theirs.pillar_days)
            assert np.max(np.abs(np.exp(ours.log_dfs) - np.exp(theirs.log_dfs))) < 1e-13
            assert ours.id == theirs.id
    work = Workspace()
    spec = market.projection
    assert work.system(spec) is work.system(spec.bumped(1e-4))


@pytest.mark.parametrize("market", _markets())
def test_every_quote_reprices_on_the_built_curve(market: Market) -> None:
    curves = market.build()
    pairs = [(market.projection, curves.projection, curves.discount)]
    if market.discount is not None:
        pairs.append((market.discount, curves.discount, curves.discount))
    for spec, curve, discount in pairs:
        conv = spec.convention
        spot = conv.spot(spec.valuation)
        for q in spec.quotes:
            if q.instrument == "swap":
                assert q.tenor is not None
                end = conv.add_tenor(np.array([spot]), q.tenor)
                legs = build_legs(conv, np.array([spot]), end)
                implied = par_rates_for_bootstrap(legs, spec.valuation, discount, curve)[0]
            else:
                if q.instrument == "deposit":
                    assert q.tenor is not None
                    s = np.array([spot])
                    e = conv.advance(s, q.tenor)
                else:
                    assert q.start is not None and q.end is not None
                    s = conv.advance(np.array([spot]), q.start)
                    e = conv.advance(s, Tenor(months=q.end.months - q.start.months))
                tau = conv.float_day_count.fraction(s, e)[0]
                implied = (curve.df(s)[0] / curve.df(e)[0] - 1) / tau
            assert abs(implied - q.rate) < 1e-13, q.label


def test_a_quote_no_curve_can_reprice_is_refused() -> None:
    # A deposit at -500%: 1 + r tau would be negative, no discount factor gives it.
    rng = np.random.default_rng(3)
    market = random_market(
        rng, random_valuation(rng, CAL), random_ibor_convention(rng, CAL),
        Interpolation.LOG_LINEAR_DISCOUNT, dual=False,
    )  # fmt: skip
    spec = market.projection
    bad = CurveSpec(
        spec.valuation,
        spec.convention,
        (Quote("deposit", -5.0, tenor=spec.quotes[0].tenor), *spec.quotes[1:]),
        spec.interpolation,
    )
    with pytest.raises(PricingInputError) as err:
        bootstrap(bad)
    assert err.value.field == "quotes"
