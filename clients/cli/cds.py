"""``closeout cds``: CDS settlement auctions from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from clients.cli import cds_live
from clients.cli.connection import TlsCa, call_server, client_options, networked
from clients.cli.failure import fail
from clients.online import load_credentials, run_online, run_set_online
from clients.render import render_cds_result
from clients.replay import run_offline, run_set_offline
from clients.scenario import (
    ScenarioError,
    ScenarioSet,
    describe,
    is_auction_set,
    load_scenario,
    parse_auction_set,
    read_text,
)
from matching.cds.publication import public_result
from matching.cds.settlement import cash_settlement
from matching.errors import DomainError

app = typer.Typer(help="CDS credit-event settlement auctions.", no_args_is_help=True)


@app.command("run")
@networked
def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario JSON (see examples/cds/).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    target: Annotated[
        str | None,
        typer.Option("--target", help="Play it through the server at HOST:PORT instead."),
    ] = None,
    tokens: Annotated[
        Path | None,
        typer.Option(
            "--tokens", help="With --target: TOML mapping dealers to tokens.", dir_okay=False
        ),
    ] = None,
    auction_id: Annotated[
        str | None,
        typer.Option("--auction-id", help="With --target: create under this id instead."),
    ] = None,
    public: Annotated[
        bool, typer.Option("--public", help="Offline: print the public results instead.")
    ] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="With --public: print CSV.")] = False,
    tls_ca: TlsCa = None,
) -> None:
    """Run a whole auction from a scenario file (offline, or through a live server)."""
    out = Console()
    err = Console(stderr=True, soft_wrap=True)
    if (public or as_csv) and target is not None:
        err.print("--public and --csv are offline; online: closeout results --public")
        raise typer.Exit(2)
    if as_csv and not public:
        err.print("--csv goes with --public")
        raise typer.Exit(2)
    try:
        text = read_text(scenario)
        if is_auction_set(text, str(scenario)):
            run_set(parse_auction_set(text, source=str(scenario)), as_json, public, as_csv, target,
                    tokens, tls_ca)  # fmt: skip
            return
        parsed = load_scenario(scenario)
        if target is None:
            replay = run_offline(parsed)
            if public:
                assert replay.auction is not None
                show_public([public_result(replay.auction).to_dict()], as_json, as_csv)
                return
            result, notes = replay.result.to_dict(), replay.notes
        else:
            if tokens is None:
                err.print("--target needs --tokens (see examples/server/scenario-tokens.toml)")
                raise typer.Exit(2)
            credentials = load_credentials(tokens)
            options = client_options(tls_ca)
            result, notes = call_server(
                lambda: run_online(parsed, target, credentials, auction_id=auction_id, **options)
            )
    except ScenarioError as exc:
        err.print(
            f"[bold red]scenario refused[/] {exc.where}: {exc.message}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(2) from None
    except DomainError as exc:  # a rule of the engine the scenario file breaks
        fail(f"scenario refused {scenario}: {exc}", 2)
    show(result, notes, as_json, out)


def run_set(
    scenarios: ScenarioSet,
    as_json: bool,
    public: bool,
    as_csv: bool,
    target: str | None,
    tokens: Path | None,
    tls_ca: Path | None,
) -> None:
    """Run every auction of a set (offline or on a server) and print them together."""
    out = Console()
    if target is None:
        replays = run_set_offline(scenarios)
        if public:
            published = [public_result(r.auction).to_dict() for r in replays if r.auction]
            show_public(published, as_json, as_csv, many=True)
            return
        results = [r.result.to_dict() for r in replays]
        notes = [n for r in replays for n in r.notes]
    else:
        if tokens is None:
            fail("--target needs --tokens", 2)
        credentials = load_credentials(tokens)
        options = client_options(tls_ca)
        results, notes = call_server(
            lambda: run_set_online(scenarios, target, credentials, **options)
        )
    if as_json:
        out.print_json(
            json.dumps({"auction_set": scenarios.set_id, "auctions": results, "notes": notes})
        )
        return
    for result in results:
        render_cds_result(result, out)
    for note in notes:
        out.print(f"note: {note}", highlight=False)


def show_public(
    found: list[dict[str, Any]], as_json: bool, as_csv: bool, *, many: bool = False
) -> None:
    """Print public results as JSON, CSV or tables."""
    from clients.render import public_csv, render_public_result

    out = Console()
    if as_csv:
        sys.stdout.write(public_csv(found))
    elif as_json:
        out.print_json(json.dumps(found if many else found[0]))
    else:
        for result in found:
            render_public_result(result, out)


def show(result: dict[str, Any], notes: list[str], as_json: bool, out: Console) -> None:
    """Print a result dict as JSON or as tables (JSON is written as is: an auction of 90,000
    orders is tens of megabytes, too much to pass through rich's highlighter)."""
    if as_json:
        out.file.write(json.dumps({**result, "notes": notes}, indent=2) + "\n")
        return
    render_cds_result(result, out)
    for note in notes:
        out.print(f"note: {note}", highlight=False)


@app.command("cash-settlement")
def cash_settlement_command(
    final_price: Annotated[str, typer.Option("--final-price", help="Auction final price.")],
    notional: Annotated[
        list[str], typer.Option("--notional", help="Notional of a CDS trade (repeatable).")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """What the protection seller pays on each notional: notional x (100 - min(final, 100))%."""
    err = Console(stderr=True)
    try:
        rows = [(n, cash_settlement(n, final_price)) for n in notional]
    except DomainError as exc:
        err.print(f"[bold red]refused[/] {describe(exc)}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    out = Console()
    if as_json:
        out.print_json(
            json.dumps(
                {
                    "final_price": final_price,
                    "trades": [{"notional": n, "seller_pays": owed} for n, owed in rows],
                }
            )
        )
        return
    for n, owed in rows:
        out.print(f"notional {n}: protection seller pays {owed}", highlight=False)


cds_live.register(app)
