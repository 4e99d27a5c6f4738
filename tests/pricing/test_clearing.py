"""pricing.clearing: the values the server and the offline default runner record, from one place.

Checked against the pricing report (the CLI's and the PricingService's numbers) on the
spec's patent example, and for the shapes the engines accept.
"""

from __future__ import annotations

import ast
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from matching.clearing.model import SwapTerms
from matching.default.lot import ConvertedPosition, Lot
from pricing import clearing
from pricing.conversion import DEFAULT_STANDARD_TENORS, RcvConvention
from pricing.errors import PricingInputError
from pricing.inputs import parse_market_input, parse_request
from pricing.margin import DEFAULT_SCENARIOS, Scenario
from pricing.report import convert_request
from pricing.swaps import price

ROOT = Path(__file__).resolve().parents[2]
PATENT = json.loads((ROOT / "examples/pricing/patent_example.json").read_text())
MARKET = {k: v for k, v in PATENT.items() if k != "swaps"}


def booked(swap: dict[str, Any]) -> clearing.Booked:
    """A patent-example swap as the clearing house books it (``SwapTerms.to_dict`` form)."""
    terms = {
        "currency": "USD",
        "index": "USD-LIBOR-3M",
        "side": swap["side"].upper(),
        "notional": swap["notional"],
        "fixed_rate": swap["fixed_rate"],
        "start": swap["start"],
        "maturity": swap["maturity"],
    }
    return clearing.Booked(swap["id"], terms)


@pytest.fixture(scope="module")
def pm() -> clearing.PricedMarket:
    return clearing.priced_market(MARKET)


@pytest.fixture(scope="module")
def rows(pm: clearing.PricedMarket) -> list[dict[str, Any]]:
    positions = [booked(s) for s in PATENT["swaps"]]
    swaps = [clearing.swap_of(p.position_id, p.terms) for p in positions]
    book = clearing.swap_book(pm, swaps)
    return clearing.converted_positions(
        pm, book, positions, RcvConvention.SAME_COUPON, DEFAULT_STANDARD_TENORS
    )


def test_priced_market_carries_conventions_days_and_curve_id(pm: clearing.PricedMarket) -> None:
    parsed = parse_market_input(MARKET)
    assert pm.convention == parsed.convention and pm.valuation == parsed.valuation
    assert (pm.valuation_day, pm.spot_day) == ("2007-12-12", "2007-12-14")
    assert pm.curve_id == convert_request(parse_request(PATENT, convert=True))["curve_id"]


def test_conversion_values_equal_the_pricing_report(rows: list[dict[str, Any]]) -> None:
    report = convert_request(parse_request(PATENT, convert=True))["swaps"]
    for row, ref in zip(rows, report, strict=True):
        assert row["position_id"] == ref["id"]
        assert row["standard_tenor"] == ref["standard"]
        assert row["standard"]["maturity"] == ref["standard_maturity"]
        assert row["standard"]["fixed_rate"] == ref["standard_fixed_rate"]
        assert row["standard"]["start"] == "2007-12-14"
        for key in ("npv", "par_rate", "svf"):
            assert row[f"defaulted_{key}"] == ref[key]
        for key in ("standard_npv", "standard_par_rate", "standard_svf", "standard_dv01"):
            assert row[key] == ref[key]
        assert (row["rcv"], row["implied_bid"]) == (ref["rcv"], ref["implied_bid"])
        assert row["hedge_side"] == ref["hedge_side"].upper()
        whole = Decimal(ref["hedge_notional"]).to_integral_value()
        assert row["hedge_notional"] == int(whole)
    defaulted = rows[1]
    assert (defaulted["standard_tenor"], defaulted["rcv"]) == ("10Y", "-12337.67")
    assert defaulted["implied_bid"] == "12337.67"


def test_conversion_rows_are_what_the_engine_accepts(rows: list[dict[str, Any]]) -> None:
    converted = ConvertedPosition.from_dict(rows[1], "conversion of 9.5y defaulted")
    assert converted.rcv == -1233767 and converted.implied_bid == 1233767
    assert converted.standard.notional == converted.defaulted.notional == 10_000_000
    assert converted.hedge_notional == rows[1]["hedge_notional"]
    assert converted.hedge_side is not None and converted.hedge_side.value == rows[1]["hedge_side"]
    assert Decimal(converted.standard.fixed_rate) == Decimal(rows[1]["standard"]["fixed_rate"])
    out = converted.to_dict()
    for key in ("defaulted_npv", "standard_npv", "standard_dv01", "rcv", "implied_bid"):
        assert out[key] == rows[1][key]


def test_position_npvs_equal_the_conversions_defaulted_npvs(
    pm: clearing.PricedMarket, rows: list[dict[str, Any]]
) -> None:
    book = clearing.swap_book(pm, PATENT["swaps"])
    assert clearing.position_npvs(pm, book) == [r["defaulted_npv"] for r in rows]
    assert clearing.position_npvs(pm, book.take([2, 1])) == [
        rows[2]["defaulted_npv"],
        rows[1]["defaulted_npv"],
    ]


def test_forward_hedge_is_at_market_from_defaulted_to_standard_maturity(
    pm: clearing.PricedMarket, rows: list[dict[str, Any]]
) -> None:
    lot = Lot.build(
        lot_id="L-1",
        defaulter="D",
        positions=[ConvertedPosition.from_dict(rows[1])],
        curve_id=pm.curve_id,
        valuation_time=pm.valuation_day,
    )
    [(pid, terms)] = clearing.forward_hedges(pm, lot.to_dict())
    hedge = SwapTerms.from_dict(terms, f"hedge of {pid}")
    assert pid == "9.5y defaulted"
    assert (hedge.start, hedge.maturity) == ("2017-06-14", "2017-12-14")
    assert hedge.side.value == rows[1]["hedge_side"]
    assert hedge.notional == rows[1]["hedge_notional"] > 0
    forward = clearing.swap_book(
        pm, [{"side": "payer", "notional": 1, "fixed_rate": 0, **terms_dates(terms)}]
    )
    curves = pm.market.build()
    par = price(forward, pm.valuation, curves.discount, curves.projection).par_rate[0]
    assert Decimal(hedge.fixed_rate) == Decimal(f"{par:.10f}")
    # the standard position itself has no forward piece: no hedge
    standard = Lot.build(
        lot_id="L-2",
        defaulter="D",
        positions=[ConvertedPosition.from_dict(rows[0])],
        curve_id=pm.curve_id,
        valuation_time=pm.valuation_day,
    )
    assert clearing.forward_hedges(pm, standard.to_dict()) == []


def terms_dates(terms: dict[str, Any]) -> dict[str, str]:
    return {"start": terms["start"], "maturity": terms["maturity"]}


def test_margin_scenarios() -> None:
    assert clearing.margin_scenarios(None) == DEFAULT_SCENARIOS
    assert clearing.margin_scenarios([]) == ()
    parsed = clearing.margin_scenarios(
        [{"name": "up", "short_bp": Decimal("100"), "long_bp": "50", "long_years": 10}]
    )
    assert parsed == (Scenario("up", 100.0, 50.0, 2.0, 10.0),)


@pytest.mark.parametrize(
    ("raw", "field", "words"),
    [
        ({"name": "", "short_bp": "1", "long_bp": "1"}, "scenarios[0].name", "is required"),
        ({"name": "x", "short_bp": "", "long_bp": "1"}, "scenarios[0].short_bp", "a number"),
        ({"name": "x", "short_bp": "1"}, "scenarios[0].long_bp", "is required"),
        ({"name": "x", "short_bp": "1", "long_bp": "1", "tilt": 1}, "scenarios[0].tilt", "unknown"),
        (
            {"name": "x", "short_bp": "1", "long_bp": "1", "short_years": "5", "long_years": "5"},
            "scenarios[0]",
            "long_years must exceed short_years",
        ),
        ("flat", "scenarios[0]", "expected a JSON object"),
    ],
)
def test_margin_scenario_refusals_name_the_field(raw: Any, field: str, words: str) -> None:
    with pytest.raises(PricingInputError) as info:
        clearing.margin_scenarios([raw])
    assert info.value.field == field and words in info.value.message


def test_margin_requirements_only_for_members_with_collateral(pm: clearing.PricedMarket) -> None:
    book = clearing.swap_book(pm, PATENT["swaps"])
    requirements, worst = clearing.margin_requirements(
        pm, book, ["A", "B", "B"], {"A": 0.0, "C": 5.0}, DEFAULT_SCENARIOS
    )
    assert set(requirements) == set(worst) == {"A", "C"}
    assert requirements["C"] == "0.00" and worst["C"] == ""
    assert Decimal(requirements["A"]) > 0 and worst["A"]


def test_rcv_convention_and_standard_tenors() -> None:
    assert clearing.rcv_convention("") is RcvConvention.SAME_COUPON
    assert clearing.rcv_convention("at-market") is RcvConvention.AT_MARKET
    assert clearing.standard_tenors(None) == DEFAULT_STANDARD_TENORS
    assert [str(t) for t in clearing.standard_tenors(["5Y", "10Y"])] == ["5Y", "10Y"]
    with pytest.raises(PricingInputError) as info:
        clearing.standard_tenors(["5Y", "soon"])
    assert info.value.field == "standard_tenors[1]"


def test_reserve_at_bp() -> None:
    # b* 12,337.67 and DV01 4,321.09: 2.5bp x 432,109 cents = 1,080,272.5 -> 1,080,272
    assert clearing.reserve_at_bp(1233767, -432109, "2.5") == 1233767 - 1080272
    assert clearing.reserve_at_bp(1233767, 432109, "0") == 1233767
    for bad, words in [
        ("-1", "non-negative"),
        ("NaN", "expected a number"),
        ("x", "expected a number"),
    ]:
        with pytest.raises(PricingInputError) as info:
            clearing.reserve_at_bp(1, 1, bad)
        assert info.value.field == "reserve_bp" and words in info.value.message


def test_the_module_imports_no_engine_server_or_client() -> None:
    tree = ast.parse((ROOT / "pricing" / "clearing.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            assert node.module.split(".")[0] not in {"matching", "server", "clients", "closeout"}
        if isinstance(node, ast.Import):
            for alias in node.names:
                assert alias.name.split(".")[0] not in {"matching", "server", "clients"}


def test_market_fixings_fill_a_seasoned_swaps_current_period_and_errors_name_positions() -> None:
    from pricing.clearing import margin_requirements_multi, priced_markets

    raw_market = json.loads(
        (Path(__file__).resolve().parents[2] / "examples/pricing/patent_example.json").read_text()
    )
    market = {
        k: v for k, v in raw_market.items() if k in ("valuation_date", "conventions", "curve")
    }
    seasoned = {
        "id": "S",
        "side": "payer",
        "notional": "10000000",
        "fixed_rate": "0.0515",
        "start": "2007-06-14",
        "maturity": "2017-06-14",
    }
    entry = {"currency": "USD", "index": "USD-LIBOR-3M", "market": market}
    bare = priced_markets({"markets": [entry]})
    with pytest.raises(PricingInputError) as err:
        margin_requirements_multi(
            bare, [seasoned], [("USD", "USD-LIBOR-3M")], ["M"], {"M": 0.0}, DEFAULT_SCENARIOS
        )
    assert err.value.field == "positions[S].current_fixing"
    fixed = priced_markets(
        {"markets": [{**entry, "fixings": [{"date": "2007-09-12", "rate": "0.0525"}]}]}
    )
    with_table = margin_requirements_multi(
        fixed, [seasoned], [("USD", "USD-LIBOR-3M")], ["M"], {"M": 0.0}, DEFAULT_SCENARIOS
    )
    by_hand = margin_requirements_multi(
        bare,
        [{**seasoned, "current_fixing": "0.0525"}],
        [("USD", "USD-LIBOR-3M")],
        ["M"],
        {"M": 0.0},
        DEFAULT_SCENARIOS,
    )
    assert with_table == by_hand
    with pytest.raises(PricingInputError, match="before the valuation date"):
        priced_markets(
            {"markets": [{**entry, "fixings": [{"date": "2007-12-12", "rate": "0.05"}]}]}
        )
