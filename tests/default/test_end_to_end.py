"""A whole default with the real pricing library: margin shortfall -> default -> conversion
values equal to the pricing library's -> bids -> award -> settlement, the ledger to the cent,
and both journals replaying into identical state."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from clients.default_replay import DefaultReplay, run_default
from clients.default_scenario import load_default_scenario
from matching.clearing import events as cev
from matching.clearing.state import ClearingHouse
from matching.default import events as aev
from matching.default.auction import DefaultAuction
from pricing.inputs import parse_request
from pricing.report import convert_request

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "default"


@pytest.fixture(scope="module")
def basic() -> DefaultReplay:
    return run_default(load_default_scenario(EXAMPLES / "basic.json"))


def account(result: dict[str, Any], name: str) -> dict[str, Any]:
    return next(a for a in result["ledger"]["accounts"] if a["account"] == name)


def test_margin_shortfall_declares_the_default(basic: DefaultReplay) -> None:
    rows = {r["member"]: r for r in basic.result["margin_run"]["rows"]}
    assert rows["Dealer-D"]["shortfall"] == "297807.07"
    assert rows["Dealer-D"]["requirement"] == "797807.07"
    assert all(r["shortfall"] == "0.00" for m, r in rows.items() if m != "Dealer-D")
    [default] = basic.result["defaults"]
    assert (default["member"], default["basis"], default["shortfall"]) == (
        "Dealer-D",
        "SHORTFALL",
        "297807.07",
    )
    assert default["positions"] == [{"position_id": "D-9.5y", "npv": "-130298.79"}]


def test_conversion_values_equal_the_pricing_librarys() -> None:
    scenario = load_default_scenario(EXAMPLES / "basic.json")
    replay = run_default(scenario)
    [lot] = replay.result["lots"]
    [conv] = lot["positions"]
    request = {
        **(scenario.market or {}),
        "swaps": [{k: v for k, v in scenario.positions[0].swap.items()}],
    }
    [ref] = convert_request(parse_request(request, convert=True))["swaps"]
    assert conv["rcv"] == ref["rcv"] == "-12337.67"  # the spec's reference
    assert conv["implied_bid"] == ref["implied_bid"] == "12337.67"
    assert conv["defaulted_npv"] == ref["npv"]
    assert conv["standard_npv"] == ref["standard_npv"]
    assert conv["standard_dv01"] == ref["standard_dv01"]
    assert conv["standard_tenor"] == ref["standard"] == "10Y"
    assert conv["standard"]["maturity"] == ref["standard_maturity"]
    for ours, theirs in [
        ("defaulted_par_rate", "par_rate"),
        ("defaulted_svf", "svf"),
        ("standard_par_rate", "standard_par_rate"),
        ("standard_svf", "standard_svf"),
    ]:
        assert float(conv[ours]) == float(ref[theirs])
    assert conv["hedge_notional"] == str(round(float(ref["hedge_notional"])))
    assert lot["curve_id"] == replay.result["curve_id"]
    assert lot["eligible"] == ["Bank-A", "Bank-B", "Bank-E", "MM-1", "MM-2"]


def test_award_and_settlement_ledger_to_the_cent(basic: DefaultReplay) -> None:
    [auction] = basic.result["auctions"]
    assert auction["phase"] == "SETTLED"
    assert auction["award"]["member"] == "MM-1" and auction["award"]["amount"] == "12200.00"
    grades = {g["member"]: g["grade"] for g in auction["grades"]}
    assert grades == {
        "Bank-A": "COMPETITIVE",
        "Bank-E": "NO_BID",
        "MM-1": "WINNER",
        "MM-2": "SHORT",
    }
    [settlement] = basic.result["settlements"]
    assert settlement["shortfall"] == "137.67" and settlement["collateral_charge"] == "0.00"
    # the default's netted loss (one lot) is taken from Dealer-D's margin by the waterfall
    [allocation] = basic.result["allocations"]
    assert (allocation["net_result"], allocation["loss"]) == ("-137.67", "137.67")
    assert allocation["steps"][0] == {
        "layer": "DEFAULTER_MARGIN",
        "member": "Dealer-D",
        "tier": None,
        "available": "500000.00",
        "used": "137.67",
    }
    result = basic.result
    assert account(result, "MM-1")["cash"] == "-12200.00"
    assert account(result, "CCP")["cash"] == "12337.67"
    assert account(result, "Dealer-D")["collateral"] == "499862.33"
    assert account(result, "Dealer-D")["positions"] == []
    won = account(result, "MM-1")["positions"]
    assert [(p["side"], p["notional"], p["fixed_rate"], p["maturity"]) for p in won] == [
        ("PAYER", "10000000", "0.0515", "2017-12-14")
    ]
    ccp = {p["position_id"]: p for p in account(result, "CCP")["positions"]}
    assert ccp["D-9.5y@CCP"]["side"] == "PAYER"
    assert ccp["Dealer-D-1/D-9.5y/CCP"]["side"] == "RECEIVER"
    assert ccp["Dealer-D-1/hedge/1"]["external"] is True


def test_both_journals_replay_into_identical_state(basic: DefaultReplay) -> None:
    events = [
        cev.event_from_dict(json.loads(json.dumps(e.to_dict()))) for e in basic.clearing_events
    ]
    house = ClearingHouse.from_events(events)
    assert house.ledger() == basic.result["ledger"]
    for history in basic.auction_events.values():
        replay = DefaultAuction.from_events(
            [aev.event_from_dict(json.loads(json.dumps(e.to_dict()))) for e in history]
        )
        assert replay.result() == basic.result["auctions"][0]


def test_no_bids_assignment_is_reproducible() -> None:
    first = run_default(load_default_scenario(EXAMPLES / "no_bids.json"))
    second = run_default(load_default_scenario(EXAMPLES / "no_bids.json"))
    [award] = [a["award"] for a in first.result["auctions"]]
    assert award["method"] == "ASSIGNMENT" and award["amount"] == "12337.67"
    assert award["seed"] == 424242 and award["member"] in award["pool"]
    assert first.result == second.result


def test_positive_rcv_takes_offers() -> None:
    replay = run_default(load_default_scenario(EXAMPLES / "positive_rcv.json"))
    [lot] = replay.result["lots"]
    assert (lot["rcv"], lot["implied_bid"]) == ("12337.67", "-12337.67")
    [auction] = replay.result["auctions"]
    assert auction["award"]["member"] == "Bank-C"
    assert auction["award"]["amount"] == "-12400.00"
    assert account(replay.result, "Bank-C")["cash"] == "12400.00"
    assert account(replay.result, "Bank-R")["collateral"] == "1999937.67"
    assert replay.result["defaults"][0]["basis"] == "OPERATOR"
