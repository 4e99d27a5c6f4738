"""A load with nothing in it is refused (INVALID_ARGUMENT, nothing changed, no house created),
and the server answers every call after it: the commit path never leaks a read-barrier ticket.

An empty ``LoadClearingState`` on a server with no clearing house used to decide zero events,
fail at ``events[-1]`` after taking the barrier's ticket, answer INTERNAL, and hold every later
answer of the server at the barrier for ever (adv's finding F1). Deadlines here only stop a
stalled server from hanging the suite; nothing measures time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import grpc
import grpc.aio
import pytest

from clients.default_sdk import ClearingClient
from closeout.v1 import admin_pb2, admin_pb2_grpc, clearing_pb2_grpc
from closeout.v1 import clearing_pb2 as pb
from server.app import CloseoutServer
from server.clock import FakeClock
from server.default.registry import DefaultRegistry
from tests.server import test_default_api as dflt
from tests.server.test_chunked_load import members, position

#: Generous: a server that answers at all answers well within it.
DEADLINE = 20.0


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[CloseoutServer]:
    clock = FakeClock(datetime.fromisoformat("2007-12-12T10:00:00+00:00"))
    srv = await dflt.start(tmp_path, clock)
    try:
        yield srv
    finally:
        await srv.stop(grace=0)


def auth(token: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {token}"),)


async def answers(channel: grpc.aio.Channel) -> None:
    """The server still answers: an operator's server info, an observer's lots."""
    admin = admin_pb2_grpc.AdminServiceStub(channel)
    info = await admin.GetServerInfo(
        admin_pb2.GetServerInfoRequest(), metadata=auth(dflt.OPS), timeout=DEADLINE
    )
    assert info.version
    clearing = clearing_pb2_grpc.ClearingServiceStub(channel)
    await clearing.ListLots(pb.ListLotsRequest(), metadata=auth(dflt.WATCHER), timeout=DEADLINE)


async def empty_chunks() -> AsyncIterator[pb.LoadClearingStateChunksRequest]:
    yield pb.LoadClearingStateChunksRequest(house_id="closeout-ccp", last=True)


@pytest.mark.parametrize("house_first", [False, True], ids=["no house yet", "house loaded"])
async def test_an_empty_load_is_refused_and_the_server_answers_after_it(
    server: CloseoutServer, house_first: bool
) -> None:
    if house_first:
        async with ClearingClient(dflt.target(server), dflt.OPS) as ops:
            await ops.load(members(), [position(n) for n in range(3)])
    registry = server.state_of(DefaultRegistry)
    had_house = registry.has_house()
    head = server.journal.head
    async with grpc.aio.insecure_channel(dflt.target(server)) as channel:
        stub = clearing_pb2_grpc.ClearingServiceStub(channel)
        for call in (
            stub.LoadClearingState(pb.LoadClearingStateRequest(), metadata=auth(dflt.OPS)),
            stub.LoadClearingState(
                pb.LoadClearingStateRequest(house_id="closeout-ccp"), metadata=auth(dflt.OPS)
            ),
            stub.LoadClearingStateChunks(empty_chunks(), metadata=auth(dflt.OPS)),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call
            assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
            assert "nothing to load" in (refused.value.details() or "")
            await answers(channel)
    assert server.journal.head == head
    assert registry.has_house() is had_house


async def test_a_command_that_decides_no_event_takes_no_ticket(server: CloseoutServer) -> None:
    """At the cause: a load that decides nothing (straight to the registry, past the wire's
    refusal) writes nothing and leaves no change outstanding at the read barrier."""
    registry = server.state_of(DefaultRegistry)
    durability = server.runtime.durability if server.runtime else None
    assert durability is not None
    ack = await registry.load(house_id="", members=[], positions=[], by="ops")
    assert ack is None
    assert durability.outstanding == 0
    assert durability.barrier() is None
    async with grpc.aio.insecure_channel(dflt.target(server)) as channel:
        await answers(channel)
