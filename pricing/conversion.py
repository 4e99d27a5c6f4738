"""Converting defaulted swaps into standard ones: standard tenor, RCV, implied bid, hedge.

For each defaulted position (the spec, "Converting and auctioning a defaulted swap
position"): the standard swap is the next standard tenor at or beyond the remaining term,
starting at spot, same side, notional and conventions. The Recovery Conversion Value is
``RCV = V_defaulted - V_standard`` under one of three conventions:

* ``SAME_COUPON`` (default): the standard keeps the defaulted fixed rate K;
* ``AT_MARKET``: the standard is struck at its par rate, so RCV is the defaulted NPV;
* ``ZERO_CASH``: the standard's coupon moves to K* = S_std - (S_d - K) A_d / A_std and RCV = 0.

The converted position is what moves on the **settlement (transfer) date**, the spot date of
the valuation. Which flows of the defaulted swap it holds is a named convention
(:class:`SettledFlows`): by default (``EXCLUDE_SETTLED``, the spec) every flow paying on or
before the settlement date is left out (it is the defaulter's, settled before the transfer),
so a seasoned swap converts exactly like the spot-starting swap with its remaining flows;
``INCLUDE_SETTLED`` keeps every flow paying after the valuation date (plain NPV).

The implied bid is b* = -RCV. The CCP's residual risk is the standard minus the defaulted
position (the forward-starting piece, for aligned schedules); its DV01 and the notional of an
at-market forward swap (defaulted maturity to standard maturity) that neutralises it are
reported too. Everything is vectorised over positions. This module must never choose a
winner or move cash: that is the auction's business.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pricing.conventions import Tenor
from pricing.dates import FloatArray, IntArray
from pricing.errors import PricingInputError
from pricing.market import Market
from pricing.risk import BumpedMarkets, SwapRisk, analyse
from pricing.swaps import SwapBook, price

DEFAULT_STANDARD_TENORS: tuple[Tenor, ...] = tuple(
    Tenor(months=12 * y) for y in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 20, 25, 30, 40, 50)
)


class RcvConvention(enum.Enum):
    """How the standard swap's coupon is set (and so how much cash changes hands)."""

    SAME_COUPON = "same_coupon"
    AT_MARKET = "at_market"
    ZERO_CASH = "zero_cash"

    @classmethod
    def parse(cls, text: str, field: str = "rcv_convention") -> RcvConvention:
        """Parse a convention name."""
        key = text.strip().lower().replace("-", "_").replace(" ", "_")
        for member in cls:
            if member.value == key:
                return member
        known = ", ".join(m.value for m in cls)
        raise PricingInputError(field, f"unknown RCV convention {text!r} ({known})")


class SettledFlows(enum.Enum):
    """Which flows of a defaulted swap the converted position holds."""

    EXCLUDE_SETTLED = "exclude_settled"
    INCLUDE_SETTLED = "include_settled"

    @classmethod
    def parse(cls, text: str, field: str = "settled_flows") -> SettledFlows:
        """Parse a convention name (empty: ``exclude_settled``)."""
        key = (text or cls.EXCLUDE_SETTLED.value).strip().lower().replace("-", "_")
        for member in cls:
            if member.value == key:
                return member
        known = ", ".join(m.value for m in cls)
        raise PricingInputError(field, f"unknown settled-flows convention {text!r} ({known})")


@dataclass(frozen=True)
class Conversion:
    """Per-position conversion results (arrays aligned with the defaulted book)."""

    standard_tenor: tuple[Tenor, ...]
    standard_maturity: IntArray
    standard_rate: FloatArray
    defaulted: SwapRisk
    standard: SwapRisk
    rcv: FloatArray
    implied_bid: FloatArray
    residual_dv01: FloatArray
    hedge_notional: FloatArray
    hedge_side: FloatArray


def standard_tenors(
    book: SwapBook, valuation: int, tenors: Sequence[Tenor] = DEFAULT_STANDARD_TENORS
) -> tuple[list[Tenor], IntArray]:
    """The smallest standard tenor whose maturity from spot is on or after each position's."""
    if not tenors:
        raise PricingInputError("standard_tenors", "at least one standard tenor is needed")
    ordered = sorted(set(tenors), key=lambda t: t.years)
    spot = book.convention.spot(valuation)
    n = len(book)
    chosen = np.full(n, -1, dtype=np.int64)
    maturity = np.zeros(n, dtype=np.int64)
    for k, tenor in enumerate(ordered):
        end = book.convention.add_tenor(np.array([spot]), tenor)[0]
        take = (chosen < 0) & (end >= book.maturity)
        chosen[take] = k
        maturity[take] = end
    missing = np.flatnonzero(chosen < 0)
    if missing.size:
        raise PricingInputError(
            f"swaps[{int(missing[0])}].maturity",
            f"beyond the longest standard tenor ({ordered[-1]})",
        )
    return [ordered[int(k)] for k in chosen], maturity


def convert(
    book: SwapBook,
    market: Market | BumpedMarkets,
    convention: RcvConvention = RcvConvention.SAME_COUPON,
    tenors: Sequence[Tenor] = DEFAULT_STANDARD_TENORS,
    risk: bool = True,
    settled_flows: SettledFlows = SettledFlows.EXCLUDE_SETTLED,
) -> Conversion:
    """Standard swap, RCV, implied bid and residual hedge for every defaulted position.

    ``settled_flows`` says whether the defaulted swap's flows paying on or before the
    settlement date (spot) are part of the converted position (see the module docstring).

    With ``risk=False`` only values are computed (one curve build, no bumps): DV01s,
    residual DV01 and hedge come back as NaN.
    """
    markets = market if isinstance(market, BumpedMarkets) else BumpedMarkets.of(market)
    valuation = markets.base.valuation
    chosen, std_maturity = standard_tenors(book, valuation, tenors)
    spot = book.convention.spot(valuation)
    cutoff = spot if settled_flows is SettledFlows.EXCLUDE_SETTLED else None
    defaulted = _values(book, markets, risk, cutoff)
    std_book = book.replace(
        start=np.full(len(book), spot, dtype=np.int64),
        maturity=std_maturity,
        fixing=np.full(len(book), np.nan),
    )
    if convention is RcvConvention.SAME_COUPON:
        std_rate = book.fixed_rate
    else:
        at_k = _values(std_book, markets, risk=False)
        if convention is RcvConvention.AT_MARKET:
            std_rate = at_k.par_rate
        else:
            std_rate = at_k.par_rate - (
                (defaulted.par_rate - book.fixed_rate) * defaulted.svf / at_k.svf
            )
    std_book = std_book.replace(fixed_rate=np.asarray(std_rate, dtype=np.float64))
    standard = _values(std_book, markets, risk)
    rcv = defaulted.npv - standard.npv
    residual = standard.dv01 - defaulted.dv01
    if risk:
        hedge_notional, hedge_side = _hedge(book, markets, std_maturity, residual)
    else:
        hedge_notional, hedge_side = np.full(len(book), np.nan), np.full(len(book), np.nan)
    return Conversion(
        standard_tenor=tuple(chosen),
        standard_maturity=std_maturity,
        standard_rate=np.asarray(std_rate, dtype=np.float64),
        defaulted=defaulted,
        standard=standard,
        rcv=rcv,
        implied_bid=-rcv,
        residual_dv01=residual,
        hedge_notional=hedge_notional,
        hedge_side=hedge_side,
    )


def _values(
    book: SwapBook, markets: BumpedMarkets, risk: bool, cutoff: int | None = None
) -> SwapRisk:
    if risk:
        return analyse(book, markets, cutoff=cutoff)
    curves = markets.base.build()
    v = price(book, markets.base.valuation, curves.discount, curves.projection, cutoff=cutoff)
    return SwapRisk(v.npv, v.par_rate, v.svf, v.pv01, np.full(len(book), np.nan))


def _hedge(
    book: SwapBook, markets: BumpedMarkets, std_maturity: IntArray, residual: FloatArray
) -> tuple[FloatArray, FloatArray]:
    # The hedge is an at-market payer forward swap from the defaulted to the standard
    # maturity (the CCP's residual position). Where the maturities coincide (a position
    # that was already standard, or one starting later) the standard swap itself is used.
    n = len(book)
    spot = book.convention.spot(markets.base.valuation)
    start = np.where(std_maturity > book.maturity, book.maturity, spot)
    unit = SwapBook.of(book.convention, start, std_maturity, np.ones(n), np.zeros(n), np.ones(n))
    par = analyse(unit, markets).par_rate
    # A forward piece that adjusts to nothing (both maturities roll to one date) has no par
    # rate and no risk; it gets a zero hedge.
    unit_dv01 = analyse(unit.replace(fixed_rate=np.nan_to_num(par)), markets).dv01
    with np.errstate(divide="ignore", invalid="ignore"):
        notional = np.where(unit_dv01 > 0, np.abs(residual) / unit_dv01, 0.0)
    return np.asarray(notional, dtype=np.float64), np.where(residual >= 0, 1.0, -1.0)
