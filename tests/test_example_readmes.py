"""The example READMEs run as written: every ``closeout`` command they show (indented or in a
``sh`` block) runs offline from a checkout and succeeds, and the pricing README's reference
table is what ``closeout price swaps`` prints."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLOSEOUT = [sys.executable, "-c", "from clients.cli import main; main()"]
PATIENCE = 120.0  # a guard against a hung child, not a measurement
READMES = sorted((ROOT / "examples").glob("*/README.md"))


def commands(readme: Path) -> list[list[str]]:
    """The offline ``closeout`` commands of ``readme`` (continuations joined, comments cut)."""
    lines = readme.read_text(encoding="utf-8").splitlines()
    found: list[list[str]] = []
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith("closeout "):
            while line.endswith("\\") and i + 1 < len(lines):
                i += 1
                line = line[:-1] + " " + lines[i].strip()
            words = shlex.split(line.split(" # ", 1)[0])[1:]
            if "--target" not in words:
                found.append(words)
        i += 1
    return found


CASES = [(r, c) for r in READMES for c in commands(r)]


def test_every_example_readme_shows_commands() -> None:
    assert {r.parent.name for r, _ in CASES} >= {"default", "pricing"}


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSEOUT_")}
    env |= {"PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    return subprocess.run(
        [*CLOSEOUT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=PATIENCE
    )


@pytest.mark.parametrize(
    ("readme", "args"), CASES, ids=[f"{r.parent.name}: {' '.join(c[:2])}" for r, c in CASES]
)
def test_example_readme_command_runs_as_written(
    readme: Path, args: list[str], tmp_path: Path
) -> None:
    (tmp_path / "examples").symlink_to(ROOT / "examples")  # files it writes land in tmp_path
    done = _run(args, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr


def test_pricing_readme_table_is_what_price_swaps_prints(tmp_path: Path) -> None:
    text = (ROOT / "examples" / "pricing" / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| ([^|]+?) \| ([-+][\d,.]+) \| ([\d.]+)% \| ([\d.]+) \|$", text, re.M)
    assert len(rows) == 3
    done = _run(["price", "swaps", "examples/pricing/patent_example.json", "--json"], ROOT)
    assert done.returncode == 0, done.stderr
    printed = {s["id"]: s for s in json.loads(done.stdout, parse_float=Decimal)["swaps"]}
    half_digit = Decimal("0.000005")  # the README rounds to five decimals
    for name, npv, rate, svf in rows:
        swap = printed[name]
        assert Decimal(swap["npv"]) == Decimal(npv.replace(",", "").replace("+", ""))
        assert abs(Decimal(swap["par_rate"]) * 100 - Decimal(rate)) < half_digit
        assert abs(Decimal(swap["svf"]) - Decimal(svf)) < half_digit
