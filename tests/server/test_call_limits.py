"""A participant's unary calls in progress are capped (``server/interceptors.py``): a client
that never reads its answers (a raw HTTP/2 connection whose receive window is zero) keeps
each of its calls in progress, holding the answer on the server; past the cap its calls are
refused with RESOURCE_EXHAUSTED naming the limit, other participants are served, and once
the connection goes its calls end and the participant is served again (adv's finding F5).
Counts and statuses only: nothing here measures time."""

from __future__ import annotations

import asyncio
import socket
import struct
from pathlib import Path

import grpc
import grpc.aio
import pytest

from clients.sdk import DealerClient
from closeout.v1 import auction_pb2 as apb
from server.app import CloseoutServer
from server.config import ConfigError, load_config
from server.interceptors import MAX_CALLS_PER_PARTICIPANT
from tests.server import test_cds_api as cds

CALLS = MAX_CALLS_PER_PARTICIPANT + 36
PATH = "/closeout.v1.AuctionService/GetAuction"


def _frame(kind: int, flags: int, stream: int, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))[1:]
        + bytes([kind, flags])
        + struct.pack(">I", stream)
        + payload
    )


def _length(n: int) -> bytes:  # HPACK integer, 7-bit prefix
    if n < 127:
        return bytes([n])
    out = [127]
    n -= 127
    while n >= 128:
        out.append((n & 127) | 128)
        n >>= 7
    return bytes([*out, n])


def _header(name: str, value: str) -> bytes:  # literal, not indexed, new name
    return b"\x00" + _length(len(name)) + name.encode() + _length(len(value)) + value.encode()


def never_reading(port: int, token: str, calls: int) -> socket.socket:
    """A connection that announces a receive window of zero and sends ``calls`` GetAuction
    calls: the server can answer none of them (it may send headers, never a message)."""
    headers = b"".join(
        _header(k, v)
        for k, v in (
            (":method", "POST"),
            (":scheme", "http"),
            (":path", PATH),
            (":authority", f"127.0.0.1:{port}"),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
            ("authorization", f"Bearer {token}"),
        )
    )
    body = apb.GetAuctionRequest(auction_id="t-1").SerializeToString()
    message = b"\x00" + struct.pack(">I", len(body)) + body
    conn = socket.create_connection(("127.0.0.1", port))
    settings = struct.pack(">HI", 4, 0) + struct.pack(">HI", 2, 0)  # window 0, no push
    conn.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + _frame(4, 0, 0, settings))
    conn.sendall(_frame(4, 1, 0, b""))  # acknowledge the server's settings
    conn.sendall(
        b"".join(
            _frame(1, 4, 1 + 2 * i, headers) + _frame(0, 1, 1 + 2 * i, message)
            for i in range(calls)
        )
    )
    return conn


async def code_and_details(awaitable: object) -> tuple[grpc.StatusCode, str]:
    try:
        await awaitable  # type: ignore[misc]
    except grpc.aio.AioRpcError as exc:
        return exc.code(), exc.details() or ""
    return grpc.StatusCode.OK, ""


async def first_answer(
    dealer: DealerClient, wanted: grpc.StatusCode
) -> tuple[grpc.StatusCode, str]:
    """Ask for the auction until the answer has the ``wanted`` code (at most 200 tries,
    50 ms apart); the last answer's code and details."""
    for _ in range(200):
        code, details = await code_and_details(dealer.auction("t-1"))
        if code is wanted:
            break
        await asyncio.sleep(0.05)
    return code, details


async def test_a_participant_that_reads_no_answer_is_capped_and_others_are_served(
    cds_server: CloseoutServer,
) -> None:
    await cds.stage1(cds_server)
    where = cds.target(cds_server)
    conn = await asyncio.to_thread(never_reading, cds_server.port, cds.TOKEN[cds.A], CALLS)
    try:
        async with DealerClient(where, cds.TOKEN[cds.A]) as a:
            # Until the server has taken all of them, a's own call may still fit: wait for
            # the refusal (each try is one more call in progress at most).
            code, details = await first_answer(a, grpc.StatusCode.RESOURCE_EXHAUSTED)
            assert code is grpc.StatusCode.RESOURCE_EXHAUSTED, (code, details)
            assert f"at most {MAX_CALLS_PER_PARTICIPANT} calls in progress" in details
        async with DealerClient(where, cds.TOKEN[cds.B]) as b:  # another dealer: served
            assert await code_and_details(b.auction("t-1")) == (grpc.StatusCode.OK, "")
    finally:
        conn.close()
    async with DealerClient(where, cds.TOKEN[cds.A]) as a:  # the connection gone: served
        code, details = await first_answer(a, grpc.StatusCode.OK)
        assert code is grpc.StatusCode.OK, (code, details)


@pytest.mark.parametrize("value", ["0", "-1", "true", '"64"'])
def test_the_cap_is_a_config_value_checked_on_load(tmp_path: Path, value: str) -> None:
    example = (cds.ROOT / "examples" / "server" / "default.toml").read_text()
    path = tmp_path / "server.toml"
    path.write_text(
        example.replace("[server]\n", f"[server]\nmax_calls_per_participant = {value}\n")
    )
    with pytest.raises(ConfigError, match=r"server\.max_calls_per_participant"):
        load_config(path, env={})
    path.write_text(example.replace("[server]\n", "[server]\nmax_calls_per_participant = 8\n"))
    assert load_config(path, env={}).max_calls_per_participant == 8
