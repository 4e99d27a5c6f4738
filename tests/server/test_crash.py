"""Crash test: SIGKILL ``closeout serve`` while dealers submit, restart it on the same journal,
and check that every acknowledged submission is there exactly once, that retries are
idempotent, that the auction completes with the result its journal replays to, and that the
journal verifies."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import grpc
import grpc.aio
import pytest

from clients.online import load_credentials
from clients.sdk import DealerClient, OperatorClient
from closeout.v1 import auction_pb2 as apb
from matching.cds.auction import CdsAuction
from matching.cds.events import event_from_dict
from server.cds.registry import STREAM_PREFIX
from server.journal import Journal, verify
from tests.server.processes import PATIENCE
from tests.server.processes import serve as serve_process

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "examples" / "server" / "scenarios.toml"
TOKENS = load_credentials(ROOT / "examples" / "server" / "scenario-tokens.toml")
DEALERS = {d: TOKENS.dealers[d] for d in ("A", "B", "C", "D")}
OPS = TOKENS.operator_token
AUCTION = "crash-1"
ORDERS_PER_DEALER = 120
KILL_AFTER_ACKS = 150


def serve(journal: Path) -> AbstractAsyncContextManager[tuple[asyncio.subprocess.Process, str]]:
    """This test's server configuration on ``journal``."""
    return serve_process(CONFIG, journal)


def order(dealer: str, i: int) -> tuple[str, str, int]:
    """The i-th order of a dealer: (client order id, price, size) — distinct prices and sizes."""
    return f"{dealer}-o{i}", f"{38 + (i % 24) * 0.125:.3f}", 1_000_000 + 1_000 * i


async def submit_all(
    target: str, dealer: str, acked: list[tuple[str, int]], enough: asyncio.Event
) -> None:
    """Submit every order of ``dealer``, recording each acknowledgement; stop at a failure."""
    async with DealerClient(target, DEALERS[dealer][1]) as client:
        for i in range(ORDERS_PER_DEALER):
            coid, price, size = order(dealer, i)
            try:
                response = await client.submit_limit_order(
                    AUCTION, coid, side="BID", price=price, size=size
                )
            except grpc.aio.AioRpcError:
                return  # the server died under us
            acked.append((coid, response.ack.sequence))
            if len(acked) >= KILL_AFTER_ACKS:
                enough.set()


@pytest.mark.slow
async def test_sigkill_mid_submission_loses_no_acknowledged_order(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite"
    acked: list[tuple[str, int]] = []
    async with serve(journal) as (proc, target):
        async with OperatorClient(target, OPS) as ops:
            await ops.create_auction(
                apb.AuctionParameters(
                    auction_id=AUCTION, currency="USD", quotation_amount=2_000_000, max_spread="2"
                ),
                [pid for pid, _ in DEALERS.values()],
            )
            await ops.open_window(AUCTION)
            for _, token in DEALERS.values():
                async with DealerClient(target, token) as client:
                    await client.submit_market(AUCTION, "m", bid="39.5", offer="40.5")
            async with DealerClient(target, DEALERS["A"][1]) as a:
                await a.submit_settlement_request(AUCTION, "p", side="SELL", size=200_000_000)
            await ops.close_window(AUCTION)
            await ops.open_window(AUCTION)
        enough = asyncio.Event()
        tasks = [asyncio.create_task(submit_all(target, d, acked, enough)) for d in ("B", "C", "D")]
        await asyncio.wait_for(enough.wait(), PATIENCE)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        await asyncio.gather(*tasks)
    acked_at_kill = len(acked)
    assert 0 < acked_at_kill < 3 * ORDERS_PER_DEALER, "the kill must land mid-submission"

    async with serve(journal) as (_, target):
        present: Counter[str] = Counter()
        for dealer in ("B", "C", "D"):
            async with DealerClient(target, DEALERS[dealer][1]) as client:
                mine = await client.my_submissions(AUCTION)
            present.update(
                o.order_id.split("/", 1)[1] for o in mine.limit_orders if not o.carried_over
            )
        assert all(count == 1 for count in present.values())
        missing = [coid for coid, _ in acked if present[coid] != 1]
        assert missing == [], f"acknowledged but lost: {missing}"
        print(  # the figures the closing note quotes (pytest -s)
            f"\ncrash test: {acked_at_kill} acknowledged before SIGKILL, "
            f"{len(present)} present after restart, {len(missing)} lost"
        )

        # Every dealer retries everything: the durable ones come back as the same ack.
        sequences = dict(acked)
        for dealer in ("B", "C", "D"):
            async with DealerClient(target, DEALERS[dealer][1]) as client:
                for i in range(ORDERS_PER_DEALER):
                    coid, price, size = order(dealer, i)
                    response = await client.submit_limit_order(
                        AUCTION, coid, side="BID", price=price, size=size
                    )
                    if coid in sequences:
                        assert response.ack.sequence == sequences[coid]
        async with OperatorClient(target, OPS) as ops:
            await ops.close_window(AUCTION)
            result = await ops.results(AUCTION)
        fills = [f for f in result.limit_order_fills if not f.carried_over]
        assert len(fills) == 3 * ORDERS_PER_DEALER
        assert Counter(f.order_id for f in fills).most_common(1)[0][1] == 1
        assert sum(f.filled for f in result.limit_order_fills) == 200_000_000

    report = verify(journal)
    assert report.ok, report.problem
    reopened = await Journal.open(journal)
    try:
        events = [
            event_from_dict(r.payload)
            for r in reopened.replay()
            if r.stream == STREAM_PREFIX + AUCTION
        ]
    finally:
        await reopened.close()
    replayed = CdsAuction.from_events(events).result()
    assert replayed.final_price == result.final_price
    assert [(f.order_id, int(f.filled)) for f in replayed.limit_order_fills] == [
        (f.order_id, f.filled) for f in result.limit_order_fills
    ]
