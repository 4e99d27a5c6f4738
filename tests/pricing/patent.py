"""The spec's reference case (late-2007 USD curve, valuation 2007-12-12), built in code."""

from __future__ import annotations

import datetime as dt

from pricing.bootstrap import CurveSpec
from pricing.calendars import Calendar, named_calendar
from pricing.conventions import usd_libor_3m
from pricing.market import Market
from pricing.swaps import SwapBook
from tests.pricing.qlref import quotes_for

VALUATION = dt.date(2007, 12, 12).toordinal()
SPOT = dt.date(2007, 12, 14).toordinal()
LEVELS = [
    ("deposit", "3M", 0.049),
    ("fra", "3Mx6M", 0.047),
    ("fra", "6Mx9M", 0.0455),
    ("fra", "9Mx12M", 0.0445),
] + [
    ("swap", f"{y}Y", r / 100)
    for y, r in [
        (2, 4.40), (3, 4.45), (4, 4.55), (5, 4.65), (7, 4.82),
        (10, 5.00), (12, 5.08), (15, 5.16), (20, 5.22), (30, 5.25),
    ]
]  # fmt: skip


def market(calendar: Calendar | None = None) -> Market:
    cal = calendar or named_calendar("NewYork+London")
    return Market(CurveSpec(VALUATION, usd_libor_3m(cal), quotes_for(LEVELS)))


def table_book(calendar: Calendar | None = None) -> SwapBook:
    """10y standard, 9.5y defaulted and 9.5y->10y forward, payer 5.15% on 10mm."""
    cal = calendar or named_calendar("NewYork+London")
    d = dt.date
    return SwapBook.of(
        usd_libor_3m(cal),
        [SPOT, SPOT, d(2017, 6, 14).toordinal()],
        [d(2017, 12, 14).toordinal(), d(2017, 6, 14).toordinal(), d(2017, 12, 14).toordinal()],
        [1e7] * 3,
        [0.0515] * 3,
        [1.0] * 3,
    )
