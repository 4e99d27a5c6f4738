"""``closeout default``: play a whole clearing-house default from a scenario file.

``closeout default run SCENARIO.json`` loads members, positions and collateral, runs the
margin call with the pricing library, declares the default, converts the positions, runs
each lot's sealed-bid auction and settles it, all offline through the pure engines
(``clients.default_replay``), and prints tables or ``--json``. A refused scenario exits 2
naming the entry. The format is in ``examples/default/README.md``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from clients.default_render import (
    grades_csv,
    instructions_csv,
    instructions_json,
    render_default_result,
)
from clients.default_replay import run_default
from clients.default_scenario import load_default_scenario
from clients.scenario import ScenarioError

app = typer.Typer(help="Clearing-house default management (offline).", no_args_is_help=True)


@app.command("run")
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
) -> None:
    """Run a whole default from a scenario file, offline."""
    out = Console()
    err = Console(stderr=True)
    try:
        replay = run_default(load_default_scenario(scenario))
    except ScenarioError as exc:
        err.print(
            f"[bold red]scenario refused[/] {exc.where}: {exc.message}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(2) from None
    result = replay.result
    if csv_out is not None:
        csv_out.write_text(instructions_csv(result), encoding="utf-8")
    if json_out is not None:
        json_out.write_text(instructions_json(result), encoding="utf-8")
    if grades_out is not None:
        grades_out.write_text(grades_csv(result), encoding="utf-8")
    if journal_out is not None:
        lines = [json.dumps({"journal": "clearing", **e.to_dict()}) for e in replay.clearing_events]
        for events in replay.auction_events.values():
            lines += [json.dumps({"journal": "auction", **e.to_dict()}) for e in events]
        journal_out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    if as_json:
        out.print_json(json.dumps({**result, "notes": replay.notes}))
        return
    render_default_result(result, out)
    for note in replay.notes:
        out.print(f"note: {note}", highlight=False)
