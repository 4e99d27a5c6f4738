"""Timestamps from the wire: a ``google.protobuf.Timestamp`` field as an aware UTC datetime.

The one place that checks a request's timestamps: seconds within years 0001-9999 (what a
``datetime`` can hold, and what the Timestamp type itself allows) and nanos within a second;
anything else is INVALID_ARGUMENT naming the field, never an overflow deep in a conversion.
Sub-microsecond nanos are refused rather than truncated (a datetime holds microseconds).

This module must never read the clock or decide whether a time is in the past.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from matching.errors import InvalidInput

__all__ = ["MAX_SECONDS", "MIN_SECONDS", "timestamp_in"]

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
