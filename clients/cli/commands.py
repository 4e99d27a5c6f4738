"""The ``closeout`` command: one Typer app, each command group in its own module.

Groups register themselves here and nowhere else, so adding a group is one import and one
``add_typer`` line.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer

from clients.cli import bench, cds, ops, price
from clients.cli import console as console_cli
from clients.cli import default as default_cli
from clients.cli import journal as journal_cli
from clients.cli import serve as serve_cli

app = typer.Typer(
    name="closeout",
    help="Closeout: auction matching server for the moments after a default.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _print_version(wanted: bool) -> None:
    if wanted:
        try:
            installed = version("closeout")
        except PackageNotFoundError:  # run from a checkout that was never installed
            installed = "(not installed)"
        print(f"closeout {installed}")
        raise typer.Exit()


@app.callback()
def closeout(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """Closeout: auction matching server for the moments after a default."""


app.add_typer(bench.app, name="bench")
app.add_typer(cds.app, name="cds")
app.add_typer(default_cli.app, name="default")
app.add_typer(journal_cli.app, name="journal")
app.add_typer(price.app, name="price")
app.command(name="serve")(serve_cli.serve)
app.command(name="console")(console_cli.console)
app.command(name="auctions")(ops.auctions)
app.command(name="results")(ops.results)
app.command(name="watch")(ops.watch)
