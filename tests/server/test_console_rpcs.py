"""The read RPCs a console needs, through a real in-process server: GetCaller says who a token
is; ListSubmitters and GetDefaultOverview say who has submitted or bid during a sealed window,
never a price, size or amount, and only to operators and observers."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import grpc
import grpc.aio

from clients.default_online import MARGIN_RUN
from clients.default_sdk import ClearingClient, MemberClient
from clients.sdk import DealerClient, OperatorClient
from closeout.v1 import admin_pb2
from closeout.v1 import auction_pb2 as apb
from server.app import CloseoutServer
from server.clock import FakeClock
from tests.server import test_cds_api as cds
from tests.server import test_default_api as dflt
from tests.server.test_cds_api import OPS, PID, TOKEN, WATCHER, code_of, params, target

server = cds.server  # the CDS tests' fixtures: a scenarios.toml server on a fake clock
clock = cds.clock


async def test_get_caller_names_the_token_holder_and_role(server: CloseoutServer) -> None:
    cases = {
        OPS: ("ops", admin_pb2.PARTICIPANT_ROLE_OPERATOR),
        WATCHER: ("watcher", admin_pb2.PARTICIPANT_ROLE_OBSERVER),
        TOKEN["a"]: (PID["a"], admin_pb2.PARTICIPANT_ROLE_DEALER),
    }
    for token, (pid, role) in cases.items():
        async with OperatorClient(target(server), token) as client:
            me = await client.caller()
            assert (me.participant_id, me.role) == (pid, role)
    async with OperatorClient(target(server), "not-a-token") as stranger:
        assert await code_of(stranger.caller()) is grpc.StatusCode.UNAUTHENTICATED


async def test_submitters_show_who_not_what_and_only_to_operators_and_observers(
    server: CloseoutServer,
) -> None:
    panel = [PID[d] for d in ("a", "b", "c")]
    async with OperatorClient(target(server), OPS) as ops:
        await ops.create_auction(params(), panel)
        await ops.open_window("t-1")
    async with DealerClient(target(server), TOKEN["a"]) as a:
        await a.submit_market("t-1", "m-1", bid="37.125", offer="38.875")
        await a.submit_settlement_request("t-1", "p-1", side="SELL", size=7_000_000)
        await a.submit_settlement_request("t-1", "p-2", side="SELL", size=3_000_000, customer="c1")
    async with DealerClient(target(server), TOKEN["b"]) as b:
        await b.submit_settlement_request("t-1", "p-1", side="BUY", size=1_000_000)
    for token in (OPS, WATCHER):
        async with OperatorClient(target(server), token) as reader:
            seen = await reader.submitters("t-1")
        assert seen.phase == apb.PHASE_STAGE1_OPEN
        rows = [
            (s.dealer, s.market, s.settlement_requests, s.limit_orders) for s in seen.submitters
        ]
        assert rows == [(PID["a"], True, 2, 0), (PID["b"], False, 1, 0), (PID["c"], False, 0, 0)]
        text = str(seen)
        for secret in ("37.125", "38.875", "7000000", "c1"):
            assert secret not in text
    async with OperatorClient(target(server), TOKEN["a"]) as dealer:
        assert await code_of(dealer.submitters("t-1")) is grpc.StatusCode.PERMISSION_DENIED
    async with OperatorClient(target(server), OPS) as ops:
        assert await code_of(ops.submitters("nope")) is grpc.StatusCode.NOT_FOUND


async def test_default_overview_names_bidders_never_amounts(tmp_path: Path) -> None:
    srv = await dflt.start(tmp_path, FakeClock(datetime.fromisoformat("2007-12-12T10:00:00+00:00")))
    try:
        await dflt.open_lot(srv)
        async with MemberClient(dflt.target(srv), dflt.TOKENS.members["MM-1"]) as mm1:
            await mm1.submit_bid(dflt.LOT, "b-1", "12199.99")
        for token in (dflt.OPS, dflt.WATCHER):
            async with ClearingClient(dflt.target(srv), token) as reader:
                overview = await reader.overview()
            assert overview.latest_margin_run.run_id == MARGIN_RUN
            short = [r.member_id for r in overview.latest_margin_run.rows if r.shortfall != "0.00"]
            assert short == ["Dealer-D"]
            assert [d.member_id for d in overview.defaults] == ["Dealer-D"]
            [status] = overview.auctions
            assert status.auction.auction_id == dflt.LOT and list(status.bidders) == ["MM-1"]
            assert "12199.99" not in str(overview)
        async with ClearingClient(dflt.target(srv), dflt.TOKENS.members["MM-1"]) as member:
            assert await code_of(member.overview()) is grpc.StatusCode.PERMISSION_DENIED
    finally:
        await srv.stop(grace=0)
