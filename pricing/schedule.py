"""Payment schedules generated backward from maturity, for many swaps at once.

QuantLib's ``DateGeneration::Backward`` rule, vectorised: dates step back from the
(unadjusted) maturity by whole periods; an odd remainder becomes a short front stub; dates
that would coincide after adjustment are skipped; intermediate dates follow the end-of-month
rule when the maturity is a month end; the start is adjusted with the business-day
convention and the maturity with the termination convention. Schedules come back in one
flat array with offsets (CSR layout), and identical requests are generated once. This module
must never price anything.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pricing.calendars import BusinessDay, Calendar
from pricing.dates import IntArray, add_months, days_in_month, split_ymd, ymd_to_ordinal
from pricing.errors import PricingInputError

_KEY = 1 << 20


@dataclass(frozen=True)
class Schedules:
    """Schedule ``i`` is ``dates[offsets[i]:offsets[i + 1]]`` (adjusted, increasing)."""

    dates: IntArray
    offsets: IntArray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def dates_of(self, i: int) -> IntArray:
        """Dates of schedule ``i``."""
        return self.dates[self.offsets[i] : self.offsets[i + 1]]

    def periods(self) -> tuple[IntArray, IntArray, IntArray]:
        """(schedule index, period start, period end) of every period, flattened."""
        counts = np.diff(self.offsets)
        owner = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
        is_last = np.zeros(len(self.dates), dtype=bool)
        is_last[self.offsets[1:] - 1] = True
        starts_at = np.flatnonzero(~is_last)
        return owner[starts_at], self.dates[starts_at], self.dates[starts_at + 1]


def backward_schedules(
    effective: IntArray,
    termination: IntArray,
    tenor_months: int,
    calendar: Calendar,
    convention: BusinessDay,
    termination_convention: BusinessDay,
    end_of_month: bool,
    dedupe: bool = True,
) -> Schedules:
    """Generate one backward schedule per (effective, termination) pair.

    Identical pairs are generated once and shared (the cache the brief asks for); pass
    ``dedupe=False`` when the pairs are known to be distinct.
    """
    effective = np.asarray(effective, dtype=np.int64)
    termination = np.asarray(termination, dtype=np.int64)
    if tenor_months <= 0:
        raise PricingInputError("frequency", "the period must be at least one month")
    if np.any(termination <= effective):
        raise PricingInputError("maturity", "maturity must be after the start date")
    if not dedupe:
        return _generate(
            effective,
            termination,
            tenor_months,
            calendar,
            convention,
            termination_convention,
            end_of_month,
        )
    # One int64 key per pair (day numbers are below 10^6): a 1-D unique is much faster.
    keys = effective * _KEY + termination
    unique, inverse = np.unique(keys, return_inverse=True)
    inverse = inverse.reshape(-1)
    base = _generate(
        unique // _KEY,
        unique % _KEY,
        tenor_months,
        calendar,
        convention,
        termination_convention,
        end_of_month,
    )
    if len(unique) == len(keys) and np.all(inverse == np.arange(len(keys))):
        return base
    counts = np.diff(base.offsets)[inverse]
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    src = np.repeat(base.offsets[:-1][inverse], counts) + (
        np.arange(offsets[-1], dtype=np.int64) - np.repeat(offsets[:-1], counts)
    )
    return Schedules(base.dates[src], offsets)


def _generate(
    effective: IntArray,
    termination: IntArray,
    tenor: int,
    calendar: Calendar,
    convention: BusinessDay,
    termination_convention: BusinessDay,
    end_of_month: bool,
) -> Schedules:
    n = len(effective)
    ys, ms, _ = split_ymd(effective)
    ye, me, _ = split_ymd(termination)
    month_gap = (ye * 12 + me) - (ys * 12 + ms)
    # Candidates k = 0 .. month_gap // tenor + 1 always reach back past the effective date.
    cand = month_gap // tenor + 2
    owner = np.repeat(np.arange(n, dtype=np.int64), cand)
    first = np.concatenate([[0], np.cumsum(cand)[:-1]]).astype(np.int64)
    k = np.arange(int(cand.sum()), dtype=np.int64) - np.repeat(first, cand)
    seed = termination[owner]
    temp = add_months(seed, -k * tenor, np.full(len(k), end_of_month))
    keep = (k == 0) | (temp >= effective[owner])
    adj = calendar.adjust(temp, convention)
    prev_adj = np.concatenate([[-1], adj[:-1]])
    prev_keep = np.concatenate([[False], keep[:-1]])
    keep &= ~((k >= 1) & prev_keep & (adj == prev_adj))
    # The front stub: QuantLib adds the effective date unless the last generated date
    # already adjusts onto it.
    kept_idx = np.flatnonzero(keep)
    k_owner = owner[kept_idx]
    # k = 0 is always kept, so every schedule has kept dates, grouped and in k order.
    kept_count = np.bincount(k_owner, minlength=n).astype(np.int64)
    last_kept = kept_idx[np.cumsum(kept_count) - 1]
    need_stub = adj[last_kept] != calendar.adjust(effective, convention)

    # Place each schedule's dates in increasing order without a sort: kept dates come in
    # (schedule, k ascending) order, so date rank r lands at the schedule's end minus r.
    counts = kept_count + need_stub
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    kept_first = np.concatenate([[0], np.cumsum(kept_count)[:-1]]).astype(np.int64)
    rank = np.arange(len(kept_idx), dtype=np.int64) - kept_first[k_owner]
    s_date = np.empty(int(offsets[-1]), dtype=np.int64)
    s_adj = np.empty(int(offsets[-1]), dtype=np.int64)
    s_owner = np.empty(int(offsets[-1]), dtype=np.int64)
    pos = offsets[k_owner] + counts[k_owner] - 1 - rank
    s_date[pos] = temp[kept_idx]
    s_adj[pos] = adj[kept_idx]
    s_owner[pos] = k_owner
    stubs = np.flatnonzero(need_stub)
    s_date[offsets[stubs]] = effective[stubs]
    s_owner[offsets[stubs]] = stubs

    fronts, backs = offsets[:-1], offsets[1:] - 1
    if end_of_month:
        # Intermediate dates move to the month's last business day when the maturity is one.
        eom_seed = calendar.is_end_of_month(termination).astype(bool)[s_owner]
        y, m, _ = split_ymd(s_date)
        month_last = ymd_to_ordinal(y, m, days_in_month(y, m))
        dates = calendar.adjust(np.where(eom_seed, month_last, s_date), convention)
    else:
        # Intermediate dates are the candidates' adjusted dates already computed.
        dates = s_adj
    # The first date adjusts with the convention, the last with the termination convention.
    dates[fronts] = calendar.adjust(s_date[fronts], convention)
    dates[backs] = calendar.adjust(s_date[backs], termination_convention)
    # QuantLib's final safety checks: drop a next-to-last date at or after the last one,
    # then a second date at or before the first.
    drop = np.zeros(len(dates), dtype=bool)
    ntl = offsets[1:] - 2
    bad = (counts >= 3) & (dates[np.maximum(ntl, 0)] >= dates[offsets[1:] - 1])
    drop[ntl[bad]] = True
    second = offsets[:-1] + 1
    bad2 = (counts >= 3) & (dates[np.minimum(second, len(dates) - 1)] <= dates[offsets[:-1]])
    drop[second[bad2]] = True
    if drop.any():
        dates = dates[~drop]
        counts = counts - np.bincount(s_owner[drop], minlength=n)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return Schedules(dates.astype(np.int64), offsets)
