"""The streamed (chunked) portfolio load: one load whatever its size, all or nothing.

Through a real in-process server: a stream equals the unary load of the same entries (same
ledger, same journal records); a stream with bad chunks changes nothing and its refusal lists
every problem by its index across the whole stream (up to the bound); a cancelled, timed-out
or unfinished stream (one ending without its ``last`` chunk) changes nothing. Through a real
``closeout serve`` process: a portfolio far larger than the message limit (150,000 positions
under gRPC's default 4 MiB) loads with ``closeout default load`` while one message of it is
refused, and the client failing on that message half way through its stream loads nothing."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import grpc.aio
import pytest

from clients.default_online import load_state
from clients.default_scenario import load_default_scenario
from clients.default_sdk import ClearingClient, cleared_swap, load_chunks
from clients.errors import field_violations
from closeout.v1 import clearing_pb2 as pb
from matching.errors import MAX_LISTED_PROBLEMS
from server.app import CloseoutServer
from server.clock import FakeClock
from server.default import clearing_service
from tests.server import test_default_api as dflt
from tests.server.processes import CLOSEOUT, ROOT, serve

BASIC = load_default_scenario(ROOT / "examples" / "default" / "basic.json")
MEMBERS = ["Dealer-D", "Bank-A", "Bank-B", "Bank-C", "Bank-E", "MM-1", "MM-2"]
MM, CM = pb.MEMBER_ROLE_MARKET_MAKER, pb.MEMBER_ROLE_CLEARING_MEMBER
PATIENCE = 900.0  # a guard against a hung child, not a measurement


def members() -> list[pb.ClearingMember]:
    return [
        pb.ClearingMember(
            member_id=m,
            role=pb.MEMBER_ROLE_MARKET_MAKER
            if m.startswith("MM")
            else pb.MEMBER_ROLE_CLEARING_MEMBER,
            collateral="1000000.00",
        )
        for m in MEMBERS
    ]


def position(n: int, notional: int = 10_000_000) -> pb.ClearedPosition:
    return pb.ClearedPosition(
        position_id=f"P-{n}",
        member_id=MEMBERS[n % len(MEMBERS)],
        terms=cleared_swap(
            currency="USD", index="USD-LIBOR-3M", side="PAYER" if n % 2 else "RECEIVER",
            notional=notional, fixed_rate="0.0515", start="2007-12-14", maturity="2017-06-14",
        ),
    )  # fmt: skip


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[CloseoutServer]:
    srv = await dflt.start(tmp_path, FakeClock(dflt.opened_at(BASIC)))
    try:
        yield srv
    finally:
        await srv.stop(grace=0)


async def test_a_stream_equals_the_unary_load(tmp_path: Path, server: CloseoutServer) -> None:
    entries = [position(n) for n in range(250)]
    other = await dflt.start(tmp_path / "unary", FakeClock(dflt.opened_at(BASIC)))
    try:
        async with ClearingClient(dflt.target(server), dflt.OPS) as ops:
            streamed = await ops.load_chunks(members(), entries, "house-1", chunk_size=7)
            ledger = await ops.ledger()
        async with ClearingClient(dflt.target(other), dflt.OPS) as ops:
            unary = await ops.load(members(), entries, "house-1")
            unary_ledger = await ops.ledger()
        assert streamed.chunks == 1 + 36  # 7 members, then 250 positions 7 at a time
        assert (streamed.house_id, streamed.members_admitted, streamed.positions_booked) == (
            unary.house_id, unary.members_admitted, unary.positions_booked,
        )  # fmt: skip
        assert streamed.ack.sequence == unary.ack.sequence
        assert ledger == unary_ledger
        assert sum(len(a.positions) for a in ledger.accounts) == 250
        assert server.journal.head[0] == other.journal.head[0]
    finally:
        await other.stop(grace=0)


async def test_bad_chunks_change_nothing_and_every_problem_is_listed(
    server: CloseoutServer,
) -> None:
    async with ClearingClient(dflt.target(server), dflt.OPS) as ops:
        await ops.load_chunks(members(), [position(n) for n in range(10)], chunk_size=4)
        head, ledger = server.journal.head, await ops.ledger()
        # the wire's problems: each bad position named by its index across the stream
        bad = [position(n) for n in range(10, 40)]
        bad[3].terms.notional = 0
        bad[25].terms.fixed_rate = "five"
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await ops.load_chunks([], bad, chunk_size=10)
        assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        fields = [v.field for v in field_violations(info.value)]
        assert fields == ["positions[3].terms.notional", "positions[25].terms.fixed_rate"]
        # the engine's problems, in the last chunk: a taken id and an unknown member
        late = [position(n) for n in range(10, 40)]
        late[28].position_id = "P-1"
        late[29].member_id = "Nobody"
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await ops.load_chunks([], late, chunk_size=10)
        assert info.value.code() is grpc.StatusCode.ALREADY_EXISTS
        assert [v.field for v in field_violations(info.value)] == ["positions[28]", "positions[29]"]
        assert "2 problems" in (info.value.details() or "")
        assert "P-1" in field_violations(info.value)[0].description
        # many problems: the first ones listed (at most MAX_LISTED_PROBLEMS, and as many as
        # fit a refusal a default client can read, server/errors.py), all counted
        many = [position(n, notional=0) for n in range(100, 100 + MAX_LISTED_PROBLEMS + 5)]
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await ops.load_chunks([], many, chunk_size=50)
        listed = [v.field for v in field_violations(info.value)]
        assert 20 <= len(listed) <= MAX_LISTED_PROBLEMS
        assert listed == [f"positions[{n}].terms.notional" for n in range(len(listed))]
        assert f"{MAX_LISTED_PROBLEMS + 5} problems" in (info.value.details() or "")
        assert f"[the details list the first {len(listed)}]" in (info.value.details() or "")
        assert server.journal.head == head
        assert await ops.ledger() == ledger


async def test_a_cancelled_or_unfinished_stream_changes_nothing(
    server: CloseoutServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with ClearingClient(dflt.target(server), dflt.OPS) as ops:
        await ops.load_chunks(members(), [position(0)])
        head, ledger = server.journal.head, await ops.ledger()
        received = asyncio.Event()
        never = asyncio.Event()

        def unfinished() -> list[pb.LoadClearingStateChunksRequest]:
            chunks = list(load_chunks([], [position(n) for n in range(1, 5)], chunk_size=2))
            assert chunks[-1].last
            chunks[-1].last = False
            return chunks

        async def two_then_hang() -> AsyncIterator[pb.LoadClearingStateChunksRequest]:
            for chunk in unfinished():
                yield chunk
            received.set()
            await never.wait()

        call = ops.stub.LoadClearingStateChunks(two_then_hang(), metadata=ops.metadata)
        await received.wait()
        await asyncio.sleep(0.2)  # the chunks reach the server
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        monkeypatch.setattr(clearing_service, "LOAD_STREAM_SECONDS", 0.5)
        received.clear()
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await ops.stub.LoadClearingStateChunks(two_then_hang(), metadata=ops.metadata)
        assert info.value.code() is grpc.StatusCode.ABORTED
        assert "nothing was loaded" in (info.value.details() or "")
        # a stream that ends without its last chunk (a client that failed half way, ending
        # the stream as a half-close) loads nothing either
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await ops.stub.LoadClearingStateChunks(iter(unfinished()), metadata=ops.metadata)
        assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert [v.field for v in field_violations(info.value)] == ["last"]
        await asyncio.sleep(0.2)
        assert server.journal.head == head
        assert await ops.ledger() == ledger
        # and the same positions load afterwards: nothing of the broken streams stands
        done = await ops.load_chunks([], [position(n) for n in range(1, 5)], chunk_size=2)
        assert done.positions_booked == 4


async def test_a_scenario_loads_through_the_stream(server: CloseoutServer) -> None:
    async with ClearingClient(dflt.target(server), dflt.OPS) as ops:
        response = await load_state(ops, BASIC, chunk_size=2)
    assert (response.members_admitted, response.positions_booked) == (
        len(BASIC.members), len(BASIC.positions),
    )  # fmt: skip
    assert response.chunks == 4 + 3  # 7 members and 5 positions, 2 at a time


def _portfolio(tmp_path: Path, count: int) -> Path:
    """basic.json with ``count`` positions (its own, repeated under new ids)."""
    import json

    scenario = json.loads((ROOT / "examples/default/basic.json").read_text(encoding="utf-8"))
    own = scenario["positions"]
    scenario["positions"] = [{**own[n % len(own)], "id": f"P-{n}"} for n in range(count)]
    path = tmp_path / f"portfolio-{count}.json"
    path.write_text(json.dumps(scenario), encoding="utf-8")
    return path


def _config(tmp_path: Path, max_message_bytes: int) -> Path:
    text = (ROOT / "examples/server/default.toml").read_text(encoding="utf-8")
    text = text.replace("[server]\n", f"[server]\nmax_message_bytes = {max_message_bytes}\n", 1)
    path = tmp_path / "server.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def _load(file: Path, address: str, *flags: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSEOUT_")}
    env |= {"PYTHONPATH": str(ROOT), "CLOSEOUT_TOKEN": dflt.OPS}
    return await asyncio.to_thread(
        subprocess.run,
        [*CLOSEOUT, "default", "load", str(file), "--target", address, "--timeout", "900", *flags],
        env=env, capture_output=True, text=True, timeout=PATIENCE,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("count", "limit", "chunk"),
    [
        pytest.param(5_000, 64 * 1024, 200, id="5k positions, 64 KiB limit"),
        pytest.param(150_000, 4 * 1024 * 1024, None, id="150k positions, default 4 MiB limit"),
    ],
)
@pytest.mark.slow
async def test_a_portfolio_larger_than_the_message_limit_loads_in_chunks(
    tmp_path: Path, count: int, limit: int, chunk: int | None
) -> None:
    portfolio = _portfolio(tmp_path, count)
    flags = ["--chunk-size", str(chunk)] if chunk else []
    async with serve(_config(tmp_path, limit), tmp_path / "j.sqlite") as (_, address):
        async with ClearingClient(address, dflt.OPS, max_message_bytes=limit) as ops:
            scenario = load_default_scenario(portfolio)
            with pytest.raises(grpc.aio.AioRpcError) as info:  # one message: too large
                await load_state(ops, scenario, chunk_size=count)
            assert info.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        done = await _load(portfolio, address, *flags)
        assert done.returncode == 0, done.stderr
        assert f"7 members, {count} positions" in done.stdout, done.stdout
        again = await _load(portfolio, address, *flags)  # all or nothing: every id taken
        assert again.returncode != 0
        assert "already" in again.stderr, again.stderr
