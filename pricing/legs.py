"""Cash-flow layout of fixed and floating swap legs, flattened across many swaps.

For a batch of (start, maturity) pairs under one ``SwapConvention`` this builds every fixed
period (accrual fraction, payment date) and every floating period (accrual dates, fixing
date, projection dates as QuantLib's par IBOR coupons use them, payment date) into flat numpy
arrays tagged with the owning swap's index, ready for ``np.bincount``. It must never look at
a curve: the same layout is priced under any number of curves and scenarios.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pricing.conventions import FloatKind, SwapConvention
from pricing.dates import FloatArray, IntArray
from pricing.daycount import DayCount
from pricing.schedule import backward_schedules


@dataclass(frozen=True)
class Legs:
    """Flattened periods of ``n`` swaps (fixed ``fx_*``, floating ``fl_*``)."""

    n: int
    fx_owner: IntArray
    fx_tau: FloatArray
    fx_pay: IntArray
    fl_owner: IntArray
    fl_start: IntArray
    fl_end: IntArray
    fl_tau: FloatArray
    fl_fixing: IntArray
    fl_proj_start: IntArray
    fl_proj_end: IntArray
    fl_proj_tau: FloatArray
    fl_pay: IntArray
    kind: FloatKind
    float_day_count: DayCount


def build_legs(
    convention: SwapConvention, start: IntArray, maturity: IntArray, distinct: bool = False
) -> Legs:
    """Periods of swaps running from ``start`` to ``maturity`` (unadjusted day numbers).

    ``distinct`` promises that no (start, maturity) pair repeats, which skips the
    de-duplication step of schedule generation.
    """
    c = convention
    cal = c.calendar
    fixed = backward_schedules(
        start,
        maturity,
        c.fixed_months,
        cal,
        c.business_day,
        c.business_day,
        c.end_of_month,
        dedupe=not distinct,
    )
    fx_owner, fx_start, fx_end = fixed.periods()
    fx_tau = c.fixed_day_count.fraction(fx_start, fx_end)
    if c.float_months == c.fixed_months:
        # The same schedule (annual OIS legs): generated once.
        fl_owner, fl_start, fl_end = fx_owner, fx_start, fx_end
    else:
        flt = backward_schedules(
            start,
            maturity,
            c.float_months,
            cal,
            c.business_day,
            c.business_day,
            c.end_of_month,
            dedupe=not distinct,
        )
        fl_owner, fl_start, fl_end = flt.periods()
    if c.float_day_count is c.fixed_day_count and fl_start is fx_start:
        fl_tau = fx_tau
    else:
        fl_tau = c.float_day_count.fraction(fl_start, fl_end)
    if c.float_kind is FloatKind.IBOR:
        fixing = cal.advance_days(fl_start, -c.fixing_days)
        proj_start = cal.advance_days(fixing, c.fixing_days)
        # QuantLib's par coupons project to the value date of the next period's fixing.
        proj_end = cal.advance_days(cal.advance_days(fl_end, -c.fixing_days), c.fixing_days)
        proj_end = np.maximum(proj_end, proj_start + 1)
        proj_tau = c.float_day_count.fraction(proj_start, proj_end)
    else:
        # Daily compounding telescopes to P(start) / P(end) over the accrual period.
        fixing = fl_start
        proj_start, proj_end, proj_tau = fl_start, fl_end, fl_tau
    return Legs(
        n=len(np.asarray(start)),
        fx_owner=fx_owner,
        fx_tau=fx_tau,
        fx_pay=fx_end,
        fl_owner=fl_owner,
        fl_start=fl_start,
        fl_end=fl_end,
        fl_tau=fl_tau,
        fl_fixing=fixing,
        fl_proj_start=proj_start,
        fl_proj_end=proj_end,
        fl_proj_tau=proj_tau,
        fl_pay=fl_end,
        kind=c.float_kind,
        float_day_count=c.float_day_count,
    )
