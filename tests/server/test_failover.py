"""Failover on PostgreSQL, with real processes: a leader serving under load is SIGKILLed at
several points (mid-submission twice, then just after the window closed); each time the hot
standby (``closeout serve --standby``) takes the journal's lease, replays, resumes the auction
and serves, and a new standby queues behind it. Dealers hold every server's address and retry
with the same client order ids: the SDK moves a call to the next address when the current one
is down, and a dealer resubmits while none answers yet (the standby is still replaying).

Checks: every acknowledged submission is on the last leader exactly once, retries give back
the original acknowledgement, and the published result equals an offline replay of the
journal.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import grpc
import grpc.aio
import pytest

from clients.sdk import DealerClient, OperatorClient
from closeout.v1 import auction_pb2 as apb
from matching.cds.auction import CdsAuction
from matching.cds.events import event_from_dict
from server.cds.registry import STREAM_PREFIX
from server.journal import Journal, verify
from tests.server.backends import postgres_location
from tests.server.processes import PATIENCE, ServeProcess, free_port
from tests.server.test_crash import AUCTION, CONFIG, DEALERS, OPS, ORDERS_PER_DEALER, order

__all__ = ["postgres_location"]  # fixture used here

_T = TypeVar("_T")
#: Leader kills under load, by acknowledged submissions (of 3 x ORDERS_PER_DEALER).
KILL_AT_ACKS = (60, 180)
#: An auction whose window opens by its timer, after the first kill.
TIMED = "timed-1"


#: How a call on a server that died under it can end: the connection dropped (UNAVAILABLE),
#: or the stream was cut before a status arrived (gRPC reports UNKNOWN, INTERNAL or
#: CANCELLED then). A server's own refusals use other codes and are never retried.
CUT_OFF = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.CANCELLED,
}


async def with_failover(
    target: str, token: str, call: Callable[[DealerClient], Awaitable[_T]], retried: list[str]
) -> _T:
    """``call`` on a dealer session over every address; when it is cut off (the leader died,
    the standby is not serving yet) a new session tries again: the same request, so the same
    client order id."""
    for _ in range(1000):  # a guard against a loop that never ends, not a measurement
        async with DealerClient(target, token) as client:
            try:
                return await call(client)
            except grpc.aio.AioRpcError as exc:
                if exc.code() not in CUT_OFF:
                    raise
                retried.append(f"{exc.code().name}: {exc.details()}")
        await asyncio.sleep(0.05)  # a pause between attempts, not a measurement
    pytest.fail(f"no server answered; last: {retried[-1]}")


async def submit_all(
    target: str,
    dealer: str,
    acked: dict[str, int],
    progress: asyncio.Condition,
    go: asyncio.Event,
    retried: list[str],
) -> None:
    """Submit every order of ``dealer`` with failover while ``go`` is set (the test clears it
    while it starts a new standby process, so that each kill lands mid-load)."""
    token = DEALERS[dealer][1]
    for i in range(ORDERS_PER_DEALER):
        await go.wait()
        coid, price, size = order(dealer, i)
        response = await with_failover(
            target,
            token,
            lambda c, coid=coid, price=price, size=size: c.submit_limit_order(  # type: ignore[misc]
                AUCTION, coid, side="BID", price=price, size=size
            ),
            retried,
        )
        acked[coid] = response.ack.sequence
        async with progress:
            progress.notify_all()


async def take_over(standby: ServeProcess) -> None:
    """Wait until ``standby`` leads and serves."""
    line = await standby.wait_for(r"took over journal|serving on")
    if "took over" in line:
        await standby.wait_for(r"serving on")
    standby.drain()


@pytest.mark.slow
async def test_the_standby_takes_over_a_killed_leader_losing_nothing(
    postgres_location: str,
) -> None:
    journal = postgres_location
    ports = [free_port(), free_port()]
    target = ",".join(f"127.0.0.1:{p}" for p in ports)  # every server, as the SDK takes them
    processes: list[ServeProcess] = []

    async def start(port: int, standby: bool) -> ServeProcess:
        proc = await ServeProcess.start(CONFIG, journal, f"127.0.0.1:{port}", standby=standby)
        processes.append(proc)
        if standby:
            await proc.wait_for(r"standby: .* waiting to take over")
        else:
            await proc.wait_for(r"serving on")
            proc.drain()
        return proc

    try:
        leader = await start(ports[0], standby=False)
        standby = await start(ports[1], standby=True)
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

            # A window timer due only after the first kill: the new leader must run it.
            await ops.create_auction(
                apb.AuctionParameters(
                    auction_id=TIMED, currency="USD", quotation_amount=2_000_000, max_spread="2"
                ),
                [pid for pid, _ in DEALERS.values()],
                schedule={"stage1_open": datetime.now(UTC) + timedelta(seconds=2)},
            )

        acked: dict[str, int] = {}
        progress = asyncio.Condition()
        go = asyncio.Event()
        go.set()
        retried: list[str] = []
        tasks = [
            asyncio.create_task(submit_all(target, d, acked, progress, go, retried))
            for d in ("B", "C", "D")
        ]
        kills_at: list[int] = []
        for threshold in KILL_AT_ACKS:

            def reached(t: int = threshold) -> bool:
                return len(acked) >= t

            async with progress:
                await asyncio.wait_for(progress.wait_for(reached), PATIENCE)
            await leader.kill()
            kills_at.append(len(acked))
            dead_port = int(leader.target.rsplit(":", 1)[1])
            await take_over(standby)
            go.clear()
            leader, standby = standby, await start(dead_port, standby=True)
            go.set()
        await asyncio.wait_for(asyncio.gather(*tasks), PATIENCE * 3)
        assert all(0 < k < 3 * ORDERS_PER_DEALER for k in kills_at), kills_at  # mid-load
        assert len(acked) == 3 * ORDERS_PER_DEALER
        assert retried, "no call was in flight at a kill: the failover path was not exercised"
        async with DealerClient(target, DEALERS["A"][1]) as a:

            async def opened_by_its_timer() -> None:
                while (await a.auction(TIMED)).phase != apb.PHASE_STAGE1_OPEN:  # noqa: ASYNC110
                    await asyncio.sleep(0.1)  # polled on another process; nothing is timed

            await asyncio.wait_for(opened_by_its_timer(), PATIENCE)
            await a.submit_market(TIMED, "m", bid="39.5", offer="40.5")

        # Every acknowledged submission is on the new leader exactly once...
        present: Counter[str] = Counter()
        for dealer in ("B", "C", "D"):
            async with DealerClient(target, DEALERS[dealer][1]) as client:
                mine = await client.my_submissions(AUCTION)
            present.update(
                o.order_id.split("/", 1)[1] for o in mine.limit_orders if not o.carried_over
            )
        assert sorted(present) == sorted(acked)
        assert set(present.values()) == {1}
        # ...and a retry of any of them gives back its original acknowledgement.
        for dealer in ("B", "C", "D"):
            async with DealerClient(target, DEALERS[dealer][1]) as client:
                for i in range(0, ORDERS_PER_DEALER, 7):
                    coid, price, size = order(dealer, i)
                    again = await client.submit_limit_order(
                        AUCTION, coid, side="BID", price=price, size=size
                    )
                    assert again.ack.sequence == acked[coid]

        async with OperatorClient(target, OPS) as ops:
            await ops.close_window(AUCTION)
            closed = await ops.results(AUCTION)
        # The third kill: just after the close, before anyone read the result elsewhere.
        await leader.kill()
        await take_over(standby)
        leader = standby
        async with OperatorClient(target, OPS) as ops:
            result = await ops.results(AUCTION)
        assert result == closed
        fills = [f for f in result.limit_order_fills if not f.carried_over]
        assert len(fills) == 3 * ORDERS_PER_DEALER
        assert sum(f.filled for f in result.limit_order_fills) == 200_000_000
        print(  # the figures the closing note quotes (pytest -s)
            f"\nfailover test: leaders killed at {kills_at} acknowledged submissions and after"
            f" the close; {len(retried)} calls retried, {len(acked)} acknowledged,"
            f" {len(present)} present once on the last leader, 0 lost"
        )
        leader.proc.terminate()
        assert await asyncio.wait_for(leader.proc.wait(), PATIENCE) == 0
    except BaseException:
        for i, proc in enumerate(processes):  # shown by pytest when the test fails
            print(f"--- server {i} (pid {proc.proc.pid}) ---\n" + "".join(proc.log[-30:]))
        raise
    finally:
        for proc in processes:
            await proc.kill()

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
