"""The award, assignment and grading rules of a default auction, as pure functions.

* **Award**: first price, all-or-none. The highest bid at or above the reserve (if any)
  wins and pays its own bid. Equal amounts go to the bid stamped earlier (``at``, the
  server's clock when the bid was accepted; a replacement is a new bid); bids equal in
  amount *and* time are drawn with ``random.Random(seed)`` over their sorted member ids.
* **Assignment**: with no valid bid, one member is drawn with the same seeded generator and
  takes the lot at b*: from the market makers; with none, from the **available
  counterparties** (the invited members holding similar opposite positions, the patent's
  fallback). With nobody to draw from the auction **fails** (the lot can be auctioned again
  or assigned by an operator).
* **Excluded** members (in default by the award) neither win nor are drawn; their bids
  are ignored and they are not graded.
* **Grading** of every mandatory member against the reference price (the winning bid, or
  b* when the lot was assigned): NO_BID without a live bid at the close; WINNER; SHORT when
  more than ``threshold`` cents below the reference; COMPETITIVE otherwise.

Same inputs, same outcome, on every machine and every replay. No I/O, no clock, no
randomness but the seeded generator built here from the argument.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from matching.default.cash import cents_text


class Grade(enum.Enum):
    """How a mandatory member's participation is graded for loss allocation."""

    NO_BID = "NO_BID"
    SHORT = "SHORT"
    COMPETITIVE = "COMPETITIVE"
    WINNER = "WINNER"


class TieBreak(enum.Enum):
    """How the winner was picked among the highest bids."""

    NONE = "NONE"
    EARLIER = "EARLIER"
    DRAW = "DRAW"


@dataclass(frozen=True, slots=True)
class SealedBid:
    """A live bid at the close: member, amount in cents, and when it was accepted."""

    member: str
    amount: int
    at: datetime
    seq: int


@dataclass(frozen=True, slots=True)
class GradeRow:
    """One mandatory member's grade and its bid (None for NO_BID)."""

    member: str
    grade: Grade
    bid: int | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-native form."""
        return {
            "member": self.member,
            "grade": self.grade.value,
            "bid": None if self.bid is None else cents_text(self.bid),
        }


@dataclass(frozen=True, slots=True)
class Outcome:
    """Who takes the lot, at what price, and how: ``assigned`` when no bid was valid."""

    member: str
    amount: int
    assigned: bool
    tie_break: TieBreak
    tied: tuple[str, ...]
    pool: tuple[str, ...]
    grades: tuple[GradeRow, ...]
    pool_kind: str = ""
    failed: bool = False
    reason: str = ""

    @property
    def method(self) -> str:
        """AWARD, ASSIGNMENT, OPERATOR_ASSIGNMENT or FAILED."""
        if self.failed:
            return "FAILED"
        if self.reason:
            return "OPERATOR_ASSIGNMENT"
        return "ASSIGNMENT" if self.assigned else "AWARD"


def draw(seed: int, candidates: Iterable[str]) -> str:
    """One of ``candidates`` drawn with ``random.Random(seed)`` over their sorted ids."""
    ordered = sorted(set(candidates))
    if not ordered:
        raise ValueError("nothing to draw from")
    return random.Random(seed).choice(ordered)


def decide(
    bids: Sequence[SealedBid],
    *,
    implied_bid: int,
    reserve: int | None,
    market_makers: Iterable[str],
    mandatory: Iterable[str],
    threshold: int,
    seed: int,
    counterparties: Iterable[str] = (),
    excluded: Iterable[str] = (),
) -> Outcome:
    """Award the lot to the best valid bid, or assign it at b* among ``market_makers`` (or,
    with none, ``counterparties``); with nobody to assign to, a failed outcome."""
    out = set(excluded)
    bids = [b for b in bids if b.member not in out]
    mandatory = [m for m in mandatory if m not in out]
    valid = [b for b in bids if reserve is None or b.amount >= reserve]
    pool = tuple(sorted(set(market_makers) - out))
    pool_kind = "market_makers"
    if not pool:
        pool = tuple(sorted(set(counterparties) - out))
        pool_kind = "available_counterparties"
    if valid:
        best = max(b.amount for b in valid)
        top = [b for b in valid if b.amount == best]
        earliest = min(b.at for b in top)
        first = [b for b in top if b.at == earliest]
        tied = tuple(sorted(b.member for b in top)) if len(top) > 1 else ()
        if len(first) == 1:
            winner = first[0].member
            tie_break = TieBreak.EARLIER if len(top) > 1 else TieBreak.NONE
        else:
            winner = draw(seed, (b.member for b in first))
            tie_break = TieBreak.DRAW
        return Outcome(
            member=winner,
            amount=best,
            assigned=False,
            tie_break=tie_break,
            tied=tied,
            pool=(),
            grades=grade(bids, mandatory, winner=winner, reference=best, threshold=threshold),
        )
    if not pool:
        return Outcome(
            member="",
            amount=implied_bid,
            assigned=False,
            tie_break=TieBreak.NONE,
            tied=(),
            pool=(),
            grades=grade(bids, mandatory, winner=None, reference=implied_bid, threshold=threshold),
            failed=True,
        )
    assignee = draw(seed, pool)
    return Outcome(
        member=assignee,
        amount=implied_bid,
        assigned=True,
        tie_break=TieBreak.NONE,
        tied=(),
        pool=pool,
        grades=grade(bids, mandatory, winner=None, reference=implied_bid, threshold=threshold),
        pool_kind=pool_kind,
    )


def grade(
    bids: Sequence[SealedBid],
    mandatory: Iterable[str],
    *,
    winner: str | None,
    reference: int,
    threshold: int,
) -> tuple[GradeRow, ...]:
    """Grade every mandatory member (sorted by id) against ``reference`` cents."""
    by_member = {b.member: b.amount for b in bids}
    rows = []
    for member in sorted(set(mandatory)):
        amount = by_member.get(member)
        if amount is None:
            g = Grade.NO_BID
        elif member == winner:
            g = Grade.WINNER
        elif amount < reference - threshold:
            g = Grade.SHORT
        else:
            g = Grade.COMPETITIVE
        rows.append(GradeRow(member, g, amount))
    return tuple(rows)
