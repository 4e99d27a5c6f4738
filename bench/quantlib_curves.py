"""QuantLib's version of our curve recipes: the reference the curve bench and the parity tests
build against (pricing/ never imports QuantLib).

Turns a ``CurveSpec`` into QuantLib rate helpers (deposits, FRAs, IBOR swaps, OIS) with the
same conventions and a piecewise curve with the same interpolation, so both libraries
bootstrap the same instruments. Monotone convex is QuantLib's
``PiecewiseConvexMonotoneForward`` with ``ConvexMonotone(0, 1, False)``, the basic Hagan-West
method ours implements. This module must never measure anything or price portfolios.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import QuantLib as ql  # noqa: N813

from pricing.bootstrap import CurveSpec
from pricing.calendars import BusinessDay
from pricing.conventions import FloatKind, Tenor
from pricing.daycount import DayCount
from pricing.interpolation import Interpolation

BDC = {
    BusinessDay.FOLLOWING: ql.Following,
    BusinessDay.MODIFIED_FOLLOWING: ql.ModifiedFollowing,
    BusinessDay.PRECEDING: ql.Preceding,
    BusinessDay.MODIFIED_PRECEDING: ql.ModifiedPreceding,
    BusinessDay.UNADJUSTED: ql.Unadjusted,
}


def ql_day_count(dc: DayCount) -> Any:
    """QuantLib's day counter for ours."""
    return {
        DayCount.ACT_360: ql.Actual360(),
        DayCount.ACT_365F: ql.Actual365Fixed(),
        DayCount.THIRTY_360: ql.Thirty360(ql.Thirty360.BondBasis),
        DayCount.THIRTY_E_360: ql.Thirty360(ql.Thirty360.European),
        DayCount.ACT_ACT_ISDA: ql.ActualActual(ql.ActualActual.ISDA),
    }[dc]


def qdate(ordinal: int) -> Any:
    """QuantLib date of a day number."""
    d = dt.date.fromordinal(int(ordinal))
    return ql.Date(d.day, d.month, d.year)


def ql_period(t: Tenor) -> Any:
    """QuantLib period of a tenor."""
    if t.months:
        return ql.Period(t.months, ql.Months)
    if t.weeks:
        return ql.Period(t.weeks, ql.Weeks)
    return ql.Period(t.days, ql.Days)


def ql_frequency(months: int) -> Any:
    """QuantLib frequency of a payment period in months."""
    return ql.Period(months, ql.Months).frequency()


def make_curve(spec: CurveSpec, helpers: list[Any], accuracy: float | None = None) -> Any:
    """QuantLib piecewise curve over ``helpers`` with ``spec``'s interpolation (ACT/365F).

    ``accuracy``: where QuantLib's bootstrap stops, in its own unknowns; None for its default
    (1e-12 in a zero rate: up to ~5e-11 in a 50-year discount factor). A tighter one makes
    QuantLib's curve the exact solution to rounding, to compare numbers with.
    """
    ref = qdate(spec.valuation)
    dc = ql.Actual365Fixed()
    bootstrap = ql.IterativeBootstrap() if accuracy is None else ql.IterativeBootstrap(accuracy)
    if spec.interpolation is Interpolation.LOG_LINEAR_DISCOUNT:
        curve = ql.PiecewiseLogLinearDiscount(ref, helpers, dc, [], [], ql.LogLinear(), bootstrap)
    elif spec.interpolation is Interpolation.LINEAR_ZERO:
        curve = ql.PiecewiseLinearZero(ref, helpers, dc, [], [], ql.Linear(), bootstrap)
    else:
        curve = ql.PiecewiseConvexMonotoneForward(
            ref, helpers, dc, [], [], ql.ConvexMonotone(0.0, 1.0, False), bootstrap
        )
    curve.enableExtrapolation()
    return curve


def make_helpers(
    spec: CurveSpec, qcal: Any, ibor: Any, overnight: Any, discount: Any | None
) -> tuple[list[Any], list[Any]]:
    """QuantLib quotes and rate helpers for ``spec``'s instruments.

    ``ibor`` is the index IBOR swaps float on, ``overnight`` the one OIS float on, and
    ``discount`` (a handle, or None for single curve) the curve swaps are discounted on.
    """
    c = spec.convention
    quotes: list[Any] = []
    helpers: list[Any] = []
    for q in spec.quotes:
        sq = ql.SimpleQuote(q.rate)
        quotes.append(sq)
        h = ql.QuoteHandle(sq)
        if q.instrument == "deposit":
            assert q.tenor is not None
            helpers.append(
                ql.DepositRateHelper(
                    h,
                    ql_period(q.tenor),
                    c.spot_lag,
                    qcal,
                    BDC[c.business_day],
                    c.end_of_month,
                    ql_day_count(c.float_day_count),
                )
            )
        elif q.instrument == "fra":
            assert q.start is not None
            assert q.end is not None
            helpers.append(
                ql.FraRateHelper(
                    h,
                    q.start.months,
                    q.end.months,
                    c.spot_lag,
                    qcal,
                    BDC[c.business_day],
                    c.end_of_month,
                    ql_day_count(c.float_day_count),
                )
            )
        elif c.float_kind is FloatKind.IBOR:
            assert q.tenor is not None
            helpers.append(
                ql.SwapRateHelper(
                    h,
                    ql_period(q.tenor),
                    qcal,
                    ql_frequency(c.fixed_months),
                    BDC[c.business_day],
                    ql_day_count(c.fixed_day_count),
                    ibor,
                    ql.QuoteHandle(),
                    ql.Period(0, ql.Days),
                    discount if discount is not None else ql.YieldTermStructureHandle(),
                    c.spot_lag,
                    ql.Pillar.LastRelevantDate,
                    ql.Date(),
                    c.end_of_month,
                )
            )
        else:
            assert q.tenor is not None
            helpers.append(
                ql.OISRateHelper(
                    c.spot_lag,
                    ql_period(q.tenor),
                    h,
                    overnight,
                    discountingCurve=(
                        discount if discount is not None else ql.YieldTermStructureHandle()
                    ),
                    paymentFrequency=ql_frequency(c.float_months),
                    endOfMonth=c.end_of_month,
                    fixedPaymentFrequency=ql_frequency(c.fixed_months),
                    convention=BDC[c.business_day],
                    fixedDayCount=ql_day_count(c.fixed_day_count),
                )
            )
    return quotes, helpers


def curve_index(spec: CurveSpec, qcal: Any, handle: Any | None = None) -> Any:
    """The IBOR index a curve's swap helpers float on (its own: no stored fixings leak in)."""
    c = spec.convention
    args = [
        "CurveIbor",
        ql.Period(c.float_months, ql.Months),
        c.fixing_days,
        ql.USDCurrency(),
        qcal,
        BDC[c.business_day],
        c.end_of_month,
        ql_day_count(c.float_day_count),
    ]
    return ql.IborIndex(*args) if handle is None else ql.IborIndex(*args, handle)
