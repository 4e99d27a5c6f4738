"""``closeout journal verify|export|import|backup``: operate on a journal offline or live.

A journal is a SQLite file (a path, or ``sqlite:///path``) or a PostgreSQL URL
(``postgresql://user@host/db``; put the password in ``~/.pgpass`` or ``$PGPASSWORD``, not on
the command line). ``verify``, ``export`` and ``backup`` only read and are safe while a
server writes the journal; ``import`` writes an empty journal and takes its writer lock.

Like ``closeout serve`` this command imports ``server.journal*`` lazily inside each command:
the verifier is the journal's own code (one definition of the chain), and the import stays
out of every other ``closeout`` command. This module must never write to a journal except
through ``import``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from clients.tables import Table

if TYPE_CHECKING:
    from server.journal_tools import Copied

app = typer.Typer(help="Inspect, copy and back up the server's journal.", no_args_is_help=True)
_out = Console()
_err = Console(stderr=True)

Location = Annotated[
    str, typer.Argument(help="Journal: a SQLite file path, or a postgresql:// URL.")
]


def _fail(what: str, exc: Exception) -> typer.Exit:
    _err.print(f"[red]{what}:[/red] {exc}", highlight=False)
    return typer.Exit(1)


def _show(copied: Copied, what: str) -> None:
    _out.print(
        f"{what}: {copied.records} records, head #{copied.head_seq} {copied.head_hash}",
        highlight=False,
    )


@app.command()
def verify(
    journal: Location,
    head: Annotated[
        str | None,
        typer.Option(
            "--head",
            help="A head hash recorded elsewhere (GetServerInfo); detects a cut-off tail.",
        ),
    ] = None,
) -> None:
    """Recompute the hash chain and check the tail anchor; exit 1 naming the first problem."""
    from server.journal import verify as verify_journal

    report = verify_journal(journal, expected_head=head)
    table = Table(show_header=False, box=None)
    table.add_row("journal", report.location)
    table.add_row("records", str(report.records))
    table.add_row("head sequence", str(report.head_seq))
    table.add_row("head hash", report.head_hash)
    _out.print(table)
    if report.ok:
        _out.print("[green]OK[/green]: the hash chain is intact and ends at its anchor")
        return
    where = f"record {report.first_bad_seq}: " if report.first_bad_seq is not None else ""
    _out.print(f"[red]BROKEN[/red]: {where}{report.problem}", highlight=False)
    raise typer.Exit(1)


@app.command()
def export(
    journal: Location,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Write here (must not exist) instead of stdout.", dir_okay=False
        ),
    ] = None,
) -> None:
    """Every record as JSON Lines (exact payloads and hashes), checked as it is read."""
    from server.journal import JournalError
    from server.journal_tools import export as export_journal

    try:
        if out is None:
            export_journal(journal, sys.stdout)
            return
        with out.open("x", encoding="utf-8") as file:
            copied = export_journal(journal, file)
    except (JournalError, OSError) as exc:
        raise _fail("export failed", exc) from None
    _err.print(f"exported {copied.records} records to {out}", highlight=False)


@app.command("import")
def import_(
    source: Annotated[
        str, typer.Argument(help="An export file, or a journal (SQLite path / postgresql:// URL).")
    ],
    target: Annotated[
        str, typer.Argument(help="An EMPTY journal to fill (created if it does not exist).")
    ],
) -> None:
    """Copy records into an empty journal, re-verifying the chain: SQLite -> PostgreSQL
    migration, or restoring a backup. Stop the server that uses TARGET first."""
    from server.journal import JournalError
    from server.journal_tools import import_records

    source_path = Path(source)
    try:
        copied = import_records(source_path if source_path.is_file() else source, target)
    except (JournalError, OSError, ValueError) as exc:
        raise _fail("import failed", exc) from None
    _show(copied, "imported")


@app.command()
def backup(
    dest: Annotated[
        Path, typer.Argument(help="Backup file to create (never overwritten).", dir_okay=False)
    ],
    journal: Annotated[
        str,
        typer.Option(
            "--journal",
            help="The journal to back up (SQLite path or postgresql:// URL).",
            envvar="CLOSEOUT_JOURNAL",
        ),
    ],
) -> None:
    """A consistent, verified copy while the server runs (SQLite: a journal file; PostgreSQL:
    an export). Restore with 'closeout journal import DEST NEW_JOURNAL'."""
    from server.journal import JournalError
    from server.journal_tools import backup as backup_journal

    try:
        copied = backup_journal(journal, dest)
    except (JournalError, OSError, ValueError) as exc:
        raise _fail("backup failed", exc) from None
    _show(copied, f"backed up to {dest}")
