"""Day-count fractions, vectorised over arrays of start and end day numbers.

ACT/360, ACT/365F, 30/360 (bond basis, ISDA), 30E/360 (Eurobond) and ACT/ACT (ISDA), with
QuantLib's definitions so that accruals agree with it to the last bit. Pure arithmetic: this
module must never adjust dates for holidays (``calendars`` does) or read a clock.
"""

from __future__ import annotations

import enum

import numpy as np

from pricing.dates import FloatArray, IntArray, split_ymd, ymd_to_ordinal
from pricing.errors import PricingInputError


class DayCount(enum.Enum):
    """A day-count convention."""

    ACT_360 = "ACT/360"
    ACT_365F = "ACT/365F"
    THIRTY_360 = "30/360"
    THIRTY_E_360 = "30E/360"
    ACT_ACT_ISDA = "ACT/ACT"

    @classmethod
    def parse(cls, text: str, field: str = "day_count") -> DayCount:
        """Parse a day-count name; common spellings are accepted."""
        key = text.strip().upper().replace(" ", "").replace("ACTUAL", "ACT")
        aliases = {
            "ACT/360": cls.ACT_360,
            "A360": cls.ACT_360,
            "ACT/365F": cls.ACT_365F,
            "ACT/365FIXED": cls.ACT_365F,
            "ACT/365": cls.ACT_365F,
            "A365F": cls.ACT_365F,
            "30/360": cls.THIRTY_360,
            "30/360BONDBASIS": cls.THIRTY_360,
            "30/360ISDA": cls.THIRTY_360,
            "30U/360": cls.THIRTY_360,
            "30E/360": cls.THIRTY_E_360,
            "30/360EUROBOND": cls.THIRTY_E_360,
            "ACT/ACT": cls.ACT_ACT_ISDA,
            "ACT/ACTISDA": cls.ACT_ACT_ISDA,
        }
        if key not in aliases:
            known = ", ".join(m.value for m in cls)
            raise PricingInputError(field, f"unknown day count {text!r} ({known})")
        return aliases[key]

    def fraction(self, start: IntArray, end: IntArray) -> FloatArray:
        """Year fraction from each ``start`` to each ``end``."""
        start = np.asarray(start, dtype=np.int64)
        end = np.asarray(end, dtype=np.int64)
        if self is DayCount.ACT_360:
            return (end - start) / 360.0
        if self is DayCount.ACT_365F:
            return (end - start) / 365.0
        if self is DayCount.ACT_ACT_ISDA:
            return _act_act_isda(start, end)
        y1, m1, d1 = split_ymd(start)
        y2, m2, d2 = split_ymd(end)
        if self is DayCount.THIRTY_360:
            # QuantLib Thirty360(BondBasis): D1 31 -> 30; D2 31 -> 30 only if D1 is now 30.
            d1 = np.where(d1 == 31, 30, d1)
            d2 = np.where((d2 == 31) & (d1 == 30), 30, d2)
        else:
            d1 = np.minimum(d1, 30)
            d2 = np.minimum(d2, 30)
        days = 360 * (y2 - y1) + 30 * (m2 - m1) + (d2 - d1)
        return np.asarray(days / 360.0, dtype=np.float64)


def _act_act_isda(start: IntArray, end: IntArray) -> FloatArray:
    sign = np.where(end < start, -1.0, 1.0)
    lo = np.minimum(start, end)
    hi = np.maximum(start, end)
    y1, _, _ = split_ymd(lo)
    y2, _, _ = split_ymd(hi)
    one = np.ones_like(y1)
    jan1_next = ymd_to_ordinal(y1 + 1, one, one)
    jan1_last = ymd_to_ordinal(y2, one, one)
    len1 = jan1_next - ymd_to_ordinal(y1, one, one)
    len2 = ymd_to_ordinal(y2 + 1, one, one) - jan1_last
    # QuantLib's order of operations, so that results agree bit for bit.
    total = (y2 - y1 - 1).astype(np.float64)
    total = total + (jan1_next - lo) / len1
    total = total + (hi - jan1_last) / len2
    return np.asarray(np.where(hi == lo, 0.0, sign * total), dtype=np.float64)
