"""CLI tables never cut, wrap or elide a number, at any width, piped or not.

Every table-printing example command runs as a process, piped, at 80 columns (the width a
pipe gets): every money/size/price figure of its ``--json`` output must come out whole. The
widest tables of each kind also run at 40 and 24 columns, where every number and date that a
very wide run prints must come out whole. A property checks the shared table class at any
width, and no CLI module prints another kind of table."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from rich.console import Console

from clients.tables import Table

ROOT = Path(__file__).resolve().parents[1]
CLOSEOUT = [sys.executable, "-c", "from clients.cli import main; main()"]
PATIENCE = 120.0  # a guard against a hung child, not a measurement
WIDE = 1000
NARROW = (40, 24)
# The --json keys whose values are money, sizes or prices that the tables show.
FIGURE_KEYS = {
    "size", "amount", "bid", "offer", "final_price", "filled", "initial_market_midpoint",
    "requirement", "collateral", "shortfall", "rcv", "implied_bid", "npv", "dv01", "pv01",
}  # fmt: skip
NOT_SHOWN = {"convert": {"dv01", "pv01"}}  # price convert shows the conversion, not the risk


def _examples(kind: str) -> list[str]:
    """The example scenarios of ``kind`` (the rejected_* ones end in their refusal, no table)."""
    found = sorted((ROOT / "examples" / kind).glob("*.json"))
    return [str(p) for p in found if not p.stem.startswith("rejected_")]


COMMANDS = [
    *(["cds", "run", p] for p in _examples("cds")),
    *(["default", "run", p] for p in _examples("default")),
    *(["price", verb, str(p)] for verb in ("swaps", "convert") for p in _examples("pricing")),
]


def _env(columns: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSEOUT_")}
    env.pop("TERM", None)
    return {**env, "PYTHONPATH": str(ROOT), "COLUMNS": str(columns)}


def _run(args: list[str], columns: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLOSEOUT, *args], cwd=ROOT, env=_env(columns), capture_output=True, text=True,
        timeout=PATIENCE,
    )  # fmt: skip


NUMBER = re.compile(r"[-+]?\d[\d,]*(\.\d+)?%?|\d{4}-\d{2}-\d{2}")


def figures(text: str) -> Counter[str]:
    """The numbers and dates printed, without the table's borders or a sentence's punctuation."""
    words = (w.strip("()[],;:") for w in re.split(r"[\s│┃|]+", text))
    return Counter(w for w in words if NUMBER.fullmatch(w))


def _json_figures(found: Any, keys: set[str], key: str | None = None) -> Iterator[str]:
    if isinstance(found, dict):
        for k, v in found.items():
            yield from _json_figures(v, keys, k)
    elif isinstance(found, list):
        for v in found:
            yield from _json_figures(v, keys, key)
    elif key in keys and isinstance(found, str) and re.fullmatch(r"-?\d+(\.\d+)?", found):
        yield found


def _bare(figure: str) -> str:
    return figure.replace(",", "").lstrip("+")


def _json_figures_of(args: list[str]) -> set[str]:
    as_json = _run([*args, "--json"], WIDE)
    assert as_json.returncode == 0, as_json.stderr
    keys = FIGURE_KEYS - NOT_SHOWN.get(args[1], set())
    expected = set(_json_figures(json.loads(as_json.stdout), keys))
    assert expected, "the JSON holds figures"
    return expected


@pytest.mark.slow
@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join([*a[:2], Path(a[2]).stem]))
def test_every_json_figure_is_whole_in_the_piped_80_column_tables(args: list[str]) -> None:
    done = _run(args, 80)
    assert done.returncode == 0, done.stderr
    assert "…" not in done.stdout, "a cell was elided"
    shown = {_bare(f) for f in figures(done.stdout)}
    missing = {f for f in _json_figures_of(args) if f not in shown}
    assert not missing, f"not whole at 80 columns: {sorted(missing)}:\n{done.stdout}"


# The widest tables of each kind, also at narrow widths against a very wide run.
NARROW_CASES = [
    ["cds", "run", str(ROOT / "examples/cds/hertz_2020.json")],
    ["cds", "run", str(ROOT / "examples/cds/published_names_and_customers.json")],
    ["default", "run", str(ROOT / "examples/default/seasoned_swap.json")],
    ["default", "run", str(ROOT / "examples/default/mutualised_loss.json")],
    ["price", "convert", str(ROOT / "examples/pricing/patent_example.json")],
]


@pytest.mark.slow
@pytest.mark.parametrize("args", NARROW_CASES, ids=lambda a: " ".join([*a[:2], Path(a[2]).stem]))
def test_every_figure_is_whole_at_narrow_widths(args: list[str]) -> None:
    widths = [WIDE, *NARROW]
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(lambda w: _run(args, w), widths))
    for width, done in zip(widths, runs, strict=True):
        assert done.returncode == 0, f"COLUMNS={width}: {done.stderr}"
        assert "…" not in done.stdout, f"COLUMNS={width} elided a cell"
    wide = figures(runs[0].stdout)
    assert wide, "the command printed figures"
    for width, done in zip(NARROW, runs[1:], strict=True):
        missing = wide - figures(done.stdout)
        assert not missing, f"COLUMNS={width} broke {sorted(missing)}:\n{done.stdout}"


def test_every_cli_table_is_the_number_safe_one() -> None:
    """The live commands' tables (auctions, results, lots, ledgers, journal) print through the
    same class the property below checks: no CLI module builds a bare rich table."""
    for path in sorted((ROOT / "clients").rglob("*.py")):
        if path.name != "tables.py":
            text = path.read_text(encoding="utf-8")
            assert "from rich.table import" not in text, path
            assert "rich.table.Table(" not in text, path


_cells = st.one_of(
    st.decimals(min_value=-(10**12), max_value=10**12, places=2).map(lambda d: f"{d:,}"),
    st.integers(min_value=0, max_value=10**12).map(lambda i: f"{i:,}"),
    st.text(alphabet="abcdefghij -/", min_size=0, max_size=30),
)


@settings(max_examples=200, deadline=None)
@given(
    rows=st.integers(min_value=1, max_value=4).flatmap(
        lambda n: st.lists(st.lists(_cells, min_size=n, max_size=n), min_size=1, max_size=6)
    ),
    width=st.integers(min_value=20, max_value=160),
)
@example(rows=[["-1,000,000,000,000.00", "some words to wrap"]], width=21)
def test_a_table_keeps_every_number_whole_at_any_width(rows: list[list[str]], width: int) -> None:
    # Any width a figure fits in: a figure longer than the whole line (21 characters at 20
    # columns) cannot be printed on one line, and rich folds or crops what passes the edge.
    longest = max(len(f) for row in rows for cell in row for f in cell.split() or [""])
    assume(width >= longest)
    table = Table(title="t")
    for i in range(len(rows[0])):
        table.add_column(f"column {i}", overflow="fold")
    for row in rows:
        table.add_row(*row)
    console = Console(file=io.StringIO(), width=width, force_terminal=False, color_system=None)
    console.print(table)
    printed = console.file.getvalue()  # type: ignore[attr-defined]
    wanted = figures(" ".join(cell for row in rows for cell in row))
    assert not wanted - figures(printed), printed
    assert "…" not in printed
