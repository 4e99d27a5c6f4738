"""Bulk SubmitOrders streams are all or nothing as streams: one that breaks (an undecodable
message), times out or carries too many orders leaves no order behind in the
book or the journal; one that completes is decided in full and its answer names every refused
order by index (the others stand), within the message limit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import grpc.aio
import pytest

from clients.sdk import DealerClient, OperatorClient
from closeout.v1 import auction_pb2 as apb
from server.app import CloseoutServer
from server.cds import dealer_service
from tests.server import test_cds_api as cds

METHOD = "/closeout.v1.AuctionService/SubmitOrders"


def order(n: int, price: str = "40") -> apb.SubmitOrdersRequest:
    return apb.SubmitOrdersRequest(
        auction_id="t-1",
        client_order_id=f"o-{n}",
        side=apb.ORDER_SIDE_BID,
        price=price,
        size=1_000_000,
    )


async def stage2(server: CloseoutServer) -> None:
    await cds.stage1(server)
    async with OperatorClient(cds.target(server), cds.OPS) as ops:
        async with DealerClient(cds.target(server), cds.TOKEN[cds.A]) as a:
            await a.submit_settlement_request("t-1", "p", side="SELL", size=10_000_000)
        await ops.close_window("t-1")
        await ops.open_window("t-1")


async def orders_of(server: CloseoutServer) -> list[str]:
    async with DealerClient(cds.target(server), cds.TOKEN[cds.B]) as b:
        mine = await b.my_submissions("t-1")
    return sorted(o.order_id for o in mine.limit_orders if "~" not in o.order_id)


async def test_an_undecodable_third_message_leaves_no_order(
    cds_server: CloseoutServer,
) -> None:
    await stage2(cds_server)
    head = cds_server.journal.head[0]
    raw = [order(1).SerializeToString(), order(2).SerializeToString(), b"\xff\xff\xff"]
    async with grpc.aio.insecure_channel(cds.target(cds_server)) as channel:
        call = channel.stream_unary(METHOD, request_serializer=lambda b: b)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call(iter(raw), metadata=(("authorization", f"Bearer {cds.TOKEN[cds.B]}"),))
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert await orders_of(cds_server) == []
    assert cds_server.journal.head[0] == head


async def test_an_unfinished_stream_times_out_and_leaves_no_order(
    cds_server: CloseoutServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await stage2(cds_server)
    monkeypatch.setattr(dealer_service, "BULK_STREAM_SECONDS", 0.5)
    never_closed = asyncio.Event()

    async def two_then_hang() -> AsyncIterator[apb.SubmitOrdersRequest]:
        yield order(1)
        yield order(2)
        await never_closed.wait()

    head = cds_server.journal.head[0]
    async with DealerClient(cds.target(cds_server), cds.TOKEN[cds.B]) as b:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await b.stub.SubmitOrders(two_then_hang(), metadata=b.metadata)
    assert info.value.code() is grpc.StatusCode.ABORTED
    assert "nothing was applied" in (info.value.details() or "")
    assert await orders_of(cds_server) == []
    assert cds_server.journal.head[0] == head


async def test_too_many_orders_are_refused_whole_and_answers_stay_small(
    cds_server: CloseoutServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await stage2(cds_server)
    monkeypatch.setattr(dealer_service, "MAX_BULK_ORDERS", 5)
    async with DealerClient(cds.target(cds_server), cds.TOKEN[cds.B]) as b:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await b.submit_orders([order(n) for n in range(6)])
        assert info.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert await orders_of(cds_server) == []
        # Within the limit: every refusal is named by index, with a bounded message; the
        # rest stand.
        long_id = "x" * 100
        batch = [order(0), order(1, "40.1"), order(2, "1" * 5000), order(3)]
        batch[3].client_order_id = long_id
        response = await b.submit_orders(batch)
    assert response.accepted == 2
    assert [r.index for r in response.rejections] == [1, 2]
    assert all(len(r.message) <= dealer_service.MAX_REJECTION_MESSAGE for r in response.rejections)
    assert await orders_of(cds_server) == sorted(
        [f"{cds.PID[cds.B]}/o-0", f"{cds.PID[cds.B]}/{long_id}"]
    )
    assert response.ByteSize() < 4 * 1024 * 1024
