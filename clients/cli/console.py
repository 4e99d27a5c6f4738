"""``closeout console``: serve the operator console and the public results pages.

Turns flags into a :class:`clients.console.app.ConsoleConfig` and runs the app under uvicorn
until SIGINT/SIGTERM. This module must never hold console logic, and never print a token.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from clients.cli.connection import DEFAULT_TARGET

_err = Console(stderr=True)


def console(
    server: Annotated[
        str,
        typer.Option("--server", help="host:port of closeout serve.", envvar="CLOSEOUT_TARGET"),
    ] = DEFAULT_TARGET,
    listen: Annotated[
        str, typer.Option("--listen", help="host:port the console listens on (HTTP).")
    ] = "127.0.0.1:8080",
    public_token: Annotated[
        str | None,
        typer.Option(
            "--public-token",
            help="An observer's token the console reads public results with"
            " (without it /results pages answer 503).",
            envvar="CLOSEOUT_PUBLIC_TOKEN",
            show_default=False,
        ),
    ] = None,
    tls_ca: Annotated[
        Path | None,
        typer.Option("--tls-ca", help="PEM root certificate of a TLS server.", dir_okay=False),
    ] = None,
    secure_cookies: Annotated[
        bool,
        typer.Option(
            "--secure-cookies", help="Mark the session cookie Secure (behind an HTTPS proxy)."
        ),
    ] = False,
) -> None:
    """Run the web console for operators and observers, and the public results pages."""
    import uvicorn

    from clients.console.app import ConsoleConfig, build_app

    host, sep, port_text = listen.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        _err.print(f"--listen: expected host:port, got {listen!r}")
        raise typer.Exit(2)
    config = ConsoleConfig(
        server=server,
        public_token=public_token,
        root_certificates=tls_ca.read_bytes() if tls_ca else None,
        secure_cookies=secure_cookies,
    )
    _err.print(
        f"closeout console on http://{host}:{port_text}/ for the server at {server}"
        + ("" if public_token else " (public results off: --public-token)"),
        highlight=False,
    )
    uvicorn.run(
        build_app(config),
        host=host.strip("[]"),
        port=int(port_text),
        log_level="info",
        proxy_headers=False,
        server_header=False,
    )
