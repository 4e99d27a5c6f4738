"""``closeout default load | margin | declare | convert | open | close | award | settle |
assign | withdraw-lot | losses | report | ...``:
run a clearing-house default by hand on a live server, and bid in it as a member.

The operator's commands follow the process in order (each is one RPC of ClearingService and
prints what the server recorded); a member's (``invitations``, ``lot``, ``bid``,
``withdraw``, ``watch``) use the member's own token. Every command talks to a server
(``--target`` or ``$CLOSEOUT_TARGET``, ``--token`` or ``$CLOSEOUT_TOKEN``) and prints the
result, or the refusal with its status and field violations (exit 1).

Files: ``load`` reads the ``house``, ``members`` and ``positions`` of a scenario file
(``examples/default/``); ``--market`` reads a market in the pricing request format, or the
``market`` or ``markets`` (several currencies and indices, FX) and margin scenarios of a
scenario file. Presentation only: no rule lives here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from clients.cli.connection import (
    Target,
    TlsCa,
    Token,
    call_server,
    client_options,
    networked,
    print_ack,
    require_token,
)
from clients.default_online import (
    MARGIN_RUN,
    auction_dict,
    instruction_dict,
    ledger_dict,
    load_state,
    load_tokens,
    lot_dict,
    run_default_online,
)
from clients.default_render import instructions_csv, ledger_table, money
from clients.default_scenario import Scenario, parse_default_scenario
from clients.default_sdk import (
    DEFAULT_LOAD_CHUNK,
    AnyMarket,
    ClearingClient,
    MarketFormatError,
    MemberClient,
    market_to_proto,
    markets_to_proto,
    name_of,
    scenario_to_proto,
)
from clients.scenario import ScenarioError
from clients.tables import Table
from closeout.v1 import clearing_pb2 as pb
from closeout.v1 import common_pb2
from closeout.v1 import pricing_pb2 as ppb

out = Console()

AuctionId = Annotated[str, typer.Argument(help="Auction id (by default the lot id).")]
MarketFile = Annotated[
    Path,
    typer.Option(
        "--market", help="Market JSON (pricing request format), or a scenario file.", dir_okay=False
    ),
]


def _fail(where: str, message: str) -> typer.Exit:
    Console(stderr=True, soft_wrap=True).print(
        f"[bold red]refused[/] {where}: {message}", highlight=False
    )
    return typer.Exit(2)


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except (OSError, ValueError) as exc:
        raise _fail(str(path), f"cannot read JSON: {exc}") from None


def _market(path: Path) -> tuple[AnyMarket, list[ppb.CurveScenario]]:
    """The market or markets (and any margin scenarios) of a market or scenario file."""
    doc = _json(path)
    if not isinstance(doc, dict):
        raise _fail(str(path), "expected a JSON object")
    in_scenario = "market" in doc or "markets" in doc
    scenarios = (doc.get("margin") or {}).get("scenarios") or [] if in_scenario else []
    try:
        if "markets" in doc:
            return markets_to_proto(doc["markets"]), [scenario_to_proto(s) for s in scenarios]
        raw = doc.get("market", doc)
        market_raw = {k: v for k, v in raw.items() if k != "swaps"}
        return market_to_proto(market_raw), [scenario_to_proto(s) for s in scenarios]
    except MarketFormatError as exc:
        raise _fail(exc.field, exc.message) from None


def _clearing_state(path: Path) -> Scenario:
    """The house, members and positions of a scenario file (other sections are ignored)."""
    doc = _json(path)
    if not isinstance(doc, dict):
        raise _fail(str(path), "expected a JSON object")
    keep = {k: doc[k] for k in ("house", "members", "positions") if k in doc}
    keep.pop("markets", None)
    minimal = {**keep, "market": {}, "default": {"basis": "shortfall"}}
    try:
        return parse_default_scenario(json.dumps(minimal, default=str), source=str(path))
    except ScenarioError as exc:
        raise _fail(exc.where, exc.message) from None


def _ops(target: str, token: str | None, tls_ca: Path | None) -> ClearingClient:
    return ClearingClient(target, require_token(token), **client_options(tls_ca))


def _member(target: str, token: str | None, tls_ca: Path | None) -> MemberClient:
    return MemberClient(target, require_token(token), **client_options(tls_ca))


def _table(title: str, columns: list[str], rows: list[list[str]]) -> Table:
    table = Table(title=title, title_justify="left")
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def _show_lot(lot: dict[str, Any]) -> None:
    rows = [
        [
            p["position_id"],
            p["defaulted"]["side"].lower(),
            money(p["defaulted"]["notional"]),
            p["defaulted"]["maturity"],
            f"{p['standard_tenor']} to {p['standard']['maturity']}",
            money(p["rcv"]),
            money(p["implied_bid"]),
            money(p["standard_dv01"]),
        ]
        for p in lot["positions"]
    ]
    table = _table(
        f"Lot {lot['lot_id']} of {lot['defaulter']} ({lot['currency']} {lot['index']}, curve "
        f"{lot['curve_id']}, {lot['valuation_time']}): RCV {money(lot['rcv'])}, "
        f"b* {money(lot['implied_bid'])}",
        ["position", "side", "notional", "maturity", "standard", "rcv", "b*", "dv01"],
        rows,
    )
    if "eligible" in lot:
        table.caption = (
            f"invited: {', '.join(lot['eligible'])}; market makers: "
            f"{', '.join(lot['market_makers'])}; hedged: {'yes' if lot['hedged'] else 'no'}"
        )
    out.print(table)


def _show_result(r: dict[str, Any]) -> None:
    award = r["award"]
    headline = "bids sealed" if r["bids"] is None else "no award yet"
    if award is not None:
        how = "assigned at b* to" if award["method"] == "ASSIGNMENT" else "awarded to"
        headline = f"{how} {award['member']} at {money(award['amount'])} (seed {award['seed']})"
        if award["tie_break"] != "NONE":
            headline += f", tie among {', '.join(award['tied'])} broken by {award['tie_break']}"
    grades = {g["member"]: g["grade"] for g in r["grades"]}
    rows = [[b["member"], money(b["amount"]), grades.pop(b["member"], "")] for b in r["bids"] or []]
    rows += [[m, "-", g] for m, g in grades.items()]
    out.print(
        _table(
            f"Auction {r['auction_id']} [{r['phase']}] b* {money(r['implied_bid'])}: {headline}",
            ["member", "bid", "grade"],
            rows,
        )
    )


# -- operator commands ----------------------------------------------------------------------


@networked
def load(
    file: Annotated[Path, typer.Argument(help="Scenario JSON: its house, members, positions.")],
    chunk_size: Annotated[
        int,
        typer.Option(
            "--chunk-size",
            min=1,
            help="Members or positions per streamed chunk (the load is one, all or nothing).",
        ),
    ] = DEFAULT_LOAD_CHUNK,
    target: Target = "127.0.0.1:50051",
    token: Token = None,
    tls_ca: TlsCa = None,
) -> None:
    """Load members, collateral and positions (operator), streamed in chunks."""
    state = _clearing_state(file)

    async def call() -> pb.LoadClearingStateChunksResponse:
        async with _ops(target, token, tls_ca) as ops:
            return await load_state(ops, state, chunk_size)

    response = call_server(call)
    print_ack(
        response.ack,
        f"{response.house_id}: {response.members_admitted} members, "
        f"{response.positions_booked} positions",
    )


@networked
def margin(
    market: MarketFile,
    run_id: Annotated[str, typer.Option("--run-id", help="Margin run id.")] = MARGIN_RUN,
    target: Target = "127.0.0.1:50051",
    token: Token = None,
    tls_ca: TlsCa = None,
) -> None:
    """Run the performance bond call on the server's pricing (operator)."""
    definition, scenarios = _market(market)

    async def call() -> pb.RunMarginResponse:
        async with _ops(target, token, tls_ca) as ops:
            return await ops.run_margin(run_id, definition, scenarios)

    response = call_server(call)
    run = response.run
    _print_margin_run(run)
    print_ack(response.ack, f"margin run {run.run_id}")


@networked
def declare(
    member: Annotated[str, typer.Argument(help="Member id.")],
    reason: Annotated[
        str, typer.Option("--reason", help="An operator's reason; omit for a shortfall default.")
    ] = "",
    market: Annotated[
        Path | None, typer.Option("--market", help="Price its positions in this market.")
    ] = None,
    target: Target = "127.0.0.1:50051",
    token: Token = None,
    tls_ca: TlsCa = None,
) -> None:
    """Declare a member in default (operator)."""
    definition = _market(market)[0] if market is not None else None

    async def call() -> pb.DeclareDefaultResponse:
        async with _ops(target, token, tls_ca) as ops:
            return await ops.declare_default(member, reason=reason, market=definition)

    response = call_server(call)
    d = response.member_default
    basis = name_of(pb.DefaultBasis, d.basis, "DEFAULT_BASIS_")
    out.print(
        _table(
            f"Default of {d.member_id} ({basis}: {d.reason})",
            ["position", "npv"],
            [[p.position_id, money(p.npv or None)] for p in d.positions],
        )
    )
    print_ack(response.ack, f"{d.member_id} in default")


@networked
def convert(
    member: Annotated[str, typer.Argument(help="The defaulter.")],
    market: MarketFile,
    rcv: Annotated[
        str, typer.Option("--rcv", help="same_coupon, at_market or zero_cash.")
    ] = "same_coupon",
    tenors: Annotated[
        str, typer.Option("--tenors", help="Standard tenors, comma-separated (default: pricing's).")
    ] = "",
    group_by: Annotated[
        str, typer.Option("--group-by", help="position or currency_index.")
    ] = "position",
    hedge: Annotated[bool, typer.Option("--hedge", help="Book the neutralising hedge.")] = False,
    positions: Annotated[
        str, typer.Option("--positions", help="A lot by hand: these position ids, comma-separated.")
    ] = "",
    max_lot_dv01: Annotated[
        str, typer.Option("--max-lot-dv01", help="Split lots so their |DV01| stays under this.")
    ] = "",
    settled_flows: Annotated[
        str,
        typer.Option("--settled-flows", help="exclude_settled (default) or include_settled."),
    ] = "",
    target: Target = "127.0.0.1:50051",
    token: Token = None,
    tls_ca: TlsCa = None,
) -> None:
    """Convert a defaulter's positions into lots and invite bidders (operator)."""
    definition = _market(market)[0]
    if rcv.lower() not in ("same_coupon", "at_market", "zero_cash"):
        raise _fail("--rcv", "must be same_coupon, at_market or zero_cash")
    if group_by.lower() not in ("position", "currency_index"):
        raise _fail("--group-by", "must be position or currency_index")
    if settled_flows.lower() not in ("", "exclude_settled", "include_settled"):
        raise _fail("--settled-flows", "must be exclude_settled or include_settled")

    async def call() -> pb.ConvertPositionsResponse:
        async with _ops(target, token, tls_ca) as ops:
            return await ops.convert(
                member,
                definition,
                rcv_convention=rcv,
                standard_tenors=[t.strip() for t in tenors.split(",") if t.strip()],
                group_by=group_by,
                hedge=hedge,
                position_ids=[p.strip() for p in positions.split(",") if p.strip()],
                max_lot_dv01=max_lot_dv01,
                settled_flows=settled_flows.lower(),
            )

    response = call_server(call)
    for lot in response.lots:
        _show_lot(lot_dict(lot))
    print_ack(response.ack, f"{len(response.lots)} lot(s) of {member}")


@networked
def lots(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    target: Target = "127.0.0.1:50051",
    token: Token = None,
    tls_ca: TlsCa = None,
) -> None:
    """List the lots with their invitations (operator, observer)."""

    async def call() -> list[pb.Lot]:
        async with _ops(target, token, tls_ca) as ops:
            return await ops.lots()

    found = [lot_dict(lot) for lot in call_server(call)]
    if as_json:
        out.print_json(json.dumps(found))
        return
    for lot in found:
        _show_lot(lot)


@networked
def open_window(
    lot_id: Annotated[str, typer.Argument(help="The lot to auction.")],
    auction_id: Annotated[str, typer.Option("--auction", help="Default: the lot id.")] = "",
    window: Annotated[
        int, typer.Option("--window", help="Close this many seconds after opening (0: by hand).")
    ] = 0,
    close_at: Annotated[
        datetime | None, typer.Option("--close-at", help="Close at this UTC time instead.")
    ] = None,
    reserve: Annotated[str | None, typer.Option("--reserve", help="Fixed reserve.")] = None,
    reserve_bp: Annotated[
        str | None, typer.Option("--reserve-bp", help="Reserve b* - BP x |DV01|.")
    ] = None,
    grading_threshold: Annotated[
        str, typer.Option("--grading-threshold", help="SHORT below the winner by more.")
    ] = "0",
    target: Target = "127.0.0.1:50051",
    token: Token = None,
    tls_ca: TlsCa = None,
) -> None:
    """Create a lot's auction and open its bid window (operator)."""
    when = None if close_at is None else close_at.replace(tzinfo=close_at.tzinfo or UTC)

    async def call() -> pb.OpenBidWindowResponse:
        async with _ops(target, token, tls_ca) as ops:
            created = await ops.create_auction(
                lot_id,
                auction_id=auction_id,
                reserve=reserve,
                reserve_bp=reserve_bp,
                grading_threshold=grading_threshold,
                close_at=when,
                window_seconds=window,
            )
            return await ops.open_window(created.auction.auction_id)

    response = call_server(call)
    a = response.auction
    closes = (
        f", closes at {a.close_at.ToDatetime(tzinfo=UTC).isoformat()}"
        if a.HasField("close_at")
        else ", closes by hand"
    )
    reserve_text = f", reserve {money(a.reserve)}" if a.reserve else ""
    print_ack(response.ack, f"auction {a.auction_id} of {a.lot_id} is OPEN{closes}{reserve_text}")


@networked
def close_window(
    auction_id: AuctionId,
    target: Target = "127.0.0.1:50051",
    token: Token = None,
    tls_ca: TlsCa = None,
) -> None:
    """Close a bid window by hand (operator)."""

    async def call() -> tuple[pb.CloseBidWindowResponse, Any]:
        async with _ops(target, token, tls_ca) as ops:
            return await ops.close_window(auction_id), await ops.result(auction_id)

    response, result = call_server(call)
    print_ack(response.ack, f"auction {auction_id} is CLOSED")
    _show_result(auction_dict(result))  # what closing published: bids, b*, the award if any


@networked
def cancel(
    auction_id: AuctionId,
    reason: Annotated[str, typer.Option("--reason", help="Published with the cancellation.")],
    target: Target = "127.0.0.1:50051",
    token: Token = None,
    tls_ca: TlsCa = None,
) -> None:
    """Cancel an auction before its award (operator)."""

    async def call() -> pb.CancelDefaultAuctionResponse:
        async with _ops(target, token, tls_ca) as ops:
            return await ops.cancel(auction_id, reason)

    print_ack(call_server(call).ack, f"auction {auction_id} cancelled")


@networked
def award(
    auction_id: AuctionId,
    target: Target = "127.0.0.1:50051",
    token: Token = None,
    tls_ca: TlsCa = None,
) -> None:
    """Award the lot, or assign it at b* when no bid is valid (operator)."""

    async def call() -> pb.AwardLotResponse:
        async with _ops(target, token, tls_ca) as ops:
            return await ops.award(auction_id)

    response = call_server(call)
    _show_result(auction_dict(response.result))
    print_ack(response.ack, f"auction {auction_id} awarded")


@networked
def settle(
    auction_id: AuctionId,
    target: Target = "127.0.0.1:50051",
    token: Token = None,
    tls_ca: TlsCa = None,
) -> None:
    """Settle an awarded lot: positions, cash, shortfall to collateral (operator)."""

    async def call() -> pb.SettleLotResponse:
        async with _ops(target, token, tls_ca) as ops:
            return await ops.settle(auction_id)

    response = call_server(call)
    s = response.settlement
    out.print(
        f"{name_of(pb.AwardMethod, s.method, 'AWARD_METHOD_')} to {s.member_id} at "
        f"{money(s.amount)}; b* {money(s.implied_bid)}, shortfall {money(s.shortfall)}, "
        f"charged to collateral {money(s.collateral_charge)}, uncovered {money(s.uncovered)}",
        highlight=False,
    )
    _print_instructions([instruction_dict(i) for i in response.instructions])
    print_ack(response.ack, f"auction {auction_id} settled")


def _print_instructions(rows: list[dict[str, Any]]) -> None:
    out.print(
        _table(
            "Settlement instructions",
            ["id", "kind", "from", "to", "amount", "what"],
            [
                [
                    i["instruction_id"],
                    i["kind"],
                    i["from_account"],
                    i["to_account"],
                    money(i["amount"]),
                    i["description"],
                ]
                for i in rows
            ],
        )
    )


@networked
def result(
    auction_id: AuctionId,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    target: Target = "127.0.0.1:50051",
    token: Token = None,
    tls_ca: TlsCa = None,
) -> None:
    """An auction's publication: bids, award and grades once closed (operator, observer)."""

    async def call() -> pb.DefaultAuctionResult:
        async with _ops(target, token, tls_ca) as ops:
            return await ops.result(auction_id)

    r = auction_dict(call_server(call))
    if as_json:
        out.print_json(json.dumps(r))
    else:
        _show_result(r)


@networked
def ledger(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    target: Target = "127.0.0.1:50051",
    token: Token = None,
    tls_ca: TlsCa = None,
) -> None:
    """The positions ledger: accounts, cash, collateral, open positions (operator, observer)."""

    async def call() -> pb.GetLedgerResponse:
        async with _ops(target, token, tls_ca) as ops:
            return await ops.ledger()

    data = ledger_dict(call_server(call))
    if as_json:
        out.print_json(json.dumps(data))
        return
    out.print(ledger_table(data))


@networked
def instructions(
    lot_id: Annotated[str, typer.Option("--lot", help="One lot only.")] = "",
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Also write them as CSV.")] = None,
    target: Target = "127.0.0.1:50051",
    token: Token = None,
    tls_ca: TlsCa = None,
) -> None:
    """Settlement instructions made so far (operator, observer)."""

    async def call() -> list[pb.SettlementInstruction]:
        async with _ops(target, token, tls_ca) as ops:
            return await ops.instructions(lot_id)

    rows = [instruction_dict(i) for i in call_server(call)]
    if csv_out is not None:
        csv_out.write_text(instructions_csv({"instructions": rows}), encoding="utf-8")
    _print_instructions(rows)


@networked
def grades(
    auction_id: Annotated[str, typer.Option("--auction", help="One auction only.")] = "",
    target: Target = "127.0.0.1:50051",
    token: Token = None,
    tls_ca: TlsCa = None,
) -> None:
    """Mandatory bidders' grades for loss allocation (operator, observer)."""

    async def call() -> list[pb.GradeRow]:
        async with _ops(target, token, tls_ca) as ops:
            return await ops.grades(auction_id)

    out.print(
        _table(
            "Grades",
            ["auction", "member", "grade", "bid", "winning"],
            [
                [
                    g.auction_id,
                    g.member_id,
                    name_of(pb.BidGrade, g.grade, "BID_GRADE_"),
                    money(g.bid or None),
                    money(g.reference or None),
                ]
                for g in call_server(call)
            ],
        )
    )


@networked
def margin_run(
    run_id: Annotated[str, typer.Option("--run-id", help="Default: the latest run.")] = "",
    target: Target = "127.0.0.1:50051",
    token: Token = None,
    tls_ca: TlsCa = None,
) -> None:
    """A recorded margin run (operator, observer)."""

    async def call() -> pb.MarginRun:
        async with _ops(target, token, tls_ca) as ops:
            return await ops.margin_run(run_id)

    run = call_server(call)
    _print_margin_run(run)


@networked
def withdraw_lot(
    lot_id: Annotated[str, typer.Argument(help="The lot (in no live auction).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded).")],
    target: Target = "127.0.0.1:50051",
    token: Token = None,
    tls_ca: TlsCa = None,
) -> None:
    """Withdraw a lot: its positions can go into new lots (operator)."""

    async def call() -> pb.WithdrawLotResponse:
        async with _ops(target, token, tls_ca) as ops:
            return await ops.withdraw_lot(lot_id, reason)

    response = call_server(call)
    print_ack(response.ack, f"lot {lot_id} withdrawn")


@networked
def assign(
    auction_id: AuctionId,
    member: Annotated[str, typer.Option("--member", help="Who takes the lot at b*.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded).")],
    target: Target = "127.0.0.1:50051",
    token: Token = None,
    tls_ca: TlsCa = None,
) -> None:
    """An operator's assignment of a closed or failed auction's lot at b* (operator)."""

    async def call() -> pb.AssignLotResponse:
        async with _ops(target, token, tls_ca) as ops:
            return await ops.assign(auction_id, member, reason)

    response = call_server(call)
    _show_result(auction_dict(response.result))
    print_ack(response.ack, f"auction {auction_id} assigned to {member}")


def _show_allocation(a: pb.LossAllocation, csv_out: Path | None) -> None:
    ccy = a.clearing_currency
    out.print(
        f"Default of {a.defaulter}: net result {money(a.net_result)} {ccy}, loss "
        f"{money(a.loss)}, surplus to the estate {money(a.surplus)}, uncovered "
        f"{money(a.uncovered)}",
        highlight=False,
    )
    out.print(
        _table(
            "Lots netted",
            ["lot", "ccy", "paid", "b*", "result", "fx", f"result {ccy}"],
            [
                [
                    r.lot_id,
                    r.currency,
                    money(r.amount),
                    money(r.implied_bid),
                    money(r.result),
                    r.fx_rate,
                    money(r.clearing_result),
                ]
                for r in a.lots
            ],
        )
    )
    out.print(
        _table(
            "Waterfall",
            ["layer", "member", "tier", "available", "used"],
            [
                [
                    name_of(pb.WaterfallLayer, s.layer, "WATERFALL_LAYER_"),
                    s.member_id,
                    name_of(pb.LossTier, s.tier, "LOSS_TIER_") if s.tier else "",
                    money(s.available),
                    money(s.used),
                ]
                for s in a.steps
            ],
        )
    )
    out.print(
        _table(
            "Per member",
            [
                "member",
                "tier",
                "grades",
                "fund before",
                "fund used",
                "margin used",
                "assessment",
                "surplus",
                "total",
            ],
            [
                [
                    m.member_id,
                    name_of(pb.LossTier, m.tier, "LOSS_TIER_") if m.tier else "",
                    ", ".join(m.grades),
                    money(m.default_fund_before),
                    money(m.default_fund_used),
                    money(m.collateral_used),
                    money(m.assessment),
                    money(m.surplus_received),
                    money(m.total),
                ]
                for m in a.members
            ],
        )
    )
    rows = [instruction_dict(i) for i in a.instructions]
    if csv_out is not None:
        csv_out.write_text(instructions_csv({"instructions": rows}), encoding="utf-8")
    _print_instructions(rows)


@networked
def losses(
    defaulter: Annotated[str, typer.Argument(help="The defaulter.")],
    ccp_tranche: Annotated[
        str, typer.Option("--ccp-tranche", help="The clearing house's own tranche.")
    ] = "",
    assessment_multiple: Annotated[
        str, typer.Option("--assessment-multiple", help="Assessment cap, x contribution.")
    ] = "",
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Instructions as CSV.")] = None,
    target: Target = "127.0.0.1:50051",
    token: Token = None,
    tls_ca: TlsCa = None,
) -> None:
    """Net the default over its lots and run the loss waterfall (operator)."""

    async def call() -> pb.AllocateLossesResponse:
        async with _ops(target, token, tls_ca) as ops:
            return await ops.allocate_losses(
                defaulter, ccp_tranche=ccp_tranche, assessment_multiple=assessment_multiple
            )

    response = call_server(call)
    _show_allocation(response.allocation, csv_out)
    print_ack(response.ack, f"losses of {defaulter} allocated")


@networked
def report(
    defaulter: Annotated[str, typer.Argument(help="The defaulter.")],
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Instructions as CSV.")] = None,
    target: Target = "127.0.0.1:50051",
    token: Token = None,
    tls_ca: TlsCa = None,
) -> None:
    """A recorded loss allocation: per-member report and instructions (operator, observer)."""

    async def call() -> pb.LossAllocation:
        async with _ops(target, token, tls_ca) as ops:
            return await ops.loss_allocation(defaulter)

    _show_allocation(call_server(call), csv_out)


# -- member commands ------------------------------------------------------------------------


@networked
def invitations(
    target: Target = "127.0.0.1:50051",
    token: Token = None,
    tls_ca: TlsCa = None,
) -> None:
    """The auctions you are invited to (clearing member, market maker)."""

    async def call() -> list[pb.Invitation]:
        async with _member(target, token, tls_ca) as member:
            return await member.invitations()

    out.print(
        _table(
            "Invitations",
            ["auction", "lot", "phase", "mandatory", "closes"],
            [
                [
                    i.auction_id,
                    i.lot_id,
                    name_of(pb.DefaultAuctionPhase, i.phase, "DEFAULT_AUCTION_PHASE_"),
                    "yes" if i.mandatory else "no",
                    i.close_at.ToDatetime(tzinfo=UTC).isoformat()
                    if i.HasField("close_at")
                    else "by hand",
                ]
                for i in call_server(call)
            ],
        )
    )


@networked
def lot(
    auction_id: AuctionId,
    target: Target = "127.0.0.1:50051",
    token: Token = None,
    tls_ca: TlsCa = None,
) -> None:
    """A lot you are invited to: terms, RCV, b*, DV01, your bid and grade (member)."""

    async def call() -> pb.GetLotResponse:
        async with _member(target, token, tls_ca) as member:
            return await member.lot(auction_id)

    view = call_server(call)
    _show_lot(_terms(view))
    phase = name_of(pb.DefaultAuctionPhase, view.phase, "DEFAULT_AUCTION_PHASE_")
    mine = f"your bid {money(view.my_bid.amount)}" if view.HasField("my_bid") else "no bid"
    line = f"{auction_id} is {phase}; {mine}"
    if view.my_grade:
        line += f"; grade {name_of(pb.BidGrade, view.my_grade, 'BID_GRADE_')}"
    if view.took_lot:
        line += f"; you took the lot at {money(view.amount)}"
    out.print(line, highlight=False)


def _terms(view: pb.GetLotResponse) -> dict[str, Any]:
    data = lot_dict(pb.Lot(terms=view.lot))
    for key in ("eligible", "market_makers", "mandatory", "hedged"):
        data.pop(key)
    return data


@networked
def bid(
    auction_id: AuctionId,
    amount: Annotated[
        str, typer.Option("--amount", help="Cash you pay for the lot (negative: an offer).")
    ],
    client_order_id: Annotated[str, typer.Option("--id", help="Client order id.")] = "bid",
    target: Target = "127.0.0.1:50051",
    token: Token = None,
    tls_ca: TlsCa = None,
) -> None:
    """Submit or replace your bid (clearing member, market maker)."""

    async def call() -> common_pb2.Ack:
        async with _member(target, token, tls_ca) as member:
            return await member.submit_bid(auction_id, client_order_id, amount)

    print_ack(call_server(call), f"bid {amount} in {auction_id}")


@networked
def withdraw(
    auction_id: AuctionId,
    client_order_id: Annotated[str, typer.Option("--id", help="Client order id.")] = "withdraw",
    target: Target = "127.0.0.1:50051",
    token: Token = None,
    tls_ca: TlsCa = None,
) -> None:
    """Withdraw your bid before the close (clearing member, market maker)."""

    async def call() -> common_pb2.Ack:
        async with _member(target, token, tls_ca) as member:
            return await member.withdraw_bid(auction_id, client_order_id)

    print_ack(call_server(call), f"bid withdrawn from {auction_id}")


@networked
def watch(
    auction_id: AuctionId,
    after: Annotated[int, typer.Option("--after", help="Resume after this sequence.")] = 0,
    target: Target = "127.0.0.1:50051",
    token: Token = None,
    tls_ca: TlsCa = None,
) -> None:
    """Follow an auction's events until it settles (Ctrl-C to stop)."""

    async def call() -> None:
        async with _member(target, token, tls_ca) as member:
            async for e in member.watch(auction_id, after):
                detail = [
                    f"{k}={v}"
                    for k, v in (
                        ("id", e.client_order_id),
                        ("amount", e.amount),
                        ("reason", e.reason),
                        ("took_lot", "yes" if e.took_lot else ""),
                        ("paying", e.award_amount),
                        (
                            "grade",
                            name_of(pb.BidGrade, e.my_grade, "BID_GRADE_") if e.my_grade else "",
                        ),
                    )
                    if v
                ]
                phase = name_of(pb.DefaultAuctionPhase, e.phase, "DEFAULT_AUCTION_PHASE_")
                out.print(
                    f"#{e.sequence} {e.at.ToDatetime(tzinfo=UTC).isoformat()} {e.type} "
                    f"[{phase}] {' '.join(detail)}",
                    highlight=False,
                )

    call_server(call)


# -- the whole scenario online ----------------------------------------------------------------


def run_online(
    scenario: Scenario, target: str, tokens: Path, tls_ca: Path | None
) -> tuple[dict[str, Any], list[str]]:
    """``closeout default run --target``: the whole scenario through the server."""
    credentials = load_tokens(tokens)
    options = client_options(tls_ca)
    return call_server(lambda: run_default_online(scenario, target, credentials, **options))


def register(app: typer.Typer) -> None:
    """Add these commands to the ``closeout default`` group."""
    for name, command in (
        ("load", load),
        ("margin", margin),
        ("declare", declare),
        ("convert", convert),
        ("lots", lots),
        ("open", open_window),
        ("close", close_window),
        ("cancel", cancel),
        ("award", award),
        ("settle", settle),
        ("result", result),
        ("ledger", ledger),
        ("instructions", instructions),
        ("grades", grades),
        ("margin-run", margin_run),
        ("withdraw-lot", withdraw_lot),
        ("assign", assign),
        ("losses", losses),
        ("report", report),
        ("invitations", invitations),
        ("lot", lot),
        ("bid", bid),
        ("withdraw", withdraw),
        ("watch", watch),
    ):
        app.command(name)(command)


def _print_margin_run(run: pb.MarginRun) -> None:
    """A margin run as a table: each member's requirement, collateral and shortfall."""
    out.print(
        _table(
            f"Margin run {run.run_id} ({run.valuation_date}, curve {run.curve_id})",
            ["member", "requirement", "collateral", "shortfall", "worst scenario"],
            [
                [
                    r.member_id,
                    money(r.requirement),
                    money(r.collateral),
                    money(r.shortfall),
                    r.worst_scenario,
                ]
                for r in run.rows
            ],
        )
    )
