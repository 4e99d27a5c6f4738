"""``closeout auctions | watch | results``: what operators (and observers) look at."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from clients.cli.cds import show, show_public
from clients.cli.connection import (
    Target,
    TlsCa,
    Token,
    call_server,
    client_options,
    networked,
    require_token,
)
from clients.results import phase_name, public_result_to_dict, result_to_dict, side_name
from clients.sdk import OperatorClient
from clients.tables import Table


@networked
def auctions(target: Target = "127.0.0.1:50051", token: Token = None, tls_ca: TlsCa = None) -> None:
    """List the auctions on the server."""

    async def go() -> None:
        async with OperatorClient(target, require_token(token), **client_options(tls_ca)) as client:
            found = await client.list_auctions()
        table = Table(title="Auctions", title_justify="left")
        for col in ("auction", "phase", "currency", "quotation", "panel", "events"):
            table.add_column(col, overflow="fold")
        for a in found:
            p = a.parameters
            table.add_row(
                p.auction_id,
                phase_name(a.phase),
                p.currency,
                f"{p.quotation_amount:,}",
                str(len(a.panel)),
                str(a.last_sequence),
            )
        Console().print(table)

    call_server(go)


@networked
def results(
    auction_id: Annotated[str, typer.Argument(help="Auction id (or the set's, with --set).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    public: Annotated[
        bool,
        typer.Option("--public", help="The public results (creditfixings shape, no customers)."),
    ] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="With --public: print CSV.")] = False,
    auction_set: Annotated[
        bool, typer.Option("--set", help="With --public: every auction of this auction set.")
    ] = False,
    target: Target = "127.0.0.1:50051",
    token: Token = None,
    tls_ca: TlsCa = None,
) -> None:
    """Print an auction's publication so far (``--public``: what is published)."""
    if (as_csv or auction_set) and not public:
        Console(stderr=True).print("--csv and --set go with --public")
        raise typer.Exit(2)

    async def go() -> None:
        async with OperatorClient(target, require_token(token), **client_options(tls_ca)) as client:
            if public:
                found = await client.public_results(
                    auction_id="" if auction_set else auction_id,
                    auction_set=auction_id if auction_set else "",
                )
                show_public(
                    [public_result_to_dict(r) for r in found], as_json, as_csv, many=auction_set
                )
                return
            result = await client.results(auction_id)
        show(result_to_dict(result), [], as_json, Console())

    call_server(go)


@networked
def watch(
    auction_id: Annotated[str, typer.Argument(help="Auction id.")],
    after: Annotated[int, typer.Option("--after", help="Resume after this sequence.")] = 0,
    target: Target = "127.0.0.1:50051",
    token: Token = None,
    tls_ca: TlsCa = None,
) -> None:
    """Follow an auction's events until it ends (Ctrl-C to stop)."""
    out = Console()

    async def go() -> None:
        async with OperatorClient(target, require_token(token), **client_options(tls_ca)) as client:
            async for e in client.watch(auction_id, after):
                detail = []
                if e.HasField("stage1"):
                    s = e.stage1
                    side = "" if not s.open_interest_side else side_name(s.open_interest_side)
                    detail.append(
                        s.failure
                        or f"IMM {s.initial_market_midpoint}, open interest "
                        f"{s.open_interest_size:,} {side}".rstrip()
                    )
                if e.final_price:
                    detail.append(f"final price {e.final_price}")
                if e.client_order_id:
                    detail.append(f"ack {e.client_order_id}")
                if e.my_adjustment_amount:
                    detail.append(f"my adjustment {e.my_adjustment_amount}")
                detail.extend(f"fill {f.order_id} {f.size:,} @ {f.price}" for f in e.my_fills)
                if e.reason:
                    detail.append(e.reason)
                out.print(
                    f"{e.sequence:>6} {e.at.ToDatetime().isoformat()} "
                    f"{phase_name(e.phase):<14} {e.type:<20} {'; '.join(detail)}",
                    highlight=False,
                )

    call_server(go)
