"""Vectorised valuation of many vanilla swaps off one pair of curves.

A ``SwapBook`` holds a portfolio as arrays (one entry per swap, one convention per book).
Swaps sharing (start, maturity) share a cash-flow layout, so the book is reduced to its
distinct schedules, each schedule's unit values (annuity, forecast floating PV per unit
notional, the parts that depend on a stored fixing) are summed with ``np.bincount``, and
every swap's NPV, par rate, SVF and PV01 follow by array arithmetic. No Python loop runs per
swap or per cash flow. A cash flow paying on or before the valuation date is excluded, and
values are discounted to the valuation date (QuantLib's defaults). ``price`` can exclude
more: every flow paying on or before a later ``cutoff`` day (a converted position leaves
out the flows paying on or before its settlement date, see ``pricing.conversion``); a stored
fixing of a period excluded that way goes with it.

Sign convention: ``side`` is +1 for a payer (pays fixed, receives floating), -1 for a
receiver; NPV is to the holder. This module must never build curves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pricing.conventions import FloatKind, SwapConvention
from pricing.curve import Curve
from pricing.dates import FloatArray, IntArray
from pricing.errors import PricingInputError
from pricing.legs import Legs, build_legs

PAYER = 1.0
RECEIVER = -1.0


@dataclass(frozen=True, eq=False)
class SwapBook:
    """A portfolio of vanilla swaps under one convention, as parallel arrays.

    ``fixing`` is the stored fixing of the current floating period (NaN when none): for an
    IBOR leg the rate fixed for the unpaid period whose fixing date has passed (or, when no
    such period exists, today's fixing for the period fixing today; without it today's
    fixing is forecast); for an overnight leg the annualised simple rate (floating day
    count) realised from the period start to the valuation date.
    """

    convention: SwapConvention
    start: IntArray
    maturity: IntArray
    notional: FloatArray
    fixed_rate: FloatArray
    side: FloatArray
    spread: FloatArray
    fixing: FloatArray
    ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.start)
        for name in ("maturity", "notional", "fixed_rate", "side", "spread", "fixing"):
            if len(getattr(self, name)) != n:
                raise PricingInputError(
                    name, f"expected {n} values, got {len(getattr(self, name))}"
                )
        if self.ids and len(self.ids) != n:
            raise PricingInputError("ids", f"expected {n} ids")
        bad = np.flatnonzero(self.maturity <= self.start)
        if bad.size:
            raise PricingInputError(self._field(int(bad[0]), "maturity"), "must be after start")
        bad = np.flatnonzero(~(self.notional >= 0) | ~np.isfinite(self.notional))
        if bad.size:
            raise PricingInputError(self._field(int(bad[0]), "notional"), "must not be negative")
        bad = np.flatnonzero((self.side != PAYER) & (self.side != RECEIVER))
        if bad.size:
            raise PricingInputError(self._field(int(bad[0]), "side"), "must be payer or receiver")
        for name in ("fixed_rate", "spread"):
            bad = np.flatnonzero(~np.isfinite(getattr(self, name)))
            if bad.size:
                raise PricingInputError(self._field(int(bad[0]), name), "must be a finite number")

    def __len__(self) -> int:
        return len(self.start)

    def _field(self, i: int, name: str) -> str:
        return f"swaps[{i}].{name}"

    @classmethod
    def of(
        cls,
        convention: SwapConvention,
        start: Sequence[int] | IntArray,
        maturity: Sequence[int] | IntArray,
        notional: Sequence[float] | FloatArray,
        fixed_rate: Sequence[float] | FloatArray,
        side: Sequence[float] | FloatArray,
        spread: Sequence[float] | FloatArray | None = None,
        fixing: Sequence[float] | FloatArray | None = None,
        ids: Sequence[str] = (),
    ) -> SwapBook:
        """Build a book from sequences, filling spread with 0 and fixing with NaN."""
        n = len(start)
        return cls(
            convention=convention,
            start=np.asarray(start, dtype=np.int64),
            maturity=np.asarray(maturity, dtype=np.int64),
            notional=np.asarray(notional, dtype=np.float64),
            fixed_rate=np.asarray(fixed_rate, dtype=np.float64),
            side=np.asarray(side, dtype=np.float64),
            spread=np.zeros(n) if spread is None else np.asarray(spread, dtype=np.float64),
            fixing=np.full(n, np.nan) if fixing is None else np.asarray(fixing, dtype=np.float64),
            ids=tuple(ids),
        )

    def replace(self, **changes: object) -> SwapBook:
        """A copy with some arrays replaced."""
        fields = {k: getattr(self, k) for k in self.__dataclass_fields__}
        fields.update(changes)
        return SwapBook(**fields)

    def take(self, idx: Sequence[int] | IntArray) -> SwapBook:
        """The swaps at ``idx``, in that order, as a book of their own (ids kept if any)."""
        sel = np.asarray(idx, dtype=np.int64)
        return SwapBook(
            convention=self.convention,
            start=self.start[sel],
            maturity=self.maturity[sel],
            notional=self.notional[sel],
            fixed_rate=self.fixed_rate[sel],
            side=self.side[sel],
            spread=self.spread[sel],
            fixing=self.fixing[sel],
            ids=tuple(self.ids[int(i)] for i in sel) if self.ids else (),
        )


@dataclass(frozen=True, eq=False)
class Layout:
    """A book's distinct schedules, in blocks (``chunks``), and each swap's schedule index."""

    chunks: tuple[Legs, ...]
    which: IntArray

    @property
    def schedules(self) -> int:
        """Number of distinct (start, maturity) pairs."""
        return sum(c.n for c in self.chunks)


#: Distinct schedules per block. Blocks keep temporaries to a few MB, which the allocator
#: reuses from block to block; one block for a whole book of 100,000 distinct schedules
#: spends more time taking fresh memory from the system than computing.
CHUNK = 8192


def layout(book: SwapBook) -> Layout:
    """Reduce a book to its distinct (start, maturity) pairs and build their legs once."""
    # One int64 key per pair (day numbers are below 2^20): a 1-D unique is much faster.
    keys = book.start * (1 << 20) + book.maturity
    unique, inverse = np.unique(keys, return_inverse=True)
    starts, ends = unique >> 20, unique & ((1 << 20) - 1)
    chunks = tuple(
        build_legs(book.convention, starts[i : i + CHUNK], ends[i : i + CHUNK], distinct=True)
        for i in range(0, len(unique), CHUNK)
    )
    return Layout(chunks, inverse.reshape(-1))


@dataclass(frozen=True)
class SwapValues:
    """Per-swap results: NPV to the holder, par rate, SVF (annuity), PV01 (N A 1bp)."""

    npv: FloatArray
    par_rate: FloatArray
    svf: FloatArray
    pv01: FloatArray


@dataclass(frozen=True)
class _Units:
    annuity: FloatArray
    float_annuity: FloatArray
    forecast: FloatArray
    past_count: FloatArray
    past_a: FloatArray
    past_b: FloatArray
    past_c: FloatArray
    today_tau_df: FloatArray
    today_forecast: FloatArray
    cut_past: FloatArray


def _sum_by(owner: IntArray, weights: FloatArray, n: int) -> FloatArray:
    return np.asarray(np.bincount(owner, weights=weights, minlength=n), dtype=np.float64)


def _split(values: FloatArray, legs: Legs) -> tuple[FloatArray, ...]:
    a, b = len(legs.fx_pay), len(legs.fl_pay)
    return values[:a], values[a : a + b], values[a + b : a + 2 * b], values[a + 2 * b :]


def _split2(values: FloatArray, legs: Legs, floating: bool = False) -> tuple[FloatArray, ...]:
    k = len(legs.fl_pay) if floating else len(legs.fx_pay)
    return values[:k], values[k:]


def _units(
    legs: Legs,
    valuation: int,
    discount: Curve,
    projection: Curve,
    forecast_all: bool,
    cutoff: int | None = None,
) -> _Units:
    n = legs.n
    cut = valuation if cutoff is None else max(cutoff, valuation)
    # One curve evaluation per curve (two when dual): fewer calls, same arithmetic.
    if discount is projection:
        df_fx, dfp, df_ps, df_pe = _split(
            discount.df(
                np.concatenate([legs.fx_pay, legs.fl_pay, legs.fl_proj_start, legs.fl_proj_end])
            ),
            legs,
        )
    else:
        df_fx, dfp = _split2(discount.df(np.concatenate([legs.fx_pay, legs.fl_pay])), legs)
        df_ps, df_pe = _split2(
            projection.df(np.concatenate([legs.fl_proj_start, legs.fl_proj_end])), legs, True
        )
    fx_alive = legs.fx_pay > cut
    fx_pv = np.where(fx_alive, legs.fx_tau * df_fx, 0.0)
    annuity = _sum_by(legs.fx_owner, fx_pv, n)
    owner = legs.fl_owner
    alive = legs.fl_pay > cut
    # Periods paying after today but on or before the cutoff: excluded with their fixing.
    cut_off = (legs.fl_pay > valuation) & ~alive
    tau_df = np.where(alive, legs.fl_tau * dfp, 0.0)
    growth = df_ps / df_pe
    zeros = np.zeros(n)
    if legs.kind is FloatKind.IBOR:
        fwd = (growth - 1.0) / legs.fl_proj_tau
        past = alive & (legs.fl_fixing < valuation) & (not forecast_all)
        today = alive & (legs.fl_fixing == valuation) & (not forecast_all)
        forecast_pv = np.where(alive & ~past, fwd * tau_df, 0.0)
        past_a, past_c = zeros, zeros
        # At most one or two periods per swap have fixed: sum over those few only.
        p_idx, t_idx = np.flatnonzero(past), np.flatnonzero(today)
        c_idx = np.flatnonzero(cut_off & (legs.fl_fixing < valuation))
        past_b = _sum_by(owner[p_idx], tau_df[p_idx], n)
        today_tau_df = _sum_by(owner[t_idx], tau_df[t_idx], n)
        today_fc = _sum_by(owner[t_idx], fwd[t_idx] * tau_df[t_idx], n)
    else:
        past = alive & (legs.fl_start < valuation) & (not forecast_all)
        forecast_pv = np.where(alive & ~past, (growth - 1.0) * dfp, 0.0)
        # Seasoned overnight period: realised growth (1 + fixing * a) times the projected
        # growth from today to the period end, paid at the period's payment date.
        p_idx = np.flatnonzero(past)
        c_idx = np.flatnonzero(cut_off & (legs.fl_start < valuation))
        p_start, p_end = legs.fl_start[p_idx], legs.fl_end[p_idx]
        a = legs.float_day_count.fraction(p_start, np.full_like(p_start, valuation))
        rest = projection.df(np.full_like(p_end, valuation)) / projection.df(p_end)
        past_a = _sum_by(owner[p_idx], a, n)
        past_b = _sum_by(owner[p_idx], rest * dfp[p_idx], n)
        past_c = _sum_by(owner[p_idx], dfp[p_idx], n)
        today_tau_df, today_fc = zeros, zeros
    return _Units(
        annuity=annuity,
        float_annuity=_sum_by(owner, tau_df, n),
        forecast=_sum_by(owner, forecast_pv, n),
        past_count=_sum_by(owner[p_idx], np.ones(len(p_idx)), n),
        past_a=past_a,
        past_b=past_b,
        past_c=past_c,
        today_tau_df=today_tau_df,
        today_forecast=today_fc,
        cut_past=_sum_by(owner[c_idx], np.ones(len(c_idx)), n),
    )


def float_leg_unit_pv(
    book: SwapBook, units: _Units, which: IntArray, forecast_all: bool = False
) -> FloatArray:
    """Floating-leg PV per unit notional of each swap, stored fixings included."""
    past_count = units.past_count[which]
    # A stored fixing belongs to the period that fixed before today; when that period was
    # cut off (it pays on or before the cutoff), the fixing is not today's: drop it.
    dropped = (past_count == 0) & (units.cut_past[which] > 0)
    fix = np.where(dropped, np.nan, book.fixing)
    has_fix = np.isfinite(fix)
    if not forecast_all:
        missing = np.flatnonzero((past_count > 0) & ~has_fix)
        if missing.size:
            raise PricingInputError(
                f"swaps[{int(missing[0])}].current_fixing",
                "the current floating period has fixed: its fixing is required",
            )
        twice = np.flatnonzero(past_count > 1)
        if twice.size:
            raise PricingInputError(
                f"swaps[{int(twice[0])}].current_fixing",
                "two unpaid periods have already fixed; only one stored fixing is supported",
            )
    f = np.where(has_fix, fix, 0.0)
    value = units.forecast[which] + book.spread * units.float_annuity[which]
    if book.convention.float_kind is FloatKind.IBOR:
        value = value + f * units.past_b[which]
        # With no period fixed before today, a stored fixing is today's fixing.
        today = has_fix & (past_count == 0)
        value = value + np.where(
            today, f * units.today_tau_df[which] - units.today_forecast[which], 0.0
        )
    else:
        seasoned = (1.0 + f * units.past_a[which]) * units.past_b[which] - units.past_c[which]
        value = value + np.where(past_count > 0, seasoned, 0.0)
    return np.asarray(value, dtype=np.float64)


def price(
    book: SwapBook,
    valuation: int,
    discount: Curve,
    projection: Curve | None = None,
    book_layout: Layout | None = None,
    cutoff: int | None = None,
) -> SwapValues:
    """NPV, par rate, SVF and PV01 of every swap in ``book``.

    ``projection`` defaults to ``discount`` (single curve). Pass a precomputed
    ``book_layout`` to price the same book under many curves without rebuilding schedules.
    ``cutoff`` (a day number, default the valuation day) excludes every flow paying on or
    before it; values are still discounted to the valuation day.
    """
    lay = book_layout if book_layout is not None else layout(book)
    parts = [
        _units(legs, valuation, discount, projection or discount, False, cutoff)
        for legs in lay.chunks
    ]
    units = (
        parts[0]
        if len(parts) == 1
        else _Units(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in _Units.__dataclass_fields__)
        )
    )
    flt = float_leg_unit_pv(book, units, lay.which)
    annuity = units.annuity[lay.which]
    with np.errstate(divide="ignore", invalid="ignore"):
        par = np.where(annuity > 0, flt / annuity, np.nan)
    npv = book.side * book.notional * (flt - book.fixed_rate * annuity)
    return SwapValues(npv=npv, par_rate=par, svf=annuity, pv01=book.notional * annuity * 1e-4)


def par_rates_for_bootstrap(
    legs: Legs, valuation: int, discount: Curve, projection: Curve
) -> FloatArray:
    """Par rates of fresh swaps (every period forecast), for curve instruments."""
    units = _units(legs, valuation, discount, projection, forecast_all=True)
    return np.asarray(units.forecast / units.annuity, dtype=np.float64)
