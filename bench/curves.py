"""Curve-building benchmark: our bootstrap against QuantLib's, per interpolation, same run.

Not a test. Curve sets like a pricing service's requests (seeded, reproducible): single-curve
IBOR (a deposit, FRAs and 8 to 17 swaps, 3M or 6M floating, random fixed/floating day
counts), single-curve OIS (10 to 14 swaps) and dual curves (an OIS discount curve, then an
IBOR curve projected off it), 10 to 21 instruments per curve, New York + London holidays
taken from QuantLib's own list so both libraries see the same business days. For each of
the three interpolations both libraries build every set from its quotes, conventions and
dates (schedules included) in each round, ours then QuantLib's, rounds repeated; the figure
is the best round of each and their ratio (``speedup`` = QuantLib's time / ours), with the
range of the per-round ratios. The same run checks that the discount factors agree.

A second workload is DV01's: a curve set and its +1bp / -1bp rebuilds (every quote moved).
Ours shares the bootstrap workspace between the three (``Market.bumped``); QuantLib moves
its quotes and recalculates. Three cold builds of ours are timed too, for comparison.

Writes ``curves.json``, ``curves.md`` and ``curves.png`` (``bench.plots``, the ``bench`` extra)
under ``bench/out/`` unless told otherwise. This module measures and reports; it must never
change how curves are built.
"""

from __future__ import annotations

import datetime as dt
import gc
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from pricing.bootstrap import CurveSpec, Quote
from pricing.calendars import BusinessDay, Calendar, explicit_calendar
from pricing.conventions import SwapConvention, Tenor, usd_sofr_ois
from pricing.daycount import DayCount
from pricing.interpolation import Interpolation
from pricing.market import Market
from pricing.risk import BumpedMarkets

IBOR_SWAP_YEARS = (2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 15, 20, 25, 30, 40, 50)
OIS_TENORS = (
    "1M", "3M", "6M", "1Y", "2Y", "3Y", "5Y", "7Y", "10Y", "15Y", "20Y", "30Y", "40Y", "50Y"
)  # fmt: skip
KINDS = ("single_ibor", "dual", "single_ois")
#: Discount factors, absolute, against QuantLib's curves bootstrapped to REFERENCE_ACCURACY.
DF_TOLERANCE = 1e-12
#: QuantLib's default stops its bootstrap at 1e-12 in its own unknowns (a zero rate for
#: linear zero): up to ~5e-11 in a 50-year discount factor (2.9e-11 measured). The numbers
#: are compared with QuantLib's curves solved tighter (its timings are of its default).
REFERENCE_ACCURACY = 1e-14
#: How far past each curve's last pillar discount factors are compared (extrapolation).
PAST_LAST_PILLAR_DAYS = 10 * 365


@dataclass(frozen=True)
class CurveBenchConfig:
    """How many curve sets per interpolation, rounds, and the seed of the generated sets."""

    sets: int = 30
    rounds: int = 5
    seed: int = 2026

    @classmethod
    def quick(cls) -> CurveBenchConfig:
        """A run of a few seconds."""
        return cls(sets=9, rounds=3)

    @classmethod
    def tiny(cls) -> CurveBenchConfig:
        """For the smoke test."""
        return cls(sets=3, rounds=1)


# --- the curve sets ------------------------------------------------------------------------


def quantlib_calendar() -> Any:
    """New York (Federal Reserve) + London (exchange), as QuantLib knows them."""
    import QuantLib as ql  # noqa: N813

    return ql.JointCalendar(
        ql.UnitedStates(ql.UnitedStates.FederalReserve), ql.UnitedKingdom(ql.UnitedKingdom.Exchange)
    )


def our_calendar(qcal: Any) -> Calendar:
    """Our explicit-list calendar holding exactly QuantLib's holidays."""
    import QuantLib as ql  # noqa: N813

    days = ql.Calendar.holidayList(qcal, ql.Date(1, 1, 1980), ql.Date(31, 12, 2100))
    return explicit_calendar(
        [dt.date(d.year(), d.month(), d.dayOfMonth()) for d in days], "NewYork+London"
    )


def _level(rng: np.random.Generator, years: float, base: float, slope: float) -> float:
    return float(base + slope * (1 - np.exp(-years / 4.0)) + rng.normal(0, 0.0004))


def _ibor_spec(
    rng: np.random.Generator,
    valuation: int,
    calendar: Calendar,
    interpolation: Interpolation,
    base: float,
    slope: float,
) -> CurveSpec:
    conv = SwapConvention(
        calendar=calendar,
        fixed_months=int(rng.choice([6, 12])),
        fixed_day_count=[
            DayCount.THIRTY_360,
            DayCount.THIRTY_E_360,
            DayCount.ACT_360,
            DayCount.ACT_365F,
            DayCount.ACT_ACT_ISDA,
        ][int(rng.integers(0, 5))],
        float_months=int(rng.choice([3, 6])),
        float_day_count=[DayCount.ACT_360, DayCount.ACT_365F][int(rng.integers(0, 2))],
    )
    m = conv.float_months
    quotes = [Quote("deposit", _level(rng, m / 12, base, slope), tenor=Tenor(months=m))]
    for start in range(m, 12, m):
        rate = _level(rng, (start + m) / 12, base, slope)
        quotes.append(Quote("fra", rate, start=Tenor(months=start), end=Tenor(months=start + m)))
    count = int(rng.integers(8, len(IBOR_SWAP_YEARS) + 1))
    years = sorted(rng.choice(IBOR_SWAP_YEARS, size=count, replace=False))
    quotes += [
        Quote("swap", _level(rng, y, base, slope), tenor=Tenor(months=12 * int(y))) for y in years
    ]
    return CurveSpec(valuation, conv, tuple(quotes), interpolation)


def _ois_spec(
    rng: np.random.Generator,
    valuation: int,
    calendar: Calendar,
    interpolation: Interpolation,
    base: float,
    slope: float,
) -> CurveSpec:
    # Any tenors: a dual set's discount curve may end before the swaps projected off it.
    count = int(rng.integers(10, len(OIS_TENORS) + 1))
    picked = sorted(rng.choice(len(OIS_TENORS), size=count, replace=False))
    quotes = []
    for i in picked:
        tenor = Tenor.parse(OIS_TENORS[i])
        quotes.append(Quote("swap", _level(rng, tenor.years, base, slope), tenor=tenor))
    return CurveSpec(valuation, usd_sofr_ois(calendar), tuple(quotes), interpolation)


def curve_sets(
    config: CurveBenchConfig, calendar: Calendar, interpolation: Interpolation
) -> list[tuple[str, Market]]:
    """The generated markets (the same instruments and levels for every interpolation)."""
    out = []
    for k in range(config.sets):
        rng = np.random.default_rng((config.seed, k))
        day = dt.date(2004, 1, 1).toordinal() + int(rng.integers(0, 30 * 365))
        valuation = int(calendar.adjust(np.array([day]), BusinessDay.FOLLOWING)[0])
        base = float(rng.uniform(0.002, 0.06))
        slope = float(rng.uniform(-0.015, 0.025))
        kind = KINDS[k % len(KINDS)]
        if kind == "single_ibor":
            market = Market(_ibor_spec(rng, valuation, calendar, interpolation, base, slope))
        elif kind == "single_ois":
            market = Market(_ois_spec(rng, valuation, calendar, interpolation, base, slope))
        else:
            spread = float(rng.uniform(0.0005, 0.004))
            disc = _ois_spec(rng, valuation, calendar, interpolation, base - spread, slope)
            proj = _ibor_spec(rng, valuation, calendar, interpolation, base, slope)
            market = Market(proj, disc)
        out.append((kind, market))
    return out


# --- the two libraries ---------------------------------------------------------------------


def build_ours(market: Market) -> Any:
    """A fresh build, as for a new request (a new Market: nothing cached)."""
    return Market(market.projection, market.discount).build()


class QuantLibCurves:
    """QuantLib's build of a market's curves, from quotes and conventions, and its bumps."""

    def __init__(self, market: Market, qcal: Any, accuracy: float | None = None) -> None:
        import QuantLib as ql  # noqa: N813

        from bench.quantlib_curves import curve_index, make_curve, make_helpers, qdate

        ql.Settings.instance().evaluationDate = qdate(market.valuation)
        self.quotes: list[Any] = []
        self.curves: list[Any] = []
        disc_handle = None
        if market.discount is not None:
            disc_handle = ql.RelinkableYieldTermStructureHandle()
            ois = ql.OvernightIndex("CurveOIS", 0, ql.USDCurrency(), qcal, ql.Actual360())
            quotes, helpers = make_helpers(market.discount, qcal, None, ois, None)
            curve = make_curve(market.discount, helpers, accuracy)
            disc_handle.linkTo(curve)
            self.quotes += quotes
            self.curves.append(curve)
        spec = market.projection
        ois = ql.OvernightIndex("CurveON", 0, ql.USDCurrency(), qcal, ql.Actual360())
        quotes, helpers = make_helpers(spec, qcal, curve_index(spec, qcal), ois, disc_handle)
        self.quotes += quotes
        self.curves.append(make_curve(spec, helpers, accuracy))
        self.calculate()

    def calculate(self) -> None:
        """Bootstrap (QuantLib is lazy: asking for the nodes runs it)."""
        for curve in self.curves:
            curve.nodes()

    def bump(self, shift: float) -> None:
        """Move every quote by ``shift`` and rebuild."""
        for q in self.quotes:
            q.setValue(q.value() + shift)
        self.calculate()

    def discount(self, days: np.ndarray, which: int) -> np.ndarray:
        """Discount factors of curve ``which`` (0 discount / single, -1 projection)."""
        from bench.quantlib_curves import qdate

        curve = self.curves[which]
        return np.array([curve.discount(qdate(int(d))) for d in days])


# --- measuring ------------------------------------------------------------------------------


#: The timed workloads, in the order each set runs them in a round.
WORKLOADS = ("ours", "quantlib", "risk_ours", "risk_ours_cold", "risk_quantlib")
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def _agreement(markets: list[tuple[str, Market]], qcal: Any, accuracy: float | None) -> float:
    # Worst |DF ours - DF QuantLib| over both curves of every set, weekly to ten years past
    # the last pillar, against QuantLib bootstrapped to ``accuracy`` (None: its default).
    worst = 0.0
    for _, market in markets:
        ours = build_ours(market)
        theirs = QuantLibCurves(market, qcal, accuracy)
        pairs = [(ours.projection, -1)]
        if market.discount is not None:
            pairs.append((ours.discount, 0))
        for curve, which in pairs:
            end = int(curve.pillar_days[-1]) + PAST_LAST_PILLAR_DAYS
            days = np.arange(market.valuation + 1, end + 1, 7)
            diff = np.abs(curve.df(days) - theirs.discount(days, which))
            worst = max(worst, float(diff.max()))
    return worst


def run_curves(
    config: CurveBenchConfig, log: Callable[[str], None] = lambda _m: None
) -> dict[str, Any]:
    """Measure every interpolation; returns the report's data."""
    import QuantLib as ql  # noqa: N813

    from bench.report import environment

    qcal = quantlib_calendar()
    calendar = our_calendar(qcal)
    sets = {m: curve_sets(config, calendar, m) for m in Interpolation}
    instruments = [
        len(s.quotes)
        for _, market in sets[Interpolation.LOG_LINEAR_DISCOUNT]
        for s in (market.projection, market.discount)
        if s is not None
    ]
    # times[method][clock][workload] = one total per round.
    times: dict[str, dict[str, dict[str, list[float]]]] = {
        m.value: {c: {w: [] for w in WORKLOADS} for c in CLOCKS} for m in Interpolation
    }

    def ours_risk(market: Market) -> None:
        bumped = BumpedMarkets.of(Market(market.projection, market.discount))
        bumped.base.build(), bumped.up.build(), bumped.down.build()

    def ours_cold(market: Market) -> None:
        build_ours(market)
        build_ours(market.bumped(1e-4))
        build_ours(market.bumped(-1e-4))

    def ql_risk(market: Market) -> None:
        curves = QuantLibCurves(market, qcal)
        curves.bump(1e-4)
        curves.bump(-2e-4)

    work: dict[str, Callable[[Market], object]] = {
        "ours": build_ours,
        "quantlib": lambda market: QuantLibCurves(market, qcal),
        "risk_ours": ours_risk,
        "risk_ours_cold": ours_cold,
        "risk_quantlib": ql_risk,
    }
    for r in range(config.rounds):
        log(f"round {r + 1}/{config.rounds}")
        for method in Interpolation:
            # Set by set, ours then QuantLib's back to back, so that a burst of load from
            # elsewhere on the machine lands on both sides alike.
            total = {c: dict.fromkeys(WORKLOADS, 0.0) for c in CLOCKS}
            gc.collect()
            gc.disable()
            try:
                for _, market in sets[method]:
                    for name in WORKLOADS:
                        start = {c: clock() for c, clock in CLOCKS.items()}
                        work[name](market)
                        for c, clock in CLOCKS.items():
                            total[c][name] += clock() - start[c]
            finally:
                gc.enable()
            for c in CLOCKS:
                for name in WORKLOADS:
                    times[method.value][c][name].append(total[c][name])

    results: list[dict[str, Any]] = []
    for method in Interpolation:
        entry: dict[str, Any] = {"interpolation": method.value}
        for c in CLOCKS:
            t = times[method.value][c]
            best = {name: min(t[name]) for name in WORKLOADS}
            build_ratios = [q / o for q, o in zip(t["quantlib"], t["ours"], strict=True)]
            risk_ratios = [q / o for q, o in zip(t["risk_quantlib"], t["risk_ours"], strict=True)]
            entry[c] = {
                **{f"{name}_ms_per_set": 1e3 * best[name] / config.sets for name in WORKLOADS},
                "speedup": best["quantlib"] / best["ours"],
                "speedup_rounds": [min(build_ratios), max(build_ratios)],
                "risk_speedup": best["risk_quantlib"] / best["risk_ours"],
                "risk_speedup_rounds": [min(risk_ratios), max(risk_ratios)],
            }
        entry["worst_df_diff"] = _agreement(sets[method], qcal, REFERENCE_ACCURACY)
        entry["worst_df_diff_quantlib_default"] = _agreement(sets[method], qcal, None)
        entry["rounds"] = times[method.value]
        results.append(entry)
    return {
        "bench": "curves",
        "config": asdict(config),
        "environment": {**environment(), "quantlib": ql.__version__, "numpy": np.__version__},
        "machine": platform.machine(),
        "sets": config.sets,
        "curves": len(instruments),
        "kinds": {
            k: sum(1 for kind, _ in sets[Interpolation.LOG_LINEAR_DISCOUNT] if kind == k)
            for k in KINDS
        },
        "instruments_per_curve": [min(instruments), max(instruments)],
        "results": results,
        "agree": all(r["worst_df_diff"] <= DF_TOLERANCE for r in results),
    }


# --- reporting ------------------------------------------------------------------------------


def markdown(data: dict[str, Any]) -> str:
    """The report as Markdown."""
    from bench.report import md_table

    env = data["environment"]
    lo, hi = data["instruments_per_curve"]

    def ratio(x: dict[str, Any], key: str) -> str:
        low, high = x[f"{key}_rounds"]
        return f"**{x[key]:.2f}x** ({low:.2f}-{high:.2f})"

    rows = []
    for r in data["results"]:
        w, c = r["wall"], r["cpu"]
        rows.append(
            [
                r["interpolation"],
                f"{w['ours_ms_per_set']:.2f} ms",
                f"{w['quantlib_ms_per_set']:.2f} ms",
                ratio(w, "speedup"),
                ratio(c, "speedup"),
                f"{w['risk_ours_ms_per_set']:.2f} ms (cold {w['risk_ours_cold_ms_per_set']:.2f})",
                f"{w['risk_quantlib_ms_per_set']:.2f} ms",
                ratio(w, "risk_speedup"),
                ratio(c, "risk_speedup"),
                f"{r['worst_df_diff']:.1e} (at its default "
                f"{r['worst_df_diff_quantlib_default']:.1e})",
            ]
        )
    header = [
        "interpolation",
        "ours / set",
        "QuantLib / set",
        "speedup, wall (rounds)",
        "speedup, CPU (rounds)",
        "ours, base ±1bp",
        "QuantLib, base ±1bp",
        "±1bp speedup, wall",
        "±1bp speedup, CPU",
        "worst DF diff",
    ]
    return "\n".join(
        [
            "# Curve building: ours vs QuantLib (same run)",
            "",
            f"{data['sets']} curve sets per interpolation ({data['curves']} curves, "
            f"{lo}-{hi} instruments each; {data['kinds']}), best of "
            f"{data['config']['rounds']} rounds; QuantLib {env['quantlib']}, numpy "
            f"{env['numpy']}, Python {env['python']}, {env['cpu']} ({env['cores']} cores), "
            f"{env['when']}.",
            "",
            md_table(header, rows),
            "",
            "Times are per curve set, best round of each library (wall clock). Speedup = "
            "QuantLib's time / ours, best round against best round, and in brackets the "
            "lowest and highest ratio within one round; `CPU` is the same on process CPU "
            "time (what a shared machine's load disturbs least). `base ±1bp`: a curve set and "
            "its rebuilds with every quote 1bp up and down (DV01); ours shares the bootstrap "
            "workspace, `cold` is three fresh builds. "
            f"Discount factors {'agree' if data['agree'] else 'DISAGREE'} "
            f"(tolerance {DF_TOLERANCE:g}, weekly to {PAST_LAST_PILLAR_DAYS // 365} years past "
            f"each curve's last pillar) with QuantLib's curves bootstrapped to "
            f"{REFERENCE_ACCURACY:g}; `at its default` is against QuantLib's default accuracy, "
            "which stops at 1e-12 in its own unknowns.",
        ]
    )
