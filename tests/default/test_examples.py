"""The default examples, offline: every lot ends settled or withdrawn and every default's
losses are allocated (no dead ends); the figures each new example is there to show."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from clients.default_replay import run_default
from clients.default_scenario import load_default_scenario, parse_default_scenario
from clients.scenario import ScenarioError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "default"
ACCEPTED = [p for p in sorted(EXAMPLES.glob("*.json")) if "rejected" not in p.name]


def run(name: str) -> dict[str, Any]:
    return run_default(load_default_scenario(EXAMPLES / f"{name}.json")).result


def used(allocation: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {
        (s["layer"], s["member"]): s["used"] for s in allocation["steps"] if s["used"] != "0.00"
    }


@pytest.mark.parametrize("path", ACCEPTED, ids=lambda p: p.stem)
def test_no_example_leaves_a_lot_stuck(path: Path) -> None:
    result = run_default(load_default_scenario(path)).result
    assert {lot["status"] for lot in result["lots"]} <= {"SETTLED", "WITHDRAWN"}
    assert sorted(a["defaulter"] for a in result["allocations"]) == sorted(
        d["member"] for d in result["defaults"]
    )
    # cash, collateral and default funds only move between accounts
    total = sum(
        Decimal(a["cash"]) + Decimal(a["collateral"] or 0) + Decimal(a["default_fund"] or 0)
        for a in result["ledger"]["accounts"]
    )
    loaded = load_default_scenario(path)
    admitted = sum(
        Decimal(a.data.get("collateral", "0")) + Decimal(a.data.get("default_fund", "0"))
        for a in loaded.process
        if a.do == "admit"
    )
    assert total == admitted + sum(
        Decimal(m.collateral) + Decimal(m.default_fund) for m in loaded.members
    )


def test_two_currencies_each_priced_off_its_own_market_and_netted_in_usd() -> None:
    result = run("two_currencies")
    usd, eur = result["lots"]
    assert (usd["currency"], usd["rcv"], usd["fx_rate"]) == ("USD", "-12337.67", "1")
    assert (eur["currency"], eur["index"], eur["fx_rate"]) == ("EUR", "EUR-EURIBOR-6M", "1.46")
    assert usd["curve_id"] != eur["curve_id"]
    [allocation] = result["allocations"]
    assert allocation["clearing_currency"] == "USD"
    # +162.33 USD on the USD lot; -284.82 EUR x 1.46 = -415.84 USD on the EUR lot
    assert [(r["result"], r["clearing_result"]) for r in allocation["lots"]] == [
        ("162.33", "162.33"),
        ("-284.82", "-415.84"),
    ]
    assert allocation["net_result"] == "-253.51"
    assert used(allocation) == {("DEFAULTER_MARGIN", "Dealer-D"): "253.51"}
    # the margin run adds each market's requirement in USD at the FX rate
    rows = {r["member"]: r for r in result["margin_run"]["rows"]}
    assert rows["Bank-C"]["worst_scenario"].startswith("EUR/EUR-EURIBOR-6M")


def test_a_position_without_its_market_is_refused_naming_both() -> None:
    doc = json.loads((EXAMPLES / "two_currencies.json").read_text())
    doc["markets"]["markets"][1]["index"] = "EUR-EURIBOR-3M"
    with pytest.raises(ScenarioError) as err:
        run_default(parse_default_scenario(json.dumps(doc)))
    assert "no market for EUR/EUR-EURIBOR-6M" in err.value.message
    assert err.value.where == "margin.positions[D-EUR-6.5y]"  # the first one priced
    doc = json.loads((EXAMPLES / "two_currencies.json").read_text())
    doc["markets"]["fx_rates"] = []
    with pytest.raises(ScenarioError, match="no FX rate from EUR into USD"):
        run_default(parse_default_scenario(json.dumps(doc)))


def test_one_market_for_positions_in_two_currencies_is_refused() -> None:
    doc = json.loads((EXAMPLES / "basic.json").read_text())
    doc["positions"][4]["currency"] = "EUR"
    with pytest.raises(ScenarioError, match="span EUR/USD-LIBOR-3M, USD/USD-LIBOR-3M"):
        run_default(parse_default_scenario(json.dumps(doc)))


def test_reauction_after_a_cancelled_window() -> None:
    result = run("reauction")
    first, second = result["auctions"]
    assert (first["auction_id"], first["phase"]) == ("Dealer-D-1", "CANCELLED")
    assert (second["auction_id"], second["phase"]) == ("Dealer-D-1.2", "SETTLED")
    assert (second["award"]["member"], second["award"]["amount"]) == ("MM-2", "12250.00")
    [lot] = result["lots"]
    assert lot["auction_ids"] == ["Dealer-D-1", "Dealer-D-1.2"]


def test_the_formerly_stuck_lot_resolves() -> None:
    result = run("stuck_lot_resolves")
    lots = {lot["lot_id"]: lot for lot in result["lots"]}
    # at conversion: no market maker, Bank-B invited
    assert lots["Dealer-D-1"]["market_makers"] == []
    assert "Bank-B" in lots["Dealer-D-1"]["eligible"]
    auctions = {a["auction_id"]: a for a in result["auctions"]}
    d1 = auctions["Dealer-D-1"]
    # at the window's opening: Bank-B (in default by then) out, MM-1 (admitted since) in
    assert d1["eligible"] == ["Bank-A", "Bank-E", "MM-1"] and d1["market_makers"] == ["MM-1"]
    assert (d1["award"]["member"], d1["award"]["amount"]) == ("MM-1", "12150.00")
    b1 = auctions["Bank-B-1"]
    assert (b1["award"]["method"], b1["award"]["pool_kind"]) == ("ASSIGNMENT", "market_makers")


def test_a_loss_reaches_the_mutualised_fund_juniorised_by_grade() -> None:
    result = run("mutualised_loss")
    [allocation] = result["allocations"]
    assert allocation["loss"] == "51688.33"
    assert used(allocation) == {
        ("DEFAULTER_MARGIN", "Dealer-D"): "20000.00",
        ("DEFAULTER_DEFAULT_FUND", "Dealer-D"): "15000.00",
        ("CCP_TRANCHE", "CCP"): "10000.00",
        ("SURVIVOR_DEFAULT_FUND", "Bank-E"): "5000.00",
        ("SURVIVOR_DEFAULT_FUND", "MM-2"): "1688.33",
    }
    tiers = {m["member"]: m["tier"] for m in allocation["members"]}
    assert (tiers["Bank-E"], tiers["MM-2"], tiers["Bank-A"]) == ("NO_BID", "SHORT", "SENIOR")
    ledger = {a["account"]: a for a in result["ledger"]["accounts"]}
    assert ledger["MM-2"]["default_fund"] == "8311.67"
    assert ledger["Dealer-D"]["default_fund"] == "0.00"


def test_split_withdrawn_rebuilt_and_a_surplus_back_to_the_estate() -> None:
    result = run("split_and_rebuild")
    lots = {lot["lot_id"]: lot for lot in result["lots"]}
    assert [p["position_id"] for p in lots["Dealer-D-2"]["positions"]] == ["D-4.5y", "D-2y"]
    assert lots["Dealer-D-2"]["status"] == "WITHDRAWN"
    assert [p["position_id"] for p in lots["Dealer-D-3"]["positions"]] == ["D-4.5y"]
    [allocation] = result["allocations"]
    assert (allocation["net_result"], allocation["surplus"]) == ("62.33", "62.33")
    assert used(allocation) == {("SURPLUS_TO_ESTATE", "Dealer-D"): "62.33"}


def test_a_failed_auction_is_assigned_by_the_operator_with_a_reason() -> None:
    result = run("failed_then_assigned")
    [auction] = result["auctions"]
    assert auction["phase"] == "SETTLED"
    assert auction["award"]["method"] == "OPERATOR_ASSIGNMENT"
    assert auction["award"]["member"] == "Bank-C"
    assert "agreed" in auction["award"]["reason"]
    [settlement] = result["settlements"]
    assert settlement["method"] == "OPERATOR_ASSIGNMENT" and settlement["amount"] == "12337.67"


def test_the_seasoned_swap_converts_without_the_flows_paying_on_the_settlement_date() -> None:
    result = run("seasoned_swap")
    [lot] = result["lots"]
    [position] = lot["positions"]
    assert (lot["rcv"], lot["implied_bid"], lot["settled_flows"]) == (
        "-12337.67",
        "12337.67",
        "exclude_settled",
    )
    assert position["defaulted"]["start"] == "2007-06-14"
    assert position["defaulted_npv"] == "-130298.79"  # the spec's 9.5y, from spot
    # the default's listing and the margin run value the position with those coupons
    [listed] = result["defaults"][0]["positions"]
    assert listed["npv"] != position["defaulted_npv"]
