"""Value types of the clearing state: member roles, swap sides, swap terms, positions.

Notionals are integer currency units; fixed rates are decimal strings as fractions
(``"0.0515"`` is 5.15%); dates are ISO ``YYYY-MM-DD`` strings, checked but never
interpreted (schedules are the pricing library's business). Values here are immutable and
JSON-native through ``to_dict``/``from_dict``. No I/O, no clock, no pricing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, TypeVar

from matching.errors import InvalidInput
from matching.money import DecimalLike, format_decimal, parse_amount, parse_decimal

CCP = "CCP"
"""The clearing house's own account: it inherits defaulted positions and faces every swap."""


class Role(enum.Enum):
    """What a member is: an ordinary clearing member or a designated market maker."""

    CLEARING_MEMBER = "CLEARING_MEMBER"
    MARKET_MAKER = "MARKET_MAKER"


class Side(enum.Enum):
    """The fixed-rate side of a swap: PAYER pays fixed, RECEIVER receives fixed."""

    PAYER = "PAYER"
    RECEIVER = "RECEIVER"

    @property
    def opposite(self) -> Side:
        """The other side."""
        return Side.RECEIVER if self is Side.PAYER else Side.PAYER

    @property
    def sign(self) -> int:
        """+1 for a payer, -1 for a receiver (the pricing library's omega)."""
        return 1 if self is Side.PAYER else -1


E = TypeVar("E", bound=enum.Enum)


def parse_enum(kind: type[E], value: E | str, field: str) -> E:
    """An enum member from itself or its (case-insensitive) name; InvalidInput otherwise."""
    if isinstance(value, kind):
        return value
    try:
        return kind(str(value).strip().upper())
    except ValueError:
        names = " or ".join(m.value for m in kind)
        raise InvalidInput(field, f"must be {names}, not {value!r}") from None


def check_date(value: str, field: str) -> str:
    """An ISO date ``YYYY-MM-DD``, returned unchanged."""
    if not isinstance(value, str):
        raise InvalidInput(field, "must be an ISO date YYYY-MM-DD")
    try:
        date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(field, f"{value!r} is not an ISO date YYYY-MM-DD") from None
    if len(value) != 10:
        raise InvalidInput(field, f"{value!r} is not an ISO date YYYY-MM-DD")
    return value


def check_rate(value: DecimalLike, field: str) -> str:
    """A rate as a canonical decimal string (a fraction: ``"0.0515"``)."""
    return format_decimal(parse_decimal(value, field))


def check_code(value: str, field: str) -> str:
    """A currency or index code: 1..32 printable characters without spaces."""
    if not isinstance(value, str) or not value or len(value) > 32 or not value.isprintable():
        raise InvalidInput(field, "must be 1 to 32 printable characters")
    if " " in value:
        raise InvalidInput(field, "must not contain spaces")
    return value


@dataclass(frozen=True, slots=True)
class Member:
    """A clearing member; ``mandatory`` members must bid in the auctions they are invited to."""

    member_id: str
    role: Role
    mandatory: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-native form."""
        return {"member_id": self.member_id, "role": self.role.value, "mandatory": self.mandatory}


@dataclass(frozen=True, slots=True)
class SwapTerms:
    """A vanilla fixed-for-floating swap as the clearing house books it."""

    currency: str
    index: str
    side: Side
    notional: int
    fixed_rate: str
    start: str
    maturity: str

    @classmethod
    def build(
        cls,
        *,
        currency: str,
        index: str,
        side: Side | str,
        notional: DecimalLike,
        fixed_rate: DecimalLike,
        start: str,
        maturity: str,
        field: str = "terms",
    ) -> SwapTerms:
        """Validate every field; errors name ``field.<name>``."""
        amount = parse_amount(notional, f"{field}.notional")
        if amount <= 0:
            raise InvalidInput(f"{field}.notional", "must be positive")
        terms = cls(
            currency=check_code(currency, f"{field}.currency"),
            index=check_code(index, f"{field}.index"),
            side=parse_enum(Side, side, f"{field}.side"),
            notional=amount,
            fixed_rate=check_rate(fixed_rate, f"{field}.fixed_rate"),
            start=check_date(start, f"{field}.start"),
            maturity=check_date(maturity, f"{field}.maturity"),
        )
        if not terms.start < terms.maturity:
            raise InvalidInput(f"{field}.maturity", "must be after the start date")
        return terms

    @property
    def market(self) -> tuple[str, str]:
        """(currency, index): what "similar" means for eligibility and lot grouping."""
        return self.currency, self.index

    def flipped(self) -> SwapTerms:
        """The same swap seen from the other side (the CCP's leg of a member's swap)."""
        return replace(self, side=self.side.opposite)

    def to_dict(self) -> dict[str, Any]:
        """JSON-native form (notional as a string of whole units)."""
        return {
            "currency": self.currency,
            "index": self.index,
            "side": self.side.value,
            "notional": str(self.notional),
            "fixed_rate": self.fixed_rate,
            "start": self.start,
            "maturity": self.maturity,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], field: str = "terms") -> SwapTerms:
        """Inverse of :meth:`to_dict` (validating)."""
        return cls.build(**data, field=field)


class PositionStatus(enum.Enum):
    """OPEN positions are live; CLOSED ones were taken over or transferred at settlement."""

    OPEN = "OPEN"
    CLOSED = "CLOSED"


@dataclass(frozen=True, slots=True)
class Position:
    """One swap in one account. ``origin`` says how it got there; ``external`` marks a hedge
    the CCP traded outside the cleared set (it has no cleared counterpart)."""

    position_id: str
    account: str
    terms: SwapTerms
    origin: str
    status: PositionStatus = PositionStatus.OPEN
    closed_by: str | None = None
    external: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-native form."""
        return {
            "position_id": self.position_id,
            "account": self.account,
            **self.terms.to_dict(),
            "origin": self.origin,
            "status": self.status.value,
            "closed_by": self.closed_by,
            "external": self.external,
        }
