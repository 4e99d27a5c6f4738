"""A SubmitOrders stream whose later message is over the server's message limit leaves no
order behind: the server's transport ends the call (RESOURCE_EXHAUSTED) after the first
messages were read, and the handler must not apply what it read."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest

from server.app import CloseoutServer
from server.clock import FakeClock
from tests.server import test_cds_api as cds
from tests.server.test_bulk_streams import METHOD, order, orders_of, stage2

LIMIT = 64 * 1024


@pytest.fixture
async def small_limit_server(tmp_path: Path) -> Any:
    config = dataclasses.replace(cds.config(tmp_path), max_message_bytes=LIMIT)
    srv = CloseoutServer(config, clock=FakeClock())
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop(grace=0)


@pytest.mark.parametrize("valid_first", [1, 50])
async def test_an_oversized_later_message_leaves_no_order(
    small_limit_server: CloseoutServer, valid_first: int
) -> None:
    server = small_limit_server
    await stage2(server)
    head = server.journal.head[0]
    big = order(999)
    big.client_order_id = "x" * (2 * LIMIT)
    raw = [order(n).SerializeToString() for n in range(valid_first)]
    raw.append(big.SerializeToString())
    async with grpc.aio.insecure_channel(cds.target(server)) as channel:
        call = channel.stream_unary(METHOD, request_serializer=lambda b: b)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call(iter(raw), metadata=(("authorization", f"Bearer {cds.TOKEN[cds.B]}"),))
    assert info.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert await orders_of(server) == []
    assert server.journal.head[0] == head
