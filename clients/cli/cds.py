"""``closeout cds``: CDS settlement auctions from the command line."""

from __future__ import annotations

import typer

app = typer.Typer(help="CDS credit-event settlement auctions.", no_args_is_help=True)
