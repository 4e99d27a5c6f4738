"""Options every networked ``closeout`` command shares: where the server is and who we are.

``--target`` (default ``$CLOSEOUT_TARGET`` or 127.0.0.1:50051; ``a:1,b:2`` for a primary and
its standbys), ``--token`` (default ``$CLOSEOUT_TOKEN``), ``--tls-ca`` for a TLS server.
:func:`networked` adds the rest to a command: ``--tls-cert``/``--tls-key`` (mutual TLS),
``--tls-server-name`` and ``--timeout`` (seconds per call, ``$CLOSEOUT_TIMEOUT``), which
:func:`client_options` turns, with ``--tls-ca``, into the SDK's keyword arguments.

Also the one way commands run a call (``call_server``): a refusal prints its status, message
and field violations and exits 1; a server that cannot be reached prints one line naming
the target and the likely cause and exits 1; unreadable TLS files and malformed targets
exit 2. ``print_ack`` prints an acknowledgement.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Annotated, Any, NoReturn, ParamSpec, TypeVar

import grpc.aio
import typer
from rich.console import Console

from clients.channel import DEFAULT_TIMEOUT, InvalidTarget
from clients.cli.failure import fail
from clients.errors import field_violations
from closeout.v1 import common_pb2

_T = TypeVar("_T")
_P = ParamSpec("_P")

DEFAULT_TARGET = "127.0.0.1:50051"

Target = Annotated[
    str,
    typer.Option(
        "--target",
        help="Server host:port; several comma-separated: a primary, then its standbys.",
        envvar="CLOSEOUT_TARGET",
    ),
]
Token = Annotated[
    str | None,
    typer.Option("--token", help="Bearer token.", envvar="CLOSEOUT_TOKEN", show_default=False),
]
TlsCa = Annotated[
    Path | None,
    typer.Option(
        "--tls-ca",
        help="PEM root certificate(s) to trust: talk TLS to the server.",
        envvar="CLOSEOUT_CA",
        dir_okay=False,
    ),
]
TlsCert = Annotated[
    Path | None,
    typer.Option(
        "--tls-cert",
        help="PEM client certificate, for a server that requires mutual TLS.",
        envvar="CLOSEOUT_CLIENT_CERT",
        dir_okay=False,
    ),
]
TlsKey = Annotated[
    Path | None,
    typer.Option(
        "--tls-key",
        help="PEM private key of --tls-cert.",
        envvar="CLOSEOUT_CLIENT_KEY",
        dir_okay=False,
    ),
]
TlsServerName = Annotated[
    str | None,
    typer.Option(
        "--tls-server-name",
        help="Check the server's certificate against this name instead of the target host.",
    ),
]
Timeout = Annotated[
    float,
    typer.Option(
        "--timeout",
        help="Seconds to wait for each answer from the server.",
        envvar="CLOSEOUT_TIMEOUT",
        min=0.001,
    ),
]


@dataclass(frozen=True)
class _Extra:
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_server_name: str | None = None
    timeout: float = DEFAULT_TIMEOUT


_extra: ContextVar[_Extra | None] = ContextVar("closeout_connection_options", default=None)
_EXTRA_PARAMETERS = [
    inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=kind)
    for name, kind, default in (
        ("tls_cert", TlsCert, None),
        ("tls_key", TlsKey, None),
        ("tls_server_name", TlsServerName, None),
        ("timeout", Timeout, DEFAULT_TIMEOUT),
    )
]


def networked(command: Callable[_P, _T]) -> Callable[_P, _T]:
    """Give a command that talks to a server ``--tls-cert``, ``--tls-key``,
    ``--tls-server-name`` and ``--timeout``; :func:`client_options` reads them."""
    signature = inspect.signature(command, eval_str=True)

    @functools.wraps(command)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        given: dict[str, Any] = {p.name: kwargs.pop(p.name, p.default) for p in _EXTRA_PARAMETERS}
        extra = _Extra(**given)
        reset = _extra.set(extra)
        try:
            return command(*args, **kwargs)
        finally:
            _extra.reset(reset)

    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), *_EXTRA_PARAMETERS]
    )
    return wrapper


def _read_pem(path: Path, what: str, marker: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        fail(f"cannot read the {what} {path}: {exc.strerror or exc}", 2)
    if marker.encode() not in data:
        fail(f"{path} is not a PEM {what} (no '{marker}' line)", 2)
    return data


def client_options(tls_ca: Path | None) -> dict[str, Any]:
    """The SDK keyword arguments for ``--tls-ca`` and the options :func:`networked` added:
    TLS material (read and checked here), server name and deadline."""
    extra = _extra.get() or _Extra()
    options: dict[str, Any] = {"timeout": extra.timeout}
    if (extra.tls_cert is None) != (extra.tls_key is None):
        fail("--tls-cert and --tls-key go together (the client certificate and its key)", 2)
    if tls_ca is None and (extra.tls_cert is not None or extra.tls_server_name):
        fail("--tls-cert, --tls-key and --tls-server-name need --tls-ca (TLS)", 2)
    if tls_ca is not None:
        options["root_certificates"] = _read_pem(tls_ca, "CA certificate", "BEGIN CERTIFICATE")
    if extra.tls_cert is not None and extra.tls_key is not None:
        options["certificate_chain"] = _read_pem(
            extra.tls_cert, "client certificate", "BEGIN CERTIFICATE"
        )
        options["private_key"] = _read_pem(extra.tls_key, "client key", "PRIVATE KEY")
    if extra.tls_server_name:
        options["server_name"] = extra.tls_server_name
    return options


def require_token(token: str | None) -> str:
    """The token, or exit 2 saying how to give one."""
    if not token:
        fail("a token is needed: --token or $CLOSEOUT_TOKEN", 2)
    return token


def root_certificates(path: Path | None) -> bytes | None:
    """The PEM bytes of ``--tls-ca``, or None for a plain-text channel."""
    return None if path is None else _read_pem(path, "CA certificate", "BEGIN CERTIFICATE")


def refused(exc: grpc.aio.AioRpcError) -> NoReturn:
    """Print a refused call (its status, message and field violations) and exit 1."""
    err = Console(stderr=True, soft_wrap=True)
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
    """Run one client coroutine; a refused call is printed and exits 1, a malformed target
    exits 2."""
    try:
        return asyncio.run(call())  # type: ignore[arg-type]
    except grpc.aio.AioRpcError as exc:
        refused(exc)
    except InvalidTarget as exc:
        fail(str(exc), 2)


def print_ack(ack: common_pb2.Ack, what: str) -> None:
    """One line for an acknowledged command: its sequence number and acceptance time."""
    at = ack.accepted_at.ToDatetime(tzinfo=UTC).isoformat()
    Console().print(
        f"{what}: accepted as #{ack.sequence} at {at}"
        + (f" ({ack.client_order_id})" if ack.client_order_id else ""),
        highlight=False,
    )
