"""Bootstrapping discount curves from market quotes.

Instruments: deposits, FRAs, par swaps (IBOR or OIS, by the convention's floating kind).
Pillars sit at each instrument's last relevant date (QuantLib's default), in increasing
order. All pillars are solved at once: Newton's method on the log discount factors, with
the Jacobian of every instrument's implied quote taken analytically (through the
interpolation's own Jacobian, ``pricing.interpolation.log_discount_jacobian``), until every
instrument reprices its quote to machine precision. This is the same curve a pillar-by-pillar
bootstrap reaches (for monotone convex, which is non-local, the one an iterated bootstrap
converges to), in a handful of vectorised steps. With a ``discount`` curve given (OIS
discounting), swaps are discounted on it while the curve being built only projects.

Schedules, accruals and the dates the curve is read at do not depend on the quote levels:
a ``Workspace`` keeps them for rebuilds of the same instruments (bumped markets for DV01).
This module must never price portfolios.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from pricing.conventions import FloatKind, SwapConvention, Tenor
from pricing.curve import Curve, curve_id, year_fraction
from pricing.dates import FloatArray, IntArray, from_ordinal
from pricing.errors import PricingInputError
from pricing.interpolation import (
    Interpolation,
    MonotoneConvexGrid,
    log_discount,
    log_discount_jacobian,
)
from pricing.legs import Legs, build_legs

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


class Workspace:
    """Bootstrap work that does not depend on quote levels, kept for curves that share it.

    A market and its bumped versions (DV01, scenarios) bootstrap the same instruments from
    other levels: their schedules, accruals, the dates the curve is read at and, for the local
    interpolations, the interpolation Jacobian are the same, so they are built once and
    shared. A rebuild also starts from the last curve solved on the same instruments with
    that curve's Jacobian, so a 1bp-bumped curve converges in a few chord steps without a
    new Jacobian. It converges to the same root as a fresh build: the two agree to rounding
    (about 1e-15 in discount factors), not necessarily to the last bit. Safe to share between
    threads (a race at worst builds something twice or starts from another solution).
    """

    def __init__(self) -> None:
        self._systems: dict[tuple[Any, ...], tuple[SwapConvention, _System]] = {}

    def system(self, spec: CurveSpec) -> _System:
        """The instruments of ``spec`` laid out for solving (built on first use)."""
        skeleton = tuple((q.instrument, q.tenor, q.start, q.end) for q in spec.quotes)
        # The entry keeps its convention alive, so its id cannot be reused while it is kept.
        key = (id(spec.convention), spec.valuation, skeleton)
        found = self._systems.get(key)
        if found is not None and found[0] is spec.convention:
            return found[1]
        built = _System.of(spec)
        self._systems[key] = (spec.convention, built)
        return built


@dataclass(frozen=True, eq=False)
class _System:
    """The bootstrap equations of one set of instruments, independent of the quote levels.

    Every instrument's implied quote is a sum of floating terms over an annuity:
    ``sum(((P(s) / P(e) - 1) / proj_tau) * weight * P_pay) / sum(fixed_tau * P_fixed_pay)``,
    P read off the curve being built at ``query_days`` (and the pay factors off the discount
    curve when one is given). A deposit or FRA is one term with weight 1, pay factor 1 and
    annuity 1; an IBOR swap period has weight = its accrual; an OIS period weight 1 and
    proj_tau 1 (daily compounding telescopes). These are the same operations, in the same
    order, as ``pricing.swaps`` uses to price a fresh swap, so the bootstrap reprices every
    quote as the pricer will see it.
    """

    n: int
    pillars: IntArray
    query_days: IntArray
    simple: IntArray  # deposits and FRAs (annuity 1)
    fl_owner: IntArray
    fl_start: IntArray  # index into query_days
    fl_end: IntArray
    fl_proj_tau: FloatArray
    fl_weight: FloatArray
    fl_swap: IntArray  # the terms that belong to swaps (discounted at their pay date)
    fl_pay_days: IntArray
    fl_pay: IntArray  # index into query_days, for the swap terms
    fx_owner: IntArray
    fx_tau: FloatArray
    fx_pay_days: IntArray
    fx_pay: IntArray
    jacobians: dict[Interpolation, FloatArray]
    # The last solution per method and the Jacobian it ended with: where the next solve of
    # these instruments (a bumped market) starts.
    solutions: dict[Interpolation, tuple[FloatArray, FloatArray]]

    @classmethod
    def of(cls, spec: CurveSpec) -> _System:
        conv = spec.convention
        spot = conv.spot(spec.valuation)
        n = len(spec.quotes)
        pillars = np.zeros(n, dtype=np.int64)
        swaps = [i for i, q in enumerate(spec.quotes) if q.instrument == "swap"]
        simple = [i for i, q in enumerate(spec.quotes) if q.instrument != "swap"]
        # Deposits run from spot, FRAs from spot + start (adjusted) for their length.
        fra_starts = [_fra(spec.quotes[i])[0] for i in simple if spec.quotes[i].instrument == "fra"]
        fra_start_days = iter(conv.advance_each(np.full(len(fra_starts), spot), fra_starts))
        bases, lengths = [], []
        for i in simple:
            q = spec.quotes[i]
            if q.instrument == "deposit":
                bases.append(spot)
                lengths.append(_tenor(q))
            else:
                start, end = _fra(q)
                bases.append(int(next(fra_start_days)))
                lengths.append(Tenor(months=end.months - start.months))
        s_start = np.array(bases, dtype=np.int64)
        s_end = conv.advance_each(s_start, lengths)
        s_tau = conv.float_day_count.fraction(s_start, s_end)
        pillars[simple] = s_end
        owner_of = np.array(swaps, dtype=np.int64)
        legs: Legs | None = None
        if swaps:
            maturities = conv.add_tenors(spot, [_tenor(spec.quotes[i]) for i in swaps])
            # Maturities differ (or the pillar check refuses them): no de-duplication pass.
            legs = build_legs(
                conv, np.full(len(swaps), spot, dtype=np.int64), maturities, distinct=True
            )
            last = np.zeros(len(swaps), dtype=np.int64)
            for days, owner in (
                (legs.fx_pay, legs.fx_owner),
                (legs.fl_pay, legs.fl_owner),
                (legs.fl_proj_end, legs.fl_owner),
            ):
                np.maximum.at(last, owner, days)
            pillars[owner_of] = last
        _check_pillars(spec, pillars)
        empty_i, empty_f = np.zeros(0, dtype=np.int64), np.zeros(0)
        simple_idx = np.array(simple, dtype=np.int64)
        if legs is not None:
            # Fresh spot swaps: every cash flow pays after the valuation date.
            fl_alive = np.flatnonzero(legs.fl_pay > spec.valuation)
            fx_alive = np.flatnonzero(legs.fx_pay > spec.valuation)
            ibor = legs.kind is FloatKind.IBOR
            sw_owner = owner_of[legs.fl_owner[fl_alive]]
            sw_start, sw_end = legs.fl_proj_start[fl_alive], legs.fl_proj_end[fl_alive]
            sw_ptau = legs.fl_proj_tau[fl_alive] if ibor else np.ones(len(fl_alive))
            sw_weight = legs.fl_tau[fl_alive] if ibor else np.ones(len(fl_alive))
            sw_pay = legs.fl_pay[fl_alive]
            fx_owner = owner_of[legs.fx_owner[fx_alive]]
            fx_tau, fx_pay_days = legs.fx_tau[fx_alive], legs.fx_pay[fx_alive]
        else:
            sw_owner, sw_start, sw_end, sw_pay, fx_owner, fx_pay_days = (empty_i,) * 6
            sw_ptau, sw_weight, fx_tau = empty_f, empty_f, empty_f
        k = len(simple)
        fl_start = np.concatenate([s_start, sw_start])
        fl_end = np.concatenate([s_end, sw_end])
        query_days, inverse = np.unique(
            np.concatenate([fl_start, fl_end, sw_pay, fx_pay_days]), return_inverse=True
        )
        m, w = len(fl_start), len(sw_pay)
        return cls(
            n=n,
            pillars=pillars,
            query_days=query_days,
            simple=simple_idx,
            fl_owner=np.concatenate([simple_idx, sw_owner]),
            fl_start=inverse[:m],
            fl_end=inverse[m : 2 * m],
            fl_proj_tau=np.concatenate([s_tau, sw_ptau]),
            fl_weight=np.concatenate([np.ones(k), sw_weight]),
            fl_swap=np.arange(k, m, dtype=np.int64),
            fl_pay_days=sw_pay,
            fl_pay=inverse[2 * m : 2 * m + w],
            fx_owner=fx_owner,
            fx_tau=fx_tau,
            fx_pay_days=fx_pay_days,
            fx_pay=inverse[2 * m + w :],
            jacobians={},
            solutions={},
        )

    def solve(self, spec: CurveSpec, method: Interpolation, discount: Curve | None) -> FloatArray:
        """Log discount factors at the pillars that reprice every quote (global Newton)."""
        t = np.concatenate([[0.0], year_fraction(spec.valuation, self.pillars)])
        qt = year_fraction(spec.valuation, self.query_days)
        quotes = np.array([q.rate for q in spec.quotes])
        nq, n = len(self.query_days), self.n
        if discount is not None:
            fl_pay_df = discount.df(self.fl_pay_days)
            fx_df = discount.df(self.fx_pay_days)
        swap_owner = self.fl_owner[self.fl_swap]
        local = method is not Interpolation.MONOTONE_CONVEX
        if local and method not in self.jacobians:
            # Constant for the local methods (linear in the pillars' log DFs or zeros).
            self.jacobians[method] = log_discount_jacobian(method, t, np.zeros(n + 1), qt)
        grid = None if local else MonotoneConvexGrid(t, qt)

        def log_dfs(full: FloatArray) -> FloatArray:
            return log_discount(method, t, full, qt) if grid is None else grid.log_discount(full)

        def residual(y: FloatArray) -> tuple[FloatArray, tuple[FloatArray, ...]]:
            # A trial point far off (a quote no curve reprices) may overflow: it is then
            # rejected by the line search, and the refusal names the quotes.
            with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
                return _residual(y)

        def _residual(y: FloatArray) -> tuple[FloatArray, tuple[FloatArray, ...]]:
            full = np.concatenate([[0.0], y])
            dfs = np.exp(log_dfs(full))
            growth = dfs[self.fl_start] / dfs[self.fl_end]
            pay_df = np.ones(len(growth))
            fxd = fx_df if discount is not None else dfs[self.fx_pay]
            pay_df[self.fl_swap] = fl_pay_df if discount is not None else dfs[self.fl_pay]
            tau_df = self.fl_weight * pay_df
            pv = (growth - 1.0) / self.fl_proj_tau * tau_df
            annuity = _sum_by(self.fx_owner, self.fx_tau * fxd, n)
            annuity[self.simple] = 1.0
            implied = _sum_by(self.fl_owner, pv, n) / annuity
            return implied - quotes, (full, growth, tau_df, pv, annuity, implied, fxd)

        def jacobian(parts: tuple[FloatArray, ...]) -> FloatArray:
            full, growth, tau_df, pv, annuity, implied, fxd = parts
            a = growth / self.fl_proj_tau * tau_df / annuity[self.fl_owner]
            rows_start = self.fl_owner * nq + self.fl_start
            rows_end = self.fl_owner * nq + self.fl_end
            index = [rows_start, rows_end]
            weights = [a, -a]
            if discount is None:
                # Single curve: the pay dates are read off this curve too.
                index += [swap_owner * nq + self.fl_pay, self.fx_owner * nq + self.fx_pay]
                weights += [
                    pv[self.fl_swap] / annuity[swap_owner],
                    -implied[self.fx_owner] * self.fx_tau * fxd / annuity[self.fx_owner],
                ]
            grad = np.bincount(
                np.concatenate(index), weights=np.concatenate(weights), minlength=n * nq
            ).reshape(n, nq)
            d_log = self.jacobians[method] if grid is None else grid.jacobian(full)
            return np.asarray(grad @ d_log[:, 1:], dtype=np.float64)

        # Start from zero rates at the quotes, or from the last curve solved on these
        # instruments with this method (a bumped market: its Jacobian is still good, so the
        # first step needs no new one). Newton with a halving line search; once the steps
        # are small the Jacobian is kept (a chord step then still gains six digits).
        warm = self.solutions.get(method)
        y: FloatArray = -quotes * t[1:] if warm is None else warm[0]
        jac: FloatArray | None = None if warm is None else warm[1]
        r, parts = residual(y)
        size = float(np.max(np.abs(r)))
        stale = jac is None
        for _ in range(60):
            if not size > 0.0:
                break
            try:
                if stale or jac is None:
                    jac = jacobian(parts)
                step = np.linalg.solve(jac, -r)
            except np.linalg.LinAlgError:
                break
            scale = 1.0
            while True:
                y_new = y + scale * step
                r_new, parts_new = residual(y_new)
                size_new = float(np.max(np.abs(r_new)))
                if size_new < size or scale < 1e-6 or float(np.max(np.abs(step))) < 1e-14:
                    break
                scale /= 2.0
            if size_new <= size or not np.isfinite(size):
                y, r, parts, size = y_new, r_new, parts_new, size_new
            last_step = float(np.max(np.abs(scale * step)))
            if last_step < 1e-12 or scale < 1e-6:
                # What is left after a step this small is below rounding: converged.
                break
            stale = last_step > 1e-6
        if not size < 1e-12:
            raise PricingInputError("quotes", "the bootstrap did not converge")
        if jac is not None:
            self.solutions[method] = (y, jac)
        return y


def _sum_by(owner: IntArray, weights: FloatArray, n: int) -> FloatArray:
    return np.asarray(np.bincount(owner, weights=weights, minlength=n), dtype=np.float64)


def _fra(q: Quote) -> tuple[Tenor, Tenor]:
    assert q.start is not None
    assert q.end is not None
    return q.start, q.end


def _tenor(q: Quote) -> Tenor:
    assert q.tenor is not None
    return q.tenor


def _check_pillars(spec: CurveSpec, pillars: IntArray) -> None:
    for i, q in enumerate(spec.quotes):
        if pillars[i] <= spec.valuation:
            raise PricingInputError(f"quotes[{i}]", f"{q.label} matures too early")
        if i and pillars[i] <= pillars[i - 1]:
            raise PricingInputError(
                f"quotes[{i}]",
                f"pillars must increase: {q.label} ends on "
                f"{from_ordinal(int(pillars[i]))}, not after {spec.quotes[i - 1].label}",
            )


def bootstrap(
    spec: CurveSpec, discount: Curve | None = None, workspace: Workspace | None = None
) -> Curve:
    """Build the curve that reprices every quote of ``spec`` exactly.

    ``workspace`` shares the quote-independent work with other builds of the same
    instruments (bumped markets); without one everything is built here.
    """
    if not spec.quotes:
        raise PricingInputError("quotes", "at least one quote is needed")
    system = (workspace or Workspace()).system(spec)
    if spec.interpolation is Interpolation.LINEAR_ZERO and system.n < 2:
        raise PricingInputError("quotes", "linear zero interpolation needs two quotes")
    method = spec.interpolation
    if system.n < 2:
        # One pillar has no shape yet: flat forward is what every method gives there.
        method = Interpolation.LOG_LINEAR_DISCOUNT
    y = system.solve(spec, method, discount)
    inputs = spec.describe()
    if discount is not None:
        inputs["discount_curve"] = discount.id
    return Curve(spec.valuation, system.pillars, y, method, inputs, curve_id(inputs))
