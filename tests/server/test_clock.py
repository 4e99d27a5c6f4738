"""The fake clock moves only forward and only when told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.clock import FakeClock, SystemClock


def test_fake_clock_moves_when_told() -> None:
    clock = FakeClock(datetime(2026, 3, 20, 10, 0, tzinfo=UTC))
    assert clock.now() == clock.now()
    assert clock.advance(timedelta(minutes=10)) == datetime(2026, 3, 20, 10, 10, tzinfo=UTC)
    clock.set(datetime(2026, 3, 20, 12, 0, tzinfo=UTC))
    assert clock.now().hour == 12


def test_fake_clock_never_goes_backwards() -> None:
    clock = FakeClock()
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(timedelta(seconds=-1))
    with pytest.raises(ValueError, match="backwards"):
        clock.set(clock.now() - timedelta(seconds=1))
    with pytest.raises(ValueError, match="aware"):
        FakeClock(datetime(2026, 1, 1))


def test_system_clock_is_aware_utc() -> None:
    assert SystemClock().now().tzinfo is UTC
