"""Idempotency records kept compactly (times as microseconds, fingerprints by index) give
back exactly the original acknowledgement, whatever shape the original time had, also after
a replay from the events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from matching.cds.auction import CdsAuction, _compact_at
from matching.errors import AlreadyExists
from matching.eventsourcing import iso, utc_text
from tests.cds.builders import Driver

ZONES = [UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=-5, minutes=-30))]


@pytest.mark.parametrize(
    "at",
    [
        "2026-11-21T14:22:28.123456+00:00",
        "2026-11-21T14:22:28.000001+00:00",
        "1960-01-01T00:00:00.999999+00:00",
        "2026-11-21T14:22:28+00:00",  # whole second: no fraction written
        "2026-11-21T14:22:28.000000+00:00",  # not what iso() writes, but a journal may hold it
        "2026-11-21T14:22:28.123456+01:00",
        "2026-11-21T14:22:28.123456Z",
        "not a time",
    ],
)
def test_a_compacted_time_expands_to_the_same_string(at: str) -> None:
    compact = _compact_at(at)
    assert (compact if isinstance(compact, str) else utc_text(compact)) == at


def _compact_by_round_trip(at: str) -> int | str:
    """The definition: microseconds when they give back the very same string."""
    if len(at) != 32 or at[19] != "." or not at.endswith("+00:00"):
        return at
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        return at
    micros = (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    return micros if utc_text(micros) == at else at


_TIMES = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
)


@given(
    st.one_of(
        _TIMES.map(lambda t: t.isoformat()),
        st.builds(
            lambda t, cut, text: (t.isoformat() + "." * 32)[:cut] + text,
            _TIMES,
            st.integers(0, 32),
            st.text(max_size=12),
        ),
        st.builds(  # one character of a well-shaped time changed
            lambda t, i, c: (lambda s: s[:i] + c + s[i + 1 :])(t.isoformat()),
            _TIMES,
            st.integers(0, 31),
            st.characters(),
        ),
        st.text(max_size=40),
    )
)
def test_compacting_is_exactly_the_round_trip_definition(at: str) -> None:
    assert _compact_at(at) == _compact_by_round_trip(at)
    assert _compact_at(at) == _compact_by_round_trip(at)  # and again, from the cache


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("micros", [0, 1, 123_456, 999_999])
def test_repeats_get_the_original_ack_byte_for_byte(zone: timezone, micros: int) -> None:
    d = Driver("AB")
    d.clock = datetime(2024, 1, 2, 9, 0, 0, micros, tzinfo=zone)
    d.stage1([("A", "39.5", "40.5"), ("B", "39.5", "40.5")], [("A", "BUY", 20_000_000)])
    d.open2()
    firsts = []
    for n in range(3):
        d.clock += timedelta(microseconds=n * 7)
        firsts.append(d.order("A", "OFFER", "40", 5_000_000))
    d.order("B", "OFFER", "40.25", 2_000_000)
    replayed = CdsAuction.from_events(d.events)
    for auction in (d.auction, replayed):
        for n, first in enumerate(firsts):
            again = auction.submit_limit_order(
                dealer="A",
                client_order_id=f"c{n + 4}",
                side="OFFER",
                price="40.000",
                size=5_000_000,
                now=d.now(),
            )
            assert first.ack is not None and again.ack is not None
            assert again.events == ()
            assert (again.ack.seq, again.ack.at, again.ack.duplicate) == (
                first.ack.seq,
                first.ack.at,
                True,
            )
        with pytest.raises(AlreadyExists):
            auction.submit_limit_order(
                dealer="A",
                client_order_id="c4",
                side="OFFER",
                price="40.25",
                size=5_000_000,
                now=d.now(),
            )
    assert replayed.snapshot() == d.auction.snapshot()


def test_refused_requests_do_not_grow_the_fingerprints() -> None:
    d = Driver("AB")
    d.stage1([("A", "39.5", "40.5"), ("B", "39.5", "40.5")], [("A", "BUY", 10_000_000)])
    d.open2()
    d.order("A", "OFFER", "40", 5_000_000)
    kept = len(d.auction._print_list)
    for n in range(50):
        with pytest.raises(AlreadyExists):
            d.auction.submit_limit_order(
                dealer="A",
                client_order_id="c4",
                side="OFFER",
                price="40",
                size=6_000_000 + n,
                now=d.now(),
            )
    assert len(d.auction._print_list) == kept


@given(
    st.datetimes(
        timezones=st.sampled_from([UTC, *ZONES, timezone(timedelta(0))]),
        allow_imaginary=False,
    )
)
def test_iso_writes_exactly_isoformat(now: datetime) -> None:
    """``iso`` writes UTC times from a remembered whole second: the text is ``isoformat``'s
    for every time (UTC or not, with or without microseconds), the first time and after."""
    assert iso(now) == now.isoformat()
    assert iso(now) == now.isoformat()
    assert iso(now.replace(microsecond=0)) == now.replace(microsecond=0).isoformat()
