"""Options every networked ``closeout`` command shares: where the server is and who we are.

``--target`` (default ``$CLOSEOUT_TARGET`` or 127.0.0.1:50051), ``--token`` (default
``$CLOSEOUT_TOKEN``), ``--tls-ca`` for a TLS server. Also the one way commands run a call
(``call_server``), report a refusal (the status, the message and any field violations, then
exit 1) and print an acknowledgement (``print_ack``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from datetime import UTC
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import grpc.aio
import typer
from rich.console import Console

from clients.errors import field_violations
from closeout.v1 import common_pb2

_T = TypeVar("_T")

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


def call_server(call: Callable[[], Awaitable[_T]]) -> _T:
    """Run one client coroutine; a refused call is printed and exits 1."""
    try:
        return asyncio.run(call())  # type: ignore[arg-type]
    except grpc.aio.AioRpcError as exc:
        refused(exc)


def print_ack(ack: common_pb2.Ack, what: str) -> None:
    """One line for an acknowledged command: its sequence number and acceptance time."""
    at = ack.accepted_at.ToDatetime(tzinfo=UTC).isoformat()
    Console().print(
        f"{what}: accepted as #{ack.sequence} at {at}"
        + (f" ({ack.client_order_id})" if ack.client_order_id else ""),
        highlight=False,
    )
