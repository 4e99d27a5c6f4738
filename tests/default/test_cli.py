"""``closeout default run``: every example runs, its JSON is the runner's result, tables print,
exports are written, and refused scenarios exit 2 naming the entry."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from clients.cli import app
from clients.default_replay import run_default
from clients.default_scenario import load_default_scenario
from matching.clearing import events as cev
from matching.clearing.state import ClearingHouse

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples" / "default").glob("*.json"))
runner = CliRunner()


def run_json(path: Path) -> dict[str, Any]:
    result = runner.invoke(app, ["default", "run", str(path), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "path", [p for p in EXAMPLES if "rejected" not in p.name], ids=lambda p: p.stem
)
def test_example_json_equals_the_runners_result(path: Path) -> None:
    out = run_json(path)
    replay = run_default(load_default_scenario(path))
    assert out == {**replay.result, "notes": replay.notes}
    # every auction settles, or was cancelled and followed by one that did (re-auction)
    assert {a["phase"] for a in out["auctions"]} <= {"SETTLED", "CANCELLED"}
    assert all(lot["status"] in ("SETTLED", "WITHDRAWN") for lot in out["lots"])


def test_the_examples_cover_the_required_cases() -> None:
    names = {p.stem for p in EXAMPLES}
    assert {
        "basic",
        "no_bids",
        "positive_rcv",
        "two_currencies",
        "reauction",
        "stuck_lot_resolves",
        "mutualised_loss",
    } <= names


def test_tables_are_printed_without_json() -> None:
    result = runner.invoke(app, ["default", "run", str(ROOT / "examples/default/basic.json")])
    assert result.exit_code == 0, result.output
    for text in ("Margin run", "Lot Dealer-D-1", "awarded to MM-1", "Settlement", "ledger"):
        assert text in result.stdout


@pytest.mark.parametrize(
    ("example", "where", "words"),
    [
        ("rejected_ineligible.json", "bids[1] (Bank-C)", "not eligible"),
        ("rejected_late_bid.json", "bids[1] (MM-2)", "closed at"),
    ],
)
def test_refused_examples_exit_2_naming_the_entry(example: str, where: str, words: str) -> None:
    result = runner.invoke(app, ["default", "run", str(ROOT / "examples/default" / example)])
    assert result.exit_code == 2
    assert where in result.stderr and words in result.stderr


def patched(tmp_path: Path, change: Any) -> Path:
    doc = json.loads((ROOT / "examples/default/basic.json").read_text())
    change(doc)
    path = tmp_path / "s.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: d["members"][0].update(colour="red"), "members[0] (Dealer-D): unknown field"),
        (lambda d: d.update(extra=1), "unknown field(s) extra"),
        (lambda d: d["positions"][1].update(notional="-5"), "positions[1] (A-9.5y).notional"),
        (lambda d: d["positions"][0].update(fixed_rate=True), "positions[0] (D-9.5y).fixed_rate"),
        (lambda d: d["members"][2].update(role="BOSS"), "members[2] (Bank-B).role"),
        (lambda d: d["bids"][0].update(lot="nope"), "bids[0] (Bank-A): no lot 'nope'"),
        (lambda d: d["bids"][0].update(amount="1.001"), "bids[0] (Bank-A): amount"),
        (lambda d: d["bids"][0].update(withdraw=True), "bids[0] (Bank-A): give an amount"),
        (lambda d: d["market"]["curve"].pop("quotes"), "market.curve.quotes"),
        (lambda d: d.update(default={"basis": "operator", "member": "Bank-A"}), "default"),
        (lambda d: d["auction"].update(reserve="1", reserve_bp="2"), "reserve or reserve_bp"),
        (lambda d: d["members"][0].update(collateral="5000000"), "no member falls short"),
    ],
)
def test_bad_scenarios_are_refused_naming_the_entry(
    tmp_path: Path, change: Any, words: str
) -> None:
    result = runner.invoke(app, ["default", "run", str(patched(tmp_path, change))])
    assert result.exit_code == 2, result.output
    assert "scenario refused" in result.stderr
    assert words in result.stderr.replace("\n", " ")


def test_json_numbers_are_exact_decimals(tmp_path: Path) -> None:
    text = (ROOT / "examples/default/basic.json").read_text()
    path = tmp_path / "n.json"
    path.write_text(text.replace('"amount": "12200.00"', '"amount": 12200.10'))
    out = run_json(path)
    assert out["auctions"][0]["award"]["amount"] == "12200.10"


def test_exports_and_journal(tmp_path: Path) -> None:
    csv_path, json_path, journal = tmp_path / "i.csv", tmp_path / "i.json", tmp_path / "j.jsonl"
    result = runner.invoke(
        app,
        [
            "default",
            "run",
            str(ROOT / "examples/default/basic.json"),
            "--json",
            "--instructions-csv",
            str(csv_path),
            "--instructions-json",
            str(json_path),
            "--journal",
            str(journal),
            "--grades-csv",
            str(tmp_path / "g.csv"),
        ],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    rows = list(csv.DictReader(csv_path.open()))
    assert [r["kind"] for r in rows] == ["POSITION", "POSITION", "CASH", "COLLATERAL"]
    assert rows[2]["amount"] == "12200.00" and rows[3]["amount"] == "137.67"
    assert json.loads(json_path.read_text()) == out["instructions"]
    grades = {r["member"]: r["grade"] for r in csv.DictReader((tmp_path / "g.csv").open())}
    assert grades == {
        "Bank-A": "COMPETITIVE",
        "Bank-E": "NO_BID",
        "MM-1": "WINNER",
        "MM-2": "SHORT",
    }
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    clearing = [
        cev.event_from_dict({k: v for k, v in r.items() if k != "journal"})
        for r in records
        if r["journal"] == "clearing"
    ]
    assert ClearingHouse.from_events(clearing).ledger() == out["ledger"]
    assert {r["type"] for r in records if r["journal"] == "auction"} >= {
        "DefaultAuctionCreated",
        "DefaultBidSubmitted",
        "DefaultLotAwarded",
        "DefaultAuctionSettled",
    }
