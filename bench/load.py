"""Load generators: simulated dealers in separate processes, submitting limit orders over gRPC.

:func:`drive` starts one spawned process per :class:`WorkerSpec`; each process opens one
channel per dealer it plays (each with the dealer's bearer token), builds its orders, reports
ready, waits for the common start signal, then submits either unary ``SubmitLimitOrder``
calls (``in_flight`` concurrent calls per channel) or ``SubmitOrders`` bulk streams of
``batch`` orders. Every call is timed into an HdrHistogram (microseconds) and its completion
time kept (for throughput over time). Results come back through a queue: counts, errors by
status code, acknowledged client order ids, the encoded histogram, completion times and the
wall-clock span of the work.

The same worker code drives the real server and the empty baseline (``bench.baseline``), so
the client's own cost is in both figures. Workers import only grpc, the wire code, uvloop
and hdrh (they also run under a throwaway venv with another grpcio). This module targets
127.0.0.1 only, caps in-flight calls per channel, bounds every run in time, and always
stops the processes it started.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.workers import run_together

__all__ = ["LoadResult", "WorkerSpec", "drive", "order_fields"]

#: Distinct price levels the orders use (0.125 grid from 30 up): a realistic few hundred.
LEVELS = 200
MAX_IN_FLIGHT_PER_CHANNEL = 256
HIST_MAX_US = 120_000_000
#: A run that takes longer than this is cut short (and its shortfall counted as errors).
DEFAULT_TIME_CAP = 600.0


@dataclass(frozen=True)
class WorkerSpec:
    """What one load process does. ``dealers``: (dealer id, token) pairs, one channel each."""

    target: str
    auction_id: str
    dealers: tuple[tuple[str, str], ...]
    mode: str  # "unary" or "stream"
    per_dealer: int
    in_flight: int = 8  # per channel: concurrent unary calls, or concurrent streams
    batch: int = 2000  # orders per stream call
    prefix: str = "o"
    seed: int = 0
    time_cap: float = DEFAULT_TIME_CAP

    def __post_init__(self) -> None:
        if not self.target.startswith("127.0.0.1:"):
            raise ValueError("the bench targets 127.0.0.1 only")
        if not 1 <= self.in_flight <= MAX_IN_FLIGHT_PER_CHANNEL:
            raise ValueError(f"in_flight must be 1..{MAX_IN_FLIGHT_PER_CHANNEL}")
        if self.mode not in ("unary", "stream"):
            raise ValueError("mode is 'unary' or 'stream'")


@dataclass
class LoadResult:
    """Merged results of all workers of one run."""

    ok: int = 0
    errors: int = 0
    error_codes: Counter[str] = field(default_factory=Counter)
    calls: int = 0
    span: float = 0.0
    hist: Any = None
    acked: dict[str, list[str]] = field(default_factory=dict)  # dealer -> client order ids
    start: float = 0.0
    done: list[tuple[float, int]] = field(default_factory=list)  # (epoch s, orders) per call

    @property
    def per_s(self) -> float:
        return self.ok / self.span if self.span > 0 else 0.0

    def percentile_ms(self, p: float) -> float:
        if self.hist is None or self.hist.get_total_count() == 0:
            return 0.0
        return float(self.hist.get_value_at_percentile(p)) / 1000.0

    def latency_curve(self) -> list[list[float]]:
        """``[[percentile, ms], ...]`` per call, for a percentile plot."""
        levels = (0.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99, 100.0)
        return [[p, round(self.percentile_ms(p), 3)] for p in levels]

    def timeline(self, bins: int = 80) -> list[list[float]]:
        """Orders answered per second over the run, ``[[t, per_s], ...]`` (``t`` seconds from
        the start, the end of each of about ``bins`` equal bins, at most one per 4 calls)."""
        if not self.done or self.span <= 0:
            return []
        width = max(0.05, self.span / max(1, min(bins, len(self.done) // 4)))
        counts = [0] * (int(self.span / width) + 1)
        for t, n in self.done:
            counts[min(len(counts) - 1, max(0, int((t - self.start) / width)))] += n
        return [[round((i + 1) * width, 3), round(c / width, 1)] for i, c in enumerate(counts)]


def order_fields(seed: int, i: int) -> tuple[str, int]:
    """The i-th order's (price, size): deterministic, spread over :data:`LEVELS` levels."""
    k = (i * 7919 + seed * 104729) % LEVELS
    ticks = 240 + k  # 30.000 upwards on the 0.125 grid
    whole, frac = divmod(ticks, 8)
    price = f"{whole}" if frac == 0 else f"{whole}.{frac * 125:03d}".rstrip("0")
    return price, 1_000_000 * (1 + (i * 31 + seed) % 10)


def _new_hist() -> Any:
    from hdrh.histogram import HdrHistogram

    return HdrHistogram(1, HIST_MAX_US, 3)


async def _run_dealer(
    spec: WorkerSpec,
    dealer: str,
    token: str,
    index: int,
    go: Any,
    ready: Callable[[], None],
    progress: Callable[[int], None],
    hist: Any,
) -> dict[str, Any]:
    import grpc
    import grpc.aio

    from closeout.v1 import auction_pb2 as pb
    from closeout.v1 import auction_pb2_grpc

    options = [("grpc.max_receive_message_length", -1)]
    channel = grpc.aio.insecure_channel(spec.target, options=options)
    stub = auction_pb2_grpc.AuctionServiceStub(channel)
    metadata = (("authorization", f"Bearer {token}"),)
    seed = spec.seed * 1000 + index
    ids = [f"{spec.prefix}{i}" for i in range(spec.per_dealer)]
    acked: list[str] = []
    done: list[tuple[float, int]] = []
    codes: Counter[str] = Counter()
    calls = 0
    try:
        await asyncio.wait_for(channel.channel_ready(), 30)
        if spec.mode == "unary":
            unary = []
            for i, coid in enumerate(ids):
                price, size = order_fields(seed, i)
                unary.append(
                    pb.SubmitLimitOrderRequest(
                        auction_id=spec.auction_id,
                        client_order_id=coid,
                        side=pb.ORDER_SIDE_BID,
                        price=price,
                        size=size,
                    )
                )
        else:
            bulk = []
            for i, coid in enumerate(ids):
                price, size = order_fields(seed, i)
                bulk.append(
                    pb.SubmitOrdersRequest(
                        auction_id=spec.auction_id,
                        client_order_id=coid,
                        side=pb.ORDER_SIDE_BID,
                        price=price,
                        size=size,
                    )
                )
        ready()
        if not await asyncio.to_thread(go.wait, spec.time_cap):  # a multiprocessing Event
            raise TimeoutError("no start signal")
        deadline = time.monotonic() + spec.time_cap
        start = time.time()
        if spec.mode == "unary":
            cursor = iter(range(len(unary)))

            async def caller() -> None:
                nonlocal calls
                for i in cursor:
                    if time.monotonic() > deadline:
                        codes["TIME_CAP"] += 1
                        continue
                    t0 = time.perf_counter_ns()
                    try:
                        await stub.SubmitLimitOrder(unary[i], metadata=metadata)
                    except grpc.aio.AioRpcError as exc:
                        codes[exc.code().name] += 1
                    else:
                        acked.append(ids[i])
                    hist.record_value(max(1, (time.perf_counter_ns() - t0) // 1000))
                    done.append((time.time(), 1))
                    calls += 1
                    if calls % 256 == 0:
                        progress(256)

            await asyncio.gather(*(caller() for _ in range(spec.in_flight)))
            progress(calls % 256)
        else:
            batches = iter(range(0, len(bulk), spec.batch))

            async def streamer() -> None:
                nonlocal calls
                for lo in batches:
                    chunk = bulk[lo : lo + spec.batch]
                    if time.monotonic() > deadline:
                        codes["TIME_CAP"] += len(chunk)
                        continue
                    t0 = time.perf_counter_ns()
                    try:
                        response = await stub.SubmitOrders(iter(chunk), metadata=metadata)
                    except grpc.aio.AioRpcError as exc:
                        codes[exc.code().name] += len(chunk)
                    else:
                        refused = {r.index for r in response.rejections}
                        for r in response.rejections:
                            codes[r.code] += 1
                        acked.extend(ids[lo + j] for j in range(len(chunk)) if j not in refused)
                    hist.record_value(max(1, (time.perf_counter_ns() - t0) // 1000))
                    done.append((time.time(), len(chunk)))
                    calls += 1
                    progress(len(chunk))

            await asyncio.gather(*(streamer() for _ in range(spec.in_flight)))
        end = time.time()
    finally:
        await channel.close()
    return {
        "acked": acked,
        "codes": codes,
        "calls": calls,
        "start": start,
        "end": end,
        "done": done,
    }


def _worker(spec: WorkerSpec, number: int, out: Any, go: Any) -> None:
    """Entry point of one load process."""
    import uvloop

    def ready() -> None:
        out.put(("ready", number))

    def progress(n: int) -> None:
        out.put(("progress", n))

    async def main() -> None:
        hist = _new_hist()
        pending = len(spec.dealers)
        ready_count = 0

        def one_ready() -> None:
            nonlocal ready_count
            ready_count += 1
            if ready_count == pending:
                ready()

        results = await asyncio.gather(
            *(
                _run_dealer(spec, dealer, token, i, go, one_ready, progress, hist)
                for i, (dealer, token) in enumerate(spec.dealers)
            )
        )
        codes: Counter[str] = Counter()
        for r in results:
            codes.update(r["codes"])
        out.put(
            (
                "done",
                {
                    "acked": {
                        d: r["acked"] for (d, _), r in zip(spec.dealers, results, strict=True)
                    },
                    "codes": dict(codes),
                    "calls": sum(r["calls"] for r in results),
                    "start": min(r["start"] for r in results),
                    "end": max(r["end"] for r in results),
                    "hist": hist.encode(),
                    "done": [t for r in results for t in r["done"]],
                },
            )
        )

    try:
        uvloop.run(main())
    except BaseException as exc:
        out.put(("failed", repr(exc)))
        raise


def drive(
    specs: Sequence[WorkerSpec],
    *,
    on_start: Callable[[], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    patience: float = 120.0,
) -> LoadResult:
    """Run one load: start every worker, start them together, merge their results.

    ``on_start`` runs just before the start signal (e.g. to read the server's CPU time);
    ``on_progress`` gets the number of orders completed since its last call.
    """
    result = LoadResult(hist=_new_hist())

    def progress(message: str, value: Any) -> None:
        if message == "progress" and on_progress is not None:
            on_progress(value)

    done: list[dict[str, Any]] = run_together(
        _worker,
        specs,
        kind="load",
        time_cap=max(s.time_cap for s in specs),
        patience=patience,
        before_go=on_start,
        on_message=progress,
    )
    for d in done:
        for dealer, ids in d["acked"].items():
            result.acked.setdefault(dealer, []).extend(ids)
        result.error_codes.update(d["codes"])
        result.calls += d["calls"]
        result.hist.decode_and_add(d["hist"])
    result.ok = sum(len(v) for v in result.acked.values())
    result.errors = sum(result.error_codes.values())
    result.start = min(d["start"] for d in done)
    result.span = max(d["end"] for d in done) - result.start
    result.done = sorted(t for d in done for t in d["done"])
    return result
