"""The public results of an auction, in the shape creditfixings publishes them.

What the administrators publish, and nothing else: dealers under their published names,
never a customer id, never a client order id. After stage 1: the inside market midpoint,
the open interest, every dealer's initial market, the matched markets, the adjustment
amounts and each dealer's physical settlement request (its own and its customers', net,
as the Terms have it submitted). After stage 2: the final price and every limit order with
what filled. Adjustment amounts are paid on the third business day (the auction's
calendar) after the final price is determined; the date is shown once it is.

``public_result`` reads an auction; ``PublicResult.to_dict`` is the JSON the CLI and the
API carry, ``to_csv_rows`` one flat table (a ``section`` column per kind of row). Several
auctions of one set of terms are published together by ``public_set``.

No I/O; formatting only, no auction rule is decided here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from matching.cds.params import Side
from matching.cds.phases import Phase

if TYPE_CHECKING:
    from matching.cds.auction import CdsAuction

#: Business days after the final price on which adjustment amounts are paid.
ADJUSTMENT_PAYMENT_LAG = 3

CSV_COLUMNS = (
    "auction_id",
    "section",
    "dealer",
    "side",
    "price",
    "offer",
    "size",
    "filled",
    "status",
    "amount",
    "payment_date",
    "value",
)


@dataclass(frozen=True, slots=True)
class PublicMarket:
    """A dealer's initial market."""

    dealer: str
    bid: str
    offer: str


@dataclass(frozen=True, slots=True)
class PublicMatchedMarket:
    """The i-th best bid against the i-th best offer."""

    bid_dealer: str
    bid: str
    offer: str
    offer_dealer: str
    tradeable: bool


@dataclass(frozen=True, slots=True)
class PublicAdjustment:
    """An adjustment amount, the date it is due (None until the final price)."""

    dealer: str
    amount: str
    currency: str
    payment_date: str | None


@dataclass(frozen=True, slots=True)
class PublicRequest:
    """A dealer's physical settlement request, net of its own and its customers'."""

    dealer: str
    side: str
    size: str


@dataclass(frozen=True, slots=True)
class PublicLimitOrder:
    """A limit order and what filled (customers' orders under their dealer's name)."""

    dealer: str
    side: str
    price: str
    size: str
    filled: str
    status: str
    from_initial_market: bool


@dataclass(frozen=True, slots=True)
class PublicResult:
    """What is published of one auction at its current phase."""

    auction_id: str
    currency: str
    status: str
    reason: str | None
    final_price_date: str | None
    initial_market_midpoint: str | None
    open_interest_side: str
    open_interest_size: str
    final_price: str | None
    rounding_amount: str
    initial_markets: tuple[PublicMarket, ...]
    matched_markets: tuple[PublicMatchedMarket, ...]
    adjustment_amounts: tuple[PublicAdjustment, ...]
    physical_settlement_requests: tuple[PublicRequest, ...]
    limit_orders: tuple[PublicLimitOrder, ...]
    auction_set: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form: every number a decimal string."""
        return {
            "auction_id": self.auction_id,
            "auction_set": self.auction_set,
            "currency": self.currency,
            "status": self.status,
            "reason": self.reason,
            "final_price_date": self.final_price_date,
            "initial_market_midpoint": self.initial_market_midpoint,
            "open_interest": {"side": self.open_interest_side, "size": self.open_interest_size},
            "final_price": self.final_price,
            "rounding_amount": self.rounding_amount,
            "initial_markets": [dataclasses.asdict(m) for m in self.initial_markets],
            "matched_markets": [dataclasses.asdict(m) for m in self.matched_markets],
            "adjustment_amounts": [dataclasses.asdict(a) for a in self.adjustment_amounts],
            "physical_settlement_requests": [
                dataclasses.asdict(r) for r in self.physical_settlement_requests
            ],
            "limit_orders": [dataclasses.asdict(o) for o in self.limit_orders],
        }

    def to_csv_rows(self) -> list[dict[str, str]]:
        """One flat table (columns :data:`CSV_COLUMNS`), a ``section`` per kind of row."""
        return public_csv_rows(self.to_dict())


def public_csv_rows(data: dict[str, Any]) -> list[dict[str, str]]:
    """The CSV rows of a public result in its JSON form (so wire results print the same)."""
    aid = data["auction_id"]
    rows: list[dict[str, str]] = []

    def row(section: str, **values: Any) -> None:
        out = dict.fromkeys(CSV_COLUMNS, "")
        out.update(auction_id=aid, section=section)
        out.update({k: "" if v is None else str(v) for k, v in values.items()})
        rows.append(out)

    row("status", value=data["status"] + (f": {data['reason']}" if data["reason"] else ""))
    row("initial_market_midpoint", price=data["initial_market_midpoint"])
    oi = data["open_interest"]
    row("open_interest", side=oi["side"], size=oi["size"])
    row("final_price", price=data["final_price"], value=data["final_price_date"])
    for m in data["initial_markets"]:
        row("initial_market", dealer=m["dealer"], price=m["bid"], offer=m["offer"])
    for a in data["adjustment_amounts"]:
        row(
            "adjustment_amount",
            dealer=a["dealer"],
            amount=a["amount"],
            payment_date=a["payment_date"],
        )
    for r in data["physical_settlement_requests"]:
        row("physical_settlement_request", dealer=r["dealer"], side=r["side"], size=r["size"])
    for o in data["limit_orders"]:
        row(
            "limit_order",
            dealer=o["dealer"],
            side=o["side"],
            price=o["price"],
            size=o["size"],
            filled=o["filled"],
            status=o["status"],
            value="initial market" if o["from_initial_market"] else "",
        )
    return rows


def final_price_date(auction: CdsAuction) -> date | None:
    """The day the final price was determined (the UTC date of the closing event)."""
    if auction.phase is not Phase.FINAL:
        return None
    return datetime.fromisoformat(auction.phase_times[Phase.FINAL.value]).date()


def adjustment_payment_date(auction: CdsAuction) -> date | None:
    """Third business day after the final price, on the auction's calendar."""
    fixed = final_price_date(auction)
    if fixed is None:
        return None
    return auction.params.business_days_after(fixed, ADJUSTMENT_PAYMENT_LAG)


def public_result(auction: CdsAuction) -> PublicResult:
    """The publication of ``auction`` so far (nothing of a sealed book, no customer)."""
    result = auction.result(customers_of=False)
    grid = auction.params.grid
    name = auction.name_of
    s1 = auction.stage1
    markets: tuple[PublicMarket, ...] = ()
    requests: tuple[PublicRequest, ...] = ()
    if s1 is not None:
        markets = tuple(
            sorted(
                (
                    PublicMarket(
                        name(e.market.dealer),
                        grid.format(e.market.bid),
                        grid.format(e.market.offer),
                    )
                    for e in auction.markets.values()
                ),
                key=lambda m: m.dealer.casefold(),
            )
        )
        requests = _net_requests(auction, s1.requests)
    pay = adjustment_payment_date(auction)
    fixed = final_price_date(auction)
    return PublicResult(
        auction_id=auction.auction_id,
        currency=result.currency,
        status=result.status,
        reason=result.reason,
        final_price_date=None if fixed is None else fixed.isoformat(),
        initial_market_midpoint=result.initial_market_midpoint,
        open_interest_side=result.open_interest_side,
        open_interest_size=result.open_interest_size,
        final_price=result.final_price,
        rounding_amount=result.rounding_amount,
        initial_markets=markets,
        matched_markets=tuple(
            PublicMatchedMarket(m.bid_dealer, m.bid, m.offer, m.offer_dealer, m.tradeable)
            for m in result.matched_markets
        ),
        adjustment_amounts=tuple(
            PublicAdjustment(
                a.dealer, a.amount, result.currency, None if pay is None else pay.isoformat()
            )
            for a in result.adjustment_amounts
        ),
        physical_settlement_requests=requests,
        limit_orders=tuple(
            PublicLimitOrder(f.dealer, f.side, f.price, f.size, f.filled, f.status, f.carried_over)
            for f in result.limit_order_fills
        ),
        auction_set=None if auction.auction_set is None else str(auction.auction_set.get("id")),
    )


def _net_requests(auction: CdsAuction, requests: Sequence[Any]) -> tuple[PublicRequest, ...]:
    """Per dealer, its valid requests (own and customers') netted into one, by name."""
    net: dict[str, int] = {}
    last_side: dict[str, Side] = {}
    for r in requests:
        net[r.dealer] = net.get(r.dealer, 0) + (r.size if r.side is Side.BUY else -r.size)
        last_side[r.dealer] = r.side
    rows = []
    for dealer, amount in net.items():
        side = Side.BUY if amount > 0 else Side.SELL if amount < 0 else last_side[dealer]
        rows.append(PublicRequest(auction.name_of(dealer), side.value, str(abs(amount))))
    return tuple(sorted(rows, key=lambda r: r.dealer.casefold()))


def public_set(auctions: Iterable[CdsAuction]) -> list[PublicResult]:
    """The public results of several auctions of one set of terms, in auction id order."""
    return [public_result(a) for a in sorted(auctions, key=lambda a: a.auction_id)]
