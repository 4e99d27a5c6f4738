"""The SQLite journal store: one file in WAL mode, a lock file, and a head anchor file.

Files, all next to each other and all part of the journal (deleting any of them while the
journal matters loses or hides data)::

    closeout.sqlite        the records (table ``journal``)
    closeout.sqlite-wal    committed records not yet checkpointed into the file above
    closeout.sqlite-shm    SQLite's index of the WAL
    closeout.sqlite.head   the anchor: the head (sequence, hash) after every commit, fsynced
    closeout.sqlite.lock   the single-writer lock (``flock``), naming the holding process

A commit of up to 512 rows is one multi-row INSERT run in SQLite's autocommit mode (its own
transaction, the WAL fsynced before the statement returns: ``synchronous=FULL``); a larger one
is ``BEGIN IMMEDIATE``, its INSERTs and ``COMMIT``. The anchor is written after each commit
batch, before it is acknowledged, into one of two fixed slots (alternating, each with its own
checksum, so a torn write leaves the other one), through a descriptor opened with
``O_DSYNC``: the write returns once the slot is on stable storage.
At open the store refuses a journal that ends before the anchor or whose WAL vanished after
an unclean stop: SQLite itself would silently start from what is left.

This module must never compute hashes, never write a row it was not given, and never write
to the journal before the anchor check passed (a damaged file is evidence).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import os
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from server.journal_store import GENESIS_HASH, Anchor, Row, TailLost, check_tail

__all__ = ["SqliteStore", "backup", "read_only"]

_FORMAT_VERSION: Final = 1
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS journal (
    seq       INTEGER PRIMARY KEY,
    stream    TEXT NOT NULL,
    type      TEXT NOT NULL,
    payload   TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_SLOT: Final = 160
#: The most rows one INSERT statement carries (six parameters each; SQLite allows 32,766).
_MAX_ROWS_PER_INSERT: Final = 512


def _statement_rows(rows: int) -> int:
    """The size of the one INSERT statement that takes ``rows`` (at most
    :data:`_MAX_ROWS_PER_INSERT`) rows: the next power of two, so that ten prepared
    statements cover every commit; the unused places are padded (see :func:`_insert`)."""
    return 1 << (rows - 1).bit_length()


@functools.cache
def _insert(rows: int) -> str:
    """The INSERT statement of up to ``rows`` rows. Places beyond the commit's own rows are
    bound to NULL and skipped (``seq`` is never NULL in a row the journal core gives)."""
    values = ",".join(["(?,?,?,?,?,?)"] * rows)
    return (
        "INSERT INTO journal(seq, stream, type, payload, prev_hash, hash)"
        " SELECT column1, column2, column3, column4, column5, column6"
        f" FROM (VALUES {values}) WHERE column1 IS NOT NULL"
    )


def _params(rows: list[Row], size: int) -> list[object]:
    """The parameters of ``rows`` for the statement of ``size`` rows, NULL-padded."""
    params: list[object] = [v for row in rows for v in row]
    if len(rows) < size:
        params += [None] * (6 * (size - len(rows)))
    return params


_MAGIC: Final = "closeout-head/1"


def read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection (never creates the file)."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def _encode_slot(gen: int, anchor: Anchor) -> bytes:
    body = f"{_MAGIC} {gen} {anchor.seq} {anchor.hash} {int(anchor.clean)}"
    check = hashlib.sha256(body.encode()).hexdigest()[:16]
    line = f"{body} {check}\n".encode()
    return line.ljust(_SLOT, b"\0")


def _decode_slot(data: bytes) -> tuple[int, Anchor] | None:
    try:
        text = data.rstrip(b"\0").decode()
        magic, gen, seq, digest, clean, check = text.split()
    except ValueError:
        return None
    body = f"{magic} {gen} {seq} {digest} {clean}"
    if magic != _MAGIC or hashlib.sha256(body.encode()).hexdigest()[:16] != check:
        return None
    return int(gen), Anchor(int(seq), digest, clean == "1")


class SqliteStore:
    """A journal in one SQLite file; see the module docstring."""

    heartbeat_seconds: float | None = None

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = str(path)
        self.head_path = path.with_name(path.name + ".head")
        self.lock_path = path.with_name(path.name + ".lock")
        self.wal_path = path.with_name(path.name + "-wal")
        self._lock_fd: int | None = None
        self._head_fd: int | None = None
        self._gen = 0
        self._conn: sqlite3.Connection | None = None
        self._head: tuple[int, str] = (0, GENESIS_HASH)

    # -- the single-writer lock -----------------------------------------------------------

    def try_acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        self._lock_fd = fd
        return True

    def holder(self) -> str:
        try:
            text = self.lock_path.read_text(encoding="utf-8").strip()
        except OSError:
            return "another process"
        return text or "another process"

    # -- the anchor -----------------------------------------------------------------------

    def anchor(self) -> Anchor | None:
        found = self._read_anchor()
        return None if found is None else found[1]

    def _read_anchor(self) -> tuple[int, Anchor] | None:
        try:
            data = self.head_path.read_bytes()
        except FileNotFoundError:
            return None
        if not data.strip(b"\0"):
            return None  # created, never written: the crash came before the first anchor
        slots = [_decode_slot(data[i : i + _SLOT]) for i in (0, _SLOT)]
        valid = [s for s in slots if s is not None]
        if not valid:
            raise TailLost(
                f"the journal's anchor {self.head_path} is unreadable (both slots damaged)"
            )
        return max(valid, key=lambda s: s[0])

    def _write_anchor(self, anchor: Anchor) -> None:
        assert self._head_fd is not None
        self._gen += 1
        # The file is open with O_DSYNC: the write returns once the slot is on stable
        # storage, as a pwrite followed by fdatasync would, in one system call.
        os.pwrite(self._head_fd, _encode_slot(self._gen, anchor), (self._gen % 2) * _SLOT)

    # -- writer ---------------------------------------------------------------------------

    def exists(self) -> bool:
        return self.path.exists()

    def prepare(self) -> tuple[int, str]:
        found = self._read_anchor()
        anchor = None if found is None else found[1]
        self._gen = 0 if found is None else found[0]
        if anchor is not None and anchor.seq > 0:
            if not self.path.exists():
                raise TailLost(
                    f"journal {self.path} is missing but its anchor {self.head_path} says"
                    f" record {anchor.seq} (hash {anchor.hash}) was committed"
                )
            if not anchor.clean and not self.wal_path.exists():
                seq, digest = _last_in_main_file(self.path)
            else:
                seq, digest = anchor.seq, anchor.hash
            if seq < anchor.seq:
                raise TailLost(
                    f"journal {self.path}: its WAL {self.wal_path.name} is missing after an"
                    f" unclean stop; the file alone ends at record {seq} (hash {digest}),"
                    f" the anchor says record {anchor.seq} (hash {anchor.hash}) was committed"
                )
        head = self._inspect(anchor)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.executescript(_SCHEMA)
            conn.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('format', ?)",
                (str(_FORMAT_VERSION),),
            )
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        self._head = head
        created = not self.head_path.exists()
        self._head_fd = os.open(self.head_path, os.O_RDWR | os.O_CREAT | os.O_DSYNC, 0o644)
        self._write_anchor(Anchor(head[0], head[1], clean=False))
        if created:  # make the new file's name durable too
            folder = os.open(self.head_path.parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
        return head

    def _inspect(self, anchor: Anchor | None) -> tuple[int, str]:
        """The journal's head, checked against ``anchor``, through a read-only connection:
        a read-write one would checkpoint the WAL into the file when it closes, rewriting
        the evidence of a refused journal."""
        if not self.path.exists():
            return (0, GENESIS_HASH)
        conn = read_only(self.path)
        try:
            has_table = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name='journal'"
            ).fetchone()
            if not has_table:
                return (0, GENESIS_HASH)
            last = conn.execute("SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1")
            found = last.fetchone()
            head = (int(found[0]), str(found[1])) if found else (0, GENESIS_HASH)
            if anchor is not None and anchor.seq > 0:
                row = conn.execute(
                    "SELECT hash FROM journal WHERE seq = ?", (anchor.seq,)
                ).fetchone()
                check_tail(str(self.path), head, anchor, None if row is None else str(row[0]))
            return head
        finally:
            conn.close()

    def write(self, rows: list[Row]) -> None:
        conn = self._conn
        assert conn is not None
        # Each statement the writer thread runs releases the GIL and takes it back from the
        # event loop (a handoff costing both threads CPU), so a commit of up to
        # _MAX_ROWS_PER_INSERT rows is ONE statement in autocommit mode: SQLite wraps it in
        # its own transaction and commits it (with synchronous=FULL: the WAL fsynced) before
        # the step returns. Only a larger commit needs BEGIN ... COMMIT around its chunks.
        if len(rows) <= _MAX_ROWS_PER_INSERT:
            size = _statement_rows(len(rows))
            conn.execute(_insert(size), _params(rows, size))
        else:
            try:
                conn.execute("BEGIN IMMEDIATE")
                for start in range(0, len(rows), _MAX_ROWS_PER_INSERT):
                    chunk = rows[start : start + _MAX_ROWS_PER_INSERT]
                    size = _statement_rows(len(chunk))
                    conn.execute(_insert(size), _params(chunk, size))
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
        self._head = (rows[-1][0], rows[-1][5])
        self._write_anchor(Anchor(*self._head, clean=False))

    def heartbeat(self) -> None:
        return None

    def close(self) -> None:
        clean = False
        if self._conn is not None:
            try:
                # Closing the last connection checkpoints the WAL into the file and removes it;
                # only then is a missing WAL normal.
                self._conn.close()
                clean = not self.wal_path.exists()
            finally:
                self._conn = None
        if self._head_fd is not None:
            try:
                self._write_anchor(Anchor(*self._head, clean=clean))
            finally:
                os.close(self._head_fd)
                self._head_fd = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None

    # -- readers --------------------------------------------------------------------------

    def read(self, after: int = 0) -> Iterator[Row]:
        conn = read_only(self.path)
        try:
            yield from conn.execute(
                "SELECT seq, stream, type, payload, prev_hash, hash FROM journal"
                " WHERE seq > ? ORDER BY seq",
                (after,),
            )
        finally:
            conn.close()

    def read_stream(self, stream: str, first: int, last: int) -> list[Row]:
        conn = read_only(self.path)
        try:
            rows: list[Row] = conn.execute(
                "SELECT seq, stream, type, payload, prev_hash, hash FROM journal"
                " WHERE seq BETWEEN ? AND ? AND stream = ? ORDER BY seq",
                (first, last, stream),
            ).fetchall()
        finally:
            conn.close()
        return rows

    def hash_at(self, seq: int) -> str | None:
        conn = read_only(self.path)
        try:
            row = conn.execute("SELECT hash FROM journal WHERE seq = ?", (seq,)).fetchone()
        finally:
            conn.close()
        return None if row is None else str(row[0])

    def find_hash(self, digest: str) -> int | None:
        conn = read_only(self.path)
        try:
            row = conn.execute("SELECT seq FROM journal WHERE hash = ?", (digest,)).fetchone()
        finally:
            conn.close()
        return None if row is None else int(row[0])


def _last_in_main_file(path: Path) -> tuple[int, str]:
    """The last record in the main file alone (ignoring any WAL), for messages."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
        try:
            row = conn.execute("SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1")
            last = row.fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return 0, "unreadable"
    return (int(last[0]), str(last[1])) if last else (0, "none")


def backup(path: Path, dest: Path) -> None:
    """Copy the journal at ``path`` to ``dest`` with SQLite's online backup API.

    Consistent while a writer commits: the copy is one read snapshot. ``dest`` must not exist.
    """
    if dest.exists():
        raise FileExistsError(f"{dest} already exists")
    dest.parent.mkdir(parents=True, exist_ok=True)
    source = read_only(path)
    try:
        target = sqlite3.connect(dest)
        try:
            source.backup(target)  # pages=-1: everything in one step, one snapshot
            target.execute("PRAGMA journal_mode=DELETE")
        finally:
            target.close()
    finally:
        source.close()
