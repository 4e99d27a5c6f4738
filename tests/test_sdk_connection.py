"""The SDK's connection layer against a real ``closeout serve`` process: several targets with
failover to the next when one is down, and keepalive finding a stopped server under an open
watch stream (which has no deadline)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from pathlib import Path

import grpc
import grpc.aio
import pytest

from clients.sdk import OperatorClient, Unreachable
from closeout.v1 import auction_pb2 as apb
from tests.server.processes import ROOT, serve

CONFIG = ROOT / "examples" / "server" / "closeout.toml"
OPS = "demo-operator-token"
PATIENCE = 60.0  # a guard against a hang, not a measurement


def _nothing_listens() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


@pytest.mark.slow
async def test_calls_fail_over_to_the_next_target_and_stay_there(tmp_path: Path) -> None:
    down = _nothing_listens()
    async with serve(CONFIG, tmp_path / "j.sqlite") as (_, up):
        async with OperatorClient(f"{down},{up}", OPS) as ops:
            assert ops.targets == (down, up)
            params = apb.AuctionParameters(
                auction_id="f-1", currency="USD", quotation_amount=2_000_000, max_spread="2",
                price_increment="0.125", min_valid_submissions=1,
            )  # fmt: skip
            await ops.create_auction(params, ["dealer-a", "dealer-b"])
            assert ops.target == up
            assert [a.parameters.auction_id for a in await ops.list_auctions()] == ["f-1"]
        async with OperatorClient([down, down], OPS) as nowhere:
            with pytest.raises(Unreachable) as failed:
                await nowhere.list_auctions()
    assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
    assert f"is `closeout serve` running on {down}?" in (failed.value.details() or "")


@pytest.mark.slow
async def test_keepalive_ends_a_watch_on_a_stopped_server(tmp_path: Path) -> None:
    async with (
        serve(CONFIG, tmp_path / "j.sqlite") as (proc, address),
        OperatorClient(address, OPS, keepalive_time_ms=1_000, keepalive_timeout_ms=1_000) as ops,
    ):
        params = apb.AuctionParameters(
            auction_id="k-1", currency="USD", quotation_amount=2_000_000, max_spread="2",
            price_increment="0.125", min_valid_submissions=1,
        )  # fmt: skip
        await ops.create_auction(params, ["dealer-a", "dealer-b"])
        events = ops.watch("k-1")
        first = await asyncio.wait_for(anext(events), PATIENCE)
        assert first.sequence >= 1
        os.kill(proc.pid, signal.SIGSTOP)
        try:
            with pytest.raises(grpc.aio.AioRpcError) as ended:
                await asyncio.wait_for(anext(events), PATIENCE)
        finally:
            os.kill(proc.pid, signal.SIGCONT)
    assert ended.value.code() == grpc.StatusCode.UNAVAILABLE
