"""Cash in a default: integer cents inside, decimal strings with two places at the edges.

Every amount of the default process (RCV, implied bid, bids, reserve, requirements,
collateral, settlement cash) is an integer number of cents. Decimal strings with more than
two places are refused, never rounded: rounding is the pricing edge's business
(``pricing.money.money`` rounds half-even to cents before anything reaches the engine).

No I/O; never a float.
"""

from __future__ import annotations

from decimal import Decimal

from matching.money import DecimalLike, PriceGrid

CENTS = PriceGrid(Decimal("0.01"))


def to_cents(value: DecimalLike, field: str) -> int:
    """``"-12337.67"`` -> ``-1233767``; more than two decimals is InvalidInput."""
    return CENTS.to_ticks(value, field)


def cents_text(cents: int) -> str:
    """``-1233767`` -> ``"-12337.67"``: always two decimals, the journal and JSON form."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole}.{frac:02d}"
