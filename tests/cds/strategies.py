"""Hypothesis strategies and a small driver for property tests of the CDS auction engine.

``auction_specs()`` draws a random but valid auction: 4-25 dealers on the panel, two-way
markets on the 0.125 grid within the maximum spread, physical settlement requests on both
sides (own and customers', sizes from zero through tiny to 10^12 currency units) and limit
orders given as offsets from the IMM (the IMM is only known once stage 1 has closed, so the
orders are placed on the eligible side at ``max(0, IMM + offset)``).

``AuctionRun`` drives a spec through the engine exactly as a client would (command ->
Decision -> ``apply_all``) and keeps the full event history for replay checks. Prices are
written as decimal strings by the test itself, not by engine helpers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from matching.cds.auction import CdsAuction, Decision, Schedule
from matching.cds.events import Event
from matching.cds.params import AuctionParams, OrderSide, Side
from matching.cds.phases import Phase

T0 = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)
STAGE1_CLOSE = T0 + timedelta(days=10)
STAGE2_CLOSE = T0 + timedelta(days=20)
INCREMENT = Decimal("0.125")
OPERATOR = "ops"


def price_str(ticks: int) -> str:
    """``ticks`` of 0.125 as a plain decimal string (``203`` -> ``"25.375"``)."""
    value = Decimal(ticks) * INCREMENT
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def to_ticks(price: str) -> int:
    """Inverse of :func:`price_str`; fails loudly on an off-grid price."""
    ticks = Decimal(price) / INCREMENT
    assert ticks == ticks.to_integral_value(), f"{price} is off the 0.125 grid"
    return int(ticks)


@dataclass(frozen=True)
class MarketSpec:
    """A dealer's initial market in ticks."""

    dealer: str
    bid: int
    offer: int


@dataclass(frozen=True)
class RequestSpec:
    """A physical settlement request (``customer`` None for the dealer's own)."""

    dealer: str
    customer: str | None
    side: Side
    size: int


@dataclass(frozen=True)
class OrderSpec:
    """A stage-2 limit order placed at ``max(0, IMM + offset)`` ticks on the eligible side.

    Orders are customers' (each its own customer unless ``customer`` names one): a dealer's
    own orders plus its carried quote may not exceed the open interest, which random sizes
    would break all the time; a customer's orders beyond it are excluded at the close.
    """

    dealer: str
    offset: int
    size: int
    customer: str | None = None


@dataclass(frozen=True)
class AuctionSpec:
    """Everything needed to run one auction from creation to its end."""

    panel: tuple[str, ...]
    quotation_amount: int
    max_spread: int
    cap: int | None
    markets: tuple[MarketSpec, ...]
    requests: tuple[RequestSpec, ...]
    orders: tuple[OrderSpec, ...]
    rounding_amount: int = 1

    def params(self) -> AuctionParams:
        """Validated parameters (cap = half the spread unless set)."""
        return AuctionParams.build(
            auction_id="prop-1",
            quotation_amount=str(self.quotation_amount),
            max_spread=price_str(self.max_spread),
            cap_amount=None if self.cap is None else price_str(self.cap),
            rounding_amount=str(self.rounding_amount),
        )

    def valid_requests(self) -> list[RequestSpec]:
        """The requests that count, as the test reads the Terms: the dealer has a market,
        and a customer's requests (over all dealers, in order) all go one way."""
        quoting = {m.dealer for m in self.markets}
        side_of: dict[str, Side] = {}
        out = []
        for r in self.requests:
            if r.dealer not in quoting:
                continue
            if (
                r.customer is not None
                and r.size > 0
                and side_of.setdefault(r.customer, r.side) is not r.side
            ):
                continue
            out.append(r)
        return out

    def cap_ticks(self) -> int:
        """The cap amount in ticks, as the test understands the spec (default: spread / 2)."""
        return self.max_spread // 2 if self.cap is None else self.cap


# -- strategies ---------------------------------------------------------------------------

sizes = st.one_of(
    st.integers(1, 10),
    st.integers(1, 1_000).map(lambda n: n * 1_000_000),
    st.integers(10**11, 10**12),
    st.integers(1, 10**12),
)
psr_sizes = st.one_of(st.just(0), sizes)
quotation_amounts = st.one_of(
    st.sampled_from([1, 3, 1_000_000, 2_000_000, 3_000_000, 5_000_000, 10**12]),
    st.integers(1, 10**12),
)
# Even tick counts so that half the spread is on the grid (2, 3, 3.5, 5, 10 points ...).
max_spreads = st.sampled_from([2, 8, 16, 20, 24, 28, 40, 80])


@st.composite
def auction_specs(
    draw: st.DrawFn,
    *,
    min_dealers: int = 4,
    max_dealers: int = 25,
    max_orders: int = 12,
) -> AuctionSpec:
    """A random valid auction (it may still end at stage 1 when the open interest is zero)."""
    n = draw(st.integers(min_dealers, max_dealers))
    panel = tuple(f"D{i:02d}" for i in range(n))
    spread = draw(max_spreads)
    cap = draw(st.one_of(st.none(), st.integers(0, spread)))
    center = draw(st.integers(0, 900))
    width = draw(st.integers(0, 3 * spread))
    quoting = draw(st.integers(1, n))  # dealers that submit a market (a prefix of the panel)
    markets = []
    for dealer in panel[:quoting]:
        bid = max(0, center + draw(st.integers(-width, width)))
        markets.append(MarketSpec(dealer, bid, bid + draw(st.integers(1, spread))))
    order = draw(st.permutations(range(quoting)))  # submission order independent of name
    markets = [markets[i] for i in order]

    keys = draw(
        st.lists(
            st.tuples(st.sampled_from(panel), st.sampled_from([None, "c1", "c2", "c3"])),
            min_size=1,
            max_size=2 * n,
            unique=True,
        )
    )
    requests = tuple(
        RequestSpec(d, c, draw(st.sampled_from([Side.BUY, Side.SELL])), draw(psr_sizes))
        for d, c in keys
    )
    orders = tuple(
        OrderSpec(
            draw(st.sampled_from(panel)),
            draw(st.integers(-3 * spread - 4, 2 * spread + 4)),
            draw(sizes),
        )
        for _ in range(draw(st.integers(0, max_orders)))
    )
    return AuctionSpec(
        panel=panel,
        quotation_amount=draw(quotation_amounts),
        max_spread=spread,
        cap=cap,
        markets=tuple(markets),
        requests=requests,
        orders=orders,
        rounding_amount=draw(st.sampled_from([1, 1, 1_000, 100_000])),
    )


def with_open_interest(spec: AuctionSpec) -> AuctionSpec:
    """The same auction with one extra request so that the open interest is not zero."""
    valid = spec.valid_requests()
    buys = sum(r.size for r in valid if r.side is Side.BUY)
    sells = sum(r.size for r in valid if r.side is Side.SELL)
    if buys != sells:
        return spec
    extra = RequestSpec(spec.panel[0], "extra", Side.SELL, 1_000_000)
    return replace(spec, requests=(*spec.requests, extra))


# -- driving an auction -------------------------------------------------------------------


@dataclass
class AuctionRun:
    """One auction, its full history and a synthetic clock; every decision is applied."""

    spec: AuctionSpec
    auction: CdsAuction = field(init=False)
    history: list[Event] = field(init=False)
    clock: datetime = field(init=False)
    acks: dict[str, Decision] = field(init=False)

    def __post_init__(self) -> None:
        created = CdsAuction.create(
            params=self.spec.params(),
            panel=self.spec.panel,
            schedule=Schedule(stage1_close=STAGE1_CLOSE, stage2_close=STAGE2_CLOSE),
            by=OPERATOR,
            now=T0,
        )
        self.auction = CdsAuction.from_events(created.events)
        self.history = list(created.events)
        self.clock = T0
        self.acks = {}

    def now(self) -> datetime:
        self.clock += timedelta(seconds=1)
        return self.clock

    def do(self, command: Callable[..., Decision], **kwargs: Any) -> Decision:
        """Run a command stamped with the next clock tick and apply what it decides."""
        decision = command(now=self.now(), **kwargs)
        self.auction.apply_all(decision.events)
        self.history.extend(decision.events)
        coid = kwargs.get("client_order_id")
        if coid is not None and decision.events:
            self.acks[f"{kwargs.get('dealer')}/{coid}"] = decision
        return decision

    # -- stage 1 --------------------------------------------------------------------------

    def open_stage1(self) -> None:
        self.do(self.auction.open_stage1, by=OPERATOR)

    def market(self, m: MarketSpec, client_order_id: str | None = None) -> Decision:
        return self.do(
            self.auction.submit_market,
            dealer=m.dealer,
            client_order_id=client_order_id or f"m-{m.dealer}",
            bid=price_str(m.bid),
            offer=price_str(m.offer),
        )

    def request(self, i: int, r: RequestSpec, client_order_id: str | None = None) -> Decision:
        return self.do(
            self.auction.submit_request,
            dealer=r.dealer,
            client_order_id=client_order_id or f"r-{i}",
            side=r.side.value,
            size=str(r.size),
            customer=r.customer,
        )

    def close_stage1(self) -> None:
        self.do(self.auction.close_stage1, by=OPERATOR)

    # -- stage 2 --------------------------------------------------------------------------

    @property
    def imm(self) -> int:
        outcome = self.auction.stage1
        assert outcome is not None and outcome.imm is not None
        return outcome.imm

    @property
    def eligible(self) -> OrderSide:
        outcome = self.auction.stage1
        assert outcome is not None and outcome.oi_side is not None
        return OrderSide.BID if outcome.oi_side is Side.SELL else OrderSide.OFFER

    def order_ticks(self, o: OrderSpec) -> int:
        return max(0, self.imm + o.offset)

    def open_stage2(self) -> None:
        self.do(self.auction.open_stage2, by=OPERATOR)

    def order(self, i: int, o: OrderSpec, client_order_id: str | None = None) -> Decision:
        return self.do(
            self.auction.submit_limit_order,
            dealer=o.dealer,
            client_order_id=client_order_id or f"o-{i}",
            side=self.eligible.value,
            price=price_str(self.order_ticks(o)),
            size=str(o.size),
            customer=o.customer or f"cust-{i}",
        )

    def replace_order(self, i: int, o: OrderSpec, client_order_id: str) -> Decision:
        return self.do(
            self.auction.replace_limit_order,
            dealer=o.dealer,
            client_order_id=client_order_id,
            order_client_id=f"o-{i}",
            price=price_str(self.order_ticks(o)),
            size=str(o.size),
        )

    def close_stage2(self) -> None:
        self.do(self.auction.close_stage2, by=OPERATOR)

    # -- whole phases ---------------------------------------------------------------------

    def run_stage1(self) -> None:
        self.open_stage1()
        for m in self.spec.markets:
            self.market(m)
        for i, r in enumerate(self.spec.requests):
            self.request(i, r)
        self.close_stage1()

    def run_stage2(self) -> None:
        if self.auction.phase is not Phase.STAGE1_CLOSED:
            return
        self.open_stage2()
        for i, o in enumerate(self.spec.orders):
            self.order(i, o)
        self.close_stage2()


def run_full(spec: AuctionSpec) -> AuctionRun:
    """Drive ``spec`` from creation to FINAL (or to stage 1's end when nothing is open)."""
    run = AuctionRun(spec)
    run.run_stage1()
    run.run_stage2()
    return run
