"""Smoke test of the restart bench (``python -m bench.replay``) at a tiny size: it builds a
journal, restarts a real server process and an in-process server on it, and reports every
record replayed. No timing assertions: the bench measures; this checks what it counts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_replay_bench_restarts_on_what_it_built_and_reports_every_record(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "r.sqlite"
    command = [sys.executable, "-m", "bench.replay", "--journal", str(journal)]
    done = subprocess.run(
        [*command, "--orders", "300", "--rounds", "1", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    built = next(line for line in done.stdout.splitlines() if line.startswith("built "))
    records = int(built.split()[1])
    assert records == 300 + 9  # the orders, plus creation, stage 1 (4 markets, 1 request), phases
    summary = json.loads(done.stdout.splitlines()[-1])
    assert summary["records"] == records
    assert len(summary["process_start_to_serving_s"]) == 1
    assert summary["best_process_s"] > 0 and summary["best_records_per_s"] > 0
    # A second run reuses the journal instead of building it again.
    again = subprocess.run(
        [*command, "--rounds", "1", "--json"], capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0, again.stderr
    assert not any(line.startswith("built ") for line in again.stdout.splitlines())
    assert json.loads(again.stdout.splitlines()[-1])["records"] == records
