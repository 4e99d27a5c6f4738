"""QuantLib as the reference implementation, for tests only (pricing/ never imports it).

Builds QuantLib markets (curves from ``bench.quantlib_curves``) and swaps from the same inputs
our library takes, and exports QuantLib's holiday lists into our explicit-list calendars so
both sides agree day for day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import QuantLib as ql  # noqa: N813

from bench.quantlib_curves import BDC as _BDC
from bench.quantlib_curves import make_curve, make_helpers, qdate, ql_day_count
from pricing.bootstrap import Quote
from pricing.calendars import Calendar, explicit_calendar
from pricing.conventions import FloatKind, SwapConvention
from pricing.market import Market
from pricing.swaps import SwapBook


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
        quotes, helpers = make_helpers(market.projection, qcal, curve_ibor, overnight, None)
        curve = make_curve(market.projection, helpers)
        proj.linkTo(curve)
        disc.linkTo(curve)
        all_quotes += quotes
    else:
        ois_index = ql.OvernightIndex("TestOIS", 0, ql.USDCurrency(), qcal, ql.Actual360(), disc)
        dq, dh = make_helpers(market.discount, qcal, curve_ibor, ois_index, None)
        dcurve = make_curve(market.discount, dh)
        disc.linkTo(dcurve)
        pq, ph = make_helpers(market.projection, qcal, curve_ibor, overnight, disc)
        pcurve = make_curve(market.projection, ph)
        proj.linkTo(pcurve)
        all_quotes += dq + pq
    return QlMarket(all_quotes, proj, disc, ibor, overnight)


@dataclass
class QlValues:
    npv: np.ndarray
    par_rate: np.ndarray
    svf: np.ndarray
    dv01: np.ndarray


def ql_swaps(book: SwapBook, m: QlMarket, qcal: Any, engine: Any = None) -> list[Any]:
    """QuantLib swaps for every entry of ``book`` (stored fixings added to the index).

    ``engine`` defaults to a plain discounting engine on the market's discount curve.
    """
    c = book.convention
    engine = engine or ql.DiscountingSwapEngine(m.discount)
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
