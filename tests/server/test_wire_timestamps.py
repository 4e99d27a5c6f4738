"""Acknowledgement times: ``server.cds.wire.timestamp`` computes a Timestamp in integers
(every acknowledgement pays for it); it must equal protobuf's own ``FromDatetime`` for every
aware time, whether given as a datetime or as the engine's ISO-8601 string."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given
from hypothesis import strategies as st

from server.cds.wire import timestamp

ZONES = st.one_of(
    st.just(UTC),
    st.builds(lambda m: timezone(timedelta(minutes=m)), st.integers(-1439, 1439)),
)


@given(st.datetimes(timezones=ZONES))
def test_timestamp_equals_protobufs_own_conversion(moment: datetime) -> None:
    expected = Timestamp()
    expected.FromDatetime(moment)
    assert timestamp(moment) == expected
    assert timestamp(moment.isoformat()) == expected


def test_the_edges_of_the_epoch_and_a_naive_time() -> None:
    just_before = datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)
    assert (timestamp(just_before).seconds, timestamp(just_before).nanos) == (-1, 999_999_000)
    assert timestamp(datetime(1970, 1, 1, tzinfo=UTC)) == Timestamp()
    naive = datetime(2026, 3, 1, 12, 0, 0, 5)
    assert (timestamp(naive).seconds, timestamp(naive).nanos) == (1772366400, 5000)
