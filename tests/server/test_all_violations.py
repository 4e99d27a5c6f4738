"""A request with k independent bad fields is refused with k field violations (BadRequest),
ErrorInfo reason INVALID_INPUT naming the same fields, and changes nothing: a hypothesis
property against a live server (``server/request_checks.py``).

Fields are named by their path (``parameters.currency``, ``auctions[0].parameters.calendar``,
``schedule.stage1_open``, ``market.curve.quotes[3].rate``, ``positions[0].terms.notional``);
a bad ``panel`` is bad at its first entry (``panel[0]``), a bad map entry by its key
(``currency_rates[usd]``). Fields whose rule reads another field are drawn in separate cases
(``ConvertPositionsByDv01``, ``DeclineCustomerRequestSide``), since a field read against a
refused one is not judged (it is counted once)."""

from __future__ import annotations

import re
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2  # type: ignore[import-untyped]
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clients.errors import field_violations, rich_status
from closeout.v1 import auction_pb2 as apb
from closeout.v1 import clearing_pb2 as cpb
from closeout.v1 import operator_pb2 as opb
from closeout.v1 import pricing_pb2 as pb
from matching.errors import InvalidInput
from server.cds.wire import params_in
from server.pricing_service import PricingViolations, job
from server.request_checks import InvalidRequest, check_request
from tests.pricing.test_pricing_service import _market as pricing_market
from tests.pricing.test_pricing_service import _swaps as pricing_swaps
from tests.server.test_default_api import LOT
from tests.server.test_fuzz_live import TOKENS, Live, head
from tests.server.test_fuzz_live import live as live  # the live server fixture

#: A market definition's fields (each path under ``market.``) and some bad values of each.
BAD_MARKET: dict[str, list[Any]] = {
    "market.valuation_date": ["2007-13-01", "x", "", "2007-02-30"],
    "market.conventions.fixed_frequency": ["x", "0M"],
    "market.conventions.business_day": ["sometimes"],
    "market.curve.quotes[0].rate": ["x", "NaN", " 0.05"],
    "market.curve.quotes[1].instrument": [pb.CURVE_INSTRUMENT_UNSPECIFIED, 99],
    "market.curve.quotes[3].rate": ["1e-2"],
    "market.curve.interpolation": [99],
}


def market_set() -> cpb.MarketSet:
    """A valid MarketSet: one market with a fixing, one FX rate."""
    return cpb.MarketSet(
        clearing_currency="USD",
        markets=[
            cpb.IndexMarket(
                currency="USD",
                index="USD-LIBOR-3M",
                market=pricing_market(),
                fixings=[cpb.IndexFixing(date="2007-12-10", rate="0.05")],
            )
        ],
        fx_rates=[cpb.FxRate(currency="EUR", rate="1.1")],
    )


#: Per request: the service path, the role, a valid request, and per field some bad values
#: (each refused on its own, whatever the other fields hold).
CASES: dict[str, tuple[str, str, Any, dict[str, list[Any]]]] = {
    "SubmitLimitOrder": (
        "/closeout.v1.AuctionService/SubmitLimitOrder",
        "dealer",
        apb.SubmitLimitOrderRequest(
            auction_id="t-1", client_order_id="ok", side=apb.ORDER_SIDE_BID, price="40", size=1
        ),
        {
            "client_order_id": ["", "a/b", "x~", "\n"],
            "side": [apb.ORDER_SIDE_UNSPECIFIED, 99],
            "price": [".5", "  40 ", "1e5", "40.", "NaN", "٤٠", "1" * 40],
            "size": [0, -5],
            "customer": ["a/b", "~", "\t"],
        },
    ),
    "SubmitSettlementRequest": (
        "/closeout.v1.AuctionService/SubmitSettlementRequest",
        "dealer",
        apb.SubmitSettlementRequestRequest(
            auction_id="t-1",
            client_order_id="ok",
            side=apb.SIDE_BUY,
            size=1,
            market_position=apb.MarketPosition(side=apb.SIDE_BUY, size=5),
        ),
        {
            "client_order_id": ["", "a/b"],
            "side": [apb.SIDE_UNSPECIFIED, 7],
            "size": [-1],
            "customer": ["x/y"],
            "market_position.size": [-3],
            "market_position.side": [apb.SIDE_UNSPECIFIED, 9],
        },
    ),
    "DeclineCustomerRequest": (
        "/closeout.v1.AuctionService/DeclineCustomerRequest",
        "dealer",
        apb.DeclineCustomerRequestRequest(
            auction_id="t-1",
            client_order_id="ok",
            customer="cust-1",
            kind="PSR",
            side="BUY",
            size=1,
            reason="no credit line",
        ),
        {
            "client_order_id": ["", "a~b"],
            "customer": ["", "a/b"],
            "kind": ["SWAP", ""],
            "size": [-1],
            "price": ["abc", ".5", "1e2"],
            "reason": ["", "   "],
        },
    ),
    "DeclineCustomerRequestSide": (  # the side is read against the kind: with a valid kind
        "/closeout.v1.AuctionService/DeclineCustomerRequest",
        "dealer",
        apb.DeclineCustomerRequestRequest(
            auction_id="t-1",
            client_order_id="ok",
            customer="cust-1",
            kind="LIMIT_ORDER",
            side="BID",
            size=1,
            price="40",
            reason="no credit line",
        ),
        {"side": ["BUY", "LEFT", ""], "size": [-2], "reason": [""]},
    ),
    "LoadClearingState": (
        "/closeout.v1.ClearingService/LoadClearingState",
        "operator",
        cpb.LoadClearingStateRequest(
            members=[
                cpb.ClearingMember(
                    member_id="m-never",
                    role=cpb.MEMBER_ROLE_CLEARING_MEMBER,
                    collateral="100",
                    default_fund="10",
                )
            ],
            positions=[
                cpb.ClearedPosition(
                    position_id="p-never",
                    member_id="m-never",
                    terms=cpb.ClearedSwap(
                        currency="USD",
                        index="USD-LIBOR-3M",
                        side=pb.SWAP_SIDE_PAYER,
                        notional=1_000_000,
                        fixed_rate="0.05",
                        start="2024-01-02",
                        maturity="2029-01-02",
                    ),
                )
            ],
        ),
        {
            "members[0].member_id": ["", "a/b"],
            "members[0].role": [cpb.MEMBER_ROLE_UNSPECIFIED, 9],
            "members[0].collateral": ["-1", "x", "1.001"],
            "members[0].default_fund": ["-5", "y"],
            "positions[0].position_id": ["", "~"],
            "positions[0].terms.currency": ["", "U S", "x" * 33],
            "positions[0].terms.side": [pb.SWAP_SIDE_UNSPECIFIED],
            "positions[0].terms.notional": [0, -5],
            "positions[0].terms.fixed_rate": ["five", "1e-2"],
            "positions[0].terms.maturity": ["2020-01-01", "x"],
        },
    ),
    "AssignLot": (
        "/closeout.v1.ClearingService/AssignLot",
        "operator",
        cpb.AssignLotRequest(auction_id=LOT, member_id="mm-2", reason="late"),
        {"member_id": ["", "a/b"], "reason": ["", "  "]},
    ),
    "CreateDefaultAuction": (
        "/closeout.v1.ClearingService/CreateDefaultAuction",
        "operator",
        cpb.CreateDefaultAuctionRequest(auction_id="never", lot_id="L-never", reserve_bp="1"),
        {
            "auction_id": ["a/b"],
            "reserve_bp": ["x", "-1", "1e2"],
            "grading_threshold": ["x", "1.001"],
            "open_at": [Timestamp(seconds=-(10**15))],
        },
    ),
    "SubmitMarket": (
        "/closeout.v1.AuctionService/SubmitMarket",
        "dealer",
        apb.SubmitMarketRequest(auction_id="t-1", client_order_id="ok", bid="39", offer="41"),
        {
            "client_order_id": ["", "a/b"],
            "bid": ["", "-1e-400", "+39"],
            "offer": ["x", "41.", "10" * 30],
        },
    ),
    "SubmitBid": (
        "/closeout.v1.DefaultAuctionService/SubmitBid",
        "member",
        cpb.SubmitBidRequest(auction_id=LOT, client_order_id="ok", amount="12000"),
        {
            "client_order_id": ["", "~"],
            "amount": ["12000.001", "1e3", " 1", "12000.0000000000000000000000000001"],
        },
    ),
    "CreateAuction": (
        "/closeout.v1.OperatorService/CreateAuction",
        "operator",
        opb.CreateAuctionRequest(
            parameters=apb.AuctionParameters(
                auction_id="never-created", quotation_amount=2_000_000, max_spread="2"
            ),
            panel=["dealer-a", "dealer-b"],
        ),
        {
            "parameters.auction_id": ["", "a/b", "x~", "x" * 129],
            "parameters.currency": ["usd", "US", "E1R", "EURO"],
            "parameters.quotation_amount": [0, -2_000_000],
            "parameters.price_increment": ["0", "0.3", "-0.125", ".5", "1e-1"],
            "parameters.min_limit_order_size": [-1],
            "parameters.midpoint_rounding": [99],
            "parameters.calendar": ["Nowhere", "NewYork+Atlantis"],
            "parameters.fallback_settlement_method": ["\n", "x" * 200],
            "parameters.auction_date": ["2026-13-01", "tomorrow"],
            "panel": [["a/b", "dealer-a"], [""]],
            "dealer_names": [{"dealer-a": "\n"}, {"dealer-a": "x" * 300}, {"nobody": "N Ltd"}],
            "schedule.stage1_open": [Timestamp(seconds=-(10**15))],
            "schedule.stage2_close": [Timestamp(seconds=1_800_000_000, nanos=5)],
        },
    ),
    "AllocateLosses": (
        "/closeout.v1.ClearingService/AllocateLosses",
        "operator",
        cpb.AllocateLossesRequest(
            defaulter="mm-never",
            config=cpb.WaterfallConfig(ccp_tranche="1000000", assessment_multiple="1.5"),
        ),
        {
            "config.ccp_tranche": ["-1", "1.001", "x", "1e6"],
            "config.assessment_multiple": ["-1", "x", "Infinity", "NaN"],
        },
    ),
    "RunMargin": (
        "/closeout.v1.ClearingService/RunMargin",
        "operator",
        cpb.RunMarginRequest(
            run_id="never-run",
            market=pricing_market(),
            scenarios=[
                pb.CurveScenario(name="up", short_bp="100", long_bp="100"),
                pb.CurveScenario(name="down", short_bp="-100", long_bp="-100"),
            ],
        ),
        {
            "run_id": ["", "a/b"],
            **BAD_MARKET,
            "scenarios[0].short_bp": ["x", "1e", "NaN", " 1"],
            "scenarios[0].name": [""],
            "scenarios[1].long_bp": ["y", "Infinity"],
        },
    ),
    "DeclareDefault": (
        "/closeout.v1.ClearingService/DeclareDefault",
        "operator",
        cpb.DeclareDefaultRequest(member_id="mm-never", market=pricing_market()),
        {
            **BAD_MARKET,
        },
    ),
    "ConvertPositions": (
        "/closeout.v1.ClearingService/ConvertPositions",
        "operator",
        cpb.ConvertPositionsRequest(member_id="mm-never", markets=market_set()),
        {
            **{f"markets.markets[0].{k}": v for k, v in BAD_MARKET.items()},
            "markets.markets[0].fixings[0].rate": ["x", "1e5", ""],
            "markets.fx_rates[0].rate": ["-1", "0", "x"],
            "rcv_convention": [99],
            "standard_tenors": [["x"], ["0Q", "10Y"]],
            "group_by": [99],
            "settled_flows": [77],
        },
    ),
    "ConvertPositionsByDv01": (
        "/closeout.v1.ClearingService/ConvertPositions",
        "operator",
        cpb.ConvertPositionsRequest(
            member_id="mm-never", market=pricing_market(), max_lot_dv01="1000"
        ),
        {
            **BAD_MARKET,
            "max_lot_dv01": ["x", "0", "-1", "1.001"],
            "rcv_convention": [42],
        },
    ),
    "CreateAuctionSet": (
        "/closeout.v1.OperatorService/CreateAuctionSet",
        "operator",
        opb.CreateAuctionSetRequest(
            auction_set="never-created-set",
            terms="Terms",
            panel=["dealer-a"],
            auctions=[
                opb.AuctionOfSet(
                    parameters=apb.AuctionParameters(
                        auction_id="never-created-1", quotation_amount=2_000_000, max_spread="2"
                    ),
                    description="Senior",
                )
            ],
        ),
        {
            "auction_set": ["", "s/t"],
            "terms": ["\n", "x" * 201],
            "currency_rates": [{"usd": "1"}, {"EUR": "-1"}, {"GBP": "x"}],
            "auctions[0].parameters.auction_id": ["", "a~b"],
            "auctions[0].parameters.currency": ["eur"],
            "auctions[0].parameters.calendar": ["Nowhere"],
            "panel": [["x/y"]],
            "schedule.stage1_close": [Timestamp(seconds=10**15)],
        },
    ),
}


def set_path(message: Any, path: str, value: Any) -> str:
    """Set the field at ``path`` (``a.b``, ``a[0].b``) and return the field the server
    should name (a bad panel: its first entry)."""
    *parents, leaf = path.split(".")
    for part in parents:
        name, index = re.fullmatch(r"(\w+)(?:\[(\d+)\])?", part).groups()  # type: ignore[union-attr]
        message = getattr(message, name)
        if index is not None:
            message = message[int(index)]
    if isinstance(value, dict):  # a map: the one entry is named by its key
        getattr(message, leaf).update(value)
        return f"{path}[{next(iter(value))}]"
    if isinstance(value, list):
        del getattr(message, leaf)[:]
        getattr(message, leaf).extend(value)
        return f"{path}[0]"
    if isinstance(value, Timestamp):
        getattr(message, leaf).CopyFrom(value)
        return path
    setattr(message, leaf, value)
    return path


@st.composite
def bad_requests(draw: st.DrawFn) -> tuple[str, str, Any, set[str]]:
    name = draw(st.sampled_from(sorted(CASES)))
    path, role, valid, bad = CASES[name]
    paths = draw(st.sets(st.sampled_from(sorted(bad)), min_size=1))
    request = type(valid)()
    request.CopyFrom(valid)
    fields = {set_path(request, p, draw(st.sampled_from(bad[p]))) for p in paths}
    return path, role, request, fields


def error_info(error: grpc.RpcError) -> Any:
    status = rich_status(error)
    assert status is not None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info
    raise AssertionError("no ErrorInfo")


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=bad_requests())
def test_every_bad_field_is_named_and_nothing_changes(
    live: Live,
    case: tuple[str, str, Any, set[str]],
) -> None:
    path, role, request, fields = case
    before = head(live)
    stub = live.channel.unary_unary(path, request_serializer=type(request).SerializeToString)
    with pytest.raises(grpc.RpcError) as refused:
        stub(request, metadata=(("authorization", f"Bearer {TOKENS[role]}"),), timeout=30)
    error = refused.value
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT, (error.code(), error.details())
    named = [v.field for v in field_violations(error)]
    assert sorted(named) == sorted(fields), (named, fields, error.details())
    info = error_info(error)
    assert info.reason == "INVALID_INPUT"
    assert set(info.metadata["fields"].split(",")) == fields
    assert head(live) == before  # nothing was journaled


def violations_of(request: Any) -> list[str]:
    try:
        check_request(request)
    except InvalidRequest as exc:
        return [v.field for v in exc.violations]
    return []


def create(**fields: Any) -> opb.CreateAuctionRequest:
    base: dict[str, Any] = {"auction_id": "a-1", "quotation_amount": 2_000_000, "max_spread": "2"}
    return opb.CreateAuctionRequest(
        parameters=apb.AuctionParameters(**{**base, **fields}), panel=["dealer-a"]
    )


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"price_increment": "0.1", "max_spread": "0.3", "cap_amount": "0.1"},
        {"price_increment": "0.25", "max_spread": "1"},  # the cap: half the spread, on grid
        {"currency": "GBP", "rounding_amount": 500},
        {"currency": "JPY", "calendar": "Tokyo", "auction_date": "2026-12-03"},
        {"midpoint_rounding": apb.MIDPOINT_ROUNDING_HALF_DOWN, "min_limit_order_size": 1},
    ],
)
def test_valid_parameters_pass_the_checks_and_the_engine(fields: dict[str, Any]) -> None:
    request = create(**fields)
    assert violations_of(request) == []
    params_in(request.parameters)  # the engine agrees


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        # Rules that read another field: checked with the request's own value of it.
        ({"price_increment": "0.25", "max_spread": "0.125"}, ["parameters.max_spread"]),
        ({"max_spread": "0.125"}, ["parameters.cap_amount"]),  # half of it is off the grid
        ({"currency": "GBP"}, ["parameters.rounding_amount"]),  # no default unit for GBP
        # ...and not counted again when the field they read is itself refused.
        ({"price_increment": "0.3", "max_spread": "x"}, ["parameters.price_increment"]),
        ({"currency": "gbp"}, ["parameters.currency"]),
    ],
)
def test_dependent_parameters_are_named_once(fields: dict[str, Any], named: list[str]) -> None:
    request = create(**fields)
    assert violations_of(request) == named
    with pytest.raises(InvalidInput) as engine:
        params_in(request.parameters)
    assert engine.value.field == named[0]  # the engine's first refusal is the same field


# --- the pricing service: every bad curve quote and every bad swap, each by its own path ----

#: Per entry field: some bad values, each refused by the pricing library on its own.
BAD_QUOTE: dict[str, list[Any]] = {
    "rate": ["x", "1e", "NaN", "", " 0.05"],
    "instrument": [pb.CURVE_INSTRUMENT_UNSPECIFIED, 77],
}
BAD_SWAP: dict[str, list[Any]] = {
    "notional": ["-1", "x", "Infinity"],
    "fixed_rate": ["y", "0,05"],
    "side": [pb.SWAP_SIDE_UNSPECIFIED, 9],
    "maturity": ["2007-13-01", "2000-01-01"],
    "spread": ["1e-3"],
}
#: Swap fields read against the market's valuation date (not judged when it is refused).
DATED = {"maturity"}
#: The market's own fields (each refused on its own), by path.
BAD_PRICING_MARKET: dict[str, list[Any]] = {
    k.removeprefix("market."): v
    for k, v in BAD_MARKET.items()
    if not k.startswith("market.curve.quotes")
}
PRICING = {
    "PriceSwaps": pb.PriceSwapsRequest,
    "ConvertPosition": pb.ConvertPositionRequest,
    "BuildCurve": pb.BuildCurveRequest,
    "ComputePerformanceBond": pb.ComputePerformanceBondRequest,
}


def set_leaf(message: Any, path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for part in parents:
        message = getattr(message, part)
    setattr(message, leaf, value)


@st.composite
def bad_pricing_requests(draw: st.DrawFn) -> tuple[str, Any, set[str]]:
    """A pricing request with bad fields anywhere: the market's own, several in one curve
    quote or one swap, members, collateral, dates; each named once by its path."""
    method = draw(st.sampled_from(sorted(PRICING)))
    request = PRICING[method](market=pricing_market())
    margin = method == "ComputePerformanceBond"
    if method != "BuildCurve":
        request.swaps.extend(pricing_swaps())
    if margin:
        for i, swap in enumerate(request.swaps):
            swap.member_id = f"m{i % 2}"
        request.collateral.update({"m0": "1000000", "m1": "0"})
    if method == "BuildCurve":
        request.dates.extend(["2008-12-12", "2017-12-14"])
    fields: set[str] = set()
    for path in draw(st.sets(st.sampled_from(sorted(BAD_PRICING_MARKET)), max_size=3)):
        set_leaf(request.market, path, draw(st.sampled_from(BAD_PRICING_MARKET[path])))
        fields.add(path)
    dated_ok = not fields & {"valuation_date", *(p for p in fields if "conventions" in p)}
    quotes = request.market.curve.quotes
    for i in draw(st.sets(st.integers(0, len(quotes) - 1), max_size=4)):
        for name in draw(st.sets(st.sampled_from(sorted(BAD_QUOTE)), min_size=1)):
            setattr(quotes[i], name, draw(st.sampled_from(BAD_QUOTE[name])))
            fields.add(f"curve.quotes[{i}].{name}")
    swap_fields = sorted(BAD_SWAP if dated_ok else set(BAD_SWAP) - DATED)
    swaps = len(request.swaps) if method != "BuildCurve" else 0
    for i in draw(st.sets(st.integers(0, swaps - 1), max_size=4) if swaps else st.just(set())):
        for name in draw(st.sets(st.sampled_from(swap_fields), min_size=1)):
            setattr(request.swaps[i], name, draw(st.sampled_from(BAD_SWAP[name])))
            fields.add(f"swaps[{i}].{name}")
        if margin and draw(st.booleans()):
            request.swaps[i].member_id = ""
            fields.add(f"swaps[{i}].member_id")
    if margin:
        for name in draw(st.sets(st.sampled_from(["m0", "m1", "m7"]), max_size=2)):
            request.collateral[name] = draw(st.sampled_from(["-1", "x", "1e3"]))
            fields.add(f"collateral[{name}]")
    if method == "BuildCurve":
        for i in draw(st.sets(st.integers(0, 1), max_size=2)):
            request.dates[i] = draw(st.sampled_from(["2008-02-30", "tomorrow", ""]))
            fields.add(f"dates[{i}]")
    if not fields:
        request.market.valuation_date = "x"
        fields.add("valuation_date")
    return method, request, fields


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=bad_pricing_requests())
def test_every_bad_pricing_entry_is_named(live: Live, case: tuple[str, Any, set[str]]) -> None:
    method, request, fields = case
    stub = live.channel.unary_unary(
        f"/closeout.v1.PricingService/{method}",
        request_serializer=type(request).SerializeToString,
    )
    with pytest.raises(grpc.RpcError) as refused:
        stub(request, metadata=(("authorization", f"Bearer {TOKENS['observer']}"),), timeout=60)
    error = refused.value
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT, (error.code(), error.details())
    named = [v.field for v in field_violations(error)]
    assert sorted(named) == sorted(fields), (named, fields, error.details())
    info = error_info(error)
    assert info.reason == "INVALID_INPUT"
    assert set(info.metadata["fields"].split(",")) == fields


def test_pricing_violations_are_capped_and_counted() -> None:
    request = pb.PriceSwapsRequest(market=pricing_market(), swaps=pricing_swaps()[:1] * 150)
    for swap in request.swaps:
        swap.notional = "-1"
    with pytest.raises(PricingViolations) as refused:
        job("PriceSwaps", request.SerializeToString())
    refusal = refused.value.refusal()
    assert [v.field for v in refusal.violations] == [f"swaps[{i}].notional" for i in range(100)]
    assert refusal.message.startswith("150 invalid fields (the first 100 listed): ")


def test_a_valid_pricing_request_is_answered_by_the_worker() -> None:
    request = pb.PriceSwapsRequest(market=pricing_market(), swaps=pricing_swaps())
    answer = pb.PriceSwapsResponse.FromString(job("PriceSwaps", request.SerializeToString()))
    assert [s.id for s in answer.swaps] == [s.id for s in request.swaps]


def test_a_refusal_of_150_fields_reaches_a_default_client_whole(live: Live) -> None:
    """Over a real channel with gRPC's default limits: INVALID_ARGUMENT (not the client's
    RESOURCE_EXHAUSTED for an oversized trailer), the first violations in order, all counted."""
    request = pb.PriceSwapsRequest(market=pricing_market(), swaps=pricing_swaps()[:1] * 150)
    for swap in request.swaps:
        swap.notional = "-1"
    stub = live.channel.unary_unary(
        "/closeout.v1.PricingService/PriceSwaps",
        request_serializer=pb.PriceSwapsRequest.SerializeToString,
    )
    with pytest.raises(grpc.RpcError) as refused:
        stub(request, metadata=(("authorization", f"Bearer {TOKENS['observer']}"),), timeout=60)
    error = refused.value
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT, (error.code(), error.details())
    named = [v.field for v in field_violations(error)]
    assert 20 <= len(named) <= 100
    assert named == [f"swaps[{i}].notional" for i in range(len(named))]
    assert (error.details() or "").startswith("150 invalid fields")


def test_a_megabyte_id_is_refused_with_a_readable_message(live: Live) -> None:
    stub = live.channel.unary_unary(
        "/closeout.v1.AuctionService/GetAuction",
        request_serializer=apb.GetAuctionRequest.SerializeToString,
    )
    request = apb.GetAuctionRequest(auction_id="x" * 1_000_000)
    with pytest.raises(grpc.RpcError) as refused:
        stub(request, metadata=(("authorization", f"Bearer {TOKENS['dealer']}"),), timeout=60)
    error = refused.value
    assert error.code() is grpc.StatusCode.NOT_FOUND, (error.code(), error.details())
    assert len((error.details() or "").encode()) <= 400


def test_an_undecodable_pricing_request_is_refused_as_malformed(live: Live) -> None:
    """The pricing methods take bytes (the worker parses them): bytes that are no request
    of the method are INVALID_ARGUMENT, as the guard refuses them for every other method."""
    stub = live.channel.unary_unary("/closeout.v1.PricingService/PriceSwaps")
    with pytest.raises(grpc.RpcError) as refused:
        stub(b"\xff\xff\xff", metadata=(("authorization", f"Bearer {TOKENS['observer']}"),))
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "malformed request" in (refused.value.details() or "")
