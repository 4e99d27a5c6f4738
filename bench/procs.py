"""Child processes of the bench: servers started as subprocesses, measured through /proc.

:class:`ServerProcess` starts ``python -m <module> ...`` (a Closeout server or the empty
baseline server), waits for the ``PORT <n>`` line it prints once serving, and reads its CPU
time and resident memory from ``/proc/<pid>``. It is a context manager and always stops the
child it started (SIGTERM, then SIGKILL after a grace period), on errors and Ctrl-C too.

This module must never start anything that listens beyond 127.0.0.1, never signal a process
it did not start, and never leave a child running.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Self

__all__ = ["ServerProcess", "cpu_seconds", "rss_bytes"]

ROOT = Path(__file__).resolve().parents[1]
_TICKS = os.sysconf("SC_CLK_TCK")
STARTUP_PATIENCE = 60.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by process ``pid`` (all its threads)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def rss_bytes(pid: int) -> int:
    """Resident set size of process ``pid`` in bytes."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def _pump(stream: IO[str], lines: queue.Queue[str | None], keep: list[str]) -> None:
    for line in stream:
        lines.put(line)
        keep.append(line)
        del keep[:-50]
    lines.put(None)


class ServerProcess:
    """A server subprocess on 127.0.0.1; ``target``, ``pid``, ``cpu()``, ``rss()``."""

    def __init__(
        self,
        module: str,
        args: Sequence[str] = (),
        *,
        python: str | None = None,
        env: dict[str, str] | None = None,
        ready: str = r"^PORT (\d+)",
    ) -> None:
        self.command = [python or sys.executable, "-m", module, *args]
        self._ready = re.compile(ready)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSEOUT_")}
        self.env["PYTHONPATH"] = str(ROOT)
        self.env.update(env or {})
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0
        self._tail: list[str] = []

    @classmethod
    def closeout_serve(cls, config: Path, journal: Path) -> ServerProcess:
        """``closeout serve --config CONFIG`` on 127.0.0.1, any free port, on ``journal``."""
        server = cls(
            "clients.cli",
            [
                "serve",
                "--config",
                str(config),
                "--listen",
                "127.0.0.1:0",
                "--journal",
                str(journal),
            ],
            ready=r"serving on 127\.0\.0\.1:(\d+)",
        )
        server.command[1:3] = ["-c", "from clients.cli import main; main()"]
        return server

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def rss(self) -> int:
        return rss_bytes(self.pid)

    def start(self) -> Self:
        self.proc = subprocess.Popen(
            self.command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=self.env,
            cwd=ROOT,
        )
        assert self.proc.stdout is not None
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(
            target=_pump, args=(self.proc.stdout, lines, self._tail), daemon=True
        ).start()
        deadline = time.monotonic() + STARTUP_PATIENCE
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                self.stop()
                raise RuntimeError(f"{self.command[2]} did not start in time") from None
            if line is None:
                self.stop()
                raise RuntimeError(f"{self.command[2]} exited: {''.join(self._tail)[-2000:]}")
            if found := self._ready.search(line):
                self.port = int(found.group(1))
                return self

    def stop(self, grace: float = 10.0) -> int | None:
        """SIGTERM, wait up to ``grace`` seconds, then SIGKILL; returns the exit status."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
