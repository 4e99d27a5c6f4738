"""Properties that must hold for any swap: hypothesis generates the terms."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pricing.calendars import named_calendar
from pricing.conventions import usd_libor_3m, usd_sofr_ois
from pricing.conversion import RcvConvention, convert
from pricing.interpolation import Interpolation
from pricing.market import Market
from pricing.risk import BumpedMarkets, analyse
from pricing.swaps import SwapBook, price
from tests.pricing import patent

CAL = named_calendar("NewYork+London")
MARKETS = {
    method: Market(replace(patent.market().projection, interpolation=method))
    for method in Interpolation
}
BUMPED = {method: BumpedMarkets.of(m) for method, m in MARKETS.items()}
SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)

starts = st.integers(-5 * 365, 5 * 365).map(lambda d: patent.VALUATION + d)
terms = st.integers(1, 30 * 12)
methods = st.sampled_from(list(Interpolation))
rates = st.floats(0.0, 0.1)
notionals = st.sampled_from([1e6, 1e7, 2.5e7, 1e8])


def _book(start: int, months: int, rate: float, side: float, notional: float) -> SwapBook:
    from pricing.dates import add_months

    start = max(start, patent.SPOT)  # spot or forward starting: no stored fixing needed
    end = int(add_months(np.array([start]), np.array([months]), np.array([False]))[0])
    return SwapBook.of(usd_libor_3m(CAL), [start], [end], [notional], [rate], [side])


@SETTINGS
@given(starts, terms, methods, notionals)
def test_npv_at_par_rate_is_zero(start: int, months: int, method: Interpolation, n: float) -> None:
    curves = MARKETS[method].build()
    book = _book(start, months, 0.03, 1.0, n)
    par = price(book, patent.VALUATION, curves.discount).par_rate
    at_par = price(book.replace(fixed_rate=par), patent.VALUATION, curves.discount)
    assert abs(at_par.npv[0]) < 1e-6 * n / 1e7


@SETTINGS
@given(starts, terms, methods, rates, notionals)
def test_payer_is_minus_receiver(
    start: int, months: int, method: Interpolation, rate: float, n: float
) -> None:
    payer = analyse(_book(start, months, rate, 1.0, n), BUMPED[method])
    receiver = analyse(_book(start, months, rate, -1.0, n), BUMPED[method])
    assert payer.npv[0] == -receiver.npv[0]
    assert payer.dv01[0] == -receiver.dv01[0]
    assert payer.par_rate[0] == receiver.par_rate[0]
    assert payer.dv01[0] > 0


@SETTINGS
@given(
    st.integers(0, 3 * 365),
    st.integers(2, 30),
    methods,
    rates,
    st.sampled_from([1.0, -1.0]),
)
def test_standard_equals_defaulted_plus_forward(
    offset: int, years: int, method: Interpolation, rate: float, side: float
) -> None:
    from pricing.dates import add_months, split_ymd

    start = patent.SPOT + offset
    _, _, day = split_ymd(np.array([start]))
    if day[0] > 28:  # month-end clamping would misalign the schedules
        start -= int(day[0]) - 28
    start = max(start, patent.SPOT)
    end_std = int(add_months(np.array([start]), np.array([12 * years]), np.array([False]))[0])
    end_def = int(add_months(np.array([start]), np.array([12 * years - 6]), np.array([False]))[0])
    book = SwapBook.of(
        usd_libor_3m(CAL),
        [start, start, end_def],
        [end_std, end_def, end_std],
        [1e7] * 3,
        [rate] * 3,
        [side] * 3,
    )
    curves = MARKETS[method].build()
    v = price(book, patent.VALUATION, curves.discount)
    assert abs(v.npv[0] - (v.npv[1] + v.npv[2])) < 1e-6
    assert abs(v.svf[0] - (v.svf[1] + v.svf[2])) < 1e-12


@SETTINGS
@given(st.integers(6 * 12, 29 * 12), rates, methods)
def test_rcv_changes_sign_with_side(months: int, rate: float, method: Interpolation) -> None:
    payer = _book(patent.SPOT, months, rate, 1.0, 1e7)
    receiver = payer.replace(side=np.array([-1.0]))
    for convention in RcvConvention:
        a = convert(payer, BUMPED[method], convention)
        b = convert(receiver, BUMPED[method], convention)
        assert abs(a.rcv[0] + b.rcv[0]) < 1e-6
        assert abs(a.implied_bid[0] + a.rcv[0]) == 0.0


def test_one_pass_equals_one_by_one() -> None:
    # The grouped, vectorised pass must not mix swaps up: price each alone and compare.
    rng = np.random.default_rng(3)
    n = 300
    start = patent.VALUATION + rng.integers(2, 3 * 365, size=n)
    start[:100] = patent.SPOT
    end = start + rng.integers(20, 30 * 365, size=n)
    book = SwapBook.of(
        usd_libor_3m(CAL),
        start,
        end,
        rng.choice([1e6, 1e7], n),
        rng.uniform(0, 0.08, n),
        rng.choice([1.0, -1.0], n),
        spread=rng.uniform(-0.001, 0.001, n),
    )
    curves = MARKETS[Interpolation.MONOTONE_CONVEX].build()
    together = price(book, patent.VALUATION, curves.discount)
    for i in range(0, n, 7):
        one = SwapBook.of(
            book.convention,
            [start[i]],
            [end[i]],
            [book.notional[i]],
            [book.fixed_rate[i]],
            [book.side[i]],
            spread=[book.spread[i]],
        )
        alone = price(one, patent.VALUATION, curves.discount)
        assert alone.npv[0] == together.npv[i]
        assert alone.par_rate[0] == together.par_rate[i]


def test_single_curve_par_rate_is_discount_ratio_over_annuity() -> None:
    # S = (P(T0) - P(Tn)) / A for a fresh OIS swap on its own curve (no fixings).
    from tests.pricing.cases import ois_market

    rng = np.random.default_rng(8)
    market = ois_market(rng, patent.VALUATION, CAL, Interpolation.LOG_LINEAR_DISCOUNT)
    curve = market.build().discount
    conv = usd_sofr_ois(CAL)
    start, end = patent.SPOT, dt.date(2019, 3, 14).toordinal()
    book = SwapBook.of(conv, [start], [end], [1e7], [0.0], [1.0])
    v = price(book, patent.VALUATION, curve)
    adj_end = CAL.adjust(np.array([end]), conv.business_day)
    ratio = curve.df(np.array([start]))[0] - curve.df(adj_end)[0]
    assert abs(v.par_rate[0] - ratio / v.svf[0]) < 1e-14
