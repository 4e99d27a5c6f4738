"""Protobuf <-> default-management domain values: the only place that knows both shapes.

Inbound, wire values become the engines' arguments (decimal strings stay strings; the
engines validate them and name the field); unset enums are refused with the field's name.
Outbound, engine state, results and events become messages; a member's view of an event
carries only public facts and that member's own.

No clearing or auction rule here: this module converts, it never decides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from closeout.v1 import clearing_pb2 as pb
from closeout.v1 import pricing_pb2
from matching.clearing.model import Role, Side, SwapTerms
from matching.clearing.settlement import Instruction
from matching.clearing.state import (
    DefaultRecord,
    LotRecord,
    MarginRow,
    MemberSpec,
    contribution_cents,
)
from matching.default import events as aev
from matching.default.auction import BidView, DefaultAuction
from matching.default.cash import cents_text
from matching.default.lot import ConvertedPosition, Lot
from matching.default.phases import Phase
from matching.errors import FieldViolation, InvalidInput
from matching.eventsourcing import check_id
from server.pricing_service import market_in as pricing_market
from server.pricing_service import scenario_in as pricing_scenario
from server.sequences import AUCTION_NUMBERS, Numbering
from server.timestamps import timestamp_out

_ROLE_IN = {
    pb.MEMBER_ROLE_CLEARING_MEMBER: Role.CLEARING_MEMBER,
    pb.MEMBER_ROLE_MARKET_MAKER: Role.MARKET_MAKER,
}
_SIDE_IN = {pricing_pb2.SWAP_SIDE_PAYER: Side.PAYER, pricing_pb2.SWAP_SIDE_RECEIVER: Side.RECEIVER}
_SIDE_OUT = {v: k for k, v in _SIDE_IN.items()}
_RCV_IN = {
    pricing_pb2.RCV_CONVENTION_UNSPECIFIED: "same_coupon",
    pricing_pb2.RCV_CONVENTION_SAME_COUPON: "same_coupon",
    pricing_pb2.RCV_CONVENTION_AT_MARKET: "at_market",
    pricing_pb2.RCV_CONVENTION_ZERO_CASH: "zero_cash",
}
PHASE_OUT = {p: pb.DefaultAuctionPhase.Value(f"DEFAULT_AUCTION_PHASE_{p.value}") for p in Phase}
_PHASE_AFTER = {
    aev.AuctionCreated: Phase.CREATED,
    aev.WindowOpened: Phase.OPEN,
    aev.WindowClosed: Phase.CLOSED,
    aev.LotAwarded: Phase.AWARDED,
    aev.LotAssigned: Phase.ASSIGNED,
    aev.AuctionSettled: Phase.SETTLED,
    aev.AuctionCancelled: Phase.CANCELLED,
    aev.AuctionFailed: Phase.FAILED,
    aev.LotAssignedByOperator: Phase.ASSIGNED,
}
_GROUPING_IN = {
    pb.LOT_GROUPING_UNSPECIFIED: "position",
    pb.LOT_GROUPING_POSITION: "position",
    pb.LOT_GROUPING_CURRENCY_INDEX: "currency_index",
}
_FLOWS_IN = {
    pb.SETTLED_FLOWS_UNSPECIFIED: "",
    pb.SETTLED_FLOWS_EXCLUDE_SETTLED: "exclude_settled",
    pb.SETTLED_FLOWS_INCLUDE_SETTLED: "include_settled",
}


def _enum(kind: Any, prefix: str, name: str | None) -> Any:
    """The wire enum value ``prefix + name`` (0, unspecified, for None)."""
    return kind.Value(f"{prefix}{name}") if name else 0


# -- inbound --------------------------------------------------------------------------------


def market_in(msg: pricing_pb2.MarketDefinition) -> dict[str, Any]:
    """A market in the pricing request format (the PricingService's own conversion)."""
    return pricing_market(msg)


def scenarios_in(msgs: Sequence[pricing_pb2.CurveScenario]) -> list[dict[str, str]]:
    """Curve scenarios as plain data."""
    return [pricing_scenario(m) for m in msgs]


def markets_in(msg: pb.MarketSet) -> dict[str, Any]:
    """A MarketSet as plain data (``pricing.clearing.priced_markets``' format)."""
    return {
        "clearing_currency": msg.clearing_currency,
        "markets": [
            {
                "currency": m.currency,
                "index": m.index,
                "market": pricing_market(m.market),
                "fixings": [{"date": f.date, "rate": f.rate} for f in m.fixings],
            }
            for m in msg.markets
        ],
        "fx_rates": [{"currency": r.currency, "rate": r.rate} for r in msg.fx_rates],
    }


def grouping_in(value: int, max_lot_dv01: str) -> str:
    """position, currency_index, or dv01 (a split limit given)."""
    if max_lot_dv01:
        return "dv01"
    try:
        return _GROUPING_IN[value]  # type: ignore[index]
    except KeyError:
        raise InvalidInput("group_by", "unknown value") from None


def settled_flows_in(value: int) -> str:
    """A settled-flows convention name; unset is the default."""
    try:
        return _FLOWS_IN[value]  # type: ignore[index]
    except KeyError:
        raise InvalidInput("settled_flows", "unknown value") from None


def rcv_in(value: int) -> str:
    """An RCV convention name; unset is same coupon."""
    try:
        return _RCV_IN[value]  # type: ignore[index]
    except KeyError:
        raise InvalidInput("rcv_convention", "unknown value") from None


def member_in(msg: pb.ClearingMember, field: str) -> MemberSpec:
    """A member to admit. Every field the engine refuses whatever the house holds (the id,
    the role, the collateral and default-fund amounts) is checked, by the engine's own
    functions, and all bad ones are named at once."""
    found: list[FieldViolation] = []
    role = _ROLE_IN.get(msg.role)
    if role is None:
        found.append(
            FieldViolation(
                f"{field}.role", "must be MEMBER_ROLE_CLEARING_MEMBER or MEMBER_ROLE_MARKET_MAKER"
            )
        )
    checks: list[tuple[Any, ...]] = [(check_id, msg.member_id, f"{field}.member_id")]
    checks.append((contribution_cents, msg.collateral or "0", f"{field}.collateral"))
    if msg.default_fund:
        checks.append((contribution_cents, msg.default_fund, f"{field}.default_fund"))
    for check, value, where in checks:
        try:
            check(value, where)
        except InvalidInput as exc:
            found.extend(exc.violations)
    if found:
        raise _all_of(found)
    assert role is not None
    return MemberSpec(
        msg.member_id, role, msg.mandatory, msg.collateral or "0", msg.default_fund or "0"
    )


def swap_in(msg: pb.ClearedSwap, field: str) -> SwapTerms:
    """Booked swap terms, validated by the engine's value type (errors name ``field``)."""
    try:
        side = _SIDE_IN[msg.side]
    except KeyError:
        raise InvalidInput(
            f"{field}.side", "must be SWAP_SIDE_PAYER or SWAP_SIDE_RECEIVER"
        ) from None
    return SwapTerms.build(
        currency=msg.currency,
        index=msg.index,
        side=side,
        notional=msg.notional,
        fixed_rate=msg.fixed_rate,
        start=msg.start,
        maturity=msg.maturity,
        field=field,
    )


#: Valid swap terms, which one field of refused terms at a time is copied onto.
_VALID_TERMS = pb.ClearedSwap(
    currency="USD",
    index="USD-LIBOR-3M",
    side=pricing_pb2.SWAP_SIDE_PAYER,
    notional=1,
    fixed_rate="0.05",
    start="2020-01-02",
    maturity="2030-01-02",
)
#: A term -> the other terms its rule reads.
_TERMS_READ = {"maturity": ("start",)}


def terms_violations(msg: pb.ClearedSwap, field: str) -> list[FieldViolation]:
    """Every bad field of swap terms, each checked on its own by :func:`swap_in` (copied,
    with the fields its rule reads, onto valid terms); none if the terms are valid."""
    try:
        swap_in(msg, field)
        return []
    except InvalidInput as whole:
        first = list(whole.violations)
    found: list[FieldViolation] = []
    for name in ("currency", "index", "side", "notional", "fixed_rate", "start", "maturity"):
        probe = pb.ClearedSwap()
        probe.CopyFrom(_VALID_TERMS)
        for one in (name, *_TERMS_READ.get(name, ())):
            setattr(probe, one, getattr(msg, one))
        try:
            swap_in(probe, field)
        except InvalidInput as exc:
            found.extend(v for v in exc.violations if v.field == f"{field}.{name}")
    return found or first


def position_in(msg: pb.ClearedPosition, field: str) -> tuple[str, str, SwapTerms]:
    """A position to book (id, member, terms); every bad field of it named at once."""
    found: list[FieldViolation] = []
    try:
        check_id(msg.position_id, f"{field}.position_id")
    except InvalidInput as exc:
        found.extend(exc.violations)
    terms = None
    if not msg.HasField("terms"):
        found.append(FieldViolation(f"{field}.terms", "required"))
    else:
        try:
            terms = swap_in(msg.terms, f"{field}.terms")
        except InvalidInput:
            found.extend(terms_violations(msg.terms, f"{field}.terms"))
    if found:
        raise _all_of(found)
    assert terms is not None
    return msg.position_id, msg.member_id, terms


def _all_of(found: list[FieldViolation]) -> InvalidInput:
    from server.request_checks import InvalidRequest  # imports this module

    return InvalidRequest(found)


# -- outbound -------------------------------------------------------------------------------


def swap_out(terms: SwapTerms) -> pb.ClearedSwap:
    """Swap terms as sent."""
    return pb.ClearedSwap(
        currency=terms.currency,
        index=terms.index,
        side=_SIDE_OUT[terms.side],
        notional=terms.notional,
        fixed_rate=terms.fixed_rate,
        start=terms.start,
        maturity=terms.maturity,
    )


def margin_out(
    run_id: str,
    rows: Sequence[MarginRow],
    valuation_date: str,
    curve_id: str,
    worst: Mapping[str, str],
) -> pb.MarginRun:
    """A margin run."""
    return pb.MarginRun(
        run_id=run_id,
        valuation_date=valuation_date,
        curve_id=curve_id,
        rows=[
            pb.MarginRow(
                member_id=r.member,
                requirement=cents_text(r.requirement),
                collateral=cents_text(r.collateral),
                shortfall=cents_text(r.shortfall),
                worst_scenario=worst.get(r.member, ""),
            )
            for r in rows
        ],
    )


def default_out(record: DefaultRecord) -> pb.MemberDefault:
    """A member's default."""
    return pb.MemberDefault(
        member_id=record.member,
        basis=_enum(pb.DefaultBasis, "DEFAULT_BASIS_", record.basis),
        reason=record.reason,
        run_id=record.run_id or "",
        shortfall="" if record.shortfall is None else cents_text(record.shortfall),
        positions=[
            pb.DefaultedPosition(position_id=pid, npv="" if npv is None else cents_text(npv))
            for pid, npv in record.positions
        ],
        declared_at=timestamp_out(record.at),
    )


def converted_out(p: ConvertedPosition) -> pb.ConvertedPosition:
    """One converted position with its values."""
    d = p.to_dict()
    return pb.ConvertedPosition(
        position_id=p.position_id,
        defaulted=swap_out(p.defaulted),
        standard=swap_out(p.standard),
        standard_tenor=p.standard_tenor,
        defaulted_npv=d["defaulted_npv"],
        defaulted_par_rate=p.defaulted_par_rate,
        defaulted_svf=p.defaulted_svf,
        standard_npv=d["standard_npv"],
        standard_par_rate=p.standard_par_rate,
        standard_svf=p.standard_svf,
        standard_dv01=d["standard_dv01"],
        rcv=d["rcv"],
        implied_bid=d["implied_bid"],
        hedge_notional=p.hedge_notional,
        hedge_side=_SIDE_OUT[p.hedge_side] if p.hedge_side is not None else _enum(None, "", None),
    )


def lot_terms_out(lot: Lot) -> pb.LotTerms:
    """What an invited bidder sees of a lot."""
    return pb.LotTerms(
        lot_id=lot.lot_id,
        defaulter=lot.defaulter,
        currency=lot.currency,
        index=lot.index,
        positions=[converted_out(p) for p in lot.positions],
        curve_id=lot.curve_id,
        valuation_time=lot.valuation_time,
        rcv_convention=lot.rcv_convention,
        rcv=cents_text(lot.rcv),
        implied_bid=cents_text(lot.implied_bid),
        dv01=cents_text(lot.dv01),
        settled_flows=lot.settled_flows,
        fx_rate=lot.fx_rate,
        clearing_currency=lot.clearing_currency,
    )


def lot_out(
    record: LotRecord, status: str = "CONVERTED", auction_ids: Sequence[str] = ()
) -> pb.Lot:
    """A lot with its invitation (at conversion), status and settlement, for operators."""
    msg = pb.Lot(
        terms=lot_terms_out(record.lot),
        eligible=record.invitation.eligible,
        market_makers=record.invitation.market_makers,
        mandatory=record.invitation.mandatory,
        hedged=record.hedged,
        status=_enum(pb.LotStatus, "LOT_STATUS_", status),
        withdraw_reason=record.withdrawn or "",
        auction_ids=list(auction_ids),
    )
    plan = record.settlement
    if plan is not None:
        msg.settlement.CopyFrom(
            pb.LotSettlement(
                auction_id=record.auction_id or "",
                method=_enum(pb.AwardMethod, "AWARD_METHOD_", record.method),
                member_id=plan.member,
                amount=cents_text(plan.amount),
                implied_bid=cents_text(plan.implied_bid),
                shortfall=cents_text(plan.shortfall),
                collateral_charge=cents_text(plan.collateral_charge),
                uncovered=cents_text(plan.uncovered),
                reason=record.reason,
            )
        )
    return msg


def instruction_out(i: Instruction) -> pb.SettlementInstruction:
    """One settlement instruction."""
    return pb.SettlementInstruction(
        instruction_id=i.instruction_id,
        lot_id=i.lot_id,
        kind=_enum(pb.InstructionKind, "INSTRUCTION_KIND_", i.kind),
        from_account=i.from_account,
        to_account=i.to_account,
        currency=i.currency,
        amount="" if i.amount is None else cents_text(i.amount),
        position_id=i.position_id or "",
        description=i.description,
    )


def _ledger_position(p: Mapping[str, Any]) -> pb.LedgerPosition:
    return pb.LedgerPosition(
        position_id=p["position_id"],
        account=p["account"],
        terms=pb.ClearedSwap(
            currency=p["currency"],
            index=p["index"],
            side=_enum(pricing_pb2.SwapSide, "SWAP_SIDE_", p["side"]),
            notional=int(p["notional"]),
            fixed_rate=p["fixed_rate"],
            start=p["start"],
            maturity=p["maturity"],
        ),
        origin=p["origin"],
        open=p["status"] == "OPEN",
        closed_by=p["closed_by"] or "",
        external=p["external"],
    )


def ledger_out(ledger: Mapping[str, Any]) -> pb.GetLedgerResponse:
    """The positions ledger (``ClearingHouse.ledger()``)."""
    return pb.GetLedgerResponse(
        accounts=[
            pb.LedgerAccount(
                account=a["account"],
                status=_enum(pb.AccountStatus, "ACCOUNT_STATUS_", a["status"]),
                cash=a["cash"],
                collateral=a["collateral"] or "",
                positions=[_ledger_position(p) for p in a["positions"]],
                default_fund=a.get("default_fund") or "",
            )
            for a in ledger["accounts"]
        ],
        closed_positions=[_ledger_position(p) for p in ledger["closed_positions"]],
    )


def auction_out(auction: DefaultAuction) -> pb.DefaultAuction:
    """Public facts of an auction."""
    msg = pb.DefaultAuction(
        auction_id=auction.auction_id,
        lot_id=auction.lot.lot_id,
        phase=PHASE_OUT[auction.phase],
        reserve="" if auction.params.reserve is None else cents_text(auction.params.reserve),
        grading_threshold=cents_text(auction.params.grading_threshold),
        last_sequence=auction.last_seq,
    )
    if auction.schedule.open_at is not None:
        msg.open_at.CopyFrom(timestamp_out(auction.schedule.open_at))
    if auction.schedule.close_at is not None:
        msg.close_at.CopyFrom(timestamp_out(auction.schedule.close_at))
    return msg


def bid_out(bid: BidView | Mapping[str, Any], numbering: Numbering = AUCTION_NUMBERS) -> pb.Bid:
    """A bid (its sequence as ``numbering`` counts)."""
    d = bid.to_dict() if isinstance(bid, BidView) else bid
    return pb.Bid(
        member_id=d["member"],
        amount=d["amount"],
        client_order_id=d["client_order_id"],
        sequence=numbering.out(d["seq"]),
        accepted_at=timestamp_out(d["at"]),
    )


def grade_rows(result: Mapping[str, Any]) -> list[pb.GradeRow]:
    """The grades of an auction's result, with the reference (winning) amount."""
    award = result["award"]
    reference = award["amount"] if award else ""
    return [
        pb.GradeRow(
            auction_id=result["auction_id"],
            lot_id=result["lot_id"],
            member_id=g["member"],
            grade=_enum(pb.BidGrade, "BID_GRADE_", g["grade"]),
            bid=g["bid"] or "",
            reference=reference,
        )
        for g in result["grades"]
    ]


def result_out(result: Mapping[str, Any]) -> pb.DefaultAuctionResult:
    """An auction's publication (``DefaultAuction.result()``)."""
    msg = pb.DefaultAuctionResult(
        auction_id=result["auction_id"],
        lot_id=result["lot_id"],
        defaulter=result["defaulter"],
        currency=result["currency"],
        phase=_enum(pb.DefaultAuctionPhase, "DEFAULT_AUCTION_PHASE_", result["phase"]),
        rcv=result["rcv"],
        implied_bid=result["implied_bid"],
        reserve=result["reserve"] or "",
        grading_threshold=result["grading_threshold"],
        eligible=result["eligible"],
        market_makers=result["market_makers"],
        mandatory=result["mandatory"],
        bids_sealed=result["bids"] is None,
        bids=[bid_out(b) for b in result["bids"] or []],
        grades=grade_rows(result),
        settlement_id=result["settlement_id"] or "",
        cancel_reason=result["cancel_reason"] or "",
        excluded=result.get("excluded", []),
    )
    award = result["award"]
    if award is not None:
        msg.award.CopyFrom(
            pb.Award(
                method=_enum(pb.AwardMethod, "AWARD_METHOD_", award["method"]),
                member_id=award["member"],
                amount=award["amount"],
                shortfall_vs_implied=award["shortfall_vs_implied"],
                tie_break=_enum(pb.TieBreak, "TIE_BREAK_", award["tie_break"]),
                tied=award["tied"],
                pool=award["pool"],
                seed=award["seed"] or 0,
                pool_kind=award.get("pool_kind", ""),
                reason=award.get("reason", ""),
            )
        )
    return msg


def view_out(
    view: Mapping[str, Any], lot: Lot, numbering: Numbering = AUCTION_NUMBERS
) -> pb.GetLotResponse:
    """What an invited member sees (``DefaultAuction.view_of``), numbered as it counts."""
    msg = pb.GetLotResponse(
        lot=lot_terms_out(lot),
        phase=_enum(pb.DefaultAuctionPhase, "DEFAULT_AUCTION_PHASE_", view["phase"]),
        mandatory=view["mandatory"],
        my_grade=_enum(pb.BidGrade, "BID_GRADE_", view["grade"]),
        took_lot=bool(view["took_lot"]),
        amount=view["amount"] or "",
    )
    if view["close_at"]:
        msg.close_at.CopyFrom(timestamp_out(view["close_at"]))
    if view["bid"] is not None:
        msg.my_bid.CopyFrom(bid_out(view["bid"], numbering))
    return msg


def phase_after(event: aev.Event, phase: Phase) -> Phase:
    """The auction's phase once ``event`` is applied."""
    return _PHASE_AFTER.get(type(event), phase)


def watch_out(
    event: aev.Event, phase: Phase, viewer: str | None, sequence: int
) -> pb.WatchLotResponse | None:
    """The event as ``viewer`` may see it (None: operators' and observers' public view),
    numbered ``sequence`` (as the watcher counts); None when the viewer may not see it at all
    (another member's bid or withdrawal)."""
    msg = pb.WatchLotResponse(
        sequence=sequence, at=timestamp_out(event.at), phase=PHASE_OUT[phase], type=event.type
    )
    if isinstance(event, aev.BidSubmitted | aev.BidWithdrawn):
        if viewer is None or event.member != viewer:
            return None
        msg.client_order_id = event.client_order_id
        if isinstance(event, aev.BidSubmitted):
            msg.amount = event.amount
    elif isinstance(event, aev.AuctionCancelled | aev.BidsDisclosed):
        msg.reason = event.reason
    elif isinstance(event, aev.LotAssignedByOperator) and viewer is not None:
        msg.reason = event.reason
        msg.took_lot = event.assignee == viewer
        if event.assignee == viewer:
            msg.award_amount = event.amount
    elif isinstance(event, aev.LotAwarded | aev.LotAssigned) and viewer is not None:
        taker = event.winner if isinstance(event, aev.LotAwarded) else event.assignee
        grade = next((g["grade"] for g in event.grades if g["member"] == viewer), None)
        msg.my_grade = _enum(pb.BidGrade, "BID_GRADE_", grade)
        msg.took_lot = taker == viewer
        if taker == viewer:
            msg.award_amount = event.amount
    return msg


def keep_member(allocation: pb.LossAllocation, member: str) -> None:
    """Reduce an allocation to what ``member`` may see: the lots and totals, its own
    waterfall steps, report and instructions (the CCP's tranche and what stayed uncovered
    are the house's totals, shown to all)."""
    steps = [
        s
        for s in allocation.steps
        if s.member_id == member
        or s.layer in (pb.WATERFALL_LAYER_CCP_TRANCHE, pb.WATERFALL_LAYER_UNCOVERED)
    ]
    reports = [m for m in allocation.members if m.member_id == member]
    instructions = [i for i in allocation.instructions if member in (i.from_account, i.to_account)]
    del allocation.steps[:]
    allocation.steps.extend(steps)
    del allocation.members[:]
    allocation.members.extend(reports)
    del allocation.instructions[:]
    allocation.instructions.extend(instructions)


def allocation_out(event: Any) -> pb.LossAllocation:
    """A recorded loss allocation (``LossesAllocated``) on the wire."""
    a = event.allocation
    msg = pb.LossAllocation(
        defaulter=a["defaulter"],
        clearing_currency=a["clearing_currency"],
        lots=[pb.LotResult(**row) for row in a["lots"]],
        net_result=a["net_result"],
        loss=a["loss"],
        surplus=a["surplus"],
        uncovered=a["uncovered"],
        config=pb.WaterfallConfig(**a["config"]),
        steps=[
            pb.WaterfallStep(
                layer=_enum(pb.WaterfallLayer, "WATERFALL_LAYER_", s["layer"]),
                member_id=s["member"],
                tier=_enum(pb.LossTier, "LOSS_TIER_", s["tier"]),
                available=s["available"],
                used=s["used"],
            )
            for s in a["steps"]
        ],
        members=[
            pb.MemberLossReport(
                member_id=m["member"],
                tier=_enum(pb.LossTier, "LOSS_TIER_", m["tier"]),
                grades=m["grades"],
                default_fund_before=m["default_fund_before"],
                default_fund_used=m["default_fund_used"],
                collateral_used=m["collateral_used"],
                assessment=m["assessment"],
                surplus_received=m["surplus_received"],
                total=m["total"],
            )
            for m in a["members"]
        ],
        instructions=[
            pb.SettlementInstruction(
                instruction_id=i["instruction_id"],
                lot_id=i["lot_id"],
                kind=_enum(pb.InstructionKind, "INSTRUCTION_KIND_", i["kind"]),
                from_account=i["from_account"],
                to_account=i["to_account"],
                currency=i["currency"],
                amount=i["amount"] or "",
                position_id=i["position_id"] or "",
                description=i["description"],
            )
            for i in a["instructions"]
        ],
    )
    msg.allocated_at.CopyFrom(timestamp_out(event.at))
    return msg
