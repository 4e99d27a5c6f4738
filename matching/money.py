"""Exact money at the edges: decimal strings in, integer ticks and currency units inside.

A price is an integer number of ticks of the auction's increment (0.125 points -> 25.375 is
203 ticks); a size or cash amount is an integer number of currency units. Binary floats are
refused outright, so nothing upstream can smuggle one in.

What is not exact is refused, never rounded: the syntax is strict (ASCII digits, an optional
leading ``-``, an optional fraction after a digit: no spaces, signs ``+``, ``.5``, ``5.``,
exponents, NaN or other scripts' digits), at most :data:`MAX_INTEGER_DIGITS` digits before
the point and :data:`MAX_FRACTION_DIGITS` after it, and conversions to ticks or units are
exact rational arithmetic (never a ``Decimal`` context's 28-digit rounding).

Never import anything here that does I/O; never return a float.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from matching.errors import InvalidInput

#: Digits allowed before the decimal point (10^18 - 1 fits a signed 64-bit integer).
MAX_INTEGER_DIGITS = 18
#: Digits allowed after the decimal point.
MAX_FRACTION_DIGITS = 18

_DECIMAL_RE = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?", re.ASCII)
_INTEGER_RE = re.compile(r"-?(?:0|[1-9][0-9]*)", re.ASCII)
#: Longer than this cannot be within the bounds (sign, digits, point).
_MAX_TEXT = 2 + MAX_INTEGER_DIGITS + MAX_FRACTION_DIGITS

DecimalLike = Decimal | str | int

#: Decimal strings already parsed and found within bounds (text -> value); bounded. A book
#: repeats a few hundred prices, and a request's fields are checked before the engine
#: parses them again: the regular expression and the digit count ran twice per order.
_PARSED: dict[str, Decimal] = {}
_PARSED_KEPT = 4096


def _shown(value: str) -> str:
    """The refused text as quoted in an error: short, whatever was sent."""
    return repr(value) if len(value) <= 40 else f"{value[:20]!r}... ({len(value)} characters)"


def _bounded(number: Decimal, field: str) -> Decimal:
    """``number`` if within the digit bounds (trailing zeros after the point do not count)."""
    _, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)  # finite: checked by the callers
    if not any(digits):
        return number
    significant = list(digits)
    while exponent < 0 and len(significant) > 1 and significant[-1] == 0:
        significant.pop()
        exponent += 1
    if len(significant) + exponent > MAX_INTEGER_DIGITS:
        raise InvalidInput(
            field, f"too large: at most {MAX_INTEGER_DIGITS} digits before the point"
        )
    if -exponent > MAX_FRACTION_DIGITS:
        raise InvalidInput(
            field, f"too precise: at most {MAX_FRACTION_DIGITS} digits after the point"
        )
    return number


def parse_decimal(value: DecimalLike, field: str) -> Decimal:
    """Parse a plain decimal string (``"25.375"``, ``"-3"``): strict syntax, bounded digits.

    Refused (InvalidInput naming ``field``): floats and booleans, spaces, ``+``, ``.5``,
    ``5.``, exponents, NaN, non-ASCII digits, more digits than the bounds allow.
    """
    if type(value) is str:
        known = _PARSED.get(value)
        if known is not None:
            return known
        number = _parse_text(value, field)
        if len(_PARSED) >= _PARSED_KEPT:
            _PARSED.clear()
        _PARSED[value] = number
        return number
    if isinstance(value, (bool, float)):  # bool is an int; float is inexact
        raise InvalidInput(field, "must be a decimal string, not a binary float or boolean")
    if isinstance(value, int):
        if abs(value) >= 10**MAX_INTEGER_DIGITS:
            raise InvalidInput(field, f"too large: at most {MAX_INTEGER_DIGITS} digits")
        return Decimal(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidInput(field, "must be a finite decimal")
        return _bounded(value, field)
    if not isinstance(value, str):
        raise InvalidInput(field, f"{value!r} is not a decimal string such as '25.375'")
    return _parse_text(value, field)


def _parse_text(value: str, field: str) -> Decimal:
    """:func:`parse_decimal` of text (a ``str`` or a subclass)."""
    if len(value) > _MAX_TEXT:
        raise InvalidInput(
            field,
            f"{_shown(value)} has too many digits (at most {MAX_INTEGER_DIGITS} before the"
            f" point and {MAX_FRACTION_DIGITS} after it)",
        )
    if not _DECIMAL_RE.fullmatch(value):
        raise InvalidInput(field, f"{_shown(value)} is not a decimal string such as '25.375'")
    return _bounded(Decimal(value), field)


def parse_amount(value: DecimalLike, field: str, *, allow_negative: bool = False) -> int:
    """Parse an integer amount of currency units (``"2000000"``); fractions are refused."""
    if isinstance(value, str) and not _INTEGER_RE.fullmatch(value):
        raise InvalidInput(field, f"{_shown(value)} is not a whole number of currency units")
    number = parse_decimal(value, field)
    exact = Fraction(number)
    if exact.denominator != 1:
        raise InvalidInput(field, f"{value!r} is not a whole number of currency units")
    amount = int(exact)
    if amount < 0 and not allow_negative:
        raise InvalidInput(field, f"must not be negative (got {value})")
    return amount


def format_decimal(value: Decimal | Fraction | int) -> str:
    """Render a decimal without exponent or trailing zeros: ``26``, ``25.375``, ``-0.5``."""
    if isinstance(value, Fraction):
        if not _terminates(value.denominator):
            raise ValueError(f"{value} has no finite decimal expansion")
        value = Decimal(value.numerator) / Decimal(value.denominator)
    dec = Decimal(value)
    if dec == dec.to_integral_value():
        return str(int(dec))
    return format(dec.normalize(), "f")


def _terminates(denominator: int) -> bool:
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    return denominator == 1


def round_half_up(value: Fraction) -> int:
    """Nearest integer, exact halves away from zero (never banker's rounding)."""
    if value >= 0:
        return int((value + Fraction(1, 2)).__floor__())
    return -int((-value + Fraction(1, 2)).__floor__())


@dataclass(frozen=True, slots=True)
class PriceGrid:
    """The price grid of one auction: prices are integer multiples of ``increment``."""

    increment: Decimal

    def __post_init__(self) -> None:
        if self.increment <= 0:
            raise InvalidInput("price_increment", "must be positive")

    def to_ticks(self, value: DecimalLike, field: str) -> int:
        """Convert a price to ticks; off-grid prices are refused, never rounded."""
        price = parse_decimal(value, field)
        ticks = Fraction(price) / Fraction(self.increment)  # exact: never a context's rounding
        if ticks.denominator != 1:
            raise InvalidInput(
                field, f"{format_decimal(price)} is not on the {self.increment} price grid"
            )
        return int(ticks)

    def to_decimal(self, ticks: int) -> Decimal:
        """The price of ``ticks`` as an exact decimal."""
        return self.increment * ticks

    def format(self, ticks: int) -> str:
        """The price of ``ticks`` as a wire string (``"25.375"``)."""
        return format_decimal(self.to_decimal(ticks))

    def ticks_per_point(self) -> Fraction:
        """How many ticks make one point (one percent of par)."""
        return 1 / Fraction(self.increment)
