"""SQLite damage after a crash: a deleted, cut or flipped WAL, a missing file, a torn anchor.

A crash is played by copying the journal's files while its writer is open and quiet (what a
SIGKILL leaves on disk: the file, its WAL, the anchor), then damaging the copy. The server
must refuse to start on the damaged copy, naming the last good record, and write nothing.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import shutil
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.journal import GENESIS_HASH, Journal, TailLost, canonical_json, record_hash, verify
from server.journal_sqlite import SqliteStore
from server.journal_store import Anchor, Row

FILES = ("j.sqlite", "j.sqlite-wal", "j.sqlite.head")


def _event(i: int) -> dict[str, object]:
    return {"type": "Submitted", "order": f"o-{i}", "size": 1_000_000 + i, "pad": "x" * 200}


@pytest.fixture
async def crashed(tmp_path: Path) -> AsyncIterator[Path]:
    """The files of a journal of 300 records as a SIGKILL would leave them (WAL not
    checkpointed), copied into ``crashed/``; the original writer is still open meanwhile."""
    live = tmp_path / "live"
    live.mkdir()
    journal = await Journal.open(live / "j.sqlite")
    try:
        for i in range(300):
            await journal.append("s", [_event(i)])
        copy = tmp_path / "crashed"
        copy.mkdir()
        for name in FILES:
            shutil.copyfile(live / name, copy / name)
        yield copy / "j.sqlite"
    finally:
        await journal.close()


async def test_the_crashed_copy_itself_opens_with_every_record(crashed: Path) -> None:
    assert (crashed.parent / "j.sqlite-wal").stat().st_size > 0  # records live in the WAL
    journal = await Journal.open(crashed)
    try:
        assert journal.head[0] == 300
        assert sum(1 for _ in journal.replay()) == 300
    finally:
        await journal.close()
    assert verify(crashed).ok


async def test_a_deleted_wal_is_refused(crashed: Path) -> None:
    (crashed.parent / "j.sqlite-wal").unlink()
    with pytest.raises(TailLost, match=r"WAL j\.sqlite-wal is missing after an unclean stop"):
        await Journal.open(crashed)
    assert not (crashed.parent / "j.sqlite-wal").exists()  # nothing was created or written
    assert not verify(crashed).ok


async def test_a_cut_off_wal_tail_is_refused_naming_the_last_good_record(crashed: Path) -> None:
    wal = crashed.parent / "j.sqlite-wal"
    data = wal.read_bytes()
    wal.write_bytes(data[: len(data) - 3 * 1024])
    with pytest.raises(TailLost, match=r"ends at record (\d+) \(hash [0-9a-f]{64}\)") as refused:
        await Journal.open(crashed)
    assert "was committed" in str(refused.value)
    report = verify(crashed)
    assert not report.ok
    assert 0 < report.head_seq < 300


async def test_half_a_wal_is_refused(crashed: Path) -> None:
    wal = crashed.parent / "j.sqlite-wal"
    data = wal.read_bytes()
    wal.write_bytes(data[: len(data) // 2])
    with pytest.raises(TailLost, match=r"records \d+ to 300 are lost"):
        await Journal.open(crashed)


async def test_a_flipped_byte_in_the_wal_is_refused(crashed: Path) -> None:
    wal = crashed.parent / "j.sqlite-wal"
    data = bytearray(wal.read_bytes())
    data[len(data) // 2] ^= 0x01  # the frame checksum no longer matches: SQLite drops the rest
    wal.write_bytes(bytes(data))
    with pytest.raises(TailLost, match="are lost"):
        await Journal.open(crashed)
    assert not verify(crashed).ok


async def test_a_deleted_journal_file_is_refused_while_its_anchor_remains(crashed: Path) -> None:
    await asyncio.to_thread(crashed.unlink)
    await asyncio.to_thread((crashed.parent / "j.sqlite-wal").unlink)
    with pytest.raises(TailLost, match="is missing but its anchor"):
        await Journal.open(crashed)
    assert not await asyncio.to_thread(crashed.exists)  # no empty journal in its place


async def test_after_a_clean_close_a_missing_wal_is_normal(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = await Journal.open(path)
    for i in range(3):
        await journal.append("s", [_event(i)])
    await journal.close()
    assert not (tmp_path / "j.sqlite-wal").exists()  # checkpointed into the file on close
    reopened = await Journal.open(path)
    try:
        assert reopened.head[0] == 3
    finally:
        await reopened.close()


async def test_a_torn_anchor_slot_falls_back_to_the_other(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = await Journal.open(path)
    for i in range(4):
        await journal.append("s", [_event(i)])
    await journal.close()
    head = tmp_path / "j.sqlite.head"
    data = bytearray(head.read_bytes())
    newest = max(range(2), key=lambda slot: int(data[slot * 160 :].split()[1]))
    data[newest * 160 + 40] ^= 0xFF  # the last anchor write was torn
    head.write_bytes(bytes(data))
    reopened = await Journal.open(path)  # the other slot is one commit older: still valid
    try:
        assert reopened.head[0] == 4
    finally:
        await reopened.close()


async def test_the_lock_file_names_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = await Journal.open(path)
    try:
        assert "pid" in (tmp_path / "j.sqlite.lock").read_text()
    finally:
        await journal.close()


async def test_an_anchor_with_both_slots_damaged_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = await Journal.open(path)
    await journal.append("s", [_event(1)])
    await journal.close()
    await asyncio.to_thread((tmp_path / "j.sqlite.head").write_bytes, b"\x01" * 320)
    with pytest.raises(TailLost, match=r"anchor .*j\.sqlite\.head is unreadable"):
        await Journal.open(path)


async def test_an_anchor_file_never_written_counts_as_none(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = await Journal.open(path)
    await journal.append("s", [_event(1)])
    await journal.close()
    await asyncio.to_thread((tmp_path / "j.sqlite.head").write_bytes, b"")
    reopened = await Journal.open(path)  # a crash between creating the file and writing it
    try:
        assert reopened.head[0] == 1
    finally:
        await reopened.close()


@pytest.mark.parametrize("size", [1, 2, 3, 511, 512, 513, 1024 + 256 + 7])
async def test_a_commit_of_any_size_is_stored_row_for_row(tmp_path: Path, size: int) -> None:
    """A commit's rows go in multi-row INSERT statements of a few sizes; whatever the size
    of the batch, every row is stored once, in order, and the chain verifies and replays."""
    path = tmp_path / "j.sqlite"
    journal = await Journal.open(path)
    try:
        first = await journal.append("a", [_event(0)])
        batch = await journal.append("b", [_event(i) for i in range(1, size + 1)])
        last = await journal.append("a", [_event(size + 1)])
        written = first + batch + last
    finally:
        await journal.close()
    assert verify(path).ok
    reopened = await Journal.open(path)
    try:
        assert list(reopened.replay()) == written
        assert [r.seq for r in written] == list(range(1, size + 3))
    finally:
        await reopened.close()


def _rows(first: int, count: int, prev: str = GENESIS_HASH) -> list[Row]:
    rows: list[Row] = []
    for seq in range(first, first + count):
        payload = canonical_json(_event(seq))
        digest = record_hash(prev, seq, "s", "Submitted", payload)
        rows.append((seq, "s", "Submitted", payload, prev, digest))
        prev = digest
    return rows


@pytest.mark.parametrize(("size", "statements"), [(1, 1), (12, 1), (512, 1), (513, 4)])
def test_a_commit_is_one_statement_unless_it_is_larger_than_one_insert(
    tmp_path: Path, size: int, statements: int
) -> None:
    """Every statement the writer thread runs hands the GIL back and forth with the event
    loop, so a commit of up to 512 rows is one INSERT in its own (autocommit) transaction;
    only a larger one is BEGIN, its INSERTs and COMMIT. Either way every row is stored."""
    store = SqliteStore(tmp_path / "j.sqlite")
    assert store.try_acquire()
    store.prepare()
    executed: list[str] = []
    try:
        assert store._conn is not None
        store._conn.set_trace_callback(executed.append)
        rows = _rows(1, size)
        store.write(rows)
        store._conn.set_trace_callback(None)
        assert len(executed) == statements
        assert list(store.read()) == rows
    finally:
        store.close()


def test_a_failed_commit_stores_none_of_its_rows(tmp_path: Path) -> None:
    """The one-statement commit is atomic: a row that cannot be stored (here a sequence
    number already taken) leaves none of its commit's rows behind."""
    store = SqliteStore(tmp_path / "j.sqlite")
    assert store.try_acquire()
    store.prepare()
    try:
        first = _rows(1, 3)
        store.write(first)
        clash = [*_rows(4, 5, prev=first[-1][5]), first[0]]  # seq 1 again, last
        with pytest.raises(sqlite3.IntegrityError):
            store.write(clash)
        assert list(store.read()) == first
        assert store.anchor() == Anchor(3, first[-1][5], clean=False)
    finally:
        store.close()


def test_the_anchor_is_written_with_synchronized_data(tmp_path: Path) -> None:
    """The anchor's file is open with O_DSYNC: each anchor write returns only once it is on
    stable storage (one system call where a write and an fdatasync took two)."""
    store = SqliteStore(tmp_path / "j.sqlite")
    assert store.try_acquire()
    store.prepare()
    try:
        assert store._head_fd is not None
        assert fcntl.fcntl(store._head_fd, fcntl.F_GETFL) & os.O_DSYNC == os.O_DSYNC
    finally:
        store.close()
