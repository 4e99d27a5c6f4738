"""``CdsAuction.submit_limit_orders`` decides a run of limit orders exactly as
``submit_limit_order`` one by one would, each accepted order applied before the next.

``submit_limit_order`` is itself the bulk command's run of one, so what this compares is the
run's own bookkeeping (orders decided but not applied yet: repeats within the run, the
dealer's order count and own size) against applying each order before the next is decided;
the rules themselves are tested through ``submit_limit_order`` (``test_auction``,
``test_properties``). A hypothesis property over two auctions built the same way: one takes
the orders one at a time, the other as one bulk command (then applies its events). Same
events (so the same journal payloads), the same acknowledgement or the same refusal (type
and message) per order, the same state afterwards. The orders draw on a small pool of client
order ids (repeats with the same and with other content, within the run and of orders
submitted before it), sides (the wrong one, a misspelt one), prices (off the grid, negative,
not a number), sizes (below the minimum, fractional, beyond the open interest), customers;
the window may be closed and the dealer off the panel; the dealer's order count may be
capped.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from matching.cds.auction import Ack, BulkDecision, CdsAuction, OrderTerms, Schedule
from matching.errors import DomainError
from tests.cds.builders import T0, Driver

CLOSE = T0 + timedelta(days=1)

valid_terms = st.tuples(
    st.sampled_from(["a", "b", "c", "d", "e", "f", "g", "h"]),
    st.just("OFFER"),
    st.sampled_from(["40", "40.125", "41"]),
    st.sampled_from([1_000_000, "2000000"]),
    st.sampled_from([None, "C1"]),
)
any_terms = st.tuples(
    st.sampled_from(["a", "b", "c", "d", "e", "bad/id", ""]),
    st.sampled_from(["OFFER", "OFFER", "OFFER", "offer", "BID", "sideways"]),
    st.sampled_from(["40", "40.125", "40.000", "39.875", "40.1", "-1", "abc", "41"]),
    st.sampled_from([1_000_000, "2000000", 3_000_000, 0, -5, "1.5", 4_000_000, 20_000_000]),
    st.sampled_from([None, None, None, "C1", "C2", "bad/customer"]),
)
terms_strategy = st.one_of(valid_terms, valid_terms, any_terms)


def _auction(max_orders: int) -> Driver:
    """Stage 2 open, open interest 6,000,000 to buy (only offers take part), closing at
    :data:`CLOSE` on the schedule."""
    driver = Driver(
        ["D1", "D2", "D3"],
        schedule=Schedule(stage2_close=CLOSE),
        max_orders_per_dealer=max_orders,
        min_limit_order_size="1000000",
    )
    driver.stage1(
        [("D1", "39", "41"), ("D2", "39.5", "41.5"), ("D3", "40", "42")],
        [("D1", "BUY", 6_000_000)],
    )
    driver.open2()
    return driver


def _one_by_one(
    auction: CdsAuction, dealer: str, orders: list[OrderTerms], now: Any
) -> tuple[list[Any], list[Any]]:
    events: list[Any] = []
    outcomes: list[Any] = []
    for client_order_id, side, price, size, customer in orders:
        try:
            decision = auction.submit_limit_order(
                dealer=dealer,
                client_order_id=client_order_id,
                side=side,
                price=price,
                size=size,
                customer=customer,
                now=now,
            )
        except DomainError as exc:
            outcomes.append((type(exc), exc.message))
            continue
        auction.apply_all(decision.events)
        events.extend(decision.events)
        outcomes.append(decision.ack)
    return events, outcomes


@settings(max_examples=300, deadline=None)
@given(
    before=st.lists(terms_strategy, max_size=6),
    orders=st.lists(terms_strategy, max_size=25),
    max_orders=st.sampled_from([0, 3, 8]),
    dealer=st.sampled_from(["D1", "D1", "D2", "outsider"]),
    closed=st.booleans(),
)
def test_a_bulk_run_decides_as_one_by_one(
    before: list[OrderTerms],
    orders: list[OrderTerms],
    max_orders: int,
    dealer: str,
    closed: bool,
) -> None:
    single, bulk = _auction(max_orders), _auction(max_orders)
    earlier = single.now()
    bulk.now()
    for driver in (single, bulk):  # the same orders already in both books
        _one_by_one(driver.auction, "D1", before, earlier)
    now = CLOSE + timedelta(seconds=1) if closed else earlier + timedelta(minutes=1)

    events, outcomes = _one_by_one(single.auction, dealer, orders, now)
    decision = bulk.auction.submit_limit_orders(dealer=dealer, orders=orders, now=now)
    bulk.auction.apply_all(decision.events)

    assert isinstance(decision, BulkDecision)
    assert list(decision.events) == events
    assert [e.to_dict() for e in decision.events] == [e.to_dict() for e in events]
    got = [o if isinstance(o, Ack) else (type(o), o.message) for o in decision.outcomes]
    assert got == outcomes
    acks = [o for o in outcomes if isinstance(o, Ack)]
    assert decision.ack == max(acks, key=lambda a: a.seq, default=None)
    assert bulk.auction.snapshot() == single.auction.snapshot()
    # The next order after the run is decided alike too (the idempotency records agree).
    follow: list[OrderTerms] = [
        ("a", "OFFER", "40", 1_000_000, None),
        ("z", "OFFER", "40", 1_000_000, None),
    ]
    assert _one_by_one(bulk.auction, "D1", follow, now) == _one_by_one(
        single.auction, "D1", follow, now
    )


def test_a_run_refused_whole_changes_nothing() -> None:
    driver = _auction(0)
    before = driver.auction.snapshot()
    orders: list[OrderTerms] = [("a", "OFFER", "40", 1_000_000, None)] * 3
    decision = driver.auction.submit_limit_orders(
        dealer="D1", orders=orders, now=CLOSE + timedelta(hours=1)
    )
    assert decision.events == () and decision.ack is None
    assert [type(o).__name__ for o in decision.outcomes] == ["InvalidTransition"] * 3
    assert driver.auction.snapshot() == before


def _frames(exc: BaseException) -> int:
    count, trace = 0, exc.__traceback__
    while trace is not None:
        count, trace = count + 1, trace.tb_next
    return count


def test_a_refusal_shared_by_a_run_is_raised_once() -> None:
    """Every order of a run to a closed window gets the one refusal, never raised again per
    order: each raise of the same exception adds frames to its traceback, so a 10,000-order
    run would carry a traceback of tens of thousands of frames."""
    late = CLOSE + timedelta(hours=1)
    orders: list[OrderTerms] = [(f"o{i}", "OFFER", "40", 1_000_000, None) for i in range(5)]
    run = _auction(0).auction.submit_limit_orders(dealer="D1", orders=orders, now=late)
    alone = _auction(0).auction.submit_limit_orders(dealer="D1", orders=orders[:1], now=late)
    refusal, first = run.outcomes[0], alone.outcomes[0]
    assert isinstance(refusal, DomainError) and isinstance(first, DomainError)
    assert all(outcome is refusal for outcome in run.outcomes)
    assert _frames(refusal) == _frames(first)
