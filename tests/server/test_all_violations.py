"""A request with k independent bad fields is refused with k field violations (BadRequest),
ErrorInfo reason INVALID_INPUT naming the same fields, and changes nothing: a hypothesis
property against a live server (``server/request_checks.py``)."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2  # type: ignore[import-untyped]
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clients.errors import field_violations, rich_status
from closeout.v1 import auction_pb2 as apb
from closeout.v1 import clearing_pb2 as cpb
from tests.server.test_default_api import LOT
from tests.server.test_fuzz_live import TOKENS, Live, head
from tests.server.test_fuzz_live import live as live  # the live server fixture

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
}


@st.composite
def bad_requests(draw: st.DrawFn) -> tuple[str, str, Any, set[str]]:
    name = draw(st.sampled_from(sorted(CASES)))
    path, role, valid, bad = CASES[name]
    fields = draw(st.sets(st.sampled_from(sorted(bad)), min_size=1))
    request = type(valid)()
    request.CopyFrom(valid)
    for field in fields:
        setattr(request, field, draw(st.sampled_from(bad[field])))
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
    max_examples=80,
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
