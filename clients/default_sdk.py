"""Async SDK for clearing-house default management: the operator and the members.

::

    async with ClearingClient("127.0.0.1:50051", token="demo-operator-token") as ops:
        await ops.load(members, positions)
        run = await ops.run_margin("margin-1", market_to_proto(market_json))
        await ops.declare_default("Dealer-D", market=market_to_proto(market_json))
        lots = await ops.convert("Dealer-D", market_to_proto(market_json), hedge=True)
    async with MemberClient("127.0.0.1:50051", token="...") as member:
        ack = await member.submit_bid("Dealer-D-1", "bid-1", "12200.00")

Money is passed and returned as decimal strings. :func:`market_to_proto` turns a market in
the pricing request format (``examples/pricing/README.md``, the ``market`` section of a
default scenario) into the wire's ``MarketDefinition``. Refusals surface as
``grpc.aio.AioRpcError`` (``clients.errors.field_violations`` names the fields).

This module speaks only the wire API (``closeout.v1``); it never imports ``server``.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from clients.sdk import Session
from closeout.v1 import clearing_pb2 as pb
from closeout.v1 import clearing_pb2_grpc, common_pb2
from closeout.v1 import pricing_pb2 as ppb

__all__ = [
    "DEFAULT_LOAD_CHUNK",
    "ClearingClient",
    "MarketFormatError",
    "MemberClient",
    "cleared_swap",
    "load_chunks",
    "market_to_proto",
    "markets_to_proto",
    "member_to_proto",
    "name_of",
    "scenario_to_proto",
]

_INTERPOLATION = {
    "log_linear_discount": ppb.CURVE_INTERPOLATION_LOG_LINEAR_DISCOUNT,
    "linear_zero": ppb.CURVE_INTERPOLATION_LINEAR_ZERO,
    "monotone_convex": ppb.CURVE_INTERPOLATION_MONOTONE_CONVEX,
}
_INSTRUMENT = {
    "deposit": ppb.CURVE_INSTRUMENT_DEPOSIT,
    "fra": ppb.CURVE_INSTRUMENT_FRA,
    "swap": ppb.CURVE_INSTRUMENT_SWAP,
}
_FLOAT = {"ibor": ppb.FLOAT_INDEX_KIND_IBOR, "ois": ppb.FLOAT_INDEX_KIND_OIS}
_SIDES = {"PAYER": ppb.SWAP_SIDE_PAYER, "RECEIVER": ppb.SWAP_SIDE_RECEIVER}
_ROLES = {
    "CLEARING_MEMBER": pb.MEMBER_ROLE_CLEARING_MEMBER,
    "MARKET_MAKER": pb.MEMBER_ROLE_MARKET_MAKER,
}
_RCV = {
    "same_coupon": ppb.RCV_CONVENTION_SAME_COUPON,
    "at_market": ppb.RCV_CONVENTION_AT_MARKET,
    "zero_cash": ppb.RCV_CONVENTION_ZERO_CASH,
}


class MarketFormatError(ValueError):
    """A market in the pricing request format that the wire cannot carry; names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def name_of(enum: Any, value: int, prefix: str) -> str:
    """A wire enum value's name without its prefix (``DEFAULT_AUCTION_PHASE_OPEN`` -> OPEN)."""
    name: str = enum.Name(value)
    return name.removeprefix(prefix)


def _text(value: Any) -> str:
    return str(value) if isinstance(value, str | int | Decimal | float) else ""


def _check_keys(obj: Mapping[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(obj) - allowed)
    if extra:
        raise MarketFormatError(f"{where}.{extra[0]}", "unknown field")


def _conventions(raw: Any, where: str) -> ppb.SwapConventions:
    if not isinstance(raw, dict):
        raise MarketFormatError(where, "expected an object")
    _check_keys(
        raw,
        {
            "calendar",
            "business_day",
            "end_of_month",
            "spot_lag",
            "fixed_frequency",
            "fixed_day_count",
            "float_index",
            "float_frequency",
            "float_day_count",
            "fixing_days",
        },
        where,
    )
    msg = ppb.SwapConventions()
    calendar = raw.get("calendar")
    if isinstance(calendar, str):
        msg.calendar.names = calendar
    elif isinstance(calendar, list):
        msg.calendar.names = "+".join(str(c) for c in calendar)
    elif isinstance(calendar, dict):
        msg.calendar.holidays.CopyFrom(
            ppb.HolidayList(
                name=str(calendar.get("name", "explicit")),
                dates=[str(d) for d in calendar.get("holidays", [])],
            )
        )
    for key in ("business_day", "fixed_frequency", "fixed_day_count", "float_frequency"):
        if raw.get(key) is not None:
            setattr(msg, key, str(raw[key]))
    if raw.get("float_day_count") is not None:
        msg.float_day_count = str(raw["float_day_count"])
    if raw.get("end_of_month") is not None:
        msg.end_of_month = bool(raw["end_of_month"])
    for key in ("spot_lag", "fixing_days"):
        if raw.get(key) is not None:
            setattr(msg, key, int(raw[key]))
    if raw.get("float_index") is not None:
        kind = str(raw["float_index"]).lower()
        if kind not in _FLOAT:
            raise MarketFormatError(f"{where}.float_index", "expected ibor or ois")
        msg.float_index = _FLOAT[kind]
    return msg


def _curve(raw: Any, where: str) -> ppb.CurveDefinition:
    if not isinstance(raw, dict):
        raise MarketFormatError(where, "expected an object")
    _check_keys(raw, {"conventions", "interpolation", "quotes"}, where)
    msg = ppb.CurveDefinition()
    if raw.get("conventions") is not None:
        msg.conventions.CopyFrom(_conventions(raw["conventions"], f"{where}.conventions"))
    if raw.get("interpolation") is not None:
        method = str(raw["interpolation"]).lower()
        if method not in _INTERPOLATION:
            raise MarketFormatError(f"{where}.interpolation", f"unknown method {method!r}")
        msg.interpolation = _INTERPOLATION[method]
    for i, q in enumerate(raw.get("quotes") or []):
        at = f"{where}.quotes[{i}]"
        if not isinstance(q, dict):
            raise MarketFormatError(at, "expected an object")
        _check_keys(q, {"instrument", "rate", "tenor", "start", "end"}, at)
        instrument = str(q.get("instrument", "")).lower()
        if instrument not in _INSTRUMENT:
            raise MarketFormatError(f"{at}.instrument", "expected deposit, fra or swap")
        msg.quotes.append(
            ppb.CurveQuote(
                instrument=_INSTRUMENT[instrument],
                rate=_text(q.get("rate")),
                tenor=_text(q.get("tenor")),
                start=_text(q.get("start")),
                end=_text(q.get("end")),
            )
        )
    return msg


def market_to_proto(raw: Mapping[str, Any]) -> ppb.MarketDefinition:
    """A market in the pricing request format as a ``MarketDefinition``."""
    _check_keys(raw, {"valuation_date", "conventions", "curve", "discount_curve"}, "market")
    msg = ppb.MarketDefinition(valuation_date=_text(raw.get("valuation_date")))
    if raw.get("conventions") is not None:
        msg.conventions.CopyFrom(_conventions(raw["conventions"], "market.conventions"))
    if raw.get("curve") is not None:
        msg.curve.CopyFrom(_curve(raw["curve"], "market.curve"))
    if raw.get("discount_curve") is not None:
        msg.discount_curve.CopyFrom(_curve(raw["discount_curve"], "market.discount_curve"))
    return msg


def markets_to_proto(raw: Mapping[str, Any]) -> pb.MarketSet:
    """Several markets ``{clearing_currency, markets: [{currency, index, market}],
    fx_rates: [{currency, rate}]}`` as a ``MarketSet``."""
    _check_keys(raw, {"clearing_currency", "markets", "fx_rates"}, "markets")
    msg = pb.MarketSet(clearing_currency=_text(raw.get("clearing_currency")))
    for i, m in enumerate(raw.get("markets") or []):
        _check_keys(m, {"currency", "index", "market", "fixings"}, f"markets.markets[{i}]")
        msg.markets.append(
            pb.IndexMarket(
                currency=_text(m.get("currency")),
                index=_text(m.get("index")),
                market=market_to_proto(m.get("market") or {}),
                fixings=[
                    pb.IndexFixing(date=_text(f.get("date")), rate=_text(f.get("rate")))
                    for f in m.get("fixings") or []
                ],
            )
        )
    for i, r in enumerate(raw.get("fx_rates") or []):
        _check_keys(r, {"currency", "rate"}, f"markets.fx_rates[{i}]")
        msg.fx_rates.append(pb.FxRate(currency=_text(r.get("currency")), rate=_text(r.get("rate"))))
    return msg


#: A request's market: one ``MarketDefinition`` (one currency and index) or a ``MarketSet``.
AnyMarket = ppb.MarketDefinition | pb.MarketSet


def _market_fields(market: AnyMarket | None) -> dict[str, Any]:
    if market is None:
        return {}
    if isinstance(market, pb.MarketSet):
        return {"markets": market}
    return {"market": market}


def scenario_to_proto(raw: Mapping[str, Any]) -> ppb.CurveScenario:
    """A margin scenario ``{name, short_bp, long_bp, short_years, long_years}``."""
    return ppb.CurveScenario(
        name=_text(raw.get("name")),
        short_bp=_text(raw.get("short_bp")),
        long_bp=_text(raw.get("long_bp")),
        short_years=_text(raw.get("short_years")),
        long_years=_text(raw.get("long_years")),
    )


def cleared_swap(
    *,
    currency: str,
    index: str,
    side: str,
    notional: int,
    fixed_rate: str,
    start: str,
    maturity: str,
) -> pb.ClearedSwap:
    """Swap terms for the wire (``side`` PAYER or RECEIVER)."""
    return pb.ClearedSwap(
        currency=currency,
        index=index,
        side=_SIDES[side.upper()],
        notional=notional,
        fixed_rate=fixed_rate,
        start=start,
        maturity=maturity,
    )


def _stamp(when: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(when)
    return stamp


#: Members or positions per chunk of a streamed load: about 0.4 MB of positions, well under
#: gRPC's default 4 MiB message limit.
DEFAULT_LOAD_CHUNK = 5_000


def load_chunks(
    members: Iterable[pb.ClearingMember],
    positions: Iterable[pb.ClearedPosition],
    house_id: str = "",
    chunk_size: int = DEFAULT_LOAD_CHUNK,
) -> Iterator[pb.LoadClearingStateChunksRequest]:
    """The chunks of a streamed load: the members, then the positions, ``chunk_size`` at a
    time, the house id in the first and ``last`` set on the final one (at least one chunk,
    even for an empty load)."""
    member_items, position_items = iter(members), iter(positions)

    def chunks() -> Iterator[pb.LoadClearingStateChunksRequest]:
        while batch := list(itertools.islice(member_items, chunk_size)):
            yield pb.LoadClearingStateChunksRequest(members=batch)
        while more := list(itertools.islice(position_items, chunk_size)):
            yield pb.LoadClearingStateChunksRequest(positions=more)

    previous: pb.LoadClearingStateChunksRequest | None = None
    for chunk in chunks():
        if previous is None:
            chunk.house_id = house_id
        else:
            yield previous
        previous = chunk
    if previous is None:
        previous = pb.LoadClearingStateChunksRequest(house_id=house_id)
    previous.last = True
    yield previous


class ClearingClient(Session):
    """The clearing-house operator's calls (the read calls also work for observers)."""

    def __init__(self, target: str, token: str, **kwargs: Any) -> None:
        super().__init__(target, token, **kwargs)
        self.stub = clearing_pb2_grpc.ClearingServiceStub(self.channel)
        self.members = clearing_pb2_grpc.DefaultAuctionServiceStub(self.channel)

    async def load(
        self,
        members: Sequence[pb.ClearingMember],
        positions: Sequence[pb.ClearedPosition],
        house_id: str = "",
    ) -> pb.LoadClearingStateResponse:
        """Admit members with their collateral and book positions (all or none)."""
        request = pb.LoadClearingStateRequest(
            house_id=house_id, members=members, positions=positions
        )
        response: pb.LoadClearingStateResponse = await self._call(
            self.stub.LoadClearingState, request
        )
        return response

    async def load_chunks(
        self,
        members: Iterable[pb.ClearingMember],
        positions: Iterable[pb.ClearedPosition],
        house_id: str = "",
        chunk_size: int = DEFAULT_LOAD_CHUNK,
    ) -> pb.LoadClearingStateChunksResponse:
        """The same load as :meth:`load`, streamed in chunks of at most ``chunk_size`` members
        or positions each, for portfolios too large for one message (all or none; nothing
        stands unless the whole stream is loaded).

        The deadline covers the whole stream. It is never sent again to another target (a
        load is not idempotent: a second one finds its positions booked)."""
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        async with self._slots:
            try:
                response: pb.LoadClearingStateChunksResponse = (
                    await self.stub.LoadClearingStateChunks(
                        load_chunks(members, positions, house_id, chunk_size),
                        metadata=self.metadata,
                        timeout=self.settings.timeout,
                    )
                )
            except grpc.aio.AioRpcError as exc:
                raise self._unreachable(exc, [self.target]) from None
        return response

    async def run_margin(
        self,
        run_id: str,
        market: AnyMarket,
        scenarios: Sequence[ppb.CurveScenario] = (),
    ) -> pb.RunMarginResponse:
        """Price the performance bond of every member and record the run."""
        request = pb.RunMarginRequest(run_id=run_id, scenarios=scenarios, **_market_fields(market))
        response: pb.RunMarginResponse = await self._call(self.stub.RunMargin, request)
        return response

    async def declare_default(
        self, member_id: str, *, reason: str = "", market: AnyMarket | None = None
    ) -> pb.DeclareDefaultResponse:
        """Declare a member in default (on its shortfall, or with ``reason``)."""
        request = pb.DeclareDefaultRequest(
            member_id=member_id, reason=reason, **_market_fields(market)
        )
        response: pb.DeclareDefaultResponse = await self._call(self.stub.DeclareDefault, request)
        return response

    async def convert(
        self,
        member_id: str,
        market: AnyMarket,
        *,
        rcv_convention: str = "same_coupon",
        standard_tenors: Sequence[str] = (),
        group_by: str = "position",
        hedge: bool = False,
        position_ids: Sequence[str] = (),
        max_lot_dv01: str = "",
        settled_flows: str = "",
    ) -> pb.ConvertPositionsResponse:
        """Convert a defaulter's positions into lots (``group_by`` position|currency_index;
        ``max_lot_dv01`` splits by DV01; ``position_ids`` builds one lot by hand)."""
        request = pb.ConvertPositionsRequest(
            member_id=member_id,
            rcv_convention=_RCV[rcv_convention.lower()],
            standard_tenors=standard_tenors,
            group_by=pb.LotGrouping.Value(
                "LOT_GROUPING_UNSPECIFIED"
                if group_by == "dv01"
                else f"LOT_GROUPING_{group_by.upper()}"
            ),
            hedge=hedge,
            position_ids=position_ids,
            max_lot_dv01=max_lot_dv01,
            settled_flows=pb.SettledFlows.Value(
                f"SETTLED_FLOWS_{(settled_flows or 'unspecified').upper()}"
            ),
            **_market_fields(market),
        )
        response: pb.ConvertPositionsResponse = await self._call(
            self.stub.ConvertPositions, request
        )
        return response

    async def lots(self) -> list[pb.Lot]:
        """Every lot."""
        response: pb.ListLotsResponse = await self._call(self.stub.ListLots, pb.ListLotsRequest())
        return list(response.lots)

    async def create_auction(
        self,
        lot_id: str,
        *,
        auction_id: str = "",
        reserve: str | None = None,
        reserve_bp: str | None = None,
        grading_threshold: str = "",
        open_at: datetime | None = None,
        close_at: datetime | None = None,
        window_seconds: int = 0,
        lot_ids: Sequence[str] = (),
    ) -> pb.CreateDefaultAuctionResponse:
        """Create the auction of a lot (``lot_id``), or of several in one window (``lot_ids``,
        with ``lot_id`` empty)."""
        request = pb.CreateDefaultAuctionRequest(
            auction_id=auction_id,
            lot_id=lot_id,
            lot_ids=lot_ids,
            reserve=reserve or "",
            reserve_bp=reserve_bp or "",
            grading_threshold=grading_threshold,
            window_seconds=window_seconds,
        )
        if open_at is not None:
            request.open_at.CopyFrom(_stamp(open_at))
        if close_at is not None:
            request.close_at.CopyFrom(_stamp(close_at))
        response: pb.CreateDefaultAuctionResponse = await self._call(
            self.stub.CreateDefaultAuction, request
        )
        return response

    async def margin_run(self, run_id: str = "") -> pb.MarginRun:
        """A recorded margin run (the latest when ``run_id`` is empty)."""
        response: pb.GetMarginRunResponse = await self._call(
            self.stub.GetMarginRun, pb.GetMarginRunRequest(run_id=run_id)
        )
        return response.run

    async def withdraw_lot(self, lot_id: str, reason: str) -> pb.WithdrawLotResponse:
        """Withdraw a lot in no live auction."""
        response: pb.WithdrawLotResponse = await self._call(
            self.stub.WithdrawLot, pb.WithdrawLotRequest(lot_id=lot_id, reason=reason)
        )
        return response

    async def assign(self, auction_id: str, member_id: str, reason: str) -> pb.AssignLotResponse:
        """An operator's assignment of a closed or failed auction's lot at b*."""
        response: pb.AssignLotResponse = await self._call(
            self.stub.AssignLot,
            pb.AssignLotRequest(auction_id=auction_id, member_id=member_id, reason=reason),
        )
        return response

    async def allocate_losses(
        self, defaulter: str, *, ccp_tranche: str = "", assessment_multiple: str = ""
    ) -> pb.AllocateLossesResponse:
        """Net the default over its lots and run the loss waterfall."""
        response: pb.AllocateLossesResponse = await self._call(
            self.stub.AllocateLosses,
            pb.AllocateLossesRequest(
                defaulter=defaulter,
                config=pb.WaterfallConfig(
                    ccp_tranche=ccp_tranche, assessment_multiple=assessment_multiple
                ),
            ),
        )
        return response

    async def loss_allocation(self, defaulter: str) -> pb.LossAllocation:
        """A recorded loss allocation."""
        response: pb.GetLossAllocationResponse = await self._call(
            self.stub.GetLossAllocation, pb.GetLossAllocationRequest(defaulter=defaulter)
        )
        return response.allocation

    async def open_window(self, auction_id: str) -> pb.OpenBidWindowResponse:
        """Open the bid window."""
        response: pb.OpenBidWindowResponse = await self._call(
            self.stub.OpenBidWindow, pb.OpenBidWindowRequest(auction_id=auction_id)
        )
        return response

    async def close_window(self, auction_id: str) -> pb.CloseBidWindowResponse:
        """Close the bid window."""
        response: pb.CloseBidWindowResponse = await self._call(
            self.stub.CloseBidWindow, pb.CloseBidWindowRequest(auction_id=auction_id)
        )
        return response

    async def cancel(self, auction_id: str, reason: str) -> pb.CancelDefaultAuctionResponse:
        """Cancel the auction before its award."""
        response: pb.CancelDefaultAuctionResponse = await self._call(
            self.stub.CancelDefaultAuction,
            pb.CancelDefaultAuctionRequest(auction_id=auction_id, reason=reason),
        )
        return response

    async def disclose_bids(self, auction_id: str, reason: str) -> pb.DiscloseBidsResponse:
        """Read the sealed bids, on the record."""
        response: pb.DiscloseBidsResponse = await self._call(
            self.stub.DiscloseBids, pb.DiscloseBidsRequest(auction_id=auction_id, reason=reason)
        )
        return response

    async def award(self, auction_id: str) -> pb.AwardLotResponse:
        """Award (or assign) the lot; the server draws and journals the seed."""
        response: pb.AwardLotResponse = await self._call(
            self.stub.AwardLot, pb.AwardLotRequest(auction_id=auction_id)
        )
        return response

    async def settle(self, auction_id: str) -> pb.SettleLotResponse:
        """Settle the awarded lot."""
        response: pb.SettleLotResponse = await self._call(
            self.stub.SettleLot, pb.SettleLotRequest(auction_id=auction_id)
        )
        return response

    async def result(self, auction_id: str) -> pb.DefaultAuctionResult:
        """The auction's publication so far."""
        response: pb.GetAuctionResultResponse = await self._call(
            self.stub.GetAuctionResult, pb.GetAuctionResultRequest(auction_id=auction_id)
        )
        return response.result

    async def ledger(self) -> pb.GetLedgerResponse:
        """The positions ledger."""
        response: pb.GetLedgerResponse = await self._call(
            self.stub.GetLedger, pb.GetLedgerRequest()
        )
        return response

    async def instructions(self, lot_id: str = "") -> list[pb.SettlementInstruction]:
        """Settlement instructions (of one lot, or all)."""
        response: pb.GetSettlementInstructionsResponse = await self._call(
            self.stub.GetSettlementInstructions,
            pb.GetSettlementInstructionsRequest(lot_id=lot_id),
        )
        return list(response.instructions)

    async def grades(self, auction_id: str = "") -> list[pb.GradeRow]:
        """Grades of mandatory bidders (of one auction, or all)."""
        response: pb.GetGradesResponse = await self._call(
            self.stub.GetGrades, pb.GetGradesRequest(auction_id=auction_id)
        )
        return list(response.grades)

    async def overview(self) -> pb.GetDefaultOverviewResponse:
        """Latest margin run, defaults, and every auction with who bids (never the amount)."""
        response: pb.GetDefaultOverviewResponse = await self._call(
            self.stub.GetDefaultOverview, pb.GetDefaultOverviewRequest()
        )
        return response

    async def watch(
        self, auction_id: str, after_sequence: int = 0
    ) -> AsyncIterator[pb.WatchLotResponse]:
        """Public events of an auction, until it ends."""
        call = self.members.WatchLot(
            pb.WatchLotRequest(auction_id=auction_id, after_sequence=after_sequence),
            metadata=self.metadata,
        )
        async for event in call:
            yield event


class MemberClient(Session):
    """A clearing member's or market maker's calls: invitations, lots, bids, its events."""

    def __init__(self, target: str, token: str, **kwargs: Any) -> None:
        super().__init__(target, token, **kwargs)
        self.stub = clearing_pb2_grpc.DefaultAuctionServiceStub(self.channel)

    async def invitations(self) -> list[pb.Invitation]:
        """The auctions the caller is invited to."""
        response: pb.ListInvitationsResponse = await self._call(
            self.stub.ListInvitations, pb.ListInvitationsRequest()
        )
        return list(response.invitations)

    async def lot(self, auction_id: str) -> pb.GetLotResponse:
        """The lot, the caller's bid and, after the award, its grade."""
        response: pb.GetLotResponse = await self._call(
            self.stub.GetLot, pb.GetLotRequest(auction_id=auction_id)
        )
        return response

    async def submit_bid(
        self, auction_id: str, client_order_id: str, amount: str
    ) -> common_pb2.Ack:
        """Submit or replace the caller's bid; the ack once durable."""
        response: pb.SubmitBidResponse = await self._call(
            self.stub.SubmitBid,
            pb.SubmitBidRequest(
                auction_id=auction_id, client_order_id=client_order_id, amount=amount
            ),
        )
        return response.ack

    async def withdraw_bid(self, auction_id: str, client_order_id: str) -> common_pb2.Ack:
        """Withdraw the caller's bid."""
        response: pb.WithdrawBidResponse = await self._call(
            self.stub.WithdrawBid,
            pb.WithdrawBidRequest(auction_id=auction_id, client_order_id=client_order_id),
        )
        return response.ack

    async def my_bid(self, auction_id: str) -> pb.Bid | None:
        """The caller's live bid, or None."""
        response: pb.GetMyBidResponse = await self._call(
            self.stub.GetMyBid, pb.GetMyBidRequest(auction_id=auction_id)
        )
        return response.bid if response.HasField("bid") else None

    async def watch(
        self, auction_id: str, after_sequence: int = 0
    ) -> AsyncIterator[pb.WatchLotResponse]:
        """Public events and the caller's own, until the auction ends."""
        call = self.stub.WatchLot(
            pb.WatchLotRequest(auction_id=auction_id, after_sequence=after_sequence),
            metadata=self.metadata,
        )
        async for event in call:
            yield event


def member_to_proto(
    member_id: str, role: str, mandatory: bool, collateral: str, default_fund: str = ""
) -> pb.ClearingMember:
    """A member to load (``role`` CLEARING_MEMBER or MARKET_MAKER)."""
    return pb.ClearingMember(
        member_id=member_id,
        role=_ROLES[role.upper()],
        mandatory=mandatory,
        collateral=collateral,
        default_fund=default_fund if default_fund not in ("0", "") else "",
    )
