"""Results of a pricing request as plain data with decimal strings (for JSON and tables).

``price_request`` and ``convert_request`` run a parsed ``Request`` through the library and
return dicts whose money fields are decimal strings rounded to cents. This module must
never print, open files or decide what input is valid (``inputs`` does).
"""

from __future__ import annotations

from typing import Any

from pricing.conversion import convert
from pricing.dates import from_ordinal
from pricing.inputs import MarginRequest, Request
from pricing.margin import performance_bond
from pricing.market import Market
from pricing.money import decimal_text, money
from pricing.risk import BumpedMarkets, analyse


def _header(request: Request) -> dict[str, Any]:
    curves = request.market.build()
    return {
        "valuation_date": from_ordinal(request.valuation).isoformat(),
        "curve_id": curves.id,
        "interpolation": request.market.projection.interpolation.value,
    }


def _ids(request: Request) -> list[str]:
    return list(request.book.ids) or [str(i + 1) for i in range(len(request.book))]


def price_request(request: Request) -> dict[str, Any]:
    """NPV, par rate, SVF, PV01 and DV01 of every swap."""
    risk = analyse(request.book, request.market)
    book = request.book
    rows = [
        {
            "id": sid,
            "side": "payer" if book.side[i] > 0 else "receiver",
            "start": from_ordinal(int(book.start[i])).isoformat(),
            "maturity": from_ordinal(int(book.maturity[i])).isoformat(),
            "npv": money(risk.npv[i]),
            "par_rate": decimal_text(risk.par_rate[i]),
            "svf": decimal_text(risk.svf[i]),
            "pv01": money(risk.pv01[i]),
            "dv01": money(risk.dv01[i]),
        }
        for i, sid in enumerate(_ids(request))
    ]
    return {**_header(request), "swaps": rows}


def convert_request(request: Request) -> dict[str, Any]:
    """Standard swap, RCV and implied bid of every defaulted position."""
    markets = BumpedMarkets.of(request.market)
    conv = convert(request.book, markets, request.rcv_convention, request.standard_tenors)
    d, s = conv.defaulted, conv.standard
    rows = []
    for i, sid in enumerate(_ids(request)):
        rows.append(
            {
                "id": sid,
                "side": "payer" if request.book.side[i] > 0 else "receiver",
                "npv": money(d.npv[i]),
                "par_rate": decimal_text(d.par_rate[i]),
                "svf": decimal_text(d.svf[i]),
                "pv01": money(d.pv01[i]),
                "dv01": money(d.dv01[i]),
                "standard": str(conv.standard_tenor[i]),
                "standard_maturity": from_ordinal(int(conv.standard_maturity[i])).isoformat(),
                "standard_fixed_rate": decimal_text(conv.standard_rate[i]),
                "standard_npv": money(s.npv[i]),
                "standard_par_rate": decimal_text(s.par_rate[i]),
                "standard_svf": decimal_text(s.svf[i]),
                "standard_dv01": money(s.dv01[i]),
                "rcv": money(conv.rcv[i]),
                "implied_bid": money(conv.implied_bid[i]),
                "residual_dv01": money(conv.residual_dv01[i]),
                "hedge_notional": money(conv.hedge_notional[i]),
                "hedge_side": "payer" if conv.hedge_side[i] > 0 else "receiver",
            }
        )
    return {**_header(request), "rcv_convention": request.rcv_convention.value, "swaps": rows}


def margin_request(request: MarginRequest) -> dict[str, Any]:
    """Requirement, collateral and shortfall per member."""
    bond = performance_bond(
        request.book, request.members, request.market, request.collateral, request.scenarios
    )
    return {
        "valuation_date": from_ordinal(request.valuation).isoformat(),
        "curve_id": request.market.build().id,
        "members": [
            {
                "member_id": name,
                "requirement": money(bond.requirement[i]),
                "collateral": money(bond.collateral[i]),
                "shortfall": money(bond.shortfall[i]),
                "worst_scenario": bond.worst_scenario[i],
            }
            for i, name in enumerate(bond.members)
        ],
    }


def curve_report(market: Market, days: list[int]) -> dict[str, Any]:
    """Pillars (date, DF, zero rate) of both curves and their DFs at ``days``."""
    import numpy as np

    curves = market.build()
    query = np.asarray(days, dtype=np.int64)

    def one(curve: Any) -> dict[str, Any]:
        zeros = curve.zero_rate(curve.pillar_days)
        return {
            "id": curve.id,
            "interpolation": curve.method.value,
            "pillars": [
                {
                    "date": from_ordinal(int(d)).isoformat(),
                    "discount_factor": decimal_text(float(np.exp(y)), 12),
                    "zero_rate": decimal_text(float(z), 10),
                }
                for d, y, z in zip(curve.pillar_days, curve.log_dfs, zeros, strict=True)
            ],
            "discount_factors": [decimal_text(float(v), 12) for v in curve.df(query)]
            if len(days)
            else [],
        }

    return {
        "market_id": curves.id,
        "projection": one(curves.projection),
        "discount": one(curves.discount),
    }
