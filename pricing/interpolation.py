"""Discount-factor interpolation between curve pillars, vectorised over query times.

Three methods:

* ``LOG_LINEAR_DISCOUNT`` (the default): log DF linear in time, i.e. piecewise-flat forwards.
* ``LINEAR_ZERO``: continuously compounded zero rate linear in time; flat before the first
  pillar (QuantLib's convention of copying the first zero rate to t = 0).
* ``MONOTONE_CONVEX``: Hagan and West (2006), "Interpolation methods for curve construction",
  Applied Mathematical Finance 13(2), the basic method without the positivity amendment: the
  instantaneous forward is the discrete forward of its interval plus a piecewise quadratic
  g(x) chosen by the four-sector rule, so that each interval's discrete forward (hence every
  pillar discount factor) is reproduced exactly and forwards stay continuous up to the last
  pillar.

Past the last pillar each method holds a forward flat, the one QuantLib's curve of
the same interpolation holds when extrapolating (the reference the pricing is checked
against):

* the two local methods: the instantaneous forward at the last pillar (from the left);
* monotone convex: the last interval's discrete forward, which is the last node of
  QuantLib's ``PiecewiseConvexMonotoneForward``. Its Hagan-West forward at the pillar is a
  different number, so the forward jumps there.

Input: pillar times ``t[0] = 0 < t[1] < ...`` and log discount factors ``y[0] = 0``. This
module must never bootstrap or know about instruments.
"""

from __future__ import annotations

import enum

import numpy as np

from pricing.dates import FloatArray, IntArray
from pricing.errors import PricingInputError


class Interpolation(enum.Enum):
    """How a curve fills in between its pillars."""

    LOG_LINEAR_DISCOUNT = "log_linear_discount"
    LINEAR_ZERO = "linear_zero"
    MONOTONE_CONVEX = "monotone_convex"

    @classmethod
    def parse(cls, text: str, field: str = "interpolation") -> Interpolation:
        """Parse a method name."""
        key = text.strip().lower().replace("-", "_").replace(" ", "_")
        for member in cls:
            if member.value == key:
                return member
        known = ", ".join(m.value for m in cls)
        raise PricingInputError(field, f"unknown interpolation {text!r} ({known})")


def log_discount(method: Interpolation, t: FloatArray, y: FloatArray, q: FloatArray) -> FloatArray:
    """Log discount factor at query times ``q`` (any shape) for pillars ``(t, y)``."""
    q = np.asarray(q, dtype=np.float64)
    if method is Interpolation.LOG_LINEAR_DISCOUNT:
        return _log_linear(t, y, q)
    if method is Interpolation.LINEAR_ZERO:
        return _linear_zero(t, y, q)
    return _monotone_convex(t, y, q)


def _log_linear(t: FloatArray, y: FloatArray, q: FloatArray) -> FloatArray:
    inside = np.interp(q, t, y)
    slope = (y[-1] - y[-2]) / (t[-1] - t[-2])
    return np.where(q > t[-1], y[-1] + slope * (q - t[-1]), inside)


def _linear_zero(t: FloatArray, y: FloatArray, q: FloatArray) -> FloatArray:
    z = np.empty_like(y)
    z[1:] = -y[1:] / t[1:]
    z[0] = z[1]
    zq = np.interp(q, t, z)
    # Instantaneous forward at the last pillar from the left: d(z t)/dt = z + t dz/dt.
    dz = (z[-1] - z[-2]) / (t[-1] - t[-2])
    f_last = z[-1] + t[-1] * dz
    return np.where(q > t[-1], y[-1] - f_last * (q - t[-1]), -zq * q)


def monotone_convex_nodes(t: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Discrete forwards of each interval and the instantaneous forwards at the pillars."""
    dt_ = np.diff(t)
    fd = -np.diff(y) / dt_
    n = len(fd)
    f = np.empty(n + 1)
    if n == 1:
        f[:] = fd[0]
        return fd, f
    f[1:n] = (dt_[:-1] * fd[1:] + dt_[1:] * fd[:-1]) / (t[2:] - t[:-2])
    f[0] = fd[0] - 0.5 * (f[1] - fd[0])
    f[n] = fd[n - 1] - 0.5 * (f[n - 1] - fd[n - 1])
    return fd, f


def monotone_convex_g(
    g0: FloatArray, g1: FloatArray, x: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Hagan-West g(x) and its integral G(x) = int_0^x g, per interval, vectorised.

    Each element is computed by its own sector's formula only (the same arithmetic as
    evaluating every sector and selecting, at a quarter of the work).
    """
    return _hagan_west(g0, g1, x, with_g=True)


def _big_g(g0: FloatArray, g1: FloatArray, x: FloatArray) -> FloatArray:
    # G alone (what discount factors need), the same numbers as monotone_convex_g's.
    return _hagan_west(g0, g1, x, with_g=False)[1]


def _hagan_west(
    g0: FloatArray, g1: FloatArray, x: FloatArray, with_g: bool
) -> tuple[FloatArray, FloatArray]:
    g0, g1, x = np.broadcast_arrays(
        np.asarray(g0, dtype=np.float64),
        np.asarray(g1, dtype=np.float64),
        np.asarray(x, dtype=np.float64),
    )
    g = np.zeros(x.shape)
    big_g = np.zeros(x.shape)
    # A zero at either end is the boundary where the other sectors degenerate (eta at 0 or
    # 1): g vanishes on the open interval there, so G is zero.
    rest = ~((g0 == 0.0) | (g1 == 0.0))
    # Sector (i): the plain quadratic already lies in the monotone region.
    s1 = rest & (
        ((g0 < 0) & (-0.5 * g0 <= g1) & (g1 <= -2.0 * g0))
        | ((g0 > 0) & (-0.5 * g0 >= g1) & (g1 >= -2.0 * g0))
    )
    rest &= ~s1
    s2 = rest & (((g0 < 0) & (g1 > -2.0 * g0)) | ((g0 > 0) & (g1 < -2.0 * g0)))
    rest &= ~s2
    s3 = rest & (
        ((g0 > 0) & (g1 < 0) & (g1 > -0.5 * g0)) | ((g0 < 0) & (g1 > 0) & (g1 < -0.5 * g0))
    )
    s4 = rest & ~s3
    # Near a sector boundary eta reaches 0 or 1 and a vanishing region gives 0/0; the limit
    # of those terms is 0, which is what is substituted (no term here can reach infinity).
    with np.errstate(divide="ignore", invalid="ignore"):
        if s1.any():
            a, b, t = g0[s1], g1[s1], x[s1]
            if with_g:
                g[s1] = a * (1 - 4 * t + 3 * t * t) + b * (-2 * t + 3 * t * t)
            big_g[s1] = a * (t - 2 * t * t + _cube(t)) + b * (-t * t + _cube(t))
        if s2.any():
            a, b, t = g0[s2], g1[s2], x[s2]
            eta2 = (b + 2 * a) / (b - a)
            u2 = np.maximum(t - eta2, 0.0)
            if with_g:
                g[s2] = _nan_to_zero(a + (b - a) * (u2 / (1 - eta2)) ** 2)
            big_g[s2] = _nan_to_zero(a * t + (b - a) * _cube(u2) / (3 * (1 - eta2) ** 2))
        if s3.any():
            a, b, t = g0[s3], g1[s3], x[s3]
            eta3 = 3 * b / (b - a)
            v3 = np.maximum(eta3 - t, 0.0)
            if with_g:
                g[s3] = _nan_to_zero(b + (a - b) * (v3 / eta3) ** 2)
            big_g[s3] = _nan_to_zero(
                b * t + (a - b) * (_cube(eta3) - _cube(v3)) / (3 * eta3 * eta3)
            )
        if s4.any():
            a, b, t = g0[s4], g1[s4], x[s4]
            eta4 = b / (b + a)
            a4 = -a * b / (a + b)
            v4 = np.maximum(eta4 - t, 0.0)
            u4 = np.maximum(t - eta4, 0.0)
            if with_g:
                g[s4] = _nan_to_zero(
                    a4 + (a - a4) * (v4 / eta4) ** 2 + (b - a4) * (u4 / (1 - eta4)) ** 2
                )
            big_g[s4] = _nan_to_zero(
                a4 * t
                + (a - a4) * (_cube(eta4) - _cube(v4)) / (3 * eta4 * eta4)
                + (b - a4) * _cube(u4) / (3 * (1 - eta4) ** 2),
            )
    return g, big_g


def _cube(v: FloatArray) -> FloatArray:
    # Not v**3: numpy's power takes a slow path for negative bases (eta can be negative).
    return v * v * v


def _nan_to_zero(v: FloatArray) -> FloatArray:
    v[np.isnan(v)] = 0.0
    return v


def _monotone_convex(t: FloatArray, y: FloatArray, q: FloatArray) -> FloatArray:
    return MonotoneConvexGrid(t, q.reshape(-1)).log_discount(y).reshape(q.shape)


class MonotoneConvexGrid:
    """Monotone convex at fixed query times ``q`` for fixed pillar times ``t``, as a function
    of the pillar values ``y``: what a bootstrap evaluates again and again. Everything that
    depends on the times alone (each query's interval and place in it, the linear maps from
    the pillars to the discrete and instantaneous forwards) is worked out once.
    """

    def __init__(self, t: FloatArray, q: FloatArray) -> None:
        n = len(t) - 1
        self.t, self.q, self.n = t, q, n
        self.seg: IntArray = np.clip(np.searchsorted(t, q, side="left") - 1, 0, n - 1)
        self.width = t[self.seg + 1] - t[self.seg]
        self.x = np.clip((q - t[self.seg]) / self.width, 0.0, 1.0)
        self._jac_parts: tuple[FloatArray, ...] | None = None

    def log_discount(self, y: FloatArray) -> FloatArray:
        """Log discount factor at every query time."""
        t, qf, seg, width, x = self.t, self.q, self.seg, self.width, self.x
        fd, f = monotone_convex_nodes(t, y)
        g0 = f[seg] - fd[seg]
        g1 = f[seg + 1] - fd[seg]
        big_g = _big_g(g0, g1, x)
        inside = y[seg] - width * (fd[seg] * x + big_g)
        out = np.where(qf > t[-1], y[-1] - fd[-1] * (qf - t[-1]), inside)
        return np.asarray(np.where(qf < 0.0, -f[0] * qf, out), dtype=np.float64)

    def jacobian(self, y: FloatArray) -> FloatArray:
        """``d log_discount(q) / d y``, one row per query time (see log_discount_jacobian)."""
        d_seg, d_g0, d_g1, fixed_rows, fixed = self._linear_parts()
        seg, width, x = self.seg, self.width, self.x
        fd, f = monotone_convex_nodes(self.t, y)
        g0 = f[seg] - fd[seg]
        g1 = f[seg + 1] - fd[seg]
        h = 1e-7 * np.maximum(np.maximum(np.abs(g0), np.abs(g1)), 1e-9)
        # G, G with g0 moved and G with g1 moved, in one call (one pass of the sector logic).
        k = len(x)
        stacked = _big_g(
            np.concatenate([g0, g0 + h, g0]), np.concatenate([g1, g1, g1 + h]), np.tile(x, 3)
        )
        big_g = stacked[:k]
        dg0 = (stacked[k : 2 * k] - big_g) / h
        dg1 = (stacked[2 * k :] - big_g) / h
        jac = -width[:, None] * (x[:, None] * d_seg + dg0[:, None] * d_g0 + dg1[:, None] * d_g1)
        jac[np.arange(k), seg] += 1.0
        jac[fixed_rows] = fixed
        return np.asarray(jac, dtype=np.float64)

    def _linear_parts(self) -> tuple[FloatArray, ...]:
        if self._jac_parts is None:
            t, n, seg, q = self.t, self.n, self.seg, self.q
            dt_ = np.diff(t)
            # fd = d_fd @ y and f = d_f @ y: linear in the pillars (no positivity amendment).
            d_fd = np.zeros((n, n + 1))
            k = np.arange(n)
            d_fd[k, k] = 1.0 / dt_
            d_fd[k, k + 1] = -1.0 / dt_
            d_f = np.empty((n + 1, n + 1))
            if n == 1:
                d_f[:] = d_fd[0]
            else:
                span = (t[2:] - t[:-2])[:, None]
                d_f[1:n] = (dt_[:-1, None] * d_fd[1:] + dt_[1:, None] * d_fd[:-1]) / span
                d_f[0] = 1.5 * d_fd[0] - 0.5 * d_f[1]
                d_f[n] = 1.5 * d_fd[n - 1] - 0.5 * d_f[n - 1]
            d_seg = d_fd[seg]
            # Past the last pillar y[n] - fd[n - 1] (q - t[n]); before 0, -f[0] q.
            past = np.flatnonzero(q > t[-1])
            before = np.flatnonzero(q < 0.0)
            e_n = np.zeros(n + 1)
            e_n[n] = 1.0
            fixed = np.concatenate(
                [
                    e_n[None, :] - (q[past] - t[n])[:, None] * d_fd[n - 1][None, :],
                    -q[before][:, None] * d_f[0][None, :],
                ]
            )
            rows = np.concatenate([past, before])
            self._jac_parts = (d_seg, d_f[seg] - d_seg, d_f[seg + 1] - d_seg, rows, fixed)
        return self._jac_parts


def instantaneous_forward(
    method: Interpolation, t: FloatArray, y: FloatArray, q: FloatArray
) -> FloatArray:
    """Instantaneous forward rate at ``q`` (only monotone convex needs it analytically)."""
    q = np.asarray(q, dtype=np.float64)
    if method is not Interpolation.MONOTONE_CONVEX:
        h = 1e-6
        return (log_discount(method, t, y, q - h) - log_discount(method, t, y, q + h)) / (2 * h)
    fd, f = monotone_convex_nodes(t, y)
    seg = np.clip(np.searchsorted(t, q, side="left") - 1, 0, len(fd) - 1)
    x = np.clip((q - t[seg]) / (t[seg + 1] - t[seg]), 0.0, 1.0)
    g, _ = monotone_convex_g(f[seg] - fd[seg], f[seg + 1] - fd[seg], x)
    return np.where(q > t[-1], fd[-1], fd[seg] + g)


def log_discount_jacobian(
    method: Interpolation, t: FloatArray, y: FloatArray, q: FloatArray
) -> FloatArray:
    """Derivative of the log discount factor at each query time with respect to each pillar.

    Returns a ``(len(q), len(y))`` matrix ``d log_discount(q) / d y`` (the column of
    ``y[0]``, fixed at 0, included). Exact for the two local methods; for monotone convex
    exact except the partials of Hagan-West's G in its two shape parameters, which are
    forward differences (good to about 1e-8: a Newton step with it still converges to
    machine precision, only one iteration later).
    """
    q = np.asarray(q, dtype=np.float64).reshape(-1)
    if method is Interpolation.LOG_LINEAR_DISCOUNT:
        return _log_linear_jacobian(t, q)
    if method is Interpolation.LINEAR_ZERO:
        return _linear_zero_jacobian(t, q)
    return _monotone_convex_jacobian(t, y, q)


def _segments(t: FloatArray, q: FloatArray) -> tuple[IntArray, FloatArray]:
    # np.interp's segment for each query (the last one past the end) and the position in it.
    seg = np.clip(np.searchsorted(t, q, side="right") - 1, 0, len(t) - 2)
    return seg, (q - t[seg]) / (t[seg + 1] - t[seg])


def _log_linear_jacobian(t: FloatArray, q: FloatArray) -> FloatArray:
    seg, x = _segments(t, q)
    rows = np.arange(len(q))
    jac = np.zeros((len(q), len(t)))
    # Past the last pillar the last segment's line is carried on, the same formula.
    jac[rows, seg] = 1.0 - x
    jac[rows, seg + 1] += x
    inside = q <= t[-1]
    jac[~inside] = 0.0
    out = rows[~inside]
    n = len(t) - 1
    w = (q[out] - t[n]) / (t[n] - t[n - 1])
    jac[out, n] = 1.0 + w
    jac[out, n - 1] = -w
    return jac


def _linear_zero_jacobian(t: FloatArray, q: FloatArray) -> FloatArray:
    # z[k] = -y[k] / t[k] (k >= 1), z[0] = z[1]; log DF = -z(q) q, z linear in time.
    n = len(t) - 1
    dz = np.zeros((n + 1, n + 1))
    dz[np.arange(1, n + 1), np.arange(1, n + 1)] = -1.0 / t[1:]
    dz[0] = dz[1]
    seg, x = _segments(t, q)
    jac = -q[:, None] * ((1.0 - x)[:, None] * dz[seg] + x[:, None] * dz[seg + 1])
    out = np.flatnonzero(q > t[-1])
    if out.size:
        # y[n] - f_last (q - t[n]), f_last = z[n] + t[n] (z[n] - z[n-1]) / (t[n] - t[n-1]).
        d_f = dz[n] + t[n] * (dz[n] - dz[n - 1]) / (t[n] - t[n - 1])
        e_n = np.zeros(n + 1)
        e_n[n] = 1.0
        jac[out] = e_n[None, :] - (q[out] - t[n])[:, None] * d_f[None, :]
    return np.asarray(jac, dtype=np.float64)


def _monotone_convex_jacobian(t: FloatArray, y: FloatArray, q: FloatArray) -> FloatArray:
    return MonotoneConvexGrid(t, q).jacobian(y)
