"""The window scheduler: runs auctions' scheduled phase changes on the server's clock.

Every engine with windows answers ``next_timer() -> (when, command name) | None``; the
scheduler runs each due command (``open_stage1``, ``close``, ...) as the participant
``scheduler`` through its registry's ``execute``, exactly like an operator's command, so it
is journaled before it takes effect. After downtime it catches up at once (an open can make
a close due immediately). A change that is no longer possible -- an operator got there
first -- is logged and skipped.

The task sleeps until the next window time, at most a second (the clock may be adjusted, or
faked in tests), and ``poke`` wakes it early when an auction is created or changes phase.
This module holds no auction rule and must never change an auction except through
``execute``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any, Protocol

from matching.errors import DomainError

__all__ = ["SCHEDULER", "Timed", "WindowScheduler"]

#: The participant id scheduled commands are recorded under.
SCHEDULER = "scheduler"

_log = logging.getLogger("closeout.scheduler")


class Timed(Protocol):
    """An auction with scheduled windows."""

    @property
    def auction_id(self) -> str: ...

    def next_timer(self) -> tuple[datetime, str] | None: ...


Execute = Callable[[str, Callable[[Any], Any]], Awaitable[Any]]


class WindowScheduler:
    """One task per registry that runs due phase changes through ``execute``."""

    def __init__(
        self,
        name: str,
        now: Callable[[], datetime],
        auctions: Callable[[], Iterable[Timed]],
        execute: Execute,
    ) -> None:
        self._name = name
        self._now = now
        self._auctions = auctions
        self._execute = execute
        self._poke = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def poke(self) -> None:
        """Re-read the timers now (an auction was created or changed phase)."""
        self._poke.set()

    async def start(self) -> None:
        """Start the task; it first catches up on windows due while the server was down."""
        self._task = asyncio.create_task(self._run(), name=f"{self._name}-window-scheduler")

    async def stop(self) -> None:
        """Stop the task.

        A flag as well as the cancellation: on Python 3.11 ``asyncio.wait_for`` (and any code
        that catches ``CancelledError``) can swallow a cancellation that arrives just as its
        wait ends, and the task would then loop on while ``stop`` waits for it for ever.
        """
        self._stopping = True
        if self._task is not None:
            self._poke.set()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def run_due(self) -> int:
        """Run every scheduled phase change that is due now; returns how many ran."""
        ran = 0
        progressed = True
        while progressed:
            progressed = False
            now = self._now()
            for auction in list(self._auctions()):
                timer = auction.next_timer()
                if timer is None or timer[0] > now:
                    continue
                name = timer[1]
                try:
                    await self._execute(
                        auction.auction_id,
                        lambda a, name=name, now=now: getattr(a, name)(by=SCHEDULER, now=now),  # type: ignore[misc]
                    )
                except DomainError as exc:
                    _log.warning("scheduled %s of %s skipped: %s", name, auction.auction_id, exc)
                    continue
                ran += 1
                progressed = True
        return ran

    async def _run(self) -> None:
        while not self._stopping:
            self._poke.clear()
            await self.run_due()
            timers = [t[0] for a in self._auctions() if (t := a.next_timer()) is not None]
            delay = 1.0
            if timers:
                delay = min(delay, max(0.0, (min(timers) - self._now()).total_seconds()))
            if self._stopping:
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._poke.wait()
