"""What an observer was shown survives a crash: real ``closeout serve`` processes, SIGKILL.

An observer polls GetResults (CDS) or GetAuctionResult (a default lot) as fast as it can while
an operator closes stage 2 or awards the lot; the server is killed with SIGKILL at a random
moment (odd rounds: the moment the observer has seen the outcome). After a restart on the
same journal, whatever the observer saw must still hold: the same final price (and the
auction takes no more orders), the same market maker and amount for the lot. Before reads
were durable-only, the observer saw a close that the crash then lost, and the restarted
auction took one more order and closed at another price, or re-awarded the lot to a
different market maker.
"""

from __future__ import annotations

import asyncio
import random
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest

from clients.default_online import load_state
from clients.default_scenario import MARGIN_RUN
from clients.default_sdk import ClearingClient
from clients.sdk import DealerClient, OperatorClient
from closeout.v1 import auction_pb2 as apb
from closeout.v1 import clearing_pb2 as cpb
from tests.server import test_cds_api as cds
from tests.server import test_default_api as dflt
from tests.server.processes import PATIENCE
from tests.server.processes import serve as serve_process

ROOT = Path(__file__).resolve().parents[2]
CDS_CONFIG = ROOT / "examples" / "server" / "scenarios.toml"
DEFAULT_CONFIG = ROOT / "examples" / "server" / "default.toml"
ROUNDS = 4
CALL = {"timeout": 10.0}


async def observe(
    read: Callable[[], Awaitable[Any]],
    outcome: Callable[[Any], Any],
    seen: list[Any],
    shown_once: asyncio.Event,
) -> None:
    """Poll ``read`` until the server dies; record every outcome shown (None: none yet)."""
    while True:
        try:
            shown = outcome(await read())
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                return
            continue
        except ConnectionError:
            return
        if shown is not None:
            seen.append(shown)
            shown_once.set()


async def kill_during(
    proc: asyncio.subprocess.Process,
    command: Awaitable[Any],
    shown_once: asyncio.Event,
    rng: random.Random,
    after_shown: bool,
) -> None:
    """Start ``command``; SIGKILL the server at a random moment (or once something was
    shown); wait for everything to end."""
    task = asyncio.ensure_future(command)
    if after_shown:
        await asyncio.wait_for(shown_once.wait(), PATIENCE)
    else:
        await asyncio.sleep(rng.uniform(0.0, 0.02))
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    await asyncio.gather(task, return_exceptions=True)


async def cds_round(tmp_path: Path, rng: random.Random, after_shown: bool) -> list[str]:
    journal = tmp_path / "cds.sqlite"
    seen: list[str] = []
    shown_once = asyncio.Event()
    async with (
        serve_process(CDS_CONFIG, journal) as (proc, target),
        OperatorClient(target, cds.OPS, **CALL) as ops,
    ):
        await ops.create_auction(cds.params(), [cds.PID[d] for d in (cds.A, cds.B, cds.C)])
        await ops.open_window("t-1")
        for d in (cds.A, cds.B, cds.C):
            async with DealerClient(target, cds.TOKEN[d], **CALL) as dealer:
                await dealer.submit_market("t-1", "m", bid="39.5", offer="40.5")
                if d == cds.A:
                    await dealer.submit_settlement_request("t-1", "p", side="SELL", size=10_000_000)
        await ops.close_window("t-1")
        await ops.open_window("t-1")
        async with DealerClient(target, cds.TOKEN[cds.B], **CALL) as b:
            await b.submit_limit_order("t-1", "o1", side="BID", price="40.125", size=5_000_000)
        async with OperatorClient(target, cds.WATCHER, **CALL) as observer:

            def final(result: Any) -> str | None:
                return result.final_price if result.status == apb.PHASE_FINAL else None

            watching = asyncio.ensure_future(
                observe(lambda: observer.results("t-1"), final, seen, shown_once)
            )
            await kill_during(proc, ops.close_window("t-1"), shown_once, rng, after_shown)
            await watching
    async with serve_process(CDS_CONFIG, journal) as (_, target):
        async with OperatorClient(target, cds.WATCHER, **CALL) as observer:
            after = await observer.results("t-1")
        if seen:
            assert set(seen) == {seen[0]}, seen
            assert after.status == apb.PHASE_FINAL and after.final_price == seen[0]
            async with DealerClient(target, cds.TOKEN[cds.C], **CALL) as c:
                with pytest.raises(grpc.aio.AioRpcError) as late:
                    await c.submit_limit_order("t-1", "late", side="BID", price="41", size=1_000)
                assert late.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    return seen


async def lot_round(tmp_path: Path, rng: random.Random, after_shown: bool) -> list[Any]:
    journal = tmp_path / "default.sqlite"
    seen: list[tuple[str, str]] = []
    shown_once = asyncio.Event()
    async with (
        serve_process(DEFAULT_CONFIG, journal) as (proc, target),
        ClearingClient(target, dflt.OPS, **CALL) as ops,
    ):
        await load_state(ops, dflt.BASIC)
        await ops.run_margin(MARGIN_RUN, dflt.MARKET)
        await ops.declare_default("Dealer-D", market=dflt.MARKET)
        await ops.convert("Dealer-D", dflt.MARKET, hedge=True)
        await ops.create_auction(dflt.LOT, grading_threshold="2500")
        await ops.open_window(dflt.LOT)
        await ops.close_window(dflt.LOT)  # no bids: the award assigns a market maker
        async with ClearingClient(target, dflt.WATCHER, **CALL) as observer:

            def award(result: Any) -> tuple[str, str] | None:
                if result.phase == cpb.DEFAULT_AUCTION_PHASE_CLOSED:
                    return None
                return result.award.member_id, result.award.amount

            watching = asyncio.ensure_future(
                observe(lambda: observer.result(dflt.LOT), award, seen, shown_once)
            )
            await kill_during(proc, ops.award(dflt.LOT), shown_once, rng, after_shown)
            await watching
    async with serve_process(DEFAULT_CONFIG, journal) as (_, target):
        async with ClearingClient(target, dflt.OPS, **CALL) as ops:
            after = await ops.result(dflt.LOT)
            if after.phase == cpb.DEFAULT_AUCTION_PHASE_CLOSED:
                assert not seen  # the award was lost: nobody may have been shown it
                await ops.award(dflt.LOT)  # made again: any market maker is fine now
                after = await ops.result(dflt.LOT)
        if seen:
            assert set(seen) == {seen[0]}, seen
            assert (after.award.member_id, after.award.amount) == seen[0]
            assert after.award.member_id in after.market_makers
    return seen


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["cds-close", "lot-award"])
async def test_what_an_observer_saw_survives_a_sigkill(tmp_path: Path, kind: str) -> None:
    rng = random.Random(12)
    play = cds_round if kind == "cds-close" else lot_round
    shown = 0
    for n in range(ROUNDS):
        where = tmp_path / str(n)
        where.mkdir()
        seen = await play(where, rng, after_shown=n % 2 == 1)
        shown += bool(seen)
    assert shown >= ROUNDS // 2  # every odd round killed after the observer saw the outcome
