"""The journal: an append-only, hash-chained event log, durable before acknowledged.

Kept in SQLite (a file) or PostgreSQL (a URL): ``server/journal_store.py`` chooses the store
and describes what both guarantee; this module is the one definition of the chain, the group
commit and fail-stop, the same over both.

API (asyncio; call from the event loop)::

    journal = await Journal.open(location)        # takes the lock, checks the anchor, resumes
    journal = await Journal.open(url, standby=True)   # waits until the leader's lease is free
    for record in journal.replay():               # startup: every record in sequence order
        ...
    records = await journal.append("cds/AUC-1", [{"type": "OrderAccepted", ...}])
    journal.head                                  # (sequence, hash) of the last durable record
    await journal.close()
    report = verify(location)                     # offline: recompute the chain

Rules this module keeps:

* One writer. The store's lock (a lock file, or a PostgreSQL advisory lease) is taken before
  anything is read or written and kept until close: a second process refuses to start, or
  waits as a standby. Inside the process a dedicated thread owns the only write connection;
  sequence numbers and hashes are assigned there, so order is exactly commit order.
* Group commit. Appends are queued; the writer takes everything queued, writes it in one
  transaction and commits (SQLite WAL with ``synchronous=FULL``; PostgreSQL with
  ``synchronous_commit`` on), then records the anchor. Whatever arrives while a commit runs
  goes into the next one. ``append`` resolves only after the commit holding its events.
* Hash chain. ``hash = sha256(prev_hash + canonical(record))`` over the sequence number,
  stream, type and canonical JSON payload; the first record chains from ``GENESIS_HASH``.
  ``verify`` and ``replay`` recompute it and name the first bad record.
* Fail-stop. If a write or commit fails, that batch, everything queued and every later
  append raise :class:`JournalFailed`, and :meth:`Journal.wait_failed` returns. The server
  (``server/app.py``) logs that as critical and shuts down: it must not acknowledge what it
  cannot keep. The journal never retries a failed commit, because it cannot know what part
  of the batch reached the disk; restart replays whatever did. An idle writer checks its
  store every ``heartbeat_seconds`` (PostgreSQL: the session holding the lease) and fails
  the same way if it lost it.
* Tail anchor. The store records the head outside the journal after each commit and
  refuses to open a journal that ends before it (a deleted WAL, a cut-off file).

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
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from server.journal_store import (
    GENESIS_HASH,
    JournalCorrupt,
    JournalError,
    JournalFailed,
    JournalLocked,
    JournalStore,
    JournalUnavailable,
    Row,
    TailLost,
    check_tail,
    describe_location,
    open_store,
)

__all__ = [
    "GENESIS_HASH",
    "RECENT_COMMITS",
    "Journal",
    "JournalCorrupt",
    "JournalError",
    "JournalFailed",
    "JournalLocked",
    "JournalUnavailable",
    "Record",
    "TailLost",
    "VerifyReport",
    "canonical_json",
    "check_row",
    "record_hash",
    "verify",
]

_log = logging.getLogger(__name__)


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
_ENCODER: Final = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def _make_canonical() -> Callable[[Any], str]:
    """``_ENCODER.encode`` without building a new C encoder on every call (``encode`` makes
    one per document): the same C encoder with the same options, made once. Falls back to
    ``encode`` where the C accelerator is missing."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return _ENCODER.encode
    # Circular references are still refused through ``markers``, which the C encoder empties
    # after each document it finishes but not after one it refuses (NaN, an unknown type):
    # a stale entry could later match a new object at the same address, so it is cleared.
    markers: dict[int, Any] = {}
    chunks = make(
        markers,
        _ENCODER.default,
        json.encoder.encode_basestring,
        None,
        ":",
        ",",
        True,
        False,
        False,
    )

    def canonical(value: Any) -> str:
        try:
            return "".join(chunks(value, 0))
        except BaseException:
            markers.clear()
            raise

    return canonical


_CANONICAL: Final = _make_canonical()


#: The encoder's own string quoting (``ensure_ascii=False``), for :meth:`Journal._commit_batch`.
_QUOTE: Final = json.encoder.encode_basestring


def _refuse_constant(name: str) -> float:
    raise ValueError(f"non-finite number {name}")


#: One decoder for replay (``json.loads`` with options builds a new one per call); raw, so
#: the caller checks that the document ends where the payload does (canonical JSON has no
#: surrounding whitespace).
_DECODE: Final = json.JSONDecoder(parse_constant=_refuse_constant).raw_decode


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


#: How many of the latest commits :attr:`JournalStats.batch_sizes` remembers.
RECENT_COMMITS: Final = 1000


@dataclass
class JournalStats:
    """Counters kept by the writer, for tests and metrics. ``batch_sizes`` counts the appends
    of each of the latest :data:`RECENT_COMMITS` commits (bounded: a server under load
    commits hundreds of times a second, for weeks)."""

    commits: int = 0
    records: int = 0
    batch_sizes: deque[int] = field(default_factory=lambda: deque(maxlen=RECENT_COMMITS))


class Journal:
    """The server's journal. Create with :meth:`open`; one instance per journal per process."""

    def __init__(self, store: JournalStore, head: tuple[int, str]) -> None:
        self.store = store
        #: The journal's location as it may be shown (a path, or a URL without password).
        self.location = store.description
        self._head = head
        self._queue: queue.SimpleQueue[_Entry | object] = queue.SimpleQueue()
        self._failure: JournalFailed | None = None
        self._failed_event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
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

        Blocking (reads the store on the caller's thread through its own connection): call
        it at startup before serving, or through ``asyncio.to_thread``.

        Every record's sequence, link and hash are recomputed and its payload decoded once
        (the one JSON parse whose result the record carries); a record that fails any of
        that is described by :func:`check_row`, the same words ``verify`` uses. Unlike
        ``verify``, replay does not re-encode each payload to check its canonical spelling:
        the hash already proves the bytes are the ones the writer hashed, and the writer
        only writes canonical JSON.

        Raises:
            JournalCorrupt: at the first record whose sequence or hash does not chain, or
                when the store cannot be read (a damaged file).
        """
        expected_seq, prev = 1, GENESIS_HASH
        if after > 0:
            found = self.store.hash_at(after)
            if found is None:
                raise JournalCorrupt(f"record {after} not found")
            expected_seq, prev = after + 1, found
        sha256 = hashlib.sha256
        quoted: dict[tuple[object, object], str] = {}  # streams and types recur: quote once
        try:
            for row in self.store.read(after):
                seq, stream, type_, payload, prev_hash, hash_ = row
                decoded: dict[str, Any] | None = None
                head = quoted.get((stream, type_))
                if head is None and type(stream) is str and type(type_) is str:
                    head = quoted[(stream, type_)] = f"{_QUOTE(stream)},{_QUOTE(type_)}"
                if (
                    seq == expected_seq
                    and prev_hash == prev
                    and type(seq) is int
                    and type(payload) is str
                    and head is not None
                    # record_hash, inlined as in _commit_batch (the same bytes).
                    and sha256(f"{prev}[{seq},{head},{_QUOTE(payload)}]".encode()).hexdigest()
                    == hash_
                ):
                    decoded = _decode_payload(payload, type_)
                if decoded is None:
                    problem = check_row(expected_seq, prev, *row) or "payload does not decode"
                    raise JournalCorrupt(f"record {seq}: {problem}")
                yield Record(seq, stream, type_, decoded, prev_hash, hash_)
                expected_seq, prev = seq + 1, hash_
        except JournalError:
            raise
        except Exception as exc:  # sqlite3.DatabaseError, psycopg.Error: unreadable
            raise JournalCorrupt(
                f"record {expected_seq}: cannot be read ({exc}); the last good record is"
                f" {expected_seq - 1} (hash {prev})"
            ) from exc

    def read_stream(self, stream: str, first: int, last: int) -> list[Record]:
        """The durable records of ``stream`` with ``first <= seq <= last``, in order.

        Blocking (its own connection, like :meth:`replay`): call it through
        ``asyncio.to_thread``. It does not recheck the chain (``replay`` did at startup and
        ``verify`` does on demand); it only reads what the writer committed.
        """
        rows = self.store.read_stream(stream, first, last)
        return [Record(seq, s, t, json.loads(p), prev, h) for seq, s, t, p, prev, h in rows]

    # -- commands -------------------------------------------------------------------------

    @classmethod
    async def open(
        cls,
        location: str | Path,
        *,
        standby: bool = False,
        poll_seconds: float = 0.5,
        on_wait: Callable[[str], None] | None = None,
    ) -> Journal:
        """Take the journal's single-writer lock, check its anchor, start the writer thread.

        ``location`` is a SQLite path (or ``sqlite:///`` URL) or a ``postgresql://`` URL; a
        new journal is created. With ``standby`` the call waits (polling every
        ``poll_seconds``; cancel it to give up) until the lock is free instead of refusing,
        calling ``on_wait(holder)`` once when it starts waiting.

        Raises:
            JournalLocked: another process holds the lock (and ``standby`` is False).
            TailLost: the journal ends before its anchor, or its WAL vanished; nothing was
                written and the message names the last good record.
            JournalUnavailable: the journal cannot be opened (bad URL, no database...).
        """
        try:
            store = open_store(location)
        except ValueError as exc:
            raise JournalUnavailable(f"journal {location}: {exc}") from None
        where = describe_location(location)
        waiting = False
        while True:
            try:
                acquired = await asyncio.to_thread(store.try_acquire)
            except Exception as exc:
                if not standby:
                    raise JournalUnavailable(f"cannot open journal {where}: {exc}") from exc
                _log.warning("standby: cannot reach journal %s (%s); retrying", where, exc)
                await asyncio.to_thread(store.close)
                acquired = False
            if acquired:
                break
            if not standby:
                holder = await asyncio.to_thread(store.holder)
                await asyncio.to_thread(store.close)
                raise JournalLocked(
                    f"journal {where} is in use by {holder}: one server writes a journal;"
                    " stop the other one, or start this one with --standby to take over"
                    " when it stops"
                )
            if not waiting:
                waiting = True
                if on_wait is not None:
                    on_wait(await asyncio.to_thread(store.holder))
            try:
                await asyncio.sleep(poll_seconds)
            except asyncio.CancelledError:
                await asyncio.to_thread(store.close)
                raise
        try:
            head = await asyncio.to_thread(store.prepare)
        except JournalError:
            await asyncio.to_thread(store.close)
            raise
        except Exception as exc:
            await asyncio.to_thread(store.close)
            raise JournalUnavailable(f"cannot open journal {where}: {exc}") from exc
        journal = cls(store, head)
        journal._loop = asyncio.get_running_loop()
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

        What :meth:`append` awaits (the services queue through :meth:`submit_many`, which
        builds no records). Same contract and errors as :meth:`append`; an empty ``events``
        gives an already-resolved future.
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
        interval = self.store.heartbeat_seconds
        try:
            stopping = False
            while not stopping:
                batch: list[_Entry] = []
                try:
                    item = self._queue.get(timeout=interval)
                except queue.Empty:
                    if not self._heartbeat():
                        return
                    continue
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
            try:
                self.store.close()
            except Exception:
                _log.exception("closing the journal store failed")

    def _heartbeat(self) -> bool:
        """Check an idle store (the lease); on failure stop like a failed write. True if ok."""
        try:
            self.store.heartbeat()
        except BaseException as exc:
            self._stop_on(JournalFailed(f"journal lost (idle check failed): {exc!r}"), exc, [])
            return False
        return True

    def _stop_on(self, failure: JournalFailed, exc: BaseException, batch: list[_Entry]) -> None:
        failure.__cause__ = exc
        _log.critical("%s; refusing every further append", failure, exc_info=exc)
        self._failure = failure
        self._fail_entries(batch, failure)
        self._drain_failed(failure)
        loop = batch[0].loop if batch else self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop may already be closed
                loop.call_soon_threadsafe(self._failed_event.set)

    def _commit_batch(self, batch: list[_Entry]) -> bool:
        """Write and commit one batch; on failure fail it and everything after. True if ok."""
        if self._failure is not None:
            self._fail_entries(batch, self._failure)
            return False
        seq, prev = self._head
        results: list[list[Record] | int] = []
        rows: list[Row] = []
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
            self._stop_on(JournalFailed(f"journal write failed: {exc!r}"), exc, batch)
            return False
        self._head = (seq, prev)
        self.stats.commits += 1
        self.stats.records += len(rows)
        self.stats.batch_sizes.append(len(batch))
        if self.on_commit is not None:
            self.on_commit(time.perf_counter() - started, len(rows))
        _resolve_all(batch, results)
        return True

    def _write(self, rows: list[Row]) -> None:
        """One transaction holding ``rows`` (and the anchor); returns only after the commit."""
        self.store.write(rows)

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


def _decode_payload(payload: str, type_: object) -> dict[str, Any] | None:
    """The payload as a dict if it is one JSON object (nothing around it, no NaN) whose
    ``type`` is ``type_``; else None (:func:`check_row` then says what is wrong)."""
    try:
        decoded, end = _DECODE(payload)
    except ValueError:
        return None
    if end != len(payload) or type(decoded) is not dict or decoded.get("type") != type_:
        return None
    return decoded


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


def check_row(
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


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """Outcome of :func:`verify`. ``ok`` is False once any record fails to chain."""

    location: str
    records: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify(location: str | Path, expected_head: str | None = None) -> VerifyReport:
    """Recompute the hash chain of the journal at ``location`` (read-only); report the first
    break, and a tail cut off before the journal's own anchor or before ``expected_head``
    (a head hash recorded elsewhere, e.g. from ``AdminService.GetServerInfo``).

    Safe while a server writes the journal: it reads one consistent snapshot.
    """
    where = describe_location(location)
    try:
        store = open_store(location)
    except ValueError as exc:
        return VerifyReport(where, 0, 0, GENESIS_HASH, None, str(exc))
    try:
        if not store.exists():
            return VerifyReport(where, 0, 0, GENESIS_HASH, None, "the journal does not exist")
    except Exception as exc:
        return VerifyReport(where, 0, 0, GENESIS_HASH, None, f"cannot open: {exc}")
    count, expected_seq, prev = 0, 1, GENESIS_HASH
    try:
        for seq, stream, type_, payload, prev_hash, hash_ in store.read():
            problem = check_row(expected_seq, prev, seq, stream, type_, payload, prev_hash, hash_)
            if problem:
                bad = seq if isinstance(seq, int) else expected_seq
                return VerifyReport(where, count, expected_seq - 1, prev, bad, problem)
            count += 1
            expected_seq, prev = seq + 1, hash_
        head = (expected_seq - 1, prev)
        anchor = store.anchor()
        if anchor is not None and anchor.seq > 0:
            check_tail(where, head, anchor, store.hash_at(anchor.seq))
        if (
            expected_head is not None
            and expected_head != prev
            and store.find_hash(expected_head) is None
        ):
            return VerifyReport(
                where,
                count,
                head[0],
                prev,
                None,
                f"expected head {expected_head} is not in the journal (truncated?);"
                f" the last good record is {head[0]} (hash {prev})",
            )
    except TailLost as exc:
        return VerifyReport(where, count, expected_seq - 1, prev, None, str(exc))
    except Exception as exc:  # sqlite3.Error, psycopg.Error: an unreadable journal
        return VerifyReport(
            where,
            count,
            expected_seq - 1,
            prev,
            expected_seq,
            f"cannot read: {exc}; the last good record is {expected_seq - 1} (hash {prev})",
        )
    finally:
        with contextlib.suppress(Exception):
            store.close()
    return VerifyReport(where, count, expected_seq - 1, prev)
