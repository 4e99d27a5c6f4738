"""Fixtures for API tests: a real grpc.aio server on 127.0.0.1, port 0, in this process.

``probe`` is a test-only service (raw bytes, no proto) with one method of each of the four
kinds; the request bytes choose what the handler does, so one table of cases covers every
kind. It is registered through the same plug-in protocol as the real services.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest

from matching.errors import InvalidInput
from server import admin_service
from server.app import CloseoutServer
from server.auth import current_principal, require_role
from server.clock import FakeClock
from server.config import Role, ServerConfig, demo_config
from server.journal import JournalFailed, Record
from server.runtime import Registration, Runtime, ServiceModule
from tests.server import test_cds_api as cds

PROBE = "closeout.test.Probe"
OPERATOR = (("authorization", "Bearer demo-operator-token"),)
DEALER = (("authorization", "Bearer demo-dealer-a-token"),)
OBSERVER = (("authorization", "Bearer demo-observer-token"),)
SECRET = "s3cret-detail-that-must-not-leak"


async def _act(request: bytes) -> bytes:
    """What every probe method does with one request."""
    if request == b"boom":
        raise RuntimeError(SECRET)
    if request == b"violate":
        raise InvalidInput("markets[2].bid", "not on the 0.125 grid")
    if request == b"operator-only":
        require_role(Role.OPERATOR)
    if request == b"journal-failed":
        raise JournalFailed("simulated")
    await asyncio.sleep(0)  # give other calls a chance to run in between
    return current_principal().participant_id.encode()


async def _unary_unary(request: bytes, context: Any) -> bytes:
    return await _act(request)


async def _unary_stream(request: bytes, context: Any) -> AsyncIterator[bytes]:
    yield b"first"
    yield await _act(request)


async def _unary_stream_write(request: bytes, context: Any) -> None:
    await context.write(b"first")
    await context.write(await _act(request))


async def _stream_unary(requests: AsyncIterator[bytes], context: Any) -> bytes:
    last = b""
    async for request in requests:
        last = await _act(request)
    return last


async def _stream_stream(requests: AsyncIterator[bytes], context: Any) -> AsyncIterator[bytes]:
    async for request in requests:
        yield await _act(request)


def _decode(data: bytes) -> bytes:
    """The probe's request parser: refuses bytes starting 0xff, as protobuf refuses garbage."""
    if data.startswith(b"\xff"):
        raise ValueError(SECRET)
    return data


class ProbeModule:
    """A service module for tests; records what it replayed."""

    def __init__(self) -> None:
        self.replayed: list[Record] = []
        self.runtime: Runtime | None = None

    def register(self, server: Any, runtime: Runtime) -> Registration:
        self.runtime = runtime
        handlers = {
            "UnaryUnary": grpc.unary_unary_rpc_method_handler(
                _unary_unary, request_deserializer=_decode
            ),
            "UnaryStream": grpc.unary_stream_rpc_method_handler(
                _unary_stream, request_deserializer=_decode
            ),
            "UnaryStreamWrite": grpc.unary_stream_rpc_method_handler(
                _unary_stream_write, request_deserializer=_decode
            ),
            "StreamUnary": grpc.stream_unary_rpc_method_handler(
                _stream_unary, request_deserializer=_decode
            ),
            "StreamStream": grpc.stream_stream_rpc_method_handler(
                _stream_stream, request_deserializer=_decode
            ),
        }
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(PROBE, handlers),))
        return Registration(service_names=(), replay=self.replayed.append)


Call = Callable[[grpc.aio.Channel, bytes, Any], Any]


async def call_unary_unary(ch: grpc.aio.Channel, req: bytes, md: Any) -> list[bytes]:
    return [await ch.unary_unary(f"/{PROBE}/UnaryUnary")(req, metadata=md)]


async def call_unary_stream(ch: grpc.aio.Channel, req: bytes, md: Any) -> list[bytes]:
    return [r async for r in ch.unary_stream(f"/{PROBE}/UnaryStream")(req, metadata=md)]


async def call_unary_stream_write(ch: grpc.aio.Channel, req: bytes, md: Any) -> list[bytes]:
    call = ch.unary_stream(f"/{PROBE}/UnaryStreamWrite")(req, metadata=md)
    return [r async for r in call]


async def call_stream_unary(ch: grpc.aio.Channel, req: bytes, md: Any) -> list[bytes]:
    return [await ch.stream_unary(f"/{PROBE}/StreamUnary")(iter([b"x", req]), metadata=md)]


async def call_stream_stream(ch: grpc.aio.Channel, req: bytes, md: Any) -> list[bytes]:
    call = ch.stream_stream(f"/{PROBE}/StreamStream")(iter([req]), metadata=md)
    return [r async for r in call]


ALL_KINDS = [
    pytest.param(call_unary_unary, id="unary-unary"),
    pytest.param(call_unary_stream, id="unary-stream"),
    pytest.param(call_unary_stream_write, id="unary-stream-write"),
    pytest.param(call_stream_unary, id="stream-unary"),
    pytest.param(call_stream_stream, id="stream-stream"),
]


def make_config(tmp_path: Path, **changes: Any) -> ServerConfig:
    base = replace(demo_config(), listen="127.0.0.1:0", journal=tmp_path / "journal.sqlite")
    return replace(base, grace_seconds=1.0, **changes)


@asynccontextmanager
async def running(
    config: ServerConfig, services: tuple[ServiceModule, ...] | None = None
) -> AsyncIterator[CloseoutServer]:
    server = CloseoutServer(
        config,
        clock=FakeClock(),
        services=services if services is not None else (admin_service, ProbeModule()),
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop(grace=0)


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[CloseoutServer]:
    async with running(make_config(tmp_path)) as srv:
        yield srv


@pytest.fixture
async def channel(server: CloseoutServer) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        yield ch


@pytest.fixture
async def cds_server(tmp_path: Path) -> AsyncIterator[CloseoutServer]:
    """A server with every real service on the CDS tests' configuration (test_cds_api)."""
    srv = CloseoutServer(cds.config(tmp_path), clock=FakeClock())
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop(grace=0)
