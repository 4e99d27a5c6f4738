"""Protobuf <-> CDS domain values: the only place that knows both shapes.

Inbound, wire values become the engine's arguments (decimal strings stay strings; the
engine validates them against the auction's grid and names the field). Outbound, engine
state and events become messages. Unset enum values are refused with the field's name.

No auction rule here: this module converts, it never decides.
"""

from __future__ import annotations

from closeout.v1 import auction_pb2 as pb
from closeout.v1 import operator_pb2
from matching.cds import events as ev
from matching.cds.auction import CdsAuction, DealerView, Schedule
from matching.cds.params import AuctionParams, MidpointRounding, OrderSide, Side
from matching.cds.phases import Phase
from matching.cds.publication import PublicResult
from matching.cds.result import AuctionResult
from matching.cds.settlement import SettlementStatement
from matching.errors import InvalidInput
from server.sequences import AUCTION_NUMBERS, Numbering
from server.timestamps import timestamp_in, timestamp_out

_SIDE_IN = {pb.SIDE_BUY: Side.BUY, pb.SIDE_SELL: Side.SELL}
_SIDE_OUT = {Side.BUY: pb.SIDE_BUY, Side.SELL: pb.SIDE_SELL}
_ORDER_SIDE_IN = {pb.ORDER_SIDE_BID: OrderSide.BID, pb.ORDER_SIDE_OFFER: OrderSide.OFFER}
_ORDER_SIDE_OUT = {v: k for k, v in _ORDER_SIDE_IN.items()}
_ROUNDING_IN = {
    pb.MIDPOINT_ROUNDING_UNSPECIFIED: MidpointRounding.HALF_UP,
    pb.MIDPOINT_ROUNDING_HALF_UP: MidpointRounding.HALF_UP,
    pb.MIDPOINT_ROUNDING_HALF_DOWN: MidpointRounding.HALF_DOWN,
}
_ROUNDING_OUT = {
    MidpointRounding.HALF_UP: pb.MIDPOINT_ROUNDING_HALF_UP,
    MidpointRounding.HALF_DOWN: pb.MIDPOINT_ROUNDING_HALF_DOWN,
}
PHASE_OUT = {p: pb.Phase.Value(f"PHASE_{p.value}") for p in Phase}
_FILL_STATUS = {
    "FILLED": operator_pb2.FILL_STATUS_FILLED,
    "PARTIAL": operator_pb2.FILL_STATUS_PARTIAL,
    "UNFILLED": operator_pb2.FILL_STATUS_UNFILLED,
}


def side_in(value: int, field: str) -> Side:
    """A wire Side as the engine's; unspecified is refused."""
    try:
        return _SIDE_IN[value]  # type: ignore[index]
    except KeyError:
        raise InvalidInput(field, "must be SIDE_BUY or SIDE_SELL") from None


def order_side_in(value: int, field: str = "side") -> OrderSide:
    """A wire OrderSide as the engine's; unspecified is refused."""
    try:
        return _ORDER_SIDE_IN[value]  # type: ignore[index]
    except KeyError:
        raise InvalidInput(field, "must be ORDER_SIDE_BID or ORDER_SIDE_OFFER") from None


def params_in(msg: pb.AuctionParameters, prefix: str = "parameters") -> AuctionParams:
    """Validated parameters from the wire (field names prefixed ``parameters.``)."""
    try:
        rounding = _ROUNDING_IN[msg.midpoint_rounding]
    except KeyError:
        raise InvalidInput(f"{prefix}.midpoint_rounding", "unknown value") from None
    try:
        return AuctionParams.build(
            auction_id=msg.auction_id,
            currency=msg.currency or "USD",
            quotation_amount=msg.quotation_amount,
            max_spread=msg.max_spread,
            price_increment=msg.price_increment or "0.125",
            cap_amount=msg.cap_amount or None,
            min_valid_submissions=msg.min_valid_submissions or 1,
            min_limit_order_size=msg.min_limit_order_size,
            max_orders_per_dealer=msg.max_orders_per_dealer,
            midpoint_rounding=rounding,
            rounding_amount=msg.rounding_amount or None,
            require_market_position=msg.require_market_position,
            calendar=msg.calendar or None,
            fallback_settlement_method=msg.fallback_settlement_method or None,
            max_initial_bidding_periods=msg.max_initial_bidding_periods or 3,
            auction_date=msg.auction_date or None,
        )
    except InvalidInput as exc:
        raise InvalidInput(
            exc.field.replace("auction.", f"{prefix}.", 1), exc.description
        ) from None


def params_out(params: AuctionParams) -> pb.AuctionParameters:
    """Parameters as sent back (defaults filled in)."""
    grid = params.grid
    return pb.AuctionParameters(
        auction_id=params.auction_id,
        currency=params.currency,
        quotation_amount=params.quotation_amount,
        max_spread=grid.format(params.max_spread_ticks),
        cap_amount=grid.format(params.cap_ticks),
        price_increment=params.to_dict()["price_increment"],
        min_valid_submissions=params.min_valid_submissions,
        min_limit_order_size=params.min_limit_order_size,
        max_orders_per_dealer=params.max_orders_per_dealer,
        midpoint_rounding=_ROUNDING_OUT[params.midpoint_rounding],
        rounding_amount=params.rounding_amount,
        require_market_position=params.require_market_position,
        calendar=params.calendar_name,
        fallback_settlement_method=params.fallback_settlement_method,
        max_initial_bidding_periods=params.max_initial_bidding_periods,
        auction_date="" if params.auction_date is None else params.auction_date.isoformat(),
    )


def schedule_in(msg: pb.WindowSchedule) -> Schedule:
    """A schedule from the wire; the engine checks the order of the times."""
    try:
        return Schedule(
            **{
                n: timestamp_in(msg, n, f"schedule.{n}")
                for n in ("stage1_open", "stage1_close", "stage2_open", "stage2_close")
            }
        )
    except InvalidInput as exc:
        raise InvalidInput(exc.field, exc.description) from None


def schedule_out(schedule: Schedule) -> pb.WindowSchedule:
    """A schedule as sent back."""
    msg = pb.WindowSchedule()
    for name, value in schedule.to_dict().items():
        if value is not None:
            getattr(msg, name).CopyFrom(timestamp_out(value))
    return msg


def auction_out(auction: CdsAuction, last_sequence: int | None = None) -> pb.Auction:
    """Public facts of an auction; ``last_sequence`` replaces the auction's last event number
    (for callers who may not count the sealed submissions of others)."""
    return pb.Auction(
        parameters=params_out(auction.params),
        panel=sorted(auction.panel),
        schedule=schedule_out(auction.schedule),
        phase=PHASE_OUT[auction.phase],
        last_sequence=auction.last_seq if last_sequence is None else last_sequence,
        dealer_names=auction.dealer_names,
        auction_set="" if auction.auction_set is None else str(auction.auction_set.get("id", "")),
    )


def view_out(
    auction: CdsAuction, view: DealerView, numbering: Numbering = AUCTION_NUMBERS
) -> pb.ListMySubmissionsResponse:
    """A dealer's own submissions (sequence numbers as ``numbering`` counts)."""
    grid = auction.params.grid
    msg = pb.ListMySubmissionsResponse()
    if view.market is not None:
        m = view.market.market
        msg.market.CopyFrom(
            pb.MyMarket(
                client_order_id=view.market.client_order_id,
                bid=grid.format(m.bid),
                offer=grid.format(m.offer),
                sequence=numbering.out(m.seq),
            )
        )
    for entry in view.requests:
        r = entry.request
        msg.settlement_requests.append(
            pb.MySettlementRequest(
                client_order_id=entry.client_order_id,
                customer=r.customer or "",
                side=_SIDE_OUT[r.side],
                size=r.size,
                sequence=numbering.out(r.seq),
            )
        )
    for o in view.orders:
        msg.limit_orders.append(
            pb.MyLimitOrder(
                order_id=o.order_id,
                price=grid.format(o.ticks),
                size=o.size,
                customer=o.customer or "",
                carried_over=o.carried,
                sequence=numbering.out(o.seq),
            )
        )
    return msg


def result_out(result: AuctionResult) -> operator_pb2.AuctionResult:
    """The publication as a message (sizes as int64)."""
    return operator_pb2.AuctionResult(
        auction_id=result.auction_id,
        currency=result.currency,
        status=PHASE_OUT[Phase(result.status)],
        reason=result.reason or "",
        initial_market_midpoint=result.initial_market_midpoint or "",
        open_interest_side=(
            _SIDE_OUT[Side(result.open_interest_side)]
            if result.open_interest_side != "NONE"
            else pb.SIDE_UNSPECIFIED
        ),
        open_interest_size=int(result.open_interest_size),
        adjustment_amounts=[
            pb.AdjustmentAmount(dealer=a.dealer, amount=a.amount) for a in result.adjustment_amounts
        ],
        matched_markets=[
            operator_pb2.MatchedMarket(
                bid_dealer=m.bid_dealer,
                bid=m.bid,
                offer_dealer=m.offer_dealer,
                offer=m.offer,
                tradeable=m.tradeable,
                in_best_half=m.in_best_half,
            )
            for m in result.matched_markets
        ],
        final_price=result.final_price or "",
        settlement_price=result.settlement_price or "",
        market_position_trades=[
            operator_pb2.MarketPositionTrade(
                dealer=t.dealer,
                customer=t.customer or "",
                side=_SIDE_OUT[Side(t.side)],
                price=t.price,
                size=int(t.size),
                filled=int(t.filled),
            )
            for t in result.market_position_trades
        ],
        limit_order_fills=[
            operator_pb2.LimitOrderFill(
                dealer=f.dealer,
                order_id=f.order_id,
                customer=f.customer or "",
                side=_ORDER_SIDE_OUT[OrderSide(f.side)],
                price=f.price,
                effective_price=f.effective_price,
                size=int(f.size),
                filled=int(f.filled),
                status=_FILL_STATUS[f.status],
                carried_over=f.carried_over,
            )
            for f in result.limit_order_fills
        ],
        rounding_amount=int(result.rounding_amount),
        limit_order_residue=int(result.limit_order_residue),
        request_residue=int(result.request_residue),
        invalid_settlement_requests=[
            operator_pb2.InvalidSettlementRequest(
                dealer=r.dealer,
                customer=r.customer or "",
                side=_SIDE_OUT[Side(r.side)],
                size=int(r.size),
                reason=r.reason,
            )
            for r in result.invalid_requests
        ],
        excluded_limit_orders=[
            operator_pb2.ExcludedLimitOrder(
                dealer=o.dealer,
                order_id=o.order_id,
                customer=o.customer or "",
                price=o.price,
                size=int(o.size),
                reason=o.reason,
            )
            for o in result.excluded_orders
        ],
        initial_bidding_periods=[
            operator_pb2.InitialBiddingPeriod(
                attempt=p.attempt, closed_at=p.closed_at, failure=p.failure or ""
            )
            for p in result.bidding_periods
        ],
        customer_declines=[
            operator_pb2.CustomerDecline(
                dealer=d.dealer,
                customer=d.customer,
                kind=d.kind,
                side=d.side,
                size=int(d.size),
                price=d.price or "",
                reason=d.reason,
                at=d.at,
            )
            for d in result.declines
        ],
    )


def public_out(result: PublicResult) -> operator_pb2.PublicResult:
    """The public results (creditfixings shape) as a message."""
    return operator_pb2.PublicResult(
        auction_id=result.auction_id,
        auction_set=result.auction_set or "",
        currency=result.currency,
        status=PHASE_OUT[Phase(result.status)],
        reason=result.reason or "",
        final_price_date=result.final_price_date or "",
        initial_market_midpoint=result.initial_market_midpoint or "",
        open_interest_side=(
            _SIDE_OUT[Side(result.open_interest_side)]
            if result.open_interest_side != "NONE"
            else pb.SIDE_UNSPECIFIED
        ),
        open_interest_size=int(result.open_interest_size),
        final_price=result.final_price or "",
        rounding_amount=int(result.rounding_amount),
        initial_markets=[
            operator_pb2.PublicMarket(dealer=m.dealer, bid=m.bid, offer=m.offer)
            for m in result.initial_markets
        ],
        matched_markets=[
            operator_pb2.PublicMatchedMarket(
                bid_dealer=m.bid_dealer,
                bid=m.bid,
                offer=m.offer,
                offer_dealer=m.offer_dealer,
                tradeable=m.tradeable,
            )
            for m in result.matched_markets
        ],
        adjustment_amounts=[
            operator_pb2.PublicAdjustment(
                dealer=a.dealer,
                amount=a.amount,
                currency=a.currency,
                payment_date=a.payment_date or "",
            )
            for a in result.adjustment_amounts
        ],
        physical_settlement_requests=[
            operator_pb2.PublicRequest(
                dealer=r.dealer, side=_SIDE_OUT[Side(r.side)], size=int(r.size)
            )
            for r in result.physical_settlement_requests
        ],
        limit_orders=[
            operator_pb2.PublicLimitOrder(
                dealer=o.dealer,
                side=_ORDER_SIDE_OUT[OrderSide(o.side)],
                price=o.price,
                size=int(o.size),
                filled=int(o.filled),
                status=_FILL_STATUS[o.status],
                from_initial_market=o.from_initial_market,
            )
            for o in result.limit_orders
        ],
    )


def statement_out(statement: SettlementStatement) -> operator_pb2.SettlementStatement:
    """A dealer's settlement statement as a message."""
    return operator_pb2.SettlementStatement(
        auction_id=statement.auction_id,
        dealer=statement.dealer,
        currency=statement.currency,
        final_price=statement.final_price,
        lines=[
            operator_pb2.StatementLine(
                kind=line.kind,
                reference=line.reference,
                customer=line.customer or "",
                direction=line.direction,
                size=int(line.size),
                price=line.price,
                cash=line.cash,
            )
            for line in statement.lines
        ],
        bonds_bought=int(statement.bonds_bought),
        bonds_sold=int(statement.bonds_sold),
        cash_paid=statement.cash_paid,
        cash_received=statement.cash_received,
        net_cash=statement.net_cash,
        adjustment_amount=statement.adjustment_amount,
        adjustment_payment_date=statement.adjustment_payment_date or "",
    )


PUBLIC_EVENTS = (
    ev.AuctionCreated,
    ev.Stage1Opened,
    ev.Stage1Closed,
    ev.Stage2Opened,
    ev.Stage2Closed,
    ev.AuctionCancelled,
    ev.BookDisclosed,
)


def phase_after(event: ev.Event, current: Phase) -> Phase:
    """The phase an event leaves its auction in (submissions leave it unchanged)."""
    match event:
        case ev.AuctionCreated():
            return Phase.SCHEDULED
        case ev.Stage1Opened():
            return Phase.STAGE1_OPEN
        case ev.Stage1Closed(next_phase=str() as after):
            return Phase(after)
        case ev.Stage1Closed(failure=failure, open_interest_side=side):
            if failure:
                return Phase.FAILED
            return Phase.FINAL if side == "NONE" else Phase.STAGE1_CLOSED
        case ev.Stage2Opened():
            return Phase.STAGE2_OPEN
        case ev.Stage2Closed():
            return Phase.FINAL
        case ev.AuctionCancelled():
            return Phase.CANCELLED
    return current


def watch_out(
    event: ev.Event, phase: Phase, viewer: str | None, auction: CdsAuction, sequence: int
) -> pb.WatchAuctionResponse | None:
    """The event as ``viewer`` may see it, or None if it is someone else's private event.

    ``viewer`` is the dealer watching (None for operators and observers, who see only public
    events); ``sequence`` is the event's number as the watcher counts. A dealer's own
    submissions come through with their client order id; its adjustment amount and fills
    ride on the public events that fixed them.
    """
    dealer = getattr(event, "dealer", None)
    if not isinstance(event, PUBLIC_EVENTS) and (viewer is None or dealer != viewer):
        return None
    msg = pb.WatchAuctionResponse(
        sequence=sequence,
        at=timestamp_out(event.at),
        phase=PHASE_OUT[phase],
        type=event.type,
        client_order_id=getattr(event, "client_order_id", ""),
        reason=getattr(event, "reason", ""),
    )
    if isinstance(event, ev.Stage1Closed):
        msg.stage1.CopyFrom(
            pb.Stage1Publication(
                initial_market_midpoint=event.initial_market_midpoint or "",
                open_interest_side=(
                    _SIDE_OUT[Side(event.open_interest_side)]
                    if event.open_interest_side != "NONE"
                    else pb.SIDE_UNSPECIFIED
                ),
                open_interest_size=int(event.open_interest),
                adjustment_amounts=[
                    pb.AdjustmentAmount(dealer=auction.name_of(a["dealer"]), amount=a["amount"])
                    for a in event.adjustments
                ],
                failure=event.failure or "",
            )
        )
        mine = [a["amount"] for a in event.adjustments if a["dealer"] == viewer]
        msg.my_adjustment_amount = mine[0] if mine else ""
        if phase is Phase.FINAL and event.initial_market_midpoint:
            msg.final_price = event.initial_market_midpoint
            msg.my_fills.extend(_my_fills(auction, viewer))
    elif isinstance(event, ev.Stage2Closed):
        msg.final_price = event.final_price
        msg.my_fills.extend(_my_fills(auction, viewer))
    return msg


def _my_fills(auction: CdsAuction, viewer: str | None) -> list[pb.Fill]:
    if viewer is None:
        return []
    result = auction.result(customers_of=viewer)
    name = auction.name_of(viewer)
    fills = [
        pb.Fill(
            order_id=f.order_id,
            size=int(f.filled),
            order_size=int(f.size),
            price=result.final_price or "",
        )
        for f in result.limit_order_fills
        if f.dealer == name and f.filled != "0"
    ]
    fills.extend(
        pb.Fill(
            order_id="psr" + (f"/{t.customer}" if t.customer else ""),
            size=int(t.filled),
            order_size=int(t.size),
            price=t.price,
        )
        for t in result.market_position_trades
        if t.dealer == name
    )
    return fills
