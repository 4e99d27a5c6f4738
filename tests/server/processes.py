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


class ServeProcess:
    """``closeout serve`` on a fixed port, optionally ``--standby``, whose log is read line by
    line: for the failover test, where a standby opens its port only once it leads."""

    def __init__(self, proc: asyncio.subprocess.Process, listen: str) -> None:
        self.proc = proc
        self.target = listen
        self.log: list[str] = []
        self._drain: asyncio.Future[None] | None = None

    @classmethod
    async def start(
        cls, config: Path, journal: Path | str, listen: str, *, standby: bool = False
    ) -> ServeProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSEOUT_")}
        env["PYTHONPATH"] = str(ROOT)
        flags = ["--standby"] if standby else []
        proc = await asyncio.create_subprocess_exec(
            *CLOSEOUT, "serve", "--config", str(config), "--listen", listen,
            "--journal", str(journal), *flags, env=env, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        return cls(proc, listen)

    async def wait_for(self, pattern: str) -> str:
        """The next log line matching ``pattern``; fails if the process exits first."""
        assert self.proc.stderr is not None
        while True:
            raw = await asyncio.wait_for(self.proc.stderr.readline(), PATIENCE)
            if not raw:
                pytest.fail(f"closeout serve exited waiting for {pattern!r}:\n{''.join(self.log)}")
            self.log.append(raw.decode())
            if re.search(pattern, self.log[-1]):
                return self.log[-1]

    def drain(self) -> None:
        """Keep reading the log in the background (a full pipe would block the server)."""

        async def read() -> None:
            assert self.proc.stderr is not None
            async for raw in self.proc.stderr:
                self.log.append(raw.decode())

        self._drain = asyncio.ensure_future(read())

    async def kill(self) -> None:
        """SIGKILL (no shutdown of any kind) and reap."""
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()
        if self._drain is not None:
            await self._drain


def free_port() -> int:
    """A port free on 127.0.0.1 now (another process could take it; good enough for tests)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
