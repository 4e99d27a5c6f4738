"""Pro-rata allocation, exact, integer-only, deterministic: two rules, one module.

``pro_rata`` (whole currency units, what the default waterfall uses): each claimant gets
floor(amount x size / total); the units left over go one each to the largest fractional
remainders, ties to the earlier submission (lower ``seq``) and then to the lower key. The
shares sum exactly to the amount.

``pro_rata_rounded`` (the CDS auction, ISDA's Rounding Convention): the Auction Settlement
Terms allocate an amount over orders (or settlement requests) pro rata to their sizes, each
share **rounded down** to a multiple of the auction's rounding amount (USD and EUR 1,000;
JPY 100,000). What that leaves is handed out **one rounding
amount at a time**, to the largest claim first (identical claims: the one received first,
the lower ``seq``), never beyond a claim's size; passes repeat while a whole rounding
amount is left and some claim has room for one. What is still left (below one rounding
amount, unless no claim had room) is the **residue**: disregarded, not allocated, and
reported by the caller. Example (Hertz 2020): 111,525,000 x 42/118.5 = 39,527,848 ->
39,527,000, plus one unit as the largest order -> 39,528,000.

Claims allocated their whole amount (``amount == total``) are not pro rata: every claim gets
its size and there is no residue.

No I/O; never a float.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Above this many claims the hand-out order is sorted with numpy (same order).
_VECTOR_FROM = 1000


@dataclass(frozen=True, slots=True)
class Claim:
    """One claimant's share basis: ``size`` weights it, ``seq`` (receipt) then ``key`` break
    ties among claims of the same size."""

    key: str
    size: int
    seq: int


@dataclass(frozen=True, slots=True)
class Allocation:
    """Shares aligned with the claims, and the residue left unallocated."""

    shares: list[int]
    residue: int


def pro_rata(amount: int, claims: Sequence[Claim]) -> list[int]:
    """Split ``amount`` over ``claims`` in proportion to size, in whole units, largest
    remainders first; result aligned with ``claims``, summing exactly to ``amount``.

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


def pro_rata_rounded(amount: int, claims: Sequence[Claim], unit: int) -> Allocation:
    """Split ``amount`` over ``claims`` in proportion to size under the Rounding Convention.

    Requires ``0 <= amount <= sum(sizes)`` (nobody is allocated more than its size) and a
    positive ``unit`` (the rounding amount).
    """
    if unit <= 0:
        raise ValueError(f"the rounding amount must be positive, not {unit}")
    sizes = [c.size for c in claims]
    total = sum(sizes)
    if amount < 0 or amount > total:
        raise ValueError(f"cannot allocate {amount} over claims totalling {total}")
    if amount == total:
        return Allocation(sizes, 0)
    shares = [(amount * size // total) // unit * unit for size in sizes]
    left = amount - sum(shares)
    if left >= unit:
        order = _hand_out_order(claims)
        while left >= unit:
            handed = 0
            for i in order:
                if left < unit:
                    break
                if sizes[i] - shares[i] >= unit:
                    shares[i] += unit
                    left -= unit
                    handed += 1
            if not handed:
                break
    return Allocation(shares, left)


def _hand_out_order(claims: Sequence[Claim]) -> list[int]:
    """Indices largest size first; equal sizes: received first (lower seq), then key."""
    n = len(claims)
    seqs = [c.seq for c in claims]
    if n >= _VECTOR_FROM and len(set(seqs)) == n and max(c.size for c in claims) < 2**62:
        sizes = np.array([c.size for c in claims], dtype=np.int64)
        order: list[int] = np.lexsort((np.array(seqs, dtype=np.int64), -sizes)).tolist()
        return order
    return sorted(range(n), key=lambda i: (-claims[i].size, claims[i].seq, claims[i].key))
