"""No side channels in sealed windows: a dealer off the panel (or a member not invited) gets
word for word the refusal of an auction that does not exist; while dealers submit in a sealed
window, what other dealers and observers are shown of the auction (GetAuction, ListAuctions)
does not move."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest

from clients.default_sdk import MemberClient
from clients.sdk import DealerClient, OperatorClient
from server.app import CloseoutServer
from server.clock import FakeClock
from tests.server import test_cds_api as cds
from tests.server import test_default_api as dflt


async def refusal(awaitable: object) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await awaitable  # type: ignore[misc]
    return info.value.code(), (info.value.details() or "").replace("nope", "ID")


async def test_off_panel_dealer_cannot_tell_real_auctions_from_unknown(
    cds_server: CloseoutServer,
) -> None:
    await cds.stage1(cds_server)
    async with DealerClient(cds.target(cds_server), cds.OUTSIDER) as outsider:
        calls: list[Any] = [
            lambda i: outsider.submit_market(i, "x", bid="40", offer="41"),
            lambda i: outsider.submit_settlement_request(i, "p", side="SELL", size=1),
            lambda i: outsider.submit_limit_order(i, "o", side="BID", price="40", size=1),
            lambda i: outsider.cancel_limit_order(i, "c", "o"),
            outsider.my_submissions,
            outsider.auction,
        ]
        for call in calls:
            real = await refusal(call("t-1"))
            unknown = await refusal(call("nope"))
            assert real[0] is grpc.StatusCode.NOT_FOUND
            assert real == (unknown[0], unknown[1].replace("ID", "t-1")), (real, unknown)


async def test_off_panel_dealer_reads_no_public_result_before_anything_is_published(
    cds_server: CloseoutServer,
) -> None:
    """GetPublicResults is open to every caller, but before stage 1 closes nothing is
    published: a dealer off the panel gets the refusal of an unknown auction, word for word
    (not the auction's currency and phase); once stage 1 closes, its results are public."""
    await cds.stage1(cds_server)
    where = cds.target(cds_server)
    async with OperatorClient(where, cds.OUTSIDER) as outsider:
        real = await refusal(outsider.public_results("t-1"))
        unknown = await refusal(outsider.public_results("nope"))
        assert real[0] is grpc.StatusCode.NOT_FOUND
        assert real == (unknown[0], unknown[1].replace("ID", "t-1")), (real, unknown)
        async with OperatorClient(where, cds.OPS) as ops:
            await ops.close_window("t-1")
        [published] = await outsider.public_results("t-1")
        assert published.auction_id == "t-1"


async def test_uninvited_member_cannot_tell_real_lots_from_unknown(tmp_path: Path) -> None:
    server = await dflt.start(tmp_path, FakeClock(dflt.opened_at(dflt.BASIC)))
    try:
        await dflt.open_lot(server)
        async with MemberClient(dflt.target(server), dflt.TOKENS.members["Bank-C"]) as bank_c:
            for call in (
                lambda i: bank_c.submit_bid(i, "c-1", "12000"),
                bank_c.lot,
                bank_c.my_bid,
                lambda i: bank_c.withdraw_bid(i, "c-2"),
            ):
                real = await refusal(call(dflt.LOT))
                unknown = await refusal(call("nope"))
                assert real[0] is grpc.StatusCode.NOT_FOUND
                assert real == (unknown[0], unknown[1].replace("ID", dflt.LOT))
    finally:
        await server.stop(grace=0)


async def test_others_submissions_do_not_move_what_a_dealer_or_observer_is_shown(
    cds_server: CloseoutServer,
) -> None:
    await cds.stage1(cds_server)
    where = cds.target(cds_server)
    async with (
        DealerClient(where, cds.TOKEN[cds.A]) as a,
        DealerClient(where, cds.TOKEN[cds.B]) as b,
        OperatorClient(where, cds.WATCHER) as observer,
        OperatorClient(where, cds.OPS) as ops,
    ):
        seen_by_a = (await a.auction("t-1")).last_sequence
        seen_by_observer = [x.last_sequence for x in await observer.list_auctions()]
        operator_before = (await ops.list_auctions())[0].last_sequence
        for n in range(3):  # B replaces its market three times
            await b.submit_market("t-1", f"m-{n}", bid="39", offer="40.5")
        assert (await a.auction("t-1")).last_sequence == seen_by_a
        assert [x.last_sequence for x in await observer.list_auctions()] == seen_by_observer
        # The operator sees every event.
        assert (await ops.list_auctions())[0].last_sequence == operator_before + 3
        # A public event (the close) moves it for everyone.
        await ops.close_window("t-1")
        assert (await a.auction("t-1")).last_sequence > seen_by_a
