"""The phases of a CDS auction and the one table of transitions between them.

::

    SCHEDULED -> STAGE1_OPEN -> STAGE1_CLOSED -> STAGE2_OPEN -> STAGE2_CLOSED -> FINAL
                                     |-> FINAL   (open interest zero: final price = IMM)
                                     |-> FAILED  (too few markets, or every pair tradeable)
                                     |-> SCHEDULED (too few markets: the initial bidding
                                     |              period is run again)
                                     |-> CANCELLED (too few markets in the last period
                                                    allowed: the fallback applies)
    any non-terminal phase -> CANCELLED

Anything not in :data:`TRANSITIONS` raises :class:`~matching.errors.InvalidTransition`.
"""

from __future__ import annotations

import enum

from matching.errors import InvalidTransition


class Phase(enum.Enum):
    """Where an auction is in its life."""

    SCHEDULED = "SCHEDULED"
    STAGE1_OPEN = "STAGE1_OPEN"
    STAGE1_CLOSED = "STAGE1_CLOSED"
    STAGE2_OPEN = "STAGE2_OPEN"
    STAGE2_CLOSED = "STAGE2_CLOSED"
    FINAL = "FINAL"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"


TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    Phase.SCHEDULED: frozenset({Phase.STAGE1_OPEN, Phase.CANCELLED}),
    Phase.STAGE1_OPEN: frozenset({Phase.STAGE1_CLOSED, Phase.CANCELLED}),
    Phase.STAGE1_CLOSED: frozenset(
        {Phase.STAGE2_OPEN, Phase.FINAL, Phase.FAILED, Phase.CANCELLED, Phase.SCHEDULED}
    ),
    Phase.STAGE2_OPEN: frozenset({Phase.STAGE2_CLOSED, Phase.CANCELLED}),
    Phase.STAGE2_CLOSED: frozenset({Phase.FINAL}),
    Phase.FINAL: frozenset(),
    Phase.CANCELLED: frozenset(),
    Phase.FAILED: frozenset(),
}

TERMINAL = frozenset(p for p, nxt in TRANSITIONS.items() if not nxt)


def check_transition(current: Phase, target: Phase) -> None:
    """Raise InvalidTransition unless ``current -> target`` is in the table."""
    if target not in TRANSITIONS[current]:
        raise InvalidTransition(f"the auction is {current.value}; it cannot move to {target.value}")
