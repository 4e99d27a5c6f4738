"""What a default auction sells: a lot of converted positions and the values behind them.

A defaulted position becomes a **converted position**: the standard swap (next standard
tenor, same side, notional and conventions) plus the cash RCV. A **lot** is one converted
position or an all-or-none bucket of them in one currency and index. Every value here (NPVs,
par rates, SVFs, DV01, RCV, implied bid b* = -RCV, hedge notional) was computed by the
pricing library outside ``matching`` and arrives as decimal strings; the lot only checks
them for consistency (b* = -RCV per position, cents only) and adds them up. It must never
price anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from matching.clearing.model import Side, SwapTerms, check_code, check_rate, parse_enum
from matching.default.cash import cents_text, to_cents
from matching.errors import InvalidInput
from matching.money import DecimalLike, format_decimal, parse_amount, parse_decimal


@dataclass(frozen=True, slots=True)
class ConvertedPosition:
    """One defaulted position, its standard swap and their priced values (cents, strings)."""

    position_id: str
    defaulted: SwapTerms
    standard: SwapTerms
    standard_tenor: str
    defaulted_npv: int
    defaulted_par_rate: str
    defaulted_svf: str
    standard_npv: int
    standard_par_rate: str
    standard_svf: str
    standard_dv01: int
    rcv: int
    implied_bid: int
    hedge_notional: int = 0
    hedge_side: Side | None = None

    @classmethod
    def build(
        cls,
        *,
        position_id: str,
        defaulted: SwapTerms,
        standard: SwapTerms,
        standard_tenor: str,
        defaulted_npv: DecimalLike,
        defaulted_par_rate: DecimalLike,
        defaulted_svf: DecimalLike,
        standard_npv: DecimalLike,
        standard_par_rate: DecimalLike,
        standard_svf: DecimalLike,
        standard_dv01: DecimalLike,
        rcv: DecimalLike,
        implied_bid: DecimalLike,
        hedge_notional: DecimalLike = 0,
        hedge_side: Side | str | None = None,
        field: str = "conversion",
    ) -> ConvertedPosition:
        """Validate one conversion; the standard swap must keep the defaulted side, notional,
        currency and index, and b* must be exactly -RCV."""
        for name in ("side", "notional", "currency", "index"):
            if getattr(standard, name) != getattr(defaulted, name):
                raise InvalidInput(
                    f"{field}.standard.{name}", "must equal the defaulted position's"
                )
        rcv_c = to_cents(rcv, f"{field}.rcv")
        bid_c = to_cents(implied_bid, f"{field}.implied_bid")
        if bid_c != -rcv_c:
            raise InvalidInput(f"{field}.implied_bid", "must be exactly -rcv")
        hedge = parse_amount(hedge_notional, f"{field}.hedge_notional")
        return cls(
            position_id=position_id,
            defaulted=defaulted,
            standard=standard,
            standard_tenor=check_code(standard_tenor, f"{field}.standard_tenor"),
            defaulted_npv=to_cents(defaulted_npv, f"{field}.defaulted_npv"),
            defaulted_par_rate=check_rate(defaulted_par_rate, f"{field}.defaulted_par_rate"),
            defaulted_svf=check_rate(defaulted_svf, f"{field}.defaulted_svf"),
            standard_npv=to_cents(standard_npv, f"{field}.standard_npv"),
            standard_par_rate=check_rate(standard_par_rate, f"{field}.standard_par_rate"),
            standard_svf=check_rate(standard_svf, f"{field}.standard_svf"),
            standard_dv01=to_cents(standard_dv01, f"{field}.standard_dv01"),
            rcv=rcv_c,
            implied_bid=bid_c,
            hedge_notional=hedge,
            hedge_side=None
            if hedge_side is None
            else parse_enum(Side, hedge_side, f"{field}.hedge_side"),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-native form: money as two-decimal strings."""
        return {
            "position_id": self.position_id,
            "defaulted": self.defaulted.to_dict(),
            "standard": self.standard.to_dict(),
            "standard_tenor": self.standard_tenor,
            "defaulted_npv": cents_text(self.defaulted_npv),
            "defaulted_par_rate": self.defaulted_par_rate,
            "defaulted_svf": self.defaulted_svf,
            "standard_npv": cents_text(self.standard_npv),
            "standard_par_rate": self.standard_par_rate,
            "standard_svf": self.standard_svf,
            "standard_dv01": cents_text(self.standard_dv01),
            "rcv": cents_text(self.rcv),
            "implied_bid": cents_text(self.implied_bid),
            "hedge_notional": str(self.hedge_notional),
            "hedge_side": None if self.hedge_side is None else self.hedge_side.value,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], field: str = "conversion") -> ConvertedPosition:
        """Inverse of :meth:`to_dict`."""
        values = dict(data)
        values["defaulted"] = SwapTerms.from_dict(values["defaulted"], f"{field}.defaulted")
        values["standard"] = SwapTerms.from_dict(values["standard"], f"{field}.standard")
        return cls.build(**values, field=field)


@dataclass(frozen=True, slots=True)
class Lot:
    """A bucket of converted positions of one defaulter, currency and index: all-or-none.

    ``curve_id`` and ``valuation_time`` say which curve the values came from and when; they
    are disclosed to bidders with the terms.
    """

    lot_id: str
    defaulter: str
    currency: str
    index: str
    positions: tuple[ConvertedPosition, ...]
    curve_id: str
    valuation_time: str
    rcv_convention: str
    settled_flows: str = "exclude_settled"
    fx_rate: str = "1"
    clearing_currency: str = ""

    @classmethod
    def build(
        cls,
        *,
        lot_id: str,
        defaulter: str,
        positions: Sequence[ConvertedPosition],
        curve_id: str,
        valuation_time: str,
        rcv_convention: str = "same_coupon",
        settled_flows: str = "exclude_settled",
        fx_rate: DecimalLike = "1",
        clearing_currency: str = "",
    ) -> Lot:
        """Validate a lot: at least one position, one currency and index, distinct ids, a
        positive FX rate into the clearing currency (empty clearing currency: the lot's)."""
        if not positions:
            raise InvalidInput("positions", "a lot needs at least one converted position")
        markets = {p.defaulted.market for p in positions}
        if len(markets) != 1:
            raise InvalidInput("positions", "a lot holds one currency and index only")
        ids = [p.position_id for p in positions]
        if len(set(ids)) != len(ids):
            raise InvalidInput("positions", "a position can be in a lot only once")
        if not isinstance(curve_id, str) or not curve_id.strip():
            raise InvalidInput("curve_id", "must name the curve the values came from")
        try:
            stamp = datetime.fromisoformat(valuation_time)
        except (TypeError, ValueError):
            raise InvalidInput("valuation_time", "must be an ISO-8601 date or time") from None
        del stamp  # parsed only to check it
        currency, index = markets.pop()
        rate = parse_decimal(fx_rate, "fx_rate")
        if not rate > 0:
            raise InvalidInput("fx_rate", "must be a positive decimal number")
        clearing = check_code(clearing_currency or currency, "clearing_currency")
        if clearing == currency and rate != 1:
            raise InvalidInput(
                "fx_rate", f"must be 1: the lot is in the clearing currency {clearing}"
            )
        return cls(
            lot_id=lot_id,
            defaulter=defaulter,
            currency=currency,
            index=index,
            positions=tuple(positions),
            curve_id=curve_id,
            valuation_time=valuation_time,
            rcv_convention=check_code(rcv_convention, "rcv_convention"),
            settled_flows=check_code(settled_flows, "settled_flows"),
            fx_rate=format_decimal(rate),
            clearing_currency=clearing,
        )

    @property
    def rcv(self) -> int:
        """The lot's Recovery Conversion Value in cents (sum over its positions)."""
        return sum(p.rcv for p in self.positions)

    @property
    def implied_bid(self) -> int:
        """b* = -RCV in cents: what the taker should pay the CCP for the lot."""
        return sum(p.implied_bid for p in self.positions)

    @property
    def dv01(self) -> int:
        """DV01 of the standard swaps the winner takes, in cents (signed sum)."""
        return sum(p.standard_dv01 for p in self.positions)

    def to_dict(self) -> dict[str, Any]:
        """JSON-native form with the totals (the totals are ignored by ``from_dict``)."""
        return {
            "lot_id": self.lot_id,
            "defaulter": self.defaulter,
            "currency": self.currency,
            "index": self.index,
            "positions": [p.to_dict() for p in self.positions],
            "curve_id": self.curve_id,
            "valuation_time": self.valuation_time,
            "rcv_convention": self.rcv_convention,
            "settled_flows": self.settled_flows,
            "fx_rate": self.fx_rate,
            "clearing_currency": self.clearing_currency,
            "rcv": cents_text(self.rcv),
            "implied_bid": cents_text(self.implied_bid),
            "dv01": cents_text(self.dv01),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Lot:
        """Inverse of :meth:`to_dict`."""
        return cls.build(
            lot_id=data["lot_id"],
            defaulter=data["defaulter"],
            positions=[
                ConvertedPosition.from_dict(p, f"positions[{i}]")
                for i, p in enumerate(data["positions"])
            ],
            curve_id=data["curve_id"],
            valuation_time=data["valuation_time"],
            rcv_convention=data["rcv_convention"],
            settled_flows=data.get("settled_flows", "exclude_settled"),
            fx_rate=data.get("fx_rate", "1"),
            clearing_currency=data.get("clearing_currency", ""),
        )
