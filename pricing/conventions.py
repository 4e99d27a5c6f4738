"""Market conventions: tenors, spot lags, and the leg conventions of a swap family.

A ``SwapConvention`` is everything about a swap except its dates and economics: calendar,
business-day convention, end-of-month rule, spot lag, fixed and floating frequencies and day
counts, and whether the floating leg is IBOR (one fixing per period) or compounded overnight.
Curve instruments (deposits, FRAs, par swaps) borrow the same convention. This module must
never price anything.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pricing.calendars import BusinessDay, Calendar
from pricing.dates import IntArray, add_months
from pricing.daycount import DayCount
from pricing.errors import PricingInputError

#: The longest tenor accepted (swaps beyond 100 years are not a thing a clearing house holds).
MAX_TENOR_MONTHS = 1200
MAX_TENOR_DAYS = 36_525


@dataclass(frozen=True)
class Tenor:
    """A period: ``months`` whole months, or ``days`` (business days if unit is D)."""

    months: int = 0
    days: int = 0
    weeks: int = 0

    @classmethod
    def parse(cls, text: str, field: str = "tenor") -> Tenor:
        """Parse "3M", "10Y", "9Y6M", "1W", "2D", "ON"."""
        key = str(text).upper()
        if len(key) > 24:
            raise PricingInputError(
                field, f"expected a tenor such as 3M, 10Y or 9Y6M, got {text[:24]!r}..."
            )
        if key in ("ON", "O/N"):
            return cls(days=1)
        # ASCII digits, at most 5 per unit: the bounds below are checked on small numbers.
        parts = re.fullmatch(
            r"(?:([0-9]{1,5})Y)?(?:([0-9]{1,5})M)?(?:([0-9]{1,5})W)?(?:([0-9]{1,5})D)?", key
        )
        if not key or parts is None:
            raise PricingInputError(
                field, f"expected a tenor such as 3M, 10Y or 9Y6M, got {text!r}"
            )
        y, m, w, d = (int(g) if g else 0 for g in parts.groups())
        if (y or m) and (w or d):
            raise PricingInputError(field, f"mixing months and days in {text!r} is not supported")
        tenor = cls(months=12 * y + m, weeks=w, days=d)
        if tenor.months > MAX_TENOR_MONTHS or 7 * tenor.weeks + tenor.days > MAX_TENOR_DAYS:
            raise PricingInputError(field, f"{text!r} is longer than {MAX_TENOR_MONTHS // 12}Y")
        if tenor.months == 0 and tenor.weeks == 0 and tenor.days == 0:
            raise PricingInputError(field, f"a tenor must be positive, got {text!r}")
        return tenor

    def __str__(self) -> str:
        if self.months:
            y, m = divmod(self.months, 12)
            return (f"{y}Y" if y else "") + (f"{m}M" if m else "")
        return f"{self.weeks}W" if self.weeks else f"{self.days}D"

    @property
    def years(self) -> float:
        """Approximate length in years (for sorting and scenario shapes only)."""
        return self.months / 12.0 + self.weeks * 7 / 365.0 + self.days / 365.0


class FloatKind(enum.Enum):
    """What the floating leg pays."""

    IBOR = "ibor"
    OIS = "ois"

    @classmethod
    def parse(cls, text: str, field: str = "float_index") -> FloatKind:
        """Parse "ibor" or "ois" (compounded overnight)."""
        key = text.strip().lower()
        for member in cls:
            if member.value == key:
                return member
        raise PricingInputError(field, f"unknown floating index kind {text!r} (ibor, ois)")


@dataclass(frozen=True)
class SwapConvention:
    """Conventions shared by a family of swaps and by the curve instruments quoted with them."""

    calendar: Calendar
    business_day: BusinessDay = BusinessDay.MODIFIED_FOLLOWING
    end_of_month: bool = False
    spot_lag: int = 2
    fixed_months: int = 6
    fixed_day_count: DayCount = DayCount.THIRTY_360
    float_kind: FloatKind = FloatKind.IBOR
    float_months: int = 3
    float_day_count: DayCount = DayCount.ACT_360
    fixing_days: int = 2

    def __post_init__(self) -> None:
        if self.spot_lag < 0:
            raise PricingInputError("spot_lag", "must not be negative")
        if self.fixing_days < 0:
            raise PricingInputError("fixing_days", "must not be negative")
        for name in ("fixed_months", "float_months"):
            if getattr(self, name) <= 0:
                raise PricingInputError(name.replace("_months", "_frequency"), "must be positive")

    def spot(self, valuation: int) -> int:
        """Spot date: ``spot_lag`` business days after the (adjusted) valuation date."""
        v = self.calendar.adjust(np.array([valuation]), BusinessDay.FOLLOWING)
        return int(self.calendar.advance_days(v, self.spot_lag)[0])

    def add_tenor(self, days: IntArray, tenor: Tenor) -> IntArray:
        """End date ``days + tenor`` of a swap starting on ``days``.

        Plain month arithmetic (unadjusted, the schedule adjusts it); under the end-of-month
        rule a start on its month's last business day ends on the last business day of the
        end month, as QuantLib's MakeVanillaSwap does.
        """
        days = np.asarray(days, dtype=np.int64)
        if tenor.months:
            return self._add_months(days, np.full(days.shape, tenor.months))
        return days + 7 * tenor.weeks + tenor.days

    def add_tenors(self, day: int, tenors: Sequence[Tenor]) -> IntArray:
        """End dates of swaps starting on ``day``, one per tenor (``add_tenor``, vectorised)."""
        if all(t.months for t in tenors):
            months = np.array([t.months for t in tenors], dtype=np.int64)
            return self._add_months(np.full(len(tenors), day, dtype=np.int64), months)
        start = np.array([day], dtype=np.int64)
        return np.concatenate([self.add_tenor(start, t) for t in tenors])

    def _add_months(self, days: IntArray, months: IntArray) -> IntArray:
        if self.end_of_month:
            return self.calendar.advance_months(days, months, self.business_day, True)
        return add_months(days, months, np.zeros(days.shape, dtype=bool))

    def advance(self, days: IntArray, tenor: Tenor) -> IntArray:
        """``days + tenor`` adjusted (how deposit and FRA dates are set)."""
        days = np.asarray(days, dtype=np.int64)
        if tenor.months:
            return self.calendar.advance_months(
                days, tenor.months, self.business_day, self.end_of_month
            )
        if tenor.weeks:
            return self.calendar.adjust(days + 7 * tenor.weeks, self.business_day)
        return self.calendar.advance_days(days, tenor.days)

    def advance_each(self, days: IntArray, tenors: Sequence[Tenor]) -> IntArray:
        """``advance`` of each day by its own tenor (vectorised when all are in months)."""
        days = np.asarray(days, dtype=np.int64)
        if all(t.months for t in tenors):
            months = np.array([t.months for t in tenors], dtype=np.int64)
            return self.calendar.advance_months(days, months, self.business_day, self.end_of_month)
        return np.concatenate(
            [self.advance(days[i : i + 1], t) for i, t in enumerate(tenors)]
        ).astype(np.int64)

    def describe(self) -> dict[str, Any]:
        """Plain-data record (for curve ids and reports)."""
        return {
            "calendar": self.calendar.name,
            "holidays_hash": hash_holidays(self.calendar.holidays),
            "business_day": self.business_day.value,
            "end_of_month": self.end_of_month,
            "spot_lag": self.spot_lag,
            "fixed_months": self.fixed_months,
            "fixed_day_count": self.fixed_day_count.value,
            "float_kind": self.float_kind.value,
            "float_months": self.float_months,
            "float_day_count": self.float_day_count.value,
            "fixing_days": self.fixing_days,
        }


@functools.lru_cache(maxsize=64)
def hash_holidays(holidays: frozenset[int]) -> str:
    """Digest of a holiday set (part of a curve's id), independent of set order.

    Remembered per set (a set's hash is cached by Python): every curve id needs it.
    """
    data = np.sort(np.fromiter(holidays, dtype=np.int64, count=len(holidays))).tobytes()
    return hashlib.sha256(data).hexdigest()[:16]


def usd_libor_3m(calendar: Calendar) -> SwapConvention:
    """Legacy USD 3M LIBOR swap: fixed semiannual 30/360, float quarterly ACT/360, MF."""
    return SwapConvention(calendar=calendar)


def usd_sofr_ois(calendar: Calendar) -> SwapConvention:
    """USD SOFR OIS: annual fixed and compounded floating, both ACT/360, spot T+2."""
    return SwapConvention(
        calendar=calendar,
        fixed_months=12,
        fixed_day_count=DayCount.ACT_360,
        float_kind=FloatKind.OIS,
        float_months=12,
        float_day_count=DayCount.ACT_360,
        fixing_days=0,
    )
