"""Load processes started together: the one runner the ingest and default-auction benches share.

:func:`run_together` starts one ``spawn`` process per spec, waits until every one has put
``("ready", ...)`` on the shared queue, runs ``before_go`` (read the server's CPU time, open
the auction window), sets the start event, and collects every process's ``("done", value)``;
other messages go to ``on_message``. A ``("failed", text)`` from any process, or a process
that never answers, ends the run with an error. A worker is called as
``target(spec, n, out_queue, go_event, *extra_args)``.

This module must never leave a process running: every one it started is terminated, then
killed, on errors and Ctrl-C too.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import queue
import time
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["run_together", "spawn_context"]


def spawn_context() -> Any:
    """The process context every bench worker is started in (shared values come from it)."""
    return mp.get_context("spawn")


def run_together(
    target: Callable[..., None],
    specs: Sequence[Any],
    *,
    kind: str,
    time_cap: float,
    patience: float,
    extra_args: tuple[Any, ...] = (),
    before_go: Callable[[], None] | None = None,
    on_message: Callable[[str, Any], None] | None = None,
) -> list[Any]:
    """Run one process per spec (named ``bench-<kind>-<n>``), start them together and return
    their ``done`` values in the order they arrived. ``time_cap + patience`` bounds the run
    after the start, ``patience`` the wait for every process to be ready."""
    ctx = spawn_context()
    out: Any = ctx.Queue()
    go = ctx.Event()
    procs = [
        ctx.Process(
            target=target,
            args=(spec, n, out, go, *extra_args),
            daemon=True,
            name=f"bench-{kind}-{n}",
        )
        for n, spec in enumerate(specs)
    ]
    done: list[Any] = []
    try:
        for p in procs:
            p.start()
        ready = 0
        while ready < len(procs):
            message, value = _get(out, patience, procs, kind)
            if message == "ready":
                ready += 1
            elif message == "failed":
                raise RuntimeError(f"a {kind} process failed while starting: {value}")
        if before_go is not None:
            before_go()
        go.set()
        deadline = time.monotonic() + time_cap + patience
        while len(done) < len(procs):
            message, value = _get(out, max(1.0, deadline - time.monotonic()), procs, kind)
            if message == "done":
                done.append(value)
            elif message == "failed":
                raise RuntimeError(f"a {kind} process failed: {value}")
            elif on_message is not None:
                on_message(message, value)
        for p in procs:
            p.join(10)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join(5)
            if p.is_alive():
                p.kill()
                p.join()
        with contextlib.suppress(Exception):
            out.close()
    return done


def _get(out: Any, timeout: float, procs: Sequence[Any], kind: str) -> tuple[str, Any]:
    end = time.monotonic() + timeout
    while True:
        try:
            item: tuple[str, Any] = out.get(timeout=0.5)
            return item
        except queue.Empty:
            if time.monotonic() > end:
                raise TimeoutError(f"the {kind} processes did not answer in time") from None
            if all(not p.is_alive() for p in procs):
                raise RuntimeError(f"every {kind} process exited without a result") from None
