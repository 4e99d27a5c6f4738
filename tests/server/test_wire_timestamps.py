"""Acknowledgement times: ``server.timestamps.timestamp_out`` computes a Timestamp in integers
(every acknowledgement of every service pays for it); it must equal protobuf's own
``FromDatetime`` for every aware time, whether given as a datetime or as the engine's
ISO-8601 string. An acknowledgement written into a response in place
(``server.acks.ack_into``) is the one built whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given
from hypothesis import strategies as st

from closeout.v1 import auction_pb2 as pb
from closeout.v1 import common_pb2
from matching.eventsourcing import Ack
from server.acks import ack_into, ack_out
from server.timestamps import timestamp_out as timestamp

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


@given(
    moment=st.datetimes(timezones=ZONES),
    seq=st.integers(0, 2**40),
    client_order_id=st.text(max_size=20),
    answer=st.sampled_from(["limit", "market", "none"]),
)
def test_an_ack_written_in_place_is_the_ack_built_whole(
    moment: datetime, seq: int, client_order_id: str, answer: str
) -> None:
    """``ack_into`` fills a response's own ``ack`` field: the response is byte for byte
    the one built with a whole ``Ack`` (and ``ack_out`` still builds that Ack)."""
    ack = None if answer == "none" else Ack(seq, moment.isoformat(), client_order_id)
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    whole = (
        common_pb2.Ack()
        if ack is None
        else common_pb2.Ack(sequence=seq, accepted_at=stamp, client_order_id=client_order_id)
    )
    if answer == "market":
        expected: Any = pb.SubmitMarketResponse(ack=whole)
        filled: Any = pb.SubmitMarketResponse()
    else:
        expected = pb.SubmitLimitOrderResponse(ack=whole, order_id="D1/x")
        filled = pb.SubmitLimitOrderResponse(order_id="D1/x")
    ack_into(filled.ack, ack)
    assert filled.HasField("ack")
    assert filled.SerializeToString(deterministic=True) == expected.SerializeToString(
        deterministic=True
    )
    assert ack_out(ack) == whole
