"""A built discount curve: pillars, interpolation method, and the record of how it was made.

A ``Curve`` maps dates (day numbers) to discount factors, vectorised. It carries an ``id``
(a hash of everything that went into it: valuation date, quotes, conventions, method) and an
``inputs`` record, so that any price quoted off it can be traced and reproduced. Time is
ACT/365F from the valuation date, as in QuantLib's curves. This module must never bootstrap
or price instruments.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pricing.dates import FloatArray, IntArray
from pricing.interpolation import Interpolation, instantaneous_forward, log_discount

_TABLE_MIN = 1 << 14


def year_fraction(reference: int, days: IntArray) -> FloatArray:
    """Curve time of each date: ACT/365F from ``reference``."""
    return (np.asarray(days, dtype=np.int64) - reference) / 365.0


@dataclass(frozen=True, eq=False)
class Curve:
    """Discount factors at pillar dates and how to fill in between them."""

    reference: int
    pillar_days: IntArray
    log_dfs: FloatArray
    method: Interpolation
    inputs: dict[str, Any] = field(default_factory=dict)
    id: str = ""

    @property
    def times(self) -> FloatArray:
        """Pillar times, with t = 0 (DF 1) first."""
        return np.concatenate([[0.0], year_fraction(self.reference, self.pillar_days)])

    def _nodes(self) -> tuple[FloatArray, FloatArray]:
        return self.times, np.concatenate([[0.0], self.log_dfs])

    def df(self, days: IntArray) -> FloatArray:
        """Discount factor from the valuation date to each date."""
        days = np.asarray(days, dtype=np.int64)
        if days.size > _TABLE_MIN:
            lo, hi = int(days.min()), int(days.max())
            if hi - lo < days.size // 4:
                # A big book has far fewer distinct days than cash flows: value each day of
                # the span once and gather (the same numbers, a fraction of the work).
                return self._df(np.arange(lo, hi + 1, dtype=np.int64))[days - lo]
        return self._df(days)

    def _df(self, days: IntArray) -> FloatArray:
        t, y = self._nodes()
        q = year_fraction(self.reference, days)
        return np.exp(log_discount(self.method, t, y, q))

    def zero_rate(self, days: IntArray) -> FloatArray:
        """Continuously compounded zero rate (ACT/365F) to each date."""
        q = year_fraction(self.reference, days)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(q > 0, -np.log(self.df(days)) / q, np.nan)

    def forward_rate(self, days: IntArray) -> FloatArray:
        """Instantaneous forward rate (continuous, ACT/365F) at each date."""
        t, y = self._nodes()
        return instantaneous_forward(self.method, t, y, year_fraction(self.reference, days))

    def describe(self) -> dict[str, Any]:
        """Id, method and pillars: what a report or an audit record should show."""
        return {
            "id": self.id,
            "method": self.method.value,
            "reference": int(self.reference),
            "pillars": [
                {"day": int(d), "df": float(np.exp(v))}
                for d, v in zip(self.pillar_days, self.log_dfs, strict=True)
            ],
            "inputs": self.inputs,
        }


def curve_id(inputs: dict[str, Any]) -> str:
    """Stable id of a curve: the first 16 hex digits of SHA-256 of its canonical inputs."""
    canonical = json.dumps(inputs, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
