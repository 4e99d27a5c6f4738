"""The Rounding Convention's hand-out order is the same whether sorted in Python or numpy."""

from __future__ import annotations

import random

import pytest

from matching.allocation import Claim, pro_rata_rounded


def reference(amount: int, claims: list[Claim], unit: int) -> tuple[list[int], int]:
    """The convention spelled out plainly: floor to the unit, then one unit at a time to the
    largest claim first (equal sizes: lower seq), never beyond a claim's size."""
    total = sum(c.size for c in claims)
    if amount == total:
        return [c.size for c in claims], 0
    shares = [(amount * c.size // total) // unit * unit for c in claims]
    left = amount - sum(shares)
    order = sorted(range(len(claims)), key=lambda i: (-claims[i].size, claims[i].seq))
    progress = True
    while left >= unit and progress:
        progress = False
        for i in order:
            if left >= unit and claims[i].size - shares[i] >= unit:
                shares[i] += unit
                left -= unit
                progress = True
    return shares, left


@pytest.mark.parametrize("seed", range(6))
def test_vectorised_hand_out_equals_the_plain_rule(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.choice([5, 999, 1000, 3000])
    seqs = rng.sample(range(1, 10 * n), n)
    claims = [
        Claim(f"d{i % 7}/o{i}", rng.choice([1, 3, 7]) * 1_000_000 + rng.choice([0, 500]), seqs[i])
        for i in range(n)
    ]
    total = sum(c.size for c in claims)
    for amount in (0, 1, total // 3, total // 3 + 1, total - 1, total):
        for unit in (1, 1_000, 100_000):
            got = pro_rata_rounded(amount, claims, unit)
            assert (got.shares, got.residue) == reference(amount, claims, unit)
