"""The ``closeout serve`` and ``closeout journal verify`` commands, run as separate processes."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import sys
from pathlib import Path

import grpc
import grpc.aio
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from closeout.v1 import admin_pb2, admin_pb2_grpc
from server.journal import Journal
from tests.server.conftest import OPERATOR

ROOT = Path(__file__).resolve().parents[2]
# Runs the console script's entry point with this interpreter, installed or not.
CLOSEOUT = [sys.executable, "-c", "from clients.cli import main; main()"]
# A safety net against a hung child, not a measurement: no test asserts on time.
PATIENCE = 60.0


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSEOUT_")}
    env["PYTHONPATH"] = str(ROOT)
    return env


@pytest.mark.slow
async def test_serve_process_answers_health_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite"
    proc = await asyncio.create_subprocess_exec(
        *CLOSEOUT, "serve", "--listen", "127.0.0.1:0", "--journal", str(journal),
        cwd=tmp_path,
        env=_env(),
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    lines: list[str] = []
    try:
        port = None
        while port is None:
            raw = await asyncio.wait_for(proc.stderr.readline(), PATIENCE)
            if not raw:
                pytest.fail("closeout serve exited before serving:\n" + "".join(lines))
            lines.append(raw.decode())
            if found := re.search(r"serving on 127\.0\.0\.1:(\d+)", lines[-1]):
                port = int(found.group(1))
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
            reply = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest())
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
            info = await admin_pb2_grpc.AdminServiceStub(ch).GetServerInfo(
                admin_pb2.GetServerInfoRequest(), metadata=OPERATOR
            )
            assert info.caller_participant_id == "ops"  # the demo config's operator
        proc.send_signal(signal.SIGTERM)
        rest = await asyncio.wait_for(proc.stderr.read(), PATIENCE)
        code = await asyncio.wait_for(proc.wait(), PATIENCE)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    log = "".join(lines) + rest.decode()
    assert code == 0, log
    assert "closeout stopped" in log
    assert "Traceback" not in log
    assert journal.exists()


async def test_serve_refuses_a_bad_config_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[server]\nlisten = "nowhere"\n')
    proc = await asyncio.create_subprocess_exec(
        *CLOSEOUT, "serve", "--config", str(config),
        cwd=tmp_path,
        env=_env(),
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), PATIENCE)
    assert proc.returncode == 2
    assert "server.listen" in err.decode()


async def _make_journal(path: Path) -> None:
    journal = await Journal.open(path)
    for i in range(3):
        await journal.append("s", [{"type": "E", "i": i}])
    await journal.close()


async def _verify(path: Path) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *CLOSEOUT, "journal", "verify", str(path),
        env={**_env(), "COLUMNS": "200"},
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), PATIENCE)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_journal_verify_command(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    await _make_journal(path)
    code, out = await _verify(path)
    assert code == 0, out
    assert "intact" in out

    conn = sqlite3.connect(path)
    conn.execute("""UPDATE journal SET payload = '{"i":7,"type":"E"}' WHERE seq = 2""")
    conn.commit()
    conn.close()
    code, out = await _verify(path)
    assert code == 1
    assert "record 2" in out
