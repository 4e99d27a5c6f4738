"""``closeout bench auction``: whole auctions through a live server, and stage-2 clearing alone.

Three parts, one run:

1. **Whole CDS auctions** through a fresh server (``bench.serverproc``): for each size (10^3 to
   10^6 limit orders) and panel (12 to 25 dealers): create, stage 1 (open, every dealer's
   initial market, one physical settlement request, close), open stage 2, stage-2 ingestion
   (bulk streams from load processes), close stage 2 (clearing, journal, ack), the final
   price (``WatchAuction`` from the close), and the full publication (``GetResults``). Each
   phase is timed by the client; the server's RSS before and after stage-2 ingestion gives
   its memory per resting order.
2. **Stage-2 clearing** in this process (``matching.cds.stage2.clear`` on a book of N orders,
   12 to 25 dealers, a few hundred price levels), next to the lower bound of a numpy sort of
   the same prices; the exponent of time ~ N^k is fitted by least squares on log-log.
3. **Converted-swap default auctions**: each example of ``examples/default`` played whole
   (clearing state to settlement) through a fresh ``closeout serve``, as
   ``closeout default run --target`` does; reported as not done if that engine is missing.

Benchmarks are not tests; nothing fails on a slow figure. May start servers (through
``bench.serverproc``, which imports ``server``); talks to them only over the wire on
127.0.0.1 and stops every process it started.
"""

from __future__ import annotations

import asyncio
import math
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.load import WorkerSpec, drive
from bench.procs import ServerProcess
from bench.report import environment, md_table, progress
from bench.serverproc import OPERATOR_TOKEN, dealer_ids, dealer_token

__all__ = ["AuctionConfig", "clearing_curve", "fit_exponent", "markdown", "run_auction"]


@dataclass(frozen=True)
class AuctionConfig:
    """Sizes of one auction run: (orders, dealers) per whole auction, clearing sizes."""

    auctions: tuple[tuple[int, int], ...] = (
        (1_000, 12),
        (10_000, 12),
        (100_000, 25),
        (1_000_000, 25),
    )
    clearing_sizes: tuple[int, ...] = (1_000, 10_000, 100_000, 1_000_000)
    procs: int = 2
    batch: int = 5_000
    repeats: int = 3
    converted_swaps: bool = True
    converted_repeats: int = 3

    @classmethod
    def quick(cls) -> AuctionConfig:
        return cls(
            auctions=((1_000, 12), (20_000, 25)),
            clearing_sizes=(1_000, 10_000, 100_000, 1_000_000),
            repeats=2,
            converted_repeats=1,
        )

    @classmethod
    def tiny(cls) -> AuctionConfig:
        return cls(
            auctions=((200, 12),),
            clearing_sizes=(100, 1_000),
            procs=1,
            batch=50,
            converted_swaps=False,
        )


def fit_exponent(sizes: Sequence[float], seconds: Sequence[float]) -> float:
    """k in seconds ~ c * size^k, least squares on logs."""
    xs = [math.log(s) for s in sizes]
    ys = [math.log(max(t, 1e-9)) for t in seconds]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else 0.0


# -- stage-2 clearing in process ------------------------------------------------------------


def _book(orders: int, dealers: int, seed: int) -> tuple[Any, list[int]]:
    from matching.book import BookOrder, SealedBook

    book = SealedBook()
    rng = random.Random(seed)
    names = dealer_ids(dealers)
    prices: list[int] = []
    for i in range(orders):
        ticks = 240 + int(rng.triangular(0, 200, 80))
        size = 1_000_000 * rng.randint(1, 10)
        book.add(BookOrder(f"{names[i % dealers]}/o{i}", names[i % dealers], ticks, size, i + 2))
        prices.append(ticks)
    return book, prices


def clear_once(orders: int, dealers: int, seed: int = 1) -> dict[str, Any]:
    """Time stage-2 clearing of one book against a numpy sort of its prices."""
    import numpy as np

    from matching.cds.params import AuctionParams, Side
    from matching.cds.stage1 import SettlementRequest, Stage1Outcome
    from matching.cds.stage2 import clear

    params = AuctionParams.build(auction_id="bench", quotation_amount=2_000_000, max_spread="2")
    book, prices = _book(orders, dealers, seed)
    oi = book.total_size // 3  # the final price falls inside the book, with a pro-rata level
    outcome = Stage1Outcome(
        failure=None, matched=(), best_half=0, imm=320, buy_total=0, sell_total=oi,
        adjustments=(),
    )  # fmt: skip
    requests = [SettlementRequest("d00", Side.SELL, oi, 1)]
    t0 = time.perf_counter()
    result = clear(params, outcome, book, requests)
    clear_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    fills = len(result.order_fills)  # one fill object per order, built on first use
    fills_s = time.perf_counter() - t0
    arr = np.array(prices, dtype=np.int64)
    sort_s = min(_timed(lambda: np.sort(arr)) for _ in range(5))
    return {
        "orders": orders,
        "dealers": dealers,
        "levels": len(set(prices)),
        "clear_s": clear_s,
        "numpy_sort_s": sort_s,
        "ratio_to_sort": clear_s / sort_s if sort_s else None,
        "final_ticks": result.final_ticks,
        "fills": fills,
        "fills_s": fills_s,
    }


def _timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def clearing_curve(sizes: Sequence[int], repeats: int, bar: Any) -> dict[str, Any]:
    """Best-of-``repeats`` clearing time per size, and the fitted exponents."""
    rows = []
    for n in sizes:
        bar.reset(f"clearing {n:,} orders", repeats)
        best: dict[str, Any] | None = None
        for r in range(repeats):
            row = clear_once(n, 25 if n >= 100_000 else 12, seed=r + 1)
            if best is None or row["clear_s"] < best["clear_s"]:
                best = row
            bar.advance(1)
        assert best is not None
        rows.append(best)
    return {
        "rows": rows,
        "exponent": round(fit_exponent(sizes, [r["clear_s"] for r in rows]), 3),
        "numpy_exponent": round(fit_exponent(sizes, [r["numpy_sort_s"] for r in rows]), 3),
    }


# -- whole auctions through the server ------------------------------------------------------


async def _stage1(target: str, auction_id: str, dealers: list[str], oi: int) -> dict[str, float]:
    from clients.sdk import DealerClient, OperatorClient
    from closeout.v1 import auction_pb2 as apb

    times: dict[str, float] = {}
    async with OperatorClient(target, OPERATOR_TOKEN) as ops:
        t = time.perf_counter()
        await ops.create_auction(
            apb.AuctionParameters(
                auction_id=auction_id, currency="USD", quotation_amount=2_000_000, max_spread="2"
            ),
            panel=dealers,
        )
        times["create"] = time.perf_counter() - t
        t = time.perf_counter()
        await ops.open_window(auction_id)
        clients = [DealerClient(target, dealer_token(d)) for d in dealers]
        try:
            await asyncio.gather(
                *(
                    c.submit_market(auction_id, "m-1", bid=f"{40 + (i % 4) * 0.125:.3f}",
                                    offer="41.5")
                    for i, c in enumerate(clients)
                )
            )  # fmt: skip
            await clients[0].submit_settlement_request(auction_id, "psr-1", side="SELL", size=oi)
        finally:
            for c in clients:
                await c.close()
        await ops.close_window(auction_id)
        times["stage1"] = time.perf_counter() - t
        t = time.perf_counter()
        await ops.open_window(auction_id)
        times["open_stage2"] = time.perf_counter() - t
    return times


async def _close(target: str, auction_id: str) -> dict[str, Any]:
    import grpc.aio

    from closeout.v1 import auction_pb2 as apb
    from closeout.v1 import auction_pb2_grpc, operator_pb2_grpc
    from closeout.v1 import operator_pb2 as opb

    md = (("authorization", f"Bearer {OPERATOR_TOKEN}"),)
    channel = grpc.aio.insecure_channel(target, options=[("grpc.max_receive_message_length", -1)])
    out: dict[str, Any] = {}
    try:
        ops = operator_pb2_grpc.OperatorServiceStub(channel)
        dealers = auction_pb2_grpc.AuctionServiceStub(channel)
        t = time.perf_counter()
        closed = await ops.CloseWindow(opb.CloseWindowRequest(auction_id=auction_id), metadata=md)
        out["close_stage2"] = time.perf_counter() - t
        t = time.perf_counter()
        seq = closed.ack.sequence
        async for event in dealers.WatchAuction(
            apb.WatchAuctionRequest(auction_id=auction_id, after_sequence=seq - 1), metadata=md
        ):
            if event.type == "Stage2Closed":
                out["final_price"] = event.final_price
                break
        out["final_price_read"] = time.perf_counter() - t
        t = time.perf_counter()
        result = await ops.GetResults(opb.GetResultsRequest(auction_id=auction_id), metadata=md)
        out["results"] = time.perf_counter() - t
        out["fills"] = len(result.result.limit_order_fills)
    finally:
        await channel.close()
    return out


def whole_auction(
    orders: int, panel: int, cfg: AuctionConfig, bar: Any, tmp: Path
) -> dict[str, Any]:
    """One auction from creation to final price through a fresh server."""
    auction_id = f"bench-auction-{orders}"
    dealers = dealer_ids(panel)
    per_dealer = orders // panel
    total = per_dealer * panel
    # Open interest about a third of the bids: the final price falls inside the book.
    oi = total * 5_500_000 // 3
    journal = tmp / f"auction-{orders}.sqlite"
    with ServerProcess(
        "bench.serverproc", ["--dealers", str(panel), "--journal", str(journal)]
    ) as server:
        times = asyncio.run(_stage1(server.target, auction_id, dealers, oi))
        rss0 = server.rss()
        # Two halves, so that the second measures the marginal memory of a resting order
        # (the first also pays for warm-up: allocator arenas, gRPC buffers, caches).
        half = per_dealer // 2
        bar.reset(f"auction {total:,} orders, {panel} dealers: stage 2", total)
        cpu0: list[float] = []
        loads = []
        rss_mid = 0
        for part, (prefix, count) in enumerate((("o", half), ("p", per_dealer - half))):
            specs = [
                WorkerSpec(
                    target=server.target,
                    auction_id=auction_id,
                    dealers=tuple((d, dealer_token(d)) for d in dealers[p :: cfg.procs]),
                    mode="stream",
                    per_dealer=count,
                    batch=cfg.batch,
                    prefix=prefix,
                    seed=p + 10 * part,
                )
                for p in range(cfg.procs)
            ]
            on_start = (lambda: cpu0.append(server.cpu())) if part == 0 else None
            loads.append(drive(specs, on_start=on_start, on_progress=bar.advance))
            if part == 0:
                rss_mid = server.rss()
        ok = sum(x.ok for x in loads)
        errors = sum(x.errors for x in loads)
        times["stage2_ingest"] = sum(x.span for x in loads)
        cpu = server.cpu() - cpu0[0]
        rss1 = server.rss()
        closing = asyncio.run(_close(server.target, auction_id))
        rss2 = server.rss()
    times["close_stage2"] = closing.pop("close_stage2")
    times["final_price_read"] = closing.pop("final_price_read")
    times["results"] = closing.pop("results")
    to_final = sum(
        times[k]
        for k in ("create", "stage1", "open_stage2", "stage2_ingest", "close_stage2",
                  "final_price_read")
    )  # fmt: skip
    return {
        "orders": ok,
        "dealers": panel,
        "errors": errors,
        "phases_s": {k: round(v, 4) for k, v in times.items()},
        "creation_to_final_price_s": round(to_final, 3),
        "stage2_orders_per_s": round(ok / times["stage2_ingest"], 1),
        "server_cpu_us_per_order": round(cpu / max(1, ok) * 1e6, 1),
        "final_price": closing["final_price"],
        "fills": closing["fills"],
        "rss_before_stage2_mb": round(rss0 / 2**20, 1),
        "rss_after_stage2_mb": round(rss1 / 2**20, 1),
        "rss_after_close_mb": round(rss2 / 2**20, 1),
        "bytes_per_resting_order_overall": round((rss1 - rss0) / max(1, ok), 1),
        "bytes_per_resting_order": round((rss1 - rss_mid) / max(1, loads[1].ok), 1),
    }


#: Example defaults played whole through the server (the rejected_* examples end in a
#: refusal by design, which is not a whole auction).
CONVERTED_SWAP_EXAMPLES = ("basic", "bucket", "positive_rcv", "tie_draw", "no_bids")


def converted_swap_auctions(repeats: int, bar: Any) -> dict[str, Any]:
    """Whole converted-swap default auctions through a fresh ``closeout serve`` each.

    Each example of ``examples/default`` is played by ``clients.default_online`` exactly as
    ``closeout default run --target`` does: clearing state, margin call, default, conversion
    into lots (server-side pricing), one sealed-bid auction per lot, every member's bids,
    close, award, settlement. Timed by the client, best of ``repeats``; the server is
    started outside the timing. Reported as not done if the engine or its service is missing.
    """
    root = Path(__file__).resolve().parents[1]
    config = root / "examples" / "server" / "default.toml"
    tokens_path = root / "examples" / "server" / "default-tokens.toml"
    try:
        from clients.default_online import load_tokens, run_default_online
        from clients.default_scenario import load_default_scenario
    except ImportError as exc:
        return {"done": False, "why": f"no converted-swap auction client yet ({exc})"}
    if not config.exists() or not tokens_path.exists():
        return {"done": False, "why": "no server config for default auctions"}
    tokens = load_tokens(tokens_path)
    rows = []
    bar.reset("converted-swap auctions", len(CONVERTED_SWAP_EXAMPLES) * repeats)
    with tempfile.TemporaryDirectory() as tmp:
        for name in CONVERTED_SWAP_EXAMPLES:
            scenario = load_default_scenario(root / "examples" / "default" / f"{name}.json")
            best = math.inf
            result: dict[str, Any] = {}
            for r in range(repeats):
                journal = Path(tmp) / f"{name}-{r}.sqlite"  # one clearing house per journal
                with ServerProcess.closeout_serve(config, journal) as server:
                    t0 = time.perf_counter()
                    result, _ = asyncio.run(run_default_online(scenario, server.target, tokens))
                    best = min(best, time.perf_counter() - t0)
                bar.advance(1)
            auctions = result.get("auctions", [])
            rows.append(
                {
                    "example": name,
                    "lots": len(auctions),
                    "bids": len(scenario.bids),
                    "seconds": round(best, 4),
                    "outcomes": [
                        f"{a['phase']}"
                        + (
                            f" to {a['award']['member']} ({a['award']['method']})"
                            if a["award"]
                            else ""
                        )
                        for a in auctions
                    ],
                }
            )
    return {"done": True, "why": "examples/default played through closeout serve", "rows": rows}


def run_auction(
    cfg: AuctionConfig, *, show_progress: bool = False, log: Callable[[str], None] = lambda _: None
) -> dict[str, Any]:
    """Run the auction bench; returns the JSON-able result."""
    with progress(show_progress) as bar, tempfile.TemporaryDirectory() as tmp:
        auctions = []
        for orders, panel in cfg.auctions:
            log(f"whole auction: {orders:,} orders, {panel} dealers")
            auctions.append(whole_auction(orders, panel, cfg, bar, Path(tmp)))
        curve = clearing_curve(cfg.clearing_sizes, cfg.repeats, bar)
        converted = (
            converted_swap_auctions(cfg.converted_repeats, bar) if cfg.converted_swaps else None
        )
    largest = curve["rows"][-1]
    big = max(auctions, key=lambda a: a["orders"])
    return {
        "bench": "auction",
        "auctions": auctions,
        "clearing": curve,
        "clear_s": largest["clear_s"],
        "clear_orders": largest["orders"],
        "numpy_sort_s": largest["numpy_sort_s"],
        "clear_ratio_to_numpy": round(largest["ratio_to_sort"], 2),
        "clear_exponent": curve["exponent"],
        "bytes_per_resting_order": big["bytes_per_resting_order"],
        "bytes_measured_over": big["orders"],
        "errors": sum(a["errors"] for a in auctions),
        "converted_swap": converted or {"done": False, "why": "not asked for"},
        "targets": {
            "clear_le_3x_numpy": largest["ratio_to_sort"] <= 3.0,
            "bytes_per_order_le_400": big["bytes_per_resting_order"] <= 400,
        },
        "config": {
            "auctions": [list(a) for a in cfg.auctions],
            "clearing_sizes": list(cfg.clearing_sizes),
            "procs": cfg.procs,
            "batch": cfg.batch,
            "repeats": cfg.repeats,
        },
        "environment": environment(),
    }


CLEARING_COLUMNS = [
    "orders",
    "dealers",
    "levels",
    "clear ms",
    "np.sort ms",
    "ratio",
    "all fills listed, ms",
]


def markdown(data: dict[str, Any]) -> str:
    """The Markdown report of an auction run."""
    env = data["environment"]
    phase_names = ["create", "stage1", "open_stage2", "stage2_ingest", "close_stage2",
                   "final_price_read", "results"]  # fmt: skip
    rows = [
        [
            f"{a['orders']:,}",
            a["dealers"],
            *(f"{a['phases_s'][p]:.3f}" for p in phase_names),
            f"{a['creation_to_final_price_s']:.2f}",
            f"{a['stage2_orders_per_s']:,.0f}",
            a["bytes_per_resting_order"],
            a["final_price"],
        ]
        for a in data["auctions"]
    ]
    clearing = [
        [
            f"{r['orders']:,}",
            r["dealers"],
            r["levels"],
            f"{r['clear_s'] * 1000:.2f}",
            f"{r['numpy_sort_s'] * 1000:.3f}",
            f"{r['ratio_to_sort']:.2f}",
            f"{r['fills_s'] * 1000:.0f}",
        ]
        for r in data["clearing"]["rows"]
    ]
    cs = data["converted_swap"]
    converted = ""
    if cs["done"]:
        converted = "\n\n" + md_table(
            ["example", "lots", "bids", "seconds, whole default", "outcomes"],
            [
                [
                    r["example"],
                    r["lots"],
                    r["bids"],
                    f"{r['seconds']:.3f}",
                    ", ".join(map(str, r["outcomes"])),
                ]
                for r in cs["rows"]
            ],
        )
    return "\n".join(
        [
            "# Auction bench",
            "",
            f"{env['when']}, {env['cpu']} ({env['cores']} cores), Python {env['python']}, "
            f"grpcio {env['grpcio']}.",
            "",
            "## Whole CDS auctions through the server (seconds per phase)",
            "",
            md_table(
                [
                    "orders",
                    "dealers",
                    *phase_names,
                    "creation→final price",
                    "stage-2 orders/s",
                    "bytes/resting order",
                    "final price",
                ],
                rows,
            ),
            "",
            "## Stage-2 clearing vs a numpy sort of the same prices",
            "",
            md_table(
                [
                    "orders",
                    "dealers",
                    "levels",
                    "clear ms",
                    "np.sort ms",
                    "ratio",
                    "all fills listed, ms",
                ],
                clearing,
            ),
            "",
            f"Fitted exponent (time ~ N^k): clearing {data['clearing']['exponent']}, "
            f"numpy sort {data['clearing']['numpy_exponent']}.",
            "",
            "## Converted-swap default auctions",
            "",
            f"{'Done' if cs['done'] else 'Not done'}: {cs['why']}." + converted,
            "",
            "Targets: "
            + ", ".join(f"{k}: {'yes' if v else 'no'}" for k, v in data["targets"].items()),
        ]
    )
