"""Generated markets and books shared by the QuantLib parity tests (seeded, reproducible)."""

from __future__ import annotations

import datetime as dt

import numpy as np

from pricing.bootstrap import CurveSpec
from pricing.calendars import BusinessDay, Calendar
from pricing.conventions import FloatKind, SwapConvention, usd_sofr_ois
from pricing.dates import add_months
from pricing.daycount import DayCount
from pricing.interpolation import Interpolation
from pricing.legs import build_legs
from pricing.market import Market
from pricing.swaps import SwapBook
from tests.pricing.qlref import quotes_for

IBOR_SWAP_YEARS = (2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 20, 25, 30, 40, 50)
OIS_TENORS = (
    "1M",
    "3M",
    "6M",
    "1Y",
    "2Y",
    "3Y",
    "5Y",
    "7Y",
    "10Y",
    "15Y",
    "20Y",
    "30Y",
    "40Y",
    "50Y",
)


def _shape(rng: np.random.Generator, years: float, base: float, slope: float) -> float:
    return float(base + slope * (1 - np.exp(-years / 4.0)) + rng.normal(0, 0.0004))


def random_valuation(rng: np.random.Generator, calendar: Calendar) -> int:
    day = dt.date(2004, 1, 1).toordinal() + int(rng.integers(0, 30 * 365))
    return int(calendar.adjust(np.array([day]), BusinessDay.FOLLOWING)[0])


def random_ibor_convention(rng: np.random.Generator, calendar: Calendar) -> SwapConvention:
    fixed_dc = [
        DayCount.THIRTY_360,
        DayCount.THIRTY_E_360,
        DayCount.ACT_360,
        DayCount.ACT_365F,
        DayCount.ACT_ACT_ISDA,
    ][int(rng.integers(0, 5))]
    return SwapConvention(
        calendar=calendar,
        fixed_months=int(rng.choice([6, 12])),
        fixed_day_count=fixed_dc,
        float_months=int(rng.choice([3, 6])),
        float_day_count=[DayCount.ACT_360, DayCount.ACT_365F][int(rng.integers(0, 2))],
    )


def random_market(
    rng: np.random.Generator,
    valuation: int,
    convention: SwapConvention,
    interpolation: Interpolation,
    dual: bool,
    swap_years: tuple[int, ...] = IBOR_SWAP_YEARS,
    ois_tenors: tuple[str, ...] = OIS_TENORS,
) -> Market:
    """A projection curve of a deposit, FRAs to a year and swaps of ``swap_years``; if
    ``dual``, discounted off an OIS curve of ``ois_tenors``."""
    base = float(rng.uniform(0.002, 0.06))
    slope = float(rng.uniform(-0.015, 0.025))
    m = convention.float_months
    levels: list[tuple[str, str, float]] = [("deposit", f"{m}M", _shape(rng, m / 12, base, slope))]
    for start in range(m, 12, m):
        levels.append(("fra", f"{start}Mx{start + m}M", _shape(rng, (start + m) / 12, base, slope)))
    levels += [("swap", f"{y}Y", _shape(rng, y, base, slope)) for y in swap_years]
    projection = CurveSpec(valuation, convention, quotes_for(levels), interpolation)
    if not dual:
        return Market(projection)
    ois = usd_sofr_ois(convention.calendar)
    spread = float(rng.uniform(0.0005, 0.004))
    ois_levels = [("swap", t, _shape(rng, _years(t), base - spread, slope)) for t in ois_tenors]
    discount = CurveSpec(valuation, ois, quotes_for(ois_levels), interpolation)
    return Market(projection, discount)


def ois_market(
    rng: np.random.Generator, valuation: int, calendar: Calendar, interpolation: Interpolation
) -> Market:
    base = float(rng.uniform(0.002, 0.06))
    slope = float(rng.uniform(-0.015, 0.025))
    levels = [("swap", t, _shape(rng, _years(t), base, slope)) for t in OIS_TENORS]
    return Market(CurveSpec(valuation, usd_sofr_ois(calendar), quotes_for(levels), interpolation))


def _years(tenor: str) -> float:
    return int(tenor[:-1]) / (12 if tenor.endswith("M") else 1)


def random_book(
    rng: np.random.Generator,
    valuation: int,
    convention: SwapConvention,
    n: int,
    seasoned: bool = True,
) -> SwapBook:
    """Spot, seasoned and forward-starting swaps from 1 month to 30 years, both sides."""
    spot = convention.spot(valuation)
    starts, ends = [], []
    kinds = rng.integers(0, 3, size=n)
    for k in kinds:
        if k == 0 or (not seasoned and k == 1):
            start = spot
        elif k == 1:
            start = valuation - int(rng.integers(1, 5 * 365))
        else:
            start = valuation + int(rng.integers(3, 5 * 365))
        if rng.random() < 0.5:
            months = int(rng.choice([1, 2, 3, 6, 9, 12, 18, 24, 36, 60, 84, 120, 180, 240, 360]))
            end = int(add_months(np.array([start]), np.array([months]), np.array([False]))[0])
        else:
            end = start + int(rng.integers(30, 30 * 365))
        end = max(end, valuation + 20)
        starts.append(start)
        ends.append(end)
    notional = rng.choice([1e6, 5e6, 1e7, 2.5e7, 1e8], size=n)
    rate = rng.uniform(0.0, 0.08, size=n)
    side = rng.choice([1.0, -1.0], size=n)
    # QuantLib keeps one fixing per index and date, so a book shares one fixing level.
    level = float(rng.uniform(0.001, 0.07))
    fixing = np.where(np.array(starts) < valuation + 5, level, np.nan)
    book = SwapBook.of(convention, starts, ends, notional, rate, side, fixing=fixing)
    return _drop_double_fixed(book, valuation)


def _drop_double_fixed(book: SwapBook, valuation: int) -> SwapBook:
    # A swap valued inside the two days between a period's fixing and its start has two
    # fixed-but-unpaid periods; a single stored fixing cannot describe it, so skip those.
    legs = build_legs(book.convention, book.start, book.maturity)
    if legs.kind is FloatKind.IBOR:
        fixed = (legs.fl_fixing < valuation) & (legs.fl_pay > valuation)
    else:
        fixed = (legs.fl_start < valuation) & (legs.fl_pay > valuation)
    count = np.bincount(legs.fl_owner, weights=fixed.astype(float), minlength=len(book))
    keep = np.flatnonzero(count <= 1)
    # Only a period fixed before today carries a stored fixing: today's fixing is forecast
    # (QuantLib keeps one fixing per date, so a stored fixing for today would leak into
    # every swap fixing today).
    book = book.replace(fixing=np.where(count == 1, book.fixing, np.nan))
    return book.take(keep)
