"""``closeout journal verify PATH``: check a journal's hash chain offline.

Like ``closeout serve`` this command imports ``server.journal`` lazily inside the command:
the verifier is the journal's own code (one definition of the chain), and the import stays
out of every other ``closeout`` command. This module must never write to a journal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Inspect the server's journal.", no_args_is_help=True)
_out = Console()


@app.command()
def verify(
    path: Annotated[Path, typer.Argument(help="Journal file (SQLite).", dir_okay=False)],
    head: Annotated[
        str | None,
        typer.Option(
            "--head",
            help="A head hash recorded earlier (GetServerInfo); detects a cut-off tail.",
        ),
    ] = None,
) -> None:
    """Recompute the hash chain; exit 1 and name the first bad record if it is broken."""
    from server.journal import verify as verify_journal

    report = verify_journal(path, expected_head=head)
    table = Table(show_header=False, box=None)
    table.add_row("journal", str(report.path))
    table.add_row("records", str(report.records))
    table.add_row("head sequence", str(report.head_seq))
    table.add_row("head hash", report.head_hash)
    _out.print(table)
    if report.ok:
        _out.print("[green]OK[/green]: the hash chain is intact")
        return
    where = f"record {report.first_bad_seq}: " if report.first_bad_seq is not None else ""
    _out.print(f"[red]BROKEN[/red]: {where}{report.problem}", highlight=False)
    raise typer.Exit(1)
