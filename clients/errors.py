"""Read the rich error details (google.rpc.Status) a Closeout server attaches to refusals.

A refusal with field violations carries a ``google.rpc.BadRequest`` detail in the
``grpc-status-details-bin`` trailer; :func:`field_violations` returns them so a client can
name the offending fields. This module speaks only the wire format: it must never import
``server`` (clients and the server share nothing but the wire API).
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc
import grpc.aio

# googleapis-common-protos (via grpcio-status) ships no type information.
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped]

__all__ = ["FieldViolation", "field_violations", "rich_status"]

_DETAILS_KEY = "grpc-status-details-bin"


@dataclass(frozen=True)
class FieldViolation:
    """One offending request field (``markets[2].bid``) and the rule it broke."""

    field: str
    description: str


def rich_status(err: grpc.aio.AioRpcError | grpc.RpcError) -> status_pb2.Status | None:
    """The google.rpc.Status in the error's trailers, or None when the server sent none."""
    trailers = err.trailing_metadata() if hasattr(err, "trailing_metadata") else None
    for key, value in trailers or ():
        if key == _DETAILS_KEY and isinstance(value, bytes):
            status = status_pb2.Status()
            status.ParseFromString(value)
            return status
    return None


def field_violations(err: grpc.aio.AioRpcError | grpc.RpcError) -> list[FieldViolation]:
    """Every BadRequest field violation in the error, in order; empty when there are none."""
    status = rich_status(err)
    if status is None:
        return []
    found: list[FieldViolation] = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            found.extend(FieldViolation(v.field, v.description) for v in bad.field_violations)
    return found
