"""CPU-heavy work (pricing requests, margin runs) off the event loop, bounded per role.

The event loop serves every call, the window scheduler and the journal's acknowledgements;
a margin run of 300 scenarios or a 20,000-swap pricing request computed on it would hold
all of them. :meth:`Compute.run` hands such work to a dedicated, bounded pool of worker
threads (not the loop's default executor, which other code shares) and admits at most
``limits[role]`` computations in progress per role: one over the limit is refused at once
with RESOURCE_EXHAUSTED rather than queued without bound, so observers pricing large books
cannot hold back operators' margin runs, nor the dealers' submissions.

The work is plain numpy and Python; numpy releases the GIL for most of its array work, and
the loop gets it back between operations. A caller that gives up does not stop a running
computation, so it keeps its slot until it finishes.

This module holds no pricing or clearing rule and must never run work on the event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from matching.errors import LimitExceeded
from server.auth import current_principal
from server.config import Role

__all__ = ["DEFAULT_LIMITS", "DEFAULT_WORKERS", "Compute"]

T = TypeVar("T")

#: Computations in progress at once, per role of the caller.
DEFAULT_LIMITS: Mapping[Role, int] = {
    Role.OPERATOR: 2,
    Role.OBSERVER: 1,
    Role.DEALER: 1,
    Role.MARKET_MAKER: 1,
    Role.CLEARING_MEMBER: 1,
}
#: Worker threads (the machine's cores are shared with the loop and the journal's writer).
DEFAULT_WORKERS = 2


class Compute:
    """A bounded worker pool for CPU-heavy requests, with per-role admission."""

    def __init__(
        self, workers: int = DEFAULT_WORKERS, limits: Mapping[Role, int] = DEFAULT_LIMITS
    ) -> None:
        self._workers = workers
        self._limits = dict(limits)
        self._running: dict[Role, int] = dict.fromkeys(Role, 0)
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        #: Computations started (for tests and metrics).
        self.started = 0

    def running(self, role: Role) -> int:
        """Computations of ``role`` in progress now."""
        return self._running[role]

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on a worker thread; RESOURCE_EXHAUSTED if the caller's role is at its
        limit. Exceptions of ``fn`` propagate unchanged."""
        try:
            role = current_principal().role
        except RuntimeError:  # a server without the guard (the pricing library's own tests)
            role = Role.OBSERVER
        limit = self._limits.get(role, 1)
        if self._running[role] >= limit:
            raise LimitExceeded(
                f"{limit} computation(s) of role {role.value} already in progress;"
                " retry when one has finished"
            )
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=self._workers, thread_name_prefix="closeout-compute"
            )
        self._running[role] += 1
        self.started += 1
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, functools.partial(fn, *args))

        def release(_: object) -> None:
            self._running[role] -= 1

        future.add_done_callback(release)
        return await asyncio.shield(future)

    def shutdown(self) -> None:
        """Stop the workers (running computations finish first)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
