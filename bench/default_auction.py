"""``closeout bench default``: a clearing house's default auctions under load, through a server.

One run, in this order:

1. start a Closeout server (``bench.serverproc``, fresh journal) with an operator, ``members``
   clearing members and ``market_makers`` market makers, each its own token; load the
   clearing state (every member holds one or two swaps of the index the defaulter's book is
   in, so most are invited to most lots), declare member ``m000`` in default and convert its
   ``lots`` swaps into one lot each (server-side pricing, the neutralising hedge booked);
2. build a seeded **bid plan** (``bench.bidders``): market makers bid in every lot, each
   clearing member in a share of the lots it is invited to, around its own view of the
   lot's value (where the market sees the lot, b* plus about half a basis point of DV01,
   plus the member's own view, a twentieth of a basis point; half the members bid round
   thousands, so equal best amounts happen and the earlier bid must win); a wave at the
   opening, steady replacements, a burst of last-second replacements just before the close,
   a few bids sent after it (which must be refused) and a few withdrawals;
3. **server**: one window for every lot, opening and closing on the server's clock
   (``open_at``/``close_at``); the load processes play the plan, one channel per member;
   once the scheduled close has passed the operator waits for every auction to be CLOSED
   (polling ``GetDefaultOverview``), awards each lot and settles it at once;
4. **baseline**: the same plan, the same clients, against the empty gRPC handler
   (``bench.baseline``), so latencies and CPU per bid are ratios to what grpc.aio + uvloop +
   the Python client allow on this machine at that moment;
5. **verification (0 lost)**: from the acknowledgements alone, each member's live bid at
   the close per lot (its last acknowledged bid, none after an acknowledged withdrawal) must
   be exactly the bid the server's result lists (id, amount, acceptance time), no other bid
   may be listed, and the award computed independently here from those bids (highest
   amount; equal amounts to the earlier acceptance; equal times drawn with
   ``random.Random(seed)`` over the sorted member ids, the seed the server published) must
   be the server's, as must the settlement (taker, amount) and its instructions.

Reported: bids/s (acknowledged per second of bidding, and the peak second), latency
percentiles of first bids and of replacements against the baseline's, server CPU per bid,
time from the scheduled close to every auction closed, awarded and settled (settlement
instructions made), errors by status code, late bids refused, and the verification.
Benchmarks are not tests: nothing here fails on a slow figure.

May start servers; talks to them only over the wire, on 127.0.0.1, and stops every process
it started. Never imports ``server`` or ``matching`` (the award is recomputed here from the
documented rule, independently of the engine).
"""

from __future__ import annotations

import asyncio
import json
import random
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from bench.bidders import Action, BidderSpec, BidRecord, Pair, play
from bench.procs import ServerProcess
from bench.report import environment, md_table
from bench.serverproc import OPERATOR_TOKEN, market_maker_ids, member_ids, member_token
from server.interceptors import MAX_STREAMS_PER_PARTICIPANT

__all__ = [
    "DefaultBenchConfig",
    "bid_plan",
    "close_stamps",
    "expected_award",
    "latency_summary",
    "markdown",
    "run_default",
    "timeline",
    "verify",
]

ROOT = Path(__file__).resolve().parents[1]
#: The market every position is priced in: the spec's late-2007 USD curve, as in the example.
MARKET_SOURCE = ROOT / "examples" / "default" / "basic.json"
CURRENCY, INDEX = "USD", "USD-LIBOR-3M"
TENORS = (2, 3, 4, 5, 7, 10, 12, 15, 20, 30)
PERCENTILES = (50.0, 90.0, 99.0, 99.9)
#: Status codes that say a call changed nothing (the window was closed, or the input
#: refused); anything else but OK leaves a call's outcome unknown.
REFUSED = ("FAILED_PRECONDITION",)
#: The operator's WatchLot streams open at once when reading the close stamps: well under
#: the server's limit per participant, which counts the operator's other streams too.
STAMP_STREAMS = MAX_STREAMS_PER_PARTICIPANT // 2


@dataclass(frozen=True)
class DefaultBenchConfig:
    """Sizes and pacing of one default-auction run."""

    members: int = 300  # clearing members, the defaulter m000 included
    market_makers: int = 10
    lots: int = 40  # the defaulter's swaps, one lot each, all in one window
    window: float = 30.0  # seconds the bid window is open
    lead: float = 1.5  # seconds from creating the auctions to their scheduled opening
    bid_share: float = 0.5  # share of its invitations a clearing member bids in
    replacements: float = 2.0  # mean replacements per (member, lot) that bids
    snipe_share: float = 0.3  # pairs sending one more replacement just before the close
    snipe_lead: float = 1.0  # seconds before the close the last-second burst is sent
    late_share: float = 0.02  # pairs sending a bid just after the close (to be refused)
    withdraw_share: float = 0.02  # pairs that end by withdrawing their bid
    procs: int = 2  # load processes
    seed: int = 20071212
    baseline: bool = True
    time_cap: float = 300.0

    @classmethod
    def quick(cls) -> DefaultBenchConfig:
        """Under a minute: 120 members, 12 lots, a 10 s window."""
        return cls(members=120, market_makers=5, lots=12, window=10.0, snipe_lead=0.5)

    @classmethod
    def tiny(cls) -> DefaultBenchConfig:
        """For the smoke test: seconds, not figures."""
        return cls(
            members=12,
            market_makers=2,
            lots=3,
            window=3.0,
            lead=1.0,
            bid_share=0.8,
            snipe_lead=0.3,
            late_share=0.1,
            withdraw_share=0.1,
            procs=1,
            time_cap=60.0,
        )


# -- the clearing house ------------------------------------------------------------------


def _market() -> Any:
    from clients.default_sdk import market_to_proto

    raw = json.loads(MARKET_SOURCE.read_text(encoding="utf-8"))
    return market_to_proto(raw["market"])


def _swap(rng: random.Random, side: str, notional_m: int, tenor: int) -> dict[str, Any]:
    seasoned = rng.random() < 0.3
    end_month = "06" if seasoned else "12"
    return {
        "currency": CURRENCY,
        "index": INDEX,
        "side": side,
        "notional": notional_m * 1_000_000,
        "fixed_rate": f"0.0{rng.randint(440, 540)}",
        "start": "2007-12-14",
        "maturity": f"{2007 + tenor - (1 if seasoned else 0)}-{end_month}-14",
    }


def clearing_state(cfg: DefaultBenchConfig) -> tuple[list[Any], list[Any]]:
    """Members (the defaulter ``m000`` first) and their positions, seeded."""
    from clients.default_sdk import cleared_swap, member_to_proto
    from closeout.v1 import clearing_pb2 as pb

    rng = random.Random(cfg.seed)
    members = [
        member_to_proto(m, "CLEARING_MEMBER", i % 2 == 0, "50000000", "5000000")
        for i, m in enumerate(member_ids(cfg.members))
    ]
    members += [
        member_to_proto(m, "MARKET_MAKER", True, "50000000", "5000000")
        for m in market_maker_ids(cfg.market_makers)
    ]
    positions = []
    for i in range(cfg.lots):  # the defaulter's book: alternately payer and receiver
        side = "PAYER" if i % 2 == 0 else "RECEIVER"
        swap = _swap(rng, side, 10 * rng.randint(1, 10), TENORS[i % len(TENORS)])
        positions.append(
            pb.ClearedPosition(
                position_id=f"D-{i:03d}", member_id="m000", terms=cleared_swap(**swap)
            )
        )
    for k, member in enumerate(member_ids(cfg.members)[1:], start=1):
        sides = ["PAYER", "RECEIVER"] if k % 3 == 0 else [("PAYER", "RECEIVER")[k % 2]]
        for j, side in enumerate(sides):
            swap = _swap(rng, side, 5 * rng.randint(1, 20), rng.choice(TENORS))
            positions.append(
                pb.ClearedPosition(
                    position_id=f"P-{member}-{j}", member_id=member, terms=cleared_swap(**swap)
                )
            )
    return members, positions


# -- the bid plan ------------------------------------------------------------------------


def _money(cents: int) -> str:
    return f"{Decimal(cents) / 100:.2f}"


def _cents(text: str) -> int:
    return int(Decimal(text) * 100)


def bid_plan(cfg: DefaultBenchConfig, lots: Sequence[Any]) -> list[Pair]:
    """Who bids what and when, seeded: see the module docstring. ``lots`` are ``Lot``
    messages (auction id = lot id: each lot's first auction)."""
    rng = random.Random(cfg.seed + 1)
    w = cfg.window
    makers = set(market_maker_ids(cfg.market_makers))
    everyone = member_ids(cfg.members) + market_maker_ids(cfg.market_makers)
    round_thousands = {m for m in everyone if rng.random() < 0.5}
    pairs = []
    for lot in lots:
        implied = _cents(lot.terms.implied_bid)
        dv01 = abs(Decimal(lot.terms.dv01 or "0"))  # per basis point
        sigma = max(50_000, int(dv01 * 50))  # half a basis point, in cents
        common = implied + int(rng.gauss(0, sigma))  # where the market sees the lot
        spread = max(30_000, int(dv01 * 5))  # how far members' views differ from it
        for member in lot.eligible:
            if member not in makers and rng.random() >= cfg.bid_share:
                continue
            grid = 100_000 if member in round_thousands else 1_000
            value = common + int(rng.gauss(0, spread))
            n = min(6, int(rng.expovariate(1 / cfg.replacements))) if cfg.replacements else 0
            first = rng.uniform(0, 0.05 * w) if rng.random() < 0.3 else rng.uniform(0, 0.85 * w)
            times = [first, *sorted(rng.uniform(first, 0.95 * w) for _ in range(n))]
            start = value - int(rng.uniform(1, 3) * sigma)
            amounts = [start + (value - start) * k // max(1, n) for k in range(n + 1)]
            actions = [
                Action(t, "bid" if k == 0 else "replace", f"b{k}", _money(round(a / grid) * grid))
                for k, (t, a) in enumerate(zip(times, amounts, strict=True))
            ]
            if rng.random() < cfg.withdraw_share:
                actions.append(Action(rng.uniform(times[-1], 0.97 * w), "withdraw", "w"))
            elif rng.random() < cfg.snipe_share:
                last = value + int(rng.uniform(0, 0.3) * spread)
                actions.append(
                    Action(w - cfg.snipe_lead, "replace", "s", _money(round(last / grid) * grid))
                )
            if rng.random() < cfg.late_share:
                actions.append(Action(w + 0.2, "replace", "late", _money(value + sigma)))
            pairs.append(Pair(member, lot.terms.lot_id, tuple(actions)))
    return pairs


def _specs(cfg: DefaultBenchConfig, target: str, pairs: Sequence[Pair]) -> list[BidderSpec]:
    members = sorted({p.member for p in pairs})
    specs = []
    for n in range(cfg.procs):
        mine = set(members[n :: cfg.procs])
        if mine:
            specs.append(
                BidderSpec(
                    target=target,
                    members=tuple((m, member_token(m)) for m in sorted(mine)),
                    pairs=tuple(p for p in pairs if p.member in mine),
                    time_cap=cfg.time_cap,
                )
            )
    return specs


# -- figures ---------------------------------------------------------------------------


def latency_summary(latencies_us: Sequence[int]) -> dict[str, Any]:
    """Count, p50/p90/p99/p99.9 and max in milliseconds, and the percentile curve."""
    if not latencies_us:
        return {
            "count": 0,
            "p50_ms": None,
            "p90_ms": None,
            "p99_ms": None,
            "p999_ms": None,
            "max_ms": None,
            "curve": [],
        }
    ms = np.asarray(latencies_us, dtype=float) / 1000.0
    out: dict[str, Any] = {"count": int(ms.size)}
    for p in PERCENTILES:
        key = "p999_ms" if p == 99.9 else f"p{int(p)}_ms"
        out[key] = round(float(np.percentile(ms, p)), 3)
    out["max_ms"] = round(float(ms.max()), 3)
    levels = [0.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99, 100.0]
    out["curve"] = [[p, round(float(np.percentile(ms, p)), 3)] for p in levels]
    return out


def timeline(records: Sequence[BidRecord], opening: float, bin_s: float = 0.5) -> list[list[float]]:
    """Acknowledged bids per second over time: ``[[t, per_s], ...]``, ``t`` from the opening
    (the end of each bin)."""
    done = [r[5] + r[6] / 1e6 - opening for r in records if r[7] == "OK" and r[2] != "withdraw"]
    if not done:
        return []
    bins = int(np.ceil(max(done) / bin_s)) + 1
    counts = np.zeros(bins)
    for t in done:
        counts[max(0, int(t // bin_s))] += 1
    return [[round((i + 1) * bin_s, 3), float(c / bin_s)] for i, c in enumerate(counts)]


def _phase_figures(
    records: Sequence[BidRecord], opening: float, cpu_s: float | None
) -> dict[str, Any]:
    acked = [r for r in records if r[7] == "OK" and r[2] != "withdraw"]
    span = max(r[5] + r[6] / 1e6 for r in acked) - min(r[5] for r in acked) if acked else 0.0
    series = timeline(records, opening)
    burst = [r for r in records if r[3] == "s"]
    answered = [r[5] + r[6] / 1e6 for r in burst if r[7] != "TIME_CAP"]
    drain = max(answered) - min(r[5] for r in burst) if answered else 0.0
    return {
        "calls": len(records),
        "acknowledged_bids": len(acked),
        "span_s": round(span, 3),
        "bids_per_s": round(len(acked) / span, 1) if span else 0.0,
        "peak_bids_per_s": max((v for _, v in series), default=0.0),
        "first_bids": latency_summary([r[6] for r in records if r[2] == "bid" and r[7] == "OK"]),
        "replacements": latency_summary(
            [r[6] for r in records if r[2] == "replace" and r[7] == "OK"]
        ),
        "all": latency_summary([r[6] for r in records if r[7] == "OK"]),
        "codes": dict(Counter(r[7] for r in records)),
        "server_cpu_us_per_call": (
            round(cpu_s / len(records) * 1e6, 1) if cpu_s is not None and records else None
        ),
        "timeline": series,
        "burst": {  # the last-second replacements, all sent at the same moment
            "calls": len(burst),
            "acknowledged": sum(1 for r in burst if r[7] == "OK"),
            "refused_late": sum(1 for r in burst if r[7] in REFUSED),
            "drain_s": round(drain, 3),  # from sending to the last answer
            "per_s": round(len(answered) / drain, 1) if drain else 0.0,  # answers per second
            "latency": latency_summary([r[6] for r in burst if r[7] != "TIME_CAP"]),
        },
    }


# -- verification ------------------------------------------------------------------------


def expected_award(
    bids: dict[str, tuple[str, int, tuple[int, int]]], seed: int
) -> tuple[str, int, str] | None:
    """(member, amount in cents, tie break) of the award from the live bids
    ``{member: (client order id, cents, (seconds, nanos) accepted)}``: the highest amount;
    of equal amounts the earlier; of equal times one drawn with ``random.Random(seed)`` over
    the sorted member ids. None without bids (the lot is then assigned)."""
    if not bids:
        return None
    best = max(cents for _, cents, _ in bids.values())
    top = {m: at for m, (_, cents, at) in bids.items() if cents == best}
    earliest = min(top.values())
    first = sorted(m for m, at in top.items() if at == earliest)
    if len(first) > 1:
        return random.Random(seed).choice(first), best, "DRAW"
    return first[0], best, "EARLIER" if len(top) > 1 else "NONE"


def verify(
    records: Sequence[BidRecord],
    results: dict[str, Any],
    settlements: dict[str, Any],
    instructions: Sequence[Any],
) -> dict[str, Any]:
    """Compare the acknowledged bids with the server's results: see the module docstring.

    ``results``: auction id -> ``DefaultAuctionResult`` after settlement; ``settlements``:
    auction id -> ``SettleLotResponse``; ``instructions``: every settlement instruction
    (``GetSettlementInstructions``)."""
    live: dict[str, dict[str, tuple[str, int, tuple[int, int]]]] = {a: {} for a in results}
    unknown: set[tuple[str, str]] = set()
    # Each pair's calls are sequential, so its records are in the order they were made.
    for member, auction, kind, coid, amount, _, _, code, sec, nanos in records:
        if code == "OK":
            if kind == "withdraw":
                live[auction].pop(member, None)
            else:
                live[auction][member] = (coid, _cents(amount), (sec, nanos))
        elif code not in REFUSED:
            unknown.add((member, auction))
    lost = phantom = changed = award_mismatch = settle_mismatch = 0
    lots_without_instructions = 0
    lots_by_id = {i.lot_id for i in instructions}
    problems: list[str] = []
    for auction, result in results.items():
        listed = {
            b.member_id: (
                b.client_order_id,
                _cents(b.amount),
                (b.accepted_at.seconds, b.accepted_at.nanos),
            )
            for b in result.bids
        }
        expected = live[auction]
        for member, bid in expected.items():
            if (member, auction) in unknown:
                continue
            if member not in listed:
                lost += 1
                problems.append(f"{auction}: {member}'s acknowledged bid {bid[0]} is missing")
            elif listed[member] != bid:
                changed += 1
                problems.append(f"{auction}: {member}'s bid {listed[member]} != acked {bid}")
        for member in listed.keys() - expected.keys():
            if (member, auction) not in unknown:
                phantom += 1
                problems.append(f"{auction}: {member} has a bid nobody had acknowledged")
        want = expected_award(expected, result.award.seed)
        got = (result.award.member_id, _cents(result.award.amount))
        method = result.award.method
        from closeout.v1 import clearing_pb2 as pb

        tie = pb.TieBreak.Name(result.award.tie_break).removeprefix("TIE_BREAK_")
        if want is None:
            ok_award = method == pb.AWARD_METHOD_ASSIGNMENT
        else:
            ok_award = method == pb.AWARD_METHOD_AWARD and (*got, tie) == want
        if not ok_award:
            award_mismatch += 1
            problems.append(f"{auction}: award {got} {tie} != expected {want}")
        settled = settlements.get(auction)
        if (
            settled is None
            or (
                settled.settlement.member_id,
                _cents(settled.settlement.amount),
            )
            != got
            or not settled.instructions
        ):
            settle_mismatch += 1
            problems.append(f"{auction}: settlement does not carry out the award {got}")
        if result.lot_id not in lots_by_id:
            lots_without_instructions += 1
    acknowledged = sum(1 for r in records if r[7] == "OK")
    return {
        "acknowledged_calls": acknowledged,
        "live_bids_at_close": sum(len(v) for v in live.values()),
        "lost": lost,
        "changed": changed,
        "phantom": phantom,
        "unknown_outcome_pairs": len(unknown),
        "award_mismatches": award_mismatch,
        "settlement_mismatches": settle_mismatch,
        "lots_without_instructions": lots_without_instructions,
        "ties_broken": sum(1 for r in results.values() if r.award.tie_break not in (0, 1)),
        "ok": not (
            lost
            or changed
            or phantom
            or unknown
            or award_mismatch
            or settle_mismatch
            or lots_without_instructions
        ),
        "problems": problems[:20],
    }


# -- the run -----------------------------------------------------------------------------


@dataclass
class _Close:
    """What happened after the scheduled close, in seconds from it (client clock)."""

    close_at: float = 0.0
    opened: float = 0.0  # from the scheduled opening to every auction seen OPEN
    stamped: float = 0.0  # to the last close the server applied (its own time stamp)
    closed: float = 0.0
    awarded: float = 0.0
    settled: float = 0.0
    results: dict[str, Any] = field(default_factory=dict)
    settlements: dict[str, Any] = field(default_factory=dict)
    instructions: list[Any] = field(default_factory=list)


async def _prepare(cfg: DefaultBenchConfig, target: str) -> tuple[list[Any], dict[str, float]]:
    from clients.default_sdk import ClearingClient

    times: dict[str, float] = {}
    members, positions = clearing_state(cfg)
    market = _market()
    async with ClearingClient(target, OPERATOR_TOKEN, timeout=300) as ops:
        t = time.perf_counter()
        await ops.load(members, positions, house_id="bench-ccp")
        times["load_s"] = time.perf_counter() - t
        t = time.perf_counter()
        await ops.declare_default("m000", reason="bench: declared by the operator")
        times["declare_s"] = time.perf_counter() - t
        t = time.perf_counter()
        response = await ops.convert("m000", market, group_by="position", hedge=True)
        times["convert_s"] = time.perf_counter() - t
    return list(response.lots), {k: round(v, 3) for k, v in times.items()}


async def _server_window(
    cfg: DefaultBenchConfig, server: ServerProcess, lots: Sequence[Any], pairs: Sequence[Pair]
) -> tuple[list[BidRecord], _Close, float, float | None]:
    from clients.default_sdk import ClearingClient
    from closeout.v1 import clearing_pb2 as pb

    loop = asyncio.get_running_loop()
    close = _Close()
    window_set = asyncio.Event()
    cpu: list[float] = []
    auction_ids = [lot.terms.lot_id for lot in lots]
    async with ClearingClient(server.target, OPERATOR_TOKEN, timeout=300) as ops:

        async def wait_for(phase: int, pause: float) -> None:
            """Poll the server until every auction reached ``phase`` (over the wire: no
            local event says so), for at most the run's time cap."""
            deadline = time.monotonic() + cfg.time_cap
            while True:
                overview = await ops.overview()
                if all(s.auction.phase >= phase for s in overview.auctions):
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the auctions never reached phase {phase}")
                await asyncio.sleep(pause)

        async def open_window() -> float:
            open_at = datetime.now(UTC) + timedelta(seconds=cfg.lead)
            close_at = open_at + timedelta(seconds=cfg.window)
            await ops.create_auction(
                "",
                lot_ids=auction_ids,
                grading_threshold="2500",
                open_at=open_at,
                close_at=close_at,
            )
            await wait_for(pb.DEFAULT_AUCTION_PHASE_OPEN, 0.01)
            close.opened = time.time() - open_at.timestamp()
            cpu.append(server.cpu())
            close.close_at = close_at.timestamp()
            window_set.set()
            return open_at.timestamp()

        def opening_at() -> float:
            return asyncio.run_coroutine_threadsafe(open_window(), loop).result()

        playing = asyncio.ensure_future(
            asyncio.to_thread(play, _specs(cfg, server.target, pairs), opening_at)
        )
        waiting = asyncio.ensure_future(window_set.wait())
        await asyncio.wait({playing, waiting}, return_when=asyncio.FIRST_COMPLETED)
        if not window_set.is_set():
            await playing  # raises what went wrong
        await asyncio.sleep(max(0.0, close.close_at - time.time()))
        await wait_for(pb.DEFAULT_AUCTION_PHASE_CLOSED, 0.005)
        close.closed = time.time() - close.close_at
        cpu.append(server.cpu())

        async def award_and_settle(auction_id: str) -> tuple[float, float]:
            await ops.award(auction_id)
            awarded = time.time()
            close.settlements[auction_id] = await ops.settle(auction_id)
            return awarded, time.time()

        done = await asyncio.gather(*(award_and_settle(a) for a in auction_ids))
        close.awarded = max(a for a, _ in done) - close.close_at
        close.settled = max(s for _, s in done) - close.close_at
        records = await playing
        for auction_id in auction_ids:
            close.results[auction_id] = await ops.result(auction_id)
        close.instructions = await ops.instructions()

        stamps = await close_stamps(ops, auction_ids)
        close.stamped = max(stamps) - close.close_at
    opening = close.close_at - cfg.window
    return records, close, opening, cpu[1] - cpu[0] if len(cpu) == 2 else None


async def close_stamps(ops: Any, auction_ids: Sequence[str]) -> list[float]:
    """When the server applied each lot's close (its clock), from the lot's history: one
    ``WatchLot`` stream per lot, at most :data:`STAMP_STREAMS` open at once (the server
    refuses a participant more than ``MAX_STREAMS_PER_PARTICIPANT``; 40 lots at once were
    refused now and then)."""
    from closeout.v1 import clearing_pb2 as pb

    slots = asyncio.Semaphore(STAMP_STREAMS)

    async def close_stamp(auction_id: str) -> float:
        async with slots:
            call = ops.members.WatchLot(
                pb.WatchLotRequest(auction_id=auction_id), metadata=ops.metadata
            )
            try:
                async for event in call:
                    if event.type == "DefaultWindowClosed":
                        return float(event.at.ToDatetime(tzinfo=UTC).timestamp())
            finally:
                call.cancel()
        raise RuntimeError(f"{auction_id} has no DefaultWindowClosed event")

    return list(await asyncio.gather(*(close_stamp(a) for a in auction_ids)))


def _baseline_window(
    cfg: DefaultBenchConfig, baseline: ServerProcess, pairs: Sequence[Pair]
) -> tuple[list[BidRecord], float, float | None]:
    cpu: list[float] = []
    opening: list[float] = []

    def opening_at() -> float:
        cpu.append(baseline.cpu())
        opening.append(time.time() + 0.2)
        return opening[0]

    records = play(_specs(cfg, baseline.target, pairs), opening_at)
    cpu.append(baseline.cpu())
    return records, opening[0], cpu[1] - cpu[0]


def _journal_verify(journal: str) -> dict[str, Any]:
    """``closeout journal verify`` on the server's journal (hash chain, after it stopped)."""
    import subprocess
    import sys

    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from clients.cli import main; main()",
            "journal",
            "verify",
            journal,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    return {"ok": out.returncode == 0, "output": (out.stdout + out.stderr).strip()[-500:]}


def run_default(
    cfg: DefaultBenchConfig, *, log: Callable[[str], None] = lambda _: None
) -> dict[str, Any]:
    """Run the whole default-auction bench; returns the JSON-able result."""
    t_run = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        journal = f"{tmp}/j.sqlite"
        server = ServerProcess(
            "bench.serverproc",
            [
                "--dealers",
                "0",
                "--members",
                str(cfg.members),
                "--market-makers",
                str(cfg.market_makers),
                "--journal",
                journal,
            ],
        )
        baseline: ServerProcess | None = None
        try:
            server.start()
            log(
                f"server on {server.target}: {cfg.members} members, {cfg.market_makers} "
                f"market makers; converting {cfg.lots} lots"
            )
            lots, setup = asyncio.run(_prepare(cfg, server.target))
            pairs = bid_plan(cfg, lots)
            planned = sum(len(p.actions) for p in pairs)
            log(
                f"{len(pairs)} (member, lot) pairs, {planned} calls planned; "
                f"window {cfg.window:g} s"
            )
            records, close, opening, cpu = asyncio.run(_server_window(cfg, server, lots, pairs))
            server_rss = server.rss()
            base_records: list[BidRecord] = []
            if cfg.baseline:
                log("the same plan against the empty baseline")
                baseline = ServerProcess("bench.baseline").start()
                base_records, base_opening, base_cpu = _baseline_window(cfg, baseline, pairs)
        finally:
            for proc in (server, baseline):
                if proc is not None:
                    proc.stop()
        journal_check = _journal_verify(journal)
    check = verify(records, close.results, close.settlements, close.instructions)
    ours = _phase_figures(records, opening, cpu)
    data: dict[str, Any] = {
        "bench": "default",
        "lots": len(lots),
        "members": cfg.members,
        "market_makers": cfg.market_makers,
        "pairs": len(pairs),
        "bidders": len({p.member for p in pairs}),
        "planned_calls": sum(len(p.actions) for p in pairs),
        "setup": setup,
        "server": ours,
        "close": {
            "opened_s": round(close.opened, 3),
            "close_stamped_s": round(close.stamped, 3),
            "closed_s": round(close.closed, 3),
            "awarded_s": round(close.awarded, 3),
            "settled_s": round(close.settled, 3),
            "instructions": len(close.instructions),
        },
        "bids_per_s": ours["bids_per_s"],
        "peak_bids_per_s": ours["peak_bids_per_s"],
        "planned_late": sum(1 for p in pairs for a in p.actions if a.client_order_id == "late"),
        "late_refused": sum(1 for r in records if r[3] == "late" and r[7] in REFUSED),
        # Sent before the scheduled close, yet refused as late: stamped after it by a server
        # still working through the calls queued before the close.
        "refused_sent_before_close": sum(
            1 for r in records if r[7] in REFUSED and r[5] < close.close_at
        ),
        "errors": sum(n for c, n in ours["codes"].items() if c != "OK" and c not in REFUSED),
        "lost": check["lost"],
        "verification": check,
        "journal_verify": journal_check,
        "server_rss_mb": round(server_rss / 2**20, 1),
        "config": asdict(cfg),
        "environment": environment(),
    }
    if cfg.baseline:
        base = _phase_figures(base_records, base_opening, base_cpu)
        data["baseline"] = base
        ratios = {
            f"{k}_{p}": _ratio(ours[k][p], base[k][p])
            for k in ("first_bids", "replacements", "all")
            for p in ("p50_ms", "p99_ms", "p999_ms")
        }
        ratios["peak_bids_per_s"] = _ratio(ours["peak_bids_per_s"], base["peak_bids_per_s"])
        ratios["burst_per_s"] = _ratio(ours["burst"]["per_s"], base["burst"]["per_s"])
        ratios["server_cpu_per_call"] = _ratio(
            ours["server_cpu_us_per_call"], base["server_cpu_us_per_call"]
        )
        data["ratios"] = ratios
    data["run_s"] = round(time.perf_counter() - t_run, 1)
    return data


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def markdown(data: dict[str, Any]) -> str:
    """The Markdown report of a default-auction run."""
    env, cfg, s, c = data["environment"], data["config"], data["server"], data["close"]
    base = data.get("baseline")
    rows = []
    for key, label in (
        ("first_bids", "first bids"),
        ("replacements", "replacements"),
        ("all", "all calls"),
    ):
        for who, figures in (("server", s), ("baseline", base)):
            if figures is None:
                continue
            f = figures[key]
            rows.append(
                [label, who, f"{f['count']:,}"]
                + [
                    f"{f[k]:.2f}" if f[k] is not None else "-"
                    for k in ("p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms")
                ]
            )
    v = data["verification"]
    chain = "verified" if data["journal_verify"]["ok"] else "NOT verified"
    text = [
        "# Default auctions under load",
        "",
        f"{env['when']}, {env['cpu']} ({env['cores']} cores), Python {env['python']}, grpcio "
        f"{env['grpcio']}. {data['members']} clearing members and {data['market_makers']} "
        f"market makers; {data['lots']} lots in one window of {cfg['window']:g} s opening and "
        f"closing on the server's clock; {data['bidders']} members bid in {data['pairs']:,} "
        f"(member, lot) pairs, {data['planned_calls']:,} calls planned, from {cfg['procs']} "
        "load processes, one channel per member. Setup: load "
        f"{data['setup']['load_s']} s, default {data['setup']['declare_s']} s, conversion "
        f"{data['setup']['convert_s']} s. Every auction was seen OPEN "
        f"{c['opened_s']:.3f} s after the scheduled opening (bids start then).",
        "",
        md_table(
            ["", "against", "calls", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms"], rows
        ),
        "",
        md_table(
            ["", "server", "baseline", "ratio"],
            [
                [
                    "acknowledged bids",
                    f"{s['acknowledged_bids']:,}",
                    f"{base['acknowledged_bids']:,}" if base else "-",
                    "",
                ],
                [
                    "bids/s over the bidding",
                    f"{s['bids_per_s']:,.0f}",
                    f"{base['bids_per_s']:,.0f}" if base else "-",
                    "",
                ],
                [
                    "peak bids/s (0.5 s bins)",
                    f"{s['peak_bids_per_s']:,.0f}",
                    f"{base['peak_bids_per_s']:,.0f}" if base else "-",
                    data.get("ratios", {}).get("peak_bids_per_s", "-"),
                ],
                [
                    f"last-second burst: {s['burst']['calls']:,} replacements sent at once "
                    f"{cfg['snipe_lead']:g} s before the close, answered per s",
                    f"{s['burst']['per_s']:,.0f} (p99 {s['burst']['latency']['p99_ms']} ms)",
                    f"{base['burst']['per_s']:,.0f} (p99 {base['burst']['latency']['p99_ms']} ms)"
                    if base
                    else "-",
                    data.get("ratios", {}).get("burst_per_s", "-"),
                ],
                [
                    "server CPU µs per call",
                    s["server_cpu_us_per_call"],
                    base["server_cpu_us_per_call"] if base else "-",
                    data.get("ratios", {}).get("server_cpu_per_call", "-"),
                ],
            ],
        ),
        "",
        f"After the scheduled close: the server applied the last close (its time stamp) after "
        f"{c['close_stamped_s']:.3f} s, every auction was seen CLOSED after "
        f"**{c['closed_s']:.3f} s**, "
        f"every lot awarded after **{c['awarded_s']:.3f} s**, every lot settled (its "
        f"settlement instructions made; {c['instructions']} in all) after "
        f"**{c['settled_s']:.3f} s**.",
        "",
        f"Sent before the scheduled close but refused as late (the server stamped them after "
        f"it): **{data['refused_sent_before_close']:,}**, of which "
        f"{s['burst']['refused_late']:,} of the {s['burst']['calls']:,} last-second "
        "replacements.",
        "",
        f"Verification: **{v['lost']} lost** of {v['acknowledged_calls']:,} acknowledged calls; "
        f"{v['live_bids_at_close']:,} live bids at the close, {v['changed']} changed, "
        f"{v['phantom']} phantom, {v['unknown_outcome_pairs']} of unknown outcome; awards "
        f"recomputed from the acknowledgements: {v['award_mismatches']} mismatches "
        f"({v['ties_broken']} ties broken); settlements: {v['settlement_mismatches']} "
        f"mismatches; journal hash chain: {chain}. "
        f"Late bids refused: {data['late_refused']}; errors: {data['errors']} "
        f"(status codes: {s['codes']}).",
    ]
    if v["problems"]:
        text += ["", "Problems:", ""] + [f"- {p}" for p in v["problems"]]
    return "\n".join(text)
