"""The journal: an append-only, hash-chained event log in SQLite, durable before acknowledged.

API (asyncio; call from the event loop)::

    journal = await Journal.open(path)            # creates the file, resumes the chain
    for record in journal.replay():               # startup: every record in sequence order
        ...
    records = await journal.append("cds/AUC-1", [{"type": "OrderAccepted", ...}])
    journal.head                                  # (sequence, hash) of the last durable record
    await journal.close()
    report = verify(path)                         # offline: recompute the chain

Rules this module keeps:

* One writer. A dedicated thread owns the only write connection; nothing else writes the
  file. Sequence numbers and hashes are assigned there, so order is exactly commit order.
* Group commit. Appends are queued; the writer takes everything queued, writes it in one
  transaction and commits (WAL, ``synchronous=FULL``). Whatever arrives while a commit runs
  goes into the next one. ``append`` resolves only after the commit holding its events.
* Hash chain. ``hash = sha256(prev_hash + canonical(record))`` over the sequence number,
  stream, type and canonical JSON payload; the first record chains from ``GENESIS_HASH``.
  ``verify`` and ``replay`` recompute it and name the first bad record.
* Fail-stop. If a write or commit fails, that batch, everything queued and every later
  append raise :class:`JournalFailed`, and :meth:`Journal.wait_failed` returns. The server
  (``server/app.py``) logs that as critical and shuts down: it must not acknowledge what it
  cannot keep. The journal never retries a failed commit, because it cannot know what part
  of the batch reached the disk; restart replays whatever did.

This module must never interpret events (that is the services' job), never rewrite or delete
a record, and never resolve an append before its commit returned.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

__all__ = [
    "GENESIS_HASH",
    "Journal",
    "JournalCorrupt",
    "JournalError",
    "JournalFailed",
    "Record",
    "VerifyReport",
    "canonical_json",
    "record_hash",
    "verify",
]

GENESIS_HASH: Final = "0" * 64
_FORMAT_VERSION: Final = 1
_log = logging.getLogger(__name__)

_SCHEMA = """
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


class JournalError(Exception):
    """Base of the journal's own errors."""


class JournalFailed(JournalError):
    """Raised by ``append`` once a journal write has failed; the journal accepts nothing more.

    Raised by: :meth:`Journal.append`. Caller: refuse the command (UNAVAILABLE) and let the
    server stop; restart replays what was committed.
    """


class JournalCorrupt(JournalError):
    """Raised when replay finds a broken hash chain. Caller: do not serve; run ``verify``."""


@dataclass(frozen=True, slots=True)
class Record:
    """One journal record. ``payload`` is the event mapping exactly as appended."""

    seq: int
    stream: str
    type: str
    payload: Mapping[str, Any]
    prev_hash: str
    hash: str


#: ``json.dumps`` with these options builds a new encoder on every call; one is enough.
_CANONICAL: Final = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
).encode


#: The encoder's own string quoting (``ensure_ascii=False``), for :meth:`Journal._commit_batch`.
_QUOTE: Final = json.encoder.encode_basestring


def canonical_json(value: Any) -> str:
    """The one JSON spelling hashed and stored: sorted keys, no spaces, no NaN/Infinity."""
    return _CANONICAL(value)


def record_hash(prev_hash: str, seq: int, stream: str, type_: str, payload_json: str) -> str:
    """sha256 over the previous hash and the canonical record; hex digest."""
    body = _CANONICAL([seq, stream, type_, payload_json])
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class _Entry:
    """One queued append. ``streams`` and ``types`` align with ``payloads``; ``events`` is
    None for :meth:`Journal.submit_many`, whose future resolves with the last sequence
    number instead of records (nobody reads those records back, so none are built)."""

    streams: tuple[str, ...]
    types: tuple[str, ...]
    payloads: tuple[str, ...]
    events: tuple[Mapping[str, Any], ...] | None
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop


_STOP: Final = object()


@dataclass
class JournalStats:
    """Counters kept by the writer, for tests and metrics. ``batch_sizes`` counts appends."""

    commits: int = 0
    records: int = 0
    batch_sizes: list[int] = field(default_factory=list)


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


class Journal:
    """The server's journal. Create with :meth:`open`; one instance per file per process."""

    def __init__(self, path: Path, conn: sqlite3.Connection, head: tuple[int, str]) -> None:
        self.path = path
        self._conn = conn
        self._head = head
        self._queue: queue.SimpleQueue[_Entry | object] = queue.SimpleQueue()
        self._failure: JournalFailed | None = None
        self._failed_event = asyncio.Event()
        self._closed = False
        self.stats = JournalStats()
        #: Called from the writer thread after each commit with (seconds, records); metrics.
        self.on_commit: Callable[[float, int], None] | None = None
        self._thread = threading.Thread(target=self._run, name="journal-writer", daemon=True)

    # -- queries --------------------------------------------------------------------------

    @property
    def head(self) -> tuple[int, str]:
        """(sequence, hash) of the last durable record; ``(0, GENESIS_HASH)`` when empty."""
        return self._head

    @property
    def failure(self) -> JournalFailed | None:
        """The failure that stopped the journal, or None while it is healthy."""
        return self._failure

    def replay(self, after: int = 0) -> Iterator[Record]:
        """Yield every durable record with ``seq > after`` in order, checking the chain.

        Blocking (reads SQLite on the caller's thread through its own read-only connection):
        call it at startup before serving, or through ``asyncio.to_thread``.

        Raises:
            JournalCorrupt: at the first record whose sequence or hash does not chain.
        """
        conn = _read_only(self.path)
        try:
            expected_seq, prev = 1, GENESIS_HASH
            if after > 0:
                row = conn.execute("SELECT hash FROM journal WHERE seq = ?", (after,)).fetchone()
                if row is None:
                    raise JournalCorrupt(f"record {after} not found")
                expected_seq, prev = after + 1, row[0]
            rows = conn.execute(
                "SELECT seq, stream, type, payload, prev_hash, hash FROM journal"
                " WHERE seq > ? ORDER BY seq",
                (after,),
            )
            for seq, stream, type_, payload, prev_hash, hash_ in rows:
                problem = _check_row(
                    expected_seq, prev, seq, stream, type_, payload, prev_hash, hash_
                )
                if problem:
                    raise JournalCorrupt(f"record {seq}: {problem}")
                yield Record(seq, stream, type_, json.loads(payload), prev_hash, hash_)
                expected_seq, prev = seq + 1, hash_
        finally:
            conn.close()

    def read_stream(self, stream: str, first: int, last: int) -> list[Record]:
        """The durable records of ``stream`` with ``first <= seq <= last``, in order.

        Blocking (its own read-only connection, like :meth:`replay`): call it through
        ``asyncio.to_thread``. It does not recheck the chain (``replay`` did at startup and
        ``verify`` does on demand); it only reads what the writer committed.
        """
        conn = _read_only(self.path)
        try:
            rows = conn.execute(
                "SELECT seq, stream, type, payload, prev_hash, hash FROM journal"
                " WHERE seq BETWEEN ? AND ? AND stream = ? ORDER BY seq",
                (first, last, stream),
            ).fetchall()
        finally:
            conn.close()
        return [Record(seq, s, t, json.loads(p), prev, h) for seq, s, t, p, prev, h in rows]

    # -- commands -------------------------------------------------------------------------

    @classmethod
    async def open(cls, path: str | Path) -> Journal:
        """Open (creating if needed) the journal at ``path`` and start its writer thread."""
        journal_path = Path(path)

        def _prepare() -> tuple[sqlite3.Connection, tuple[int, str]]:
            journal_path.parent.mkdir(parents=True, exist_ok=True)
            conn = _connect(journal_path)
            conn.executescript(_SCHEMA)
            conn.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('format', ?)",
                (str(_FORMAT_VERSION),),
            )
            row = conn.execute("SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1")
            last = row.fetchone()
            return conn, (int(last[0]), str(last[1])) if last else (0, GENESIS_HASH)

        conn, head = await asyncio.to_thread(_prepare)
        journal = cls(journal_path, conn, head)
        journal._thread.start()
        return journal

    async def append(self, stream: str, events: Sequence[Mapping[str, Any]]) -> list[Record]:
        """Append ``events`` (each a JSON-able mapping with a str ``"type"``) to ``stream``.

        Resolves after the commit holding them is durable, with their records in order; the
        events of one call are contiguous in the journal.

        Raises:
            ValueError, TypeError: an event is not JSON-able or lacks a ``type``; nothing is
                written and the journal stays healthy.
            JournalFailed: the journal has failed or is closed; nothing more will be written.
        """
        # Shielded: once queued the events will be committed even if the caller is cancelled,
        # and the services' in-memory state already holds them.
        return await asyncio.shield(self.submit(stream, events))

    def submit(
        self, stream: str, events: Sequence[Mapping[str, Any]]
    ) -> asyncio.Future[list[Record]]:
        """Queue ``events`` now (synchronously) and return the future of their records.

        For callers that must fix the journal order at the moment they apply events but
        await durability later (bulk streams). Same contract and errors as :meth:`append`;
        an empty ``events`` gives an already-resolved future.
        """
        if self._failure is not None:
            raise self._failure
        if self._closed:
            raise JournalFailed("journal is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Record]] = loop.create_future()
        if not events:
            future.set_result([])
            return future
        types, payloads = _encode(events)
        # Freeze a copy: the caller may mutate its dicts after we return.
        frozen = tuple(json.loads(p) for p in payloads)
        streams = (stream,) * len(types)
        self._queue.put(_Entry(streams, tuple(types), tuple(payloads), frozen, future, loop))
        return future

    def submit_many(
        self, items: Sequence[tuple[str, Sequence[Mapping[str, Any]]]]
    ) -> asyncio.Future[int]:
        """Queue ``(stream, events)`` pairs now, in order, as one append; the future resolves
        with the sequence number of the last record once the commit holding them is durable.

        The services' path: the same contract and errors as :meth:`submit` (each pair's
        events contiguous, nothing written if an event is refused), but no records are
        built or returned, so the events are encoded once and never decoded again.
        """
        if self._failure is not None:
            raise self._failure
        if self._closed:
            raise JournalFailed("journal is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        streams: list[str] = []
        types: list[str] = []
        payloads: list[str] = []
        for stream, events in items:
            t, p = _encode(events)
            streams += [stream] * len(t)
            types += t
            payloads += p
        if not types:
            future.set_result(self._head[0])
            return future
        self._queue.put(_Entry(tuple(streams), tuple(types), tuple(payloads), None, future, loop))
        return future

    async def wait_failed(self) -> JournalFailed:
        """Return once the journal has failed (never returns while it stays healthy)."""
        await self._failed_event.wait()
        assert self._failure is not None
        return self._failure

    async def close(self) -> None:
        """Commit what is queued, stop the writer thread and close the database."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        await asyncio.to_thread(self._thread.join)

    # -- internals (writer thread) --------------------------------------------------------

    def _run(self) -> None:
        try:
            stopping = False
            while not stopping:
                batch: list[_Entry] = []
                item = self._queue.get()
                # Group commit: take everything that queued up while the last commit ran.
                while True:
                    if item is _STOP:
                        stopping = True
                    else:
                        assert isinstance(item, _Entry)
                        batch.append(item)
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                if batch and not self._commit_batch(batch):
                    return
        finally:
            self._conn.close()

    def _commit_batch(self, batch: list[_Entry]) -> bool:
        """Write and commit one batch; on failure fail it and everything after. True if ok."""
        if self._failure is not None:
            self._fail_entries(batch, self._failure)
            return False
        seq, prev = self._head
        results: list[list[Record] | int] = []
        rows: list[tuple[int, str, str, str, str, str]] = []
        sha256 = hashlib.sha256
        quoted: dict[str, str] = {}  # streams and types recur: quote each once per batch
        for entry in batch:
            for stream, type_, payload in zip(
                entry.streams, entry.types, entry.payloads, strict=True
            ):
                seq += 1
                # record_hash, inlined: _CANONICAL([seq, stream, type_, payload]) spelled out
                # (a list of an int and three strings: the encoder writes exactly this).
                head = quoted.get(stream + "\x00" + type_)
                if head is None:
                    head = f"{_QUOTE(stream)},{_QUOTE(type_)}"
                    quoted[stream + "\x00" + type_] = head
                body = f"[{seq},{head},{_QUOTE(payload)}]"
                digest = sha256((prev + body).encode("utf-8")).hexdigest()
                rows.append((seq, stream, type_, payload, prev, digest))
                prev = digest
            if entry.events is None:
                results.append(seq)
            else:
                first = seq - len(entry.payloads)
                results.append(
                    [
                        Record(r[0], r[1], r[2], event, r[4], r[5])
                        for r, event in zip(
                            rows[first - self._head[0] :], entry.events, strict=True
                        )
                    ]
                )
        started = time.perf_counter()
        try:
            self._write(rows)
        except BaseException as exc:  # any failure, even an interrupt, must stop the journal
            failure = JournalFailed(f"journal write failed: {exc!r}")
            failure.__cause__ = exc
            _log.critical("journal write failed; refusing every further append", exc_info=exc)
            self._failure = failure
            self._fail_entries(batch, failure)
            self._drain_failed(failure)
            loop = batch[0].loop
            with contextlib.suppress(RuntimeError):  # the loop may already be closed
                loop.call_soon_threadsafe(self._failed_event.set)
            return False
        self._head = (seq, prev)
        self.stats.commits += 1
        self.stats.records += len(rows)
        self.stats.batch_sizes.append(len(batch))
        if self.on_commit is not None:
            self.on_commit(time.perf_counter() - started, len(rows))
        _resolve_all(batch, results)
        return True

    def _write(self, rows: list[tuple[int, str, str, str, str, str]]) -> None:
        """One transaction holding ``rows``; returns only after COMMIT (synchronous=FULL)."""
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.executemany(
                "INSERT INTO journal(seq, stream, type, payload, prev_hash, hash)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
            self._conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")
            raise

    def _fail_entries(self, batch: list[_Entry], failure: JournalFailed) -> None:
        for entry in batch:
            _reject(entry, failure)

    def _drain_failed(self, failure: JournalFailed) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Entry):
                _reject(item, failure)


def _encode(events: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[str]]:
    """Types and canonical payloads of ``events``; ValueError/TypeError if one is not fit."""
    types: list[str] = []
    payloads: list[str] = []
    for i, event in enumerate(events):
        type_ = event.get("type")
        if not isinstance(type_, str) or not type_:
            raise ValueError(f"events[{i}]: 'type' must be a non-empty string")
        payloads.append(_CANONICAL(event if type(event) is dict else dict(event)))
        types.append(type_)
    return types, payloads


def _resolve_all(batch: list[_Entry], results: list[list[Record] | int]) -> None:
    """Resolve a committed batch's futures: one wake-up of each event loop, not one each."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Entry, object]]] = {}
    for entry, result in zip(batch, results, strict=True):
        by_loop.setdefault(entry.loop, []).append((entry, result))

    for loop, pairs in by_loop.items():

        def _set(pairs: list[tuple[_Entry, object]] = pairs) -> None:
            for entry, result in pairs:
                if not entry.future.done():
                    entry.future.set_result(result)

        with contextlib.suppress(RuntimeError):  # the loop may already be closed
            loop.call_soon_threadsafe(_set)


def _reject(entry: _Entry, failure: JournalFailed) -> None:
    def _set() -> None:
        if not entry.future.done():
            entry.future.set_exception(failure)

    with contextlib.suppress(RuntimeError):
        entry.loop.call_soon_threadsafe(_set)


def _check_row(
    expected_seq: int,
    prev: str,
    seq: object,
    stream: object,
    type_: object,
    payload: object,
    prev_hash: object,
    hash_: object,
) -> str | None:
    """Why this row does not chain, or None if it does."""
    if seq != expected_seq:
        return f"expected sequence {expected_seq}, found {seq} (a record is missing or moved)"
    if not (
        isinstance(seq, int)
        and isinstance(stream, str)
        and isinstance(type_, str)
        and isinstance(payload, str)
        and isinstance(prev_hash, str)
        and isinstance(hash_, str)
    ):
        return "a column has the wrong type"
    if prev_hash != prev:
        return "prev_hash does not match the previous record's hash"
    if record_hash(prev, seq, stream, type_, payload) != hash_:
        return "hash does not match the record's content (altered)"
    try:
        decoded = json.loads(payload, parse_constant=_refuse_constant)
    except ValueError:
        return "payload is not valid JSON"
    if not isinstance(decoded, dict) or decoded.get("type") != type_:
        return "payload type does not match the type column"
    if canonical_json(decoded) != payload:
        return "payload is not in canonical form"
    return None


def _refuse_constant(name: str) -> float:
    raise ValueError(f"non-finite number {name}")


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """Outcome of :func:`verify`. ``ok`` is False once any record fails to chain."""

    path: Path
    records: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify(path: str | Path, expected_head: str | None = None) -> VerifyReport:
    """Recompute the hash chain of the journal at ``path`` (read-only); report the first break.

    A chain alone cannot reveal records cut off its end; pass ``expected_head`` (a head hash
    recorded elsewhere, e.g. from ``AdminService.GetServerInfo``) to detect that too.
    """
    journal_path = Path(path)
    if not journal_path.exists():
        return VerifyReport(journal_path, 0, 0, GENESIS_HASH, None, "file does not exist")
    try:
        conn = _read_only(journal_path)
    except sqlite3.Error as exc:
        return VerifyReport(journal_path, 0, 0, GENESIS_HASH, None, f"cannot open: {exc}")
    count, expected_seq, prev = 0, 1, GENESIS_HASH
    try:
        rows = conn.execute(
            "SELECT seq, stream, type, payload, prev_hash, hash FROM journal ORDER BY seq"
        )
        for seq, stream, type_, payload, prev_hash, hash_ in rows:
            problem = _check_row(expected_seq, prev, seq, stream, type_, payload, prev_hash, hash_)
            if problem:
                bad = seq if isinstance(seq, int) else expected_seq
                return VerifyReport(journal_path, count, expected_seq - 1, prev, bad, problem)
            count += 1
            expected_seq, prev = seq + 1, hash_
    except sqlite3.Error as exc:
        return VerifyReport(
            journal_path, count, expected_seq - 1, prev, expected_seq, f"cannot read: {exc}"
        )
    finally:
        conn.close()
    if (
        expected_head is not None
        and expected_head != prev
        and not _contains_hash(journal_path, expected_head)
    ):
        return VerifyReport(
            journal_path,
            count,
            expected_seq - 1,
            prev,
            None,
            f"expected head {expected_head} is not in the journal (truncated?)",
        )
    return VerifyReport(journal_path, count, expected_seq - 1, prev)


def _contains_hash(path: Path, digest: str) -> bool:
    conn = _read_only(path)
    try:
        return (
            conn.execute("SELECT 1 FROM journal WHERE hash = ?", (digest,)).fetchone() is not None
        )
    finally:
        conn.close()
