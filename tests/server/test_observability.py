"""Metrics and structured logs of a real in-process server on 127.0.0.1.

``/metrics`` is scraped over HTTP while a CDS auction runs: RPCs by method and status, their
latency, journal commits and batch sizes, auctions by phase, submissions per auction and open
streams all move by exactly what was done. Business events come out as one JSON object per
line with the auction id and the call's correlation id, in order, and no line ever holds a
sealed price, a customer or a token.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from clients.sdk import DealerClient, OperatorClient
from server.app import CloseoutServer
from server.clock import FakeClock
from server.events_log import EVENTS_LOGGER, formatter
from server.metrics import ServerMetrics
from tests.server.test_cds_api import OPS, PID, TOKEN, WATCHER, code_of, config, params

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[CloseoutServer]:
    srv = CloseoutServer(replace(config(tmp_path), metrics="127.0.0.1:0"), clock=FakeClock())
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop(grace=0)


def target(server: CloseoutServer) -> str:
    return f"127.0.0.1:{server.port}"


async def fetch(server: CloseoutServer, token: str | None) -> tuple[int, str]:
    """GET /metrics with ``token`` as the bearer (None: no credentials): status and body."""
    request = urllib.request.Request(f"http://127.0.0.1:{server.metrics_port}/metrics")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")

    def get() -> tuple[int, str]:
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                body: bytes = response.read()
                return response.status, body.decode()
        except urllib.error.HTTPError as refused:
            return refused.code, refused.read().decode()

    return await asyncio.to_thread(get)


async def scrape(server: CloseoutServer) -> Samples:
    status, text = await fetch(server, WATCHER)  # an observer's token, as Prometheus sends it
    assert status == 200, text

    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


SUBMIT_MARKET = "/closeout.v1.AuctionService/SubmitMarket"
WATCH = "/closeout.v1.AuctionService/WatchAuction"


async def run_auction(server: CloseoutServer) -> None:
    """t-1 with a, b, c: two markets, two PSRs (open interest 2.5m to sell), one refused
    market, then one limit bid to its final price."""
    async with OperatorClient(target(server), OPS) as ops:
        await ops.create_auction(params(), [PID[d] for d in ("a", "b", "c")])
        await ops.open_window("t-1")
        async with DealerClient(target(server), TOKEN["a"]) as a:
            await a.submit_market("t-1", "m-1", bid="37.125", offer="38.875")
            await a.submit_settlement_request(
                "t-1", "p-1", side="SELL", size=4_000_000, customer="hidden-customer"
            )
            refused = a.submit_market("t-1", "m-2", bid="39.55", offer="40")
            assert await code_of(refused) is grpc.StatusCode.INVALID_ARGUMENT
        async with DealerClient(target(server), TOKEN["b"]) as b:
            await b.submit_market("t-1", "m-1", bid="36.5", offer="38.25")
            await b.submit_settlement_request("t-1", "p-1", side="BUY", size=1_500_000)
        await ops.close_window("t-1")
        await ops.open_window("t-1")
        async with DealerClient(target(server), TOKEN["c"]) as c:
            await c.submit_limit_order("t-1", "o-1", side="BID", price="37.875", size=2_500_000)
        await ops.close_window("t-1")


async def test_metrics_count_what_happened(server: CloseoutServer) -> None:
    before = await scrape(server)
    assert value(before, "closeout_rpcs_total", method=SUBMIT_MARKET, code="OK") == 0
    await run_auction(server)
    after = await scrape(server)
    assert value(after, "closeout_rpcs_total", method=SUBMIT_MARKET, code="OK") == 2
    assert value(after, "closeout_rpcs_total", method=SUBMIT_MARKET, code="INVALID_ARGUMENT") == 1
    assert value(after, "closeout_rpc_seconds_count", method=SUBMIT_MARKET) == 3
    close = "/closeout.v1.OperatorService/CloseWindow"
    assert value(after, "closeout_rpcs_total", method=close, code="OK") == 2
    commits = value(after, "closeout_journal_commit_seconds_count")
    assert commits >= 1 and commits == value(after, "closeout_journal_batch_records_count")
    # create, 2 opens, 2 closes, 2 markets, 2 requests, 1 order: 10 records
    assert value(after, "closeout_journal_batch_records_sum") == 10
    assert value(after, "closeout_auctions", kind="cds", phase="FINAL") == 1
    # markets of a and b, their requests, c's order
    assert value(after, "closeout_auction_submissions", kind="cds", auction_id="t-1") == 5


async def test_open_streams_are_counted_while_open(server: CloseoutServer) -> None:
    async with OperatorClient(target(server), OPS) as ops:
        await ops.create_auction(params(), [PID["a"]])
        async with OperatorClient(target(server), WATCHER) as watcher:
            stream = watcher.watch("t-1")
            first = await anext(stream)
            assert first.type == "AuctionCreated"
            during = await scrape(server)
            assert value(during, "closeout_open_streams", method=WATCH) == 1
            await ops.cancel("t-1", "test over")
            rest = [e.type async for e in stream]
            assert rest == ["AuctionCancelled"]
    for _ in range(100):  # the server sees the stream end just after the client does
        after = await scrape(server)
        if value(after, "closeout_open_streams", method=WATCH) == 0:
            break
        await asyncio.sleep(0.05)
    assert value(after, "closeout_open_streams", method=WATCH) == 0
    assert value(after, "closeout_rpcs_total", method=WATCH, code="OK") == 1


async def test_business_events_are_json_lines_without_secrets(
    server: CloseoutServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=EVENTS_LOGGER)
    await run_auction(server)
    as_json = formatter(json_lines=True)
    lines = [as_json.format(r) for r in caplog.records if r.name == EVENTS_LOGGER]
    events = [json.loads(line) for line in lines]
    assert [e["event"] for e in events] == [
        "auction created",
        "window opened",
        "request refused",
        "window closed",
        "results published",
        "window opened",
        "window closed",
        "results published",
    ]
    for event in events:
        assert event["auction_id"] == "t-1" and len(event["correlation_id"]) == 32
        assert event["level"] == "INFO" and event["logger"] == EVENTS_LOGGER
    refusal = events[2]
    assert (refusal["method"], refusal["status"], refusal["participant"]) == (
        SUBMIT_MARKET,
        "INVALID_ARGUMENT",
        PID["a"],
    )
    stage1 = events[4]
    assert stage1["initial_market_midpoint"] and stage1["open_interest_side"] == "SELL"
    assert events[7]["final_price"]
    # one correlation id per call: close's two lines share one, other calls have their own
    assert events[3]["correlation_id"] == events[4]["correlation_id"]
    assert len({e["correlation_id"] for e in events}) == 6
    text = "\n".join(lines)
    for secret in (
        "37.125",
        "38.875",
        "39.55",
        "36.5",
        "38.25",
        "4000000",
        "1500000",
        "hidden-customer",
    ):
        assert secret not in text
    assert "token" not in text.lower()


def test_text_lines_for_a_terminal() -> None:
    record = logging.LogRecord(EVENTS_LOGGER, logging.INFO, __file__, 1, "window closed", (), None)
    record.fields = {"event": "window closed", "auction_id": "t-1", "stage": 1}
    line = formatter(json_lines=False).format(record)
    assert line.endswith("INFO closeout.events: window closed auction_id=t-1 stage=1")


async def test_no_submission_count_is_exported_while_a_window_is_sealed(
    server: CloseoutServer,
) -> None:
    """How many times dealers submitted in an open window is what the window keeps from
    everybody: /metrics exports an auction's count only once the window has closed."""
    async with OperatorClient(target(server), OPS) as ops:
        await ops.create_auction(params(), [PID[d] for d in ("a", "b")])
        await ops.open_window("t-1")
        async with DealerClient(target(server), TOKEN["a"]) as a:
            for n in range(3):
                await a.submit_market("t-1", f"m-{n}", bid="37", offer="38")
        during = await scrape(server)
        assert not [k for k in during if k[0] == "closeout_auction_submissions"]
        assert value(during, "closeout_auctions", kind="cds", phase="STAGE1_OPEN") == 1
        await ops.close_window("t-1")
    after = await scrape(server)
    assert value(after, "closeout_auction_submissions", kind="cds", auction_id="t-1") == 3


async def test_metrics_answer_operators_and_observers_only(server: CloseoutServer) -> None:
    for token, allowed in ((OPS, True), (WATCHER, True), (TOKEN["a"], False), (None, False)):
        status, body = await fetch(server, token)
        assert (status == 200) is allowed, (token, status, body)
        if not allowed:
            assert status == 401
            assert "closeout_" not in body
    status, body = await fetch(server, "not-a-token")
    assert status == 401 and "closeout_" not in body


def test_the_metrics_endpoint_listens_on_an_ipv6_host() -> None:
    """``--metrics [::1]:PORT`` serves over IPv6 (an IPv4-only socket refused the address)."""
    metrics = ServerMetrics()
    port = metrics.serve("[::1]", 0, lambda header: None)
    try:
        with urllib.request.urlopen(f"http://[::1]:{port}/metrics", timeout=10) as answer:
            assert answer.status == 200
            assert "closeout_rpcs" in answer.read().decode()
    finally:
        metrics.close()
