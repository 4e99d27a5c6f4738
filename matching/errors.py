"""Domain errors of the engines: a few types, each saying who raises it and what the caller does.

Every error carries an :class:`ErrorCode`; the server maps codes to gRPC status codes through
one table (``server/errors.py``), the CLI maps them to messages and exit codes. An engine
raises before it changes anything, so a refused command never alters state.

This module must never import grpc or know about transport.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ErrorCode(enum.Enum):
    """What kind of refusal this is; one gRPC status per member (see server/errors.py)."""

    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    FAILED_PRECONDITION = "FAILED_PRECONDITION"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"
    UNAVAILABLE = "UNAVAILABLE"


@dataclass(frozen=True)
class FieldViolation:
    """One offending field: its path in the request (``markets[2].bid``) and the broken rule."""

    field: str
    description: str


class DomainError(Exception):
    """Base of every refusal an engine makes. Caller: report it; state is unchanged."""

    code: ErrorCode = ErrorCode.FAILED_PRECONDITION

    def __init__(self, message: str, violations: tuple[FieldViolation, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.violations = violations

    def __reduce__(self) -> tuple[object, ...]:
        # Picklable whatever a subclass's __init__ takes (errors cross process boundaries).
        return (_rebuilt, (type(self), self.args, dict(self.__dict__)))


class InvalidInput(DomainError):
    """Raised for input that breaks a rule on its own (off grid, negative, spread too wide).

    Caller: fix the named field and resubmit.
    """

    code = ErrorCode.INVALID_ARGUMENT

    def __init__(self, field: str, description: str) -> None:
        super().__init__(f"{field}: {description}", (FieldViolation(field, description),))
        self.field = field
        self.description = description


class InvalidTransition(DomainError):
    """Raised when a command does not fit the auction's phase (window closed, not yet open).

    Caller: wait for the right phase; resubmitting now fails the same way.
    """

    code = ErrorCode.FAILED_PRECONDITION


class NotPermitted(DomainError):
    """Raised when the participant may not do this (not on the panel, not eligible, sealed book).

    Caller: nothing to retry; the participant lacks the right.
    """

    code = ErrorCode.PERMISSION_DENIED


class NotFound(DomainError):
    """Raised when the named auction, order or submission does not exist (for this caller)."""

    code = ErrorCode.NOT_FOUND


class AlreadyExists(DomainError):
    """Raised when a client order id is reused with different content, or an id is taken."""

    code = ErrorCode.ALREADY_EXISTS


class LimitExceeded(DomainError):
    """Raised when a configured limit (orders per dealer, message size) would be passed."""

    code = ErrorCode.RESOURCE_EXHAUSTED


class Unavailable(DomainError):
    """Raised when the work could not be done now, through no fault of the request (the
    process computing it stopped). Nothing was changed.

    Caller: retry the same request later.
    """

    code = ErrorCode.UNAVAILABLE


def _rebuilt(
    cls: type[DomainError], args: tuple[object, ...], state: dict[str, object]
) -> DomainError:
    """An unpickled DomainError: the same class, arguments and fields."""
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


#: A refusal lists at most this many problems (its message counts them all).
MAX_LISTED_PROBLEMS = 100


def refusal_of(problems: list[tuple[str, DomainError]]) -> DomainError:
    """One refusal for several problems found in one request, each ``(where, error)``
    (``where`` empty: the error names its whole field already).

    One problem is refused as it was raised, named by ``where``. Several keep the first's
    type (hence status) and list the first :data:`MAX_LISTED_PROBLEMS` as field violations,
    each named by where it is (``positions[12].terms.notional``); the message counts all.
    """
    listed: list[FieldViolation] = []
    for where, error in problems[:MAX_LISTED_PROBLEMS]:
        if isinstance(error, InvalidInput):
            field = f"{where}.{error.field}" if where else error.field
            listed.append(FieldViolation(field, error.description))
        else:
            listed.append(FieldViolation(where, error.message))
    where, first = problems[0]
    if len(problems) == 1:
        if isinstance(first, InvalidInput):
            return InvalidInput(listed[0].field, listed[0].description)
        return type(first)(f"{where}: {first.message}" if where else first.message)
    count = f"{len(problems)} problems" + (
        f" (the first {MAX_LISTED_PROBLEMS} listed)" if len(problems) > MAX_LISTED_PROBLEMS else ""
    )
    head = listed[0]
    message = f"{count}; the first: " + (
        f"{head.field}: {head.description}" if head.field else head.description
    )
    if isinstance(first, InvalidInput):
        refused = InvalidInput(listed[0].field, listed[0].description)
        refused.message = message
        refused.args = (message,)
        refused.violations = tuple(listed)
        return refused
    return type(first)(message, tuple(listed))
