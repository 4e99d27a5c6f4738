"""Holiday calendars and business-day arithmetic, vectorised over arrays of day numbers.

A calendar is weekends plus a set of holidays: a named one from the ``holidays`` package
("NewYork" = US federal holidays, "London" = England and Wales bank holidays, ...), a joint
calendar (the union of several, written "NewYork+London"), or an explicit holiday list (what
tests use to agree with QuantLib day for day). Every operation works through lookup tables
indexed by day number, so adjusting a million dates is a few numpy gathers. This module must
never read a clock or the network; the ``holidays`` package computes its dates offline.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from pricing.dates import IntArray, add_months, days_in_month, split_ymd, ymd_to_ordinal
from pricing.errors import PricingInputError

FIRST_YEAR = 1901
LAST_YEAR = 2200
_BASE = dt.date(FIRST_YEAR, 1, 1).toordinal()
_END = dt.date(LAST_YEAR, 12, 31).toordinal()


_TABLE_MIN = 1 << 14


class BusinessDay(enum.Enum):
    """How a date falling on a holiday or weekend is moved."""

    FOLLOWING = "following"
    MODIFIED_FOLLOWING = "modified_following"
    PRECEDING = "preceding"
    MODIFIED_PRECEDING = "modified_preceding"
    UNADJUSTED = "unadjusted"

    @classmethod
    def parse(cls, text: str, field: str = "business_day") -> BusinessDay:
        """Parse a convention name (case and dashes ignored)."""
        key = text.strip().lower().replace("-", "_").replace(" ", "_")
        aliases = {"mf": "modified_following", "f": "following", "p": "preceding"}
        key = aliases.get(key, key)
        for member in cls:
            if member.value == key:
                return member
        known = ", ".join(m.value for m in cls)
        raise PricingInputError(field, f"unknown business-day convention {text!r} ({known})")


def _named_holidays(name: str, years: range) -> set[dt.date]:
    # Imported here so that the (large) holidays package loads only when a named calendar
    # is actually used; explicit-list calendars never need it.
    import holidays

    # (country or market, subdivision, financial market?) per accepted name.
    sources: dict[str, tuple[str, str | None, bool]] = {
        "NEWYORK": ("US", None, False),
        "USNY": ("US", None, False),
        "US": ("US", None, False),
        "NYSE": ("NYSE", None, True),
        "LONDON": ("GB", "ENG", False),
        "GBLO": ("GB", "ENG", False),
        "UK": ("GB", "ENG", False),
        "TARGET": ("ECB", None, True),
        "TOKYO": ("JP", None, False),
        "ZURICH": ("CH", "ZH", False),
    }
    key = name.strip().upper().replace(" ", "").replace("_", "")
    if key in ("WEEKENDS", "WEEKENDSONLY", "NONE"):
        return set()
    if key not in sources:
        known = "NewYork, NYSE, London, TARGET, Tokyo, Zurich, WeekendsOnly"
        raise PricingInputError("calendar", f"unknown calendar {name!r} (known: {known})")
    code, subdiv, financial = sources[key]
    factory: Any = holidays.financial_holidays if financial else holidays.country_holidays
    found: Any = factory(code, subdiv=subdiv, years=years)
    return {d for d in found if isinstance(d, dt.date)}


@dataclass(frozen=True, eq=False)
class Calendar:
    """Weekends (Saturday, Sunday) plus ``holidays`` (day numbers) are not business days."""

    name: str
    holidays: frozenset[int] = field(repr=False)
    _tables: dict[str, IntArray] = field(default_factory=dict, repr=False, compare=False)

    # --- queries -------------------------------------------------------------------------

    def is_business_day(self, days: IntArray) -> IntArray:
        """1 where a business day, 0 otherwise (int so it can be summed)."""
        return self._table("is_bd")[self._index(days)]

    def adjust(self, days: IntArray, convention: BusinessDay) -> IntArray:
        """Move each date to a business day according to ``convention``."""
        days = np.asarray(days, dtype=np.int64)
        if convention is BusinessDay.UNADJUSTED:
            return days.copy()
        i = self._index(days)
        if convention is BusinessDay.FOLLOWING:
            return self._table("following")[i]
        if convention is BusinessDay.PRECEDING:
            return self._table("preceding")[i]
        if convention is BusinessDay.MODIFIED_FOLLOWING:
            return self._table("modified_following")[i]
        return self._table("modified_preceding")[i]

    def advance_days(self, days: IntArray, n: int | IntArray) -> IntArray:
        """Move by ``n`` business days (QuantLib semantics: ``n == 0`` means following)."""
        days = np.asarray(days, dtype=np.int64)
        if not isinstance(n, int) and np.ndim(n) == 0:
            n = int(n)
        if isinstance(n, int) and days.size > _TABLE_MIN:
            lo, hi = int(days.min()), int(days.max())
            if hi - lo < days.size // 4:
                # Many dates, few distinct days: move each day of the span once and gather.
                span = np.arange(lo, hi + 1, dtype=np.int64)
                return self.advance_days(span, n)[days - lo]
        i = self._index(days)
        bdays = self._table("bdays")
        count_le = self._table("count_le")[i]
        if isinstance(n, int):
            # One shift for every date (the common case): only its direction's lookup.
            if n > 0:
                return bdays[np.clip(count_le + (n - 1), 0, len(bdays) - 1)]
            if n < 0:
                count_lt: IntArray = count_le - self._table("is_bd")[i]
                return bdays[np.clip(count_lt + n, 0, len(bdays) - 1)]
            return self._table("following")[i]
        n_arr = np.broadcast_to(np.asarray(n, dtype=np.int64), days.shape)
        count_lt = count_le - self._table("is_bd")[i]
        forward = bdays[np.clip(count_le + n_arr - 1, 0, len(bdays) - 1)]
        backward = bdays[np.clip(count_lt + n_arr, 0, len(bdays) - 1)]
        zero = self._table("following")[i]
        return np.where(n_arr > 0, forward, np.where(n_arr < 0, backward, zero))

    def is_end_of_month(self, days: IntArray) -> IntArray:
        """1 where the date is the last business day of its month."""
        days = np.asarray(days, dtype=np.int64)
        _, m, _ = split_ymd(days)
        _, m_next, _ = split_ymd(self.adjust(days + 1, BusinessDay.FOLLOWING))
        return np.asarray(m != m_next, dtype=np.int64)

    def end_of_month(self, days: IntArray) -> IntArray:
        """Last business day of each date's month."""
        y, m, _ = split_ymd(np.asarray(days, dtype=np.int64))
        return self.adjust(ymd_to_ordinal(y, m, days_in_month(y, m)), BusinessDay.PRECEDING)

    def advance_months(
        self, days: IntArray, months: int | IntArray, convention: BusinessDay, end_of_month: bool
    ) -> IntArray:
        """Add months then adjust; with ``end_of_month``, month-end business days stay so."""
        days = np.asarray(days, dtype=np.int64)
        n = np.broadcast_to(np.asarray(months, dtype=np.int64), days.shape)
        raw = add_months(days, n, np.zeros(days.shape, dtype=bool))
        adjusted = self.adjust(raw, convention)
        if not end_of_month:
            return adjusted
        eom = self.is_end_of_month(days).astype(bool)
        return np.where(eom, self.end_of_month(raw), adjusted)

    # --- internals -----------------------------------------------------------------------

    def _index(self, days: IntArray) -> IntArray:
        arr = np.asarray(days, dtype=np.int64)
        if arr.size and (int(arr.min()) < _BASE or int(arr.max()) > _END):
            raise PricingInputError(
                "date", f"dates must lie between {FIRST_YEAR}-01-01 and {LAST_YEAR}-12-31"
            )
        return arr - _BASE

    def _table(self, name: str) -> IntArray:
        if not self._tables:
            self._tables.update(_build_tables(self.holidays))
        return self._tables[name]


def _build_tables(holidays: frozenset[int]) -> dict[str, IntArray]:
    all_days = np.arange(_BASE, _END + 1, dtype=np.int64)
    # Ordinal 1 (0001-01-01) was a Monday, so (ordinal - 1) % 7 is 5 or 6 at weekends.
    weekday = (all_days - 1) % 7
    is_bd = (weekday < 5).astype(np.int64)
    if holidays:
        hol = np.fromiter(holidays, dtype=np.int64)
        hol = hol[(hol >= _BASE) & (hol <= _END)]
        is_bd[hol - _BASE] = 0
    bdays = all_days[is_bd == 1]
    count_le = np.cumsum(is_bd)
    # Guards at the table edges: the first/last business day stands in past the range.
    following = bdays[np.clip(count_le - is_bd, 0, len(bdays) - 1)]
    preceding = bdays[np.clip(count_le - 1, 0, len(bdays) - 1)]
    month = split_ymd(all_days)[1]
    same_f = split_ymd(following)[1] == month
    same_p = split_ymd(preceding)[1] == month
    return {
        "is_bd": is_bd,
        "bdays": bdays,
        "count_le": count_le,
        "following": following,
        "preceding": preceding,
        "modified_following": np.where(same_f, following, preceding),
        "modified_preceding": np.where(same_p, preceding, following),
    }


@lru_cache(maxsize=64)
def _named(name: str) -> Calendar:
    days = _named_holidays(name, range(FIRST_YEAR, LAST_YEAR + 1))
    return Calendar(name, frozenset(d.toordinal() for d in days))


def named_calendar(spec: str) -> Calendar:
    """A named calendar, or a joint one written with '+' (e.g. "NewYork+London")."""
    parts = [p.strip() for p in spec.split("+") if p.strip()]
    if not parts:
        raise PricingInputError("calendar", "empty calendar name")
    if len(parts) == 1:
        return _named(parts[0])
    return joint_calendar([_named(p) for p in parts])


def joint_calendar(calendars: Iterable[Calendar]) -> Calendar:
    """A day is a holiday if it is a holiday in any of ``calendars``."""
    cals = list(calendars)
    hol: set[int] = set()
    for cal in cals:
        hol |= cal.holidays
    return _cached(" + ".join(c.name for c in cals), frozenset(hol))


def explicit_calendar(holidays: Iterable[dt.date], name: str = "explicit") -> Calendar:
    """Weekends plus exactly the given holiday dates."""
    return _cached(name, frozenset(d.toordinal() for d in holidays))


_CACHE: dict[tuple[str, frozenset[int]], Calendar] = {}


def _cached(name: str, holidays: frozenset[int]) -> Calendar:
    # The same holidays give the same tables: sharing the object avoids rebuilding them.
    key = (name, holidays)
    cal = _CACHE.get(key)
    if cal is None:
        if len(_CACHE) > 256:
            _CACHE.clear()
        cal = _CACHE[key] = Calendar(name, holidays)
    return cal
