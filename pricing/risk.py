"""Sensitivities: DV01 by bumping every quote 1bp up and down and rebuilding the curves.

``analyse`` returns NPV, par rate, SVF, PV01 and DV01 for a whole book with three curve
builds in total (base, up, down), however many swaps there are. DV01 is the central
difference (NPV(up) - NPV(down)) / 2: the change of NPV for +1bp on every quote, so a payer's
DV01 is positive. This module must never parse input or format output.
"""

from __future__ import annotations

from dataclasses import dataclass

from pricing.dates import FloatArray
from pricing.market import Market
from pricing.swaps import Layout, SwapBook, layout, price

ONE_BP = 1e-4


@dataclass(frozen=True)
class SwapRisk:
    """Per-swap values and sensitivities."""

    npv: FloatArray
    par_rate: FloatArray
    svf: FloatArray
    pv01: FloatArray
    dv01: FloatArray


@dataclass(frozen=True)
class BumpedMarkets:
    """A market and its +1bp / -1bp versions, built once and shared by many books."""

    base: Market
    up: Market
    down: Market

    @classmethod
    def of(cls, market: Market, bump: float = ONE_BP) -> BumpedMarkets:
        """Bump every quote by ``bump`` both ways."""
        return cls(market, market.bumped(bump), market.bumped(-bump))


def analyse(
    book: SwapBook,
    markets: Market | BumpedMarkets,
    book_layout: Layout | None = None,
    cutoff: int | None = None,
) -> SwapRisk:
    """NPV, par rate, SVF, PV01 and DV01 of every swap of ``book`` (flows paying on or
    before ``cutoff`` excluded, see ``pricing.swaps.price``)."""
    m = markets if isinstance(markets, BumpedMarkets) else BumpedMarkets.of(markets)
    lay = book_layout if book_layout is not None else layout(book)
    val = m.base.valuation
    base_curves, up_curves, down_curves = m.base.build(), m.up.build(), m.down.build()
    base = price(book, val, base_curves.discount, base_curves.projection, lay, cutoff)
    up = price(book, val, up_curves.discount, up_curves.projection, lay, cutoff)
    down = price(book, val, down_curves.discount, down_curves.projection, lay, cutoff)
    return SwapRisk(
        npv=base.npv,
        par_rate=base.par_rate,
        svf=base.svf,
        pv01=base.pv01,
        dv01=(up.npv - down.npv) / 2.0,
    )
