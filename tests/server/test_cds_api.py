"""CDS auctions through a real in-process server on 127.0.0.1: online equals offline for every
example scenario; authentication, roles and the panel; dealers see only their own; windows
close on the server clock; idempotency; bulk streams; the event stream; restart by replay."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from clients.errors import field_violations
from clients.online import load_credentials, run_online
from clients.replay import run_offline
from clients.scenario import load_scenario
from clients.sdk import DealerClient, OperatorClient
from closeout.v1 import auction_pb2 as apb
from closeout.v1 import auction_pb2_grpc
from matching.cds.auction import CdsAuction
from matching.cds.events import event_from_dict
from server.app import CloseoutServer
from server.cds.registry import STREAM_PREFIX, AuctionRegistry
from server.clock import FakeClock
from server.config import ServerConfig, demo_config, load_config
from server.journal import Journal

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(
    p
    for p in (ROOT / "examples" / "cds").glob("*.json")
    if "rejected" not in p.name and "auction_set" not in p.name
)
TOKENS = load_credentials(ROOT / "examples" / "server" / "scenario-tokens.toml")
OPS = "demo-operator-token"
WATCHER = "demo-observer-token"
A, B, C, D = "a", "b", "c", "d"
TOKEN = {d: TOKENS.dealers[d.upper()][1] for d in (A, B, C, D)}
PID = {d: TOKENS.dealers[d.upper()][0] for d in (A, B, C, D)}
OUTSIDER = TOKENS.dealers["Citigroup"][1]  # a dealer on the server, not on our panels


def config(tmp_path: Path) -> ServerConfig:
    base = load_config(ROOT / "examples" / "server" / "scenarios.toml", env={})
    return replace(base, listen="127.0.0.1:0", journal=tmp_path / "j.sqlite", grace_seconds=0.5)


@pytest.fixture
async def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def server(tmp_path: Path, clock: FakeClock) -> AsyncIterator[CloseoutServer]:
    srv = CloseoutServer(config(tmp_path), clock=clock)
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop(grace=0)


def target(server: CloseoutServer) -> str:
    return f"127.0.0.1:{server.port}"


def params(auction_id: str = "t-1") -> apb.AuctionParameters:
    return apb.AuctionParameters(
        auction_id=auction_id, currency="USD", quotation_amount=2_000_000, max_spread="2"
    )


async def code_of(awaitable: object) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await awaitable  # type: ignore[misc]
    return info.value.code()


async def stage1(server: CloseoutServer, auction_id: str = "t-1") -> None:
    """Create an auction with panel A-D, open stage 1 and submit four markets."""
    async with OperatorClient(target(server), OPS) as ops:
        await ops.create_auction(params(auction_id), [PID[d] for d in (A, B, C, D)])
        await ops.open_window(auction_id)
    for d in (A, B, C, D):
        async with DealerClient(target(server), TOKEN[d]) as dealer:
            await dealer.submit_market(auction_id, "m", bid="39.5", offer="40.5")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
async def test_online_result_equals_offline(server: CloseoutServer, path: Path) -> None:
    scenario = load_scenario(path)
    online, notes = await run_online(scenario, target(server), TOKENS)
    offline = run_offline(scenario)
    assert untimed(online) == untimed(offline.result.to_dict())
    assert notes == offline.notes


def untimed(result: dict[str, Any]) -> dict[str, Any]:
    """A result without the server's clock times (closing times of the bidding periods,
    times of declines), which differ between the server and the offline replay."""
    out = json.loads(json.dumps(result))
    for period in out["initial_bidding_periods"]:
        del period["closed_at"]
    for decline in out["customer_declines"]:
        del decline["at"]
    return out  # type: ignore[no-any-return]


async def test_unauthenticated_wrong_role_and_off_panel_are_refused(
    server: CloseoutServer,
) -> None:
    await stage1(server)
    async with grpc.aio.insecure_channel(target(server)) as ch:
        stub = auction_pb2_grpc.AuctionServiceStub(ch)
        req = apb.SubmitMarketRequest(auction_id="t-1", client_order_id="x", bid="40", offer="41")
        assert await code_of(stub.SubmitMarket(req)) is grpc.StatusCode.UNAUTHENTICATED
        bad = (("authorization", "Bearer nope"),)
        assert await code_of(stub.SubmitMarket(req, metadata=bad)) is (
            grpc.StatusCode.UNAUTHENTICATED
        )
    async with DealerClient(target(server), WATCHER) as observer:
        assert await code_of(observer.submit_market("t-1", "x", bid="40", offer="41")) is (
            grpc.StatusCode.PERMISSION_DENIED
        )
    async with OperatorClient(target(server), TOKEN[A]) as dealer_as_operator:
        assert await code_of(dealer_as_operator.close_window("t-1")) is (
            grpc.StatusCode.PERMISSION_DENIED
        )
    async with DealerClient(target(server), OUTSIDER) as outsider:
        # Off the panel: the same NOT_FOUND as for an auction that does not exist.
        assert await code_of(outsider.submit_market("t-1", "x", bid="40", offer="41")) is (
            grpc.StatusCode.NOT_FOUND
        )
        assert await code_of(outsider.my_submissions("t-1")) is grpc.StatusCode.NOT_FOUND
        assert await code_of(outsider.auction("nope")) is grpc.StatusCode.NOT_FOUND


async def test_bad_input_gets_field_violations_and_changes_nothing(server: CloseoutServer) -> None:
    await stage1(server)
    async with DealerClient(target(server), TOKEN[A]) as dealer:
        before = await dealer.my_submissions("t-1")
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await dealer.submit_market("t-1", "m2", bid="40.1", offer="41")
        assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert [v.field for v in field_violations(info.value)] == ["bid"]
        assert await dealer.my_submissions("t-1") == before
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await dealer.submit_settlement_request(
                "t-1", "p", side="BUY", size=5, market_position=("SELL", 10)
            )
        assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        request = apb.SubmitSettlementRequestRequest(auction_id="t-1", client_order_id="p", size=1)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await dealer.stub.SubmitSettlementRequest(request, metadata=dealer.metadata)
        assert [v.field for v in field_violations(info.value)] == ["side"]


async def test_dealer_sees_and_changes_only_its_own(server: CloseoutServer) -> None:
    await stage1(server)
    async with OperatorClient(target(server), OPS) as ops:
        async with DealerClient(target(server), TOKEN[A]) as a:
            await a.submit_settlement_request("t-1", "p", side="SELL", size=10_000_000)
        await ops.close_window("t-1")
        await ops.open_window("t-1")
    async with DealerClient(target(server), TOKEN[B]) as b:
        await b.submit_limit_order("t-1", "o1", side="BID", price="40", size=3_000_000)
        mine = await b.my_submissions("t-1")
        assert {o.order_id for o in mine.limit_orders} == {
            f"{PID[B]}/o1",
            f"{PID[B]}/~initial-market",
        }
    async with DealerClient(target(server), TOKEN[C]) as c:
        theirs = await c.my_submissions("t-1")
        assert all(o.order_id.startswith(PID[C]) for o in theirs.limit_orders)
        assert await code_of(c.cancel_limit_order("t-1", "x", "o1")) is grpc.StatusCode.NOT_FOUND
    async with DealerClient(target(server), TOKEN[B]) as b:
        assert len((await b.my_submissions("t-1")).limit_orders) == 2


async def test_sealed_book_hidden_from_everyone_until_close_then_disclosure_is_recorded(
    server: CloseoutServer,
) -> None:
    await stage1(server)
    async with OperatorClient(target(server), OPS) as ops:
        result = await ops.results("t-1")
        assert not result.matched_markets and not result.initial_market_midpoint
        assert await code_of(ops.disclose_book("t-1", "")) is grpc.StatusCode.INVALID_ARGUMENT
        disclosed = await ops.disclose_book("t-1", "regulator request 42")
        assert len([d for d in disclosed.dealers if d.submissions.HasField("market")]) == 4
    async with DealerClient(target(server), TOKEN[A]) as a:
        events = [e async for e in _until(a.watch("t-1"), "BookDisclosed")]
        assert events[-1].reason == "regulator request 42"


async def _until(
    stream: AsyncIterator[apb.WatchAuctionResponse], event_type: str
) -> AsyncIterator[apb.WatchAuctionResponse]:
    async for e in stream:
        yield e
        if e.type == event_type:
            return


async def test_same_client_order_id_is_not_double_counted(server: CloseoutServer) -> None:
    await stage1(server)
    async with DealerClient(target(server), TOKEN[A]) as a:
        first = await a.submit_settlement_request("t-1", "psr-1", side="SELL", size=7)
        again = await a.submit_settlement_request("t-1", "psr-1", side="SELL", size=7)
        assert (again.sequence, again.accepted_at) == (first.sequence, first.accepted_at)
        assert await code_of(a.submit_settlement_request("t-1", "psr-1", side="SELL", size=8)) is (
            grpc.StatusCode.ALREADY_EXISTS
        )
        assert [r.size for r in (await a.my_submissions("t-1")).settlement_requests] == [7]


async def test_windows_close_on_the_server_clock_and_late_submissions_are_refused(
    server: CloseoutServer, clock: FakeClock
) -> None:
    t0 = clock.now()
    schedule = {
        "stage1_open": t0 + timedelta(minutes=1),
        "stage1_close": t0 + timedelta(minutes=16),
        "stage2_open": t0 + timedelta(hours=2),
        "stage2_close": t0 + timedelta(hours=2, minutes=15),
    }
    registry = _registry(server)
    async with OperatorClient(target(server), OPS) as ops:
        await ops.create_auction(params("sched"), [PID[d] for d in (A, B, C, D)], schedule)
    async with DealerClient(target(server), TOKEN[A]) as a:
        assert await code_of(a.submit_market("sched", "m", bid="40", offer="41")) is (
            grpc.StatusCode.FAILED_PRECONDITION
        )
        clock.advance(timedelta(minutes=1))
        # The background scheduler may get there first; either way the window is now open.
        await registry.run_due()
        assert (await a.auction("sched")).phase == apb.PHASE_STAGE1_OPEN
        await a.submit_market("sched", "m", bid="40", offer="41")
        await a.submit_settlement_request("sched", "p", side="SELL", size=1_000_000)
        clock.advance(timedelta(minutes=15))
        # Stamped at the close: refused whether or not the scheduler has closed the window
        # yet (the engine test covers the "closed at" case before the close command runs).
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await a.submit_market("sched", "m2", bid="40", offer="41")
        assert info.value.code() is grpc.StatusCode.FAILED_PRECONDITION
        await registry.run_due()
        assert (await a.auction("sched")).phase == apb.PHASE_STAGE1_CLOSED
        clock.advance(timedelta(hours=2, minutes=30))
        await registry.run_due()  # stage 2 opens and, being past its close, closes at once
        assert (await a.auction("sched")).phase == apb.PHASE_FINAL


def _registry(server: CloseoutServer) -> AuctionRegistry:
    return server.state_of(AuctionRegistry)


async def test_bulk_stream_accepts_rejects_and_acks_durably(server: CloseoutServer) -> None:
    await stage1(server)
    async with OperatorClient(target(server), OPS) as ops:
        async with DealerClient(target(server), TOKEN[A]) as a:
            await a.submit_settlement_request("t-1", "p", side="SELL", size=50_000_000)
        await ops.close_window("t-1")
        await ops.open_window("t-1")
    orders = [
        apb.SubmitOrdersRequest(
            auction_id="t-1",
            client_order_id=f"b{i}",
            side=apb.ORDER_SIDE_BID,
            price="40",
            size=1_000 + i,
        )
        for i in range(500)
    ]
    orders.insert(
        3,
        apb.SubmitOrdersRequest(
            auction_id="t-1", client_order_id="bad", side=apb.ORDER_SIDE_OFFER, price="40", size=1
        ),
    )
    orders.append(orders[0])  # an idempotent repeat
    async with DealerClient(target(server), TOKEN[B]) as b:
        response = await b.submit_orders(orders)
        assert (response.accepted, response.duplicates) == (501, 1)
        assert [(r.index, r.code) for r in response.rejections] == [(3, "INVALID_ARGUMENT")]
        mine = await b.my_submissions("t-1")
        assert len([o for o in mine.limit_orders if not o.carried_over]) == 500
        # The last order is B's latest event, numbered as B counts (its own and public ones).
        assert response.last_sequence == (await b.auction("t-1")).last_sequence
        assert response.last_sequence == max(o.sequence for o in mine.limit_orders)
    records = [r for r in server.journal.replay() if r.stream == STREAM_PREFIX + "t-1"]
    assert max(r.payload["seq"] for r in records) >= response.last_sequence


async def test_bulk_stream_over_two_auctions_answers_each_order_in_its_place(
    server: CloseoutServer,
) -> None:
    """Runs of orders for different auctions (and an unknown one) in one stream, refusals of
    the wire (no side) and of the engine (wrong side, off the grid, a reused id) between
    accepted orders and repeats: each order is answered at its own index, as if submitted
    alone in stream order."""
    for auction_id in ("t-1", "t-2"):
        await stage1(server, auction_id)
        async with OperatorClient(target(server), OPS) as ops:
            async with DealerClient(target(server), TOKEN[A]) as a:
                await a.submit_settlement_request(auction_id, "p", side="SELL", size=50_000_000)
            await ops.close_window(auction_id)
            await ops.open_window(auction_id)
    bid, offer, none = apb.ORDER_SIDE_BID, apb.ORDER_SIDE_OFFER, apb.ORDER_SIDE_UNSPECIFIED
    sent = [
        ("t-1", "b0", bid, "40", 1_000),
        ("t-1", "b1", none, "40", 1_000),
        ("t-1", "b2", offer, "40", 1_000),
        ("nope", "n0", bid, "40", 1_000),
        ("nope", "n1", bid, "40", 1_000),
        ("t-2", "c0", bid, "40", 1_000),
        ("t-2", "c0", bid, "40", 1_000),
        ("t-2", "c0", bid, "41", 1_000),
        ("t-1", "b3", bid, "40.1", 1_000),
        ("t-1", "b0", bid, "40", 1_000),
        ("t-1", "b4", bid, "40", 2_000),
    ]
    orders = [
        apb.SubmitOrdersRequest(
            auction_id=auction, client_order_id=coid, side=side, price=price, size=size
        )
        for auction, coid, side, price, size in sent
    ]
    async with DealerClient(target(server), TOKEN[B]) as b:
        response = await b.submit_orders(orders)
        assert (response.accepted, response.duplicates) == (5, 2)
        assert [(r.index, r.client_order_id, r.code) for r in response.rejections] == [
            (1, "b1", "INVALID_ARGUMENT"),
            (2, "b2", "INVALID_ARGUMENT"),
            (3, "n0", "NOT_FOUND"),
            (4, "n1", "NOT_FOUND"),
            (7, "c0", "ALREADY_EXISTS"),
            (8, "b3", "INVALID_ARGUMENT"),
        ]
        messages = {r.index: r.message for r in response.rejections}
        assert messages[1] == "side: must be ORDER_SIDE_BID or ORDER_SIDE_OFFER"
        assert messages[3] == "no auction 'nope'"
        assert messages[7] == (
            f"client_order_id 'c0' was already used by {PID[B]} for another request"
        )
        mine = {
            auction: sorted(
                o.order_id.split("/", 1)[1]
                for o in (await b.my_submissions(auction)).limit_orders
                if not o.carried_over
            )
            for auction in ("t-1", "t-2")
        }
        assert mine == {"t-1": ["b0", "b4"], "t-2": ["c0"]}
        assert response.last_sequence == max(
            [(await b.auction(auction)).last_sequence for auction in ("t-1", "t-2")]
        )


async def test_watch_stream_private_events_and_resume(server: CloseoutServer) -> None:
    await stage1(server)
    async with OperatorClient(target(server), OPS) as ops:
        async with DealerClient(target(server), TOKEN[A]) as a:
            await a.submit_settlement_request("t-1", "p", side="SELL", size=3_000_000)
        await ops.close_window("t-1")
        await ops.open_window("t-1")
        async with DealerClient(target(server), TOKEN[B]) as b:
            await b.submit_limit_order(
                "t-1", "o1", side="BID", price="40", size=3_000_000, customer="LEI-OF-B-CLIENT"
            )
        await ops.close_window("t-1")
        public = [e async for e in ops.watch("t-1")]
    assert [e.type for e in public] == [
        "AuctionCreated",
        "Stage1Opened",
        "Stage1Closed",
        "Stage2Opened",
        "Stage2Closed",
    ]
    assert public[-1].phase == apb.PHASE_FINAL and public[-1].final_price == "40"
    async with DealerClient(target(server), TOKEN[B]) as b:
        mine = [e async for e in b.watch("t-1")]
        assert {e.type for e in mine} >= {"MarketSubmitted", "LimitOrderSubmitted"}
        assert all(e.client_order_id in {"", "m", "o1"} for e in mine)
        fills = mine[-1].my_fills
        assert [(f.order_id, f.size) for f in fills] == [(f"{PID[B]}/o1", 3_000_000)]
        resumed = [e async for e in b.watch("t-1", after_sequence=mine[-2].sequence)]
        assert [e.sequence for e in resumed] == [mine[-1].sequence]
        assert await code_of(_drain(b.watch("t-1", after_sequence=10_000))) is (
            grpc.StatusCode.INVALID_ARGUMENT
        )


async def _drain(stream: AsyncIterator[apb.WatchAuctionResponse]) -> None:
    async for _ in stream:
        pass


async def test_restart_replays_every_auction_to_identical_state(
    tmp_path: Path, clock: FakeClock
) -> None:
    scenario = load_scenario(ROOT / "examples" / "cds" / "hertz_2020.json")
    srv = CloseoutServer(config(tmp_path), clock=clock)
    await srv.start()
    try:
        online, _ = await run_online(scenario, target(srv), TOKENS)
        async with OperatorClient(target(srv), OPS) as ops:
            await ops.create_auction(params("open-one"), [PID[A], PID[B]])
            await ops.open_window("open-one")
        before = {a.auction_id: a.snapshot() for a in _registry(srv).auctions()}
    finally:
        await srv.stop(grace=0)
    again = CloseoutServer(config(tmp_path), clock=clock)
    await again.start()
    try:
        after = {a.auction_id: a.snapshot() for a in _registry(again).auctions()}
        assert after == before
        async with OperatorClient(target(again), OPS) as ops:
            assert json.dumps(
                (await ops.results(scenario.params.auction_id)).final_price
            ) == json.dumps(online["final_price"])
        async with DealerClient(target(again), TOKEN[A]) as a:
            await a.submit_market("open-one", "m", bid="40", offer="41")  # resumes where it was
    finally:
        await again.stop(grace=0)
    journal = await Journal.open(tmp_path / "j.sqlite")
    try:
        stream = STREAM_PREFIX + scenario.params.auction_id
        events = [event_from_dict(r.payload) for r in journal.replay() if r.stream == stream]
    finally:
        await journal.close()
    assert CdsAuction.from_events(events).snapshot() == before[scenario.params.auction_id]


async def test_the_served_modules_expose_every_service(server: CloseoutServer) -> None:
    async with grpc.aio.insecure_channel(target(server)) as ch:
        stub = reflection_pb2_grpc.ServerReflectionStub(ch)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        names = set()
        async for reply in stub.ServerReflectionInfo(iter([request])):
            names |= {s.name for s in reply.list_services_response.service}
    assert {
        "closeout.v1.AdminService",
        "closeout.v1.AuctionService",
        "closeout.v1.OperatorService",
        "closeout.v1.PricingService",
    } <= names


def readme_cds_commands() -> list[list[str]]:
    """The ``$C ...`` commands of the README's "Run an auction on the server" block."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("### Run an auction on the server", 1)[1].split("```sh\n", 1)[1]
    block = block.split("```", 1)[0]
    return [
        line.split(" #", 1)[0].split()[1:] for line in block.splitlines() if line.startswith("$C ")
    ]


def readme_cds_claims() -> list[list[str]]:
    """Per command of that block, the figures its ``# publishes A, B`` comment claims."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("### Run an auction on the server", 1)[1].split("```sh\n", 1)[1]
    claims = []
    for line in block.split("```", 1)[0].splitlines():
        if line.startswith("$C "):
            comment = line.partition(" # ")[2].strip()
            published = comment.removeprefix("publishes ")
            claims.append(published.split(", ") if published != comment else [])
    return claims


@pytest.mark.slow
async def test_readme_commands_run_a_cds_auction(tmp_path: Path) -> None:
    demo = replace(demo_config(), listen="127.0.0.1:0", journal=tmp_path / "demo.sqlite")
    srv = CloseoutServer(demo)
    await srv.start()
    outputs = []
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSEOUT_")}
        env |= {"CLOSEOUT_TARGET": target(srv), "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
        commands = readme_cds_commands()
        assert [c[:2] for c in commands[:2]] == [["cds", "create"], ["cds", "open"]]
        for args in commands:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-c", "from clients.cli import main; main()", *args,
                env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
            output, _ = await asyncio.wait_for(proc.communicate(), 60)  # a guard only
            assert proc.returncode == 0, f"{' '.join(args)}:\n{output.decode()}"
            outputs.append(output.decode())
        async with OperatorClient(target(srv), OPS) as ops:
            result = await ops.results("demo-1")
    finally:
        await srv.stop(grace=0)
    assert result.status == apb.PHASE_FINAL
    assert result.initial_market_midpoint == "40.5"
    assert "final price 40" in outputs[-1]  # the watch stream of dealer A
    claims = readme_cds_claims()
    assert sum(map(len, claims)) >= 3, "the README says what the closes publish"
    for printed, claimed in zip(outputs, claims, strict=True):
        for figure in claimed:
            assert figure in printed, f"README claims {figure!r}; the command printed:\n{printed}"


# -- the Terms over the API: public results, customers, statements, sets, declines ----------


async def finished_with_customer(server: CloseoutServer) -> None:
    """t-1 to its final price: A sells 3m for a customer, B buys it for another."""
    await stage1(server)
    async with OperatorClient(target(server), OPS) as ops:
        async with DealerClient(target(server), TOKEN[A]) as a:
            await a.submit_settlement_request(
                "t-1", "p", side="SELL", size=3_000_000, customer="LEI-A-CLIENT"
            )
        await ops.close_window("t-1")
        await ops.open_window("t-1")
        async with DealerClient(target(server), TOKEN[B]) as b:
            await b.submit_limit_order(
                "t-1", "o1", side="BID", price="40", size=3_000_000, customer="LEI-B-CLIENT"
            )
            await b.decline_customer_request(
                "t-1",
                "d1",
                customer="LEI-B-DECLINED",
                kind="LIMIT_ORDER",
                side="BID",
                size=1_000_000,
                price="41",
                reason="no credit line",
            )
        await ops.close_window("t-1")


async def test_public_results_are_open_to_all_and_name_no_customer(
    server: CloseoutServer,
) -> None:
    await finished_with_customer(server)
    for token in (OPS, WATCHER, TOKEN[A], OUTSIDER):
        async with OperatorClient(target(server), token) as client:
            [pub] = await client.public_results("t-1")
            assert pub.final_price == "40" and pub.open_interest_size == 3_000_000
            assert "LEI-" not in str(pub)
            assert [(r.dealer, r.size) for r in pub.physical_settlement_requests] == [
                (PID[A], 3_000_000)
            ]
    async with OperatorClient(target(server), OPS) as ops:
        assert await code_of(ops.public_results("nope")) is grpc.StatusCode.NOT_FOUND
        assert await code_of(ops.public_results("")) is grpc.StatusCode.INVALID_ARGUMENT


async def test_results_show_customers_only_to_their_dealer_and_operators(
    server: CloseoutServer,
) -> None:
    await finished_with_customer(server)
    async with OperatorClient(target(server), OPS) as ops:
        everything = str(await ops.results("t-1"))
    assert all(c in everything for c in ("LEI-A-CLIENT", "LEI-B-CLIENT", "LEI-B-DECLINED"))
    async with OperatorClient(target(server), TOKEN[B]) as b:
        seen = str(await b.results("t-1"))
    assert "LEI-B-CLIENT" in seen and "LEI-B-DECLINED" in seen and "LEI-A-CLIENT" not in seen
    async with OperatorClient(target(server), WATCHER) as watcher:
        assert "LEI-" not in str(await watcher.results("t-1"))
    async with DealerClient(target(server), TOKEN[A]) as a:
        assert "LEI-B" not in str([e async for e in a.watch("t-1")])


async def test_settlement_statements_dealer_own_operator_any(server: CloseoutServer) -> None:
    await finished_with_customer(server)
    async with OperatorClient(target(server), TOKEN[B]) as b:
        mine = await b.settlement_statement("t-1")
        assert [(x.direction, x.size, x.cash) for x in mine.lines] == [
            ("BUY", 3_000_000, "1200000")
        ]
        assert await code_of(b.settlement_statement("t-1", PID[A])) is (
            grpc.StatusCode.PERMISSION_DENIED
        )
    async with OperatorClient(target(server), OPS) as ops:
        theirs = await ops.settlement_statement("t-1", PID[A])
        assert (theirs.cash_received, theirs.bonds_sold) == ("1200000", 3_000_000)
        assert await code_of(ops.settlement_statement("t-1")) is grpc.StatusCode.INVALID_ARGUMENT
    async with OperatorClient(target(server), WATCHER) as watcher:
        assert await code_of(watcher.settlement_statement("t-1", PID[A])) is (
            grpc.StatusCode.PERMISSION_DENIED
        )


async def test_auction_set_created_together_run_and_published_together(
    server: CloseoutServer,
) -> None:
    from closeout.v1 import operator_pb2 as opb

    request = opb.CreateAuctionSetRequest(
        auction_set="x-2026",
        terms="X Corp 2026 Auction Settlement Terms",
        panel=[PID[d] for d in (A, B, C, D)],
        dealer_names={PID[A]: "Bank of America / Merrill Lynch", PID[B]: "Société Générale"},
        currency_rates={"EUR": "1.08", "USD": "1"},
        auctions=[
            opb.AuctionOfSet(parameters=params("x-snr"), description="Senior"),
            opb.AuctionOfSet(
                parameters=apb.AuctionParameters(
                    auction_id="x-sub", currency="EUR", quotation_amount=1_000_000, max_spread="2"
                ),
                description="Subordinated",
            ),
        ],
    )
    async with OperatorClient(target(server), OPS) as ops:
        created = await ops.create_auction_set(request)
        assert [a.parameters.auction_id for a in created.auctions] == ["x-snr", "x-sub"]
        assert {a.auction_set for a in created.auctions} == {"x-2026"}
        assert created.auctions[0].dealer_names[PID[A]] == "Bank of America / Merrill Lynch"
        assert await code_of(ops.create_auction_set(request)) is grpc.StatusCode.ALREADY_EXISTS
        for aid in ("x-snr", "x-sub"):
            await ops.open_window(aid)
        async with DealerClient(target(server), TOKEN[A]) as a:
            for aid in ("x-snr", "x-sub"):
                await a.submit_market(aid, "m", bid="40", offer="41")
        for aid in ("x-snr", "x-sub"):
            await ops.close_window(aid)
        published = await ops.public_results(auction_set="x-2026")
    assert [(p.auction_id, p.final_price) for p in published] == [
        ("x-snr", "40.5"),
        ("x-sub", "40.5"),
    ]
    assert published[0].initial_markets[0].dealer == "Bank of America / Merrill Lynch"


async def test_new_parameters_round_trip_over_the_wire(server: CloseoutServer) -> None:
    p = apb.AuctionParameters(
        auction_id="jpy-1",
        currency="JPY",
        quotation_amount=100_000_000,
        max_spread="2",
        require_market_position=True,
        calendar="Tokyo",
        auction_date="2026-03-02",
    )
    async with OperatorClient(target(server), OPS) as ops:
        created = (await ops.create_auction(p, [PID[A]])).auction.parameters
        assert (created.rounding_amount, created.calendar) == (100_000, "Tokyo")
        assert (created.max_initial_bidding_periods, created.fallback_settlement_method) == (
            3,
            "Physical Settlement",
        )
        bad = apb.AuctionParameters(
            auction_id="gbp-1", currency="GBP", quotation_amount=1, max_spread="2"
        )
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await ops.create_auction(bad, [PID[A]])
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in field_violations(info.value)] == ["parameters.rounding_amount"]


async def closeout_cli(*args: str) -> tuple[int, str, str]:
    """Run the ``closeout`` command as a process (the server keeps serving meanwhile)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from clients.cli import main; main()",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


async def test_cli_public_results_statement_and_decline(server: CloseoutServer) -> None:
    await finished_with_customer(server)
    t = ("--target", target(server))
    code, out, err = await closeout_cli(
        "results", "t-1", "--public", "--csv", *t, "--token", WATCHER
    )
    assert code == 0, err
    assert out.splitlines()[0].startswith("auction_id,section,dealer")
    assert "final_price" in out and "LEI-" not in out
    code, out, err = await closeout_cli(
        "results", "t-1", "--public", "--json", *t, "--token", WATCHER
    )
    assert code == 0, err
    assert json.loads(out)["final_price"] == "40"
    code, out, err = await closeout_cli(
        "cds", "statement", "t-1", "--json", *t, "--token", TOKEN[B]
    )
    assert code == 0, err
    assert json.loads(out)["lines"][0]["cash"] == "1200000"
    code, out, err = await closeout_cli("results", "t-1", "--csv", *t, "--token", WATCHER)
    assert code == 2 and "--public" in err


async def test_online_auction_set_equals_offline(server: CloseoutServer) -> None:
    from clients.online import run_set_online
    from clients.replay import run_set_offline
    from clients.scenario import parse_auction_set

    text = (ROOT / "examples" / "cds" / "auction_set.json").read_text(encoding="utf-8")
    scenarios = parse_auction_set(text)
    online, _ = await run_set_online(scenarios, target(server), TOKENS)
    offline = run_set_offline(scenarios)
    assert [untimed(r) for r in online] == [untimed(r.result.to_dict()) for r in offline]
    async with OperatorClient(target(server), WATCHER) as watcher:
        published = await watcher.public_results(auction_set="example-corp-2026")
    assert [p.final_price for p in published] == ["40.25", "12"]
