"""Offline journal operations for operators: export, import (migration, restore) and backup.

* :func:`export` writes every record as JSON Lines: a header line, one line per record with
  the payload as its exact canonical string (so hashes re-verify byte for byte), and an end
  line with the count and head hash (a cut-off export is detected on import).
* :func:`import_records` copies an export, or any journal (SQLite path or PostgreSQL URL),
  into an EMPTY journal, re-verifying the chain as it goes and taking the target's writer
  lock: SQLite -> PostgreSQL migration, and restoring a backup.
* :func:`backup` copies a journal consistently while a server writes it: SQLite through its
  online backup API (a journal file), PostgreSQL as an export (one snapshot).

This module must never write to a journal that is not empty, never write a record that does
not chain, and never hold a lock longer than the operation.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

from server.journal import GENESIS_HASH, JournalCorrupt, check_row, verify
from server.journal_store import (
    JournalError,
    JournalLocked,
    JournalUnavailable,
    Row,
    describe_location,
    is_postgres,
    open_store,
    parse_location,
)

__all__ = ["EXPORT_FORMAT", "Copied", "backup", "export", "import_records", "read_export"]

EXPORT_FORMAT: Final = "closeout-journal-export"
_BATCH: Final = 5000


@dataclass(frozen=True, slots=True)
class Copied:
    """What an export, import or backup copied: the record count and the head."""

    records: int
    head_seq: int
    head_hash: str


def _checked(rows: Iterator[Row], source: str) -> Iterator[Row]:
    """``rows`` as they come, refusing the first one that does not chain."""
    expected, prev = 1, GENESIS_HASH
    for row in rows:
        problem = check_row(expected, prev, *row)
        if problem:
            raise JournalCorrupt(f"{source}: record {row[0]}: {problem}")
        yield row
        expected, prev = row[0] + 1, row[5]


def export(location: str | Path, out: IO[str]) -> Copied:
    """Write the journal at ``location`` to ``out`` as JSON Lines (one read snapshot).

    Raises:
        JournalCorrupt: a record does not chain (the export stops there).
        JournalUnavailable: the journal does not exist or cannot be read.
    """
    where = describe_location(location)
    store = open_store(location)
    try:
        if not store.exists():
            raise JournalUnavailable(f"journal {where} does not exist")
        out.write(json.dumps({"format": EXPORT_FORMAT, "version": 1}) + "\n")
        count, head = 0, (0, GENESIS_HASH)
        for seq, stream, type_, payload, prev_hash, hash_ in _checked(store.read(), where):
            record = {
                "seq": seq,
                "stream": stream,
                "type": type_,
                "payload": payload,
                "prev_hash": prev_hash,
                "hash": hash_,
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count, head = count + 1, (seq, hash_)
        out.write(json.dumps({"end": True, "records": count, "head": head[1]}) + "\n")
    finally:
        with contextlib.suppress(Exception):
            store.close()
    return Copied(count, *head)


def read_export(path: Path) -> Iterator[Row]:
    """The rows of an export file, in order; refuses a file that is not one or is cut off."""
    with path.open(encoding="utf-8") as lines:
        header = json.loads(next(lines, "null"))
        if not isinstance(header, dict) or header.get("format") != EXPORT_FORMAT:
            raise JournalCorrupt(f"{path}: not a journal export (no {EXPORT_FORMAT} header)")
        count = 0
        for number, line in enumerate(lines, start=2):
            item = json.loads(line)
            if item.get("end") is True:
                if item.get("records") != count:
                    raise JournalCorrupt(
                        f"{path}: the end line says {item.get('records')} records, found {count}"
                    )
                return
            try:
                row: Row = (
                    int(item["seq"]),
                    str(item["stream"]),
                    str(item["type"]),
                    str(item["payload"]),
                    str(item["prev_hash"]),
                    str(item["hash"]),
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise JournalCorrupt(f"{path}:{number}: not a journal record ({exc})") from None
            count += 1
            yield row
    raise JournalCorrupt(f"{path}: cut off after {count} records (no end line)")


def _source_rows(source: str | Path) -> tuple[Iterator[Row], str, object]:
    """Rows of ``source`` (an export file or a journal) and a store to close (or None)."""
    if isinstance(source, Path) and source.is_file():
        with source.open("rb") as probe:
            if probe.read(len(EXPORT_FORMAT) + 16).lstrip().startswith(b'{"format"'):
                return read_export(source), str(source), None
    location = parse_location(source)
    store = open_store(location)
    if not store.exists():
        raise JournalUnavailable(f"journal {describe_location(location)} does not exist")
    return store.read(), describe_location(location), store


def import_records(source: str | Path, target: str | Path) -> Copied:
    """Copy every record of ``source`` (an export file or a journal) into the empty journal
    ``target``, checking the chain; the target's anchor ends at the copied head.

    Raises:
        JournalLocked: a server holds the target.
        JournalError: the target is not empty, or the source does not chain (nothing is
            left half-imported only if the source was bad from its first record; a bad
            record later stops the import, and the target holds the good records before it).
    """
    store = open_store(target)
    where = describe_location(target)
    if not store.try_acquire():
        holder = store.holder()
        store.close()
        raise JournalLocked(f"journal {where} is in use by {holder}; stop it before importing")
    source_store: object = None
    try:
        head = store.prepare()
        if head[0] != 0:
            raise JournalError(
                f"journal {where} already holds {head[0]} records: import only into an empty"
                " journal (a new file, or a new database or schema)"
            )
        rows, source_name, source_store = _source_rows(source)
        batch: list[Row] = []
        count = 0
        for row in _checked(rows, source_name):
            batch.append(row)
            if len(batch) >= _BATCH:
                store.write(batch)
                count, head = count + len(batch), (row[0], row[5])
                batch = []
        if batch:
            store.write(batch)
            count, head = count + len(batch), (batch[-1][0], batch[-1][5])
    finally:
        store.close()
        closer = getattr(source_store, "close", None)
        if closer is not None:
            with contextlib.suppress(Exception):
                closer()
    return Copied(count, *head)


def backup(location: str | Path, dest: Path) -> Copied:
    """A consistent copy of the journal at ``location`` in ``dest`` (which must not exist),
    safe while a server writes it: SQLite -> a journal file (online backup API), PostgreSQL
    -> an export file. The copy is verified before this returns.

    Raises:
        FileExistsError: ``dest`` exists.
        JournalCorrupt: the copy does not verify.
    """
    if dest.exists():
        raise FileExistsError(f"{dest} already exists; a backup never overwrites")
    parsed = parse_location(location)
    if is_postgres(parsed):
        partial = dest.with_name(dest.name + ".partial")
        with partial.open("x", encoding="utf-8") as out:
            copied = export(parsed, out)
            out.flush()
        partial.rename(dest)
        check = sum(1 for _ in _checked(read_export(dest), str(dest)))
        if check != copied.records:
            raise JournalCorrupt(f"{dest}: holds {check} records, {copied.records} were written")
        return copied
    from server.journal_sqlite import backup as sqlite_backup

    assert isinstance(parsed, Path)
    if not parsed.exists():
        raise JournalUnavailable(f"journal {parsed} does not exist")
    sqlite_backup(parsed, dest)
    report = verify(dest)
    if not report.ok:
        raise JournalCorrupt(f"{dest}: the backup does not verify: {report.problem}")
    return Copied(report.records, report.head_seq, report.head_hash)
