"""Bounded send buffers for WatchAuction: what non-reading clients' streams hold on the
server stays within their participant's cap (``server/watch_buffer.py``), and a dealer's
watch reads only its own submissions from the journal, never another dealer's (1,000
dealers watching a long auction used to read it 1,000 times over). Counts only: nothing
here measures time."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc.aio
import pytest

from clients.sdk import DealerClient, OperatorClient
from closeout.v1 import auction_pb2 as apb
from closeout.v1 import auction_pb2_grpc
from server.app import CloseoutServer
from server.cds.registry import AuctionRegistry
from server.watch_buffer import WatchBuffers
from tests.server import test_cds_api as cds

ORDERS = 20_000
STREAMS = 5


@pytest.fixture
def server(cds_server: CloseoutServer) -> CloseoutServer:
    return cds_server


async def long_auction(server: CloseoutServer) -> None:
    """Stage 2 open, dealer B with ORDERS resting limit orders."""
    await cds.stage1(server)
    where = cds.target(server)
    async with OperatorClient(where, cds.OPS) as ops:
        async with DealerClient(where, cds.TOKEN[cds.A]) as a:
            await a.submit_settlement_request("t-1", "p", side="SELL", size=50_000_000_000)
        await ops.close_window("t-1")
        await ops.open_window("t-1")
    async with DealerClient(where, cds.TOKEN[cds.B]) as b:
        for start in range(0, ORDERS, 10_000):
            response = await b.submit_orders(
                [
                    apb.SubmitOrdersRequest(
                        auction_id="t-1", client_order_id=f"{i:0>60}", side=apb.ORDER_SIDE_BID,
                        price="40", size=1_000,
                    )
                    for i in range(start, min(ORDERS, start + 10_000))
                ]
            )  # fmt: skip
            assert response.accepted == min(ORDERS, start + 10_000) - start


def count_reads(monkeypatch: pytest.MonkeyPatch, server: CloseoutServer) -> dict[str, int]:
    """Count the records the server reads back from the journal for watchers."""
    read = {"records": 0}
    journal = server.journal
    original = journal.read_stream

    def counted(stream: str, first: int, last: int) -> Any:
        records = original(stream, first, last)
        read["records"] += len(records)
        return records

    monkeypatch.setattr(journal, "read_stream", counted)
    return read


async def quiet(read: dict[str, int], key: str = "records") -> None:
    """Wait until the watchers stop reading ``read[key]`` (they are blocked on clients that
    do not read)."""
    last, still = -1, 0
    while still < 10:
        await asyncio.sleep(0.1)
        still = still + 1 if read[key] == last else 0
        last = read[key]


async def test_non_reading_watchers_hold_no_more_than_their_participants_cap(
    server: CloseoutServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    await long_auction(server)
    registry = server.state_of(AuctionRegistry)
    cap, floor = 300, 20
    registry.watch_buffers = WatchBuffers(cap=cap, floor=floor)
    read = count_reads(monkeypatch, server)
    metadata = (("authorization", f"Bearer {cds.TOKEN[cds.B]}"),)
    async with grpc.aio.insecure_channel(cds.target(server)) as channel:
        stub = auction_pb2_grpc.AuctionServiceStub(channel)
        request = apb.WatchAuctionRequest(auction_id="t-1", after_sequence=0)
        stalled = [stub.WatchAuction(request, metadata=metadata) for _ in range(STREAMS)]
        await quiet(read)
        # Whatever gRPC and the client's buffers absorbed, what the server held for sending
        # at any moment stayed within the participant's cap (not 5 x 20,000 events).
        assert read["records"] > 0
        assert registry.watch_buffers.peak[cds.PID[cds.B]] <= cap + floor * STREAMS
        assert registry.watch_buffers.held(cds.PID[cds.B]) <= cap + floor * STREAMS
        # They are open, not dropped: one that starts reading gets everything, in order.
        reader = stalled[0]
        numbers = []
        async for message in reader:
            numbers.append(message.sequence)
            if len(numbers) == ORDERS + 3:  # created, opened, closed + B's market and orders
                break
        assert numbers == list(range(1, len(numbers) + 1))
        for call in stalled:
            call.cancel()
    await asyncio.sleep(0)


async def test_a_dealers_watch_reads_only_its_own_submissions(
    server: CloseoutServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    await long_auction(server)
    async with OperatorClient(cds.target(server), cds.OPS) as ops:
        await ops.close_window("t-1")
    read = count_reads(monkeypatch, server)
    async with DealerClient(cds.target(server), cds.TOKEN[cds.C]) as c:
        events = [e async for e in c.watch("t-1")]
    own = [e for e in events if e.client_order_id]
    assert [e.type for e in own] == ["MarketSubmitted"]
    assert read["records"] == len(own)  # not B's 5,000 orders
