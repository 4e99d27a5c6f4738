"""Dates as integer day numbers, and the vectorised calendar arithmetic built on them.

A date is its proleptic Gregorian ordinal (``datetime.date.toordinal()``), held in int64 numpy
arrays so that schedules and cash flows of a whole portfolio are handled in one pass. This
module converts, splits into year/month/day and adds months; it must never read a clock.
"""

from __future__ import annotations

import datetime as dt
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

from pricing.errors import PricingInputError

IntArray: TypeAlias = npt.NDArray[np.int64]
FloatArray: TypeAlias = npt.NDArray[np.float64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]

# Ordinal of 1970-01-01: numpy's datetime64[D] counts from there.
_EPOCH = dt.date(1970, 1, 1).toordinal()


def to_ordinal(value: dt.date) -> int:
    """Day number of a date."""
    return value.toordinal()


def from_ordinal(value: int) -> dt.date:
    """Date of a day number."""
    return dt.date.fromordinal(int(value))


def parse_date(text: str, field: str) -> dt.date:
    """Parse ``YYYY-MM-DD``; refuse anything else naming ``field``."""
    try:
        return dt.date.fromisoformat(text)
    except (TypeError, ValueError):
        raise PricingInputError(field, f"expected a date YYYY-MM-DD, got {text!r}") from None


def split_ymd(ordinals: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """Year, month (1-12) and day (1-31) of each day number."""
    days = (np.asarray(ordinals, dtype=np.int64) - _EPOCH).astype("datetime64[D]")
    months = days.astype("datetime64[M]")
    years = months.astype("datetime64[Y]")
    y = years.astype(np.int64) + 1970
    m = (months - years.astype("datetime64[M]")).astype(np.int64) + 1
    d = (days - months.astype("datetime64[D]")).astype(np.int64) + 1
    return y, m, d


def ymd_to_ordinal(y: IntArray, m: IntArray, d: IntArray) -> IntArray:
    """Day numbers of (year, month, day) arrays; the day must exist in its month."""
    month_index = (np.asarray(y, dtype=np.int64) - 1970) * 12 + np.asarray(m, dtype=np.int64) - 1
    first = month_index.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    return first + np.asarray(d, dtype=np.int64) - 1 + _EPOCH


def days_in_month(y: IntArray, m: IntArray) -> IntArray:
    """Number of days of each (year, month)."""
    month_index = (np.asarray(y, dtype=np.int64) - 1970) * 12 + np.asarray(m, dtype=np.int64) - 1
    start = month_index.astype("datetime64[M]").astype("datetime64[D]")
    end = (month_index + 1).astype("datetime64[M]").astype("datetime64[D]")
    return np.asarray((end - start).astype(np.int64), dtype=np.int64)


def is_month_end(ordinals: IntArray) -> BoolArray:
    """Whether each day is the last calendar day of its month."""
    y, m, d = split_ymd(ordinals)
    return np.asarray(d == days_in_month(y, m))


def add_months(ordinals: IntArray, months: IntArray, end_of_month: BoolArray) -> IntArray:
    """Add whole months, clamping to the month's last day.

    Where ``end_of_month`` is set and the start date is a month end, the result is the
    month end too (the unadjusted end-of-month rule of a null calendar).
    """
    y, m, d = split_ymd(ordinals)
    total = y * 12 + (m - 1) + np.asarray(months, dtype=np.int64)
    ny = total // 12
    nm = total % 12 + 1
    dim = days_in_month(ny, nm)
    eom = np.asarray(end_of_month, dtype=bool) & (d == days_in_month(y, m))
    nd = np.where(eom, dim, np.minimum(d, dim))
    return ymd_to_ordinal(ny, nm, nd)
