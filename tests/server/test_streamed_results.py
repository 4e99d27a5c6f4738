"""StreamResults: an auction's result in parts, for auctions of any size.

Through a real in-process server: merged, the parts equal GetResults' single message for
every kind of caller (operator, each dealer with only its own customers, observer); a
dealer off the panel is refused as by GetResults; a result far larger than the server's
message limit, which GetResults cannot send, comes whole through ``closeout results``."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
from pathlib import Path

import grpc
import grpc.aio
import pytest

from clients.results import result_to_dict
from clients.sdk import DealerClient, OperatorClient
from closeout.v1 import auction_pb2 as apb
from closeout.v1 import operator_pb2 as opb
from server.app import CloseoutServer
from server.cds import operator_service
from server.clock import FakeClock
from server.parts import split
from tests.server import test_cds_api as cds
from tests.server.processes import CLOSEOUT, ROOT

PATIENCE = 600.0  # a guard against a hung child, not a measurement


def orders(dealer: str, count: int) -> list[apb.SubmitOrdersRequest]:
    return [
        apb.SubmitOrdersRequest(
            auction_id="t-1", client_order_id=f"{dealer}-{n}", side=apb.ORDER_SIDE_BID,
            price=("40", "39.875", "39.75", "39.5")[n % 4], size=1_000_000,
            customer=f"customer-{dealer}-{n}",
        )
        for n in range(count)
    ]  # fmt: skip


async def final_auction(server: CloseoutServer, per_dealer: int) -> None:
    """Stage 1 with 10,000,000 to sell, then ``per_dealer`` bids from each of A-D, closed."""
    await cds.stage1(server)
    async with OperatorClient(cds.target(server), cds.OPS) as ops:
        async with DealerClient(cds.target(server), cds.TOKEN[cds.A]) as a:
            await a.submit_settlement_request("t-1", "p", side="SELL", size=10_000_000)
        await ops.close_window("t-1")
        await ops.open_window("t-1")

        async def submit(d: str) -> None:
            async with DealerClient(cds.target(server), cds.TOKEN[d]) as dealer:
                for start in range(0, per_dealer, 10_000):
                    batch = orders(d, per_dealer)[start : start + 10_000]
                    answer = await dealer.submit_orders(batch)
                    assert answer.accepted == len(batch), answer.rejections[:3]

        await asyncio.gather(*(submit(d) for d in (cds.A, cds.B, cds.C, cds.D)))
        await ops.close_window("t-1")


@pytest.fixture
def server(cds_server: CloseoutServer) -> CloseoutServer:
    return cds_server


def test_split_parts_merge_back_and_keep_to_the_budget() -> None:
    result = opb.AuctionResult(auction_id="x", final_price="40", rounding_amount=1000)
    for n in range(500):
        result.limit_order_fills.add(order_id=f"o-{n}", dealer="d", price="40", size=n)
        result.adjustment_amounts.add(dealer=f"d-{n}", amount=str(n))
    parts = split(result, 2048)
    assert len(parts) > 10
    assert not parts[0].limit_order_fills and parts[0].final_price == "40"
    assert all(p.ByteSize() <= 2048 for p in parts)
    merged = opb.AuctionResult()
    for p in parts:
        merged.MergeFrom(p)
    assert merged == result


async def test_merged_parts_equal_get_results_for_every_caller(server: CloseoutServer) -> None:
    await final_auction(server, per_dealer=300)
    callers = [cds.OPS, cds.WATCHER, *(cds.TOKEN[d] for d in (cds.A, cds.B, cds.C, cds.D))]
    for token in callers:
        async with OperatorClient(cds.target(server), token) as client:
            single = (
                await client.stub.GetResults(
                    opb.GetResultsRequest(auction_id="t-1"), metadata=client.metadata
                )
            ).result
            parts = [
                r
                async for r in client.stub.StreamResults(
                    opb.StreamResultsRequest(auction_id="t-1", max_part_bytes=1),
                    metadata=client.metadata,
                )
            ]
            assert await client.results("t-1", max_part_bytes=20_000) == single
        assert sum(1 for f in single.limit_order_fills if f.customer) == (
            1200 if token in (cds.OPS,) else 300 if token != cds.WATCHER else 0
        )  # customers: all for operators, a dealer's own, none for observers
        assert len(parts) > 3 and [p.index for p in parts] == list(range(parts[0].count))
        assert all(p.ByteSize() <= operator_service.MIN_PART_BYTES for p in parts[1:])
    async with OperatorClient(cds.target(server), cds.OUTSIDER) as outsider:
        with pytest.raises(grpc.aio.AioRpcError) as streamed:
            await outsider.results("t-1")
        with pytest.raises(grpc.aio.AioRpcError) as single_refusal:
            await outsider.stub.GetResults(
                opb.GetResultsRequest(auction_id="t-1"), metadata=outsider.metadata
            )
    assert streamed.value.code() is single_refusal.value.code() is grpc.StatusCode.NOT_FOUND
    assert streamed.value.details() == single_refusal.value.details()


@pytest.mark.parametrize(
    ("per_dealer", "limit"),
    [
        pytest.param(1_000, 64 * 1024, id="4,000 orders, 64 KiB limit"),
        pytest.param(22_500, 4 * 1024 * 1024, id="90,000 orders, default 4 MiB limit"),
    ],
)
@pytest.mark.slow
async def test_a_result_larger_than_the_message_limit_comes_whole(
    tmp_path: Path, per_dealer: int, limit: int
) -> None:
    config = dataclasses.replace(cds.config(tmp_path), max_message_bytes=limit)
    srv = CloseoutServer(config, clock=FakeClock())
    await srv.start()
    try:
        await final_auction(srv, per_dealer)
        async with OperatorClient(cds.target(srv), cds.OPS, max_message_bytes=limit) as ops:
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await ops.stub.GetResults(
                    opb.GetResultsRequest(auction_id="t-1"), metadata=ops.metadata
                )
            assert info.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
            streamed = await ops.results("t-1")
        assert streamed.ByteSize() > limit
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSEOUT_")}
        env |= {"PYTHONPATH": str(ROOT), "CLOSEOUT_TOKEN": cds.OPS}
        where = cds.target(srv)
        done = await asyncio.to_thread(
            subprocess.run,
            [*CLOSEOUT, "results", "t-1", "--json", "--target", where, "--timeout", "600"],
            env=env, capture_output=True, text=True, timeout=PATIENCE,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        printed = json.loads(done.stdout)
        printed.pop("notes", None)  # the CLI's notes beside the result
        assert printed == json.loads(json.dumps(result_to_dict(streamed)))
        assert len(printed["limit_order_fills"]) == 4 * per_dealer + 4  # and 4 carried quotes
    finally:
        await srv.stop(grace=0)
