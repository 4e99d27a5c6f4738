"""Structured logs: one line per business event, JSON for machines, text on a terminal.

The registries hand every batch of events to :func:`log_durable` once the commit holding it
is durable; the table :data:`_BUSINESS` names the events operations care about (auction
created, window opened and closed, results published, default declared, lot awarded, ...)
and picks the fields that are safe to log. The interceptor calls :func:`log_refusal` for
every refused call (method, status, participant, auction id). Every line carries the
correlation id of the call that caused it (:func:`correlation_id`: one per RPC, the same id
an INTERNAL error reports; a fresh one for what the window scheduler does).

:func:`configure_logging` makes every log line of the process (not only business events) a
JSON object when stderr is not a terminal, and readable ``key=value`` text when it is.

This module must never log a sealed price, a bid amount, a size of a submission, a customer
or a token: only the fields listed in the table leave it, and submissions are not listed.
"""

from __future__ import annotations

import contextvars
import logging
import sys
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from pythonjsonlogger.json import JsonFormatter

from server.auth import current_principal

__all__ = [
    "EVENTS_LOGGER",
    "configure_logging",
    "correlation_id",
    "log_durable",
    "log_refusal",
    "new_call",
]

#: The logger business events go to.
EVENTS_LOGGER: Final = "closeout.events"
_events = logging.getLogger(EVENTS_LOGGER)

_correlation: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "closeout_correlation_id", default=None
)

Fields = Callable[[Any], dict[str, Any]]


def _by(e: Any) -> dict[str, Any]:
    return {"by": e.by}


def _stage1(e: Any) -> dict[str, Any]:
    if e.failure:
        return {"stage": 1, "failure": e.failure}
    return {
        "stage": 1,
        "initial_market_midpoint": e.initial_market_midpoint,
        "open_interest_side": e.open_interest_side,
        "open_interest": e.open_interest,
    }


#: Event type -> [(business event name, the fields it logs)]. Only what is public once the
#: event is durable: phase changes, publications, the default process. Never a submission.
_BUSINESS: Final[Mapping[str, tuple[tuple[str, Fields], ...]]] = {
    # CDS auctions
    "AuctionCreated": (("auction created", lambda e: {"by": e.created_by}),),
    "Stage1Opened": (("window opened", lambda e: {"stage": 1, "by": e.by}),),
    "Stage1Closed": (
        ("window closed", lambda e: {"stage": 1, "by": e.by}),
        ("results published", _stage1),
    ),
    "Stage2Opened": (("window opened", lambda e: {"stage": 2, "by": e.by}),),
    "Stage2Closed": (
        ("window closed", lambda e: {"stage": 2, "by": e.by}),
        (
            "results published",
            lambda e: {"stage": 2, "final_price": e.final_price, "matched": e.matched_size},
        ),
    ),
    "AuctionCancelled": (("auction cancelled", lambda e: {"by": e.by, "reason": e.reason}),),
    "BookDisclosed": (("book disclosed", lambda e: {"by": e.by, "reason": e.reason}),),
    # default auctions
    "DefaultAuctionCreated": (
        ("auction created", lambda e: {"by": e.created_by, "lot_id": e.lot.get("lot_id")}),
    ),
    "DefaultWindowOpened": (("window opened", _by),),
    "DefaultWindowClosed": (("window closed", _by),),
    "DefaultLotAwarded": (
        ("lot awarded", lambda e: {"by": e.by, "method": "award", "member": e.winner}),
    ),
    "DefaultLotAssigned": (
        ("lot awarded", lambda e: {"by": e.by, "method": "assignment", "member": e.assignee}),
    ),
    "DefaultAuctionSettled": (("lot settled", _by),),
    "DefaultAuctionCancelled": (("auction cancelled", lambda e: {"by": e.by, "reason": e.reason}),),
    "DefaultBidsDisclosed": (("bids disclosed", lambda e: {"by": e.by, "reason": e.reason}),),
    # the clearing house
    "MarginRunRecorded": (
        (
            "margin run recorded",
            lambda e: {
                "by": e.by,
                "run_id": e.run_id,
                "members_short": sum(1 for r in e.rows if r.get("shortfall") not in ("0.00", "0")),
            },
        ),
    ),
    "MemberDefaulted": (
        (
            "default declared",
            lambda e: {
                "by": e.by,
                "member": e.member,
                "basis": e.basis,
                "run_id": e.run_id,
                "shortfall": e.shortfall,
            },
        ),
    ),
    "LotConverted": (
        (
            "lot converted",
            lambda e: {"by": e.by, "lot_id": e.lot.get("lot_id"), "invited": len(e.eligible)},
        ),
    ),
}


def new_call() -> None:
    """For the interceptor: a new RPC starts without a correlation id (made when needed)."""
    _correlation.set(None)


def correlation_id() -> str:
    """The current RPC's correlation id (made on first use and kept for the call); outside an
    RPC (the window scheduler) a fresh id each time."""
    cid = _correlation.get()
    if cid is None:
        cid = uuid.uuid4().hex
        try:
            current_principal()
        except RuntimeError:  # not inside an RPC: nothing to keep it for
            return cid
        _correlation.set(cid)
    return cid


def log_durable(stream_id: str, events: Iterable[Any], key: str = "auction_id") -> None:
    """Log the business events among ``events``, all of the stream ``stream_id`` (an auction,
    or with ``key="house_id"`` the clearing house), now durable."""
    if not _events.isEnabledFor(logging.INFO):
        return
    cid: str | None = None
    for event in events:
        for name, fields in _BUSINESS.get(event.type, ()):
            cid = cid or correlation_id()
            extra = {"event": name, key: stream_id, "correlation_id": cid}
            extra.update((k, v) for k, v in fields(event).items() if v is not None)
            _events.info(name, extra={"fields": extra})


def log_refusal(method: str, code: str, participant: str | None, auction_id: str) -> None:
    """Log a refused call: which method, the status, who, which auction (never the message,
    which may quote the caller's own sealed price)."""
    if not _events.isEnabledFor(logging.INFO):
        return
    extra: dict[str, Any] = {
        "event": "request refused",
        "method": method,
        "status": code,
        "participant": participant or "-",
        "correlation_id": correlation_id(),
    }
    if auction_id:
        extra["auction_id"] = auction_id
    _events.info("request refused", extra={"fields": extra})


class _Json(JsonFormatter):
    """One JSON object per line: time, level, logger, message and the event's fields."""

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        log_data.pop("fields", None)
        log_data.update(getattr(record, "fields", None) or {})


class _Text(logging.Formatter):
    """``time LEVEL logger: message key=value ...`` for people at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = getattr(record, "fields", None)
        if fields:
            text += " " + " ".join(f"{k}={v}" for k, v in fields.items() if k != "event")
        return text


def formatter(json_lines: bool) -> logging.Formatter:
    """The JSON or the text formatter."""
    if json_lines:
        return _Json(
            "{levelname}{name}{message}",
            style="{",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",  # ISO 8601, UTC
        )
    return _Text("%(asctime)s %(levelname)s %(name)s: %(message)s")


def configure_logging(level: str, log_format: str = "auto") -> None:
    """Log to stderr: ``json``, ``text``, or ``auto`` (text on a terminal, JSON otherwise)."""
    json_lines = log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(json_lines))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
