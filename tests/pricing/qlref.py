"""QuantLib as the reference implementation, for tests only (pricing/ never imports it).

Builds QuantLib curves and swaps from the same inputs our library takes, and exports
QuantLib's holiday lists into our explicit-list calendars so both sides agree day for day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import QuantLib as ql  # noqa: N813

from pricing.bootstrap import CurveSpec, Quote
from pricing.calendars import BusinessDay, Calendar, explicit_calendar
from pricing.conventions import FloatKind, SwapConvention
from pricing.daycount import DayCount
from pricing.interpolation import Interpolation
from pricing.market import Market
from pricing.swaps import SwapBook

_BDC = {
    BusinessDay.FOLLOWING: ql.Following,
    BusinessDay.MODIFIED_FOLLOWING: ql.ModifiedFollowing,
    BusinessDay.PRECEDING: ql.Preceding,
    BusinessDay.MODIFIED_PRECEDING: ql.ModifiedPreceding,
    BusinessDay.UNADJUSTED: ql.Unadjusted,
}


def ql_day_count(dc: DayCount) -> Any:
    return {
        DayCount.ACT_360: ql.Actual360(),
        DayCount.ACT_365F: ql.Actual365Fixed(),
        DayCount.THIRTY_360: ql.Thirty360(ql.Thirty360.BondBasis),
        DayCount.THIRTY_E_360: ql.Thirty360(ql.Thirty360.European),
        DayCount.ACT_ACT_ISDA: ql.ActualActual(ql.ActualActual.ISDA),
    }[dc]


def qdate(ordinal: int) -> Any:
    d = dt.date.fromordinal(int(ordinal))
    return ql.Date(d.day, d.month, d.year)


def from_qdate(d: Any) -> int:
    return dt.date(d.year(), d.month(), d.dayOfMonth()).toordinal()


def exported_calendar(qcal: Any, name: str) -> Calendar:
    """Our explicit calendar holding exactly QuantLib's holidays (weekends excluded)."""
    days = ql.Calendar.holidayList(qcal, ql.Date(1, 1, 1980), ql.Date(31, 12, 2100))
    return explicit_calendar([dt.date.fromordinal(from_qdate(d)) for d in days], name)


def ql_joint_us_uk() -> Any:
    return ql.JointCalendar(
        ql.UnitedStates(ql.UnitedStates.FederalReserve), ql.UnitedKingdom(ql.UnitedKingdom.Exchange)
    )


@dataclass
class QlMarket:
    """QuantLib curves mirroring a ``Market``, with quotes that can be bumped together."""

    quotes: list[Any]
    projection: Any  # RelinkableYieldTermStructureHandle
    discount: Any
    ibor: Any
    overnight: Any

    def bump(self, shift: float) -> None:
        for q in self.quotes:
            q.setValue(q.value() + shift)


def _period(t: Any) -> Any:
    if t.months:
        return ql.Period(t.months, ql.Months)
    if t.weeks:
        return ql.Period(t.weeks, ql.Weeks)
    return ql.Period(t.days, ql.Days)


def _make_curve(spec: CurveSpec, helpers: list[Any], interpolation: Interpolation) -> Any:
    ref = qdate(spec.valuation)
    dc = ql.Actual365Fixed()
    if interpolation is Interpolation.LOG_LINEAR_DISCOUNT:
        curve = ql.PiecewiseLogLinearDiscount(ref, helpers, dc)
    elif interpolation is Interpolation.LINEAR_ZERO:
        curve = ql.PiecewiseLinearZero(ref, helpers, dc)
    else:
        curve = ql.PiecewiseConvexMonotoneForward(
            ref, helpers, dc, [], [], ql.ConvexMonotone(0.0, 1.0, False)
        )
    curve.enableExtrapolation()
    return curve


def _helpers(
    spec: CurveSpec, qcal: Any, ibor: Any, overnight: Any, discount: Any | None
) -> tuple[list[Any], list[Any]]:
    c = spec.convention
    quotes: list[Any] = []
    helpers: list[Any] = []
    for q in spec.quotes:
        sq = ql.SimpleQuote(q.rate)
        quotes.append(sq)
        h = ql.QuoteHandle(sq)
        if q.instrument == "deposit":
            helpers.append(
                ql.DepositRateHelper(
                    h,
                    _period(q.tenor),
                    c.spot_lag,
                    qcal,
                    _BDC[c.business_day],
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
                    _BDC[c.business_day],
                    c.end_of_month,
                    ql_day_count(c.float_day_count),
                )
            )
        elif c.float_kind is FloatKind.IBOR:
            args = [
                h,
                _period(q.tenor),
                qcal,
                _freq(c.fixed_months),
                _BDC[c.business_day],
                ql_day_count(c.fixed_day_count),
                ibor,
            ]
            args += [
                ql.QuoteHandle(),
                ql.Period(0, ql.Days),
                discount if discount is not None else ql.YieldTermStructureHandle(),
                c.spot_lag,
                ql.Pillar.LastRelevantDate,
                ql.Date(),
                c.end_of_month,
            ]
            helpers.append(ql.SwapRateHelper(*args))
        else:
            helpers.append(
                ql.OISRateHelper(
                    c.spot_lag,
                    _period(q.tenor),
                    h,
                    overnight,
                    discountingCurve=(
                        discount if discount is not None else ql.YieldTermStructureHandle()
                    ),
                    paymentFrequency=_freq(c.float_months),
                    endOfMonth=c.end_of_month,
                    fixedPaymentFrequency=_freq(c.fixed_months),
                    convention=_BDC[c.business_day],
                    fixedDayCount=ql_day_count(c.fixed_day_count),
                )
            )
    return quotes, helpers


def _freq(months: int) -> Any:
    return ql.Period(months, ql.Months).frequency()


def ql_market(market: Market, qcal: Any) -> QlMarket:
    """Bootstrap QuantLib's version of ``market`` (same quotes, same conventions)."""
    ql.Settings.instance().evaluationDate = qdate(market.valuation)
    ql.IndexManager.instance().clearHistories()
    proj = ql.RelinkableYieldTermStructureHandle()
    disc = ql.RelinkableYieldTermStructureHandle()
    pc = market.projection.convention
    ibor = ql.IborIndex(
        "TestIbor",
        ql.Period(pc.float_months, ql.Months),
        pc.fixing_days,
        ql.USDCurrency(),
        qcal,
        _BDC[pc.business_day],
        pc.end_of_month,
        ql_day_count(pc.float_day_count),
        proj,
    )
    overnight = ql.OvernightIndex("TestON", 0, ql.USDCurrency(), qcal, ql.Actual360(), proj)
    # Curve helpers get their own index: QuantLib would otherwise feed a stored fixing for
    # today into the spot swaps it bootstraps from, while our curves come from quotes alone.
    curve_ibor = ql.IborIndex(
        "CurveIbor",
        ql.Period(pc.float_months, ql.Months),
        pc.fixing_days,
        ql.USDCurrency(),
        qcal,
        _BDC[pc.business_day],
        pc.end_of_month,
        ql_day_count(pc.float_day_count),
        proj,
    )
    all_quotes: list[Any] = []
    if market.discount is None:
        quotes, helpers = _helpers(market.projection, qcal, curve_ibor, overnight, None)
        curve = _make_curve(market.projection, helpers, market.projection.interpolation)
        proj.linkTo(curve)
        disc.linkTo(curve)
        all_quotes += quotes
    else:
        ois_index = ql.OvernightIndex("TestOIS", 0, ql.USDCurrency(), qcal, ql.Actual360(), disc)
        dq, dh = _helpers(market.discount, qcal, curve_ibor, ois_index, None)
        dcurve = _make_curve(market.discount, dh, market.discount.interpolation)
        disc.linkTo(dcurve)
        pq, ph = _helpers(market.projection, qcal, curve_ibor, overnight, disc)
        pcurve = _make_curve(market.projection, ph, market.projection.interpolation)
        proj.linkTo(pcurve)
        all_quotes += dq + pq
    return QlMarket(all_quotes, proj, disc, ibor, overnight)


@dataclass
class QlValues:
    npv: np.ndarray
    par_rate: np.ndarray
    svf: np.ndarray
    dv01: np.ndarray


def ql_swaps(book: SwapBook, m: QlMarket, qcal: Any) -> list[Any]:
    """QuantLib swaps for every entry of ``book`` (stored fixings added to the index)."""
    c = book.convention
    engine = ql.DiscountingSwapEngine(m.discount)
    out = []
    for i in range(len(book)):
        start, end = qdate(book.start[i]), qdate(book.maturity[i])
        kind = ql.VanillaSwap.Payer if book.side[i] > 0 else ql.VanillaSwap.Receiver
        bdc = _BDC[c.business_day]
        fixed = ql.Schedule(
            start,
            end,
            ql.Period(c.fixed_months, ql.Months),
            qcal,
            bdc,
            bdc,
            ql.DateGeneration.Backward,
            c.end_of_month,
        )
        if c.float_kind is FloatKind.IBOR:
            flt = ql.Schedule(
                start,
                end,
                ql.Period(c.float_months, ql.Months),
                qcal,
                bdc,
                bdc,
                ql.DateGeneration.Backward,
                c.end_of_month,
            )
            swap = ql.VanillaSwap(
                kind,
                float(book.notional[i]),
                fixed,
                float(book.fixed_rate[i]),
                ql_day_count(c.fixed_day_count),
                flt,
                m.ibor,
                float(book.spread[i]),
                ql_day_count(c.float_day_count),
            )
            if np.isfinite(book.fixing[i]):
                _add_fixing(swap, m.ibor, float(book.fixing[i]))
        else:
            swap = ql.OvernightIndexedSwap(
                kind,
                float(book.notional[i]),
                fixed,
                float(book.fixed_rate[i]),
                ql_day_count(c.fixed_day_count),
                m.overnight,
                float(book.spread[i]),
            )
        swap.setPricingEngine(engine)
        out.append(swap)
    return out


def _add_fixing(swap: Any, index: Any, fixing: float) -> None:
    # The stored fixing belongs to the unpaid coupon fixed before today, or else to the
    # coupon fixing today (our convention, see pricing.swaps.SwapBook).
    today = ql.Settings.instance().evaluationDate
    coupons = [ql.as_floating_rate_coupon(cf) for cf in swap.floatingLeg() if cf.date() > today]
    past = [c for c in coupons if c.fixingDate() < today]
    chosen = past or [c for c in coupons if c.fixingDate() == today]
    for c in chosen[:1]:
        index.addFixing(c.fixingDate(), fixing, True)


def ql_values(book: SwapBook, m: QlMarket, qcal: Any, bump: float = 1e-4) -> QlValues:
    """NPV, par rate, SVF and DV01 (all quotes bumped, central difference) by QuantLib."""
    swaps = ql_swaps(book, m, qcal)
    npv = np.array([s.NPV() for s in swaps])
    par = np.array([s.fairRate() for s in swaps])
    svf = np.array([abs(s.fixedLegBPS()) / (book.notional[i] * 1e-4) for i, s in enumerate(swaps)])
    m.bump(bump)
    up = np.array([s.NPV() for s in swaps])
    m.bump(-2 * bump)
    down = np.array([s.NPV() for s in swaps])
    m.bump(bump)
    return QlValues(npv, par, svf, (up - down) / 2)


def quotes_for(levels: Sequence[tuple[str, str, float]]) -> tuple[Quote, ...]:
    from pricing.conventions import Tenor

    out = []
    for kind, tenor, rate in levels:
        if kind == "fra":
            a, b = tenor.split("x")
            out.append(Quote("fra", rate, start=Tenor.parse(a), end=Tenor.parse(b)))
        else:
            out.append(Quote(kind, rate, tenor=Tenor.parse(tenor)))
    return tuple(out)


__all__ = ["SwapConvention"]
