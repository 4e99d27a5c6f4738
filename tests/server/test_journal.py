"""The journal: durable ordering, group commit, replay, hash-chain verification, fail-stop."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.journal import (
    GENESIS_HASH,
    Journal,
    JournalCorrupt,
    JournalFailed,
    canonical_json,
    record_hash,
    verify,
)


@pytest.fixture
async def journal(tmp_path: Path) -> AsyncIterator[Journal]:
    j = await Journal.open(tmp_path / "j.sqlite")
    yield j
    await j.close()


def _event(i: int) -> dict[str, object]:
    return {"type": "Submitted", "order": f"o-{i}", "price": "25.375", "size": 5_000_000 + i}


async def test_append_returns_records_with_contiguous_sequences(journal: Journal) -> None:
    first = await journal.append("cds/A", [_event(1), _event(2)])
    second = await journal.append("cds/B", [_event(3)])
    assert [r.seq for r in first + second] == [1, 2, 3]
    assert first[0].prev_hash == GENESIS_HASH
    assert first[1].prev_hash == first[0].hash
    assert second[0].prev_hash == first[1].hash
    assert journal.head == (3, second[0].hash)
    assert first[0].payload == _event(1)
    assert first[0].type == "Submitted"


async def test_records_are_durable_when_append_returns(journal: Journal) -> None:
    records = await journal.append("s", [_event(1)])
    # A separate connection sees the row: the commit happened before append resolved.
    conn = sqlite3.connect(journal.path)
    try:
        rows = conn.execute("SELECT seq, hash FROM journal").fetchall()
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        conn.close()
    assert rows == [(1, records[0].hash)]
    assert mode == "wal"


async def test_concurrent_appends_keep_each_call_contiguous(journal: Journal) -> None:
    results = await asyncio.gather(
        *(journal.append(f"s{i}", [_event(i), _event(i + 1000)]) for i in range(200))
    )
    all_seqs = sorted(r.seq for records in results for r in records)
    assert all_seqs == list(range(1, 401))
    for records in results:
        assert records[1].seq == records[0].seq + 1
        assert records[0].stream == records[1].stream


async def test_replay_returns_what_was_appended(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    j = await Journal.open(path)
    appended = []
    for i in range(5):
        appended += await j.append(f"s{i % 2}", [_event(i)])
    await j.close()

    reopened = await Journal.open(path)
    try:
        assert list(reopened.replay()) == appended
        assert list(reopened.replay(after=3)) == appended[3:]
        assert reopened.head == (5, appended[-1].hash)
        more = await reopened.append("s0", [_event(99)])
        assert more[0].seq == 6
        assert more[0].prev_hash == appended[-1].hash
    finally:
        await reopened.close()
    assert verify(path).ok


async def test_bad_events_are_refused_without_harm(journal: Journal) -> None:
    with pytest.raises(ValueError, match="type"):
        await journal.append("s", [{"no_type": 1}])
    with pytest.raises(ValueError, match="JSON compliant"):
        await journal.append("s", [{"type": "X", "bad": float("nan")}])
    with pytest.raises(TypeError):
        await journal.append("s", [{"type": "X", "bad": object()}])
    records = await journal.append("s", [_event(1)])
    assert records[0].seq == 1
    assert journal.failure is None


class _GatedJournal(Journal):
    """Holds its first commit until released, so later appends must queue behind it."""

    gate = threading.Event()
    entered = threading.Event()

    def _write(self, rows: list[tuple[int, str, str, str, str, str]]) -> None:
        if self.stats.commits == 0:
            self.entered.set()
            self.gate.wait(timeout=30)
        super()._write(rows)


async def test_group_commit_batches_everything_queued_during_a_commit(tmp_path: Path) -> None:
    _GatedJournal.gate = threading.Event()
    _GatedJournal.entered = threading.Event()
    j = await _GatedJournal.open(tmp_path / "j.sqlite")
    try:
        first = asyncio.ensure_future(j.append("s", [_event(0)]))
        await asyncio.to_thread(_GatedJournal.entered.wait, 30)
        rest = [asyncio.ensure_future(j.append("s", [_event(i)])) for i in range(1, 51)]
        await asyncio.sleep(0)  # let every append enqueue
        _GatedJournal.gate.set()
        await asyncio.gather(first, *rest)
        assert j.stats.commits == 2
        assert j.stats.batch_sizes == [1, 50]
        assert [t.result()[0].seq for t in rest] == list(range(2, 52))
    finally:
        await j.close()


class _FailingJournal(Journal):
    """Fails the commit of any batch holding an event of type ``Boom``."""

    def _write(self, rows: list[tuple[int, str, str, str, str, str]]) -> None:
        if any(row[2] == "Boom" for row in rows):
            raise sqlite3.OperationalError("disk I/O error (simulated)")
        super()._write(rows)


async def test_fail_stop_after_a_failed_write(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    j = await _FailingJournal.open(path)
    try:
        ok = await j.append("s", [_event(1)])
        with pytest.raises(JournalFailed) as failed:
            await j.append("s", [{"type": "Boom"}])
        assert isinstance(failed.value.__cause__, sqlite3.OperationalError)
        assert await asyncio.wait_for(j.wait_failed(), 10) is failed.value
        with pytest.raises(JournalFailed):
            await j.append("s", [_event(2)])
        assert j.head == (1, ok[0].hash)
    finally:
        await j.close()
    assert verify(path).records == 1


def _tamper(path: Path, sql: str, *params: object) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute(sql, params)
        conn.commit()
    finally:
        conn.close()


async def _journal_with(path: Path, n: int) -> None:
    j = await Journal.open(path)
    for i in range(n):
        await j.append("s", [_event(i)])
    await j.close()


async def test_verify_passes_on_an_untouched_journal(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    await _journal_with(path, 5)
    report = verify(path)
    assert report.ok
    assert (report.records, report.head_seq) == (5, 5)


async def test_verify_detects_an_altered_payload(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    await _journal_with(path, 5)
    forged = canonical_json({**_event(2), "size": 1})
    _tamper(path, "UPDATE journal SET payload = ? WHERE seq = 3", forged)
    report = verify(path)
    assert not report.ok
    assert report.first_bad_seq == 3
    assert "altered" in (report.problem or "")


async def test_verify_detects_a_deleted_row(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    await _journal_with(path, 5)
    _tamper(path, "DELETE FROM journal WHERE seq = 2")
    report = verify(path)
    assert not report.ok
    assert report.first_bad_seq == 3


async def test_verify_detects_reordered_rows(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    await _journal_with(path, 5)
    # Swap the content of records 2 and 4 but keep their sequence numbers.
    conn = sqlite3.connect(path)
    try:
        r2 = conn.execute("SELECT payload, prev_hash, hash FROM journal WHERE seq=2").fetchone()
        r4 = conn.execute("SELECT payload, prev_hash, hash FROM journal WHERE seq=4").fetchone()
        conn.execute("UPDATE journal SET payload=?, prev_hash=?, hash=? WHERE seq=2", r4)
        conn.execute("UPDATE journal SET payload=?, prev_hash=?, hash=? WHERE seq=4", r2)
        conn.commit()
    finally:
        conn.close()
    report = verify(path)
    assert not report.ok
    assert report.first_bad_seq == 2


async def test_verify_detects_a_rehashed_forgery_by_its_successor(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    await _journal_with(path, 5)
    conn = sqlite3.connect(path)
    try:
        prev = conn.execute("SELECT hash FROM journal WHERE seq=2").fetchone()[0]
    finally:
        conn.close()
    forged = canonical_json({**_event(2), "size": 1})
    new_hash = record_hash(prev, 3, "s", "Submitted", forged)
    _tamper(path, "UPDATE journal SET payload=?, hash=? WHERE seq=3", forged, new_hash)
    report = verify(path)
    assert report.first_bad_seq == 4


async def test_verify_detects_truncation_only_with_an_expected_head(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    await _journal_with(path, 5)
    head = verify(path).head_hash
    _tamper(path, "DELETE FROM journal WHERE seq = 5")
    assert verify(path).ok  # a chain alone cannot see a cut-off tail...
    report = verify(path, expected_head=head)
    assert not report.ok  # ...an anchor recorded elsewhere can
    assert "truncated" in (report.problem or "")


async def test_replay_refuses_a_tampered_journal(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    await _journal_with(path, 3)
    _tamper(path, "UPDATE journal SET payload = ? WHERE seq = 2", canonical_json(_event(7)))
    j = await Journal.open(path)
    try:
        with pytest.raises(JournalCorrupt, match="record 2"):
            list(j.replay())
    finally:
        await j.close()


def test_verify_reports_a_missing_file(tmp_path: Path) -> None:
    report = verify(tmp_path / "nope.sqlite")
    assert not report.ok
    assert not (tmp_path / "nope.sqlite").exists()
