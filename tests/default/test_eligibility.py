"""Who is invited to bid: similar opposite positions, plus market makers; lot grouping."""

from __future__ import annotations

from matching.clearing.eligibility import Invitation, eligible_bidders
from matching.clearing.model import Member, Position, PositionStatus, Role, Side
from tests.default.builders import USD_3M, terms

MEMBERS = {
    "D": Member("D", Role.CLEARING_MEMBER, True),
    "A": Member("A", Role.CLEARING_MEMBER, True),
    "B": Member("B", Role.CLEARING_MEMBER, False),
    "C": Member("C", Role.CLEARING_MEMBER, True),
    "X": Member("X", Role.CLEARING_MEMBER, True),
    "MM1": Member("MM1", Role.MARKET_MAKER, False),
    "MM2": Member("MM2", Role.MARKET_MAKER, True),
}


def pos(pid: str, account: str, side: str, **kw: str) -> Position:
    return Position(pid, account, terms(side, **kw), "cleared")  # type: ignore[arg-type]


def invite(
    positions: list[Position], sides: list[Side], defaulted: set[str] | None = None
) -> Invitation:
    return eligible_bidders(
        market=USD_3M,
        sides=sides,
        members=MEMBERS,
        positions=positions,
        defaulted=defaulted if defaulted is not None else {"D"},
    )


BOOK = [
    pos("d", "D", "PAYER"),
    pos("a", "A", "RECEIVER"),  # opposite, same market: in
    pos("b", "B", "RECEIVER", maturity="2012-12-14"),  # opposite, other maturity: in
    pos("c", "C", "PAYER"),  # same side: out
    pos("x1", "X", "RECEIVER", index="USD-SOFR"),  # other index: out
    pos("x2", "X", "RECEIVER", currency="EUR"),  # other currency: out
]


def test_a_defaulted_payer_invites_receivers_of_the_same_currency_and_index_and_market_makers() -> (
    None
):
    inv = invite(BOOK, [Side.PAYER])
    assert inv.eligible == ("A", "B", "MM1", "MM2")
    assert inv.market_makers == ("MM1", "MM2")
    # mandatory: flagged members plus every market maker (obliged to bid)
    assert inv.mandatory == ("A", "MM1", "MM2")


def test_a_defaulted_receiver_invites_payers() -> None:
    assert invite(BOOK, [Side.RECEIVER]).eligible == ("C", "MM1", "MM2")


def test_a_mixed_bucket_invites_both_sides() -> None:
    assert invite(BOOK, [Side.PAYER, Side.RECEIVER]).eligible == ("A", "B", "C", "MM1", "MM2")


def test_defaulted_members_are_never_invited_even_market_makers() -> None:
    inv = invite(BOOK, [Side.PAYER], defaulted={"D", "A", "MM2"})
    assert inv.eligible == ("B", "MM1")


def test_closed_positions_and_external_hedges_do_not_count() -> None:
    closed = Position("a", "A", terms("RECEIVER"), "cleared", status=PositionStatus.CLOSED)
    hedge = Position("h", "C", terms("RECEIVER"), "hedge", external=True)
    assert invite([closed, hedge], [Side.PAYER]).eligible == ("MM1", "MM2")
