"""Exact decimals only, strict syntax, sane bounds: refused (INVALID_ARGUMENT naming the field,
nothing changed), never rounded, never INTERNAL. The engines' parser (``matching.money``) and
the pricing library's (``pricing.money``) accept and refuse exactly alike."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import grpc
import grpc.aio
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given
from hypothesis import strategies as st

from clients.default_sdk import ClearingClient, MemberClient
from clients.errors import field_violations
from clients.sdk import DealerClient, OperatorClient
from closeout.v1 import auction_pb2 as apb
from closeout.v1 import clearing_pb2 as cpb
from closeout.v1 import operator_pb2 as opb
from closeout.v1 import pricing_pb2 as ppb
from closeout.v1 import pricing_pb2_grpc
from matching.errors import InvalidInput
from matching.money import PriceGrid, parse_amount, parse_decimal
from pricing.errors import PricingInputError
from pricing.money import parse_number
from server.app import CloseoutServer
from server.clock import FakeClock
from tests.pricing.test_pricing_service import _market, _swaps
from tests.server import test_cds_api as cds
from tests.server import test_default_api as dflt

REFUSED = [
    "39.99999999999999999999999999999",  # would round to 40 in a 28-digit context
    "  40 ",
    "40 ",
    "40\n",
    ".5",
    "5.",
    "+40",
    "-1e-400",
    "1E3",
    "NaN",
    "Infinity",
    "٤٠",  # Arabic-Indic digits
    "\uff14\uff10",  # full-width digits
    "1" + "0" * 60,  # 10^60
    "1" * 5000,  # past int()'s 4,300-digit limit
    "0." + "0" * 30 + "1",
    "",
    "1_000",
    "0x10",
    "00.5",
]


@pytest.mark.parametrize("text", REFUSED, ids=lambda t: repr(t[:12]))
def test_both_parsers_refuse(text: str) -> None:
    with pytest.raises(InvalidInput) as info:
        PriceGrid(Decimal("0.125")).to_ticks(text, "bid")
    assert info.value.field == "bid"
    assert len(info.value.message) < 200  # the refused text is not echoed whole
    with pytest.raises(PricingInputError):
        parse_number(text, "rate")


def test_no_rounding_at_any_precision() -> None:
    grid = PriceGrid(Decimal("0.125"))
    assert grid.to_ticks("40", "bid") == 320
    assert grid.to_ticks("40.000000000000000000000000", "bid") == 320  # exact, just long
    with pytest.raises(InvalidInput, match=r"not on the 0\.125 price grid"):
        grid.to_ticks("39.999999999999999999", "bid")
    cents = PriceGrid(Decimal("0.01"))
    with pytest.raises(InvalidInput, match="too precise"):
        cents.to_ticks("12000.0000000000000000000000000001", "amount")
    with pytest.raises(InvalidInput, match="price grid"):
        cents.to_ticks("12000.000000000000000001", "amount")
    with pytest.raises(InvalidInput):
        parse_amount("12000.0000000000000000000000000001", "size")
    with pytest.raises(InvalidInput):
        parse_decimal(Decimal("1E+60"), "bid")
    with pytest.raises(InvalidInput):
        parse_decimal(10**60, "bid")


DIGITS = st.text(alphabet="0123456789", min_size=1, max_size=20)


@given(
    st.one_of(
        st.text(max_size=45),
        st.builds(
            lambda sign, i, f: sign + i + (("." + f) if f else ""),
            st.sampled_from(["", "-", "+", " "]),
            DIGITS,
            st.one_of(st.just(""), DIGITS),
        ),
    )
)
def test_the_two_parsers_agree_and_accepted_text_is_exact(text: str) -> None:
    try:
        engine: Decimal | None = parse_decimal(text, "x")
    except InvalidInput:
        engine = None
    try:
        pricing: Decimal | None = parse_number(text, "x")
    except PricingInputError:
        pricing = None
    assert engine == pricing
    if engine is not None:
        assert str(engine) == text  # nothing was normalised, rounded or stripped


# -- through a live server -----------------------------------------------------------------


async def violation(awaitable: object) -> list[str]:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await awaitable  # type: ignore[misc]
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT, info.value
    return [v.field for v in field_violations(info.value)]


async def test_cds_bids_that_would_round_are_refused_and_change_nothing(
    cds_server: CloseoutServer,
) -> None:
    await cds.stage1(cds_server)
    async with DealerClient(cds.target(cds_server), cds.TOKEN[cds.A]) as dealer:
        before = await dealer.my_submissions("t-1")
        for bid in ("39.99999999999999999999999999999", "  40 ", ".5", "٤٠", "1" + "0" * 60):
            assert await violation(dealer.submit_market("t-1", "m9", bid=bid, offer="41")) == [
                "bid"
            ]
        assert await violation(dealer.submit_market("t-1", "m9", bid="39", offer="1" * 5000)) == [
            "offer"
        ]
        assert await dealer.my_submissions("t-1") == before


async def test_out_of_range_schedule_times_are_invalid_argument(
    cds_server: CloseoutServer,
) -> None:
    async with OperatorClient(cds.target(cds_server), cds.OPS) as ops:
        for seconds, nanos in ((10**15, 0), (-(10**15), 0), (0, -1), (0, 10**9)):
            request = opb.CreateAuctionRequest(
                parameters=cds.params("far"),
                panel=[cds.PID[cds.A]],
                schedule=apb.WindowSchedule(stage1_open=Timestamp(seconds=seconds, nanos=nanos)),
            )
            fields = await violation(ops.stub.CreateAuction(request, metadata=ops.metadata))
            assert fields == ["schedule.stage1_open"]
        assert await ops.list_auctions() == []


async def test_default_bids_and_windows_out_of_bounds_are_refused(tmp_path: Path) -> None:
    clock = FakeClock(dflt.opened_at(dflt.BASIC))
    server = await dflt.start(tmp_path, clock)
    try:
        await dflt.open_lot(server)
        where = dflt.target(server)
        async with MemberClient(where, dflt.TOKENS.members["MM-1"]) as mm1:
            for amount in ("12000.0000000000000000000000000001", "1" * 5000, "12000.00 "):
                fields = await violation(mm1.submit_bid(dflt.LOT, "b-1", amount))
                assert fields == ["amount"], amount
            assert await mm1.my_bid(dflt.LOT) is None
        async with ClearingClient(where, dflt.OPS) as ops:
            await ops.cancel(dflt.LOT, "test")
            for name in ("open_at", "close_at"):
                request = cpb.CreateDefaultAuctionRequest(auction_id="far", lot_id=dflt.LOT)
                getattr(request, name).CopyFrom(Timestamp(seconds=10**15))
                fields = await violation(
                    ops.stub.CreateDefaultAuction(request, metadata=ops.metadata)
                )
                assert fields == [name]
    finally:
        await server.stop(grace=0)


@pytest.fixture
async def pricing(cds_server: CloseoutServer) -> pricing_pb2_grpc.PricingServiceStub:
    channel = grpc.aio.insecure_channel(cds.target(cds_server))
    return pricing_pb2_grpc.PricingServiceStub(channel)


def with_tenor(swap: ppb.SwapTerms, tenor: str) -> None:
    swap.ClearField("maturity")
    swap.tenor = tenor


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda s: setattr(s, "notional", "1" * 5000), "swaps[0].notional"),
        (lambda s: setattr(s, "fixed_rate", "-1e-400"), "swaps[0].fixed_rate"),
        (lambda s: setattr(s, "fixed_rate", " 0.05"), "swaps[0].fixed_rate"),
        (lambda s: with_tenor(s, "9" * 20 + "Y"), "swaps[0].tenor"),
        (lambda s: with_tenor(s, "101Y"), "swaps[0].tenor"),
        (lambda s: setattr(s, "maturity", "9999-12-31"), "swaps[0].maturity"),
        (lambda s: setattr(s, "start", "2024-W01-1"), "swaps[0].start"),
    ],
)
async def test_pricing_refuses_huge_numbers_and_tenors(
    pricing: pricing_pb2_grpc.PricingServiceStub, change: object, field: str
) -> None:
    swaps = _swaps()[:1]
    change(swaps[0])  # type: ignore[operator]
    metadata = (("authorization", "Bearer demo-observer-token"),)
    request = ppb.PriceSwapsRequest(market=_market(), swaps=swaps)
    assert await violation(pricing.PriceSwaps(request, metadata=metadata)) == [field]
