"""``closeout serve``: run the Closeout server.

This is the composition root: the one place in ``clients`` allowed to import ``server``, and
only lazily inside the command. Importing at module level would make every ``closeout``
command (and every client-side import of the CLI) load the server, its journal and grpc
server machinery, and would break the rule that nothing imports ``server``.
This module must never hold server logic; it only turns flags into a config and runs it.
"""

from __future__ import annotations

import enum
import sqlite3
from pathlib import Path
from typing import Annotated

import typer

from clients.cli.failure import describe_os_error, fail


class LogFormat(enum.StrEnum):
    """How the server writes its log lines."""

    AUTO = "auto"
    JSON = "json"
    TEXT = "text"


def serve(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="TOML config file (default: $CLOSEOUT_CONFIG, else the built-in local demo).",
            dir_okay=False,
        ),
    ] = None,
    listen: Annotated[
        str | None,
        typer.Option("--listen", help="host:port to listen on (port 0: any free port)."),
    ] = None,
    journal: Annotated[
        str | None,
        typer.Option("--journal", help="Journal: a SQLite file path, or a postgresql:// URL."),
    ] = None,
    standby: Annotated[
        bool,
        typer.Option(
            "--standby",
            help="If another server holds the journal, wait and take over when it stops"
            " (hot standby) instead of refusing to start.",
        ),
    ] = False,
    metrics: Annotated[
        str | None,
        typer.Option(
            "--metrics",
            help="host:port to serve Prometheus metrics on (path /metrics); off by default.",
        ),
    ] = None,
    log_format: Annotated[
        LogFormat,
        typer.Option(
            "--log-format",
            help="auto: readable text on a terminal, one JSON object per line otherwise.",
        ),
    ] = LogFormat.AUTO,
) -> None:
    """Run the auction server until SIGINT/SIGTERM. Without --config: a local demo."""
    from server.app import run
    from server.config import ConfigError, load_config
    from server.journal import JournalCorrupt, JournalLocked, JournalUnavailable, TailLost

    overrides = {
        "listen": listen,
        "journal": journal,
        "standby": standby or None,
        "metrics": metrics,
    }
    try:
        loaded = load_config(config, overrides=overrides)
    except ConfigError as exc:
        fail(f"configuration error: {exc}", 2)
    try:
        status = run(loaded, log_format.value)
    except ConfigError as exc:
        fail(f"cannot start: {exc}", 2)
    except (JournalLocked, JournalUnavailable) as exc:
        fail(f"cannot start: {exc}", 1)
    except TailLost as exc:
        fail(
            f"refusing to start, records are missing: {exc}. Nothing was written."
            " Restore the journal from a backup (docs/deployment.md); do not delete its"
            " .head anchor to force a start: that accepts the loss of acknowledged records.",
            1,
        )
    except JournalCorrupt as exc:
        fail(f"journal is corrupt: {exc}; run 'closeout journal verify'", 1)
    except sqlite3.DatabaseError as exc:
        fail(f"cannot open the journal {loaded.journal}: {exc} (is it a Closeout journal?)", 2)
    except OSError as exc:
        journal_path = Path(loaded.journal).absolute()
        about_journal = exc.filename is not None and (
            Path(exc.filename).absolute() in {journal_path, *journal_path.parents}
        )
        what = f"cannot open the journal {loaded.journal}" if about_journal else "cannot start"
        fail(f"{what}: {describe_os_error(exc)}", 2)
    raise typer.Exit(status)
