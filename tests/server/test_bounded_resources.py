"""Bounded resources: a participant's open streams are limited (RESOURCE_EXHAUSTED over the
limit, other participants unaffected, a slot freed when a stream ends), and a watcher's
history is read from the journal a page at a time, complete and in order."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import grpc.aio
import pytest

from clients.sdk import DealerClient, OperatorClient
from closeout.v1 import auction_pb2 as apb
from server import interceptors
from server.app import CloseoutServer
from server.cds import registry as cds_registry
from server.cds.registry import AuctionRegistry
from server.clock import FakeClock
from tests.server import test_cds_api as cds


@pytest.fixture
async def small_server(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(interceptors, "MAX_STREAMS_PER_PARTICIPANT", 3, raising=False)
    monkeypatch.setattr(cds_registry, "WATCH_PAGE", 4, raising=False)
    monkeypatch.setattr("server.cds.dealer_service.WATCH_PAGE", 4, raising=False)
    srv = CloseoutServer(cds.config(tmp_path), clock=FakeClock())
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop(grace=0)


async def first_message(call: Any) -> apb.WatchAuctionResponse:
    message: apb.WatchAuctionResponse = await call.read()
    return message


async def test_open_streams_are_limited_per_participant(small_server: CloseoutServer) -> None:
    await cds.stage1(small_server)
    where = cds.target(small_server)
    async with (
        DealerClient(where, cds.TOKEN[cds.A]) as a,
        DealerClient(where, cds.TOKEN[cds.B]) as b,
    ):
        request = apb.WatchAuctionRequest(auction_id="t-1")
        watches = [a.stub.WatchAuction(request, metadata=a.metadata) for _ in range(3)]
        for watch in watches:
            await first_message(watch)  # each is open and being served
        over = a.stub.WatchAuction(request, metadata=a.metadata)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await first_message(over)
        assert info.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        # Another participant is not affected.
        other = b.stub.WatchAuction(request, metadata=b.metadata)
        await first_message(other)
        other.cancel()
        # Closing one frees its slot.
        watches[0].cancel()
        await a.my_submissions("t-1")  # a round trip: the server has seen the cancellation
        for _ in range(20):  # the cancellation may take a turn or two to release the slot
            again = a.stub.WatchAuction(request, metadata=a.metadata)
            try:
                await first_message(again)
                break
            except grpc.aio.AioRpcError as exc:
                refused = exc.code()
            assert refused is grpc.StatusCode.RESOURCE_EXHAUSTED
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the slot of a cancelled watch was never freed")
        for watch in [*watches[1:], again]:
            watch.cancel()


async def test_watch_history_is_read_a_page_at_a_time_complete_and_in_order(
    small_server: CloseoutServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    await cds.stage1(small_server)
    where = cds.target(small_server)
    async with DealerClient(where, cds.TOKEN[cds.A]) as a:
        for n in range(10):  # A's own events: more than two pages
            await a.submit_market("t-1", f"m-{n}", bid="39.5", offer="40.5")
    registry = small_server.state_of(AuctionRegistry)
    reads: list[int] = []
    original = small_server.journal.read_stream

    def counted(stream: str, first: int, last: int) -> Any:
        records = original(stream, first, last)
        reads.append(len(records))
        return records

    monkeypatch.setattr(small_server.journal, "read_stream", counted)
    async with OperatorClient(where, cds.OPS) as ops:
        await ops.close_window("t-1")
    async with DealerClient(where, cds.TOKEN[cds.A]) as a:
        seen = [e async for e in a.watch("t-1")]
    own = [e.client_order_id for e in seen if e.client_order_id]
    assert own[-10:] == [f"m-{n}" for n in range(10)]
    sequences = [e.sequence for e in seen]
    assert sequences == sorted(sequences)
    assert reads and max(reads) <= 4  # never more than a page per read
    assert registry.durable_seq("t-1") >= max(sequences)
