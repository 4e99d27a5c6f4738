"""The default auction state machine: phases, bids, sealing, late bids, idempotency, replay."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime

import pytest

from matching.default import events as ev
from matching.default.auction import AuctionParams, DefaultAuction, ReplayMismatch, Schedule
from matching.default.phases import TRANSITIONS, Phase, check_transition
from matching.errors import (
    AlreadyExists,
    InvalidInput,
    InvalidTransition,
    NotFound,
    NotPermitted,
)
from tests.default.builders import T0, Auction, at, reference_lot


def opened(*, reserve: str | None = None, close_at: datetime | None = None) -> Auction:
    return Auction(reference_lot(), reserve=reserve, close_at=close_at).open()


def json_roundtrip(events: list[ev.Event]) -> list[ev.Event]:
    return [ev.event_from_dict(json.loads(json.dumps(e.to_dict()))) for e in events]


# -- phases ------------------------------------------------------------------------------


def test_transition_table_is_the_documented_one() -> None:
    assert TRANSITIONS[Phase.CLOSED] == {
        Phase.AWARDED,
        Phase.ASSIGNED,
        Phase.FAILED,
        Phase.CANCELLED,
    }
    # an award not settled yet can be cancelled (its taker may have defaulted since)
    assert (
        TRANSITIONS[Phase.AWARDED]
        == TRANSITIONS[Phase.ASSIGNED]
        == {
            Phase.SETTLED,
            Phase.CANCELLED,
        }
    )
    # A failed auction can only be assigned by an operator; its lot may go to a new auction.
    assert TRANSITIONS[Phase.FAILED] == {Phase.ASSIGNED}
    with pytest.raises(InvalidTransition):
        check_transition(Phase.SETTLED, Phase.OPEN)


def test_full_life_created_open_closed_awarded_settled() -> None:
    a = Auction(reference_lot())
    assert a.state.phase is Phase.CREATED
    with pytest.raises(InvalidTransition, match="not open"):
        a.state.submit_bid(member="A", client_order_id="x", amount="1", now=at(1))
    with pytest.raises(InvalidTransition):
        a.state.close(by="ops", now=at(1))
    a.open()
    with pytest.raises(InvalidTransition):
        a.state.award(by="ops", now=at(2), seed=1)
    a.bid("A", "12000", 2)
    a.close_and_award()
    assert a.state.phase.value == "AWARDED"
    a.do(a.state.settle(by="ops", now=at(2000), settlement_id="S1"))
    assert a.state.phase.value == "SETTLED" and a.state.terminal
    with pytest.raises(InvalidTransition):
        a.state.cancel(by="ops", reason="late", now=at(2001))
    assert a.state.result()["settlement_id"] == "S1"


def test_cancel_needs_a_reason_and_ends_the_auction() -> None:
    a = opened()
    with pytest.raises(InvalidInput, match="reason"):
        a.state.cancel(by="ops", reason=" ", now=at(2))
    a.do(a.state.cancel(by="ops", reason="lot withdrawn", now=at(2)))
    assert a.state.phase is Phase.CANCELLED and a.state.terminal


# -- bids ----------------------------------------------------------------------------------


def test_ineligible_member_is_refused_with_permission_denied() -> None:
    a = opened()
    with pytest.raises(NotPermitted) as err:
        a.state.submit_bid(member="C", client_order_id="c1", amount="13000", now=at(2))
    assert err.value.code.value == "PERMISSION_DENIED"
    with pytest.raises(NotPermitted):
        a.state.lot_for("C")
    assert a.state.lot_for("A").implied_bid == 1_233_767
    with pytest.raises(NotPermitted):
        a.state.withdraw_bid(member="D", client_order_id="d1", now=at(2))


def test_replace_the_last_bid_counts_and_loses_time_priority() -> None:
    a = opened()
    a.bid("A", "12000", 2, "a1")
    a.bid("B", "12100", 3, "b1")
    a.bid("A", "12100", 4, "a2")  # A now equals B, but later
    view = a.state.bid_of("A")
    assert view is not None and (view.amount, view.client_order_id) == ("12100.00", "a2")
    assert len(a.state.book) == 2
    a.close_and_award()
    assert a.state.outcome is not None and a.state.outcome.member == "B"
    assert a.state.outcome.tie_break.value == "EARLIER"


def test_withdraw_removes_the_bid_and_needs_one() -> None:
    a = opened()
    a.bid("A", "12000", 2)
    a.do(a.state.withdraw_bid(member="A", client_order_id="w1", now=at(3)))
    assert a.state.bid_of("A") is None
    with pytest.raises(NotFound):
        a.state.withdraw_bid(member="A", client_order_id="w2", now=at(4))
    a.close_and_award(seed=5)
    assert a.state.phase is Phase.ASSIGNED


@pytest.mark.parametrize("amount", ["12337.675", "1e3", "abc", 1.5])
def test_amounts_are_cents_from_decimal_strings(amount: object) -> None:
    a = opened()
    with pytest.raises(InvalidInput) as err:
        a.state.submit_bid(member="A", client_order_id="x", amount=amount, now=at(2))  # type: ignore[arg-type]
    assert err.value.field == "amount"


def test_a_member_never_sees_another_members_bid_until_the_close() -> None:
    a = opened()
    a.bid("A", "12000", 2)
    a.bid("B", "12100", 3)
    view = a.state.bid_of("A")
    assert view is not None and view.member == "A" and view.amount == "12000.00"
    assert a.state.bid_of("MM1") is None
    with pytest.raises(NotPermitted, match="sealed"):
        a.state.bids()
    assert a.state.result()["bids"] is None
    a.do(a.state.close(by="ops", now=at(10)))
    assert [b.member for b in a.state.bids()] == ["B", "A"]


def test_operator_disclosure_is_recorded_and_only_while_sealed() -> None:
    a = opened()
    a.bid("A", "12000", 2)
    with pytest.raises(InvalidInput):
        a.state.disclose_bids(by="ops", reason="", now=at(3))
    a.do(a.state.disclose_bids(by="ops", reason="surveillance ticket 42", now=at(3)))
    assert [b.member for b in a.state.bids(disclosed=True)] == ["A"]
    assert a.state.disclosures[0].reason == "surveillance ticket 42"
    a.do(a.state.close(by="ops", now=at(4)))
    with pytest.raises(InvalidTransition):
        a.state.disclose_bids(by="ops", reason="again", now=at(5))


def test_a_bid_after_the_close_is_refused() -> None:
    close_at = at(100)
    a = opened(close_at=close_at)
    a.bid("A", "12000", 99)
    with pytest.raises(InvalidTransition, match="closed at"):
        a.state.submit_bid(member="B", client_order_id="b", amount="12100", now=close_at)
    with pytest.raises(InvalidTransition, match="closed at"):
        a.state.withdraw_bid(member="A", client_order_id="w", now=at(101))
    a.do(a.state.close(by="ops", now=at(101)))
    with pytest.raises(InvalidTransition, match="not open"):
        a.state.submit_bid(member="B", client_order_id="b", amount="12100", now=at(102))
    assert a.state.next_timer() is None


def test_next_timer_follows_the_schedule() -> None:
    a = Auction(reference_lot(), close_at=at(100))
    assert a.state.next_timer() is None  # opened by hand
    a.open()
    assert a.state.next_timer() == (at(100), "close")
    with pytest.raises(InvalidInput):
        Schedule(open_at=at(5), close_at=at(5))
    with pytest.raises(InvalidInput, match="time zone"):
        Schedule(close_at=at(5).replace(tzinfo=None))


def test_idempotency_by_client_order_id() -> None:
    a = opened()
    first = a.bid("A", "12000", 2, "a1")
    again = a.state.submit_bid(member="A", client_order_id="a1", amount="12000.00", now=at(9))
    assert again.events == ()
    assert again.ack is not None and first.ack is not None
    assert (again.ack.seq, again.ack.duplicate) == (first.ack.seq, True)
    with pytest.raises(AlreadyExists):
        a.state.submit_bid(member="A", client_order_id="a1", amount="12001", now=at(9))
    # another member may use the same client order id
    a.bid("B", "12000", 3, "a1")


def test_award_needs_a_valid_seed() -> None:
    a = opened()
    a.do(a.state.close(by="ops", now=at(3)))
    for seed in (-1, 2**64, True, "7"):
        with pytest.raises(InvalidInput, match="seed"):
            a.state.award(by="ops", now=at(4), seed=seed)  # type: ignore[arg-type]


def test_creation_is_validated() -> None:
    lot = reference_lot()

    def create(**kw: object) -> None:
        args: dict[str, object] = {
            "auction_id": "L1",
            "lot": lot,
            "eligible": ["A", "MM1"],
            "market_makers": ["MM1"],
            "mandatory": ["A"],
            "params": AuctionParams(),
            "schedule": Schedule(),
            "by": "ops",
            "now": T0,
            **kw,
        }
        DefaultAuction.create(**args)  # type: ignore[arg-type]

    create()
    with pytest.raises(InvalidInput, match="defaulter"):
        create(eligible=["D", "MM1"])
    # No market maker (yet) is no longer a dead end: who is invited is decided again when
    # the window opens, and with nobody to draw from the auction fails instead.
    create(market_makers=[])
    with pytest.raises(InvalidInput, match="not among"):
        create(mandatory=["Z"])
    with pytest.raises(InvalidInput):
        AuctionParams.build(grading_threshold="-1")


# -- replay ----------------------------------------------------------------------------------


def test_replay_gives_identical_state_also_after_a_json_round_trip() -> None:
    a = opened(reserve="10000")
    a.bid("A", "12000", 2, "a1")
    a.bid("B", "12100", 3, "b1")
    a.do(a.state.withdraw_bid(member="B", client_order_id="b2", now=at(4)))
    a.bid("MM1", "12200", 5, "m1")
    a.close_and_award(seed=31)
    a.do(a.state.settle(by="ops", now=at(2000), settlement_id="S"))
    assert a.replayed().snapshot() == a.state.snapshot()
    assert DefaultAuction.from_events(json_roundtrip(a.events)).snapshot() == a.state.snapshot()


def test_the_no_bid_random_assignment_is_the_same_on_every_replay() -> None:
    a = opened()
    a.close_and_award(seed=2**63 + 12345)
    assert a.state.phase is Phase.ASSIGNED
    outcome = a.state.outcome
    assert outcome is not None and outcome.assigned and outcome.amount == 1_233_767
    award = a.events[-1]
    assert isinstance(award, ev.LotAssigned) and award.seed == 2**63 + 12345
    for _ in range(5):
        replay = DefaultAuction.from_events(json_roundtrip(a.events))
        assert replay.outcome == outcome
        assert replay.snapshot() == a.state.snapshot()
    assert award.assignee == outcome.member


def test_a_tampered_award_is_caught_on_replay() -> None:
    a = opened()
    a.bid("A", "12000", 2)
    a.bid("MM1", "12200", 3)
    a.close_and_award()
    award = a.events[-1]
    assert isinstance(award, ev.LotAwarded)
    forged = dataclasses.replace(award, winner="A", amount="12000.00")
    with pytest.raises(ReplayMismatch):
        DefaultAuction.from_events([*a.events[:-1], forged])
    assignment = ev.LotAssigned(
        auction_id="L1",
        seq=award.seq,
        at=award.at,
        by="ops",
        seed=1,
        assignee="MM1",
        amount="12337.67",
        pool=["MM1", "MM2"],
        grades=[],
    )
    with pytest.raises(ReplayMismatch):
        DefaultAuction.from_events([*a.events[:-1], assignment])


def test_events_refuse_unknown_types_and_fields() -> None:
    with pytest.raises(InvalidInput):
        ev.event_from_dict({"type": "Nope"})
    data = opened().events[-1].to_dict()
    with pytest.raises(InvalidInput, match="unknown fields"):
        ev.event_from_dict({**data, "colour": "red"})
    a = opened()
    with pytest.raises(ValueError, match="seq"):
        a.state.apply(a.events[-1])


def test_a_members_view_shows_only_its_own_bid_and_grade_even_after_the_award() -> None:
    a = opened()
    a.bid("A", "12000", 2)
    a.bid("MM1", "12200", 3)
    before = a.state.view_of("A")
    assert before["bid"]["amount"] == "12000.00" and before["grade"] is None
    assert before["lot"]["implied_bid"] == "12337.67"
    a.close_and_award()
    loser, winner = a.state.view_of("A"), a.state.view_of("MM1")
    assert (loser["grade"], loser["took_lot"], loser["amount"]) == ("COMPETITIVE", False, None)
    assert "12200" not in json.dumps(loser), "a loser never sees the winning bid"
    assert (winner["grade"], winner["took_lot"], winner["amount"]) == ("WINNER", True, "12200.00")
    assert a.state.view_of("B")["bid"] is None and a.state.view_of("B")["grade"] is None
    with pytest.raises(NotPermitted):
        a.state.view_of("C")
