"""The one table from domain error codes to gRPC status codes, and the rich-status abort.

Servicers either ``raise`` a :class:`matching.errors.DomainError` (the catch-all interceptor
turns it into a status through :func:`abort`) or call ``await abort(context, err)`` directly.
Field violations travel as a ``google.rpc.BadRequest`` detail in a ``google.rpc.Status``
(grpcio-status), which clients read with ``clients.errors.field_violations``; every domain
error also carries a ``google.rpc.ErrorInfo`` (domain ``closeout.v1``, a machine-readable
reason such as ``INVALID_INPUT`` or ``INVALID_TRANSITION`` and, for field violations, the
fields) so a program can branch without parsing messages.

This module must never decide whether something is an error (the engines do), and never put
anything but the domain error's own message and violations on the wire.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, NoReturn

import grpc
import grpc.aio
from google.protobuf import any_pb2

# googleapis-common-protos (via grpcio-status) ships no type information.
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped]
from grpc_status import rpc_status

from matching.errors import DomainError, ErrorCode

__all__ = [
    "ERROR_DOMAIN",
    "MALFORMED",
    "STATUS_FOR",
    "abort",
    "abort_with",
    "bounded",
    "reason_of",
    "rich_status",
]

#: ``google.rpc.ErrorInfo.domain`` of every refusal.
ERROR_DOMAIN = "closeout.v1"
#: What a request that does not decode as its method's message is told (INVALID_ARGUMENT).
MALFORMED = "malformed request: not a valid protobuf message for this method"

#: THE table. Every ErrorCode has exactly one status; a test checks that none is missing.
STATUS_FOR: MappingProxyType[ErrorCode, grpc.StatusCode] = MappingProxyType(
    {
        ErrorCode.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
        ErrorCode.FAILED_PRECONDITION: grpc.StatusCode.FAILED_PRECONDITION,
        ErrorCode.PERMISSION_DENIED: grpc.StatusCode.PERMISSION_DENIED,
        ErrorCode.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
        ErrorCode.ALREADY_EXISTS: grpc.StatusCode.ALREADY_EXISTS,
        ErrorCode.RESOURCE_EXHAUSTED: grpc.StatusCode.RESOURCE_EXHAUSTED,
        ErrorCode.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    }
)


def reason_of(err: DomainError) -> str:
    """The ErrorInfo reason of ``err``: its class's ``REASON`` if it names one, else its class
    name in UPPER_SNAKE_CASE (``NOT_FOUND``)."""
    explicit = getattr(err, "REASON", None)
    if isinstance(explicit, str):
        return explicit
    name = type(err).__name__
    return "".join(f"_{c}" if c.isupper() and i else c for i, c in enumerate(name)).upper()


#: What a refusal may carry, in bytes, so that a client with gRPC's default metadata limits
#: (8 KiB soft) reads it whole: the message (sent twice: ``grpc-message``, percent-encoded,
#: and inside the status), each violation's field and description, and the status as a whole
#: (``grpc-status-details-bin``, base64).
MAX_MESSAGE_BYTES = 400
MAX_FIELD_BYTES = 200
MAX_DESCRIPTION_BYTES = 200
MAX_DETAILS_BYTES = 4_400


def bounded(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes (on a character boundary), marked with
    an ellipsis and the count of what was cut; refusals quote the offending input, which
    may be a megabyte long."""
    raw = text.encode()
    if len(raw) <= limit:
        return text
    room = max(0, limit - len(f"... ({len(raw):,} more bytes)"))
    kept = raw[:room].decode(errors="ignore")
    return f"{kept}... ({len(raw) - len(kept.encode()):,} more bytes)"


def rich_status(err: DomainError) -> grpc.Status:
    """The grpc.Status (code, message, ``grpc-status-details-bin`` trailer) for ``err``,
    within the bounds above: the message and every quoted value cut to size, and the
    violations listed in order while they fit (the message then says how many are listed;
    it counts them all already, as every refusal of several fields does)."""
    code: grpc.StatusCode = STATUS_FOR[err.code]
    violations = [
        error_details_pb2.BadRequest.FieldViolation(
            field=bounded(v.field, MAX_FIELD_BYTES),
            description=bounded(v.description, MAX_DESCRIPTION_BYTES),
        )
        for v in err.violations
    ]
    message = bounded(err.message, MAX_MESSAGE_BYTES)
    listed = _fitting(message, violations)
    if listed < len(violations):
        note = f" [the details list the first {listed}]"
        message = bounded(err.message, MAX_MESSAGE_BYTES - len(note.encode())) + note
    status = _status(code, message, err, violations[:listed])
    result: grpc.Status = rpc_status.to_status(status)
    return result


def _status(
    code: grpc.StatusCode,
    message: str,
    err: DomainError,
    violations: list[Any],
) -> Any:
    status = status_pb2.Status(code=code.value[0], message=message)
    if violations:
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.BadRequest(field_violations=violations))
        status.details.append(detail)
    info = any_pb2.Any()
    metadata = {"fields": ",".join(v.field for v in violations)} if violations else {}
    info.Pack(
        error_details_pb2.ErrorInfo(reason=reason_of(err), domain=ERROR_DOMAIN, metadata=metadata)
    )
    status.details.append(info)
    return status


def _fitting(message: str, violations: list[Any]) -> int:
    """How many of ``violations`` (in order) fit the status within MAX_DETAILS_BYTES."""
    # Each violation costs its own bytes in the BadRequest and its field again in the
    # ErrorInfo's list of fields (with framing); the rest is the message and the envelope.
    budget = MAX_DETAILS_BYTES - len(message.encode()) - 200
    count = 0
    for violation in violations:
        cost = violation.ByteSize() + 6 + len(violation.field.encode()) + 1
        if cost > budget:
            break
        budget -= cost
        count += 1
    return count


async def abort(context: grpc.aio.ServicerContext, err: DomainError) -> NoReturn:
    """End the RPC with the status the table gives ``err``, with its field violations."""
    status = rich_status(err)
    await context.abort(status.code, status.details, status.trailing_metadata)
    raise AssertionError("unreachable: context.abort raises")  # pragma: no cover


async def abort_with(
    context: grpc.aio.ServicerContext, code: grpc.StatusCode, message: str
) -> NoReturn:
    """End the RPC with a plain status; for refusals that are not domain errors (auth)."""
    status = status_pb2.Status(code=code.value[0], message=bounded(message, MAX_MESSAGE_BYTES))
    rich: grpc.Status = rpc_status.to_status(status)
    await context.abort(rich.code, rich.details, rich.trailing_metadata)
    raise AssertionError("unreachable: context.abort raises")  # pragma: no cover
