"""Bench output: one JSON object and a Markdown report next to it, and a progress bar.

Files go to ``bench/out/`` (ignored by git) unless told otherwise: ``<name>.json`` and
``<name>.md``. This module formats and writes; it must never measure or decide anything.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["environment", "md_table", "progress", "write_report"]

DEFAULT_OUT = Path(__file__).resolve().parent / "out"


def environment() -> dict[str, Any]:
    """Where and when the figures were measured."""
    import grpc

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import os

    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "grpcio": grpc.__version__,
        "cpu": cpu,
        "cores": os.cpu_count(),
    }


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_report(name: str, data: dict[str, Any], markdown: str, out: Path | None) -> Path:
    """Write ``<name>.json`` and ``<name>.md`` into ``out``; returns the JSON path."""
    folder = out or DEFAULT_OUT
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (folder / f"{name}.md").write_text(markdown + "\n", encoding="utf-8")
    return path


class _Bar:
    def __init__(self, bar: Any, task: Any) -> None:
        self._bar, self._task = bar, task

    def advance(self, n: int) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, n)

    def reset(self, description: str, total: int) -> None:
        if self._bar is not None:
            self._bar.reset(self._task, total=total, description=description)


@contextmanager
def progress(enabled: bool) -> Iterator[_Bar]:
    """A rich progress bar on stderr (a no-op when disabled, e.g. with --json on a pipe)."""
    if not enabled:
        yield _Bar(None, None)
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        yield _Bar(bar, bar.add_task("starting", total=None))
