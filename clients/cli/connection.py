"""Options every networked ``closeout`` command shares: where the server is and who we are.

``--target`` (default ``$CLOSEOUT_TARGET`` or 127.0.0.1:50051), ``--token`` (default
``$CLOSEOUT_TOKEN``), ``--tls-ca`` for a TLS server. Also the one way commands report a
refused call: the status, the message and any field violations, then exit 1.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, NoReturn

import grpc.aio
import typer
from rich.console import Console

from clients.errors import field_violations

DEFAULT_TARGET = "127.0.0.1:50051"

Target = Annotated[
    str,
    typer.Option("--target", help="Server host:port.", envvar="CLOSEOUT_TARGET"),
]
Token = Annotated[
    str | None,
    typer.Option("--token", help="Bearer token.", envvar="CLOSEOUT_TOKEN", show_default=False),
]
TlsCa = Annotated[
    Path | None,
    typer.Option("--tls-ca", help="PEM root certificate of a TLS server.", dir_okay=False),
]


def require_token(token: str | None) -> str:
    """The token, or exit 2 saying how to give one."""
    if not token:
        Console(stderr=True).print("a token is needed: --token or $CLOSEOUT_TOKEN")
        raise typer.Exit(2)
    return token


def root_certificates(path: Path | None) -> bytes | None:
    """The PEM bytes of ``--tls-ca``, or None for a plain-text channel."""
    return None if path is None else path.read_bytes()


def refused(exc: grpc.aio.AioRpcError) -> NoReturn:
    """Print a refused call and exit 1."""
    err = Console(stderr=True)
    err.print(f"[bold red]{exc.code().name}[/] {exc.details()}", highlight=False)
    for v in field_violations(exc):
        line = f"{v.field}: {v.description}"
        if line != exc.details():
            err.print(f"  {line}", highlight=False)
    raise typer.Exit(1)


def default_target() -> str:
    """``$CLOSEOUT_TARGET`` or the demo address."""
    return os.environ.get("CLOSEOUT_TARGET", DEFAULT_TARGET)
