"""``closeout bench default`` at a tiny size, and its verification against forged results.

The smoke run starts a real server and the empty baseline, plays a bid plan through them and
checks the report's structure and that nothing acknowledged was lost (never a time). The
verification is also fed results that lost, changed or invented a bid, or a wrong award,
and must say so.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from bench.default_auction import (
    STAMP_STREAMS,
    DefaultBenchConfig,
    close_stamps,
    expected_award,
    latency_summary,
    markdown,
    run_default,
    timeline,
    verify,
)
from bench.plots import plot_default
from closeout.v1 import clearing_pb2 as pb
from server.interceptors import MAX_STREAMS_PER_PARTICIPANT

PNG = b"\x89PNG\r\n\x1a\n"


def test_default_bench_tiny_loses_nothing_and_reports(tmp_path: Path) -> None:
    cfg = DefaultBenchConfig.tiny()
    data = run_default(cfg)
    v = data["verification"]
    assert v["ok"] is True, v["problems"]
    assert (data["lost"], v["changed"], v["phantom"], v["award_mismatches"]) == (0, 0, 0, 0)
    assert v["settlement_mismatches"] == 0 and v["lots_without_instructions"] == 0
    assert data["errors"] == 0
    assert data["journal_verify"]["ok"] is True
    assert data["lots"] == cfg.lots
    assert data["close"]["instructions"] > 0
    server = data["server"]
    assert server["acknowledged_bids"] > 0
    assert server["codes"].get("OK", 0) == v["acknowledged_calls"]
    # Every planned call was made, against the server and against the baseline.
    assert server["calls"] == data["planned_calls"] == data["baseline"]["calls"]
    # Bids sent after the close were refused by the server, never acknowledged; others may
    # be refused too when the server stamps them after the close (a loaded machine).
    assert data["late_refused"] == data["planned_late"] > 0
    refused = server["codes"].get("FAILED_PRECONDITION", 0)
    assert refused >= data["late_refused"] + data["refused_sent_before_close"]
    for figures in (server, data["baseline"]):
        for key in ("first_bids", "replacements", "all"):
            summary = figures[key]
            assert set(summary) >= {"count", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms"}
            if summary["count"]:
                assert summary["p50_ms"] <= summary["p99_ms"] <= summary["max_ms"]
        assert figures["timeline"]
    assert set(data["ratios"]) >= {"all_p99_ms", "peak_bids_per_s", "server_cpu_per_call"}
    text = markdown(data)
    assert "**0 lost**" in text and "p99.9 ms" in text
    png = plot_default(data, tmp_path / "default.png")
    assert png is not None and png.read_bytes()[:8] == PNG


def _bid(member: str, coid: str, amount: str, at: tuple[int, int]) -> pb.Bid:
    bid = pb.Bid(member_id=member, client_order_id=coid, amount=amount)
    bid.accepted_at.seconds, bid.accepted_at.nanos = at
    return bid


def _record(
    member: str, kind: str, coid: str, amount: str, code: str, at: tuple[int, int]
) -> tuple[str, str, str, str, str, float, int, str, int, int]:
    return (member, "L-1", kind, coid, amount, 0.0, 100, code, *at)


def _forged(
    bids: list[pb.Bid], winner: str, amount: str, tie: pb.TieBreak.ValueType = pb.TIE_BREAK_NONE
) -> tuple[dict[str, pb.DefaultAuctionResult], dict[str, pb.SettleLotResponse], list[object]]:
    result = pb.DefaultAuctionResult(
        auction_id="L-1",
        lot_id="L-1",
        bids=bids,
        award=pb.Award(
            method=pb.AWARD_METHOD_AWARD, member_id=winner, amount=amount, tie_break=tie, seed=7
        ),
    )
    instruction = pb.SettlementInstruction(lot_id="L-1", kind=pb.INSTRUCTION_KIND_CASH)
    settled = pb.SettleLotResponse(
        settlement=pb.LotSettlement(member_id=winner, amount=amount), instructions=[instruction]
    )
    return {"L-1": result}, {"L-1": settled}, [instruction]


RECORDS = [
    _record("a", "bid", "b0", "100.00", "OK", (10, 0)),
    _record("b", "bid", "b0", "120.00", "OK", (11, 0)),
    _record("a", "replace", "b1", "130.00", "OK", (12, 0)),
    _record("c", "bid", "b0", "125.00", "OK", (13, 0)),
    _record("c", "withdraw", "w", "", "OK", (14, 0)),
    _record("b", "replace", "late", "999.00", "FAILED_PRECONDITION", (0, 0)),
]
LISTED = [_bid("a", "b1", "130.00", (12, 0)), _bid("b", "b0", "120.00", (11, 0))]


def test_verification_accepts_the_results_the_acknowledgements_imply() -> None:
    check = verify(RECORDS, *_forged(LISTED, "a", "130.00"))
    assert check["ok"] is True, check["problems"]
    assert check["live_bids_at_close"] == 2 and check["acknowledged_calls"] == 5


def test_verification_finds_a_lost_a_changed_and_an_invented_bid() -> None:
    lost = verify(RECORDS, *_forged(LISTED[:1], "a", "130.00"))
    assert (lost["ok"], lost["lost"]) == (False, 1)
    older = [_bid("a", "b0", "100.00", (10, 0)), LISTED[1]]  # the replacement lost
    changed = verify(RECORDS, *_forged(older, "b", "120.00"))
    assert (changed["ok"], changed["changed"]) == (False, 1)
    invented = verify(
        RECORDS, *_forged([*LISTED, _bid("c", "b0", "125.00", (13, 0))], "a", "130.00")
    )
    assert (invented["ok"], invented["phantom"]) == (False, 1)


def test_verification_finds_a_wrong_award_and_a_settlement_that_differs() -> None:
    wrong = verify(RECORDS, *_forged(LISTED, "b", "120.00"))
    assert (wrong["ok"], wrong["award_mismatches"]) == (False, 1)
    results, settlements, instructions = _forged(LISTED, "a", "130.00")
    settlements["L-1"].settlement.amount = "129.99"
    off = verify(RECORDS, results, settlements, instructions)
    assert (off["ok"], off["settlement_mismatches"]) == (False, 1)


def test_expected_award_highest_then_earlier_then_seeded_draw() -> None:
    assert expected_award({}, 1) is None
    bids = {"a": ("x", 100, (5, 0)), "b": ("y", 200, (6, 0)), "c": ("z", 200, (5, 999))}
    assert expected_award(bids, 1) == ("c", 200, "EARLIER")
    assert expected_award({"a": ("x", 100, (5, 0))}, 1) == ("a", 100, "NONE")
    tied = {m: ("x", 300, (9, 0)) for m in ("m2", "m1", "m3")}
    for seed in (1, 2, 3, 4):
        drawn = random.Random(seed).choice(["m1", "m2", "m3"])
        assert expected_award(tied, seed) == (drawn, 300, "DRAW")


def test_latency_summary_and_timeline_of_records() -> None:
    summary = latency_summary([1000, 2000, 3000, 4000])
    assert summary["count"] == 4 and summary["max_ms"] == 4.0
    assert summary["curve"][0] == [0.0, 1.0] and summary["curve"][-1] == [100.0, 4.0]
    assert latency_summary([])["p99_ms"] is None
    records = [_record("a", "bid", f"b{i}", "1.00", "OK", (1, 0)) for i in range(4)]
    records = [(*r[:5], 100.0 + i * 0.3, 1000, *r[7:]) for i, r in enumerate(records)]
    series = timeline(records, opening=100.0, bin_s=0.5)
    assert sum(v * 0.5 for _, v in series) == 4


def test_close_stamps_keep_the_operators_streams_under_the_servers_limit() -> None:
    # 40 lots: opened all at once, the streams went over the server's per-participant limit.
    open_now: list[int] = [0, 0]  # open, most open at once

    class Call:
        """A WatchLot stream: open from its first read until it is cancelled."""

        def __init__(self, auction_id: str) -> None:
            self.auction_id = auction_id

        async def _events(self) -> Any:
            await asyncio.sleep(0.001)
            at = Timestamp(seconds=1_000 + int(self.auction_id[3:]))
            yield pb.WatchLotResponse(type="DefaultWindowOpened", at=Timestamp(seconds=1))
            yield pb.WatchLotResponse(type="DefaultWindowClosed", at=at)

        def __aiter__(self) -> Any:
            open_now[0] += 1
            open_now[1] = max(open_now[1], open_now[0])
            return self._events()

        def cancel(self) -> None:
            open_now[0] -= 1

    class Members:
        def WatchLot(self, request: pb.WatchLotRequest, metadata: Any) -> Call:  # noqa: N802
            return Call(request.auction_id)

    class Ops:
        members = Members()
        metadata = ()

    lots = [f"LOT{i}" for i in range(40)]
    stamps = asyncio.run(close_stamps(Ops(), lots))
    assert stamps == [1_000.0 + i for i in range(40)]
    assert 1 < open_now[1] <= STAMP_STREAMS < MAX_STREAMS_PER_PARTICIPANT
