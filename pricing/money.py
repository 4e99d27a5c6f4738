"""Turning float results into the decimal strings of the wire and JSON formats.

Money is rounded half-even to cents; rates and factors keep enough digits to be checked
against other systems. Inputs go the other way through :func:`parse_number`, which refuses
what is not an exact, bounded decimal. This module must never compute a price.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal

from pricing.errors import PricingInputError

CENT = Decimal("0.01")


def money(value: float) -> str:
    """Cash amount as a decimal string rounded to cents ("-12337.67")."""
    text = str(Decimal(repr(float(value))).quantize(CENT, rounding=ROUND_HALF_EVEN))
    return "0.00" if text == "-0.00" else text


def decimal_text(value: float, places: int = 10) -> str:
    """A rate or factor as a fixed-point decimal string."""
    text = f"{float(value):.{places}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


#: Inputs: the same strict decimal syntax and digit bounds as the engines' ``matching.money``
#: (pricing imports no engine; a test checks the two accept and refuse alike).
MAX_INTEGER_DIGITS = 18
MAX_FRACTION_DIGITS = 18
_DECIMAL_RE = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?", re.ASCII)


def parse_number(value: Decimal | str | int, field: str) -> Decimal:
    """An input decimal (string, int or ``Decimal`` from JSON): strict syntax, bounded digits.

    Refused with ``PricingInputError`` naming ``field``: spaces, ``+``, ``.5``, ``5.``,
    exponents in strings, NaN/infinity, non-ASCII digits, more than 18 digits before the point
    or (not counting trailing zeros) after it.
    """
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        raise PricingInputError(field, f"expected a number, got {value!r}")
    if isinstance(value, str):
        if len(value) > 2 + MAX_INTEGER_DIGITS + MAX_FRACTION_DIGITS:
            raise PricingInputError(field, f"expected a number, got {len(value)} characters")
        if not _DECIMAL_RE.fullmatch(value):
            raise PricingInputError(field, f"expected a number, got {value!r}")
        number = Decimal(value)
    elif isinstance(value, int):
        number = Decimal(value) if abs(value) < 10**MAX_INTEGER_DIGITS else Decimal("Infinity")
    else:
        number = value
    if not number.is_finite():
        raise PricingInputError(field, "must be a finite number")
    _, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    significant = list(digits)
    while exponent < 0 and len(significant) > 1 and significant[-1] == 0:
        significant.pop()
        exponent += 1
    if any(significant) and len(significant) + exponent > MAX_INTEGER_DIGITS:
        raise PricingInputError(field, f"too large: at most {MAX_INTEGER_DIGITS} digits")
    if any(significant) and -exponent > MAX_FRACTION_DIGITS:
        raise PricingInputError(
            field, f"too precise: at most {MAX_FRACTION_DIGITS} digits after the point"
        )
    return number
