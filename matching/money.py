"""Exact money at the edges: decimal strings in, integer ticks and currency units inside.

A price is an integer number of ticks of the auction's increment (0.125 points -> 25.375 is
203 ticks); a size or cash amount is an integer number of currency units. Binary floats are
refused outright, so nothing upstream can smuggle one in.

Never import anything here that does I/O; never return a float.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from matching.errors import InvalidInput

_DECIMAL_RE = re.compile(r"^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?$")
_INTEGER_RE = re.compile(r"^-?(?:0|[1-9][0-9]*)$")

DecimalLike = Decimal | str | int


def parse_decimal(value: DecimalLike, field: str) -> Decimal:
    """Parse a plain decimal string (``"25.375"``, ``"-3"``); no exponents, NaN or floats."""
    if isinstance(value, (bool, float)):  # bool is an int; float is inexact
        raise InvalidInput(field, "must be a decimal string, not a binary float or boolean")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidInput(field, "must be a finite decimal")
        return value
    if not isinstance(value, str) or not _DECIMAL_RE.match(value.strip()):
        raise InvalidInput(field, f"{value!r} is not a decimal string such as '25.375'")
    try:
        return Decimal(value.strip())
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only valid literals
        raise InvalidInput(field, f"{value!r} is not a decimal") from exc


def parse_amount(value: DecimalLike, field: str, *, allow_negative: bool = False) -> int:
    """Parse an integer amount of currency units (``"2000000"``); fractions are refused."""
    if isinstance(value, str) and not _INTEGER_RE.match(value.strip()):
        raise InvalidInput(field, f"{value!r} is not a whole number of currency units")
    number = parse_decimal(value, field)
    if number != number.to_integral_value():
        raise InvalidInput(field, f"{value!r} is not a whole number of currency units")
    amount = int(number)
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
        ticks = price / self.increment
        if ticks != ticks.to_integral_value():
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
