"""The phases of a converted-swap default auction and the one table of transitions.

::

    CREATED -> OPEN -> CLOSED -> AWARDED  -> SETTLED   (a valid bid won)
                              -> ASSIGNED -> SETTLED   (no valid bid: random market maker at b*)
    CREATED, OPEN, CLOSED -> CANCELLED

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


TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    Phase.CREATED: frozenset({Phase.OPEN, Phase.CANCELLED}),
    Phase.OPEN: frozenset({Phase.CLOSED, Phase.CANCELLED}),
    Phase.CLOSED: frozenset({Phase.AWARDED, Phase.ASSIGNED, Phase.CANCELLED}),
    Phase.AWARDED: frozenset({Phase.SETTLED}),
    Phase.ASSIGNED: frozenset({Phase.SETTLED}),
    Phase.SETTLED: frozenset(),
    Phase.CANCELLED: frozenset(),
}

TERMINAL = frozenset(p for p, nxt in TRANSITIONS.items() if not nxt)


def check_transition(current: Phase, target: Phase) -> None:
    """Raise InvalidTransition unless ``current -> target`` is in the table."""
    if target not in TRANSITIONS[current]:
        raise InvalidTransition(f"the auction is {current.value}; it cannot move to {target.value}")
