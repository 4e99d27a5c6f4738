"""Pro-rata allocation in whole currency units that sums exactly to the amount allocated.

Each claimant first gets floor(amount x size / total); the units left over go one each to
the largest fractional remainders, ties to the earlier submission (lower ``seq``) and then to
the lower key. Deterministic, exact, integer-only: the same inputs give the same split on
every machine and every replay.

No I/O; never a float.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Claim:
    """One claimant's share basis: ``size`` weights it, ``seq`` and ``key`` break ties."""

    key: str
    size: int
    seq: int


def pro_rata(amount: int, claims: Sequence[Claim]) -> list[int]:
    """Split ``amount`` over ``claims`` in proportion to size; result aligned with ``claims``.

    Requires ``0 <= amount <= sum(sizes)`` so that nobody is allocated more than its size.
    """
    total = sum(c.size for c in claims)
    if amount < 0 or amount > total:
        raise ValueError(f"cannot allocate {amount} over claims totalling {total}")
    if amount == total:
        return [c.size for c in claims]
    shares = [amount * c.size // total for c in claims]
    left = amount - sum(shares)
    if left:
        by_remainder = sorted(
            range(len(claims)),
            key=lambda i: (-(amount * claims[i].size % total), claims[i].seq, claims[i].key),
        )
        for i in by_remainder[:left]:
            shares[i] += 1
    return shares
