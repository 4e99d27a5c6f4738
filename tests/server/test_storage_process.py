"""``closeout serve`` as real processes on one SQLite journal: a second server is refused, a
standby waits and stops cleanly on SIGTERM, and after a SIGKILL a journal whose WAL was
deleted, cut or flipped is refused at start, naming the last good record, with nothing
written (where SQLite alone would start from what was left)."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from clients.online import load_credentials
from clients.sdk import DealerClient, OperatorClient
from closeout.v1 import auction_pb2 as apb
from tests.server.processes import CLOSEOUT, PATIENCE, ROOT, ServeProcess, free_port

CONFIG = ROOT / "examples" / "server" / "scenarios.toml"
TOKENS = load_credentials(ROOT / "examples" / "server" / "scenario-tokens.toml")


async def closeout_serve(journal: Path, *flags: str) -> tuple[int, str]:
    """Run ``closeout serve`` to its end: (exit status, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSEOUT_")}
    env["PYTHONPATH"] = str(ROOT)
    proc = await asyncio.create_subprocess_exec(
        *CLOSEOUT, "serve", "--config", str(CONFIG), "--journal", str(journal),
        "--listen", f"127.0.0.1:{free_port()}", *flags,
        env=env, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), PATIENCE)
    assert proc.returncode is not None
    return proc.returncode, " ".join(err.decode().split())  # unwrapped: one line


async def test_a_second_server_on_the_journal_is_refused(tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"
    first = await ServeProcess.start(CONFIG, journal, f"127.0.0.1:{free_port()}")
    try:
        await first.wait_for("serving on")
        first.drain()
        code, err = await closeout_serve(journal)
        assert code == 1
        assert "cannot start: journal" in err
        assert f"is in use by pid {first.proc.pid}" in err
        assert "--standby" in err
        assert "Traceback" not in err
    finally:
        await first.kill()


async def test_a_standby_waits_and_a_signal_stops_it_cleanly(tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"
    first = await ServeProcess.start(CONFIG, journal, f"127.0.0.1:{free_port()}")
    standby: ServeProcess | None = None
    try:
        await first.wait_for("serving on")
        first.drain()
        standby = await ServeProcess.start(
            CONFIG, journal, f"127.0.0.1:{free_port()}", standby=True
        )
        await standby.wait_for(r"standby: .* is held by pid \d+ .*waiting to take over")
        standby.proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(standby.proc.wait(), PATIENCE) == 0
    finally:
        if standby is not None:
            await standby.kill()
        await first.kill()
    assert standby is not None
    assert not any("serving on" in line for line in standby.log)


async def _killed_mid_auction(journal: Path) -> int:
    """A server that acknowledged some submissions, then SIGKILL: how many were acked."""
    server = await ServeProcess.start(CONFIG, journal, f"127.0.0.1:{free_port()}")
    try:
        await server.wait_for("serving on")
        server.drain()
        dealers = [TOKENS.dealers[d] for d in ("A", "B", "C", "D")]
        async with OperatorClient(server.target, TOKENS.operator_token) as ops:
            await ops.create_auction(
                apb.AuctionParameters(
                    auction_id="wal-1", currency="USD", quotation_amount=2_000_000, max_spread="2"
                ),
                [pid for pid, _ in dealers],
            )
            await ops.open_window("wal-1")
        acked = 0
        for pid, token in dealers:
            async with DealerClient(server.target, token) as dealer:
                for i in range(40):
                    await dealer.submit_market("wal-1", f"{pid}-m{i}", bid="39.5", offer="40.5")
                    acked += 1
    finally:
        await server.kill()  # SIGKILL: no checkpoint, the records stay in the WAL
    return acked


def _files(folder: Path) -> dict[str, bytes]:
    """The journal's data files and their content: the file, its WAL, its anchor. (Not the
    lock file, nor SQLite's ``-shm`` WAL index, which any reader rebuilds from the WAL.)"""
    skip = {"j.sqlite.lock", "j.sqlite-shm"}
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.name not in skip}


def _delete(wal: Path) -> None:
    wal.unlink()


def _cut_tail(wal: Path) -> None:
    data = wal.read_bytes()
    wal.write_bytes(data[: len(data) - 3 * 1024])


def _flip_a_byte(wal: Path) -> None:
    data = bytearray(wal.read_bytes())
    data[len(data) // 2] ^= 0x01
    wal.write_bytes(bytes(data))


@pytest.mark.slow
@pytest.mark.parametrize("damage", [_delete, _cut_tail, _flip_a_byte])
async def test_a_damaged_wal_after_a_sigkill_is_refused_at_start(
    tmp_path: Path, damage: Callable[[Path], None]
) -> None:
    journal = tmp_path / "j.sqlite"
    assert await _killed_mid_auction(journal) == 160
    wal = tmp_path / "j.sqlite-wal"
    damage(wal)
    before = _files(tmp_path)
    code, err = await closeout_serve(journal)
    assert code == 1, err
    assert "refusing to start, records are missing" in err
    assert "serving on" not in err
    assert "Traceback" not in err
    assert "record" in err and "hash" in err  # the last good record, named
    assert _files(tmp_path) == before  # nothing written or created: the evidence is intact
