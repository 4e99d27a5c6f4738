"""``closeout price swaps|convert``: tables by default, JSON with decimal strings on --json."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from clients.cli import app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "pricing"


def test_swaps_json_matches_the_reference_table() -> None:
    result = CliRunner().invoke(
        app, ["price", "swaps", str(EXAMPLES / "patent_example.json"), "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert [row["npv"] for row in out["swaps"]] == ["-117961.12", "-130298.79", "12337.67"]
    assert set(out["swaps"][0]) >= {"npv", "par_rate", "svf", "pv01", "dv01"}
    assert all(isinstance(v, str) for row in out["swaps"] for v in row.values())


def test_convert_json_gives_rcv_and_implied_bid() -> None:
    path = str(EXAMPLES / "patent_example.json")
    result = CliRunner().invoke(app, ["price", "convert", path, "--json"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.output)["swaps"][1]
    assert (row["standard"], row["rcv"], row["implied_bid"]) == ("10Y", "-12337.67", "12337.67")


def test_tables_by_default() -> None:
    for command in ("swaps", "convert"):
        path = str(EXAMPLES / "patent_example.json")
        result = CliRunner().invoke(app, ["price", command, path], env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        assert "9.5y defaulted" in result.output
        assert "-130298.79" in result.output


def test_every_example_runs() -> None:
    files = sorted(EXAMPLES.glob("*.json"))
    assert files
    for path in files:
        for command in ("swaps", "convert"):
            result = CliRunner().invoke(app, ["price", command, str(path), "--json"])
            assert result.exit_code == 0, (path.name, command, result.output)
