"""A window that closes at or before the server's time is refused (nobody could bid: a CDS
initial bidding period would be spent and published empty, a lot would go to an assignment
without one bid), and so are a default bid window longer than 7 days and a schedule more
than a year ahead; nothing is recorded.
The server's clock is a FakeClock: nothing here depends on real time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest

from clients.default_online import load_state
from clients.default_scenario import MARGIN_RUN
from clients.default_sdk import ClearingClient
from clients.errors import field_violations
from clients.sdk import OperatorClient
from server.app import CloseoutServer
from server.clock import FakeClock
from tests.server import test_cds_api as cds
from tests.server import test_default_api as dflt

NOW = datetime.fromisoformat("2007-12-12T10:00:00+00:00")


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[CloseoutServer]:
    srv = await dflt.start(tmp_path, FakeClock(NOW))
    try:
        yield srv
    finally:
        await srv.stop(grace=0)


async def refused_field(awaitable: Any) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await awaitable
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    return field_violations(info.value)[0].field


async def test_default_windows_in_the_past_or_too_long_are_refused(server: CloseoutServer) -> None:
    async with ClearingClient(dflt.target(server), dflt.OPS) as ops:
        await load_state(ops, dflt.BASIC)
        await ops.run_margin(MARGIN_RUN, dflt.MARKET)
        await ops.declare_default("Dealer-D", market=dflt.MARKET)
        await ops.convert("Dealer-D", dflt.MARKET, hedge=True)
        head = server.journal.head
        for window in (
            {"open_at": NOW - timedelta(hours=2), "close_at": NOW - timedelta(hours=1)},
            {"close_at": NOW},
            {"window_seconds": 4_294_967_295},
            {"open_at": NOW + timedelta(days=1), "window_seconds": 8 * 24 * 3600},
            {"open_at": NOW + timedelta(days=400), "window_seconds": 3600},
        ):
            field = await refused_field(ops.create_auction(dflt.LOT, **window))
            assert field in ("schedule.close_at", "schedule.open_at")
        assert server.journal.head == head
        created = await ops.create_auction(dflt.LOT, window_seconds=3600)  # an hour: fine
        assert created.auction.auction_id


async def test_a_cds_schedule_closing_in_the_past_is_refused(server: CloseoutServer) -> None:
    head = server.journal.head
    async with OperatorClient(dflt.target(server), dflt.OPS) as ops:
        past = {
            "stage1_open": NOW - timedelta(hours=2),
            "stage1_close": NOW - timedelta(hours=1),
        }
        field = await refused_field(ops.create_auction(cds.params("past"), ["dealer-a"], past))
        assert field == "schedule.stage1_close"
        far = {"stage1_open": NOW + timedelta(days=400), "stage1_close": NOW + timedelta(days=401)}
        field = await refused_field(ops.create_auction(cds.params("far"), ["dealer-a"], far))
        assert field == "schedule.stage1_open"
        assert server.journal.head == head
        ahead = {
            "stage1_open": NOW - timedelta(minutes=1),
            "stage1_close": NOW + timedelta(hours=1),
        }
        await ops.create_auction(cds.params("ahead"), ["dealer-a"], ahead)
