"""Play a default scenario through a live server: the operator and every member with its own
token, so the server's pricing, authentication, eligibility and idempotency rules all apply.

The steps are the offline runner's (``clients/default_replay.py``), each one RPC: load the
clearing state, run the margin call, declare the default(s), convert into lots (with the
hedge), then the scenario's process (by default one window over every lot): per window,
create and open one auction per lot, submit the bids in file order as their members, close,
cancel or award (the server draws the seed), an operator's assignment of a failed auction,
settle; withdrawals, late admissions and defaults, further conversions; finally the loss
allocation of every default that is fully settled. The result comes back over the wire in
the offline runner's dict shape, so the two compare field by field (given the same seeds
and, for bid times, a server clock paced like the scenario's: see ``pace``).

A tokens file (TOML) gives the operator's token and each member's (the participant id of a
member is its member id)::

    operator = "demo-operator-token"
    [members]
    "Bank-A" = "demo-bank-a-token"

A refusal is reported as a ScenarioError naming the scenario entry, with the status code and
the server's message (``bids[1] (Bank-C): PERMISSION_DENIED: 'Bank-C' is not eligible...``).
It speaks only the wire API and must never import ``server`` or decide a rule itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any, TypeVar

import grpc
import grpc.aio
from google.protobuf.timestamp_pb2 import Timestamp

from clients.default_scenario import MARGIN_RUN, Action, Scenario, window_opens
from clients.default_sdk import (
    DEFAULT_LOAD_CHUNK,
    AnyMarket,
    ClearingClient,
    MarketFormatError,
    MemberClient,
    cleared_swap,
    market_to_proto,
    markets_to_proto,
    member_to_proto,
    name_of,
    scenario_to_proto,
)
from clients.errors import field_violations
from clients.online import read_tokens
from clients.scenario import ScenarioError
from clients.sdk import Unreachable
from closeout.v1 import clearing_pb2 as pb
from closeout.v1 import pricing_pb2 as ppb

__all__ = [
    "MARGIN_RUN",
    "MemberTokens",
    "Pace",
    "load_state",
    "load_tokens",
    "result_dict",
    "run_default_online",
]


#: Called with a bid's offset in seconds from the window's opening (and with the window's
#: length before the close): a test server's fake clock can be moved there.
Pace = Callable[[int], Awaitable[None]]

_T = TypeVar("_T")


@dataclass(frozen=True)
class MemberTokens:
    """The operator's token and each member's."""

    operator_token: str
    members: dict[str, str]

    def token(self, member: str, where: str) -> str:
        """A member's token; ScenarioError naming ``where`` if it has none."""
        try:
            return self.members[member]
        except KeyError:
            raise ScenarioError(where, f"no token for member {member!r}") from None


def load_tokens(path: Path) -> MemberTokens:
    """Read a default tokens file (``[members]``: member id to bearer token)."""
    operator, members = read_tokens(path, "members")
    if not all(isinstance(v, str) for v in members.values()):
        raise ScenarioError(f"{path}: members", "must map member ids to bearer tokens")
    return MemberTokens(operator, dict(members))


async def _step(where: str, call: Callable[[], Awaitable[_T]]) -> _T:
    try:
        return await call()
    except Unreachable:
        raise  # not the scenario's fault: the caller says which server and why
    except grpc.aio.AioRpcError as exc:
        violations = "; ".join(f"{v.field}: {v.description}" for v in field_violations(exc))
        raise ScenarioError(where, f"{exc.code().name}: {violations or exc.details()}") from None


def _iso(stamp: Timestamp) -> str:
    return stamp.ToDatetime(tzinfo=UTC).isoformat()


def _swap_dict(s: pb.ClearedSwap) -> dict[str, Any]:
    return {
        "currency": s.currency,
        "index": s.index,
        "side": name_of(ppb.SwapSide, s.side, "SWAP_SIDE_"),
        "notional": str(s.notional),
        "fixed_rate": s.fixed_rate,
        "start": s.start,
        "maturity": s.maturity,
    }


def lot_dict(lot: pb.Lot) -> dict[str, Any]:
    """A lot as the offline result lists it."""
    t = lot.terms
    return {
        "lot_id": t.lot_id,
        "defaulter": t.defaulter,
        "currency": t.currency,
        "index": t.index,
        "positions": [
            {
                "position_id": p.position_id,
                "defaulted": _swap_dict(p.defaulted),
                "standard": _swap_dict(p.standard),
                "standard_tenor": p.standard_tenor,
                "defaulted_npv": p.defaulted_npv,
                "defaulted_par_rate": p.defaulted_par_rate,
                "defaulted_svf": p.defaulted_svf,
                "standard_npv": p.standard_npv,
                "standard_par_rate": p.standard_par_rate,
                "standard_svf": p.standard_svf,
                "standard_dv01": p.standard_dv01,
                "rcv": p.rcv,
                "implied_bid": p.implied_bid,
                "hedge_notional": str(p.hedge_notional),
                "hedge_side": name_of(ppb.SwapSide, p.hedge_side, "SWAP_SIDE_")
                if p.hedge_side
                else None,
            }
            for p in t.positions
        ],
        "curve_id": t.curve_id,
        "valuation_time": t.valuation_time,
        "rcv_convention": t.rcv_convention,
        "settled_flows": t.settled_flows,
        "fx_rate": t.fx_rate,
        "clearing_currency": t.clearing_currency,
        "rcv": t.rcv,
        "implied_bid": t.implied_bid,
        "dv01": t.dv01,
        "eligible": list(lot.eligible),
        "market_makers": list(lot.market_makers),
        "mandatory": list(lot.mandatory),
        "hedged": lot.hedged,
        "status": name_of(pb.LotStatus, lot.status, "LOT_STATUS_"),
        "withdraw_reason": lot.withdraw_reason or None,
        "auction_ids": list(lot.auction_ids),
    }


def _bid_dict(b: pb.Bid) -> dict[str, Any]:
    return {
        "member": b.member_id,
        "amount": b.amount,
        "client_order_id": b.client_order_id,
        "seq": b.sequence,
        "at": _iso(b.accepted_at),
    }


def auction_dict(r: pb.DefaultAuctionResult) -> dict[str, Any]:
    """An auction's publication as ``DefaultAuction.result()`` gives it."""
    award = None
    if r.HasField("award"):
        a = r.award
        award = {
            "method": name_of(pb.AwardMethod, a.method, "AWARD_METHOD_"),
            "member": a.member_id,
            "amount": a.amount,
            "shortfall_vs_implied": a.shortfall_vs_implied,
            "tie_break": name_of(pb.TieBreak, a.tie_break, "TIE_BREAK_"),
            "tied": list(a.tied),
            "pool": list(a.pool),
            "seed": a.seed,
            "pool_kind": a.pool_kind,
            "reason": a.reason,
        }
    return {
        "auction_id": r.auction_id,
        "lot_id": r.lot_id,
        "defaulter": r.defaulter,
        "currency": r.currency,
        "phase": name_of(pb.DefaultAuctionPhase, r.phase, "DEFAULT_AUCTION_PHASE_"),
        "rcv": r.rcv,
        "implied_bid": r.implied_bid,
        "reserve": r.reserve or None,
        "grading_threshold": r.grading_threshold,
        "eligible": list(r.eligible),
        "market_makers": list(r.market_makers),
        "mandatory": list(r.mandatory),
        "bids": None if r.bids_sealed else [_bid_dict(b) for b in r.bids],
        "award": award,
        "grades": [
            {
                "member": g.member_id,
                "grade": name_of(pb.BidGrade, g.grade, "BID_GRADE_"),
                "bid": g.bid or None,
            }
            for g in r.grades
        ],
        "settlement_id": r.settlement_id or None,
        "cancel_reason": r.cancel_reason or None,
        "excluded": list(r.excluded),
    }


def _position_dict(p: pb.LedgerPosition) -> dict[str, Any]:
    return {
        "position_id": p.position_id,
        "account": p.account,
        **_swap_dict(p.terms),
        "origin": p.origin,
        "status": "OPEN" if p.open else "CLOSED",
        "closed_by": p.closed_by or None,
        "external": p.external,
    }


def ledger_dict(ledger: pb.GetLedgerResponse) -> dict[str, Any]:
    """The positions ledger as ``ClearingHouse.ledger()`` gives it."""
    return {
        "accounts": [
            {
                "account": a.account,
                "status": name_of(pb.AccountStatus, a.status, "ACCOUNT_STATUS_"),
                "cash": a.cash,
                "collateral": a.collateral or None,
                "default_fund": a.default_fund or None,
                "positions": [_position_dict(p) for p in a.positions],
            }
            for a in ledger.accounts
        ],
        "closed_positions": [_position_dict(p) for p in ledger.closed_positions],
    }


def instruction_dict(i: pb.SettlementInstruction) -> dict[str, Any]:
    """A settlement instruction as the offline result lists it."""
    return {
        "instruction_id": i.instruction_id,
        "lot_id": i.lot_id,
        "kind": name_of(pb.InstructionKind, i.kind, "INSTRUCTION_KIND_"),
        "from_account": i.from_account,
        "to_account": i.to_account,
        "currency": i.currency,
        "amount": i.amount or None,
        "position_id": i.position_id or None,
        "description": i.description,
    }


def _default_dict(d: pb.MemberDefault) -> dict[str, Any]:
    return {
        "member": d.member_id,
        "basis": name_of(pb.DefaultBasis, d.basis, "DEFAULT_BASIS_"),
        "reason": d.reason,
        "shortfall": d.shortfall or None,
        "positions": [{"position_id": p.position_id, "npv": p.npv or None} for p in d.positions],
    }


def _settlement_dict(lot: pb.Lot) -> dict[str, Any]:
    s = lot.settlement
    return {
        "lot_id": lot.terms.lot_id,
        "method": name_of(pb.AwardMethod, s.method, "AWARD_METHOD_"),
        "member": s.member_id,
        "amount": s.amount,
        "implied_bid": s.implied_bid,
        "shortfall": s.shortfall,
        "collateral_charge": s.collateral_charge,
        "uncovered": s.uncovered,
        "reason": s.reason,
    }


def allocation_dict(a: pb.LossAllocation) -> dict[str, Any]:
    """A loss allocation as the clearing journal records it."""
    return {
        "defaulter": a.defaulter,
        "clearing_currency": a.clearing_currency,
        "lots": [
            {
                "lot_id": r.lot_id,
                "currency": r.currency,
                "amount": r.amount,
                "implied_bid": r.implied_bid,
                "result": r.result,
                "fx_rate": r.fx_rate,
                "clearing_result": r.clearing_result,
            }
            for r in a.lots
        ],
        "net_result": a.net_result,
        "loss": a.loss,
        "surplus": a.surplus,
        "uncovered": a.uncovered,
        "config": {
            "ccp_tranche": a.config.ccp_tranche,
            "assessment_multiple": a.config.assessment_multiple,
        },
        "steps": [
            {
                "layer": name_of(pb.WaterfallLayer, st.layer, "WATERFALL_LAYER_"),
                "member": st.member_id,
                "tier": name_of(pb.LossTier, st.tier, "LOSS_TIER_") if st.tier else None,
                "available": st.available,
                "used": st.used,
            }
            for st in a.steps
        ],
        "members": [
            {
                "member": m.member_id,
                "tier": name_of(pb.LossTier, m.tier, "LOSS_TIER_") if m.tier else None,
                "grades": list(m.grades),
                "default_fund_before": m.default_fund_before,
                "default_fund_used": m.default_fund_used,
                "collateral_used": m.collateral_used,
                "assessment": m.assessment,
                "surplus_received": m.surplus_received,
                "total": m.total,
            }
            for m in a.members
        ],
        "instructions": [instruction_dict(i) for i in a.instructions],
    }


async def result_dict(
    ops: ClearingClient,
    *,
    house: str,
    run: pb.MarginRun,
    defaults: list[pb.MemberDefault],
    auction_ids: list[str],
    allocated: Sequence[str] = (),
) -> dict[str, Any]:
    """The whole outcome in the offline runner's shape, read back from the server."""
    lots = await ops.lots()
    results = [await ops.result(a) for a in auction_ids]
    allocations = [allocation_dict(await ops.loss_allocation(d)) for d in allocated]
    return {
        "house": house,
        "valuation_date": run.valuation_date,
        "curve_id": run.curve_id,
        "margin_run": {
            "run_id": run.run_id,
            "rows": [
                {
                    "member": r.member_id,
                    "requirement": r.requirement,
                    "collateral": r.collateral,
                    "shortfall": r.shortfall,
                    "worst_scenario": r.worst_scenario,
                }
                for r in run.rows
            ],
        },
        "defaults": [_default_dict(d) for d in defaults],
        "lots": [lot_dict(lot) for lot in lots],
        "auctions": [auction_dict(r) for r in results],
        "settlements": [_settlement_dict(lot) for lot in lots if lot.HasField("settlement")],
        "instructions": [instruction_dict(i) for i in await ops.instructions()],
        "ledger": ledger_dict(await ops.ledger()),
        "allocations": allocations,
    }


def _members_out(scenario: Scenario) -> Iterator[pb.ClearingMember]:
    for m in scenario.members:
        yield member_to_proto(m.member, m.role.value, m.mandatory, m.collateral, m.default_fund)


def _positions_out(scenario: Scenario) -> Iterator[pb.ClearedPosition]:
    for p in scenario.positions:
        yield pb.ClearedPosition(
            position_id=p.position_id,
            member_id=p.member,
            terms=cleared_swap(
                currency=p.terms.currency,
                index=p.terms.index,
                side=p.terms.side.value,
                notional=p.terms.notional,
                fixed_rate=p.terms.fixed_rate,
                start=p.terms.start,
                maturity=p.terms.maturity,
            ),
        )


async def load_state(
    ops: ClearingClient, scenario: Scenario, chunk_size: int = DEFAULT_LOAD_CHUNK
) -> pb.LoadClearingStateChunksResponse:
    """Load a scenario's members, collateral and positions into the server's clearing house,
    streamed in chunks of ``chunk_size`` (one all-or-nothing load, whatever its size)."""
    return await ops.load_chunks(
        _members_out(scenario), _positions_out(scenario), scenario.house, chunk_size
    )


async def run_default_online(
    scenario: Scenario,
    target: str,
    tokens: MemberTokens,
    *,
    pace: Pace | None = None,
    root_certificates: bytes | None = None,
    **connection: Any,
) -> tuple[dict[str, Any], list[str]]:
    """Play ``scenario`` at ``target``; the result dict (offline shape) and notes.

    Without ``pace``, bids go in at once, in file order; a bid stamped at or after the
    window's length is sent after the windows were closed (so it is refused as late).
    """
    try:
        market: AnyMarket = (
            markets_to_proto(scenario.markets)
            if scenario.markets is not None
            else market_to_proto(scenario.market or {})
        )
    except MarketFormatError as exc:
        raise ScenarioError(exc.field, exc.message) from None
    tls: dict[str, Any] = {"root_certificates": root_certificates, **connection}
    members: dict[str, MemberClient] = {}
    ops = ClearingClient(target, tokens.operator_token, **tls)

    def member(name: str, where: str) -> MemberClient:
        if name not in members:
            members[name] = MemberClient(target, tokens.token(name, where), **tls)
        return members[name]

    try:
        return await _play(scenario, market, ops, member, pace)
    finally:
        await ops.close()
        for client in members.values():
            await client.close()


async def _play(
    scenario: Scenario,
    market: AnyMarket,
    ops: ClearingClient,
    member: Callable[[str, str], MemberClient],
    pace: Pace | None,
) -> tuple[dict[str, Any], list[str]]:
    for p in scenario.positions:
        if set(p.swap) - {"id", "side", "notional", "fixed_rate", "start", "maturity"}:
            raise ScenarioError(
                f"positions[{p.index}] ({p.position_id})",
                "spread and current_fixing are not part of the booked terms the server prices",
            )
    t = scenario
    await _step("members/positions", lambda: load_state(ops, t))
    scenarios = [scenario_to_proto(s) for s in t.margin_scenarios or []]
    margin = await _step("margin", lambda: ops.run_margin(MARGIN_RUN, market, scenarios))
    run = margin.run

    short = [r.member_id for r in run.rows if r.shortfall not in ("0.00", "")]
    defaulters, notes = t.defaulters(short)
    defaults: list[pb.MemberDefault] = []

    async def declare(where: str, name: str, reason: str) -> None:
        declared = await _step(
            where, lambda: ops.declare_default(name, reason=reason, market=market)
        )
        defaults.append(declared.member_default)

    async def convert(
        where: str,
        name: str,
        position_ids: Sequence[str] = (),
        group_by: str | None = None,
        max_lot_dv01: str | None = None,
    ) -> None:
        limit = max_lot_dv01 if max_lot_dv01 is not None else t.max_lot_dv01
        await _step(
            where,
            lambda: ops.convert(
                name,
                market,
                rcv_convention=t.rcv_convention,
                standard_tenors=[str(x) for x in t.standard_tenors or []],
                group_by="position" if limit else (group_by or t.group_by),
                hedge=t.hedge,
                position_ids=position_ids,
                max_lot_dv01=limit or "",
                settled_flows=t.settled_flows,
            ),
        )

    for name in defaulters:
        reason = (t.default_reason or "") if t.default_basis == "operator" else ""
        await declare("default", name, reason)
    for declared in list(defaults):
        if not declared.positions:
            notes.append(f"{declared.member_id} holds no position: nothing to convert")
            continue
        await convert("conversion", declared.member_id)

    auction_ids: list[str] = []
    windows = 0
    for action in t.actions:
        if action.do == "window":
            auction_ids += await _window(t, action, windows, ops, member, pace, notes)
            windows += 1
        elif action.do == "withdraw":
            await _step(
                action.where,
                lambda action=action: ops.withdraw_lot(  # type: ignore[misc]
                    str(action.data["lot"]), str(action.data["reason"])
                ),
            )
        elif action.do == "admit":
            d = action.data
            spec = member_to_proto(
                str(d["id"]),
                str(d["role"]),
                bool(d.get("mandatory", False)),
                str(d.get("collateral", "0")),
                str(d.get("default_fund", "0")),
            )
            await _step(
                action.where,
                lambda spec=spec: ops.load([spec], [], house_id=t.house),  # type: ignore[misc]
            )
        elif action.do == "default":
            name = str(action.data["member"])
            await declare(action.where, name, str(action.data["reason"]))
            if name not in defaulters:
                defaulters.append(name)
        elif action.do == "convert":
            d = action.data
            await convert(
                action.where,
                str(d["member"]),
                [str(x) for x in d.get("positions", [])],
                d.get("group_by"),
                None if d.get("max_lot_dv01") is None else str(d["max_lot_dv01"]),
            )
    allocated: list[str] = []
    w = t.waterfall or {}
    for name in defaulters:
        try:
            await ops.allocate_losses(
                name,
                ccp_tranche=w.get("ccp_tranche", ""),
                assessment_multiple=w.get("assessment_multiple", ""),
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() is not grpc.StatusCode.FAILED_PRECONDITION:
                raise ScenarioError("waterfall", f"{exc.code().name}: {exc.details()}") from None
            notes.append(f"losses of {name} not allocated: {exc.details()}")
            continue
        allocated.append(name)
    result = await result_dict(
        ops, house=t.house, run=run, defaults=defaults, auction_ids=auction_ids, allocated=allocated
    )
    return result, notes


async def _window(
    t: Scenario,
    action: Action,
    k: int,
    ops: ClearingClient,
    member: Callable[[str, str], MemberClient],
    pace: Pace | None,
    notes: list[str],
) -> list[str]:
    """One bid window over some lots: create, open, bid, close, award or cancel, settle."""
    if action.lots is not None:
        lots = list(action.lots)
    else:
        lots = [
            lot.terms.lot_id for lot in await ops.lots() if lot.status == pb.LOT_STATUS_CONVERTED
        ]
    if not lots:
        notes.append("no lot left to auction")
        return []
    for b in action.bids:
        target = b.lot if b.lot is not None else (lots[0] if len(lots) == 1 else None)
        where = t.where_bid(b.index, action)
        if target is None:
            raise ScenarioError(where, "name the lot (there are several)")
        if target not in lots:
            raise ScenarioError(where, f"no lot {target!r} in this window")
    first = window_opens("2000-01-01", 0, t.window_seconds)
    base = int((window_opens("2000-01-01", k, t.window_seconds) - first).total_seconds())
    if pace is not None:
        await pace(base)
    created = await _step(
        action.where if action.index >= 0 else f"auction of {lots[0]}",
        lambda: ops.create_auction(
            "",
            lot_ids=lots,
            reserve=t.reserve,
            reserve_bp=t.reserve_bp,
            grading_threshold=t.grading_threshold,
            window_seconds=t.window_seconds,
        ),
    )
    ids = {a.lot_id: a.auction_id for a in created.auctions}
    for lot_id in lots:
        await _step(f"opening {lot_id}", lambda lot_id=lot_id: ops.open_window(ids[lot_id]))  # type: ignore[misc]

    closed = False

    async def close_all() -> None:
        nonlocal closed
        if closed:
            return
        closed = True
        if pace is not None:
            await pace(base + t.window_seconds)
        for lot_id in lots:
            await _close(ops, ids[lot_id])

    for b in action.bids:
        offset = b.index + 1 if b.at is None else b.at
        if pace is not None:
            await pace(base + offset)
        elif offset >= t.window_seconds:
            await close_all()
        where = t.where_bid(b.index, action)
        client = member(b.member, where)
        auction_id = ids[b.lot if b.lot is not None else lots[0]]
        if b.withdraw:
            await _step(
                where,
                lambda client=client, auction_id=auction_id, b=b: client.withdraw_bid(  # type: ignore[misc]
                    auction_id, b.client_order_id
                ),
            )
        else:
            await _step(
                where,
                lambda client=client, auction_id=auction_id, b=b: client.submit_bid(  # type: ignore[misc]
                    auction_id, b.client_order_id, b.amount or ""
                ),
            )
    await close_all()
    cancel = action.data.get("cancel", {})
    assign = action.data.get("assign", {})
    placed: list[str] = []
    for lot_id in lots:
        aid = ids[lot_id]
        if lot_id in cancel:
            await _step(
                f"{action.where}.cancel.{lot_id}",
                lambda aid=aid, lot_id=lot_id: ops.cancel(aid, str(cancel[lot_id])),  # type: ignore[misc]
            )
            continue
        awarded = await _step(f"award of {lot_id}", lambda aid=aid: ops.award(aid))  # type: ignore[misc]
        if awarded.result.phase == pb.DEFAULT_AUCTION_PHASE_FAILED:
            if lot_id not in assign:
                notes.append(f"auction {aid} failed: no valid bid and nobody to assign")
                continue
            choice = assign[lot_id]
            if not isinstance(choice, dict) or set(choice) != {"member", "reason"}:
                raise ScenarioError(f"{action.where}.assign.{lot_id}", "give member and reason")
            await _step(
                f"{action.where}.assign.{lot_id}",
                lambda aid=aid, choice=choice: ops.assign(  # type: ignore[misc]
                    aid, str(choice["member"]), str(choice["reason"])
                ),
            )
        placed.append(aid)
    for aid in placed:
        await _step(f"settlement of {aid}", lambda aid=aid: ops.settle(aid))  # type: ignore[misc]
    return [ids[lot_id] for lot_id in lots]


async def _close(ops: ClearingClient, lot_id: str) -> None:
    """Close a window unless the server's scheduler already did."""
    try:
        await ops.close_window(lot_id)
    except grpc.aio.AioRpcError as exc:
        if exc.code() is not grpc.StatusCode.FAILED_PRECONDITION:
            raise ScenarioError(
                f"closing {lot_id}", f"{exc.code().name}: {exc.details()}"
            ) from None
        phase = (await ops.result(lot_id)).phase
        if phase == pb.DEFAULT_AUCTION_PHASE_OPEN:
            raise ScenarioError(f"closing {lot_id}", exc.details() or "") from None
