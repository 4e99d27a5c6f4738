"""How a ``closeout`` command fails: one line on stderr and a non-zero exit, never a traceback.

Commands call :func:`fail` with a message that says what went wrong and, where it can, what
to do about it. :func:`run_app` runs the Typer app and is the last line of defence: a usage
error becomes one line with the way to help, a file that cannot be read names the file, and
anything unforeseen is still one line (``CLOSEOUT_DEBUG=1`` re-raises it with its traceback,
for whoever fixes it). Exit codes: 2 for a wrong invocation or bad input, 1 for a refusal
or a failure at run time, 130 for Ctrl-C.

This module only words failures; it must never decide anything about auctions.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import typer

__all__ = ["fail", "run_app", "say"]


def say(message: str) -> None:
    """One line on stderr, however long (never wrapped to the terminal's width)."""
    sys.stderr.write(f"closeout: {' '.join(message.split())}\n")
    sys.stderr.flush()


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``message`` as one line on stderr and exit with ``code``."""
    say(message)
    raise typer.Exit(code)


def describe_os_error(exc: OSError) -> str:
    """A file or system error as one sentence naming the file."""
    what = exc.strerror or str(exc)
    if exc.filename is not None:
        return f"{exc.filename}: {what}"
    return what


def run_app(args: list[str]) -> NoReturn:
    """Run the ``closeout`` app on ``args`` and exit; every failure is one line."""
    try:
        from clients.cli.commands import app

        code = app(args, prog_name="closeout", standalone_mode=False)
    except typer.TyperException as exc:  # a usage error (or a group run without a command)
        message = exc.format_message().strip()
        if message:  # empty: a group run without a command, its help already printed
            ctx = getattr(exc, "ctx", None)
            where = f" Try '{ctx.command_path} --help'." if ctx is not None else ""
            say(f"{message.rstrip('.')}.{where}")
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        say("interrupted")
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
    except Exception as exc:
        if os.environ.get("CLOSEOUT_DEBUG"):
            raise
        if isinstance(exc, OSError):
            say(describe_os_error(exc))
        else:
            say(f"unexpected error: {type(exc).__name__}: {exc} (CLOSEOUT_DEBUG=1 shows where)")
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
