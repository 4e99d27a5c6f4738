"""Bidding members for ``closeout bench default``: load processes that play a bid plan.

A plan is a list of :class:`Pair` (one member in one default auction): the actions it takes
(a bid, a replacement, a withdrawal), each at an offset in seconds from the window's
opening. :func:`play` spawns one process per :class:`BidderSpec`; each opens one channel per
member it plays (with the member's bearer token), reports ready, waits for the common start
signal and the opening time, then runs every pair as its own task: an action is sent at its
time (at once when the pair is behind), and a pair's next action only after the previous
one was answered, as a member's trading system replaces its own bid. A member's pairs on
different lots run concurrently on its channel, so the load comes in waves and bursts the
way the plan times them (an opening wave, steady replacements, a last-second burst, a few
bids after the close that must be refused).

Every call is recorded: member, auction, kind, client order id, amount, send time (epoch
seconds), latency (µs), status code and, when acknowledged, the server's ``accepted_at``.
The same code drives the real server and the empty baseline (``bench.baseline``), so the
client's cost is in both figures.

Workers import only grpc, the wire code and uvloop (never ``server`` or ``matching``),
target 127.0.0.1 only, bound every run in time, and :func:`play` always stops the processes
it started.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.workers import run_together, spawn_context

__all__ = ["Action", "BidRecord", "BidderSpec", "Pair", "play"]

#: What a load process sends back per call; see the module docstring.
BidRecord = tuple[str, str, str, str, str, float, int, str, int, int]


@dataclass(frozen=True)
class Action:
    """One call of a pair: ``kind`` is "bid", "replace" or "withdraw" (amount empty)."""

    offset: float
    kind: str
    client_order_id: str
    amount: str = ""


@dataclass(frozen=True)
class Pair:
    """One member's actions in one auction, in the order it sends them."""

    member: str
    auction_id: str
    actions: tuple[Action, ...]


@dataclass(frozen=True)
class BidderSpec:
    """What one load process plays: ``members`` (id, token) pairs, one channel each."""

    target: str
    members: tuple[tuple[str, str], ...]
    pairs: tuple[Pair, ...]
    time_cap: float = 300.0

    def __post_init__(self) -> None:
        if not self.target.startswith("127.0.0.1:"):
            raise ValueError("the bench targets 127.0.0.1 only")
        known = {m for m, _ in self.members}
        if any(p.member not in known for p in self.pairs):
            raise ValueError("every pair's member must be one of the spec's members")


async def _play_pair(
    stubs: dict[str, Any],
    metadata: Mapping[str, tuple[tuple[str, str], ...]],
    pair: Pair,
    opening: float,
    deadline: float,
    out: list[BidRecord],
) -> None:
    import grpc.aio

    from closeout.v1 import clearing_pb2 as pb

    stub = stubs[pair.member]
    meta = metadata[pair.member]
    for action in pair.actions:
        delay = opening + action.offset - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        if time.monotonic() > deadline:
            out.append(_record(pair, action, time.time(), 0, "TIME_CAP", None))
            continue
        sent = time.time()
        t0 = time.perf_counter_ns()
        ack = None
        try:
            if action.kind == "withdraw":
                response: Any = await stub.WithdrawBid(
                    pb.WithdrawBidRequest(
                        auction_id=pair.auction_id, client_order_id=action.client_order_id
                    ),
                    metadata=meta,
                )
            else:
                response = await stub.SubmitBid(
                    pb.SubmitBidRequest(
                        auction_id=pair.auction_id,
                        client_order_id=action.client_order_id,
                        amount=action.amount,
                    ),
                    metadata=meta,
                )
            ack = response.ack
            code = "OK"
        except grpc.aio.AioRpcError as exc:
            code = exc.code().name
        latency = max(1, (time.perf_counter_ns() - t0) // 1000)
        out.append(_record(pair, action, sent, latency, code, ack))


def _record(
    pair: Pair, action: Action, sent: float, latency_us: int, code: str, ack: Any
) -> BidRecord:
    seconds, nanos = (ack.accepted_at.seconds, ack.accepted_at.nanos) if ack else (0, 0)
    return (
        pair.member,
        pair.auction_id,
        action.kind,
        action.client_order_id,
        action.amount,
        sent,
        latency_us,
        code,
        seconds,
        nanos,
    )


def _worker(spec: BidderSpec, number: int, out: Any, go: Any, opening: Any) -> None:
    """Entry point of one load process."""
    import grpc.aio
    import uvloop

    from closeout.v1 import clearing_pb2_grpc

    async def main() -> None:
        channels = {
            m: grpc.aio.insecure_channel(
                spec.target, options=[("grpc.max_receive_message_length", -1)]
            )
            for m, _ in spec.members
        }
        try:
            await asyncio.gather(
                *(asyncio.wait_for(c.channel_ready(), 30) for c in channels.values())
            )
            stubs = {m: clearing_pb2_grpc.DefaultAuctionServiceStub(c) for m, c in channels.items()}
            metadata = {m: (("authorization", f"Bearer {t}"),) for m, t in spec.members}
            out.put(("ready", number))
            if not await asyncio.to_thread(go.wait, spec.time_cap):  # a multiprocessing Event
                raise TimeoutError("no start signal")
            deadline = time.monotonic() + spec.time_cap
            records: list[BidRecord] = []
            await asyncio.gather(
                *(
                    _play_pair(stubs, metadata, p, opening.value, deadline, records)
                    for p in spec.pairs
                )
            )
            out.put(("done", records))
        finally:
            await asyncio.gather(*(c.close() for c in channels.values()))

    try:
        uvloop.run(main())
    except BaseException as exc:
        out.put(("failed", repr(exc)))
        raise


def play(
    specs: Sequence[BidderSpec],
    opening_at: Callable[[], float],
    *,
    patience: float = 120.0,
) -> list[BidRecord]:
    """Run one bid plan: start every load process, wait until all are connected, then ask
    ``opening_at`` for the window's opening (epoch seconds; it may first create the
    auctions and wait for them to open) and start them together; returns every record."""
    opening = spawn_context().Value("d", 0.0)

    def open_window() -> None:
        opening.value = opening_at()

    done = run_together(
        _worker,
        specs,
        kind="bidder",
        time_cap=max(s.time_cap for s in specs),
        patience=patience,
        extra_args=(opening,),
        before_go=open_window,
    )
    return [record for records in done for record in records]
