"""Smoke test of the bench harness at a tiny size: it runs end to end and loses nothing.

No timing assertions: benchmarks measure, tests check correctness fields only.
"""

from __future__ import annotations

import pytest

from bench.auction import AuctionConfig, fit_exponent, run_auction
from bench.ingest import IngestConfig, run_ingest
from bench.load import order_fields


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


def test_auction_tiny_reaches_a_final_price() -> None:
    data = run_auction(AuctionConfig.tiny())
    assert data["errors"] == 0
    (whole,) = data["auctions"]
    assert whole["final_price"]
    assert whole["fills"] == whole["orders"] + whole["dealers"]  # + carried-over quotes
    assert data["converted_swap"]["done"] in (True, False)
