"""Do heavy requests hold back submissions? ``python -m bench.compute_guard``.

Starts ``closeout serve`` (examples/server/default.toml, a fresh journal, 127.0.0.1) as a
separate process, plays examples/default/basic.json up to an open bid window, then has a
market maker submit bids one after another, measuring each acknowledgement, in three phases:

* ``idle``: nothing else runs;
* ``margin``: an operator's RunMargin with ``--scenarios`` curve scenarios over the book and
  ``--positions`` more positions of the survivors is in progress;
* ``pricing``: an observer sends ``--requests`` PriceSwaps of ``--swaps`` swaps each (at once;
  refused ones, over the observers' limit, are retried after 0.5 s until all are priced);
* ``load``: an operator's streamed load of ``--load`` more positions (a process of its own,
  ``closeout default load``'s chunks of 5,000) is in progress;
* ``topup``: then ``--topups`` loads of 10 positions each, one after another, into the house
  the ``load`` phase filled (each decided on a copy of the house).

``--phases`` picks and orders them (default ``idle,margin,pricing``).

Prints, per phase, the bids acknowledged, their p50 / p99 / max latency in milliseconds, and
how long the heavy calls took. Loopback only; stops the server it started (by its pid).
This module speaks only the wire API.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

import grpc
import grpc.aio

from clients.default_online import load_state
from clients.default_scenario import MARGIN_RUN, load_default_scenario
from clients.default_sdk import ClearingClient, MemberClient, cleared_swap, market_to_proto
from closeout.v1 import clearing_pb2 as pb
from closeout.v1 import pricing_pb2 as ppb
from closeout.v1 import pricing_pb2_grpc

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]
OPS = "demo-operator-token"
OBSERVER = "demo-observer-token"
BIDDER = "demo-mm-1-token"
LOT = "Dealer-D-1"


async def start_server(journal: Path) -> tuple[asyncio.subprocess.Process, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSEOUT_")}
    env["PYTHONPATH"] = str(ROOT)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from clients.cli import main; main()", "serve",
        "--config", str(ROOT / "examples" / "server" / "default.toml"),
        "--listen", "127.0.0.1:0", "--journal", str(journal),
        env=env, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    while True:
        line = (await proc.stderr.readline()).decode()
        if not line:
            raise SystemExit("closeout serve exited before serving")
        if found := re.search(r"serving on 127\.0\.0\.1:(\d+)", line):
            asyncio.get_running_loop().create_task(_drain(proc.stderr))
            return proc, f"127.0.0.1:{found.group(1)}"


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass


def swaps(count: int) -> list[ppb.SwapTerms]:
    data: dict[str, Any] = json.loads(
        (ROOT / "examples" / "pricing" / "patent_example.json").read_text()
    )
    base = data["swaps"]
    return [
        ppb.SwapTerms(
            id=f"s{i}",
            side=ppb.SWAP_SIDE_PAYER if i % 2 else ppb.SWAP_SIDE_RECEIVER,
            notional=base[i % len(base)]["notional"],
            fixed_rate=base[i % len(base)]["fixed_rate"],
            start=base[i % len(base)]["start"],
            maturity=base[i % len(base)]["maturity"],
        )
        for i in range(count)
    ]


def book(scenario: Any, count: int, first: int = 0) -> list[pb.ClearedPosition]:
    """Positions ``first`` to ``count`` (exclusive) of a book for the survivors, shaped like
    the scenario's own."""
    survivors = [m.member for m in scenario.members if m.member != "Dealer-D"]
    base = scenario.positions
    out = []
    for i in range(first, count):
        p = base[i % len(base)]
        out.append(
            pb.ClearedPosition(
                position_id=f"guard-{i}",
                member_id=survivors[i % len(survivors)],
                terms=cleared_swap(
                    currency=p.terms.currency,
                    index=p.terms.index,
                    side=("PAYER", "RECEIVER")[i % 2],
                    notional=1_000_000 * (1 + i % 50),
                    fixed_rate=p.terms.fixed_rate,
                    start=p.terms.start,
                    maturity=p.terms.maturity,
                ),
            )
        )
    return out


def scenarios(count: int) -> list[ppb.CurveScenario]:
    return [
        ppb.CurveScenario(name=f"sc{i}", short_bp=str(i % 50 - 25), long_bp=str(25 - i % 37))
        for i in range(count)
    ]


class Bidder:
    """Submits bids back to back while ``running``; keeps each acknowledgement's latency."""

    def __init__(self, client: MemberClient) -> None:
        self.client = client
        self.n = 0

    async def run_until(self, done: asyncio.Future[Any] | asyncio.Event) -> list[float]:
        latencies: list[float] = []
        while not (done.is_set() if isinstance(done, asyncio.Event) else done.done()):
            self.n += 1
            began = time.perf_counter()
            await self.client.submit_bid(LOT, f"g-{self.n}", f"{12000 + self.n % 500}")
            latencies.append((time.perf_counter() - began) * 1000)
        return latencies


def summary(name: str, latencies: list[float], heavy: float | None) -> str:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    text = (
        f"{name:8} bids={len(ordered):5} p50={statistics.median(ordered):8.1f} ms"
        f" p99={p99:8.1f} ms max={ordered[-1]:8.1f} ms"
    )
    if heavy is not None:
        text += f"  heavy calls took {heavy:6.2f} s"
    return text


async def priced_all(target: str, requests: int, count: int) -> None:
    data = json.loads((ROOT / "examples" / "pricing" / "patent_example.json").read_text())
    market = market_to_proto({k: v for k, v in data.items() if k != "swaps"})
    request = ppb.PriceSwapsRequest(market=market, swaps=swaps(count))
    metadata = (("authorization", f"Bearer {OBSERVER}"),)
    options = [("grpc.max_receive_message_length", 64 * 1024 * 1024)]
    async with grpc.aio.insecure_channel(target, options=options) as channel:
        stub = pricing_pb2_grpc.PricingServiceStub(channel)

        async def one() -> None:
            while True:
                try:
                    await stub.PriceSwaps(request, metadata=metadata)
                    return
                except grpc.aio.AioRpcError as exc:
                    if exc.code() is not grpc.StatusCode.RESOURCE_EXHAUSTED:
                        raise
                    await asyncio.sleep(0.5)  # the observers' slot is taken: back off

        await asyncio.gather(*(one() for _ in range(requests)))


async def loaded_all(target: str, count: int, offset: int) -> None:
    """The operator's streamed load, in a process of its own (building and sending 150,000
    positions is client work that must not stall the bidder's measurements)."""
    scenario = load_default_scenario(ROOT / "examples" / "default" / "basic.json")
    async with ClearingClient(target, OPS, timeout=1800) as ops:
        positions = book(scenario, count + offset, offset)
        await ops.load_chunks([], positions, house_id=scenario.house, chunk_size=5_000)


async def top_ups(ops: ClearingClient, scenario: Any, count: int, offset: int) -> None:
    for n in range(count):
        first = offset + 10 * n
        await ops.load([], book(scenario, first + 10, first), house_id=scenario.house)


async def main_async(args: argparse.Namespace) -> int:
    scenario = load_default_scenario(ROOT / "examples" / "default" / "basic.json")
    market = market_to_proto(scenario.market or {})
    with tempfile.TemporaryDirectory() as tmp:
        proc, target = await start_server(Path(tmp) / "journal.sqlite")
        try:
            async with (
                ClearingClient(target, OPS, timeout=600) as ops,
                MemberClient(target, BIDDER) as bidder_client,
            ):
                await load_state(ops, scenario)
                await ops.run_margin(MARGIN_RUN, market)
                await ops.declare_default("Dealer-D", market=market)
                await ops.convert("Dealer-D", market, hedge=True)
                await ops.create_auction(LOT, grading_threshold="2500")
                await ops.open_window(LOT)
                await ops.load([], book(scenario, args.positions), house_id=scenario.house)
                bidder = Bidder(bidder_client)
                for phase in args.phases.split(","):
                    await PHASES[phase](args, target, ops, bidder, scenario, market)
        finally:
            if proc.returncode is None:
                proc.terminate()
            await proc.wait()
    return 0


async def idle_phase(
    args: argparse.Namespace, target: str, ops: Any, bidder: Bidder, scenario: Any, market: Any
) -> None:
    idle = asyncio.Event()
    asyncio.get_running_loop().call_later(args.idle, idle.set)
    print(summary("idle", await bidder.run_until(idle), None), flush=True)


async def measure_during(name: str, bidder: Bidder, work: Awaitable[T]) -> T:
    """Measure the bidder while ``work`` runs; print the phase's summary, return its result."""
    began = time.perf_counter()
    running = asyncio.ensure_future(work)
    during = await bidder.run_until(running)
    result = await running
    print(summary(name, during, time.perf_counter() - began), flush=True)
    return result


async def beside_process(name: str, bidder: Bidder, argv: list[str], failure: str) -> None:
    """Measure the bidder while another ``bench.compute_guard`` process runs ``argv``."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.compute_guard", *argv,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    if await measure_during(name, bidder, process.wait()):
        raise SystemExit(failure)


async def margin_phase(
    args: argparse.Namespace, target: str, ops: Any, bidder: Bidder, scenario: Any, market: Any
) -> None:
    await measure_during(
        "margin", bidder, ops.run_margin("guard-run", market, scenarios(args.scenarios))
    )


async def pricing_phase(
    args: argparse.Namespace, target: str, ops: Any, bidder: Bidder, scenario: Any, market: Any
) -> None:
    # The observer is a process of its own: its client work (building and reading
    # 20,000-swap messages) must not stall the bidder's measurements.
    await beside_process(
        "pricing",
        bidder,
        ["--observer", target, "--requests", str(args.requests), "--swaps", str(args.swaps)],
        "the observer's pricing requests failed",
    )


async def load_phase(
    args: argparse.Namespace, target: str, ops: Any, bidder: Bidder, scenario: Any, market: Any
) -> None:
    await beside_process(
        "load",
        bidder,
        ["--loader", target, "--load", str(args.load), "--positions", str(args.positions)],
        "the operator's load failed",
    )


async def topup_phase(
    args: argparse.Namespace, target: str, ops: Any, bidder: Bidder, scenario: Any, market: Any
) -> None:
    await measure_during(
        "topup", bidder, top_ups(ops, scenario, args.topups, args.positions + args.load)
    )


PHASES = {
    "idle": idle_phase,
    "margin": margin_phase,
    "pricing": pricing_phase,
    "load": load_phase,
    "topup": topup_phase,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--scenarios", type=int, default=300)
    parser.add_argument("--requests", type=int, default=8)
    parser.add_argument("--swaps", type=int, default=20_000)
    parser.add_argument("--positions", type=int, default=2_000, help="survivors' extra book")
    parser.add_argument("--idle", type=float, default=3.0, help="seconds of the idle phase")
    parser.add_argument("--load", type=int, default=150_000, help="positions of the load phase")
    parser.add_argument("--topups", type=int, default=3, help="10-position loads after it")
    parser.add_argument("--phases", default="idle,margin,pricing", help="of " + ",".join(PHASES))
    parser.add_argument("--observer", metavar="TARGET", help=argparse.SUPPRESS)
    parser.add_argument("--loader", metavar="TARGET", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.observer:
        asyncio.run(priced_all(args.observer, args.requests, args.swaps))
        return 0
    if args.loader:
        asyncio.run(loaded_all(args.loader, args.load, args.positions))
        return 0
    unknown = set(args.phases.split(",")) - set(PHASES)
    if unknown:
        parser.error(f"unknown phases: {', '.join(sorted(unknown))}")
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
