"""``closeout bench``: the load harness (ingest, whole auctions, default auctions) against a
same-run baseline, and curve building against QuantLib.

The harness lives in ``bench/`` and is imported lazily inside each command: it starts
servers (``bench.serverproc`` imports ``server``), which no other client command may load.
This module only turns flags into a bench config, runs it and prints the result; it never
measures anything itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

app = typer.Typer(
    help="Benchmarks: ingestion, whole auctions and default auctions vs the baseline; curves."
)

_err = Console(stderr=True, soft_wrap=True)

Quick = Annotated[bool, typer.Option("--quick", help="A smaller run (under a minute).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
Out = Annotated[
    Path | None,
    typer.Option(
        "--out", help="Folder for <name>.json, <name>.md and <name>.png (default bench/out/)."
    ),
]


@app.command("ingest")
def ingest(
    quick: Quick = False,
    as_json: AsJson = False,
    out: Out = None,
    target: Annotated[
        str | None,
        typer.Option(
            "--target",
            help="A running bench server (python -m bench.serverproc) instead of starting one.",
        ),
    ] = None,
    in_flight: Annotated[int, typer.Option("--in-flight", help="Unary calls in flight.")] = 64,
    orders: Annotated[
        int | None, typer.Option("--orders", help="Unary orders (stream: 5x).")
    ] = None,
    compare_grpc: Annotated[
        str | None,
        typer.Option(
            "--compare-grpc",
            help="Another venv's python (e.g. with grpcio 1.85.1): compare the empty baseline.",
        ),
    ] = None,
    journal: Annotated[
        str | None,
        typer.Option(
            "--journal",
            help="Also run with the server's journal here (a postgresql:// URL; an EMPTY"
            " database or schema: it is replayed at start) and report its ratios beside"
            " SQLite's.",
        ),
    ] = None,
) -> None:
    """Unary and streamed limit-order ingestion vs an empty gRPC handler, same client."""
    from dataclasses import replace

    from bench.ingest import IngestConfig, compare_journals, markdown, run_ingest

    cfg = IngestConfig.quick() if quick else IngestConfig()
    cfg = replace(cfg, in_flight=in_flight)
    if orders is not None:
        cfg = replace(cfg, unary_orders=orders, stream_orders=5 * orders)
    data = run_ingest(
        cfg,
        target=target,
        show_progress=not as_json and _err.is_terminal,
        compare_python=compare_grpc,
        log=lambda m: None if as_json else _err.print(m, highlight=False),
    )
    if journal is not None:
        if target is not None:
            _err.print("--journal starts its own server: it cannot be used with --target")
            raise typer.Exit(2)
        other = run_ingest(
            cfg,
            show_progress=not as_json and _err.is_terminal,
            journal=journal,
            log=lambda m: None if as_json else _err.print(m, highlight=False),
        )
        data = compare_journals(data, other)
    _emit("ingest", data, markdown(data), out, as_json)


@app.command("auction")
def auction(quick: Quick = False, as_json: AsJson = False, out: Out = None) -> None:
    """Whole auctions (10^3 to 10^6 orders) by phase; stage-2 clearing vs numpy; memory."""
    from bench.auction import AuctionConfig, markdown, run_auction

    cfg = AuctionConfig.quick() if quick else AuctionConfig()
    data = run_auction(
        cfg,
        show_progress=not as_json and _err.is_terminal,
        log=lambda m: None if as_json else _err.print(m, highlight=False),
    )
    _emit("auction", data, markdown(data), out, as_json)


@app.command("curves")
def curves(
    quick: Quick = False,
    as_json: AsJson = False,
    out: Out = None,
    sets: Annotated[
        int | None, typer.Option("--sets", help="Curve sets per interpolation (default 30).")
    ] = None,
    rounds: Annotated[int | None, typer.Option("--rounds", help="Rounds (best is kept).")] = None,
) -> None:
    """Curve bootstrapping per interpolation vs QuantLib, same run; DV01 rebuilds; a PNG."""
    from dataclasses import replace

    from bench.curves import CurveBenchConfig, markdown, run_curves

    cfg = CurveBenchConfig.quick() if quick else CurveBenchConfig()
    if sets is not None:
        cfg = replace(cfg, sets=sets)
    if rounds is not None:
        cfg = replace(cfg, rounds=rounds)
    data = run_curves(cfg, log=lambda m: None if as_json else _err.print(m, highlight=False))
    _emit("curves", data, markdown(data), out, as_json)


@app.command("default")
def default(
    quick: Quick = False,
    as_json: AsJson = False,
    out: Out = None,
    members: Annotated[
        int | None, typer.Option("--members", help="Clearing members (default 300).")
    ] = None,
    lots: Annotated[int | None, typer.Option("--lots", help="Lots in the window (default 40).")] = (
        None
    ),
    window: Annotated[
        float | None, typer.Option("--window", help="Seconds the bid window is open (default 30).")
    ] = None,
) -> None:
    """Default auctions under load: members bidding and replacing concurrently, a window
    closing on the server's clock, awards and settlement, every acknowledged bid verified."""
    from dataclasses import replace

    from bench.default_auction import DefaultBenchConfig, markdown, run_default

    cfg = DefaultBenchConfig.quick() if quick else DefaultBenchConfig()
    if members is not None:
        cfg = replace(cfg, members=members)
    if lots is not None:
        cfg = replace(cfg, lots=lots)
    if window is not None:
        cfg = replace(cfg, window=window)
    data = run_default(cfg, log=lambda m: None if as_json else _err.print(m, highlight=False))
    _emit("default", data, markdown(data), out, as_json)


def _emit(name: str, data: dict[str, Any], text: str, out: Path | None, as_json: bool) -> None:
    """Write ``<name>.json``, ``.md`` and ``.png``; print the JSON or the Markdown."""
    from bench.plots import plot
    from bench.report import write_report

    path = write_report(name, data, text, out)
    png = plot(name, data, path.with_suffix(".png"))
    if as_json:
        print(json.dumps(data, sort_keys=True))
        return
    Console().print(text, markup=False, highlight=False)
    written = f"{path}, {path.with_suffix('.md')}" + (f" and {png}" if png else "")
    _err.print(f"written: {written}", highlight=False)
    if png is None:
        _err.print("no plot: install the bench extra (pip install -e '.[bench]')")
