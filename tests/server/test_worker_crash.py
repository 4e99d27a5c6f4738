"""A worker process that dies under a computation: the server replaces its pool and runs the
work once more; when the worker dies again, the caller gets UNAVAILABLE (retryable, ErrorInfo
reason WORKER_STOPPED, a message that says nothing changed and to retry), never INTERNAL, and
the server stays whole: the next computation, of the same role, is answered.

The worker is made to die for real (``os._exit`` in the worker process, installed by the
pool's initializer) when a request carries a marker swap id; no time is measured.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest

from clients.errors import rich_status
from closeout.v1 import admin_pb2, admin_pb2_grpc, pricing_pb2_grpc
from closeout.v1 import pricing_pb2 as ppb
from server.app import CloseoutServer
from server.clock import FakeClock
from server.compute import Compute
from server.config import Role
from tests.pricing.test_pricing_service import _market, _swaps
from tests.server import test_default_api as dflt
from tests.server.test_all_violations import error_info

SPAWN = multiprocessing.get_context("spawn")
OBSERVER = (("authorization", f"Bearer {dflt.WATCHER}"),)


def install_crash(module: str, name: str, crashes: Any) -> None:
    """The worker's initializer: ``module.name`` kills its worker process when the request
    holds the swap id ``ALWAYS``, or ``ONCE`` the first time."""
    owner = importlib.import_module(module)
    setattr(owner, name, crashing(getattr(owner, name), crashes))


def crashing(original: Callable[..., Any], crashes: Any) -> Callable[..., Any]:
    def job(method: str, raw: bytes) -> Any:
        if b"ALWAYS" in raw or (b"ONCE" in raw and crashes.value == 0):
            with crashes.get_lock():
                crashes.value += 1
            os._exit(1)  # the worker process dies, as when killed or out of memory
        return original(method, raw)

    return job


@pytest.fixture
async def crashy() -> AsyncIterator[tuple[Compute, Any]]:
    crashes = SPAWN.Value("i", 0)
    compute = Compute(
        initializer=install_crash, initargs=("server.pricing_service", "job", crashes)
    )
    yield compute, crashes
    compute.shutdown()


@pytest.fixture
async def server(tmp_path: Path, crashy: tuple[Compute, Any]) -> AsyncIterator[CloseoutServer]:
    clock = FakeClock(datetime.fromisoformat("2007-12-12T10:00:00+00:00"))
    srv = CloseoutServer(dflt.config(tmp_path), clock=clock, compute=crashy[0])
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop(grace=0)


def pricing(marker: str = "") -> ppb.PriceSwapsRequest:
    request = ppb.PriceSwapsRequest(market=_market(), swaps=_swaps())
    if marker:
        request.swaps[0].id = marker
    return request


async def test_a_worker_that_dies_twice_gives_unavailable_and_the_server_carries_on(
    server: CloseoutServer, crashy: tuple[Compute, Any]
) -> None:
    compute, crashes = crashy
    async with grpc.aio.insecure_channel(dflt.target(server)) as channel:
        stub = pricing_pb2_grpc.PricingServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.PriceSwaps(pricing("ALWAYS"), metadata=OBSERVER, timeout=120)
        error = refused.value
        assert error.code() is grpc.StatusCode.UNAVAILABLE, (error.code(), error.details())
        assert "stopped twice" in (error.details() or "")
        assert "nothing was changed" in (error.details() or "")
        assert "retry" in (error.details() or "")
        assert rich_status(error) is not None
        assert error_info(error).reason == "WORKER_STOPPED"
        assert crashes.value == 2 and compute.crashes == 2  # once, then once more: reported
        # The server is whole: the role's slot is free, a new pool answers the next request.
        assert compute.running(Role.OBSERVER) == 0
        answer = await stub.PriceSwaps(pricing(), metadata=OBSERVER, timeout=120)
        assert [s.id for s in answer.swaps] == [s.id for s in _swaps()]
        admin = admin_pb2_grpc.AdminServiceStub(channel)
        operator = (("authorization", f"Bearer {dflt.OPS}"),)
        info = await admin.GetServerInfo(admin_pb2.GetServerInfoRequest(), metadata=operator)
        assert info.version


async def test_a_worker_that_dies_once_is_replaced_and_the_request_answered(
    server: CloseoutServer, crashy: tuple[Compute, Any]
) -> None:
    compute, crashes = crashy
    async with grpc.aio.insecure_channel(dflt.target(server)) as channel:
        stub = pricing_pb2_grpc.PricingServiceStub(channel)
        answer = await stub.PriceSwaps(pricing("ONCE"), metadata=OBSERVER, timeout=120)
        assert answer.swaps[0].id == "ONCE"
        assert crashes.value == 1 and compute.crashes == 1
