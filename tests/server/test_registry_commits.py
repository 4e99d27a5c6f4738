"""The registry's group commits: at most ``COMMITS_IN_FLIGHT`` appends handed to the journal
at once, what is applied meanwhile grouped into the next, and nothing acknowledged before the
commit holding it (a real SQLite journal, commands arriving one per loop turn as RPCs do)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from matching.cds.auction import CdsAuction, Decision, Schedule
from matching.cds.params import AuctionParams
from server.cds.registry import (
    COMMITS_IN_FLIGHT,
    SECOND_COMMIT_AT,
    STREAM_PREFIX,
    AuctionRegistry,
)
from server.durability import Durability
from server.journal import Journal, JournalFailed

DEALERS = [f"d{i}" for i in range(4)]


T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _auction(**params: Any) -> Decision:
    """The creation of auction "A" of :data:`DEALERS` at :data:`T0` (``params``: more terms)."""
    terms = AuctionParams.build(
        auction_id="A",
        quotation_amount=2_000_000,
        max_spread="2",
        price_increment="0.125",
        **params,
    )
    return CdsAuction.create(params=terms, panel=DEALERS, schedule=Schedule(), by="t", now=T0)


async def _in_stage1(registry: AuctionRegistry, ticks: Iterator[datetime], **params: Any) -> None:
    """Create :func:`_auction` in ``registry`` and open its stage 1."""
    await registry.create(_auction(**params))
    await registry.execute("A", lambda a: a.open_stage1(by="t", now=next(ticks)))


async def _quote(registry: AuctionRegistry, ticks: Iterator[datetime], i: int) -> int:
    """Dealer ``i % 4`` quotes in stage 1; the acknowledged sequence, checked durable."""
    decision = await registry.execute(
        "A",
        lambda a: a.submit_market(
            dealer=DEALERS[i % 4],
            client_order_id=f"m{i}",
            bid="40",
            offer="41",
            now=next(ticks),
        ),
    )
    assert decision.ack is not None
    assert registry.durable_seq("A") >= decision.ack.seq  # acknowledged only once durable
    return decision.ack.seq


class _Gated:
    """In place of ``journal.submit_many``: each append is the real one, but the registry
    hears of its completion only once that append's gate opens."""

    def __init__(self, journal: Journal) -> None:
        self._submit_many = journal.submit_many
        self.commands: list[int] = []  # commands per append handed to the journal
        self.events: list[int] = []  # events per append
        self.gates: list[asyncio.Event] = []
        self.heard: list[asyncio.Future[int]] = []  # what the registry awaits, per append

    def __call__(self, items: Any) -> asyncio.Future[int]:
        written = self._submit_many(items)
        gate = asyncio.Event()
        self.gates.append(gate)
        self.commands.append(len(items))
        self.events.append(sum(len(events) for _, events in items))

        async def after_gate() -> int:
            seq = await written
            await gate.wait()
            return seq

        self.heard.append(asyncio.ensure_future(after_gate()))
        return self.heard[-1]


async def _turns(n: int = 3) -> None:
    """Let the event loop run ``n`` turns."""
    for _ in range(n):
        await asyncio.sleep(0)


async def test_commands_one_per_turn_share_bounded_group_commits(tmp_path: Path) -> None:
    journal = await Journal.open(tmp_path / "j.sqlite")
    ticks = iter(T0 + timedelta(microseconds=i) for i in range(1, 10**6))
    registry = AuctionRegistry(journal, lambda: next(ticks), Durability())
    outstanding: list[asyncio.Future[Any]] = []
    most = 0
    submit_many = journal.submit_many

    def counting(items: Any) -> asyncio.Future[int]:
        nonlocal most
        future = submit_many(items)
        outstanding.append(future)
        most = max(most, sum(1 for f in outstanding if not f.done()))
        return future

    journal.submit_many = counting  # type: ignore[method-assign]
    try:
        await _in_stage1(registry, ticks)
        commits_before = journal.stats.commits

        quote = functools.partial(_quote, registry, ticks)

        tasks = []
        for i in range(400):
            tasks.append(asyncio.create_task(quote(i)))
            await asyncio.sleep(0)  # one command per loop turn
        seqs = await asyncio.gather(*tasks)
    finally:
        await journal.close()

    assert most <= COMMITS_IN_FLIGHT
    assert sorted(seqs) == list(range(3, 403))
    # Grouped: far fewer commits than commands (each turn would otherwise be its own).
    assert journal.stats.commits - commits_before < 400
    reopened = await Journal.open(tmp_path / "j.sqlite")
    try:
        records = [r for r in reopened.replay() if r.stream == STREAM_PREFIX + "A"]
    finally:
        await reopened.close()
    assert [r.payload["seq"] for r in records] == list(range(1, 403))


async def test_a_cancelled_journal_write_fails_stop_instead_of_holding_the_barrier(
    tmp_path: Path,
) -> None:
    """A write the journal never settles as written or failed must not leave its read-barrier
    ticket outstanding for ever: the barrier refuses (fail stop) instead of waiting."""
    journal = await Journal.open(tmp_path / "j.sqlite")
    durability = Durability()
    registry = AuctionRegistry(journal, lambda: T0, durability)
    submit_many = journal.submit_many

    def cancelled(items: Any) -> asyncio.Future[int]:
        submit_many(items)
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        future.cancel()
        return future

    try:
        journal.submit_many = cancelled  # type: ignore[method-assign]
        created = asyncio.ensure_future(registry.create(_auction()))
        await asyncio.wait([created], timeout=5)
        barrier = durability.barrier()
        assert barrier is not None  # the cancelled write's ticket is still outstanding...
        refused = asyncio.ensure_future(barrier)
        await asyncio.wait([refused], timeout=5)
        # ...and the barrier refuses at once instead of holding every answer for ever.
        assert refused.done()
        assert isinstance(refused.exception(), JournalFailed)
        created.cancel()
    finally:
        journal.submit_many = submit_many  # type: ignore[method-assign]
        await journal.close()


async def test_a_small_group_waits_for_the_writer_and_a_large_one_goes_second(
    tmp_path: Path,
) -> None:
    """While a commit is in flight, commands arriving one per loop turn wait as one group
    until it completes (one commit each carrying everything that arrived meanwhile), unless
    the group reaches ``SECOND_COMMIT_AT`` events (one per quote here): then it goes at once
    as the second commit in flight, and the next group waits again, until no commit is in
    flight (not merely one fewer). Nothing is acknowledged before its commit."""
    journal = await Journal.open(tmp_path / "j.sqlite")
    ticks = iter(T0 + timedelta(microseconds=i) for i in range(1, 10**6))
    registry = AuctionRegistry(journal, lambda: next(ticks), Durability())
    submit_many = journal.submit_many
    gated = _Gated(journal)
    handed, gates, heard = gated.commands, gated.gates, gated.heard
    quote = functools.partial(_quote, registry, ticks)

    try:
        await _in_stage1(registry, ticks)
        journal.submit_many = gated  # type: ignore[method-assign]
        tasks = [asyncio.create_task(quote(0))]
        await _turns()
        assert handed == [1]  # alone: it went at the end of its turn
        small = SECOND_COMMIT_AT - 1
        for i in range(1, small + 1):
            tasks.append(asyncio.create_task(quote(i)))
            await _turns()
        assert handed == [1]  # a small group waits while a commit is in flight
        tasks.append(asyncio.create_task(quote(small + 1)))
        await _turns()
        assert handed == [1, SECOND_COMMIT_AT]  # ...until it is large: the second in flight
        for i in range(small + 2, small + 12):
            tasks.append(asyncio.create_task(quote(i)))
            await _turns()
        assert handed == [1, SECOND_COMMIT_AT]  # never a third in flight
        assert not any(task.done() for task in tasks)  # nothing acknowledged before durable
        gates[0].set()
        await heard[0]  # the first commit is durable and the registry hears it
        await _turns()
        assert tasks[0].done()
        assert not any(task.done() for task in tasks[1:])
        # A commit is still in flight: the small group that waited still waits...
        assert handed == [1, SECOND_COMMIT_AT]
        gates[1].set()
        await heard[1]
        await _turns()
        assert all(task.done() for task in tasks[1 : SECOND_COMMIT_AT + 1])
        # ...until the writer is free: then it goes whole.
        assert handed == [1, SECOND_COMMIT_AT, 10]
        gates[2].set()
        seqs = await asyncio.gather(*tasks)
    finally:
        journal.submit_many = submit_many  # type: ignore[method-assign]
        await journal.close()
    assert sorted(seqs) == list(range(3, 3 + len(tasks)))


async def test_one_bulk_command_of_many_events_goes_second_at_once(tmp_path: Path) -> None:
    """The threshold counts events, not commands: one bulk command (a ``SubmitOrders`` run)
    of ``SECOND_COMMIT_AT`` orders goes to the journal at the end of its turn even while a
    commit is in flight, so bulk streams keep the writer busy."""
    journal = await Journal.open(tmp_path / "j.sqlite")
    ticks = iter(T0 + timedelta(seconds=i) for i in range(1, 10**6))
    registry = AuctionRegistry(journal, lambda: next(ticks), Durability())
    submit_many = journal.submit_many
    gated = _Gated(journal)
    handed = gated.events  # events per append handed to the journal
    try:
        await _in_stage1(registry, ticks, min_limit_order_size="1")
        for dealer in DEALERS:

            def quote(a: CdsAuction, dealer: str = dealer) -> Decision:
                return a.submit_market(
                    dealer=dealer, client_order_id="m", bid="39", offer="41", now=next(ticks)
                )

            await registry.execute("A", quote)
        await registry.execute(
            "A",
            lambda a: a.submit_request(
                dealer="d0", client_order_id="r", side="BUY", size="6000000", now=next(ticks)
            ),
        )
        await registry.execute("A", lambda a: a.close_stage1(by="t", now=next(ticks)))
        await registry.execute("A", lambda a: a.open_stage2(by="t", now=next(ticks)))
        journal.submit_many = gated  # type: ignore[method-assign]
        first = asyncio.ensure_future(
            registry.execute(
                "A",
                lambda a: a.submit_limit_order(
                    dealer="d1",
                    client_order_id="o",
                    side="OFFER",
                    price="40",
                    size="1000000",
                    now=next(ticks),
                ),
            )
        )
        await _turns()
        assert handed == [1]
        orders = [(f"b{i}", "OFFER", "40", "1", None) for i in range(SECOND_COMMIT_AT)]
        decision, durable = registry.begin(
            "A", lambda a: a.submit_limit_orders(dealer="d2", orders=orders, now=next(ticks))
        )
        assert len(decision.events) == SECOND_COMMIT_AT
        await _turns()
        assert handed == [1, SECOND_COMMIT_AT]  # one command, but a large group: at once
        for gate in gated.gates:
            gate.set()
        await first
        await durable
    finally:
        journal.submit_many = submit_many  # type: ignore[method-assign]
        await journal.close()
