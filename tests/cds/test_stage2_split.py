"""The vectorised pro-rata split of stage 2's marginal level is the shared rule, exactly."""

from __future__ import annotations

import random

import pytest

from matching.allocation import Claim, pro_rata
from matching.book import BookOrder
from matching.cds.stage2 import _split


@pytest.mark.parametrize("seed", range(6))
def test_split_equals_pro_rata(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.choice([5, 999, 1000, 3000])
    seqs = rng.sample(range(1, 10 * n), n)
    orders = [
        BookOrder(f"d{i % 7}/o{i}", f"d{i % 7}", 300, rng.choice([1, 3, 7]) * 1_000_000, seqs[i])
        for i in range(n)
    ]
    total = sum(o.size for o in orders)
    for amount in (0, 1, total // 3, total // 3 + 1, total - 1, total):
        expected = pro_rata(amount, [Claim(o.order_id, o.size, o.seq) for o in orders])
        assert _split(amount, orders) == expected
