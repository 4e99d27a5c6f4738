"""The one domain-error table, and the rich status built from a domain error."""

from __future__ import annotations

from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped]

from matching.errors import (
    AlreadyExists,
    DomainError,
    ErrorCode,
    FieldViolation,
    InvalidInput,
    InvalidTransition,
    LimitExceeded,
    NotFound,
    NotPermitted,
)
from server.errors import STATUS_FOR, rich_status
from server.request_checks import InvalidRequest


def test_every_error_code_has_exactly_one_status() -> None:
    assert set(STATUS_FOR) == set(ErrorCode)
    assert len(set(STATUS_FOR.values())) == len(ErrorCode)


def test_each_domain_error_maps_to_its_status() -> None:
    cases: list[tuple[DomainError, grpc.StatusCode]] = [
        (InvalidInput("bid", "off grid"), grpc.StatusCode.INVALID_ARGUMENT),
        (InvalidTransition("window closed"), grpc.StatusCode.FAILED_PRECONDITION),
        (NotPermitted("not on the panel"), grpc.StatusCode.PERMISSION_DENIED),
        (NotFound("no such auction"), grpc.StatusCode.NOT_FOUND),
        (AlreadyExists("client order id reused"), grpc.StatusCode.ALREADY_EXISTS),
        (LimitExceeded("too many orders"), grpc.StatusCode.RESOURCE_EXHAUSTED),
    ]
    for err, code in cases:
        assert rich_status(err).code == code


def test_violations_travel_as_bad_request_detail() -> None:
    err = DomainError(
        "two problems",
        (FieldViolation("markets[0].bid", "negative"), FieldViolation("size", "zero")),
    )
    status = rich_status(err)
    assert status.details == "two problems"
    trailers = dict(status.trailing_metadata)
    decoded = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
    assert decoded.message == "two problems"
    bad = error_details_pb2.BadRequest()
    assert decoded.details[0].Unpack(bad)
    assert [(v.field, v.description) for v in bad.field_violations] == [
        ("markets[0].bid", "negative"),
        ("size", "zero"),
    ]
    info = error_details_pb2.ErrorInfo()
    assert decoded.details[1].Unpack(info)
    assert (info.reason, dict(info.metadata)) == ("DOMAIN_ERROR", {"fields": "markets[0].bid,size"})


def test_no_bad_request_without_violations_and_always_an_error_info() -> None:
    status = rich_status(NotFound("no such auction"))
    decoded = status_pb2.Status.FromString(
        dict(status.trailing_metadata)["grpc-status-details-bin"]
    )
    assert [d.type_url.rsplit("/", 1)[-1] for d in decoded.details] == ["google.rpc.ErrorInfo"]
    info = error_details_pb2.ErrorInfo()
    assert decoded.details[0].Unpack(info)
    assert (info.reason, info.domain) == ("NOT_FOUND", "closeout.v1")


def test_a_refusal_fits_a_default_clients_metadata_limit() -> None:
    """150 invalid fields quoting long values: the trailer stays under gRPC's default 8 KiB
    soft limit (base64 details plus the percent-encoded message), the violations listed in
    order while they fit, and the message says how many the details list."""
    violations = [
        FieldViolation(f"swaps[{i}].notional", "must not be negative " * 5) for i in range(150)
    ]
    status = rich_status(InvalidRequest(violations))
    trailer = sum(len(k) + len(v) for k, v in status.trailing_metadata)
    assert trailer + 3 * len(status.details.encode()) < 8_000
    bad_request = [d for d in _details(status) if d.Is(error_details_pb2.BadRequest.DESCRIPTOR)]
    listed = error_details_pb2.BadRequest()
    bad_request[0].Unpack(listed)
    fields = [v.field for v in listed.field_violations]
    assert 20 <= len(fields) < 100
    assert fields == [f"swaps[{i}].notional" for i in range(len(fields))]
    assert status.details.startswith("150 invalid fields (the first 100 listed): ")
    assert status.details.endswith(f"[the details list the first {len(fields)}]")


def test_a_quoted_input_of_a_megabyte_is_cut_in_the_refusal() -> None:
    status = rich_status(NotFound(f"no auction {'😀' * 250_000!r}"))
    assert status.details.startswith("no auction '😀")
    assert len(status.details.encode()) <= 400
    assert status.details.endswith("more bytes)")
    field = InvalidInput(f"currency_rates[{'K' * 100_000}]", "x" * 100_000)
    status = rich_status(field)
    assert sum(len(k) + len(v) for k, v in status.trailing_metadata) < 8_000


def _details(status: grpc.Status) -> list[Any]:
    for key, value in status.trailing_metadata:
        if key == "grpc-status-details-bin":
            return list(status_pb2.Status.FromString(value).details)
    raise AssertionError("no details")
