"""Interpolation methods: node reproduction, continuity, monotonicity, extrapolation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing.interpolation import (
    Interpolation,
    instantaneous_forward,
    log_discount,
    monotone_convex_g,
    monotone_convex_nodes,
)

times = st.lists(st.floats(0.05, 3.0), min_size=2, max_size=12).map(
    lambda gaps: np.concatenate([[0.0], np.cumsum(gaps)])
)
forwards = st.lists(st.floats(-0.01, 0.12), min_size=12, max_size=12)


def _curve(t: np.ndarray, fwd: list[float]) -> np.ndarray:
    return np.concatenate([[0.0], -np.cumsum(np.diff(t) * np.array(fwd[: len(t) - 1]))])


@settings(max_examples=60, deadline=None, derandomize=True)
@given(times, forwards, st.sampled_from(list(Interpolation)))
def test_pillars_are_reproduced(t: np.ndarray, fwd: list[float], method: Interpolation) -> None:
    y = _curve(t, fwd)
    np.testing.assert_allclose(log_discount(method, t, y, t), y, atol=1e-13)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(times, forwards)
def test_monotone_convex_integrates_each_interval_exactly(t: np.ndarray, fwd: list[float]) -> None:
    # Distinct forwards: where two neighbours tie exactly, Hagan-West's sectors degenerate
    # (eta at 0 or 1) and the forward may jump at the pillar by construction.
    fwd = [v + 1e-6 * np.sqrt(i + 2) for i, v in enumerate(fwd)]
    y = _curve(t, fwd)
    fd, f = monotone_convex_nodes(t, y)
    assert instantaneous_forward(Interpolation.MONOTONE_CONVEX, t, y, t[:1])[0] == f[0]
    _, big_g = monotone_convex_g(f[:-1] - fd, f[1:] - fd, np.ones(len(fd)))
    np.testing.assert_allclose(big_g, 0.0, atol=1e-13)
    # Forwards are continuous across pillars: each interval's g ends where the next starts.
    g_end, _ = monotone_convex_g(f[:-1] - fd, f[1:] - fd, np.ones(len(fd)))
    g_start, _ = monotone_convex_g(f[:-1] - fd, f[1:] - fd, np.zeros(len(fd)))
    np.testing.assert_allclose((fd + g_end)[:-1], (fd + g_start)[1:], atol=1e-12)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(times, st.lists(st.floats(0.0, 0.01), min_size=12, max_size=12))
def test_monotone_convex_keeps_increasing_forwards_increasing(
    t: np.ndarray, steps: list[float]
) -> None:
    fwd = list(np.cumsum(steps) + 0.01)
    y = _curve(t, fwd)
    q = np.linspace(0.0, t[-1], 2000)
    f = instantaneous_forward(Interpolation.MONOTONE_CONVEX, t, y, q)
    assert np.all(np.diff(f) >= -1e-12)


@pytest.mark.parametrize("method", list(Interpolation))
def test_flat_forward_extrapolation(method: Interpolation) -> None:
    t = np.array([0.0, 1.0, 2.0, 5.0, 10.0])
    y = _curve(t, [0.02, 0.03, 0.035, 0.04])
    q = np.array([12.0, 20.0, 40.0])
    f = instantaneous_forward(method, t, y, q)
    np.testing.assert_allclose(f, f[0], atol=1e-9)
    # The log discount factor goes on along that forward from the last pillar.
    np.testing.assert_allclose(log_discount(method, t, y, q), y[-1] - f * (q - 10.0), atol=1e-12)
    if method is Interpolation.MONOTONE_CONVEX:
        # QuantLib's last node: the last interval's discrete forward (0.04), not the
        # Hagan-West forward at the pillar, which is another number here.
        fd, f_nodes = monotone_convex_nodes(t, y)
        np.testing.assert_allclose(f[0], fd[-1], atol=1e-12)
        assert abs(f_nodes[-1] - fd[-1]) > 1e-3
    else:  # the instantaneous forward at the last pillar, from the left
        last = instantaneous_forward(method, t, y, np.array([10.0 - 1e-7]))
        np.testing.assert_allclose(f[0], last[0], atol=1e-6)
