"""No side channel in a sealed window, differentially: everything dealer A (or member A) is
shown (every answer, refusal text and watch message) is the same whether another dealer
(member) B submitted, replaced and cancelled 0 or 3 extra times during the window.

Three windows: a CDS stage 1 (B replaces its initial market), a CDS stage 2 (B places and
cancels limit orders) and a default lot's bid window (B replaces its bid). B's final state is
the same in both runs, so only B's *activity* differs, and A must not be able to count it.
The server's clock is fixed (FakeClock), so acceptance times are equal across runs too.
"""

from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path

import grpc
import grpc.aio
import pytest

from clients.default_sdk import ClearingClient, MemberClient
from clients.sdk import DealerClient, OperatorClient
from server.app import CloseoutServer
from server.clock import FakeClock
from tests.server import test_cds_api as cds
from tests.server import test_default_api as dflt

Transcript = list[str]


async def shown(transcript: Transcript, what: str, call: Awaitable[object]) -> None:
    """Record what the caller is shown: the answer, or the refusal's status and text."""
    try:
        answer = await call
    except grpc.aio.AioRpcError as exc:
        transcript.append(f"{what} -> {exc.code().name}: {exc.details()}")
        return
    transcript.append(f"{what} -> {answer}")


async def cds_view(a: DealerClient, a_ops: OperatorClient, out: Transcript, when: str) -> None:
    """Everything dealer A can read about the auction at this point."""
    await shown(out, f"{when} GetAuction", a.auction("t-1"))
    await shown(out, f"{when} ListAuctions", a_ops.list_auctions())
    await shown(out, f"{when} ListMySubmissions", a.my_submissions("t-1"))
    await shown(out, f"{when} results", a_ops.results("t-1"))
    await shown(out, f"{when} watch too far", _first(a.watch("t-1", after_sequence=10**6)))
    await shown(
        out,
        f"{when} refused order",
        a.submit_limit_order("t-1", "late", side="BID", price="1000", size=1),
    )


async def _first(stream: object) -> object:
    async for message in stream:  # type: ignore[attr-defined]
        return message
    return None


async def cds_transcript(tmp_path: Path, extra: int) -> Transcript:
    """Dealer A's view of a two-stage auction in which B is active ``extra`` more times."""
    server = CloseoutServer(cds.config(tmp_path), clock=FakeClock())
    await server.start()
    out: Transcript = []
    where = cds.target(server)
    try:
        async with (
            OperatorClient(where, cds.OPS) as ops,
            DealerClient(where, cds.TOKEN[cds.A]) as a,
            OperatorClient(where, cds.TOKEN[cds.A]) as a_ops,  # A's token on the read RPCs
            DealerClient(where, cds.TOKEN[cds.B]) as b,
            DealerClient(where, cds.TOKEN[cds.C]) as c,
            DealerClient(where, cds.TOKEN[cds.D]) as d,
        ):
            await ops.create_auction(
                cds.params(), [cds.PID[x] for x in (cds.A, cds.B, cds.C, cds.D)]
            )
            await ops.open_window("t-1")
            # -- stage 1: B replaces its initial market ``extra`` times ----------------------
            await shown(out, "A market", a.submit_market("t-1", "m", bid="39.5", offer="40.5"))
            await c.submit_market("t-1", "m", bid="39.5", offer="40.5")
            await d.submit_market("t-1", "m", bid="39.5", offer="40.5")
            await cds_view(a, a_ops, out, "stage 1 before B")
            for n in range(extra):
                await b.submit_market("t-1", f"draft-{n}", bid="39", offer="41")
            await b.submit_market("t-1", "m", bid="39.5", offer="40.5")
            await cds_view(a, a_ops, out, "stage 1 after B")
            await shown(
                out,
                "A request",
                a.submit_settlement_request("t-1", "p", side="SELL", size=10_000_000),
            )
            await shown(
                out, "A market again", a.submit_market("t-1", "m2", bid="39.5", offer="40.5")
            )
            await cds_view(a, a_ops, out, "stage 1 end")
            await ops.close_window("t-1")
            await cds_view(a, a_ops, out, "stage 1 closed")
            await ops.open_window("t-1")
            # -- stage 2: B places and cancels ``extra`` limit orders ------------------------
            await shown(
                out, "A order", a.submit_limit_order("t-1", "o1", side="BID", price="40", size=1)
            )
            for n in range(extra):
                await b.submit_limit_order("t-1", f"x-{n}", side="BID", price="41", size=5)
                await b.cancel_limit_order("t-1", f"c-{n}", f"x-{n}")
            await cds_view(a, a_ops, out, "stage 2 after B")
            await shown(
                out,
                "A order 2",
                a.submit_limit_order("t-1", "o2", side="BID", price="40.25", size=2),
            )
            await shown(
                out, "A replace", a.replace_limit_order("t-1", "o3", "o2", price="40.5", size=2)
            )
            await cds_view(a, a_ops, out, "stage 2 end")
            await ops.close_window("t-1")
            await cds_view(a, a_ops, out, "final")
            out.extend(str(m) for m in [m async for m in a.watch("t-1")])
            async for message in a.watch("t-1", after_sequence=2):
                out.append(f"resumed {message}")
    finally:
        await server.stop(grace=0)
    return out


async def test_a_dealer_cannot_count_others_activity_in_either_cds_stage(tmp_path: Path) -> None:
    quiet = await cds_transcript(tmp_path / "quiet", 0)
    busy = await cds_transcript(tmp_path / "busy", 3)
    assert len(quiet) == len(busy)
    for q, b in zip(quiet, busy, strict=True):
        assert q == b


async def lot_view(a: MemberClient, out: Transcript, when: str) -> None:
    """Everything member A can read about its lot at this point."""
    await shown(out, f"{when} GetLot", a.lot(dflt.LOT))
    await shown(out, f"{when} GetMyBid", a.my_bid(dflt.LOT))
    await shown(out, f"{when} invitations", a.invitations())
    await shown(out, f"{when} watch too far", _first(a.watch(dflt.LOT, after_sequence=10**6)))


async def lot_transcript(tmp_path: Path, extra: int) -> Transcript:
    """Member A's view of a lot's window in which member B replaces its bid ``extra`` times."""
    server = await dflt.start(tmp_path, FakeClock(dflt.opened_at(dflt.BASIC)))
    out: Transcript = []
    where = dflt.target(server)
    try:
        await dflt.open_lot(server)
        async with (
            MemberClient(where, dflt.TOKENS.members["MM-1"]) as a,
            MemberClient(where, dflt.TOKENS.members["MM-2"]) as b,
            ClearingClient(where, dflt.OPS) as ops,
        ):
            await shown(out, "A bid", a.submit_bid(dflt.LOT, "a-1", "12000"))
            await lot_view(a, out, "before B")
            for n in range(extra):
                await b.submit_bid(dflt.LOT, f"draft-{n}", f"{9000 + n}")
            await b.submit_bid(dflt.LOT, "b-final", "11000")
            await lot_view(a, out, "after B")
            await shown(out, "A bid 2", a.submit_bid(dflt.LOT, "a-2", "12500"))
            await shown(out, "A withdraw", a.withdraw_bid(dflt.LOT, "a-3"))
            await shown(out, "A bid 3", a.submit_bid(dflt.LOT, "a-4", "13000"))
            await lot_view(a, out, "window end")
            await ops.close_window(dflt.LOT)
            await ops.award(dflt.LOT)
            await ops.settle(dflt.LOT)
            await lot_view(a, out, "settled")
            out.extend(str(m) for m in [m async for m in a.watch(dflt.LOT)])
            async for message in a.watch(dflt.LOT, after_sequence=2):
                out.append(f"resumed {message}")
    finally:
        await server.stop(grace=0)
    return out


async def test_a_member_cannot_count_others_bids_in_a_lot_window(tmp_path: Path) -> None:
    quiet = await lot_transcript(tmp_path / "quiet", 0)
    busy = await lot_transcript(tmp_path / "busy", 3)
    assert len(quiet) == len(busy)
    for q, b in zip(quiet, busy, strict=True):
        assert q == b


@pytest.mark.parametrize("extra", [0, 3])
async def test_the_watch_stream_a_dealer_sees_has_no_gaps(tmp_path: Path, extra: int) -> None:
    """Numbers run 1, 2, 3, ... in the caller's own stream, and its acks are among them."""
    transcript = await cds_transcript(tmp_path, extra)
    numbers = [
        int(line.split("sequence: ")[1].split("\n")[0])
        for line in transcript
        if line.startswith("sequence: ")
    ]
    assert numbers == list(range(1, len(numbers) + 1))
