"""Run ``closeout serve`` as a separate process for tests: start it, learn its port, kill it.

Shared by the crash tests. The child gets this interpreter and the repository on its path,
and no ``CLOSEOUT_*`` variable from the test's environment.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLOSEOUT = [sys.executable, "-c", "from clients.cli import main; main()"]
PATIENCE = 60.0  # a guard against a hung child process, not a measurement


@asynccontextmanager
async def serve(
    config: Path, journal: Path
) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """``closeout serve --config CONFIG`` on a free port: (process, "127.0.0.1:PORT")."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSEOUT_")}
    env["PYTHONPATH"] = str(ROOT)
    proc = await asyncio.create_subprocess_exec(
        *CLOSEOUT, "serve", "--config", str(config), "--listen", "127.0.0.1:0",
        "--journal", str(journal), env=env, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    try:
        while True:
            line = (await asyncio.wait_for(proc.stderr.readline(), PATIENCE)).decode()
            if not line:
                pytest.fail("closeout serve exited before serving")
            if found := re.search(r"serving on 127\.0\.0\.1:(\d+)", line):
                break
        yield proc, f"127.0.0.1:{found.group(1)}"
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
