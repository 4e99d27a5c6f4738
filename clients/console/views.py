"""What the console's pages show, as plain dicts and lists built from wire messages.

Templates only lay these out; every decision about what a page may show is made here:
the public results (:func:`public_results`) are the server's public shape (GetPublicResults:
dealers by published name, never a customer or an order id); the sealed-window tables name
who has submitted or bid and never a price, size or amount (the server's ListSubmitters and
GetDefaultOverview carry nothing more).

This module speaks only the wire API (``closeout.v1``); it never imports ``server``, does
no I/O and formats no money other than by grouping digits of the server's decimal strings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from clients.default_sdk import name_of
from clients.render import public_csv as render_public_csv
from clients.results import phase_name, public_result_to_dict, result_to_dict
from closeout.v1 import auction_pb2 as apb
from closeout.v1 import clearing_pb2 as cpb
from closeout.v1 import operator_pb2 as opb
from closeout.v1 import pricing_pb2 as ppb

__all__ = [
    "auction_row",
    "cds_page",
    "default_auction_page",
    "default_overview",
    "grouped",
    "public_csv",
    "public_json",
    "public_results",
]

#: Phases with a sealed window open.
SEALED = {"STAGE1_OPEN", "STAGE2_OPEN"}
TERMINAL = {"FINAL", "CANCELLED", "FAILED"}


def grouped(value: str | int | None) -> str:
    """``"111525000"`` -> ``"111,525,000"``; decimals kept exactly (``"-12337.67"``)."""
    if value is None or value == "":
        return ""
    number = Decimal(str(value))
    return f"{number:,}"


def _when(stamp: Timestamp, present: bool) -> str | None:
    if not present:
        return None
    moment: datetime = stamp.ToDatetime().replace(tzinfo=None)
    return moment.isoformat(timespec="seconds") + "Z"


def _schedule(auction: apb.Auction) -> dict[str, str | None]:
    s = auction.schedule
    return {
        name: _when(getattr(s, name), s.HasField(name))
        for name in ("stage1_open", "stage1_close", "stage2_open", "stage2_close")
    }


def _window_close(phase: str, schedule: Mapping[str, str | None]) -> str | None:
    """When the open (or next) window closes on the server's clock, if scheduled."""
    if phase in ("SCHEDULED", "STAGE1_OPEN"):
        return schedule["stage1_close"]
    if phase in ("STAGE1_CLOSED", "STAGE2_OPEN"):
        return schedule["stage2_close"]
    return None


def auction_row(auction: apb.Auction) -> dict[str, Any]:
    """One line of the auction list."""
    phase = phase_name(auction.phase)
    schedule = _schedule(auction)
    return {
        "id": auction.parameters.auction_id,
        "phase": phase,
        "currency": auction.parameters.currency,
        "panel": list(auction.panel),
        "sealed": phase in SEALED,
        "final": phase == "FINAL",
        "closes_at": _window_close(phase, schedule) if phase in SEALED else None,
    }


def cds_page(
    auction: apb.Auction,
    result: opb.AuctionResult | None,
    submitters: opb.ListSubmittersResponse | None,
) -> dict[str, Any]:
    """Everything the operator's page of one CDS auction shows."""
    phase = phase_name(auction.phase)
    schedule = _schedule(auction)
    p = auction.parameters
    page: dict[str, Any] = {
        **auction_row(auction),
        "schedule": schedule,
        "closes_at": _window_close(phase, schedule),
        "quotation_amount": grouped(p.quotation_amount),
        "max_spread": p.max_spread,
        "cap_amount": p.cap_amount or "half the spread",
        "price_increment": p.price_increment or "0.125",
        "can_open": phase in ("SCHEDULED", "STAGE1_CLOSED"),
        "can_close": phase in SEALED,
        "can_cancel": phase not in TERMINAL,
        "stage": 2 if phase in ("STAGE1_CLOSED", "STAGE2_OPEN", "STAGE2_CLOSED") else 1,
        "submitters": [
            {
                "dealer": s.dealer,
                "market": s.market,
                "settlement_requests": s.settlement_requests,
                "limit_orders": s.limit_orders,
                "active": s.market or s.settlement_requests > 0 or s.limit_orders > 0,
            }
            for s in (submitters.submitters if submitters is not None else ())
        ],
        "result": None,
    }
    if result is not None and (result.initial_market_midpoint or result.reason):
        page["result"] = _result_tables(result_to_dict(result))
    return page


def _result_tables(data: Mapping[str, Any]) -> dict[str, Any]:
    """The operator's tables of a result dict (``clients.results`` shape): customers and
    order ids included, since operators see the whole publication."""
    oi = data["open_interest"]
    psrs = [dict(t) for t in data["market_position_trades"]]
    orders = [
        {
            "dealer": f["dealer"],
            "side": f["side"],
            "price": f["price"],
            "effective_price": f["effective_price"],
            "size": f["size"],
            "filled": f["filled"],
            "status": f["status"],
            "carried_over": f["carried_over"],
            "order_id": f["order_id"],
            "customer": f["customer"],
        }
        for f in data["limit_order_fills"]
    ]
    return {
        "auction_id": data["auction_id"],
        "currency": data["currency"],
        "status": data["status"],
        "reason": data["reason"],
        "initial_market_midpoint": data["initial_market_midpoint"],
        "open_interest_side": oi["side"],
        "open_interest_size": oi["size"],
        "adjustment_amounts": list(data["adjustment_amounts"]),
        "matched_markets": list(data["matched_markets"]),
        "physical_settlement_requests": psrs,
        "final_price": data["final_price"],
        "settlement_price": data["settlement_price"],
        "rounding_amount": data.get("rounding_amount"),
        "limit_orders": orders,
    }


def public_results(result: opb.PublicResult) -> dict[str, Any]:
    """The public results page of a FINAL auction (the server's public shape: dealers by
    published name, customers' requests netted into their dealer's, no order ids)."""
    data = public_result_to_dict(result)
    oi = data["open_interest"]
    return {
        "auction_id": data["auction_id"],
        "auction_set": data["auction_set"],
        "currency": data["currency"],
        "status": data["status"],
        "reason": data["reason"],
        "final_price_date": data["final_price_date"],
        "initial_market_midpoint": data["initial_market_midpoint"],
        "open_interest_side": oi["side"],
        "open_interest_size": oi["size"],
        "final_price": data["final_price"],
        "rounding_amount": data["rounding_amount"],
        "dealer_markets": data["initial_markets"],
        "matched_markets": data["matched_markets"],
        "adjustment_amounts": data["adjustment_amounts"],
        "physical_settlement_requests": data["physical_settlement_requests"],
        "limit_orders": [
            {**o, "carried_over": o["from_initial_market"]} for o in data["limit_orders"]
        ],
    }


def public_json(result: opb.PublicResult) -> dict[str, Any]:
    """The public results as JSON, exactly as ``closeout`` prints them."""
    return public_result_to_dict(result)


def public_csv(result: opb.PublicResult) -> str:
    """The public results as CSV, exactly as ``closeout`` prints them."""
    return render_public_csv([public_result_to_dict(result)])


# -- default management ----------------------------------------------------------------


def _phase(value: int) -> str:
    return name_of(cpb.DefaultAuctionPhase, value, "DEFAULT_AUCTION_PHASE_")


def _lot(lot: cpb.Lot) -> dict[str, Any]:
    t = lot.terms
    return {
        "lot_id": t.lot_id,
        "defaulter": t.defaulter,
        "currency": t.currency,
        "index": t.index,
        "rcv": t.rcv,
        "implied_bid": t.implied_bid,
        "dv01": t.dv01,
        "curve_id": t.curve_id,
        "valuation_time": t.valuation_time,
        "rcv_convention": t.rcv_convention,
        "eligible": list(lot.eligible),
        "market_makers": list(lot.market_makers),
        "mandatory": list(lot.mandatory),
        "hedged": lot.hedged,
        "positions": [
            {
                "position_id": p.position_id,
                "side": name_of(ppb.SwapSide, p.defaulted.side, "SWAP_SIDE_"),
                "notional": p.defaulted.notional,
                "fixed_rate": p.defaulted.fixed_rate,
                "maturity": p.defaulted.maturity,
                "standard_tenor": p.standard_tenor,
                "standard_fixed_rate": p.standard.fixed_rate,
                "defaulted_npv": p.defaulted_npv,
                "standard_npv": p.standard_npv,
                "standard_dv01": p.standard_dv01,
                "rcv": p.rcv,
                "implied_bid": p.implied_bid,
            }
            for p in t.positions
        ],
        "settlement": _settlement(lot.settlement) if lot.HasField("settlement") else None,
    }


def _settlement(s: cpb.LotSettlement) -> dict[str, Any]:
    return {
        "auction_id": s.auction_id,
        "method": name_of(cpb.AwardMethod, s.method, "AWARD_METHOD_"),
        "member": s.member_id,
        "amount": s.amount,
        "implied_bid": s.implied_bid,
        "shortfall": s.shortfall,
        "collateral_charge": s.collateral_charge,
        "uncovered": s.uncovered,
    }


def _default_auction(status: cpb.DefaultAuctionStatus) -> dict[str, Any]:
    a = status.auction
    phase = _phase(a.phase)
    return {
        "auction_id": a.auction_id,
        "lot_id": a.lot_id,
        "phase": phase,
        "sealed": phase in ("CREATED", "OPEN"),
        "open_at": _when(a.open_at, a.HasField("open_at")),
        "closes_at": _when(a.close_at, a.HasField("close_at")) if phase == "OPEN" else None,
        "reserve": a.reserve,
        "grading_threshold": a.grading_threshold,
        "bidders": list(status.bidders),
    }


def loss_waterfall(lots: Iterable[cpb.Lot]) -> list[dict[str, Any]]:
    """Per defaulter: what its lots cost beyond b*, what its collateral covered, and what is
    left for the clearing house's default resources (sums of the lots' settlements)."""
    out: dict[str, dict[str, Any]] = {}
    for lot in lots:
        row = out.setdefault(
            lot.terms.defaulter,
            {
                "member": lot.terms.defaulter,
                "lots": 0,
                "settled": 0,
                "shortfall": Decimal(0),
                "collateral_charge": Decimal(0),
                "uncovered": Decimal(0),
            },
        )
        row["lots"] += 1
        if lot.HasField("settlement"):
            s = lot.settlement
            row["settled"] += 1
            row["shortfall"] += Decimal(s.shortfall or "0")
            row["collateral_charge"] += Decimal(s.collateral_charge or "0")
            row["uncovered"] += Decimal(s.uncovered or "0")
    return [
        {
            **row,
            "shortfall": f"{row['shortfall']:.2f}",
            "collateral_charge": f"{row['collateral_charge']:.2f}",
            "uncovered": f"{row['uncovered']:.2f}",
        }
        for row in out.values()
    ]


def allocation(a: cpb.LossAllocation) -> dict[str, Any]:
    """A recorded loss allocation (the server's waterfall): layers used and member reports."""
    return {
        "defaulter": a.defaulter,
        "currency": a.clearing_currency,
        "net_result": a.net_result,
        "loss": a.loss,
        "surplus": a.surplus,
        "uncovered": a.uncovered,
        "lots": [
            {
                "lot_id": r.lot_id,
                "currency": r.currency,
                "amount": r.amount,
                "implied_bid": r.implied_bid,
                "result": r.result,
                "clearing_result": r.clearing_result,
            }
            for r in a.lots
        ],
        "steps": [
            {
                "layer": name_of(cpb.WaterfallLayer, s.layer, "WATERFALL_LAYER_")
                .replace("_", " ")
                .lower(),
                "member": s.member_id,
                "tier": "" if not s.tier else name_of(cpb.LossTier, s.tier, "LOSS_TIER_"),
                "available": s.available,
                "used": s.used,
            }
            for s in a.steps
        ],
        "members": [
            {
                "member": m.member_id,
                "tier": "" if not m.tier else name_of(cpb.LossTier, m.tier, "LOSS_TIER_"),
                "grades": ", ".join(m.grades),
                "default_fund_used": m.default_fund_used,
                "collateral_used": m.collateral_used,
                "assessment": m.assessment,
                "surplus_received": m.surplus_received,
                "total": m.total,
            }
            for m in a.members
        ],
    }


def default_overview(
    overview: cpb.GetDefaultOverviewResponse,
    lots: list[cpb.Lot],
    ledger: cpb.GetLedgerResponse | None,
    allocations: Iterable[cpb.LossAllocation] = (),
) -> dict[str, Any]:
    """The default-management page: margin run, defaulters, lots, auctions, waterfall."""
    run = overview.latest_margin_run if overview.HasField("latest_margin_run") else None
    collateral_left = {
        a.account: a.collateral for a in (ledger.accounts if ledger is not None else ())
    }
    waterfall = loss_waterfall(lots)
    for row in waterfall:
        row["collateral_left"] = collateral_left.get(row["member"], "")
    return {
        "house_id": overview.house_id,
        "margin_run": None
        if run is None
        else {
            "run_id": run.run_id,
            "rows": [
                {
                    "member": r.member_id,
                    "requirement": r.requirement,
                    "collateral": r.collateral,
                    "shortfall": r.shortfall,
                    "short": Decimal(r.shortfall or "0") > 0,
                }
                for r in run.rows
            ],
        },
        "defaults": [
            {
                "member": d.member_id,
                "basis": name_of(cpb.DefaultBasis, d.basis, "DEFAULT_BASIS_"),
                "reason": d.reason,
                "run_id": d.run_id,
                "shortfall": d.shortfall,
                "positions": len(d.positions),
                "declared_at": _when(d.declared_at, d.HasField("declared_at")),
            }
            for d in overview.defaults
        ],
        "lots": [_lot(lot) for lot in lots],
        "auctions": [_default_auction(a) for a in overview.auctions],
        "waterfall": waterfall,
        "allocations": [allocation(a) for a in allocations],
        "ledger": []
        if ledger is None
        else [
            {
                "account": a.account,
                "status": name_of(cpb.AccountStatus, a.status, "ACCOUNT_STATUS_"),
                "cash": a.cash,
                "collateral": a.collateral,
                "positions": len(a.positions),
            }
            for a in ledger.accounts
        ],
    }


def default_auction_page(
    status: cpb.DefaultAuctionStatus,
    result: cpb.DefaultAuctionResult,
    lot: cpb.Lot | None,
    instructions: list[cpb.SettlementInstruction],
) -> dict[str, Any]:
    """One default auction: the lot, the sealed window (who bid), award, grades, settlement."""
    page = _default_auction(status)
    phase = page["phase"]
    award = result.award if result.HasField("award") else None
    page.update(
        {
            "lot": _lot(lot) if lot is not None else None,
            "rcv": result.rcv,
            "implied_bid": result.implied_bid,
            "eligible": list(result.eligible),
            "market_makers": list(result.market_makers),
            "mandatory": list(result.mandatory),
            "bids_sealed": result.bids_sealed,
            "invitees": [
                {
                    "member": m,
                    "market_maker": m in result.market_makers,
                    "mandatory": m in result.mandatory,
                    "bid_in": m in status.bidders,
                    "amount": next((b.amount for b in result.bids if b.member_id == m), None),
                }
                for m in result.eligible
            ],
            "bids": [
                {"member": b.member_id, "amount": b.amount, "client_order_id": b.client_order_id}
                for b in result.bids
            ],
            "award": None
            if award is None
            else {
                "method": name_of(cpb.AwardMethod, award.method, "AWARD_METHOD_"),
                "member": award.member_id,
                "amount": award.amount,
                "shortfall_vs_implied": award.shortfall_vs_implied,
                "tie_break": name_of(cpb.TieBreak, award.tie_break, "TIE_BREAK_"),
                "pool": list(award.pool),
                "seed": str(award.seed),
            },
            "grades": [
                {
                    "member": g.member_id,
                    "grade": name_of(cpb.BidGrade, g.grade, "BID_GRADE_"),
                    "bid": g.bid,
                    "reference": g.reference,
                }
                for g in result.grades
            ],
            "cancel_reason": result.cancel_reason,
            "instructions": [
                {
                    "id": i.instruction_id,
                    "kind": name_of(cpb.InstructionKind, i.kind, "INSTRUCTION_KIND_"),
                    "from": i.from_account,
                    "to": i.to_account,
                    "currency": i.currency,
                    "amount": i.amount,
                    "position_id": i.position_id,
                    "description": i.description,
                }
                for i in instructions
            ],
            "can_open": phase == "CREATED",
            "can_close": phase == "OPEN",
            "can_award": phase == "CLOSED",
            "can_settle": phase in ("AWARDED", "ASSIGNED"),
            "can_cancel": phase in ("CREATED", "OPEN", "CLOSED"),
        }
    )
    return page
