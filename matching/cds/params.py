"""Parameters of one CDS auction, validated once, and the domain value types they govern.

Everything the auction administrator sets per auction is here (quotation amount, maximum
spread, cap, increment, minimum submissions, tie rule, rounding amount of the Rounding
Convention, whether a market position must be attested, the business-day calendar and the
fallback settlement method); none of it is hard-coded elsewhere. Parameters arrive as
decimal strings and leave as ticks and currency units.

No I/O, no clock.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from matching.errors import InvalidInput
from matching.money import DecimalLike, PriceGrid, format_decimal, parse_amount, parse_decimal
from pricing.calendars import Calendar, named_calendar
from pricing.errors import PricingInputError

#: The Rounding Convention's unit by currency where the Terms fix one; any other currency
#: must state its rounding amount.
DEFAULT_ROUNDING_AMOUNTS: dict[str, int] = {"USD": 1_000, "EUR": 1_000, "JPY": 100_000}
#: Business days for payment dates (adjustment amounts: the third business day after the
#: final price) unless the auction names its own calendar.
DEFAULT_CALENDAR = "NewYork+London"
#: What applies when the auction cannot be held (stage 1 failing too often).
DEFAULT_FALLBACK = "Physical Settlement"
#: Initial bidding periods before the auction is cancelled: the first, and reruns.
DEFAULT_INITIAL_BIDDING_PERIODS = 3


class Side(enum.Enum):
    """Direction of a physical settlement request or of the open interest."""

    BUY = "BUY"
    SELL = "SELL"


class OrderSide(enum.Enum):
    """Side of a stage-2 limit order: a bid to buy bonds or an offer to sell them."""

    BID = "BID"
    OFFER = "OFFER"


class MidpointRounding(enum.Enum):
    """How a mean that falls exactly between two increments is rounded (never banker's)."""

    HALF_UP = "HALF_UP"
    HALF_DOWN = "HALF_DOWN"


@dataclass(frozen=True, slots=True)
class AuctionParams:
    """Validated parameters; prices in ticks of ``grid``, amounts in currency units."""

    auction_id: str
    currency: str
    quotation_amount: int
    grid: PriceGrid
    max_spread_ticks: int
    cap_ticks: int
    min_valid_submissions: int
    min_limit_order_size: int
    max_orders_per_dealer: int
    midpoint_rounding: MidpointRounding
    rounding_amount: int = 1_000
    require_market_position: bool = False
    calendar_name: str = DEFAULT_CALENDAR
    fallback_settlement_method: str = DEFAULT_FALLBACK
    max_initial_bidding_periods: int = DEFAULT_INITIAL_BIDDING_PERIODS
    auction_date: dt.date | None = None

    @property
    def calendar(self) -> Calendar:
        """The business-day calendar (validated when the parameters were built)."""
        return named_calendar(self.calendar_name)

    def business_days_after(self, day: dt.date, n: int) -> dt.date:
        """The ``n``-th business day after ``day`` on the auction's calendar."""
        import numpy as np

        moved = self.calendar.advance_days(np.array([day.toordinal()], dtype=np.int64), n)
        return dt.date.fromordinal(int(moved[0]))

    @property
    def par_ticks(self) -> int:
        """100 points in ticks: the final price when open interest to buy cannot be filled."""
        return self.grid.to_ticks(Decimal(100), "price_increment")

    def adjustment_amount(self, ticks_off_market: int) -> int:
        """``ticks / 100 x quotation amount`` in currency units, exact halves rounded up."""
        exact = Fraction(self.grid.increment) * ticks_off_market * self.quotation_amount / 100
        return int((exact + Fraction(1, 2)).__floor__())

    @classmethod
    def build(
        cls,
        *,
        auction_id: str,
        currency: str = "USD",
        quotation_amount: DecimalLike,
        max_spread: DecimalLike,
        price_increment: DecimalLike = "0.125",
        cap_amount: DecimalLike | None = None,
        min_valid_submissions: int = 1,
        min_limit_order_size: DecimalLike = 0,
        max_orders_per_dealer: int = 0,
        midpoint_rounding: MidpointRounding | str = MidpointRounding.HALF_UP,
        rounding_amount: DecimalLike | None = None,
        require_market_position: bool = False,
        calendar: str | None = None,
        fallback_settlement_method: str | None = None,
        max_initial_bidding_periods: int = DEFAULT_INITIAL_BIDDING_PERIODS,
        auction_date: str | dt.date | None = None,
    ) -> AuctionParams:
        """Validate raw parameters; each refusal names the parameter and the rule."""
        if not auction_id or len(auction_id) > 128 or not auction_id.isprintable():
            raise InvalidInput("auction.id", "must be 1 to 128 printable characters")
        if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
            raise InvalidInput("auction.currency", "must be a 3-letter ISO 4217 code")
        increment = parse_decimal(price_increment, "auction.price_increment")
        if increment <= 0:
            raise InvalidInput("auction.price_increment", "must be positive")
        grid = PriceGrid(increment)
        if (Decimal(100) / increment) != (Decimal(100) / increment).to_integral_value():
            raise InvalidInput("auction.price_increment", "must divide 100 points exactly")
        qa = parse_amount(quotation_amount, "auction.quotation_amount")
        if qa <= 0:
            raise InvalidInput("auction.quotation_amount", "must be positive")
        spread = grid.to_ticks(max_spread, "auction.max_spread")
        if spread <= 0:
            raise InvalidInput("auction.max_spread", "must be positive")
        if cap_amount is None:
            half = parse_decimal(max_spread, "auction.max_spread") / 2
            if half / increment != (half / increment).to_integral_value():
                raise InvalidInput(
                    "auction.cap_amount",
                    f"half the spread ({format_decimal(half)}) is off the grid: set it explicitly",
                )
            cap = grid.to_ticks(half, "auction.cap_amount")
        else:
            cap = grid.to_ticks(cap_amount, "auction.cap_amount")
        if cap < 0:
            raise InvalidInput("auction.cap_amount", "must not be negative")
        if isinstance(min_valid_submissions, bool) or not isinstance(min_valid_submissions, int):
            raise InvalidInput("auction.min_valid_submissions", "must be an integer")
        if min_valid_submissions < 1:
            raise InvalidInput("auction.min_valid_submissions", "must be at least 1")
        min_size = parse_amount(min_limit_order_size, "auction.min_limit_order_size")
        if isinstance(max_orders_per_dealer, bool) or not isinstance(max_orders_per_dealer, int):
            raise InvalidInput("auction.max_orders_per_dealer", "must be an integer")
        if max_orders_per_dealer < 0:
            raise InvalidInput("auction.max_orders_per_dealer", "must be 0 (no limit) or more")
        try:
            rounding = MidpointRounding(midpoint_rounding)
        except ValueError:
            raise InvalidInput(
                "auction.midpoint_rounding", "must be HALF_UP or HALF_DOWN"
            ) from None
        if rounding_amount is None:
            if currency not in DEFAULT_ROUNDING_AMOUNTS:
                raise InvalidInput(
                    "auction.rounding_amount",
                    f"required for {currency} (the Terms fix it only for "
                    f"{', '.join(sorted(DEFAULT_ROUNDING_AMOUNTS))})",
                )
            unit = DEFAULT_ROUNDING_AMOUNTS[currency]
        else:
            unit = parse_amount(rounding_amount, "auction.rounding_amount")
            if unit <= 0:
                raise InvalidInput("auction.rounding_amount", "must be positive")
        if not isinstance(require_market_position, bool):
            raise InvalidInput("auction.require_market_position", "must be true or false")
        calendar_name = (calendar or DEFAULT_CALENDAR).strip()
        try:
            named_calendar(calendar_name)
        except PricingInputError as exc:
            raise InvalidInput("auction.calendar", exc.message) from None
        fallback = (fallback_settlement_method or DEFAULT_FALLBACK).strip()
        if not fallback or len(fallback) > 128 or not fallback.isprintable():
            raise InvalidInput(
                "auction.fallback_settlement_method", "must be 1 to 128 printable characters"
            )
        periods = max_initial_bidding_periods
        if isinstance(periods, bool) or not isinstance(periods, int) or periods < 1:
            raise InvalidInput("auction.max_initial_bidding_periods", "must be a whole number >= 1")
        day: dt.date | None
        if auction_date is None or auction_date == "":
            day = None
        elif isinstance(auction_date, dt.date):
            day = auction_date
        else:
            try:
                day = dt.date.fromisoformat(str(auction_date))
            except ValueError:
                raise InvalidInput(
                    "auction.auction_date", f"{auction_date!r} is not a date YYYY-MM-DD"
                ) from None
        return cls(
            auction_id=auction_id,
            currency=currency,
            quotation_amount=qa,
            grid=grid,
            max_spread_ticks=spread,
            cap_ticks=cap,
            min_valid_submissions=min_valid_submissions,
            min_limit_order_size=min_size,
            max_orders_per_dealer=max_orders_per_dealer,
            midpoint_rounding=rounding,
            rounding_amount=unit,
            require_market_position=require_market_position,
            calendar_name=calendar_name,
            fallback_settlement_method=fallback,
            max_initial_bidding_periods=periods,
            auction_date=day,
        )

    def to_dict(self) -> dict[str, Any]:
        """Wire/journal form: decimal strings, round-trips through :meth:`from_dict`."""
        return {
            "auction_id": self.auction_id,
            "currency": self.currency,
            "quotation_amount": str(self.quotation_amount),
            "price_increment": format_decimal(self.grid.increment),
            "max_spread": self.grid.format(self.max_spread_ticks),
            "cap_amount": self.grid.format(self.cap_ticks),
            "min_valid_submissions": self.min_valid_submissions,
            "min_limit_order_size": str(self.min_limit_order_size),
            "max_orders_per_dealer": self.max_orders_per_dealer,
            "midpoint_rounding": self.midpoint_rounding.value,
            "rounding_amount": str(self.rounding_amount),
            "require_market_position": self.require_market_position,
            "calendar": self.calendar_name,
            "fallback_settlement_method": self.fallback_settlement_method,
            "max_initial_bidding_periods": self.max_initial_bidding_periods,
            "auction_date": None if self.auction_date is None else self.auction_date.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuctionParams:
        """Inverse of :meth:`to_dict` (journals older than a parameter get its default)."""
        return cls.build(
            auction_id=data["auction_id"],
            currency=data["currency"],
            quotation_amount=data["quotation_amount"],
            max_spread=data["max_spread"],
            price_increment=data["price_increment"],
            cap_amount=data["cap_amount"],
            min_valid_submissions=data["min_valid_submissions"],
            min_limit_order_size=data["min_limit_order_size"],
            max_orders_per_dealer=data["max_orders_per_dealer"],
            midpoint_rounding=data["midpoint_rounding"],
            # Before the Rounding Convention every amount was rounded to the whole unit.
            rounding_amount=data.get("rounding_amount", 1),
            require_market_position=data.get("require_market_position", False),
            calendar=data.get("calendar"),
            fallback_settlement_method=data.get("fallback_settlement_method"),
            max_initial_bidding_periods=data.get(
                "max_initial_bidding_periods", DEFAULT_INITIAL_BIDDING_PERIODS
            ),
            auction_date=data.get("auction_date"),
        )
