"""What non-reading and many watchers cost the server: ``python -m bench.watch_memory``.

Starts a fresh server (``bench.serverproc``, 127.0.0.1), brings an auction to stage 2 and has
one dealer submit ``--events`` limit orders (bulk streams), so that its ``WatchAuction`` from
sequence 0 is that long. Then:

1. **Non-reading watchers**: for each count in ``--stalled`` (default 1 and 12), that many
   ``WatchAuction`` streams from 0 by that dealer that never read a message; after
   ``--settle`` seconds the server's RSS (and how it grew) is printed, then they are
   cancelled.
2. **Many watchers**: ``--watchers`` dealers each open ``WatchAuction`` from 0 at once; the
   time to each one's first message (p50 / p99 / max), while a dealer keeps submitting and
   its acknowledgements are timed (p50 / p99).

Loopback only; stops the server it started. Speaks only the wire API.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import grpc
import grpc.aio

from bench.procs import ServerProcess
from bench.serverproc import OPERATOR_TOKEN, dealer_ids, dealer_token
from clients.sdk import DealerClient, OperatorClient
from closeout.v1 import auction_pb2 as apb
from closeout.v1 import auction_pb2_grpc

AUCTION = "w-1"


def _metadata(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


async def fill(target: str, dealer: str, events: int) -> None:
    """``events`` resting limit orders of ``dealer`` (bulk streams of 10,000)."""
    async with DealerClient(target, dealer_token(dealer)) as client:
        n = 0
        while n < events:
            batch = [
                apb.SubmitOrdersRequest(
                    auction_id=AUCTION,
                    client_order_id=f"o-{i}",
                    side=apb.ORDER_SIDE_BID,
                    price=f"{30 + (i % 40) * 0.125:.3f}",
                    size=1_000,
                )
                for i in range(n, min(events, n + 10_000))
            ]
            response = await client.submit_orders(batch)
            assert not response.rejections, response.rejections[:3]
            n += len(batch)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def stalled(server: ServerProcess, dealer: str, count: int, settle: float) -> str:
    """``count`` watchers that never read; the RSS they cost the server."""
    before = server.rss()
    channels = [grpc.aio.insecure_channel(server.target) for _ in range(count)]
    calls = []
    for channel in channels:
        stub = auction_pb2_grpc.AuctionServiceStub(channel)
        call = stub.WatchAuction(
            apb.WatchAuctionRequest(auction_id=AUCTION, after_sequence=0),
            metadata=_metadata(dealer_token(dealer)),
        )
        calls.append(call)
    await asyncio.sleep(settle)
    during = server.rss()
    states = [str(call.done()) for call in calls]
    codes = [str((await call.code()).name) for call in calls if call.done()]
    for call in calls:
        call.cancel()
    for channel in channels:
        await channel.close()
    await asyncio.sleep(1.0)
    return (
        f"stalled watchers={count:3}: server RSS {before / 2**20:7.1f} MB -> {during / 2**20:7.1f}"
        f" MB (+{(during - before) / 2**20:6.1f} MB); ended by the server:"
        f" {states.count('True')} {sorted(set(codes))}"
    )


async def many(target: str, dealer: str, watchers: list[str]) -> str:
    """Each of ``watchers`` (dealers) from 0 at once: time to first message; a dealer's
    acknowledgements meanwhile."""
    firsts: list[float] = []
    channel = grpc.aio.insecure_channel(target)
    stub = auction_pb2_grpc.AuctionServiceStub(channel)
    done = asyncio.Event()

    async def watch(watcher: str) -> None:
        began = time.perf_counter()
        call = stub.WatchAuction(
            apb.WatchAuctionRequest(auction_id=AUCTION, after_sequence=0),
            metadata=_metadata(dealer_token(watcher)),
        )
        async for _ in call:
            firsts.append(time.perf_counter() - began)
            break
        call.cancel()

    acks: list[float] = []

    async def submit() -> None:
        async with DealerClient(target, dealer_token(dealer)) as client:
            n = 0
            while not done.is_set():
                n += 1
                began = time.perf_counter()
                await client.submit_limit_order(
                    AUCTION, f"a-{n}", side="BID", price="30", size=1_000
                )
                acks.append(time.perf_counter() - began)

    submitter = asyncio.create_task(submit())
    await asyncio.gather(*(watch(w) for w in watchers))
    done.set()
    await submitter
    await channel.close()
    return (
        f"{len(watchers)} watchers from 0: first message"
        f" p50 {statistics.median(firsts) * 1000:7.1f}"
        f" ms, p99 {pct(firsts, 0.99) * 1000:7.1f} ms, max {max(firsts) * 1000:7.1f} ms;"
        f" a dealer's acks meanwhile ({len(acks)}): p50 {statistics.median(acks) * 1000:6.1f} ms,"
        f" p99 {pct(acks, 0.99) * 1000:6.1f} ms"
    )


async def open_stage2(target: str, dealers: list[str]) -> None:
    """Every dealer on the panel; four quote, one sells (a stage-2 window opens)."""
    async with OperatorClient(target, OPERATOR_TOKEN) as ops:
        await ops.create_auction(
            apb.AuctionParameters(
                auction_id=AUCTION, currency="USD", quotation_amount=2_000_000, max_spread="2"
            ),
            panel=dealers,
        )
        await ops.open_window(AUCTION)
        for i, dealer in enumerate(dealers[:4]):
            async with DealerClient(target, dealer_token(dealer)) as client:
                await client.submit_market(AUCTION, "m-1", bid=f"{40 + i * 0.125}", offer="41.5")
                if i == 0:
                    await client.submit_settlement_request(
                        AUCTION, "psr-1", side="SELL", size=1_000_000_000
                    )
        await ops.close_window(AUCTION)
        await ops.open_window(AUCTION)


async def main_async(args: argparse.Namespace) -> None:
    # Streams are limited per participant: each of the many watchers is a dealer of its own.
    dealers = dealer_ids(max(4, args.watchers + 3))
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(
            "bench.serverproc",
            ["--dealers", str(len(dealers)), "--journal", str(Path(tmp) / "j.sqlite")],
        ).start()
        try:
            await open_stage2(server.target, dealers)
            await fill(server.target, dealers[1], args.events)
            print(f"auction {AUCTION}: {args.events} orders of {dealers[1]}", flush=True)
            for count in args.stalled:
                print(await stalled(server, dealers[1], count, args.settle), flush=True)
            if args.watchers:
                print(await many(server.target, dealers[2], dealers[3:]), flush=True)
        finally:
            server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--stalled", type=int, nargs="*", default=[1, 12])
    parser.add_argument("--settle", type=float, default=10.0, help="seconds before measuring")
    parser.add_argument("--watchers", type=int, default=1_000)
    asyncio.run(main_async(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
