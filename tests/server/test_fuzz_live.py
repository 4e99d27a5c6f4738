"""Every request message of every Closeout service, fuzzed against a live server.

A real server (every service module, a real journal) runs on 127.0.0.1 in a thread of its own,
holding a CDS auction in stage 1 and a default lot with its bid window open. For each method,
hypothesis builds requests from the message's descriptor (strings that name real auctions,
lots and members, exact and inexact decimals, huge numbers, other scripts' digits; integers
at the edges; unknown enum values; timestamps out of range; nested and repeated fields) and
sends them as the operator, a dealer, a member and an observer. Asserted for every call:

* the answer is never INTERNAL or UNKNOWN (nor a dropped connection);
* an INVALID_ARGUMENT carries a ``google.rpc.BadRequest`` naming a field, and an ``ErrorInfo``
  reason;
* a refused call changes nothing: the journal holds no record it caused (records written by
  the window scheduler for a schedule an earlier accepted call set are the only ones allowed).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor as d
from google.protobuf.message import Message
from google.rpc import error_details_pb2  # type: ignore[import-untyped]
from grpc_status import rpc_status
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from closeout.v1 import admin_pb2, auction_pb2, clearing_pb2, operator_pb2, pricing_pb2
from server.app import CloseoutServer
from server.clock import FakeClock
from server.config import Role, demo_config
from tests.server import test_cds_api as cds
from tests.server import test_default_api as dflt

MODULES = (auction_pb2, operator_pb2, admin_pb2, pricing_pb2, clearing_pb2)
METHODS = [
    (service, method)
    for module in MODULES
    for service in module.DESCRIPTOR.services_by_name.values()
    for method in service.methods
]
TOKENS = {
    "operator": "demo-operator-token",
    "dealer": "demo-dealer-a-token",
    "member": "demo-mm-1-token",
    "observer": "demo-observer-token",
}
ROLE_FOR = {
    "AuctionService": "dealer",
    "OperatorService": "operator",
    "AdminService": "operator",
    "PricingService": "observer",
    "ClearingService": "operator",
    "DefaultAuctionService": "member",
}
NAMES = [
    "t-1",
    "Dealer-D-1",
    "Dealer-D",
    "Bank-A",
    "MM-1",
    "dealer-a",
    "dealer-b",
    "m",
    "b-1",
    "2007-12-12",
    "10Y",
    "USD",
]
DECIMALS = [
    "40",
    "39.5",
    "0.125",
    "12200.00",
    "-1",
    "0",
    "39.99999999999999999999999999999",
    "12000.0000000000000000000000000001",
    "  40 ",
    ".5",
    "-1e-400",
    "1E3",
    "NaN",
    "\u0664\u0660",
    "1" + "0" * 60,
    "1" * 5000,
    "99999999999999999999Y",
]
NUMERIC = {
    "bid",
    "offer",
    "price",
    "amount",
    "rate",
    "fixed_rate",
    "notional",
    "spread",
    "reserve",
    "reserve_bp",
    "grading_threshold",
    "max_spread",
    "price_increment",
    "cap_amount",
    "collateral",
    "current_fixing",
    "short_bp",
    "long_bp",
}
STRINGS = st.one_of(
    st.sampled_from(NAMES + DECIMALS),
    st.text(max_size=12),
    st.text(alphabet="0123456789.-eE+ ", max_size=30),
)
INT64 = st.one_of(
    st.sampled_from([0, 1, -1, 2**31 - 1, 2**53 + 1, 2**63 - 1, -(2**63), 1_000_000]),
    st.integers(-(2**63), 2**63 - 1),
)
UINT64 = st.one_of(st.sampled_from([0, 1, 2**32 - 1, 2**64 - 1]), st.integers(0, 2**64 - 1))


def scalar(field: Any) -> st.SearchStrategy[Any]:
    t = field.type
    if t == d.FieldDescriptor.TYPE_STRING:
        # Ids mostly name something that exists, numbers are mostly numbers, so that requests
        # reach the engines rather than stop at the first lookup.
        if field.name.endswith("auction_id") or field.name == "lot_id":
            return st.one_of(st.sampled_from(["t-1", "Dealer-D-1"]), STRINGS)
        if field.name.endswith(("member_id", "member")):
            return st.one_of(st.sampled_from(["Dealer-D", "Bank-A", "MM-1"]), STRINGS)
        if field.name in NUMERIC:
            return st.one_of(st.sampled_from(DECIMALS), STRINGS)
        return STRINGS
    if t == d.FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=8)
    if t == d.FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if t == d.FieldDescriptor.TYPE_ENUM:
        known = [v.number for v in field.enum_type.values] if field.enum_type else [0]
        return st.one_of(st.sampled_from(known), st.integers(-5, 1000))
    if t in (d.FieldDescriptor.TYPE_DOUBLE, d.FieldDescriptor.TYPE_FLOAT):
        return st.floats(allow_nan=True, width=32)
    if t in (d.FieldDescriptor.TYPE_UINT32, d.FieldDescriptor.TYPE_FIXED32):
        return st.integers(0, 2**32 - 1)
    if t in (d.FieldDescriptor.TYPE_INT32, d.FieldDescriptor.TYPE_SINT32):
        return st.integers(-(2**31), 2**31 - 1)
    if t in (d.FieldDescriptor.TYPE_UINT64, d.FieldDescriptor.TYPE_FIXED64):
        return UINT64
    return INT64


def repeated(field: Any) -> bool:
    return bool(field.is_repeated)


def is_map(field: Any) -> bool:
    return bool(field.message_type is not None and field.message_type.GetOptions().map_entry)


def message(descriptor: Any, depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    """Field values for ``descriptor`` (a dict; unset fields left out)."""
    if descriptor.full_name == "google.protobuf.Timestamp":
        return st.fixed_dictionaries(
            {},
            optional={
                "seconds": st.one_of(
                    st.sampled_from([0, 10**15, -(10**15), 253_402_300_800, 1_800_000_000]),
                    st.integers(-(2**63), 2**63 - 1),
                ),
                "nanos": st.sampled_from([0, -1, 10**9, 999_999_999, 1000]),
            },
        )
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for field in descriptor.fields:
        if is_map(field):
            key, value = (
                field.message_type.fields_by_name["key"],
                field.message_type.fields_by_name["value"],
            )
            if value.type != d.FieldDescriptor.TYPE_MESSAGE:
                optional[field.name] = st.dictionaries(scalar(key), scalar(value), max_size=3)
            continue
        if field.type == d.FieldDescriptor.TYPE_MESSAGE:
            if depth >= 3:
                continue
            one = message(field.message_type, depth + 1)
        else:
            one = scalar(field)
        if repeated(field):
            optional[field.name] = st.lists(one, max_size=3)
        else:
            optional[field.name] = one
    return st.fixed_dictionaries({}, optional=optional)


def build(cls: type[Message], values: dict[str, Any]) -> Message:
    msg = cls()
    fill(msg, values)
    return msg


def fill(msg: Message, values: dict[str, Any]) -> None:
    for name, value in values.items():
        field: Any = msg.DESCRIPTOR.fields_by_name[name]
        if is_map(field):
            getattr(msg, name).update(value)
        elif repeated(field):
            target = getattr(msg, name)
            for item in value:
                if field.type == d.FieldDescriptor.TYPE_MESSAGE:
                    fill(target.add(), item)
                else:
                    target.append(item)
        elif field.type == d.FieldDescriptor.TYPE_MESSAGE:
            sub = getattr(msg, name)
            sub.SetInParent()
            fill(sub, value)
        else:
            setattr(msg, name, value)


@dataclasses.dataclass
class Live:
    server: CloseoutServer
    loop: asyncio.AbstractEventLoop
    channel: grpc.Channel
    journal: Path


def config(tmp: Path) -> Any:
    base = dflt.config(tmp)
    dealers = tuple(
        p
        for p in demo_config().participants
        if p.role is Role.DEALER and p.id in ("dealer-a", "dealer-b", "dealer-c")
    )
    return dataclasses.replace(base, participants=(*base.participants, *dealers))


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("fuzz")
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    clock = FakeClock(dflt.opened_at(dflt.BASIC))
    server = CloseoutServer(config(tmp), clock=clock)

    async def setup() -> None:
        await server.start()
        await dflt.open_lot(server)
        from clients.sdk import DealerClient, OperatorClient

        where = f"127.0.0.1:{server.port}"
        async with OperatorClient(where, TOKENS["operator"]) as ops:
            await ops.create_auction(cds.params("t-1"), ["dealer-a", "dealer-b", "dealer-c"])
            await ops.open_window("t-1")
        async with DealerClient(where, TOKENS["dealer"]) as dealer:
            await dealer.submit_market("t-1", "m", bid="39.5", offer="40.5")

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(setup())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="fuzzed-server", daemon=True)
    thread.start()
    ready.wait()
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    try:
        yield Live(server, loop, channel, Path(server.config.journal))
    finally:
        print(f"fuzzed calls by answer: {OUTCOMES}")
        channel.close()
        asyncio.run_coroutine_threadsafe(server.stop(grace=0), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


def head(live: Live) -> int:
    return asyncio.run_coroutine_threadsafe(_head(live), live.loop).result()


async def _head(live: Live) -> int:
    # Let what is in flight land first (the barrier of an empty read).
    barrier = live.server.runtime.durability.barrier() if live.server.runtime else None
    if barrier is not None:
        await barrier
    return live.server.journal.head[0]


def records_after(live: Live, seq: int) -> list[dict[str, Any]]:
    conn = sqlite3.connect(f"file:{live.journal}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT payload FROM journal WHERE seq > ? ORDER BY seq", (seq,))
        return [json.loads(r[0]) for r in rows]
    finally:
        conn.close()


#: Answers by status, for a look with ``-s`` (printed at the end of the module's run).
OUTCOMES: dict[str, int] = {}

#: How long a fuzzed watch is read before the test stops it (not an assertion on time).
WATCH_WINDOW = 0.3


def call(
    live: Live, service: Any, method: Any, request: Message, role: str
) -> grpc.RpcError | None:
    path = f"/{service.full_name}/{method.name}"
    metadata = (("authorization", f"Bearer {TOKENS[role]}"),)
    serialize = type(request).SerializeToString
    try:
        if method.client_streaming:
            stub = live.channel.stream_unary(path, request_serializer=serialize)
            stub(iter([request, request]), metadata=metadata, timeout=30)
        elif method.server_streaming:
            stub = live.channel.unary_stream(path, request_serializer=serialize)
            # A watch of a live auction waits for events by design: read what comes within a
            # moment, then stop (a refusal comes at once).
            stream = stub(request, metadata=metadata, timeout=WATCH_WINDOW)
            try:
                for n, _ in enumerate(stream):
                    if n >= 3:
                        stream.cancel()
                        break
            except grpc.RpcError as exc:
                if exc.code() is grpc.StatusCode.DEADLINE_EXCEEDED:
                    return None
                raise
        else:
            live.channel.unary_unary(path, request_serializer=serialize)(
                request, metadata=metadata, timeout=30
            )
    except grpc.RpcError as exc:
        if exc.code() is grpc.StatusCode.CANCELLED:  # we cancelled a watch ourselves
            return None
        return exc
    return None


def check_refusal(error: grpc.RpcError, where: str) -> None:
    code = error.code()
    assert code not in (
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
    ), f"{where}: {code} {error.details()}"
    if code is grpc.StatusCode.INVALID_ARGUMENT:
        status = rpc_status.from_call(error)
        assert status is not None, f"{where}: INVALID_ARGUMENT without a rich status"
        kinds = {detail.type_url.rsplit("/", 1)[-1] for detail in status.details}
        assert "google.rpc.BadRequest" in kinds, f"{where}: no BadRequest: {error.details()}"
        assert "google.rpc.ErrorInfo" in kinds, f"{where}: no ErrorInfo: {error.details()}"
        for detail in status.details:
            if detail.type_url.endswith("google.rpc.BadRequest"):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                assert bad.field_violations and all(v.field for v in bad.field_violations)


@pytest.mark.parametrize(
    ("service", "method"), METHODS, ids=[f"{s.name}.{m.name}" for s, m in METHODS]
)
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_every_request_is_answered_precisely_and_refusals_change_nothing(
    live: Live, service: Any, method: Any, data: st.DataObject
) -> None:
    cls = {
        m.DESCRIPTOR.message_types_by_name[name]: getattr(m, name)
        for m in MODULES
        for name in m.DESCRIPTOR.message_types_by_name
    }
    request_cls = next(v for k, v in cls.items() if k.full_name == method.input_type.full_name)
    values = data.draw(message(method.input_type), label="request")
    request = build(request_cls, values)
    # Mostly the role the service is for (so requests get past authorisation), sometimes any.
    role = data.draw(
        st.one_of(st.just(ROLE_FOR[service.name]), st.sampled_from(sorted(TOKENS))), label="role"
    )
    before = head(live)
    error = call(live, service, method, request, role)
    where = f"{service.name}.{method.name} as {role}"
    OUTCOMES[error.code().name if error else "OK"] = (
        OUTCOMES.get(error.code().name if error else "OK", 0) + 1
    )
    if error is None:
        return
    check_refusal(error, where)
    after = head(live)
    if after != before:
        caused = [r for r in records_after(live, before) if r.get("by") != "scheduler"]
        assert not caused, f"{where} was refused ({error.code()}) but journaled {caused}"
