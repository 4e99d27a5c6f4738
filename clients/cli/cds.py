"""``closeout cds``: CDS settlement auctions from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from clients.render import render_cds_result
from clients.replay import run_offline
from clients.scenario import ScenarioError, load_scenario

app = typer.Typer(help="CDS credit-event settlement auctions.", no_args_is_help=True)


@app.command("run")
def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario JSON (see examples/cds/).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Run a whole auction from a scenario file and print the result."""
    out = Console()
    err = Console(stderr=True)
    try:
        replay = run_offline(load_scenario(scenario))
    except ScenarioError as exc:
        err.print(
            f"[bold red]scenario refused[/] {exc.where}: {exc.message}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(2) from None
    result = replay.result.to_dict()
    if as_json:
        result["notes"] = replay.notes
        out.print_json(json.dumps(result))
        return
    render_cds_result(result, out)
    for note in replay.notes:
        out.print(f"note: {note}", highlight=False)
