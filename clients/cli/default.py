"""``closeout default``: play a whole clearing-house default from a scenario file.

``closeout default run SCENARIO.json`` loads members, positions and collateral, runs the
margin call with the pricing library, declares the default, converts the positions, runs
each lot's sealed-bid auction and settles it, all offline through the pure engines
(``clients.default_replay``), and prints tables or ``--json``; with ``--target`` and
``--tokens`` the same scenario plays through a live server (``clients.default_online``).
A refused scenario exits 2 naming the entry. The format is in ``examples/default/README.md``.
The commands that run a default by hand on a server are in ``clients/cli/default_live.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from clients.cli import default_live
from clients.cli.connection import networked
from clients.cli.failure import fail
from clients.default_render import (
    grades_csv,
    instructions_csv,
    instructions_json,
    render_default_result,
)
from clients.default_replay import run_default
from clients.default_scenario import load_default_scenario
from clients.scenario import ScenarioError
from matching.errors import DomainError

app = typer.Typer(help="Clearing-house default management.", no_args_is_help=True)


@app.command("run")
@networked
def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario JSON (see examples/default/).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    csv_out: Annotated[
        Path | None,
        typer.Option("--instructions-csv", help="Write the settlement instructions as CSV."),
    ] = None,
    json_out: Annotated[
        Path | None,
        typer.Option("--instructions-json", help="Write the settlement instructions as JSON."),
    ] = None,
    grades_out: Annotated[
        Path | None,
        typer.Option("--grades-csv", help="Write the bid grades (for loss allocation) as CSV."),
    ] = None,
    journal_out: Annotated[
        Path | None,
        typer.Option("--journal", help="Write every event (clearing and auctions) as JSON lines."),
    ] = None,
    target: Annotated[
        str | None, typer.Option("--target", help="Play it through this server (HOST:PORT).")
    ] = None,
    tokens: Annotated[
        Path | None, typer.Option("--tokens", help="With --target: operator and member tokens.")
    ] = None,
    tls_ca: Annotated[
        Path | None, typer.Option("--tls-ca", help="With --target: the server's PEM root.")
    ] = None,
) -> None:
    """Run a whole default from a scenario file, offline or (--target) on a server."""
    out = Console()
    err = Console(stderr=True, soft_wrap=True)
    if target is not None and (tokens is None or journal_out is not None):
        err.print("--target needs --tokens (and keeps its journal on the server: no --journal)")
        raise typer.Exit(2)
    try:
        loaded = load_default_scenario(scenario)
        if target is not None and tokens is not None:
            result, notes = default_live.run_online(loaded, target, tokens, tls_ca)
            _output(result, notes, as_json, csv_out, json_out, grades_out, out)
            return
        replay = run_default(loaded)
    except ScenarioError as exc:
        err.print(
            f"[bold red]scenario refused[/] {exc.where}: {exc.message}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(2) from None
    except DomainError as exc:  # a rule of the engine the scenario file breaks
        fail(f"scenario refused {scenario}: {exc}", 2)
    if journal_out is not None:
        lines = [json.dumps({"journal": "clearing", **e.to_dict()}) for e in replay.clearing_events]
        for events in replay.auction_events.values():
            lines += [json.dumps({"journal": "auction", **e.to_dict()}) for e in events]
        journal_out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _output(replay.result, replay.notes, as_json, csv_out, json_out, grades_out, out)


def _output(
    result: dict[str, Any],
    notes: list[str],
    as_json: bool,
    csv_out: Path | None,
    json_out: Path | None,
    grades_out: Path | None,
    out: Console,
) -> None:
    if csv_out is not None:
        csv_out.write_text(instructions_csv(result), encoding="utf-8")
    if json_out is not None:
        json_out.write_text(instructions_json(result), encoding="utf-8")
    if grades_out is not None:
        grades_out.write_text(grades_csv(result), encoding="utf-8")
    if as_json:
        out.print_json(json.dumps({**result, "notes": notes}))
        return
    render_default_result(result, out)
    for note in notes:
        out.print(f"note: {note}", highlight=False)


default_live.register(app)
