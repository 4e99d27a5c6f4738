"""API tests against a real in-process server: standard services, auth, errors, all RPC kinds."""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from pathlib import Path

import grpc
import grpc.aio
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from clients.errors import FieldViolation, field_violations
from closeout.v1 import admin_pb2, admin_pb2_grpc
from server import admin_service
from server.app import CloseoutServer, serve
from server.journal import JournalCorrupt, JournalFailed
from tests.server.conftest import (
    ALL_KINDS,
    DEALER,
    OBSERVER,
    OPERATOR,
    SECRET,
    Call,
    ProbeModule,
    make_config,
    running,
)


async def test_health_check_serving_without_token(channel: grpc.aio.Channel) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    for service in ("", "closeout.v1.AdminService"):
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=service))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_health_goes_not_serving_on_graceful_shutdown(tmp_path: Path) -> None:
    server = CloseoutServer(make_config(tmp_path), services=(admin_service,))
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        watch = stub.Watch(health_pb2.HealthCheckRequest(service=""))
        first = await watch.read()
        assert first.status == health_pb2.HealthCheckResponse.SERVING
        stopping = asyncio.ensure_future(server.stop(grace=1))
        second = await watch.read()
        assert second.status == health_pb2.HealthCheckResponse.NOT_SERVING
        await stopping


async def test_reflection_lists_every_service(channel: grpc.aio.Channel) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    names = set()
    async for reply in stub.ServerReflectionInfo(iter([request])):
        names |= {s.name for s in reply.list_services_response.service}
    assert {
        "closeout.v1.AdminService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    } <= names


async def test_reflection_describes_admin_service(channel: grpc.aio.Channel) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(
        file_containing_symbol="closeout.v1.AdminService"
    )
    replies = [r async for r in stub.ServerReflectionInfo(iter([request]))]
    assert replies[0].file_descriptor_response.file_descriptor_proto


async def test_get_server_info_for_operator(
    server: CloseoutServer, channel: grpc.aio.Channel
) -> None:
    await server.journal.append("test", [{"type": "Hello"}])
    stub = admin_pb2_grpc.AdminServiceStub(channel)
    info = await stub.GetServerInfo(admin_pb2.GetServerInfoRequest(), metadata=OPERATOR)
    assert info.caller_participant_id == "ops"
    assert info.journal_head_sequence == 1
    assert info.journal_head_hash == server.journal.head[1]
    assert server.runtime is not None
    assert info.server_time.ToDatetime().replace(tzinfo=None) == (
        server.runtime.clock.now().replace(tzinfo=None)
    )
    assert info.version


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        (None, "missing credentials"),
        ((("authorization", "Bearer wrong-token"),), "invalid bearer token"),
        ((("authorization", "Basic b3BzOnB3"),), "must be 'Bearer <token>'"),
        ((("authorization", "Bearer "),), "must be 'Bearer <token>'"),
    ],
)
async def test_unauthenticated_calls_are_refused(
    channel: grpc.aio.Channel, metadata: tuple[tuple[str, str], ...] | None, message: str
) -> None:
    stub = admin_pb2_grpc.AdminServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.GetServerInfo(admin_pb2.GetServerInfoRequest(), metadata=metadata)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert message in (refused.value.details() or "")


@pytest.mark.parametrize("metadata", [DEALER, OBSERVER])
async def test_wrong_role_is_permission_denied(
    channel: grpc.aio.Channel, metadata: tuple[tuple[str, str], ...]
) -> None:
    stub = admin_pb2_grpc.AdminServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.GetServerInfo(admin_pb2.GetServerInfoRequest(), metadata=metadata)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "needs role operator" in (refused.value.details() or "")


@pytest.mark.parametrize("call", ALL_KINDS)
async def test_every_kind_sees_its_caller(channel: grpc.aio.Channel, call: Call) -> None:
    replies = await call(channel, b"ok", DEALER)
    assert replies[-1] == b"dealer-a"


@pytest.mark.parametrize("call", ALL_KINDS)
async def test_every_kind_refuses_without_token(channel: grpc.aio.Channel, call: Call) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call(channel, b"ok", None)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize("call", ALL_KINDS)
async def test_every_kind_maps_wrong_role(channel: grpc.aio.Channel, call: Call) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call(channel, b"operator-only", DEALER)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert (await call(channel, b"operator-only", OPERATOR))[-1] == b"ops"


@pytest.mark.parametrize("call", ALL_KINDS)
async def test_every_kind_hides_unexpected_exceptions(
    channel: grpc.aio.Channel, call: Call, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.ERROR, logger="closeout.rpc"),
        pytest.raises(grpc.aio.AioRpcError) as failed,
    ):
        await call(channel, b"boom", DEALER)
    err = failed.value
    assert err.code() == grpc.StatusCode.INTERNAL
    details = err.details() or ""
    match = re.fullmatch(r"internal error \(correlation id ([0-9a-f]{32})\)", details)
    assert match, details
    assert SECRET not in details
    assert "Traceback" not in details
    assert all(SECRET not in str(v) for _, v in (err.trailing_metadata() or ()))
    logged = [r for r in caplog.records if match.group(1) in r.getMessage()]
    assert len(logged) == 1
    assert logged[0].exc_info is not None
    assert SECRET in str(logged[0].exc_info[1])


@pytest.mark.parametrize("call", ALL_KINDS)
async def test_every_kind_returns_field_violations(channel: grpc.aio.Channel, call: Call) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call(channel, b"violate", DEALER)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.details() == "markets[2].bid: not on the 0.125 grid"
    assert field_violations(refused.value) == [
        FieldViolation("markets[2].bid", "not on the 0.125 grid")
    ]


@pytest.mark.parametrize("call", ALL_KINDS)
async def test_every_kind_refuses_undecodable_requests(
    channel: grpc.aio.Channel, call: Call
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call(channel, b"\xffgarbage", DEALER)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert SECRET not in (refused.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as unauthenticated:
        await call(channel, b"\xffgarbage", None)
    assert unauthenticated.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_malformed_protobuf_is_invalid_argument(channel: grpc.aio.Channel) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await channel.unary_unary("/closeout.v1.AdminService/GetServerInfo")(
            b"\xff\xff\xff", metadata=OPERATOR
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "DecodeError" not in (refused.value.details() or "")


async def test_journal_failure_is_unavailable(channel: grpc.aio.Channel) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await channel.unary_unary("/closeout.test.Probe/UnaryUnary")(
            b"journal-failed", metadata=DEALER
        )
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_no_violations_when_none_were_sent(channel: grpc.aio.Channel) -> None:
    stub = admin_pb2_grpc.AdminServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.GetServerInfo(admin_pb2.GetServerInfoRequest(), metadata=DEALER)
    assert field_violations(refused.value) == []


async def test_concurrent_callers_each_see_themselves(channel: grpc.aio.Channel) -> None:
    callers = [(OPERATOR, b"ops"), (DEALER, b"dealer-a"), (OBSERVER, b"watcher")] * 20
    replies = await asyncio.gather(
        *(
            channel.unary_unary("/closeout.test.Probe/UnaryUnary")(b"ok", metadata=md)
            for md, _ in callers
        )
    )
    assert list(replies) == [expected for _, expected in callers]


async def test_server_survives_bad_calls(channel: grpc.aio.Channel) -> None:
    for request in (b"boom", b"violate", b"operator-only"):
        with pytest.raises(grpc.aio.AioRpcError):
            await channel.unary_unary("/closeout.test.Probe/UnaryUnary")(request, metadata=DEALER)
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await channel.unary_unary("/closeout.test.Probe/Nope")(b"", metadata=DEALER)
    assert unknown.value.code() == grpc.StatusCode.UNIMPLEMENTED
    reply = await channel.unary_unary("/closeout.test.Probe/UnaryUnary")(b"ok", metadata=DEALER)
    assert reply == b"dealer-a"


async def test_startup_replays_the_journal_into_services(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    async with running(config, (ProbeModule(),)) as first:
        appended = await first.journal.append("cds/A", [{"type": "A"}, {"type": "B"}])
    probe = ProbeModule()
    async with running(config, (probe,)) as second:
        assert second.replayed == 2
        assert probe.replayed == appended


async def test_server_refuses_to_start_on_a_tampered_journal(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    async with running(config, (ProbeModule(),)) as first:
        await first.journal.append("s", [{"type": "A", "n": 1}, {"type": "B"}])
    conn = sqlite3.connect(config.journal)
    conn.execute("""UPDATE journal SET payload = '{"n":2,"type":"A"}' WHERE seq = 1""")
    conn.commit()
    conn.close()
    with pytest.raises(JournalCorrupt, match="record 1"):
        async with running(config, (ProbeModule(),)):
            pass


async def test_serve_stops_with_status_1_when_the_journal_fails(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    server = CloseoutServer(config, services=(ProbeModule(),))
    serving = asyncio.ensure_future(serve(config, server=server))
    await server.serving.wait()

    def broken(rows: object) -> None:
        raise sqlite3.OperationalError("disk full (simulated)")

    server.journal._write = broken  # type: ignore[method-assign]
    with pytest.raises(JournalFailed):
        await server.journal.append("s", [{"type": "A"}])
    assert await serving == 1
    with pytest.raises(JournalFailed):
        await server.journal.append("s", [{"type": "B"}])
