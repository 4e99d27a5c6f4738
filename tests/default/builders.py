"""Builders for default-management tests: a clearing house and a lot's auction, driven one
command at a time with their histories kept, using the spec's reference figures (no pricing)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from matching.clearing import events as cev
from matching.clearing.model import Side, SwapTerms, parse_enum
from matching.clearing.state import ClearingHouse, MemberSpec
from matching.clearing.state import Decision as HouseDecision
from matching.default import events as aev
from matching.default.auction import AuctionParams, DefaultAuction, Schedule
from matching.default.auction import Decision as AuctionDecision
from matching.default.lot import ConvertedPosition, Lot

T0 = datetime(2007, 12, 12, 9, 0, tzinfo=UTC)
USD_3M = ("USD", "USD-LIBOR-3M")


def at(seconds: float) -> datetime:
    """T0 plus ``seconds``."""
    return T0 + timedelta(seconds=seconds)


def terms(
    side: Side | str = "PAYER",
    *,
    notional: int = 10_000_000,
    rate: str = "0.0515",
    start: str = "2007-12-14",
    maturity: str = "2017-06-14",
    currency: str = "USD",
    index: str = "USD-LIBOR-3M",
) -> SwapTerms:
    """Swap terms; the default is the spec's 9.5y payer 5.15% on 10m."""
    return SwapTerms.build(
        currency=currency,
        index=index,
        side=side,
        notional=notional,
        fixed_rate=rate,
        start=start,
        maturity=maturity,
    )


def reference_conversion(
    position_id: str = "p-D", side: Side | str = "PAYER", notional: int = 10_000_000
) -> ConvertedPosition:
    """The spec's reference conversion (RCV -12,337.67 for the payer; the sign flips for a
    receiver), scaled to ``notional`` in multiples of 10m."""
    k = notional // 10_000_000
    sign = parse_enum(Side, side, "side").sign
    defaulted = terms(side, notional=notional)
    standard = terms(side, notional=notional, maturity="2017-12-14")

    def c(cents: int) -> str:
        value = sign * k * cents
        return f"{'-' if value < 0 else ''}{abs(value) // 100}.{abs(value) % 100:02d}"

    return ConvertedPosition.build(
        position_id=position_id,
        defaulted=defaulted,
        standard=standard,
        standard_tenor="10Y",
        defaulted_npv=c(-13029879),
        defaulted_par_rate="0.0497766561",
        defaulted_svf="7.5608118817",
        standard_npv=c(-11796112),
        standard_par_rate="0.05",
        standard_svf="7.864074756",
        standard_dv01=c(792023),
        rcv=c(-1233767),
        implied_bid=c(1233767),
        hedge_notional=9_609_364 * k,
        hedge_side="PAYER" if sign > 0 else "RECEIVER",
    )


class House:
    """A clearing house with its journal; ``do`` applies a decision and keeps its events."""

    def __init__(self, house_id: str = "ccp") -> None:
        created = ClearingHouse.create(house_id=house_id, by="ops", now=T0)
        self.state = ClearingHouse.from_events(created.events)
        self.events: list[cev.Event] = list(created.events)
        self.t = 0

    def now(self) -> datetime:
        self.t += 1
        return at(self.t)

    def do(self, decision: HouseDecision) -> HouseDecision:
        self.state.apply_all(decision.events)
        self.events.extend(decision.events)
        return decision

    def replayed(self) -> ClearingHouse:
        return ClearingHouse.from_events(self.events)


def standard_house(
    *,
    defaulter_side: Side | str = "PAYER",
    defaulter_collateral: str = "500000",
    extra_positions: Sequence[tuple[str, str, SwapTerms]] = (),
) -> House:
    """Members D (defaulter-to-be), A and B (opposite side), C (same side), MM1, MM2 (market
    makers), E (other index); one margin run where only D falls short."""
    side = Side(str(defaulter_side).upper())
    h = House()
    members = [
        MemberSpec("D", "CLEARING_MEMBER", True, defaulter_collateral),
        MemberSpec("A", "CLEARING_MEMBER", True, "3000000"),
        MemberSpec("B", "CLEARING_MEMBER", False, "1000000"),
        MemberSpec("C", "CLEARING_MEMBER", True, "1000000"),
        MemberSpec("E", "CLEARING_MEMBER", True, "1000000"),
        MemberSpec("MM1", "MARKET_MAKER", True, "500000"),
        MemberSpec("MM2", "MARKET_MAKER", False, "500000"),
    ]
    positions = [
        ("p-D", "D", terms(side)),
        ("p-A", "A", terms(side.opposite, notional=25_000_000, rate="0.05")),
        ("p-B", "B", terms(side.opposite, maturity="2014-12-14", rate="0.048")),
        ("p-C", "C", terms(side, maturity="2017-12-14", rate="0.05")),
        ("p-E", "E", terms(side.opposite, index="USD-SOFR")),
        *extra_positions,
    ]
    h.do(h.state.load(members=members, positions=positions, by="ops", now=h.now()))
    h.do(
        h.state.record_margin_run(
            run_id="r1",
            requirements={"D": "797807.07", "A": "1808745.32", "B": "570981.20", "C": "825169.22"},
            valuation_date="2007-12-12",
            curve_id="curve-1",
            by="ops",
            now=h.now(),
        )
    )
    return h


def defaulted_house(
    *, defaulter_side: Side | str = "PAYER", defaulter_collateral: str = "500000"
) -> House:
    """``standard_house`` with D in default and its position converted into lot L1."""
    h = standard_house(defaulter_side=defaulter_side, defaulter_collateral=defaulter_collateral)
    side = h.state.positions["p-D"].terms.side
    h.do(h.state.declare_default(member="D", by="ops", now=h.now(), values={"p-D": "-130298.79"}))
    h.do(
        h.state.convert(
            lot_id="L1",
            member="D",
            conversions=[reference_conversion("p-D", side)],
            curve_id="curve-1",
            valuation_time="2007-12-12",
            by="ops",
            now=h.now(),
        )
    )
    return h


class Auction:
    """A lot's auction with its journal."""

    def __init__(
        self,
        lot: Lot,
        *,
        eligible: Sequence[str] = ("A", "B", "MM1", "MM2"),
        market_makers: Sequence[str] = ("MM1", "MM2"),
        mandatory: Sequence[str] = ("A", "MM1", "MM2"),
        reserve: str | None = None,
        threshold: str = "2500",
        close_at: datetime | None = None,
    ) -> None:
        created = DefaultAuction.create(
            auction_id=lot.lot_id,
            lot=lot,
            eligible=eligible,
            market_makers=market_makers,
            mandatory=mandatory,
            params=AuctionParams.build(reserve=reserve, grading_threshold=threshold),
            schedule=Schedule(close_at=close_at),
            by="ops",
            now=T0,
        )
        self.state = DefaultAuction.from_events(created.events)
        self.events: list[aev.Event] = list(created.events)

    def do(self, decision: AuctionDecision) -> AuctionDecision:
        self.state.apply_all(decision.events)
        self.events.extend(decision.events)
        return decision

    def open(self) -> Auction:
        self.do(self.state.open(by="ops", now=at(1)))
        return self

    def bid(self, member: str, amount: str, t: float, cid: str | None = None) -> AuctionDecision:
        return self.do(
            self.state.submit_bid(
                member=member, client_order_id=cid or f"{member}-{t}", amount=amount, now=at(t)
            )
        )

    def close_and_award(self, seed: int = 7, t: float = 1000) -> AuctionDecision:
        self.do(self.state.close(by="ops", now=at(t)))
        return self.do(self.state.award(by="ops", now=at(t + 1), seed=seed))

    def replayed(self) -> DefaultAuction:
        return DefaultAuction.from_events(self.events)


def reference_lot(side: Side | str = "PAYER", lot_id: str = "L1") -> Lot:
    """The spec's reference lot of defaulter D."""
    return Lot.build(
        lot_id=lot_id,
        defaulter="D",
        positions=[reference_conversion("p-D", side)],
        curve_id="curve-1",
        valuation_time="2007-12-12",
    )
