"""``python -m bench.replay``: how fast a restart replays a journal holding a big book.

Builds (once, in a temporary directory unless ``--journal`` names one) a SQLite journal with
one CDS auction in its stage-2 window holding ``--orders`` resting limit orders of four
dealers, written through the engine and the journal exactly as the server writes them; then
starts a :class:`server.app.CloseoutServer` on it (every service module, 127.0.0.1:0) and
reports the records replayed, the seconds from ``start()`` until it serves, and records/s.
Benchmarks are not tests: nothing here fails on a slow figure.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
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

DEALERS = ("dealer-a", "dealer-b", "dealer-c", "dealer-d")


async def build(path: Path, orders: int, batch: int = 5000) -> int:
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


async def measure(path: Path) -> tuple[int, float]:
    config = dataclasses.replace(demo_config(), listen="127.0.0.1:0", journal=path)
    server = CloseoutServer(config)
    started = time.perf_counter()
    await server.start()
    elapsed = time.perf_counter() - started
    replayed = server.replayed
    await server.stop(grace=0)
    return replayed, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--journal", type=Path, help="reuse (or create) this journal file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.journal or Path(tmp) / "bench.sqlite"
        if not path.exists():
            t0 = time.perf_counter()
            records = asyncio.run(build(path, args.orders))
            print(f"built {records} records in {time.perf_counter() - t0:.1f} s: {path}")
        replayed, seconds = asyncio.run(measure(path))
        print(
            f"restart: {replayed} records replayed, serving after {seconds:.2f} s"
            f" ({replayed / seconds:,.0f} records/s)"
        )


if __name__ == "__main__":
    main()
