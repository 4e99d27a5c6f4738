"""``check_request`` runs the field checks once without collecting and collects only when
one refuses: it must refuse exactly when ``violations_of`` finds something, listing the same
violations with the same message, for requests with any mix of good and bad fields."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from closeout.v1 import auction_pb2 as apb
from server.request_checks import InvalidRequest, check_request, violations_of

IDS = st.one_of(
    st.sampled_from(["o1", "client-7", "", "a/b", "x~y", "tab\there", "z" * 129]),
    st.text(max_size=12),
)
DECIMALS = st.one_of(
    st.sampled_from(["40", "40.125", "-1", "", "1e3", " 40", "+4", ".5", "5.", "1" * 19]),
    st.text(alphabet="0123456789.-e", max_size=8),
)
SIDES = st.integers(-1, 4)
SIZES = st.integers(-(2**63), 2**63 - 1)

REQUESTS = st.one_of(
    st.builds(
        apb.SubmitLimitOrderRequest,
        auction_id=IDS,
        client_order_id=IDS,
        side=SIDES,
        price=DECIMALS,
        size=SIZES,
        customer=IDS,
    ),
    st.builds(
        apb.ReplaceLimitOrderRequest,
        client_order_id=IDS,
        order_client_order_id=IDS,
        price=DECIMALS,
        size=SIZES,
    ),
    st.builds(apb.SubmitMarketRequest, client_order_id=IDS, bid=DECIMALS, offer=DECIMALS),
    st.builds(apb.CancelLimitOrderRequest, client_order_id=IDS, order_client_order_id=IDS),
)


@given(REQUESTS)
def test_the_fast_check_refuses_exactly_what_the_full_collection_finds(request: Any) -> None:
    found = violations_of(request)
    if found:
        expected = InvalidRequest(found)
        with pytest.raises(InvalidRequest) as refused:
            check_request(request)
        assert refused.value.violations == expected.violations
        assert refused.value.message == expected.message
    else:
        check_request(request)  # accepted: no refusal
    assert violations_of(request) == found  # checking twice (and caching) changes nothing
