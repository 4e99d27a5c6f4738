"""``closeout price``: price swaps and convert defaulted positions from a JSON file.

Offline: the file is parsed by ``pricing.inputs`` and priced by the pure library, no server
involved. Bad input is refused with the offending field named and exit status 2. The input
format is documented in ``examples/pricing/README.md``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from clients.tables import Table
from pricing.errors import PricingInputError
from pricing.inputs import Request, parse_request
from pricing.report import convert_request, price_request

app = typer.Typer(help="Swap pricing and default conversion (offline).", no_args_is_help=True)

InputArg = Annotated[Path, typer.Argument(help="Request JSON (see examples/pricing/).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def _load(path: Path, convert: bool) -> Request:
    err = Console(stderr=True, soft_wrap=True)
    try:
        data = json.loads(path.read_text())
        return parse_request(data, convert=convert)
    except PricingInputError as exc:
        err.print(f"[bold red]input refused[/] {exc.field}: {exc.message}", highlight=False)
    except json.JSONDecodeError as exc:
        err.print(f"[bold red]input refused[/] not JSON: {exc}", highlight=False)
    except OSError as exc:
        err.print(f"[bold red]cannot read[/] {path}: {exc.strerror}", highlight=False)
    raise typer.Exit(2)


def _run(request: Request, convert: bool) -> dict[str, Any]:
    try:
        return convert_request(request) if convert else price_request(request)
    except PricingInputError as exc:
        Console(stderr=True, soft_wrap=True).print(
            f"[bold red]input refused[/] {exc.field}: {exc.message}", highlight=False
        )
        raise typer.Exit(2) from None


def _cell(column: str, text: str) -> str:
    # Tables show rates in percent and factors to 5 places; --json keeps full precision.
    if column.endswith("par_rate") or column.endswith("fixed_rate"):
        return f"{float(text) * 100:.5f}%"
    if column.endswith("svf"):
        return f"{float(text):.5f}"
    return text


def _table(result: dict[str, Any], columns: list[str], title: str) -> Table:
    table = Table(title=title, caption=f"curve {result['curve_id']}")
    for col in columns:
        table.add_column(
            col, justify="left" if col in ("id", "side", "standard") else "right", overflow="fold"
        )
    for row in result["swaps"]:
        table.add_row(*(_cell(c, str(row[c])) for c in columns))
    return table


@app.command("swaps")
def swaps(path: InputArg, as_json: JsonOpt = False) -> None:
    """NPV, par rate, SVF, PV01 and DV01 of each swap."""
    result = _run(_load(path, convert=False), convert=False)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    title = f"Swaps valued {result['valuation_date']} ({result['interpolation']})"
    cols = ["id", "side", "maturity", "npv", "par_rate", "svf", "pv01", "dv01"]
    Console().print(_table(result, cols, title))


@app.command("convert")
def convert(path: InputArg, as_json: JsonOpt = False) -> None:
    """Standard tenor, RCV and implied bid of each defaulted swap."""
    result = _run(_load(path, convert=True), convert=True)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    title = f"Conversion {result['valuation_date']} ({result['rcv_convention']})"
    cols = ["id", "side", "npv", "svf", "standard", "standard_npv", "rcv", "implied_bid"]
    cols += ["residual_dv01", "hedge_notional"]
    Console().print(_table(result, cols, title))
