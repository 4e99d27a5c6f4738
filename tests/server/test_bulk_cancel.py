"""A client that cancels its SubmitOrders stream half way leaves no order behind: not in the
book, not in the journal, not after a restart (real ``closeout serve`` processes; SIGKILL
right after the cancel, and a clean restart)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from clients.sdk import DealerClient, OperatorClient
from closeout.v1 import auction_pb2 as apb
from closeout.v1 import auction_pb2_grpc
from server.cds.registry import STREAM_PREFIX
from server.journal import Journal
from tests.server import test_cds_api as cds
from tests.server.processes import serve as serve_process

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "examples" / "server" / "scenarios.toml"
SENT = 200


async def stage2(target: str) -> None:
    async with OperatorClient(target, cds.OPS, timeout=10) as ops:
        await ops.create_auction(cds.params(), [cds.PID[d] for d in (cds.A, cds.B, cds.C)])
        await ops.open_window("t-1")
        for d in (cds.A, cds.B, cds.C):
            async with DealerClient(target, cds.TOKEN[d], timeout=10) as dealer:
                await dealer.submit_market("t-1", "m", bid="39.5", offer="40.5")
        async with DealerClient(target, cds.TOKEN[cds.A], timeout=10) as a:
            await a.submit_settlement_request("t-1", "p", side="SELL", size=50_000_000_000)
        await ops.close_window("t-1")
        await ops.open_window("t-1")


async def cancelled_stream(target: str) -> None:
    """B sends SENT orders on one stream, then cancels it before half-closing."""
    async with DealerClient(target, cds.TOKEN[cds.B], timeout=10) as b:
        stub = auction_pb2_grpc.AuctionServiceStub(b.channel)
        call = stub.SubmitOrders(metadata=b.metadata)
        for i in range(SENT):
            await call.write(
                apb.SubmitOrdersRequest(
                    auction_id="t-1", client_order_id=f"c{i}", side=apb.ORDER_SIDE_BID,
                    price="40", size=1_000,
                )
            )  # fmt: skip
        call.cancel()
        await asyncio.sleep(0)
        # Something B does afterwards on the same connection is answered normally.
        await b.submit_limit_order("t-1", "after", side="BID", price="40", size=1_000)


async def standing(target: str) -> set[str]:
    async with DealerClient(target, cds.TOKEN[cds.B], timeout=10) as b:
        mine = await b.my_submissions("t-1")
    return {o.order_id.split("/", 1)[1] for o in mine.limit_orders if not o.carried_over}


async def journaled(journal: Path) -> set[str]:
    reopened = await Journal.open(journal)
    try:
        return {
            r.payload["client_order_id"]
            for r in reopened.replay()
            if r.stream == STREAM_PREFIX + "t-1" and r.type == "LimitOrderSubmitted"
        }
    finally:
        await reopened.close()


@pytest.mark.parametrize("then", ["sigkill", "clean restart"])
async def test_a_cancelled_bulk_stream_leaves_no_order(tmp_path: Path, then: str) -> None:
    journal = tmp_path / "j.sqlite"
    async with serve_process(CONFIG, journal) as (proc, target):
        await stage2(target)
        await cancelled_stream(target)
        assert await standing(target) == {"after"}
        if then == "sigkill":
            proc.send_signal(signal.SIGKILL)
        else:
            proc.send_signal(signal.SIGTERM)
        await proc.wait()
    assert await journaled(journal) == {"after"}
    async with serve_process(CONFIG, journal) as (_, target):
        assert await standing(target) == {"after"}
