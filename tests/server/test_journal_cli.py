"""``closeout journal verify|export|import|backup`` as separate processes, on both backends:
SQLite -> PostgreSQL migration, a backup taken while a writer commits and restored, refusals."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from server.journal import Journal, verify
from tests.server.backends import location, postgres_location, run_sql
from tests.server.processes import CLOSEOUT, PATIENCE, ROOT

__all__ = ["location", "postgres_location"]  # fixtures used here


async def closeout(*args: str) -> tuple[int, str, str]:
    """Run ``closeout ARGS``: (exit status, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        *CLOSEOUT, *args,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "COLUMNS": "250"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), PATIENCE)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def _event(i: int) -> dict[str, object]:
    return {"type": "Submitted", "order": f"o-{i}", "price": "25.375", "note": "é ✓"}


async def _fill(where: str | Path, n: int) -> list[str]:
    journal = await Journal.open(where)
    try:
        hashes = []
        for i in range(n):
            hashes += [r.hash for r in await journal.append(f"s{i % 3}", [_event(i)])]
        return hashes
    finally:
        await journal.close()


async def _hashes(where: str | Path) -> list[str]:
    journal = await Journal.open(where)
    try:
        return [r.hash for r in journal.replay()]
    finally:
        await journal.close()


async def test_sqlite_journal_migrates_to_postgresql_and_back(
    tmp_path: Path, postgres_location: str
) -> None:
    source = tmp_path / "j.sqlite"
    hashes = await _fill(source, 25)
    code, out, err = await closeout("journal", "import", str(source), postgres_location)
    assert code == 0, err
    assert f"imported: 25 records, head #25 {hashes[-1]}" in out
    assert await _hashes(postgres_location) == hashes
    code, out, _ = await closeout("journal", "verify", postgres_location)
    assert code == 0, out
    assert "password" not in out
    # and back, through an export file
    dump = tmp_path / "export.jsonl"
    code, _, err = await closeout("journal", "export", postgres_location, "--out", str(dump))
    assert code == 0, err
    code, _, err = await closeout("journal", "import", str(dump), str(tmp_path / "back.sqlite"))
    assert code == 0, err
    assert await _hashes(tmp_path / "back.sqlite") == hashes
    # the migrated journal keeps growing on the same chain
    assert (await _fill(postgres_location, 1)) != []
    assert verify(postgres_location).records == 26


async def test_verify_with_head_on_either_backend(location: str | Path) -> None:
    hashes = await _fill(location, 5)
    code, out, _ = await closeout("journal", "verify", str(location), "--head", hashes[2])
    assert code == 0, out
    run_sql(location, "DELETE FROM journal WHERE seq = 5")
    code, out, _ = await closeout("journal", "verify", str(location), "--head", hashes[4])
    assert code == 1
    assert "BROKEN" in out
    assert "records 5 to 5 are lost" in out


async def test_import_refuses_a_journal_that_is_not_empty(
    location: str | Path, tmp_path: Path
) -> None:
    await _fill(location, 2)
    other = tmp_path / "other.sqlite"
    await _fill(other, 3)
    code, _, err = await closeout("journal", "import", str(other), str(location))
    assert code == 1
    assert "already holds 2 records" in err
    assert verify(location).records == 2


async def test_import_refuses_a_journal_in_use(location: str | Path, tmp_path: Path) -> None:
    source = tmp_path / "src.sqlite"
    await _fill(source, 2)
    journal = await Journal.open(location)
    try:
        code, _, err = await closeout("journal", "import", str(source), str(location))
    finally:
        await journal.close()
    assert code == 1
    assert "in use by" in err


async def test_a_cut_off_export_is_refused(tmp_path: Path) -> None:
    await _fill(tmp_path / "j.sqlite", 4)
    dump = tmp_path / "x.jsonl"
    code, _, _ = await closeout("journal", "export", str(tmp_path / "j.sqlite"), "--out", str(dump))
    assert code == 0
    lines = dump.read_text(encoding="utf-8").splitlines()
    head = verify(tmp_path / "j.sqlite").head_hash
    assert json.loads(lines[-1]) == {"end": True, "records": 4, "head": head}
    dump.write_text("\n".join(lines[:-2]) + "\n", encoding="utf-8")
    code, _, err = await closeout("journal", "import", str(dump), str(tmp_path / "new.sqlite"))
    assert code == 1
    assert "cut off after 3 records" in err


@pytest.mark.slow
async def test_a_backup_taken_while_writing_restores_a_consistent_prefix(
    location: str | Path, tmp_path: Path
) -> None:
    journal = await Journal.open(location)
    stop = asyncio.Event()

    async def keep_writing() -> int:
        n = 0
        while not stop.is_set():
            await journal.submit_many([(f"s{n % 5}", [_event(n), _event(n + 1)])])
            n += 2
        return n

    writer = asyncio.create_task(keep_writing())
    try:
        await journal.append("s", [_event(-1)])
        dest = tmp_path / "backup"
        code, out, err = await closeout("journal", "backup", str(dest), "--journal", str(location))
        assert code == 0, err
        assert "backed up to" in out
        code, _, err = await closeout("journal", "backup", str(dest), "--journal", str(location))
        assert code == 1
        assert "already exists" in err  # never overwrites
    finally:
        stop.set()
        written = await writer
        await journal.close()
    live = await _hashes(location)
    assert written > 0
    restored = tmp_path / "restored.sqlite"
    code, out, err = await closeout("journal", "import", str(dest), str(restored))
    assert code == 0, err
    copy = await _hashes(restored)
    assert 0 < len(copy) <= len(live)
    assert copy == live[: len(copy)]  # a consistent prefix: the chain verified on import
    assert verify(restored).ok
