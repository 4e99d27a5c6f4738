"""The market a book is priced in: one curve (single-curve) or OIS discounting plus a
projection curve, built from ``CurveSpec`` recipes so that any quote can be bumped and the
whole market rebuilt (DV01, scenarios). This module must never price a portfolio itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pricing.bootstrap import CurveSpec, Quote, Workspace, bootstrap
from pricing.curve import Curve
from pricing.errors import PricingInputError


@dataclass(frozen=True)
class Curves:
    """Built curves: ``discount`` for present values, ``projection`` for floating rates."""

    valuation: int
    discount: Curve
    projection: Curve

    @property
    def id(self) -> str:
        """One id for the pair (the projection id when single-curve)."""
        if self.discount is self.projection:
            return self.projection.id
        return f"{self.discount.id}/{self.projection.id}"


@dataclass(frozen=True)
class Market:
    """Recipe for ``Curves``: ``projection`` quotes, and optional OIS ``discount`` quotes."""

    projection: CurveSpec
    discount: CurveSpec | None = None
    _built: dict[str, Curves] = field(default_factory=dict, repr=False, compare=False)
    # Shared with every market bumped from this one: the same instruments' schedules.
    _workspace: Workspace = field(default_factory=Workspace, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.discount is not None and self.discount.valuation != self.projection.valuation:
            raise PricingInputError("discount_curve", "both curves need one valuation date")

    @property
    def valuation(self) -> int:
        """Valuation date (day number)."""
        return self.projection.valuation

    def build(self) -> Curves:
        """Bootstrap the curves (once; the result is kept)."""
        if "curves" not in self._built:
            if self.discount is None:
                curve = _build("curve", self.projection, None, self._workspace)
                self._built["curves"] = Curves(self.valuation, curve, curve)
            else:
                disc = _build("discount_curve", self.discount, None, self._workspace)
                proj = _build("curve", self.projection, disc, self._workspace)
                self._built["curves"] = Curves(self.valuation, disc, proj)
        return self._built["curves"]

    def bumped(self, shift: Callable[[Quote], float] | float) -> Market:
        """The market with every quote of both curves moved by ``shift``.

        The bumped market shares this one's bootstrap workspace: rebuilding it reuses the
        instruments' schedules and accruals (the numbers are those of a fresh build).
        """
        return Market(
            self.projection.bumped(shift),
            None if self.discount is None else self.discount.bumped(shift),
            _workspace=self._workspace,
        )

    def describe(self) -> dict[str, Any]:
        """Curve ids and recipes."""
        curves = self.build()
        out: dict[str, Any] = {"id": curves.id, "projection": curves.projection.describe()}
        if self.discount is not None:
            out["discount"] = curves.discount.describe()
        return out


def _build(name: str, spec: CurveSpec, discount: Curve | None, workspace: Workspace) -> Curve:
    # Bootstrap errors name a quote ("quotes[3]"); prefix the curve so the field is a path
    # into the request ("curve.quotes[3]").
    try:
        return bootstrap(spec, discount=discount, workspace=workspace)
    except PricingInputError as exc:
        raise PricingInputError(f"{name}.{exc.field}", exc.message) from None
