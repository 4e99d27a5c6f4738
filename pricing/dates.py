"""Dates as integer day numbers, and the vectorised calendar arithmetic built on them.

A date is its proleptic Gregorian ordinal (``datetime.date.toordinal()``), held in int64 numpy
arrays so that schedules and cash flows of a whole portfolio are handled in one pass. This
module converts, splits into year/month/day and adds months; it must never read a clock.
"""

from __future__ import annotations

import datetime as dt
import re
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
    """Parse ``YYYY-MM-DD`` within the years the date tables cover less the longest tenor
    (:data:`FIRST_INPUT_YEAR`..:data:`LAST_INPUT_YEAR`); refuse anything else naming ``field``.
    """
    if not isinstance(text, str) or not _DATE_RE.fullmatch(text):
        shown = repr(text) if not isinstance(text, str) or len(text) <= 24 else repr(text[:24])
        raise PricingInputError(field, f"expected a date YYYY-MM-DD, got {shown}")
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise PricingInputError(field, f"expected a date YYYY-MM-DD, got {text!r}") from None
    if not FIRST_INPUT_YEAR <= day.year <= LAST_INPUT_YEAR:
        raise PricingInputError(
            field, f"must be within the years {FIRST_INPUT_YEAR}-{LAST_INPUT_YEAR}, got {text}"
        )
    return day


_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


# Lookup tables over 1901-01-01 .. 2200-12-31: splitting a date is then one gather, which
# is an order of magnitude faster than numpy's datetime64 conversions.
TABLE_FIRST_YEAR = 1901
TABLE_LAST_YEAR = 2200
TABLE_BASE = dt.date(TABLE_FIRST_YEAR, 1, 1).toordinal()
TABLE_END = dt.date(TABLE_LAST_YEAR, 12, 31).toordinal()
#: Input dates: the tables' years, leaving room for the longest tenor (100 years) after.
FIRST_INPUT_YEAR = TABLE_FIRST_YEAR
LAST_INPUT_YEAR = TABLE_LAST_YEAR - 100


def _build_ymd_tables() -> tuple[IntArray, IntArray, IntArray, IntArray, IntArray]:
    days = np.arange(TABLE_BASE, TABLE_END + 1, dtype=np.int64)
    as_dt = (days - _EPOCH).astype("datetime64[D]")
    months = as_dt.astype("datetime64[M]")
    years = months.astype("datetime64[Y]")
    y = years.astype(np.int64) + 1970
    m = (months - years.astype("datetime64[M]")).astype(np.int64) + 1
    d = (as_dt - months.astype("datetime64[D]")).astype(np.int64) + 1
    month_index = np.arange((TABLE_LAST_YEAR - TABLE_FIRST_YEAR + 1) * 12 + 1, dtype=np.int64)
    firsts = (month_index + (TABLE_FIRST_YEAR - 1970) * 12).astype("datetime64[M]").astype(
        "datetime64[D]"
    ).astype(np.int64) + _EPOCH
    lengths = np.diff(firsts)
    return y, m, d, firsts, lengths


_Y, _M, _D, _FIRSTS, _LENGTHS = _build_ymd_tables()
# Month index of each day (months since January of the first table year).
_MONTH = (_Y - TABLE_FIRST_YEAR) * 12 + _M - 1


def _offset(ordinals: IntArray) -> IntArray:
    arr = np.asarray(ordinals, dtype=np.int64)
    if arr.size and (int(arr.min()) < TABLE_BASE or int(arr.max()) > TABLE_END):
        raise PricingInputError(
            "date", f"dates must lie between {TABLE_FIRST_YEAR}-01-01 and {TABLE_LAST_YEAR}-12-31"
        )
    return arr - TABLE_BASE


def _month_index(y: IntArray, m: IntArray) -> IntArray:
    idx = (
        (np.asarray(y, dtype=np.int64) - TABLE_FIRST_YEAR) * 12 + np.asarray(m, dtype=np.int64) - 1
    )
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= len(_LENGTHS)):
        raise PricingInputError(
            "date", f"dates must lie between {TABLE_FIRST_YEAR}-01-01 and {TABLE_LAST_YEAR}-12-31"
        )
    return idx


def split_ymd(ordinals: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """Year, month (1-12) and day (1-31) of each day number."""
    i = _offset(ordinals)
    return _Y[i], _M[i], _D[i]


def ymd_to_ordinal(y: IntArray, m: IntArray, d: IntArray) -> IntArray:
    """Day numbers of (year, month, day) arrays; the day must exist in its month."""
    return np.asarray(_FIRSTS[_month_index(y, m)] + np.asarray(d, dtype=np.int64) - 1)


def days_in_month(y: IntArray, m: IntArray) -> IntArray:
    """Number of days of each (year, month)."""
    return np.asarray(_LENGTHS[_month_index(y, m)])


def add_months(ordinals: IntArray, months: IntArray, end_of_month: BoolArray) -> IntArray:
    """Add whole months, clamping to the month's last day.

    Where ``end_of_month`` is set and the start date is a month end, the result is the
    month end too (the unadjusted end-of-month rule of a null calendar).
    """
    i = _offset(ordinals)
    month = _MONTH[i]
    d = _D[i]
    target = month + np.asarray(months, dtype=np.int64)
    if target.size and (int(target.min()) < 0 or int(target.max()) >= len(_LENGTHS)):
        raise PricingInputError(
            "date", f"dates must lie between {TABLE_FIRST_YEAR}-01-01 and {TABLE_LAST_YEAR}-12-31"
        )
    dim = _LENGTHS[target]
    nd = np.minimum(d, dim)
    eom_flags = np.asarray(end_of_month, dtype=bool)
    if eom_flags.any():
        nd = np.where(eom_flags & (d == _LENGTHS[month]), dim, nd)
    return np.asarray(_FIRSTS[target] + nd - 1)
