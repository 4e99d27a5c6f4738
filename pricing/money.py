"""Turning float results into the decimal strings of the wire and JSON formats.

Money is rounded half-even to cents; rates and factors keep enough digits to be checked
against other systems. Pure formatting: this module must never compute a price.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

CENT = Decimal("0.01")


def money(value: float) -> str:
    """Cash amount as a decimal string rounded to cents ("-12337.67")."""
    text = str(Decimal(repr(float(value))).quantize(CENT, rounding=ROUND_HALF_EVEN))
    return "0.00" if text == "-0.00" else text


def decimal_text(value: float, places: int = 10) -> str:
    """A rate or factor as a fixed-point decimal string."""
    text = f"{float(value):.{places}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text
