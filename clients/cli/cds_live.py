"""``closeout cds create | open | close | cancel | market | psr | order | mine``: live auctions.

Operators create auctions and open and close windows by hand; dealers submit with their own
token. Every command talks to a server (``--target``, ``--token`` or ``$CLOSEOUT_TOKEN``) and
prints the acknowledgement or the refusal with its field violations.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

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
from clients.results import phase_name, statement_to_dict
from clients.sdk import DealerClient, OperatorClient
from clients.tables import Table
from closeout.v1 import auction_pb2 as apb
from closeout.v1 import operator_pb2 as opb

out = Console()

AuctionId = Annotated[str, typer.Argument(help="Auction id.")]
ClientOrderId = Annotated[
    str, typer.Option("--id", help="Client order id (idempotency key, unique per auction).")
]


@networked
def create(
    auction_id: AuctionId,
    panel: Annotated[str, typer.Option("--panel", help="Dealer participant ids, comma-separated.")],
    quotation_amount: Annotated[int, typer.Option("--quotation-amount")] = 2_000_000,
    max_spread: Annotated[str, typer.Option("--max-spread")] = "2",
    cap_amount: Annotated[str, typer.Option("--cap-amount", help="Default: half the spread.")] = "",
    price_increment: Annotated[str, typer.Option("--price-increment")] = "0.125",
    currency: Annotated[str, typer.Option("--currency")] = "USD",
    min_valid_submissions: Annotated[int, typer.Option("--min-valid-submissions")] = 1,
    rounding_amount: Annotated[
        int, typer.Option("--rounding-amount", help="0: the currency's (USD/EUR 1000, JPY 100000).")
    ] = 0,
    require_market_position: Annotated[
        bool, typer.Option("--require-market-position", help="Requests must attest it.")
    ] = False,
    calendar: Annotated[str, typer.Option("--calendar", help="Default NewYork+London.")] = "",
    auction_date: Annotated[str, typer.Option("--auction-date", help="YYYY-MM-DD.")] = "",
    names: Annotated[
        list[str] | None,
        typer.Option("--name", help='Published name of a panel id: ID="Name" (repeatable).'),
    ] = None,
    stage1_open: Annotated[datetime | None, typer.Option(help="UTC; omit to open by hand.")] = None,
    stage1_close: Annotated[datetime | None, typer.Option(help="UTC.")] = None,
    stage2_open: Annotated[datetime | None, typer.Option(help="UTC.")] = None,
    stage2_close: Annotated[datetime | None, typer.Option(help="UTC.")] = None,
    target: Target = "127.0.0.1:50051",
    token: Token = None,
    tls_ca: TlsCa = None,
) -> None:
    """Create a CDS auction (operator)."""
    params = apb.AuctionParameters(
        auction_id=auction_id,
        currency=currency,
        quotation_amount=quotation_amount,
        max_spread=max_spread,
        cap_amount=cap_amount,
        price_increment=price_increment,
        min_valid_submissions=min_valid_submissions,
        rounding_amount=rounding_amount,
        require_market_position=require_market_position,
        calendar=calendar,
        auction_date=auction_date,
    )
    dealer_names: dict[str, str] = {}
    for item in names or []:
        pid, sep, name = item.partition("=")
        if not sep or not pid.strip():
            Console(stderr=True).print(f'--name {item!r}: write ID="Published Name"')
            raise typer.Exit(2)
        dealer_names[pid.strip()] = name
    schedule = {
        name: when if when.tzinfo else when.replace(tzinfo=UTC)
        for name, when in {
            "stage1_open": stage1_open,
            "stage1_close": stage1_close,
            "stage2_open": stage2_open,
            "stage2_close": stage2_close,
        }.items()
        if when is not None
    }

    async def call() -> None:
        async with OperatorClient(target, require_token(token), **client_options(tls_ca)) as ops:
            response = await ops.create_auction(
                params,
                [p.strip() for p in panel.split(",") if p.strip()],
                schedule,
                dealer_names=dealer_names,
            )
        print_ack(response.ack, f"auction {auction_id} created")

    call_server(call)


@networked
def open_window(
    auction_id: AuctionId,
    target: Target = "127.0.0.1:50051",
    token: Token = None,
    tls_ca: TlsCa = None,
) -> None:
    """Open the next window by hand (operator)."""

    async def call() -> None:
        async with OperatorClient(target, require_token(token), **client_options(tls_ca)) as ops:
            response = await ops.open_window(auction_id)
        print_ack(response.ack, f"{auction_id} is {phase_name(response.auction.phase)}")

    call_server(call)


@networked
def close_window(
    auction_id: AuctionId,
    target: Target = "127.0.0.1:50051",
    token: Token = None,
    tls_ca: TlsCa = None,
) -> None:
    """Close the open window by hand (operator); closing stage 2 fixes the final price."""

    async def call() -> None:
        async with OperatorClient(target, require_token(token), **client_options(tls_ca)) as ops:
            response = await ops.close_window(auction_id)
            result = await ops.results(auction_id)
        print_ack(response.ack, f"{auction_id} is {phase_name(response.auction.phase)}")
        for line in publication_lines(result):
            out.print(line, highlight=False)

    call_server(call)


def publication_lines(result: opb.AuctionResult) -> list[str]:
    """What closing a window published, in a few lines (the full tables: closeout results)."""
    lines = []
    if result.reason:
        lines.append(f"  {phase_name(result.status).lower()}: {result.reason}")
    if result.initial_market_midpoint and not result.final_price:
        side = apb.Side.Name(result.open_interest_side).removeprefix("SIDE_").lower()
        interest = f"{result.open_interest_size:,} to {side}" if result.open_interest_size else "0"
        lines.append(f"  published: IMM {result.initial_market_midpoint}, open interest {interest}")
        for a in result.adjustment_amounts:
            lines.append(f"  adjustment amount: {a.dealer} pays {a.amount} {result.currency}")
    if result.final_price:
        filled = [f for f in result.limit_order_fills if f.filled]
        lines.append(
            f"  final price {result.final_price}; {len(filled)} limit order(s) filled "
            f"(closeout results {result.auction_id})"
        )
    return lines


@networked
def cancel(
    auction_id: AuctionId,
    reason: Annotated[str, typer.Option("--reason", help="Published with the cancellation.")],
    target: Target = "127.0.0.1:50051",
    token: Token = None,
    tls_ca: TlsCa = None,
) -> None:
    """Cancel an auction that is not over (operator)."""

    async def call() -> None:
        async with OperatorClient(target, require_token(token), **client_options(tls_ca)) as ops:
            response = await ops.cancel(auction_id, reason)
        print_ack(response.ack, f"{auction_id} cancelled")

    call_server(call)


@networked
def market(
    auction_id: AuctionId,
    bid: Annotated[str, typer.Option("--bid")],
    offer: Annotated[str, typer.Option("--offer")],
    client_order_id: ClientOrderId = "market",
    target: Target = "127.0.0.1:50051",
    token: Token = None,
    tls_ca: TlsCa = None,
) -> None:
    """Submit or replace your initial market (dealer, stage 1)."""

    async def call() -> None:
        async with DealerClient(target, require_token(token), **client_options(tls_ca)) as dealer:
            ack = await dealer.submit_market(auction_id, client_order_id, bid=bid, offer=offer)
        print_ack(ack, f"market {bid} / {offer}")

    call_server(call)


@networked
def psr(
    auction_id: AuctionId,
    side: Annotated[str, typer.Option("--side", help="BUY or SELL.")],
    size: Annotated[int, typer.Option("--size", help="Currency units.")],
    client_order_id: ClientOrderId = "psr",
    customer: Annotated[str | None, typer.Option("--customer")] = None,
    market_position: Annotated[
        int | None, typer.Option("--market-position", help="Attested, in the same direction.")
    ] = None,
    target: Target = "127.0.0.1:50051",
    token: Token = None,
    tls_ca: TlsCa = None,
) -> None:
    """Submit or replace a physical settlement request (dealer, stage 1)."""
    position = None if market_position is None else (side, market_position)

    async def call() -> None:
        async with DealerClient(target, require_token(token), **client_options(tls_ca)) as dealer:
            ack = await dealer.submit_settlement_request(
                auction_id,
                client_order_id,
                side=side,
                size=size,
                customer=customer,
                market_position=position,
            )
        print_ack(ack, f"settlement request {side} {size:,}")

    call_server(call)


@networked
def order(
    auction_id: AuctionId,
    side: Annotated[str, typer.Option("--side", help="BID or OFFER.")],
    price: Annotated[str, typer.Option("--price")],
    size: Annotated[int, typer.Option("--size", help="Currency units.")],
    client_order_id: ClientOrderId,
    customer: Annotated[str | None, typer.Option("--customer")] = None,
    target: Target = "127.0.0.1:50051",
    token: Token = None,
    tls_ca: TlsCa = None,
) -> None:
    """Submit a limit order (dealer, stage 2)."""

    async def call() -> None:
        async with DealerClient(target, require_token(token), **client_options(tls_ca)) as dealer:
            response = await dealer.submit_limit_order(
                auction_id, client_order_id, side=side, price=price, size=size, customer=customer
            )
        print_ack(response.ack, f"limit order {response.order_id}")

    call_server(call)


@networked
def mine(
    auction_id: AuctionId,
    target: Target = "127.0.0.1:50051",
    token: Token = None,
    tls_ca: TlsCa = None,
) -> None:
    """List your own submissions (dealer)."""

    async def call() -> apb.ListMySubmissionsResponse:
        async with DealerClient(target, require_token(token), **client_options(tls_ca)) as dealer:
            return await dealer.my_submissions(auction_id)

    view = call_server(call)
    table = Table(title=f"My submissions in {auction_id}", title_justify="left")
    for col in ("kind", "id", "side", "price", "size", "seq"):
        table.add_column(col, overflow="fold")
    if view.HasField("market"):
        m = view.market
        table.add_row("market", m.client_order_id, "", f"{m.bid} / {m.offer}", "", str(m.sequence))
    for r in view.settlement_requests:
        table.add_row(
            "psr",
            r.client_order_id,
            apb.Side.Name(r.side).removeprefix("SIDE_"),
            "",
            f"{r.size:,}",
            str(r.sequence),
        )
    for o in view.limit_orders:
        table.add_row(
            "carried" if o.carried_over else "order",
            o.order_id,
            "",
            o.price,
            f"{o.size:,}",
            str(o.sequence),
        )
    out.print(table)


@networked
def statement(
    auction_id: AuctionId,
    dealer: Annotated[
        str, typer.Option("--dealer", help="Operators: whose (participant id).")
    ] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    target: Target = "127.0.0.1:50051",
    token: Token = None,
    tls_ca: TlsCa = None,
) -> None:
    """A dealer's settlement statement at the final price (a dealer: its own)."""

    async def call() -> None:
        async with OperatorClient(target, require_token(token), **client_options(tls_ca)) as client:
            found = statement_to_dict(await client.settlement_statement(auction_id, dealer))
        if as_json:
            out.print_json(json.dumps(found))
            return
        table = Table(
            title=f"{found['dealer']}: settlement at {found['final_price']} ({found['currency']})",
            title_justify="left",
        )
        for col in ("trade", "direction", "size", "price", "cash"):
            table.add_column(
                col,
                justify="left" if col in ("trade", "direction") else "right",
                overflow="fold",
            )
        for line in found["lines"]:
            table.add_row(
                line["reference"], line["direction"], line["size"], line["price"], line["cash"]
            )
        out.print(table)
        out.print(
            f"bought {found['bonds_bought']}, sold {found['bonds_sold']}; cash paid "
            f"{found['cash_paid']}, received {found['cash_received']}, net {found['net_cash']}; "
            f"adjustment amount {found['adjustment_amount']}"
            + (
                f" due {found['adjustment_payment_date']}"
                if found["adjustment_payment_date"]
                else ""
            ),
            highlight=False,
        )

    call_server(call)


@networked
def decline(
    auction_id: AuctionId,
    customer: Annotated[str, typer.Option("--customer", help="The customer (LEI or similar).")],
    kind: Annotated[str, typer.Option("--kind", help="PSR or LIMIT_ORDER.")],
    side: Annotated[str, typer.Option("--side", help="BUY/SELL or BID/OFFER.")],
    size: Annotated[int, typer.Option("--size")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept on the record).")],
    client_order_id: ClientOrderId,
    price: Annotated[str, typer.Option("--price", help="Limit orders.")] = "",
    target: Target = "127.0.0.1:50051",
    token: Token = None,
    tls_ca: TlsCa = None,
) -> None:
    """Record that you declined a customer's request (dealer; seen by you and operators)."""

    async def call() -> None:
        async with DealerClient(target, require_token(token), **client_options(tls_ca)) as dealer:
            ack = await dealer.decline_customer_request(
                auction_id,
                client_order_id,
                customer=customer,
                kind=kind,
                side=side,
                size=size,
                price=price,
                reason=reason,
            )
        print_ack(ack, f"decline of {customer}'s {kind} recorded")

    call_server(call)


def register(app: typer.Typer) -> None:
    """Add these commands to the ``closeout cds`` group."""
    app.command("create")(create)
    app.command("open")(open_window)
    app.command("close")(close_window)
    app.command("cancel")(cancel)
    app.command("market")(market)
    app.command("psr")(psr)
    app.command("order")(order)
    app.command("mine")(mine)
    app.command("statement")(statement)
    app.command("decline")(decline)
