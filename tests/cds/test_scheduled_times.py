"""``check_scheduled``: the one rule for a window's scheduled times in both auction kinds
(CDS stages, a default auction's bid window): within a year of the server's time, and a
close after it. The boundaries exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from matching.errors import InvalidInput
from matching.eventsourcing import SCHEDULE_HORIZON, check_scheduled

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
TICK = timedelta(microseconds=1)


@pytest.mark.parametrize("closes", [False, True])
def test_times_up_to_the_horizon_pass_and_none_is_by_hand(closes: bool) -> None:
    for value in (None, NOW + TICK, NOW + SCHEDULE_HORIZON):
        check_scheduled("schedule.t", value, NOW, closes=closes)


@pytest.mark.parametrize("closes", [False, True])
def test_a_time_past_the_horizon_is_refused(closes: bool) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_scheduled("schedule.t", NOW + SCHEDULE_HORIZON + TICK, NOW, closes=closes)
    assert refused.value.field == "schedule.t"
    assert "within 366 days" in refused.value.description


def test_a_close_at_or_before_the_server_time_is_refused_an_opening_is_not() -> None:
    for value in (NOW, NOW - TICK):
        with pytest.raises(InvalidInput, match="after the server's time"):
            check_scheduled("schedule.close", value, NOW, closes=True)
        check_scheduled("schedule.open", value, NOW, closes=False)  # an opening may be past
