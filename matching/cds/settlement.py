"""After the final price: a dealer's settlement statement and CDS cash settlement amounts.

Every trade of an auction settles at the single final price: a dealer's market position
trades (its physical settlement requests, its own and its customers', as filled) and its
matched limit orders. Buying bonds costs ``size x final / 100``; selling them brings the
same. A dealer that owes an adjustment amount pays it on the third business day after the
final price. Cash amounts are exact decimals (a price on a 1/8 grid times a whole size is a
terminating decimal): nothing is rounded.

Cash settlement of a credit default swap at the final price: the protection seller pays the
buyer ``notional x (100 - min(final, 100)) / 100`` (a final price above par settles as 100).

No I/O; no rule of the auction itself is decided here (fills come from the engine).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from matching.errors import InvalidInput, InvalidTransition
from matching.money import DecimalLike, format_decimal, parse_decimal

if TYPE_CHECKING:
    from matching.cds.auction import CdsAuction

HUNDRED = Fraction(100)


def cash_amount(size: int, price: Fraction) -> str:
    """``size x price / 100`` as an exact decimal string."""
    return format_decimal(Fraction(size) * price / HUNDRED)


def cash_settlement(notional: DecimalLike, final_price: DecimalLike) -> str:
    """What the protection seller pays on ``notional`` at ``final_price`` (exact decimal).

    ``notional`` is a whole or decimal amount of currency (not negative); ``final_price`` a
    decimal percentage of par (not negative; above 100 it settles as 100).
    """
    amount = parse_decimal(notional, "notional")
    if amount < 0:
        raise InvalidInput("notional", "must not be negative")
    price = parse_decimal(final_price, "final_price")
    if price < 0:
        raise InvalidInput("final_price", "must not be negative")
    owed = Fraction(amount) * (HUNDRED - min(Fraction(price), HUNDRED)) / HUNDRED
    return format_decimal(owed)


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One trade at the final price: ``direction`` BUY (bonds bought, cash paid) or SELL."""

    kind: str  # MARKET_POSITION_TRADE or LIMIT_ORDER
    reference: str  # "psr" / "psr/<customer>" or the limit order id
    customer: str | None
    direction: str
    size: str
    price: str
    cash: str


@dataclass(frozen=True, slots=True)
class SettlementStatement:
    """A dealer's trades at the final price, its adjustment amount, and the net figures."""

    auction_id: str
    dealer: str
    currency: str
    final_price: str
    lines: tuple[StatementLine, ...]
    bonds_bought: str
    bonds_sold: str
    cash_paid: str
    cash_received: str
    net_cash: str  # received - paid (negative: the dealer pays)
    adjustment_amount: str
    adjustment_payment_date: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON form: every number a decimal string."""
        data = dataclasses.asdict(self)
        data["lines"] = [dataclasses.asdict(line) for line in self.lines]
        return data


def settlement_statement(auction: CdsAuction, dealer: str) -> SettlementStatement:
    """The statement of ``dealer`` (a panel id) once the final price is fixed."""
    from matching.cds.publication import adjustment_payment_date

    result = auction.result(customers_of=dealer)
    if result.final_price is None:
        raise InvalidTransition(f"{auction.auction_id} has no final price yet")
    if dealer not in auction.panel:
        raise InvalidInput("dealer", f"{dealer!r} is not on the panel of {auction.auction_id}")
    name = auction.name_of(dealer)
    price = Fraction(Decimal(result.final_price))
    lines: list[StatementLine] = []
    for t in result.market_position_trades:
        if t.dealer != name or t.filled == "0":
            continue
        lines.append(
            StatementLine(
                "MARKET_POSITION_TRADE",
                "psr" + (f"/{t.customer}" if t.customer else ""),
                t.customer,
                t.side,
                t.filled,
                result.final_price,
                cash_amount(int(t.filled), price),
            )
        )
    for f in result.limit_order_fills:
        if f.dealer != name or f.filled == "0":
            continue
        lines.append(
            StatementLine(
                "LIMIT_ORDER",
                f.order_id,
                f.customer,
                "BUY" if f.side == "BID" else "SELL",
                f.filled,
                result.final_price,
                cash_amount(int(f.filled), price),
            )
        )
    bought = sum(int(line.size) for line in lines if line.direction == "BUY")
    sold = sum(int(line.size) for line in lines if line.direction == "SELL")
    paid = sum((Fraction(Decimal(x.cash)) for x in lines if x.direction == "BUY"), Fraction(0))
    received = sum((Fraction(Decimal(x.cash)) for x in lines if x.direction == "SELL"), Fraction(0))
    adjustment = sum(int(a.amount) for a in result.adjustment_amounts if a.dealer == name)
    pay = adjustment_payment_date(auction)
    return SettlementStatement(
        auction_id=auction.auction_id,
        dealer=name,
        currency=result.currency,
        final_price=result.final_price,
        lines=tuple(lines),
        bonds_bought=str(bought),
        bonds_sold=str(sold),
        cash_paid=format_decimal(paid),
        cash_received=format_decimal(received),
        net_cash=format_decimal(received - paid),
        adjustment_amount=str(adjustment),
        adjustment_payment_date=None if pay is None or not adjustment else pay.isoformat(),
    )
