"""Clearing-house defaults through a real in-process server on 127.0.0.1: online equals offline
for every example (the refused ones fail naming the same entry); margin shortfall -> default
-> conversion values equal to the pricing library's -> bids -> award -> settlement with the
ledger to the cent; eligibility, roles and sealed bids; late bids; idempotency; the event
stream; the no-bid random assignment identical after a restart replays the journal."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sys
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import grpc
import grpc.aio
import pytest

from clients.default_online import MARGIN_RUN, load_state, load_tokens, run_default_online
from clients.default_replay import run_default
from clients.default_scenario import Scenario, load_default_scenario
from clients.default_sdk import (
    ClearingClient,
    MemberClient,
    market_to_proto,
)
from clients.scenario import ScenarioError
from closeout.v1 import clearing_pb2 as pb
from matching.default import events as aev
from matching.default.auction import DefaultAuction
from pricing.conversion import convert
from pricing.inputs import parse_request
from pricing.money import money
from server.app import CloseoutServer
from server.clock import FakeClock
from server.config import ServerConfig, load_config
from server.default.registry import AUCTION_PREFIX, DefaultRegistry
from server.journal import Journal

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples" / "default").glob("*.json"))
ACCEPTED = [p for p in EXAMPLES if "rejected" not in p.name]
REJECTED = [p for p in EXAMPLES if "rejected" in p.name]
TOKENS = load_tokens(ROOT / "examples" / "server" / "default-tokens.toml")
OPS = TOKENS.operator_token
WATCHER = "demo-observer-token"
LOT = "Dealer-D-1"


def config(tmp_path: Path) -> ServerConfig:
    base = load_config(ROOT / "examples" / "server" / "default.toml", env={})
    return dataclasses.replace(
        base, listen="127.0.0.1:0", journal=tmp_path / "j.sqlite", grace_seconds=0.5
    )


def opened_at(scenario: Scenario) -> datetime:
    """When the offline run opens its windows (its synthetic clock)."""
    replay = run_default(scenario)
    first = next(iter(replay.auction_events.values()))
    return datetime.fromisoformat(first[1].at)


async def start(tmp_path: Path, clock: FakeClock) -> CloseoutServer:
    srv = CloseoutServer(config(tmp_path), clock=clock)
    await srv.start()
    return srv


@pytest.fixture
async def clock() -> FakeClock:
    return FakeClock(datetime.fromisoformat("2007-12-12T10:00:00+00:00"))


@pytest.fixture
async def server(tmp_path: Path, clock: FakeClock) -> AsyncIterator[CloseoutServer]:
    srv = await start(tmp_path, clock)
    try:
        yield srv
    finally:
        await srv.stop(grace=0)


def target(server: CloseoutServer) -> str:
    return f"127.0.0.1:{server.port}"


def registry(server: CloseoutServer) -> DefaultRegistry:
    return server.state_of(DefaultRegistry)


def paced(clock: FakeClock, opened: datetime) -> object:
    async def pace(offset: int) -> None:
        when = opened + timedelta(seconds=offset)
        if when > clock.now():
            clock.set(when)

    return pace


async def code_of(awaitable: object) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await awaitable  # type: ignore[misc]
    return info.value.code()


def seeds_of(result: dict[str, object]) -> dict[str, int]:
    auctions = result["auctions"]
    assert isinstance(auctions, list)
    return {a["auction_id"]: a["award"]["seed"] for a in auctions if a["award"]}


# -- whole scenarios ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ACCEPTED, ids=lambda p: p.stem)
async def test_online_result_equals_offline(tmp_path: Path, path: Path) -> None:
    scenario = load_default_scenario(path)
    opened = opened_at(scenario)
    clock = FakeClock(opened)
    srv = await start(tmp_path, clock)
    try:
        online, notes = await run_default_online(
            scenario,
            target(srv),
            TOKENS,
            pace=paced(clock, opened),  # type: ignore[arg-type]
        )
    finally:
        await srv.stop(grace=0)
    offline = run_default(scenario, seeds=seeds_of(online))
    assert online == offline.result
    assert notes == offline.notes


@pytest.mark.parametrize("path", REJECTED, ids=lambda p: p.stem)
async def test_refused_examples_fail_naming_the_same_entry(tmp_path: Path, path: Path) -> None:
    scenario = load_default_scenario(path)
    with pytest.raises(ScenarioError) as offline:
        run_default(scenario)
    opened = opened_at(dataclasses.replace(scenario, bids=()))
    clock = FakeClock(opened)
    srv = await start(tmp_path, clock)
    try:
        with pytest.raises(ScenarioError) as online:
            await run_default_online(
                scenario,
                target(srv),
                TOKENS,
                pace=paced(clock, opened),  # type: ignore[arg-type]
            )
    finally:
        await srv.stop(grace=0)
    assert online.value.where == offline.value.where
    if "ineligible" in path.name:
        # Online an uninvited member is told what it would be told of an unknown auction.
        assert online.value.message.startswith("NOT_FOUND: no default auction")
    else:  # refused as late, whether or not the scheduler closed the window first
        assert online.value.message.startswith("FAILED_PRECONDITION: the window of Dealer-D-1")


# -- one default by hand --------------------------------------------------------------------


BASIC = load_default_scenario(ROOT / "examples" / "default" / "basic.json")
MARKET = market_to_proto(BASIC.market or {})


async def open_lot(server: CloseoutServer, *, window_seconds: int = 0) -> None:
    """basic.json up to an open window on Dealer-D-1, without bids."""
    async with ClearingClient(target(server), OPS) as ops:
        await load_state(ops, BASIC)
        run = await ops.run_margin(MARGIN_RUN, MARKET)
        assert [r.member_id for r in run.run.rows if r.shortfall != "0.00"] == ["Dealer-D"]
        await ops.declare_default("Dealer-D", market=MARKET)
        await ops.convert("Dealer-D", MARKET, hedge=True)
        await ops.create_auction(LOT, grading_threshold="2500", window_seconds=window_seconds)
        await ops.open_window(LOT)


async def test_margin_default_conversion_award_settlement_to_the_cent(
    server: CloseoutServer,
) -> None:
    async with ClearingClient(target(server), OPS) as ops:
        await open_lot(server)
        # The conversion is the pricing library's, to the cent (the spec's reference swap).
        market = BASIC.market or {}
        request = parse_request({**market, "swaps": [BASIC.positions[0].swap]}, convert=True)
        reference = convert(request.book, request.market)
        lot = (await ops.lots())[0]
        position = lot.terms.positions[0]
        assert position.rcv == money(reference.rcv[0]) == "-12337.67"
        assert position.implied_bid == money(reference.implied_bid[0]) == "12337.67"
        assert position.defaulted_npv == money(reference.defaulted.npv[0])
        assert position.standard_npv == money(reference.standard.npv[0])
        assert position.standard_dv01 == money(reference.standard.dv01[0])
        assert position.standard_tenor == "10Y"
        assert lot.terms.curve_id and lot.terms.valuation_time == "2007-12-12"
        assert list(lot.eligible) == ["Bank-A", "Bank-B", "Bank-E", "MM-1", "MM-2"]
        before = await ops.ledger()
        bids = {"Bank-A": "12050", "MM-2": "9000", "MM-1": "12200.00", "Bank-B": "11000"}
        for member, amount in bids.items():
            async with MemberClient(target(server), TOKENS.members[member]) as client:
                await client.submit_bid(LOT, "b-1", amount)
        await ops.close_window(LOT)
        awarded = await ops.award(LOT)
        assert (awarded.result.award.member_id, awarded.result.award.amount) == ("MM-1", "12200.00")
        settled = await ops.settle(LOT)
        assert settled.settlement.shortfall == "137.67"
        assert settled.settlement.collateral_charge == "0.00"
        # the default's result, netted over its lots, goes through the loss waterfall
        allocated = await ops.allocate_losses("Dealer-D", ccp_tranche="1000")
        assert (allocated.allocation.net_result, allocated.allocation.loss) == ("-137.67", "137.67")
        first = allocated.allocation.steps[0]
        assert (first.layer, first.member_id, first.used) == (
            pb.WATERFALL_LAYER_DEFAULTER_MARGIN,
            "Dealer-D",
            "137.67",
        )
        assert await ops.loss_allocation("Dealer-D") == allocated.allocation
        assert await code_of(ops.allocate_losses("Dealer-D")) is grpc.StatusCode.ALREADY_EXISTS
        ledger = {a.account: a for a in (await ops.ledger()).accounts}
        assert ledger["MM-1"].cash == "-12200.00"
        assert ledger["CCP"].cash == "12337.67"
        assert ledger["Dealer-D"].collateral == "499862.33"
        assert [p.position_id for p in ledger["MM-1"].positions] == ["Dealer-D-1/D-9.5y/MM-1"]

        def total(accounts: object) -> Decimal:
            return sum(
                (Decimal(a.cash) + Decimal(a.collateral or "0") for a in accounts),  # type: ignore[attr-defined]
                Decimal(0),
            )

        assert total(ledger.values()) == total(before.accounts)
        grades = {g.member_id: g.grade for g in await ops.grades(LOT)}
        assert grades == {
            "Bank-A": pb.BID_GRADE_COMPETITIVE,
            "Bank-E": pb.BID_GRADE_NO_BID,
            "MM-1": pb.BID_GRADE_WINNER,
            "MM-2": pb.BID_GRADE_SHORT,
        }
        kinds = [i.kind for i in await ops.instructions(LOT)]
        assert kinds.count(pb.INSTRUCTION_KIND_CASH) == 1
        assert kinds.count(pb.INSTRUCTION_KIND_COLLATERAL) == 0
        losses = [i.kind for i in await ops.instructions("Dealer-D/losses")]
        assert losses == [pb.INSTRUCTION_KIND_COLLATERAL]


async def test_ineligible_members_and_wrong_roles_are_refused(server: CloseoutServer) -> None:
    await open_lot(server)
    async with MemberClient(target(server), TOKENS.members["Bank-C"]) as bank_c:
        # Not invited: the same NOT_FOUND as for an auction that does not exist.
        assert await code_of(bank_c.submit_bid(LOT, "c-1", "12000")) is (grpc.StatusCode.NOT_FOUND)
        assert await code_of(bank_c.lot(LOT)) is grpc.StatusCode.NOT_FOUND
        assert await bank_c.invitations() == []
    async with MemberClient(target(server), TOKENS.members["Dealer-D"]) as defaulter:
        assert await code_of(defaulter.submit_bid(LOT, "d-1", "1")) is (grpc.StatusCode.NOT_FOUND)
    async with MemberClient(target(server), WATCHER) as observer:
        assert await code_of(observer.submit_bid(LOT, "w-1", "1")) is (
            grpc.StatusCode.PERMISSION_DENIED
        )
    async with ClearingClient(target(server), TOKENS.members["MM-1"]) as member_as_operator:
        assert await code_of(member_as_operator.close_window(LOT)) is (
            grpc.StatusCode.PERMISSION_DENIED
        )
        assert await code_of(member_as_operator.ledger()) is grpc.StatusCode.PERMISSION_DENIED
    async with ClearingClient(target(server), WATCHER) as observer_ops:
        assert len(await observer_ops.lots()) == 1
        assert await code_of(observer_ops.award(LOT)) is grpc.StatusCode.PERMISSION_DENIED
    async with MemberClient(target(server), TOKENS.members["MM-1"]) as mm1:
        invited = await mm1.invitations()
        assert [(i.auction_id, i.mandatory) for i in invited] == [(LOT, True)]
        view = await mm1.lot(LOT)
        assert view.lot.implied_bid == "12337.67" and view.phase == pb.DEFAULT_AUCTION_PHASE_OPEN
        assert await code_of(mm1.lot("nope")) is grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await mm1.submit_bid(LOT, "m-1", "12000.001")
        assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_nobody_sees_another_members_bid(server: CloseoutServer) -> None:
    await open_lot(server)
    async with MemberClient(target(server), TOKENS.members["Bank-A"]) as a:
        await a.submit_bid(LOT, "a-1", "12345.67")
    async with ClearingClient(target(server), OPS) as ops:
        sealed = await ops.result(LOT)
        assert sealed.bids_sealed and not sealed.bids
    async with MemberClient(target(server), TOKENS.members["Bank-B"]) as b:
        assert await b.my_bid(LOT) is None
        assert not (await b.lot(LOT)).HasField("my_bid")
        await b.submit_bid(LOT, "b-1", "100")
    async with ClearingClient(target(server), OPS) as ops:
        await ops.close_window(LOT)
        await ops.award(LOT)
        await ops.settle(LOT)  # the stream ends with the auction
    async with MemberClient(target(server), TOKENS.members["Bank-B"]) as b:
        events = [e async for e in b.watch(LOT)]
        assert "12345.67" not in str(events) and "a-1" not in str(events)
        own = [e for e in events if e.type == aev.BidSubmitted.type]
        assert [(e.client_order_id, e.amount) for e in own] == [("b-1", "100.00")]
        award = events[-2]
        assert award.type == aev.LotAwarded.type and not award.took_lot
        assert award.award_amount == "" and award.my_grade == pb.BID_GRADE_UNSPECIFIED
        view = await b.lot(LOT)
        assert view.my_bid.amount == "100.00" and "12345.67" not in str(view)
    async with MemberClient(target(server), TOKENS.members["Bank-A"]) as a:
        view = await a.lot(LOT)
        assert view.took_lot and view.amount == "12345.67"
        assert view.my_grade == pb.BID_GRADE_WINNER


async def test_bids_after_the_close_are_refused(server: CloseoutServer, clock: FakeClock) -> None:
    await open_lot(server, window_seconds=600)
    async with MemberClient(target(server), TOKENS.members["MM-1"]) as mm1:
        await mm1.submit_bid(LOT, "m-1", "12000")
        clock.advance(timedelta(seconds=600))
        # Stamped at the close: refused whether or not the scheduler has closed it yet.
        assert await code_of(mm1.submit_bid(LOT, "m-2", "12100")) is (
            grpc.StatusCode.FAILED_PRECONDITION
        )
        await registry(server).run_due()
        assert (await mm1.lot(LOT)).phase == pb.DEFAULT_AUCTION_PHASE_CLOSED
        assert await code_of(mm1.withdraw_bid(LOT, "m-3")) is grpc.StatusCode.FAILED_PRECONDITION
        assert (await mm1.my_bid(LOT)) is not None


async def test_idempotent_bids_and_resumable_watch(server: CloseoutServer) -> None:
    await open_lot(server)
    async with MemberClient(target(server), TOKENS.members["MM-2"]) as mm2:
        first = await mm2.submit_bid(LOT, "x-1", "9000")
        again = await mm2.submit_bid(LOT, "x-1", "9000")
        assert (again.sequence, again.accepted_at) == (first.sequence, first.accepted_at)
        assert await code_of(mm2.submit_bid(LOT, "x-1", "9100")) is grpc.StatusCode.ALREADY_EXISTS
        await mm2.withdraw_bid(LOT, "x-2")
        assert await mm2.my_bid(LOT) is None
        async with ClearingClient(target(server), OPS) as ops:
            await ops.close_window(LOT)
            await ops.award(LOT)
            await ops.settle(LOT)
            public = [e.type for e in [e async for e in ops.watch(LOT)]]
        assert public == [
            aev.AuctionCreated.type,
            aev.WindowOpened.type,
            aev.WindowClosed.type,
            aev.LotAssigned.type,
            aev.AuctionSettled.type,
        ]
        mine = [e async for e in mm2.watch(LOT)]
        assert [e.type for e in mine][2:4] == [aev.BidSubmitted.type, aev.BidWithdrawn.type]
        resumed = [e async for e in mm2.watch(LOT, after_sequence=mine[-2].sequence)]
        assert [e.sequence for e in resumed] == [mine[-1].sequence]
        assert mine[-2].phase == pb.DEFAULT_AUCTION_PHASE_ASSIGNED


async def test_no_bid_assignment_is_the_same_after_a_restart(
    tmp_path: Path, clock: FakeClock
) -> None:
    scenario = load_default_scenario(ROOT / "examples" / "default" / "no_bids.json")
    srv = await start(tmp_path, clock)
    try:
        online, _ = await run_default_online(scenario, target(srv), TOKENS)
        house_before = registry(srv).house.snapshot()
        before = {a.auction_id: a.snapshot() for a in registry(srv).auctions()}
    finally:
        await srv.stop(grace=0)
    award = online["auctions"][0]["award"]
    assert award["method"] == "ASSIGNMENT" and award["pool"] == ["MM-1", "MM-2"]
    again = await start(tmp_path, clock)
    try:
        assert registry(again).house.snapshot() == house_before
        assert {a.auction_id: a.snapshot() for a in registry(again).auctions()} == before
        async with ClearingClient(target(again), OPS) as ops:
            result = await ops.result(LOT)
        assert (result.award.member_id, result.award.seed) == (award["member"], award["seed"])
    finally:
        await again.stop(grace=0)
    journal = await Journal.open(tmp_path / "j.sqlite")
    try:
        events = [
            aev.event_from_dict(r.payload)
            for r in journal.replay()
            if r.stream == AUCTION_PREFIX + LOT
        ]
    finally:
        await journal.close()
    replayed = DefaultAuction.from_events(events)
    assert replayed.snapshot() == before[LOT]
    assert replayed.outcome is not None and replayed.outcome.member == award["member"]
    # The offline runner with the server's seed draws the same market maker (bid times
    # differ: this server's clock was not paced like the scenario's).
    offline = run_default(scenario, seeds={LOT: award["seed"]}).result
    assert offline["auctions"][0]["award"] == award
    assert (offline["settlements"], offline["ledger"]) == (online["settlements"], online["ledger"])


async def test_the_default_services_are_served(server: CloseoutServer) -> None:
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    async with grpc.aio.insecure_channel(target(server)) as ch:
        stub = reflection_pb2_grpc.ServerReflectionStub(ch)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        names = set()
        async for reply in stub.ServerReflectionInfo(iter([request])):
            names |= {s.name for s in reply.list_services_response.service}
    assert {"closeout.v1.ClearingService", "closeout.v1.DefaultAuctionService"} <= names


# -- the CLI, as the README shows it --------------------------------------------------------


def readme_default_commands() -> list[list[str]]:
    """The ``closeout default`` commands of the README's "Run a default" step-by-step block."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### Run a default", 1)[1]
    block = section.split("```sh\n")[2].split("```", 1)[0]
    commands = []
    for line in block.splitlines():
        line = line.split(" #", 1)[0].strip()
        if line.startswith("$C default "):
            words = line.replace("$F", "examples/default/basic.json").split()[1:]
            commands.append(words)
    return commands


async def cli(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run ``closeout ARGS`` as its own process (the console script's entry point)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("CLOSEOUT_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from clients.cli import main; main()", *args,
        cwd=ROOT,
        env={**base, **env, "PYTHONPATH": str(ROOT), "COLUMNS": "200"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(proc.communicate(), 60)  # a guard, not a measurement
    assert proc.returncode is not None
    return proc.returncode, output.decode()


@pytest.mark.slow
async def test_readme_commands_run_a_default_by_hand(
    server: CloseoutServer, tmp_path: Path
) -> None:
    env = {"CLOSEOUT_TARGET": target(server), "CLOSEOUT_TOKEN": OPS}
    commands = readme_default_commands()
    assert [c[1] for c in commands][:5] == ["load", "margin", "declare", "convert", "open"]
    outputs = []
    for args in commands:
        args = [a if a != "instructions.csv" else str(tmp_path / "i.csv") for a in args]
        code, output = await cli(args, env)
        assert code == 0, f"{' '.join(args)}:\n{output}"
        outputs.append(output)
    text = "\n".join(outputs)
    closed = outputs[[c[1] for c in commands].index("close")]
    assert "12,200.00" in closed and "12,050.00" in closed  # the close prints the bids
    assert "297,807.07" in text  # Dealer-D's shortfall
    assert "-12,337.67" in text  # the lot's RCV
    assert "AWARD to MM-1 at 12,200.00" in text
    async with ClearingClient(target(server), OPS) as ops:
        ledger = {a.account: a for a in (await ops.ledger()).accounts}
    assert (ledger["MM-1"].cash, ledger["Dealer-D"].collateral) == ("-12200.00", "499862.33")
    assert (
        "Dealer-D/losses/1,Dealer-D/losses,COLLATERAL,Dealer-D,CCP,USD,137.67"
        in (tmp_path / "i.csv").read_text()
    )


async def test_cli_run_with_target_prints_the_offline_outcome(server: CloseoutServer) -> None:
    path = str(ROOT / "examples" / "default" / "positive_rcv.json")
    tokens = str(ROOT / "examples" / "server" / "default-tokens.toml")
    code, output = await cli(
        ["default", "run", path, "--target", target(server), "--tokens", tokens, "--json"], {}
    )
    assert code == 0, output

    online = json.loads(output)
    offline = run_default(load_default_scenario(Path(path)), seeds=seeds_of(online)).result
    assert online["settlements"] == offline["settlements"]
    assert online["ledger"] == offline["ledger"]
    code, output = await cli(["default", "run", path, "--target", target(server)], {})
    assert code == 2 and "--tokens" in output


async def test_windows_open_and_close_on_the_server_clock_and_resume_after_restart(
    tmp_path: Path, clock: FakeClock
) -> None:
    srv = await start(tmp_path, clock)
    try:
        await open_lot(srv)  # Dealer-D-1 open by hand; cancel it and schedule a new auction
        async with ClearingClient(target(srv), OPS) as ops:
            await ops.cancel(LOT, "rescheduled")
            created = await ops.create_auction(
                LOT,
                auction_id="sched",
                open_at=clock.now() + timedelta(minutes=1),
                window_seconds=600,
            )
            assert created.auction.phase == pb.DEFAULT_AUCTION_PHASE_CREATED
        async with MemberClient(target(srv), TOKENS.members["MM-2"]) as mm2:
            assert await code_of(mm2.submit_bid("sched", "m-1", "1")) is (
                grpc.StatusCode.FAILED_PRECONDITION
            )
            clock.advance(timedelta(minutes=1))
            await registry(srv).run_due()  # the scheduler may have got there first
            await mm2.submit_bid("sched", "m-1", "12000")
    finally:
        await srv.stop(grace=0)
    clock.advance(timedelta(minutes=15))  # the close passes while the server is down
    again = await start(tmp_path, clock)
    try:
        await registry(again).run_due()
        async with ClearingClient(target(again), OPS) as ops:
            result = await ops.result("sched")
            assert result.phase == pb.DEFAULT_AUCTION_PHASE_CLOSED
            assert [(b.member_id, b.amount) for b in result.bids] == [("MM-2", "12000.00")]
            cancelled = await ops.result(LOT)
            assert cancelled.cancel_reason == "rescheduled"
    finally:
        await again.stop(grace=0)


async def test_bad_input_names_the_field_and_changes_nothing(server: CloseoutServer) -> None:
    from clients.errors import field_violations

    async with ClearingClient(target(server), OPS) as ops:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await ops.run_margin(MARGIN_RUN, MARKET)
        assert info.value.code() is grpc.StatusCode.FAILED_PRECONDITION  # nothing loaded yet
        await open_lot(server)
        bad = pb.ClearingMember(member_id="X", role=pb.MEMBER_ROLE_UNSPECIFIED)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await ops.load([bad], [])
        assert [v.field for v in field_violations(info.value)] == ["members[0].role"]
        broken = pb.RunMarginRequest(run_id="m-2", market=MARKET)
        del broken.market.curve.quotes[:]
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await ops.stub.RunMargin(broken, metadata=ops.metadata)
        assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert [v.field for v in field_violations(info.value)] == ["market.curve.quotes"]
        assert await code_of(ops.convert("Bank-A", MARKET)) is grpc.StatusCode.FAILED_PRECONDITION
        assert await code_of(ops.create_auction(LOT)) is grpc.StatusCode.ALREADY_EXISTS
        assert await code_of(ops.award(LOT)) is grpc.StatusCode.FAILED_PRECONDITION
        assert len(await ops.lots()) == 1


async def test_a_position_without_its_market_is_refused_over_the_api(
    server: CloseoutServer,
) -> None:
    from clients.default_sdk import markets_to_proto
    from clients.errors import field_violations

    two = load_default_scenario(ROOT / "examples" / "default" / "two_currencies.json")
    assert two.markets is not None
    async with ClearingClient(target(server), OPS) as ops:
        await load_state(ops, two)
        only_usd = markets_to_proto({**two.markets, "markets": two.markets["markets"][:1]})
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await ops.run_margin(MARGIN_RUN, only_usd)
        assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        [violation] = field_violations(info.value)
        assert violation.field == "positions[D-EUR-6.5y]"
        assert "no market for EUR/EUR-EURIBOR-6M" in violation.description
        # one market for positions in two currencies is refused, not priced off one curve
        usd_only = market_to_proto(two.markets["markets"][0]["market"])
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await ops.run_margin(MARGIN_RUN, usd_only)
        [violation] = field_violations(info.value)
        assert violation.field == "markets" and "EUR/EUR-EURIBOR-6M" in violation.description
        run = await ops.run_margin(MARGIN_RUN, markets_to_proto(two.markets))
        assert run.run.run_id == MARGIN_RUN
        assert (await ops.margin_run()).rows == run.run.rows


async def test_a_member_reads_its_own_loss_report_only(tmp_path: Path) -> None:
    scenario = load_default_scenario(ROOT / "examples" / "default" / "mutualised_loss.json")
    opened = opened_at(scenario)
    clock = FakeClock(opened)
    srv = await start(tmp_path, clock)
    try:
        await run_default_online(scenario, target(srv), TOKENS, pace=paced(clock, opened))  # type: ignore[arg-type]
        async with ClearingClient(target(srv), TOKENS.members["Bank-E"]) as bank_e:
            mine = await bank_e.loss_allocation("Dealer-D")
        async with ClearingClient(target(srv), OPS) as ops:
            everything = await ops.loss_allocation("Dealer-D")
    finally:
        await srv.stop(grace=0)
    assert [m.member_id for m in mine.members] == ["Bank-E"]
    assert mine.members[0].default_fund_used == "5000.00"
    assert {i.from_account for i in mine.instructions} == {"Bank-E"}
    assert {s.member_id for s in mine.steps} <= {"Bank-E", "CCP", ""}
    assert (mine.net_result, mine.loss) == (everything.net_result, everything.loss)
    assert len(everything.members) > 1 and len(everything.instructions) > len(mine.instructions)
