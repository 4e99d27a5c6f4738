"""Timestamps on the wire, both ways: a ``google.protobuf.Timestamp`` field as an aware UTC
datetime (:func:`timestamp_in`), and a time as a Timestamp (:func:`timestamp_out`).

The one place that checks a request's timestamps: seconds within years 0001-9999 (what a
``datetime`` can hold, and what the Timestamp type itself allows) and nanos within a second;
anything else is INVALID_ARGUMENT naming the field, never an overflow deep in a conversion.
Sub-microsecond nanos are refused rather than truncated (a datetime holds microseconds).

This module must never read the clock or decide whether a time is in the past.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from matching.errors import InvalidInput
from matching.eventsourcing import utc_micros

__all__ = ["MAX_SECONDS", "MIN_SECONDS", "stamp_into", "timestamp_in", "timestamp_out"]

#: 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z in seconds since the epoch.
MIN_SECONDS = -62_135_596_800
MAX_SECONDS = 253_402_300_799


def timestamp_in(msg: Any, name: str, field: str | None = None) -> datetime | None:
    """The optional Timestamp field ``name`` of ``msg`` (None if unset); ``field`` names it in
    errors (default ``name``)."""
    if not msg.HasField(name):
        return None
    stamp: Timestamp = getattr(msg, name)
    where = field or name
    if not MIN_SECONDS <= stamp.seconds <= MAX_SECONDS:
        raise InvalidInput(where, "out of range: must be within years 0001-9999 UTC")
    if not 0 <= stamp.nanos <= 999_999_999:
        raise InvalidInput(where, "nanos must be within 0..999999999")
    if stamp.nanos % 1000:
        raise InvalidInput(where, "finer than a microsecond is not supported")
    try:
        return stamp.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):  # the edges of the range in some time zones
        raise InvalidInput(where, "out of range: must be within years 0001-9999 UTC") from None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def timestamp_out(value: datetime | str) -> Timestamp:
    """A Timestamp from a datetime or an ISO-8601 string (what ``FromDatetime`` gives)."""
    stamp = Timestamp()
    stamp_into(stamp, value)
    return stamp


def stamp_into(stamp: Timestamp, value: datetime | str) -> None:
    """Set ``stamp`` (a fresh message or a response's own field) to ``value``."""
    # The engines' UTC times are read once per distinct second (every acknowledgement).
    micros = utc_micros(value) if type(value) is str else None
    if micros is not None:
        seconds, rest = divmod(micros, 1_000_000)
        stamp.seconds = seconds
        stamp.nanos = rest * 1000
        return
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        stamp.FromDatetime(moment)  # naive: protobuf takes it as UTC
        return
    # Timestamp.FromDatetime's arithmetic (every acknowledgement pays it), in integers:
    # whole seconds since the epoch rounded down, and the microseconds after them.
    seconds, micros = divmod((moment - _EPOCH) // _MICROSECOND, 1_000_000)
    stamp.seconds = seconds
    stamp.nanos = micros * 1000
