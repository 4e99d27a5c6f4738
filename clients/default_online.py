"""Play a default scenario through a live server: the operator and every member with its own
token, so the server's pricing, authentication, eligibility and idempotency rules all apply.

The steps are the offline runner's (``clients/default_replay.py``), each one RPC: load the
clearing state, run the margin call, declare the default(s), convert into lots (with the
hedge), create and open one auction per lot, submit the bids in file order as their members,
close, award (the server draws the seed), settle. The result comes back over the wire in
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

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any, TypeVar

import grpc
import grpc.aio
from google.protobuf.timestamp_pb2 import Timestamp

from clients.default_scenario import MARGIN_RUN, Scenario
from clients.default_sdk import (
    ClearingClient,
    MarketFormatError,
    MemberClient,
    cleared_swap,
    market_to_proto,
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
        "rcv": t.rcv,
        "implied_bid": t.implied_bid,
        "dv01": t.dv01,
        "eligible": list(lot.eligible),
        "market_makers": list(lot.market_makers),
        "mandatory": list(lot.mandatory),
        "hedged": lot.hedged,
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
    }


async def result_dict(
    ops: ClearingClient,
    *,
    house: str,
    run: pb.MarginRun,
    defaults: list[pb.MemberDefault],
    auction_ids: list[str],
) -> dict[str, Any]:
    """The whole outcome in the offline runner's shape, read back from the server."""
    lots = await ops.lots()
    results = [await ops.result(a) for a in auction_ids]
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
    }


async def load_state(ops: ClearingClient, scenario: Scenario) -> pb.LoadClearingStateResponse:
    """Load a scenario's members, collateral and positions into the server's clearing house."""
    return await ops.load(
        [
            member_to_proto(m.member, m.role.value, m.mandatory, m.collateral)
            for m in scenario.members
        ],
        [
            pb.ClearedPosition(
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
            for p in scenario.positions
        ],
        house_id=scenario.house,
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
        market = market_to_proto(scenario.market)
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
    market: ppb.MarketDefinition,
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
    await _step(
        "members/positions",
        lambda: load_state(ops, t),
    )
    scenarios = [scenario_to_proto(s) for s in t.margin_scenarios or []]
    margin = await _step("margin", lambda: ops.run_margin(MARGIN_RUN, market, scenarios))
    run = margin.run

    short = [r.member_id for r in run.rows if r.shortfall not in ("0.00", "")]
    defaulters, notes = t.defaulters(short)
    defaults: list[pb.MemberDefault] = []
    for name in defaulters:
        reason = (t.default_reason or "") if t.default_basis == "operator" else ""
        declared = await _step(
            "default",
            lambda name=name, reason=reason: ops.declare_default(  # type: ignore[misc]
                name, reason=reason, market=market
            ),
        )
        defaults.append(declared.member_default)

    lot_ids: list[str] = []
    for d in defaults:
        if not d.positions:
            notes.append(f"{d.member_id} holds no position: nothing to convert")
            continue
        converted = await _step(
            "conversion",
            lambda d=d: ops.convert(  # type: ignore[misc]
                d.member_id,
                market,
                rcv_convention=t.rcv_convention,
                standard_tenors=[str(x) for x in t.standard_tenors or []],
                group_by=t.group_by,
                hedge=t.hedge,
            ),
        )
        lot_ids += [lot.terms.lot_id for lot in converted.lots]

    for b in t.bids:
        lot = b.lot if b.lot is not None else (lot_ids[0] if len(lot_ids) == 1 else None)
        if lot is None:
            raise ScenarioError(t.where_bid(b.index), "name the lot (there are several)")
        if lot not in lot_ids:
            raise ScenarioError(t.where_bid(b.index), f"no lot {lot!r}")
    for lot_id in lot_ids:
        await _step(
            f"auction of {lot_id}",
            lambda lot_id=lot_id: ops.create_auction(  # type: ignore[misc]
                lot_id,
                auction_id=lot_id,
                reserve=t.reserve,
                reserve_bp=t.reserve_bp,
                grading_threshold=t.grading_threshold,
                window_seconds=t.window_seconds,
            ),
        )
        await _step(f"opening {lot_id}", lambda lot_id=lot_id: ops.open_window(lot_id))  # type: ignore[misc]

    closed = False

    async def close_all() -> None:
        nonlocal closed
        if closed:
            return
        closed = True
        if pace is not None:
            await pace(t.window_seconds)
        for lot_id in lot_ids:
            await _close(ops, lot_id)

    for b in t.bids:
        offset = b.index + 1 if b.at is None else b.at
        if pace is not None:
            await pace(offset)
        elif offset >= t.window_seconds:
            await close_all()
        where = t.where_bid(b.index)
        client = member(b.member, where)
        lot_id = b.lot if b.lot is not None else lot_ids[0]
        if b.withdraw:
            await _step(
                where,
                lambda client=client, lot_id=lot_id, b=b: client.withdraw_bid(  # type: ignore[misc]
                    lot_id, b.client_order_id
                ),
            )
        else:
            await _step(
                where,
                lambda client=client, lot_id=lot_id, b=b: client.submit_bid(  # type: ignore[misc]
                    lot_id, b.client_order_id, b.amount or ""
                ),
            )
    await close_all()
    for lot_id in lot_ids:
        await _step(f"award of {lot_id}", lambda lot_id=lot_id: ops.award(lot_id))  # type: ignore[misc]
    for lot_id in lot_ids:
        await _step(f"settlement of {lot_id}", lambda lot_id=lot_id: ops.settle(lot_id))  # type: ignore[misc]
    result = await result_dict(ops, house=t.house, run=run, defaults=defaults, auction_ids=lot_ids)
    return result, notes


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
