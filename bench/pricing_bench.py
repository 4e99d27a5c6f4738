"""Pricing benchmark: vectorised numpy library against QuantLib in the same run.

Not a test. Two workloads on the spec's late-2007 USD curve (single curve, log-linear DF):

1. NPV of N swaps (default 100,000: seasoned, spot and forward-starting, 1 to 30 years,
   both sides, about 30,000 distinct schedules) off one curve, schedule generation included;
2. RCV (same coupon) of M defaulted positions (default 10,000), curve builds included.

QuantLib prices a random sample of the same swaps (schedule, swap and NPV per swap, curve
built once) and its time is scaled to per-swap throughput; the sample's numbers are checked
against ours (NPV within 0.01 per 10 million notional). Run::

    python -m bench.pricing_bench [--quick] [--json]

Writes ``pricing.json``, ``pricing.md`` and ``pricing.png`` (``bench.plots``) under
``bench/out/``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import time
from typing import Any

import numpy as np

from pricing.bootstrap import CurveSpec, Quote
from pricing.calendars import explicit_calendar
from pricing.conventions import Tenor, usd_libor_3m
from pricing.conversion import RcvConvention, convert
from pricing.dates import add_months
from pricing.market import Market
from pricing.risk import BumpedMarkets
from pricing.swaps import SwapBook, layout, price

VALUATION = dt.date(2007, 12, 12)
LEVELS: list[tuple[str, str, float]] = [
    ("deposit", "3M", 0.049),
    ("fra", "3Mx6M", 0.047),
    ("fra", "6Mx9M", 0.0455),
    ("fra", "9Mx12M", 0.0445),
    ("swap", "2Y", 0.044),
    ("swap", "3Y", 0.0445),
    ("swap", "4Y", 0.0455),
    ("swap", "5Y", 0.0465),
    ("swap", "7Y", 0.0482),
    ("swap", "10Y", 0.05),
    ("swap", "12Y", 0.0508),
    ("swap", "15Y", 0.0516),
    ("swap", "20Y", 0.0522),
    ("swap", "30Y", 0.0525),
]
FIXING = 0.0485
TENORS_MONTHS = np.array([12, 24, 36, 48, 60, 84, 120, 144, 180, 240, 300, 360])


def _quotes() -> tuple[Quote, ...]:
    out = []
    for kind, tenor, rate in LEVELS:
        if kind == "fra":
            a, b = tenor.split("x")
            out.append(Quote("fra", rate, start=Tenor.parse(a), end=Tenor.parse(b)))
        else:
            out.append(Quote(kind, rate, tenor=Tenor.parse(tenor)))
    return tuple(out)


def _ql_calendar() -> Any:
    import QuantLib as ql  # noqa: N813

    return ql.JointCalendar(
        ql.UnitedStates(ql.UnitedStates.Settlement), ql.UnitedKingdom(ql.UnitedKingdom.Exchange)
    )


def _our_calendar(qcal: Any) -> Any:
    import QuantLib as ql  # noqa: N813

    # QuantLib's own holiday list, so that both libraries see the same business days.
    days = ql.Calendar.holidayList(qcal, ql.Date(1, 1, 1990), ql.Date(31, 12, 2060))
    return explicit_calendar([dt.date(d.year(), d.month(), d.dayOfMonth()) for d in days])


def make_book(n: int, seed: int, market: Market, forward_days: int = 2 * 365) -> SwapBook:
    """Seasoned (up to 5y), spot and forward-starting swaps, 1-30y, both sides."""
    rng = np.random.default_rng(seed)
    conv = market.projection.convention
    val = market.valuation
    # Oversample: swaps that matured before the valuation date are dropped below.
    start = val + rng.integers(-5 * 365, forward_days + 1, size=2 * n)
    start = conv.calendar.adjust(start, conv.business_day)
    months = rng.choice(TENORS_MONTHS, size=2 * n)
    end = add_months(start, months, np.zeros(2 * n, dtype=bool))
    alive = np.flatnonzero(end > val + 30)[: int(n * 1.05)]
    start, end = start[alive], end[alive]
    k = len(start)
    fixing = np.where(start < val + 5, FIXING, np.nan)
    book = SwapBook.of(
        conv,
        start,
        end,
        rng.choice([1e6, 5e6, 1e7, 2.5e7, 1e8], size=k),
        rng.uniform(0.02, 0.07, size=k),
        rng.choice([1.0, -1.0], size=k),
        fixing=fixing,
    )
    return _drop_double_fixed(book, val, n)


def _drop_double_fixed(book: SwapBook, val: int, n: int) -> SwapBook:
    from pricing.legs import build_legs

    legs = build_legs(book.convention, book.start, book.maturity)
    fixed = (legs.fl_fixing < val) & (legs.fl_pay > val)
    count = np.bincount(legs.fl_owner, weights=fixed.astype(float), minlength=len(book))
    # A stored fixing only where a period fixed before today: today's fixing is forecast on
    # both sides (QuantLib gets no fixing for today).
    book = book.replace(fixing=np.where(count == 1, FIXING, np.nan))
    return book.take(np.flatnonzero(count <= 1)[:n])


class _QuantLib:
    """The same market in QuantLib, and per-swap pricing the way a QuantLib user would."""

    def __init__(self, qcal: Any) -> None:
        import QuantLib as ql  # noqa: N813

        self.ql = ql
        self.cal = qcal
        today = ql.Date(VALUATION.day, VALUATION.month, VALUATION.year)
        ql.Settings.instance().evaluationDate = today
        ql.IndexManager.instance().clearHistories()
        helpers: list[Any] = []
        mf = ql.ModifiedFollowing
        a360 = ql.Actual360()
        curve_index = ql.IborIndex(
            "BenchCurve", ql.Period(3, ql.Months), 2, ql.USDCurrency(), qcal, mf, False, a360
        )
        for kind, tenor, rate in LEVELS:
            q = ql.QuoteHandle(ql.SimpleQuote(rate))
            if kind == "deposit":
                helpers.append(ql.DepositRateHelper(q, ql.Period(tenor), 2, qcal, mf, False, a360))
            elif kind == "fra":
                a, b = (int(x[:-1]) for x in tenor.split("x"))
                helpers.append(ql.FraRateHelper(q, a, b, 2, qcal, mf, False, a360))
            else:
                helpers.append(
                    ql.SwapRateHelper(
                        q,
                        ql.Period(tenor),
                        qcal,
                        ql.Semiannual,
                        mf,
                        ql.Thirty360(ql.Thirty360.BondBasis),
                        curve_index,
                    )
                )
        curve = ql.PiecewiseLogLinearDiscount(today, helpers, ql.Actual365Fixed())
        curve.enableExtrapolation()
        self.handle = ql.YieldTermStructureHandle(curve)
        self.index = ql.IborIndex(
            "BenchIbor",
            ql.Period(3, ql.Months),
            2,
            ql.USDCurrency(),
            qcal,
            mf,
            False,
            a360,
            self.handle,
        )
        day = today - 200
        while day < today:
            if qcal.isBusinessDay(day):
                self.index.addFixing(day, FIXING)
            day += 1
        self.engine = ql.DiscountingSwapEngine(self.handle)
        # A defaulted swap's converted position leaves out every flow paying on or before
        # the settlement (spot) date (pricing/conversion.py, ``EXCLUDE_SETTLED``): QuantLib's
        # engine with that settlement date and flows on it counted as settled, valued today.
        spot = qcal.advance(today, 2, ql.Days)
        self.converted_engine = ql.DiscountingSwapEngine(self.handle, False, spot, today)

    def npv(
        self,
        start: int,
        end: int,
        notional: float,
        rate: float,
        side: float,
        *,
        exclude_settled: bool = False,
    ) -> float:
        ql = self.ql
        s, e = dt.date.fromordinal(int(start)), dt.date.fromordinal(int(end))
        qs, qe = ql.Date(s.day, s.month, s.year), ql.Date(e.day, e.month, e.year)
        mf = ql.ModifiedFollowing
        fixed = ql.Schedule(
            qs, qe, ql.Period(6, ql.Months), self.cal, mf, mf, ql.DateGeneration.Backward, False
        )
        flt = ql.Schedule(
            qs, qe, ql.Period(3, ql.Months), self.cal, mf, mf, ql.DateGeneration.Backward, False
        )
        kind = ql.VanillaSwap.Payer if side > 0 else ql.VanillaSwap.Receiver
        swap = ql.VanillaSwap(
            kind,
            notional,
            fixed,
            rate,
            ql.Thirty360(ql.Thirty360.BondBasis),
            flt,
            self.index,
            0.0,
            ql.Actual360(),
        )
        swap.setPricingEngine(self.converted_engine if exclude_settled else self.engine)
        return float(swap.NPV())


def run(n_swaps: int, n_rcv: int, ql_sample: int, ql_rcv_sample: int) -> dict[str, Any]:
    qcal = _ql_calendar()
    cal = _our_calendar(qcal)
    market = Market(CurveSpec(VALUATION.toordinal(), usd_libor_3m(cal), _quotes()))
    val = market.valuation
    rng = np.random.default_rng(7)

    book = make_book(n_swaps, 1, market)
    t0 = time.perf_counter()
    curves = market.build()
    t_curve = time.perf_counter() - t0
    t0 = time.perf_counter()
    values = price(book, val, curves.discount)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    lay = layout(book)
    t_layout = time.perf_counter() - t0
    t0 = time.perf_counter()
    price(book, val, curves.discount, book_layout=lay)
    t_reprice = time.perf_counter() - t0
    distinct = lay.schedules

    ref = _QuantLib(qcal)
    sample = rng.choice(len(book), size=min(ql_sample, len(book)), replace=False)
    t0 = time.perf_counter()
    ql_npv = np.array(
        [
            ref.npv(
                book.start[i], book.maturity[i], book.notional[i], book.fixed_rate[i], book.side[i]
            )
            for i in sample
        ]
    )
    t_ql = time.perf_counter() - t0
    npv_diff = np.abs(ql_npv - values.npv[sample]) / (book.notional[sample] / 1e7)

    # Worst case for the layout: every swap its own (start, maturity), spot or forward
    # starting on any day, maturing on any day up to 30 years later.
    spot0 = market.projection.convention.spot(val)
    starts = spot0 + rng.integers(0, 2 * 365, size=n_swaps)
    odd = SwapBook.of(
        market.projection.convention,
        starts,
        starts + rng.integers(30, 30 * 365, size=n_swaps),
        np.full(n_swaps, 1e7),
        rng.uniform(0.02, 0.07, size=n_swaps),
        rng.choice([1.0, -1.0], size=n_swaps),
    )
    t0 = time.perf_counter()
    odd_values = price(odd, val, curves.discount)
    t_odd = time.perf_counter() - t0
    odd_sample = rng.choice(n_swaps, size=min(ql_sample // 4, n_swaps), replace=False)
    t0 = time.perf_counter()
    odd_ql = np.array(
        [
            ref.npv(odd.start[i], odd.maturity[i], 1e7, odd.fixed_rate[i], odd.side[i])
            for i in odd_sample
        ]
    )
    t_odd_ql = time.perf_counter() - t0
    odd_diff = np.abs(odd_ql - odd_values.npv[odd_sample])

    # RCV of defaulted positions: seasoned or spot swaps converted to the next standard tenor.
    spot = market.projection.convention.spot(val)
    defaulted = make_book(n_rcv, 2, market, forward_days=0)
    # RCV alone, like QuantLib below: two valuations per position off the built curve.
    t0 = time.perf_counter()
    conv = convert(defaulted, BumpedMarkets.of(market), RcvConvention.SAME_COUPON, risk=False)
    t_rcv = time.perf_counter() - t0
    # The full conversion: + and - 1bp curve rebuilds, DV01s, residual risk and hedges.
    t0 = time.perf_counter()
    full = convert(defaulted, BumpedMarkets.of(market), RcvConvention.SAME_COUPON)
    t_full = time.perf_counter() - t0
    assert np.array_equal(full.rcv, conv.rcv)
    rsample = rng.choice(len(defaulted), size=min(ql_rcv_sample, len(defaulted)), replace=False)
    t0 = time.perf_counter()
    ql_rcv = []
    for i in rsample:
        args = (defaulted.notional[i], defaulted.fixed_rate[i], defaulted.side[i])
        v_d = ref.npv(defaulted.start[i], defaulted.maturity[i], *args, exclude_settled=True)
        v_s = ref.npv(spot, conv.standard_maturity[i], *args)
        ql_rcv.append(v_d - v_s)
    t_ql_rcv = time.perf_counter() - t0
    rcv_diff = np.abs(np.array(ql_rcv) - conv.rcv[rsample]) / (defaulted.notional[rsample] / 1e7)

    ql_per_swap = t_ql / len(sample)
    ql_per_rcv = t_ql_rcv / len(rsample)
    return {
        "machine": f"{platform.machine()} {platform.python_implementation()} "
        f"{platform.python_version()}",
        "quantlib": ref.ql.__version__,
        "npv": {
            "swaps": len(book),
            "distinct_schedules": distinct,
            "curve_build_s": round(t_curve, 4),
            "ours_s": round(t_ours, 4),
            "ours_layout_s": round(t_layout, 4),
            "ours_reprice_with_layout_s": round(t_reprice, 4),
            "ours_swaps_per_s": round(len(book) / t_ours),
            "quantlib_sample": len(sample),
            "quantlib_sample_s": round(t_ql, 4),
            "quantlib_swaps_per_s": round(1 / ql_per_swap),
            "speedup": round(ql_per_swap * len(book) / t_ours, 1),
            "worst_npv_diff_per_10mm": float(npv_diff.max()),
        },
        "npv_distinct": {
            "swaps": n_swaps,
            "distinct_schedules": len(np.unique(odd.start * (1 << 20) + odd.maturity)),
            "ours_s": round(t_odd, 4),
            "ours_swaps_per_s": round(n_swaps / t_odd),
            "quantlib_sample": len(odd_sample),
            "quantlib_swaps_per_s": round(len(odd_sample) / t_odd_ql),
            "speedup": round(t_odd_ql / len(odd_sample) * n_swaps / t_odd, 1),
            "worst_npv_diff_per_10mm": float(odd_diff.max()),
        },
        "rcv": {
            "positions": len(defaulted),
            "ours_s": round(t_rcv, 4),
            "ours_positions_per_s": round(len(defaulted) / t_rcv),
            "quantlib_sample": len(rsample),
            "quantlib_sample_s": round(t_ql_rcv, 4),
            "quantlib_positions_per_s": round(1 / ql_per_rcv),
            "speedup": round(ql_per_rcv * len(defaulted) / t_rcv, 1),
            "worst_rcv_diff_per_10mm": float(rcv_diff.max()),
            "ours_full_conversion_s": round(t_full, 4),
            "ours_full_conversion_includes": "+/-1bp curve rebuilds, DV01s, residual, hedges",
        },
        "agree": bool(max(npv_diff.max(), odd_diff.max(), rcv_diff.max()) < 0.01),
    }


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="10x smaller workloads")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    sizes = (10_000, 1_000, 500, 200) if args.quick else (100_000, 10_000, 2_000, 1_000)
    result = run(*sizes)
    lines = _lines(result)
    from bench.plots import plot
    from bench.report import write_report

    path = write_report("pricing", result, "\n\n".join(lines), None)
    plot("pricing", result, path.with_suffix(".png"))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print("\n".join(lines))


def _lines(result: dict[str, Any]) -> list[str]:
    """The printed report, one line per workload."""
    n, r, o = result["npv"], result["rcv"], result["npv_distinct"]
    return [
        f"QuantLib {result['quantlib']} on {result['machine']}",
        f"NPV  {n['swaps']:>7} swaps ({n['distinct_schedules']} schedules): "
        f"ours {n['ours_s']:.3f}s "
        f"= {n['ours_swaps_per_s']:,}/s; QuantLib {n['quantlib_swaps_per_s']:,}/s "
        f"(sample {n['quantlib_sample']}); speedup {n['speedup']}x; "
        f"worst diff {n['worst_npv_diff_per_10mm']:.2g} per 10mm",
        f"NPV  {o['swaps']:>7} swaps ({o['distinct_schedules']} schedules): "
        f"ours {o['ours_s']:.3f}s = {o['ours_swaps_per_s']:,}/s; "
        f"QuantLib {o['quantlib_swaps_per_s']:,}/s (sample {o['quantlib_sample']}); "
        f"speedup {o['speedup']}x; worst diff {o['worst_npv_diff_per_10mm']:.2g} per 10mm",
        f"RCV  {r['positions']:>7} positions: ours {r['ours_s']:.3f}s "
        f"= {r['ours_positions_per_s']:,}/s; QuantLib {r['quantlib_positions_per_s']:,}/s "
        f"(sample {r['quantlib_sample']}); speedup {r['speedup']}x; "
        f"worst diff {r['worst_rcv_diff_per_10mm']:.2g} per 10mm",
        f"     full conversion with DV01s, residual risk and hedges: "
        f"{r['ours_full_conversion_s']:.3f}s",
        "numbers agree" if result["agree"] else "NUMBERS DISAGREE",
    ]


if __name__ == "__main__":
    main()
