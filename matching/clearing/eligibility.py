"""Who is invited to bid on a lot, as one pure rule.

A member is **eligible** for a lot when it is not in default and either

* holds an open cleared position of **similar opposite** kind: the same currency and
  index as the lot, on the side opposite to a converted position's side (for a defaulted
  fixed payer, the members who receive fixed), or
* is a designated **market maker** (who must bid on every lot).

The **market makers** among the eligible form the random-assignment pool; the **mandatory**
bidders are the eligible members flagged mandatory plus every market maker (they are
obliged to bid) and are graded after the award. No I/O, no state: a function of its inputs.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from matching.clearing.model import CCP, Member, Position, PositionStatus, Role, Side


@dataclass(frozen=True, slots=True)
class Invitation:
    """The members invited to one lot's auction (sorted ids)."""

    eligible: tuple[str, ...]
    market_makers: tuple[str, ...]
    mandatory: tuple[str, ...]


def eligible_bidders(
    *,
    market: tuple[str, str],
    sides: Iterable[Side],
    members: Mapping[str, Member],
    positions: Iterable[Position],
    defaulted: Collection[str],
) -> Invitation:
    """The invitation for a lot in ``market`` (currency, index) whose positions are on ``sides``."""
    wanted = {side.opposite for side in sides}
    holders = {
        p.account
        for p in positions
        if p.status is PositionStatus.OPEN
        and not p.external
        and p.terms.market == market
        and p.terms.side in wanted
    }
    makers = {m for m, info in members.items() if info.role is Role.MARKET_MAKER}
    eligible = {m for m in (holders | makers) if m in members and m not in defaulted and m != CCP}
    market_makers = eligible & makers
    mandatory = {m for m in eligible if members[m].mandatory} | market_makers
    return Invitation(
        tuple(sorted(eligible)), tuple(sorted(market_makers)), tuple(sorted(mandatory))
    )
