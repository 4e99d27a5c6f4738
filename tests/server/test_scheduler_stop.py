"""The window scheduler stops even when a cancellation is swallowed inside its loop.

On Python 3.11 ``asyncio.wait_for`` can swallow a cancellation that arrives as its wait ends
(and a command run through ``execute`` may catch one); ``stop`` must still return, or a
server's shutdown waits for ever (it once hung a full test run in a fixture's teardown)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any

from server.scheduler import WindowScheduler

NOW = datetime(2026, 1, 2, 9, 0, tzinfo=UTC)


class _Due:
    """An auction whose window is always due (each run calls ``execute`` once)."""

    auction_id = "A"

    def next_timer(self) -> tuple[datetime, str] | None:
        return NOW, "open"


async def test_stop_returns_when_the_loop_swallows_its_cancellation() -> None:
    entered = asyncio.Event()

    async def execute(auction_id: str, command: Any) -> None:
        entered.set()
        # A command that swallows its cancellation.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(0.01)

    auctions = [_Due()]
    scheduler = WindowScheduler("test", lambda: NOW, lambda: auctions, execute)
    await scheduler.start()
    await entered.wait()
    auctions.clear()  # from now on the loop would only wait, cancelled or poked
    stopping = asyncio.ensure_future(scheduler.stop())
    done, _ = await asyncio.wait([stopping], timeout=30)
    assert stopping in done, "stop() did not return: the scheduler loops on"
    stopping.result()
