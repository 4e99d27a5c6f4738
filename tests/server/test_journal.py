"""The journal's contract, on both backends (SQLite file, PostgreSQL database): durable
ordering, group commit, replay, hash-chain verification, fail-stop, one writer, tail anchor.

Every test takes the ``location`` fixture, so each runs once per backend; the store-specific
damage (a deleted or damaged SQLite WAL) is in ``test_journal_sqlite.py``.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.journal import (
    GENESIS_HASH,
    RECENT_COMMITS,
    Journal,
    JournalCorrupt,
    JournalFailed,
    JournalLocked,
    TailLost,
    canonical_json,
    record_hash,
    verify,
)
from server.journal_store import Row
from tests.server.backends import location, postgres_location, run_sql

__all__ = ["location", "postgres_location"]  # fixtures used here


@pytest.fixture
async def journal(location: str | Path) -> AsyncIterator[Journal]:
    j = await Journal.open(location)
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


async def test_records_are_durable_when_append_returns(
    location: str | Path, journal: Journal
) -> None:
    records = await journal.append("s", [_event(1)])
    # A separate connection sees the row: the commit happened before append resolved.
    assert run_sql(location, "SELECT seq, hash FROM journal") == [(1, records[0].hash)]
    if isinstance(location, Path):
        assert run_sql(location, "PRAGMA journal_mode") == [("wal",)]
    else:
        assert run_sql(location, "SHOW synchronous_commit") != [("off",)]


async def test_submit_many_resolves_with_the_last_sequence(journal: Journal) -> None:
    last = await journal.submit_many([("a", [_event(1), _event(2)]), ("b", [_event(3)])])
    assert last == 3
    assert [(r.seq, r.stream) for r in journal.replay()] == [(1, "a"), (2, "a"), (3, "b")]
    assert [r.seq for r in journal.read_stream("a", 1, 3)] == [1, 2]


async def test_concurrent_appends_keep_each_call_contiguous(journal: Journal) -> None:
    results = await asyncio.gather(
        *(journal.append(f"s{i}", [_event(i), _event(i + 1000)]) for i in range(200))
    )
    all_seqs = sorted(r.seq for records in results for r in records)
    assert all_seqs == list(range(1, 401))
    for records in results:
        assert records[1].seq == records[0].seq + 1
        assert records[0].stream == records[1].stream


async def test_replay_returns_what_was_appended(location: str | Path) -> None:
    j = await Journal.open(location)
    appended = []
    for i in range(5):
        appended += await j.append(f"s{i % 2}", [_event(i)])
    await j.close()

    reopened = await Journal.open(location)
    try:
        assert list(reopened.replay()) == appended
        assert list(reopened.replay(after=3)) == appended[3:]
        assert reopened.head == (5, appended[-1].hash)
        more = await reopened.append("s0", [_event(99)])
        assert more[0].seq == 6
        assert more[0].prev_hash == appended[-1].hash
    finally:
        await reopened.close()
    assert verify(location).ok


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

    def _write(self, rows: list[Row]) -> None:
        if self.stats.commits == 0:
            self.entered.set()
            self.gate.wait(timeout=30)
        super()._write(rows)


async def test_group_commit_batches_everything_queued_during_a_commit(
    location: str | Path,
) -> None:
    _GatedJournal.gate = threading.Event()
    _GatedJournal.entered = threading.Event()
    j = await _GatedJournal.open(location)
    try:
        first = asyncio.ensure_future(j.append("s", [_event(0)]))
        await asyncio.to_thread(_GatedJournal.entered.wait, 30)
        rest = [asyncio.ensure_future(j.append("s", [_event(i)])) for i in range(1, 51)]
        await asyncio.sleep(0)  # let every append enqueue
        _GatedJournal.gate.set()
        await asyncio.gather(first, *rest)
        assert j.stats.commits == 2
        assert list(j.stats.batch_sizes) == [1, 50]
        assert [t.result()[0].seq for t in rest] == list(range(2, 52))
    finally:
        await j.close()


class _UnstoredJournal(Journal):
    """Commits to nowhere: only the writer's bookkeeping runs."""

    def _write(self, rows: list[Row]) -> None:
        return None


async def test_the_writer_remembers_the_sizes_of_its_latest_commits_only(tmp_path: Path) -> None:
    """A server commits hundreds of times a second for weeks: the per-commit statistics
    must not grow with every commit (they did: one list entry per commit, for ever)."""
    j = await _UnstoredJournal.open(tmp_path / "j.sqlite")
    try:
        for i in range(RECENT_COMMITS + 5):
            await j.append("s", [_event(i)] * (1 + i % 3))
        assert j.stats.commits == RECENT_COMMITS + 5
        assert len(j.stats.batch_sizes) == RECENT_COMMITS
        assert list(j.stats.batch_sizes) == [1] * RECENT_COMMITS  # one append per commit
    finally:
        await j.close()


class _FailingJournal(Journal):
    """Fails the commit of any batch holding an event of type ``Boom``."""

    def _write(self, rows: list[Row]) -> None:
        if any(row[2] == "Boom" for row in rows):
            raise OSError("disk I/O error (simulated)")
        super()._write(rows)


async def test_fail_stop_after_a_failed_write(location: str | Path) -> None:
    j = await _FailingJournal.open(location)
    try:
        ok = await j.append("s", [_event(1)])
        with pytest.raises(JournalFailed) as failed:
            await j.append("s", [{"type": "Boom"}])
        assert isinstance(failed.value.__cause__, OSError)
        assert await asyncio.wait_for(j.wait_failed(), 10) is failed.value
        with pytest.raises(JournalFailed):
            await j.append("s", [_event(2)])
        assert j.head == (1, ok[0].hash)
    finally:
        await j.close()
    assert verify(location).records == 1


async def _journal_with(location: str | Path, n: int) -> None:
    j = await Journal.open(location)
    for i in range(n):
        await j.append("s", [_event(i)])
    await j.close()


async def test_verify_passes_on_an_untouched_journal(location: str | Path) -> None:
    await _journal_with(location, 5)
    report = verify(location)
    assert report.ok
    assert (report.records, report.head_seq) == (5, 5)


async def test_verify_detects_an_altered_payload(location: str | Path) -> None:
    await _journal_with(location, 5)
    forged = canonical_json({**_event(2), "size": 1})
    run_sql(location, "UPDATE journal SET payload = ? WHERE seq = 3", forged)
    report = verify(location)
    assert not report.ok
    assert report.first_bad_seq == 3
    assert "altered" in (report.problem or "")


async def test_verify_detects_a_deleted_row(location: str | Path) -> None:
    await _journal_with(location, 5)
    run_sql(location, "DELETE FROM journal WHERE seq = 2")
    report = verify(location)
    assert not report.ok
    assert report.first_bad_seq == 3


async def test_verify_detects_reordered_rows(location: str | Path) -> None:
    await _journal_with(location, 5)
    # Swap the content of records 2 and 4 but keep their sequence numbers.
    select = "SELECT payload, prev_hash, hash FROM journal WHERE seq = ?"
    update = "UPDATE journal SET payload = ?, prev_hash = ?, hash = ? WHERE seq = ?"
    (r2,) = run_sql(location, select, 2)
    (r4,) = run_sql(location, select, 4)
    run_sql(location, update, *r4, 2)
    run_sql(location, update, *r2, 4)
    report = verify(location)
    assert not report.ok
    assert report.first_bad_seq == 2


async def test_verify_detects_a_rehashed_forgery_by_its_successor(location: str | Path) -> None:
    await _journal_with(location, 5)
    ((prev,),) = run_sql(location, "SELECT hash FROM journal WHERE seq = 2")
    forged = canonical_json({**_event(2), "size": 1})
    new_hash = record_hash(str(prev), 3, "s", "Submitted", forged)
    run_sql(location, "UPDATE journal SET payload = ?, hash = ? WHERE seq = 3", forged, new_hash)
    report = verify(location)
    assert report.first_bad_seq == 4


async def test_verify_detects_a_cut_off_tail_by_the_anchor(location: str | Path) -> None:
    await _journal_with(location, 5)
    head = verify(location).head_hash
    run_sql(location, "DELETE FROM journal WHERE seq >= 4")
    report = verify(location)
    assert not report.ok  # the chain alone is intact; the journal's anchor says 5 records
    assert "ends at record 3" in (report.problem or "")
    assert "records 4 to 5 are lost" in (report.problem or "")
    by_head = verify(location, expected_head=head)
    assert not by_head.ok


async def test_verify_with_an_expected_head_that_is_not_in_the_journal(
    location: str | Path,
) -> None:
    await _journal_with(location, 3)
    assert verify(location, expected_head=verify(location).head_hash).ok
    report = verify(location, expected_head="ab" * 32)
    assert not report.ok
    assert "not in the journal" in (report.problem or "")
    assert "last good record is 3" in (report.problem or "")


async def test_open_refuses_a_journal_that_ends_before_its_anchor(location: str | Path) -> None:
    await _journal_with(location, 6)
    ((kept,),) = run_sql(location, "SELECT hash FROM journal WHERE seq = 4")
    run_sql(location, "DELETE FROM journal WHERE seq > 4")
    with pytest.raises(TailLost) as refused:
        await Journal.open(location)
    message = str(refused.value)
    assert f"ends at record 4 (hash {kept})" in message  # the last good record, named
    assert "records 5 to 6 are lost" in message
    assert run_sql(location, "SELECT count(*) FROM journal") == [(4,)]  # nothing written


async def test_replay_refuses_a_tampered_journal(location: str | Path) -> None:
    await _journal_with(location, 3)
    run_sql(location, "UPDATE journal SET payload = ? WHERE seq = 2", canonical_json(_event(7)))
    j = await Journal.open(location)
    try:
        with pytest.raises(JournalCorrupt, match="record 2"):
            list(j.replay())
    finally:
        await j.close()


def _rehash(location: str | Path, seq: int, type_: str, payload: str) -> None:
    """Replace record ``seq`` by ``payload`` with a hash that matches it (a forger's edit)."""
    ((prev,),) = run_sql(location, "SELECT prev_hash FROM journal WHERE seq = ?", seq)
    digest = record_hash(str(prev), seq, "s", type_, payload)
    run_sql(
        location,
        "UPDATE journal SET type = ?, payload = ?, hash = ? WHERE seq = ?",
        type_,
        payload,
        digest,
        seq,
    )
    # Keep the successor linked to it, so the damage under test is the record's content.
    run_sql(location, "UPDATE journal SET prev_hash = ? WHERE seq = ?", digest, seq + 1)


_DAMAGE: dict[str, Callable[[str | Path], object]] = {
    "altered payload": lambda loc: run_sql(
        loc, "UPDATE journal SET payload = ? WHERE seq = 3", canonical_json(_event(7))
    ),
    "altered prev_hash": lambda loc: run_sql(
        loc, "UPDATE journal SET prev_hash = ? WHERE seq = 3", "ab" * 32
    ),
    "deleted row": lambda loc: run_sql(loc, "DELETE FROM journal WHERE seq = 2"),
    "rehashed forgery": lambda loc: _rehash(
        loc, 3, "Submitted", canonical_json({**_event(2), "size": 1})
    ),
    "rehashed payload that is not an object": lambda loc: _rehash(loc, 3, "Submitted", "[1]"),
    "rehashed payload that is not JSON": lambda loc: _rehash(loc, 3, "Submitted", "{oops"),
    "rehashed non-finite number": lambda loc: _rehash(
        loc, 3, "Submitted", '{"size":NaN,"type":"Submitted"}'
    ),
    "rehashed type column that lies": lambda loc: _rehash(
        loc, 3, "Cancelled", canonical_json(_event(3))
    ),
}


@pytest.mark.parametrize("damage", sorted(_DAMAGE))
async def test_replay_refuses_what_verify_refuses_with_the_same_words(
    location: str | Path, damage: str
) -> None:
    await _journal_with(location, 5)
    _DAMAGE[damage](location)
    report = verify(location)
    assert not report.ok
    j = await Journal.open(location)
    try:
        replayed: list[int] = []
        with pytest.raises(JournalCorrupt) as refused:
            replayed.extend(r.seq for r in j.replay())
    finally:
        await j.close()
    assert str(refused.value) == f"record {report.first_bad_seq}: {report.problem}"
    assert replayed == list(range(1, report.records + 1))  # the good ones, nothing after


def test_verify_reports_a_journal_that_does_not_exist(location: str | Path) -> None:
    report = verify(location)
    assert not report.ok
    assert "does not exist" in (report.problem or "")
    if isinstance(location, Path):
        assert not location.exists()


async def test_a_second_writer_is_refused_while_the_first_holds_the_journal(
    journal: Journal, location: str | Path
) -> None:
    await journal.append("s", [_event(1)])
    with pytest.raises(JournalLocked, match=r"in use by .*pid") as refused:
        await Journal.open(location)
    assert "--standby" in str(refused.value)
    # The first writer is unharmed.
    assert (await journal.append("s", [_event(2)]))[0].seq == 2


async def test_a_standby_waits_for_the_writer_and_resumes_its_chain(
    location: str | Path,
) -> None:
    leader = await Journal.open(location)
    first = await leader.append("s", [_event(1)])
    waiting = asyncio.Event()
    holders: list[str] = []

    def on_wait(holder: str) -> None:
        holders.append(holder)
        waiting.set()

    standby = asyncio.ensure_future(
        Journal.open(location, standby=True, poll_seconds=0.05, on_wait=on_wait)
    )
    await asyncio.wait_for(waiting.wait(), 30)  # it found the journal taken and waits
    assert not standby.done()
    assert "pid" in holders[0]
    second = await leader.append("s", [_event(2)])
    await leader.close()
    taken = await asyncio.wait_for(standby, 30)
    try:
        assert taken.head == (2, second[0].hash)
        assert [r.hash for r in taken.replay()] == [first[0].hash, second[0].hash]
        assert (await taken.append("s", [_event(3)]))[0].prev_hash == second[0].hash
    finally:
        await taken.close()


async def test_a_waiting_standby_can_be_cancelled(journal: Journal, location: str | Path) -> None:
    standby = asyncio.ensure_future(Journal.open(location, standby=True, poll_seconds=0.05))
    await asyncio.sleep(0.2)
    standby.cancel()
    with pytest.raises(asyncio.CancelledError):
        await standby
    assert (await journal.append("s", [_event(1)]))[0].seq == 1


async def test_a_leader_that_loses_its_postgresql_session_stops(postgres_location: str) -> None:
    """The lease is the writer's own session: when PostgreSQL drops it (a network cut, an
    administrator), the leader notices within its idle check and fails, never writing
    beside the next leader, which takes over the chain where it ended."""
    leader = await Journal.open(postgres_location)
    try:
        first = await leader.append("s", [_event(1)])
        (terminated,) = run_sql(
            postgres_location,
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name LIKE ? AND pid <> pg_backend_pid()",
            "closeout % pid %",
        )
        assert terminated == (1,)
        failure = await asyncio.wait_for(leader.wait_failed(), 30)
        assert "journal lost" in str(failure)
        with pytest.raises(JournalFailed):
            await leader.append("s", [_event(2)])
    finally:
        await leader.close()
    successor = await Journal.open(postgres_location)
    try:
        assert successor.head == (1, first[0].hash)
    finally:
        await successor.close()


# -- the canonical JSON spelling ------------------------------------------------------------

_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def _json_dumps(value: object) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def _outcome(encode: Callable[[object], str], value: object) -> tuple[str, str]:
    try:
        return ("ok", encode(value))
    except (ValueError, TypeError) as exc:
        return (type(exc).__name__, str(exc))


@settings(max_examples=300, deadline=None)
@given(_JSON_VALUES)
def test_canonical_json_is_json_dumps_with_the_canonical_options(value: object) -> None:
    """The encoder made once spells every value (and refuses every unfit one: NaN, infinity)
    exactly as ``json.dumps`` with the same options."""
    assert _outcome(canonical_json, value) == _outcome(_json_dumps, value)


def test_a_refused_document_leaves_no_trace_in_the_encoder() -> None:
    """A document refused half way (NaN inside a dict) must not make the same dict, once
    fixed, look like a circular reference."""
    document: dict[str, object] = {"size": float("nan")}
    with pytest.raises(ValueError, match="Out of range float"):
        canonical_json(document)
    document["size"] = 1
    assert canonical_json(document) == '{"size":1}'
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        canonical_json(loop)
