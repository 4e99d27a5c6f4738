"""Crash test: SIGKILL ``closeout serve`` while members bid in a default auction's window,
restart it on the same journal, and check that every acknowledged bid is in the journal
exactly once with the sequence it was acknowledged with, that each member's live bid is its
last acknowledged one (or a later one whose commit landed before the kill), that retries are
idempotent, that the auction completes and settles, and that the journal verifies and replays
to the same result."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import grpc
import grpc.aio
import pytest

from clients.default_online import MARGIN_RUN, load_state, load_tokens
from clients.default_scenario import load_default_scenario
from clients.default_sdk import (
    ClearingClient,
    MemberClient,
    market_to_proto,
)
from matching.default import events as aev
from matching.default.auction import DefaultAuction
from server.default.registry import AUCTION_PREFIX, owner_of
from server.journal import Journal, verify
from server.sequences import ViewNumbers
from tests.server.processes import PATIENCE
from tests.server.processes import serve as serve_process

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "examples" / "server" / "default.toml"
TOKENS = load_tokens(ROOT / "examples" / "server" / "default-tokens.toml")
SCENARIO = load_default_scenario(ROOT / "examples" / "default" / "basic.json")
BIDDERS = ("Bank-A", "Bank-B", "Bank-E", "MM-1", "MM-2")
LOT = "Dealer-D-1"
BIDS_PER_MEMBER = 60
KILL_AFTER_ACKS = 120


def serve(journal: Path) -> AbstractAsyncContextManager[tuple[asyncio.subprocess.Process, str]]:
    """This test's server configuration on ``journal``."""
    return serve_process(CONFIG, journal)


def bid(member: str, i: int) -> tuple[str, str]:
    """The i-th bid of a member: (client order id, amount), all amounts distinct."""
    return f"{member}-b{i}", f"{11000 + 10 * i}.{BIDDERS.index(member):02d}"


async def open_window(target: str) -> None:
    """basic.json's members and positions, margin run, default, conversion, open window."""
    market = market_to_proto(SCENARIO.market or {})
    async with ClearingClient(target, TOKENS.operator_token) as ops:
        await load_state(ops, SCENARIO)
        await ops.run_margin(MARGIN_RUN, market)
        await ops.declare_default("Dealer-D", market=market)
        await ops.convert("Dealer-D", market)
        await ops.create_auction(LOT, grading_threshold="2500")
        await ops.open_window(LOT)


async def bid_all(
    target: str, member: str, acked: dict[str, list[tuple[int, str, int]]], enough: asyncio.Event
) -> None:
    """Submit every bid of ``member`` (each replacing the last), recording the acks."""
    async with MemberClient(target, TOKENS.members[member]) as client:
        for i in range(BIDS_PER_MEMBER):
            coid, amount = bid(member, i)
            try:
                ack = await client.submit_bid(LOT, coid, amount)
            except grpc.aio.AioRpcError:
                return  # the server died under us
            acked[member].append((i, coid, ack.sequence))
            if sum(len(v) for v in acked.values()) >= KILL_AFTER_ACKS:
                enough.set()


@pytest.mark.slow
async def test_sigkill_mid_window_loses_no_acknowledged_bid(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite"
    acked: dict[str, list[tuple[int, str, int]]] = {m: [] for m in BIDDERS}
    async with serve(journal) as (proc, target):
        await open_window(target)
        enough = asyncio.Event()
        tasks = [asyncio.create_task(bid_all(target, m, acked, enough)) for m in BIDDERS]
        await asyncio.wait_for(enough.wait(), PATIENCE)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        await asyncio.gather(*tasks)
    acked_at_kill = sum(len(v) for v in acked.values())
    assert 0 < acked_at_kill < len(BIDDERS) * BIDS_PER_MEMBER, "the kill must land mid-window"

    # Every acknowledged bid is in the journal, once, with the sequence it was acked with.
    reopened = await Journal.open(journal)
    try:
        events = [
            aev.event_from_dict(r.payload)
            for r in reopened.replay()
            if r.stream == AUCTION_PREFIX + LOT
        ]
    finally:
        await reopened.close()
    # Acks carry the member's own numbering (public events and its own bids): renumber.
    numbers = ViewNumbers()
    for event in events:
        numbers.add(event.seq, owner_of(event))
    seen = Counter(
        (e.member, e.client_order_id, numbers.position(e.member, e.seq))
        for e in events
        if isinstance(e, aev.BidSubmitted)
    )
    missing = [coid for m in BIDDERS for _, coid, seq in acked[m] if seen[(m, coid, seq)] != 1]
    assert missing == [], f"acknowledged but lost: {missing}"
    present = sum(1 for m in BIDDERS for _, coid, seq in acked[m] if seen[(m, coid, seq)] == 1)

    async with serve(journal) as (_, target):
        for member in BIDDERS:
            async with MemberClient(target, TOKENS.members[member]) as client:
                live = await client.my_bid(LOT)
                if acked[member]:
                    last_index = acked[member][-1][0]
                    assert live is not None
                    live_index = int(live.client_order_id.rsplit("-b", 1)[1])
                    assert live_index >= last_index  # a later bid may have committed unacked
                # Retrying every acknowledged bid gives back the original acknowledgement.
                for i, coid, seq in acked[member]:
                    ack = await client.submit_bid(LOT, coid, bid(member, i)[1])
                    assert ack.sequence == seq
        print(  # the figures the closing note quotes (pytest -s)
            f"\ndefault crash test: {acked_at_kill} bids acknowledged before SIGKILL, "
            f"{present} present after restart, {len(missing)} lost"
        )
        async with MemberClient(target, TOKENS.members["MM-1"]) as mm1:
            await mm1.submit_bid(LOT, "final", "13000")
        async with ClearingClient(target, TOKENS.operator_token) as ops:
            await ops.close_window(LOT)
            awarded = await ops.award(LOT)
            assert (awarded.result.award.member_id, awarded.result.award.amount) == (
                "MM-1",
                "13000.00",
            )
            settled = await ops.settle(LOT)
            assert settled.settlement.shortfall == "-662.33"  # a surplus the CCP keeps
            ledger = {a.account: a for a in (await ops.ledger()).accounts}
            assert (ledger["MM-1"].cash, ledger["CCP"].cash) == ("-13000.00", "13000.00")
            result = await ops.result(LOT)

    report = verify(journal)
    assert report.ok, report.problem
    reopened = await Journal.open(journal)
    try:
        events = [
            aev.event_from_dict(r.payload)
            for r in reopened.replay()
            if r.stream == AUCTION_PREFIX + LOT
        ]
    finally:
        await reopened.close()
    replayed = DefaultAuction.from_events(events).result()
    assert replayed["award"]["seed"] == result.award.seed
    assert [(b["member"], b["amount"]) for b in replayed["bids"]] == [
        (b.member_id, b.amount) for b in result.bids
    ]
