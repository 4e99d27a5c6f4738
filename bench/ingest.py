"""``closeout bench ingest``: limit-order ingestion into a live server against the empty baseline.

One run, in this order:

1. start a Closeout server (``bench.serverproc``, fresh journal) or use ``--target``, and the
   empty baseline (``bench.baseline``) beside it; create an auction and bring it to the
   stage-2 window;
2. **unary**: load processes play dealers, each dealer on its own channel, ``SubmitLimitOrder``
   with ``in_flight`` calls in flight in total; every acknowledgement is durable (the server
   answers only after the journal commit); then exactly the same load against the baseline;
3. **stream**: the same dealers send ``SubmitOrders`` bulk streams of ``batch`` orders, to
   the server, then to the baseline;
4. steps 2 and 3 repeat for ``rounds`` rounds (new client order ids each time); the best run
   of each (mode, server) is reported, errors are counted over all of them;
5. **lost**: each dealer reads its book back (``ListMySubmissions``); every acknowledged
   client order id must be there.

Reported per mode: orders/s, latency p50/p99/p99.9 per call (a stream call carries
``batch`` orders), server CPU per order (from ``/proc``), errors, and the ratios to the
baseline. Benchmarks are not tests: nothing here fails on a slow figure.

May start servers (``bench.serverproc`` imports ``server``); talks to them only over the
wire, on 127.0.0.1, and stops every process it started.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.load import LoadResult, WorkerSpec, drive
from bench.procs import ServerProcess
from bench.report import environment, md_table, progress
from bench.serverproc import dealer_ids, dealer_token

__all__ = ["IngestConfig", "run_ingest"]


@dataclass(frozen=True)
class IngestConfig:
    """Sizes of one ingest run."""

    unary_orders: int = 40_000
    stream_orders: int = 200_000
    in_flight: int = 64  # unary calls in flight in total, over all dealers
    procs: int = 2  # load processes
    dealers: int = 8  # dealers submitting (each its own channel); the panel has 25
    batch: int = 2_000  # orders per SubmitOrders call
    panel: int = 25
    time_cap: float = 600.0  # seconds per load run; beyond it orders are counted as errors
    rounds: int = 3  # alternate server and baseline this many times; the best of each counts

    @classmethod
    def quick(cls) -> IngestConfig:
        return cls(unary_orders=8_000, stream_orders=40_000, rounds=2)

    @classmethod
    def tiny(cls) -> IngestConfig:
        """For the smoke test: seconds, not figures."""
        return cls(
            unary_orders=200,
            stream_orders=400,
            in_flight=8,
            procs=1,
            dealers=2,
            batch=100,
            time_cap=30.0,
            rounds=1,
        )


def _specs(
    cfg: IngestConfig, target: str, auction_id: str, mode: str, prefix: str
) -> list[WorkerSpec]:
    dealers = dealer_ids(cfg.panel)[: cfg.dealers]
    total = cfg.unary_orders if mode == "unary" else cfg.stream_orders
    per_dealer = total // len(dealers)
    per_channel = max(1, cfg.in_flight // len(dealers)) if mode == "unary" else 1
    specs = []
    for p in range(cfg.procs):
        mine = dealers[p :: cfg.procs]
        if mine:
            specs.append(
                WorkerSpec(
                    target=target,
                    auction_id=auction_id,
                    dealers=tuple((d, dealer_token(d)) for d in mine),
                    mode=mode,
                    per_dealer=per_dealer,
                    in_flight=per_channel,
                    batch=cfg.batch,
                    prefix=prefix,
                    seed=p,
                    time_cap=cfg.time_cap,
                )
            )
    return specs


def _measure(
    specs: list[WorkerSpec], server: ServerProcess | None, bar: Any, label: str
) -> tuple[LoadResult, float | None]:
    total = sum(s.per_dealer * len(s.dealers) for s in specs)
    bar.reset(label, total)
    cpu0: list[float] = []

    def on_start() -> None:
        if server is not None:
            cpu0.append(server.cpu())

    patience = min(120.0, 10.0 + specs[0].time_cap)
    result = drive(specs, on_start=on_start, on_progress=bar.advance, patience=patience)
    cpu = server.cpu() - cpu0[0] if server is not None and cpu0 else None
    return result, cpu


def _summary(result: LoadResult, cpu: float | None) -> dict[str, Any]:
    return {
        "orders": result.ok,
        "calls": result.calls,
        "seconds": round(result.span, 3),
        "per_s": round(result.per_s, 1),
        "p50_ms": result.percentile_ms(50),
        "p99_ms": result.percentile_ms(99),
        "p999_ms": result.percentile_ms(99.9),
        "server_cpu_us_per_order": (
            round(cpu / result.ok * 1e6, 1) if cpu is not None and result.ok else None
        ),
        "errors": result.errors,
        "error_codes": dict(result.error_codes),
        "curve": result.latency_curve(),  # for bench.plots
        "timeline": result.timeline(),
    }


def _lost(target: str, auction_id: str, acked: dict[str, list[str]]) -> int:
    from bench.setup import book_ids

    async def count() -> int:
        missing = 0
        for dealer, ids in acked.items():
            have = await book_ids(target, dealer, auction_id)
            missing += sum(1 for i in ids if i not in have)
        return missing

    return asyncio.run(count())


def run_ingest(
    cfg: IngestConfig,
    *,
    target: str | None = None,
    show_progress: bool = False,
    compare_python: str | None = None,
    journal: str | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Run the whole ingest bench; returns the JSON-able result.

    The server keeps its journal in a fresh temporary SQLite file, or in ``journal`` (a
    ``postgresql://`` URL or a SQLite path; it should be empty: the server replays it).

    Both servers run side by side (the idle one costs nothing); the loads alternate
    server, baseline, server, baseline for ``cfg.rounds`` rounds and the best run of each
    (mode, server) counts, so a burst of noise from elsewhere on the machine hits one run,
    not the ratio. Errors are counted over every run.
    """
    from bench.setup import open_stage2

    auction_id = f"bench-ingest-{int(time.time())}"
    real: dict[str, dict[str, Any]] = {}
    base: dict[str, dict[str, Any]] = {}
    errors = {"unary": 0, "stream": 0}
    lost = 0
    with progress(show_progress) as bar, tempfile.TemporaryDirectory() as tmp:
        server: ServerProcess | None = None
        baseline: ServerProcess | None = None
        try:
            if target is None:
                server = ServerProcess(
                    "bench.serverproc",
                    ["--dealers", str(cfg.panel), "--journal", journal or f"{tmp}/j.sqlite"],
                ).start()
                target = server.target
            log(f"server on {target}; preparing auction {auction_id}")
            asyncio.run(open_stage2(target, auction_id, dealer_ids(cfg.panel), 10**15))
            baseline = ServerProcess("bench.baseline").start()
            acked: dict[str, list[str]] = {}
            for round_ in range(cfg.rounds):
                for mode in ("unary", "stream"):
                    prefix = f"{mode[0]}{round_}-"
                    specs = _specs(cfg, target, auction_id, mode, prefix)
                    result, cpu = _measure(
                        specs, server, bar, f"{mode} → server, round {round_ + 1}"
                    )
                    errors[mode] += result.errors
                    for dealer, ids in result.acked.items():
                        acked.setdefault(dealer, []).extend(ids)
                    summary = _summary(result, cpu)
                    if mode not in real or summary["per_s"] > real[mode]["per_s"]:
                        real[mode] = summary
                    specs = _specs(cfg, baseline.target, "baseline", mode, prefix)
                    result, cpu = _measure(
                        specs, baseline, bar, f"{mode} → baseline, round {round_ + 1}"
                    )
                    summary = _summary(result, cpu)
                    if mode not in base or summary["per_s"] > base[mode]["per_s"]:
                        base[mode] = summary
            lost = _lost(target, auction_id, acked)
            acked_total = sum(len(v) for v in acked.values())
        finally:
            for proc in (server, baseline):
                if proc is not None:
                    proc.stop()
    for mode in ("unary", "stream"):
        real[mode]["errors"] = errors[mode]
    modes: dict[str, dict[str, Any]] = {}
    for mode in ("unary", "stream"):
        r, b = real[mode], base[mode]
        modes[mode] = {
            **r,
            "baseline": b,
            "ratio": round(r["per_s"] / b["per_s"], 3) if b["per_s"] else None,
            "p99_vs_baseline": round(r["p99_ms"] / b["p99_ms"], 2) if b["p99_ms"] else None,
        }
    u, s = modes["unary"], modes["stream"]
    data: dict[str, Any] = {
        "bench": "ingest",
        "journal": _backend(journal),
        "per_s": u["per_s"],
        "baseline_per_s": u["baseline"]["per_s"],
        "ratio": u["ratio"],
        "p50_ms": u["p50_ms"],
        "p99_ms": u["p99_ms"],
        "p999_ms": u["p999_ms"],
        "baseline_p99_ms": u["baseline"]["p99_ms"],
        "server_cpu_us_per_order": u["server_cpu_us_per_order"],
        "stream_per_s": s["per_s"],
        "stream_baseline_per_s": s["baseline"]["per_s"],
        "stream_ratio": s["ratio"],
        "errors": u["errors"] + s["errors"],
        "lost": lost,
        "acknowledged": acked_total,
        "unary": u,
        "stream": s,
        "config": cfg.__dict__,
        "environment": environment(),
        "targets": {  # issue 14's figures
            "unary_ratio_ge_0.80": bool(u["ratio"] and u["ratio"] >= 0.80),
            "unary_cpu_le_1.3x_baseline": bool(
                u["server_cpu_us_per_order"]
                and u["baseline"]["server_cpu_us_per_order"]
                and u["server_cpu_us_per_order"] <= 1.3 * u["baseline"]["server_cpu_us_per_order"]
            ),
            "stream_ratio_ge_0.55": bool(s["ratio"] and s["ratio"] >= 0.55),
            "p99_le_2x_baseline": bool(
                u["p99_vs_baseline"] is not None and u["p99_vs_baseline"] <= 2.0
            ),
        },
    }
    if compare_python:
        data["grpc_versions"] = compare_grpc(compare_python, cfg, bar=None)
    return data


def compare_grpc(other_python: str, cfg: IngestConfig, bar: Any = None) -> dict[str, Any]:
    """The empty baseline (server and client) under this grpcio and under another venv's.

    Each side runs ``python -m bench.grpccompare`` with its own interpreter, alternately,
    twice, so drift on a noisy machine hits both.
    """
    runs: dict[str, list[dict[str, Any]]] = {"this": [], "other": []}
    args = [
        "--orders", str(cfg.unary_orders), "--in-flight", str(cfg.in_flight),
        "--procs", str(cfg.procs), "--dealers", str(cfg.dealers),
    ]  # fmt: skip
    root = Path(__file__).resolve().parents[1]
    for _ in range(2):
        for name, python in (("this", sys.executable), ("other", other_python)):
            out = subprocess.run(
                [python, "-m", "bench.grpccompare", *args],
                capture_output=True,
                text=True,
                check=True,
                cwd=root,
                env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
                timeout=600,
            )
            runs[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
    best = {k: max(v, key=lambda r: r["per_s"]) for k, v in runs.items()}
    return {
        "this": best["this"],
        "other": best["other"],
        "this_over_other": round(best["this"]["per_s"] / best["other"]["per_s"], 3),
        "cpu_ratio_other_over_this": round(
            best["other"]["server_cpu_us_per_call"] / best["this"]["server_cpu_us_per_call"], 3
        ),
        "runs": runs,
    }


def _backend(journal: str | None) -> str:
    """The journal backend's name, for the report (never the URL: it may hold a password)."""
    if journal is not None and journal.startswith(("postgresql://", "postgres://")):
        return "postgresql"
    return "sqlite"


def compare_journals(sqlite: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """``other``'s result with the SQLite run's ratios beside it, under ``"sqlite"``."""
    keys = ("per_s", "ratio", "p99_ms", "stream_per_s", "stream_ratio", "lost", "errors")
    return {**other, "sqlite": {k: sqlite[k] for k in keys}}


def markdown(data: dict[str, Any]) -> str:
    """The Markdown report of an ingest run."""
    env = data["environment"]
    rows = []
    for mode in ("unary", "stream"):
        m = data[mode]
        b = m["baseline"]
        rows.append(
            [
                mode,
                f"{m['per_s']:,.0f}",
                f"{b['per_s']:,.0f}",
                f"**{m['ratio']}**",
                f"{m['p50_ms']:.2f} / {m['p99_ms']:.2f} / {m['p999_ms']:.2f}",
                f"{b['p50_ms']:.2f} / {b['p99_ms']:.2f} / {b['p999_ms']:.2f}",
                m["server_cpu_us_per_order"],
                b["server_cpu_us_per_order"],
                m["errors"],
            ]
        )
    cfg = data["config"]
    text = [
        "# Ingest bench",
        "",
        f"{env['when']}, {env['cpu']} ({env['cores']} cores), Python {env['python']}, "
        f"grpcio {env['grpcio']}. {cfg['dealers']} dealers in {cfg['procs']} load processes; "
        f"unary: {cfg['unary_orders']:,} orders, {cfg['in_flight']} calls in flight; stream: "
        f"{cfg['stream_orders']:,} orders in calls of {cfg['batch']:,}.",
        "",
        md_table(
            [
                "mode",
                "orders/s",
                "baseline orders/s",
                "ratio",
                "p50/p99/p99.9 ms",
                "baseline p50/p99/p99.9 ms",
                "server CPU µs/order",
                "baseline CPU µs/order",
                "errors",
            ],
            rows,
        ),
        "",
        f"Lost (acknowledged but not in the book afterwards): **{data['lost']}** of "
        f"{data['acknowledged']:,} acknowledged. Best of {cfg['rounds']} alternating rounds "
        "per cell. Stream latencies are per call of one batch.",
        "",
        "Targets: " + ", ".join(f"{k}: {'yes' if v else 'no'}" for k, v in data["targets"].items()),
    ]
    if "sqlite" in data:
        q = data["sqlite"]
        text += [
            "",
            f"## Journal backends ({data['journal']} beside SQLite, same load, one after"
            " the other)",
            "",
            md_table(
                [
                    "journal",
                    "unary orders/s",
                    "unary ratio",
                    "p99 ms",
                    "stream orders/s",
                    "stream ratio",
                    "lost",
                ],
                [
                    [
                        data["journal"],
                        f"{data['per_s']:,.0f}",
                        data["ratio"],
                        data["p99_ms"],
                        f"{data['stream_per_s']:,.0f}",
                        data["stream_ratio"],
                        data["lost"],
                    ],
                    [
                        "sqlite",
                        f"{q['per_s']:,.0f}",
                        q["ratio"],
                        q["p99_ms"],
                        f"{q['stream_per_s']:,.0f}",
                        q["stream_ratio"],
                        q["lost"],
                    ],
                ],
            ),
        ]
    if "grpc_versions" in data:
        g = data["grpc_versions"]
        text += [
            "",
            "## grpcio versions (empty baseline, same client)",
            "",
            md_table(
                ["grpcio", "calls/s", "p99 ms", "server CPU µs/call"],
                [
                    [r["grpcio"], f"{r['per_s']:,.0f}", r["p99_ms"], r["server_cpu_us_per_call"]]
                    for r in (g["this"], g["other"])
                ],
            ),
            "",
            f"This/other throughput: {g['this_over_other']}; server CPU other/this: "
            f"{g['cpu_ratio_other_over_this']}.",
        ]
    return "\n".join(text)
