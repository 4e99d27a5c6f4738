"""Bootstrapping discount curves from market quotes.

Instruments: deposits, FRAs, par swaps (IBOR or OIS, by the convention's floating kind).
Pillars sit at each instrument's last relevant date (QuantLib's default), in increasing
order; each pillar's discount factor is solved so that its instrument reprices to its quote
(secant iteration to machine precision). For a non-local interpolation (monotone convex)
the pass is repeated until no pillar moves, so that every instrument reprices on the final
curve. With a ``discount`` curve given (OIS discounting), swaps are discounted on it while
the curve being built only projects. This module must never price portfolios.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from pricing.conventions import SwapConvention, Tenor
from pricing.curve import Curve, curve_id, year_fraction
from pricing.dates import FloatArray, from_ordinal
from pricing.errors import PricingInputError
from pricing.interpolation import Interpolation
from pricing.legs import Legs, build_legs
from pricing.swaps import par_rates_for_bootstrap

INSTRUMENTS = ("deposit", "fra", "swap")


@dataclass(frozen=True)
class Quote:
    """One market quote: a deposit or swap of ``tenor``, or an FRA from ``start`` to ``end``."""

    instrument: str
    rate: float
    tenor: Tenor | None = None
    start: Tenor | None = None
    end: Tenor | None = None

    def __post_init__(self) -> None:
        if self.instrument not in INSTRUMENTS:
            raise PricingInputError("instrument", f"unknown instrument {self.instrument!r}")
        if self.instrument == "fra":
            if self.start is None or self.end is None:
                raise PricingInputError("fra", "an FRA needs start and end tenors")
            if self.end.months <= self.start.months:
                raise PricingInputError("end", "an FRA must end after it starts")
        elif self.tenor is None:
            raise PricingInputError("tenor", f"a {self.instrument} needs a tenor")
        if not np.isfinite(self.rate):
            raise PricingInputError("rate", "must be a finite number")

    @property
    def label(self) -> str:
        """Short name such as "deposit 3M", "fra 3Mx6M", "swap 10Y"."""
        if self.instrument == "fra":
            return f"fra {self.start}x{self.end}"
        return f"{self.instrument} {self.tenor}"

    def describe(self) -> dict[str, Any]:
        """Plain-data record."""
        return {"instrument": self.instrument, "label": self.label, "rate": repr(self.rate)}


@dataclass(frozen=True)
class CurveSpec:
    """Everything a curve is built from: date, conventions, quotes, interpolation."""

    valuation: int
    convention: SwapConvention
    quotes: tuple[Quote, ...]
    interpolation: Interpolation = Interpolation.LOG_LINEAR_DISCOUNT

    def bumped(self, shift: Callable[[Quote], float] | float) -> CurveSpec:
        """The same spec with each quote moved by ``shift`` (a rate, or a function of it)."""
        fn = shift if callable(shift) else (lambda _q, s=float(shift): s)
        return replace(self, quotes=tuple(replace(q, rate=q.rate + fn(q)) for q in self.quotes))

    def describe(self) -> dict[str, Any]:
        """Plain-data record of the inputs (hashed into the curve id)."""
        return {
            "valuation": from_ordinal(self.valuation).isoformat(),
            "convention": self.convention.describe(),
            "interpolation": self.interpolation.value,
            "quotes": [q.describe() for q in self.quotes],
        }


@dataclass(frozen=True)
class _Instrument:
    quote: Quote
    pillar: int
    start: int = 0
    end: int = 0
    tau: float = 0.0
    legs: Legs | None = None
    maturity: int | None = None


def _instruments(spec: CurveSpec) -> list[_Instrument]:
    conv = spec.convention
    spot = conv.spot(spec.valuation)
    spot_arr = np.array([spot], dtype=np.int64)
    out: list[_Instrument] = []
    for q in spec.quotes:
        if q.instrument == "swap":
            assert q.tenor is not None
            maturity = conv.add_tenor(spot_arr, q.tenor)
            legs = build_legs(conv, spot_arr, maturity)
            pillar = int(max(legs.fx_pay.max(), legs.fl_pay.max(), legs.fl_proj_end.max()))
            out.append(_Instrument(q, pillar, legs=legs, maturity=int(maturity[0])))
            continue
        if q.instrument == "deposit":
            assert q.tenor is not None
            s = spot_arr
            e = conv.advance(s, q.tenor)
        else:
            assert q.start is not None
            assert q.end is not None
            s = conv.advance(spot_arr, q.start)
            e = conv.advance(s, Tenor(months=q.end.months - q.start.months))
        tau = float(conv.float_day_count.fraction(s, e)[0])
        out.append(_Instrument(q, int(e[0]), int(s[0]), int(e[0]), tau))
    return out


def _implied(inst: _Instrument, valuation: int, curve: Curve, discount: Curve | None) -> float:
    if inst.legs is not None:
        return float(par_rates_for_bootstrap(inst.legs, valuation, discount or curve, curve)[0])
    dfs = curve.df(np.array([inst.start, inst.end], dtype=np.int64))
    return float((dfs[0] / dfs[1] - 1.0) / inst.tau)


def bootstrap(spec: CurveSpec, discount: Curve | None = None) -> Curve:
    """Build the curve that reprices every quote of ``spec`` exactly."""
    if not spec.quotes:
        raise PricingInputError("quotes", "at least one quote is needed")
    insts = _instruments(spec)
    for i, inst in enumerate(insts):
        if inst.pillar <= spec.valuation:
            raise PricingInputError(f"quotes[{i}]", f"{inst.quote.label} matures too early")
        if i and inst.pillar <= insts[i - 1].pillar:
            raise PricingInputError(
                f"quotes[{i}]",
                f"pillars must increase: {inst.quote.label} ends on "
                f"{from_ordinal(inst.pillar)}, not after {insts[i - 1].quote.label}",
            )
    if spec.interpolation is Interpolation.LINEAR_ZERO and len(insts) < 2:
        raise PricingInputError("quotes", "linear zero interpolation needs two quotes")
    pillars = np.array([x.pillar for x in insts], dtype=np.int64)
    times = year_fraction(spec.valuation, pillars)
    y = np.zeros(len(insts))
    inputs = spec.describe()
    if discount is not None:
        inputs["discount_curve"] = discount.id
    cid = curve_id(inputs)

    def make(n: int, values: FloatArray) -> Curve:
        method = spec.interpolation
        if n < 2 and method is not Interpolation.LOG_LINEAR_DISCOUNT:
            # One pillar has no shape yet: flat forward is what every method gives there.
            method = Interpolation.LOG_LINEAR_DISCOUNT
        return Curve(spec.valuation, pillars[:n], values[:n], method, inputs, cid)

    def residual(x: float, i: int, n: int) -> float:
        trial = y.copy()
        trial[i] = x
        implied = _implied(insts[i], spec.valuation, make(n, trial), discount)
        return implied - insts[i].quote.rate

    # First a sequential pass: each pillar solved with the curve up to it (exact for local
    # interpolations, where later pillars never move earlier instruments).
    for i in range(len(insts)):
        # Guess: the previous segment's forward carried on (or 3% at the start).
        t0 = times[i - 1] if i else 0.0
        y0 = y[i - 1] if i else 0.0
        fwd = (
            0.03
            if i == 0
            else -(y0 - (y[i - 2] if i > 1 else 0.0)) / (t0 - (times[i - 2] if i > 1 else 0.0))
        )
        y[i] = _solve(functools.partial(residual, i=i, n=i + 1), y0 - fwd * (times[i] - t0))
    if spec.interpolation is Interpolation.MONOTONE_CONVEX:
        # Monotone convex is non-local (a new pillar reshapes the previous interval), so the
        # pass leaves earlier instruments slightly off: finish with Newton on all pillars.
        implied = _AllImplied(insts, spec)
        quotes = np.array([x.quote.rate for x in insts])
        y[:] = _newton(lambda v: implied(make(len(insts), v), discount) - quotes, y)
    return make(len(insts), y.copy())


class _AllImplied:
    """Every instrument's implied quote off one curve, in two vectorised evaluations."""

    def __init__(self, insts: list[_Instrument], spec: CurveSpec) -> None:
        self.n = len(insts)
        self.valuation = spec.valuation
        self.swaps = np.array([i for i, x in enumerate(insts) if x.legs is not None], dtype=int)
        self.simple = np.array([i for i, x in enumerate(insts) if x.legs is None], dtype=int)
        self.legs: Legs | None = None
        if self.swaps.size:
            # The swap instruments again, as one book with the same (start, maturity) pairs,
            # hence the same schedules.
            spot = spec.convention.spot(spec.valuation)
            maturities = np.array([_maturity(insts[i]) for i in self.swaps], dtype=np.int64)
            self.legs = build_legs(spec.convention, np.full(len(maturities), spot), maturities)
        self.starts = np.array([insts[i].start for i in self.simple], dtype=np.int64)
        self.ends = np.array([insts[i].end for i in self.simple], dtype=np.int64)
        self.taus = np.array([insts[i].tau for i in self.simple])

    def __call__(self, curve: Curve, discount: Curve | None) -> FloatArray:
        out = np.empty(self.n)
        if self.legs is not None:
            out[self.swaps] = par_rates_for_bootstrap(
                self.legs, self.valuation, discount or curve, curve
            )
        if self.simple.size:
            dfs = curve.df(np.concatenate([self.starts, self.ends]))
            k = len(self.starts)
            out[self.simple] = (dfs[:k] / dfs[k:] - 1.0) / self.taus
        return out


def _maturity(inst: _Instrument) -> int:
    assert inst.maturity is not None
    return inst.maturity


def _newton(f: Callable[[FloatArray], FloatArray], y: FloatArray) -> FloatArray:
    # Finite-difference Jacobian: n + 1 curve evaluations per step; from the sequential
    # pass the residuals are small, so two or three steps reach machine precision.
    y = y.copy()
    r = f(y)
    for _ in range(30):
        if float(np.max(np.abs(r))) < 1e-16:
            return y
        h = 1e-7
        jac = np.empty((len(y), len(y)))
        for j in range(len(y)):
            bumped = y.copy()
            bumped[j] += h
            jac[:, j] = (f(bumped) - r) / h
        step = np.linalg.solve(jac, -r)
        y_new = y + step
        r_new = f(y_new)
        if (
            float(np.max(np.abs(r_new))) >= float(np.max(np.abs(r)))
            and np.max(np.abs(step)) < 1e-14
        ):
            return y
        y, r = y_new, r_new
        if float(np.max(np.abs(step))) < 1e-16:
            return y
    if float(np.max(np.abs(r))) > 1e-12:
        raise PricingInputError("quotes", "the curve did not converge")
    return y


def _solve(f: Callable[[float], float], x0: float) -> float:
    # Secant iteration on the pillar's log discount factor. Near machine precision the
    # residual is noise, so stop on a tiny step or residual and keep the best point seen.
    x1 = x0 - 1e-4
    f0, f1 = f(x0), f(x1)
    best_x, best_f = (x0, f0) if abs(f0) < abs(f1) else (x1, f1)
    for _ in range(100):
        if f1 == f0 or f1 == 0.0:
            break
        x2 = x1 - f1 * (x1 - x0) / (f1 - f0)
        x0, f0, x1, f1 = x1, f1, x2, f(x2)
        if abs(f1) < abs(best_f):
            best_x, best_f = x1, f1
        if abs(x1 - x0) <= 1e-15 * max(1.0, abs(x1)) or abs(f1) < 1e-17:
            break
    if not abs(best_f) < 1e-12:
        raise PricingInputError("quotes", "the bootstrap did not converge")
    return best_x
