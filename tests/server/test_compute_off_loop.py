"""CPU-heavy requests run off the event loop, bounded per role: while an operator's margin run
or an observer's pricing request is in progress (held mid-computation), a member's bid is
acknowledged; a second observer pricing request over the role's limit is refused with
RESOURCE_EXHAUSTED. Ordering only: nothing here measures time."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest

from clients.default_online import MARGIN_RUN
from clients.default_sdk import ClearingClient, MemberClient
from closeout.v1 import pricing_pb2 as ppb
from closeout.v1 import pricing_pb2_grpc
from server import pricing_service
from server.clock import FakeClock
from server.default import valuation
from tests.pricing.test_pricing_service import _market, _swaps
from tests.server import test_default_api as dflt

#: A safety net so that a regression fails instead of hanging; never reached when it works.
SAFETY = 20.0


class Gate:
    """Wraps a function so that each call signals it started and waits to be released."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def held(*args: Any, **kwargs: Any) -> Any:
            self.started.set()
            self.release.wait(SAFETY)
            return fn(*args, **kwargs)

        return held


@contextmanager
def gated(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> Iterator[Gate]:
    gate = Gate()
    monkeypatch.setattr(owner, name, gate.wrap(getattr(owner, name)))
    try:
        yield gate
    finally:
        gate.release.set()


async def test_a_bid_is_acknowledged_while_a_margin_run_is_in_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = await dflt.start(tmp_path, FakeClock(dflt.opened_at(dflt.BASIC)))
    try:
        await dflt.open_lot(server)
        where = dflt.target(server)
        order: list[str] = []
        async with (
            ClearingClient(where, dflt.OPS) as ops,
            MemberClient(where, dflt.TOKENS.members["MM-1"]) as mm1,
        ):
            with gated(monkeypatch, valuation, "margin_requirements") as gate:
                run = asyncio.ensure_future(ops.run_margin(MARGIN_RUN + "-2", dflt.MARKET))
                run.add_done_callback(lambda _: order.append("margin run answered"))
                await asyncio.to_thread(gate.started.wait, SAFETY)
                await mm1.submit_bid(dflt.LOT, "b-1", "12200.00")
                order.append("bid acknowledged")
                gate.release.set()
                await run
        assert order == ["bid acknowledged", "margin run answered"]
    finally:
        await server.stop(grace=0)


async def test_pricing_is_bounded_per_role_and_does_not_hold_submissions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = await dflt.start(tmp_path, FakeClock(dflt.opened_at(dflt.BASIC)))
    try:
        await dflt.open_lot(server)
        where = dflt.target(server)
        observer = (("authorization", f"Bearer {dflt.WATCHER}"),)
        operator = (("authorization", f"Bearer {dflt.OPS}"),)
        request = ppb.PriceSwapsRequest(market=_market(), swaps=_swaps())
        order: list[str] = []
        async with (
            grpc.aio.insecure_channel(where) as channel,
            MemberClient(where, dflt.TOKENS.members["MM-1"]) as mm1,
        ):
            stub = pricing_pb2_grpc.PricingServiceStub(channel)
            with gated(monkeypatch, pricing_service, "price_request") as gate:
                first = asyncio.ensure_future(stub.PriceSwaps(request, metadata=observer))
                first.add_done_callback(lambda _: order.append("pricing answered"))
                await asyncio.to_thread(gate.started.wait, SAFETY)
                # The observers' one slot is taken: a second observer request is refused...
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await stub.PriceSwaps(request, metadata=observer)
                assert info.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
                # ...while the dealers' and members' business goes on.
                await mm1.submit_bid(dflt.LOT, "b-1", "12200.00")
                order.append("bid acknowledged")
                gate.release.set()
                priced = await first
            assert [s.npv for s in priced.swaps] == ["-117961.12", "-130298.79", "12337.67"]
            # The slot is free again, and the operators' own limit was never touched.
            again = await stub.PriceSwaps(request, metadata=observer)
            assert again == priced
            assert await stub.PriceSwaps(request, metadata=operator) == priced
        assert order == ["bid acknowledged", "pricing answered"]
    finally:
        await server.stop(grace=0)
