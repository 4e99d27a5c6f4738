"""``closeout cds run``: every example scenario runs, the JSON is the engine's result, the
published cases come out as published, and bad scenarios are refused naming the entry."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clients.cli import app
from clients.replay import run_offline
from clients.scenario import ScenarioError, load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples" / "cds").glob("*.json"))
DATA = ROOT / "tests" / "data" / "cds_auctions"
runner = CliRunner()


def run_json(path: Path) -> dict[str, object]:
    result = runner.invoke(app, ["cds", "run", str(path), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "path",
    [p for p in EXAMPLES if "rejected" not in p.name and "auction_set" not in p.name],
    ids=lambda p: p.stem,
)
def test_example_json_equals_engine_result(path: Path) -> None:
    out = run_json(path)
    replay = run_offline(load_scenario(path))
    assert out == {**replay.result.to_dict(), "notes": replay.notes}
    assert out["status"] in {"FINAL", "FAILED", "CANCELLED"}


@pytest.mark.parametrize(
    ("example", "published"),
    [
        ("hertz_2020.json", "hertz_2020.json"),
        ("movie_gallery_2007_lcds.json", "movie_gallery_2007_lcds.json"),
    ],
)
def test_published_examples_reproduce_publication(example: str, published: str) -> None:
    out = run_json(ROOT / "examples" / "cds" / example)
    pub = json.loads((DATA / published).read_text(), parse_float=Decimal)["published"]
    assert Decimal(str(out["initial_market_midpoint"])) == pub["imm"]
    assert Decimal(str(out["final_price"])) == pub["final_price"]
    oi = out["open_interest"]
    assert isinstance(oi, dict)
    assert oi["side"] == pub["open_interest"]["direction"].upper()
    assert Decimal(oi["size"]) == pub["open_interest"]["size_mm"] * 1_000_000
    assert sorted((a["dealer"], a["amount"]) for a in out["adjustment_amounts"]) == sorted(  # type: ignore[attr-defined]
        (a["dealer"], str(a["amount"])) for a in pub["adjustment_amounts"]
    )


def test_tables_are_printed_without_json() -> None:
    result = runner.invoke(app, ["cds", "run", str(ROOT / "examples/cds/hertz_2020.json")])
    assert result.exit_code == 0
    for heading in ("Matched markets", "Adjustment amounts", "Limit orders", "26.375"):
        assert heading in result.stdout


def test_wrong_side_scenario_is_refused_naming_the_entry() -> None:
    result = runner.invoke(app, ["cds", "run", str(ROOT / "examples/cds/rejected_wrong_side.json")])
    assert result.exit_code == 2
    assert "limit_orders[0] (B)" in result.stderr
    assert "only BID limit orders take part" in result.stderr


@pytest.mark.parametrize(
    ("patch", "where", "words"),
    [
        (
            {"initial_markets": [{"dealer": "A", "bid": "40", "offer": "41", "colour": "red"}]},
            "initial_markets[0] (A)",
            "unknown field(s) colour",
        ),
        (
            {"initial_markets": [{"dealer": "A", "bid": "40.1", "offer": "41"}]},
            "initial_markets[0] (A)",
            "bid: 40.1 is not on the 0.125 price grid",
        ),
        (
            {"initial_markets": [{"dealer": "A", "bid": "37", "offer": "41"}]},
            "initial_markets[0] (A)",
            "exceeds the maximum",
        ),
        (
            {
                "physical_settlement_requests": [
                    {"dealer": "A", "side": "SELL", "size": "5", "market_position": "4"}
                ]
            },
            "physical_settlement_requests[0] (A)",
            "exceeds the attested market position",
        ),
        (
            {
                "physical_settlement_requests": [
                    {
                        "dealer": "A",
                        "side": "SELL",
                        "size": "5",
                        "market_position": {"side": "BUY", "size": "9"},
                    }
                ]
            },
            "physical_settlement_requests[0] (A)",
            "against the attested BUY market position",
        ),
        (
            {"auction": {"id": "x", "quotation_amount": "2000000", "max_spread": "2", "cap": "1"}},
            "auction",
            "unknown field(s) cap",
        ),
    ],
)
def test_bad_scenarios_name_entry_and_rule(
    patch: dict[str, object], where: str, words: str
) -> None:
    doc: dict[str, object] = {
        "auction": {"id": "x", "quotation_amount": "2000000", "max_spread": "2"},
        "initial_markets": [{"dealer": "A", "bid": "40", "offer": "41"}],
        **patch,
    }
    with pytest.raises(ScenarioError) as info:
        run_offline(parse_scenario(json.dumps(doc)))
    assert info.value.where == where
    assert words in info.value.message


def test_json_numbers_are_read_as_exact_decimals() -> None:
    doc = (
        '{"auction": {"id": "x", "quotation_amount": 2000000, "max_spread": 2},'
        ' "initial_markets": [{"dealer": "A", "bid": 25.375, "offer": 27.375}]}'
    )
    out = run_offline(parse_scenario(doc)).result
    assert out.initial_market_midpoint == "26.375"


def test_console_script_runs_as_installed() -> None:
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "closeout"),
            "cds",
            "run",
            str(ROOT / "examples/cds/midpoint_tie.json"),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["initial_market_midpoint"] == "40.625"


def test_tables_show_what_does_not_count_and_the_declines() -> None:
    path = ROOT / "examples" / "cds" / "published_names_and_customers.json"
    result = runner.invoke(app, ["cds", "run", str(path)])
    assert result.exit_code == 0, result.output
    for heading in (
        "Settlement requests that do not count",
        "Limit orders that do not count",
        "Customer requests declined",
    ):
        assert heading in result.stdout
