"""CPU-heavy requests run off the event loop, in worker processes, bounded per role.

Each test holds a computation half way *inside the worker process* (a gate installed there
by the pool's initializer, released by the test), and checks what the server does meanwhile:
a member's bid, an operator's command and the window scheduler's close all complete while
an operator's margin run, default declaration or conversion, or an observer's pricing
request, is held; a second observer request over the role's limit is refused with
RESOURCE_EXHAUSTED; and the work ran in another process. Ordering only: nothing here
measures time (SAFETY only stops a broken server from hanging the suite).
"""

from __future__ import annotations

import asyncio
import importlib
import multiprocessing
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest

from clients.default_online import load_state
from clients.default_scenario import MARGIN_RUN
from clients.default_sdk import ClearingClient, MemberClient, member_to_proto
from closeout.v1 import clearing_pb2 as cpb
from closeout.v1 import pricing_pb2 as ppb
from closeout.v1 import pricing_pb2_grpc
from server.app import CloseoutServer
from server.clock import FakeClock
from server.compute import Compute
from server.default.registry import DefaultRegistry
from tests.pricing.test_pricing_service import _market, _swaps
from tests.server import test_default_api as dflt

#: A safety net so that a regression fails instead of hanging; never reached when it works.
SAFETY = 30.0
SPAWN = multiprocessing.get_context("spawn")


class ProcessGate:
    """Holds the first call of ``module.name`` in a worker process until released (and in
    this process too, so that work wrongly done on the event loop is held there, where the
    test then sees everything else wait behind it)."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name
        self.started = SPAWN.Event()
        self.release = SPAWN.Event()
        self.pid = SPAWN.Value("i", 0)

    def compute(self) -> Compute:
        args = (self.module, self.name, self.started, self.release, self.pid)
        return Compute(initializer=install_gate, initargs=args)

    async def wait_started(self) -> None:
        assert await asyncio.to_thread(self.started.wait, SAFETY), "the work never started"


def install_gate(module: str, name: str, started: Any, release: Any, pid: Any) -> None:
    """The worker's initializer: wrap ``module.name`` so that it waits for ``release``."""
    owner = importlib.import_module(module)
    setattr(owner, name, gated(getattr(owner, name), started, release, pid))


def gated(original: Callable[..., Any], started: Any, release: Any, pid: Any) -> Any:
    def held(*args: Any, **kwargs: Any) -> Any:
        pid.value = os.getpid()
        started.set()
        release.wait(SAFETY)
        return original(*args, **kwargs)

    return held


@asynccontextmanager
async def gated_server(
    tmp_path: Path, gate: ProcessGate, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[CloseoutServer, FakeClock]]:
    # The same gate in this process, for work that would (wrongly) run on the loop.
    owner = importlib.import_module(gate.module)
    monkeypatch.setattr(
        owner, gate.name, gated(getattr(owner, gate.name), gate.started, gate.release, gate.pid)
    )
    clock = FakeClock(dflt.opened_at(dflt.BASIC))
    server = CloseoutServer(dflt.config(tmp_path), clock=clock, compute=gate.compute())
    await server.start()
    try:
        yield server, clock
    finally:
        gate.release.set()
        await server.stop(grace=0)


def new_member(n: int) -> cpb.ClearingMember:
    return member_to_proto(f"Late-{n}", "CLEARING_MEMBER", False, "1000000")


async def held_while(
    gate: ProcessGate, heavy: Any, meanwhile: Callable[[], Any]
) -> tuple[list[str], Any]:
    """Start ``heavy``; once it is held in the worker, run ``meanwhile``; then release it.
    Returns the order in which they were answered, and the heavy call's answer."""
    order: list[str] = []
    task = asyncio.ensure_future(heavy)
    task.add_done_callback(lambda _: order.append("heavy answered"))
    await gate.wait_started()
    await meanwhile()
    order.append("meanwhile done")
    gate.release.set()
    return order, await task


async def test_a_bid_and_a_scheduled_close_go_on_while_a_margin_run_is_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = ProcessGate("server.default.valuation", "margin_requirements")
    async with gated_server(tmp_path, gate, monkeypatch) as (server, clock):
        where = dflt.target(server)
        async with ClearingClient(where, dflt.OPS) as ops:
            await load_state(ops, dflt.BASIC)
            gate.release.set()  # the first margin run goes through
            await ops.run_margin(MARGIN_RUN, dflt.MARKET)
            await ops.declare_default("Dealer-D", market=dflt.MARKET)
            await ops.convert("Dealer-D", dflt.MARKET, hedge=True)
            await ops.create_auction(dflt.LOT, grading_threshold="2500", window_seconds=600)
            await ops.open_window(dflt.LOT)
        gate.started.clear()
        gate.release.clear()
        async with (
            ClearingClient(where, dflt.OPS) as ops,
            MemberClient(where, dflt.TOKENS.members["MM-1"]) as mm1,
        ):

            async def meanwhile() -> None:
                await mm1.submit_bid(dflt.LOT, "b-1", "12200.00")
                clock.advance(timedelta(seconds=600))
                await server.state_of(DefaultRegistry).run_due()  # the scheduler's tick
                lot = await mm1.lot(dflt.LOT)
                assert lot.phase == cpb.DEFAULT_AUCTION_PHASE_CLOSED

            order, run = await held_while(
                gate, ops.run_margin(MARGIN_RUN + "-2", dflt.MARKET), meanwhile
            )
        assert order == ["meanwhile done", "heavy answered"]
        assert run.run.run_id == MARGIN_RUN + "-2"
        assert gate.pid.value not in (0, os.getpid())  # priced in a worker process


@pytest.mark.parametrize("step", ["declare", "convert"])
async def test_commands_go_on_while_a_default_or_a_conversion_is_priced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    name = "position_npvs" if step == "declare" else "conversions"
    gate = ProcessGate("server.default.valuation", name)
    async with gated_server(tmp_path, gate, monkeypatch) as (server, _):
        async with ClearingClient(dflt.target(server), dflt.OPS) as ops:
            await load_state(ops, dflt.BASIC)
            await ops.run_margin(MARGIN_RUN, dflt.MARKET)
            heavy: Awaitable[Any]
            if step == "convert":
                gate.release.set()
                await ops.declare_default("Dealer-D", market=dflt.MARKET)
                gate.started.clear()
                gate.release.clear()
                heavy = ops.convert("Dealer-D", dflt.MARKET, hedge=True)
            else:
                heavy = ops.declare_default("Dealer-D", market=dflt.MARKET)

            async def meanwhile() -> None:  # an operator's command, journaled and acked
                loaded = await ops.load([new_member(1)], [])
                assert loaded.members_admitted == 1

            order, answer = await held_while(gate, heavy, meanwhile)
        assert order == ["meanwhile done", "heavy answered"]
        assert gate.pid.value not in (0, os.getpid())
        if step == "convert":
            assert [lot.terms.lot_id for lot in answer.lots] == [dflt.LOT]
        else:
            assert answer.member_default.member_id == "Dealer-D"


async def test_pricing_is_bounded_per_role_and_does_not_hold_submissions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = ProcessGate("server.pricing_service", "price_request")
    async with gated_server(tmp_path, gate, monkeypatch) as (server, _):
        gate.release.set()
        await dflt.open_lot(server)
        gate.started.clear()
        gate.release.clear()
        where = dflt.target(server)
        observer = (("authorization", f"Bearer {dflt.WATCHER}"),)
        operator = (("authorization", f"Bearer {dflt.OPS}"),)
        request = ppb.PriceSwapsRequest(market=_market(), swaps=_swaps())
        async with (
            grpc.aio.insecure_channel(where) as channel,
            MemberClient(where, dflt.TOKENS.members["MM-1"]) as mm1,
        ):
            stub = pricing_pb2_grpc.PricingServiceStub(channel)

            async def meanwhile() -> None:
                # The observers' one slot is taken: a second observer request is refused...
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await stub.PriceSwaps(request, metadata=observer)
                assert info.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
                # ...while the dealers' and members' business goes on.
                await mm1.submit_bid(dflt.LOT, "b-1", "12200.00")

            order, priced = await held_while(
                gate, stub.PriceSwaps(request, metadata=observer), meanwhile
            )
            assert order == ["meanwhile done", "heavy answered"]
            assert [s.npv for s in priced.swaps] == ["-117961.12", "-130298.79", "12337.67"]
            assert gate.pid.value not in (0, os.getpid())
            # The slot is free again, and the operators' own limit was never touched.
            assert await stub.PriceSwaps(request, metadata=observer) == priced
            assert await stub.PriceSwaps(request, metadata=operator) == priced


async def test_a_pricing_error_in_a_worker_is_the_same_invalid_argument(
    tmp_path: Path,
) -> None:
    """Errors cross the process boundary unchanged: the field is still named."""
    server = await dflt.start(tmp_path, FakeClock(dflt.opened_at(dflt.BASIC)))
    try:
        request = ppb.PriceSwapsRequest(market=_market(), swaps=_swaps())
        request.swaps[1].maturity = "not-a-date"
        observer = (("authorization", f"Bearer {dflt.WATCHER}"),)
        async with grpc.aio.insecure_channel(dflt.target(server)) as channel:
            stub = pricing_pb2_grpc.PricingServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stub.PriceSwaps(request, metadata=observer)
        assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert "swaps[1].maturity" in (info.value.details() or "")
    finally:
        await server.stop(grace=0)
