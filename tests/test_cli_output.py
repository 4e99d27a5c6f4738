"""What the CLI prints, as a newcomer sees it: the README's scheduled-window example (times
relative to now) schedules an auction on a real ``closeout serve``. (Tables never cutting a
number: ``tests/test_cli_tables.py``.)"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server.processes import ROOT, serve

CLOSEOUT = [sys.executable, "-c", "from clients.cli import main; main()"]
PATIENCE = 60.0  # a guard against a hung child, not a measurement


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSEOUT_")}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


def readme_schedule_block() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"```sh\n(\$C cds create demo-2 .*?)```", text, re.S)
    assert found is not None, "the README shows a scheduled window"
    return found.group(1)


@pytest.mark.slow
async def test_readme_scheduled_window_example_schedules_an_auction(tmp_path: Path) -> None:
    block = readme_schedule_block()
    assert "$(date -u -d '+" in block  # relative to now, never a fixed date
    wrapper = tmp_path / "closeout"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} -c "{CLOSEOUT[2]}" "$@"\n')
    wrapper.chmod(0o755)
    config = ROOT / "examples" / "server" / "closeout.toml"
    async with serve(config, tmp_path / "j.sqlite") as (_, address):
        env = _env(CLOSEOUT_TARGET=address, C=str(wrapper))
        done = await asyncio.to_thread(
            subprocess.run, ["bash", "-euc", block], cwd=ROOT, env=env, capture_output=True,
            text=True, timeout=PATIENCE,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "auction demo-2 created" in done.stdout
        listing = await asyncio.to_thread(
            subprocess.run, [*CLOSEOUT, "auctions", "--token", "demo-operator-token"], env=env,
            capture_output=True, text=True, timeout=PATIENCE, check=True,
        )  # fmt: skip
        row = next(line for line in listing.stdout.splitlines() if "demo-2" in line)
        assert "SCHEDULED" in row or "CREATED" in row, listing.stdout
