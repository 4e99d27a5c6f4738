"""PricingService against a real grpc.aio server on 127.0.0.1 (port 0), servicer only."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest

from clients.errors import field_violations
from closeout.v1 import pricing_pb2 as pb
from closeout.v1 import pricing_pb2_grpc
from pricing.inputs import parse_market, parse_request
from pricing.report import curve_report, price_request
from server.pricing_service import add_to_server

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pricing" / "patent_example.json"


@pytest.fixture
async def stub() -> AsyncIterator[pricing_pb2_grpc.PricingServiceStub]:
    server = grpc.aio.server()
    add_to_server(server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield pricing_pb2_grpc.PricingServiceStub(channel)
    await server.stop(None)


def _market() -> pb.MarketDefinition:
    data: dict[str, Any] = json.loads(EXAMPLE.read_text())
    conv = data["conventions"]
    instruments = {
        "deposit": pb.CURVE_INSTRUMENT_DEPOSIT,
        "fra": pb.CURVE_INSTRUMENT_FRA,
        "swap": pb.CURVE_INSTRUMENT_SWAP,
    }
    return pb.MarketDefinition(
        valuation_date=data["valuation_date"],
        conventions=pb.SwapConventions(
            calendar=pb.HolidayCalendar(names=conv["calendar"]),
            business_day=conv["business_day"],
            end_of_month=conv["end_of_month"],
            spot_lag=conv["spot_lag"],
            fixed_frequency=conv["fixed_frequency"],
            fixed_day_count=conv["fixed_day_count"],
            float_index=pb.FLOAT_INDEX_KIND_IBOR,
            float_frequency=conv["float_frequency"],
            float_day_count=conv["float_day_count"],
            fixing_days=conv["fixing_days"],
        ),
        curve=pb.CurveDefinition(
            interpolation=pb.CURVE_INTERPOLATION_LOG_LINEAR_DISCOUNT,
            quotes=[
                pb.CurveQuote(
                    instrument=instruments[q["instrument"]],
                    tenor=q.get("tenor", ""),
                    start=q.get("start", ""),
                    end=q.get("end", ""),
                    rate=q["rate"],
                )
                for q in data["curve"]["quotes"]
            ],
        ),
    )


def _swaps() -> list[pb.SwapTerms]:
    data: dict[str, Any] = json.loads(EXAMPLE.read_text())
    return [
        pb.SwapTerms(
            id=s["id"],
            side=pb.SWAP_SIDE_PAYER,
            notional=s["notional"],
            fixed_rate=s["fixed_rate"],
            start=s["start"],
            maturity=s["maturity"],
        )
        for s in data["swaps"]
    ]


async def test_price_swaps_reproduces_the_table(stub: pricing_pb2_grpc.PricingServiceStub) -> None:
    response = await stub.PriceSwaps(pb.PriceSwapsRequest(market=_market(), swaps=_swaps()))
    assert [s.npv for s in response.swaps] == ["-117961.12", "-130298.79", "12337.67"]
    # Same figures as the library and the CLI, field for field.
    expected = price_request(parse_request(json.loads(EXAMPLE.read_text())))
    assert response.market_id == expected["curve_id"]
    for got, want in zip(response.swaps, expected["swaps"], strict=True):
        assert (got.id, got.par_rate, got.svf, got.pv01, got.dv01) == (
            want["id"],
            want["par_rate"],
            want["svf"],
            want["pv01"],
            want["dv01"],
        )


async def test_convert_position(stub: pricing_pb2_grpc.PricingServiceStub) -> None:
    request = pb.ConvertPositionRequest(market=_market(), swaps=_swaps()[1:2])
    response = await stub.ConvertPosition(request)
    conv = response.conversions[0]
    assert (conv.standard_tenor, conv.rcv, conv.implied_bid) == ("10Y", "-12337.67", "12337.67")
    assert conv.standard.npv == "-117961.12"
    assert conv.defaulted.npv == "-130298.79"
    assert conv.hedge_side == pb.SWAP_SIDE_PAYER
    at_market = await stub.ConvertPosition(
        pb.ConvertPositionRequest(
            market=_market(), swaps=_swaps()[1:2], rcv_convention=pb.RCV_CONVENTION_AT_MARKET
        )
    )
    assert at_market.conversions[0].rcv == "-130298.79"


async def test_build_curve(stub: pricing_pb2_grpc.PricingServiceStub) -> None:
    dates = ["2007-12-14", "2017-06-14"]
    response = await stub.BuildCurve(pb.BuildCurveRequest(market=_market(), dates=dates))
    # The wire carries exactly what the library reports for the same market.
    market = parse_market({k: v for k, v in json.loads(EXAMPLE.read_text()).items()
                           if k != "swaps"})  # fmt: skip
    expected = curve_report(market, [dt.date.fromisoformat(d).toordinal() for d in dates])
    assert response.market_id == expected["market_id"]
    assert response.projection.id == response.discount.id == expected["projection"]["id"]
    pillars = [
        {"date": p.date, "discount_factor": p.discount_factor, "zero_rate": p.zero_rate}
        for p in response.projection.pillars
    ]
    assert pillars == expected["projection"]["pillars"]
    assert list(response.discount.discount_factors) == expected["discount"]["discount_factors"]
    dfs = [float(x) for x in response.projection.discount_factors]
    assert 1.0 > dfs[0] > dfs[1] > 0.5


async def test_performance_bond(stub: pricing_pb2_grpc.PricingServiceStub) -> None:
    swaps = _swaps()
    for swap, member in zip(swaps, ["A", "B", "A"], strict=True):
        swap.member_id = member
    request = pb.ComputePerformanceBondRequest(
        market=_market(),
        swaps=swaps,
        collateral={"A": "100000", "C": "5"},
        scenarios=[
            pb.CurveScenario(name="up 100", short_bp="100", long_bp="100"),
            pb.CurveScenario(name="down 100", short_bp="-100", long_bp="-100"),
        ],
    )
    response = await stub.ComputePerformanceBond(request)
    by_id = {m.member_id: m for m in response.members}
    assert set(by_id) == {"A", "B", "C"}
    assert by_id["A"].worst_scenario == "down 100"
    assert float(by_id["A"].shortfall) == pytest.approx(float(by_id["A"].requirement) - 1e5)
    assert by_id["C"].requirement == "0.00"
    assert by_id["C"].collateral == "5.00"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda r: setattr(r.swaps[1], "notional", "-5"), "swaps[1].notional"),
        (
            lambda r: r.market.conventions.calendar.__setattr__("names", "Atlantis"),
            "conventions.calendar",
        ),
        (lambda r: setattr(r.swaps[0], "maturity", "2007-01-01"), "swaps[0].maturity"),
        (lambda r: setattr(r.swaps[0], "side", pb.SWAP_SIDE_UNSPECIFIED), "swaps[0].side"),
        (lambda r: setattr(r.market, "valuation_date", "12/12/2007"), "valuation_date"),
        (lambda r: r.market.curve.quotes[6].__setattr__("tenor", "2Y"), "curve.quotes[6]"),
    ],
)
async def test_bad_input_is_invalid_argument(
    stub: pricing_pb2_grpc.PricingServiceStub, mutate: Any, field: str
) -> None:
    request = pb.PriceSwapsRequest(market=_market(), swaps=_swaps())
    mutate(request)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.PriceSwaps(request)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in field_violations(info.value)] == [field]
