"""The PostgreSQL journal store (psycopg 3): rows in a table, the anchor in a second one, and a
leader lease held as a session advisory lock.

Tables, in the connection's current schema (``public`` unless the URL sets ``search_path``)::

    journal       (seq, stream, type, payload, prev_hash, hash): the records
    journal_head  one row (seq, hash): the anchor, updated in the same transaction as the rows
    journal_meta  (key, value): the format version

The lease: the writer's own connection takes ``pg_try_advisory_lock`` and keeps it for the
life of the process, so the lease and the writes share one session. If that session ends
(the process died, the network dropped it, PostgreSQL restarted) the lock is released and a
standby may take over; the old writer's next write or heartbeat fails on the dead session
and it stops (fail-stop): it can never write beside the new leader. TCP keepalives on both
ends bound how long a vanished machine keeps the lease.

Why psycopg's blocking connection and not its asyncio one: the journal core runs one group
commit writer for both backends on its own thread (``server/journal.py``), so every
PostgreSQL round trip already happens off the event loop; and the lease must live on the
writing session itself (above), which that thread owns. The event loop only awaits futures.

This module must never compute hashes, never write a row it was not given, and never write
without holding the lease.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from typing import Any, Final

import psycopg
from psycopg.conninfo import conninfo_to_dict

from server.journal_store import (
    GENESIS_HASH,
    Anchor,
    Row,
    check_tail,
    describe_location,
)

__all__ = ["LEASE_CLASS", "PostgresStore"]

#: The advisory lock's first key ('Clos'); the second is a hash of the journal's schema.
LEASE_CLASS: Final = 0x436C6F73
_FORMAT_VERSION: Final = 1
_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS journal (
        seq       BIGINT PRIMARY KEY,
        stream    TEXT NOT NULL,
        type      TEXT NOT NULL,
        payload   TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash      TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS journal_head (
        one  BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
        seq  BIGINT NOT NULL,
        hash TEXT NOT NULL
    )""",
    "CREATE TABLE IF NOT EXISTS journal_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
_LEASE_KEY: Final = "hashtext('closeout.journal:' || current_schema())"
#: Client-side keepalives: notice a dead PostgreSQL within ~11 s instead of hours.
_KEEPALIVES: Final = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "connect_timeout": 10,
}
_SELECT: Final = "SELECT seq, stream, type, payload, prev_hash, hash FROM journal"


class PostgresStore:
    """A journal in a PostgreSQL database; see the module docstring."""

    #: An idle leader checks its session this often, so it stops soon after losing the lease.
    heartbeat_seconds: float | None = 1.0

    def __init__(self, url: str) -> None:
        self.url = url
        self.description = describe_location(url)
        self._writer: psycopg.Connection[Any] | None = None
        self._reader: psycopg.Connection[Any] | None = None
        self._reader_lock = threading.Lock()

    def _connect(self, **extra: Any) -> psycopg.Connection[Any]:
        params = {**_KEEPALIVES, **extra}
        return psycopg.connect(self.url, autocommit=True, **params)

    # -- the lease ------------------------------------------------------------------------

    def try_acquire(self) -> bool:
        if self._writer is None or self._writer.closed:
            name = f"closeout {socket.gethostname()} pid {os.getpid()}"
            conn = self._connect(application_name=name[:63])
            try:
                # The server side notices a vanished leader too, and then frees the lease.
                conn.execute("SET tcp_keepalives_idle = 5")
                conn.execute("SET tcp_keepalives_interval = 2")
                conn.execute("SET tcp_keepalives_count = 3")
                if conn.execute("SELECT current_schema()").fetchone() == (None,):
                    raise psycopg.OperationalError(
                        "no schema to keep the journal in (search_path names none that exists)"
                    )
            except BaseException:
                conn.close()
                raise
            self._writer = conn
        row = self._writer.execute(
            f"SELECT pg_try_advisory_lock({LEASE_CLASS}, {_LEASE_KEY})"
        ).fetchone()
        return bool(row and row[0])

    def holder(self) -> str:
        try:
            with self._connect() as conn:
                row = conn.execute(
                    "SELECT a.application_name, a.client_addr, a.pid FROM pg_locks l"
                    " JOIN pg_stat_activity a ON a.pid = l.pid"
                    f" WHERE l.locktype = 'advisory' AND l.granted AND l.classid = {LEASE_CLASS}"
                    f" AND l.objid = ({_LEASE_KEY})::oid AND l.objsubid = 2"
                ).fetchone()
        except psycopg.Error:
            return "another process"
        if row is None:
            return "another process"
        name, addr, pid = row
        return f"{name or 'a client'} (from {addr or 'a local socket'}, backend pid {pid})"

    # -- writer ---------------------------------------------------------------------------

    def prepare(self) -> tuple[int, str]:
        conn = self._writer
        assert conn is not None, "try_acquire first"
        if conn.execute("SHOW synchronous_commit").fetchone() == ("off",):
            conn.execute("SET synchronous_commit = on")  # acknowledged means durable
        anchor = self.anchor() if self.exists() else None
        with conn.transaction():
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO journal_meta(key, value) VALUES ('format', %s)"
                " ON CONFLICT (key) DO NOTHING",
                (str(_FORMAT_VERSION),),
            )
            last = conn.execute("SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1")
            found = last.fetchone()
            head = (int(found[0]), str(found[1])) if found else (0, GENESIS_HASH)
            if anchor is not None and anchor.seq > 0:
                at = conn.execute("SELECT hash FROM journal WHERE seq = %s", (anchor.seq,))
                row = at.fetchone()
                check_tail(self.description, head, anchor, None if row is None else row[0])
            conn.execute(
                "INSERT INTO journal_head(one, seq, hash) VALUES (TRUE, %s, %s)"
                " ON CONFLICT (one) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash",
                head,
            )
        return head

    def write(self, rows: list[Row]) -> None:
        conn = self._writer
        assert conn is not None
        with conn.transaction(), conn.cursor() as cur:
            with cur.copy(
                "COPY journal (seq, stream, type, payload, prev_hash, hash) FROM STDIN"
            ) as copy:
                for row in rows:
                    copy.write_row(row)
            cur.execute("UPDATE journal_head SET seq = %s, hash = %s", (rows[-1][0], rows[-1][5]))

    def heartbeat(self) -> None:
        conn = self._writer
        assert conn is not None
        conn.execute("SELECT 1")

    def close(self) -> None:
        for conn in (self._writer, self._reader):
            if conn is not None:
                conn.close()  # ends the session: the lease goes with it
        self._writer = self._reader = None

    # -- readers --------------------------------------------------------------------------

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._reader_lock:
            if self._reader is None or self._reader.closed or self._reader.broken:
                self._reader = self._connect(application_name="closeout reader")
            return self._reader.execute(sql, params).fetchall()

    def read(self, after: int = 0) -> Iterator[Row]:
        with self._connect(application_name="closeout replay") as conn:
            conn.autocommit = False
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            with conn.cursor(name="closeout_replay") as cur:
                cur.itersize = 5000
                cur.execute(_SELECT + " WHERE seq > %s ORDER BY seq", (after,))
                yield from cur
            conn.rollback()

    def read_stream(self, stream: str, first: int, last: int) -> list[Row]:
        rows = self._query(
            _SELECT + " WHERE seq BETWEEN %s AND %s AND stream = %s ORDER BY seq",
            (first, last, stream),
        )
        return [(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]

    def hash_at(self, seq: int) -> str | None:
        rows = self._query("SELECT hash FROM journal WHERE seq = %s", (seq,))
        return str(rows[0][0]) if rows else None

    def find_hash(self, digest: str) -> int | None:
        rows = self._query("SELECT seq FROM journal WHERE hash = %s", (digest,))
        return int(rows[0][0]) if rows else None

    def anchor(self) -> Anchor | None:
        if not self._query("SELECT to_regclass('journal_head')", ())[0][0]:
            return None
        rows = self._query("SELECT seq, hash FROM journal_head", ())
        return Anchor(int(rows[0][0]), str(rows[0][1])) if rows else None

    def exists(self) -> bool:
        return bool(self._query("SELECT to_regclass('journal')", ())[0][0])

    def database(self) -> str:
        """The database name, for messages."""
        return str(conninfo_to_dict(self.url).get("dbname") or "")
