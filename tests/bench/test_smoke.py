"""Smoke test of the bench harness at a tiny size: it runs end to end and loses nothing.

No timing assertions: benchmarks measure, tests check correctness fields only.
"""

from __future__ import annotations

import pytest

from bench.auction import AuctionConfig, fit_exponent, run_auction
from bench.ingest import IngestConfig, compare_journals, markdown, run_ingest
from bench.load import order_fields
from tests.server.backends import postgres_location

__all__ = ["postgres_location"]  # fixture used here


def test_order_fields_are_on_the_grid() -> None:
    for i in range(500):
        price, size = order_fields(3, i)
        assert (float(price) * 8).is_integer() and 30 <= float(price) < 55
        assert size % 1_000_000 == 0 and size > 0


def test_fit_exponent() -> None:
    assert fit_exponent([10, 100, 1000], [1, 10, 100]) == pytest.approx(1.0)
    assert fit_exponent([10, 100, 1000], [1, 100, 10000]) == pytest.approx(2.0)


def test_ingest_tiny_loses_nothing() -> None:
    data = run_ingest(IngestConfig.tiny())
    assert data["errors"] == 0
    assert data["lost"] == 0
    assert data["unary"]["orders"] == IngestConfig.tiny().unary_orders
    assert data["stream"]["orders"] == IngestConfig.tiny().stream_orders
    assert data["baseline_per_s"] > 0 and data["per_s"] > 0


def test_ingest_tiny_on_a_postgresql_journal_loses_nothing(postgres_location: str) -> None:
    sqlite = run_ingest(IngestConfig.tiny())
    data = compare_journals(sqlite, run_ingest(IngestConfig.tiny(), journal=postgres_location))
    assert (data["journal"], data["sqlite"]["lost"]) == ("postgresql", 0)
    assert data["errors"] == 0
    assert data["lost"] == 0
    assert data["acknowledged"] == sqlite["acknowledged"] > 0
    report = markdown(data)
    assert "| postgresql |" in report and "| sqlite |" in report
    assert "password" not in report and "@" not in report


def test_auction_tiny_reaches_a_final_price() -> None:
    data = run_auction(AuctionConfig.tiny())
    assert data["errors"] == 0
    (whole,) = data["auctions"]
    assert whole["final_price"]
    assert whole["fills"] == whole["orders"] + whole["dealers"]  # + carried-over quotes
    assert data["converted_swap"]["done"] in (True, False)
