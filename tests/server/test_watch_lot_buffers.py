"""Bounded send buffers for WatchLot, as for WatchAuction: what non-reading clients' streams
hold on the server stays within their participant's cap (``server/watch_buffer.py``, the one
module both watches use), and a stalled stream is still open: once its client reads, it gets
every event in order. Counts only: nothing here measures time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import grpc.aio
import pytest

from clients.default_sdk import MemberClient
from closeout.v1 import clearing_pb2 as pb
from closeout.v1 import clearing_pb2_grpc
from server.app import CloseoutServer
from server.clock import FakeClock
from server.default.registry import DefaultRegistry
from server.watch_buffer import WatchBuffers
from tests.server import test_default_api as dflt
from tests.server.test_watch_buffers import quiet

BIDS = 1_200
STREAMS = 5
MEMBER = "MM-2"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[CloseoutServer]:
    srv = await dflt.start(tmp_path, FakeClock(datetime.fromisoformat("2007-12-12T10:00:00+00:00")))
    try:
        yield srv
    finally:
        await srv.stop(grace=0)


async def long_lot(server: CloseoutServer) -> None:
    """An open lot on which MM-2 placed BIDS bids (each replacing the last): its history."""
    await dflt.open_lot(server)
    async with MemberClient(dflt.target(server), dflt.TOKENS.members[MEMBER]) as member:
        for i in range(BIDS):
            await member.submit_bid(dflt.LOT, f"b-{i}", str(9_000 + i))


def count_reads(monkeypatch: pytest.MonkeyPatch, registry: DefaultRegistry) -> dict[str, int]:
    """Count the history events the server takes for watchers."""
    read = {"events": 0}
    original = registry.durable_history

    def counted(auction_id: str, after: int, limit: int | None = None) -> Any:
        events = original(auction_id, after, limit)
        read["events"] += len(events)
        return events

    monkeypatch.setattr(registry, "durable_history", counted)
    return read


async def test_non_reading_lot_watchers_hold_no_more_than_their_participants_cap(
    server: CloseoutServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    await long_lot(server)
    registry = server.state_of(DefaultRegistry)
    cap, floor = 300, 20
    registry.watch_buffers = WatchBuffers(cap=cap, floor=floor)
    read = count_reads(monkeypatch, registry)
    metadata = (("authorization", f"Bearer {dflt.TOKENS.members[MEMBER]}"),)
    async with grpc.aio.insecure_channel(dflt.target(server)) as channel:
        stub = clearing_pb2_grpc.DefaultAuctionServiceStub(channel)
        request = pb.WatchLotRequest(auction_id=dflt.LOT, after_sequence=0)
        stalled = [stub.WatchLot(request, metadata=metadata) for _ in range(STREAMS)]
        await quiet(read, "events")
        # What the server held for sending at any moment stayed within the member's cap
        # (not 5 pages of 1,000 events), whatever gRPC and the client absorbed meanwhile.
        assert read["events"] > 0
        assert 0 < registry.watch_buffers.peak[MEMBER] <= cap + floor * STREAMS
        assert registry.watch_buffers.held(MEMBER) <= cap + floor * STREAMS
        # They are open, not dropped: one that starts reading gets everything, in order.
        numbers = []
        async for message in stalled[0]:
            numbers.append(message.sequence)
            if len(numbers) == BIDS + 2:  # created, opened, and the member's own bids
                break
        assert numbers == list(range(1, BIDS + 3))
        for call in stalled:
            call.cancel()
    await asyncio.sleep(0)
    # Every stream gave its pages back: nothing is held for the cancelled streams.
    for _ in range(100):
        if registry.watch_buffers.held(MEMBER) == 0:
            break
        await asyncio.sleep(0.05)
    assert registry.watch_buffers.held(MEMBER) == 0
