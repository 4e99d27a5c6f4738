"""The one domain-error table, and the rich status built from a domain error."""

from __future__ import annotations

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
