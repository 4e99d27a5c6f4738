"""The ``closeout`` command's entry point (``main``) and its Typer ``app``.

The app is composed in ``clients/cli/commands.py`` and loaded lazily, so that ``main`` can quiet
gRPC's own C-core logging (``GRPC_VERBOSITY``) before gRPC is first imported: a failed
command must end in one line of its own on stderr, not in library log lines. This module
must never import gRPC, the server or any command module at import time.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import typer

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point: run the command; any failure is one line and an exit code."""
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")  # GRPC_VERBOSITY=ERROR brings it back
    from clients.cli.failure import run_app

    run_app(sys.argv[1:])


def __getattr__(name: str) -> typer.Typer:
    if name == "app":
        from clients.cli.commands import app

        return app
    raise AttributeError(name)
