"""``python -m bench.replay``: how fast a restart replays a journal holding a big book.

Builds (once, in a temporary directory unless ``--journal`` names one) a journal with one
CDS auction in its stage-2 window holding ``--orders`` resting limit orders of four dealers,
written through the engine and the journal exactly as the server writes them (a SQLite file,
or a PostgreSQL URL). Then, ``--rounds`` times each:

* **process**: starts ``python -m bench.serverproc`` on it (``CloseoutServer`` as ``closeout
  serve`` runs it, under uvloop) and times process start until it prints that it serves
  (imports, journal open and anchor check, replay, heap settling, bind);
* **in process**: a :class:`server.app.CloseoutServer` ``start()`` on it (127.0.0.1:0): the
  records replayed, the seconds until it serves and the CPU seconds that took (on a shared
  machine the CPU time moves least with the other jobs' load).

Benchmarks are not tests: nothing here fails on a slow figure.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from matching.cds.auction import CdsAuction, Schedule
from matching.cds.params import AuctionParams, OrderSide
from server.app import CloseoutServer
from server.cds.registry import STREAM_PREFIX
from server.config import demo_config
from server.journal import Journal
from server.journal_store import open_store, parse_location

DEALERS = ("dealer-a", "dealer-b", "dealer-c", "dealer-d")


async def build(path: Path | str, orders: int, batch: int = 5000) -> int:
    """Write the journal; returns the number of records."""
    now = datetime(2026, 1, 5, 9, tzinfo=UTC)
    params = AuctionParams.build(
        auction_id="bench", currency="USD", quotation_amount=2_000_000, max_spread="2"
    )
    decision = CdsAuction.create(
        params=params, panel=DEALERS, schedule=Schedule(), by="ops", now=now
    )
    auction = CdsAuction.from_events(decision.events)
    events = list(decision.events)

    def step(decision: object) -> None:
        evs = decision.events  # type: ignore[attr-defined]
        auction.apply_all(evs)
        events.extend(evs)

    step(auction.open_stage1(by="ops", now=now))
    for i, dealer in enumerate(DEALERS):
        step(
            auction.submit_market(
                dealer=dealer, client_order_id="m", bid="39.5", offer="40.5", now=now
            )
        )
        if i == 0:
            step(
                auction.submit_request(
                    dealer=dealer, client_order_id="p", side="SELL", size=10**15, now=now
                )
            )
    step(auction.close_stage1(by="ops", now=now))
    step(auction.open_stage2(by="ops", now=now))
    journal = await Journal.open(path)
    try:
        stream = STREAM_PREFIX + "bench"
        await journal.append(stream, [e.to_dict() for e in events])
        written = len(events)
        for start in range(0, orders, batch):
            chunk: list[dict[str, object]] = []
            for n in range(start, min(orders, start + batch)):
                at = now + timedelta(microseconds=n)
                decision = auction.submit_limit_order(
                    dealer=DEALERS[n % 4],
                    client_order_id=f"o-{n}",
                    side=OrderSide.BID,
                    price=f"{30 + (n % 80) * 0.125:.3f}",
                    size=1_000_000,
                    now=at,
                )
                auction.apply_all(decision.events)
                chunk.extend(e.to_dict() for e in decision.events)
            await journal.append(stream, chunk)
            written += len(chunk)
        return written
    finally:
        await journal.close()


async def measure(path: Path | str) -> tuple[int, float, float]:
    """(records replayed, seconds until serving, CPU seconds of this process meanwhile)."""
    config = dataclasses.replace(demo_config(), listen="127.0.0.1:0", journal=path)
    server = CloseoutServer(config)
    started, cpu = time.perf_counter(), time.process_time()
    await server.start()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    replayed = server.replayed
    await server.stop(grace=0)
    return replayed, elapsed, cpu


def measure_process(location: Path | str, timeout: float = 600.0) -> float:
    """Seconds from spawning a server process on ``location`` until it serves."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.serverproc", "--dealers", "4", "--journal", str(location)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # "PORT <n>", printed once serving
        elapsed = time.perf_counter() - started
        if not line.startswith("PORT "):
            raise RuntimeError(f"the server did not start (exit status {process.wait()})")
        return elapsed
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument(
        "--journal", help="reuse (or create) this journal: a SQLite file or a postgresql:// URL"
    )
    parser.add_argument("--rounds", type=int, default=3, help="restarts timed of each kind")
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        location = parse_location(args.journal) if args.journal else Path(tmp) / "bench.sqlite"
        store = open_store(location)
        try:
            fresh = not store.exists()
        finally:
            store.close()
        if fresh:
            t0 = time.perf_counter()
            records = asyncio.run(build(location, args.orders))
            print(f"built {records} records in {time.perf_counter() - t0:.1f} s: {location}")
        process_s: list[float] = []
        in_process_s: list[float] = []
        in_process_cpu_s: list[float] = []
        replayed = 0
        for _ in range(args.rounds):
            process_s.append(measure_process(location))
            print(f"restart (process start to serving): {process_s[-1]:.2f} s", flush=True)
            replayed, seconds, cpu = asyncio.run(measure(location))
            in_process_s.append(seconds)
            in_process_cpu_s.append(cpu)
            print(
                f"restart (in process): {replayed} records replayed, serving after"
                f" {seconds:.2f} s, {cpu:.2f} s CPU ({replayed / seconds:,.0f} records/s)",
                flush=True,
            )
        summary = {
            "records": replayed,
            "process_start_to_serving_s": process_s,
            "in_process_start_s": in_process_s,
            "in_process_cpu_s": in_process_cpu_s,
            "best_process_s": min(process_s),
            "best_records_per_s": replayed / min(in_process_s),
        }
        print(
            f"best of {args.rounds}: process start to serving {min(process_s):.2f} s"
            f" (max {max(process_s):.2f}); replay {summary['best_records_per_s']:,.0f} records/s"
        )
        if args.json:
            print(json.dumps(summary))


if __name__ == "__main__":
    main()
