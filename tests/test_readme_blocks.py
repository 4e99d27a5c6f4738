"""The README's shell blocks run as written, and print what the README says they print.

Each ```sh block of README.md is named below with the test that runs it; a new block
without one fails :func:`test_every_readme_block_is_run`. The blocks run here go through
``bash`` word for word, with three substitutions a test needs: ``.venv/bin/`` is this
checkout's (a ``closeout`` that runs this tree, ``buf``), ``127.0.0.1:50051`` is a free
port (``$CLOSEOUT_LISTEN`` and ``$CLOSEOUT_TARGET`` carry it to commands that name none)
and the journals go to a temporary folder. A server a block starts in the background is waited
for, then stopped by its PID.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.test_cli_tables import figures

ROOT = Path(__file__).resolve().parents[1]
PATIENCE = 300.0  # a guard against a hung block, not a measurement
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS: list[str] = re.findall(r"```sh\n(.*?)```", README, re.S)

#: Each block (by the start of its first line) and what runs it.
RUN_BY = {
    "python3 -m venv .venv": "tests/test_readme.py (its two commands) and .ci/run",
    ".venv/bin/closeout cds run examples/cds/hertz_2020.json": "test_offline_blocks",
    "C=.venv/bin/closeout": "tests/server/test_cds_api.py::test_readme_commands_run_a_cds_auction",
    "$C cds create demo-2": "tests/test_cli_output.py::test_readme_scheduled_window_example_*",
    ".venv/bin/buf curl": "test_buf_curl_block",
    ".venv/bin/closeout serve --config examples/server/scenarios.toml &": (
        "test_serve_and_run_blocks"
    ),
    ".venv/bin/closeout default run examples/default/basic.json": "test_offline_blocks",
    ".venv/bin/closeout serve --config examples/server/default.toml &": (
        "tests/server/test_default_api.py::test_readme_commands_run_a_default_by_hand"
    ),
    ".venv/bin/closeout serve --config examples/server/default.toml --journal": (
        "test_serve_and_run_blocks"
    ),
    ".venv/bin/closeout serve & .venv/bin/closeout console": "tests/console (real processes)",
    ".venv/bin/python -m bench.serverproc": "tests/bench and tests/server/test_observability.py",
    ".venv/bin/closeout price convert": "test_offline_blocks",
    ".venv/bin/closeout bench default": "tests/bench/test_default_bench.py",
}


def block(start: str) -> str:
    [found] = [b for b in BLOCKS if b.startswith(start)]
    return found


def test_every_readme_block_is_run() -> None:
    for text in BLOCKS:
        assert any(text.startswith(k) for k in RUN_BY), f"no test runs this README block:\n{text}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _workspace(tmp_path: Path) -> Path:
    """A folder like a checkout: examples, and a .venv/bin whose commands run this tree."""
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    closeout = bin_dir / "closeout"
    closeout.write_text(
        f'#!/bin/sh\nexec {sys.executable} -c "from clients.cli import main; main()" "$@"\n'
    )
    closeout.chmod(0o755)
    (bin_dir / "python").symlink_to(sys.executable)
    buf = Path(sys.executable).parent / "buf"
    found = str(buf) if buf.exists() else shutil.which("buf")
    assert found, "buf is a test dependency (buf-bin): pip install -e '.[test]'"
    (bin_dir / "buf").symlink_to(found)
    return tmp_path


def _script(text: str, port: int) -> str:
    """The block for bash: a free port; each background server waited for, stopped at exit."""
    lines = ["set -eu", "PIDS=''", "trap 'for p in $PIDS; do kill $p 2>/dev/null; done' EXIT"]
    for line in text.replace("127.0.0.1:50051", f"127.0.0.1:{port}").splitlines():
        lines.append(line)
        if line.rstrip().endswith("&"):
            lines += [
                'PIDS="$PIDS $!"',
                f"until (exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null; do sleep 0.2; done",
            ]
    return "\n".join(lines) + "\n"


def run_block(text: str, workspace: Path, port: int = 0) -> subprocess.CompletedProcess[str]:
    port = port or _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSEOUT_")}
    env |= {
        "PYTHONPATH": str(ROOT),
        "COLUMNS": "200",
        "CLOSEOUT_LISTEN": f"127.0.0.1:{port}",
        "CLOSEOUT_TARGET": f"127.0.0.1:{port}",
        "CLOSEOUT_JOURNAL": str(workspace / "journal.sqlite"),
    }
    proc = subprocess.Popen(
        ["bash", "-c", _script(text, port)], cwd=workspace, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        out, err = proc.communicate(timeout=PATIENCE)
    finally:  # a hung block: stop it and whatever it started
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.parametrize(
    "start",
    [
        ".venv/bin/closeout cds run examples/cds/hertz_2020.json",
        ".venv/bin/closeout default run examples/default/basic.json",
        ".venv/bin/closeout price convert",
    ],
)
def test_offline_blocks(start: str, tmp_path: Path) -> None:
    text = block(start)
    done = run_block(text, _workspace(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    if "--json" in text:  # tables, then the same as JSON
        json.loads(done.stdout[done.stdout.index("\n{") :])


@pytest.mark.slow
def test_buf_curl_block(tmp_path: Path) -> None:
    """With demo-1 open (the block before it), the raw-protocol submission is acknowledged,
    and a price off the grid is refused with the BadRequest the README quotes."""
    workspace = _workspace(tmp_path)
    text = block(".venv/bin/buf curl")
    claimed = re.search(r"naming them \(`([^`]+)`\)", README)
    assert claimed is not None, "the README quotes the refusal"
    setup = (
        ".venv/bin/closeout serve &\n"
        "C=.venv/bin/closeout\n"
        "$C cds create demo-1 --panel dealer-a,dealer-b,dealer-c,dealer-d"
        " --token demo-operator-token\n"
        "$C cds open demo-1 --token demo-operator-token\n"
    )
    off_grid = text.replace('"bid": "39.5"', '"bid": "39.55"').replace('"m-1"', '"m-2"')
    assert off_grid != text
    script = f'{setup}{text.rstrip()}\n{off_grid.rstrip()} 2>&1 || echo "refused: $?"\n'
    done = run_block(script, workspace)
    assert done.returncode == 0, done.stderr
    ack, refusal = _json_objects(done.stdout)
    assert ack["ack"]["clientOrderId"] == "m-1"
    assert refusal["code"] == "invalid_argument"
    assert refusal["message"] == claimed.group(1)
    assert any(d["type"] == "google.rpc.BadRequest" for d in refusal["details"])
    assert done.stdout.rstrip().endswith("refused: 24")  # buf's exit status for a refusal


def _json_objects(printed: str) -> list[Any]:
    """The JSON objects printed, each starting on a line of its own."""
    decoder, found = json.JSONDecoder(), []
    for match in re.finditer(r"^\{", printed, re.M):
        found.append(decoder.raw_decode(printed[match.start() :])[0])
    return found


def _without(printed: str, pattern: str) -> Counter[str]:
    return figures(re.sub(pattern, "", printed))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("start", "offline", "draw"),
    [
        (
            ".venv/bin/closeout serve --config examples/server/scenarios.toml &",
            ["cds", "run", "examples/cds/hertz_2020.json"],
            r"^$",
        ),
        (
            ".venv/bin/closeout serve --config examples/server/default.toml --journal",
            ["default", "run", "examples/default/basic.json"],
            r"\(seed\s+\d+\)",  # the award seed is the one the server drew
        ),
    ],
    ids=["cds", "default"],
)
def test_serve_and_run_blocks(start: str, offline: list[str], draw: str, tmp_path: Path) -> None:
    """A scenario played through a live server prints the figures the offline run prints."""
    workspace = _workspace(tmp_path)
    done = run_block(block(start), workspace)
    assert done.returncode == 0, done.stderr
    alone = run_block(".venv/bin/closeout " + " ".join(offline), workspace)
    assert alone.returncode == 0, alone.stderr
    online, replayed = _without(done.stdout, draw), _without(alone.stdout, draw)
    assert replayed and not replayed - online, f"online:\n{done.stdout}\noffline:\n{alone.stdout}"
