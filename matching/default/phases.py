"""The phases of a converted-swap default auction and the one table of transitions.

::

    CREATED -> OPEN -> CLOSED -> AWARDED  -> SETTLED   (a valid bid won)
                              -> ASSIGNED -> SETTLED   (no valid bid: drawn at b*, or an
                                                        operator's assignment with a reason)
                              -> FAILED -> ASSIGNED    (nobody to draw from: an operator may
                                                        still assign; or a new auction)
    CREATED, OPEN, CLOSED -> CANCELLED
    AWARDED, ASSIGNED -> CANCELLED         (before settlement, e.g. the taker defaulted)

Anything not in :data:`TRANSITIONS` raises :class:`~matching.errors.InvalidTransition`.
"""

from __future__ import annotations

import enum

from matching.errors import InvalidTransition


class Phase(enum.Enum):
    """Where a default auction is in its life."""

    CREATED = "CREATED"
    OPEN = "OPEN"
    CLOSED = "CLOSED"
    AWARDED = "AWARDED"
    ASSIGNED = "ASSIGNED"
    SETTLED = "SETTLED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"


TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    Phase.CREATED: frozenset({Phase.OPEN, Phase.CANCELLED}),
    Phase.OPEN: frozenset({Phase.CLOSED, Phase.CANCELLED}),
    Phase.CLOSED: frozenset({Phase.AWARDED, Phase.ASSIGNED, Phase.FAILED, Phase.CANCELLED}),
    Phase.FAILED: frozenset({Phase.ASSIGNED}),
    Phase.AWARDED: frozenset({Phase.SETTLED, Phase.CANCELLED}),
    Phase.ASSIGNED: frozenset({Phase.SETTLED, Phase.CANCELLED}),
    Phase.SETTLED: frozenset(),
    Phase.CANCELLED: frozenset(),
}

TERMINAL = frozenset(p for p, nxt in TRANSITIONS.items() if not nxt)
#: Phases in which the auction no longer holds its lot: the lot may go into a new auction.
RELEASED = frozenset({Phase.CANCELLED, Phase.FAILED})


def check_transition(current: Phase, target: Phase) -> None:
    """Raise InvalidTransition unless ``current -> target`` is in the table."""
    if target not in TRANSITIONS[current]:
        raise InvalidTransition(f"the auction is {current.value}; it cannot move to {target.value}")
