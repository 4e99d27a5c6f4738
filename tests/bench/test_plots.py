"""Every bench's picture is a valid PNG drawn from a small synthetic result of that bench."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.plots import PLOTTERS, plot

PNG = b"\x89PNG\r\n\x1a\n"
CURVE = [[0.0, 0.5], [50.0, 1.0], [90.0, 2.0], [99.0, 5.0], [99.9, 9.0], [100.0, 12.0]]
TIMELINE = [[0.5, 100.0], [1.0, 300.0], [1.5, 250.0], [2.0, 0.0]]


def _latency() -> dict[str, Any]:
    return {"count": 10, "p50_ms": 1.0, "p99_ms": 5.0, "curve": CURVE}


def _default() -> dict[str, Any]:
    side = {"first_bids": _latency(), "replacements": _latency(), "timeline": TIMELINE}
    return {
        "members": 12,
        "lots": 3,
        "server": side,
        "baseline": side,
        "config": {"window": 2.0, "snipe_lead": 0.3},
    }


def _ingest() -> dict[str, Any]:
    cell = {"curve": CURVE, "timeline": TIMELINE}
    return {
        "unary": {**cell, "baseline": cell},
        "stream": {**cell, "baseline": cell},
        "config": {"batch": 100},
    }


def _auction() -> dict[str, Any]:
    return {
        "clearing": {
            "rows": [
                {"orders": 1000, "clear_s": 0.0002, "numpy_sort_s": 0.00001},
                {"orders": 10000, "clear_s": 0.0003, "numpy_sort_s": 0.0003},
            ]
        },
        "auctions": [
            {
                "orders": n,
                "phases_s": {"stage2_ingest": n / 1e4, "close_stage2": 0.003, "results": n / 1e5},
            }
            for n in (1000, 10000)
        ],
    }


def _pricing() -> dict[str, Any]:
    return {
        "npv": {"ours_swaps_per_s": 900_000, "quantlib_swaps_per_s": 4_000},
        "npv_distinct": {"ours_swaps_per_s": 100_000, "quantlib_swaps_per_s": 3_000},
        "rcv": {"ours_positions_per_s": 250_000, "quantlib_positions_per_s": 2_000},
    }


def _curves() -> dict[str, Any]:
    clock = {f"{k}_ms_per_set": 2.0 for k in ("ours", "quantlib", "risk_ours", "risk_quantlib")} | {
        "speedup": 4.0,
        "speedup_rounds": [3.5, 4.5],
        "risk_speedup": 4.2,
        "risk_speedup_rounds": [4.0, 4.4],
    }
    return {
        "sets": 3,
        "curves": 4,
        "results": [
            {"interpolation": name, "wall": clock, "cpu": clock}
            for name in ("log_linear_discount", "linear_zero", "monotone_convex")
        ],
    }


SYNTHETIC = {
    "default": _default,
    "ingest": _ingest,
    "auction": _auction,
    "pricing": _pricing,
    "curves": _curves,
}


def test_every_bench_has_a_plotter_and_a_synthetic_case() -> None:
    assert set(PLOTTERS) == set(SYNTHETIC)


@pytest.mark.parametrize("name", sorted(SYNTHETIC))
def test_plot_writes_a_png(name: str, tmp_path: Path) -> None:
    path = plot(name, SYNTHETIC[name](), tmp_path / "out" / f"{name}.png")
    assert path is not None
    data = path.read_bytes()
    assert data[:8] == PNG and len(data) > 5_000


def test_ingest_plot_without_timelines_still_draws_latency(tmp_path: Path) -> None:
    data = _ingest()
    for mode in ("unary", "stream"):
        data[mode] = {"curve": CURVE, "baseline": {"curve": CURVE}}
    path = plot("ingest", data, tmp_path / "ingest.png")
    assert path is not None and path.read_bytes()[:8] == PNG
