"""Smoke test of the curve bench at a tiny size: it runs, both libraries agree, it reports.

No timing assertions: the bench measures; this checks its correctness fields and files.
"""

from __future__ import annotations

from pathlib import Path

from bench.curves import DF_TOLERANCE, CurveBenchConfig, markdown, run_curves
from bench.plots import plot_curves
from pricing.interpolation import Interpolation


def test_curve_bench_tiny_agrees_with_quantlib_and_writes_a_plot(tmp_path: Path) -> None:
    data = run_curves(CurveBenchConfig.tiny())
    assert data["agree"] is True
    assert [r["interpolation"] for r in data["results"]] == [m.value for m in Interpolation]
    lo, hi = data["instruments_per_curve"]
    assert 10 <= lo <= hi <= 21
    assert sum(data["kinds"].values()) == 3 and data["curves"] == 4  # one set is dual
    for r in data["results"]:
        assert 0.0 <= r["worst_df_diff"] <= DF_TOLERANCE
        for clock in ("wall", "cpu"):
            assert r[clock]["ours_ms_per_set"] > 0 and r[clock]["quantlib_ms_per_set"] > 0
            assert r[clock]["speedup"] > 0 and r[clock]["risk_speedup"] > 0
    text = markdown(data)
    assert all(m.value in text for m in Interpolation)
    png = plot_curves(data, tmp_path / "curves.png")
    assert png is not None and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
