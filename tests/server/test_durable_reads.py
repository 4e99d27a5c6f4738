"""Reads show only durable state: with the journal's writer held in the middle of a commit, a
concurrent read (results, auction, list, own submissions, lot, award result, a refusal) must
not show what that commit holds until it is on disk; once it is, the read shows it."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import grpc
import pytest

from clients.default_sdk import ClearingClient, MemberClient
from clients.sdk import DealerClient, OperatorClient
from closeout.v1 import auction_pb2 as apb
from closeout.v1 import clearing_pb2 as cpb
from server.app import CloseoutServer
from server.clock import FakeClock
from server.journal import Journal
from tests.server import test_cds_api as cds
from tests.server import test_default_api as dflt


class HeldWriter:
    """Holds the journal's writer thread inside its next write until released."""

    def __init__(self, journal: Journal) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self._journal = journal
        self._write = journal._write

    def _held(self, rows: Any) -> None:
        self.entered.set()
        self.release.wait()
        self._write(rows)

    @contextmanager
    def armed(self) -> Iterator[HeldWriter]:
        self._journal._write = self._held  # type: ignore[method-assign]
        try:
            yield self
        finally:
            self.release.set()
            self._journal._write = self._write  # type: ignore[method-assign]


def committed_types(path: Path) -> list[str]:
    """Event types on disk now (a separate read-only connection: what a crash would keep)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [row[0] for row in conn.execute("SELECT type FROM journal ORDER BY seq")]
    finally:
        conn.close()


async def read_while_held(
    server: CloseoutServer,
    command: Callable[[], Awaitable[object]],
    read: Callable[[], Awaitable[Any]],
    durable_type: str,
) -> tuple[Any, bool]:
    """Run ``command`` with its commit held, then ``read``; return the read's answer and
    whether ``durable_type`` was on disk at the moment the answer arrived."""
    path = server.config.journal
    assert isinstance(path, Path)  # this test reads the SQLite file directly
    held = HeldWriter(server.journal)
    with held.armed():
        issued = asyncio.ensure_future(command())
        await asyncio.to_thread(held.entered.wait)
        assert durable_type not in committed_types(path)

        async def observe() -> tuple[Any, bool]:
            try:
                answer: Any = await read()
            except grpc.aio.AioRpcError as exc:
                answer = exc
            return answer, durable_type in committed_types(path)

        observed = asyncio.ensure_future(observe())
        durability = getattr(server.runtime, "durability", None)

        async def held_at_barrier() -> None:
            while durability is None or durability.waiting == 0:  # noqa: ASYNC110 - a condition
                await asyncio.sleep(0.005)  # on another object, polled; nothing is timed

        parked = asyncio.ensure_future(held_at_barrier())
        await asyncio.wait({observed, parked}, return_when=asyncio.FIRST_COMPLETED)
        parked.cancel()
        held.release.set()
        answer, on_disk = await observed
        await issued
    return answer, on_disk


@pytest.mark.parametrize("reader", ["results", "list", "mine", "dealer-auction", "refusal"])
async def test_cds_reads_wait_until_the_close_is_durable(
    cds_server: CloseoutServer, reader: str
) -> None:
    server = cds_server
    await cds.stage1(server)
    where = cds.target(server)
    async with (
        OperatorClient(where, cds.OPS) as ops,
        OperatorClient(where, cds.WATCHER) as observer,
        DealerClient(where, cds.TOKEN[cds.A]) as dealer,
    ):
        reads: dict[str, Callable[[], Awaitable[Any]]] = {
            "results": lambda: observer.results("t-1"),
            "list": observer.list_auctions,
            "mine": lambda: dealer.my_submissions("t-1"),
            "dealer-auction": lambda: dealer.auction("t-1"),
            "refusal": lambda: dealer.submit_market("t-1", "late", bid="39", offer="40"),
        }
        answer, on_disk = await read_while_held(
            server, lambda: ops.close_window("t-1"), reads[reader], "Stage1Closed"
        )
    assert on_disk, f"{reader} answered before the close it shows was durable: {answer}"
    assert shows_close(answer), answer


def shows_close(answer: Any) -> bool:
    """The read does show the new state (so the test is not vacuous)."""
    if isinstance(answer, grpc.aio.AioRpcError):
        return answer.code() is grpc.StatusCode.FAILED_PRECONDITION
    text = str(answer)
    return (
        "PHASE_FINAL" in text
        or "STAGE1_CLOSED" in text
        or "initial_market_midpoint" in text
        or "39.5" in text
    )


async def test_cds_auction_phase_after_close(cds_server: CloseoutServer) -> None:
    server = cds_server
    await cds.stage1(server)
    where = cds.target(server)
    async with OperatorClient(where, cds.OPS) as ops, DealerClient(where, cds.WATCHER) as obs:
        answer, on_disk = await read_while_held(
            server, lambda: ops.close_window("t-1"), lambda: obs.auction("t-1"), "Stage1Closed"
        )
    assert on_disk
    assert answer.phase in (apb.PHASE_STAGE1_CLOSED, apb.PHASE_FINAL)


async def test_default_award_is_shown_only_once_durable(tmp_path: Path) -> None:
    clock = FakeClock(datetime.fromisoformat("2007-12-12T10:00:00+00:00"))
    server = await dflt.start(tmp_path, clock)
    try:
        await dflt.open_lot(server)
        where = dflt.target(server)
        async with MemberClient(where, dflt.TOKENS.members["MM-1"]) as mm1:
            await mm1.submit_bid(dflt.LOT, "b-1", "12200.00")
        async with ClearingClient(where, dflt.OPS) as ops:
            await ops.close_window(dflt.LOT)
            result, on_disk = await read_while_held(
                server,
                lambda: ops.award(dflt.LOT),
                lambda: ops.result(dflt.LOT),
                "DefaultLotAwarded",
            )
            assert on_disk, f"the award was shown before it was durable: {result}"
            assert result.award.member_id == "MM-1"
            async with MemberClient(where, dflt.TOKENS.members["MM-1"]) as mm1:
                lot, on_disk = await read_while_held(
                    server,
                    lambda: ops.settle(dflt.LOT),
                    lambda: mm1.lot(dflt.LOT),
                    "DefaultAuctionSettled",
                )
            assert on_disk, f"the settlement was shown before it was durable: {lot}"
            assert lot.phase == cpb.DEFAULT_AUCTION_PHASE_SETTLED
    finally:
        await server.stop(grace=0)


async def test_barrier_waits_for_the_lowest_outstanding_ticket_not_the_highest_returned() -> None:
    from server.durability import Durability

    durability = Durability()
    assert durability.barrier() is None
    first, second = durability.applied(), durability.applied()
    barrier = durability.barrier()
    assert barrier is not None
    waiting = asyncio.ensure_future(barrier)
    durability.durable(second)  # the later commit lands first (another registry's flush)
    await asyncio.sleep(0)
    assert not waiting.done()
    later = durability.applied()  # applied after the barrier: not waited for
    durability.durable(first)
    await waiting
    assert durability.outstanding == 1
    failing = durability.barrier()
    assert failing is not None
    durability.failed(RuntimeError("journal failed"))
    with pytest.raises(RuntimeError):
        await failing
    durability.durable(later)
    assert durability.barrier() is None
