"""CPU-heavy work (pricing requests, margin runs, defaults, conversions) off the event loop, in
worker processes, bounded per role.

The event loop serves every call, the window scheduler and the journal's acknowledgements;
a margin run of 300 scenarios or a 20,000-swap pricing request computed on it would hold
all of them. Worker *threads* do not solve it: the pricing is mostly pure Python and holds
the GIL, so the loop gets a turn only between the interpreter's switch intervals and a
dealer's submission waited seconds (eight 20,000-swap requests: bids' p99 over 3 s). So
:meth:`Compute.run` hands the work to a dedicated pool of worker **processes** (started on
first use, with ``spawn``: never ``fork`` a process that runs gRPC's threads), and admits at
most ``limits[role]`` computations in progress per role: one over the limit is refused at
once with RESOURCE_EXHAUSTED rather than queued without bound, so observers pricing large
books cannot hold back operators' margin runs, nor the dealers' submissions.

What runs there must be a module-level function of picklable arguments that returns a
picklable value: the pure pricing and valuation functions are (they read no server state;
the caller takes a snapshot of what they need on the loop and decides on the loop after).
Their errors (``DomainError``, ``PricingInputError``) come back unchanged. A worker that dies
under a computation (killed, out of memory) breaks its pool: the pool is replaced and the
work run once more; if that worker dies too, the caller gets UNAVAILABLE
(:class:`WorkerStopped`: retryable, nothing changed) and the server carries on with a new
pool. A caller that gives up does not stop a running computation, so it keeps its slot until
it finishes.
``Compute(processes=False)`` uses threads instead (for embedding and for the tests that hold
a computation half way with in-process gates).

This module holds no pricing or clearing rule and must never run work on the event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from matching.errors import LimitExceeded, Unavailable
from server.auth import current_principal
from server.config import Role

__all__ = ["DEFAULT_LIMITS", "DEFAULT_WORKERS", "Compute", "WorkerStopped"]

T = TypeVar("T")

#: Computations in progress at once, per role of the caller.
DEFAULT_LIMITS: Mapping[Role, int] = {
    Role.OPERATOR: 2,
    Role.OBSERVER: 1,
    Role.DEALER: 1,
    Role.MARKET_MAKER: 1,
    Role.CLEARING_MEMBER: 1,
}
#: Worker processes (the machine's cores are shared with the loop and the journal's writer).
DEFAULT_WORKERS = 2


class WorkerStopped(Unavailable):
    """The worker process stopped under a computation twice (its pool was replaced each
    time). Caller: retry; nothing was changed."""

    REASON = "WORKER_STOPPED"


class Compute:
    """A bounded pool of worker processes for CPU-heavy requests, with per-role admission."""

    def __init__(
        self,
        workers: int = DEFAULT_WORKERS,
        limits: Mapping[Role, int] = DEFAULT_LIMITS,
        *,
        processes: bool = True,
        initializer: Callable[..., object] | None = None,
        initargs: Sequence[Any] = (),
    ) -> None:
        self._workers = workers
        self._limits = dict(limits)
        self._processes = processes
        self._initializer = initializer
        self._initargs = tuple(initargs)
        self._running: dict[Role, int] = dict.fromkeys(Role, 0)
        self._executor: concurrent.futures.Executor | None = None
        #: Computations started, and worker pools lost to a dead worker (tests and metrics).
        self.started = 0
        self.crashes = 0

    def running(self, role: Role) -> int:
        """Computations of ``role`` in progress now."""
        return self._running[role]

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a worker; RESOURCE_EXHAUSTED if the caller's role is at its limit.
        Exceptions of ``fn`` propagate unchanged."""
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
        self.started += 1

        def release(_: object) -> None:
            self._running[role] -= 1

        for attempt in (1, 2):
            executor = self._pool()
            future = self._submit(executor, fn, args)
            # The slot is held until the work ends, even if the caller gives up before.
            self._running[role] += 1
            future.add_done_callback(release)
            try:
                return await asyncio.shield(future)
            except concurrent.futures.BrokenExecutor:
                # A worker died (killed, out of memory): the pool is unusable. Start a new
                # one and run the (pure) work again, once; a second failure is reported as
                # UNAVAILABLE (retryable: nothing was changed), and the next computation
                # gets a new pool, so the server stays whole.
                self._discard(executor)
                self.crashes += 1
                if attempt == 2:
                    raise WorkerStopped(
                        "the worker process computing this request stopped twice (killed or"
                        " out of memory); nothing was changed: retry later, or with a smaller"
                        " request"
                    ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _submit(
        self, executor: concurrent.futures.Executor, fn: Callable[..., T], args: tuple[Any, ...]
    ) -> asyncio.Future[T]:
        return asyncio.get_running_loop().run_in_executor(executor, fn, *args)

    def _discard(self, executor: concurrent.futures.Executor) -> None:
        if self._executor is executor:
            self._executor = None
            executor.shutdown(wait=False, cancel_futures=True)

    def _pool(self) -> concurrent.futures.Executor:
        if self._executor is None:
            if self._processes:
                self._executor = concurrent.futures.ProcessPoolExecutor(
                    max_workers=self._workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_worker_start,
                    initargs=(os.getpid(), self._initializer, self._initargs),
                )
            else:
                self._executor = concurrent.futures.ThreadPoolExecutor(
                    max_workers=self._workers,
                    thread_name_prefix="closeout-compute",
                    initializer=self._initializer,
                    initargs=self._initargs,
                )
        return self._executor

    def shutdown(self) -> None:
        """Stop the workers (running computations are abandoned; their callers are gone)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


def _worker_start(
    server_pid: int, initializer: Callable[..., object] | None, initargs: tuple[Any, ...]
) -> None:
    """Every worker process, first: die with the server. A server killed outright (SIGKILL,
    OOM) must not leave workers behind holding its pipes and CPU: on Linux the kernel sends
    the worker SIGKILL when its parent dies (``PR_SET_PDEATHSIG``)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != server_pid:  # the server died before the line above took effect
        os._exit(1)
    if initializer is not None:
        initializer(*initargs)


_PR_SET_PDEATHSIG = 1
