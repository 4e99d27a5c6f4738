"""Where a journal lives: the storage interface both backends implement, and choosing one.

A journal location is a SQLite file (a plain path, or ``sqlite:///relative/path`` /
``sqlite:////absolute/path``) or a PostgreSQL URL (``postgresql://user@host/db``). The
journal core (``server/journal.py``) owns the hash chain, group commit and fail-stop; a
store only keeps rows and enforces the storage side of the contract:

* one writer: :meth:`JournalStore.try_acquire` takes the journal's exclusive lock (a lock
  file for SQLite, an advisory-lock lease for PostgreSQL) and holds it until ``close``;
* durable before acknowledged: :meth:`JournalStore.write` returns only after the commit;
* tail anchor: every write also records the head (sequence, hash) outside the journal
  table, and :meth:`JournalStore.prepare` refuses a journal that ends before it.

This module must never interpret records or compute hashes (the core does), and a store must
never write a row it was not given.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

__all__ = [
    "GENESIS_HASH",
    "Anchor",
    "JournalCorrupt",
    "JournalError",
    "JournalFailed",
    "JournalLocked",
    "JournalStore",
    "JournalUnavailable",
    "Row",
    "TailLost",
    "check_tail",
    "describe_location",
    "is_postgres",
    "open_store",
    "parse_location",
]

#: The hash the first record chains from.
GENESIS_HASH: Final = "0" * 64

#: One journal row: (seq, stream, type, canonical payload JSON, prev_hash, hash).
Row = tuple[int, str, str, str, str, str]

_SQLITE_PREFIX = "sqlite://"
_POSTGRES_PREFIXES = ("postgresql://", "postgres://")


class JournalError(Exception):
    """Base of the journal's own errors."""


class JournalFailed(JournalError):
    """Raised by ``append`` once a journal write has failed; the journal accepts nothing more.

    Raised by: :meth:`server.journal.Journal.append`. Caller: refuse the command
    (UNAVAILABLE) and let the server stop; restart replays what was committed.
    """


class JournalCorrupt(JournalError):
    """Raised when replay finds a broken hash chain. Caller: do not serve; run ``verify``."""


class TailLost(JournalCorrupt):
    """The journal ends before its durable anchor (or its WAL is gone): records were lost."""


class JournalLocked(JournalError):
    """Another process holds the journal's single-writer lock; this one must not write."""


class JournalUnavailable(JournalError):
    """The journal cannot be opened or read (no such database, connection refused...)."""


@dataclass(frozen=True, slots=True)
class Anchor:
    """The head recorded outside the journal after each commit: (sequence, hash)."""

    seq: int
    hash: str
    #: False while a writer has the journal open (SQLite: set at open, cleared at close).
    clean: bool = True


class JournalStore(Protocol):
    """Row storage for one journal; see the module docstring for the rules.

    Writer methods (``try_acquire``, ``prepare``, ``write``, ``heartbeat``, ``close``) are
    called from one thread at a time; reader methods open their own connections and may be
    called from any thread, while a writer runs.
    """

    #: The location as it may be shown (no password).
    description: str
    #: Seconds between liveness checks of an idle writer; None when there is nothing to check.
    heartbeat_seconds: float | None

    def try_acquire(self) -> bool:
        """Take the single-writer lock without waiting; False if another process holds it."""
        ...

    def holder(self) -> str:
        """Who holds the lock, for messages (best effort)."""
        ...

    def prepare(self) -> tuple[int, str]:
        """Create the schema if needed, check the tail anchor, return the head (seq, hash).

        Raises:
            TailLost: the journal ends before its anchor, or a non-empty journal's WAL is
                missing after an unclean stop; the message names the last good record.
        """
        ...

    def write(self, rows: list[Row]) -> None:
        """Insert ``rows`` and the new anchor in one commit; return only once it is durable."""
        ...

    def heartbeat(self) -> None:
        """Check that the writer still holds the journal; raise if it lost it."""
        ...

    def close(self) -> None:
        """Release the writer connection and the lock (mark the anchor clean)."""
        ...

    def read(self, after: int = 0) -> Iterator[Row]:
        """Every row with ``seq > after`` in order (one consistent snapshot)."""
        ...

    def read_stream(self, stream: str, first: int, last: int) -> list[Row]:
        """The rows of ``stream`` with ``first <= seq <= last``, in order."""
        ...

    def hash_at(self, seq: int) -> str | None:
        """The hash of record ``seq``, or None if there is no such record."""
        ...

    def find_hash(self, digest: str) -> int | None:
        """The sequence of the record whose hash is ``digest``, or None."""
        ...

    def anchor(self) -> Anchor | None:
        """The recorded anchor, or None if none was ever written."""
        ...

    def exists(self) -> bool:
        """Whether the journal exists (without creating it)."""
        ...


def check_tail(
    where: str, head: tuple[int, str], anchor: Anchor, hash_at_anchor: str | None
) -> None:
    """Refuse a journal whose head ``head`` ends before ``anchor`` or diverges from it."""
    last = f"record {head[0]} (hash {head[1]})" if head[0] else "no record at all"
    if head[0] < anchor.seq:
        raise TailLost(
            f"journal {where} ends at {last} but its anchor says record {anchor.seq}"
            f" (hash {anchor.hash}) was committed: records {head[0] + 1} to {anchor.seq}"
            " are lost"
        )
    if hash_at_anchor != anchor.hash:
        raise TailLost(
            f"journal {where}: record {anchor.seq} has hash {hash_at_anchor} but its anchor"
            f" says {anchor.hash}: the journal is not the one that was written"
            f" (its last record is {last})"
        )


def is_postgres(location: str | Path) -> bool:
    """Whether ``location`` names a PostgreSQL journal."""
    return isinstance(location, str) and location.startswith(_POSTGRES_PREFIXES)


def parse_location(value: str | Path) -> str | Path:
    """A PostgreSQL URL (kept as a str) or a SQLite file path (a Path).

    ``sqlite:///var/j.sqlite`` is the relative path ``var/j.sqlite`` and
    ``sqlite:////srv/j.sqlite`` the absolute ``/srv/j.sqlite`` (as in SQLAlchemy); anything
    else that is not a URL is a plain path.

    Raises:
        ValueError: an unknown URL scheme or a malformed PostgreSQL URL.
    """
    if isinstance(value, Path):
        return value
    if is_postgres(value):
        from psycopg.conninfo import conninfo_to_dict  # only PostgreSQL journals need psycopg

        try:
            conninfo_to_dict(value)
        except Exception as exc:
            raise ValueError(f"not a valid PostgreSQL URL: {exc}") from None
        return value
    if value.startswith(_SQLITE_PREFIX):
        rest = value[len(_SQLITE_PREFIX) :]
        if not rest.startswith("/") or rest == "/":
            raise ValueError("a SQLite URL is sqlite:///relative/path or sqlite:////absolute/path")
        return Path(rest[1:])
    if "://" in value:
        scheme = value.split("://", 1)[0]
        raise ValueError(f"unknown journal scheme {scheme!r} (postgresql:// or sqlite:///)")
    return Path(value)


def describe_location(location: str | Path) -> str:
    """``location`` as it may be logged: a path, or a PostgreSQL URL without its password."""
    if not is_postgres(location):
        return str(location)
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(str(location))
    if "password" in params:
        params["password"] = "***"
    return make_conninfo("", **{k: v for k, v in params.items() if v is not None})


def open_store(location: str | Path) -> JournalStore:
    """The store for ``location`` (no connection is made, nothing is created yet)."""
    parsed = parse_location(location)
    if isinstance(parsed, str):
        from server.journal_postgres import PostgresStore

        return PostgresStore(parsed)
    from server.journal_sqlite import SqliteStore

    return SqliteStore(parsed)
