"""PNG pictures of bench results, one module for every bench (matplotlib, the ``bench`` extra).

Each ``plot_<bench>(data, path)`` draws the figure of one bench's JSON result (the dict its
``run_*`` returns) into ``path`` and returns it, or None when matplotlib is missing or the
result holds nothing to draw. Building blocks: percentile curves of latency (ours against
the baseline, on the usual 1/(1 - p) axis), throughput over time, and grouped bars.

Drawing only: this module never measures, never decides a figure, and reads nothing but the
dict it is given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "PLOTTERS",
    "plot",
    "plot_auction",
    "plot_curves",
    "plot_default",
    "plot_ingest",
    "plot_pricing",
]

#: Percentiles marked on a latency curve's axis (100: the maximum).
_TICKS = (50.0, 90.0, 99.0, 99.9, 99.99, 100.0)


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def _save(fig: Any, plt: Any, path: Path) -> Path:
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _x(percentile: float) -> float:
    """A percentile on the 1/(1 - p) axis (100% is drawn where 99.999% would be)."""
    return 1.0 / max(1e-5, 1.0 - percentile / 100.0)


def latency_panel(ax: Any, curves: Mapping[str, Sequence[Sequence[float]]], title: str) -> bool:
    """Latency (ms, log) by percentile for each labelled curve ``[[p, ms], ...]``; baseline
    curves (label containing "baseline") dashed. False when no curve has a point."""
    drawn = False
    for i, (label, curve) in enumerate(curves.items()):
        points = [(float(p), float(ms)) for p, ms in curve if ms is not None and ms > 0]
        if not points:
            continue
        xs = [_x(p) for p, _ in points]
        style = "--" if "baseline" in label else "-"
        ax.plot(xs, [ms for _, ms in points], style, marker=".", color=f"C{i // 2}", label=label)
        drawn = True
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks([_x(p) for p in _TICKS], [f"{p:g}" if p < 100 else "max" for p in _TICKS])
    ax.minorticks_off()
    ax.set_xlabel("percentile")
    ax.set_ylabel("latency, ms")
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    if drawn:
        ax.legend(fontsize=8)
    return drawn


def throughput_panel(
    ax: Any,
    series: Mapping[str, Sequence[Sequence[float]]],
    title: str,
    unit: str,
    marks: Mapping[str, float] | None = None,
) -> bool:
    """Throughput over time for each labelled series ``[[t, per_s], ...]`` (step lines), and
    vertical lines at ``marks`` (label -> t). False when no series has a point."""
    drawn = False
    for i, (label, points) in enumerate(series.items()):
        if not points:
            continue
        times = [float(p[0]) for p in points]
        values = [float(p[1]) for p in points]
        style = "--" if "baseline" in label else "-"
        ax.step(times, values, style, where="pre", color=f"C{i}", label=label)
        drawn = True
    for j, (label, at) in enumerate((marks or {}).items()):
        ax.axvline(at, color="grey", linestyle=":" if j else "-.", linewidth=1, label=label)
    ax.set_xlabel("seconds")
    ax.set_ylabel(unit)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if drawn:
        ax.legend(fontsize=8)
    return drawn


def plot_default(data: Mapping[str, Any], path: Path) -> Path | None:
    """``closeout bench default``: latency curves of first bids and replacements against the
    baseline's, and acknowledged bids per second over the window with the close marked."""
    plt = _pyplot()
    if plt is None:
        return None
    server, base = data["server"], data.get("baseline")
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.4))
    curves: dict[str, Sequence[Sequence[float]]] = {}
    for key, label in (("first_bids", "first bids"), ("replacements", "replacements")):
        curves[f"{label}, server"] = server[key]["curve"]
        if base:
            curves[f"{label}, baseline"] = base[key]["curve"]
    latency_panel(left, curves, f"Bid latency, {data['members']} members, {data['lots']} lots")
    series = {"server": server["timeline"]}
    if base:
        series["baseline (same plan)"] = base["timeline"]
    window = float(data["config"]["window"])
    throughput_panel(
        right,
        series,
        "Acknowledged bids per second (0.5 s bins)",
        "bids/s",
        {
            "scheduled close": window,
            "last-second burst": window - float(data["config"]["snipe_lead"]),
        },
    )
    return _save(fig, plt, path)


def plot_ingest(data: Mapping[str, Any], path: Path) -> Path | None:
    """``closeout bench ingest``: per mode (unary, stream), latency curves per call against
    the baseline's and, when the result has timelines, orders per second over time."""
    plt = _pyplot()
    if plt is None:
        return None
    modes = [m for m in ("unary", "stream") if m in data]
    with_time = any(data[m].get("timeline") for m in modes)
    rows = 2 if with_time else 1
    fig, axes = plt.subplots(rows, len(modes), figsize=(6 * len(modes), 4.2 * rows), squeeze=False)
    for col, mode in enumerate(modes):
        m = data[mode]
        batch = f" ({data['config']['batch']:,} orders)" if mode == "stream" else ""
        latency_panel(
            axes[0][col],
            {"server": m.get("curve", []), "baseline": m["baseline"].get("curve", [])},
            f"{mode}: latency per call{batch}",
        )
        if with_time:
            throughput_panel(
                axes[1][col],
                {"server": m.get("timeline", []), "baseline": m["baseline"].get("timeline", [])},
                f"{mode}: acknowledged orders per second (best run)",
                "orders/s",
            )
    return _save(fig, plt, path)


def plot_auction(data: Mapping[str, Any], path: Path) -> Path | None:
    """``closeout bench auction``: stage-2 clearing against a numpy sort by book size, and
    the whole auctions' phases by size."""
    plt = _pyplot()
    if plt is None:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.4))
    rows = data.get("clearing", {}).get("rows", [])
    if rows:
        n = [r["orders"] for r in rows]
        left.loglog(n, [r["clear_s"] * 1e3 for r in rows], "-o", label="clear (final price)")
        left.loglog(
            n, [r["numpy_sort_s"] * 1e3 for r in rows], "--o", label="numpy sort of the prices"
        )
        left.set_xlabel("orders in the book")
        left.set_ylabel("ms (best of the repeats)")
        left.legend(fontsize=8)
        left.grid(True, alpha=0.3)
    left.set_title("Stage-2 clearing vs numpy sort")
    auctions = sorted(data.get("auctions", []), key=lambda a: a["orders"])
    if auctions:
        n = [a["orders"] for a in auctions]
        for i, (key, label) in enumerate(
            (
                ("stage2_ingest", "stage-2 ingestion"),
                ("close_stage2", "close stage 2"),
                ("results", "publication (GetResults)"),
            )
        ):
            values = [a["phases_s"].get(key) for a in auctions]
            if all(v for v in values):
                right.loglog(n, values, "-o", color=f"C{i}", label=label)
        right.set_xlabel("orders")
        right.set_ylabel("seconds")
        right.legend(fontsize=8)
        right.grid(True, alpha=0.3)
    right.set_title("Whole auctions through the server, by phase")
    return _save(fig, plt, path)


def plot_pricing(data: Mapping[str, Any], path: Path) -> Path | None:
    """``bench.pricing_bench``: throughput of ours and QuantLib's per workload (log)."""
    plt = _pyplot()
    if plt is None:
        return None
    workloads = (
        ("npv", "NPV", "swaps"),
        ("npv_distinct", "NPV, all schedules distinct", "swaps"),
        ("rcv", "RCV", "positions"),
    )
    rows = [
        (label, data[k][f"ours_{u}_per_s"], data[k][f"quantlib_{u}_per_s"])
        for k, label, u in workloads
        if k in data
    ]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(9, 4.4))
    x = np.arange(len(rows))
    ax.bar(x - 0.2, [r[1] for r in rows], 0.4, label="ours")
    ax.bar(x + 0.2, [r[2] for r in rows], 0.4, label="QuantLib")
    for i, (_, ours, ql) in enumerate(rows):
        ax.annotate(f"{ours / ql:.0f}x", (i - 0.2, ours), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, [r[0] for r in rows], fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("per second")
    ax.set_title("Pricing: ours vs QuantLib (same run)")
    ax.legend(fontsize=8)
    return _save(fig, plt, path)


def plot_curves(data: Mapping[str, Any], path: Path) -> Path | None:
    """``closeout bench curves``: build time by interpolation against QuantLib, and the
    speedups (wall and CPU, best rounds, whiskers the per-round range)."""
    plt = _pyplot()
    if plt is None:
        return None
    results = data["results"]
    names = [r["interpolation"].replace("_", " ") for r in results]
    x = np.arange(len(results))
    width = 0.2
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.4))
    bars = (
        ("ours", "ours: build"),
        ("quantlib", "QuantLib: build"),
        ("risk_ours", "ours: base ±1bp"),
        ("risk_quantlib", "QuantLib: base ±1bp"),
    )
    for i, (key, label) in enumerate(bars):
        left.bar(
            x + (i - 1.5) * width,
            [r["wall"][f"{key}_ms_per_set"] for r in results],
            width,
            label=label,
        )
    left.set_xticks(x, names)
    left.set_ylabel("ms per curve set (best round, wall)")
    left.set_title(f"Curve building, {data['sets']} sets ({data['curves']} curves)")
    left.legend(fontsize=8)
    for i, (key, label) in enumerate((("speedup", "build"), ("risk_speedup", "base ±1bp"))):
        for j, (clock, hatch) in enumerate((("wall", ""), ("cpu", "//"))):
            mids = np.array([r[clock][key] for r in results])
            lows = np.array([r[clock][f"{key}_rounds"][0] for r in results])
            highs = np.array([r[clock][f"{key}_rounds"][1] for r in results])
            right.bar(
                x + (2 * i + j - 1.5) * width,
                mids,
                width,
                yerr=[(mids - lows).clip(0), (highs - mids).clip(0)],
                capsize=3,
                hatch=hatch,
                color=f"C{i}",
                edgecolor="white" if not hatch else "black",
                label=f"{label}, {clock}",
            )
    right.axhline(3.0, color="grey", linestyle="--", linewidth=1, label="3x")
    right.axhline(1.0, color="black", linewidth=0.8)
    right.set_xticks(x, names)
    right.set_ylabel("QuantLib time / ours")
    right.set_title("Speedup (best rounds; whiskers: per-round range)")
    right.legend(fontsize=8)
    return _save(fig, plt, path)


#: Each bench's plotter, by the bench's name (its ``<name>.json``).
PLOTTERS = {
    "auction": plot_auction,
    "curves": plot_curves,
    "default": plot_default,
    "ingest": plot_ingest,
    "pricing": plot_pricing,
}


def plot(name: str, data: Mapping[str, Any], path: Path) -> Path | None:
    """The picture of bench ``name``'s result (see :data:`PLOTTERS`)."""
    return PLOTTERS[name](data, path)
